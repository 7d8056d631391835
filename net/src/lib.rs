//! ferrotp's sockets: TCP, UDP and Unix-domain sockets shaped like
//! `std::net`'s, whose blocking calls (`accept`, `connect`, `read`,
//! `write`, `recv`, `send`) suspend only the calling process, never its
//! worker thread.
//!
//! # Design
//!
//! Each socket is a `mio` socket in non-blocking mode inside an
//! [`IoSource`](ferrotp_scheduler::io::IoSource), which does the waiting
//! (module `io` of `ferrotp-scheduler`): an operation that would block
//! registers the socket, the first time, with the poller of the worker
//! the process runs on (one `mio::Poll` per worker, which is also the
//! worker's park), and suspends the process until the poller reports the
//! socket ready, or the socket's timeout passes (`TimedOut`). Timeouts are
//! ordinary timers of the worker's timer wheel, so a worker parked with
//! both sockets and timers wakes for whichever comes first.
//!
//! * A process killed while it waits on a socket unwinds out of the call
//!   as out of a receive; the socket, a value on its stack, is taken off
//!   its poller and closed as it drops.
//! * Outside a process (the main thread, a plain `std::thread`) the same
//!   calls block the thread, as `std`'s do.
//! * Streams implement [`Read`](std::io::Read) and
//!   [`Write`](std::io::Write), also through `&`, so `BufReader`,
//!   `BufWriter`, `read_exact` and parsers over `Read` work unchanged.
//! * A socket is polled by the worker of the process that waits on it:
//!   handed to a process on another worker, it moves to that worker's
//!   poller at its first wait there (two `epoll_ctl` calls).
//! * Resolving a host name (`"example.com:80"`) blocks the thread in
//!   `getaddrinfo`; pass socket addresses, or resolve through a blocking
//!   call off the workers.

mod macros;
mod tcp;
mod timeouts;
mod udp;
mod unix;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
