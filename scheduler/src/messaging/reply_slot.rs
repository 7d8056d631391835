//! A process's reply slot: where the reply to its [`call`](crate::call)
//! lands, outside its mailbox, so that a reply that comes too late never
//! reaches the mailbox at all (OTP's alias semantics, EEP 53, without a
//! table of aliases).
//!
//! # The protocol
//!
//! One slot per process, owned by it: only the owner opens and closes it;
//! anyone holding the call's generation may fill it, once. The state word
//! packs a generation (62 bits) and a phase (2 bits):
//!
//! | phase     | meaning                                                       |
//! |-----------|---------------------------------------------------------------|
//! | `IDLE`    | no call open: every fill fails                                |
//! | `ACTIVE`  | call `gen` is open: the first fill for `gen` wins             |
//! | `WRITING` | a filler won and is moving its value in (a few instructions)  |
//! | `FILLED`  | the value is in: only the owner touches the slot now          |
//!
//! * **The owner** reserves a generation ([`ReplySlot::reserve`]: every
//!   call gets a number no earlier call had), hands it out with the
//!   request, then opens the call (`IDLE → ACTIVE(gen)`, a `Release`
//!   store: the cell is empty, and a filler's `Acquire` CAS sees that).
//! * **A filler** (the reply, the callee's exit hook, a dropped reply
//!   address) CASes `ACTIVE(gen) → WRITING(gen)` (`Acquire`), writes the
//!   cell, and stores `FILLED(gen)` (`Release`, pairing with the owner's
//!   `Acquire` load). A CAS that fails means the call is over, or another
//!   filler won: the value goes back to the filler (a late reply), and the
//!   slot is untouched.
//! * **The owner ends the call** either by taking a filled value
//!   ([`ReplySlot::take`]) or by closing it ([`ReplySlot::close`]:
//!   `ACTIVE(gen) → IDLE(gen)`, a CAS). A close that finds `WRITING` waits
//!   the filler out (no user code runs between its CAS and its store, and
//!   it cannot be suspended there), then takes the value: a reply that won
//!   the race is the call's result, never a message left behind.
//!
//! So each value given to [`ReplySlot::fill`] is either taken by the
//! owner exactly once or handed back to its filler, and a filler of an
//! earlier call can never fill a later one: generations only grow, and a
//! fill must name the open one. The loom model `tests/loom_reply_slot.rs`
//! checks both.

use ferrotp_mailbox::sync::{AtomicU64, Backoff, Ordering, UnsafeCell};

const IDLE: u64 = 0;
const ACTIVE: u64 = 1;
const WRITING: u64 = 2;
const FILLED: u64 = 3;
const PHASE_BITS: u32 = 2;
const PHASE: u64 = (1 << PHASE_BITS) - 1;

const fn word(generation: u64, phase: u64) -> u64 {
    (generation << PHASE_BITS) | phase
}

/// One process's reply slot (module docs).
pub struct ReplySlot<T> {
    /// Generation and phase (module docs).
    state: AtomicU64,
    /// The last generation reserved; written by the owner only.
    reserved: AtomicU64,
    /// Written by the filler that moved `state` to `WRITING`; read and
    /// emptied by the owner once it saw `FILLED`.
    value: UnsafeCell<Option<T>>,
}

// SAFETY: `value` is written only by the one filler that won the CAS to
// `WRITING` (before its `Release` store of `FILLED`), and read or emptied
// only by the owner after an `Acquire` load or CAS that saw `FILLED`; the
// owner empties it before opening the next call with a `Release` store,
// which the next filler's `Acquire` CAS reads. `T` crosses threads, so it
// must be `Send`.
unsafe impl<T: Send> Sync for ReplySlot<T> {}
// SAFETY: as above; the slot owns a `T`.
unsafe impl<T: Send> Send for ReplySlot<T> {}

impl<T> Default for ReplySlot<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ReplySlot<T> {
    /// An idle slot.
    pub fn new() -> Self {
        Self {
            state: AtomicU64::new(word(0, IDLE)),
            reserved: AtomicU64::new(0),
            value: UnsafeCell::new(None),
        }
    }

    /// Owner: a generation no earlier call of this slot had, for a call
    /// about to be opened. Reserving does not open: a call may reserve,
    /// make its request (which may itself make calls, each opening and
    /// closing the slot), and open only then.
    pub fn reserve(&self) -> u64 {
        // Only the owner writes it.
        let generation = self.reserved.load(Ordering::Relaxed) + 1;
        self.reserved.store(generation, Ordering::Relaxed);
        generation
    }

    /// Owner: opens call `generation` (reserved and not opened before).
    ///
    /// # Panics
    /// If another call is open: a process waits for one reply at a time.
    pub fn open(&self, generation: u64) {
        let now = self.state.load(Ordering::Relaxed);
        assert!(
            now & PHASE == IDLE,
            "ferrotp: a process waits for one reply at a time (a reply slot was opened while \
             another call was open: a PendingReply of this process is still open, or was \
             leaked with mem::forget, which closes the slot for good)"
        );
        // Release: the cell was emptied before; a filler's Acquire CAS
        // reads this store.
        self.state
            .store(word(generation, ACTIVE), Ordering::Release);
    }

    /// Anyone: fills open call `generation` with `value`.
    ///
    /// # Errors
    /// `value` back, if that call is not open (it is over, or another
    /// value filled it first).
    pub fn fill(&self, generation: u64, value: T) -> Result<(), T> {
        // Acquire: pairs with the owner's Release opening, so the cell is
        // seen empty.
        if self
            .state
            .compare_exchange(
                word(generation, ACTIVE),
                word(generation, WRITING),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: the CAS to WRITING makes this thread the cell's only
        // user until the store below (module docs).
        self.value.with_mut(|cell| unsafe { *cell = Some(value) });
        // Release: pairs with the owner's Acquire load or CAS that sees
        // FILLED, so the write above is visible to it.
        self.state
            .store(word(generation, FILLED), Ordering::Release);
        Ok(())
    }

    /// Owner: whether call `generation` has been filled (a hint: only
    /// [`take`](Self::take) and [`close`](Self::close) decide).
    pub fn is_filled(&self, generation: u64) -> bool {
        self.state.load(Ordering::Relaxed) == word(generation, FILLED)
    }

    /// Owner: the value of call `generation`, if it was filled; the call
    /// is then over. `None`: it is still open.
    pub fn take(&self, generation: u64) -> Option<T> {
        // Acquire: pairs with the filler's Release store of FILLED.
        if self.state.load(Ordering::Acquire) != word(generation, FILLED) {
            return None;
        }
        Some(self.take_filled(generation))
    }

    /// Owner: ends call `generation`; returns the value that filled it
    /// meanwhile, if any (waiting out a filler that is writing it).
    pub fn close(&self, generation: u64) -> Option<T> {
        let mut backoff = Backoff::new();
        loop {
            // Acquire on failure: a FILLED seen here publishes the cell.
            match self.state.compare_exchange(
                word(generation, ACTIVE),
                word(generation, IDLE),
                Ordering::Relaxed,
                Ordering::Acquire,
            ) {
                Ok(_) => return None,
                Err(now) if now == word(generation, FILLED) => {
                    return Some(self.take_filled(generation));
                }
                // A filler is between its CAS and its store: no user code
                // runs there, so this wait is short.
                Err(now) if now == word(generation, WRITING) => backoff.snooze(),
                // Taken or closed already.
                Err(_) => return None,
            }
        }
    }

    fn take_filled(&self, generation: u64) -> T {
        // SAFETY: the caller saw FILLED with Acquire: the filler is done
        // with the cell and only the owner (this thread) touches it until
        // its next Release opening.
        let value = self.value.with_mut(|cell| unsafe { (*cell).take() });
        // Relaxed: the owner's own state until it opens again (Release).
        self.state.store(word(generation, IDLE), Ordering::Relaxed);
        value.expect("a filled slot holds a value")
    }
}

/// What ends a call: the reply, the callee's end (its exit hook), or the
/// reply address dropped unanswered: by a process that is not ending, or
/// by this one as it ends (whose end then tells why).
pub(crate) enum Outcome {
    Reply(crate::process::Envelope),
    Exited(crate::lifecycle::exit_reason::ExitReason),
    Dropped,
    DroppedEnding(crate::process::Pid),
}

/// A process's reply slot, made by its first call (a process that never
/// calls pays one pointer in its control block).
pub(crate) struct LazyReplySlot(std::sync::atomic::AtomicPtr<ReplySlot<Outcome>>);

impl LazyReplySlot {
    pub(crate) const fn new() -> Self {
        Self(std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()))
    }

    /// Owner: the slot, made at its first call. Only the owner makes it,
    /// from the one thread it runs on at a time.
    pub(crate) fn get_or_make(&self) -> &ReplySlot<Outcome> {
        // Acquire: pairs with the Release below (a migratable owner may
        // have made it on another thread).
        let slot = self.0.load(std::sync::atomic::Ordering::Acquire);
        if !slot.is_null() {
            // SAFETY: made below from a `Box`, freed only by `drop`.
            return unsafe { &*slot };
        }
        let slot = Box::into_raw(Box::new(ReplySlot::new()));
        // Release: a filler learns of the slot through a generation handed
        // out after this store, and loads it with Acquire.
        self.0.store(slot, std::sync::atomic::Ordering::Release);
        // SAFETY: just made from a `Box`, freed only by `drop`.
        unsafe { &*slot }
    }

    /// Anyone holding a generation of this slot: the slot (made before
    /// any generation was handed out).
    pub(crate) fn get(&self) -> Option<&ReplySlot<Outcome>> {
        let slot = self.0.load(std::sync::atomic::Ordering::Acquire);
        // SAFETY: null, or made from a `Box` by `get_or_make` and freed
        // only by `drop`, which `&self` excludes.
        unsafe { slot.as_ref() }
    }
}

impl Drop for LazyReplySlot {
    fn drop(&mut self) {
        let slot = *self.0.get_mut();
        if !slot.is_null() {
            // SAFETY: made from a `Box` by `get_or_make`; `&mut self`: no
            // other reference to it remains.
            drop(unsafe { Box::from_raw(slot) });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_fill_lands_once_and_only_in_the_open_call() {
        let slot = ReplySlot::new();
        let first = slot.reserve();
        assert_eq!(slot.fill(first, "early"), Err("early"), "not open yet");
        slot.open(first);
        assert_eq!(slot.take(first), None);
        assert_eq!(slot.fill(first, "reply"), Ok(()));
        assert_eq!(
            slot.fill(first, "second"),
            Err("second"),
            "one fill per call"
        );
        assert!(slot.is_filled(first));
        assert_eq!(slot.take(first), Some("reply"));
        assert_eq!(slot.close(first), None, "taken already");

        let second = slot.reserve();
        assert!(second > first);
        slot.open(second);
        assert_eq!(
            slot.fill(first, "late"),
            Err("late"),
            "an earlier call's reply"
        );
        assert_eq!(slot.close(second), None);
        assert_eq!(slot.fill(second, "too late"), Err("too late"));
    }

    #[test]
    fn a_close_takes_a_value_that_won_the_race() {
        let slot = ReplySlot::new();
        let call = slot.reserve();
        slot.open(call);
        slot.fill(call, 7).unwrap();
        assert_eq!(slot.close(call), Some(7));
        assert!(!slot.is_filled(call));
    }

    #[test]
    fn calls_made_while_a_request_is_built_keep_their_own_generations() {
        let slot = ReplySlot::new();
        let outer = slot.reserve();
        let inner = slot.reserve();
        slot.open(inner);
        slot.fill(inner, 'i').unwrap();
        assert_eq!(slot.take(inner), Some('i'));
        slot.open(outer);
        assert_eq!(slot.fill(inner, 'x'), Err('x'));
        slot.fill(outer, 'o').unwrap();
        assert_eq!(slot.take(outer), Some('o'));
    }

    #[test]
    #[should_panic(expected = "one reply at a time")]
    fn opening_a_second_call_panics() {
        let slot = ReplySlot::<()>::new();
        let a = slot.reserve();
        let b = slot.reserve();
        slot.open(a);
        slot.open(b);
    }

    #[test]
    fn a_value_left_in_the_slot_is_dropped_with_it() {
        let value = std::sync::Arc::new(());
        let slot = ReplySlot::new();
        let call = slot.reserve();
        slot.open(call);
        slot.fill(call, std::sync::Arc::clone(&value)).unwrap();
        drop(slot);
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
    }
}
