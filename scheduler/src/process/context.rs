//! The running process's context, and the thread-local pointers that find
//! it and the current worker.
//!
//! # Where the context lives
//!
//! A [`ProcessCtx`] is created by the process's coroutine body, on the
//! process's own stack, and lives exactly as long as the process. It holds
//! what only the process touches: its mailbox receiver, its reduction
//! budget, its coroutine's yielder. Process-only functions (`receive`,
//! `sleep`, ...) find it through the thread-local `CURRENT`.
//!
//! # The thread-local rule (crate docs: migration)
//!
//! `CURRENT` and `WORKER` are read through `#[inline(never)]` accessors, so
//! no thread-local address is kept in a register across a coroutine switch
//! (LLVM may otherwise cache it: llvm-project issue 98479). `CURRENT` is
//! set by the process itself when its body starts and each time a suspend
//! returns (or unwinds: a drop guard sets it, so destructors run during
//! an unwind see their process); the worker clears it when the
//! coroutine switches back. Nothing holds a `&WorkerCore` across a
//! suspend.
//!
//! # Interior mutability
//!
//! Process code reaches its context through shared references only (a
//! receive predicate may call `self_pid`, say), so the mutable parts are
//! `Cell`s and a `RefCell`; a receive called from inside a receive
//! predicate gets a clear panic, not aliasing.
//!
//! # Clean-up
//!
//! A process's clean-up is what runs as it ends: the destructors its
//! unwind runs (an exit signal, a panic, shutdown), then, once its body is
//! over, the destructors of the messages it left unread. Clean-up is part
//! of the process: it may block (receive, call another process, sleep) as
//! code that is not ending does. Suspending in the middle of an unwind is
//! safe because the process carries its own panic count (module
//! `unwind_units`).
//!
//! * The first time a process blocks in its clean-up (it waits: receive,
//!   sleep, a blocking send; or polls: `yield_now`, or a spent slice after
//!   a receive or sleep whose time was up at once), its clean-up deadline
//!   starts (`Builder::cleanup_timeout`, 5 s by default), with a timer in
//!   the wheel of the worker it is on (armed again on the worker it moves
//!   to, for a migratable process, since a worker drops its timers as it
//!   shuts down). Being preempted otherwise (a spent slice) does not start
//!   it: a clean-up that only computes is not bounded. If the
//!   deadline passes while the process is still in that clean-up, it is
//!   abandoned at its next check point (the timer wakes it): a report on
//!   standard error, its remaining destructors never run, its stack is
//!   quarantined, and it ends with the reason recorded so far. What the
//!   runtime's own frames on its stack owe others is paid then, by the
//!   worker (module `debt`: the child of a `spawn_with` set-up ends, a
//!   blocking send's place among the mailbox's waiting senders is given
//!   up). The program is never aborted.
//! * A clean-up is over when the process is seen out of it, at its next
//!   check point or suspension (user code caught the panic and went on):
//!   its deadline ends there. Each clean-up has its own expiry flag, so a
//!   timer left over from an earlier one (in another worker's wheel) is
//!   never taken for the current one's. Two clean-ups with no call into
//!   the runtime between them count as one.
//! * While it unwinds, an exit signal cannot interrupt it (a second unwind
//!   started inside a destructor that runs during the first would abort
//!   the program): the deadline bounds it.
//! * Once its body is over it drops its unread messages, the oldest first,
//!   those queued as the body ended with its mailbox still open (a
//!   destructor may call another process and get the reply), then closes
//!   it and drops what came meanwhile (senders that keep sending cannot
//!   keep it from ending). A kill (or shutdown) still acts
//!   there, one sent before the body ended included: it unwinds out of
//!   the destructor that blocks, and the other unread messages are
//!   dropped, each unwound at once if it blocks too.
//! * While the panic hook runs, std holds its hook lock: a process that
//!   gave its worker up there would block any thread that sets or takes
//!   the hook. So, in ferrotp's hook (module `stack_depth`), a send to a
//!   full mailbox exceeds its bound and a spent slice does not yield; a
//!   hook must still not receive or sleep.

use crate::messaging::long_queue::{self, QueueMarks};
use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use corosensei::Yielder;
use ferrotp_mailbox::{Mark, Receiver, Wait};

use crate::lifecycle::exit_reason::ExitReason;
use crate::lifecycle::exit_signal::{self, SignalUnwind, Verdict};
use crate::lifecycle::signal_flags::SignalFlags;
use crate::process::coroutine::{OwedByFrame, Suspend};
use crate::process::hibernation::{ParkedTimer, Sleeper};
use crate::process::red_zone::{StackBounds, stack_pointer};
use crate::process::stack::ProcessStack;
use crate::process::{Envelope, Pcb, PcbMailbox, Pid};
use crate::time::timer::TimerKey;
use crate::worker::core::try_with_worker;
use crate::worker::core::{TimerEvent, WorkerCore};
use corosensei::stack::{Stack, StackPointer};

thread_local! {
    static CURRENT: Cell<*const ProcessCtx<'static>> = const { Cell::new(ptr::null()) };
    /// The process running [`shielded`] code on this thread, not current
    /// meanwhile.
    static SHIELDED: Cell<*const ProcessCtx<'static>> = const { Cell::new(ptr::null()) };
}

#[inline(never)]
fn current_ptr() -> *const ProcessCtx<'static> {
    CURRENT.with(Cell::get)
}

/// The context of the process running on this thread, current or
/// running [`shielded`] code, and whether it is the latter; null if none.
fn running_ptr() -> (*const ProcessCtx<'static>, bool) {
    let ctx = current_ptr();
    if ctx.is_null() {
        (SHIELDED.with(Cell::get), true)
    } else {
        (ctx, false)
    }
}

/// The control block of the process running on this thread, if any, and
/// whether it runs [`shielded`] code (for the stack-overflow handler:
/// plain thread-local reads).
pub(crate) fn current_pcb_address() -> Option<(*const Pcb, bool)> {
    let (ctx, shielded) = running_ptr();
    if ctx.is_null() {
        return None;
    }
    // SAFETY: non-null only while its process runs on this thread
    // (current, or running [`shielded`] code); the context is only read.
    Some((Arc::as_ptr(unsafe { (*ctx).pcb }), shielded))
}

#[inline(never)]
pub(crate) fn set_current(ctx: *const ProcessCtx<'static>) {
    CURRENT.with(|c| c.set(ctx));
}

/// [`set_current`] to null, inlined: for the worker's run loop only, as a
/// process switches back to it. The loop's frames never change threads
/// (only a process's stack may), so a thread-local address the compiler
/// keeps across the switch is still this thread's.
#[inline(always)]
pub(crate) fn clear_current_in_run_loop() {
    CURRENT.with(|c| c.set(ptr::null()));
}

/// Runs `f` with the running process's context.
///
/// # Panics
/// Outside a process, with a message naming `function`.
#[inline]
pub(crate) fn with_process<R>(function: &str, f: impl FnOnce(&ProcessCtx<'_>) -> R) -> R {
    match try_with_process(f) {
        Some(r) => r,
        None => outside_process(function),
    }
}

#[cold]
#[inline(never)]
fn receive_in_predicate(function: &str) -> ! {
    panic!(
        "ferrotp::{function} was called from inside a receive predicate or select clause \
         test; a predicate must not receive"
    )
}

#[cold]
#[inline(never)]
fn outside_process(function: &str) -> ! {
    panic!(
        "ferrotp::{function} was called outside a ferrotp process; it can only be called \
         by code running in a process (see Runtime::block_on and ferrotp::spawn)"
    )
}

/// Runs `f` with the running process's context, if this thread runs one.
#[inline]
pub(crate) fn try_with_process<R>(f: impl FnOnce(&ProcessCtx<'_>) -> R) -> Option<R> {
    let ctx = current_ptr();
    if ctx.is_null() {
        return None;
    }
    // SAFETY: non-null only while its process runs here (module docs); the
    // context outlives the process's calls and is only shared (`&`).
    Some(f(unsafe { &*ctx }))
}

/// Runs `f`, code that the running process (if any) runs for another
/// process: the exit hooks of a child that never ran. They run as exit
/// hooks run everywhere else, outside any process (the process is not
/// current meanwhile: a send exceeds a full mailbox's bound rather than
/// block, a receive panics, and no check point unwinds or abandons the
/// process in the middle), so every hook runs, each told of the child's
/// end. A signal for the process acts at its first check point after.
///
/// Outside a process also as to the thread's panic count (module
/// `unwind_units`): the process's own (it may be unwinding) is taken off
/// while `f` runs and put back after, and what `f` leaves (a panic of its
/// own kept in flight: a coroutine parked in its unwind and leaked) is
/// taken off first, as a worker does between processes, so that it
/// never becomes the process's.
pub(crate) fn shielded(f: impl FnOnce()) {
    /// Makes the process current again, with its own panic units, as `f`
    /// returns or unwinds.
    struct Restore {
        ctx: *const ProcessCtx<'static>,
        units: u32,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            SHIELDED.with(|c| c.set(ptr::null()));
            set_current(self.ctx);
            if self.units != 0 {
                crate::process::unwind_units::put_units(self.units);
            }
        }
    }
    let ctx = current_ptr();
    if ctx.is_null() {
        return f();
    }
    let units = if std::thread::panicking() {
        crate::process::unwind_units::take_units()
    } else {
        0
    };
    let restore = Restore { ctx, units };
    SHIELDED.with(|c| c.set(ctx));
    set_current(ptr::null());
    f();
    // Returned: nothing of the process's is in flight, so what is left
    // is `f`'s. (Were `f` unwinding instead, its unwind would be counted
    // too: it is left alone.)
    if std::thread::panicking() {
        crate::process::unwind_units::take_leftover();
    }
    drop(restore);
}

/// Runs `f` with the context of the process that runs on this thread,
/// current or [`shielded`]: for the runtime's own bookkeeping (the panic
/// units of module `unwind_units`, the stack the panic hook runs on),
/// never to run process functions.
pub(crate) fn try_with_running_process<R>(f: impl FnOnce(&ProcessCtx<'_>) -> R) -> Option<R> {
    let (ctx, _) = running_ptr();
    if ctx.is_null() {
        return None;
    }
    // SAFETY: as in `try_with_process`; a shielded process is suspended
    // nowhere: it runs `f`'s caller on this thread.
    Some(f(unsafe { &*ctx }))
}

/// The context of one process (module docs).
pub(crate) struct ProcessCtx<'y> {
    pub(crate) pcb: &'y Arc<Pcb>,
    receiver: RefCell<Receiver<Envelope, PcbMailbox<'y>>>,
    yielder: &'y Yielder<u32, Suspend>,
    budget: Cell<u32>,
    /// Sequence number of this process's timers (see `Pcb::timer_fired`).
    timer_seq: Cell<u64>,
    /// Tags of this process's subjects.
    subject_tag: Cell<u64>,
    /// What makes every check point take its slow path: [`DYING`] (the
    /// process is ending on an exit signal: every check point unwinds it
    /// again, a `catch_unwind` cannot keep it alive) and [`CLEANUP_ARMED`]
    /// (a clean-up deadline runs: each check point sees whether it passed,
    /// or whether the clean-up is over) and [`POLLING`] (the process polls
    /// a future it awaits, module `futures`: it must not suspend meanwhile,
    /// since a tokio context entered for the poll is a thread-local guard
    /// that must not outlive it; a spent slice does not yield, and a wait
    /// panics). One test on the hot path.
    attention: Cell<u8>,
    /// Unwinds started again after user code caught one.
    retries: Cell<u8>,
    /// The body has ended (its unread messages are being dropped): only
    /// a kill or shutdown (`FORCED_EXIT`) still acts.
    ended: Cell<bool>,
    /// The clean-up under way, once it has blocked or polled (module docs:
    /// clean-up).
    cleanup: RefCell<Option<Cleanup>>,
    /// A receive or sleep returned at once, its time up, since the last
    /// suspension: the process polls (its next spent slice counts as a
    /// wait for the clean-up deadline).
    polled: Cell<bool>,
    /// What the runtime's own frames on this stack owe others, should the
    /// process be abandoned there (module `debt`).
    debts: RefCell<Vec<OwedByFrame>>,
    /// The process runs the panic hook (module `stack_depth`): std holds
    /// its hook lock meanwhile, so the process avoids suspending.
    in_panic_hook: Cell<bool>,
    /// The budget the current slice started with (reductions used are
    /// published from it at each suspension).
    slice_start: Cell<u32>,
    /// The stack the process runs on now (module `stack_depth`).
    stack: Cell<StackBounds>,
    /// The long-message-queue marks (module `long_queue`), copied from
    /// the control block: `None` (off) costs each receive one branch.
    queue_marks: Option<QueueMarks>,
    /// The message of the red-zone panic this process raised, if any
    /// (its exit reason is then `StackOverflow`).
    stack_panic: Cell<Option<Box<str>>>,
    /// The crash report of its latest panic, kept by the panic hook for a
    /// `tracing` subscriber, sent if the process ends with it (module
    /// `report`).
    crash: Cell<Option<Box<str>>>,
}

/// [`ProcessCtx::attention`]: an exit signal is ending the process.
const DYING: u8 = 1;
/// [`ProcessCtx::attention`]: a clean-up deadline runs.
const CLEANUP_ARMED: u8 = 2;
/// [`ProcessCtx::attention`]: the process polls a future.
const POLLING: u8 = 4;

/// A clean-up that has blocked or polled: its deadline, and its timer.
struct Cleanup {
    deadline: Instant,
    /// Set by the timer as it fires. Each clean-up has its own: a timer of
    /// an earlier one, left in another worker's wheel (a migratable process
    /// moved), sets a flag that nobody reads any more.
    expired: Arc<AtomicBool>,
    /// In the wheel of the worker the process last blocked on (a worker
    /// drops its timers as it shuts down).
    timer: Option<Armed>,
}

/// A timer armed by a waiting process.
#[derive(Clone, Copy)]
struct Armed {
    seq: u64,
    key: TimerKey,
    /// The wheel it sits in (a migratable process may have moved).
    worker: *const WorkerCore,
}

impl<'y> ProcessCtx<'y> {
    /// The context of a process starting on its stack: a never-run one
    /// (`resumed` is `None`, or a sleeper that has not run), or a
    /// hibernated one starting its next activation with what it parked.
    pub(crate) fn new(
        pcb: &'y Arc<Pcb>,
        yielder: &'y Yielder<u32, Suspend>,
        budget: u32,
        resumed: Option<&mut Sleeper>,
    ) -> Self {
        let (parked, timer_seq, subject_tag) = match resumed {
            Some(sleeper) => (
                sleeper.receiver.take(),
                sleeper.timer_seq,
                sleeper.subject_tag,
            ),
            None => (None, 0, 0),
        };
        let receiver = match parked {
            // SAFETY: a sleeper's receiver was parked from this process's
            // mailbox (`park_into`), which `PcbMailbox` reaches.
            Some(parked) => unsafe { parked.resume(PcbMailbox(pcb)) },
            // A process's mailbox gets one receiver, made by whoever holds
            // the never-run process: here as it starts, or instead of
            // starting when it is discarded; `PcbMailbox` is private to
            // this crate. SAFETY: so no other receiver exists or is being
            // made.
            None => unsafe { Receiver::new_sole(PcbMailbox(pcb)) },
        };
        let guard = pcb.guard_page();
        let stack = if guard.is_empty() {
            StackBounds::NONE
        } else {
            StackBounds::new(
                guard.end,
                crate::process::stack::usable_size(pcb.stack_size),
            )
        };
        Self {
            pcb,
            receiver: RefCell::new(receiver),
            yielder,
            budget: Cell::new(budget),
            timer_seq: Cell::new(timer_seq),
            subject_tag: Cell::new(subject_tag),
            attention: Cell::new(0),
            retries: Cell::new(0),
            ended: Cell::new(false),
            cleanup: RefCell::new(None),
            polled: Cell::new(false),
            debts: RefCell::new(Vec::new()),
            in_panic_hook: Cell::new(false),
            slice_start: Cell::new(budget),
            stack: Cell::new(stack),
            queue_marks: pcb.queue_marks,
            stack_panic: Cell::new(None),
            crash: Cell::new(None),
        }
    }

    /// The stack the process runs on now.
    pub(crate) fn stack_bounds(&self) -> StackBounds {
        self.stack.get()
    }

    /// The process moves to (or back from) a stack segment; returns the
    /// bounds it had.
    pub(crate) fn set_stack_bounds(&self, bounds: StackBounds) -> StackBounds {
        self.stack.replace(bounds)
    }

    /// Whether `payload` is the red-zone panic this process raised.
    pub(crate) fn is_stack_panic(&self, payload: &(dyn std::any::Any + Send)) -> bool {
        let raised = self.stack_panic.take();
        let is = raised
            .as_deref()
            .is_some_and(|m| payload.downcast_ref::<String>().map(String::as_str) == Some(m));
        self.stack_panic.set(raised);
        is
    }

    /// Keeps the crash report of the panic under way (module `report`).
    pub(crate) fn keep_crash_report(&self, report: Box<str>) {
        self.crash.set(Some(report));
    }

    /// The crash report kept for the panic the process ends with.
    pub(crate) fn take_crash_report(&self) -> Option<Box<str>> {
        self.crash.take()
    }

    /// Makes this the current process of this thread.
    pub(crate) fn enter(&self) {
        set_current(ptr::from_ref(self).cast());
    }

    /// A tag no other subject of this process has.
    pub(crate) fn next_tag(&self) -> u64 {
        let tag = self.subject_tag.get() + 1;
        self.subject_tag.set(tag);
        tag
    }

    pub(crate) fn budget(&self) -> u32 {
        self.budget.get()
    }

    /// Hands the worker back; returns when the process is resumed (with a
    /// fresh budget), or unwinds if the worker forces an unwind.
    ///
    /// `waits` (a wait, or a poll by `yield_now`, not a spent slice), or a
    /// spent slice after a receive or sleep that polled: in its clean-up,
    /// the process's clean-up deadline starts, if it has not (module docs:
    /// clean-up).
    #[inline(always)]
    pub(crate) fn suspend(&self, why: Suspend, waits: bool) {
        self.suspend_then(why, waits, true);
    }

    /// [`ProcessCtx::suspend`], with its check point on return (`check`)
    /// or without: for a caller that makes its own check point at once
    /// (a receive, which acts on signals holding its receiver).
    #[inline(always)]
    fn suspend_then(&self, why: Suspend, waits: bool, check: bool) {
        /// Makes this process current again when the suspend returns *or
        /// unwinds*, so destructors run by a forced unwind see it.
        struct Reenter(*const ProcessCtx<'static>);
        impl Drop for Reenter {
            #[inline(always)]
            fn drop(&mut self) {
                set_current(self.0);
            }
        }
        let _reenter = Reenter(ptr::from_ref(self).cast());
        // A process that is ending and waits, or polls, starts its clean-up
        // deadline; one that is no longer ending ends the deadline.
        let polled = self.polled.replace(false);
        if self.in_cleanup() {
            if waits || polled {
                self.arm_cleanup_deadline();
            }
        } else if self.attention.get() != 0 {
            self.suspend_with_attention(waits);
        }
        self.publish_reductions();
        let budget = self.yielder.suspend(why);
        self.budget.set(budget);
        self.slice_start.set(budget);
        // Every return from a suspension is a check point (the caller's,
        // without `check`).
        if check {
            self.check_signals();
        }
    }

    /// A suspension of a process that is not ending, with attention bits
    /// set: a clean-up deadline left over (the clean-up is over: it ends),
    /// or a poll under way, which must not wait.
    ///
    /// # Panics
    /// If it waits inside a future's poll (module `futures`).
    #[cold]
    #[inline(never)]
    fn suspend_with_attention(&self, waits: bool) {
        let attention = self.attention.get();
        if attention & POLLING != 0 && waits {
            panic!(
                "ferrotp: a process blocked (receive, sleep, call, blocking, ...) inside the \
                 poll of a future it awaits with ferrotp::await_future; a future must return \
                 Poll::Pending instead of blocking: block before or after awaiting it"
            );
        }
        if attention & CLEANUP_ARMED != 0 {
            self.end_cleanup();
        }
    }

    /// Adds the reductions used since the slice started to the control
    /// block's count (only this process writes it).
    #[inline]
    pub(crate) fn publish_reductions(&self) {
        let used = self.slice_start.get().saturating_sub(self.budget.get());
        self.slice_start.set(self.budget.get());
        let total = &self.pcb.reductions;
        total.store(
            total.load(Ordering::Relaxed) + u64::from(used),
            Ordering::Relaxed,
        );
    }

    /// Whether an exit signal (or shutdown) is ending the process: its
    /// check points unwind it.
    pub(crate) fn is_dying(&self) -> bool {
        self.attention.get() & DYING != 0
    }

    fn set_dying(&self, dying: bool) {
        let attention = self.attention.get() & !DYING;
        self.attention
            .set(if dying { attention | DYING } else { attention });
    }

    /// The process is ending (for `process_info`).
    pub(crate) fn mark_exiting(&self) {
        self.pcb.exiting.store(true, Ordering::Relaxed);
    }

    /// The body has returned or unwound: from now on (dropping its unread
    /// messages) only a kill or shutdown acts, and the unwind of an exit
    /// signal that ended the body is over.
    pub(crate) fn mark_ended(&self) {
        self.mark_exiting();
        self.ended.set(true);
        self.set_dying(false);
        self.retries.set(0);
    }

    /// Drops the messages left unread, each under its own net: a
    /// destructor's panic is reported, and a kill or shutdown that
    /// interrupts a destructor (it blocked) lets the rest be dropped. The
    /// mailbox stays open while the messages queued as the body ended are
    /// dropped, the oldest first, so that a destructor may call another
    /// process and get its reply; then it closes (later sends are dead
    /// letters), and what arrived meanwhile is dropped too. So senders that
    /// keep sending cannot keep the process from ending.
    pub(crate) fn drop_unread(&self) {
        let queued = self.receiver("exit").len();
        for _ in 0..queued {
            let mut from = Mark::START;
            let next = self
                .receiver("exit")
                .take_first_since(&mut from, &mut |_: &Envelope| true);
            match next {
                Some(message) => self.drop_one_unread(message),
                None => break,
            }
        }
        for message in self.close_mailbox() {
            self.drop_one_unread(message);
        }
    }

    fn drop_one_unread(&self, message: Envelope) {
        // Each message gets the retries a body gets (module `signal`).
        self.retries.set(0);
        if exit_signal::is_undelivered_kill(&message) {
            // A kill that came before the body ended and was not acted
            // on: the clean-up is interrupted from now on.
            self.set_dying(true);
        }
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            drop(message);
        }));
        if let Err(payload) = dropped {
            if !payload.is::<SignalUnwind>() {
                crate::report::report_process(
                    crate::report::Severity::Error,
                    "crash",
                    self.pcb,
                    format_args!(
                        "dropping an unread message of process {} panicked: {}",
                        self.pcb.id,
                        ExitReason::from_panic(&*payload)
                    ),
                );
            }
            crate::process::panic_payload::drop_payload(payload);
        }
    }

    /// A check point (module `signal`): acts on exit signals that arrived,
    /// and unwinds again a process that is dying.
    #[inline]
    pub(crate) fn check_signals(&self) {
        if self.attention.get() != 0 || self.pcb.signals.any() {
            let _ = self.act_on_signals(None);
        }
    }

    /// `check_signals` for a receive, which holds the receiver. True if a
    /// signal became a message (the process traps exits): the receive
    /// looks again from where it began, since its scan may have passed
    /// that signal over while it was not a message yet.
    #[inline]
    #[must_use]
    fn check_signals_holding(&self, receiver: &mut Receiver<Envelope, PcbMailbox<'y>>) -> bool {
        if self.attention.get() != 0 || self.pcb.signals.any() {
            return self.act_on_signals(Some(receiver));
        }
        false
    }

    /// Acts on the signals raised (module `signal`); true if a signal
    /// became a message.
    #[cold]
    #[inline(never)]
    fn act_on_signals(&self, held: Option<&mut Receiver<Envelope, PcbMailbox<'y>>>) -> bool {
        if self.attention.get() & CLEANUP_ARMED != 0 {
            self.check_cleanup_deadline();
        }
        // An unwinding process finishes its clean-up (bounded by the
        // clean-up deadline); a second unwind, started inside a destructor
        // that runs during the first, would abort.
        if std::thread::panicking() {
            return false;
        }
        if self.is_dying() {
            self.unwind_again();
        }
        // The signal's message, pushed before the flag was raised, is
        // visible to the scan (module `signal_flags`).
        let signals = self.pcb.signals.take();
        // Everything reserved by now; a scan that stops short of it (at a
        // message still being written) must look again later.
        let arrived = self.pcb.mailbox.arrived();
        if signals & SignalFlags::FORCED_EXIT != 0 {
            // A kill after the body ended (its reason is recorded), or
            // shutdown: recorded as it was told to end, unless it was in
            // the middle of an unwind then (a panic's, whose reason is
            // recorded as the body catches it; this one caught it and went
            // on). The first reason recorded stands.
            let shutdown = self.pcb.shared().shutdown.load(Ordering::Relaxed);
            self.die(shutdown.then_some(ExitReason::Shutdown));
        }
        if signals & SignalFlags::QUEUED == 0 {
            return false;
        }
        let me = Pid(Arc::clone(self.pcb));
        // Once the body has ended only a kill still acts (its unread
        // messages are being dropped): scanned as if trapping, every other
        // signal becomes a message, dropped with the rest.
        let trapping = self.ended.get() || self.pcb.trap_exit.load(Ordering::Relaxed);
        let verdict = match held {
            Some(receiver) => exit_signal::scan(receiver, &me, trapping, arrived),
            None => match self.receiver.try_borrow_mut() {
                Ok(mut receiver) => exit_signal::scan(&mut receiver, &me, trapping, arrived),
                Err(_) => {
                    // Inside a receive predicate, or a receive's own
                    // suspension: the receive's check point, or the next.
                    self.pcb.signals.look_again();
                    return false;
                }
            },
        };
        match verdict {
            Verdict::Live { delivered } => delivered,
            Verdict::Die(reason) => self.die(Some(reason)),
        }
    }

    /// Ends the process from inside: records `reason` (if given; the first
    /// recorded stands) and unwinds (module `signal`).
    fn die(&self, reason: Option<ExitReason>) -> ! {
        self.mark_exiting();
        if let Some(reason) = reason {
            // No process ends with the signal `Kill` (so it never travels
            // over a link): it ends with `Killed`.
            let reason = match reason {
                ExitReason::Kill => ExitReason::Killed,
                reason => reason,
            };
            // SAFETY: the process's own code, on the thread running it,
            // before it exits.
            unsafe { self.pcb.set_exit_reason(reason) };
        }
        self.set_dying(true);
        resume_unwind(Box::new(SignalUnwind))
    }

    /// Ends the process now with `reason` ([`crate::exit_self`]).
    pub(crate) fn exit_now(&self, reason: ExitReason) -> ! {
        if std::thread::panicking() {
            // SAFETY: the process's own code, on the thread running it,
            // before it exits.
            unsafe { self.pcb.set_exit_reason(reason.clone()) };
            self.abandon(&format!(
                "called exit_self({reason}) while unwinding (from a destructor); a second \
                 unwind cannot start during the first"
            ));
        }
        if self.is_dying() {
            // Already ending (user code caught the unwind): the first
            // reason stands.
            self.unwind_again();
        }
        self.die(Some(reason))
    }

    /// A dying process reached a check point again: user code caught the
    /// unwind. Unwind again, a few times; then abandon it. After the body
    /// the count starts again with each unread message (the runtime's own
    /// net catches the unwind that interrupts one).
    fn unwind_again(&self) -> ! {
        let retries = self.retries.get();
        if retries < exit_signal::UNWIND_RETRIES {
            self.retries.set(retries + 1);
            resume_unwind(Box::new(SignalUnwind));
        }
        self.abandon("keeps catching the unwind that ends it")
    }

    /// Records what a runtime frame owes until it finishes (module
    /// `debt`); the frame settles it as it finishes or unwinds.
    pub(crate) fn owe(&self, debt: OwedByFrame) {
        self.debts.borrow_mut().push(debt);
    }

    /// Takes a settled debt off the list, if this process listed it (a
    /// frame on a coroutine of the user's may finish in another process).
    pub(crate) fn forget_debt(&self, debt: *const ()) {
        let mut debts = self.debts.borrow_mut();
        if let Some(at) = debts
            .iter()
            .rposition(|listed| std::ptr::addr_eq(Arc::as_ptr(listed), debt))
        {
            debts.remove(at);
        }
    }

    /// Gives the worker up for good (module `worker`: abandon), saying why
    /// on standard error. The worker pays what the runtime's frames on the
    /// stack owe (their destructors will never run), outside this
    /// process: no user code runs here, so nothing can unwind out of this
    /// call or reach a check point inside it.
    #[cold]
    fn abandon(&self, why: &str) -> ! {
        let in_hook = if self.in_panic_hook.get() {
            " (inside the panic hook: std keeps its hook lock, so setting or taking the hook \
             will block for ever)"
        } else {
            ""
        };
        // Straight to standard error, not through `tracing`: no user code
        // may run here (a subscriber is user code). Not `eprintln!`,
        // which panics if standard error is gone.
        let _ = writeln!(
            std::io::stderr(),
            "ferrotp: process {} {why}; it is abandoned{in_hook}: its remaining destructors will \
             not run and its stack is quarantined (never reused nor unmapped)",
            self.pcb.id
        );
        let debts = std::mem::take(&mut *self.debts.borrow_mut());
        // No user code inside; what comes back is dropped outside.
        drop(try_with_worker(|core| core.leave_debts(debts)));
        let _ = self.yielder.suspend(Suspend::Abandon);
        unreachable!("an abandoned process is never resumed")
    }

    /// The panic hook starts or stops running in this process (module
    /// `stack_depth`).
    pub(crate) fn set_in_panic_hook(&self, running: bool) -> bool {
        self.in_panic_hook.replace(running)
    }

    /// Whether the process must not give its worker up where it can
    /// avoid it: it runs the panic hook (std holds its hook lock), or it
    /// polls a future (module `futures`).
    pub(crate) fn must_not_suspend(&self) -> bool {
        self.in_panic_hook.get() || self.attention.get() & POLLING != 0
    }

    /// Runs `poll` (a future's poll) marked as polling (see
    /// [`POLLING`]), and unmarked again as it returns or unwinds. Nests.
    pub(crate) fn polling<T>(&self, poll: impl FnOnce() -> T) -> T {
        struct Unmark<'a>(&'a Cell<u8>, u8);
        impl Drop for Unmark<'_> {
            fn drop(&mut self) {
                self.0.set(self.0.get() & !POLLING | self.1);
            }
        }
        let was = self.attention.get() & POLLING;
        self.attention.set(self.attention.get() | POLLING);
        let _unmark = Unmark(&self.attention, was);
        poll()
    }

    /// Whether the process is ending: unwinding (an exit signal, a panic,
    /// shutdown) or past its body. Blocking then is its clean-up.
    #[inline(always)]
    fn in_cleanup(&self) -> bool {
        self.is_dying() || self.ended.get() || std::thread::panicking()
    }

    /// The process blocks or polls in its clean-up: the first time, its
    /// clean-up deadline starts (`Builder::cleanup_timeout` from now), with
    /// a timer in this worker's wheel; a migratable process that moved
    /// arms it again in the wheel of the worker it is on now.
    #[cold]
    fn arm_cleanup_deadline(&self) {
        let here = try_with_worker(ptr::from_ref);
        let mut cleanup = self.cleanup.borrow_mut();
        let cleanup = cleanup.get_or_insert_with(|| Cleanup {
            deadline: Instant::now()
                .checked_add(self.pcb.shared().config.cleanup_timeout)
                .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(1 << 32)),
            expired: Arc::new(AtomicBool::new(false)),
            timer: None,
        });
        if cleanup
            .timer
            .is_some_and(|armed| Some(armed.worker) == here)
        {
            return;
        }
        // A timer left in the wheel of the worker it moved from fires at
        // the same deadline, and sets the same flag.
        let pcb = Arc::clone(self.pcb);
        let expired = Arc::clone(&cleanup.expired);
        let deadline = cleanup.deadline;
        cleanup.timer = try_with_worker(|core| Armed {
            seq: 0,
            key: core.add_timer(deadline, TimerEvent::CleanupDeadline { pcb, expired }),
            worker: ptr::from_ref(core),
        });
        self.attention.set(self.attention.get() | CLEANUP_ARMED);
    }

    /// A check point while a clean-up deadline runs: abandon the process if
    /// the deadline passed while it was still in its clean-up; end the
    /// deadline if the clean-up is over (user code caught the panic whose
    /// clean-up blocked, and went on).
    #[cold]
    fn check_cleanup_deadline(&self) {
        if !self.in_cleanup() {
            self.end_cleanup();
            return;
        }
        let expired = self
            .cleanup
            .borrow()
            .as_ref()
            .is_some_and(|cleanup| cleanup.expired.load(Ordering::Acquire));
        if expired {
            self.abandon_in_cleanup();
        }
    }

    /// The clean-up is over (the process is no longer ending, or has
    /// ended): its deadline no longer applies. Its timer is cancelled if it
    /// is in this worker's wheel; elsewhere it fires later, for nobody.
    pub(crate) fn end_cleanup(&self) {
        self.attention.set(self.attention.get() & !CLEANUP_ARMED);
        let ended = self.cleanup.borrow_mut().take();
        if let Some(armed) = ended.and_then(|cleanup| cleanup.timer) {
            self.disarm(armed);
        }
    }

    /// The clean-up deadline passed while the process was still in its
    /// clean-up: abandon it (module docs: clean-up).
    #[cold]
    fn abandon_in_cleanup(&self) -> ! {
        // SAFETY: the process's own code, on the thread running it,
        // before it exits. A reason recorded earlier (a kill, shutdown)
        // stands; a panic's unwind recorded none.
        unsafe {
            self.pcb
                .set_exit_reason(ExitReason::custom("cleanup_timeout"))
        };
        self.abandon(&format!(
            "is still in its clean-up (the destructors that run as it ends, its unread \
             messages' included) {:?} after it first blocked or polled there; raise \
             Builder::cleanup_timeout if its clean-up needs longer",
            self.pcb.shared().config.cleanup_timeout
        ))
    }

    /// Consumes `n` reductions; gives up the slice if the budget is spent.
    /// A check point: signals, and the red zone (module `stack_depth`).
    #[inline]
    pub(crate) fn reduce(&self, n: u32) {
        let left = self.budget.get().saturating_sub(n);
        self.budget.set(left);
        // One test on the hot path; the rest out of line.
        if left == 0
            || self.attention.get() != 0
            || self.pcb.signals.any()
            || stack_pointer() < self.stack.get().floor
        {
            self.slice_spent_or_signalled();
        }
    }

    #[cold]
    #[inline(never)]
    fn slice_spent_or_signalled(&self) {
        self.check_stack();
        if self.budget.get() == 0 {
            // For `process_info`: a process too busy to wait would
            // otherwise show everything it took since its last wait (one
            // that waits in a receive publishes it there).
            self.publish_taken();
            self.yield_slice();
        }
        self.check_signals();
    }

    /// Publishes how many messages the process has taken, for
    /// `process_info`'s mailbox length (a receive that waits publishes it
    /// itself, holding the receiver).
    fn publish_taken(&self) {
        if let Ok(receiver) = self.receiver.try_borrow() {
            self.pcb.taken.store(receiver.taken(), Ordering::Relaxed);
        }
    }

    /// Whether the process has less stack left than its red zone.
    pub(crate) fn in_red_zone(&self) -> bool {
        stack_pointer() < self.stack.get().floor
    }

    /// The red zone (module `stack_depth`): with less stack left than it,
    /// a check point panics, unless the process already unwinds or has
    /// ended (a second unwind would abort).
    #[inline]
    pub(crate) fn check_stack(&self) {
        let sp = stack_pointer();
        let stack = self.stack.get();
        if sp < stack.floor && !std::thread::panicking() {
            self.stack_exhausted(sp - stack.low.min(sp), stack);
        }
    }

    #[cold]
    #[inline(never)]
    fn stack_exhausted(&self, left: usize, stack: StackBounds) -> ! {
        let name = self
            .pcb
            .name()
            .map(|name| format!(" ({name:?})"))
            .unwrap_or_default();
        let message = format!(
            "ferrotp: process {}{name} reached a check point with {left} bytes of stack left, \
             inside its red zone of {} bytes: it panics, so that its stack unwinds; give it a \
             bigger stack with SpawnOptions::stack_size (or every process one with \
             Builder::stack_size), or run deep recursion under ferrotp::maybe_grow",
            self.pcb.id,
            stack.floor - stack.low,
        );
        self.stack_panic.set(Some(message.clone().into_boxed_str()));
        raise_stack_panic(message)
    }

    /// Gives up the slice, which is spent: behind the processes that
    /// wait for each other (module `run_loop`: `preempted`).
    #[inline]
    pub(crate) fn yield_slice(&self) {
        self.check_stack();
        if self.must_not_suspend() {
            return;
        }
        self.suspend(Suspend::Spent, false);
    }

    /// `yield_now`: gives up the rest of the slice, to the back of the run
    /// queue. A process that polls in its clean-up (with `yield_now`, as
    /// it would wait) is bounded by its clean-up deadline.
    pub(crate) fn yield_polling(&self) {
        self.check_stack();
        if self.must_not_suspend() {
            return;
        }
        self.suspend(Suspend::Yield, true);
    }

    /// Suspends until woken, then a check point: every wait outside a
    /// receive (a sleep, a blocking send, `wait_for`'s). The caller looks
    /// at what it waits for again afterwards (wake-ups are permits, not
    /// events), and may find it returned without suspending. A process
    /// that is ending (its clean-up) may block too, up to its clean-up
    /// deadline (module docs).
    ///
    /// A signal flag raised now is acted on first
    /// ([`wait_signalled`](Self::wait_signalled)): it may have been raised
    /// again by a check point whose scan stopped short (module
    /// `signal_flags`), with no wake-up to come. With none raised, the
    /// wait costs one test before the suspension, whose own check point
    /// is the one after it. Not `#[inline(always)]`: inlined into
    /// `wait_for`, it cost `call` an instruction more than this (the
    /// instruction benches).
    ///
    /// # Panics
    /// Inside a future's poll (module `futures`), unless the process is
    /// unwinding already (a destructor that blocks there: it suspends).
    pub(crate) fn wait_checked(&self) {
        if self.pcb.signals.any() {
            self.wait_signalled();
            return;
        }
        self.suspend(Suspend::Wait(self.budget.get()), true);
    }

    /// [`wait_checked`](Self::wait_checked) with a signal flag raised.
    ///
    /// A flag raised by a sender comes with its wake-up, but one raised
    /// again by `look_again` (a check point's scan stopped at a message
    /// still being written) comes with none: that check point counted on
    /// the writer's push to wake the process, and a push wakes only a
    /// receiver that announced a wait on the mailbox. Outside a receive
    /// nothing announces one, so the process would sleep until its wait
    /// ends for another reason (a sleep's deadline; never, for a join or
    /// a reply that does not come) with the signal unacted on. So: act on
    /// the flag; if it is still raised after (the scan stopped short
    /// again; or a new signal, whose wake-up is on its way), announce a
    /// wait on the mailbox, as a receive would. Its position is where the
    /// scan stopped, so the announcement waits on that very message, and
    /// its writer's push wakes the process (or it is written already:
    /// `Ready`, look again). The mailbox never makes a receiver spin on a
    /// sender, even one descheduled in the middle of its push; nor does
    /// this.
    ///
    /// Not for an unwinding process, which does not act on signals, nor
    /// inside a receive predicate (the receive holds the receiver; its
    /// own check point acts once the predicate returns): both sleep, as
    /// before.
    #[cold]
    #[inline(never)]
    fn wait_signalled(&self) {
        loop {
            self.check_signals();
            if !self.pcb.signals.any() || std::thread::panicking() {
                break;
            }
            let Ok(mut receiver) = self.receiver.try_borrow_mut() else {
                break;
            };
            match receiver.announce_wait() {
                // The message the scan stopped at is written: scan again.
                Wait::Ready => continue,
                Wait::Sleep => {}
                // Closing took every reserved message, so no scan stops
                // short any more: the flag is a new one (a kill's,
                // shutdown's), and its wake-up comes.
                Wait::Closed => break,
            }
            drop(receiver);
            // The check point on return is the one below, after the
            // announcement is withdrawn.
            self.suspend_then(Suspend::Wait(self.budget.get()), true, false);
            let _ = self.receiver("wait").cancel_wait();
            self.check_signals();
            return;
        }
        self.suspend(Suspend::Wait(self.budget.get()), true);
    }

    #[inline]
    fn receiver(
        &self,
        function: &str,
    ) -> std::cell::RefMut<'_, Receiver<Envelope, PcbMailbox<'y>>> {
        match self.receiver.try_borrow_mut() {
            Ok(receiver) => receiver,
            Err(_) => receive_in_predicate(function),
        }
    }

    /// A mark at the end of this process's mailbox.
    pub(crate) fn mark(&self) -> Mark {
        self.receiver("mark").mark()
    }

    /// Closes the mailbox (the process is ending); returns what was
    /// unread, to be dropped by the caller.
    pub(crate) fn close_mailbox(&self) -> ferrotp_mailbox::Drain<Envelope> {
        self.receiver("exit").close()
    }

    /// Messages queued for this process.
    pub(crate) fn mailbox_len(&self) -> usize {
        self.receiver("mailbox_len").len()
    }

    /// The core of every receive: the first message from `mark` on that
    /// `pred` accepts, waiting for one until `deadline` (`None`: forever).
    #[inline]
    pub(crate) fn receive(
        &self,
        function: &str,
        mark: &mut Mark,
        deadline: Option<Instant>,
        pred: &mut impl FnMut(&Envelope) -> bool,
    ) -> Option<Envelope> {
        self.reduce(1);
        // Where the receive began: `mark` moves on as a scan position.
        let origin = *mark;
        let mut timer: Option<Armed> = None;
        // One borrow for the whole receive, held across the suspend: only
        // this process ever borrows its receiver, and a predicate that
        // tries to receive still meets it (and a clear panic).
        let mut receiver = self.receiver(function);
        loop {
            if let Some(marks) = self.queue_marks {
                long_queue::look(self.pcb, marks, receiver.len());
            }
            if let Some(message) = receiver.take_first_since(mark, &mut *pred) {
                if let Some(armed) = timer {
                    self.disarm(armed);
                }
                return Some(message);
            }
            if self.time_is_up(function, deadline, &mut timer) {
                return None;
            }
            match receiver.announce_wait() {
                Wait::Ready => continue,
                Wait::Sleep => {}
                // Closed as the process's body ended: a destructor that
                // runs after that (an unread message's) waits for its
                // timeout, a kill, or its clean-up deadline.
                Wait::Closed => {}
            }
            // A signal flag raised now is not always followed by a
            // wake-up: a check point whose scan stopped short at a message
            // still being written raised it again itself (`look_again`),
            // counting on that message's push to wake the process. But the
            // look above may have gone past that message, written since
            // (and past the signal behind it, not a message yet): its push
            // woke nobody, and none will. So act on the flag now, unless
            // the look stopped at a message still being written (it is
            // then reserved below `arrived`): the announcement waits on
            // it, and its push wakes the process. (An unwinding process
            // does not act on signals: it sleeps, as it would have.)
            if self.pcb.signals.any()
                && receiver.scanned_to() >= self.pcb.mailbox.arrived()
                && !std::thread::panicking()
            {
                let _ = receiver.cancel_wait();
                if self.check_signals_holding(&mut receiver) {
                    *mark = origin;
                }
                continue;
            }
            self.pcb.taken.store(receiver.taken(), Ordering::Relaxed);
            // The check point on return is the one below, holding the
            // receiver, after the wait's announcement is withdrawn.
            self.suspend_then(Suspend::Wait(self.budget.get()), true, false);
            let _ = receiver.cancel_wait();
            if self.check_signals_holding(&mut receiver) {
                // A signal became a message in place. It may lie behind
                // the scan position: it was pushed before its flag was
                // raised, so this receive may have looked at it, and
                // passed it over, while it was not a message yet (or,
                // with a look that stopped short, before this check
                // point). Look again from where the receive began, or
                // the message is never seen and the process waits with
                // it in its mailbox. The predicate may meet again a
                // message it rejected.
                *mark = origin;
            }
        }
    }

    /// The first message that `pred` accepts, if one is queued: a receive
    /// that never waits (no deadline, no clock).
    pub(crate) fn poll(
        &self,
        function: &str,
        pred: &mut impl FnMut(&Envelope) -> bool,
    ) -> Option<Envelope> {
        self.reduce(1);
        let mut mark = Mark::START;
        let mut receiver = self.receiver(function);
        if let Some(marks) = self.queue_marks {
            long_queue::look(self.pcb, marks, receiver.len());
        }
        let found = receiver.take_first_since(&mut mark, pred);
        drop(receiver);
        if found.is_none() {
            // Polling, as a receive whose time was up at once.
            self.polled.set(true);
        }
        found
    }

    /// Suspends until `deadline`, ignoring messages.
    pub(crate) fn sleep_until(&self, deadline: Instant) {
        self.reduce(1);
        if deadline <= Instant::now() {
            self.polled.set(true);
            return;
        }
        let armed = self.arm("sleep", deadline);
        self.publish_taken();
        while !self.fired(&armed) {
            // A signal that ends the process unwinds from here; its timer
            // then fires later, stale, and is ignored.
            self.wait_checked();
        }
    }

    /// Suspends until `ready()` holds (true) or `deadline` passes
    /// (false; `None`: never). Whoever makes `ready()` hold wakes the
    /// process afterwards ([`Pcb::wake`]): wake-ups are permits, so one
    /// that comes between the look and the wait is not lost. A check
    /// point, like a receive.
    pub(crate) fn wait_for(
        &self,
        function: &str,
        deadline: Option<Instant>,
        ready: &mut impl FnMut() -> bool,
    ) -> bool {
        self.reduce(1);
        let mut timer: Option<Armed> = None;
        loop {
            if ready() {
                if let Some(armed) = timer {
                    self.disarm(armed);
                }
                return true;
            }
            if self.time_is_up(function, deadline, &mut timer) {
                return false;
            }
            self.publish_taken();
            // A signal that ends the process unwinds from here; its timer
            // then fires later, stale, and is ignored.
            self.wait_checked();
        }
    }

    /// [`wait_for`](Self::wait_for) with its test behind a pointer, out
    /// of line: one copy for the waits off the message path (a blocking
    /// join, a future's), so that they add no copy of the wait, and of the
    /// timer wheel it inlines, that could change how `call`'s is compiled.
    #[inline(never)]
    pub(crate) fn wait_for_dyn(
        &self,
        function: &str,
        deadline: Option<Instant>,
        ready: &mut dyn FnMut() -> bool,
    ) -> bool {
        self.wait_for(function, deadline, &mut || ready())
    }

    /// Whether the process is ending: unwinding (an exit signal, a
    /// panic, shutdown) or past its body.
    pub(crate) fn is_ending(&self) -> bool {
        self.in_cleanup()
    }

    /// One look at a wait's `deadline` (`None`: none): true if it has
    /// passed; else its timer is armed, the first time, so that it wakes
    /// the process. A deadline already past polls (module docs: clean-up).
    #[inline(always)]
    fn time_is_up(
        &self,
        function: &str,
        deadline: Option<Instant>,
        timer: &mut Option<Armed>,
    ) -> bool {
        let Some(deadline) = deadline else {
            return false;
        };
        match timer {
            None => {
                if deadline <= Instant::now() {
                    self.polled.set(true);
                    return true;
                }
                *timer = Some(self.arm(function, deadline));
                false
            }
            Some(armed) => self.fired(armed),
        }
    }

    fn arm(&self, function: &str, deadline: Instant) -> Armed {
        let seq = self.timer_seq.get() + 1;
        self.timer_seq.set(seq);
        let pcb = Arc::clone(self.pcb);
        let armed = try_with_worker(|core| Armed {
            seq,
            key: core.add_timer(deadline, TimerEvent::Wake { pcb, seq }),
            worker: ptr::from_ref(core),
        });
        armed.unwrap_or_else(|| outside_process(function))
    }

    fn fired(&self, armed: &Armed) -> bool {
        self.pcb.timer_fired.has_fired(armed.seq)
    }

    fn disarm(&self, armed: Armed) {
        // Only the wheel it sits in can take it out; elsewhere (a moved
        // migratable process) it fires later, stale, and is ignored. What
        // comes out is dropped after `try_with_worker` returns.
        let event = try_with_worker(|core| {
            if ptr::eq(core, armed.worker) {
                core.cancel_timer(armed.key)
            } else {
                None
            }
        });
        drop(event);
    }
}

// ---- Hibernation (module `hibernation`) ----------------------------------

impl<'y> ProcessCtx<'y> {
    /// A resumable body found nothing to take and asks to hibernate until
    /// a message arrives or `until` passes. A reduction first, so a check
    /// point (a dying process unwinds again, never hibernates) where a
    /// spent slice yields: a body that asks to hibernate with messages it
    /// will not take, or with a deadline already past, is resumed at once
    /// again and again, and must not keep its worker. Returns `Some(timed_out)`
    /// if the body must go on at once instead (a message arrived since it
    /// looked, or the deadline has passed); `None` if the wait is
    /// announced, and armed, so that the process may give its stack back.
    pub(crate) fn announce_hibernation(
        &self,
        until: Option<Instant>,
        sleeper: &mut Sleeper,
    ) -> Option<bool> {
        self.reduce(1);
        // Nothing looks at the mailbox between that check point and the
        // announcement: if the check point's scan stopped short at a
        // message still being written (and raised its flag again, with no
        // wake-up), the receiver's position is that message, so the
        // announcement waits on it, and its push wakes the process
        // (module `signal_flags`).
        let mut receiver = self.receiver("hibernate");
        match receiver.announce_wait() {
            Wait::Ready => return Some(false),
            // Closed only as the process ends: then it is dying, and the
            // check point above unwound it. A closed mailbox (a body that
            // closed its own) gets no wake-up from a message, as a receive
            // would not; signals still wake it.
            Wait::Sleep | Wait::Closed => {}
        }
        if let Some(deadline) = until {
            if deadline <= Instant::now() {
                let _ = receiver.cancel_wait();
                return Some(true);
            }
            let armed = self.arm("hibernate", deadline);
            let worker = try_with_worker(|core| core.index).unwrap_or(usize::MAX);
            sleeper.timer = Some(ParkedTimer {
                seq: armed.seq,
                key: armed.key,
                worker,
            });
        }
        self.pcb.taken.store(receiver.taken(), Ordering::Relaxed);
        None
    }

    /// The first thing a hibernated process does as it runs again: the
    /// wait it announced is over. Returns whether its deadline passed (its
    /// timer is cancelled if it has not fired and sits in this worker's
    /// wheel; elsewhere it fires later, stale, and is ignored).
    pub(crate) fn woke_from_hibernation(&self, sleeper: &mut Sleeper) -> bool {
        let _ = self.receiver("hibernate").cancel_wait();
        let Some(timer) = sleeper.timer.take() else {
            return false;
        };
        if self.pcb.timer_fired.has_fired(timer.seq) {
            return true;
        }
        let event = try_with_worker(|core| {
            if core.index == timer.worker {
                core.cancel_timer(timer.key)
            } else {
                None
            }
        });
        drop(event);
        false
    }

    /// Moves what must outlive the stack into `sleeper` (module
    /// `hibernation`), ending the context without closing the mailbox.
    pub(crate) fn park_into(self, sleeper: &mut Sleeper) {
        debug_assert!(self.debts.borrow().is_empty(), "no runtime frame is left");
        self.publish_reductions();
        sleeper.timer_seq = self.timer_seq.get();
        sleeper.subject_tag = self.subject_tag.get();
        sleeper.receiver = Some(self.receiver.into_inner().park());
        set_current(ptr::null());
    }
}

// ---- Stack segments ------------------------------------------------------
//
// The running process's stack bounds, switched to a pooled segment and
// back: by `maybe_grow` (module `stack_depth`), and by the red-zone panic
// that a check point raises (its hook runs with room).

/// The stack segment a panic hook runs on (a backtrace to symbolise
/// takes about 20 KiB).
pub(crate) const HOOK_SEGMENT: usize = 128 * 1024;

/// A stack from this worker's pool.
pub(crate) fn take_segment(
    stack_size: usize,
) -> Result<ProcessStack, crate::process::stack::StackError> {
    try_with_worker(|core| core.stacks.borrow_mut().take(stack_size))
        .expect("a process runs on a worker")
}

/// The running process works on `segment`: its context's stack bounds
/// and its control block's guard page say so until this is dropped (as
/// `f` returns or unwinds); then the segment goes back to the pool of the
/// worker the process is on.
pub(crate) struct Switched {
    /// `Some` until dropped.
    segment: Option<ProcessStack>,
    saved: StackBounds,
    saved_guard: usize,
}

impl Switched {
    pub(crate) fn to(segment: ProcessStack) -> Self {
        let bounds = StackBounds::new(segment.range().start, segment.usable());
        // The running process, even while it runs another's exit hooks
        // (`context::shielded`), as the panic hook may then.
        let (saved, saved_guard) = try_with_running_process(|ctx| {
            let saved_guard = ctx.pcb.guard_page().start;
            ctx.pcb.set_guard(segment.guard().start);
            (ctx.set_stack_bounds(bounds), saved_guard)
        })
        .expect("a segment is taken for a running process");
        Self {
            segment: Some(segment),
            saved,
            saved_guard,
        }
    }

    /// The segment, lent to `on_stack`.
    pub(crate) fn stack(&self) -> SegmentStack<'_> {
        SegmentStack(self.segment.as_ref().expect("not dropped"))
    }
}

impl Drop for Switched {
    fn drop(&mut self) {
        let _ = try_with_running_process(|ctx| {
            ctx.set_stack_bounds(self.saved);
            ctx.pcb.set_guard(self.saved_guard);
        });
        if let Some(segment) = self.segment.take() {
            // Giving a stack to the pool runs no user code.
            let _ = try_with_worker(move |core| core.stacks.borrow_mut().give(segment));
        }
    }
}

/// A segment lent to `corosensei::on_stack` for one call.
pub(crate) struct SegmentStack<'a>(&'a ProcessStack);

// SAFETY: delegates to a `ProcessStack` (whose own impl holds: its memory
// is mapped read-write above a guard page while it lives), which the
// borrow keeps alive for as long as `on_stack` runs on it; it was taken
// from the pool for this call alone, so nothing else uses it meanwhile.
unsafe impl Stack for SegmentStack<'_> {
    #[inline]
    fn base(&self) -> StackPointer {
        self.0.base()
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.0.limit()
    }
}

/// Raises the red-zone panic with `message`: its hook runs on a fresh
/// segment (see `stack_depth::install_panic_hook`; here too, should a hook set later
/// have replaced ferrotp's), then the unwind goes on from the process's
/// own stack, back in its own bounds.
#[cold]
#[inline(never)]
pub(crate) fn raise_stack_panic(message: String) -> ! {
    let Ok(segment) = take_segment(HOOK_SEGMENT) else {
        std::panic::panic_any(message)
    };
    let on = Switched::to(segment);
    let raised = corosensei::on_stack(on.stack(), move || {
        catch_unwind(AssertUnwindSafe(move || std::panic::panic_any(message)))
    });
    drop(on);
    match raised {
        Err(payload) => resume_unwind(payload),
        Ok(never) => never,
    }
}
