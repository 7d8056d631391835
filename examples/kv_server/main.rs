//! A key-value server speaking the Redis protocol (RESP) on ferrotp:
//! `PING`, `GET`, `SET` (with `EX`/`PX`, `NX`/`XX`), `DEL`, `INCR`,
//! `MGET`, for any Redis client.
//!
//! | file | what it holds |
//! |---|---|
//! | `resp.rs` | the protocol: the request decoder, the reply encoder |
//! | `store.rs` | the commands and a shard of the key space; routing over shards |
//! | `buffer.rs` | a connection's read buffer: a pipeline read at once is one batch |
//! | `server.rs` | the server: a process per connection under a dynamic supervisor, shard actors |
//! | `demo.rs` | `--bench`: the server under load, a shard crashed and a connection killed meanwhile |
//! | `loadgen.rs` | the load generator: `redis-benchmark` in miniature |
//!
//! `resp.rs`, `store.rs` and `buffer.rs` are shared with the server's
//! tokio twin (`benches/kv/tokio_server.rs`), so the two differ only in
//! their runtime; `benches/kv/run.sh` loads both, and a real
//! `redis-server`, with `redis-benchmark`.
//!
//! Run:
//!
//! ```text
//! cargo run --release --example kv_server -- --port 6380 [--shards 4] [--workers 2]
//! cargo run --release --example kv_server -- --bench [--clients 50] [--requests 200000]
//!     [--pipeline 1] [--keys 10000]        the demo: the server in-process, under load
//! cargo run --release --example kv_server -- --bench --connect 127.0.0.1:6379
//!     the load generator alone, against any server
//! ```
//!
//! The server waits for ferrotp's sockets (`ferrotp::net`): until they
//! land, `server.rs` and `demo.rs` are left out of the build, and only
//! `--bench --connect` runs.

// Shared with the tests and the tokio twin, which use the rest of them.
#[allow(dead_code)]
mod buffer;
mod demo;
mod loadgen;
#[allow(dead_code)]
mod resp;
mod server;
#[allow(dead_code)]
mod store;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// What the command line asks for.
#[derive(Debug, Clone)]
pub struct Options {
    port: u16,
    shards: usize,
    workers: Option<usize>,
    bench: bool,
    connect: Option<SocketAddr>,
    load: loadgen::Load,
}

const USAGE: &str = "usage: kv_server [--port PORT] [--shards N] [--workers N]
       kv_server --bench [--clients N] [--requests N] [--pipeline N] [--keys N]
                 [--value-size BYTES] [--shards N] [--workers N] [--connect HOST:PORT]";

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            port: 6380,
            shards: 4,
            workers: None,
            bench: false,
            connect: None,
            load: loadgen::Load {
                clients: 50,
                requests: 200_000,
                pipeline: 1,
                keys: 10_000,
                value_size: 3,
            },
        };
        while let Some(flag) = args.next() {
            if flag == "--bench" {
                options.bench = true;
                continue;
            }
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.to_owned());
            }
            let value = args
                .next()
                .ok_or(format!("{flag} needs a value\n{USAGE}"))?;
            let number = || -> Result<u64, String> {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("{flag} {value:?}: expected a number above 0"))
            };
            match flag.as_str() {
                "--port" => {
                    options.port = value
                        .parse()
                        .map_err(|_| format!("--port {value:?}: expected 0 to 65535"))?;
                }
                "--shards" => options.shards = number()? as usize,
                "--workers" => options.workers = Some(number()? as usize),
                "--clients" => options.load.clients = number()? as usize,
                "--requests" => options.load.requests = number()?,
                "--pipeline" => options.load.pipeline = number()? as usize,
                "--keys" => options.load.keys = number()?,
                "--value-size" => options.load.value_size = number()? as usize,
                "--connect" => {
                    let address = value
                        .to_socket_addrs()
                        .ok()
                        .and_then(|mut addresses| addresses.next())
                        .ok_or(format!("--connect {value:?}: expected HOST:PORT"))?;
                    options.connect = Some(address);
                }
                _ => return Err(format!("unknown option {flag:?}\n{USAGE}")),
            }
        }
        if options.connect.is_some() && !options.bench {
            return Err(format!("--connect goes with --bench\n{USAGE}"));
        }
        Ok(options)
    }
}

fn main() {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("kv_server: {message}");
            std::process::exit(2);
        }
    };
    match options.connect {
        Some(address) => load_only(address, &options.load),
        None => run_server(&options),
    }
}

/// `--bench --connect`: the load generator alone.
fn load_only(address: SocketAddr, load: &loadgen::Load) {
    println!(
        "load on {address}: {} clients x {} requests, pipeline {}, SET/GET over {} keys",
        load.clients,
        load.requests / load.clients as u64,
        load.pipeline,
        load.keys
    );
    let report = loadgen::run(address, load, &Arc::new(AtomicU64::new(0)));
    print_load(&report);
}

/// Prints what the clients saw.
pub fn print_load(report: &loadgen::LoadReport) {
    let micros = |nanos: u64| {
        if nanos >= 1_000_000 {
            format!("{:.2} ms", nanos as f64 / 1e6)
        } else {
            format!("{:.1} µs", nanos as f64 / 1e3)
        }
    };
    let latencies = &report.latencies;
    println!(
        "  throughput       {:.0} requests/s ({} answered in {:.2} s)",
        report.throughput(),
        report.ok + report.error_replies,
        report.elapsed.as_secs_f64()
    );
    println!(
        "  latency          p50 {}  p99 {}  p99.9 {}  max {}",
        micros(latencies.value_at_quantile(0.50)),
        micros(latencies.value_at_quantile(0.99)),
        micros(latencies.value_at_quantile(0.999)),
        micros(latencies.max())
    );
    println!(
        "  errors           {} error replies, {} requests lost with {} broken connections",
        report.error_replies, report.lost, report.reconnects
    );
    for error in &report.first_errors {
        println!("                   {error}");
    }
}

/// The server itself, and `--bench` with the server in-process.
fn run_server(options: &Options) {
    let workers = options.workers;
    let mut builder = ferrotp::Runtime::builder();
    if let Some(workers) = workers {
        builder = builder.workers(workers);
    }
    let runtime = builder.build().expect("a runtime");
    if options.bench {
        demo::run(runtime, options);
        return;
    }
    let server_options = server::Options {
        shards: options.shards,
        ..server::Options::default()
    };
    let port = options.port;
    let server = runtime
        .block_on(move || server::start(("127.0.0.1", port), server_options))
        .unwrap_or_else(|error| {
            eprintln!("kv_server: port {port}: {error}");
            std::process::exit(1);
        });
    println!(
        "kv_server listening on {} ({} workers, {} shards)",
        server.address(),
        runtime.workers(),
        options.shards
    );
    // Serves until the process is stopped.
    loop {
        std::thread::park();
    }
}
