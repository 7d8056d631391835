//! Inside a process, wait for a `Future`: [`await_future`] and
//! [`await_future_timeout`].
//!
//! # How
//!
//! The future is pinned on the process's stack and polled with a waker
//! that raises a flag and wakes the process ([`Pcb::wake`]). Between polls
//! the process waits with [`ProcessCtx::wait_for`], its `ready` test being
//! "the flag was raised" (taken down as it is read): the waker raises the
//! flag *before* it wakes, as `wait_for`'s contract asks, and wake-ups are
//! permits, so a wake between a poll and the wait is not lost (the run
//! state protocol, loom-checked in `tests/loom_run_state.rs`, makes what
//! the waker wrote visible to the woken process; `tests/loom_wake_data.rs`
//! models exactly this: a flag stored `Release`, then a wake, racing a
//! process that looks and suspends). No new atomic protocol: the flag is
//! `wait_for`'s `ready` condition, as a reply slot's state is for `call`.
//! Other wake-ups of the
//! process (a message arriving) find the flag down and wait again: the
//! future is polled only when it asked to be.
//!
//! # Invariants
//!
//! * Only the process is suspended between polls, never its worker.
//! * Every wait is a check point: a killed process unwinds out of it, and
//!   the future, on its stack, is dropped by the unwind.
//! * A poll never suspends the process ([`ProcessCtx::polling`]): a spent
//!   slice does not yield inside it, and a blocking call there (receive,
//!   sleep, a `call`, `blocking`) panics, naming the rule. So a
//!   thread-local guard taken for the poll (the tokio context, feature
//!   `tokio`) never outlives it on this thread. A future that panics in
//!   its poll unwinds through this frame like any panic: the process
//!   crashes, unless it catches the panic.

use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::messaging::receive::deadline_after;
use crate::process::Pcb;
use crate::process::context::with_process;

/// Suspends the calling process until `future` completes, and returns
/// its output: `.await` for a process. The future is polled on the
/// process's own thread (it need not be `Send`) each time its waker is
/// woken; between polls only the process waits, and its worker runs
/// others.
///
/// A check point: a process killed while it waits here ends at once, and
/// the future is dropped as its stack unwinds.
///
/// ```
/// use ferrotp_scheduler::{await_future, run};
/// let answer = run(|| {
///     let double = |n: u32| async move { n * 2 };
///     await_future(async { double(20).await + 2 })
/// }).unwrap();
/// assert_eq!(answer, 42);
/// ```
///
/// With the `tokio` feature, each poll runs inside the runtime's tokio
/// context (module docs of `futures`), so tokio's I/O and timers work;
/// write a future whose construction needs that context as an `async`
/// block: `await_future(async { tokio::time::sleep(d).await })`.
///
/// # Panics
/// Outside a process; with the future's own panic; if the future's poll
/// blocks the process (a receive, a sleep, a call inside `poll`): a
/// future must return `Poll::Pending` instead.
pub fn await_future<F: IntoFuture>(future: F) -> F::Output {
    await_until(future.into_future(), None, "await_future")
        .unwrap_or_else(|| unreachable!("no deadline"))
}

/// [`await_future`], waiting at most `timeout`: `None` if the future has
/// not completed by then (it is dropped, here).
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{await_future_timeout, run};
/// let (never, now) = run(|| {
///     (
///         await_future_timeout(std::future::pending::<()>(), Duration::from_millis(5)),
///         await_future_timeout(async { 7 }, Duration::from_millis(5)),
///     )
/// }).unwrap();
/// assert_eq!((never, now), (None, Some(7)));
/// ```
///
/// # Panics
/// As for [`await_future`].
pub fn await_future_timeout<F: IntoFuture>(future: F, timeout: Duration) -> Option<F::Output> {
    await_until(
        future.into_future(),
        deadline_after(timeout),
        "await_future_timeout",
    )
}

/// The waker of one [`await_future`]: raises its flag, then wakes the
/// process (module docs).
struct ProcessWaker {
    pcb: Arc<Pcb>,
    /// Raised by a wake, taken down by the process as it looks.
    woken: AtomicBool,
}

impl Wake for ProcessWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Release: pairs with the Acquire swap of the process's look, so
        // the future's own state written before the wake is seen by the
        // poll it causes (the wake-up's permit orders it too).
        self.woken.store(true, Ordering::Release);
        Pcb::wake(&self.pcb);
    }
}

fn await_until<F: Future>(
    future: F,
    deadline: Option<Instant>,
    function: &str,
) -> Option<F::Output> {
    let mut future = pin!(future);
    with_process(function, |ctx| {
        let signal = Arc::new(ProcessWaker {
            pcb: Arc::clone(ctx.pcb),
            // The first poll needs no wake.
            woken: AtomicBool::new(true),
        });
        let waker = Waker::from(Arc::clone(&signal));
        let mut cx = Context::from_waker(&waker);
        #[cfg(feature = "tokio")]
        let tokio = ctx.pcb.shared().tokio.handle().clone();
        loop {
            let woken = &mut || signal.woken.swap(false, Ordering::Acquire);
            if !ctx.wait_for_dyn(function, deadline, woken) {
                return None;
            }
            let polled = ctx.polling(|| {
                #[cfg(feature = "tokio")]
                let _entered = tokio.enter();
                future.as_mut().poll(&mut cx)
            });
            if let Poll::Ready(output) = polled {
                return Some(output);
            }
        }
    })
}
