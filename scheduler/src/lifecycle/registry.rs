//! Registered names: `register`, `whereis`, `unregister`, `send_named`.
//!
//! Each runtime has one registry: a map from name to pid and back, behind
//! a mutex (registration is rare; a lookup is a hash and a clone of the
//! pid). A process has at most one name and a name at most one process, as
//! in Erlang. A name is freed when its process ends, through an exit hook
//! that removes it only if it still names that process.

use std::fmt;
use std::sync::Arc;

use crate::lifecycle::exit_reason::ExitReason;
use crate::process::Pid;
use crate::worker::core::try_with_worker;
use crate::worker::shared::Refused;
use crate::worker::shared::Shared;

/// Why [`register`] refused.
///
/// ```
/// use ferrotp_scheduler::{RegisterError, receive, register, run, self_pid, spawn};
/// let (taken, named, empty) = run(|| {
///     let me = self_pid();
///     let other = spawn(|| { receive::<()>(); });
///     register("db", &me).unwrap();
///     (
///         register("db", &other).unwrap_err(),  // the name is taken
///         register("cache", &me).unwrap_err(),  // this process has one
///         register("", &other).unwrap_err(),    // not a name
///     )
/// }).unwrap();
/// assert!(matches!(taken, RegisterError::Taken { ref name, .. } if name == "db"));
/// assert!(matches!(named, RegisterError::AlreadyNamed { ref name, .. } if name == "db"));
/// assert_eq!(empty, RegisterError::EmptyName);
/// assert_eq!(empty.to_string(), "a registered name cannot be empty");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another process has the name.
    Taken {
        /// The name asked for.
        name: String,
        /// The process that has it.
        by: Pid,
    },
    /// The process already has a name.
    AlreadyNamed {
        /// The process.
        pid: Pid,
        /// Its name.
        name: String,
    },
    /// The process has ended.
    NotAlive(Pid),
    /// The empty string is not a name.
    EmptyName,
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Taken { name, by } => {
                write!(f, "the name {name:?} is already registered to process {by}")
            }
            RegisterError::AlreadyNamed { pid, name } => {
                write!(f, "process {pid} is already registered as {name:?}")
            }
            RegisterError::NotAlive(pid) => {
                write!(f, "process {pid} has ended and cannot be registered")
            }
            RegisterError::EmptyName => f.write_str("a registered name cannot be empty"),
        }
    }
}

impl std::error::Error for RegisterError {}

/// Registers `pid` under `name` in its runtime, until the process ends
/// (or [`unregister`]).
///
/// # Errors
/// See [`RegisterError`]: a taken name, a process that already has one, a
/// process that has ended, an empty name.
///
/// ```
/// use ferrotp_scheduler::{receive, register, run, send_named, spawn, whereis};
/// let echoed = run(|| {
///     let me = ferrotp_scheduler::self_pid();
///     let echo = spawn(move || { let n = receive::<u32>(); ferrotp_scheduler::send(&me, n); });
///     register("echo", &echo).unwrap();
///     assert_eq!(whereis("echo"), Some(echo));
///     send_named("echo", 7u32).unwrap();
///     receive::<u32>()
/// }).unwrap();
/// assert_eq!(echoed, 7);
/// ```
pub fn register(name: &str, pid: &Pid) -> Result<(), RegisterError> {
    if name.is_empty() {
        return Err(RegisterError::EmptyName);
    }
    let shared = Arc::clone(pid.0.shared());
    let name: Arc<str> = name.into();
    shared
        .registry
        .insert(&name, pid)
        .map_err(|refused| match refused {
            Refused::Taken(by) => RegisterError::Taken {
                name: name.to_string(),
                by,
            },
            Refused::AlreadyNamed(has) => RegisterError::AlreadyNamed {
                pid: pid.clone(),
                name: has.to_string(),
            },
            Refused::NotAlive => RegisterError::NotAlive(pid.clone()),
        })?;
    // Freed when the process ends. If it ended since the check above, the
    // hook runs at once (NoProc) and frees it here. Registered outside the
    // lock, which the hook takes.
    let id = pid.id();
    let registry = Arc::downgrade(&shared);
    let hook_name = Arc::clone(&name);
    // In the first lane: the name is free before links and monitors
    // report the exit, so a supervisor can restart the process under the
    // same name at once (BEAM also frees names first).
    let hook = pid.on_exit_first(move |_: &ExitReason| {
        if let Some(shared) = registry.upgrade() {
            shared.registry.remove(&hook_name, Some(id));
        }
    });
    // Kept for `unregister`, unless unregistered (or freed) meanwhile.
    if let Some(hook) = shared.registry.keep_hook(id, &name, hook) {
        hook.remove();
    }
    Ok(())
}

/// The runtime of the calling worker thread.
fn current(function: &str) -> Arc<Shared> {
    try_with_worker(|core| Arc::clone(&core.shared)).unwrap_or_else(|| {
        panic!(
            "ferrotp::{function} was called outside a ferrotp runtime's threads; from other \
             threads look names up with Runtime::whereis"
        )
    })
}

/// The process registered as `name`, if any (Erlang's `whereis/1`). A
/// name is freed when its process ends.
///
/// ```
/// use ferrotp_scheduler::{SpawnOptions, receive, run, self_pid, send, spawn_opt, whereis};
/// let (while_alive, after) = run(|| {
///     let me = self_pid();
///     let options = SpawnOptions::new().register("worker");
///     let worker = spawn_opt(options, || { receive::<()>(); }).unwrap();
///     let while_alive = whereis("worker") == Some(worker.clone());
///     // The name is freed before the process's other exit hooks run.
///     worker.on_exit(move |_| send(&me, "ended"));
///     send(&worker, ());
///     receive::<&str>();
///     (while_alive, whereis("worker"))
/// }).unwrap();
/// assert!(while_alive);
/// assert_eq!(after, None);
/// ```
///
/// # Panics
/// Outside the runtime's threads (use [`Runtime::whereis`](crate::Runtime::whereis)).
pub fn whereis(name: &str) -> Option<Pid> {
    current("whereis").registry.whereis(name)
}

/// Frees `name`; false if nothing was registered under it. The process
/// lives on, nameless.
///
/// ```
/// use ferrotp_scheduler::{register, run, self_pid, unregister, whereis};
/// let steps = run(|| {
///     register("me", &self_pid()).unwrap();
///     let first = unregister("me");
///     (first, whereis("me"), unregister("me"))
/// }).unwrap();
/// assert_eq!(steps, (true, None, false));
/// ```
///
/// # Panics
/// Outside the runtime's threads.
pub fn unregister(name: &str) -> bool {
    current("unregister").registry.remove(name, None)
}

/// Why [`send_named`] did not send: the name and the message, back (the
/// example of [`send_named`] gets one).
#[derive(PartialEq, Eq)]
pub struct NotRegistered<M> {
    /// The name.
    pub name: String,
    /// The message, back.
    pub message: M,
}

impl<M> fmt::Debug for NotRegistered<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NotRegistered({:?})", self.name)
    }
}

impl<M> fmt::Display for NotRegistered<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no process is registered as {:?}", self.name)
    }
}

impl<M> std::error::Error for NotRegistered<M> {}

/// Sends `message` to the process registered as `name`.
///
/// ```
/// use ferrotp_scheduler::{NotRegistered, receive, register, run, self_pid, send_named};
/// let (sent, missing) = run(|| {
///     register("inbox", &self_pid()).unwrap();
///     send_named("inbox", 7u32).unwrap();
///     (receive::<u32>(), send_named("outbox", 8u32))
/// }).unwrap();
/// assert_eq!(sent, 7);
/// let NotRegistered { name, message } = missing.unwrap_err();
/// assert_eq!((name.as_str(), message), ("outbox", 8));
/// ```
///
/// # Errors
/// [`NotRegistered`] with the message when no process has the name (as
/// Erlang's `Name ! Msg` fails with `badarg`).
///
/// # Panics
/// Outside the runtime's threads.
pub fn send_named<M: Send + 'static>(name: &str, message: M) -> Result<(), NotRegistered<M>> {
    match current("send_named").registry.whereis(name) {
        Some(pid) => {
            crate::messaging::send::send(&pid, message);
            Ok(())
        }
        None => Err(NotRegistered {
            name: name.to_owned(),
            message,
        }),
    }
}
