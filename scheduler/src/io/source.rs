//! [`IoSource`]: a non-blocking file descriptor whose operations block only
//! the calling process.
//!
//! # How an operation runs
//!
//! [`IoSource::read_with`] (and `write_with`) runs the caller's
//! non-blocking operation in a loop:
//!
//! 1. If the source is registered and its readiness says the direction is
//!    not ready, wait (step 4) without trying.
//! 2. Try the operation. Anything but `WouldBlock` (and `Interrupted`,
//!    which is retried) is the result.
//! 3. `WouldBlock`: clear the direction's readiness against the snapshot
//!    read before the try (module `readiness`: an event that came in the
//!    meantime makes the clear fail, and the loop tries again). A source
//!    never registered is registered now, with the poller of the worker
//!    the process runs on (module `driver`); the registration reports the
//!    current state as a first event, so data that came between the try
//!    and the registration is not missed. One registered with another
//!    worker's poller moves to this one's as the process waits.
//! 4. Wait: the process registers as a waiter and suspends until an event
//!    sets the direction (or the deadline passes: `TimedOut`). A signal
//!    that ends the process unwinds from the wait, as from a receive; the
//!    waiter is taken off on the way out.
//!
//! Each try costs 50 reductions (a system call's worth), so a process
//! looping on a source that is always ready is still preempted.
//!
//! # Outside a process
//!
//! A thread that is not running a process (the program's main thread, a
//! plain `std::thread`) blocks its thread instead, in `poll(2)` on the
//! descriptor, as `std::net` would; it never registers the source. So a
//! socket made on the main thread and handed to a process, or the other
//! way round, works on both sides. On a worker's thread outside any
//! process (an exit hook, a destructor the runtime runs), an operation
//! that would block returns its `WouldBlock` error instead of stalling
//! the worker.
//!
//! # Dropping
//!
//! The source is taken off its poller before it closes (a descriptor
//! closed while registered could be reused by another socket, and its
//! events then go to the wrong registration until the kernel drops it).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use crate::io::driver::Registration;
use crate::io::readiness::{READABLE, Snapshot, WRITABLE};
use crate::process::context::try_with_process;
use crate::worker::core::try_with_worker;

/// Reductions charged for each operation tried: a system call costs
/// about as much as this many reductions' worth of ordinary work.
const IO_REDUCTIONS: u32 = 50;

/// A direction to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// Wait until the source can be read.
    Read,
    /// Wait until the source can be written.
    Write,
}

impl Direction {
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }

    fn poll_events(self) -> libc::c_short {
        match self {
            Direction::Read => libc::POLLIN,
            Direction::Write => libc::POLLOUT,
        }
    }
}

/// A file descriptor in non-blocking mode, whose operations suspend the
/// calling process (only it) until the descriptor is ready: the building
/// block of [`ferrotp::net`](https://docs.rs/ferrotp)'s sockets, and of
/// any other pollable source (a pipe, a terminal, a device).
///
/// The source must already be in non-blocking mode (`mio`'s types are;
/// `std`'s need `set_nonblocking(true)`), or an operation blocks the
/// whole worker thread.
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use ferrotp_scheduler::io::IoSource;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// b.set_nonblocking(true).unwrap();
/// let got = ferrotp_scheduler::run(move || {
///     let reader = IoSource::new(a);
///     // The writer comes later: the reader's process waits, its worker
///     // runs the writer meanwhile.
///     ferrotp_scheduler::spawn(move || {
///         let writer = IoSource::new(b);
///         writer.write_with(None, |mut s| s.write(b"ping")).unwrap();
///     });
///     let mut buf = [0; 4];
///     let n = reader.read_with(None, |mut s| s.read(&mut buf)).unwrap();
///     buf[..n].to_vec()
/// }).unwrap();
/// assert_eq!(got, b"ping");
/// ```
pub struct IoSource<S: AsRawFd> {
    registration: OnceLock<Registration>,
    /// Held while registering, so that two processes sharing the source
    /// register it once.
    registering: Mutex<()>,
    /// `None` only inside `into_inner` and `drop`.
    source: Option<S>,
}

impl<S: AsRawFd + std::fmt::Debug> std::fmt::Debug for IoSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoSource")
            .field("source", &self.source)
            .field("registration", &self.registration.get())
            .finish()
    }
}

impl<S: AsRawFd> IoSource<S> {
    /// Wraps `source`, which must be in non-blocking mode. It is
    /// registered with a poller the first time a process waits on it.
    pub fn new(source: S) -> Self {
        Self {
            registration: OnceLock::new(),
            registering: Mutex::new(()),
            source: Some(source),
        }
    }

    /// The source.
    pub fn get_ref(&self) -> &S {
        self.source.as_ref().expect("present until dropped")
    }

    /// The source, mutably. Do not replace its descriptor.
    pub fn get_mut(&mut self) -> &mut S {
        self.source.as_mut().expect("present until dropped")
    }

    /// Takes the source off its poller and returns it.
    pub fn into_inner(mut self) -> S {
        self.deregister();
        self.source.take().expect("present until dropped")
    }

    /// Runs `op` until it does not return `WouldBlock`, suspending the
    /// calling process while the source is not readable (module docs).
    ///
    /// # Errors
    /// What `op` returns; `TimedOut` once `deadline` has passed;
    /// registering the source can fail (a descriptor that cannot be
    /// polled, such as a regular file).
    pub fn read_with<R>(
        &self,
        deadline: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.run(Direction::Read, deadline, op)
    }

    /// [`read_with`](Self::read_with), for writing.
    ///
    /// # Errors
    /// As for [`read_with`](Self::read_with).
    pub fn write_with<R>(
        &self,
        deadline: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.run(Direction::Write, deadline, op)
    }

    fn run<R>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let in_process = try_with_process(|_| ()).is_some();
        let interest = direction.mask();
        loop {
            let seen: Option<Snapshot> = if in_process {
                self.registration.get().map(|r| r.io().snapshot())
            } else {
                None
            };
            // An orphaned registration (module docs of `driver`) gets no
            // more events: try the operation, which may still succeed.
            if let (Some(seen), Some(registration)) = (seen, self.registration.get())
                && !seen.is_ready(interest)
                && !registration.is_orphaned()
            {
                self.wait_process(registration, direction, deadline)?;
                continue;
            }
            if in_process {
                // Each try is a system call: charged as such, so that a
                // process reading a socket that never runs dry is
                // preempted like any other.
                let _ = try_with_process(|ctx| ctx.reduce(IO_REDUCTIONS));
            }
            match op(self.get_ref()) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                result => return result,
            }
            if !in_process {
                self.wait_thread(direction, deadline)?;
                continue;
            }
            match seen {
                // An event came since the snapshot: try again.
                Some(seen)
                    if !self
                        .registration()
                        .expect("registered")
                        .io()
                        .clear(seen, interest) =>
                {
                    continue;
                }
                Some(_) => {}
                // Registered now: its first event reports the state as it
                // is, so the loop's next look decides.
                None => {
                    self.registration()?;
                    continue;
                }
            }
            let registration = self.registration.get().expect("registered");
            self.wait_process(registration, direction, deadline)?;
        }
    }

    /// The registration, made the first time (with the poller of the
    /// worker this thread is).
    fn registration(&self) -> io::Result<&Registration> {
        if let Some(registration) = self.registration.get() {
            return Ok(registration);
        }
        let _registering = self
            .registering
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(registration) = self.registration.get() {
            return Ok(registration);
        }
        let fd = self.get_ref().as_raw_fd();
        let shared = try_with_worker(|core| std::sync::Arc::clone(core.io()))
            .ok_or_else(|| io::Error::other("ferrotp: an I/O source waited on off a worker"))?;
        let registration = shared.register(fd)?;
        Ok(self.registration.get_or_init(|| registration))
    }

    /// Suspends the calling process until `direction` is ready, or
    /// `deadline` passes.
    fn wait_process(
        &self,
        registration: &Registration,
        direction: Direction,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        let interest = direction.mask();
        // The worker this process runs on polls the source from now on.
        if let Some(here) = try_with_worker(|core| std::sync::Arc::clone(core.io())) {
            registration.rehome(self.get_ref().as_raw_fd(), &here)?;
        }
        let ready = try_with_process(|ctx| {
            /// Takes the process off the waiters however the wait ends
            /// (an exit signal unwinds through here).
            struct Unwait<'a> {
                io: &'a crate::io::driver::ScheduledIo,
                pcb: std::sync::Arc<crate::process::Pcb>,
            }
            impl Drop for Unwait<'_> {
                fn drop(&mut self) {
                    drop(self.io.remove_waiter(&self.pcb));
                }
            }
            let io = registration.io();
            let pcb = std::sync::Arc::clone(ctx.pcb);
            io.add_waiter(std::sync::Arc::clone(&pcb), interest);
            let _unwait = Unwait { io, pcb };
            ctx.wait_for("IoSource::wait", deadline, &mut || {
                io.snapshot().is_ready(interest) || registration.is_orphaned()
            })
        })
        .expect("called inside a process");
        if registration.is_orphaned() {
            return Err(orphaned());
        }
        if ready { Ok(()) } else { Err(timed_out()) }
    }

    /// Blocks the calling thread (not a process) in `poll(2)` until
    /// `direction` is ready or `deadline` passes. On a worker's thread
    /// outside a process (an exit hook, a destructor the runtime runs),
    /// blocking would stall every process of the worker, and a wait that
    /// never ends would hold up the runtime's shutdown: the operation's
    /// `WouldBlock` is returned instead.
    fn wait_thread(&self, direction: Direction, deadline: Option<Instant>) -> io::Result<()> {
        if try_with_worker(|_| ()).is_some() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "ferrotp: an I/O operation that would block, on a worker's thread outside any \
                 process (an exit hook, say): it would stall the worker, so it is refused; do \
                 the I/O in a process",
            ));
        }
        let mut pollfd = libc::pollfd {
            fd: self.get_ref().as_raw_fd(),
            events: direction.poll_events(),
            revents: 0,
        };
        loop {
            let timeout = match deadline {
                None => -1,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(timed_out());
                    }
                    // Rounded up: a wait never ends before its deadline.
                    let ms = left.as_nanos().div_ceil(1_000_000);
                    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
                }
            };
            // SAFETY: `pollfd` is a valid, initialised `struct pollfd` that
            // lives across the call, and the count is 1.
            let n = unsafe { libc::poll(&raw mut pollfd, 1, timeout) };
            if n >= 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    fn deregister(&mut self) {
        if let (Some(registration), Some(source)) = (self.registration.take(), &self.source) {
            registration.deregister(source.as_raw_fd());
        }
    }

    /// The descriptor.
    pub fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<S: AsRawFd> Drop for IoSource<S> {
    fn drop(&mut self) {
        self.deregister();
    }
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "ferrotp: the I/O operation timed out",
    )
}

fn orphaned() -> io::Error {
    io::Error::other(
        "ferrotp: this I/O source was first waited on in a runtime that has shut down, and \
         its events went to that runtime's poller; make the socket again in this runtime",
    )
}
