//! Property test: random sequences of mailbox operations agree with a
//! `VecDeque` model of Erlang mailbox semantics.
//!
//! The model numbers messages by arrival; a mark is "the number of messages
//! sent so far", and a take-since-mark looks at messages numbered from the
//! mark on. Every step compares the operation's answer, and after every step
//! the whole queue (through `iter`) and its length.

use std::collections::VecDeque;

use ferrotp_mailbox::{Mailbox, Mark, Receiver, TryPushError};
use proptest::prelude::*;

/// A message: its arrival number and a small key the predicates look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Msg {
    id: u64,
    key: u8,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Push(u8),
    TryPush(u8),
    Pop,
    /// Take the first message whose key is `key % modulus == rest`.
    TakeFirst {
        modulus: u8,
        rest: u8,
    },
    Mark,
    /// Take since the mark held in slot `slot % marks.len()`.
    TakeSince {
        slot: usize,
        modulus: u8,
        rest: u8,
    },
    Len,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(Op::Push),
        2 => any::<u8>().prop_map(Op::TryPush),
        2 => Just(Op::Pop),
        3 => (1..6u8, 0..6u8).prop_map(|(modulus, rest)| Op::TakeFirst { modulus, rest }),
        1 => Just(Op::Mark),
        3 => (any::<usize>(), 1..6u8, 0..6u8)
            .prop_map(|(slot, modulus, rest)| Op::TakeSince { slot, modulus, rest }),
        1 => Just(Op::Len),
    ]
}

struct Model {
    queue: VecDeque<Msg>,
    sent: u64,
    capacity: Option<usize>,
}

impl Model {
    fn take(&mut self, from: u64, pred: impl Fn(&Msg) -> bool) -> Option<Msg> {
        let at = self.queue.iter().position(|m| m.id >= from && pred(m))?;
        self.queue.remove(at)
    }
}

fn run(ops: Vec<Op>, capacity: Option<usize>) -> Result<(), TestCaseError> {
    let mailbox = match capacity {
        Some(capacity) => Mailbox::bounded(capacity),
        None => Mailbox::new(),
    };
    let mut rx = Receiver::new(&mailbox);
    let mut model = Model {
        queue: VecDeque::new(),
        sent: 0,
        capacity,
    };
    // Marks held by the test: (real mark, model mark).
    let mut marks: Vec<(Mark, u64)> = vec![(Mark::START, 0)];

    for op in ops {
        match op {
            Op::Push(key) => {
                let msg = Msg {
                    id: model.sent,
                    key,
                };
                prop_assert!(!mailbox.push(msg).unwrap().must_wake());
                model.queue.push_back(msg);
                model.sent += 1;
            }
            Op::TryPush(key) => {
                let msg = Msg {
                    id: model.sent,
                    key,
                };
                let full = model.capacity.is_some_and(|cap| model.queue.len() >= cap);
                match mailbox.try_push(msg) {
                    Ok(_) => {
                        prop_assert!(!full, "accepted past capacity");
                        model.queue.push_back(msg);
                        model.sent += 1;
                    }
                    Err(TryPushError::Full(back)) => {
                        prop_assert!(full, "refused below capacity");
                        prop_assert_eq!(back, msg);
                    }
                    Err(TryPushError::Closed(_)) => prop_assert!(false, "not closed"),
                }
            }
            Op::Pop => prop_assert_eq!(rx.pop(), model.queue.pop_front()),
            Op::TakeFirst { modulus, rest } => {
                let pred = |m: &Msg| m.key % modulus == rest;
                prop_assert_eq!(rx.take_first(pred), model.take(0, pred));
            }
            Op::Mark => marks.push((rx.mark(), model.sent)),
            Op::TakeSince {
                slot,
                modulus,
                rest,
            } => {
                let slot = slot % marks.len();
                let pred = |m: &Msg| m.key % modulus == rest;
                let (mark, from) = &mut marks[slot];
                let expected = model.take(*from, pred);
                prop_assert_eq!(rx.take_first_since(mark, pred), expected);
                // The mark moves past every message examined and rejected.
                *from = expected.map_or(model.sent, |taken| taken.id);
            }
            Op::Len => prop_assert_eq!(rx.len(), model.queue.len()),
        }
        let seen: Vec<Msg> = rx.iter().copied().collect();
        prop_assert_eq!(&seen, &Vec::from(model.queue.clone()));
        if capacity.is_some() {
            prop_assert_eq!(mailbox.bounded_len(), Some(model.queue.len()));
        }
    }
    let drained: Vec<Msg> = rx.close().collect();
    prop_assert_eq!(drained, Vec::from(model.queue));
    Ok(())
}

/// Fixed seed, so that CI runs the same cases every time; set
/// `PROPTEST_SEED` to explore others locally.
fn config() -> ProptestConfig {
    let seed = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x006d_6169_6c62_6f78);
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unbounded_mailbox_matches_model(ops in prop::collection::vec(op(), 0..200)) {
        run(ops, None)?;
    }

    #[test]
    fn bounded_mailbox_matches_model(
        ops in prop::collection::vec(op(), 0..200),
        capacity in 1..8usize,
    ) {
        run(ops, Some(capacity))?;
    }
}
