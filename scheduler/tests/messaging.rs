//! Messaging and time inside the runtime: order, selective receive,
//! timeouts, timers, bounded mailboxes, subjects, select, fairness.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ferrotp_scheduler::{
    Pid, Select, SpawnOptions, Subject, TrySendError, cancel_timer, mailbox_len, receive,
    receive_match, receive_match_timeout, receive_timeout, reduce, self_pid, send, send_after,
    sleep, spawn, spawn_opt, try_send, yield_now,
};

mod common;
use common::runtime;

/// Erlang's guarantee: messages from one sender to one receiver arrive in
/// the order sent, whatever other senders do.
#[test]
fn messages_from_one_sender_keep_their_order() {
    let rt = runtime(2);
    let ok = rt.block_on(|| {
        let me = self_pid();
        let senders = 4u64;
        let each = 5_000u64;
        for s in 0..senders {
            let me = me.clone();
            spawn(move || {
                for n in 0..each {
                    send(&me, (s, n));
                }
            });
        }
        let mut next = vec![0u64; senders as usize];
        for _ in 0..senders * each {
            let (s, n) = receive::<(u64, u64)>();
            assert_eq!(n, next[s as usize], "sender {s} out of order");
            next[s as usize] += 1;
        }
        next.iter().all(|&n| n == each)
    });
    assert!(ok);
}

#[test]
fn selective_receive_leaves_other_messages_in_order() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let me = self_pid();
        send(&me, 1u8);
        send(&me, "a");
        send(&me, 2u8);
        send(&me, "b");
        send(&me, 30u8);
        let big = receive_match(|n: &u8| *n > 10);
        let first_str = receive::<&str>();
        let left = mailbox_len();
        let rest: Vec<u8> = (0..2).map(|_| receive::<u8>()).collect();
        (big, first_str, left, rest, receive::<&str>())
    });
    assert_eq!(got, (30, "a", 3, vec![1, 2], "b"));
}

#[test]
fn a_receive_that_waits_is_woken_by_a_later_matching_message() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let me = self_pid();
        spawn(move || {
            send(&me, "noise");
            yield_now();
            send(&me, 99u64);
        });
        let n = receive::<u64>();
        (n, receive::<&str>())
    });
    assert_eq!(got, (99, "noise"));
}

#[test]
fn receive_timeouts_expire_and_do_not_eat_later_messages() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let me = self_pid();
        let none = receive_timeout::<u32>(Duration::from_millis(3));
        let none_matched = receive_match_timeout(|n: &u32| *n == 5, Duration::ZERO);
        send(&me, 4u32);
        let later = receive_timeout::<u32>(Duration::from_secs(60));
        (none, none_matched, later)
    });
    assert_eq!(got, (None, None, Some(4)));
}

#[test]
fn a_timeout_armed_then_satisfied_does_not_disturb_the_next_wait() {
    // The first receive's timer is disarmed when the message arrives; a
    // stale wake-up must not end the following sleep-free receive early.
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let me = self_pid();
        let helper = spawn(move || {
            let () = receive::<()>();
            send(&me, 1u8);
            let () = receive::<()>();
            send(&me, 2u8);
        });
        send(&helper, ());
        let a = receive_timeout::<u8>(Duration::from_secs(60));
        send(&helper, ());
        let b = receive::<u8>();
        (a, b)
    });
    assert_eq!(got, (Some(1), 2));
}

#[test]
fn sleep_lets_others_run_and_send_after_delivers_in_deadline_order() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let me = self_pid();
        let other = me.clone();
        spawn(move || send(&other, "ran while root slept"));
        sleep(Duration::from_millis(2));
        let first = receive::<&str>();
        send_after(Duration::from_millis(4), &me, 2u8);
        send_after(Duration::from_millis(1), &me, 1u8);
        let cancelled = send_after(Duration::from_millis(2), &me, 99u8);
        let was_pending = cancel_timer(&cancelled);
        let again = cancel_timer(&cancelled);
        let order = [receive::<u8>(), receive::<u8>()];
        let stray = receive_timeout::<u8>(Duration::from_millis(10));
        (first, was_pending, again, order, stray)
    });
    assert_eq!(got, ("ran while root slept", true, false, [1, 2], None));
}

#[test]
fn cancel_after_fire_reports_false() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let me = self_pid();
        let timer = send_after(Duration::from_millis(1), &me, 7u8);
        let n = receive::<u8>();
        (n, cancel_timer(&timer))
    });
    assert_eq!(got, (7, false));
}

#[test]
fn bounded_mailbox_try_send_reports_full_and_send_waits_for_room() {
    let rt = runtime(2);
    let go = Arc::new(AtomicBool::new(false));
    let got = rt.block_on(move || {
        let me = self_pid();
        let start = Arc::clone(&go);
        let sink = spawn_opt(SpawnOptions::new().mailbox_capacity(2), move || {
            // Anything sent to the sink counts against its bound, so the
            // signal to start draining comes through a flag.
            while !start.load(Ordering::SeqCst) {
                yield_now();
            }
            let got: Vec<u32> = (0..100).map(|_| receive::<u32>()).collect();
            send(&me, got);
        })
        .unwrap();
        try_send(&sink, 0u32).unwrap();
        try_send(&sink, 1u32).unwrap();
        let full = try_send(&sink, 2u32);
        go.store(true, Ordering::SeqCst);
        // Blocking sends: this process suspends whenever the sink is full.
        for n in 2..100u32 {
            send(&sink, n);
        }
        (full, receive::<Vec<u32>>())
    });
    assert_eq!(got.0, Err(TrySendError::Full(2)));
    assert_eq!(got.1, (0..100).collect::<Vec<u32>>());
}

#[test]
fn a_plain_thread_blocks_on_a_full_mailbox_until_there_is_room() {
    let rt = runtime(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let go = Arc::new(AtomicBool::new(false));
    let start = Arc::clone(&go);
    let sink = rt
        .spawn_opt(SpawnOptions::new().mailbox_capacity(1), move || {
            while !start.load(Ordering::SeqCst) {
                yield_now();
            }
            let got: Vec<u32> = (0..50).map(|_| receive::<u32>()).collect();
            tx.send(got).unwrap();
        })
        .unwrap();
    send(&sink, 0u32);
    assert_eq!(try_send(&sink, 1u32), Err(TrySendError::Full(1)));
    go.store(true, Ordering::SeqCst);
    for n in 1..50u32 {
        send(&sink, n); // parks this thread while the sink is full
    }
    assert_eq!(rx.recv().unwrap(), (0..50).collect::<Vec<u32>>());
}

#[test]
fn subjects_take_only_their_own_messages() {
    let rt = runtime(2);
    let got = rt.block_on(|| {
        let me = self_pid();
        send(&me, 5u32); // a plain u32 is not the subject's
        let a: Subject<u32> = Subject::new();
        let b: Subject<u32> = Subject::new();
        let (ta, tb) = (a.clone(), b.clone());
        spawn(move || {
            tb.send(2);
            ta.send(1);
        });
        let from_a = a.receive();
        let from_b = b.receive();
        let timed_out = a.receive_timeout(Duration::ZERO);
        (from_a, from_b, timed_out, receive::<u32>())
    });
    assert_eq!(got, (1, 2, None, 5));
}

#[test]
fn only_the_owner_receives_from_a_subject() {
    let rt = runtime(1);
    let message = rt.block_on(|| {
        let subject: Subject<u8> = Subject::new();
        let me = self_pid();
        spawn(move || {
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| subject.receive()));
            let text = result
                .unwrap_err()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            send(&me, text);
        });
        receive::<String>()
    });
    assert!(message.contains("only the subject's owner"), "{message}");
}

/// Issue 12, item 7: a select clause on another process's subject would
/// take messages sent to the waiting process's own subject with the same
/// per-process tag (or block for ever); it is refused like
/// `Subject::receive`, and the caller's message stays queued.
#[test]
fn a_select_on_another_process_subject_is_refused() {
    let rt = runtime(1);
    let (message, own) = rt.block_on(|| {
        let foreign: Subject<u8> = Subject::new();
        let me = self_pid();
        spawn(move || {
            // The child's first subject has the same tag as the root's.
            let own: Subject<u8> = Subject::new();
            own.send(5);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Select::new()
                    .on_subject(&foreign, |n| n)
                    .after(Duration::ZERO, || 0)
                    .wait()
            }));
            let text = match result {
                Ok(n) => format!("no panic; the select returned {n}"),
                Err(payload) => payload
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_default(),
            };
            send(&me, (text, own.receive_timeout(Duration::ZERO)));
        });
        receive::<(String, Option<u8>)>()
    });
    assert!(
        message.starts_with(
            "ferrotp::Select::wait: an on_subject clause waits on a subject owned by <0."
        ),
        "{message}"
    );
    assert!(
        message.contains("only the subject's owner can receive from it"),
        "{message}"
    );
    assert_eq!(own, Some(5), "the caller's own message was not taken");
}

#[test]
fn select_takes_the_oldest_accepted_message_and_the_first_clause() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let me = self_pid();
        send(&me, 'z');
        send(&me, 10u32);
        send(&me, "hello");
        let mut seen = Vec::new();
        for _ in 0..3 {
            let s = Select::new()
                .on(|s: &str| format!("str {s}"))
                .on_match(|n: &u32| *n >= 10, |n| format!("big {n}"))
                .on(|n: u32| format!("u32 {n}"))
                .after(Duration::from_millis(1), || "timeout".to_owned())
                .wait();
            seen.push(s);
        }
        (seen, receive::<char>())
    });
    assert_eq!(
        got,
        (
            vec![
                "big 10".to_owned(),
                "str hello".to_owned(),
                "timeout".to_owned()
            ],
            'z'
        )
    );
}

fn ping_pong(round_trips: u64) -> u64 {
    let me = self_pid();
    let ponger = spawn(|| {
        loop {
            let (from, n) = receive::<(Pid, u64)>();
            send(&from, n);
            if n == 0 {
                return;
            }
        }
    });
    let mut done = 0;
    for n in (0..round_trips).rev() {
        send(&ponger, (me.clone(), n));
        let back = receive::<u64>();
        assert_eq!(back, n);
        done += 1;
    }
    done
}

/// W7 as a test: on one worker, a process that loops on `reduce(1)`
/// forever does not stop a ping-pong pair from completing 10,000 round
/// trips; and the hog does get to run.
#[test]
fn a_reducing_hog_does_not_starve_a_ping_pong_pair() {
    let rt = runtime(1);
    let hog_loops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (loops, stop_flag) = (Arc::clone(&hog_loops), Arc::clone(&stop));
    let done = rt.block_on(move || {
        spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                reduce(1);
                loops.fetch_add(1, Ordering::Relaxed);
            }
        });
        yield_now(); // let the hog start
        ping_pong(10_000)
    });
    stop.store(true, Ordering::Relaxed);
    assert_eq!(done, 10_000);
    // Its first slice, before the pair's: 3,999 loops counted (the
    // 4,000th `reduce` gives the worker up before its loop counts). The
    // pair's 10,000 round trips take about 15 of its shared slices, so
    // the hog's next slice may come only after `block_on` has returned.
    assert!(
        hog_loops.load(Ordering::Relaxed) >= 3_999,
        "the hog ran at least one slice"
    );
}

/// W7's shares, counted (no clock): on one worker, a `reduce(1)` loop
/// beside a ping-pong pair. The pair shares one slice of 4,000
/// reductions (the LIFO slot's carried budget: about 650 round trips,
/// at 6 reductions each); the loop, preempted, waits behind processes
/// that are ready after a wait and gets a slice of its own only every
/// 61st pick (module `run_loop`: `preempted`), about one per 30 of the
/// pair's. It got one after each of the pair's before: about 6 loops per
/// round trip, and the pair lost 15 % of its round trips to it.
#[test]
fn a_reducing_hog_gets_a_slice_only_after_many_of_a_ping_pong_pair() {
    const ROUND_TRIPS: u64 = 60_000;
    let rt = ferrotp_scheduler::Runtime::builder()
        .workers(1)
        .reductions(4_000)
        .build()
        .unwrap();
    let hog_loops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (loops, stop_flag) = (Arc::clone(&hog_loops), Arc::clone(&stop));
    let done = rt.block_on(move || {
        let hog = spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                reduce(1);
                loops.fetch_add(1, Ordering::Relaxed);
            }
        });
        yield_now(); // the hog runs its first slice
        let done = ping_pong(ROUND_TRIPS);
        stop.store(true, Ordering::Relaxed);
        common::wait_exit(&hog);
        done
    });
    assert_eq!(done, ROUND_TRIPS);
    let loops = hog_loops.load(Ordering::Relaxed);
    // About 16,000 (4 slices); 360,000 before.
    assert!(
        loops <= ROUND_TRIPS / 2,
        "the hog looped {loops} times beside {ROUND_TRIPS} round trips"
    );
    // Not starved: a slice at the start, and more while the pair ran.
    assert!(
        loops >= 3 * 4_000,
        "the hog looped only {loops} times beside {ROUND_TRIPS} round trips"
    );
}

/// Processes that spend their slices take turns: three `reduce(1)` loops
/// on one worker each get one slice a round (the preempted queue is a
/// FIFO: as a stack, it would starve one). The root is the third: it
/// notes the other two's counts each time its own slice ends.
#[test]
fn hogs_take_turns_a_slice_each() {
    let rt = ferrotp_scheduler::Runtime::builder()
        .workers(1)
        .reductions(4_000)
        .build()
        .unwrap();
    let counts = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let stop = Arc::new(AtomicBool::new(false));
    let seen = rt.block_on({
        let counts = counts.clone();
        let stop = Arc::clone(&stop);
        move || {
            let hogs: Vec<Pid> = counts
                .iter()
                .map(|count| {
                    let (count, stop) = (Arc::clone(count), Arc::clone(&stop));
                    spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            reduce(1);
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            let mut seen = Vec::new();
            // The root's slice: its first one is what is left of the slice
            // its spawns used; then 4,000 reductions each.
            let mut last = [0, 0];
            while seen.len() < 20 {
                reduce(1);
                let now = [
                    counts[0].load(Ordering::Relaxed),
                    counts[1].load(Ordering::Relaxed),
                ];
                if now != last {
                    // The others ran: the root's slice had ended.
                    seen.push(now);
                    last = now;
                }
            }
            stop.store(true, Ordering::Relaxed);
            for hog in &hogs {
                common::wait_exit(hog);
            }
            seen
        }
    });
    // Once both have started, each of the root's slices is followed by
    // one slice of each.
    for round in 2..seen.len() {
        let [a, b] = seen[round];
        let [a0, b0] = seen[round - 1];
        assert!(
            a - a0 == 4_000 && b - b0 == 4_000,
            "round {round}: {seen:?}"
        );
    }
}

/// A process that calls `yield_now` goes to the back of the run queue, as
/// `erlang:yield/0` does, not behind the processes whose slices were
/// spent: beside a ping-ponging pair and a `reduce(1)` loop on one worker,
/// it gets a turn after each of the pair's shared slices. (Behind the
/// spent ones, it got one every 61st pick: 3,000 yields took 18 s.)
#[test]
fn a_yielder_takes_its_turn_beside_a_ping_pong_pair_and_a_hog() {
    const YIELDS: u64 = 200;
    let rt = ferrotp_scheduler::Runtime::builder()
        .workers(1)
        .reductions(4_000)
        .build()
        .unwrap();
    let round_trips = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_yield = rt.block_on({
        let round_trips = Arc::clone(&round_trips);
        let stop = Arc::clone(&stop);
        move || {
            let hog_stop = Arc::clone(&stop);
            let hog = spawn(move || {
                while !hog_stop.load(Ordering::Relaxed) {
                    reduce(1);
                }
            });
            let ponger = spawn(|| {
                loop {
                    let (from, n) = receive::<(Pid, u64)>();
                    if n == u64::MAX {
                        return;
                    }
                    send(&from, n);
                }
            });
            let pinger = {
                let (round_trips, stop, ponger) =
                    (Arc::clone(&round_trips), Arc::clone(&stop), ponger.clone());
                spawn(move || {
                    let me = self_pid();
                    while !stop.load(Ordering::Relaxed) {
                        send(&ponger, (me.clone(), 1u64));
                        receive::<u64>();
                        round_trips.fetch_add(1, Ordering::Relaxed);
                    }
                    send(&ponger, (me, u64::MAX));
                })
            };
            // Let the pair and the hog get going.
            while round_trips.load(Ordering::Relaxed) == 0 {
                yield_now();
            }
            let start = round_trips.load(Ordering::Relaxed);
            for _ in 0..YIELDS {
                yield_now();
            }
            let per_yield = (round_trips.load(Ordering::Relaxed) - start) / YIELDS;
            stop.store(true, Ordering::Relaxed);
            for pid in [&hog, &ponger, &pinger] {
                common::wait_exit(pid);
            }
            per_yield
        }
    });
    // A shared slice of 4,000 reductions holds a few hundred round trips
    // (about 650 at 6 reductions each); behind the spent slices, a yield
    // waited for about 60 of them.
    assert!(
        per_yield <= 2_000,
        "{per_yield} round trips went by for each yield"
    );
}

#[test]
fn a_yielding_crowd_all_finishes() {
    let rt = runtime(2);
    let total = rt.block_on(|| {
        let me = self_pid();
        for i in 0..200u64 {
            let me = me.clone();
            spawn(move || {
                for _ in 0..1_000 {
                    yield_now();
                }
                send(&me, i);
            });
        }
        (0..200).map(|_| receive::<u64>()).sum::<u64>()
    });
    assert_eq!(total, 199 * 200 / 2);
}

/// A select whose clauses are all subject clauses starts its scan at the
/// oldest subject's mark; what it must take is still found.
#[test]
fn a_select_on_subjects_finds_replies_behind_a_backlog() {
    let rt = runtime(1);
    let got = rt.block_on(|| {
        let me = self_pid();
        for n in 0..1_000u32 {
            send(&me, n);
        }
        let first: Subject<&str> = Subject::new();
        let second: Subject<u8> = Subject::new();
        let (a, b) = (first.clone(), second.clone());
        spawn(move || {
            b.send(2);
            a.send("one");
        });
        let mut seen = Vec::new();
        for _ in 0..2 {
            seen.push(
                Select::new()
                    .on_subject(&first, |s| s.to_owned())
                    .on_subject(&second, |n| n.to_string())
                    .wait(),
            );
        }
        (seen, mailbox_len())
    });
    assert_eq!(got, (vec!["2".to_owned(), "one".to_owned()], 1_000));
}

/// `process_info`'s mailbox length counts what a busy process took even
/// if it never waited: what it took is published when its slice is
/// spent, not only when it waits.
#[test]
fn the_mailbox_length_of_a_busy_process_counts_what_it_took() {
    let rt = runtime(1);
    let (before, after) = rt.block_on(|| {
        let me = self_pid();
        let busy = spawn(move || {
            receive::<()>(); // everything below is queued by now
            for _ in 0..10_000 {
                receive::<u32>();
            }
            reduce(u32::MAX); // the slice is spent: a suspension, not a wait
            let left: u64 = ferrotp_scheduler::process_info(&self_pid())
                .unwrap()
                .mailbox_len;
            send(&me, left);
        });
        for n in 0..10_000u32 {
            send(&busy, n);
        }
        send(&busy, 1u64); // stays: nobody receives a u64
        let before = ferrotp_scheduler::process_info(&busy).unwrap().mailbox_len;
        send(&busy, ());
        (before, receive::<u64>())
    });
    assert_eq!(before, 10_001);
    assert_eq!(after, 1);
}
