//! A fake process for the loom models of link and monitor set-up
//! (`loom_link_setup.rs`, `loom_monitor_setup.rs`): the crate's protocols
//! run on it through the `Watch` trait, as they run on a `Pid` in the
//! runtime.
//!
//! It keeps the scheduler's exit-hook contract (module `watch` of the
//! crate, and `ferrotp_scheduler::exit_hooks`, which has its own loom
//! model), with a loom mutex where the scheduler has its lock byte:
//!
//! * [`Proc::end`] closes the hook table once and runs every hook that
//!   was registered, exactly once, outside the lock;
//! * a hook registered after that runs at once, inside `on_exit`, with
//!   `NoProc`, and its handle removes nothing;
//! * removing a hook before it runs takes it out (it never runs), after
//!   the end does nothing.
//!
//! It counts what happened to its hooks, and keeps the signals sent to it
//! (an ended process keeps them too, unread, which changes nothing).

// Each model file uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;

use ferrotp_mailbox::sync::Mutex;
use ferrotp_scheduler::{ExitReason, Link, ProcessId};
use ferrotp_supervision::link_map::LinkMap;
use ferrotp_supervision::monitor_record::MonitorRecord;
use ferrotp_supervision::watch::Watch;
// A plain loom atomic, not the facade's: its loads may be stale (below).
use loom::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

type Hook = Box<dyn FnOnce(&ExitReason) + Send>;

/// A fake process: cheap to clone, like a `Pid`.
#[derive(Clone)]
pub struct Proc(Arc<Inner>);

struct Inner {
    id: ProcessId,
    links: Arc<LinkMap<Proc>>,
    hooks: Mutex<Hooks>,
    mailbox: Mutex<Mailbox>,
    /// `Down`s pushed into the mailbox, bumped after the push (`Release`,
    /// as a real mailbox publishes a message). Read with a real `Acquire`
    /// load, which loom lets see an older value unless the push happens
    /// before the read: so it shows whether the monitor's protocol orders
    /// its push before the owner's look, as a lock-free mailbox needs.
    downs_pushed: AtomicUsize,
}

#[derive(Default)]
struct Hooks {
    ended: bool,
    next_id: u64,
    table: Vec<(u64, Hook)>,
    tally: Tally,
}

/// What happened to a process's hooks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Registrations.
    pub registered: usize,
    /// Taken out before they ran.
    pub removed: usize,
    /// Run by the end, with the reason.
    pub ran: usize,
    /// Registered after the end: run at once with `NoProc`.
    pub ran_at_once: usize,
    /// Still registered (the process lives).
    pub pending: usize,
}

#[derive(Default)]
struct Mailbox {
    exits: Vec<(ProcessId, ExitReason, Arc<dyn Link>)>,
    downs: Vec<(u64, ProcessId, ExitReason)>,
}

/// Two live processes, numbered 1 and 2, and the link map they keep their
/// links in (one shard: the models link one pair).
pub fn pair() -> (Arc<LinkMap<Proc>>, Proc, Proc) {
    let links = Arc::new(LinkMap::new(1));
    let (a, b) = (Proc::new(1, &links), Proc::new(2, &links));
    (links, a, b)
}

impl Proc {
    /// A live process numbered `number`, keeping its links in `links`.
    pub fn new(number: u64, links: &Arc<LinkMap<Proc>>) -> Self {
        Self(Arc::new(Inner {
            id: ProcessId::new(0, number),
            links: Arc::clone(links),
            hooks: Mutex::new(Hooks::default()),
            mailbox: Mutex::new(Mailbox::default()),
            downs_pushed: AtomicUsize::new(0),
        }))
    }

    /// The process ends with `reason`: its hooks run, each exactly once.
    pub fn end(&self, reason: ExitReason) {
        let hooks = {
            let mut hooks = self.0.hooks.lock().unwrap();
            assert!(!hooks.ended, "a process ended twice");
            hooks.ended = true;
            hooks.tally.ran += hooks.table.len();
            std::mem::take(&mut hooks.table)
        };
        for (_, hook) in hooks {
            hook(&reason);
        }
    }

    /// What happened to its hooks so far.
    pub fn tally(&self) -> Tally {
        let hooks = self.0.hooks.lock().unwrap();
        Tally {
            pending: hooks.table.len(),
            ..hooks.tally
        }
    }

    /// Whether a hook watches it: one is registered, or one ran when it
    /// ended (not one registered too late, which ran with `NoProc`).
    pub fn is_watched(&self) -> bool {
        let tally = self.tally();
        tally.pending + tally.ran > 0
    }

    /// The process acts on the exit signals that reached it (as a process
    /// trapping exits does): those whose link still stands, by sender.
    pub fn act_on_exits(&self) -> Vec<(ProcessId, ExitReason)> {
        let exits = std::mem::take(&mut self.0.mailbox.lock().unwrap().exits);
        exits
            .into_iter()
            .filter(|(_, _, link)| link.take_effect())
            .map(|(from, reason, _)| (from, reason))
            .collect()
    }

    /// The `Down`s that reached it: monitor, sender, reason.
    pub fn downs(&self) -> Vec<(u64, ProcessId, ExitReason)> {
        self.0.mailbox.lock().unwrap().downs.clone()
    }

    /// How many `Down`s this process sees in its mailbox now (a real load:
    /// see `downs_pushed`).
    pub fn downs_seen(&self) -> usize {
        // Acquire: pairs with the Release bump of a push it reads.
        self.0.downs_pushed.load(Ordering::Acquire)
    }
}

/// A registered hook: its process, and its number (`None`: it ran at
/// registration).
pub struct FakeHook {
    proc: Proc,
    id: Option<u64>,
}

impl Watch for Proc {
    type Hook = FakeHook;

    fn id(&self) -> ProcessId {
        self.0.id
    }

    fn on_exit(&self, hook: impl FnOnce(&ExitReason) + Send + 'static) -> FakeHook {
        let mut hooks = self.0.hooks.lock().unwrap();
        hooks.tally.registered += 1;
        if hooks.ended {
            hooks.tally.ran_at_once += 1;
            drop(hooks);
            hook(&ExitReason::NoProc);
            return FakeHook {
                proc: self.clone(),
                id: None,
            };
        }
        let id = hooks.next_id;
        hooks.next_id += 1;
        hooks.table.push((id, Box::new(hook)));
        FakeHook {
            proc: self.clone(),
            id: Some(id),
        }
    }

    fn remove_hook(hook: FakeHook) {
        let Some(id) = hook.id else {
            return;
        };
        let removed = {
            let mut hooks = hook.proc.0.hooks.lock().unwrap();
            let at = hooks.table.iter().position(|(hook_id, _)| *hook_id == id);
            let removed = at.map(|at| hooks.table.remove(at));
            hooks.tally.removed += usize::from(removed.is_some());
            removed
        };
        // Dropped outside the lock, as the scheduler does.
        drop(removed);
    }

    type Links = Arc<LinkMap<Self>>;

    fn links(&self) -> Self::Links {
        Arc::clone(&self.0.links)
    }

    fn link_signal(&self, from: &Self, reason: ExitReason, link: Arc<dyn Link>) {
        let mut mailbox = self.0.mailbox.lock().unwrap();
        mailbox.exits.push((from.0.id, reason, link));
    }

    fn send_down(&self, monitor: &Arc<MonitorRecord<Self>>, from: Self, reason: &ExitReason) {
        let down = (monitor.id(), from.0.id, reason.clone());
        self.0.mailbox.lock().unwrap().downs.push(down);
        // Release: the push above, published (see `downs_pushed`).
        self.0.downs_pushed.fetch_add(1, Ordering::Release);
    }
}
