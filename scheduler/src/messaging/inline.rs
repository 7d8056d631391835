//! A value of any type kept in a few words of payload: in place when it
//! fits, boxed (the payload holding the box's pointer) when it does not.
//!
//! Shared by [`Envelope`](crate::messaging::envelope) (messages, three words) and
//! [`Entry`](crate::process::entry) (spawn closures, four words): the type-erased
//! holder keeps a per-type table next to the payload and calls back into
//! [`InlineOrBoxed`] with the type it was made of.
//!
//! # Invariant
//!
//! A payload made by `InlineOrBoxed::<T, P>::store` holds, until `take`
//! moves it out: if `INLINE`, a valid `T` in its first `size_of::<T>()`
//! bytes; otherwise, in its first word, the pointer of a `Box<T>`.

use std::marker::PhantomData;
use std::mem::{self, MaybeUninit};

/// How a `T` is kept in a payload of type `P` (module docs).
pub(crate) struct InlineOrBoxed<T, P>(PhantomData<(T, P)>);

impl<T, P> InlineOrBoxed<T, P> {
    /// Whether a `T` fits the payload, size and alignment.
    pub(crate) const INLINE: bool =
        mem::size_of::<T>() <= mem::size_of::<P>() && mem::align_of::<T>() <= mem::align_of::<P>();

    /// A payload holding `value`.
    #[inline]
    pub(crate) fn store(value: T) -> MaybeUninit<P> {
        const {
            assert!(
                mem::size_of::<P>() >= mem::size_of::<*mut T>()
                    && mem::align_of::<P>() >= mem::align_of::<*mut T>(),
                "a payload must hold a pointer"
            );
        }
        let mut payload = MaybeUninit::<P>::uninit();
        if Self::INLINE {
            // SAFETY: a `T` fits the payload, size and alignment (`INLINE`).
            unsafe { payload.as_mut_ptr().cast::<T>().write(value) };
        } else {
            let boxed = Box::into_raw(Box::new(value));
            // SAFETY: the payload holds a pointer (the assertion above).
            unsafe { payload.as_mut_ptr().cast::<*mut T>().write(boxed) };
        }
        payload
    }

    /// Moves the value out.
    ///
    /// # Safety
    /// `payload` was made by [`InlineOrBoxed::store`] for this `T` and `P`,
    /// and its value was not taken yet; it is not used again after.
    #[inline]
    pub(crate) unsafe fn take(payload: *mut MaybeUninit<P>) -> T {
        if Self::INLINE {
            // SAFETY: an inline `T` sits at the payload's start (module
            // invariant), aligned enough (`INLINE`).
            unsafe { payload.cast::<T>().read() }
        } else {
            // SAFETY: the first word is the pointer of a `Box<T>` made in
            // `store` and not yet turned back into a box.
            unsafe { *Box::from_raw(payload.cast::<*mut T>().read()) }
        }
    }

    /// A reference to the value.
    ///
    /// # Safety
    /// As for `take`, except that the value stays; the reference must not
    /// outlive the payload's owner, which must not move it out meanwhile.
    #[inline]
    pub(crate) unsafe fn get<'a>(payload: *const MaybeUninit<P>) -> &'a T {
        if Self::INLINE {
            // SAFETY: an inline `T` at the payload's start (module
            // invariant).
            unsafe { &*payload.cast::<T>() }
        } else {
            // SAFETY: a `Box<T>`'s pointer in the first word (module
            // invariant).
            unsafe { &**payload.cast::<*const T>() }
        }
    }
}
