//! [`process_info`]: everything known about one process in one call:
//! the scheduler's figures, its links and monitors (both ways), and, for
//! an actor or a state machine, its behaviour and current state name.
//!
//! # Where each part comes from
//!
//! * status, reductions, mailbox length, worker, name, stack size,
//!   `trap_exit`, hibernation: the scheduler's
//!   [`process_info`](ferrotp_scheduler::process_info), read from the
//!   control block without stopping the process.
//! * links, monitors, monitored-by: the supervision crate's
//!   [`relations`](ferrotp_supervision::relations), read from the tags of
//!   the process's exit hooks (each link and monitor tags the hooks it
//!   registers), so no index of its own is kept.
//! * behaviour and state name: a small slot ([`Pid::extension`]) that the
//!   actor layer attaches to every actor's process as it spawns it. An
//!   actor's slot says `Actor` and never changes (all actors share one).
//!   A state machine's engine writes its state's `Debug` text there on
//!   init and on each state change (never per event): formatted outside
//!   the slot's mutex (a `Debug` may call `process_info` itself), then
//!   stored under it; only this writer and `process_info` take it.
//!
//! The parts are read one after the other, not atomically together: a
//! process that runs meanwhile may have moved on between them.
//!
//! # A complete program
//!
//! A supervisor's child, looked at from outside: its link to the
//! supervisor, a monitor on it, its behaviour.
//!
//! ```
//! use ferrotp::actor::{self, Next};
//! use ferrotp::info::Behaviour;
//! use ferrotp::{SupervisorSpec, Strategy, monitor, process_info, self_pid};
//!
//! let (linked, monitored, behaviour) = ferrotp::run(|| {
//!     let (spec, child) = actor::child("child", |builder| {
//!         builder.start_fn((), |(), ()| Next::Continue(()))
//!     });
//!     let sup = SupervisorSpec::new(Strategy::OneForOne).child(spec).start_link().unwrap();
//!     monitor(&child.pid());
//!     let info = process_info(&child.pid()).unwrap();
//!     let linked = info.links.contains(sup.pid());
//!     let monitored = info.monitored_by == [self_pid()];
//!     sup.stop().unwrap();
//!     (linked, monitored, info.behaviour)
//! }).unwrap();
//! assert!(linked && monitored);
//! assert_eq!(behaviour, Some(Behaviour::Actor));
//! ```

use std::sync::{Arc, Mutex};

use ferrotp_scheduler::{Pid, ProcessStatus};

/// What kind of OTP behaviour a process runs, as [`process_info`]
/// reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Behaviour {
    /// An [`actor`](crate::actor) (gen_server).
    Actor,
    /// A [`statem`](crate::statem) state machine (gen_statem).
    StateMachine,
}

/// A snapshot of a process (see [`process_info`]): the scheduler's
/// figures, its links and monitors, and what behaviour it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// What it is doing.
    pub status: ProcessStatus,
    /// Reductions it has consumed, as of its last suspension.
    pub reductions: u64,
    /// Messages in its mailbox (exact while it waits).
    pub mailbox_len: u64,
    /// The worker whose thread it runs on, once it has run.
    pub worker: Option<usize>,
    /// The name given at spawn.
    pub name: Option<String>,
    /// Usable stack bytes it asked for.
    pub stack_size: usize,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// Whether it waits hibernated, owning no stack.
    pub hibernated: bool,
    /// The processes linked to it, in the order the links were made.
    pub links: Vec<Pid>,
    /// The processes its monitors watch, one entry per monitor.
    pub monitors: Vec<Pid>,
    /// The owners of the monitors that watch it, one entry per monitor.
    pub monitored_by: Vec<Pid>,
    /// The behaviour it runs, if it is an actor or a state machine.
    pub behaviour: Option<Behaviour>,
    /// A state machine's current state, as its `Debug` prints it; `None`
    /// for anything else (and for a state machine before its init ran).
    pub state: Option<String>,
}

/// Everything known about `pid` (module docs); `None` once it has ended.
/// Callable from any thread.
///
/// ```
/// use ferrotp::actor::{self, Next};
/// use ferrotp::info::Behaviour;
/// use ferrotp::{link, process_info, self_pid};
/// let (info, me) = ferrotp::run(|| {
///     let counter = actor::start(0u64, |n: u64, total| Next::Continue(total + n)).unwrap();
///     link(&counter.pid());
///     (process_info(&counter.pid()).unwrap(), self_pid())
/// }).unwrap();
/// assert_eq!(info.behaviour, Some(Behaviour::Actor));
/// assert_eq!(info.links, [me]);
/// assert!(info.monitors.is_empty() && info.state.is_none());
/// ```
pub fn process_info(pid: &Pid) -> Option<ProcessInfo> {
    let base = ferrotp_scheduler::process_info(pid)?;
    let relations = ferrotp_supervision::relations(pid);
    let slot = BehaviourSlot::of(pid);
    Some(ProcessInfo {
        status: base.status,
        reductions: base.reductions,
        mailbox_len: base.mailbox_len,
        worker: base.worker,
        name: base.name,
        stack_size: base.stack_size,
        trap_exit: base.trap_exit,
        hibernated: base.hibernated,
        links: relations.links,
        monitors: relations.monitors,
        monitored_by: relations.monitored_by,
        behaviour: slot.map(|slot| slot.behaviour),
        state: slot.and_then(BehaviourSlot::state),
    })
}

/// What an actor's process publishes about itself (module docs), as its
/// [`Pid::extension`].
pub(crate) struct BehaviourSlot {
    behaviour: Behaviour,
    /// A state machine's state's `Debug` text; empty until its init ran
    /// (and always, for an actor).
    state: Mutex<String>,
}

impl BehaviourSlot {
    pub(crate) fn new(behaviour: Behaviour) -> Arc<Self> {
        // An actor's slot never changes: every actor shares one (no
        // allocation per start). A state machine writes its own.
        static ACTOR: std::sync::LazyLock<Arc<BehaviourSlot>> = std::sync::LazyLock::new(|| {
            Arc::new(BehaviourSlot {
                behaviour: Behaviour::Actor,
                state: Mutex::new(String::new()),
            })
        });
        match behaviour {
            Behaviour::Actor => Arc::clone(&ACTOR),
            behaviour => Arc::new(Self {
                behaviour,
                state: Mutex::new(String::new()),
            }),
        }
    }

    /// The slot of `pid`, if it is an actor's process.
    pub(crate) fn of(pid: &Pid) -> Option<&BehaviourSlot> {
        pid.extension()?.downcast_ref::<BehaviourSlot>()
    }

    /// The slot of `pid`, shared.
    pub(crate) fn shared(pid: &Pid) -> Option<Arc<BehaviourSlot>> {
        Arc::clone(pid.extension()?)
            .downcast::<BehaviourSlot>()
            .ok()
    }

    fn state(&self) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (!state.is_empty()).then(|| state.clone())
    }

    /// Publishes a state machine's state (on init and each change).
    ///
    /// The `Debug` text is written outside the lock: a `Debug` is user
    /// code, which may look at this very process's info (the lock would
    /// deadlock). A `Debug` that panics is shown as `<its Debug
    /// panicked>`. One allocation per state change, never per event.
    pub(crate) fn set_state(&self, state: &dyn std::fmt::Debug) {
        // A `Debug` that panics must not end the machine it describes.
        let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| format!("{state:?}")))
            .unwrap_or_else(|payload| {
                std::mem::forget(payload);
                "<its Debug panicked>".to_owned()
            });
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = text;
    }
}
