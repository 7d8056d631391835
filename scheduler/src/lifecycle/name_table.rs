//! The registry's table: each runtime's names, from name to pid and back,
//! behind a mutex (module `registry` has the API and the rules). Apart
//! from the API because the runtime's shared state holds it, and the API
//! sends messages: the table needs nothing but pids.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::process::process_id::ProcessId;
use crate::process::{ExitHook, Pid};

/// The names of one runtime.
#[derive(Default)]
pub(crate) struct Registry {
    names: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    by_name: HashMap<Arc<str>, Pid>,
    /// Each named process's name, and the exit hook that frees it (taken
    /// out by `unregister`, so that re-registering does not pile hooks up).
    by_pid: HashMap<ProcessId, (Arc<str>, Option<ExitHook>)>,
}

impl Registry {
    fn names(&self) -> MutexGuard<'_, Names> {
        // A panic while holding the lock leaves the maps consistent (each
        // change is one insert or remove pair done without user code).
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Names `pid` `name`, unless the name is taken, the process has a
    /// name, or it has ended. The exit hook that frees the name comes
    /// after ([`keep_hook`](Self::keep_hook)), outside the lock.
    pub(crate) fn insert(&self, name: &Arc<str>, pid: &Pid) -> Result<(), Refused> {
        let mut names = self.names();
        if let Some(by) = names.by_name.get(name) {
            return Err(Refused::Taken(by.clone()));
        }
        if let Some((has, _)) = names.by_pid.get(&pid.id()) {
            return Err(Refused::AlreadyNamed(Arc::clone(has)));
        }
        if pid.has_exited() {
            return Err(Refused::NotAlive);
        }
        names.by_name.insert(Arc::clone(name), pid.clone());
        names.by_pid.insert(pid.id(), (Arc::clone(name), None));
        Ok(())
    }

    /// Keeps `hook`, which frees `name` when process `id` ends, for
    /// `unregister`; gives it back if `name` no longer names `id` (it was
    /// unregistered or freed meanwhile), for the caller to remove outside
    /// the lock.
    pub(crate) fn keep_hook(
        &self,
        id: ProcessId,
        name: &Arc<str>,
        hook: ExitHook,
    ) -> Option<ExitHook> {
        let mut names = self.names();
        match names.by_pid.get_mut(&id) {
            Some((named, slot)) if Arc::ptr_eq(named, name) => {
                *slot = Some(hook);
                None
            }
            _ => Some(hook),
        }
    }

    pub(crate) fn whereis(&self, name: &str) -> Option<Pid> {
        self.names().by_name.get(name).cloned()
    }

    /// Removes `name` if it names `id` (or any process, for `None`);
    /// whether it did. Its exit hook is unregistered after the lock is
    /// released (a hook may be running, and would take the lock).
    pub(crate) fn remove(&self, name: &str, id: Option<ProcessId>) -> bool {
        let hook = {
            let mut names = self.names();
            match names.by_name.get(name) {
                Some(pid) if id.is_none_or(|id| pid.id() == id) => {
                    let pid = names.by_name.remove(name).expect("present");
                    names.by_pid.remove(&pid.id()).and_then(|(_, hook)| hook)
                }
                _ => return false,
            }
        };
        if let Some(hook) = hook {
            hook.remove();
        }
        true
    }

    /// Forgets every name (runtime shutdown: the pids would keep the
    /// runtime's shared state alive).
    pub(crate) fn clear(&self) {
        let mut names = self.names();
        names.by_name.clear();
        names.by_pid.clear();
    }
}

/// Why [`Registry::insert`] refused (module `registry` says it to the
/// caller as a `RegisterError`).
pub(crate) enum Refused {
    /// The name is taken, by this process.
    Taken(Pid),
    /// The process already has this name.
    AlreadyNamed(Arc<str>),
    /// The process has ended.
    NotAlive,
}
