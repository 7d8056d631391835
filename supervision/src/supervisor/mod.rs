//! OTP supervisors: [`SupervisorSpec`] describes one, `start_link` starts
//! it, and the [`Supervisor`] handle manages it. The restart logic is in
//! `server.rs`; the dynamic supervisor in `dynamic.rs`.

mod call;
pub(crate) mod dynamic;
pub(crate) mod intensity;
mod report;
pub(crate) mod server;
pub(crate) mod spec;
pub(crate) mod terminate;

use std::sync::Arc;
use std::time::Duration;

use ferrotp_scheduler::{
    ExitReason, Pid, Select, SpawnOptions, Subject, exit_self, register, self_pid, send,
    send_after, spawn_with, trap_exit,
};

use self::server::Request;
use self::spec::{
    Backoff, ChildCounts, ChildError, ChildInfo, ChildSpec, Flags, StartError, Strategy,
};
use crate::link::{link_pair, self_pid_for, unlink};
use crate::monitor::{Demonitor, Down, MonitorRef, demonitor, monitor_from};

/// A supervisor's description: its strategy, restart intensity, optional
/// restart backoff, optional registered name, and its children in start
/// order.
///
/// ```
/// use ferrotp_scheduler::{receive, run};
/// use ferrotp_supervision::{ChildSpec, Strategy, SupervisorSpec};
/// let children = run(|| {
///     let sup = SupervisorSpec::new(Strategy::OneForOne)
///         .child(ChildSpec::worker("a", || { receive::<()>(); }))
///         .child(ChildSpec::worker("b", || { receive::<()>(); }))
///         .start_link()
///         .unwrap();
///     let ids: Vec<String> = sup.which_children().unwrap().iter().map(|c| c.id.to_string()).collect();
///     sup.stop().unwrap();
///     ids
/// }).unwrap();
/// assert_eq!(children, ["a", "b"]);
/// ```
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    strategy: Strategy,
    flags: Flags,
    name: Option<Arc<str>>,
    children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A supervisor with this strategy, OTP's default intensity (1 restart
    /// in 5 s), no backoff, no name and no children.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            flags: Flags::default(),
            name: None,
            children: Vec::new(),
        }
    }

    /// At most `max_restarts` restarts in `period`; one more and the
    /// supervisor stops its children and exits with `Shutdown`.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.flags.max_restarts = max_restarts;
        self.flags.period = period;
        self
    }

    /// A delay before restarts (default [`Backoff::Immediate`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.flags.backoff = backoff;
        self
    }

    /// Registers the supervisor under `name` (see
    /// [`whereis`](ferrotp_scheduler::whereis)).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a child, started after those added before.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Adds children, in order.
    pub fn children(mut self, children: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(children);
        self
    }

    fn check(&self) -> Result<(), StartError> {
        self.flags.check().map_err(StartError::InvalidSpec)?;
        let mut seen = std::collections::HashSet::new();
        for child in &self.children {
            if child.id.is_empty() {
                return Err(StartError::InvalidSpec("a child has an empty id".into()));
            }
            if !seen.insert(&child.id) {
                return Err(StartError::InvalidSpec(format!(
                    "two children have the id {:?}; ids must be unique",
                    child.id
                )));
            }
        }
        Ok(())
    }

    /// Starts the supervisor, linked to the calling process, and returns
    /// once every child has started, in order. If one fails to start, the
    /// ones started before it are stopped in reverse order, the supervisor
    /// ends (without taking the caller down) and the error says which
    /// child failed and why.
    ///
    /// # Errors
    /// See [`StartError`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_link(&self) -> Result<Supervisor, StartError> {
        self.start_from(true)
    }

    /// [`start_link`](Self::start_link) without the link: the supervisor
    /// outlives the caller. Stop it with [`Supervisor::stop`].
    ///
    /// # Errors
    /// See [`StartError`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn start(&self) -> Result<Supervisor, StartError> {
        self.start_from(false)
    }

    fn start_from(&self, linked: bool) -> Result<Supervisor, StartError> {
        let caller = self_pid_for("SupervisorSpec::start_link");
        self.check()?;
        let spec = self.clone();
        let parent = linked.then(|| caller.clone());
        let options = match &self.name {
            Some(name) => SpawnOptions::new().name(Arc::clone(name)),
            None => SpawnOptions::new().name("supervisor"),
        };
        start_and_wait(&caller, linked, options, move |ack| {
            server::run(
                spec.strategy,
                spec.flags,
                spec.children,
                spec.name,
                parent,
                ack,
            )
        })
        .map(|pid| Supervisor { pid })
    }
}

/// The start of every supervisor process: trap exits and take the name.
/// If the name is taken, the starter gets the error (and no exit signal)
/// and the process ends.
pub(crate) fn init(
    name: Option<&str>,
    parent: Option<&Pid>,
    ack: &Subject<Result<(), StartError>>,
) -> Pid {
    trap_exit(true);
    let me = self_pid();
    if let Some(name) = name
        && let Err(e) = register(name, &me)
    {
        fail_start(parent, ack, StartError::Register(e));
    }
    me
}

/// Ends a supervisor that could not start: the starter gets `error`
/// instead of an exit signal.
pub(crate) fn fail_start(
    parent: Option<&Pid>,
    ack: &Subject<Result<(), StartError>>,
    error: StartError,
) -> ! {
    if let Some(parent) = parent {
        unlink(parent);
    }
    ack.send_past_bound(Err(error));
    exit_self(ExitReason::Shutdown)
}

/// Sends `message` to `to` after `delay`, or at once for no delay (a
/// restart waiting for its backoff).
pub(crate) fn send_later<M: Send + 'static>(delay: Duration, to: &Pid, message: M) {
    if delay.is_zero() {
        send(to, message);
    } else {
        send_after(delay, to, message);
    }
}

/// Spawns `body` (linked to `caller` if asked, and monitored), and waits
/// for its acknowledgement or its end.
pub(crate) fn start_and_wait(
    caller: &Pid,
    linked: bool,
    options: SpawnOptions,
    body: impl FnOnce(Subject<Result<(), StartError>>) + Send + 'static,
) -> Result<Pid, StartError> {
    let ack: Subject<Result<(), StartError>> = Subject::new();
    let for_child = ack.clone();
    let mut watch: Option<MonitorRef> = None;
    let pid = spawn_with(
        options,
        |child| {
            if linked {
                link_pair(caller, child);
            }
            watch = Some(monitor_from(caller, child));
        },
        move || body(for_child),
    )
    .map_err(StartError::Spawn)?;
    let watch = watch.expect("spawn_with ran the set-up");
    let started = Select::new()
        .on_subject(&ack, |started| started)
        .on_match(
            |down: &Down| down.monitor == watch,
            |down: Down| Err(StartError::Exited(down.reason)),
        )
        .wait();
    demonitor(&watch, Demonitor::Flush);
    started.map(|()| pid)
}

/// A running supervisor: its pid and the management requests (OTP's
/// `supervisor` module functions). Every request waits for the answer; if
/// the supervisor has ended, it returns [`ChildError::SupervisorDown`]
/// rather than waiting forever.
///
/// Calls must come from a process other than the supervisor.
///
/// ```
/// use ferrotp_scheduler::{receive, run, whereis};
/// use ferrotp_supervision::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
/// let ids = run(|| {
///     let sup = SupervisorSpec::new(Strategy::OneForOne)
///         .name("app")
///         .child(ChildSpec::worker("db", || { receive::<()>(); }))
///         .start_link()
///         .unwrap();
///     // Any process can manage it, found by its name.
///     let app = Supervisor::from_pid(whereis("app").unwrap());
///     assert_eq!(app, sup);
///     app.start_child(ChildSpec::worker("cache", || { receive::<()>(); })).unwrap();
///     app.terminate_child("db").unwrap();
///     app.delete_child("db").unwrap();
///     let ids: Vec<String> = app.which_children().unwrap().iter().map(|c| c.id.to_string()).collect();
///     app.stop().unwrap();
///     ids
/// }).unwrap();
/// assert_eq!(ids, ["cache"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supervisor {
    pid: Pid,
}

impl Supervisor {
    /// A handle for a supervisor known by its pid: a supervisor child's
    /// pid from [`which_children`](Self::which_children), or a registered
    /// supervisor's from [`whereis`](ferrotp_scheduler::whereis). Requests
    /// to a process that is not a supervisor are never answered: they
    /// wait until that process ends.
    pub fn from_pid(pid: Pid) -> Self {
        Self { pid }
    }

    /// The supervisor's process.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// Every child, in start order, with whether it runs.
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`].
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, ChildError> {
        call::call(&self.pid, Request::WhichChildren)
    }

    /// Counts of the children.
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`].
    pub fn count_children(&self) -> Result<ChildCounts, ChildError> {
        call::call(&self.pid, Request::CountChildren)
    }

    /// Adds a child (after the others) and starts it.
    ///
    /// # Errors
    /// [`ChildError::AlreadyStarted`] or [`ChildError::AlreadyPresent`] if
    /// the id is taken; [`ChildError::Start`] if it failed to start (its
    /// spec is not kept).
    pub fn start_child(&self, spec: ChildSpec) -> Result<Pid, ChildError> {
        call::call(&self.pid, |reply| Request::StartChild(spec, reply)).and_then(|r| r)
    }

    /// Stops a child by its shutdown policy; its spec stays (a temporary
    /// child's is removed), so it can be restarted with
    /// [`restart_child`](Self::restart_child).
    ///
    /// # Errors
    /// [`ChildError::NotFound`].
    pub fn terminate_child(&self, id: &str) -> Result<(), ChildError> {
        let id: Arc<str> = id.into();
        call::call(&self.pid, |reply| Request::TerminateChild(id, reply)).and_then(|r| r)
    }

    /// Starts a child that does not run.
    ///
    /// # Errors
    /// [`ChildError::NotFound`], [`ChildError::Running`],
    /// [`ChildError::Start`].
    pub fn restart_child(&self, id: &str) -> Result<Pid, ChildError> {
        let id: Arc<str> = id.into();
        call::call(&self.pid, |reply| Request::RestartChild(id, reply)).and_then(|r| r)
    }

    /// Removes the spec of a child that does not run.
    ///
    /// # Errors
    /// [`ChildError::NotFound`], [`ChildError::Running`].
    pub fn delete_child(&self, id: &str) -> Result<(), ChildError> {
        let id: Arc<str> = id.into();
        call::call(&self.pid, |reply| Request::DeleteChild(id, reply)).and_then(|r| r)
    }

    /// Stops every child in reverse start order, then the supervisor
    /// (which ends with `Normal`); returns once the children have ended.
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`] if it had already ended.
    pub fn stop(&self) -> Result<(), ChildError> {
        call::call(&self.pid, Request::Stop)
    }
}
