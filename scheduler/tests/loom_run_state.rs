//! loom model of a process's run state (module `run_state`): a process
//! that suspends to wait while wakers race with it is queued exactly once,
//! and the waker that queues it sees where it lives.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-scheduler --test loom_run_state --release`
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_scheduler::run_state::RunState;
use loom::thread;

struct Process {
    state: RunState,
    /// Where the worker keeps the coroutine: written Relaxed before the
    /// wait, read Relaxed by the waker that queues it. loom's own atomic,
    /// so that a stale read is possible if the orderings are wrong.
    place: loom::sync::atomic::AtomicUsize,
    queued_by_worker: AtomicUsize,
    queued_by_waker: AtomicUsize,
}

impl Process {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            state: RunState::new(),
            place: loom::sync::atomic::AtomicUsize::new(0),
            queued_by_worker: AtomicUsize::new(0),
            queued_by_waker: AtomicUsize::new(0),
        })
    }

    /// The running process suspends to wait (its worker records where it
    /// keeps it, then publishes the wait).
    fn wait(&self) {
        self.place.store(7, Ordering::Relaxed);
        if !self.state.suspended_waiting() {
            self.queued_by_worker.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn wake(&self) {
        if self.state.wake() {
            assert_eq!(
                self.place.load(Ordering::Relaxed),
                7,
                "the waker must see where the process lives"
            );
            self.queued_by_waker.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn times_queued(&self) -> usize {
        self.queued_by_worker.load(Ordering::Relaxed) + self.queued_by_waker.load(Ordering::Relaxed)
    }
}

#[test]
fn a_wake_racing_a_wait_queues_the_process_exactly_once() {
    loom::model(|| {
        let process = Process::new();
        // A wake of a SCHEDULED process is a no-op by design (it looks at
        // what it waits for when it runs), so the race starts in RUNNING.
        process.state.set_running();
        let waker = {
            let process = Arc::clone(&process);
            thread::spawn(move || process.wake())
        };
        process.wait();
        waker.join().unwrap();
        assert_eq!(process.times_queued(), 1);
    });
}

#[test]
fn two_racing_wakes_queue_the_process_exactly_once() {
    loom::model(|| {
        let process = Process::new();
        process.state.set_running();
        let wakers: Vec<_> = (0..2)
            .map(|_| {
                let process = Arc::clone(&process);
                thread::spawn(move || process.wake())
            })
            .collect();
        process.wait();
        for waker in wakers {
            waker.join().unwrap();
        }
        assert_eq!(process.times_queued(), 1);
    });
}

#[test]
fn an_exited_process_is_never_queued() {
    loom::model(|| {
        let process = Process::new();
        process.state.set_running();
        let waker = {
            let process = Arc::clone(&process);
            thread::spawn(move || process.wake())
        };
        process.state.set_exited();
        waker.join().unwrap();
        assert_eq!(process.times_queued(), 0);
    });
}
