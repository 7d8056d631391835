//! ferrotp's runtime: green processes on stackful coroutines, scheduled by
//! per-core workers.
//!
//! This crate is being built up piece by piece (see the project's issue
//! tracker). What exists so far:
//!
//! * [`stack`]: process stacks carved out of large slabs, each with a guard
//!   page, pooled per worker, implementing corosensei's `Stack` trait.
//! * [`idle`]: which workers are asleep, and waking exactly one when work
//!   appears (the park / wake protocol, with a loom model).
//! * [`timer`]: the per-worker hierarchical timer wheel.
//! * [`exit`] and [`process_id`]: exit reasons, and process identities
//!   printed as Erlang prints pids.

pub mod exit;
pub mod idle;
pub mod process_id;
pub mod stack;
pub mod timer;
