//! Stopping children: one at a time (a supervisor, in reverse start order)
//! or all at once (a dynamic supervisor), by each child's [`Shutdown`].
//!
//! As OTP's supervisor does, the supervisor monitors the child and unlinks
//! it first, so that the child's end arrives as a `Down` with its reason
//! rather than as an `Exit`; an `Exit` that was delivered before the
//! unlink (the child had already ended) is taken out of the mailbox, so it
//! is not mistaken later for a crash that needs a restart.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ferrotp_scheduler::{
    Exit, ExitReason, Pid, ProcessId, exit, receive_match, receive_match_timeout,
};

use super::spec::Shutdown;
use crate::link::unlink;
use crate::monitor::{Down, MonitorRef, monitor};

/// Watches `pid` and cuts its link: from here its end arrives as a
/// `Down`.
fn watch_and_unlink(pid: &Pid) -> MonitorRef {
    let watch = monitor(pid);
    unlink(pid);
    watch
}

/// The signal a shutdown policy starts with.
fn first_signal(shutdown: Shutdown) -> ExitReason {
    match shutdown {
        Shutdown::BrutalKill => ExitReason::Kill,
        Shutdown::Timeout(_) | Shutdown::Infinity => ExitReason::Shutdown,
    }
}

/// Stops `pid` and waits until it has ended; returns its exit reason.
pub(crate) fn terminate(pid: &Pid, shutdown: Shutdown) -> ExitReason {
    let watch = watch_and_unlink(pid);
    // Already ended (its Exit delivered before the unlink): its Down says
    // only `NoProc`, so its reason is the Exit's.
    let ended = receive_match_timeout::<Exit>(|e| e.from.as_ref() == Some(pid), Duration::ZERO);
    exit(pid, first_signal(shutdown));
    let is_ours = |d: &Down| d.monitor == watch;
    let down = match shutdown {
        Shutdown::Timeout(limit) => match receive_match_timeout::<Down>(is_ours, limit) {
            Some(down) => down,
            None => {
                exit(pid, ExitReason::Kill);
                receive_match::<Down>(is_ours)
            }
        },
        Shutdown::BrutalKill | Shutdown::Infinity => receive_match::<Down>(is_ours),
    };
    ended.map_or(down.reason, |exit| exit.reason)
}

/// Stops all of `children` at once and waits until every one has ended:
/// each gets its signal now, and those with a timeout that have not ended
/// by their deadline are killed. The work is linear in the number of
/// children: one pass to watch and unlink, one sweep for `Exit`s already
/// delivered, one pass to signal, then one `Down` each.
pub(crate) fn terminate_all_at_once(children: impl IntoIterator<Item = (Pid, Shutdown)>) {
    let started = Instant::now();
    // By monitor id: the pid, and the deadline until it is killed.
    let mut pending: HashMap<u64, (Pid, Option<Instant>)> = HashMap::new();
    let mut signals = Vec::new();
    for (pid, shutdown) in children {
        let watch = watch_and_unlink(&pid);
        let deadline = match shutdown {
            // A timeout too long to represent is no deadline at all.
            Shutdown::Timeout(limit) => started.checked_add(limit),
            Shutdown::BrutalKill | Shutdown::Infinity => None,
        };
        signals.push((pid.clone(), first_signal(shutdown)));
        pending.insert(watch.id(), (pid, deadline));
    }
    let ids: HashSet<ProcessId> = signals.iter().map(|(pid, _)| pid.id()).collect();
    while receive_match_timeout::<Exit>(
        |e| e.from.as_ref().is_some_and(|from| ids.contains(&from.id())),
        Duration::ZERO,
    )
    .is_some()
    {}
    for (pid, signal) in signals {
        exit(&pid, signal);
    }
    // Deadlines in order; those whose child has ended are skipped.
    let mut deadlines: Vec<(Instant, u64)> = pending
        .iter()
        .filter_map(|(id, (_, deadline))| Some(((*deadline)?, *id)))
        .collect();
    deadlines.sort_unstable();
    let mut next = 0;
    while !pending.is_empty() {
        while next < deadlines.len() && !pending.contains_key(&deadlines[next].1) {
            next += 1;
        }
        let is_ours = |d: &Down| pending.contains_key(&d.monitor.id());
        let down = match deadlines.get(next) {
            None => Some(receive_match::<Down>(is_ours)),
            Some((deadline, _)) => receive_match_timeout::<Down>(
                is_ours,
                deadline.saturating_duration_since(Instant::now()),
            ),
        };
        match down {
            Some(down) => {
                pending.remove(&down.monitor.id());
            }
            None => {
                // The earliest deadlines have passed: kill those children.
                let now = Instant::now();
                while let Some(&(deadline, id)) = deadlines.get(next) {
                    if deadline > now {
                        break;
                    }
                    if let Some((pid, _)) = pending.get(&id) {
                        exit(pid, ExitReason::Kill);
                    }
                    next += 1;
                }
            }
        }
    }
}
