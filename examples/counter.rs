//! The counter GenServer, in ferrotp's trait style (`impl Actor`).
//!
//! Elixir splits a GenServer's messages over `handle_cast`, `handle_call`
//! and `handle_info`; a ferrotp actor has one message type and one
//! `handle`:
//!
//! * `Increment` is a cast: `counter.cast(..)`, no answer;
//! * `Get` is a call: it carries a `ReplyTo`, and `counter.call(..)`
//!   waits for the answer;
//! * `Tick` is what Elixir would get in `handle_info`: a message the actor
//!   sends itself with `ctx.send_after` (`Process.send_after(self(),
//!   :tick, ms)`), first from `init`, then from each tick. Each tick adds
//!   one to the count too.
//! * `Stop` answers with the final counts and stops (`{:stop, :normal,
//!   reply, state}`); `terminate` then runs.
//!
//! Ticks depend on timing, so the example checks only what is certain:
//! every `Increment` sent before a `Get` is counted by then, so the count
//! is always the increments plus the ticks seen so far.
//!
//! Run: `cargo run --example counter`

use std::time::Duration;

use ferrotp::actor::{Actor, Context, Next};
use ferrotp::{Down, ExitReason, ReplyTo, monitor, receive, sleep};

/// How often the counter ticks.
const PERIOD: Duration = Duration::from_millis(5);
/// How long a call waits for its reply.
const TIMEOUT: Duration = Duration::from_secs(1);

/// What a `Get` (or `Stop`) answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    /// Increments plus ticks.
    count: u64,
    /// Ticks alone.
    ticks: u64,
}

/// The actor's messages.
enum Message {
    Increment,
    Get(ReplyTo<Counts>),
    Tick,
    Stop(ReplyTo<Counts>),
}

/// The actor's state is the struct itself (`self`).
#[derive(Default)]
struct Counter {
    counts: Counts,
}

impl Actor for Counter {
    type Message = Message;

    /// Runs in the actor's process before `start` returns: arm the first
    /// tick.
    fn init(&mut self, ctx: &mut Context<Message>) -> Result<(), ExitReason> {
        ctx.send_after(PERIOD, Message::Tick);
        Ok(())
    }

    fn handle(&mut self, message: Message, ctx: &mut Context<Message>) -> Next {
        match message {
            Message::Increment => self.counts.count += 1,
            Message::Get(reply) => {
                reply.send(self.counts);
            }
            Message::Tick => {
                self.counts.count += 1;
                self.counts.ticks += 1;
                // Re-arm: the next tick comes one period from now.
                ctx.send_after(PERIOD, Message::Tick);
            }
            Message::Stop(reply) => {
                reply.send(self.counts);
                // The tick still armed is sent to an ended actor: a dead
                // letter, dropped quietly.
                return Next::stop();
            }
        }
        Next::CONTINUE
    }

    /// Runs once the actor stops, before its process ends.
    fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Message>) {
        let Counts { count, ticks } = self.counts;
        println!("terminate ({reason}): final count {count}, of which {ticks} ticks");
    }
}

fn main() {
    ferrotp::run(|| {
        // `start` runs `init` in the new process and returns its address.
        let counter = Counter::default().start().expect("the counter starts");

        for _ in 0..10 {
            counter.cast(Message::Increment);
        }
        println!("cast 10 increments");

        // Ask until the counter has ticked three times. Each answer
        // counts all 10 increments (they were sent before the `Get`),
        // plus however many ticks came so far.
        let seen = loop {
            let counts = counter.call(Message::Get, TIMEOUT).expect("it answers");
            println!("get: {counts:?}");
            assert_eq!(counts.count, 10 + counts.ticks);
            if counts.ticks >= 3 {
                break counts;
            }
            sleep(PERIOD);
        };

        for _ in 0..5 {
            counter.cast(Message::Increment);
        }
        println!("cast 5 more increments");

        // Stop it: a call, so we get the final counts. The monitor's
        // `Down` tells us when it has ended, after `terminate` has run.
        monitor(&counter.pid());
        let last = counter.call(Message::Stop, TIMEOUT).expect("it answers");
        let down = receive::<Down>();
        println!("stop: {last:?}; the counter ended: {}", down.reason);
        assert_eq!(last.count, 15 + last.ticks);
        assert!(last.ticks >= seen.ticks, "ticks only go up");
        assert_eq!(down.reason, ExitReason::Normal);
    })
    .expect("the runtime starts");
}
