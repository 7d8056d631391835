//! Helpers shared by the supervision crate's integration tests.

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
