//! Monitors: [`monitor`], [`demonitor`], [`spawn_monitor`], and the
//! [`Down`] message.
//!
//! A monitor is one-way and stackable: each call makes a new
//! [`MonitorRef`], and each monitor of an ending process sends its own
//! `Down` to its owner, as a plain message (past any mailbox bound; a
//! `Down` for an owner that has ended is dropped, as Erlang drops signals
//! to dead processes).
//!
//! # The record
//!
//! A [`MonitorRef`] shares a record with two exit hooks: one on the
//! watched process (sends the `Down`) and one on the owner (if the owner
//! ends first, it withdraws the first hook, so a long-lived process does
//! not collect the hooks of its dead monitors). Setting it up and taking
//! it down is in `monitor_record` (generic over the processes, with a loom
//! model); its state machine is in `monitor_state` (with its own loom
//! model): `demonitor` that finds the `Down` being sent waits for the
//! push to finish, so that once it returns no `Down` of this monitor will
//! arrive later, as Erlang guarantees; with [`Demonitor::Flush`] it then
//! removes one that has.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use ferrotp_scheduler::{
    ExitReason, Pid, SpawnError, SpawnOptions, receive_match_timeout, spawn_with,
};

use crate::link::self_pid_for;
use crate::monitor_record::{self, MonitorRecord};

/// A monitor's identity: what [`monitor`] returns and [`Down`] carries.
/// Each call to `monitor` makes a new one. Cheap to clone; equal only to
/// its own clones.
///
/// ```
/// use ferrotp_scheduler::{receive, run, send, spawn};
/// use ferrotp_supervision::{Down, monitor};
/// let (distinct, first_is_a, active, still_active) = run(|| {
///     let child = spawn(|| { receive::<()>(); });
///     let a = monitor(&child);
///     let b = monitor(&child);
///     let active = a.is_active() && b.is_active();
///     send(&child, ());
///     let first = receive::<Down>(); // each monitor sends its own Down
///     let second = receive::<Down>();
///     (a != b, first.monitor == a && second.monitor == b, active, a.is_active())
/// }).unwrap();
/// assert!(distinct && first_is_a && active && !still_active);
/// ```
#[derive(Clone)]
pub struct MonitorRef(pub(crate) Arc<MonitorRecord<Pid>>);

impl MonitorRef {
    /// The monitor's number, unique in this OS process.
    pub(crate) fn id(&self) -> u64 {
        self.0.id()
    }

    /// Whether the monitor still watches (no `Down` sent, not removed).
    pub fn is_active(&self) -> bool {
        self.0.is_active()
    }
}

impl PartialEq for MonitorRef {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for MonitorRef {}

impl Hash for MonitorRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl fmt::Debug for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<0.{}>", self.id())
    }
}

/// The message a monitor sends when the watched process ends (Erlang's
/// `{'DOWN', Ref, process, Pid, Reason}`).
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{ExitReason, receive, receive_timeout, run};
/// use ferrotp_supervision::{Down, monitor, spawn_monitor};
/// let (first, second) = run(|| {
///     let (child, _) = spawn_monitor(|| panic!("boom"));
///     let first = receive::<Down>();
///     // A monitor of a process that has ended: its Down is already here.
///     let watch = monitor(&child);
///     let second = receive_timeout::<Down>(Duration::ZERO).unwrap();
///     assert_eq!(second.monitor, watch);
///     (first, second)
/// }).unwrap();
/// assert_eq!(first.pid, second.pid);
/// assert_eq!(first.reason, ExitReason::Panic("boom".into()));
/// assert_eq!(second.reason, ExitReason::NoProc);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down {
    /// The monitor that sent it.
    pub monitor: MonitorRef,
    /// The process that ended.
    pub pid: Pid,
    /// Why it ended; [`ExitReason::NoProc`] if it had already ended when
    /// the monitor was made.
    pub reason: ExitReason,
}

/// Starts monitoring `pid` from the calling process (Erlang's
/// `monitor(process, Pid)`): when `pid` ends, the caller receives a
/// [`Down`] with the reason. Each call makes a separate monitor with its
/// own `Down`. If `pid` has already ended, the `Down` (reason `NoProc`) is
/// in the caller's mailbox when this returns. A process may monitor
/// itself; its monitor never fires.
///
/// # Panics
/// Outside a process.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, receive, run, send, spawn};
/// use ferrotp_supervision::{Down, monitor};
/// let down = run(|| {
///     let worker = spawn(|| { receive::<()>(); });
///     let watch = monitor(&worker);
///     send(&worker, ());
///     let down = receive::<Down>();
///     assert_eq!(down.monitor, watch);
///     (down.pid == worker, down.reason)
/// }).unwrap();
/// assert_eq!(down, (true, ExitReason::Normal));
/// ```
pub fn monitor(pid: &Pid) -> MonitorRef {
    let me = self_pid_for("monitor");
    monitor_from(&me, pid)
}

/// Makes a monitor of `pid` owned by `owner` (module docs).
pub(crate) fn monitor_from(owner: &Pid, pid: &Pid) -> MonitorRef {
    MonitorRef(monitor_record::monitor(owner, pid))
}

/// What [`demonitor`] does about a `Down` already in the mailbox. The
/// example of [`demonitor`] flushes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demonitor {
    /// Leave it there (Erlang's `demonitor/1`).
    Keep,
    /// Remove it (Erlang's `demonitor(Ref, [flush])`).
    Flush,
}

/// Removes a monitor made by the calling process (Erlang's
/// `demonitor/2`). Once it returns, no `Down` of this monitor will arrive;
/// one that already has stays in the mailbox unless `flush` is
/// [`Demonitor::Flush`]. Returns true if the monitor was still active (no
/// `Down` had been sent), as Erlang's `info` option reports. A monitor
/// made by another process is left alone (false).
///
/// # Panics
/// Outside a process.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{receive_match, receive_timeout, run, spawn};
/// use ferrotp_supervision::{Demonitor, Down, demonitor, monitor};
/// let (was_active, leftover) = run(|| {
///     let worker = spawn(|| {});
///     let watch = monitor(&worker);
///     // A second monitor's Down comes after the first's (exit hooks run
///     // in order): once it is here, `watch` has sent its Down.
///     let after = monitor(&worker);
///     receive_match::<Down>(|down| down.monitor == after);
///     let was_active = demonitor(&watch, Demonitor::Flush);
///     (was_active, receive_timeout::<Down>(Duration::ZERO).is_some())
/// }).unwrap();
/// assert!(!was_active && !leftover);
/// ```
pub fn demonitor(monitor: &MonitorRef, flush: Demonitor) -> bool {
    let me = self_pid_for("demonitor");
    if me.id() != monitor.0.owner() {
        // Another process's monitor: not ours to remove (Erlang ignores
        // such a demonitor too).
        return false;
    }
    let was_active = monitor.0.demonitor();
    if !was_active && flush == Demonitor::Flush {
        let _ = receive_match_timeout::<Down>(|down| down.monitor == *monitor, Duration::ZERO);
    }
    was_active
}

/// Spawns `f` monitored by the caller (Erlang's `spawn_monitor/1`): the
/// monitor exists before the child runs.
///
/// # Panics
/// Outside a process, or when the spawn fails (see
/// [`spawn_monitor_opt`]).
///
/// ```
/// use ferrotp_scheduler::{ExitReason, receive, run};
/// use ferrotp_supervision::{Down, spawn_monitor};
/// let reason = run(|| {
///     let (child, watch) = spawn_monitor(|| panic!("boom"));
///     let down = receive::<Down>();
///     assert_eq!((&down.pid, &down.monitor), (&child, &watch));
///     down.reason
/// }).unwrap();
/// assert_eq!(reason, ExitReason::Panic("boom".into()));
/// ```
pub fn spawn_monitor<F>(f: F) -> (Pid, MonitorRef)
where
    F: FnOnce() + Send + 'static,
{
    spawn_monitor_opt(SpawnOptions::new(), f)
        .unwrap_or_else(|e| panic!("ferrotp::spawn_monitor: {e}"))
}

/// [`spawn_monitor`] with spawn options.
///
/// # Errors
/// The spawn's [`SpawnError`].
///
/// # Panics
/// Outside a process.
///
/// ```
/// use ferrotp_scheduler::{ExitReason, SpawnOptions, receive, run};
/// use ferrotp_supervision::{Down, spawn_monitor_opt};
/// let reason = run(|| {
///     let options = SpawnOptions::new().stack_size(256 * 1024);
///     let (worker, watch) = spawn_monitor_opt(options, || panic!("out of luck")).unwrap();
///     let down = receive::<Down>();
///     assert!(down.pid == worker && down.monitor == watch);
///     down.reason
/// }).unwrap();
/// assert_eq!(reason, ExitReason::Panic("out of luck".into()));
/// ```
pub fn spawn_monitor_opt<F>(options: SpawnOptions, f: F) -> Result<(Pid, MonitorRef), SpawnError>
where
    F: FnOnce() + Send + 'static,
{
    let me = self_pid_for("spawn_monitor");
    let mut made = None;
    let pid = spawn_with(options, |child| made = Some(monitor_from(&me, child)), f)?;
    Ok((pid, made.expect("spawn_with ran the set-up")))
}
