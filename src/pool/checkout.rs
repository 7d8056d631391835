//! [`CheckoutPool`]: workers lent out for exclusive use (Erlang's
//! poolboy): checkout with a timeout, overflow workers up to a bound,
//! workers returned when their user dies, crashed workers replaced.
//!
//! # Design
//!
//! The pool is a manager actor that owns the workers (linked to it, and
//! monitored). A checkout is a [`call`](crate::actor::ActorRef::call) to
//! the manager:
//!
//! 1. a free worker is lent at once;
//! 2. else, below the overflow bound, a new overflow worker is started
//!    and lent;
//! 3. else the caller waits in line, up to its timeout.
//!
//! A lend is a [`Lease`]: the worker's address, checked back in when the
//! lease is dropped (or [`Lease::checkin`]). The manager monitors each
//! user: a user that ends holding leases has them checked in.
//!
//! # Invariants
//!
//! * **No worker is lost to a caller that gave up.** The manager hands a
//!   worker to a waiting caller through the caller's reply address; once
//!   the caller's `call` has returned (a timeout, its end), that address
//!   refuses the reply (`ReplyTo::send` is false: module
//!   `ferrotp_scheduler::messaging::call`), and the manager offers the
//!   worker to the next in line, or keeps it free.
//! * Each worker is free, lent (once), or gone; an overflow worker
//!   checked in with nobody waiting is stopped, so overflow workers exist
//!   only while they are needed.
//! * A crashed worker is forgotten wherever it was (its lease, if any,
//!   ends: the lease's calls fail, its checkin is ignored); a base worker
//!   is replaced at once, an overflow one is not. A replacement that
//!   fails to start stops the pool with its reason (its owner hears of it
//!   through the link) rather than leaving it smaller.
//! * A caller waiting in line is watched: one that ends leaves the line.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ferrotp_scheduler::{CallError, Exit, ExitReason, Pid, ReplyTo, exit, self_pid};
use ferrotp_supervision::{Demonitor, Down, MonitorRef, demonitor, monitor};

use crate::actor::{self, Actor, ActorRef, Context, Next, Selector, StartError};

use super::error::{CheckoutError, PoolError};

/// What a [`CheckoutPool`] holds now ([`CheckoutPool::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Workers free now.
    pub free: usize,
    /// Workers lent out.
    pub lent: usize,
    /// Overflow workers alive (free or lent).
    pub overflow: usize,
    /// Callers waiting for a worker.
    pub waiting: usize,
}

/// The manager's messages (opaque).
pub struct Request<M> {
    kind: Kind<M>,
}

enum Kind<M> {
    Checkout {
        user: Pid,
        reply: ReplyTo<(u64, ActorRef<M>)>,
    },
    Checkin(u64),
    /// The caller gave up waiting (its checkout timed out).
    Cancel(Pid),
    Status(ReplyTo<PoolStatus>),
    Down(Down),
    Exit(Exit),
}

/// A worker's address, lent for exclusive use by
/// [`CheckoutPool::checkout`]; checked back in when dropped.
pub struct Lease<M: Send + 'static> {
    id: u64,
    worker: ActorRef<M>,
    manager: ActorRef<Request<M>>,
    returned: bool,
}

impl<M: Send + 'static> std::fmt::Debug for Lease<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("id", &self.id)
            .field("worker", &self.worker)
            .finish()
    }
}

impl<M: Send + 'static> Lease<M> {
    /// The lent worker.
    pub fn worker(&self) -> &ActorRef<M> {
        &self.worker
    }

    /// Checks the worker back in now (dropping the lease does too).
    pub fn checkin(mut self) {
        self.give_back();
    }

    fn give_back(&mut self) {
        if !self.returned {
            self.returned = true;
            self.manager.send(Request {
                kind: Kind::Checkin(self.id),
            });
        }
    }
}

impl<M: Send + 'static> std::ops::Deref for Lease<M> {
    type Target = ActorRef<M>;
    fn deref(&self) -> &ActorRef<M> {
        &self.worker
    }
}

impl<M: Send + 'static> Drop for Lease<M> {
    fn drop(&mut self) {
        self.give_back();
    }
}

/// A pool of workers lent out for exclusive use (module docs): poolboy's
/// `checkout` / `checkin`, with overflow.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::Next;
/// use ferrotp::pool::CheckoutPool;
/// use ferrotp::ReplyTo;
///
/// /// A connection: answers with how many queries it has run.
/// enum Query { Run(ReplyTo<u32>) }
///
/// let (a, b, status) = ferrotp::run(|| {
///     let pool = CheckoutPool::start("db", 2, 1, |builder| {
///         builder.start_fn(0u32, |Query::Run(reply), n| { reply.send(n + 1); Next::Continue(n + 1) })
///     }).unwrap();
///     let t = Duration::from_secs(5);
///     let conn = pool.checkout(t).unwrap();
///     let a = conn.call(Query::Run, t).unwrap();
///     let b = conn.call(Query::Run, t).unwrap(); // the same connection
///     drop(conn); // checked back in
///     (a, b, pool.status(t).unwrap())
/// }).unwrap();
/// assert_eq!((a, b), (1, 2));
/// assert_eq!((status.free, status.lent, status.overflow), (2, 0, 0));
/// ```
pub struct CheckoutPool<M: Send + 'static> {
    manager: ActorRef<Request<M>>,
}

impl<M: Send + 'static> Clone for CheckoutPool<M> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
        }
    }
}

impl<M: Send + 'static> std::fmt::Debug for CheckoutPool<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutPool")
            .field("manager", &self.manager)
            .finish()
    }
}

impl<M: Send + 'static> CheckoutPool<M> {
    /// Starts a pool of `size` workers (`start(builder)` starts one, from
    /// a builder linked to the pool), lending up to `max_overflow` more
    /// when all are busy. The pool is linked to the caller: it stops when
    /// the caller ends, and its workers with it.
    ///
    /// # Errors
    /// [`PoolError::Empty`] for a `size` of 0; [`PoolError::Start`] if a
    /// worker failed to start.
    ///
    /// # Panics
    /// Outside a process.
    pub fn start<F>(
        name: &str,
        size: usize,
        max_overflow: usize,
        start: F,
    ) -> Result<Self, PoolError>
    where
        F: Fn(actor::Builder<M>) -> Result<ActorRef<M>, StartError> + Send + 'static,
    {
        if size == 0 {
            return Err(PoolError::Empty {
                name: name.to_owned(),
            });
        }
        let manager = Manager {
            start: Box::new(start),
            size,
            max_overflow,
            parent: self_pid(),
            free: VecDeque::new(),
            lent: HashMap::new(),
            waiting: VecDeque::new(),
            overflow: 0,
            next_id: 0,
        };
        let selector = Selector::new()
            .on(|down: Down| Request {
                kind: Kind::Down(down),
            })
            .on(|exit: Exit| Request {
                kind: Kind::Exit(exit),
            });
        // Linked once started: a pool whose workers fail to start is an
        // error for the caller, not an exit signal (a linked start whose
        // init fails would kill a caller that does not trap exits).
        let manager = actor::Builder::new()
            .name(name)
            .trap_exit(true)
            .selector(selector)
            .start(manager)
            .map_err(|error| PoolError::Start {
                name: name.to_owned(),
                error: error.to_string(),
            })?;
        // (Ended meanwhile: the link brings its exit signal, as linking
        // to an ended process does.)
        ferrotp_supervision::link(&manager.pid());
        Ok(Self { manager })
    }

    /// Borrows a worker for exclusive use, waiting up to `timeout` for
    /// one to be free.
    ///
    /// # Errors
    /// [`CheckoutError::Timeout`] if none became free in time;
    /// [`CheckoutError::Stopped`] if the pool is not running.
    ///
    /// # Panics
    /// Outside a process.
    pub fn checkout(&self, timeout: Duration) -> Result<Lease<M>, CheckoutError> {
        let user = self_pid();
        let granted = self.manager.call(
            |reply| Request {
                kind: Kind::Checkout { user, reply },
            },
            timeout,
        );
        match granted {
            Ok((id, worker)) => Ok(Lease {
                id,
                worker,
                manager: self.manager.clone(),
                returned: false,
            }),
            Err(CallError::Timeout) => {
                // Out of the line (poolboy's cancel_waiting). A worker
                // handed over meanwhile was refused by the closed call
                // and went to the next in line.
                self.manager.send(Request {
                    kind: Kind::Cancel(self_pid()),
                });
                Err(CheckoutError::Timeout(timeout))
            }
            Err(error) => Err(CheckoutError::Stopped(error)),
        }
    }

    /// What the pool holds now.
    ///
    /// # Errors
    /// As for [`ActorRef::call`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn status(&self, timeout: Duration) -> Result<PoolStatus, CallError> {
        self.manager.call(
            |reply| Request {
                kind: Kind::Status(reply),
            },
            timeout,
        )
    }

    /// The pool's manager process.
    pub fn pid(&self) -> Pid {
        self.manager.pid()
    }

    /// Stops the pool and its workers.
    ///
    /// # Errors
    /// As for [`ActorRef::stop`].
    ///
    /// # Panics
    /// Outside a process.
    pub fn stop(&self, timeout: Duration) -> Result<(), CallError> {
        self.manager.stop(ExitReason::Normal, timeout)
    }
}

/// Where a granted worker goes: the lease's id and the worker.
type Grant<M> = ReplyTo<(u64, ActorRef<M>)>;

type StartWorker<M> = Box<dyn Fn(actor::Builder<M>) -> Result<ActorRef<M>, StartError> + Send>;

struct Worker<M> {
    address: ActorRef<M>,
    pid: Pid,
    overflow: bool,
}

struct Waiter<M> {
    user: Pid,
    reply: Grant<M>,
    watch: MonitorRef,
}

struct Lent<M> {
    worker: Worker<M>,
    user: Pid,
    watch: MonitorRef,
}

struct Manager<M> {
    start: StartWorker<M>,
    size: usize,
    max_overflow: usize,
    parent: Pid,
    free: VecDeque<Worker<M>>,
    lent: HashMap<u64, Lent<M>>,
    /// Callers waiting, each watched (a caller that ends leaves the line).
    waiting: VecDeque<Waiter<M>>,
    overflow: usize,
    next_id: u64,
}

impl<M: Send + 'static> Manager<M> {
    /// Starts a worker, linked to the manager and monitored by it.
    fn start_worker(&mut self, overflow: bool) -> Result<Worker<M>, ExitReason> {
        let address = (self.start)(actor::Builder::new().link(true))
            .map_err(|error| ExitReason::custom(format!("a worker failed to start: {error}")))?;
        let pid = address.pid();
        monitor(&pid);
        Ok(Worker {
            address,
            pid,
            overflow,
        })
    }

    /// Lends `worker` to `user` through `reply`; gives the worker back if
    /// the caller had given up.
    fn lend(&mut self, worker: Worker<M>, user: Pid, reply: Grant<M>) -> Result<(), Worker<M>> {
        let id = self.next_id;
        self.next_id += 1;
        if !reply.send((id, worker.address.clone())) {
            return Err(worker);
        }
        let watch = monitor(&user);
        self.lent.insert(
            id,
            Lent {
                worker,
                user,
                watch,
            },
        );
        Ok(())
    }

    /// A worker is free again: to the first caller still waiting, or kept
    /// (an overflow worker nobody waits for is stopped).
    fn release(&mut self, mut worker: Worker<M>) {
        while let Some(waiter) = self.waiting.pop_front() {
            demonitor(&waiter.watch, Demonitor::Flush);
            match self.lend(worker, waiter.user, waiter.reply) {
                Ok(()) => return,
                Err(back) => worker = back,
            }
        }
        if worker.overflow {
            self.overflow -= 1;
            exit(&worker.pid, ExitReason::Shutdown);
        } else {
            self.free.push_back(worker);
        }
    }

    fn checkout(&mut self, user: Pid, reply: Grant<M>) {
        let worker = match self.free.pop_front() {
            Some(worker) => worker,
            None if self.overflow < self.max_overflow => match self.start_worker(true) {
                Ok(worker) => {
                    self.overflow += 1;
                    worker
                }
                // Could not grow: wait for a worker like the rest.
                Err(_) => return self.wait(user, reply),
            },
            None => return self.wait(user, reply),
        };
        if let Err(worker) = self.lend(worker, user, reply) {
            self.release(worker);
        }
    }

    /// `user` waits in line, watched.
    fn wait(&mut self, user: Pid, reply: Grant<M>) {
        let watch = monitor(&user);
        self.waiting.push_back(Waiter { user, reply, watch });
    }

    /// `user` leaves the line (it gave up, or ended).
    fn leave_line(&mut self, user: &Pid) {
        self.waiting.retain(|waiter| {
            let stays = waiter.user != *user;
            if !stays {
                demonitor(&waiter.watch, Demonitor::Flush);
            }
            stays
        });
    }

    fn checkin(&mut self, id: u64) {
        if let Some(lent) = self.lent.remove(&id) {
            demonitor(&lent.watch, Demonitor::Flush);
            self.release(lent.worker);
        }
    }

    /// A process the manager watches has ended; the reason to stop with
    /// if a lost worker could not be replaced.
    fn down(&mut self, down: Down) -> Option<ExitReason> {
        // A caller that ended while it waited: out of the line.
        self.leave_line(&down.pid);
        // A user that ended: its leases come back.
        let leases: Vec<u64> = self
            .lent
            .iter()
            .filter(|(_, lent)| lent.user == down.pid)
            .map(|(id, _)| *id)
            .collect();
        for id in leases {
            self.checkin(id);
        }
        // A worker that ended: forgotten; a base worker replaced.
        let lost = if let Some(at) = self.free.iter().position(|w| w.pid == down.pid) {
            self.free.remove(at)
        } else if let Some(id) = self
            .lent
            .iter()
            .find(|(_, lent)| lent.worker.pid == down.pid)
            .map(|(id, _)| *id)
        {
            self.lent.remove(&id).map(|lent| {
                demonitor(&lent.watch, Demonitor::Flush);
                lent.worker
            })
        } else {
            None
        };
        if let Some(lost) = lost {
            if lost.overflow {
                self.overflow -= 1;
            } else {
                // A pool that cannot keep its size stops, as a supervisor
                // that cannot restart a child does: its owner hears of it
                // (the link), rather than lending fewer workers silently.
                match self.start_worker(false) {
                    Ok(replacement) => self.release(replacement),
                    Err(reason) => return Some(reason),
                }
            }
        }
        None
    }

    fn status(&self) -> PoolStatus {
        PoolStatus {
            free: self.free.len(),
            lent: self.lent.len(),
            overflow: self.overflow,
            waiting: self.waiting.len(),
        }
    }
}

impl<M: Send + 'static> Actor for Manager<M> {
    type Message = Request<M>;

    fn init(&mut self, _: &mut Context<Request<M>>) -> Result<(), ExitReason> {
        for _ in 0..self.size {
            let worker = self.start_worker(false)?;
            self.free.push_back(worker);
        }
        Ok(())
    }

    fn handle(&mut self, request: Request<M>, _: &mut Context<Request<M>>) -> Next {
        match request.kind {
            Kind::Checkout { user, reply } => self.checkout(user, reply),
            Kind::Checkin(id) => self.checkin(id),
            Kind::Cancel(user) => self.leave_line(&user),
            Kind::Status(reply) => {
                reply.send(self.status());
            }
            Kind::Down(down) => {
                if let Some(reason) = self.down(down) {
                    return Next::Stop(reason);
                }
            }
            // The starter's end ends the pool (its link, trapped here);
            // a worker's end is handled by its monitor's `Down`.
            Kind::Exit(signal) if signal.from.as_ref() == Some(&self.parent) => {
                return Next::Stop(signal.reason);
            }
            Kind::Exit(_) => {}
        }
        Next::CONTINUE
    }

    fn terminate(&mut self, _: &ExitReason, _: &mut Context<Request<M>>) {
        // The workers are linked: they would go with the manager; stop
        // them explicitly so that a normal stop takes them too.
        let workers = self
            .free
            .drain(..)
            .chain(self.lent.drain().map(|(_, lent)| lent.worker));
        for worker in workers {
            exit(&worker.pid, ExitReason::Shutdown);
        }
    }
}
