//! UDP: [`UdpSocket`], shaped like `std::net`'s.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use ferrotp_scheduler::io::IoSource;

use crate::timeouts::Timeouts;

/// A UDP socket: `recv` and `send` suspend only the calling process.
///
/// ```
/// use ferrotp_net::UdpSocket;
///
/// let (got, from_ok) = ferrotp_scheduler::run(|| {
///     let server = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let addr = server.local_addr().unwrap();
///     ferrotp_scheduler::spawn(move || {
///         let client = UdpSocket::bind("127.0.0.1:0").unwrap();
///         client.send_to(b"datagram", addr).unwrap();
///     });
///     let mut buf = [0; 16];
///     let (n, from) = server.recv_from(&mut buf).unwrap();
///     (buf[..n].to_vec(), from.ip().is_loopback())
/// }).unwrap();
/// assert_eq!(got, b"datagram");
/// assert!(from_ok);
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
    timeouts: Timeouts,
}

impl UdpSocket {
    /// Binds to `addr` (the first address it resolves to that binds).
    ///
    /// # Errors
    /// The last address's error.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::from_std(std::net::UdpSocket::bind(addr)?)
    }

    /// Takes over a `std` socket (it is made non-blocking).
    ///
    /// # Errors
    /// Making it non-blocking failed.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        Ok(Self {
            io: IoSource::new(mio::net::UdpSocket::from_std(socket)),
            timeouts: Timeouts::default(),
        })
    }

    /// Sets the default peer for `send` and `recv`, and filters what
    /// `recv` takes to that peer's datagrams.
    ///
    /// # Errors
    /// What `connect(2)` reports.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match self.io.get_ref().connect(addr) {
                Ok(()) => return Ok(()),
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

    /// Sends `buf` to `target`.
    ///
    /// # Errors
    /// `TimedOut` past the write timeout; what `sendto(2)` reports.
    pub fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = target.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "ferrotp::net: the address resolved to no socket address",
            )
        })?;
        self.io
            .write_with(self.timeouts.write_deadline(), |socket| {
                socket.send_to(buf, target)
            })
    }

    /// Receives one datagram, and who sent it.
    ///
    /// # Errors
    /// `TimedOut` past the read timeout; what `recvfrom(2)` reports.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(self.timeouts.read_deadline(), |socket| {
            socket.recv_from(buf)
        })
    }

    /// Receives one datagram without taking it out of the queue.
    ///
    /// # Errors
    /// As for [`recv_from`](Self::recv_from).
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(self.timeouts.read_deadline(), |socket| {
            socket.peek_from(buf)
        })
    }

    /// Sends `buf` to the connected peer.
    ///
    /// # Errors
    /// Not connected; `TimedOut` past the write timeout.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .write_with(self.timeouts.write_deadline(), |socket| socket.send(buf))
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    /// Not connected; `TimedOut` past the read timeout.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .read_with(self.timeouts.read_deadline(), |socket| socket.recv(buf))
    }

    /// The local address.
    ///
    /// # Errors
    /// What `getsockname(2)` reports.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    /// Not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    /// What `setsockopt(2)` reports.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    crate::macros::timeout_methods!("socket");

    /// The pending socket error (`SO_ERROR`), cleared.
    ///
    /// # Errors
    /// What `getsockopt(2)` reports.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
