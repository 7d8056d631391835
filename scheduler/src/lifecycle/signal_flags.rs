//! The pending-signal bits of a process, and how a check point finds the
//! exit signals in its mailbox (module `signal` has the semantics; the
//! loom model `tests/loom_signals.rs` checks the protocol).
//!
//! # The protocol
//!
//! * **Sending** an exit signal pushes its message into the target's
//!   mailbox, *then* raises [`SignalFlags::QUEUED`] (`Release`), then wakes
//!   the target (a permit: a target asleep anywhere, in a receive, `sleep`
//!   or a blocking send, wakes). Shutdown and a kill that finds the
//!   mailbox closed raise a bit that needs no message
//!   ([`SignalFlags::FORCED_EXIT`]).
//! * **A check point** looks at the bits with a `Relaxed` load
//!   ([`SignalFlags::any`]): one test on the hot path. A stale zero only
//!   delays the signal: every wait ends in a check point after the wake-up
//!   (the run state's `Acquire`), and the sender's wake-up follows its
//!   flag.
//! * **Acting** takes every bit at once ([`SignalFlags::take`], `Acquire`:
//!   the messages pushed before their flag are visible), reads how many
//!   messages the mailbox has reserved (`arrived`), and scans for signal
//!   messages. The scan stops at a message that is reserved but still
//!   being written (the mailbox keeps arrival order); if it stopped short
//!   of `arrived`, a signal may lie beyond, so [`SignalFlags::look_again`]
//!   raises `QUEUED` again, with no wake-up: the writer's push must wake
//!   the process, for its next check point to scan again. A push wakes
//!   only a receiver that announced a wait on the mailbox (the `WAITING`
//!   bit of its tail, or `RECEIVER_WAITING` on the slot it waits on), so
//!   every wait that follows a check point must either announce one or
//!   act on a raised flag first; the next three items say how each does.
//!
//! * **A wait outside a receive** (`ProcessCtx::wait_checked`: a sleep, a
//!   blocking send to a full mailbox, and `wait_for`'s waits: a call's
//!   reply, a blocking join, a future, an I/O source) announces nothing
//!   on the mailbox. Before it sleeps with a flag raised, it acts on the
//!   flag; if the flag is raised again (the scan stopped short), it
//!   announces a wait on the mailbox: the receiver's position is where
//!   the scan stopped, so the announcement waits on that very message,
//!   whose push then wakes the process (or it has been written since:
//!   `Ready`, act again). Without it, the wait would sleep until it ended
//!   for its own reason (a sleep's deadline; never, for a reply that does
//!   not come), with the signal unacted on. A flag not raised costs the
//!   wait one test (`Relaxed`: a flag that `look_again` raised is the
//!   process's own write, never read stale, even after the process moved
//!   to another worker; a sender's comes with a wake-up); the check point
//!   after the wait makes the other.
//!
//! * **Hibernation** (`ProcessCtx::announce_hibernation`) makes a check
//!   point, then announces the wait with nothing that looks at the
//!   mailbox in between: a scan that stopped short left the receiver's
//!   position at the message still being written, so the announcement
//!   waits on it.
//!
//! * **A receive** (`ProcessCtx::receive`) that traps exits must see a
//!   signal once it has become a message. Two steps keep it from waiting
//!   with one in its mailbox. A check point that delivers a signal (marks
//!   it a message in place) sends the receive back to the mark it began
//!   with: its scan may have passed the signal over while it was not a
//!   message yet (between the push and the flag, or behind a look that
//!   stopped short). And before it sleeps, a receive whose flag is raised
//!   acts on it first, unless its look stopped at a message still being
//!   written (whose push wakes it): a flag that `look_again` raised comes
//!   with no wake-up, and the look may have gone past the message the
//!   scan stopped at. The loom model `tests/loom_signals.rs` checks both,
//!   and the wait outside a receive.
//!
//! No signal is lost: a signal's message is pushed before its flag, so the
//! taker of the flag either finds the message within `arrived`, or stops
//! short and looks again; and no wait sleeps on a flag raised again
//! without an announcement that the stopping message's push answers.

use ferrotp_mailbox::sync::{AtomicU8, Ordering};
use ferrotp_mailbox::{Mailbox, MailboxRef, Receiver};

/// The pending-signal bits of one process (module docs).
#[derive(Debug, Default)]
pub struct SignalFlags(AtomicU8);

impl SignalFlags {
    /// An exit signal's message is in the mailbox.
    pub const QUEUED: u8 = 1;
    /// End now with the recorded reason (shutdown, or a kill after the
    /// body ended); needs no message and cannot be trapped.
    pub const FORCED_EXIT: u8 = 2;

    /// No bit raised.
    pub fn new() -> Self {
        Self(AtomicU8::new(0))
    }

    /// Posts an exit signal: pushes its `message` into `mailbox` (past any
    /// bound, as every signal), *then* raises `QUEUED`. The caller then
    /// wakes the process. A closed mailbox (the process has ended, or its
    /// body has) gives the message back and raises nothing.
    ///
    /// # Errors
    /// The message, if the mailbox is closed.
    pub fn post<T>(&self, mailbox: &Mailbox<T>, message: T) -> Result<(), T> {
        // The push says whether the receiver must be woken; the caller wakes
        // the process regardless (a permit).
        let _ = mailbox
            .push(message)
            .map_err(|closed| closed.into_inner())?;
        // The message above is in the mailbox before the flag says so.
        self.raise(Self::QUEUED);
        Ok(())
    }

    /// Raises `bits`, after pushing the message they stand for, if any.
    #[inline]
    pub fn raise(&self, bits: u8) {
        // Release: pairs with the Acquire in `take`: the message pushed
        // before is visible to the process that takes the flag.
        self.0.fetch_or(bits, Ordering::Release);
    }

    /// The check point's fast path: is anything raised? (Module docs:
    /// why `Relaxed` loses nothing.)
    #[inline]
    pub fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// Whether `bit` is raised (`Relaxed`, as [`any`](Self::any)).
    #[inline]
    pub fn contains(&self, bit: u8) -> bool {
        self.0.load(Ordering::Relaxed) & bit != 0
    }

    /// Takes every raised bit.
    #[inline]
    pub fn take(&self) -> u8 {
        // Acquire: pairs with `raise`.
        self.0.swap(0, Ordering::Acquire)
    }

    /// After a scan of `receiver` for signal messages, begun when the
    /// mailbox had reserved `arrived` messages: if it stopped short of
    /// them, raise `QUEUED` again so that the next check point scans again
    /// (module docs).
    pub fn look_again_if_short<T, R: MailboxRef<T>>(
        &self,
        receiver: &Receiver<T, R>,
        arrived: u64,
    ) {
        if receiver.scanned_to() < arrived {
            self.look_again();
        }
    }

    /// Raises `QUEUED` again: the next check point scans again.
    pub fn look_again(&self) {
        // Relaxed: only this process reads it back, at its next check
        // point; the message it is for is published by the mailbox.
        self.0.fetch_or(Self::QUEUED, Ordering::Relaxed);
    }
}
