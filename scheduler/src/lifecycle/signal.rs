//! Exit signals: `exit(pid, reason)`, the `trap_exit` flag, and how a
//! process acts on a signal.
//!
//! # Delivery keeps order
//!
//! An exit signal travels as an [`Exit`] message through the target's
//! mailbox, so signals and messages from one sender keep their order.
//! After pushing it, the sender raises the target's `QUEUED` bit
//! (`Release`) and wakes it (a permit, so a target asleep in `sleep` or in
//! a blocking `send` wakes too).
//!
//! # Acting on signals
//!
//! A process looks at the flag at its *check points*: every reduction
//! (send, receive, spawn, `reduce`), and every return from a suspension
//! (a receive's wait, `sleep`, a blocking `send`, a yield). Seeing it, it
//! clears it (`swap`, `Acquire`: the signal's message is in the mailbox)
//! and scans its mailbox for `Exit` messages not yet delivered as
//! messages:
//!
//! * not trapping exits: a `Normal` signal from another process is
//!   dropped; any other signal ends the process with its reason
//!   (`Normal` from itself included; [`ExitReason::Kill`] ends it with
//!   `Killed`);
//! * trapping exits: a `Kill` signal ends the process with `Killed` (it
//!   cannot be trapped); every other signal (`Killed` included: it is an
//!   ordinary reason, as in Erlang) is marked *delivered*, and stays where
//!   it is in the mailbox as a message for `receive::<Exit>()`. A message
//!   once delivered stays a message if `trap_exit` is turned off later,
//!   as in Erlang.
//!
//! A signal sent by a link ([`link_signal`]) carries the link, and is
//! dropped unread if the link has been cut ([`Link::take_effect`]) by the
//! time the receiver acts on it: after `unlink` returns, the link has no
//! effect on the caller, as Erlang guarantees.
//!
//! # Ending a process from inside
//!
//! The process records the reason and unwinds its stack with a private
//! panic payload (`resume_unwind`, so no panic message is printed): its
//! destructors run. It also remembers that it is dying, so a `catch_unwind`
//! in user code that swallows the unwind only delays it: the next check
//! point unwinds again. Code that catches every time (a loop around
//! `catch_unwind`) would never end: after `UNWIND_RETRIES` such retries the
//! process is abandoned instead: it hands its worker back for good, its
//! remaining destructors never run, its stack is quarantined (module
//! `stack`: never reused nor unmapped), and it ends with
//! its recorded reason (a message on standard error says so). A process
//! that is already unwinding (a destructor that sends, say) is not unwound
//! a second time.
//!
//! # Shutdown
//!
//! Runtime shutdown takes the same path: the worker records `Shutdown`,
//! raises `FORCED_EXIT` (which trapping cannot stop) and wakes the
//! process, which unwinds from where it was suspended. A process suspended
//! in the middle of an unwind (a panic's clean-up that blocked) records
//! nothing then: if the panic ends it, its reason is the panic's; if user
//! code catches the panic, `Shutdown` is recorded as `FORCED_EXIT` acts. A kill sent after
//! the process's body has ended (it is dropping its unread messages, so
//! its mailbox is closed) raises `FORCED_EXIT` too: the process keeps the
//! reason it ended with, and the destructor that blocks is unwound
//! (module `context`: clean-up).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::lifecycle::exit_reason::ExitReason;
use crate::lifecycle::exit_signal::{Exit, Link};
use crate::lifecycle::signal_flags::SignalFlags;
use crate::process::context::{try_with_process, with_process};
use crate::process::{Envelope, Pid};

/// Sends an exit signal with `reason` to `pid` (module docs): the target
/// ends with `reason`, unwinding its stack so that its destructors run,
/// unless it traps exits (then it receives an [`Exit`] message) or the
/// reason is `Normal` and comes from another process (then nothing
/// happens). [`ExitReason::Kill`] cannot be trapped: it ends the target
/// with [`ExitReason::Killed`].
///
/// A suspended target is unwound as soon as its worker resumes it; a
/// running one at its next reduction or blocking call. A signal to a
/// process that has ended is dropped. Callable from any thread.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, exit, receive, run, spawn, yield_now};
/// let reason = run(|| {
///     let worker = spawn(|| loop { receive::<u64>(); });
///     exit(&worker, ExitReason::Kill);
///     while !worker.has_exited() { yield_now(); }
///     worker.exit_reason().unwrap()
/// }).unwrap();
/// assert_eq!(reason, ExitReason::Killed);
/// ```
pub fn exit(pid: &Pid, reason: ExitReason) {
    let from = try_with_process(|ctx| Pid(Arc::clone(ctx.pcb)));
    send_signal(pid, Exit::new(from, reason, None));
    let _ = try_with_process(|ctx| ctx.reduce(1));
}

/// Sends the exit signal of a link: `from` has ended with `reason`, and
/// `to` was linked to it through `link` (crate `ferrotp-supervision`
/// builds links on this and [`Pid::on_exit`]). It acts like [`exit`]
/// sent by `from`, except that `to` drops it unread if
/// [`link.take_effect()`](Link::take_effect) says the link was cut by the
/// time `to` acts on it.
/// Costs no reduction: links send from exit hooks, outside any process.
///
/// ```
/// use std::sync::Arc;
/// use ferrotp_scheduler::{Exit, ExitReason, Link, link_signal, receive, run, self_pid, spawn, trap_exit};
/// struct Always;
/// impl Link for Always { fn take_effect(&self) -> bool { true } }
/// let got = run(|| {
///     trap_exit(true);
///     let me = self_pid();
///     let other = spawn(|| {});
///     link_signal(&me, &other, ExitReason::custom("gone"), Arc::new(Always));
///     let signal = receive::<Exit>();
///     (signal.from == Some(other), signal.from_link(), signal.reason)
/// }).unwrap();
/// assert_eq!(got.2, ExitReason::custom("gone"));
/// assert!(got.0 && got.1);
/// ```
pub fn link_signal(to: &Pid, from: &Pid, reason: ExitReason, link: Arc<dyn Link>) {
    // No process ends with `Kill`, so none should travel over a link; if
    // one is sent anyway, it is the ordinary reason its target would die
    // of.
    let reason = match reason {
        ExitReason::Kill => ExitReason::Killed,
        reason => reason,
    };
    send_signal(to, Exit::new(Some(from.clone()), reason, Some(link)));
}

/// Queues an exit signal for `pid` and tells it (module docs).
fn send_signal(pid: &Pid, signal: Exit) {
    let to = &pid.0;
    // Past any bound, like every signal; a closed mailbox (the process has
    // ended) drops it, as Erlang drops signals to dead processes, except
    // that a kill still reaches a process whose body has ended but which
    // is still dropping its unread messages: a destructor of theirs that
    // blocks is part of the process, and a kill must be able to end it.
    let kill = signal.reason == ExitReason::Kill;
    if to.signals.post(&to.mailbox, Envelope::new(signal)).is_err() {
        if kill && !to.is_exited() {
            to.signals.raise(SignalFlags::FORCED_EXIT);
            to.wake();
        }
        return;
    }
    to.wake();
}

/// Ends the running process now with `reason` (Erlang's `exit/1`): its
/// stack unwinds, so its destructors run, and its links and monitors see
/// `reason`. Unlike [`exit`] sent to itself, trapping exits does not stop
/// it. `exit_self(ExitReason::Kill)` ends it with `Killed`.
///
/// # Panics
/// Outside a process. Called while the process is already unwinding (from
/// a destructor), it aborts the program with a message: Rust cannot start
/// a second unwind during the first.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, exit_self, run, spawn, trap_exit, yield_now};
/// let reason = run(|| {
///     let worker = spawn(|| {
///         trap_exit(true);
///         exit_self(ExitReason::custom("out of work"));
///     });
///     while !worker.has_exited() { yield_now(); }
///     worker.exit_reason().unwrap()
/// }).unwrap();
/// assert_eq!(reason, ExitReason::custom("out of work"));
/// ```
pub fn exit_self(reason: ExitReason) -> ! {
    with_process("exit_self", |ctx| ctx.exit_now(reason))
}

/// Sets whether the running process traps exits; returns the previous
/// setting. Signals that arrived before the call are acted on first,
/// under the previous setting.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use ferrotp_scheduler::{Exit, ExitReason, exit, receive, run, self_pid, trap_exit};
/// let got = run(|| {
///     assert!(!trap_exit(true));
///     exit(&self_pid(), ExitReason::custom("stop"));
///     let signal = receive::<Exit>();
///     (signal.from == Some(self_pid()), signal.reason)
/// }).unwrap();
/// assert_eq!(got, (true, ExitReason::custom("stop")));
/// ```
pub fn trap_exit(trap: bool) -> bool {
    with_process("trap_exit", |ctx| {
        ctx.check_signals();
        ctx.pcb.trap_exit.swap(trap, Ordering::Relaxed)
    })
}

#[cfg(test)]
mod tests {
    use crate::lifecycle::exit_signal::Exit;
    use crate::lifecycle::signal_flags::SignalFlags;
    use crate::process::Envelope;
    use crate::{
        ExitReason, ProcessStatus, exit, process_info, receive, run, self_pid, spawn, trap_exit,
        yield_now,
    };

    /// `send_signal` pushes the signal's message, *then* raises its flag
    /// and wakes the target. A trapping process in `receive::<Exit>()` may
    /// look at the message in between: not a message yet, it is passed
    /// over, and the receive's scan position moves past it. The check
    /// point after the wake-up makes it a message in place; the receive
    /// must look again from where it began, or it waits forever with the
    /// `Exit` in its mailbox (found by an attack program: 20 `spawn_link`s
    /// then 20 `receive::<Exit>()`s, on 2 workers). The send is split here
    /// at that point, so the order is forced, not raced for. A second,
    /// whole signal after it keeps the test from hanging without the fix:
    /// the receive then takes the second first.
    #[test]
    fn a_signal_passed_over_before_its_flag_is_raised_is_received() {
        let reasons = run(|| {
            trap_exit(true);
            let me = self_pid();
            // The first half of `send_signal`: the message, no flag yet.
            let first = Exit::new(None, ExitReason::custom("first"), None);
            assert!(me.0.mailbox.push(Envelope::new(first)).is_ok());
            let target = me.clone();
            spawn(move || {
                // Until the target waits in its receive, having passed the
                // message over.
                while process_info(&target).map(|i| i.status) != Some(ProcessStatus::Waiting) {
                    yield_now();
                }
                // The second half: the flag, then the wake-up.
                target.0.signals.raise(SignalFlags::QUEUED);
                target.0.wake();
                exit(&target, ExitReason::custom("second"));
            });
            let first = receive::<Exit>().reason;
            let second = receive::<Exit>().reason;
            (first, second)
        })
        .unwrap();
        assert_eq!(
            reasons,
            (ExitReason::custom("first"), ExitReason::custom("second"))
        );
    }
}
