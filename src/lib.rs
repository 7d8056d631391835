//! ferrotp: Erlang/OTP-style lightweight processes for Rust.
//!
//! A ferrotp program is a set of *processes* that share nothing and talk
//! by sending each other messages, with supervisors that restart the
//! ones that fail: the way Erlang/OTP builds services that keep running.
//! `use ferrotp::prelude::*;` brings in what most programs use
//! ([`prelude`]).
//!
//! # How to write a server
//!
//! A server is an [`actor`]: a process that owns a state and handles
//! its messages one at a time, as Gleam's `actor` and Elixir's
//! `GenServer` do. Its address, an [`ActorRef`](actor::ActorRef), is
//! typed: it takes only the actor's message type, and
//! [`call`](actor::ActorRef::call) sends a request and waits for the
//! reply with a timeout. Under a supervisor ([`actor::child`]) the same
//! address reaches the actor across its restarts.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::actor::{self, Actor, Context, Next};
//! use ferrotp::{ReplyTo, Strategy, SupervisorSpec};
//!
//! /// What the server understands: a request that wants an answer
//! /// carries a `ReplyTo`.
//! enum Counter {
//!     Add(u64),
//!     Get(ReplyTo<u64>),
//!     Reset,
//! }
//!
//! /// Its state.
//! struct Total(u64);
//!
//! impl Actor for Total {
//!     type Message = Counter;
//!
//!     fn handle(&mut self, message: Counter, _: &mut Context<Counter>) -> Next {
//!         match message {
//!             Counter::Add(n) => self.0 += n,
//!             Counter::Get(reply) => { reply.send(self.0); }
//!             Counter::Reset => self.0 = 0,
//!         }
//!         Next::CONTINUE
//!     }
//! }
//!
//! let total = ferrotp::run(|| {
//!     // Supervised: restarted if it fails, at the same address.
//!     let (spec, counter) = actor::child("counter", |builder| builder.start(Total(0)));
//!     let supervisor = SupervisorSpec::new(Strategy::OneForOne).child(spec).start_link()?;
//!
//!     counter.send(Counter::Add(40));
//!     counter.send(Counter::Add(2));
//!     // counter.send("add 2"); // does not compile: not a `Counter`
//!     let total = counter.call(Counter::Get, Duration::from_secs(5))?;
//!     counter.send(Counter::Reset);
//!     supervisor.stop()?;
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(total)
//! }).unwrap()?;
//! assert_eq!(total, 42);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! A server whose behaviour depends on the state it is in (idle,
//! connecting, busy...) is a [`statem`] (OTP's `gen_statem`): explicit
//! states, postponed events, state, event and named timeouts, state
//! enter calls; started, called and supervised like an actor. A function
//! to run in the background is a [`task`] (Elixir's `Task`). Processes
//! are found by key, or subscribe to topics, in a [`registry`] (Elixir's
//! `Registry`). Several actors of one kind serve behind a [`pool`].
//!
//! The rest of this page is about the processes that actors are made
//! of: spawning them, their messages, links, monitors and supervisors.
//!
//! ```
//! let rt = ferrotp::Runtime::builder().workers(2).build()?;
//! let sum = rt.block_on(|| {
//!     let me = ferrotp::self_pid();
//!     for i in 0..10u64 {
//!         let me = me.clone();
//!         ferrotp::spawn(move || ferrotp::send(&me, i));
//!     }
//!     (0..10).map(|_| ferrotp::receive::<u64>()).sum::<u64>()
//! });
//! assert_eq!(sum, 45);
//! # Ok::<(), ferrotp::BuildError>(())
//! ```
//!
//! # What a process is
//!
//! A process is a green thread: a function running on a stack of its
//! own, with a mailbox of its own.
//!
//! * **It may block.** [`receive`], [`sleep`], a [`send`] to a full
//!   bounded mailbox, a request to a supervisor: each suspends only the
//!   process, and its OS thread runs other processes meanwhile. Code
//!   reads top to bottom, without `async`, callbacks or hand-written state
//!   machines.
//! * **It is cheap.** Spawning one costs a small control block and its
//!   closure (boxed only if it is larger than four words); its stack (64 KiB by default, from a pool) is taken
//!   only when it first runs. A program may have many thousands of them,
//!   a million if it has the memory.
//! * **It is isolated.** A panic ends only the process that panicked.
//!   Every process ends with an [`ExitReason`] (`Normal`, `Panic(..)`,
//!   `Killed`...) that other processes observe through [`link`]s and
//!   [`monitor`]s, and that supervisors act on.
//! * **It stays on its thread.** A few worker threads (one per CPU by
//!   default) run every process. A process that has not run yet may go
//!   to any idle worker; once it has run, it stays settled on its
//!   worker's OS thread: the runtime never moves it (unless it was
//!   spawned with the `unsafe` opt-in [`SpawnOptions::migratable`]). So
//!   it may hold values that are not `Send` (an `Rc`, a `RefCell`, a
//!   `MutexGuard`) across a blocking call.
//! * **Its messages are plain values.** Any `Send + 'static` value is a
//!   message, moved, not copied or serialised. A process receives
//!   *selectively*, by type: [`receive::<T>()`](receive) takes the oldest
//!   message that is a `T` and leaves the others queued, in order.
//!
//! ```
//! use std::rc::Rc;
//! use ferrotp::{Down, ExitReason, Pid, receive, run, self_pid, send, spawn, spawn_monitor};
//! let (reason, greeting) = run(|| {
//!     // A panic ends only its own process; a monitor tells why.
//!     spawn_monitor(|| panic!("lost the connection"));
//!     let down = receive::<Down>();
//!
//!     let greeter = spawn(|| {
//!         let hello = Rc::new("hello"); // not Send, kept across a receive
//!         let (from, name) = receive::<(Pid, String)>();
//!         send(&from, format!("{hello}, {name}"));
//!     });
//!     send(&greeter, (self_pid(), "world".to_owned()));
//!     (down.reason, receive::<String>())
//! })
//! .unwrap();
//! assert_eq!(reason, ExitReason::Panic("lost the connection".into()));
//! assert_eq!(greeting, "hello, world");
//! ```
//!
//! # The API by task
//!
//! **Start a runtime.** [`run`] runs a function as the first process of a
//! runtime with the default settings and returns its result;
//! [`Runtime::builder`] configures one ([`Builder`], errors in
//! [`BuildError`]), whose [`Runtime::block_on`] and [`Runtime::spawn`]
//! start processes from outside it.
//!
//! **Spawn processes.** [`spawn`]; [`spawn_opt`] with [`SpawnOptions`]
//! (stack size, a name, a bounded mailbox, a registered name, pinning),
//! failing with a [`SpawnError`]; [`spawn_with`], which runs a set-up
//! with the new pid before the process can run. Linked and monitored
//! spawns are under links, below.
//!
//! **Send and receive.** [`send`] (never fails; a message to an ended
//! process is a [`DeadLetter`]) and [`try_send`] ([`TrySendError`]);
//! [`receive`], [`receive_timeout`], [`receive_match`],
//! [`receive_match_timeout`] and [`mailbox_len`]; a multi-clause receive,
//! [`Select`] (Erlang's `receive ... after`); a [`Subject`], a typed
//! address whose replies are found in O(1) whatever else is queued.
//!
//! **The running process.** [`self_pid`] (and [`try_self_pid`] for code
//! that may run outside a process) returns its [`Pid`] (whose
//! [`ProcessId`] prints like `<0.42.0>`); [`yield_now`] and [`reduce`] give
//! other processes their turn during a long computation;
//! [`remaining_stack`] and [`maybe_grow`] keep deep recursion off the end
//! of the stack; [`process_info`] reports on any process
//! ([`ProcessInfo`], [`ProcessStatus`]): the scheduler's figures, its
//! links and monitors both ways, and an actor's or state machine's
//! behaviour and state (module [`info`]); a mailbox that grows past
//! [`QueueMarks`] is reported ([`LongMessageQueue`]).
//!
//! **Time.** [`sleep`]; [`send_after`] and [`cancel_timer`] (a
//! [`TimerRef`]); receive timeouts, above.
//!
//! **Blocking code.** [`blocking`] runs a closure that would block its
//! thread (file I/O, a C library, a long computation) on the runtime's
//! pool of blocking threads, suspending only the calling process (BEAM's
//! dirty schedulers, tokio's `spawn_blocking`); [`spawn_blocking`]
//! returns a [`BlockingHandle`] to join later. The pool's bound is a
//! setting ([`Builder::blocking_threads`], [`DEFAULT_BLOCKING_THREADS`],
//! [`MAX_BLOCKING_THREADS`]; idle threads exit after
//! [`BLOCKING_KEEP_ALIVE`]).
//!
//! **Futures.** Inside a process, [`await_future`] (and
//! [`await_future_timeout`]) waits for any `Future`, suspending only the
//! process. Outside, async code calls processes with [`call_async`] (and
//! an actor with [`ActorRef::call_async`](actor::ActorRef::call_async)),
//! whose [`CallFuture`] ends with the [`CallError`]s of [`call`];
//! [`send`] works from any thread. With the `tokio` feature, futures are
//! polled inside a tokio runtime's context (the runtime's own, or one
//! given with `Builder::tokio_handle`), so tokio's sockets and timers work
//! in a process; `tokio_handle` returns it.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::actor::{self, Next};
//! use ferrotp::{ReplyTo, Runtime};
//!
//! let rt = Runtime::builder().workers(1).build()?;
//! // An actor that reads files on a blocking thread.
//! let reader = rt.block_on(|| {
//!     actor::start((), |(path, reply): (String, ReplyTo<usize>), ()| {
//!         let size = ferrotp::blocking(move || std::fs::read(path).map_or(0, |b| b.len()));
//!         reply.send(size);
//!         Next::Continue(())
//!     })
//!     .unwrap()
//! });
//! // Async code outside the runtime calls it.
//! let tokio = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let size = tokio.block_on(reader.call_async(
//!     |reply| ("Cargo.toml".to_owned(), reply),
//!     Duration::from_secs(5),
//! ));
//! assert!(size.unwrap() > 0);
//! # Ok::<(), ferrotp::BuildError>(())
//! ```
//!
//! **Names.** [`register`], [`unregister`], [`whereis`] (and
//! [`Runtime::whereis`] from outside), [`send_named`]; errors in
//! [`RegisterError`] and [`NotRegistered`].
//!
//! **Exits.** [`ExitReason`]; [`exit`] sends an exit signal,
//! [`exit_self`] ends the caller, [`trap_exit`] turns signals into
//! [`Exit`] messages; [`Pid::on_exit`] registers an [`ExitHook`];
//! [`is_exit_unwind`] tells an exit's unwind from a panic.
//!
//! **Run functions in the background.** Module [`task`] (Elixir's
//! `Task`): [`Task::spawn`](task::Task::spawn) runs a function in a
//! process linked to the caller, which awaits its result with a timeout;
//! [`async_stream`](task::async_stream) maps a function over an iterator
//! with bounded concurrency; a [`TaskSupervisor`](task::TaskSupervisor)
//! runs tasks under supervision.
//!
//! **Process groups.** Module [`pg`] (OTP's `pg`): processes join named
//! groups of a [`ProcessGroups`](pg::ProcessGroups) scope, anyone lists
//! a group's members or sends to them all, a process that ends leaves
//! its groups, and subscribers receive every membership change.
//!
//! **Network services.** Module [`net`]: [`TcpListener`](net::TcpListener),
//! [`TcpStream`](net::TcpStream), [`UdpSocket`](net::UdpSocket) and Unix
//! sockets shaped like `std::net`'s, whose `accept`, `connect`, `read` and
//! `write` suspend only the calling process (with timeouts); streams
//! implement `Read` and `Write`, so a `BufReader` over one works.
//! [`io::IoSource`] does the same for any pollable descriptor.
//!
//! **Links, monitors and supervisors.** [`link`], [`unlink`],
//! [`is_linked`], [`spawn_link`], [`spawn_link_opt`]; [`monitor`],
//! [`demonitor`] ([`Demonitor`]), [`spawn_monitor`],
//! [`spawn_monitor_opt`], which send a [`Down`] naming its [`MonitorRef`].
//! Supervisors: a [`SupervisorSpec`] of [`ChildSpec`]s with a
//! [`Strategy`], [`Restart`] types, a [`Shutdown`] per child
//! ([`ChildKind`]), restart intensity ([`DEFAULT_INTENSITY`]) and a
//! [`Backoff`], starts a [`Supervisor`] (its children as [`ChildInfo`],
//! [`ChildState`] and [`ChildCounts`]); [`DynamicSupervisorSpec`] starts
//! a [`DynamicSupervisor`], whose children are started at run time.
//! Errors in [`StartError`] and [`ChildError`].
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::{ChildSpec, Strategy, SupervisorSpec, receive, run, self_pid, send};
//! let restarted = run(|| {
//!     let me = self_pid();
//!     let sup = SupervisorSpec::new(Strategy::OneForOne)
//!         .intensity(3, Duration::from_secs(5))
//!         .child(ChildSpec::worker("flaky", move || {
//!             send(&me, self_pid());
//!             if receive::<&str>() == "crash" { panic!("asked to"); }
//!         }))
//!         .start_link()
//!         .unwrap();
//!     let first = receive::<ferrotp::Pid>();
//!     send(&first, "crash");
//!     let second = receive::<ferrotp::Pid>(); // the supervisor restarted it
//!     sup.stop().unwrap();
//!     first != second
//! }).unwrap();
//! assert!(restarted);
//! ```
//!
//! **Configuration and observation.** [`Builder`] settings may also come
//! from `FERROTP_*` environment variables and a TOML file
//! ([`Runtime::from_config_file`]; module [`scheduler::config`] lists
//! the keys, and holds the placement rules that pin processes by name);
//! [`Runtime::settings`] returns the [`EffectiveSettings`]. The defaults
//! are constants: [`DEFAULT_STACK_SIZE`] (at most [`MAX_STACK_SIZE`]),
//! [`DEFAULT_REDUCTIONS`], [`DEFAULT_MAX_PROCESSES`],
//! [`DEFAULT_BUSY_WAIT`], [`DEFAULT_LONG_SCHEDULE`],
//! [`DEFAULT_CLEANUP_TIMEOUT`]; [`MAX_RED_ZONE`] bounds the stack a
//! process keeps in reserve. Stack overflows: [`OnStackOverflow`].
//! [`Runtime::metrics`] returns [`Metrics`], per worker
//! [`WorkerMetrics`] and [`ExitCounts`]; a process that holds its worker
//! too long is reported as a [`LongSchedule`]. Machine layout: modules
//! [`scheduler::topology`] and [`scheduler::placement`].
//!
//! # How it is built
//!
//! This crate re-exports four crates, each whole as a module:
//!
//! * [`mailbox`] (`ferrotp-mailbox`): the lock-free mailbox with
//!   selective receive, usable without a runtime;
//! * [`scheduler`] (`ferrotp-scheduler`): processes on stackful
//!   coroutines, the work-stealing workers, messaging, time and exit
//!   signals; its docs explain the process model, the rule that keeps
//!   settled processes on their thread, and scheduling by reductions;
//! * [`supervision`] (`ferrotp-supervision`): links, monitors and
//!   supervisors, built on the scheduler's exit hooks and signals; its
//!   docs hold the table of what a process does with each exit signal;
//! * [`net`] (`ferrotp-net`): sockets on the scheduler's per-worker
//!   poller (module [`io`]).

pub mod actor;
pub mod info;
pub mod pg;
pub mod pool;
pub mod prelude;
pub mod registry;
mod report;
pub mod statem;
pub mod task;

pub use ferrotp_mailbox as mailbox;
pub use ferrotp_net as net;
pub use ferrotp_scheduler as scheduler;
/// I/O inside processes: [`IoSource`](io::IoSource), a non-blocking
/// descriptor whose operations suspend only the calling process, on one
/// poller per worker (the sockets of [`net`] are built on it).
pub use ferrotp_scheduler::io;
// Every item a program may call or name. Besides the everyday API, that
// is the types `Runtime::settings`, `Runtime::metrics` and the
// long-schedule hook hand out, the defaults and limits of the settings,
// and the calls for code that may run outside a process or that catches
// unwinds. The building blocks of links (`link_signal`, `Link`,
// `send_signal_message`) and the loom-facing modules stay in `scheduler`.
#[cfg(feature = "tokio")]
pub use ferrotp_scheduler::tokio_handle;
pub use ferrotp_scheduler::{
    AnyMessage, BLOCKING_KEEP_ALIVE, BlockingHandle, BuildError, Builder, CallError, CallFuture,
    DEFAULT_BLOCKING_THREADS, DEFAULT_BUSY_WAIT, DEFAULT_CLEANUP_TIMEOUT, DEFAULT_LONG_SCHEDULE,
    DEFAULT_MAX_PROCESSES, DEFAULT_REDUCTIONS, DEFAULT_STACK_SIZE, DeadLetter, EffectiveSettings,
    Exit, ExitCounts, ExitHook, ExitReason, LongMessageQueue, LongSchedule, MAX_BLOCKING_THREADS,
    MAX_RED_ZONE, MAX_STACK_SIZE, Metrics, NotRegistered, OnStackOverflow, PendingReply, Pid,
    ProcessId, ProcessStatus, QueueMarks, RegisterError, ReplyTo, Runtime, Select, SpawnError,
    SpawnOptions, Subject, TimerRef, TrySendError, WorkerMetrics, await_future,
    await_future_timeout, blocking, call, call_async, cancel_timer, exit, exit_self,
    is_exit_unwind, mailbox_len, maybe_grow, receive, receive_any, receive_any_timeout,
    receive_match, receive_match_timeout, receive_timeout, reduce, register, remaining_stack, run,
    self_pid, send, send_after, send_named, sleep, spawn, spawn_blocking, spawn_opt, spawn_with,
    trap_exit, try_self_pid, try_send, unregister, whereis, yield_now,
};
pub use ferrotp_supervision as supervision;
pub use info::{ProcessInfo, process_info};
// The supervisor's building block `RestartIntensity` and the `StartFn`
// alias stay in `supervision`.
pub use ferrotp_supervision::{
    Backoff, ChildCounts, ChildError, ChildInfo, ChildKind, ChildSpec, ChildState,
    DEFAULT_INTENSITY, DEFAULT_WORKER_SHUTDOWN, Demonitor, Down, DynamicSupervisor,
    DynamicSupervisorSpec, MonitorRef, Restart, Shutdown, StartError, Strategy, Supervisor,
    SupervisorSpec, demonitor, is_linked, link, monitor, spawn_link, spawn_link_opt, spawn_monitor,
    spawn_monitor_opt, unlink,
};
