//! [`Task`]: one function run in a process of its own, and its owner's
//! handle on it (Elixir's `Task.async` / `await` / `yield` /
//! `shutdown` / `ignore`).

use std::sync::Arc;
use std::time::Duration;

use ferrotp_scheduler::{ExitReason, Pid, exit, try_self_pid, yield_now};
use ferrotp_supervision::{is_linked, spawn_link};

use super::end::{release, traps_exits, wait_end};
use super::error::TaskError;
use super::result::ResultSlot;

/// A function running in a process of its own, whose result its owner
/// (the process that started it) awaits: Elixir's `Task.async`.
///
/// [`Task::spawn`] links the task to its owner; the owner then takes the
/// result with [`await_timeout`](Self::await_timeout) (which kills the
/// task if it takes too long), polls with [`yield_for`](Self::yield_for)
/// or [`await_keep`](Self::await_keep) (which keep it), stops it with
/// [`shutdown`](Self::shutdown), or lets it go with
/// [`ignore`](Self::ignore). [`await_many`](super::await_many) awaits
/// several.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::task::Task;
/// let sum = ferrotp::run(|| {
///     let a = Task::spawn(|| (1..=50u64).sum::<u64>());
///     let b = Task::spawn(|| (51..=100u64).sum::<u64>());
///     a.await_timeout(Duration::from_secs(5)).unwrap()
///         + b.await_timeout(Duration::from_secs(5)).unwrap()
/// }).unwrap();
/// assert_eq!(sum, 5050);
/// ```
///
/// # Ownership
///
/// A `Task` is `Send` (an actor's state may hold tasks), but only its
/// owner may await it: every waiting method panics in another process.
/// Dropping a `Task` does not stop the task (as in Elixir): it runs on,
/// still linked, and its result is dropped with it (an owner that traps
/// exits then receives the link's `Exit` message when it ends;
/// [`ignore`](Self::ignore) unlinks it first).
///
/// # Crashes and the link
///
/// The link carries the task's end to its owner, as Elixir's does. A
/// task that panics (or is killed by someone else) therefore takes an
/// owner that does not trap exits down with the same reason, at the
/// latest when the owner's await sees the end: the await does not
/// return. An owner that traps exits gets the reason as
/// [`TaskError::Exited`] instead, and the link's `Exit` message is taken
/// out of its mailbox by the await (module docs: no message is left
/// behind). A task that must not touch its caller is started with
/// [`TaskSupervisor::async_nolink`](super::TaskSupervisor::async_nolink).
pub struct Task<T> {
    pid: Pid,
    owner: Pid,
    result: Arc<ResultSlot<T>>,
    /// Linked to its owner (not a supervisor's `async_nolink` task).
    linked: bool,
    /// Its result (or error) has been returned: nothing more to await.
    spent: bool,
}

impl<T> std::fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("pid", &self.pid)
            .field("owner", &self.owner)
            .field("linked", &self.linked)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Task<T> {
    /// Runs `f` in a new process linked to the caller, its owner
    /// (Elixir's `Task.async`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::Task;
    /// let (owner_is_me, answer) = ferrotp::run(|| {
    ///     let task = Task::spawn(|| 6 * 7);
    ///     let owner_is_me = *task.owner() == ferrotp::self_pid();
    ///     (owner_is_me, task.await_timeout(Duration::from_secs(5)))
    /// }).unwrap();
    /// assert!(owner_is_me);
    /// assert_eq!(answer, Ok(42));
    /// ```
    ///
    /// # Panics
    /// Outside a process, or if the process cannot be spawned (the
    /// runtime's process limit).
    pub fn spawn<F>(f: F) -> Self
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let owner = try_self_pid().unwrap_or_else(|| {
            panic!("ferrotp::task::Task::spawn was called outside a ferrotp process")
        });
        let result = Arc::new(ResultSlot::new());
        let pid = spawn_link(body(Arc::clone(&result), f));
        Self::new(pid, owner, result, true)
    }

    /// A handle on the task `pid`, which leaves its result in `result`.
    pub(crate) fn new(pid: Pid, owner: Pid, result: Arc<ResultSlot<T>>, linked: bool) -> Self {
        Self {
            pid,
            owner,
            result,
            linked,
            spent: false,
        }
    }

    /// Waits up to `timeout` for the result (Elixir's `Task.await`). On
    /// timeout the task is unlinked and killed (so the kill does not
    /// reach the owner), and the await returns once it has ended: with
    /// [`TaskError::Timeout`], or with the result if the task finished
    /// in between (a result that won the race with the timeout is the
    /// result).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::{Task, TaskError};
    /// use ferrotp::{ExitReason, receive};
    /// let (answer, reason) = ferrotp::run(|| {
    ///     let stuck = Task::spawn(|| receive::<u64>());
    ///     let pid = stuck.pid().clone();
    ///     let answer = stuck.await_timeout(Duration::from_millis(10));
    ///     (answer, pid.exit_reason())
    /// }).unwrap();
    /// assert_eq!(answer, Err(TaskError::Timeout));
    /// assert_eq!(reason, Some(ExitReason::Killed));
    /// ```
    ///
    /// # Errors
    /// [`TaskError::Timeout`]; [`TaskError::Exited`] if the task ended
    /// without a result and the owner traps exits (one that does not
    /// ends with the task's reason instead: type docs).
    ///
    /// # Panics
    /// Outside the task's owner, or if the result was already returned
    /// (by [`yield_for`](Self::yield_for) or
    /// [`await_keep`](Self::await_keep)).
    pub fn await_timeout(mut self, timeout: Duration) -> Result<T, TaskError> {
        self.check_owner("await_timeout");
        match wait_end(&self.pid, timeout) {
            Some(reason) => self.settle(reason),
            None => self.kill().ok_or(TaskError::Timeout),
        }
    }

    /// Waits up to `timeout` for the result, and keeps the task running
    /// if it does not come: [`await_timeout`](Self::await_timeout), with
    /// the caller asking otherwise on timeout. The same as
    /// [`yield_for`](Self::yield_for), with the timeout as an error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::{Task, TaskError};
    /// use ferrotp::{receive, send};
    /// let (first, second) = ferrotp::run(|| {
    ///     let mut task = Task::spawn(|| receive::<u64>() + 1);
    ///     let first = task.await_keep(Duration::from_millis(10));
    ///     send(task.pid(), 41u64); // still running: give it its input
    ///     (first, task.await_keep(Duration::from_secs(5)))
    /// }).unwrap();
    /// assert_eq!(first, Err(TaskError::Timeout));
    /// assert_eq!(second, Ok(42));
    /// ```
    ///
    /// # Errors
    /// [`TaskError::Timeout`] (the task still runs and may be awaited
    /// again); [`TaskError::Exited`] as for
    /// [`await_timeout`](Self::await_timeout).
    ///
    /// # Panics
    /// As for [`await_timeout`](Self::await_timeout).
    pub fn await_keep(&mut self, timeout: Duration) -> Result<T, TaskError> {
        self.yield_for(timeout).unwrap_or(Err(TaskError::Timeout))
    }

    /// Waits up to `timeout` for the result and keeps the task if it does
    /// not come (Elixir's `Task.yield`; `yield` is a Rust keyword):
    /// `None` then, and the task may be awaited, yielded or shut down
    /// later. `Some` once it has ended: its result, or why it has none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::Task;
    /// use ferrotp::{receive, send};
    /// let (early, late) = ferrotp::run(|| {
    ///     let mut task = Task::spawn(|| receive::<&str>().len());
    ///     let early = task.yield_for(Duration::from_millis(10));
    ///     send(task.pid(), "four");
    ///     (early, task.yield_for(Duration::from_secs(5)))
    /// }).unwrap();
    /// assert_eq!(early, None);
    /// assert_eq!(late, Some(Ok(4)));
    /// ```
    ///
    /// # Panics
    /// As for [`await_timeout`](Self::await_timeout).
    pub fn yield_for(&mut self, timeout: Duration) -> Option<Result<T, TaskError>> {
        self.check_owner("yield_for");
        let reason = wait_end(&self.pid, timeout)?;
        Some(self.settle(reason))
    }

    /// Stops the task (Elixir's `Task.shutdown`): unlinks it, sends it
    /// the exit signal [`ExitReason::Shutdown`] (a task that traps exits
    /// may clean up), kills it if it has not ended within `timeout`, and
    /// waits for its end. `Some(Ok(..))` if it had finished (its result),
    /// `Some(Err(..))` if it had ended otherwise, `None` if the shutdown
    /// ended it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::Task;
    /// use ferrotp::{ExitReason, receive};
    /// let (stopped, reason, done) = ferrotp::run(|| {
    ///     let stuck = Task::spawn(|| receive::<u64>());
    ///     let pid = stuck.pid().clone();
    ///     let stopped = stuck.shutdown(Duration::from_secs(5));
    ///     let quick = Task::spawn(|| "done");
    ///     while !quick.pid().has_exited() { ferrotp::yield_now(); } // it has finished...
    ///     (stopped, pid.exit_reason(), quick.shutdown(Duration::from_secs(5)))
    /// }).unwrap();
    /// assert_eq!(stopped, None);
    /// assert_eq!(reason, Some(ExitReason::Shutdown));
    /// assert_eq!(done, Some(Ok("done"))); // ...then shutdown returns its result
    /// ```
    ///
    /// # Panics
    /// As for [`await_timeout`](Self::await_timeout).
    pub fn shutdown(mut self, timeout: Duration) -> Option<Result<T, TaskError>> {
        self.check_owner("shutdown");
        self.spent = true;
        if self.linked {
            release(&self.pid);
        }
        let reason = match self.pid.exit_reason() {
            Some(reason) => reason,
            None => {
                exit(&self.pid, ExitReason::Shutdown);
                wait_end(&self.pid, timeout).unwrap_or_else(|| {
                    exit(&self.pid, ExitReason::Kill);
                    wait_end(&self.pid, Duration::MAX).expect("no timeout")
                })
            }
        };
        match (self.result.take(), reason) {
            (Some(value), _) => Some(Ok(value)),
            (None, ExitReason::Shutdown | ExitReason::Killed) => None,
            (None, reason) => Some(Err(TaskError::Exited(reason))),
        }
    }

    /// Lets the task run on its own (Elixir's `Task.ignore`): unlinks it
    /// (its end no longer reaches the owner, nor its owner's end it), and
    /// returns what it had come to, if it had already ended.
    ///
    /// ```
    /// use ferrotp::task::Task;
    /// use ferrotp::{is_linked, receive};
    /// let linked = ferrotp::run(|| {
    ///     let task = Task::spawn(|| receive::<()>());
    ///     let pid = task.pid().clone();
    ///     assert_eq!(task.ignore(), None); // still running
    ///     is_linked(&pid)
    /// }).unwrap();
    /// assert!(!linked);
    /// ```
    ///
    /// # Panics
    /// As for [`await_timeout`](Self::await_timeout).
    pub fn ignore(mut self) -> Option<Result<T, TaskError>> {
        self.check_owner("ignore");
        self.spent = true;
        if self.linked {
            release(&self.pid);
        }
        let reason = self.pid.exit_reason()?;
        Some(self.result.take().ok_or(TaskError::Exited(reason)))
    }

    /// After the task ended with `reason`: its result, the link settled
    /// (module `end`).
    pub(crate) fn settle(&mut self, reason: ExitReason) -> Result<T, TaskError> {
        self.spent = true;
        if self.linked {
            if reason.is_normal() || traps_exits() {
                release(&self.pid);
            } else {
                // The link carries `reason` to an owner that does not trap
                // exits: it ends with it at a check point (yield_now is
                // one), as soon as the task's end has sent the signal.
                while is_linked(&self.pid) {
                    yield_now();
                }
            }
        }
        self.result.take().ok_or(TaskError::Exited(reason))
    }

    /// Unlinks and kills the task, and waits for its end; the result it
    /// had left, if it finished first.
    pub(crate) fn kill(&mut self) -> Option<T> {
        self.kill_now();
        wait_end(&self.pid, Duration::MAX);
        self.result.take()
    }

    /// Panics unless the caller is the owner and the result is still to
    /// come.
    pub(crate) fn check_owner(&self, function: &str) {
        let me = try_self_pid().unwrap_or_else(|| {
            panic!("ferrotp::task::Task::{function} was called outside a ferrotp process")
        });
        assert!(
            me == self.owner,
            "ferrotp::task::Task::{function}: only the task's owner {} may await it, not {me} \
             (a task belongs to the process that started it)",
            self.owner
        );
        assert!(
            !self.spent,
            "ferrotp::task::Task::{function}: the task's result was already returned (by \
             yield_for or await_keep)"
        );
    }
}

impl<T> Task<T> {
    /// Unlinks and kills the task without waiting for its end (for
    /// several at once: the signals first, then
    /// [`wait_killed`](Self::wait_killed) for each).
    pub(crate) fn kill_now(&mut self) {
        self.spent = true;
        if self.linked {
            release(&self.pid);
        }
        exit(&self.pid, ExitReason::Kill);
    }

    /// Waits for the end of a task that [`kill_now`](Self::kill_now)
    /// killed; the result it had left, if it finished first.
    pub(crate) fn wait_killed(self) -> Option<T> {
        wait_end(&self.pid, Duration::MAX);
        self.result.take()
    }

    /// The task's process.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::Task;
    /// let ended = ferrotp::run(|| {
    ///     let task = Task::spawn(|| ());
    ///     let pid = task.pid().clone();
    ///     task.await_timeout(Duration::from_secs(5)).unwrap();
    ///     pid.has_exited()
    /// }).unwrap();
    /// assert!(ended); // an await returns once the task's process has ended
    /// ```
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// The process that started the task: the only one that may await it.
    ///
    /// ```
    /// use ferrotp::task::Task;
    /// let mine = ferrotp::run(|| *Task::spawn(|| ()).owner() == ferrotp::self_pid()).unwrap();
    /// assert!(mine);
    /// ```
    pub fn owner(&self) -> &Pid {
        &self.owner
    }
}

/// The task's process body: runs `f` and leaves its value in `result`.
pub(crate) fn body<T, F>(result: Arc<ResultSlot<T>>, f: F) -> impl FnOnce() + Send + 'static
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    move || result.put(f())
}
