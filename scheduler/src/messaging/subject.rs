//! Subjects: typed addresses owned by one process (Gleam's `Subject`).

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_mailbox::Mark;

use crate::messaging::receive::{deadline_after, take_typed};
use crate::messaging::send::send_envelope;
use crate::process::context::{try_with_process, with_process};
use crate::process::{Envelope, Pid};

/// A message sent through a [`Subject`].
pub(in crate::messaging) struct Tagged<T> {
    pub(in crate::messaging) tag: u64,
    pub(in crate::messaging) message: T,
}

/// A typed address owned by one process (Gleam's `Subject`): anyone may
/// send it a `T`, only its owner receives from it.
///
/// A subject remembers where its owner's mailbox ended when it was made,
/// so receiving from it skips every older message: a request–reply
/// exchange through a fresh subject costs O(1) however deep the owner's
/// mailbox is (BEAM's receive-marker optimisation, generalised).
///
/// ```
/// use ferrotp_scheduler::{Subject, receive, run, self_pid, send, spawn};
/// let reply = run(|| {
///     let me = self_pid();
///     for n in 0..1000u32 { send(&me, n); } // unrelated backlog
///     let subject: Subject<String> = Subject::new();
///     let to = subject.clone();
///     spawn(move || to.send("pong".to_owned()));
///     subject.receive()
/// }).unwrap();
/// assert_eq!(reply, "pong");
/// ```
pub struct Subject<T> {
    pub(in crate::messaging) owner: Pid,
    pub(in crate::messaging) tag: u64,
    pub(in crate::messaging) mark: Mark,
    _message: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Subject<T> {
    fn clone(&self) -> Self {
        Self {
            owner: self.owner.clone(),
            tag: self.tag,
            mark: self.mark,
            _message: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Subject<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject")
            .field("owner", &self.owner)
            .field("tag", &self.tag)
            .finish()
    }
}

impl<T: Send + 'static> Default for Subject<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> Subject<T> {
    /// A new subject owned by the running process.
    ///
    /// # Panics
    /// Outside a process.
    pub fn new() -> Self {
        with_process("Subject::new", |ctx| Self {
            owner: Pid(Arc::clone(ctx.pcb)),
            tag: ctx.next_tag(),
            mark: ctx.mark(),
            _message: PhantomData,
        })
    }

    /// The process that receives from this subject.
    pub fn owner(&self) -> &Pid {
        &self.owner
    }

    /// Sends `message` to the subject's owner, as [`send`](crate::send) does.
    pub fn send(&self, message: T) {
        let tagged = Tagged {
            tag: self.tag,
            message,
        };
        send_envelope(&self.owner.0, Envelope::new(tagged));
        let _ = try_with_process(|ctx| ctx.reduce(1));
    }

    /// Sends `message` like [`send`](Self::send), but past any bound of
    /// the owner's mailbox: for a reply the owner is waiting for. Waiting
    /// for room there would deadlock, since a caller blocked on its reply
    /// drains nothing else meanwhile (a supervisor answers its callers
    /// this way).
    pub fn send_past_bound(&self, message: T) {
        let tagged = Tagged {
            tag: self.tag,
            message,
        };
        crate::messaging::delivery::deliver(&self.owner.0, Envelope::new(tagged));
        let _ = try_with_process(|ctx| ctx.reduce(1));
    }

    /// `message` as a message sent through this subject, or the message
    /// back: for code that takes messages of any type and sorts them (an
    /// actor's selector).
    ///
    /// ```
    /// use ferrotp_scheduler::{Subject, receive_any, run};
    /// let got = run(|| {
    ///     let numbers: Subject<u32> = Subject::new();
    ///     let other: Subject<u32> = Subject::new();
    ///     other.send(1);
    ///     numbers.send(2);
    ///     let first = receive_any(); // `other`'s
    ///     let first = numbers.take_from(first).unwrap_err();
    ///     (other.take_from(first).unwrap(), numbers.take_from(receive_any()).unwrap())
    /// }).unwrap();
    /// assert_eq!(got, (1, 2));
    /// ```
    ///
    /// # Errors
    /// The message, if it was not sent through this subject, or if the
    /// running process is not the subject's owner.
    pub fn take_from(
        &self,
        message: crate::messaging::receive::AnyMessage,
    ) -> Result<T, crate::messaging::receive::AnyMessage> {
        // Tags are per owner: only the owner's mailbox holds this
        // subject's messages (another process's subject with the same tag
        // would take them otherwise).
        let owned = try_with_process(|ctx| Arc::ptr_eq(ctx.pcb, &self.owner.0)) == Some(true);
        if !owned
            || message
                .downcast_ref::<Tagged<T>>()
                .is_none_or(|t| t.tag != self.tag)
        {
            return Err(message);
        }
        message.take::<Tagged<T>>().map(|tagged| tagged.message)
    }

    fn is_mine(&self, envelope: &Envelope) -> bool {
        envelope
            .downcast_ref::<Tagged<T>>()
            .is_some_and(|t| t.tag == self.tag)
    }

    fn check_owner(&self, function: &str) {
        let owner = with_process(function, |ctx| Arc::ptr_eq(ctx.pcb, &self.owner.0));
        assert!(
            owner,
            "ferrotp::{function}: only the subject's owner {} can receive from it",
            self.owner
        );
    }

    /// Receives the next message sent through this subject, waiting for
    /// one.
    ///
    /// # Panics
    /// Outside the owner process.
    pub fn receive(&self) -> T {
        self.check_owner("Subject::receive");
        with_process("Subject::receive", |ctx| {
            let mut mark = self.mark;
            let found = ctx.receive("Subject::receive", &mut mark, None, &mut |e| {
                self.is_mine(e)
            });
            take_typed::<Tagged<T>>(found.expect("no deadline")).message
        })
    }

    /// Like [`receive`](Subject::receive), giving up after `timeout`.
    ///
    /// # Panics
    /// Outside the owner process.
    pub fn receive_timeout(&self, timeout: Duration) -> Option<T> {
        self.check_owner("Subject::receive_timeout");
        with_process("Subject::receive_timeout", |ctx| {
            let mut mark = self.mark;
            let deadline = deadline_after(timeout);
            ctx.receive("Subject::receive_timeout", &mut mark, deadline, &mut |e| {
                self.is_mine(e)
            })
            .map(|e| take_typed::<Tagged<T>>(e).message)
        })
    }
}
