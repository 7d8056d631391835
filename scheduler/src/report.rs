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
//! A report that cannot be written (standard error closed) is dropped:
//! reporting never panics.

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
fn traced() -> bool {
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
    emit(severity, what, Some((pcb.id, pcb.name.as_deref())), message);
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
    match severity {
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
    }
}

/// `<0.42.0>`, or `<0.42.0> ("name")` for a named process.
pub fn describe(pid: &Pid) -> String {
    match pid.name() {
        Some(name) => format!("{pid} ({name:?})"),
        None => pid.to_string(),
    }
}
