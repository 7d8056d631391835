//! loom model of a link's state machine (module `link_state`): the
//! signal, `unlink` and the hook handles.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-supervision --test loom_links --release`
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_supervision::link_state::LinkState;
use loom::thread;

/// Hook handles: counts how often they were removed.
struct Hooks(Arc<AtomicUsize>);

fn remove(hooks: Option<Hooks>) {
    if let Some(Hooks(removed)) = hooks {
        removed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The linker storing its hooks races the other process's end and an
/// `unlink` by the survivor, who then acts on any signal: after `unlink`
/// the signal never takes effect, and the hooks are removed exactly once.
#[test]
fn unlink_racing_the_exit_drops_the_signal_and_removes_the_hooks_once() {
    loom::model(|| {
        let link = Arc::new(LinkState::new());
        let removed = Arc::new(AtomicUsize::new(0));
        let linker = {
            let (link, removed) = (Arc::clone(&link), Arc::clone(&removed));
            thread::spawn(move || remove(link.store_hooks(Hooks(removed))))
        };
        // The ending process's hook: signal, or clean up (the link was
        // cut first) by removing whatever hooks are stored.
        let ending = {
            let link = Arc::clone(&link);
            thread::spawn(move || {
                let fired = link.fire();
                if !fired {
                    remove(link.take_hooks());
                }
                fired
            })
        };
        // The survivor: unlink, then act on whatever arrived.
        remove(link.cut());
        linker.join().unwrap();
        let signalled = ending.join().unwrap();
        if signalled {
            assert!(
                link.take_effect().is_none(),
                "a signal took effect after unlink"
            );
        }
        assert!(!link.is_linked());
        assert_eq!(removed.load(Ordering::Relaxed), 1);
    });
}

/// Without `unlink`: the signal sent by the ending side takes effect when
/// the survivor acts on it, and the hooks are removed exactly once, by
/// the survivor or by a linker that stored them late.
#[test]
fn a_fired_link_takes_effect_once_and_removes_the_hooks_once() {
    loom::model(|| {
        let link = Arc::new(LinkState::new());
        let removed = Arc::new(AtomicUsize::new(0));
        let linker = {
            let (link, removed) = (Arc::clone(&link), Arc::clone(&removed));
            thread::spawn(move || remove(link.store_hooks(Hooks(removed))))
        };
        // The ending side fires; the survivor then acts on the signal.
        assert!(link.fire());
        let effect = link.take_effect();
        assert!(effect.is_some(), "the signal stands");
        remove(effect.flatten());
        linker.join().unwrap();
        assert!(link.take_effect().is_none(), "only once");
        assert_eq!(removed.load(Ordering::Relaxed), 1);
    });
}

/// Both processes end at once: exactly one of them signals.
#[test]
fn when_both_end_at_once_exactly_one_signals() {
    loom::model(|| {
        let link: Arc<LinkState<()>> = Arc::new(LinkState::new());
        let other = {
            let link = Arc::clone(&link);
            thread::spawn(move || link.fire())
        };
        let here = link.fire();
        let there = other.join().unwrap();
        assert!(here ^ there);
    });
}
