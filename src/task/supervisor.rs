//! [`TaskSupervisor`]: tasks under a supervisor (Elixir's
//! `Task.Supervisor`), on the dynamic supervisor.
//!
//! Each task is a child of a [`DynamicSupervisor`], started with a
//! [`ChildSpec`] whose start function spawns the task's process linked
//! to the supervisor, not to the caller. By default a child is
//! [`Restart::Temporary`]: it runs once, and the supervisor forgets it
//! when it ends, however it ends (so a crashing task never counts
//! towards the supervisor's restart intensity). Stopping the supervisor
//! stops its tasks (`Shutdown`, then a kill after 5 s).

use std::sync::{Arc, Mutex, PoisonError};

use ferrotp_scheduler::{ExitReason, Pid, SpawnOptions, try_self_pid};
use ferrotp_supervision::{
    ChildError, ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Restart, StartError,
    spawn_link_opt,
};

use super::handle::{Task, body};
use super::result::ResultSlot;

/// A supervisor of tasks (Elixir's `Task.Supervisor`): fire-and-forget
/// tasks with [`start_child`](Self::start_child), and tasks whose owner
/// awaits them without being linked to them with
/// [`async_nolink`](Self::async_nolink).
///
/// ```
/// use std::time::Duration;
/// use ferrotp::task::{TaskError, TaskSupervisor};
/// use ferrotp::{ExitReason, receive, self_pid, send};
/// let (sent, crashed) = ferrotp::run(|| {
///     let tasks = TaskSupervisor::start_link().unwrap();
///     let me = self_pid();
///     tasks.start_child(move || send(&me, "sent from a supervised task")).unwrap();
///     let sent = receive::<&str>();
///     // A crash reaches the awaiting caller as a value, and nothing else.
///     let crashed = tasks
///         .async_nolink(|| -> u32 { panic!("bad input") })
///         .unwrap()
///         .await_timeout(Duration::from_secs(5));
///     tasks.stop().unwrap();
///     (sent, crashed)
/// }).unwrap();
/// assert_eq!(sent, "sent from a supervised task");
/// assert_eq!(crashed, Err(TaskError::Exited(ExitReason::Panic("bad input".into()))));
/// ```
#[derive(Clone, Debug)]
pub struct TaskSupervisor {
    supervisor: DynamicSupervisor,
}

impl TaskSupervisor {
    /// Starts a task supervisor linked to the caller.
    ///
    /// ```
    /// use ferrotp::task::TaskSupervisor;
    /// let none = ferrotp::run(|| {
    ///     let tasks = TaskSupervisor::start_link().unwrap();
    ///     let children = tasks.children().unwrap();
    ///     tasks.stop().unwrap();
    ///     children.len()
    /// }).unwrap();
    /// assert_eq!(none, 0);
    /// ```
    ///
    /// # Errors
    /// [`StartError::Spawn`] (the runtime's process limit).
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_link() -> Result<Self, StartError> {
        Self::start_link_with(&DynamicSupervisorSpec::new())
    }

    /// Starts a task supervisor linked to the caller, with `spec`'s
    /// settings (a name, `max_children`, restart intensity for tasks
    /// started with [`start_child_restart`](Self::start_child_restart)).
    ///
    /// ```
    /// use ferrotp::DynamicSupervisorSpec;
    /// use ferrotp::task::TaskSupervisor;
    /// let full = ferrotp::run(|| {
    ///     let tasks = TaskSupervisor::start_link_with(
    ///         &DynamicSupervisorSpec::new().max_children(1),
    ///     ).unwrap();
    ///     tasks.start_child(|| { ferrotp::receive::<()>(); }).unwrap();
    ///     let full = tasks.start_child(|| {}).is_err();
    ///     tasks.stop().unwrap();
    ///     full
    /// }).unwrap();
    /// assert!(full);
    /// ```
    ///
    /// # Errors
    /// As [`DynamicSupervisorSpec::start_link`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_link_with(spec: &DynamicSupervisorSpec) -> Result<Self, StartError> {
        Ok(Self {
            supervisor: spec.start_link()?,
        })
    }

    /// Starts `f` as a temporary child (Elixir's
    /// `Task.Supervisor.start_child`): fire and forget. It is linked to
    /// the supervisor only, and not restarted, however it ends.
    ///
    /// ```
    /// use ferrotp::task::TaskSupervisor;
    /// use ferrotp::{receive, self_pid, send};
    /// let got = ferrotp::run(|| {
    ///     let tasks = TaskSupervisor::start_link().unwrap();
    ///     let me = self_pid();
    ///     tasks.start_child(move || send(&me, 7u32)).unwrap();
    ///     let got = receive::<u32>();
    ///     tasks.stop().unwrap();
    ///     got
    /// }).unwrap();
    /// assert_eq!(got, 7);
    /// ```
    ///
    /// # Errors
    /// [`ChildError::MaxChildren`], [`ChildError::Start`] (the spawn
    /// failed), [`ChildError::SupervisorDown`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_child<F>(&self, f: F) -> Result<Pid, ChildError>
    where
        F: FnOnce() + Send + 'static,
    {
        self.supervisor.start_child(once(f))
    }

    /// Starts `f` as a child with `restart` (Elixir's `restart:`
    /// option): [`Restart::Transient`] runs it again after an abnormal
    /// end, within the supervisor's restart intensity. `f` is therefore
    /// `Fn`: each restart runs it afresh.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use ferrotp::task::TaskSupervisor;
    /// use ferrotp::{Restart, receive, self_pid, send};
    /// let runs = ferrotp::run(|| {
    ///     let tasks = TaskSupervisor::start_link().unwrap();
    ///     let (me, tries) = (self_pid(), Arc::new(AtomicU32::new(0)));
    ///     tasks.start_child_restart(Restart::Transient, move || {
    ///         if tries.fetch_add(1, Ordering::SeqCst) == 0 {
    ///             panic!("first try fails");
    ///         }
    ///         send(&me, "done");
    ///     }).unwrap();
    ///     assert_eq!(receive::<&str>(), "done"); // on its second run
    ///     tasks.stop().unwrap();
    /// }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`start_child`](Self::start_child).
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_child_restart<F>(&self, restart: Restart, f: F) -> Result<Pid, ChildError>
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.supervisor
            .start_child(ChildSpec::worker("task", f).restart(restart))
    }

    /// Runs `f` as a temporary child whose result the caller awaits
    /// (Elixir's `Task.Supervisor.async_nolink`): the caller owns the
    /// [`Task`], but the task is linked to the supervisor, not to the
    /// caller. A crash is the await's [`TaskError::Exited`] and touches
    /// the caller in no other way, whether it traps exits or not; the
    /// caller's end does not stop the task.
    ///
    /// [`TaskError::Exited`]: super::TaskError::Exited
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::TaskSupervisor;
    /// let answer = ferrotp::run(|| {
    ///     let tasks = TaskSupervisor::start_link().unwrap();
    ///     let answer = tasks.async_nolink(|| 6 * 7).unwrap().await_timeout(Duration::from_secs(5));
    ///     tasks.stop().unwrap();
    ///     answer
    /// }).unwrap();
    /// assert_eq!(answer, Ok(42));
    /// ```
    ///
    /// # Errors
    /// As [`start_child`](Self::start_child).
    ///
    /// # Panics
    /// Outside a process.
    pub fn async_nolink<T, F>(&self, f: F) -> Result<Task<T>, ChildError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let owner = try_self_pid().unwrap_or_else(|| {
            panic!(
                "ferrotp::task::TaskSupervisor::async_nolink was called outside a ferrotp process"
            )
        });
        let result = Arc::new(ResultSlot::new());
        let pid = self
            .supervisor
            .start_child(once(body(Arc::clone(&result), f)))?;
        Ok(Task::new(pid, owner, result, false))
    }

    /// The tasks running, in start order.
    ///
    /// ```
    /// use ferrotp::task::TaskSupervisor;
    /// use ferrotp::{Pid, receive, self_pid, send};
    /// let same = ferrotp::run(|| {
    ///     let tasks = TaskSupervisor::start_link().unwrap();
    ///     let pid = tasks.start_child(|| { receive::<()>(); }).unwrap();
    ///     let same = tasks.children().unwrap() == [pid];
    ///     tasks.stop().unwrap();
    ///     same
    /// }).unwrap();
    /// assert!(same);
    /// ```
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`].
    pub fn children(&self) -> Result<Vec<Pid>, ChildError> {
        Ok(self
            .supervisor
            .which_children()?
            .into_iter()
            .filter_map(|child| child.state.pid().cloned())
            .collect())
    }

    /// The supervisor's process.
    ///
    /// ```
    /// use ferrotp::task::TaskSupervisor;
    /// let ended = ferrotp::run(|| {
    ///     let tasks = TaskSupervisor::start_link().unwrap();
    ///     tasks.stop().unwrap();
    ///     tasks.pid().has_exited()
    /// }).unwrap();
    /// assert!(ended);
    /// ```
    pub fn pid(&self) -> &Pid {
        self.supervisor.pid()
    }

    /// Stops every task (`Shutdown`, a kill after 5 s), then the
    /// supervisor.
    ///
    /// ```
    /// use ferrotp::task::TaskSupervisor;
    /// use ferrotp::{ExitReason, receive, yield_now};
    /// let reason = ferrotp::run(|| {
    ///     let tasks = TaskSupervisor::start_link().unwrap();
    ///     let pid = tasks.start_child(|| { receive::<()>(); }).unwrap();
    ///     tasks.stop().unwrap();
    ///     pid.exit_reason()
    /// }).unwrap();
    /// assert_eq!(reason, Some(ExitReason::Shutdown));
    /// ```
    ///
    /// # Errors
    /// [`ChildError::SupervisorDown`] if it had already ended.
    pub fn stop(&self) -> Result<(), ChildError> {
        self.supervisor.stop()
    }
}

/// The spec of a temporary child that runs `f` once.
fn once<F>(f: F) -> ChildSpec
where
    F: FnOnce() + Send + 'static,
{
    let f = Mutex::new(Some(f));
    ChildSpec::new("task", move || {
        let f = f
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| ExitReason::custom("a task started once cannot be restarted"))?;
        spawn_link_opt(SpawnOptions::new().name("task"), f)
            .map_err(|error| ExitReason::custom(error.to_string()))
    })
    .restart(Restart::Temporary)
}
