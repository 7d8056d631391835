//! A monitor's record and the protocol that sets it up and takes it down
//! (module `monitor` has the public API and explains monitors). Generic
//! over the processes ([`Watch`]) so that a loom model
//! (`tests/loom_monitor_setup.rs`) runs this very code on fake processes;
//! a [`MonitorRef`](crate::MonitorRef) is a `MonitorRecord<Pid>`.
//!
//! # The protocol
//!
//! The record's state machine and hook hand-off are in `monitor_state`.
//!
//! * **Monitoring** (`monitor`) registers a hook on the watched process,
//!   then (unless that hook has already run: the process had ended) one
//!   on the owner, and stores both handles in the record (`store_hooks`),
//!   or removes them itself if the monitor is over by then.
//! * **The watched process's hook** fires the monitor, sends the `Down`
//!   to the owner, marks it sent (`fired`) and removes the handles.
//! * **The owner's hook** (the owner ended first) cancels the monitor and
//!   removes the handles, so that a long-lived process does not collect
//!   the hooks of dead owners. It holds the record weakly: the record
//!   does not keep itself alive through its owner.
//! * **`demonitor`** cancels it, waiting for a `Down` being sent, and
//!   removes the handles.
//!
//! # Invariants
//!
//! 1. At most one `Down`; none once `demonitor` found the monitor active,
//!    and once it returns, any `Down` is already in the owner's mailbox.
//! 2. The handles are removed exactly once, once the monitor is over: no
//!    hook of it stays on a live process.

use std::sync::Arc;
// Not part of any protocol: a plain counter, std's even under loom.
use std::sync::atomic::{AtomicU64, Ordering};

use ferrotp_scheduler::ProcessId;

use crate::monitor_state::{Cancelled, MonitorState};
use crate::watch::{Relation, Watch, remove_hooks};

/// One monitor (module docs).
pub struct MonitorRecord<W: Watch> {
    id: u64,
    /// The process that made it: only it may `demonitor`.
    owner: ProcessId,
    /// The hooks on the watched process and on the owner.
    state: MonitorState<[W::Hook; 2]>,
}

impl<W: Watch> MonitorRecord<W> {
    fn new(owner: &W) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            // Relaxed: uniqueness needs only the atomic increment.
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            owner: owner.id(),
            state: MonitorState::new(),
        }
    }

    /// The monitor's number, unique in this OS process.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The process that made it.
    pub fn owner(&self) -> ProcessId {
        self.owner
    }

    /// Whether it still watches (no `Down` sent, not removed).
    pub fn is_active(&self) -> bool {
        self.state.is_active()
    }

    /// `demonitor` (the owner checked by the caller): ends the monitor and
    /// removes its hooks. True if it was active, so no `Down` will come;
    /// false if one has been sent (it is in the mailbox now) or the
    /// monitor was over already.
    pub fn demonitor(&self) -> bool {
        let (cancelled, hooks) = self.state.cancel();
        remove_hooks::<W>(hooks);
        cancelled == Cancelled::WasActive
    }
}

/// Makes a monitor of `pid` owned by `owner` (module docs).
pub fn monitor<W: Watch>(owner: &W, pid: &W) -> Arc<MonitorRecord<W>> {
    let record = Arc::new(MonitorRecord::new(owner));
    let on_pid = {
        let relation = Relation::MonitoredBy {
            owner: owner.clone(),
            record: Arc::downgrade(&record),
        };
        let (record, owner, watched) = (Arc::clone(&record), owner.clone(), pid.clone());
        pid.on_exit_as(relation, move |reason| {
            if !record.state.fire() {
                return;
            }
            owner.send_down(&record, watched, reason);
            remove_hooks::<W>(record.state.fired());
        })
    };
    if !record.is_active() {
        // `pid` had ended: the hook ran at once.
        return record;
    }
    let on_owner = {
        let weak = Arc::downgrade(&record);
        let relation = Relation::Monitors {
            watched: pid.clone(),
            record: weak.clone(),
        };
        owner.on_exit_as(relation, move |_| {
            if let Some(record) = weak.upgrade() {
                remove_hooks::<W>(record.state.cancel().1);
            }
        })
    };
    remove_hooks::<W>(record.state.store_hooks([on_pid, on_owner]));
    record
}
