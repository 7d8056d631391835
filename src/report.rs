//! Reports from the behaviours (an actor's unexpected message), as
//! `tracing` events; with no subscriber installed, a readable line on
//! standard error instead, so that nothing is lost silently.

use std::io::Write as _;

use ferrotp_scheduler::Pid;

/// Whether a `tracing` subscriber will see events.
fn traced() -> bool {
    tracing::dispatcher::get_default(|dispatch| !dispatch.is::<tracing::subscriber::NoSubscriber>())
}

/// An actor took a message that is neither its type nor selected.
pub(crate) fn unexpected_message(pid: &Pid, type_name: &str) {
    if traced() {
        tracing::warn!(
            target: "ferrotp::actor",
            pid = %pid,
            name = pid.name().unwrap_or(""),
            message_type = type_name,
            "an actor dropped an unexpected message"
        );
    } else {
        let name = pid.name().map(|n| format!(" ({n:?})")).unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "ferrotp: actor {pid}{name} dropped an unexpected message of type {type_name} \
             (neither its message type nor in its selector)"
        );
    }
}
