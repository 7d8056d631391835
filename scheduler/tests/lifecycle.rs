//! Process lifecycle: exit hooks (the primitive links and monitors build
//! on).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use ferrotp_scheduler::{ExitReason, Pid, Runtime, receive, self_pid, send, spawn, yield_now};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Records what each hook saw, by name.
type Log = Arc<Mutex<Vec<String>>>;

fn record(log: &Log, name: &'static str) -> impl FnOnce(&ExitReason) + Send + 'static {
    let log = Arc::clone(log);
    move |reason| log.lock().unwrap().push(format!("{name}: {reason}"))
}

/// A hook runs once when its process ends, with the reason; the hooks of
/// one process run in registration order, and a removed one never runs.
#[test]
fn exit_hooks_run_once_with_the_reason_in_order() {
    let rt = runtime(2);
    let log = Log::default();
    let hooks_log = Arc::clone(&log);
    let removed = rt.block_on(move || {
        let me = self_pid();
        let child = spawn(move || {
            receive::<()>();
            panic!("crashed on purpose");
        });
        child.on_exit(record(&hooks_log, "first"));
        let second = child.on_exit(record(&hooks_log, "second"));
        child.on_exit(record(&hooks_log, "third"));
        child.on_exit(move |_| send(&me, "done"));
        let removed = second.remove();
        send(&child, ());
        assert_eq!(receive::<&str>(), "done");
        removed
    });
    assert!(removed);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "first: panic: crashed on purpose",
            "third: panic: crashed on purpose"
        ]
    );
}

/// A hook on a process that has already ended runs at once, here, with
/// `NoProc`, and cannot be removed.
#[test]
fn a_hook_on_an_ended_process_runs_at_once_with_noproc() {
    let rt = runtime(1);
    let ended: Pid = rt.block_on(|| {
        let child = spawn(|| {});
        while !child.has_exited() {
            yield_now();
        }
        child
    });
    let (tx, rx) = mpsc::channel();
    let hook = ended.on_exit(move |reason| tx.send(reason.clone()).unwrap());
    assert_eq!(rx.try_recv(), Ok(ExitReason::NoProc), "ran at once");
    assert!(!hook.remove());
}

/// Processes still alive at shutdown end with `Shutdown`, and their hooks
/// run; a panicking hook is contained and the others still run.
#[test]
fn hooks_run_at_shutdown_and_a_panicking_hook_is_contained() {
    let rt = runtime(2);
    let log = Log::default();
    let hooks_log = Arc::clone(&log);
    rt.block_on(move || {
        let me = self_pid();
        let waiter = spawn(move || {
            send(&me, ());
            receive::<u64>();
        });
        waiter.on_exit(|_| panic!("a faulty hook"));
        waiter.on_exit(record(&hooks_log, "after the faulty one"));
        receive::<()>();
    });
    drop(rt);
    assert_eq!(*log.lock().unwrap(), ["after the faulty one: shutdown"]);
}
