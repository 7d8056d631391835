//! Process groups (`ferrotp::pg`): exact member lists (duplicates
//! included, join order), removal of ended processes, the order and
//! contents of membership notifications, clean-up of ended subscribers,
//! and a concurrent workload whose final state is checked exactly.
//!
//! No test sleeps to synchronise. A process's groups are cleared by its
//! exit hook, which runs just after `has_exited()` turns true, so tests
//! wait for the clean-up itself: a `Left` notification, or polling the
//! membership with `yield_now` (`wait_until`; its deadline only turns a
//! hang into a failure).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrotp::pg::{Change, ChangeKind, JoinError, ProcessGroups, Subscription};
use ferrotp::{
    Pid, ProcessId, SpawnOptions, mailbox_len, receive, receive_timeout, self_pid, send, spawn,
    spawn_opt, yield_now,
};

mod common;
use common::runtime;

/// Yields until `done()`; panics if it takes absurdly long (a hang
/// turned into a failure, not a timing assertion).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "never happened: {what}");
        yield_now();
    }
}

/// A process that waits for a `()` and ends.
fn idle() -> Pid {
    spawn(|| {
        receive::<()>();
    })
}

/// The next change, which must come from `subscription`.
fn next_change<G: Send + 'static>(subscription: Subscription) -> (G, ChangeKind, Vec<Pid>) {
    let change = receive_timeout::<Change<G>>(Duration::from_secs(60)).expect("a change");
    assert_eq!(change.subscription, subscription);
    (change.group, change.kind, change.pids)
}

#[test]
fn members_are_listed_once_per_join_in_join_order_and_leave_removes_the_newest() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<&str>::new();
        let (a, b, c) = (idle(), idle(), idle());
        for pid in [&a, &b, &a, &c] {
            groups.join("g", pid).unwrap();
        }
        assert_eq!(groups.members("g"), [&a, &b, &a, &c].map(Clone::clone));
        // The newest `a` goes: the older keeps its place before `b`.
        assert!(groups.leave("g", &a));
        assert_eq!(groups.members("g"), [a.clone(), b.clone(), c.clone()]);
        assert!(groups.leave("g", &a));
        assert!(!groups.leave("g", &a), "a third leave: no membership left");
        assert!(!groups.is_member("g", &a));
        assert_eq!(groups.members("g"), [b.clone(), c.clone()]);
        assert!(!groups.leave("other", &b), "not a group");
        assert_eq!(
            groups.leave_many("g", &[b.clone(), a.clone(), c.clone()]),
            2
        );
        assert!(groups.members("g").is_empty());
        assert!(
            groups.which_groups().is_empty(),
            "the last leave removes the group"
        );
        for pid in [a, b, c] {
            send(&pid, ());
        }
    });
}

#[test]
fn a_process_in_several_groups_is_listed_in_each() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<String>::new();
        let me = self_pid();
        let other = idle();
        groups.join("x".into(), &me).unwrap();
        groups.join("y".into(), &me).unwrap();
        groups.join("y".into(), &other).unwrap();
        groups.join("z".into(), &other).unwrap();
        let mut which = groups.which_groups();
        which.sort();
        assert_eq!(which, ["x", "y", "z"]);
        assert!(groups.leave("x", &me));
        assert_eq!(groups.members("y"), [me.clone(), other.clone()]);
        assert!(!groups.is_member("x", &me) && groups.is_member("y", &me));
        let mut which = groups.which_groups();
        which.sort();
        assert_eq!(which, ["y", "z"]);
        send(&other, ());
    });
}

#[test]
fn a_member_that_ends_leaves_every_group_and_only_its_memberships_go() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<u32>::new();
        let (stays, ends) = (idle(), idle());
        groups.join(1, &stays).unwrap();
        groups.join(1, &ends).unwrap();
        groups.join(1, &stays).unwrap();
        groups.join(1, &ends).unwrap();
        groups.join(2, &ends).unwrap(); // only member: the group goes
        groups.join(3, &stays).unwrap();
        send(&ends, ());
        wait_until("the ended member is removed", || {
            !groups.is_member(&1, &ends) && !groups.is_member(&2, &ends)
        });
        assert!(ends.has_exited());
        assert_eq!(groups.members(&1), [stays.clone(), stays.clone()]);
        assert!(groups.members(&2).is_empty());
        let mut which = groups.which_groups();
        which.sort();
        assert_eq!(which, [1, 3]);
        send(&stays, ());
        wait_until("the other one too", || groups.which_groups().is_empty());
    });
}

/// A process's exit removes it from all its groups in one step: once a
/// subscriber sees its `Left` in one group, it is in no group (20
/// groups: spread over several shards).
#[test]
fn an_ended_member_leaves_all_its_groups_at_once() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<u8>::new();
        for _ in 0..20 {
            let member = idle();
            for group in 0..20 {
                groups.join(group, &member).unwrap();
            }
            let (subscription, _) = groups.monitor(7);
            send(&member, ());
            let (_, kind, pids) = next_change::<u8>(subscription);
            assert_eq!((kind, pids), (ChangeKind::Left, vec![member.clone()]));
            assert!(
                groups.which_groups().is_empty(),
                "gone from every group at once"
            );
            assert!(groups.demonitor(subscription));
        }
    });
}

#[test]
fn a_process_that_has_ended_cannot_join_and_join_many_is_all_or_nothing() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<&str>::new();
        let gone = spawn(|| {});
        wait_until("it ends", || gone.has_exited());
        let (_, before) = groups.monitor("g");
        assert!(before.is_empty());
        assert_eq!(
            groups.join("g", &gone),
            Err(JoinError::Exited(gone.clone()))
        );
        let alive = idle();
        assert_eq!(
            groups.join_many("g", &[alive.clone(), gone.clone()]),
            Err(JoinError::Exited(gone.clone()))
        );
        assert!(groups.members("g").is_empty(), "nobody joined");
        assert!(groups.which_groups().is_empty());
        assert_eq!(mailbox_len(), 0, "a refused join is not a change");
        send(&alive, ());
    });
}

#[test]
fn subscribers_see_join_leave_and_exit_in_order_with_their_pids() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<&str>::new();
        let early = idle();
        groups.join("room", &early).unwrap();
        let (subscription, members) = groups.monitor("room");
        assert_eq!(members, std::slice::from_ref(&early));
        let (a, b, c) = (idle(), idle(), idle());
        groups.join("room", &a).unwrap();
        groups.join("elsewhere", &a).unwrap(); // another group: not seen
        groups
            .join_many("room", &[b.clone(), c.clone(), b.clone()])
            .unwrap();
        assert!(groups.leave("room", &b));
        assert_eq!(groups.leave_many("room", &[c.clone(), a.clone()]), 2);
        groups.join("room", &a).unwrap();
        groups.join("room", &a).unwrap();
        send(&a, ()); // ends: both memberships go, in one change
        use ChangeKind::{Joined, Left};
        let expected = [
            (Joined, vec![a.clone()]),
            (Joined, vec![b.clone(), c.clone(), b.clone()]),
            (Left, vec![b.clone()]),
            (Left, vec![c.clone(), a.clone()]),
            (Joined, vec![a.clone()]),
            (Joined, vec![a.clone()]),
            (Left, vec![a.clone(), a.clone()]),
        ];
        for (kind, pids) in expected {
            assert_eq!(next_change::<&str>(subscription), ("room", kind, pids));
        }
        assert_eq!(mailbox_len(), 0, "nothing else was sent");
        assert_eq!(groups.members("room"), [early.clone(), b.clone()]);
        for pid in [early, b, c] {
            send(&pid, ());
        }
    });
}

#[test]
fn a_scope_subscriber_gets_a_snapshot_and_every_later_change_of_every_group() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<u8>::new();
        let (a, b) = (idle(), idle());
        groups.join(1, &a).unwrap();
        groups.join(1, &b).unwrap();
        groups.join(2, &b).unwrap();
        let (subscription, snapshot) = groups.monitor_scope();
        let expected: HashMap<u8, Vec<Pid>> =
            HashMap::from([(1, vec![a.clone(), b.clone()]), (2, vec![b.clone()])]);
        assert_eq!(snapshot, expected);
        // Changes made one after the other arrive in that order, whatever
        // their groups' shards.
        for group in 3..=12 {
            groups.join(group, &a).unwrap();
        }
        send(&b, ()); // leaves 1 and 2
        for group in 3..=12u8 {
            assert_eq!(
                next_change(subscription),
                (group, ChangeKind::Joined, vec![a.clone()])
            );
        }
        let mut left: Vec<(u8, ChangeKind, Vec<Pid>)> =
            (0..2).map(|_| next_change(subscription)).collect();
        left.sort_by_key(|(group, _, _)| *group);
        assert_eq!(
            left,
            [
                (1, ChangeKind::Left, vec![b.clone()]),
                (2, ChangeKind::Left, vec![b.clone()])
            ]
        );
        assert!(groups.demonitor(subscription));
        groups.join(1, &self_pid()).unwrap();
        assert_eq!(mailbox_len(), 0, "nothing after demonitor");
        assert!(!groups.demonitor(subscription), "demonitored already");
        send(&a, ());
    });
}

#[test]
fn a_group_subscription_ends_with_demonitor_and_leaves_other_subscriptions_alone() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<&str>::new();
        let (first, _) = groups.monitor("g");
        let (second, _) = groups.monitor("g");
        let (other, _) = groups.monitor("h");
        assert!(groups.demonitor(first));
        assert!(!groups.demonitor(first));
        let me = self_pid();
        groups.join("g", &me).unwrap();
        groups.join("h", &me).unwrap();
        assert_eq!(
            next_change(second),
            ("g", ChangeKind::Joined, vec![me.clone()])
        );
        assert_eq!(
            next_change(other),
            ("h", ChangeKind::Joined, vec![me.clone()])
        );
        assert_eq!(mailbox_len(), 0);
        // A subscription of another scope is not this scope's.
        assert!(!ProcessGroups::<&str>::new().demonitor(second));
        assert!(groups.demonitor(second));
    });
}

#[test]
fn a_subscriber_that_ends_is_removed_and_sent_nothing_more() {
    let rt = runtime(2);
    rt.block_on(|| {
        let groups = ProcessGroups::<&str>::new();
        let me = self_pid();
        // A subscriber of the group and of the scope; it also joins the
        // group, so that its leaving shows its clean-up has run (the
        // group's subscriptions go in the same step, before).
        let subscriber = {
            let groups = groups.clone();
            let me = me.clone();
            spawn(move || {
                let (one, _) = groups.monitor("g");
                let (all, _) = groups.monitor_scope();
                groups.join("g", &self_pid()).unwrap();
                send(&me, (one, all));
                receive::<()>();
            })
        };
        let (one, all) = receive::<(Subscription, Subscription)>();
        send(&subscriber, ());
        wait_until("the subscriber's clean-up", || {
            !groups.is_member("g", &subscriber)
        });
        assert!(!groups.demonitor(one), "its group subscription is gone");
        assert!(!groups.demonitor(all), "its scope subscription is gone");
        for _ in 0..100 {
            groups.join("g", &me).unwrap();
            groups.leave("g", &me);
        }
    });
    assert_eq!(
        rt.dead_letters(),
        0,
        "no change went to the ended subscriber"
    );
}

#[test]
fn changes_go_past_a_full_bounded_mailbox_and_none_is_lost() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<u32>::new();
        let me = self_pid();
        // The go-ahead is a flag: a message could not get into the full
        // mailbox (a plain send would wait for room).
        let made = Arc::new(AtomicBool::new(false));
        {
            let groups = groups.clone();
            let me = me.clone();
            let made = Arc::clone(&made);
            spawn_opt(SpawnOptions::new().mailbox_capacity(1), move || {
                let (subscription, _) = groups.monitor(7);
                send(&me, subscription);
                while !made.load(Ordering::Acquire) {
                    yield_now();
                }
                assert_eq!(mailbox_len(), 20, "all queued, past the bound of 1");
                let seen: Vec<ChangeKind> = (0..20)
                    .map(|_| next_change::<u32>(subscription).1)
                    .collect();
                send(&me, seen);
            })
            .unwrap();
        }
        receive::<Subscription>();
        for _ in 0..10 {
            groups.join(7, &me).unwrap(); // never waits for room
            groups.leave(&7, &me);
        }
        made.store(true, Ordering::Release);
        let seen = receive::<Vec<ChangeKind>>();
        let expected: Vec<ChangeKind> = (0..20)
            .map(|n| {
                if n % 2 == 0 {
                    ChangeKind::Joined
                } else {
                    ChangeKind::Left
                }
            })
            .collect();
        assert_eq!(seen, expected);
    });
}

#[test]
fn send_to_all_reaches_each_member_process_once() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<&str>::new();
        let me = self_pid();
        let echo = || {
            let me = me.clone();
            spawn(move || {
                let got = receive::<u64>();
                send(&me, (self_pid(), got));
            })
        };
        let (a, b) = (echo(), echo());
        groups
            .join_many("all", &[a.clone(), b.clone(), a.clone()])
            .unwrap();
        assert_eq!(groups.send_to_all("all", 9u64), 2);
        let mut got: Vec<(Pid, u64)> = (0..2).map(|_| receive::<(Pid, u64)>()).collect();
        got.sort();
        let mut expected = vec![(a.clone(), 9), (b.clone(), 9)];
        expected.sort();
        assert_eq!(got, expected);
        assert_eq!(groups.send_to_all("nobody", 1u64), 0);
        wait_until("both echoes are removed", || {
            groups.members("all").is_empty()
        });
        assert_eq!(mailbox_len(), 0, "each got one message");
    });
}

#[test]
fn joining_and_listing_work_from_outside_a_process_but_subscribing_needs_one() {
    let rt = runtime(2);
    let groups = ProcessGroups::<&str>::new();
    let pid = rt.spawn(|| {
        receive::<()>();
    });
    groups.join("outside", &pid).unwrap();
    assert_eq!(groups.members("outside"), std::slice::from_ref(&pid));
    assert_eq!(groups.send_to_all("outside", ()), 1); // it ends
    let start = Instant::now();
    while groups.is_member("outside", &pid) {
        assert!(start.elapsed() < Duration::from_secs(60), "never removed");
        std::thread::yield_now();
    }
    let panic = std::panic::catch_unwind(|| groups.monitor("outside")).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("ProcessGroups::monitor"), "{message}");
}

#[test]
fn the_global_scope_is_one_per_group_type() {
    #[derive(Clone, PartialEq, Eq, Hash, Debug)]
    struct OnlyHere(u8);
    runtime(2).block_on(|| {
        ProcessGroups::global()
            .join(OnlyHere(1), &self_pid())
            .unwrap();
        let again = ProcessGroups::<OnlyHere>::global();
        assert_eq!(again.members(&OnlyHere(1)), [self_pid()]);
        assert!(ProcessGroups::<u64>::global().which_groups().is_empty());
        assert!(again.leave(&OnlyHere(1), &self_pid()));
    });
}

/// Processes that end while (or just after) they are made to join: no
/// membership of an ended process survives (the race `watch.rs`
/// describes).
#[test]
fn processes_ending_while_they_join_are_all_removed() {
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<u8>::new();
        let mut refused = 0;
        for n in 0..300u32 {
            let pid = spawn(|| {});
            if n % 3 == 0 {
                yield_now(); // some have ended before the join
            }
            match groups.join((n % 4) as u8, &pid) {
                Ok(()) => {}
                Err(JoinError::Exited(gone)) => {
                    assert_eq!(gone, pid);
                    refused += 1;
                }
            }
        }
        wait_until("every ended joiner is removed", || {
            groups.which_groups().is_empty()
        });
        // Only to show both paths ran; not asserted (scheduling decides).
        let _ = refused;
    });
}

/// Many processes join and leave concurrently, on two workers, while a
/// scope subscriber watches: the final state is exact, and replaying
/// the subscriber's snapshot and changes gives the same state (no change
/// lost, none out of order within a group).
#[test]
fn concurrent_joins_leaves_and_exits_end_in_the_exact_state() {
    const PROCESSES: usize = 40;
    const GROUPS: u8 = 5;
    runtime(2).block_on(|| {
        let groups = ProcessGroups::<u8>::new();
        let me = self_pid();
        let (subscription, snapshot) = groups.monitor_scope();
        assert!(snapshot.is_empty());
        let mut workers = Vec::new();
        for n in 0..PROCESSES {
            let groups = groups.clone();
            let me = me.clone();
            workers.push(spawn(move || {
                let pid = self_pid();
                // Joins each group three times, leaves it once, and
                // yields between steps so that the others interleave.
                for round in 0..3 {
                    for group in 0..GROUPS {
                        groups.join(group, &pid).unwrap();
                        if round == 1 {
                            assert!(groups.leave(&group, &pid));
                        }
                        yield_now();
                    }
                }
                send(&me, "done");
                // Even-numbered ones end; the others stay.
                if n % 2 == 1 {
                    receive::<()>();
                }
            }));
        }
        for _ in 0..PROCESSES {
            assert_eq!(receive::<&str>(), "done");
        }
        let stays: Vec<&Pid> = workers.iter().skip(1).step_by(2).collect();
        let total_left = |groups: &ProcessGroups<u8>| {
            (0..GROUPS)
                .map(|group| groups.members(&group).len())
                .sum::<usize>()
        };
        wait_until("the ended ones are removed", || {
            total_left(&groups) == stays.len() * 2 * GROUPS as usize
        });
        for group in 0..GROUPS {
            let mut members = groups.members(&group);
            members.sort();
            let mut expected: Vec<Pid> = stays
                .iter()
                .flat_map(|pid| [(*pid).clone(), (*pid).clone()])
                .collect();
            expected.sort();
            assert_eq!(members, expected, "group {group}");
        }
        // Replay: a Left must always name a current member.
        let mut replay: HashMap<u8, Vec<Pid>> = HashMap::new();
        let changes = PROCESSES * GROUPS as usize * 4 + (PROCESSES / 2) * GROUPS as usize;
        for _ in 0..changes {
            let (group, kind, pids) = next_change::<u8>(subscription);
            let members = replay.entry(group).or_default();
            match kind {
                ChangeKind::Joined => members.extend(pids),
                ChangeKind::Left => {
                    for pid in pids {
                        let at = members.iter().position(|member| *member == pid);
                        members.remove(at.expect("a Left names a member"));
                    }
                }
            }
        }
        assert_eq!(mailbox_len(), 0, "exactly the expected number of changes");
        for group in 0..GROUPS {
            let mut replayed = replay.remove(&group).unwrap_or_default();
            replayed.sort();
            let mut members = groups.members(&group);
            members.sort();
            assert_eq!(replayed, members, "group {group}");
        }
        let distinct: HashSet<ProcessId> = (0..GROUPS)
            .flat_map(|g| groups.members(&g))
            .map(|pid| pid.id())
            .collect();
        assert_eq!(distinct.len(), stays.len());
        for pid in stays {
            send(pid, ());
        }
        wait_until("everyone is removed", || groups.which_groups().is_empty());
    });
}
