//! Long-schedule detection (BEAM's `system_monitor(long_schedule)`): a
//! process that holds its worker longer than a threshold is reported.
//!
//! A watchdog thread per runtime wakes every half threshold and looks at
//! each worker: the process it runs (published at every resume) and its
//! switch count. A worker seen running the same process, with no switch
//! in between, for at least the threshold is reported once for that run:
//! its `long_schedules` counter goes up and the hook, if any, gets the
//! process, the worker and how long it has held it so far. Nothing is
//! timed on the switch path itself; detection is accurate to half the
//! threshold.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::process::process_id::ProcessId;
use crate::worker::shared::Shared;
use crate::worker::stats::LongSchedule;

/// What the watchdog last saw of one worker.
#[derive(Clone, Copy)]
struct Seen {
    running: u64,
    switches: u64,
    since: Instant,
    reported: bool,
}

/// The watchdog's loop; returns at shutdown.
pub(crate) fn watch(shared: &Arc<Shared>, threshold: Duration) {
    let mut seen: Vec<Option<Seen>> = vec![None; shared.remotes.len()];
    while !shared.shutdown.load(Ordering::Acquire) {
        std::thread::park_timeout(threshold / 2);
        let now = Instant::now();
        for (worker, remote) in shared.remotes.iter().enumerate() {
            let stats = &remote.stats;
            let running = stats.running.load(Ordering::Relaxed);
            let switches = stats.switches.get();
            let last = &mut seen[worker];
            match last {
                Some(last) if last.running == running && last.switches == switches => {
                    let held = now - last.since;
                    if running != 0 && !last.reported && held >= threshold {
                        last.reported = true;
                        stats.long_schedules.bump();
                        if let Some(hook) = &shared.long_schedule_hook {
                            let report = LongSchedule {
                                process: ProcessId::new(0, running - 1),
                                worker,
                                duration: held,
                            };
                            crate::worker::contain::contain("the long-schedule hook", || {
                                hook(report)
                            });
                        }
                    }
                }
                _ => {
                    *last = Some(Seen {
                        running,
                        switches,
                        since: now,
                        reported: false,
                    });
                }
            }
        }
    }
}
