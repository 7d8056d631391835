//! Async code calling actors (`ActorRef::call_async`) and sending to them
//! from a tokio task; blocking offload inside an actor.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use ferrotp::actor::{self, ActorRef, Next};
use ferrotp::{CallError, ExitReason, ReplyTo, Strategy, SupervisorSpec, blocking};

use common::runtime;

const LONG: Duration = Duration::from_secs(60);

enum Counter {
    Add(u64),
    Get(ReplyTo<u64>),
    Crash,
    CrashOnGet(ReplyTo<u64>),
}

fn counter(message: Counter, total: u64) -> Next<u64> {
    match message {
        Counter::Add(n) => Next::Continue(total + n),
        Counter::Get(reply) => {
            reply.send(total);
            Next::Continue(total)
        }
        Counter::Crash => panic!("asked to crash"),
        Counter::CrashOnGet(_reply) => panic!("crashed on a get"),
    }
}

fn executor() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap()
}

#[test]
fn an_actor_is_called_and_sent_to_from_tokio_tasks() {
    let rt = runtime(1);
    let counter: ActorRef<Counter> = rt.block_on(|| actor::start(0u64, counter).unwrap());
    let tokio = executor();
    let total = tokio.block_on(async move {
        let tasks: Vec<_> = (1..=10)
            .map(|n| {
                let counter = counter.clone();
                tokio::spawn(async move { counter.send(Counter::Add(n)) })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let got = counter.call_async(Counter::Get, LONG).await;
        let crashed = counter.call_async(Counter::CrashOnGet, LONG).await;
        let after = counter.call_async(Counter::Get, LONG).await;
        (got, crashed, after)
    });
    assert_eq!(
        total,
        (
            Ok(55),
            Err(CallError::Exited(ExitReason::Panic(
                "crashed on a get".into()
            ))),
            Err(CallError::NoProc)
        )
    );
}

/// A supervised actor's address holds an async call over a restart; a
/// call whose request crashes an incarnation ends with its reason; once
/// the supervisor has stopped, a call ends with `NoProc`.
#[test]
fn a_supervised_actor_answers_async_calls_across_restarts() {
    let rt = runtime(2);
    let (sup, counter) = rt.block_on(|| {
        let (spec, counter) = actor::child("counter", |builder| builder.start_fn(0u64, counter));
        // Not linked: it outlives this process.
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(10, LONG)
            .child(spec)
            .start()
            .unwrap();
        (sup, counter)
    });
    let tokio = executor();
    let (before, crashed, after) = tokio.block_on(async {
        counter.send(Counter::Add(5));
        let before = counter.call_async(Counter::Get, LONG).await;
        counter.send(Counter::Crash);
        let crashed = counter.call_async(Counter::CrashOnGet, LONG).await;
        // The replacement starts from 0.
        counter.send(Counter::Add(2));
        let after = counter.call_async(Counter::Get, LONG).await;
        (before, crashed, after)
    });
    assert_eq!(before, Ok(5));
    assert_eq!(
        crashed,
        Err(CallError::Exited(ExitReason::Panic(
            "crashed on a get".into()
        )))
    );
    assert_eq!(after, Ok(2));
    rt.block_on(move || {
        sup.stop().unwrap();
        // Its end closes the address (right after `stop` returns, a call
        // may still meet the supervisor ending: `Exited(Normal)`).
        common::wait_exit(sup.pid());
    });
    assert_eq!(
        tokio.block_on(counter.call_async(Counter::Get, LONG)),
        Err(CallError::NoProc)
    );
}

/// An actor's handler that offloads blocking work keeps its worker free:
/// with one worker, a second actor answers while the first one waits.
#[test]
fn an_actor_offloads_blocking_work_and_its_worker_serves_others() {
    let rt = runtime(1);
    let (release, wait) = mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(Some(wait));
    let (slow, fast) = rt.block_on(move || {
        let slow = actor::start((), move |reply: ReplyTo<&'static str>, ()| {
            let wait = wait.lock().unwrap().take().expect("one request");
            let answer = blocking(move || {
                wait.recv_timeout(LONG).unwrap();
                "slow"
            });
            reply.send(answer);
            Next::Continue(())
        })
        .unwrap();
        let fast = actor::start(0u64, counter).unwrap();
        (slow, fast)
    });
    let tokio = executor();
    let (slow_answer, fast_answer) = tokio.block_on(async move {
        let slow = slow.call_async(|reply| reply, LONG);
        let fast = fast.call_async(Counter::Get, LONG).await;
        release.send(()).unwrap();
        (slow.await, fast)
    });
    assert_eq!((slow_answer, fast_answer), (Ok("slow"), Ok(0)));
}
