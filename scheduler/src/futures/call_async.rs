//! Outside any process, call into one and await the reply:
//! [`call_async`] and its future, [`CallFuture`].
//!
//! # Semantics: those of [`call`](crate::call)
//!
//! The same [`CallError`]s end the future, for the same reasons: the
//! callee's end ([`CallError::Exited`], or [`CallError::NoProc`] if it
//! had ended), the reply address dropped unanswered
//! ([`CallError::NoReply`]; [`CallError::Exited`] with the reason of a
//! process that dropped it as it ended), the timeout
//! ([`CallError::Timeout`]; a reply that won the race is the result), a
//! process awaiting a call to itself ([`CallError::CalledSelf`]).
//!
//! # How
//!
//! * The reply address ([`ReplyTo`]) has a second kind for these callers:
//!   it fills a one-shot slot (`messaging/async_slot.rs`: a `Mutex`, and
//!   the [`Waker`](std::task::Waker) the future left) instead of a
//!   process's reply slot. The process kind is untouched: same size, same
//!   path.
//! * The callee is watched with an exit hook from the start (a process's
//!   `call` watches only once its reply is slow; an async caller has no
//!   timer of the runtime's to wait for that with).
//! * The timeout is kept by one thread for the program (module
//!   `deadlines`, which says why).
//! * A future dropped before the end (cancelled, or beaten by the
//!   caller's own timeout) closes its slot, removes its exit hook and
//!   disarms its deadline: nothing leaks, and a callee that answers later
//!   is not stuck: [`ReplyTo::send`] returns false and the reply is
//!   dropped where it was sent.
//!
//! The request is sent when [`call_async`] is called, not when the future
//! is first polled (as Erlang's `gen_server:send_request`): the future
//! only waits.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::futures::deadlines::{self, Armed};
use crate::lifecycle::exit_reason::ExitReason;
use crate::messaging::async_slot::{AsyncSlot, Ended};
use crate::messaging::call::{CallError, ReplyTo};
use crate::messaging::receive::deadline_after;
use crate::messaging::reply_slot::Outcome;
use crate::messaging::send::send_unless_ended;
use crate::process::context::try_with_process;
use crate::process::{ExitHook, Pid};

/// Sends `to` the request `request(reply)` and returns a future of the
/// reply, for code outside any process (an async task, a plain thread):
/// [`call`](crate::call)'s semantics (module docs), resolved with the
/// same [`CallError`]s. `timeout` runs from now (`Duration::MAX`: none).
///
/// The request is sent at once; the future waits for the reply, on any
/// executor (it needs no runtime of its own). Dropping it abandons the
/// call: a reply that comes later is dropped by the callee as it sends
/// it.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{ReplyTo, Runtime, call_async, receive};
/// let rt = Runtime::builder().workers(1).build()?;
/// let doubler = rt.spawn(|| loop {
///     let (n, reply) = receive::<(u64, ReplyTo<u64>)>();
///     reply.send(n * 2);
/// });
/// // Any executor: here, a tokio runtime on this thread.
/// let tokio = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let doubled = tokio.block_on(async {
///     call_async(&doubler, |reply: ReplyTo<u64>| (21u64, reply), Duration::from_secs(5)).await
/// });
/// assert_eq!(doubled, Ok(42));
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
///
/// Inside a process, [`call`](crate::call) is the better way; this one
/// works there too, awaited with [`await_future`](crate::await_future).
///
/// Sending to a bounded mailbox that is full waits for room as
/// [`send`](crate::send) does: it blocks the calling thread.
pub fn call_async<Req, R>(
    to: &Pid,
    request: impl FnOnce(ReplyTo<R>) -> Req,
    timeout: Duration,
) -> CallFuture<R>
where
    Req: Send + 'static,
    R: Send + 'static,
{
    if try_with_process(|ctx| Arc::ptr_eq(ctx.pcb, &to.0)) == Some(true) {
        return CallFuture::ready(Err(CallError::CalledSelf));
    }
    let (mut future, reply) = CallFuture::new(timeout);
    let request = request(reply);
    // Watched before the send: an end after the watch tells its reason.
    if future.watch(to) && send_unless_ended(to, request).is_ok() {
        return future;
    }
    // Ended before the call: the future closes first, so the reply
    // address dropped with the request fills nothing.
    drop(future);
    CallFuture::ready(Err(CallError::NoProc))
}

/// The reply to a call made outside any process: a [`Future`] of
/// `Result<R, CallError>` ([`call_async`]). `Send` when `R` is, `Unpin`.
///
/// Use it directly, as [`PendingReply`](crate::PendingReply) is used
/// inside processes, when the request is not a plain message to one
/// process (an address that follows a supervised actor's restarts, say):
/// [`new`](Self::new) makes the reply address to put in the request,
/// [`watch`](Self::watch) ends the wait if a process ends first.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{CallError, CallFuture, ExitReason, Runtime, receive};
/// let rt = Runtime::builder().workers(1).build()?;
/// let (mut answer, reply) = CallFuture::<u32>::new(Duration::from_secs(5));
/// // A process that takes the reply address and crashes.
/// let crasher = rt.spawn(move || {
///     let _reply = reply;
///     receive::<()>();
///     panic!("no answer today");
/// });
/// answer.watch(&crasher);
/// ferrotp_scheduler::send(&crasher, ());
/// let tokio = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(
///     tokio.block_on(answer),
///     Err(CallError::Exited(ExitReason::Panic("no answer today".into())))
/// );
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
#[must_use = "a call's reply is only had by awaiting its future"]
pub struct CallFuture<R> {
    /// `None` once complete, or for a future made [`ready`](Self::ready).
    slot: Option<Arc<AsyncSlot>>,
    /// A result known at once.
    ready: Option<Result<R, CallError>>,
    watch: Option<ExitHook>,
    /// A process that dropped the reply address as it ended: its end is
    /// the call's (module `call`).
    holder: Option<Pid>,
    deadline: Option<Armed>,
    _reply: PhantomData<fn(R) -> R>,
}

impl<R> std::fmt::Debug for CallFuture<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture")
            .field("waiting", &self.slot.is_some())
            .field("watching", &self.watch.as_ref().map(ExitHook::pid))
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<R: Send + 'static> CallFuture<R> {
    /// A call's waiting half, and the reply address to put in its
    /// request. `timeout` runs from now (`Duration::MAX`: none).
    pub fn new(timeout: Duration) -> (Self, ReplyTo<R>) {
        let slot = Arc::new(AsyncSlot::new());
        let deadline = deadline_after(timeout).map(|at| deadlines::arm(at, &slot));
        let reply = ReplyTo::to_async(Arc::clone(&slot));
        let future = Self {
            slot: Some(slot),
            ready: None,
            watch: None,
            holder: None,
            deadline,
            _reply: PhantomData,
        };
        (future, reply)
    }

    /// A future that resolves at once with `result` (a call that could
    /// not be made).
    pub fn ready(result: Result<R, CallError>) -> Self {
        Self {
            slot: None,
            ready: Some(result),
            watch: None,
            holder: None,
            deadline: None,
            _reply: PhantomData,
        }
    }

    /// Ends the wait if `pid` ends first: the future then resolves with
    /// [`CallError::Exited`] and its reason. False if `pid` had already
    /// ended: the future then resolves with [`CallError::NoProc`] (unless
    /// a reply came first).
    ///
    /// # Panics
    /// If it watches a process already, or has completed.
    pub fn watch(&mut self, pid: &Pid) -> bool {
        assert!(
            self.watch.is_none(),
            "ferrotp: a CallFuture watches one process"
        );
        let slot = Arc::clone(
            self.slot
                .as_ref()
                .expect("ferrotp: CallFuture::watch on a completed call"),
        );
        let hook = pid.on_exit(move |reason| {
            slot.fill(Outcome::Exited(reason.clone()));
        });
        let alive = hook.is_registered();
        self.watch = Some(hook);
        alive
    }

    /// What `ended` means for the call, or `None` if it waits on: for the
    /// end of the process that dropped the reply address as it ended.
    fn result_of(&mut self, ended: Ended) -> Option<Result<R, CallError>> {
        let outcome = match ended {
            Ended::TimedOut => return Some(Err(CallError::Timeout)),
            Ended::Outcome(outcome) => outcome,
        };
        Some(match outcome {
            Outcome::Reply(envelope) => Ok(envelope
                .take::<R>()
                .unwrap_or_else(|_| unreachable!("a ReplyTo<R> sends an R"))),
            Outcome::Exited(ExitReason::NoProc) => match &self.holder {
                // The holder had ended by the time it was watched.
                Some(holder) => Err(CallError::Exited(
                    holder.exit_reason().unwrap_or(ExitReason::NoProc),
                )),
                None => Err(CallError::NoProc),
            },
            Outcome::Exited(reason) => Err(CallError::Exited(reason)),
            Outcome::Dropped => Err(CallError::NoReply),
            Outcome::DroppedEnding(holder) => {
                if let Some(reason) = holder.exit_reason() {
                    return Some(Err(CallError::Exited(reason)));
                }
                // Not ended yet: its end (or the timeout) ends the call.
                self.unwatch();
                let _ = self.watch(&holder);
                self.holder = Some(holder);
                return None;
            }
        })
    }
}

impl<R> CallFuture<R> {
    fn unwatch(&mut self) {
        if let Some(hook) = self.watch.take() {
            // False: it ran, or runs now; its fill finds the slot closed
            // or is taken by a poll that will not come.
            let _ = hook.remove();
        }
    }

    /// Ends the call: later fills are refused, the watch and the deadline
    /// go.
    fn finish(&mut self) {
        if let Some(slot) = self.slot.take() {
            drop(slot.close());
        }
        self.unwatch();
        if let Some(armed) = self.deadline.take() {
            deadlines::disarm(armed);
        }
    }
}

impl<R: Send + 'static> Future for CallFuture<R> {
    type Output = Result<R, CallError>;

    /// # Panics
    /// If polled again after it completed.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(result) = this.ready.take() {
            return Poll::Ready(result);
        }
        loop {
            let slot = this
                .slot
                .as_ref()
                .expect("ferrotp: a CallFuture was polled after it completed");
            let Poll::Ready(ended) = slot.poll_ended(cx) else {
                return Poll::Pending;
            };
            if let Some(result) = this.result_of(ended) {
                this.finish();
                return Poll::Ready(result);
            }
        }
    }
}

// The future never pins its fields (the reply is moved out, not polled).
impl<R> Unpin for CallFuture<R> {}

impl<R> Drop for CallFuture<R> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A cancelled call holds nothing of its caller's: the slot is kept
    /// only by the reply address the callee still has.
    #[test]
    fn a_dropped_future_leaves_only_the_reply_address() {
        let (future, reply) = CallFuture::<u8>::new(Duration::from_secs(60));
        let slot = Arc::clone(future.slot.as_ref().unwrap());
        drop(future);
        assert_eq!(Arc::strong_count(&slot), 2, "this test's and the reply's");
        assert!(!reply.send(1), "the call is over");
        assert_eq!(Arc::strong_count(&slot), 1);
    }
}
