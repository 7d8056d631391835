//! Exit hooks: closures that run exactly once when a process ends, with
//! its exit reason. Links and monitors (crate `ferrotp-supervision`) are
//! built on them.
//!
//! # The protocol
//!
//! Each control block has an [`ExitHooks`]: a state byte and, behind it,
//! the table of registered hooks (allocated by the first registration, so
//! a process nobody watches pays nothing but the byte).
//!
//! | state    | meaning                                                    |
//! |----------|------------------------------------------------------------|
//! | `OPEN`   | the process lives; nobody holds the table                  |
//! | `LOCKED` | a registration or removal is changing the table            |
//! | `CLOSED` | the process has ended; its hooks have been taken to run    |
//!
//! * **Registering** CASes `OPEN → LOCKED` (waiting out another holder),
//!   adds the hook, and stores `OPEN` (`Release`). Finding `CLOSED`
//!   instead, it hands the hook back: the caller runs it at once with
//!   [`ExitReason::NoProc`], as Erlang answers a monitor of a dead pid.
//! * **Removing** (by the handle registration returned) does the same
//!   and takes the hook out of the table; after `CLOSED` there is nothing
//!   to remove (the hook has run or is running).
//! * **Closing** (the process's worker, once, as the process ends) CASes
//!   `OPEN → CLOSED` (waiting out a holder) and then owns the table for
//!   good: it runs every hook in registration order (those registered
//!   with `add_first`, such as the registry's, before the others).
//!
//! So a hook registered while the process ends runs exactly once: the CAS
//! that wins between its registration and the close decides whether the
//! close runs it (with the reason) or the registrant does (with
//! `NoProc`). The loom model `tests/loom_exit_hooks.rs` checks this, and
//! that a removal racing the close either removes the hook (which then
//! never runs) or reports that it could not (the hook runs once).
//!
//! One uncontended CAS per process exit is the whole cost for a process
//! without hooks.
//!
//! # Shared hooks
//!
//! A link or a monitor registers a hook on each of its two processes.
//! Boxing a closure and a tag for each cost four allocations a link on
//! top of its record; a [`SharedHook`] (the record itself, implementing
//! the trait) is registered instead, once per side
//! ([`ExitHooks::add_shared`]), and the table keeps the `Arc` and the side
//! inline: the record is the link's one allocation. Its tag is made only
//! when asked for ([`ExitHooks::tags`]).
//!
//! # Tags
//!
//! A hook may carry a [`HookTag`] ([`ExitHooks::add_tagged`]): an opaque
//! value saying what the hook stands for (a link, a monitor), which
//! [`ExitHooks::tags`] lists while the hook is registered, in registration
//! order. This is how `process_info` learns a process's links and
//! monitors from the crate that makes them, without this crate naming
//! them and without a second index to keep in step: a tag goes when its
//! hook is removed or run.

use std::any::Any;
use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicU8, Backoff, Ordering, UnsafeCell};
use smallvec::SmallVec;

use crate::lifecycle::exit_reason::ExitReason;

const OPEN: u8 = 0;
const LOCKED: u8 = 1;
const CLOSED: u8 = 2;

/// A hook: runs once with the exit reason.
pub type Hook = Box<dyn FnOnce(&ExitReason) + Send>;

/// What a hook stands for, for introspection (module docs: tags).
pub type HookTag = Arc<dyn Any + Send + Sync>;

/// A hook that two registrations share, each told apart by its side (a
/// link's or a monitor's record, registered on both its processes: module
/// docs, shared hooks). One allocation, the record's, serves both hooks.
pub trait SharedHook: Send + Sync + 'static {
    /// The process it was registered on as `side` ended with `reason`
    /// (`NoProc` if it had ended before the registration). Runs as any
    /// exit hook does: outside any process, contained.
    fn on_exit(self: Arc<Self>, side: u8, reason: &ExitReason);

    /// What the registration as `side` stands for, for
    /// [`ExitHooks::tags`] (called with the process's hooks not held: it
    /// may do anything).
    fn tag(self: Arc<Self>, side: u8) -> HookTag;
}

/// A registered hook as the table keeps it and [`ExitHooks::close`] hands
/// it out: a boxed closure, or one side of a shared hook.
pub enum Registered {
    /// Registered with [`ExitHooks::add`] (or a variant).
    Boxed(Hook),
    /// Registered with [`ExitHooks::add_shared`].
    Shared(Arc<dyn SharedHook>, u8),
}

impl Registered {
    /// Runs the hook with the exit reason.
    pub fn run(self, reason: &ExitReason) {
        match self {
            Registered::Boxed(hook) => hook(reason),
            Registered::Shared(hook, side) => hook.on_exit(side, reason),
        }
    }
}

/// A tag, or the shared hook that makes it (see [`ExitHooks::tags`]).
enum TagMaker {
    Made(HookTag),
    Shared(Arc<dyn SharedHook>, u8),
}

/// One registered hook: its id, the hook (`None` once taken out), and
/// its tag.
type Slot = (u64, Option<Registered>, Option<HookTag>);

/// The hooks registered on one process (module docs).
///
/// Dropped without having been closed (a control block whose process
/// never ran, say), it drops its hooks unrun: no exit happened to report.
/// The runtime closes every process's hooks as the process ends.
pub struct ExitHooks {
    state: AtomicU8,
    /// Owned by whoever moved `state` to `LOCKED` or `CLOSED`.
    table: UnsafeCell<Option<Box<Table>>>,
}

/// The registered hooks, by id. Ids grow with each registration, so each
/// lane is sorted by id: a removal finds its hook by binary search and
/// leaves a hole (`None`), so removing one of many hooks (a supervisor
/// unlinking one of 10,000 children) costs O(log n), not a shift of the
/// whole table. Holes are swept out when they are half the lane.
struct Table {
    next_id: u64,
    /// Hooks registered with [`ExitHooks::add_first`]: they run before
    /// the others (the registry frees a name before links and monitors
    /// report the exit, as BEAM does).
    first: Lane,
    hooks: Lane,
    holes: usize,
}

/// One lane of hooks: the first two inline, so that a process with a
/// link or a monitor or two (the usual case) pays one allocation, the
/// table's, for its hooks.
type Lane = SmallVec<[Slot; 2]>;

/// The hooks a close took, to run in registration order (the `add_first`
/// lane first): their table, or none.
pub struct ClosedHooks(Option<Box<Table>>);

impl ClosedHooks {
    /// Whether no hook was registered (none to run).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(|t| t.first.len() + t.hooks.len() == t.holes)
    }
}

impl IntoIterator for ClosedHooks {
    type Item = Registered;
    type IntoIter = std::iter::FilterMap<
        std::iter::Chain<smallvec::IntoIter<[Slot; 2]>, smallvec::IntoIter<[Slot; 2]>>,
        fn(Slot) -> Option<Registered>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let (first, hooks) = match self.0 {
            Some(table) => {
                let Table { first, hooks, .. } = *table;
                (first, hooks)
            }
            None => (Lane::new(), Lane::new()),
        };
        let hook_of: fn(Slot) -> Option<Registered> = |(_, hook, _)| hook;
        first.into_iter().chain(hooks).filter_map(hook_of)
    }
}

/// Ids of the `first` lane have this bit set.
const FIRST_LANE: u64 = 1 << 63;

impl Registered {
    /// The closure of a hook registered boxed (what `add` and its
    /// variants hand back when the hooks are closed).
    fn into_boxed(self) -> Hook {
        match self {
            Registered::Boxed(hook) => hook,
            Registered::Shared(..) => unreachable!("a boxed hook comes back boxed"),
        }
    }
}

impl Table {
    fn lane(&mut self, id: u64) -> &mut Lane {
        if id & FIRST_LANE != 0 {
            &mut self.first
        } else {
            &mut self.hooks
        }
    }

    fn take(&mut self, id: u64) -> Option<(Registered, Option<HookTag>)> {
        let lane = self.lane(id);
        let at = lane
            .binary_search_by_key(&id, |(hook_id, _, _)| *hook_id)
            .ok()?;
        let hook = lane[at].1.take()?;
        // The tag goes with its hook.
        let tag = lane[at].2.take();
        self.holes += 1;
        if self.holes * 2 > self.first.len() + self.hooks.len() {
            self.first.retain(|(_, hook, _)| hook.is_some());
            self.hooks.retain(|(_, hook, _)| hook.is_some());
            self.holes = 0;
        }
        Some((hook, tag))
    }
}

// SAFETY: `table` is only touched by the thread that owns it through the
// state byte (module docs): `LOCKED` and `CLOSED` are each reached by one
// CAS, `Acquire`, and the holder gives the table back with a `Release`
// store of `OPEN`. Hooks are `Send`.
unsafe impl Sync for ExitHooks {}

impl Default for ExitHooks {
    fn default() -> Self {
        Self::new()
    }
}

impl ExitHooks {
    /// No hooks; the process lives.
    pub fn new() -> Self {
        Self {
            state: AtomicU8::new(OPEN),
            table: UnsafeCell::new(None),
        }
    }

    /// Moves `OPEN → to`, waiting out another holder; false if closed.
    fn acquire(&self, to: u8) -> bool {
        let mut backoff = Backoff::new();
        loop {
            match self
                .state
                .compare_exchange_weak(OPEN, to, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(CLOSED) => return false,
                // LOCKED by another registrant (or a spurious failure).
                Err(_) => backoff.snooze(),
            }
        }
    }

    /// Runs `f` on the table while holding it; `None` if closed.
    fn with_table<R>(&self, f: impl FnOnce(&mut Option<Box<Table>>) -> R) -> Option<R> {
        if !self.acquire(LOCKED) {
            return None;
        }
        // SAFETY: `LOCKED` makes this thread the table's only user until
        // the store below.
        let result = self.table.with_mut(|table| f(unsafe { &mut *table }));
        self.state.store(OPEN, Ordering::Release);
        Some(result)
    }

    /// Registers `hook`; returns its id, or the hook back if the process
    /// has already ended (the caller runs it with `NoProc`).
    ///
    /// # Errors
    /// The hook, unrun, when the hooks are closed.
    pub fn add(&self, hook: Hook) -> Result<u64, Hook> {
        self.add_to_lane(Registered::Boxed(hook), None, false)
            .map_err(Registered::into_boxed)
    }

    /// Registers side `side` of a shared hook (module docs: shared
    /// hooks), keeping no allocation of its own; returns its id, or the
    /// hook back if the process has already ended (the caller runs it
    /// with `NoProc`). [`tags`](Self::tags) lists the tag it makes.
    ///
    /// # Errors
    /// The hook, unrun, when the hooks are closed.
    pub fn add_shared(
        &self,
        hook: Arc<dyn SharedHook>,
        side: u8,
    ) -> Result<u64, Arc<dyn SharedHook>> {
        self.add_to_lane(Registered::Shared(hook, side), None, false)
            .map_err(|hook| match hook {
                Registered::Shared(hook, _) => hook,
                Registered::Boxed(_) => unreachable!("a shared hook comes back shared"),
            })
    }

    /// [`add`](Self::add), with a tag that [`tags`](Self::tags) lists
    /// while the hook is registered.
    ///
    /// # Errors
    /// The hook, unrun, when the hooks are closed (the tag is dropped).
    pub fn add_tagged(&self, hook: Hook, tag: HookTag) -> Result<u64, Hook> {
        self.add_to_lane(Registered::Boxed(hook), Some(tag), false)
            .map_err(Registered::into_boxed)
    }

    /// The tags of the hooks registered now, in registration order (the
    /// `add_first` lane first); none once closed.
    pub fn tags(&self) -> Vec<HookTag> {
        // What makes each tag, taken under the lock; shared hooks make
        // theirs after it is given back (`SharedHook::tag` is code of
        // another crate's: it must not run while the table is held).
        let makers: Vec<TagMaker> = self
            .with_table(|table| {
                table.as_ref().map_or_else(Vec::new, |table| {
                    table
                        .first
                        .iter()
                        .chain(&table.hooks)
                        .filter_map(|(_, hook, tag)| match (hook.as_ref()?, tag) {
                            (_, Some(tag)) => Some(TagMaker::Made(Arc::clone(tag))),
                            (Registered::Shared(hook, side), None) => {
                                Some(TagMaker::Shared(Arc::clone(hook), *side))
                            }
                            (Registered::Boxed(_), None) => None,
                        })
                        .collect()
                })
            })
            .unwrap_or_default();
        makers
            .into_iter()
            .map(|maker| match maker {
                TagMaker::Made(tag) => tag,
                TagMaker::Shared(hook, side) => hook.tag(side),
            })
            .collect()
    }

    /// Like [`add`](Self::add), but the hook runs before every hook
    /// registered with `add` (among themselves, in registration order).
    ///
    /// # Errors
    /// The hook, unrun, when the hooks are closed.
    pub fn add_first(&self, hook: Hook) -> Result<u64, Hook> {
        self.add_to_lane(Registered::Boxed(hook), None, true)
            .map_err(Registered::into_boxed)
    }

    fn add_to_lane(
        &self,
        hook: Registered,
        tag: Option<HookTag>,
        first: bool,
    ) -> Result<u64, Registered> {
        let mut hook = Some(hook);
        let id = self.with_table(|table| {
            let table = table.get_or_insert_with(|| {
                Box::new(Table {
                    next_id: 0,
                    first: Lane::new(),
                    hooks: Lane::new(),
                    holes: 0,
                })
            });
            let id = table.next_id | if first { FIRST_LANE } else { 0 };
            table.next_id += 1;
            table.lane(id).push((id, hook.take(), tag));
            id
        });
        match (id, hook) {
            (Some(id), None) => Ok(id),
            (None, Some(hook)) => Err(hook),
            _ => unreachable!("the hook was added exactly when the table was open"),
        }
    }

    /// Removes the hook registered as `id`; false if it is not there (it
    /// ran, is running, or was removed already).
    pub fn remove(&self, id: u64) -> bool {
        let removed = self.with_table(|table| table.as_mut()?.take(id)).flatten();
        // Dropped here, after the table is given back: its captures' (and
        // its tag's) destructors may register or remove hooks themselves.
        removed.is_some()
    }

    /// Closes the hooks for good and returns them, in registration order
    /// (the `add_first` lane first),
    /// for the caller to run with the exit reason. Called once, by the
    /// process's owner as the process ends; a second call returns nothing.
    #[inline]
    pub fn close(&self) -> ClosedHooks {
        // The usual case inline: nobody holds the table.
        let closed =
            match self
                .state
                .compare_exchange(OPEN, CLOSED, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => true,
                Err(_) => self.acquire(CLOSED),
            };
        if !closed {
            return ClosedHooks(None);
        }
        // SAFETY: `CLOSED` is final and this thread reached it: nobody
        // else touches the table again.
        ClosedHooks(self.table.with_mut(|table| unsafe { (*table).take() }))
    }

    /// Whether the hooks are closed (the process has ended).
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn recorder(log: &Arc<Mutex<Vec<String>>>, name: &'static str) -> Hook {
        let log = Arc::clone(log);
        Box::new(move |reason| log.lock().unwrap().push(format!("{name}: {reason}")))
    }

    #[test]
    fn hooks_run_once_in_registration_order_and_removed_ones_never() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let hooks = ExitHooks::new();
        let first = hooks.add(recorder(&log, "first")).ok().unwrap();
        let second = hooks.add(recorder(&log, "second")).ok().unwrap();
        hooks.add(recorder(&log, "third")).ok().unwrap();
        assert!(hooks.remove(second));
        assert!(!hooks.remove(second), "removed twice");
        for hook in hooks.close() {
            hook.run(&ExitReason::Killed);
        }
        assert!(hooks.close().is_empty(), "closed twice");
        assert!(!hooks.remove(first), "removed after it ran");
        assert_eq!(*log.lock().unwrap(), ["first: killed", "third: killed"]);
    }

    #[test]
    fn first_lane_hooks_run_before_the_others_and_holes_are_swept() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let hooks = ExitHooks::new();
        let ids: Vec<u64> = (0..100)
            .map(|_| hooks.add(Box::new(|_| {})).ok().unwrap())
            .collect();
        hooks.add(recorder(&log, "plain")).ok().unwrap();
        let name = hooks.add_first(recorder(&log, "name")).ok().unwrap();
        // Remove most of the plain hooks, newest first (sweeps happen).
        for id in ids.iter().rev() {
            assert!(hooks.remove(*id));
        }
        assert!(!hooks.remove(ids[0]));
        assert!(hooks.remove(name));
        hooks.add_first(recorder(&log, "name again")).ok().unwrap();
        for hook in hooks.close() {
            hook.run(&ExitReason::Shutdown);
        }
        assert_eq!(
            *log.lock().unwrap(),
            ["name again: shutdown", "plain: shutdown"]
        );
    }

    /// A shared hook's tag is made with the table given back: it may
    /// register and remove hooks on the very process being listed.
    #[test]
    fn a_shared_hooks_tag_may_use_the_hooks_it_is_listed_in() {
        struct Nosy(std::sync::OnceLock<Arc<ExitHooks>>);
        impl SharedHook for Nosy {
            fn on_exit(self: Arc<Self>, _: u8, _: &ExitReason) {}
            fn tag(self: Arc<Self>, side: u8) -> HookTag {
                let hooks = self.0.get().unwrap();
                let id = hooks.add(Box::new(|_| {})).ok().unwrap();
                assert!(hooks.remove(id));
                Arc::new(side)
            }
        }
        let hooks = Arc::new(ExitHooks::new());
        let nosy = Arc::new(Nosy(std::sync::OnceLock::new()));
        let _ = nosy.0.set(Arc::clone(&hooks));
        hooks.add_shared(nosy, 7).ok().unwrap();
        let tags = hooks.tags();
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].downcast_ref::<u8>(), Some(&7));
        // Closing breaks the cycle (hooks -> Nosy -> hooks).
        for hook in hooks.close() {
            hook.run(&ExitReason::Normal);
        }
    }

    #[test]
    fn a_hook_added_after_the_close_comes_back_to_its_registrant() {
        let hooks = ExitHooks::new();
        assert!(hooks.close().is_empty());
        assert!(hooks.is_closed());
        let log = Arc::new(Mutex::new(Vec::new()));
        let hook = hooks.add(recorder(&log, "late")).expect_err("closed");
        hook(&ExitReason::NoProc);
        assert_eq!(*log.lock().unwrap(), ["late: noproc"]);
    }
}
