//! The address of a supervised actor, across its restarts: which
//! incarnation runs now, and the messages held while none does.
//!
//! # The restart window
//!
//! Between an incarnation's end and its replacement's acknowledged init,
//! no process can take the actor's messages. Messages sent then are
//! **held**, in order, up to a bound (`HOLD_LIMIT`), and delivered to the
//! replacement before anything sent after it started; past the bound, or
//! once the supervisor has ended (no replacement will come), they are
//! dead letters (counted by the runtime, handed to its dead-letter hook;
//! before any incarnation existed there is no process to count them
//! against, so they are reported instead). An incarnation that ends for
//! any reason (a handler's panic, `Stop`, a supervisor's shutdown or
//! kill) hands its unread messages over the same way, ahead of those held
//! since, and the messages it had taken but not handled
//! (`Actor::unhandled`: a state machine's postponed events) ahead of
//! those: only a message it crashed on is lost.
//!
//! # Invariants
//!
//! * A sender reads the current incarnation under the lock and sends
//!   outside it (a send may suspend the sender; a process must never
//!   hold a thread lock across a suspension). A send that finds the
//!   incarnation's mailbox closed gets the message back, clears the
//!   current incarnation if it is still that one, and tries again, so it
//!   holds the message or sends it to a newer incarnation.
//! * A new incarnation becomes current once the held queue has moved to
//!   it, under the lock, with `deliver_unless_ended` (which never
//!   suspends): senders hold behind it meanwhile, and a crash of the new
//!   incarnation hands its messages back (under the lock too) in the order
//!   they came, so one sender's messages keep their order across any
//!   number of restarts.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferrotp_scheduler::report::{Severity, report};
use ferrotp_scheduler::{Pid, deliver_unless_ended, send, send_unless_ended};

/// How many messages a supervised actor's address holds while it
/// restarts; past this, dead letters.
pub const HOLD_LIMIT: usize = 10_000;

pub(crate) struct Incarnations<M> {
    state: Mutex<State<M>>,
}

struct State<M> {
    /// The incarnation that takes messages now; `None` in the window.
    current: Option<Pid>,
    /// The latest incarnation, for dead letters.
    last: Option<Pid>,
    /// The incarnation in its init, not yet current.
    starting: Option<Pid>,
    held: VecDeque<M>,
    /// The supervisor has ended: no replacement will come.
    closed: bool,
    /// An exit hook on the supervisor closes this when it ends.
    watching: Option<Pid>,
    /// Messages dropped before any incarnation existed (reported).
    dropped_unstarted: u64,
}

impl<M: Send + 'static> Incarnations<M> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                current: None,
                last: None,
                starting: None,
                held: VecDeque::new(),
                closed: false,
                watching: None,
                dropped_unstarted: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // Nothing user-written runs under the lock, so a poisoned lock
        // still holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The supervisor that starts the incarnations, once one has.
    pub(crate) fn supervisor(&self) -> Option<Pid> {
        self.lock().watching.clone()
    }

    /// The running incarnation (or the latest one, in the window).
    pub(crate) fn pid(&self) -> Option<Pid> {
        let state = self.lock();
        state.current.clone().or_else(|| state.last.clone())
    }

    /// Incarnation `pid` is running its init (not current yet: what is
    /// sent now is held for it).
    pub(crate) fn starting(&self, pid: &Pid) {
        self.lock().starting = Some(pid.clone());
    }

    /// Whether `pid` is this actor: its current incarnation, the one in
    /// its init, or the latest one as it ends (a call from any of them to
    /// this address would wait on itself).
    pub(crate) fn is_incarnation(&self, pid: &Pid) -> bool {
        let state = self.lock();
        [&state.current, &state.starting, &state.last]
            .into_iter()
            .any(|incarnation| incarnation.as_ref() == Some(pid))
    }

    /// Sends `message` to the current incarnation, or holds it.
    ///
    /// # Errors
    /// The message, when it can be neither sent nor held (the bound, or
    /// the supervisor has ended), with the latest incarnation if any.
    pub(crate) fn deliver(&self, mut message: M) -> Result<(), (M, Option<Pid>)> {
        loop {
            let target = {
                let mut state = self.lock();
                match &state.current {
                    Some(pid) => pid.clone(),
                    None if !state.closed && state.held.len() < HOLD_LIMIT => {
                        state.held.push_back(message);
                        return Ok(());
                    }
                    None => return Err((message, state.last.clone())),
                }
            };
            match send_unless_ended(&target, message) {
                Ok(()) => return Ok(()),
                Err(back) => {
                    message = back;
                    let mut state = self.lock();
                    if state.current.as_ref() == Some(&target) {
                        state.current = None;
                    }
                }
            }
        }
    }

    /// [`deliver`](Self::deliver), a message that can be neither sent
    /// nor held made a dead letter.
    pub(crate) fn send(&self, message: M) {
        if let Err((message, last)) = self.deliver(message) {
            self.dead_letter(last, message);
        }
    }

    /// A message nobody will take: a dead letter of the latest incarnation
    /// (counted by the runtime), or, if there never was one, dropped and
    /// reported (at the 1st, 2nd, 4th... such message).
    fn dead_letter(&self, last: Option<Pid>, message: M) {
        match last {
            Some(pid) => send(&pid, message),
            None => {
                let dropped = {
                    let mut state = self.lock();
                    state.dropped_unstarted += 1;
                    state.dropped_unstarted
                };
                drop(message);
                if dropped.is_power_of_two() {
                    report_unstarted(dropped);
                }
            }
        }
    }

    /// Incarnation `pid` has started (its init acknowledged): the held
    /// messages go to it first, in order, under the lock; then it is
    /// current.
    pub(crate) fn started(&self, pid: &Pid) {
        let mut state = self.lock();
        if state.starting.as_ref() == Some(pid) {
            state.starting = None;
        }
        state.last = Some(pid.clone());
        while let Some(message) = state.held.pop_front() {
            if let Err(back) = deliver_unless_ended(pid, message) {
                // It has ended already: keep the rest for the next one.
                state.held.push_front(back);
                return;
            }
        }
        state.current = Some(pid.clone());
    }

    /// Incarnation `me` ended: its unread messages, oldest first, go
    /// ahead of those held since (dead letters if no replacement will
    /// come).
    pub(crate) fn hand_over(&self, me: &Pid, unread: Vec<M>) {
        let mut state = self.lock();
        if state.current.as_ref() == Some(me) {
            state.current = None;
        }
        if state.closed {
            let last = state.last.clone();
            drop(state);
            for message in unread {
                self.dead_letter(last.clone(), message);
            }
            return;
        }
        for message in unread.into_iter().rev() {
            state.held.push_front(message);
        }
    }

    /// The supervisor `supervisor` starts incarnations: when it ends, no
    /// replacement will come. Registers that once.
    pub(crate) fn watch_supervisor(self: &std::sync::Arc<Self>, supervisor: &Pid) {
        {
            let mut state = self.lock();
            if state.watching.as_ref() == Some(supervisor) {
                return;
            }
            // A new supervisor (the old one was restarted by its own):
            // replacements come again.
            state.watching = Some(supervisor.clone());
            state.closed = false;
        }
        let this = std::sync::Arc::downgrade(self);
        let ended = supervisor.clone();
        supervisor.on_exit(move |_| {
            if let Some(this) = this.upgrade() {
                this.close(&ended);
            }
        });
    }

    /// Supervisor `ended` has ended: if it is still the one that starts
    /// the incarnations, no replacement will come: held messages become
    /// dead letters, and so does anything sent from now on. (Its own
    /// supervisor may have restarted it already, and the new one started
    /// an incarnation before this hook ran: then nothing closes.)
    fn close(&self, ended: &Pid) {
        let (held, last) = {
            let mut state = self.lock();
            if state.watching.as_ref() != Some(ended) {
                return;
            }
            state.closed = true;
            state.current = None;
            (std::mem::take(&mut state.held), state.last.clone())
        };
        for message in held {
            self.dead_letter(last.clone(), message);
        }
    }
}

impl<M> Drop for Incarnations<M> {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if !state.held.is_empty() {
            report(
                Severity::Warning,
                "actor",
                state.last.as_ref(),
                format_args!(
                    "a supervised actor's address was dropped with {} messages held for a \
                     replacement that never came",
                    state.held.len()
                ),
            );
        }
    }
}

fn report_unstarted(dropped: u64) {
    report(
        Severity::Warning,
        "actor",
        None,
        format_args!(
            "a supervised actor that never started was sent a message it could not hold \
             (its supervisor ended, or {HOLD_LIMIT} are held already): dropped; {dropped} so \
             far (reported at powers of two)"
        ),
    );
}
