//! ferrotp: Erlang/OTP-style lightweight processes for Rust.
//!
//! ```
//! let rt = ferrotp::Runtime::builder().workers(2).build()?;
//! let sum = rt.block_on(|| {
//!     let me = ferrotp::self_pid();
//!     for i in 0..10u64 {
//!         let me = me.clone();
//!         ferrotp::spawn(move || ferrotp::send(&me, i));
//!     }
//!     (0..10).map(|_| ferrotp::receive::<u64>()).sum::<u64>()
//! });
//! assert_eq!(sum, 45);
//! # Ok::<(), ferrotp::BuildError>(())
//! ```
//!
//! This facade re-exports the workspace's crates: the runtime
//! (`ferrotp-scheduler`: processes, messaging, time, exit signals) and
//! supervision (`ferrotp-supervision`: links, monitors, supervisors) at
//! the top level, and each crate whole as [`mailbox`], [`scheduler`] and
//! [`supervision`]. Read the [`scheduler`] crate's docs for the process
//! model and its migration rule, and the [`supervision`] crate's for the
//! exit-signal table.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::{ChildSpec, Strategy, SupervisorSpec, receive, run, self_pid, send};
//! let restarted = run(|| {
//!     let me = self_pid();
//!     let sup = SupervisorSpec::new(Strategy::OneForOne)
//!         .intensity(3, Duration::from_secs(5))
//!         .child(ChildSpec::worker("flaky", move || {
//!             send(&me, self_pid());
//!             if receive::<&str>() == "crash" { panic!("asked to"); }
//!         }))
//!         .start_link()
//!         .unwrap();
//!     let first = receive::<ferrotp::Pid>();
//!     send(&first, "crash");
//!     let second = receive::<ferrotp::Pid>(); // the supervisor restarted it
//!     sup.stop().unwrap();
//!     first != second
//! }).unwrap();
//! assert!(restarted);
//! ```

pub mod prelude;

pub use ferrotp_mailbox as mailbox;
pub use ferrotp_scheduler as scheduler;
// Every item a program may call or name. Besides the everyday API, that
// is the types `Runtime::settings`, `Runtime::metrics` and the
// long-schedule hook hand out, the defaults and limits of the settings,
// and the calls for code that may run outside a process or that catches
// unwinds. The building blocks of links (`link_signal`, `Link`,
// `send_signal_message`) and the loom-facing modules stay in `scheduler`.
pub use ferrotp_scheduler::{
    BuildError, Builder, DEFAULT_BUSY_WAIT, DEFAULT_CLEANUP_TIMEOUT, DEFAULT_LONG_SCHEDULE,
    DEFAULT_MAX_PROCESSES, DEFAULT_REDUCTIONS, DEFAULT_STACK_SIZE, DeadLetter, EffectiveSettings,
    Exit, ExitCounts, ExitHook, ExitReason, LongSchedule, MAX_RED_ZONE, MAX_STACK_SIZE, Metrics,
    NotRegistered, OnStackOverflow, Pid, ProcessId, ProcessInfo, ProcessStatus, RegisterError,
    Runtime, Select, SpawnError, SpawnOptions, Subject, TimerRef, TrySendError, WorkerMetrics,
    cancel_timer, exit, exit_self, is_exit_unwind, mailbox_len, maybe_grow, process_info, receive,
    receive_match, receive_match_timeout, receive_timeout, reduce, register, remaining_stack, run,
    self_pid, send, send_after, send_named, sleep, spawn, spawn_opt, spawn_with, trap_exit,
    try_self_pid, try_send, unregister, whereis, yield_now,
};
pub use ferrotp_supervision as supervision;
// The supervisor's building block `RestartIntensity` and the `StartFn`
// alias stay in `supervision`.
pub use ferrotp_supervision::{
    Backoff, ChildCounts, ChildError, ChildInfo, ChildKind, ChildSpec, ChildState,
    DEFAULT_INTENSITY, DEFAULT_WORKER_SHUTDOWN, Demonitor, Down, DynamicSupervisor,
    DynamicSupervisorSpec, MonitorRef, Restart, Shutdown, StartError, Strategy, Supervisor,
    SupervisorSpec, demonitor, is_linked, link, monitor, spawn_link, spawn_link_opt, spawn_monitor,
    spawn_monitor_opt, unlink,
};
