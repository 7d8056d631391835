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
//! (`ferrotp-scheduler`: processes, messaging, time) at the top level, and
//! the mailbox as [`mailbox`]. The supervision crate joins them when it
//! lands. Read the [`scheduler`] crate's docs for the process model and its
//! migration rule.

pub use ferrotp_mailbox as mailbox;
pub use ferrotp_scheduler as scheduler;
pub use ferrotp_scheduler::{
    BuildError, Builder, DeadLetter, Exit, ExitHook, ExitReason, Metrics, NotRegistered,
    OnStackOverflow, Pid, ProcessId, ProcessInfo, ProcessStatus, RegisterError, Runtime, Select,
    SpawnError, SpawnOptions, Subject, TimerRef, TrySendError, WorkerMetrics, cancel_timer, exit,
    mailbox_len, process_info, receive, receive_match, receive_match_timeout, receive_timeout,
    reduce, register, run, self_pid, send, send_after, send_named, sleep, spawn, spawn_opt,
    trap_exit, try_send, unregister, whereis, yield_now,
};
