//! Bounded mailboxes: counting messages against a capacity, and waking
//! senders that wait for room.
//!
//! # The slots word
//!
//! `slots` counts the messages in the mailbox (pushed and not yet taken by
//! the receiver) in its low bits; its top bit, `HAS_WAITERS`, says that at
//! least one sender may be asleep waiting for room. Every change to either is
//! a read-modify-write of this one word, so all of them are totally ordered
//! and no wake-up depends on `SeqCst` reasoning across two locations.
//!
//! # Waiting for room (the slow path)
//!
//! The waiter list (a `Mutex<VecDeque>` of tickets and wakers) is touched
//! only when a mailbox is full, so the fast paths stay lock-free. Under the
//! lock, a sender either reserves a slot (the mailbox has room after all) or
//! makes sure its ticket is queued and sets `HAS_WAITERS` with a CAS that
//! also proves the mailbox is still full. The invariant, whenever the lock
//! is free: `HAS_WAITERS` is set if and only if the list is non-empty.
//!
//! * The receiver, taking a message, decrements `slots`; if the old value
//!   had `HAS_WAITERS`, it pops one ticket under the lock (clearing the bit
//!   if the list empties) and wakes that sender.
//! * A sender that then finds room uses the wake-up. If it instead gives up
//!   (its [`RoomWaiter`] is dropped: it was killed, or timed out) after being
//!   woken but before using the room, it forwards the wake-up to the next
//!   ticket, so no sleeping sender is left behind while there is room.
//!
//! Why no wake-up is lost: a sender sleeps only after its CAS set
//! `HAS_WAITERS` on a full count with its ticket queued. Any later decrement
//! is ordered after that CAS and sees the bit; the bit is cleared only when
//! the list is empty, i.e. after our ticket was popped — which means we were
//! woken. A decrement ordered before the CAS makes the CAS fail, and the
//! sender finds room on its retry.
//!
//! Closing wakes every waiter; their next attempt sees the mailbox closed.

use std::collections::VecDeque;
use std::fmt;
use std::task::Waker;

use crate::error::TryPushError;
use crate::mailbox::{Mailbox, Pushed};
use crate::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};

/// Top bit of `slots`: senders may be asleep waiting for room.
const HAS_WAITERS: usize = 1 << (usize::BITS - 1);

/// Capacity, message count and room waiters of a bounded mailbox.
pub(crate) struct Bound {
    capacity: usize,
    /// Message count and `HAS_WAITERS`: see the module docs.
    slots: AtomicUsize,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    queue: VecDeque<(u64, Waker)>,
    next_ticket: u64,
}

impl Waiters {
    fn position(&self, ticket: u64) -> Option<usize> {
        self.queue.iter().position(|(t, _)| *t == ticket)
    }
}

impl Bound {
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "a bounded mailbox needs a capacity of at least 1 (got 0)"
        );
        assert!(
            capacity < HAS_WAITERS,
            "mailbox capacity {capacity} is too large (at most {})",
            HAS_WAITERS - 1
        );
        Self {
            capacity,
            slots: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of messages counted against the capacity.
    pub(crate) fn count(&self) -> usize {
        self.slots.load(Ordering::Relaxed) & !HAS_WAITERS
    }

    /// Counts a message that is pushed regardless of capacity.
    #[inline]
    pub(crate) fn add(&self) {
        self.slots.fetch_add(1, Ordering::Relaxed);
    }

    /// Reserves a slot if the count is below capacity.
    #[inline]
    pub(crate) fn try_reserve(&self) -> bool {
        let mut slots = self.slots.load(Ordering::Relaxed);
        loop {
            if slots & !HAS_WAITERS >= self.capacity {
                return false;
            }
            // The count is a plain resource counter; the waiter protocol
            // synchronises through the mutex and `release` (AcqRel there).
            match self.slots.compare_exchange_weak(
                slots,
                slots + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => slots = actual,
            }
        }
    }

    /// A message left the mailbox: frees its slot and wakes one waiting
    /// sender if there may be any.
    #[inline]
    pub(crate) fn release(&self) {
        // AcqRel: acquires the CAS that set HAS_WAITERS (Release), so our
        // lock below is ordered after that sender queued its ticket.
        let old = self.slots.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(old & !HAS_WAITERS > 0, "released a slot never taken");
        if old & HAS_WAITERS != 0 {
            self.wake_one();
        }
    }

    #[cold]
    fn wake_one(&self) {
        let waker = {
            let mut waiters = self.lock();
            let popped = waiters.queue.pop_front();
            if waiters.queue.is_empty() {
                self.slots.fetch_and(!HAS_WAITERS, Ordering::Relaxed);
            }
            popped
        };
        if let Some((_, waker)) = waker {
            waker.wake();
        }
    }

    /// Wakes every waiting sender (the mailbox was closed). If a waker
    /// panics, the others are still woken before the panic goes on.
    pub(crate) fn notify_all(&self) {
        /// Wakes what is left if a `wake` unwinds.
        struct WakeRest(std::vec::IntoIter<(u64, Waker)>);
        impl Drop for WakeRest {
            fn drop(&mut self) {
                for (_, waker) in self.0.by_ref() {
                    waker.wake();
                }
            }
        }
        let woken: Vec<_> = {
            let mut waiters = self.lock();
            self.slots.fetch_and(!HAS_WAITERS, Ordering::Relaxed);
            waiters.queue.drain(..).collect()
        };
        let mut rest = WakeRest(woken.into_iter());
        for (_, waker) in rest.0.by_ref() {
            waker.wake();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        // The list stays consistent even if a waker panicked while it was
        // held (wakers are woken outside the lock), so poisoning is ignored.
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A sender's handle for pushing into a bounded mailbox and sleeping until
/// it has room.
///
/// [`try_push`](RoomWaiter::try_push) either queues the message or answers
/// `Full` *after* registering the waker: the caller may then sleep, and the
/// waker is woken once a message leaves the mailbox (or it is closed). A
/// wake-up can be spurious; just call `try_push` again. Dropping the handle
/// withdraws the registration, passing on a wake-up it received but did not
/// use, so dropping a waiting sender (a killed process) never strands
/// another one.
///
/// On an unbounded mailbox `try_push` is a plain push.
///
/// The waker is woken by the receiving thread, inside the call that took a
/// message, so it must not panic (no waker of a runtime does): a panic would
/// unwind out of that call and drop the message it took. Forgetting a
/// `RoomWaiter` (`mem::forget`) instead of dropping it leaves its ticket
/// queued; a later wake-up may then go to it and another waiting sender
/// waits one message longer.
///
/// ```
/// use std::sync::Arc;
/// use std::task::{Wake, Waker};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use ferrotp_mailbox::{Mailbox, Receiver, TryPushError};
///
/// struct Flag(AtomicBool);
/// impl Wake for Flag {
///     fn wake(self: Arc<Self>) { self.0.store(true, Ordering::SeqCst); }
/// }
///
/// let mailbox = Arc::new(Mailbox::bounded(1));
/// let mut rx = Receiver::new(Arc::clone(&mailbox));
/// let _ = mailbox.try_push(1).unwrap();
///
/// let flag = Arc::new(Flag(AtomicBool::new(false)));
/// let mut sender = mailbox.room_waiter(Waker::from(Arc::clone(&flag)));
/// let refused = match sender.try_push(2) {
///     Err(TryPushError::Full(msg)) => msg, // registered: may sleep now
///     other => panic!("expected Full, got {other:?}"),
/// };
/// assert_eq!(rx.pop(), Some(1));          // makes room and wakes the sender
/// assert!(flag.0.load(Ordering::SeqCst));
/// let _ = sender.try_push(refused).unwrap();
/// assert_eq!(rx.pop(), Some(2));
/// ```
pub struct RoomWaiter<'a, T> {
    mailbox: &'a Mailbox<T>,
    waker: Waker,
    /// Our ticket, while the last attempt answered `Full`.
    ticket: Option<u64>,
}

impl<'a, T> RoomWaiter<'a, T> {
    pub(crate) fn new(mailbox: &'a Mailbox<T>, waker: Waker) -> Self {
        Self {
            mailbox,
            waker,
            ticket: None,
        }
    }

    /// Pushes `value`, or registers for a wake-up when the mailbox is full.
    ///
    /// # Errors
    /// [`TryPushError::Full`]: the mailbox is full and the waker is
    /// registered; sleep until woken, then try again.
    /// [`TryPushError::Closed`]: the mailbox is closed; give up.
    pub fn try_push(&mut self, value: T) -> Result<Pushed, TryPushError<T>> {
        let Some(bound) = self.mailbox.bound() else {
            return self.mailbox.push(value).map_err(TryPushError::from);
        };
        if self.ticket.is_none() {
            match self.mailbox.try_push(value) {
                Err(TryPushError::Full(refused)) => return self.register(bound, refused),
                done => return done,
            }
        }
        self.register(bound, value)
    }

    /// The slow path, under the waiter lock: reserve a slot after all, or
    /// queue our ticket and set `HAS_WAITERS` while the mailbox is full.
    #[cold]
    fn register(&mut self, bound: &Bound, value: T) -> Result<Pushed, TryPushError<T>> {
        let mut waiters = bound.lock();
        let mut slots = bound.slots.load(Ordering::Relaxed);
        loop {
            if self.mailbox.is_closed() {
                self.withdraw(bound, &mut waiters);
                return Err(TryPushError::Closed(value));
            }
            if slots & !HAS_WAITERS < bound.capacity {
                match bound.slots.compare_exchange_weak(
                    slots,
                    slots + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // Any wake-up we received is used by this push.
                        self.withdraw(bound, &mut waiters);
                        drop(waiters);
                        return self.mailbox.push_counted(value).map_err(TryPushError::from);
                    }
                    Err(actual) => {
                        slots = actual;
                        continue;
                    }
                }
            }
            // Full: make sure our ticket is queued. A ticket that is no
            // longer queued was popped by a wake-up, which this attempt has
            // now used; take a new one.
            let queued = self.ticket.and_then(|t| waiters.position(t)).is_some();
            if !queued {
                let ticket = waiters.next_ticket;
                waiters.next_ticket += 1;
                waiters.queue.push_back((ticket, self.waker.clone()));
                self.ticket = Some(ticket);
            }
            // Release: pairs with the AcqRel decrement in `release`, which
            // then locks after us and finds our ticket. The CAS also proves
            // the count is still at capacity.
            match bound.slots.compare_exchange_weak(
                slots,
                slots | HAS_WAITERS,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Err(TryPushError::Full(value)),
                Err(actual) => slots = actual,
            }
        }
    }

    /// Removes our ticket, keeping the invariant `HAS_WAITERS` iff queued.
    fn withdraw(&mut self, bound: &Bound, waiters: &mut Waiters) {
        if let Some(at) = self.ticket.take().and_then(|t| waiters.position(t)) {
            waiters.queue.remove(at);
            if waiters.queue.is_empty() {
                bound.slots.fetch_and(!HAS_WAITERS, Ordering::Relaxed);
            }
        }
    }
}

impl<T> Drop for RoomWaiter<'_, T> {
    fn drop(&mut self) {
        let (Some(ticket), Some(bound)) = (self.ticket, self.mailbox.bound()) else {
            return;
        };
        let mut waiters = bound.lock();
        if waiters.position(ticket).is_some() {
            self.withdraw(bound, &mut waiters);
            return;
        }
        // We were woken for room that we will not use: pass it on.
        let next = waiters.queue.pop_front();
        if waiters.queue.is_empty() {
            bound.slots.fetch_and(!HAS_WAITERS, Ordering::Relaxed);
        }
        drop(waiters);
        if let Some((_, waker)) = next {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for RoomWaiter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomWaiter")
            .field("registered", &self.ticket.is_some())
            .finish_non_exhaustive()
    }
}
