//! The state machine of one link (module `link` explains its use), apart
//! from the runtime so that a loom model (`tests/loom_links.rs`) can check
//! it.
//!
//! | state    | meaning                                                  |
//! |----------|----------------------------------------------------------|
//! | `ACTIVE` | both processes live, as far as the link knows            |
//! | `FIRED`  | one ended; its hook sent the signal, not yet acted on    |
//! | `DONE`   | the survivor acted on the signal: the link is over       |
//! | `CUT`    | `unlink` removed it (before or after it fired)           |
//!
//! Transitions, each one CAS: `fire` (`ACTIVE → FIRED`, by the hook of
//! the process that ends first), `take_effect` (`FIRED → DONE`, by the
//! survivor acting on the signal), `cut` (`ACTIVE | FIRED → CUT`, by
//! `unlink`). `DONE` and `CUT` are final.
//!
//! The hook handles `H` are stored by the linker after it registered them
//! (a hook on an ended process runs at once, during registration, so the
//! state may have moved on by then). Whoever makes the link final takes
//! them under the mutex to remove them; the linker, storing them under the
//! same mutex, then looks at the state and takes them back if the link is
//! already final. So the handles are removed exactly once once the link
//! is over, and never while it is active or fired (the survivor's hook is
//! still needed then: it cleans up if the survivor ends before acting).

use ferrotp_mailbox::sync::{AtomicU8, Ordering};

use crate::hook_slot::HookSlot;

const ACTIVE: u8 = 0;
const FIRED: u8 = 1;
const DONE: u8 = 2;
const CUT: u8 = 3;

/// One link's state and its hook handles (module docs).
pub struct LinkState<H> {
    state: AtomicU8,
    hooks: HookSlot<H>,
}

impl<H> Default for LinkState<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H> LinkState<H> {
    /// An active link without stored hooks.
    pub fn new() -> Self {
        Self {
            state: AtomicU8::new(ACTIVE),
            hooks: HookSlot::new(),
        }
    }

    /// The linker stores the handles; returns them back if the link is
    /// already over (the caller removes them).
    pub fn store_hooks(&self, hooks: H) -> Option<H> {
        // The Acquire load in `is_over` pairs with the AcqRel of the
        // transition that made the link final, which its maker did before
        // taking the (empty) slot.
        self.hooks.store_unless(hooks, || self.is_over())
    }

    /// The hook of a process that ended: true if it must send the signal
    /// (`ACTIVE → FIRED`); false if the link fired the other way or is
    /// over.
    pub fn fire(&self) -> bool {
        // AcqRel: orders this hook's reads after the linker's set-up, and
        // publishes the transition to `take_effect` and `cut`.
        self.state
            .compare_exchange(ACTIVE, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The survivor acts on the signal: `Some(hooks)` (maybe `None`
    /// inside, if the linker has not stored them yet) if the signal takes
    /// effect, `None` if the link was cut.
    pub fn take_effect(&self) -> Option<Option<H>> {
        self.state
            .compare_exchange(FIRED, DONE, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(self.hooks.take())
    }

    /// `unlink`: makes the link final unless it already took effect, and
    /// returns the stored handles to remove.
    pub fn cut(&self) -> Option<H> {
        let mut state = self.state.load(Ordering::Acquire);
        while state == ACTIVE || state == FIRED {
            match self
                .state
                .compare_exchange(state, CUT, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        self.hooks.take()
    }

    /// Takes the stored handles whatever the state (a process's hook
    /// cleaning up after both ended).
    pub fn take_hooks(&self) -> Option<H> {
        self.hooks.take()
    }

    /// Whether the linker has stored the hooks, or the link is over.
    pub fn is_set_up(&self) -> bool {
        self.hooks.is_stored_or(|| self.is_over())
    }

    /// Whether the link still counts: active, or fired and not yet acted
    /// on.
    pub fn is_linked(&self) -> bool {
        !self.is_over()
    }

    fn is_over(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), DONE | CUT)
    }
}
