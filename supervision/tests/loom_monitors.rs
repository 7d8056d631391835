//! loom model of a monitor's state machine (module `monitor_state`):
//! `demonitor` racing the `Down`.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-supervision --test loom_monitors --release`
#![cfg(loom)]

use std::sync::Arc;

// The facade's atomics: their loads are modelled so that loom explores
// them against every store (module `sync` of ferrotp-mailbox).
use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_supervision::monitor_state::{Cancelled, MonitorState};
use loom::thread;

struct Hooks(Arc<AtomicUsize>);

fn remove(hooks: Option<Hooks>) {
    if let Some(Hooks(removed)) = hooks {
        removed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The owner stores its hooks and then demonitors while the watched
/// process ends and sends the `Down`: when `demonitor` says the monitor
/// was active, no `Down` is ever sent; when it says it was over, the
/// `Down` is already in the mailbox as it returns. The hooks are removed
/// exactly once.
#[test]
fn demonitor_racing_the_down_leaves_no_late_down() {
    loom::model(|| {
        let monitor = Arc::new(MonitorState::new());
        let removed = Arc::new(AtomicUsize::new(0));
        let pushed = Arc::new(AtomicUsize::new(0));
        let watched = {
            let (monitor, pushed) = (Arc::clone(&monitor), Arc::clone(&pushed));
            thread::spawn(move || {
                if monitor.fire() {
                    // The push of the Down into the owner's mailbox.
                    pushed.store(1, Ordering::Relaxed);
                    remove(monitor.fired());
                }
            })
        };
        // The owner.
        remove(monitor.store_hooks(Hooks(Arc::clone(&removed))));
        let (cancelled, hooks) = monitor.cancel();
        remove(hooks);
        let down_at_return = pushed.load(Ordering::Relaxed) == 1;
        watched.join().unwrap();
        match cancelled {
            Cancelled::WasActive => assert_eq!(pushed.load(Ordering::Relaxed), 0, "a late Down"),
            Cancelled::AlreadyOver => assert!(down_at_return, "Down not yet in the mailbox"),
        }
        assert!(!monitor.is_active());
        assert_eq!(removed.load(Ordering::Relaxed), 1);
    });
}
