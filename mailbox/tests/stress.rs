//! Threaded stress: four producers, one consumer that parks its thread with
//! the wake protocol; every message arrives exactly once and each producer's
//! messages arrive in the order sent.

use std::sync::Arc;
use std::thread;

use ferrotp_mailbox::{Mailbox, Mark, Receiver, Wait};

const PRODUCERS: u64 = 4;
const PER_PRODUCER: u64 = 250_000;

/// Receives until `total` messages arrived, parking the thread whenever the
/// mailbox is empty. Returns the messages in arrival order and the number of
/// times the thread went to sleep.
fn receive_all<T>(
    rx: &mut Receiver<T>,
    total: u64,
    mut take: impl FnMut(&mut Receiver<T>) -> Option<T>,
) -> (Vec<T>, u64) {
    let mut got = Vec::with_capacity(total as usize);
    let mut sleeps = 0;
    while (got.len() as u64) < total {
        if let Some(msg) = take(rx) {
            got.push(msg);
            continue;
        }
        match rx.announce_wait() {
            Wait::Sleep => {
                sleeps += 1;
                // park may return spuriously; the loop re-checks.
                thread::park();
            }
            Wait::Ready => {}
            Wait::Closed => unreachable!("nobody closes this mailbox"),
        }
    }
    (got, sleeps)
}

fn spawn_producers(
    mailbox: &Arc<Mailbox<(u64, u64)>>,
    consumer: thread::Thread,
) -> Vec<thread::JoinHandle<u64>> {
    (0..PRODUCERS)
        .map(|producer| {
            let mailbox = Arc::clone(mailbox);
            let consumer = consumer.clone();
            thread::spawn(move || {
                let mut wakes = 0;
                for seq in 0..PER_PRODUCER {
                    if mailbox.push((producer, seq)).unwrap().must_wake() {
                        wakes += 1;
                        consumer.unpark();
                    }
                }
                wakes
            })
        })
        .collect()
}

fn check_per_producer_order(got: &[(u64, u64)]) {
    let mut next = [0u64; PRODUCERS as usize];
    for &(producer, seq) in got {
        assert_eq!(
            seq, next[producer as usize],
            "producer {producer} out of order"
        );
        next[producer as usize] += 1;
    }
    assert!(
        next.iter().all(|&n| n == PER_PRODUCER),
        "lost messages: {next:?}"
    );
}

#[test]
fn four_producers_one_consumer_every_message_once_in_order() {
    let mailbox = Arc::new(Mailbox::new());
    let mut rx = Receiver::new(Arc::clone(&mailbox));
    let producers = spawn_producers(&mailbox, thread::current());
    let (got, sleeps) = receive_all(&mut rx, PRODUCERS * PER_PRODUCER, Receiver::pop);
    let wakes: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
    check_per_producer_order(&got);
    // One wake-up per announced sleep at most (the last announcement may
    // have been cancelled by the final messages' arrival).
    assert!(wakes <= sleeps, "{wakes} wake-ups for {sleeps} sleeps");
    assert_eq!(rx.pop(), None);
}

#[test]
fn selective_consumer_under_concurrent_producers() {
    // The consumer drains producer 0's messages first, selectively, while
    // the others keep pushing; then everything else in order.
    let mailbox = Arc::new(Mailbox::new());
    let mut rx = Receiver::new(Arc::clone(&mailbox));
    let producers = spawn_producers(&mailbox, thread::current());
    // The mark is a scan position: each take resumes after the messages
    // already rejected, so the whole selective drain is O(messages).
    let mut scan = Mark::START;
    let (first, _) = receive_all(&mut rx, PER_PRODUCER, |rx| {
        rx.take_first_since(&mut scan, |(p, _)| *p == 0)
    });
    assert!(first.iter().all(|(p, _)| *p == 0));
    let (rest, _) = receive_all(&mut rx, (PRODUCERS - 1) * PER_PRODUCER, Receiver::pop);
    for p in producers {
        p.join().unwrap();
    }
    let mut all = first;
    all.extend(rest);
    check_per_producer_order(&all);
}
