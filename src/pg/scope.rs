//! [`ProcessGroups`]: a scope's handle, its shards, and membership:
//! join, leave, members, which_groups, send_to_all.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ferrotp_scheduler::{Pid, ProcessId, send_unless_ended};

use super::error::JoinError;
use super::monitor::Subscription;
use super::shard::Shard;

/// Shards per scope (a power of two): enough that processes on a few
/// workers joining different groups rarely wait for each other.
const SHARDS: usize = 16;

/// A scope of process groups (OTP's `pg` scope, local node only): named
/// groups of processes, which processes join and leave, which anyone can
/// list and send to, and whose changes processes can subscribe to.
///
/// A `ProcessGroups` is a handle: cloning it is cheap and every clone
/// names the same scope; it is `Send + Sync`, so it can be handed to
/// processes and threads, kept in an actor's state or in a `static`
/// `OnceLock` ([`global`](Self::global) is one per group type). The
/// scope lives as long as a handle to it does. Groups are any
/// `G: Eq + Hash + Clone + Send + Sync + 'static`: strings, enums, ids.
///
/// ```
/// use ferrotp::pg::ProcessGroups;
/// use ferrotp::{receive, spawn};
/// let (members, groups_now) = ferrotp::run(|| {
///     let rooms = ProcessGroups::new();
///     let alice = spawn(|| { receive::<()>(); });
///     let bob = spawn(|| { receive::<()>(); });
///     rooms.join("rust", &alice).unwrap();
///     rooms.join("rust", &bob).unwrap();
///     rooms.join("erlang", &bob).unwrap();
///     let members = rooms.members("rust") == [alice.clone(), bob.clone()];
///     let mut groups_now = rooms.which_groups();
///     groups_now.sort();
///     ferrotp::send(&alice, ());
///     ferrotp::send(&bob, ());
///     (members, groups_now)
/// }).unwrap();
/// assert!(members);
/// assert_eq!(groups_now, ["erlang", "rust"]);
/// ```
pub struct ProcessGroups<G> {
    pub(super) inner: Arc<Inner<G>>,
}

/// A scope's state (module docs: layout, invariants, lock order).
pub(super) struct Inner<G> {
    /// The groups, by the hash of their key.
    pub(super) shards: Box<[Mutex<Shard<G>>]>,
    /// The scope's subscribers. Read under a shard lock by every change.
    pub(super) scope_monitors: RwLock<Vec<(Subscription, Pid)>>,
    /// The processes that have this scope's exit hook, by the hash of
    /// their id: a process is here from its first join or subscription
    /// until its hook runs.
    pub(super) watched: Box<[Mutex<HashSet<ProcessId>>]>,
    hasher: RandomState,
}

impl<G> Clone for ProcessGroups<G> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<G> fmt::Debug for ProcessGroups<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessGroups")
            .field("scope", &Arc::as_ptr(&self.inner))
            .finish_non_exhaustive()
    }
}

impl<G: Eq + Hash + Clone + Send + Sync + 'static> Default for ProcessGroups<G> {
    fn default() -> Self {
        Self::new()
    }
}

/// Locks `mutex`. A panic under one of our locks can come only from a
/// group's own `Hash`, `Eq` or `Clone`; the state is then still
/// well-formed enough to go on with, so poisoning is ignored.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `lock`, ignoring poisoning (see [`lock`]).
pub(super) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `lock`, ignoring poisoning (see [`lock`]).
pub(super) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl<G: Eq + Hash + Clone + Send + Sync + 'static> Inner<G> {
    /// The shard of `group`.
    pub(super) fn shard_of<Q: Hash + ?Sized>(&self, group: &Q) -> usize {
        self.hasher.hash_one(group) as usize & (SHARDS - 1)
    }

    /// The `watched` set of process `id`.
    pub(super) fn watched_of(&self, id: ProcessId) -> &Mutex<HashSet<ProcessId>> {
        &self.watched[self.hasher.hash_one(id) as usize & (SHARDS - 1)]
    }
}

impl<G: Eq + Hash + Clone + Send + Sync + 'static> ProcessGroups<G> {
    /// A new, empty scope.
    ///
    /// ```
    /// let groups = ferrotp::pg::ProcessGroups::<u32>::new();
    /// assert!(groups.which_groups().is_empty());
    /// ```
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
                scope_monitors: RwLock::new(Vec::new()),
                watched: (0..SHARDS).map(|_| Mutex::new(HashSet::new())).collect(),
                hasher: RandomState::new(),
            }),
        }
    }

    /// Makes `pid` a member of `group` (OTP's `pg:join/2`), after its
    /// current members. A process may join a group several times: it is
    /// then listed once per join, and leaves after as many
    /// [`leave`](Self::leave)s (or when it ends). Subscribers receive a
    /// [`Change`](super::Change) `Joined` naming `pid`.
    ///
    /// Any process may make any process join, and so may code outside a
    /// process: a pid is just data.
    ///
    /// ```
    /// use ferrotp::pg::{JoinError, ProcessGroups};
    /// use ferrotp::self_pid;
    /// let (members, refused) = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     let me = self_pid();
    ///     groups.join(7u8, &me).unwrap();
    ///     groups.join(7u8, &me).unwrap(); // twice: listed twice
    ///     let gone = ferrotp::spawn(|| {});
    ///     while !gone.has_exited() { ferrotp::yield_now(); }
    ///     let refused = groups.join(7u8, &gone) == Err(JoinError::Exited(gone.clone()));
    ///     (groups.members(&7).len(), refused)
    /// }).unwrap();
    /// assert_eq!((members, refused), (2, true));
    /// ```
    ///
    /// # Errors
    /// [`JoinError::Exited`] if the process has ended: it does not join.
    /// A process that ends *while* it joins joins, and is then removed as
    /// any member that ends (subscribers see `Joined`, then `Left`).
    pub fn join(&self, group: G, pid: &Pid) -> Result<(), JoinError> {
        self.join_many(group, std::slice::from_ref(pid))
    }

    /// Makes each of `pids` a member of `group`, in order, at once (OTP's
    /// `pg:join/2` with a list): subscribers receive one `Joined` naming
    /// them all. A pid listed twice joins twice.
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::{receive, spawn};
    /// let same = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     let pids: Vec<_> = (0..3).map(|_| spawn(|| { receive::<()>(); })).collect();
    ///     groups.join_many("pool", &pids).unwrap();
    ///     let same = groups.members("pool") == pids;
    ///     for pid in &pids { ferrotp::send(pid, ()); }
    ///     same
    /// }).unwrap();
    /// assert!(same);
    /// ```
    ///
    /// # Errors
    /// [`JoinError::Exited`] naming the first pid whose process has
    /// ended; then none of them joins.
    pub fn join_many(&self, group: G, pids: &[Pid]) -> Result<(), JoinError> {
        if let Some(gone) = pids.iter().find(|pid| pid.has_exited()) {
            return Err(JoinError::Exited(gone.clone()));
        }
        if pids.is_empty() {
            return Ok(());
        }
        let shard = self.inner.shard_of(&group);
        // After the memberships are in place (see `watch` for the order),
        // and even if the join unwinds half-way (a group whose `Clone`
        // panics as its change messages are made): whatever joined is
        // then watched, so it leaves when it ends.
        let _watch = WatchAfterJoin {
            inner: &self.inner,
            pids,
        };
        let mut shard = lock(&self.inner.shards[shard]);
        shard.join(group, pids, &read(&self.inner.scope_monitors));
        drop(shard);
        Ok(())
    }

    /// Removes one membership of `pid` in `group` (OTP's `pg:leave/2`):
    /// the newest, so a process that joined twice is still a member once.
    /// True if it was a member; subscribers then receive a `Left` naming
    /// it. Like [`join`](Self::join), callable for any pid, from
    /// anywhere.
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::self_pid;
    /// let (first, left, second) = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     groups.join("a", &self_pid()).unwrap();
    ///     let first = groups.leave("a", &self_pid());
    ///     (first, groups.is_member("a", &self_pid()), groups.leave("a", &self_pid()))
    /// }).unwrap();
    /// assert_eq!((first, left, second), (true, false, false));
    /// ```
    pub fn leave<Q>(&self, group: &Q, pid: &Pid) -> bool
    where
        G: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.leave_many(group, std::slice::from_ref(pid)) == 1
    }

    /// Removes one membership (the newest) of each of `pids` in `group`,
    /// at once: subscribers receive one `Left` naming those that were
    /// members. Returns how many memberships were removed.
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::self_pid;
    /// let (removed, left) = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     let me = self_pid();
    ///     groups.join_many("a", &[me.clone(), me.clone(), me.clone()]).unwrap();
    ///     let removed = groups.leave_many("a", &[me.clone(), me.clone()]);
    ///     (removed, groups.members("a").len())
    /// }).unwrap();
    /// assert_eq!((removed, left), (2, 1));
    /// ```
    pub fn leave_many<Q>(&self, group: &Q, pids: &[Pid]) -> usize
    where
        G: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if pids.is_empty() {
            return 0;
        }
        let shard = self.inner.shard_of(group);
        let mut shard = lock(&self.inner.shards[shard]);
        shard.leave(group, pids, &read(&self.inner.scope_monitors))
        // The exit hooks stay: one per process and scope, until it ends.
    }

    /// The members of `group` (OTP's `pg:get_members/2`; on one node,
    /// also `get_local_members`): one entry per membership, in the order
    /// they joined (a [`leave`](Self::leave) takes out the newest of the
    /// leaver's entries; the others keep their order). Empty for a group
    /// nobody is in.
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::{receive, spawn};
    /// let ok = ferrotp::run(|| {
    ///     let groups = ProcessGroups::<String>::new();
    ///     let (a, b) = (spawn(|| { receive::<()>(); }), spawn(|| { receive::<()>(); }));
    ///     for pid in [&a, &b, &a] { groups.join("g".to_owned(), pid).unwrap(); }
    ///     groups.leave("g", &a); // the second `a`
    ///     let ok = groups.members("g") == [a.clone(), b.clone()] && groups.members("none").is_empty();
    ///     ferrotp::send(&a, ());
    ///     ferrotp::send(&b, ());
    ///     ok
    /// }).unwrap();
    /// assert!(ok);
    /// ```
    pub fn members<Q>(&self, group: &Q) -> Vec<Pid>
    where
        G: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        lock(&self.inner.shards[self.inner.shard_of(group)]).members(group)
    }

    /// Whether `pid` is a member of `group`.
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::self_pid;
    /// let (yes, no) = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     groups.join(1u32, &self_pid()).unwrap();
    ///     (groups.is_member(&1, &self_pid()), groups.is_member(&2, &self_pid()))
    /// }).unwrap();
    /// assert_eq!((yes, no), (true, false));
    /// ```
    pub fn is_member<Q>(&self, group: &Q, pid: &Pid) -> bool
    where
        G: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        lock(&self.inner.shards[self.inner.shard_of(group)]).is_member(group, pid)
    }

    /// The groups that have at least one member (OTP's
    /// `pg:which_groups/1`), in no particular order. A group exists only
    /// while it has members: the last one leaving removes it.
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::self_pid;
    /// let (before, after) = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     groups.join('x', &self_pid()).unwrap();
    ///     let before = groups.which_groups();
    ///     groups.leave(&'x', &self_pid());
    ///     (before, groups.which_groups())
    /// }).unwrap();
    /// assert_eq!((before, after), (vec!['x'], vec![]));
    /// ```
    pub fn which_groups(&self) -> Vec<G> {
        let mut groups = Vec::new();
        for shard in self.inner.shards.iter() {
            groups.extend(lock(shard).non_empty().map(|(group, _)| group.clone()));
        }
        groups
    }

    /// Sends a clone of `message` to each member of `group`, once per
    /// process even if it joined several times, in the order they first
    /// joined; returns how many processes it was delivered to (a member
    /// that ended meanwhile does not count, and gets no dead letter).
    /// The members are read first, then the messages sent with no lock
    /// held: like [`send`](crate::send), a send to a full bounded mailbox
    /// suspends the caller (or blocks a thread outside a process).
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::{receive, self_pid, spawn, send};
    /// let (sent, echoes) = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     let me = self_pid();
    ///     for _ in 0..3 {
    ///         let me = me.clone();
    ///         let pid = spawn(move || send(&me, receive::<u32>() * 2));
    ///         groups.join("doublers", &pid).unwrap();
    ///     }
    ///     let sent = groups.send_to_all("doublers", 21u32);
    ///     (sent, (0..sent).map(|_| receive::<u32>()).sum::<u32>())
    /// }).unwrap();
    /// assert_eq!((sent, echoes), (3, 126));
    /// ```
    pub fn send_to_all<Q, M>(&self, group: &Q, message: M) -> usize
    where
        G: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        M: Clone + Send + 'static,
    {
        let mut seen = HashSet::new();
        let mut targets = self.members(group);
        targets.retain(|pid| seen.insert(pid.id()));
        let Some((last, rest)) = targets.split_last() else {
            return 0;
        };
        let mut delivered = 0;
        for pid in rest {
            delivered += usize::from(send_unless_ended(pid, message.clone()).is_ok());
        }
        delivered + usize::from(send_unless_ended(last, message).is_ok())
    }
}

/// Watches the pids of a join as it goes out of scope (module `watch`),
/// after the shard's lock: on an unwind too.
struct WatchAfterJoin<'a, G: Eq + Hash + Clone + Send + Sync + 'static> {
    inner: &'a Arc<Inner<G>>,
    pids: &'a [Pid],
}

impl<G: Eq + Hash + Clone + Send + Sync + 'static> Drop for WatchAfterJoin<'_, G> {
    fn drop(&mut self) {
        for pid in self.pids {
            self.inner.watch(pid);
        }
    }
}
