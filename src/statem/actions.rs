//! What a state machine's callbacks return: [`Init`] (the first state),
//! [`Transition`] (after an event) and [`Enter`] (after a state enter
//! call), each with the actions it may carry.
//!
//! The three types differ in what they can say, so OTP's rules hold at
//! compile time: only a [`Transition`] can postpone its event or change
//! the state; an [`Enter`] (a state enter call) can neither, nor insert
//! an event.
//!
//! ```compile_fail
//! // A state enter call may not postpone (OTP's rule): `Enter` has no
//! // `postpone`, so this does not compile.
//! use ferrotp::statem::Enter;
//! fn enter<S: ferrotp::statem::StateMachine>(event: ferrotp::statem::EventOf<S>) -> Enter<S> {
//!     Enter::keep().postpone(event)
//! }
//! ```
//!
//! ```compile_fail
//! // Nor change the state.
//! use ferrotp::statem::Enter;
//! fn enter<S: ferrotp::statem::StateMachine>(next: S::State) -> Enter<S> {
//!     Enter::next_state(next)
//! }
//! ```

use std::borrow::Cow;
use std::time::Duration;

use ferrotp_scheduler::{ExitReason, ReplyTo};

use super::machine::{EventOf, StateMachine};

/// The name of a generic timeout ([`Transition::timeout`]).
pub type TimeoutName = Cow<'static, str>;

/// One action, in the order the callback gave it.
pub(crate) enum Action<S: StateMachine> {
    /// Send a reply (a closure over the reply address and the value).
    Reply(Box<dyn FnOnce()>),
    /// Keep this event until the state changes.
    Postpone(EventOf<S>),
    /// Insert an internal event before any queued one.
    NextEvent(S::Message),
    /// Arm (or, `None`, cancel) the state timeout.
    StateTimeout(Option<(Duration, S::Message)>),
    /// Arm the event timeout.
    EventTimeout(Duration, S::Message),
    /// Arm (or, `None`, cancel) a generic timeout.
    Timeout(TimeoutName, Option<(Duration, S::Message)>),
}

/// What changes after an event.
pub(crate) enum Change<St> {
    Keep,
    Next(St),
    Repeat,
    Stop(ExitReason),
}

/// The actions every callback may return: replies and timeouts. Written
/// once, for the three result types.
macro_rules! common_actions {
    () => {
        /// Replies `value` to `to` (the reply address a call carried,
        /// kept from an earlier event or state if need be).
        pub fn reply<R: Send + 'static>(mut self, to: ReplyTo<R>, value: R) -> Self {
            self.actions.push(Action::Reply(Box::new(move || {
                // A caller that gave up is no error of the machine's.
                let _ = to.send(value);
            })));
            self
        }

        /// Arms the state timeout: `message` comes back as
        /// [`Event::StateTimeout`](crate::statem::Event::StateTimeout)
        /// after `after`, unless the state changes first (or it is armed
        /// again, or cancelled). Set in a transition that changes the
        /// state, it runs in the new state.
        pub fn state_timeout(mut self, after: Duration, message: S::Message) -> Self {
            self.actions
                .push(Action::StateTimeout(Some((after, message))));
            self
        }

        /// Cancels the state timeout, if one is armed.
        pub fn cancel_state_timeout(mut self) -> Self {
            self.actions.push(Action::StateTimeout(None));
            self
        }

        /// Arms the event timeout: `message` comes back as
        /// [`Event::EventTimeout`](crate::statem::Event::EventTimeout)
        /// after `after`, unless any event comes first (an event already
        /// queued cancels it at once).
        pub fn event_timeout(mut self, after: Duration, message: S::Message) -> Self {
            self.actions.push(Action::EventTimeout(after, message));
            self
        }

        /// Arms the generic timeout `name`: `message` comes back as
        /// [`Event::Timeout`](crate::statem::Event::Timeout) after
        /// `after`. It survives state changes and events; arming `name`
        /// again replaces it; [`cancel_timeout`](Self::cancel_timeout)
        /// stops it.
        pub fn timeout(
            mut self,
            name: impl Into<TimeoutName>,
            after: Duration,
            message: S::Message,
        ) -> Self {
            self.actions
                .push(Action::Timeout(name.into(), Some((after, message))));
            self
        }

        /// Cancels the generic timeout `name`, if it is armed.
        pub fn cancel_timeout(mut self, name: impl Into<TimeoutName>) -> Self {
            self.actions.push(Action::Timeout(name.into(), None));
            self
        }
    };
}

/// What [`StateMachine::init`] returns: the first state, and the actions
/// to take as the machine starts (timeouts; events to handle before any
/// message).
#[must_use = "init names the machine's first state"]
pub struct Init<S: StateMachine> {
    pub(crate) state: S::State,
    pub(crate) actions: Vec<Action<S>>,
}

impl<S: StateMachine> Init<S> {
    /// Starts in `state`.
    pub fn state(state: S::State) -> Self {
        Self {
            state,
            actions: Vec::new(),
        }
    }

    /// Handles the internal event `message` first, before any message
    /// (OTP's `{next_event, internal, Msg}` from init).
    pub fn next_event(mut self, message: S::Message) -> Self {
        self.actions.push(Action::NextEvent(message));
        self
    }

    common_actions!();
}

/// What [`StateMachine::handle_event`] returns: keep the state, change
/// it, enter it again, or stop; with the actions to take.
///
/// After a transition that **changes** the state (to one not equal to
/// the old), the postponed events are handled again, oldest first, before
/// any other queued event; the state timeout is cancelled (unless this
/// transition armed it); the state enter call runs with the old state.
#[must_use = "the machine goes on as the transition says"]
pub struct Transition<S: StateMachine> {
    pub(crate) change: Change<S::State>,
    pub(crate) actions: Vec<Action<S>>,
}

impl<S: StateMachine> Transition<S> {
    /// Stays in the state (OTP's `keep_state`).
    pub fn keep_state() -> Self {
        Self::with(Change::Keep)
    }

    /// Goes to `state` (OTP's `next_state`); the same state as now is a
    /// [`keep_state`](Self::keep_state).
    pub fn next_state(state: S::State) -> Self {
        Self::with(Change::Next(state))
    }

    /// Stays in the state, but runs its enter call again, as if it had
    /// just been entered (OTP's `repeat_state`); postponed events stay
    /// postponed.
    pub fn repeat_state() -> Self {
        Self::with(Change::Repeat)
    }

    /// Stops with `reason` (after this transition's replies):
    /// `terminate` runs, then the process ends.
    pub fn stop(reason: ExitReason) -> Self {
        Self::with(Change::Stop(reason))
    }

    fn with(change: Change<S::State>) -> Self {
        Self {
            change,
            actions: Vec::new(),
        }
    }

    /// Postpones `event` (the one being handled, given back): it is
    /// handled again, in its original order, after the next state change.
    pub fn postpone(mut self, event: EventOf<S>) -> Self {
        self.actions.push(Action::Postpone(event));
        self
    }

    /// Inserts the internal event `message`, to be handled before any
    /// queued event (several, in the order given).
    pub fn next_event(mut self, message: S::Message) -> Self {
        self.actions.push(Action::NextEvent(message));
        self
    }

    common_actions!();
}

/// What [`StateMachine::enter`] (a state enter call) returns: go on, or
/// stop; with replies and timeouts. It cannot postpone, change the state
/// or insert an event (OTP's rule; see the module docs).
#[must_use = "the machine goes on as the enter call says"]
pub struct Enter<S: StateMachine> {
    pub(crate) stop: Option<ExitReason>,
    pub(crate) actions: Vec<Action<S>>,
}

impl<S: StateMachine> Enter<S> {
    /// Goes on in the entered state.
    pub fn keep() -> Self {
        Self {
            stop: None,
            actions: Vec::new(),
        }
    }

    /// Stops with `reason`.
    pub fn stop(reason: ExitReason) -> Self {
        Self {
            stop: Some(reason),
            actions: Vec::new(),
        }
    }

    common_actions!();
}
