//! The hook handles of a link or a monitor, and the hand-off that makes
//! exactly one side remove them (modules `link_state`, `monitor_state`).
//!
//! The registrant stores the handles once it has registered both hooks;
//! whoever makes the record final takes them to remove them. Both happen
//! under one mutex, and the registrant looks at the record's state under
//! it: if the record is already final, the registrant gets the handles
//! back and removes them itself. So they are removed exactly once.

use ferrotp_mailbox::sync::{Mutex, MutexGuard};

/// The handles `H`, once stored (module docs).
pub(crate) struct HookSlot<H>(Mutex<Option<H>>);

impl<H> HookSlot<H> {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(None))
    }

    fn lock(&self) -> MutexGuard<'_, Option<H>> {
        // A panic while holding it cannot leave the Option half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `hooks`, unless `over()` (asked under the lock) says the
    /// record is final; then hands them back for the caller to remove.
    pub(crate) fn store_unless(&self, hooks: H, over: impl FnOnce() -> bool) -> Option<H> {
        let mut slot = self.lock();
        if over() {
            return Some(hooks);
        }
        *slot = Some(hooks);
        None
    }

    /// Takes the stored handles, if any.
    pub(crate) fn take(&self) -> Option<H> {
        self.lock().take()
    }

    /// Whether handles are stored, or `over()` (asked under the lock).
    pub(crate) fn is_stored_or(&self, over: impl FnOnce() -> bool) -> bool {
        let slot = self.lock();
        slot.is_some() || over()
    }
}
