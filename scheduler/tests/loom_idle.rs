//! loom model of the worker park / wake protocol (module `idle`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-scheduler --test loom_idle --release`
//!
//! Two workers take tasks from a shared counter (standing in for the
//! injector and the stealable queues) and park through the protocol when
//! there is none; a notifier adds tasks and wakes workers through
//! `Idle::worker_to_notify`. A lost wake-up leaves tasks behind with every
//! worker parked, which loom reports as a deadlock.
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Mutex, Ordering};
use ferrotp_scheduler::idle::Idle;
use loom::thread;

struct World {
    idle: Idle,
    /// loom's own atomic, not the facade's: the work queues the protocol
    /// guards are read with plain loads that may be stale, which is what
    /// the fences are for (the facade would model them as RMWs).
    tasks: loom::sync::atomic::AtomicUsize,
    done: AtomicUsize,
    total: usize,
    /// 1 once every task is done.
    shutdown: AtomicUsize,
    threads: Mutex<Vec<thread::Thread>>,
    notifies: AtomicUsize,
    unparks: AtomicUsize,
}

impl World {
    fn take_task(&self) -> bool {
        let mut tasks = self.tasks.load(Ordering::Acquire);
        while tasks > 0 {
            match self.tasks.compare_exchange_weak(
                tasks,
                tasks - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => tasks = actual,
            }
        }
        false
    }

    fn notify(&self) {
        self.notifies.fetch_add(1, Ordering::Relaxed);
        if let Some(worker) = self.idle.worker_to_notify() {
            self.unparks.fetch_add(1, Ordering::Relaxed);
            self.threads.lock().unwrap()[worker].unpark();
        }
    }

    fn worker(&self, me: usize) {
        let mut searching = false;
        loop {
            if self.shutdown.load(Ordering::Acquire) == 1 {
                return;
            }
            if self.take_task() {
                if searching {
                    searching = false;
                    if self.idle.transition_from_searching() {
                        self.notify();
                    }
                }
                if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.total {
                    self.shutdown.store(1, Ordering::Release);
                    for thread in self.threads.lock().unwrap().iter() {
                        thread.unpark();
                    }
                    return;
                }
                continue;
            }
            // Out of work: the parking protocol.
            self.idle.transition_to_parked(me, searching);
            Idle::recheck_fence();
            let work = self.tasks.load(Ordering::Acquire) > 0;
            if !work && self.shutdown.load(Ordering::SeqCst) == 0 {
                thread::park();
            }
            searching = self.idle.transition_from_parked(me);
        }
    }
}

#[test]
fn work_made_visible_always_finds_a_worker() {
    let executions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    loom::model(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let world = Arc::new(World {
            idle: Idle::new(2),
            tasks: loom::sync::atomic::AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            total: 2,
            shutdown: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
            notifies: AtomicUsize::new(0),
            unparks: AtomicUsize::new(0),
        });
        let workers: Vec<_> = (0..2)
            .map(|me| {
                let world = Arc::clone(&world);
                thread::spawn(move || world.worker(me))
            })
            .collect();
        *world.threads.lock().unwrap() = workers.iter().map(|w| w.thread().clone()).collect();
        for _ in 0..2 {
            // The work queues publish with release stores, not SeqCst.
            world.tasks.fetch_add(1, Ordering::Release);
            world.notify();
        }
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(world.done.load(Ordering::Acquire), 2);
        // No herd: each notification woke at most one worker.
        assert!(world.unparks.load(Ordering::Relaxed) <= world.notifies.load(Ordering::Relaxed));
    });
    eprintln!(
        "{} executions explored",
        executions.load(std::sync::atomic::Ordering::Relaxed)
    );
}
