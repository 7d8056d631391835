//! I/O inside processes: a non-blocking descriptor whose operations
//! suspend only the calling process ([`IoSource`]), on one `mio` poller
//! per worker that is also the worker's park.
//!
//! * `readiness`: one source's readiness word and waiters, and the
//!   hand-off between the poller and a waiting process (loom model
//!   `tests/loom_io_readiness.rs`).
//! * `driver`: a worker's poller, the table of its sources, and the waker
//!   other threads unpark the worker with.
//! * `source`: [`IoSource`], what sockets are built on.
//!
//! Time shares the worker's timer wheel: an operation's deadline is an
//! ordinary timer of the waiting process, and a parked worker polls no
//! longer than its next timer deadline, so it wakes for whichever comes
//! first, an event or a timer.

pub(crate) mod driver;
pub mod readiness;
mod source;

pub use source::IoSource;

/// Whether this thread is a worker's thread running no process (an exit
/// hook, a destructor the runtime runs), where blocking would stall the
/// worker: I/O there returns `WouldBlock` instead of waiting.
pub fn in_worker_outside_process() -> bool {
    crate::process::context::try_with_process(|_| ()).is_none()
        && crate::worker::core::try_with_worker(|_| ()).is_some()
}
