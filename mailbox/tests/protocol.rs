//! Single-threaded checks of the wake, close and bounded-mailbox protocols
//! and of misuse. (Their concurrent behaviour is in `loom.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};

use ferrotp_mailbox::{CancelWait, Closed, Mailbox, Pushed, Receiver, TryPushError, Wait};

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    fn pair() -> (Arc<Self>, Waker) {
        let counter = Arc::new(Self::default());
        let waker = Waker::from(Arc::clone(&counter));
        (counter, waker)
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[test]
fn exactly_one_push_is_told_to_wake_a_waiting_receiver() {
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    assert_eq!(rx.announce_wait(), Wait::Sleep);
    // Announcing again is harmless and still says sleep.
    assert_eq!(rx.announce_wait(), Wait::Sleep);
    assert_eq!(mailbox.push(1), Ok(Pushed::WakeReceiver));
    assert_eq!(mailbox.push(2), Ok(Pushed::Queued));
    assert_eq!(mailbox.push(3), Ok(Pushed::Queued));
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(rx.pop(), Some(2));
    assert_eq!(rx.pop(), Some(3));
    assert_eq!(rx.pop(), None);
}

#[test]
fn announce_after_an_unseen_arrival_says_ready() {
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    assert_eq!(rx.pop(), None);
    assert_eq!(mailbox.push(7), Ok(Pushed::Queued));
    assert_eq!(rx.announce_wait(), Wait::Ready);
    assert_eq!(rx.pop(), Some(7));
    assert_eq!(rx.announce_wait(), Wait::Sleep);
}

#[test]
fn announce_with_unmatched_messages_in_the_inbox_still_sleeps() {
    // Selective receive: the inbox holds messages that do not match, and
    // the receiver waits for a new one.
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    let _ = mailbox.push("noise").unwrap();
    assert_eq!(rx.take_first(|m| *m == "reply"), None);
    assert_eq!(rx.announce_wait(), Wait::Sleep);
    assert_eq!(mailbox.push("reply"), Ok(Pushed::WakeReceiver));
    assert_eq!(rx.take_first(|m| *m == "reply"), Some("reply"));
    assert_eq!(rx.pop(), Some("noise"));
}

#[test]
fn cancel_wait_tells_whether_a_wake_up_was_claimed() {
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    assert_eq!(rx.announce_wait(), Wait::Sleep);
    assert_eq!(rx.cancel_wait(), CancelWait::Cancelled);
    // After cancelling, a push does not ask for a wake-up.
    assert_eq!(mailbox.push(1), Ok(Pushed::Queued));

    assert_eq!(rx.pop(), Some(1));
    assert_eq!(rx.announce_wait(), Wait::Sleep);
    assert_eq!(mailbox.push(2), Ok(Pushed::WakeReceiver));
    assert_eq!(rx.cancel_wait(), CancelWait::WakeClaimed);
    assert_eq!(rx.pop(), Some(2));
    // Cancelling with no announcement is a no-op.
    assert_eq!(rx.cancel_wait(), CancelWait::Cancelled);
}

#[test]
fn a_closed_mailbox_hands_pushes_back_and_never_sleeps() {
    let mailbox = Mailbox::bounded(4);
    let mut rx = Receiver::new(&mailbox);
    let _ = mailbox.push(1).unwrap();
    let _ = rx.take_first(|_| false); // 1 moves into the inbox
    let _ = mailbox.push(2).unwrap(); // 2 stays in the arrivals stack
    assert!(!mailbox.is_closed());
    assert_eq!(rx.close().collect::<Vec<_>>(), vec![1, 2]);
    assert!(mailbox.is_closed());
    assert_eq!(mailbox.push(3), Err(Closed(3)));
    assert_eq!(mailbox.try_push(4), Err(TryPushError::Closed(4)));
    assert_eq!(rx.announce_wait(), Wait::Closed);
    assert_eq!(rx.pop(), None);
    assert_eq!(rx.close().count(), 0, "closing twice returns nothing");
}

#[test]
fn dropping_the_receiver_closes_the_mailbox() {
    let mailbox = Arc::new(Mailbox::new());
    let rx = Receiver::new(Arc::clone(&mailbox));
    drop(rx);
    assert_eq!(mailbox.push("late"), Err(Closed("late")));
}

#[test]
#[should_panic(expected = "this mailbox already has a receiver")]
fn a_second_receiver_is_refused() {
    let mailbox = Mailbox::<u8>::new();
    let _first = Receiver::new(&mailbox);
    let _second = Receiver::new(&mailbox);
}

#[test]
#[should_panic(expected = "capacity of at least 1 (got 0)")]
fn a_zero_capacity_is_refused() {
    let _ = Mailbox::<u8>::bounded(0);
}

#[test]
fn bounded_try_push_counts_inbox_and_arrivals() {
    let mailbox = Mailbox::bounded(2);
    let mut rx = Receiver::new(&mailbox);
    assert_eq!(mailbox.capacity(), Some(2));
    assert!(mailbox.try_push(1).is_ok());
    assert_eq!(rx.take_first(|_| false), None); // 1 now in the inbox
    assert!(mailbox.try_push(2).is_ok());
    assert_eq!(mailbox.try_push(3), Err(TryPushError::Full(3)));
    // A plain push ignores the capacity but is counted.
    assert!(mailbox.push(4).is_ok());
    assert_eq!(mailbox.bounded_len(), Some(3));
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(mailbox.try_push(5), Err(TryPushError::Full(5)));
    assert_eq!(rx.take_first(|n| *n == 4), Some(4));
    assert!(mailbox.try_push(5).is_ok());
    assert_eq!(rx.close().collect::<Vec<_>>(), vec![2, 5]);
    assert_eq!(Mailbox::<u8>::new().capacity(), None);
}

#[test]
fn a_room_waiter_is_woken_once_per_freed_slot_in_order() {
    let mailbox = Mailbox::bounded(1);
    let mut rx = Receiver::new(&mailbox);
    let _ = mailbox.try_push(0).unwrap();
    let (first_count, first_waker) = CountingWaker::pair();
    let (second_count, second_waker) = CountingWaker::pair();
    let mut first = mailbox.room_waiter(first_waker);
    let mut second = mailbox.room_waiter(second_waker);
    assert_eq!(first.try_push(1), Err(TryPushError::Full(1)));
    assert_eq!(second.try_push(2), Err(TryPushError::Full(2)));

    assert_eq!(rx.pop(), Some(0));
    assert_eq!((first_count.count(), second_count.count()), (1, 0));
    assert!(first.try_push(1).is_ok());
    // The second sender was not woken: the room went to the first.
    assert_eq!(second.try_push(2), Err(TryPushError::Full(2)));

    assert_eq!(rx.pop(), Some(1));
    assert_eq!((first_count.count(), second_count.count()), (1, 1));
    assert!(second.try_push(2).is_ok());
    assert_eq!(rx.pop(), Some(2));
    // No waiters left: taking more wakes nobody.
    let _ = mailbox.try_push(3).unwrap();
    assert_eq!(rx.pop(), Some(3));
    assert_eq!((first_count.count(), second_count.count()), (1, 1));
}

#[test]
fn a_dropped_room_waiter_passes_its_wake_up_on() {
    let mailbox = Mailbox::bounded(1);
    let mut rx = Receiver::new(&mailbox);
    let _ = mailbox.try_push(0).unwrap();
    let (first_count, first_waker) = CountingWaker::pair();
    let (second_count, second_waker) = CountingWaker::pair();
    let mut first = mailbox.room_waiter(first_waker);
    let mut second = mailbox.room_waiter(second_waker);
    assert!(first.try_push(1).unwrap_err().is_full());
    assert!(second.try_push(2).unwrap_err().is_full());

    assert_eq!(rx.pop(), Some(0));
    assert_eq!(first_count.count(), 1);
    // The first sender is killed before it can use the room.
    drop(first);
    assert_eq!(second_count.count(), 1, "the wake-up was forwarded");
    assert!(second.try_push(2).is_ok());
    assert_eq!(rx.pop(), Some(2));
}

#[test]
fn a_dropped_room_waiter_that_was_not_woken_just_leaves() {
    let mailbox = Mailbox::bounded(1);
    let mut rx = Receiver::new(&mailbox);
    let _ = mailbox.try_push(0).unwrap();
    let (first_count, first_waker) = CountingWaker::pair();
    let (second_count, second_waker) = CountingWaker::pair();
    let mut first = mailbox.room_waiter(first_waker);
    let mut second = mailbox.room_waiter(second_waker);
    assert!(first.try_push(1).unwrap_err().is_full());
    assert!(second.try_push(2).unwrap_err().is_full());
    drop(first);
    assert_eq!(rx.pop(), Some(0));
    assert_eq!((first_count.count(), second_count.count()), (0, 1));
    assert!(second.try_push(2).is_ok());
}

#[test]
fn closing_wakes_every_room_waiter_and_refuses_their_retries() {
    let mailbox = Mailbox::bounded(1);
    let mut rx = Receiver::new(&mailbox);
    let _ = mailbox.try_push(0).unwrap();
    let (count_a, waker_a) = CountingWaker::pair();
    let (count_b, waker_b) = CountingWaker::pair();
    let mut a = mailbox.room_waiter(waker_a);
    let mut b = mailbox.room_waiter(waker_b);
    assert!(a.try_push(1).unwrap_err().is_full());
    assert!(b.try_push(2).unwrap_err().is_full());
    assert_eq!(rx.close().collect::<Vec<_>>(), vec![0]);
    assert_eq!((count_a.count(), count_b.count()), (1, 1));
    assert_eq!(a.try_push(1), Err(TryPushError::Closed(1)));
    assert_eq!(b.try_push(2), Err(TryPushError::Closed(2)));
}

#[test]
fn a_room_waiter_on_an_unbounded_mailbox_just_pushes() {
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    let (count, waker) = CountingWaker::pair();
    let mut sender = mailbox.room_waiter(waker);
    for n in 0..10 {
        assert!(sender.try_push(n).is_ok());
    }
    assert_eq!(rx.len(), 10);
    assert_eq!(count.count(), 0);
}

#[test]
fn marks_skip_older_messages_and_track_a_scan_position() {
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    for n in 0..1000 {
        let _ = mailbox.push(n).unwrap();
    }
    let mut reply_mark = rx.mark();
    let _ = mailbox.push(5).unwrap(); // same value as an older message
    assert_eq!(rx.take_first_since(&mut reply_mark, |n| *n == 5), Some(5));
    assert_eq!(rx.len(), 1000, "the older 5 is still queued");
    // Nothing new matches: the mark moves to the end.
    let before = reply_mark;
    assert_eq!(rx.take_first_since(&mut reply_mark, |n| *n == 5), None);
    assert!(reply_mark > before);
    // An old mark still sees everything after it.
    let mut start = ferrotp_mailbox::Mark::START;
    assert_eq!(rx.take_first_since(&mut start, |n| *n == 5), Some(5));
    assert_eq!(rx.take_first_since(&mut start, |n| *n == 5), None);
    assert_eq!(rx.len(), 999);
}

#[test]
fn iter_shows_messages_in_arrival_order_without_taking_them() {
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    for n in [3, 1, 2] {
        let _ = mailbox.push(n).unwrap();
    }
    assert_eq!(rx.iter().count(), 3);
    assert_eq!(rx.iter().copied().collect::<Vec<_>>(), vec![3, 1, 2]);
    assert_eq!(rx.len(), 3);
}

#[test]
fn a_panicking_predicate_leaves_the_mailbox_intact() {
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    for n in 0..5 {
        let _ = mailbox.push(n).unwrap();
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rx.take_first(|n| {
            if *n == 3 {
                panic!("predicate failed")
            } else {
                false
            }
        })
    }));
    assert!(result.is_err());
    assert_eq!(rx.iter().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    assert_eq!(rx.take_first(|n| *n == 3), Some(3));
}

#[test]
fn pushes_refused_as_closed_are_not_counted() {
    let mailbox = Mailbox::bounded(4);
    drop(Receiver::new(&mailbox));
    for n in 0..3 {
        assert_eq!(mailbox.push(n), Err(Closed(n)));
        assert_eq!(mailbox.try_push(n), Err(TryPushError::Closed(n)));
    }
    assert_eq!(mailbox.bounded_len(), Some(0));
}

#[test]
fn every_room_waiter_is_woken_on_close_even_if_one_waker_panics() {
    struct Panics;
    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("this waker panics");
        }
    }
    let mailbox = Mailbox::bounded(1);
    let mut rx = Receiver::new(&mailbox);
    let _ = mailbox.try_push(0).unwrap();
    let mut bad = mailbox.room_waiter(Waker::from(Arc::new(Panics)));
    let (count, waker) = CountingWaker::pair();
    let mut good = mailbox.room_waiter(waker);
    assert!(bad.try_push(1).unwrap_err().is_full());
    assert!(good.try_push(2).unwrap_err().is_full());
    let closing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.close().count()));
    assert!(closing.is_err(), "the waker's panic propagates");
    assert_eq!(count.count(), 1, "the other waiter was still woken");
    assert_eq!(good.try_push(2), Err(TryPushError::Closed(2)));
}
