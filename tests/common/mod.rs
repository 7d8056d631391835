//! Helpers shared by the facade's actor tests.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod recorder;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrotp::{ExitReason, Pid, Runtime, yield_now};

pub fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Yields until `pid` has ended; its reason.
pub fn wait_exit(pid: &Pid) -> ExitReason {
    while !pid.has_exited() {
        yield_now();
    }
    pid.exit_reason().unwrap()
}

/// Counts drops of the values made from it.
#[derive(Clone, Default)]
pub struct Drops(Arc<AtomicUsize>);

impl Drops {
    pub fn token(&self) -> DropToken {
        DropToken(Arc::clone(&self.0))
    }
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
