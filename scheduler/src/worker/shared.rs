//! What every worker and every control block of a runtime share: the
//! global injector and the workers' stealers, each worker's remote inbox
//! and counters, the idle set, the process-slot budget, the registry, the
//! placement and the settings. Built once by [`Builder::build`](crate::Builder::build),
//! reached through each process's anchor and each worker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;

use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;
use ferrotp_mailbox::Mailbox;

use corosensei::Coroutine;

use crate::io::driver::IoShared;
use crate::process::coroutine::{Finished, Suspend};
use crate::process::entry::Entry;
use crate::process::hibernation::Sleeper;
use crate::process::process_id::ProcessId;
use crate::process::stack::ProcessStack;
use crate::process::stack::StackError;
use crate::process::{DeadLetter, ExitHook, Pcb, Pid};
use crate::runtime::config::{Config, EffectiveSettings};
use crate::runtime::placement::PlacementRule;
use crate::runtime::placement::{StealOrder, WorkerPlace};
use crate::runtime::topology::Topology;
use crate::worker::idle::Idle;
use crate::worker::stats::LongScheduleHook;
use crate::worker::stats::WorkerStats;

pub(crate) type DeadLetterHook = Box<dyn Fn(DeadLetter) + Send + Sync>;

/// What other threads see of a worker.
///
/// `repr(C)`, for the cache lines (the struct is 256 bytes, cache-padded):
/// the first holds what senders read (`inbox`, `io`) beside counters that
/// change only with spawns and exits, as it always did; the worker's
/// counters of every switch and `taken` follow; `presence`, which
/// spinning siblings read at every look, has the last line to itself.
/// Put where the compiler chose, `presence` landed on the line of
/// `stats.running`, written at every switch, or moved `inbox` there, and
/// the cross-worker ping-pong (W2) took 1.55 to 1.65 µs a round trip
/// instead of 1.45.
#[repr(C)]
pub(crate) struct Remote {
    /// Processes handed to this worker by other threads.
    pub(crate) inbox: Arc<Mailbox<Delivery>>,
    /// The worker's poller, which is also its park (module `io::driver`).
    pub(crate) io: Arc<IoShared>,
    pub(crate) stats: WorkerStats,
    /// Deliveries the worker has taken out of `inbox` (a mark comparable
    /// with `inbox.arrived()`); written only by the worker, after each
    /// drain that took any.
    pub(crate) taken: AtomicU64,
    /// Where the worker's thread is, for spinning siblings
    /// (`WorkerLoop::spin`).
    pub(crate) presence: Presence,
}

/// Where a worker's thread is (written only by the worker); a cache line
/// of its own.
#[repr(C, align(64))]
pub(crate) struct Presence {
    /// The CPU the thread was on when it last busy-waited (`NO_CPU`
    /// before that).
    pub(crate) cpu: AtomicUsize,
    /// Whether the thread sleeps in its park (set just before, cleared
    /// just after).
    pub(crate) parked: AtomicBool,
}

// The layout above: `presence` on a line of its own, and the whole in the
// 256 bytes that `CachePadded` gave `Remote` before it had one.
const _: () = assert!(
    std::mem::offset_of!(Remote, presence) % 64 == 0 && std::mem::size_of::<Remote>() <= 256
);

/// `Presence::cpu` of a worker that has not busy-waited yet.
pub(crate) const NO_CPU: usize = usize::MAX;

impl Remote {
    pub(crate) fn new(io: Arc<IoShared>) -> Self {
        Self {
            inbox: Arc::new(Mailbox::new()),
            io,
            stats: WorkerStats::default(),
            taken: AtomicU64::new(0),
            presence: Presence {
                cpu: AtomicUsize::new(NO_CPU),
                parked: AtomicBool::new(false),
            },
        }
    }

    /// Whether deliveries wait in the inbox that the worker has not taken
    /// (a snapshot: a hint, never relied on for a wake-up).
    pub(crate) fn has_untaken(&self) -> bool {
        self.inbox.arrived() > self.taken.load(Ordering::Relaxed)
    }

    /// Wakes the worker if it is parked; if it is not, its next park
    /// returns at once (a permit, as `Thread::unpark` leaves).
    pub(crate) fn unpark(&self) {
        self.io.wake();
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

// ---- What the queues hold ----------------------------------------------
//
// Defined here, beside the queues that hold them (the injector, the
// stealers, the inboxes), so that the shared state needs nothing of the
// run loop.

/// A process about to get a stack: a never-run one, or a hibernated one
/// woken for its next activation (module `hibernation`).
pub(crate) struct Launch {
    pub(in crate::worker) pcb: Arc<Pcb>,
    pub(in crate::worker) start: Start,
}

/// What a launched process runs.
pub(crate) enum Start {
    /// A process's closure, never run.
    Entry(Entry),
    /// A resumable body's next activation (its first, if it has not run).
    Resume(Box<Sleeper>),
}

impl Launch {
    pub(crate) fn new(pcb: Arc<Pcb>, start: Start) -> Self {
        Self { pcb, start }
    }

    pub(crate) fn pcb(&self) -> &Arc<Pcb> {
        &self.pcb
    }

    /// Whether the process has run: a hibernated one, woken. It must end
    /// by running (module `hibernation`), never be dropped unrun.
    pub(crate) fn has_run(&self) -> bool {
        matches!(&self.start, Start::Resume(sleeper) if sleeper.has_run())
    }

    /// Whether it must run on the worker it was pinned to.
    pub(in crate::worker) fn pinned(&self) -> bool {
        matches!(&self.start, Start::Resume(sleeper) if sleeper.pinned)
    }
}

pub(crate) type ProcessCoroutine = Coroutine<u32, Suspend, Finished, ProcessStack>;

/// A process that has run: its coroutine, pinned to one worker.
pub(crate) struct Settled {
    /// Declared (so dropped) before `pcb`: the body borrows the control
    /// block through a [`BorrowedPcb`] that `pcb` keeps valid.
    pub(in crate::worker) coroutine: ProcessCoroutine,
    pub(in crate::worker) pcb: Arc<Pcb>,
    /// Panics in flight in the suspended process (it handed its worker
    /// back in the middle of an unwind): taken off the worker's thread,
    /// put back when it resumes (module `unwind_units`).
    pub(in crate::worker) units: u32,
}

/// The coroutine body's handle to its control block: an `Arc<Pcb>` that
/// owns no count (so starting a process touches no reference count), valid
/// because the `Settled` that runs the body holds a counted one for longer.
pub(crate) struct BorrowedPcb(std::mem::ManuallyDrop<Arc<Pcb>>);

impl BorrowedPcb {
    /// # Safety
    /// `pcb` (or another counted `Arc` of the same block) must outlive the
    /// returned handle.
    pub(in crate::worker) unsafe fn new(pcb: &Arc<Pcb>) -> Self {
        // SAFETY: the pointer comes from a live `Arc`; the `ManuallyDrop`
        // never gives back the count it did not take, and the caller keeps
        // a counted `Arc` alive for as long as this handle.
        Self(std::mem::ManuallyDrop::new(unsafe {
            Arc::from_raw(Arc::as_ptr(pcb))
        }))
    }
}

impl std::ops::Deref for BorrowedPcb {
    type Target = Arc<Pcb>;

    fn deref(&self) -> &Arc<Pcb> {
        &self.0
    }
}

/// A settled process of the `unsafe` migratable kind, on its way to
/// whichever worker takes it.
pub(crate) struct Migrating(pub(in crate::worker) Settled);

// SAFETY: only processes spawned through `SpawnOptions::migratable` are
// wrapped, and that `unsafe` opt-in is the author's promise that the
// process's own code holds no `!Send` value and no thread-local reference
// across a suspension point. The runtime's frames on its stack keep the
// same rule: they read the thread-locals through `#[inline(never)]`
// accessors at each use and hold no `&WorkerCore` across a suspension
// (`try_with_worker` runs no user code; `spawn_with` looks its worker up
// again after the set-up). That is exactly what moving the stack to
// another thread needs. The coroutine's other state (stack bounds, saved
// stack pointer) is plain data.
unsafe impl Send for Migrating {}

/// A unit of stealable work.
pub(crate) enum Task {
    Fresh(Launch),
    Moving(Migrating),
}

impl Task {
    pub(in crate::worker) fn pcb(&self) -> &Arc<Pcb> {
        match self {
            Task::Fresh(launch) => launch.pcb(),
            Task::Moving(Migrating(settled)) => &settled.pcb,
        }
    }
}

/// What other threads hand a worker through its inbox.
pub(crate) enum Delivery {
    /// A settled process of this worker, woken.
    Woken(Arc<Pcb>),
    /// A never-run process pinned to this worker
    /// ([`SpawnOptions::worker`](crate::SpawnOptions::worker)): it is never
    /// stealable, so it does not go through the deques.
    Pinned(Launch),
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
    /// Workers still draining at shutdown: each keeps polling its poller
    /// until this is zero, so that a process of another worker in its
    /// clean-up can still wait on a socket registered here.
    pub(crate) draining: AtomicUsize,
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
    pub(crate) long_message_queue_hook: Option<crate::messaging::long_queue::LongMessageQueueHook>,
    /// The last error a worker met carving a stack (`Runtime::spawn`'s
    /// message names it).
    pub(crate) stack_errors: LastStackError,
    /// Registered names (the table is below; the API is module `registry`).
    pub(crate) registry: Registry,
    pub(crate) long_schedule_hook: Option<LongScheduleHook>,
    /// The long-schedule watchdog's thread, to wake it at shutdown.
    pub(crate) watchdog: OnceLock<Thread>,
    /// The blocking pool (module `blocking`).
    pub(crate) blocking: crate::blocking::pool::BlockingPool,
    /// The tokio context futures are polled in (module `futures::tokio`).
    #[cfg(feature = "tokio")]
    pub(crate) tokio: crate::futures::tokio::TokioContext,
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

    /// Whether a stack error is on record (what [`stack_error`](Self::stack_error)
    /// tests first, without its message).
    #[inline]
    pub(crate) fn stack_error_failed(&self) -> bool {
        self.stack_errors.failed.load(Ordering::Relaxed)
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

// ---- The names -------------------------------------------------------------
//
// The registry's table (module `registry` has the API and the rules): here,
// in the state the runtime's threads share, because it holds pids as the
// run queues hold control blocks.

/// The names of one runtime.
#[derive(Default)]
pub(crate) struct Registry {
    names: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    by_name: HashMap<Arc<str>, Pid>,
    /// Each named process's name, and the exit hook that frees it (taken
    /// out by `unregister`, so that re-registering does not pile hooks up).
    by_pid: HashMap<ProcessId, (Arc<str>, Option<ExitHook>)>,
}

impl Registry {
    fn names(&self) -> MutexGuard<'_, Names> {
        // A panic while holding the lock leaves the maps consistent (each
        // change is one insert or remove pair done without user code).
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Names `pid` `name`, unless the name is taken, the process has a
    /// name, or it has ended. The exit hook that frees the name comes
    /// after ([`keep_hook`](Self::keep_hook)), outside the lock.
    pub(crate) fn insert(&self, name: &Arc<str>, pid: &Pid) -> Result<(), Refused> {
        let mut names = self.names();
        if let Some(by) = names.by_name.get(name) {
            return Err(Refused::Taken(by.clone()));
        }
        if let Some((has, _)) = names.by_pid.get(&pid.id()) {
            return Err(Refused::AlreadyNamed(Arc::clone(has)));
        }
        if pid.has_exited() {
            return Err(Refused::NotAlive);
        }
        names.by_name.insert(Arc::clone(name), pid.clone());
        names.by_pid.insert(pid.id(), (Arc::clone(name), None));
        Ok(())
    }

    /// Keeps `hook`, which frees `name` when process `id` ends, for
    /// `unregister`; gives it back if `name` no longer names `id` (it was
    /// unregistered or freed meanwhile), for the caller to remove outside
    /// the lock.
    pub(crate) fn keep_hook(
        &self,
        id: ProcessId,
        name: &Arc<str>,
        hook: ExitHook,
    ) -> Option<ExitHook> {
        let mut names = self.names();
        match names.by_pid.get_mut(&id) {
            Some((named, slot)) if Arc::ptr_eq(named, name) => {
                *slot = Some(hook);
                None
            }
            _ => Some(hook),
        }
    }

    pub(crate) fn whereis(&self, name: &str) -> Option<Pid> {
        self.names().by_name.get(name).cloned()
    }

    /// Removes `name` if it names `id` (or any process, for `None`);
    /// whether it did. Its exit hook is unregistered after the lock is
    /// released (a hook may be running, and would take the lock).
    pub(crate) fn remove(&self, name: &str, id: Option<ProcessId>) -> bool {
        let hook = {
            let mut names = self.names();
            match names.by_name.get(name) {
                Some(pid) if id.is_none_or(|id| pid.id() == id) => {
                    let pid = names.by_name.remove(name).expect("present");
                    names.by_pid.remove(&pid.id()).and_then(|(_, hook)| hook)
                }
                _ => return false,
            }
        };
        if let Some(hook) = hook {
            hook.remove();
        }
        true
    }

    /// Forgets every name (runtime shutdown: the pids would keep the
    /// runtime's shared state alive).
    pub(crate) fn clear(&self) {
        let mut names = self.names();
        names.by_name.clear();
        names.by_pid.clear();
    }
}

/// Why [`Registry::insert`] refused (module `registry` says it to the
/// caller as a `RegisterError`).
pub(crate) enum Refused {
    /// The name is taken, by this process.
    Taken(Pid),
    /// The process already has this name.
    AlreadyNamed(Arc<str>),
    /// The process has ended.
    NotAlive,
}
