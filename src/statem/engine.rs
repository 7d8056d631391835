//! The state machine's engine: an [`Actor`] that turns messages into
//! events, keeps the postponed and inserted events, and applies each
//! callback's actions in OTP's order.
//!
//! # Why an actor
//!
//! A state machine is started, supervised, called, stopped and
//! hibernated exactly as an actor is: the engine is the actor's state,
//! and everything else (the start handshake, init timeout, `call`, the
//! address that follows restarts, no stack while idle) is the actor
//! layer's, not a second copy.
//!
//! # The event queue
//!
//! Events come from the mailbox (one message each) and from the engine's
//! own queue: events inserted by `next_event` and postponed events
//! retried after a state change. The own queue always runs dry before the
//! next message is taken, so its events come before any message, as in
//! OTP.
//!
//! After each callback, in this order:
//! 1. replies are sent, postponed events kept, inserted events and timer
//!    actions collected, in the order given;
//! 2. on a state change (to a state not equal to the old): the postponed
//!    events go to the front of the queue, oldest first, and the state
//!    timeout is cancelled;
//! 3. inserted events go in front of those (the first given first);
//! 4. timer actions are applied (a state timeout armed by a transition
//!    that changed the state runs in the new state); an event timeout is
//!    armed only if no event is queued (a queued event would cancel it
//!    at once);
//! 5. on a state change or `repeat_state`, the enter call runs with the
//!    old state, and its replies and timeouts are applied the same way.
//!
//! Every event taken, of any kind, cancels the event timeout first.

use std::collections::VecDeque;
use std::sync::Arc;

use ferrotp_scheduler::ExitReason;

use crate::actor::{self, Actor, Next};
use crate::info::BehaviourSlot;

use super::actions::{Action, Change};
use super::address::StatemRef;
use super::machine::{Context, Event, EventOf, StateMachine};
use super::timers::{TimerKind, Timers};

/// What a state machine's process takes: the wire form of its events.
pub(crate) enum Envelope<C, M> {
    Call(C),
    Cast(M),
    Info(M),
    /// A timeout's message, tagged (module `timers`).
    Timer {
        kind: TimerKind,
        generation: u64,
        message: M,
    },
    /// Run the queued events (init inserted some).
    Kick,
}

/// The envelope of state machine `S`.
pub(crate) type EnvelopeOf<S> = Envelope<<S as StateMachine>::Call, <S as StateMachine>::Message>;

pub(crate) struct Engine<S: StateMachine> {
    machine: S,
    /// The state now; set by init.
    state: Option<S::State>,
    /// Set by init (it needs the actor's context).
    ctx: Option<Context<S>>,
    /// Events to handle before the next message.
    queue: VecDeque<EventOf<S>>,
    /// Events postponed in this state, oldest first.
    postponed: VecDeque<EventOf<S>>,
    timers: Timers,
    /// Where the state's name is published for `process_info` (module
    /// `info`): on init and on each change, never per event.
    slot: Option<Arc<BehaviourSlot>>,
}

impl<S: StateMachine> Engine<S> {
    pub(crate) fn new(machine: S) -> Self {
        Self {
            machine,
            state: None,
            ctx: None,
            queue: VecDeque::new(),
            postponed: VecDeque::new(),
            timers: Timers::default(),
            slot: None,
        }
    }

    /// The data and the state, for `sys` (after init).
    pub(crate) fn sys_parts(&self) -> (&S, &S::State) {
        let Some(state) = self.state.as_ref() else {
            unreachable!("sys requests come only after init");
        };
        (&self.machine, state)
    }

    /// Runs a `sys` replacement on the data and the state; a changed
    /// state is published (module `info`).
    pub(crate) fn sys_replace<R>(&mut self, f: impl FnOnce(&mut S, &mut S::State) -> R) -> R {
        let Some(state) = self.state.as_mut() else {
            unreachable!("sys requests come only after init");
        };
        let result = f(&mut self.machine, state);
        self.publish_state();
        result
    }

    /// Publishes the state now (module `info`).
    fn publish_state(&self) {
        if let (Some(slot), Some(state)) = (&self.slot, &self.state) {
            slot.set_state(state);
        }
    }

    /// Handles `event`, then every queued event; the reason to stop with,
    /// if a callback said so.
    fn run(
        &mut self,
        event: Option<EventOf<S>>,
        actx: &actor::Context<EnvelopeOf<S>>,
    ) -> Option<ExitReason> {
        if let Some(event) = event {
            self.queue.push_back(event);
        }
        while let Some(event) = self.queue.pop_front() {
            self.timers.cancel(&TimerKind::Event);
            let (Some(state), Some(ctx)) = (self.state.as_ref(), self.ctx.as_mut()) else {
                unreachable!("events come only after init");
            };
            let transition = self.machine.handle_event(state, event, ctx);
            if let Some(reason) = self.apply(transition.change, transition.actions, actx) {
                return Some(reason);
            }
        }
        None
    }

    /// Applies a callback's result (module docs, steps 1–5).
    fn apply(
        &mut self,
        change: Change<S::State>,
        actions: Vec<Action<S>>,
        actx: &actor::Context<EnvelopeOf<S>>,
    ) -> Option<ExitReason> {
        let mut inserted = Vec::new();
        let mut timer_actions = Vec::new();
        for action in actions {
            match action {
                Action::Reply(reply) => reply(),
                Action::Postpone(event) => self.postponed.push_back(event),
                Action::NextEvent(message) => inserted.push(Event::Internal(message)),
                timer => timer_actions.push(timer),
            }
        }
        let Some(current) = self.state.as_mut() else {
            unreachable!("a transition comes only after init");
        };
        let entered = match change {
            Change::Stop(reason) => return Some(reason),
            Change::Keep => None,
            Change::Repeat => Some(current.clone()),
            Change::Next(next) if next == *current => None,
            Change::Next(next) => {
                let old = std::mem::replace(current, next);
                if let Some(slot) = &self.slot {
                    slot.set_state(current);
                }
                while let Some(event) = self.postponed.pop_back() {
                    self.queue.push_front(event);
                }
                self.timers.cancel(&TimerKind::State);
                Some(old)
            }
        };
        for event in inserted.into_iter().rev() {
            self.queue.push_front(event);
        }
        self.apply_timers(timer_actions, actx);
        match entered {
            Some(old) => self.enter(&old, actx),
            None => None,
        }
    }

    /// Runs the enter call for a state entered from `old`, and applies
    /// what it returns.
    fn enter(
        &mut self,
        old: &S::State,
        actx: &actor::Context<EnvelopeOf<S>>,
    ) -> Option<ExitReason> {
        let (Some(state), Some(ctx)) = (self.state.as_ref(), self.ctx.as_mut()) else {
            unreachable!("a state is entered only after init");
        };
        let enter = self.machine.enter(old, state, ctx);
        let mut timer_actions = Vec::new();
        for action in enter.actions {
            match action {
                Action::Reply(reply) => reply(),
                timer => timer_actions.push(timer),
            }
        }
        if let Some(reason) = enter.stop {
            return Some(reason);
        }
        self.apply_timers(timer_actions, actx);
        None
    }

    fn apply_timers(&mut self, actions: Vec<Action<S>>, actx: &actor::Context<EnvelopeOf<S>>) {
        for action in actions {
            let (kind, armed) = match action {
                Action::StateTimeout(armed) => (TimerKind::State, armed),
                Action::EventTimeout(after, message) => {
                    if !self.queue.is_empty() {
                        // A queued event would cancel it at once.
                        continue;
                    }
                    (TimerKind::Event, Some((after, message)))
                }
                Action::Timeout(name, armed) => (TimerKind::Named(name), armed),
                Action::Reply(_) | Action::Postpone(_) | Action::NextEvent(_) => {
                    unreachable!("only timer actions are left")
                }
            };
            match armed {
                Some((after, message)) => {
                    let tag = kind.clone();
                    self.timers.arm(kind, after, |after, generation| {
                        actx.send_after(
                            after,
                            Envelope::Timer {
                                kind: tag,
                                generation,
                                message,
                            },
                        )
                    });
                }
                None => self.timers.cancel(&kind),
            }
        }
    }
}

/// The queued and postponed events are dropped one at a time, each
/// under `catch_unwind`: two of them (or one and the machine's data)
/// whose `Drop` panics would otherwise panic twice in one drop glue,
/// which aborts the program. The machine's data is dropped after, by the
/// fields' glue (its panic, if any, is the actor layer's to contain).
impl<S: StateMachine> Drop for Engine<S> {
    fn drop(&mut self) {
        for event in self.postponed.drain(..).chain(self.queue.drain(..)) {
            if let Err(payload) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(event)))
            {
                // The payload's own destructor may panic too.
                std::mem::forget(payload);
            }
        }
    }
}

impl<S: StateMachine> Actor for Engine<S> {
    type Message = EnvelopeOf<S>;

    fn init(&mut self, actx: &mut actor::Context<EnvelopeOf<S>>) -> Result<(), ExitReason> {
        let myself = StatemRef::from_actor(actx.myself().clone());
        let ctx = self.ctx.insert(Context::new(myself, actx.pid().clone()));
        let init = self.machine.init(ctx)?;
        let first = init.state;
        self.state = Some(first.clone());
        self.slot = BehaviourSlot::shared(actx.pid());
        self.publish_state();
        if let Some(reason) = self.apply(Change::Keep, init.actions, actx) {
            return Err(reason);
        }
        // OTP: the first state is entered from itself.
        if let Some(reason) = self.enter(&first, actx) {
            return Err(reason);
        }
        if !self.queue.is_empty() {
            // Inserted events run first, once the start is acknowledged:
            // the first message is this one (nobody has the address yet).
            ferrotp_scheduler::send(actx.pid(), Envelope::<S::Call, S::Message>::Kick);
        }
        Ok(())
    }

    fn handle(
        &mut self,
        envelope: EnvelopeOf<S>,
        actx: &mut actor::Context<EnvelopeOf<S>>,
    ) -> Next {
        let event = match envelope {
            Envelope::Call(request) => Some(Event::Call(request)),
            Envelope::Cast(message) => Some(Event::Cast(message)),
            Envelope::Info(message) => Some(Event::Info(message)),
            Envelope::Kick => None,
            Envelope::Timer {
                kind,
                generation,
                message,
            } => {
                if !self.timers.fire(&kind, generation) {
                    // Cancelled or replaced: it never fires.
                    return Next::CONTINUE;
                }
                Some(match kind {
                    TimerKind::State => Event::StateTimeout(message),
                    TimerKind::Event => Event::EventTimeout(message),
                    TimerKind::Named(name) => Event::Timeout(name, message),
                })
            }
        };
        match self.run(event, actx) {
            Some(reason) => Next::Stop(reason),
            None => Next::CONTINUE,
        }
    }

    /// The postponed events, then the queued ones that came from outside
    /// (calls, casts, info), as they came: a supervised machine's
    /// replacement gets them first. Inserted events and timeouts belong
    /// to this incarnation and go with it.
    fn unhandled(&mut self) -> Vec<EnvelopeOf<S>> {
        self.postponed
            .drain(..)
            .chain(self.queue.drain(..))
            .filter_map(|event| match event {
                Event::Call(request) => Some(Envelope::Call(request)),
                Event::Cast(message) => Some(Envelope::Cast(message)),
                Event::Info(message) => Some(Envelope::Info(message)),
                Event::Internal(_)
                | Event::StateTimeout(_)
                | Event::EventTimeout(_)
                | Event::Timeout(..) => None,
            })
            .collect()
    }

    fn terminate(&mut self, reason: &ExitReason, _: &mut actor::Context<EnvelopeOf<S>>) {
        if let (Some(state), Some(ctx)) = (self.state.as_ref(), self.ctx.as_mut()) {
            self.machine.terminate(reason, state, ctx);
        }
    }
}
