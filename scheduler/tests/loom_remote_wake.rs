//! loom model of a remote wake-up racing its worker's park: a settled
//! process is woken from another thread through its worker's inbox while
//! that worker goes to sleep.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom cargo test -p ferrotp-scheduler --test loom_remote_wake --release`
//!
//! # The protocol
//!
//! A process that has run is settled on its worker (worker 0 here) and
//! never moves. A thread that wakes it (worker 1's thread, running a
//! process that sends to it, say) moves its [`RunState`] out of `WAITING`
//! (`Pcb::wake` → `RunState::wake`), reads where it lives (`Pcb::place`)
//! and, not being on that worker, pushes a `Delivery::Woken` into worker
//! 0's inbox, a `ferrotp_mailbox::Mailbox`; if the push answers
//! `must_wake()`, it unparks worker 0's thread (`schedule_woken` →
//! `wake_remote` → `Remote::deliver`, in `worker/run_loop.rs` and `worker/shared.rs`).
//!
//! Worker 0, out of work, drains its inbox (`WorkerLoop::drain_inbox`)
//! and then parks by `WorkerLoop::park`: it registers as a sleeper in the
//! real [`Idle`] (`transition_to_parked`), fences
//! ([`Idle::recheck_fence`]), takes a second look (`work_visible`: the
//! shutdown flag; the injector and the other workers' deques are empty in
//! this model), announces the wait on its inbox (`announce_wait`: only
//! `Sleep` parks; `Ready` and `Closed` go back to the run loop), parks,
//! then withdraws the announcement (`cancel_wait`) and counts itself awake
//! again (`transition_from_parked`, via `WorkerLoop::unparked`).
//!
//! This wake-up does not go through `Idle` (only one worker may run the
//! process): what keeps it from being lost is the inbox's announcement, a
//! CAS on the word that every push writes, so the push either lands
//! before it (`announce_wait` answers `Ready`, or waits on the slot being
//! written) or after it (the push answers `WakeReceiver`).
//!
//! # The invariant
//!
//! The woken process runs again, exactly once. A lost wake-up leaves
//! worker 0 parked forever, which loom reports as a deadlock.
//!
//! The worker's park is its poller (module `io::driver`), and its unpark
//! the poller's waker, which exists from the runtime's build and is a
//! permit like `Thread::unpark`: loom's park and unpark model it.
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_mailbox::{Mailbox, Receiver, Wait};
use ferrotp_scheduler::idle::Idle;
use ferrotp_scheduler::run_state::RunState;
use loom::thread;

/// The worker the process is settled on.
const HOME: usize = 0;
/// The process's key in that worker's slab.
const KEY: usize = 5;
/// Where `Pcb::place` says a process lives before it has run.
const NOWHERE: usize = usize::MAX;

/// The parts of a process control block (`Pcb`) the protocol touches.
struct Process {
    state: RunState,
    /// `Pcb::home` and `Pcb::key`: written `Relaxed` by its worker before
    /// the `Release` of `suspended_waiting`, read `Relaxed` by the waker
    /// after the `Acquire` of `wake`. loom's own atomics, so that a stale
    /// read is possible if those orderings are wrong.
    home: loom::sync::atomic::AtomicUsize,
    key: loom::sync::atomic::AtomicUsize,
    /// Times the process ran again after its wait.
    resumed: AtomicUsize,
    /// Of those, through the inbox (the rest: requeued by its own worker,
    /// woken while still running).
    resumed_from_inbox: AtomicUsize,
}

impl Process {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            state: RunState::new(),
            home: loom::sync::atomic::AtomicUsize::new(NOWHERE),
            key: loom::sync::atomic::AtomicUsize::new(NOWHERE),
            resumed: AtomicUsize::new(0),
            resumed_from_inbox: AtomicUsize::new(0),
        })
    }

    /// `Pcb::settle`.
    fn settle(&self, worker: usize, key: usize) {
        self.home.store(worker, Ordering::Relaxed);
        self.key.store(key, Ordering::Relaxed);
    }

    /// `Pcb::place`.
    fn place(&self) -> (usize, usize) {
        (
            self.home.load(Ordering::Relaxed),
            self.key.load(Ordering::Relaxed),
        )
    }

    /// The running process suspends in a blocking call, and its worker
    /// records where it keeps it (`WorkerLoop::settle`) and publishes the
    /// wait (`WorkerLoop::resume`, arm `Suspend::Wait`). Returns true if it
    /// is now `WAITING`; false if it was woken while running, in which
    /// case its worker requeues it itself.
    fn suspend_to_wait(&self) -> bool {
        self.settle(HOME, KEY);
        self.state.suspended_waiting()
    }
}

/// What the model shares: worker 0's side (`Shared` and `Remote` in
/// `worker/shared.rs`).
struct World {
    idle: Idle,
    /// `Remote::inbox` of worker 0 (`Delivery::Woken(pcb)` is the pcb).
    inbox: Arc<Mailbox<Arc<Process>>>,
    /// `Shared::shutdown`: never set in this model, read by the second
    /// look. loom's own atomic, as the production flag is a plain std one.
    shutdown: loom::sync::atomic::AtomicBool,
    process: Arc<Process>,
}

impl World {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            // Worker 0 parks; worker 1 (the waker's thread) stays awake.
            idle: Idle::new(2),
            inbox: Arc::new(Mailbox::new()),
            shutdown: loom::sync::atomic::AtomicBool::new(false),
            process: Process::new(),
        })
    }
}

/// Worker 0's run loop after its process suspended, until that process
/// has run again. `requeued` is `runnable` (the process was woken while
/// still running and its worker requeued it).
fn worker(world: &World, mut inbox: Receiver<Arc<Process>>, requeued: bool) {
    let mut runnable = requeued;
    let mut from_inbox = false;
    let mut searching = false;
    loop {
        // `next_job` → `housekeeping` → `drain_inbox`.
        while let Some(pcb) = inbox.pop() {
            let (home, key) = pcb.place();
            assert_eq!(
                (home, key),
                (HOME, KEY),
                "a woken process of another worker"
            );
            // `requeue`: to the back of `runnable`.
            assert!(!runnable, "the process was queued twice");
            runnable = true;
            from_inbox = true;
        }
        // `local_pick`, then `resume` → `step`.
        if runnable {
            world.process.state.set_running();
            world.process.resumed.fetch_add(1, Ordering::Relaxed);
            if from_inbox {
                world
                    .process
                    .resumed_from_inbox
                    .fetch_add(1, Ordering::Relaxed);
            }
            // It ends (`WorkerLoop::finish`).
            world.process.state.set_exited();
            return;
        }
        // `search` and `spin` find nothing: nobody else has work here.
        // `WorkerLoop::park`:
        world.idle.transition_to_parked(HOME, searching);
        searching = false;
        Idle::recheck_fence();
        // `work_visible`.
        if world.shutdown.load(Ordering::SeqCst) {
            searching |= world.idle.transition_from_parked(HOME);
            continue;
        }
        match inbox.announce_wait() {
            Wait::Sleep => {}
            Wait::Ready | Wait::Closed => {
                searching |= world.idle.transition_from_parked(HOME);
                continue;
            }
        }
        thread::park();
        let _ = inbox.cancel_wait();
        // `unparked`.
        searching |= world.idle.transition_from_parked(HOME);
    }
}

/// `Pcb::wake` from a thread that is not worker 0's.
fn wake(world: &World, worker: &thread::Thread) {
    let process = &world.process;
    if !process.state.wake() {
        // Running: a permit is left for its next wait.
        return;
    }
    // `schedule_woken`: where does it live? Not here.
    let (home, key) = process.place();
    assert_eq!(
        (home, key),
        (HOME, KEY),
        "the waker must see where the process lives"
    );
    // `wake_remote` → `Remote::deliver`.
    match world.inbox.push(Arc::clone(process)) {
        Ok(pushed) => {
            if pushed.must_wake() {
                // `Remote::unpark`.
                worker.unpark();
            }
        }
        Err(_) => unreachable!("worker 0's inbox is open until it shuts down"),
    }
}

/// Runs `f` under loom and prints how many executions it explored.
fn model(f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    loom::model(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    eprintln!("{} executions explored", executions.load(Ordering::Relaxed));
}

/// The process is already `WAITING` on worker 0 when the race starts:
/// the waker always queues it, through the inbox, while worker 0 parks.
#[test]
fn a_remote_wake_always_reaches_the_parking_worker() {
    model(|| {
        let world = World::new();
        world.process.state.set_running();
        assert!(world.process.suspend_to_wait());
        let inbox = Receiver::new(Arc::clone(&world.inbox));
        let home = {
            let world = Arc::clone(&world);
            thread::spawn(move || worker(&world, inbox, false))
        };
        wake(&world, home.thread());
        home.join().unwrap();
        assert_eq!(world.process.resumed.load(Ordering::Relaxed), 1);
        assert_eq!(world.process.resumed_from_inbox.load(Ordering::Relaxed), 1);
        assert_eq!(world.idle.counts(), (2, 0), "worker 0 is awake again");
    });
}

/// The wake also races the process's suspension on worker 0: woken while
/// running, worker 0 requeues it itself; woken while waiting, the waker
/// queues it through the inbox. Either way it runs again exactly once.
#[test]
fn a_remote_wake_racing_the_wait_and_the_park_runs_the_process_once() {
    model(|| {
        let world = World::new();
        // A wake of a SCHEDULED process is a no-op by design (it looks at
        // what it waits for when it runs), so the race starts in RUNNING:
        // the process runs on worker 0 (`step`'s `set_running`).
        world.process.state.set_running();
        let inbox = Receiver::new(Arc::clone(&world.inbox));
        let home = {
            let world = Arc::clone(&world);
            thread::spawn(move || {
                let waiting = world.process.suspend_to_wait();
                worker(&world, inbox, !waiting);
            })
        };
        wake(&world, home.thread());
        home.join().unwrap();
        assert_eq!(world.process.resumed.load(Ordering::Relaxed), 1);
    });
}
