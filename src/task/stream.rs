//! [`async_stream`]: a function mapped over an iterator by tasks, at
//! most so many at a time (Elixir's `Task.async_stream`).
//!
//! # How it runs
//!
//! The stream is an [`Iterator`] consumed by one process, its owner (the
//! first to call `next`). Each `next`:
//!
//! 1. returns a result that is ready: in input order when ordered (a
//!    finished task whose turn has not come waits in a buffer), in the
//!    order the tasks finished otherwise;
//! 2. else starts tasks, pulling one input per task, until
//!    `max_concurrency` run or the input is exhausted: an input is
//!    pulled only when a slot is free, so the input iterator is
//!    consumed lazily, and between two calls to `next` nothing starts;
//! 3. waits for the first task to end (module `ends`), or for the
//!    earliest deadline: a task's deadline is its start plus the
//!    timeout. A task that ended frees its slot at once (its result may
//!    wait in the buffer); a task past its deadline is killed and its
//!    item is [`TaskError::Timeout`], or the owner ends
//!    ([`OnTimeout::Exit`], Elixir's default).
//!
//! Tasks are linked to the owner, as in Elixir: a task that panics takes
//! an owner that does not trap exits down with it; one that traps exits
//! gets the panic as that item's [`TaskError::Exited`]. Dropping the
//! stream before its end kills the tasks still running.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::iter::{Fuse, FusedIterator};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotp_scheduler::{ExitReason, Pid, exit_self, try_self_pid};

use super::ends::Ends;
use super::error::TaskError;
use super::handle::Task;

/// How long a task may run by default in [`async_stream`] (Elixir's 5
/// seconds, the default of its `Task.await` too).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`async_stream`] does with a task that runs past its timeout
/// (Elixir's `on_timeout`).
///
/// ```
/// use std::time::Duration;
/// use ferrotp::task::{OnTimeout, TaskError, async_stream};
/// use ferrotp::receive;
/// let items = ferrotp::run(|| {
///     async_stream([1u64, 0, 3], |n| {
///         if n == 0 { receive::<()>(); } // never finishes
///         n * 10
///     })
///     .timeout(Duration::from_millis(10))
///     .on_timeout(OnTimeout::KillTask)
///     .collect::<Vec<_>>()
/// }).unwrap();
/// assert_eq!(items, vec![Ok(10), Err(TaskError::Timeout), Ok(30)]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnTimeout {
    /// Kill the tasks still running and end the owner with a
    /// [`ExitReason::Custom`] reason naming the timeout (Elixir's
    /// `:exit`, its default).
    #[default]
    Exit,
    /// Kill that task; its item is `Err(TaskError::Timeout)`, and the
    /// stream goes on (Elixir's `:kill_task`).
    KillTask,
}

/// Maps `f` over `inputs`, each call in a task of its own, at most
/// [`max_concurrency`](AsyncStream::max_concurrency) at a time (Elixir's
/// `Task.async_stream`); the stream yields each call's result (module
/// docs: how it runs).
///
/// ```
/// use ferrotp::task::async_stream;
/// let squares = ferrotp::run(|| {
///     async_stream(1..=5u64, |n| n * n)
///         .max_concurrency(2)
///         .map(Result::unwrap)
///         .collect::<Vec<_>>()
/// }).unwrap();
/// assert_eq!(squares, vec![1, 4, 9, 16, 25]); // in input order
/// ```
///
/// Options: [`max_concurrency`](AsyncStream::max_concurrency) (default:
/// the machine's CPUs, the runtime's default worker count),
/// [`ordered`](AsyncStream::ordered) (default true),
/// [`timeout`](AsyncStream::timeout) (default [`DEFAULT_TIMEOUT`]) and
/// [`on_timeout`](AsyncStream::on_timeout) (default [`OnTimeout::Exit`]).
pub fn async_stream<I, F, T>(inputs: I, f: F) -> AsyncStream<I::IntoIter, F, T>
where
    I: IntoIterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    AsyncStream {
        inputs: inputs.into_iter().fuse(),
        f: Arc::new(f),
        max_concurrency: std::thread::available_parallelism().map_or(1, usize::from),
        ordered: true,
        timeout: DEFAULT_TIMEOUT,
        on_timeout: OnTimeout::default(),
        owner: None,
        next_index: 0,
        running: HashMap::new(),
        ends: Ends::new(),
        waiting: BTreeMap::new(),
        next_out: 0,
        ready: VecDeque::new(),
    }
}

/// The stream [`async_stream`] makes: options first, then an iterator of
/// each input's `Result<T, TaskError>`.
pub struct AsyncStream<I: Iterator, F, T> {
    inputs: Fuse<I>,
    f: Arc<F>,
    max_concurrency: usize,
    ordered: bool,
    timeout: Duration,
    on_timeout: OnTimeout,
    /// Set by the first `next`.
    owner: Option<Pid>,
    /// The index of the next input pulled.
    next_index: usize,
    /// The tasks running, by input index.
    running: HashMap<usize, Running<T>>,
    ends: Ends,
    /// Ordered: finished, waiting for their turn, by input index.
    waiting: BTreeMap<usize, Result<T, TaskError>>,
    /// Ordered: the index whose result comes next.
    next_out: usize,
    /// Unordered: finished, in the order they finished.
    ready: VecDeque<Result<T, TaskError>>,
}

struct Running<T> {
    task: Task<T>,
    /// `None`: no timeout.
    deadline: Option<Instant>,
}

impl<I: Iterator, F, T> std::fmt::Debug for AsyncStream<I, F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStream")
            .field("max_concurrency", &self.max_concurrency)
            .field("ordered", &self.ordered)
            .field("timeout", &self.timeout)
            .field("on_timeout", &self.on_timeout)
            .field("running", &self.running.len())
            .finish_non_exhaustive()
    }
}

impl<I, F, T> AsyncStream<I, F, T>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    /// At most `n` tasks run at once (Elixir's `max_concurrency`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use ferrotp::task::async_stream;
    /// let peak = ferrotp::run(|| {
    ///     let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    ///     let (r, p) = (running.clone(), peak.clone());
    ///     async_stream(0..20, move |_| {
    ///         p.fetch_max(r.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
    ///         ferrotp::yield_now();
    ///         r.fetch_sub(1, Ordering::SeqCst);
    ///     })
    ///     .max_concurrency(3)
    ///     .for_each(drop);
    ///     peak.load(Ordering::SeqCst)
    /// }).unwrap();
    /// assert!(peak <= 3);
    /// ```
    ///
    /// # Panics
    /// If `n` is 0 (no task would ever start), or once the stream has
    /// started.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.check_unstarted("max_concurrency");
        assert!(
            n > 0,
            "ferrotp::task::AsyncStream::max_concurrency: 0 would start no task; give at least 1"
        );
        self.max_concurrency = n;
        self
    }

    /// Whether results come in input order (`true`, the default) or in
    /// the order the tasks finish.
    ///
    /// ```
    /// use ferrotp::task::async_stream;
    /// let mut squares = ferrotp::run(|| {
    ///     async_stream(1..=5u64, |n| n * n)
    ///         .ordered(false)
    ///         .map(Result::unwrap)
    ///         .collect::<Vec<_>>()
    /// }).unwrap();
    /// squares.sort(); // they came as they finished
    /// assert_eq!(squares, vec![1, 4, 9, 16, 25]);
    /// ```
    ///
    /// # Panics
    /// Once the stream has started.
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.check_unstarted("ordered");
        self.ordered = ordered;
        self
    }

    /// How long each task may run, from its start (default
    /// [`DEFAULT_TIMEOUT`]; `Duration::MAX`: no limit). What happens
    /// past it: [`on_timeout`](Self::on_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::{OnTimeout, TaskError, async_stream};
    /// let items = ferrotp::run(|| {
    ///     async_stream([()], |()| ferrotp::receive::<u8>())
    ///         .timeout(Duration::from_millis(5))
    ///         .on_timeout(OnTimeout::KillTask)
    ///         .collect::<Vec<_>>()
    /// }).unwrap();
    /// assert_eq!(items, vec![Err(TaskError::Timeout)]);
    /// ```
    ///
    /// # Panics
    /// Once the stream has started.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.check_unstarted("timeout");
        self.timeout = timeout;
        self
    }

    /// What to do with a task past its timeout (default
    /// [`OnTimeout::Exit`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::task::{OnTimeout, async_stream};
    /// use ferrotp::{ExitReason, receive, spawn, yield_now};
    /// let reason = ferrotp::run(|| {
    ///     let consumer = spawn(|| {
    ///         async_stream([()], |()| receive::<u8>())
    ///             .timeout(Duration::from_millis(5))
    ///             .on_timeout(OnTimeout::Exit)
    ///             .for_each(drop);
    ///     });
    ///     while !consumer.has_exited() { yield_now(); }
    ///     consumer.exit_reason().unwrap()
    /// }).unwrap();
    /// assert!(matches!(reason, ExitReason::Custom(ref why) if why.contains("timeout")));
    /// ```
    ///
    /// # Panics
    /// Once the stream has started.
    pub fn on_timeout(mut self, on_timeout: OnTimeout) -> Self {
        self.check_unstarted("on_timeout");
        self.on_timeout = on_timeout;
        self
    }

    fn check_unstarted(&self, option: &str) {
        assert!(
            self.owner.is_none(),
            "ferrotp::task::AsyncStream::{option}: set the stream's options before its first item"
        );
    }

    /// Panics unless the caller may consume the stream: the first caller
    /// becomes its owner.
    fn check_owner(&mut self) {
        let me = try_self_pid().unwrap_or_else(|| {
            panic!("ferrotp::task::AsyncStream was consumed outside a ferrotp process")
        });
        let owner = self.owner.get_or_insert_with(|| me.clone());
        assert!(
            *owner == me,
            "ferrotp::task::AsyncStream: only its owner {owner} may consume it, not {me} (the \
             process that took its first item owns its tasks)"
        );
    }

    /// A result whose turn has come, if there is one.
    fn pop_ready(&mut self) -> Option<Result<T, TaskError>> {
        if self.ordered {
            let result = self.waiting.remove(&self.next_out)?;
            self.next_out += 1;
            Some(result)
        } else {
            self.ready.pop_front()
        }
    }

    fn push_ready(&mut self, index: usize, result: Result<T, TaskError>) {
        if self.ordered {
            self.waiting.insert(index, result);
        } else {
            self.ready.push_back(result);
        }
    }

    /// Starts tasks until `max_concurrency` run or the input ends.
    fn fill(&mut self) {
        while self.running.len() < self.max_concurrency {
            let Some(input) = self.inputs.next() else {
                break;
            };
            let f = Arc::clone(&self.f);
            let task = Task::spawn(move || f(input));
            let index = self.next_index;
            self.next_index += 1;
            self.ends.watch(index, task.pid());
            let deadline = Instant::now().checked_add(self.timeout);
            self.running.insert(index, Running { task, deadline });
        }
    }

    /// The tasks whose deadline has passed: killed, or the owner ends.
    fn time_out(&mut self) {
        let now = Instant::now();
        let late: Vec<usize> = self
            .running
            .iter()
            .filter(|(_, running)| running.deadline.is_some_and(|at| at <= now))
            .map(|(&index, _)| index)
            .collect();
        if late.is_empty() {
            // Woken early (or by a deadline no task has reached): nothing
            // is late, whatever `on_timeout` says.
            return;
        }
        let late = match self.on_timeout {
            OnTimeout::KillTask => late,
            // One task late: the owner ends, and every task with it.
            OnTimeout::Exit => self.running.keys().copied().collect(),
        };
        let mut killed: Vec<(usize, Task<T>)> = late
            .into_iter()
            .map(|index| (index, self.running.remove(&index).expect("listed").task))
            .collect();
        for (_, task) in &mut killed {
            task.kill_now();
        }
        for (index, task) in killed {
            // A result that won the race with the timeout is the result.
            let result = task.wait_killed().ok_or(TaskError::Timeout);
            self.push_ready(index, result);
        }
        if self.on_timeout == OnTimeout::Exit {
            exit_self(ExitReason::custom(format!(
                "ferrotp::task::async_stream: a task ran past its timeout of {:?}",
                self.timeout
            )));
        }
    }
}

impl<I, F, T> Iterator for AsyncStream<I, F, T>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    type Item = Result<T, TaskError>;

    /// The next result (module docs: how it runs); `None` once every
    /// input's task has been reported.
    ///
    /// # Panics
    /// Outside a process, or in another process than the one that took
    /// the first item.
    fn next(&mut self) -> Option<Self::Item> {
        self.check_owner();
        loop {
            if let Some(result) = self.pop_ready() {
                return Some(result);
            }
            self.fill();
            if self.running.is_empty() {
                debug_assert!(self.waiting.is_empty() && self.ready.is_empty());
                return None;
            }
            let deadline = self.running.values().filter_map(|r| r.deadline).min();
            match self.ends.next(deadline) {
                Some(index) => {
                    // A task killed on timeout is no longer listed.
                    if let Some(Running { mut task, .. }) = self.running.remove(&index) {
                        let reason = task.pid().exit_reason().expect("its exit hook ran");
                        let result = task.settle(reason);
                        self.push_ready(index, result);
                    }
                }
                None => self.time_out(),
            }
        }
    }
}

impl<I, F, T> FusedIterator for AsyncStream<I, F, T>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
}

impl<I: Iterator, F, T> Drop for AsyncStream<I, F, T> {
    /// Kills the tasks still running, if dropped by its owner (elsewhere
    /// they are left to run: only the owner may unlink them).
    fn drop(&mut self) {
        if self.running.is_empty() || self.owner.is_none() || try_self_pid() != self.owner {
            return;
        }
        let mut tasks: Vec<Task<T>> = self.running.drain().map(|(_, r)| r.task).collect();
        for task in &mut tasks {
            task.kill_now();
        }
        if !std::thread::panicking() {
            for task in tasks {
                task.wait_killed();
            }
        }
    }
}
