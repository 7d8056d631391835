//! User code that a worker runs outside a process's body (exit hooks, the
//! dead-letter hook, a payload's destructor): a panic there is reported
//! and contained, never let out into the run loop.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::lifecycle::exit_reason::ExitReason;
use crate::lifecycle::exit_signal::SignalUnwind;
use crate::process::panic_payload::drop_payload;
use crate::worker::core::try_with_worker;

/// Runs `f`, reporting instead of propagating a panic: for user code
/// (destructors, hooks) that the runtime runs on behalf of others. Inside
/// a process that an exit signal is ending, the unwind of that signal goes
/// on (a hook sent, and the send's check point unwound): it is not the
/// hook's fault. See [`contain_deferring`].
pub(crate) fn contain(what: &str, f: impl FnOnce()) {
    if let Some(unwind) = contain_deferring(what, f) {
        std::panic::resume_unwind(unwind);
    }
}

/// [`contain`], handing the exit signal's unwind back instead of going on
/// with it, so that the caller can finish its bookkeeping first and then
/// resume it.
///
/// Only the running process's own exit unwind is handed back. Anywhere
/// else (a worker between processes, a thread of the user's, a process
/// that is not ending) a `SignalUnwind` payload is one that user code
/// caught earlier and raised again: it is reported like a panic, and
/// never reaches a run loop.
#[must_use]
pub(crate) fn contain_deferring(
    what: &str,
    f: impl FnOnce(),
) -> Option<Box<dyn std::any::Any + Send>> {
    let was_panicking = std::thread::panicking();
    let result = catch_unwind(AssertUnwindSafe(f));
    let dying = crate::process::context::try_with_process(|ctx| ctx.is_dying());
    // On a worker outside any current process (between processes, or
    // running a never-run child's hooks, `context::shielded`) this
    // thread's panic count is zero (module `unwind_units`): user code that
    // left a panic in flight (a coroutine of its own, parked in its unwind
    // and leaked) would leave it for the next process, or the next hook,
    // to take for its own. Take it off, if `f` was not itself called
    // during an unwind (a hook's destructor that ends a never-run child:
    // that unwind is still going). Nowhere else: a thread of the user's
    // may be unwinding for real.
    if dying.is_none()
        && !was_panicking
        && std::thread::panicking()
        && try_with_worker(|_| ()).is_some()
    {
        crate::process::unwind_units::take_leftover();
    }
    let payload = result.err()?;
    if dying == Some(true) && payload.is::<SignalUnwind>() {
        return Some(payload);
    }
    let why = if payload.is::<SignalUnwind>() {
        "raised again the unwind of an exit signal that ended another process".into()
    } else {
        ExitReason::from_panic(&*payload).to_string()
    };
    crate::report::report(
        crate::report::Severity::Error,
        "crash",
        None,
        format_args!("{what} panicked: {why}"),
    );
    drop_payload(payload);
    None
}
