//! The two races of a timer, apart from the wheel (module [`timer`](crate::time::timer))
//! so that the loom model `tests/loom_timers.rs` can check them.
//!
//! # A `send_after` timer against `cancel_timer`
//!
//! The message waits in the wheel of the worker that armed it; the worker
//! fires it between processes, and `cancel_timer` may be called from any
//! thread at the same moment. Both compare-and-swap one state word out of
//! `PENDING`: exactly one of them wins. So the message is either delivered
//! (and `cancel_timer` returns false) or not (and it returns true), never
//! both, never neither.
//!
//! # A waiting process's timeout against its newer ones
//!
//! Each timed wait (`receive_timeout`, `sleep`) arms a timer numbered by
//! the process's own sequence. The worker that fires it raises the
//! process's [`TimerFired`] to that number and wakes the process, which
//! looks whether the number is its current wait's. A migratable process may
//! have moved to another worker since it armed an earlier timer, which it
//! could not cancel (only the wheel's own worker can): that stale timer
//! fires later, on the old worker, at the same time as the process's newer
//! one fires on the new worker. `fetch_max` makes sure a stale (smaller)
//! number never hides a newer one that has fired.

use ferrotp_mailbox::sync::{AtomicU8, AtomicU64, Ordering};

const PENDING: u8 = 0;
const FIRED: u8 = 1;
const CANCELLED: u8 = 2;

/// Whether a `send_after` timer has fired or was cancelled (module docs).
pub struct SendTimerState(AtomicU8);

impl Default for SendTimerState {
    fn default() -> Self {
        Self::new()
    }
}

impl SendTimerState {
    /// A pending timer.
    pub fn new() -> Self {
        Self(AtomicU8::new(PENDING))
    }

    /// The worker fires the timer: true if it won (it delivers the
    /// message), false if it was cancelled first.
    pub fn fire(&self) -> bool {
        // AcqRel: the winner's view of the message is the armer's.
        self.0
            .compare_exchange(PENDING, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// `cancel_timer`: true if it won (the message will never be
    /// delivered), false if the timer fired or was cancelled before.
    pub fn cancel(&self) -> bool {
        self.0
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

impl std::fmt::Debug for SendTimerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.0.load(Ordering::Relaxed) {
            PENDING => "pending",
            FIRED => "fired",
            _ => "cancelled",
        };
        f.write_str(state)
    }
}

/// The number of a process's latest timer that fired (module docs).
#[derive(Debug, Default)]
pub struct TimerFired(AtomicU64);

impl TimerFired {
    /// No timer fired yet (timers are numbered from 1).
    pub fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// A worker fires the timer numbered `seq`; it then wakes the process.
    pub fn fire(&self, seq: u64) {
        // Release: pairs with the Acquire in `has_fired` (what the worker
        // did before firing is visible to the process that sees it).
        // `fetch_max`: a stale timer must not hide a newer one.
        self.0.fetch_max(seq, Ordering::Release);
    }

    /// Whether the timer numbered `seq` (the process's current wait's)
    /// has fired.
    pub fn has_fired(&self, seq: u64) -> bool {
        self.0.load(Ordering::Acquire) == seq
    }
}
