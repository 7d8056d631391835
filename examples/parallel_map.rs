//! A parallel map with `task::async_stream`: 100 inputs, at most 10
//! tasks at a time, results in input order (Elixir's
//! `Task.async_stream(1..100, &work/1, max_concurrency: 10)`).
//!
//! Each task counts itself in and out of a shared gauge, so the program
//! can report how many ran at once. To make that figure exact rather
//! than a matter of timing, each task also waits at a *gate*: a process
//! that holds its callers until 10 are waiting and then lets all 10
//! through (it answers their `call`s). The stream never runs more than
//! 10 tasks, and the gate opens only when 10 are inside, so the peak is
//! exactly 10. Without the gate the peak would depend on how fast the
//! tasks finish: at most 10, and usually less.
//!
//! Run: `cargo run --example parallel_map`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrotp::task::{self, TaskError};
use ferrotp::{Pid, ReplyTo, call, receive, spawn};

/// Inputs to map.
const INPUTS: u64 = 100;
/// Tasks at most at once.
const MAX_CONCURRENCY: usize = 10;
/// How long a task may wait at the gate.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The work: what each task computes.
fn work(n: u64) -> u64 {
    n * n
}

/// A gate process: holds its callers until `width` wait, then answers
/// them all; once `total` have come, answers the last group as it is.
fn gate(width: usize, total: u64) -> Pid {
    spawn(move || {
        let mut waiting: Vec<ReplyTo<()>> = Vec::with_capacity(width);
        for arrived in 1..=total {
            waiting.push(receive::<ReplyTo<()>>());
            if waiting.len() == width || arrived == total {
                for reply in waiting.drain(..) {
                    reply.send(());
                }
            }
        }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (results, inside_after) = ferrotp::run({
        let (inside, peak) = (Arc::clone(&inside), Arc::clone(&peak));
        move || {
            let gate = gate(MAX_CONCURRENCY, INPUTS);
            let gauge = Arc::clone(&inside);
            let results: Vec<Result<u64, TaskError>> = task::async_stream(1..=INPUTS, move |n| {
                let inside = &gauge;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                call(&gate, |reply: ReplyTo<()>| reply, TIMEOUT)
                    .expect("the gate answers once 10 tasks wait");
                inside.fetch_sub(1, Ordering::SeqCst);
                work(n)
            })
            .max_concurrency(MAX_CONCURRENCY)
            .timeout(TIMEOUT)
            .collect();
            (results, inside.load(Ordering::SeqCst))
        }
    })?;

    let results: Vec<u64> = results.into_iter().collect::<Result<_, _>>()?;
    let expected: Vec<u64> = (1..=INPUTS).map(work).collect();
    assert_eq!(results, expected, "every input's result, in input order");
    assert_eq!(inside_after, 0, "every task has left");
    let peak = peak.load(Ordering::SeqCst);
    assert_eq!(peak, MAX_CONCURRENCY, "exactly max_concurrency at once");

    println!(
        "mapped {INPUTS} inputs with max_concurrency({MAX_CONCURRENCY}): first {:?}, last {:?}, \
         sum {}",
        &results[..5],
        &results[results.len() - 3..],
        results.iter().sum::<u64>()
    );
    println!("peak concurrency observed: {peak} (at most {MAX_CONCURRENCY} by the stream)");
    Ok(())
}
