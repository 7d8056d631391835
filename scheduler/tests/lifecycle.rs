//! Process lifecycle: exit hooks (the primitive links and monitors build
//! on), exit signals and kill (destructors run wherever the target is
//! stopped), trap_exit.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotp_scheduler::{
    Exit, ExitReason, Link, Pid, ReplyTo, Runtime, Select, SpawnOptions, await_future, call, exit,
    link_signal, receive, reduce, self_pid, send, sleep, spawn, spawn_blocking, spawn_opt,
    trap_exit, yield_now,
};

mod common;
use common::{runtime, wait_exit};

/// Records what each hook saw, by name.
type Log = Arc<Mutex<Vec<String>>>;

fn record(log: &Log, name: &'static str) -> impl FnOnce(&ExitReason) + Send + 'static {
    let log = Arc::clone(log);
    move |reason| log.lock().unwrap().push(format!("{name}: {reason}"))
}

/// A hook runs once when its process ends, with the reason; the hooks of
/// one process run in registration order, and a removed one never runs.
#[test]
fn exit_hooks_run_once_with_the_reason_in_order() {
    let rt = runtime(2);
    let log = Log::default();
    let hooks_log = Arc::clone(&log);
    let removed = rt.block_on(move || {
        let me = self_pid();
        let child = spawn(move || {
            receive::<()>();
            panic!("crashed on purpose");
        });
        child.on_exit(record(&hooks_log, "first"));
        let second = child.on_exit(record(&hooks_log, "second"));
        child.on_exit(record(&hooks_log, "third"));
        child.on_exit(move |_| send(&me, "done"));
        let removed = second.remove();
        send(&child, ());
        assert_eq!(receive::<&str>(), "done");
        removed
    });
    assert!(removed);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "first: panic: crashed on purpose",
            "third: panic: crashed on purpose"
        ]
    );
}

/// A hook on a process that has already ended runs at once, here, with
/// `NoProc`, and cannot be removed.
#[test]
fn a_hook_on_an_ended_process_runs_at_once_with_noproc() {
    let rt = runtime(1);
    let ended: Pid = rt.block_on(|| {
        let child = spawn(|| {});
        while !child.has_exited() {
            yield_now();
        }
        child
    });
    let (tx, rx) = mpsc::channel();
    let hook = ended.on_exit(move |reason| tx.send(reason.clone()).unwrap());
    assert_eq!(rx.try_recv(), Ok(ExitReason::NoProc), "ran at once");
    assert!(!hook.remove());
}

/// Processes still alive at shutdown end with `Shutdown`, and their hooks
/// run; a panicking hook is contained and the others still run.
#[test]
fn hooks_run_at_shutdown_and_a_panicking_hook_is_contained() {
    let rt = runtime(2);
    let log = Log::default();
    let hooks_log = Arc::clone(&log);
    rt.block_on(move || {
        let me = self_pid();
        let waiter = spawn(move || {
            send(&me, ());
            receive::<u64>();
        });
        waiter.on_exit(|_| panic!("a faulty hook"));
        waiter.on_exit(record(&hooks_log, "after the faulty one"));
        receive::<()>();
    });
    drop(rt);
    assert_eq!(*log.lock().unwrap(), ["after the faulty one: shutdown"]);
}

/// Sets its flag when dropped: a resource the killed process held.
struct Guard(Arc<AtomicBool>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn guard() -> (Guard, Arc<AtomicBool>) {
    let dropped = Arc::new(AtomicBool::new(false));
    (Guard(Arc::clone(&dropped)), dropped)
}

/// Kills a process that `start` sets up to be stopped somewhere (it
/// signals `ready` first), and returns its exit reason and whether its
/// guard was dropped.
fn kill_while(workers: usize, start: fn(Pid, Guard)) -> (ExitReason, bool) {
    let rt = runtime(workers);
    rt.block_on(move || {
        let me = self_pid();
        let (held, dropped) = guard();
        let target = spawn(move || start(me, held));
        receive::<&str>();
        exit(&target, ExitReason::Kill);
        (wait_exit(&target), dropped.load(Ordering::SeqCst))
    })
}

#[test]
fn kill_unwinds_a_process_suspended_in_receive() {
    let got = kill_while(2, |ready, _held| {
        send(&ready, "ready");
        receive::<u64>();
        unreachable!("killed while waiting");
    });
    assert_eq!(got, (ExitReason::Killed, true));
}

#[test]
fn kill_unwinds_a_process_asleep_on_a_timer() {
    let got = kill_while(2, |ready, _held| {
        send(&ready, "ready");
        sleep(Duration::from_secs(3600));
        unreachable!("killed while asleep");
    });
    assert_eq!(got, (ExitReason::Killed, true));
}

#[test]
fn kill_unwinds_a_process_blocked_sending_to_a_full_mailbox() {
    let got = kill_while(2, |ready, _held| {
        let full = spawn_opt(SpawnOptions::new().mailbox_capacity(1), || {
            receive::<()>();
        })
        .unwrap();
        send(&full, 1u64); // fills it: the process waits for a `()`
        send(&ready, "ready");
        send(&full, 2u64); // blocks for room that never comes
        unreachable!("killed while blocked");
    });
    assert_eq!(got, (ExitReason::Killed, true));
}

/// A link that still stands when its signal is acted on.
struct Standing;

impl Link for Standing {
    fn take_effect(&self) -> bool {
        true
    }
}

/// Sends the process that `start` sets up to block somewhere (it signals
/// `ready` first) the exit signal of a link whose other end crashed, and
/// returns the reason it ends with. It does not trap exits, so it dies of
/// the signal (OTP, reference manual, processes: "receiving exit
/// signals"), wherever it waits: a receive or any other wait, none of
/// which would end otherwise. A wait that missed the signal would hang
/// the test.
fn linked_crash_while(start: impl FnOnce(Pid) + Send + 'static) -> ExitReason {
    let rt = runtime(2);
    rt.block_on(move || {
        let me = self_pid();
        let target = spawn(move || start(me));
        receive::<&str>();
        let crashed = spawn(|| {});
        wait_exit(&crashed);
        let reason = ExitReason::custom("the linked process crashed");
        link_signal(&target, &crashed, reason, Arc::new(Standing));
        wait_exit(&target)
    })
}

#[test]
fn a_linked_crash_ends_a_process_asleep_for_ever() {
    let reason = linked_crash_while(|ready| {
        send(&ready, "ready");
        sleep(Duration::MAX);
        unreachable!("a sleep beyond any clock ends only by a signal");
    });
    assert_eq!(reason, ExitReason::custom("the linked process crashed"));
}

#[test]
fn a_linked_crash_ends_a_process_joining_a_blocking_task() {
    let reason = linked_crash_while(|ready| {
        let (release, released) = mpsc::channel::<()>();
        // Runs until `release` is dropped, as the process unwinds.
        let task = spawn_blocking(move || {
            let _ = released.recv();
        });
        send(&ready, "ready");
        task.join();
        drop(release);
        unreachable!("the task ends only once the process has ended");
    });
    assert_eq!(reason, ExitReason::custom("the linked process crashed"));
}

#[test]
fn a_linked_crash_ends_a_process_waiting_for_a_reply_that_never_comes() {
    let reason = linked_crash_while(|ready| {
        // Keeps the request, with its reply address, unread.
        let silent = spawn(|| {
            receive::<&str>();
        });
        send(&ready, "ready");
        let _ = call(&silent, |reply: ReplyTo<u64>| reply, Duration::MAX);
        unreachable!("no reply comes, and the callee does not end");
    });
    assert_eq!(reason, ExitReason::custom("the linked process crashed"));
}

#[test]
fn a_linked_crash_ends_a_process_awaiting_a_future_that_never_completes() {
    let reason = linked_crash_while(|ready| {
        send(&ready, "ready");
        await_future(std::future::pending::<()>());
        unreachable!("the future never completes");
    });
    assert_eq!(reason, ExitReason::custom("the linked process crashed"));
}

#[test]
fn a_linked_crash_ends_a_process_blocked_sending_to_a_full_mailbox() {
    let reason = linked_crash_while(|ready| {
        let full = spawn_opt(SpawnOptions::new().mailbox_capacity(1), || {
            receive::<()>();
        })
        .unwrap();
        send(&full, 1u64); // fills it: the process waits for a `()`
        send(&ready, "ready");
        send(&full, 2u64); // blocks for room that never comes
        unreachable!("room never comes");
    });
    assert_eq!(reason, ExitReason::custom("the linked process crashed"));
}

/// A process that computes on another worker is stopped at its next
/// reduction.
#[test]
fn kill_stops_a_running_process_at_its_next_reduction() {
    let rt = runtime(2);
    let (reason, dropped) = rt.block_on(|| {
        let me = self_pid();
        let (held, dropped) = guard();
        let target = spawn_opt(SpawnOptions::new().worker(1), move || {
            let _held = held;
            send(&me, "ready");
            loop {
                reduce(1);
            }
        })
        .unwrap();
        receive::<&str>();
        exit(&target, ExitReason::Kill);
        (wait_exit(&target), dropped.load(Ordering::SeqCst))
    });
    assert_eq!(reason, ExitReason::Killed);
    assert!(dropped);
}

/// A `catch_unwind` that swallows the kill only delays it: the next
/// blocking call unwinds again, and the outer guard is dropped too.
#[test]
fn a_process_that_catches_the_kill_still_dies() {
    let rt = runtime(2);
    let (reason, caught, dropped) = rt.block_on(|| {
        let me = self_pid();
        let (held, dropped) = guard();
        let caught = Arc::new(AtomicBool::new(false));
        let saw_catch = Arc::clone(&caught);
        let target = spawn(move || {
            let _held = held;
            send(&me, "ready");
            let swallowed = catch_unwind(AssertUnwindSafe(receive::<u64>));
            saw_catch.store(swallowed.is_err(), Ordering::SeqCst);
            receive::<u64>();
            unreachable!("the second receive unwinds again");
        });
        receive::<&str>();
        exit(&target, ExitReason::Kill);
        (wait_exit(&target), caught, dropped)
    });
    assert_eq!(reason, ExitReason::Killed);
    assert!(caught.load(Ordering::SeqCst), "the first unwind was caught");
    assert!(dropped.load(Ordering::SeqCst));
}

/// Not trapping: an abnormal reason ends the process with that reason;
/// `Normal` from another process is ignored.
#[test]
fn untrapped_signals_end_the_process_except_normal_from_another() {
    let rt = runtime(2);
    let (after_normal, reason) = rt.block_on(|| {
        let me = self_pid();
        let target = spawn(move || {
            loop {
                let n = receive::<u64>();
                send(&me, n);
            }
        });
        exit(&target, ExitReason::Normal);
        send(&target, 1u64);
        let after_normal = receive::<u64>();
        exit(&target, ExitReason::custom("enough"));
        (after_normal, wait_exit(&target))
    });
    assert_eq!(after_normal, 1, "still alive after a Normal signal");
    assert_eq!(reason, ExitReason::custom("enough"));
}

/// Trapping: signals become `Exit` messages, in order with the sender's
/// other messages; `Kill` still kills (ending it with `Killed`).
#[test]
fn trapped_signals_are_messages_in_order_and_kill_is_not_trapped() {
    let rt = runtime(2);
    let (seen, reason) = rt.block_on(|| {
        let me = self_pid();
        let trapper = spawn(move || {
            trap_exit(true);
            send(&me, "trapping");
            let mut seen = Vec::new();
            for _ in 0..4 {
                let item = Select::new()
                    .on(|n: u64| format!("message {n}"))
                    .on(|signal: Exit| {
                        let from_root = signal.from.as_ref() == Some(&me);
                        format!("exit {} from root: {from_root}", signal.reason)
                    })
                    .wait();
                seen.push(item);
            }
            send(&me, seen);
            receive::<()>();
        });
        assert_eq!(receive::<&str>(), "trapping");
        send(&trapper, 1u64);
        exit(&trapper, ExitReason::custom("stop"));
        send(&trapper, 2u64);
        exit(&trapper, ExitReason::Normal);
        let seen = receive::<Vec<String>>();
        exit(&trapper, ExitReason::Kill);
        (seen, wait_exit(&trapper))
    });
    assert_eq!(
        seen,
        [
            "message 1",
            "exit stop from root: true",
            "message 2",
            "exit normal from root: true"
        ]
    );
    assert_eq!(reason, ExitReason::Killed);
}

/// A signal delivered as a message stays a message when trapping is
/// turned off afterwards, as in Erlang.
#[test]
fn a_delivered_signal_stays_a_message_after_trapping_stops() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        trap_exit(true);
        exit(&self_pid(), ExitReason::custom("later"));
        assert!(trap_exit(false), "was trapping");
        let signal = receive::<Exit>();
        signal.reason
    });
    assert_eq!(got, ExitReason::custom("later"));
}

/// A signal to a process that has ended is dropped: no dead letter, no
/// panic.
#[test]
fn a_signal_to_an_ended_process_is_dropped() {
    let rt = runtime(1);
    rt.block_on(|| {
        let gone = spawn(|| {});
        wait_exit(&gone);
        exit(&gone, ExitReason::Kill);
        assert_eq!(gone.exit_reason(), Some(ExitReason::Normal));
    });
    assert_eq!(rt.dead_letters(), 0);
}

/// The root process of `block_on`, killed, makes `block_on` panic with
/// the reason.
#[test]
fn a_killed_block_on_root_panics_in_the_caller_with_the_reason() {
    let rt = runtime(1);
    let payload = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(|| {
            exit(&self_pid(), ExitReason::custom("root stopped"));
            unreachable!("the signal ends the root at once");
        })
    }))
    .expect_err("block_on panics");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        message,
        "the process of Runtime::block_on ended without a result: root stopped"
    );
    assert_eq!(rt.block_on(|| 3), 3, "the runtime goes on");
}

/// Names: one per process and one process per name; clear errors; freed
/// when the process ends; `send_named` and `Runtime::whereis`.
#[test]
fn registered_names_are_unique_and_freed_on_exit() {
    use ferrotp_scheduler::{RegisterError, register, send_named, unregister, whereis};
    let rt = runtime(2);
    let (server, errors) = rt.block_on(|| {
        let me = self_pid();
        let server = spawn(move || {
            loop {
                match receive::<u64>() {
                    0 => return,
                    n => send(&me, n),
                }
            }
        });
        let other = spawn(|| {
            receive::<()>();
        });
        register("server", &server).unwrap();
        let mut errors = vec![
            register("server", &other).unwrap_err().to_string(),
            register("second name", &server).unwrap_err().to_string(),
            register("", &other).unwrap_err().to_string(),
        ];
        assert_eq!(whereis("server"), Some(server.clone()));
        send_named("server", 5u64).unwrap();
        assert_eq!(receive::<u64>(), 5);
        let missing = send_named("nobody", 9u64).unwrap_err();
        assert_eq!((missing.name.as_str(), missing.message), ("nobody", 9));
        // Ending frees the name.
        send_named("server", 0u64).unwrap();
        wait_exit(&server);
        while whereis("server").is_some() {
            yield_now();
        }
        errors.push(register("late", &server).unwrap_err().to_string());
        // The name is free for another process; unregister frees it too.
        register("server", &other).unwrap();
        assert!(unregister("server"));
        assert!(!unregister("server"));
        assert_eq!(
            register("x", &server),
            Err(RegisterError::NotAlive(server.clone()))
        );
        send(&other, ());
        (server, errors)
    });
    assert_eq!(
        errors,
        [
            format!("the name \"server\" is already registered to process {server}"),
            format!("process {server} is already registered as \"server\""),
            "a registered name cannot be empty".to_owned(),
            format!("process {server} has ended and cannot be registered"),
        ]
    );
    assert_eq!(rt.whereis("server"), None);
}

/// `process_info`: status, reductions, mailbox length, worker, name,
/// stack size, trap_exit; `None` once ended.
#[test]
fn process_info_describes_a_process_until_it_ends() {
    use ferrotp_scheduler::{ProcessStatus, process_info};
    let rt = runtime(1);
    let (fresh, waiting, ended) = rt.block_on(|| {
        let me = self_pid();
        let options = SpawnOptions::new().name("watched").stack_size(128 * 1024);
        let pid = spawn_opt(options, move || {
            trap_exit(true);
            for n in 0..100u64 {
                send(&me, n);
            }
            receive::<()>();
        })
        .unwrap();
        // One worker, and the root runs: the child has not run yet.
        let fresh = process_info(&pid).unwrap();
        let sum: u64 = (0..100).map(|_| receive::<u64>()).sum();
        assert_eq!(sum, 4950);
        while process_info(&pid).unwrap().status != ProcessStatus::Waiting {
            yield_now();
        }
        // Any message wakes it to look; it finds no `()` and waits again.
        send(&pid, "passed over");
        send(&pid, 7u32);
        while process_info(&pid).unwrap().status != ProcessStatus::Waiting {
            yield_now();
        }
        let waiting = process_info(&pid).unwrap();
        send(&pid, ());
        wait_exit(&pid);
        (fresh, waiting, process_info(&pid))
    });
    assert_eq!(fresh.status, ProcessStatus::Runnable);
    assert_eq!(
        (fresh.worker, fresh.reductions, fresh.trap_exit),
        (None, 0, false)
    );
    assert_eq!(waiting.status, ProcessStatus::Waiting);
    assert_eq!(waiting.mailbox_len, 2);
    assert_eq!(waiting.worker, Some(0));
    assert_eq!(waiting.name.as_deref(), Some("watched"));
    assert_eq!(waiting.stack_size, 128 * 1024);
    assert!(waiting.trap_exit);
    // 100 sends and a receive, one reduction each.
    assert!(waiting.reductions >= 101, "{}", waiting.reductions);
    assert_eq!(ended, None);
}

/// Per-worker exit counts by reason.
#[test]
fn exits_are_counted_by_reason() {
    let rt = runtime(1);
    rt.block_on(|| {
        let ended = [
            spawn(|| {}),
            spawn(|| panic!("counted")),
            spawn(|| {
                receive::<()>();
            }),
            spawn(|| {
                receive::<()>();
            }),
        ];
        exit(&ended[2], ExitReason::Kill);
        exit(&ended[3], ExitReason::custom("done"));
        for pid in &ended {
            wait_exit(pid);
        }
    });
    let counts = &rt.metrics().workers[0].exits_by_reason;
    assert!(counts.normal >= 1, "{counts:?}");
    assert_eq!(
        (counts.panic, counts.killed, counts.custom, counts.shutdown),
        (1, 1, 1, 0)
    );
}

/// A process that holds its worker past the threshold is reported, once,
/// with its identity and how long it had held it. It holds the worker
/// until the report arrives, so the test cannot miss it.
#[test]
fn a_long_schedule_is_reported_with_the_process_and_duration() {
    use ferrotp_scheduler::LongSchedule;
    let threshold = Duration::from_millis(5);
    let reported = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<LongSchedule>();
    let hook_flag = Arc::clone(&reported);
    let tx = Mutex::new(tx);
    let rt = Runtime::builder()
        .workers(2)
        .long_schedule(Some(threshold))
        .long_schedule_hook(move |report| {
            tx.lock().unwrap().send(report).unwrap();
            hook_flag.store(true, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let flag = Arc::clone(&reported);
    let hog = rt.block_on(move || {
        let hog = spawn(move || {
            // No reduction, no switch: this holds the worker.
            while !flag.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        });
        wait_exit(&hog);
        hog
    });
    let report = rx.recv().unwrap();
    assert_eq!(report.process, hog.id());
    assert!(report.duration >= threshold, "{report:?}");
    let total: u64 = rt.metrics().workers.iter().map(|w| w.long_schedules).sum();
    assert_eq!(total, 1);
    assert_eq!(
        Runtime::builder()
            .long_schedule(Some(Duration::ZERO))
            .build()
            .unwrap_err()
            .to_string(),
        "invalid runtime setting `long_schedule` = 0: give a positive threshold, or None to turn \
         long-schedule detection off"
    );
}

/// Shutdown ends processes the way a kill does. One that catches every
/// unwind (a loop around `catch_unwind`) would never end: after a few
/// retries it is abandoned (its remaining destructors never run, so its
/// guard is not dropped) and ends with `Shutdown`; shutdown completes.
#[test]
fn shutdown_ends_even_a_process_that_keeps_catching_the_unwind() {
    let rt = runtime(1);
    let (held, dropped) = guard();
    let (caught, stubborn) = rt.block_on(move || {
        let me = self_pid();
        let caught = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&caught);
        let pid = spawn(move || {
            let _held = held;
            send(&me, ());
            loop {
                if catch_unwind(AssertUnwindSafe(receive::<u64>)).is_err() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        receive::<()>();
        (caught, pid)
    });
    drop(rt);
    assert_eq!(stubborn.exit_reason(), Some(ExitReason::Shutdown));
    // The first unwind and two retries were caught.
    assert_eq!(caught.load(Ordering::SeqCst), 3);
    assert!(
        !dropped.load(Ordering::SeqCst),
        "abandoned: destructors do not run"
    );
}

/// A process that does not trap exits cannot take an exit signal as a
/// message, even when it receives `Exit`s: the signal ends it.
#[test]
fn an_exit_signal_is_not_a_message_unless_trapped() {
    let rt = runtime(2);
    let (reason, got_message) = rt.block_on(|| {
        let me = self_pid();
        let got = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&got);
        let target = spawn(move || {
            send(&me, ());
            let _ = receive::<Exit>();
            flag.store(true, Ordering::SeqCst);
        });
        receive::<()>();
        exit(&target, ExitReason::custom("stop"));
        (wait_exit(&target), got)
    });
    assert_eq!(reason, ExitReason::custom("stop"));
    assert!(!got_message.load(Ordering::SeqCst));
}

/// A signal sent before the process first runs acts before any of its
/// code.
#[test]
fn a_process_killed_before_it_runs_runs_none_of_its_code() {
    let rt = runtime(1);
    let (reason, ran) = rt.block_on(|| {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        // One worker, busy with this root: the child has not run yet.
        let child = spawn(move || flag.store(true, Ordering::SeqCst));
        exit(&child, ExitReason::Kill);
        (wait_exit(&child), ran)
    });
    assert_eq!(reason, ExitReason::Killed);
    assert!(!ran.load(Ordering::SeqCst));
}

/// A hook that runs inside a process (registered on an ended pid) and
/// ends that process: the unwind is not mistaken for a failing hook.
#[test]
fn a_kill_raised_inside_an_exit_hook_ends_the_process() {
    let rt = runtime(1);
    let (reason, went_on) = rt.block_on(|| {
        let went_on = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&went_on);
        let process = spawn(move || {
            let gone = spawn(|| {});
            while !gone.has_exited() {
                yield_now();
            }
            // Runs at once, here (NoProc), and kills this process.
            gone.on_exit(|_| exit(&self_pid(), ExitReason::Kill));
            flag.store(true, Ordering::SeqCst);
        });
        (wait_exit(&process), went_on)
    });
    assert_eq!(reason, ExitReason::Killed);
    assert!(!went_on.load(Ordering::SeqCst));
}

/// A selective receive tests each message once (a predicate may count,
/// log or otherwise have effects).
#[test]
fn a_receive_predicate_sees_each_message_once() {
    use ferrotp_scheduler::receive_match;
    let rt = runtime(1);
    let calls = rt.block_on(|| {
        let me = self_pid();
        for n in [1u64, 3, 5, 8] {
            send(&me, n);
        }
        let mut calls = 0;
        let even = receive_match::<u64>(|n| {
            calls += 1;
            n % 2 == 0
        });
        assert_eq!(even, 8);
        calls
    });
    assert_eq!(calls, 4);
}

/// A panic in `spawn_with`'s set-up ends the new process unrun (its pid
/// does not stay alive forever) and goes on in the caller.
#[test]
fn a_panicking_spawn_setup_ends_the_new_process() {
    let rt = runtime(1);
    let (caught, reason) = rt.block_on(|| {
        let mut made = None;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ferrotp_scheduler::spawn_with(
                ferrotp_scheduler::SpawnOptions::new(),
                |child| {
                    made = Some(child.clone());
                    panic!("set-up failed");
                },
                || unreachable!("never runs"),
            )
        }))
        .is_err();
        let child = made.expect("set-up saw the pid");
        (caught, child.exit_reason())
    });
    assert!(caught);
    assert_eq!(reason, Some(ExitReason::Panic("set-up failed".into())));
}

/// A spawner ended inside `spawn_with`'s set-up (here a kill reaches it
/// while the set-up waits) ends its never-run child with `Killed`: not
/// `Shutdown`, which a supervisor takes for a clean stop of a transient
/// child (issue 12, item 8).
#[test]
fn a_spawner_killed_during_its_setup_ends_the_child_with_killed() {
    let rt = runtime(2);
    let (spawner_reason, child_reason, ran) = rt.block_on(|| {
        let me = self_pid();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let spawner = spawn(move || {
            let _ = ferrotp_scheduler::spawn_with(
                SpawnOptions::new(),
                |child| {
                    send(&me, child.clone());
                    receive::<()>();
                },
                move || flag.store(true, Ordering::SeqCst),
            );
        });
        let child = receive::<Pid>();
        exit(&spawner, ExitReason::Kill);
        (wait_exit(&spawner), wait_exit(&child), ran)
    });
    assert_eq!(spawner_reason, ExitReason::Killed);
    assert_eq!(child_reason, ExitReason::Killed);
    assert!(!ran.load(Ordering::SeqCst), "the child never ran");
}

/// `SpawnOptions::trap_exit`: the flag holds from before the first run,
/// so a signal sent before the process has run is trapped; without the
/// option the same signal ends it.
#[test]
fn a_process_spawned_trapping_exits_traps_a_signal_sent_before_it_ran() {
    use ferrotp_scheduler::{Exit, SpawnOptions, exit, spawn_opt};
    let rt = common::runtime(1);
    let (trapped, untrapped) = rt.block_on(|| {
        let me = ferrotp_scheduler::self_pid();
        // One worker: neither child runs before this process waits.
        let trapping = spawn_opt(SpawnOptions::new().trap_exit(true), {
            let me = me.clone();
            move || ferrotp_scheduler::send(&me, ferrotp_scheduler::receive::<Exit>().reason)
        })
        .unwrap();
        let plain = ferrotp_scheduler::spawn(|| {
            ferrotp_scheduler::receive::<Exit>();
        });
        exit(&trapping, ExitReason::custom("early"));
        exit(&plain, ExitReason::custom("early"));
        let trapped = ferrotp_scheduler::receive::<ExitReason>();
        (trapped, common::wait_exit(&plain))
    });
    assert_eq!(trapped, ExitReason::custom("early"));
    assert_eq!(untrapped, ExitReason::custom("early"));
}

/// An extension's destructor is user code, run by the worker as the
/// process's control block is blanked for reuse or freed: it may spawn (a
/// spawn takes a spare control block, which the blanking worker must not
/// be holding), and a panic in it is contained, reported, and the worker
/// goes on. Both aborted the program (the spawn: found by the attack pass
/// of the speed work; the panic: before it).
#[test]
fn an_extensions_destructor_may_spawn_or_panic_as_its_process_ends() {
    struct SpawnsAsItDrops(Pid);
    impl Drop for SpawnsAsItDrops {
        fn drop(&mut self) {
            let to = self.0.clone();
            spawn(move || send(&to, 7u32));
        }
    }
    struct PanicsAsItDrops;
    impl Drop for PanicsAsItDrops {
        fn drop(&mut self) {
            panic!("an extension's destructor panicked");
        }
    }
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let me = self_pid();
        let mut got = Vec::new();
        for round in 0..3u32 {
            let spawning: Arc<dyn std::any::Any + Send + Sync> =
                Arc::new(SpawnsAsItDrops(me.clone()));
            // Its pid is dropped at once: the child's block is unshared
            // when it ends, and blanked for the next spawn.
            drop(spawn_opt(SpawnOptions::new().extension(spawning), || {}).unwrap());
            got.push(receive::<u32>() + round);
            let panicking: Arc<dyn std::any::Any + Send + Sync> = Arc::new(PanicsAsItDrops);
            let child = spawn_opt(SpawnOptions::new().extension(panicking), || {}).unwrap();
            let parent = me.clone();
            child.on_exit(move |reason| send(&parent, reason.clone()));
            drop(child);
            got.push(u32::from(receive::<ExitReason>() == ExitReason::Normal));
        }
        got
    });
    assert_eq!(got, [7, 1, 8, 1, 9, 1]);
}
