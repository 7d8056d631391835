//! Errors that hand a refused message back to its sender.

use std::error::Error;
use std::fmt;

/// The mailbox is closed (its receiver is gone); the message comes back.
///
/// A runtime turns it into a dead letter.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Closed<T>(pub T);

impl<T> Closed<T> {
    /// The refused message.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

impl<T> fmt::Display for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("push into a closed mailbox: its receiver is gone")
    }
}

impl<T> Error for Closed<T> {}

/// Why [`Mailbox::try_push`](crate::Mailbox::try_push) refused a message;
/// each variant hands it back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TryPushError<T> {
    /// The bounded mailbox holds as many messages as its capacity.
    Full(T),
    /// The mailbox is closed.
    Closed(T),
}

impl<T> TryPushError<T> {
    /// The refused message.
    pub fn into_inner(self) -> T {
        match self {
            TryPushError::Full(value) | TryPushError::Closed(value) => value,
        }
    }

    /// Whether the mailbox was full (rather than closed).
    pub fn is_full(&self) -> bool {
        matches!(self, TryPushError::Full(_))
    }
}

impl<T> From<Closed<T>> for TryPushError<T> {
    fn from(Closed(value): Closed<T>) -> Self {
        TryPushError::Closed(value)
    }
}

impl<T> fmt::Debug for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPushError::Full(_) => f.write_str("Full(..)"),
            TryPushError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPushError::Full(_) => f.write_str("bounded mailbox is full"),
            TryPushError::Closed(_) => {
                f.write_str("push into a closed mailbox: its receiver is gone")
            }
        }
    }
}

impl<T> Error for TryPushError<T> {}
