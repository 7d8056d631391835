//! The README's demo: a small request/response service on ferrotp, kept
//! alive by a supervision tree.
//!
//! ```text
//! root ── app (supervisor, one_for_one)
//!          ├── exporter (actor)               registered "exporter"
//!          ├── shard 0 (supervisor, one_for_one)
//!          │     ├── router (actor)
//!          │     └── session 0..SESSIONS      actors, registered "shard0.sessionN"
//!          └── shard 1 (the same)
//! clients 0..CLIENTS: call a router, wait for the reply, repeat
//! ```
//!
//! Every server is an actor under a supervisor, reached through the
//! address `actor::child` gave for it, which follows its restarts. Each
//! client calls a shard's router with a request that carries its reply
//! address; the router forwards it to one of its sessions; the session
//! computes a digest (spending reductions, so long work is shared fairly)
//! and replies. A few requests are poisoned: their session panics. Only
//! that process dies, and the shard's supervisor restarts the session;
//! the router's address for it reaches the replacement. The root hears
//! each session start (its init says so) and watches it with a monitor,
//! and reports each crash and its replacement.
//!
//! A crash loses only the poisoned request: the crashing session hands
//! the requests still queued for it to its replacement, and what is sent
//! while it restarts is held for the replacement (module `actor`: under a
//! supervisor). Its caller learns why at once: its session ended with a
//! panic. Each request records where it ended (`Fate`), and the report
//! breaks the failures down that way.
//!
//! The exporter holds a connection in its state and waits for a flush
//! that never comes; at the end the root kills it (`exit(pid, Kill)`):
//! no `terminate` runs on a kill, but the state is dropped, so the
//! connection's destructor runs, and the app supervisor restarts the
//! exporter under its name. Then the root stops the whole tree (children
//! in reverse start order), reports any process left behind, and checks
//! that every request is accounted for. It prints throughput, latency
//! percentiles, the failures by cause, the crashes and restarts, and the
//! runtime's counters, each with a short legend.
//!
//! Run: `cargo run --release --example service`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrotp::actor::{self, ActorRef, Next};
use ferrotp::{
    CallError, ChildSpec, Down, ExitReason, MonitorRef, Pid, ReplyTo, Runtime, Select, Strategy,
    SupervisorSpec, exit, monitor, receive, reduce, self_pid, send, spawn, whereis,
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
    reply: Option<ReplyTo<u64>>,
    /// Set by whoever handles it last; counted when it is dropped.
    fate: Fate,
}

impl Work {
    fn new(client: u64, seq: u64, payload: u64, reply: ReplyTo<u64>) -> Self {
        let reply = Some(reply);
        Work {
            client,
            seq,
            payload,
            reply,
            fate: Fate::Pending,
        }
    }
}

/// Where a request ended. Each is dropped exactly once, so counting fates
/// at the drop accounts for every request with no lookups on its path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Not handled yet.
    Pending,
    /// Its session replied (in time or not: only the client knows).
    Answered,
    /// Its session panicked on it.
    Poisoned,
    /// Dropped unread with a crashed session (none should be: they are
    /// handed to its replacement).
    QueuedInCrash,
    /// A dead letter: sent to a session that had ended, with no
    /// replacement coming.
    SentToEnded,
    /// Still on its way when the tree was stopped (its client had given up).
    InFlightAtStop,
}

const FATES: usize = 6;

/// Requests by fate; see `Fate`. Statics, because `Drop` and the
/// dead-letter hook have no other way in. Relaxed: each count is made by
/// a process of the tree before it ends, and the root reads them once
/// `stop` has returned, which the children's exit signals order after
/// their ends.
static FATE_COUNTS: [AtomicU64; FATES] = [const { AtomicU64::new(0) }; FATES];

/// Set by the root before it stops the tree: from then on an unanswered
/// request was stopped, not lost to a crash. Relaxed: the stop request
/// sent after the store orders it before every drop the stop causes, and
/// the crashes' drops came before the root saw their replacements.
static STOPPING: AtomicBool = AtomicBool::new(false);

fn count(fate: Fate, n: u64) {
    FATE_COUNTS[fate as usize].fetch_add(n, Ordering::Relaxed);
}

fn counted(fate: Fate) -> u64 {
    FATE_COUNTS[fate as usize].load(Ordering::Relaxed)
}

impl Drop for Work {
    fn drop(&mut self) {
        let fate = match self.fate {
            // Counted in bulk by its session (`Replies`).
            Fate::Answered => return,
            // The stop drops whatever is left, by whichever path.
            _ if STOPPING.load(Ordering::Relaxed) => Fate::InFlightAtStop,
            // Dropped without being handled: it was unread in a mailbox
            // as its process ended, and before the stop only sessions end
            // (by crashing).
            Fate::Pending => Fate::QueuedInCrash,
            fate => fate,
        };
        count(fate, 1);
    }
}

/// A session's replies so far, counted as it ends: a counter shared by
/// every session, bumped per request, would be contended on the hot path.
struct Replies(u64);

impl Drop for Replies {
    fn drop(&mut self) {
        count(Fate::Answered, self.0);
    }
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

/// A session's spec and its address, which follows its restarts. Its init
/// tells the root it has (re)started.
fn session(shard: usize, slot: usize, root: &Pid) -> (ChildSpec, ActorRef<Work>) {
    let root = root.clone();
    actor::child(format!("session {slot}"), move |builder| {
        let root = root.clone();
        builder
            .name(session_name(shard, slot))
            .start_with(move |_| {
                let pid = self_pid();
                send(&root, SessionStarted { shard, slot, pid });
                Ok(Session {
                    replies: Replies(0),
                })
            })
    })
}

/// A session's state: its count of replies, counted as it ends (dropped
/// with the state: by the unwind of a crash or of the stop).
struct Session {
    replies: Replies,
}

impl actor::Actor for Session {
    type Message = Work;

    fn handle(&mut self, mut work: Work, _: &mut actor::Context<Work>) -> Next {
        if work.payload == u64::MAX {
            work.fate = Fate::Poisoned;
            panic!("poison request {}:{}", work.client, work.seq);
        }
        let digest = digest(work.payload);
        // Counted before the reply: the reply's reduction may be where
        // the stop's exit signal unwinds this session, after it went.
        work.fate = Fate::Answered;
        self.replies.0 += 1;
        if let Some(reply) = work.reply.take() {
            reply.send(digest);
        }
        Next::CONTINUE
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

/// The exporter: an actor whose state holds the connection.
fn exporter(root: &Pid) -> ChildSpec {
    let root = root.clone();
    let (spec, _address) = actor::child("exporter", move |builder| {
        let connection = Connection { root: root.clone() };
        builder
            .name("exporter")
            .start_fn(connection, |Flush, connection| Next::Continue(connection))
    });
    spec
}

/// Forwards each request to its session, through the session's address,
/// which follows its restarts: the router never has to know of them.
fn router(sessions: Vec<ActorRef<Work>>) -> (ChildSpec, ActorRef<Work>) {
    let sessions: Arc<[ActorRef<Work>]> = sessions.into();
    actor::child("router", move |builder| {
        builder.start_fn(Arc::clone(&sessions), |work: Work, sessions| {
            let slot = (work.client as usize + work.seq as usize) % SESSIONS;
            sessions[slot].send(work);
            Next::Continue(sessions)
        })
    })
}

/// The tree of the module docs, and the routers' addresses.
fn app(root: &Pid) -> (SupervisorSpec, Vec<ActorRef<Work>>) {
    let mut routers = Vec::new();
    let shards: Vec<ChildSpec> = (0..SHARDS)
        .map(|shard| {
            let (sessions, addresses): (Vec<ChildSpec>, Vec<ActorRef<Work>>) =
                (0..SESSIONS).map(|slot| session(shard, slot, root)).unzip();
            let (router_spec, router_address) = router(addresses);
            routers.push(router_address);
            let spec = SupervisorSpec::new(Strategy::OneForOne)
                // A few poisoned requests must not exhaust the restarts.
                .intensity(20, Duration::from_secs(1))
                .child(router_spec)
                .children(sessions);
            ChildSpec::supervisor(format!("shard {shard}"), spec)
        })
        .collect();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(5, Duration::from_secs(1))
        .child(exporter(root))
        .children(shards);
    (spec, routers)
}

/// How a client's requests went.
struct ClientDone {
    latencies: Histogram<u64>,
    /// Calls that ended because the session handling them ended.
    failed_crashed: u64,
    /// Calls with no reply within the timeout.
    failed_slow: u64,
}

fn client(id: u64, routers: Arc<[ActorRef<Work>]>, root: Pid) {
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let (mut failed_crashed, mut failed_slow) = (0, 0);
    for seq in 0..REQUESTS {
        let poisoned = seq == 50 && POISONED_CLIENTS.contains(&id);
        let started = Instant::now();
        let payload = if poisoned { u64::MAX } else { id << 32 | seq };
        let router = &routers[(id as usize + seq as usize) % SHARDS];
        match router.call(|reply| Work::new(id, seq, payload, reply), REPLY_TIMEOUT) {
            Ok(_) => {
                let nanos = started.elapsed().as_nanos() as u64;
                latencies.record(nanos.max(1)).unwrap();
            }
            Err(CallError::Exited(_)) => failed_crashed += 1,
            Err(_) => failed_slow += 1,
        }
    }
    send(
        &root,
        ClientDone {
            latencies,
            failed_crashed,
            failed_slow,
        },
    );
}

/// The clients' failed calls, by what the call said.
#[derive(Default)]
struct Failed {
    /// The session handling it ended (`CallError::Exited`).
    crashed: u64,
    /// No reply in time.
    slow: u64,
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
    /// The runtime's counters once the tree has gone, read by the root:
    /// after `block_on` returns, the root's own exit may or may not have
    /// been counted yet.
    metrics: ferrotp::Metrics,
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
    // Each crash is reported by the runtime as the crash of its process
    // (pid, registered name, where, why), on standard error, or through
    // `tracing` if the program installs a subscriber.
    let runtime = Runtime::builder()
        // A request routed to a session that has just ended comes here.
        .dead_letter_hook(|letter| {
            if let Ok(mut work) = letter.message.downcast::<Work>() {
                work.fate = Fate::SentToEnded;
            }
        })
        .build()
        .expect("a runtime with the default settings");
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
        let (app, routers) = app(&root);
        let app = app.start_link().expect("the tree starts");
        // Watch every session as it (re)starts.
        let mut watched: Vec<(MonitorRef, usize, usize, Pid)> = Vec::new();
        let watch = |watched: &mut Vec<_>, started: SessionStarted| {
            let m = monitor(&started.pid);
            watched.push((m, started.shard, started.slot, started.pid));
        };
        for _ in 0..SHARDS * SESSIONS {
            watch(&mut watched, receive::<SessionStarted>());
        }
        let routers: Arc<[ActorRef<Work>]> = routers.into();
        for id in 0..CLIENTS {
            let (routers, root) = (Arc::clone(&routers), root.clone());
            spawn(move || client(id, routers, root));
        }
        let mut latencies = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
        let mut failed = Failed::default();
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
                    failed.crashed += result.failed_crashed;
                    failed.slow += result.failed_slow;
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
                        // The replacement may have reported before this
                        // `Down` (the supervisor's link hook runs before
                        // our monitor's, and the restart can win the race).
                        let replacement = watched
                            .iter()
                            .find(|(_, s, sl, _)| (*s, *sl) == (shard, slot))
                            .map(|(.., pid)| pid.clone());
                        crashes.push(Crash {
                            shard,
                            slot,
                            session,
                            reason: down.reason,
                            replacement,
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
        STOPPING.store(true, Ordering::Relaxed);
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
            metrics: metrics_of.metrics(),
        };
        (latencies, failed, crashes, (elapsed, kill, teardown))
    });
    let (elapsed, kill, teardown) = kill;
    report(elapsed, &latencies, &failed, &crashes, &kill, &teardown);
    drop(runtime);
}

/// Prints the results, each figure with what it means.
fn report(
    elapsed: Duration,
    latencies: &Histogram<u64>,
    failed: &Failed,
    crashes: &[Crash],
    kill: &Kill,
    teardown: &Teardown,
) {
    // A label column, then the figures; continuation lines line up with
    // the figures.
    let line = |label: &str, text: &str| println!("  {label:<17}{text}");
    let more = |text: &str| println!("{:19}{text}", "");
    let timeout = format!("{} ms", REPLY_TIMEOUT.as_millis());
    let total = CLIENTS * REQUESTS;
    let ok = latencies.len();
    line(
        "requests ok",
        &format!(
            "{ok} of {total} answered within {timeout}, in {:.2} s ({:.0} requests/s)",
            elapsed.as_secs_f64(),
            ok as f64 / elapsed.as_secs_f64()
        ),
    );

    // The clients count the failures; the fates say why. Each request has
    // one fate, so the fates add up to all the requests; the answered ones
    // that no client saw in time were late.
    let answered = counted(Fate::Answered);
    let poisoned = counted(Fate::Poisoned);
    let queued = counted(Fate::QueuedInCrash);
    let to_ended = counted(Fate::SentToEnded);
    let at_stop = counted(Fate::InFlightAtStop);
    assert_eq!(
        answered + poisoned + queued + to_ended + at_stop,
        total,
        "every request has one fate"
    );
    let late = answered
        .checked_sub(ok)
        .expect("the clients saw only answered requests in time");
    let failed_total = failed.crashed + failed.slow;
    assert_eq!(ok + failed_total, total, "every request is ok or failed");
    assert_eq!(
        failed.crashed, poisoned,
        "a call fails with its session's end exactly when its request crashed the session"
    );
    line(
        "failed",
        &format!("{failed_total} got no reply within {timeout}, because they were"),
    );
    let width = failed_total.to_string().len();
    let cause = |n: u64, why: &str| more(&format!("{n:>width$}  {why}"));
    cause(
        poisoned,
        "poisoned: their session panicked on them (the call said so at once)",
    );
    cause(
        queued,
        "queued in a crashed session's mailbox and lost (they are handed to its replacement)",
    );
    cause(
        to_ended,
        "sent to a session that had ended, with no replacement coming (dead letters)",
    );
    cause(
        late + at_stop,
        &format!("slow: answered after {timeout}, or still queued when the tree stopped"),
    );

    line(
        "round trip",
        &format!(
            "p50 {}  p90 {}  p99 {}  p99.9 {}  max {} (requests ok)",
            micros(latencies.value_at_quantile(0.50)),
            micros(latencies.value_at_quantile(0.90)),
            micros(latencies.value_at_quantile(0.99)),
            micros(latencies.value_at_quantile(0.999)),
            micros(latencies.max())
        ),
    );
    line(
        "crashes",
        &format!(
            "{} sessions, each restarted by its supervisor under its name, with a new pid, \
             at the same address:",
            crashes.len()
        ),
    );
    for crash in crashes {
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
    line(
        "killed",
        &format!(
            "exporter {}, exit reason {}; restarted as {} under its name",
            kill.pid, kill.reason, kill.replacement
        ),
    );
    more(&format!(
        "its connection's destructor ran {} after the kill",
        micros(kill.cleanup_after.as_nanos() as u64)
    ));
    let tree = teardown.live_running - teardown.live_before_start;
    let left = teardown
        .live_after_stop
        .saturating_sub(teardown.live_before_start);
    line(
        "teardown",
        &format!(
            "app supervisor stopped: processes alive {} before, {} after ({})",
            teardown.live_running,
            teardown.live_after_stop,
            if left == 0 {
                "the root alone, as at the start".to_owned()
            } else {
                format!("{left} left behind")
            }
        ),
    );

    let metrics = &teardown.metrics;
    let sum = |f: fn(&ferrotp::WorkerMetrics) -> u64| metrics.workers.iter().map(f).sum::<u64>();
    let by_reason = [
        (sum(|w| w.exits_by_reason.normal), "normal"),
        (sum(|w| w.exits_by_reason.shutdown), "shutdown"),
        (sum(|w| w.exits_by_reason.killed), "killed"),
        (sum(|w| w.exits_by_reason.panic), "panic"),
        (sum(|w| w.exits_by_reason.noproc), "noproc"),
        (sum(|w| w.exits_by_reason.stack_overflow), "stack overflow"),
        (sum(|w| w.exits_by_reason.custom), "other"),
        (metrics.external_exits, "never ran"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, reason)| format!("{n} {reason}"))
    .collect::<Vec<_>>()
    .join(", ");
    // The exporter's restart is one more than the sessions'.
    let restarts = crashes.len() + 1;
    line(
        "runtime",
        "counters for the whole run, summed over the workers:",
    );
    let counter = |name: &str, n: u64, what: &str| println!("    {name:<15}{n:>7}  {what}");
    counter(
        "spawns",
        sum(|w| w.spawns) + metrics.external_spawns,
        &format!(
            "processes started: {tree} in the tree, {CLIENTS} clients, {restarts} restarts, the root"
        ),
    );
    counter(
        "exits",
        sum(|w| w.exits) + metrics.external_exits,
        &format!("processes ended, by reason: {by_reason}"),
    );
    counter(
        "switches",
        sum(|w| w.switches),
        "times a worker resumed a process",
    );
    counter(
        "steals",
        sum(|w| w.steals),
        "times an idle worker took up to half of another's run queue",
    );
    counter(
        "parks",
        sum(|w| w.parks),
        "times a worker thread slept, having nothing to run",
    );
    counter(
        "dead letters",
        metrics.dead_letters,
        "messages sent to processes that had ended",
    );
    counter(
        "stacks carved",
        metrics.stacks_carved as u64,
        "process stacks allocated; reused, so about the peak number alive",
    );
    counter(
        "live processes",
        metrics.live_processes(),
        "spawns - exits: the root, which reads these counters",
    );
}
