//! The README's demo: a small request/response service on ferrotp, kept
//! alive by a supervision tree.
//!
//! ```text
//! root ── app (supervisor, one_for_one)
//!          ├── exporter                       registered "exporter"
//!          ├── shard 0 (supervisor, one_for_one)
//!          │     ├── router                   registered "shard0"
//!          │     └── session 0..SESSIONS      registered "shard0.sessionN"
//!          └── shard 1 (the same)
//! clients 0..CLIENTS: request to a router, wait for the reply on a
//! Subject, repeat
//! ```
//!
//! Each client sends requests to a shard's router, which forwards them to
//! one of its sessions by registered name; the session computes a digest
//! (spending reductions, so long work is shared fairly) and replies through
//! the client's `Subject`. A few requests are poisoned: their session
//! panics. Only that process dies; its client's request times out, and the
//! shard's supervisor restarts the session under the same name, so the
//! router needs to know nothing. The root watches every session with a
//! monitor and reports each crash and its replacement.
//!
//! The exporter holds a connection and waits for a flush that never
//! comes; at the end the root kills it (`exit(pid, Kill)`): the
//! connection's destructor runs, and the app supervisor restarts the
//! exporter under its name. Then the root stops the whole tree (children
//! in reverse start order) and checks that no process was left behind. It
//! prints throughput, latency percentiles, the crashes and restarts, and
//! the runtime's counters.
//!
//! Run: `cargo run --release --example service`

use std::time::{Duration, Instant};

use std::sync::Arc;

use ferrotp::{
    ChildSpec, Down, ExitReason, MonitorRef, Pid, Runtime, Select, Strategy, Subject,
    SupervisorSpec, exit, monitor, receive, reduce, register, self_pid, send, send_named, spawn,
    whereis,
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

/// A session tells the root it has (re)started.
struct SessionStarted {
    shard: usize,
    slot: usize,
    pid: Pid,
}

/// A session that crashed, and what replaced it.
struct Crash {
    shard: usize,
    slot: usize,
    session: Pid,
    reason: ExitReason,
    replacement: Option<Pid>,
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

fn session_name(shard: usize, slot: usize) -> String {
    format!("shard{shard}.session{slot}")
}

fn session(shard: usize, slot: usize, root: &Pid) {
    let me = self_pid();
    register(&session_name(shard, slot), &me).expect("the name was freed with the old session");
    send(
        root,
        SessionStarted {
            shard,
            slot,
            pid: me,
        },
    );
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

fn exporter(root: &Pid) {
    register("exporter", &self_pid()).expect("a free name");
    let _connection = Connection { root: root.clone() };
    loop {
        receive::<Flush>();
    }
}

/// Forwards each request to its session, by name: a restarted session
/// has the same name, so the router never has to know.
fn router(shard: usize) {
    register(&format!("shard{shard}"), &self_pid()).expect("a free name");
    let names: Vec<String> = (0..SESSIONS)
        .map(|slot| session_name(shard, slot))
        .collect();
    loop {
        let work = receive::<Work>();
        let slot = (work.client as usize + work.seq as usize) % SESSIONS;
        // A session between its crash and its restart has no name: its
        // request is lost, and times out at the client.
        let _ = send_named(&names[slot], work);
    }
}

/// The tree of the module docs.
fn app(root: &Pid) -> SupervisorSpec {
    let exporter_root = root.clone();
    let shards = (0..SHARDS).map(|shard| {
        let sessions = (0..SESSIONS).map(move |slot| {
            let root = root.clone();
            ChildSpec::worker(format!("session {slot}"), move || {
                session(shard, slot, &root)
            })
        });
        let spec = SupervisorSpec::new(Strategy::OneForOne)
            // A few poisoned requests must not exhaust the restarts.
            .intensity(20, Duration::from_secs(1))
            .child(ChildSpec::worker("router", move || router(shard)))
            .children(sessions);
        ChildSpec::supervisor(format!("shard {shard}"), spec)
    });
    SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(1))
        .child(ChildSpec::worker("exporter", move || {
            exporter(&exporter_root)
        }))
        .children(shards.collect::<Vec<_>>())
}

fn client(id: u64, shards: Arc<[Pid]>, root: Pid) {
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
    replacement: Pid,
}

/// The root's view of the tree at the end.
struct Teardown {
    live_before_start: u64,
    live_running: u64,
    live_after_stop: u64,
}

/// The process registered as `name`, once it has registered.
fn wait_for_name(name: &str) -> Pid {
    loop {
        match whereis(name) {
            Some(pid) => return pid,
            None => ferrotp::yield_now(),
        }
    }
}

/// Waits for a `Down` of `watch`.
fn wait_down(watch: &MonitorRef) -> Down {
    ferrotp::receive_match::<Down>(|down| &down.monitor == watch)
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
    let runtime = Arc::new(runtime);
    let metrics_of = Arc::clone(&runtime);
    let started = Instant::now();
    let (latencies, failed, crashes, kill) = runtime.block_on(move || {
        let live = || metrics_of.metrics().live_processes();
        let live_before_start = live();
        let root = self_pid();
        let app = app(&root).start_link().expect("the tree starts");
        // Watch every session as it (re)starts.
        let mut watched: Vec<(MonitorRef, usize, usize, Pid)> = Vec::new();
        let watch = |watched: &mut Vec<_>, started: SessionStarted| {
            let m = monitor(&started.pid);
            watched.push((m, started.shard, started.slot, started.pid));
        };
        for _ in 0..SHARDS * SESSIONS {
            watch(&mut watched, receive::<SessionStarted>());
        }
        let shards: Arc<[Pid]> = (0..SHARDS)
            .map(|shard| wait_for_name(&format!("shard{shard}")))
            .collect();
        for id in 0..CLIENTS {
            let (shards, root) = (Arc::clone(&shards), root.clone());
            spawn(move || client(id, shards, root));
        }
        let mut latencies = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
        let mut failed = 0;
        let mut crashes: Vec<Crash> = Vec::new();
        let mut done = 0;
        enum Event {
            Done(ClientDone),
            Started(SessionStarted),
            Down(Down),
        }
        while done < CLIENTS {
            let event = Select::new()
                .on(Event::Done)
                .on(Event::Started)
                .on(Event::Down)
                .wait();
            match event {
                Event::Done(result) => {
                    latencies.add(&result.latencies).unwrap();
                    failed += result.failed;
                    done += 1;
                }
                Event::Started(started) => {
                    if let Some(crash) = crashes.iter_mut().find(|c| {
                        c.replacement.is_none()
                            && (c.shard, c.slot) == (started.shard, started.slot)
                    }) {
                        crash.replacement = Some(started.pid.clone());
                    }
                    watch(&mut watched, started);
                }
                Event::Down(down) => {
                    if let Some(at) = watched.iter().position(|(m, ..)| *m == down.monitor) {
                        let (_, shard, slot, session) = watched.swap_remove(at);
                        crashes.push(Crash {
                            shard,
                            slot,
                            session,
                            reason: down.reason,
                            replacement: None,
                        });
                    }
                }
            }
        }
        let elapsed = started.elapsed();
        // Replacements of the last crashes may still be on their way.
        while crashes.iter().any(|c| c.replacement.is_none()) {
            let started = receive::<SessionStarted>();
            if let Some(crash) = crashes.iter_mut().find(|c| {
                c.replacement.is_none() && (c.shard, c.slot) == (started.shard, started.slot)
            }) {
                crash.replacement = Some(started.pid.clone());
            }
        }
        // The exporter is stuck: kill it, see its cleanup run and the
        // supervisor restart it under its name.
        let stuck = whereis("exporter").expect("registered");
        let watch_stuck = monitor(&stuck);
        let killed_at = Instant::now();
        exit(&stuck, ExitReason::Kill);
        receive::<ConnectionClosed>();
        let cleanup_after = killed_at.elapsed();
        let reason = wait_down(&watch_stuck).reason;
        let replacement = loop {
            match whereis("exporter") {
                Some(pid) if pid != stuck => break pid,
                _ => ferrotp::yield_now(),
            }
        };
        let kill = Kill {
            pid: stuck,
            cleanup_after,
            reason,
            replacement,
        };
        // Stop the tree; every process in it ends.
        let live_running = live();
        app.stop().expect("the tree stops");
        receive::<ConnectionClosed>(); // the replacement exporter's
        let mut live_after_stop = live();
        for _ in 0..100_000 {
            if live_after_stop <= live_before_start {
                break;
            }
            ferrotp::yield_now();
            live_after_stop = live();
        }
        let teardown = Teardown {
            live_before_start,
            live_running,
            live_after_stop,
        };
        (latencies, failed, crashes, (elapsed, kill, teardown))
    });
    let (elapsed, kill, teardown) = kill;
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
        "  crashes          {} sessions crashed; their supervisor restarted each:",
        crashes.len()
    );
    for crash in &crashes {
        println!(
            "    shard {} session {}: {} ended ({}), restarted as {}",
            crash.shard,
            crash.slot,
            crash.session,
            crash.reason,
            crash
                .replacement
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string)
        );
    }
    println!(
        "  killed           exporter {}: connection closed by its destructor {} after the \
         kill; exit reason {}; restarted as {} under the same name",
        kill.pid,
        micros(kill.cleanup_after.as_nanos() as u64),
        kill.reason,
        kill.replacement
    );
    println!(
        "  teardown         app supervisor stopped: live processes {} while running, {} after \
         (before the tree: {})",
        teardown.live_running, teardown.live_after_stop, teardown.live_before_start
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
