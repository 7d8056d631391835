//! The server: a process per connection under a dynamic supervisor, the
//! key space sharded over actors under a supervisor of their own.
//!
//! # Design
//!
//! ```text
//! kv (supervisor, rest_for_one)
//!  ├── shards (supervisor, one_for_one)
//!  │     └── shard 0..N     actors, each owning one Store (store.rs)
//!  ├── connections (dynamic supervisor)
//!  │     └── connection     a process per client, temporary
//!  └── acceptor             accepts clients, starts a connection for each
//! ```
//!
//! * **A connection** is a process that owns its socket: it reads into
//!   its buffer (`buffer.rs`), takes every complete request out of it,
//!   and runs them as one batch: each request is routed (`Route`) to
//!   the shard of its key, the batch's commands for one shard travel in
//!   one message, and the replies come back in one message per shard;
//!   then all the batch's replies, in request order, go out in one
//!   write. A pipeline of 16 `GET`s of one key is thus two messages, not
//!   32. `MGET` and `DEL` over keys of several shards send a part to
//!   each and join the parts' replies. A blocking read or write suspends
//!   only this process.
//! * **A shard** is an actor whose state is a `Store`: it runs a batch's
//!   commands in order and answers the connection. Its address follows
//!   its restarts (`actor::child`), so connections never need to know of
//!   one. Each batch carries an [`Answer`]: dropped unanswered (its shard
//!   crashed on it, or had ended), it answers every command of the batch
//!   with an error, so a connection never waits for a reply that will
//!   not come; a reply slower than [`SHARD_TIMEOUT`] is an error too.
//!   A crashed shard comes back empty, as a Redis restarted without
//!   persistence; the batches queued behind the one it crashed on are
//!   handed to its replacement (module `actor`: under a supervisor).
//!   Expired keys are swept every [`SWEEP_EVERY`], on a timer of the
//!   shard's own.
//! * **Isolation.** Connections are `temporary` children: one that ends,
//!   by a client leaving, bad input or a crash, is not restarted and
//!   counts against no restart intensity; its socket closes as its
//!   process unwinds, and no other process notices. A shard's crash
//!   costs the commands of the batch it was running, nothing else.
//! * **The acceptor** owns nothing but a shared listener: if it crashes,
//!   its restart accepts on the same socket. It reaches the connections
//!   supervisor through a slot that the supervisor's start function
//!   fills; `rest_for_one` restarts the acceptor after a restart of the
//!   supervisors before it, so the slot is fresh whenever it looks.
//! * **Bad input** never gets past a connection: a protocol error is
//!   answered as Redis does (after the replies to the requests before
//!   it) and the connection is closed; a client that leaves mid-command
//!   ends only its process; more than `max_clients` clients get
//!   `-ERR max number of clients reached`, as from Redis.
//!
//! [`start`] binds, starts the tree unlinked (a server outlives the
//! process that started it) and returns a [`Server`] once it listens.

use std::io::{self, Read, Write};
use std::net::{Shutdown as SocketShutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferrotp::actor::{self, Actor, ActorRef, Context, Next};
use ferrotp::net::{TcpListener, TcpStream};
use ferrotp::{
    ChildError, ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, ExitReason, Pid, Restart,
    Shutdown, Strategy, Supervisor, SupervisorSpec, receive_timeout, self_pid, send, sleep,
};

use crate::buffer::{READ_ROOM, ReadBuffer};
use crate::resp::{Args, Reply};
use crate::store::{Command, Join, Route, Store};

/// How often a shard sweeps out its expired keys.
pub const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// How long a connection waits for a shard's replies before it answers
/// the commands still waiting with an error.
pub const SHARD_TIMEOUT: Duration = Duration::from_secs(5);

/// How a server is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Shards of the key space (at least 1).
    pub shards: usize,
    /// Clients served at once; more are told so and closed (Redis's
    /// `maxclients`).
    pub max_clients: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            shards: 4,
            max_clients: 10_000,
        }
    }
}

/// A running server, from [`start`]; a clone is another handle on it.
#[derive(Clone)]
pub struct Server {
    address: SocketAddr,
    tree: Supervisor,
    shards: Arc<[ActorRef<ShardMessage>]>,
    connections: Arc<Slot>,
}

impl Server {
    /// Where it listens (with the port the system chose for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The shards' addresses, which follow their restarts.
    pub fn shards(&self) -> &[ActorRef<ShardMessage>] {
        &self.shards
    }

    /// The processes of the connections open now.
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`] if the server has stopped.
    ///
    /// # Panics
    /// Outside a process.
    pub fn connections(&self) -> Result<Vec<Pid>, ChildError> {
        let supervisor = self
            .connections
            .get()
            .ok_or(ChildError::SupervisorDown(ExitReason::NoProc))?;
        Ok(supervisor
            .which_children()?
            .iter()
            .filter_map(|child| child.state.pid().cloned())
            .collect())
    }

    /// Stops the server: the acceptor, every connection (their sockets
    /// close), then the shards.
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`] if it had stopped already.
    ///
    /// # Panics
    /// Outside a process.
    pub fn stop(self) -> Result<(), ChildError> {
        self.tree.stop()
    }
}

/// Binds `address`, starts the server's tree, and returns once it
/// accepts clients.
///
/// # Errors
/// The bind's error (an address in use, say), or the tree's start
/// failure as [`io::ErrorKind::Other`].
///
/// # Panics
/// Outside a process; if `options.shards` is 0.
pub fn start(address: impl ToSocketAddrs, options: Options) -> io::Result<Server> {
    assert!(options.shards > 0, "a key space needs at least one shard");
    let listener = Arc::new(TcpListener::bind(address)?);
    let address = listener.local_addr()?;

    let (shard_specs, shards): (Vec<ChildSpec>, Vec<ActorRef<ShardMessage>>) =
        (0..options.shards).map(shard).unzip();
    let shards: Arc<[ActorRef<ShardMessage>]> = shards.into();
    let clients = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(Slot::default());

    let connections_spec = {
        let (shards, slot) = (Arc::clone(&shards), Arc::clone(&connections));
        let max_clients = options.max_clients;
        ChildSpec::new("connections", move || {
            let (shards, clients) = (Arc::clone(&shards), Arc::clone(&clients));
            let supervisor = DynamicSupervisorSpec::with_template(move |stream: TcpStream| {
                connection_spec(
                    stream,
                    Arc::clone(&shards),
                    Arc::clone(&clients),
                    max_clients,
                )
            })
            .start_link()
            .map_err(|error| ExitReason::custom(error.to_string()))?;
            let pid = supervisor.pid().clone();
            slot.set(supervisor);
            Ok(pid)
        })
        .shutdown(Shutdown::Infinity)
        .kind(ferrotp::ChildKind::Supervisor)
    };
    let acceptor_spec = {
        let slot = Arc::clone(&connections);
        ChildSpec::worker("acceptor", move || accept_loop(&listener, &slot))
            // Killed at once: it holds nothing but a blocking accept.
            .shutdown(Shutdown::BrutalKill)
    };
    let tree = SupervisorSpec::new(Strategy::RestForOne)
        .name("kv")
        .child(ChildSpec::supervisor(
            "shards",
            SupervisorSpec::new(Strategy::OneForOne)
                // A crashing shard is restarted up to 10 times a second
                // before the server gives up on its key space.
                .intensity(10, Duration::from_secs(1))
                .children(shard_specs),
        ))
        .child(connections_spec)
        .child(acceptor_spec)
        .start()
        .map_err(|error| io::Error::other(format!("the server's tree did not start: {error}")))?;
    Ok(Server {
        address,
        tree,
        shards,
        connections,
    })
}

/// The connections supervisor of the running tree (module docs: the
/// acceptor).
#[derive(Default)]
struct Slot(Mutex<Option<DynamicSupervisor<TcpStream>>>);

impl Slot {
    fn set(&self, supervisor: DynamicSupervisor<TcpStream>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(supervisor);
    }

    fn get(&self) -> Option<DynamicSupervisor<TcpStream>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Accepts clients for ever, each served by a new connection process.
fn accept_loop(listener: &TcpListener, connections: &Slot) {
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => {
                let supervisor = connections
                    .get()
                    .expect("the connections supervisor starts before the acceptor");
                // A failed start (out of processes, say) drops the
                // stream, which closes it: that client's loss only. The
                // supervisor itself gone ends the acceptor, and
                // rest_for_one restarts it after the supervisor.
                if let Err(ChildError::SupervisorDown(_)) = supervisor.start_child(stream) {
                    panic!("the connections supervisor has ended");
                }
            }
            // Out of file descriptors, say: wait for connections to
            // close rather than spin.
            Err(_) => sleep(Duration::from_millis(10)),
        }
    }
}

/// A connection's child spec: a temporary worker that serves `stream`.
fn connection_spec(
    stream: TcpStream,
    shards: Arc<[ActorRef<ShardMessage>]>,
    clients: Arc<AtomicUsize>,
    max_clients: usize,
) -> ChildSpec {
    // A child's body may be run again on a restart, so it is `Fn`; a
    // temporary child never is, and takes its stream once.
    let stream = Mutex::new(Some(stream));
    ChildSpec::worker("connection", move || {
        let stream = stream.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(stream) = stream {
            let _seat = Seat::take(&clients);
            if clients.load(Ordering::Relaxed) > max_clients {
                refuse(&stream);
            } else {
                serve(&stream, &shards);
            }
        }
    })
    .restart(Restart::Temporary)
    // Killed at once on shutdown: the unwind closes its socket.
    .shutdown(Shutdown::BrutalKill)
}

/// A client counted while its connection runs (its `Drop` runs on any
/// end: a return, a panic, a kill's unwind).
struct Seat<'a>(&'a AtomicUsize);

impl<'a> Seat<'a> {
    fn take(clients: &'a AtomicUsize) -> Self {
        // Relaxed: a count compared with a limit, ordering nothing else.
        clients.fetch_add(1, Ordering::Relaxed);
        Seat(clients)
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn refuse(mut stream: &TcpStream) {
    let _ = stream.write_all(b"-ERR max number of clients reached\r\n");
    let _ = stream.shutdown(SocketShutdown::Both);
}

/// Serves one client until it leaves, breaks the protocol, or fails
/// (module docs: a connection).
fn serve(stream: &TcpStream, shards: &[ActorRef<ShardMessage>]) {
    let _ = stream.set_nodelay(true);
    let mut input = ReadBuffer::new();
    let mut output = Vec::with_capacity(READ_ROOM);
    let mut batches = Batches::new(self_pid());
    let mut reader = stream;
    let mut writer = stream;
    loop {
        match reader.read(input.room()) {
            // A client that leaves, mid-command or not, ends its
            // connection only.
            Ok(0) | Err(_) => return,
            Ok(n) => input.filled(n),
        }
        let (requests, broken) = input.requests();
        batches.run(requests, shards, &mut output);
        if let Some(error) = &broken {
            error.reply().encode(&mut output);
        }
        if !output.is_empty() {
            if writer.write_all(&output).is_err() {
                return;
            }
            output.clear();
        }
        if broken.is_some() {
            let _ = stream.shutdown(SocketShutdown::Both);
            return;
        }
    }
}

/// What a shard is asked to do.
pub enum ShardMessage {
    /// Run a connection's commands, in order, and answer.
    Run(Batch),
    /// Sweep out the expired keys (the shard's own timer).
    Sweep,
    /// Panic: how the demo shows a shard's crash and restart (never sent
    /// by a client: no command maps to it).
    Crash,
}

/// A connection's commands for one shard, and where their replies go.
pub struct Batch {
    commands: Vec<Command>,
    answer: Answer,
}

/// Where a batch's replies go: the connection's process, the batch's
/// number, and each command's place among the batch's parts. Dropped
/// unanswered, it answers every command with an error (module docs).
pub struct Answer {
    connection: Pid,
    batch: u64,
    parts: Vec<u32>,
    answered: bool,
}

/// A shard's replies to one batch, sent to its connection.
struct Replies {
    batch: u64,
    replies: Vec<(u32, Reply)>,
}

impl Answer {
    fn send(mut self, replies: Vec<Reply>) {
        self.answered = true;
        let replies = std::mem::take(&mut self.parts)
            .into_iter()
            .zip(replies)
            .collect();
        send(
            &self.connection,
            Replies {
                batch: self.batch,
                replies,
            },
        );
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let failed = || Reply::error("ERR the shard failed while running this command");
        let replies = self.parts.iter().map(|&part| (part, failed())).collect();
        send(
            &self.connection,
            Replies {
                batch: self.batch,
                replies,
            },
        );
    }
}

/// A shard: one part of the key space.
struct Shard {
    index: usize,
    store: Store,
}

impl Actor for Shard {
    type Message = ShardMessage;

    fn init(&mut self, ctx: &mut Context<ShardMessage>) -> Result<(), ExitReason> {
        ctx.send_after(SWEEP_EVERY, ShardMessage::Sweep);
        Ok(())
    }

    fn handle(&mut self, message: ShardMessage, ctx: &mut Context<ShardMessage>) -> Next {
        match message {
            ShardMessage::Run(Batch { commands, answer }) => {
                let now = Instant::now();
                let replies = commands
                    .into_iter()
                    .map(|command| self.store.execute(command, now))
                    .collect();
                answer.send(replies);
            }
            ShardMessage::Sweep => {
                self.store.sweep_expired(Instant::now());
                ctx.send_after(SWEEP_EVERY, ShardMessage::Sweep);
            }
            ShardMessage::Crash => panic!("shard {} crashed on request", self.index),
        }
        Next::CONTINUE
    }
}

/// Shard `index`'s child spec and its address, which follows its restarts.
///
/// A shard keeps its stack between batches (`hibernate(false)`): there
/// are few of them and every request wakes one, so each activation saved
/// is a stack taken and given back per batch (measured under
/// `redis-benchmark`: about a fifth of the server's user time per GET).
fn shard(index: usize) -> (ChildSpec, ActorRef<ShardMessage>) {
    actor::child(format!("shard {index}"), move |builder| {
        builder
            .name(format!("kv.shard{index}"))
            .hibernate(false)
            .start(Shard {
                index,
                store: Store::new(),
            })
    })
}

/// A connection's batches: numbered, so that the replies to one that
/// timed out are told from those of the next.
struct Batches {
    me: Pid,
    next: u64,
}

/// How a request's reply is made once its parts' replies are in.
enum Plan {
    Ready(Reply),
    Part(u32),
    Joined(std::ops::Range<u32>, Join),
}

impl Batches {
    fn new(me: Pid) -> Self {
        Batches { me, next: 0 }
    }

    /// Runs `requests` over the shards and appends their replies, in
    /// order, to `out`.
    fn run(&mut self, requests: Vec<Args>, shards: &[ActorRef<ShardMessage>], out: &mut Vec<u8>) {
        if requests.is_empty() {
            return;
        }
        let batch = self.next;
        self.next += 1;
        // Each command sent to a shard is a part, numbered in the batch.
        let mut for_shard: Vec<(Vec<Command>, Vec<u32>)> = Vec::new();
        for_shard.resize_with(shards.len(), Default::default);
        let mut parts = 0u32;
        let mut add = |shard: usize, command: Command| {
            let (commands, numbers) = &mut for_shard[shard];
            commands.push(command);
            numbers.push(parts);
            parts += 1;
            parts - 1
        };
        let plans: Vec<Plan> = requests
            .into_iter()
            .map(|request| match Route::of(request, shards.len()) {
                Route::Reply(reply) => Plan::Ready(reply),
                Route::Shard(shard, command) => Plan::Part(add(shard, command)),
                Route::Split(split, join) => {
                    let numbers: Vec<u32> = split
                        .into_iter()
                        .map(|(shard, command)| add(shard, command))
                        .collect();
                    Plan::Joined(numbers[0]..numbers[numbers.len() - 1] + 1, join)
                }
            })
            .collect();
        for (shard, (commands, numbers)) in for_shard.into_iter().enumerate() {
            if commands.is_empty() {
                continue;
            }
            let answer = Answer {
                connection: self.me.clone(),
                batch,
                parts: numbers,
                answered: false,
            };
            shards[shard].send(ShardMessage::Run(Batch { commands, answer }));
        }
        let mut replies = self.gather(batch, parts as usize);
        for plan in plans {
            let reply = match plan {
                Plan::Ready(reply) => reply,
                Plan::Part(part) => replies[part as usize].take().unwrap_or_else(timed_out),
                Plan::Joined(range, join) => join.join(
                    range
                        .map(|part| replies[part as usize].take().unwrap_or_else(timed_out))
                        .collect(),
                ),
            };
            reply.encode(out);
        }
    }

    /// Waits for the `parts` replies of `batch` (those of earlier batches
    /// that come late are dropped), at most [`SHARD_TIMEOUT`].
    fn gather(&self, batch: u64, parts: usize) -> Vec<Option<Reply>> {
        let mut replies: Vec<Option<Reply>> = Vec::new();
        replies.resize_with(parts, || None);
        let mut missing = parts;
        let deadline = Instant::now() + SHARD_TIMEOUT;
        while missing > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(answer) = receive_timeout::<Replies>(left) else {
                break;
            };
            if answer.batch != batch {
                continue;
            }
            for (part, reply) in answer.replies {
                if let Some(slot) = replies.get_mut(part as usize)
                    && slot.replace(reply).is_none()
                {
                    missing -= 1;
                }
            }
        }
        replies
    }
}

fn timed_out() -> Reply {
    Reply::error("ERR the shard did not answer in time")
}
