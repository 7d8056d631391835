//! Spawning processes: [`spawn`], [`spawn_opt`] and their options.
//!
//! A spawned process owns no stack until it first runs: spawning allocates
//! its control block (with its mailbox) and one box holding its closure,
//! and pushes that onto the spawning worker's stealable deque (or the
//! global injector, from outside the runtime).

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use ferrotp_mailbox::Mailbox;

use crate::lifecycle::exit_reason::ExitReason;
use crate::messaging::long_queue::QueueMarks;
use crate::process::context::try_with_process;
use crate::process::debt::{Debt, Owed};
use crate::process::entry::Entry;
use crate::process::hibernation::{Resumable, Sleeper};
use crate::process::process_id::ProcessId;
use crate::process::stack::MAX_STACK_SIZE;
use crate::process::stack::MIN_STACK_SIZE;
use crate::process::{Anchor, Extras, Pcb, Pid};
use crate::worker::core::WorkerCore;
use crate::worker::core::try_with_worker;
use crate::worker::shared::Shared;
use crate::worker::shared::{Delivery, Launch, Start, Task};

/// Options for [`spawn_opt`].
///
/// ```
/// use ferrotp_scheduler::{SpawnOptions, receive, run, send, spawn_opt};
/// let name = run(|| {
///     let pid = spawn_opt(
///         SpawnOptions::new().name("worker").stack_size(256 * 1024).mailbox_capacity(16),
///         || { let _ = receive::<()>(); },
///     ).unwrap();
///     send(&pid, ());
///     (pid.name().map(str::to_owned), pid.mailbox_capacity())
/// }).unwrap();
/// assert_eq!(name, (Some("worker".to_owned()), Some(16)));
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    stack_size: Option<usize>,
    name: Option<Arc<str>>,
    mailbox_capacity: Option<usize>,
    migratable: bool,
    worker: Option<usize>,
    core: Option<usize>,
    node: Option<usize>,
    register: Option<Arc<str>>,
    trap_exit: bool,
    /// `None`: the runtime's marks; `Some(None)`: off for this process.
    long_message_queue: Option<Option<QueueMarks>>,
    extension: Option<Arc<dyn Any + Send + Sync>>,
}

impl SpawnOptions {
    /// The defaults: the runtime's stack size, no name, an unbounded
    /// mailbox, pinned to the worker it first runs on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing was asked for (what `new` makes).
    #[inline]
    fn is_default(&self) -> bool {
        let Self {
            stack_size,
            name,
            mailbox_capacity,
            migratable,
            worker,
            core,
            node,
            register,
            trap_exit,
            long_message_queue,
            extension,
        } = self;
        stack_size.is_none()
            && name.is_none()
            && mailbox_capacity.is_none()
            && !migratable
            && worker.is_none()
            && core.is_none()
            && node.is_none()
            && register.is_none()
            && !trap_exit
            && long_message_queue.is_none()
            && extension.is_none()
    }

    /// Usable stack bytes (at least 16 KiB; rounded up to pages).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// A name, shown by the pid's `Debug` and in diagnostics.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Bounds the mailbox: [`try_send`](crate::try_send) then reports
    /// `Full` and [`send`](crate::send) suspends the sender until there is
    /// room.
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = Some(capacity);
        self
    }

    /// Pins the process to worker `index` (0-based): it starts there and
    /// is never stolen, even before it first runs. Overrides
    /// [`migratable`](SpawnOptions::migratable).
    pub fn worker(mut self, index: usize) -> Self {
        self.worker = Some(index);
        self
    }

    /// Registers the process under `name` before it can run (as
    /// [`register`](crate::register) would, but with no moment when it runs
    /// unnamed); the spawn fails if the name is taken. Placement rules
    /// (module [`config`](crate::runtime::config)) match this name.
    pub fn register(mut self, name: impl Into<Arc<str>>) -> Self {
        self.register = Some(name.into());
        self
    }

    /// This process's long-message-queue marks, over the runtime's
    /// ([`Builder::long_message_queue`](crate::Builder::long_message_queue));
    /// `None` turns the monitor off for it.
    ///
    /// ```
    /// use ferrotp_scheduler::{QueueMarks, SpawnOptions};
    /// let options = SpawnOptions::new().long_message_queue(Some(QueueMarks::new(500, 50)));
    /// # let _ = options;
    /// ```
    pub fn long_message_queue(mut self, marks: Option<QueueMarks>) -> Self {
        self.long_message_queue = Some(marks);
        self
    }

    /// Attaches `value` to the process, for [`Pid::extension`](crate::Pid::extension)
    /// to return: how a behaviour built on processes says what the
    /// process is, for introspection (the facade's actors put their
    /// behaviour and state name there, and replace a value given here).
    pub fn extension(mut self, value: Arc<dyn Any + Send + Sync>) -> Self {
        self.extension = Some(value);
        self
    }

    /// Starts the process trapping exits (as if its first act were
    /// [`trap_exit(true)`](crate::trap_exit)), so that an exit signal that
    /// comes before it first runs (a linked parent that dies at once)
    /// becomes an [`Exit`](crate::Exit) message, not its end.
    ///
    /// ```
    /// use ferrotp_scheduler::{Exit, ExitReason, SpawnOptions, exit, receive, run, self_pid,
    ///     send, spawn_opt};
    /// let got = run(|| {
    ///     let me = self_pid();
    ///     let child = spawn_opt(SpawnOptions::new().trap_exit(true), move || {
    ///         send(&me, receive::<Exit>().reason);
    ///     }).unwrap();
    ///     exit(&child, ExitReason::custom("stop")); // before the child runs
    ///     receive::<ExitReason>()
    /// }).unwrap();
    /// assert_eq!(got, ExitReason::custom("stop"));
    /// ```
    pub fn trap_exit(mut self, trap: bool) -> Self {
        self.trap_exit = trap;
        self
    }

    /// Pins the process to the worker pinned to CPU `cpu` (over
    /// [`node`](Self::node); [`worker`](Self::worker) wins over both) (the runtime
    /// must pin its workers: [`Builder::pin_workers`](crate::Builder::pin_workers)):
    /// it always runs on that CPU and is never stolen.
    pub fn core(mut self, cpu: usize) -> Self {
        self.core = Some(cpu);
        self
    }

    /// Pins the process to a worker on NUMA node `node` (the spawning
    /// worker if it is on that node, else the node's workers in turn): it
    /// runs there and is never stolen. Nodes are those of the runtime's
    /// [`topology`](crate::Builder::topology).
    pub fn node(mut self, node: usize) -> Self {
        self.node = Some(node);
        self
    }

    /// Lets the process move between worker threads after it has run, so
    /// idle workers can steal it whenever it is runnable.
    ///
    /// # Safety
    /// A suspended process's stack moves to another OS thread. The caller
    /// promises that the process never holds, across any call that may
    /// suspend it (receive, send, spawn, sleep, `reduce`, `yield_now`):
    /// * a value that is not `Send` (`Rc`, `MutexGuard`, a `RefCell`
    ///   borrow of thread-local data...);
    /// * a reference into thread-local storage, including one the compiler
    ///   keeps without being asked: do not use `thread_local!` data from
    ///   this process's code at all, as LLVM may cache a thread-local's
    ///   address across a call (llvm-project issue 98479).
    pub unsafe fn migratable(mut self) -> Self {
        self.migratable = true;
        self
    }
}

/// Why a process could not be spawned: what [`spawn_opt`] and the other
/// spawns with options return (the plain [`spawn`] panics with it).
///
/// ```
/// use ferrotp_scheduler::{SpawnError, SpawnOptions, run, spawn_opt};
/// let errors = run(|| {
///     let bad = |options: SpawnOptions| spawn_opt(options, || {}).unwrap_err();
///     [
///         bad(SpawnOptions::new().mailbox_capacity(0)),
///         bad(SpawnOptions::new().stack_size(1)),
///         bad(SpawnOptions::new().worker(99)),
///     ]
/// }).unwrap();
/// assert_eq!(errors[0], SpawnError::MailboxCapacity);
/// assert_eq!(errors[1], SpawnError::StackSize { requested: 1 });
/// assert!(matches!(errors[2], SpawnError::NoSuchWorker { worker: 99, .. }));
/// // The message says what is allowed.
/// assert!(errors[1].to_string().contains("allowed are"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The runtime's `max_processes` are alive.
    TooManyProcesses {
        /// The limit.
        limit: usize,
    },
    /// The requested stack size is out of range.
    StackSize {
        /// What was asked for.
        requested: usize,
    },
    /// A mailbox capacity of 0 was asked for.
    MailboxCapacity,
    /// The name to register it under is taken, or empty.
    Register(crate::RegisterError),
    /// The process was pinned to a CPU no worker is pinned to.
    NoWorkerOnCore {
        /// The CPU asked for.
        cpu: usize,
        /// The CPUs workers are pinned to (empty: workers are not pinned).
        pinned: Vec<usize>,
    },
    /// The process was pinned to a NUMA node without workers.
    NoWorkerOnNode {
        /// The node asked for.
        node: usize,
        /// The nodes that have workers.
        nodes: Vec<usize>,
    },
    /// The process was pinned to a worker the runtime does not have.
    NoSuchWorker {
        /// The worker asked for.
        worker: usize,
        /// The runtime's worker count.
        workers: usize,
    },
    /// The last process that started could not get a stack (and no stack
    /// has been freed since): the message says why and what to change.
    NoStack(String),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::TooManyProcesses { limit } => write!(
                f,
                "system_limit: {limit} processes are alive, the runtime's max_processes; raise \
                 it with Builder::max_processes"
            ),
            SpawnError::StackSize { requested } => write!(
                f,
                "a process stack of {requested} bytes was asked for; allowed are {MIN_STACK_SIZE} \
                 to {MAX_STACK_SIZE} bytes"
            ),
            SpawnError::MailboxCapacity => {
                write!(f, "a bounded mailbox needs a capacity of at least 1")
            }
            SpawnError::NoSuchWorker { worker, workers } => write!(
                f,
                "a process was pinned to worker {worker}; this runtime has workers 0 to {}",
                workers - 1
            ),
            SpawnError::NoStack(why) => write!(f, "system_limit: {why}"),
            SpawnError::Register(e) => write!(f, "spawn with a registered name: {e}"),
            SpawnError::NoWorkerOnCore { cpu, pinned } if pinned.is_empty() => write!(
                f,
                "a process was pinned to CPU {cpu}, but this runtime's workers are not pinned; \
                 build it with pin_workers(true)"
            ),
            SpawnError::NoWorkerOnCore { cpu, pinned } => write!(
                f,
                "a process was pinned to CPU {cpu}; this runtime's workers are pinned to CPUs \
                 {}",
                crate::runtime::topology::format_cpulist(pinned)
            ),
            SpawnError::NoWorkerOnNode { node, nodes } => write!(
                f,
                "a process was pinned to NUMA node {node}; this runtime has workers on nodes {nodes:?}"
            ),
        }
    }
}

impl std::error::Error for SpawnError {}

/// Spawns a process running `f` and returns its pid.
///
/// Call it from a process (or anything running on a worker thread); from
/// outside, use [`Runtime::spawn`](crate::Runtime::spawn).
///
/// A process is cheap: until it first runs it is a control block and a
/// boxed closure, and it gets a stack only then. Here ten thousand add up
/// a sum:
///
/// ```
/// use ferrotp_scheduler::{receive, run, self_pid, send, spawn};
/// let sum = run(|| {
///     let me = self_pid();
///     for i in 0..10_000u64 {
///         let me = me.clone();
///         spawn(move || send(&me, i));
///     }
///     (0..10_000).map(|_| receive::<u64>()).sum::<u64>()
/// }).unwrap();
/// assert_eq!(sum, 10_000 * 9_999 / 2);
/// ```
///
/// # Panics
/// Outside a runtime's worker thread, or when [`spawn_opt`] would return
/// an error (as Erlang's `spawn` raises `system_limit`).
pub fn spawn<F>(f: F) -> Pid
where
    F: FnOnce() + Send + 'static,
{
    let entry = Entry::new(move || {
        f();
        ExitReason::Normal
    });
    // The usual case in one look at the worker; anything else (outside a
    // worker, shutdown, placement rules, a stack error, the process limit)
    // takes the general path, which reports it.
    let pid = match try_with_worker(|core| spawn_plain(core, entry)) {
        Some(Ok(pid)) => pid,
        Some(Err(entry)) => spawn_start(SpawnOptions::new(), None::<fn(&Pid)>, move |_| {
            Start::Entry(entry)
        })
        .unwrap_or_else(|e| panic!("ferrotp::spawn: {e}")),
        None => outside("spawn"),
    };
    // A reduction, as BEAM charges for spawn.
    let _ = try_with_process(|ctx| ctx.reduce(1));
    pid
}

/// [`spawn`] with default options on this worker, in one go: what
/// `Reserved::new`, `ready` and `launch` do for it, with their questions
/// answered by the defaults. Runs no user code (the closure moves, it is
/// not dropped: it comes back when the general path must decide).
#[inline]
fn spawn_plain(core: &WorkerCore, entry: Entry) -> Result<Pid, Entry> {
    let Some(pcb) = plain_pcb(core) else {
        return Err(entry);
    };
    let pid = Pid(Arc::clone(&pcb));
    // Counted before the process is visible (see `Ready::launch`).
    core.stats().spawns.bump();
    core.push_task(Task::Fresh(Launch::new(pcb, Start::Entry(entry))));
    Ok(pid)
}

/// The control block of a process spawned with default options on this
/// worker, its slot taken: a spare one (`WorkerCore::spare_pcbs`) or a
/// new one. `None` when the general path must decide (shutdown,
/// placement rules, a recorded stack error, the process limit).
#[inline]
fn plain_pcb(core: &WorkerCore) -> Option<Arc<Pcb>> {
    let shared = &*core.shared;
    if !shared.rules.is_empty()
        || shared.shutdown.load(std::sync::atomic::Ordering::Relaxed)
        || shared.stack_error_failed()
        || core.take_slot().is_err()
    {
        return None;
    }
    let id = core.next_id();
    let spare = core.spare_pcbs.borrow_mut().pop();
    Some(match spare {
        Some(mut pcb) => {
            // Blanked by the worker as its process ended, held by nothing
            // else since: `get_mut` only confirms it.
            let blank = Arc::get_mut(&mut pcb).expect("a spare control block is unshared");
            blank.reuse(
                id,
                shared.config.long_message_queue,
                shared.config.stack_size,
            );
            pcb
        }
        None => Arc::new(Pcb::new(
            id,
            Arc::clone(&core.anchor),
            None,
            shared.config.long_message_queue,
            Mailbox::new(),
            shared.config.stack_size,
            false,
        )),
    })
}

/// Spawns a process with options.
///
/// ```
/// use ferrotp_scheduler::{SpawnError, SpawnOptions, receive, run, spawn_opt, whereis};
/// let (found, error) = run(|| {
///     let options = SpawnOptions::new().register("logger").mailbox_capacity(100);
///     let logger = spawn_opt(options, || { receive::<()>(); }).unwrap();
///     // The name is taken: a second spawn under it fails, and does not run.
///     let again = spawn_opt(SpawnOptions::new().register("logger"), || unreachable!());
///     (whereis("logger") == Some(logger), again.unwrap_err())
/// }).unwrap();
/// assert!(found);
/// assert!(matches!(error, SpawnError::Register(_)));
/// ```
///
/// # Errors
/// See [`SpawnError`].
///
/// # Panics
/// Outside a runtime's worker thread.
pub fn spawn_opt<F>(options: SpawnOptions, f: F) -> Result<Pid, SpawnError>
where
    F: FnOnce() + Send + 'static,
{
    spawn_maybe_with(options, None::<fn(&Pid)>, f)
}

/// Spawns like [`spawn_opt`], and runs `setup` with the new pid before the
/// process can run: what `spawn_link` and `spawn_monitor` (crate
/// `ferrotp-supervision`) need to be atomic. `setup` should be short: it
/// runs in the spawning process. While the runtime shuts down, `setup`
/// runs before the new process ends with `Shutdown`. If `setup` panics,
/// the new process ends unrun with the panic as its reason, and the panic
/// goes on in the caller.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, SpawnOptions, receive, run, self_pid, send, spawn_with};
/// let reason = run(|| {
///     let me = self_pid();
///     spawn_with(SpawnOptions::new(), |child| {
///         // Registered before the child runs, so it cannot be missed.
///         child.on_exit(move |reason| send(&me, reason.clone()));
///     }, || panic!("at once")).unwrap();
///     receive::<ExitReason>()
/// }).unwrap();
/// assert_eq!(reason, ExitReason::Panic("at once".into()));
/// ```
///
/// # Errors
/// See [`SpawnError`]; `setup` does not run then.
///
/// # Panics
/// Outside a runtime's worker thread.
pub fn spawn_with<S, F>(options: SpawnOptions, setup: S, f: F) -> Result<Pid, SpawnError>
where
    S: FnOnce(&Pid),
    F: FnOnce() + Send + 'static,
{
    spawn_maybe_with(options, Some(setup), f)
}

/// `spawn_opt` (no set-up: no `catch_unwind` on the spawn path) and
/// `spawn_with`.
///
/// No worker reference is held while user code runs: `setup` may suspend
/// the spawner (a receive, a blocking send), after which a migratable
/// spawner may resume on another worker, and dropping the closure (when
/// the spawn fails) runs the destructors of what it captured, which may
/// block too. So the worker is looked up once to reserve the process, and
/// again to queue it; user code runs between the two.
#[inline]
fn spawn_maybe_with<S, F>(options: SpawnOptions, setup: Option<S>, f: F) -> Result<Pid, SpawnError>
where
    S: FnOnce(&Pid),
    F: FnOnce() + Send + 'static,
{
    let entry = move || {
        f();
        ExitReason::Normal
    };
    spawn_start(options, setup, |_| Start::Entry(Entry::new(entry)))
}

/// Spawns a process whose body gives its stack back while it waits for a
/// message: between two messages it owns no stack (only `body` and its
/// mailbox), and any worker may run its next activation (module
/// `hibernation`; Erlang's `erlang:hibernate/3`, for every wait). While
/// [`Resumable::resume`] runs, the process is like any other: it may block
/// inside (a `call`, a sleep), keeping its stack and its worker, so a
/// `!Send` value it holds across that wait never changes thread.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ferrotp_scheduler::{
///     Activation, ExitReason, Pid, Resumable, SpawnOptions, receive, run, self_pid, send,
///     spawn_resumable, try_receive_any,
/// };
/// /// Adds what it is sent, and tells the total when it hears nothing for 10 ms.
/// struct Sum { total: u64, to: Pid }
/// impl Resumable for Sum {
///     fn resume(&mut self, timed_out: bool) -> Activation {
///         while let Some(message) = try_receive_any() {
///             self.total += message.take::<u64>().unwrap_or(0);
///         }
///         if timed_out {
///             send(&self.to, self.total);
///             return Activation::Exit(ExitReason::Normal);
///         }
///         Activation::Hibernate { until: Some(Instant::now() + Duration::from_millis(10)) }
///     }
/// }
/// let total = run(|| {
///     let sum = spawn_resumable(SpawnOptions::new(), Sum { total: 0, to: self_pid() }).unwrap();
///     for n in 1..=4u64 { send(&sum, n); }
///     receive::<u64>()
/// }).unwrap();
/// assert_eq!(total, 10);
/// ```
///
/// # Errors
/// As for [`spawn_opt`].
///
/// # Panics
/// Outside a runtime's worker thread.
pub fn spawn_resumable<B: Resumable>(options: SpawnOptions, body: B) -> Result<Pid, SpawnError> {
    spawn_start(options, None::<fn(&Pid)>, |pinned| {
        Start::Resume(Sleeper::new(body, pinned))
    })
}

/// [`spawn_resumable`] with a `setup`, as [`spawn_with`] has (to link or
/// monitor the new process before it can run).
///
/// # Errors
/// As for [`spawn_opt`].
///
/// # Panics
/// Outside a runtime's worker thread.
pub fn spawn_resumable_with<S, B>(
    options: SpawnOptions,
    setup: S,
    body: B,
) -> Result<Pid, SpawnError>
where
    S: FnOnce(&Pid),
    B: Resumable,
{
    spawn_start(options, Some(setup), |pinned| {
        Start::Resume(Sleeper::new(body, pinned))
    })
}

/// The spawns, once what the process runs is known: `start` makes it,
/// told whether the process is pinned to a worker.
#[inline]
fn spawn_start<S>(
    options: SpawnOptions,
    setup: Option<S>,
    start: impl FnOnce(bool) -> Start,
) -> Result<Pid, SpawnError>
where
    S: FnOnce(&Pid),
{
    let reserved = try_with_worker(|core| {
        // Default options (a plain spawn_link's, spawn_monitor's): no
        // option to look at.
        match options.is_default().then(|| plain_pcb(core)).flatten() {
            Some(pcb) => Ok(Reserved {
                pcb,
                pinned_to: None,
                shutting_down: false,
            }),
            None => Reserved::new(&core.anchor, Some(core), &options),
        }
    })
    .unwrap_or_else(|| outside("spawn"))?;
    let start = start(reserved.pinned_to.is_some());
    let ready = reserved.ready(&options, start)?;
    let ready = match setup {
        Some(setup) => ready.run_setup(setup),
        None => ready,
    };
    let pid = ready.launch(true);
    // A reduction, as BEAM charges for spawn.
    let _ = try_with_process(|ctx| ctx.reduce(1));
    Ok(pid)
}

#[cold]
fn outside(function: &str) -> ! {
    panic!(
        "ferrotp::{function} was called outside a ferrotp process; from other threads use \
         Runtime::{function}"
    )
}

/// The worker a pinned process goes to: by index, by CPU or by node (in
/// that order of precedence); `None` for an unpinned process.
#[inline]
fn pinned_worker(
    shared: &Shared,
    core: Option<&WorkerCore>,
    options: &SpawnOptions,
) -> Result<Option<usize>, SpawnError> {
    // The usual spawn: no pinning asked for, no rules to look at.
    if options.worker.is_none()
        && options.core.is_none()
        && options.node.is_none()
        && shared.rules.is_empty()
    {
        return Ok(None);
    }
    pinned_worker_asked(shared, core, options)
}

#[inline(never)]
fn pinned_worker_asked(
    shared: &Shared,
    core: Option<&WorkerCore>,
    options: &SpawnOptions,
) -> Result<Option<usize>, SpawnError> {
    if let Some(worker) = options.worker {
        if worker >= shared.config.workers {
            return Err(SpawnError::NoSuchWorker {
                worker,
                workers: shared.config.workers,
            });
        }
        return Ok(Some(worker));
    }
    let rule = if options.core.is_none() && options.node.is_none() && !shared.rules.is_empty() {
        // Either name counts: the registered one first.
        [options.register.as_deref(), options.name.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|name| shared.rules.iter().find(|r| r.pattern.matches(name)))
            .map(|rule| rule.on)
    } else {
        None
    };
    let (core_asked, node_asked) = match rule {
        Some(crate::runtime::config::PlaceOn::Core(cpu)) => (Some(cpu), None),
        Some(crate::runtime::config::PlaceOn::Node(node)) => (None, Some(node)),
        None => (options.core, options.node),
    };
    if let Some(cpu) = core_asked {
        let found = shared
            .pinned
            .then(|| shared.places.iter().position(|p| p.cpu == cpu))
            .flatten();
        return match found {
            Some(worker) => Ok(Some(worker)),
            None => {
                let mut pinned: Vec<usize> = if shared.pinned {
                    shared.places.iter().map(|p| p.cpu).collect()
                } else {
                    Vec::new()
                };
                pinned.sort_unstable();
                pinned.dedup();
                Err(SpawnError::NoWorkerOnCore { cpu, pinned })
            }
        };
    }
    if let Some(node) = node_asked {
        if let Some(here) = core
            && shared.places[here.index].node == node
        {
            return Ok(Some(here.index));
        }
        let order = &shared.steal_order;
        let Some(at) = order.workers_by_node.iter().position(|(id, _)| *id == node) else {
            let mut nodes: Vec<usize> = order.workers_by_node.iter().map(|(id, _)| *id).collect();
            nodes.sort_unstable();
            return Err(SpawnError::NoWorkerOnNode { node, nodes });
        };
        let workers = &order.workers_by_node[at].1;
        let turn = shared.node_turns[at].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(Some(workers[turn % workers.len()]));
    }
    Ok(None)
}

fn check(
    shared: &Shared,
    options: &SpawnOptions,
) -> Result<(Mailbox<crate::process::Envelope>, usize), SpawnError> {
    let stack_size = options.stack_size.unwrap_or(shared.config.stack_size);
    if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&stack_size) {
        return Err(SpawnError::StackSize {
            requested: stack_size,
        });
    }
    if let Some(why) = shared.stack_error() {
        return Err(SpawnError::NoStack(why));
    }
    let mailbox = match options.mailbox_capacity {
        None => Mailbox::new(),
        Some(0) => return Err(SpawnError::MailboxCapacity),
        Some(capacity) => Mailbox::bounded(capacity),
    };
    Ok((mailbox, stack_size))
}

/// Spawns a process from outside the runtime's workers: through the
/// global injector, or onto its own worker's inbox if pinned.
///
/// While the runtime shuts down the new process ends at once with
/// `Shutdown`, like every other process, its closure dropped unrun: an
/// error would turn the cleanup code of a process being unwound into a
/// panic during a panic, which aborts.
pub(crate) fn spawn_on<F>(
    anchor: &Arc<Anchor>,
    options: &SpawnOptions,
    entry: F,
) -> Result<Pid, SpawnError>
where
    F: FnOnce() -> ExitReason + Send + 'static,
{
    let ready =
        Reserved::new(anchor, None, options)?.ready(options, Start::Entry(Entry::new(entry)))?;
    Ok(ready.launch(false))
}

/// A new process's control block, counted against the limit; made with
/// the spawning worker at hand, and holding no user code yet.
struct Reserved {
    pcb: Arc<Pcb>,
    pinned_to: Option<usize>,
    /// The runtime was shutting down: no slot was taken, and the process
    /// ends at once.
    shutting_down: bool,
}

impl Reserved {
    fn new(
        anchor: &Arc<Anchor>,
        core: Option<&WorkerCore>,
        options: &SpawnOptions,
    ) -> Result<Self, SpawnError> {
        let shared = &anchor.shared;
        let (mailbox, stack_size) = check(shared, options)?;
        let pinned_to = pinned_worker(shared, core, options)?;
        let shutting_down = shared.shutdown.load(std::sync::atomic::Ordering::Relaxed);
        if !shutting_down {
            match core {
                Some(core) => core.take_slot(),
                None => shared.reserve_slots(1).map(drop),
            }
            .map_err(|limit| SpawnError::TooManyProcesses { limit })?;
        }
        let id = match core {
            Some(core) => core.next_id(),
            None => ProcessId::next_local(),
        };
        // A registered name names the process in reports too.
        let name = options.name.clone().or_else(|| options.register.clone());
        let extras = (name.is_some() || options.extension.is_some()).then(|| {
            Box::new(Extras {
                name,
                extension: options.extension.clone(),
            })
        });
        let pcb = Arc::new(Pcb::new(
            id,
            Arc::clone(anchor),
            extras,
            options
                .long_message_queue
                .unwrap_or(shared.config.long_message_queue),
            mailbox,
            stack_size,
            options.migratable && pinned_to.is_none(),
        ));
        // Before the process is visible: it traps from its first signal.
        pcb.trap_exit
            .store(options.trap_exit, std::sync::atomic::Ordering::Relaxed);
        Ok(Self {
            pcb,
            pinned_to,
            shutting_down,
        })
    }

    /// Gives the process its closure, and its registered name if asked
    /// (not while shutting down: the process ends at once anyway, and an
    /// error could turn cleanup code into a panic during a panic).
    fn ready(self, options: &SpawnOptions, start: Start) -> Result<Ready, SpawnError> {
        let ready = Ready {
            launch: Launch::new(Arc::clone(&self.pcb), start),
            pid: Pid(self.pcb),
            pinned_to: self.pinned_to,
            shutting_down: self.shutting_down,
            debt: None,
        };
        if let Some(name) = &options.register
            && !ready.shutting_down
            && let Err(e) = crate::lifecycle::registry::register(name, &ready.pid)
        {
            ready.end_unrun(ExitReason::NoProc);
            return Err(SpawnError::Register(e));
        }
        Ok(ready)
    }
}

/// A process ready to be queued: between the two, a spawner runs its
/// set-up.
struct Ready {
    launch: Launch,
    pid: Pid,
    pinned_to: Option<usize>,
    shutting_down: bool,
    /// While the set-up runs: the running process owes the child's end,
    /// should it be abandoned inside the set-up (module `debt`).
    debt: Option<Arc<Debt>>,
}

impl Ready {
    /// Runs the spawner's set-up with the new pid. If it panics, or the
    /// spawner is ended inside it (an exit signal unwinds it), the new
    /// process ends unrun, its slot goes back, and the unwind goes on: a
    /// panic ends it with the panic's reason, an ended spawner with
    /// `Killed` (not a clean stop: a supervisor must not take it for one),
    /// or `Shutdown` if the runtime is shutting down. If the spawner is
    /// abandoned inside it, the worker ends the child (module `debt`).
    fn run_setup<S: FnOnce(&Pid)>(mut self, setup: S) -> Self {
        self.debt = owe_child(&self.pid, !self.shutting_down);
        let result = catch_unwind(AssertUnwindSafe(|| setup(&self.pid)));
        match result {
            Ok(()) => self,
            Err(payload) => {
                let reason = if !crate::lifecycle::exit_signal::is_exit_unwind(payload.as_ref()) {
                    ExitReason::from_panic(payload.as_ref())
                } else if self
                    .pid
                    .0
                    .shared()
                    .shutdown
                    .load(std::sync::atomic::Ordering::Relaxed)
                {
                    ExitReason::Shutdown
                } else {
                    ExitReason::Killed
                };
                self.end_unrun(reason);
                resume_unwind(payload)
            }
        }
    }

    /// Queues the process: on the worker the caller runs on now (if
    /// `on_worker`), else through the injector; on its own worker's inbox
    /// if pinned. Ends it at once if the runtime is shutting down.
    fn launch(self, on_worker: bool) -> Pid {
        let Ready {
            launch,
            pid,
            pinned_to,
            shutting_down,
            debt,
        } = self;
        let shared = pid.0.shared();
        let took_slot = !shutting_down;
        if shutting_down || shared.shutdown.load(std::sync::atomic::Ordering::Relaxed) {
            // If shutdown began during the set-up, a slot was taken.
            end_unrun(launch, &pid, ExitReason::Shutdown, took_slot, debt);
            return pid;
        }
        // Queued from here on: the spawner owes nothing more. A debt that
        // was paid already (its set-up ran on a coroutine of the user's,
        // resumed after the process that listed the debt was abandoned)
        // ended the child: it must not run.
        if let Some(debt) = debt {
            if debt.settle().is_none() {
                drop_paid_child(launch);
                return pid;
            }
            keep_spent_debt(debt);
        }
        // The spawn is counted before the process becomes visible, so that
        // the process, and whoever it tells, find it counted
        // (`Metrics::live_processes`): the queue's hand-off orders the
        // count before the process's first run.
        let count_here = |core: &crate::worker::core::WorkerCore| core.stats().spawns.bump();
        let count_elsewhere = || {
            shared
                .external_spawns
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        };
        if let Some(worker) = pinned_to {
            if !(on_worker && try_with_worker(count_here).is_some()) {
                count_elsewhere();
            }
            // Not inside `try_with_worker`: a closed inbox (its worker has
            // shut down) gives the process back, whose closure runs user
            // destructors as it drops. (Its spawn stays counted: the
            // runtime is being dropped, and nobody reads its counts.)
            if let Err(launch) = shared.remotes[worker].deliver(Delivery::Pinned(launch)) {
                end_unrun(launch, &pid, ExitReason::Shutdown, took_slot, None);
            }
            return pid;
        }
        let mut task = Some(Task::Fresh(launch));
        let queued_here = on_worker
            && try_with_worker(|core| {
                // Queue operations and a counter: no user code.
                count_here(core);
                if let Some(task) = task.take() {
                    core.push_task(task);
                }
            })
            .is_some();
        if !queued_here {
            count_elsewhere();
        }
        if let Some(task) = task {
            shared.injector.push(task);
            shared.notify_one();
        }
        pid
    }

    /// Ends the process, which was never queued.
    fn end_unrun(self, reason: ExitReason) {
        end_unrun(
            self.launch,
            &self.pid,
            reason,
            !self.shutting_down,
            self.debt,
        );
    }
}

/// Lists the child's end as a debt of the running process, if any, while
/// user code runs with the child held (module `debt`).
fn owe_child(pid: &Pid, took_slot: bool) -> Option<Arc<Debt>> {
    try_with_process(|ctx| {
        let owed = Owed::SetupChild {
            pcb: Arc::clone(&pid.0),
            took_slot,
        };
        let debt = match try_with_worker(|core| core.spare_debt.take()).flatten() {
            Some(spent) => Debt::reuse(spent, owed),
            None => Debt::new(owed),
        };
        ctx.owe(debt.clone());
        debt
    })
}

/// A debt settled by its spawn, kept for the worker's next set-up if
/// nothing else holds it (the abandoning worker may, or a frame of the
/// user's that listed it: then it just drops).
fn keep_spent_debt(debt: Arc<Debt>) {
    if Arc::strong_count(&debt) != 1 {
        return;
    }
    // The debt it replaces (settled, holding nothing) drops out here.
    let replaced = try_with_worker(move |core| core.spare_debt.replace(Some(debt)));
    drop(replaced);
}

/// Ends a process that was never queued: drops its closure and messages,
/// records `reason` and gives its slot back if it took one.
///
/// The drops run user destructors, which may block; the process running
/// them owes the child's end meanwhile (module `debt`), and an exit
/// signal that ends it there goes on only once the child has ended. A
/// `listed` debt is taken back first; if it was paid already, the child
/// has ended, and only its closure is dropped here.
fn end_unrun(
    launch: Launch,
    pid: &Pid,
    reason: ExitReason,
    took_slot: bool,
    listed: Option<Arc<Debt>>,
) {
    if let Some(listed) = listed
        && listed.settle().is_none()
    {
        drop_paid_child(launch);
        return;
    }
    let held = owe_child(pid, took_slot);
    let unwind = crate::worker::run_loop::drop_never_run(launch);
    if held.is_none_or(|held| held.settle().is_some()) {
        let pcb = &pid.0;
        // Its exit hooks (its links, monitors) all run, even if the caller
        // is being ended.
        crate::process::context::shielded(|| {
            // SAFETY: the process was never queued, and its debt, if
            // listed, was taken back above: this thread alone has it.
            unsafe { pcb.set_exited(reason) };
        });
        if took_slot {
            pcb.shared().return_slots(1);
        }
    }
    if let Some(unwind) = unwind {
        resume_unwind(unwind);
    }
}

/// The closure of a child whose debt an abandonment paid: the child has
/// ended (module `debt`); its mailbox is closed and not to be touched.
fn drop_paid_child(launch: Launch) {
    crate::worker::contain::contain("dropping a never-run process's closure", move || {
        drop(launch);
    });
}
