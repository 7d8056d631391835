//! The stack actor from the `gleam_otp` README, in ferrotp's closure style.
//!
//! An actor is a process that owns a state and handles its messages one
//! at a time. Here the state is a `Vec` and the handler is a closure
//! `|message, items| ...`, like Gleam's `actor.on_message`: it returns
//! `Next::Continue(new_items)` to go on or `Next::stop()` to stop.
//!
//! * `Push` is fire-and-forget: `send` (Gleam's `process.send`).
//! * `Pop` wants an answer: it carries a `ReplyTo`, and `call` sends it
//!   and waits for the reply (Gleam's `process.call`). Where Gleam's call
//!   panics after its timeout, ferrotp's returns a `Result`.
//! * `Shutdown` stops the actor; a call after that returns an error.
//!
//! Run: `cargo run --example stack`

use std::time::Duration;

use ferrotp::actor::{self, Next};
use ferrotp::{CallError, Down, ExitReason, ReplyTo, monitor, receive};

/// The actor's messages: Gleam's `Message(element)` type.
enum Message<T> {
    /// Put a value on top of the stack.
    Push(T),
    /// Take the top value off and send it back (`None` when empty: Gleam
    /// replies `Error(Nil)`).
    Pop(ReplyTo<Option<T>>),
    /// Stop the actor.
    Shutdown,
}

/// How long a call waits for its reply, as in the Gleam example.
const TIMEOUT: Duration = Duration::from_millis(10);

fn main() {
    // `run` starts a runtime and runs the closure as its first process.
    ferrotp::run(|| {
        // The initial state (an empty stack) and the handler. `start`
        // returns once the actor's process exists: `stack` is its typed
        // address (an `ActorRef<Message<String>>`, Gleam's `Subject`).
        let stack = actor::start(Vec::new(), |message, mut items| match message {
            Message::Push(value) => {
                items.push(value);
                Next::Continue(items)
            }
            Message::Pop(reply) => {
                reply.send(items.pop());
                Next::Continue(items)
            }
            Message::Shutdown => Next::stop(),
        })
        .expect("the stack actor starts");

        for name in ["Joe", "Mike", "Robert"] {
            stack.send(Message::Push(name.to_string()));
            println!("pushed {name}");
        }

        // `call` builds the request around a fresh reply address:
        // `Message::Pop` is a function from `ReplyTo<..>` to the message.
        for expected in ["Robert", "Mike", "Joe"] {
            let popped = stack.call(Message::Pop, TIMEOUT);
            println!("popped {popped:?}");
            assert_eq!(popped, Ok(Some(expected.to_string())));
        }

        // The stack is empty now: the actor answers `None`.
        let popped = stack.call(Message::Pop, TIMEOUT);
        println!("popped {popped:?} (the stack is empty)");
        assert_eq!(popped, Ok(None));

        // Watch the actor, so we can tell when it has ended, then stop it.
        monitor(&stack.pid());
        stack.send(Message::Shutdown);
        let down = receive::<Down>();
        println!("the stack actor ended: {}", down.reason);
        assert_eq!(down.reason, ExitReason::Normal);

        // A call to an actor that has ended fails at once with `NoProc`.
        // (A call made right after the `Shutdown`, before the `Down`,
        // races with the actor's end: it gets `Exited(Normal)`, its
        // request dropped unread as the actor stops, or `NoProc`.)
        let late = stack.call(Message::Pop, TIMEOUT);
        println!("pop after shutdown: {late:?}");
        assert_eq!(late, Err(CallError::NoProc));
    })
    .expect("the runtime starts");
}
