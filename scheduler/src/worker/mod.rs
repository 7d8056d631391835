//! Workers: one OS thread each, running processes from its run queues,
//! stealing, parking when idle, and watching for processes that hold it
//! too long.
//!
//! | file | what it holds |
//! |---|---|
//! | `run_loop.rs` | the run loop: queues, the stealable LIFO slot, stealing, timers, fairness, shutdown |
//! | `idle.rs` | which workers sleep, and waking one without a lost wake-up (loom-checked) |
//! | `shared.rs` | what all workers and processes of a runtime share ([`Shared`](shared::Shared)) |
//! | `stats.rs` | per-worker counters |
//! | `long_schedule.rs` | the long-schedule watchdog |

pub mod idle;
pub(crate) mod long_schedule;
mod run_loop;
pub(crate) mod shared;
pub(crate) mod stats;

pub(crate) use run_loop::{
    Delivery, Launch, Task, TimerEvent, WorkerCore, WorkerLoop, contain, contain_deferring,
    discard_orphan, drop_never_run, drop_payload, schedule_woken, try_with_worker_serving,
};
