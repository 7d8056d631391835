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
