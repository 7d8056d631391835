//! Unix-domain stream sockets: [`UnixListener`] and [`UnixStream`],
//! shaped like `std::os::unix::net`'s.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ferrotp_scheduler::io::IoSource;

use crate::timeouts::Timeouts;

/// A Unix-domain socket server: `accept` suspends only the calling
/// process.
#[derive(Debug)]
pub struct UnixListener {
    io: IoSource<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist).
    ///
    /// # Errors
    /// What `bind(2)` reports (`AddrInUse` if the file exists).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            io: IoSource::new(mio::net::UnixListener::bind(path)?),
        })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// What `accept(2)` reports.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.io.read_with(None, mio::net::UnixListener::accept)?;
        Ok((UnixStream::from_mio(stream), addr))
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// What `getsockname(2)` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

/// A Unix-domain stream connection: reads and writes suspend only the
/// calling process; [`Read`](std::io::Read) and [`Write`](std::io::Write) as on [`TcpStream`](crate::TcpStream).
///
/// ```
/// use std::io::{Read, Write};
/// use ferrotp_net::UnixStream;
///
/// let got = ferrotp_scheduler::run(|| {
///     let (mut a, b) = UnixStream::pair().unwrap();
///     ferrotp_scheduler::spawn(move || {
///         let mut b = b;
///         b.write_all(b"over a pair").unwrap();
///     });
///     let mut got = String::new();
///     a.read_to_string(&mut got).unwrap();
///     got
/// }).unwrap();
/// assert_eq!(got, "over a pair");
/// ```
#[derive(Debug)]
pub struct UnixStream {
    io: IoSource<mio::net::UnixStream>,
    timeouts: Timeouts,
}

impl UnixStream {
    fn from_mio(stream: mio::net::UnixStream) -> Self {
        Self {
            io: IoSource::new(stream),
            timeouts: Timeouts::default(),
        }
    }

    /// Connects to the socket file `path`. While the listener's backlog
    /// is full it waits, as `std`'s blocking connect does, retrying every
    /// few milliseconds.
    ///
    /// # Errors
    /// What `connect(2)` reports (`NotFound`, `ConnectionRefused`); on a
    /// worker's thread outside a process, `WouldBlock` for a full backlog.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let mut backoff = Duration::from_millis(1);
        let socket = loop {
            match mio::net::UnixStream::connect(path) {
                // The listener's backlog is full: a non-blocking Unix
                // connect says so at once (EAGAIN) and connects nothing,
                // and no event tells when there is room. A blocking
                // connect would wait: so does this, retrying, suspending
                // only the calling process (a plain thread sleeps).
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if ferrotp_scheduler::try_self_pid().is_some() {
                        ferrotp_scheduler::sleep(backoff);
                    } else if ferrotp_scheduler::io::in_worker_outside_process() {
                        return Err(error);
                    } else {
                        std::thread::sleep(backoff);
                    }
                    backoff = (backoff * 2).min(Duration::from_millis(50));
                }
                result => break result?,
            }
        };
        let stream = Self::from_mio(socket);
        // Connected at once in practice (a full backlog was retried above);
        // checked as a TCP connect is, should it still be in progress.
        stream.io.write_with(None, |socket| {
            crate::macros::connect_outcome(socket.take_error(), socket.peer_addr())
        })?;
        Ok(stream)
    }

    /// Two connected streams.
    ///
    /// # Errors
    /// Out of descriptors.
    pub fn pair() -> io::Result<(Self, Self)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((Self::from_mio(a), Self::from_mio(b)))
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// # Errors
    /// What `shutdown(2)` reports.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    crate::macros::timeout_methods!("connection");

    /// The peer's address.
    ///
    /// # Errors
    /// Not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

crate::macros::stream_read_write!(UnixStream);

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
