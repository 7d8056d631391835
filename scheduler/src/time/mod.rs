//! Time: [`sleep`], and messages sent later ([`send_after`],
//! [`cancel_timer`]).
//!
//! Every timer sits in the timer wheel of the worker whose process armed
//! it (module `timer`); the worker fires due timers between processes, and
//! a parked worker sleeps no longer than its next deadline.

pub mod timer;
pub mod timer_state;

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::process::Pid;
use crate::process::context::with_process;
use crate::time::timer::TimerKey;
use crate::time::timer_state::SendTimerState;
use crate::worker::core::TimerEvent;
use crate::worker::core::try_with_worker;
use crate::worker::shared::Shared;

/// Suspends the running process for `duration` (at millisecond
/// granularity, never shorter). Messages that arrive meanwhile stay
/// queued.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::{Duration, Instant};
/// let slept = ferrotp_scheduler::run(|| {
///     let start = Instant::now();
///     ferrotp_scheduler::sleep(Duration::from_millis(2));
///     start.elapsed()
/// }).unwrap();
/// assert!(slept >= Duration::from_millis(2));
/// ```
pub fn sleep(duration: Duration) {
    with_process("sleep", |ctx| match Instant::now().checked_add(duration) {
        Some(deadline) => ctx.sleep_until(deadline),
        // Beyond any clock: sleep for good (the process can still be
        // ended from outside, or by shutdown).
        None => loop {
            ctx.wait_checked();
        },
    });
}

/// A message on its way later ([`send_after`]); cancel it with
/// [`cancel_timer`]. Dropping it does not cancel the timer.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{TimerRef, cancel_timer, receive, run, self_pid, send_after};
/// let got = run(|| {
///     let me = self_pid();
///     let timers: Vec<TimerRef> = (1..=3u32)
///         .map(|n| send_after(Duration::from_millis(u64::from(n)), &me, n))
///         .collect();
///     cancel_timer(&timers[1]); // the 2 is never sent
///     drop(timers);             // the others still are
///     let mut got = [receive::<u32>(), receive::<u32>()];
///     got.sort();
///     got
/// }).unwrap();
/// assert_eq!(got, [1, 3]);
/// ```
#[derive(Debug)]
pub struct TimerRef {
    state: Arc<SendTimerState>,
    key: TimerKey,
    worker: usize,
    /// Keeps the runtime's address from being reused while this reference
    /// lives, so comparing it with the current worker's is sound.
    runtime: Weak<Shared>,
}

/// Sends `message` to `to` after `delay` (Erlang's `erlang:send_after`).
///
/// # Panics
/// Outside a process (the timer lives on the caller's worker).
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{cancel_timer, receive, run, self_pid, send_after};
/// let got = run(|| {
///     let me = self_pid();
///     let late = send_after(Duration::from_secs(3600), &me, "never");
///     send_after(Duration::from_millis(1), &me, "soon");
///     (cancel_timer(&late), receive::<&str>())
/// }).unwrap();
/// assert_eq!(got, (true, "soon"));
/// ```
pub fn send_after<M: Send + 'static>(delay: Duration, to: &Pid, message: M) -> TimerRef {
    with_process("send_after", |_| ());
    let deadline = Instant::now()
        .checked_add(delay)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600));
    let state = Arc::new(SendTimerState::new());
    let event = TimerEvent::Send {
        to: Arc::clone(&to.0),
        message: crate::process::Envelope::new(message),
        state: Arc::clone(&state),
    };
    try_with_worker(|core| TimerRef {
        key: core.add_timer(deadline, event),
        worker: core.index,
        runtime: Arc::downgrade(&core.shared),
        state,
    })
    .expect("a process runs on a worker")
}

/// Cancels a [`send_after`] timer. Returns true if it had not fired yet
/// (the message will not be sent), false if it fired or was cancelled
/// before. Callable from any thread.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{cancel_timer, receive, run, self_pid, send_after};
/// let results = run(|| {
///     let me = self_pid();
///     let pending = send_after(Duration::from_secs(3600), &me, "in an hour");
///     let fired = send_after(Duration::from_millis(1), &me, "now");
///     assert_eq!(receive::<&str>(), "now");
///     (cancel_timer(&pending), cancel_timer(&pending), cancel_timer(&fired))
/// }).unwrap();
/// assert_eq!(results, (true, false, false));
/// ```
pub fn cancel_timer(timer: &TimerRef) -> bool {
    if !timer.state.cancel() {
        return false;
    }
    // Free the message now if the timer sits in this thread's wheel;
    // elsewhere it is dropped when its deadline comes. Dropped outside
    // `try_with_worker`: its destructor is user code, which may suspend.
    let event = try_with_worker(|core| {
        if core.index == timer.worker
            && std::ptr::eq(Arc::as_ptr(&core.shared), timer.runtime.as_ptr())
        {
            core.cancel_timer(timer.key)
        } else {
            None
        }
    });
    drop(event);
    true
}
