//! [`StatemRef`], a state machine's typed address, and [`Builder`], how
//! one is started.

use std::sync::Arc;
use std::time::Duration;

use ferrotp_scheduler::{CallError, ExitReason, Pid, ReplyTo, SpawnOptions};

use crate::actor::{self, ActorRef, Selector, StartError, SysError};

use super::engine::{Engine, Envelope, EnvelopeOf};
use super::machine::StateMachine;

/// The address of a state machine `S`: cloneable, `Send`, typed. Casts
/// take `S::Message`, calls make an `S::Call` around their reply address.
///
/// It is an [`ActorRef`] underneath: a supervised machine's address
/// ([`child`](crate::statem::child)) follows its restarts and holds what
/// is sent while it restarts, as an actor's does.
pub struct StatemRef<S: StateMachine> {
    inner: ActorRef<EnvelopeOf<S>>,
}

impl<S: StateMachine> Clone for StatemRef<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: StateMachine> std::fmt::Debug for StatemRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StatemRef<{}>({:?})",
            std::any::type_name::<S>(),
            self.inner
        )
    }
}

impl<S: StateMachine> PartialEq for StatemRef<S> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl<S: StateMachine> Eq for StatemRef<S> {}

impl<S: StateMachine> StatemRef<S> {
    pub(crate) fn from_actor(inner: ActorRef<EnvelopeOf<S>>) -> Self {
        Self { inner }
    }

    /// The address of `pid`, taken on trust to be a machine `S` (as
    /// [`ActorRef::from_pid`]): found in a registry, say.
    pub fn from_pid(pid: Pid) -> Self {
        Self::from_actor(ActorRef::from_pid(pid))
    }

    /// The machine registered as `name`, taken on trust to be an `S`
    /// (as [`ActorRef::whereis`]).
    pub fn whereis(name: &str) -> Option<Self> {
        ActorRef::whereis(name).map(Self::from_actor)
    }

    /// Sends `message` as a [`Cast`](crate::statem::Event::Cast) event.
    pub fn cast(&self, message: S::Message) {
        self.inner.send(Envelope::Cast(message));
    }

    /// [`cast`](Self::cast), by its Erlang name.
    pub fn send(&self, message: S::Message) {
        self.cast(message);
    }

    /// Sends the request `request(reply)` as a
    /// [`Call`](crate::statem::Event::Call) event and waits up to
    /// `timeout` for the reply ([`ActorRef::call`]: the machine is
    /// watched meanwhile; a late reply never reaches the mailbox). The
    /// machine may reply from a later state: a postponed call keeps its
    /// reply address.
    ///
    /// # Errors
    /// [`CallError`], as for [`ActorRef::call`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn call<R: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<R>) -> S::Call,
        timeout: Duration,
    ) -> Result<R, CallError> {
        self.inner
            .call(|reply| Envelope::Call(request(reply)), timeout)
    }

    /// Stops the machine ([`ActorRef::stop`]): `terminate` runs with
    /// `reason`.
    ///
    /// # Errors
    /// As for [`ActorRef::stop`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn stop(&self, reason: ExitReason, timeout: Duration) -> Result<(), CallError> {
        self.inner.stop(reason, timeout)
    }

    /// The machine's data and state, as `f` sees them (OTP's
    /// `sys:get_state` for gen_statem; [`ActorRef::sys_get_state`]):
    /// `f` runs in the machine's process, between two events.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::statem::{Context, Event, Init, StateMachine, Transition};
    /// /// Counts casts, in state `()`.
    /// struct Tally(u32);
    /// impl StateMachine for Tally {
    ///     type State = ();
    ///     type Call = ();
    ///     type Message = ();
    ///     fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ferrotp::ExitReason> {
    ///         Ok(Init::state(()))
    ///     }
    ///     fn handle_event(&mut self, _: &(), _: Event<(), ()>, _: &mut Context<Self>)
    ///         -> Transition<Self>
    ///     {
    ///         self.0 += 1;
    ///         Transition::keep_state()
    ///     }
    /// }
    /// let t = Duration::from_secs(5);
    /// let count = ferrotp::run(move || {
    ///     let tally = Tally(0).start().unwrap();
    ///     tally.cast(());
    ///     tally.sys_replace_state(|data: &mut Tally, _| data.0 += 10, t).unwrap();
    ///     tally.sys_get_state(|data: &Tally, _| data.0, t)
    /// }).unwrap();
    /// assert_eq!(count, Ok(11));
    /// ```
    ///
    /// # Errors
    /// [`SysError::Call`] if the machine has ended or does not answer in
    /// time.
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_get_state<R: Send + 'static>(
        &self,
        f: impl FnOnce(&S, &S::State) -> R + Send + 'static,
        timeout: Duration,
    ) -> Result<R, SysError>
    where
        S: Send,
    {
        self.inner.sys_get_state(
            move |engine: &Engine<S>| {
                let (data, state) = engine.sys_parts();
                f(data, state)
            },
            timeout,
        )
    }

    /// Changes the machine's data and state in place (OTP's
    /// `sys:replace_state`): `f` runs in its process, between two events.
    /// A state changed this way is a change of state for
    /// [`process_info`](crate::process_info), but no enter call runs
    /// and no timeout is touched (as in OTP). The example is on
    /// [`sys_get_state`](Self::sys_get_state).
    ///
    /// # Errors
    /// As for [`sys_get_state`](Self::sys_get_state).
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_replace_state<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S, &mut S::State) -> R + Send + 'static,
        timeout: Duration,
    ) -> Result<R, SysError>
    where
        S: Send,
    {
        self.inner
            .sys_replace_state(move |engine: &mut Engine<S>| engine.sys_replace(f), timeout)
    }

    /// Suspends the machine ([`ActorRef::sys_suspend`]): it takes only
    /// system messages until [`sys_resume`](Self::sys_resume); events
    /// wait in its mailbox, in order.
    ///
    /// # Errors
    /// [`SysError::Call`] if the machine has ended or does not answer in
    /// time.
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_suspend(&self, timeout: Duration) -> Result<(), SysError> {
        self.inner.sys_suspend(timeout)
    }

    /// Resumes a suspended machine ([`ActorRef::sys_resume`]).
    ///
    /// # Errors
    /// As for [`sys_suspend`](Self::sys_suspend).
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_resume(&self, timeout: Duration) -> Result<(), SysError> {
        self.inner.sys_resume(timeout)
    }

    /// Traces the messages the machine takes ([`ActorRef::sys_trace`]),
    /// each as its event's kind and its content, described by `trace`'s
    /// [`describe`](crate::actor::Trace::describe) (a call as the type of
    /// its request): `cast …`, `info …`, `call …`, `timeout …`. `None`
    /// stops the trace.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{Trace, Traced};
    /// use ferrotp::statem::{Context, Event, Init, StateMachine, Transition};
    /// use ferrotp::{receive, self_pid};
    ///
    /// struct Switch;
    /// impl StateMachine for Switch {
    ///     type State = bool;
    ///     type Call = ferrotp::ReplyTo<bool>;
    ///     type Message = &'static str;
    ///     fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ferrotp::ExitReason> {
    ///         Ok(Init::state(false))
    ///     }
    ///     fn handle_event(&mut self, on: &bool, event: Event<Self::Call, &'static str>, _: &mut Context<Self>)
    ///         -> Transition<Self>
    ///     {
    ///         match event {
    ///             Event::Call(reply) => Transition::keep_state().reply(reply, *on),
    ///             _ => Transition::next_state(!on),
    ///         }
    ///     }
    /// }
    /// let seen = ferrotp::run(|| {
    ///     let switch = Switch.start().unwrap();
    ///     let trace = Trace::to(self_pid()).describe(|m: &&str| m.to_string());
    ///     switch.sys_trace(Some(trace), Duration::from_secs(5)).unwrap();
    ///     switch.cast("flip");
    ///     receive::<Traced>().event
    /// }).unwrap();
    /// assert_eq!(seen, "cast flip");
    /// ```
    ///
    /// # Errors
    /// As for [`sys_suspend`](Self::sys_suspend).
    ///
    /// # Panics
    /// Outside a process.
    pub fn sys_trace(
        &self,
        trace: Option<crate::actor::Trace<S::Message>>,
        timeout: Duration,
    ) -> Result<(), SysError> {
        let trace = trace.map(|trace| {
            trace.map(|envelope: &EnvelopeOf<S>, describe| match envelope {
                Envelope::Call(_) => format!("call {}", std::any::type_name::<S::Call>()),
                Envelope::Cast(message) => format!("cast {}", describe(message)),
                Envelope::Info(message) => format!("info {}", describe(message)),
                Envelope::Timer { kind, message, .. } => {
                    format!("timeout {} {}", kind.describe(), describe(message))
                }
                Envelope::Kick => "start".to_owned(),
            })
        });
        self.inner.sys_trace(trace, timeout)
    }

    /// The machine's process (for a supervised machine, the incarnation
    /// that runs now, or the latest while it restarts).
    ///
    /// # Panics
    /// For a supervised machine that has not started yet.
    pub fn pid(&self) -> Pid {
        self.inner.pid()
    }
}

/// How a state machine is started: the actor [`Builder`](actor::Builder)'s
/// options (a name, init timeout, trapping exits, a link, hibernation,
/// other messages, spawn options), for machine `S`.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::statem::{Builder, Context, Event, Init, StateMachine, StatemRef, Transition};
/// use ferrotp::ReplyTo;
///
/// /// Counts what it is told, in one state.
/// struct Tally(u32);
/// impl StateMachine for Tally {
///     type State = ();
///     type Call = ReplyTo<u32>;
///     type Message = u32;
///     fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ferrotp::ExitReason> {
///         Ok(Init::state(()))
///     }
///     fn handle_event(&mut self, _: &(), event: Event<ReplyTo<u32>, u32>, _: &mut Context<Self>)
///         -> Transition<Self>
///     {
///         match event {
///             Event::Call(reply) => Transition::keep_state().reply(reply, self.0),
///             Event::Cast(n) | Event::Info(n) => { self.0 += n; Transition::keep_state() }
///             _ => Transition::keep_state(),
///         }
///     }
/// }
///
/// let total = ferrotp::run(|| {
///     let tally = Builder::new().name("tally").start(Tally(0)).unwrap();
///     tally.cast(2);
///     ferrotp::send(&tally.pid(), 3u32); // to the pid: an Info event
///     let found: StatemRef<Tally> = StatemRef::whereis("tally").unwrap();
///     found.call(|reply| reply, Duration::from_secs(5)).unwrap()
/// }).unwrap();
/// assert_eq!(total, 5);
/// ```
pub struct Builder<S: StateMachine> {
    inner: actor::Builder<EnvelopeOf<S>>,
    selector: Selector<S::Message>,
}

impl<S: StateMachine> std::fmt::Debug for Builder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("actor", &self.inner)
            .field("selector", &self.selector)
            .finish()
    }
}

impl<S: StateMachine> Default for Builder<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: StateMachine> Builder<S> {
    /// The actor builder's defaults ([`actor::Builder::new`]).
    pub fn new() -> Self {
        Self::from_actor(actor::Builder::new())
    }

    pub(crate) fn from_actor(inner: actor::Builder<EnvelopeOf<S>>) -> Self {
        Self {
            inner,
            selector: Selector::new(),
        }
    }

    /// Registers the machine under `name` ([`actor::Builder::name`]).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.inner = self.inner.name(name);
        self
    }

    /// How long init may take ([`actor::Builder::init_timeout`]).
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.inner = self.inner.init_timeout(timeout);
        self
    }

    /// Traps exits from the start ([`actor::Builder::trap_exit`]): an
    /// exit signal from the parent runs `terminate`.
    pub fn trap_exit(mut self, trap: bool) -> Self {
        self.inner = self.inner.trap_exit(trap);
        self
    }

    /// Links the machine to the starter ([`actor::Builder::link`]).
    pub fn link(mut self, link: bool) -> Self {
        self.inner = self.inner.link(link);
        self
    }

    /// Registers the machine under a registry key before its init
    /// ([`actor::Builder::via`]).
    pub fn via(mut self, name: crate::registry::ViaName) -> Self {
        self.inner = self.inner.via(name);
        self
    }

    /// Whether the machine gives its stack back while idle (true by
    /// default; [`actor::Builder::hibernate`]).
    pub fn hibernate(mut self, hibernate: bool) -> Self {
        self.inner = self.inner.hibernate(hibernate);
        self
    }

    /// Other message types the machine takes, each mapped into an
    /// [`Info`](crate::statem::Event::Info) event. (`S::Message`s sent to
    /// its pid are Info events without one.)
    pub fn selector(mut self, selector: Selector<S::Message>) -> Self {
        self.selector = selector;
        self
    }

    /// Spawn options ([`actor::Builder::spawn_options`]).
    pub fn spawn_options(mut self, options: SpawnOptions) -> Self {
        self.inner = self.inner.spawn_options(options);
        self
    }

    /// Starts `machine`: its [`StateMachine::init`] runs in the new
    /// process, and this returns once it has succeeded.
    ///
    /// # Errors
    /// [`StartError`], as for [`actor::Builder::start`]; init's `Err`, or
    /// a first state whose enter call stops, is
    /// [`StartError::InitFailed`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn start(self, machine: S) -> Result<StatemRef<S>, StartError>
    where
        S: Send,
    {
        let selector = self
            .selector
            .map(Envelope::Info)
            .on::<S::Message>(Envelope::Info);
        let mut inner = self.inner;
        inner.behaviour = crate::info::Behaviour::StateMachine;
        inner
            .selector(selector)
            .start(Engine::new(machine))
            .map(StatemRef::from_actor)
    }
}

/// A supervisor's [`ChildSpec`](crate::ChildSpec) for a state machine,
/// and its address, which follows its restarts ([`actor::child`]):
/// `start` starts each incarnation with the builder it is given.
pub fn child<S, F>(
    id: impl Into<Arc<str>>,
    start: F,
) -> (ferrotp_supervision::ChildSpec, StatemRef<S>)
where
    S: StateMachine,
    F: Fn(Builder<S>) -> Result<StatemRef<S>, StartError> + Send + Sync + 'static,
{
    let (spec, address) = actor::child(id, move |builder| {
        start(Builder::from_actor(builder)).map(|machine| machine.inner)
    });
    (spec, StatemRef::from_actor(address))
}
