//! Introspection of one process: [`process_info`] (Erlang's
//! `process_info/1`).
//!
//! The figures are read from the control block without stopping the
//! process, so for a process that runs they are a moment ago: its
//! reductions are published each time it suspends, and its mailbox length
//! is what had arrived minus what it had taken when it last waited (exact
//! while it waits).

use std::sync::atomic::Ordering;

use crate::process::Pid;

/// What a process is doing (Erlang's `status`), as [`process_info`]
/// reports it.
///
/// On one worker, the asking process is `Running` and a process it has
/// just spawned waits in the run queue, `Runnable`:
///
/// ```
/// use ferrotp_scheduler::{ProcessStatus, Runtime, process_info, self_pid, spawn};
/// let rt = Runtime::builder().workers(1).build()?;
/// let (me, child) = rt.block_on(|| {
///     let child = spawn(|| {});
///     (process_info(&self_pid()).unwrap().status, process_info(&child).unwrap().status)
/// });
/// assert_eq!((me, child), (ProcessStatus::Running, ProcessStatus::Runnable));
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessStatus {
    /// On a worker's thread right now.
    Running,
    /// In a run queue, waiting for a worker (or spawned and not yet run).
    Runnable,
    /// Suspended in a blocking call (a receive, `sleep`, a blocking send).
    Waiting,
    /// Ending: its destructors run (after a kill, or as its function
    /// returned).
    Exiting,
}

/// A snapshot of a process (see [`process_info`]).
///
/// ```
/// use ferrotp_scheduler::{ProcessInfo, SpawnOptions, process_info, receive, run, self_pid,
///     send, spawn_opt};
/// let info = run(|| {
///     let me = self_pid();
///     let options = SpawnOptions::new().name("probe").stack_size(128 * 1024);
///     spawn_opt(options, move || send(&me, process_info(&self_pid()))).unwrap();
///     receive::<Option<ProcessInfo>>().unwrap()
/// }).unwrap();
/// assert_eq!(info.name.as_deref(), Some("probe"));
/// assert_eq!(info.stack_size, 128 * 1024);
/// assert_eq!((info.mailbox_len, info.trap_exit), (0, false));
/// assert!(info.worker.is_some()); // it was running on one
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// What it is doing.
    pub status: ProcessStatus,
    /// Reductions it has consumed, as of its last suspension.
    pub reductions: u64,
    /// Messages in its mailbox (exact while it waits).
    pub mailbox_len: u64,
    /// The worker whose thread it runs on, once it has run.
    pub worker: Option<usize>,
    /// The name given at spawn.
    pub name: Option<String>,
    /// Usable stack bytes it asked for.
    pub stack_size: usize,
    /// Whether it traps exits.
    pub trap_exit: bool,
    /// Whether it waits hibernated: a resumable body (see
    /// [`spawn_resumable`](crate::spawn_resumable)) between activations,
    /// owning no stack.
    pub hibernated: bool,
}

/// What `pid` is doing, its reductions, mailbox length, worker, name,
/// stack size and `trap_exit` flag; `None` once it has ended. Callable
/// from any thread.
///
/// ```
/// use ferrotp_scheduler::{ProcessStatus, SpawnOptions, process_info, receive, run, send,
///     self_pid, spawn_opt};
/// let info = run(|| {
///     let me = self_pid();
///     let pid = spawn_opt(SpawnOptions::new().name("idle"), move || {
///         send(&me, ());
///         receive::<u64>();
///     }).unwrap();
///     receive::<()>(); // it is about to wait
///     while process_info(&pid).unwrap().status != ProcessStatus::Waiting {
///         ferrotp_scheduler::yield_now();
///     }
///     send(&pid, "not a u64");
///     let info = process_info(&pid).unwrap();
///     send(&pid, 1u64);
///     info
/// }).unwrap();
/// assert_eq!((info.name.as_deref(), info.mailbox_len, info.trap_exit), (Some("idle"), 1, false));
/// ```
pub fn process_info(pid: &Pid) -> Option<ProcessInfo> {
    let pcb = &pid.0;
    // `None` once ended, whatever else the flags say.
    let phase = pcb.state.phase()?;
    let status = if pcb.exiting.load(Ordering::Relaxed) {
        ProcessStatus::Exiting
    } else {
        match phase {
            crate::process::run_state::Phase::Running => ProcessStatus::Running,
            crate::process::run_state::Phase::Scheduled => ProcessStatus::Runnable,
            crate::process::run_state::Phase::Waiting => ProcessStatus::Waiting,
        }
    };
    let (worker, key) = pcb.place();
    let hibernated = status == ProcessStatus::Waiting
        && key != u32::MAX as usize
        && key & crate::process::hibernation::HIBERNATED != 0;
    Some(ProcessInfo {
        status,
        reductions: pcb.reductions.load(Ordering::Relaxed),
        mailbox_len: pcb
            .mailbox
            .arrived()
            .saturating_sub(pcb.taken.load(Ordering::Relaxed)),
        worker: (worker != u32::MAX as usize).then_some(worker),
        name: pcb.name().map(str::to_owned),
        stack_size: pcb.stack_size,
        trap_exit: pcb.trap_exit.load(Ordering::Relaxed),
        hibernated,
    })
}
