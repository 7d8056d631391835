//! Drop accounting: every message is dropped exactly once, whichever way it
//! leaves the mailbox, and none leaks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use ferrotp_mailbox::{Closed, Mailbox, Receiver};

/// Records every drop by id; a second drop of one id fails the test.
#[derive(Default)]
struct Ledger(Mutex<Vec<u32>>);

impl Ledger {
    fn dropped(&self) -> Vec<u32> {
        let mut ids = self.0.lock().unwrap().clone();
        ids.sort_unstable();
        ids
    }
}

struct Tracked {
    id: u32,
    ledger: Arc<Ledger>,
    panic_on_drop: bool,
}

impl Tracked {
    fn new(id: u32, ledger: &Arc<Ledger>) -> Self {
        Self {
            id,
            ledger: Arc::clone(ledger),
            panic_on_drop: false,
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut ids = self.ledger.0.lock().unwrap();
        assert!(!ids.contains(&self.id), "message {} dropped twice", self.id);
        ids.push(self.id);
        drop(ids);
        if self.panic_on_drop {
            panic!("drop of message {} panics", self.id);
        }
    }
}

/// Pushes ids `0..n`; moves the first `in_inbox` into the inbox.
fn fill(
    mailbox: &Mailbox<Tracked>,
    rx: &mut Receiver<Tracked, &Mailbox<Tracked>>,
    n: u32,
    in_inbox: u32,
    ledger: &Arc<Ledger>,
) {
    for id in 0..in_inbox {
        let _ = mailbox.push(Tracked::new(id, ledger)).unwrap();
    }
    assert!(rx.take_first(|_| false).is_none());
    for id in in_inbox..n {
        let _ = mailbox.push(Tracked::new(id, ledger)).unwrap();
    }
}

#[test]
fn dropping_the_receiver_drops_every_queued_message_once() {
    let ledger = Arc::new(Ledger::default());
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    fill(&mailbox, &mut rx, 10, 4, &ledger);
    assert!(ledger.dropped().is_empty());
    drop(rx);
    assert_eq!(ledger.dropped(), (0..10).collect::<Vec<_>>());
    drop(mailbox);
    assert_eq!(ledger.dropped().len(), 10);
}

#[test]
fn a_mailbox_that_never_had_a_receiver_drops_its_messages() {
    let ledger = Arc::new(Ledger::default());
    let mailbox = Mailbox::new();
    for id in 0..5 {
        let _ = mailbox.push(Tracked::new(id, &ledger)).unwrap();
    }
    drop(mailbox);
    assert_eq!(ledger.dropped(), (0..5).collect::<Vec<_>>());
}

#[test]
fn close_hands_back_messages_and_drops_the_rest_of_the_drain() {
    let ledger = Arc::new(Ledger::default());
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    fill(&mailbox, &mut rx, 6, 3, &ledger);
    let mut drain = rx.close();
    let first = drain.next().unwrap();
    assert_eq!(first.id, 0);
    assert!(ledger.dropped().is_empty(), "handed out, not dropped");
    drop(drain);
    assert_eq!(ledger.dropped(), vec![1, 2, 3, 4, 5]);
    drop(first);
    // A push after close comes back to the sender, undropped.
    let Closed(back) = mailbox.push(Tracked::new(99, &ledger)).unwrap_err();
    assert_eq!(back.id, 99);
    assert_eq!(ledger.dropped().len(), 6);
    drop(back);
    drop(rx);
    assert_eq!(ledger.dropped(), vec![0, 1, 2, 3, 4, 5, 99]);
}

#[test]
fn taken_messages_belong_to_the_taker() {
    let ledger = Arc::new(Ledger::default());
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    fill(&mailbox, &mut rx, 8, 5, &ledger);
    let taken = rx.take_first(|m| m.id == 6).unwrap();
    let popped = rx.pop().unwrap();
    let mut mark = rx.mark();
    let _ = mailbox.push(Tracked::new(8, &ledger)).unwrap();
    let since = rx.take_first_since(&mut mark, |_| true).unwrap();
    assert_eq!((taken.id, popped.id, since.id), (6, 0, 8));
    assert!(ledger.dropped().is_empty());
    drop((taken, popped, since));
    assert_eq!(ledger.dropped(), vec![0, 6, 8]);
    drop(rx);
    assert_eq!(ledger.dropped(), (0..9).collect::<Vec<_>>());
}

#[test]
fn a_panicking_destructor_does_not_stop_the_others_being_dropped() {
    let ledger = Arc::new(Ledger::default());
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    for id in 0..6 {
        let mut msg = Tracked::new(id, &ledger);
        msg.panic_on_drop = id == 2;
        let _ = mailbox.push(msg).unwrap();
    }
    let result = catch_unwind(AssertUnwindSafe(|| drop(rx.close())));
    assert!(result.is_err());
    assert_eq!(ledger.dropped(), (0..6).collect::<Vec<_>>());
}
