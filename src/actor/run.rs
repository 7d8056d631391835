//! The actor's process: init and its acknowledgement, then the message
//! loop.
//!
//! # The loop
//!
//! Each turn takes the *first* message in the mailbox, whatever its type
//! (no scan: O(1) however deep the mailbox), and
//! 1. hands it to the handler if it is the actor's message type;
//! 2. else maps it with the selector and hands on the result;
//! 3. else, if it is an [`Exit`] from the parent while the actor traps
//!    exits, stops with its reason (terminate runs);
//! 4. else counts and reports it as unexpected, and drops it.
//!
//! `Next::Stop` runs `terminate`, then ends the process with the reason
//! (unread messages are dropped, as the process ends). An exit signal
//! that is not trapped (a kill) unwinds the process: the state is dropped
//! by the unwind, without `terminate`.
//!
//! # Two runners, one turn
//!
//! * [`Hibernating`], for an actor whose state is `Send` (`Builder::start`):
//!   a resumable body (`ferrotp_scheduler::spawn_resumable`). Each
//!   activation takes every message there is, then hibernates: the actor
//!   owns no stack while idle, and any worker may run its next
//!   activation. A handler that blocks inside (a nested `call`) keeps its
//!   stack and worker meanwhile.
//! * [`run`], for an actor whose state is made by its init and need not be
//!   `Send` (`Builder::start_with`): a plain process that keeps its stack
//!   and its worker for life.
//!
//! Both hand each message to [`turn`], so they behave alike message for
//! message: the same order, the same selector, the same stop rules.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotp_scheduler::{
    Activation, AnyMessage, Exit, ExitReason, Pid, ReplyTo, Resumable, Select, close_mailbox,
    exit_self, is_exit_unwind, receive_any, receive_any_timeout, self_pid, try_receive_any,
};

use super::address::ActorRef;
use super::behaviour::{Actor, Context};
use super::incarnations::Incarnations;
use super::next::Next;
use super::selector::Selector;
use super::sys::System;

pub(crate) fn run<A, I>(
    init: I,
    ack: ReplyTo<Result<(), ExitReason>>,
    selector: Selector<A::Message>,
    parent: Pid,
    incarnations: Option<Arc<Incarnations<A::Message>>>,
) where
    A: Actor,
    I: FnOnce(&mut Context<A::Message>) -> Result<A, ExitReason>,
{
    let mut ctx = context(selector, &parent, incarnations.as_ref());
    let mut actor = match init(&mut ctx) {
        Ok(actor) => Owned::new(actor),
        Err(reason) => {
            ack.send(Err(reason.clone()));
            return end(reason);
        }
    };
    ack.send(Ok(()));
    let served = catch_unwind(AssertUnwindSafe(|| serve(&mut *actor, &mut ctx)));
    let reason = match served {
        Ok(reason) => reason,
        Err(payload) if is_exit_unwind(payload.as_ref()) => {
            // Shut down or killed: no `terminate` (the signal was not
            // trapped), but the queue goes to a replacement.
            hand_over(&mut *actor, &ctx, incarnations.as_deref());
            resume_unwind(payload)
        }
        Err(payload) => {
            hand_over(&mut *actor, &ctx, incarnations.as_deref());
            crashed(&mut *actor, &mut ctx, payload.as_ref());
            resume_unwind(payload)
        }
    };
    hand_over(&mut *actor, &ctx, incarnations.as_deref());
    actor.terminate(&reason, &mut ctx);
    drop(actor);
    end(reason);
}

/// The actor's state, dropped under a guard: dropped by an unwind (a
/// kill, a panic), a `Drop` that panics would abort the whole program
/// (a panic escaping a destructor during an unwind); here it is caught,
/// reported, and the process ends as it was ending.
pub(crate) struct Owned<A>(ManuallyDrop<A>);

impl<A> Owned<A> {
    pub(crate) fn new(state: A) -> Self {
        Self(ManuallyDrop::new(state))
    }

    /// The state, out of its guard.
    pub(crate) fn into_inner(self) -> A {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped (it is a `ManuallyDrop`), so the
        // state is taken exactly once, here.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }

    /// Drops the state now, a panic in its `Drop` caught and reported
    /// (an init that failed: its reason is the start's error, not the
    /// drop's panic).
    pub(crate) fn drop_contained(self) {
        drop_reporting(self.into_inner());
    }
}

impl<A> Deref for Owned<A> {
    type Target = A;
    fn deref(&self) -> &A {
        &self.0
    }
}

impl<A> DerefMut for Owned<A> {
    fn deref_mut(&mut self) -> &mut A {
        &mut self.0
    }
}

impl<A> Drop for Owned<A> {
    fn drop(&mut self) {
        // SAFETY: taken once, here, as the guard goes; never used again.
        let state = unsafe { ManuallyDrop::take(&mut self.0) };
        if !std::thread::panicking() {
            // Outside an unwind a panic here is the process's own: it
            // ends with it, as for any panic.
            drop(state);
            return;
        }
        drop_reporting(state);
    }
}

/// Drops `state`, catching and reporting a panic of its `Drop`.
fn drop_reporting<A>(state: A) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(state))) {
        ferrotp_scheduler::report::report(
            ferrotp_scheduler::report::Severity::Error,
            "actor",
            ferrotp_scheduler::try_self_pid().as_ref(),
            format_args!(
                "an actor's state panicked as it was dropped during its process's end: {}",
                ExitReason::from_panic(payload.as_ref())
            ),
        );
        // The payload's own destructor may panic too.
        if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            std::mem::forget(again);
        }
    }
}

/// The message loop; returns the reason the actor stops with.
fn serve<A: Actor>(actor: &mut A, ctx: &mut Context<A::Message>) -> ExitReason {
    let mut idle = None;
    loop {
        if ctx.sys.suspended {
            // Only system messages and the parent's exit; the others keep
            // their order (module `sys`).
            let Some(taken) = while_suspended(ctx, None) else {
                continue;
            };
            match taken {
                Suspended::System(request) => {
                    if let Turn::Stop(reason) = system(actor, ctx, request) {
                        return reason;
                    }
                }
                Suspended::ParentExit(reason) => return reason,
            }
            continue;
        }
        let message = match idle {
            None => Some(receive_any()),
            Some(after) => receive_any_timeout(after),
        };
        match turn(actor, ctx, message) {
            Turn::Wait(after) => idle = after,
            Turn::WaitAgain => {}
            Turn::Stop(reason) => return reason,
        }
    }
}

/// What the actor does after one message (or quiet spell).
enum Turn {
    /// Waits for the next message, for at most this long, if given.
    Wait(Option<Duration>),
    /// Waits as it did before the message (it was unexpected).
    WaitAgain,
    Stop(ExitReason),
}

/// One message (`None`: the idle timeout passed) handed to the actor.
fn turn<A: Actor>(
    actor: &mut A,
    ctx: &mut Context<A::Message>,
    message: Option<AnyMessage>,
) -> Turn {
    let next = match message {
        None => {
            if let Some(trace) = &ctx.sys.trace {
                trace.message(ctx.pid(), None);
            }
            actor.handle_timeout(ctx)
        }
        Some(message) => match message.take::<A::Message>() {
            Ok(message) => handle(actor, ctx, message),
            Err(other) => match other.take::<System<A::Message>>() {
                Ok(request) => return system(actor, ctx, request),
                Err(other) => match ctx.selector.select(other) {
                    Ok(message) => handle(actor, ctx, message),
                    Err(other) => match stop_signal(other, ctx) {
                        Ok(reason) => return Turn::Stop(reason),
                        Err(unexpected) => {
                            ctx.unexpected += 1;
                            // Reported at the 1st, 2nd, 4th, 8th...: a
                            // flood costs a few lines, not one each.
                            if ctx.unexpected.is_power_of_two() {
                                crate::report::unexpected_message(
                                    ctx.pid(),
                                    unexpected.type_name(),
                                    ctx.unexpected,
                                );
                            }
                            drop(unexpected);
                            return Turn::WaitAgain;
                        }
                    },
                },
            },
        },
    };
    match next {
        Next::Continue(()) => Turn::Wait(None),
        Next::ContinueTimeout((), after) => Turn::Wait(Some(after)),
        Next::Stop(reason) => Turn::Stop(reason),
    }
}

/// Hands `message` to the actor, traced first if tracing is on: the one
/// branch tracing costs when off (module `sys`).
#[inline]
fn handle<A: Actor>(actor: &mut A, ctx: &mut Context<A::Message>, message: A::Message) -> Next {
    if let Some(trace) = &ctx.sys.trace {
        trace.message(ctx.pid(), Some(&message));
    }
    actor.handle(message, ctx)
}

/// What a suspended actor takes.
enum Suspended<M> {
    System(System<M>),
    /// A trapped exit signal from its parent (a supervisor's shutdown):
    /// it stops with its reason, suspended or not (OTP's
    /// `sys:suspend_loop` takes the parent's `'EXIT'` too).
    ParentExit(ExitReason),
}

/// Waits (up to `timeout`, `None`: for ever) for what a suspended actor
/// takes: a system message, or an exit signal from its parent when it
/// traps exits. Every other message stays where it is.
fn while_suspended<M: Send + 'static>(
    ctx: &Context<M>,
    timeout: Option<Duration>,
) -> Option<Suspended<M>> {
    let parent = ctx.parent.clone();
    let select = Select::new()
        .on(|request: System<M>| Some(Suspended::System(request)))
        .on_match(
            move |exit: &Exit| exit.from.is_some() && exit.from == parent,
            |exit: Exit| Some(Suspended::ParentExit(exit.reason)),
        );
    match timeout {
        Some(timeout) => select.after(timeout, || None).wait(),
        None => select.wait(),
    }
}

/// One system message (module `sys`).
fn system<A: Actor>(
    actor: &mut A,
    ctx: &mut Context<A::Message>,
    request: System<A::Message>,
) -> Turn {
    match request {
        System::Stop(reason) => return Turn::Stop(reason),
        System::State(f) => {
            let (state, name) = actor.sys_state();
            f(state, name);
        }
        System::Suspend(reply) => {
            ctx.sys.suspended = true;
            reply.send(());
        }
        System::Resume(reply) => {
            ctx.sys.suspended = false;
            reply.send(());
        }
        System::Trace(trace, reply) => {
            ctx.sys.trace = trace.map(Box::new);
            reply.send(());
        }
    }
    // The quiet spell starts again, as after an unexpected message.
    Turn::WaitAgain
}

// ---- The hibernating runner ------------------------------------------------

/// An actor whose state is `Send`, run as a resumable body (module docs).
pub(crate) struct Hibernating<A: Actor, I> {
    /// Before the first activation: its init, its start acknowledgement
    /// and its selector.
    start: Option<Start<A::Message, I>>,
    parent: Pid,
    incarnations: Option<Arc<Incarnations<A::Message>>>,
    /// From the first activation on.
    running: Option<Running<A>>,
}

struct Start<M, I> {
    init: I,
    ack: ReplyTo<Result<(), ExitReason>>,
    selector: Selector<M>,
}

struct Running<A: Actor> {
    actor: Owned<A>,
    ctx: Context<A::Message>,
    /// The idle timeout of the last `ContinueTimeout`, and when it ends.
    idle: Option<(Duration, Instant)>,
    /// Its mailbox went to its replacement, or it needs none.
    handed_over: bool,
}

impl<A: Actor, I> Hibernating<A, I> {
    pub(crate) fn new(
        init: I,
        ack: ReplyTo<Result<(), ExitReason>>,
        selector: Selector<A::Message>,
        parent: Pid,
        incarnations: Option<Arc<Incarnations<A::Message>>>,
    ) -> Self {
        Self {
            start: Some(Start {
                init,
                ack,
                selector,
            }),
            parent,
            incarnations,
            running: None,
        }
    }
}

impl<A, I> Resumable for Hibernating<A, I>
where
    A: Actor + Send,
    I: FnOnce(&mut Context<A::Message>) -> Result<A, ExitReason> + Send + 'static,
{
    fn resume(&mut self, timed_out: bool) -> Activation {
        if let Some(start) = self.start.take() {
            let mut ctx = context(start.selector, &self.parent, self.incarnations.as_ref());
            match (start.init)(&mut ctx) {
                Ok(actor) => {
                    start.ack.send(Ok(()));
                    self.running = Some(Running {
                        actor: Owned(ManuallyDrop::new(actor)),
                        ctx,
                        idle: None,
                        handed_over: false,
                    });
                }
                Err(reason) => {
                    start.ack.send(Err(reason.clone()));
                    return Activation::Exit(reason);
                }
            }
        }
        let incarnations = self.incarnations.as_deref();
        let Some(running) = self.running.as_mut() else {
            unreachable!("an actor is resumed only once it has started");
        };
        let served = catch_unwind(AssertUnwindSafe(|| running.serve_waiting(timed_out)));
        match served {
            Ok(None) => Activation::Hibernate {
                // No idle timeout while suspended (module `sys`).
                until: running
                    .idle
                    .filter(|_| !running.ctx.sys.suspended)
                    .map(|(_, deadline)| deadline),
            },
            Ok(Some(reason)) => {
                running.hand_over(incarnations);
                running.actor.terminate(&reason, &mut running.ctx);
                // The state drops now, inside the process, as `run`'s does.
                self.running = None;
                Activation::Exit(reason)
            }
            Err(payload) => {
                running.hand_over(incarnations);
                if !is_exit_unwind(payload.as_ref()) {
                    crashed(&mut *running.actor, &mut running.ctx, payload.as_ref());
                }
                resume_unwind(payload)
            }
        }
    }
}

impl<A: Actor> Running<A> {
    /// Takes every message there is; returns the reason to stop with, or
    /// `None` when there is nothing left to take (the actor hibernates).
    fn serve_waiting(&mut self, mut timed_out: bool) -> Option<ExitReason> {
        loop {
            if self.ctx.sys.suspended {
                // Only system messages and the parent's exit; the others
                // keep their order (module `sys`).
                let taken = while_suspended(&self.ctx, Some(Duration::ZERO))?;
                timed_out = false;
                let request = match taken {
                    Suspended::System(request) => request,
                    Suspended::ParentExit(reason) => return Some(reason),
                };
                match system(&mut *self.actor, &mut self.ctx, request) {
                    Turn::Stop(reason) => return Some(reason),
                    _ => {
                        self.restart_quiet_spell();
                        continue;
                    }
                }
            }
            let message = match try_receive_any() {
                Some(message) => Some(message),
                // The deadline passed with nothing taken since it was set.
                None if timed_out && self.idle.is_some() => None,
                None => return None,
            };
            timed_out = false;
            match turn(&mut *self.actor, &mut self.ctx, message) {
                Turn::Wait(after) => {
                    self.idle = after.map(|after| (after, Instant::now() + after));
                }
                Turn::WaitAgain => self.restart_quiet_spell(),
                Turn::Stop(reason) => return Some(reason),
            }
        }
    }

    /// Any message starts the quiet spell again, as in the stackful loop.
    fn restart_quiet_spell(&mut self) {
        if let Some((after, deadline)) = &mut self.idle {
            *deadline = Instant::now() + *after;
        }
    }

    fn hand_over(&mut self, incarnations: Option<&Incarnations<A::Message>>) {
        if !self.handed_over {
            self.handed_over = true;
            hand_over(&mut *self.actor, &self.ctx, incarnations);
        }
    }
}

impl<A: Actor, I> Drop for Hibernating<A, I> {
    /// Killed while idle (or shut down), the actor ends without running a
    /// handler: its first check point unwinds it, dropping this body. A
    /// supervised incarnation still hands its queue over then. Outside a
    /// process (its process could not get a stack to end on) there is no
    /// mailbox to close here: it closes as the process ends.
    fn drop(&mut self) {
        if let Some(running) = &mut self.running
            && !running.handed_over
            && ferrotp_scheduler::try_self_pid().is_some()
        {
            running.handed_over = true;
            hand_over(
                &mut *running.actor,
                &running.ctx,
                self.incarnations.as_deref(),
            );
        }
    }
}

/// An actor's context, made in its process.
fn context<M: Send + 'static>(
    selector: Selector<M>,
    parent: &Pid,
    incarnations: Option<&Arc<Incarnations<M>>>,
) -> Context<M> {
    let me = self_pid();
    let myself = match incarnations {
        Some(incarnations) => {
            incarnations.starting(&me);
            ActorRef::supervised(Arc::clone(incarnations))
        }
        None => ActorRef::from_pid(me.clone()),
    };
    Context::new(myself, me, Some(parent.clone()), selector)
}

/// A handler panicked: `terminate` runs with the panic as its reason (as
/// gen_server's does).
fn crashed<A: Actor>(
    actor: &mut A,
    ctx: &mut Context<A::Message>,
    payload: &(dyn std::any::Any + Send),
) {
    // A panic in terminate itself goes on as this one would.
    actor.terminate(&ExitReason::from_panic(payload), ctx);
}

/// A supervised incarnation is ending, whatever the reason: its mailbox
/// closes now (senders hold from here on) and its unread messages go to
/// its replacement (module `incarnations`). Closing the mailbox is no
/// check point, so it works while a kill unwinds the process too.
fn hand_over<A: Actor>(
    actor: &mut A,
    ctx: &Context<A::Message>,
    incarnations: Option<&Incarnations<A::Message>>,
) {
    if let Some(incarnations) = incarnations {
        // Taken but not handled (a state machine's postponed events)
        // first: they came before anything still in the mailbox.
        let mut unread = actor.unhandled();
        unread.extend(
            close_mailbox()
                .into_iter()
                .filter_map(|message| message.take::<A::Message>().ok()),
        );
        incarnations.hand_over(ctx.pid(), unread);
    }
}

/// A trapped exit signal from the parent: the reason to stop with.
fn stop_signal<M>(message: AnyMessage, ctx: &Context<M>) -> Result<ExitReason, AnyMessage> {
    let from_parent = message
        .downcast_ref::<Exit>()
        .is_some_and(|exit| exit.from.is_some() && exit.from == ctx.parent);
    if !from_parent {
        return Err(message);
    }
    message.take::<Exit>().map(|exit| exit.reason)
}

/// Ends the actor's process with `reason`: by returning, for `Normal`.
fn end(reason: ExitReason) {
    if reason != ExitReason::Normal {
        exit_self(reason);
    }
}
