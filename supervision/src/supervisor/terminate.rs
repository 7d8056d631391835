//! Stopping children: one at a time (a supervisor, in reverse start order)
//! or all at once (a dynamic supervisor), by each child's [`Shutdown`].
//!
//! As OTP's supervisor does, the supervisor monitors the child and unlinks
//! it first, so that the child's end arrives as a `Down` with its reason
//! rather than as an `Exit`; an `Exit` that was delivered before the
//! unlink (the child had already ended) is taken out of the mailbox, so it
//! is not mistaken later for a crash that needs a restart.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferrotp_scheduler::{Exit, ExitReason, Pid, exit, receive_match, receive_match_timeout};

use super::spec::Shutdown;
use crate::link::unlink;
use crate::monitor::{Down, MonitorRef, monitor};

/// Starts stopping `pid`: monitor, unlink, flush, signal.
fn begin(pid: &Pid, shutdown: Shutdown) -> MonitorRef {
    let watch = monitor(pid);
    unlink(pid);
    let _ = receive_match_timeout::<Exit>(|e| e.from.as_ref() == Some(pid), Duration::ZERO);
    let signal = match shutdown {
        Shutdown::BrutalKill => ExitReason::Kill,
        Shutdown::Timeout(_) | Shutdown::Infinity => ExitReason::Shutdown,
    };
    exit(pid, signal);
    watch
}

/// Stops `pid` and waits until it has ended; returns its exit reason.
pub(crate) fn terminate(pid: &Pid, shutdown: Shutdown) -> ExitReason {
    let watch = begin(pid, shutdown);
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
    down.reason
}

/// Stops all of `children` at once and waits until every one has ended:
/// each gets its signal now, and those with a timeout that have not ended
/// by their deadline are killed.
pub(crate) fn terminate_all_at_once(children: impl IntoIterator<Item = (Pid, Shutdown)>) {
    let started = Instant::now();
    let mut pending: HashMap<MonitorRef, (Pid, Option<Instant>)> = HashMap::new();
    for (pid, shutdown) in children {
        let watch = begin(&pid, shutdown);
        let deadline = match shutdown {
            Shutdown::Timeout(limit) => Some(started + limit),
            Shutdown::BrutalKill | Shutdown::Infinity => None,
        };
        pending.insert(watch, (pid, deadline));
    }
    while !pending.is_empty() {
        let next_deadline = pending.values().filter_map(|(_, d)| *d).min();
        let is_ours = |d: &Down| pending.contains_key(&d.monitor);
        let down = match next_deadline {
            None => Some(receive_match::<Down>(is_ours)),
            Some(deadline) => receive_match_timeout::<Down>(
                is_ours,
                deadline.saturating_duration_since(Instant::now()),
            ),
        };
        match down {
            Some(down) => {
                pending.remove(&down.monitor);
            }
            None => {
                let now = Instant::now();
                for (pid, deadline) in pending.values_mut() {
                    if deadline.is_some_and(|d| d <= now) {
                        exit(pid, ExitReason::Kill);
                        *deadline = None;
                    }
                }
            }
        }
    }
}
