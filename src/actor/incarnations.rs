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
//! dead letters (counted by the runtime, handed to its dead-letter hook).
//! An incarnation that crashes (its handler panics) hands its unread
//! messages over the same way, ahead of those held since: only the
//! message it crashed on is lost.
//!
//! # Invariants
//!
//! * A sender reads the current incarnation under the lock and sends
//!   outside it (a send may suspend the sender; a process must never
//!   hold a thread lock across a suspension). A send that finds the
//!   incarnation's mailbox closed gets the message back, clears the
//!   current incarnation if it is still that one, and tries again, so it
//!   holds the message or sends it to a newer incarnation.
//! * A new incarnation becomes current only once the held queue is empty:
//!   the starter moves held messages one at a time (lock, pop, unlock,
//!   send) while later senders keep holding behind them, so one sender's
//!   messages keep their order across the window.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferrotp_scheduler::{Pid, send, send_unless_ended};

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
    held: VecDeque<M>,
    /// The supervisor has ended: no replacement will come.
    closed: bool,
    /// An exit hook on the supervisor closes this when it ends.
    watching: Option<Pid>,
}

impl<M: Send + 'static> Incarnations<M> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                current: None,
                last: None,
                held: VecDeque::new(),
                closed: false,
                watching: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // Nothing user-written runs under the lock, so a poisoned lock
        // still holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The running incarnation (or the latest one, in the window).
    pub(crate) fn pid(&self) -> Option<Pid> {
        let state = self.lock();
        state.current.clone().or_else(|| state.last.clone())
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
            dead_letter(last, message);
        }
    }

    /// Incarnation `pid` has started (its init acknowledged): the held
    /// messages go to it first, in order; then it is current.
    pub(crate) fn started(&self, pid: &Pid) {
        loop {
            let next = {
                let mut state = self.lock();
                state.last = Some(pid.clone());
                match state.held.pop_front() {
                    Some(message) => message,
                    None => {
                        state.current = Some(pid.clone());
                        return;
                    }
                }
            };
            if let Err(back) = send_unless_ended(pid, next) {
                // It has ended already: keep the message for the next one.
                self.lock().held.push_front(back);
                return;
            }
        }
    }

    /// Incarnation `me` crashed: its unread messages, oldest first, go
    /// ahead of those held since.
    pub(crate) fn hand_over(&self, me: &Pid, unread: Vec<M>) {
        let mut state = self.lock();
        if state.current.as_ref() == Some(me) {
            state.current = None;
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
            state.watching = Some(supervisor.clone());
        }
        let this = std::sync::Arc::downgrade(self);
        supervisor.on_exit(move |_| {
            if let Some(this) = this.upgrade() {
                this.close();
            }
        });
    }

    /// No replacement will come: held messages become dead letters, and
    /// so does anything sent from now on.
    fn close(&self) {
        let (held, last) = {
            let mut state = self.lock();
            state.closed = true;
            state.current = None;
            (std::mem::take(&mut state.held), state.last.clone())
        };
        for message in held {
            dead_letter(last.clone(), message);
        }
    }
}

/// A message nobody will take: a dead letter of the latest incarnation
/// (counted by the runtime), or just dropped if there never was one.
fn dead_letter<M: Send + 'static>(last: Option<Pid>, message: M) {
    match last {
        Some(pid) => send(&pid, message),
        None => drop(message),
    }
}
