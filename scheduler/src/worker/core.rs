//! The part of a worker that process code reaches (spawning, waking,
//! timers, stacks), and the thread-local that finds it: [`WorkerCore`].
//! The run loop (`run_loop.rs`) owns it and runs processes; process code
//! borrows it, through [`try_with_worker`], for calls that run no user
//! code.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ptr;
use std::sync::Arc;
use std::time::Instant;

use corosensei::trap::CoroutineTrapHandler;
use crossbeam_deque::Worker;

use crate::process::coroutine::Finished;
use crate::process::process_id::ProcessId;
use crate::process::stack::StackPool;
use crate::process::{Anchor, Envelope, Pcb};
use crate::time::timer::{TimerKey, TimerWheel};
use crate::time::timer_state::SendTimerState;
use crate::worker::shared::Shared;
use crate::worker::shared::{Delivery, Task};

thread_local! {
    static WORKER: Cell<*const WorkerCore> = const { Cell::new(ptr::null()) };
}

#[inline(never)]
fn worker_ptr() -> *const WorkerCore {
    WORKER.with(Cell::get)
}

#[inline(never)]
pub(crate) fn set_worker(core: *const WorkerCore) {
    WORKER.with(|c| c.set(core));
}

/// Runs `f` with the worker of this thread, if it is a worker thread.
///
/// `f` must not run user code: no closure, hook or destructor of the
/// user's, and nothing that may suspend the running process. A process
/// that suspends may resume on another thread (a migratable one), or
/// after its worker has ended (shutdown), and the reference would then
/// dangle. Callers only touch the core's queues, counters and timers in
/// `f`, and drop what they take out (a cancelled timer's message) after
/// `f` returns.
#[inline]
pub(crate) fn try_with_worker<R>(f: impl FnOnce(&WorkerCore) -> R) -> Option<R> {
    let core = worker_ptr();
    if core.is_null() {
        return None;
    }
    // The run loop sets the pointer to the core it owns and clears it
    // before that core drops; `f` runs no user code (the contract above),
    // so the process cannot suspend, move or outlive the worker meanwhile.
    // SAFETY: hence the core is alive while `f` holds it, and only shared.
    Some(f(unsafe { &*core }))
}

/// What a timer does when it fires.
pub(crate) enum TimerEvent {
    /// A waiting process's timeout (`receive_timeout`, `sleep`).
    Wake { pcb: Arc<Pcb>, seq: u64 },
    /// `send_after`.
    Send {
        to: Arc<Pcb>,
        message: Envelope,
        state: Arc<SendTimerState>,
    },
    /// A process's clean-up deadline passed (module `context`): its
    /// clean-up's flag is set, and the process woken, so that its next
    /// check point abandons it if it is still in that clean-up.
    CleanupDeadline {
        pcb: Arc<Pcb>,
        expired: Arc<std::sync::atomic::AtomicBool>,
    },
}

/// The part of a worker that process code reaches through the thread-local
/// `WORKER` (spawning, waking, timers). Used only on the worker's thread,
/// through shared references; the run loop holds no borrow of its
/// `RefCell`s while a process runs.
pub(crate) struct WorkerCore {
    pub(crate) index: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) anchor: Arc<Anchor>,
    pub(in crate::worker) fresh: Worker<Task>,
    pub(in crate::worker) lifo: Cell<Option<usize>>,
    pub(in crate::worker) runnable: RefCell<VecDeque<usize>>,
    /// Migratable processes woken while a process ran, to be moved to
    /// `fresh` by the run loop (only it may take them out of the slab).
    pub(in crate::worker) to_move: RefCell<Vec<usize>>,
    pub(in crate::worker) timers: RefCell<TimerWheel<TimerEvent>>,
    /// A process is running (wakes go to the LIFO slot, not the FIFO).
    pub(in crate::worker) in_process: Cell<bool>,
    /// Process numbers handed out in blocks: (next, end).
    pub(in crate::worker) ids: Cell<(u64, u64)>,
    /// Process slots reserved from the runtime's limit and not used.
    pub(in crate::worker) credit: Cell<usize>,
    /// The running process's trap handler, kept only when a stack overflow
    /// ends the process instead of the program (module `overflow`); read
    /// by the signal handler on this thread.
    pub(crate) trap: Cell<Option<CoroutineTrapHandler<Finished>>>,
    /// Idle stacks: taken by processes as they first run, and by a
    /// process for a stack segment (module `stack_depth`).
    pub(crate) stacks: RefCell<StackPool>,
    /// What the runtime's frames on the stack of the process that just gave
    /// this worker up for good owed (module `debt`), left here by it on its
    /// way out, for the run loop to pay.
    pub(in crate::worker) abandoned_debts: Cell<Vec<crate::process::coroutine::OwedByFrame>>,
    /// Control blocks of processes that ended here held by nothing else,
    /// already blank ([`Pcb::blank`](crate::process::Pcb::blank)): the
    /// next plain spawns reuse them instead of an allocation and a free.
    pub(crate) spare_pcbs: RefCell<Vec<Arc<crate::process::Pcb>>>,
    /// A settled set-up debt held by nothing else (module `debt`): the
    /// next `spawn_with` set-up (a `spawn_link`'s, a `spawn_monitor`'s)
    /// lists it again instead of allocating one.
    pub(crate) spare_debt: Cell<Option<Arc<crate::process::debt::Debt>>>,
}

/// Process numbers taken from the global counter at a time.
const ID_BLOCK: u64 = 1024;

impl WorkerCore {
    /// The running process gives this worker up for good, leaving what the
    /// runtime's frames on its stack owe (module `debt`).
    /// Returns what was there (nothing: the run loop takes each list as
    /// the process leaves), to be dropped outside `try_with_worker`.
    #[must_use]
    pub(crate) fn leave_debts(
        &self,
        debts: Vec<crate::process::coroutine::OwedByFrame>,
    ) -> Vec<crate::process::coroutine::OwedByFrame> {
        self.abandoned_debts.replace(debts)
    }

    /// Queues a never-run process here and tells an idle worker about it.
    ///
    /// Even a lone child is announced: skipping that (as tokio's LIFO slot
    /// does) left it waiting for a whole slice behind a busy parent, one
    /// core idle, and forever behind a parent that blocked its OS thread
    /// (found by review, with tests). The chained-spawn benchmark did not
    /// measurably gain from the skip.
    pub(crate) fn push_task(&self, task: Task) {
        self.fresh.push(task);
        self.shared.notify_one();
    }

    pub(crate) fn next_id(&self) -> ProcessId {
        let (mut next, mut end) = self.ids.get();
        if next == end {
            let block = ProcessId::reserve_local(ID_BLOCK);
            (next, end) = (block.start, block.end);
        }
        self.ids.set((next + 1, end));
        ProcessId::new(0, next)
    }

    /// Takes one process slot from the runtime's limit.
    pub(crate) fn take_slot(&self) -> Result<(), usize> {
        let credit = self.credit.get();
        if credit > 0 {
            self.credit.set(credit - 1);
            return Ok(());
        }
        let granted = self.shared.reserve_slots(self.shared.credit_batch)?;
        self.credit.set(granted - 1);
        Ok(())
    }

    /// Gives back the slot of a process that ended.
    pub(in crate::worker) fn return_slot(&self) {
        let credit = self.credit.get() + 1;
        let batch = self.shared.credit_batch;
        if credit > 2 * batch {
            self.shared.return_slots(credit - batch);
            self.credit.set(batch);
        } else {
            self.credit.set(credit);
        }
    }

    pub(crate) fn add_timer(&self, deadline: Instant, event: TimerEvent) -> TimerKey {
        self.timers.borrow_mut().insert(deadline, event)
    }

    pub(crate) fn cancel_timer(&self, key: TimerKey) -> Option<TimerEvent> {
        self.timers.borrow_mut().cancel(key)
    }

    /// Whether `shared` is this worker's runtime.
    pub(crate) fn serves(&self, shared: &Arc<Shared>) -> bool {
        Arc::ptr_eq(&self.shared, shared)
    }

    /// A process of this worker was woken on this thread.
    #[inline]
    ///
    /// A hibernated process (its key has `HIBERNATED`) woken by the running
    /// process takes the LIFO slot like a settled one: it runs next, here,
    /// on the rest of the waker's budget (a call to an idle actor costs no
    /// trip through the queues). Bumped from the slot, or woken between
    /// processes, it goes to `to_move`, for the run loop (which owns the
    /// slab of sleepers) to launch onto the stealable deque.
    fn wake_local(&self, key: usize, migratable: bool) {
        let hibernated = key & crate::process::hibernation::HIBERNATED != 0;
        if migratable {
            self.to_move.borrow_mut().push(key);
        } else if self.in_process.get() {
            if let Some(bumped) = self.lifo.replace(Some(key)) {
                if bumped & crate::process::hibernation::HIBERNATED != 0 {
                    self.to_move.borrow_mut().push(bumped);
                } else {
                    self.runnable.borrow_mut().push_back(bumped);
                }
            }
        } else if hibernated {
            self.to_move.borrow_mut().push(key);
        } else {
            self.runnable.borrow_mut().push_back(key);
        }
    }

    /// Whether the running process was interrupted inside the worker's
    /// queue bookkeeping (one of its queues is borrowed): for the stack
    /// overflow handler, which must not abandon a process there.
    pub(crate) fn in_bookkeeping(&self) -> bool {
        self.runnable.try_borrow_mut().is_err()
            || self.to_move.try_borrow_mut().is_err()
            || self.timers.try_borrow_mut().is_err()
    }

    /// This worker's poller, for registering a source.
    pub(crate) fn io(&self) -> &Arc<crate::io::driver::IoShared> {
        &self.shared.remotes[self.index].io
    }

    pub(crate) fn stats(&self) -> &crate::worker::stats::WorkerStats {
        &self.shared.remotes[self.index].stats
    }
}

/// Queues a process that `wake` moved out of WAITING on its home worker.
#[inline]
pub(crate) fn schedule_woken(pcb: &Arc<Pcb>) {
    let (home, key) = pcb.place();
    let shared = pcb.shared();
    let local = try_with_worker(|core| {
        let here = core.index == home && core.serves(shared);
        if here {
            core.wake_local(key, pcb.migratable);
        }
        here
    });
    if local != Some(true) {
        wake_remote(pcb, home);
    }
}

/// A process woken from another thread than its worker's: through that
/// worker's inbox.
#[inline(never)]
fn wake_remote(pcb: &Arc<Pcb>, home: usize) {
    let _ = pcb.shared().remotes[home].deliver(Delivery::Woken(Arc::clone(pcb)));
}
