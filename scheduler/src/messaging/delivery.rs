//! Delivery: a message pushed into a process's mailbox, the process woken
//! onto its worker if it waits, or the message made a dead letter if the
//! process has ended. Also how any wake-up (a timer, a signal, room in a
//! bounded mailbox) reaches a process: [`Pcb::wake`].

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Wake;

use ferrotp_mailbox::{Pushed, TryPushError};

use crate::process::{DeadLetter, Envelope, Pcb, Pid};

impl Pcb {
    /// Wakes the process if it waits; otherwise leaves a permit for its
    /// next wait (module docs).
    #[inline]
    pub(crate) fn wake(self: &Arc<Self>) {
        if self.state.wake() {
            crate::worker::core::schedule_woken(self);
        }
    }
}

impl Pcb {
    /// [`Pcb::wake`] out of line, for callers off the message path (a
    /// reply, a send that may come back): each inlined copy of the wake-up
    /// is one more reason for the compiler not to inline it where it
    /// counts, in `send` (measured: +2 % instructions on a ping-pong).
    #[inline(never)]
    pub(crate) fn wake_out_of_line(self: &Arc<Self>) {
        self.wake();
    }
}

/// A [`Waker`](std::task::Waker) for a process: used by bounded mailboxes
/// to wake a sender when room appears.
impl Wake for Pcb {
    fn wake(self: Arc<Self>) {
        Pcb::wake(&self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        Pcb::wake(self);
    }
}

/// Queues `message` for `to`, waking it if it waits; a closed mailbox
/// (process ended) makes it a dead letter. Ignores a mailbox bound.
#[inline]
pub(crate) fn deliver(to: &Arc<Pcb>, message: Envelope) {
    match to.mailbox.push(message) {
        Ok(Pushed::WakeReceiver) => to.wake(),
        Ok(Pushed::Queued) => {}
        Err(closed) => dead_letter(to, closed.into_inner()),
    }
}

/// Queues `message` unless `to`'s bounded mailbox is full.
pub(crate) fn try_deliver(to: &Arc<Pcb>, message: Envelope) -> Result<(), Envelope> {
    match to.mailbox.try_push(message) {
        Ok(Pushed::WakeReceiver) => to.wake(),
        Ok(Pushed::Queued) => {}
        Err(TryPushError::Full(message)) => return Err(message),
        Err(TryPushError::Closed(message)) => dead_letter(to, message),
    }
    Ok(())
}

#[cold]
pub(crate) fn dead_letter(to: &Arc<Pcb>, message: Envelope) {
    let Some(message) = unless_recursing(to, message) else {
        return;
    };
    let shared = to.shared();
    // Counted by the sending worker (its own counter), or, from any other
    // thread, in the runtime-wide one.
    let on_worker = crate::worker::core::try_with_worker(|core| {
        let here = core.serves(shared);
        if here {
            core.stats().dead_letters.bump();
        }
        here
    });
    if on_worker != Some(true) {
        shared.dead_letters.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(hook) = &shared.dead_letter_hook {
        let letter = DeadLetter {
            to: Pid(Arc::clone(to)),
            message: message.into_any(),
        };
        crate::worker::contain::contain("the dead-letter hook", move || hook(letter));
    }
}

/// A message that nobody will receive (a dead letter, a signal message
/// to an ended process), unless its sender is in the red zone of its
/// stack: a destructor that sends its own value again to a process that
/// has ended recurses through here. Then the message is leaked rather
/// than dropped, and the sender panics (unless already unwinding) as the
/// red zone does at any check point.
#[cold]
pub(crate) fn unless_recursing(to: &Pcb, message: Envelope) -> Option<Envelope> {
    if crate::process::context::try_with_process(|ctx| ctx.in_red_zone()) != Some(true) {
        return Some(message);
    }
    std::mem::forget(message);
    let _ = writeln!(
        std::io::stderr(),
        "ferrotp: a message to ended process {} was leaked, not dropped: its sender is in the \
         red zone of its stack (a destructor that sends again as it drops recurses)",
        to.id
    );
    let _ = crate::process::context::try_with_process(|ctx| ctx.check_stack());
    None
}
