//! loom model of a process sending to a full bounded mailbox: the room
//! waiter's wake-up goes through the sender's run state.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom cargo test -p ferrotp-scheduler --test loom_room_wait --release`
//!
//! # The protocol
//!
//! `send_when_room` (`messaging/send.rs`): a sending process registers a
//! [`RoomWaiter`] on the full mailbox whose waker is its own control
//! block, so that waking it is `Pcb::wake` → [`RunState::wake`] (true:
//! "the waker queues it" on its worker, `schedule_woken`). It retries
//! `RoomWaiter::try_push`; on `Full` it waits (`ProcessCtx::wait_checked`:
//! the coroutine suspends, and its worker publishes the wait with
//! [`RunState::suspended_waiting`] in `WorkerLoop::resume`; false means
//! it was woken while still running and the worker requeues it at once).
//! When its worker resumes it (`step`: [`RunState::set_running`]) it
//! retries, or, if an exit signal killed it meanwhile (`check_signals`),
//! unwinds, dropping the `RoomWaiter`, which passes on a room wake-up it
//! did not use.
//!
//! The receiver takes a message ([`Receiver::pop`] → `Bound::release`),
//! which wakes one room waiter, and closes its mailbox when it ends, which
//! wakes them all. A push that answers `must_wake()` wakes the receiver.
//!
//! In the model each sending process is a loom thread standing for the
//! process *and* its worker: a `wake` that returns true counts one
//! queueing and unparks that thread; when it returns from `park` its
//! worker has resumed the process. The receiver is a plain thread that
//! parks on its mailbox's `announce_wait` (its own run state is the one
//! `loom_remote_wake.rs` models).
//!
//! # The invariant
//!
//! Every sender that does not give up gets its message in, exactly once,
//! and each of its waits is ended by exactly one queueing. A lost wake-up
//! leaves a sender (and the receiver waiting for its message) parked
//! forever: a loom deadlock.
#![cfg(loom)]

use std::sync::Arc;
use std::task::{Wake, Waker};

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_mailbox::{Mailbox, Receiver, RoomWaiter, TryPushError, Wait};
use ferrotp_scheduler::run_state::RunState;
use loom::thread;

/// The sender's key in its worker's slab.
const KEY: usize = 3;

/// The parts of a sending process's control block (`Pcb`) that the
/// protocol touches.
struct Process {
    state: RunState,
    /// `Pcb::place`: written `Relaxed` by the worker, published by the
    /// `Release` of `suspended_waiting`. loom's own atomic, so that a stale
    /// read is possible if the orderings are wrong. (On this path the room
    /// waiters' mutex orders it too, so a weakened `wake` passes here;
    /// `loom_remote_wake.rs` catches it.)
    place: loom::sync::atomic::AtomicUsize,
    /// The thread standing for the process and its worker.
    worker: thread::Thread,
    /// Wakes that returned true: the waker queued the process.
    queued: AtomicUsize,
}

impl Process {
    /// A process that its worker (the current thread) has settled and
    /// runs (`WorkerLoop::settle`, `step`'s `set_running`).
    fn running_here() -> Arc<Self> {
        let process = Arc::new(Self {
            state: RunState::new(),
            place: loom::sync::atomic::AtomicUsize::new(usize::MAX),
            worker: thread::current(),
            queued: AtomicUsize::new(0),
        });
        process.place.store(KEY, Ordering::Relaxed);
        process.state.set_running();
        process
    }

    /// `Pcb::wake`.
    fn wake(&self) {
        if self.state.wake() {
            // `schedule_woken`: the waker looks up where the process lives
            // and queues it there.
            assert_eq!(
                self.place.load(Ordering::Relaxed),
                KEY,
                "the waker must see where the process lives"
            );
            self.queued.fetch_add(1, Ordering::Relaxed);
            self.worker.unpark();
        }
    }
}

/// `impl Wake for Pcb`: the room waiter's waker.
impl Wake for Process {
    fn wake(self: Arc<Self>) {
        Process::wake(&self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        Process::wake(self);
    }
}

/// What a sending process did.
struct Sent {
    /// Times its message went in.
    pushed: usize,
    /// Times its message became a dead letter (the mailbox was closed).
    dead_letters: usize,
    /// Times it suspended in `WAITING`.
    waits: usize,
    process: Arc<Process>,
}

/// `send_when_room`, run by a process on its worker. With `killed`, an
/// exit signal ends the process at its first wait, whatever woke it
/// (`check_signals` unwinds; the `RoomWaiter` is dropped).
fn send_when_room(mailbox: &Mailbox<u8>, to: &thread::Thread, value: u8, killed: bool) -> Sent {
    let process = Process::running_here();
    let mut waiter: RoomWaiter<'_, u8> = mailbox.room_waiter(Waker::from(Arc::clone(&process)));
    let mut value = value;
    let mut sent = Sent {
        pushed: 0,
        dead_letters: 0,
        waits: 0,
        process: Arc::clone(&process),
    };
    loop {
        match waiter.try_push(value) {
            Ok(pushed) => {
                sent.pushed += 1;
                if pushed.must_wake() {
                    // `to.wake()`: the receiver.
                    to.unpark();
                }
                break;
            }
            // The receiver ended first: `dead_letter`.
            Err(TryPushError::Closed(_)) => {
                sent.dead_letters += 1;
                break;
            }
            Err(TryPushError::Full(refused)) => {
                value = refused;
                // `wait_checked` suspends; `WorkerLoop::resume` publishes
                // the wait.
                if process.state.suspended_waiting() {
                    sent.waits += 1;
                    // Not in any queue: its worker resumes it only once a
                    // waker has queued it.
                    thread::park();
                }
                // Woken while running: requeued by its worker. Either way
                // the worker resumes it (`step`).
                process.state.set_running();
                if killed {
                    break;
                }
            }
        }
    }
    drop(waiter);
    // `WorkerLoop::finish`.
    process.state.set_exited();
    sent
}

/// The receiving side: takes messages until `done` says so, parking on
/// an empty mailbox, then closes it (the receiving process ends).
fn receive_until(mut rx: Receiver<u8>, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut got = Vec::new();
    while !done(&got) {
        match rx.pop() {
            Some(msg) => got.push(msg),
            None => match rx.announce_wait() {
                Wait::Sleep => thread::park(),
                // Arrived, or still being written: let the sender run.
                Wait::Ready => thread::yield_now(),
                Wait::Closed => unreachable!("only the receiver closes"),
            },
        }
    }
    drop(rx);
    got
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

/// Capacity 1, already full: the sending process must wait until the
/// receiver takes the first message, whenever that wake-up lands
/// (before its wait is published, or after).
#[test]
fn a_process_waiting_for_room_always_gets_its_message_in_once() {
    model(|| {
        let mailbox = Arc::new(Mailbox::bounded(1));
        let rx = Receiver::new(Arc::clone(&mailbox));
        let _ = mailbox.try_push(0).unwrap();
        let receiver = thread::spawn(move || receive_until(rx, |got| got.len() == 2));
        let sent = send_when_room(&mailbox, receiver.thread(), 1, false);
        assert_eq!(receiver.join().unwrap(), vec![0, 1]);
        assert_eq!((sent.pushed, sent.dead_letters), (1, 0));
        assert_eq!(
            sent.process.queued.load(Ordering::Relaxed),
            sent.waits,
            "each wait is ended by exactly one queueing"
        );
    });
}

/// Capacity 1, full. Process A waits for room and is killed at its first
/// wait, perhaps after the room wake-up went to it; process B must still
/// get in. The receiver ends once B's message is in, which wakes A if it
/// still waits.
#[test]
fn a_killed_waiting_process_never_strands_another() {
    model(|| {
        let mailbox = Arc::new(Mailbox::bounded(1));
        let rx = Receiver::new(Arc::clone(&mailbox));
        let _ = mailbox.try_push(0).unwrap();
        let receiver = thread::spawn(move || receive_until(rx, |got| got.contains(&2)));
        let a = {
            let mailbox = Arc::clone(&mailbox);
            let to = receiver.thread().clone();
            thread::spawn(move || {
                let sent = send_when_room(&mailbox, &to, 1, true);
                assert!(sent.pushed + sent.dead_letters <= 1);
                (
                    sent.pushed,
                    sent.waits,
                    sent.process.queued.load(Ordering::Relaxed),
                )
            })
        };
        let b = send_when_room(&mailbox, receiver.thread(), 2, false);
        let got = receiver.join().unwrap();
        let (a_pushed, a_waits, a_queued) = a.join().unwrap();
        assert_eq!((b.pushed, b.dead_letters), (1, 0));
        assert_eq!(got.iter().filter(|&&m| m == 2).count(), 1, "{got:?}");
        assert!(
            got.iter().filter(|&&m| m == 1).count() <= a_pushed,
            "{got:?}"
        );
        assert_eq!(b.process.queued.load(Ordering::Relaxed), b.waits);
        assert_eq!(a_queued, a_waits);
    });
}
