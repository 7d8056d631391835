//! The timer wheel: exact firing, cascading, cancelling, and agreement with
//! a simple model.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrotp_scheduler::timer::TimerWheel;
use proptest::prelude::*;

fn at(origin: Instant, ms: u64) -> Instant {
    origin + Duration::from_millis(ms)
}

/// Advances to `ms` and returns what fired.
fn advance(wheel: &mut TimerWheel<u64>, origin: Instant, ms: u64) -> Vec<u64> {
    let mut fired = Vec::new();
    wheel.advance(at(origin, ms), &mut fired);
    fired
}

#[test]
fn timers_fire_at_their_millisecond_in_deadline_order() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::new(origin);
    for ms in [5u64, 1, 63, 64, 65, 200, 4_095, 4_096, 4_097] {
        wheel.insert(at(origin, ms), ms);
    }
    let mut fired_at = Vec::new();
    for now in 1..=5_000 {
        for value in advance(&mut wheel, origin, now) {
            fired_at.push((value, now));
        }
    }
    let expected: Vec<_> = [1u64, 5, 63, 64, 65, 200, 4_095, 4_096, 4_097]
        .iter()
        .map(|&ms| (ms, ms))
        .collect();
    assert_eq!(fired_at, expected);
    assert!(wheel.is_empty());
}

#[test]
fn a_far_deadline_cascades_down_and_fires_exactly_on_time() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::new(origin);
    wheel.insert(at(origin, 10_000), 1);
    wheel.insert(at(origin, 3_600_000), 2);
    assert!(advance(&mut wheel, origin, 9_999).is_empty());
    assert_eq!(advance(&mut wheel, origin, 10_000), vec![1]);
    assert!(advance(&mut wheel, origin, 3_599_999).is_empty());
    assert_eq!(advance(&mut wheel, origin, 3_600_000), vec![2]);
}

/// Deadlines more than `u64::MAX` ms away (an `Instant` can hold them)
/// are the last tick, not wrapped round to a near one: they do not fire
/// within a year (they fired at 1 ms and 384 ms when the tick count was
/// truncated).
#[test]
fn a_deadline_past_the_last_tick_never_fires_early() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::new(origin);
    let max_ms = Duration::from_millis(u64::MAX);
    let (Some(huge), Some(huger)) = (
        origin.checked_add(max_ms),
        origin.checked_add(max_ms + Duration::from_millis(384)),
    ) else {
        return; // This platform's `Instant` cannot hold them.
    };
    wheel.insert(huge, 1);
    wheel.insert(huger, 2);
    wheel.insert(at(origin, 2), 3);
    let year = 365 * 24 * 3_600_000;
    let mut fired = Vec::new();
    for ms in [1u64, 2, 384, 385, 60_000, year] {
        fired.extend(advance(&mut wheel, origin, ms));
    }
    assert_eq!(fired, vec![3]);
    assert_eq!(wheel.len(), 2);
}

#[test]
fn a_big_jump_fires_everything_due_in_order() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::new(origin);
    let deadlines = [90_000u64, 7, 1_000, 65, 4_000_000, 64 * 64 * 64 + 3];
    for &ms in &deadlines {
        wheel.insert(at(origin, ms), ms);
    }
    let fired = advance(&mut wheel, origin, 3_600_000);
    assert_eq!(fired, vec![7, 65, 1_000, 90_000, 64 * 64 * 64 + 3]);
    assert_eq!(wheel.len(), 1);
}

#[test]
fn deadlines_beyond_the_wheels_range_never_fire_early() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::new(origin);
    let day = 24 * 3_600_000u64;
    wheel.insert(at(origin, 800 * day), 800);
    wheel.insert(at(origin, 1_700 * day + 5), 1_700);
    assert!(advance(&mut wheel, origin, 800 * day - 1).is_empty());
    assert_eq!(advance(&mut wheel, origin, 800 * day), vec![800]);
    assert!(advance(&mut wheel, origin, 1_700 * day + 4).is_empty());
    assert_eq!(advance(&mut wheel, origin, 1_700 * day + 5), vec![1_700]);
}

#[test]
fn sub_millisecond_deadlines_round_up() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::new(origin);
    wheel.insert(origin + Duration::from_micros(2_500), 3);
    assert!(
        advance(&mut wheel, origin, 2).is_empty(),
        "2.5 ms is not due at 2 ms"
    );
    assert_eq!(advance(&mut wheel, origin, 3), vec![3]);
    // A deadline in the past fires at the next millisecond.
    wheel.insert(origin, 0);
    assert!(advance(&mut wheel, origin, 3).is_empty());
    assert_eq!(advance(&mut wheel, origin, 4), vec![0]);
}

#[test]
fn next_deadline_is_exact_nearby_and_never_late_far_away() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::new(origin);
    assert_eq!(wheel.next_deadline(), None);
    wheel.insert(at(origin, 50_000), 2);
    let far = wheel.next_deadline().unwrap();
    assert!(far > origin && far <= at(origin, 50_000));
    wheel.insert(at(origin, 40), 1);
    assert_eq!(wheel.next_deadline(), Some(at(origin, 40)));
    assert_eq!(advance(&mut wheel, origin, 40), vec![1]);
    // Following next_deadline step by step reaches the far timer exactly.
    let mut steps = 0;
    loop {
        let next = wheel.next_deadline().unwrap();
        let ms = next.duration_since(origin).as_millis() as u64;
        let fired = advance(&mut wheel, origin, ms);
        steps += 1;
        if !fired.is_empty() {
            assert_eq!((fired, ms), (vec![2], 50_000));
            break;
        }
        assert!(steps < 10, "cascading takes a few steps, not one per tick");
    }
}

#[test]
fn cancel_returns_the_value_once_and_ignores_stale_keys() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::new(origin);
    let a = wheel.insert(at(origin, 10), 10);
    let b = wheel.insert(at(origin, 20), 20);
    assert_eq!(wheel.cancel(a), Some(10));
    assert_eq!(wheel.cancel(a), None);
    assert_eq!(advance(&mut wheel, origin, 30), vec![20]);
    assert_eq!(wheel.cancel(b), None, "already fired");
    // The freed entries are reused; the old keys stay dead.
    let c = wheel.insert(at(origin, 40), 40);
    assert_ne!(c, a);
    assert_ne!(c, b);
    assert_eq!(wheel.cancel(a), None);
    assert_eq!(wheel.cancel(b), None);
    assert_eq!(wheel.cancel(c), Some(40));
    assert!(wheel.is_empty());
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64),
    Cancel(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop_oneof![0..100u64, 0..5_000u64, 0..1_000_000u64].prop_map(Op::Insert),
        1 => any::<usize>().prop_map(Op::Cancel),
        2 => prop_oneof![0..10u64, 0..300u64, 0..100_000u64].prop_map(Op::Advance),
    ]
}

fn config() -> ProptestConfig {
    let seed = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7469_6d65);
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Against a model: a map from (deadline, id) to id. Whatever fires at
    /// an advance is exactly the model's timers due by then, in order.
    #[test]
    fn the_wheel_agrees_with_a_sorted_map(ops in prop::collection::vec(op(), 1..150)) {
        let origin = Instant::now();
        let mut wheel = TimerWheel::new(origin);
        let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let mut keys = Vec::new();
        let mut now = 0u64;
        for (id, op) in ops.into_iter().enumerate() {
            let id = id as u64;
            match op {
                Op::Insert(after) => {
                    // Deadlines at or before now fire at the next tick.
                    let deadline = (now + after).max(now + 1);
                    keys.push((wheel.insert(at(origin, now + after), id), (deadline, id)));
                    model.insert((deadline, id), id);
                }
                Op::Cancel(pick) if !keys.is_empty() => {
                    let (key, entry) = keys[pick % keys.len()];
                    prop_assert_eq!(wheel.cancel(key), model.remove(&entry));
                }
                Op::Cancel(_) => {}
                Op::Advance(by) => {
                    now += by;
                    let mut fired = Vec::new();
                    wheel.advance(at(origin, now), &mut fired);
                    let due: Vec<(u64, u64)> = model.range(..(now + 1, 0)).map(|(&k, _)| k).collect();
                    let expected: Vec<u64> = due.iter().map(|&(_, id)| id).collect();
                    for entry in &due {
                        model.remove(entry);
                    }
                    // Same set; in deadline order (ties in any order).
                    let mut sorted_fired = fired.clone();
                    sorted_fired.sort_unstable();
                    let mut sorted_expected = expected.clone();
                    sorted_expected.sort_unstable();
                    prop_assert_eq!(sorted_fired, sorted_expected);
                    let deadlines: Vec<u64> = fired.iter().map(|id| due.iter().find(|e| e.1 == *id).unwrap().0).collect();
                    prop_assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "out of order: {deadlines:?}");
                }
            }
            prop_assert_eq!(wheel.len(), model.len());
            if let Some(&(first, _)) = model.keys().next() {
                let next = wheel.next_deadline().unwrap();
                prop_assert!(next <= at(origin, first), "next_deadline after the first deadline");
            } else {
                prop_assert_eq!(wheel.next_deadline(), None);
            }
        }
    }
}
