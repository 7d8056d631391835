//! The key-value server of `examples/kv_server`, written on tokio: the
//! peer of W11 (BENCHMARKS.md), loaded by `redis-benchmark` beside the
//! ferrotp server and a real `redis-server` (`benches/kv/run.sh`).
//!
//! # Design
//!
//! It compiles the example's own `resp.rs`, `store.rs` and `buffer.rs`,
//! so that the protocol, the commands, the key space and the read buffer
//! are the ferrotp server's to the byte: the two differ only in their
//! runtime. What is tokio's is
//! written as a tokio engineer would write it for throughput:
//!
//! * tokio's multi-thread runtime (`--threads`, default 2, the
//!   benchmarks' setting); the accept loop is a spawned task, not the
//!   `block_on` future; a task per connection, `TCP_NODELAY` set.
//! * Pipelining: a connection reads into its buffer (`buffer.rs`), runs
//!   every complete request in it, and writes all their replies with one
//!   `write_all` before it reads again.
//! * The key space, by `--store`:
//!   - `mutex` (the default, and what the benchmark runs): `--shards`
//!     `std::sync::Mutex<Store>`s, each locked for one command and never
//!     across an `.await`, as tokio's tutorial ("Shared state") advises
//!     for a sharded map. A command costs a lock and no task switch: the
//!     fastest design tokio offers here.
//!   - `tasks`: a task per shard owning its `Store`, fed by a bounded
//!     `tokio::sync::mpsc` channel, each command answered on a `oneshot`
//!     (tokio's actor pattern). A connection sends all the commands of a
//!     batch before it awaits their replies, in order. This is the
//!     like-for-like peer of the ferrotp server's shard actors.
//! * Keys that expire are removed when touched, and by a sweep every
//!   100 ms.
//! * Bad input: the protocol error as Redis sends it (after the replies
//!   of the requests before it), then the connection is closed; an I/O
//!   error or a client that goes away ends its task only.
//!
//! Run: `cargo run --release -p ferrotp-benches --bin kv_tokio -- --port
//! 6381 [--shards 4] [--threads 2] [--store mutex|tasks]`. It prints
//! `kv_tokio listening on 127.0.0.1:PORT` once it accepts connections.

#[allow(dead_code)]
#[path = "../../examples/kv_server/buffer.rs"]
mod buffer;
#[allow(dead_code)]
#[path = "../../examples/kv_server/resp.rs"]
mod resp;
#[allow(dead_code)]
#[path = "../../examples/kv_server/store.rs"]
mod store;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use buffer::{READ_ROOM, ReadBuffer};
use resp::{Args, Reply};
use store::{Command, Join, Route, Store};

/// How often expired keys are swept out.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// Commands a shard task's channel holds before senders wait.
const SHARD_QUEUE: usize = 1024;

/// What the command line asks for.
struct Options {
    port: u16,
    shards: usize,
    threads: usize,
    store: StoreKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Mutex,
    Tasks,
}

const USAGE: &str =
    "usage: kv_tokio [--port PORT] [--shards N] [--threads N] [--store mutex|tasks]";

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            port: 6381,
            shards: 4,
            threads: 2,
            store: StoreKind::Mutex,
        };
        while let Some(flag) = args.next() {
            // `cargo bench` passes `--bench` to a target it runs.
            if flag == "--bench" {
                continue;
            }
            let value = args
                .next()
                .ok_or(format!("{flag} needs a value\n{USAGE}"))?;
            let number = |what: &str| -> Result<usize, String> {
                value
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("{what} {value:?}: expected a number above 0"))
            };
            match flag.as_str() {
                "--port" => {
                    options.port = value
                        .parse()
                        .map_err(|_| format!("--port {value:?}: expected 0 to 65535"))?;
                }
                "--shards" => options.shards = number("--shards")?,
                "--threads" => options.threads = number("--threads")?,
                "--store" => {
                    options.store = match value.as_str() {
                        "mutex" => StoreKind::Mutex,
                        "tasks" => StoreKind::Tasks,
                        _ => return Err(format!("--store {value:?}: expected mutex or tasks")),
                    };
                }
                _ => return Err(format!("unknown option {flag:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

/// A command for a shard task, and where its reply goes.
enum ShardMessage {
    Run(Command, oneshot::Sender<Reply>),
    Sweep,
}

/// The key space, shared by every connection (module docs).
#[derive(Clone)]
enum KeySpace {
    Locked(Arc<[Mutex<Store>]>),
    Tasks(Arc<[mpsc::Sender<ShardMessage>]>),
}

/// A reply not yet known (the `tasks` key space).
enum Pending {
    Ready(Reply),
    One(oneshot::Receiver<Reply>),
    Split(Vec<oneshot::Receiver<Reply>>, Join),
}

fn shard_failed() -> Reply {
    Reply::error("ERR shard unavailable")
}

impl KeySpace {
    fn start(kind: StoreKind, shards: usize) -> KeySpace {
        match kind {
            StoreKind::Mutex => {
                let stores: Arc<[Mutex<Store>]> = (0..shards).map(|_| Mutex::default()).collect();
                let swept = Arc::clone(&stores);
                tokio::spawn(async move {
                    let mut ticks = tokio::time::interval(SWEEP_EVERY);
                    loop {
                        ticks.tick().await;
                        for store in swept.iter() {
                            lock(store).sweep_expired(Instant::now());
                        }
                    }
                });
                KeySpace::Locked(stores)
            }
            StoreKind::Tasks => {
                let senders: Arc<[mpsc::Sender<ShardMessage>]> = (0..shards)
                    .map(|_| {
                        let (sender, receiver) = mpsc::channel(SHARD_QUEUE);
                        tokio::spawn(shard_task(receiver));
                        sender
                    })
                    .collect();
                let ticked = Arc::clone(&senders);
                tokio::spawn(async move {
                    let mut ticks = tokio::time::interval(SWEEP_EVERY);
                    loop {
                        ticks.tick().await;
                        for shard in ticked.iter() {
                            let _ = shard.send(ShardMessage::Sweep).await;
                        }
                    }
                });
                KeySpace::Tasks(senders)
            }
        }
    }

    /// Runs `batch` in order, and appends the replies to `out`.
    async fn run(&self, batch: Vec<Args>, out: &mut Vec<u8>) {
        match self {
            KeySpace::Locked(stores) => {
                let execute =
                    |shard: usize, command| lock(&stores[shard]).execute(command, Instant::now());
                for args in batch {
                    let reply = match Route::of(args, stores.len()) {
                        Route::Reply(reply) => reply,
                        Route::Shard(shard, command) => execute(shard, command),
                        Route::Split(parts, join) => join.join(
                            parts
                                .into_iter()
                                .map(|(shard, command)| execute(shard, command))
                                .collect(),
                        ),
                    };
                    reply.encode(out);
                }
            }
            KeySpace::Tasks(shards) => {
                // Every command of the batch is sent before any reply is
                // awaited, so the shards work on them meanwhile.
                let mut pending = Vec::with_capacity(batch.len());
                for args in batch {
                    pending.push(match Route::of(args, shards.len()) {
                        Route::Reply(reply) => Pending::Ready(reply),
                        Route::Shard(shard, command) => {
                            Pending::One(send(&shards[shard], command).await)
                        }
                        Route::Split(parts, join) => {
                            let mut receivers = Vec::with_capacity(parts.len());
                            for (shard, command) in parts {
                                receivers.push(send(&shards[shard], command).await);
                            }
                            Pending::Split(receivers, join)
                        }
                    });
                }
                for pending in pending {
                    let reply = match pending {
                        Pending::Ready(reply) => reply,
                        Pending::One(receiver) => receiver.await.unwrap_or_else(|_| shard_failed()),
                        Pending::Split(receivers, join) => {
                            let mut replies = Vec::with_capacity(receivers.len());
                            for receiver in receivers {
                                replies.push(receiver.await.unwrap_or_else(|_| shard_failed()));
                            }
                            join.join(replies)
                        }
                    };
                    reply.encode(out);
                }
            }
        }
    }
}

/// A shard's lock; a panic under it (there is none in `Store`) would not
/// make the shard unusable.
fn lock(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends `command` to a shard task: the receiver of its reply (a task
/// that has gone drops the sender, and the receiver reads as an error).
async fn send(shard: &mpsc::Sender<ShardMessage>, command: Command) -> oneshot::Receiver<Reply> {
    let (reply, receiver) = oneshot::channel();
    let _ = shard.send(ShardMessage::Run(command, reply)).await;
    receiver
}

async fn shard_task(mut messages: mpsc::Receiver<ShardMessage>) {
    let mut store = Store::new();
    while let Some(message) = messages.recv().await {
        match message {
            ShardMessage::Run(command, reply) => {
                let _ = reply.send(store.execute(command, Instant::now()));
            }
            ShardMessage::Sweep => {
                store.sweep_expired(Instant::now());
            }
        }
    }
}

/// Serves one client until it leaves, breaks the protocol, or fails.
async fn serve(mut stream: TcpStream, keyspace: KeySpace) {
    let mut input = ReadBuffer::new();
    let mut output: Vec<u8> = Vec::with_capacity(READ_ROOM);
    loop {
        match stream.read(input.room()).await {
            Ok(0) | Err(_) => return,
            Ok(n) => input.filled(n),
        }
        let (batch, broken) = input.requests();
        keyspace.run(batch, &mut output).await;
        if let Some(error) = &broken {
            error.reply().encode(&mut output);
        }
        if !output.is_empty() {
            if stream.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
        }
        if broken.is_some() {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Accepts clients until the listener fails: why it failed.
async fn listen(options: Options) -> std::io::Error {
    let listener = match TcpListener::bind(("127.0.0.1", options.port)).await {
        Ok(listener) => listener,
        Err(error) => return error,
    };
    let keyspace = KeySpace::start(options.store, options.shards);
    match listener.local_addr() {
        Ok(address) => println!("kv_tokio listening on {address}"),
        Err(error) => return error,
    }
    loop {
        // A failed accept (out of file descriptors, say) is that client's
        // loss, not the server's end.
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, keyspace.clone()));
    }
}

fn main() {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("kv_tokio: {message}");
            std::process::exit(2);
        }
    };
    let port = options.port;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // The accept loop runs as a spawned task, as a server's would.
    let error = runtime
        .block_on(runtime.spawn(listen(options)))
        .expect("the accept loop does not panic");
    eprintln!("kv_tokio: port {port}: {error}");
    std::process::exit(1);
}
