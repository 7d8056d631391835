//! Clean-up is part of the process (issue 12, items 5, 6 and 8): the
//! destructors that run as a process ends (after a kill, a panic or at
//! shutdown, and those of its unread messages) may block as code that is
//! not ending does, up to the clean-up deadline; past it the process is
//! abandoned, never the program aborted. A process blocked in the middle
//! of an unwind carries its own panic count: the other processes of its
//! worker do not see `std::thread::panicking()`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{runtime, wait_exit};
use ferrotp_scheduler::{
    ExitReason, Pid, Runtime, Select, SpawnOptions, Subject, exit, exit_self, receive,
    receive_timeout, self_pid, send, sleep, spawn, spawn_opt, yield_now,
};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Runs `f` when dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[test]
fn a_destructor_run_by_a_kill_receives_its_message() {
    let rt = runtime(1);
    let log = log();
    let logged = Arc::clone(&log);
    let reason = rt.block_on(move || {
        let me = self_pid();
        let ready = me.clone();
        let victim = spawn(move || {
            let _cleanup = OnDrop(move || {
                let panicking = std::thread::panicking();
                send(&me, "in clean-up");
                let word = receive::<String>();
                logged
                    .lock()
                    .unwrap()
                    .push(format!("got {word:?} while panicking: {panicking}"));
            });
            send(&ready, "ready");
            receive::<u64>();
        });
        assert_eq!(receive::<&str>(), "ready");
        exit(&victim, ExitReason::Kill);
        assert_eq!(receive::<&str>(), "in clean-up");
        send(&victim, "goodbye".to_owned());
        wait_exit(&victim)
    });
    assert_eq!(reason, ExitReason::Killed);
    assert_eq!(entries(&log), ["got \"goodbye\" while panicking: true"]);
}

#[test]
fn a_destructor_run_by_a_panic_receives_through_a_subject_and_a_select() {
    let rt = runtime(2);
    let log = log();
    let logged = Arc::clone(&log);
    let reason = rt.block_on(move || {
        let me = self_pid();
        let victim = spawn(move || {
            let replies: Subject<u32> = Subject::new();
            let to_me = replies.clone();
            let _cleanup = OnDrop(move || {
                send(&me, to_me.clone());
                let first = replies.receive();
                let second = Select::new()
                    .on_subject(&replies, |n| format!("subject {n}"))
                    .on(|text: &'static str| text.to_owned())
                    .wait();
                logged
                    .lock()
                    .unwrap()
                    .push(format!("{first}, then {second}"));
            });
            panic!("on purpose");
        });
        let replies = receive::<Subject<u32>>();
        replies.send(1);
        replies.send(2);
        wait_exit(&victim)
    });
    assert_eq!(reason, ExitReason::Panic("on purpose".into()));
    assert_eq!(entries(&log), ["1, then subject 2"]);
}

/// `sleep` and `receive_timeout` in clean-up behave as they document:
/// sleep never returns early, and a receive with a timeout takes a
/// message that arrives in time (before the fix both returned at once).
#[test]
fn sleep_and_receive_timeout_work_in_clean_up() {
    let rt = runtime(1);
    let log = log();
    let logged = Arc::clone(&log);
    rt.block_on(move || {
        let me = self_pid();
        let ready = me.clone();
        let victim = spawn(move || {
            let _cleanup = OnDrop(move || {
                let start = Instant::now();
                sleep(Duration::from_millis(20));
                let slept = start.elapsed() >= Duration::from_millis(20);
                send(&me, ());
                let got = receive_timeout::<u8>(Duration::from_secs(3600));
                logged
                    .lock()
                    .unwrap()
                    .push(format!("slept the full time: {slept}; received {got:?}"));
            });
            send(&ready, ());
            receive::<u64>();
        });
        receive::<()>();
        exit(&victim, ExitReason::Kill);
        receive::<()>();
        send(&victim, 9u8);
        wait_exit(&victim);
    });
    assert_eq!(
        entries(&log),
        ["slept the full time: true; received Some(9)"]
    );
}

/// While a process waits in the middle of its unwind, the other processes
/// of its worker are not unwinding: `std::thread::panicking()` is false
/// for them, and a mutex guard they hold across the victim's panic does
/// not poison its mutex when dropped.
#[test]
fn a_process_blocked_mid_unwind_leaves_its_worker_clean() {
    let rt = runtime(1);
    let (seen_by_other, poisoned, seen_after) = rt.block_on(|| {
        let me = self_pid();
        let mutex = Arc::new(Mutex::new(0));
        let shared = Arc::clone(&mutex);
        let to_me = me.clone();
        let holder = spawn(move || {
            let mut guard = shared.lock().unwrap();
            *guard += 1;
            send(&to_me, "locked");
            // Suspends holding the guard while the victim panics.
            receive::<()>();
            let panicking = std::thread::panicking();
            drop(guard);
            send(&to_me, panicking);
        });
        assert_eq!(receive::<&str>(), "locked");
        let to_me = me.clone();
        let victim = spawn(move || {
            let _cleanup = OnDrop(move || {
                send(&to_me, "blocked");
                receive::<()>();
            });
            panic!("unwinding");
        });
        // The victim waits mid-unwind on this very worker.
        assert_eq!(receive::<&str>(), "blocked");
        send(&holder, ());
        let seen_by_other = receive::<bool>();
        let poisoned = mutex.is_poisoned();
        send(&victim, ());
        wait_exit(&victim);
        spawn(move || send(&me, std::thread::panicking()));
        (seen_by_other, poisoned, receive::<bool>())
    });
    assert!(!seen_by_other, "another process saw the victim's panic");
    assert!(!poisoned, "the other process's mutex was poisoned");
    assert!(!seen_after);
}

/// A migratable process that blocks mid-unwind may finish its unwind on
/// another worker: its panic count goes with it, and neither worker's
/// thread is left counting a panic.
#[test]
fn a_migratable_process_finishes_its_unwind_wherever_it_resumes() {
    let rt = runtime(2);
    let results = rt.block_on(|| {
        let me = self_pid();
        let mut victims = Vec::new();
        for _ in 0..50 {
            let me = me.clone();
            // SAFETY: holds only `Send` values across its suspensions and
            // touches no thread-local data.
            let options = unsafe { SpawnOptions::new().migratable() };
            victims.push(
                spawn_opt(options, move || {
                    let _cleanup = OnDrop(move || {
                        for _ in 0..5 {
                            yield_now();
                        }
                        send(&me, std::thread::panicking());
                    });
                    panic!("unwinding");
                })
                .unwrap(),
            );
        }
        let during: Vec<bool> = (0..50).map(|_| receive::<bool>()).collect();
        for victim in &victims {
            wait_exit(victim);
        }
        // Each worker runs a fresh process: neither thread counts a panic.
        let me = self_pid();
        for worker in 0..2 {
            let me = me.clone();
            spawn_opt(SpawnOptions::new().worker(worker), move || {
                send(&me, std::thread::panicking());
            })
            .unwrap();
        }
        let after: Vec<bool> = (0..2).map(|_| receive::<bool>()).collect();
        (during, after)
    });
    assert!(results.0.iter().all(|&p| p), "each saw its own unwind");
    assert_eq!(results.1, [false, false]);
}

/// Runtime shutdown: processes told to end may wait for each other in
/// their clean-up (one's destructor sends, the other's receives), whatever
/// the order they run in. Before the fix dropping the runtime aborted.
#[test]
fn clean_up_at_shutdown_may_wait_for_another_process() {
    let rt = runtime(2);
    let log = log();
    let logged = Arc::clone(&log);
    rt.block_on(move || {
        let me = self_pid();
        let waiter = spawn(move || {
            let _cleanup = OnDrop(move || {
                let word = receive::<String>();
                logged.lock().unwrap().push(format!("waiter got {word:?}"));
            });
            send(&me, ());
            receive::<u64>();
        });
        receive::<()>();
        let me = self_pid();
        spawn(move || {
            let _cleanup = OnDrop(move || send(&waiter, "farewell".to_owned()));
            send(&me, ());
            receive::<u64>();
        });
        receive::<()>();
    });
    drop(rt);
    assert_eq!(entries(&log), ["waiter got \"farewell\""]);
}

/// Past the clean-up deadline a process still blocked in its clean-up is
/// abandoned: it ends with its recorded reason, its remaining destructors
/// never run, and the program goes on (before: an abort).
#[test]
fn a_clean_up_that_blocks_past_its_deadline_is_abandoned() {
    let rt = Runtime::builder()
        .workers(1)
        .cleanup_timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    let outer_dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&outer_dropped);
    let reason = rt.block_on(move || {
        let me = self_pid();
        let ready = me.clone();
        let victim = spawn(move || {
            let _outer = OnDrop(move || flag.store(true, Ordering::SeqCst));
            let _blocks = OnDrop(move || {
                send(&me, "blocking");
                receive::<u64>(); // never sent
            });
            send(&ready, "ready");
            receive::<String>();
        });
        assert_eq!(receive::<&str>(), "ready");
        exit(&victim, ExitReason::Kill);
        assert_eq!(receive::<&str>(), "blocking");
        wait_exit(&victim)
    });
    assert_eq!(reason, ExitReason::Killed);
    assert!(
        !outer_dropped.load(Ordering::SeqCst),
        "abandoned: no more destructors"
    );
    // The runtime shuts down as usual, and a new process on the same
    // worker is not unwinding.
    assert!(!rt.block_on(std::thread::panicking));
}

/// Shutdown waits no longer than the clean-up deadline for a process whose
/// clean-up never finishes.
#[test]
fn shutdown_abandons_a_clean_up_that_never_finishes() {
    let rt = Runtime::builder()
        .workers(1)
        .cleanup_timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    let stuck = rt.block_on(|| {
        let me = self_pid();
        let pid = spawn(move || {
            let _blocks = OnDrop(|| {
                receive::<u64>(); // never sent
            });
            send(&me, ());
            receive::<String>();
        });
        receive::<()>();
        pid
    });
    drop(rt);
    assert_eq!(stuck.exit_reason(), Some(ExitReason::Shutdown));
}

/// A message whose destructor sleeps, dropped after the body ended. Kills
/// act there (and shutdown), so it neither ignores a kill nor hangs
/// shutdown (issue 12, item 6).
struct Sleepy(Log);

impl Drop for Sleepy {
    fn drop(&mut self) {
        self.0.lock().unwrap().push("sleepy dropping".to_owned());
        sleep(Duration::from_secs(3600));
        self.0.lock().unwrap().push("sleepy woke".to_owned());
    }
}

#[test]
fn a_kill_interrupts_an_unread_message_destructor() {
    let rt = runtime(1);
    let log = log();
    let logged = Arc::clone(&log);
    let reason = rt.block_on(move || {
        let p = spawn(|| {
            receive::<u8>();
        });
        send(&p, Sleepy(Arc::clone(&logged)));
        send(&p, 1u8);
        while entries(&logged).is_empty() {
            yield_now();
        }
        exit(&p, ExitReason::Kill);
        wait_exit(&p)
    });
    // The body had ended normally: that reason stands.
    assert_eq!(reason, ExitReason::Normal);
    assert_eq!(entries(&log), ["sleepy dropping"]);
}

#[test]
fn shutdown_interrupts_an_unread_message_destructor() {
    let rt = runtime(1);
    let log = log();
    let logged = Arc::clone(&log);
    let p: Pid = rt.block_on(move || {
        let p = spawn(|| {
            receive::<u8>();
        });
        send(&p, Sleepy(Arc::clone(&logged)));
        send(&p, 1u8);
        while entries(&logged).is_empty() {
            yield_now();
        }
        p
    });
    drop(rt); // before the fix: never returned
    assert_eq!(p.exit_reason(), Some(ExitReason::Normal));
    assert_eq!(entries(&log), ["sleepy dropping"]);
}

/// `exit_self` from a destructor during an unwind cannot start a second
/// unwind: the process is abandoned (before: the program aborted).
#[test]
fn exit_self_in_a_destructor_during_an_unwind_abandons_the_process() {
    let rt = runtime(1);
    let reason = rt.block_on(|| {
        let victim = spawn(|| {
            let _exits = OnDrop(|| exit_self(ExitReason::custom("from a destructor")));
            panic!("unwinding");
        });
        wait_exit(&victim)
    });
    // No reason was recorded before (a panic records its own only when
    // the body catches it), so the one exit_self gave stands.
    assert_eq!(reason, ExitReason::custom("from a destructor"));
    assert!(!rt.block_on(std::thread::panicking));
}

// Review findings (an adversarial pass over the clean-up code). Each
// reproduction hung, aborted or gave a wrong result before its fix.

fn short_cleanup(workers: usize) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .cleanup_timeout(Duration::from_millis(50))
        .build()
        .unwrap()
}

/// A clean-up that waits by polling (`yield_now` until the other has
/// ended) counts against the deadline like one that blocks; here two such
/// clean-ups wait for each other at shutdown. Before: shutdown never
/// returned (only blocking waits armed the deadline).
#[test]
fn polling_clean_ups_are_bounded_by_the_deadline() {
    let rt = short_cleanup(1);
    let (first, second) = rt.block_on(|| {
        let me = self_pid();
        let spawn_poller = |me: Pid| {
            spawn(move || {
                let peer = receive::<Pid>();
                let _cleanup = OnDrop(move || {
                    exit(&peer, ExitReason::Kill);
                    while !peer.has_exited() {
                        yield_now();
                    }
                });
                send(&me, ());
                receive::<u64>();
            })
        };
        let first = spawn_poller(me.clone());
        let second = spawn_poller(me);
        send(&first, second.clone());
        send(&second, first.clone());
        receive::<()>();
        receive::<()>();
        (first, second)
    });
    drop(rt);
    assert!(first.has_exited() && second.has_exited());
}

/// An unread message's destructor that keeps catching the unwind of the
/// kill that interrupts it is abandoned after the usual retries. Before:
/// after the body, retries were not counted, and it spun for ever.
#[test]
fn an_unread_message_that_swallows_its_kill_is_abandoned() {
    struct Stubborn(Pid);
    impl Drop for Stubborn {
        fn drop(&mut self) {
            send(&self.0, ());
            loop {
                let _ = std::panic::catch_unwind(yield_now);
            }
        }
    }
    let rt = runtime(1);
    let reason = rt.block_on(|| {
        let p = spawn(|| {
            receive::<u8>();
        });
        send(&p, Stubborn(self_pid()));
        send(&p, 1u8);
        receive::<()>();
        exit(&p, ExitReason::Kill);
        wait_exit(&p)
    });
    assert_eq!(reason, ExitReason::Normal);
}

/// A spawner abandoned inside `spawn_with`'s set-up (it swallows its kill)
/// ends the child it made: the child's name is freed and its monitors
/// fire. Before: the child never ended.
#[test]
fn a_spawner_abandoned_in_its_setup_ends_its_child() {
    let rt = runtime(1);
    let (child_reason, name_free) = rt.block_on(|| {
        let me = self_pid();
        let spawner = spawn(move || {
            let _ = ferrotp_scheduler::spawn_with(
                SpawnOptions::new().register("orphan"),
                |child| {
                    send(&me, child.clone());
                    loop {
                        let _ = std::panic::catch_unwind(receive::<u64>);
                    }
                },
                || {},
            );
        });
        let child = receive::<Pid>();
        exit(&spawner, ExitReason::Kill);
        wait_exit(&spawner);
        (
            wait_exit(&child),
            ferrotp_scheduler::whereis("orphan").is_none(),
        )
    });
    assert_eq!(child_reason, ExitReason::Killed);
    assert!(name_free);
}

/// A clean-up deadline belongs to one clean-up: a process that caught its
/// panic and went on (here yielding, past the old deadline) gets a fresh
/// deadline for its next clean-up. Before: the stale one cut the second
/// clean-up short.
#[test]
fn a_caught_panic_leaves_no_stale_clean_up_deadline() {
    let rt = Runtime::builder()
        .workers(1)
        .cleanup_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let reason = rt.block_on(|| {
        let victim = spawn(|| {
            let first = std::cell::Cell::new(None);
            // `resume_unwind`: no panic hook, whose time would blur this.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _blocks = OnDrop(|| {
                    first.set(Some(Instant::now()));
                    sleep(Duration::from_millis(1));
                });
                std::panic::resume_unwind(Box::new("first"));
            }));
            // Past most of the first clean-up's deadline, by yielding.
            let first = first.get().unwrap();
            while first.elapsed() < Duration::from_millis(120) {
                yield_now();
            }
            // The second clean-up outlives the first deadline, not its own.
            let _blocks = OnDrop(|| sleep(Duration::from_millis(120)));
            std::panic::resume_unwind(Box::new("second"));
        });
        wait_exit(&victim)
    });
    assert_eq!(reason, ExitReason::Panic("second".into()));
}

/// An unread message's destructor may call another process and get its
/// reply: the mailbox stays open while unread messages are dropped.
/// Before: the receive reached `unreachable!`.
#[test]
fn an_unread_message_destructor_gets_a_reply() {
    struct Asks(Pid, Log);
    impl Drop for Asks {
        fn drop(&mut self) {
            let reply: Subject<u32> = Subject::new();
            send(&self.0, reply.clone());
            let got = reply.receive();
            let late = receive_timeout::<u8>(Duration::from_millis(5));
            self.1
                .lock()
                .unwrap()
                .push(format!("reply {got}; late {late:?}"));
        }
    }
    let rt = runtime(2);
    let log = log();
    let logged = Arc::clone(&log);
    let reason = rt.block_on(move || {
        let server = spawn(|| {
            loop {
                receive::<Subject<u32>>().send(42);
            }
        });
        let p = spawn(|| {
            receive::<u8>();
        });
        send(&p, Asks(server, logged));
        send(&p, 1u8);
        wait_exit(&p)
    });
    assert_eq!(reason, ExitReason::Normal);
    assert_eq!(entries(&log), ["reply 42; late None"]);
}

/// A kill that arrives after the body's last check point (it is still
/// queued when the body ends) interrupts a blocking unread-message
/// destructor. Before: it was dropped with the unread messages.
#[test]
fn a_kill_queued_as_the_body_ends_still_acts() {
    let rt = runtime(2);
    let log = log();
    let logged = Arc::clone(&log);
    rt.block_on(move || {
        let me = self_pid();
        let here = ferrotp_scheduler::process_info(&me)
            .and_then(|info| info.worker)
            .unwrap();
        let go = Arc::new(AtomicBool::new(false));
        let gone = Arc::clone(&go);
        let spinning = Arc::new(AtomicBool::new(false));
        let spins = Arc::clone(&spinning);
        let p = spawn_opt(SpawnOptions::new().worker(1 - here), move || {
            receive::<u8>();
            // No check point from here to the end of the body (a `send`
            // here would be one: the kill could act there, ending the
            // body itself, which is another case).
            spins.store(true, Ordering::SeqCst);
            while !gone.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        })
        .unwrap();
        send(&p, Sleepy(Arc::clone(&logged)));
        let after = Arc::clone(&logged);
        send(
            &p,
            OnDrop(move || after.lock().unwrap().push("next dropped".to_owned())),
        );
        send(&p, 1u8);
        while !spinning.load(Ordering::SeqCst) {
            yield_now();
        }
        exit(&p, ExitReason::Kill);
        go.store(true, Ordering::SeqCst);
        wait_exit(&p);
    });
    // Interrupted by the kill, not abandoned at the clean-up deadline (the
    // next unread message is dropped too).
    assert_eq!(entries(&log), ["sleepy dropping", "next dropped"]);
}

/// Shutdown keeps firing timers while processes run: a clean-up that polls
/// for a `send_after` message gets it. Before: the worker's tick froze in
/// teardown, so its timers never fired while anything was runnable.
#[test]
fn timers_fire_during_shutdown() {
    let rt = runtime(1);
    let log = log();
    let logged = Arc::clone(&log);
    rt.block_on(move || {
        let me = self_pid();
        spawn(move || {
            let _cleanup = OnDrop(move || {
                ferrotp_scheduler::send_after(Duration::from_millis(5), &self_pid(), 7u8);
                loop {
                    if let Some(n) = receive_timeout::<u8>(Duration::ZERO) {
                        logged.lock().unwrap().push(format!("got {n}"));
                        break;
                    }
                    yield_now();
                }
            });
            send(&me, ());
            receive::<u64>();
        });
        receive::<()>();
    });
    drop(rt);
    assert_eq!(entries(&log), ["got 7"]);
}

/// A sender abandoned while it waits for room in a bounded mailbox (its
/// clean-up ran past the deadline) gives its place up: the next sender
/// gets the room. Before: the dead registration swallowed the wake-up and
/// the live sender's message was never delivered.
#[test]
fn an_abandoned_sender_does_not_keep_the_room() {
    let rt = short_cleanup(1);
    let got = rt.block_on(|| {
        let me = self_pid();
        let go = Arc::new(AtomicBool::new(false));
        let going = Arc::clone(&go);
        let inbox = spawn_opt(SpawnOptions::new().mailbox_capacity(1), move || {
            // The go-ahead (not a message: taking one would pass a wake-up
            // on before the test wants it).
            while !going.load(Ordering::SeqCst) {
                yield_now();
            }
            let mut got = Vec::new();
            for _ in 0..2 {
                got.push(receive::<&'static str>());
            }
            send(&me, got);
        })
        .unwrap();
        send(&inbox, "fills the mailbox");
        // Blocks for room in its clean-up, past the deadline.
        let (to, me2) = (inbox.clone(), self_pid());
        let crashing = spawn(move || {
            let _cleanup = OnDrop(move || send(&to, "from the abandoned sender"));
            send(&me2, ());
            receive::<u64>();
        });
        receive::<()>();
        exit(&crashing, ExitReason::Kill);
        wait_exit(&crashing);
        // A live sender waits behind the abandoned one's registration.
        let to = inbox.clone();
        let live = spawn(move || send(&to, "from the live sender"));
        while ferrotp_scheduler::process_info(&live).map(|info| info.status)
            != Some(ferrotp_scheduler::ProcessStatus::Waiting)
        {
            yield_now();
        }
        go.store(true, Ordering::SeqCst);
        receive::<Vec<&'static str>>()
    });
    assert_eq!(got, ["fills the mailbox", "from the live sender"]);
}

/// A process that panicked and is blocked in its clean-up when the runtime
/// shuts down keeps its panic as its reason (a supervisor must not take it
/// for a clean stop). Before: `Shutdown`.
#[test]
fn a_panic_in_clean_up_at_shutdown_keeps_its_reason() {
    let rt = runtime(1);
    let victim = rt.block_on(|| {
        let me = self_pid();
        let victim = spawn(move || {
            let _cleanup = OnDrop(move || {
                send(&me, ());
                receive::<u8>();
            });
            panic!("crashed");
        });
        receive::<()>();
        // Answers the victim's clean-up from its own, at shutdown.
        let (to, me) = (victim.clone(), self_pid());
        spawn(move || {
            let _answers = OnDrop(move || send(&to, 1u8));
            send(&me, ());
            receive::<u64>();
        });
        receive::<()>();
        victim
    });
    drop(rt);
    assert_eq!(
        victim.exit_reason(),
        Some(ExitReason::Panic("crashed".into()))
    );
}

/// A spawner told to end at shutdown inside `spawn_with`'s set-up ends the
/// child with `Shutdown` (the runtime is stopping), not `Killed`.
#[test]
fn a_spawner_ended_by_shutdown_in_its_setup_ends_the_child_with_shutdown() {
    let rt = runtime(1);
    let child = rt.block_on(|| {
        let me = self_pid();
        spawn(move || {
            let _ = ferrotp_scheduler::spawn_with(
                SpawnOptions::new(),
                |child| {
                    send(&me, child.clone());
                    receive::<u64>();
                },
                || {},
            );
        });
        receive::<Pid>()
    });
    drop(rt);
    assert_eq!(child.exit_reason(), Some(ExitReason::Shutdown));
}
