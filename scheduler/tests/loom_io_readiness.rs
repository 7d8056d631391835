//! loom model of the hand-off between a worker's poller and a process
//! waiting on a socket (module `io::readiness`, used by `io::source`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom cargo test -p ferrotp-scheduler --test loom_io_readiness --release`
//!
//! # What is modelled
//!
//! * **The kernel and the poller** (one thread): data arrives in the
//!   socket (an atomic flag, the receive buffer) and the registration,
//!   being edge-triggered, reports it once: the poller calls the real
//!   [`Readiness::set`].
//! * **The process**: the loop of `IoSource::run`, with the real
//!   [`Readiness`]: snapshot, try the read (take the flag), on
//!   `WouldBlock` clear against the snapshot and wait. Its wait is
//!   `IoSource::wait_process` over `ProcessCtx::wait_for`: register as a
//!   waiter, then look, park, look again after every wake-up. The park is
//!   loom's thread park, a permit like the process's run state (whose own
//!   model is `loom_run_state.rs`).
//!
//! # The invariant
//!
//! Every byte the kernel reports is read: the process never waits for an
//! edge that has passed. A lost edge leaves the process parked for ever,
//! which loom reports as a deadlock.
//!
//! Mutations of `readiness.rs` tried, each of which makes models below
//! fail with a deadlock: `clear` as a plain store of the cleared bits
//! (ignoring the tick: two of the three fail), and `set` waking the
//! waiters before it updates the word (all three fail).
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_scheduler::io::readiness::{READABLE, Readiness, WRITABLE, Waiter};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

/// A process, as the poller wakes it: its thread.
#[derive(Clone)]
struct Parked(thread::Thread);

impl Waiter for Parked {
    fn wake(&self) {
        self.0.unpark();
    }

    fn same(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

/// One socket: its receive buffer (bytes waiting) and its readiness.
struct Socket {
    buffered: AtomicUsize,
    readiness: Readiness<Parked>,
}

impl Socket {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            buffered: AtomicUsize::new(0),
            readiness: Readiness::new(),
        })
    }

    /// Bytes arrive, and the edge-triggered registration reports them.
    fn arrive(&self, bytes: usize) {
        self.buffered.fetch_add(bytes, Ordering::SeqCst);
        self.readiness.set(READABLE);
    }

    /// A non-blocking read: all that is buffered, or `WouldBlock` (None).
    fn try_read(&self) -> Option<usize> {
        match self.buffered.swap(0, Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }
}

/// `IoSource::wait_process` over `ProcessCtx::wait_for`.
fn wait(socket: &Socket, me: &Parked, interest: usize) {
    socket.readiness.add_waiter(me.clone(), interest);
    while !socket.readiness.snapshot().is_ready(interest) {
        thread::park();
    }
    drop(socket.readiness.remove_waiter(me));
}

/// `IoSource::run` for a read: the bytes read.
fn read(socket: &Socket, me: &Parked) -> usize {
    loop {
        let seen = socket.readiness.snapshot();
        if !seen.is_ready(READABLE) {
            wait(socket, me, READABLE);
            continue;
        }
        if let Some(n) = socket.try_read() {
            return n;
        }
        if !socket.readiness.clear(seen, READABLE) {
            continue;
        }
        wait(socket, me, READABLE);
    }
}

/// The socket was registered (its first event said readable: the peer's
/// first byte), the process read it, and now reads again while the second
/// byte arrives: at any point of the read loop, before the try, between
/// the try and the clear, during the wait.
#[test]
fn an_edge_between_the_try_and_the_clear_is_not_lost() {
    loom::model(|| {
        let socket = Socket::new();
        socket.arrive(1);
        let me = Parked(thread::current());
        assert_eq!(read(&socket, &me), 1);
        let kernel = {
            let socket = Arc::clone(&socket);
            thread::spawn(move || socket.arrive(1))
        };
        assert_eq!(read(&socket, &me), 1, "the second byte is read");
        kernel.join().unwrap();
    });
}

/// Two edges racing the reader: it reads both bytes, in one read or two,
/// and then sees no readiness left that would make it spin.
#[test]
fn two_edges_are_read_in_full() {
    loom::model(|| {
        let socket = Socket::new();
        let me = Parked(thread::current());
        let kernel = {
            let socket = Arc::clone(&socket);
            thread::spawn(move || {
                socket.arrive(1);
                socket.arrive(1);
            })
        };
        let mut got = read(&socket, &me);
        if got < 2 {
            got += read(&socket, &me);
        }
        assert_eq!(got, 2);
        kernel.join().unwrap();
    });
}

/// A reader and a writer wait on one socket from two processes; the
/// poller reports each direction once: each is woken for its own.
#[test]
fn a_reader_and_a_writer_each_get_their_direction() {
    loom::model(|| {
        let socket = Socket::new();
        let writable = Arc::new(AtomicBool::new(false));
        let writer = {
            let socket = Arc::clone(&socket);
            let writable = Arc::clone(&writable);
            thread::spawn(move || {
                let me = Parked(thread::current());
                loop {
                    let seen = socket.readiness.snapshot();
                    if seen.is_ready(WRITABLE) && writable.load(Ordering::SeqCst) {
                        return;
                    }
                    if seen.is_ready(WRITABLE) && !socket.readiness.clear(seen, WRITABLE) {
                        continue;
                    }
                    wait(&socket, &me, WRITABLE);
                }
            })
        };
        let kernel = {
            let socket = Arc::clone(&socket);
            let writable = Arc::clone(&writable);
            thread::spawn(move || {
                socket.buffered.fetch_add(1, Ordering::SeqCst);
                writable.store(true, Ordering::SeqCst);
                socket.readiness.set(READABLE | WRITABLE);
            })
        };
        let me = Parked(thread::current());
        assert_eq!(read(&socket, &me), 1);
        writer.join().unwrap();
        kernel.join().unwrap();
    });
}
