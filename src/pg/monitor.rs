//! Subscriptions to membership changes (OTP's `pg:monitor/1` and
//! `pg:monitor_scope/0`): [`Subscription`], the [`Change`] messages a
//! subscriber receives, and [`ProcessGroups::monitor`],
//! [`ProcessGroups::monitor_scope`], [`ProcessGroups::demonitor`].

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrotp_scheduler::{Pid, send_signal_message, try_self_pid};

use super::scope::{ProcessGroups, lock, write};

/// A subscription to membership changes, made by
/// [`ProcessGroups::monitor`] or [`ProcessGroups::monitor_scope`]
/// (OTP's monitor reference): every [`Change`] it brings names it, and
/// [`ProcessGroups::demonitor`] ends it.
///
/// Unique in the program (the ids of all scopes come from one counter).
///
/// ```
/// use ferrotp::pg::ProcessGroups;
/// let (one, two) = ferrotp::run(|| {
///     let groups = ProcessGroups::<&str>::new();
///     let (one, _) = groups.monitor("a");
///     let (two, _) = groups.monitor_scope();
///     (one, two)
/// }).unwrap();
/// assert_ne!(one, two);
/// assert!(one.to_string().starts_with("#pg<"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subscription {
    id: u64,
    /// The shard of the watched group, or [`SCOPE`] for the whole scope.
    pub(super) shard: u32,
}

/// [`Subscription::shard`] of a scope subscription.
pub(super) const SCOPE: u32 = u32::MAX;

impl Subscription {
    /// A new subscription id, unique in the program.
    pub(super) fn next(shard: u32) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Relaxed: only uniqueness matters, which the read-modify-write
        // gives on its own.
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        Self { id, shard }
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#pg<{}>", self.id)
    }
}

/// What happened to a group: processes joined it or left it.
///
/// ```
/// use ferrotp::pg::ChangeKind;
/// assert_ne!(ChangeKind::Joined, ChangeKind::Left);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The pids joined (by [`ProcessGroups::join`] or
    /// [`join_many`](ProcessGroups::join_many)).
    Joined,
    /// The pids left: by [`ProcessGroups::leave`] or
    /// [`leave_many`](ProcessGroups::leave_many), or because their
    /// process ended.
    Left,
}

/// A membership change, the message a subscriber receives (OTP's
/// `{Ref, join | leave, Group, Pids}`).
///
/// `pids` lists one entry per membership that changed, in the order of
/// the call that made the change: a [`join_many`](ProcessGroups::join_many)
/// of three pids is one `Change` naming the three; a process that had
/// joined a group twice and ends is one `Left` naming it twice.
///
/// ```
/// use ferrotp::pg::{Change, ChangeKind, ProcessGroups};
/// use ferrotp::{receive, self_pid};
/// let (change, me) = ferrotp::run(|| {
///     let groups = ProcessGroups::new();
///     let (subscription, _) = groups.monitor("lobby");
///     groups.join("lobby", &self_pid()).unwrap();
///     let change = receive::<Change<&str>>();
///     assert_eq!(change.subscription, subscription);
///     (change, self_pid())
/// }).unwrap();
/// assert_eq!((change.group, change.kind, change.pids), ("lobby", ChangeKind::Joined, vec![me]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change<G> {
    /// The subscription this change was sent for.
    pub subscription: Subscription,
    /// The group that changed.
    pub group: G,
    /// Joined or left.
    pub kind: ChangeKind,
    /// The pids that joined or left, one per membership.
    pub pids: Vec<Pid>,
}

/// Tells a change of `group` to its subscribers, then to the scope's:
/// called under the group's shard lock, so it must not suspend. The
/// messages are pushed like monitors' `Down` signals: past any mailbox
/// bound, and dropped silently (no dead letter) for a subscriber that
/// has ended (its subscriptions are being removed by its exit hook).
pub(super) fn notify<G: Clone + Send + 'static>(
    group_monitors: &[(Subscription, Pid)],
    scope_monitors: &[(Subscription, Pid)],
    group: &G,
    kind: ChangeKind,
    pids: &[Pid],
) {
    for (subscription, subscriber) in group_monitors.iter().chain(scope_monitors) {
        let change = Change {
            subscription: *subscription,
            group: group.clone(),
            kind,
            pids: pids.to_vec(),
        };
        send_signal_message(subscriber, change);
    }
}

/// The running process, or a panic naming `function`.
fn subscriber(function: &str) -> Pid {
    try_self_pid().unwrap_or_else(|| {
        panic!("{function} was called outside a process: the subscriber is the calling process")
    })
}

impl<G: Eq + Hash + Clone + Send + Sync + 'static> ProcessGroups<G> {
    /// Subscribes the calling process to the changes of `group` (OTP's
    /// `pg:monitor/2`): returns the subscription and the group's members
    /// now (one entry per membership, oldest first). From then on the
    /// caller receives a [`Change<G>`] for every change of the group, in
    /// the order the changes were made, none lost, until
    /// [`demonitor`](Self::demonitor) or until it ends (a subscriber that
    /// ends is removed; nothing more is sent to it).
    ///
    /// ```
    /// use ferrotp::pg::{Change, ChangeKind, ProcessGroups};
    /// use ferrotp::{receive, spawn};
    /// let kinds = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     let worker = spawn(|| { ferrotp::receive::<()>(); });
    ///     groups.join("workers", &worker).unwrap();
    ///     let (_, members) = groups.monitor("workers");
    ///     assert_eq!(members, [worker.clone()]);
    ///     ferrotp::send(&worker, ()); // it ends, so it leaves
    ///     let left = receive::<Change<&str>>();
    ///     (left.kind, left.pids == [worker])
    /// }).unwrap();
    /// assert_eq!(kinds, (ChangeKind::Left, true));
    /// ```
    ///
    /// # Panics
    /// Outside a process (the subscriber is the caller).
    pub fn monitor(&self, group: G) -> (Subscription, Vec<Pid>) {
        let me = subscriber("ProcessGroups::monitor");
        let shard = self.inner.shard_of(&group);
        let subscription = Subscription::next(shard as u32);
        let members = lock(&self.inner.shards[shard]).monitor(subscription, group, &me);
        // After the subscription is in place (see `watch` for the order).
        self.inner.watch(&me);
        (subscription, members)
    }

    /// Subscribes the calling process to every change of the scope (OTP's
    /// `pg:monitor_scope/1`): returns the subscription and every group
    /// that has a member now, with its members. From then on the caller
    /// receives a [`Change<G>`] for every change, as for
    /// [`monitor`](Self::monitor): the changes of one group in the order
    /// they were made; changes of different groups in the order they were
    /// made when one happened before the other (the same caller, say).
    ///
    /// ```
    /// use ferrotp::pg::{Change, ProcessGroups};
    /// use ferrotp::{receive, self_pid};
    /// let (before, groups_seen) = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     groups.join("a", &self_pid()).unwrap();
    ///     let (_, before) = groups.monitor_scope();
    ///     groups.join("b", &self_pid()).unwrap();
    ///     groups.join("c", &self_pid()).unwrap();
    ///     let seen: Vec<&str> = (0..2).map(|_| receive::<Change<&str>>().group).collect();
    ///     (before.len(), seen)
    /// }).unwrap();
    /// assert_eq!((before, groups_seen), (1, vec!["b", "c"]));
    /// ```
    ///
    /// # Panics
    /// Outside a process (the subscriber is the caller).
    pub fn monitor_scope(&self) -> (Subscription, HashMap<G, Vec<Pid>>) {
        let me = subscriber("ProcessGroups::monitor_scope");
        let subscription = Subscription::next(SCOPE);
        let snapshot = {
            // Every shard, in index order, then the scope's subscribers:
            // no change can happen between the snapshot and the
            // subscription (module docs, lock order).
            let shards: Vec<_> = self.inner.shards.iter().map(lock).collect();
            write(&self.inner.scope_monitors).push((subscription, me.clone()));
            shards
                .iter()
                .flat_map(|shard| shard.non_empty())
                .map(|(group, members)| (group.clone(), members.to_vec()))
                .collect()
        };
        self.inner.watch(&me);
        (subscription, snapshot)
    }

    /// Ends a subscription: no [`Change`] is sent for it after this
    /// returns (changes sent before stay in the subscriber's mailbox).
    /// True if it was active; false if it had ended (demonitored already,
    /// or its subscriber ended) or belongs to another scope. Any process
    /// may call it, and code outside a process too.
    ///
    /// ```
    /// use ferrotp::pg::ProcessGroups;
    /// use ferrotp::{mailbox_len, self_pid};
    /// let (first, second, queued) = ferrotp::run(|| {
    ///     let groups = ProcessGroups::new();
    ///     let (subscription, _) = groups.monitor("a");
    ///     let first = groups.demonitor(subscription);
    ///     groups.join("a", &self_pid()).unwrap();
    ///     (first, groups.demonitor(subscription), mailbox_len())
    /// }).unwrap();
    /// assert_eq!((first, second, queued), (true, false, 0));
    /// ```
    pub fn demonitor(&self, subscription: Subscription) -> bool {
        if subscription.shard == SCOPE {
            let mut monitors = write(&self.inner.scope_monitors);
            let before = monitors.len();
            monitors.retain(|(other, _)| *other != subscription);
            return monitors.len() != before;
        }
        self.inner
            .shards
            .get(subscription.shard as usize)
            .is_some_and(|shard| lock(shard).demonitor(subscription))
    }
}
