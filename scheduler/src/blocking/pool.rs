//! The blocking pool's threads: started lazily, up to a bound, each
//! exiting after a keep-alive without work; jobs queue while every thread
//! is busy.
//!
//! # The protocol (all under one `Mutex`, no atomics)
//!
//! The state counts the live threads (`threads`), those waiting on the
//! condition variable (`idle`) and, of those, the ones a submit has
//! notified and that have not yet come out of their wait (`notified`).
//!
//! * **Submit** queues the job, then: if some idle thread is not already
//!   notified (`idle > notified`), notifies one (`notified += 1`);
//!   otherwise, below the bound, starts a thread (`threads += 1`);
//!   otherwise leaves the job queued for the first thread that finishes.
//! * **A thread** takes jobs from the queue front until it is empty,
//!   running each with the lock released; then waits (`idle += 1`) for up
//!   to the keep-alive. Out of the wait (`idle -= 1`; `notified -= 1` if
//!   any notification is pending, whichever thread it was meant for) it
//!   looks at the queue again; it exits only when its wait timed out with
//!   the queue empty and no notification pending.
//!
//! **Why no job is stranded**: a queued job is taken by a running thread
//! as it loops back, by an idle one (each idle thread looks at the queue
//! when it comes out of its wait, at the latest after the keep-alive), or
//! by the thread its submit started; and a thread never exits while the
//! queue holds a job, since it looks at the queue under the same lock
//! that it exits under. `notified <= idle` always holds (it only grows
//! while below `idle`, and shrinks with it), so notifications are spent
//! only on threads that will look at the queue: the bound on threads is
//! reached only when every thread is busy or already on its way to the
//! queue.
//!
//! # Shutdown
//!
//! [`BlockingPool::shut_down`] (the runtime is dropped, after its workers
//! have stopped) takes the jobs that never started out of the queue and
//! drops them, outside the lock, each under its own net; idle threads are
//! woken and exit; a thread running a job finishes it (a closure cannot be
//! interrupted) and then exits, unjoined: shutdown never waits for one.
//!
//! No user code runs under the lock (jobs run, and are dropped, outside
//! it), so a poisoned lock still guards a consistent state.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::worker::contain::contain;

/// A unit of work for the pool: it runs once, or is dropped unrun (the
/// runtime shut down first).
pub(crate) trait Job: Send {
    /// Runs the job on a pool thread. It catches its own closure's panic;
    /// a panic that still comes out is contained and reported.
    fn run(self: Box<Self>);
}

/// The pool's counts, for [`Runtime::metrics`](crate::Runtime::metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PoolCounts {
    pub(crate) threads: usize,
    pub(crate) idle: usize,
    pub(crate) queued: usize,
}

/// Why a job could not be submitted; it comes back, to be dropped by the
/// caller outside the pool's lock.
pub(crate) enum Refused {
    /// The runtime has shut down.
    ShutDown(Box<dyn Job>),
    /// No thread runs and none could be started.
    NoThread(Box<dyn Job>, std::io::Error),
}

/// A runtime's blocking pool (module docs).
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Idle threads wait here for a job, the keep-alive at most.
    work: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Box<dyn Job>>,
    threads: usize,
    idle: usize,
    notified: usize,
    shut_down: bool,
    /// Names the next thread.
    started: u64,
}

impl BlockingPool {
    /// A pool of at most `max_threads` threads, each exiting after
    /// `keep_alive` without work. No thread starts before the first job.
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Self {
        assert!(max_threads >= 1, "a blocking pool has at least one thread");
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                max_threads,
                keep_alive,
            }),
        }
    }

    /// Queues `job` for a pool thread (module docs: submit).
    ///
    /// # Errors
    /// The job back, if the pool has shut down, or if no thread runs and
    /// the OS would not start one.
    pub(crate) fn submit(&self, job: Box<dyn Job>) -> Result<(), Refused> {
        let mut state = self.inner.lock();
        if state.shut_down {
            return Err(Refused::ShutDown(job));
        }
        state.queue.push_back(job);
        if state.idle > state.notified {
            state.notified += 1;
            self.inner.work.notify_one();
            return Ok(());
        }
        if state.threads == self.inner.max_threads {
            return Ok(());
        }
        // Started under the lock (as tokio's pool does): only when the pool
        // grows, and it keeps the counts exact.
        let number = state.started;
        let inner = Arc::clone(&self.inner);
        let started = std::thread::Builder::new()
            .name(format!("ferrotp-blocking-{number}"))
            .spawn(move || inner.work());
        match started {
            Ok(_) => {
                state.started += 1;
                state.threads += 1;
                Ok(())
            }
            // Another thread will take it.
            Err(_) if state.threads > 0 => Ok(()),
            Err(error) => {
                let job = state
                    .queue
                    .pop_back()
                    .expect("queued above, under the lock");
                Err(Refused::NoThread(job, error))
            }
        }
    }

    /// Drops the queued jobs and lets the threads exit (module docs:
    /// shutdown). Never waits for a running job.
    pub(crate) fn shut_down(&self) {
        let queued = {
            let mut state = self.inner.lock();
            state.shut_down = true;
            std::mem::take(&mut state.queue)
        };
        self.inner.work.notify_all();
        for job in queued {
            contain(
                "dropping a blocking job that never ran (at shutdown)",
                || {
                    drop(job);
                },
            );
        }
    }

    /// The pool's counts now.
    pub(crate) fn counts(&self) -> PoolCounts {
        let state = self.inner.lock();
        PoolCounts {
            threads: state.threads,
            idle: state.idle,
            queued: state.queue.len(),
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A pool thread's life (module docs).
    fn work(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                contain("a blocking job", || job.run());
                state = self.lock();
                continue;
            }
            if state.shut_down {
                break;
            }
            state.idle += 1;
            let (woken, wait) = self
                .work
                .wait_timeout(state, self.keep_alive)
                .unwrap_or_else(PoisonError::into_inner);
            state = woken;
            state.idle -= 1;
            if state.notified > 0 {
                state.notified -= 1;
                continue;
            }
            if wait.timed_out() && state.queue.is_empty() {
                break;
            }
        }
        state.threads -= 1;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    struct Once<F>(Option<F>);

    impl<F: FnOnce() + Send> Job for Once<F> {
        fn run(mut self: Box<Self>) {
            (self.0.take().expect("runs once"))();
        }
    }

    fn job(f: impl FnOnce() + Send + 'static) -> Box<dyn Job> {
        Box::new(Once(Some(f)))
    }

    fn submit(pool: &BlockingPool, f: impl FnOnce() + Send + 'static) {
        assert!(pool.submit(job(f)).is_ok());
    }

    /// Waits (without a sleep as synchronisation: each look is exact)
    /// until `pool`'s counts are `want`.
    fn wait_for_counts(pool: &BlockingPool, want: PoolCounts) {
        let start = std::time::Instant::now();
        while pool.counts() != want {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "counts {:?}, waiting for {want:?}",
                pool.counts()
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn threads_start_lazily_up_to_the_bound_and_jobs_queue_beyond_it() {
        let pool = BlockingPool::new(2, Duration::from_secs(60));
        assert_eq!(pool.counts(), PoolCounts::default());
        let (started, starts) = mpsc::channel();
        let mut releases = Vec::new();
        for n in 0..3 {
            let (release, wait) = mpsc::channel::<()>();
            releases.push(release);
            let started = started.clone();
            submit(&pool, move || {
                started.send(n).unwrap();
                wait.recv().unwrap();
            });
        }
        let mut first: Vec<i32> = vec![starts.recv().unwrap(), starts.recv().unwrap()];
        first.sort_unstable();
        assert_eq!(first, [0, 1]);
        assert_eq!(
            pool.counts(),
            PoolCounts {
                threads: 2,
                idle: 0,
                queued: 1
            }
        );
        releases[0].send(()).unwrap();
        assert_eq!(starts.recv().unwrap(), 2);
        releases[1].send(()).unwrap();
        releases[2].send(()).unwrap();
        wait_for_counts(
            &pool,
            PoolCounts {
                threads: 2,
                idle: 2,
                queued: 0,
            },
        );
        pool.shut_down();
        wait_for_counts(&pool, PoolCounts::default());
    }

    #[test]
    fn an_idle_thread_takes_the_next_job() {
        let pool = BlockingPool::new(4, Duration::from_secs(60));
        let (done, dones) = mpsc::channel();
        let first = done.clone();
        submit(&pool, move || first.send(1).unwrap());
        assert_eq!(dones.recv().unwrap(), 1);
        let idle = PoolCounts {
            threads: 1,
            idle: 1,
            queued: 0,
        };
        wait_for_counts(&pool, idle);
        // Never a second thread for a job that the idle one can take.
        submit(&pool, move || done.send(2).unwrap());
        assert_eq!(dones.recv().unwrap(), 2);
        wait_for_counts(&pool, idle);
        pool.shut_down();
    }

    #[test]
    fn an_idle_thread_exits_after_its_keep_alive() {
        let pool = BlockingPool::new(4, Duration::from_millis(1));
        let (done, dones) = mpsc::channel();
        submit(&pool, move || done.send(1).unwrap());
        assert_eq!(dones.recv().unwrap(), 1);
        wait_for_counts(&pool, PoolCounts::default());
    }

    #[test]
    fn shutdown_drops_queued_jobs_and_never_waits_for_a_running_one() {
        let pool = BlockingPool::new(1, Duration::from_secs(60));
        let (started, start) = mpsc::channel();
        let (release, wait) = mpsc::channel::<()>();
        let (ran, ran_rx) = mpsc::channel();
        submit(&pool, move || {
            started.send(()).unwrap();
            wait.recv().unwrap();
            ran.send("running one").unwrap();
        });
        start.recv().unwrap();
        let dropped = Arc::new(());
        let held = Arc::clone(&dropped);
        submit(&pool, move || drop(held));
        assert_eq!(pool.counts().queued, 1);
        pool.shut_down();
        assert_eq!(Arc::strong_count(&dropped), 1, "the queued job was dropped");
        assert!(matches!(pool.submit(job(|| {})), Err(Refused::ShutDown(_))));
        release.send(()).unwrap();
        assert_eq!(ran_rx.recv().unwrap(), "running one");
        wait_for_counts(&pool, PoolCounts::default());
    }
}
