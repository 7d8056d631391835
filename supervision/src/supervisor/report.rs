//! Supervisor reports on standard error, as OTP's supervisor logs its
//! reports: a restart that failed, and a supervisor giving up because
//! its restart intensity was exceeded. A report that cannot be written
//! (standard error closed or full) is dropped: it never panics the
//! supervisor. A child's own crash is not
//! reported here (a panic already printed its message).

use std::io::Write as _;

use ferrotp_scheduler::{ExitReason, Pid};

use super::spec::Flags;

fn who(me: &Pid) -> String {
    match me.name() {
        Some(name) => format!("{me} ({name})"),
        None => me.to_string(),
    }
}

/// A child could not be started again; it will be retried.
pub(crate) fn failed_restart(me: &Pid, id: &str, reason: &ExitReason) {
    let _ = writeln!(
        std::io::stderr(),
        "ferrotp supervisor {}: child {id:?} failed to restart: {reason}; retrying",
        who(me)
    );
}

/// The restart intensity was exceeded: the supervisor stops its children
/// and exits with `Shutdown`.
pub(crate) fn gave_up(me: &Pid, id: &str, reason: &ExitReason, flags: &Flags) {
    let _ = writeln!(
        std::io::stderr(),
        "ferrotp supervisor {}: child {id:?} ended ({reason}): more than {} restarts in {:?}; \
         stopping all children and exiting with shutdown",
        who(me),
        flags.max_restarts,
        flags.period
    );
}
