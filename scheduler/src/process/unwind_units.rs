//! A process that blocks while it unwinds carries its own panic count.
//!
//! # Why
//!
//! std counts the panics in flight per OS thread: a panic (or
//! `resume_unwind`) adds one to the raising thread's count, and the
//! `catch_unwind` that catches it takes one off the catching thread's.
//! `std::thread::panicking()` reads that count; a `MutexGuard` dropped
//! while it is not zero poisons its mutex. A process may now block inside
//! a destructor that runs during its unwind (its clean-up: module
//! `context`), and so hand its worker back in the middle of an unwind. Left
//! alone, its count would stay on the worker's thread: every other process
//! of that worker would see `panicking()` true (their mutexes poisoned,
//! their exit signals deferred as if they were unwinding), and a
//! migratable process that resumed on another thread would finish its
//! unwind there and take that thread's count below zero.
//!
//! # How
//!
//! The invariant: **between two processes, a worker thread's count is
//! zero**. So when a process hands its worker back and the thread's count
//! is not zero, every unit of it is that process's. The worker takes them
//! off the thread ([`take_units`]) and keeps their number with the process;
//! before it resumes the process, it puts them back ([`put_units`]), on
//! whatever thread resumes it. While the process runs, `panicking()` is
//! exactly its own.
//!
//! std has no call that changes the count; only raising a panic (+1 where
//! raised) and catching one (-1 where caught) do. A *carrier* is a tiny
//! coroutine parked in the middle of its own unwind: it is made by raising
//! a panic inside it and suspending from a destructor that the unwind runs
//! (+1 on the thread that makes it), and spent by resuming it, so that its
//! unwind ends in its `catch_unwind` (-1 on the thread that resumes it).
//! Putting a unit on a thread makes a carrier there; taking one off spends
//! a carrier there. Carriers wait in a global pool between the two. A
//! process that is abandoned in the middle of its unwind (module `worker`)
//! has its units taken off and never put back, so the pool drains by that
//! many; when it is empty, a short-lived thread makes a batch (its own
//! count goes up by the batch, and nothing ever reads a finished thread's
//! count).
//!
//! # Why moving a carrier (or a process) between threads mid-unwind is sound
//!
//! When a landing pad runs, the unwinder has already discarded its own
//! frames (it jumps to the landing pad); to go on, the landing pad calls
//! `_Unwind_Resume` with the exception object, which is on the heap and
//! holds the `Send` payload. So a stack parked in a destructor during an
//! unwind holds no unwinder frames and no thread-local state: only the
//! frames being unwound, the landing pad's place, and a pointer to the
//! exception. std reads its thread-local count afresh where it changes it
//! (at the raise, and in `catch_unwind`'s catch path), never across the
//! call that runs the closure.
//!
//! # Leftovers, and a count below zero
//!
//! User code the runtime runs outside any process (exit hooks, dead-letter
//! hooks) may leave a unit of its own on the thread: a coroutine of the
//! user's, parked in its unwind. The worker takes it off, as it would a
//! process's (else the next process would carry it). If that coroutine is
//! resumed after all and ends its unwind, it takes one off again: std's
//! count goes below zero, which it does not check (it wraps round to its
//! largest value, and reads as panicking once any thread panics: std
//! reads a thread's own count only when the program-wide one is not
//! zero). So a thread remembers how many leftovers it took off
//! ([`take_leftover`]), and [`take_units`], which runs wherever the count
//! reads as not zero between two runs of user code (after a process's
//! slice, after each hook), first probes for a count below zero with up
//! to that many units; one that brings the count to zero repairs it.
//!
//! What this cannot tell apart, std giving no other view of the count:
//! a leftover resumed by a process that is itself unwinding takes one of
//! that process's own units (it reads as not unwinding from then on: an
//! exit signal may then raise a second unwind from a destructor, which
//! aborts), and between the resume and the next switch the thread reads
//! as panicking. Both need a coroutine of the user's parked inside an
//! unwind and carried from hook code into a process.
//!
//! This is the only cost of blocking in clean-up: a carrier made or spent
//! is a coroutine switch and an unwind, about a microsecond, and only for
//! processes that block while unwinding.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

/// Stack of a carrier: room for a raise and the unwind to its catch.
const CARRIER_STACK: usize = 64 * 1024;

/// Carriers a refill thread makes at a time.
const REFILL: usize = 8;

/// A coroutine parked in the middle of an unwind (module docs).
struct Carrier(Coroutine<(), (), (), DefaultStack>);

// SAFETY: a carrier's stack holds only our own frames (its body and
// `catch_unwind`, std's generic catch frames instantiated here, the landing
// pad of the closure, `ParkOnUnwind::drop` and corosensei's suspend), the
// `Send` payload's exception object on the heap, and no value that is not
// `Send`; none of those frames keeps a thread-local address across the
// suspension (module docs: the unwinder's frames are gone once a landing
// pad runs, and std reads its count afresh in the catch). So it may be
// resumed on any thread.
unsafe impl Send for Carrier {}

/// Suspends the carrier from inside its own unwind.
struct ParkOnUnwind<'a>(&'a Yielder<(), ()>);

impl Drop for ParkOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.suspend(());
    }
}

/// The payload a carrier unwinds with.
struct CarrierUnwind;

/// Carriers ready to be spent.
static POOL: Mutex<Vec<Carrier>> = Mutex::new(Vec::new());
/// Stacks of spent carriers, for the next ones.
static SPARE_STACKS: Mutex<Vec<DefaultStack>> = Mutex::new(Vec::new());

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while these are held.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Carrier {
    /// Makes a carrier on this thread: this thread's count goes up by one.
    fn make() -> Carrier {
        let spare = lock(&SPARE_STACKS).pop();
        let stack = match spare {
            Some(stack) => stack,
            None => DefaultStack::new(CARRIER_STACK).unwrap_or_else(|error| {
                panic!("ferrotp: no memory for a {CARRIER_STACK}-byte carrier stack: {error}")
            }),
        };
        let mut coroutine = Coroutine::with_stack(stack, |yielder: &Yielder<(), ()>, ()| {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                let _park = ParkOnUnwind(yielder);
                resume_unwind(Box::new(CarrierUnwind));
            }));
        });
        match coroutine.resume(()) {
            CoroutineResult::Yield(()) => Carrier(coroutine),
            CoroutineResult::Return(()) => unreachable!("a carrier parks in its unwind"),
        }
    }

    /// Spends the carrier on this thread: this thread's count goes down by
    /// one.
    fn spend(mut self) {
        match self.0.resume(()) {
            CoroutineResult::Return(()) => {}
            CoroutineResult::Yield(()) => unreachable!("a carrier parks once"),
        }
        lock(&SPARE_STACKS).push(self.0.into_stack());
    }
}

/// A carrier from the pool, made by a short-lived thread if the pool is
/// empty.
fn pooled_carrier() -> Carrier {
    loop {
        if let Some(carrier) = lock(&POOL).pop() {
            return carrier;
        }
        let batch = std::thread::scope(|scope| {
            scope
                .spawn(|| (0..REFILL).map(|_| Carrier::make()).collect::<Vec<_>>())
                .join()
        })
        .unwrap_or_else(|_| panic!("ferrotp: making panic-count carriers failed"));
        lock(&POOL).extend(batch);
    }
}

thread_local! {
    /// Leftover units taken off this thread whose coroutines may yet be
    /// resumed here (module docs).
    static LAUNDERED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Takes this thread's panic count to zero; returns how many units it was
/// (module docs). Call between processes only: the units are then the
/// process's that just handed the worker back. A count below zero
/// (leftovers resumed after all) is brought back to zero, and counts as
/// none.
#[cold]
#[inline(never)]
pub(crate) fn take_units() -> u32 {
    if !std::thread::panicking() {
        return 0;
    }
    // Below zero? At most one below per leftover taken off here: probe
    // with up to that many units (each made here, so std reads this
    // thread's own count meanwhile).
    let laundered = LAUNDERED.with(std::cell::Cell::get);
    let mut probes = Vec::new();
    while probes.len() < laundered as usize {
        probes.push(Carrier::make());
        if !std::thread::panicking() {
            // It was `probes.len()` below zero and is zero now: that many
            // leftovers were resumed; the probes' units stay, in the pool.
            let resumed = u32::try_from(probes.len()).unwrap_or(laundered);
            LAUNDERED.with(|left| left.set(laundered - resumed));
            lock(&POOL).extend(probes);
            return 0;
        }
    }
    // Zero or more: the probes come off, then the count.
    for probe in probes {
        probe.spend();
    }
    let mut units = 0;
    while std::thread::panicking() {
        pooled_carrier().spend();
        units += 1;
    }
    units
}

/// Takes off this thread what user code run outside any process left in
/// flight (module docs), and remembers it.
#[cold]
#[inline(never)]
pub(crate) fn take_leftover() {
    let units = take_units();
    LAUNDERED.with(|laundered| laundered.set(laundered.get().saturating_add(units)));
}

/// Puts `units` back on this thread's panic count, before the process
/// they belong to resumes (module docs).
#[cold]
#[inline(never)]
pub(crate) fn put_units(units: u32) {
    let made: Vec<Carrier> = (0..units).map(|_| Carrier::make()).collect();
    lock(&POOL).extend(made);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_move_between_threads_and_the_counts_balance() {
        assert!(!std::thread::panicking());
        put_units(2);
        assert!(std::thread::panicking(), "two units on this thread");
        // Another thread takes two units off itself: it has none, so it
        // must not take any.
        let elsewhere = std::thread::spawn(take_units).join().unwrap();
        assert_eq!(elsewhere, 0);
        assert_eq!(take_units(), 2);
        assert!(!std::thread::panicking());
        // A unit put on one thread can be taken off on another (a process
        // that moved): each thread's count stays balanced.
        std::thread::spawn(|| put_units(1)).join().unwrap();
        assert!(!std::thread::panicking());
        let moved = std::thread::spawn(|| {
            put_units(1);
            let taken = take_units();
            (taken, std::thread::panicking())
        })
        .join()
        .unwrap();
        assert_eq!(moved, (1, false));
    }

    #[test]
    fn a_count_taken_below_zero_is_brought_back() {
        let balanced = std::thread::spawn(|| {
            /// Parks its coroutine as it drops.
            struct Park<'a>(&'a Yielder<(), ()>);
            impl Drop for Park<'_> {
                fn drop(&mut self) {
                    self.0.suspend(());
                }
            }
            /// User code's coroutine, parked in its unwind: one unit here.
            fn parked() -> Coroutine<(), (), ()> {
                let mut parked: Coroutine<(), (), ()> = Coroutine::new(|yielder, ()| {
                    let _ = catch_unwind(AssertUnwindSafe(|| {
                        let _park = Park(yielder);
                        resume_unwind(Box::new("parked in its unwind"));
                    }));
                });
                assert!(matches!(parked.resume(()), CoroutineResult::Yield(())));
                parked
            }
            // Two, each taken off as a leftover.
            let mut first = parked();
            take_leftover();
            let mut second = parked();
            take_leftover();
            assert!(!std::thread::panicking());
            // Both resumed after all: their catches take two more off.
            assert!(matches!(first.resume(()), CoroutineResult::Return(())));
            assert!(matches!(second.resume(()), CoroutineResult::Return(())));
            let below_zero = std::thread::panicking();
            let taken = take_units();
            (
                below_zero,
                taken,
                std::thread::panicking(),
                LAUNDERED.with(std::cell::Cell::get),
            )
        })
        .join()
        .unwrap();
        assert_eq!(balanced, (true, 0, false, 0));
    }

    #[test]
    fn a_caught_panic_after_units_were_put_back_ends_the_count_at_zero() {
        // A process that was mid-unwind gets its unit back and finishes
        // its unwind into its own catch.
        let caught = std::thread::spawn(|| {
            let result = catch_unwind(|| {
                struct BlocksInDrop;
                impl Drop for BlocksInDrop {
                    fn drop(&mut self) {
                        // Suspending here: the worker takes the unit off
                        // and puts it back before resuming.
                        let units = take_units();
                        assert_eq!(units, 1);
                        assert!(!std::thread::panicking());
                        put_units(units);
                        assert!(std::thread::panicking());
                    }
                }
                let _blocks = BlocksInDrop;
                panic!("unwinding");
            });
            (result.is_err(), std::thread::panicking())
        })
        .join()
        .unwrap();
        assert_eq!(caught, (true, false));
    }
}
