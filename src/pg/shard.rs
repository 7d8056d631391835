//! One shard of a scope: the groups whose key hashes to it, with their
//! members and subscribers, and an index from each process to its
//! entries here, for the clean-up when it ends.
//!
//! Every method runs under the shard's lock and never suspends: the
//! notifications of a change are pushed into the subscribers' mailboxes
//! here, before the lock is released (module `monitor`, [`notify`]), so
//! that they leave in the order the changes were made.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use ferrotp_scheduler::{Pid, ProcessId};

use super::monitor::{ChangeKind, Subscription, notify};

/// The groups of one shard (module docs).
pub(super) struct Shard<G> {
    /// Every group with a member or a subscriber; no other.
    groups: HashMap<G, Group>,
    /// What each process has here: an entry only while it has one.
    by_pid: HashMap<ProcessId, Entries<G>>,
    /// The group each group subscription of this shard watches.
    monitored: HashMap<Subscription, G>,
}

/// One group.
#[derive(Default)]
struct Group {
    /// One entry per membership, oldest first (a process that joined
    /// twice is here twice).
    members: Vec<Pid>,
    /// Its subscribers, oldest first.
    monitors: Vec<(Subscription, Pid)>,
}

impl Group {
    fn is_unused(&self) -> bool {
        self.members.is_empty() && self.monitors.is_empty()
    }
}

/// What one process has in a shard.
struct Entries<G> {
    /// One per membership (so a group may be here several times).
    groups: Vec<G>,
    /// Its group subscriptions.
    monitors: Vec<Subscription>,
}

impl<G> Default for Entries<G> {
    fn default() -> Self {
        Self {
            groups: Vec::new(),
            monitors: Vec::new(),
        }
    }
}

impl<G> Entries<G> {
    fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.monitors.is_empty()
    }
}

/// The scope's subscribers, as a change sees them.
pub(super) type ScopeMonitors = [(Subscription, Pid)];

impl<G: Eq + Hash + Clone + Send + 'static> Shard<G> {
    pub(super) fn new() -> Self {
        Self {
            groups: HashMap::new(),
            by_pid: HashMap::new(),
            monitored: HashMap::new(),
        }
    }

    /// Adds one membership of `group` per pid, after the others, and
    /// tells the subscribers.
    pub(super) fn join(&mut self, group: G, pids: &[Pid], scope: &ScopeMonitors) {
        for pid in pids {
            let entries = self.by_pid.entry(pid.id()).or_default();
            entries.groups.push(group.clone());
        }
        let entry = self.groups.entry(group.clone()).or_default();
        entry.members.extend_from_slice(pids);
        notify(&entry.monitors, scope, &group, ChangeKind::Joined, pids);
    }

    /// Removes the newest membership of `group` of each pid that has
    /// one, tells the subscribers, and returns how many were removed.
    pub(super) fn leave<Q>(&mut self, group: &Q, pids: &[Pid], scope: &ScopeMonitors) -> usize
    where
        G: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(key) = self.groups.get_key_value(group).map(|(key, _)| key.clone()) else {
            return 0;
        };
        let entry = self
            .groups
            .get_mut(group)
            .expect("the group was just found");
        let mut removed = Vec::new();
        for pid in pids {
            if let Some(at) = entry.members.iter().rposition(|member| member == pid) {
                entry.members.remove(at);
                removed.push(pid.clone());
                forget_membership(&mut self.by_pid, pid.id(), group);
            }
        }
        if !removed.is_empty() {
            notify(&entry.monitors, scope, &key, ChangeKind::Left, &removed);
        }
        if entry.is_unused() {
            self.groups.remove(group);
        }
        removed.len()
    }

    /// Whether process `id` has anything here.
    pub(super) fn has_process(&self, id: ProcessId) -> bool {
        self.by_pid.contains_key(&id)
    }

    /// Removes everything process `id` has here (it has ended): its
    /// subscriptions first (nothing is sent to it), then each of its
    /// memberships, one `Left` per group naming it once per membership.
    pub(super) fn remove_process(&mut self, id: ProcessId, scope: &ScopeMonitors) {
        let Some(entries) = self.by_pid.remove(&id) else {
            return;
        };
        for subscription in entries.monitors {
            if let Some(group) = self.monitored.remove(&subscription) {
                self.remove_monitor_of(&group, subscription);
            }
        }
        let mut done = HashSet::new();
        for group in entries.groups {
            if done.contains(&group) {
                continue;
            }
            if let Some(entry) = self.groups.get_mut(&group) {
                let mut removed = Vec::new();
                entry.members.retain(|member| {
                    let leaves = member.id() == id;
                    if leaves {
                        removed.push(member.clone());
                    }
                    !leaves
                });
                if !removed.is_empty() {
                    notify(&entry.monitors, scope, &group, ChangeKind::Left, &removed);
                }
                if entry.is_unused() {
                    self.groups.remove(&group);
                }
            }
            done.insert(group);
        }
    }

    /// Subscribes `subscriber` to `group`; the group's members now.
    pub(super) fn monitor(
        &mut self,
        subscription: Subscription,
        group: G,
        subscriber: &Pid,
    ) -> Vec<Pid> {
        let entry = self.groups.entry(group.clone()).or_default();
        entry.monitors.push((subscription, subscriber.clone()));
        let members = entry.members.clone();
        self.monitored.insert(subscription, group);
        let entries = self.by_pid.entry(subscriber.id()).or_default();
        entries.monitors.push(subscription);
        members
    }

    /// Ends a group subscription of this shard; false if it is not here.
    pub(super) fn demonitor(&mut self, subscription: Subscription) -> bool {
        let Some(group) = self.monitored.remove(&subscription) else {
            return false;
        };
        if let Some(subscriber) = self.remove_monitor_of(&group, subscription)
            && let Some(entries) = self.by_pid.get_mut(&subscriber.id())
        {
            entries.monitors.retain(|other| *other != subscription);
            if entries.is_empty() {
                self.by_pid.remove(&subscriber.id());
            }
        }
        true
    }

    /// Takes `subscription` out of `group`'s subscribers; its subscriber.
    fn remove_monitor_of(&mut self, group: &G, subscription: Subscription) -> Option<Pid> {
        let entry = self.groups.get_mut(group)?;
        let at = entry
            .monitors
            .iter()
            .position(|(other, _)| *other == subscription)?;
        let (_, subscriber) = entry.monitors.remove(at);
        if entry.is_unused() {
            self.groups.remove(group);
        }
        Some(subscriber)
    }

    /// The members of `group`, one entry per membership, oldest first.
    pub(super) fn members<Q>(&self, group: &Q) -> Vec<Pid>
    where
        G: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.groups
            .get(group)
            .map(|entry| entry.members.clone())
            .unwrap_or_default()
    }

    /// Whether `pid` is a member of `group`.
    pub(super) fn is_member<Q>(&self, group: &Q, pid: &Pid) -> bool
    where
        G: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.groups
            .get(group)
            .is_some_and(|entry| entry.members.contains(pid))
    }

    /// The groups here that have a member, with their members.
    pub(super) fn non_empty(&self) -> impl Iterator<Item = (&G, &[Pid])> {
        self.groups
            .iter()
            .filter(|(_, entry)| !entry.members.is_empty())
            .map(|(group, entry)| (group, entry.members.as_slice()))
    }
}

/// Takes the newest membership of `group` out of process `id`'s entries.
fn forget_membership<G, Q>(by_pid: &mut HashMap<ProcessId, Entries<G>>, id: ProcessId, group: &Q)
where
    G: Borrow<Q>,
    Q: Eq + ?Sized,
{
    let Some(entries) = by_pid.get_mut(&id) else {
        return;
    };
    if let Some(at) = entries.groups.iter().rposition(|g| g.borrow() == group) {
        entries.groups.remove(at);
    }
    if entries.is_empty() {
        by_pid.remove(&id);
    }
}
