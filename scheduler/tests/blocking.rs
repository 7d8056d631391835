//! Blocking offload (module `blocking`): results, panics, kills, the
//! pool's bound, shutdown.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::{in_child, runtime, wait_exit, wait_until_waiting};
use ferrotp_scheduler::{
    ExitReason, Runtime, blocking, exit, receive, run, self_pid, send, spawn, spawn_blocking,
    yield_now,
};

/// How long a closure waits for a channel before it calls the test a
/// hang (never reached when the test passes).
const HANG: Duration = Duration::from_secs(60);

/// Tells `probe` (and counts in `count`) when it is dropped.
struct Probe {
    dropped: mpsc::Sender<&'static str>,
    count: Arc<AtomicUsize>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        let _ = self.dropped.send("dropped");
    }
}

#[test]
fn the_result_comes_back() {
    let (direct, joined, finished) = run(|| {
        let direct = blocking(|| 6 * 7);
        let job = spawn_blocking(|| "from a pool thread".to_owned());
        while !job.is_finished() {
            yield_now();
        }
        (direct, job.join(), true)
    })
    .unwrap();
    assert_eq!(direct, 42);
    assert_eq!(joined, "from a pool thread");
    assert!(finished);
}

/// The calling process is suspended, not its worker: with one worker, a
/// closure that waits for another process of that worker gets its value.
#[test]
fn other_processes_run_on_the_worker_while_one_waits() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let (tx, rx) = mpsc::channel::<u32>();
        let me = self_pid();
        let waiter = spawn(move || {
            let value = blocking(move || rx.recv_timeout(HANG).expect("the worker was blocked"));
            send(&me, value);
        });
        wait_until_waiting(&waiter);
        // This process runs on the one worker while `waiter` waits.
        tx.send(7).unwrap();
        receive::<u32>()
    });
    assert_eq!(got, 7);
}

#[test]
fn a_handle_joins_in_another_process_and_join_timeout_waits_a_while() {
    let (early, late) = run(|| {
        let (tx, rx) = mpsc::channel::<u64>();
        let mut job = spawn_blocking(move || rx.recv_timeout(HANG).unwrap() + 1);
        let early = job.join_timeout(Duration::from_millis(1));
        let me = self_pid();
        spawn(move || send(&me, job.join()));
        tx.send(41).unwrap();
        (early, receive::<u64>())
    })
    .unwrap();
    assert_eq!((early, late), (None, 42));
}

#[derive(Debug, PartialEq)]
struct Payload(u32);

#[test]
fn a_panic_resumes_in_the_caller_with_its_payload() {
    let (caught, reason) = run(|| {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            blocking(|| std::panic::panic_any(Payload(7)))
        }))
        .unwrap_err();
        let payload = caught.downcast::<Payload>().map(|payload| *payload).ok();
        let crasher = spawn(|| {
            let () = blocking(|| panic!("disk on fire"));
        });
        (payload, wait_exit(&crasher))
    })
    .unwrap();
    assert_eq!(caught, Some(Payload(7)));
    assert_eq!(reason, ExitReason::Panic("disk on fire".into()));
}

/// A process killed while it waits ends at once, with its reason; the
/// closure runs on, and its result is dropped when it comes.
#[test]
fn a_killed_waiter_ends_at_once_and_its_late_result_is_dropped() {
    let rt = runtime(1);
    let count = Arc::new(AtomicUsize::new(0));
    let (release, wait) = mpsc::channel::<()>();
    let (dropped, drops) = mpsc::channel();
    let probe = Probe {
        dropped,
        count: Arc::clone(&count),
    };
    let reason = rt.block_on(move || {
        let waiter = spawn(move || {
            let _result: Probe = blocking(move || {
                wait.recv_timeout(HANG).unwrap();
                probe
            });
            unreachable!("killed while it waits");
        });
        wait_until_waiting(&waiter);
        exit(&waiter, ExitReason::Kill);
        // Ended while its closure still blocks.
        let reason = wait_exit(&waiter);
        release.send(()).unwrap();
        reason
    });
    assert_eq!(reason, ExitReason::Killed);
    assert_eq!(drops.recv_timeout(HANG), Ok("dropped"));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    drop(rt);
    assert_eq!(count.load(Ordering::SeqCst), 1, "dropped once");
}

/// A pool of two threads runs two closures at once, and queues the third
/// until one returns.
#[test]
fn the_pool_runs_at_most_its_bound_at_once() {
    let rt = Runtime::builder()
        .workers(1)
        .blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (started, starts) = mpsc::channel();
    let (finished, finishes) = mpsc::channel();
    let mut releases = Vec::new();
    for n in 0..3usize {
        let (release, wait) = mpsc::channel::<()>();
        releases.push(release);
        let (running, peak, started, finished) = (
            Arc::clone(&running),
            Arc::clone(&peak),
            started.clone(),
            finished.clone(),
        );
        rt.spawn(move || {
            let n = blocking(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                started.send(n).unwrap();
                wait.recv_timeout(HANG).unwrap();
                running.fetch_sub(1, Ordering::SeqCst);
                n
            });
            finished.send(n).unwrap();
        });
    }
    let first = starts.recv_timeout(HANG).unwrap();
    let second = starts.recv_timeout(HANG).unwrap();
    // The third process has submitted its closure: it waits in the queue.
    while rt.metrics().blocking_queued != 1 {
        std::thread::yield_now();
    }
    let metrics = rt.metrics();
    assert_eq!(
        (
            metrics.blocking_threads,
            metrics.blocking_idle,
            metrics.blocking_queued
        ),
        (2, 0, 1)
    );
    let third = 3 - first - second;
    releases[first].send(()).unwrap();
    assert_eq!(finishes.recv_timeout(HANG), Ok(first));
    assert_eq!(starts.recv_timeout(HANG), Ok(third));
    releases[second].send(()).unwrap();
    releases[third].send(()).unwrap();
    let mut rest = [
        finishes.recv_timeout(HANG).unwrap(),
        finishes.recv_timeout(HANG).unwrap(),
    ];
    rest.sort_unstable();
    let mut want = [second, third];
    want.sort_unstable();
    assert_eq!(rest, want);
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

/// A result whose destructor panics, dropped unjoined: on the pool thread
/// (its caller was killed) and in a process (its handle dropped after it
/// came). Both are reported; neither aborts, and the pool's one thread
/// still runs the next closure.
#[test]
fn a_panicking_drop_of_a_discarded_result_is_contained() {
    struct PanicsAsItDrops;
    impl Drop for PanicsAsItDrops {
        fn drop(&mut self) {
            panic!("the result's destructor panics");
        }
    }
    const TEST: &str = "a_panicking_drop_of_a_discarded_result_is_contained";
    if common::child_mode().is_none() {
        let out = common::rerun_in_child(TEST, "run");
        common::assert_child_passed(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reported = "the destructor of a blocking closure's result that nobody joined \
                        panicked: panic: the result's destructor panics";
        assert_eq!(stderr.matches(reported).count(), 2, "{stderr}");
        return;
    }
    in_child(TEST, "run", |_| {
        let rt = Runtime::builder()
            .workers(1)
            .blocking_threads(1)
            .build()
            .unwrap();
        let next = rt.block_on(|| {
            let (release, wait) = mpsc::channel::<()>();
            let waiter = spawn(move || {
                let _dropped = blocking(move || {
                    wait.recv_timeout(HANG).unwrap();
                    PanicsAsItDrops
                });
            });
            wait_until_waiting(&waiter);
            exit(&waiter, ExitReason::Kill);
            assert_eq!(wait_exit(&waiter), ExitReason::Killed);
            release.send(()).unwrap();
            // Dropped in this process, contained.
            let job = spawn_blocking(|| PanicsAsItDrops);
            while !job.is_finished() {
                yield_now();
            }
            drop(job);
            // The one pool thread lives on.
            blocking(|| "still serving")
        });
        assert_eq!(next, "still serving");
    });
}

#[test]
#[should_panic(expected = "ferrotp::blocking was called outside a ferrotp process")]
fn blocking_outside_a_process_panics_with_a_clear_message() {
    blocking(|| ());
}

/// Dropping the runtime does not wait for a closure that still runs: its
/// waiting process ends with `Shutdown`, a queued closure is dropped
/// unrun, and the running one's result is dropped when it comes, after
/// the runtime is gone.
#[test]
fn shutdown_never_waits_for_a_running_closure() {
    in_child("shutdown_never_waits_for_a_running_closure", "run", |_| {
        let rt = Runtime::builder()
            .workers(1)
            .blocking_threads(1)
            .build()
            .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let (release, wait) = mpsc::channel::<()>();
        let (dropped, drops) = mpsc::channel();
        let running = Probe {
            dropped: dropped.clone(),
            count: Arc::clone(&count),
        };
        let queued = Probe {
            dropped,
            count: Arc::clone(&count),
        };
        let (ended, reasons) = mpsc::channel();
        let (ran, ran_rx) = mpsc::channel::<()>();
        let (started, start) = mpsc::channel::<()>();
        let waiter = rt.spawn(move || {
            let _result: Probe = blocking(move || {
                started.send(()).unwrap();
                wait.recv_timeout(HANG).unwrap();
                running
            });
        });
        waiter.on_exit(move |reason| ended.send(reason.clone()).unwrap());
        // The pool's one thread runs the waiter's closure: the next one
        // queues.
        start.recv_timeout(HANG).unwrap();
        rt.spawn(move || {
            let _detached = spawn_blocking(move || {
                let _ = ran.send(());
                drop(queued);
            });
        });
        while rt.metrics().blocking_queued != 1 {
            std::thread::yield_now();
        }
        drop(rt);
        assert_eq!(reasons.recv_timeout(HANG), Ok(ExitReason::Shutdown));
        // The queued closure was dropped unrun, with what it held.
        assert_eq!(drops.try_recv(), Ok("dropped"));
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert!(ran_rx.try_recv().is_err(), "the queued closure never ran");
        // The running one finishes now; its result is dropped.
        release.send(()).unwrap();
        assert_eq!(drops.recv_timeout(HANG), Ok("dropped"));
        assert_eq!(count.load(Ordering::SeqCst), 2);
    });
}

/// A handle gives its value once: joining it again is a clear panic, not
/// a wait for ever.
#[test]
fn a_handle_joined_twice_panics_with_a_clear_message() {
    let reason = run(|| {
        let twice = spawn(|| {
            let mut job = spawn_blocking(|| 1);
            while job.join_timeout(Duration::from_millis(1)).is_none() {}
            job.join();
        });
        wait_exit(&twice)
    })
    .unwrap();
    assert_eq!(
        reason,
        ExitReason::Panic(
            "ferrotp: a BlockingHandle was joined after it returned its value".into()
        )
    );
}

/// A reply address moved into a blocking closure that panics is dropped
/// on a pool thread: the process's call ends with `NoReply` (before, it
/// waited for its timeout, or for ever without one, while its callee
/// lived on).
#[test]
fn a_reply_address_dropped_by_a_panicking_blocking_closure_ends_the_call() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let callee = ferrotp_scheduler::spawn(|| {
            loop {
                let reply = ferrotp_scheduler::receive::<ferrotp_scheduler::ReplyTo<u8>>();
                let handle = ferrotp_scheduler::spawn_blocking(move || {
                    let _reply = reply;
                    panic!("the closure holding the reply address panics");
                });
                assert!(catch_unwind(AssertUnwindSafe(|| handle.join())).is_err());
            }
        });
        ferrotp_scheduler::call(
            &callee,
            |reply: ferrotp_scheduler::ReplyTo<u8>| reply,
            Duration::from_secs(60),
        )
    });
    assert_eq!(got, Err(ferrotp_scheduler::CallError::NoReply));
}
