//! Supervision benchmarks: restart latency, large supervisors, and the
//! set-up cost of links and monitors.
//!
//! Run: `cargo bench -p ferrotp-benches --bench supervision -- --noplot`.
//!
//! * `restart_latency/one_for_one`: a `OneForOne` supervisor with one
//!   permanent worker whose body first sends its pid to the benchmark
//!   process, then blocks in `receive`. Timed: `exit(child, Kill)` until
//!   the replacement's "running" message arrives; per restart. (The
//!   intensity is `u32::MAX` restarts in 100 ms, so it never trips.)
//! * `supervisor_10k/start`: `SupervisorSpec::start_link` of a `OneForOne`
//!   supervisor with 10,000 workers (each blocks in `receive`), until it
//!   returns. `start_link` returns once every child has been spawned and
//!   linked, not once it has run; untimed, the benchmark then waits until
//!   all 10,000 bodies have run before it stops the supervisor.
//! * `supervisor_10k/stop`: `Supervisor::stop` of such a supervisor, all
//!   of whose children have run and block in `receive`, until it returns
//!   (children stopped one at a time, newest first).
//! * `supervisor_10k/dynamic_start`: 10,000 `DynamicSupervisor::start_child`
//!   calls on a fresh dynamic supervisor (each a request and reply).
//! * `supervisor_10k/dynamic_stop`: `DynamicSupervisor::stop` with those
//!   10,000 children (all told at once, then awaited).
//! * `link_monitor_setup/link_unlink`: `link(&target)` + `unlink(&target)`
//!   against a long-lived target blocked in `receive`; per pair.
//! * `link_monitor_setup/monitor_demonitor`: `monitor(&target)` +
//!   `demonitor(&m, Demonitor::Keep)` against such a target; per pair.
//! * `link_monitor_setup/spawn` and `link_monitor_setup/spawn_link`: the
//!   cost of the call only, per process, for a process that ends at once.
//!   Spawns go in batches of 10,000; between batches (untimed) the
//!   benchmark waits until the batch has ended, so live processes and
//!   link records do not pile up.
//!
//! The runtime has 2 workers. No peer offers these (tokio and may have no
//! supervisors or links), so figures are absolute.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group};
use ferrotp::{ExitReason, Pid, Runtime, exit, receive, self_pid, send, spawn, yield_now};
use ferrotp_supervision::{
    ChildSpec, Demonitor, DynamicSupervisorSpec, Strategy, SupervisorSpec, demonitor, link,
    monitor, spawn_link, unlink,
};

/// Children of the large supervisors.
const CHILDREN: usize = 10_000;

/// Spawns timed between two untimed waits in the spawn benchmarks.
const SPAWN_BATCH: u64 = 10_000;

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Waits (yielding) until `counter` reaches `target`.
fn wait_for(counter: &AtomicUsize, target: usize) {
    while counter.load(Ordering::Acquire) < target {
        yield_now();
    }
}

/// A worker's "I am running" note to the benchmark process.
struct Running(Pid);

fn restart_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("restart_latency");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let rt = runtime();
    group.bench_function("one_for_one", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let me = self_pid();
                let sup = SupervisorSpec::new(Strategy::OneForOne)
                    .intensity(u32::MAX, Duration::from_millis(100))
                    .child(ChildSpec::worker("worker", move || {
                        send(&me, Running(self_pid()));
                        receive::<()>();
                    }))
                    .start_link()
                    .unwrap();
                let mut child = receive::<Running>().0;
                let start = Instant::now();
                for _ in 0..iters {
                    exit(&child, ExitReason::Kill);
                    let replacement = receive::<Running>().0;
                    debug_assert_ne!(replacement, child);
                    child = replacement;
                }
                let took = start.elapsed();
                sup.stop().unwrap();
                took
            })
        });
    });
    group.finish();
}

/// A `OneForOne` spec with [`CHILDREN`] workers; each counts itself in
/// `running` and blocks in `receive`.
fn big_spec(running: &Arc<AtomicUsize>) -> Arc<SupervisorSpec> {
    let children = (0..CHILDREN).map(|i| {
        let running = Arc::clone(running);
        ChildSpec::worker(format!("worker-{i}"), move || {
            running.fetch_add(1, Ordering::AcqRel);
            receive::<()>();
        })
    });
    Arc::new(SupervisorSpec::new(Strategy::OneForOne).children(children))
}

/// A worker spec for the dynamic supervisor, counting itself as above.
fn dynamic_child(running: &Arc<AtomicUsize>) -> ChildSpec {
    let running = Arc::clone(running);
    ChildSpec::worker("worker", move || {
        running.fetch_add(1, Ordering::AcqRel);
        receive::<()>();
    })
}

/// Which half of a start/stop cycle is timed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Timed {
    Start,
    Stop,
}

/// `iters` start/stop cycles of the 10k supervisor; the total time of the
/// `timed` half.
fn static_cycles(rt: &Runtime, iters: u64, timed: Timed) -> Duration {
    let running = Arc::new(AtomicUsize::new(0));
    let spec = big_spec(&running);
    rt.block_on(move || {
        let mut took = Duration::ZERO;
        for _ in 0..iters {
            running.store(0, Ordering::Release);
            let start = Instant::now();
            let sup = spec.start_link().unwrap();
            if timed == Timed::Start {
                took += start.elapsed();
            }
            wait_for(&running, CHILDREN);
            let start = Instant::now();
            sup.stop().unwrap();
            if timed == Timed::Stop {
                took += start.elapsed();
            }
        }
        took
    })
}

/// `iters` start/stop cycles of a dynamic supervisor given 10k children
/// by `start_child`; the total time of the `timed` half.
fn dynamic_cycles(rt: &Runtime, iters: u64, timed: Timed) -> Duration {
    let running = Arc::new(AtomicUsize::new(0));
    let child = dynamic_child(&running);
    rt.block_on(move || {
        let mut took = Duration::ZERO;
        for _ in 0..iters {
            running.store(0, Ordering::Release);
            let sup = DynamicSupervisorSpec::new().start_link().unwrap();
            let start = Instant::now();
            for _ in 0..CHILDREN {
                black_box(sup.start_child(child.clone()).unwrap());
            }
            if timed == Timed::Start {
                took += start.elapsed();
            }
            wait_for(&running, CHILDREN);
            let start = Instant::now();
            sup.stop().unwrap();
            if timed == Timed::Stop {
                took += start.elapsed();
            }
        }
        took
    })
}

fn supervisor_10k(c: &mut Criterion) {
    let mut group = c.benchmark_group("supervisor_10k");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    let rt = runtime();
    group.bench_function("start", |b| {
        b.iter_custom(|iters| static_cycles(&rt, iters, Timed::Start));
    });
    group.bench_function("stop", |b| {
        b.iter_custom(|iters| static_cycles(&rt, iters, Timed::Stop));
    });
    group.bench_function("dynamic_start", |b| {
        b.iter_custom(|iters| dynamic_cycles(&rt, iters, Timed::Start));
    });
    group.bench_function("dynamic_stop", |b| {
        b.iter_custom(|iters| dynamic_cycles(&rt, iters, Timed::Stop));
    });
    group.finish();
}

/// A long-lived process for the link and monitor benchmarks.
fn target() -> Pid {
    spawn(|| {
        receive::<()>();
    })
}

/// `iters` spawns of processes that end at once, by `spawner`, in batches
/// (module docs); the total time of the spawn calls.
fn spawn_batches(rt: &Runtime, iters: u64, spawner: fn(Arc<AtomicUsize>) -> Pid) -> Duration {
    rt.block_on(move || {
        let ended = Arc::new(AtomicUsize::new(0));
        let mut took = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let batch = left.min(SPAWN_BATCH);
            left -= batch;
            ended.store(0, Ordering::Release);
            let start = Instant::now();
            for _ in 0..batch {
                black_box(spawner(Arc::clone(&ended)));
            }
            took += start.elapsed();
            wait_for(&ended, batch as usize);
        }
        took
    })
}

fn link_monitor_setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("link_monitor_setup");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let rt = runtime();
    group.bench_function("link_unlink", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let target = target();
                let start = Instant::now();
                for _ in 0..iters {
                    link(&target);
                    unlink(&target);
                }
                let took = start.elapsed();
                exit(&target, ExitReason::Kill);
                took
            })
        });
    });
    group.bench_function("monitor_demonitor", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let target = target();
                let start = Instant::now();
                for _ in 0..iters {
                    let watch = monitor(&target);
                    black_box(demonitor(&watch, Demonitor::Keep));
                }
                let took = start.elapsed();
                exit(&target, ExitReason::Kill);
                took
            })
        });
    });
    group.bench_function("spawn", |b| {
        b.iter_custom(|iters| {
            spawn_batches(&rt, iters, |ended| {
                spawn(move || {
                    ended.fetch_add(1, Ordering::AcqRel);
                })
            })
        });
    });
    group.bench_function("spawn_link", |b| {
        b.iter_custom(|iters| {
            spawn_batches(&rt, iters, |ended| {
                spawn_link(move || {
                    ended.fetch_add(1, Ordering::AcqRel);
                })
            })
        });
    });
    group.finish();
}

criterion_group!(benches, restart_latency, supervisor_10k, link_monitor_setup);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
