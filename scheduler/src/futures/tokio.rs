//! Feature `tokio`: a tokio runtime's context for the futures processes
//! await, so that futures of tokio-based crates (which find tokio's I/O
//! driver and timer through a thread-local context) work inside a
//! process.
//!
//! # Design
//!
//! * **Whose runtime.** The one given with
//!   [`Builder::tokio_handle`](crate::Builder::tokio_handle), or else one
//!   the ferrotp runtime owns, started by the first
//!   [`await_future`](crate::await_future): a multi-thread tokio runtime
//!   with one worker thread (`ferrotp-tokio`), which drives the I/O driver
//!   and the timer whenever it has no task to run. Its drivers are those
//!   of the tokio features the program's crates enable (cargo unifies
//!   them): a crate that uses tokio's sockets enables `net`, and with it
//!   the I/O driver.
//! * **Entered only while polling.** [`await_future`](crate::await_future)
//!   enters the handle around each poll, and a poll never suspends its
//!   process (module `await_future`): tokio's context is a thread-local
//!   stack whose guards must be dropped in order, and a guard kept across
//!   a suspension would be dropped out of order by the next process of
//!   the worker that entered too.
//! * **Shutdown.** The owned runtime shuts down in the background after
//!   the ferrotp workers have stopped (every process ended): dropping the
//!   ferrotp runtime never waits for tokio's tasks, and works inside an
//!   async context too. A given handle's runtime is the caller's.

use std::sync::{Mutex, OnceLock, PoisonError};

use tokio::runtime::Handle;

use crate::process::context::with_process;

/// A runtime's tokio context (module docs).
pub(crate) struct TokioContext {
    handle: OnceLock<Handle>,
    /// The runtime it owns, if it started one.
    owned: Mutex<Option<tokio::runtime::Runtime>>,
}

impl TokioContext {
    /// With `given`'s runtime, or one of its own started on first use.
    pub(crate) fn new(given: Option<Handle>) -> Self {
        let handle = OnceLock::new();
        if let Some(given) = given {
            let _ = handle.set(given);
        }
        Self {
            handle,
            owned: Mutex::new(None),
        }
    }

    /// The handle, the owned runtime started if it has not been.
    ///
    /// # Panics
    /// If the OS will not start the tokio runtime's thread.
    pub(crate) fn handle(&self) -> &Handle {
        self.handle.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("ferrotp-tokio")
                .enable_all()
                .build()
                .unwrap_or_else(|error| {
                    panic!("ferrotp could not start its tokio runtime: {error}")
                });
            let handle = runtime.handle().clone();
            *self.owned.lock().unwrap_or_else(PoisonError::into_inner) = Some(runtime);
            handle
        })
    }

    /// Shuts the owned runtime down without waiting for it (module docs).
    pub(crate) fn shut_down(&self) {
        let owned = self
            .owned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(runtime) = owned {
            runtime.shutdown_background();
        }
    }
}

/// The tokio handle the calling process's futures are polled with: to
/// spawn a tokio task from a process (`handle.spawn(..)`), or to build a
/// future whose construction needs tokio's context
/// (`handle.enter()` for the time it takes; never across a receive or
/// any other blocking call).
///
/// ```
/// use ferrotp_scheduler::{await_future, run, tokio_handle};
/// let doubled = run(|| {
///     let task = tokio_handle().spawn(async { 21 * 2 });
///     await_future(task).unwrap()
/// }).unwrap();
/// assert_eq!(doubled, 42);
/// ```
///
/// # Panics
/// Outside a process.
pub fn tokio_handle() -> Handle {
    with_process("tokio_handle", |ctx| {
        ctx.pcb.shared().tokio.handle().clone()
    })
}
