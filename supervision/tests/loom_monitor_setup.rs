//! loom models of setting up and taking down a monitor (module
//! `monitor_record`): the hook registration racing the watched process's
//! end, `demonitor` and the owner's end, running the shipped code on fake
//! processes (`loom_process`). The monitor's state machine alone has its
//! own model (`loom_monitors.rs`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-supervision --test loom_monitor_setup --release`
#![cfg(loom)]

mod loom_process;

use ferrotp_scheduler::{ExitReason, ProcessId};
use ferrotp_supervision::monitor_record::{MonitorRecord, monitor};
use ferrotp_supervision::watch::Watch;
use loom::thread;
use loom_process::{Proc, pair};

/// The `Down` that `monitor` of `watched` may have sent: with the reason
/// if its hook was registered before the end, else with `NoProc`.
fn expected_down(
    monitor: &MonitorRecord<Proc>,
    watched: &Proc,
    reason: ExitReason,
) -> Vec<(u64, ProcessId, ExitReason)> {
    let reason = if watched.tally().ran_at_once == 1 {
        ExitReason::NoProc
    } else {
        reason
    };
    vec![(monitor.id(), watched.id(), reason)]
}

/// A monitor made while the watched process ends: exactly one `Down`,
/// with the reason or `NoProc`, and no hook left on the owner, which
/// lives on (its hook was removed by the `Down`'s sender, or by the owner
/// storing the handles too late).
#[test]
fn a_monitor_racing_the_end_sends_one_down_and_leaves_no_hook() {
    loom::model(|| {
        let (_, owner, watched) = pair();
        let ends = {
            let watched = watched.clone();
            thread::spawn(move || watched.end(ExitReason::Shutdown))
        };
        let monitor = monitor(&owner, &watched);
        ends.join().unwrap();
        assert!(!monitor.is_active());
        let expected = expected_down(&monitor, &watched, ExitReason::Shutdown);
        assert_eq!(owner.downs(), expected);
        let owner_hooks = owner.tally();
        assert_eq!(owner_hooks.pending, 0, "a hook left on the owner");
        assert_eq!(owner_hooks.registered, owner_hooks.removed);
        assert_eq!(watched.tally().registered, 1);
    });
}

/// The owner demonitors right after monitoring, while the watched process
/// ends. If `demonitor` found the monitor active, no `Down` ever comes;
/// if not, the `Down` is in the owner's mailbox as `demonitor` returns.
/// Either way no hook of the monitor is left on the watched process when
/// it returns, nor on the owner once the `Down`'s sender is done.
#[test]
fn demonitor_racing_the_end_leaves_no_late_down_and_no_hook() {
    loom::model(|| {
        let (_, owner, watched) = pair();
        let ends = {
            let watched = watched.clone();
            thread::spawn(move || watched.end(ExitReason::Shutdown))
        };
        let monitor = monitor(&owner, &watched);
        let was_active = monitor.demonitor();
        let seen_at_return = owner.downs_seen();
        assert_eq!(watched.tally().pending, 0, "a hook left on the watched");
        ends.join().unwrap();
        if was_active {
            assert_eq!(owner.downs(), [], "a Down after demonitor");
        } else {
            assert_eq!(seen_at_return, 1, "the Down came after demonitor");
            let expected = expected_down(&monitor, &watched, ExitReason::Shutdown);
            assert_eq!(owner.downs(), expected);
        }
        assert!(!monitor.is_active());
        // The owner lives on: its hook was removed (by `demonitor`, or by
        // the `Down`'s sender, which may do so just after `demonitor`
        // returns).
        let owner_hooks = owner.tally();
        assert_eq!(owner_hooks.pending, 0, "a hook left on the owner");
        assert_eq!(owner_hooks.registered, owner_hooks.removed);
    });
}

/// The owner ends right after monitoring, while the watched process ends:
/// at most one `Down`, and once the owner's end is over, no hook of the
/// monitor is left on the watched process (the owner's hook withdrew it,
/// or it ran).
#[test]
fn the_owners_end_racing_the_watched_end_withdraws_the_hook() {
    loom::model(|| {
        let (_, owner, watched) = pair();
        let ends = {
            let watched = watched.clone();
            thread::spawn(move || watched.end(ExitReason::Killed))
        };
        let monitor = monitor(&owner, &watched);
        owner.end(ExitReason::Shutdown);
        assert_eq!(watched.tally().pending, 0, "a hook left on the watched");
        ends.join().unwrap();
        assert!(!monitor.is_active());
        let downs = owner.downs();
        if !downs.is_empty() {
            assert_eq!(downs, expected_down(&monitor, &watched, ExitReason::Killed));
        }
        let watched_hooks = watched.tally();
        assert_eq!(watched_hooks.registered, 1);
    });
}
