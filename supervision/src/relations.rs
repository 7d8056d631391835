//! [`relations`]: a process's links and monitors, both ways (Erlang's
//! `process_info(Pid, [links, monitors, monitored_by])`).
//!
//! Read from the process's own exit hooks: each hook of a link or a
//! monitor carries what it stands for (module `watch`: relations), so the
//! listing costs O(hooks on that process), needs no index of its own,
//! and adds nothing to linking or monitoring but the tag.
//!
//! # What is listed
//!
//! * `links`: each process linked to it, once, in the order the links
//!   were made on it. A link whose exit signal has been sent but not yet
//!   acted on still counts (as [`is_linked`](crate::is_linked) says); one
//!   removed by `unlink`, or whose signal has taken effect, does not.
//! * `monitors`: the process each of its active monitors watches, one
//!   entry per monitor (monitoring a process twice lists it twice).
//! * `monitored_by`: the owner of each active monitor of it, one entry
//!   per monitor.
//!
//! A monitor leaves both lists once it is removed (`demonitor`) or has
//! fired (its `Down` is being sent), so once the owner has the `Down`
//! neither lists it. Everything is a snapshot: links and monitors come
//! and go meanwhile. A process that has ended has none.

use ferrotp_scheduler::Pid;

use crate::watch::Relation;

/// A process's links and monitors (see [`relations`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Relations {
    /// The processes linked to it.
    pub links: Vec<Pid>,
    /// The processes its monitors watch, one entry per monitor.
    pub monitors: Vec<Pid>,
    /// The owners of the monitors that watch it, one entry per monitor.
    pub monitored_by: Vec<Pid>,
}

/// The links and monitors of `pid` (module docs); empty once it has
/// ended. Callable from any thread.
///
/// ```
/// use ferrotp_scheduler::{receive, run, self_pid, spawn};
/// use ferrotp_supervision::{Demonitor, demonitor, link, monitor, relations, unlink};
/// let (before, after) = run(|| {
///     let me = self_pid();
///     let worker = spawn(|| { receive::<()>(); });
///     link(&worker);
///     let watch = monitor(&worker);
///     let mine = relations(&me);
///     let theirs = relations(&worker);
///     assert_eq!(theirs.links, [me.clone()]);
///     assert_eq!(theirs.monitored_by, [me.clone()]);
///     let before = (mine.links == [worker.clone()], mine.monitors == [worker.clone()]);
///     unlink(&worker);
///     demonitor(&watch, Demonitor::Flush);
///     (before, relations(&worker))
/// }).unwrap();
/// assert_eq!(before, (true, true));
/// assert!(after.links.is_empty() && after.monitored_by.is_empty());
/// ```
pub fn relations(pid: &Pid) -> Relations {
    let mut found = Relations::default();
    for tag in pid.exit_hook_tags() {
        let Some(relation) = tag.downcast_ref::<Relation<Pid>>() else {
            continue;
        };
        match relation {
            Relation::Link { peer, record } => {
                if record.upgrade().is_some_and(|r| r.is_linked()) && !found.links.contains(peer) {
                    found.links.push(peer.clone());
                }
            }
            Relation::Monitors { watched, record } => {
                if record.upgrade().is_some_and(|r| r.is_active()) {
                    found.monitors.push(watched.clone());
                }
            }
            Relation::MonitoredBy { owner, record } => {
                if record.upgrade().is_some_and(|r| r.is_active()) {
                    found.monitored_by.push(owner.clone());
                }
            }
        }
    }
    found
}
