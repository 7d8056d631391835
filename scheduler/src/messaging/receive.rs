//! Selective receive: [`receive`], [`receive_match`], their timeout
//! forms, and [`mailbox_len`].
//!
//! Receiving is typed and selective: `receive::<T>()` takes the first
//! message, in arrival order, that is a `T`; messages of other types keep
//! their places for later receives (Erlang's selective receive, with the
//! type as the pattern).

use std::time::{Duration, Instant};

use ferrotp_mailbox::Mark;

use crate::lifecycle::exit_signal::{receivable, undelivered};
use crate::process::Envelope;
use crate::process::context::with_process;

/// A deadline `timeout` from now; `None` if it is beyond any clock.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

pub(crate) fn take_typed<T: Send + 'static>(envelope: Envelope) -> T {
    match envelope.take::<T>() {
        Ok(message) => message,
        Err(_) => unreachable!("the predicate matched this type"),
    }
}

/// Receives the first message of type `T`, waiting for one. Messages of
/// other types stay queued, in order. Costs one reduction.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use ferrotp_scheduler::{receive, run, self_pid, send};
/// let got = run(|| {
///     let me = self_pid();
///     send(&me, "text");
///     send(&me, 7u32);
///     // The u32 is taken first although it arrived second.
///     (receive::<u32>(), receive::<&str>())
/// }).unwrap();
/// assert_eq!(got, (7, "text"));
/// ```
pub fn receive<T: Send + 'static>() -> T {
    with_process("receive", |ctx| {
        let mut mark = Mark::START;
        let found = ctx.receive("receive", &mut mark, None, &mut |e| {
            e.is::<T>() && receivable::<T>(e)
        });
        take_typed(found.expect("no deadline"))
    })
}

/// Like [`receive`], giving up after `timeout` (`None`).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{receive_timeout, run};
/// let got = run(|| receive_timeout::<u8>(Duration::from_millis(5))).unwrap();
/// assert_eq!(got, None);
/// ```
pub fn receive_timeout<T: Send + 'static>(timeout: Duration) -> Option<T> {
    with_process("receive_timeout", |ctx| {
        let mut mark = Mark::START;
        let deadline = deadline_after(timeout);
        ctx.receive("receive_timeout", &mut mark, deadline, &mut |e| {
            e.is::<T>() && receivable::<T>(e)
        })
        .map(take_typed)
    })
}

/// Receives the first message of type `T` for which `pred` is true.
///
/// # Panics
/// Outside a process, or if `pred` itself receives.
///
/// ```
/// use ferrotp_scheduler::{receive, receive_match, run, self_pid, send};
/// let got = run(|| {
///     let me = self_pid();
///     for n in [1u32, 8, 3, 10] { send(&me, n); }
///     (receive_match(|n: &u32| *n > 5), receive::<u32>())
/// }).unwrap();
/// assert_eq!(got, (8, 1));
/// ```
pub fn receive_match<T: Send + 'static>(mut pred: impl FnMut(&T) -> bool) -> T {
    with_process("receive_match", |ctx| {
        let mut mark = Mark::START;
        let found = ctx.receive("receive_match", &mut mark, None, &mut |e| {
            e.downcast_ref::<T>().is_some_and(&mut pred) && receivable::<T>(e)
        });
        take_typed(found.expect("no deadline"))
    })
}

/// [`receive_match`] giving up after `timeout`.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{mailbox_len, receive_match_timeout, run, self_pid, send};
/// let got = run(|| {
///     let me = self_pid();
///     for n in [1u32, 8, 3] { send(&me, n); }
///     let big = receive_match_timeout(|n: &u32| *n > 5, Duration::from_millis(10));
///     let huge = receive_match_timeout(|n: &u32| *n > 100, Duration::from_millis(10));
///     (big, huge, mailbox_len())
/// }).unwrap();
/// assert_eq!(got, (Some(8), None, 2)); // 1 and 3 are still queued
/// ```
///
/// # Panics
/// Outside a process, or if `pred` itself receives.
pub fn receive_match_timeout<T: Send + 'static>(
    mut pred: impl FnMut(&T) -> bool,
    timeout: Duration,
) -> Option<T> {
    with_process("receive_match_timeout", |ctx| {
        let mut mark = Mark::START;
        let deadline = deadline_after(timeout);
        ctx.receive("receive_match_timeout", &mut mark, deadline, &mut |e| {
            e.downcast_ref::<T>().is_some_and(&mut pred) && receivable::<T>(e)
        })
        .map(take_typed)
    })
}

/// Messages waiting in the running process's mailbox.
///
/// ```
/// use ferrotp_scheduler::{mailbox_len, receive, run, self_pid, send};
/// let lens = run(|| {
///     let me = self_pid();
///     let empty = mailbox_len();
///     send(&me, 'a');
///     send(&me, 2u8);
///     let two = mailbox_len();
///     receive::<u8>();
///     (empty, two, mailbox_len())
/// }).unwrap();
/// assert_eq!(lens, (0, 2, 1));
/// ```
///
/// # Panics
/// Outside a process.
pub fn mailbox_len() -> usize {
    with_process("mailbox_len", |ctx| ctx.mailbox_len())
}

/// A message of any type, as [`receive_any`] takes it: look at its type,
/// then take it as that type.
///
/// ```
/// use ferrotp_scheduler::{receive_any, run, self_pid, send};
/// let got = run(|| {
///     send(&self_pid(), 7u8);
///     let message = receive_any();
///     assert!(message.is::<u8>() && message.type_name() == "u8");
///     message.take::<String>().unwrap_err().take::<u8>().unwrap()
/// }).unwrap();
/// assert_eq!(got, 7);
/// ```
pub struct AnyMessage(Envelope);

impl std::fmt::Debug for AnyMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AnyMessage")
            .field(&self.type_name())
            .finish()
    }
}

impl AnyMessage {
    /// Whether the message is a `T`.
    #[inline]
    pub fn is<T: Send + 'static>(&self) -> bool {
        self.0.is::<T>()
    }

    /// A reference to the message if it is a `T`.
    #[inline]
    pub fn downcast_ref<T: Send + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }

    /// The message if it is a `T`.
    ///
    /// # Errors
    /// The message back, if it is not a `T`.
    #[inline]
    pub fn take<T: Send + 'static>(self) -> Result<T, Self> {
        self.0.take::<T>().map_err(Self)
    }

    /// The name of the message's type (`std::any::type_name`), for
    /// diagnostics.
    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    /// The message as a `Box<dyn Any + Send>`.
    pub fn into_any(self) -> Box<dyn std::any::Any + Send> {
        self.0.into_any()
    }
}

/// Receives the first message, whatever its type (Erlang's
/// `receive Any -> ...`), waiting for one. Costs one reduction.
///
/// ```
/// use ferrotp_scheduler::{receive_any, run, self_pid, send};
/// let kinds = run(|| {
///     send(&self_pid(), "text");
///     send(&self_pid(), 7u32);
///     // Oldest first, whatever the type.
///     [receive_any().is::<&str>(), receive_any().is::<u32>()]
/// }).unwrap();
/// assert_eq!(kinds, [true, true]);
/// ```
///
/// # Panics
/// Outside a process.
pub fn receive_any() -> AnyMessage {
    with_process("receive_any", |ctx| {
        let mut mark = Mark::START;
        let found = ctx.receive("receive_any", &mut mark, None, &mut |e| !undelivered(e));
        AnyMessage(found.expect("no deadline"))
    })
}

/// The oldest message, whatever its type, if there is one: never waits
/// (and reads no clock, unlike `receive_any_timeout(Duration::ZERO)`).
/// What a [`Resumable`](crate::Resumable) body takes its messages with.
/// A reduction, and so a check point.
///
/// ```
/// use ferrotp_scheduler::{run, self_pid, send, try_receive_any};
/// let got = run(|| {
///     send(&self_pid(), 7u32);
///     let first = try_receive_any().and_then(|m| m.take::<u32>().ok());
///     (first, try_receive_any().is_none())
/// }).unwrap();
/// assert_eq!(got, (Some(7), true));
/// ```
///
/// # Panics
/// Outside a process.
pub fn try_receive_any() -> Option<AnyMessage> {
    with_process("try_receive_any", |ctx| {
        ctx.poll("try_receive_any", &mut |e| !undelivered(e))
            .map(AnyMessage)
    })
}

/// Like [`receive_any`], giving up after `timeout` (`None`).
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{receive_any_timeout, run};
/// let got = run(|| receive_any_timeout(Duration::ZERO).is_none()).unwrap();
/// assert!(got);
/// ```
///
/// # Panics
/// Outside a process.
pub fn receive_any_timeout(timeout: Duration) -> Option<AnyMessage> {
    with_process("receive_any_timeout", |ctx| {
        let mut mark = Mark::START;
        let deadline = deadline_after(timeout);
        ctx.receive("receive_any_timeout", &mut mark, deadline, &mut |e| {
            !undelivered(e)
        })
        .map(AnyMessage)
    })
}

/// Closes the running process's mailbox now, as its end would: from now
/// on a message sent to it is a dead letter (or comes back to a sender
/// that used [`send_unless_ended`](crate::send_unless_ended)). Returns
/// the unread messages, oldest first, for the process to hand over (a
/// supervised server that crashes passes its queue to its replacement).
/// A later receive waits only for its timeout.
///
/// ```
/// use ferrotp_scheduler::{close_mailbox, run, self_pid, send, send_unless_ended};
/// let (unread, refused) = run(|| {
///     let me = self_pid();
///     send(&me, 1u8);
///     send(&me, 2u8);
///     let unread: Vec<u8> = close_mailbox().into_iter()
///         .map(|m| m.take::<u8>().unwrap())
///         .collect();
///     (unread, send_unless_ended(&me, 3u8))
/// }).unwrap();
/// assert_eq!((unread, refused), (vec![1, 2], Err(3)));
/// ```
///
/// # Panics
/// Outside a process.
pub fn close_mailbox() -> Vec<AnyMessage> {
    with_process("close_mailbox", |ctx| {
        ctx.close_mailbox().map(AnyMessage).collect()
    })
}
