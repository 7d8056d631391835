//! The state machine of one monitor (module `monitor` explains its use),
//! apart from the runtime so that a loom model (`tests/loom_monitors.rs`)
//! can check it.
//!
//! | state       | meaning                                              |
//! |-------------|------------------------------------------------------|
//! | `ACTIVE`    | watching                                             |
//! | `FIRING`    | the watched process ended; its `Down` is being sent  |
//! | `FIRED`     | the `Down` is in the owner's mailbox                 |
//! | `CANCELLED` | `demonitor`, or the owner ended                      |
//!
//! `fire` (`ACTIVE → FIRING`), then the caller pushes the `Down` and
//! calls `fired` (`FIRING → FIRED`, `Release`). `cancel` CASes
//! `ACTIVE → CANCELLED`; finding `FIRING`, it waits for `FIRED`, so that
//! when it returns either no `Down` will ever be sent, or it is in the
//! mailbox (`Acquire`). Hook handles are stored and taken as in
//! `link_state`: removed exactly once, by whoever ends the monitor or by
//! the owner storing them late.

use ferrotp_mailbox::sync::{AtomicU8, Backoff, Ordering};

use crate::hook_slot::HookSlot;

const ACTIVE: u8 = 0;
const FIRING: u8 = 1;
const FIRED: u8 = 2;
const CANCELLED: u8 = 3;

/// What [`MonitorState::cancel`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// The monitor was active: no `Down` will be sent.
    WasActive,
    /// The `Down` has been sent (it is in the mailbox), or the monitor was
    /// already cancelled.
    AlreadyOver,
}

/// One monitor's state and its hook handles (module docs).
pub struct MonitorState<H> {
    state: AtomicU8,
    hooks: HookSlot<H>,
}

impl<H> Default for MonitorState<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H> MonitorState<H> {
    /// An active monitor without stored hooks.
    pub fn new() -> Self {
        Self {
            state: AtomicU8::new(ACTIVE),
            hooks: HookSlot::new(),
        }
    }

    /// Whether it still watches.
    pub fn is_active(&self) -> bool {
        self.state.load(Ordering::Acquire) == ACTIVE
    }

    /// The owner stores the handles; returns them back if the monitor is
    /// already over (the caller removes them).
    pub fn store_hooks(&self, hooks: H) -> Option<H> {
        self.hooks.store_unless(hooks, || !self.is_active())
    }

    /// The watched process ended: true if the caller must send the `Down`
    /// and then call [`fired`](Self::fired).
    pub fn fire(&self) -> bool {
        self.state
            .compare_exchange(ACTIVE, FIRING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The `Down` is in the mailbox; returns the handles to remove.
    pub fn fired(&self) -> Option<H> {
        // Release: the push happens before a `cancel` sees FIRED.
        self.state.store(FIRED, Ordering::Release);
        self.hooks.take()
    }

    /// `demonitor`, or the owner's end: makes the monitor final and
    /// returns the stored handles to remove (only when it was active;
    /// otherwise the firing side removes them).
    pub fn cancel(&self) -> (Cancelled, Option<H>) {
        let mut backoff = Backoff::new();
        loop {
            match self.state.compare_exchange(
                ACTIVE,
                CANCELLED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return (Cancelled::WasActive, self.hooks.take()),
                // Another thread is pushing the Down: one push, then FIRED.
                Err(FIRING) => backoff.snooze(),
                Err(_) => return (Cancelled::AlreadyOver, None),
            }
        }
    }
}
