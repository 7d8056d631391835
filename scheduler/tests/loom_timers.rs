//! loom models of the two races of a timer (module `timer_state`):
//! a `send_after` timer firing while it is cancelled ([`SendTimerState`]),
//! and a moved process's stale timer firing with its current one
//! ([`TimerFired`]).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom cargo test -p ferrotp-scheduler --test loom_timers --release`
//!
//! # `send_after` against `cancel_timer`
//!
//! The worker whose wheel holds the timer fires it (`fire_timers`: the
//! message is delivered only if [`SendTimerState::fire`] returns true);
//! `cancel_timer`, from any thread, calls [`SendTimerState::cancel`]. Both
//! compare-and-swap one word out of `PENDING`. **Invariant:** exactly one
//! of them wins, so the message is delivered iff `cancel_timer` returned
//! false; a second cancel never wins.
//!
//! # A moved process's timers
//!
//! A migratable process armed timer 1 on worker A, moved to worker B, and
//! armed timer 2 there (its current wait: `receive_timeout` or `sleep`).
//! Only A's wheel can drop timer 1, so A fires it while B fires timer 2;
//! each raises the process's [`TimerFired`] (`fetch_max`, `Release`) and
//! wakes the process (`Pcb::wake` → [`RunState::wake`]). The process,
//! waiting for timer 2, loops like `sleep_until`: [`TimerFired::has_fired`]
//! (`Acquire`), else wait. **Invariants:** once B has fired timer 2 the
//! process sees it, whatever A does (a stale timer never hides a newer
//! one: a lost timeout leaves the process waiting forever, which loom
//! reports as a deadlock); and it never sees timer 2 before B fired it:
//! what B wrote before firing (here a cell standing for the wheel entry
//! it took out, read by the process when it sees its timeout) is visible,
//! which loom checks as a data race on that cell.
//!
//! The process is the model's main thread and stands for its worker too:
//! a `wake` that returns true unparks it, and returning from `park` is its
//! worker resuming it ([`RunState::set_running`]).
//!
//! # Mutations these models catch
//!
//! [`TimerFired::fire`] as a plain store instead of `fetch_max` (a
//! deadlock: timer 1 overwrites timer 2), and `fire` / `cancel` of
//! [`SendTimerState`] as a load then a store instead of a compare-exchange
//! (both win: the message is delivered and the cancel reports success).
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_scheduler::run_state::RunState;
use ferrotp_scheduler::timer_state::{SendTimerState, TimerFired};
use loom::cell::UnsafeCell;
use loom::thread;

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

/// A `send_after` timer: its state, and the deliveries of its message.
struct SendTimer {
    state: SendTimerState,
    delivered: AtomicUsize,
}

/// `fire_timers`, arm `TimerEvent::Send`.
fn fire_send_timer(timer: &SendTimer) {
    if timer.state.fire() {
        // `deliver(&to, message)`.
        timer.delivered.fetch_add(1, Ordering::Relaxed);
    }
}

/// The worker fires the timer while two threads cancel it (the second
/// cancel also stands for a `cancel_timer` called twice).
#[test]
fn a_send_after_timer_is_delivered_iff_no_cancel_won() {
    model(|| {
        let timer = Arc::new(SendTimer {
            state: SendTimerState::new(),
            delivered: AtomicUsize::new(0),
        });
        let worker = {
            let timer = Arc::clone(&timer);
            thread::spawn(move || fire_send_timer(&timer))
        };
        let canceller = {
            let timer = Arc::clone(&timer);
            thread::spawn(move || timer.state.cancel())
        };
        let cancelled_here = timer.state.cancel();
        worker.join().unwrap();
        let cancelled_there = canceller.join().unwrap();
        let delivered = timer.delivered.load(Ordering::Relaxed);
        assert!(
            !(cancelled_here && cancelled_there),
            "two cancels of one timer both won"
        );
        let cancelled = cancelled_here || cancelled_there;
        assert_eq!(
            delivered,
            usize::from(!cancelled),
            "delivered {delivered} time(s), cancel_timer returned {cancelled}"
        );
        // Settled: neither fires nor cancels again.
        assert!(!timer.state.fire());
        assert!(!timer.state.cancel());
    });
}

/// The simplest race: one fire against one cancel.
#[test]
fn a_fire_racing_a_cancel_has_exactly_one_winner() {
    model(|| {
        let timer = Arc::new(SendTimer {
            state: SendTimerState::new(),
            delivered: AtomicUsize::new(0),
        });
        let worker = {
            let timer = Arc::clone(&timer);
            thread::spawn(move || fire_send_timer(&timer))
        };
        let cancelled = timer.state.cancel();
        worker.join().unwrap();
        assert_eq!(
            timer.delivered.load(Ordering::Relaxed),
            usize::from(!cancelled)
        );
    });
}

/// The parts of a migratable process's control block that its timers
/// touch.
struct Pcb {
    state: RunState,
    timer_fired: TimerFired,
    /// What worker B did before firing timer 2 (the wheel entry it took
    /// out): written by B, read by the process once it sees timer 2.
    /// loom's cell, so that a read not ordered after the write is
    /// reported.
    fired_by: UnsafeCell<usize>,
    /// Wakes that returned true: a worker queued the process.
    queued: AtomicUsize,
}

// SAFETY: `fired_by` is written once, by worker B before it fires timer
// 2, and read by the process only after it has seen timer 2 fired (loom
// checks that order); the rest is atomic.
unsafe impl Sync for Pcb {}

/// Worker B's number, and no worker.
const B: usize = 2;
const NOBODY: usize = 0;

/// `fire_timers`, arm `TimerEvent::Wake`, on the worker whose wheel held
/// timer `seq`.
fn fire_wake_timer(pcb: &Pcb, seq: u64, process: &thread::Thread) {
    pcb.timer_fired.fire(seq);
    if pcb.state.wake() {
        // `schedule_woken`: queued on its worker.
        pcb.queued.fetch_add(1, Ordering::Relaxed);
        process.unpark();
    }
}

/// A fires the stale timer 1 while B fires timer 2; the process waits for
/// timer 2.
#[test]
fn a_stale_timer_never_hides_the_current_one() {
    model(|| {
        let pcb = Arc::new(Pcb {
            state: RunState::new(),
            timer_fired: TimerFired::new(),
            fired_by: UnsafeCell::new(NOBODY),
            queued: AtomicUsize::new(0),
        });
        // The process runs on worker B (this thread stands for both).
        pcb.state.set_running();
        let me = thread::current();
        let a = {
            let pcb = Arc::clone(&pcb);
            let me = me.clone();
            thread::spawn(move || fire_wake_timer(&pcb, 1, &me))
        };
        let b = {
            let pcb = Arc::clone(&pcb);
            thread::spawn(move || {
                // SAFETY: the process reads the cell only once timer 2 has
                // fired, below; nobody else touches it.
                pcb.fired_by.with_mut(|by| unsafe { *by = B });
                fire_wake_timer(&pcb, 2, &me);
            })
        };
        // `sleep_until` for timer 2: look, else wait (a check point after
        // each wait has nothing to act on here).
        let mut waits = 0;
        while !pcb.timer_fired.has_fired(2) {
            if pcb.state.suspended_waiting() {
                waits += 1;
                thread::park();
            }
            pcb.state.set_running();
        }
        // SAFETY: B wrote the cell before firing timer 2, which we saw.
        let by = pcb.fired_by.with(|by| unsafe { *by });
        assert_eq!(by, B, "timer 2 seen before worker B fired it");
        a.join().unwrap();
        b.join().unwrap();
        // A's stale timer fires before or after: it never changes what a
        // wait for timer 2 sees.
        assert!(pcb.timer_fired.has_fired(2));
        assert_eq!(
            pcb.queued.load(Ordering::Relaxed),
            waits,
            "each wait is ended by exactly one queueing"
        );
    });
}
