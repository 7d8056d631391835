//! Stackless idle actors: an actor started with `Builder::start` (or
//! `actor::start`) owns no stack between messages, may run on any worker
//! from one message to the next, and keeps its stack and its thread while
//! a handler blocks inside.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;
use std::time::Duration;

use ferrotp::actor::{self, ActorRef, Next};
use ferrotp::{
    ExitReason, Pid, ReplyTo, SpawnOptions, exit, process_info, spawn, spawn_opt, yield_now,
};

const LONG: Duration = Duration::from_secs(60);

mod common;
use common::{Drops, runtime, wait_exit};

/// Yields until `pid` waits hibernated.
fn wait_until_hibernated(pid: &Pid) {
    while !process_info(pid).is_some_and(|info| info.hibernated) {
        assert!(!pid.has_exited(), "{pid} ended");
        yield_now();
    }
}

enum Counter {
    Add(u64),
    Get(ReplyTo<u64>),
}

fn counter() -> ActorRef<Counter> {
    actor::start(0u64, |message, total| match message {
        Counter::Add(n) => Next::Continue(total + n),
        Counter::Get(reply) => {
            reply.send(total);
            Next::Continue(total)
        }
    })
    .unwrap()
}

#[test]
fn idle_actors_hibernate_and_give_their_stacks_back() {
    const N: u64 = 1_000;
    let rt = runtime(2);
    let totals = rt.block_on(|| {
        let counters: Vec<ActorRef<Counter>> = (0..N).map(|_| counter()).collect();
        for (n, counter) in counters.iter().enumerate() {
            counter.cast(Counter::Add(n as u64));
        }
        for counter in &counters {
            wait_until_hibernated(&counter.pid());
        }
        counters
            .iter()
            .map(|c| c.call(Counter::Get, LONG).unwrap())
            .sum::<u64>()
    });
    assert_eq!(totals, N * (N - 1) / 2);
    let carved = rt.metrics().stacks_carved;
    assert!(carved < 64, "1,000 idle actors carved {carved} stacks");
}

/// Asks a probe for the thread it runs on: it sends `(index, thread)`.
struct Where(Pid);

/// A process pinned to `worker` that keeps it busy, yielding now and then,
/// until `stop` is set.
fn hog(worker: usize, stop: Arc<AtomicBool>) -> Pid {
    spawn_opt(SpawnOptions::new().worker(worker), move || {
        while !stop.load(Ordering::Relaxed) {
            let mut x = 0u64;
            for i in 0..20_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            yield_now();
        }
    })
    .unwrap()
}

#[test]
fn idle_actors_run_on_different_workers_over_time_as_workers_steal() {
    const PROBES: usize = 4;
    let rt = runtime(2);
    let moved = rt.block_on(|| {
        let probes: Vec<ActorRef<Where>> = (0..PROBES)
            .map(|index| {
                actor::start(index, |Where(to), index| {
                    ferrotp::send(&to, (index, std::thread::current().id()));
                    Next::Continue(index)
                })
                .unwrap()
            })
            .collect();
        let me = ferrotp::self_pid();
        let mut seen: Vec<Vec<ThreadId>> = vec![Vec::new(); PROBES];
        // Phases of 20 rounds, with one worker kept busy in turn: probes
        // woken on the busy worker wait in its stealable deque, and the
        // idle worker takes some of them (a busy worker does not steal,
        // so the phases alternate).
        for phase in 0..500 {
            let stop = Arc::new(AtomicBool::new(false));
            let hog = hog(phase % 2, Arc::clone(&stop));
            for _ in 0..20 {
                for probe in &probes {
                    wait_until_hibernated(&probe.pid());
                }
                for probe in &probes {
                    probe.send(Where(me.clone()));
                }
                for _ in 0..PROBES {
                    let (index, thread): (usize, ThreadId) = ferrotp::receive();
                    if !seen[index].contains(&thread) {
                        seen[index].push(thread);
                    }
                }
            }
            stop.store(true, Ordering::Relaxed);
            wait_exit(&hog);
            if seen.iter().any(|threads| threads.len() > 1) {
                return true;
            }
        }
        false
    });
    assert!(moved, "no actor handled messages on more than one worker");
    let steals: u64 = rt.metrics().workers.iter().map(|w| w.steals).sum();
    assert!(steals > 0);
}

enum Relay {
    /// Asks the echo through a nested call while an `Rc` is held; replies
    /// with the thread before and after.
    Ask(ReplyTo<(ThreadId, ThreadId)>),
}

#[test]
fn a_handler_holding_an_rc_across_a_nested_call_never_changes_thread() {
    let rt = runtime(2);
    let rounds = rt.block_on(|| {
        let echo = actor::start((), |reply: ReplyTo<()>, ()| {
            // Busy processes wake around the reply, so thieves look.
            for _ in 0..3 {
                spawn(|| {
                    for _ in 0..20 {
                        yield_now();
                    }
                });
            }
            reply.send(());
            Next::Continue(())
        })
        .unwrap();
        let relay = actor::start(echo, |Relay::Ask(reply), echo: ActorRef<ReplyTo<()>>| {
            let held = Rc::new(std::thread::current().id());
            echo.call(|r| r, LONG).unwrap();
            reply.send((*held, std::thread::current().id()));
            Next::Continue(echo)
        })
        .unwrap();
        (0..200)
            .map(|_| relay.call(Relay::Ask, LONG).unwrap())
            .collect::<Vec<_>>()
    });
    for (before, after) in rounds {
        assert_eq!(before, after);
    }
}

#[test]
fn killing_an_idle_actor_and_a_blocked_one_each_drop_the_state_once() {
    let rt = runtime(2);
    let (idle_drops, blocked_drops) = (Drops::default(), Drops::default());
    let (idle_reason, blocked_reason) = rt.block_on({
        let (idle_drops, blocked_drops) = (idle_drops.clone(), blocked_drops.clone());
        move || {
            let idle = actor::start(idle_drops.token(), |(), token| Next::Continue(token)).unwrap();
            idle.cast(());
            wait_until_hibernated(&idle.pid());
            exit(&idle.pid(), ExitReason::Killed);
            let idle_reason = wait_exit(&idle.pid());

            let silent = spawn(|| {
                // Holds the request unanswered.
                let _request = ferrotp::receive::<ReplyTo<()>>();
                ferrotp::receive::<()>();
            });
            let blocked = actor::start(blocked_drops.token(), move |(), token| {
                let _ = ferrotp::call(&silent, |reply: ReplyTo<()>| reply, LONG);
                Next::Continue(token)
            })
            .unwrap();
            blocked.cast(());
            // Blocked inside its handler: waiting, and not hibernated.
            loop {
                let info = process_info(&blocked.pid()).unwrap();
                if info.status == ferrotp::ProcessStatus::Waiting
                    && info.mailbox_len == 0
                    && !info.hibernated
                {
                    break;
                }
                yield_now();
            }
            exit(&blocked.pid(), ExitReason::Killed);
            (idle_reason, wait_exit(&blocked.pid()))
        }
    });
    assert_eq!(
        (idle_reason, blocked_reason),
        (ExitReason::Killed, ExitReason::Killed)
    );
    assert_eq!((idle_drops.count(), blocked_drops.count()), (1, 1));
}

#[test]
fn an_actor_whose_state_is_made_in_init_keeps_its_stack_while_idle() {
    let rt = runtime(2);
    let hibernated = rt.block_on(|| {
        let settled = actor::Builder::<()>::new()
            .start_with(|_| Ok(actor::Stateless::default()))
            .unwrap();
        let hibernating = actor::Builder::<()>::new()
            .start(actor::Stateless::default())
            .unwrap();
        wait_until_hibernated(&hibernating.pid());
        settled.cast(());
        while process_info(&settled.pid()).unwrap().status != ferrotp::ProcessStatus::Waiting {
            yield_now();
        }
        process_info(&settled.pid()).unwrap().hibernated
    });
    assert!(!hibernated);
}

#[test]
fn an_idle_timeout_fires_for_a_hibernated_actor() {
    let rt = runtime(2);
    let reason = rt.block_on(|| {
        let session = actor::Builder::new()
            .start_fn_with_timeout(
                0u32,
                |(), seen| Next::ContinueTimeout(seen + 1, Duration::from_millis(5)),
                |seen| Next::Stop(ExitReason::custom(format!("idle after {seen}"))),
            )
            .unwrap();
        for _ in 0..3 {
            session.cast(());
        }
        wait_exit(&session.pid())
    });
    assert_eq!(reason, ExitReason::custom("idle after 3"));
}
