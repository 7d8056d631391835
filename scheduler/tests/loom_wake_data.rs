//! loom model of a wake-up that carries data (a reply filled, then its
//! caller woken) racing a process that is queued and about to look again
//! (module `run_state`: `set_running`'s swap reads from the waker's RMW).
//!
//! The invariant: a process that looks, finds nothing, and suspends to
//! wait is queued again by someone (the waker, or its worker on a
//! permit), or else it saw the data. Never neither: that was a process
//! waiting for ever on a reply already filled.
//!
//! Mutation tried: `set_running` as a plain `Relaxed` store, and `wake`
//! leaving `SCHEDULED` without an RMW (the code before this model): the
//! model fails (the data is not seen, and nobody queues the process).
//!
//! The second model is the same race with a permit already pending
//! (`NOTIFIED`): the waker finds it, and the worker takes it as the
//! process suspends. Mutations tried (each the code before the model,
//! which the attack of issue 17 found): `wake` leaving `NOTIFIED` without
//! an RMW, or the permit taken with a plain store instead of a swap: the
//! model fails.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-scheduler --test loom_wake_data --release`
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_scheduler::run_state::RunState;
use loom::thread;

#[test]
fn data_written_before_a_wake_is_seen_or_the_process_is_queued() {
    loom::model(|| {
        let state = Arc::new(RunState::new());
        // The reply: a loom atomic, Relaxed on the reader's side (as
        // `ReplySlot::is_filled`), so a stale read is possible unless the
        // run state orders it.
        let filled = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let queued = Arc::new(AtomicUsize::new(0));

        // The process: queued (SCHEDULED) from an earlier wake-up, now
        // run by its worker, looks, and suspends if it found nothing.
        let process = {
            let (state, filled, queued) = (state.clone(), filled.clone(), queued.clone());
            thread::spawn(move || {
                state.set_running();
                let saw = filled.load(Ordering::Relaxed) == 1;
                if saw {
                    return true;
                }
                if !state.suspended_waiting() {
                    // A permit: its worker queues it again.
                    queued.fetch_add(1, Ordering::Relaxed);
                }
                false
            })
        };

        // The waker: fills the reply (Release, as `ReplySlot::fill`),
        // then wakes.
        filled.store(1, Ordering::Release);
        if state.wake() {
            queued.fetch_add(1, Ordering::Relaxed);
        }

        let saw = process.join().unwrap();
        assert!(
            saw || queued.load(Ordering::Relaxed) == 1,
            "the process waits for a reply that was filled, and nobody queues it"
        );
    });
}

#[test]
fn data_written_before_a_wake_that_finds_a_permit_is_seen_or_the_process_is_queued() {
    loom::model(|| {
        let state = Arc::new(RunState::new());
        // Running, with a permit pending from an earlier wake-up.
        state.set_running();
        assert!(
            !state.wake(),
            "a running process is not queued by a wake-up"
        );
        let filled = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let queued = Arc::new(AtomicUsize::new(0));

        // The process looked (nothing yet) and suspends: the permit ends
        // the wait at once, its worker queues it, runs it, and it looks
        // again; finding nothing, it suspends again.
        let process = {
            let (state, filled, queued) = (state.clone(), filled.clone(), queued.clone());
            thread::spawn(move || {
                assert!(!state.suspended_waiting(), "a permit was pending");
                state.set_running();
                if filled.load(Ordering::Relaxed) == 1 {
                    return true;
                }
                if !state.suspended_waiting() {
                    queued.fetch_add(1, Ordering::Relaxed);
                }
                false
            })
        };

        // The waker: fills the reply, then wakes.
        filled.store(1, Ordering::Release);
        if state.wake() {
            queued.fetch_add(1, Ordering::Relaxed);
        }

        let saw = process.join().unwrap();
        assert!(
            saw || queued.load(Ordering::Relaxed) == 1,
            "the process waits for a reply that was filled, and nobody queues it"
        );
    });
}
