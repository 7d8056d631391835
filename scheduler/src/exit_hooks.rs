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
//!   good: it runs every hook in registration order.
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

use ferrotp_mailbox::sync::{AtomicU8, Backoff, Ordering, UnsafeCell};

use crate::exit::ExitReason;

const OPEN: u8 = 0;
const LOCKED: u8 = 1;
const CLOSED: u8 = 2;

/// A hook: runs once with the exit reason.
pub type Hook = Box<dyn FnOnce(&ExitReason) + Send>;

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

struct Table {
    next_id: u64,
    hooks: Vec<(u64, Hook)>,
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
        let mut hook = Some(hook);
        let id = self.with_table(|table| {
            let table = table.get_or_insert_with(|| {
                Box::new(Table {
                    next_id: 0,
                    hooks: Vec::new(),
                })
            });
            let id = table.next_id;
            table.next_id += 1;
            table.hooks.extend(hook.take().map(|hook| (id, hook)));
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
        let removed = self
            .with_table(|table| {
                let table = table.as_mut()?;
                let at = table.hooks.iter().position(|(hook_id, _)| *hook_id == id)?;
                Some(table.hooks.remove(at))
            })
            .flatten();
        // Dropped here, after the table is given back: its captures'
        // destructors may register or remove hooks themselves.
        removed.is_some()
    }

    /// Closes the hooks for good and returns them, in registration order,
    /// for the caller to run with the exit reason. Called once, by the
    /// process's owner as the process ends; a second call returns nothing.
    #[inline]
    pub fn close(&self) -> Vec<Hook> {
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
            return Vec::new();
        }
        // SAFETY: `CLOSED` is final and this thread reached it: nobody
        // else touches the table again.
        let table = self.table.with_mut(|table| unsafe { (*table).take() });
        match table {
            None => Vec::new(),
            Some(table) => Self::hooks_of(*table),
        }
    }

    #[inline(never)]
    fn hooks_of(table: Table) -> Vec<Hook> {
        table.hooks.into_iter().map(|(_, hook)| hook).collect()
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
            hook(&ExitReason::Killed);
        }
        assert!(hooks.close().is_empty(), "closed twice");
        assert!(!hooks.remove(first), "removed after it ran");
        assert_eq!(*log.lock().unwrap(), ["first: killed", "third: killed"]);
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
