//! [`ActorRef`]: the typed address of an actor.

use std::marker::PhantomData;
use std::time::Duration;

use ferrotp_scheduler::{CallError, Pid, ReplyTo};

/// The address of an actor whose messages are `M`: cloneable, `Send`,
/// and typed, so a message of another type does not compile.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{self, Next};
/// use ferrotp::ReplyTo;
///
/// enum Counter { Add(u64), Get(ReplyTo<u64>) }
///
/// let total = ferrotp::run(|| {
///     let counter = actor::start(0u64, |message, total| match message {
///         Counter::Add(n) => Next::Continue(total + n),
///         Counter::Get(reply) => { reply.send(total); Next::Continue(total) }
///     }).unwrap();
///     counter.send(Counter::Add(2));
///     counter.cast(Counter::Add(3)); // the same as `send`
///     // counter.send("increment"); // does not compile: not a `Counter`
///     counter.call(Counter::Get, Duration::from_secs(5))
/// }).unwrap();
/// assert_eq!(total, Ok(5));
/// ```
pub struct ActorRef<M> {
    pid: Pid,
    _message: PhantomData<fn(M)>,
}

impl<M> Clone for ActorRef<M> {
    fn clone(&self) -> Self {
        Self {
            pid: self.pid.clone(),
            _message: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for ActorRef<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ActorRef<{}>({:?})",
            std::any::type_name::<M>(),
            self.pid
        )
    }
}

impl<M> PartialEq for ActorRef<M> {
    fn eq(&self, other: &Self) -> bool {
        self.pid == other.pid
    }
}

impl<M> Eq for ActorRef<M> {}

impl<M> std::hash::Hash for ActorRef<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pid.hash(state);
    }
}

impl<M: Send + 'static> ActorRef<M> {
    /// The address of `pid`, taken on trust to be an actor whose messages
    /// are `M` (a name looked up with [`whereis`](crate::whereis), say).
    /// Nothing checks it: messages of the wrong type wait unread there.
    pub fn from_pid(pid: Pid) -> Self {
        Self {
            pid,
            _message: PhantomData,
        }
    }

    /// Sends `message` (Erlang's `!`; a dead actor makes it a dead
    /// letter, as for any process).
    pub fn send(&self, message: M) {
        ferrotp_scheduler::send(&self.pid, message);
    }

    /// [`send`](Self::send), by its GenServer name.
    pub fn cast(&self, message: M) {
        self.send(message);
    }

    /// Sends the request `request(reply)` and waits up to `timeout` for
    /// the reply, watching the actor meanwhile: [`call`](crate::call)
    /// with the request's type checked.
    ///
    /// # Errors
    /// [`CallError`]: a timeout, the actor's end, its absence, a reply
    /// address dropped unanswered, a call to oneself.
    ///
    /// # Panics
    /// Outside a process.
    pub fn call<R: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, CallError> {
        ferrotp_scheduler::call(&self.pid, request, timeout)
    }

    /// The actor's process.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }
}
