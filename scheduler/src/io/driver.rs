//! A worker's poller: the `mio::Poll` it parks in, and the table of the
//! sources registered with it.
//!
//! # One poller per worker, which is also its park
//!
//! A process that has run is settled on its worker (the migration rule),
//! so a source is registered with the poller of the worker whose process
//! waits on it (see "A source follows its waiter"), and that worker's
//! thread is the only one that polls it. The poller replaces the thread park: a worker with nothing to run
//! waits in [`Driver::park`] (`epoll_wait`), for the first of an I/O
//! event, its next timer deadline (the timeout) and a wake-up from another
//! thread ([`IoShared::wake`], a `mio::Waker`: an eventfd write). A busy
//! worker polls without waiting now and then ([`Driver::poll_now`], from
//! its housekeeping), and only while it has sources registered, so a
//! runtime without I/O makes no extra system call.
//!
//! # Wake-ups from other threads keep `unpark`'s semantics
//!
//! The park protocol (module `idle`, and the inbox's wait announcement)
//! was written for `Thread::park` / `unpark`, a binary permit: an unpark
//! that comes before the park makes the park return at once. The waker
//! gives the same: its eventfd is registered edge-triggered, and a write
//! queues one event on the epoll instance that stays there until the
//! next `epoll_wait` takes it, however late that is. So every argument of
//! the loom models `loom_idle`, `loom_remote_wake` and `loom_shutdown`
//! (which model the park as loom's `park`) holds for this park too.
//!
//! # The table
//!
//! A registration's token is its key in the worker's table (a slab)
//! plus a generation: an event already taken by `epoll_wait` for a source
//! that was deregistered meanwhile (from any thread: a socket may be
//! dropped anywhere) finds either nothing or a newer registration under
//! that key, whose generation differs, and is ignored. The table sits
//! behind a mutex that only registration, deregistration and one pass per
//! poll take.
//!
//! # A source follows its waiter
//!
//! A process about to wait on a source moves its registration to its own
//! worker's poller if it sits in another's ([`Registration::rehome`]: two
//! `epoll_ctl` calls, only when the waiter's worker changed). So a socket
//! handed to a process of another worker, or one whose first waiter was
//! a migratable process that moved, is polled where its waiter runs, and
//! a long computation on the first worker does not delay its wake-ups;
//! and a source that outlived its runtime works in the next one. The
//! readiness word stays with the source, so nothing seen is lost in a
//! move. When a worker ends, its driver marks its table closed and wakes
//! every waiter, which then moves the source on its next wait.
//!
//! An event sets its source's readiness and wakes the processes waiting
//! on it (module `readiness`), wherever they run: a process on another
//! worker than the poller (a migratable one that moved, or one a socket
//! was handed to) is woken through its own worker's inbox, like any
//! wake-up.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use slab::Slab;

use crate::io::readiness::{READABLE, Readiness, WRITABLE, Waiter};
use crate::process::Pcb;

/// The waker's token: no registration has it (keys stay far below).
const WAKER: Token = Token(usize::MAX);

/// Events taken per `epoll_wait`.
const EVENTS: usize = 256;

/// A source's readiness, with the processes waiting on it.
pub(crate) type ScheduledIo = Readiness<Arc<Pcb>>;

impl Waiter for Arc<Pcb> {
    fn wake(&self) {
        self.wake_out_of_line();
    }

    fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(self, other)
    }
}

/// What other threads reach of a worker's poller: its registry, its
/// waker and its table of sources.
pub(crate) struct IoShared {
    registry: Registry,
    waker: Waker,
    sources: Mutex<Slab<Slot>>,
    generation: AtomicU32,
    /// Sources registered: a busy worker polls only while there are some.
    live: AtomicUsize,
    /// The worker has ended (its runtime shut down): nobody polls for
    /// these sources any more.
    closed: AtomicBool,
}

struct Slot {
    generation: u32,
    io: Arc<ScheduledIo>,
}

impl std::fmt::Debug for IoShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoShared")
            .field("live", &self.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A source registered with a worker's poller: its readiness, which
/// stays, and its place in a poller's table, which moves with the
/// processes that wait on it ([`Registration::rehome`]). Deregister it
/// ([`Registration::deregister`]) before its file descriptor closes.
pub(crate) struct Registration {
    io: Arc<ScheduledIo>,
    home: Mutex<Home>,
}

/// Where a registration sits: a poller and its key there.
struct Home {
    shared: Arc<IoShared>,
    key: usize,
    generation: u32,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("io", &self.io)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// The source's readiness and waiters.
    pub(crate) fn io(&self) -> &ScheduledIo {
        &self.io
    }

    fn home(&self) -> MutexGuard<'_, Home> {
        // Nothing panics while it is held.
        self.home.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the poller it is registered with has ended (its runtime
    /// shut down), so that no event will come from there.
    pub(crate) fn is_orphaned(&self) -> bool {
        // Acquire: pairs with the Release store in `Driver::drop`, which
        // then wakes every waiter.
        self.home().shared.closed.load(Ordering::Acquire)
    }

    /// Moves the registration of `fd` to the poller `to` (the worker of
    /// the process about to wait on it), unless it is there already: the
    /// worker that polls a socket is the one its waiter runs on, so no
    /// other worker's long computation delays its wake-ups, and a source
    /// whose runtime has shut down works again in another. Its readiness
    /// stays: the new registration, edge-triggered, reports the state as
    /// it is, and an event still on its way from the old poller finds the
    /// slot gone (or sets a bit that is true anyway).
    ///
    /// # Errors
    /// What `epoll_ctl` says when adding it to the new poller; it then
    /// stays where it was.
    pub(crate) fn rehome(&self, fd: RawFd, to: &Arc<IoShared>) -> io::Result<()> {
        let mut home = self.home();
        if Arc::ptr_eq(&home.shared, to) {
            return Ok(());
        }
        let (key, generation) = to.insert(fd, &self.io)?;
        let old = std::mem::replace(
            &mut *home,
            Home {
                shared: Arc::clone(to),
                key,
                generation,
            },
        );
        drop(home);
        old.shared.remove(fd, old.key, old.generation);
        Ok(())
    }

    /// Takes `fd` off its poller and the registration out of the table.
    /// Errors are ignored: the descriptor is about to close, which takes it
    /// out of the epoll set anyway.
    pub(crate) fn deregister(self, fd: RawFd) {
        let home = self
            .home
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        home.shared.remove(fd, home.key, home.generation);
        // Anyone still waiting (through a shared reference, while the
        // owner drops it: impossible for an owned source) looks again.
        self.io.wake_all();
    }
}

impl IoShared {
    fn sources(&self) -> MutexGuard<'_, Slab<Slot>> {
        // Nothing panics while the table is held.
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the worker if it is parked in its poller; if it is not, its
    /// next park returns at once (module docs).
    pub(crate) fn wake(&self) {
        // Fails only if the eventfd cannot be written (its counter full,
        // which mio handles by reading it first): nothing to do.
        let _ = self.waker.wake();
    }

    /// Registers `fd` (non-blocking, open) for both directions,
    /// edge-triggered.
    ///
    /// # Errors
    /// What `epoll_ctl` says: the descriptor cannot be polled (a regular
    /// file), or the kernel is out of memory.
    pub(crate) fn register(self: &Arc<Self>, fd: RawFd) -> io::Result<Registration> {
        let io = Arc::new(ScheduledIo::new());
        let (key, generation) = self.insert(fd, &io)?;
        Ok(Registration {
            io,
            home: Mutex::new(Home {
                shared: Arc::clone(self),
                key,
                generation,
            }),
        })
    }

    /// Adds `fd` to this poller, its events going to `io`; its key and
    /// generation here.
    fn insert(&self, fd: RawFd, io: &Arc<ScheduledIo>) -> io::Result<(usize, u32)> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let mut sources = self.sources();
        let entry = sources.vacant_entry();
        let key = entry.key();
        let token = Token(key | ((generation as usize) << 32));
        self.registry.register(
            &mut SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        entry.insert(Slot {
            generation,
            io: Arc::clone(io),
        });
        drop(sources);
        self.live.fetch_add(1, Ordering::Relaxed);
        Ok((key, generation))
    }

    /// Takes `fd` off this poller, and its slot `key` (if still of
    /// `generation`) out of the table.
    fn remove(&self, fd: RawFd, key: usize, generation: u32) {
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        let removed = {
            let mut sources = self.sources();
            match sources.get(key) {
                Some(slot) if slot.generation == generation => Some(sources.remove(key)),
                _ => None,
            }
        };
        if removed.is_some() {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A worker's poller (module docs): owned by its run loop.
pub(crate) struct Driver {
    poll: Poll,
    events: Events,
    shared: Arc<IoShared>,
    /// `poll`'s buffer of sources to wake, outside the table's lock.
    woken: Vec<(Arc<ScheduledIo>, usize)>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A poller and its waker.
    ///
    /// # Errors
    /// The epoll instance or the eventfd could not be made (the process is
    /// out of file descriptors).
    pub(crate) fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(Self {
            poll,
            events: Events::with_capacity(EVENTS),
            shared: Arc::new(IoShared {
                registry,
                waker,
                sources: Mutex::new(Slab::new()),
                generation: AtomicU32::new(0),
                live: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
            }),
            woken: Vec::new(),
        })
    }

    /// What other threads reach of this poller.
    pub(crate) fn shared(&self) -> &Arc<IoShared> {
        &self.shared
    }

    /// Whether any source is registered here.
    pub(crate) fn has_sources(&self) -> bool {
        self.shared.live.load(Ordering::Relaxed) > 0
    }

    /// Parks the thread until an event, a wake-up or `timeout` (`None`:
    /// no timeout); wakes the processes the events are for. Returns how
    /// many sources had events.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) -> usize {
        self.poll(timeout)
    }

    /// Takes the events already there, without waiting. Returns how many
    /// sources had events.
    pub(crate) fn poll_now(&mut self) -> usize {
        self.poll(Some(Duration::ZERO))
    }

    fn poll(&mut self, timeout: Option<Duration>) -> usize {
        if let Err(error) = self.poll.poll(&mut self.events, timeout) {
            // EINTR (a signal): the caller's loop looks again. Anything
            // else would come back at every poll; it is reported, and the
            // worker goes on (it can still run processes and timers).
            if error.kind() != io::ErrorKind::Interrupted {
                crate::report::report(
                    crate::report::Severity::Error,
                    "io",
                    None,
                    format_args!("a worker's poller failed: {error}"),
                );
            }
            return 0;
        }
        if self.events.is_empty() {
            return 0;
        }
        {
            let sources = self.shared.sources();
            for event in self.events.iter() {
                let token = event.token();
                if token == WAKER {
                    continue;
                }
                let key = token.0 & (u32::MAX as usize);
                let generation = (token.0 >> 32) as u32;
                let Some(slot) = sources.get(key) else {
                    continue;
                };
                if slot.generation != generation {
                    continue;
                }
                let mut ready = 0;
                // An error or a hang-up is reported to both directions:
                // the operation tried next returns it.
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    ready |= READABLE;
                }
                if event.is_writable() || event.is_write_closed() || event.is_error() {
                    ready |= WRITABLE;
                }
                if ready != 0 {
                    self.woken.push((Arc::clone(&slot.io), ready));
                }
            }
        }
        let sources = self.woken.len();
        for (io, ready) in self.woken.drain(..) {
            io.set(ready);
        }
        sources
    }
}

impl Drop for Driver {
    /// The worker has ended: a process of another runtime that still
    /// waits on one of its sources (a socket that outlived the runtime it
    /// was first used in) is told, not left waiting for ever.
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        let sources: Vec<Arc<ScheduledIo>> = self
            .shared
            .sources()
            .iter()
            .map(|(_, slot)| Arc::clone(&slot.io))
            .collect();
        for io in sources {
            io.wake_all();
        }
    }
}
