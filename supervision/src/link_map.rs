//! The map of links and the protocol that makes and removes them (module
//! `link` has the public API and explains links). Generic over the
//! processes ([`Watch`]) so that a loom model (`tests/loom_link_setup.rs`)
//! runs this very code on fake processes; the runtime has one global
//! `LinkMap<Pid>`, which every `Pid` leads to ([`Watch::links`]).
//!
//! # The protocol
//!
//! One `LinkRecord` per linked pair, in a shard (a mutex) of the map,
//! under the pair's ordered ids, so that linking from either side finds
//! it. Its state machine and hook hand-off are in `link_state`.
//!
//! * **Linking** ([`link`]) looks under the shard's lock for a record that
//!   still counts (`is_linked`). Finding none, it inserts a new one, and
//!   then, outside the lock, registers an exit hook on each process (the
//!   other one first, then the caller) and stores their handles in the
//!   record (`store_hooks`), or removes them itself if the link is
//!   already over by then. Outside the lock, because a hook on a process
//!   that has ended runs at once, inside the registration, and may take
//!   the lock (to forget the record).
//! * **A second linker** of the same pair (the other process, linking
//!   back at the same instant) finds the record and waits until it
//!   `is_set_up` (the handles stored, or the link over), so that when its
//!   call returns the link watches both ends: its own exit, from then on,
//!   reaches the other process with its reason. The wait is short: the
//!   first linker does not suspend between inserting the record and
//!   storing the handles.
//! * **A hook** (the process that ends first) fires the link and signals
//!   the other process; finding it fired the other way or over, it
//!   forgets the record and removes the handles.
//! * **The survivor acting on the signal** (`take_effect`, the
//!   scheduler's [`Link`]) makes the link `DONE`, forgets the record and
//!   removes the handles; a cut link's signal is dropped.
//! * **Unlinking** ([`unlink`]) takes the record out of the map under the
//!   lock, then cuts it and removes the handles it gets.
//!
//! # Invariants
//!
//! 1. Each pair has at most one record in the map that counts: a record
//!    is inserted only under the shard's lock, when none that counts is
//!    there. So the pair has one signal to send, not two.
//! 2. A record leaves the map once it is over or both processes have
//!    ended; `forget` removes it only if it is still the pair's record
//!    (a newer link of the same pair may have replaced it).
//! 3. When `link` returns, hooks on both processes are registered (or
//!    have run), or the link is already over.
//! 4. The handles are removed exactly once, once the link is over, never
//!    while it still counts (`link_state`).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use ferrotp_mailbox::sync::{Backoff, Mutex, MutexGuard};
use ferrotp_scheduler::{ExitReason, HookTag, Link, ProcessId, SharedHook};
use rustc_hash::FxBuildHasher;

use crate::link_state::LinkState;
use crate::watch::{Relation, Watch, remove_hooks};

/// The two processes of a link, smaller id first.
type PairKey = (ProcessId, ProcessId);

fn key<W: Watch>(a: &W, b: &W) -> PairKey {
    let (a, b) = (a.id(), b.id());
    if a <= b { (a, b) } else { (b, a) }
}

/// Keyed by process ids, which the runtime hands out (an adversary does
/// not choose them): Fx hashing, not SipHash, which cost about 2,000
/// instructions per `spawn_link` (a link is hashed as it is made, as it
/// takes effect and as it is forgotten).
type Shard<W> = HashMap<PairKey, Arc<LinkRecord<W>>, FxBuildHasher>;

/// The links between processes `W`, sharded so that unrelated pairs
/// rarely share a lock (module docs).
pub struct LinkMap<W: Watch> {
    shards: Box<[Mutex<Shard<W>>]>,
}

/// One link between two processes (module docs).
pub struct LinkRecord<W: Watch> {
    key: PairKey,
    /// The linked processes: the linker, then the other. Its hook on
    /// each (the record itself, a shared hook) is registered as that
    /// process's side, 0 or 1.
    ends: [W; 2],
    /// The map it is kept in.
    links: W::Links,
    state: LinkState<[W::Hook; 2]>,
}

impl<W: Watch> LinkMap<W> {
    /// An empty map with `shards` shards (at least one).
    pub fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, key: &PairKey) -> MutexGuard<'_, Shard<W>> {
        // The high half: the shard's map places keys by the low bits.
        let index = ((FxBuildHasher.hash_one(key) >> 32) as usize) % self.shards.len();
        // A poisoned shard: a panic while holding it can only come from an
        // allocation failure in the map; its data is still consistent.
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The number of records in the map (for tests).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether the map holds no record (for tests).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes `record` out of the map, unless a newer link of the same pair
    /// has replaced it.
    fn forget(&self, record: &LinkRecord<W>) {
        let mut shard = self.shard(&record.key);
        if shard
            .get(&record.key)
            .is_some_and(|r| std::ptr::eq(Arc::as_ptr(r), record))
        {
            shard.remove(&record.key);
        }
    }
}

/// Links `me` (the caller) and `pid`; does nothing if they are linked
/// already, or are the same process (module docs).
pub fn link<W: Watch>(me: &W, pid: &W) {
    if me.id() == pid.id() {
        return;
    }
    let key = key(me, pid);
    let links = me.links();
    let record = {
        let mut shard = links.shard(&key);
        if let Some(existing) = shard.get(&key)
            && existing.state.is_linked()
        {
            // Linked already, perhaps by the other process this instant:
            // wait until its hooks are in place, so that when this returns
            // the link watches both ends. That linker never suspends
            // between putting the record here and storing its hooks.
            let existing = Arc::clone(existing);
            drop(shard);
            let mut backoff = Backoff::new();
            while !existing.state.is_set_up() {
                backoff.snooze();
            }
            return;
        }
        let record = Arc::new(LinkRecord {
            key,
            ends: [me.clone(), pid.clone()],
            links: me.links(),
            state: LinkState::new(),
        });
        shard.insert(key, Arc::clone(&record));
        record
    };
    // Outside the lock: a hook on an ended process runs at once, and may
    // take it. The record is both hooks (module `exit_hooks`: shared
    // hooks): the link's one allocation.
    let on_pid = pid.on_exit_shared(record.clone(), 1);
    let on_me = me.on_exit_shared(record.clone(), 0);
    // Over already (cut meanwhile, or fired at once and acted on): the
    // hooks are ours to remove.
    remove_hooks::<W>(record.state.store_hooks([on_pid, on_me]));
}

/// Removes the link between `me` (the caller) and `pid`; true if there
/// was one. Once it returns, a signal the link had sent is dropped when
/// its receiver acts on it.
pub fn unlink<W: Watch>(me: &W, pid: &W) -> bool {
    if me.id() == pid.id() {
        return false;
    }
    let key = key(me, pid);
    let Some(record) = me.links().shard(&key).remove(&key) else {
        return false;
    };
    // Active: no signal will be sent. Fired: the one sent is dropped when
    // its receiver acts on it. Done: it already took effect.
    remove_hooks::<W>(record.state.cut());
    true
}

/// Whether `me` is linked to `pid` (a signal from the link that its
/// receiver has not acted on yet still counts).
pub fn is_linked<W: Watch>(me: &W, pid: &W) -> bool {
    let key = key(me, pid);
    me.links()
        .shard(&key)
        .get(&key)
        .is_some_and(|record| record.state.is_linked())
}

impl<W: Watch> LinkRecord<W> {
    /// Whether the link still counts (module `link_state`): active, or
    /// fired and not yet acted on.
    pub fn is_linked(&self) -> bool {
        self.state.is_linked()
    }

    /// The hook on `gone`, which has ended with `reason`: signal `other`,
    /// or clean up if the link already fired or is over.
    fn on_exit(self: &Arc<Self>, gone: &W, other: &W, reason: &ExitReason) {
        if self.state.fire() {
            let link: Arc<dyn Link> = self.clone();
            other.link_signal(gone, reason.clone(), link);
        } else {
            // The other side ended first (its signal to `gone` is dropped
            // with its mailbox), or the link is over: nobody will ask the
            // link any more.
            self.links.forget(self);
            remove_hooks::<W>(self.state.take_hooks());
        }
    }
}

impl<W: Watch> SharedHook for LinkRecord<W> {
    fn on_exit(self: Arc<Self>, side: u8, reason: &ExitReason) {
        let side = usize::from(side);
        LinkRecord::on_exit(&self, &self.ends[side], &self.ends[1 - side], reason);
    }

    fn tag(self: Arc<Self>, side: u8) -> HookTag {
        Arc::new(Relation::Link {
            peer: self.ends[1 - usize::from(side)].clone(),
            record: Arc::downgrade(&self),
        })
    }
}

impl<W: Watch> Link for LinkRecord<W> {
    fn take_effect(&self) -> bool {
        match self.state.take_effect() {
            Some(hooks) => {
                self.links.forget(self);
                remove_hooks::<W>(hooks);
                true
            }
            None => false,
        }
    }
}
