//! Resumable bodies (`spawn_resumable`): processes that own no stack
//! while they wait for a message, and run each activation on a pooled
//! stack, on whichever worker takes them.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferrotp_scheduler::{
    Activation, ExitReason, Pid, Resumable, Runtime, SpawnOptions, exit, process_info, receive,
    receive_any_timeout, self_pid, send, spawn, spawn_resumable, spawn_resumable_with, yield_now,
};

mod common;
use common::{runtime, wait_exit};

/// Counts its drops.
struct Tally(Arc<AtomicUsize>);

impl Drop for Tally {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// What the test bodies are sent.
enum Msg {
    Add(u64),
    /// Reply with what was added, in order, and the thread of each
    /// activation that took an `Add`.
    Report(Pid),
    Stop,
}

/// Keeps what it is sent, in order; owns a `Tally`.
struct Keeper {
    seen: Vec<u64>,
    threads: Vec<std::thread::ThreadId>,
    _tally: Option<Tally>,
}

impl Keeper {
    fn new(tally: Option<Tally>) -> Self {
        Self {
            seen: Vec::new(),
            threads: Vec::new(),
            _tally: tally,
        }
    }
}

impl Resumable for Keeper {
    fn resume(&mut self, _timed_out: bool) -> Activation {
        while let Some(message) = receive_any_timeout(Duration::ZERO) {
            match message.take::<Msg>() {
                Ok(Msg::Add(n)) => {
                    self.seen.push(n);
                    self.threads.push(std::thread::current().id());
                }
                Ok(Msg::Report(to)) => send(&to, (self.seen.clone(), self.threads.clone())),
                Ok(Msg::Stop) => return Activation::Exit(ExitReason::custom("stopped")),
                Err(other) => panic!("unexpected {}", other.type_name()),
            }
        }
        Activation::Hibernate { until: None }
    }
}

/// Yields until `pid` waits hibernated.
fn wait_until_hibernated(pid: &Pid) {
    while !process_info(pid).is_some_and(|info| info.hibernated) {
        assert!(!pid.has_exited(), "{pid} ended");
        yield_now();
    }
}

type Report = (Vec<u64>, Vec<std::thread::ThreadId>);

#[test]
fn every_message_is_taken_once_and_in_order_across_hibernations() {
    let rt = runtime(2);
    let seen = rt.block_on(|| {
        let keeper = spawn_resumable(SpawnOptions::new(), Keeper::new(None)).unwrap();
        for n in 0..200u64 {
            send(&keeper, Msg::Add(n));
            if n % 7 == 0 {
                // Let it drain its mailbox and hibernate now and then.
                wait_until_hibernated(&keeper);
            }
        }
        send(&keeper, Msg::Report(self_pid()));
        receive::<Report>().0
    });
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
}

#[test]
fn messages_from_many_senders_on_every_worker_all_arrive() {
    let rt = runtime(2);
    let mut seen = rt.block_on(|| {
        let keeper = spawn_resumable(SpawnOptions::new(), Keeper::new(None)).unwrap();
        let me = self_pid();
        let senders: Vec<Pid> = (0..8u64)
            .map(|s| {
                let keeper = keeper.clone();
                let me = me.clone();
                spawn(move || {
                    for n in 0..250 {
                        send(&keeper, Msg::Add(s * 1000 + n));
                        if n % 10 == 0 {
                            yield_now();
                        }
                    }
                    send(&me, ());
                })
            })
            .collect();
        for _ in &senders {
            receive::<()>();
        }
        send(&keeper, Msg::Report(me));
        receive::<Report>().0
    });
    // Each sender's messages arrive in the order it sent them.
    for s in 0..8u64 {
        let from: Vec<u64> = seen.iter().copied().filter(|n| n / 1000 == s).collect();
        assert_eq!(from, (s * 1000..s * 1000 + 250).collect::<Vec<_>>());
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 8 * 250);
}

#[test]
fn messages_sent_from_outside_the_runtime_wake_a_hibernated_process() {
    let rt = runtime(2);
    let keeper = rt
        .block_on(|| spawn_resumable(SpawnOptions::new(), Keeper::new(None)))
        .unwrap();
    for n in 0..50u64 {
        send(&keeper, Msg::Add(n)); // from the test's thread
    }
    let (tx, rx) = mpsc::channel();
    let asker = {
        let keeper = keeper.clone();
        rt.spawn(move || {
            send(&keeper, Msg::Report(self_pid()));
            tx.send(receive::<Report>().0).unwrap();
        })
    };
    assert_eq!(rx.recv().unwrap(), (0..50).collect::<Vec<_>>());
    drop(asker);
}

#[test]
fn idle_resumable_processes_own_no_stack_and_plain_ones_do() {
    const N: usize = 1_000;
    let carved = |resumable: bool| {
        let rt = runtime(2);
        rt.block_on(move || {
            let pids: Vec<Pid> = (0..N)
                .map(|_| {
                    if resumable {
                        spawn_resumable(SpawnOptions::new(), Keeper::new(None)).unwrap()
                    } else {
                        spawn(|| {
                            let _ = receive::<Msg>();
                        })
                    }
                })
                .collect();
            // All idle at once: waiting (plain) or hibernated.
            for pid in &pids {
                if resumable {
                    wait_until_hibernated(pid);
                } else {
                    common::wait_until_waiting(pid);
                }
            }
            for pid in &pids {
                send(pid, Msg::Add(1));
            }
            if resumable {
                for pid in &pids {
                    wait_until_hibernated(pid);
                }
                // Each took its message, and hibernated with it counted.
                let me = self_pid();
                for pid in &pids {
                    send(pid, Msg::Report(me.clone()));
                    assert_eq!(receive::<Report>().0, vec![1]);
                }
            } else {
                for pid in &pids {
                    wait_exit(pid);
                }
            }
        });
        rt.metrics().stacks_carved
    };
    let (plain, resumable) = (carved(false), carved(true));
    assert!(plain >= N, "plain processes carved {plain} stacks");
    assert!(
        resumable < 64,
        "1,000 idle resumable processes carved {resumable} stacks"
    );
}

/// Sends `"timeout"` to `to` each time its deadline passes with no
/// message, and `"message"` for each message; hibernates with a 5 ms
/// deadline after each.
struct Quiet {
    to: Pid,
    timeouts: u32,
}

impl Resumable for Quiet {
    fn resume(&mut self, timed_out: bool) -> Activation {
        let mut took = false;
        while let Some(message) = receive_any_timeout(Duration::ZERO) {
            took = true;
            if message.take::<Msg>().is_ok_and(|m| matches!(m, Msg::Stop)) {
                return Activation::Exit(ExitReason::Normal);
            }
            send(&self.to, "message");
        }
        if timed_out && !took {
            self.timeouts += 1;
            send(&self.to, "timeout");
            if self.timeouts == 2 {
                return Activation::Hibernate { until: None };
            }
        }
        Activation::Hibernate {
            until: Some(Instant::now() + Duration::from_millis(5)),
        }
    }
}

#[test]
fn a_deadline_resumes_the_body_with_timed_out_and_a_message_comes_first() {
    let rt = runtime(2);
    let heard = rt.block_on(|| {
        let quiet = spawn_resumable(
            SpawnOptions::new(),
            Quiet {
                to: self_pid(),
                timeouts: 0,
            },
        )
        .unwrap();
        let mut heard = vec![receive::<&str>()];
        send(&quiet, Msg::Add(0));
        heard.push(receive::<&str>());
        heard.push(receive::<&str>());
        // No deadline after the second timeout: it waits for messages only.
        wait_until_hibernated(&quiet);
        send(&quiet, Msg::Add(0));
        heard.push(receive::<&str>());
        send(&quiet, Msg::Stop);
        assert_eq!(wait_exit(&quiet), ExitReason::Normal);
        heard
    });
    assert_eq!(heard, ["timeout", "message", "timeout", "message"]);
}

#[test]
fn killing_a_hibernated_process_drops_its_body_once_and_runs_its_hooks() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let tally = Tally(Arc::clone(&drops));
    let (reason, hook_reason) = rt.block_on(move || {
        let me = self_pid();
        let keeper = spawn_resumable_with(
            SpawnOptions::new(),
            |pid| {
                let me = me.clone();
                pid.on_exit(move |reason| send(&me, reason.clone()));
            },
            Keeper::new(Some(tally)),
        )
        .unwrap();
        send(&keeper, Msg::Add(1));
        wait_until_hibernated(&keeper);
        exit(&keeper, ExitReason::Killed);
        let reason = wait_exit(&keeper);
        (reason, receive::<ExitReason>())
    });
    assert_eq!(
        (reason, hook_reason),
        (ExitReason::Killed, ExitReason::Killed)
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// On each `Add`, blocks in a nested receive for a `u64` while it holds an
/// `Rc`, and reports the thread before and after the wait.
struct Blocker {
    to: Pid,
    _tally: Tally,
}

impl Resumable for Blocker {
    fn resume(&mut self, _timed_out: bool) -> Activation {
        while let Some(message) = receive_any_timeout(Duration::ZERO) {
            if message.take::<Msg>().is_ok() {
                let held = Rc::new(std::thread::current().id());
                send(&self.to, "blocked");
                let _: u64 = receive();
                send(&self.to, (*held, std::thread::current().id()));
            }
        }
        Activation::Hibernate { until: None }
    }
}

#[test]
fn a_body_blocked_inside_keeps_its_stack_and_its_thread_and_a_kill_drops_it_once() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let tally = Tally(Arc::clone(&drops));
    let (same_thread, reason) = rt.block_on(move || {
        let me = self_pid();
        let blocker = spawn_resumable(
            SpawnOptions::new(),
            Blocker {
                to: me.clone(),
                _tally: tally,
            },
        )
        .unwrap();
        let mut same = Vec::new();
        for round in 0..20u64 {
            send(&blocker, Msg::Add(round));
            assert_eq!(receive::<&str>(), "blocked");
            // Busy processes on every worker meanwhile, so that thieves
            // look for work.
            let busy: Vec<Pid> = (0..4)
                .map(|_| {
                    spawn(|| {
                        for _ in 0..50 {
                            yield_now();
                        }
                    })
                })
                .collect();
            let info = process_info(&blocker).unwrap();
            assert!(!info.hibernated, "blocked inside, it keeps its stack");
            send(&blocker, round);
            let (before, after) = receive::<(std::thread::ThreadId, std::thread::ThreadId)>();
            same.push(before == after);
            for pid in &busy {
                wait_exit(pid);
            }
        }
        // A kill while it is blocked inside.
        send(&blocker, Msg::Add(99));
        assert_eq!(receive::<&str>(), "blocked");
        exit(&blocker, ExitReason::Killed);
        (same, wait_exit(&blocker))
    });
    assert!(same_thread.iter().all(|same| *same), "{same_thread:?}");
    assert_eq!(reason, ExitReason::Killed);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_pinned_resumable_process_runs_every_activation_on_its_worker() {
    let rt = runtime(2);
    let threads = rt.block_on(|| {
        let keeper = spawn_resumable(SpawnOptions::new().worker(1), Keeper::new(None)).unwrap();
        for n in 0..100u64 {
            send(&keeper, Msg::Add(n));
            if n % 3 == 0 {
                wait_until_hibernated(&keeper);
            }
        }
        send(&keeper, Msg::Report(self_pid()));
        receive::<Report>().1
    });
    assert_eq!(threads.len(), 100);
    assert!(threads.iter().all(|t| *t == threads[0]));
}

#[test]
fn a_panic_in_an_activation_ends_the_process_and_drops_the_body_once() {
    struct Panicky(#[allow(dead_code)] Tally);
    impl Resumable for Panicky {
        fn resume(&mut self, _: bool) -> Activation {
            if receive_any_timeout(Duration::ZERO).is_some() {
                panic!("on its second activation");
            }
            Activation::Hibernate { until: None }
        }
    }
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let tally = Tally(Arc::clone(&drops));
    let reason = rt.block_on(move || {
        let pid = spawn_resumable(SpawnOptions::new(), Panicky(tally)).unwrap();
        wait_until_hibernated(&pid);
        send(&pid, ());
        wait_exit(&pid)
    });
    assert_eq!(reason, ExitReason::Panic("on its second activation".into()));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn shutdown_ends_hibernated_processes_by_running_them() {
    const N: usize = 100;
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, reasons) = mpsc::channel();
    let rt = Runtime::builder().workers(2).build().unwrap();
    {
        let drops = Arc::clone(&drops);
        rt.block_on(move || {
            for _ in 0..N {
                let tx = tx.clone();
                let keeper = spawn_resumable_with(
                    SpawnOptions::new(),
                    move |pid| {
                        pid.on_exit(move |reason| tx.send(reason.clone()).unwrap());
                    },
                    Keeper::new(Some(Tally(Arc::clone(&drops)))),
                )
                .unwrap();
                send(&keeper, Msg::Add(1));
                wait_until_hibernated(&keeper);
            }
        });
    }
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), N);
    let reasons: Vec<ExitReason> = reasons.try_iter().collect();
    assert_eq!(reasons, vec![ExitReason::Shutdown; N]);
}

#[test]
fn a_trapped_exit_signal_reaches_a_hibernated_body_as_a_message() {
    struct Trapper(Pid);
    impl Resumable for Trapper {
        fn resume(&mut self, _: bool) -> Activation {
            while let Some(message) = receive_any_timeout(Duration::ZERO) {
                if let Ok(exit) = message.take::<ferrotp_scheduler::Exit>() {
                    send(&self.0, exit.reason.clone());
                    return Activation::Exit(exit.reason);
                }
            }
            Activation::Hibernate { until: None }
        }
    }
    let rt = runtime(2);
    let (told, reason) = rt.block_on(|| {
        let pid =
            spawn_resumable(SpawnOptions::new().trap_exit(true), Trapper(self_pid())).unwrap();
        wait_until_hibernated(&pid);
        exit(&pid, ExitReason::custom("asked"));
        (receive::<ExitReason>(), wait_exit(&pid))
    });
    assert_eq!(told, ExitReason::custom("asked"));
    assert_eq!(reason, ExitReason::custom("asked"));
}

#[test]
fn a_process_waiting_outside_a_receive_shows_the_messages_it_took() {
    let rt = runtime(2);
    let len = rt.block_on(|| {
        let me = self_pid();
        let sleeper = spawn(move || {
            let _: u32 = receive();
            send(&me, ());
            ferrotp_scheduler::sleep(Duration::from_secs(60));
        });
        send(&sleeper, 1u32);
        receive::<()>();
        common::wait_until_waiting(&sleeper);
        let len = process_info(&sleeper).unwrap().mailbox_len;
        exit(&sleeper, ExitReason::Killed);
        wait_exit(&sleeper);
        len
    });
    assert_eq!(len, 0, "the message it took is not queued");
}

/// Asks to hibernate without taking what is queued: resumed at once, for
/// ever.
struct Lazy;

impl Resumable for Lazy {
    fn resume(&mut self, _: bool) -> Activation {
        Activation::Hibernate { until: None }
    }
}

/// Asks to hibernate until a deadline already past: resumed at once.
struct Late;

impl Resumable for Late {
    fn resume(&mut self, _: bool) -> Activation {
        Activation::Hibernate {
            until: Some(Instant::now()),
        }
    }
}

#[test]
fn a_body_resumed_again_and_again_is_preempted_and_can_be_killed() {
    let rt = runtime(2);
    let reasons = rt.block_on(|| {
        let me = self_pid();
        let on_worker_0 = || SpawnOptions::new().worker(0);
        let lazy = spawn_resumable(on_worker_0(), Lazy).unwrap();
        send(&lazy, ()); // never taken: it is resumed at once, again and again
        let late = spawn_resumable(on_worker_0(), Late).unwrap();
        // A neighbour on the same worker still gets its turns.
        ferrotp_scheduler::spawn_opt(on_worker_0(), move || {
            for _ in 0..100 {
                yield_now();
            }
            send(&me, "neighbour done");
        })
        .unwrap();
        assert_eq!(receive::<&str>(), "neighbour done");
        let reasons: Vec<ExitReason> = [lazy, late]
            .iter()
            .map(|pid| {
                exit(pid, ExitReason::Killed);
                wait_exit(pid)
            })
            .collect();
        reasons
    });
    assert_eq!(reasons, [ExitReason::Killed, ExitReason::Killed]);
}

#[test]
fn a_runtime_with_a_body_resumed_again_and_again_still_shuts_down() {
    let rt = runtime(1);
    rt.block_on(|| {
        let lazy = spawn_resumable(SpawnOptions::new(), Lazy).unwrap();
        send(&lazy, ());
    });
    drop(rt); // returns: the body is preempted, and shutdown reaches it
}
