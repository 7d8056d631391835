//! loom models of making and removing links (module `link_map`): the map,
//! the hook registration and the wait of a second linker, running the
//! shipped code on fake processes (`loom_process`). The link's state
//! machine alone has its own model (`loom_links.rs`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-supervision --test loom_link_setup --release`
#![cfg(loom)]

mod loom_process;

use ferrotp_scheduler::ExitReason;
use ferrotp_supervision::link_map;
use ferrotp_supervision::watch::Watch;
use loom::thread;
use loom_process::{Proc, Tally, pair};

/// The hooks of one link on a process that lived until the link was
/// over: registered once, then removed.
const REMOVED: Tally = Tally {
    registered: 1,
    removed: 1,
    ran: 0,
    ran_at_once: 0,
    pending: 0,
};

/// The hook of one link on a process that ended while it was linked:
/// registered once, then run by the end.
const RAN: Tally = Tally {
    registered: 1,
    removed: 0,
    ran: 1,
    ran_at_once: 0,
    pending: 0,
};

/// Two processes link to each other at the same instant, and one of them
/// then ends. Whichever linker comes second waits until the first has
/// stored its hooks, so that when either `link` returns the link watches
/// both ends; there is one record, one hook on each process, and the
/// survivor gets exactly one signal, with the reason (not `NoProc`: the
/// hook on the ending process was in place before it ended). The
/// survivor acts on its signals right after linking (as `link` does, at
/// its check point), racing the end, and again once it is over; acting
/// on the signal ends the link: the map is empty and the survivor's hook
/// removed.
#[test]
fn two_linkers_and_an_end_make_one_link_that_watches_both_ends() {
    loom::model(|| {
        let (links, a, b) = pair();
        let a_links = {
            let (a, b) = (a.clone(), b.clone());
            thread::spawn(move || {
                link_map::link(&a, &b);
                assert!(a.is_watched() && b.is_watched(), "half a link");
                a.act_on_exits()
            })
        };
        let b_links_then_ends = {
            let (a, b) = (a.clone(), b.clone());
            thread::spawn(move || {
                link_map::link(&b, &a);
                assert!(a.is_watched() && b.is_watched(), "half a link");
                b.end(ExitReason::Shutdown);
            })
        };
        let mut exits = a_links.join().unwrap();
        b_links_then_ends.join().unwrap();
        exits.extend(a.act_on_exits());
        assert_eq!(exits, [(b.id(), ExitReason::Shutdown)]);
        assert!(links.is_empty(), "a record left in the map");
        assert_eq!(a.tally(), REMOVED, "the survivor's hooks");
        assert_eq!(b.tally(), RAN, "the ended process's hooks");
    });
}

/// Both processes link to each other and then both end: exactly one of
/// the hooks fires the link, the other only cleans up; the record leaves
/// the map and each process had one hook, which ran.
#[test]
fn two_linkers_that_both_end_fire_the_link_once_and_forget_it() {
    loom::model(|| {
        let (links, a, b) = pair();
        let link_then_end = |me: &Proc, other: &Proc| {
            let (me, other) = (me.clone(), other.clone());
            thread::spawn(move || {
                link_map::link(&me, &other);
                me.end(ExitReason::Killed);
            })
        };
        let a_thread = link_then_end(&a, &b);
        let b_thread = link_then_end(&b, &a);
        a_thread.join().unwrap();
        b_thread.join().unwrap();
        assert!(links.is_empty(), "a record left in the map");
        // The signal of the hook that fired stands, once.
        let signals = a.act_on_exits().len() + b.act_on_exits().len();
        assert_eq!(signals, 1, "signals that stand");
        assert_eq!((a.tally(), b.tally()), (RAN, RAN));
    });
}

/// A process links to one that is ending. Its hook on that process is
/// registered before the end (the signal carries the reason) or after it
/// (the hook runs at once: the signal says `NoProc`); either way the
/// linker gets exactly one signal, and acting on it leaves nothing behind.
/// The linker acts on its signals right after linking (as `link` does, at
/// its check point), racing the end's hook, and again once it is over.
#[test]
fn a_link_racing_the_end_signals_once_with_the_reason_or_noproc() {
    loom::model(|| {
        let (links, a, b) = pair();
        let b_ends = {
            let b = b.clone();
            thread::spawn(move || b.end(ExitReason::Shutdown))
        };
        link_map::link(&a, &b);
        let mut exits = a.act_on_exits();
        b_ends.join().unwrap();
        exits.extend(a.act_on_exits());
        let late = b.tally().ran_at_once == 1;
        let reason = if late {
            ExitReason::NoProc
        } else {
            ExitReason::Shutdown
        };
        assert_eq!(exits, [(b.id(), reason)]);
        assert!(links.is_empty(), "a record left in the map");
        assert_eq!(a.tally(), REMOVED, "the linker's hooks");
        assert_eq!(b.tally().registered, 1);
    });
}

/// A process links to one that unlinks it and then ends. If `unlink`
/// found the link, the end's signal never takes effect; if it came
/// before the link was made, the link stands and signals once. Either
/// way the map is empty in the end and the survivor keeps no hook.
#[test]
fn unlink_and_the_end_racing_a_link_leave_no_late_signal_and_no_hook() {
    loom::model(|| {
        let (links, a, b) = pair();
        let b_unlinks_then_ends = {
            let (a, b) = (a.clone(), b.clone());
            thread::spawn(move || {
                let cut = link_map::unlink(&b, &a);
                b.end(ExitReason::Shutdown);
                cut
            })
        };
        link_map::link(&a, &b);
        let cut = b_unlinks_then_ends.join().unwrap();
        let exits = a.act_on_exits();
        if cut {
            assert_eq!(exits, [], "a signal took effect after unlink");
        } else {
            let late = b.tally().ran_at_once == 1;
            let reason = if late {
                ExitReason::NoProc
            } else {
                ExitReason::Shutdown
            };
            assert_eq!(exits, [(b.id(), reason)]);
        }
        assert!(links.is_empty(), "a record left in the map");
        assert_eq!(a.tally(), REMOVED, "the linker's hooks");
    });
}

/// A process links, unlinks and links again while the other ends: the
/// clean-up of the first, cut record must not take the second out of the
/// map (the link counts until its signal is acted on), and exactly one
/// signal, the second link's, takes effect.
#[test]
fn relinking_while_the_other_ends_keeps_the_new_record() {
    loom::model(|| {
        let (links, a, b) = pair();
        let b_ends = {
            let b = b.clone();
            thread::spawn(move || b.end(ExitReason::Shutdown))
        };
        link_map::link(&a, &b);
        link_map::unlink(&a, &b);
        link_map::link(&a, &b);
        assert!(link_map::is_linked(&a, &b), "the new link left the map");
        b_ends.join().unwrap();
        let exits = a.act_on_exits();
        assert_eq!(exits.len(), 1, "signals that took effect: {exits:?}");
        assert!(links.is_empty(), "a record left in the map");
        let a_tally = a.tally();
        assert_eq!((a_tally.registered, a_tally.pending), (2, 0));
    });
}
