//! Links, monitors and OTP supervisors for ferrotp processes.
//!
//! Built on three things the scheduler offers: exit hooks
//! ([`Pid::on_exit`]), exit signals ([`exit`], [`link_signal`]) and the
//! `trap_exit` flag ([`trap_exit`]).
//!
//! * [`link`], [`unlink`], [`spawn_link`]: bidirectional links that carry
//!   a process's exit to the processes linked to it (module `link`).
//! * [`monitor`], [`demonitor`], [`spawn_monitor`]: one-way monitors that
//!   send a [`Down`] message (module `monitor`).
//! * [`SupervisorSpec`] / [`Supervisor`] and [`DynamicSupervisorSpec`] /
//!   [`DynamicSupervisor`]: OTP supervisors (module `supervisor`; the
//!   restart logic is in `supervisor/server.rs`).
//! * [`relations`]: a process's links, the monitors it holds and those
//!   held on it (module `relations`), for `process_info`.
//!
//! # Exit signals: what a process does with one
//!
//! An exit signal reaches a process either from a link (a linked process
//! ended with that reason) or from [`exit`]`(pid, reason)`. What the
//! receiver does depends on the reason and on whether it traps exits;
//! this is Erlang's table (reference manual, *Processes*, "Receiving Exit
//! Signals"), and the tests in `tests/signals.rs` check every row:
//!
//! | reason | sent by | receiver not trapping | receiver trapping |
//! |---|---|---|---|
//! | `Normal` | a link | ignored | `Exit { from, Normal }` message |
//! | `Normal` | `exit` from another process | ignored | `Exit` message |
//! | `Normal` | `exit` from itself | ends with `Normal` | `Exit` message |
//! | `Shutdown` | a link or `exit` | ends with `Shutdown` | `Exit` message |
//! | `Killed` | a link (the linked process was killed) or `exit` | ends with `Killed` | `Exit` message |
//! | `Panic(msg)` | a link or `exit` | ends with `Panic(msg)` | `Exit` message |
//! | `Custom(..)` (user) | a link or `exit` | ends with it | `Exit` message |
//! | `NoProc` | a link to a process that had ended | ends with `NoProc` | `Exit` message |
//! | `Kill` | `exit` only | ends with `Killed` | ends with `Killed` (cannot be trapped) |
//!
//! `Kill` never travels over a link: no process ends with it (a process
//! it reaches ends with `Killed`, which a trapping process linked to it
//! receives as an ordinary `Exit`). That is why a supervisor survives a
//! child that was killed. (Erlang lets a process end with `kill` by its
//! own `exit(kill)`; here [`exit_self`]`(Kill)` ends it with `Killed`.)
//!
//! Signals from one sender keep their order with its messages. A process
//! acts on signals at its check points (every reduction and every return
//! from a suspension), so a non-trapping process ends before it runs any
//! further code of its own.
//!
//! [`Pid::on_exit`]: ferrotp_scheduler::Pid::on_exit
//! [`exit`]: ferrotp_scheduler::exit()
//! [`exit_self`]: ferrotp_scheduler::exit_self
//! [`link_signal`]: ferrotp_scheduler::link_signal
//! [`trap_exit`]: ferrotp_scheduler::trap_exit

mod hook_slot;
mod link;
// The state machines, the link map, the monitor record and the process
// trait they are generic over are public only for their loom models.
#[doc(hidden)]
pub mod link_map;
#[doc(hidden)]
pub mod link_state;
mod monitor;
#[doc(hidden)]
pub mod monitor_record;
#[doc(hidden)]
pub mod monitor_state;
mod relations;
mod supervisor;
#[doc(hidden)]
pub mod watch;

pub use link::{is_linked, link, spawn_link, spawn_link_opt, spawn_link_resumable, unlink};
pub use monitor::{
    Demonitor, Down, MonitorRef, demonitor, monitor, spawn_monitor, spawn_monitor_opt,
};
pub use relations::{Relations, relations};
pub use supervisor::dynamic::{DynamicSupervisor, DynamicSupervisorSpec};
pub use supervisor::intensity::RestartIntensity;
pub use supervisor::spec::{
    Backoff, ChildCounts, ChildError, ChildInfo, ChildKind, ChildSpec, ChildState,
    DEFAULT_INTENSITY, DEFAULT_WORKER_SHUTDOWN, Restart, Shutdown, StartError, StartFn, Strategy,
};
pub use supervisor::{Supervisor, SupervisorSpec};
