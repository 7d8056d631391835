//! The dynamic supervisor (OTP's `simple_one_for_one`, Elixir's
//! `DynamicSupervisor`): no children at start; children are started at run
//! time, from a template applied to an argument, or from a full
//! [`ChildSpec`]. Every child is handled `OneForOne`, with the same
//! restart types, intensity, backoff and shutdown as in a
//! [`Supervisor`](super::Supervisor); children are known by pid.
//!
//! On shutdown every child is told at once and the supervisor waits for
//! all of them (children of a dynamic supervisor have no order, as in
//! OTP), killing those whose timeout passes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotp_scheduler::{
    Exit, ExitReason, Pid, ReplyTo, Select, SpawnOptions, exit_self, is_exit_unwind, send_after,
};

use super::call::call;
use super::intensity::RestartIntensity;
use super::report;
use super::server::start_child_process;
use super::spec::{
    Backoff, ChildCounts, ChildError, ChildInfo, ChildSpec, ChildState, Flags, StartError,
};
use super::start_and_wait;
use super::terminate::{terminate, terminate_all_at_once};
use crate::link::self_pid_for;

/// Turns a `start_child` argument into the spec of the child to start.
type Template<A> = Arc<dyn Fn(A) -> ChildSpec + Send + Sync>;

/// A dynamic supervisor's description. `A` is what
/// [`DynamicSupervisor::start_child`] takes: a [`ChildSpec`] (the
/// default, as Elixir's `DynamicSupervisor`), or the argument of a
/// template (OTP's `simple_one_for_one`).
///
/// ```
/// use ferrotp_scheduler::{receive, run, send};
/// use ferrotp_supervision::{ChildSpec, DynamicSupervisorSpec};
/// let count = run(|| {
///     // A template: each child is a session for one user number.
///     let sup = DynamicSupervisorSpec::with_template(|user: u32| {
///         ChildSpec::worker(format!("session {user}"), move || { receive::<()>(); })
///     })
///     .max_children(100)
///     .start_link()
///     .unwrap();
///     for user in 0..3 {
///         sup.start_child(user).unwrap();
///     }
///     let active = sup.count_children().unwrap().active;
///     sup.stop().unwrap();
///     active
/// }).unwrap();
/// assert_eq!(count, 3);
/// ```
pub struct DynamicSupervisorSpec<A = ChildSpec> {
    flags: Flags,
    max_children: Option<usize>,
    name: Option<Arc<str>>,
    template: Template<A>,
}

impl<A> Clone for DynamicSupervisorSpec<A> {
    fn clone(&self) -> Self {
        Self {
            flags: self.flags,
            max_children: self.max_children,
            name: self.name.clone(),
            template: Arc::clone(&self.template),
        }
    }
}

impl<A> fmt::Debug for DynamicSupervisorSpec<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSupervisorSpec")
            .field("flags", &self.flags)
            .field("max_children", &self.max_children)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl DynamicSupervisorSpec<ChildSpec> {
    /// Children are started from full specs.
    pub fn new() -> Self {
        Self::with_template(|spec| spec)
    }
}

impl Default for DynamicSupervisorSpec<ChildSpec> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Send + 'static> DynamicSupervisorSpec<A> {
    /// Children are started from `template(arg)`, in the supervisor.
    pub fn with_template(template: impl Fn(A) -> ChildSpec + Send + Sync + 'static) -> Self {
        Self {
            flags: Flags::default(),
            max_children: None,
            name: None,
            template: Arc::new(template),
        }
    }

    /// At most `max_restarts` restarts in `period` (default 1 in 5 s).
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

    /// At most this many children (running or waiting for a restart);
    /// `start_child` beyond it fails with [`ChildError::MaxChildren`].
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// Registers the supervisor under `name`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Starts the supervisor linked to the caller.
    ///
    /// # Errors
    /// [`StartError::InvalidSpec`], [`StartError::Register`],
    /// [`StartError::Spawn`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_link(&self) -> Result<DynamicSupervisor<A>, StartError> {
        self.start_from(true)
    }

    /// Starts the supervisor without a link to the caller.
    ///
    /// # Errors
    /// As [`start_link`](Self::start_link).
    ///
    /// # Panics
    /// Outside a process.
    pub fn start(&self) -> Result<DynamicSupervisor<A>, StartError> {
        self.start_from(false)
    }

    fn start_from(&self, linked: bool) -> Result<DynamicSupervisor<A>, StartError> {
        let caller = self_pid_for("DynamicSupervisorSpec::start_link");
        self.flags.check().map_err(StartError::InvalidSpec)?;
        if self.max_children == Some(0) {
            return Err(StartError::InvalidSpec(
                "max_children 0: a dynamic supervisor needs room for at least one child".into(),
            ));
        }
        let spec = self.clone();
        let parent = linked.then(|| caller.clone());
        let options = SpawnOptions::new().name(
            self.name
                .clone()
                .unwrap_or_else(|| "dynamic supervisor".into()),
        );
        let pid = start_and_wait(&caller, linked, options, move |ack| {
            let me = super::init(spec.name.as_deref(), parent.as_ref(), &ack);
            ack.send_past_bound(Ok(()));
            DynamicServer {
                flags: spec.flags,
                max_children: spec.max_children,
                template: spec.template,
                intensity: RestartIntensity::new(spec.flags.max_restarts, spec.flags.period),
                children: BTreeMap::new(),
                by_pid: HashMap::new(),
                next_key: 0,
                parent,
                me,
            }
            .serve()
        })?;
        Ok(DynamicSupervisor {
            pid,
            _arg: PhantomData,
        })
    }
}

/// A running dynamic supervisor, from
/// [`DynamicSupervisorSpec::start_link`]: children are started at run
/// time and known by their pids.
///
/// ```
/// use ferrotp_scheduler::{receive, run};
/// use ferrotp_supervision::{ChildSpec, DynamicSupervisorSpec};
/// let (distinct, left, is_b) = run(|| {
///     let sup = DynamicSupervisorSpec::new().start_link().unwrap();
///     let conn = || ChildSpec::worker("connection", || { receive::<()>(); });
///     let a = sup.start_child(conn()).unwrap();
///     let b = sup.start_child(conn()).unwrap();
///     sup.terminate_child(&a).unwrap();
///     let left = sup.which_children().unwrap();
///     sup.stop().unwrap();
///     (a != b, left.len(), left[0].state.pid() == Some(&b))
/// }).unwrap();
/// assert_eq!((distinct, left, is_b), (true, 1, true));
/// ```
pub struct DynamicSupervisor<A = ChildSpec> {
    pid: Pid,
    _arg: PhantomData<fn(A)>,
}

impl<A> Clone for DynamicSupervisor<A> {
    fn clone(&self) -> Self {
        Self {
            pid: self.pid.clone(),
            _arg: PhantomData,
        }
    }
}

impl<A> fmt::Debug for DynamicSupervisor<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DynamicSupervisor").field(&self.pid).finish()
    }
}

enum DynRequest<A> {
    StartChild(A, ReplyTo<Result<Pid, ChildError>>),
    TerminateChild(Pid, ReplyTo<Result<(), ChildError>>),
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    CountChildren(ReplyTo<ChildCounts>),
    Stop(ReplyTo<()>),
}

impl<A: Send + 'static> DynamicSupervisor<A> {
    /// The supervisor's process.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// Starts a child from `arg` (the template's argument, or the spec).
    ///
    /// # Errors
    /// [`ChildError::MaxChildren`], [`ChildError::Start`],
    /// [`ChildError::SupervisorDown`].
    pub fn start_child(&self, arg: A) -> Result<Pid, ChildError> {
        call(&self.pid, |reply| DynRequest::StartChild(arg, reply)).and_then(|r| r)
    }

    /// Stops the child `pid` by its shutdown policy and forgets it.
    ///
    /// # Errors
    /// [`ChildError::NotFound`], [`ChildError::SupervisorDown`].
    pub fn terminate_child(&self, pid: &Pid) -> Result<(), ChildError> {
        let pid = pid.clone();
        call(&self.pid, |reply| {
            DynRequest::<A>::TerminateChild(pid, reply)
        })
        .and_then(|r| r)
    }

    /// Every child, in start order.
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`].
    pub fn which_children(&self) -> Result<Vec<ChildInfo>, ChildError> {
        call(&self.pid, DynRequest::<A>::WhichChildren)
    }

    /// Counts of the children.
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`].
    pub fn count_children(&self) -> Result<ChildCounts, ChildError> {
        call(&self.pid, DynRequest::<A>::CountChildren)
    }

    /// Stops every child (all at once) and then the supervisor, which
    /// ends with `Normal`.
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`] if it had already ended.
    pub fn stop(&self) -> Result<(), ChildError> {
        call(&self.pid, DynRequest::<A>::Stop)
    }
}

struct DynChild {
    spec: ChildSpec,
    pid: Option<Pid>,
}

/// Start the children with these keys, if they still wait.
struct DynRetry {
    /// Set for a retry after a failed start (why): it counts as a restart.
    failed: Option<ExitReason>,
    keys: Vec<u64>,
}

struct DynamicServer<A> {
    flags: Flags,
    max_children: Option<usize>,
    template: Template<A>,
    intensity: RestartIntensity,
    /// By start order (a restarted child keeps its place).
    children: BTreeMap<u64, DynChild>,
    by_pid: HashMap<Pid, u64>,
    next_key: u64,
    parent: Option<Pid>,
    me: Pid,
}

enum DynEvent<A> {
    Exit(Exit),
    Request(DynRequest<A>),
    Retry(DynRetry),
}

impl<A: Send + 'static> DynamicServer<A> {
    fn serve(mut self) -> ! {
        loop {
            let event = Select::new()
                .on(DynEvent::Exit)
                .on(DynEvent::Request)
                .on(DynEvent::Retry)
                .wait();
            match event {
                DynEvent::Exit(signal) => self.on_exit(signal),
                DynEvent::Request(request) => self.on_request(request),
                DynEvent::Retry(retry) => {
                    let waiting: Vec<u64> = retry
                        .keys
                        .into_iter()
                        .filter(|key| self.children.get(key).is_some_and(|c| c.pid.is_none()))
                        .collect();
                    if let (Some(reason), Some(key)) = (&retry.failed, waiting.first()) {
                        let id = Arc::clone(&self.children[key].spec.id);
                        self.count_restart(&id, reason);
                    }
                    for key in waiting {
                        self.start_waiting(key);
                    }
                }
            }
        }
    }

    fn on_exit(&mut self, signal: Exit) {
        let Some(from) = signal.from else { return };
        if self.parent.as_ref() == Some(&from) {
            self.stop_all();
            exit_self(signal.reason);
        }
        let Some(key) = self.by_pid.remove(&from) else {
            return;
        };
        let child = self.children.get_mut(&key).expect("indexed by pid");
        child.pid = None;
        if !child.spec.restart.restarts_after(&signal.reason) {
            self.children.remove(&key);
            return;
        }
        let id = Arc::clone(&child.spec.id);
        self.count_restart(&id, &signal.reason);
        let delay = self.flags.backoff.delay(self.intensity.recent());
        if delay.is_zero() {
            self.start_waiting(key);
        } else {
            send_after(
                delay,
                &self.me,
                DynRetry {
                    failed: None,
                    keys: vec![key],
                },
            );
        }
    }

    fn count_restart(&mut self, id: &str, reason: &ExitReason) {
        if !self.intensity.add(Instant::now()) {
            report::gave_up(&self.me, id, reason, &self.flags);
            self.stop_all();
            exit_self(ExitReason::Shutdown);
        }
    }

    /// Starts the child `key` if it still waits for a restart.
    fn start_waiting(&mut self, key: u64) {
        let Some(child) = self.children.get_mut(&key) else {
            return;
        };
        if child.pid.is_some() {
            return;
        }
        match start_child_process(&child.spec) {
            Ok(pid) => {
                self.by_pid.insert(pid.clone(), key);
                child.pid = Some(pid);
            }
            Err(reason) => {
                report::failed_restart(&self.me, &child.spec.id, &reason);
                let retry = DynRetry {
                    failed: Some(reason),
                    keys: vec![key],
                };
                let delay = self.flags.backoff.delay(self.intensity.recent());
                super::send_later(delay, &self.me, retry);
            }
        }
    }

    fn stop_all(&mut self) {
        let children = std::mem::take(&mut self.children);
        self.by_pid.clear();
        terminate_all_at_once(
            children
                .into_values()
                .filter_map(|child| Some((child.pid?, child.spec.shutdown))),
        );
    }

    fn info(child: &DynChild) -> ChildInfo {
        ChildInfo {
            id: Arc::clone(&child.spec.id),
            state: match &child.pid {
                Some(pid) => ChildState::Running(pid.clone()),
                None => ChildState::Restarting,
            },
            kind: child.spec.kind,
            restart: child.spec.restart,
        }
    }

    fn on_request(&mut self, request: DynRequest<A>) {
        match request {
            DynRequest::StartChild(arg, reply) => {
                let result = self.start_new(arg);
                reply.send(result);
            }
            DynRequest::TerminateChild(pid, reply) => {
                let result = match self.by_pid.remove(&pid) {
                    None => Err(ChildError::NotFound(pid.to_string())),
                    Some(key) => {
                        let child = self.children.remove(&key).expect("indexed by pid");
                        terminate(&pid, child.spec.shutdown);
                        Ok(())
                    }
                };
                reply.send(result);
            }
            DynRequest::WhichChildren(reply) => {
                reply.send(self.children.values().map(Self::info).collect());
            }
            DynRequest::CountChildren(reply) => {
                reply.send(ChildCounts::count(
                    self.children
                        .values()
                        .map(|c| (c.spec.kind, c.pid.is_some())),
                ));
            }
            DynRequest::Stop(reply) => {
                self.stop_all();
                reply.send(());
                exit_self(ExitReason::Normal);
            }
        }
    }

    fn start_new(&mut self, arg: A) -> Result<Pid, ChildError> {
        if let Some(max) = self.max_children
            && self.children.len() >= max
        {
            return Err(ChildError::MaxChildren(max));
        }
        // The template is user code: a panic in it is a failed start, not
        // a dead supervisor.
        let spec = match catch_unwind(AssertUnwindSafe(|| (self.template)(arg))) {
            Ok(spec) => spec,
            Err(payload) if is_exit_unwind(payload.as_ref()) => resume_unwind(payload),
            Err(payload) => {
                return Err(ChildError::Start {
                    id: "(template)".into(),
                    reason: ExitReason::from_panic(payload.as_ref()),
                });
            }
        };
        match start_child_process(&spec) {
            Ok(pid) => {
                let key = self.next_key;
                self.next_key += 1;
                self.by_pid.insert(pid.clone(), key);
                self.children.insert(
                    key,
                    DynChild {
                        spec,
                        pid: Some(pid.clone()),
                    },
                );
                Ok(pid)
            }
            Err(reason) => Err(ChildError::Start {
                id: spec.id,
                reason,
            }),
        }
    }
}

impl ChildSpec {
    /// A child that is a dynamic supervisor started from `spec` (shutdown
    /// [`Shutdown::Infinity`](super::spec::Shutdown::Infinity), kind
    /// supervisor).
    pub fn dynamic_supervisor<A: Send + 'static>(
        id: impl Into<Arc<str>>,
        spec: DynamicSupervisorSpec<A>,
    ) -> Self {
        ChildSpec::new(id, move || {
            spec.start_link()
                .map(|sup| sup.pid().clone())
                .map_err(|e| ExitReason::custom(e.to_string()))
        })
        .shutdown(super::spec::Shutdown::Infinity)
        .kind(super::spec::ChildKind::Supervisor)
    }
}
