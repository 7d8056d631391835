//! What the running process asks about itself and its time slice: its
//! pid, and reductions ([`reduce`], [`yield_now`]).

use std::sync::Arc;

use crate::process::Pid;
use crate::process::context::{try_with_process, with_process};

/// The pid of the running process.
///
/// # Panics
/// Outside a process.
pub fn self_pid() -> Pid {
    with_process("self_pid", |ctx| Pid(Arc::clone(ctx.pcb)))
}

/// The pid of the running process; `None` outside a process.
pub fn try_self_pid() -> Option<Pid> {
    try_with_process(|ctx| Pid(Arc::clone(ctx.pcb)))
}

/// Consumes `n` reductions of the running process's slice; when the slice
/// is spent the process goes to the back of its worker's run queue. Call
/// it in long computations so that other processes get their turn.
///
/// # Panics
/// Outside a process.
pub fn reduce(n: u32) {
    with_process("reduce", |ctx| ctx.reduce(n));
}

/// Gives up the rest of the running process's slice: it goes to the back
/// of its worker's run queue.
///
/// # Panics
/// Outside a process.
#[inline]
pub fn yield_now() {
    with_process("yield_now", |ctx| ctx.yield_polling());
}
