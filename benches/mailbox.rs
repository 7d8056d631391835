//! Mailbox benchmarks: ferrotp's mailbox against `crossbeam-channel`
//! (unbounded) and `std::sync::mpsc`, side by side in one criterion run.
//!
//! * `push_pop`: one thread pushes one message and pops it again.
//! * `contended/{1,2,4}`: N producer threads send 200,000 messages in all
//!   to one consumer. Every consumer polls without blocking (ferrotp's
//!   mailbox has no blocking receive of its own: the scheduler parks
//!   processes) and, finding nothing 64 times in a row, yields its thread,
//!   so all three are measured the same way.
//! * `selective/take_first_last_of_10k`: 10,000 messages queued; take the
//!   last one by predicate (a full scan), then push it back. ferrotp only:
//!   the channels have no selective receive.
//! * `selective/take_since_mark`: mark, push a reply, take it since the
//!   mark, with 0 or 10,000 older messages queued. The goal is that depth
//!   does not matter (within 1.2x).
//!
//! Run: `cargo bench -p ferrotp-benches --bench mailbox`.

use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrotp::mailbox::{Mailbox, Receiver};

fn push_pop(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_pop");
    group.throughput(Throughput::Elements(1));

    group.bench_function("ferrotp", |b| {
        let mailbox = Mailbox::new();
        let mut rx = Receiver::new(&mailbox);
        b.iter(|| {
            let _ = mailbox.push(black_box(1u64));
            rx.pop()
        });
    });
    group.bench_function("crossbeam_unbounded", |b| {
        let (tx, rx) = crossbeam_channel::unbounded();
        b.iter(|| {
            tx.send(black_box(1u64)).unwrap();
            rx.try_recv().unwrap()
        });
    });
    group.bench_function("std_mpsc", |b| {
        let (tx, rx) = std::sync::mpsc::channel();
        b.iter(|| {
            tx.send(black_box(1u64)).unwrap();
            rx.try_recv().unwrap()
        });
    });
    group.finish();
}

const CONTENDED_TOTAL: u64 = 200_000;

/// Runs `producers` threads that each send their share through `send`, and
/// polls `recv` on this thread until all have arrived; returns the time.
fn contended_run<S, R>(
    producers: u64,
    make: impl Fn() -> (S, R),
    send: fn(&S, u64),
    recv: fn(&mut R) -> Option<u64>,
) -> Duration
where
    S: Clone + Send + 'static,
{
    let (tx, mut rx) = make();
    let per_producer = CONTENDED_TOTAL / producers;
    let start = Instant::now();
    let handles: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for n in 0..per_producer {
                    send(&tx, n);
                }
            })
        })
        .collect();
    let mut received = 0;
    let mut idle = 0u32;
    while received < per_producer * producers {
        match recv(&mut rx) {
            Some(n) => {
                black_box(n);
                received += 1;
                idle = 0;
            }
            // Nothing ready: spin briefly, then give the core away, as a
            // receiving process would (on 2 cores with 5 threads, a sender
            // may be descheduled half-way through a send).
            None if idle < 64 => {
                idle += 1;
                std::hint::spin_loop();
            }
            None => thread::yield_now(),
        }
    }
    let elapsed = start.elapsed();
    for handle in handles {
        handle.join().unwrap();
    }
    elapsed
}

fn contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("contended");
    group.throughput(Throughput::Elements(CONTENDED_TOTAL));
    group.sample_size(20);
    for producers in [1u64, 2, 4] {
        group.bench_with_input(
            BenchmarkId::new("ferrotp", producers),
            &producers,
            |b, &p| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            contended_run(
                                p,
                                || {
                                    let mailbox = Arc::new(Mailbox::new());
                                    let rx = Receiver::new(Arc::clone(&mailbox));
                                    (mailbox, rx)
                                },
                                |mailbox, n| {
                                    let _ = mailbox.push(n);
                                },
                                Receiver::pop,
                            )
                        })
                        .sum()
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("crossbeam_unbounded", producers),
            &producers,
            |b, &p| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            contended_run(
                                p,
                                crossbeam_channel::unbounded,
                                |tx, n| tx.send(n).unwrap(),
                                |rx| rx.try_recv().ok(),
                            )
                        })
                        .sum()
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("std_mpsc", producers),
            &producers,
            |b, &p| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            contended_run(
                                p,
                                std::sync::mpsc::channel,
                                |tx, n| tx.send(n).unwrap(),
                                |rx| rx.try_recv().ok(),
                            )
                        })
                        .sum()
                });
            },
        );
    }
    group.finish();
}

const DEEP: u64 = 10_000;

fn selective(c: &mut Criterion) {
    let mut group = c.benchmark_group("selective");

    group.bench_function("take_first_last_of_10k", |b| {
        let mailbox = Mailbox::new();
        let mut rx = Receiver::new(&mailbox);
        for n in 0..DEEP {
            let _ = mailbox.push(n);
        }
        assert_eq!(rx.len(), DEEP as usize);
        b.iter(|| {
            let last = rx.take_first(|&n| n == DEEP - 1).unwrap();
            let _ = mailbox.push(black_box(last));
        });
    });

    for older in [0, DEEP] {
        group.bench_with_input(
            BenchmarkId::new("take_since_mark", older),
            &older,
            |b, &older| {
                let mailbox = Mailbox::new();
                let mut rx = Receiver::new(&mailbox);
                for n in 0..older {
                    let _ = mailbox.push(n);
                }
                assert_eq!(rx.len(), older as usize);
                const REPLY: u64 = u64::MAX;
                b.iter(|| {
                    let mut mark = rx.mark();
                    let _ = mailbox.push(black_box(REPLY));
                    rx.take_first_since(&mut mark, |&n| n == REPLY).unwrap()
                });
                assert_eq!(rx.len(), older as usize);
                assert_eq!(rx.take_first(|&n| n == REPLY), None);
            },
        );
    }
    group.finish();
}

criterion_group!(benches, push_pop, contended, selective);
criterion_main!(benches);
