//! Placement benchmarks (issue 6), on a fake two-node machine.
//!
//! Run: `cargo bench -p ferrotp-benches --bench placement -- --noplot`.
//!
//! The runtime has 4 workers on a topology of two nodes of one CPU each
//! (this machine's two CPUs; distance 21 between the nodes), so two
//! workers share each node and each worker has one same-node victim and
//! two remote ones. A steal order that ignored nodes would find its
//! victim on the same node about one time in three.
//!
//! * `fork_join/steals`: a fork-join tree (fan-out 10, depth 4: 11,111
//!   processes, each leaf summing a little, each parent waiting for its
//!   children). Timed per tree; after the runs it prints the share of
//!   steals that stayed on their node (`local_steals / steals` from the
//!   runtime's metrics).
//! * `spawn/plain`, `spawn/pinned_node`, `spawn/pinned_worker`: the cost
//!   of spawning a process that ends at once, unpinned, pinned to node 1,
//!   and pinned to worker 3 (another node's worker, the usual case for
//!   pinning); per spawn, in batches of 1,000 whose ends are awaited
//!   untimed.
//!
//! No peer has NUMA placement, so figures are absolute; the steal share
//! is compared with the one in three of a node-blind order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use ferrotp::scheduler::placement::Binding;
use ferrotp::scheduler::topology::Topology;
use ferrotp::{
    Pid, Runtime, SpawnOptions, receive, reduce, self_pid, send, spawn, spawn_opt, yield_now,
};

fn two_node_runtime() -> Runtime {
    let two_nodes = Topology::uniform(vec![vec![0], vec![1]], 21).unwrap();
    Runtime::builder()
        .environment([])
        .workers(4)
        .topology(two_nodes)
        .binding(Binding::Spread)
        .build()
        .unwrap()
}

/// A fork-join node: spawns `fan_out` children down to `depth`, sums
/// their answers and sends the sum to `parent`.
fn fork_join(parent: Pid, depth: u32, fan_out: u64, value: u64) {
    if depth == 0 {
        reduce(50);
        send(&parent, value);
        return;
    }
    let me = self_pid();
    for i in 0..fan_out {
        let me = me.clone();
        spawn(move || fork_join(me, depth - 1, fan_out, value * fan_out + i));
    }
    let sum: u64 = (0..fan_out).map(|_| receive::<u64>()).sum();
    send(&parent, sum);
}

fn steals(rt: &Runtime) -> (u64, u64) {
    let metrics = rt.metrics();
    let all = metrics.workers.iter().map(|w| w.steals).sum();
    let local = metrics.workers.iter().map(|w| w.local_steals).sum();
    (all, local)
}

fn bench_fork_join(c: &mut Criterion) {
    let rt = two_node_runtime();
    let (before_all, before_local) = steals(&rt);
    let mut group = c.benchmark_group("fork_join");
    group.sample_size(20);
    group.bench_function("steals", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    let me = self_pid();
                    spawn(move || fork_join(me, 4, 10, 0));
                    std::hint::black_box(receive::<u64>());
                }
                start.elapsed()
            })
        });
    });
    group.finish();
    let (all, local) = steals(&rt);
    let (all, local) = (all - before_all, local - before_local);
    println!(
        "fork_join/steals: {local} of {all} steals stayed on their node ({:.1}%; a node-blind \
         order: about 33%)",
        100.0 * local as f64 / all.max(1) as f64
    );
}

/// `iters` spawns with `options` of processes that end at once; the time
/// spent spawning (the batches' ends are awaited untimed).
fn spawn_cost(rt: &Runtime, iters: u64, options: SpawnOptions) -> Duration {
    rt.block_on(move || {
        let ended = Arc::new(AtomicUsize::new(0));
        let mut spent = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let batch = left.min(1_000);
            let target = ended.load(Ordering::Relaxed) + batch as usize;
            let start = Instant::now();
            for _ in 0..batch {
                let ended = Arc::clone(&ended);
                spawn_opt(options.clone(), move || {
                    ended.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
            }
            spent += start.elapsed();
            while ended.load(Ordering::Relaxed) < target {
                yield_now();
            }
            left -= batch;
        }
        spent
    })
}

fn bench_spawn(c: &mut Criterion) {
    let rt = two_node_runtime();
    let mut group = c.benchmark_group("spawn");
    group.bench_function("plain", |b| {
        b.iter_custom(|iters| spawn_cost(&rt, iters, SpawnOptions::new()));
    });
    group.bench_function("pinned_node", |b| {
        b.iter_custom(|iters| spawn_cost(&rt, iters, SpawnOptions::new().node(1)));
    });
    group.bench_function("pinned_worker", |b| {
        b.iter_custom(|iters| spawn_cost(&rt, iters, SpawnOptions::new().worker(3)));
    });
    group.finish();
}

criterion_group!(benches, bench_fork_join, bench_spawn);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
