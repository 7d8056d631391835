//! Actor benchmarks W8–W10 and W4b (`BENCHMARKS.md`), for ferrotp's
//! actors (`ferrotp::actor`) and, in the same run, two peers on tokio
//! (multi-thread runtime, 2 workers; the driver runs as a spawned task):
//! a hand-written tokio actor (a task looping on an unbounded
//! `tokio::sync::mpsc` receiver of an enum, replies on a
//! `tokio::sync::oneshot`), and kameo (an actor framework with typed
//! ask/tell, on an unbounded mailbox like the other two).
//!
//! Run: `cargo bench -p ferrotp-benches --bench actors -- --noplot` (or a
//! filter such as `w8_`).
//!
//! * W8 `w8_call`: per op (one iteration is one `call`, `ask`, or
//!   request and oneshot reply). ferrotp runs on a 1-worker runtime, so
//!   the caller and the actor share a worker; its calls carry a 5 s
//!   timeout (what a caller writes), the peers' none. `ferrotp_queued_10k`
//!   first sends the caller itself 10,000 `u32`s, which stay queued
//!   through every call (checked after). The peers have no variant: their
//!   replies come on a oneshot, never through a mailbox.
//!   `ferrotp_keeps_stack` is the same actor started with
//!   `hibernate(false)`: it keeps its stack while idle, where the default
//!   actor hibernates after each call (the cost of owning no stack).
//! * W9 `w9_cast`: per run; one run casts 1,000,000 messages to one actor,
//!   which counts them, then a call checks the count; `thrpt` =
//!   messages/s. ferrotp on 1 worker, as W8.
//! * W10 `w10_start_stop`: per op: start an actor with no init work, stop
//!   it and wait until it has ended. ferrotp: `actor::start` (returns
//!   once the actor has acknowledged its start) and `ActorRef::stop`
//!   (GenServer's `stop`: returns once the actor has ended); tokio:
//!   spawn, a stop message and the `JoinHandle`; kameo: `spawn`,
//!   `stop_gracefully` and `wait_for_shutdown`. All on 2 workers, and
//!   ferrotp also on 1 (`ferrotp_one_worker`: the new actor always runs
//!   on the starter's worker, no other worker to wake).
//! * W4b `w4b_idle_actors_100k`: bytes per idle actor (VmRSS delta / N,
//!   each peer in a fresh OS process: this binary re-run with
//!   `W4B_BENCH_CHILD`), printed once to stderr when
//!   `w4b_idle_actors_100k/ferrotp` is selected; the criterion figure is
//!   the time to get 100,000 actors started and idle. All on 2 workers.
//!
//! Every workload checks its result (the count of calls, of casts, of
//! stopped actors), so none can silently measure nothing.

#[path = "memory.rs"]
mod memory;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use ferrotp::actor::{self, ActorRef, Next};
use ferrotp::{ExitReason, ReplyTo, Runtime, mailbox_len, receive, self_pid, send};
use kameo::actor::Spawn;

fn ferrotp_rt(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

fn tokio_rt(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// Runs `driver` as a spawned tokio task (BENCHMARKS.md: not inside
/// `block_on` itself) and returns what it measured.
fn on_tokio<F, T>(rt: &tokio::runtime::Runtime, driver: F) -> T
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    rt.block_on(async move { tokio::spawn(driver).await.unwrap() })
}

/// Runs a whole-workload measurement `iters` times; the total time.
fn repeated(iters: u64, mut run: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| run()).sum()
}

/// How long a ferrotp call waits for its reply: never reached.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- the actors

/// A ferrotp counter's messages.
enum Counter {
    /// Count one; reply with the count (W8).
    Incr(ReplyTo<u64>),
    /// Count one (W9).
    Add,
    /// Reply with the count (W9).
    Get(ReplyTo<u64>),
    /// Stop.
    Stop,
}

fn ferrotp_counter() -> ActorRef<Counter> {
    ferrotp_counter_with(actor::Builder::new())
}

/// The counter started by `builder` (`hibernate(false)`: it keeps its
/// stack while idle).
fn ferrotp_counter_with(builder: actor::Builder<Counter>) -> ActorRef<Counter> {
    builder
        .start_fn(0u64, |message, count| match message {
            Counter::Incr(reply) => {
                reply.send(count + 1);
                Next::Continue(count + 1)
            }
            Counter::Add => Next::Continue(count + 1),
            Counter::Get(reply) => {
                reply.send(count);
                Next::Continue(count)
            }
            Counter::Stop => Next::stop(),
        })
        .unwrap()
}

/// The tokio counter's messages: `Counter` with oneshot replies.
enum TokioCounter {
    Incr(tokio::sync::oneshot::Sender<u64>),
    Add,
    Get(tokio::sync::oneshot::Sender<u64>),
    Stop,
}

type TokioRef = tokio::sync::mpsc::UnboundedSender<TokioCounter>;

/// Spawns a tokio counter: a task looping on its channel. The handle
/// resolves when it has stopped.
fn tokio_counter() -> (TokioRef, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut count = 0u64;
        while let Some(message) = rx.recv().await {
            match message {
                TokioCounter::Incr(reply) => {
                    count += 1;
                    let _ = reply.send(count);
                }
                TokioCounter::Add => count += 1,
                TokioCounter::Get(reply) => {
                    let _ = reply.send(count);
                }
                TokioCounter::Stop => return,
            }
        }
    });
    (tx, task)
}

/// The kameo counter: its state, and one message type per request.
struct KameoCounter {
    count: u64,
}

impl kameo::Actor for KameoCounter {
    type Args = Self;
    type Error = kameo::error::Infallible;

    async fn on_start(
        state: Self,
        _: kameo::actor::ActorRef<Self>,
    ) -> Result<Self, kameo::error::Infallible> {
        Ok(state)
    }
}

/// Count one; reply with the count (W8).
struct Incr;
/// Count one (W9).
struct Add;
/// Reply with the count (W9).
struct Get;

impl kameo::message::Message<Incr> for KameoCounter {
    type Reply = u64;

    async fn handle(&mut self, _: Incr, _: &mut kameo::message::Context<Self, u64>) -> u64 {
        self.count += 1;
        self.count
    }
}

impl kameo::message::Message<Add> for KameoCounter {
    type Reply = ();

    async fn handle(&mut self, _: Add, _: &mut kameo::message::Context<Self, ()>) {
        self.count += 1;
    }
}

impl kameo::message::Message<Get> for KameoCounter {
    type Reply = u64;

    async fn handle(&mut self, _: Get, _: &mut kameo::message::Context<Self, u64>) -> u64 {
        self.count
    }
}

/// Spawns a kameo counter with an unbounded mailbox (as ferrotp's and
/// the tokio actor's).
fn kameo_counter() -> kameo::actor::ActorRef<KameoCounter> {
    KameoCounter::spawn_with_mailbox(KameoCounter { count: 0 }, kameo::mailbox::unbounded())
}

// ---------------------------------------------------------------- W8

/// `calls` calls to a fresh counter on a 1-worker runtime, with `queued`
/// unrelated `u32`s in the caller's mailbox throughout.
fn ferrotp_calls(rt: &Runtime, calls: u64, queued: u32, hibernate: bool) -> Duration {
    rt.block_on(move || {
        let me = self_pid();
        for i in 0..queued {
            send(&me, i);
        }
        let counter = ferrotp_counter_with(actor::Builder::new().hibernate(hibernate));
        let start = Instant::now();
        let mut last = 0;
        for _ in 0..calls {
            last = black_box(counter.call(Counter::Incr, CALL_TIMEOUT).unwrap());
        }
        let took = start.elapsed();
        assert_eq!(last, calls);
        counter.send(Counter::Stop);
        // The unrelated messages stayed queued, in order, through every call.
        assert_eq!(mailbox_len(), queued as usize);
        let sum: u64 = (0..queued).map(|_| u64::from(receive::<u32>())).sum();
        assert_eq!(
            sum,
            u64::from(queued) * u64::from(queued.saturating_sub(1)) / 2
        );
        took
    })
}

async fn tokio_calls(calls: u64) -> Duration {
    let (counter, task) = tokio_counter();
    let start = Instant::now();
    let mut last = 0;
    for _ in 0..calls {
        let (tx, rx) = tokio::sync::oneshot::channel();
        counter.send(TokioCounter::Incr(tx)).unwrap();
        last = black_box(rx.await.unwrap());
    }
    let took = start.elapsed();
    assert_eq!(last, calls);
    counter.send(TokioCounter::Stop).unwrap();
    task.await.unwrap();
    took
}

async fn kameo_calls(calls: u64) -> Duration {
    let counter = kameo_counter();
    let start = Instant::now();
    let mut last = 0;
    for _ in 0..calls {
        last = black_box(counter.ask(Incr).await.unwrap());
    }
    let took = start.elapsed();
    assert_eq!(last, calls);
    counter.stop_gracefully().await.unwrap();
    counter.wait_for_shutdown().await;
    took
}

/// Unrelated messages queued in the caller's mailbox in `ferrotp_queued_10k`.
const QUEUED: u32 = 10_000;

fn w8_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("w8_call");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    let rt = ferrotp_rt(1);
    group.bench_function("ferrotp", |b| {
        b.iter_custom(|calls| ferrotp_calls(&rt, calls, 0, true));
    });
    group.bench_function("ferrotp_queued_10k", |b| {
        b.iter_custom(|calls| ferrotp_calls(&rt, calls, QUEUED, true));
    });
    group.bench_function("ferrotp_keeps_stack", |b| {
        b.iter_custom(|calls| ferrotp_calls(&rt, calls, 0, false));
    });
    let trt = tokio_rt(2);
    group.bench_function("tokio", |b| {
        b.iter_custom(|calls| on_tokio(&trt, tokio_calls(calls)));
    });
    group.bench_function("kameo", |b| {
        b.iter_custom(|calls| on_tokio(&trt, kameo_calls(calls)));
    });
    group.finish();
}

// ---------------------------------------------------------------- W9

/// Messages cast in one W9 run.
const CASTS: u64 = 1_000_000;

fn ferrotp_casts(rt: &Runtime, casts: u64) -> Duration {
    rt.block_on(move || {
        let counter = ferrotp_counter();
        let start = Instant::now();
        for _ in 0..casts {
            counter.cast(Counter::Add);
        }
        let count = counter.call(Counter::Get, CALL_TIMEOUT).unwrap();
        let took = start.elapsed();
        assert_eq!(count, casts);
        counter.send(Counter::Stop);
        took
    })
}

async fn tokio_casts(casts: u64) -> Duration {
    let (counter, task) = tokio_counter();
    let start = Instant::now();
    for _ in 0..casts {
        counter.send(TokioCounter::Add).unwrap();
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    counter.send(TokioCounter::Get(tx)).unwrap();
    let count = rx.await.unwrap();
    let took = start.elapsed();
    assert_eq!(count, casts);
    counter.send(TokioCounter::Stop).unwrap();
    task.await.unwrap();
    took
}

async fn kameo_casts(casts: u64) -> Duration {
    let counter = kameo_counter();
    let start = Instant::now();
    for _ in 0..casts {
        counter.tell(Add).await.unwrap();
    }
    let count = counter.ask(Get).await.unwrap();
    let took = start.elapsed();
    assert_eq!(count, casts);
    counter.stop_gracefully().await.unwrap();
    counter.wait_for_shutdown().await;
    took
}

fn w9_cast(c: &mut Criterion) {
    let mut group = c.benchmark_group("w9_cast");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(CASTS));
    let rt = ferrotp_rt(1);
    group.bench_function("ferrotp", |b| {
        b.iter_custom(|iters| repeated(iters, || ferrotp_casts(&rt, CASTS)));
    });
    let trt = tokio_rt(2);
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| repeated(iters, || on_tokio(&trt, tokio_casts(CASTS))));
    });
    group.bench_function("kameo", |b| {
        b.iter_custom(|iters| repeated(iters, || on_tokio(&trt, kameo_casts(CASTS))));
    });
    group.finish();
}

// ---------------------------------------------------------------- W10

/// The message that stops a tokio actor of W10 and W4b (a ferrotp actor
/// is stopped with `ActorRef::stop`, a kameo one with `stop_gracefully`).
struct Stop;

/// Starts an actor that does nothing (until stopped).
fn ferrotp_idle_actor() -> ActorRef<Stop> {
    actor::start((), |Stop, ()| Next::stop()).unwrap()
}

/// A tokio actor that does nothing until told to stop; `ready`, if any,
/// hears once it runs.
fn tokio_idle_actor(
    ready: Option<tokio::sync::mpsc::UnboundedSender<()>>,
) -> (
    tokio::sync::mpsc::UnboundedSender<Stop>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Stop>();
    let task = tokio::spawn(async move {
        if let Some(ready) = ready {
            let _ = ready.send(());
        }
        // The first message is a stop.
        let _ = rx.recv().await;
    });
    (tx, task)
}

/// A kameo actor with no state, no init work and no messages.
struct KameoIdle;

impl kameo::Actor for KameoIdle {
    type Args = Self;
    type Error = kameo::error::Infallible;

    async fn on_start(
        state: Self,
        _: kameo::actor::ActorRef<Self>,
    ) -> Result<Self, kameo::error::Infallible> {
        Ok(state)
    }
}

fn kameo_idle_actor() -> kameo::actor::ActorRef<KameoIdle> {
    KameoIdle::spawn_with_mailbox(KameoIdle, kameo::mailbox::unbounded())
}

fn w10_start_stop(c: &mut Criterion) {
    let mut group = c.benchmark_group("w10_start_stop");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for (name, workers) in [("ferrotp", 2), ("ferrotp_one_worker", 1)] {
        let rt = ferrotp_rt(workers);
        group.bench_function(name, |b| {
            b.iter_custom(|actors| {
                rt.block_on(move || {
                    let start = Instant::now();
                    let mut stopped = 0u64;
                    for _ in 0..actors {
                        let actor = ferrotp_idle_actor();
                        // Ok once the actor has ended.
                        let ended = actor.stop(ExitReason::Normal, CALL_TIMEOUT);
                        stopped += u64::from(ended.is_ok());
                    }
                    let took = start.elapsed();
                    assert_eq!(stopped, actors);
                    took
                })
            });
        });
    }
    let trt = tokio_rt(2);
    group.bench_function("tokio", |b| {
        b.iter_custom(|actors| {
            on_tokio(&trt, async move {
                let start = Instant::now();
                let mut stopped = 0u64;
                for _ in 0..actors {
                    let (actor, task) = tokio_idle_actor(None);
                    actor.send(Stop).unwrap();
                    stopped += u64::from(task.await.is_ok());
                }
                let took = start.elapsed();
                assert_eq!(stopped, actors);
                took
            })
        });
    });
    group.bench_function("kameo", |b| {
        b.iter_custom(|actors| {
            on_tokio(&trt, async move {
                let start = Instant::now();
                let mut stopped = 0u64;
                for _ in 0..actors {
                    let actor = kameo_idle_actor();
                    actor.stop_gracefully().await.unwrap();
                    actor.wait_for_shutdown().await;
                    stopped += u64::from(!actor.is_alive());
                }
                let took = start.elapsed();
                assert_eq!(stopped, actors);
                took
            })
        });
    });
    group.finish();
}

// ---------------------------------------------------------------- W4b

/// Idle actors in W4b.
const W4B_ACTORS: u64 = 100_000;

/// Starts `n` idle actors (each waiting for a message); returns (bytes per
/// actor, time to get them all started), then stops them.
fn ferrotp_idle(n: u64) -> (u64, Duration) {
    let rt = ferrotp_rt(2);
    let before = memory::rss();
    rt.block_on(move || {
        let start = Instant::now();
        // `start` returns once the actor has run its (empty) init and
        // acknowledged: each is then waiting in its receive.
        let actors: Vec<ActorRef<Stop>> = (0..n).map(|_| ferrotp_idle_actor()).collect();
        let took = start.elapsed();
        let per = memory::rss().saturating_sub(before) / n;
        let stopped = actors
            .iter()
            .filter(|actor| actor.stop(ExitReason::Normal, CALL_TIMEOUT).is_ok())
            .count();
        assert_eq!(stopped as u64, n);
        (per, took)
    })
}

fn tokio_idle(n: u64) -> (u64, Duration) {
    let trt = tokio_rt(2);
    let before = memory::rss();
    on_tokio(&trt, async move {
        let start = Instant::now();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
        let actors: Vec<_> = (0..n)
            .map(|_| tokio_idle_actor(Some(ready_tx.clone())))
            .collect();
        for _ in 0..n {
            ready_rx.recv().await.unwrap();
        }
        let took = start.elapsed();
        let per = memory::rss().saturating_sub(before) / n;
        let mut stopped = 0u64;
        for (actor, _) in &actors {
            actor.send(Stop).unwrap();
        }
        for (_, task) in actors {
            stopped += u64::from(task.await.is_ok());
        }
        assert_eq!(stopped, n);
        (per, took)
    })
}

fn kameo_idle(n: u64) -> (u64, Duration) {
    let trt = tokio_rt(2);
    let before = memory::rss();
    on_tokio(&trt, async move {
        let start = Instant::now();
        let actors: Vec<_> = (0..n).map(|_| kameo_idle_actor()).collect();
        for actor in &actors {
            actor.wait_for_startup().await;
        }
        let took = start.elapsed();
        let per = memory::rss().saturating_sub(before) / n;
        for actor in &actors {
            actor.stop_gracefully().await.unwrap();
        }
        let mut stopped = 0u64;
        for actor in &actors {
            actor.wait_for_shutdown().await;
            stopped += u64::from(!actor.is_alive());
        }
        assert_eq!(stopped, n);
        (per, took)
    })
}

/// Measures W4b for `peer` in this fresh OS process (the bench binary
/// re-run with `W4B_BENCH_CHILD`), so that no earlier workload's heap or
/// stacks hide in the baseline; prints the bytes per idle actor. By hand:
/// `W4B_BENCH_CHILD=ferrotp W4B_ACTORS=1000000 target/release/deps/actors-<hash>`.
fn w4b_child(peer: &str) {
    // `W4B_ACTORS` overrides N for a measurement by hand (1,000,000, say).
    let n = std::env::var("W4B_ACTORS").map_or(W4B_ACTORS, |n| n.parse().unwrap());
    let (bytes, took) = match peer {
        "ferrotp" => ferrotp_idle(n),
        "tokio" => tokio_idle(n),
        "kameo" => kameo_idle(n),
        other => panic!("unknown W4b peer {other}"),
    };
    eprintln!("{peer}: {n} idle actors started in {took:?}");
    println!("{bytes}");
}

/// Runs `w4b_child` for `peer` and returns its figure.
fn w4b_bytes(peer: &str) -> String {
    memory::figure_of_child("W4B_BENCH_CHILD", peer)
}

fn w4b_memory(c: &mut Criterion) {
    let mut group = c.benchmark_group("w4b_idle_actors_100k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let report = std::sync::Once::new();
    let print_bytes = || {
        report.call_once(|| {
            eprintln!(
                "W4b bytes per idle actor (VmRSS delta / N, N={W4B_ACTORS}, fresh OS process \
                 each): ferrotp {}, tokio {}, kameo {}",
                w4b_bytes("ferrotp"),
                w4b_bytes("tokio"),
                w4b_bytes("kameo")
            );
        });
    };
    group.bench_function("ferrotp", |b| {
        print_bytes();
        b.iter_custom(|iters| repeated(iters, || ferrotp_idle(W4B_ACTORS).1));
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| repeated(iters, || tokio_idle(W4B_ACTORS).1));
    });
    group.bench_function("kameo", |b| {
        b.iter_custom(|iters| repeated(iters, || kameo_idle(W4B_ACTORS).1));
    });
    group.finish();
}

criterion_group!(benches, w8_call, w9_cast, w10_start_stop, w4b_memory);
fn main() {
    if let Ok(peer) = std::env::var("W4B_BENCH_CHILD") {
        w4b_child(&peer);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
