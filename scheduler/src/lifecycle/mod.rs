//! How processes begin and end: spawning, exit reasons, exit hooks, exit
//! signals and kill, registered names, and introspection.
//!
//! | file | what it holds |
//! |---|---|
//! | `spawn.rs` | [`spawn`](crate::spawn) and its options |
//! | `exit_reason.rs` | [`ExitReason`](crate::ExitReason) and the exit record |
//! | `end.rs` | a process's end made known: its exit hooks run, contained; `Pid::on_exit` |
//! | `exit_hooks.rs` | closures run once when a process ends (links and monitors build on them) |
//! | `signal.rs` | exit signals: the semantics, [`exit`](crate::exit), `trap_exit`, sending |
//! | `exit_signal.rs` | the [`Exit`](crate::Exit) message, and how a check point scans for signals |
//! | `signal_flags.rs` | the pending-signal bits a check point reads (loom-checked) |
//! | `registry.rs` | registered names: `register`, `whereis`, `send_named` (the table is in `worker/shared.rs`) |
//! | `info.rs` | [`process_info`](crate::process_info) |

pub(crate) mod end;
pub mod exit_hooks;
pub mod exit_reason;
pub(crate) mod exit_signal;
pub(crate) mod info;
pub(crate) mod registry;
pub(crate) mod signal;
pub mod signal_flags;
pub(crate) mod spawn;
