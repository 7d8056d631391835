//! loom model of the reply slot (module `reply_slot`): each value given
//! to `fill` is taken by the owner exactly once or handed back to its
//! filler, and a filler of an earlier call never fills a later one.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-scheduler --test loom_reply_slot --release`
//!
//! Mutations these models catch (each tried): `close` storing `IDLE`
//! instead of its CAS (a reply being written is lost: both models of a
//! race with the close fail), and `fill` accepting any generation in the
//! `ACTIVE` phase (the late reply answers the next call).
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_scheduler::reply_slot::ReplySlot;
use loom::thread;

/// The owner's call times out while the reply is sent: the reply is the
/// call's result (the close takes it) or comes back to the replier, never
/// both, never neither.
#[test]
fn a_reply_racing_the_timeout_lands_exactly_once() {
    loom::model(|| {
        let slot = Arc::new(ReplySlot::new());
        let call = slot.reserve();
        slot.open(call);
        let replier = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || slot.fill(call, 42u32).is_ok())
        };
        let taken = slot.close(call);
        let delivered = replier.join().unwrap();
        assert_eq!(taken.is_some(), delivered, "taken {taken:?}");
        if let Some(value) = taken {
            assert_eq!(value, 42);
        }
        // Nothing is left for the next call.
        let next = slot.reserve();
        slot.open(next);
        assert_eq!(slot.close(next), None);
    });
}

/// The reply and the callee's exit hook race: one wins, the owner takes
/// it once the slot says filled, and the other is refused.
#[test]
fn of_two_fillers_exactly_one_wins() {
    loom::model(|| {
        let slot = Arc::new(ReplySlot::new());
        let call = slot.reserve();
        slot.open(call);
        let fillers: Vec<_> = ["reply", "exited"]
            .into_iter()
            .map(|what| {
                let slot = Arc::clone(&slot);
                thread::spawn(move || slot.fill(call, what).is_ok())
            })
            .collect();
        let taken = loop {
            if let Some(value) = slot.take(call) {
                break value;
            }
            thread::yield_now();
        };
        let won: Vec<bool> = fillers.into_iter().map(|f| f.join().unwrap()).collect();
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
        assert_eq!(taken, if won[0] { "reply" } else { "exited" });
    });
}

/// A reply to call 1 arrives while the owner has closed it and opened
/// call 2: it must not fill call 2, whose own reply races it.
#[test]
fn a_late_reply_never_fills_the_next_call() {
    loom::model(|| {
        let slot = Arc::new(ReplySlot::new());
        let first = slot.reserve();
        slot.open(first);
        let late = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || slot.fill(first, "late").is_ok())
        };
        let first_result = slot.close(first);
        let second = slot.reserve();
        slot.open(second);
        let on_time = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || slot.fill(second, "on time").is_ok())
        };
        let second_result = slot.close(second);
        let late_delivered = late.join().unwrap();
        let on_time_delivered = on_time.join().unwrap();
        assert_eq!(first_result.is_some(), late_delivered);
        assert_ne!(
            second_result,
            Some("late"),
            "a late reply answered the next call"
        );
        assert_eq!(second_result.is_some(), on_time_delivered);
    });
}
