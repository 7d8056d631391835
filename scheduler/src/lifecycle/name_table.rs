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
pub(crate) struct Names {
    pub(crate) by_name: HashMap<Arc<str>, Pid>,
    /// Each named process's name, and the exit hook that frees it (taken
    /// out by `unregister`, so that re-registering does not pile hooks up).
    pub(crate) by_pid: HashMap<ProcessId, (Arc<str>, Option<ExitHook>)>,
}

impl Registry {
    pub(crate) fn names(&self) -> MutexGuard<'_, Names> {
        // A panic while holding the lock leaves the maps consistent (each
        // change is one insert or remove pair done without user code).
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
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
