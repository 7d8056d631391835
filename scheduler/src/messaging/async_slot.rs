//! Where the reply to a call made outside any process lands
//! ([`call_async`](crate::call_async)): a one-shot slot shared by the
//! caller's future and the call's reply address, which wakes a
//! [`Waker`].
//!
//! # The protocol
//!
//! One `Mutex` around the slot's state; no atomics. What ends the call
//! (the reply, the callee's end seen by an exit hook, the reply address
//! dropped unanswered, the deadline) fills it; the first fill wins while
//! the slot is open, and the filler wakes the waker the future left,
//! outside the lock. A fill that finds the slot filled or closed hands
//! its outcome back, to be dropped by the filler (a late reply is dropped
//! where it was sent, as for a process's call: it never reaches the
//! caller).
//!
//! The future (the slot's only owner) takes the outcome out as it polls,
//! which leaves the slot open for one more fill: it waits on when the
//! reply address was dropped by a process that was ending, for that
//! process's end (module `call`: its reason is the call's result). It
//! closes the slot when it completes or is dropped, so a cancelled call
//! leaves nothing behind but what the callee still holds, its reply
//! address, whose answer the callee then drops as it sends it.
//!
//! No user code runs under the lock: outcomes are dropped, and wakers
//! woken, outside it. A poisoned lock still guards a whole state.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::messaging::reply_slot::Outcome;

/// What ended a call made outside any process.
pub(crate) enum Ended {
    /// The reply, the callee's end, or the reply address dropped.
    Outcome(Outcome),
    /// Its deadline passed first.
    TimedOut,
}

/// One call's slot (module docs).
pub(crate) struct AsyncSlot {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Filled and not yet taken.
    outcome: Option<Outcome>,
    /// The deadline passed (a reply that filled the slot first still
    /// wins).
    timed_out: bool,
    /// The future has completed or is gone: fills are refused.
    closed: bool,
    /// Woken by a fill.
    waker: Option<Waker>,
}

impl AsyncSlot {
    /// An open, empty slot.
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Anyone: ends the call with `outcome` and wakes the future. False
    /// if the call is over (or ended already): `outcome` is dropped here.
    pub(crate) fn fill(&self, outcome: Outcome) -> bool {
        let mut state = self.lock();
        if state.closed || state.outcome.is_some() {
            drop(state);
            drop(outcome);
            return false;
        }
        state.outcome = Some(outcome);
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The call's deadline passed: wakes the future.
    pub(crate) fn time_out(&self) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.timed_out = true;
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The future: what ended the call, or `Pending` with `cx`'s waker
    /// left for the fill.
    pub(crate) fn poll_ended(&self, cx: &Context<'_>) -> Poll<Ended> {
        let mut state = self.lock();
        if let Some(outcome) = state.outcome.take() {
            return Poll::Ready(Ended::Outcome(outcome));
        }
        if state.timed_out {
            return Poll::Ready(Ended::TimedOut);
        }
        if !state
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            let old = state.waker.replace(cx.waker().clone());
            drop(state);
            drop(old);
        }
        Poll::Pending
    }

    /// The future: ends the call; later fills are refused. Returns an
    /// outcome that came meanwhile, for the caller to drop outside the
    /// lock.
    pub(crate) fn close(&self) -> Option<Outcome> {
        let mut state = self.lock();
        state.closed = true;
        let waker = state.waker.take();
        let outcome = state.outcome.take();
        drop(state);
        drop(waker);
        outcome
    }
}
