//! Processes that own no stack while they wait for a message: a
//! [`Resumable`] body, spawned with [`spawn_resumable`](crate::spawn_resumable),
//! runs in *activations*, each on a pooled stack, and hibernates between
//! them (Erlang's `erlang:hibernate/3`, made the default for a body that
//! asks for it).
//!
//! # One activation
//!
//! 1. A worker takes a stack and runs [`Resumable::resume`] on it. The body
//!    takes messages, and may block inside (a nested `call`, a selective
//!    receive, a sleep): it then keeps its stack and stays on its worker,
//!    like any settled process, so a `!Send` value held across that wait
//!    never changes thread.
//! 2. With nothing left to take it returns [`Activation::Hibernate`]. The
//!    runtime announces the wait on the mailbox (a push that lands after
//!    the announcement is told to wake the process), arms the deadline's
//!    timer if it has one, and the coroutine *returns*: its stack goes
//!    back to the pool.
//! 3. What must outlive the stack moves into the process's [`Sleeper`]
//!    (one allocation for the process's life): the body, the mailbox
//!    receiver (parked: its place in the arrivals, the messages a
//!    selective receive passed over), the timer and subject counters, the
//!    armed deadline.
//!
//! # Where a hibernated process is, and how it wakes
//!
//! The worker keeps the sleeper in its slab of sleepers, and publishes
//! the place as `(worker, key | HIBERNATED)` before its `Release`
//! transition to `WAITING`: the run-state protocol (module `run_state`,
//! loom-checked) then decides, exactly once, who queues it, and that one
//! sees the place. A worker that finds `HIBERNATED` in a key it is handed
//! (woken on its thread, or through its inbox) takes the sleeper out of
//! its slab and pushes it onto its **stealable** deque as a launch: any
//! worker may run the next activation (unless the process was spawned
//! pinned to a worker). The loom model `tests/loom_hibernation.rs` checks
//! the whole hand-off, with the mailbox: a message pushed while the
//! process hibernates is never left unread with nobody to launch it.
//!
//! # Invariants
//!
//! * Only a body that is `Send` hibernates: between activations nothing of
//!   the process is tied to a thread.
//! * A hibernated process is in exactly one place: its worker's sleepers,
//!   a launch in a run queue, or running.
//! * A process that has hibernated is never ended unrun: shutdown and a
//!   kill end it *by running it* (its first check point unwinds), so its
//!   body drops inside its own process, with its exit hooks run. Woken
//!   when no stack can be had, it waits on its worker for one (retried
//!   now and then), as a stackful process would have kept its own. Only
//!   at shutdown is one that still cannot get a stack ended unrun (its
//!   body and messages dropped outside any process); the injector's
//!   leftovers at the very end (where workers never put such a launch)
//!   would be leaked, not dropped.
//! * A dying process never hibernates: the runtime makes a check point of
//!   every [`Activation::Hibernate`], which unwinds it again.

use std::time::Instant;

use ferrotp_mailbox::ParkedReceiver;

use crate::lifecycle::exit_reason::ExitReason;
use crate::process::Envelope;
use crate::time::timer::TimerKey;

/// A process body that gives its stack back while it waits for a
/// message. See [`spawn_resumable`](crate::spawn_resumable).
pub trait Resumable: Send + 'static {
    /// Runs one activation: take messages (polling, with
    /// [`try_receive_any`](crate::try_receive_any), or any receive that
    /// does not wait) until there is nothing to take, then return
    /// [`Activation::Hibernate`]; or end the process with
    /// [`Activation::Exit`].
    ///
    /// `timed_out` is true when the runtime resumes the body because the
    /// deadline of its last `Hibernate` passed (a message that came
    /// meanwhile may be waiting too: taking it first is Erlang's order).
    fn resume(&mut self, timed_out: bool) -> Activation;
}

/// How an activation of a [`Resumable`] body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// Nothing left to take: free the stack, and resume the body when a
    /// message arrives, or once `until` has passed (`None`: no deadline).
    Hibernate {
        /// The deadline after which the body is resumed with `timed_out`.
        until: Option<Instant>,
    },
    /// The process ends with this reason.
    Exit(ExitReason),
}

/// The bit of a slab key that says "in the worker's sleepers, not its
/// slab of settled processes".
pub(crate) const HIBERNATED: usize = 1 << 31;

/// A deadline armed as the process hibernated: its timer, in the wheel of
/// worker `worker`.
#[derive(Clone, Copy)]
pub(crate) struct ParkedTimer {
    pub(crate) seq: u64,
    pub(crate) key: TimerKey,
    pub(crate) worker: usize,
}

/// What a hibernating process keeps between activations (module docs);
/// `B` is its body, unsized to `dyn Resumable` once boxed.
pub(crate) struct Sleeper<B: ?Sized = dyn Resumable> {
    /// `None` before the first activation: the process makes its receiver.
    pub(crate) receiver: Option<ParkedReceiver<Envelope>>,
    pub(crate) timer_seq: u64,
    pub(crate) subject_tag: u64,
    pub(crate) timer: Option<ParkedTimer>,
    /// Spawned pinned to a worker: each activation runs there.
    pub(crate) pinned: bool,
    pub(crate) body: B,
}

impl<B: Resumable> Sleeper<B> {
    /// A body that has not run yet.
    pub(crate) fn new(body: B, pinned: bool) -> Box<Sleeper> {
        Box::new(Sleeper {
            receiver: None,
            timer_seq: 0,
            subject_tag: 0,
            timer: None,
            pinned,
            body,
        })
    }
}

impl Sleeper {
    /// Whether the process has run (and so must end by running again).
    pub(crate) fn has_run(&self) -> bool {
        self.receiver.is_some()
    }
}
