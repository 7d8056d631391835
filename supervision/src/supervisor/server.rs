//! The supervisor process: starting children, the restart logic, and the
//! management requests. Everything a supervisor decides is in this file.
//!
//! # The loop
//!
//! A supervisor traps exits and links to every child. It waits for one of:
//! * an [`Exit`] from its parent (the process that started it with
//!   `start_link`): it stops its children in reverse start order and ends
//!   with the same reason;
//! * an `Exit` from a child: the child's restart type decides whether it
//!   is restarted (a `Temporary` child's spec is removed); a restart is
//!   first counted against the restart intensity ([`RestartIntensity`]),
//!   and if it is one too many, the supervisor stops every child and ends
//!   with `Shutdown`, so that its own supervisor reacts. Then the strategy
//!   picks the group to restart: the child (`OneForOne`), every child
//!   (`OneForAll`), or it and the children started after it
//!   (`RestForOne`); the others of the group are stopped in reverse start
//!   order (temporary ones are removed, never restarted) and the group is
//!   started again in start order, at once or after the backoff delay;
//! * a [`Retry`]: a backoff delay has passed, or a restart failed and is
//!   tried again (a failed restart counts as a restart, as in OTP, so a
//!   child that cannot start ends the supervisor through the intensity);
//! * a [`Request`]: `which_children`, `start_child`, `terminate_child`,
//!   ... answered on the caller's subject.
//!
//! An `Exit` from any other process (a child stopped since, say) is
//! dropped.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::time::Instant;

use ferrotp_scheduler::{
    Exit, ExitReason, Pid, ReplyTo, Select, Subject, exit_self, is_exit_unwind, send_after,
};

use super::intensity::RestartIntensity;
use super::report;
use super::spec::{
    ChildCounts, ChildError, ChildInfo, ChildSpec, ChildState, Flags, Restart, StartError, Strategy,
};
use super::terminate::terminate;
use crate::link::link;

/// A management request (module docs).
pub(crate) enum Request {
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    CountChildren(ReplyTo<ChildCounts>),
    StartChild(ChildSpec, ReplyTo<Result<Pid, ChildError>>),
    TerminateChild(Arc<str>, ReplyTo<Result<(), ChildError>>),
    RestartChild(Arc<str>, ReplyTo<Result<Pid, ChildError>>),
    DeleteChild(Arc<str>, ReplyTo<Result<(), ChildError>>),
    Stop(ReplyTo<()>),
}

/// Start the children with these ids (those still waiting), in order.
pub(crate) struct Retry {
    /// Set for a retry after a failed start (why it failed): it counts as
    /// a restart.
    failed: Option<ExitReason>,
    ids: Vec<Arc<str>>,
}

/// Calls a child's start function in the supervisor: a panic is a failed
/// start (the supervisor must not die of it); a pid that is not linked
/// yet gets linked.
pub(crate) fn start_child_process(spec: &ChildSpec) -> Result<Pid, ExitReason> {
    match catch_unwind(AssertUnwindSafe(|| (spec.start)())) {
        Ok(Ok(pid)) => {
            link(&pid);
            Ok(pid)
        }
        Ok(Err(reason)) => Err(reason),
        // The supervisor itself is being stopped: go on ending.
        Err(payload) if is_exit_unwind(payload.as_ref()) => resume_unwind(payload),
        Err(payload) => Err(ExitReason::from_panic(payload.as_ref())),
    }
}

struct Child {
    spec: ChildSpec,
    pid: Option<Pid>,
    /// Waiting for a restart (backoff, or retry after a failed start).
    restarting: bool,
}

impl Child {
    fn info(&self) -> ChildInfo {
        ChildInfo {
            id: Arc::clone(&self.spec.id),
            state: match (&self.pid, self.restarting) {
                (Some(pid), _) => ChildState::Running(pid.clone()),
                (None, true) => ChildState::Restarting,
                (None, false) => ChildState::Stopped,
            },
            kind: self.spec.kind,
            restart: self.spec.restart,
        }
    }
}

pub(crate) struct Server {
    strategy: Strategy,
    flags: Flags,
    /// In start order.
    children: Vec<Child>,
    intensity: RestartIntensity,
    parent: Option<Pid>,
    me: Pid,
}

enum Event {
    Exit(Exit),
    Request(Request),
    Retry(Retry),
}

/// The supervisor process's body: set up, start the children, tell the
/// starter how that went, then serve.
pub(crate) fn run(
    strategy: Strategy,
    flags: Flags,
    children: Vec<ChildSpec>,
    name: Option<Arc<str>>,
    parent: Option<Pid>,
    ack: Subject<Result<(), StartError>>,
) {
    let me = super::init(name.as_deref(), parent.as_ref(), &ack);
    let mut server = Server {
        strategy,
        flags,
        children: Vec::with_capacity(children.len()),
        intensity: RestartIntensity::new(flags.max_restarts, flags.period),
        parent: parent.clone(),
        me,
    };
    for spec in children {
        match start_child_process(&spec) {
            Ok(pid) => server.children.push(Child {
                spec,
                pid: Some(pid),
                restarting: false,
            }),
            Err(reason) => {
                server.stop_all();
                super::fail_start(
                    parent.as_ref(),
                    &ack,
                    StartError::Child {
                        id: spec.id,
                        reason,
                    },
                );
            }
        }
    }
    ack.send_past_bound(Ok(()));
    drop(ack);
    server.serve()
}

impl Server {
    fn serve(mut self) -> ! {
        loop {
            let event = Select::new()
                .on(Event::Exit)
                .on(Event::Request)
                .on(Event::Retry)
                .wait();
            match event {
                Event::Exit(signal) => self.on_exit(signal),
                Event::Request(request) => self.on_request(request),
                Event::Retry(retry) => self.on_retry(retry),
            }
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| &*c.spec.id == id)
    }

    fn on_exit(&mut self, signal: Exit) {
        let Some(from) = signal.from else { return };
        if self.parent.as_ref() == Some(&from) {
            self.stop_all();
            exit_self(signal.reason);
        }
        let Some(at) = self
            .children
            .iter()
            .position(|c| c.pid.as_ref() == Some(&from))
        else {
            return;
        };
        self.children[at].pid = None;
        let restart = self.children[at].spec.restart;
        if restart == Restart::Temporary {
            self.children.remove(at);
            return;
        }
        if !restart.restarts_after(&signal.reason) {
            return;
        }
        let id = Arc::clone(&self.children[at].spec.id);
        self.count_restart(&id, &signal.reason);
        self.restart_group(at);
    }

    /// Counts a restart of `id` (after `reason`); one too many ends the
    /// supervisor.
    fn count_restart(&mut self, id: &str, reason: &ExitReason) {
        if !self.intensity.add(Instant::now()) {
            report::gave_up(&self.me, id, reason, &self.flags);
            self.stop_all();
            exit_self(ExitReason::Shutdown);
        }
    }

    /// Restarts the group the strategy ties to the child at `at` (module
    /// docs).
    fn restart_group(&mut self, at: usize) {
        let (first, last) = match self.strategy {
            Strategy::OneForOne => (at, at),
            Strategy::OneForAll => (0, self.children.len() - 1),
            Strategy::RestForOne => (at, self.children.len() - 1),
        };
        // Stop the rest of the group, newest first; temporary children
        // leave for good.
        for index in (first..=last).rev() {
            if index == at {
                continue;
            }
            let child = &mut self.children[index];
            if let Some(pid) = child.pid.take() {
                terminate(&pid, child.spec.shutdown);
            }
            if child.spec.restart == Restart::Temporary {
                self.children.remove(index);
            }
        }
        // Every child of the group that remains (all of them for
        // `OneForAll`, the one that ended and those after it for
        // `RestForOne`) is started again, in start order.
        let group: Vec<Arc<str>> = match self.strategy {
            Strategy::OneForOne => vec![Arc::clone(&self.children[at].spec.id)],
            Strategy::OneForAll => self
                .children
                .iter()
                .map(|c| Arc::clone(&c.spec.id))
                .collect(),
            Strategy::RestForOne => self.children[at..]
                .iter()
                .map(|c| Arc::clone(&c.spec.id))
                .collect(),
        };
        for child in self.children.iter_mut() {
            if group.contains(&child.spec.id) {
                child.restarting = true;
            }
        }
        let delay = self.flags.backoff.delay(self.intensity.recent());
        if delay.is_zero() {
            self.start_waiting(group);
        } else {
            send_after(
                delay,
                &self.me,
                Retry {
                    failed: None,
                    ids: group,
                },
            );
        }
    }

    fn on_retry(&mut self, retry: Retry) {
        // Only children still waiting (not terminated or deleted since).
        let waiting = retry.ids.iter().find(|id| {
            self.position(id)
                .is_some_and(|at| self.children[at].restarting)
        });
        let Some(first) = waiting.cloned() else {
            return;
        };
        if let Some(reason) = &retry.failed {
            self.count_restart(&first, reason);
        }
        self.start_waiting(retry.ids);
    }

    /// Starts, in start order, the children of `ids` that still wait; on a
    /// failure, the failed child and the rest are retried (counted).
    fn start_waiting(&mut self, ids: Vec<Arc<str>>) {
        for (n, id) in ids.iter().enumerate() {
            let Some(at) = self.position(id) else {
                continue;
            };
            if !self.children[at].restarting {
                continue;
            }
            match start_child_process(&self.children[at].spec) {
                Ok(pid) => {
                    let child = &mut self.children[at];
                    child.pid = Some(pid);
                    child.restarting = false;
                }
                Err(reason) => {
                    report::failed_restart(&self.me, id, &reason);
                    // Tried again after the backoff delay (at once without
                    // one), counted as a restart, as OTP does.
                    let retry = Retry {
                        failed: Some(reason),
                        ids: ids[n..].to_vec(),
                    };
                    let delay = self.flags.backoff.delay(self.intensity.recent());
                    super::send_later(delay, &self.me, retry);
                    return;
                }
            }
        }
    }

    /// Stops every running child, newest first.
    pub(crate) fn stop_all(&mut self) {
        for child in self.children.iter_mut().rev() {
            child.restarting = false;
            if let Some(pid) = child.pid.take() {
                terminate(&pid, child.spec.shutdown);
            }
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::WhichChildren(reply) => {
                reply.send(self.children.iter().map(Child::info).collect());
            }
            Request::CountChildren(reply) => {
                reply.send(ChildCounts::count(
                    self.children.iter().map(|c| (c.spec.kind, c.pid.is_some())),
                ));
            }
            Request::StartChild(spec, reply) => {
                reply.send(self.start_new(spec));
            }
            Request::TerminateChild(id, reply) => {
                let result = match self.position(&id) {
                    None => Err(ChildError::NotFound(id.to_string())),
                    Some(at) => {
                        let child = &mut self.children[at];
                        child.restarting = false;
                        if let Some(pid) = child.pid.take() {
                            terminate(&pid, child.spec.shutdown);
                        }
                        if child.spec.restart == Restart::Temporary {
                            self.children.remove(at);
                        }
                        Ok(())
                    }
                };
                reply.send(result);
            }
            Request::RestartChild(id, reply) => {
                let result = match self.position(&id) {
                    None => Err(ChildError::NotFound(id.to_string())),
                    Some(at) if self.children[at].pid.is_some() => Err(ChildError::Running(id)),
                    Some(at) => match start_child_process(&self.children[at].spec) {
                        Ok(pid) => {
                            let child = &mut self.children[at];
                            child.pid = Some(pid.clone());
                            child.restarting = false;
                            Ok(pid)
                        }
                        Err(reason) => Err(ChildError::Start { id, reason }),
                    },
                };
                reply.send(result);
            }
            Request::DeleteChild(id, reply) => {
                let result = match self.position(&id) {
                    None => Err(ChildError::NotFound(id.to_string())),
                    Some(at) if self.children[at].pid.is_some() => Err(ChildError::Running(id)),
                    Some(at) => {
                        self.children.remove(at);
                        Ok(())
                    }
                };
                reply.send(result);
            }
            Request::Stop(reply) => {
                self.stop_all();
                reply.send(());
                exit_self(ExitReason::Normal);
            }
        }
    }

    fn start_new(&mut self, spec: ChildSpec) -> Result<Pid, ChildError> {
        if let Some(at) = self.position(&spec.id) {
            return Err(match &self.children[at].pid {
                Some(pid) => ChildError::AlreadyStarted {
                    id: spec.id,
                    pid: pid.clone(),
                },
                None => ChildError::AlreadyPresent(spec.id),
            });
        }
        match start_child_process(&spec) {
            Ok(pid) => {
                self.children.push(Child {
                    spec,
                    pid: Some(pid.clone()),
                    restarting: false,
                });
                Ok(pid)
            }
            Err(reason) => Err(ChildError::Start {
                id: spec.id,
                reason,
            }),
        }
    }
}
