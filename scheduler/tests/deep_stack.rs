//! Surviving deep recursion safely (module `stack_depth`): the red zone
//! turns a check point with little stack left into an ordinary panic (the
//! stack unwinds, destructors run, the process ends with `StackOverflow`),
//! and `maybe_grow` runs a closure on a fresh pooled segment, where the
//! process may block and be killed.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{runtime, wait_exit};
use ferrotp_scheduler::{
    ExitReason, MAX_RED_ZONE, Pid, SpawnOptions, exit, maybe_grow, receive, reduce,
    remaining_stack, self_pid, send, spawn, spawn_opt,
};

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Recurses for ever, with a check point and a destructor at each level.
#[inline(never)]
fn recurse_with_check_points(depth: u64, drops: &Arc<AtomicUsize>) -> u64 {
    let _level = Counted(Arc::clone(drops));
    let frame = black_box([depth; 16]);
    reduce(1);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse_with_check_points(depth + 1, drops) + frame[3]
}

#[test]
fn a_check_point_in_the_red_zone_panics_and_the_stack_unwinds() {
    let rt = runtime(1);
    for stack_size in [16 * 1024, 64 * 1024, 256 * 1024] {
        let (reason, levels_dropped, after) = rt.block_on(move || {
            let drops = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&drops);
            let deep = spawn_opt(SpawnOptions::new().stack_size(stack_size), move || {
                black_box(recurse_with_check_points(0, &counter));
            })
            .unwrap();
            let reason = wait_exit(&deep);
            // The worker goes on.
            let me = self_pid();
            spawn(move || send(&me, 6u64 * 7));
            (reason, drops.load(Ordering::SeqCst), receive::<u64>())
        });
        assert_eq!(reason, ExitReason::StackOverflow, "{stack_size}-byte stack");
        assert!(
            levels_dropped > 3,
            "every level's destructor ran: {levels_dropped}"
        );
        assert_eq!(after, 42);
    }
}

#[test]
fn the_red_zone_panic_names_the_process_and_can_be_caught() {
    let rt = runtime(1);
    let (message, left_after) = rt.block_on(|| {
        let me = self_pid();
        spawn_opt(
            SpawnOptions::new().name("deep").stack_size(64 * 1024),
            move || {
                let drops = Arc::new(AtomicUsize::new(0));
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    recurse_with_check_points(0, &drops)
                }));
                let message = caught
                    .unwrap_err()
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default();
                // The unwind gave the stack back: the process goes on.
                send(&me, (message, remaining_stack().unwrap()));
            },
        )
        .unwrap();
        receive::<(String, usize)>()
    });
    assert!(message.starts_with("ferrotp: process <0."), "{message}");
    assert!(
        message.contains("(\"deep\") reached a check point with "),
        "{message}"
    );
    assert!(
        message.contains(&format!("inside its red zone of {MAX_RED_ZONE} bytes")),
        "{message}"
    );
    assert!(
        message.ends_with("or run deep recursion under ferrotp::maybe_grow"),
        "{message}"
    );
    assert!(left_after > 32 * 1024, "{left_after}");
}

/// 512 bytes a level, with a `maybe_grow` at each.
fn depth_first(n: u64) -> u64 {
    maybe_grow(32 * 1024, 256 * 1024, || {
        let frame = black_box([n; 64]);
        if n == 0 {
            0
        } else {
            1 + depth_first(n - 1) + frame[5] - n
        }
    })
}

#[test]
fn maybe_grow_runs_deep_recursion_on_pooled_segments() {
    let rt = runtime(1);
    let carved_before = rt.metrics().stacks_carved;
    let levels = rt.block_on(|| depth_first(20_000));
    assert_eq!(levels, 20_000);
    let carved_once = rt.metrics().stacks_carved - carved_before;
    // At least 10 MB of frames (more in a debug build) on 256 KiB
    // segments, one segment in use per 224 KiB of them or so.
    assert!(carved_once >= 40, "{carved_once}");
    // The segments went back to the pool: doing it again carves none.
    assert_eq!(rt.block_on(|| depth_first(20_000)), 20_000);
    assert_eq!(rt.metrics().stacks_carved - carved_before, carved_once);
}

#[test]
fn maybe_grow_with_room_left_stays_on_the_stack() {
    let rt = runtime(1);
    let (before, inside) = rt.block_on(|| {
        let before = remaining_stack().unwrap();
        (
            before,
            maybe_grow(1024, 256 * 1024, || remaining_stack().unwrap()),
        )
    });
    assert!(
        inside <= before && before - inside < 4096,
        "{before} {inside}"
    );
    // Outside a process, the closure just runs.
    assert_eq!(maybe_grow(usize::MAX, 64 * 1024, || 7), 7);
}

/// A process blocks on a segment and is killed there: destructors on the
/// segment and below it run, and the segment goes back to the pool (so
/// doing it again and again carves no new stack).
#[test]
fn a_process_blocked_on_a_segment_can_be_killed() {
    let rt = runtime(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&drops);
    rt.block_on(move || {
        let me = self_pid();
        for round in 0..50 {
            let counter = Arc::clone(&counter);
            let me2 = me.clone();
            let blocked = spawn(move || {
                let _below = Counted(Arc::clone(&counter));
                maybe_grow(usize::MAX, 128 * 1024, || {
                    let _on_segment = Counted(counter);
                    send(&me2, self_pid());
                    receive::<()>();
                });
            });
            let on_segment: Pid = receive();
            assert_eq!(on_segment, blocked);
            if round % 2 == 0 {
                exit(&blocked, ExitReason::Kill);
                assert_eq!(wait_exit(&blocked), ExitReason::Killed);
            } else {
                send(&blocked, ());
                assert_eq!(wait_exit(&blocked), ExitReason::Normal);
            }
        }
    });
    assert_eq!(
        drops.load(Ordering::SeqCst),
        100,
        "both guards of each round dropped"
    );
    // Root, one process and one segment at a time, plus slack for the
    // pool's warm-up: nowhere near one stack per round.
    assert!(
        rt.metrics().stacks_carved <= 6,
        "{:?}",
        rt.metrics().stacks_carved
    );
}

/// A level of recursion with a 2.8 KiB frame and a check point.
#[inline(never)]
fn big_frames(depth: u64) -> u64 {
    let frame = black_box([depth as u8; 2816]);
    reduce(1);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    big_frames(depth + 1) + u64::from(frame[7])
}

/// In the child: a 16 KiB process recurses with 2.8 KiB frames; then a
/// 16 KiB process panics at once (its hook symbolises a backtrace, with
/// `RUST_BACKTRACE=1`). Prints their exit reasons.
fn small_stacks() {
    let rt = runtime(1);
    let reasons = rt.block_on(|| {
        let deep = spawn_opt(SpawnOptions::new().stack_size(16 * 1024), || {
            black_box(big_frames(0));
        })
        .unwrap();
        let panics = spawn_opt(SpawnOptions::new().stack_size(16 * 1024), || {
            panic!("at once");
        })
        .unwrap();
        (wait_exit(&deep), wait_exit(&panics))
    });
    println!("deep: {}; panics: {}", reasons.0, reasons.1);
}

/// Review findings: the red zone of a small stack left too little room to
/// unwind (the panic was thrown on from the exhausted stack, and then the
/// overflow report did not even name the process), and any panic's hook
/// ran on the process's own stack, where a backtrace to symbolise does not
/// fit in 16 KiB: both aborted the program. Hooks now run on a segment,
/// and the red zone is at least 8 KiB.
#[test]
fn small_stacks_survive_red_zone_panics_and_backtraces() {
    if common::child_mode().is_some() {
        small_stacks();
        return;
    }
    let out = common::rerun_in_child_with(
        "small_stacks_survive_red_zone_panics_and_backtraces",
        "small",
        &[("RUST_BACKTRACE", "1")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("deep: stack overflow; panics: panic: at once"),
        "{stdout}"
    );
}
