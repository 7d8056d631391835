//! The pools' errors.

use std::fmt;
use std::time::Duration;

use ferrotp_scheduler::CallError;

/// A [`Pool`](super::Pool) or [`CheckoutPool`](super::CheckoutPool)
/// could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolError {
    /// A pool needs at least one worker.
    Empty {
        /// The pool's name.
        name: String,
    },
    /// A worker (or the pool's own process) failed to start.
    Start {
        /// The pool's name.
        name: String,
        /// What failed.
        error: String,
    },
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty { name } => write!(
                f,
                "pool {name:?}: a pool needs at least 1 worker, 0 were asked for"
            ),
            Self::Start { name, error } => write!(f, "pool {name:?} could not start: {error}"),
        }
    }
}

impl std::error::Error for PoolError {}

/// [`CheckoutPool::checkout`](super::CheckoutPool::checkout) got no
/// worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckoutError {
    /// Every worker (overflow included) stayed busy for this long.
    Timeout(Duration),
    /// The pool had stopped, or stopped while the caller waited.
    Stopped(CallError),
}

impl fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(waited) => write!(
                f,
                "no worker became free within {waited:?} (all busy, overflow at its bound)"
            ),
            Self::Stopped(error) => write!(f, "the pool is not running: {error}"),
        }
    }
}

impl std::error::Error for CheckoutError {}
