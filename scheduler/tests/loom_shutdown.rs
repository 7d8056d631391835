//! loom model of shutdown racing a worker that parks.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom cargo test -p ferrotp-scheduler --test loom_shutdown --release`
//!
//! # The protocol
//!
//! `Runtime::drop` (`runtime/mod.rs`) stores `shutdown` (`SeqCst`), issues a
//! `SeqCst` fence, calls [`Idle::wake_all`], and unparks every worker's
//! thread through `Remote::unpark`.
//!
//! `Remote::unpark` now writes the worker's poller's waker (module
//! `io::driver`), which exists from the runtime's build, before the
//! thread starts, and is a permit like `Thread::unpark`: so every unpark
//! reaches the worker. The model keeps the harder case it was written
//! for, an unpark that may find no handle to unpark (a `OnceLock` the
//! worker set first thing in `WorkerLoop::run`, which an earlier version
//! had): the protocol holds even then, so it holds with the waker.
//!
//! A worker runs `while !shutdown.load(Acquire)`; out of work it parks by
//! `WorkerLoop::park`: [`Idle::transition_to_parked`], the fence
//! [`Idle::recheck_fence`], the second look (`work_visible`, which reads
//! `shutdown` with `SeqCst`; the other queues are empty here), the inbox's
//! `announce_wait` (only `Sleep` parks), `park`, `cancel_wait`, then
//! `transition_from_parked` (`WorkerLoop::unparked`).
//!
//! # The invariant
//!
//! Whatever the interleaving, the worker leaves its loop, so the
//! runtime's `join` returns. A worker left parked is a loom deadlock.
//!
//! # What the model reads with loom's own atomics
//!
//! `shutdown` is a plain std `AtomicBool` in production, so the model uses
//! loom's (not the facade's, whose loads are read-modify-writes: see
//! `ferrotp_mailbox::sync`), and so is the stand-in for the `OnceLock`
//! (`Release` set, `Acquire` get, as std's): both may be read stale, which
//! is what the fences and the sleepers' mutex are for.
//!
//! # Two guards, each enough
//!
//! `Runtime::drop`'s unpark always comes after its `shutdown` store, so a
//! worker whose handle it sees cannot sleep through the shutdown (the park
//! token). The race is with a worker whose handle it does not see yet.
//! Two things keep that worker from missing the flag: the `SeqCst` fence
//! pair (drop's, and [`Idle::recheck_fence`] before the second look), and
//! the sleepers' mutex in [`Idle`], which both `transition_to_parked` and
//! `wake_all` take, so that whichever side takes it second sees what the
//! other wrote before it. Either is enough on its own, and the model
//! checks the code as it is, with both. It fails (deadlock) when drop
//! unparks before storing `shutdown`, when it does not unpark, when the
//! worker skips its second look, and when `wake_all` is left out *and*
//! either fence is removed; it passes with only one of the fences
//! removed, or with `wake_all` left out alone.
//!
//! # One worker
//!
//! With two workers, drop's unpark can reach a worker blocked on the
//! sleepers' mutex, which loom 0.7 turns into a spurious "expected to be
//! able to acquire lock" panic (loom's `unpark` unblocks a thread
//! whatever it is blocked on, loom issue 249). The workers do not
//! interact here beyond that mutex, so one worker covers the protocol.
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{Ordering, fence};
use ferrotp_mailbox::{Mailbox, Receiver, Wait};
use ferrotp_scheduler::idle::Idle;
use loom::sync::atomic::AtomicBool;
use loom::thread;

std::thread_local! {
    /// Parks that returned, over all executions (loom runs a model's
    /// threads on the test's own thread): shows that the model does reach
    /// the park.
    static PARKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The shared state of the runtime (`Shared`, `Remote`).
struct Shared {
    idle: Idle,
    /// `Shared::shutdown`.
    shutdown: AtomicBool,
    /// Per worker: `Remote::thread.get().is_some()`. The handle itself is
    /// the `JoinHandle`'s, which the dropping thread holds.
    registered: Vec<AtomicBool>,
    /// Per worker: `Remote::inbox`.
    inboxes: Vec<Arc<Mailbox<u8>>>,
}

impl Shared {
    fn new(workers: usize) -> Arc<Self> {
        Arc::new(Self {
            idle: Idle::new(workers),
            shutdown: AtomicBool::new(false),
            registered: (0..workers).map(|_| AtomicBool::new(false)).collect(),
            inboxes: (0..workers).map(|_| Arc::new(Mailbox::new())).collect(),
        })
    }
}

/// `WorkerLoop::run` of a worker that never finds work.
fn worker(shared: &Shared, me: usize, mut inbox: Receiver<u8>) {
    // `remotes[me].thread.set(current())`.
    shared.registered[me].store(true, Ordering::Release);
    let mut searching = false;
    while !shared.shutdown.load(Ordering::Acquire) {
        // `next_job`, `search` and `spin` find nothing. `WorkerLoop::park`:
        shared.idle.transition_to_parked(me, searching);
        searching = false;
        Idle::recheck_fence();
        // `work_visible`.
        if shared.shutdown.load(Ordering::SeqCst) {
            searching |= shared.idle.transition_from_parked(me);
            continue;
        }
        match inbox.announce_wait() {
            Wait::Sleep => {}
            Wait::Ready | Wait::Closed => {
                searching |= shared.idle.transition_from_parked(me);
                continue;
            }
        }
        thread::park();
        PARKED.set(PARKED.get() + 1);
        let _ = inbox.cancel_wait();
        // `unparked`.
        searching |= shared.idle.transition_from_parked(me);
    }
    // `teardown` closes the inbox.
    drop(inbox);
}

/// `Runtime::drop`, up to joining the workers.
fn drop_runtime(shared: &Shared, workers: Vec<thread::JoinHandle<()>>) {
    shared.shutdown.store(true, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    let _ = shared.idle.wake_all();
    for (me, worker) in workers.iter().enumerate() {
        // `Remote::unpark`.
        if shared.registered[me].load(Ordering::Acquire) {
            worker.thread().unpark();
        }
    }
    for worker in workers {
        worker.join().unwrap();
    }
}

fn start(shared: &Arc<Shared>, workers: usize) -> Vec<thread::JoinHandle<()>> {
    (0..workers)
        .map(|me| {
            let shared = Arc::clone(shared);
            let inbox = Receiver::new(Arc::clone(&shared.inboxes[me]));
            thread::spawn(move || worker(&shared, me, inbox))
        })
        .collect()
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
    eprintln!(
        "{} executions explored, {} parks returned",
        executions.load(Ordering::Relaxed),
        PARKED.take()
    );
}

/// One worker, started just before the runtime is dropped: its first
/// park races the whole of `Runtime::drop`, including its registration.
#[test]
fn a_worker_parking_during_shutdown_always_leaves_its_loop() {
    model(|| {
        let shared = Shared::new(1);
        let workers = start(&shared, 1);
        drop_runtime(&shared, workers);
        assert!(shared.shutdown.load(Ordering::Relaxed));
        assert_eq!(shared.idle.counts().0, 1, "the worker is counted awake");
    });
}
