//! Multi-clause receive ([`Select`]), Erlang's `receive ... after`.

use std::sync::Arc;
use std::time::Duration;

use ferrotp_mailbox::Mark;

use crate::lifecycle::exit_signal::receivable;
use crate::messaging::receive::{deadline_after, take_typed};
use crate::messaging::subject::{Subject, Tagged};
use crate::process::context::with_process;
use crate::process::{Envelope, Pid};

type Test<'a> = Box<dyn Fn(&Envelope) -> bool + 'a>;
type Handle<'a, R> = Box<dyn FnOnce(Envelope) -> R + 'a>;

/// A receive with several clauses, Erlang style: the first message (in
/// arrival order) that any clause accepts is handled by the first clause
/// (in clause order) that accepts it; `after` handles a timeout.
///
/// ```
/// use std::time::Duration;
/// use ferrotp_scheduler::{Select, run, self_pid, send};
/// let got = run(|| {
///     let me = self_pid();
///     send(&me, 'x');
///     send(&me, 42u64);
///     let first = Select::new()
///         .on_match(|n: &u64| *n > 100, |n| format!("big {n}"))
///         .on(|n: u64| format!("number {n}"))
///         .after(Duration::from_millis(10), || "nothing".to_owned())
///         .wait();
///     let second = Select::new()
///         .on(|n: u64| format!("number {n}"))
///         .after(Duration::ZERO, || "nothing".to_owned())
///         .wait();
///     (first, second)
/// }).unwrap();
/// assert_eq!(got, ("number 42".to_owned(), "nothing".to_owned()));
/// ```
pub struct Select<'a, R> {
    clauses: Vec<(Test<'a>, Handle<'a, R>)>,
    after: Option<(Duration, Box<dyn FnOnce() -> R + 'a>)>,
    /// The owners of the subjects of `on_subject` clauses: each must be
    /// the waiting process (a subject's tag means nothing in another
    /// process's mailbox).
    subject_owners: Vec<Pid>,
    /// Where the scan starts: the oldest subject's mark when every clause
    /// is a subject clause (their messages cannot be older), else the
    /// start of the mailbox.
    start: Option<Mark>,
}

impl<R> std::fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("clauses", &self.clauses.len())
            .field("after", &self.after.as_ref().map(|(d, _)| d))
            .finish()
    }
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, R> Select<'a, R> {
    /// A select with no clauses yet.
    pub fn new() -> Self {
        Self {
            clauses: Vec::new(),
            after: None,
            subject_owners: Vec::new(),
            start: None,
        }
    }

    /// A clause taking any message of type `T`.
    pub fn on<T: Send + 'static>(self, handle: impl FnOnce(T) -> R + 'a) -> Self {
        self.clause(|e| e.is::<T>() && receivable::<T>(e), handle)
    }

    /// A clause taking a message of type `T` for which `pred` is true.
    pub fn on_match<T: Send + 'static>(
        self,
        pred: impl Fn(&T) -> bool + 'a,
        handle: impl FnOnce(T) -> R + 'a,
    ) -> Self {
        self.clause(
            move |e| e.downcast_ref::<T>().is_some_and(&pred) && receivable::<T>(e),
            handle,
        )
    }

    /// A clause taking a message sent through `subject` (which the
    /// waiting process must own: [`wait`](Self::wait) panics otherwise).
    pub fn on_subject<T: Send + 'static>(
        mut self,
        subject: &Subject<T>,
        handle: impl FnOnce(T) -> R + 'a,
    ) -> Self {
        self.subject_owners.push(subject.owner.clone());
        let tag = subject.tag;
        let test = move |e: &Envelope| e.downcast_ref::<Tagged<T>>().is_some_and(|t| t.tag == tag);
        let handle = move |e: Envelope| handle(take_typed::<Tagged<T>>(e).message);
        self.clauses.push((Box::new(test), Box::new(handle)));
        self.start = Some(match self.start {
            None => subject.mark,
            Some(start) => start.min(subject.mark),
        });
        self
    }

    fn clause<T: Send + 'static>(
        mut self,
        test: impl Fn(&Envelope) -> bool + 'a,
        handle: impl FnOnce(T) -> R + 'a,
    ) -> Self {
        let handle = move |e: Envelope| handle(take_typed::<T>(e));
        self.clauses.push((Box::new(test), Box::new(handle)));
        self.start = Some(Mark::START);
        self
    }

    /// What to do if no clause's message arrives within `timeout`
    /// (`Duration::ZERO`: only look at what is already queued).
    pub fn after(mut self, timeout: Duration, handle: impl FnOnce() -> R + 'a) -> Self {
        self.after = Some((timeout, Box::new(handle)));
        self
    }

    /// Waits for a message that a clause accepts (or the timeout) and
    /// returns what its handler returns.
    ///
    /// # Panics
    /// Outside a process; if a clause test itself receives; if an
    /// [`on_subject`](Self::on_subject) clause's subject is owned by
    /// another process.
    pub fn wait(self) -> R {
        let Select {
            clauses,
            after,
            subject_owners,
            start,
        } = self;
        let found = with_process("Select::wait", |ctx| {
            if let Some(owner) = subject_owners
                .iter()
                .find(|owner| !Arc::ptr_eq(&owner.0, ctx.pcb))
            {
                panic!(
                    "ferrotp::Select::wait: an on_subject clause waits on a subject owned by {owner}; \
                     only the subject's owner can receive from it (this is {})",
                    ctx.pcb.id
                );
            }
            let mut mark = start.unwrap_or(Mark::START);
            let deadline = match &after {
                Some((timeout, _)) => deadline_after(*timeout),
                None => None,
            };
            ctx.receive("Select::wait", &mut mark, deadline, &mut |e| {
                clauses.iter().any(|(test, _)| test(e))
            })
        });
        match found {
            Some(envelope) => {
                let (_, handle) = clauses
                    .into_iter()
                    .find(|(test, _)| test(&envelope))
                    .expect("a clause accepted this message");
                handle(envelope)
            }
            None => match after {
                Some((_, handle)) => handle(),
                None => unreachable!("no deadline"),
            },
        }
    }
}
