//! The clean-up deadline (module `context`, "Clean-up") bounds each
//! clean-up on its own: it starts when that clean-up first blocks or
//! polls, never because the process was preempted, and ends with it,
//! wherever its timers are (a migratable process's clean-up may arm one
//! on each worker it blocks on); and a process suspended in a clean-up
//! that it then leaves (it caught the panic) ends at shutdown as every
//! other process does, with `Shutdown`.
//!
//! Second adversarial review, programs b08, b09, b10 and b13. Waiting for
//! a deadline to pass is what some of these tests are about: they use
//! short clean-up timeouts, and order everything else with messages.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{wait_exit, wait_until_waiting};
use ferrotp_scheduler::{
    ExitReason, Pid, Runtime, SpawnOptions, exit, receive, reduce, self_pid, send, sleep, spawn,
    spawn_opt, spawn_with,
};

struct Go;

/// Blocks (sleeps) in its destructor: a short clean-up.
struct RollsBack(Duration);

impl Drop for RollsBack {
    fn drop(&mut self) {
        sleep(self.0);
    }
}

/// b08: a server whose requests each fail and clean up briefly (10 ms,
/// blocking), with its next request always queued already, so that it
/// never suspends between two clean-ups. Before the fix the deadline of
/// its first clean-up (150 ms) stood for all the later ones: it was
/// abandoned after about fifteen requests.
#[test]
fn back_to_back_short_clean_ups_each_get_their_own_deadline() {
    const REQUESTS: u32 = 30;
    let rt = Runtime::builder()
        .workers(2)
        .cleanup_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let handled = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&handled);
    let reason = rt.block_on(move || {
        let server = spawn(move || {
            receive::<Go>();
            for _ in 0..REQUESTS {
                let request = receive::<u32>();
                let _ = catch_unwind(|| {
                    let _rolls_back = RollsBack(Duration::from_millis(10));
                    resume_unwind(Box::new(request));
                });
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        // All queued before the server takes the first.
        for request in 0..REQUESTS {
            send(&server, request);
        }
        send(&server, Go);
        wait_exit(&server)
    });
    assert_eq!(reason, ExitReason::Normal);
    assert_eq!(handled.load(Ordering::SeqCst), REQUESTS);
}

/// Computes in its destructor for `.0`, calling `reduce` as a long
/// computation should (so it is preempted many times); then sets `.1`.
struct Computes(Duration, Arc<AtomicBool>);

impl Drop for Computes {
    fn drop(&mut self) {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < self.0 {
            for i in 0..1000 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            reduce(1);
        }
        std::hint::black_box(x);
        self.1.store(true, Ordering::SeqCst);
    }
}

struct Ready;

/// b13: a killed process's destructor computes for twice the clean-up
/// timeout without blocking: being preempted does not start the
/// deadline, so it completes. Before the fix every suspension in clean-up
/// started it, and the destructor was abandoned halfway.
#[test]
fn a_clean_up_that_only_computes_is_not_bounded_by_the_deadline() {
    let rt = Runtime::builder()
        .workers(2)
        .cleanup_timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let completed = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&completed);
    let reason = rt.block_on(move || {
        let me = self_pid();
        let victim = spawn(move || {
            let _computes = Computes(Duration::from_millis(300), set);
            send(&me, Ready);
            receive::<Go>();
        });
        receive::<Ready>();
        exit(&victim, ExitReason::Kill);
        wait_exit(&victim)
    });
    assert_eq!(reason, ExitReason::Killed);
    assert!(
        completed.load(Ordering::SeqCst),
        "the destructor was abandoned"
    );
}

/// Sent from the destructor that blocks.
struct Blocked;

struct Release;

/// Blocks in its destructor until released.
struct BlocksUntilReleased(Pid);

impl Drop for BlocksUntilReleased {
    fn drop(&mut self) {
        send(&self.0, Blocked);
        receive::<Release>();
    }
}

/// b10: at shutdown, a process suspended in the clean-up of a panic that
/// it then catches (a request failed; the server goes on), and a control
/// that is suspended outside any clean-up. The destructor is released by
/// the exit hook of a process that ends at shutdown on the same worker,
/// so only after both were told to end. Before the fix the first one
/// ended `Killed`, not `Shutdown`: links and monitors saw an abnormal
/// end.
fn reason_at_shutdown(in_clean_up: bool) -> Option<ExitReason> {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let seen = Arc::new(Mutex::new(None));
    let record = Arc::clone(&seen);
    rt.block_on(move || {
        let me = self_pid();
        let releaser = spawn_opt(SpawnOptions::new().worker(0), || {
            receive::<Go>();
        })
        .unwrap();
        let server = spawn_with(
            SpawnOptions::new().worker(0),
            |pid| {
                let _ = pid.on_exit(move |reason| *record.lock().unwrap() = Some(reason.clone()));
            },
            move || {
                if in_clean_up {
                    let _ = catch_unwind(AssertUnwindSafe(|| {
                        let _blocks = BlocksUntilReleased(me);
                        panic!("a request failed; handled");
                    }));
                } else {
                    send(&me, Blocked);
                }
                loop {
                    receive::<u64>();
                }
            },
        )
        .unwrap();
        receive::<Blocked>();
        wait_until_waiting(&server);
        wait_until_waiting(&releaser);
        let _ = releaser.on_exit(move |_| send(&server, Release));
    });
    drop(rt);
    seen.lock().unwrap().clone()
}

#[test]
fn a_process_suspended_in_the_clean_up_of_a_panic_it_catches_ends_with_shutdown() {
    assert_eq!(reason_at_shutdown(true), Some(ExitReason::Shutdown));
}

#[test]
fn a_process_suspended_outside_clean_up_ends_with_shutdown() {
    assert_eq!(reason_at_shutdown(false), Some(ExitReason::Shutdown));
}

/// Runs `f` when dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// The worker the running process is on.
fn my_worker() -> usize {
    ferrotp_scheduler::process_info(&self_pid())
        .and_then(|info| info.worker)
        .unwrap()
}

/// What the migratable process reports from its first clean-up.
enum Step {
    /// Blocked in it for the first time, on this worker.
    Started(usize),
    /// Woken on the same worker again.
    NotMoved,
    /// Woken on another worker, and blocked there too.
    Moved,
}

struct Poke;

/// From the second clean-up, blocked.
struct SecondCleanUp;

struct Done;

/// b09: a migratable process's clean-up blocks on one worker (its
/// deadline's timer goes into that worker's wheel), moves to the other
/// and blocks there, and ends; later, after a pause outside clean-up, a
/// second clean-up blocks, and is still running when the first one's
/// deadline passes. Before the fix the first worker's timer, which
/// nothing cancelled, cut the second clean-up short (it was abandoned
/// long before its own deadline).
#[test]
fn a_deadline_timer_left_on_another_worker_does_not_cut_a_later_clean_up_short() {
    const TIMEOUT: Duration = Duration::from_millis(500);
    let rt = Runtime::builder()
        .workers(2)
        .cleanup_timeout(TIMEOUT)
        .build()
        .unwrap();
    let reason = rt.block_on(|| {
        let me = self_pid();
        let to_me = me.clone();
        // SAFETY: it holds nothing thread-bound (only pids and a closure
        // of `Send` values) across its suspensions, and touches no
        // thread-local data.
        let options = unsafe { SpawnOptions::new().migratable() };
        let moving = spawn_opt(options, move || {
            let report = to_me.clone();
            let _ = catch_unwind(AssertUnwindSafe(|| {
                let _moves = OnDrop(|| {
                    let first = my_worker();
                    send(&report, Step::Started(first));
                    loop {
                        receive::<Poke>();
                        if my_worker() != first {
                            break;
                        }
                        send(&report, Step::NotMoved);
                    }
                    sleep(Duration::from_millis(1));
                    send(&report, Step::Moved);
                });
                resume_unwind(Box::new("the first request failed"));
            }));
            // Outside clean-up: the first one is over.
            receive::<Go>();
            sleep(Duration::from_millis(300));
            let _ = catch_unwind(AssertUnwindSafe(|| {
                let _blocks = OnDrop(|| {
                    send(&to_me, SecondCleanUp);
                    receive::<Release>();
                });
                resume_unwind(Box::new("the second request failed"));
            }));
            send(&to_me, Done);
        })
        .unwrap();
        let Step::Started(first) = receive::<Step>() else {
            panic!("expected the first clean-up's start");
        };
        let first_deadline = Instant::now() + TIMEOUT;
        // Keeps the first worker busy in slices of 1 ms, so that the
        // other one, idle, steals the process when it is woken.
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        spawn_opt(SpawnOptions::new().worker(first), move || {
            while !stopped.load(Ordering::SeqCst) {
                let slice = Instant::now();
                while slice.elapsed() < Duration::from_millis(1) {
                    std::hint::spin_loop();
                }
                ferrotp_scheduler::yield_now();
            }
        })
        .unwrap();
        let mut pokes = 0;
        loop {
            wait_until_waiting(&moving);
            send(&moving, Poke);
            pokes += 1;
            match receive::<Step>() {
                Step::Moved => break,
                Step::NotMoved => assert!(pokes < 50, "the process never moved"),
                Step::Started(_) => unreachable!(),
            }
        }
        stop.store(true, Ordering::SeqCst);
        assert!(
            Instant::now() < first_deadline,
            "moving took longer than the clean-up timeout"
        );
        send(&moving, Go);
        receive::<SecondCleanUp>();
        // Past the first clean-up's deadline (the second one's is 300 ms
        // later).
        sleep(
            first_deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100),
        );
        assert!(
            !moving.has_exited(),
            "the second clean-up was cut short: {:?}",
            moving.exit_reason()
        );
        send(&moving, Release);
        receive::<Done>();
        wait_exit(&moving)
    });
    assert_eq!(reason, ExitReason::Normal);
}
