//! The futures bridge, both ways.
//!
//! * **A process awaits a future**: [`await_future`] (and
//!   [`await_future_timeout`]) polls any `Future` on the process's own
//!   thread, suspending only the process between polls (`await_future.rs`
//!   states the protocol and its invariants).
//! * **Async code calls a process**: [`call_async`] sends a request from
//!   any thread (a tokio task, say) and returns a [`CallFuture`] of the
//!   reply, ended by the same [`CallError`](crate::CallError)s as
//!   [`call`](crate::call) (`call_async.rs`; its timeouts are kept by one
//!   thread, `deadlines.rs`). Sending needs nothing new:
//!   [`send`](crate::send) works from any thread.
//! * **Feature `tokio`**: the futures a process awaits are polled inside
//!   a tokio runtime's context, so that tokio's sockets and timers work in
//!   a process (`tokio.rs`).
//!
//! | file | what it holds |
//! |---|---|
//! | `await_future.rs` | [`await_future`], [`await_future_timeout`]: the waker, the wait, polls that never suspend |
//! | `call_async.rs` | [`call_async`], [`CallFuture`] |
//! | `deadlines.rs` | the thread that times out async calls |
//! | `tokio.rs` | feature `tokio`: the runtime's tokio context, `tokio_handle` |
//!
//! # The rule for polls
//!
//! A poll must not block the process: a future that calls `receive`,
//! `sleep`, `call` or `blocking` inside `poll` panics there, with a
//! message saying so. Await those outside the future, or make them
//! futures (`call_async` is one).

mod await_future;
mod call_async;
mod deadlines;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;

pub use await_future::{await_future, await_future_timeout};
pub use call_async::{CallFuture, call_async};
