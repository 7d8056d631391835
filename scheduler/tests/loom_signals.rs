//! loom model of exit-signal delivery (module `signal_flags`): a signal's
//! message goes through the target's real mailbox, its flag through the
//! real [`SignalFlags`], its wake-up through the real [`RunState`].
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom cargo test -p ferrotp-scheduler --test loom_signals --release`
//!
//! # The protocol
//!
//! A sender (`signal::send_signal`) pushes the signal's message into the
//! target's [`Mailbox`], *then* raises [`SignalFlags::QUEUED`] (`Release`),
//! then wakes the target (`Pcb::wake` → [`RunState::wake`]; true means the
//! waker queues the process). Shutdown, or a kill that finds the mailbox
//! closed, raises [`SignalFlags::FORCED_EXIT`] (no message) and wakes.
//!
//! The target acts at its check points (`ProcessCtx::check_signals` →
//! `act_on_signals` → `signal::scan`): [`SignalFlags::any`] (the `Relaxed`
//! fast path), then [`SignalFlags::take`] (`Acquire`), then
//! [`Mailbox::arrived`]; `FORCED_EXIT` ends it; with `QUEUED` it scans its
//! [`Receiver`] from [`Mark::START`] with `take_first_since`, and, if the
//! scan found nothing more, [`SignalFlags::look_again_if_short`]: a scan
//! that stopped at a message still being written raises `QUEUED` again,
//! and that message's push wakes the process for its next check point.
//!
//! A process blocked in `receive` (`ProcessCtx::receive`) loops: its own
//! look (`take_first_since` with the receive's predicate), then
//! [`Receiver::announce_wait`] (`Ready`: look again; `Sleep`: wait), the
//! wait ([`RunState::suspended_waiting`]: true means it is `WAITING` and in
//! no queue until a waker queues it; false means it was woken while still
//! running and its worker requeues it), [`Receiver::cancel_wait`], and a
//! check point. Each `receive` starts with a check point (`reduce`).
//!
//! In the model the target is one loom thread standing for the process
//! *and* its worker: a `wake` that returns true unparks it, and returning
//! from `park` is its worker resuming it ([`RunState::set_running`]).
//! The shared state is the shipped code: [`SignalFlags`], [`Mailbox`] and
//! [`Receiver`], [`RunState`]. The steps around them (`send_signal`,
//! `act_on_signals`, `scan_now`, `receive`) are crate-private and run
//! inside a process's coroutine context, so the model follows them step
//! by step, in the same order. The scan's predicate is the model's: the
//! real one matches the crate-private `Exit` inside an `Envelope`; here the
//! message type is the model's own [`Msg`], and the signal is one the
//! process drops when it acts on it (a `Normal` signal from another
//! process, not trapping: `scan_now` takes it out and goes on), so that
//! the process lives on and its later check points show it acts on the
//! signal only once.
//!
//! The third model traps exits: a check point marks each signal it finds
//! delivered, in place (`scan_now`), and the process takes it with
//! `receive::<Exit>()` (a predicate that accepts only a delivered
//! signal). Its receive follows `ProcessCtx::receive`: a check point
//! that delivered a signal sends the look back to where the receive
//! began, and before it sleeps a receive whose flag is raised acts on it,
//! unless its look stopped at a message still being written.
//!
//! The fourth model waits outside `receive` (`ProcessCtx::wait_checked`,
//! the wait of a sleep, a blocking send, a blocking join, a call): nothing
//! but a signal ends it, and the signal kills (an abnormal reason, not
//! trapped). Such a wait announces nothing on the mailbox, so a push wakes
//! it only if it announced one: before it sleeps with a flag raised it acts
//! on the flag, and if a scan that stopped short raised it again, it
//! announces a wait on the mailbox at the message the scan stopped at
//! (`Ready`: that message is written, act again), so that the writer's
//! push wakes it.
//!
//! # The invariants
//!
//! * The target acts on every signal, exactly once. A lost signal leaves
//!   the target waiting forever (it ends only once it has acted on the
//!   signal and received its ordinary messages): loom reports a deadlock.
//! * A `FORCED_EXIT` raised at any moment, also while the process waits
//!   and while it is taking a `QUEUED` signal, ends the process.
//! * Each wait is ended by exactly one queueing.
//!
//! # Mutations this model catches
//!
//! In `SignalFlags`: dropping `look_again_if_short` (a deadlock in the
//! first model), a `take` that loads then stores 0 (a `FORCED_EXIT`
//! raised in between is lost: a deadlock in the second), and a `post`
//! that raises the flag before pushing the message (a deadlock). In the
//! model's `send_signal` and `force_exit`: skipping the wake-up after
//! raising (deadlocks). In the model's receive (third model): going on
//! from the scan position after a check point that delivered a signal
//! (the signal was passed over, between its push and its flag, before it
//! was a message: a deadlock), and sleeping without acting on a flag
//! raised again by `look_again` after a look that went past the message
//! the scan stopped at (no wake-up comes: a deadlock); acting on a raised
//! flag before every sleep, also when the look stopped at a message still
//! being written, spins until that message is written (loom: maximum
//! number of branches). In the wait outside `receive` (fourth model):
//! the wait as it was (wait, then a check point, with the flag raised
//! again and nothing announced: a deadlock), acting on the flag first but
//! then sleeping without the announcement (a deadlock), and taking the
//! announcement's `Ready` for `Sleep` (a deadlock).
//!
//! A `Relaxed` raise passes: under loom the mailbox's loads are modelled
//! as read-modify-writes (`mailbox/src/sync.rs`), which always read the
//! latest value, so the scan sees the message (and `arrived` counts it)
//! whatever the flag's ordering; the message's contents are published by
//! the slot's own `Release` / `Acquire`. On real hardware the `Release` /
//! `Acquire` pair is what keeps `arrived` and the slot from being read
//! stale after taking the flag.
#![cfg(loom)]

use std::cell::Cell;
use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_mailbox::{Mailbox, Mark, Receiver, Wait};
use ferrotp_scheduler::run_state::RunState;
use ferrotp_scheduler::signal_flags::SignalFlags;
use loom::thread;

/// A message in the target's mailbox.
#[derive(Debug)]
enum Msg {
    /// An ordinary message, which the process's `receive` takes.
    Ordinary(u8),
    /// An exit signal's message (the real one is an `Envelope` holding an
    /// `Exit`), and whether it has been delivered as a message (`Exit`'s
    /// own `Cell`: only the target reads or writes it).
    Signal(Cell<bool>),
}

impl Msg {
    fn signal() -> Self {
        Msg::Signal(Cell::new(false))
    }

    /// `exit_signal::undelivered`.
    fn undelivered(&self) -> bool {
        matches!(self, Msg::Signal(delivered) if !delivered.get())
    }

    /// What `receive::<Exit>()` takes (`receivable`): a delivered signal.
    fn delivered(&self) -> bool {
        matches!(self, Msg::Signal(delivered) if delivered.get())
    }
}

/// The parts of the target's control block (`Pcb`) that the protocol
/// touches.
struct Pcb {
    mailbox: Arc<Mailbox<Msg>>,
    signals: SignalFlags,
    state: RunState,
    /// Wakes that returned true: a waker queued the process.
    queued: AtomicUsize,
}

impl Pcb {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            mailbox: Arc::new(Mailbox::new()),
            signals: SignalFlags::new(),
            state: RunState::new(),
            queued: AtomicUsize::new(0),
        })
    }

    /// `Pcb::wake`: a wake that returns true queues the process on its
    /// worker (here: unparks the thread that stands for both).
    fn wake(&self, process: &thread::Thread) {
        if self.state.wake() {
            self.queued.fetch_add(1, Ordering::Relaxed);
            process.unpark();
        }
    }
}

/// `signal::send_signal` for a target whose mailbox is open: the shipped
/// `SignalFlags::post` (push, then raise), then the wake-up.
fn send_signal(pcb: &Pcb, process: &thread::Thread) {
    if pcb.signals.post(&pcb.mailbox, Msg::signal()).is_err() {
        unreachable!("the target lives until it has acted on the signal");
    }
    pcb.wake(process);
}

/// `send`: a push, and the wake-up it may ask for.
fn send(pcb: &Pcb, process: &thread::Thread, n: u8) {
    match pcb.mailbox.push(Msg::Ordinary(n)) {
        Ok(pushed) => {
            if pushed.must_wake() {
                pcb.wake(process);
            }
        }
        Err(_) => unreachable!("the target lives until it has its messages"),
    }
}

/// Shutdown (or a kill after the body ended): a bit with no message.
fn force_exit(pcb: &Pcb, process: &thread::Thread) {
    pcb.signals.raise(SignalFlags::FORCED_EXIT);
    pcb.wake(process);
}

/// What a check point decided.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Go on; `delivered`: a signal became a message.
    Live { delivered: bool },
    /// `FORCED_EXIT`: the process ends.
    Die,
}

/// The target process, on its own thread (which is also its worker's).
struct Process {
    pcb: Arc<Pcb>,
    receiver: Receiver<Msg>,
    /// Signals acted on.
    acted: usize,
    /// Ordinary messages received.
    got: Vec<u8>,
    /// Waits that suspended in `WAITING`.
    waits: usize,
    /// `trap_exit(true)`: a signal found by a check point is delivered as
    /// a message in place, not taken out.
    trapping: bool,
    /// Signals received as messages (`receive::<Exit>()`).
    exits: usize,
    /// The signals carry an abnormal reason: not trapping, the process
    /// dies of the first it acts on (`Verdict::Die`), as of a link's.
    deadly: bool,
}

impl Process {
    /// A process that its worker (the thread that will run it) has
    /// started: `RUNNING`.
    fn new(pcb: &Arc<Pcb>) -> Self {
        pcb.state.set_running();
        Self {
            pcb: Arc::clone(pcb),
            receiver: Receiver::new(Arc::clone(&pcb.mailbox)),
            acted: 0,
            got: Vec::new(),
            waits: 0,
            trapping: false,
            exits: 0,
            deadly: false,
        }
    }

    /// `check_signals` → `act_on_signals` → `signal::scan`.
    fn check_point(&mut self) -> Verdict {
        if !self.pcb.signals.any() {
            return Verdict::Live { delivered: false };
        }
        let signals = self.pcb.signals.take();
        let arrived = self.pcb.mailbox.arrived();
        if signals & SignalFlags::FORCED_EXIT != 0 {
            return Verdict::Die;
        }
        if signals & SignalFlags::QUEUED == 0 {
            return Verdict::Live { delivered: false };
        }
        // `scan_now`, with the model's predicate: not trapping, each
        // signal found is taken out and dropped (`continue`), and the scan
        // goes on; trapping, each is marked delivered where it lies.
        let mut start = Mark::START;
        let (trapping, mut acted, mut delivered) = (self.trapping, 0, false);
        while let Some(signal) = self.receiver.take_first_since(&mut start, |m| {
            if !m.undelivered() {
                return false;
            }
            acted += 1;
            if !trapping {
                return true;
            }
            let Msg::Signal(flag) = m else {
                unreachable!("undelivered")
            };
            flag.set(true);
            delivered = true;
            false
        }) {
            assert!(matches!(signal, Msg::Signal(_)));
            if self.deadly {
                // `Verdict::Die(reason)`: the process unwinds from here.
                self.acted += acted;
                return Verdict::Die;
            }
        }
        self.acted += acted;
        self.pcb
            .signals
            .look_again_if_short(&self.receiver, arrived);
        Verdict::Live { delivered }
    }

    /// `ProcessCtx::wait` as its worker runs it: suspended in `WAITING`
    /// until a waker queues it, or requeued at once if it was woken while
    /// running; then resumed.
    fn wait(&mut self) {
        if self.pcb.state.suspended_waiting() {
            self.waits += 1;
            thread::park();
        }
        self.pcb.state.set_running();
    }

    /// `receive::<Ordinary>()`, ended early (`None`) when `stop` holds
    /// after a check point or the process dies. `Some(None)`: the process
    /// died.
    fn receive(&mut self, stop: &impl Fn(&Self) -> bool) -> Option<Option<u8>> {
        let message = self.receive_where(|m| matches!(m, Msg::Ordinary(_)), stop)?;
        Some(message.map(|message| {
            let Msg::Ordinary(n) = message else {
                unreachable!("the predicate matched an ordinary message")
            };
            n
        }))
    }

    /// `ProcessCtx::receive` from [`Mark::START`]: the first message
    /// `want` accepts; `None` and `Some(None)` as for `receive`.
    fn receive_where(
        &mut self,
        want: impl Fn(&Msg) -> bool,
        stop: &impl Fn(&Self) -> bool,
    ) -> Option<Option<Msg>> {
        // `reduce(1)`.
        if self.check_point() == Verdict::Die {
            return Some(None);
        }
        if stop(self) {
            return None;
        }
        let origin = Mark::START;
        let mut mark = origin;
        loop {
            if let Some(message) = self.receiver.take_first_since(&mut mark, &want) {
                return Some(Some(message));
            }
            match self.receiver.announce_wait() {
                Wait::Ready => continue,
                Wait::Sleep => {}
                Wait::Closed => unreachable!("a running process's mailbox is open"),
            }
            // A flag raised again by a check point that stopped short (no
            // wake-up comes with it) whose message the look above went
            // past: act on it now, unless the look stopped at a message
            // still being written (whose push wakes the process).
            if self.pcb.signals.any() && self.receiver.scanned_to() >= self.pcb.mailbox.arrived() {
                let _ = self.receiver.cancel_wait();
                match self.check_point() {
                    Verdict::Die => return Some(None),
                    Verdict::Live { delivered: true } => mark = origin,
                    Verdict::Live { delivered: false } => {}
                }
                if stop(self) {
                    return None;
                }
                continue;
            }
            self.wait();
            let _ = self.receiver.cancel_wait();
            match self.check_point() {
                Verdict::Die => return Some(None),
                // A signal became a message in place, perhaps behind the
                // scan position (passed over while it was not one yet):
                // look again from where the receive began.
                Verdict::Live { delivered: true } => mark = origin,
                Verdict::Live { delivered: false } => {}
            }
            if stop(self) {
                return None;
            }
        }
    }

    /// `ProcessCtx::wait_checked`: every wait outside a receive (a sleep,
    /// a blocking send, `wait_for`'s: a blocking join, a call's reply). A
    /// raised flag is acted on first (`wait_signalled`): raised again by
    /// `look_again`, it comes with no wake-up; if it is still raised after
    /// (the scan stopped short), the wait is announced on the mailbox, at
    /// the message the scan stopped at, whose push then wakes the process.
    fn wait_checked(&mut self) -> Verdict {
        if self.pcb.signals.any() {
            return self.wait_signalled();
        }
        self.wait();
        self.check_point()
    }

    /// `ProcessCtx::wait_signalled`.
    fn wait_signalled(&mut self) -> Verdict {
        loop {
            let verdict = self.check_point();
            if verdict == Verdict::Die {
                return verdict;
            }
            if !self.pcb.signals.any() {
                break;
            }
            match self.receiver.announce_wait() {
                Wait::Ready => continue,
                Wait::Sleep => {}
                Wait::Closed => unreachable!("a running process's mailbox is open"),
            }
            self.wait();
            let _ = self.receiver.cancel_wait();
            return self.check_point();
        }
        self.wait();
        self.check_point()
    }

    /// `sleep_until` a deadline that never comes (or `sleep(Duration::MAX)`,
    /// or a blocking join whose closure never returns): a check point
    /// (`reduce(1)`), then `wait_checked` until the process dies. Nothing
    /// but a signal's wake-up, or a push's to an announced wait, ever ends
    /// its waits.
    fn sleep(&mut self) {
        if self.check_point() == Verdict::Die {
            return;
        }
        while self.wait_checked() != Verdict::Die {}
    }

    /// The body `loop { receive::<Ordinary>() }` until `stop`; returns
    /// whether the process died of `FORCED_EXIT`.
    fn run(&mut self, stop: impl Fn(&Self) -> bool) -> bool {
        loop {
            match self.receive(&stop) {
                None => return false,
                Some(None) => return true,
                Some(Some(n)) => self.got.push(n),
            }
        }
    }
}

/// Runs `f` under loom and prints how many executions it explored.
fn model(f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    loom::model(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    eprintln!("{} executions explored", executions.load(Ordering::Relaxed));
}

/// A signal sent while another sender pushes two ordinary messages: the
/// scan may stop at an ordinary message reserved before the signal and
/// still being written. The process ends only once it has acted on the
/// signal and received both ordinary messages; it acts on the signal once.
#[test]
fn a_signal_is_acted_on_exactly_once_even_behind_a_message_being_written() {
    model(|| {
        let pcb = Pcb::new();
        let mut process = Process::new(&pcb);
        let target = thread::spawn(move || {
            let died = process.run(|p| p.acted >= 1 && p.got.len() == 2);
            assert!(!died);
            process
        });
        let sender = {
            let pcb = Arc::clone(&pcb);
            let to = target.thread().clone();
            thread::spawn(move || {
                send(&pcb, &to, 7);
                send(&pcb, &to, 8);
            })
        };
        send_signal(&pcb, target.thread());
        sender.join().unwrap();
        let mut process = target.join().unwrap();
        assert_eq!(process.acted, 1, "the signal is acted on exactly once");
        assert_eq!(process.got, vec![7, 8]);
        assert_eq!(
            pcb.queued.load(Ordering::Relaxed),
            process.waits,
            "each wait is ended by exactly one queueing"
        );
        // A check point after the fact finds nothing more to act on.
        process.check_point();
        assert_eq!(process.acted, 1);
        assert!(process.receiver.pop().is_none());
    });
}

/// Shutdown raises `FORCED_EXIT` (no message) while the process waits in
/// `receive`, or runs, or takes a signal that a sender delivers at the
/// same moment: it always ends. A raise lost to a non-atomic `take`
/// leaves it waiting forever.
#[test]
fn a_forced_exit_raised_at_any_moment_ends_the_process() {
    model(|| {
        let pcb = Pcb::new();
        let mut process = Process::new(&pcb);
        let target = thread::spawn(move || {
            let died = process.run(|_| false);
            assert!(died, "only FORCED_EXIT ends this process");
            process
        });
        let sender = {
            let pcb = Arc::clone(&pcb);
            let to = target.thread().clone();
            thread::spawn(move || send_signal(&pcb, &to))
        };
        force_exit(&pcb, target.thread());
        sender.join().unwrap();
        let process = target.join().unwrap();
        assert!(process.acted <= 1);
        assert!(process.got.is_empty());
        assert_eq!(
            pcb.queued.load(Ordering::Relaxed),
            process.waits,
            "each wait is ended by exactly one queueing"
        );
    });
}

/// A process that traps exits waits in `receive::<Exit>()` while a signal
/// is sent to it and another sender pushes an ordinary message. The
/// receive may look at the signal's message after its push and before its
/// flag is raised (not a message yet: passed over, and the scan position
/// moves past it), or its check point's scan may stop short at the
/// ordinary message still being written; either way the check point that
/// makes the signal a message comes after the receive's look, and the
/// receive must look again from where it began. A receive that goes on
/// from its scan position waits forever with the `Exit` in its mailbox:
/// loom reports a deadlock.
#[test]
fn a_trapping_process_receives_a_signal_its_receive_passed_over() {
    model(|| {
        let pcb = Pcb::new();
        let mut process = Process::new(&pcb);
        process.trapping = true;
        let target = thread::spawn(move || {
            let Some(Some(message)) = process.receive_where(Msg::delivered, &|_| false) else {
                unreachable!("no FORCED_EXIT and no stop in this model")
            };
            assert!(message.delivered());
            process.exits += 1;
            process
        });
        let sender = {
            let pcb = Arc::clone(&pcb);
            let to = target.thread().clone();
            thread::spawn(move || send(&pcb, &to, 7))
        };
        send_signal(&pcb, target.thread());
        sender.join().unwrap();
        let mut process = target.join().unwrap();
        assert_eq!(process.exits, 1);
        assert_eq!(process.acted, 1, "the signal is acted on exactly once");
        assert_eq!(
            pcb.queued.load(Ordering::Relaxed),
            process.waits,
            "each wait is ended by exactly one queueing"
        );
        // The ordinary message is still there, and nothing more to act on.
        process.check_point();
        assert_eq!(process.acted, 1);
        assert!(matches!(process.receiver.pop(), Some(Msg::Ordinary(7))));
    });
}

/// A process waits outside `receive` (asleep, with no deadline to end the
/// sleep: a blocking join or a reply that never comes is the same wait)
/// while a signal is sent to it and another sender pushes an ordinary
/// message. Its check point may take the flag while that message, reserved
/// before the signal's, is still being written: the scan stops short of the
/// signal and raises the flag again, with no wake-up (the signal's own was
/// spent on the wait it ended). A wait that sleeps with the flag raised and
/// nothing announced on the mailbox gets no wake-up from the writer's push,
/// and sleeps for ever with the signal unacted on: loom reports a deadlock.
#[test]
fn a_process_waiting_outside_receive_acts_on_a_signal_behind_a_message_being_written() {
    model(|| {
        let pcb = Pcb::new();
        let mut process = Process::new(&pcb);
        process.deadly = true;
        let target = thread::spawn(move || {
            process.sleep();
            process
        });
        let sender = {
            let pcb = Arc::clone(&pcb);
            let to = target.thread().clone();
            thread::spawn(move || send(&pcb, &to, 7))
        };
        send_signal(&pcb, target.thread());
        sender.join().unwrap();
        let mut process = target.join().unwrap();
        assert_eq!(process.acted, 1, "it died of the signal");
        assert_eq!(
            pcb.queued.load(Ordering::Relaxed),
            process.waits,
            "each wait is ended by exactly one queueing"
        );
        // The ordinary message is left unread (dropped as the process
        // ends), and no flag is left raised.
        assert!(!pcb.signals.any());
        assert!(matches!(process.receiver.pop(), Some(Msg::Ordinary(7))));
        assert!(process.receiver.pop().is_none());
    });
}
