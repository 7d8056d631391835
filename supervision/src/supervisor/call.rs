//! Request and reply with a supervisor: the public
//! [`call`](ferrotp_scheduler::call) without a timeout (as OTP's
//! supervisor calls wait `infinity`), its errors told as [`ChildError`]s.

use std::time::Duration;

use ferrotp_scheduler::{CallError, ExitReason, Pid, ReplyTo};

use super::spec::ChildError;

/// Sends `request(reply)` to `to` and waits for the reply, or for `to` to
/// end.
pub(crate) fn call<M, R>(to: &Pid, request: impl FnOnce(ReplyTo<R>) -> M) -> Result<R, ChildError>
where
    M: Send + 'static,
    R: Send + 'static,
{
    ferrotp_scheduler::call(to, request, Duration::MAX).map_err(|error| match error {
        CallError::CalledSelf => ChildError::CalledFromItself,
        CallError::Exited(reason) => ChildError::SupervisorDown(reason),
        CallError::NoProc => ChildError::SupervisorDown(ExitReason::NoProc),
        // Neither happens: no deadline, and a supervisor answers every
        // request it takes.
        CallError::Timeout | CallError::NoReply => {
            ChildError::SupervisorDown(ExitReason::custom("request_dropped"))
        }
    })
}
