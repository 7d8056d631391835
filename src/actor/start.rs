//! Starting an actor: the [`Builder`], the start acknowledgement, and
//! [`StartError`].
//!
//! # The start handshake (OTP's `proc_lib:start` / `init_ack`)
//!
//! The starter opens a [`PendingReply`] and spawns the actor's process
//! with its reply address. The process runs its init and acknowledges
//! (`Ok`, or `Err(reason)` before it ends with that reason); the starter
//! waits up to the init timeout. A panic in init (or a kill) drops the
//! unanswered acknowledgement as the process ends, which ends the wait
//! with that process's reason (`InitPanicked`, `InitFailed`): no exit
//! hook is needed. An overrun kills the half-started process, waits for
//! its end (so its registered name is free again) and reports
//! `InitTimeout`.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use ferrotp_scheduler::{
    CallError, Exit, ExitReason, PendingReply, Pid, ReplyTo, SpawnError, SpawnOptions, exit,
    receive_match_timeout, self_pid,
};

use super::address::ActorRef;
use super::behaviour::{Actor, Context, FnActor};
use super::incarnations::Incarnations;
use super::next::Next;
use super::run::{Hibernating, Owned, run};
use super::selector::Selector;
use crate::info::{Behaviour, BehaviourSlot};
use crate::registry::ViaName;

/// How long an actor's init may take by default (as GenServer's 5 s).
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an actor did not start.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{Builder, Stateless, StartError};
/// let error = ferrotp::run(|| {
///     Builder::<()>::new()
///         .init_timeout(Duration::from_millis(10))
///         .start_with(|_| -> Result<Stateless<()>, _> {
///             ferrotp::sleep(Duration::from_secs(60)); // too slow
///             Ok(Stateless::default())
///         })
///         .unwrap_err()
/// }).unwrap();
/// assert_eq!(error, StartError::InitTimeout(Duration::from_millis(10)));
/// println!("{error}"); // says how to raise the timeout
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartError {
    /// Its init returned this reason (or ended its process with it).
    InitFailed(ExitReason),
    /// Its init panicked with this message.
    InitPanicked(String),
    /// Its init did not finish within the init timeout; the half-started
    /// actor was killed.
    InitTimeout(Duration),
    /// Its process could not be spawned (the name is taken, too many
    /// processes, a bad stack size).
    Spawn(SpawnError),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InitFailed(reason) => write!(f, "the actor's init failed: {reason}"),
            Self::InitPanicked(message) => write!(f, "the actor's init panicked: {message}"),
            Self::InitTimeout(after) => write!(
                f,
                "the actor's init took longer than its init timeout of {after:?} and was \
                 killed; raise it with Builder::init_timeout"
            ),
            Self::Spawn(error) => write!(f, "the actor's process could not be spawned: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

/// How to start an actor: its options, then one of the `start` methods.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{Builder, Next, StartError};
/// use ferrotp::{ExitReason, whereis};
///
/// let (found, failed) = ferrotp::run(|| {
///     let greeter = Builder::new()
///         .name("greeter")
///         .init_timeout(Duration::from_secs(1))
///         .start_fn((), |name: String, ()| { println!("hello, {name}"); Next::Continue(()) })
///         .unwrap();
///     let found = whereis("greeter") == Some(greeter.pid());
///     let failed = Builder::<String>::new()
///         .start_with(|_| Err::<ferrotp::actor::Stateless<String>, _>(ExitReason::custom("no config")));
///     (found, failed.unwrap_err())
/// }).unwrap();
/// assert!(found);
/// assert_eq!(failed, StartError::InitFailed(ExitReason::custom("no config")));
/// ```
pub struct Builder<M> {
    options: SpawnOptions,
    name: Option<Arc<str>>,
    init_timeout: Duration,
    trap_exit: bool,
    link: bool,
    /// Give the stack back while idle (`start`'s actors only).
    hibernate: bool,
    /// A registry key to take before init.
    via: Option<ViaName>,
    selector: Selector<M>,
    /// Set for a supervised actor's start (module `incarnations`).
    pub(crate) incarnations: Option<Arc<Incarnations<M>>>,
    /// What `process_info` reports it runs (a state machine sets its own).
    pub(crate) behaviour: Behaviour,
}

impl<M> std::fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("options", &self.options)
            .field("name", &self.name)
            .field("init_timeout", &self.init_timeout)
            .field("trap_exit", &self.trap_exit)
            .field("link", &self.link)
            .field("hibernate", &self.hibernate)
            .field("via", &self.via)
            .field("selector", &self.selector)
            .finish()
    }
}

impl<M: Send + 'static> Default for Builder<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Send + 'static> Builder<M> {
    /// The defaults: no name, an init timeout of
    /// [`DEFAULT_INIT_TIMEOUT`], not trapping exits, not linked, no
    /// selector, the runtime's spawn defaults.
    pub fn new() -> Self {
        Self {
            options: SpawnOptions::new(),
            name: None,
            init_timeout: DEFAULT_INIT_TIMEOUT,
            trap_exit: false,
            hibernate: true,
            via: None,
            link: false,
            selector: Selector::new(),
            incarnations: None,
            behaviour: Behaviour::Actor,
        }
    }

    /// Registers the actor under `name` before it runs (the start fails
    /// with [`StartError::Spawn`] if the name is taken); the name is
    /// freed when it ends.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long init may take before the start gives up and kills the
    /// actor ([`StartError::InitTimeout`]).
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// Traps exits from the start (before init runs): an exit signal from
    /// the parent (the starter: a supervisor's shutdown, say) runs
    /// `terminate` and stops the actor with its reason; other trapped
    /// exits are messages, for the [`Selector`] to take.
    ///
    /// ```
    /// use ferrotp::actor::{Actor, Builder, Context, Next};
    /// use ferrotp::{ExitReason, Pid, exit, receive, self_pid, send};
    ///
    /// /// Tells its parent how it ended.
    /// struct Polite(Pid);
    /// impl Actor for Polite {
    ///     type Message = ();
    ///     fn handle(&mut self, (): (), _: &mut Context<()>) -> Next { Next::CONTINUE }
    ///     fn terminate(&mut self, reason: &ExitReason, _: &mut Context<()>) {
    ///         send(&self.0, reason.clone());
    ///     }
    /// }
    /// let said = ferrotp::run(|| {
    ///     let polite = Builder::new().trap_exit(true).start(Polite(self_pid())).unwrap();
    ///     exit(&polite.pid(), ExitReason::Shutdown); // as its supervisor would
    ///     receive::<ExitReason>()
    /// }).unwrap();
    /// assert_eq!(said, ExitReason::Shutdown);
    /// ```
    pub fn trap_exit(mut self, trap: bool) -> Self {
        self.trap_exit = trap;
        self
    }

    /// Links the actor to the starter before it runs (`spawn_link`).
    ///
    /// ```
    /// use ferrotp::actor::{Builder, Next};
    /// use ferrotp::{Exit, ExitReason, receive, trap_exit};
    /// let reason = ferrotp::run(|| {
    ///     trap_exit(true); // the actor's end comes as a message
    ///     let fragile = Builder::new()
    ///         .link(true)
    ///         .start_fn((), |(), ()| Next::Stop(ExitReason::custom("gave up")))
    ///         .unwrap();
    ///     fragile.send(());
    ///     receive::<Exit>().reason
    /// }).unwrap();
    /// assert_eq!(reason, ExitReason::custom("gave up"));
    /// ```
    pub fn link(mut self, link: bool) -> Self {
        self.link = link;
        self
    }

    /// Whether a started actor gives its stack back while it is idle
    /// (module docs: no stack while idle); true by default. Each message
    /// that finds a hibernated actor then costs it a stack from the pool
    /// and a fresh coroutine (a `call` round trip to an idle actor costs
    /// about 1.5 times the instructions; `w8_call` in `benches/actors.rs`
    /// measures both): an actor that is hardly ever idle, and
    /// latency-bound, may keep its stack instead, as one made by
    /// [`start_with`](Self::start_with) always does.
    ///
    /// ```
    /// use ferrotp::actor::{Builder, Next};
    /// let hibernated = ferrotp::run(|| {
    ///     let hot = Builder::new().hibernate(false).start_fn(0u64, |n: u64, total| {
    ///         Next::Continue(total + n)
    ///     }).unwrap();
    ///     hot.send(1);
    ///     while ferrotp::process_info(&hot.pid()).unwrap().status != ferrotp::ProcessStatus::Waiting {
    ///         ferrotp::yield_now();
    ///     }
    ///     ferrotp::process_info(&hot.pid()).unwrap().hibernated
    /// }).unwrap();
    /// assert!(!hibernated);
    /// ```
    pub fn hibernate(mut self, hibernate: bool) -> Self {
        self.hibernate = hibernate;
        self
    }

    /// Registers the actor under a [`Registry`](crate::registry::Registry)
    /// key as its first act, before its init (Elixir's `{:via, Registry,
    /// key}`): [`ViaName`], made by
    /// [`Registry::via`](crate::registry::Registry::via). A key that is
    /// taken fails the start with [`StartError::InitFailed`]; the entry
    /// goes when the actor ends. Under a supervisor ([`child`](crate::actor::child)),
    /// give each incarnation's builder the name again: the replacement
    /// takes it over.
    pub fn via(mut self, name: ViaName) -> Self {
        self.via = Some(name);
        self
    }

    /// The other messages the actor accepts.
    pub fn selector(mut self, selector: Selector<M>) -> Self {
        self.selector = selector;
        self
    }

    /// Spawn options for the actor's process (stack size, mailbox bound,
    /// placement). Its name and trap-exit setting are the builder's.
    ///
    /// ```
    /// use ferrotp::actor::{Builder, Next};
    /// use ferrotp::SpawnOptions;
    /// let capacity = ferrotp::run(|| {
    ///     let bounded = Builder::new()
    ///         .spawn_options(SpawnOptions::new().mailbox_capacity(64).stack_size(128 * 1024))
    ///         .start_fn((), |(), ()| Next::Continue(()))
    ///         .unwrap();
    ///     bounded.pid().mailbox_capacity()
    /// }).unwrap();
    /// assert_eq!(capacity, Some(64));
    /// ```
    pub fn spawn_options(mut self, options: SpawnOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts `actor`: its [`Actor::init`] runs in the new process, and
    /// this returns once it has succeeded.
    ///
    /// # Errors
    /// [`StartError`]: init failed, panicked or overran; the spawn
    /// failed.
    ///
    /// # Panics
    /// Outside a process.
    pub fn start<A>(mut self, actor: A) -> Result<ActorRef<M>, StartError>
    where
        A: Actor<Message = M> + Send,
    {
        let via = self.via.take();
        let init = move |ctx: &mut Context<M>| {
            if let Some(via) = via {
                via.register()?;
            }
            // Guarded while its init runs: a `Drop` that panics as an
            // init's panic unwinds would abort the program, and one that
            // panics after a failed init would hide its reason.
            let mut actor = Owned::new(actor);
            match actor.init(ctx) {
                Ok(()) => Ok(actor.into_inner()),
                Err(reason) => {
                    actor.drop_contained();
                    Err(reason)
                }
            }
        };
        if !self.hibernate {
            return self.start_with(init);
        }
        let (starting, ack, parent, selector) = self.starting();
        let body = Hibernating::new(init, ack, selector, parent, starting.incarnations.clone());
        let pid = if starting.link {
            ferrotp_supervision::spawn_link_resumable(starting.options.clone(), body)
        } else {
            ferrotp_scheduler::spawn_resumable(starting.options.clone(), body)
        };
        starting.wait(pid)
    }

    /// Starts the actor that `init` makes, in the new process: its state
    /// need not be `Send` (it never leaves that process). Such an actor
    /// keeps its stack, and its worker, while it is idle (a [`start`](Self::start)ed
    /// one gives its stack back).
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_with<A, I>(mut self, init: I) -> Result<ActorRef<M>, StartError>
    where
        A: Actor<Message = M>,
        I: FnOnce(&mut Context<M>) -> Result<A, ExitReason> + Send + 'static,
    {
        let via = self.via.take();
        let init = move |ctx: &mut Context<M>| {
            if let Some(via) = via {
                via.register()?;
            }
            init(ctx)
        };
        let (starting, ack, parent, selector) = self.starting();
        let body = {
            let incarnations = starting.incarnations.clone();
            move || run(init, ack, selector, parent, incarnations)
        };
        let pid = if starting.link {
            ferrotp_supervision::spawn_link_opt(starting.options.clone(), body)
        } else {
            ferrotp_scheduler::spawn_opt(starting.options.clone(), body)
        };
        starting.wait(pid)
    }

    /// What both starts share before the spawn: the options, and the start
    /// acknowledgement's two ends.
    #[allow(clippy::type_complexity)]
    fn starting(
        self,
    ) -> (
        Starting<M>,
        ReplyTo<Result<(), ExitReason>>,
        Pid,
        Selector<M>,
    ) {
        let Builder {
            options,
            name,
            init_timeout,
            trap_exit,
            link,
            hibernate: _,
            via: _,
            selector,
            incarnations,
            behaviour,
        } = self;
        let mut options = options
            .trap_exit(trap_exit)
            .extension(BehaviourSlot::new(behaviour));
        if let Some(name) = name {
            options = options.register(name);
        }
        let (pending, ack) = PendingReply::<Result<(), ExitReason>>::new();
        let starting = Starting {
            options,
            init_timeout,
            link,
            incarnations,
            pending,
        };
        (starting, ack, self_pid(), selector)
    }
    /// Starts an actor in the closure style (see [`start`](crate::actor::start))
    /// with this builder's options.
    ///
    /// # Errors
    /// [`StartError::Spawn`]; the closure style has no init to fail.
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_fn<S, F>(self, state: S, handler: F) -> Result<ActorRef<M>, StartError>
    where
        S: Send + 'static,
        F: FnMut(M, S) -> Next<S> + Send + 'static,
    {
        self.start_fn_with_timeout(state, handler, Next::Continue)
    }

    /// [`start_fn`](Self::start_fn) with a handler for quiet spells: after
    /// a [`Next::ContinueTimeout`] with no message in time,
    /// `on_timeout(state)` runs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{Builder, Next};
    /// use ferrotp::ExitReason;
    /// let reason = ferrotp::run(|| {
    ///     // A session that ends after 10 ms without a message.
    ///     let session = Builder::new()
    ///         .start_fn_with_timeout(
    ///             0u32,
    ///             |(), seen| Next::ContinueTimeout(seen + 1, Duration::from_millis(10)),
    ///             |seen| Next::Stop(ExitReason::custom(format!("idle after {seen}"))),
    ///         )
    ///         .unwrap();
    ///     session.send(());
    ///     let pid = session.pid();
    ///     while !pid.has_exited() { ferrotp::yield_now(); }
    ///     pid.exit_reason().unwrap()
    /// }).unwrap();
    /// assert_eq!(reason, ExitReason::custom("idle after 1"));
    /// ```
    ///
    /// # Errors
    /// [`StartError::Spawn`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_fn_with_timeout<S, F, T>(
        self,
        state: S,
        handler: F,
        on_timeout: T,
    ) -> Result<ActorRef<M>, StartError>
    where
        S: Send + 'static,
        F: FnMut(M, S) -> Next<S> + Send + 'static,
        T: FnMut(S) -> Next<S> + Send + 'static,
    {
        self.start(FnActor {
            state: Some(state),
            handler,
            on_timeout,
            _message: PhantomData,
        })
    }
}

/// A start under way: what its wait for the acknowledgement needs.
struct Starting<M> {
    options: SpawnOptions,
    init_timeout: Duration,
    link: bool,
    incarnations: Option<Arc<Incarnations<M>>>,
    pending: PendingReply<Result<(), ExitReason>>,
}

impl<M: Send + 'static> Starting<M> {
    /// Waits for the new actor's init (module docs), after its spawn.
    fn wait(self, spawned: Result<Pid, SpawnError>) -> Result<ActorRef<M>, StartError> {
        let Starting {
            init_timeout,
            link,
            incarnations,
            pending,
            ..
        } = self;
        let pid = spawned.map_err(StartError::Spawn)?;
        // No watch of the new process: its start acknowledgement is a
        // local of its body, so an init that panics or is killed drops it
        // as the process ends, and the wait learns that process's reason
        // (module `call`); an init that overruns is the timeout's.
        let failure = match pending.wait(init_timeout) {
            Ok(Ok(())) => {
                return Ok(match incarnations {
                    Some(incarnations) => {
                        incarnations.started(&pid);
                        ActorRef::supervised(incarnations)
                    }
                    None => ActorRef::from_pid(pid),
                });
            }
            Ok(Err(reason)) => StartError::InitFailed(reason),
            Err(CallError::Timeout) => {
                exit(&pid, ExitReason::Killed);
                StartError::InitTimeout(init_timeout)
            }
            Err(CallError::Exited(reason)) => failed(reason),
            Err(CallError::NoProc) => failed(pid.exit_reason().unwrap_or(ExitReason::NoProc)),
            Err(error @ (CallError::NoReply | CallError::CalledSelf)) => StartError::InitFailed(
                ExitReason::custom(format!("no start acknowledgement: {error}")),
            ),
        };
        // The failed actor ends (killed, or ending with its reason): wait
        // for that, so that its name is free again when this returns, but
        // only so long (an init that never reaches a check point cannot be
        // killed; the long-schedule report names it).
        wait_for_end(&pid, init_timeout.max(Duration::from_millis(100)));
        if link {
            // Its link's exit signal, if this process traps exits, is a
            // message by now (it came before the end was known): taken,
            // as OTP's proc_lib does, so that it is not left over.
            let _ = receive_match_timeout(
                |exit: &Exit| exit.from.as_ref() == Some(&pid),
                Duration::ZERO,
            );
        }
        Err(failure)
    }
}

/// An actor with no state of its own, for the type of a start that fails
/// before any state exists (and for actors whose handler is all they
/// are): it handles every message by going on.
///
/// ```
/// use ferrotp::actor::{Builder, Stateless};
/// let alive = ferrotp::run(|| {
///     let sink = Builder::<u32>::new().start(Stateless::default()).unwrap();
///     sink.send(1); // taken and ignored
///     !sink.pid().has_exited()
/// }).unwrap();
/// assert!(alive);
/// ```
pub struct Stateless<M>(PhantomData<fn(M) -> M>);

impl<M> std::fmt::Debug for Stateless<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stateless")
    }
}

impl<M> Default for Stateless<M> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<M: Send + 'static> Actor for Stateless<M> {
    type Message = M;

    fn handle(&mut self, _: M, _: &mut Context<M>) -> Next {
        Next::CONTINUE
    }
}

fn failed(reason: ExitReason) -> StartError {
    match reason {
        ExitReason::Panic(message) => StartError::InitPanicked(message.to_string()),
        reason => StartError::InitFailed(reason),
    }
}

/// Waits until `pid` has ended, up to `limit`.
fn wait_for_end(pid: &Pid, limit: Duration) {
    let (mut pending, _never) = PendingReply::<()>::new();
    if pending.watch(pid) {
        let _ = pending.wait(limit);
    }
}
