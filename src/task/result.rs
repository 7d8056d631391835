//! Where a task leaves its result: a one-shot cell shared by the task's
//! process and its [`Task`](super::Task) handle.
//!
//! The task's process puts its function's value here as its last act
//! before it ends; the owner takes it once it has seen that end. The
//! value never travels as a message, so there is none to lose and none
//! to leave behind in a mailbox; and unlike a reply sent to the owner's
//! reply slot, a value put here is never dropped because the owner was
//! not waiting at that moment (a [`yield_for`](super::Task::yield_for)
//! that timed out just before it came): it stays until it is taken.

use std::sync::{Mutex, PoisonError};

/// A task's result, once its function has returned (module docs).
pub(crate) struct ResultSlot<T>(Mutex<Option<T>>);

impl<T> ResultSlot<T> {
    pub(crate) const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The task's process: its function's value. Called once, from the
    /// process, after the function has returned (so no panic can poison
    /// the lock).
    pub(crate) fn put(&self, value: T) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    /// The owner: the value, if the function has returned and the value
    /// was not taken yet.
    pub(crate) fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
