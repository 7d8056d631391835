//! Sending: [`send`], [`try_send`], and waiting for room in a bounded
//! mailbox.
//!
//! Messages are any `Send + 'static` value. Messages from one sender to
//! one receiver arrive in the order sent.

use std::sync::Arc;
use std::task::{Wake, Waker};

use ferrotp_mailbox::TryPushError;

use crate::messaging::delivery::{dead_letter, deliver, try_deliver};
use crate::messaging::receive::take_typed;
use crate::process::context::{try_with_process, with_process};
use crate::process::debt::Debt;
use crate::process::{Envelope, Pcb, Pid};
use crate::worker::core::try_with_worker;

/// Sends `message` to `to`. Never fails: if `to` has ended, the message
/// becomes a dead letter (counted; see
/// [`Builder::dead_letter_hook`](crate::Builder::dead_letter_hook)).
///
/// If `to`'s mailbox is bounded and full, a sending process suspends until
/// there is room (a plain thread blocks). Costs one reduction.
///
/// Callable from any thread, in a process or not.
///
/// ```
/// use ferrotp_scheduler::{Runtime, receive, self_pid, send, spawn};
/// let rt = Runtime::builder().workers(2).build()?;
/// let got = rt.block_on(|| {
///     let me = self_pid();
///     let parent = me.clone();
///     let child = spawn(move || for n in 0..5u32 { send(&parent, n) });
///     // From one sender, messages arrive in the order sent.
///     let got: Vec<u32> = (0..5).map(|_| receive::<u32>()).collect();
///     // Once the child has ended, sending to it is not an error: the
///     // message is a dead letter, counted by the runtime.
///     child.on_exit(move |_| send(&me, "ended"));
///     assert_eq!(receive::<&str>(), "ended");
///     send(&child, "too late");
///     got
/// });
/// assert_eq!(got, [0, 1, 2, 3, 4]);
/// assert_eq!(rt.dead_letters(), 1);
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
pub fn send<M: Send + 'static>(to: &Pid, message: M) {
    send_envelope(&to.0, Envelope::new(message));
    let _ = try_with_process(|ctx| ctx.reduce(1));
}

/// Sends `message` like [`send`], unless `to` has ended (its mailbox is
/// closed): then the message comes back instead of becoming a dead
/// letter, for a sender that knows where else to take it (an address
/// that follows a supervised actor's restarts). A bounded mailbox is
/// waited on as by `send`; a process that ends meanwhile hands the
/// message back too.
///
/// ```
/// use ferrotp_scheduler::{receive, run, spawn, yield_now, send_unless_ended};
/// let back = run(|| {
///     let gone = spawn(|| {});
///     while !gone.has_exited() { yield_now(); }
///     send_unless_ended(&gone, "hello")
/// }).unwrap();
/// assert_eq!(back, Err("hello"));
/// ```
///
/// # Errors
/// The message, if `to` has ended.
pub fn send_unless_ended<M: Send + 'static>(to: &Pid, message: M) -> Result<(), M> {
    let pcb = &to.0;
    let envelope = Envelope::new(message);
    let result = if pcb.mailbox.capacity().is_none() {
        deliver_or_return(pcb, envelope)
    } else {
        match pcb.mailbox.try_push(envelope) {
            Ok(pushed) => {
                if pushed.must_wake() {
                    pcb.wake_out_of_line();
                }
                Ok(())
            }
            Err(TryPushError::Full(envelope)) => send_when_room(pcb, envelope),
            Err(TryPushError::Closed(envelope)) => Err(envelope),
        }
    };
    let _ = try_with_process(|ctx| ctx.reduce(1));
    result.map_err(take_typed::<M>)
}

/// Queues `message` for `to` at once: past any mailbox bound, costing no
/// reduction, never suspending the sender (so a process may call it
/// while it holds a lock); the message comes back if `to` has ended.
/// For handing queued messages over in order (a supervised actor's
/// address moving what it held to a replacement).
///
/// ```
/// use ferrotp_scheduler::{deliver_unless_ended, receive, run, self_pid};
/// let got = run(|| {
///     deliver_unless_ended(&self_pid(), 5u8).unwrap();
///     receive::<u8>()
/// }).unwrap();
/// assert_eq!(got, 5);
/// ```
///
/// # Errors
/// The message, if `to` has ended.
pub fn deliver_unless_ended<M: Send + 'static>(to: &Pid, message: M) -> Result<(), M> {
    deliver_or_return(&to.0, Envelope::new(message)).map_err(take_typed::<M>)
}

/// Queues `message` for `to` past any mailbox bound and without costing a
/// reduction; if `to` has ended, drops it silently (it is not a dead
/// letter). For messages that stand for signals, such as a monitor's
/// `Down` (crate `ferrotp-supervision`): Erlang drops signals to dead
/// processes, and a signal never waits for room.
///
/// Callable from any thread, in a process or not (an exit hook, say).
pub fn send_signal_message<M: Send + 'static>(to: &Pid, message: M) {
    let pcb = &to.0;
    match pcb.mailbox.push(Envelope::new(message)) {
        Ok(ferrotp_mailbox::Pushed::WakeReceiver) => pcb.wake(),
        Ok(ferrotp_mailbox::Pushed::Queued) => {}
        Err(closed) => drop(crate::messaging::delivery::unless_recursing(
            pcb,
            closed.into_inner(),
        )),
    }
}

/// Why [`try_send`] did not send: the example of [`try_send`] gets one
/// and takes its message back.
#[derive(PartialEq, Eq)]
pub enum TrySendError<M> {
    /// The bounded mailbox is full; here is the message back.
    Full(M),
}

impl<M> TrySendError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            TrySendError::Full(message) => message,
        }
    }
}

impl<M> std::fmt::Debug for TrySendError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<M> std::fmt::Display for TrySendError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the receiving process's mailbox is full")
    }
}

impl<M> std::error::Error for TrySendError<M> {}

/// Sends `message` unless `to`'s bounded mailbox is full. On an
/// unbounded mailbox it is [`send`]. A message to an ended process is a
/// dead letter, as with `send`.
///
/// ```
/// use ferrotp_scheduler::{SpawnOptions, TrySendError, receive, run, spawn_opt, try_send};
/// let (first, second) = run(|| {
///     // It waits for a `()`, so the numbers stay in its mailbox.
///     let slow = spawn_opt(SpawnOptions::new().mailbox_capacity(1), || {
///         receive::<()>();
///     }).unwrap();
///     (try_send(&slow, 1u32), try_send(&slow, 2u32))
/// }).unwrap();
/// assert_eq!(first, Ok(()));
/// assert_eq!(second, Err(TrySendError::Full(2)));
/// assert_eq!(second.unwrap_err().into_inner(), 2);
/// ```
///
/// # Errors
/// [`TrySendError::Full`] with the message.
pub fn try_send<M: Send + 'static>(to: &Pid, message: M) -> Result<(), TrySendError<M>> {
    let result = try_deliver(&to.0, Envelope::new(message));
    let _ = try_with_process(|ctx| ctx.reduce(1));
    result.map_err(|envelope| TrySendError::Full(take_typed::<M>(envelope)))
}

#[inline]
pub(crate) fn send_envelope(to: &Arc<Pcb>, envelope: Envelope) {
    if to.mailbox.capacity().is_none() {
        deliver(to, envelope);
        return;
    }
    if let Err(envelope) = try_deliver(to, envelope)
        && let Err(closed) = send_when_room(to, envelope)
    {
        dead_letter(to, closed);
    }
}

/// Queues `envelope` past any bound, or hands it back if `to` has ended.
/// Off the message path (`send` itself uses `deliver`): its wake-up is
/// out of line.
fn deliver_or_return(to: &Arc<Pcb>, envelope: Envelope) -> Result<(), Envelope> {
    match to.mailbox.push(envelope) {
        Ok(ferrotp_mailbox::Pushed::WakeReceiver) => {
            to.wake_out_of_line();
            Ok(())
        }
        Ok(ferrotp_mailbox::Pushed::Queued) => Ok(()),
        Err(closed) => Err(closed.into_inner()),
    }
}

/// A thread (not a process) waiting for room in a bounded mailbox.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// The blocking half of `send` to a full bounded mailbox; the message
/// back if `to` ends meanwhile (its mailbox closes).
#[cold]
fn send_when_room(to: &Arc<Pcb>, envelope: Envelope) -> Result<(), Envelope> {
    let sender = try_with_process(|ctx| (Arc::clone(ctx.pcb), ctx.must_not_suspend()));
    let waker = match &sender {
        // A process cannot wait for room in its own mailbox, and one that
        // runs the panic hook (std holds its hook lock) or polls a future
        // (module `futures`) must not give its worker up: they exceed the
        // bound instead.
        Some((me, in_hook)) if Arc::ptr_eq(me, to) || *in_hook => {
            return deliver_or_return(to, envelope);
        }
        Some((me, _)) => Waker::from(Arc::clone(me)),
        // A worker thread outside any process (a dead-letter hook, say)
        // must not block its worker.
        None if try_with_worker(|_| ()).is_some() => return deliver_or_return(to, envelope),
        None => Waker::from(Arc::new(ThreadWaker(std::thread::current()))),
    };
    let waiting = WaitingForRoom::new(to, waker, sender.is_some());
    let mut envelope = envelope;
    loop {
        match waiting.try_push(envelope) {
            Ok(pushed) => {
                if pushed.must_wake() {
                    to.wake();
                }
                return Ok(());
            }
            Err(TryPushError::Closed(refused)) => return Err(refused),
            Err(TryPushError::Full(refused)) => {
                envelope = refused;
                if sender.is_some() {
                    with_process("send", |ctx| ctx.wait_checked());
                } else {
                    std::thread::park();
                }
            }
        }
    }
}

/// A sender's registration for room in a bounded mailbox. Inside a
/// process it is a debt of the process until dropped (module `debt`): if
/// the process is abandoned while it waits (its clean-up ran past its
/// deadline), this frame never finishes, and the worker withdraws the
/// registration instead, so that its place among the waiting senders never
/// swallows another sender's wake-up.
struct WaitingForRoom {
    debt: Arc<Debt>,
}

impl WaitingForRoom {
    fn new(to: &Arc<Pcb>, waker: Waker, in_process: bool) -> Self {
        let debt = Debt::room_wait(to, waker);
        if in_process {
            let _ = try_with_process(|ctx| ctx.owe(debt.clone()));
        }
        Self { debt }
    }

    fn try_push(
        &self,
        envelope: Envelope,
    ) -> Result<ferrotp_mailbox::Pushed, TryPushError<Envelope>> {
        self.debt.try_push(envelope)
    }
}

impl Drop for WaitingForRoom {
    fn drop(&mut self) {
        // Withdraws the registration, passing on a wake-up it received.
        drop(self.debt.settle());
    }
}
