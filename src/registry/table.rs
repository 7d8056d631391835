//! The registry's storage: entries by key, in partitions, and the keys
//! each process holds.
//!
//! # Layout
//!
//! * **Entries**, partitioned by the key's hash: each partition is a
//!   read-write lock over `key → Arc<Vec<(Pid, V)>>`. The vector is
//!   copy-on-write: a lookup clones the `Arc` (O(1), under the read lock
//!   for that instant only) and reads the snapshot outside any lock; a
//!   registration or removal copies the vector only if a snapshot of it is
//!   still held. Readers of different keys never meet, and readers of one
//!   key never block each other.
//! * **Owners**, partitioned by the pid's hash: `pid → the keys it
//!   registered, once per entry`. A process's first registration adds it
//!   here and sets its exit hook; it stays here (perhaps with no keys)
//!   until that hook removes it, so a process that registers and
//!   unregisters in a loop sets one hook, not one per registration.
//!
//! # Invariants
//!
//! * No lock is held while anything can suspend a process: lookups
//!   return snapshots, and the callers send after. The only user code
//!   under a lock is the key's `Hash`/`Eq` and the value's `Clone` (a
//!   copy-on-write copy), as in any map behind a lock; a panic there
//!   leaves the map as it was (the lock's poison is ignored).
//! * Locks are taken one at a time (an entry partition, or an owner
//!   partition, never both), so there is no lock order to get wrong.
//! * An entry `(pid, v)` under `k` exists only while `owners[pid]` lists
//!   `k` (once per entry), except in the instant between the two updates
//!   of one registration or removal, made by `pid` itself or, after its
//!   end, by its exit hook.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use ferrotp_scheduler::Pid;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry as TableEntry;

/// A snapshot of the entries under one key: `(pid, value)` pairs, in the
/// order they were registered.
pub type Entries<V> = Arc<Vec<(Pid, V)>>;

/// One partition: `(key, entries)` rows, found by the key's hash.
type Partition<K, V> = RwLock<HashTable<(K, Entries<V>)>>;

/// One partition of the owners: each process's keys.
type Owners<K> = Mutex<HashMap<Pid, Vec<K>>>;

pub(crate) struct Table<K, V> {
    /// One hasher for every key: its hash picks the partition and finds
    /// the row in it (computed once per operation).
    hasher: RandomState,
    entries: Box<[Partition<K, V>]>,
    owners: Box<[Owners<K>]>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing user-written runs under these locks: a poisoned one still
    // holds a consistent map.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K, V> Table<K, V> {
    pub(crate) fn partitions(&self) -> usize {
        self.entries.len()
    }
}

impl<K, V> Table<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    pub(crate) fn new(partitions: usize) -> Self {
        Self {
            hasher: RandomState::new(),
            entries: (0..partitions).map(|_| RwLock::default()).collect(),
            owners: (0..partitions).map(|_| Mutex::default()).collect(),
        }
    }

    /// `key`'s hash, and its partition (picked by the hash's high bits;
    /// the table in it uses the low ones).
    fn locate<Q: Hash + ?Sized>(&self, key: &Q) -> (u64, &Partition<K, V>) {
        let hash = self.hasher.hash_one(key);
        // Truncation is fine: any bits pick a partition.
        let at = ((hash >> 32) as usize) % self.entries.len();
        (hash, &self.entries[at])
    }

    fn rehash(&self) -> impl Fn(&(K, Entries<V>)) -> u64 + '_ {
        |(key, _)| self.hasher.hash_one(key)
    }

    fn owners_of(&self, pid: &Pid) -> MutexGuard<'_, HashMap<Pid, Vec<K>>> {
        let at = (self.hasher.hash_one(pid) as usize) % self.owners.len();
        lock(&self.owners[at])
    }

    /// Reads the row of `key` under its partition's read lock.
    fn read<Q, R>(&self, key: &Q, read: impl FnOnce(Option<&Entries<V>>) -> R) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, partition) = self.locate(key);
        let partition = partition.read().unwrap_or_else(PoisonError::into_inner);
        let row = partition.find(hash, |(held, _)| held.borrow() == key);
        read(row.map(|(_, entries)| entries))
    }

    /// The entries under `key` (`None` if none).
    pub(crate) fn lookup<Q>(&self, key: &Q) -> Option<Entries<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(key, |entries| entries.cloned())
    }

    /// The first process under `key`: read in place, no snapshot taken.
    pub(crate) fn first<Q>(&self, key: &Q) -> Option<Pid>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(key, |entries| {
            entries.and_then(|entries| entries.first().map(|(pid, _)| pid.clone()))
        })
    }

    /// How many entries there are under `key`.
    pub(crate) fn count_key<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(key, |entries| entries.map_or(0, |entries| entries.len()))
    }

    /// Adds `(pid, value)` under `key`. With `unique`, refuses if a live
    /// process holds the key (returned); an entry of an ended process is
    /// replaced (its exit hook has not run yet). Returns whether `pid` is
    /// new to the owners (its exit hook must be set).
    pub(crate) fn insert(&self, key: K, pid: &Pid, value: V, unique: bool) -> Result<bool, Pid> {
        {
            let (hash, partition) = self.locate(&key);
            let mut partition = partition.write().unwrap_or_else(PoisonError::into_inner);
            match partition.entry(hash, |(held, _)| *held == key, self.rehash()) {
                TableEntry::Occupied(mut occupied) => {
                    let entries = Arc::make_mut(&mut occupied.get_mut().1);
                    if unique {
                        if let Some((holder, _)) = entries.first()
                            && !holder.has_exited()
                        {
                            return Err(holder.clone());
                        }
                        entries.clear();
                    }
                    entries.push((pid.clone(), value));
                }
                TableEntry::Vacant(vacant) => {
                    vacant.insert((key.clone(), Arc::new(vec![(pid.clone(), value)])));
                }
            }
        }
        let mut owners = self.owners_of(pid);
        let first = !owners.contains_key(pid);
        owners.entry(pid.clone()).or_default().push(key);
        Ok(first)
    }

    /// Removes the entries of `pid` under `key` for which `drop` holds;
    /// how many. The row goes with its last entry.
    fn remove_rows<Q>(&self, key: &Q, drop: impl Fn(&(Pid, V)) -> bool) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, partition) = self.locate(key);
        let mut partition = partition.write().unwrap_or_else(PoisonError::into_inner);
        let TableEntry::Occupied(mut occupied) =
            partition.entry(hash, |(held, _)| held.borrow() == key, self.rehash())
        else {
            return 0;
        };
        let entries = &mut occupied.get_mut().1;
        let before = entries.len();
        if entries.iter().any(&drop) {
            Arc::make_mut(entries).retain(|entry| !drop(entry));
        }
        let removed = before - entries.len();
        if entries.is_empty() {
            occupied.remove();
        }
        removed
    }

    /// Removes `pid`'s entries under `key` whose value `matches`; how
    /// many.
    pub(crate) fn remove<Q>(&self, key: &Q, pid: &Pid, matches: impl Fn(&V) -> bool) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = self.remove_rows(key, |(holder, value)| holder == pid && matches(value));
        if removed > 0 {
            let mut owners = self.owners_of(pid);
            if let Some(keys) = owners.get_mut(pid) {
                for _ in 0..removed {
                    if let Some(at) = keys.iter().position(|held| held.borrow() == key) {
                        keys.swap_remove(at);
                    }
                }
                // The pid stays listed (with no keys) until it ends: its
                // exit hook is set once, not once per registration.
            }
        }
        removed
    }

    /// Every entry of `pid`, which has ended: removed (its exit hook).
    pub(crate) fn remove_owner(&self, pid: &Pid) {
        let mut keys = self.owners_of(pid).remove(pid).unwrap_or_default();
        // One pass per key is enough: a repeat finds nothing left.
        keys.dedup();
        for key in keys {
            // A copy-on-write copy runs the value's `Clone`, user code: if
            // it panics, this key keeps the ended process's entry (the
            // others are still cleared), and the panic is reported.
            let removed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.remove_rows::<K>(&key, |(holder, _)| holder == pid)
            }));
            if let Err(payload) = removed {
                std::mem::forget(payload);
                ferrotp_scheduler::report::report(
                    ferrotp_scheduler::report::Severity::Error,
                    "registry",
                    Some(pid),
                    format_args!(
                        "a registry value's Clone panicked while the entries of an ended \
                         process were removed: one of its entries stays"
                    ),
                );
            }
        }
    }

    /// The keys `pid` holds, once per entry.
    pub(crate) fn keys_of(&self, pid: &Pid) -> Vec<K> {
        self.owners_of(pid).get(pid).cloned().unwrap_or_default()
    }

    /// Sets the value of `pid`'s first entry under `key`; false if it has
    /// none.
    pub(crate) fn set_value<Q>(&self, key: &Q, pid: &Pid, value: V) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, partition) = self.locate(key);
        let mut partition = partition.write().unwrap_or_else(PoisonError::into_inner);
        let Some((_, entries)) = partition.find_mut(hash, |(held, _)| held.borrow() == key) else {
            return false;
        };
        let Some(at) = entries.iter().position(|(holder, _)| holder == pid) else {
            return false;
        };
        Arc::make_mut(entries)[at].1 = value;
        true
    }

    /// How many entries there are, over every key.
    pub(crate) fn count(&self) -> usize {
        self.entries
            .iter()
            .map(|partition| {
                let partition = partition.read().unwrap_or_else(PoisonError::into_inner);
                partition
                    .iter()
                    .map(|(_, entries)| entries.len())
                    .sum::<usize>()
            })
            .sum()
    }
}
