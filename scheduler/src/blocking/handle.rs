//! One blocking job and its handle: the closure with the slot its result
//! goes to ([`BlockingJob`]), and the process's side ([`BlockingHandle`]).
//!
//! # The hand-off
//!
//! The slot is a `Mutex` around the job's state; no atomics. The pool
//! thread puts the result in and takes the joiner's waker out under the
//! lock, then wakes it outside. A joiner looks at the state (registering
//! its waker if the result has not come) inside [`ProcessCtx::wait_for`]'s
//! `ready` test: the waker is the process's control block
//! ([`Pcb::wake`](crate::process::Pcb)), whose wake-ups are permits, so a
//! result that comes between the look and the suspension is not missed.
//!
//! | state       | meaning                                                   |
//! |-------------|-----------------------------------------------------------|
//! | `Running`   | queued or running; the waker of the process joining, if any |
//! | `Done`      | the result (or the closure's panic), not yet joined       |
//! | `Cancelled` | dropped unrun: the runtime shut down first                |
//! | `Joined`    | the result was taken                                      |
//! | `Abandoned` | the handle was dropped: a result that comes is discarded  |
//!
//! A result nobody will take (the handle was dropped: its process was
//! killed, say) is dropped where it is when that becomes known: on the
//! pool thread as it comes, or by the handle's drop if it had come. Its
//! destructor runs under a net: a panic there is reported, and neither
//! aborts the program nor ends the pool thread.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::blocking::pool::Job;
use crate::messaging::receive::deadline_after;
use crate::process::context::with_process;
use crate::process::panic_payload::drop_payload;
use crate::worker::contain::contain;

/// A closure's outcome: its value, or its panic's payload.
type Outcome<R> = std::thread::Result<R>;

/// The state one job's closure and handle share (module docs).
pub(crate) struct Slot<R> {
    state: Mutex<State<R>>,
}

enum State<R> {
    Running { joiner: Option<Waker> },
    Done(Outcome<R>),
    Cancelled,
    Joined,
    Abandoned,
}

impl<R> Slot<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        // No user code runs under the lock (results are dropped and wakers
        // woken outside it): a poisoned lock still guards a whole state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pool thread: the closure returned or panicked.
    fn complete(&self, outcome: Outcome<R>) {
        let mut state = self.lock();
        match &mut *state {
            State::Running { joiner } => {
                let joiner = joiner.take();
                *state = State::Done(outcome);
                drop(state);
                if let Some(joiner) = joiner {
                    joiner.wake();
                }
            }
            // Abandoned: nobody will take it. (Nothing else can be: a job
            // completes once, and only a completed one is joined.)
            _ => {
                drop(state);
                discard(outcome);
            }
        }
    }

    /// The job was dropped unrun.
    fn cancel(&self) {
        let mut state = self.lock();
        if let State::Running { joiner } = &mut *state {
            let joiner = joiner.take();
            *state = State::Cancelled;
            drop(state);
            if let Some(joiner) = joiner {
                joiner.wake();
            }
        }
    }
}

/// Drops an outcome nobody will take, its destructor's panic contained
/// (module docs).
fn discard<R>(outcome: Outcome<R>) {
    match outcome {
        Ok(value) => contain(
            "the destructor of a blocking closure's result that nobody joined",
            move || drop(value),
        ),
        // Its panic was reported by the panic hook as it happened.
        Err(payload) => drop_payload(payload),
    }
}

/// The pool's side of one job: the closure, and where its outcome goes.
pub(crate) struct BlockingJob<F, R> {
    /// `None` once it has run.
    f: Option<F>,
    slot: Arc<Slot<R>>,
}

impl<F, R> BlockingJob<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    /// The job of `f`, and the handle of its result.
    pub(crate) fn with_handle(f: F) -> (Box<dyn Job>, BlockingHandle<R>) {
        let slot = Arc::new(Slot {
            state: Mutex::new(State::Running { joiner: None }),
        });
        let job = Box::new(Self {
            f: Some(f),
            slot: Arc::clone(&slot),
        });
        (job, BlockingHandle { slot })
    }
}

impl<F, R> Job for BlockingJob<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(mut self: Box<Self>) {
        let f = self.f.take().expect("a job runs once");
        let outcome = catch_unwind(AssertUnwindSafe(f));
        self.slot.complete(outcome);
    }
}

impl<F, R> Drop for BlockingJob<F, R> {
    fn drop(&mut self) {
        if self.f.is_some() {
            // Dropped unrun (at shutdown); the closure itself is dropped
            // after this, by whoever drops the job, under a net.
            self.slot.cancel();
        }
    }
}

/// The handle of a closure running on the runtime's blocking pool
/// ([`spawn_blocking`](crate::spawn_blocking)): join it for the closure's
/// result.
///
/// Dropping the handle detaches the closure: it runs on, and its result
/// is dropped when it comes (on the pool thread; a panic in its
/// destructor is reported, never let out). A process killed while it
/// waits in [`join`](Self::join) drops its handle as its stack unwinds,
/// so this is what happens to its result.
///
/// `Send`: a process may hand the handle to another, which joins it.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{run, spawn_blocking};
/// let (sum, early) = run(|| {
///     let (tx, rx) = std::sync::mpsc::channel::<u64>();
///     let mut job = spawn_blocking(move || rx.recv().unwrap() * 2);
///     // The closure waits for its input: not finished yet.
///     let early = job.join_timeout(Duration::from_millis(1));
///     tx.send(21).unwrap();
///     (job.join(), early)
/// }).unwrap();
/// assert_eq!((sum, early), (42, None));
/// ```
pub struct BlockingHandle<R> {
    slot: Arc<Slot<R>>,
}

impl<R> std::fmt::Debug for BlockingHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.slot.lock() {
            State::Running { .. } => "running",
            State::Done(Ok(_)) => "finished",
            State::Done(Err(_)) => "panicked",
            State::Cancelled => "cancelled",
            State::Joined => "joined",
            State::Abandoned => "abandoned",
        };
        f.debug_struct("BlockingHandle")
            .field("state", &state)
            .finish()
    }
}

impl<R: Send + 'static> BlockingHandle<R> {
    /// Suspends the calling process (its worker runs other processes
    /// meanwhile) until the closure has returned, and returns its value.
    ///
    /// A check point: a process killed while it waits here ends at once
    /// (its stack unwinds, dropping the handle, so the result is
    /// discarded when it comes).
    ///
    /// # Panics
    /// With the closure's own panic (its payload, resumed here), if it
    /// panicked; if the runtime shut down before the closure ran; if the
    /// handle was joined already ([`join_timeout`](Self::join_timeout)
    /// returned the value); outside a process.
    pub fn join(mut self) -> R {
        self.join_until(None, "BlockingHandle::join")
            .expect("no deadline")
    }

    /// [`join`](Self::join), waiting at most `timeout`: `None` if the
    /// closure has not returned by then (it runs on; join again later).
    ///
    /// # Panics
    /// As for [`join`](Self::join).
    pub fn join_timeout(&mut self, timeout: Duration) -> Option<R> {
        self.join_until(deadline_after(timeout), "BlockingHandle::join_timeout")
    }

    /// Whether the closure has returned (or panicked): a join would not
    /// wait.
    pub fn is_finished(&self) -> bool {
        matches!(&*self.slot.lock(), State::Done(_) | State::Cancelled)
    }

    pub(crate) fn join_until(&mut self, deadline: Option<Instant>, function: &str) -> Option<R> {
        let slot = &self.slot;
        let finished = with_process(function, |ctx| {
            let waker = Waker::from(Arc::clone(ctx.pcb));
            ctx.wait_for_dyn(function, deadline, &mut || slot.ready_or_wake(&waker))
        });
        if !finished {
            if let State::Running { joiner } = &mut *slot.lock() {
                // No spurious wake-up later.
                *joiner = None;
            }
            return None;
        }
        let state = std::mem::replace(&mut *slot.lock(), State::Joined);
        match state {
            State::Done(Ok(value)) => Some(value),
            State::Done(Err(payload)) => resume_unwind(payload),
            State::Cancelled => {
                panic!("ferrotp::{function}: the runtime shut down before the blocking closure ran")
            }
            _ => unreachable!("a finished job is Done or Cancelled"),
        }
    }
}

impl<R> Slot<R> {
    /// Whether the job has finished; if not, `waker` is the one its
    /// completion wakes.
    fn ready_or_wake(&self, waker: &Waker) -> bool {
        let mut state = self.lock();
        match &mut *state {
            State::Running { joiner } => {
                if !joiner.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    *joiner = Some(waker.clone());
                }
                false
            }
            State::Done(_) | State::Cancelled => true,
            State::Joined | State::Abandoned => {
                drop(state);
                panic!("ferrotp: a BlockingHandle was joined after it returned its value")
            }
        }
    }
}

impl<R> Drop for BlockingHandle<R> {
    fn drop(&mut self) {
        let state = std::mem::replace(&mut *self.slot.lock(), State::Abandoned);
        if let State::Done(outcome) = state {
            discard(outcome);
        }
    }
}
