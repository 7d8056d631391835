//! [`TaskError`]: why awaiting a task gave no result.

use ferrotp_scheduler::ExitReason;

/// Why awaiting a [`Task`](super::Task) gave no result.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::task::{Task, TaskError};
/// use ferrotp::{ExitReason, receive, trap_exit};
/// let (slow, crashed) = ferrotp::run(|| {
///     // A task that never finishes: killed when the await times out.
///     let slow = Task::spawn(|| receive::<()>()).await_timeout(Duration::from_millis(10));
///     // A task that panics: an error value for an owner that traps exits.
///     trap_exit(true);
///     let crashed = Task::spawn(|| -> u32 { panic!("bad input") })
///         .await_timeout(Duration::from_secs(5));
///     (slow, crashed)
/// }).unwrap();
/// assert_eq!(slow, Err(TaskError::Timeout));
/// assert_eq!(crashed, Err(TaskError::Exited(ExitReason::Panic("bad input".into()))));
/// assert!(TaskError::Timeout.to_string().contains("timeout"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskError {
    /// The task did not finish within the timeout. An await that returns
    /// this has killed the task (unless it was asked to keep it: see
    /// [`Task::await_keep`](super::Task::await_keep)).
    Timeout,
    /// The task's process ended, with this reason, before it had a
    /// result: a panic is [`ExitReason::Panic`] with its message, a kill
    /// [`ExitReason::Killed`], a supervisor's stop
    /// [`ExitReason::Shutdown`].
    Exited(ExitReason),
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str(
                "the task did not finish within the await's timeout (it was killed unless the \
                 await kept it)",
            ),
            Self::Exited(reason) => write!(f, "the task ended before it had a result: {reason}"),
        }
    }
}

impl std::error::Error for TaskError {}
