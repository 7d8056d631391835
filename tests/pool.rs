//! Pools (`ferrotp::pool`): dispatch strategies, names, restarts of a
//! dispatch pool; checkout, waiting, timeouts, overflow, users that die
//! and workers that crash in a checkout pool.

mod common;

use std::time::Duration;

use common::{runtime, wait_exit};
use ferrotp::actor::{ActorRef, Builder, Next, StartError};
use ferrotp::pool::{CheckoutError, CheckoutPool, Dispatch, Pool, PoolError, PoolStatus};
use ferrotp::{CallError, Pid, ReplyTo, receive, self_pid, send, spawn, whereis, yield_now};

const LONG: Duration = Duration::from_secs(60);

enum Work {
    /// Answers with the worker's index and pid.
    Who(ReplyTo<(usize, Pid)>),
    /// Blocks the handler until a `()` comes.
    Block,
    Crash,
}

fn worker(builder: Builder<Work>, index: usize) -> Result<ActorRef<Work>, StartError> {
    builder.start_fn((), move |work, ()| {
        match work {
            Work::Who(reply) => {
                reply.send((index, self_pid()));
            }
            Work::Block => {
                receive::<()>();
            }
            Work::Crash => panic!("worker {index} crashed"),
        }
        Next::Continue(())
    })
}

fn who(pool: &Pool<Work>) -> usize {
    pool.call(Work::Who, LONG).unwrap().0
}

#[test]
fn a_pool_of_no_workers_is_refused_clearly() {
    let (dispatch, checkout) = runtime(2).block_on(|| {
        (
            Pool::start("none", 0, Dispatch::RoundRobin, worker).unwrap_err(),
            CheckoutPool::start("none", 0, 3, |b| worker(b, 0)).unwrap_err(),
        )
    });
    let empty = PoolError::Empty {
        name: "none".to_owned(),
    };
    assert_eq!((&dispatch, &checkout), (&empty, &empty));
    assert_eq!(
        dispatch.to_string(),
        "pool \"none\": a pool needs at least 1 worker, 0 were asked for"
    );
}

#[test]
fn round_robin_takes_each_worker_in_turn_and_workers_are_named() {
    let (order, named) = runtime(2).block_on(|| {
        let pool = Pool::start("rr", 4, Dispatch::RoundRobin, worker).unwrap();
        let order: Vec<usize> = (0..8).map(|_| who(&pool)).collect();
        let named =
            (1..=4).all(|i| whereis(&format!("rr_{i}")) == Some(pool.workers()[i - 1].pid()));
        pool.stop().unwrap();
        (order, named)
    });
    assert_eq!(order, [1, 2, 3, 4, 1, 2, 3, 4]);
    assert!(named);
}

/// The same key always reaches the same worker.
#[test]
fn a_key_always_reaches_the_same_worker() {
    let stable = runtime(2).block_on(|| {
        let pool = Pool::start("keyed", 4, Dispatch::RoundRobin, worker).unwrap();
        let stable = (0..50u32).all(|key| {
            let first = pool.call_keyed(&key, Work::Who, LONG).unwrap().0;
            (0..3).all(|_| pool.call_keyed(&key, Work::Who, LONG).unwrap().0 == first)
                && pool.pick_keyed(&key).pid() == pool.workers()[first - 1].pid()
        });
        pool.stop().unwrap();
        stable
    });
    assert!(stable);
}

/// Least loaded: the worker with the fewest queued messages (workers
/// blocked in a handler, their queues filled to known lengths).
#[test]
fn least_loaded_picks_the_shortest_queue() {
    let picks = runtime(2).block_on(|| {
        let pool = Pool::start("ll", 3, Dispatch::LeastLoaded, worker).unwrap();
        let workers = pool.workers().to_vec();
        let blocked_with = |at: usize, queued: usize| {
            let w = &workers[at];
            w.send(Work::Block);
            // It blocks; then `queued` messages wait behind it.
            while ferrotp::process_info(&w.pid()).unwrap().status != ferrotp::ProcessStatus::Waiting
                || w.pid().message_queue_len() != 0
            {
                yield_now();
            }
            for _ in 0..queued {
                w.send(Work::Crash); // never handled before the test ends
            }
        };
        blocked_with(0, 3);
        blocked_with(1, 1);
        let first = pool.pick().pid() == workers[2].pid();
        blocked_with(2, 2);
        let second = pool.pick().pid() == workers[1].pid();
        ferrotp::exit(pool.supervisor().pid(), ferrotp::ExitReason::Kill);
        (first, second)
    });
    assert_eq!(picks, (true, true));
}

/// A crashed worker is restarted; the pool's address for it reaches the
/// replacement, registered under the same name.
#[test]
fn a_crashed_worker_is_restarted_behind_the_same_address() {
    let (replaced, answered, named) = runtime(2).block_on(|| {
        let pool = Pool::start("crashy", 2, Dispatch::RoundRobin, worker).unwrap();
        let second = pool.workers()[1].clone();
        let before = second.pid();
        second.send(Work::Crash);
        wait_exit(&before);
        let (index, pid) = second.call(Work::Who, LONG).unwrap();
        let named = whereis("crashy_2") == Some(pid.clone());
        pool.stop().unwrap();
        (pid != before, index, named)
    });
    assert!(replaced);
    assert_eq!(answered, 2);
    assert!(named);
}

fn checkout_pool(size: usize, overflow: usize) -> CheckoutPool<Work> {
    CheckoutPool::start("conns", size, overflow, |builder| worker(builder, 0)).unwrap()
}

fn status(pool: &CheckoutPool<Work>) -> PoolStatus {
    pool.status(LONG).unwrap()
}

fn status_of(free: usize, lent: usize, overflow: usize, waiting: usize) -> PoolStatus {
    PoolStatus {
        free,
        lent,
        overflow,
        waiting,
    }
}

/// A lease is exclusive until dropped; a checkout with every worker busy
/// times out and leaves the line.
#[test]
fn a_checkout_waits_for_a_free_worker_up_to_its_timeout() {
    let (lent, timed_out, after) = runtime(2).block_on(|| {
        let pool = checkout_pool(1, 0);
        let lease = pool.checkout(LONG).unwrap();
        let lent = status(&pool);
        let timed_out = pool.checkout(Duration::from_millis(5)).unwrap_err();
        // Out of the line at once (the cancel is ordered before this).
        let gave_up = status(&pool);
        drop(lease);
        let after = status(&pool);
        pool.stop(LONG).unwrap();
        (lent, (timed_out, gave_up), after)
    });
    let (timed_out, gave_up) = timed_out;
    assert_eq!(lent, status_of(0, 1, 0, 0));
    assert_eq!(gave_up, status_of(0, 1, 0, 0));
    assert_eq!(timed_out, CheckoutError::Timeout(Duration::from_millis(5)));
    assert_eq!(after, status_of(1, 0, 0, 0));
}

/// A waiting caller gets the worker as soon as it is checked in.
#[test]
fn a_checkin_goes_to_the_caller_waiting() {
    let same = runtime(2).block_on(|| {
        let pool = checkout_pool(1, 0);
        let lease = pool.checkout(LONG).unwrap();
        let held = lease.worker().pid();
        let me = self_pid();
        let waiter_pool = pool.clone();
        spawn(move || {
            let lease = waiter_pool.checkout(LONG).unwrap();
            send(&me, lease.worker().pid());
        });
        while status(&pool).waiting == 0 {
            yield_now();
        }
        lease.checkin();
        let got: Pid = receive();
        // The waiter ended: its lease was dropped, so checked in.
        while status(&pool) != status_of(1, 0, 0, 0) {
            yield_now();
        }
        pool.stop(LONG).unwrap();
        got == held
    });
    assert!(same);
}

/// Overflow: up to the bound, more workers are lent when all are busy;
/// an overflow worker checked in with nobody waiting is stopped.
#[test]
fn overflow_workers_come_and_go() {
    let (both, third, overflow_stopped, after) = runtime(2).block_on(|| {
        let pool = checkout_pool(1, 1);
        let a = pool.checkout(LONG).unwrap();
        let b = pool.checkout(LONG).unwrap();
        let both = status(&pool);
        let third = pool.checkout(Duration::from_millis(5)).unwrap_err();
        let overflow_pid = b.worker().pid();
        drop(b);
        let overflow_stopped = wait_exit(&overflow_pid);
        drop(a);
        let after = status(&pool);
        pool.stop(LONG).unwrap();
        (both, third, overflow_stopped, after)
    });
    assert_eq!(both, status_of(0, 2, 1, 0));
    assert!(matches!(third, CheckoutError::Timeout(_)));
    assert_eq!(overflow_stopped, ferrotp::ExitReason::Shutdown);
    assert_eq!(after, status_of(1, 0, 0, 0));
}

/// A user that ends without checking in (its lease forgotten, so no
/// `Drop` ran): the pool takes the worker back when it sees the end.
#[test]
fn a_worker_whose_user_dies_is_checked_back_in() {
    let after = runtime(2).block_on(|| {
        let pool = checkout_pool(1, 0);
        let user_pool = pool.clone();
        let user = spawn(move || {
            let lease = user_pool.checkout(LONG).unwrap();
            std::mem::forget(lease);
        });
        wait_exit(&user);
        while status(&pool) != status_of(1, 0, 0, 0) {
            yield_now();
        }
        // And it is lent again.
        let lease = pool.checkout(LONG).unwrap();
        let after = status(&pool);
        drop(lease);
        pool.stop(LONG).unwrap();
        after
    });
    assert_eq!(after, status_of(0, 1, 0, 0));
}

/// A lent worker that crashes is replaced; its lease's checkin is then
/// ignored, and calls through it fail.
#[test]
fn a_crashed_worker_is_replaced() {
    let (call, replaced, after) = runtime(2).block_on(|| {
        let pool = checkout_pool(2, 0);
        let lease = pool.checkout(LONG).unwrap();
        let crashed = lease.worker().pid();
        lease.send(Work::Crash);
        wait_exit(&crashed);
        let call = lease.call(Work::Who, LONG).map(|_| ());
        while status(&pool) != status_of(2, 0, 0, 0) {
            yield_now();
        }
        drop(lease); // ignored
        let a = pool.checkout(LONG).unwrap();
        let b = pool.checkout(LONG).unwrap();
        let replaced = a.worker().pid() != crashed && b.worker().pid() != crashed;
        let after = status(&pool);
        drop((a, b));
        pool.stop(LONG).unwrap();
        (call, replaced, after)
    });
    assert!(matches!(
        call,
        Err(CallError::NoProc | CallError::Exited(_))
    ));
    assert!(replaced);
    assert_eq!(after, status_of(0, 2, 0, 0));
}

/// Stopping the pool stops its workers; a checkout then fails at once.
#[test]
fn a_stopped_pool_stops_its_workers_and_refuses_checkouts() {
    let (reason, refused) = runtime(2).block_on(|| {
        let pool = checkout_pool(1, 0);
        let worker = pool.checkout(LONG).unwrap().worker().pid();
        pool.stop(LONG).unwrap();
        let reason = wait_exit(&worker);
        let refused = pool.checkout(LONG).unwrap_err();
        (reason, refused)
    });
    assert_eq!(reason, ferrotp::ExitReason::Shutdown);
    assert!(matches!(refused, CheckoutError::Stopped(CallError::NoProc)));
}

/// A checkout pool whose workers fail to start is an error for its
/// caller, not an exit signal that kills it.
#[test]
fn a_checkout_pool_whose_workers_fail_is_an_error_not_a_kill() {
    // (Killed by the link, this caller would never return from block_on.)
    let error = runtime(2).block_on(|| {
        CheckoutPool::<Work>::start("broken", 2, 0, |_builder| {
            Err(StartError::InitFailed(ferrotp::ExitReason::custom(
                "db down",
            )))
        })
        .unwrap_err()
    });
    let PoolError::Start { name, error } = error else {
        panic!("{error:?}");
    };
    assert_eq!(name, "broken");
    assert!(error.contains("db down"), "{error}");
}

/// A pool survives a crash of each of its workers in one period (its
/// supervisor's intensity is one restart per worker, by default).
#[test]
fn a_pool_survives_a_crash_of_every_worker() {
    let answered = runtime(2).block_on(|| {
        let pool = Pool::start("sturdy", 4, Dispatch::RoundRobin, worker).unwrap();
        for worker in pool.workers() {
            let before = worker.pid();
            worker.send(Work::Crash);
            wait_exit(&before);
        }
        let answered: Vec<usize> = (0..4).map(|_| who(&pool)).collect();
        pool.stop().unwrap();
        answered
    });
    assert_eq!(answered, [1, 2, 3, 4]);
}

/// A lost worker whose replacement fails to start stops the pool, with
/// that reason (not a pool quietly one worker short).
#[test]
fn a_checkout_pool_that_cannot_replace_a_worker_stops() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let reason = runtime(2).block_on(|| {
        ferrotp::trap_exit(true);
        let starts = Arc::new(AtomicUsize::new(0));
        let pool = CheckoutPool::start("fragile", 1, 0, move |builder| {
            if starts.fetch_add(1, Ordering::SeqCst) == 0 {
                worker(builder, 0)
            } else {
                Err(StartError::InitFailed(ferrotp::ExitReason::custom(
                    "no more",
                )))
            }
        })
        .unwrap();
        let manager = pool.pid();
        let lease = pool.checkout(LONG).unwrap();
        lease.send(Work::Crash);
        let reason = wait_exit(&manager);
        let exit = receive::<ferrotp::Exit>();
        assert_eq!(exit.reason, reason);
        reason
    });
    assert!(reason.to_string().contains("no more"), "{reason}");
}

/// A caller that ends while it waits in line leaves the line.
#[test]
fn a_waiter_that_ends_leaves_the_line() {
    let after = runtime(2).block_on(|| {
        let pool = checkout_pool(1, 0);
        let lease = pool.checkout(LONG).unwrap();
        let waiter_pool = pool.clone();
        let waiter = spawn(move || {
            let _ = waiter_pool.checkout(LONG);
        });
        while status(&pool).waiting == 0 {
            yield_now();
        }
        ferrotp::exit(&waiter, ferrotp::ExitReason::Kill);
        wait_exit(&waiter);
        while status(&pool).waiting != 0 {
            yield_now();
        }
        drop(lease);
        let after = status(&pool);
        pool.stop(LONG).unwrap();
        after
    });
    assert_eq!(after, status_of(1, 0, 0, 0));
}
