//! Links and monitors: idempotence, atomic spawn_link/spawn_monitor,
//! `NoProc` for dead pids, unlink's and demonitor's guarantees, misuse.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrotp_scheduler::{
    Exit, ExitReason, SpawnOptions, exit, exit_self, mailbox_len, receive, receive_timeout,
    self_pid, send, spawn, spawn_opt, trap_exit, yield_now,
};
use ferrotp_supervision::{
    Demonitor, Down, demonitor, is_linked, link, monitor, spawn_link, spawn_monitor, unlink,
};

use common::{runtime, wait_exit};

/// Counts the `Exit` messages in the caller's mailbox (taking them).
fn count_exits() -> usize {
    std::iter::from_fn(|| receive_timeout::<Exit>(Duration::ZERO)).count()
}

/// Linking twice, or from both sides, makes one link: one signal.
#[test]
fn link_is_idempotent_from_either_side() {
    let rt = runtime(2);
    let (exits, linked_after) = rt.block_on(|| {
        trap_exit(true);
        let me = self_pid();
        let other = spawn(move || {
            link(&me);
            link(&me);
            send(&me, ());
            receive::<()>();
            exit_self(ExitReason::custom("bye"));
        });
        receive::<()>();
        link(&other);
        link(&other);
        assert!(is_linked(&other));
        // Watched after the link, so its Down comes after the link's
        // signal (hooks run in registration order).
        let watch = monitor(&other);
        send(&other, ());
        let down = receive::<Down>();
        assert_eq!(down.monitor, watch);
        (count_exits(), is_linked(&other))
    });
    assert_eq!(exits, 1);
    assert!(!linked_after, "a link ends when its signal is acted on");
}

/// Linking to oneself does nothing.
#[test]
fn linking_to_oneself_does_nothing() {
    let rt = runtime(1);
    let linked = rt.block_on(|| {
        link(&self_pid());
        is_linked(&self_pid())
    });
    assert!(!linked);
}

/// The link of `spawn_link` exists before the child runs: a child that
/// fails at once is reported with its own reason, never `NoProc`.
#[test]
fn spawn_link_links_before_the_child_runs() {
    let rt = runtime(2);
    let reasons = rt.block_on(|| {
        trap_exit(true);
        let children: Vec<_> = (0..500)
            .map(|n| spawn_link(move || exit_self(ExitReason::custom(format!("child {n}")))))
            .collect();
        let mut reasons: Vec<(usize, ExitReason)> = (0..children.len())
            .map(|_| {
                let signal = receive::<Exit>();
                let at = children
                    .iter()
                    .position(|c| Some(c) == signal.from.as_ref())
                    .expect("from a child");
                (at, signal.reason)
            })
            .collect();
        reasons.sort_by_key(|(at, _)| *at);
        reasons
    });
    for (n, (at, reason)) in reasons.into_iter().enumerate() {
        assert_eq!(at, n);
        assert_eq!(reason, ExitReason::custom(format!("child {n}")));
    }
}

/// `spawn_monitor` likewise: the `Down` carries the real reason.
#[test]
fn spawn_monitor_monitors_before_the_child_runs() {
    let rt = runtime(2);
    let all_real = rt.block_on(|| {
        let watches: Vec<_> = (0..500)
            .map(|_| spawn_monitor(|| exit_self(ExitReason::custom("gone"))).1)
            .collect();
        (0..watches.len()).all(|_| {
            let down = receive::<Down>();
            watches.contains(&down.monitor) && down.reason == ExitReason::custom("gone")
        })
    });
    assert!(all_real);
}

/// Monitoring an ended process gives a `Down` with `NoProc` at once.
#[test]
fn monitoring_an_ended_process_gives_noproc_at_once() {
    let rt = runtime(1);
    let down = rt.block_on(|| {
        let gone = spawn(|| {});
        wait_exit(&gone);
        let watch = monitor(&gone);
        let down = receive_timeout::<Down>(Duration::ZERO).expect("already there");
        assert_eq!(down.monitor, watch);
        assert!(!watch.is_active());
        (down.pid == gone, down.reason)
    });
    assert_eq!(down, (true, ExitReason::NoProc));
}

/// Each `monitor` call is its own monitor with its own `Down`.
#[test]
fn several_monitors_of_one_process_each_get_a_down() {
    let rt = runtime(2);
    let (distinct, all_seen) = rt.block_on(|| {
        let target = spawn(|| {
            receive::<()>();
        });
        let watches: Vec<_> = (0..3).map(|_| monitor(&target)).collect();
        send(&target, ());
        let downs: Vec<Down> = (0..3).map(|_| receive::<Down>()).collect();
        let distinct = watches[0] != watches[1] && watches[1] != watches[2];
        let all_seen = watches
            .iter()
            .all(|w| downs.iter().filter(|d| &d.monitor == w).count() == 1);
        (distinct, all_seen)
    });
    assert!(distinct && all_seen);
}

/// After `demonitor` returns, no `Down` of that monitor arrives.
#[test]
fn demonitor_of_an_active_monitor_stops_its_down() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let target = spawn(|| {
            receive::<()>();
        });
        let removed = monitor(&target);
        let was_active = demonitor(&removed, Demonitor::Keep);
        let later = monitor(&target);
        send(&target, ());
        let down = receive::<Down>();
        // `later` was made after `removed`: had `removed` fired, its Down
        // would be queued ahead of this one.
        (
            was_active,
            down.monitor == later,
            receive_timeout::<Down>(Duration::ZERO).is_none(),
        )
    });
    assert_eq!(got, (true, true, true));
}

/// A `Down` already queued: `Keep` leaves it, `Flush` removes it.
#[test]
fn demonitor_flush_removes_a_queued_down_and_keep_leaves_it() {
    // One worker: once the target has ended, its hooks have run.
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let gone = spawn(|| {});
        let kept = monitor(&gone);
        let flushed = monitor(&gone);
        wait_exit(&gone);
        let kept_was_active = demonitor(&kept, Demonitor::Keep);
        let flushed_was_active = demonitor(&flushed, Demonitor::Flush);
        let left: Vec<_> = std::iter::from_fn(|| receive_timeout::<Down>(Duration::ZERO))
            .map(|d| d.monitor)
            .collect();
        (kept_was_active, flushed_was_active, left == [kept])
    });
    assert_eq!(got, (false, false, true));
}

/// `unlink` after the other process ended, but before the caller acted
/// on the signal: the signal is dropped (Erlang: once unlink returns, the
/// link has no effect on the caller).
#[test]
fn unlink_drops_a_signal_not_yet_acted_on() {
    let rt = runtime(2);
    for trapping in [false, true] {
        let (reason, exits) = rt.block_on(move || {
            let me = self_pid();
            let caller = spawn_opt(SpawnOptions::new().worker(0), move || {
                trap_exit(trapping);
                // A flag, not a message: sending would be a check point.
                let go = Arc::new(AtomicBool::new(false));
                let go_other = Arc::clone(&go);
                let other = spawn_opt(SpawnOptions::new().worker(1), move || {
                    while !go_other.load(Ordering::Acquire) {
                        yield_now();
                    }
                    exit_self(ExitReason::custom("crash"));
                })
                .unwrap();
                link(&other);
                go.store(true, Ordering::Release);
                // No check point in this loop: the signal arrives but is
                // not acted on.
                while mailbox_len() == 0 {
                    std::hint::spin_loop();
                }
                unlink(&other);
                yield_now();
                send(&me, count_exits());
            })
            .unwrap();
            let exits = receive::<usize>();
            (wait_exit(&caller), exits)
        });
        assert_eq!(reason, ExitReason::Normal, "trapping: {trapping}");
        assert_eq!(exits, 0, "trapping: {trapping}");
    }
}

/// `unlink` is idempotent and works from either side.
#[test]
fn unlink_is_idempotent_and_works_from_the_other_side() {
    let rt = runtime(2);
    let survived = rt.block_on(|| {
        let me = self_pid();
        let other = spawn(move || {
            receive::<()>();
            unlink(&me);
            unlink(&me);
            send(&me, ());
            receive::<()>();
            exit_self(ExitReason::custom("crash"));
        });
        link(&other);
        send(&other, ());
        receive::<()>();
        assert!(!is_linked(&other));
        let watch = monitor(&other);
        send(&other, ());
        receive::<Down>().monitor == watch
    });
    assert!(survived);
}

/// A process's monitors and links are cleaned up when it ends first: the
/// monitor reports inactive, and the link is gone for the survivor.
#[test]
fn an_owner_that_ends_first_withdraws_its_monitor() {
    let rt = runtime(2);
    let active = rt.block_on(|| {
        let me = self_pid();
        let target = spawn(|| {
            receive::<()>();
        });
        let t = target.clone();
        let owner = spawn(move || {
            let watch = monitor(&t);
            send(&me, watch);
        });
        let watch = receive::<ferrotp_supervision::MonitorRef>();
        wait_exit(&owner);
        // The owner's hook ran before `has_exited`... or just after:
        // wait for the target's end to be sure nothing fires late.
        exit(&target, ExitReason::Kill);
        wait_exit(&target);
        watch.is_active()
    });
    assert!(!active);
}

/// Process-only functions say so when called from a plain thread.
#[test]
fn links_and_monitors_outside_a_process_panic_with_their_name() {
    let rt = runtime(1);
    let pid = rt.spawn(|| {
        receive::<()>();
    });
    let message = |f: Box<dyn FnOnce()>| {
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_err();
        payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    };
    let p = pid.clone();
    assert!(message(Box::new(move || link(&p))).contains("ferrotp::link"));
    let p = pid.clone();
    assert!(message(Box::new(move || unlink(&p))).contains("ferrotp::unlink"));
    let p = pid.clone();
    assert!(message(Box::new(move || drop(monitor(&p)))).contains("ferrotp::monitor"));
    assert!(message(Box::new(|| drop(spawn_link(|| {})))).contains("ferrotp::spawn_link"));
    assert!(message(Box::new(|| drop(spawn_monitor(|| {})))).contains("ferrotp::spawn_monitor"));
    ferrotp_scheduler::exit(&pid, ExitReason::Kill);
}

/// Only the process that made a monitor can remove it.
#[test]
fn another_process_cannot_remove_a_monitor() {
    let rt = runtime(2);
    let (removed_by_other, down_came) = rt.block_on(|| {
        let me = self_pid();
        let target = spawn(|| {
            receive::<()>();
        });
        let watch = monitor(&target);
        let shared = watch.clone();
        let other = spawn(move || send(&me, demonitor(&shared, Demonitor::Keep)));
        let removed_by_other = receive::<bool>();
        wait_exit(&other);
        send(&target, ());
        let down = receive::<Down>();
        (removed_by_other, down.monitor == watch)
    });
    assert!(!removed_by_other);
    assert!(down_came);
}
