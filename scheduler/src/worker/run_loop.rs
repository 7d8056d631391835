//! The worker: one OS thread's run loop, its run queues, stealing, parking
//! and shutdown.
//!
//! # What a worker owns
//!
//! * `fresh`: a crossbeam-deque `Worker` of **stealable** tasks: processes
//!   that have never run (only their `Send` closure exists) and runnable
//!   `migratable` processes. The owner pops the newest (depth first, as in
//!   Cilk: a spawning process's children run while they are hot and the
//!   live set stays small); thieves take the oldest half.
//! * the **LIFO slot**: the settled process just woken by the running one
//!   (message-passing locality: the receiver of a message runs next, on
//!   the sender's warm cache). It is bounded: the woken process runs on
//!   the *rest of the waker's budget*, so a ping-ponging pair shares one
//!   slice and then goes to the back of the queue. It holds only processes
//!   that the migration rule pins here anyway; a woken migratable process
//!   goes to `fresh`, where thieves can take it (unlike tokio's LIFO slot,
//!   tokio issue 4941).
//! * `runnable`: a FIFO of settled processes ready to run.
//! * `preempted`: a FIFO of settled processes that spent a slice of
//!   their own without waiting (a `yield_now` goes to `runnable`, as
//!   `erlang:yield/0` does: behind the preempted ones, a process yielding
//!   after a little work waited 61 picks a yield beside processes that
//!   message each other).
//!   They run when nothing else local is ready, and the oldest of them
//!   every 61st pick whatever else is ready, so that they cannot be
//!   starved. Go puts a goroutine preempted for running too long
//!   (or one that calls `Gosched`) on its global run queue, looked at
//!   every 61st pick, and tokio defers a task that spent its budget (or
//!   yields) until its worker's next maintenance, every 61st pick: as
//!   they do, this keeps a busy loop from taking a share of the worker
//!   that processes which wait for each other cannot get back. A
//!   ping-ponging pair shares one slice (the LIFO slot's carried budget,
//!   about 650 round trips) and then goes to the back of `runnable`; with
//!   both in one FIFO beside a `reduce(1)` loop, the loop got a slice of
//!   the same 4000 reductions after each of the pair's, and its
//!   reductions cost a fifth of the pair's in time: the pair lost 15 % of
//!   its round trips (benchmark W7). Now the loop gets a slice after about
//!   30 of the pair's. A process that gives up a carried budget (its run
//!   from the LIFO slot spent it, or yielded) is not preempted: it goes
//!   to the back of `runnable`, as the partner it leaves in the LIFO slot
//!   does, behind other processes that wait, ahead of the preempted ones.
//! * the **slab** of settled processes' coroutines (never leaves the
//!   thread: the migration rule).
//! * an **inbox** (a `ferrotp-mailbox` mailbox) where other threads put
//!   the settled processes they wake and the new processes pinned to this
//!   worker, and a timer wheel.
//!
//! # Picking the next process (`next_job`)
//!
//! 1. the LIFO slot, if the last process left budget to pass on;
//! 2. every 8th pick, housekeeping: the inbox is drained into `runnable`,
//!    migratable processes woken here move to `fresh`, due timers fire
//!    (every 16th pick, or whenever `runnable` is empty), and, while
//!    sources are registered with its poller, I/O events are taken
//!    (every 16th pick, or whenever `runnable` is empty);
//!    and every 61st of those, the global injector, then `runnable`'s
//!    oldest, then `fresh`'s oldest, so that none of them can be starved
//!    by the others (61 is Go's and async-executor's habit: prime, so it
//!    does not beat against a workload's period);
//! 3. every 61st pick, the oldest preempted process;
//! 4. pinned newcomers, then `runnable` and `fresh`, alternating which
//!    goes first, then `preempted`;
//! 5. with nothing local: housekeeping, the local queues again, then the
//!    injector.
//!
//! With nothing local, the worker searches (steals half a victim's `fresh`
//! deque, victims nearest first by NUMA node, in tiers (module
//! `placement`), each tier from a random starting point; then the
//! injector), spins for the
//! configured busy-wait (cut short when a sibling worker waits for this
//! CPU: `WorkerLoop::spin`), and parks by the protocol in module `idle` (its
//! second look covers the injector, every victim, its inbox, its timers and
//! the shutdown flag). It parks in its I/O poller (module `io::driver`),
//! for no longer than its next timer deadline: an I/O event, a timer and
//! an unpark from another thread all wake it.
//!
//! # Shutdown, step by step
//!
//! 1. `Runtime::drop` sets `shutdown`, fences, and unparks every worker.
//! 2. A worker sees the flag between two processes (a process that never
//!    suspends holds it up, as a blocking task holds up tokio).
//! 3. It discards its never-run tasks (their closures are dropped, their
//!    exit reason is `Shutdown`; processes spawned from now on end at
//!    once) and tells each settled process to end the way an exit signal
//!    does (module `signal`): it records `Shutdown`, raises `FORCED_EXIT`
//!    and wakes the process, which unwinds from where it waits when it
//!    next runs (destructors run).
//! 4. It goes on running its processes, without stealing, until none is
//!    left: their clean-up may block (on messages from processes of any
//!    worker, on timers), bounded by the clean-up deadline (module
//!    `context`); one that keeps catching its unwind is abandoned. A
//!    worker with nothing to run parks until its inbox or its next timer
//!    wakes it.
//! 5. It keeps polling its I/O poller until every worker has reached
//!    this step, so that a process of another worker still in its
//!    clean-up can wait on a socket registered here.
//! 6. It closes its inbox, drops its timers, returns every stack; the
//!    thread ends and `Runtime::drop` joins it, then empties the injector.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use corosensei::{Coroutine, CoroutineResult, Yielder};
use crossbeam_deque::{Steal, Worker};
use ferrotp_mailbox::{Receiver, Wait};
use slab::Slab;

use crate::io::driver::Driver;
use crate::lifecycle::exit_reason::ExitReason;
use crate::lifecycle::exit_signal::SignalUnwind;
use crate::messaging::delivery::deliver;
use crate::process::context::{ProcessCtx, clear_current_in_run_loop, set_current};
use crate::process::coroutine::{Finished, Suspend};
use crate::process::hibernation::{Activation, HIBERNATED, Sleeper};
use crate::process::panic_payload::drop_payload;
use crate::process::stack::StackPool;
use crate::process::{Anchor, Pcb, PcbMailbox};
use crate::time::timer::TimerWheel;
use crate::worker::contain::{contain, contain_deferring};
use crate::worker::core::{TimerEvent, WorkerCore, set_worker, try_with_worker};
use crate::worker::idle::Idle;
use crate::worker::shared::{
    BorrowedPcb, Delivery, Launch, Migrating, Settled, Shared, Start, Task,
};

/// What the run loop runs next.
enum Job {
    Settled { key: usize, budget: u32 },
    Task(Task),
}

/// Blank control blocks a worker keeps for its next spawns, at most
/// (`WorkerCore::spare_pcbs`): a burst of spawns after a burst of exits
/// reuses them; more would only hold memory.
const SPARE_PCBS: usize = 64;

/// Every how many picks a preempted process goes first (module docs:
/// `preempted`): prime, as the other periods of `next_job`; and Go's
/// period for its global run queue, where its scheduler puts a goroutine
/// preempted for running too long.
const PREEMPTED_PERIOD: u32 = 61;

/// What `finish` says of a panic in the destructor of what an ended
/// process's control block held.
const DROPPED_CONTENTS: &str = "a process's extension or late reply, as it was dropped";

/// How long an idle worker leaves a victim's lone task alone (see
/// `WorkerLoop::search`).
const LONE_TASK_GRACE: std::time::Duration = std::time::Duration::from_micros(5);

/// What a process's code came to: an end, or (a resumable body) a
/// hibernation.
enum Ran {
    Ended(ExitReason),
    Hibernate(Box<Sleeper>),
}

/// The coroutine body shared by every process: one run of a process's
/// closure, or one activation of a resumable body (module `hibernation`).
///
/// Two nets catch panics: the inner one the process's own code (its exit
/// reason becomes `Panic`), the outer one the destructors of the messages
/// it left unread, which run when its mailbox closes. Nothing a process
/// does can unwind into the worker, except the runtime's own forced
/// unwind, which is let through.
fn process_body(
    pcb: BorrowedPcb,
    start: Start,
) -> impl FnOnce(&Yielder<u32, Suspend>, u32) -> Finished {
    move |yielder, budget| {
        let mut left = 0;
        let mut hibernating = None;
        let run = catch_unwind(AssertUnwindSafe(|| {
            let mut start = start;
            let resumed = matches!(&start, Start::Resume(sleeper) if sleeper.has_run());
            let sleeper = match &mut start {
                Start::Resume(sleeper) => Some(&mut **sleeper),
                Start::Entry(_) => None,
            };
            let ctx = ProcessCtx::new(&pcb, yielder, budget, sleeper);
            ctx.enter();
            let first_check = &ctx;
            // The closure or sleeper moves in: an unwind from the first
            // check point drops it inside the process.
            let (reason, payload) = match catch_unwind(AssertUnwindSafe(move || {
                let timed_out = match &mut start {
                    Start::Resume(sleeper) if resumed => first_check.woke_from_hibernation(sleeper),
                    _ => false,
                };
                // A signal that came before the first run (or while it
                // hibernated) acts before any of the process's code.
                first_check.check_signals();
                match start {
                    Start::Entry(entry) => Ran::Ended(entry.run()),
                    Start::Resume(sleeper) => activate(first_check, sleeper, timed_out),
                }
            })) {
                Ok(Ran::Ended(reason)) => (reason, None),
                Ok(Ran::Hibernate(mut sleeper)) => {
                    left = ctx.budget();
                    ctx.park_into(&mut sleeper);
                    hibernating = Some(sleeper);
                    return None;
                }
                Err(payload) => {
                    let reason = if payload.is::<SignalUnwind>() {
                        // An exit signal: its reason is recorded.
                        // SAFETY: the process's own body, on the thread
                        // running it, before it exits.
                        unsafe { pcb.recorded_exit_reason() }.unwrap_or(ExitReason::Killed)
                    } else if ctx.is_stack_panic(&*payload) {
                        ExitReason::StackOverflow
                    } else {
                        ExitReason::from_panic(&*payload)
                    };
                    if let Some(report) = ctx.take_crash_report() {
                        // Kept by the panic hook for the subscriber (module
                        // `report`): sent now, outside the hook.
                        crate::report::report_process(
                            crate::report::Severity::Error,
                            "crash",
                            &pcb,
                            format_args!("{report}"),
                        );
                    }
                    (reason, Some(payload))
                }
            };
            ctx.mark_ended();
            // SAFETY: the process's own body, on the thread running it, before it exits.
            unsafe { pcb.set_exit_reason(reason.clone()) };
            // The payload's destructor is user code, run as the unread
            // messages' are: after the reason is settled, so that it cannot
            // change it (by `exit_self`, or a kill while it blocks).
            if let Some(payload) = payload {
                drop_payload(payload);
            }
            // Unread messages are dropped while the context still stands,
            // so their destructors may call into the runtime, and block:
            // that is part of the process (a kill or shutdown still acts).
            ctx.drop_unread();
            ctx.end_cleanup();
            ctx.publish_reductions();
            left = ctx.budget();
            set_current(ptr::null());
            Some(reason)
        }));
        let reason = match run {
            Ok(Some(reason)) => reason,
            Ok(None) => {
                return Finished {
                    reason: ExitReason::Normal,
                    budget: left,
                    trapped: false,
                    hibernate: hibernating,
                };
            }
            Err(payload) => {
                crate::report::report_process(
                    crate::report::Severity::Error,
                    "crash",
                    &pcb,
                    format_args!(
                        "process {} panicked as it ended: {}",
                        pcb.id,
                        ExitReason::from_panic(&*payload)
                    ),
                );
                // SAFETY: the process's own body, on the thread running
                // it, before it exits.
                let reason = unsafe { pcb.recorded_exit_reason() }
                    .unwrap_or_else(|| ExitReason::from_panic(&*payload));
                drop_payload(payload);
                reason
            }
        };
        Finished {
            reason,
            budget: left,
            trapped: false,
            hibernate: None,
        }
    }
}

/// One activation of a resumable body: resumed until it ends, or asks to
/// hibernate with nothing left to take (a message that arrived since it
/// looked, or a deadline already past, resumes it at once).
fn activate(ctx: &ProcessCtx<'_>, mut sleeper: Box<Sleeper>, mut timed_out: bool) -> Ran {
    loop {
        match sleeper.body.resume(timed_out) {
            // The body drops here, inside its process, as a closure's
            // captures do when it returns.
            Activation::Exit(reason) => return Ran::Ended(reason),
            Activation::Hibernate { until } => {
                match ctx.announce_hibernation(until, &mut sleeper) {
                    Some(deadline_passed) => timed_out = deadline_passed,
                    None => return Ran::Hibernate(sleeper),
                }
            }
        }
    }
}

/// Runs a settled process until it hands its worker back: the switch
/// itself, with the bookkeeping around it that every resume needs.
#[inline(always)]
fn step(
    core: &WorkerCore,
    exit_on_overflow: bool,
    settled: &mut Settled,
    budget: u32,
) -> CoroutineResult<Suspend, Finished> {
    settled.pcb.state.set_running();
    if exit_on_overflow {
        // For the stack-overflow handler (module `overflow`).
        core.trap.set(Some(settled.coroutine.trap_handler()));
    }
    if settled.units != 0 {
        crate::process::unwind_units::put_units(settled.units);
    }
    core.in_process.set(true);
    let result = settled.coroutine.resume(budget);
    core.in_process.set(false);
    clear_current_in_run_loop();
    // Between processes this thread's panic count is zero: what is left
    // is the suspended process's own (module `unwind_units`).
    settled.units = if std::thread::panicking() {
        crate::process::unwind_units::take_units()
    } else {
        0
    };
    result
}

/// The run loop of one worker thread, and what only it touches.
pub(crate) struct WorkerLoop {
    /// Dropped first (fields drop in order): the coroutines' destructors
    /// must find the core still there.
    slab: Slab<Settled>,
    /// Hibernated processes that last ran here (module `hibernation`),
    /// keyed with the `HIBERNATED` bit clear.
    sleepers: Slab<Launch>,
    core: Box<WorkerCore>,
    /// Never-run processes pinned here; they take a stack when they run.
    pinned: VecDeque<Launch>,
    /// Woken hibernated processes that could not get a stack: they wait
    /// for one here (retried now and then), as a stackful process would
    /// have kept its own; never ended unrun, except at shutdown.
    starved: VecDeque<Launch>,
    /// The wait for a stack was reported, and no stack was had since.
    starving: bool,
    inbox: Receiver<Delivery>,
    /// Budget the last process left for the LIFO slot's.
    carry: u32,
    /// Settled processes that gave up a slice of their own without
    /// waiting (module docs: `preempted`).
    preempted: VecDeque<usize>,
    /// `next_job`'s calls: the period of housekeeping and fair picks.
    picks: u32,
    searching: bool,
    /// `OnStackOverflow::ExitProcess`: keep each resumed process's trap
    /// handler in the core.
    exit_on_overflow: bool,
    /// Shutting down (`teardown`): migratable processes stay here.
    draining: bool,
    /// Since when this worker has seen a victim's lone task (see
    /// `search`).
    lone_since: Option<Instant>,
    rng: u64,
    fired: Vec<TimerEvent>,
    /// `flush_moves`'s spare buffer.
    moving: Vec<usize>,
    /// The poller this worker parks in (module `io::driver`).
    driver: Driver,
}

impl WorkerLoop {
    pub(crate) fn new(
        index: usize,
        shared: Arc<Shared>,
        fresh: Worker<Task>,
        stacks: Arc<crate::process::stack::StackAllocator>,
        driver: Driver,
    ) -> Self {
        let anchor = Arc::new(Anchor {
            shared: Arc::clone(&shared),
        });
        let inbox = Receiver::new(Arc::clone(&shared.remotes[index].inbox));
        let stacks = RefCell::new(StackPool::new(stacks));
        let exit_on_overflow =
            shared.config.on_stack_overflow == crate::process::stack::OnStackOverflow::ExitProcess;
        let core = Box::new(WorkerCore {
            index,
            shared,
            anchor,
            fresh,
            lifo: Cell::new(None),
            runnable: RefCell::new(VecDeque::new()),
            to_move: RefCell::new(Vec::new()),
            timers: RefCell::new(TimerWheel::new(Instant::now())),
            in_process: Cell::new(false),
            abandoned_debts: Cell::new(Vec::new()),
            ids: Cell::new((0, 0)),
            credit: Cell::new(0),
            trap: Cell::new(None),
            stacks,
            spare_pcbs: RefCell::new(Vec::new()),
            spare_debt: Cell::new(None),
        });
        Self {
            slab: Slab::new(),
            sleepers: Slab::new(),
            core,
            pinned: VecDeque::new(),
            starved: VecDeque::new(),
            starving: false,
            inbox,
            carry: 0,
            preempted: VecDeque::new(),
            picks: 0,
            searching: false,
            exit_on_overflow,
            draining: false,
            lone_since: None,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1),
            fired: Vec::new(),
            moving: Vec::new(),
            driver,
        }
    }

    /// Runs until shutdown, then tears down (module docs).
    pub(crate) fn run(mut self) {
        /// A panic escaping the run loop is a runtime bug; unwinding
        /// further would drop coroutines with the thread-local pointers
        /// dangling. Abort, saying so.
        struct AbortOnUnwind;
        impl Drop for AbortOnUnwind {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let _ = writeln!(
                        std::io::stderr(),
                        "ferrotp: a worker's run loop panicked (a runtime bug); aborting"
                    );
                    std::process::abort();
                }
            }
        }
        let _abort = AbortOnUnwind;
        // The stack-overflow handler runs on it (module `overflow`).
        let _alt_stack = crate::process::overflow::AltStack::ensure();
        let shared = Arc::clone(&self.core.shared);
        if shared.pinned {
            pin_to(shared.places[self.core.index].cpu, self.core.index);
        }
        set_worker(ptr::from_ref(&*self.core));
        while !shared.shutdown.load(Ordering::Acquire) {
            // The hot case first: the process just woken by the one that
            // ran runs on the rest of its budget. Nothing to note: the
            // worker was not searching, it has just run a process.
            if let Some(key) = self.lifo_key() {
                if key & HIBERNATED == 0 {
                    self.resume(key, self.carry);
                } else {
                    self.run_job(Job::Settled {
                        key,
                        budget: self.carry,
                    });
                }
                continue;
            }
            if let Some(key) = self.quick_pick() {
                self.resume(key, self.shared().config.reductions);
                continue;
            }
            if let Some(job) = self.next_job().or_else(|| self.search()) {
                self.found_work();
                self.run_job(job);
                continue;
            }
            if let Some(job) = self.spin() {
                self.found_work();
                self.run_job(job);
                continue;
            }
            self.park();
        }
        self.teardown();
        set_worker(ptr::null());
    }

    fn shared(&self) -> &Shared {
        &self.core.shared
    }

    /// The hot case, inlined into the run loop: a process woken into the
    /// LIFO slot runs on the rest of its waker's budget (`carry`).
    #[inline(always)]
    fn lifo_key(&mut self) -> Option<usize> {
        if self.carry == 0 {
            return None;
        }
        self.core.lifo.take()
    }

    /// The usual pick after a process yields or waits, inlined into the
    /// run loop: the pick `next_job` would make, when it would make it
    /// without anything else to do first (no housekeeping due, no LIFO
    /// process to put back, no pinned newcomer, no preempted process's
    /// turn, `runnable`'s turn or an empty `fresh`), and the process is
    /// settled: `runnable`'s oldest, or with nothing else local ready,
    /// `preempted`'s. Counts as a pick.
    /// Nothing to note: the worker was not searching, it has just run a
    /// process.
    #[inline(always)]
    fn quick_pick(&mut self) -> Option<usize> {
        let picks = self.picks.wrapping_add(1);
        let core = &*self.core;
        if picks.is_multiple_of(8)
            || core.lifo.get().is_some()
            || !self.pinned.is_empty()
            || !(picks.is_multiple_of(2) || core.fresh.is_empty())
        {
            return None;
        }
        if picks.is_multiple_of(PREEMPTED_PERIOD) && !self.preempted.is_empty() {
            return None;
        }
        let mut runnable = core.runnable.borrow_mut();
        let key = match runnable.front() {
            Some(&key) if key & HIBERNATED != 0 => return None,
            Some(&key) => {
                runnable.pop_front();
                key
            }
            // Nothing else local is ready: the oldest preempted process
            // (settled: only `resume` puts processes there).
            None if core.fresh.is_empty() => {
                drop(runnable);
                self.preempted.pop_front()?
            }
            None => return None,
        };
        self.picks = picks;
        self.carry = 0;
        Some(key)
    }

    /// [`WorkerLoop::lifo_key`] as a job.
    fn lifo_job(&mut self) -> Option<Job> {
        let key = self.lifo_key()?;
        Some(Job::Settled {
            key,
            budget: self.carry,
        })
    }

    #[inline(never)]
    fn next_job(&mut self) -> Option<Job> {
        let core = &*self.core;
        if let Some(key) = core.lifo.take() {
            // Out of carried budget (`lifo_job` takes it otherwise): to
            // the back of the queue (a hibernated one: launched, onto the
            // stealable deque).
            if key & HIBERNATED != 0 {
                core.to_move.borrow_mut().push(key);
            } else {
                core.runnable.borrow_mut().push_back(key);
            }
        }
        self.carry = 0;
        // Housekeeping every 8th pick (and whenever the local queues are
        // empty, below): each check costs a few nanoseconds, which a
        // switch between processes should not pay every time.
        // Counted by this function's calls alone (a count that `lifo_job`
        // moved too let a cycle of LIFO runs and picks whose length is a
        // multiple of 8 never meet a multiple of 8 here, and the worker would
        // never fire its timers nor drain its inbox: found by the attack
        // pass, two actors bouncing a message starved a sleeping process
        // for ever).
        self.picks = self.picks.wrapping_add(1);
        if self.picks.is_multiple_of(8) {
            self.housekeeping();
            if self.picks.is_multiple_of(61 * 8)
                && let Some(job) = self.fair_pick()
            {
                return Some(job);
            }
        }
        if !self.preempted.is_empty()
            && self.picks.is_multiple_of(PREEMPTED_PERIOD)
            && let Some(job) = self.preempted_pick()
        {
            return Some(job);
        }
        if let Some(job) = self.local_pick() {
            return Some(job);
        }
        if let Some(job) = self.preempted_pick() {
            return Some(job);
        }
        self.housekeeping();
        if let Some(job) = self.local_pick() {
            return Some(job);
        }
        let core = &*self.core;
        steal_into(&core.shared.injector, &core.fresh).map(Job::Task)
    }

    /// Remote wake-ups, moves of migratable processes, due timers; now and
    /// then, another try for the processes waiting for a stack.
    fn housekeeping(&mut self) {
        self.drain_inbox();
        if !self.starved.is_empty() && self.picks.is_multiple_of(64) {
            self.pinned.extend(self.starved.drain(..));
        }
        let dry = self.core.runnable.borrow().is_empty();
        if self.picks.is_multiple_of(16) || dry {
            self.fire_timers();
        }
        // I/O events, only while sources are registered here: whenever the
        // worker runs dry, and every 16th pick of a busy one (every 2nd
        // housekeeping), so that a process woken by an event waits behind
        // no more than that, even beside processes that spend whole
        // slices on I/O of their own (the attack suite's flood: with every
        // 64th pick, an echo on the same worker took 900 ms).
        if self.driver.has_sources() && (dry || self.picks.is_multiple_of(16)) {
            self.driver.poll_now();
        }
        self.flush_moves();
    }

    /// The local queues: pinned newcomers, then settled and fresh
    /// processes, alternating which goes first.
    #[inline]
    fn local_pick(&mut self) -> Option<Job> {
        if let Some(launch) = self.pinned.pop_front() {
            return Some(Job::Task(Task::Fresh(launch)));
        }
        let core = &*self.core;
        let budget = core.shared.config.reductions;
        let from_runnable = || {
            core.runnable
                .borrow_mut()
                .pop_front()
                .map(|key| Job::Settled { key, budget })
        };
        // Looked at before popping: crossbeam's `pop` fences (`SeqCst`)
        // even on an empty deque, and only this worker pushes, so an empty
        // look is not stale in the way that matters (thieves only take).
        let from_fresh = || {
            if core.fresh.is_empty() {
                return None;
            }
            core.fresh.pop().map(Job::Task)
        };
        // By `picks` (see `next_job`): a count that LIFO runs moved too
        // could keep its parity here the same for ever, and a process in
        // `fresh` would wait behind `runnable` for ever.
        if self.picks.is_multiple_of(2) {
            from_runnable().or_else(from_fresh)
        } else {
            from_fresh().or_else(from_runnable)
        }
    }

    /// The oldest preempted process, on a slice of its own.
    #[inline]
    fn preempted_pick(&mut self) -> Option<Job> {
        let key = self.preempted.pop_front()?;
        Some(self.own_slice(key))
    }

    /// A settled process's job on a slice of its own.
    fn own_slice(&self, key: usize) -> Job {
        Job::Settled {
            key,
            budget: self.shared().config.reductions,
        }
    }

    /// Now and then, the queues that the usual order could starve: the
    /// injector, the oldest settled process, the oldest fresh one.
    #[cold]
    fn fair_pick(&mut self) -> Option<Job> {
        let core = &*self.core;
        if let Some(task) = steal_into(&core.shared.injector, &core.fresh) {
            return Some(Job::Task(task));
        }
        if let Some(key) = core.runnable.borrow_mut().pop_front() {
            let budget = core.shared.config.reductions;
            return Some(Job::Settled { key, budget });
        }
        steal_one(&core.shared.stealers[core.index]).map(Job::Task)
    }

    fn drain_inbox(&mut self) {
        let mut took = false;
        while let Some(delivery) = self.inbox.pop() {
            took = true;
            match delivery {
                Delivery::Woken(pcb) => {
                    let (home, key) = pcb.place();
                    debug_assert_eq!(home, self.core.index);
                    self.requeue(key);
                }
                Delivery::Pinned(launch) => self.pinned.push_back(launch),
            }
        }
        if took {
            // For spinning siblings (`spin`): only this thread writes it.
            self.shared().remotes[self.core.index]
                .taken
                .store(self.inbox.taken(), Ordering::Relaxed);
        }
    }

    /// A settled process is runnable again: to the back of `runnable`, or,
    /// if it may migrate, out of the slab into the stealable deque. A
    /// hibernated one is launched (`launch_woken`).
    fn requeue(&mut self, key: usize) {
        if key & HIBERNATED != 0 {
            let launch = self.sleepers.remove(key & !HIBERNATED);
            self.launch_woken(launch);
        } else if self.slab[key].pcb.migratable && !self.draining {
            let settled = self.slab.remove(key);
            self.core.push_task(Task::Moving(Migrating(settled)));
        } else {
            self.core.runnable.borrow_mut().push_back(key);
        }
    }

    #[inline(always)]
    fn run_job(&mut self, job: Job) {
        match job {
            Job::Settled { key, budget } if key & HIBERNATED != 0 => {
                // Woken from the LIFO slot (or bumped to `runnable`):
                // launched here, at once.
                let launch = self.sleepers.remove(key & !HIBERNATED);
                self.start_task(Task::Fresh(launch), budget);
            }
            Job::Settled { key, budget } => self.resume(key, budget),
            Job::Task(task) => self.start_task(task, self.shared().config.reductions),
        }
    }

    /// Settles a task here and runs it on `budget`.
    #[inline(always)]
    fn start_task(&mut self, task: Task, budget: u32) {
        if let Some(key) = self.settle(task) {
            self.resume(key, budget);
        }
    }

    /// Migratable processes woken on this thread go to the stealable
    /// deque (only the run loop may take them out of the slab).
    fn flush_moves(&mut self) {
        if self.core.to_move.borrow().is_empty() {
            return;
        }
        // Swapped with a spare, so that neither loses its capacity.
        let mut moved = std::mem::take(&mut self.moving);
        std::mem::swap(&mut moved, &mut *self.core.to_move.borrow_mut());
        for key in moved.drain(..) {
            self.requeue(key);
        }
        self.moving = moved;
    }

    /// Gives a stealable task a place in this worker's slab (a fresh
    /// process gets its stack and coroutine here).
    fn settle(&mut self, task: Task) -> Option<usize> {
        let settled = match task {
            Task::Moving(Migrating(settled)) => settled,
            Task::Fresh(launch) => {
                let taken = self.core.stacks.borrow_mut().take(launch.pcb().stack_size);
                let stack = match taken {
                    Ok(stack) => stack,
                    Err(error) => {
                        self.fail_start(launch, &error);
                        return None;
                    }
                };
                self.shared().stack_error_cleared();
                self.starving = false;
                let Launch { pcb, start } = launch;
                pcb.set_guard(stack.guard().start);
                // The body's borrowed handle lives in the coroutine, which
                // `Settled` drops (or runs to its end) before it drops `pcb`.
                // SAFETY: so `pcb`, a counted `Arc`, outlives the handle.
                let borrowed = unsafe { BorrowedPcb::new(&pcb) };
                Settled {
                    coroutine: Coroutine::with_stack(stack, process_body(borrowed, start)),
                    pcb,
                    units: 0,
                }
            }
        };
        let key = self.slab.insert(settled);
        self.slab[key].pcb.settle(self.core.index, key);
        Some(key)
    }

    /// A fresh process that could not get a stack ends at once. A woken
    /// hibernated one waits for a stack in `starved` instead (it must end
    /// by running: module `hibernation`), unless the worker is shutting
    /// down.
    #[cold]
    fn fail_start(&mut self, launch: Launch, error: &crate::process::stack::StackError) {
        let pcb = Arc::clone(launch.pcb());
        self.shared().record_stack_error(error);
        if launch.has_run() && !self.draining {
            if !self.starving {
                self.starving = true;
                crate::report::report_process(
                    crate::report::Severity::Warning,
                    "runtime",
                    &pcb,
                    format_args!(
                        "hibernated process {} was woken but could not get a stack ({error}); \
                         it waits for one",
                        pcb.id
                    ),
                );
            }
            self.starved.push_back(launch);
            return;
        }
        crate::report::report_process(
            crate::report::Severity::Error,
            "crash",
            &pcb,
            format_args!("process {} could not start: {error}", pcb.id),
        );
        let reason = ExitReason::custom(format!("system_limit: {error}"));
        // A hibernated one only while shutting down: it cannot run to its
        // end, so it ends here, its body and messages dropped outside any
        // process.
        self.discard_fresh(launch, reason);
    }

    #[inline(always)]
    fn resume(&mut self, key: usize, budget: u32) {
        let settled = &mut self.slab[key];
        // Looked up once for both sides of the switch: the run loop's own
        // core, which no process can take away meanwhile.
        let stats = self.core.stats();
        // For the long-schedule watchdog: which process holds the worker.
        stats
            .running
            .store(settled.pcb.id.number() + 1, Ordering::Relaxed);
        let result = step(&self.core, self.exit_on_overflow, settled, budget);
        stats.running.store(0, Ordering::Relaxed);
        stats.switches.bump();
        match result {
            CoroutineResult::Yield(why @ (Suspend::Yield | Suspend::Spent)) => {
                settled.pcb.state.set_scheduled();
                // `carry` is still what this run started with: non-zero
                // only for a run from the LIFO slot (`next_job` clears it
                // before it picks from a queue).
                let carried = self.carry != 0;
                self.carry = 0;
                if carried || matches!(why, Suspend::Yield) {
                    // The end of a LIFO run (processes waking each other
                    // spent the slice they shared), or a `yield_now`: to
                    // the back of `runnable`, as in BEAM (`erlang:yield`),
                    // the one in the LIFO slot going there too. Behind
                    // the preempted processes, a process that yields after
                    // a little work waited 61 picks for each yield beside
                    // processes that message each other (the attack pass:
                    // 3,000 yields took 18 s beside two ping-pong pairs).
                    if settled.pcb.migratable {
                        self.requeue(key);
                    } else {
                        self.core.runnable.borrow_mut().push_back(key);
                    }
                } else if settled.pcb.migratable && !self.draining {
                    // Out to the stealable deque: any worker may run it.
                    self.requeue(key);
                } else {
                    // Spent its own slice: behind the processes that wait
                    // for something (module docs: `preempted`).
                    self.preempted.push_back(key);
                }
            }
            CoroutineResult::Yield(Suspend::Wait(left)) => {
                self.carry = left.saturating_sub(1);
                if !settled.pcb.state.suspended_waiting() {
                    self.requeue(key);
                }
            }
            CoroutineResult::Return(mut finished) => {
                self.carry = finished.budget.saturating_sub(1);
                match finished.hibernate.take() {
                    Some(sleeper) => self.hibernate(key, sleeper),
                    None => self.finish(key, finished),
                }
            }
            CoroutineResult::Yield(Suspend::Abandon) => {
                self.carry = 0;
                let settled = self.slab.remove(key);
                let debts = self.core.abandoned_debts.take();
                self.abandon(settled, debts);
            }
        }
    }

    /// A woken hibernated process gets its next activation: onto the
    /// stealable deque, so that any worker may run it; onto this worker's
    /// own queue if it was spawned pinned here, or while shutting down
    /// (`discard_unstarted` runs it to its end).
    fn launch_woken(&mut self, launch: Launch) {
        if launch.pinned() || self.draining {
            self.pinned.push_back(launch);
        } else if self.core.runnable.borrow().is_empty() {
            // Nothing else queued here: this worker runs it next, and an
            // idle one need not be woken to take it (it may still steal
            // it, searching).
            self.core.fresh.push(Task::Fresh(launch));
        } else {
            self.core.push_task(Task::Fresh(launch));
        }
    }

    /// A resumable body's activation ended in a hibernation (module
    /// `hibernation`): its stack goes back to the pool, the sleeper into
    /// `sleepers`, its place is published, and then the wait (woken
    /// meanwhile: launched at once).
    fn hibernate(&mut self, key: usize, sleeper: Box<Sleeper>) {
        let Settled {
            coroutine,
            pcb,
            units,
        } = self.slab.remove(key);
        debug_assert_eq!(units, 0, "a body hibernates outside any unwind");
        self.core.stacks.borrow_mut().give(coroutine.into_stack());
        let entry = self.sleepers.vacant_entry();
        let slot = entry.key() | HIBERNATED;
        pcb.settle(self.core.index, slot);
        let state_of = Arc::clone(&pcb);
        entry.insert(Launch::new(pcb, Start::Resume(sleeper)));
        // After the place is stored: its Release publishes the place, and
        // the sleeper in the slab, to the waker that takes it out of
        // WAITING (module `run_state`).
        if !state_of.state.suspended_waiting() {
            self.requeue(slot);
        }
    }

    fn finish(&mut self, key: usize, finished: Finished) {
        let settled = self.slab.remove(key);
        let stack = settled.coroutine.into_stack();
        let reason = finished.reason;
        if finished.trapped {
            // Ended by the overflow handler (module `overflow`): its stack
            // was discarded without running destructors, so something may
            // still point into it (a scoped thread it lent a local to):
            // quarantined. Its receiver went with it: later sends become
            // dead letters; what was queued is leaked.
            stack.quarantine();
            settled.pcb.mailbox.close_abandoned();
        } else {
            self.core.stacks.borrow_mut().give(stack);
        }
        // SAFETY: this worker owns the settled process, which just returned.
        unsafe { settled.pcb.set_exited(reason) };
        self.count_exit(&settled.pcb);
        self.core.return_slot();
        let mut pcb = settled.pcb;
        // Held by nothing else (no pid, timer, hook or record): blanked
        // here and kept for the next spawn (a trapped one's mailbox was
        // closed abandoned: it is left to drop as it did).
        let room = !finished.trapped && self.core.spare_pcbs.borrow().len() < SPARE_PCBS;
        // What the block held is dropped here, where its last drop was,
        // with no borrow of the worker's held. Only an extension, or a
        // late reply left in its reply slot, is user code as it drops: it
        // may spawn (taking a spare block), or panic (contained and
        // reported: the worker goes on). Without them, no containment.
        let runs_user_code = |pcb: &Pcb| pcb.extras.is_some() || pcb.reply.get().is_some();
        match Arc::get_mut(&mut pcb) {
            Some(spare) if room => {
                let old = spare.blank(&self.core.anchor);
                self.core.spare_pcbs.borrow_mut().push(pcb);
                if runs_user_code(&old) {
                    contain(DROPPED_CONTENTS, move || drop(old));
                }
            }
            _ => {
                if runs_user_code(&pcb) {
                    contain(DROPPED_CONTENTS, move || drop(pcb));
                }
            }
        }
    }

    /// The last searcher that finds work wakes another worker to search
    /// on (module `idle`).
    fn found_work(&mut self) {
        self.lone_since = None;
        if self.searching {
            self.searching = false;
            if self.shared().idle.transition_from_searching() {
                self.shared().notify_one();
            }
        }
    }

    fn search(&mut self) -> Option<Job> {
        if !self.searching {
            if !self.shared().idle.transition_to_searching() {
                return None;
            }
            self.searching = true;
        }
        // A victim's lone task is probably the child its running process
        // just spawned, which the victim will run as soon as that process
        // suspends, on a warm cache; taking it at once made a chain of
        // spawns hop between workers at every link (2.4x slower). Go's
        // scheduler gives a victim's `runnext` the same few microseconds of
        // grace. A lone task still there after them is fair game: a parent
        // that computes, or blocks its thread, cannot hold its child back.
        // The grace runs while lone tasks stay in sight: seeing none resets
        // it, so a long busy-wait does not end up stealing every child.
        let take_lone = self
            .lone_since
            .is_some_and(|since| since.elapsed() >= LONE_TASK_GRACE);
        let mut saw_lone = false;
        let core = &*self.core;
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        // Look at one victim: steal half its deque, unless it holds only a
        // lone task still in its grace.
        let look = |victim: usize, saw_lone: &mut bool| -> Option<Task> {
            let stealer = &core.shared.stealers[victim];
            if !take_lone && stealer.len() < 2 {
                *saw_lone |= !stealer.is_empty();
                return None;
            }
            let task = steal_into(stealer, &core.fresh)?;
            let stats = core.stats();
            stats.steals.bump();
            if core.shared.places[victim].node == core.shared.places[core.index].node {
                stats.local_steals.bump();
            }
            Some(task)
        };
        let order = &core.shared.steal_order;
        if order.workers_by_node.len() == 1 {
            // One node (the usual machine): one tier of every other worker.
            let victims = core.shared.stealers.len();
            let start = (self.rng % victims as u64) as usize;
            for offset in 0..victims {
                let victim = (start + offset) % victims;
                if victim != core.index
                    && let Some(task) = look(victim, &mut saw_lone)
                {
                    return Some(Job::Task(task));
                }
            }
        } else {
            // Nearest tier first (module `placement`); a random start
            // within each tier.
            for tier in order.of(core.index) {
                let start = (self.rng % tier.len() as u64) as usize;
                for offset in 0..tier.len() {
                    let victim = tier[(start + offset) % tier.len()];
                    if victim != core.index
                        && let Some(task) = look(victim, &mut saw_lone)
                    {
                        return Some(Job::Task(task));
                    }
                }
            }
        }
        if saw_lone {
            self.lone_since.get_or_insert_with(Instant::now);
        } else {
            self.lone_since = None;
        }
        let core = &*self.core;
        steal_into(&core.shared.injector, &core.fresh).map(Job::Task)
    }

    /// The busy-wait before parking (BEAM's `+sbwt`).
    ///
    /// Skipped while sources are registered with this worker's poller,
    /// as tokio's workers do not spin: a spin catches a wake-up from
    /// another worker without a system call, but an I/O event reaches the
    /// worker only through its poller, so a serving worker would burn a
    /// core that the program's peers (its clients, on a shared machine)
    /// could use. Measured on the key-value example under
    /// `redis-benchmark` on 2 cores: the 100 µs spin took twice the user
    /// time per request and cost a third of the throughput. An adaptive
    /// rule (spin again after a park that a peer's wake-up ended) did not
    /// help: there, most parks end that way.
    ///
    /// Cut short when a sibling worker that last ran on this CPU is
    /// runnable, or has been woken ([`WorkerLoop::sibling_waits_here`]):
    /// that sibling is waiting for this very CPU, which the spin would
    /// hold for the whole busy-wait.
    /// On a loaded 2-vCPU VM the kernel put both workers of a cross-worker
    /// ping-pong on one vCPU (the other busy with another program), and
    /// each message waited out its sender's spin: 100 µs a hop, 200 µs a
    /// round trip instead of 1.4 µs (benchmark W2, `ferrotp_cross_worker`),
    /// with one park per worker per round trip. Parking at once hands the
    /// CPU over (as a busy-wait of zero does: 2 µs a round trip on one
    /// CPU). `sched_yield` instead would have handed it over too, but to
    /// any other program on the CPU as well: with a `yes` loop on one
    /// worker's CPU (its partner alone on the other), yielding spinners
    /// took 4 ms a round trip, as the kernel ran the loop for a whole slice
    /// each time.
    fn spin(&mut self) -> Option<Job> {
        let busy_wait = self.shared().config.busy_wait;
        if busy_wait.is_zero() || self.driver.has_sources() {
            return None;
        }
        let until = Instant::now() + busy_wait;
        // Pauses between looks, doubling up to 64: PAUSE takes tens of
        // cycles on recent AMD and over a hundred on recent Intel parts, so
        // a fixed 64 delayed noticing a cross-worker wake-up (a cross-worker
        // ping-pong round trip cost 2.1 µs; with this backoff, 0.9 µs),
        // while looking too often makes the lines of the busy worker's
        // queues bounce for nothing.
        let mut pauses = 1;
        loop {
            for _ in 0..pauses {
                std::hint::spin_loop();
            }
            pauses = (pauses * 2).min(64);
            let job = match self.lifo_job() {
                Some(job) => Some(job),
                None => self.next_job().or_else(|| self.search()),
            };
            if let Some(job) = job {
                return Some(job);
            }
            if self.sibling_waits_here() {
                self.core.stats().spins_cut.bump();
                return None;
            }
            if Instant::now() >= until || self.shared().shutdown.load(Ordering::Relaxed) {
                return None;
            }
        }
    }

    /// Whether a sibling worker waits for this thread's CPU: it last
    /// busy-waited on the CPU this thread is on, and it is not parked (so,
    /// as this thread holds that CPU, it is runnable there, preempted),
    /// or it is parked with deliveries in its inbox that it has not taken
    /// (so it has been woken, or is about to be, onto that CPU's run
    /// queue, where the kernel puts a thread it wakes when it can). Also
    /// records this thread's CPU for the siblings. A hint from relaxed
    /// snapshots: a wrong answer only parks early or spins on, as a worker
    /// could anyway.
    fn sibling_waits_here(&self) -> bool {
        let Some(cpu) = current_cpu() else {
            return false;
        };
        let shared = self.shared();
        let me = self.core.index;
        let mine = &shared.remotes[me].presence.cpu;
        if mine.load(Ordering::Relaxed) != cpu {
            mine.store(cpu, Ordering::Relaxed);
        }
        shared.remotes.iter().enumerate().any(|(i, remote)| {
            i != me
                && remote.presence.cpu.load(Ordering::Relaxed) == cpu
                && (!remote.presence.parked.load(Ordering::Relaxed) || remote.has_untaken())
        })
    }

    /// Parks this thread (the protocol of module `idle`).
    fn park(&mut self) {
        // Trim idle stacks while still counted as awake: once registered as
        // parked, a notifier could pick this worker and wait for the trim.
        self.core.stacks.borrow_mut().trim();
        let shared = Arc::clone(&self.core.shared);
        let me = self.core.index;
        shared.idle.transition_to_parked(me, self.searching);
        self.searching = false;
        Idle::recheck_fence();
        if self.work_visible() {
            self.unparked();
            return;
        }
        match self.inbox.announce_wait() {
            Wait::Sleep => {}
            Wait::Ready | Wait::Closed => {
                self.unparked();
                return;
            }
        }
        self.core.stats().parks.bump();
        self.return_credit();
        let next_deadline = self.core.timers.borrow().next_deadline();
        // Processes waiting for a stack are tried again after a while.
        let retry = (!self.starved.is_empty())
            .then(|| Instant::now() + std::time::Duration::from_millis(1));
        let timeout = next_deadline
            .into_iter()
            .chain(retry)
            .min()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        // The poller is the park (module `io::driver`): an I/O event, the
        // next timer and an unpark from another thread all end it.
        let parked = &shared.remotes[me].presence.parked;
        parked.store(true, Ordering::Relaxed);
        self.driver.park(timeout);
        parked.store(false, Ordering::Relaxed);
        let _ = self.inbox.cancel_wait();
        self.unparked();
        self.fire_timers();
        self.pinned.extend(self.starved.drain(..));
    }

    /// Gives the unused process slots back to the runtime's limit.
    fn return_credit(&self) {
        let credit = self.core.credit.replace(0);
        if credit > 0 {
            self.shared().return_slots(credit);
        }
    }

    fn unparked(&mut self) {
        if self.shared().idle.transition_from_parked(self.core.index) {
            self.searching = true;
        }
    }

    /// The second look before parking.
    fn work_visible(&self) -> bool {
        let shared = self.shared();
        if shared.shutdown.load(Ordering::SeqCst) || !shared.injector.is_empty() {
            return true;
        }
        if !self.core.to_move.borrow().is_empty() || !self.pinned.is_empty() {
            return true;
        }
        let others = shared
            .stealers
            .iter()
            .enumerate()
            .any(|(i, s)| i != self.core.index && !s.is_empty());
        others
            || self
                .core
                .timers
                .borrow()
                .next_deadline()
                .is_some_and(|d| d <= Instant::now())
    }

    fn fire_timers(&mut self) {
        if self.core.timers.borrow().is_empty() {
            return;
        }
        self.core
            .timers
            .borrow_mut()
            .advance(Instant::now(), &mut self.fired);
        let mut fired = std::mem::take(&mut self.fired);
        for event in fired.drain(..) {
            match event {
                TimerEvent::Wake { pcb, seq } => {
                    // Module `timer_state`.
                    pcb.timer_fired.fire(seq);
                    pcb.wake();
                }
                TimerEvent::Send { to, message, state } => {
                    contain("a send_after message's delivery or drop", || {
                        if state.fire() {
                            deliver(&to, message);
                        }
                    });
                }
                TimerEvent::CleanupDeadline { pcb, expired } => {
                    // Release: pairs with the process's Acquire load; the
                    // wake-up after it makes the process look.
                    expired.store(true, Ordering::Release);
                    pcb.wake();
                }
            }
        }
        self.fired = fired;
    }

    /// Ends a never-run process without running it.
    fn discard_fresh(&mut self, launch: Launch, reason: ExitReason) {
        let pcb = Arc::clone(launch.pcb());
        // SAFETY: this worker holds the never-run process.
        unsafe { pcb.set_exit_reason(reason.clone()) };
        // Outside any process: no exit unwind to hand back.
        let _ = drop_never_run(launch);
        // SAFETY: this worker holds the never-run process.
        unsafe { pcb.set_exited(reason) };
        self.count_exit(&pcb);
        self.core.return_slot();
    }

    /// Shutdown, step 3: tells a settled process to end, the way an exit
    /// signal does (module `signal`): records `Shutdown`, raises
    /// `FORCED_EXIT` and wakes it, so that it unwinds from where it waits
    /// when it next runs.
    fn tell_to_end(&self, key: usize) {
        let settled = &self.slab[key];
        let pcb = &settled.pcb;
        // A process suspended in the middle of an unwind (its clean-up)
        // keeps its reason: a kill's was recorded, and a panic's is the
        // panic's (recorded as its body catches it), not a clean stop.
        if settled.units == 0 {
            // SAFETY: this worker owns the settled process, suspended in
            // its slab.
            unsafe { pcb.set_exit_reason(ExitReason::Shutdown) };
        }
        pcb.signals
            .raise(crate::lifecycle::signal_flags::SignalFlags::FORCED_EXIT);
        pcb.wake();
    }

    /// A process given up for good (a dying one that kept catching its
    /// unwind, one past its clean-up deadline): it is never resumed again.
    /// Its stack is quarantined (what is on it is not dropped, and the
    /// memory is never reused nor unmapped: a thread it lent a reference to
    /// may still write there), its mailbox closed without dropping what is
    /// queued, and what the runtime's frames on it owed is paid, the
    /// innermost first (module `debt`).
    fn abandon(&mut self, settled: Settled, debts: Vec<crate::process::coroutine::OwedByFrame>) {
        for debt in debts.into_iter().rev() {
            contain(
                "an abandoned process's debt (an exit hook of its set-up child)",
                || {
                    debt.pay();
                },
            );
        }
        // Its panic units, if it was unwinding, were taken off the thread
        // when it suspended, and are never put back.
        let Settled { coroutine, pcb, .. } = settled;
        // Leaking the coroutine leaks its `ProcessStack`, which holds its
        // slab's mapping: the quarantine of module `stack`.
        std::mem::forget(coroutine);
        pcb.mailbox.close_abandoned();
        // SAFETY: this worker owns the process, which will never run again.
        let reason = unsafe { pcb.recorded_exit_reason() }.unwrap_or(ExitReason::Killed);
        // SAFETY: as above.
        unsafe { pcb.set_exited(reason) };
        self.count_exit(&pcb);
        self.core.return_slot();
    }

    /// Counts an ended process under the reason it ended with (the first
    /// recorded, which may differ from what its body returned).
    fn count_exit(&self, pcb: &Pcb) {
        let stats = self.core.stats();
        pcb.with_exit_reason(|reason| stats.count_exit(reason.unwrap_or(&ExitReason::NoProc)));
    }

    /// Shutdown, steps 3 and 4 (module docs): never-run processes end
    /// unrun; every settled one is told to end, and the worker goes on
    /// running them (their clean-up may block, on messages from any
    /// worker, on timers) until none is left, each bounded by the
    /// clean-up deadline. Then it closes its inbox and drops its timers.
    fn teardown(&mut self) {
        self.draining = true;
        self.flush_moves();
        let keys: Vec<usize> = self.slab.iter().map(|(key, _)| key).collect();
        for key in keys {
            self.tell_to_end(key);
        }
        // Hibernated processes end by running (module `hibernation`): the
        // wake-up launches them, and `discard_unstarted` settles them here.
        let sleeping: Vec<Arc<Pcb>> = self
            .sleepers
            .iter()
            .map(|(_, launch)| Arc::clone(launch.pcb()))
            .collect();
        for pcb in sleeping {
            // SAFETY: this worker holds the hibernated process.
            unsafe { pcb.set_exit_reason(ExitReason::Shutdown) };
            pcb.signals
                .raise(crate::lifecycle::signal_flags::SignalFlags::FORCED_EXIT);
            pcb.wake();
        }
        loop {
            // Housekeeping first: the inbox may hold pinned newcomers. And
            // timers every round: clean-up may wait on them.
            self.housekeeping();
            self.fire_timers();
            self.discard_unstarted();
            let job = match self.lifo_job() {
                Some(job) => Some(job),
                None => {
                    // As `next_job`: what a process picked from a queue
                    // runs on is a slice of its own.
                    self.carry = 0;
                    self.local_pick().or_else(|| self.preempted_pick())
                }
            };
            match job {
                Some(job) => self.run_job(job),
                None if self.slab.is_empty()
                    && self.sleepers.is_empty()
                    && self.core.fresh.is_empty() =>
                {
                    break;
                }
                None => self.park_while_draining(),
            }
        }
        self.serve_io_until_peers_drained();
        let leftovers = self.inbox.close();
        for delivery in leftovers {
            if let Delivery::Pinned(launch) = delivery {
                self.discard_fresh(launch, ExitReason::Shutdown);
            }
        }
        let timers = std::mem::replace(
            &mut *self.core.timers.borrow_mut(),
            TimerWheel::new(Instant::now()),
        );
        contain("dropping pending timers' messages", move || drop(timers));
        self.return_credit();
    }

    /// While draining: never-run processes (in the deque, pinned here, or
    /// arriving in the inbox) end unrun with `Shutdown`; a migratable
    /// process on its way is settled here and told to end.
    fn discard_unstarted(&mut self) {
        let mut moving = Vec::new();
        let mut woken = Vec::new();
        while let Some(task) = self.core.fresh.pop() {
            match task {
                Task::Fresh(launch) if launch.has_run() => woken.push(launch),
                Task::Fresh(launch) => self.discard_fresh(launch, ExitReason::Shutdown),
                Task::Moving(migrating) => moving.push(migrating),
            }
        }
        self.pinned.extend(self.starved.drain(..));
        while let Some(launch) = self.pinned.pop_front() {
            if launch.has_run() {
                woken.push(launch);
            } else {
                self.discard_fresh(launch, ExitReason::Shutdown);
            }
        }
        // Runnable (they were queued), so `tell_to_end`'s wake-up does not
        // queue them: this does. A woken hibernated process gets a stack
        // here and ends by running (module `hibernation`).
        let mut keys = Vec::new();
        for Migrating(settled) in moving {
            let key = self.slab.insert(settled);
            self.slab[key].pcb.settle(self.core.index, key);
            keys.push(key);
        }
        for launch in woken {
            if let Some(key) = self.settle(Task::Fresh(launch)) {
                keys.push(key);
            }
        }
        for key in keys {
            self.tell_to_end(key);
            self.core.runnable.borrow_mut().push_back(key);
        }
    }

    /// Its own processes have ended: keeps polling until every worker's
    /// have, so that a process of another worker still in its clean-up
    /// can wait on a socket registered here (its events come only through
    /// this poller). The last worker to finish wakes the others.
    fn serve_io_until_peers_drained(&mut self) {
        let shared = Arc::clone(&self.core.shared);
        // AcqRel: the last decrement sees every other worker's, and the
        // others' Acquire loads see it.
        if shared.draining.fetch_sub(1, Ordering::AcqRel) == 1 {
            for remote in shared.remotes.iter() {
                remote.unpark();
            }
            return;
        }
        // The unpark is a permit (module `io::driver`), so one that comes
        // between the load and the park is not lost.
        while shared.draining.load(Ordering::Acquire) > 0 {
            self.driver.park(None);
        }
    }

    /// While draining: parks until the inbox has a delivery (a process of
    /// this worker woken elsewhere) or the next timer is due.
    fn park_while_draining(&mut self) {
        match self.inbox.announce_wait() {
            Wait::Sleep => {
                let timeout = self
                    .core
                    .timers
                    .borrow()
                    .next_deadline()
                    .map(|deadline| deadline.saturating_duration_since(Instant::now()));
                // Clean-up may wait on a socket too.
                self.driver.park(timeout);
            }
            Wait::Ready | Wait::Closed => {}
        }
        let _ = self.inbox.cancel_wait();
        self.fire_timers();
    }
}

/// Whether this thread is a worker of `shared`'s runtime.
pub(crate) fn try_with_worker_serving(shared: &Arc<Shared>) -> bool {
    try_with_worker(|core| core.serves(shared)).unwrap_or(false)
}

/// Steals a batch from `source` into `dest` and pops one.
fn steal_into<S: StealBatch>(source: &S, dest: &Worker<Task>) -> Option<Task> {
    loop {
        match source.steal_batch_and_pop(dest) {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

fn steal_one(source: &crossbeam_deque::Stealer<Task>) -> Option<Task> {
    loop {
        match source.steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
}

/// The two kinds of queue a worker steals from.
trait StealBatch {
    fn steal_batch_and_pop(&self, dest: &Worker<Task>) -> Steal<Task>;
}

impl StealBatch for crossbeam_deque::Stealer<Task> {
    fn steal_batch_and_pop(&self, dest: &Worker<Task>) -> Steal<Task> {
        crossbeam_deque::Stealer::steal_batch_and_pop(self, dest)
    }
}

impl StealBatch for crossbeam_deque::Injector<Task> {
    fn steal_batch_and_pop(&self, dest: &Worker<Task>) -> Steal<Task> {
        crossbeam_deque::Injector::steal_batch_and_pop(self, dest)
    }
}

/// Ends a stealable task that no worker will run (the injector's
/// leftovers at shutdown), from outside any worker.
pub(crate) fn discard_orphan(task: Task) {
    let pcb = Arc::clone(task.pcb());
    // SAFETY: the caller took the task out of the injector: nobody else has it.
    unsafe { pcb.set_exit_reason(ExitReason::Shutdown) };
    let unwind = match task {
        Task::Fresh(launch) if launch.has_run() => {
            std::mem::forget(launch);
            None
        }
        Task::Fresh(launch) => drop_never_run(launch),
        // Workers put moving processes, and woken hibernated ones, only in
        // their own queues, which they empty at teardown; should one ever
        // get here, it is leaked rather than run or dropped outside its
        // process on a thread that is not a worker.
        Task::Moving(Migrating(settled)) => {
            std::mem::forget(settled);
            None
        }
    };
    // SAFETY: the caller took the task out of the injector: nobody else has it.
    unsafe { pcb.set_exited(ExitReason::Shutdown) };
    let shared = pcb.shared();
    shared.return_slots(1);
    shared.external_exits.fetch_add(1, Ordering::Relaxed);
    if let Some(unwind) = unwind {
        std::panic::resume_unwind(unwind);
    }
}

/// Drops a never-run process's closure and queued messages, each under
/// [`contain_deferring`]: user destructors, which may panic, block, or be
/// interrupted by an exit signal that ends the caller. Closing the mailbox
/// makes later sends dead letters. Hands back that exit signal's unwind:
/// the caller ends the process first (records its exit, gives its slot
/// back), then resumes it.
///
/// A hibernated process is only dropped so when it cannot run again (no
/// stack for it): its receiver, parked in its sleeper, is taken up to
/// close the mailbox.
#[must_use]
pub(crate) fn drop_never_run(mut launch: Launch) -> Option<Box<dyn std::any::Any + Send>> {
    let pcb = Arc::clone(launch.pcb());
    let parked = match &mut launch.start {
        Start::Resume(sleeper) => sleeper.receiver.take(),
        Start::Entry(_) => None,
    };
    let closure = contain_deferring("dropping a never-run process's closure", move || {
        drop(launch);
    });
    let messages = contain_deferring("dropping a never-run process's messages", || {
        drop(match parked {
            // SAFETY: a sleeper's receiver was parked from this process's
            // mailbox.
            Some(parked) => unsafe { parked.resume(PcbMailbox(&pcb)) },
            None => Receiver::new(PcbMailbox(&pcb)),
        });
    });
    closure.or(messages)
}

/// The CPU the calling thread is on now (glibc reads it from the thread's
/// restartable-sequence area where the kernel keeps it: a load, no system
/// call); `None` where that is not known.
#[cfg(target_os = "linux")]
fn current_cpu() -> Option<usize> {
    // SAFETY: no preconditions; it fails only where the kernel cannot say
    // (-1, mapped to None).
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// Not known outside Linux: a spin is never cut short for a sibling.
#[cfg(not(target_os = "linux"))]
fn current_cpu() -> Option<usize> {
    None
}

/// Pins the calling worker thread to `cpu` (the runtime checked that this
/// process may use it); a refusal is reported and the worker runs
/// unpinned.
fn pin_to(cpu: usize, worker: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        crate::report::report(
            crate::report::Severity::Warning,
            "runtime",
            None,
            format_args!("worker {worker} could not be pinned to CPU {cpu}; it runs unpinned"),
        );
    }
}
