//! The demo's load generator: `redis-benchmark` in miniature, so that the
//! demo needs nothing but the Rust toolchain.
//!
//! # Design
//!
//! Each client is an OS thread with a blocking `std::net::TcpStream`,
//! as `redis-benchmark`'s clients are plain sockets outside the server:
//! the load is independent of the runtime under test. A client sends
//! its requests in pipelines of `pipeline` (1: one request, then its
//! reply), alternating `SET` and `GET` over `keys` keys, and records
//! each request's latency (a pipeline's round trip, for each request in
//! it) in an `hdrhistogram`. A client whose connection breaks (the
//! server closed it, or killed its process) counts the requests of the
//! pipeline in flight as lost, reconnects and goes on; an error reply is
//! counted and kept (the first few) for the report. Nothing here can
//! hang: every read and write has a timeout, and a client gives up
//! after a few failed reconnections.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::resp::{Reply, encode_request, parse_reply};

/// A client's read and write timeout, and its bound on a reconnection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Failed reconnections in a row after which a client gives up.
const RECONNECT_ATTEMPTS: u32 = 5;

/// Error replies kept for the report.
const ERRORS_KEPT: usize = 5;

/// The load to generate.
#[derive(Debug, Clone)]
pub struct Load {
    /// Clients, each with its own connection and thread.
    pub clients: usize,
    /// Requests over all the clients.
    pub requests: u64,
    /// Requests sent before their replies are read.
    pub pipeline: usize,
    /// Distinct keys.
    pub keys: u64,
    /// Bytes in each value set.
    pub value_size: usize,
}

/// What the clients saw.
pub struct LoadReport {
    /// From the first request to the last reply.
    pub elapsed: Duration,
    /// Latency of each request answered, in nanoseconds.
    pub latencies: Histogram<u64>,
    /// Requests answered with a value or `OK`.
    pub ok: u64,
    /// Requests answered with an error.
    pub error_replies: u64,
    /// Requests lost with a broken connection.
    pub lost: u64,
    /// Connections the server broke (each followed by a reconnection).
    pub reconnects: u64,
    /// Clients that saw neither an error reply nor a broken connection.
    pub untroubled_clients: usize,
    /// The first error replies and connection errors, with their client.
    pub first_errors: Vec<String>,
}

impl LoadReport {
    /// Requests answered, per second.
    pub fn throughput(&self) -> f64 {
        (self.ok + self.error_replies) as f64 / self.elapsed.as_secs_f64()
    }
}

/// One client's share of the report.
struct ClientReport {
    latencies: Histogram<u64>,
    ok: u64,
    error_replies: u64,
    lost: u64,
    reconnects: u64,
    errors: Vec<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// Runs `load` against `address`; `progress` counts the requests done
/// (answered or lost) as they are, for whoever watches.
pub fn run(address: SocketAddr, load: &Load, progress: &Arc<AtomicU64>) -> LoadReport {
    let started = Instant::now();
    let clients: Vec<_> = (0..load.clients)
        .map(|id| {
            let share = load.requests / load.clients as u64
                + u64::from((id as u64) < load.requests % load.clients as u64);
            let (load, progress) = (load.clone(), Arc::clone(progress));
            thread::Builder::new()
                .name(format!("load client {id}"))
                .spawn(move || client(id, address, share, &load, &progress))
                .expect("a client thread")
        })
        .collect();
    let mut report = LoadReport {
        elapsed: Duration::ZERO,
        latencies: histogram(),
        ok: 0,
        error_replies: 0,
        lost: 0,
        reconnects: 0,
        untroubled_clients: 0,
        first_errors: Vec::new(),
    };
    for (id, client) in clients.into_iter().enumerate() {
        let done = client.join().expect("a client thread does not panic");
        report.latencies.add(&done.latencies).expect("same bounds");
        report.ok += done.ok;
        report.error_replies += done.error_replies;
        report.lost += done.lost;
        report.reconnects += done.reconnects;
        if done.error_replies == 0 && done.reconnects == 0 && done.lost == 0 {
            report.untroubled_clients += 1;
        }
        for error in done.errors {
            if report.first_errors.len() < ERRORS_KEPT {
                report.first_errors.push(format!("client {id}: {error}"));
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}

fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&address, IO_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// A client: `share` requests, in pipelines (module docs).
fn client(
    id: usize,
    address: SocketAddr,
    share: u64,
    load: &Load,
    progress: &AtomicU64,
) -> ClientReport {
    let mut report = ClientReport {
        latencies: histogram(),
        ok: 0,
        error_replies: 0,
        lost: 0,
        reconnects: 0,
        errors: Vec::new(),
    };
    let value = vec![b'x'; load.value_size];
    // xorshift64, seeded per client: the same keys on every run.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (id as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let mut next_key = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut stream = match connect(address) {
        Ok(stream) => Some(stream),
        Err(error) => {
            report.errors.push(format!("connect: {error}"));
            None
        }
    };
    let mut failures = 0;
    let mut out = Vec::new();
    let mut input = Vec::with_capacity(64 * 1024);
    let mut done = 0;
    while done < share {
        let Some(connection) = stream.as_mut() else {
            failures += 1;
            if failures > RECONNECT_ATTEMPTS {
                // Give up: the rest is lost.
                report.lost += share - done;
                progress.fetch_add(share - done, Ordering::Relaxed);
                break;
            }
            thread::sleep(Duration::from_millis(10) * failures);
            stream = connect(address).ok();
            continue;
        };
        let n = (share - done).min(load.pipeline as u64) as usize;
        out.clear();
        for i in 0..n {
            let key = format!("key:{:012}", next_key() % load.keys.max(1));
            if (done as usize + i).is_multiple_of(2) {
                encode_request(&[&b"SET"[..], key.as_bytes(), &value], &mut out);
            } else {
                encode_request(&[&b"GET"[..], key.as_bytes()], &mut out);
            }
        }
        let sent = Instant::now();
        match round_trip(connection, &out, n, &mut input) {
            Ok(replies) => {
                failures = 0;
                let nanos = sent.elapsed().as_nanos() as u64;
                report
                    .latencies
                    .record_n(nanos.max(1), n as u64)
                    .expect("within bounds");
                for reply in replies {
                    if let Reply::Error(message) = reply {
                        report.error_replies += 1;
                        if report.errors.len() < ERRORS_KEPT {
                            report.errors.push(format!("-{message}"));
                        }
                    } else {
                        report.ok += 1;
                    }
                }
            }
            Err(error) => {
                report.lost += n as u64;
                report.reconnects += 1;
                if report.errors.len() < ERRORS_KEPT {
                    report.errors.push(format!("connection broken: {error}"));
                }
                input.clear();
                stream = connect(address).ok();
            }
        }
        done += n as u64;
        progress.fetch_add(n as u64, Ordering::Relaxed);
    }
    report
}

/// Writes `request`, then reads `count` replies.
fn round_trip(
    stream: &mut TcpStream,
    request: &[u8],
    count: usize,
    input: &mut Vec<u8>,
) -> io::Result<Vec<Reply>> {
    stream.write_all(request)?;
    let mut replies = Vec::with_capacity(count);
    let mut at = 0;
    while replies.len() < count {
        match parse_reply(&input[at..]) {
            Ok(Some((reply, used))) => {
                replies.push(reply);
                at += used;
            }
            Ok(None) => {
                let filled = input.len();
                input.resize(filled + 16 * 1024, 0);
                let read = stream.read(&mut input[filled..]);
                input.truncate(filled + *read.as_ref().unwrap_or(&0));
                if read? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ));
                }
            }
            Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
        }
    }
    input.drain(..at);
    Ok(replies)
}
