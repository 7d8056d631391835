//! What a runtime frame on a process's stack owes others until it
//! finishes, and who pays it if the frame never does.
//!
//! # Why
//!
//! An abandoned process (module `worker`: abandon) is never resumed nor
//! unwound: the destructors of the frames on its stack never run. Two of
//! the runtime's own frames hold something that others wait for:
//!
//! * `spawn_with`'s set-up holds its child, made but not yet queued
//!   (module `spawn`): unless someone ends it, its exit hooks, links and
//!   monitors never fire and its process slot is never given back;
//! * a blocking send to a full bounded mailbox holds a place in that
//!   mailbox's queue of waiting senders (`messaging/send.rs`): unless someone
//!   withdraws it, a wake-up given to it is never passed on and another
//!   sender waits for ever.
//!
//! # How
//!
//! The frame puts what it owes in a [`Debt`] shared with the running
//! process's context, which lists its debts. Whoever *takes* the debt
//! first owns it, under the debt's lock:
//!
//! * the frame, as it finishes ([`Debt::settle`]): it goes on with what it
//!   held (queues the child, drops the waiter) and the debt leaves the
//!   process's list;
//! * the worker, when the process is abandoned ([`Debt::pay`]): it ends the
//!   child, withdraws the waiter. The process hands its list to the worker
//!   as it gives the worker up for good, so no user code (an exit hook of
//!   the child) runs on the abandoned process's stack, where it could
//!   unwind out of the abandonment or reach a check point that abandons it
//!   again.
//!
//! # Invariants
//!
//! * A debt is taken once: the frame that finds it already paid (it ran
//!   on a coroutine of the user's that was resumed after its process was
//!   abandoned) does not touch what it held: the child has ended, the
//!   waiter is gone.
//! * A debt is removed from its process's list by identity, never by
//!   position: a coroutine of the user's may suspend inside a set-up and
//!   finish it later, out of order with the process's other frames.
//! * What a debt holds keeps alive what it points into: the waiter's
//!   mailbox belongs to the control block the debt holds.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferrotp_mailbox::{Pushed, RoomWaiter, TryPushError};

use crate::lifecycle::exit_reason::ExitReason;
use crate::process::{Envelope, Pcb};

/// What one frame owes (module docs).
pub(crate) enum Owed {
    /// `spawn_with`'s set-up runs, or the closure of its failed child is
    /// being dropped: the child, made but never queued, must end.
    SetupChild {
        pcb: Arc<Pcb>,
        /// The child holds a process slot, to give back.
        took_slot: bool,
    },
    /// A blocking send waits for room: its place among the mailbox's
    /// waiting senders must be withdrawn.
    RoomWait {
        /// Declared (so dropped) before `_mailbox_owner`: it borrows that
        /// control block's mailbox.
        waiter: RoomWaiter<'static, Envelope>,
        _mailbox_owner: Arc<Pcb>,
    },
}

/// One frame's debt, shared by the frame and its process's list.
pub(crate) struct Debt(Mutex<Option<Owed>>);

impl Debt {
    pub(crate) fn new(owed: Owed) -> Arc<Debt> {
        Arc::new(Debt(Mutex::new(Some(owed))))
    }

    /// A debt of `owed` in `spent`'s allocation, if nothing else holds
    /// that settled debt any more (else a new one).
    pub(crate) fn reuse(mut spent: Arc<Debt>, owed: Owed) -> Arc<Debt> {
        match Arc::get_mut(&mut spent) {
            Some(debt) => {
                *debt.0.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(owed);
                spent
            }
            None => Debt::new(owed),
        }
    }

    /// A debt for a blocking send's place among the waiting senders of
    /// `to`'s mailbox.
    pub(crate) fn room_wait(to: &Arc<Pcb>, waker: std::task::Waker) -> Arc<Debt> {
        let waiter = to.mailbox.room_waiter(waker);
        // Only the lifetime changes: the waiter borrows `to`'s mailbox,
        // which the `Arc` stored beside it keeps alive; it is dropped before
        // that `Arc` (field order), and used and dropped in place.
        // SAFETY: so the borrow never outlives the mailbox it points into.
        let waiter: RoomWaiter<'static, Envelope> = unsafe { std::mem::transmute(waiter) };
        Self::new(Owed::RoomWait {
            waiter,
            _mailbox_owner: Arc::clone(to),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Owed>> {
        // Nothing that can panic runs under the lock but user code that a
        // payment drops after releasing it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A blocking send's attempt: pushes, or registers for room (see
    /// [`RoomWaiter::try_push`]). If the debt was paid (the frame runs on
    /// a coroutine of the user's, resumed after the process that listed it
    /// was abandoned), the message comes back as if the mailbox had closed:
    /// a dead letter.
    pub(crate) fn try_push(&self, envelope: Envelope) -> Result<Pushed, TryPushError<Envelope>> {
        let mut owed = self.lock();
        match owed.as_mut() {
            Some(Owed::RoomWait { waiter, .. }) => waiter.try_push(envelope),
            _ => Err(TryPushError::Closed(envelope)),
        }
    }

    /// The frame finishes: takes back what it owes, and takes the debt off
    /// the running process's list. `None` if the process's abandonment
    /// paid it already.
    pub(crate) fn settle(self: &Arc<Self>) -> Option<Owed> {
        let owed = self.lock().take();
        let _ = crate::process::context::try_with_process(|ctx| {
            ctx.forget_debt(Arc::as_ptr(self).cast())
        });
        owed
    }

    /// The process was abandoned: pays what the frame owed, if the frame
    /// did not settle it. Runs on the worker, outside any process; the
    /// child's exit hooks run here.
    pub(crate) fn pay(&self) {
        let owed = self.lock().take();
        match owed {
            None => {}
            Some(Owed::SetupChild { pcb, took_slot }) => {
                // Its closure stays on the abandoned stack, leaked; what
                // was sent to it is leaked with its mailbox (the frame may
                // have been dropping it, so no new receiver is made).
                pcb.mailbox.close_abandoned();
                // SAFETY: the child was never queued, and the frame that
                // holds it, which took no debt back, will not touch it
                // (module docs): no other thread has it.
                unsafe { pcb.set_exited(ExitReason::Killed) };
                if took_slot {
                    pcb.shared().return_slots(1);
                }
            }
            // Dropping the waiter withdraws its place, passing on a
            // wake-up it received.
            Some(owed @ Owed::RoomWait { .. }) => drop(owed),
        }
    }
}

impl crate::process::coroutine::Payable for Debt {
    fn pay(&self) {
        Debt::pay(self);
    }
}
