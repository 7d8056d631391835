//! Request and reply: [`call`], the [`ReplyTo`] address a request carries,
//! and [`PendingReply`], the waiting half, for protocols `call` does not
//! cover (a start acknowledgement, say).
//!
//! # Semantics (OTP's `gen:call` with EEP 53 aliases)
//!
//! * The caller watches the callee for the duration of the call: if the
//!   callee ends first, the call returns [`CallError::Exited`] with its
//!   reason ([`CallError::NoProc`] if it had ended before the call).
//! * Once the call has returned — reply, timeout, the callee's end — a
//!   reply that comes later **never** lands in the caller's mailbox: it
//!   goes to the caller's reply slot (module `reply_slot`), which only the
//!   open call accepts, and is dropped there; [`ReplyTo::send`] says so.
//! * A reply address dropped unanswered by a process that is not ending
//!   ends the call at once with [`CallError::NoReply`] (Erlang would wait
//!   for the timeout). One dropped by a process as it ends (a panic, an
//!   exit signal, its unread messages dropped) ends the call with
//!   [`CallError::Exited`] and that process's reason, once it has ended
//!   (within the call's timeout): so a call whose request was handed on
//!   to another process learns of that process's end too. A process that
//!   drops it while it panics and then catches the panic does not end:
//!   that call waits for its timeout, as Erlang's would.
//! * A call right after the callee was told to stop may return
//!   [`CallError::Exited`] (the request reached it first) or
//!   [`CallError::NoProc`] (it had ended): Elixir's `:normal` /
//!   `:noproc` race.
//! * The cost is O(1) whatever waits in either mailbox: the reply never
//!   enters one, and the request is an ordinary message. A callee that
//!   had ended is seen at the send (the request comes back: `NoProc`);
//!   one that ends holding the request drops it as it ends, which tells
//!   the caller. A call still waiting after 10 ms also watches the callee
//!   with an exit hook ([`Pid::on_exit`]), for what that misses (a
//!   request leaked, a callee abandoned in its clean-up): so a quick call
//!   registers no hook at all.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lifecycle::exit_reason::ExitReason;
use crate::messaging::async_slot::AsyncSlot;
use crate::messaging::receive::deadline_after;
use crate::messaging::reply_slot::{Outcome, ReplySlot};
use crate::messaging::send::send_unless_ended;
use crate::process::context::{ProcessCtx, try_with_process, with_process};
use crate::process::{Envelope, ExitHook, Pid};

/// Why a [`call`] (or a [`PendingReply`]) returned without a reply.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{CallError, ReplyTo, call, receive, run, spawn};
/// let (dropped, own) = run(|| {
///     // A server that reads the request and discards it.
///     let careless = spawn(|| { let _ = receive::<ReplyTo<u8>>(); receive::<()>(); });
///     let dropped = call(&careless, |reply: ReplyTo<u8>| reply, Duration::from_secs(5));
///     let own = call(&ferrotp_scheduler::self_pid(), |r: ReplyTo<u8>| r, Duration::ZERO);
///     (dropped, own)
/// }).unwrap();
/// assert_eq!(dropped, Err(CallError::NoReply));
/// assert_eq!(own, Err(CallError::CalledSelf));
/// assert!(CallError::Timeout.to_string().contains("timeout"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No reply within the timeout.
    Timeout,
    /// The callee had ended before the call.
    NoProc,
    /// The callee ended, with this reason, before it replied.
    Exited(ExitReason),
    /// The reply address was dropped unanswered by a process that was
    /// not ending (the callee discarded the request).
    NoReply,
    /// The process called itself: the request would wait behind the call
    /// for ever (OTP exits with `calling_self`).
    CalledSelf,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("no reply within the call's timeout"),
            Self::NoProc => f.write_str("the called process had ended before the call (noproc)"),
            Self::Exited(reason) => write!(f, "the called process ended before replying: {reason}"),
            Self::NoReply => f.write_str(
                "the request's reply address was dropped unanswered (the callee discarded the \
                 request)",
            ),
            Self::CalledSelf => f.write_str(
                "a process called itself: the request would wait behind the call for ever",
            ),
        }
    }
}

impl std::error::Error for CallError {}

/// Where the reply to one [`call`] goes: put it in the request, and the
/// callee answers with [`ReplyTo::send`]. `Send` and movable: a server
/// may keep it and answer later, or hand it to another process to answer
/// (OTP's `From` and `gen_server:reply/2`).
///
/// Answering is optional, but a call waits until its timeout for a reply
/// address that is kept and never used; one that is dropped unanswered
/// ends its call with [`CallError::NoReply`] (module docs).
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{ReplyTo, call, receive, run, spawn};
/// // A server that keeps requests and answers two at a time, in reverse.
/// let answers = run(|| {
///     let server = spawn(|| {
///         let first = receive::<(u32, ReplyTo<u32>)>();
///         let second = receive::<(u32, ReplyTo<u32>)>();
///         second.1.send(second.0);
///         first.1.send(first.0);
///     });
///     let me = ferrotp_scheduler::self_pid();
///     let other = server.clone();
///     spawn(move || {
///         let got = call(&other, |r: ReplyTo<u32>| (1u32, r), Duration::from_secs(5));
///         ferrotp_scheduler::send(&me, got);
///     });
///     let mine = call(&server, |r: ReplyTo<u32>| (2u32, r), Duration::from_secs(5));
///     (mine, receive::<Result<u32, ferrotp_scheduler::CallError>>())
/// }).unwrap();
/// assert_eq!(answers, (Ok(2), Ok(1)));
/// ```
///
/// A reply address is invariant in its type: subtyping cannot turn it
/// into the address of another reply type.
///
/// ```compile_fail
/// use ferrotp_scheduler::ReplyTo;
/// fn widen(reply: ReplyTo<fn(&'static u8)>) -> ReplyTo<for<'a> fn(&'a u8)> {
///     reply
/// }
/// ```
pub struct ReplyTo<R> {
    target: Target,
    /// Invariant in `R`: a `ReplyTo<R>` must not become a `ReplyTo` of a
    /// subtype or supertype (the reply is typed again on arrival by its
    /// `TypeId`, which subtyping does not change).
    _reply: PhantomData<fn(R) -> R>,
}

/// Whose call a [`ReplyTo`] answers. Two words, as the process kind
/// alone was: the async kind sits where the generation is, told apart by
/// the null pointer a `Pid` never is (checked below), so a request
/// carrying a reply address still fits a message's inline payload.
enum Target {
    /// A process's open call `generation` ([`ANSWERED`] once answered).
    Process { caller: Pid, generation: u64 },
    /// A caller outside any process ([`call_async`](crate::call_async));
    /// `None` once answered.
    Async(Option<Arc<AsyncSlot>>),
}

/// A [`Target::Process`] answered (generations start at 1).
const ANSWERED: u64 = 0;

const _: () = assert!(std::mem::size_of::<ReplyTo<()>>() == 2 * std::mem::size_of::<usize>());

impl<R> std::fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            Target::Process { caller, generation } => f
                .debug_struct("ReplyTo")
                .field("caller", caller)
                .field("call", generation)
                .finish(),
            Target::Async(slot) => f
                .debug_struct("ReplyTo")
                .field("caller", &"outside any process")
                .field("answered", &slot.is_none())
                .finish(),
        }
    }
}

impl<R: Send + 'static> ReplyTo<R> {
    /// Answers the call. True if the caller was still waiting for it;
    /// false if its call is over (a timeout, say): the reply is dropped,
    /// here, and never reaches the caller's mailbox.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp_scheduler::{ReplyTo, call, receive, run, spawn};
    /// let doubled = run(|| {
    ///     let server = spawn(|| {
    ///         let (n, reply) = receive::<(u32, ReplyTo<u32>)>();
    ///         assert!(reply.send(n * 2));
    ///     });
    ///     call(&server, |reply: ReplyTo<u32>| (21u32, reply), Duration::from_secs(5))
    /// }).unwrap();
    /// assert_eq!(doubled, Ok(42));
    /// ```
    pub fn send(mut self, reply: R) -> bool {
        let delivered = match &mut self.target {
            Target::Process { caller, generation } => {
                let generation = std::mem::replace(generation, ANSWERED);
                fill(caller, generation, Outcome::Reply(Envelope::new(reply)))
            }
            Target::Async(slot) => answer_async(slot, reply),
        };
        let _ = try_with_process(|ctx| ctx.reduce(1));
        delivered
    }
}

/// [`ReplyTo::send`] to a caller outside any process, out of line: the
/// process kind is the hot path.
#[inline(never)]
fn answer_async<R: Send + 'static>(slot: &mut Option<Arc<AsyncSlot>>, reply: R) -> bool {
    slot.take()
        .expect("present until answered")
        .fill(Outcome::Reply(Envelope::new(reply)))
}

impl<R> ReplyTo<R> {
    /// The process waiting for the reply; `None` for a caller outside any
    /// process ([`call_async`](crate::call_async)).
    pub fn caller(&self) -> Option<&Pid> {
        match &self.target {
            Target::Process { caller, .. } => Some(caller),
            Target::Async(_) => None,
        }
    }

    /// The address of the call an async caller waits on.
    pub(crate) fn to_async(slot: Arc<AsyncSlot>) -> Self {
        Self {
            target: Target::Async(Some(slot)),
            _reply: PhantomData,
        }
    }
}

impl<R> Drop for ReplyTo<R> {
    #[inline]
    fn drop(&mut self) {
        // A process's call answered: the usual case, in line.
        if !matches!(
            self.target,
            Target::Process {
                generation: ANSWERED,
                ..
            }
        ) {
            self.target.drop_unanswered();
        }
    }
}

impl Target {
    /// The rest of [`ReplyTo`]'s drop: tells the caller, if it was not
    /// answered.
    #[inline(never)]
    fn drop_unanswered(&mut self) {
        match self {
            Target::Process { caller, generation } => {
                let generation = std::mem::replace(generation, ANSWERED);
                if let Some(outcome) = unanswered(Some(caller)) {
                    fill(caller, generation, outcome);
                }
            }
            Target::Async(slot) => {
                if let Some(slot) = slot.take() {
                    // Where a process's caller would wait for its watch of
                    // the callee (a drop outside any process, on a
                    // panicking thread or a worker's), an async caller is
                    // told at once: the address it waits on is gone, and
                    // the callee may live on (the address was handed to a
                    // blocking closure that panicked, or to another
                    // process's exit hook), so nothing else would end a
                    // call without a timeout (found by the attack suite).
                    slot.fill(unanswered(None).unwrap_or(Outcome::Dropped));
                }
            }
        }
    }
}

/// What a reply address dropped unanswered here tells its caller
/// (`caller`, if a process); `None`: nothing.
fn unanswered(caller: Option<&Pid>) -> Option<Outcome> {
    // Who drops it: the caller itself (its own request became a dead
    // letter: the watch of the callee tells more), a process as it ends
    // (its end tells why), or one that lives on (no reply).
    let dropper = try_with_process(|ctx| {
        if caller.is_some_and(|caller| Arc::ptr_eq(ctx.pcb, &caller.0)) {
            None
        } else if ctx.is_ending() || std::thread::panicking() {
            Some(Outcome::DroppedEnding(Pid(Arc::clone(ctx.pcb))))
        } else {
            Some(Outcome::Dropped)
        }
    });
    match dropper {
        // A process, or the caller itself (`None`).
        Some(outcome) => outcome,
        // Outside any process: a worker dropping an ended process's
        // messages is no end of the holder's own (the call's watch of
        // the callee tells its end); any other thread, panicking or not
        // (a blocking closure that panicked holding it), drops it as a
        // living process would: no reply will come.
        None if crate::worker::core::try_with_worker(|_| ()).is_some() => None,
        None => Some(Outcome::Dropped),
    }
}

/// Fills `caller`'s open call `generation` and wakes it; false (the
/// outcome dropped here) if that call is over.
fn fill(caller: &Pid, generation: u64, outcome: Outcome) -> bool {
    let slot = caller
        .0
        .reply
        .get()
        .expect("a caller makes its slot before handing out a reply address");
    match slot.fill(generation, outcome) {
        Ok(()) => {
            caller.0.wake_out_of_line();
            true
        }
        Err(late) => {
            drop(late);
            false
        }
    }
}

/// Sends `to` the request `request(reply)` and waits up to `timeout` for
/// the reply (`Duration::MAX`: for ever), watching `to` meanwhile (module
/// docs: a late reply never reaches the caller's mailbox).
///
/// `request` runs in the caller before the request is sent; it may itself
/// call other processes. The reply address is live from the moment the
/// request is sent: one answered (or dropped) inside `request` is
/// refused, and the call waits for its timeout.
///
/// A raw [`Pid`] accepts any message, so nothing checks that the callee
/// expects this request, or this reply type: name the reply type
/// (`|reply: ReplyTo<u64>| ...`), since type inference may pick another
/// (an integer literal's `i32`), and the request then waits unread. A
/// typed address (an actor's) checks both at compile time.
///
/// # Errors
/// [`CallError`]: a timeout, the callee's end (or its absence), a reply
/// address dropped unanswered, a call to oneself.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{CallError, ExitReason, ReplyTo, call, mailbox_len, receive, run, spawn};
/// enum Request { Get(ReplyTo<u64>), Crash(ReplyTo<u64>) }
/// let (got, slow, crashed, left) = run(|| {
///     let server = spawn(|| loop {
///         match receive::<Request>() {
///             Request::Get(reply) => { reply.send(7); }
///             Request::Crash(_) => panic!("bad request"),
///         }
///     });
///     let got = call(&server, Request::Get, Duration::from_secs(5));
///     // A process that never answers: the call times out.
///     let silent = spawn(|| { receive::<&str>(); });
///     let slow = call(&silent, |_: ReplyTo<u64>| (), Duration::from_millis(10));
///     let crashed = call(&server, Request::Crash, Duration::from_secs(5));
///     (got, slow, crashed, mailbox_len())
/// }).unwrap();
/// assert_eq!(got, Ok(7));
/// assert_eq!(slow, Err(CallError::Timeout));
/// assert_eq!(crashed, Err(CallError::Exited(ExitReason::Panic("bad request".into()))));
/// assert_eq!(left, 0); // nothing of the calls in the caller's mailbox
/// ```
pub fn call<Req, R>(
    to: &Pid,
    request: impl FnOnce(ReplyTo<R>) -> Req,
    timeout: Duration,
) -> Result<R, CallError>
where
    Req: Send + 'static,
    R: Send + 'static,
{
    let (mut pending, reply) = with_process("call", |ctx| {
        if Arc::ptr_eq(ctx.pcb, &to.0) {
            return Err(CallError::CalledSelf);
        }
        Ok(PendingReply::reserve(ctx))
    })?;
    let request = request(reply);
    pending.open();
    let now = Instant::now();
    if let Err(request) = send_unless_ended(to, request) {
        // Its reply address, dropped by the caller itself, fills nothing.
        drop(request);
        return Err(CallError::NoProc);
    }
    let deadline = now.checked_add(timeout);
    if deadline.is_none() {
        // No timer to share: watching now costs less than a timer for
        // the late watch.
        // (A callee ended since the send fills the call with `NoProc`
        // at once: its request is dropped with it, telling the reason.)
        let _ = pending.watch(to);
        return pending.wait_until(None, "call", None);
    }
    let watch_at = now.checked_add(WATCH_AFTER);
    pending.wait_until(deadline, "call", watch_at.map(|at| (to, at)))
}

/// How long a call waits for its reply before it watches the callee with
/// an exit hook. Most calls are answered sooner, and the callee's end
/// reaches them without one: its unread messages, the request among
/// them, are dropped as it ends, and the reply address dropped so tells
/// the caller which process ended (module docs). The hook is for what
/// that misses: a request leaked by the callee (`mem::forget`), or a
/// callee abandoned in its clean-up with the request on its stack.
const WATCH_AFTER: Duration = Duration::from_millis(10);

/// The waiting half of a request: the running process's open call, until
/// it has its reply ([`wait`](Self::wait)) or is dropped. [`call`] is
/// made of one; use it directly when the request is not a message to an
/// existing process, such as a start acknowledgement (OTP's
/// `proc_lib:start` / `init_ack`):
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{PendingReply, run, spawn};
/// let ready = run(|| {
///     let (mut pending, ack) = PendingReply::<&str>::new();
///     let child = spawn(move || {
///         // ... set up ...
///         ack.send("ready");
///     });
///     pending.watch(&child); // a child that dies first ends the wait
///     pending.wait(Duration::from_secs(5))
/// }).unwrap();
/// assert_eq!(ready, Ok("ready"));
/// ```
///
/// A process waits for one reply at a time: it holds at most one
/// `PendingReply` (a second panics), and it cannot leave the process
/// (`!Send`).
pub struct PendingReply<R> {
    owner: Pid,
    generation: u64,
    open: bool,
    watch: Option<ExitHook>,
    /// Invariant in `R`, as [`ReplyTo`] is.
    _reply: PhantomData<fn(R) -> R>,
    /// `!Send`: the slot belongs to the process that made it.
    _owned: PhantomData<*const ()>,
}

impl<R> std::fmt::Debug for PendingReply<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingReply")
            .field("owner", &self.owner)
            .field("call", &self.generation)
            .field("watching", &self.watch.as_ref().map(ExitHook::pid))
            .finish()
    }
}

impl<R: Send + 'static> PendingReply<R> {
    /// Opens the running process's reply slot for one reply, and the
    /// address to send it to.
    ///
    /// # Panics
    /// Outside a process, or while the process holds another open
    /// `PendingReply`.
    pub fn new() -> (Self, ReplyTo<R>) {
        let (mut pending, reply) = with_process("PendingReply::new", |ctx| Self::reserve(ctx));
        pending.open();
        (pending, reply)
    }

    fn reserve(ctx: &ProcessCtx<'_>) -> (Self, ReplyTo<R>) {
        let owner = Pid(Arc::clone(ctx.pcb));
        let generation = ctx.pcb.reply.get_or_make().reserve();
        let reply = ReplyTo {
            target: Target::Process {
                caller: owner.clone(),
                generation,
            },
            _reply: PhantomData,
        };
        let pending = Self {
            owner,
            generation,
            open: false,
            watch: None,
            _reply: PhantomData,
            _owned: PhantomData,
        };
        (pending, reply)
    }

    fn slot(&self) -> &ReplySlot<Outcome> {
        self.owner.0.reply.get().expect("made by `reserve`")
    }

    fn open(&mut self) {
        self.slot().open(self.generation);
        self.open = true;
    }

    /// Ends the wait if `pid` ends first: [`wait`](Self::wait) then
    /// returns [`CallError::Exited`] with its reason. False if `pid` had
    /// already ended: the wait then returns [`CallError::NoProc`] (unless
    /// the reply came first).
    ///
    /// # Panics
    /// If it already watches a process.
    pub fn watch(&mut self, pid: &Pid) -> bool {
        assert!(
            self.watch.is_none(),
            "ferrotp: a PendingReply watches one process"
        );
        let caller = self.owner.clone();
        let generation = self.generation;
        let hook = pid.on_exit(move |reason| {
            fill(&caller, generation, Outcome::Exited(reason.clone()));
        });
        let alive = hook.is_registered();
        self.watch = Some(hook);
        alive
    }

    /// Waits up to `timeout` (`Duration::MAX`: for ever) for the reply.
    ///
    /// # Errors
    /// [`CallError::Timeout`], [`CallError::Exited`] or
    /// [`CallError::NoProc`] (the watched process), [`CallError::NoReply`].
    ///
    /// # Panics
    /// Outside the process that made it.
    pub fn wait(self, timeout: Duration) -> Result<R, CallError> {
        self.wait_until(deadline_after(timeout), "PendingReply::wait", None)
    }

    /// [`wait`](Self::wait), watching `pid` only if the wait lasts
    /// longer than a call's does before it watches its callee (10 ms):
    /// as [`call`] watches, so that a reply that comes soon, the usual
    /// case, costs no exit hook on `pid` (a hook on a process many callers
    /// wait on, a supervisor say, is a lock they would all take).
    ///
    /// # Errors
    /// As for [`wait`](Self::wait).
    ///
    /// # Panics
    /// Outside the process that made it; if it already watches a
    /// process.
    pub fn wait_watching_later(self, timeout: Duration, pid: &Pid) -> Result<R, CallError> {
        assert!(
            self.watch.is_none(),
            "ferrotp: a PendingReply watches one process"
        );
        let now = Instant::now();
        let Some(deadline) = now.checked_add(timeout) else {
            let mut pending = self;
            let _ = pending.watch(pid);
            return pending.wait_until(None, "PendingReply::wait_watching_later", None);
        };
        let watch_at = now.checked_add(WATCH_AFTER);
        self.wait_until(
            Some(deadline),
            "PendingReply::wait_watching_later",
            watch_at.map(|at| (pid, at)),
        )
    }

    /// Waits until `deadline` (`None`: for ever); if the wait lasts until
    /// `watch_later`'s instant, watches its process from then on.
    fn wait_until(
        mut self,
        deadline: Option<Instant>,
        function: &str,
        watch_later: Option<(&Pid, Instant)>,
    ) -> Result<R, CallError> {
        let owner = self.owner.clone();
        let generation = self.generation;
        // The late watch found its process ended: its own reason, not
        // `NoProc` (it was alive when the request went).
        let mut ended_before_watch = None;
        let outcome = with_process(function, |ctx| {
            assert!(
                Arc::ptr_eq(ctx.pcb, &owner.0),
                "ferrotp::{function}: only the process that opened the call can wait for its reply"
            );
            let slot = owner.0.reply.get().expect("made by `reserve`");
            let mut watch_later = watch_later;
            loop {
                let until = match (watch_later, deadline) {
                    (Some((_, at)), Some(deadline)) => Some(at.min(deadline)),
                    (Some((_, at)), None) => Some(at),
                    (None, deadline) => deadline,
                };
                if ctx.wait_for(function, until, &mut || slot.is_filled(generation)) {
                    break slot.take(generation);
                }
                match watch_later.take() {
                    // Slow: watch the callee from now on.
                    Some((callee, at)) if deadline.is_none_or(|deadline| at < deadline) => {
                        if !self.watch(callee) {
                            ended_before_watch = callee.exit_reason();
                        }
                    }
                    // A reply that won the race with the timeout is the
                    // result.
                    _ => break slot.close(generation),
                }
            }
        });
        self.open = false;
        self.unwatch();
        match outcome {
            None => Err(CallError::Timeout),
            Some(Outcome::Reply(envelope)) => Ok(envelope
                .take::<R>()
                .unwrap_or_else(|_| unreachable!("a ReplyTo<R> sends an R"))),
            Some(Outcome::Exited(ExitReason::NoProc)) => match ended_before_watch {
                Some(reason) => Err(CallError::Exited(reason)),
                None => Err(CallError::NoProc),
            },
            Some(Outcome::Exited(reason)) => Err(CallError::Exited(reason)),
            Some(Outcome::Dropped) => Err(CallError::NoReply),
            Some(Outcome::DroppedEnding(holder)) => Err(end_of(&holder, deadline)),
        }
    }
}

/// The request's holder dropped it as it ended: its exit reason, once it
/// has ended (or a timeout at `deadline`).
fn end_of(holder: &Pid, deadline: Option<std::time::Instant>) -> CallError {
    if let Some(reason) = holder.exit_reason() {
        return CallError::Exited(reason);
    }
    let (mut pending, _never) = PendingReply::<()>::new();
    pending.watch(holder);
    match pending.wait_until(deadline, "call", None) {
        Err(CallError::NoProc) => {
            CallError::Exited(holder.exit_reason().unwrap_or(ExitReason::NoProc))
        }
        Err(error) => error,
        Ok(()) => unreachable!("nobody answers this reply address"),
    }
}

impl<R> PendingReply<R> {
    fn unwatch(&mut self) {
        if let Some(hook) = self.watch.take() {
            // False: it ran, or runs now; its fill finds the call closed.
            let _ = hook.remove();
        }
    }
}

impl<R> Drop for PendingReply<R> {
    fn drop(&mut self) {
        if self.open {
            // Given up (the caller unwinds, or never waited): close the
            // call; a reply that filled it meanwhile is dropped here.
            let slot = self.owner.0.reply.get().expect("made by `reserve`");
            drop(slot.close(self.generation));
        }
        self.unwatch();
    }
}
