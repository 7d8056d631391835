//! One registered I/O source's readiness, and the processes waiting for
//! it: the hand-off between a worker's poller and a process that waits on
//! a socket.
//!
//! # The state word
//!
//! `state` packs the readiness the poller has seen and not yet been told
//! is gone (bit 0: readable, bit 1: writable) with a **tick**, the number
//! of events seen so far (the bits above). Registrations are
//! edge-triggered: the kernel reports a socket once when it *becomes*
//! ready, never again while it stays ready, so the readiness bits are the
//! only record that data is waiting, and clearing them wrongly loses the
//! socket for good.
//!
//! # The protocol
//!
//! * **The poller** ([`Readiness::set`]) adds the bits of an event and
//!   bumps the tick in one read-modify-write (`AcqRel`), then wakes every
//!   process waiting for one of those bits (under the `waiters` lock).
//! * **A process doing I/O** reads the word ([`Readiness::snapshot`],
//!   `Acquire`), and if the direction it needs is ready, tries the
//!   operation. When the operation says it would block, the process clears
//!   the direction **only if the word is still the one it read**
//!   ([`Readiness::clear`]: a compare-exchange against the snapshot, tick
//!   included). An event that came in between bumped the tick, the clear
//!   fails, and the process tries the operation again instead of waiting
//!   for an edge that has already passed.
//! * **A process that waits** ([`Readiness::add_waiter`]) puts itself in
//!   `waiters` *before* it looks at the word again, and looks after every
//!   wake-up (wake-ups are permits, module `run_state`). The lock orders
//!   the two sides: if the poller takes it after the process, it finds the
//!   process and wakes it; if before, its `set` happened before the
//!   process's look, which then sees the bit.
//!
//! **The invariant** (the loom model `tests/loom_io_readiness.rs`): a
//! process that waits for a direction whose readiness the poller reports
//! at any moment is never left waiting. The model fails when `clear`
//! ignores the tick (a plain store: the edge that came between the
//! operation and the clear is lost), and when `set` wakes the waiters
//! before it updates the word.
//!
//! Several processes may wait on one source (two readers of one socket,
//! through a shared reference): each registers, every one is woken, and
//! each looks again.

use ferrotp_mailbox::sync::{AtomicUsize, Mutex, MutexGuard, Ordering};

/// The source can be read (or has reached its end, or failed: the
/// operation says which).
pub const READABLE: usize = 1;
/// The source can be written (or has failed).
pub const WRITABLE: usize = 2;
/// Both directions.
pub const BOTH: usize = READABLE | WRITABLE;
/// One event, in the tick.
const TICK: usize = 4;

/// Something a waiting process is woken through: `Arc<Pcb>` in the
/// runtime, a thread in the loom model.
pub trait Waiter {
    /// Wakes the waiter (a permit if it is not waiting yet).
    fn wake(&self);
    /// Whether two waiters are the same.
    fn same(&self, other: &Self) -> bool;
}

/// A waiter and the directions it waits for.
struct Entry<W> {
    waiter: W,
    interest: usize,
}

/// One source's readiness and waiters (module docs).
pub struct Readiness<W> {
    state: AtomicUsize,
    waiters: Mutex<Vec<Entry<W>>>,
}

impl<W> std::fmt::Debug for Readiness<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Readiness")
            .field("readable", &(state & READABLE != 0))
            .field("writable", &(state & WRITABLE != 0))
            .field("tick", &(state / TICK))
            .finish()
    }
}

impl<W: Waiter> Default for Readiness<W> {
    fn default() -> Self {
        Self::new()
    }
}

/// A read of the state word, to try an operation on and to clear against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot(usize);

impl Snapshot {
    /// Whether any direction of `interest` is ready in this snapshot.
    pub fn is_ready(self, interest: usize) -> bool {
        self.0 & interest != 0
    }
}

impl<W: Waiter> Readiness<W> {
    /// A source not known to be ready in either direction.
    pub fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            waiters: Mutex::new(Vec::new()),
        }
    }

    fn waiters(&self) -> MutexGuard<'_, Vec<Entry<W>>> {
        // Nothing panics while the list is held (a wake-up queues a
        // process or unparks a thread), so a poisoned lock still holds a
        // consistent list.
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The poller saw an event: `ready` (a mask of [`READABLE`] and
    /// [`WRITABLE`]) is added and the tick bumped; every waiter for one of
    /// those directions is woken.
    pub fn set(&self, ready: usize) {
        let ready = ready & BOTH;
        // AcqRel: a process that reads the new word (Acquire) sees what
        // the poller saw; the tick makes a racing `clear` fail.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let next = (state | ready).wrapping_add(TICK);
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        // After the update, under the lock: see "The protocol".
        for entry in self.waiters().iter() {
            if entry.interest & ready != 0 {
                entry.waiter.wake();
            }
        }
    }

    /// The state word, to try an operation against.
    pub fn snapshot(&self) -> Snapshot {
        // Acquire: pairs with `set`'s update, so the operation sees what
        // made the source ready.
        Snapshot(self.state.load(Ordering::Acquire))
    }

    /// An operation tried at `seen` would block in the directions of
    /// `interest`: they are cleared, unless an event came since `seen`.
    /// Returns whether they were cleared (if not, try again).
    pub fn clear(&self, seen: Snapshot, interest: usize) -> bool {
        let cleared = seen.0 & !(interest & BOTH);
        if cleared == seen.0 {
            return true;
        }
        self.state
            .compare_exchange(seen.0, cleared, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Registers `waiter` for the directions of `interest`; it is woken
    /// by every later [`set`](Self::set) for one of them until
    /// [`remove_waiter`](Self::remove_waiter). Look at the state again
    /// after this, before waiting (module docs).
    pub fn add_waiter(&self, waiter: W, interest: usize) {
        let mut waiters = self.waiters();
        match waiters.iter_mut().find(|e| e.waiter.same(&waiter)) {
            Some(entry) => entry.interest |= interest,
            None => waiters.push(Entry { waiter, interest }),
        }
    }

    /// Takes `waiter` off the list; returns it, to be dropped by the
    /// caller outside the lock.
    pub fn remove_waiter(&self, waiter: &W) -> Option<W> {
        let mut waiters = self.waiters();
        let at = waiters.iter().position(|e| e.waiter.same(waiter))?;
        Some(waiters.swap_remove(at).waiter)
    }

    /// Wakes every waiter, whatever it waits for (the source is going
    /// away, or the runtime is).
    pub fn wake_all(&self) {
        for entry in self.waiters().iter() {
            entry.waiter.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[derive(Clone)]
    struct Counter(Rc<Cell<u32>>);

    impl Waiter for Counter {
        fn wake(&self) {
            self.0.set(self.0.get() + 1);
        }
        fn same(&self, other: &Self) -> bool {
            Rc::ptr_eq(&self.0, &other.0)
        }
    }

    #[test]
    fn a_clear_against_a_stale_snapshot_fails_and_keeps_the_event() {
        let readiness = Readiness::<Counter>::new();
        readiness.set(READABLE);
        let seen = readiness.snapshot();
        assert!(seen.is_ready(READABLE));
        assert!(!seen.is_ready(WRITABLE));
        // An event lands between the operation and the clear.
        readiness.set(READABLE);
        assert!(!readiness.clear(seen, READABLE), "the tick moved");
        assert!(readiness.snapshot().is_ready(READABLE), "still ready");
        let seen = readiness.snapshot();
        assert!(readiness.clear(seen, READABLE));
        assert!(!readiness.snapshot().is_ready(READABLE));
    }

    #[test]
    fn waiters_are_woken_for_their_direction_only_until_removed() {
        let readiness = Readiness::<Counter>::new();
        let reader = Counter(Rc::new(Cell::new(0)));
        let writer = Counter(Rc::new(Cell::new(0)));
        readiness.add_waiter(reader.clone(), READABLE);
        readiness.add_waiter(writer.clone(), WRITABLE);
        readiness.set(READABLE);
        assert_eq!((reader.0.get(), writer.0.get()), (1, 0));
        readiness.set(BOTH);
        assert_eq!((reader.0.get(), writer.0.get()), (2, 1));
        assert!(readiness.remove_waiter(&reader).is_some());
        assert!(readiness.remove_waiter(&reader).is_none());
        readiness.set(READABLE);
        assert_eq!(reader.0.get(), 2, "no longer registered");
        readiness.wake_all();
        assert_eq!((reader.0.get(), writer.0.get()), (2, 2));
    }
}
