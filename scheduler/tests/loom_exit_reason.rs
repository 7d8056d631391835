//! loom model of a process's exit reason published before `EXITED`
//! ([`ExitRecord`], module `exit_reason`, with [`RunState::set_exited`] and
//! [`RunState::is_exited`]).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom cargo test -p ferrotp-scheduler --test loom_exit_reason --release`
//!
//! # The protocol
//!
//! The process's owner (the thread running it, or the worker holding it)
//! records its reason ([`ExitRecord::record`]; the first recorded stands:
//! a kill records `Killed` before the unwind it starts, and the body's own
//! result does not replace it), then publishes it
//! ([`ExitRecord::publish`] → [`RunState::set_exited`], a `Release` store
//! of `EXITED`). Anyone else reads it with [`ExitRecord::published`]: an
//! `Acquire` load that sees `EXITED` ([`RunState::is_exited`]), then the
//! cell. The record is the sync facade's `UnsafeCell`, which under loom is
//! loom's: every access to it is checked for a data race.
//!
//! # The invariants
//!
//! A reader sees `None` (not exited yet) or exactly the first reason,
//! never the second and never a half-written one; a reader that waits for
//! the publication gets the first reason; loom reports no data race
//! (a "causality violation") on the record.
//!
//! # Mutations this model catches
//!
//! `set_exited` as a `Relaxed` store, and `is_exited` as a `Relaxed` load:
//! both leave a reader's access to the cell unordered after the owner's
//! write, which loom reports. The second is caught although the facade
//! models loads as compare-exchanges that cannot succeed
//! (`mailbox/src/sync.rs`): loom synchronizes a failed compare-exchange
//! with its *failure* ordering, which is the load's ordering, so a
//! `Relaxed` load acquires nothing. (What the facade gives up is stale
//! reads, not the ordering of a load that reads the latest value.)
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_scheduler::exit_reason::{ExitReason, ExitRecord};
use ferrotp_scheduler::run_state::RunState;
use loom::thread;

/// The parts of a process control block (`Pcb`) that the protocol
/// touches.
struct Pcb {
    state: RunState,
    exit: ExitRecord,
}

/// The first reason (a kill), and the one the body ends with after it.
fn first() -> ExitReason {
    ExitReason::Killed
}

fn second() -> ExitReason {
    ExitReason::custom("the body's own result")
}

/// The owner ends the process: records the kill's reason, then the body's
/// result (which must not replace it), checks what is recorded, and
/// publishes (`Pcb::set_exit_reason`, `WorkerLoop::finish`).
fn end(pcb: &Pcb) {
    // SAFETY: this thread owns the process, which is not published as
    // exited yet; the readers only read after `EXITED`.
    unsafe {
        pcb.exit.record(first());
        pcb.exit.record(second());
        assert_eq!(
            pcb.exit.recorded(),
            Some(first()),
            "the first reason stands"
        );
        pcb.exit.publish(&pcb.state);
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

/// The owner records two reasons and publishes while two readers look:
/// one looks twice (`Pid::exit_reason`, say), one waits until it sees the
/// reason (`Pid::has_exited` in a loop, then `exit_reason`).
#[test]
fn readers_see_nothing_or_the_first_reason_and_never_race_the_owner() {
    model(|| {
        let pcb = Arc::new(Pcb {
            state: RunState::new(),
            exit: ExitRecord::new(),
        });
        // The owner runs the process.
        pcb.state.set_running();
        let looker = {
            let pcb = Arc::clone(&pcb);
            thread::spawn(move || {
                for _ in 0..2 {
                    match pcb.exit.published(&pcb.state) {
                        None => {}
                        Some(reason) => assert_eq!(reason, first()),
                    }
                }
            })
        };
        let waiter = {
            let pcb = Arc::clone(&pcb);
            thread::spawn(move || {
                loop {
                    if let Some(reason) = pcb.exit.published(&pcb.state) {
                        break reason;
                    }
                    thread::yield_now();
                }
            })
        };
        end(&pcb);
        looker.join().unwrap();
        assert_eq!(waiter.join().unwrap(), first());
        assert_eq!(pcb.exit.published(&pcb.state), Some(first()));
    });
}
