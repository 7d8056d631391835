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
    /// Busy-waits cut short because a sibling on this CPU had work waiting.
    pub(crate) spins_cut: Counter,
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
///
/// ```
/// use ferrotp_scheduler::{ExitReason, Runtime, exit_self, receive, self_pid, send, spawn};
/// let rt = Runtime::builder().workers(1).build()?;
/// rt.block_on(|| {
///     let me = self_pid();
///     let bodies: [fn(); 2] = [|| panic!("oops"), || exit_self(ExitReason::custom("done"))];
///     for body in bodies {
///         let me = me.clone();
///         spawn(body).on_exit(move |_| send(&me, ()));
///         receive::<()>(); // on one worker, its exit has been counted too
///     }
/// });
/// let counts = &rt.metrics().workers[0].exits_by_reason;
/// assert_eq!((counts.panic, counts.custom, counts.killed), (1, 1, 0));
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
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

/// A process that held its worker too long ([`Builder::long_schedule`](crate::Builder::long_schedule)),
/// as the [`long_schedule_hook`](crate::Builder::long_schedule_hook) gets it.
///
/// Here a process computes without calling into the runtime (so without
/// giving its worker up) until the watchdog has reported it:
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use ferrotp_scheduler::{LongSchedule, Runtime, self_pid};
/// let (tx, reports) = mpsc::channel::<LongSchedule>();
/// let rt = Runtime::builder()
///     .workers(1)
///     .long_schedule(Some(Duration::from_millis(10)))
///     .long_schedule_hook(move |report| { let _ = tx.send(report); })
///     .build()?;
/// let (me, report) = rt.block_on(move || {
///     // Blocks its worker's thread (what a long schedule is), until the
///     // watchdog reports it; bounded, so a regression fails, not hangs.
///     let report = reports.recv_timeout(Duration::from_secs(60));
///     (self_pid(), report.expect("the watchdog reports the process"))
/// });
/// assert_eq!((report.process, report.worker), (me.id(), 0));
/// assert!(report.duration >= Duration::from_millis(10));
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
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
