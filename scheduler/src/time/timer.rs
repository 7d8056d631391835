//! A hierarchical timer wheel: each worker's timers (`sleep`, receive
//! timeouts, `send_after`), and the deadline a parked worker sleeps until.
//!
//! # Layout
//!
//! Time is counted in ticks of one millisecond since the wheel's origin.
//! Six levels of 64 slots each: level `l` slot `s` holds the timers that
//! fire in the `s`-th run of `64^l` ticks within the current `64^(l+1)`
//! ticks. A timer goes to the level of the highest 6-bit group in which its
//! deadline differs from the current tick, so level 0 holds the next 64 ms
//! exactly and each higher level is 64 times coarser; together they cover
//! 64^6 ms, about 795 days (later deadlines wait in the top level and are
//! placed again each time it comes round).
//!
//! Advancing jumps from one occupied slot to the next (a bitmap per level
//! says which slots hold timers), so a worker that slept for an hour does
//! not step through 3.6 million empty ticks. When time reaches a slot of a
//! higher level, its timers are placed again, lower down ("cascading"), and
//! so fire at their exact millisecond.
//!
//! # Storage
//!
//! Timers live in a slab with intrusive doubly linked lists per slot:
//! insert and cancel are O(1) and allocate nothing once the slab has grown.
//! A [`TimerKey`] carries a generation, so cancelling a timer that already
//! fired (its slab entry reused since) is a harmless `None`.
//!
//! A deadline never fires early: it is rounded *up* to a whole tick, and
//! the current time is rounded down.

use std::time::{Duration, Instant};

const LEVELS: usize = 6;
const SLOTS: usize = 64;
const SLOT_BITS: u32 = 6;
/// Ticks the wheel can hold without clamping: 64^6.
const RANGE: u64 = 1 << (SLOT_BITS * LEVELS as u32);

/// Identifies a pending timer, for [`TimerWheel::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

const NONE: u32 = u32::MAX;

struct Entry<T> {
    generation: u32,
    /// Some while pending.
    timer: Option<Timer<T>>,
    /// Next free entry, while vacant.
    next_free: u32,
}

struct Timer<T> {
    deadline: u64,
    value: T,
    level: u8,
    slot: u8,
    prev: u32,
    next: u32,
}

/// One worker's timers. Not thread-safe: a worker owns its wheel.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ferrotp_scheduler::timer::TimerWheel;
///
/// let start = Instant::now();
/// let mut wheel = TimerWheel::new(start);
/// let ms = |n| start + Duration::from_millis(n);
/// wheel.insert(ms(30), "retry");
/// let key = wheel.insert(ms(10), "timeout");
/// assert_eq!(wheel.next_deadline(), Some(ms(10)));
/// assert_eq!(wheel.cancel(key), Some("timeout")); // the reply came in time
///
/// let mut fired = Vec::new();
/// wheel.advance(ms(29), &mut fired);
/// assert!(fired.is_empty());
/// wheel.advance(ms(30), &mut fired);
/// assert_eq!(fired, ["retry"]);
/// ```
pub struct TimerWheel<T> {
    origin: Instant,
    /// The current tick: every timer with a deadline at or before it fired.
    now: u64,
    entries: Vec<Entry<T>>,
    free: u32,
    heads: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    len: usize,
}

impl<T> std::fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerWheel")
            .field("now_ms", &self.now)
            .field("pending", &self.len)
            .finish_non_exhaustive()
    }
}

/// The level whose slots separate tick `when` from tick `now`: the highest
/// 6-bit group in which they differ (deadlines beyond the wheel's range go
/// to the top level).
fn level_for(now: u64, when: u64) -> usize {
    let masked = ((now ^ when) | (SLOTS as u64 - 1)).min(RANGE - 1);
    ((63 - masked.leading_zeros()) / SLOT_BITS) as usize
}

fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1)
}

impl<T> TimerWheel<T> {
    /// An empty wheel whose tick 0 is `origin`.
    pub fn new(origin: Instant) -> Self {
        Self {
            origin,
            now: 0,
            entries: Vec::new(),
            free: NONE,
            heads: [[NONE; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            len: 0,
        }
    }

    /// Pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tick of `instant`, rounded up (a deadline never fires early).
    fn tick_ceil(&self, instant: Instant) -> u64 {
        let since = instant.saturating_duration_since(self.origin);
        let ms = Self::ticks(since);
        if since > Duration::from_millis(ms) {
            ms.saturating_add(1)
        } else {
            ms
        }
    }

    /// The tick of `instant`, rounded down.
    fn tick_floor(&self, instant: Instant) -> u64 {
        Self::ticks(instant.saturating_duration_since(self.origin))
    }

    /// Whole milliseconds in `since`, saturated: a deadline more than
    /// `u64::MAX` ms away (an `Instant` can be) is the last tick, not
    /// wrapped round to a near one.
    fn ticks(since: Duration) -> u64 {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }

    /// The instant of a tick.
    fn instant(&self, tick: u64) -> Instant {
        self.origin + Duration::from_millis(tick)
    }

    /// Adds a timer for `deadline` carrying `value`. A deadline at or before
    /// the wheel's current millisecond fires at the first
    /// [`advance`](TimerWheel::advance) to a later one.
    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerKey {
        let deadline = self.tick_ceil(deadline).max(self.now + 1);
        let index = if self.free == NONE {
            self.entries.push(Entry {
                generation: 0,
                timer: None,
                next_free: NONE,
            });
            u32::try_from(self.entries.len() - 1).expect("fewer than 4 billion timers")
        } else {
            let index = self.free;
            self.free = self.entries[index as usize].next_free;
            index
        };
        let entry = &mut self.entries[index as usize];
        entry.timer = Some(Timer {
            deadline,
            value,
            level: 0,
            slot: 0,
            prev: NONE,
            next: NONE,
        });
        let generation = entry.generation;
        self.link(index);
        self.len += 1;
        TimerKey { index, generation }
    }

    /// Removes a pending timer and returns its value; `None` if it already
    /// fired or was cancelled.
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.entries.get(key.index as usize)?;
        if entry.generation != key.generation || entry.timer.is_none() {
            return None;
        }
        self.unlink(key.index);
        Some(self.release(key.index))
    }

    /// The earliest instant at which a timer may be due: exact for timers
    /// within the next 64 ms, the start of their slot for later ones (the
    /// worker wakes there, cascades and looks again). `None` if no timer is
    /// pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_expiry().map(|(_, _, tick)| self.instant(tick))
    }

    /// The next occupied slot in time order: (level, slot, its start tick).
    ///
    /// The lowest occupied level holds it: a level's timers all fall before
    /// the next slot of the level above starts.
    fn next_expiry(&self) -> Option<(usize, usize, u64)> {
        let level = (0..LEVELS).find(|&level| self.occupied[level] != 0)?;
        let slot_range = 1u64 << (SLOT_BITS * level as u32);
        let level_range = slot_range << SLOT_BITS;
        let now_slot = slot_for(self.now, level);
        let distance = self.occupied[level]
            .rotate_right(now_slot as u32)
            .trailing_zeros();
        let slot = (now_slot + distance as usize) % SLOTS;
        let mut start = (self.now & !(level_range - 1)) + slot as u64 * slot_range;
        if start <= self.now {
            // The slot is behind us in this rotation: it belongs to the
            // next one (only deadlines beyond the wheel's range do that).
            start += level_range;
        }
        Some((level, slot, start))
    }

    /// Moves time to `now`, appending every timer due by then to `fired`,
    /// in deadline order.
    pub fn advance(&mut self, now: Instant, fired: &mut Vec<T>) {
        let target = self.tick_floor(now);
        while let Some((level, slot, start)) = self.next_expiry() {
            if start > target {
                break;
            }
            self.now = start;
            // Take the slot's list: fire what is due at this tick, and
            // place the rest again, lower down (cascading).
            let mut index = self.heads[level][slot];
            self.heads[level][slot] = NONE;
            self.occupied[level] &= !(1 << slot);
            while index != NONE {
                let timer = self.entries[index as usize]
                    .timer
                    .as_ref()
                    .expect("listed timer is pending");
                let next = timer.next;
                if timer.deadline <= self.now {
                    fired.push(self.release(index));
                } else {
                    self.link(index);
                }
                index = next;
            }
        }
        self.now = self.now.max(target);
    }

    /// Puts a pending timer into the slot its deadline belongs to now.
    fn link(&mut self, index: u32) {
        let now = self.now;
        let timer = self.entries[index as usize]
            .timer
            .as_mut()
            .expect("pending timer");
        let level = level_for(now, timer.deadline);
        let slot = slot_for(timer.deadline, level);
        let head = self.heads[level][slot];
        timer.level = level as u8;
        timer.slot = slot as u8;
        timer.prev = NONE;
        timer.next = head;
        if head != NONE {
            self.entries[head as usize]
                .timer
                .as_mut()
                .expect("listed timer")
                .prev = index;
        }
        self.heads[level][slot] = index;
        self.occupied[level] |= 1 << slot;
    }

    /// Takes a pending timer out of its slot's list.
    fn unlink(&mut self, index: u32) {
        let timer = self.entries[index as usize]
            .timer
            .as_ref()
            .expect("pending timer");
        let (level, slot, prev, next) = (
            timer.level as usize,
            timer.slot as usize,
            timer.prev,
            timer.next,
        );
        if prev == NONE {
            self.heads[level][slot] = next;
        } else {
            self.entries[prev as usize]
                .timer
                .as_mut()
                .expect("listed timer")
                .next = next;
        }
        if next != NONE {
            self.entries[next as usize]
                .timer
                .as_mut()
                .expect("listed timer")
                .prev = prev;
        }
        if self.heads[level][slot] == NONE {
            self.occupied[level] &= !(1 << slot);
        }
    }

    /// Frees an unlinked entry and returns its value.
    fn release(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        let timer = entry.timer.take().expect("pending timer");
        entry.generation = entry.generation.wrapping_add(1);
        entry.next_free = self.free;
        self.free = index;
        self.len -= 1;
        timer.value
    }
}
