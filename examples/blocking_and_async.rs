//! Blocking offload and the futures bridge in one program
//! (`cargo run --example blocking_and_async`):
//!
//! * an actor sums files on the runtime's blocking pool
//!   (`ferrotp::blocking`): its worker serves other processes meanwhile;
//! * a process starts a slow job with `spawn_blocking` and reports its
//!   progress with `join_timeout`;
//! * a process awaits futures (`ferrotp::await_future`): a tokio timer
//!   and a tokio task, polled in the runtime's tokio context (feature
//!   `tokio`, which the examples build with);
//! * tokio tasks, outside the runtime, send to the actor and call it
//!   (`ActorRef::call_async`), each call ending like a `call`.
//!
//! Each step checks its result: a run that prints is a run that passed.

use std::time::{Duration, Instant};

use ferrotp::actor::{self, ActorRef, Next};
use ferrotp::{CallError, ReplyTo, Runtime, await_future, blocking, spawn_blocking};

/// What the file summer understands.
enum Summer {
    /// The sum of a file's bytes, read on a blocking thread.
    Sum(std::path::PathBuf, ReplyTo<std::io::Result<u64>>),
    /// Requests served so far.
    Served(ReplyTo<u64>),
}

fn summer(request: Summer, served: u64) -> Next<u64> {
    match request {
        Summer::Sum(path, reply) => {
            // File I/O blocks its thread: off the worker, which runs other
            // processes until the bytes are in.
            let sum = blocking(move || {
                let bytes = std::fs::read(path)?;
                Ok(bytes.iter().map(|&b| u64::from(b)).sum())
            });
            reply.send(sum);
            Next::Continue(served + 1)
        }
        Summer::Served(reply) => {
            reply.send(served);
            Next::Continue(served)
        }
    }
}

fn main() {
    let rt = Runtime::builder()
        .workers(1)
        .blocking_threads(4)
        .build()
        .expect("a runtime");
    let file = std::env::temp_dir().join(format!("ferrotp-example-{}", std::process::id()));
    std::fs::write(&file, [1u8, 2, 3, 4]).expect("a temporary file");

    // 1. An actor that offloads its blocking work.
    let summer: ActorRef<Summer> = rt.block_on(|| actor::start(0u64, summer).unwrap());

    // 2. A slow job joined a little at a time.
    let (answer, checks) = rt.block_on(|| {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let mut job = spawn_blocking(move || {
            wait.recv().expect("told to go");
            6 * 7
        });
        let mut checks = 0;
        let answer = loop {
            if let Some(answer) = job.join_timeout(Duration::from_millis(2)) {
                break answer;
            }
            checks += 1;
            if checks == 3 {
                go.send(()).expect("the job waits");
            }
        };
        (answer, checks)
    });
    assert_eq!(answer, 42);
    assert!(checks >= 3);
    println!("spawn_blocking: {answer}, after {checks} progress checks");

    // 3. A process awaits futures of tokio's timer and a tokio task.
    let (slept, from_task) = rt.block_on(|| {
        let start = Instant::now();
        // An `async` block: tokio's sleep needs its context as it is made.
        await_future(async { tokio::time::sleep(Duration::from_millis(20)).await });
        let task = ferrotp::tokio_handle().spawn(async { "hello from a tokio task" });
        (start.elapsed(), await_future(task).expect("the task ran"))
    });
    assert!(slept >= Duration::from_millis(20));
    println!("await_future: slept {slept:?} on tokio's timer; {from_task:?}");

    // 4. Async code outside the runtime calls the actor.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    let (sums, served, gone) = tokio.block_on(async {
        let calls: Vec<_> = (0..5)
            .map(|_| {
                let summer = summer.clone();
                let file = file.clone();
                tokio::spawn(async move {
                    summer
                        .call_async(|reply| Summer::Sum(file, reply), Duration::from_secs(5))
                        .await
                })
            })
            .collect();
        let mut sums = Vec::new();
        for call in calls {
            sums.push(
                call.await
                    .expect("the task ran")
                    .expect("the actor answered"),
            );
        }
        let served = summer
            .call_async(Summer::Served, Duration::from_secs(5))
            .await;
        // A call to an actor that has ended ends like a `call`.
        let gone = summer.pid();
        ferrotp::exit(&gone, ferrotp::ExitReason::Kill);
        while !gone.has_exited() {
            tokio::task::yield_now().await;
        }
        let gone = summer
            .call_async(Summer::Served, Duration::from_secs(5))
            .await;
        (sums, served, gone)
    });
    let sums: Vec<u64> = sums.into_iter().map(|sum| sum.expect("readable")).collect();
    assert_eq!(sums, vec![10; 5]);
    assert_eq!(served, Ok(5));
    assert_eq!(gone, Err(CallError::NoProc));
    println!(
        "call_async from tokio tasks: sums {sums:?}, served {served:?}; after a kill: {gone:?}"
    );

    std::fs::remove_file(&file).expect("removed");
    let metrics = rt.metrics();
    println!(
        "blocking pool now: threads {}, idle {}, queued {}",
        metrics.blocking_threads, metrics.blocking_idle, metrics.blocking_queued
    );
}
