//! The futures bridge (module `futures`): processes awaiting futures, and
//! async code calling processes.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{runtime, wait_exit, wait_until_waiting};
use ferrotp_scheduler::{
    CallError, CallFuture, ExitReason, Pid, ReplyTo, Runtime, await_future, await_future_timeout,
    call_async, exit, receive, run, self_pid, send, spawn, yield_now,
};

const LONG: Duration = Duration::from_secs(60);

/// Counts its drops.
struct Probe(Arc<AtomicUsize>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts the polls of the future it wraps.
struct Counted<F> {
    polls: Arc<AtomicUsize>,
    inner: F,
}

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// A tokio runtime on the calling thread, to drive futures from outside
/// any process.
fn executor() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

// ---- A process awaits a future -----------------------------------------

/// Only the process waits: with one worker, another process of that
/// worker completes the future. Messages that arrive meanwhile wake the
/// process but do not poll the future again.
#[test]
fn a_process_awaits_a_future_that_another_process_completes() {
    let rt = runtime(1);
    let (value, polls) = rt.block_on(|| {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = Counted {
            polls: Arc::clone(&polls),
            inner: rx,
        };
        let me = self_pid();
        let waiter = spawn(move || {
            let value = await_future(counted).unwrap();
            send(&me, value);
        });
        wait_until_waiting(&waiter);
        for n in 0..10u8 {
            send(&waiter, n);
        }
        tx.send(7).unwrap();
        (receive::<u32>(), polls)
    });
    assert_eq!(value, 7);
    assert_eq!(polls.load(Ordering::SeqCst), 2, "pending once, then ready");
}

#[test]
fn await_future_timeout_gives_up_and_drops_the_future() {
    let drops = Arc::new(AtomicUsize::new(0));
    let probe = Probe(Arc::clone(&drops));
    let (timed_out, ready) = run(move || {
        let never = async move {
            let _probe = probe;
            std::future::pending::<()>().await
        };
        (
            await_future_timeout(never, Duration::from_millis(5)),
            await_future_timeout(std::future::ready(5), LONG),
        )
    })
    .unwrap();
    assert_eq!((timed_out, ready), (None, Some(5)));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// A kill unwinds the process out of its wait at once; the future is
/// dropped with its stack.
#[test]
fn a_killed_process_unwinds_out_of_the_await() {
    let drops = Arc::new(AtomicUsize::new(0));
    let probe = Probe(Arc::clone(&drops));
    let reason = run(move || {
        let waiter = spawn(move || {
            await_future(async move {
                let _probe = probe;
                std::future::pending::<()>().await
            });
        });
        wait_until_waiting(&waiter);
        exit(&waiter, ExitReason::Kill);
        wait_exit(&waiter)
    })
    .unwrap();
    assert_eq!(reason, ExitReason::Killed);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_future_that_panics_crashes_its_process() {
    let reason = run(|| {
        let crasher = spawn(|| {
            await_future(std::future::poll_fn(|_| -> Poll<()> {
                panic!("poll went wrong")
            }));
        });
        wait_exit(&crasher)
    })
    .unwrap();
    assert_eq!(reason, ExitReason::Panic("poll went wrong".into()));
}

/// A poll must not block the process: a receive inside one panics,
/// saying why.
#[test]
fn a_poll_that_blocks_panics_with_a_clear_message() {
    let reason = run(|| {
        let blocker = spawn(|| {
            await_future(std::future::poll_fn(|_| Poll::Ready(receive::<u8>())));
        });
        wait_exit(&blocker)
    })
    .unwrap();
    let ExitReason::Panic(message) = reason else {
        panic!("{reason:?}")
    };
    assert!(
        message.contains("inside the poll of a future it awaits with ferrotp::await_future"),
        "{message}"
    );
}

/// Inside a poll neither a spent slice nor `yield_now` gives the worker
/// up: the other runnable process of the only worker does not run.
#[test]
fn a_poll_never_gives_its_worker_up() {
    let rt = Runtime::builder().workers(1).reductions(2).build().unwrap();
    let ran_meanwhile = rt.block_on(|| {
        let other_ran = Arc::new(AtomicBool::new(false));
        let me = self_pid();
        let seen = Arc::clone(&other_ran);
        let flag = Arc::clone(&other_ran);
        let mut flag = Some(flag);
        let ran_meanwhile = await_future(std::future::poll_fn(move |_| {
            // Runnable from now on, on the only worker.
            let flag = flag.take().expect("polled once");
            spawn(move || flag.store(true, Ordering::SeqCst));
            for _ in 0..10 {
                send(&me, ()); // a reduction each: the slice is spent
                yield_now();
            }
            Poll::Ready(seen.load(Ordering::SeqCst))
        }));
        while !other_ran.load(Ordering::SeqCst) {
            yield_now();
        }
        ran_meanwhile
    });
    assert!(!ran_meanwhile);
}

#[test]
#[should_panic(expected = "ferrotp::await_future was called outside a ferrotp process")]
fn await_future_outside_a_process_panics_with_a_clear_message() {
    await_future(async {});
}

// ---- Async code calls a process ------------------------------------------

/// A server answering `(n, reply)` with `n * 2`, crashing on 0 and
/// dropping the request on 1.
fn doubler(rt: &Runtime) -> Pid {
    rt.spawn(|| {
        loop {
            let (n, reply) = receive::<(u64, ReplyTo<u64>)>();
            match n {
                0 => panic!("asked for zero"),
                1 => drop(reply),
                n => {
                    reply.send(n * 2);
                }
            }
        }
    })
}

#[test]
fn call_async_from_a_tokio_task_gets_the_reply_and_send_works_from_there() {
    let rt = runtime(1);
    let server = doubler(&rt);
    let (tx, rx) = mpsc::channel();
    let listener = rt.spawn(move || tx.send(receive::<&str>()).unwrap());
    let doubled = executor().block_on(async {
        let task = tokio::spawn(async move {
            send(&listener, "from a tokio task");
            call_async(&server, |reply: ReplyTo<u64>| (21u64, reply), LONG).await
        });
        task.await.unwrap()
    });
    assert_eq!(doubled, Ok(42));
    assert_eq!(rx.recv_timeout(LONG), Ok("from a tokio task"));
}

/// The same errors as `call`, for the same reasons.
#[test]
fn call_async_ends_with_the_errors_of_call() {
    let rt = runtime(2);
    let tokio = executor();
    let t = LONG;

    let server = doubler(&rt);
    assert_eq!(
        tokio.block_on(call_async(&server, |r: ReplyTo<u64>| (1u64, r), t)),
        Err(CallError::NoReply)
    );
    assert_eq!(
        tokio.block_on(call_async(&server, |r: ReplyTo<u64>| (0u64, r), t)),
        Err(CallError::Exited(ExitReason::Panic(
            "asked for zero".into()
        )))
    );
    assert_eq!(
        tokio.block_on(call_async(&server, |r: ReplyTo<u64>| (5u64, r), t)),
        Err(CallError::NoProc)
    );

    let silent = rt.spawn(|| {
        let _kept = receive::<(u64, ReplyTo<u64>)>();
        receive::<()>();
    });
    assert_eq!(
        tokio.block_on(call_async(
            &silent,
            |r: ReplyTo<u64>| (5u64, r),
            Duration::from_millis(10)
        )),
        Err(CallError::Timeout)
    );

    // The request handed on to a process that crashes with it: its
    // reason, though the callee lives on.
    let forwarder = rt.spawn(|| {
        loop {
            let request = receive::<(u64, ReplyTo<u64>)>();
            spawn(move || {
                let _held = request;
                panic!("the helper failed");
            });
        }
    });
    assert_eq!(
        tokio.block_on(call_async(&forwarder, |r: ReplyTo<u64>| (5u64, r), t)),
        Err(CallError::Exited(ExitReason::Panic(
            "the helper failed".into()
        )))
    );
    assert!(!forwarder.has_exited());

    let called_self = rt.block_on(|| {
        let me = self_pid();
        await_future(call_async(&me, |r: ReplyTo<u8>| r, LONG))
    });
    assert_eq!(called_self, Err(CallError::CalledSelf));

    // Awaited in a process, a call_async is a call.
    let server = doubler(&rt);
    let in_process =
        rt.block_on(move || await_future(call_async(&server, |r: ReplyTo<u64>| (4u64, r), LONG)));
    assert_eq!(in_process, Ok(8));
}

/// A reply that comes after the timeout, or after the future was
/// dropped, is refused (`send` returns false) and dropped by the callee,
/// which goes on serving.
#[test]
fn a_cancelled_or_timed_out_call_leaves_the_callee_free() {
    let rt = runtime(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let (refused, refusals) = mpsc::channel();
    let counter = Arc::clone(&drops);
    // Answers each request only when told to, with a probe.
    let slow = rt.spawn(move || {
        loop {
            let reply = receive::<ReplyTo<Probe>>();
            receive::<()>();
            refused
                .send(reply.send(Probe(Arc::clone(&counter))))
                .unwrap();
        }
    });
    let tokio = executor();

    let timed_out = tokio.block_on(call_async(
        &slow,
        |r: ReplyTo<Probe>| r,
        Duration::from_millis(5),
    ));
    assert!(matches!(timed_out, Err(CallError::Timeout)));
    send(&slow, ());
    assert_eq!(refusals.recv_timeout(LONG), Ok(false));
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped by the callee");

    let cancelled = tokio.block_on(async {
        let call = call_async(&slow, |r: ReplyTo<Probe>| r, LONG);
        // The caller's own timeout drops the future.
        tokio::time::timeout(Duration::from_millis(5), call).await
    });
    assert!(cancelled.is_err());
    send(&slow, ());
    assert_eq!(refusals.recv_timeout(LONG), Ok(false));
    assert_eq!(drops.load(Ordering::SeqCst), 2);

    // Still serving.
    let call = call_async(&slow, |r: ReplyTo<Probe>| r, LONG);
    send(&slow, ());
    assert!(tokio.block_on(call).is_ok());
    assert_eq!(refusals.recv_timeout(LONG), Ok(true));
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

/// A `CallFuture` made by hand watches the process it is told to: here
/// a process that takes the reply address and is killed.
#[test]
fn a_call_future_made_by_hand_watches_a_process() {
    let rt = runtime(1);
    let (future, reply) = CallFuture::<u8>::new(Duration::MAX);
    let holder = rt.spawn(move || {
        let _reply = reply;
        receive::<()>();
    });
    let mut future = future;
    assert!(future.watch(&holder));
    exit(&holder, ExitReason::Kill);
    assert_eq!(
        executor().block_on(future),
        Err(CallError::Exited(ExitReason::Killed))
    );
    let ready = CallFuture::<u8>::ready(Ok(3));
    assert_eq!(executor().block_on(ready), Ok(3));
}

/// An async reply address that ends up dropped outside any process, by a
/// blocking closure that panics or by another process's exit hook, ends
/// the call with `NoReply` while the callee lives on (found by the attack
/// suite: the call waited for ever without a timeout).
#[test]
fn an_async_reply_address_dropped_in_a_panicking_closure_or_an_exit_hook_ends_the_call() {
    let rt = runtime(2);
    let callee = rt.spawn(|| {
        loop {
            let (how, reply) = receive::<(&'static str, ReplyTo<u64>)>();
            match how {
                "blocking" => {
                    let handle = ferrotp_scheduler::spawn_blocking(move || {
                        let _reply = reply;
                        panic!("the closure holding the reply address panics");
                    });
                    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        handle.join();
                    }));
                    assert!(caught.is_err());
                }
                _ => {
                    let other = spawn(|| {
                        receive::<()>();
                    });
                    let _hook = other.on_exit(move |_| drop(reply));
                    exit(&other, ExitReason::Kill);
                }
            }
        }
    });
    let outcomes = executor().block_on(async {
        // Without a timeout of their own these waited for ever; `LONG`
        // makes a regression fail (with `Timeout`) rather than hang.
        let blocking = call_async(&callee, |r: ReplyTo<u64>| ("blocking", r), LONG).await;
        let hook = call_async(&callee, |r: ReplyTo<u64>| ("hook", r), LONG).await;
        (blocking, hook)
    });
    assert_eq!(outcomes, (Err(CallError::NoReply), Err(CallError::NoReply)));
    assert!(callee.exit_reason().is_none(), "the callee lives on");
}
