//! Helpers shared by the scheduler's integration tests.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use ferrotp_scheduler::{ExitReason, Pid, Runtime, yield_now};

/// A runtime with `workers` workers and the other settings at their
/// defaults.
pub fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Yields until `pid` has ended, then returns its reason (a deterministic
/// wait, not a sleep). Call it from a process.
pub fn wait_exit(pid: &Pid) -> ExitReason {
    while !pid.has_exited() {
        yield_now();
    }
    pid.exit_reason().unwrap()
}

/// Runs this test binary again with only the test named `test`, with
/// `CHILD_MODE=mode` in its environment: for tests whose failure is a
/// crash or an abort, which must not take the whole test binary down.
/// The child's own test summary is not captured (so it is not counted as
/// ours); what it prints and its exit status are.
pub fn rerun_in_child(test: &str, mode: &str) -> std::process::Output {
    rerun_in_child_with(test, mode, &[])
}

/// [`rerun_in_child`] with more environment variables.
pub fn rerun_in_child_with(test: &str, mode: &str, vars: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, mode)
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

/// The variable [`rerun_in_child`] sets.
pub const CHILD_MODE: &str = "SCHEDULER_TEST_CHILD";

/// The mode this process was started in by [`rerun_in_child`], if any.
pub fn child_mode() -> Option<String> {
    std::env::var(CHILD_MODE).ok()
}

/// In a child started by [`rerun_in_child`]: ends the child with status 3
/// if it is still running after `limit`, so that a hang fails its test
/// instead of hanging it.
pub fn watchdog(limit: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("watchdog: the child still runs after {limit:?} (a hang)");
        std::process::exit(3);
    });
}

/// Asserts that a child started by [`rerun_in_child`] passed, showing what
/// it printed if not (a crash shows as a signal, a hang as status 3).
pub fn assert_child_passed(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "the child failed: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Yields until `pid` is suspended in a blocking call (a deterministic
/// wait, not a sleep). Call it from a process.
///
/// # Panics
/// If `pid` ends first.
pub fn wait_until_waiting(pid: &Pid) {
    loop {
        match ferrotp_scheduler::process_info(pid) {
            Some(info) if info.status == ferrotp_scheduler::ProcessStatus::Waiting => return,
            Some(_) => yield_now(),
            None => panic!("{pid:?} ended ({:?}) before it waited", pid.exit_reason()),
        }
    }
}

/// How long a child started by [`in_child`] may run before its watchdog
/// calls it a hang.
pub const CHILD_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Runs `scenario` in a child process (this test binary again, with only
/// the test named `test`, and `mode` as [`child_mode`]), under a
/// [`watchdog`]: the test fails if the child fails, crashes or hangs, and
/// the test binary itself survives.
pub fn in_child(test: &str, mode: &str, scenario: impl FnOnce(&str)) {
    in_child_with(test, mode, &[], scenario);
}

/// [`in_child`] with more environment variables for the child.
pub fn in_child_with(test: &str, mode: &str, vars: &[(&str, &str)], scenario: impl FnOnce(&str)) {
    match child_mode() {
        Some(mode) => {
            watchdog(CHILD_LIMIT);
            scenario(&mode);
        }
        None => assert_child_passed(&rerun_in_child_with(test, mode, vars)),
    }
}

/// Asserts that the runtime has room for exactly `free` more processes:
/// `free` spawns succeed (each process waits meanwhile) and the next one
/// fails with `TooManyProcesses`; then the waiting ones end. For tests
/// that a slot taken was given back. Call it from a process.
pub fn assert_free_slots(free: usize) {
    /// Tells a waiting process to end.
    struct Release;
    let waiting: Vec<Pid> = (0..free)
        .map(|n| {
            ferrotp_scheduler::spawn_opt(ferrotp_scheduler::SpawnOptions::new(), || {
                ferrotp_scheduler::receive::<Release>();
            })
            .unwrap_or_else(|error| panic!("spawn {n} of {free} failed: {error}"))
        })
        .collect();
    let over = ferrotp_scheduler::spawn_opt(ferrotp_scheduler::SpawnOptions::new(), || {});
    assert!(
        matches!(
            over,
            Err(ferrotp_scheduler::SpawnError::TooManyProcesses { .. })
        ),
        "room for more than {free}: {over:?}"
    );
    for pid in &waiting {
        ferrotp_scheduler::send(pid, Release);
        assert_eq!(wait_exit(pid), ExitReason::Normal);
    }
}

/// A panic payload whose destructor panics (when it is not itself
/// dropped during an unwind).
pub struct PanicsAsItDrops;

impl Drop for PanicsAsItDrops {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the payload's destructor panics");
        }
    }
}
