//! Reports: crash reports, supervisor reports and the runtime's own
//! warnings, as [`tracing`] events, so that they reach whatever the
//! program logs through. With no subscriber installed, each is a readable
//! line on standard error instead, so nothing is lost silently.
//!
//! Every event has the target `ferrotp`, a `report` field naming its kind
//! (`crash`, `supervisor`, `actor`, `runtime`), and, when it is about a
//! process, `pid` (as `<0.42.0>`) and `name` fields.
//!
//! ```
//! use ferrotp_scheduler::report::{Severity, report};
//! // No subscriber here: one line on standard error.
//! report(Severity::Warning, "runtime", None, format_args!("something to know"));
//! ```
//!
//! A report that cannot be written (standard error closed) is dropped,
//! and one whose subscriber panics goes to standard error: reporting
//! never panics.
//!
//! A crash report is made as the panic happens: the panic hook writes it
//! to standard error at once if no subscriber is installed. With one, the
//! hook only keeps it (std aborts the program if anything panics inside a
//! panic hook, and a subscriber is the program's code), and the event is
//! sent as the process ends with that panic; a panic that the process
//! catches and survives is no crash, and is not reported then.

use std::fmt;
use std::io::Write as _;

use crate::process::Pid;

/// How bad a report is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Something failed: a crash, a supervisor giving up.
    Error,
    /// Something to know: a dropped message, a setting that could not be
    /// applied.
    Warning,
}

/// Whether a `tracing` subscriber will see events from this thread.
pub(crate) fn traced() -> bool {
    tracing::dispatcher::get_default(|dispatch| !dispatch.is::<tracing::subscriber::NoSubscriber>())
}

/// Reports `message`, of kind `what` (module docs), about `pid` if any.
/// The message should read well alone (it is the whole line on standard
/// error): name the process in it.
pub fn report(
    severity: Severity,
    what: &'static str,
    pid: Option<&Pid>,
    message: fmt::Arguments<'_>,
) {
    emit(
        severity,
        what,
        pid.map(|pid| (pid.id(), pid.name())),
        message,
    );
}

/// [`report`] about the process of control block `pcb`.
pub(crate) fn report_process(
    severity: Severity,
    what: &'static str,
    pcb: &crate::process::Pcb,
    message: fmt::Arguments<'_>,
) {
    emit(severity, what, Some((pcb.id, pcb.name())), message);
}

fn emit(
    severity: Severity,
    what: &'static str,
    process: Option<(crate::ProcessId, Option<&str>)>,
    message: fmt::Arguments<'_>,
) {
    if !traced() {
        let _ = writeln!(std::io::stderr(), "ferrotp: {message}");
        return;
    }
    let id = process.map(|(id, _)| id.to_string());
    let name = process.and_then(|(_, name)| name);
    // The subscriber is the program's code: a panic in it must not end
    // the process that reports (a supervisor, say). Its report then goes
    // to standard error.
    let traced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match severity {
        Severity::Error => tracing::error!(
            target: "ferrotp",
            report = what,
            pid = id.as_deref(),
            name,
            "{message}"
        ),
        Severity::Warning => tracing::warn!(
            target: "ferrotp",
            report = what,
            pid = id.as_deref(),
            name,
            "{message}"
        ),
    }));
    if let Err(payload) = traced {
        let _ = writeln!(
            std::io::stderr(),
            "ferrotp: {message} (the tracing subscriber panicked on this report)"
        );
        // Its payload's destructor is the subscriber's code too.
        if let Err(again) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload)))
        {
            std::mem::forget(again);
        }
    }
}

/// `<0.42.0>`, or `<0.42.0> ("name")` for a named process.
pub fn describe(pid: &Pid) -> String {
    match pid.name() {
        Some(name) => format!("{pid} ({name:?})"),
        None => pid.to_string(),
    }
}
