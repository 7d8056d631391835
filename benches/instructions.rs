//! Instruction counts of ferrotp's hot paths under callgrind (gungraun),
//! with hard limits that fail the run on a regression (CI runs it).
//!
//! Run: `cargo bench -p ferrotp-benches --bench instructions` (valgrind, and
//! `gungraun-runner` of the same version as the `gungraun` crate, must be
//! installed; `.ci/run` installs the runner). A wildcard pattern after `--`
//! selects benchmarks by their full name: `-- '*ping_pong*'`; `-- --list`
//! lists them. The whole run takes a few seconds.
//!
//! Each benchmark runs one workload on a fresh one-worker runtime and counts
//! exactly [`OPS`] operations of it, so its name reads per operation
//! (`ping_pong_round_trip_x1000`: instructions / 1000 = instructions per
//! round trip). What is counted, and what is not:
//!
//! * callgrind starts with instrumentation off (`--instr-atstart=no`), and
//!   gungraun's own toggle on the benchmark function is turned off
//!   (`EntryPoint::None`): that function runs on the main thread, which
//!   only waits in `block_on` while the work runs on the worker thread.
//! * Inside the workload's process, after a warm-up of [`WARM_UP`]
//!   operations (stacks, slabs and queues allocated), [`counted`] switches
//!   instrumentation on (a callgrind client request; valgrind's
//!   instrumentation state covers every thread), runs the [`OPS`]
//!   operations and switches it off again. The runtime's start, its
//!   threads' spawns, the warm-up and the shutdown are not counted.
//! * The runtime has one worker and no long-schedule watchdog thread, so
//!   nothing else runs while the count is on, and the count is
//!   deterministic: two runs agree to the instruction, but for glibc's
//!   malloc, whose heap layout depends on how the main and worker threads'
//!   start-up allocations interleaved (seen as two values 0.3% apart for
//!   `skynet_leaf_x1000`).
//!
//! The limits are the [`BUDGETS`] table, per operation: a benchmark fails
//! when its count exceeds `limit * OPS`, and the run fails with it. To
//! update one after a deliberate change, run the bench, read the new count
//! (its total / 1000), and set `current` to it and `limit` to about 10%
//! above (BENCHMARKS.md, "Instruction counts in CI").
//!
//! The client requests are written here (module [`callgrind`]) rather than
//! taken from gungraun's `act` feature: that feature generates its
//! bindings with bindgen at build time, which needs libclang, and CI's
//! machine has only the Rust toolchain and valgrind.

// gungraun's macros generate a public module, constants and functions per
// benchmark and group, undocumented, and `#[library_benchmark]` rejects a
// doc comment on the benchmark function (its docs are plain comments).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use ferrotp::actor::{self, ActorRef, Next};
use ferrotp::{
    Pid, ProcessStatus, ReplyTo, Runtime, process_info, receive, self_pid, send, spawn, yield_now,
};
use gungraun::{
    Callgrind, EntryPoint, EventKind, LibraryBenchmarkConfig, library_benchmark,
    library_benchmark_group, main,
};

/// Operations counted in each benchmark (the `x1000` in their names).
const OPS: u64 = 1000;

/// Operations run before the count starts.
const WARM_UP: u64 = 300;

/// The limits, in one place: per benchmark, in instructions (callgrind's
/// `Ir`) per operation (its total / [`OPS`]), the figure measured when the
/// limit was last set, the performance issue's goal (where it sets one),
/// and the hard limit, about 10% above the figure: the benchmark fails when
/// its total exceeds `limit * OPS`. Measured with `cargo bench` (the
/// workspace's `bench` profile), one worker. Last set at the end of the
/// speed pass of issue 17; the figures before it (commit 41abd67) were
/// 1,112, 551, 2,179, 368, 3,234, 1,972, 2,995, 358, 2,186 and 1,160.
#[rustfmt::skip]
const BUDGETS: &[(&str, u64, Option<u64>, u64)] = &[
    // benchmark                              current  goal         limit
    ("ping_pong_round_trip_x1000",               990,  Some(450),   1_089),
    ("ring_hop_x1000",                           490,  Some(200),     539),
    ("chained_spawn_link_x1000",               1_748,  Some(600),   1_923),
    ("yield_x1000",                              268,  Some(120),     295),
    ("skynet_leaf_x1000",                      2_553,  Some(1_000), 2_808),
    ("actor_call_keeps_stack_x1000",           1_878,  None,        2_066),
    ("actor_call_hibernating_x1000",           2_849,  None,        3_134),
    ("actor_cast_x1000",                         356,  None,          392),
    ("idle_actor_wake_x1000",                  2_021,  None,        2_223),
    ("idle_actor_wake_keeps_stack_x1000",      1_048,  None,        1_153),
];

/// The configuration of benchmark `name`: its hard limit from [`BUDGETS`].
///
/// # Panics
/// If `name` has no row in [`BUDGETS`].
fn limit(name: &str) -> LibraryBenchmarkConfig {
    let &(_, _, _, limit) = BUDGETS
        .iter()
        .find(|(benchmark, ..)| *benchmark == name)
        .unwrap_or_else(|| panic!("benchmark {name} has no row in BUDGETS"));
    let mut config = LibraryBenchmarkConfig::default();
    config.tool(Callgrind::default().hard_limits([(EventKind::Ir, limit * OPS)]));
    config
}

/// Callgrind's client requests to switch instrumentation on and off
/// (`CALLGRIND_START_INSTRUMENTATION` and `CALLGRIND_STOP_INSTRUMENTATION`
/// of valgrind's `callgrind.h`). Outside valgrind they do nothing.
mod callgrind {
    /// `VG_USERREQ_TOOL_BASE('C', 'T')`: callgrind's first request.
    const BASE: usize = (b'C' as usize) << 24 | (b'T' as usize) << 16;
    /// `VG_USERREQ__START_INSTRUMENTATION` (the fifth of callgrind's requests).
    const START_INSTRUMENTATION: usize = BASE + 4;
    /// `VG_USERREQ__STOP_INSTRUMENTATION`.
    const STOP_INSTRUMENTATION: usize = BASE + 5;

    /// Valgrind's client request: the magic no-op sequence of
    /// `VALGRIND_DO_CLIENT_REQUEST_EXPR` on amd64, which valgrind
    /// recognises; `rax` points at the request and its five arguments, and
    /// the reply comes in `rdx` (`default` when not under valgrind).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn request(request: usize) -> usize {
        let args: [usize; 6] = [request, 0, 0, 0, 0, 0];
        let default = 0usize;
        let reply;
        // The rotations of rdi add up to 128 bits (rdi unchanged) and
        // `xchg rbx, rbx` changes nothing: natively the sequence is a no-op.
        // SAFETY: so it touches no memory; under valgrind, which reads
        // `args` through rax (valid for the whole asm block), it is the
        // request. Only rdx (and the flags) are written.
        unsafe {
            std::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") args.as_ptr(),
                inout("rdx") default => reply,
            );
        }
        reply
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn request(_: usize) -> usize {
        panic!("the instruction benches issue callgrind's client requests on x86_64 only")
    }

    /// Switches instrumentation on (every thread).
    #[inline(always)]
    pub fn start_instrumentation() {
        request(START_INSTRUMENTATION);
    }

    /// Switches instrumentation off (every thread).
    #[inline(always)]
    pub fn stop_instrumentation() {
        request(STOP_INSTRUMENTATION);
    }
}

/// Runs `ops` with callgrind's instrumentation on: the only instructions
/// a benchmark counts.
fn counted<R>(ops: impl FnOnce() -> R) -> R {
    callgrind::start_instrumentation();
    let result = ops();
    callgrind::stop_instrumentation();
    result
}

/// Runs `workload` as the root process of a fresh runtime with one worker
/// and no watchdog thread, and shuts the runtime down.
fn on_one_worker<R, F>(workload: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let rt = Runtime::builder()
        .workers(1)
        .long_schedule(None)
        .build()
        .unwrap();
    let result = rt.block_on(workload);
    drop(rt);
    result
}

// ---------------------------------------------------------------- processes

// W2 on one worker: the root sends a `u64` to a ponger, which sends it
// back; one operation is one round trip.
#[library_benchmark(config = limit("ping_pong_round_trip_x1000"))]
fn ping_pong_round_trip_x1000() -> u64 {
    on_one_worker(|| {
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
        let round_trip = |n: u64| {
            send(&ponger, n);
            receive::<u64>()
        };
        for n in 1..=WARM_UP {
            black_box(round_trip(n));
        }
        let sum = counted(|| (1..=OPS).map(|n| black_box(round_trip(n))).sum());
        round_trip(0);
        assert_eq!(sum, OPS * (OPS + 1) / 2);
        sum
    })
}

/// Processes in the ring.
const RING: usize = 100;

/// A ring member's messages.
enum Ring {
    /// The member to pass the token to.
    Next(Pid),
    /// The token, with the hops still to go.
    Token(u64),
    /// End.
    Stop,
}

// W5 on one worker, a ring of [`RING`]: one operation is one hop (a member
// receives the token and sends it on). The count also holds the root's
// send of the token into the ring and the last member's message back.
#[library_benchmark(config = limit("ring_hop_x1000"))]
fn ring_hop_x1000() -> u64 {
    on_one_worker(|| {
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
        let hops = |hops: u64| {
            send(&members[0], Ring::Token(hops));
            receive::<()>();
        };
        hops(WARM_UP);
        counted(|| hops(OPS));
        for member in &members {
            send(member, Ring::Stop);
        }
        OPS
    })
}

/// The next link of a chain: spawns it, or, at the chain's end, tells
/// `root`.
fn link(root: Pid, left: u64) {
    if left == 0 {
        send(&root, ());
    } else {
        spawn(move || link(root, left - 1));
    }
}

// W1a on one worker: each process spawns the next and ends; one
// operation is one link (a spawn, a run and an end).
#[library_benchmark(config = limit("chained_spawn_link_x1000"))]
fn chained_spawn_link_x1000() -> u64 {
    on_one_worker(|| {
        let chain = |links: u64| {
            link(self_pid(), links);
            receive::<()>();
        };
        chain(WARM_UP);
        counted(|| chain(OPS));
        OPS
    })
}

// W6 on one worker, one process: one operation is one `yield_now` (the
// process goes back to the run queue and is picked again).
#[library_benchmark(config = limit("yield_x1000"))]
fn yield_x1000() -> u64 {
    on_one_worker(|| {
        for _ in 0..WARM_UP {
            yield_now();
        }
        counted(|| {
            for _ in 0..OPS {
                yield_now();
            }
        });
        OPS
    })
}

/// A skynet node: `size` leaves under it, numbered from `num`.
fn skynet(parent: Pid, num: u64, size: u64) {
    if size == 1 {
        send(&parent, num);
        return;
    }
    let me = self_pid();
    let child = size / 10;
    for i in 0..10 {
        let me = me.clone();
        spawn(move || skynet(me, num + i * child, child));
    }
    let sum: u64 = (0..10).map(|_| receive::<u64>()).sum();
    send(&parent, sum);
}

// W3 on one worker with [`OPS`] leaves (1,110 processes: 10 + 100 +
// 1,000): one operation is one leaf, its share of the inner nodes
// included. The warm-up is one whole skynet of the same size.
#[library_benchmark(config = limit("skynet_leaf_x1000"))]
fn skynet_leaf_x1000() -> u64 {
    on_one_worker(|| {
        let run = || {
            let me = self_pid();
            spawn(move || skynet(me, 0, OPS));
            receive::<u64>()
        };
        assert_eq!(run(), OPS * (OPS - 1) / 2);
        let sum = counted(run);
        assert_eq!(sum, OPS * (OPS - 1) / 2);
        sum
    })
}

// ---------------------------------------------------------------- actors

/// How long a call waits for its reply: never reached (as W8's).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The counter's messages (W8, W9).
enum Counter {
    /// Count one; reply with the count.
    Incr(ReplyTo<u64>),
    /// Count one.
    Add,
    /// Reply with the count.
    Get(ReplyTo<u64>),
}

/// A counter actor; `hibernate(false)` keeps its stack while idle.
fn counter(hibernate: bool) -> ActorRef<Counter> {
    actor::Builder::new()
        .hibernate(hibernate)
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
        })
        .unwrap()
}

/// W8 on one worker: `calls` calls after the warm-up; the last count.
fn calls(hibernate: bool) -> u64 {
    on_one_worker(move || {
        let counter = counter(hibernate);
        let call = || counter.call(Counter::Incr, CALL_TIMEOUT).unwrap();
        for _ in 0..WARM_UP {
            black_box(call());
        }
        let last = counted(|| {
            let mut last = 0;
            for _ in 0..OPS {
                last = black_box(call());
            }
            last
        });
        assert_eq!(last, WARM_UP + OPS);
        WARM_UP + OPS
    })
}

// One operation is one `call` round trip to an actor that keeps its stack
// while idle (`hibernate(false)`), on the caller's worker.
#[library_benchmark(config = limit("actor_call_keeps_stack_x1000"))]
fn actor_call_keeps_stack_x1000() -> u64 {
    calls(false)
}

// As `actor_call_keeps_stack_x1000`, with the default actor, which
// hibernates (gives its stack back) each time its mailbox runs empty.
#[library_benchmark(config = limit("actor_call_hibernating_x1000"))]
fn actor_call_hibernating_x1000() -> u64 {
    calls(true)
}

// W9 on one worker, default actor: one operation is one `cast` and its
// handling. The count also holds the `call` that waits until the actor
// has handled every cast (and checks their number).
#[library_benchmark(config = limit("actor_cast_x1000"))]
fn actor_cast_x1000() -> u64 {
    on_one_worker(|| {
        let counter = counter(true);
        let casts = |casts: u64| {
            for _ in 0..casts {
                counter.cast(Counter::Add);
            }
            counter.call(Counter::Get, CALL_TIMEOUT).unwrap()
        };
        assert_eq!(casts(WARM_UP), WARM_UP);
        let count = counted(|| casts(OPS));
        assert_eq!(count, WARM_UP + OPS);
        count
    })
}

/// A wake-up for the actor of [`wakes`].
struct Tick;

/// An actor that counts its ticks and sends each new count to the driver;
/// [`OPS`] ticks after the warm-up, each cast once the actor waits again;
/// the last count.
fn wakes(hibernate: bool) -> u64 {
    on_one_worker(move || {
        let driver = self_pid();
        let ticker = actor::Builder::new()
            .hibernate(hibernate)
            .start_fn(0u64, move |Tick, count| {
                send(&driver, count + 1);
                Next::Continue(count + 1)
            })
            .unwrap();
        let wake = || {
            ticker.cast(Tick);
            receive::<u64>()
        };
        for _ in 0..WARM_UP {
            black_box(wake());
        }
        // The actor went back to waiting (and hibernated, unless it keeps
        // its stack) before the driver ran again: each cast finds it idle.
        // Checked once, outside the count.
        let info = process_info(&ticker.pid()).unwrap();
        assert_eq!(
            (info.status, info.mailbox_len, info.hibernated),
            (ProcessStatus::Waiting, 0, hibernate)
        );
        let last = counted(|| {
            let mut last = 0;
            for _ in 0..OPS {
                last = black_box(wake());
            }
            last
        });
        assert_eq!(last, WARM_UP + OPS);
        WARM_UP + OPS
    })
}

// An idle actor (default: hibernated, no stack) is cast a message; it
// wakes, handles it (sends one message to the driver) and waits again.
// One operation: the cast, the actor's wake-up, handling and return to
// waiting, and the driver's receive of the actor's message (the driver
// blocks there, so that each cast finds the actor idle).
#[library_benchmark(config = limit("idle_actor_wake_x1000"))]
fn idle_actor_wake_x1000() -> u64 {
    wakes(true)
}

// As `idle_actor_wake_x1000`, with an actor that keeps its stack while
// idle (`hibernate(false)`).
#[library_benchmark(config = limit("idle_actor_wake_keeps_stack_x1000"))]
fn idle_actor_wake_keeps_stack_x1000() -> u64 {
    wakes(false)
}

library_benchmark_group!(
    name = processes,
    benchmarks = [
        ping_pong_round_trip_x1000,
        ring_hop_x1000,
        chained_spawn_link_x1000,
        yield_x1000,
        skynet_leaf_x1000
    ]
);

library_benchmark_group!(
    name = actors,
    benchmarks = [
        actor_call_keeps_stack_x1000,
        actor_call_hibernating_x1000,
        actor_cast_x1000,
        idle_actor_wake_x1000,
        idle_actor_wake_keeps_stack_x1000
    ]
);

main!(
    config = LibraryBenchmarkConfig::default().tool(
        Callgrind::with_args(["--instr-atstart=no", "--cache-sim=no"])
            .entry_point(EntryPoint::None)
    );
    library_benchmark_groups = processes, actors
);
