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
//!   the hooks of dead owners.
//!
//! Both hooks are the record itself (the scheduler's shared hooks: one
//! allocation a monitor, the record, which holds both pids). A hook holds
//! the record for as long as it is registered, and every way a monitor
//! ends removes both: the record never keeps itself alive through its
//! hooks.
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

use ferrotp_scheduler::{ExitReason, HookTag, ProcessId, SharedHook};

use crate::monitor_state::{Cancelled, MonitorState};
use crate::watch::{Relation, Watch, remove_hooks};

/// One monitor (module docs).
pub struct MonitorRecord<W: Watch> {
    id: u64,
    /// The process that made it: only it may `demonitor`.
    owner: ProcessId,
    /// The owner, then the watched process: the record is its hook on
    /// each (module `exit_hooks` of the scheduler: shared hooks), side 0
    /// and 1, and the monitor's one allocation.
    ends: [W; 2],
    /// The hooks on the watched process and on the owner.
    state: MonitorState<[W::Hook; 2]>,
}

impl<W: Watch> MonitorRecord<W> {
    fn new(owner: &W, watched: &W) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            // Relaxed: uniqueness needs only the atomic increment.
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            owner: owner.id(),
            ends: [owner.clone(), watched.clone()],
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
    let record = Arc::new(MonitorRecord::new(owner, pid));
    let on_pid = pid.on_exit_shared(record.clone(), WATCHED);
    if !record.is_active() {
        // `pid` had ended: the hook ran at once.
        return record;
    }
    let on_owner = owner.on_exit_shared(record.clone(), OWNER);
    remove_hooks::<W>(record.state.store_hooks([on_pid, on_owner]));
    record
}

/// The owner's side of a monitor's shared hook.
const OWNER: u8 = 0;
/// The watched process's side.
const WATCHED: u8 = 1;

impl<W: Watch> SharedHook for MonitorRecord<W> {
    fn on_exit(self: Arc<Self>, side: u8, reason: &ExitReason) {
        if side == WATCHED {
            // The watched process ended: the owner gets its `Down`.
            if !self.state.fire() {
                return;
            }
            let [owner, watched] = &self.ends;
            owner.send_down(&self, watched.clone(), reason);
            remove_hooks::<W>(self.state.fired());
        } else {
            // The owner ended first: nobody is left to tell.
            remove_hooks::<W>(self.state.cancel().1);
        }
    }

    fn tag(self: Arc<Self>, side: u8) -> HookTag {
        let record = Arc::downgrade(&self);
        let [owner, watched] = &self.ends;
        Arc::new(if side == WATCHED {
            Relation::MonitoredBy {
                owner: owner.clone(),
                record,
            }
        } else {
            Relation::Monitors {
                watched: watched.clone(),
                record,
            }
        })
    }
}
