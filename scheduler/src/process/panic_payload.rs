//! Dropping a panic payload the runtime caught, without letting a second
//! panic escape from its destructor.

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::lifecycle::exit_reason::ExitReason;
use crate::lifecycle::exit_signal::SignalUnwind;

/// Drops a panic payload the runtime caught. A payload of the user's type
/// may panic as it drops; that panic is contained and reported, and its
/// own payload is leaked rather than dropped (its destructor could panic
/// in turn, for ever). Without this, the second panic would unwind out of
/// whatever net caught the first: past a never-run child's remaining exit
/// hooks and its slot's return, or into a run loop.
pub(crate) fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        let why = if again.is::<SignalUnwind>() {
            "was unwound by an exit signal".into()
        } else {
            format!("panicked: {}", ExitReason::from_panic(&*again))
        };
        let _ = writeln!(
            std::io::stderr(),
            "ferrotp: a panic payload's destructor {why}"
        );
        std::mem::forget(again);
    }
}
