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
//!   raises `QUEUED` again: the writer's push wakes the process, and its
//!   next check point scans again.
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
//!   scan stopped at. The loom model `tests/loom_signals.rs` checks both.
//!
//! No signal is lost: a signal's message is pushed before its flag, so the
//! taker of the flag either finds the message within `arrived`, or stops
//! short and looks again.

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
