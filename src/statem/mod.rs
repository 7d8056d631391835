//! State machines in the style of OTP's `gen_statem`: explicit states,
//! events by kind, postponing, inserted events, three kinds of timeout,
//! and state enter calls.
//!
//! A [`StateMachine`] keeps its data in `self` and names its state with
//! [`StateMachine::State`] (usually an enum). Each [`Event`] (a
//! [`Call`](Event::Call) with its reply address, a [`Cast`](Event::Cast),
//! an [`Info`](Event::Info) message, an [`Internal`](Event::Internal)
//! event, or a timeout) goes to [`StateMachine::handle_event`] with the
//! state it came in, which returns a [`Transition`]: keep the state,
//! change it, enter it again or stop, with actions.
//!
//! # Actions
//!
//! * **reply** to a call's reply address, now or from a later state (keep
//!   the [`ReplyTo`](crate::ReplyTo));
//! * **postpone** the event: it is handled again, in its original order,
//!   after the next state change, before any other queued event;
//! * **next_event**: an internal event handled before any queued one;
//! * **state timeout**: cancelled by a state change;
//! * **event timeout**: cancelled by any event;
//! * **generic timeouts**, by name: they survive state changes and
//!   events; arming one again replaces it; it can be cancelled.
//!
//! A cancelled or replaced timeout never fires, even if its timer had
//! already sent its message (module `timers`).
//!
//! # State enter calls
//!
//! [`StateMachine::enter`] runs after each state change with the old
//! state (and once for the first state, entered from itself). It returns
//! an [`Enter`], which can reply, set timeouts or stop, but cannot
//! postpone, change the state or insert an event (OTP's rule, enforced by
//! the type: such code does not compile).
//!
//! # Like actors
//!
//! A state machine is an [actor](crate::actor) underneath: its init runs
//! before [`Builder::start`] returns (within the init timeout), it is
//! called and stopped through its typed address ([`StatemRef`]),
//! supervised with [`child`] (an address that follows restarts), and an
//! idle machine holds no stack. A supervised machine that crashes hands
//! its postponed events, and the calls, casts and info events it had
//! queued, to its replacement ahead of its mailbox
//! ([`Actor::unhandled`](crate::actor::Actor::unhandled)): only the event
//! it crashed on is lost. Its inserted events and timeouts go with it (a
//! timeout's message left in its mailbox never fires in the
//! replacement). `terminate` runs on a stop, a panic, and
//! a trapped exit from its parent.
//!
//! # A complete program
//!
//! A connection that postpones sends until it is connected, retries
//! connecting on a state timeout, and counts its connections in its enter
//! call:
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::statem::{Context, Enter, Event, Init, StateMachine, Transition};
//! use ferrotp::ReplyTo;
//!
//! #[derive(Clone, Debug, PartialEq)]
//! enum State { Connecting, Connected }
//! enum Call { Send(&'static str, ReplyTo<String>) }
//! enum Msg { Retry, Up }
//!
//! struct Connection { attempts: u32, connections: u32 }
//!
//! impl StateMachine for Connection {
//!     type State = State;
//!     type Call = Call;
//!     type Message = Msg;
//!
//!     fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ferrotp::ExitReason> {
//!         Ok(Init::state(State::Connecting).state_timeout(Duration::from_millis(1), Msg::Retry))
//!     }
//!
//!     fn handle_event(&mut self, state: &State, event: Event<Call, Msg>, _: &mut Context<Self>)
//!         -> Transition<Self>
//!     {
//!         match (state, event) {
//!             // Not connected yet: keep the send for later.
//!             (State::Connecting, event @ Event::Call(_)) => Transition::keep_state().postpone(event),
//!             (State::Connecting, Event::StateTimeout(Msg::Retry)) => {
//!                 self.attempts += 1;
//!                 if self.attempts < 3 {
//!                     // Try again: a new state timeout in the same state.
//!                     Transition::keep_state().state_timeout(Duration::from_millis(1), Msg::Retry)
//!                 } else {
//!                     Transition::keep_state().next_event(Msg::Up)
//!                 }
//!             }
//!             (State::Connecting, Event::Internal(Msg::Up)) => Transition::next_state(State::Connected),
//!             (State::Connected, Event::Call(Call::Send(data, reply))) => {
//!                 let sent = format!("sent {data} after {} attempts", self.attempts);
//!                 Transition::keep_state().reply(reply, sent)
//!             }
//!             _ => Transition::keep_state(),
//!         }
//!     }
//!
//!     fn enter(&mut self, _old: &State, state: &State, _: &mut Context<Self>) -> Enter<Self> {
//!         if *state == State::Connected {
//!             self.connections += 1;
//!         }
//!         Enter::keep()
//!     }
//! }
//!
//! let sent = ferrotp::run(|| {
//!     let connection = Connection { attempts: 0, connections: 0 }.start().unwrap();
//!     // Called at once: postponed until the machine is connected.
//!     connection.call(|reply| Call::Send("hello", reply), Duration::from_secs(5)).unwrap()
//! }).unwrap();
//! assert_eq!(sent, "sent hello after 3 attempts");
//! ```
//!
//! | file | what it holds |
//! |---|---|
//! | `machine.rs` | the [`StateMachine`] trait, [`Event`], [`Context`] |
//! | `actions.rs` | [`Init`], [`Transition`], [`Enter`]: results and their actions |
//! | `engine.rs` | the engine: events, the queue, the order actions apply in |
//! | `timers.rs` | the three timeout kinds; stale timeouts dropped |
//! | `address.rs` | [`StatemRef`], [`Builder`], [`child`] |

mod actions;
mod address;
mod engine;
mod machine;
mod timers;

pub use actions::{Enter, Init, TimeoutName, Transition};
pub use address::{Builder, StatemRef, child};
pub use machine::{Context, Event, EventOf, StateMachine};
