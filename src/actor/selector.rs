//! [`Selector`]: the messages an actor takes besides its own type.

use ferrotp_scheduler::AnyMessage;

type Clause<M> = Box<dyn Fn(AnyMessage) -> Result<M, AnyMessage> + Send>;

/// The other message types an actor accepts, each mapped into its own
/// message type (Gleam's selector): a monitor's
/// [`Down`](crate::Down), a trapped [`Exit`](crate::Exit), a timer's
/// message, anything sent to its pid.
///
/// A message that is neither the actor's type nor selected is
/// *unexpected*: the actor takes it out of its mailbox (so nothing piles
/// up unread), counts it
/// ([`Context::unexpected_messages`](crate::actor::Context::unexpected_messages))
/// and reports it as a `tracing` warning naming its type (the 1st, 2nd,
/// 4th, 8th... such message: a flood costs a few lines).
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{self, Next, Selector};
/// use ferrotp::{Down, ReplyTo, monitor, spawn};
///
/// enum Watcher { Watch(ferrotp::Pid), Gone(Down), Count(ReplyTo<usize>) }
///
/// let gone = ferrotp::run(|| {
///     let watcher = actor::Builder::new()
///         .selector(Selector::new().on(Watcher::Gone))
///         .start_fn(0usize, |message, gone| match message {
///             Watcher::Watch(pid) => { monitor(&pid); Next::Continue(gone) }
///             Watcher::Gone(_down) => Next::Continue(gone + 1),
///             Watcher::Count(reply) => { reply.send(gone); Next::Continue(gone) }
///         })
///         .unwrap();
///     watcher.send(Watcher::Watch(spawn(|| {})));
///     loop { // the Down arrives after the Watch is handled
///         let n = watcher.call(Watcher::Count, Duration::from_secs(5)).unwrap();
///         if n == 1 { break n; }
///         ferrotp::yield_now();
///     }
/// }).unwrap();
/// assert_eq!(gone, 1);
/// ```
pub struct Selector<M> {
    clauses: Vec<Clause<M>>,
}

impl<M> std::fmt::Debug for Selector<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selector")
            .field("clauses", &self.clauses.len())
            .finish()
    }
}

impl<M> Default for Selector<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> Selector<M> {
    /// Selects nothing besides the actor's own messages.
    pub fn new() -> Self {
        Self {
            clauses: Vec::new(),
        }
    }

    /// Accepts messages of type `T`, each made an `M` by `map`.
    pub fn on<T: Send + 'static>(mut self, map: impl Fn(T) -> M + Send + 'static) -> Self {
        self.clauses
            .push(Box::new(move |message| message.take::<T>().map(&map)));
        self
    }

    /// Accepts the messages sent through `subject` (which the actor must
    /// own: make it in init, and add it with
    /// [`Context::update_selector`](crate::actor::Context::update_selector)),
    /// each made an `M` by `map`.
    pub fn on_subject<T: Send + 'static>(
        mut self,
        subject: &ferrotp_scheduler::Subject<T>,
        map: impl Fn(T) -> M + Send + 'static,
    ) -> Self {
        let subject = subject.clone();
        self.clauses.push(Box::new(move |message| {
            subject.take_from(message).map(&map)
        }));
        self
    }

    /// Every clause's result made an `N` by `map` (a state machine's
    /// selector, made one of its envelope).
    pub(crate) fn map<N>(self, map: impl Fn(M) -> N + Clone + Send + 'static) -> Selector<N>
    where
        M: 'static,
    {
        let clauses = self
            .clauses
            .into_iter()
            .map(|clause| {
                let map = map.clone();
                Box::new(move |message| clause(message).map(&map)) as Clause<N>
            })
            .collect();
        Selector { clauses }
    }

    /// Whether no clause was added.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// The first clause's mapping of `message`, or the message back.
    pub(crate) fn select(&self, mut message: AnyMessage) -> Result<M, AnyMessage> {
        for clause in &self.clauses {
            message = match clause(message) {
                Ok(mapped) => return Ok(mapped),
                Err(message) => message,
            };
        }
        Err(message)
    }
}
