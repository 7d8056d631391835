//! `--bench`: the README's demo. The server runs in this process, the
//! load generator's clients load it over loopback, and a third of the way
//! through, a shard actor is crashed and one connection's process is
//! killed, to show what supervision keeps alive.
//!
//! # What it shows
//!
//! * Throughput and latency percentiles (p50, p99, p99.9) of `SET`/`GET`
//!   from 50 clients, as `redis-benchmark` would report them.
//! * A shard's crash: its supervisor restarts it (a new pid, the same
//!   address), the commands of the batch it crashed on are answered
//!   with an error, the batches queued behind it go to its replacement,
//!   and the clients whose commands went elsewhere never notice.
//! * A connection killed: its process unwinds, its socket closes, its
//!   client reconnects, and no other connection notices.
//! * The tree at the end: the connections supervisor's children, the
//!   restarts counted, and nothing left behind once the server stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ferrotp::{Down, ExitReason, Pid, Runtime, exit, monitor, receive_match, sleep};

use crate::loadgen;
use crate::server::{self, ShardMessage};
use crate::{Options, print_load};

/// What the root saw of the crash and the kill.
struct Chaos {
    shard: usize,
    crashed: Pid,
    reason: ExitReason,
    replacement: Pid,
    restarted_after: Duration,
    killed: Option<Pid>,
}

/// Runs the demo (module docs).
pub fn run(runtime: Runtime, options: &Options) {
    let runtime = Arc::new(runtime);
    let server_options = server::Options {
        shards: options.shards,
        ..server::Options::default()
    };
    let server = runtime
        .block_on(move || server::start("127.0.0.1:0", server_options))
        .expect("the server starts on a port of the system's choice");
    let load = options.load.clone();
    println!(
        "ferrotp kv_server demo: {} workers, {} shards; {} clients x {} requests, pipeline {}, \
         SET/GET over {} keys",
        runtime.workers(),
        options.shards,
        load.clients,
        load.requests / load.clients as u64,
        load.pipeline,
        load.keys
    );

    let progress = Arc::new(AtomicU64::new(0));
    let chaos = {
        let (runtime, progress, server) =
            (Arc::clone(&runtime), Arc::clone(&progress), server.clone());
        let third = load.requests / 3;
        thread::spawn(move || {
            // The demo's own pacing, not a synchronisation: the crash
            // lands a third of the way through, whenever that is.
            while progress.load(Ordering::Relaxed) < third {
                thread::sleep(Duration::from_millis(1));
            }
            runtime.block_on(move || crash_and_kill(&server))
        })
    };
    let report = loadgen::run(server.address(), &load, &progress);
    let chaos = chaos.join().expect("the chaos thread does not panic");
    let connections_left = runtime.block_on({
        let server = server.clone();
        move || server.connections().map(|c| c.len()).unwrap_or(0)
    });
    let live_running = runtime.metrics().live_processes();
    runtime
        .block_on(move || server.stop())
        .expect("the server was running");

    print_load(&report);
    println!(
        "  shard crash      shard {} {} ended ({}), restarted by its supervisor as {} \
         after {:.0} µs, at the same address",
        chaos.shard,
        chaos.crashed,
        chaos.reason,
        chaos.replacement,
        chaos.restarted_after.as_secs_f64() * 1e6
    );
    match &chaos.killed {
        Some(pid) => println!(
            "  connection kill  {pid} killed: its socket closed as it unwound, its client \
             reconnected"
        ),
        None => println!("  connection kill  no connection was open to kill"),
    }
    println!(
        "  isolation        {} of {} clients saw no error and no broken connection",
        report.untroubled_clients, load.clients
    );
    println!(
        "  teardown         {connections_left} connection processes open after the load \
         (each client closed its own); {live_running} processes alive before the stop, {} after",
        runtime.metrics().live_processes()
    );
}

/// Crashes shard 0 and waits for its replacement; kills one connection.
fn crash_and_kill(server: &server::Server) -> Chaos {
    let shard = 0;
    let address = &server.shards()[shard];
    let crashed = address.pid();
    let watch = monitor(&crashed);
    let at = Instant::now();
    address.send(ShardMessage::Crash);
    let reason = receive_match::<Down>(|down| down.monitor == watch).reason;
    let replacement = loop {
        let now = address.pid();
        if now != crashed {
            break now;
        }
        sleep(Duration::from_micros(100));
    };
    let restarted_after = at.elapsed();
    let killed = server
        .connections()
        .ok()
        .and_then(|pids| pids.into_iter().next());
    if let Some(pid) = &killed {
        exit(pid, ExitReason::Kill);
    }
    Chaos {
        shard,
        crashed,
        reason,
        replacement,
        restarted_after,
        killed,
    }
}
