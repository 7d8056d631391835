//! Links: [`link`], [`unlink`], [`spawn_link`].
//!
//! A link ties two processes together both ways: when either ends, the
//! other receives an exit signal carrying the reason (what it then does is
//! the table in the crate docs). Links are built on the scheduler's exit
//! hooks and link signals ([`link_signal`]).
//!
//! # The record
//!
//! One [`LinkRecord`] per linked pair, kept in a sharded map under the
//! pair's ordered ids (so linking twice, from either side, finds it), with
//! an exit hook on each process. Its state machine is in `link_state`
//! (with a loom model):
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

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::link_state::LinkState;
use ferrotp_mailbox::sync::Backoff;
use ferrotp_scheduler::{
    ExitHook, ExitReason, Link, Pid, ProcessId, SpawnError, SpawnOptions, link_signal, reduce,
    spawn_with, try_self_pid,
};

/// The two processes of a link, smaller id first.
type PairKey = (ProcessId, ProcessId);

fn key(a: &Pid, b: &Pid) -> PairKey {
    let (a, b) = (a.id(), b.id());
    if a <= b { (a, b) } else { (b, a) }
}

const SHARDS: usize = 64;

type Shard = Mutex<HashMap<PairKey, Arc<LinkRecord>>>;

/// The map of links, sharded so that unrelated pairs rarely share a lock.
fn shard(key: &PairKey) -> MutexGuard<'static, HashMap<PairKey, Arc<LinkRecord>>> {
    static MAP: OnceLock<(Vec<Shard>, std::collections::hash_map::RandomState)> = OnceLock::new();
    let (shards, hasher) = MAP.get_or_init(|| {
        (
            (0..SHARDS).map(|_| Shard::default()).collect(),
            Default::default(),
        )
    });
    let index = (hasher.hash_one(key) as usize) % SHARDS;
    // A poisoned shard: a panic while holding it can only come from an
    // allocation failure in the map; its data is still consistent.
    shards[index].lock().unwrap_or_else(|e| e.into_inner())
}

/// One link between two processes (module docs).
pub(crate) struct LinkRecord {
    key: PairKey,
    state: LinkState<[ExitHook; 2]>,
}

/// Unregisters the exit hooks of a link or a monitor (one that has run
/// is not there any more: removing it does nothing).
pub(crate) fn remove_hooks(hooks: Option<[ExitHook; 2]>) {
    for hook in hooks.into_iter().flatten() {
        hook.remove();
    }
}

impl LinkRecord {
    /// Takes this record out of the map, unless a newer link of the same
    /// pair has replaced it.
    fn forget(&self) {
        let mut map = shard(&self.key);
        if map
            .get(&self.key)
            .is_some_and(|r| std::ptr::eq(Arc::as_ptr(r), self))
        {
            map.remove(&self.key);
        }
    }

    /// The hook on `gone`, which has ended with `reason`: signal `other`,
    /// or clean up if the link already fired or was cut.
    fn on_exit(self: &Arc<Self>, gone: &Pid, other: &Pid, reason: &ExitReason) {
        if self.state.fire() {
            let link: Arc<dyn Link> = self.clone();
            link_signal(other, gone, reason.clone(), link);
        } else {
            // The other side ended first (its signal to `gone` is dropped
            // with its mailbox), or the link is over: nobody will ask the
            // link any more.
            self.forget();
            remove_hooks(self.state.take_hooks());
        }
    }
}

impl Link for LinkRecord {
    fn take_effect(&self) -> bool {
        match self.state.take_effect() {
            Some(hooks) => {
                self.forget();
                remove_hooks(hooks);
                true
            }
            None => false,
        }
    }
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
    if me == pid {
        return;
    }
    let key = key(me, pid);
    let record = {
        let mut map = shard(&key);
        if let Some(existing) = map.get(&key)
            && existing.state.is_linked()
        {
            // Linked already, perhaps by the other process this instant:
            // wait until its hooks are in place, so that when this returns
            // the link watches both ends. That linker never suspends
            // between putting the record here and storing its hooks.
            let existing = Arc::clone(existing);
            drop(map);
            let mut backoff = Backoff::new();
            while !existing.state.is_set_up() {
                backoff.snooze();
            }
            return;
        }
        let record = Arc::new(LinkRecord {
            key,
            state: LinkState::new(),
        });
        map.insert(key, Arc::clone(&record));
        record
    };
    let hook_on = |watched: &Pid, other: &Pid| {
        let (gone, to, record) = (watched.clone(), other.clone(), Arc::clone(&record));
        watched.on_exit(move |reason| record.on_exit(&gone, &to, reason))
    };
    let on_pid = hook_on(pid, me);
    let on_me = hook_on(me, pid);
    // Over already (cut meanwhile, or fired at once and acted on): the
    // hooks are ours to remove.
    remove_hooks(record.state.store_hooks([on_pid, on_me]));
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
    if &me == pid {
        return;
    }
    let key = key(&me, pid);
    let Some(record) = shard(&key).remove(&key) else {
        return;
    };
    // Active: no signal will be sent. Fired: the one sent is dropped when
    // the caller acts on it. Done: it already took effect.
    remove_hooks(record.state.cut());
}

/// Whether the caller is linked to `pid` (an exit signal from the link
/// that the caller has not acted on yet still counts).
///
/// # Panics
/// Outside a process.
pub fn is_linked(pid: &Pid) -> bool {
    let me = self_pid_for("is_linked");
    let key = key(&me, pid);
    shard(&key)
        .get(&key)
        .is_some_and(|record| record.state.is_linked())
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
pub fn spawn_link_opt<F>(options: SpawnOptions, f: F) -> Result<Pid, SpawnError>
where
    F: FnOnce() + Send + 'static,
{
    let me = self_pid_for("spawn_link");
    spawn_with(options, |child| link_pair(&me, child), f)
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
