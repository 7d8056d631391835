//! The deadlines of calls made outside any process
//! ([`call_async`](crate::call_async)): one thread for the whole program,
//! started by the first such call with a finite timeout.
//!
//! # Why a thread of its own
//!
//! A runtime's timers live in its workers' wheels, which only code on the
//! worker touches; an async caller runs on some executor's thread. Asking
//! the caller for a timer (`tokio::time::timeout`) would tie the bridge
//! to one executor, and a timed-out future would be *dropped* rather than
//! resolved with [`CallError::Timeout`](crate::CallError::Timeout) as a
//! process's `call` is. A thread per runtime would not do either: a
//! future may outlive the runtime of the process it called, and must
//! still time out. So one thread serves every runtime: it sleeps until
//! the earliest deadline (or until one is armed earlier), and costs
//! nothing while no call waits.
//!
//! # The protocol
//!
//! One `Mutex` around an ordered map from (deadline, number) to the
//! call's slot, held weakly (a call that ends disarms its entry; one
//! whose future is gone without disarming fails to upgrade). Arming an
//! entry that becomes the earliest notifies the thread's condition
//! variable; the thread takes every due entry out under the lock and
//! times the calls out outside it (that wakes their futures: executor
//! code).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Instant;

use crate::messaging::async_slot::AsyncSlot;

/// An armed deadline, to disarm.
#[derive(Debug)]
pub(crate) struct Armed {
    key: (Instant, u64),
}

struct Deadlines {
    state: Mutex<State>,
    /// The thread waits here for the earliest deadline.
    changed: Condvar,
}

struct State {
    armed: BTreeMap<(Instant, u64), Weak<AsyncSlot>>,
    /// Numbers the next entry (two calls may share a deadline).
    next: u64,
}

static DEADLINES: Deadlines = Deadlines {
    state: Mutex::new(State {
        armed: BTreeMap::new(),
        next: 0,
    }),
    changed: Condvar::new(),
};

/// Set once the thread has started.
static STARTED: OnceLock<()> = OnceLock::new();

impl Deadlines {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The thread (module docs).
    fn run(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(entry) = state.armed.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            if !due.is_empty() {
                drop(state);
                for slot in due {
                    if let Some(slot) = slot.upgrade() {
                        slot.time_out();
                    }
                }
                state = self.lock();
                continue;
            }
            let next = state.armed.first_key_value().map(|((at, _), _)| *at);
            state = match next {
                Some(at) => {
                    self.changed
                        .wait_timeout(state, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// The thread, started on first use.
///
/// # Panics
/// If the OS will not start it.
fn deadlines() -> &'static Deadlines {
    STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("ferrotp-call-deadlines".to_owned())
            .spawn(|| DEADLINES.run())
            .unwrap_or_else(|error| {
                panic!("ferrotp::call_async could not start its deadline thread: {error}")
            });
    });
    &DEADLINES
}

/// Times `slot`'s call out at `deadline`.
pub(crate) fn arm(deadline: Instant, slot: &Arc<AsyncSlot>) -> Armed {
    let deadlines = deadlines();
    let mut state = deadlines.lock();
    let key = (deadline, state.next);
    state.next += 1;
    state.armed.insert(key, Arc::downgrade(slot));
    let earliest = state.armed.first_key_value().map(|(first, _)| *first) == Some(key);
    drop(state);
    if earliest {
        deadlines.changed.notify_one();
    }
    Armed { key }
}

/// Forgets an armed deadline (its call ended first).
pub(crate) fn disarm(armed: Armed) {
    let removed = DEADLINES.lock().armed.remove(&armed.key);
    drop(removed);
}
