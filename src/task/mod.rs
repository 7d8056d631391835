//! Tasks: a function run in a process of its own, whose result its owner
//! awaits (Elixir's `Task` and `Task.Supervisor`).
//!
//! * [`Task::spawn`] runs a function in a new process linked to the
//!   caller, its *owner*; the owner takes the result with
//!   [`Task::await_timeout`], polls with [`Task::yield_for`] /
//!   [`Task::await_keep`], stops the task with [`Task::shutdown`] or lets
//!   it go with [`Task::ignore`]. [`await_many`] awaits several under one
//!   deadline.
//! * [`async_stream`] maps a function over an iterator with at most
//!   `max_concurrency` tasks at a time, lazily, in input order or not,
//!   with a timeout per item.
//! * [`TaskSupervisor`] runs tasks under a dynamic supervisor:
//!   fire-and-forget children, and [`TaskSupervisor::async_nolink`]
//!   tasks whose crash reaches the caller only as an error value.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::task::{self, Task};
//! let (one, many, streamed) = ferrotp::run(|| {
//!     let one = Task::spawn(|| 40 + 2).await_timeout(Duration::from_secs(5));
//!     let tasks = (0..3u64).map(|n| Task::spawn(move || n * 10)).collect();
//!     let many = task::await_many(tasks, Duration::from_secs(5));
//!     let streamed: Vec<u64> = task::async_stream(0..4u64, |n| n + 1)
//!         .max_concurrency(2)
//!         .map(Result::unwrap)
//!         .collect();
//!     (one, many, streamed)
//! }).unwrap();
//! assert_eq!(one, Ok(42));
//! assert_eq!(many, Ok(vec![0, 10, 20]));
//! assert_eq!(streamed, vec![1, 2, 3, 4]);
//! ```
//!
//! # Design
//!
//! **The result.** A task's process puts its function's value in a
//! one-shot cell shared with its [`Task`] handle (module `result`), as
//! its last act, and ends. The owner waits for that *end*, not for a
//! message: a [`PendingReply`](crate::PendingReply) that nobody
//! answers, [`watch`](crate::PendingReply::watch)ing the task, is filled
//! by the task's exit hook with its exit reason (module `end`). So an
//! await is woken by the task's end whatever the end is (a result, a
//! panic, a kill), the value never travels through a mailbox, and a
//! wait that times out leaves nothing behind.
//!
//! Why not a [`ReplyTo`](crate::ReplyTo) per task for the value, as
//! [`call`](crate::call) does: a process has one reply slot and waits
//! for one reply at a time (a second open `PendingReply` panics), while
//! an owner may hold many tasks, all running; and a value sent to a
//! reply slot that is not open at that moment is dropped, which would
//! lose the result of a task whose [`Task::yield_for`] had just timed
//! out. The cell keeps the value until the owner takes it.
//!
//! **Waiting for the first of many** ([`await_many`], [`async_stream`])
//! is one `PendingReply` at a time too, answered by whichever watched
//! task's exit hook runs first (module `ends`).
//!
//! **The link.** [`Task::spawn`] links the task to its owner, as
//! Elixir's `Task.async` does, with the same consequences:
//!
//! | the task ends with | owner not trapping exits | owner trapping exits |
//! |---|---|---|
//! | its value (`Normal`) | await returns `Ok(value)` | same |
//! | a panic, or killed by another process | the owner ends with the same reason (its await does not return) | await returns `Err(TaskError::Exited(reason))` |
//! | killed by the owner's await timeout or shutdown | unlinked first: the owner is untouched | same |
//!
//! The owner ends "at the latest when its await sees the end", never
//! later: the task's link signal is sent before its end wakes the
//! await, and a non-trapping owner acts on it on waking.
//!
//! # Invariants
//!
//! * **Only the owner awaits.** Every waiting method checks that the
//!   caller is the process that started the task, and panics otherwise
//!   (a `Task` is `Send`, so it can reach another process; awaiting it
//!   there is a bug, as in Elixir). A result is returned once: awaiting
//!   again after [`Task::yield_for`] gave `Some` panics.
//! * **Every wait is bounded** by its timeout, except the wait for the
//!   end of a task the owner has just killed (a kill cannot be trapped:
//!   a suspended process is unwound at once, a running one at its next
//!   check point, and its clean-up is bounded by the runtime's clean-up
//!   deadline).
//! * **Nothing is left in the owner's mailbox** once an await (or a
//!   shutdown, an `ignore`, a stream's item) returns: no reply message
//!   exists, no monitor is made (the watch is an exit hook), and the
//!   link's `Exit` message, which an owner that traps exits receives, is
//!   taken out after the link is cut (module `end`).
//! * **A timed-out task has ended** when the await returns
//!   (`pid.exit_reason() == Some(ExitReason::Killed)`), so it holds no
//!   resource of the owner's any more.
//!
//! | file | what it holds |
//! |---|---|
//! | `handle.rs` | [`Task`]: spawn, await, yield, shutdown, ignore |
//! | `result.rs` | the one-shot cell a task leaves its value in |
//! | `end.rs` | waiting for a task's end; releasing its link |
//! | `ends.rs` | waiting for the first of many tasks to end |
//! | `many.rs` | [`await_many`] |
//! | `stream.rs` | [`async_stream`], [`AsyncStream`], [`OnTimeout`] |
//! | `supervisor.rs` | [`TaskSupervisor`] |
//! | `error.rs` | [`TaskError`] |

mod end;
mod ends;
mod error;
mod handle;
mod many;
mod result;
mod stream;
mod supervisor;

pub use error::TaskError;
pub use handle::Task;
pub use many::await_many;
pub use stream::{AsyncStream, DEFAULT_TIMEOUT, OnTimeout, async_stream};
pub use supervisor::TaskSupervisor;
