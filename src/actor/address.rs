//! [`ActorRef`]: the typed address of an actor.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_scheduler::{CallError, CallFuture, ExitReason, PendingReply, Pid, ReplyTo};

use super::incarnations::Incarnations;
use super::sys::{SysError, System, Trace, on_state, sys_call};

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
///
/// The address of a supervised actor ([`child`](crate::actor::child))
/// follows its restarts: it reaches whichever incarnation runs, and holds
/// what is sent while none does (module `incarnations`).
pub struct ActorRef<M> {
    target: Target<M>,
    /// Invariant in `M`: an address must not become one of a subtype or
    /// supertype (messages are typed again on arrival by their `TypeId`).
    _message: PhantomData<fn(M) -> M>,
}

enum Target<M> {
    /// One process.
    Process(Pid),
    /// A supervised actor's incarnations.
    Supervised(Arc<Incarnations<M>>),
}

impl<M> Clone for ActorRef<M> {
    fn clone(&self) -> Self {
        let target = match &self.target {
            Target::Process(pid) => Target::Process(pid.clone()),
            Target::Supervised(incarnations) => Target::Supervised(Arc::clone(incarnations)),
        };
        Self {
            target,
            _message: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for ActorRef<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            Target::Process(pid) => {
                write!(f, "ActorRef<{}>({pid:?})", std::any::type_name::<M>())
            }
            Target::Supervised(incarnations) => write!(
                f,
                "ActorRef<{}>(supervised {:p})",
                std::any::type_name::<M>(),
                Arc::as_ptr(incarnations)
            ),
        }
    }
}

/// Two addresses are equal when they reach the same process, or the same
/// supervised actor.
impl<M> PartialEq for ActorRef<M> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.target, &other.target) {
            (Target::Process(a), Target::Process(b)) => a == b,
            (Target::Supervised(a), Target::Supervised(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl<M> Eq for ActorRef<M> {}

impl<M> std::hash::Hash for ActorRef<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match &self.target {
            Target::Process(pid) => pid.hash(state),
            Target::Supervised(incarnations) => Arc::as_ptr(incarnations).hash(state),
        }
    }
}

impl<M: Send + 'static> ActorRef<M> {
    /// The address of `pid`, taken on trust to be an actor whose messages
    /// are `M` (a name looked up with [`whereis`](crate::whereis), say).
    /// Nothing checks it: an actor of another message type takes such
    /// messages as unexpected (counted, reported, dropped; a call gets
    /// [`CallError::NoReply`]), and a plain process leaves them unread.
    pub fn from_pid(pid: Pid) -> Self {
        Self {
            target: Target::Process(pid),
            _message: PhantomData,
        }
    }

    /// The actor registered as `name`, taken on trust to take `M`s (as
    /// [`from_pid`](Self::from_pid)): the process the name belongs to
    /// now, which a restart does not follow (the address from
    /// [`child`](crate::actor::child) does).
    ///
    /// ```
    /// use ferrotp::actor::{ActorRef, Builder, Next};
    /// let found = ferrotp::run(|| {
    ///     let _cache = Builder::new().name("cache").start_fn((), |_: u32, ()| Next::Continue(()));
    ///     let cache: Option<ActorRef<u32>> = ActorRef::whereis("cache");
    ///     cache.is_some() && ActorRef::<u32>::whereis("nobody").is_none()
    /// }).unwrap();
    /// assert!(found);
    /// ```
    pub fn whereis(name: &str) -> Option<Self> {
        ferrotp_scheduler::whereis(name).map(Self::from_pid)
    }

    pub(crate) fn supervised(incarnations: Arc<Incarnations<M>>) -> Self {
        Self {
            target: Target::Supervised(incarnations),
            _message: PhantomData,
        }
    }

    /// Sends `message` (Erlang's `!`; a dead actor makes it a dead
    /// letter, as for any process; a supervised actor's address holds it
    /// while the actor restarts).
    pub fn send(&self, message: M) {
        match &self.target {
            Target::Process(pid) => ferrotp_scheduler::send(pid, message),
            Target::Supervised(incarnations) => incarnations.send(message),
        }
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
    /// address dropped unanswered, a call to oneself. For a supervised
    /// actor, [`CallError::NoProc`] also when the request can be neither
    /// sent nor held: its restart window holds [`HOLD_LIMIT`](crate::actor::HOLD_LIMIT)
    /// messages already, or its supervisor has ended (the request is not
    /// made a dead letter).
    ///
    /// # Panics
    /// Outside a process.
    pub fn call<R: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, CallError> {
        match &self.target {
            Target::Process(pid) => ferrotp_scheduler::call(pid, request, timeout),
            Target::Supervised(incarnations) => {
                if ferrotp_scheduler::try_self_pid()
                    .is_some_and(|me| incarnations.is_incarnation(&me))
                {
                    return Err(CallError::CalledSelf);
                }
                // No one incarnation to watch: a request held over a
                // restart is answered by the replacement. One dropped by an
                // incarnation as it ends tells its reason (module `call`).
                // The supervisor is watched: once it has ended, no
                // replacement will answer.
                // (Watched only if the reply is slow: a hook per call on
                // the supervisor that every caller shares would be a lock
                // they all take.)
                let (pending, reply) = PendingReply::new();
                match incarnations.deliver(request(reply)) {
                    Ok(()) => match incarnations.supervisor() {
                        Some(supervisor) => pending.wait_watching_later(timeout, &supervisor),
                        None => pending.wait(timeout),
                    },
                    Err(_) => Err(CallError::NoProc),
                }
            }
        }
    }

    /// [`call`](Self::call) from outside any process (an async task, a
    /// plain thread): the request is sent now, and the returned
    /// [`CallFuture`] resolves with the reply or the same [`CallError`]s,
    /// on any executor ([`call_async`](crate::call_async)). A supervised
    /// actor's address holds the request over a restart, as for `call`;
    /// its supervisor is watched from the start.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{self, Next};
    /// use ferrotp::{ReplyTo, Runtime};
    /// enum Counter { Add(u64), Get(ReplyTo<u64>) }
    /// let rt = Runtime::builder().workers(1).build()?;
    /// let counter = rt.block_on(|| actor::start(0u64, |message, total| match message {
    ///     Counter::Add(n) => Next::Continue(total + n),
    ///     Counter::Get(reply) => { reply.send(total); Next::Continue(total) }
    /// }).unwrap());
    /// let tokio = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let total = tokio.block_on(async {
    ///     counter.send(Counter::Add(40)); // sending works from any thread
    ///     counter.send(Counter::Add(2));
    ///     counter.call_async(Counter::Get, Duration::from_secs(5)).await
    /// });
    /// assert_eq!(total, Ok(42));
    /// # Ok::<(), ferrotp::BuildError>(())
    /// ```
    pub fn call_async<R: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> CallFuture<R> {
        match &self.target {
            Target::Process(pid) => ferrotp_scheduler::call_async(pid, request, timeout),
            Target::Supervised(incarnations) => {
                if ferrotp_scheduler::try_self_pid()
                    .is_some_and(|me| incarnations.is_incarnation(&me))
                {
                    return CallFuture::ready(Err(CallError::CalledSelf));
                }
                let (mut future, reply) = CallFuture::new(timeout);
                match incarnations.deliver(request(reply)) {
                    Ok(()) => {
                        if let Some(supervisor) = incarnations.supervisor() {
                            future.watch(&supervisor);
                        }
                        future
                    }
                    Err((request, _)) => {
                        // The future first: the reply address dropped
                        // with the request then fills nothing.
                        drop(future);
                        drop(request);
                        CallFuture::ready(Err(CallError::NoProc))
                    }
                }
            }
        }
    }

    /// Stops the actor as GenServer's `stop` does: it finishes the message
    /// in hand, runs `terminate(reason)` and ends with `reason`; this
    /// returns once it has ended, or after `timeout`. Messages still
    /// queued are dropped with it. A supervisor restarts a stopped child
    /// as its restart type says (a permanent one always).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{self, Next};
    /// use ferrotp::ExitReason;
    /// let reason = ferrotp::run(|| {
    ///     let idle = actor::start((), |(), ()| Next::Continue(())).unwrap();
    ///     idle.stop(ExitReason::custom("maintenance"), Duration::from_secs(5)).unwrap();
    ///     idle.pid().exit_reason().unwrap()
    /// }).unwrap();
    /// assert_eq!(reason, ExitReason::custom("maintenance"));
    /// ```
    ///
    /// # Errors
    /// [`CallError::NoProc`] if it had ended (or, supervised, is between
    /// two incarnations), [`CallError::Timeout`], and
    /// [`CallError::Exited`] if it ended with another reason (it crashed
    /// before it took the stop, say).
    ///
    /// # Panics
    /// Outside a process.
    pub fn stop(&self, reason: ExitReason, timeout: Duration) -> Result<(), CallError> {
        let pid = match &self.target {
            Target::Process(pid) => pid.clone(),
            Target::Supervised(incarnations) => incarnations.pid().ok_or(CallError::NoProc)?,
        };
        let (mut pending, _unused) = PendingReply::<()>::new();
        if !pending.watch(&pid) {
            return Err(CallError::NoProc);
        }
        ferrotp_scheduler::send(&pid, System::<M>::Stop(reason.clone()));
        match pending.wait(timeout) {
            Err(CallError::Exited(ended)) if ended == reason => Ok(()),
            Err(error) => Err(error),
            Ok(()) => unreachable!("nobody answers this reply address"),
        }
    }

    /// The actor's state, as `f` sees it (OTP's `sys:get_state`): `f`
    /// runs in the actor's process, between two messages, on its state
    /// as an `A` (for the closure style, the closure's state), and its
    /// result comes back. Works on a suspended actor too (module `sys`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{self, Next, SysError};
    /// let (total, wrong) = ferrotp::run(|| {
    ///     let adder = actor::start(0u64, |n: u64, total| Next::Continue(total + n)).unwrap();
    ///     adder.send(5);
    ///     let t = Duration::from_secs(5);
    ///     (adder.sys_get_state(|total: &u64| *total, t), adder.sys_get_state(|s: &String| s.len(), t))
    /// }).unwrap();
    /// assert_eq!(total, Ok(5));
    /// assert!(matches!(wrong, Err(SysError::WrongType { asked: "alloc::string::String", state: "u64" })));
    /// ```
    ///
    /// # Errors
    /// [`SysError::WrongType`] if the state is not an `A`;
    /// [`SysError::Call`] if the actor has ended, or does not answer
    /// within `timeout` (busy in a long handler, say).
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_get_state<A, R>(
        &self,
        f: impl FnOnce(&A) -> R + Send + 'static,
        timeout: Duration,
    ) -> Result<R, SysError>
    where
        A: 'static,
        R: Send + 'static,
    {
        sys_call(
            &self.sys_pid()?,
            on_state::<M, A, R>(move |state| f(state)),
            timeout,
        )
    }

    /// Changes the actor's state in place (OTP's `sys:replace_state`):
    /// `f` runs in the actor's process on its state as an `A`, and its
    /// result comes back.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{self, Next};
    /// use ferrotp::ReplyTo;
    /// let total = ferrotp::run(|| {
    ///     let adder = actor::start(0u64, |n: u64, total| Next::Continue(total + n)).unwrap();
    ///     let t = Duration::from_secs(5);
    ///     let old = adder.sys_replace_state(|total: &mut u64| std::mem::replace(total, 100), t);
    ///     adder.send(1);
    ///     (old, adder.sys_get_state(|total: &u64| *total, t))
    /// }).unwrap();
    /// assert_eq!(total, (Ok(0), Ok(101)));
    /// ```
    ///
    /// `f` runs in the actor's process, as a handler does: if it panics,
    /// the actor ends with that panic (its supervisor restarts it) and
    /// this returns [`SysError::Call`] with [`CallError::Exited`]. (OTP's
    /// `sys:replace_state` keeps the process and answers
    /// `callback_failed`; here a state a closure left half-replaced is
    /// not kept.)
    ///
    /// # Errors
    /// As for [`sys_get_state`](Self::sys_get_state).
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_replace_state<A, R>(
        &self,
        f: impl FnOnce(&mut A) -> R + Send + 'static,
        timeout: Duration,
    ) -> Result<R, SysError>
    where
        A: 'static,
        R: Send + 'static,
    {
        sys_call(&self.sys_pid()?, on_state::<M, A, R>(f), timeout)
    }

    /// Suspends the actor (OTP's `sys:suspend`): from its answer on it
    /// handles only system messages (`sys_*`, `stop`); the others wait in
    /// its mailbox, in order, until [`sys_resume`](Self::sys_resume).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{self, Next};
    /// let t = Duration::from_secs(5);
    /// let (while_suspended, after) = ferrotp::run(move || {
    ///     let log = actor::start(Vec::new(), |n: u32, mut seen: Vec<u32>| {
    ///         seen.push(n);
    ///         Next::Continue(seen)
    ///     }).unwrap();
    ///     log.sys_suspend(t).unwrap();
    ///     log.send(1);
    ///     log.send(2);
    ///     let while_suspended = log.sys_get_state(|seen: &Vec<u32>| seen.clone(), t).unwrap();
    ///     log.sys_resume(t).unwrap();
    ///     (while_suspended, log.sys_get_state(|seen: &Vec<u32>| seen.clone(), t).unwrap())
    /// }).unwrap();
    /// assert_eq!((while_suspended, after), (vec![], vec![1, 2]));
    /// ```
    ///
    /// # Errors
    /// [`SysError::Call`] if the actor has ended or does not answer in
    /// time.
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_suspend(&self, timeout: Duration) -> Result<(), SysError> {
        let pid = self.sys_pid()?;
        Ok(ferrotp_scheduler::call(
            &pid,
            System::<M>::Suspend,
            timeout,
        )?)
    }

    /// Resumes a suspended actor (OTP's `sys:resume`): it handles the
    /// messages that waited, in order. Resuming one that is not
    /// suspended does nothing.
    ///
    /// # Errors
    /// As for [`sys_suspend`](Self::sys_suspend).
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_resume(&self, timeout: Duration) -> Result<(), SysError> {
        let pid = self.sys_pid()?;
        Ok(ferrotp_scheduler::call(&pid, System::<M>::Resume, timeout)?)
    }

    /// Traces each message the actor handles from now on as `trace` says
    /// ([`Trace`]); `None` turns tracing off (the default). The example
    /// is on [`Trace`].
    ///
    /// # Errors
    /// As for [`sys_suspend`](Self::sys_suspend).
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_trace(&self, trace: Option<Trace<M>>, timeout: Duration) -> Result<(), SysError> {
        let pid = self.sys_pid()?;
        let request = move |reply| System::<M>::Trace(trace, reply);
        Ok(ferrotp_scheduler::call(&pid, request, timeout)?)
    }

    /// The process a `sys` request goes to.
    fn sys_pid(&self) -> Result<Pid, SysError> {
        match &self.target {
            Target::Process(pid) => Ok(pid.clone()),
            Target::Supervised(incarnations) => {
                incarnations.pid().ok_or(SysError::Call(CallError::NoProc))
            }
        }
    }

    /// The actor's process: for a supervised actor, the incarnation that
    /// runs now, or the latest one while it restarts.
    ///
    /// # Panics
    /// For a supervised actor that has not started yet.
    pub fn pid(&self) -> Pid {
        match &self.target {
            Target::Process(pid) => pid.clone(),
            Target::Supervised(incarnations) => incarnations.pid().unwrap_or_else(|| {
                panic!("ferrotp: ActorRef::pid: the supervised actor has not started yet")
            }),
        }
    }
}
