//! ferrotp's runtime: green processes on stackful coroutines, scheduled by
//! per-core, work-stealing workers with reduction-counted preemption.
//!
//! ```
//! let rt = ferrotp_scheduler::Runtime::builder().workers(2).build()?;
//! let sum = rt.block_on(|| {
//!     let me = ferrotp_scheduler::self_pid();
//!     for i in 0..10u64 {
//!         let me = me.clone();
//!         ferrotp_scheduler::spawn(move || ferrotp_scheduler::send(&me, i));
//!     }
//!     (0..10).map(|_| ferrotp_scheduler::receive::<u64>()).sum::<u64>()
//! });
//! assert_eq!(sum, 45);
//! # Ok::<(), ferrotp_scheduler::BuildError>(())
//! ```
//!
//! # Processes
//!
//! A process is a corosensei coroutine on a pooled stack (module
//! [`stack`]: slabs, guard pages, per-worker pools). A spawned process
//! owns no stack until it first runs, so spawning a million processes does
//! not need a million stacks unless they are all blocked at once. A panic
//! ends only its process, with exit reason [`ExitReason::Panic`].
//!
//! # The migration rule (why processes stay on their worker)
//!
//! A suspended stackful coroutine may hold `!Send` values (an `Rc`, a
//! `MutexGuard`) and addresses of thread-local variables on its stack, and
//! the compiler cannot see them. Moving such a stack to another OS thread
//! is unsound. So:
//!
//! 1. a process that has **never run** is stealable: only its `Send`
//!    closure exists;
//! 2. a process that has run is **settled** on its worker and never moves
//!    again, unless it was spawned with the `unsafe` opt-in
//!    [`SpawnOptions::migratable`], whose author promises that it holds no
//!    `!Send` value or thread-local reference across a suspension;
//! 3. the runtime's own thread-local state (current process, current
//!    worker) is read through `#[inline(never)]` accessors and never kept
//!    across a switch: LLVM may keep a thread-local's address in a
//!    register across an opaque call (llvm-project issue 98479), so this
//!    matters even when every value on the stack is `Send`.
//!
//! Work stealing therefore moves new processes between workers, and
//! settled ones only through their worker's own queues. A test
//! (`tests/runtime.rs`) checks that a settled process never changes OS
//! thread while other workers steal.
//!
//! # Scheduling
//!
//! See `worker/run_loop.rs` (the run loop, queues, the stealable LIFO slot,
//! fairness, shutdown) and [`idle`] (parking without lost wake-ups).
//! Each process runs for a budget of reductions (default 4000): `send`,
//! `receive`, `spawn` and [`reduce`] consume them, [`yield_now`] gives the
//! rest up, and a process whose budget is spent at one of these points
//! goes to the back of its worker's run queue. Rust cannot preempt a loop
//! that never calls into the runtime: long computations should call
//! [`reduce`].
//!
//! # Messages and time
//!
//! Typed, selective receive on a lock-free mailbox (`ferrotp-mailbox`),
//! [`Subject`]s, a multi-clause [`Select`], bounded mailboxes with
//! blocking `send` and [`try_send`], dead letters, [`sleep`],
//! receive timeouts and [`send_after`] on a per-worker timer wheel.
//!
//! # Blocking code and futures
//!
//! [`blocking`] and [`spawn_blocking`] run closures that block their
//! thread on a pool the runtime owns, suspending only the calling process
//! (BEAM's dirty schedulers). [`await_future`] waits for a `Future` inside
//! a process; [`call_async`] lets async code call a process and await the
//! reply ([`CallFuture`]). With the `tokio` feature the futures processes
//! await are polled in a tokio runtime's context (`Builder::tokio_handle`,
//! `tokio_handle`).

mod blocking;
mod futures;
pub mod io;
mod lifecycle;
mod messaging;
mod process;
pub mod report;
mod runtime;
mod time;
mod worker;

// The modules that were public before the crate was laid out in folders
// keep their paths (`ferrotp_scheduler::stack`, ...): the loom models and
// the other crates use them.
pub use lifecycle::{exit_hooks, exit_reason, signal_flags};
pub use messaging::reply_slot;
pub use process::{process_id, run_state, stack};
pub use runtime::{config, placement, topology};
pub use time::{timer, timer_state};
pub use worker::idle;

pub use blocking::{
    BLOCKING_KEEP_ALIVE, BlockingHandle, DEFAULT_BLOCKING_THREADS, MAX_BLOCKING_THREADS, blocking,
    spawn_blocking,
};
#[cfg(feature = "tokio")]
pub use futures::tokio::tokio_handle;
pub use futures::{CallFuture, await_future, await_future_timeout, call_async};
pub use lifecycle::exit_hooks::{HookTag, SharedHook};
pub use lifecycle::exit_reason::ExitReason;
pub use lifecycle::exit_signal::{Exit, Link, is_exit_unwind};
pub use lifecycle::info::{ProcessInfo, ProcessStatus, process_info};
pub use lifecycle::registry::{
    NotRegistered, RegisterError, register, send_named, unregister, whereis,
};
pub use lifecycle::signal::{exit, exit_self, link_signal, trap_exit};
pub use lifecycle::spawn::{
    SpawnError, SpawnOptions, spawn, spawn_opt, spawn_resumable, spawn_resumable_with, spawn_with,
};
pub use messaging::call::{CallError, PendingReply, ReplyTo, call};
pub use messaging::long_queue::{LongMessageQueue, QueueMarks};
pub use messaging::receive::{
    AnyMessage, close_mailbox, mailbox_len, receive, receive_any, receive_any_timeout,
    receive_match, receive_match_timeout, receive_timeout, try_receive_any,
};
pub use messaging::select::Select;
pub use messaging::send::{
    TrySendError, deliver_unless_ended, send, send_signal_message, send_unless_ended, try_send,
};
pub use messaging::subject::Subject;
pub use process::current::{reduce, self_pid, try_self_pid, yield_now};
pub use process::hibernation::{Activation, Resumable};
pub use process::process_id::ProcessId;
pub use process::red_zone::MAX_RED_ZONE;
pub use process::stack::MAX_STACK_SIZE;
pub use process::stack::OnStackOverflow;
pub use process::stack_depth::{maybe_grow, remaining_stack};
pub use process::{DeadLetter, ExitHook, Pid};
pub use runtime::config::EffectiveSettings;
pub use runtime::{
    BuildError, Builder, DEFAULT_BUSY_WAIT, DEFAULT_CLEANUP_TIMEOUT, DEFAULT_LONG_SCHEDULE,
    DEFAULT_MAX_PROCESSES, DEFAULT_REDUCTIONS, DEFAULT_STACK_SIZE, Metrics, Runtime, WorkerMetrics,
    run,
};
pub use time::{TimerRef, cancel_timer, send_after, sleep};
pub use worker::stats::ExitCounts;
pub use worker::stats::LongSchedule;
