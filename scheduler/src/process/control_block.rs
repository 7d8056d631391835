//! The shared half of a process: its control block, the [`Pid`] handle to
//! it, its run state, and how it is woken.
//!
//! # Two halves
//!
//! A process is split in two:
//! * the **control block** ([`Pcb`], behind [`Pid`]): identity, mailbox,
//!   run state, exit reason. It is `Send + Sync`; any thread holding a
//!   `Pid` may send to the process or wake it.
//! * the **coroutine** (its stack and suspended registers). It lives in
//!   the slab of the worker it first ran on and never leaves that thread
//!   (module `worker`, and the migration rule in the crate docs).
//!
//! # Run state
//!
//! The control block's [`RunState`] says whether the process runs, waits
//! or is queued; [`Pcb::wake`] turns a wake-up into "queue it on its home
//! worker" exactly once (module `run_state`).

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use ferrotp_mailbox::{Mailbox, MailboxRef};

use crate::lifecycle::exit_hooks::{ClosedHooks, ExitHooks};
use crate::lifecycle::exit_reason::{ExitReason, ExitRecord};
use crate::lifecycle::signal_flags::SignalFlags;
use crate::messaging::long_queue::QueueMarks;
use crate::messaging::reply_slot::LazyReplySlot;
use crate::process::process_id::ProcessId;
use crate::process::run_state::RunState;
use crate::time::timer_state::TimerFired;
use crate::worker::shared::Shared;

pub(crate) use crate::messaging::envelope::Envelope;

/// Keeps the runtime's shared state alive for the control blocks that
/// point at it. Each worker has its own anchor, so that spawning (which
/// clones the spawning worker's anchor) does not make every worker bump
/// one reference count on one cache line.
pub(crate) struct Anchor {
    pub(crate) shared: Arc<Shared>,
}

/// A process control block.
pub(crate) struct Pcb {
    pub(crate) id: ProcessId,
    /// What few processes have (a name, an extension), boxed so that the
    /// others pay one word.
    pub(crate) extras: Option<Box<Extras>>,
    /// The long-message-queue marks (module `long_queue`), fixed at spawn.
    pub(crate) queue_marks: Option<QueueMarks>,
    /// Its mailbox has been reported long and has not drained to the low
    /// mark since (written by the process only).
    pub(crate) queue_long: AtomicBool,
    pub(crate) mailbox: Mailbox<Envelope>,
    pub(crate) state: RunState,
    /// The worker whose slab holds the coroutine (valid once it has run).
    home: AtomicU32,
    /// The coroutine's key in that slab.
    key: AtomicU32,
    /// Requested usable stack bytes.
    pub(crate) stack_size: usize,
    /// The lowest address of the stack's guard page, once it has a stack
    /// (module `overflow`).
    guard: AtomicUsize,
    /// Spawned with the `unsafe` migratable opt-in.
    pub(crate) migratable: bool,
    /// Signals not yet acted on (module `signal_flags`).
    pub(crate) signals: SignalFlags,
    /// The process traps exits (written by the process itself).
    pub(crate) trap_exit: AtomicBool,
    /// The process is ending (destructors running); for `process_info`.
    pub(crate) exiting: AtomicBool,
    /// Reductions consumed, published by the process as it suspends.
    pub(crate) reductions: AtomicU64,
    /// Messages its receiver had taken when it last waited (module `info`).
    pub(crate) taken: AtomicU64,
    /// The sequence number of the process's last timer that fired.
    pub(crate) timer_fired: TimerFired,
    /// Written by the process's owner only, before `EXITED` (see
    /// [`ExitRecord`]).
    exit: ExitRecord,
    /// Run once, with the exit reason, when the process ends.
    pub(crate) hooks: ExitHooks,
    /// Where replies to the process's calls land (module `reply_slot`).
    pub(crate) reply: LazyReplySlot,
    anchor: Arc<Anchor>,
}

/// The rarely set parts of a control block.
pub(crate) struct Extras {
    pub(crate) name: Option<Arc<str>>,
    /// Set by the spawner ([`SpawnOptions::extension`](crate::SpawnOptions::extension)).
    pub(crate) extension: Option<Arc<dyn Any + Send + Sync>>,
}

impl Pcb {
    pub(crate) fn new(
        id: ProcessId,
        anchor: Arc<Anchor>,
        extras: Option<Box<Extras>>,
        queue_marks: Option<QueueMarks>,
        mailbox: Mailbox<Envelope>,
        stack_size: usize,
        migratable: bool,
    ) -> Self {
        Self {
            id,
            extras,
            queue_marks,
            queue_long: AtomicBool::new(false),
            mailbox,
            state: RunState::new(),
            home: AtomicU32::new(u32::MAX),
            key: AtomicU32::new(u32::MAX),
            stack_size,
            guard: AtomicUsize::new(0),
            migratable,
            signals: SignalFlags::new(),
            trap_exit: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            reductions: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            timer_fired: TimerFired::new(),
            exit: ExitRecord::new(),
            hooks: ExitHooks::new(),
            reply: LazyReplySlot::new(),
            anchor,
        }
    }

    /// Makes an ended process's control block, held by nothing else, as
    /// a new one is, keeping its allocation for a later spawn
    /// (`WorkerCore::spare_pcbs`). Returns what it held (its mailbox, exit
    /// reason, hooks' table, name, extension...), for the caller to drop
    /// as its last drop would have: replaced whole first, so that the
    /// block is valid whatever those destructors (user code: an
    /// extension's) do, spawn or panic.
    #[must_use]
    pub(crate) fn blank(&mut self, anchor: &Arc<Anchor>) -> Pcb {
        let blank = Pcb::new(
            self.id,
            Arc::clone(anchor),
            None,
            None,
            Mailbox::new(),
            self.stack_size,
            false,
        );
        std::mem::replace(self, blank)
    }

    /// A [`blank`](Self::blank) control block made ready for a process
    /// spawned with default options (as `Pcb::new` with no extras, an
    /// unbounded mailbox and not migratable).
    pub(crate) fn reuse(
        &mut self,
        id: ProcessId,
        queue_marks: Option<QueueMarks>,
        stack_size: usize,
    ) {
        self.id = id;
        self.queue_marks = queue_marks;
        self.stack_size = stack_size;
    }

    /// The name given at spawn.
    pub(crate) fn name(&self) -> Option<&str> {
        self.extras.as_ref()?.name.as_deref()
    }

    #[inline]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.anchor.shared
    }

    /// Where the coroutine lives: (worker, slab key). Inlined: LLVM
    /// left it a call in `send` (a wake-up's one look at it).
    #[inline]
    pub(crate) fn place(&self) -> (usize, usize) {
        (
            self.home.load(Ordering::Relaxed) as usize,
            self.key.load(Ordering::Relaxed) as usize,
        )
    }

    /// Worker side: the coroutine now lives at `key` in `worker`'s slab.
    /// Published to wakers by the `Release` of the next
    /// [`RunState::suspended_waiting`].
    pub(crate) fn settle(&self, worker: usize, key: usize) {
        let key = u32::try_from(key).expect("fewer than 4 billion processes per worker");
        self.home.store(worker as u32, Ordering::Relaxed);
        self.key.store(key, Ordering::Relaxed);
    }

    /// Worker side: the process got its stack, whose guard page starts at
    /// `guard` (read by the overflow handler on the same thread).
    pub(crate) fn set_guard(&self, guard: usize) {
        self.guard.store(guard, Ordering::Relaxed);
    }

    /// The guard page below the process's stack (empty before it has one).
    pub(crate) fn guard_page(&self) -> std::ops::Range<usize> {
        let start = self.guard.load(Ordering::Relaxed);
        if start == 0 {
            return 0..0;
        }
        start..start + crate::process::stack::page_size()
    }

    /// Records `reason` (unless an earlier reason was recorded, such as
    /// `Killed` or `Shutdown` before the unwind), publishes the end, and
    /// closes the exit hooks: returns them, for `set_exited`
    /// (`lifecycle/end.rs`) to run.
    ///
    /// # Safety
    /// As for [`Pcb::set_exit_reason`].
    #[must_use]
    pub(crate) unsafe fn publish_exit(&self, reason: ExitReason) -> ClosedHooks {
        // SAFETY: forwarded.
        unsafe {
            self.exit.record(reason);
            self.exit.publish(&self.state);
        }
        // After EXITED: a hook that looks at the pid sees it has ended.
        self.hooks.close()
    }

    /// Records the exit reason (the first one recorded stands), ahead of
    /// the unwinding that ends the process.
    ///
    /// # Safety
    /// The caller owns the process, which has not exited: it is the
    /// thread running it, or holding it never-run or settled (module
    /// `worker`). So no other thread writes the reason at the same time,
    /// and none reads it ([`Pcb::exit_reason`] reads only after `EXITED`).
    pub(crate) unsafe fn set_exit_reason(&self, reason: ExitReason) {
        // SAFETY: forwarded.
        unsafe { self.exit.record(reason) };
    }

    /// The exit reason, once the process has ended.
    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        self.exit.published(&self.state)
    }

    /// Runs `f` with the exit reason, once the process has ended.
    pub(crate) fn with_exit_reason<R>(&self, f: impl FnOnce(Option<&ExitReason>) -> R) -> R {
        self.exit.with_published(&self.state, f)
    }

    /// The reason recorded so far, read by the process's owner.
    ///
    /// # Safety
    /// As for [`Pcb::set_exit_reason`].
    pub(crate) unsafe fn recorded_exit_reason(&self) -> Option<ExitReason> {
        // SAFETY: forwarded.
        unsafe { self.exit.recorded() }
    }

    pub(crate) fn is_exited(&self) -> bool {
        self.state.is_exited()
    }
}

/// The mailbox of a process, as its receiver sees it. A borrow, not an
/// `Arc`: the receiver lives in the process's context, which borrows the
/// control block its body holds, so no reference count is touched.
pub(crate) struct PcbMailbox<'p>(pub(crate) &'p Pcb);

// SAFETY: the mailbox is a field of the control block, which the borrow
// keeps alive, at one address, for as long as this handle (and so the
// receiver holding it) lives.
unsafe impl MailboxRef<Envelope> for PcbMailbox<'_> {
    fn mailbox(&self) -> &Mailbox<Envelope> {
        &self.0.mailbox
    }
}

/// The address of a process: a cheap, clonable handle to send to it.
///
/// Prints like an Erlang pid, `<0.42.0>` (see
/// [`ProcessId`]). Two `Pid`s are equal when they name the same process.
/// A `Pid` outlives its process: sending to a process that has ended is
/// not an error, the message becomes a *dead letter* (counted by the
/// runtime, and handed to its dead-letter hook if one is set).
///
/// ```
/// let pid = ferrotp_scheduler::run(|| ferrotp_scheduler::self_pid()).unwrap();
/// assert!(pid.to_string().starts_with("<0."));
/// assert!(pid.has_exited());
/// ```
#[derive(Clone)]
pub struct Pid(pub(crate) Arc<Pcb>);

impl Pid {
    /// The process's identity.
    pub fn id(&self) -> ProcessId {
        self.0.id
    }

    /// The name given at spawn ([`SpawnOptions::name`](crate::SpawnOptions::name)), if any.
    pub fn name(&self) -> Option<&str> {
        self.0.name()
    }

    /// The value its spawner attached
    /// ([`SpawnOptions::extension`](crate::SpawnOptions::extension)), if
    /// any: how a behaviour built on processes (the facade's actors and
    /// state machines) publishes what it is, for introspection.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ferrotp_scheduler::{SpawnOptions, run, spawn_opt};
    /// let kind = run(|| {
    ///     let pid = spawn_opt(SpawnOptions::new().extension(Arc::new("pool worker")), || {})
    ///         .unwrap();
    ///     pid.extension().and_then(|e| e.downcast_ref::<&str>().copied())
    /// }).unwrap();
    /// assert_eq!(kind, Some("pool worker"));
    /// ```
    pub fn extension(&self) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.0.extras.as_ref()?.extension.as_ref()
    }

    /// Whether the process has ended.
    pub fn has_exited(&self) -> bool {
        self.0.is_exited()
    }

    /// Why the process ended; `None` while it runs.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.0.exit_reason()
    }

    /// The capacity of the process's mailbox, if it is bounded.
    pub fn mailbox_capacity(&self) -> Option<usize> {
        self.0.mailbox.capacity()
    }

    /// How many messages wait in the process's mailbox (Erlang's
    /// `message_queue_len`): those arrived, less those it has taken, as
    /// of its last wait (a running process may have taken more since).
    /// Two relaxed loads, no allocation: cheap enough to pick the least
    /// loaded of several processes per message. 0 once it has ended.
    ///
    /// ```
    /// use ferrotp_scheduler::{receive, run, send, spawn};
    /// let queued = run(|| {
    ///     let idle = spawn(|| { receive::<()>(); });
    ///     send(&idle, "not a ()");
    ///     send(&idle, "nor this");
    ///     let queued = idle.message_queue_len();
    ///     send(&idle, ());
    ///     queued
    /// }).unwrap();
    /// assert_eq!(queued, 2);
    /// ```
    pub fn message_queue_len(&self) -> u64 {
        if self.0.is_exited() {
            return 0;
        }
        self.0
            .mailbox
            .arrived()
            .saturating_sub(self.0.taken.load(Ordering::Relaxed))
    }
}

impl PartialEq for Pid {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for Pid {}

impl Hash for Pid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

impl PartialOrd for Pid {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pid {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.id.cmp(&other.0.id)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.id, f)
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.name() {
            Some(name) => write!(f, "Pid({} {name:?})", self.0.id),
            None => write!(f, "Pid({})", self.0.id),
        }
    }
}

/// An exit hook registered with [`Pid::on_exit`]; dropping it keeps the
/// hook registered.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, receive, run, self_pid, send, spawn};
/// let (removed, ran, late, late_removed) = run(|| {
///     let me = self_pid();
///     let child = spawn(|| { receive::<()>(); });
///     let tell = |what: &'static str| {
///         let me = me.clone();
///         move |_: &ExitReason| send(&me, what)
///     };
///     let first = child.on_exit(tell("first"));
///     let second = child.on_exit(tell("second"));
///     assert_eq!(second.pid(), &child);
///     let removed = first.remove(); // before it ran: it never will
///     send(&child, ());
///     let ran = receive::<&str>();
///     // On a process that has ended, a hook runs at once, with NoProc.
///     let late = child.on_exit(move |reason| send(&me, reason.clone()));
///     (removed, ran, receive::<ExitReason>(), late.remove())
/// }).unwrap();
/// assert_eq!((removed, ran), (true, "second"));
/// assert_eq!((late, late_removed), (ExitReason::NoProc, false));
/// ```
#[derive(Debug)]
pub struct ExitHook {
    pid: Pid,
    /// `None`: it ran at once (the process had ended).
    id: Option<u64>,
}

impl ExitHook {
    /// The handle of hook `id` on `pid` (`None`: it ran at once).
    pub(crate) fn new(pid: Pid, id: Option<u64>) -> Self {
        Self { pid, id }
    }

    /// The process the hook watches.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// Whether the hook was registered: false if the process had already
    /// ended, so that the hook ran at once, with
    /// [`ExitReason::NoProc`](crate::ExitReason::NoProc).
    pub fn is_registered(&self) -> bool {
        self.id.is_some()
    }

    /// Unregisters the hook. True if it was removed before it ran; false
    /// if it has run, is running, or ran at registration (`NoProc`).
    pub fn remove(self) -> bool {
        self.id.is_some_and(|id| self.pid.0.hooks.remove(id))
    }
}

/// A message sent to a process that had already ended.
///
/// Handed to the hook set with
/// [`Builder::dead_letter_hook`](crate::Builder::dead_letter_hook).
///
/// ```
/// use std::sync::mpsc;
/// use ferrotp_scheduler::{DeadLetter, Runtime, receive, self_pid, send, spawn};
/// let (tx, letters) = mpsc::channel::<DeadLetter>();
/// let rt = Runtime::builder()
///     .workers(2)
///     .dead_letter_hook(move |letter| tx.send(letter).unwrap())
///     .build()?;
/// let gone = rt.block_on(|| {
///     let me = self_pid();
///     let child = spawn(|| {});
///     child.on_exit(move |_| send(&me, ())); // runs once the child has ended
///     receive::<()>();
///     send(&child, 42u32);
///     child
/// });
/// let letter = letters.try_recv().unwrap(); // the hook ran in `send`
/// assert_eq!(letter.to, gone);
/// assert_eq!(letter.message.downcast_ref::<u32>(), Some(&42));
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
pub struct DeadLetter {
    /// The process the message was for.
    pub to: Pid,
    /// The message, as sent (`downcast` it to look inside).
    pub message: Box<dyn Any + Send>,
}

impl fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    /// W4's goal is one stack page plus the control block per blocked
    /// process (4.5 KiB); the control block must stay small for that.
    /// A control block nothing holds is blanked and reused by the next
    /// plain spawn; one that a pid holds keeps its identity and its end.
    #[test]
    fn only_an_unshared_control_block_is_reused() {
        use crate::{ExitReason, receive, run, self_pid, send, spawn, yield_now};
        let (reused, held_id, held_reason, again_id) = run(|| {
            let me = self_pid();
            let address_of_child = || {
                let me = me.clone();
                spawn(move || {
                    let address = std::sync::Arc::as_ptr(&self_pid().0) as usize;
                    send(&me, address);
                });
                let address = receive::<usize>();
                // The child ends (and is blanked) before this runs on.
                yield_now();
                address
            };
            let first = address_of_child();
            let second = address_of_child();
            let held = spawn(|| panic!("held"));
            let held_id = held.id();
            while !held.has_exited() {
                yield_now();
            }
            for _ in 0..10 {
                address_of_child();
            }
            (first == second, held_id, held.exit_reason(), held.id())
        })
        .unwrap();
        assert!(reused, "the unshared block was reused");
        assert_eq!(held_id, again_id);
        assert_eq!(held_reason, Some(ExitReason::Panic("held".into())));
    }

    #[test]
    fn the_control_block_stays_small() {
        let size = std::mem::size_of::<super::Pcb>();
        assert!(size <= 192, "Pcb is {size} bytes");
    }
}
