//! What every worker and every control block of a runtime share: the
//! global injector and the workers' stealers, each worker's remote inbox
//! and counters, the idle set, the process-slot budget, the registry, the
//! placement and the settings. Built once by [`Builder::build`](crate::Builder::build),
//! reached through each process's anchor and each worker.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;

use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use ferrotp_mailbox::Mailbox;

use crate::process::DeadLetter;
use crate::process::stack::StackError;
use crate::runtime::config::{Config, EffectiveSettings};
use crate::runtime::placement::PlacementRule;
use crate::runtime::placement::{StealOrder, WorkerPlace};
use crate::runtime::topology::Topology;
use crate::worker::idle::Idle;
use crate::worker::run_loop::{Delivery, Launch, Task};
use crate::worker::stats::LongScheduleHook;
use crate::worker::stats::WorkerStats;

pub(crate) type DeadLetterHook = Box<dyn Fn(DeadLetter) + Send + Sync>;

/// What other threads see of a worker.
pub(crate) struct Remote {
    /// Processes handed to this worker by other threads.
    pub(crate) inbox: Arc<Mailbox<Delivery>>,
    pub(crate) thread: OnceLock<Thread>,
    pub(crate) stats: WorkerStats,
}

impl Remote {
    pub(crate) fn new() -> Self {
        Self {
            inbox: Arc::new(Mailbox::new()),
            thread: OnceLock::new(),
            stats: WorkerStats::default(),
        }
    }

    pub(crate) fn unpark(&self) {
        // Not yet set: the thread has not started, so it is not parked.
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// Hands a process to this worker from another thread.
    ///
    /// # Errors
    /// The worker has shut down: a woken process is gone already; a pinned
    /// one comes back, never to run (the caller ends it).
    pub(crate) fn deliver(&self, delivery: Delivery) -> Result<(), Launch> {
        match self.inbox.push(delivery) {
            Ok(pushed) => {
                if pushed.must_wake() {
                    self.unpark();
                }
                Ok(())
            }
            Err(closed) => match closed.into_inner() {
                Delivery::Pinned(launch) => Err(launch),
                Delivery::Woken(_) => Ok(()),
            },
        }
    }
}

/// What every worker and every control block of a runtime share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) injector: Injector<Task>,
    pub(crate) stealers: Box<[Stealer<Task>]>,
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    pub(crate) idle: Idle,
    /// Process slots a worker reserves at a time: 64, or fewer when the
    /// limit is small, so that workers cannot hoard a small limit.
    pub(crate) credit_batch: usize,
    pub(crate) shutdown: AtomicBool,
    /// Process slots reserved by workers (see `WorkerCore::take_slot`).
    /// On its own cache line: written by any worker now and then, while
    /// the fields around it are read on every pick.
    pub(crate) slots: SlotBudget,
    pub(crate) external_spawns: AtomicU64,
    /// Processes ended outside any worker (discarded at shutdown).
    pub(crate) external_exits: AtomicU64,
    /// Dead letters sent from threads that are not this runtime's workers.
    pub(crate) dead_letters: CachePadded<AtomicU64>,
    pub(crate) dead_letter_hook: Option<DeadLetterHook>,
    /// The last error a worker met carving a stack (`Runtime::spawn`'s
    /// message names it).
    pub(crate) stack_errors: LastStackError,
    /// Registered names (module `name_table`; the API is module `registry`).
    pub(crate) registry: crate::lifecycle::name_table::Registry,
    pub(crate) long_schedule_hook: Option<LongScheduleHook>,
    /// The long-schedule watchdog's thread, to wake it at shutdown.
    pub(crate) watchdog: OnceLock<Thread>,
    /// Each worker's CPU and node (module `placement`).
    pub(crate) places: Vec<WorkerPlace>,
    /// Whether workers pin themselves to their CPU.
    pub(crate) pinned: bool,
    /// Each worker's victims, nearest first, and the workers of each
    /// node (module `placement`).
    pub(crate) steal_order: StealOrder,
    /// The topology the places come from.
    pub(crate) topology: Topology,
    /// Placement rules by process name (module `placement`).
    pub(crate) rules: Vec<PlacementRule>,
    /// What the runtime was built with.
    pub(crate) effective: EffectiveSettings,
    /// Per node (as in `steal_order.workers_by_node`): spreads processes
    /// pinned to the node over its workers.
    pub(crate) node_turns: Box<[CachePadded<AtomicUsize>]>,
}

/// The process slots workers have reserved from the runtime's limit; only
/// `Shared`'s methods touch it (its fields are private to this module).
#[derive(Default)]
pub(crate) struct SlotBudget(CachePadded<AtomicUsize>);

/// A stack error and whether one is pending; only `Shared`'s methods touch
/// it.
#[derive(Default)]
pub(crate) struct LastStackError {
    failed: AtomicBool,
    message: Mutex<Option<String>>,
}

impl Shared {
    /// After making stealable work visible: wakes one parked worker, if
    /// that is needed (module `idle`).
    pub(crate) fn notify_one(&self) {
        if let Some(worker) = self.idle.worker_to_notify() {
            self.remotes[worker].unpark();
        }
    }

    /// Reserves up to `wanted` process slots; `Err(limit)` if none is
    /// left.
    pub(crate) fn reserve_slots(&self, wanted: usize) -> Result<usize, usize> {
        let limit = self.config.max_processes;
        let mut reserved = self.slots.0.load(Ordering::Relaxed);
        loop {
            if reserved >= limit {
                return Err(limit);
            }
            let granted = wanted.min(limit - reserved);
            // Relaxed: a counter; nothing is published through it.
            match self.slots.0.compare_exchange_weak(
                reserved,
                reserved + granted,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(granted),
                Err(actual) => reserved = actual,
            }
        }
    }

    pub(crate) fn return_slots(&self, count: usize) {
        self.slots.0.fetch_sub(count, Ordering::Relaxed);
    }

    #[cold]
    pub(crate) fn record_stack_error(&self, error: &StackError) {
        *self
            .stack_errors
            .message
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error.to_string());
        self.stack_errors.failed.store(true, Ordering::Relaxed);
    }

    /// A stack was had: spawns are no longer refused for lack of one.
    #[inline]
    pub(crate) fn stack_error_cleared(&self) {
        if self.stack_errors.failed.load(Ordering::Relaxed) {
            self.stack_errors.failed.store(false, Ordering::Relaxed);
        }
    }

    /// Why spawns are being refused, if the last stack could not be had.
    #[inline]
    pub(crate) fn stack_error(&self) -> Option<String> {
        if !self.stack_errors.failed.load(Ordering::Relaxed) {
            return None;
        }
        self.last_stack_error()
    }

    #[cold]
    fn last_stack_error(&self) -> Option<String> {
        self.stack_errors
            .message
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
