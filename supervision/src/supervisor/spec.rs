//! What a supervisor is told: child specs, strategies, restart types,
//! shutdown, restart intensity and backoff, and the errors it answers with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_scheduler::{ExitReason, Pid, RegisterError, SpawnError, SpawnOptions};

use crate::link::spawn_link_opt;

/// How a supervisor reacts when a child that must be restarted ends.
///
/// With `OneForAll`, one child's crash restarts its siblings too:
///
/// ```
/// use ferrotp_scheduler::{Pid, receive, receive_match, run, self_pid, send};
/// use ferrotp_supervision::{ChildSpec, Strategy, SupervisorSpec};
/// let (before, after) = run(|| {
///     let me = self_pid();
///     // Each child tells who it is as it starts; "crash" makes it panic.
///     let child = |id: &'static str| {
///         let me = me.clone();
///         ChildSpec::worker(id, move || {
///             send(&me, (id, self_pid()));
///             if receive::<&str>() == "crash" { panic!("{id} crashed"); }
///         })
///     };
///     let started = |id: &'static str| receive_match(move |m: &(&str, Pid)| m.0 == id).1;
///     let sup = SupervisorSpec::new(Strategy::OneForAll)
///         .child(child("a"))
///         .child(child("b"))
///         .start_link()
///         .unwrap();
///     let before = [started("a"), started("b")];
///     send(&before[0], "crash");
///     let after = [started("a"), started("b")];
///     sup.stop().unwrap();
///     (before, after)
/// }).unwrap();
/// // Both run as new processes.
/// assert!(before[0] != after[0] && before[1] != after[1]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Restart that child only.
    OneForOne,
    /// Stop every other child (in reverse start order), then restart all
    /// of them in start order.
    OneForAll,
    /// Stop the children started after it (in reverse start order), then
    /// restart it and them in start order.
    RestForOne,
}

/// When a child is restarted after it ends.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, Pid, receive, run, self_pid, send};
/// use ferrotp_supervision::{ChildSpec, Restart, Strategy, SupervisorSpec};
/// let restarted = run(|| {
///     let me = self_pid();
///     let job = ChildSpec::worker("job", move || {
///         send(&me, self_pid());
///         if receive::<&str>() == "fail" { panic!("failed"); }
///     })
///     .restart(Restart::Transient);
///     let sup = SupervisorSpec::new(Strategy::OneForOne).child(job).start_link().unwrap();
///     let first = receive::<Pid>();
///     send(&first, "fail"); // an abnormal end: a transient child is restarted
///     let second = receive::<Pid>();
///     sup.stop().unwrap();
///     first != second
/// }).unwrap();
/// assert!(restarted);
/// // After a normal end (or `Shutdown`) it would not have been.
/// assert!(!Restart::Transient.restarts_after(&ExitReason::Normal));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always (the default).
    Permanent,
    /// Only after an abnormal exit: not after `Normal` or `Shutdown`.
    Transient,
    /// Never; its spec is removed when it ends, or when a sibling's
    /// restart stops it.
    Temporary,
}

impl Restart {
    /// Whether a child with this restart type is restarted after ending
    /// with `reason`.
    ///
    /// ```
    /// use ferrotp_scheduler::ExitReason;
    /// use ferrotp_supervision::Restart;
    /// assert!(Restart::Permanent.restarts_after(&ExitReason::Normal));
    /// assert!(!Restart::Transient.restarts_after(&ExitReason::Shutdown));
    /// assert!(Restart::Transient.restarts_after(&ExitReason::Killed));
    /// assert!(!Restart::Temporary.restarts_after(&ExitReason::Killed));
    /// ```
    pub fn restarts_after(self, reason: &ExitReason) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_clean_stop(),
            Restart::Temporary => false,
        }
    }
}

/// How a supervisor stops a child.
///
/// A child that traps exits gets `Shutdown` as a message and may clean
/// up; a killed one cannot, but its stack still unwinds, so its
/// destructors run:
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{Exit, ExitReason, Pid, receive, receive_timeout, run, self_pid, send,
///     trap_exit};
/// use ferrotp_supervision::{ChildSpec, Shutdown, Strategy, SupervisorSpec};
/// struct SaysWhenDropped(Pid);
/// impl Drop for SaysWhenDropped {
///     fn drop(&mut self) { send(&self.0, "dropped"); }
/// }
/// let (polite, brutal) = run(|| {
///     let me = self_pid();
///     let (me1, me2) = (me.clone(), me.clone());
///     let polite = ChildSpec::worker("polite", move || {
///         trap_exit(true);
///         send(&me1, "ready");
///         send(&me1, receive::<Exit>().reason); // clean up, then end
///     })
///     .shutdown(Shutdown::Timeout(Duration::from_secs(5)));
///     let brutal = ChildSpec::worker("brutal", move || {
///         let _guard = SaysWhenDropped(me2.clone());
///         send(&me2, "ready");
///         receive::<()>();
///     })
///     .shutdown(Shutdown::BrutalKill);
///     let sup = SupervisorSpec::new(Strategy::OneForOne)
///         .children([polite, brutal])
///         .start_link()
///         .unwrap();
///     for _ in 0..2 { assert_eq!(receive::<&str>(), "ready"); }
///     // `terminate_child` returns once the child has ended, so what it
///     // sent on its way out is here already.
///     sup.terminate_child("polite").unwrap();
///     let polite = receive_timeout::<ExitReason>(Duration::ZERO);
///     sup.terminate_child("brutal").unwrap();
///     let brutal = receive_timeout::<&str>(Duration::ZERO);
///     sup.stop().unwrap();
///     (polite, brutal)
/// }).unwrap();
/// assert_eq!(polite, Some(ExitReason::Shutdown));
/// assert_eq!(brutal, Some("dropped"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// `exit(child, Kill)` at once.
    BrutalKill,
    /// `exit(child, Shutdown)`, wait this long for it to end, then kill
    /// it (a child that traps exits can clean up in that time).
    Timeout(Duration),
    /// `exit(child, Shutdown)` and wait as long as it takes: for
    /// supervisor children, which stop their own children first.
    Infinity,
}

/// What kind of process a child is.
///
/// ```
/// use ferrotp_supervision::{ChildKind, ChildSpec, Shutdown, Strategy, SupervisorSpec};
/// let worker = ChildSpec::worker("worker", || {});
/// let nested = ChildSpec::supervisor("nested", SupervisorSpec::new(Strategy::OneForAll));
/// assert_eq!(worker.child_kind(), ChildKind::Worker);
/// assert_eq!(nested.child_kind(), ChildKind::Supervisor);
/// // A supervisor child is given all the time it needs to stop its own.
/// assert_eq!(nested.shutdown_policy(), Shutdown::Infinity);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// Does work.
    Worker,
    /// Supervises children of its own.
    Supervisor,
}

/// An optional delay before a restart (OTP has none; bastion and kameo
/// users ask for one, to avoid hammering a resource that is down).
///
/// ```
/// use std::time::{Duration, Instant};
/// use ferrotp_scheduler::{Pid, receive, run, self_pid, send};
/// use ferrotp_supervision::{Backoff, ChildSpec, Strategy, SupervisorSpec};
/// let waited = run(|| {
///     let me = self_pid();
///     let sup = SupervisorSpec::new(Strategy::OneForOne)
///         .backoff(Backoff::Fixed(Duration::from_millis(20)))
///         .child(ChildSpec::worker("flaky", move || {
///             send(&me, self_pid());
///             if receive::<&str>() == "crash" { panic!("crashed"); }
///         }))
///         .start_link()
///         .unwrap();
///     let first = receive::<Pid>();
///     let crashed = Instant::now();
///     send(&first, "crash");
///     receive::<Pid>(); // the restarted child
///     let waited = crashed.elapsed();
///     sup.stop().unwrap();
///     waited
/// }).unwrap();
/// assert!(waited >= Duration::from_millis(20));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backoff {
    /// Restart at once (the default, as in OTP).
    Immediate,
    /// Wait this long before each restart.
    Fixed(Duration),
    /// Wait `base` before the first restart in the intensity period, then
    /// twice as long for each further one, at most `max`.
    Exponential {
        /// The first delay.
        base: Duration,
        /// The longest delay.
        max: Duration,
    },
}

impl Backoff {
    /// The delay before a restart, when `recent` restarts (this one
    /// included) fall in the supervisor's intensity period.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp_supervision::Backoff;
    /// let ms = Duration::from_millis;
    /// let backoff = Backoff::Exponential { base: ms(10), max: ms(50) };
    /// let delays: Vec<_> = (1..=5).map(|n| backoff.delay(n)).collect();
    /// assert_eq!(delays, [ms(10), ms(20), ms(40), ms(50), ms(50)]);
    /// assert_eq!(Backoff::Fixed(ms(7)).delay(3), ms(7));
    /// assert_eq!(Backoff::Immediate.delay(9), Duration::ZERO);
    /// ```
    pub fn delay(&self, recent: usize) -> Duration {
        match *self {
            Backoff::Immediate => Duration::ZERO,
            Backoff::Fixed(delay) => delay,
            Backoff::Exponential { base, max } => {
                let doublings = recent.saturating_sub(1).min(32) as u32;
                base.saturating_mul(1u32 << doublings.min(31)).min(max)
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        match *self {
            Backoff::Exponential { base, max } if base.is_zero() || max < base => Err(format!(
                "backoff Exponential {{ base: {base:?}, max: {max:?} }}: base must be above zero \
                 and max at least base"
            )),
            _ => Ok(()),
        }
    }
}

/// A child's start function: runs in the supervisor, spawns the child
/// linked to it, and returns its pid or why it could not start.
pub type StartFn = Arc<dyn Fn() -> Result<Pid, ExitReason> + Send + Sync>;

/// How to start, restart and stop one child (OTP's child spec).
///
/// ```
/// use std::time::Duration;
/// use ferrotp_supervision::{ChildKind, ChildSpec, Restart, Shutdown};
/// let spec = ChildSpec::worker("cache", || { /* serve */ })
///     .restart(Restart::Transient)
///     .shutdown(Shutdown::Timeout(Duration::from_millis(500)));
/// assert_eq!(spec.id(), "cache");
/// assert_eq!(spec.child_kind(), ChildKind::Worker);
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: Arc<str>,
    pub(crate) start: StartFn,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) kind: ChildKind,
    /// Whether `shutdown` was set, rather than left at its default.
    shutdown_set: bool,
}

/// OTP's default shutdown for a worker: 5 seconds.
pub const DEFAULT_WORKER_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_secs(5));

impl ChildSpec {
    /// A child whose `start` function spawns and links its process (with
    /// [`spawn_link`](crate::spawn_link)) and returns its pid, or returns
    /// why it could not start (OTP's start function). The supervisor calls
    /// it (in its own process) at every start and restart; a panic in it
    /// counts as a failed start. If the function forgot to link, the
    /// supervisor links.
    pub fn new(
        id: impl Into<Arc<str>>,
        start: impl Fn() -> Result<Pid, ExitReason> + Send + Sync + 'static,
    ) -> Self {
        Self {
            id: id.into(),
            start: Arc::new(start),
            restart: Restart::Permanent,
            shutdown: DEFAULT_WORKER_SHUTDOWN,
            kind: ChildKind::Worker,
            shutdown_set: false,
        }
    }

    /// A worker the supervisor spawns for you: each start runs `body`
    /// afresh in a new process named after `id`.
    pub fn worker(id: impl Into<Arc<str>>, body: impl Fn() + Send + Sync + 'static) -> Self {
        let id: Arc<str> = id.into();
        let body = Arc::new(body);
        let name = Arc::clone(&id);
        Self::new(id, move || {
            let body = Arc::clone(&body);
            spawn_link_opt(SpawnOptions::new().name(Arc::clone(&name)), move || body())
                .map_err(|e| ExitReason::custom(e.to_string()))
        })
    }

    /// A child that is itself a supervisor, started from `spec` (shutdown
    /// [`Shutdown::Infinity`], kind [`ChildKind::Supervisor`]).
    pub fn supervisor(id: impl Into<Arc<str>>, spec: super::SupervisorSpec) -> Self {
        Self::new(id, move || {
            spec.start_link()
                .map(|sup| sup.pid().clone())
                .map_err(|e| ExitReason::custom(e.to_string()))
        })
        .shutdown(Shutdown::Infinity)
        .kind(ChildKind::Supervisor)
    }

    /// The restart type (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How it is stopped (default 5 s timeout for a worker, infinity for
    /// a supervisor).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self.shutdown_set = true;
        self
    }

    /// Its kind (default [`ChildKind::Worker`]). A supervisor whose
    /// shutdown was not set gets [`Shutdown::Infinity`], as in OTP.
    pub fn kind(mut self, kind: ChildKind) -> Self {
        self.kind = kind;
        if !self.shutdown_set {
            self.shutdown = match kind {
                ChildKind::Supervisor => Shutdown::Infinity,
                ChildKind::Worker => DEFAULT_WORKER_SHUTDOWN,
            };
        }
        self
    }

    /// Its id, unique among its supervisor's children.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its restart type.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// How it is stopped.
    pub fn shutdown_policy(&self) -> Shutdown {
        self.shutdown
    }

    /// Its kind.
    pub fn child_kind(&self) -> ChildKind {
        self.kind
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The restart intensity OTP uses by default: 1 restart in 5 seconds.
pub const DEFAULT_INTENSITY: (u32, Duration) = (1, Duration::from_secs(5));

/// The flags every supervisor has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags {
    pub(crate) max_restarts: u32,
    pub(crate) period: Duration,
    pub(crate) backoff: Backoff,
}

impl Default for Flags {
    fn default() -> Self {
        Self {
            max_restarts: DEFAULT_INTENSITY.0,
            period: DEFAULT_INTENSITY.1,
            backoff: Backoff::Immediate,
        }
    }
}

impl Flags {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.period.is_zero() {
            return Err("intensity period 0s: the period must be above zero".into());
        }
        self.backoff.check()
    }
}

/// Why a supervisor did not start: what
/// [`SupervisorSpec::start_link`](super::SupervisorSpec::start_link)
/// returns.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, receive, run};
/// use ferrotp_supervision::{ChildSpec, StartError, Strategy, SupervisorSpec};
/// let (failed, invalid) = run(|| {
///     let failing = SupervisorSpec::new(Strategy::OneForOne)
///         .child(ChildSpec::worker("cache", || { receive::<()>(); }))
///         .child(ChildSpec::new("db", || Err(ExitReason::custom("no database"))));
///     let duplicate = SupervisorSpec::new(Strategy::OneForOne)
///         .child(ChildSpec::worker("a", || {}))
///         .child(ChildSpec::worker("a", || {}));
///     (failing.start_link().unwrap_err(), duplicate.start_link().unwrap_err())
/// }).unwrap();
/// // "cache" had started: it was stopped again.
/// assert_eq!(failed, StartError::Child { id: "db".into(), reason: ExitReason::custom("no database") });
/// assert_eq!(failed.to_string(), "child \"db\" failed to start: no database");
/// assert!(matches!(invalid, StartError::InvalidSpec(ref why) if why.contains("unique")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// A child failed to start; the children started before it were
    /// stopped again, in reverse order.
    Child {
        /// The child's id.
        id: Arc<str>,
        /// Why it failed.
        reason: ExitReason,
    },
    /// The spec is not valid; the message says what to change.
    InvalidSpec(String),
    /// The supervisor's name is taken (or empty).
    Register(RegisterError),
    /// The supervisor process could not be spawned.
    Spawn(SpawnError),
    /// The supervisor ended before it had started its children (killed by
    /// another process, say).
    Exited(ExitReason),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Child { id, reason } => {
                write!(f, "child {id:?} failed to start: {reason}")
            }
            StartError::InvalidSpec(why) => write!(f, "invalid supervisor spec: {why}"),
            StartError::Register(e) => write!(f, "supervisor name: {e}"),
            StartError::Spawn(e) => write!(f, "supervisor process: {e}"),
            StartError::Exited(reason) => {
                write!(f, "the supervisor ended while starting: {reason}")
            }
        }
    }
}

impl std::error::Error for StartError {}

/// Why a request to a running supervisor failed.
///
/// ```
/// use ferrotp_scheduler::{receive, run};
/// use ferrotp_supervision::{ChildError, ChildSpec, Strategy, SupervisorSpec};
/// let (twice, missing, down) = run(|| {
///     let sup = SupervisorSpec::new(Strategy::OneForOne)
///         .child(ChildSpec::worker("a", || { receive::<()>(); }))
///         .start_link()
///         .unwrap();
///     let twice = sup.start_child(ChildSpec::worker("a", || {})).unwrap_err();
///     let missing = sup.terminate_child("b").unwrap_err();
///     sup.stop().unwrap();
///     (twice, missing, sup.count_children().unwrap_err())
/// }).unwrap();
/// assert!(matches!(twice, ChildError::AlreadyStarted { ref id, .. } if &**id == "a"));
/// assert_eq!(missing, ChildError::NotFound("b".into()));
/// assert!(matches!(down, ChildError::SupervisorDown(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildError {
    /// No child has this id (or pid, for a dynamic supervisor).
    NotFound(String),
    /// A child with this id exists and runs.
    AlreadyStarted {
        /// The id.
        id: Arc<str>,
        /// Its process.
        pid: Pid,
    },
    /// A child with this id exists but does not run.
    AlreadyPresent(Arc<str>),
    /// The child runs: terminate it first.
    Running(Arc<str>),
    /// The child failed to start.
    Start {
        /// The id.
        id: Arc<str>,
        /// Why.
        reason: ExitReason,
    },
    /// The dynamic supervisor has its `max_children`.
    MaxChildren(usize),
    /// The request does not apply to this kind of supervisor.
    NotSupported(&'static str),
    /// The supervisor has ended (with this reason), or ended while
    /// handling the request.
    SupervisorDown(ExitReason),
    /// The supervisor's own process made the request (from a child's
    /// start function, say): it would wait for itself forever.
    CalledFromItself,
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildError::NotFound(id) => write!(f, "no child {id}"),
            ChildError::AlreadyStarted { id, pid } => {
                write!(f, "child {id:?} is already started as {pid}")
            }
            ChildError::AlreadyPresent(id) => {
                write!(f, "child {id:?} is already present (not running)")
            }
            ChildError::Running(id) => {
                write!(f, "child {id:?} is running; terminate it first")
            }
            ChildError::Start { id, reason } => write!(f, "child {id:?} failed to start: {reason}"),
            ChildError::MaxChildren(max) => {
                write!(f, "the supervisor has its maximum of {max} children")
            }
            ChildError::NotSupported(what) => write!(f, "not supported: {what}"),
            ChildError::SupervisorDown(reason) => write!(f, "the supervisor is down: {reason}"),
            ChildError::CalledFromItself => write!(
                f,
                "a supervisor request was made from the supervisor's own process (a start \
                 function?); it would wait for itself forever"
            ),
        }
    }
}

impl std::error::Error for ChildError {}

/// One child as [`which_children`](super::Supervisor::which_children)
/// reports it.
///
/// ```
/// use ferrotp_scheduler::{Pid, receive, run, self_pid, send};
/// use ferrotp_supervision::{ChildKind, ChildSpec, ChildState, Restart, Strategy, SupervisorSpec};
/// let (child, children) = run(|| {
///     let me = self_pid();
///     let cache = ChildSpec::worker("cache", move || {
///         send(&me, self_pid());
///         receive::<()>();
///     })
///     .restart(Restart::Transient);
///     let sup = SupervisorSpec::new(Strategy::OneForOne).child(cache).start_link().unwrap();
///     let child = receive::<Pid>();
///     let children = sup.which_children().unwrap();
///     sup.stop().unwrap();
///     (child, children)
/// }).unwrap();
/// assert_eq!(children.len(), 1);
/// let info = &children[0];
/// assert_eq!((&*info.id, info.kind, info.restart), ("cache", ChildKind::Worker, Restart::Transient));
/// assert_eq!(info.state, ChildState::Running(child));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// Its id (a dynamic supervisor's children have the id of the spec
    /// they were started from).
    pub id: Arc<str>,
    /// Whether it runs.
    pub state: ChildState,
    /// Its kind.
    pub kind: ChildKind,
    /// Its restart type.
    pub restart: Restart,
}

/// Whether a child runs.
///
/// ```
/// use ferrotp_scheduler::{receive, run};
/// use ferrotp_supervision::{ChildSpec, ChildState, Strategy, SupervisorSpec};
/// let (running, stopped, again) = run(|| {
///     let sup = SupervisorSpec::new(Strategy::OneForOne)
///         .child(ChildSpec::worker("a", || { receive::<()>(); }))
///         .start_link()
///         .unwrap();
///     let state = || sup.which_children().unwrap()[0].state.clone();
///     let running = state();
///     sup.terminate_child("a").unwrap();
///     let stopped = state();
///     let pid = sup.restart_child("a").unwrap();
///     let again = state() == ChildState::Running(pid);
///     sup.stop().unwrap();
///     (running, stopped, again)
/// }).unwrap();
/// assert!(running.pid().is_some());
/// assert_eq!(stopped, ChildState::Stopped);
/// assert!(again);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildState {
    /// It runs as this process.
    Running(Pid),
    /// It is waiting for a restart (a backoff delay, or a retry after a
    /// failed restart).
    Restarting,
    /// It does not run (terminated, or a transient child that ended
    /// normally).
    Stopped,
}

impl ChildState {
    /// The process, if it runs.
    pub fn pid(&self) -> Option<&Pid> {
        match self {
            ChildState::Running(pid) => Some(pid),
            _ => None,
        }
    }
}

/// Counts of a supervisor's children (OTP's `count_children`).
///
/// ```
/// use ferrotp_scheduler::{receive, run};
/// use ferrotp_supervision::{ChildCounts, ChildSpec, Strategy, SupervisorSpec};
/// let counts = run(|| {
///     let sup = SupervisorSpec::new(Strategy::OneForOne)
///         .child(ChildSpec::worker("worker", || { receive::<()>(); }))
///         .child(ChildSpec::supervisor("nested", SupervisorSpec::new(Strategy::OneForOne)))
///         .start_link()
///         .unwrap();
///     sup.terminate_child("worker").unwrap();
///     let counts = sup.count_children().unwrap();
///     sup.stop().unwrap();
///     counts
/// }).unwrap();
/// assert_eq!(counts, ChildCounts { specs: 2, active: 1, supervisors: 1, workers: 1 });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCounts {
    /// Child specs, running or not.
    pub specs: usize,
    /// Children that run.
    pub active: usize,
    /// Specs of kind supervisor.
    pub supervisors: usize,
    /// Specs of kind worker.
    pub workers: usize,
}

impl ChildCounts {
    pub(crate) fn count<'a>(children: impl Iterator<Item = (ChildKind, bool)> + 'a) -> Self {
        let mut counts = ChildCounts::default();
        for (kind, running) in children {
            counts.specs += 1;
            counts.active += usize::from(running);
            match kind {
                ChildKind::Supervisor => counts.supervisors += 1,
                ChildKind::Worker => counts.workers += 1,
            }
        }
        counts
    }
}
