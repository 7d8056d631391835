//! A task's end as its owner sees it: waiting for it, and settling the
//! link between them once it has come.
//!
//! * **Waiting** ([`wait_end`]) is a [`PendingReply`] that nobody
//!   answers, watching the task: the task's end fills it with the exit
//!   reason (an exit hook, no message), a timeout closes it. Nothing
//!   reaches the owner's mailbox either way.
//! * **The link** carries the task's end to its owner, as in Elixir. A
//!   task registers its link's exit hooks when it is spawned, before any
//!   wait registers its watch, and a process's hooks run in registration
//!   order: so by the time a wait wakes up, the link's signal is already
//!   in the owner's mailbox, and an owner that does not trap exits acts
//!   on it (ends) before the wait returns.
//! * **Releasing** ([`release`]) unlinks and then takes out the link's
//!   `Exit` message if the owner, trapping exits, had already received
//!   it: after `unlink` returns no signal of that link can take effect
//!   any more (a signal still on its way is dropped unread, at the next
//!   check point, which the flush is), so after a release nothing of
//!   the link is left in the owner's mailbox.

use std::convert::Infallible;
use std::time::Duration;

use ferrotp_scheduler::{
    CallError, Exit, ExitReason, PendingReply, Pid, process_info, receive_match_timeout, self_pid,
};
use ferrotp_supervision::unlink;

/// Waits up to `timeout` (`Duration::MAX`: for ever) for `pid` to end;
/// its exit reason, or `None` on timeout.
///
/// # Panics
/// Outside a process, or inside an open call of the same process.
pub(crate) fn wait_end(pid: &Pid, timeout: Duration) -> Option<ExitReason> {
    let (mut pending, never) = PendingReply::<Infallible>::new();
    // Nobody answers: dropped by its own process, it fills nothing.
    drop(never);
    pending.watch(pid);
    match pending.wait(timeout) {
        Err(CallError::Timeout) => None,
        Err(CallError::Exited(reason)) => Some(reason),
        // It had ended before the watch: the hook ran at once, after the
        // reason was published.
        Err(CallError::NoProc) => Some(pid.exit_reason().unwrap_or(ExitReason::NoProc)),
        Err(error) => unreachable!("a wait for a process's end ended with {error}"),
    }
}

/// Unlinks the caller from `pid` and takes out the link's `Exit`
/// message if it had already been received (module docs).
pub(crate) fn release(pid: &Pid) {
    unlink(pid);
    let _ = receive_match_timeout::<Exit>(
        |exit| exit.from_link() && exit.from.as_ref() == Some(pid),
        Duration::ZERO,
    );
}

/// Whether the calling process traps exits.
pub(crate) fn traps_exits() -> bool {
    process_info(&self_pid()).is_some_and(|info| info.trap_exit)
}
