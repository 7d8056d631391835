//! Registry benchmarks (issue 15): ferrotp's `Registry` against two
//! baselines a Rust user would write instead, in the same run:
//! `RwLock<HashMap>` (std) and `DashMap` (a sharded concurrent map).
//!
//! Run: `cargo bench -p ferrotp-benches --bench registry -- --noplot`.
//!
//! * `registry_lookup`: per op, look up one of 10,000 unique keys (the
//!   pid it names). ferrotp: `Registry::whereis`; the baselines: a map
//!   `key → Pid`, read-locked (std) or read through its shard (DashMap).
//!   Measured from a ferrotp process on a 1-worker runtime; keys cycle so
//!   every partition is read.
//! * `registry_dispatch_1000`: per op, send one message to each of 1,000
//!   subscribers of one key (pub/sub). ferrotp: `Registry::send` (a
//!   copy-on-write snapshot, sent outside any lock); std: the `Vec<Pid>`
//!   under a read lock, cloned, then sent (a lock must not be held across
//!   a send, which may suspend the sender); DashMap: the same, cloned out
//!   of the shard guard. The subscribers are ferrotp processes that take
//!   and drop each message, on a 2-worker runtime, so every variant pays
//!   the same sends and wake-ups; what differs is finding the 1,000.
//!
//! Each run checks its result (the pid found, the count sent).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::RwLock;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use dashmap::DashMap;
use ferrotp::registry::{Keys, Registry};
use ferrotp::{Pid, Runtime, receive, self_pid, send, spawn};

const KEYS: u64 = 10_000;
const SUBSCRIBERS: usize = 1_000;

fn ferrotp_rt(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// A process that holds keys until told to stop.
fn parked() -> Pid {
    spawn(|| {
        receive::<Stop>();
    })
}

struct Stop;

fn registry_lookup(c: &mut Criterion) {
    let rt = ferrotp_rt(1);
    let mut group = c.benchmark_group("registry_lookup");
    group.bench_function("ferrotp", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let names: Registry<u64> = Registry::new(Keys::Unique);
                let me = self_pid();
                // One holder registers every key (a process registers
                // itself; which pid holds them does not matter here).
                let holder = {
                    let (names, me) = (names.clone(), me.clone());
                    spawn(move || {
                        for key in 0..KEYS {
                            names.register(key, ()).unwrap();
                        }
                        send(&me, ());
                        receive::<Stop>();
                    })
                };
                receive::<()>();
                let start = Instant::now();
                for i in 0..iters {
                    let found = names.whereis(&(i % KEYS));
                    assert!(black_box(found).is_some());
                }
                let elapsed = start.elapsed();
                send(&holder, Stop);
                elapsed
            })
        });
    });
    group.bench_function("std_rwlock_hashmap", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let holder = parked();
                let map: RwLock<HashMap<u64, Pid>> =
                    RwLock::new((0..KEYS).map(|key| (key, holder.clone())).collect());
                let start = Instant::now();
                for i in 0..iters {
                    let found = map.read().unwrap().get(&(i % KEYS)).cloned();
                    assert!(black_box(found).is_some());
                }
                let elapsed = start.elapsed();
                send(&holder, Stop);
                elapsed
            })
        });
    });
    group.bench_function("dashmap", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let holder = parked();
                let map: DashMap<u64, Pid> = (0..KEYS).map(|key| (key, holder.clone())).collect();
                let start = Instant::now();
                for i in 0..iters {
                    let found = map.get(&(i % KEYS)).map(|pid| pid.clone());
                    assert!(black_box(found).is_some());
                }
                let elapsed = start.elapsed();
                send(&holder, Stop);
                elapsed
            })
        });
    });
    group.finish();
}

/// A subscriber's messages.
#[derive(Clone)]
enum Feed {
    Item(u64),
    Stop,
}

/// Spawns the subscribers, each registered under "feed" (in `registry`,
/// if given); their pids.
fn subscribers(registry: Option<&Registry<&'static str>>) -> Vec<Pid> {
    let me = self_pid();
    let pids = (0..SUBSCRIBERS)
        .map(|_| {
            let (registry, me) = (registry.cloned(), me.clone());
            spawn(move || {
                if let Some(registry) = registry {
                    registry.register("feed", ()).unwrap();
                }
                send(&me, ());
                while let Feed::Item(n) = receive::<Feed>() {
                    black_box(n);
                }
            })
        })
        .collect();
    for _ in 0..SUBSCRIBERS {
        receive::<()>();
    }
    pids
}

fn stop_all(pids: &[Pid]) {
    for pid in pids {
        send(pid, Feed::Stop);
    }
}

fn registry_dispatch(c: &mut Criterion) {
    let rt = ferrotp_rt(2);
    let mut group = c.benchmark_group("registry_dispatch_1000");
    group.sample_size(20);
    group.bench_function("ferrotp", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let topics: Registry<&'static str> = Registry::new(Keys::Duplicate);
                let pids = subscribers(Some(&topics));
                let start = Instant::now();
                for i in 0..iters {
                    let sent = topics.send(&"feed", Feed::Item(i));
                    assert_eq!(sent, SUBSCRIBERS);
                }
                let elapsed = start.elapsed();
                stop_all(&pids);
                elapsed
            })
        });
    });
    group.bench_function("std_rwlock_hashmap", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let pids = subscribers(None);
                let map: RwLock<HashMap<&'static str, Vec<Pid>>> =
                    RwLock::new(HashMap::from([("feed", pids.clone())]));
                let start = Instant::now();
                for i in 0..iters {
                    let subscribed = map.read().unwrap().get("feed").cloned().unwrap();
                    for pid in &subscribed {
                        send(pid, Feed::Item(i));
                    }
                    assert_eq!(subscribed.len(), SUBSCRIBERS);
                }
                let elapsed = start.elapsed();
                stop_all(&pids);
                elapsed
            })
        });
    });
    group.bench_function("dashmap", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move || {
                let pids = subscribers(None);
                let map: DashMap<&'static str, Vec<Pid>> = DashMap::new();
                map.insert("feed", pids.clone());
                let start = Instant::now();
                for i in 0..iters {
                    let subscribed = map.get("feed").map(|pids| pids.clone()).unwrap();
                    for pid in &subscribed {
                        send(pid, Feed::Item(i));
                    }
                    assert_eq!(subscribed.len(), SUBSCRIBERS);
                }
                let elapsed = start.elapsed();
                stop_all(&pids);
                elapsed
            })
        });
    });
    group.finish();
}

criterion_group!(benches, registry_lookup, registry_dispatch);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
