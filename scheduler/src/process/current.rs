//! What the running process asks about itself and its time slice: its
//! pid, and reductions ([`reduce`], [`yield_now`]).

use std::sync::Arc;

use crate::process::Pid;
use crate::process::context::{try_with_process, with_process};

/// The pid of the running process (Erlang's `self()`).
///
/// ```
/// use ferrotp_scheduler::{Pid, receive, run, self_pid, send, spawn};
/// let (child, told, me) = run(|| {
///     let me = self_pid();
///     let parent = me.clone();
///     let child = spawn(move || send(&parent, self_pid()));
///     (child, receive::<Pid>(), me)
/// }).unwrap();
/// assert_eq!(child, told); // what the child saw is what spawn returned
/// assert_ne!(child, me);
/// ```
///
/// # Panics
/// Outside a process (see [`try_self_pid`]).
pub fn self_pid() -> Pid {
    with_process("self_pid", |ctx| Pid(Arc::clone(ctx.pcb)))
}

/// The pid of the running process; `None` outside a process. For code
/// that may run in a process or on a plain thread.
///
/// ```
/// use ferrotp_scheduler::{run, self_pid, try_self_pid};
/// assert_eq!(try_self_pid(), None);
/// let same = run(|| try_self_pid() == Some(self_pid())).unwrap();
/// assert!(same);
/// ```
pub fn try_self_pid() -> Option<Pid> {
    try_with_process(|ctx| Pid(Arc::clone(ctx.pcb)))
}

/// Consumes `n` reductions of the running process's slice; when the slice
/// is spent the process goes to the back of its worker's queue of
/// preempted processes, which runs after the processes that are ready
/// after a wait (woken by a message, a timer, ...) or new, and at least
/// every 61st turn of its worker whatever else is ready. Call it in long
/// computations so that other processes get their turn.
///
/// Here, on one worker, a computation that calls `reduce` lets a process
/// spawned before it run in the middle of it, with no blocking call (it
/// could not run before the loop ended otherwise):
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{Runtime, mailbox_len, reduce, receive, self_pid, send, spawn};
/// let rt = Runtime::builder().workers(1).reductions(1000).build()?;
/// let ran_at = rt.block_on(|| {
///     let me = self_pid();
///     spawn(move || send(&me, "the other process ran"));
///     let mut ran_at = None;
///     for step in 0..100 {
///         reduce(100); // 1000 reductions a slice: 10 steps a slice
///         if ran_at.is_none() && mailbox_len() > 0 {
///             ran_at = Some(step);
///         }
///     }
///     assert_eq!(receive::<&str>(), "the other process ran");
///     ran_at
/// });
/// assert!(matches!(ran_at, Some(step) if step >= 9), "{ran_at:?}");
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
///
/// # Panics
/// Outside a process.
pub fn reduce(n: u32) {
    with_process("reduce", |ctx| ctx.reduce(n));
}

/// Gives up the rest of the running process's slice: it goes to the back
/// of its worker's run queue, as `erlang:yield/0` does (behind the
/// processes ready now, ahead of those whose slice was spent: see
/// [`reduce`]).
///
/// On one worker, a process spawned by the running one runs only once the
/// spawner gives the worker up (the worker alternates between its queues,
/// so it may take a yield or two):
///
/// ```
/// use ferrotp_scheduler::{Runtime, mailbox_len, self_pid, send, spawn, yield_now};
/// let rt = Runtime::builder().workers(1).build()?;
/// let (before, after) = rt.block_on(|| {
///     let me = self_pid();
///     spawn(move || send(&me, "hello"));
///     let before = mailbox_len(); // the child has not run yet
///     for _ in 0..10 {
///         if mailbox_len() > 0 { break; }
///         yield_now();
///     }
///     (before, mailbox_len())
/// });
/// assert_eq!((before, after), (0, 1));
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
///
/// # Panics
/// Outside a process.
#[inline]
pub fn yield_now() {
    with_process("yield_now", |ctx| ctx.yield_polling());
}
