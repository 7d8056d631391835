//! The arrivals queue: where senders append messages, a linked list of
//! blocks of slots, and the receiver's cursor into it.
//!
//! # Layout
//!
//! Messages live in blocks of `BLOCK_CAP` (31) slots, allocated by senders
//! once per block and freed by the receiver once it has passed a block, so
//! a message costs 1/31 of an allocation and no cross-thread `free` of its
//! own. Slot `i` of the stream is slot `i % LAP` of its block; the index
//! `LAP - 1` of each lap is not a slot but a sentinel meaning "the next
//! block is being linked".
//!
//! # The tail word
//!
//! `tail` packs the index of the next free slot (`<< SHIFT`) with two flags:
//!
//! | bit       | meaning                                                    |
//! |-----------|------------------------------------------------------------|
//! | `WAITING` | the receiver announced it is going to sleep                 |
//! | `CLOSED`  | the receiver closed the mailbox; pushes hand messages back |
//!
//! # Push (any thread)
//!
//! 1. Read `tail`; `CLOSED` → hand the message back. At a sentinel, another
//!    sender is linking the next block: wait (a few instructions).
//! 2. CAS `tail` one slot forward **and clear `WAITING`**. Winning the CAS
//!    reserves the slot; if `WAITING` was set, this sender and no other
//!    must wake the receiver (exactly one CAS can clear the bit).
//! 3. The sender that reserved a block's last slot links the next block
//!    first (allocated before its CAS, so the window is short) and moves
//!    `tail` past the sentinel.
//! 4. Write the message into the slot, then swap its state to `WRITTEN`
//!    (`Release`); if the swap finds `RECEIVER_WAITING`, this sender must
//!    wake the receiver (see below).
//!
//! # The receiver's side
//!
//! The receiver keeps its position (`Head`) privately and reads slots with
//! plain `Acquire` loads: taking a message costs no read-modify-write.
//!
//! Announcing a wait is a CAS of `tail` from exactly the receiver's own
//! position to the same position with `WAITING`. It succeeds only if no
//! slot was reserved since the receiver last looked, so announcing is also
//! the re-check, and no reservation can slip by unseen.
//!
//! # In flight
//!
//! Between steps 2 and 4 a message is *in flight*: reserved but not yet
//! readable, and the receiver cannot skip it (order matters). If the
//! receiver's announcement fails because `tail` moved, it looks at the slot
//! at its position: `WRITTEN` means look again (`Ready`); otherwise it
//! CASes the slot's state `EMPTY -> RECEIVER_WAITING` and sleeps, and the
//! sender's swap in step 4 finds the flag and wakes it. The receiver thus
//! never spins on a sender, even one whose thread the OS has descheduled in
//! the middle of a push. Every announcement is followed by a wake-up: from
//! the first reservation after a tail announcement, or from the writer of
//! the slot the receiver waits on. (After a cancelled tail announcement
//! whose wake-up a sender had claimed, that one wake-up may also end the
//! next, slot announcement: wake-ups are a permit, not a count.)
//!
//! # Block lifetime
//!
//! The first sender publishes the first block in `first_block` (which never
//! changes after) and then in `tail.block`; the receiver adopts it when it
//! first looks: from then on the receiver owns every block it reaches and
//! frees each one after taking its last slot. That is safe because the sender of
//! a block's last slot links the next block before writing its slot, and no
//! sender dereferences a block except to write the slot it reserved in it.
//! A mailbox whose blocks were never adopted frees them when dropped.
//!
//! # Orderings
//!
//! * A slot's `WRITTEN` swap is `Release` (`AcqRel`); the receiver's loads
//!   of it are `Acquire`: the message is visible once the flag is.
//! * Installing a block (`tail_block`, `first_block`, `next`) uses
//!   `Release` stores that senders and the receiver read with `Acquire`;
//!   the sentinel skip and the reserving CAS are `AcqRel`, so a sender that
//!   reads a `tail` index also sees the block that index belongs to.
//! * `WAITING` and `CLOSED` live in the word that every push writes with a
//!   read-modify-write, so their interplay with pushes is totally ordered
//!   without `SeqCst`.

use std::mem::MaybeUninit;
use std::ptr;

use crate::error::Closed;
use crate::mailbox::{CancelWait, Pushed, Wait};
use crate::sync::{AtomicBool, AtomicPtr, AtomicU8, AtomicU64, Backoff, Ordering, UnsafeCell};

/// The receiver announced it is going to sleep.
const WAITING: u64 = 1;
/// The mailbox is closed.
const CLOSED: u64 = 2;
/// Flag bits below the index.
const SHIFT: u32 = 2;
/// One slot, in `tail` units.
const STEP: u64 = 1 << SHIFT;

/// Indices per block: `BLOCK_CAP` slots and one sentinel. Small under loom,
/// so that models with a few messages cross block boundaries.
#[cfg(not(loom))]
const LAP: u64 = 32;
#[cfg(loom)]
const LAP: u64 = 3;
/// Slots per block.
const BLOCK_CAP: usize = (LAP - 1) as usize;

/// Slot state: nothing written yet.
const EMPTY: u8 = 0;
/// Slot state: the message is written and may be read.
const WRITTEN: u8 = 1;
/// Slot state: not written yet, and the receiver sleeps until it is.
const RECEIVER_WAITING: u8 = 2;

/// One message slot. The state sits next to its message, so a receiver
/// polling the slot it waits for shares a cache line with at most the few
/// neighbouring slots, not with every sender of the block (keeping all
/// states in one array made a busy receiver and one sender fight over that
/// line: 4x slower).
struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    state: AtomicU8,
}

/// A block of slots.
struct Block<T> {
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    fn alloc() -> *mut Block<T> {
        Box::into_raw(Box::new(Block {
            next: AtomicPtr::new(ptr::null_mut()),
            slots: std::array::from_fn(|_| Slot {
                value: UnsafeCell::new(MaybeUninit::uninit()),
                state: AtomicU8::new(EMPTY),
            }),
        }))
    }

    /// Frees a block. Messages still in it are not dropped (slots are
    /// `MaybeUninit`): whoever frees a block has taken them out.
    ///
    /// # Safety
    /// `block` came from `alloc` and nobody will touch it again.
    unsafe fn free(block: *mut Block<T>) {
        // SAFETY: caller contract.
        drop(unsafe { Box::from_raw(block) });
    }
}

/// The slot index in a `tail` word.
#[inline]
fn index_of(word: u64) -> u64 {
    word >> SHIFT
}

/// Counts slots up to `index`, skipping each lap's sentinel: the arrival
/// number of the message in slot `index` (a sentinel index gets the number
/// of the slot after it).
#[inline]
pub(crate) fn arrival_number(index: u64) -> u64 {
    (index / LAP) * BLOCK_CAP as u64 + (index % LAP).min(BLOCK_CAP as u64)
}

/// The shared part: what senders touch.
pub(crate) struct Arrivals<T> {
    /// The words every push writes. Not padded to a cache line of their
    /// own: the receiver reads nothing next to them on its fast path (the
    /// `Receiver` keeps its own copy of whether the mailbox is bounded),
    /// and a mailbox is embedded in every process's control block, where
    /// 2 × 128 bytes of padding were a fifth of a blocked process's memory.
    /// Measured on the contended benchmark: no difference beyond the noise
    /// once the receiver stopped reading `Mailbox::bound` on every take.
    tail: Tail<T>,
    /// The first block, published before `tail.block` points at it and
    /// never changed after (null until the first push).
    first_block: AtomicPtr<Block<T>>,
    /// Whether a receiver took ownership of the blocks (from `first_block`).
    adopted: AtomicBool,
}

struct Tail<T> {
    /// Next free slot and flags (see the module docs).
    word: AtomicU64,
    /// The block that `word`'s index falls in (null before the first push).
    block: AtomicPtr<Block<T>>,
}

impl<T> Arrivals<T> {
    pub(crate) fn new() -> Self {
        Self {
            tail: Tail {
                word: AtomicU64::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            },
            first_block: AtomicPtr::new(ptr::null_mut()),
            adopted: AtomicBool::new(false),
        }
    }

    /// Sets `CLOSED` without a receiver (see `Mailbox::close_abandoned`):
    /// pushes fail from now on; nothing queued is touched.
    pub(crate) fn mark_closed(&self) {
        self.tail.word.fetch_or(CLOSED, Ordering::AcqRel);
        // Nobody will free the blocks: forget them, so that dropping the
        // mailbox does not free blocks holding undropped messages... nor
        // read slots a vanished receiver had already taken.
        self.adopted.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tail.word.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Appends `value`: see "Push" in the module docs.
    ///
    /// The first attempt, inlined: an open mailbox, a slot that is not its
    /// block's last, no contention. Everything else (the first block, the
    /// last slot, a lost race) is the out-of-line loop, which starts over
    /// with fresh loads.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<Pushed, Closed<T>> {
        let tail = self.tail.word.load(Ordering::Acquire);
        let offset = (index_of(tail) % LAP) as usize;
        if tail & CLOSED == 0 && offset + 1 < BLOCK_CAP {
            // Acquire on `tail` above: the block its index falls in is
            // published (module docs, "Orderings").
            let block = self.tail.block.load(Ordering::Acquire);
            if !block.is_null()
                && self
                    .tail
                    .word
                    .compare_exchange_weak(
                        tail,
                        (tail + STEP) & !WAITING,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok()
            {
                // SAFETY: we reserved slot `offset` of `block`, the block of
                // `tail`'s index: a newer block would mean `tail` had moved
                // and the CAS had failed.
                let previous = unsafe { Self::write_slot(block, offset, value) };
                return Ok(Self::pushed(tail, previous));
            }
        }
        self.push_slow(value)
    }

    /// Writes the message into the slot this sender reserved and publishes
    /// it; returns the slot's previous state.
    ///
    /// # Safety
    /// The caller reserved slot `offset` of `block`: nobody else writes it,
    /// and the receiver reads it only after seeing `WRITTEN` (so it cannot
    /// free the block before).
    #[inline]
    unsafe fn write_slot(block: *mut Block<T>, offset: usize, value: T) -> u8 {
        // SAFETY: caller contract.
        unsafe {
            let slot = &(*block).slots[offset];
            slot.value.with_mut(|value_ptr| (*value_ptr).write(value));
            // Release: publishes the message. A swap, not a store, because
            // the receiver may be asleep on this very slot (see "In
            // flight").
            slot.state.swap(WRITTEN, Ordering::AcqRel)
        }
    }

    /// Whether the push must wake the receiver: it cleared `WAITING`, or
    /// the receiver sleeps on the slot it wrote.
    #[inline]
    fn pushed(tail: u64, previous: u8) -> Pushed {
        if tail & WAITING != 0 || previous == RECEIVER_WAITING {
            Pushed::WakeReceiver
        } else {
            Pushed::Queued
        }
    }

    #[inline(never)]
    fn push_slow(&self, value: T) -> Result<Pushed, Closed<T>> {
        let mut backoff = Backoff::new();
        let mut tail = self.tail.word.load(Ordering::Acquire);
        let mut block = self.tail.block.load(Ordering::Acquire);
        // Allocated before the CAS that takes a block's last slot, so that
        // other senders wait as briefly as possible for the next block.
        let mut next_block: *mut Block<T> = ptr::null_mut();
        loop {
            if tail & CLOSED != 0 {
                if !next_block.is_null() {
                    // SAFETY: allocated above, never published.
                    unsafe { Block::free(next_block) };
                }
                return Err(Closed(value));
            }
            let offset = (index_of(tail) % LAP) as usize;
            if offset == BLOCK_CAP {
                // A sentinel: the sender of the last slot is linking the
                // next block.
                backoff.snooze();
                tail = self.tail.word.load(Ordering::Acquire);
                block = self.tail.block.load(Ordering::Acquire);
                continue;
            }
            if offset + 1 == BLOCK_CAP && next_block.is_null() {
                next_block = Block::alloc();
            }
            if block.is_null() {
                block = self.install_first_block(&mut next_block);
                continue;
            }
            let reserved = (tail + STEP) & !WAITING;
            match self.tail.word.compare_exchange_weak(
                tail,
                reserved,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // We took the block's last slot: link the next
                        // block before writing, so that the receiver, once
                        // it has read our slot, can move on.
                        let next = std::mem::replace(&mut next_block, ptr::null_mut());
                        self.tail.block.store(next, Ordering::Release);
                        // Skip the sentinel (flags are untouched by the add).
                        self.tail.word.fetch_add(STEP, Ordering::AcqRel);
                        // SAFETY: `block` is the block of the slot we
                        // reserved, so the receiver cannot free it before we
                        // have written that slot.
                        unsafe { (*block).next.store(next, Ordering::Release) };
                    } else if !next_block.is_null() {
                        // SAFETY: allocated by us and never published.
                        unsafe { Block::free(next_block) };
                    }
                    // SAFETY: we reserved slot `offset` of `block`.
                    let previous = unsafe { Self::write_slot(block, offset, value) };
                    return Ok(Self::pushed(tail, previous));
                }
                Err(actual) => {
                    tail = actual;
                    block = self.tail.block.load(Ordering::Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// The very first push(es): publish the first block in `first_block`,
    /// then in `tail.block`, and return it. Racing senders agree through the
    /// CAS on `first_block` and help each other set `tail.block`, so any
    /// sender that sees `tail.block` also sees `first_block`, and so does
    /// the receiver once it acquires any reservation.
    #[cold]
    fn install_first_block(&self, spare: &mut *mut Block<T>) -> *mut Block<T> {
        let mut first = self.first_block.load(Ordering::Acquire);
        if first.is_null() {
            let ours = if spare.is_null() {
                Block::alloc()
            } else {
                std::mem::replace(spare, ptr::null_mut())
            };
            match self.first_block.compare_exchange(
                ptr::null_mut(),
                ours,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => first = ours,
                Err(winner) => {
                    // Keep ours for a later block.
                    *spare = ours;
                    first = winner;
                }
            }
        }
        // `tail.block` only ever goes from null to `first`; failing means
        // another sender already did it.
        let _ = self.tail.block.compare_exchange(
            ptr::null_mut(),
            first,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        first
    }

    /// The arrival number of the next message to be reserved: a mark at
    /// the end of the stream.
    pub(crate) fn end(&self) -> u64 {
        arrival_number(index_of(self.tail.word.load(Ordering::Acquire)))
    }
}

impl<T> Drop for Arrivals<T> {
    fn drop(&mut self) {
        // Only blocks that no receiver adopted are left to free here (a
        // receiver frees what it adopted when it closes). `&mut self`: no
        // push is in flight.
        let first = self.first_block.load(Ordering::Acquire);
        if !first.is_null() && !self.adopted.swap(true, Ordering::Acquire) {
            let mut head = Head::new();
            head.block = first;
            head.adopted = true;
            drop(head.close(self));
        }
    }
}

/// The receiver's position in the arrivals: the slot of the oldest message
/// it has not taken, and the block that slot is in (null until adopted).
pub(crate) struct Head<T> {
    index: u64,
    /// `arrival_number(index)`, kept as `index` moves: every receive reads
    /// it two or three times (3 % of a ping-pong's instructions when it
    /// was computed each time).
    seq: u64,
    block: *mut Block<T>,
    /// Whether this head took ownership of the blocks; once it has, a null
    /// `block` means "freed by close", never "adopt again".
    adopted: bool,
    /// What the receiver's last `announce_wait` that said sleep is
    /// waiting on, until `cancel_wait` or the next announcement.
    announced: Option<Announced>,
}

/// Where a receiver announced it would sleep.
#[derive(Clone, Copy)]
enum Announced {
    /// `WAITING` in the tail word, with the tail at this index.
    Tail(u64),
    /// `RECEIVER_WAITING` in the state of the (in-flight) slot at this
    /// index.
    Slot(u64),
}

impl<T> Head<T> {
    pub(crate) fn new() -> Self {
        Self {
            index: 0,
            seq: 0,
            block: ptr::null_mut(),
            adopted: false,
            announced: None,
        }
    }

    /// The arrival number of the next message to take.
    #[inline]
    pub(crate) fn seq(&self) -> u64 {
        debug_assert_eq!(self.seq, arrival_number(self.index));
        self.seq
    }

    /// The current block, adopting the first one if there is one yet.
    #[inline]
    fn block(&mut self, arrivals: &Arrivals<T>) -> *mut Block<T> {
        if !self.adopted {
            self.adopt(arrivals);
        }
        self.block
    }

    #[cold]
    fn adopt(&mut self, arrivals: &Arrivals<T>) {
        // Acquire: pairs with the installing sender's AcqRel CAS.
        let first = arrivals.first_block.load(Ordering::Acquire);
        if !first.is_null() {
            self.block = first;
            self.adopted = true;
            arrivals.adopted.store(true, Ordering::Relaxed);
        }
    }

    /// The next message, if it is written; `None` if there is none yet (or
    /// it is in flight).
    #[inline]
    pub(crate) fn peek(&mut self, arrivals: &Arrivals<T>) -> Option<&T> {
        let block = self.block(arrivals);
        if block.is_null() {
            return None;
        }
        let offset = (self.index % LAP) as usize;
        // SAFETY: we own `block` (adopted, or reached through `next`) and
        // have not freed it: it holds our position.
        unsafe {
            let slot = &(*block).slots[offset];
            if slot.state.load(Ordering::Acquire) != WRITTEN {
                return None;
            }
            // WRITTEN (Acquire) makes the sender's write visible, and no one
            // writes this slot again.
            Some(slot.value.with(|value| (*value).assume_init_ref()))
        }
    }

    /// Takes the next message, which `peek` has just shown to be written,
    /// and returns it with its arrival number.
    ///
    /// # Safety
    /// The last `peek` returned `Some` and nothing was taken since.
    #[inline]
    pub(crate) unsafe fn take_peeked(&mut self) -> (T, u64) {
        let seq = self.seq();
        let block = self.block;
        let offset = (self.index % LAP) as usize;
        // SAFETY: `peek` saw the slot WRITTEN; we move the message out
        // exactly once and advance past it.
        let value = unsafe {
            (*block).slots[offset]
                .value
                .with(|value| (*value).assume_init_read())
        };
        self.index += 1;
        self.seq += 1;
        if offset + 1 == BLOCK_CAP {
            // SAFETY: the sender of this last slot linked `next` (Release)
            // before writing the slot whose WRITTEN we acquired; every
            // other slot of the block has been taken, so no one needs it.
            unsafe {
                let next = (*block).next.load(Ordering::Acquire);
                debug_assert!(
                    !next.is_null(),
                    "last slot written before next block linked"
                );
                Block::free(block);
                self.block = next;
            }
            self.index += 1; // skip the sentinel
        }
        (value, seq)
    }

    /// Takes the next message if it is written.
    #[inline]
    pub(crate) fn take(&mut self, arrivals: &Arrivals<T>) -> Option<(T, u64)> {
        self.peek(arrivals)?;
        // SAFETY: `peek` just returned `Some`.
        Some(unsafe { self.take_peeked() })
    }

    /// Messages reserved and not yet taken (including any in flight).
    pub(crate) fn pending(&self, arrivals: &Arrivals<T>) -> usize {
        let end = index_of(arrivals.tail.word.load(Ordering::Acquire));
        (arrival_number(end) - self.seq()) as usize
    }

    /// See [`Receiver::announce_wait`](crate::Receiver::announce_wait) and
    /// "In flight" in the module docs.
    pub(crate) fn announce_wait(&mut self, arrivals: &Arrivals<T>) -> Wait {
        let here = self.index << SHIFT;
        self.announced = None;
        // Success needs no ordering: a wake-up carries its own
        // synchronisation. Failure acquires the reserving CAS we see, so
        // that the block of the reserved slot is visible below.
        match arrivals.tail.word.compare_exchange(
            here,
            here | WAITING,
            Ordering::Relaxed,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.announced = Some(Announced::Tail(self.index));
                Wait::Sleep
            }
            Err(word) if word & CLOSED != 0 => Wait::Closed,
            Err(word) if word == here | WAITING => {
                self.announced = Some(Announced::Tail(self.index));
                Wait::Sleep
            }
            // The slot at our position is reserved: written, or in flight.
            Err(_) => self.wait_on_head_slot(arrivals),
        }
    }

    /// The head slot is reserved: `Ready` if it is written, otherwise
    /// register on it so that its sender wakes us.
    fn wait_on_head_slot(&mut self, arrivals: &Arrivals<T>) -> Wait {
        let block = self.block(arrivals);
        // The reserving sender published the block before its CAS, which
        // our failed CAS acquired.
        debug_assert!(!block.is_null(), "a reserved slot without a block");
        let offset = (self.index % LAP) as usize;
        // SAFETY: we own `block`; the slot at our position is in it.
        let state = unsafe { &(*block).slots[offset].state };
        // Acquire on failure: WRITTEN makes the message visible.
        match state.compare_exchange(
            EMPTY,
            RECEIVER_WAITING,
            Ordering::Relaxed,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.announced = Some(Announced::Slot(self.index));
                Wait::Sleep
            }
            Err(RECEIVER_WAITING) => {
                self.announced = Some(Announced::Slot(self.index));
                Wait::Sleep
            }
            Err(_) => Wait::Ready,
        }
    }

    /// See [`Receiver::cancel_wait`](crate::Receiver::cancel_wait).
    pub(crate) fn cancel_wait(&mut self, arrivals: &Arrivals<T>) -> CancelWait {
        match self.announced.take() {
            None => CancelWait::Cancelled,
            Some(Announced::Tail(index)) => {
                let here = index << SHIFT;
                // A plain look first: after a push woke us (the usual case)
                // the word has moved on, and it never comes back to
                // `here | WAITING` (only we set WAITING, at a position we
                // have since left behind), so no locked CAS is needed.
                if arrivals.tail.word.load(Ordering::Relaxed) != here | WAITING {
                    return CancelWait::WakeClaimed;
                }
                match arrivals.tail.word.compare_exchange(
                    here | WAITING,
                    here,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => CancelWait::Cancelled,
                    // The word left `here | WAITING` only through a
                    // sender's reserving CAS, which cleared the flag and
                    // told that sender to wake us. (Our own close would
                    // too, but it clears `announced` first.)
                    Err(_) => CancelWait::WakeClaimed,
                }
            }
            Some(Announced::Slot(index)) => {
                debug_assert_eq!(index, self.index, "moved while waiting on a slot");
                let offset = (index % LAP) as usize;
                // SAFETY: we own the block of our position (the slot is
                // reserved, so its block was adopted in `announce_wait`).
                let state = unsafe { &(*self.block).slots[offset].state };
                // As above: once the sender has swapped our flag out, the
                // slot never holds RECEIVER_WAITING again.
                if state.load(Ordering::Acquire) != RECEIVER_WAITING {
                    return CancelWait::WakeClaimed;
                }
                match state.compare_exchange(
                    RECEIVER_WAITING,
                    EMPTY,
                    Ordering::Relaxed,
                    Ordering::Acquire,
                ) {
                    Ok(_) => CancelWait::Cancelled,
                    // The sender's swap found our flag and told it to wake
                    // us.
                    Err(_) => CancelWait::WakeClaimed,
                }
            }
        }
    }

    /// Closes the arrivals and takes every message reserved before the
    /// close, waiting for any still in flight; frees every block this head
    /// owns. Later pushes return their message.
    #[inline]
    pub(crate) fn close(&mut self, arrivals: &Arrivals<T>) -> Vec<T> {
        let word = arrivals.tail.word.fetch_or(CLOSED, Ordering::AcqRel);
        let end = arrival_number(index_of(word));
        // Adopt the first block even if nothing was reserved in it (a
        // sender may have installed it and then lost to the close), so that
        // it is freed with the rest.
        self.block(arrivals);
        self.announced = None;
        let mut taken = Vec::new();
        let mut backoff = Backoff::new();
        while self.seq() < end {
            match self.take(arrivals) {
                Some((value, _)) => taken.push(value),
                // In flight (or its block not yet adopted): its sender is
                // between reserving and writing.
                None => backoff.snooze(),
            }
        }
        self.free_blocks();
        taken
    }

    /// Frees the current block and any linked after it. Only after
    /// `close`, when no sender can reach them.
    fn free_blocks(&mut self) {
        let mut block = std::mem::replace(&mut self.block, ptr::null_mut());
        while !block.is_null() {
            // SAFETY: every reserved slot was taken and the mailbox is
            // closed, so no sender will touch these blocks; we own them.
            unsafe {
                let next = (*block).next.load(Ordering::Acquire);
                Block::free(block);
                block = next;
            }
        }
    }

    /// Iterates over written messages from the head, oldest first.
    pub(crate) fn iter<'a>(&'a mut self, arrivals: &Arrivals<T>) -> HeadIter<'a, T> {
        let block = self.block(arrivals);
        HeadIter {
            index: self.index,
            block,
            _head: std::marker::PhantomData,
        }
    }
}

/// Written messages from the head, oldest first (stops at the first slot
/// that is not written).
pub(crate) struct HeadIter<'a, T> {
    index: u64,
    block: *mut Block<T>,
    _head: std::marker::PhantomData<&'a T>,
}

impl<'a, T> Iterator for HeadIter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        if self.block.is_null() {
            return None;
        }
        let offset = (self.index % LAP) as usize;
        // SAFETY: the iterator borrows the receiver, so no slot is taken
        // and no block freed while it lives; a WRITTEN slot stays valid.
        unsafe {
            let slot = &(*self.block).slots[offset];
            if slot.state.load(Ordering::Acquire) != WRITTEN {
                return None;
            }
            let value = slot.value.with(|value| (*value).assume_init_ref());
            self.index += 1;
            if offset + 1 == BLOCK_CAP {
                self.block = (*self.block).next.load(Ordering::Acquire);
                self.index += 1;
            }
            Some(value)
        }
    }
}
