//! Pools (`ferrotp::pool`): a dispatch pool of parsers and a checkout
//! pool of database connections, as a service would use them.
//!
//! * `Pool`: 4 parser actors under their own supervisor, registered as
//!   `parser_1` ... `parser_4`. Lines are sent by user, so one user's
//!   lines always reach the same parser, in order; one parser crashes on
//!   a poisoned line and is restarted behind the same address.
//! * `CheckoutPool`: 2 connections and 1 overflow; 3 clients hold one
//!   each at the same time (the third is the overflow one, stopped once
//!   it is returned), and a fourth waits until one comes back.
//!
//! Run: `cargo run --example pools`

use std::time::Duration;

use ferrotp::actor::Next;
use ferrotp::pool::{CheckoutPool, Dispatch, Pool, PoolStatus};
use ferrotp::{ReplyTo, receive, self_pid, send, spawn, whereis, yield_now};

const TIMEOUT: Duration = Duration::from_secs(5);

enum Parse {
    /// A user's line; a line "poison" crashes the parser.
    Line(&'static str, &'static str),
    /// Every line this parser has taken, in order.
    Taken(ReplyTo<Vec<String>>),
}

enum Query {
    /// Runs a query; answers with the connection's number of queries.
    Run(ReplyTo<u32>),
}

fn main() {
    let (per_user, restarted, held_at_once, waited, status) = ferrotp::run(|| {
        let parsers = Pool::start("parser", 4, Dispatch::RoundRobin, |builder, _| {
            builder.start_fn(
                Vec::new(),
                |message, mut taken: Vec<String>| match message {
                    Parse::Line(_, "poison") => panic!("poisoned line"),
                    Parse::Line(user, line) => {
                        taken.push(format!("{user}:{line}"));
                        Next::Continue(taken)
                    }
                    Parse::Taken(reply) => {
                        reply.send(taken.clone());
                        Next::Continue(taken)
                    }
                },
            )
        })
        .expect("the parsers start");
        let users = ["ada", "bob", "cy"];
        for n in ["1", "2", "3"] {
            for user in users {
                parsers.send_keyed(user, Parse::Line(user, n));
            }
        }
        // Each user's lines, from the parser its key picks: in order.
        let per_user: Vec<Vec<String>> = users
            .iter()
            .map(|user| {
                let taken = parsers.call_keyed(*user, Parse::Taken, TIMEOUT).unwrap();
                taken
                    .into_iter()
                    .filter(|line| line.starts_with(user))
                    .collect()
            })
            .collect();
        // A poisoned line: the parser restarts, its address still works.
        let first = parsers.pick_keyed("mallory").pid();
        parsers.send_keyed("mallory", Parse::Line("mallory", "poison"));
        while !first.has_exited() {
            yield_now();
        }
        let after = parsers
            .call_keyed("mallory", Parse::Taken, TIMEOUT)
            .unwrap();
        let again = parsers.pick_keyed("mallory").pid();
        let restarted = after.is_empty() && again != first && whereis_any(&again);
        parsers.stop().unwrap();

        let connections = CheckoutPool::start("db", 2, 1, |builder| {
            builder.start_fn(0u32, |Query::Run(reply), n| {
                reply.send(n + 1);
                Next::Continue(n + 1)
            })
        })
        .expect("the connections start");
        let me = self_pid();
        let held: Vec<_> = (0..3)
            .map(|_| connections.checkout(TIMEOUT).expect("a connection"))
            .collect();
        let held_at_once = connections.status(TIMEOUT).unwrap();
        let waiting_pool = connections.clone();
        spawn(move || {
            let conn = waiting_pool.checkout(TIMEOUT).expect("one comes back");
            send(&me, conn.call(Query::Run, TIMEOUT).unwrap());
        });
        while connections.status(TIMEOUT).unwrap().waiting == 0 {
            yield_now();
        }
        drop(held);
        let waited: u32 = receive();
        while connections.status(TIMEOUT).unwrap().lent != 0 {
            yield_now();
        }
        let status = connections.status(TIMEOUT).unwrap();
        connections.stop(TIMEOUT).unwrap();
        (per_user, restarted, held_at_once, waited, status)
    })
    .expect("the runtime runs");

    println!("lines per user, each from one parser: {per_user:?}");
    println!("the poisoned parser restarted behind its address: {restarted}");
    println!("three connections held at once: {held_at_once:?}");
    println!("the fourth client waited, then ran query number {waited}");
    println!("at the end: {status:?}");

    assert_eq!(
        per_user,
        [
            ["ada:1", "ada:2", "ada:3"],
            ["bob:1", "bob:2", "bob:3"],
            ["cy:1", "cy:2", "cy:3"]
        ]
    );
    assert!(restarted);
    let status_of = |free, lent, overflow, waiting| PoolStatus {
        free,
        lent,
        overflow,
        waiting,
    };
    assert_eq!(held_at_once, status_of(0, 3, 1, 0));
    // A connection that had run no query: the first query on it.
    assert_eq!(waited, 1);
    // The overflow connection was stopped when it came back.
    assert_eq!(status, status_of(2, 0, 0, 0));
    println!("checked: per-key order, the restart, overflow, the wait");
}

/// Whether `pid` is one of the registered parsers.
fn whereis_any(pid: &ferrotp::Pid) -> bool {
    (1..=4).any(|i| whereis(&format!("parser_{i}")).as_ref() == Some(pid))
}
