//! Per-worker counters: written only by their worker (a relaxed load and
//! store, no read-modify-write), read by anyone for [`Metrics`](crate::Metrics);
//! and the report of a long schedule (module `long_schedule` has the
//! watchdog that makes it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::lifecycle::exit_reason::ExitReason;
use crate::process::process_id::ProcessId;

/// Counters of one worker (single writer: its thread).
#[derive(Default)]
pub(crate) struct WorkerStats {
    pub(crate) spawns: Counter,
    pub(crate) exits: Counter,
    /// Exits by reason, in `ExitCounts` order.
    exits_by: [Counter; 7],
    pub(crate) switches: Counter,
    pub(crate) steals: Counter,
    /// Steals from a worker on the same node.
    pub(crate) local_steals: Counter,
    pub(crate) parks: Counter,
    /// Written by the watchdog thread (module `long_schedule`).
    pub(crate) long_schedules: Counter,
    /// Messages this worker's thread sent to ended processes.
    pub(crate) dead_letters: Counter,
    /// The process running on the worker (its number + 1; 0: none), for
    /// the watchdog.
    pub(crate) running: AtomicU64,
}

impl WorkerStats {
    /// A process ended on this worker with `reason`.
    pub(crate) fn count_exit(&self, reason: &ExitReason) {
        self.exits.bump();
        let kind = match reason {
            ExitReason::Normal => 0,
            ExitReason::Shutdown => 1,
            ExitReason::Killed | ExitReason::Kill => 2,
            ExitReason::Panic(_) => 3,
            ExitReason::NoProc => 4,
            ExitReason::StackOverflow => 5,
            ExitReason::Custom(_) => 6,
        };
        self.exits_by[kind].bump();
    }

    pub(crate) fn exit_counts(&self) -> ExitCounts {
        let [
            normal,
            shutdown,
            killed,
            panic,
            noproc,
            stack_overflow,
            custom,
        ] = self.exits_by.each_ref().map(Counter::get);
        ExitCounts {
            normal,
            shutdown,
            killed,
            panic,
            noproc,
            stack_overflow,
            custom,
        }
    }
}

/// Exits of one worker by reason ([`WorkerMetrics::exits_by_reason`](crate::WorkerMetrics::exits_by_reason)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitCounts {
    /// `Normal`.
    pub normal: u64,
    /// `Shutdown`.
    pub shutdown: u64,
    /// `Killed`.
    pub killed: u64,
    /// `Panic(_)`.
    pub panic: u64,
    /// `NoProc`.
    pub noproc: u64,
    /// `StackOverflow`.
    pub stack_overflow: u64,
    /// Reasons of the program's own.
    pub custom: u64,
}

/// A counter written by one thread and read by any.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds one. Only the owning worker writes, so a load and a store do
    /// (no read-modify-write).
    #[inline]
    pub(crate) fn bump(&self) {
        self.0
            .store(self.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A process that held its worker too long ([`Builder::long_schedule`](crate::Builder::long_schedule)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LongSchedule {
    /// The process.
    pub process: ProcessId,
    /// The worker it held.
    pub worker: usize,
    /// How long it had held it when seen (at least the threshold).
    pub duration: Duration,
}

/// Called with each long schedule, on the watchdog thread.
pub type LongScheduleHook = Box<dyn Fn(LongSchedule) + Send + Sync>;
