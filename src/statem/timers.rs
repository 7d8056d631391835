//! A state machine's three kinds of timeout, and how a stale one is
//! told from a live one.
//!
//! # Design
//!
//! A timeout is a timer message to the machine's own process
//! (`send_after`), tagged with its kind and a generation drawn from one
//! counter for the whole program (so a timer message of an earlier
//! incarnation, handed to a supervised machine's replacement with the
//! rest of its mailbox, never matches a generation the replacement
//! armed). The machine keeps, per kind (the state timeout, the event
//! timeout, each named timeout), the generation and timer of the one
//! armed now. Arming replaces: the old timer is cancelled and its
//! generation forgotten. A timer message fires only if its generation is
//! the one armed for its kind.
//!
//! # Invariant
//!
//! A cancelled or replaced timeout never fires: `cancel_timer` may come
//! too late (the message is already in the mailbox), but its generation
//! is no longer armed, so the message is dropped as it is taken. Firing
//! disarms, so each armed timeout fires at most once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferrotp_scheduler::{TimerRef, cancel_timer};

use super::actions::TimeoutName;

/// Which timeout a timer message is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TimerKind {
    State,
    Event,
    Named(TimeoutName),
}

impl TimerKind {
    /// As a trace names it: `state`, `event`, or the generic timeout's
    /// name.
    pub(crate) fn describe(&self) -> &str {
        match self {
            TimerKind::State => "state",
            TimerKind::Event => "event",
            TimerKind::Named(name) => name,
        }
    }
}

/// The timeout armed for one kind.
struct Armed {
    generation: u64,
    timer: TimerRef,
}

/// Generations for every machine's timers (module docs).
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// The timeouts armed now.
#[derive(Default)]
pub(crate) struct Timers {
    state: Option<Armed>,
    event: Option<Armed>,
    named: HashMap<TimeoutName, Armed>,
}

impl Timers {
    fn slot(&mut self, kind: &TimerKind) -> Option<&mut Option<Armed>> {
        match kind {
            TimerKind::State => Some(&mut self.state),
            TimerKind::Event => Some(&mut self.event),
            TimerKind::Named(_) => None,
        }
    }

    /// Arms `kind` for `after`: `send(after, generation)` starts the timer
    /// (a message to the machine carrying the generation); whatever was
    /// armed for `kind` is cancelled.
    pub(crate) fn arm(
        &mut self,
        kind: TimerKind,
        after: Duration,
        send: impl FnOnce(Duration, u64) -> TimerRef,
    ) {
        self.cancel(&kind);
        // Relaxed: a unique number is all that is needed.
        let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed);
        let armed = Armed {
            generation,
            timer: send(after, generation),
        };
        match kind {
            TimerKind::Named(name) => {
                self.named.insert(name, armed);
            }
            kind => {
                if let Some(slot) = self.slot(&kind) {
                    *slot = Some(armed);
                }
            }
        }
    }

    /// Cancels `kind`, if armed.
    pub(crate) fn cancel(&mut self, kind: &TimerKind) {
        let armed = match kind {
            TimerKind::Named(name) => self.named.remove(name),
            kind => self.slot(kind).and_then(Option::take),
        };
        if let Some(armed) = armed {
            cancel_timer(&armed.timer);
        }
    }

    /// A timer message for `kind` with `generation` was taken: whether it
    /// fires (it is the one armed; it is disarmed now) or is stale.
    pub(crate) fn fire(&mut self, kind: &TimerKind, generation: u64) -> bool {
        let live = match kind {
            TimerKind::Named(name) => self.named.get(name).map(|armed| armed.generation),
            kind => self
                .slot(kind)
                .and_then(|slot| slot.as_ref().map(|armed| armed.generation)),
        } == Some(generation);
        if live {
            match kind {
                TimerKind::Named(name) => {
                    self.named.remove(name);
                }
                kind => {
                    if let Some(slot) = self.slot(kind) {
                        *slot = None;
                    }
                }
            }
        }
        live
    }
}
