//! [`Pool`]: N supervised actors behind one address, and how a message
//! picks its worker ([`Dispatch`]).

use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrotp_scheduler::{CallError, ReplyTo};
use ferrotp_supervision::{ChildError, Strategy, Supervisor, SupervisorSpec};

use crate::actor::{self, ActorRef, StartError};

use super::error::PoolError;

/// How a [`Pool`] picks the worker for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Dispatch {
    /// Each worker in turn.
    #[default]
    RoundRobin,
    /// The worker with the fewest messages waiting in its mailbox (the
    /// first such, on a tie).
    LeastLoaded,
}

/// How a [`Pool`] is made: its name, size, dispatch and its supervisor's
/// restart intensity ([`Pool::start_spec`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    name: String,
    size: usize,
    dispatch: Dispatch,
    intensity: Option<(u32, Duration)>,
}

impl PoolSpec {
    /// `size` workers named `name_1` ... `name_size`, round-robin, and an
    /// intensity of `size` restarts in 5 seconds (each worker may crash
    /// once a period; OTP's default of one for the whole supervisor would
    /// stop a pool at its second crash).
    pub fn new(name: &str, size: usize) -> Self {
        Self {
            name: name.to_owned(),
            size,
            dispatch: Dispatch::default(),
            intensity: None,
        }
    }

    /// How each message picks its worker.
    pub fn dispatch(mut self, dispatch: Dispatch) -> Self {
        self.dispatch = dispatch;
        self
    }

    /// The pool's supervisor gives up (and the pool stops) after more
    /// than `max_restarts` restarts in `period`.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.intensity = Some((max_restarts, period));
        self
    }
}

/// A pool of `size` actors of one kind, under a supervisor of their own:
/// worker `i` (from 1) is registered as `name_i`, a worker that crashes
/// is restarted (its address, kept by the pool, reaches the
/// replacement), and each message goes to one worker, picked by the
/// pool's [`Dispatch`] or, with [`send_keyed`](Self::send_keyed), by a
/// key's hash (the same key, the same worker).
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::Next;
/// use ferrotp::pool::{Dispatch, Pool};
/// use ferrotp::ReplyTo;
///
/// enum Job { Square(u64, ReplyTo<u64>) }
///
/// let (squares, name) = ferrotp::run(|| {
///     let pool = Pool::start("squarer", 4, Dispatch::RoundRobin, |builder, _index| {
///         builder.start_fn((), |Job::Square(n, reply), ()| {
///             reply.send(n * n);
///             Next::Continue(())
///         })
///     }).unwrap();
///     let squares: Vec<u64> = (1..=8u64)
///         .map(|n| pool.call(|reply| Job::Square(n, reply), Duration::from_secs(5)).unwrap())
///         .collect();
///     let name = ferrotp::whereis("squarer_3") == Some(pool.workers()[2].pid());
///     pool.stop().unwrap();
///     (squares, name)
/// }).unwrap();
/// assert_eq!(squares, [1, 4, 9, 16, 25, 36, 49, 64]);
/// assert!(name);
/// ```
pub struct Pool<M> {
    shared: Arc<Shared<M>>,
}

struct Shared<M> {
    workers: Vec<ActorRef<M>>,
    dispatch: Dispatch,
    next: AtomicUsize,
    keys: RandomState,
    supervisor: Supervisor,
}

impl<M> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<M> std::fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.shared.workers.len())
            .field("dispatch", &self.shared.dispatch)
            .field("supervisor", self.shared.supervisor.pid())
            .finish()
    }
}

impl<M: Send + 'static> Pool<M> {
    /// Starts `size` workers under a new supervisor linked to the caller
    /// (one for one: a crashed worker is restarted alone; up to `size`
    /// restarts in 5 s, [`PoolSpec::intensity`] to choose). `start(builder,
    /// i)` starts worker `i` (from 1), from a builder already named
    /// `name_i`; it runs again for each restart.
    ///
    /// # Errors
    /// [`PoolError::Empty`] for a `size` of 0 (Gleam's pool refuses fewer
    /// than one worker); [`PoolError::Start`] if a worker's start
    /// failed (no supervisor is left behind).
    ///
    /// # Panics
    /// Outside a process.
    pub fn start<F>(
        name: &str,
        size: usize,
        dispatch: Dispatch,
        start: F,
    ) -> Result<Self, PoolError>
    where
        F: Fn(actor::Builder<M>, usize) -> Result<ActorRef<M>, StartError> + Send + Sync + 'static,
    {
        Self::start_spec(PoolSpec::new(name, size).dispatch(dispatch), start)
    }

    /// [`start`](Self::start) from a [`PoolSpec`] (its restart
    /// intensity, say).
    ///
    /// # Errors
    /// As for [`start`](Self::start).
    ///
    /// # Panics
    /// Outside a process.
    pub fn start_spec<F>(spec: PoolSpec, start: F) -> Result<Self, PoolError>
    where
        F: Fn(actor::Builder<M>, usize) -> Result<ActorRef<M>, StartError> + Send + Sync + 'static,
    {
        let PoolSpec {
            name,
            size,
            dispatch,
            intensity,
        } = spec;
        let name = name.as_str();
        if size == 0 {
            return Err(PoolError::Empty {
                name: name.to_owned(),
            });
        }
        let start = Arc::new(start);
        let (max_restarts, period) = intensity.unwrap_or((
            u32::try_from(size).unwrap_or(u32::MAX),
            Duration::from_secs(5),
        ));
        let mut spec = SupervisorSpec::new(Strategy::OneForOne).intensity(max_restarts, period);
        let mut workers = Vec::with_capacity(size);
        for index in 1..=size {
            let worker_name = format!("{name}_{index}");
            let start = Arc::clone(&start);
            let registered = worker_name.clone();
            let (child, address) = actor::child(worker_name, move |builder| {
                start(builder.name(registered.as_str()), index)
            });
            spec = spec.child(child);
            workers.push(address);
        }
        let supervisor = spec.start_link().map_err(|error| PoolError::Start {
            name: name.to_owned(),
            error: error.to_string(),
        })?;
        Ok(Self {
            shared: Arc::new(Shared {
                workers,
                dispatch,
                next: AtomicUsize::new(0),
                keys: RandomState::new(),
                supervisor,
            }),
        })
    }

    /// The workers' addresses, worker `i` at index `i - 1`.
    pub fn workers(&self) -> &[ActorRef<M>] {
        &self.shared.workers
    }

    /// How many workers.
    pub fn size(&self) -> usize {
        self.shared.workers.len()
    }

    /// The pool's dispatch strategy.
    pub fn dispatch(&self) -> Dispatch {
        self.shared.dispatch
    }

    /// The worker the pool's [`Dispatch`] picks now.
    pub fn pick(&self) -> &ActorRef<M> {
        let workers = &self.shared.workers;
        let at = match self.shared.dispatch {
            Dispatch::RoundRobin => {
                self.shared.next.fetch_add(1, Ordering::Relaxed) % workers.len()
            }
            Dispatch::LeastLoaded => least_loaded(workers),
        };
        &workers[at]
    }

    /// The worker for `key`: always the same one for equal keys.
    pub fn pick_keyed<K: Hash + ?Sized>(&self, key: &K) -> &ActorRef<M> {
        let workers = &self.shared.workers;
        // Truncating the hash is fine: any bits pick a worker.
        let at = (self.shared.keys.hash_one(key) as usize) % workers.len();
        &workers[at]
    }

    /// Sends `message` to the worker the dispatch picks.
    pub fn send(&self, message: M) {
        self.pick().send(message);
    }

    /// Sends `message` to `key`'s worker.
    pub fn send_keyed<K: Hash + ?Sized>(&self, key: &K, message: M) {
        self.pick_keyed(key).send(message);
    }

    /// Calls the worker the dispatch picks ([`ActorRef::call`]).
    ///
    /// # Errors
    /// As for [`ActorRef::call`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn call<R: Send + 'static>(
        &self,
        request: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, CallError> {
        self.pick().call(request, timeout)
    }

    /// Calls `key`'s worker.
    ///
    /// # Errors
    /// As for [`ActorRef::call`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn call_keyed<K: Hash + ?Sized, R: Send + 'static>(
        &self,
        key: &K,
        request: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, CallError> {
        self.pick_keyed(key).call(request, timeout)
    }

    /// The pool's supervisor.
    pub fn supervisor(&self) -> &Supervisor {
        &self.shared.supervisor
    }

    /// Stops the pool: its supervisor shuts every worker down.
    ///
    /// # Errors
    /// As for [`Supervisor::stop`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn stop(&self) -> Result<(), ChildError> {
        self.shared.supervisor.stop()
    }
}

/// The index of the worker with the fewest messages waiting (the first
/// such).
fn least_loaded<M: Send + 'static>(workers: &[ActorRef<M>]) -> usize {
    let mut best = (0, u64::MAX);
    for (at, worker) in workers.iter().enumerate() {
        let queued = worker.pid().message_queue_len();
        if queued < best.1 {
            best = (at, queued);
            if queued == 0 {
                break;
            }
        }
    }
    best.0
}
