//! What a process's coroutine yields and returns: the protocol between a
//! process (module `context` suspends it) and the worker that resumes it
//! (`worker/run_loop.rs`).

use crate::lifecycle::exit_reason::ExitReason;

/// Why a process handed its worker back.
pub(crate) enum Suspend {
    /// `yield_now`: to the back of the run queue.
    Yield,
    /// Out of budget: behind the processes that wait for each other
    /// (module `run_loop`: `preempted`).
    Spent,
    /// Waiting to be woken; carries the unused budget (a process woken by
    /// this one into the LIFO slot runs on it).
    Wait(u32),
    /// Given up for good (module `worker`: abandon): never resume it. The
    /// worker pays what the runtime's frames on its stack owed (module
    /// `debt`), left with it by `WorkerCore::leave_debts`.
    Abandon,
}

/// How a process ended (or hibernated): its reason is decided by the
/// body; the unused budget is passed on like `Suspend::Wait`'s.
pub(crate) struct Finished {
    pub(crate) reason: ExitReason,
    pub(crate) budget: u32,
    /// The overflow handler ended it (module `overflow`): its frames were
    /// discarded, not unwound.
    pub(crate) trapped: bool,
    /// Not ended: a resumable body hibernates (module `hibernation`), and
    /// this is what it keeps; `reason` means nothing then.
    pub(crate) hibernate: Option<Box<crate::process::hibernation::Sleeper>>,
}

/// What a runtime frame on a process's stack owes others (module `debt`
/// has the one kind, `Debt`): listed by the process's context, handed to
/// the worker with `Suspend::Abandon`, paid by it. A trait so that the
/// context and the worker's core, below module `debt`, can hold it.
pub(crate) trait Payable: Send + Sync {
    /// The process was abandoned: pays what the frame owed, unless the
    /// frame settled it.
    fn pay(&self);
}

/// A debt as the context and the worker hold it.
pub(crate) type OwedByFrame = std::sync::Arc<dyn Payable>;
