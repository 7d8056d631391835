//! The receiving side: the one owner of a mailbox's messages.
//!
//! A [`Receiver`] pairs a way to reach the shared [`Mailbox`] with its
//! private state: its position in the arrivals (`Head`) and the inbox of
//! messages that selective receives passed over. Every consumer operation
//! takes `&mut self`, so two threads cannot receive from one mailbox at
//! once, and a mailbox accepts only one receiver.
//!
//! Arrival order is: the inbox (older), then the arrivals from the head.
//! `pop` takes from the inbox, or straight from the arrivals when the inbox
//! is empty. A selective receive scans the inbox, then the arrivals in
//! place, moving each arrival it passes over into the inbox.

use std::fmt;
use std::sync::Arc;

use crate::arrivals::{Head, HeadIter};
use crate::inbox::{Inbox, InboxIter};
use crate::mailbox::{CancelWait, Mailbox, Wait};

/// How a [`Receiver`] reaches its [`Mailbox`]: an `Arc`, a reference, or a
/// runtime's own handle to a structure that embeds the mailbox.
///
/// # Safety
///
/// [`mailbox`](MailboxRef::mailbox) must return the same mailbox every
/// time it is called on a value, for as long as the value lives (moving the
/// value is fine if the mailbox does not move with it, as behind an `Arc`).
/// The receiver claims the mailbox it sees first and reads message slots in
/// the mailboxes it sees later; a second mailbox would be read by two
/// receivers at once, and its messages dropped twice.
///
/// ```compile_fail
/// use ferrotp_mailbox::{Mailbox, MailboxRef};
/// struct Handle(Mailbox<u8>);
/// // Implementing the trait needs `unsafe impl`: this does not compile.
/// impl MailboxRef<u8> for Handle {
///     fn mailbox(&self) -> &Mailbox<u8> { &self.0 }
/// }
/// ```
pub unsafe trait MailboxRef<T> {
    /// The mailbox.
    fn mailbox(&self) -> &Mailbox<T>;
}

// SAFETY: an `Arc` always points at the same allocation.
unsafe impl<T> MailboxRef<T> for Arc<Mailbox<T>> {
    #[inline]
    fn mailbox(&self) -> &Mailbox<T> {
        self
    }
}

// SAFETY: a shared reference always points at the same mailbox.
unsafe impl<T> MailboxRef<T> for &Mailbox<T> {
    #[inline]
    fn mailbox(&self) -> &Mailbox<T> {
        self
    }
}

/// A position in the stream of arrivals, for selective receive that scans
/// only what arrived after it.
///
/// [`Receiver::mark`] makes one at the end of the mailbox ("from now on");
/// [`Mark::START`] covers every message. Passed to
/// [`Receiver::take_first_since`], a mark also works as a scan position
/// (see there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mark(u64);

impl Mark {
    /// A mark before every message.
    pub const START: Mark = Mark(0);
}

/// The receiving side of a [`Mailbox`]. See the crate docs.
///
/// Dropping the receiver closes the mailbox and drops every queued message.
pub struct Receiver<T, R: MailboxRef<T> = Arc<Mailbox<T>>> {
    source: R,
    inbox: Inbox<T>,
    head: Head<T>,
    /// Whether the mailbox is bounded (fixed at its creation), kept here so
    /// that taking a message reads nothing near the senders' tail word.
    bounded: bool,
    /// `close` ran: closing again (as dropping does) has nothing to do.
    closed: bool,
}

// SAFETY: the receiver owns the messages in its inbox and the blocks it has
// adopted (raw pointers to heap memory that no other thread frees); moving
// it to another thread moves them, which `T: Send` allows. `R` is moved
// along and must be `Send` itself.
unsafe impl<T: Send, R: MailboxRef<T> + Send> Send for Receiver<T, R> {}

impl<T, R: MailboxRef<T>> Receiver<T, R> {
    /// Becomes the receiver of the mailbox that `source` reaches.
    ///
    /// # Panics
    /// If that mailbox already has a receiver: a mailbox has exactly one.
    pub fn new(source: R) -> Self {
        assert!(
            source.mailbox().claim_receiver(),
            "this mailbox already has a receiver; a mailbox has exactly one"
        );
        Self::claimed(source)
    }

    /// Like [`Receiver::new`], without the atomic read-modify-write that
    /// checks the claim (for a runtime that makes a receiver for every
    /// process it starts). The mailbox is marked as claimed all the same,
    /// so a later [`Receiver::new`] still panics.
    ///
    /// # Safety
    /// No other receiver of this mailbox exists or is being made
    /// concurrently, and the caller makes sure none is made later except
    /// through [`Receiver::new`] (which will panic).
    pub unsafe fn new_sole(source: R) -> Self {
        source.mailbox().mark_claimed();
        Self::claimed(source)
    }

    fn claimed(source: R) -> Self {
        let bounded = source.mailbox().capacity().is_some();
        Self {
            source,
            inbox: Inbox::new(),
            head: Head::new(),
            bounded,
            closed: false,
        }
    }

    /// A message left the mailbox: give its slot back if it is bounded.
    #[inline]
    fn release_slot(&self) {
        if self.bounded {
            self.source.mailbox().release_slot();
        }
    }

    /// The shared side, for pushing or inspection.
    #[inline]
    pub fn mailbox(&self) -> &Mailbox<T> {
        self.source.mailbox()
    }

    /// The handle this receiver was made from.
    #[inline]
    pub fn source(&self) -> &R {
        &self.source
    }

    /// Removes and returns the oldest message.
    ///
    /// `None` means nothing has arrived, or the next message is still being
    /// written by its sender; [`announce_wait`](Receiver::announce_wait)
    /// tells the two apart and waits for either.
    ///
    /// ```
    /// use ferrotp_mailbox::{Mailbox, Receiver};
    /// let mailbox = Mailbox::new();
    /// let mut rx = Receiver::new(&mailbox);
    /// let _ = mailbox.push(1).unwrap();
    /// assert_eq!(rx.pop(), Some(1));
    /// assert_eq!(rx.pop(), None);
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let value = match self.inbox.pop_front() {
            Some(value) => value,
            None => self.head.take(self.source.mailbox().arrivals())?.0,
        };
        self.release_slot();
        Some(value)
    }

    /// Removes and returns the first message, in arrival order, for which
    /// `pred` is true. The others keep their places for later takes:
    /// Erlang's selective receive.
    ///
    /// Each call scans from the oldest message, as Erlang's `receive` does;
    /// to resume a scan where the last one stopped, use
    /// [`take_first_since`](Receiver::take_first_since).
    ///
    /// ```
    /// use ferrotp_mailbox::{Mailbox, Receiver};
    /// let mailbox = Mailbox::new();
    /// let mut rx = Receiver::new(&mailbox);
    /// for n in [1, 2, 3, 4] {
    ///     let _ = mailbox.push(n).unwrap();
    /// }
    /// assert_eq!(rx.take_first(|n| n % 2 == 0), Some(2));
    /// assert_eq!(rx.take_first(|n| *n > 10), None);
    /// assert_eq!(rx.pop(), Some(1));
    /// assert_eq!(rx.pop(), Some(3));
    /// ```
    pub fn take_first(&mut self, mut pred: impl FnMut(&T) -> bool) -> Option<T> {
        self.take_from(Mark::START, &mut pred)
            .ok()
            .map(|(value, _)| value)
    }

    /// A mark at the end of the mailbox: messages already sent are before
    /// it, whatever is sent from now on is after it.
    ///
    /// This is what makes a `call` cheap: mark, send the request, then
    /// [`take_first_since`](Receiver::take_first_since) the mark for the
    /// reply, which skips every older message.
    pub fn mark(&mut self) -> Mark {
        Mark(self.source.mailbox().arrivals().end())
    }

    /// Like [`take_first`](Receiver::take_first), but looks only at
    /// messages that arrived after `mark`.
    ///
    /// `mark` is also a scan position (like BEAM's save pointer): the call
    /// moves it past every message that `pred` examined and rejected. When
    /// nothing matches it moves to the end of the mailbox, so a retry after
    /// waiting looks only at new arrivals; after a match it moves up to the
    /// taken message, so a loop taking every match costs O(messages) in all,
    /// not O(messages²). Use a fresh mark (or [`Mark::START`]) to scan again
    /// with a different predicate.
    ///
    /// ```
    /// use ferrotp_mailbox::{Mailbox, Mark, Receiver};
    /// let mailbox = Mailbox::new();
    /// let mut rx = Receiver::new(&mailbox);
    /// let _ = mailbox.push("old reply").unwrap();
    /// let mut mark = rx.mark();
    /// let _ = mailbox.push("noise").unwrap();
    /// let _ = mailbox.push("new reply").unwrap();
    /// let reply = rx.take_first_since(&mut mark, |m| m.ends_with("reply"));
    /// assert_eq!(reply, Some("new reply"));
    /// assert_eq!(rx.take_first_since(&mut mark, |m| m.ends_with("reply")), None);
    /// // A mark from the start sees the older reply too.
    /// let mut start = Mark::START;
    /// assert_eq!(rx.take_first_since(&mut start, |m| m.ends_with("reply")), Some("old reply"));
    /// ```
    #[inline]
    pub fn take_first_since(
        &mut self,
        mark: &mut Mark,
        mut pred: impl FnMut(&T) -> bool,
    ) -> Option<T> {
        // The usual case, kept small enough to inline into a runtime's
        // receive: nothing was passed over before, so the oldest unread
        // arrival is the first candidate.
        if self.inbox.is_empty() {
            let seq = self.head.seq();
            if seq >= mark.0 {
                let arrivals = self.source.mailbox().arrivals();
                match self.head.peek(arrivals) {
                    None => {
                        self.inbox.set_cursor_at_end(seq);
                        *mark = Mark(seq);
                        return None;
                    }
                    Some(next) => {
                        let matched = pred(next);
                        // SAFETY: `peek` just returned `Some`.
                        let (value, seq) = unsafe { self.head.take_peeked() };
                        if matched {
                            self.release_slot();
                            self.inbox.set_cursor_at_end(seq);
                            *mark = Mark(seq);
                            return Some(value);
                        }
                        // Passed over: kept in the inbox, and never tested
                        // again by this scan (the predicate may have side
                        // effects), which goes on after it.
                        self.inbox.push_back(value, seq);
                        *mark = Mark(seq + 1);
                    }
                }
            }
        }
        self.take_first_since_slow(mark, &mut pred)
    }

    /// [`Receiver::take_first_since`] past its fast path: a seek in the
    /// inbox, or a scan that passes messages over.
    #[inline(never)]
    fn take_first_since_slow(
        &mut self,
        mark: &mut Mark,
        mut pred: impl FnMut(&T) -> bool,
    ) -> Option<T> {
        match self.take_from(*mark, &mut pred) {
            Ok((value, seq)) => {
                // Everything before the taken message was rejected.
                *mark = Mark(seq);
                Some(value)
            }
            Err(()) => {
                // Everything from the mark up to the head of the arrivals
                // was examined. The head can be *before* the mark, if a
                // message reserved before the mark is still being written:
                // the mark must not move back to it.
                let end = self.head.seq().max(mark.0);
                self.inbox.set_cursor_at_end(end);
                *mark = Mark(end);
                None
            }
        }
    }

    /// Scans from `mark`: the inbox, then the arrivals in place, moving what
    /// it passes over into the inbox. Returns the taken message and its
    /// arrival number.
    fn take_from(&mut self, mark: Mark, pred: &mut impl FnMut(&T) -> bool) -> Result<(T, u64), ()> {
        // Usually nothing was passed over: skip the inbox's seek.
        if !self.inbox.is_empty()
            && let Some(found) = self.inbox.find_from(mark.0, pred)
        {
            let taken = self.inbox.take(found);
            self.release_slot();
            return Ok(taken);
        }
        let arrivals = self.source.mailbox().arrivals();
        loop {
            let before_mark = self.head.seq() < mark.0;
            let Some(next) = self.head.peek(arrivals) else {
                return Err(());
            };
            // A message from before the mark is only moved; one after it is
            // tested where it lies, so that a panicking `pred` changes
            // nothing.
            let matched = !before_mark && pred(next);
            // SAFETY: `peek` just returned `Some`.
            let (value, seq) = unsafe { self.head.take_peeked() };
            if matched {
                self.release_slot();
                // Every queued message is older; the cursor marks the gap.
                self.inbox.set_cursor_at_end(seq);
                return Ok((value, seq));
            }
            self.inbox.push_back(value, seq);
        }
    }

    /// How many messages this receiver has taken out for good (popped or
    /// taken by a selective receive; not those it passed over and keeps).
    /// With [`Mailbox::arrived`], another thread can estimate the queue
    /// length from a value the receiver published.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ferrotp_mailbox::{Mailbox, Mark, Receiver};
    /// let mailbox = Arc::new(Mailbox::new());
    /// let mut rx = Receiver::new(Arc::clone(&mailbox));
    /// for n in 0..3 {
    ///     mailbox.push(n).unwrap();
    /// }
    /// // Takes 2, passing 0 and 1 over (they stay queued).
    /// let mut mark = Mark::START;
    /// assert_eq!(rx.take_first_since(&mut mark, |n| *n == 2), Some(2));
    /// assert_eq!((mailbox.arrived(), rx.taken()), (3, 1));
    /// ```
    #[inline]
    pub fn taken(&self) -> u64 {
        self.head.seq() - self.inbox.len() as u64
    }

    /// The arrival number up to which this receiver has looked at the
    /// arrivals (taken them, or moved them to its own queue): a scan that
    /// stopped at a message still being written stops below
    /// [`Mailbox::arrived`].
    #[inline]
    pub fn scanned_to(&self) -> u64 {
        self.head.seq()
    }

    /// The number of queued messages, including any still being written.
    pub fn len(&mut self) -> usize {
        self.inbox.len() + self.head.pending(self.source.mailbox().arrivals())
    }

    /// Whether no message is queued.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Iterates over the queued messages, oldest first, without removing
    /// them (for introspection). Stops before a message that is still being
    /// written.
    pub fn iter(&mut self) -> Iter<'_, T> {
        let arrivals = self.source.mailbox().arrivals();
        Iter {
            inbox: self.inbox.iter(),
            arrivals: self.head.iter(arrivals),
        }
    }

    /// Step one of going to sleep: announce that this receiver will sleep
    /// until the next push.
    ///
    /// The protocol, for a runtime parking a process on its mailbox:
    /// 1. look for a message (`pop`, `take_first`, ...); none suits;
    /// 2. `announce_wait()`: [`Wait::Ready`] means messages arrived since
    ///    step 1 — go back to step 1; [`Wait::Closed`] means give up;
    ///    [`Wait::Sleep`] means the announcement stands: sleep;
    /// 3. a later push answers
    ///    [`Pushed::WakeReceiver`](crate::Pushed::WakeReceiver) to its
    ///    sender, which wakes the receiver; then go back to step 1.
    ///
    /// No wake-up is lost: the announcement is a CAS on the word that
    /// every push writes, so a push lands either before it (the CAS fails:
    /// `Ready`) or after it (that push is told to wake). Each push wakes at
    /// most once, so there is no storm.
    ///
    /// **Treat wake-ups as a permit, never count them**, as
    /// [`Thread::unpark`](std::thread::Thread::unpark) does: waking a
    /// receiver that is not asleep must make its next sleep return at once,
    /// and one wake-up can end more than one announcement (a wake-up
    /// claimed before a [`cancel_wait`](Receiver::cancel_wait) may be the
    /// one that ends the next wait). After any wake-up, look again.
    ///
    /// If the next message is still being written (its sender reserved a
    /// slot and has not finished), the announcement waits on that slot and
    /// its sender does the waking: the receiver never has to spin.
    ///
    /// Woken by something else (a timeout, an exit signal), the receiver
    /// calls [`cancel_wait`](Receiver::cancel_wait).
    pub fn announce_wait(&mut self) -> Wait {
        self.head.announce_wait(self.source.mailbox().arrivals())
    }

    /// Withdraws the last [`announce_wait`](Receiver::announce_wait) that
    /// answered [`Wait::Sleep`], after waking for another reason. Call it
    /// before looking at the mailbox again.
    /// [`CancelWait::WakeClaimed`] means a sender had already been told to
    /// wake this receiver: that wake-up will arrive (or has). With wake-ups
    /// treated as a permit (see `announce_wait`) it needs no special
    /// handling; it only costs one extra look.
    pub fn cancel_wait(&mut self) -> CancelWait {
        self.head.cancel_wait(self.source.mailbox().arrivals())
    }

    /// Closes the mailbox: from now on every push hands its message back
    /// (`Closed`), and every sender waiting for room is woken. Returns the
    /// messages that were queued, oldest first, including any whose sender
    /// was still writing when the mailbox closed (close waits for those);
    /// dropping the returned iterator drops the rest. Closing again returns
    /// nothing.
    ///
    /// ```
    /// use ferrotp_mailbox::{Closed, Mailbox, Receiver};
    /// let mailbox = Mailbox::new();
    /// let mut rx = Receiver::new(&mailbox);
    /// let _ = mailbox.push(1).unwrap();
    /// assert_eq!(rx.close().collect::<Vec<_>>(), vec![1]);
    /// assert_eq!(mailbox.push(2), Err(Closed(2)));
    /// ```
    #[inline]
    pub fn close(&mut self) -> Drain<T> {
        if self.closed {
            return Drain {
                messages: Vec::new().into_iter(),
            };
        }
        self.close_now()
    }

    #[inline(never)]
    fn close_now(&mut self) -> Drain<T> {
        self.closed = true;
        let mailbox = self.source.mailbox();
        let mut messages = Vec::new();
        if !self.inbox.is_empty() {
            self.inbox.drain_into(&mut messages);
        }
        let arrived = self.head.close(mailbox.arrivals());
        if messages.is_empty() {
            messages = arrived;
        } else {
            messages.extend(arrived);
        }
        mailbox.wake_room_waiters();
        Drain {
            messages: messages.into_iter(),
        }
    }
}

/// A receiver set aside without its handle to the mailbox, to be taken up
/// again later, perhaps on another thread: what a runtime keeps of a
/// process that gave its stack back while it waits (its receiver lived on
/// that stack).
///
/// Made by [`Receiver::park`], taken up by [`ParkedReceiver::resume`]. It
/// keeps the receiver's place in the arrivals, the messages a selective
/// receive passed over, and a standing [`announce_wait`](Receiver::announce_wait):
/// a push while it is parked is told to wake the receiver, so a runtime
/// can park a receiver that announced a wait and let that wake-up bring
/// it back.
///
/// The mailbox stays claimed and open meanwhile. Dropping a parked
/// receiver drops the messages passed over, but neither closes the mailbox
/// nor frees the blocks of arrivals it holds (they leak): resume it and
/// drop the receiver to close.
///
/// ```
/// use std::sync::Arc;
/// use ferrotp_mailbox::{Mailbox, Receiver, Wait};
/// let mailbox = Arc::new(Mailbox::new());
/// let mut rx = Receiver::new(Arc::clone(&mailbox));
/// mailbox.push(1).unwrap();
/// assert_eq!(rx.pop(), Some(1));
/// assert_eq!(rx.announce_wait(), Wait::Sleep);
/// let parked = rx.park();
/// // A push while parked wakes the receiver.
/// assert!(mailbox.push(2).unwrap().must_wake());
/// let mut rx = std::thread::spawn(move || {
///     // SAFETY: `mailbox` is the mailbox `parked` was parked from.
///     unsafe { parked.resume(mailbox) }
/// }).join().unwrap();
/// let _ = rx.cancel_wait();
/// assert_eq!(rx.pop(), Some(2));
/// ```
pub struct ParkedReceiver<T> {
    inbox: Inbox<T>,
    head: Head<T>,
    bounded: bool,
    closed: bool,
}

// SAFETY: as for `Receiver`: it owns the messages in its inbox and the
// blocks it adopted, which `T: Send` lets another thread take over.
unsafe impl<T: Send> Send for ParkedReceiver<T> {}

impl<T> fmt::Debug for ParkedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkedReceiver")
            .field("inbox_len", &self.inbox.len())
            .field("scanned_to", &self.head.seq())
            .finish_non_exhaustive()
    }
}

impl<T, R: MailboxRef<T>> Receiver<T, R> {
    /// Sets the receiver aside without closing the mailbox, giving up its
    /// handle to it (see [`ParkedReceiver`]).
    pub fn park(self) -> ParkedReceiver<T> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: each field is read out once and `this` is never dropped
        // or used again, so nothing is dropped twice; the source is
        // dropped here, as the receiver gives it up.
        unsafe {
            drop(std::ptr::read(&this.source));
            ParkedReceiver {
                inbox: std::ptr::read(&this.inbox),
                head: std::ptr::read(&this.head),
                bounded: this.bounded,
                closed: this.closed,
            }
        }
    }
}

impl<T> ParkedReceiver<T> {
    /// Becomes the receiver again, reaching its mailbox through `source`.
    ///
    /// # Safety
    /// `source` must reach the mailbox this receiver was parked from: the
    /// parked place and blocks belong to that mailbox's arrivals, and read
    /// against another mailbox they would be used after they are freed.
    pub unsafe fn resume<R: MailboxRef<T>>(self, source: R) -> Receiver<T, R> {
        debug_assert_eq!(source.mailbox().capacity().is_some(), self.bounded);
        Receiver {
            source,
            inbox: self.inbox,
            head: self.head,
            bounded: self.bounded,
            closed: self.closed,
        }
    }

    /// The number of messages passed over by selective receives, kept.
    pub fn passed_over(&self) -> usize {
        self.inbox.len()
    }
}

impl<T, R: MailboxRef<T>> Drop for Receiver<T, R> {
    fn drop(&mut self) {
        drop(self.close());
    }
}

impl<T, R: MailboxRef<T>> fmt::Debug for Receiver<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("mailbox", self.mailbox())
            .field("inbox_len", &self.inbox.len())
            .finish_non_exhaustive()
    }
}

/// Read-only iterator over queued messages, oldest first.
///
/// Created by [`Receiver::iter`].
pub struct Iter<'a, T> {
    inbox: InboxIter<'a, T>,
    arrivals: HeadIter<'a, T>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        self.inbox.next().or_else(|| self.arrivals.next())
    }
}

/// The messages a closed mailbox held, oldest first.
///
/// Created by [`Receiver::close`]; dropping it drops what is left.
pub struct Drain<T> {
    messages: std::vec::IntoIter<T>,
}

impl<T> Iterator for Drain<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.messages.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.messages.size_hint()
    }
}

impl<T> ExactSizeIterator for Drain<T> {}

impl<T> fmt::Debug for Drain<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Drain({} messages)", self.messages.len())
    }
}
