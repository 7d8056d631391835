//! Blocking offload: [`blocking`] and [`spawn_blocking`] run a closure
//! that blocks its thread (a file read, a DNS lookup, a C library call, a
//! long computation) on a pool of threads owned by the runtime, while the
//! calling process is suspended: its worker runs other processes
//! meanwhile. BEAM's dirty schedulers, tokio's `spawn_blocking`.
//!
//! # Design
//!
//! * **The pool** (`pool.rs`) belongs to the runtime: at most
//!   [`Builder::blocking_threads`](crate::Builder::blocking_threads)
//!   threads (default [`DEFAULT_BLOCKING_THREADS`], `FERROTP_BLOCKING_THREADS`,
//!   TOML key `blocking_threads`), started when a job finds no idle one,
//!   each exiting after [`BLOCKING_KEEP_ALIVE`] without work. Jobs queue,
//!   in order, while every thread is busy.
//! * **The hand-off** (`handle.rs`): the closure's result (or its panic's
//!   payload) goes into a `Mutex`'d slot, and the pool thread wakes the
//!   joining process through its control block's waker; the process waits
//!   with the runtime's ordinary wait (a check point, wake-ups as
//!   permits). No new atomic protocol.
//!
//! # Invariants
//!
//! * The calling process is suspended, never its worker: other processes
//!   on the worker run while the closure runs.
//! * A closure that panics resumes its panic, with its own payload, in the
//!   process that joins it: that process crashes as with any panic (the
//!   panic message is printed by the panic hook on the pool thread, where
//!   it happened).
//! * A process killed while it joins ends at once, unwound out of its
//!   wait like any waiting process. The closure cannot be interrupted: it
//!   runs on, and its result is dropped when it comes, on the pool thread,
//!   its destructor's panic contained and reported. The same holds for
//!   any handle dropped unjoined.
//! * Every result is dropped exactly once: taken by a join, or discarded
//!   as above; a pool thread never dies of a user's panic.
//!
//! # Shutdown
//!
//! Dropping the runtime never waits for a blocking closure: after the
//! workers have stopped (every process ended; one waiting on a closure is
//! unwound out of its wait, dropping its handle), jobs still queued are
//! dropped unrun, and closures already running finish on their own thread,
//! which exits after; their results are discarded.
//!
//! # Outside a process
//!
//! Both functions panic there, naming themselves, as every process-only
//! function does: a thread of your own may just call the closure, and a
//! runtime thread outside any process (an exit hook) must not wait.

mod handle;
pub(crate) mod pool;

use std::time::Duration;

pub use handle::BlockingHandle;

use crate::process::context::with_process;
use handle::BlockingJob;
use pool::Refused;

/// The default bound on blocking threads
/// ([`Builder::blocking_threads`](crate::Builder::blocking_threads)): as
/// tokio's. Threads start only when jobs wait for one and exit when idle,
/// so the bound costs nothing until jobs use it; a high one keeps slow
/// blocking calls (file I/O on a network disk, say) from queueing behind
/// each other.
pub const DEFAULT_BLOCKING_THREADS: usize = 512;

/// The most blocking threads a runtime may have.
pub const MAX_BLOCKING_THREADS: usize = 4096;

/// How long a blocking thread waits for a job before it exits (tokio's
/// default too).
pub const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Runs `f` on the runtime's blocking pool and returns its result,
/// suspending the calling process meanwhile (its worker runs other
/// processes): [`spawn_blocking`]`(f).`[`join()`](BlockingHandle::join).
///
/// For code that would block its thread: blocking I/O, a library without
/// an async API, a long computation that has no place to call
/// [`reduce`](crate::reduce). A process killed while it waits ends at
/// once; `f` runs on and its result is dropped (module docs).
///
/// ```
/// use ferrotp_scheduler::{blocking, run};
/// let size = run(|| {
///     let path = std::env::temp_dir().join(format!("ferrotp-doc-{}", std::process::id()));
///     // File I/O blocks its thread: off the worker.
///     blocking(move || {
///         std::fs::write(&path, b"hello")?;
///         let size = std::fs::metadata(&path)?.len();
///         std::fs::remove_file(&path)?;
///         Ok::<u64, std::io::Error>(size)
///     })
/// }).unwrap();
/// assert_eq!(size.unwrap(), 5);
/// ```
///
/// # Panics
/// With `f`'s own panic, resumed in the caller; outside a process; if no
/// blocking thread runs and the OS refuses to start one.
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    submit("blocking", f)
        .join_until(None, "blocking")
        .expect("no deadline")
}

/// Starts `f` on the runtime's blocking pool and returns its handle at
/// once: the process goes on, and [`join`](BlockingHandle::join)s it when
/// it needs the result (or [`join_timeout`](BlockingHandle::join_timeout)
/// to wait a while). Dropping the handle detaches `f`: it runs on, and its
/// result is dropped.
///
/// ```
/// use ferrotp_scheduler::{run, spawn_blocking};
/// let total = run(|| {
///     // Two slow lookups at once, each on a blocking thread.
///     let a = spawn_blocking(|| (1..=1000u64).sum::<u64>());
///     let b = spawn_blocking(|| (1..=10u64).product::<u64>());
///     a.join() + b.join()
/// }).unwrap();
/// assert_eq!(total, 500_500 + 3_628_800);
/// ```
///
/// # Panics
/// Outside a process; if no blocking thread runs and the OS refuses to
/// start one.
pub fn spawn_blocking<F, R>(f: F) -> BlockingHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    submit("spawn_blocking", f)
}

fn submit<F, R>(function: &str, f: F) -> BlockingHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (job, handle) = BlockingJob::with_handle(f);
    let refused = with_process(function, |ctx| {
        ctx.reduce(1);
        ctx.pcb.shared().blocking.submit(job).err()
    });
    let Some(refused) = refused else {
        return handle;
    };
    // The job comes back unrun: dropped (its closure under a net), then
    // the caller hears why.
    let why = match refused {
        Refused::ShutDown(job) => {
            crate::worker::contain::contain("dropping a refused blocking job", || drop(job));
            "the runtime has shut down".to_owned()
        }
        Refused::NoThread(job, error) => {
            crate::worker::contain::contain("dropping a refused blocking job", || drop(job));
            format!("no blocking thread runs and the OS would not start one: {error}")
        }
    };
    drop(handle);
    panic!("ferrotp::{function}: {why}")
}
