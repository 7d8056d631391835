//! [`await_many`]: awaiting several tasks under one deadline (Elixir's
//! `Task.await_many`).

use std::time::{Duration, Instant};

use super::ends::Ends;
use super::error::TaskError;
use super::handle::Task;

/// Waits for every task in `tasks` until one deadline, `timeout` from
/// now, and returns their results in the order of `tasks`.
///
/// The tasks are watched all at once, so the first failure is seen when
/// it happens, not after the tasks before it. Whenever the await gives
/// up (a timeout, or a task that ended without a result while the owner
/// traps exits), it kills the tasks still running (unlinked first, as
/// [`Task::await_timeout`] does) and waits for their ends before
/// returning: none is left running, and nothing of theirs is left in
/// the owner's mailbox.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::task::{self, Task};
/// let squares = ferrotp::run(|| {
///     let tasks: Vec<_> = (1..=4u64).map(|n| Task::spawn(move || n * n)).collect();
///     task::await_many(tasks, Duration::from_secs(5))
/// }).unwrap();
/// assert_eq!(squares, Ok(vec![1, 4, 9, 16]));
/// ```
///
/// # Errors
/// [`TaskError::Timeout`] if not every task finished in time;
/// [`TaskError::Exited`] with the reason of the first task seen to end
/// without a result (an owner that does not trap exits ends with that
/// reason instead, through the link: see [`Task`]).
///
/// # Panics
/// Outside the tasks' owner, or if a task's result was already returned.
pub fn await_many<T: Send + 'static>(
    tasks: Vec<Task<T>>,
    timeout: Duration,
) -> Result<Vec<T>, TaskError> {
    for task in &tasks {
        task.check_owner("await_many");
    }
    let deadline = Instant::now().checked_add(timeout);
    let ends = Ends::new();
    for (key, task) in tasks.iter().enumerate() {
        ends.watch(key, task.pid());
    }
    let mut waiting: Vec<Option<Task<T>>> = tasks.into_iter().map(Some).collect();
    let mut results: Vec<Option<T>> = waiting.iter().map(|_| None).collect();
    let mut left = waiting.len();
    while left > 0 {
        let Some(key) = ends.next(deadline) else {
            // Results that won the race with the timeout are results: if
            // every task left one, the await has them all.
            for (key, value) in kill_all(&mut waiting) {
                results[key] = value;
            }
            if results.iter().all(Option::is_some) {
                break;
            }
            return Err(TaskError::Timeout);
        };
        let mut task = waiting[key].take().expect("each task ends once");
        left -= 1;
        let reason = task.pid().exit_reason().expect("its exit hook ran");
        match task.settle(reason) {
            Ok(value) => results[key] = Some(value),
            Err(error) => {
                let _ = kill_all(&mut waiting);
                return Err(error);
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|result| result.expect("every task gave its result"))
        .collect())
}

/// Kills every task still in `waiting`: all the signals first, then the
/// waits for their ends. Each one's index, and its result if it had
/// finished before the kill came.
fn kill_all<T: Send + 'static>(waiting: &mut [Option<Task<T>>]) -> Vec<(usize, Option<T>)> {
    for task in waiting.iter_mut().flatten() {
        task.kill_now();
    }
    waiting
        .iter_mut()
        .enumerate()
        .filter_map(|(key, task)| task.take().map(|task| (key, task.wait_killed())))
        .collect()
}
