//! How processes begin and end: spawning, exit reasons, exit hooks, exit
//! signals and kill, registered names, and introspection.
//!
//! | file | what it holds |
//! |---|---|
//! | `spawn.rs` | [`spawn`](crate::spawn) and its options |
//! | `exit_reason.rs` | [`ExitReason`](crate::ExitReason) and the exit record |
//! | `exit_hooks.rs` | closures run once when a process ends (links and monitors build on them) |
//! | `signal.rs` | exit signals: [`exit`](crate::exit), `trap_exit`, and how a process acts on one |
//! | `signal_flags.rs` | the pending-signal bits a check point reads (loom-checked) |
//! | `registry.rs` | registered names: `register`, `whereis`, `send_named` |
//! | `name_table.rs` | the table of names each runtime holds |
//! | `info.rs` | [`process_info`](crate::process_info) |

pub mod exit_hooks;
pub mod exit_reason;
pub(crate) mod info;
pub(crate) mod name_table;
pub(crate) mod registry;
pub(crate) mod signal;
pub mod signal_flags;
pub(crate) mod spawn;
