//! The shared side of a mailbox: what senders see.
//!
//! A [`Mailbox`] is the arrivals queue (module `arrivals`: blocks of slots,
//! a tail word that also carries the receiver's wake and close state), an
//! optional bound (module `bound`), and the flag that lets only one
//! [`Receiver`](crate::Receiver) exist.

use std::fmt;
use std::task::Waker;

use crate::arrivals::Arrivals;
use crate::bound::{Bound, RoomWaiter};
use crate::error::{Closed, TryPushError};
use crate::sync::{AtomicBool, Ordering};

/// What a successful push tells the sender.
#[must_use = "if the receiver was waiting, the sender must wake it"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The message is queued; the receiver is awake or already being woken.
    Queued,
    /// The message is queued and the receiver had announced it was going
    /// to sleep: this sender, and no other, must wake it.
    WakeReceiver,
}

impl Pushed {
    /// Whether the sender must wake the receiver.
    #[inline]
    pub fn must_wake(self) -> bool {
        self == Pushed::WakeReceiver
    }
}

/// What [`Receiver::announce_wait`](crate::Receiver::announce_wait) found.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The announcement stands: the receiver may sleep. A later push
    /// answers [`Pushed::WakeReceiver`] to its sender, which wakes the
    /// receiver.
    Sleep,
    /// A message arrived since the receiver last looked: it must look
    /// again instead of sleeping.
    Ready,
    /// The mailbox is closed; nothing will ever arrive.
    Closed,
}

/// What [`Receiver::cancel_wait`](crate::Receiver::cancel_wait) found.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelWait {
    /// The announcement was withdrawn before any sender saw it (or there
    /// was none); no wake-up will come from it.
    Cancelled,
    /// A sender already claimed the wake-up (its push answered
    /// [`Pushed::WakeReceiver`]): that wake-up is delivered, or will be.
    /// Wake-ups are a permit, not a count (see
    /// [`Receiver::announce_wait`](crate::Receiver::announce_wait)).
    WakeClaimed,
}

/// A many-producer, single-consumer mailbox: the half that senders see.
///
/// Any thread pushes with [`push`](Mailbox::push) or
/// [`try_push`](Mailbox::try_push); the one [`Receiver`](crate::Receiver)
/// takes messages out in arrival order or selectively. Share a mailbox
/// through an `Arc`, or by embedding it in a structure that is shared (a
/// process control block).
///
/// ```
/// use std::sync::Arc;
/// use ferrotp_mailbox::{Mailbox, Receiver};
///
/// let mailbox = Arc::new(Mailbox::new());
/// let mut rx = Receiver::new(Arc::clone(&mailbox));
/// let _ = mailbox.push("hello").unwrap();
/// let _ = mailbox.push("world").unwrap();
/// assert_eq!(rx.pop(), Some("hello"));
/// assert_eq!(rx.pop(), Some("world"));
/// assert_eq!(rx.pop(), None);
/// ```
pub struct Mailbox<T> {
    arrivals: Arrivals<T>,
    /// Capacity and room waiters of a bounded mailbox.
    bound: Option<Box<Bound>>,
    /// Set once a `Receiver` exists, so that there is only one.
    has_receiver: AtomicBool,
}

// SAFETY: a mailbox moves messages of type `T` between threads and drops
// them on whichever thread drops it; that is sound when `T: Send`. All shared
// state is atomic or behind a mutex, and the slots are accessed under the
// protocol of module `arrivals`.
unsafe impl<T: Send> Send for Mailbox<T> {}
// SAFETY: `&Mailbox` only allows pushes (which move a `T` in from the
// calling thread) and atomic reads; no `&T` is ever handed out through it.
unsafe impl<T: Send> Sync for Mailbox<T> {}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Mailbox<T> {
    /// Creates an unbounded mailbox. Allocates nothing until the first
    /// push.
    pub fn new() -> Self {
        Self::with_bound(None)
    }

    /// Creates a mailbox that holds at most `capacity` messages as far as
    /// [`try_push`](Mailbox::try_push) is concerned.
    ///
    /// # Panics
    /// If `capacity` is 0: such a mailbox could never take a message.
    ///
    /// ```
    /// use ferrotp_mailbox::{Mailbox, TryPushError};
    ///
    /// let mailbox = Mailbox::bounded(1);
    /// assert!(mailbox.try_push(1).is_ok());
    /// assert!(matches!(mailbox.try_push(2), Err(TryPushError::Full(2))));
    /// ```
    pub fn bounded(capacity: usize) -> Self {
        Self::with_bound(Some(Box::new(Bound::new(capacity))))
    }

    fn with_bound(bound: Option<Box<Bound>>) -> Self {
        Self {
            arrivals: Arrivals::new(),
            bound,
            has_receiver: AtomicBool::new(false),
        }
    }

    /// How many messages were ever pushed (or are being pushed) into this
    /// mailbox; see [`Receiver::taken`](crate::Receiver::taken).
    pub fn arrived(&self) -> u64 {
        self.arrivals.end()
    }

    /// The capacity of a bounded mailbox; `None` when unbounded.
    pub fn capacity(&self) -> Option<usize> {
        self.bound.as_ref().map(|bound| bound.capacity())
    }

    /// For a bounded mailbox, how many messages count against its capacity
    /// right now (pushed and not yet taken); `None` when unbounded. A
    /// snapshot: senders and the receiver may change it at any moment.
    pub fn bounded_len(&self) -> Option<usize> {
        self.bound.as_ref().map(|bound| bound.count())
    }

    /// Whether the receiver has closed the mailbox.
    pub fn is_closed(&self) -> bool {
        self.arrivals.is_closed()
    }

    /// Queues `value`, ignoring the capacity of a bounded mailbox (it is
    /// still counted): for messages that must not be refused, such as
    /// replies and exit signals.
    ///
    /// Takes no lock: one CAS to reserve a slot, and one allocation per 31
    /// messages (see the crate docs for the one short wait it can meet).
    ///
    /// # Errors
    /// [`Closed`] with the message when the mailbox is closed.
    #[inline]
    pub fn push(&self, value: T) -> Result<Pushed, Closed<T>> {
        if let Some(bound) = &self.bound {
            bound.add();
        }
        self.push_counted(value)
    }

    /// Queues `value` unless a bounded mailbox is at capacity.
    ///
    /// On an unbounded mailbox this is [`push`](Mailbox::push). To suspend a
    /// sender until there is room, use a [`RoomWaiter`].
    ///
    /// # Errors
    /// [`TryPushError::Full`] when at capacity, [`TryPushError::Closed`]
    /// when closed; both hand the message back.
    #[inline]
    pub fn try_push(&self, value: T) -> Result<Pushed, TryPushError<T>> {
        if let Some(bound) = &self.bound
            && !bound.try_reserve()
        {
            return Err(if self.is_closed() {
                TryPushError::Closed(value)
            } else {
                TryPushError::Full(value)
            });
        }
        self.push_counted(value).map_err(TryPushError::from)
    }

    /// Creates a handle through which a sender pushes into this bounded
    /// mailbox and is woken through `waker` when a full mailbox has room
    /// again. See [`RoomWaiter`].
    pub fn room_waiter(&self, waker: Waker) -> RoomWaiter<'_, T> {
        RoomWaiter::new(self, waker)
    }

    /// Pushes a message whose slot, if bounded, is already accounted for;
    /// gives the slot back if the mailbox turns out to be closed.
    #[inline]
    pub(crate) fn push_counted(&self, value: T) -> Result<Pushed, Closed<T>> {
        let pushed = self.arrivals.push(value);
        if pushed.is_err() {
            self.release_slot();
        }
        pushed
    }

    pub(crate) fn arrivals(&self) -> &Arrivals<T> {
        &self.arrivals
    }

    /// Receiver only: a message left the mailbox.
    #[inline]
    pub(crate) fn release_slot(&self) {
        if let Some(bound) = &self.bound {
            bound.release();
        }
    }

    /// Receiver only: the mailbox was closed.
    pub(crate) fn wake_room_waiters(&self) {
        if let Some(bound) = &self.bound {
            bound.notify_all();
        }
    }

    pub(crate) fn bound(&self) -> Option<&Bound> {
        self.bound.as_deref()
    }

    /// Closes a mailbox whose receiver is gone without closing it (its
    /// memory was discarded: a runtime ending a process whose stack
    /// overflowed). Later pushes hand their messages back, as after
    /// [`Receiver::close`](crate::Receiver::close); the messages still
    /// queued, and the blocks holding them, are leaked, never dropped.
    pub fn close_abandoned(&self) {
        self.arrivals.mark_closed();
        self.wake_room_waiters();
    }

    /// Marks the receiver role taken, for a caller that knows nobody else
    /// claims it (see `Receiver::new_sole`): a plain store.
    pub(crate) fn mark_claimed(&self) {
        self.has_receiver.store(true, Ordering::Relaxed);
    }

    /// Claims the receiver role; false if it was already claimed.
    pub(crate) fn claim_receiver(&self) -> bool {
        !self.has_receiver.swap(true, Ordering::Relaxed)
    }
}

impl<T> fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
