//! Supervisor reports, as OTP's supervisor logs its reports: a restart
//! that failed, and a supervisor giving up because its restart intensity
//! was exceeded. They are `tracing` events (module
//! [`report`](ferrotp_scheduler::report): kind `supervisor`, the
//! supervisor's pid and name), or a line on standard error with no
//! subscriber; reporting never panics the supervisor. A child's own crash
//! is reported by the runtime as the crash happens.

use ferrotp_scheduler::report::{Severity, describe, report};
use ferrotp_scheduler::{ExitReason, Pid};

use super::spec::Flags;

/// A child could not be started again; it will be retried.
pub(crate) fn failed_restart(me: &Pid, id: &str, reason: &ExitReason) {
    report(
        Severity::Error,
        "supervisor",
        Some(me),
        format_args!(
            "supervisor {}: child {id:?} failed to restart: {reason}; retrying",
            describe(me)
        ),
    );
}

/// The restart intensity was exceeded: the supervisor stops its children
/// and exits with `Shutdown`.
pub(crate) fn gave_up(me: &Pid, id: &str, reason: &ExitReason, flags: &Flags) {
    report(
        Severity::Error,
        "supervisor",
        Some(me),
        format_args!(
            "supervisor {}: child {id:?} ended ({reason}): more than {} restarts in {:?}; \
             stopping all children and exiting with shutdown",
            describe(me),
            flags.max_restarts,
            flags.period
        ),
    );
}
