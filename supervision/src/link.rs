//! Links: [`link`], [`unlink`], [`spawn_link`].
//!
//! A link ties two processes together both ways: when either ends, the
//! other receives an exit signal carrying the reason (what it then does is
//! the table in the crate docs). Links are built on the scheduler's exit
//! hooks and link signals ([`link_signal`]).
//!
//! # The record
//!
//! One record per linked pair, kept in a sharded map under the pair's
//! ordered ids (so linking twice, from either side, finds it), with an
//! exit hook on each process. The map and the protocol that makes and
//! removes records are in `link_map` (generic over the processes, with a
//! loom model); the record's state machine is in `link_state` (with its
//! own loom model):
//!
//! * The hook of the process that ends first fires the link (`ACTIVE →
//!   FIRED`) and sends the signal; the other hook then finds it fired and
//!   only cleans up (both processes have ended, or the survivor will act).
//! * The survivor acts on the signal at a check point and asks the link
//!   ([`Link::take_effect`]): `FIRED → DONE` (the signal counts; the map
//!   entry and the hooks go), or it finds `CUT` (dropped unread).
//! * `unlink` takes the entry out of the map and cuts the link: a signal
//!   already on its way is then dropped when the caller acts on it, so
//!   after `unlink` returns the link has no effect on the caller, as
//!   Erlang guarantees. (If the caller traps exits and the signal was
//!   already delivered as an `Exit` message, the message stays, as in
//!   Erlang.)
//! * A fired link still counts as a link for [`link`] (the signal is
//!   still coming), so linking again does not make a second signal.
//!
//! The two hooks are registered after the record is in the map, outside
//! its lock (a hook on an ended process runs at once, and takes the lock).
//!
//! [`Link::take_effect`]: ferrotp_scheduler::Link::take_effect
//! [`link_signal`]: ferrotp_scheduler::link_signal

use std::sync::OnceLock;

use crate::link_map::{self, LinkMap};
use ferrotp_scheduler::{
    Pid, Resumable, SpawnError, SpawnOptions, reduce, spawn_resumable_with, spawn_with,
    try_self_pid,
};

const SHARDS: usize = 64;

/// The runtime's links.
pub(crate) fn links() -> &'static LinkMap<Pid> {
    static LINKS: OnceLock<LinkMap<Pid>> = OnceLock::new();
    LINKS.get_or_init(|| LinkMap::new(SHARDS))
}

/// Links the calling process to `pid` (Erlang's `link/1`): when either
/// ends, the other receives an exit signal with the reason (the crate docs
/// tabulate what it does with it). Linking an already linked pair, or a
/// process to itself, does nothing.
///
/// If `pid` has already ended, the caller receives an exit signal with
/// [`ExitReason::NoProc`] from it at once: a caller that traps exits gets
/// the `Exit` message; any other ends with `NoProc` inside this call.
///
/// [`ExitReason::NoProc`]: ferrotp_scheduler::ExitReason::NoProc
///
/// # Panics
/// Outside a process.
///
/// ```
/// use ferrotp_scheduler::{Exit, ExitReason, exit, receive, run, spawn, trap_exit};
/// use ferrotp_supervision::link;
/// let reason = run(|| {
///     trap_exit(true);
///     let worker = spawn(|| loop { receive::<()>(); });
///     link(&worker);
///     exit(&worker, ExitReason::custom("stop"));
///     receive::<Exit>().reason
/// }).unwrap();
/// assert_eq!(reason, ExitReason::custom("stop"));
/// ```
pub fn link(pid: &Pid) {
    let me = self_pid_for("link");
    link_pair(&me, pid);
    // A check point: a `NoProc` signal takes effect here.
    reduce(1);
}

/// Links `me` (the caller) and `pid` (module docs).
pub(crate) fn link_pair(me: &Pid, pid: &Pid) {
    link_map::link(me, pid);
}

/// Removes the link between the caller and `pid`, if there is one
/// (Erlang's `unlink/1`). Once it returns, the link has no effect on the
/// caller: an exit signal it had already sent is dropped unread (if the
/// caller traps exits, an `Exit` message delivered before the call stays
/// in the mailbox).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, exit, run, spawn, receive, yield_now};
/// use ferrotp_supervision::{link, unlink};
/// let survived = run(|| {
///     let worker = spawn(|| loop { receive::<()>(); });
///     link(&worker);
///     unlink(&worker);
///     exit(&worker, ExitReason::custom("stop"));
///     while !worker.has_exited() { yield_now(); }
///     true // not taken down by the worker's exit
/// }).unwrap();
/// assert!(survived);
/// ```
pub fn unlink(pid: &Pid) {
    let me = self_pid_for("unlink");
    link_map::unlink(&me, pid);
}

/// Whether the caller is linked to `pid` (an exit signal from the link
/// that the caller has not acted on yet still counts).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use ferrotp_scheduler::{receive, run, spawn};
/// use ferrotp_supervision::{is_linked, link, unlink};
/// let seen = run(|| {
///     let worker = spawn(|| { receive::<()>(); });
///     let before = is_linked(&worker);
///     link(&worker);
///     let linked = is_linked(&worker);
///     unlink(&worker);
///     (before, linked, is_linked(&worker))
/// }).unwrap();
/// assert_eq!(seen, (false, true, false));
/// ```
pub fn is_linked(pid: &Pid) -> bool {
    let me = self_pid_for("is_linked");
    link_map::is_linked(&me, pid)
}

/// Spawns `f` linked to the caller (Erlang's `spawn_link/1`): the link
/// exists before the child runs, so no exit of the child can be missed.
///
/// # Panics
/// Outside a process, or when the spawn fails (see [`spawn_link_opt`]).
///
/// ```
/// use ferrotp_scheduler::{Exit, ExitReason, receive, run, trap_exit};
/// use ferrotp_supervision::spawn_link;
/// let reason = run(|| {
///     trap_exit(true);
///     let child = spawn_link(|| panic!("boom"));
///     let signal = receive::<Exit>();
///     assert_eq!(signal.from, Some(child));
///     signal.reason
/// }).unwrap();
/// assert_eq!(reason, ExitReason::Panic("boom".into()));
/// ```
pub fn spawn_link<F>(f: F) -> Pid
where
    F: FnOnce() + Send + 'static,
{
    spawn_link_opt(SpawnOptions::new(), f).unwrap_or_else(|e| panic!("ferrotp::spawn_link: {e}"))
}

/// [`spawn_link`] with spawn options.
///
/// # Errors
/// The spawn's [`SpawnError`]; no link is made then.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use ferrotp_scheduler::{SpawnOptions, receive, run};
/// use ferrotp_supervision::{is_linked, spawn_link_opt};
/// let seen = run(|| {
///     let worker = spawn_link_opt(SpawnOptions::new().name("worker"), || {
///         receive::<()>();
///     })
///     .unwrap();
///     (worker.name().map(str::to_owned), is_linked(&worker))
/// }).unwrap();
/// assert_eq!(seen, (Some("worker".to_owned()), true));
/// ```
pub fn spawn_link_opt<F>(options: SpawnOptions, f: F) -> Result<Pid, SpawnError>
where
    F: FnOnce() + Send + 'static,
{
    let me = self_pid_for("spawn_link");
    spawn_with(options, |child| link_pair(&me, child), f)
}

/// [`spawn_link_opt`] for a resumable body (see
/// [`spawn_resumable`](ferrotp_scheduler::spawn_resumable)): linked
/// before it can run, and owning no stack while it waits.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{
///     Activation, Exit, ExitReason, Resumable, SpawnOptions, receive, receive_any_timeout, run,
///     trap_exit,
/// };
/// use ferrotp_supervision::{is_linked, spawn_link_resumable};
/// /// Ends with the first message it gets.
/// struct Once;
/// impl Resumable for Once {
///     fn resume(&mut self, _: bool) -> Activation {
///         match receive_any_timeout(Duration::ZERO) {
///             Some(_) => Activation::Exit(ExitReason::custom("done")),
///             None => Activation::Hibernate { until: None },
///         }
///     }
/// }
/// let reason = run(|| {
///     trap_exit(true);
///     let pid = spawn_link_resumable(SpawnOptions::new(), Once).unwrap();
///     assert!(is_linked(&pid));
///     ferrotp_scheduler::send(&pid, ());
///     receive::<Exit>().reason
/// }).unwrap();
/// assert_eq!(reason, ExitReason::custom("done"));
/// ```
///
/// # Errors
/// As for [`spawn_link_opt`].
///
/// # Panics
/// Outside a process.
pub fn spawn_link_resumable<B: Resumable>(
    options: SpawnOptions,
    body: B,
) -> Result<Pid, SpawnError> {
    let me = self_pid_for("spawn_link");
    spawn_resumable_with(options, |child| link_pair(&me, child), body)
}

/// The caller's pid, or a panic naming `function`.
pub(crate) fn self_pid_for(function: &str) -> Pid {
    try_self_pid().unwrap_or_else(|| outside(function))
}

#[cold]
#[inline(never)]
fn outside(function: &str) -> ! {
    panic!("ferrotp::{function} was called outside a ferrotp process")
}
