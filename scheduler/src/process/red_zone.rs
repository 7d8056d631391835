//! Where a process's stack ends and its red zone begins: the bounds a
//! check point compares the stack pointer with (module `stack_depth` has
//! what a process does about it).

/// The largest red zone: a quarter of the stack up to this many bytes.
pub const MAX_RED_ZONE: usize = 16 * 1024;

/// The smallest red zone: room for the unwind that a red-zone panic
/// starts (the unwinder needs about 2.5 KiB, then the landing pads and
/// the destructors they run) below a frame of a few KiB.
pub const MIN_RED_ZONE: usize = 8 * 1024;

/// The red zone of a stack with `usable` bytes: a quarter of it, within
/// [`MIN_RED_ZONE`]..=[`MAX_RED_ZONE`] (at most half the stack).
pub(crate) fn red_zone(usable: usize) -> usize {
    (usable / 4).clamp(MIN_RED_ZONE.min(usable / 2), MAX_RED_ZONE)
}

/// The current stack pointer (an address in the running frame).
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: reads a register into a local; touches no memory, no
        // stack, no flags.
        unsafe {
            std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        }
        sp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let sp: usize;
        // SAFETY: as above.
        unsafe {
            std::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
        }
        sp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let marker = 0u8;
        std::hint::black_box(&marker) as *const u8 as usize
    }
}

/// The stack a process runs on now, as its context sees it: the lowest
/// usable address, and the red zone's top (a check point below it
/// panics).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StackBounds {
    pub(crate) low: usize,
    pub(crate) floor: usize,
}

impl StackBounds {
    /// The bounds of `usable` bytes above the guard page ending at
    /// `guard_end`.
    pub(crate) fn new(guard_end: usize, usable: usize) -> Self {
        Self {
            low: guard_end,
            floor: guard_end + red_zone(usable),
        }
    }

    /// Bounds that never trip (a process whose stack is not known).
    pub(crate) const NONE: Self = Self { low: 0, floor: 0 };
}
