//! Which workers are asleep, and waking exactly one of them when stealable
//! work appears.
//!
//! # State
//!
//! `state` packs two counts: workers **awake** (not parked) and, among
//! them, workers **searching** (awake, out of local work, looking to
//! steal). The list of parked workers (`sleepers`) sits behind a mutex that
//! only the slow paths take (parking, and waking a sleeper); every change
//! to `awake` happens under that mutex, so under it
//! `sleepers.len() == workers - awake`.
//!
//! # Waking one, not all
//!
//! Whoever makes stealable work visible (a spawn, a wake-up of a process
//! that may run anywhere) calls [`Idle::worker_to_notify`]. If a worker is
//! already searching, or none is asleep, nobody is woken: the searcher, or
//! the awake workers, will find the work. Otherwise one sleeper is popped,
//! counted as awake *and searching*, and its thread unparked. A searcher
//! that finds work stops searching; if it was the last searcher it wakes
//! another sleeper ([`Idle::transition_from_searching`] says so), so that
//! a burst of work spreads over the workers one at a time, never as a herd.
//!
//! # No lost wake-up
//!
//! A worker that runs out of work:
//! 1. registers as a sleeper ([`Idle::transition_to_parked`]: under the
//!    mutex, `awake -= 1` by a `SeqCst` read-modify-write);
//! 2. issues a `SeqCst` fence and looks at every queue once more;
//! 3. parks only if that look found nothing.
//!
//! A notifier makes its work visible, issues a `SeqCst` fence, then reads
//! `state`. Of the two fences one comes first in the single total order of
//! `SeqCst` operations: if the worker's, the notifier sees it asleep and
//! wakes a sleeper (perhaps this one); if the notifier's, the worker's
//! second look sees the work. Parking uses the thread's park token (a
//! binary permit), so an unpark that arrives between steps 2 and 3 makes
//! the park return at once. A worker woken for any reason calls
//! [`Idle::transition_from_parked`], which tells it whether a notifier
//! picked it (it is then searching) or it woke by itself.
//!
//! Work that only one worker may run (a settled process woken from
//! another thread) does not go through here: the waker pushes it to that
//! worker's inbox and unparks that worker's thread directly; the worker's
//! second look in step 2 includes its inbox.

use ferrotp_mailbox::sync::{Mutex, Ordering, fence};

use ferrotp_mailbox::sync::AtomicUsize;

/// One searching worker, in `state`.
const SEARCHING: usize = 1;
/// One awake worker, in `state`.
const AWAKE: usize = 1 << 16;
/// Mask of one count.
const COUNT: usize = AWAKE - 1;

fn searching_of(state: usize) -> usize {
    state & COUNT
}

fn awake_of(state: usize) -> usize {
    (state >> 16) & COUNT
}

/// Idle-worker accounting for one runtime.
///
/// ```
/// use ferrotp_scheduler::idle::Idle;
///
/// let idle = Idle::new(2);
/// // Worker 1 runs out of work and parks (after a second look found
/// // nothing).
/// idle.transition_to_parked(1, false);
/// Idle::recheck_fence();
/// // Work appears: exactly one sleeper is picked to go and look for it.
/// assert_eq!(idle.worker_to_notify(), Some(1));
/// assert_eq!(idle.worker_to_notify(), None, "it is already searching");
/// assert!(idle.transition_from_parked(1), "woken as a searcher");
/// ```
pub struct Idle {
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    workers: usize,
}

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Idle")
            .field("workers", &self.workers)
            .field("awake", &awake_of(state))
            .field("searching", &searching_of(state))
            .finish()
    }
}

impl Idle {
    /// Accounting for `workers` workers, all awake, none searching.
    ///
    /// # Panics
    /// If `workers` is 0 or above 65535.
    pub fn new(workers: usize) -> Self {
        assert!(
            (1..=COUNT).contains(&workers),
            "a runtime has between 1 and {COUNT} workers (got {workers})"
        );
        Self {
            state: AtomicUsize::new(workers * AWAKE),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            workers,
        }
    }

    fn sleepers(&self) -> ferrotp_mailbox::sync::MutexGuard<'_, Vec<usize>> {
        // Nothing panics while the list is held, so poisoning cannot leave
        // it inconsistent.
        self.sleepers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Workers awake right now, and how many of them are searching.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state.load(Ordering::SeqCst);
        (awake_of(state), searching_of(state))
    }

    /// Call after making stealable work visible. Returns the sleeping
    /// worker to unpark, if one is needed; it is already counted as awake
    /// and searching.
    pub fn worker_to_notify(&self) -> Option<usize> {
        // See "No lost wake-up": pairs with the fence in the parking
        // worker's second look.
        fence(Ordering::SeqCst);
        if !self.needs_wake(self.state.load(Ordering::SeqCst)) {
            return None;
        }
        let mut sleepers = self.sleepers();
        // Searchers may have appeared meanwhile (they change outside the
        // lock); `awake` cannot have changed without the lock.
        if !self.needs_wake(self.state.load(Ordering::SeqCst)) {
            return None;
        }
        let worker = sleepers.pop()?;
        self.state.fetch_add(AWAKE + SEARCHING, Ordering::SeqCst);
        Some(worker)
    }

    fn needs_wake(&self, state: usize) -> bool {
        searching_of(state) == 0 && awake_of(state) < self.workers
    }

    /// Step 1 of parking: `worker` (searching or not) registers as a
    /// sleeper. The caller must then fence and look at every queue again
    /// ([`Idle::recheck_fence`]) before parking. Returns whether it was the
    /// last searching worker.
    pub fn transition_to_parked(&self, worker: usize, searching: bool) -> bool {
        let mut sleepers = self.sleepers();
        let leave = AWAKE + if searching { SEARCHING } else { 0 };
        let before = self.state.fetch_sub(leave, Ordering::SeqCst);
        debug_assert!(awake_of(before) > 0);
        sleepers.push(worker);
        searching && searching_of(before) == 1
    }

    /// The fence between registering as a sleeper and the second look.
    #[inline]
    pub fn recheck_fence() {
        fence(Ordering::SeqCst);
    }

    /// After waking up, or after the second look found work: `worker`
    /// counts as awake again. Returns true if a notifier picked it, in
    /// which case it is searching.
    pub fn transition_from_parked(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers();
        match sleepers.iter().position(|&w| w == worker) {
            Some(at) => {
                sleepers.swap_remove(at);
                self.state.fetch_add(AWAKE, Ordering::SeqCst);
                false
            }
            // A notifier popped us and counted us awake and searching.
            None => true,
        }
    }

    /// An awake worker out of local work starts searching, unless half the
    /// awake workers already are (they would only contend). Returns whether
    /// it is now searching.
    pub fn transition_to_searching(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        if 2 * searching_of(state) >= awake_of(state) {
            return false;
        }
        self.state.fetch_add(SEARCHING, Ordering::SeqCst);
        true
    }

    /// A searching worker found work. Returns true if it was the last
    /// searcher: the caller must then notify another worker
    /// ([`Idle::worker_to_notify`]), as there may be more work.
    pub fn transition_from_searching(&self) -> bool {
        let before = self.state.fetch_sub(SEARCHING, Ordering::SeqCst);
        debug_assert!(searching_of(before) > 0);
        searching_of(before) == 1
    }

    /// Shutdown: every sleeper, to be unparked (each counted awake).
    pub fn wake_all(&self) -> Vec<usize> {
        let mut sleepers = self.sleepers();
        let woken: Vec<usize> = sleepers.drain(..).collect();
        self.state.fetch_add(AWAKE * woken.len(), Ordering::SeqCst);
        woken
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_notify_wakes_one_sleeper_and_only_while_nobody_searches() {
        let idle = Idle::new(3);
        assert_eq!(idle.worker_to_notify(), None, "everyone is awake");
        assert!(!idle.transition_to_parked(0, false));
        assert!(!idle.transition_to_parked(1, false));
        assert_eq!(idle.counts(), (1, 0));
        assert_eq!(idle.worker_to_notify(), Some(1));
        assert_eq!(idle.counts(), (2, 1));
        // Worker 1 is searching: a second notify wakes nobody more.
        assert_eq!(idle.worker_to_notify(), None);
        assert!(idle.transition_from_parked(1), "picked by a notifier");
        // It finds work and was the last searcher: it must notify on.
        assert!(idle.transition_from_searching());
        assert_eq!(idle.worker_to_notify(), Some(0));
        assert_eq!(idle.counts(), (3, 1));
    }

    #[test]
    fn a_worker_that_wakes_by_itself_leaves_the_sleepers() {
        let idle = Idle::new(2);
        idle.transition_to_parked(0, false);
        assert_eq!(idle.counts(), (1, 0));
        assert!(!idle.transition_from_parked(0), "not picked: not searching");
        assert_eq!(idle.counts(), (2, 0));
        assert_eq!(idle.worker_to_notify(), None);
    }

    #[test]
    fn at_most_half_the_awake_workers_search() {
        let idle = Idle::new(4);
        assert!(idle.transition_to_searching());
        assert!(idle.transition_to_searching());
        assert!(!idle.transition_to_searching());
        assert!(
            !idle.transition_to_parked(3, true),
            "another searcher is left"
        );
        assert_eq!(idle.counts(), (3, 1));
        assert!(idle.transition_from_searching(), "the last searcher");
    }

    #[test]
    fn shutdown_wakes_every_sleeper() {
        let idle = Idle::new(3);
        idle.transition_to_parked(2, false);
        idle.transition_to_parked(0, false);
        let mut woken = idle.wake_all();
        woken.sort_unstable();
        assert_eq!(woken, vec![0, 2]);
        assert_eq!(idle.counts(), (3, 0));
    }

    #[test]
    #[should_panic(expected = "between 1 and 65535 workers (got 0)")]
    fn zero_workers_is_refused() {
        let _ = Idle::new(0);
    }
}
