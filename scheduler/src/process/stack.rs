//! Process stacks: fixed-size stacks carved out of large slabs, each with a
//! guard page below it, recycled through per-worker pools.
//!
//! # Why slabs
//!
//! Linux allows `vm.max_map_count` mappings per process (65530 by default).
//! A stack made of its own `mmap` plus an `mprotect`ed guard page costs two,
//! so one mapping per stack stops near 32k live processes, and each
//! `mmap`/`munmap` pair costs microseconds on the spawn path. Instead, a
//! [`StackAllocator`] reserves large slabs with `mmap(MAP_NORESERVE)` (no
//! memory is committed until touched) and carves fixed-size stacks out of
//! them; [`StackPool`]s, one per worker, recycle them, so spawning does not
//! enter the kernel at all once the pool is warm.
//!
//! # Guard pages
//!
//! Each stack is `[guard page][usable stack]`, the guard at the low end
//! because stacks grow down. The guard is installed with
//! `madvise(MADV_GUARD_INSTALL)` (Linux 6.13 and later), which adds no
//! mapping and survives `MADV_DONTNEED`, so a slab stays one mapping however
//! many stacks it holds. Where the kernel refuses it, the allocator falls
//! back to `mprotect(PROT_NONE)` guards, which split the slab into separate
//! mappings; at the `vm.max_map_count` limit, taking a stack then fails with
//! [`StackError::MapCountLimit`], an error that names the sysctl to raise.
//!
//! # Preparing stacks in batches
//!
//! A new stack costs a guard page and, as its process first runs, a page
//! fault on its top page (each process blocked in a receive holds that
//! page: W4 is mostly these faults). Both are done ahead, for a batch of
//! stacks at once, with one `process_madvise` call each (Linux 6.15's
//! `PIDFD_SELF`; advice beyond `MADV_COLD`/`PAGEOUT` needs 6.13): the
//! guards, and `MADV_POPULATE_WRITE` of the top pages, which spares each
//! stack the exception of its first fault. Measured on this VM's kernel
//! (6.18), 100,000 stacks' top pages: 1.39 µs each by faulting, 1.02 µs
//! by a batched populate; guards 0.18 µs each one by one, 0.11 µs in
//! batches. A batch doubles with the stacks carved of its size, up to
//! `MAX_BATCH` (64), so that a program with a few processes populates a few
//! pages, not a slab's. Where `process_madvise` is refused (an older
//! kernel), guards are installed one by one and pages are faulted in on
//! use, as before.
//!
//! # Lifetime
//!
//! Each [`ProcessStack`] keeps its slab mapped: it holds a counted
//! reference to the slab's mapping, which is unmapped only when the last
//! stack carved from it, and the allocator, are gone. So a stack can
//! outlive its pool and its allocator (a coroutine running on it stays
//! valid), and stacks, being plain address ranges, can be handed from one
//! worker's pool to another's.
//!
//! A stack that something may still point into after its process is gone
//! (a process abandoned mid-unwind, or ended by a stack overflow, whose
//! frames a scoped thread may still write through) is
//! [quarantined](ProcessStack::quarantine): never reused, and its slab never
//! unmapped, for the life of the program. Address space is cheap; memory
//! corrupted under a live borrow is not.
//!
//! # Trimming
//!
//! A pool hands back the most recently returned stack first (its pages are
//! warm). When its worker runs out of work, [`StackPool::trim`] releases
//! the pages of all but the [`StackPool::WARM`] most recent idle stacks of
//! each size with `madvise(MADV_DONTNEED)`, so that a burst of processes
//! does not pin its memory forever (the guard stays in place). Trimming on
//! every return instead cost a system call and a page fault per process:
//! a 1,000,000-process skynet took 5 s instead of 0.2 s.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use corosensei::stack::{Stack, StackPointer};

/// `madvise` advice that installs a guard region (Linux 6.13,
/// `include/uapi/asm-generic/mman-common.h`; not yet in the `libc` crate).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// How many stacks one slab holds.
const STACKS_PER_SLAB: usize = 256;

/// The smallest usable stack size we hand out (corosensei needs 4 KiB; a
/// process needs room for its closure's frames and a panic's unwinding).
pub const MIN_STACK_SIZE: usize = 16 * 1024;
/// Largest stack a process may ask for.
pub const MAX_STACK_SIZE: usize = 256 * 1024 * 1024;

/// What a process's stack overflow does; see
/// [`EffectiveSettings::on_stack_overflow`](crate::EffectiveSettings::on_stack_overflow).
/// The safe ways to survive deep recursion are the red zone (a process
/// that reaches a check point with little stack left panics, so its
/// destructors run) and [`maybe_grow`](crate::maybe_grow).
///
/// ```
/// use ferrotp_scheduler::{OnStackOverflow, Runtime};
/// let rt = Runtime::builder().workers(1).build()?;
/// // Unless a program opts in (in code, `unsafe`), an overflow aborts.
/// assert_eq!(rt.settings().on_stack_overflow, OnStackOverflow::Abort);
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnStackOverflow {
    /// Report the process (pid, name, stack size) and abort the program,
    /// as Rust does for a thread that overflows its stack.
    #[default]
    Abort,
    /// Report it and end only that process, with exit reason
    /// [`ExitReason::StackOverflow`](crate::ExitReason::StackOverflow), without running its destructors:
    /// the `unsafe` opt-in of
    /// [`Builder::exit_process_on_stack_overflow`](crate::Builder::exit_process_on_stack_overflow),
    /// whose safety contract says what the caller promises.
    ExitProcess,
}

/// The system page size.
pub fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(page)
            .ok()
            .filter(|&p| p > 0)
            .unwrap_or(4096)
    })
}

/// Rounds a requested stack size up to whole pages, at least
/// [`MIN_STACK_SIZE`].
pub fn usable_size(requested: usize) -> usize {
    let page = page_size();
    // A page is a power of two: rounding up is a mask, not a division.
    (requested.max(MIN_STACK_SIZE) + page - 1) & !(page - 1)
}

/// How guard pages are installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: no extra mapping per stack.
    Madvise,
    /// `mprotect(PROT_NONE)`: two mappings per stack, bounded by
    /// `vm.max_map_count`.
    Mprotect,
}

/// Why a stack could not be had.
#[derive(Debug)]
pub enum StackError {
    /// Reserving a slab of address space failed.
    Map {
        /// Bytes requested.
        bytes: usize,
        /// What `mmap` said.
        source: io::Error,
    },
    /// The process ran out of memory mappings while installing `mprotect`
    /// guard pages (the kernel does not support `MADV_GUARD_INSTALL`).
    MapCountLimit {
        /// The current `vm.max_map_count`, if it could be read.
        limit: Option<u64>,
        /// Stacks carved so far.
        stacks: usize,
    },
    /// Installing a guard page failed for another reason.
    Guard {
        /// What the kernel said.
        source: io::Error,
    },
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::Map { bytes, source } => {
                write!(
                    f,
                    "could not reserve {bytes} bytes of address space for process stacks: {source}"
                )
            }
            StackError::MapCountLimit { limit, stacks } => {
                let limit = limit.map_or_else(|| "its".to_owned(), |l| l.to_string());
                write!(
                    f,
                    "out of memory mappings after {stacks} process stacks: this kernel lacks \
                     MADV_GUARD_INSTALL (Linux 6.13+), so each stack's guard page costs two of the \
                     {limit} mappings allowed by the sysctl vm.max_map_count; raise it (e.g. \
                     `sysctl -w vm.max_map_count=1048576`) or use a newer kernel"
                )
            }
            StackError::Guard { source } => {
                write!(
                    f,
                    "could not install a process stack's guard page: {source}"
                )
            }
        }
    }
}

impl std::error::Error for StackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StackError::Map { source, .. } | StackError::Guard { source } => Some(source),
            StackError::MapCountLimit { .. } => None,
        }
    }
}

fn max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A stack of one process: `[guard page][usable]`, from `limit` (lowest
/// address, the guard) to `base` (highest, where the stack starts).
///
/// Stacks are not coloured (started at varying offsets below their top to
/// spread their hot frames over cache sets): measured with 200 processes
/// yielding in turn it gained nothing here, and it made a blocked process
/// touch a second stack page a third of the time (W4: +1.5 KiB per
/// process).
#[derive(Debug)]
pub struct ProcessStack {
    limit: NonZeroUsize,
    base: NonZeroUsize,
    /// The size class: usable bytes guaranteed.
    class: usize,
    /// Keeps the memory mapped for as long as the stack lives (module
    /// docs: lifetime).
    _slab: Arc<SlabMapping>,
}

impl ProcessStack {
    /// Usable bytes guaranteed (without the guard page; at least what was
    /// asked for, rounded up to pages).
    pub fn usable(&self) -> usize {
        self.class
    }

    /// The guard page's address range.
    pub fn guard(&self) -> std::ops::Range<usize> {
        self.limit.get()..self.limit.get() + page_size()
    }

    /// The usable range: from just above the guard page up to the base.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.limit.get() + page_size()..self.base.get()
    }

    /// Takes the stack out of use for good: it is never handed out again
    /// and its memory stays mapped until the program ends, so that a
    /// reference still pointing into it (from a thread that outlived its
    /// process) never sees another process's data nor an unmapped page.
    /// For stacks whose frames were discarded without being unwound.
    pub fn quarantine(self) {
        // Leaking the slab's count keeps the mapping for good; the stack
        // itself holds nothing else that needs dropping.
        std::mem::forget(self);
    }
}

// SAFETY: `base` and `limit` delimit memory reserved for this stack alone
// (carved once from a slab, and a `ProcessStack` is not `Clone`, so one
// owner uses it at a time), mapped read-write above a guard page for as long
// as this value lives (it holds its slab's mapping, which is unmapped only
// when the last holder drops it); both are page-aligned, hence aligned to
// STACK_ALIGNMENT, and `limit` includes the guard page.
unsafe impl Stack for ProcessStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.limit
    }
}

/// One reserved region that stacks of one size are carved from; unmapped
/// when the last reference (the allocator's while it carves from it, and
/// each stack's) is dropped.
#[derive(Debug)]
struct SlabMapping {
    addr: usize,
    bytes: usize,
}

impl Drop for SlabMapping {
    fn drop(&mut self) {
        // SAFETY: the region was mapped by `carve`, and no stack carved from
        // it is left: each holds a reference to this mapping.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.bytes) };
    }
}

/// Slabs of one stack size, and how far the newest one has been carved.
struct SizeClass {
    /// The slab being carved (`None` before the first).
    slab: Option<Arc<SlabMapping>>,
    /// Address of the next uncarved stack span in that slab.
    next: usize,
    /// End of that slab.
    end: usize,
}

struct AllocatorState {
    /// Slabs reserved so far.
    slabs: usize,
    classes: HashMap<usize, SizeClass>,
    /// Decided by the first guard installed (unless forced).
    mode: Option<GuardMode>,
}

/// Reserves slabs and carves stacks; shared by every worker's pool.
pub struct StackAllocator {
    state: Mutex<AllocatorState>,
    /// Stacks handed out of the allocator's slabs so far (a pool's
    /// prepared batch counts as it hands each out).
    carved: AtomicUsize,
    /// `process_madvise` on this process was refused (a kernel before
    /// 6.15): guards are installed one by one and pages faulted in on use.
    no_batch: AtomicBool,
}

impl fmt::Debug for StackAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("StackAllocator")
            .field("slabs", &state.slabs)
            .field("carved", &self.carved())
            .field("mode", &state.mode)
            .finish()
    }
}

impl StackAllocator {
    /// An allocator that picks the guard mode the kernel supports.
    pub fn new() -> Arc<Self> {
        Self::build(None)
    }

    /// An allocator that always uses `mode` (to exercise the fallback).
    pub fn with_guard_mode(mode: GuardMode) -> Arc<Self> {
        Self::build(Some(mode))
    }

    fn build(mode: Option<GuardMode>) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(AllocatorState {
                slabs: 0,
                classes: HashMap::new(),
                mode,
            }),
            carved: AtomicUsize::new(0),
            no_batch: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AllocatorState> {
        // Every update leaves the state consistent before anything can
        // panic, so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The guard mode in use (`None` until the first stack is carved).
    pub fn guard_mode(&self) -> Option<GuardMode> {
        self.lock().mode
    }

    /// Stacks carved so far (live or pooled).
    pub fn carved(&self) -> usize {
        self.carved.load(Ordering::Relaxed)
    }

    /// Slabs reserved so far.
    pub fn slabs(&self) -> usize {
        self.lock().slabs
    }

    /// Carves stacks of `usable` bytes (already page-rounded) into `out`:
    /// one with its guard in place, or, once guards are known to be
    /// `madvise` ones, up to `count` spans of one slab whose guards are
    /// not installed yet ([`prepare`] does it, outside the lock, so that
    /// workers carving at once do not wait for each other's system calls).
    /// Returns whether they need preparing. Not counted as carved yet.
    fn carve(
        &self,
        usable: usize,
        count: usize,
        out: &mut Vec<ProcessStack>,
    ) -> Result<bool, StackError> {
        let page = page_size();
        let span = usable + page;
        let mut state = self.lock();
        let AllocatorState {
            slabs,
            classes,
            mode,
        } = &mut *state;
        let class = classes.entry(usable).or_insert(SizeClass {
            slab: None,
            next: 0,
            end: 0,
        });
        if class.next == class.end {
            let bytes = span * STACKS_PER_SLAB;
            // SAFETY: a fresh anonymous private mapping; no existing memory
            // is affected.
            let addr = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if addr == libc::MAP_FAILED {
                return Err(StackError::Map {
                    bytes,
                    source: io::Error::last_os_error(),
                });
            }
            let addr = addr as usize;
            class.next = addr;
            class.end = addr + bytes;
            class.slab = Some(Arc::new(SlabMapping { addr, bytes }));
            *slabs += 1;
        }
        let slab = class.slab.as_ref().expect("a slab is being carved");
        let stack = |limit: usize| ProcessStack {
            limit: NonZeroUsize::new(limit).expect("mmap never returns address 0"),
            base: NonZeroUsize::new(limit + span).expect("stack end above its start"),
            class: usable,
            _slab: Arc::clone(slab),
        };
        if *mode == Some(GuardMode::Madvise) {
            let count = count.clamp(1, (class.end - class.next) / span);
            out.extend((0..count).map(|i| stack(class.next + i * span)));
            class.next += count * span;
            return Ok(true);
        }
        // The first stack decides the mode; mprotect guards (two mappings
        // each) are installed one stack at a time, so that the map-count
        // limit is met by the stack that needs it.
        let limit = class.next;
        *mode = Some(install_guard(limit, *mode).map_err(|error| match error {
            GuardError::MapCount => StackError::MapCountLimit {
                limit: max_map_count(),
                stacks: self.carved(),
            },
            GuardError::Other(source) => StackError::Guard { source },
        })?);
        // Carved only once the guard is in place.
        out.push(stack(limit));
        class.next += span;
        Ok(false)
    }

    /// Installs the guard pages of `stacks`, just carved in one batch, and
    /// populates their top pages (module docs: preparing stacks in
    /// batches). A guard that fails drops its stack and those after it
    /// (their spans stay unused in their slab); the error is returned if
    /// it was the first.
    fn prepare(&self, stacks: &mut Vec<ProcessStack>) -> Result<(), StackError> {
        let page = page_size();
        let mut ranges = [libc::iovec {
            iov_base: ptr::null_mut(),
            iov_len: 0,
        }; MAX_BATCH];
        let count = stacks.len().min(MAX_BATCH);
        let ranges = &mut ranges[..count];
        for (range, stack) in ranges.iter_mut().zip(stacks.iter()) {
            range.iov_base = stack.limit.get() as *mut libc::c_void;
            range.iov_len = page;
        }
        let batched = !self.no_batch.load(Ordering::Relaxed)
            // SAFETY: the ranges are the guard pages of stacks just carved
            // from a slab we mapped, that nothing uses yet.
            && unsafe { process_madvise(ranges, MADV_GUARD_INSTALL) }.is_ok();
        if !batched {
            self.no_batch.store(true, Ordering::Relaxed);
            for (i, range) in ranges.iter().enumerate() {
                if let Err(error) = install_guard(range.iov_base as usize, Some(GuardMode::Madvise))
                {
                    stacks.truncate(i);
                    if i == 0 {
                        return Err(match error {
                            GuardError::MapCount => StackError::MapCountLimit {
                                limit: max_map_count(),
                                stacks: self.carved(),
                            },
                            GuardError::Other(source) => StackError::Guard { source },
                        });
                    }
                    return Ok(());
                }
            }
            return Ok(());
        }
        for (range, stack) in ranges.iter_mut().zip(stacks.iter()) {
            range.iov_base = (stack.base.get() - page) as *mut libc::c_void;
        }
        // Faulting each page in as its process first runs costs an
        // exception per stack; populating them together costs one system
        // call. A failure (no memory now) leaves them to be faulted in on
        // use, as before.
        // SAFETY: the ranges are the top pages of stacks just carved from a
        // slab we mapped read-write, that nothing uses yet: populating
        // changes nothing anyone can see (they read as zeroes either way).
        let _ = unsafe { process_madvise(ranges, MADV_POPULATE_WRITE) };
        Ok(())
    }
}

/// The most stacks carved and prepared at once by a pool: at most this
/// many top pages (of each size) are populated ahead of use.
const MAX_BATCH: usize = 64;

/// `madvise` advice that faults pages in writable (Linux 5.14).
const MADV_POPULATE_WRITE: libc::c_int = 23;

/// `process_madvise`'s name for the calling thread's process (Linux 6.15).
const PIDFD_SELF: libc::c_int = -10000;

/// `process_madvise` on this process: `advice` for every range at once.
///
/// # Safety
/// As for `madvise` on each range.
unsafe fn process_madvise(ranges: &[libc::iovec], advice: libc::c_int) -> io::Result<()> {
    let bytes: usize = ranges.iter().map(|r| r.iov_len).sum();
    // SAFETY: `ranges` is a valid array of `ranges.len()` iovecs (at most
    // MAX_BATCH, below the kernel's UIO_MAXIOV); what the advice does to
    // the memory is the caller's to vouch for.
    let done = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            ranges.as_ptr(),
            ranges.len(),
            advice,
            0,
        )
    };
    match usize::try_from(done) {
        Ok(done) if done == bytes => Ok(()),
        Ok(_) => Err(io::Error::other(
            "process_madvise advised part of the ranges",
        )),
        Err(_) => Err(io::Error::last_os_error()),
    }
}

enum GuardError {
    MapCount,
    Other(io::Error),
}

/// Installs the guard page at `addr`, in `mode` or, if undecided, in the
/// best mode the kernel supports; returns the mode used.
fn install_guard(addr: usize, mode: Option<GuardMode>) -> Result<GuardMode, GuardError> {
    let page = page_size();
    if mode != Some(GuardMode::Mprotect) {
        // SAFETY: `addr..addr + page` lies in a slab we mapped and that no
        // stack uses yet.
        let rc = unsafe { libc::madvise(addr as *mut libc::c_void, page, MADV_GUARD_INSTALL) };
        if rc == 0 {
            return Ok(GuardMode::Madvise);
        }
        let error = io::Error::last_os_error();
        if mode == Some(GuardMode::Madvise) || error.raw_os_error() != Some(libc::EINVAL) {
            return Err(GuardError::Other(error));
        }
        // EINVAL on the first try: the kernel predates MADV_GUARD_INSTALL.
    }
    // SAFETY: as above.
    let rc = unsafe { libc::mprotect(addr as *mut libc::c_void, page, libc::PROT_NONE) };
    if rc == 0 {
        return Ok(GuardMode::Mprotect);
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ENOMEM) {
        Err(GuardError::MapCount)
    } else {
        Err(GuardError::Other(error))
    }
}

/// A worker's cache of idle stacks, by size.
///
/// ```
/// use ferrotp_scheduler::stack::{StackAllocator, StackPool};
///
/// let allocator = StackAllocator::new();
/// let mut pool = StackPool::new(allocator.clone());
/// let stack = pool.take(64 * 1024)?;
/// assert_eq!(stack.usable(), 64 * 1024);
/// let guard = stack.guard();
/// pool.give(stack);
/// // The next process of that size gets the same stack back.
/// assert_eq!(pool.take(64 * 1024)?.guard(), guard);
/// assert_eq!(allocator.carved(), 1);
/// # Ok::<(), ferrotp_scheduler::stack::StackError>(())
/// ```
pub struct StackPool {
    allocator: Arc<StackAllocator>,
    /// Idle stacks by size class (a short list: few sizes are in use).
    classes: Vec<IdleClass>,
}

/// The idle stacks of one size, coldest first: `take` pops the most
/// recently given (its pages are likely still in cache), `trim` releases
/// the pages of the oldest.
struct IdleClass {
    usable: usize,
    stacks: Vec<ProcessStack>,
    /// The first `trimmed` stacks have had their pages released already.
    trimmed: usize,
    /// Carved and prepared, never used (module docs: preparing stacks in
    /// batches); not counted as carved until handed out.
    fresh: Vec<ProcessStack>,
    /// Stacks this pool carved of this size: the next batch is as many,
    /// up to [`MAX_BATCH`].
    carved: usize,
}

impl fmt::Debug for StackPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackPool")
            .field("idle", &self.idle())
            .finish_non_exhaustive()
    }
}

impl StackPool {
    /// Idle stacks per size kept with their pages by [`trim`](StackPool::trim).
    pub const WARM: usize = 64;
    /// Stacks trimmed at most per [`trim`](StackPool::trim) call.
    pub const TRIM_BATCH: usize = 256;

    /// A pool that takes new stacks from `allocator`.
    pub fn new(allocator: Arc<StackAllocator>) -> Self {
        Self {
            allocator,
            classes: Vec::new(),
        }
    }

    fn class(classes: &mut Vec<IdleClass>, usable: usize) -> &mut IdleClass {
        let at = match classes.iter().position(|c| c.usable == usable) {
            Some(at) => at,
            None => {
                classes.push(IdleClass {
                    usable,
                    stacks: Vec::new(),
                    trimmed: 0,
                    fresh: Vec::new(),
                    carved: 0,
                });
                classes.len() - 1
            }
        };
        &mut classes[at]
    }

    /// A stack with at least `requested` usable bytes: a recycled one if
    /// any, else a newly carved one.
    ///
    /// # Errors
    /// See [`StackError`].
    #[inline]
    pub fn take(&mut self, requested: usize) -> Result<ProcessStack, StackError> {
        let usable = usable_size(requested);
        // The hot case, kept small (no carving inlined): an idle stack.
        if let Some(class) = self.classes.iter_mut().find(|c| c.usable == usable)
            && let Some(stack) = class.stacks.pop()
        {
            class.trimmed = class.trimmed.min(class.stacks.len());
            return Ok(stack);
        }
        self.take_new(usable)
    }

    /// `take` with no idle stack of the size: a prepared one, or a new
    /// batch.
    #[cold]
    #[inline(never)]
    fn take_new(&mut self, usable: usize) -> Result<ProcessStack, StackError> {
        let class = Self::class(&mut self.classes, usable);
        if let Some(stack) = class.stacks.pop() {
            class.trimmed = class.trimmed.min(class.stacks.len());
            return Ok(stack);
        }
        if class.fresh.is_empty() {
            let count = class.carved.next_power_of_two().min(MAX_BATCH);
            let prepare = self.allocator.carve(usable, count, &mut class.fresh)?;
            if prepare {
                self.allocator.prepare(&mut class.fresh)?;
            }
            // Handed out from the end: the first in address order first.
            class.fresh.reverse();
        }
        let stack = class.fresh.pop().expect("a stack was carved");
        class.carved += 1;
        self.allocator.carved.fetch_add(1, Ordering::Relaxed);
        Ok(stack)
    }

    /// Returns a stack for reuse (from any pool of the same allocator).
    /// Never enters the kernel: see [`trim`](StackPool::trim).
    #[inline]
    pub fn give(&mut self, stack: ProcessStack) {
        match self.classes.iter_mut().find(|c| c.usable == stack.usable()) {
            Some(class) => class.stacks.push(stack),
            None => self.give_new(stack),
        }
    }

    #[cold]
    #[inline(never)]
    fn give_new(&mut self, stack: ProcessStack) {
        Self::class(&mut self.classes, stack.usable())
            .stacks
            .push(stack);
    }

    /// Releases the pages of the idle stacks beyond the [`WARM`](Self::WARM)
    /// most recently used of each size (`madvise(MADV_DONTNEED)`; the guard
    /// pages stay). A worker calls it when it runs out of work, so that a
    /// burst of processes does not pin its memory, while a busy worker
    /// never pays a system call (and the page faults after it) per process.
    ///
    /// At most [`TRIM_BATCH`](Self::TRIM_BATCH) stacks are trimmed per
    /// call (one system call each), so that an idle worker answers a
    /// wake-up soon; the rest wait for its next idle spell.
    pub fn trim(&mut self) {
        let mut budget = Self::TRIM_BATCH;
        for class in &mut self.classes {
            let keep_from = class.stacks.len().saturating_sub(Self::WARM);
            let from = class.trimmed.min(keep_from);
            let until = keep_from.min(from + budget);
            budget -= until - from;
            for stack in &class.stacks[from..until] {
                let from = stack.limit.get() + page_size();
                // SAFETY: the usable part of an idle stack holds nothing
                // anyone needs; the guard page is outside this range (and a
                // MADV_GUARD_INSTALL guard survives DONTNEED anyway).
                unsafe {
                    libc::madvise(
                        from as *mut libc::c_void,
                        stack.usable(),
                        libc::MADV_DONTNEED,
                    )
                };
            }
            class.trimmed = class.trimmed.max(until);
        }
    }

    /// Idle stacks held.
    pub fn idle(&self) -> usize {
        self.classes.iter().map(|c| c.stacks.len()).sum()
    }
}
