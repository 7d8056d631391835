//! Actors: typed servers in the style of Gleam's `gleam/otp/actor` and
//! Elixir's `GenServer`.
//!
//! An actor is a process that owns a state and handles its messages one
//! at a time: each message gives a new state ([`Next::Continue`]) or
//! stops it ([`Next::Stop`]). Starting one gives an [`ActorRef`], a typed
//! address: [`ActorRef::send`] takes only the actor's message type, and
//! [`ActorRef::call`] sends a request and waits for its reply with a
//! timeout ([`call`](crate::call): the actor is watched meanwhile, and a
//! reply that comes after the call returned never reaches the caller's
//! mailbox).
//!
//! # Two styles
//!
//! * **Closures** ([`start`], [`Builder::start_fn`]): a state and a
//!   handler `|message, state| Next::Continue(new_state)`.
//! * **A trait** ([`Actor`]): `init`, `handle` with a [`Context`] (the
//!   actor's own address, timers to itself), `handle_timeout`,
//!   `terminate`.
//!
//! # Starting
//!
//! `init` runs inside the new process before the start returns, bounded
//! by the builder's init timeout: a failure is
//! [`StartError::InitFailed`], a panic [`StartError::InitPanicked`], an
//! overrun [`StartError::InitTimeout`] (the half-started actor is
//! killed). A state made in [`Builder::start_with`]'s init never leaves
//! the actor's process, so it need not be `Send` (such an actor stays on
//! its worker, like any process that has run).
//!
//! # No stack while idle
//!
//! An actor whose state is `Send` ([`start`], [`Builder::start`] and the
//! closure style) owns no stack between messages: it handles what is in
//! its mailbox on a pooled stack, then gives the stack back and
//! hibernates, and any worker may run it when its next message comes
//! (`ferrotp::scheduler::spawn_resumable`). A handler that blocks inside,
//! in a nested `call` say, keeps its stack and its worker until it
//! returns, so a `!Send` value it holds across that wait never changes
//! thread. `process_info(pid).hibernated` shows it. An actor made by
//! [`Builder::start_with`] keeps its stack.
//!
//! # Other messages
//!
//! An actor takes the first message in its mailbox, whatever its type.
//! Its own type goes to the handler; the types its [`Selector`] names (a
//! monitor's `Down`, a trapped `Exit`, a timer's message) are mapped into
//! its type first; anything else is *unexpected*: counted, reported as a
//! `tracing` warning, and dropped, so nothing piles up unread.
//!
//! # Stopping
//!
//! `terminate(reason)` runs on [`Next::Stop`], and on an exit signal from
//! the parent when the actor traps exits ([`Builder::trap_exit`]: a
//! supervisor's shutdown). A kill cannot be trapped: `terminate` does not
//! run, but the actor's process unwinds, so its state is dropped and
//! every resource the state owns is released by its `Drop` (Gleam's actor
//! documents that gap and needs `start_resource_owner` for it; here a
//! `Drop` is enough). For a resource whose life follows *another*
//! process, [`start_resource_owner`] is Gleam's helper, built on exactly
//! that.
//!
//! # Under a supervisor
//!
//! [`child`] makes a supervisor's [`ChildSpec`](crate::ChildSpec) for an actor and an
//! address that follows its restarts. The supervisor counts the child
//! started only once its init has succeeded (a failed init is a failed
//! start). Messages sent while the actor restarts are held, in order, and
//! delivered to the replacement first (up to [`HOLD_LIMIT`]; past it, or
//! once the supervisor has ended, they are dead letters, counted); an
//! incarnation whose handler panics hands its unread messages over the
//! same way, so only the message it crashed on is lost. A `call` whose
//! request is held is answered by the replacement.
//!
//! | file | what it holds |
//! |---|---|
//! | `address.rs` | [`ActorRef`]: the typed address |
//! | `next.rs` | [`Next`]: continue, continue with an idle timeout, stop |
//! | `behaviour.rs` | the [`Actor`] trait, its [`Context`], the closure style's adapter |
//! | `selector.rs` | [`Selector`]: other message types mapped in |
//! | `start.rs` | [`Builder`], the start handshake, [`StartError`] |
//! | `incarnations.rs` | a supervised actor's address across restarts: the restart window |
//! | `run.rs` | the actor's process: init, acknowledgement, the message loop |
//! | `sys.rs` | OTP `sys`: get and replace the state, suspend and resume, trace |
//! | `resource.rs` | [`start_resource_owner`]: a resource closed when another process ends |

mod address;
mod behaviour;
mod incarnations;
mod next;
mod resource;
mod run;
mod selector;
mod start;
mod sys;

pub use address::ActorRef;
pub use behaviour::{Actor, Context};
pub use incarnations::HOLD_LIMIT;
pub use next::Next;
pub use resource::{LifetimeEnded, start_resource_owner, start_resource_owner_with};
pub use selector::Selector;
pub use start::{Builder, DEFAULT_INIT_TIMEOUT, StartError, Stateless};
pub use sys::{SysError, Trace, Traced};

/// Starts an actor in the closure style (Gleam's `actor.start`): `state`,
/// and `handler(message, state)` giving the [`Next`] state. Returns once
/// the actor's process exists.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{self, Next};
/// use ferrotp::ReplyTo;
///
/// enum Stack { Push(String), Pop(ReplyTo<Option<String>>), Shutdown }
///
/// let popped = ferrotp::run(|| {
///     let stack = actor::start(Vec::new(), |message, mut items: Vec<String>| match message {
///         Stack::Push(item) => { items.push(item); Next::Continue(items) }
///         Stack::Pop(reply) => { reply.send(items.pop()); Next::Continue(items) }
///         Stack::Shutdown => Next::stop(),
///     }).unwrap();
///     stack.send(Stack::Push("Joe".into()));
///     stack.send(Stack::Push("Mike".into()));
///     let popped = stack.call(Stack::Pop, Duration::from_millis(10)).unwrap();
///     stack.send(Stack::Shutdown);
///     popped
/// }).unwrap();
/// assert_eq!(popped.as_deref(), Some("Mike"));
/// ```
///
/// # Errors
/// [`StartError::Spawn`] (the runtime's process limit, say).
///
/// # Panics
/// Outside a process.
pub fn start<S, M, F>(state: S, handler: F) -> Result<ActorRef<M>, StartError>
where
    S: Send + 'static,
    M: Send + 'static,
    F: FnMut(M, S) -> Next<S> + Send + 'static,
{
    Builder::new().start_fn(state, handler)
}

/// A supervisor's child spec for an actor, and the actor's address, which
/// follows its restarts (module docs: under a supervisor).
///
/// `start` runs in the supervisor at each (re)start with a [`Builder`]
/// that links the actor to it; the child counts as started once `start`
/// returns `Ok` (its init succeeded).
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{self, Next};
/// use ferrotp::{ReplyTo, Strategy, SupervisorSpec};
///
/// enum Request { Get(ReplyTo<u32>), Crash }
///
/// let (before, after) = ferrotp::run(|| {
///     let (spec, counter) = actor::child("counter", |builder| {
///         builder.start_fn(7u32, |request, n| match request {
///             Request::Get(reply) => { reply.send(n); Next::Continue(n) }
///             Request::Crash => panic!("crash requested"),
///         })
///     });
///     let sup = SupervisorSpec::new(Strategy::OneForOne).child(spec).start_link().unwrap();
///     let before = counter.call(Request::Get, Duration::from_secs(5)).unwrap();
///     counter.send(Request::Crash);
///     // The same address reaches the replacement (the request is held
///     // while the actor restarts).
///     let after = counter.call(Request::Get, Duration::from_secs(5)).unwrap();
///     sup.stop().unwrap();
///     (before, after)
/// }).unwrap();
/// assert_eq!((before, after), (7, 7));
/// ```
pub fn child<M, F>(
    id: impl Into<std::sync::Arc<str>>,
    start: F,
) -> (ferrotp_supervision::ChildSpec, ActorRef<M>)
where
    M: Send + 'static,
    F: Fn(Builder<M>) -> Result<ActorRef<M>, StartError> + Send + Sync + 'static,
{
    let incarnations = std::sync::Arc::new(incarnations::Incarnations::new());
    let address = ActorRef::supervised(std::sync::Arc::clone(&incarnations));
    let spec = ferrotp_supervision::ChildSpec::new(id, move || {
        incarnations.watch_supervisor(&ferrotp_scheduler::self_pid());
        let mut builder = Builder::new().link(true);
        builder.incarnations = Some(std::sync::Arc::clone(&incarnations));
        let started = start(builder).map_err(|error| match error {
            StartError::InitFailed(reason) => reason,
            StartError::InitPanicked(message) => {
                ferrotp_scheduler::ExitReason::Panic(message.into())
            }
            other => ferrotp_scheduler::ExitReason::custom(other.to_string()),
        })?;
        Ok(started.pid())
    });
    (spec, address)
}
