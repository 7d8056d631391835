//! loom model of exit hooks (module `exit_hooks`): a hook registered, or
//! removed, while its process ends is never lost and never run twice.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ferrotp-scheduler --test loom_exit_hooks --release`
#![cfg(loom)]

use std::sync::Arc;

use ferrotp_mailbox::sync::{AtomicUsize, Ordering};
use ferrotp_scheduler::exit_hooks::{ExitHooks, Hook};
use ferrotp_scheduler::exit_reason::ExitReason;
use loom::thread;

/// Counts how often its hooks ran, and with which reason.
struct Ran {
    with_reason: AtomicUsize,
    with_noproc: AtomicUsize,
}

impl Ran {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            with_reason: AtomicUsize::new(0),
            with_noproc: AtomicUsize::new(0),
        })
    }
}

fn counting(ran: &Arc<Ran>) -> Hook {
    let ran = Arc::clone(ran);
    Box::new(move |reason: &ExitReason| {
        let counter = if *reason == ExitReason::NoProc {
            &ran.with_noproc
        } else {
            &ran.with_reason
        };
        counter.fetch_add(1, Ordering::Relaxed);
    })
}

/// The process's worker ends it: closes the hooks and runs them.
fn end(hooks: &ExitHooks) {
    for hook in hooks.close() {
        hook.run(&ExitReason::Killed);
    }
}

/// Registration racing the exit: the hook runs exactly once, with the
/// reason (registered first) or with `NoProc` (registered too late).
#[test]
fn a_hook_registered_during_the_exit_runs_exactly_once() {
    loom::model(|| {
        let hooks = Arc::new(ExitHooks::new());
        let ran = Ran::new();
        let registrant = {
            let (hooks, ran) = (Arc::clone(&hooks), Arc::clone(&ran));
            thread::spawn(move || {
                if let Err(hook) = hooks.add(counting(&ran)) {
                    hook(&ExitReason::NoProc);
                }
            })
        };
        end(&hooks);
        registrant.join().unwrap();
        let with_reason = ran.with_reason.load(Ordering::Relaxed);
        let with_noproc = ran.with_noproc.load(Ordering::Relaxed);
        assert_eq!(
            with_reason + with_noproc,
            1,
            "ran {with_reason} + {with_noproc} times"
        );
    });
}

/// Two registrants and the exit at once: both hooks run exactly once.
/// (Registrants spin on each other's lock, which multiplies loom's
/// branches: this model is bounded at two preemptions.)
#[test]
fn two_registrants_racing_the_exit_each_run_once() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.max_branches = 100_000;
    model.check(|| {
        let hooks = Arc::new(ExitHooks::new());
        let ran = Ran::new();
        let registrants: Vec<_> = (0..2)
            .map(|_| {
                let (hooks, ran) = (Arc::clone(&hooks), Arc::clone(&ran));
                thread::spawn(move || {
                    if let Err(hook) = hooks.add(counting(&ran)) {
                        hook(&ExitReason::NoProc);
                    }
                })
            })
            .collect();
        end(&hooks);
        for registrant in registrants {
            registrant.join().unwrap();
        }
        let total =
            ran.with_reason.load(Ordering::Relaxed) + ran.with_noproc.load(Ordering::Relaxed);
        assert_eq!(total, 2);
    });
}

/// Removal racing the exit: removed means it never runs; not removed
/// means it ran, once, with the reason.
#[test]
fn a_removal_racing_the_exit_either_removes_or_the_hook_runs_once() {
    loom::model(|| {
        let hooks = Arc::new(ExitHooks::new());
        let ran = Ran::new();
        let id = hooks.add(counting(&ran)).ok().expect("open");
        let remover = {
            let hooks = Arc::clone(&hooks);
            thread::spawn(move || hooks.remove(id))
        };
        end(&hooks);
        let removed = remover.join().unwrap();
        let with_reason = ran.with_reason.load(Ordering::Relaxed);
        assert_eq!(ran.with_noproc.load(Ordering::Relaxed), 0);
        assert_eq!(
            with_reason,
            usize::from(!removed),
            "removed: {removed}, ran {with_reason} times"
        );
    });
}
