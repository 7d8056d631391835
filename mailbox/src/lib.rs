//! A many-producer, single-consumer mailbox whose senders take no lock,
//! with Erlang's selective receive.
//!
//! This is the mailbox of every ferrotp process, but it knows nothing of
//! processes, threads or schedulers: it is a queue with the hooks a
//! scheduler needs to park a receiver and wake it again.
//!
//! # Design: shared arrivals and a private inbox
//!
//! Like BEAM (see `erl_proc_sig_queue.h`), a mailbox is split in two:
//!
//! * the **arrivals**, shared (module `arrivals`): a linked list of blocks
//!   of 31 slots. A sender reserves a slot with one CAS on a tail word,
//!   writes its message and flags the slot written; a block is allocated
//!   once per 31 messages and freed by the receiver, so a message costs no
//!   allocation of its own and no cross-thread `free`. The tail word also
//!   says whether the receiver is asleep and whether the mailbox is closed,
//!   so the reserving CAS tells a sender whether it must wake the receiver.
//!   The receiver takes messages with plain loads: no read-modify-write.
//! * the **inbox**, private to the receiver (module `inbox`): the messages
//!   a selective receive looked at and passed over, in arrival order, in
//!   nodes recycled through a small pool. Selective receive walks and
//!   unlinks there with no atomics at all; a plain `pop` with an empty inbox
//!   takes straight from the arrivals.
//!
//! Messages from one sender arrive in the order sent: slots are reserved
//! in the order of the CASes, and each sender's CASes are in program order.
//!
//! Senders never take a lock. Once per block, the sender that reserved its
//! last slot links the next block, and a sender arriving in that window (a
//! few instructions) waits for it, exactly as crossbeam's channels do; the
//! alternative, letting others link blocks for it, would need a memory
//! reclamation scheme for blocks the receiver frees.
//!
//! # Selective receive and marks
//!
//! [`Receiver::take_first`] takes the first message, in arrival order, that
//! a predicate accepts; the others keep their order. A [`Mark`] names a
//! point in the stream of arrivals: [`Receiver::take_first_since`] looks
//! only at what arrived after it. Older messages are set aside into the
//! inbox once, and from then on a scan from the mark starts in O(1)
//! however deep the mailbox is (BEAM's receive-marker optimisation). When
//! nothing matches, the mark moves past what was examined, so a receive that
//! waits and retries only ever looks at new messages.
//!
//! # Parking and waking a receiver
//!
//! The protocol (details on [`Receiver::announce_wait`] and in module
//! `arrivals`):
//!
//! ```text
//!  receiver                                  sender
//!  --------                                  ------
//!  look for a message: none suits
//!  announce_wait():                          push():
//!    CAS tail: mine -> mine|WAITING            CAS tail: t -> (t+1) & !WAITING
//!      ok    -> Sleep                            t had WAITING -> WakeReceiver
//!      moved -> head slot written? Ready         write slot; swap state WRITTEN
//!               else slot EMPTY->WAITING:        it was WAITING -> WakeReceiver
//!               Sleep
//!  woken some other way -> cancel_wait()
//! ```
//!
//! The announcement is a CAS on the word that every reservation writes, so
//! a push either reserves before it (the CAS fails and the receiver looks
//! at the reserved slot) or after it (and is told to wake the receiver). A
//! message reserved but not yet written is waited for on its slot, whose
//! writer then does the waking, so the receiver never spins. No wake-up is
//! lost and each push wakes at most once; wake-ups are a permit (like
//! `Thread::unpark`), not a count: one can end more than one announcement.
//!
//! # Closing
//!
//! [`Receiver::close`] (or dropping the receiver) sets `CLOSED` in the tail
//! word: later pushes return their message in [`Closed`], so a runtime can
//! turn it into a dead letter, and every message reserved before the close
//! (waiting for any still being written) is returned or dropped exactly
//! once.
//!
//! # Bounded mailboxes
//!
//! [`Mailbox::bounded`] counts messages against a capacity;
//! [`Mailbox::try_push`] answers [`TryPushError::Full`] at capacity, while
//! [`Mailbox::push`] always queues (for replies and signals that must not be
//! refused). A [`RoomWaiter`] lets a sender register a [`Waker`] and sleep
//! until a message leaves the mailbox; the protocol is in module `bound`.
//!
//! [`Waker`]: std::task::Waker
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::thread;
//! use ferrotp_mailbox::{Mailbox, Receiver};
//!
//! let mailbox = Arc::new(Mailbox::new());
//! let mut rx = Receiver::new(Arc::clone(&mailbox));
//! let senders: Vec<_> = (0..4u64)
//!     .map(|id| {
//!         let mailbox = Arc::clone(&mailbox);
//!         thread::spawn(move || {
//!             for n in 0..100u64 {
//!                 let _ = mailbox.push((id, n)).unwrap();
//!             }
//!         })
//!     })
//!     .collect();
//! for sender in senders {
//!     sender.join().unwrap();
//! }
//! // Selective receive: sender 2's messages, in the order it sent them.
//! let from_2: Vec<u64> = std::iter::from_fn(|| rx.take_first(|(id, _)| *id == 2))
//!     .map(|(_, n)| n)
//!     .collect();
//! assert_eq!(from_2, (0..100).collect::<Vec<_>>());
//! assert_eq!(rx.len(), 300);
//! ```
//!
//! # Testing
//!
//! Every protocol here has a loom model (`tests/loom.rs`, run with
//! `RUSTFLAGS="--cfg loom"`); the queue semantics are checked against a
//! `VecDeque` model with proptest.

mod arrivals;
mod bound;
mod error;
mod inbox;
mod mailbox;
mod receiver;
#[doc(hidden)]
pub mod sync;

pub use bound::RoomWaiter;
pub use error::{Closed, TryPushError};
pub use mailbox::{CancelWait, Mailbox, Pushed, Wait};
pub use receiver::{Drain, Iter, MailboxRef, Mark, ParkedReceiver, Receiver};
