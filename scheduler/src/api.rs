//! What a process calls: its identity, sending, receiving (plain,
//! selective, with timeouts, multi-clause), typed subjects, and
//! reductions.
//!
//! Messages are any `Send + 'static` value. Receiving is typed and
//! selective: `receive::<T>()` takes the first message, in arrival order,
//! that is a `T`; messages of other types keep their places for later
//! receives (Erlang's selective receive, with the type as the pattern).
//! Messages from one sender to one receiver arrive in the order sent.

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use ferrotp_mailbox::{Mark, TryPushError};

use crate::context::{try_with_process, try_with_worker, with_process};
use crate::debt::Debt;
use crate::process::{Envelope, Pcb, Pid, dead_letter, deliver, try_deliver};
use crate::signal::receivable;

/// The pid of the running process.
///
/// # Panics
/// Outside a process.
pub fn self_pid() -> Pid {
    with_process("self_pid", |ctx| Pid(Arc::clone(ctx.pcb)))
}

/// The pid of the running process; `None` outside a process.
pub fn try_self_pid() -> Option<Pid> {
    try_with_process(|ctx| Pid(Arc::clone(ctx.pcb)))
}

/// Sends `message` to `to`. Never fails: if `to` has ended, the message
/// becomes a dead letter (counted; see
/// [`Builder::dead_letter_hook`](crate::Builder::dead_letter_hook)).
///
/// If `to`'s mailbox is bounded and full, a sending process suspends until
/// there is room (a plain thread blocks). Costs one reduction.
///
/// Callable from any thread, in a process or not.
pub fn send<M: Send + 'static>(to: &Pid, message: M) {
    send_envelope(&to.0, Envelope::new(message));
    let _ = try_with_process(|ctx| ctx.reduce(1));
}

/// Queues `message` for `to` past any mailbox bound and without costing a
/// reduction; if `to` has ended, drops it silently (it is not a dead
/// letter). For messages that stand for signals, such as a monitor's
/// `Down` (crate `ferrotp-supervision`): Erlang drops signals to dead
/// processes, and a signal never waits for room.
///
/// Callable from any thread, in a process or not (an exit hook, say).
pub fn send_signal_message<M: Send + 'static>(to: &Pid, message: M) {
    let pcb = &to.0;
    match pcb.mailbox.push(Envelope::new(message)) {
        Ok(ferrotp_mailbox::Pushed::WakeReceiver) => pcb.wake(),
        Ok(ferrotp_mailbox::Pushed::Queued) => {}
        Err(closed) => drop(crate::process::unless_recursing(pcb, closed.into_inner())),
    }
}

/// Why [`try_send`] did not send.
#[derive(PartialEq, Eq)]
pub enum TrySendError<M> {
    /// The bounded mailbox is full; here is the message back.
    Full(M),
}

impl<M> TrySendError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            TrySendError::Full(message) => message,
        }
    }
}

impl<M> std::fmt::Debug for TrySendError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<M> std::fmt::Display for TrySendError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the receiving process's mailbox is full")
    }
}

impl<M> std::error::Error for TrySendError<M> {}

/// Sends `message` unless `to`'s bounded mailbox is full. On an
/// unbounded mailbox it is [`send`]. A message to an ended process is a
/// dead letter, as with `send`.
///
/// # Errors
/// [`TrySendError::Full`] with the message.
pub fn try_send<M: Send + 'static>(to: &Pid, message: M) -> Result<(), TrySendError<M>> {
    let result = try_deliver(&to.0, Envelope::new(message));
    let _ = try_with_process(|ctx| ctx.reduce(1));
    result.map_err(|envelope| TrySendError::Full(take_typed::<M>(envelope)))
}

#[inline]
pub(crate) fn send_envelope(to: &Arc<Pcb>, envelope: Envelope) {
    if to.mailbox.capacity().is_none() {
        deliver(to, envelope);
        return;
    }
    if let Err(envelope) = try_deliver(to, envelope) {
        send_when_room(to, envelope);
    }
}

/// A thread (not a process) waiting for room in a bounded mailbox.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The blocking half of `send` to a full bounded mailbox.
#[cold]
fn send_when_room(to: &Arc<Pcb>, envelope: Envelope) {
    let sender = try_with_process(|ctx| (Arc::clone(ctx.pcb), ctx.in_panic_hook()));
    let waker = match &sender {
        // A process cannot wait for room in its own mailbox, and one that
        // runs the panic hook must not give its worker up (std holds its
        // hook lock): both exceed the bound instead.
        Some((me, in_hook)) if Arc::ptr_eq(me, to) || *in_hook => {
            return deliver(to, envelope);
        }
        Some((me, _)) => Waker::from(Arc::clone(me)),
        // A worker thread outside any process (a dead-letter hook, say)
        // must not block its worker.
        None if try_with_worker(|_| ()).is_some() => return deliver(to, envelope),
        None => Waker::from(Arc::new(ThreadWaker(std::thread::current()))),
    };
    let waiting = WaitingForRoom::new(to, waker, sender.is_some());
    let mut envelope = envelope;
    loop {
        match waiting.try_push(envelope) {
            Ok(pushed) => {
                if pushed.must_wake() {
                    to.wake();
                }
                return;
            }
            Err(TryPushError::Closed(refused)) => return dead_letter(to, refused),
            Err(TryPushError::Full(refused)) => {
                envelope = refused;
                if sender.is_some() {
                    with_process("send", |ctx| ctx.wait_checked());
                } else {
                    std::thread::park();
                }
            }
        }
    }
}

/// A sender's registration for room in a bounded mailbox. Inside a
/// process it is a debt of the process until dropped (module `debt`): if
/// the process is abandoned while it waits (its clean-up ran past its
/// deadline), this frame never finishes, and the worker withdraws the
/// registration instead, so that its place among the waiting senders never
/// swallows another sender's wake-up.
struct WaitingForRoom {
    debt: Arc<Debt>,
}

impl WaitingForRoom {
    fn new(to: &Arc<Pcb>, waker: Waker, in_process: bool) -> Self {
        let debt = Debt::room_wait(to, waker);
        if in_process {
            let _ = try_with_process(|ctx| ctx.owe(&debt));
        }
        Self { debt }
    }

    fn try_push(
        &self,
        envelope: Envelope,
    ) -> Result<ferrotp_mailbox::Pushed, TryPushError<Envelope>> {
        self.debt.try_push(envelope)
    }
}

impl Drop for WaitingForRoom {
    fn drop(&mut self) {
        // Withdraws the registration, passing on a wake-up it received.
        drop(self.debt.settle());
    }
}

/// A deadline `timeout` from now; `None` if it is beyond any clock.
fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

fn take_typed<T: Send + 'static>(envelope: Envelope) -> T {
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
/// # Panics
/// Outside a process.
pub fn mailbox_len() -> usize {
    with_process("mailbox_len", |ctx| ctx.mailbox_len())
}

/// Consumes `n` reductions of the running process's slice; when the slice
/// is spent the process goes to the back of its worker's run queue. Call
/// it in long computations so that other processes get their turn.
///
/// # Panics
/// Outside a process.
pub fn reduce(n: u32) {
    with_process("reduce", |ctx| ctx.reduce(n));
}

/// Gives up the rest of the running process's slice: it goes to the back
/// of its worker's run queue.
///
/// # Panics
/// Outside a process.
#[inline]
pub fn yield_now() {
    with_process("yield_now", |ctx| ctx.yield_polling());
}

/// A message sent through a [`Subject`].
struct Tagged<T> {
    tag: u64,
    message: T,
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
    owner: Pid,
    tag: u64,
    mark: Mark,
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

    /// Sends `message` to the subject's owner, as [`send`] does.
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
        crate::process::deliver(&self.owner.0, Envelope::new(tagged));
        let _ = try_with_process(|ctx| ctx.reduce(1));
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

type Test<'a> = Box<dyn Fn(&Envelope) -> bool + 'a>;
type Handle<'a, R> = Box<dyn FnOnce(Envelope) -> R + 'a>;

/// A receive with several clauses, Erlang style: the first message (in
/// arrival order) that any clause accepts is handled by the first clause
/// (in clause order) that accepts it; `after` handles a timeout.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{Select, run, self_pid, send};
/// let got = run(|| {
///     let me = self_pid();
///     send(&me, 'x');
///     send(&me, 42u64);
///     let first = Select::new()
///         .on_match(|n: &u64| *n > 100, |n| format!("big {n}"))
///         .on(|n: u64| format!("number {n}"))
///         .after(Duration::from_millis(10), || "nothing".to_owned())
///         .wait();
///     let second = Select::new()
///         .on(|n: u64| format!("number {n}"))
///         .after(Duration::ZERO, || "nothing".to_owned())
///         .wait();
///     (first, second)
/// }).unwrap();
/// assert_eq!(got, ("number 42".to_owned(), "nothing".to_owned()));
/// ```
pub struct Select<'a, R> {
    clauses: Vec<(Test<'a>, Handle<'a, R>)>,
    after: Option<(Duration, Box<dyn FnOnce() -> R + 'a>)>,
    /// The owners of the subjects of `on_subject` clauses: each must be
    /// the waiting process (a subject's tag means nothing in another
    /// process's mailbox).
    subject_owners: Vec<Pid>,
    /// Where the scan starts: the oldest subject's mark when every clause
    /// is a subject clause (their messages cannot be older), else the
    /// start of the mailbox.
    start: Option<Mark>,
}

impl<R> std::fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("clauses", &self.clauses.len())
            .field("after", &self.after.as_ref().map(|(d, _)| d))
            .finish()
    }
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, R> Select<'a, R> {
    /// A select with no clauses yet.
    pub fn new() -> Self {
        Self {
            clauses: Vec::new(),
            after: None,
            subject_owners: Vec::new(),
            start: None,
        }
    }

    /// A clause taking any message of type `T`.
    pub fn on<T: Send + 'static>(self, handle: impl FnOnce(T) -> R + 'a) -> Self {
        self.clause(|e| e.is::<T>() && receivable::<T>(e), handle)
    }

    /// A clause taking a message of type `T` for which `pred` is true.
    pub fn on_match<T: Send + 'static>(
        self,
        pred: impl Fn(&T) -> bool + 'a,
        handle: impl FnOnce(T) -> R + 'a,
    ) -> Self {
        self.clause(
            move |e| e.downcast_ref::<T>().is_some_and(&pred) && receivable::<T>(e),
            handle,
        )
    }

    /// A clause taking a message sent through `subject` (which the
    /// waiting process must own: [`wait`](Self::wait) panics otherwise).
    pub fn on_subject<T: Send + 'static>(
        mut self,
        subject: &Subject<T>,
        handle: impl FnOnce(T) -> R + 'a,
    ) -> Self {
        self.subject_owners.push(subject.owner.clone());
        let tag = subject.tag;
        let test = move |e: &Envelope| e.downcast_ref::<Tagged<T>>().is_some_and(|t| t.tag == tag);
        let handle = move |e: Envelope| handle(take_typed::<Tagged<T>>(e).message);
        self.clauses.push((Box::new(test), Box::new(handle)));
        self.start = Some(match self.start {
            None => subject.mark,
            Some(start) => start.min(subject.mark),
        });
        self
    }

    fn clause<T: Send + 'static>(
        mut self,
        test: impl Fn(&Envelope) -> bool + 'a,
        handle: impl FnOnce(T) -> R + 'a,
    ) -> Self {
        let handle = move |e: Envelope| handle(take_typed::<T>(e));
        self.clauses.push((Box::new(test), Box::new(handle)));
        self.start = Some(Mark::START);
        self
    }

    /// What to do if no clause's message arrives within `timeout`
    /// (`Duration::ZERO`: only look at what is already queued).
    pub fn after(mut self, timeout: Duration, handle: impl FnOnce() -> R + 'a) -> Self {
        self.after = Some((timeout, Box::new(handle)));
        self
    }

    /// Waits for a message that a clause accepts (or the timeout) and
    /// returns what its handler returns.
    ///
    /// # Panics
    /// Outside a process; if a clause test itself receives; if an
    /// [`on_subject`](Self::on_subject) clause's subject is owned by
    /// another process.
    pub fn wait(self) -> R {
        let Select {
            clauses,
            after,
            subject_owners,
            start,
        } = self;
        let found = with_process("Select::wait", |ctx| {
            if let Some(owner) = subject_owners
                .iter()
                .find(|owner| !Arc::ptr_eq(&owner.0, ctx.pcb))
            {
                panic!(
                    "ferrotp::Select::wait: an on_subject clause waits on a subject owned by {owner}; \
                     only the subject's owner can receive from it (this is {})",
                    ctx.pcb.id
                );
            }
            let mut mark = start.unwrap_or(Mark::START);
            let deadline = match &after {
                Some((timeout, _)) => deadline_after(*timeout),
                None => None,
            };
            ctx.receive("Select::wait", &mut mark, deadline, &mut |e| {
                clauses.iter().any(|(test, _)| test(e))
            })
        });
        match found {
            Some(envelope) => {
                let (_, handle) = clauses
                    .into_iter()
                    .find(|(test, _)| test(&envelope))
                    .expect("a clause accepted this message");
                handle(envelope)
            }
            None => match after {
                Some((_, handle)) => handle(),
                None => unreachable!("no deadline"),
            },
        }
    }
}
