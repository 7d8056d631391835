//! The [`StateMachine`] trait, its [`Event`]s and its [`Context`].

use std::fmt::Debug;

use ferrotp_scheduler::{ExitReason, Pid};

use super::actions::{Enter, Init, TimeoutName, Transition};
use super::address::StatemRef;

/// A state machine in the style of OTP's `gen_statem`: `self` is its
/// data, [`State`](StateMachine::State) names the state it is in, and
/// each [`Event`] is handled by [`handle_event`](StateMachine::handle_event)
/// with the state it comes in.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::statem::{Event, Init, StateMachine, Transition, Context};
/// use ferrotp::ReplyTo;
///
/// /// A door that opens with the right code and locks again by itself.
/// struct Door { code: u32 }
/// #[derive(Clone, Debug, PartialEq)]
/// enum State { Locked, Open }
/// enum Call { Push(u32, ReplyTo<bool>), State(ReplyTo<State>) }
/// enum Msg { Lock }
///
/// impl StateMachine for Door {
///     type State = State;
///     type Call = Call;
///     type Message = Msg;
///     fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ferrotp::ExitReason> {
///         Ok(Init::state(State::Locked))
///     }
///     fn handle_event(&mut self, state: &State, event: Event<Call, Msg>, _: &mut Context<Self>)
///         -> Transition<Self>
///     {
///         match (state, event) {
///             (State::Locked, Event::Call(Call::Push(code, reply))) if code == self.code => {
///                 Transition::next_state(State::Open)
///                     .reply(reply, true)
///                     .state_timeout(Duration::from_secs(10), Msg::Lock)
///             }
///             (_, Event::Call(Call::Push(_, reply))) => Transition::keep_state().reply(reply, false),
///             (_, Event::Call(Call::State(reply))) => {
///                 Transition::keep_state().reply(reply, state.clone())
///             }
///             (State::Open, Event::StateTimeout(Msg::Lock)) => Transition::next_state(State::Locked),
///             _ => Transition::keep_state(),
///         }
///     }
/// }
///
/// let (wrong, right, state) = ferrotp::run(|| {
///     let door = Door { code: 42 }.start().unwrap();
///     let t = Duration::from_secs(5);
///     let wrong = door.call(|r| Call::Push(7, r), t).unwrap();
///     let right = door.call(|r| Call::Push(42, r), t).unwrap();
///     (wrong, right, door.call(Call::State, t).unwrap())
/// }).unwrap();
/// assert_eq!((wrong, right, state), (false, true, State::Open));
/// ```
pub trait StateMachine: Sized + 'static {
    /// The name of a state: usually an enum. Two states are the same
    /// when they are equal (a transition to an equal state is no change).
    type State: Clone + PartialEq + Debug + Send + 'static;
    /// Requests that want a reply: each carries its
    /// [`ReplyTo`](crate::ReplyTo) (made by [`StatemRef::call`]).
    type Call: Send + 'static;
    /// Every other event's content: casts, other messages (info),
    /// internal events and timeouts.
    type Message: Send + 'static;

    /// Runs in the machine's process before the start returns (within
    /// the builder's init timeout) and names the first state.
    ///
    /// # Errors
    /// The reason the machine cannot start: the start fails with
    /// [`StartError::InitFailed`](crate::actor::StartError::InitFailed).
    fn init(&mut self, ctx: &mut Context<Self>) -> Result<Init<Self>, ExitReason>;

    /// Handles `event`, which came in `state`.
    fn handle_event(
        &mut self,
        state: &Self::State,
        event: EventOf<Self>,
        ctx: &mut Context<Self>,
    ) -> Transition<Self>;

    /// The state enter call: runs after every state change, with the old
    /// state (and for the first state, with `old == state`, as OTP's
    /// does), before any event in the new state. By default, nothing.
    fn enter(
        &mut self,
        old: &Self::State,
        state: &Self::State,
        ctx: &mut Context<Self>,
    ) -> Enter<Self> {
        let _ = (old, state, ctx);
        Enter::keep()
    }

    /// Runs as the machine stops: after a [`Transition::stop`], a panic in
    /// a callback, and an exit signal from its parent when it traps exits.
    /// Not on a kill, which cannot be trapped (`self` is still dropped).
    fn terminate(&mut self, reason: &ExitReason, state: &Self::State, ctx: &mut Context<Self>) {
        let _ = (reason, state, ctx);
    }

    /// Starts the machine with the default [`Builder`](crate::statem::Builder).
    ///
    /// # Errors
    /// As for [`Builder::start`](crate::statem::Builder::start).
    ///
    /// # Panics
    /// Outside a process.
    fn start(self) -> Result<StatemRef<Self>, crate::actor::StartError>
    where
        Self: Send,
    {
        super::Builder::new().start(self)
    }
}

/// An event, by kind (OTP's event types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<C, M> {
    /// A request that wants a reply ([`StatemRef::call`]).
    Call(C),
    /// A message sent to the machine's address ([`StatemRef::cast`]).
    Cast(M),
    /// Any other message: one sent to the machine's pid, or mapped in by
    /// its [`Selector`](crate::actor::Selector).
    Info(M),
    /// An event inserted by a [`next_event`](Transition::next_event)
    /// action.
    Internal(M),
    /// The state timeout ran out.
    StateTimeout(M),
    /// The event timeout ran out.
    EventTimeout(M),
    /// The generic timeout with this name ran out.
    Timeout(TimeoutName, M),
}

/// The events of state machine `S`.
pub type EventOf<S> = Event<<S as StateMachine>::Call, <S as StateMachine>::Message>;

/// What a callback may ask of its machine: its own address and pid.
pub struct Context<S: StateMachine> {
    myself: StatemRef<S>,
    pid: Pid,
}

impl<S: StateMachine> Debug for Context<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("myself", &self.myself)
            .finish()
    }
}

impl<S: StateMachine> Context<S> {
    pub(crate) fn new(myself: StatemRef<S>, pid: Pid) -> Self {
        Self { myself, pid }
    }

    /// The machine's own address (for a supervised machine, the one that
    /// follows its restarts).
    pub fn myself(&self) -> &StatemRef<S> {
        &self.myself
    }

    /// The machine's process (this incarnation's, when supervised).
    pub fn pid(&self) -> &Pid {
        &self.pid
    }
}
