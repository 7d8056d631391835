//! Tasks (`ferrotp::task`): await, yield, shutdown and their timeouts,
//! the link rule for a crashing task, the owner-only rule, await_many,
//! async_stream (order, concurrency, laziness, timeouts) and the task
//! supervisor. Every await is followed by a check that it left nothing
//! in the owner's mailbox.
//!
//! No test sleeps to synchronise: a task that must stay busy blocks in
//! `receive` until it is told, or waits at a gate process; a short
//! timeout is used only where the outcome is certain (a task that never
//! finishes).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrotp::task::{self, OnTimeout, Task, TaskError, TaskSupervisor};
use ferrotp::{
    Exit, ExitReason, Pid, ReplyTo, call, is_linked, mailbox_len, receive, receive_timeout,
    self_pid, send, spawn, trap_exit,
};

mod common;
use common::{runtime, wait_exit};

const LONG: Duration = Duration::from_secs(60);
/// For waits whose outcome is certain: a task that never finishes.
const SHORT: Duration = Duration::from_millis(20);

fn panic_reason(message: &str) -> ExitReason {
    ExitReason::Panic(message.into())
}

/// A gate: each caller (`pass(&gate)`) waits until `width` wait, and then
/// they all pass; once `total` have come, the rest pass as they come.
/// With tasks that pass it, exactly `width` are inside at once.
fn gate(width: usize, total: usize) -> Pid {
    spawn(move || {
        let mut waiting = Vec::new();
        for arrived in 1..=total {
            waiting.push(receive::<ReplyTo<()>>());
            if waiting.len() == width || arrived == total {
                for reply in waiting.drain(..) {
                    reply.send(());
                }
            }
        }
    })
}

fn pass(gate: &Pid) {
    call(gate, |reply: ReplyTo<()>| reply, LONG).unwrap();
}

/// Counts the tasks inside a section and the most at once.
#[derive(Clone, Default)]
struct Concurrency {
    inside: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Concurrency {
    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------- Task

#[test]
fn await_returns_the_value_and_leaves_the_mailbox_empty_trapping_or_not() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let plain = Task::spawn(|| 6u64 * 7).await_timeout(LONG);
        let plain_left = mailbox_len();
        // A trapping owner would receive the link's `Exit { Normal }`: the
        // await takes it out.
        trap_exit(true);
        let task = Task::spawn(|| String::from("hello"));
        let pid = task.pid().clone();
        let trapping = task.await_timeout(LONG);
        let trapping_left = mailbox_len();
        let exit_left = receive_timeout::<Exit>(Duration::ZERO).is_none();
        (
            plain,
            plain_left,
            trapping,
            trapping_left,
            exit_left,
            pid.exit_reason(),
            is_linked(&pid),
        )
    });
    assert_eq!(got.0, Ok(42));
    assert_eq!(got.1, 0);
    assert_eq!(got.2.as_deref(), Ok("hello"));
    assert_eq!((got.3, got.4), (0, true));
    assert_eq!(got.5, Some(ExitReason::Normal));
    assert!(!got.6, "the await unlinks the ended task");
}

/// Elixir's rule: on timeout `await` kills the task (unlinked first, so
/// the kill does not reach the owner), and returns once it has ended.
#[test]
fn await_timeout_kills_the_task_without_touching_the_owner() {
    let rt = runtime(2);
    let (answer, reason, left, trapping_answer, trapping_reason, trapping_left) =
        rt.block_on(|| {
            let task = Task::spawn(receive::<u64>);
            let pid = task.pid().clone();
            let answer = task.await_timeout(SHORT);
            let (reason, left) = (pid.exit_reason(), mailbox_len());
            trap_exit(true);
            let task = Task::spawn(receive::<u64>);
            let pid = task.pid().clone();
            let trapping_answer = task.await_timeout(SHORT);
            (
                answer,
                reason,
                left,
                trapping_answer,
                pid.exit_reason(),
                mailbox_len(),
            )
        });
    assert_eq!(answer, Err(TaskError::Timeout));
    assert_eq!(reason, Some(ExitReason::Killed));
    assert_eq!(left, 0);
    assert_eq!(trapping_answer, Err(TaskError::Timeout));
    assert_eq!(trapping_reason, Some(ExitReason::Killed));
    assert_eq!(
        trapping_left, 0,
        "no Exit {{ Killed }} for a trapping owner"
    );
}

#[test]
fn yield_for_keeps_the_task_and_await_keep_too() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let mut task = Task::spawn(|| receive::<u64>() * 2);
        let first = task.yield_for(SHORT);
        let alive = !task.pid().has_exited();
        let kept = task.await_keep(SHORT);
        send(task.pid(), 21u64);
        let second = task.yield_for(LONG);
        (first, alive, kept, second, mailbox_len())
    });
    assert_eq!(got.0, None);
    assert!(got.1, "a yield that times out keeps the task running");
    assert_eq!(got.2, Err(TaskError::Timeout));
    assert_eq!(got.3, Some(Ok(42)));
    assert_eq!(got.4, 0);
}

/// A result that comes while nobody waits is kept for the next yield.
#[test]
fn a_result_that_comes_between_two_yields_is_not_lost() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let mut task = Task::spawn(|| receive::<u64>() + 1);
        assert_eq!(task.yield_for(Duration::ZERO), None);
        send(task.pid(), 99u64);
        common::wait_exit(task.pid());
        task.yield_for(Duration::ZERO)
    });
    assert_eq!(got, Some(Ok(100)));
}

#[test]
#[should_panic(expected = "already returned")]
fn awaiting_a_result_twice_panics() {
    let rt = runtime(1);
    rt.block_on(|| {
        let mut task = Task::spawn(|| 1u8);
        assert_eq!(task.yield_for(LONG), Some(Ok(1)));
        let _ = task.yield_for(LONG);
    });
}

/// With the owner trapping exits, a panic is an error value (and the
/// link's `Exit` message is taken out).
#[test]
fn a_panicking_task_is_an_error_for_an_owner_that_traps_exits() {
    let rt = runtime(2);
    let (answer, left) = rt.block_on(|| {
        trap_exit(true);
        let answer = Task::spawn(|| -> u32 { panic!("bad input") }).await_timeout(LONG);
        (answer, mailbox_len())
    });
    assert_eq!(answer, Err(TaskError::Exited(panic_reason("bad input"))));
    assert_eq!(left, 0);
}

/// Without trapping, the link takes the owner down with the task's
/// reason (Elixir's rule), before its await returns.
#[test]
fn a_panicking_task_takes_down_an_owner_that_does_not_trap_exits() {
    let rt = runtime(2);
    let (reason, after_await) = rt.block_on(|| {
        let me = self_pid();
        let owner = spawn(move || {
            let answer = Task::spawn(|| -> u32 { panic!("bad input") }).await_timeout(LONG);
            send(&me, format!("the await returned {answer:?}"));
        });
        let reason = wait_exit(&owner);
        (reason, receive_timeout::<String>(Duration::ZERO))
    });
    assert_eq!(reason, panic_reason("bad input"));
    assert_eq!(after_await, None, "the owner ended inside its await");
}

#[test]
fn only_the_owner_may_await_its_task() {
    let rt = runtime(2);
    let reason = rt.block_on(|| {
        let task = Task::spawn(|| 5u8);
        // A `Task` is `Send`: another process can hold it, not await it.
        let thief = spawn(move || {
            let _ = task.await_timeout(LONG);
        });
        wait_exit(&thief)
    });
    let ExitReason::Panic(message) = reason else {
        panic!("the thief should have panicked, it ended with {reason:?}")
    };
    assert!(
        message.contains("only the task's owner"),
        "unclear message: {message}"
    );
}

#[test]
#[should_panic(expected = "Task::spawn was called outside a ferrotp process")]
fn spawning_a_task_outside_a_process_panics() {
    let _ = Task::spawn(|| ());
}

#[test]
fn shutdown_stops_a_running_task_and_returns_a_finished_ones_result() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        // Running: Shutdown ends it.
        let task = Task::spawn(receive::<u64>);
        let pid = task.pid().clone();
        let stopped = task.shutdown(LONG);
        let stopped_reason = pid.exit_reason();
        // Trapping exits, it ignores Shutdown: killed after the timeout.
        let me = self_pid();
        let task = Task::spawn(move || {
            trap_exit(true);
            send(&me, "trapping");
            loop {
                receive::<u64>();
            }
        });
        assert_eq!(receive::<&str>(), "trapping");
        let stubborn_pid = task.pid().clone();
        let stubborn = task.shutdown(SHORT);
        // Finished before the shutdown: its result.
        let task = Task::spawn(|| 3u64);
        wait_exit(task.pid());
        let finished = task.shutdown(LONG);
        (
            stopped,
            stopped_reason,
            stubborn,
            stubborn_pid.exit_reason(),
            finished,
            mailbox_len(),
        )
    });
    assert_eq!(got.0, None);
    assert_eq!(got.1, Some(ExitReason::Shutdown));
    assert_eq!(got.2, None);
    assert_eq!(got.3, Some(ExitReason::Killed));
    assert_eq!(got.4, Some(Ok(3)));
    assert_eq!(got.5, 0);
}

/// A task that had crashed before the shutdown is reported; the link's
/// `Exit` message a trapping owner had received is taken out.
#[test]
fn shutdown_reports_a_task_that_had_crashed() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        trap_exit(true);
        let task = Task::spawn(|| -> u8 { panic!("crashed") });
        wait_exit(task.pid());
        (task.shutdown(LONG), mailbox_len())
    });
    assert_eq!(
        got,
        (Some(Err(TaskError::Exited(panic_reason("crashed")))), 0)
    );
}

#[test]
fn ignore_unlinks_a_running_task_which_then_runs_on() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let me = self_pid();
        let task = Task::spawn(move || {
            let n = receive::<u32>();
            send(&me, n + 1);
        });
        let pid = task.pid().clone();
        let ignored = task.ignore();
        let linked = is_linked(&pid);
        send(&pid, 1u32);
        (ignored, linked, receive::<u32>())
    });
    assert_eq!(got, (None, false, 2));
}

// ---------------------------------------------------------- await_many

#[test]
fn await_many_returns_results_in_input_order() {
    let rt = runtime(2);
    let (results, left) = rt.block_on(|| {
        // They finish in reverse: each waits for the next one's end.
        let last = Task::spawn(|| 3u32);
        let mut later = last.pid().clone();
        let mut tasks = vec![last];
        for n in (0..3u32).rev() {
            let next = later.clone();
            let task = Task::spawn(move || {
                wait_exit(&next);
                n
            });
            later = task.pid().clone();
            tasks.insert(0, task);
        }
        (task::await_many(tasks, LONG), mailbox_len())
    });
    assert_eq!(results, Ok(vec![0, 1, 2, 3]));
    assert_eq!(left, 0);
}

#[test]
fn await_many_on_timeout_kills_every_task_still_running() {
    let rt = runtime(2);
    let (result, reasons, left) = rt.block_on(|| {
        let tasks: Vec<Task<u32>> = vec![
            Task::spawn(|| 1),
            Task::spawn(receive::<u32>),
            Task::spawn(receive::<u32>),
        ];
        let pids: Vec<Pid> = tasks.iter().map(|t| t.pid().clone()).collect();
        let result = task::await_many(tasks, SHORT);
        let reasons: Vec<_> = pids.iter().map(Pid::exit_reason).collect();
        (result, reasons, mailbox_len())
    });
    assert_eq!(result, Err(TaskError::Timeout));
    assert_eq!(
        reasons,
        vec![
            Some(ExitReason::Normal),
            Some(ExitReason::Killed),
            Some(ExitReason::Killed)
        ]
    );
    assert_eq!(left, 0);
}

/// The first failure is seen when it happens, not after the slow task
/// before it, and the rest are killed.
#[test]
fn await_many_reports_the_first_crash_at_once_to_a_trapping_owner() {
    let rt = runtime(2);
    let (result, slow_reason, left) = rt.block_on(|| {
        trap_exit(true);
        let slow = Task::spawn(receive::<u32>);
        let slow_pid = slow.pid().clone();
        let tasks = vec![slow, Task::spawn(|| -> u32 { panic!("second failed") })];
        let result = task::await_many(tasks, LONG);
        (result, slow_pid.exit_reason(), mailbox_len())
    });
    assert_eq!(
        result,
        Err(TaskError::Exited(panic_reason("second failed")))
    );
    assert_eq!(slow_reason, Some(ExitReason::Killed));
    assert_eq!(left, 0);
}

// -------------------------------------------------------- async_stream

#[test]
fn an_ordered_stream_yields_in_input_order() {
    let rt = runtime(2);
    let (items, left) = rt.block_on(|| {
        // Later inputs finish sooner: fewer yields.
        let items: Vec<_> = task::async_stream(0..20u64, |n| {
            for _ in 0..(20 - n) {
                ferrotp::yield_now();
            }
            n * n
        })
        .max_concurrency(5)
        .collect();
        (items, mailbox_len())
    });
    let expected: Vec<_> = (0..20u64).map(|n| Ok(n * n)).collect();
    assert_eq!(items, expected);
    assert_eq!(left, 0);
}

/// Unordered: a task that finishes first comes first, whatever its
/// input's place.
#[test]
fn an_unordered_stream_yields_in_finishing_order() {
    let rt = runtime(2);
    let (first, second) = rt.block_on(|| {
        let me = self_pid();
        let mut stream = task::async_stream([0u32, 1], move |n| {
            if n == 0 {
                // Held until the owner has the other result.
                send(&me, self_pid());
                receive::<()>();
            }
            n
        })
        .ordered(false)
        .max_concurrency(2);
        let first = stream.next();
        let held = receive::<Pid>();
        send(&held, ());
        let second = stream.next();
        assert!(stream.next().is_none());
        (first, second)
    });
    assert_eq!(first, Some(Ok(1)));
    assert_eq!(second, Some(Ok(0)));
}

/// Exactly `max_concurrency` run at once: the gate lets tasks through
/// only in groups of that size, so the figure is exact.
#[test]
fn a_stream_runs_exactly_max_concurrency_tasks_at_once() {
    let rt = runtime(2);
    let concurrency = Concurrency::default();
    let items = rt.block_on({
        let concurrency = concurrency.clone();
        move || {
            let gate = gate(4, 20);
            task::async_stream(0..20u64, move |n| {
                concurrency.enter();
                pass(&gate);
                concurrency.leave();
                n + 100
            })
            .max_concurrency(4)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
        }
    });
    assert_eq!(items, (100..120).collect::<Vec<_>>());
    assert_eq!(concurrency.peak(), 4);
}

/// The input is pulled only as slots free up: with 3 slots and tasks
/// held until released one by one, the count of inputs pulled is always
/// the tasks released plus 3.
#[test]
fn a_stream_pulls_its_input_only_as_slots_free_up() {
    let rt = runtime(2);
    let (pulls_seen, items) = rt.block_on(|| {
        let me = self_pid();
        let pulls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&pulls);
        let consumer = spawn(move || {
            let inputs = (0..8u32).inspect(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
            });
            let tasks_report_to = me.clone();
            let items: Vec<_> = task::async_stream(inputs, move |n| {
                send(&tasks_report_to, (n, self_pid()));
                receive::<()>(); // held until released
                n * 2
            })
            .max_concurrency(3)
            .map(Result::unwrap)
            .collect();
            send(&me, items);
        });
        let mut pulls_seen = Vec::new();
        let mut held = std::collections::VecDeque::new();
        for started in 1..=8usize {
            let (_, pid) = receive::<(u32, Pid)>();
            held.push_back(pid);
            // Only released tasks free slots: `started` can reach
            // released + 3, and the consumer pulls no further.
            if held.len() == 3 || started == 8 {
                pulls_seen.push((started, pulls.load(Ordering::SeqCst)));
                let next = held.pop_front().unwrap();
                send(&next, ());
            }
        }
        for pid in held {
            send(&pid, ());
        }
        let items = receive::<Vec<u32>>();
        wait_exit(&consumer);
        (pulls_seen, items)
    });
    assert_eq!(
        pulls_seen,
        vec![(3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8)]
    );
    assert_eq!(items, (0..8).map(|n| n * 2).collect::<Vec<_>>());
}

#[test]
fn a_stream_kills_a_late_task_and_goes_on_with_kill_task() {
    let rt = runtime(2);
    let (items, left) = rt.block_on(|| {
        let items: Vec<_> = task::async_stream([1u32, 0, 3], |n| {
            if n == 0 {
                receive::<()>(); // never finishes
            }
            n * 10
        })
        .timeout(SHORT)
        .on_timeout(OnTimeout::KillTask)
        .collect();
        (items, mailbox_len())
    });
    assert_eq!(items, vec![Ok(10), Err(TaskError::Timeout), Ok(30)]);
    assert_eq!(left, 0);
}

/// `OnTimeout::Exit`: the tasks in flight are killed, and have ended,
/// before the owner exits. (A task may be killed before it ever ran, so
/// the test checks the tasks that did start, whichever they are.)
#[test]
fn a_stream_ends_its_owner_on_timeout_with_exit_after_killing_its_tasks() {
    let rt = runtime(2);
    let (reason, pulled, started) = rt.block_on(|| {
        let me = self_pid();
        let pulls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&pulls);
        let consumer = spawn(move || {
            let inputs = (0..4u32).inspect(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
            });
            task::async_stream(inputs, move |_| {
                send(&me, self_pid());
                receive::<()>()
            })
            .max_concurrency(2)
            .timeout(SHORT)
            .on_timeout(OnTimeout::Exit)
            .for_each(drop);
        });
        let reason = wait_exit(&consumer);
        // Each task sent its pid as it started, before the consumer ended.
        let started: Vec<_> = std::iter::from_fn(|| receive_timeout::<Pid>(Duration::ZERO))
            .map(|pid| pid.exit_reason())
            .collect();
        (reason, pulls.load(Ordering::SeqCst), started)
    });
    let ExitReason::Custom(why) = reason else {
        panic!("the consumer should have exited on the timeout, it ended with {reason:?}")
    };
    assert!(why.contains("timeout"), "{why}");
    assert_eq!(pulled, 2, "no input is pulled past the first two tasks");
    assert!(started.len() <= 2);
    assert!(
        started
            .iter()
            .all(|reason| *reason == Some(ExitReason::Killed)),
        "{started:?}"
    );
}

#[test]
fn a_crash_in_a_stream_is_that_items_error_for_a_trapping_owner() {
    let rt = runtime(2);
    let (items, left) = rt.block_on(|| {
        trap_exit(true);
        let items: Vec<_> = task::async_stream(0..4u32, |n| {
            assert_ne!(n, 2, "two is bad");
            n
        })
        .max_concurrency(2)
        .collect();
        (items, mailbox_len())
    });
    let Err(TaskError::Exited(ExitReason::Panic(message))) = &items[2] else {
        panic!("item 2 should be the panic, it is {:?}", items[2])
    };
    assert!(message.contains("two is bad"));
    assert_eq!((&items[0], &items[1], &items[3]), (&Ok(0), &Ok(1), &Ok(3)));
    assert_eq!(left, 0);
}

#[test]
fn dropping_a_stream_early_kills_its_running_tasks() {
    let rt = runtime(2);
    let (first, reasons, left) = rt.block_on(|| {
        let me = self_pid();
        let mut stream = task::async_stream(0..10u32, move |n| {
            if n > 0 {
                send(&me, self_pid());
                receive::<()>();
            }
            n
        })
        .max_concurrency(3);
        let first = stream.next();
        let held = [receive::<Pid>(), receive::<Pid>()];
        drop(stream);
        let reasons: Vec<_> = held.iter().map(Pid::exit_reason).collect();
        (first, reasons, mailbox_len())
    });
    assert_eq!(first, Some(Ok(0)));
    assert_eq!(reasons, vec![Some(ExitReason::Killed); 2]);
    assert_eq!(left, 0);
}

#[test]
#[should_panic(expected = "max_concurrency: 0 would start no task")]
fn a_max_concurrency_of_zero_is_refused() {
    let _ = task::async_stream(0..1, |n: i32| n).max_concurrency(0);
}

// ------------------------------------------------------ TaskSupervisor

#[test]
fn start_child_runs_a_temporary_task_that_is_not_restarted() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let tasks = TaskSupervisor::start_link().unwrap();
        let me = self_pid();
        let pid = tasks
            .start_child(move || {
                send(&me, "ran");
                panic!("and crashed");
            })
            .unwrap();
        let got = receive::<&str>();
        let reason = wait_exit(&pid);
        // Until the supervisor has handled the exit (a restart would
        // replace the child in the same step).
        let children = loop {
            let children = tasks.children().unwrap();
            if !children.contains(&pid) {
                break children;
            }
            ferrotp::yield_now();
        };
        tasks.stop().unwrap();
        let ran_again = receive_timeout::<&str>(Duration::ZERO);
        (got, children, reason, ran_again)
    });
    assert_eq!(got.0, "ran");
    assert_eq!(got.1, Vec::<Pid>::new(), "temporary: not restarted");
    assert_eq!(got.2, panic_reason("and crashed"));
    assert_eq!(got.3, None);
}

/// `async_nolink`: a crash is the await's error and touches the caller
/// in no other way, although it does not trap exits.
#[test]
fn an_async_nolink_crash_leaves_a_non_trapping_caller_untouched() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let tasks = TaskSupervisor::start_link().unwrap();
        let crashed = tasks
            .async_nolink(|| -> u32 { panic!("supervised crash") })
            .unwrap();
        let linked = is_linked(crashed.pid());
        let crashed = crashed.await_timeout(LONG);
        let fine = tasks.async_nolink(|| 7u32).unwrap().await_timeout(LONG);
        let left = mailbox_len();
        tasks.stop().unwrap();
        (linked, crashed, fine, left)
    });
    assert!(!got.0, "not linked to the caller");
    assert_eq!(
        got.1,
        Err(TaskError::Exited(panic_reason("supervised crash")))
    );
    assert_eq!(got.2, Ok(7));
    assert_eq!(got.3, 0);
}

#[test]
fn stopping_the_supervisor_ends_an_awaited_nolink_task_with_shutdown() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let tasks = TaskSupervisor::start_link().unwrap();
        let task = tasks.async_nolink(receive::<u32>).unwrap();
        tasks.stop().unwrap();
        (task.await_timeout(LONG), mailbox_len())
    });
    assert_eq!(got, (Err(TaskError::Exited(ExitReason::Shutdown)), 0));
}

#[test]
fn an_async_nolink_task_killed_on_timeout_is_forgotten_by_its_supervisor() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let tasks = TaskSupervisor::start_link().unwrap();
        let task = tasks.async_nolink(receive::<u32>).unwrap();
        let pid = task.pid().clone();
        let answer = task.await_timeout(SHORT);
        let children = tasks.children().unwrap();
        tasks.stop().unwrap();
        (answer, pid.exit_reason(), children, mailbox_len())
    });
    assert_eq!(got.0, Err(TaskError::Timeout));
    assert_eq!(got.1, Some(ExitReason::Killed));
    assert_eq!(got.2, Vec::<Pid>::new());
    assert_eq!(got.3, 0);
}
