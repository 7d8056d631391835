//! Process benchmarks W1–W7 and W12 (`BENCHMARKS.md`), for ferrotp and, in the
//! same run, tokio (multi-thread runtime, 2 workers; the driver runs as a
//! spawned task) and may (default configuration, 2 workers).
//!
//! Run: `cargo bench -p ferrotp-benches --bench processes -- --noplot` (or a filter such as
//! `w2_`). Figures are per operation (`iter_custom`: one iteration is one
//! link, round trip, hop or yield) except W1b and W3, which time a whole
//! run (their `Elements` throughput gives the per-process rate). W4 prints
//! bytes per blocked process to stderr, each peer measured in a fresh OS
//! process (this binary, re-run), and times getting 100,000 processes
//! blocked.
//!
//! may cannot hold more than about 32,750 live coroutines at the default
//! `vm.max_map_count` (one mmap and one guard mapping each; beyond that its
//! spawn panics with "failed to alloc sys stack", which ends the whole
//! benchmark), so its W1b runs 20,000 processes instead of 100,000, its W3
//! 10,000 leaves instead of 1,000,000 (those smaller sizes run for every
//! peer, so ratios are still read within one workload), and its W4 holds
//! 20,000 coroutines instead of 100,000.

#[path = "memory.rs"]
mod memory;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use ferrotp::{
    Pid, Runtime, SpawnOptions, receive, reduce, self_pid, send, spawn, spawn_opt, yield_now,
};

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
fn on_tokio<F>(rt: &tokio::runtime::Runtime, driver: F) -> Duration
where
    F: std::future::Future<Output = Duration> + Send + 'static,
{
    rt.block_on(async move { tokio::spawn(driver).await.unwrap() })
}

/// Runs a whole-workload measurement `iters` times; the total time.
fn repeated(iters: u64, mut run: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| run()).sum()
}

fn may_init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        may::config().set_workers(2);
    });
}

/// Runs `driver` as a may coroutine and returns what it measured.
fn on_may<F>(driver: F) -> Duration
where
    F: FnOnce() -> Duration + Send + 'static,
{
    may_init();
    may::go!(driver).join().unwrap()
}

// ---------------------------------------------------------------- W1a

fn ferrotp_link(root: Pid, left: u64) {
    if left == 0 {
        send(&root, ());
    } else {
        spawn(move || ferrotp_link(root, left - 1));
    }
}

fn tokio_link(done: tokio::sync::oneshot::Sender<()>, left: u64) {
    tokio::spawn(async move {
        if left == 0 {
            let _ = done.send(());
        } else {
            tokio_link(done, left - 1);
        }
    });
}

fn may_link(done: may::sync::mpsc::Sender<()>, left: u64) {
    may::go!(move || {
        if left == 0 {
            done.send(()).unwrap();
        } else {
            may_link(done, left - 1);
        }
    });
}

fn w1a_chained_spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1a_chained_spawn");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    let rt = ferrotp_rt(2);
    group.bench_function("ferrotp", |b| {
        b.iter_custom(|links| {
            rt.block_on(move || {
                let start = Instant::now();
                ferrotp_link(self_pid(), links);
                receive::<()>();
                start.elapsed()
            })
        });
    });
    let trt = tokio_rt(2);
    group.bench_function("tokio", |b| {
        b.iter_custom(|links| {
            on_tokio(&trt, async move {
                let start = Instant::now();
                let (tx, rx) = tokio::sync::oneshot::channel();
                tokio_link(tx, links);
                rx.await.unwrap();
                start.elapsed()
            })
        });
    });
    group.bench_function("may", |b| {
        b.iter_custom(|links| {
            on_may(move || {
                let start = Instant::now();
                let (tx, rx) = may::sync::mpsc::channel();
                may_link(tx, links);
                rx.recv().unwrap();
                start.elapsed()
            })
        });
    });
    group.finish();
}

// ---------------------------------------------------------------- W1b

fn w1b_burst_spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1b_burst_spawn");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    let rt = ferrotp_rt(2);
    let trt = tokio_rt(2);
    // may holds at most ~32,750 live coroutines: it runs the 20k size only.
    for burst in [20_000u64, 100_000] {
        let expected = burst * (burst - 1) / 2;
        group.throughput(Throughput::Elements(burst));
        group.bench_with_input(BenchmarkId::new("ferrotp", burst), &burst, |b, &burst| {
            b.iter_custom(|iters| {
                repeated(iters, || {
                    rt.block_on(move || {
                        let start = Instant::now();
                        let me = self_pid();
                        for i in 0..burst {
                            let me = me.clone();
                            spawn(move || send(&me, i));
                        }
                        let sum: u64 = (0..burst).map(|_| receive::<u64>()).sum();
                        assert_eq!(sum, expected);
                        start.elapsed()
                    })
                })
            });
        });
        group.bench_with_input(BenchmarkId::new("tokio", burst), &burst, |b, &burst| {
            b.iter_custom(|iters| {
                repeated(iters, || {
                    on_tokio(&trt, async move {
                        let start = Instant::now();
                        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                        for i in 0..burst {
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                let _ = tx.send(i);
                            });
                        }
                        let mut sum = 0;
                        for _ in 0..burst {
                            sum += rx.recv().await.unwrap();
                        }
                        assert_eq!(sum, expected);
                        start.elapsed()
                    })
                })
            });
        });
        if burst > 20_000 {
            continue;
        }
        group.bench_with_input(BenchmarkId::new("may", burst), &burst, |b, &burst| {
            b.iter_custom(|iters| {
                repeated(iters, || {
                    on_may(move || {
                        let start = Instant::now();
                        let (tx, rx) = may::sync::mpsc::channel();
                        for i in 0..burst {
                            let tx = tx.clone();
                            may::go!(move || tx.send(i).unwrap());
                        }
                        let sum: u64 = (0..burst).map(|_| rx.recv().unwrap()).sum();
                        assert_eq!(sum, expected);
                        start.elapsed()
                    })
                })
            });
        });
    }
    group.finish();
}

// ---------------------------------------------------------------- W2

#[derive(Clone, Copy)]
enum Placement {
    Default,
    SameWorker,
    CrossWorker,
}

fn ferrotp_ping_pong(rt: &Runtime, round_trips: u64, placement: Placement) -> Duration {
    let (driver_on, ponger_on) = match placement {
        Placement::Default => (None, None),
        Placement::SameWorker => (Some(0), Some(0)),
        Placement::CrossWorker => (Some(0), Some(1)),
    };
    rt.block_on(move || {
        let root = self_pid();
        let pin = |worker: Option<usize>| match worker {
            Some(w) => SpawnOptions::new().worker(w),
            None => SpawnOptions::new(),
        };
        spawn_opt(pin(driver_on), move || {
            let me = self_pid();
            let ponger = spawn_opt(pin(ponger_on), move || {
                let pinger = receive::<Pid>();
                loop {
                    let n = receive::<u64>();
                    send(&pinger, n);
                    if n == 0 {
                        return;
                    }
                }
            })
            .unwrap();
            send(&ponger, me);
            let start = Instant::now();
            for n in (0..round_trips).rev() {
                send(&ponger, n);
                black_box(receive::<u64>());
            }
            send(&root, start.elapsed());
        })
        .unwrap();
        receive::<Duration>()
    })
}

async fn tokio_ping_pong(round_trips: u64) -> Duration {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    tokio::spawn(async move {
        while let Some(n) = ping_rx.recv().await {
            let _ = pong_tx.send(n);
        }
    });
    let start = Instant::now();
    for n in 0..round_trips {
        ping_tx.send(n).unwrap();
        black_box(pong_rx.recv().await.unwrap());
    }
    start.elapsed()
}

fn may_ping_pong(round_trips: u64) -> Duration {
    let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
    may::go!(move || {
        while let Ok(n) = ping_rx.recv() {
            let _ = pong_tx.send(n);
        }
    });
    let start = Instant::now();
    for n in 0..round_trips {
        ping_tx.send(n).unwrap();
        black_box(pong_rx.recv().unwrap());
    }
    start.elapsed()
}

fn w2_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_ping_pong");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    let rt = ferrotp_rt(2);
    for (name, placement) in [
        ("ferrotp_default", Placement::Default),
        ("ferrotp_same_worker", Placement::SameWorker),
        ("ferrotp_cross_worker", Placement::CrossWorker),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|n| ferrotp_ping_pong(&rt, n, placement));
        });
    }
    let trt = tokio_rt(2);
    group.bench_function("tokio", |b| {
        b.iter_custom(|n| on_tokio(&trt, tokio_ping_pong(n)));
    });
    group.bench_function("may", |b| {
        b.iter_custom(|n| on_may(move || may_ping_pong(n)));
    });
    group.finish();
}

// ---------------------------------------------------------------- W3

fn ferrotp_skynet(parent: Pid, num: u64, size: u64) {
    if size == 1 {
        send(&parent, num);
        return;
    }
    let me = self_pid();
    let child = size / 10;
    for i in 0..10 {
        let me = me.clone();
        spawn(move || ferrotp_skynet(me, num + i * child, child));
    }
    let sum: u64 = (0..10).map(|_| receive::<u64>()).sum();
    send(&parent, sum);
}

fn tokio_skynet(parent: tokio::sync::mpsc::UnboundedSender<u64>, num: u64, size: u64) {
    tokio::spawn(async move {
        if size == 1 {
            let _ = parent.send(num);
            return;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let child = size / 10;
        for i in 0..10 {
            tokio_skynet(tx.clone(), num + i * child, child);
        }
        let mut sum = 0;
        for _ in 0..10 {
            sum += rx.recv().await.unwrap();
        }
        let _ = parent.send(sum);
    });
}

fn may_skynet(parent: may::sync::mpsc::Sender<u64>, num: u64, size: u64) {
    may::go!(move || {
        if size == 1 {
            let _ = parent.send(num);
            return;
        }
        let (tx, rx) = may::sync::mpsc::channel();
        let child = size / 10;
        for i in 0..10 {
            may_skynet(tx.clone(), num + i * child, child);
        }
        let sum: u64 = (0..10).map(|_| rx.recv().unwrap()).sum();
        let _ = parent.send(sum);
    });
}

/// One W3 run on ferrotp's runtime `rt`: its time.
fn ferrotp_skynet_run(rt: &Runtime, leaves: u64) -> Duration {
    let expected = leaves * (leaves - 1) / 2;
    rt.block_on(move || {
        let start = Instant::now();
        let me = self_pid();
        spawn(move || ferrotp_skynet(me, 0, leaves));
        assert_eq!(receive::<u64>(), expected);
        start.elapsed()
    })
}

/// One W3 run on tokio's runtime `rt` (the driver a spawned task): its
/// time.
fn tokio_skynet_run(rt: &tokio::runtime::Runtime, leaves: u64) -> Duration {
    let expected = leaves * (leaves - 1) / 2;
    on_tokio(rt, async move {
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio_skynet(tx, 0, leaves);
        assert_eq!(rx.recv().await.unwrap(), expected);
        start.elapsed()
    })
}

fn w3_skynet(c: &mut Criterion) {
    let mut group = c.benchmark_group("w3_skynet");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let rt = ferrotp_rt(2);
    let trt = tokio_rt(2);
    for leaves in [10_000u64, 1_000_000] {
        let expected = leaves * (leaves - 1) / 2;
        group.throughput(Throughput::Elements(leaves));
        group.bench_with_input(
            BenchmarkId::new("ferrotp", leaves),
            &leaves,
            |b, &leaves| {
                b.iter_custom(|iters| repeated(iters, || ferrotp_skynet_run(&rt, leaves)));
            },
        );
        group.bench_with_input(BenchmarkId::new("tokio", leaves), &leaves, |b, &leaves| {
            b.iter_custom(|iters| repeated(iters, || tokio_skynet_run(&trt, leaves)));
        });
        if leaves <= 10_000 {
            group.bench_with_input(BenchmarkId::new("may", leaves), &leaves, |b, &leaves| {
                b.iter_custom(|iters| {
                    repeated(iters, || {
                        on_may(move || {
                            let start = Instant::now();
                            let (tx, rx) = may::sync::mpsc::channel();
                            may_skynet(tx, 0, leaves);
                            assert_eq!(rx.recv().unwrap(), expected);
                            start.elapsed()
                        })
                    })
                });
            });
        }
    }
    group.finish();
}

// ---------------------------------------------------------------- W12

/// W12: W3 (1,000,000 leaves) on 1 worker and on 2; the speed-up is the
/// ratio of the two medians, for ferrotp and, in the same run, tokio (1
/// and 2 workers).
fn w12_skynet_scaling(c: &mut Criterion) {
    const LEAVES: u64 = 1_000_000;
    let mut group = c.benchmark_group("w12_skynet_scaling");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(LEAVES));
    for workers in [1usize, 2] {
        let rt = ferrotp_rt(workers);
        group.bench_function(BenchmarkId::new("ferrotp_workers", workers), |b| {
            b.iter_custom(|iters| repeated(iters, || ferrotp_skynet_run(&rt, LEAVES)));
        });
        drop(rt);
        let trt = tokio_rt(workers);
        group.bench_function(BenchmarkId::new("tokio_workers", workers), |b| {
            b.iter_custom(|iters| repeated(iters, || tokio_skynet_run(&trt, LEAVES)));
        });
    }
    group.finish();
}

// ---------------------------------------------------------------- W4

/// Spawns `n` processes blocked in receive; returns (bytes per process,
/// time to get them all blocked).
fn ferrotp_blocked(n: u64) -> (u64, Duration) {
    let rt = ferrotp_rt(2);
    let before = memory::rss();
    let (per, took) = rt.block_on(move || {
        let start = Instant::now();
        let me = self_pid();
        let pids: Vec<Pid> = (0..n)
            .map(|_| {
                let me = me.clone();
                spawn(move || {
                    send(&me, ());
                    receive::<()>();
                })
            })
            .collect();
        for _ in 0..n {
            receive::<()>();
        }
        let took = start.elapsed();
        let per = memory::rss().saturating_sub(before) / n;
        for pid in &pids {
            send(pid, ());
        }
        (per, took)
    });
    (per, took)
}

fn tokio_blocked(n: u64) -> (u64, Duration) {
    let trt = tokio_rt(2);
    let before = memory::rss();
    let (tx_per, rx_per) = std::sync::mpsc::channel();
    let took = on_tokio(&trt, async move {
        let start = Instant::now();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut releases = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            releases.push(tx);
            let ready = ready_tx.clone();
            tokio::spawn(async move {
                let _ = ready.send(());
                let _ = rx.await;
            });
        }
        for _ in 0..n {
            ready_rx.recv().await.unwrap();
        }
        let took = start.elapsed();
        tx_per
            .send(memory::rss().saturating_sub(before) / n)
            .unwrap();
        for tx in releases {
            let _ = tx.send(());
        }
        took
    });
    (rx_per.recv().unwrap(), took)
}

fn may_blocked(n: u64) -> (u64, Duration) {
    let before = memory::rss();
    let (tx_per, rx_per) = std::sync::mpsc::channel();
    let took = on_may(move || {
        let start = Instant::now();
        let (ready_tx, ready_rx) = may::sync::mpsc::channel();
        let mut releases = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (tx, rx) = may::sync::mpsc::channel::<()>();
            releases.push(tx);
            let ready = ready_tx.clone();
            may::go!(move || {
                ready.send(()).unwrap();
                let _ = rx.recv();
            });
        }
        for _ in 0..n {
            ready_rx.recv().unwrap();
        }
        let took = start.elapsed();
        tx_per
            .send(memory::rss().saturating_sub(before) / n)
            .unwrap();
        for tx in releases {
            let _ = tx.send(());
        }
        took
    });
    (rx_per.recv().unwrap(), took)
}

/// Measures W4 for `peer` in this fresh OS process (the bench binary
/// re-run with `W4_BENCH_CHILD`), so that no earlier workload's heap or
/// stacks hide in the baseline; prints the bytes per blocked process.
fn w4_child(peer: &str) {
    let (bytes, _) = match peer {
        "ferrotp" => ferrotp_blocked(W4_PROCESSES),
        "tokio" => tokio_blocked(W4_PROCESSES),
        "may" => may_blocked(W4_MAY_PROCESSES),
        other => panic!("unknown W4 peer {other}"),
    };
    println!("{bytes}");
}

const W4_PROCESSES: u64 = 100_000;
/// may's ceiling is about 32,750 live coroutines (module docs).
const W4_MAY_PROCESSES: u64 = 20_000;

/// Runs `w4_child` for `peer` and returns its figure.
fn w4_bytes(peer: &str) -> String {
    memory::figure_of_child("W4_BENCH_CHILD", peer)
}

fn w4_memory(c: &mut Criterion) {
    let mut group = c.benchmark_group("w4_block_100k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let report = std::sync::Once::new();
    let print_bytes = || {
        report.call_once(|| {
            eprintln!(
                "W4 bytes per blocked process (VmRSS delta / N, fresh OS process each): \
                 ferrotp {} (N={W4_PROCESSES}), tokio {} (N={W4_PROCESSES}), may {} \
                 (N={W4_MAY_PROCESSES})",
                w4_bytes("ferrotp"),
                w4_bytes("tokio"),
                w4_bytes("may")
            );
        });
    };
    group.bench_function("ferrotp", |b| {
        print_bytes();
        b.iter_custom(|iters| repeated(iters, || ferrotp_blocked(W4_PROCESSES).1));
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| repeated(iters, || tokio_blocked(W4_PROCESSES).1));
    });
    group.finish();
}

// ---------------------------------------------------------------- W5

const RING: usize = 503;

enum Ring {
    Next(Pid),
    Token(u64),
    Stop,
}

fn ferrotp_ring(rt: &Runtime, hops: u64) -> Duration {
    rt.block_on(move || {
        let root = self_pid();
        let members: Vec<Pid> = (0..RING)
            .map(|_| {
                let root = root.clone();
                spawn(move || {
                    let Ring::Next(next) = receive::<Ring>() else {
                        unreachable!()
                    };
                    loop {
                        match receive::<Ring>() {
                            Ring::Token(0) => send(&root, ()),
                            Ring::Token(t) => send(&next, Ring::Token(t - 1)),
                            Ring::Stop => return,
                            Ring::Next(_) => unreachable!(),
                        }
                    }
                })
            })
            .collect();
        for (i, member) in members.iter().enumerate() {
            send(member, Ring::Next(members[(i + 1) % RING].clone()));
        }
        let start = Instant::now();
        send(&members[0], Ring::Token(hops));
        receive::<()>();
        let took = start.elapsed();
        for member in &members {
            send(member, Ring::Stop);
        }
        took
    })
}

async fn tokio_ring(hops: u64) -> Duration {
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let channels: Vec<_> = (0..RING)
        .map(|_| tokio::sync::mpsc::unbounded_channel::<u64>())
        .collect();
    let senders: Vec<_> = channels.iter().map(|(tx, _)| tx.clone()).collect();
    for (i, (_, mut rx)) in channels.into_iter().enumerate() {
        let next = senders[(i + 1) % RING].clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            while let Some(t) = rx.recv().await {
                match t {
                    u64::MAX => return,
                    0 => {
                        let _ = done.send(());
                    }
                    t => {
                        let _ = next.send(t - 1);
                    }
                }
            }
        });
    }
    let start = Instant::now();
    senders[0].send(hops).unwrap();
    done_rx.recv().await.unwrap();
    let took = start.elapsed();
    for tx in &senders {
        let _ = tx.send(u64::MAX);
    }
    took
}

fn may_ring(hops: u64) -> Duration {
    let (done_tx, done_rx) = may::sync::mpsc::channel::<()>();
    let channels: Vec<_> = (0..RING)
        .map(|_| may::sync::mpsc::channel::<u64>())
        .collect();
    let senders: Vec<_> = channels.iter().map(|(tx, _)| tx.clone()).collect();
    for (i, (_, rx)) in channels.into_iter().enumerate() {
        let next = senders[(i + 1) % RING].clone();
        let done = done_tx.clone();
        may::go!(move || {
            while let Ok(t) = rx.recv() {
                match t {
                    u64::MAX => return,
                    0 => {
                        let _ = done.send(());
                    }
                    t => {
                        let _ = next.send(t - 1);
                    }
                }
            }
        });
    }
    let start = Instant::now();
    senders[0].send(hops).unwrap();
    done_rx.recv().unwrap();
    let took = start.elapsed();
    for tx in &senders {
        let _ = tx.send(u64::MAX);
    }
    took
}

fn w5_thread_ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("w5_thread_ring");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    let rt = ferrotp_rt(2);
    group.bench_function("ferrotp", |b| b.iter_custom(|hops| ferrotp_ring(&rt, hops)));
    let trt = tokio_rt(2);
    group.bench_function("tokio", |b| {
        b.iter_custom(|hops| on_tokio(&trt, tokio_ring(hops)));
    });
    group.bench_function("may", |b| {
        b.iter_custom(|hops| on_may(move || may_ring(hops)))
    });
    group.finish();
}

// ---------------------------------------------------------------- W6

const YIELDERS: u64 = 200;

/// Per-process yields for a measurement of `iters` yields in all.
fn yields_each(iters: u64) -> u64 {
    iters.div_ceil(YIELDERS).max(1)
}

/// Scales a measurement of `YIELDERS * each` yields to `iters` yields.
fn scaled(took: Duration, iters: u64, each: u64) -> Duration {
    took.mul_f64(iters as f64 / (YIELDERS * each) as f64)
}

fn w6_yield(c: &mut Criterion) {
    let mut group = c.benchmark_group("w6_yield");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    let rt = ferrotp_rt(2);
    group.bench_function("ferrotp", |b| {
        b.iter_custom(|iters| {
            let each = yields_each(iters);
            let took = rt.block_on(move || {
                let me = self_pid();
                let start = Instant::now();
                for _ in 0..YIELDERS {
                    let me = me.clone();
                    spawn(move || {
                        for _ in 0..each {
                            yield_now();
                        }
                        send(&me, ());
                    });
                }
                for _ in 0..YIELDERS {
                    receive::<()>();
                }
                start.elapsed()
            });
            scaled(took, iters, each)
        });
    });
    let trt = tokio_rt(2);
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            let each = yields_each(iters);
            let took = on_tokio(&trt, async move {
                let start = Instant::now();
                let tasks: Vec<_> = (0..YIELDERS)
                    .map(|_| {
                        tokio::spawn(async move {
                            for _ in 0..each {
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
                start.elapsed()
            });
            scaled(took, iters, each)
        });
    });
    group.bench_function("may", |b| {
        b.iter_custom(|iters| {
            let each = yields_each(iters);
            let took = on_may(move || {
                let start = Instant::now();
                let tasks: Vec<_> = (0..YIELDERS)
                    .map(|_| {
                        may::go!(move || {
                            for _ in 0..each {
                                may::coroutine::yield_now();
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.join().unwrap();
                }
                start.elapsed()
            });
            scaled(took, iters, each)
        });
    });
    group.finish();
}

// ---------------------------------------------------------------- W7

fn w7_fairness(c: &mut Criterion) {
    let mut group = c.benchmark_group("w7_fairness_one_worker");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    let rt = ferrotp_rt(1);
    for hog in [false, true] {
        let name = if hog {
            "ferrotp_with_hog"
        } else {
            "ferrotp_alone"
        };
        group.bench_function(name, |b| {
            b.iter_custom(|n| {
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let took = rt.block_on(move || {
                    if hog {
                        spawn(move || {
                            while !flag.load(Ordering::Relaxed) {
                                reduce(1);
                            }
                        });
                    }
                    let me = self_pid();
                    let ponger = spawn(move || {
                        loop {
                            let n = receive::<u64>();
                            send(&me, n);
                            if n == 0 {
                                return;
                            }
                        }
                    });
                    let start = Instant::now();
                    for n in (0..n).rev() {
                        send(&ponger, n);
                        black_box(receive::<u64>());
                    }
                    start.elapsed()
                });
                stop.store(true, Ordering::Relaxed);
                took
            });
        });
    }
    let trt = tokio_rt(1);
    for hog in [false, true] {
        let name = if hog { "tokio_with_hog" } else { "tokio_alone" };
        group.bench_function(name, |b| {
            b.iter_custom(|n| {
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let took = on_tokio(&trt, async move {
                    if hog {
                        tokio::spawn(async move {
                            while !flag.load(Ordering::Relaxed) {
                                tokio::task::coop::consume_budget().await;
                            }
                        });
                    }
                    tokio_ping_pong(n).await
                });
                stop.store(true, Ordering::Relaxed);
                took
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    w1a_chained_spawn,
    w1b_burst_spawn,
    w2_ping_pong,
    w3_skynet,
    w4_memory,
    w5_thread_ring,
    w6_yield,
    w7_fairness,
    w12_skynet_scaling
);
fn main() {
    if let Ok(peer) = std::env::var("W4_BENCH_CHILD") {
        w4_child(&peer);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
