//! Reports from the behaviours (an actor's unexpected message), through
//! the runtime's reporting (module
//! [`report`](ferrotp_scheduler::report)): `tracing` events, or a line on
//! standard error with no subscriber.

use ferrotp_scheduler::Pid;
use ferrotp_scheduler::report::{Severity, describe, report};

/// An actor took a message that is neither its type nor selected.
/// Reported at the 1st, 2nd, 4th, 8th... (`count`), so that a flood
/// costs a few lines.
pub(crate) fn unexpected_message(pid: &Pid, type_name: &str, count: u64) {
    report(
        Severity::Warning,
        "actor",
        Some(pid),
        format_args!(
            "actor {} dropped an unexpected message of type {type_name} (neither its message \
             type nor in its selector); {count} so far (reported at powers of two)",
            describe(pid)
        ),
    );
}
