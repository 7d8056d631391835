//! The README's demo: a small request/response service on ferrotp.
//!
//! ```text
//! root ── shard 0 ── session 0..SESSIONS      clients 0..CLIENTS
//!     └── shard 1 ── session 0..SESSIONS      (each: request, wait for the
//!                                              reply on a Subject, repeat)
//! ```
//!
//! Each client sends requests to a shard, which routes them to one of its
//! sessions; the session computes a digest (spending reductions, so long
//! work is shared fairly) and replies through the client's `Subject`. A few
//! requests are poisoned: their session panics. Only that process dies;
//! its client's request times out, and the shard notices the dead session
//! the next time it routes to it, reports its exit reason to the root and
//! starts a new one (a hand-made supervisor, until the supervision crate
//! lands). An exporter process, registered by name, holds a connection
//! and waits for a flush that never comes; at the end the root kills it
//! (`exit(pid, Kill)`), and the connection's destructor reports that it
//! ran. The root prints throughput, latency percentiles, the kill and the
//! runtime's counters.
//!
//! Run: `cargo run --release --example service`

use std::time::{Duration, Instant};

use ferrotp::{
    ExitReason, Pid, Runtime, Select, Subject, exit, receive, reduce, register, self_pid, send,
    spawn, whereis,
};
use hdrhistogram::Histogram;

const SHARDS: usize = 2;
const SESSIONS: usize = 50;
const CLIENTS: u64 = 100;
const REQUESTS: u64 = 2_000;
/// Clients whose 50th request is poisoned.
const POISONED_CLIENTS: [u64; 3] = [7, 42, 77];
const REPLY_TIMEOUT: Duration = Duration::from_millis(100);

/// A request, as routed by a shard to a session.
struct Work {
    client: u64,
    seq: u64,
    payload: u64,
    reply: Subject<u64>,
}

/// A shard reports a session that died.
struct Crash {
    shard: usize,
    session: Pid,
    reason: ExitReason,
}

/// A client's results.
struct ClientDone {
    latencies: Histogram<u64>,
    failed: u64,
}

/// What a session does for a request: a few hundred rounds of mixing,
/// charged to the reduction budget.
fn digest(payload: u64) -> u64 {
    let mut x = payload | 1;
    for round in 0..256 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if round % 64 == 63 {
            reduce(16);
        }
    }
    x
}

fn session() {
    loop {
        let work = receive::<Work>();
        if work.payload == u64::MAX {
            panic!("poison request {}:{}", work.client, work.seq);
        }
        work.reply.send(digest(work.payload));
    }
}

/// A resource the exporter holds; its destructor tells the root it ran.
struct Connection {
    root: Pid,
}

impl Drop for Connection {
    fn drop(&mut self) {
        send(&self.root, ConnectionClosed);
    }
}

/// Sent by `Connection`'s destructor.
struct ConnectionClosed;

/// A flush request for the exporter; none is ever sent, so it stays stuck.
struct Flush;

fn exporter(root: Pid) {
    let _connection = Connection { root };
    loop {
        receive::<Flush>();
    }
}

fn shard(index: usize, root: Pid) {
    let mut sessions: Vec<Pid> = (0..SESSIONS).map(|_| spawn(session)).collect();
    loop {
        let work = receive::<Work>();
        let slot = (work.client as usize + work.seq as usize) % SESSIONS;
        if let Some(reason) = sessions[slot].exit_reason() {
            send(
                &root,
                Crash {
                    shard: index,
                    session: sessions[slot].clone(),
                    reason,
                },
            );
            sessions[slot] = spawn(session);
        }
        send(&sessions[slot], work);
    }
}

fn client(id: u64, shards: Vec<Pid>, root: Pid) {
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut failed = 0;
    for seq in 0..REQUESTS {
        let poisoned = seq == 50 && POISONED_CLIENTS.contains(&id);
        let reply = Subject::new();
        let started = Instant::now();
        send(
            &shards[(id as usize + seq as usize) % SHARDS],
            Work {
                client: id,
                seq,
                payload: if poisoned { u64::MAX } else { id << 32 | seq },
                reply: reply.clone(),
            },
        );
        match reply.receive_timeout(REPLY_TIMEOUT) {
            Some(_) => {
                let nanos = started.elapsed().as_nanos() as u64;
                latencies.record(nanos.max(1)).unwrap();
            }
            None => failed += 1,
        }
    }
    send(&root, ClientDone { latencies, failed });
}

/// What the root saw of the exporter's kill.
struct Kill {
    pid: Pid,
    cleanup_after: Duration,
    reason: ExitReason,
    name_freed: bool,
}

/// The exit reason of `pid`, waiting for it through an exit hook.
fn wait_for_exit(pid: &Pid) -> ExitReason {
    let me = self_pid();
    pid.on_exit(move |reason| send(&me, reason.clone()));
    receive::<ExitReason>()
}

fn micros(nanos: u64) -> String {
    if nanos >= 1_000_000 {
        format!("{:.1} ms", nanos as f64 / 1e6)
    } else {
        format!("{:.1} µs", nanos as f64 / 1e3)
    }
}

fn main() {
    // One line per crash instead of the default panic report.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("?");
        eprintln!("  [a process panicked at {place}: {message}]");
    }));
    let runtime = Runtime::new().expect("a runtime with the default settings");
    println!(
        "ferrotp service demo: {} workers, {SHARDS} shards x {SESSIONS} sessions, \
         {CLIENTS} clients x {REQUESTS} requests",
        runtime.workers()
    );
    let started = Instant::now();
    let (latencies, failed, crashes, kill) = runtime.block_on(move || {
        let root = self_pid();
        let exporter = {
            let root = root.clone();
            spawn(move || exporter(root))
        };
        register("exporter", &exporter).expect("a free name");
        let shards: Vec<Pid> = (0..SHARDS)
            .map(|index| {
                let root = root.clone();
                spawn(move || shard(index, root))
            })
            .collect();
        for id in 0..CLIENTS {
            let (shards, root) = (shards.clone(), root.clone());
            spawn(move || client(id, shards, root));
        }
        let mut latencies = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
        let mut failed = 0;
        let mut crashes = Vec::new();
        let mut done = 0;
        while done < CLIENTS {
            Select::new()
                .on(|result: ClientDone| {
                    latencies.add(&result.latencies).unwrap();
                    failed += result.failed;
                    done += 1;
                })
                .on(|crash: Crash| crashes.push(crash))
                .wait();
        }
        let elapsed = started.elapsed();
        // The exporter is stuck: kill it, and see its cleanup run.
        let stuck = whereis("exporter").expect("registered");
        let killed_at = Instant::now();
        exit(&stuck, ExitReason::Kill);
        receive::<ConnectionClosed>();
        let kill = Kill {
            pid: stuck.clone(),
            cleanup_after: killed_at.elapsed(),
            reason: wait_for_exit(&stuck),
            name_freed: whereis("exporter").is_none(),
        };
        (latencies, failed, crashes, (elapsed, kill))
    });
    let (elapsed, kill) = kill;
    let ok = latencies.len();
    println!(
        "  requests ok      {ok} in {:.2} s ({:.0} requests/s)",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64()
    );
    println!("  failed           {failed} (timed out: their session had crashed)");
    println!(
        "  latency          p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        micros(latencies.value_at_quantile(0.50)),
        micros(latencies.value_at_quantile(0.90)),
        micros(latencies.value_at_quantile(0.99)),
        micros(latencies.value_at_quantile(0.999)),
        micros(latencies.max())
    );
    println!(
        "  crashes reported {} (each session restarted):",
        crashes.len()
    );
    for crash in &crashes {
        println!(
            "    shard {}: session {} ended: {}",
            crash.shard, crash.session, crash.reason
        );
    }
    println!(
        "  killed           exporter {}: connection closed by its destructor {} after the \
         kill; exit reason {}; name freed: {}",
        kill.pid,
        micros(kill.cleanup_after.as_nanos() as u64),
        kill.reason,
        kill.name_freed
    );
    let metrics = runtime.metrics();
    let sum = |f: fn(&ferrotp::WorkerMetrics) -> u64| metrics.workers.iter().map(f).sum::<u64>();
    println!(
        "  runtime          spawns {}, exits {}, switches {}, steals {}, parks {}, \
         dead letters {}, stacks carved {}, live processes {}",
        sum(|w| w.spawns) + metrics.external_spawns,
        sum(|w| w.exits),
        sum(|w| w.switches),
        sum(|w| w.steals),
        sum(|w| w.parks),
        metrics.dead_letters,
        metrics.stacks_carved,
        metrics.live_processes()
    );
    drop(runtime);
}
