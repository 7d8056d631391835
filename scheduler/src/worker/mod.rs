//! Workers: one OS thread each, running processes from its run queues,
//! stealing, parking when idle, and watching for processes that hold it
//! too long.
//!
//! | file | what it holds |
//! |---|---|
//! | `core.rs` | the part of a worker that process code reaches ([`WorkerCore`](core::WorkerCore)), and the thread-local that finds it |
//! | `contain.rs` | user code run outside a process's body (hooks), its panics contained |
//! | `run_loop.rs` | the run loop: queues, the stealable LIFO slot, stealing, timers, fairness, shutdown |
//! | `idle.rs` | which workers sleep, and waking one without a lost wake-up (loom-checked) |
//! | `shared.rs` | what all workers and processes of a runtime share ([`Shared`](shared::Shared)): the queues and what they hold, the name table, the settings |
//! | `stats.rs` | per-worker counters |
//! | `long_schedule.rs` | the long-schedule watchdog |

pub(crate) mod contain;
pub(crate) mod core;
pub mod idle;
pub(crate) mod long_schedule;
pub(crate) mod run_loop;
pub(crate) mod shared;
pub(crate) mod stats;
