//! The runtime: its configuration ([`Builder`]), its worker threads (the
//! state they share is in `worker/shared.rs`), and the [`Runtime`] handle.

pub mod config;
pub mod placement;
pub mod topology;

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_deque::{Injector, Worker};
use crossbeam_utils::CachePadded;

use crate::blocking::pool::BlockingPool;
use crate::blocking::{BLOCKING_KEEP_ALIVE, DEFAULT_BLOCKING_THREADS, MAX_BLOCKING_THREADS};
use crate::io::driver::Driver;
use crate::lifecycle::exit_reason::ExitReason;
use crate::lifecycle::spawn::{SpawnError, SpawnOptions, spawn_on};
use crate::messaging::long_queue::{LongMessageQueue, LongMessageQueueHook, QueueMarks};
use crate::process::stack::MAX_STACK_SIZE;
use crate::process::stack::OnStackOverflow;
use crate::process::stack::{MIN_STACK_SIZE, StackAllocator};
use crate::process::{Anchor, DeadLetter, Pid};
use crate::runtime::config::{Config, EffectiveSettings, MAX_WORKERS};
use crate::runtime::config::{NamePattern, PlaceOn, PlacementRule, Settings};
use crate::runtime::placement::{Binding, WorkerPlace};
use crate::runtime::topology::Topology;
use crate::worker::idle::Idle;
use crate::worker::run_loop::{WorkerLoop, discard_orphan, try_with_worker_serving};
use crate::worker::shared::Task;
use crate::worker::shared::{DeadLetterHook, LastStackError, Remote, Shared, SlotBudget};
use crate::worker::stats::ExitCounts;
use crate::worker::stats::{LongSchedule, LongScheduleHook};

/// Default usable stack bytes of a process.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;
/// Default reductions per time slice (BEAM's is 4000 as well).
pub const DEFAULT_REDUCTIONS: u32 = 4000;
/// Default busy-wait of an idle worker before it parks.
///
/// Long enough to bridge the gaps of a token passed between workers: on the
/// thread-ring benchmark, 20 µs parked a worker a few times per lap (each
/// wake-up costs microseconds on this VM) and took 283 ns a hop, 100 µs
/// took 153 ns and parked almost never. BEAM's `+sbwt` makes the same
/// trade: some CPU spent spinning when a service goes idle, for latency
/// when it is busy.
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_micros(100);

/// The default clean-up timeout ([`Builder::cleanup_timeout`]): as long as
/// OTP gives a worker to shut down.
pub const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The default long-schedule threshold ([`Builder::long_schedule`]).
pub const DEFAULT_LONG_SCHEDULE: Duration = Duration::from_millis(100);
/// Default limit on live processes.
pub const DEFAULT_MAX_PROCESSES: usize = 1 << 22;

/// Why a runtime could not be built: what [`Builder::build`] returns,
/// naming the setting and what is allowed.
///
/// ```
/// use ferrotp_scheduler::{BuildError, Runtime};
/// let error = Runtime::builder().workers(0).build().unwrap_err();
/// assert!(matches!(error, BuildError::Workers(0)));
/// assert_eq!(
///     error.to_string(),
///     "invalid runtime setting `workers` = 0: a runtime has between 1 and 65535 workers",
/// );
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `workers` is outside 1..=65535.
    Workers(usize),
    /// `stack_size` is outside the allowed range.
    StackSize(usize),
    /// `reductions` is 0.
    Reductions,
    /// `max_processes` is 0.
    MaxProcesses,
    /// `long_schedule` is `Some(0)` (`None` turns detection off).
    LongSchedule,
    /// `cleanup_timeout` is 0.
    CleanupTimeout,
    /// `blocking_threads` is outside 1..=4096.
    BlockingThreads(usize),
    /// A worker thread could not be started.
    Thread(std::io::Error),
    /// A worker's poller (its epoll instance and waker) could not be
    /// made: the program is out of file descriptors, say.
    Poller(std::io::Error),
    /// The machine's topology could not be read.
    Topology(crate::runtime::topology::TopologyError),
    /// The environment, or the file it names, holds a bad setting.
    Config(crate::runtime::config::ConfigError),
    /// A placement rule cannot be followed; the message says why.
    Placement(String),
    /// A worker would be pinned to a CPU this process may not use.
    Core {
        /// The CPU.
        cpu: usize,
        /// The CPUs this process may use, as a CPU list.
        allowed: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Workers(n) => write!(
                f,
                "invalid runtime setting `workers` = {n}: a runtime has between 1 and 65535 workers"
            ),
            BuildError::StackSize(n) => write!(
                f,
                "invalid runtime setting `stack_size` = {n} bytes: allowed are {MIN_STACK_SIZE} to \
                 {MAX_STACK_SIZE} bytes"
            ),
            BuildError::Reductions => write!(
                f,
                "invalid runtime setting `reductions` = 0: a time slice needs at least 1 reduction"
            ),
            BuildError::MaxProcesses => write!(
                f,
                "invalid runtime setting `max_processes` = 0: at least 1 process must be allowed"
            ),
            BuildError::LongSchedule => write!(
                f,
                "invalid runtime setting `long_schedule` = 0: give a positive threshold, or None \
                 to turn long-schedule detection off"
            ),
            BuildError::CleanupTimeout => write!(
                f,
                "invalid runtime setting `cleanup_timeout` = 0: give a positive duration (a \
                 process blocked in its clean-up longer than this is abandoned)"
            ),
            BuildError::BlockingThreads(n) => write!(
                f,
                "invalid runtime setting `blocking_threads` = {n}: allowed are 1 to \
                 {MAX_BLOCKING_THREADS} blocking threads"
            ),
            BuildError::Thread(e) => write!(f, "could not start a worker thread: {e}"),
            BuildError::Poller(e) => write!(
                f,
                "could not make a worker's I/O poller (an epoll instance and an eventfd): {e}"
            ),
            BuildError::Topology(e) => write!(f, "could not read the machine's topology: {e}"),
            BuildError::Config(e) => write!(f, "{e}"),
            BuildError::Placement(why) => write!(f, "invalid placement rule: {why}"),
            BuildError::Core { cpu, allowed } => write!(
                f,
                "a worker would be pinned to CPU {cpu}, which this process may not use \
                 (allowed: CPUs {allowed}): the `topology` setting names CPUs outside this \
                 process's affinity mask; give a topology of allowed CPUs, or turn \
                 `pin_workers` off"
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Thread(e) => Some(e),
            _ => None,
        }
    }
}

/// Configures and starts a [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// let rt = ferrotp_scheduler::Runtime::builder()
///     .workers(2)
///     .stack_size(128 * 1024)
///     .reductions(2000)
///     .busy_wait(Duration::from_micros(50))
///     .max_processes(100_000)
///     .build()?;
/// assert_eq!(rt.workers(), 2);
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
#[derive(Default)]
pub struct Builder {
    /// What the code set (wins over the environment and the file).
    code: Settings,
    /// What `Runtime::from_config_file` read.
    file: Option<Settings>,
    /// The environment to read instead of the process's.
    environment: Option<Vec<(String, String)>>,
    dead_letter_hook: Option<DeadLetterHook>,
    long_schedule_hook: Option<LongScheduleHook>,
    long_message_queue_hook: Option<LongMessageQueueHook>,
    #[cfg(feature = "tokio")]
    tokio_handle: Option<tokio::runtime::Handle>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Builder");
        debug
            .field("code", &self.code)
            .field("file", &self.file)
            .field("environment", &self.environment)
            .field("dead_letter_hook", &self.dead_letter_hook.is_some())
            .field("long_schedule_hook", &self.long_schedule_hook.is_some())
            .field(
                "long_message_queue_hook",
                &self.long_message_queue_hook.is_some(),
            );
        #[cfg(feature = "tokio")]
        debug.field("tokio_handle", &self.tokio_handle);
        debug.finish()
    }
}

impl Builder {
    /// Worker threads (default: the CPUs this OS process may run on).
    pub fn workers(mut self, workers: usize) -> Self {
        self.code.workers = Some(workers);
        self
    }

    /// Default usable stack bytes per process (default 64 KiB; rounded up
    /// to whole pages; a guard page is added below).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.code.stack_size = Some(bytes);
        self
    }

    /// Reductions per time slice (default 4000).
    pub fn reductions(mut self, reductions: u32) -> Self {
        self.code.reductions = Some(reductions);
        self
    }

    /// How long an idle worker keeps looking for work before it parks
    /// (default 100 µs, see [`DEFAULT_BUSY_WAIT`]; zero parks at once). Longer costs CPU while idle
    /// and saves the wake-up latency of a parked thread. A worker with
    /// sockets (or other I/O sources) registered with its poller does not
    /// spin: it parks in the poller at once, as an I/O event reaches it
    /// only there. Nor does a worker spin on while another worker that last
    /// ran on its CPU has work waiting (the OS put both on one CPU): it
    /// parks and lets that one run ([`WorkerMetrics::spins_cut`]).
    pub fn busy_wait(mut self, busy_wait: Duration) -> Self {
        self.code.busy_wait = Some(busy_wait);
        self
    }

    /// The most processes alive at once (default 4,194,304). Workers
    /// reserve slots in batches (64, or fewer for small limits), so a
    /// spawn may be refused while up to a batch per worker is unused.
    pub fn max_processes(mut self, max: usize) -> Self {
        self.code.max_processes = Some(max);
        self
    }

    /// Called with every message sent to a process that has ended (on
    /// the sender's thread). Dead letters are counted whether or not a
    /// hook is set ([`Runtime::dead_letters`]).
    pub fn dead_letter_hook(mut self, hook: impl Fn(DeadLetter) + Send + Sync + 'static) -> Self {
        self.dead_letter_hook = Some(Box::new(hook));
        self
    }

    /// The long-schedule threshold (default 100 ms, see
    /// [`DEFAULT_LONG_SCHEDULE`]; `None`: no watchdog): a process seen
    /// holding its worker this long, without a switch, is counted in
    /// [`WorkerMetrics::long_schedules`] and handed to the
    /// [`long_schedule_hook`](Builder::long_schedule_hook). Blocking a
    /// worker (a long computation without reductions, a blocking system
    /// call) stalls every process queued behind it.
    pub fn long_schedule(mut self, threshold: Option<Duration>) -> Self {
        self.code.long_schedule = Some(threshold);
        self
    }

    /// How long a process may block in its clean-up (default 5 s, see
    /// [`DEFAULT_CLEANUP_TIMEOUT`]). A process's clean-up is what runs as
    /// it ends: the destructors that its unwind runs (after a kill, a
    /// panic, or at shutdown) and the destructors of its unread messages.
    /// They may block (receive, call a supervisor, sleep) as code that is
    /// not ending does; a process still in its clean-up this long after it
    /// first blocked or polled there (`yield_now`, a receive or sleep
    /// whose time was up at once) is abandoned, with a report: its
    /// remaining destructors do not run and its stack is quarantined. The
    /// program goes on, and shutdown waits no longer than this for it. A
    /// clean-up that only computes is not bounded (as a body that only
    /// computes is not).
    pub fn cleanup_timeout(mut self, timeout: Duration) -> Self {
        self.code.cleanup_timeout = Some(timeout);
        self
    }

    /// The most threads of the blocking pool, which runs the closures of
    /// [`blocking`](crate::blocking) and
    /// [`spawn_blocking`](crate::spawn_blocking) (default
    /// [`DEFAULT_BLOCKING_THREADS`](crate::DEFAULT_BLOCKING_THREADS), at
    /// most [`MAX_BLOCKING_THREADS`](crate::MAX_BLOCKING_THREADS)).
    /// Threads start when a closure finds none idle and exit after
    /// [`BLOCKING_KEEP_ALIVE`](crate::BLOCKING_KEEP_ALIVE) without work;
    /// closures queue while all of them are busy.
    ///
    /// ```
    /// let rt = ferrotp_scheduler::Runtime::builder().blocking_threads(4).build()?;
    /// assert_eq!(rt.settings().blocking_threads, 4);
    /// let error = ferrotp_scheduler::Runtime::builder().blocking_threads(0).build().unwrap_err();
    /// assert!(error.to_string().contains("`blocking_threads` = 0"));
    /// # Ok::<(), ferrotp_scheduler::BuildError>(())
    /// ```
    pub fn blocking_threads(mut self, threads: usize) -> Self {
        self.code.blocking_threads = Some(threads);
        self
    }

    /// The tokio runtime whose context the futures that processes await
    /// ([`await_future`](crate::await_future)) are polled in (feature
    /// `tokio`; default: a runtime of the ferrotp runtime's own, with one
    /// thread, started by the first `await_future`). Give a multi-thread
    /// runtime's handle: a current-thread runtime drives its sockets and
    /// timers only while a thread runs its `block_on`.
    ///
    /// ```
    /// let tokio = tokio::runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .enable_all()
    ///     .build()
    ///     .unwrap();
    /// let rt = ferrotp_scheduler::Runtime::builder()
    ///     .tokio_handle(tokio.handle().clone())
    ///     .build()?;
    /// let answer = rt.block_on(|| ferrotp_scheduler::await_future(async { 6 * 7 }));
    /// assert_eq!(answer, 42);
    /// # Ok::<(), ferrotp_scheduler::BuildError>(())
    /// ```
    #[cfg(feature = "tokio")]
    pub fn tokio_handle(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio_handle = Some(handle);
        self
    }

    /// Called, on the watchdog thread, with each long schedule.
    pub fn long_schedule_hook(
        mut self,
        hook: impl Fn(LongSchedule) + Send + Sync + 'static,
    ) -> Self {
        self.long_schedule_hook = Some(Box::new(hook));
        self
    }

    /// The long-message-queue marks of every process that does not set
    /// its own ([`SpawnOptions::long_message_queue`](crate::SpawnOptions::long_message_queue));
    /// default `None`: off. A process whose mailbox reaches the high mark
    /// is reported once (a `tracing` warning, and the
    /// [`long_message_queue_hook`](Builder::long_message_queue_hook)), and
    /// again only after it has drained to the low mark (module
    /// `messaging/long_queue.rs` says where the length is looked at).
    ///
    /// ```
    /// use ferrotp_scheduler::{QueueMarks, Runtime};
    /// let rt = Runtime::builder().long_message_queue(Some(QueueMarks::new(1000, 100))).build()?;
    /// assert_eq!(rt.settings().long_message_queue, Some(QueueMarks::new(1000, 100)));
    /// # Ok::<(), ferrotp_scheduler::BuildError>(())
    /// ```
    pub fn long_message_queue(mut self, marks: Option<QueueMarks>) -> Self {
        self.code.long_message_queue = Some(marks);
        self
    }

    /// Called with each change of a process's long-message-queue state
    /// ([`LongMessageQueue`]), in that process, in the middle of its
    /// receive: it may send, and must not receive or block.
    pub fn long_message_queue_hook(
        mut self,
        hook: impl Fn(LongMessageQueue) + Send + Sync + 'static,
    ) -> Self {
        self.long_message_queue_hook = Some(Box::new(hook));
        self
    }

    /// Ends only the overflowing process, instead of the program, when a
    /// process overflows its stack into its guard page (the default,
    /// [`OnStackOverflow::Abort`], reports the process and aborts, as Rust
    /// does for threads). The process ends with
    /// [`ExitReason::StackOverflow`] through corosensei's trap API: its
    /// frames are discarded, **not unwound**, so its destructors do not
    /// run. Its stack is quarantined (never reused nor unmapped: a thread
    /// it lent a local to may still write there), its mailbox is closed
    /// (what was queued is leaked), and its exit hooks run. Where this
    /// cannot be done (the process was already unwinding, the overflow hit
    /// inside the worker's own bookkeeping or on a stack segment of
    /// [`maybe_grow`](crate::maybe_grow), or the platform is not x86-64
    /// Linux) the program aborts as by default.
    ///
    /// Settable in code only, never from a file or the environment: the
    /// safe ways to survive deep recursion are the red zone (a check point
    /// with little stack left panics, so destructors run) and
    /// [`maybe_grow`](crate::maybe_grow).
    ///
    /// # Safety
    /// The discarded frames may have held locks or been half-way through
    /// changing shared state, and nothing will ever release or finish
    /// them. The caller promises that no process of this runtime can
    /// overflow its stack while it holds a lock (its own, the allocator's,
    /// the runtime's) or is inside any call that may take one or that
    /// leaves shared state inconsistent while it runs: any ferrotp
    /// function, memory allocation, I/O, or library code. In practice: the
    /// only code that may overflow is plain computation (deep recursion
    /// over data the process owns) between such calls. An overflow that
    /// breaks this promise leaves the runtime or the allocator deadlocked
    /// or corrupt.
    pub unsafe fn exit_process_on_stack_overflow(mut self) -> Self {
        self.code.on_stack_overflow = Some(OnStackOverflow::ExitProcess);
        self
    }

    /// The machine's NUMA topology (default: [`Topology::detect`]). Give
    /// one to lay workers out on a machine other than this one's shape
    /// (a benchmark's fake two-node machine, say).
    pub fn topology(mut self, topology: Topology) -> Self {
        self.code.topology = Some(topology);
        self
    }

    /// Pins each worker thread to its CPU (default false: the OS places
    /// the threads). See module [`placement`](crate::runtime::placement) for the
    /// map.
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.code.pin_workers = Some(pin);
        self
    }

    /// How workers are laid out over NUMA nodes (default
    /// [`Binding::Spread`]).
    pub fn binding(mut self, binding: Binding) -> Self {
        self.code.binding = Some(binding);
        self
    }

    /// Adds a placement rule: processes spawned with a name that
    /// `pattern` matches are pinned to `on` (module
    /// [`config`](crate::runtime::config)). Rules from code replace those of the
    /// file.
    pub fn placement_rule(mut self, pattern: NamePattern, on: PlaceOn) -> Self {
        self.code
            .rules
            .get_or_insert_with(Vec::new)
            .push(PlacementRule { pattern, on });
        self
    }

    /// Reads `FERROTP_*` settings from `vars` instead of the process's
    /// environment (tests, and programs that embed a runtime and keep
    /// their environment to themselves).
    pub fn environment(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.environment = Some(vars.into_iter().collect());
        self
    }

    /// Checks the settings and starts the worker threads.
    ///
    /// It also wraps the panic hook installed now, so that a panic in a
    /// process short of stack runs the hook with room (module
    /// `stack_depth`). Like `std::panic::set_hook`, that waits while
    /// another thread runs the panic hook; on a thread that is panicking
    /// (a destructor during an unwind, a panic hook) the hook is left as
    /// it is.
    ///
    /// # Errors
    /// [`BuildError`] names the setting that is out of range, or the
    /// thread that could not start.
    pub fn build(self) -> Result<Runtime, BuildError> {
        // Code over the environment over the file (module `config`).
        let vars = self.environment.unwrap_or_else(process_environment);
        let (env, env_file) = Settings::from_env(vars).map_err(BuildError::Config)?;
        let file = match (self.file, env_file) {
            (Some(file), _) => file,
            (None, Some(path)) => Settings::from_file(&path).map_err(BuildError::Config)?,
            (None, None) => Settings::default(),
        };
        let settings = self.code.over(env).over(file);
        let workers = match settings.workers {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        if !(1..=MAX_WORKERS).contains(&workers) {
            return Err(BuildError::Workers(workers));
        }
        let stack_size = settings.stack_size.unwrap_or(DEFAULT_STACK_SIZE);
        if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&stack_size) {
            return Err(BuildError::StackSize(stack_size));
        }
        let reductions = settings.reductions.unwrap_or(DEFAULT_REDUCTIONS);
        if reductions == 0 {
            return Err(BuildError::Reductions);
        }
        let max_processes = settings.max_processes.unwrap_or(DEFAULT_MAX_PROCESSES);
        if max_processes == 0 {
            return Err(BuildError::MaxProcesses);
        }
        let long_schedule = settings
            .long_schedule
            .unwrap_or(Some(DEFAULT_LONG_SCHEDULE));
        if long_schedule == Some(Duration::ZERO) {
            return Err(BuildError::LongSchedule);
        }
        let cleanup_timeout = settings.cleanup_timeout.unwrap_or(DEFAULT_CLEANUP_TIMEOUT);
        if cleanup_timeout.is_zero() {
            return Err(BuildError::CleanupTimeout);
        }
        let long_message_queue = settings.long_message_queue.unwrap_or(None);
        let blocking_threads = settings
            .blocking_threads
            .unwrap_or(DEFAULT_BLOCKING_THREADS);
        if !(1..=MAX_BLOCKING_THREADS).contains(&blocking_threads) {
            return Err(BuildError::BlockingThreads(blocking_threads));
        }
        let busy_wait = settings.busy_wait.unwrap_or(DEFAULT_BUSY_WAIT);
        let on_stack_overflow = settings.on_stack_overflow.unwrap_or_default();
        let pin_workers = settings.pin_workers.unwrap_or(false);
        let binding = settings.binding.unwrap_or_default();
        let topology = match settings.topology {
            Some(topology) => topology,
            None => Topology::detect().map_err(BuildError::Topology)?,
        };
        let places = crate::runtime::placement::assign(&topology, workers, binding);
        let rules = settings.rules.unwrap_or_default();
        crate::runtime::placement::check_rules(&rules, &places, pin_workers)
            .map_err(BuildError::Placement)?;
        if pin_workers {
            let allowed = crate::runtime::topology::allowed_cpus().map_err(|error| {
                BuildError::Topology(crate::runtime::topology::TopologyError::Io {
                    path: "sched_getaffinity".into(),
                    error,
                })
            })?;
            if let Some(place) = places.iter().find(|p| !allowed.contains(&p.cpu)) {
                return Err(BuildError::Core {
                    cpu: place.cpu,
                    allowed: crate::runtime::topology::format_cpulist(&allowed),
                });
            }
        }
        let steal_order = crate::runtime::placement::steal_order(&topology, &places);
        let node_turns = steal_order
            .workers_by_node
            .iter()
            .map(|_| CachePadded::new(AtomicUsize::new(0)))
            .collect();
        let effective = EffectiveSettings {
            workers,
            stack_size,
            reductions,
            busy_wait,
            max_processes,
            long_schedule,
            on_stack_overflow,
            cleanup_timeout,
            long_message_queue,
            blocking_threads,
            pin_workers,
            binding,
            placement_rules: rules.clone(),
        };
        let config = Config {
            workers,
            stack_size,
            reductions,
            busy_wait,
            max_processes,
            on_stack_overflow,
            cleanup_timeout,
            long_message_queue,
        };
        let deques: Vec<Worker<Task>> = (0..workers).map(|_| Worker::new_lifo()).collect();
        let drivers = (0..workers)
            .map(|_| Driver::new())
            .collect::<Result<Vec<_>, _>>()
            .map_err(BuildError::Poller)?;
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: deques.iter().map(Worker::stealer).collect(),
            remotes: drivers
                .iter()
                .map(|driver| CachePadded::new(Remote::new(Arc::clone(driver.shared()))))
                .collect(),
            idle: Idle::new(workers),
            credit_batch: (max_processes / (64 * workers)).clamp(1, 64),
            shutdown: AtomicBool::new(false),
            draining: AtomicUsize::new(workers),
            slots: SlotBudget::default(),
            external_spawns: AtomicU64::new(0),
            external_exits: AtomicU64::new(0),
            dead_letters: CachePadded::new(AtomicU64::new(0)),
            dead_letter_hook: self.dead_letter_hook,
            long_message_queue_hook: self.long_message_queue_hook,
            stack_errors: LastStackError::default(),
            registry: crate::worker::shared::Registry::default(),
            long_schedule_hook: self.long_schedule_hook,
            watchdog: OnceLock::new(),
            blocking: BlockingPool::new(blocking_threads, BLOCKING_KEEP_ALIVE),
            #[cfg(feature = "tokio")]
            tokio: crate::futures::tokio::TokioContext::new(self.tokio_handle),
            config,
            places,
            pinned: pin_workers,
            rules,
            steal_order,
            topology,
            node_turns,
            effective,
        });
        // Held by the runtime and the workers' pools only (not by `Shared`,
        // which pids keep alive): dropping the runtime unmaps every slab but
        // those a quarantined stack keeps (module `stack`).
        let stacks = StackAllocator::new();
        // A process's stack overflow is reported, not a bare SIGSEGV.
        crate::process::overflow::install();
        // Panic hooks run with room, even on a nearly spent process stack.
        crate::process::stack_depth::install_panic_hook();
        let mut runtime = Runtime {
            stacks: Arc::clone(&stacks),
            anchor: Arc::new(Anchor {
                shared: Arc::clone(&shared),
            }),
            shared,
            threads: Vec::with_capacity(workers),
        };
        for (index, (deque, driver)) in deques.into_iter().zip(drivers).enumerate() {
            let shared = Arc::clone(&runtime.shared);
            let stacks = Arc::clone(&stacks);
            let thread = std::thread::Builder::new()
                .name(format!("ferrotp-worker-{index}"))
                .spawn(move || WorkerLoop::new(index, shared, deque, stacks, driver).run());
            let thread = match thread {
                Ok(thread) => thread,
                Err(error) => {
                    // The workers that never started will not drain: the
                    // started ones must not wait for them at shutdown.
                    // `runtime`'s drop then stops the started ones.
                    runtime
                        .shared
                        .draining
                        .fetch_sub(workers - index, Ordering::AcqRel);
                    return Err(BuildError::Thread(error));
                }
            };
            runtime.threads.push(thread);
        }
        if let Some(threshold) = long_schedule {
            let shared = Arc::clone(&runtime.shared);
            let thread = std::thread::Builder::new()
                .name("ferrotp-watchdog".to_owned())
                .spawn(move || crate::worker::long_schedule::watch(&shared, threshold))
                .map_err(BuildError::Thread)?;
            let _ = runtime.shared.watchdog.set(thread.thread().clone());
            runtime.threads.push(thread);
        }
        Ok(runtime)
    }
}

/// A running set of worker threads and the processes they schedule.
///
/// Dropping it shuts it down gracefully: every process still alive ends
/// with [`ExitReason::Shutdown`], its stack unwound so that its destructors
/// run, and every stack and thread is released.
///
/// ```
/// let rt = ferrotp_scheduler::Runtime::builder().workers(2).build()?;
/// let sum = rt.block_on(|| {
///     let me = ferrotp_scheduler::self_pid();
///     for i in 0..10u64 {
///         let me = me.clone();
///         ferrotp_scheduler::spawn(move || ferrotp_scheduler::send(&me, i));
///     }
///     (0..10).map(|_| ferrotp_scheduler::receive::<u64>()).sum::<u64>()
/// });
/// assert_eq!(sum, 45);
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    stacks: Arc<StackAllocator>,
    anchor: Arc<Anchor>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A builder with the settings of the TOML file at `path` (module
    /// [`config`](crate::runtime::config) lists the keys). Settings made on the
    /// builder, and `FERROTP_*` environment variables, override the file's.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("ferrotp-doc-{}.toml", std::process::id()));
    /// std::fs::write(&path, "workers = 2\nbusy_wait = \"50us\"\n")?;
    /// let rt = ferrotp_scheduler::Runtime::from_config_file(&path)?
    ///     .environment([]) // ignore this process's FERROTP_* variables
    ///     .build()?;
    /// assert_eq!(rt.workers(), 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError`](crate::runtime::config::ConfigError): the file cannot be
    /// read, is not valid TOML, has an unknown key or a bad value.
    pub fn from_config_file(
        path: impl AsRef<Path>,
    ) -> Result<Builder, crate::runtime::config::ConfigError> {
        let file = Settings::from_file(path.as_ref())?;
        Ok(Builder {
            file: Some(file),
            ..Builder::default()
        })
    }

    /// A runtime with the default settings.
    ///
    /// # Errors
    /// See [`Builder::build`].
    pub fn new() -> Result<Self, BuildError> {
        Builder::default().build()
    }

    /// Worker threads.
    pub fn workers(&self) -> usize {
        self.shared.config.workers
    }

    /// Each worker's CPU and NUMA node (module
    /// [`placement`](crate::runtime::placement)), by worker index.
    pub fn placement(&self) -> &[WorkerPlace] {
        &self.shared.places
    }

    /// The settings the runtime runs with (code, environment and file
    /// merged).
    pub fn settings(&self) -> &EffectiveSettings {
        &self.shared.effective
    }

    /// The topology the runtime laid its workers out on.
    pub fn topology(&self) -> &Topology {
        &self.shared.topology
    }

    /// Runs `f` as a process (it may receive, spawn, sleep...) and returns
    /// its value once it ends. Other processes keep running after it
    /// returns, until the runtime is dropped.
    ///
    /// # Panics
    /// If `f` panics, the panic resumes here. If called from inside a
    /// process of any runtime (that would block a worker thread).
    pub fn block_on<R, F>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        assert!(
            crate::worker::core::try_with_worker(|_| ()).is_none(),
            "Runtime::block_on was called on a ferrotp worker thread; inside a process, \
             spawn a process and receive its result instead"
        );
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<R, Box<dyn Any + Send>>>(1);
        let entry = move || match catch_unwind(AssertUnwindSafe(f)) {
            Ok(value) => {
                let _ = tx.send(Ok(value));
                ExitReason::Normal
            }
            Err(payload) => {
                // Shutdown, or an exit signal: the process ends with the
                // reason recorded for it, and the caller hears of it below.
                if payload.is::<crate::lifecycle::exit_signal::SignalUnwind>() {
                    resume_unwind(payload);
                }
                let reason = ExitReason::from_panic(&*payload);
                let _ = tx.send(Err(payload));
                reason
            }
        };
        let root = match spawn_on(&self.anchor, &SpawnOptions::new(), entry) {
            Ok(root) => root,
            Err(error) => panic!("Runtime::block_on could not start its process: {error}"),
        };
        match rx.recv() {
            Ok(Ok(value)) => value,
            Ok(Err(payload)) => resume_unwind(payload),
            Err(_) => {
                // Ended without a result (an exit signal, or shutdown):
                // say why, once the reason is published.
                let (reason_tx, reason_rx) = std::sync::mpsc::channel();
                root.on_exit(move |reason| {
                    let _ = reason_tx.send(reason.clone());
                });
                let reason = match reason_rx.recv() {
                    Ok(ExitReason::NoProc) | Err(_) => root.exit_reason(),
                    Ok(reason) => Some(reason),
                };
                let reason = reason.map_or_else(|| "unknown".to_owned(), |r| r.to_string());
                panic!("the process of Runtime::block_on ended without a result: {reason}")
            }
        }
    }

    /// Spawns a process from outside the runtime (any thread).
    ///
    /// # Panics
    /// When [`spawn_opt`](Runtime::spawn_opt) would return an error.
    pub fn spawn<F>(&self, f: F) -> Pid
    where
        F: FnOnce() + Send + 'static,
    {
        self.spawn_opt(SpawnOptions::new(), f)
            .unwrap_or_else(|e| panic!("Runtime::spawn: {e}"))
    }

    /// Spawns a process with options, from outside the runtime.
    ///
    /// # Errors
    /// See [`SpawnError`].
    pub fn spawn_opt<F>(&self, options: SpawnOptions, f: F) -> Result<Pid, SpawnError>
    where
        F: FnOnce() + Send + 'static,
    {
        spawn_on(&self.anchor, &options, move || {
            f();
            ExitReason::Normal
        })
    }

    /// The tokio handle the futures its processes await are polled with
    /// (feature `tokio`; see [`Builder::tokio_handle`]), its runtime
    /// started if it has not been: to spawn tokio tasks that talk to
    /// processes, say.
    ///
    /// # Panics
    /// If the OS will not start the tokio runtime's thread.
    #[cfg(feature = "tokio")]
    pub fn tokio_handle(&self) -> tokio::runtime::Handle {
        self.shared.tokio.handle().clone()
    }

    /// Messages sent to processes that had ended, so far.
    pub fn dead_letters(&self) -> u64 {
        let by_workers: u64 = self
            .shared
            .remotes
            .iter()
            .map(|remote| remote.stats.dead_letters.get())
            .sum();
        self.shared.dead_letters.load(Ordering::Relaxed) + by_workers
    }

    /// The runtime's counters, now.
    pub fn metrics(&self) -> Metrics {
        let workers: Vec<WorkerMetrics> = self
            .shared
            .remotes
            .iter()
            .map(|remote| WorkerMetrics {
                spawns: remote.stats.spawns.get(),
                exits: remote.stats.exits.get(),
                exits_by_reason: remote.stats.exit_counts(),
                switches: remote.stats.switches.get(),
                steals: remote.stats.steals.get(),
                local_steals: remote.stats.local_steals.get(),
                parks: remote.stats.parks.get(),
                spins_cut: remote.stats.spins_cut.get(),
                long_schedules: remote.stats.long_schedules.get(),
                dead_letters: remote.stats.dead_letters.get(),
            })
            .collect();
        let blocking = self.shared.blocking.counts();
        Metrics {
            blocking_threads: blocking.threads,
            blocking_idle: blocking.idle,
            blocking_queued: blocking.queued,
            external_spawns: self.shared.external_spawns.load(Ordering::Relaxed),
            dead_letters: self.dead_letters(),
            external_exits: self.shared.external_exits.load(Ordering::Relaxed),
            stacks_carved: self.stacks.carved(),
            workers,
        }
    }

    /// The process registered as `name` in this runtime, if any (from any
    /// thread; see [`register`](crate::register)).
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.shared.registry.whereis(name)
    }

    /// Shuts down (the same as dropping the runtime; see [`Runtime`]).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if try_with_worker_serving(&self.shared) {
            // Joining our own thread would deadlock: stop the workers and
            // let them end by themselves.
            crate::report::report(
                crate::report::Severity::Warning,
                "runtime",
                None,
                format_args!("a Runtime was dropped inside one of its own processes"),
            );
        }
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Pairs with the parking worker's fence (module `idle`): it sees
        // the flag, or is among the sleepers woken here.
        fence(Ordering::SeqCst);
        let _ = self.shared.idle.wake_all();
        for remote in self.shared.remotes.iter() {
            remote.unpark();
        }
        if let Some(watchdog) = self.shared.watchdog.get() {
            watchdog.unpark();
        }
        let own = std::thread::current().id();
        for thread in self.threads.drain(..) {
            if thread.thread().id() == own {
                continue;
            }
            if thread.join().is_err() {
                crate::report::report(
                    crate::report::Severity::Error,
                    "runtime",
                    None,
                    format_args!("a worker thread panicked"),
                );
            }
        }
        loop {
            match self.shared.injector.steal() {
                crossbeam_deque::Steal::Success(task) => discard_orphan(task),
                crossbeam_deque::Steal::Empty => break,
                crossbeam_deque::Steal::Retry => {}
            }
        }
        // Every process has ended (and freed its name); what is left would
        // keep the shared state alive through its pids.
        self.shared.registry.clear();
        // After the workers: a process's clean-up may still have used the
        // pool. Queued jobs are dropped; running ones finish on their own
        // threads, unjoined (module `blocking`).
        self.shared.blocking.shut_down();
        #[cfg(feature = "tokio")]
        self.shared.tokio.shut_down();
    }
}

/// A snapshot of a runtime's counters ([`Runtime::metrics`]).
///
/// ```
/// use ferrotp_scheduler::{Runtime, receive, self_pid, send, spawn};
/// let rt = Runtime::builder().workers(2).build()?;
/// rt.block_on(|| {
///     let me = self_pid();
///     let child = spawn(|| {});
///     child.on_exit(move |_| send(&me, ()));
///     receive::<()>();
///     send(&child, "to an ended process");
/// });
/// let metrics = rt.metrics();
/// assert_eq!(metrics.external_spawns, 1); // block_on's process
/// assert_eq!(metrics.dead_letters, 1);
/// assert_eq!(metrics.workers.len(), 2);
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Processes spawned from outside the runtime (`block_on`,
    /// `Runtime::spawn`).
    pub external_spawns: u64,
    /// Processes that never ran, ended at shutdown outside any worker.
    pub external_exits: u64,
    /// Messages sent to processes that had ended (all of them: the
    /// workers' counts plus those sent from other threads).
    pub dead_letters: u64,
    /// Process stacks carved from slabs so far (stacks are pooled, so this
    /// is the peak number of processes that had started at once, roughly).
    pub stacks_carved: usize,
    /// Threads of the blocking pool alive now ([`blocking`](crate::blocking)).
    pub blocking_threads: usize,
    /// Of those, the ones waiting for a job.
    pub blocking_idle: usize,
    /// Blocking closures queued for a thread (all of them busy).
    pub blocking_queued: usize,
    /// Per worker.
    pub workers: Vec<WorkerMetrics>,
}

impl Metrics {
    /// Processes alive now (spawned and not yet ended).
    pub fn live_processes(&self) -> u64 {
        let spawned: u64 =
            self.workers.iter().map(|w| w.spawns).sum::<u64>() + self.external_spawns;
        let exited: u64 = self.workers.iter().map(|w| w.exits).sum::<u64>() + self.external_exits;
        spawned.saturating_sub(exited)
    }
}

/// The counters of one worker ([`Metrics::workers`]).
///
/// ```
/// use ferrotp_scheduler::{Runtime, receive, self_pid, send, spawn};
/// let rt = Runtime::builder().workers(2).build()?;
/// rt.block_on(|| {
///     let me = self_pid();
///     for _ in 0..10 {
///         let me = me.clone();
///         spawn(move || send(&me, ()));
///     }
///     for _ in 0..10 { receive::<()>(); }
/// });
/// let workers = rt.metrics().workers;
/// // Counted on the worker of the process that spawned them.
/// assert_eq!(workers.iter().map(|w| w.spawns).sum::<u64>(), 10);
/// assert!(workers.iter().map(|w| w.switches).sum::<u64>() >= 11);
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Processes spawned by processes on this worker.
    pub spawns: u64,
    /// Processes that ended on this worker.
    pub exits: u64,
    /// The same, by exit reason.
    pub exits_by_reason: ExitCounts,
    /// Times a process was resumed.
    pub switches: u64,
    /// Successful steals (each takes up to half the victim's queue).
    pub steals: u64,
    /// Of those, steals from a worker on the same NUMA node (the rest are
    /// remote: `steals - local_steals`).
    pub local_steals: u64,
    /// Times the worker parked.
    pub parks: u64,
    /// Of the worker's busy-waits (see [`Builder::busy_wait`]), those it
    /// cut short, parking at once, because a sibling worker that last ran
    /// on the same CPU had work waiting for that CPU. Many of them say
    /// the OS runs several workers on one CPU (a loaded machine, or more
    /// workers than CPUs).
    pub spins_cut: u64,
    /// Processes seen holding this worker longer than the long-schedule
    /// threshold ([`Builder::long_schedule`]).
    pub long_schedules: u64,
    /// Messages sent from this worker's thread to ended processes.
    pub dead_letters: u64,
}

/// Runs `f` as the root process of a runtime with the default settings,
/// and shuts the runtime down when it returns.
///
/// # Errors
/// If the runtime cannot be built.
///
/// # Panics
/// If `f` panics.
///
/// ```
/// let n = ferrotp_scheduler::run(|| 6 * 7)?;
/// assert_eq!(n, 42);
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
pub fn run<R, F>(f: F) -> Result<R, BuildError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let runtime = Runtime::new()?;
    Ok(runtime.block_on(f))
}

/// This process's `FERROTP_*` variables (others, and any that are not
/// valid Unicode, are not settings).
fn process_environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .map(|(key, value)| {
            // A value that is not valid Unicode reaches the parser with
            // replacement characters, and fails there with its name.
            (
                key.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        })
        .filter(|(key, _)| key.starts_with("FERROTP_"))
        .collect()
}
