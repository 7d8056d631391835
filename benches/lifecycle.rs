//! Lifecycle benchmarks (issue 4): kill latency, exit-hook registration,
//! registry lookup.
//!
//! Run: `cargo bench -p ferrotp-benches --bench lifecycle -- --noplot`.
//!
//! * `kill_latency/suspended`: `exit(pid, Kill)` sent to a process
//!   blocked in `receive` on the killer's worker, until its destructor has
//!   run (the destructor sends the killer a message; the time is taken
//!   when that arrives). Most of it is the unwinder walking the stack.
//! * `kill_latency/running`: the same for a process computing
//!   (`reduce(1)` in a loop) on the other worker: it stops at its next
//!   reduction.
//! * `exit_hook/add_remove`: `Pid::on_exit` and `ExitHook::remove` on a
//!   live process, per pair.
//! * `registry/whereis`: a lookup among 1,000 registered names.
//!
//! No peer offers these (tokio's `abort` does not unwind a task stuck in a
//! computation; may has no kill), so figures are absolute.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use ferrotp::{
    ExitReason, Pid, Runtime, SpawnOptions, exit, receive, reduce, register, self_pid, send, spawn,
    spawn_opt, whereis,
};

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Sends the killer a note when dropped: the target's cleanup.
struct Cleanup(Pid);

impl Drop for Cleanup {
    fn drop(&mut self) {
        send(&self.0, Cleaned);
    }
}

struct Cleaned;

/// One kill: starts a target with `body`, waits until it is ready, then
/// times `exit` until its cleanup arrives.
fn one_kill(body: fn(Pid, Cleanup), options: SpawnOptions) -> Duration {
    let me = self_pid();
    let cleanup = Cleanup(me.clone());
    let target = spawn_opt(options, move || body(me, cleanup)).unwrap();
    receive::<&str>();
    let start = Instant::now();
    exit(&target, ExitReason::Kill);
    receive::<Cleaned>();
    start.elapsed()
}

fn suspended(ready: Pid, cleanup: Cleanup) {
    let _cleanup = cleanup;
    send(&ready, "ready");
    receive::<u64>();
}

fn running(ready: Pid, cleanup: Cleanup) {
    let _cleanup = cleanup;
    send(&ready, "ready");
    loop {
        reduce(1);
    }
}

/// `iters` kills by a killer on worker 0 of targets on `target_worker`;
/// the total latency.
fn pinned_killer(
    rt: &Runtime,
    iters: u64,
    body: fn(Pid, Cleanup),
    target_worker: usize,
) -> Duration {
    rt.block_on(move || {
        let root = self_pid();
        spawn_opt(SpawnOptions::new().worker(0), move || {
            let took: Duration = (0..iters)
                .map(|_| one_kill(body, SpawnOptions::new().worker(target_worker)))
                .sum();
            send(&root, took);
        })
        .unwrap();
        receive::<Duration>()
    })
}

fn kill_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("kill_latency");
    group.measurement_time(Duration::from_secs(3));
    let rt = runtime();
    group.bench_function("suspended", |b| {
        b.iter_custom(|iters| pinned_killer(&rt, iters, suspended, 0));
    });
    group.bench_function("running", |b| {
        b.iter_custom(|iters| pinned_killer(&rt, iters, running, 1));
    });
    group.finish();
}

fn exit_hooks(c: &mut Criterion) {
    let rt = runtime();
    c.bench_function("exit_hook/add_remove", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let target = spawn(|| {
                    receive::<()>();
                });
                let start = Instant::now();
                for _ in 0..iters {
                    let hook = target.on_exit(|reason| {
                        black_box(reason);
                    });
                    black_box(hook.remove());
                }
                let took = start.elapsed();
                send(&target, ());
                took
            })
        });
    });
}

fn registry(c: &mut Criterion) {
    let rt = runtime();
    let names: Vec<String> = (0..1000).map(|i| format!("server-{i}")).collect();
    let holders = rt.block_on({
        let names = names.clone();
        move || {
            names
                .iter()
                .map(|name| {
                    let pid = spawn(|| {
                        receive::<()>();
                    });
                    register(name, &pid).unwrap();
                    pid
                })
                .collect::<Vec<Pid>>()
        }
    });
    c.bench_function("registry/whereis", |b| {
        b.iter_custom(|iters| {
            let names = names.clone();
            rt.block_on(move || {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(whereis(&names[(i % 1000) as usize]));
                }
                start.elapsed()
            })
        });
    });
    rt.block_on(move || {
        for pid in &holders {
            send(pid, ());
        }
    });
}

criterion_group!(benches, kill_latency, exit_hooks, registry);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
