//! Pool benchmarks (issue 15): throughput of a 4-worker pool under 8
//! client processes, per strategy, with peers in the same run.
//!
//! Run: `cargo bench -p ferrotp-benches --bench pools -- --noplot`.
//!
//! One run: 8 clients each make `CALLS` calls (a request and its reply)
//! to a pool of 4 workers, each of which adds the request to a running
//! sum; the run ends when every client has its last reply. `thrpt` is
//! calls per second. All on 2 workers.
//!
//! * ferrotp `Pool`: `round_robin`, `least_loaded`, `key_hash` (each
//!   client's calls keyed by the client: one worker per client);
//!   `checkout`: each call checks a worker out, calls it and checks it
//!   in (poolboy's cost: three messages more per call).
//! * `single_actor`: the same clients on one actor, no pool.
//! * `tokio_round_robin`: the same shape on tokio: 4 worker tasks on
//!   unbounded mpsc channels, replies on oneshots, clients round-robin.
//!
//! Each run checks the count of replies.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use ferrotp::actor::{self, ActorRef, Builder, Next, StartError};
use ferrotp::pool::{CheckoutPool, Dispatch, Pool};
use ferrotp::{ReplyTo, Runtime, receive, self_pid, send, spawn};

const CLIENTS: u64 = 8;
const WORKERS: usize = 4;
const CALLS: u64 = 2_000;
const TIMEOUT: Duration = Duration::from_secs(10);

enum Add {
    N(u64, ReplyTo<u64>),
}

fn adder(builder: Builder<Add>) -> Result<ActorRef<Add>, StartError> {
    builder.start_fn(0u64, |Add::N(n, reply), sum| {
        reply.send(sum + n);
        Next::Continue(sum + n)
    })
}

/// Runs the 8 clients, each calling `call(client, i)` `CALLS` times; the
/// time until the last has finished.
fn clients(call: impl Fn(u64, u64) -> u64 + Send + Sync + 'static) -> Duration {
    let call = Arc::new(call);
    let me = self_pid();
    let start = Instant::now();
    for client in 0..CLIENTS {
        let (call, me) = (Arc::clone(&call), me.clone());
        spawn(move || {
            let mut last = 0;
            for i in 0..CALLS {
                last = call(client, i);
            }
            send(&me, last);
        });
    }
    for _ in 0..CLIENTS {
        receive::<u64>();
    }
    start.elapsed()
}

fn ferrotp_pool(rt: &Runtime, dispatch: Option<Dispatch>) -> Duration {
    rt.block_on(move || {
        let pool = Pool::start(
            "bench",
            WORKERS,
            dispatch.unwrap_or_default(),
            |builder, _| adder(builder),
        )
        .unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let caller = pool.clone();
        let elapsed = clients(move |client, i| {
            counted.fetch_add(1, Ordering::Relaxed);
            match dispatch {
                Some(_) => caller.call(|reply| Add::N(i, reply), TIMEOUT).unwrap(),
                None => caller
                    .call_keyed(&client, |reply| Add::N(i, reply), TIMEOUT)
                    .unwrap(),
            }
        });
        assert_eq!(calls.load(Ordering::Relaxed) as u64, CLIENTS * CALLS);
        pool.stop().unwrap();
        elapsed
    })
}

fn ferrotp_checkout(rt: &Runtime) -> Duration {
    rt.block_on(|| {
        let pool = CheckoutPool::start("bench_checkout", WORKERS, 0, adder).unwrap();
        let caller = pool.clone();
        let elapsed = clients(move |_, i| {
            let worker = caller.checkout(TIMEOUT).unwrap();
            worker.call(|reply| Add::N(i, reply), TIMEOUT).unwrap()
        });
        pool.stop(TIMEOUT).unwrap();
        elapsed
    })
}

fn ferrotp_single(rt: &Runtime) -> Duration {
    rt.block_on(|| {
        let single = adder(actor::Builder::new()).unwrap();
        let caller = single.clone();
        let elapsed = clients(move |_, i| caller.call(|reply| Add::N(i, reply), TIMEOUT).unwrap());
        single.stop(ferrotp::ExitReason::Normal, TIMEOUT).unwrap();
        elapsed
    })
}

type TokioWorker = tokio::sync::mpsc::UnboundedSender<(u64, tokio::sync::oneshot::Sender<u64>)>;

async fn tokio_round_robin() -> Duration {
    let workers: Vec<TokioWorker> = (0..WORKERS)
        .map(|_| {
            let (tx, mut rx) =
                tokio::sync::mpsc::unbounded_channel::<(u64, tokio::sync::oneshot::Sender<u64>)>();
            tokio::spawn(async move {
                let mut sum = 0;
                while let Some((n, reply)) = rx.recv().await {
                    sum += n;
                    let _ = reply.send(sum);
                }
            });
            tx
        })
        .collect();
    let workers = Arc::new(workers);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (workers, next) = (Arc::clone(&workers), Arc::clone(&next));
            tokio::spawn(async move {
                let mut last = 0;
                for i in 0..CALLS {
                    let at = next.fetch_add(1, Ordering::Relaxed) % workers.len();
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    workers[at].send((i, reply)).unwrap();
                    last = answer.await.unwrap();
                }
                last
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    start.elapsed()
}

fn pools(c: &mut Criterion) {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("pool_8_clients_4_workers");
    group.sample_size(20);
    group.throughput(Throughput::Elements(CLIENTS * CALLS));
    for (name, dispatch) in [
        ("ferrotp_round_robin", Some(Dispatch::RoundRobin)),
        ("ferrotp_least_loaded", Some(Dispatch::LeastLoaded)),
        ("ferrotp_key_hash", None),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| ferrotp_pool(&rt, dispatch)).sum());
        });
    }
    group.bench_function("ferrotp_checkout", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| ferrotp_checkout(&rt)).sum());
    });
    group.bench_function("ferrotp_single_actor", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| ferrotp_single(&rt)).sum());
    });
    group.bench_function("tokio_round_robin", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    tokio_rt.block_on(async { tokio::spawn(tokio_round_robin()).await.unwrap() })
                })
                .sum()
        });
    });
    group.finish();
}

criterion_group!(benches, pools);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
