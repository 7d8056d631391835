//! What links and monitors need of a process, as a trait, so that their
//! protocols (modules `link_map` and `monitor_record`) run unchanged on
//! fake processes in loom models (`tests/loom_link_setup.rs`,
//! `tests/loom_monitor_setup.rs`). [`Pid`] is the implementation that
//! ships.
//!
//! # The exit-hook contract
//!
//! An implementation keeps the contract of the scheduler's exit hooks
//! (`ferrotp_scheduler::exit_hooks`, which has its own loom model); the
//! protocols rely on every point of it:
//!
//! * A hook registered with [`Watch::on_exit`] runs exactly once, when
//!   the process ends, with its exit reason, unless it is removed first.
//! * Registered on a process that has already ended, it runs at once,
//!   inside `on_exit`, with [`ExitReason::NoProc`], and `on_exit` returns
//!   a handle whose removal does nothing.
//! * [`Watch::remove_hook`] takes a hook out before it runs; once it has
//!   run, or is running, removal does nothing.
//! * Hooks run without any lock of the process held: a hook may register
//!   and remove hooks, and take the locks of this crate.
//!
//! # Relations
//!
//! Each hook of a link or a monitor is registered with
//! [`Watch::on_exit_as`], which says what it stands for ([`Relation`]).
//! [`Pid`] keeps that as the hook's tag
//! ([`Pid::on_exit_tagged`](ferrotp_scheduler::Pid::on_exit_tagged)), so
//! `relations` (module `relations`) lists a process's links and monitors
//! from its own hooks: no second index to keep in step, and a relation
//! leaves the list when its hook is removed or run. The tag holds its
//! record weakly, and the listing asks the record whether the link or
//! monitor still counts.

use std::ops::Deref;
use std::sync::{Arc, Weak};

use ferrotp_scheduler::{
    ExitHook, ExitReason, Link, Pid, ProcessId, SharedHook, send_signal_message,
};

use crate::link_map::{LinkMap, LinkRecord};
use crate::monitor::{Down, MonitorRef};
use crate::monitor_record::MonitorRecord;

/// A process, as links and monitors use it (module docs).
pub trait Watch: Clone + Send + Sync + 'static {
    /// The handle of a registered exit hook.
    type Hook: Send + 'static;

    /// The process's identity.
    fn id(&self) -> ProcessId;

    /// Registers `hook` to run when the process ends; runs it at once with
    /// `NoProc` if it has ended already (module docs).
    fn on_exit(&self, hook: impl FnOnce(&ExitReason) + Send + 'static) -> Self::Hook;

    /// [`on_exit`](Self::on_exit), saying what the hook stands for
    /// (module docs: relations). By default the relation is not kept.
    fn on_exit_as(
        &self,
        relation: Relation<Self>,
        hook: impl FnOnce(&ExitReason) + Send + 'static,
    ) -> Self::Hook {
        drop(relation);
        self.on_exit(hook)
    }

    /// Unregisters a hook; does nothing if it has run or is running.
    /// Registers side `side` of `hook`, a record registered on both its
    /// processes, without an allocation of its own where the process
    /// kind allows (a `Pid` does: [`Pid::on_exit_shared`]); like
    /// [`on_exit_as`](Self::on_exit_as), the record makes the tag. The
    /// default boxes a closure (for fake processes in models).
    fn on_exit_shared(&self, hook: Arc<dyn SharedHook>, side: u8) -> Self::Hook {
        self.on_exit(move |reason| hook.on_exit(side, reason))
    }

    fn remove_hook(hook: Self::Hook);

    /// A handle on the map that holds this process's links (one map for
    /// all processes): `&'static` in the runtime.
    type Links: Deref<Target = LinkMap<Self>> + Send + Sync + 'static;

    /// The map that holds this process's links.
    fn links(&self) -> Self::Links;

    /// Sends this process the exit signal of a link: `from` ended with
    /// `reason`; `link` decides, when this process acts on the signal,
    /// whether it still takes effect.
    fn link_signal(&self, from: &Self, reason: ExitReason, link: Arc<dyn Link>);

    /// Sends this process, the owner of `monitor`, its `Down`: `from`
    /// ended with `reason`.
    fn send_down(&self, monitor: &Arc<MonitorRecord<Self>>, from: Self, reason: &ExitReason);
}

/// What the hook of a link or a monitor on a process stands for (module
/// docs: relations).
pub enum Relation<W: Watch> {
    /// The process is linked to `peer`.
    Link {
        /// The other end.
        peer: W,
        /// The link's record.
        record: Weak<LinkRecord<W>>,
    },
    /// The process monitors `watched` (the hook is on the owner).
    Monitors {
        /// The process it monitors.
        watched: W,
        /// The monitor's record.
        record: Weak<MonitorRecord<W>>,
    },
    /// The process is monitored by `owner` (the hook is on the watched).
    MonitoredBy {
        /// The process that monitors it.
        owner: W,
        /// The monitor's record.
        record: Weak<MonitorRecord<W>>,
    },
}

/// Unregisters the exit hooks of a link or a monitor (one that has run is
/// not there any more: removing it does nothing).
pub(crate) fn remove_hooks<W: Watch>(hooks: Option<[W::Hook; 2]>) {
    for hook in hooks.into_iter().flatten() {
        W::remove_hook(hook);
    }
}

impl Watch for Pid {
    type Hook = ExitHook;

    fn id(&self) -> ProcessId {
        Pid::id(self)
    }

    fn on_exit(&self, hook: impl FnOnce(&ExitReason) + Send + 'static) -> ExitHook {
        Pid::on_exit(self, hook)
    }

    fn on_exit_as(
        &self,
        relation: Relation<Self>,
        hook: impl FnOnce(&ExitReason) + Send + 'static,
    ) -> ExitHook {
        self.on_exit_tagged(Arc::new(relation), hook)
    }

    fn on_exit_shared(&self, hook: Arc<dyn SharedHook>, side: u8) -> ExitHook {
        Pid::on_exit_shared(self, hook, side)
    }

    fn remove_hook(hook: ExitHook) {
        hook.remove();
    }

    type Links = &'static LinkMap<Pid>;

    fn links(&self) -> Self::Links {
        crate::link::links()
    }

    fn link_signal(&self, from: &Self, reason: ExitReason, link: Arc<dyn Link>) {
        ferrotp_scheduler::link_signal(self, from, reason, link);
    }

    fn send_down(&self, monitor: &Arc<MonitorRecord<Self>>, from: Self, reason: &ExitReason) {
        let down = Down {
            monitor: MonitorRef(Arc::clone(monitor)),
            pid: from,
            reason: reason.clone(),
        };
        send_signal_message(self, down);
    }
}
