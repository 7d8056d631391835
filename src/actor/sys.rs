//! OTP `sys`-style debug access to a running actor: read its state,
//! replace it, suspend and resume it, and trace the messages it handles
//! ([`ActorRef::sys_get_state`](super::ActorRef::sys_get_state) and the
//! methods next to it; [`StatemRef`](crate::statem::StatemRef) has the
//! same for a state machine's data and state).
//!
//! # Design
//!
//! Each request is a *system message* ([`System`]), a type of the actor
//! layer's own that no user message can be, sent to the actor's process
//! and handled by the actor loop between two messages, as `stop` is
//! (module `run`). So it works the same for an actor that hibernates
//! between messages and for one that keeps its stack, and it never runs
//! in the middle of a handler. Each request waits for the actor's answer
//! with a timeout, watching the actor ([`call`](crate::call)).
//!
//! * **State**: a closure sent to the actor runs on its state there, as
//!   `&mut dyn Any`, and is downcast to the type the caller names: a wrong
//!   type is [`SysError::WrongType`], naming both types. For an actor
//!   made with the closure style the state is the closure's state.
//! * **Suspend / resume**: a suspended actor takes only system messages
//!   (a selective receive of that one type): every other message stays in
//!   its mailbox, in arrival order, and is handled after `resume`. No
//!   idle timeout fires while it is suspended; the quiet spell starts
//!   again at `resume`. A suspended actor that hibernates is woken by
//!   each arrival and looks for a system message again, so a long
//!   suspension under heavy traffic costs a scan per arrival.
//! * **Trace**: off by default. [`Trace`] says where each handled message
//!   goes: a `tracing` event (target `ferrotp::sys`, level `INFO`) and/or
//!   a [`Traced`] message to a pid, described by a function given with
//!   [`Trace::describe`] (else by the message's type name). The actor
//!   loop asks one `Option` field of its context, which it has in hand,
//!   before each message: that branch is the whole cost when off.
//!
//! # Invariants
//!
//! 1. A system message is handled between two messages, never inside a
//!    handler, and in its arrival order with the other system messages.
//! 2. While suspended, the actor takes no message but system messages:
//!    none is lost or reordered, since a selective receive leaves the
//!    others where they are.
//! 3. `stop` is a system message too: a suspended actor still stops (as
//!    OTP's `sys:terminate` does).

use std::any::Any;
use std::fmt;
use std::time::Duration;

use ferrotp_scheduler::{CallError, ExitReason, Pid, ReplyTo};

/// A closure run on an actor's state: `(state, its type's name)`.
pub(crate) type OnState = Box<dyn FnOnce(&mut dyn Any, &'static str) + Send>;

/// Describes a traced message.
type Describe<M> = Box<dyn Fn(&M) -> String + Send>;

/// A system message for an actor whose messages are `M` (module docs).
pub(crate) enum System<M> {
    /// `ActorRef::stop`.
    Stop(ExitReason),
    /// Runs on the state: `(state, its type's name)`; answers itself.
    State(OnState),
    Suspend(ReplyTo<()>),
    Resume(ReplyTo<()>),
    Trace(Option<Trace<M>>, ReplyTo<()>),
}

/// Why a `sys` request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SysError {
    /// The request could not be made or answered: the actor has ended, is
    /// between two incarnations, or did not answer in time.
    Call(CallError),
    /// The state is not of the type asked for.
    WrongType {
        /// The type the caller asked for.
        asked: &'static str,
        /// The type of the actor's state.
        state: &'static str,
    },
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysError::Call(error) => write!(f, "the sys request failed: {error}"),
            SysError::WrongType { asked, state } => write!(
                f,
                "the sys request asked for the state as `{asked}`, but the actor's state is a \
                 `{state}`"
            ),
        }
    }
}

impl std::error::Error for SysError {}

impl From<CallError> for SysError {
    fn from(error: CallError) -> Self {
        SysError::Call(error)
    }
}

/// Where an actor's handled messages are traced to (module docs). Built
/// with [`Trace::tracing`] and/or [`Trace::to`], then given to
/// [`ActorRef::sys_trace`](super::ActorRef::sys_trace).
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{self, Next, Trace, Traced};
/// use ferrotp::{receive, self_pid};
/// let seen = ferrotp::run(|| {
///     let adder = actor::start(0u64, |n: u64, total| Next::Continue(total + n)).unwrap();
///     let trace = Trace::to(self_pid()).describe(|n: &u64| format!("add {n}"));
///     adder.sys_trace(Some(trace), Duration::from_secs(5)).unwrap();
///     adder.send(2);
///     adder.send(3);
///     let seen = [receive::<Traced>().event, receive::<Traced>().event];
///     adder.sys_trace(None, Duration::from_secs(5)).unwrap();
///     seen
/// }).unwrap();
/// assert_eq!(seen, ["add 2", "add 3"]);
/// ```
pub struct Trace<M> {
    tracing: bool,
    to: Option<Pid>,
    describe: Option<Describe<M>>,
}

impl<M> fmt::Debug for Trace<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("tracing", &self.tracing)
            .field("to", &self.to)
            .field("describe", &self.describe.is_some())
            .finish()
    }
}

impl<M: 'static> Trace<M> {
    /// Each handled message as a `tracing` event (target `ferrotp::sys`,
    /// level `INFO`, fields `pid` and `event`).
    pub fn tracing() -> Self {
        Self {
            tracing: true,
            to: None,
            describe: None,
        }
    }

    /// Each handled message as a [`Traced`] message to `pid`.
    pub fn to(pid: Pid) -> Self {
        Self {
            tracing: false,
            to: Some(pid),
            describe: None,
        }
    }

    /// Also to `pid` (after [`tracing`](Self::tracing)).
    pub fn and_to(mut self, pid: Pid) -> Self {
        self.to = Some(pid);
        self
    }

    /// Describes each of the actor's own messages with `describe` (else
    /// by its type's name). Messages a selector mapped in are described
    /// the same way, once mapped.
    pub fn describe(mut self, describe: impl Fn(&M) -> String + Send + 'static) -> Self {
        self.describe = Some(Box::new(describe));
        self
    }

    /// This trace for messages of type `N` (a state machine's envelope):
    /// each described by `describe(n, inner)`, where `inner` describes an
    /// `M` as this trace would.
    pub(crate) fn map<N: 'static>(
        self,
        describe: impl Fn(&N, &dyn Fn(&M) -> String) -> String + Send + 'static,
    ) -> Trace<N> {
        let inner = self.describe;
        Trace {
            tracing: self.tracing,
            to: self.to,
            describe: Some(Box::new(move |message: &N| {
                let inner = |m: &M| match &inner {
                    Some(describe) => describe(m),
                    None => std::any::type_name::<M>().to_owned(),
                };
                describe(message, &inner)
            })),
        }
    }

    /// Reports one handled message (`None`: the idle timeout).
    pub(crate) fn message(&self, actor: &Pid, message: Option<&M>) {
        let event = match (message, &self.describe) {
            (None, _) => "timeout".to_owned(),
            (Some(message), Some(describe)) => describe(message),
            (Some(_), None) => std::any::type_name::<M>().to_owned(),
        };
        if self.tracing {
            tracing::info!(target: "ferrotp::sys", pid = %actor, event = event.as_str(), "handled");
        }
        if let Some(to) = &self.to {
            ferrotp_scheduler::send(
                to,
                Traced {
                    actor: actor.clone(),
                    event,
                },
            );
        }
    }
}

/// One message an actor handled, as a trace sent to a pid
/// ([`Trace::to`]) gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Traced {
    /// The actor's process.
    pub actor: Pid,
    /// The message, as [`Trace::describe`] wrote it (else its type's
    /// name), or `"timeout"` for the idle timeout.
    pub event: String,
}

/// The `sys` state of one actor (in its context).
pub(crate) struct SysState<M> {
    pub(crate) suspended: bool,
    /// Boxed: one word in every actor's context, idle ones included
    /// (`Trace` is a few words, and most actors are never traced).
    pub(crate) trace: Option<Box<Trace<M>>>,
}

impl<M> Default for SysState<M> {
    fn default() -> Self {
        Self {
            suspended: false,
            trace: None,
        }
    }
}

/// The request that runs `f` on the state as an `A` and answers with
/// its result.
pub(crate) fn on_state<M, A, R>(
    f: impl FnOnce(&mut A) -> R + Send + 'static,
) -> impl FnOnce(ReplyTo<Result<R, SysError>>) -> System<M>
where
    A: 'static,
    R: Send + 'static,
{
    move |reply| {
        System::State(Box::new(move |state: &mut dyn Any, name: &'static str| {
            let answer = match state.downcast_mut::<A>() {
                Some(state) => Ok(f(state)),
                None => Err(SysError::WrongType {
                    asked: std::any::type_name::<A>(),
                    state: name,
                }),
            };
            reply.send(answer);
        }))
    }
}

/// Makes a `sys` call to `pid` and flattens its answer.
pub(crate) fn sys_call<M: Send + 'static, R: Send + 'static>(
    pid: &Pid,
    request: impl FnOnce(ReplyTo<Result<R, SysError>>) -> System<M>,
    timeout: Duration,
) -> Result<R, SysError> {
    ferrotp_scheduler::call(pid, request, timeout)?
}
