//! A process's run state word, and wake-ups as permits.
//!
//! | state       | meaning                                                      |
//! |-------------|--------------------------------------------------------------|
//! | `SCHEDULED` | in a run queue (or spawned and not yet run)                  |
//! | `RUNNING`   | on its worker's thread right now                             |
//! | `NOTIFIED`  | running, and woken meanwhile: its next wait returns at once  |
//! | `WAITING`   | suspended in a blocking call, in no queue                    |
//! | `EXITED`    | finished                                                     |
//!
//! A wake-up ([`RunState::wake`]) is a permit, like
//! [`Thread::unpark`](std::thread::Thread::unpark): `WAITING → SCHEDULED`
//! (the waker, and only it, must queue the process), `RUNNING → NOTIFIED`
//! (the worker sees it when the process suspends to wait, and queues the
//! process again itself), `SCHEDULED → SCHEDULED` (an RMW that the
//! worker's `set_running` swap reads from, so the process sees what the
//! waker wrote before it woke), `NOTIFIED → NOTIFIED` (likewise an RMW,
//! which the worker's swap that takes the permit reads from), anything
//! else: nothing to do.
//!
//! **The invariant** (checked by the loom model `tests/loom_run_state.rs`):
//! a process that suspends to wait and is woken at any moment is queued
//! exactly once: by the waker, or by its worker, never both, never
//! neither.
//!
//! A process that wakes always looks at what it waits for again (its
//! mailbox, its timer flag), so a spurious wake-up costs one look; and a
//! permit dropped when the process yields instead of waiting loses
//! nothing, as the process looks before it next waits.
//!
//! The worker publishes where the coroutine lives before its `Release`
//! transition to `WAITING`; a waker reads that after its `Acquire` CAS out
//! of `WAITING`.

use ferrotp_mailbox::sync::{AtomicU8, Ordering};

const SCHEDULED: u8 = 0;
const RUNNING: u8 = 1;
const NOTIFIED: u8 = 2;
const WAITING: u8 = 3;
const EXITED: u8 = 4;

/// The run state of one process (module docs).
pub struct RunState(AtomicU8);

/// What a live process is doing, as its run state says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Queued (or spawned, not yet run).
    Scheduled,
    /// Running (woken meanwhile or not).
    Running,
    /// Suspended in a blocking call.
    Waiting,
}

impl std::fmt::Debug for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0.load(Ordering::Relaxed) {
            SCHEDULED => "scheduled",
            RUNNING => "running",
            NOTIFIED => "notified",
            WAITING => "waiting",
            _ => "exited",
        };
        f.write_str(name)
    }
}

impl Default for RunState {
    fn default() -> Self {
        Self::new()
    }
}

impl RunState {
    /// What the process is doing; `None` once it has exited. A snapshot
    /// (`Relaxed`), for introspection.
    pub fn phase(&self) -> Option<Phase> {
        match self.0.load(Ordering::Relaxed) {
            SCHEDULED => Some(Phase::Scheduled),
            RUNNING | NOTIFIED => Some(Phase::Running),
            WAITING => Some(Phase::Waiting),
            _ => None,
        }
    }

    /// A spawned process: `SCHEDULED`.
    pub fn new() -> Self {
        Self(AtomicU8::new(SCHEDULED))
    }

    /// Worker: the process is about to run.
    #[inline]
    pub fn set_running(&self) {
        // Only SCHEDULED reaches here. A swap, Acquire: it reads from the
        // last waker's RMW on SCHEDULED (`wake`), so what that waker wrote
        // before waking (a reply it filled) is visible to the process as
        // it looks again. A plain store here let a process run, miss a
        // reply filled a moment before, and wait for ever: the waker had
        // seen SCHEDULED and left no permit (the lost wake-up that
        // `tests/loom_wake_data.rs` models).
        let was = self.0.swap(RUNNING, Ordering::Acquire);
        debug_assert_eq!(was, SCHEDULED);
    }

    /// Worker: the process yielded its slice and goes back to a run queue;
    /// a pending permit is dropped (module docs).
    #[inline]
    pub fn set_scheduled(&self) {
        self.0.store(SCHEDULED, Ordering::Relaxed);
    }

    /// Worker: the process suspended to wait. Returns false if it was
    /// woken while running: it is then `SCHEDULED` and the worker must
    /// queue it.
    #[inline]
    pub fn suspended_waiting(&self) -> bool {
        // Release: publishes the process's place to the waker that moves
        // it out of WAITING (the AcqRel CAS in `wake`). Acquire on failure:
        // what the waker wrote before its wake-up (an exit signal's flag,
        // say) is visible to the process when it runs again.
        match self
            .0
            .compare_exchange(RUNNING, WAITING, Ordering::Release, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => {
                debug_assert_eq!(state, NOTIFIED);
                // A swap, not a store: it reads from the last waker's RMW
                // on NOTIFIED (`wake`), also one that came after the CAS
                // above read its state, so what that waker wrote before
                // its wake-up is visible to the process's next look. A
                // plain store cut that waker off: the process could miss
                // a reply filled a moment before and wait for ever (the
                // attack's model, `tests/loom_wake_data.rs`).
                let _ = self.0.swap(SCHEDULED, Ordering::Acquire);
                false
            }
        }
    }

    /// Worker: the process has ended. Release: what was recorded about
    /// the ending (its exit reason) is visible to whoever sees `EXITED`.
    #[inline]
    pub fn set_exited(&self) {
        self.0.store(EXITED, Ordering::Release);
    }

    /// Whether the process has ended.
    #[inline]
    pub fn is_exited(&self) -> bool {
        self.0.load(Ordering::Acquire) == EXITED
    }

    /// A wake-up. Returns true if the caller must queue the process (it
    /// was waiting); otherwise a permit is left, or nothing is needed.
    #[inline]
    pub fn wake(&self) -> bool {
        let mut state = self.0.load(Ordering::Relaxed);
        loop {
            let next = match state {
                WAITING => SCHEDULED,
                RUNNING => NOTIFIED,
                // Queued: it will run and look again. Still an RMW
                // (Release), which its worker's `set_running` swap reads
                // from: what this waker wrote before the wake-up is then
                // visible to the process's look (see `set_running`).
                SCHEDULED => SCHEDULED,
                // A permit is pending already. Still an RMW (Release), as
                // for SCHEDULED: the worker's swap that takes the permit
                // (`suspended_waiting`) reads from it, so the process's
                // next look sees what this waker wrote.
                NOTIFIED => NOTIFIED,
                _ => return false,
            };
            // AcqRel: out of WAITING we must see the process's place
            // (pairs with the Release in `suspended_waiting`).
            match self
                .0
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return state == WAITING,
                Err(actual) => state = actual,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_wake_while_running_is_kept_for_the_next_wait() {
        let state = RunState::new();
        assert!(!state.wake(), "a scheduled process needs no queueing");
        state.set_running();
        assert!(!state.wake(), "running: a permit is left");
        assert!(!state.wake(), "a second wake adds nothing");
        assert!(
            !state.suspended_waiting(),
            "the permit ends the wait at once"
        );
        state.set_running();
        assert!(state.suspended_waiting());
        assert!(state.wake(), "waiting: the waker queues it");
        assert!(!state.wake(), "already queued");
    }

    #[test]
    fn a_yield_drops_the_permit_and_an_exited_process_is_never_queued() {
        let state = RunState::new();
        state.set_running();
        assert!(!state.wake());
        state.set_scheduled();
        state.set_running();
        assert!(
            state.suspended_waiting(),
            "the dropped permit does not end this wait"
        );
        // Only a queued process runs: woken out of its wait first.
        assert!(state.wake(), "a waiting process is queued by its waker");
        state.set_running();
        state.set_exited();
        assert!(state.is_exited());
        assert!(!state.wake());
    }
}
