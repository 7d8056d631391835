//! Request and reply with a supervisor, watched by a monitor (as
//! `gen:call` does), so that a caller never waits for a supervisor that
//! has ended: it gets [`ChildError::SupervisorDown`] instead.

use ferrotp_scheduler::{Pid, Select, Subject, self_pid, send};

use super::spec::ChildError;
use crate::monitor::{Demonitor, Down, demonitor, monitor};

/// Sends `request(reply)` to `to` and waits for the reply on `reply`, or
/// for `to` to end.
pub(crate) fn call<M, R>(to: &Pid, request: impl FnOnce(Subject<R>) -> M) -> Result<R, ChildError>
where
    M: Send + 'static,
    R: Send + 'static,
{
    if *to == self_pid() {
        // The request would wait behind the call forever (OTP exits with
        // `calling_self`).
        return Err(ChildError::CalledFromItself);
    }
    let watch = monitor(to);
    let reply = Subject::new();
    send(to, request(reply.clone()));
    let result = Select::new()
        .on_subject(&reply, Ok)
        .on_match(
            |down: &Down| down.monitor == watch,
            |down: Down| Err(ChildError::SupervisorDown(down.reason)),
        )
        .wait();
    demonitor(&watch, Demonitor::Flush);
    result
}
