//! TCP: [`TcpListener`] and [`TcpStream`], shaped like `std::net`'s.

use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use ferrotp_scheduler::io::IoSource;

use crate::timeouts::Timeouts;

/// A TCP socket server, listening for connections: `accept` suspends only
/// the calling process.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use ferrotp_net::{TcpListener, TcpStream};
///
/// let line = ferrotp_scheduler::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     ferrotp_scheduler::spawn(move || {
///         let mut client = TcpStream::connect(addr).unwrap();
///         client.write_all(b"hello\n").unwrap();
///     });
///     let (stream, _peer) = listener.accept().unwrap();
///     let mut line = String::new();
///     BufReader::new(stream).read_line(&mut line).unwrap();
///     line
/// }).unwrap();
/// assert_eq!(line, "hello\n");
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (each address it resolves to in turn, the first
    /// that binds wins), with `std`'s options (`SO_REUSEADDR`).
    ///
    /// Resolving a host name blocks the thread (the worker, inside a
    /// process): give an address, or resolve it through a blocking call.
    ///
    /// # Errors
    /// The last address's error, or `InvalidInput` if `addr` resolves to
    /// none.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::from_std(std::net::TcpListener::bind(addr)?)
    }

    /// Takes over a `std` listener (it is made non-blocking).
    ///
    /// # Errors
    /// Making it non-blocking failed.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        Ok(Self {
            io: IoSource::new(mio::net::TcpListener::from_std(listener)),
        })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// What `accept(2)` reports (out of descriptors, say).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_until(None)
    }

    /// Waits for a connection for at most `timeout` (as `gen_tcp:accept/2`).
    ///
    /// # Errors
    /// `TimedOut` once `timeout` has passed; what `accept(2)` reports.
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_until(Instant::now().checked_add(timeout))
    }

    fn accept_until(&self, deadline: Option<Instant>) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.io.read_with(deadline, mio::net::TcpListener::accept)?;
        Ok((TcpStream::from_mio(stream), peer))
    }

    /// An endless iterator over accepted connections.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(|| self.accept().map(|(stream, _)| stream))
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// What `getsockname(2)` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    /// What `setsockopt(2)` reports.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The pending socket error (`SO_ERROR`), cleared.
    ///
    /// # Errors
    /// What `getsockopt(2)` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// A TCP connection: `read`, `write` and `connect` suspend only the
/// calling process. It implements [`Read`](std::io::Read) and [`Write`](std::io::Write) (also through a
/// shared reference), so `BufReader`, `write_all` and parsers over `Read`
/// work as they do on `std::net::TcpStream`.
///
/// A process killed while it waits on the stream unwinds out of the call;
/// the stream closes when it is dropped, as any value on its stack.
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// use ferrotp_net::{TcpListener, TcpStream};
///
/// let (echoed, timed_out) = ferrotp_scheduler::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     ferrotp_scheduler::spawn(move || {
///         let (mut conn, _) = listener.accept().unwrap();
///         let mut buf = [0; 4];
///         conn.read_exact(&mut buf).unwrap();
///         conn.write_all(&buf).unwrap();
///         let _ = conn.read(&mut buf); // until the client goes
///     });
///     let mut client = TcpStream::connect(addr).unwrap();
///     client.write_all(b"ping").unwrap();
///     let mut echoed = [0; 4];
///     client.read_exact(&mut echoed).unwrap();
///     client.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
///     let timed_out = client.read(&mut [0; 1]).unwrap_err().kind();
///     (echoed, timed_out)
/// }).unwrap();
/// assert_eq!(&echoed, b"ping");
/// assert_eq!(timed_out, std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: IoSource<mio::net::TcpStream>,
    timeouts: Timeouts,
}

impl TcpStream {
    fn from_mio(stream: mio::net::TcpStream) -> Self {
        Self {
            io: IoSource::new(stream),
            timeouts: Timeouts::default(),
        }
    }

    /// Connects to `addr` (each address it resolves to in turn; the first
    /// that connects wins).
    ///
    /// # Errors
    /// The last address's error (`ConnectionRefused`, say), or
    /// `InvalidInput` if `addr` resolves to none.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match Self::connect_until(addr, None) {
                Ok(stream) => return Ok(stream),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "ferrotp::net: the address resolved to no socket address",
            )
        }))
    }

    /// Connects to `addr`, waiting at most `timeout`.
    ///
    /// # Errors
    /// `TimedOut` once `timeout` has passed; `InvalidInput` for a zero
    /// timeout, as `std`; what the connection reports.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<Self> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ferrotp::net: a zero connect timeout is not allowed, as in std",
            ));
        }
        Self::connect_until(*addr, Instant::now().checked_add(timeout))
    }

    fn connect_until(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<Self> {
        let stream = Self::from_mio(mio::net::TcpStream::connect(addr)?);
        // A non-blocking connect is done when the socket turns writable:
        // with an error in SO_ERROR, or connected (it has a peer).
        stream.io.write_with(deadline, |socket| {
            crate::macros::connect_outcome(socket.take_error(), socket.peer_addr())
        })?;
        Ok(stream)
    }

    /// Takes over a `std` stream (it is made non-blocking; its `std`
    /// timeouts no longer apply: set them here).
    ///
    /// # Errors
    /// Making it non-blocking failed.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self::from_mio(mio::net::TcpStream::from_std(stream)))
    }

    /// A second handle to the same connection (a duplicated descriptor),
    /// for a reader and a writer in two processes, say. Its timeouts are
    /// its own.
    ///
    /// # Errors
    /// Out of descriptors.
    pub fn try_clone(&self) -> io::Result<Self> {
        let fd = self.io.get_ref().as_fd().try_clone_to_owned()?;
        Ok(Self::from_mio(mio::net::TcpStream::from_std(
            std::net::TcpStream::from(fd),
        )))
    }

    /// Reads without taking the bytes out of the socket.
    ///
    /// # Errors
    /// As for `read`.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .read_with(self.timeouts.read_deadline(), |socket| socket.peek(buf))
    }

    /// The remote address.
    ///
    /// # Errors
    /// Not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// What `getsockname(2)` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// # Errors
    /// What `shutdown(2)` reports (not connected, say).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Sets `TCP_NODELAY` (Nagle's algorithm off when true).
    ///
    /// # Errors
    /// What `setsockopt(2)` reports.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// What `getsockopt(2)` reports.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    /// What `setsockopt(2)` reports.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    crate::macros::timeout_methods!("connection");

    /// The pending socket error (`SO_ERROR`), cleared.
    ///
    /// # Errors
    /// What `getsockopt(2)` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

crate::macros::stream_read_write!(TcpStream);

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
