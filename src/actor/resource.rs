//! [`start_resource_owner`]: a process that owns a resource for as long
//! as another process lives (the helper of Gleam's `distribute` library,
//! for users porting from Gleam).
//!
//! With ferrotp an actor's state is dropped however the actor ends (a
//! stop, a panic, a kill that cannot be trapped), so a resource that
//! closes in its `Drop`, held in an actor's state, is released without
//! any helper. This one is for a resource whose release is a separate
//! call, tied to the life of a process that is not its owner: the owner
//! opens it, watches `lifetime`, and closes it when `lifetime` ends, or
//! when the owner itself is stopped or killed.
//!
//! # Design
//!
//! The owner is an actor. Its init opens the resource (so a failure to
//! open fails the start) and monitors `lifetime`; the monitor's `Down`
//! stops it. Its state is a guard whose `Drop` runs `close`: it runs
//! exactly once, on every way out.

use std::sync::{Arc, Mutex, PoisonError};

use ferrotp_scheduler::{ExitReason, Pid};
use ferrotp_supervision::{Down, monitor};

use super::{Actor, Builder, Context, Next, Selector, StartError};

/// The owner's state: the resource, closed as it is dropped.
struct Owned<R, C: FnOnce(R)> {
    resource: Option<R>,
    close: Option<C>,
}

impl<R, C: FnOnce(R)> Drop for Owned<R, C> {
    fn drop(&mut self) {
        if let (Some(resource), Some(close)) = (self.resource.take(), self.close.take()) {
            close(resource);
        }
    }
}

/// A resource owner's one message: its `lifetime` has ended (the type
/// of the [`Builder`] that [`start_resource_owner_with`] takes).
#[derive(Debug)]
pub struct LifetimeEnded(());

struct Owner<R, O, C: FnOnce(R)> {
    lifetime: Pid,
    open: Option<O>,
    close: Option<C>,
    owned: Option<Owned<R, C>>,
    /// Where init leaves the caller's copy of the resource (taken once
    /// the start has returned).
    opened: Arc<Mutex<Option<R>>>,
}

impl<R, O, C> Actor for Owner<R, O, C>
where
    R: Clone + Send + 'static,
    O: FnOnce() -> Result<R, ExitReason> + Send + 'static,
    C: FnOnce(R) + Send + 'static,
{
    type Message = LifetimeEnded;

    fn init(&mut self, _: &mut Context<LifetimeEnded>) -> Result<(), ExitReason> {
        let open = self.open.take().expect("init runs once");
        let resource = open()?;
        *self.opened.lock().unwrap_or_else(PoisonError::into_inner) = Some(resource.clone());
        self.owned = Some(Owned {
            resource: Some(resource),
            close: self.close.take(),
        });
        // Already ended: the Down comes at once (reason NoProc).
        monitor(&self.lifetime);
        Ok(())
    }

    fn handle(&mut self, _: LifetimeEnded, _: &mut Context<LifetimeEnded>) -> Next {
        Next::stop()
    }
}

/// Starts a process that opens a resource with `open` and closes it with
/// `close` when `lifetime` ends, whatever its reason (or when the owner
/// is stopped or killed). Returns the owner's pid and a copy of the
/// resource (a handle: an `Arc`, a path, an id).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ferrotp::actor::start_resource_owner;
/// use ferrotp::{receive, spawn};
///
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let seen = Arc::clone(&log);
/// ferrotp::run(move || {
///     let session = spawn(|| { receive::<()>(); });
///     let (owner, table) = start_resource_owner(
///         &session,
///         || Ok("table-1".to_string()),
///         move |table| seen.lock().unwrap().push(format!("closed {table}")),
///     ).unwrap();
///     assert_eq!(table, "table-1");
///     ferrotp::send(&session, ()); // the session ends: the table closes
///     while !owner.has_exited() { ferrotp::yield_now(); }
/// }).unwrap();
/// assert_eq!(*log.lock().unwrap(), ["closed table-1"]);
/// ```
///
/// # Errors
/// [`StartError::InitFailed`] with `open`'s reason, and the other
/// start errors of [`Builder::start`] (`open` runs within the init
/// timeout).
///
/// # Panics
/// Outside a process.
pub fn start_resource_owner<R, O, C>(
    lifetime: &Pid,
    open: O,
    close: C,
) -> Result<(Pid, R), StartError>
where
    R: Clone + Send + 'static,
    O: FnOnce() -> Result<R, ExitReason> + Send + 'static,
    C: FnOnce(R) + Send + 'static,
{
    start_resource_owner_with(Builder::new(), lifetime, open, close)
}

/// [`start_resource_owner`] with a builder's options (an init timeout
/// for a slow `open`, a name). Its selector is replaced: the owner takes
/// only its monitor's `Down`.
///
/// # Errors
/// As for [`start_resource_owner`].
///
/// # Panics
/// Outside a process.
pub fn start_resource_owner_with<R, O, C>(
    builder: Builder<LifetimeEnded>,
    lifetime: &Pid,
    open: O,
    close: C,
) -> Result<(Pid, R), StartError>
where
    R: Clone + Send + 'static,
    O: FnOnce() -> Result<R, ExitReason> + Send + 'static,
    C: FnOnce(R) + Send + 'static,
{
    let opened = Arc::new(Mutex::new(None));
    let owner = Owner {
        lifetime: lifetime.clone(),
        open: Some(open),
        close: Some(close),
        owned: None,
        opened: Arc::clone(&opened),
    };
    let started = builder
        .selector(Selector::new().on(|_: Down| LifetimeEnded(())))
        .start(owner)?;
    let resource = opened
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("init succeeded, so it left the resource");
    Ok((started.pid(), resource))
}
