//! Synchronisation primitives, swapped for loom's under `cfg(loom)`.
//!
//! Shared by the ferrotp crates (the scheduler imports it as
//! `ferrotp_mailbox::sync`), so that every lock-free protocol in the
//! workspace is modelled the same way. Not a public API.
//!
//! The rest of the crate imports atomics, the mutex, `UnsafeCell` and the
//! spin-wait helper from here, so the production code carries no
//! `cfg(loom)` noise and the loom models exercise exactly the code that
//! ships. `UnsafeCell` follows loom's closure API (`with` / `with_mut`) in
//! both builds, so that loom can check every access to a message slot for
//! data races.
//!
//! # Loads under loom
//!
//! loom's partial-order reduction compares an operation only with the
//! *last* access to the same atomic (loom issues 166 and 392). A thread that
//! loads a word and then CASes it therefore hides, behind its own load, the
//! race between another thread's earlier load and that CAS, and loom never
//! runs the CAS first: a push racing a receiver's look at an empty mailbox
//! was explored in exactly one order. So under loom, `load` is modelled as a
//! compare-exchange that cannot succeed: it returns the latest value and
//! loom records it as a read-modify-write, a dependency of every other
//! access. What the model gives up is stale reads from these loads. Every
//! load in this crate is either a hint that a later read-modify-write of the
//! same word confirms, or a poll that is repeated until it sees what it
//! waits for, so a stale value could only cause a retry.
//!
//! The price is that these loads are *stronger* than real ones: a protocol
//! that needs `SeqCst` fences because a plain load may be stale (a
//! Dekker-style "publish, fence, check" handshake, like the scheduler's
//! park / wake protocol) would pass its model without the fences. Such a
//! model must read the guarded data with loom's own atomics; see
//! `scheduler/tests/loom_idle.rs`, which fails when either fence is
//! removed.

#[cfg(loom)]
pub use loom::cell::UnsafeCell;
#[cfg(loom)]
pub use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub use loom_atomics::{AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize};

#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub use std::sync::{Mutex, MutexGuard};

pub use std::sync::atomic::Ordering;

#[cfg(loom)]
pub use loom::sync::atomic::fence;
#[cfg(not(loom))]
pub use std::sync::atomic::fence;

/// Threads: `loom::thread` under loom (its park and unpark are modelled).
#[cfg(loom)]
pub use loom::thread;
#[cfg(not(loom))]
pub use std::thread;

/// `std::cell::UnsafeCell` with loom's access API.
#[cfg(not(loom))]
#[derive(Debug)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Exponential back-off for the two short waits in this crate: a CAS lost
/// to another sender (`spin`), and waiting a few instructions for another
/// thread to finish a step it has started (`snooze`).
pub struct Backoff {
    step: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    #[cfg(not(loom))]
    const SPIN_LIMIT: u32 = 6;

    pub fn new() -> Self {
        Self { step: 0 }
    }

    /// After a lost CAS: pause a little so the winner's line settles.
    #[inline]
    pub fn spin(&mut self) {
        #[cfg(not(loom))]
        for _ in 0..1u32 << self.step.min(Self::SPIN_LIMIT) {
            std::hint::spin_loop();
        }
        self.step += 1;
    }

    /// Waiting for another thread: spin briefly, then yield the OS thread
    /// (under loom: always yield, so the model lets the other thread run).
    pub fn snooze(&mut self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        if self.step <= Self::SPIN_LIMIT {
            for _ in 0..1u32 << self.step {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        self.step += 1;
    }
}

#[cfg(loom)]
#[allow(dead_code)] // each wrapper offers what std's does; not all is used
mod loom_atomics {
    //! loom's atomics with `load` modelled as a compare-exchange that
    //! cannot succeed (see the module docs above).

    use std::sync::atomic::Ordering;

    macro_rules! loom_atomic {
        ($name:ident, $int:ty, $never:expr) => {
            #[derive(Debug, Default)]
            pub struct $name(loom::sync::atomic::$name);

            impl $name {
                pub fn new(value: $int) -> Self {
                    Self(loom::sync::atomic::$name::new(value))
                }

                #[track_caller]
                pub fn load(&self, order: Ordering) -> $int {
                    match self.0.compare_exchange($never, $never, order, order) {
                        Ok(_) => unreachable!("an atomic held the impossible value"),
                        Err(current) => current,
                    }
                }

                #[track_caller]
                pub fn store(&self, value: $int, order: Ordering) {
                    self.0.store(value, order)
                }

                #[track_caller]
                pub fn swap(&self, value: $int, order: Ordering) -> $int {
                    self.0.swap(value, order)
                }

                #[track_caller]
                pub fn compare_exchange(
                    &self,
                    current: $int,
                    new: $int,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$int, $int> {
                    self.0.compare_exchange(current, new, success, failure)
                }

                #[track_caller]
                pub fn compare_exchange_weak(
                    &self,
                    current: $int,
                    new: $int,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$int, $int> {
                    self.0.compare_exchange_weak(current, new, success, failure)
                }
            }
        };
    }

    macro_rules! loom_arithmetic {
        ($name:ident, $int:ty) => {
            impl $name {
                #[track_caller]
                pub fn fetch_add(&self, value: $int, order: Ordering) -> $int {
                    self.0.fetch_add(value, order)
                }

                #[track_caller]
                pub fn fetch_sub(&self, value: $int, order: Ordering) -> $int {
                    self.0.fetch_sub(value, order)
                }

                #[track_caller]
                pub fn fetch_and(&self, value: $int, order: Ordering) -> $int {
                    self.0.fetch_and(value, order)
                }

                #[track_caller]
                pub fn fetch_or(&self, value: $int, order: Ordering) -> $int {
                    self.0.fetch_or(value, order)
                }

                #[track_caller]
                pub fn fetch_max(&self, value: $int, order: Ordering) -> $int {
                    self.0.fetch_max(value, order)
                }
            }
        };
    }

    // The impossible values: no counter, index or state of this crate ever
    // reaches its type's maximum (slot states are 0, 1 or 2; the tail index
    // would need 2^62 messages), nor of the scheduler (run states are 0 to
    // 4, signal bits at most 7, timer numbers count timers).
    loom_atomic!(AtomicU64, u64, u64::MAX);
    loom_arithmetic!(AtomicU64, u64);
    loom_atomic!(AtomicUsize, usize, usize::MAX);
    loom_arithmetic!(AtomicUsize, usize);
    loom_atomic!(AtomicU8, u8, u8::MAX);
    loom_arithmetic!(AtomicU8, u8);

    /// Booleans are only stored and swapped (no value is impossible for a
    /// `bool`, so there is no modelled `load`).
    pub struct AtomicBool(loom::sync::atomic::AtomicBool);

    impl AtomicBool {
        pub fn new(value: bool) -> Self {
            Self(loom::sync::atomic::AtomicBool::new(value))
        }

        #[track_caller]
        pub fn store(&self, value: bool, order: Ordering) {
            self.0.store(value, order)
        }

        #[track_caller]
        pub fn swap(&self, value: bool, order: Ordering) -> bool {
            self.0.swap(value, order)
        }
    }

    /// loom's `AtomicPtr` with the same `load`. No pointer here is ever
    /// `usize::MAX`.
    pub struct AtomicPtr<T>(loom::sync::atomic::AtomicPtr<T>);

    impl<T> AtomicPtr<T> {
        pub fn new(value: *mut T) -> Self {
            Self(loom::sync::atomic::AtomicPtr::new(value))
        }

        #[track_caller]
        pub fn load(&self, order: Ordering) -> *mut T {
            let never = std::ptr::without_provenance_mut(usize::MAX);
            match self.0.compare_exchange(never, never, order, order) {
                Ok(_) => unreachable!("an atomic pointer held the impossible value"),
                Err(current) => current,
            }
        }

        #[track_caller]
        pub fn store(&self, value: *mut T, order: Ordering) {
            self.0.store(value, order)
        }

        #[track_caller]
        pub fn swap(&self, value: *mut T, order: Ordering) -> *mut T {
            self.0.swap(value, order)
        }

        #[track_caller]
        pub fn compare_exchange(
            &self,
            current: *mut T,
            new: *mut T,
            success: Ordering,
            failure: Ordering,
        ) -> Result<*mut T, *mut T> {
            self.0.compare_exchange(current, new, success, failure)
        }
    }
}
