//! A never-run process's code: its closure, stored without an allocation
//! when it is small.
//!
//! An [`Entry`] is five words, built like an
//! [`Envelope`](crate::messaging::envelope): a pointer to a per-closure-type table
//! (run, drop) and four words of payload. A closure of at most four words
//! whose alignment is at most a word's (one that captures a `Pid` and a
//! few numbers, say: the usual child) lives in the payload; a bigger one
//! is boxed and the payload holds the box's pointer. Four words keep a
//! `Task` at the size its other variant (a moving settled process) gives
//! it. Measured on the chained-spawn probe under callgrind, the
//! boxed closure's `malloc` and `free` were about 150 of the 1,800
//! instructions of a spawn-and-exit link.
//!
//! # Invariants
//!
//! * `table` is `Table::<F>::TABLE` for the closure type `F` the entry was
//!   made of.
//! * The payload holds the `F` as [`InlineOrBoxed`] stores it: in
//!   place if it fits, else as a `Box<F>`'s pointer.
//! * The closure is owned by the entry until `run` or drop moves it out,
//!   exactly once (`run` takes the entry by value and forgets it).

use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};

use crate::lifecycle::exit_reason::ExitReason;
use crate::messaging::inline::InlineOrBoxed;

/// Four words of payload, word-aligned.
type Payload = MaybeUninit<[usize; 4]>;

/// What an entry knows about its closure's type.
struct EntryTable {
    /// Moves the closure out and calls it.
    run: unsafe fn(*mut Payload) -> ExitReason,
    /// Moves the closure out and drops it, uncalled.
    drop: unsafe fn(*mut Payload),
}

struct Table<F>(PhantomData<F>);

impl<F: FnOnce() -> ExitReason + Send + 'static> Table<F> {
    const TABLE: EntryTable = EntryTable {
        run: Self::run,
        drop: Self::drop_payload,
    };

    /// # Safety
    /// `payload` holds an `F` (module invariants), which is not used again.
    unsafe fn run(payload: *mut Payload) -> ExitReason {
        // SAFETY: forwarded.
        let f = unsafe { Stored::<F>::take(payload) };
        f()
    }

    /// # Safety
    /// As for `run`.
    unsafe fn drop_payload(payload: *mut Payload) {
        // SAFETY: forwarded.
        drop(unsafe { Stored::<F>::take(payload) });
    }
}

/// How a closure `F` sits in an entry's payload.
type Stored<F> = InlineOrBoxed<F, [usize; 4]>;

/// A process's closure, not yet run (module docs).
pub(crate) struct Entry {
    table: &'static EntryTable,
    payload: Payload,
}

// SAFETY: an entry only ever holds an `F: Send` (its constructor requires
// it), inline or boxed; moving the entry moves that closure. It is never
// shared: nothing reads it through `&Entry`.
unsafe impl Send for Entry {}

impl Entry {
    /// Wraps `f`, without allocating if it is small.
    #[inline]
    pub(crate) fn new<F: FnOnce() -> ExitReason + Send + 'static>(f: F) -> Self {
        Self {
            table: &Table::<F>::TABLE,
            payload: Stored::<F>::store(f),
        }
    }

    /// Runs the closure and returns how it says the process ended.
    pub(crate) fn run(self) -> ExitReason {
        // The closure moves out below; the entry's drop must not run.
        let mut this = ManuallyDrop::new(self);
        let payload = ptr_of(&mut this.payload);
        // SAFETY: the table matches the payload (module invariants), and
        // `this` is never dropped or used again, so the closure is moved
        // out exactly once.
        unsafe { (this.table.run)(payload) }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let payload = ptr_of(&mut self.payload);
        // SAFETY: the table matches the payload (module invariants); a
        // dropped entry was never run (`run` forgets it).
        unsafe { (self.table.drop)(payload) }
    }
}

fn ptr_of(payload: &mut Payload) -> *mut Payload {
    payload
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::Entry;
    use crate::lifecycle::exit_reason::ExitReason;

    /// Counts its drops.
    struct Tally(Arc<AtomicUsize>);
    impl Drop for Tally {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_small_closure_runs_once_and_drops_its_captures() {
        let drops = Arc::new(AtomicUsize::new(0));
        let tally = Tally(Arc::clone(&drops));
        let entry = Entry::new(move || {
            let _keep = &tally;
            ExitReason::custom("small")
        });
        assert_eq!(entry.run(), ExitReason::custom("small"));
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_big_closure_is_boxed_and_runs_with_its_captures() {
        let big = [7u64; 8];
        const _: () = assert!(!super::Stored::<[u64; 8]>::INLINE);
        let entry = Entry::new(move || ExitReason::custom(format!("{}", big.iter().sum::<u64>())));
        assert_eq!(entry.run(), ExitReason::custom("56"));
    }

    #[test]
    fn an_entry_dropped_unrun_drops_its_closure_without_calling_it() {
        for big in [false, true] {
            let drops = Arc::new(AtomicUsize::new(0));
            let tally = Tally(Arc::clone(&drops));
            let padding = [0u64; 8];
            let entry = if big {
                Entry::new(move || -> ExitReason {
                    let _keep = (&tally, padding);
                    panic!("never called")
                })
            } else {
                Entry::new(move || -> ExitReason {
                    let _keep = &tally;
                    panic!("never called")
                })
            };
            drop(entry);
            assert_eq!(drops.load(Ordering::Relaxed), 1, "big: {big}");
        }
    }
}
