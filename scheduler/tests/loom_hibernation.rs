//! loom model of a process hibernating while messages arrive (module
//! `hibernation`): no message is left unread with nobody to launch the
//! process, the process is launched at most once per wait, and whoever
//! launches it finds its sleeper where the worker put it.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom cargo test -p ferrotp-scheduler --test loom_hibernation --release`
//!
//! # The protocol, as the model runs it
//!
//! The worker side (`activate`, `ProcessCtx::announce_hibernation`,
//! `ProcessCtx::park_into`, `WorkerLoop::hibernate` in the scheduler):
//! 1. the body takes every message it finds;
//! 2. it announces the wait on the mailbox (the real
//!    `Receiver::announce_wait`): `Ready` goes back to 1;
//! 3. the receiver is parked (the real `Receiver::park`) into the sleeper,
//!    the sleeper into the worker's slab, and the place `(worker, key |
//!    HIBERNATED)` is stored, `Relaxed`;
//! 4. `RunState::suspended_waiting` (the real one): false means it was
//!    woken meanwhile, and the worker launches it itself.
//!
//! A sender pushes a message (the real `Mailbox::push`); if the push says
//! `must_wake`, it calls the real `RunState::wake`, and if that says the
//! caller must queue the process, it reads the place and takes the
//! sleeper out (in the scheduler, through the home worker's run loop).
//! A launch takes the parked receiver up again (`ParkedReceiver::resume`)
//! and takes every message.
//!
//! The sleeper's slot is a loom `UnsafeCell`: a launch that reads it
//! without the happens-before edge from step 3 is reported as a data race.
//!
//! # Mutations tried (each makes a model fail)
//!
//! * `RunState::suspended_waiting`'s CAS with `Relaxed` instead of
//!   `Release`: the waker's read of the sleeper races with its write
//!   (loom reports the causality violation), and the place assertion
//!   fails.
//! * The worker ignoring `suspended_waiting`'s false (a wake-up that came
//!   while the body ran): a message stays unread with no launch.
//! * Skipping the announcement of step 2 (parking without
//!   `announce_wait`): the push is not told to wake, and the message is
//!   lost the same way.
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_mailbox::{Mailbox, ParkedReceiver, Receiver, Wait};
use ferrotp_scheduler::run_state::RunState;
use loom::cell::UnsafeCell;
use loom::thread;

const HIBERNATED: usize = 1 << 31;

struct Process {
    mailbox: Mailbox<u32>,
    state: RunState,
    /// `Pcb::place`'s key: loom's own atomic, so that a stale read shows.
    place: loom::sync::atomic::AtomicUsize,
    /// The worker's slab slot holding the sleeper, with the key it was
    /// stored under.
    sleeper: UnsafeCell<Option<(ParkedReceiver<u32>, usize)>>,
    launches: AtomicUsize,
    taken: AtomicUsize,
}

// SAFETY: `sleeper` is written by the running activation before its
// `suspended_waiting` and read by the one launcher the run state picks;
// loom checks exactly that claim (a race is reported, not undefined).
unsafe impl Sync for Process {}

impl Process {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            mailbox: Mailbox::new(),
            state: RunState::new(),
            place: loom::sync::atomic::AtomicUsize::new(0),
            sleeper: UnsafeCell::new(None),
            launches: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
        })
    }

    /// An activation on whichever thread runs it: takes every message,
    /// then hibernates under slab key `key` (steps 1-4); launched again
    /// at once if it was woken while it ran.
    fn activate(&self, mut receiver: Receiver<u32, &Mailbox<u32>>, key: usize) {
        loop {
            while receiver.pop().is_some() {
                self.taken.fetch_add(1, Ordering::Relaxed);
            }
            match receiver.announce_wait() {
                Wait::Ready => continue,
                Wait::Sleep | Wait::Closed => break,
            }
        }
        let parked = receiver.park();
        self.sleeper.with_mut(|slot| {
            // SAFETY: only the running activation touches the slot before
            // the wait is published.
            unsafe { *slot = Some((parked, key)) }
        });
        self.place.store(HIBERNATED | key, Ordering::Relaxed);
        if !self.state.suspended_waiting() {
            self.launch();
        }
    }

    /// Whoever the run state picked takes the sleeper and runs the next
    /// activation (in the scheduler, a worker that took the launch from a
    /// run queue).
    fn launch(&self) {
        let (parked, key) = self
            .sleeper
            .with_mut(|slot| {
                // SAFETY: the run state hands the slot to one launcher,
                // after the worker's write (checked by loom).
                unsafe { (*slot).take() }
            })
            .expect("the sleeper is in its slot");
        assert_eq!(
            self.place.load(Ordering::Relaxed),
            HIBERNATED | key,
            "the launcher must see where the sleeper is"
        );
        self.launches.fetch_add(1, Ordering::Relaxed);
        self.state.set_running();
        // SAFETY: parked from this same mailbox.
        let mut receiver = unsafe { parked.resume(&self.mailbox) };
        let _ = receiver.cancel_wait();
        self.activate(receiver, key + 1);
    }

    fn send(&self, message: u32) {
        let pushed = self.mailbox.push(message).expect("open");
        if pushed.must_wake() && self.state.wake() {
            self.launch();
        }
    }

    /// Messages pushed and never taken (the process hibernates at the
    /// end of every model: nobody will launch it for them).
    fn unread(&self) -> usize {
        let (parked, _) = self
            .sleeper
            .with_mut(|slot| {
                // SAFETY: every thread has been joined.
                unsafe { (*slot).take() }
            })
            .expect("hibernated at the end");
        // SAFETY: parked from this same mailbox.
        let mut receiver = unsafe { parked.resume(&self.mailbox) };
        let _ = receiver.cancel_wait();
        let mut unread = 0;
        while receiver.pop().is_some() {
            unread += 1;
        }
        unread
    }
}

/// The first activation, on the worker that starts the process.
fn worker(process: &Process) {
    process.state.set_running();
    process.activate(Receiver::new(&process.mailbox), 0);
}

fn check(process: &Process, sent: usize) {
    let launches = process.launches.load(Ordering::Relaxed);
    assert!(launches <= sent, "{launches} launches for {sent} messages");
    assert_eq!(
        process.unread(),
        0,
        "a message is unread, with no launch to come"
    );
    assert_eq!(process.taken.load(Ordering::Relaxed), sent);
}

#[test]
fn a_message_racing_a_hibernation_is_taken_or_launches_the_process() {
    loom::model(|| {
        let process = Process::new();
        let sender = {
            let process = Arc::clone(&process);
            thread::spawn(move || process.send(1))
        };
        worker(&process);
        sender.join().unwrap();
        check(&process, 1);
    });
}

#[test]
fn two_senders_racing_a_hibernation_launch_the_process_at_most_once() {
    loom::model(|| {
        let process = Process::new();
        let senders: Vec<_> = (0..2)
            .map(|n| {
                let process = Arc::clone(&process);
                thread::spawn(move || process.send(n))
            })
            .collect();
        worker(&process);
        for sender in senders {
            sender.join().unwrap();
        }
        check(&process, 2);
    });
}
