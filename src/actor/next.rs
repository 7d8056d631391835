//! [`Next`]: what an actor does after a message.

use std::time::Duration;

use ferrotp_scheduler::ExitReason;

/// What an actor does after handling a message: go on (with its new
/// state, in the closure style), go on but hear about a quiet spell
/// (Erlang's `{noreply, State, Timeout}`), or stop.
///
/// The closure style ([`start`](crate::actor::start)) returns `Next<S>`
/// with the state; the trait style ([`Actor`](crate::actor::Actor)) keeps
/// its state in `self` and returns `Next` (that is, `Next<()>`):
/// [`Next::CONTINUE`].
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{self, Next};
/// use ferrotp::ExitReason;
/// let reason = ferrotp::run(|| {
///     // Counts messages; stops with a reason at the third.
///     let counter = actor::start(0u32, |(), n| match n + 1 {
///         3 => Next::Stop(ExitReason::custom("three")),
///         n => Next::ContinueTimeout(n, Duration::from_secs(1)),
///     }).unwrap();
///     for _ in 0..3 { counter.send(()); }
///     let pid = counter.pid();
///     while !pid.has_exited() { ferrotp::yield_now(); }
///     pid.exit_reason().unwrap()
/// }).unwrap();
/// assert_eq!(reason, ExitReason::custom("three"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "an actor goes on or stops as its handler says"]
pub enum Next<S = ()> {
    /// Wait for the next message.
    Continue(S),
    /// Wait for the next message; if none comes within the duration, the
    /// actor's timeout handler runs (`Actor::handle_timeout`, or the
    /// builder's `on_timeout` for the closure style).
    ContinueTimeout(S, Duration),
    /// Stop: `terminate` runs, then the actor's process ends with the
    /// reason; the messages still in its mailbox are dropped (as Gleam's
    /// actor does).
    Stop(ExitReason),
}

impl Next {
    /// `Next::Continue(())`: what a trait-style handler returns to go on.
    pub const CONTINUE: Next = Next::Continue(());
}

impl<S> Next<S> {
    /// Stop with [`ExitReason::Normal`].
    pub fn stop() -> Self {
        Next::Stop(ExitReason::Normal)
    }
}
