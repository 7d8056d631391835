//! The runtime end to end: block_on, spawning, the migration rule,
//! exit reasons, shutdown, limits and misuse.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ThreadId;
use std::time::Duration;

use ferrotp_scheduler::{
    BuildError, ExitReason, Pid, Runtime, SpawnError, SpawnOptions, receive, receive_match,
    receive_timeout, self_pid, send, spawn, spawn_opt, yield_now,
};

mod common;
use common::{runtime, wait_exit};

#[test]
fn block_on_returns_the_root_value_and_runs_children() {
    let rt = runtime(2);
    let sum = rt.block_on(|| {
        let me = self_pid();
        for i in 0..10_000u64 {
            let me = me.clone();
            spawn(move || send(&me, i));
        }
        (0..10_000).map(|_| receive::<u64>()).sum::<u64>()
    });
    assert_eq!(sum, 10_000 * 9_999 / 2);
    // The runtime is reusable after block_on.
    assert_eq!(rt.block_on(|| 5), 5);
}

#[test]
fn a_panic_in_block_on_resumes_in_the_caller() {
    let rt = runtime(1);
    let payload = catch_unwind(AssertUnwindSafe(|| rt.block_on(|| panic!("root failed"))))
        .expect_err("the panic comes back");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"root failed"));
    // The runtime survives its root's panic.
    assert_eq!(rt.block_on(|| 1 + 1), 2);
}

#[test]
fn exit_reasons_normal_and_panic() {
    let rt = runtime(2);
    let (normal, panicked) = rt.block_on(|| {
        let ok = spawn(|| {});
        let bad = spawn(|| panic!("boom {}", 7));
        (wait_exit(&ok), wait_exit(&bad))
    });
    assert_eq!(normal, ExitReason::Normal);
    assert_eq!(panicked, ExitReason::Panic("boom 7".into()));
}

/// DESIGN.md, migration rule 2: a process that has run stays on its
/// worker's thread, while never-run processes are stolen.
#[test]
fn a_settled_process_never_changes_thread_while_others_steal() {
    let rt = runtime(2);
    for _attempt in 0..20 {
        let starts: Vec<ThreadId> = rt.block_on(|| {
            let me = self_pid();
            let children = 2_000;
            for _ in 0..children {
                let me = me.clone();
                spawn(move || {
                    let start = std::thread::current().id();
                    for _ in 0..50 {
                        yield_now();
                        assert_eq!(
                            std::thread::current().id(),
                            start,
                            "a settled process moved"
                        );
                    }
                    send(&me, start);
                });
            }
            (0..children).map(|_| receive::<ThreadId>()).collect()
        });
        let threads: HashSet<ThreadId> = starts.into_iter().collect();
        assert!(threads.len() <= 2);
        if threads.len() == 2 && rt.metrics().workers.iter().any(|w| w.steals > 0) {
            return; // stealing happened, and no settled process moved
        }
    }
    panic!("in 20 rounds of 2,000 processes, the idle worker never stole");
}

#[test]
fn migratable_processes_run_to_completion_wherever_they_are_taken() {
    let rt = runtime(2);
    let total = rt.block_on(|| {
        let me = self_pid();
        for i in 0..500u64 {
            let me = me.clone();
            // SAFETY: the closure holds only `Send` values (a Pid and
            // integers) and touches no thread-local data.
            let options = unsafe { SpawnOptions::new().migratable() };
            spawn_opt(options, move || {
                let mut acc = i;
                for _ in 0..20 {
                    yield_now();
                    acc += 1;
                }
                send(&me, acc);
            })
            .unwrap();
        }
        (0..500).map(|_| receive::<u64>()).sum::<u64>()
    });
    assert_eq!(total, (0..500u64).map(|i| i + 20).sum::<u64>());
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_unwinds_blocked_processes_and_drops_unstarted_ones() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = runtime(2);
    let pids = {
        let dropped = Arc::clone(&dropped);
        rt.block_on(move || {
            let me = self_pid();
            let mut pids = Vec::new();
            for _ in 0..100 {
                let guard = DropCounter(Arc::clone(&dropped));
                let me = me.clone();
                pids.push(spawn(move || {
                    let _guard = guard;
                    send(&me, ());
                    let () = receive::<()>(); // never comes
                    unreachable!();
                }));
            }
            for _ in 0..100 {
                receive::<()>();
            }
            pids
        })
    };
    // Spawned just before the drop: it may be unwound blocked, or dropped
    // never having run; either way its guard drops exactly once and it
    // ends with `Shutdown`.
    let late_guard = DropCounter(Arc::clone(&dropped));
    let late = rt.spawn(move || {
        let _guard = late_guard;
        let () = receive::<()>();
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    drop(rt);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        101,
        "every guard dropped once"
    );
    for pid in pids.iter().chain([&late]) {
        assert_eq!(pid.exit_reason(), Some(ExitReason::Shutdown));
    }
}

#[test]
fn sends_to_ended_processes_are_counted_dead_letters() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook_seen = Arc::clone(&seen);
    let rt = Runtime::builder()
        .workers(1)
        .dead_letter_hook(move |letter| {
            let n = *letter.message.downcast::<u32>().unwrap();
            hook_seen.lock().unwrap().push((letter.to.to_string(), n));
        })
        .build()
        .unwrap();
    let pid = rt.block_on(|| {
        let child = spawn(|| {});
        wait_exit(&child);
        send(&child, 41u32);
        send(&child, 42u32);
        child
    });
    // From a plain thread too.
    send(&pid, 43u32);
    assert_eq!(rt.dead_letters(), 3);
    // Two from the worker's thread, one from outside.
    let metrics = rt.metrics();
    assert_eq!(
        (metrics.workers[0].dead_letters, metrics.dead_letters),
        (2, 3)
    );
    let seen = seen.lock().unwrap();
    let numbers: Vec<u32> = seen.iter().map(|(_, n)| *n).collect();
    assert_eq!(numbers, vec![41, 42, 43]);
    assert!(seen.iter().all(|(to, _)| *to == pid.to_string()));
}

#[test]
fn the_process_limit_is_enforced() {
    let rt = Runtime::builder()
        .workers(1)
        .max_processes(100)
        .build()
        .unwrap();
    let (spawned, error) = rt.block_on(|| {
        let mut spawned = 0;
        loop {
            match spawn_opt(SpawnOptions::new(), || {
                let () = receive::<()>();
            }) {
                Ok(_) => spawned += 1,
                Err(e) => return (spawned, e),
            }
        }
    });
    // The root holds one of the 100 slots.
    assert_eq!(spawned, 99);
    assert_eq!(error, SpawnError::TooManyProcesses { limit: 100 });
    assert!(error.to_string().contains("max_processes"));
}

#[test]
fn spawn_options_are_checked() {
    let rt = runtime(1);
    let errors = rt.block_on(|| {
        let small = spawn_opt(SpawnOptions::new().stack_size(1024), || {}).unwrap_err();
        let zero = spawn_opt(SpawnOptions::new().mailbox_capacity(0), || {}).unwrap_err();
        (small, zero)
    });
    assert_eq!(errors.0, SpawnError::StackSize { requested: 1024 });
    assert!(errors.0.to_string().contains("16384"));
    assert_eq!(errors.1, SpawnError::MailboxCapacity);
}

#[test]
fn a_big_stack_option_gives_a_big_stack() {
    let rt = runtime(1);
    let sum = rt.block_on(|| {
        let me = self_pid();
        spawn_opt(SpawnOptions::new().stack_size(4 << 20), move || {
            // 512 KiB on the stack (copied more than once in debug builds):
            // far beyond the default 64 KiB.
            let big = std::hint::black_box([1u8; 512 * 1024]);
            send(&me, big.iter().map(|&b| u64::from(b)).sum::<u64>());
        })
        .unwrap();
        receive::<u64>()
    });
    assert_eq!(sum, 512 * 1024);
}

#[test]
fn bad_builder_settings_are_named() {
    let error = Runtime::builder().workers(0).build().unwrap_err();
    assert!(matches!(error, BuildError::Workers(0)));
    assert!(error.to_string().contains("`workers` = 0"));
    let error = Runtime::builder().stack_size(10).build().unwrap_err();
    assert!(error.to_string().contains("`stack_size` = 10 bytes"));
    let error = Runtime::builder().reductions(0).build().unwrap_err();
    assert!(error.to_string().contains("`reductions` = 0"));
    let error = Runtime::builder().max_processes(0).build().unwrap_err();
    assert!(error.to_string().contains("`max_processes` = 0"));
}

/// Every process-only function, called from a plain thread, panics with a
/// message that names it (never undefined behaviour).
#[test]
fn process_functions_outside_a_process_panic_with_their_name() {
    use ferrotp_scheduler::{
        Select, Subject, mailbox_len, receive_match_timeout, reduce, send_after, send_named, sleep,
        trap_exit, unregister, whereis,
    };
    fn message(f: impl FnOnce()) -> String {
        let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("it panics");
        payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    }
    // A pid to address: one that has ended.
    let rt = runtime(1);
    let pid = rt.block_on(self_pid);
    /// A function's name, and a call of it.
    type Call = (&'static str, Box<dyn FnOnce()>);
    let calls: Vec<Call> = vec![
        (
            "receive",
            Box::new(|| {
                let _ = receive::<u8>();
            }),
        ),
        (
            "receive_timeout",
            Box::new(|| {
                let _ = receive_timeout::<u8>(Duration::ZERO);
            }),
        ),
        (
            "receive_match",
            Box::new(|| {
                let _ = receive_match::<u8>(|_| true);
            }),
        ),
        (
            "receive_match_timeout",
            Box::new(|| {
                let _ = receive_match_timeout::<u8>(|_| true, Duration::ZERO);
            }),
        ),
        ("self_pid", Box::new(|| drop(self_pid()))),
        ("yield_now", Box::new(yield_now)),
        ("reduce", Box::new(|| reduce(1))),
        (
            "mailbox_len",
            Box::new(|| {
                let _ = mailbox_len();
            }),
        ),
        ("sleep", Box::new(|| sleep(Duration::ZERO))),
        (
            "trap_exit",
            Box::new(|| {
                let _ = trap_exit(true);
            }),
        ),
        (
            "send_after",
            Box::new(move || drop(send_after(Duration::ZERO, &pid, 1u8))),
        ),
        ("spawn", Box::new(|| drop(spawn(|| {})))),
        ("Subject::new", Box::new(|| drop(Subject::<u8>::new()))),
        (
            "Select::wait",
            Box::new(|| Select::new().on(|_: u8| ()).wait()),
        ),
        ("whereis", Box::new(|| drop(whereis("x")))),
        (
            "unregister",
            Box::new(|| {
                let _ = unregister("x");
            }),
        ),
        ("send_named", Box::new(|| drop(send_named("x", 1u8)))),
    ];
    for (name, call) in calls {
        let message = message(call);
        assert!(
            message.starts_with(&format!("ferrotp::{name} was called outside a ferrotp")),
            "{name}: {message}"
        );
    }
}

#[test]
fn block_on_inside_a_process_is_refused() {
    let rt = Arc::new(runtime(1));
    let inner = Arc::clone(&rt);
    let refused = rt.block_on(move || {
        catch_unwind(AssertUnwindSafe(|| inner.block_on(|| ())))
            .unwrap_err()
            .downcast_ref::<&str>()
            .is_some_and(|m| m.contains("worker thread"))
    });
    assert!(refused);
}

#[test]
fn external_threads_can_spawn_and_send() {
    let rt = runtime(2);
    let root_pid = std::sync::mpsc::channel();
    let (pid_tx, pid_rx) = root_pid;
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    rt.spawn(move || {
        pid_tx.send(self_pid()).unwrap();
        let total: u32 = (0..3).map(|_| receive::<u32>()).sum();
        done_tx.send(total).unwrap();
    });
    let pid = pid_rx.recv().unwrap();
    let senders: Vec<_> = (1..=3u32)
        .map(|n| {
            let pid = pid.clone();
            std::thread::spawn(move || send(&pid, n))
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(done_rx.recv().unwrap(), 6);
}

#[test]
fn pinned_processes_run_on_their_worker() {
    let rt = runtime(2);
    let threads = rt.block_on(|| {
        let me = self_pid();
        for worker in [0usize, 1, 0, 1] {
            let me = me.clone();
            spawn_opt(SpawnOptions::new().worker(worker), move || {
                let start = std::thread::current().id();
                for _ in 0..20 {
                    yield_now();
                    assert_eq!(std::thread::current().id(), start);
                }
                send(&me, (worker, start));
            })
            .unwrap();
        }
        let mut got: Vec<(usize, ThreadId)> = (0..4).map(|_| receive()).collect();
        got.sort_by_key(|(w, _)| *w);
        got
    });
    assert_eq!(threads[0].1, threads[1].1, "both on worker 0's thread");
    assert_eq!(threads[2].1, threads[3].1, "both on worker 1's thread");
    assert_ne!(threads[0].1, threads[2].1, "two workers, two threads");
    let error = rt
        .spawn_opt(SpawnOptions::new().worker(2), || {})
        .unwrap_err();
    assert_eq!(
        error,
        SpawnError::NoSuchWorker {
            worker: 2,
            workers: 2
        }
    );
    assert!(error.to_string().contains("workers 0 to 1"));
}

/// Review finding: a migratable process woken by its own timer while its
/// worker had nothing else to do was never moved to a queue.
#[test]
fn a_migratable_process_wakes_from_its_timer_on_an_idle_worker() {
    let rt = Runtime::builder()
        .workers(1)
        .busy_wait(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let got = rt.block_on(|| {
        let me = self_pid();
        // SAFETY: holds only a Pid; touches no thread-local data.
        let options = unsafe { SpawnOptions::new().migratable() };
        spawn_opt(options, move || {
            let none =
                ferrotp_scheduler::receive_timeout::<u8>(std::time::Duration::from_millis(5));
            ferrotp_scheduler::sleep(std::time::Duration::from_millis(2));
            send(&me, none.is_none());
        })
        .unwrap();
        receive::<bool>()
    });
    assert!(got);
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("a message's destructor panicked");
    }
}

/// Review finding: user destructors and hooks run by the runtime must not
/// kill a worker.
#[test]
fn panicking_message_destructors_and_hooks_do_not_kill_workers() {
    let rt = Runtime::builder()
        .workers(1)
        .dead_letter_hook(|_| panic!("the hook panicked"))
        .build()
        .unwrap();
    let reasons = rt.block_on(|| {
        // Exits with an unread message whose destructor panics.
        let child = spawn(|| {
            let () = receive::<()>();
        });
        send(&child, PanicOnDrop);
        send(&child, ());
        let first = wait_exit(&child);
        // A dead letter from a timer, with a panicking hook.
        ferrotp_scheduler::send_after(std::time::Duration::from_millis(1), &child, 5u8);
        ferrotp_scheduler::sleep(std::time::Duration::from_millis(3));
        // The worker still runs processes.
        let second = spawn(|| {});
        (first, wait_exit(&second))
    });
    assert_eq!(reasons, (ExitReason::Normal, ExitReason::Normal));
    assert_eq!(rt.dead_letters(), 1);
}

/// Review finding: a destructor that spawns while its process is unwound
/// at shutdown must not abort (a panic during a panic); the new process
/// ends at once with `Shutdown`.
#[test]
fn spawning_during_shutdown_gives_a_process_that_ends_with_shutdown() {
    struct SpawnOnDrop(Arc<std::sync::Mutex<Option<Pid>>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let pid = spawn(|| unreachable!("never runs"));
            *self.0.lock().unwrap() = Some(pid);
        }
    }
    let spawned = Arc::new(std::sync::Mutex::new(None));
    let rt = runtime(1);
    let slot = Arc::clone(&spawned);
    rt.block_on(move || {
        let me = self_pid();
        spawn(move || {
            let _guard = SpawnOnDrop(slot);
            send(&me, ());
            let () = receive::<()>();
        });
        receive::<()>();
    });
    drop(rt);
    let pid = spawned.lock().unwrap().clone().expect("the destructor ran");
    assert_eq!(pid.exit_reason(), Some(ExitReason::Shutdown));
}

/// Review finding: workers kept returned process slots, so a small limit
/// refused external spawns with no process alive.
#[test]
fn a_small_process_limit_is_not_hoarded_by_workers() {
    let rt = Runtime::builder()
        .workers(1)
        .max_processes(10)
        .build()
        .unwrap();
    for _ in 0..20 {
        let n = rt.block_on(|| {
            let kids: Vec<Pid> = (0..5).map(|_| spawn(|| {})).collect();
            kids.iter().filter(|k| wait_exit(k).is_normal()).count()
        });
        assert_eq!(n, 5);
    }
}

/// Review finding: a lone child was not announced to idle workers, so a
/// parent that blocked its OS thread waiting for it (or computed for a
/// whole slice) kept it from running. Blocking a worker thread is misuse,
/// but the child must still be stolen and run by the other worker.
#[test]
fn a_lone_child_is_run_by_an_idle_worker_while_its_parent_holds_its_own() {
    let rt = runtime(2);
    let ran_on_other_thread = rt.block_on(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        let parent_thread = std::thread::current().id();
        spawn(move || tx.send(std::thread::current().id()).unwrap());
        // Blocks this worker's thread until the child has run elsewhere.
        let child_thread = rx.recv().unwrap();
        child_thread != parent_thread
    });
    assert!(ran_on_other_thread);
}

/// A receive holds its process's receiver for its whole length, across
/// suspensions; a predicate that receives again gets a panic that names
/// the rule, and only its own process ends.
#[test]
fn receiving_inside_a_receive_predicate_is_a_clear_panic() {
    let rt = runtime(1);
    let reason = rt.block_on(|| {
        let nested = spawn(|| {
            send(&self_pid(), 1u32);
            let _ = receive_match::<u32>(|_| receive_timeout::<u8>(Duration::ZERO).is_none());
        });
        wait_exit(&nested)
    });
    match reason {
        ExitReason::Panic(message) => assert!(
            message
                .starts_with("ferrotp::receive_timeout was called from inside a receive predicate"),
            "{message}"
        ),
        other => panic!("expected a panic, got {other:?}"),
    }
}

/// The exit reason is published with the exit: `None` while the process
/// lives (blocked here), then the reason it ended with.
#[test]
fn an_exit_reason_appears_only_once_the_process_has_ended() {
    let rt = runtime(2);
    let (while_blocked, after) = rt.block_on(|| {
        let me = self_pid();
        let child = spawn(move || {
            send(&me, ());
            if receive::<&str>() == "fail" {
                panic!("told to fail");
            }
        });
        receive::<()>();
        let while_blocked = (child.has_exited(), child.exit_reason());
        send(&child, "fail");
        (while_blocked, wait_exit(&child))
    });
    assert_eq!(while_blocked, (false, None));
    assert_eq!(after, ExitReason::Panic("told to fail".into()));
}

/// In the child: a migratable spawner yields inside `spawn_with`'s
/// set-up while a process pinned to its worker holds that worker, so the
/// other worker steals the spawner, which finishes its set-up there and
/// queues the child. Prints what happened.
fn a_spawner_moves_during_its_setup() {
    let rt = runtime(2);
    let (moved, child_ran, root_worker, spawner_worker) = rt.block_on(|| {
        let me = self_pid();
        let root_worker = ferrotp_scheduler::process_info(&me)
            .and_then(|info| info.worker)
            .unwrap();
        // SAFETY: the spawner holds only `Send` values (pids, Arcs) and
        // touches no thread-local data across a suspension.
        let options = unsafe { SpawnOptions::new().migratable() };
        spawn_opt(options, move || {
            let here = ferrotp_scheduler::process_info(&self_pid())
                .and_then(|info| info.worker)
                .unwrap();
            let released = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let child_me = me.clone();
            let mut moved = false;
            ferrotp_scheduler::spawn_with(
                SpawnOptions::new(),
                |_| {
                    let start = std::thread::current().id();
                    // Holds worker `here` (no check point) until the
                    // spawner runs elsewhere; gives up after 10 s so that
                    // a failure shows as a failure, not a hang.
                    let hold = Arc::clone(&released);
                    spawn_opt(SpawnOptions::new().worker(here), move || {
                        let since = std::time::Instant::now();
                        while !hold.load(Ordering::SeqCst) && since.elapsed().as_secs() < 10 {
                            std::hint::spin_loop();
                        }
                    })
                    .unwrap();
                    while std::thread::current().id() == start {
                        yield_now();
                        if released.load(Ordering::SeqCst) {
                            break;
                        }
                    }
                    moved = std::thread::current().id() != start;
                    released.store(true, Ordering::SeqCst);
                },
                move || send(&child_me, "child ran"),
            )
            .unwrap();
            send(&me, (moved, here));
        })
        .unwrap();
        let (moved, here) = receive::<(bool, usize)>();
        (moved, receive::<&str>(), root_worker, here)
    });
    // Spawns are counted by the worker that queued the process: the hog
    // by the spawner's first worker, the spawner by the root's, and the
    // child by the worker the spawner had moved to.
    let other = 1 - spawner_worker;
    let spawns_there = rt.metrics().workers[other].spawns;
    let expected = 1 + u64::from(root_worker == other);
    drop(rt);
    println!(
        "set-up resumed on another worker: {moved}; {child_ran}; queued by the worker it \
         moved to: {}",
        spawns_there == expected
    );
}

/// Issue 12, item 3: a set-up that suspends lets a migratable spawner
/// resume on another worker; the child is then queued by the worker the
/// spawner runs on. Before the fix the spawner kept the first worker and
/// pushed onto its owner-only deque from the other thread (SIGSEGV or a
/// hang in 4 of 10 runs), so this runs in a child process.
#[test]
fn a_spawner_that_moves_during_its_setup_queues_the_child_where_it_runs() {
    if common::child_mode().is_some() {
        a_spawner_moves_during_its_setup();
        return;
    }
    let out = common::rerun_in_child(
        "a_spawner_that_moves_during_its_setup_queues_the_child_where_it_runs",
        "move",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "set-up resumed on another worker: true; child ran; queued by the worker it moved \
             to: true"
        ),
        "{stdout}"
    );
}

/// A process finds itself among the live ones from its first instruction:
/// its spawn is counted before the process becomes visible to the worker
/// that runs it. (It was counted after: a worker spinning for work could
/// run the process first, which then read itself missing; the demo's
/// "processes alive" line showed it.) Each round on a fresh runtime, so
/// that no earlier process's exit is still being counted.
#[test]
fn a_process_finds_itself_counted_as_live_as_it_first_runs() {
    let mut seen = Vec::new();
    for round in 0..60 {
        let rt = Arc::new(runtime(2));
        let metrics = Arc::clone(&rt);
        seen.push(rt.block_on(move || {
            let root = metrics.metrics().live_processes();
            let me = self_pid();
            // A child queued on this worker (either worker may run it),
            // or pinned to the other worker's inbox.
            let options = if round % 2 == 0 {
                SpawnOptions::new()
            } else {
                SpawnOptions::new().worker(1)
            };
            spawn_opt(options, move || {
                send(&me, metrics.metrics().live_processes());
            })
            .unwrap();
            (root, receive::<u64>())
        }));
    }
    assert!(seen.iter().all(|&counts| counts == (1, 2)), "{seen:?}");
}

/// Two processes on one worker bounce a message for ever (each also
/// sends one to itself, so one of them is always queued while the other
/// runs from the LIFO slot): the worker must still fire its timers and
/// run others. With budgets of 1,000, 2,000 or 4,000 reductions the
/// cycle's length was a multiple of 8 picks, and housekeeping (timers,
/// inbox) never ran: a sleeping process never woke, and a new process
/// never left the stealable deque.
#[test]
fn processes_bouncing_a_message_for_ever_do_not_starve_a_sleeper() {
    for reductions in [1_000, 2_000, 4_000] {
        let rt = ferrotp_scheduler::Runtime::builder()
            .workers(1)
            .reductions(reductions)
            .build()
            .unwrap();
        let woke = rt.block_on(|| {
            let bouncer = || {
                ferrotp_scheduler::spawn(|| {
                    let other: ferrotp_scheduler::Pid = ferrotp_scheduler::receive();
                    let me = ferrotp_scheduler::self_pid();
                    loop {
                        if ferrotp_scheduler::receive::<u8>() == 1 {
                            ferrotp_scheduler::send(&other, 1u8);
                            ferrotp_scheduler::send(&me, 2u8);
                        }
                    }
                })
            };
            let (a, b) = (bouncer(), bouncer());
            ferrotp_scheduler::send(&a, b.clone());
            ferrotp_scheduler::send(&b, a.clone());
            ferrotp_scheduler::send(&a, 1u8);
            ferrotp_scheduler::sleep(std::time::Duration::from_millis(5));
            // A new process gets its turn too.
            let me = ferrotp_scheduler::self_pid();
            ferrotp_scheduler::spawn(move || ferrotp_scheduler::send(&me, 7u32));
            assert_eq!(ferrotp_scheduler::receive::<u32>(), 7);
            for pid in [&a, &b] {
                ferrotp_scheduler::exit(pid, ferrotp_scheduler::ExitReason::Killed);
            }
            true
        });
        assert!(woke, "budget {reductions}");
    }
}
