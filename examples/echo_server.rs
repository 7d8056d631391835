//! A TCP echo server, as the Elixir guide's (`Task` and `gen_tcp`): an
//! acceptor process hands each connection to a process of its own under a
//! task supervisor. A read or a write suspends only its process, so a
//! thousand idle connections cost a thousand small stacks, not a thousand
//! threads.
//!
//! The demo connects 50 clients, each sending 100 lines and checking
//! every echo; one client sends `crash`, which panics its connection's
//! process: that client sees its connection close, and the 49 others are
//! untouched. Run with `cargo run --example echo_server`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;

use ferrotp::net::{TcpListener, TcpStream};
use ferrotp::task::TaskSupervisor;
use ferrotp::{receive, self_pid, send, spawn};

const CLIENTS: usize = 50;
const LINES: usize = 100;

/// One connection: echo each line back, until the client goes.
fn serve(stream: TcpStream) {
    let mut writer = &stream;
    for line in BufReader::new(&stream).lines() {
        let Ok(line) = line else { return };
        if line == "crash" {
            panic!("this connection was asked to crash");
        }
        if writer.write_all(format!("{line}\n").as_bytes()).is_err() {
            return;
        }
    }
}

/// How a client's session ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    AllEchoed(usize),
    ClosedAfterCrash,
}

fn client(addr: SocketAddr, id: usize) -> Outcome {
    let stream = TcpStream::connect(addr).expect("the server listens");
    let mut lines = BufReader::new(&stream);
    for n in 0..LINES {
        let sent = if id == 7 && n == 50 {
            "crash".to_owned()
        } else {
            format!("client {id} line {n}")
        };
        (&stream).write_all(format!("{sent}\n").as_bytes()).unwrap();
        let mut echo = String::new();
        if lines.read_line(&mut echo).unwrap_or(0) == 0 {
            return Outcome::ClosedAfterCrash;
        }
        assert_eq!(echo.trim_end(), sent, "echoed as sent, in order");
    }
    Outcome::AllEchoed(LINES)
}

fn main() {
    let (outcomes, supervisor_alive) = ferrotp::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().unwrap();
        let connections = TaskSupervisor::start_link().unwrap();
        let acceptor_tasks = connections.clone();
        spawn(move || {
            for stream in listener.incoming() {
                let stream = stream.expect("accept");
                acceptor_tasks
                    .start_child(move || serve(stream))
                    .expect("the supervisor runs");
            }
        });
        let me = self_pid();
        for id in 0..CLIENTS {
            let me = me.clone();
            spawn(move || send(&me, (id, client(addr, id))));
        }
        let mut outcomes: Vec<(usize, Outcome)> = (0..CLIENTS)
            .map(|_| receive::<(usize, Outcome)>())
            .collect();
        outcomes.sort_by_key(|(id, _)| *id);
        // The supervisor is still up: a crashing child is temporary, so it
        // never counts towards the restart intensity.
        let alive = connections.children().is_ok();
        connections.stop().unwrap();
        (outcomes, alive)
    })
    .expect("the runtime starts");
    let echoed: usize = outcomes
        .iter()
        .map(|(_, outcome)| match outcome {
            Outcome::AllEchoed(n) => *n,
            Outcome::ClosedAfterCrash => 0,
        })
        .sum();
    let crashed: Vec<usize> = outcomes
        .iter()
        .filter(|(_, outcome)| *outcome == Outcome::ClosedAfterCrash)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        crashed,
        [7],
        "only the client that asked for a crash lost its connection"
    );
    assert_eq!(echoed, (CLIENTS - 1) * LINES);
    assert!(
        supervisor_alive,
        "the connection supervisor outlived the crash"
    );
    println!(
        "{} clients: {echoed} lines echoed in order; client 7's connection crashed on request \
         and only it was closed; the connection supervisor kept running",
        CLIENTS
    );
}
