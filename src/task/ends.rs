//! Waiting for the first of several tasks to end: what
//! [`await_many`](super::await_many) and
//! [`async_stream`](super::async_stream) wait on.
//!
//! A [`PendingReply`] watches one process; here any of many may end
//! first. Each watched process gets an exit hook that records its key in
//! a queue shared with the owner, and answers the owner's open wait if
//! there is one. The owner, to wait, takes the first recorded key, or,
//! with none, opens a `PendingReply` and leaves its reply address in the
//! shared state for the next hook to answer (both under the one lock, so
//! no end slips between the look and the wait).
//!
//! * An end recorded while nobody waits stays queued for the next wait:
//!   none is lost, and ends come out in the order their hooks ran.
//! * A wait that times out takes its reply address back; a hook that
//!   took it first answers a closed call, which drops the answer (the
//!   key is queued all the same). Nothing reaches the owner's mailbox.
//! * The hooks are registered after the task's link (made at its spawn),
//!   so a task's link signal reaches the owner before the wake-up does
//!   (module `end`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ferrotp_scheduler::{PendingReply, Pid, ReplyTo};

/// The ends of a set of processes, for the process that watches them
/// (module docs).
pub(crate) struct Ends {
    shared: Arc<Mutex<Shared>>,
}

#[derive(Default)]
struct Shared {
    /// Keys of the processes that ended, in the order they did.
    ended: VecDeque<usize>,
    /// The owner's open wait, if it waits.
    waiter: Option<ReplyTo<()>>,
}

impl Ends {
    pub(crate) fn new() -> Self {
        Self {
            shared: Arc::default(),
        }
    }

    /// Watches `pid` under `key`. One that has already ended is recorded
    /// at once.
    pub(crate) fn watch(&self, key: usize, pid: &Pid) {
        let shared = Arc::clone(&self.shared);
        // The handle is not kept: the hook runs once the process ends, or
        // at once; a hook that runs after the owner lost interest records
        // a key nobody asks for.
        let _ = pid.on_exit(move |_| {
            let waiter = {
                let mut shared = lock(&shared);
                shared.ended.push_back(key);
                shared.waiter.take()
            };
            if let Some(waiter) = waiter {
                waiter.send(());
            }
        });
    }

    /// The key of a watched process that has ended (the first not yet
    /// returned), waiting until `deadline` (`None`: for ever); `None` on
    /// timeout.
    ///
    /// # Panics
    /// Outside a process, or inside an open call of the same process.
    pub(crate) fn next(&self, deadline: Option<Instant>) -> Option<usize> {
        let pending = {
            let mut shared = lock(&self.shared);
            if let Some(key) = shared.ended.pop_front() {
                return Some(key);
            }
            let (pending, reply) = PendingReply::<()>::new();
            shared.waiter = Some(reply);
            pending
        };
        let timeout = deadline.map_or(Duration::MAX, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        let _ = pending.wait(timeout);
        let (unused, key) = {
            let mut shared = lock(&self.shared);
            (shared.waiter.take(), shared.ended.pop_front())
        };
        // Dropped by its own process, outside the lock: it fills nothing.
        drop(unused);
        key
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // No user code runs under the lock: a poisoned one is still sound.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}
