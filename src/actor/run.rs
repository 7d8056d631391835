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

use ferrotp_scheduler::{
    AnyMessage, Exit, ExitReason, Pid, ReplyTo, exit_self, receive_any, receive_any_timeout,
    self_pid,
};

use super::address::ActorRef;
use super::behaviour::{Actor, Context};
use super::next::Next;
use super::selector::Selector;

pub(crate) fn run<A, I>(
    init: I,
    ack: ReplyTo<Result<(), ExitReason>>,
    selector: Selector<A::Message>,
    parent: Pid,
) where
    A: Actor,
    I: FnOnce(&mut Context<A::Message>) -> Result<A, ExitReason>,
{
    let mut ctx = Context::new(ActorRef::from_pid(self_pid()), Some(parent));
    let mut actor = match init(&mut ctx) {
        Ok(actor) => actor,
        Err(reason) => {
            ack.send(Err(reason.clone()));
            return end(reason);
        }
    };
    ack.send(Ok(()));
    let reason = serve(&mut actor, &mut ctx, &selector);
    actor.terminate(&reason, &mut ctx);
    drop(actor);
    end(reason);
}

/// The message loop; returns the reason the actor stops with.
fn serve<A: Actor>(
    actor: &mut A,
    ctx: &mut Context<A::Message>,
    selector: &Selector<A::Message>,
) -> ExitReason {
    let mut idle = None;
    loop {
        let message = match idle {
            None => Some(receive_any()),
            Some(after) => receive_any_timeout(after),
        };
        let next = match message {
            None => actor.handle_timeout(ctx),
            Some(message) => match message.take::<A::Message>() {
                Ok(message) => actor.handle(message, ctx),
                Err(other) => match selector.select(other) {
                    Ok(message) => actor.handle(message, ctx),
                    Err(other) => match stop_signal(other, ctx) {
                        Ok(reason) => return reason,
                        Err(unexpected) => {
                            ctx.unexpected += 1;
                            crate::report::unexpected_message(ctx.pid(), unexpected.type_name());
                            drop(unexpected);
                            continue;
                        }
                    },
                },
            },
        };
        match next {
            Next::Continue(()) => idle = None,
            Next::ContinueTimeout((), after) => idle = Some(after),
            Next::Stop(reason) => return reason,
        }
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
