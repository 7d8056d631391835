//! Why a process ended: Erlang's exit reasons as a Rust type.
//!
//! The reasons the runtime itself produces are variants; anything else a
//! process (or a supervisor) wants to say is a [`ExitReason::Custom`]
//! string, as Erlang allows any term. Reasons are cheap to clone (they are
//! copied to every link and monitor of the process), so text is shared
//! behind an `Arc`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use ferrotp_mailbox::sync::UnsafeCell;

use crate::process::run_state::RunState;

/// Why a process ended.
///
/// Every process ends with one, which its links and monitors (crate
/// `ferrotp-supervision`) and its exit hooks ([`Pid::on_exit`]) see:
///
/// ```
/// use ferrotp_scheduler::{ExitReason, SpawnOptions, exit_self, receive, run, self_pid, send,
///     spawn_with};
/// let reasons = run(|| {
///     // Spawns `body` and waits for the reason it ends with.
///     let end_of = |body: fn()| {
///         let me = self_pid();
///         spawn_with(SpawnOptions::new(), |child| {
///             child.on_exit(move |reason| send(&me, reason.clone()));
///         }, body).unwrap();
///         receive::<ExitReason>()
///     };
///     [
///         end_of(|| {}),
///         end_of(|| panic!("bad input")),
///         end_of(|| exit_self(ExitReason::custom("done"))),
///     ]
/// }).unwrap();
/// assert_eq!(reasons, [
///     ExitReason::Normal,
///     ExitReason::Panic("bad input".into()),
///     ExitReason::custom("done"),
/// ]);
/// assert!(reasons[0].is_normal() && !reasons[1].is_normal());
/// assert_eq!(reasons[1].to_string(), "panic: bad input");
/// ```
///
/// [`Pid::on_exit`]: crate::Pid::on_exit
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    /// Its function returned.
    Normal,
    /// It was asked to stop: by its supervisor, or by the runtime shutting
    /// down.
    Shutdown,
    /// It was killed: the reason a process ends with when the signal
    /// [`ExitReason::Kill`] reaches it. As a signal reason (over a link, or
    /// sent with `exit`) it is an ordinary one, which a process trapping
    /// exits receives as a message.
    Killed,
    /// The untrappable signal: `exit(pid, Kill)` ends `pid` with
    /// [`ExitReason::Killed`] whether it traps exits or not (Erlang's
    /// `exit(Pid, kill)`). It is only ever a signal: no process ends with
    /// it, so it never travels over a link.
    Kill,
    /// It panicked; the panic's message.
    Panic(Arc<str>),
    /// It did not exist: the reason given for a dead or unknown pid.
    NoProc,
    /// It ran out of stack: it reached a check point inside its red zone
    /// (its stack unwound, module docs of
    /// [`maybe_grow`](crate::maybe_grow)), or, with the `unsafe`
    /// [`exit_process_on_stack_overflow`](crate::Builder::exit_process_on_stack_overflow)
    /// opt-in, it ran into its guard page (its destructors did not run).
    StackOverflow,
    /// A reason of the program's own.
    Custom(Arc<str>),
}

impl ExitReason {
    /// A reason of the program's own.
    ///
    /// ```
    /// use ferrotp_scheduler::exit_reason::ExitReason;
    /// let reason = ExitReason::custom("lost connection to the database");
    /// assert_eq!(reason.to_string(), "lost connection to the database");
    /// assert!(!reason.is_normal());
    /// ```
    pub fn custom(reason: impl Into<Arc<str>>) -> Self {
        ExitReason::Custom(reason.into())
    }

    /// The reason for a panic, from the payload `catch_unwind` returned:
    /// its message when the payload is a string (as `panic!` makes it),
    /// a placeholder otherwise.
    ///
    /// ```
    /// use ferrotp_scheduler::exit_reason::ExitReason;
    /// let payload = std::panic::catch_unwind(|| panic!("bad input: {}", 42)).unwrap_err();
    /// assert_eq!(ExitReason::from_panic(payload.as_ref()), ExitReason::Panic("bad input: 42".into()));
    /// ```
    pub fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let message: Arc<str> = if let Some(message) = payload.downcast_ref::<&'static str>() {
            (*message).into()
        } else if let Some(message) = payload.downcast_ref::<String>() {
            message.as_str().into()
        } else {
            "panic with a non-string payload".into()
        };
        ExitReason::Panic(message)
    }

    /// Whether this is `Normal`: the one reason that linked processes
    /// ignore when they do not trap exits.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// Whether a supervisor counts this as a clean stop for a `transient`
    /// child: `Normal` or `Shutdown` (as in OTP).
    pub fn is_clean_stop(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Kill => f.write_str("kill"),
            ExitReason::Panic(message) => write!(f, "panic: {message}"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::StackOverflow => f.write_str("stack overflow"),
            ExitReason::Custom(reason) => f.write_str(reason),
        }
    }
}

/// The exit reason of one process, and its publication: written by the
/// process's owner (the thread running it, or the worker holding it
/// suspended or never run) until the process is marked `EXITED` in its
/// run state, read by anyone after (the loom model
/// `tests/loom_exit_reason.rs` checks it).
///
/// The first reason recorded stands: a kill records `Killed` before the
/// unwind it starts, and the body's own result does not replace it.
pub struct ExitRecord(UnsafeCell<Option<ExitReason>>);

// SAFETY: the cell is written only by the process's owner, one thread at a
// time (the callers of the `unsafe` methods promise it), before the
// `Release` store of `EXITED` (`publish`); other threads read it only
// after an `Acquire` load that saw `EXITED` (`published`), and nobody
// writes it after. `ExitReason` is `Send + Sync`.
unsafe impl Sync for ExitRecord {}

impl Default for ExitRecord {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ExitRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExitRecord")
    }
}

impl ExitRecord {
    /// No reason recorded.
    pub fn new() -> Self {
        Self(UnsafeCell::new(None))
    }

    /// Records `reason`, unless a reason is recorded already.
    ///
    /// # Safety
    /// The caller owns the process, which has not been published as
    /// exited: no other thread reads or writes the record meanwhile.
    pub unsafe fn record(&self, reason: ExitReason) {
        self.0.with_mut(|slot| {
            // SAFETY: the caller is the only thread touching the cell.
            let slot = unsafe { &mut *slot };
            if slot.is_none() {
                *slot = Some(reason);
            }
        });
    }

    /// The reason recorded so far.
    ///
    /// # Safety
    /// As for [`record`](Self::record).
    pub unsafe fn recorded(&self) -> Option<ExitReason> {
        // SAFETY: the caller is the only thread touching the cell.
        self.0.with(|slot| unsafe { (*slot).clone() })
    }

    /// Marks the process exited in `state`, publishing what was recorded.
    ///
    /// # Safety
    /// As for [`record`](Self::record); nothing is recorded after.
    pub unsafe fn publish(&self, state: &RunState) {
        // Release: the recorded reason is visible to whoever sees EXITED.
        state.set_exited();
    }

    /// The reason, once `state` says the process has exited.
    pub fn published(&self, state: &RunState) -> Option<ExitReason> {
        self.with_published(state, |reason| reason.cloned())
    }

    /// Runs `f` with the reason, once `state` says the process has exited
    /// (`None` before).
    pub fn with_published<R>(
        &self,
        state: &RunState,
        f: impl FnOnce(Option<&ExitReason>) -> R,
    ) -> R {
        // Acquire: pairs with the Release in `publish`.
        if !state.is_exited() {
            return f(None);
        }
        // SAFETY: the owner wrote the reason before its Release store of
        // EXITED, which `is_exited` acquired, and nobody writes it after.
        self.0.with(|slot| f(unsafe { (*slot).as_ref() }))
    }
}
