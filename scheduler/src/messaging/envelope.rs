//! Messages in flight: any `Send + 'static` value, typed again on receipt,
//! stored without an allocation when it is small.
//!
//! An [`Envelope`] is four words: a pointer to a per-type table (type id,
//! drop, boxing) and three words of payload. A value of at most three
//! words whose alignment is at most a word's (a `u64`, a `Pid`, a
//! `(Pid, u64)`, a small enum, an actor's request enum carrying a
//! two-word `ReplyTo` and a word of data) lives in the payload itself;
//! anything else is boxed and the payload holds the box's pointer.
//! Measured on the ping-pong benchmark, the allocation and free of a
//! `Box<dyn Any>` per message were about a sixth of the instructions of a
//! message's whole trip; a third word (it was two) halved the
//! instructions of a `cast` of a request enum with a `ReplyTo` variant
//! (callgrind: 52.3 M to 26.8 M for 100,000 casts), for 8 bytes more per
//! queued message and +1.2 % on a ping-pong of `u64`s.
//!
//! # Invariants
//!
//! * `table` is `Table::<T>::TABLE` for the `T` the envelope was made of.
//! * The payload holds the `T` as [`InlineOrBoxed`] stores it: in
//!   place if it fits, else as a `Box<T>`'s pointer.
//! * The value is owned by the envelope until `take` or drop moves it out,
//!   exactly once.

use std::any::{Any, TypeId};
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};

use crate::messaging::inline::InlineOrBoxed;

/// Three words of payload, word-aligned.
type Payload = MaybeUninit<[usize; 3]>;

/// What an envelope knows about its value's type.
struct TypeTable {
    /// The value's type, computed when the table is (at compile time).
    type_id: TypeId,
    /// Drops the value in the payload (inline or boxed).
    drop: unsafe fn(*mut Payload),
    /// Moves the value out into a `Box<dyn Any + Send>`.
    into_any: unsafe fn(*mut Payload) -> Box<dyn Any + Send>,
    /// The value's type's name (for reports of unexpected messages).
    type_name: fn() -> &'static str,
}

struct Table<T>(PhantomData<T>);

impl<T: Send + 'static> Table<T> {
    const TABLE: TypeTable = TypeTable {
        type_id: TypeId::of::<T>(),
        drop: Self::drop_payload,
        into_any: Self::into_any,
        type_name: std::any::type_name::<T>,
    };

    /// # Safety
    /// `payload` holds a `T` (module invariants), which is not used again.
    unsafe fn drop_payload(payload: *mut Payload) {
        // SAFETY: forwarded.
        drop(unsafe { Stored::<T>::take(payload) });
    }

    /// # Safety
    /// As for `drop_payload`.
    unsafe fn into_any(payload: *mut Payload) -> Box<dyn Any + Send> {
        // SAFETY: forwarded.
        Box::new(unsafe { Stored::<T>::take(payload) })
    }
}

/// How a `T` sits in an envelope's payload.
type Stored<T> = InlineOrBoxed<T, [usize; 3]>;

/// A message of any `Send + 'static` type (module docs).
///
/// The payload is an `UnsafeCell`: a small value that can change through a
/// shared reference (an `AtomicU64`, a `Cell`) lives in it, and a receive
/// predicate may do just that through `downcast_ref`. The cell also keeps
/// `Envelope` from being `Sync`, which it must not be: it may hold a value
/// that is `Send` but not `Sync`. (Both found by review, the first
/// confirmed with Miri.)
pub(crate) struct Envelope {
    table: &'static TypeTable,
    payload: UnsafeCell<Payload>,
}

// SAFETY: an envelope only ever holds a `T: Send` (its constructor
// requires it), inline or boxed; moving it moves that value.
unsafe impl Send for Envelope {}

impl Envelope {
    /// Wraps `value`, without allocating if it is small.
    #[inline]
    pub(crate) fn new<T: Send + 'static>(value: T) -> Self {
        Self {
            table: &Table::<T>::TABLE,
            payload: UnsafeCell::new(Stored::<T>::store(value)),
        }
    }

    /// Whether the message is a `T`.
    #[inline]
    pub(crate) fn is<T: Send + 'static>(&self) -> bool {
        // A comparison with a constant: no call. (Comparing table
        // addresses would be one instruction less when it succeeds, but a
        // `T`'s table exists once per codegen unit, so a sender and a
        // receiver compiled into different units never matched and paid
        // a call to the type id function each time: +5% instructions on a
        // ping-pong when the crate's modules were moved.)
        self.table.type_id == const { TypeId::of::<T>() }
    }

    /// A reference to the message if it is a `T`.
    #[inline]
    pub(crate) fn downcast_ref<T: Send + 'static>(&self) -> Option<&T> {
        if !self.is::<T>() {
            return None;
        }
        // SAFETY: the table says the value is a `T` (module invariants);
        // the reference borrows `self`, which owns it, and the cell lets a
        // `T` with interior mutability change through it.
        let value = unsafe { Stored::<T>::get(self.payload.get()) };
        Some(value)
    }

    /// The message if it is a `T`, else the envelope back.
    #[inline]
    pub(crate) fn take<T: Send + 'static>(self) -> Result<T, Self> {
        if !self.is::<T>() {
            return Err(self);
        }
        let this = ManuallyDrop::new(self);
        // SAFETY: the table says the value is a `T`; `ManuallyDrop` keeps
        // the envelope from dropping it again.
        Ok(unsafe { Stored::<T>::take(this.payload.get()) })
    }

    /// The name of the message's type, as `std::any::type_name` gives it.
    pub(crate) fn type_name(&self) -> &'static str {
        (self.table.type_name)()
    }

    /// The message as a `Box<dyn Any + Send>` (for dead-letter hooks).
    pub(crate) fn into_any(self) -> Box<dyn Any + Send> {
        let this = ManuallyDrop::new(self);
        // SAFETY: the table matches the payload; `ManuallyDrop` keeps the
        // envelope from dropping the moved-out value.
        unsafe { (this.table.into_any)(this.payload.get()) }
    }
}

impl Drop for Envelope {
    fn drop(&mut self) {
        // SAFETY: the table matches the payload, and the value is still
        // here (`take` and `into_any` skip this drop).
        unsafe { (self.table.drop)(self.payload.get()) };
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn small_and_large_values_round_trip() {
        const { assert!(Stored::<u64>::INLINE && Stored::<(u64, u64, u64)>::INLINE) };
        const { assert!(!Stored::<[u64; 4]>::INLINE) };
        let small = Envelope::new(7u64);
        assert!(small.is::<u64>() && !small.is::<u32>());
        assert_eq!(small.downcast_ref::<u64>(), Some(&7));
        let small = small.take::<u32>().unwrap_err();
        assert_eq!(small.take::<u64>().unwrap(), 7);
        let big = Envelope::new([1u64, 2, 3, 4]);
        assert_eq!(big.downcast_ref::<[u64; 4]>(), Some(&[1, 2, 3, 4]));
        assert_eq!(big.take::<[u64; 4]>().unwrap(), [1, 2, 3, 4]);
        let text = Envelope::new(String::from("hello"));
        let any = text.into_any();
        assert_eq!(
            any.downcast_ref::<String>().map(String::as_str),
            Some("hello")
        );
    }

    #[test]
    fn a_small_value_may_change_through_a_shared_reference() {
        use std::sync::atomic::AtomicU64;
        let envelope = Envelope::new(AtomicU64::new(1));
        let counter = envelope.downcast_ref::<AtomicU64>().unwrap();
        counter.fetch_add(41, Ordering::SeqCst);
        assert_eq!(envelope.take::<AtomicU64>().unwrap().into_inner(), 42);
    }

    #[test]
    fn every_value_is_dropped_exactly_once() {
        struct Counted(Arc<AtomicUsize>, #[allow(dead_code)] [u8; 40]);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        // Inline (an Arc is one word) and boxed (40 bytes more).
        drop(Envelope::new(Arc::clone(&drops)));
        drop(Envelope::new(Counted(Arc::clone(&drops), [0; 40])));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let taken = Envelope::new(Counted(Arc::clone(&drops), [0; 40]))
            .take::<Counted>()
            .unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(taken);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        drop(Envelope::new(Counted(Arc::clone(&drops), [0; 40])).into_any());
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        assert_eq!(Arc::strong_count(&drops), 1);
    }
}
