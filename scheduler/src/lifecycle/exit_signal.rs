//! The exit-signal message ([`Exit`]) and how a check point finds the
//! signals in its mailbox and decides (the scan and its verdict): the half
//! of the exit-signal path that the running process's context acts on.
//! Module `signal` has the semantics and the sending; module
//! `signal_flags` the protocol that tells a process to look.

use std::any::TypeId;
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use ferrotp_mailbox::Mark;

use crate::lifecycle::exit_reason::ExitReason;
use crate::process::{Envelope, Pid};

/// An exit signal that a process trapping exits receives as a message:
/// `receive::<Exit>()` (Erlang's `{'EXIT', From, Reason}`).
///
/// Only the runtime makes them, from [`exit`](crate::exit()); links (crate
/// `ferrotp-supervision`) send them when a linked process ends.
///
/// ```
/// use ferrotp_scheduler::{Exit, ExitReason, exit, receive, run, self_pid, spawn, trap_exit};
/// let (from_child, from_link, reason) = run(|| {
///     trap_exit(true);
///     let me = self_pid();
///     let child = spawn(move || exit(&me, ExitReason::custom("bye")));
///     // Trapped: the signal is a message, and this process lives on.
///     let signal = receive::<Exit>();
///     (signal.from == Some(child), signal.from_link(), signal.reason)
/// }).unwrap();
/// assert!(from_child && !from_link);
/// assert_eq!(reason, ExitReason::custom("bye"));
/// ```
pub struct Exit {
    /// The process that sent the signal; `None` when it came from outside
    /// any process.
    pub from: Option<Pid>,
    /// The reason it carries.
    pub reason: ExitReason,
    /// Set once the signal has been delivered as a message (the receiver
    /// trapped exits when it looked): from then on it is a plain message.
    delivered: Cell<bool>,
    /// The link that sent it, if a link did.
    link: Option<Arc<dyn Link>>,
    /// What the link answered when asked ([`Link::take_effect`]): 0 not
    /// yet asked, 1 the signal stands, 2 the link was cut.
    link_answer: Cell<u8>,
}

/// The link an exit signal came over, as its receiver sees it
/// ([`link_signal`](crate::link_signal)).
pub trait Link: Send + Sync {
    /// Called once, by the receiving process, as it acts on the signal:
    /// true if the link still stands, so the signal takes effect (and the
    /// link is over); false if it was cut since the signal was sent, so
    /// the signal is dropped unread.
    fn take_effect(&self) -> bool;
}

impl Exit {
    pub(crate) fn new(from: Option<Pid>, reason: ExitReason, link: Option<Arc<dyn Link>>) -> Self {
        Self {
            from,
            reason,
            delivered: Cell::new(false),
            link,
            link_answer: Cell::new(0),
        }
    }

    /// Whether a link sent this signal (rather than [`exit`](crate::exit())).
    pub fn from_link(&self) -> bool {
        self.link.is_some()
    }

    /// An undelivered signal whose link has been cut since it was sent;
    /// asks the link once.
    fn revoked(&self) -> bool {
        let Some(link) = &self.link else {
            return false;
        };
        if self.link_answer.get() == 0 {
            self.link_answer.set(if link.take_effect() { 1 } else { 2 });
        }
        self.link_answer.get() == 2
    }
}

impl fmt::Debug for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exit")
            .field("from", &self.from)
            .field("reason", &self.reason)
            .field("from_link", &self.from_link())
            .finish()
    }
}

/// The panic payload with which a process unwinds itself to end on a
/// signal; its exit reason is recorded before.
pub(crate) struct SignalUnwind;

/// How many times a dying process is unwound again after user code caught
/// the unwind, before the runtime gives up on unwinding it and abandons
/// it (its remaining destructors never run).
pub(crate) const UNWIND_RETRIES: u8 = 2;

/// Whether a payload caught with `catch_unwind` is the unwind by which a
/// process ends on an exit signal (or [`exit_self`](crate::exit_self)), rather than a panic.
/// Code that catches unwinds (a supervisor calling a start function, say)
/// should resume such a payload at once: the process is ending.
///
/// ```
/// use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
/// use ferrotp_scheduler::{ExitReason, exit_self, is_exit_unwind, run, spawn, yield_now};
/// let reason = run(|| {
///     let worker = spawn(|| {
///         let caught = catch_unwind(AssertUnwindSafe(|| exit_self(ExitReason::custom("done"))));
///         let payload = caught.unwrap_err();
///         assert!(is_exit_unwind(payload.as_ref()));
///         resume_unwind(payload);
///     });
///     while !worker.has_exited() { yield_now(); }
///     worker.exit_reason().unwrap()
/// }).unwrap();
/// assert_eq!(reason, ExitReason::custom("done"));
/// ```
pub fn is_exit_unwind(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<SignalUnwind>()
}

/// What a scan of the mailbox decided.
pub(crate) enum Verdict {
    /// Go on (signals dropped or delivered as messages). `delivered`: the
    /// scan turned at least one signal into a message, in place: a receive
    /// whose scan position has passed it over (it was not a message yet)
    /// must look again from where it began (`ProcessCtx::receive`).
    Live {
        /// A signal became a message.
        delivered: bool,
    },
    /// End with this reason.
    Die(ExitReason),
}

/// Scans the mailbox for undelivered signals (module docs). `me` is the
/// scanning process, `trapping` its flag.
///
/// `arrived` is the mailbox's arrival count when the flag was taken: if
/// the scan stops short of it (a message ahead of the signal is still
/// being written), the flag is raised again, so that the next check point
/// (the one after the wake-up that write brings) looks again. That write's
/// push wakes only a process whose wait announced itself on the mailbox:
/// module `signal_flags` says how each wait sees to it.
pub(crate) fn scan<R: ferrotp_mailbox::MailboxRef<Envelope>>(
    receiver: &mut ferrotp_mailbox::Receiver<Envelope, R>,
    me: &Pid,
    trapping: bool,
    arrived: u64,
) -> Verdict {
    let verdict = scan_now(receiver, me, trapping);
    if matches!(verdict, Verdict::Live { .. }) {
        me.0.signals.look_again_if_short(receiver, arrived);
    }
    verdict
}

/// Whether a receive of type `T` may take `e`, which is a `T`: an exit
/// signal not yet acted on is not a message yet (it could be a `Kill`
/// a trapping process must not survive). Free for every `T` but `Exit`:
/// the type test folds away.
#[inline(always)]
pub(crate) fn receivable<T: 'static>(e: &Envelope) -> bool {
    let (wanted, exit) = (const { TypeId::of::<T>() }, const { TypeId::of::<Exit>() });
    wanted != exit || !undelivered(e)
}

/// An exit signal `Kill` not yet acted on.
pub(crate) fn is_undelivered_kill(e: &Envelope) -> bool {
    e.downcast_ref::<Exit>()
        .is_some_and(|exit| !exit.delivered.get() && exit.reason == ExitReason::Kill)
}

/// An exit signal not yet acted on (not yet delivered as a message).
#[inline]
pub(crate) fn undelivered(e: &Envelope) -> bool {
    e.downcast_ref::<Exit>()
        .is_some_and(|exit| !exit.delivered.get())
}

fn scan_now<R: ferrotp_mailbox::MailboxRef<Envelope>>(
    receiver: &mut ferrotp_mailbox::Receiver<Envelope, R>,
    me: &Pid,
    trapping: bool,
) -> Verdict {
    let mut start = Mark::START;
    let mut delivered = false;
    loop {
        // Trapping, every signal that can be trapped is marked delivered
        // in place (and so stays a message); the scan stops at one that
        // must be taken out: a cut link's, or one that ends the process.
        let taken = receiver.take_first_since(&mut start, |e| {
            if !undelivered(e) {
                return false;
            }
            let exit = e.downcast_ref::<Exit>().expect("checked above");
            if exit.revoked() || !trapping || exit.reason == ExitReason::Kill {
                return true;
            }
            exit.delivered.set(true);
            delivered = true;
            false
        });
        let Some(envelope) = taken else {
            return Verdict::Live { delivered };
        };
        let Ok(signal) = envelope.take::<Exit>() else {
            unreachable!("the predicate matched an Exit")
        };
        if signal.revoked() {
            continue;
        }
        if signal.reason == ExitReason::Kill {
            return Verdict::Die(ExitReason::Killed);
        }
        // Not trapping.
        let from_itself = signal.from.as_ref() == Some(me);
        if signal.reason == ExitReason::Normal && !from_itself {
            continue;
        }
        return Verdict::Die(signal.reason);
    }
}
