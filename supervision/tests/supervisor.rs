//! Supervisors, modelled on what OTP's own supervisor tests check
//! (lib/stdlib/test/supervisor_SUITE.erl): which children get new pids
//! under each strategy, each restart type against normal, shutdown and
//! abnormal exits, restart intensity, shutdown policies and stop order,
//! start-failure rollback, management calls, nested trees, dynamic
//! supervisors and backoff.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotp_scheduler::{
    Exit, ExitReason, Pid, exit, exit_self, receive, receive_match, self_pid, send, spawn,
    trap_exit, yield_now,
};
use ferrotp_supervision::{
    Backoff, ChildError, ChildKind, ChildSpec, ChildState, Down, DynamicSupervisorSpec, Restart,
    Shutdown, StartError, Strategy, Supervisor, SupervisorSpec, monitor,
};

use common::{runtime, wait_exit};

/// What a test child is told to do.
enum Command {
    /// End with this reason (`Normal`: return).
    End(ExitReason),
}

/// The body of a test child: waits for a command.
fn obedient() {
    let Command::End(reason) = receive::<Command>();
    if reason != ExitReason::Normal {
        exit_self(reason);
    }
}

fn worker(id: &str) -> ChildSpec {
    ChildSpec::worker(id, obedient).shutdown(Shutdown::BrutalKill)
}

/// Ends `child` with `reason` (`Kill` as the signal) and waits until it
/// has ended. Its supervisor's `Exit` is queued before the `Down` this
/// waits for (hooks run in registration order), so a call to the
/// supervisor made after this is answered after the exit is handled.
fn end(child: &Pid, reason: ExitReason) {
    let watch = monitor(child);
    match reason {
        ExitReason::Kill => exit(child, ExitReason::Kill),
        reason => send(child, Command::End(reason)),
    }
    receive_match::<Down>(|d| d.monitor == watch);
}

/// The children's pids (None: not running), in start order.
fn pids(sup: &Supervisor) -> Vec<Option<Pid>> {
    sup.which_children()
        .unwrap()
        .into_iter()
        .map(|c| c.state.pid().cloned())
        .collect()
}

fn ids(sup: &Supervisor) -> Vec<String> {
    sup.which_children()
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect()
}

fn three(strategy: Strategy) -> SupervisorSpec {
    SupervisorSpec::new(strategy)
        .intensity(10, Duration::from_secs(3600))
        .children(["a", "b", "c"].map(worker))
}

/// Which children changed pid after `b` crashed.
fn changed_after_crash_of_b(strategy: Strategy) -> Vec<bool> {
    let rt = runtime(2);
    rt.block_on(move || {
        let sup = three(strategy).start_link().unwrap();
        let before = pids(&sup);
        end(before[1].as_ref().unwrap(), ExitReason::custom("crash"));
        let after = pids(&sup);
        sup.stop().unwrap();
        before
            .iter()
            .zip(&after)
            .map(|(b, a)| {
                assert!(a.is_some(), "every child runs again");
                b != a
            })
            .collect()
    })
}

#[test]
fn one_for_one_restarts_only_the_crashed_child() {
    assert_eq!(
        changed_after_crash_of_b(Strategy::OneForOne),
        [false, true, false]
    );
}

#[test]
fn one_for_all_restarts_every_child() {
    assert_eq!(
        changed_after_crash_of_b(Strategy::OneForAll),
        [true, true, true]
    );
}

#[test]
fn rest_for_one_restarts_the_crashed_child_and_those_after_it() {
    assert_eq!(
        changed_after_crash_of_b(Strategy::RestForOne),
        [false, true, true]
    );
}

/// What became of a child of `restart` type after it ended with `reason`:
/// `Some(true)` restarted, `Some(false)` kept but stopped, `None` removed.
fn fate(restart: Restart, reason: ExitReason) -> Option<bool> {
    let rt = runtime(2);
    rt.block_on(move || {
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(10, Duration::from_secs(3600))
            .child(worker("child").restart(restart))
            .start_link()
            .unwrap();
        let before = pids(&sup)[0].clone().unwrap();
        end(&before, reason);
        let children = sup.which_children().unwrap();
        sup.stop().unwrap();
        children.first().map(|child| match &child.state {
            ChildState::Running(pid) => {
                assert_ne!(pid, &before);
                true
            }
            ChildState::Stopped => false,
            ChildState::Restarting => panic!("no backoff here"),
        })
    })
}

#[test]
fn a_permanent_child_is_always_restarted() {
    for reason in [
        ExitReason::Normal,
        ExitReason::Shutdown,
        ExitReason::custom("crash"),
        ExitReason::Kill,
    ] {
        assert_eq!(
            fate(Restart::Permanent, reason.clone()),
            Some(true),
            "{reason}"
        );
    }
}

#[test]
fn a_transient_child_is_restarted_only_after_an_abnormal_exit() {
    assert_eq!(fate(Restart::Transient, ExitReason::Normal), Some(false));
    assert_eq!(fate(Restart::Transient, ExitReason::Shutdown), Some(false));
    assert_eq!(
        fate(Restart::Transient, ExitReason::custom("crash")),
        Some(true)
    );
    assert_eq!(fate(Restart::Transient, ExitReason::Kill), Some(true));
}

#[test]
fn a_temporary_child_is_never_restarted_and_its_spec_is_removed() {
    for reason in [
        ExitReason::Normal,
        ExitReason::Shutdown,
        ExitReason::custom("crash"),
        ExitReason::Kill,
    ] {
        assert_eq!(fate(Restart::Temporary, reason.clone()), None, "{reason}");
    }
}

/// A temporary sibling stopped by a `OneForAll` restart is removed, not
/// restarted (OTP's sup_princ: "a temporary child process is never
/// restarted, even when a sibling's death causes it to be terminated").
#[test]
fn one_for_all_removes_a_temporary_sibling_it_stops() {
    let rt = runtime(2);
    let ids_after = rt.block_on(|| {
        let sup = SupervisorSpec::new(Strategy::OneForAll)
            .intensity(10, Duration::from_secs(3600))
            .child(worker("a"))
            .child(worker("t").restart(Restart::Temporary))
            .child(worker("c"))
            .start_link()
            .unwrap();
        end(pids(&sup)[2].as_ref().unwrap(), ExitReason::custom("crash"));
        let ids = ids(&sup);
        sup.stop().unwrap();
        ids
    });
    assert_eq!(ids_after, ["a", "c"]);
}

/// More restarts than the intensity allows: the supervisor stops its
/// children and exits with `Shutdown`, which a monitor sees.
#[test]
fn exceeding_the_intensity_ends_the_supervisor_with_shutdown() {
    let rt = runtime(2);
    let (restarts_survived, reason, children_ended) = rt.block_on(|| {
        trap_exit(true);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(2, Duration::from_secs(3600))
            .children(["a", "b"].map(worker))
            .start_link()
            .unwrap();
        let watch = monitor(sup.pid());
        let mut seen = pids(&sup);
        for _ in 0..2 {
            end(seen[0].as_ref().unwrap(), ExitReason::custom("crash"));
            seen = pids(&sup);
        }
        let sibling = seen[1].clone().unwrap();
        end(seen[0].as_ref().unwrap(), ExitReason::custom("crash"));
        let down = receive_match::<Down>(|d| d.monitor == watch);
        // Linked and trapping: the caller gets the same reason as an Exit.
        let signal = receive_match::<Exit>(|e| e.from.as_ref() == Some(sup.pid()));
        assert_eq!(signal.reason, down.reason);
        (2, down.reason, sibling.has_exited())
    });
    assert_eq!(restarts_survived, 2);
    assert_eq!(reason, ExitReason::Shutdown);
    assert!(children_ended);
}

/// OTP's default intensity is 1 restart in 5 seconds.
#[test]
fn the_default_intensity_allows_one_restart() {
    let rt = runtime(2);
    let reason = rt.block_on(|| {
        trap_exit(true);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(worker("a"))
            .start_link()
            .unwrap();
        let watch = monitor(sup.pid());
        end(pids(&sup)[0].as_ref().unwrap(), ExitReason::custom("crash"));
        end(pids(&sup)[0].as_ref().unwrap(), ExitReason::custom("crash"));
        receive_match::<Down>(|d| d.monitor == watch).reason
    });
    assert_eq!(reason, ExitReason::Shutdown);
}

/// A child that traps exits and ignores `Shutdown` is killed once its
/// shutdown timeout has passed; it did get the `Shutdown` first.
#[test]
fn a_child_ignoring_shutdown_is_killed_after_its_timeout() {
    let rt = runtime(2);
    let (got_shutdown, reason) = rt.block_on(|| {
        let me = self_pid();
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(
                ChildSpec::worker("stubborn", move || {
                    trap_exit(true);
                    send(&me, "trapping");
                    let signal = receive::<Exit>();
                    send(&me, signal.reason);
                    loop {
                        receive::<()>();
                    }
                })
                .shutdown(Shutdown::Timeout(Duration::from_millis(20))),
            )
            .start_link()
            .unwrap();
        let child = pids(&sup)[0].clone().unwrap();
        // Trapping once it has said so.
        assert_eq!(receive::<&str>(), "trapping");
        sup.terminate_child("stubborn").unwrap();
        (receive::<ExitReason>(), child.exit_reason().unwrap())
    });
    assert_eq!(got_shutdown, ExitReason::Shutdown);
    assert_eq!(reason, ExitReason::Killed);
}

/// A `BrutalKill` child is killed at once, even if it traps exits.
#[test]
fn a_brutal_kill_child_is_killed_at_once() {
    let rt = runtime(2);
    let (reason, got_message) = rt.block_on(|| {
        let got = Arc::new(Mutex::new(false));
        let flag = Arc::clone(&got);
        let trapping = Arc::new(AtomicUsize::new(0));
        let now_trapping = Arc::clone(&trapping);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(
                ChildSpec::worker("trapper", move || {
                    trap_exit(true);
                    now_trapping.fetch_add(1, Ordering::SeqCst);
                    let _ = receive::<Exit>();
                    *flag.lock().unwrap() = true;
                })
                .shutdown(Shutdown::BrutalKill),
            )
            .start_link()
            .unwrap();
        let child = pids(&sup)[0].clone().unwrap();
        wait_until(&trapping, 1);
        sup.terminate_child("trapper").unwrap();
        (child.exit_reason().unwrap(), *got.lock().unwrap())
    });
    assert_eq!(reason, ExitReason::Killed);
    assert!(!got_message);
}

/// Records its id in `log` when dropped: the child's stack unwound.
struct OnDrop(&'static str, Arc<Mutex<Vec<&'static str>>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.1.lock().unwrap().push(self.0);
    }
}

/// A child that logs its end, and tells `ready` once it runs (a child
/// stopped before it first ran has no stack to unwind, so nothing to
/// log).
fn logging(
    id: &'static str,
    log: &Arc<Mutex<Vec<&'static str>>>,
    ready: &Arc<AtomicUsize>,
) -> ChildSpec {
    let (log, ready) = (Arc::clone(log), Arc::clone(ready));
    ChildSpec::worker(id, move || {
        let _guard = OnDrop(id, Arc::clone(&log));
        ready.fetch_add(1, Ordering::SeqCst);
        obedient();
    })
}

/// Yields until `count` reaches `n`.
fn wait_until(count: &AtomicUsize, n: usize) {
    while count.load(Ordering::SeqCst) < n {
        yield_now();
    }
}

/// Children are stopped in reverse start order.
#[test]
fn children_stop_in_reverse_start_order() {
    let rt = runtime(2);
    let order = rt.block_on(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let ready = Arc::new(AtomicUsize::new(0));
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .children(["a", "b", "c", "d"].map(|id| logging(id, &log, &ready)))
            .start_link()
            .unwrap();
        wait_until(&ready, 4);
        sup.stop().unwrap();
        log.lock().unwrap().clone()
    });
    assert_eq!(order, ["d", "c", "b", "a"]);
}

/// A child that fails to start: those started before it are stopped in
/// reverse order, later ones never start, and `start_link` returns the
/// error; the caller lives on.
#[test]
fn a_start_failure_rolls_back_and_returns_the_error() {
    let rt = runtime(2);
    let (error, stopped, later_started) = rt.block_on(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let later = Arc::new(Mutex::new(false));
        let flag = Arc::clone(&later);
        let ready = Arc::new(AtomicUsize::new(0));
        let both_run = Arc::clone(&ready);
        let error = SupervisorSpec::new(Strategy::OneForOne)
            .child(logging("a", &log, &ready))
            .child(logging("b", &log, &ready))
            .child(ChildSpec::new("broken", move || {
                // Runs in the supervisor, once a and b have run.
                wait_until(&both_run, 2);
                Err(ExitReason::custom("no database"))
            }))
            .child(ChildSpec::worker("later", move || {
                *flag.lock().unwrap() = true
            }))
            .start_link()
            .unwrap_err();
        yield_now();
        let stopped = log.lock().unwrap().clone();
        let later_started = *later.lock().unwrap();
        (error, stopped, later_started)
    });
    assert_eq!(
        error,
        StartError::Child {
            id: "broken".into(),
            reason: ExitReason::custom("no database")
        }
    );
    assert_eq!(stopped, ["b", "a"]);
    assert!(!later_started);
}

/// A panicking start function is a failed start, not a dead supervisor.
#[test]
fn a_panicking_start_function_is_a_start_failure() {
    let rt = runtime(1);
    let error = rt.block_on(|| {
        SupervisorSpec::new(Strategy::OneForOne)
            .child(ChildSpec::new("bad", || panic!("cannot start")))
            .start_link()
            .unwrap_err()
    });
    assert_eq!(
        error,
        StartError::Child {
            id: "bad".into(),
            reason: ExitReason::Panic("cannot start".into())
        }
    );
}

#[test]
fn invalid_specs_are_refused_before_anything_starts() {
    let rt = runtime(1);
    let errors = rt.block_on(|| {
        let duplicate = SupervisorSpec::new(Strategy::OneForOne)
            .children(["x", "x"].map(worker))
            .start_link()
            .unwrap_err();
        let zero_period = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(1, Duration::ZERO)
            .start_link()
            .unwrap_err();
        let backoff = SupervisorSpec::new(Strategy::OneForOne)
            .backoff(Backoff::Exponential {
                base: Duration::from_millis(10),
                max: Duration::from_millis(1),
            })
            .start_link()
            .unwrap_err();
        [duplicate, zero_period, backoff].map(|e| e.to_string())
    });
    assert!(
        errors[0].contains("two children have the id \"x\""),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("period must be above zero"),
        "{}",
        errors[1]
    );
    assert!(errors[2].contains("max at least base"), "{}", errors[2]);
}

/// `which_children`, `count_children`, `start_child`, `terminate_child`,
/// `restart_child`, `delete_child`, with OTP's answers.
#[test]
fn management_calls_answer_as_otp_does() {
    let rt = runtime(2);
    rt.block_on(|| {
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(worker("a"))
            .start_link()
            .unwrap();
        let b = sup.start_child(worker("b")).unwrap();
        assert_eq!(ids(&sup), ["a", "b"]);
        assert!(matches!(
            sup.start_child(worker("b")),
            Err(ChildError::AlreadyStarted { pid, .. }) if pid == b
        ));
        let counts = sup.count_children().unwrap();
        assert_eq!(
            (
                counts.specs,
                counts.active,
                counts.workers,
                counts.supervisors
            ),
            (2, 2, 2, 0)
        );

        sup.terminate_child("b").unwrap();
        assert_eq!(b.exit_reason(), Some(ExitReason::Killed));
        assert_eq!(sup.which_children().unwrap()[1].state, ChildState::Stopped);
        assert_eq!(sup.count_children().unwrap().active, 1);
        assert!(matches!(
            sup.start_child(worker("b")),
            Err(ChildError::AlreadyPresent(_))
        ));
        assert!(matches!(sup.delete_child("a"), Err(ChildError::Running(_))));
        assert!(matches!(
            sup.restart_child("a"),
            Err(ChildError::Running(_))
        ));

        let b2 = sup.restart_child("b").unwrap();
        assert_ne!(b2, b);
        assert_eq!(pids(&sup)[1], Some(b2));
        sup.terminate_child("b").unwrap();
        sup.delete_child("b").unwrap();
        assert_eq!(ids(&sup), ["a"]);
        assert!(matches!(
            sup.delete_child("b"),
            Err(ChildError::NotFound(_))
        ));
        assert!(matches!(
            sup.terminate_child("zz"),
            Err(ChildError::NotFound(_))
        ));

        let failing = ChildSpec::new("f", || Err(ExitReason::custom("nope")));
        assert!(matches!(
            sup.start_child(failing),
            Err(ChildError::Start { reason, .. }) if reason == ExitReason::custom("nope")
        ));
        assert_eq!(ids(&sup), ["a"], "a child that failed to start is not kept");

        // A terminated temporary child's spec goes.
        sup.start_child(worker("t").restart(Restart::Temporary))
            .unwrap();
        sup.terminate_child("t").unwrap();
        assert_eq!(ids(&sup), ["a"]);

        sup.stop().unwrap();
        assert!(matches!(
            sup.which_children(),
            Err(ChildError::SupervisorDown(_))
        ));
    });
}

/// A leaf crash restarts the leaf only; a mid-level supervisor's crash
/// restarts its whole subtree; the rest of the tree keeps its pids.
#[test]
fn nested_trees_restart_the_smallest_subtree() {
    let rt = runtime(2);
    rt.block_on(|| {
        let inner = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(10, Duration::from_secs(3600))
            .name("inner")
            .children(["x", "y"].map(worker));
        let root = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(10, Duration::from_secs(3600))
            .child(ChildSpec::supervisor("inner", inner))
            .child(worker("w"))
            .start_link()
            .unwrap();
        let kinds: Vec<ChildKind> = root
            .which_children()
            .unwrap()
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, [ChildKind::Supervisor, ChildKind::Worker]);
        let inner_pid = pids(&root)[0].clone().unwrap();
        let w = pids(&root)[1].clone().unwrap();
        let leaves = |pid: &Pid| -> Vec<Pid> {
            assert_eq!(ferrotp_scheduler::whereis("inner").as_ref(), Some(pid));
            inner_children()
        };
        let before = leaves(&inner_pid);

        // Leaf crash: only x changes.
        end(&before[0], ExitReason::custom("leaf crash"));
        let after_leaf = inner_children();
        assert_ne!(after_leaf[0], before[0]);
        assert_eq!(after_leaf[1], before[1]);
        assert_eq!(pids(&root), [Some(inner_pid.clone()), Some(w.clone())]);

        // Mid-level crash: the inner supervisor and both leaves are new.
        end(&inner_pid, ExitReason::Kill);
        let root_now = pids(&root);
        let new_inner = root_now[0].clone().unwrap();
        assert_ne!(new_inner, inner_pid);
        assert_eq!(root_now[1], Some(w.clone()));
        let after_mid = leaves(&new_inner);
        // The old leaves die of their killed supervisor's link signal.
        for old in &after_leaf {
            assert_eq!(wait_exit(old), ExitReason::Killed);
        }
        assert!(after_mid.iter().all(|new| !after_leaf.contains(new)));
        root.stop().unwrap();
    });
}

/// The leaves of the supervisor registered as "inner", asked by name.
fn inner_children() -> Vec<Pid> {
    let pid = ferrotp_scheduler::whereis("inner").unwrap();
    Supervisor::from_pid(pid)
        .which_children()
        .unwrap()
        .into_iter()
        .map(|c| c.state.pid().cloned().unwrap())
        .collect()
}

/// Stopping a tree leaves no process behind.
#[test]
fn stopping_a_tree_leaves_no_orphan() {
    let rt = Arc::new(runtime(2));
    let handle = Arc::clone(&rt);
    let (before, during, after) = rt.block_on(move || {
        let live = || handle.metrics().live_processes();
        let before = live();
        let leaf_level =
            || SupervisorSpec::new(Strategy::OneForAll).children(["l1", "l2", "l3"].map(worker));
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(ChildSpec::supervisor("s1", leaf_level()))
            .child(ChildSpec::supervisor(
                "s2",
                SupervisorSpec::new(Strategy::RestForOne)
                    .child(ChildSpec::supervisor("s3", leaf_level()))
                    .child(worker("w")),
            ))
            .start()
            .unwrap();
        let during = live();
        sup.stop().unwrap();
        // Exits are counted just after a process's hooks run: give the
        // workers a bounded number of turns to count the last ones.
        let mut after = live();
        for _ in 0..100_000 {
            if after == before {
                break;
            }
            yield_now();
            after = live();
        }
        (before, during, after)
    });
    // 1 + 2 supervisors + s3: 4 supervisors; 3 + 3 leaves + w: 7 workers.
    assert_eq!(during - before, 11);
    assert_eq!(after, before);
}

/// A supervisor ends when its parent does, stopping its children first.
#[test]
fn a_supervisor_follows_its_parent_out() {
    let rt = runtime(2);
    let (sup_reason, child_reason) = rt.block_on(|| {
        let me = self_pid();
        let parent = spawn(move || {
            let sup = SupervisorSpec::new(Strategy::OneForOne)
                .child(worker("a"))
                .start_link()
                .unwrap();
            send(&me, (sup.pid().clone(), pids(&sup)[0].clone().unwrap()));
            receive::<()>();
            exit_self(ExitReason::custom("parent gone"));
        });
        let (sup, child) = receive::<(Pid, Pid)>();
        send(&parent, ());
        (wait_exit(&sup), wait_exit(&child))
    });
    assert_eq!(sup_reason, ExitReason::custom("parent gone"));
    assert_eq!(
        child_reason,
        ExitReason::Killed,
        "stopped by its BrutalKill policy"
    );
}

/// A restart that fails is retried, and each try counts against the
/// intensity: a child that cannot start again ends the supervisor.
#[test]
fn a_child_that_cannot_restart_ends_the_supervisor() {
    let rt = runtime(2);
    let (reason, tries) = rt.block_on(|| {
        let tries = Arc::new(Mutex::new(0u32));
        let counter = Arc::clone(&tries);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(3, Duration::from_secs(3600))
            .child(ChildSpec::new("flaky", move || {
                let mut tries = counter.lock().unwrap();
                *tries += 1;
                if *tries == 1 {
                    Ok(ferrotp_supervision::spawn_link(obedient))
                } else {
                    Err(ExitReason::custom("still down"))
                }
            }))
            .start()
            .unwrap();
        let watch = monitor(sup.pid());
        end(pids(&sup)[0].as_ref().unwrap(), ExitReason::custom("crash"));
        let reason = receive_match::<Down>(|d| d.monitor == watch).reason;
        let tries = *tries.lock().unwrap();
        (reason, tries)
    });
    assert_eq!(reason, ExitReason::Shutdown);
    // The first start, then 3 restarts allowed (each failing), the 4th
    // refused by the intensity.
    assert_eq!(tries, 4);
}

/// A fixed backoff holds the restart: the child shows as restarting.
/// An exponential one with short delays restarts it in the end.
#[test]
fn backoff_delays_restarts() {
    let rt = runtime(2);
    rt.block_on(|| {
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(10, Duration::from_secs(3600))
            .backoff(Backoff::Fixed(Duration::from_secs(3600)))
            .child(worker("slow"))
            .start_link()
            .unwrap();
        end(pids(&sup)[0].as_ref().unwrap(), ExitReason::custom("crash"));
        assert_eq!(
            sup.which_children().unwrap()[0].state,
            ChildState::Restarting
        );
        // restart_child starts it now.
        let pid = sup.restart_child("slow").unwrap();
        assert_eq!(pids(&sup), [Some(pid)]);
        sup.stop().unwrap();

        let me = self_pid();
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(10, Duration::from_secs(3600))
            .backoff(Backoff::Exponential {
                base: Duration::from_millis(1),
                max: Duration::from_millis(4),
            })
            .child(ChildSpec::worker("quick", move || {
                send(&me, self_pid());
                obedient();
            }))
            .start_link()
            .unwrap();
        let mut pid = receive::<Pid>();
        for _ in 0..3 {
            end(&pid, ExitReason::custom("crash"));
            let next = receive::<Pid>();
            assert_ne!(next, pid);
            pid = next;
        }
        sup.stop().unwrap();
    });
}

/// A dynamic supervisor: children from a template, `max_children`,
/// restart by type, `terminate_child` by pid, stop.
#[test]
fn a_dynamic_supervisor_starts_restarts_and_stops_children() {
    let rt = runtime(2);
    rt.block_on(|| {
        let sup = DynamicSupervisorSpec::with_template(|restart: Restart| {
            ChildSpec::worker("session", obedient)
                .restart(restart)
                .shutdown(Shutdown::Timeout(Duration::from_secs(5)))
        })
        .intensity(10, Duration::from_secs(3600))
        .max_children(3)
        .start_link()
        .unwrap();
        let permanent = sup.start_child(Restart::Permanent).unwrap();
        let transient = sup.start_child(Restart::Transient).unwrap();
        let temporary = sup.start_child(Restart::Temporary).unwrap();
        assert_eq!(
            sup.start_child(Restart::Permanent),
            Err(ChildError::MaxChildren(3))
        );

        end(&permanent, ExitReason::custom("crash"));
        let children = sup.which_children().unwrap();
        assert_eq!(children.len(), 3);
        let replacement = children[0].state.pid().cloned().unwrap();
        assert_ne!(replacement, permanent, "restarted in its place");

        end(&transient, ExitReason::Normal);
        end(&temporary, ExitReason::custom("crash"));
        let children: Vec<Pid> = sup
            .which_children()
            .unwrap()
            .into_iter()
            .filter_map(|c| c.state.pid().cloned())
            .collect();
        assert_eq!(children, std::slice::from_ref(&replacement));

        let extra = sup.start_child(Restart::Permanent).unwrap();
        sup.terminate_child(&extra).unwrap();
        assert_eq!(extra.exit_reason(), Some(ExitReason::Shutdown));
        assert!(matches!(
            sup.terminate_child(&extra),
            Err(ChildError::NotFound(_))
        ));

        sup.stop().unwrap();
        assert_eq!(replacement.exit_reason(), Some(ExitReason::Shutdown));
    });
}

/// A dynamic supervisor gives up like any other when its intensity is
/// exceeded, and takes its children down.
#[test]
fn a_dynamic_supervisor_gives_up_past_its_intensity() {
    let rt = runtime(2);
    let (reason, others_ended) = rt.block_on(|| {
        let sup = DynamicSupervisorSpec::new()
            .intensity(1, Duration::from_secs(3600))
            .start()
            .unwrap();
        let watch = monitor(sup.pid());
        let a = sup.start_child(worker("a")).unwrap();
        let b = sup.start_child(worker("b")).unwrap();
        end(&a, ExitReason::custom("crash"));
        let a2 = sup.which_children().unwrap()[0]
            .state
            .pid()
            .cloned()
            .unwrap();
        end(&a2, ExitReason::custom("crash"));
        let reason = receive_match::<Down>(|d| d.monitor == watch).reason;
        (reason, b.has_exited())
    });
    assert_eq!(reason, ExitReason::Shutdown);
    assert!(others_ended);
}

/// A supervisor killed outright takes its (non-trapping) children with
/// it through their links.
#[test]
fn a_killed_supervisor_leaves_no_children() {
    let rt = runtime(2);
    let reasons = rt.block_on(|| {
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .children(["a", "b"].map(worker))
            .start()
            .unwrap();
        let children: Vec<Pid> = pids(&sup).into_iter().flatten().collect();
        exit(sup.pid(), ExitReason::Kill);
        children.iter().map(wait_exit).collect::<Vec<_>>()
    });
    assert_eq!(reasons, [ExitReason::Killed, ExitReason::Killed]);
}

/// A supervisor answers a caller whose bounded mailbox is full: replies go
/// past the bound (waiting for room would deadlock both).
#[test]
fn a_caller_with_a_full_bounded_mailbox_gets_its_answer() {
    let rt = runtime(2);
    let children = rt.block_on(|| {
        let me = self_pid();
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(worker("a"))
            .start_link()
            .unwrap();
        let caller = ferrotp_scheduler::spawn_opt(
            ferrotp_scheduler::SpawnOptions::new().mailbox_capacity(2),
            move || {
                let mine = self_pid();
                send(&mine, 1u8);
                send(&mine, 2u8);
                send(&me, sup.which_children().unwrap().len());
                sup.stop().unwrap();
            },
        )
        .unwrap();
        let children = receive::<usize>();
        wait_exit(&caller);
        children
    });
    assert_eq!(children, 1);
}

/// A request from the supervisor's own process (a start function using
/// the handle) is refused instead of waiting for itself forever.
#[test]
fn a_request_from_the_supervisor_itself_is_refused() {
    let rt = runtime(1);
    let answer = rt.block_on(|| {
        let me = self_pid();
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(ChildSpec::new("nosy", move || {
                let sup = Supervisor::from_pid(self_pid());
                send(&me, sup.which_children().map(|c| c.len()));
                Ok(ferrotp_supervision::spawn_link(obedient))
            }))
            .start_link()
            .unwrap();
        let answer = receive::<Result<usize, ChildError>>();
        sup.stop().unwrap();
        answer
    });
    assert_eq!(answer, Err(ChildError::CalledFromItself));
}

/// A template that panics is a failed start; the dynamic supervisor and
/// its other children carry on.
#[test]
fn a_panicking_template_is_a_failed_start() {
    let rt = runtime(2);
    let (error, still_there) = rt.block_on(|| {
        let sup = DynamicSupervisorSpec::with_template(|n: u32| {
            assert!(n < 10, "no session {n}");
            worker("session")
        })
        .start_link()
        .unwrap();
        let first = sup.start_child(1).unwrap();
        let error = sup.start_child(11).unwrap_err();
        let still_there = sup.which_children().unwrap()[0].state.pid() == Some(&first);
        sup.stop().unwrap();
        (error, still_there)
    });
    assert!(
        matches!(&error, ChildError::Start { reason: ExitReason::Panic(m), .. } if m.contains("no session 11")),
        "{error:?}"
    );
    assert!(still_there);
}

/// A shutdown timeout too long to add to a clock is no deadline, not a
/// panic halfway through stopping.
#[test]
fn a_huge_shutdown_timeout_waits_without_overflowing() {
    let rt = runtime(2);
    let reasons = rt.block_on(|| {
        let sup = DynamicSupervisorSpec::new().start_link().unwrap();
        let a = sup
            .start_child(
                ChildSpec::worker("a", obedient).shutdown(Shutdown::Timeout(Duration::MAX)),
            )
            .unwrap();
        let b = sup.start_child(worker("b")).unwrap();
        sup.stop().unwrap();
        (a.exit_reason(), b.exit_reason())
    });
    assert_eq!(
        reasons,
        (Some(ExitReason::Shutdown), Some(ExitReason::Killed))
    );
}

/// A supervisor-kind child gets OTP's infinity shutdown unless told
/// otherwise.
#[test]
fn a_supervisor_child_defaults_to_infinity_shutdown() {
    let spec = ChildSpec::new("sub", || Err(ExitReason::custom("unused")));
    assert_eq!(
        spec.shutdown_policy(),
        Shutdown::Timeout(Duration::from_secs(5))
    );
    let spec = spec.kind(ChildKind::Supervisor);
    assert_eq!(spec.shutdown_policy(), Shutdown::Infinity);
    let spec = ChildSpec::new("sub", || Err(ExitReason::custom("unused")))
        .shutdown(Shutdown::BrutalKill)
        .kind(ChildKind::Supervisor);
    assert_eq!(spec.shutdown_policy(), Shutdown::BrutalKill);
}

/// Clean-up may call a supervisor (issue 12, item 5): a destructor run by
/// a kill gets its answer; one run at shutdown gets an answer too (the
/// supervisor may be gone by then: an error, not an abort or a hang).
#[test]
fn a_destructor_can_call_a_supervisor_during_a_kill_and_at_shutdown() {
    struct AsksOnDrop(Supervisor, Arc<Mutex<Vec<String>>>);
    impl Drop for AsksOnDrop {
        fn drop(&mut self) {
            let answer = match self.0.which_children() {
                Ok(children) => format!("{} children", children.len()),
                Err(error) => format!("error: {error}"),
            };
            self.1.lock().unwrap().push(answer);
        }
    }
    let rt = runtime(2);
    let log = Arc::new(Mutex::new(Vec::new()));
    let logged = Arc::clone(&log);
    rt.block_on(move || {
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(worker("a"))
            .child(worker("b"))
            .start_link()
            .unwrap();
        let me = self_pid();
        let (asking_sup, asking_log) = (sup.clone(), Arc::clone(&logged));
        let killed = spawn(move || {
            let _asks = AsksOnDrop(asking_sup, asking_log);
            send(&me, ());
            receive::<u64>();
        });
        receive::<()>();
        exit(&killed, ExitReason::Kill);
        assert_eq!(wait_exit(&killed), ExitReason::Killed);
        // One more, still blocked when the runtime is dropped.
        let me = self_pid();
        spawn(move || {
            let _asks = AsksOnDrop(sup, logged);
            send(&me, ());
            receive::<u64>();
        });
        receive::<()>();
    });
    drop(rt);
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0], "2 children");
    assert!(
        log[1] == "2 children" || log[1].starts_with("error: "),
        "{log:?}"
    );
}
