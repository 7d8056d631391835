//! `relations`: a process's links, the monitors it holds and those held
//! on it, listed exactly, both ways, and gone after unlink, demonitor,
//! a `Down` or an `Exit` that took effect (Erlang's `process_info` items
//! `links`, `monitors`, `monitored_by`).

mod common;

use ferrotp_scheduler::{Exit, ExitReason, Pid, exit, receive, self_pid, send, spawn, trap_exit};
use ferrotp_supervision::{
    Demonitor, Down, Relations, demonitor, link, monitor, relations, spawn_link, spawn_monitor,
    unlink,
};

use common::{runtime, wait_exit};

fn idle() -> Pid {
    spawn(|| {
        receive::<()>();
    })
}

fn lists(r: &Relations) -> (Vec<Pid>, Vec<Pid>, Vec<Pid>) {
    (r.links.clone(), r.monitors.clone(), r.monitored_by.clone())
}

#[test]
fn links_are_listed_on_both_ends_in_order_and_go_with_unlink() {
    let rt = runtime(2);
    rt.block_on(|| {
        let me = self_pid();
        let (a, b) = (idle(), idle());
        link(&a);
        link(&b);
        link(&a); // linked already: one link
        let c = spawn_link(|| {
            receive::<()>();
        });
        assert_eq!(relations(&me).links, [a.clone(), b.clone(), c.clone()]);
        assert_eq!(relations(&a).links, vec![me.clone()]);
        assert_eq!(relations(&c).links, vec![me.clone()]);
        unlink(&b);
        assert_eq!(relations(&me).links, [a.clone(), c.clone()]);
        assert!(relations(&b).links.is_empty());
        // Linked again after the unlink: listed again, at the end.
        link(&b);
        assert_eq!(relations(&me).links, [a.clone(), c.clone(), b.clone()]);
        for pid in [&a, &b, &c] {
            unlink(pid);
            send(pid, ());
        }
        assert_eq!(lists(&relations(&me)), (vec![], vec![], vec![]));
    });
}

#[test]
fn monitors_are_listed_one_per_monitor_and_go_with_demonitor() {
    let rt = runtime(2);
    rt.block_on(|| {
        let me = self_pid();
        let (a, b) = (idle(), idle());
        let first = monitor(&a);
        let _on_b = monitor(&b);
        let second = monitor(&a);
        assert_eq!(
            lists(&relations(&me)),
            (vec![], vec![a.clone(), b.clone(), a.clone()], vec![])
        );
        assert_eq!(relations(&a).monitored_by, [me.clone(), me.clone()]);
        assert_eq!(relations(&b).monitored_by, vec![me.clone()]);
        assert!(demonitor(&first, Demonitor::Flush));
        assert_eq!(relations(&me).monitors, [b.clone(), a.clone()]);
        assert_eq!(relations(&a).monitored_by, vec![me.clone()]);
        assert!(demonitor(&second, Demonitor::Flush));
        assert_eq!(relations(&me).monitors, vec![b.clone()]);
        assert!(relations(&a).monitored_by.is_empty());
        // Another process monitoring `b`: listed by `b` both.
        let watched = b.clone();
        let watcher = spawn(move || {
            let _watch = monitor(&watched);
            receive::<()>();
        });
        // `watcher` monitors `b` before it waits; wait until it does.
        while relations(&watcher).monitors.is_empty() {
            ferrotp_scheduler::yield_now();
        }
        assert_eq!(relations(&b).monitored_by, [me.clone(), watcher.clone()]);
        assert_eq!(relations(&watcher).monitors, vec![b.clone()]);
        for pid in [&a, &b, &watcher] {
            send(pid, ());
        }
    });
}

/// Once the `Down` is in hand the monitor is gone from both lists, and a
/// process that has ended lists nothing.
#[test]
fn a_fired_monitor_is_gone_once_its_down_is_received() {
    let rt = runtime(2);
    rt.block_on(|| {
        let me = self_pid();
        let (child, watch) = spawn_monitor(|| {
            receive::<()>();
        });
        assert_eq!(relations(&me).monitors, vec![child.clone()]);
        assert_eq!(relations(&child).monitored_by, vec![me.clone()]);
        send(&child, ());
        let down = receive::<Down>();
        assert_eq!(down.monitor, watch);
        assert!(relations(&me).monitors.is_empty());
        assert_eq!(lists(&relations(&child)), (vec![], vec![], vec![]));
    });
}

/// A trapped `Exit` from a link: once the message is received the link
/// has taken effect and is gone; its other end had ended anyway.
#[test]
fn a_link_is_gone_once_its_exit_took_effect() {
    let rt = runtime(2);
    rt.block_on(|| {
        trap_exit(true);
        let me = self_pid();
        let child = spawn_link(|| {
            receive::<()>();
        });
        let other = idle();
        link(&other);
        exit(&child, ExitReason::custom("stop"));
        let signal = receive::<Exit>();
        assert_eq!(signal.from, Some(child.clone()));
        assert_eq!(wait_exit(&child), ExitReason::custom("stop"));
        assert_eq!(relations(&me).links, vec![other.clone()]);
        assert!(relations(&child).links.is_empty());
        unlink(&other);
        send(&other, ());
    });
}
