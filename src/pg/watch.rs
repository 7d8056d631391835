//! Removing a process from a scope when it ends: one exit hook per
//! process and scope, registered by its first join or subscription.
//!
//! # The race with a process that ends as it joins
//!
//! A join (or subscription) first puts its entry in the shard, *then*
//! calls [`Inner::watch`]; the hook, when the process ends, first takes
//! the process out of the `watched` set, *then* clears every shard
//! ([`Inner::forget`]). Both steps of each side are ordered, and the
//! `watched` lock orders the two sides:
//!
//! * `watch` finds the process in `watched`: the hook has not taken it
//!   out yet, so it clears the shards later, entry included.
//! * `watch` does not find it (never watched, or the hook has taken it
//!   out): it puts it in and registers a new hook. On a process that has
//!   ended the scheduler runs that hook at once, here (with `NoProc`),
//!   and it clears the entry.
//!
//! So no entry of an ended process outlives its last hook. The hook
//! clears the shards it finds the process in while holding all their
//! locks, so the process leaves all its groups in one step. The hook
//! holds a `Weak` to the scope (a scope dropped meanwhile needs no
//! clean-up) and the process's id, not its `Pid`: the hook lives in the
//! process's control block, which a `Pid` would keep alive.

use std::hash::Hash;
use std::sync::Arc;

use ferrotp_scheduler::{Pid, ProcessId};

use super::scope::{Inner, lock, read, write};

impl<G: Eq + Hash + Clone + Send + Sync + 'static> Inner<G> {
    /// Makes sure `pid` has this scope's exit hook (module docs). Called
    /// with no lock held: the hook may run here.
    pub(super) fn watch(self: &Arc<Self>, pid: &Pid) {
        let id = pid.id();
        if !lock(self.watched_of(id)).insert(id) {
            return;
        }
        let scope = Arc::downgrade(self);
        // The handle is dropped: the hook stays until the process ends.
        let _hook = pid.on_exit(move |_| {
            if let Some(scope) = scope.upgrade() {
                scope.forget(id);
            }
        });
    }

    /// Removes everything process `id` has in the scope: it has ended.
    fn forget(&self, id: ProcessId) {
        lock(self.watched_of(id)).remove(&id);
        // Its scope subscriptions first: it is sent nothing more.
        let subscribes = read(&self.scope_monitors)
            .iter()
            .any(|(_, subscriber)| subscriber.id() == id);
        if subscribes {
            write(&self.scope_monitors).retain(|(_, subscriber)| subscriber.id() != id);
        }
        // Every shard it has entries in, locked together (in index order)
        // so that it leaves all its groups in one step: whoever sees one
        // of its `Left` changes, or one group without it, finds it in none.
        let mut held: Vec<_> = self
            .shards
            .iter()
            .map(lock)
            .filter(|shard| shard.has_process(id))
            .collect();
        if held.is_empty() {
            return;
        }
        let scope_monitors = read(&self.scope_monitors);
        for shard in &mut held {
            shard.remove_process(id, &scope_monitors);
        }
    }
}
