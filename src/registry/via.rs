//! [`ViaName`]: a registry key an actor or state machine takes as it
//! starts (Elixir's `{:via, Registry, {registry, key}}`).

use std::fmt;

use ferrotp_scheduler::ExitReason;

/// A name in a [`Registry`](super::Registry) that a process registers as
/// its first act, before its init runs: made by
/// [`Registry::via`](super::Registry::via), given to
/// [`actor::Builder::via`](crate::actor::Builder::via) or
/// [`statem::Builder::via`](crate::statem::Builder::via).
///
/// If the name is taken, the start fails with
/// [`StartError::InitFailed`](crate::actor::StartError::InitFailed) and
/// the reason says who holds it. Under a supervisor, each incarnation
/// registers again (the start function makes a new `ViaName` each time),
/// and a unique key held by the ended incarnation is taken over.
pub struct ViaName(Box<Via>);

/// Boxed whole: a builder, and the init closure that takes it into the
/// new process (kept in every hibernating actor's body), hold one word.
struct Via {
    register: Box<dyn FnOnce() -> Result<(), ExitReason> + Send>,
    describe: String,
}

impl fmt::Debug for ViaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ViaName({})", self.0.describe)
    }
}

impl ViaName {
    pub(crate) fn new(
        describe: String,
        register: impl FnOnce() -> Result<(), ExitReason> + Send + 'static,
    ) -> Self {
        Self(Box::new(Via {
            register: Box::new(register),
            describe,
        }))
    }

    /// Registers the calling process (the new actor's, before its init).
    pub(crate) fn register(self) -> Result<(), ExitReason> {
        (self.0.register)()
    }
}
