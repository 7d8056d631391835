//! loom models of every concurrent protocol of the mailbox.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-mailbox --test loom --release`
//!
//! Each model is small on purpose (two or three threads, a handful of
//! messages): loom explores every interleaving of them, and a lost wake-up
//! shows up as a deadlock that loom reports.
#![cfg(loom)]

use std::sync::Arc;
use std::task::{Wake, Waker};

use ferrotp_mailbox::{CancelWait, Mailbox, Mark, Pushed, Receiver, TryPushError, Wait};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

/// A waker that unparks one loom thread.
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `f` under loom and prints how many executions it explored.
fn model(f: impl Fn() + Sync + Send + 'static) {
    check(loom::model::Builder::new(), f);
}

fn check(builder: loom::model::Builder, f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    eprintln!("{} executions explored", executions.load(Ordering::Relaxed));
}

fn waker_for_current() -> Waker {
    Waker::from(Arc::new(Unpark(thread::current())))
}

/// Spawns a producer that pushes `(id, seq)` for each seq and unparks
/// `consumer` when told to.
fn producer(
    mailbox: &Arc<Mailbox<(u8, u8)>>,
    id: u8,
    count: u8,
    consumer: thread::Thread,
) -> thread::JoinHandle<()> {
    let mailbox = Arc::clone(mailbox);
    thread::spawn(move || {
        for seq in 0..count {
            if mailbox.push((id, seq)).unwrap().must_wake() {
                consumer.unpark();
            }
        }
    })
}

/// Every message of every producer is present once and in its producer's
/// order.
fn assert_complete_and_ordered(got: &[(u8, u8)], producers: u8, per_producer: u8) {
    for id in 0..producers {
        let seqs: Vec<u8> = got
            .iter()
            .filter(|(p, _)| *p == id)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(
            seqs,
            (0..per_producer).collect::<Vec<_>>(),
            "producer {id}: {got:?}"
        );
    }
    assert_eq!(got.len(), (producers * per_producer) as usize);
}

#[test]
fn concurrent_pushes_are_neither_lost_nor_duplicated_and_keep_order() {
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let me = thread::current();
        let a = producer(&mailbox, 0, 2, me.clone());
        let b = producer(&mailbox, 1, 2, me);
        // Receive concurrently with the pushes, then the rest.
        let mut got = Vec::new();
        got.extend(rx.pop());
        got.extend(rx.pop());
        a.join().unwrap();
        b.join().unwrap();
        got.extend(std::iter::from_fn(|| rx.pop()));
        assert_complete_and_ordered(&got, 2, 2);
    });
}

#[test]
fn selective_take_finds_each_producers_first_match_under_concurrent_pushes() {
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let me = thread::current();
        let a = producer(&mailbox, 0, 2, me.clone());
        let b = producer(&mailbox, 1, 2, me);
        // Take anything of producer 1 while both push: it can only be
        // producer 1's first message, since its second cannot arrive first.
        let taken = rx.take_first(|(p, _)| *p == 1);
        if let Some(msg) = taken {
            assert_eq!(msg, (1, 0));
        }
        a.join().unwrap();
        b.join().unwrap();
        let mut got: Vec<_> = taken.into_iter().collect();
        got.extend(std::iter::from_fn(|| rx.pop()));
        assert_complete_and_ordered(&got, 2, 2);
    });
}

#[test]
fn take_since_mark_sees_only_later_arrivals() {
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let _ = mailbox.push((9, 0)).unwrap(); // before the mark
        let mut mark = rx.mark();
        let a = producer(&mailbox, 0, 2, thread::current());
        let taken = rx.take_first_since(&mut mark, |_| true);
        if let Some(msg) = taken {
            assert_eq!(
                msg,
                (0, 0),
                "only producer 0's first message can be first after the mark"
            );
        }
        a.join().unwrap();
        // The message from before the mark is still there for a full scan.
        assert_eq!(rx.take_first(|m| m.0 == 9), Some((9, 0)));
        let mut got: Vec<_> = taken.into_iter().collect();
        got.extend(std::iter::from_fn(|| rx.pop()));
        assert_complete_and_ordered(&got, 1, 2);
    });
}

#[test]
fn the_wake_protocol_never_loses_a_wake_up() {
    // The consumer sleeps (parks) whenever the mailbox is empty; if a
    // wake-up were lost it would park forever and loom reports a deadlock.
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let sleeps = Arc::new(AtomicUsize::new(0));
        let consumer = {
            let sleeps = Arc::clone(&sleeps);
            thread::spawn(move || {
                let mut got = Vec::new();
                while got.len() < 3 {
                    if let Some(msg) = rx.pop() {
                        got.push(msg);
                        continue;
                    }
                    match rx.announce_wait() {
                        Wait::Sleep => {
                            sleeps.fetch_add(1, Ordering::Relaxed);
                            thread::park();
                        }
                        // Arrived, or still being written: let the sender run.
                        Wait::Ready => thread::yield_now(),
                        Wait::Closed => unreachable!(),
                    }
                }
                got
            })
        };
        let wakes = Arc::new(AtomicUsize::new(0));
        let spawn = |id, count| {
            let mailbox = Arc::clone(&mailbox);
            let consumer = consumer.thread().clone();
            let wakes = Arc::clone(&wakes);
            thread::spawn(move || {
                for seq in 0..count {
                    if mailbox.push((id, seq)).unwrap().must_wake() {
                        wakes.fetch_add(1, Ordering::Relaxed);
                        consumer.unpark();
                    }
                }
            })
        };
        let a = spawn(0u8, 2u8);
        let b = spawn(1, 1);
        a.join().unwrap();
        b.join().unwrap();
        let got = consumer.join().unwrap();
        let mut a_seqs = got.iter().filter(|m| m.0 == 0).map(|m| m.1);
        assert_eq!((a_seqs.next(), a_seqs.next()), (Some(0), Some(1)));
        // No wake-up storm: at most one wake-up per announced sleep.
        assert!(wakes.load(Ordering::Relaxed) <= sleeps.load(Ordering::Relaxed));
    });
}

#[test]
fn cancel_wait_agrees_with_the_push_that_races_it() {
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        assert_eq!(rx.announce_wait(), Wait::Sleep);
        let sender = {
            let mailbox = Arc::clone(&mailbox);
            thread::spawn(move || mailbox.push(1u8).unwrap())
        };
        // The receiver times out and withdraws its announcement.
        let cancelled = rx.cancel_wait();
        let pushed = sender.join().unwrap();
        // Exactly one of them owns the wake-up.
        assert_eq!(
            cancelled == CancelWait::WakeClaimed,
            pushed == Pushed::WakeReceiver,
        );
        assert_eq!(rx.pop(), Some(1));
    });
}

/// The slot variant of `cancel_wait` (a receiver that announced on a slot
/// whose push was still in flight) and its look-before-CAS fast path:
/// twice in a row, a cancelled wait reports `WakeClaimed` exactly when the
/// racing push was told to wake the receiver. (Suggested by review.)
#[test]
fn cancel_wait_agrees_with_the_push_that_races_it_twice_in_a_row() {
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        for value in 1..=2u8 {
            let sender = {
                let mailbox = Arc::clone(&mailbox);
                thread::spawn(move || mailbox.push(value).unwrap())
            };
            let cancelled = match rx.announce_wait() {
                Wait::Sleep => Some(rx.cancel_wait()),
                _ => None,
            };
            let pushed = sender.join().unwrap();
            match cancelled {
                Some(cancel) => assert_eq!(
                    cancel == CancelWait::WakeClaimed,
                    pushed == Pushed::WakeReceiver
                ),
                None => assert_eq!(pushed, Pushed::Queued),
            }
            assert_eq!(rx.pop(), Some(value));
        }
    });
}

#[test]
fn close_racing_pushes_delivers_or_returns_each_message_exactly_once() {
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let sender = {
            let mailbox = Arc::clone(&mailbox);
            thread::spawn(move || {
                (0..2u8)
                    .filter_map(|n| mailbox.push(n).err().map(|closed| closed.into_inner()))
                    .collect::<Vec<_>>()
            })
        };
        let first = rx.pop();
        let drained: Vec<u8> = rx.close().collect();
        let returned = sender.join().unwrap();
        let mut all: Vec<u8> = first.into_iter().chain(drained).collect();
        // What the mailbox got is a prefix of the sends; what came back is
        // the rest (closing is permanent).
        let delivered = all.len();
        assert_eq!(returned, (delivered as u8..2).collect::<Vec<_>>());
        all.extend(returned);
        assert_eq!(all, vec![0, 1]);
        assert!(mailbox.is_closed());
    });
}

/// Pushes `value` through a room waiter, parking while the mailbox is full.
fn push_waiting_for_room(mailbox: &Mailbox<u8>, value: u8) -> Pushed {
    let mut waiter = mailbox.room_waiter(waker_for_current());
    let mut value = value;
    loop {
        match waiter.try_push(value) {
            Ok(pushed) => return pushed,
            Err(TryPushError::Full(back)) => {
                value = back;
                thread::park();
            }
            Err(TryPushError::Closed(_)) => unreachable!(),
        }
    }
}

/// Parks until a message may have arrived: what a scheduler does for a
/// process whose receive found nothing.
fn wait_for_message(rx: &mut Receiver<u8>) {
    match rx.announce_wait() {
        Wait::Sleep => thread::park(),
        // Arrived, or still being written: let the sender run.
        Wait::Ready => thread::yield_now(),
        Wait::Closed => unreachable!("nobody closes this mailbox"),
    }
}

/// Receives `count` messages, parking on an empty mailbox.
fn receive(rx: &mut Receiver<u8>, count: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < count {
        match rx.pop() {
            Some(msg) => got.push(msg),
            None => {
                wait_for_message(rx);
            }
        }
    }
    got
}

#[test]
fn a_sender_waiting_for_room_is_always_woken() {
    // Capacity 1, already full: the sender must wait until the consumer
    // takes the first message.
    model(|| {
        let mailbox = Arc::new(Mailbox::bounded(1));
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let _ = mailbox.try_push(0).unwrap();
        let consumer = thread::spawn(move || receive(&mut rx, 2));
        if push_waiting_for_room(&mailbox, 1).must_wake() {
            consumer.thread().unpark();
        }
        assert_eq!(consumer.join().unwrap(), vec![0, 1]);
    });
}

#[test]
fn two_senders_waiting_for_room_both_get_in() {
    model(|| {
        let mailbox = Arc::new(Mailbox::bounded(1));
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let _ = mailbox.try_push(0).unwrap();
        let consumer = thread::spawn(move || receive(&mut rx, 3));
        let other = {
            let mailbox = Arc::clone(&mailbox);
            let consumer = consumer.thread().clone();
            thread::spawn(move || {
                if push_waiting_for_room(&mailbox, 2).must_wake() {
                    consumer.unpark();
                }
            })
        };
        if push_waiting_for_room(&mailbox, 1).must_wake() {
            consumer.thread().unpark();
        }
        other.join().unwrap();
        let got = consumer.join().unwrap();
        assert_eq!(got[0], 0);
        assert!(got == vec![0, 1, 2] || got == vec![0, 2, 1], "{got:?}");
    });
}

#[test]
fn a_waiter_that_gives_up_never_strands_another() {
    // Capacity 1, full. Sender A registers and then gives up (killed) at
    // any point, perhaps after being woken; sender B must still get in.
    model(|| {
        let mailbox = Arc::new(Mailbox::bounded(1));
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let _ = mailbox.try_push(0).unwrap();
        // The consumer receives until B's message has arrived.
        let consumer = thread::spawn(move || {
            let mut got = Vec::new();
            while !got.contains(&2) {
                match rx.pop() {
                    Some(msg) => got.push(msg),
                    None => {
                        wait_for_message(&mut rx);
                    }
                }
            }
            got
        });
        let quitter = {
            let mailbox = Arc::clone(&mailbox);
            let consumer = consumer.thread().clone();
            thread::spawn(move || {
                let mut waiter = mailbox.room_waiter(waker_for_current());
                // A's message may get in (if room appeared) or not.
                let pushed = waiter.try_push(1);
                drop(waiter);
                if pushed.is_ok_and(Pushed::must_wake) {
                    consumer.unpark();
                }
                pushed.is_ok()
            })
        };
        if push_waiting_for_room(&mailbox, 2).must_wake() {
            consumer.thread().unpark();
        }
        let a_got_in = quitter.join().unwrap();
        let got = consumer.join().unwrap();
        assert_eq!(got[0], 0);
        assert!(!a_got_in || got.contains(&1) || mailbox.bounded_len() == Some(1));
    });
}

#[test]
fn close_wakes_a_sender_waiting_for_room() {
    // Capacity 1, full; the receiver closes while a sender waits for room:
    // the sender must come back with its message, never stay asleep.
    model(|| {
        let mailbox = Arc::new(Mailbox::bounded(1));
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let _ = mailbox.try_push(0).unwrap();
        let sender = {
            let mailbox = Arc::clone(&mailbox);
            thread::spawn(move || {
                let mut waiter = mailbox.room_waiter(waker_for_current());
                loop {
                    match waiter.try_push(1u8) {
                        Err(TryPushError::Full(_)) => thread::park(),
                        Err(TryPushError::Closed(back)) => return back,
                        Ok(_) => unreachable!("the mailbox never has room"),
                    }
                }
            })
        };
        let drained: Vec<u8> = rx.close().collect();
        assert_eq!(drained, vec![0]);
        assert_eq!(sender.join().unwrap(), 1);
    });
}

#[test]
fn a_mark_never_moves_back_before_a_message_still_being_written() {
    // A message reserved before `mark()` but written after must never be
    // taken through that mark (a stale reply accepted by a `call`).
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        let sender = {
            let mailbox = Arc::clone(&mailbox);
            thread::spawn(move || {
                let _ = mailbox.push("stale reply").unwrap();
            })
        };
        let mut mark = rx.mark();
        let reserved_before_mark = mark != Mark::START;
        let first = rx.take_first_since(&mut mark, |_| true);
        sender.join().unwrap();
        let second = rx.take_first_since(&mut mark, |_| true);
        if reserved_before_mark {
            assert_eq!(
                (first, second),
                (None, None),
                "took a message from before the mark"
            );
        }
        // Wherever it was taken, the message arrives exactly once.
        let all: Vec<_> = [first, second, rx.pop()].into_iter().flatten().collect();
        assert_eq!(all, vec!["stale reply"]);
    });
}

#[test]
fn a_claimed_wake_up_after_a_timeout_still_ends_the_next_wait() {
    // The receiver announces, times out and cancels while a sender claims
    // the wake-up, looks (the message may still be in flight) and sleeps
    // again. Wake-ups are a permit: the sender's one wake-up must end the
    // second wait, whichever way the race went.
    model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let mut rx = Receiver::new(Arc::clone(&mailbox));
        assert_eq!(rx.announce_wait(), Wait::Sleep);
        let me = thread::current();
        let sender = {
            let mailbox = Arc::clone(&mailbox);
            thread::spawn(move || {
                if mailbox.push(1u8).unwrap().must_wake() {
                    me.unpark();
                }
            })
        };
        let _ = rx.cancel_wait(); // timed out
        let got = loop {
            if let Some(msg) = rx.pop() {
                break msg;
            }
            wait_for_message(&mut rx);
        };
        assert_eq!(got, 1);
        sender.join().unwrap();
    });
}
