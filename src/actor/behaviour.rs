//! The [`Actor`] trait (the GenServer style), its [`Context`], and the
//! closure style's adapter.

use std::marker::PhantomData;
use std::time::Duration;

use ferrotp_scheduler::{ExitReason, Pid, TimerRef};

use super::address::ActorRef;
use super::next::Next;
use super::selector::Selector;

/// A server in the GenServer style: its state is `self`, its messages
/// are [`Actor::Message`]; started with [`Actor::start`] or a
/// [`Builder`](crate::actor::Builder).
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{Actor, Context, Next};
/// use ferrotp::{ExitReason, ReplyTo};
///
/// struct Stack(Vec<i32>);
/// enum Request { Push(i32), Pop(ReplyTo<Option<i32>>), Shutdown }
///
/// impl Actor for Stack {
///     type Message = Request;
///     fn handle(&mut self, request: Request, _: &mut Context<Request>) -> Next {
///         match request {
///             Request::Push(n) => self.0.push(n),
///             Request::Pop(reply) => { reply.send(self.0.pop()); }
///             Request::Shutdown => return Next::stop(),
///         }
///         Next::CONTINUE
///     }
///     fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Request>) {
///         assert_eq!(*reason, ExitReason::Normal);
///     }
/// }
///
/// let popped = ferrotp::run(|| {
///     let stack = Stack(vec![]).start().unwrap();
///     stack.send(Request::Push(1));
///     stack.send(Request::Push(2));
///     let popped = stack.call(Request::Pop, Duration::from_millis(10)).unwrap();
///     stack.send(Request::Shutdown);
///     popped
/// }).unwrap();
/// assert_eq!(popped, Some(2));
/// ```
pub trait Actor: Sized + 'static {
    /// The messages the actor handles (usually an enum; requests that
    /// want a reply carry a [`ReplyTo`](crate::ReplyTo)).
    type Message: Send + 'static;

    /// Runs in the actor's process before [`start`](Actor::start)
    /// returns (within the builder's init timeout). `Err` fails the
    /// start with [`StartError::InitFailed`](crate::actor::StartError::InitFailed)
    /// and ends the process with that reason. By default, nothing.
    ///
    /// # Errors
    /// The reason the actor cannot start.
    fn init(&mut self, ctx: &mut Context<Self::Message>) -> Result<(), ExitReason> {
        let _ = ctx;
        Ok(())
    }

    /// Handles one message.
    fn handle(&mut self, message: Self::Message, ctx: &mut Context<Self::Message>) -> Next;

    /// No message came within the duration of the last
    /// [`Next::ContinueTimeout`]. By default, goes on.
    fn handle_timeout(&mut self, ctx: &mut Context<Self::Message>) -> Next {
        let _ = ctx;
        Next::CONTINUE
    }

    /// Messages the actor has taken from its mailbox but not handled
    /// yet, oldest first (a state machine's postponed events, say). When
    /// a supervised actor ends, for any reason, they go to its
    /// replacement ahead of what is still in its mailbox (module docs:
    /// under a supervisor); otherwise they are dropped with the actor. By
    /// default, none.
    fn unhandled(&mut self) -> Vec<Self::Message> {
        Vec::new()
    }

    /// Runs as the actor stops: after [`Next::Stop`], and on an exit
    /// signal from its parent when it traps exits (a supervisor's
    /// shutdown). Not on `Killed`, which cannot be trapped: the state is
    /// still dropped then, so what it owns is released by its `Drop`.
    fn terminate(&mut self, reason: &ExitReason, ctx: &mut Context<Self::Message>) {
        let _ = (reason, ctx);
    }

    /// The state that `sys` requests see (module `sys`): the actor
    /// itself, and the type's name for error messages. The closure style
    /// shows its closure's state instead.
    #[doc(hidden)]
    fn sys_state(&mut self) -> (&mut dyn std::any::Any, &'static str) {
        (self, std::any::type_name::<Self>())
    }

    /// Starts the actor with the default [`Builder`](crate::actor::Builder).
    ///
    /// # Errors
    /// As for [`Builder::start`](crate::actor::Builder::start).
    ///
    /// # Panics
    /// Outside a process.
    fn start(self) -> Result<ActorRef<Self::Message>, super::StartError>
    where
        Self: Send,
    {
        super::Builder::new().start(self)
    }
}

/// What a handler may ask of its actor: its own address, timers to
/// itself, its count of unexpected messages.
///
/// ```
/// use std::time::Duration;
/// use ferrotp::actor::{Actor, Context, Next};
/// use ferrotp::ReplyTo;
///
/// /// Pings itself once, then answers whether the ping came.
/// struct Pinger { pinged: bool }
/// enum Msg { Ping, Pinged(ReplyTo<bool>) }
///
/// impl Actor for Pinger {
///     type Message = Msg;
///     fn init(&mut self, ctx: &mut Context<Msg>) -> Result<(), ferrotp::ExitReason> {
///         ctx.myself().send(Msg::Ping); // to itself, through its address
///         Ok(())
///     }
///     fn handle(&mut self, message: Msg, ctx: &mut Context<Msg>) -> Next {
///         match message {
///             Msg::Ping => self.pinged = true,
///             Msg::Pinged(reply) => { reply.send(self.pinged && ctx.unexpected_messages() == 0); }
///         }
///         Next::CONTINUE
///     }
/// }
///
/// let pinged = ferrotp::run(|| {
///     let pinger = Pinger { pinged: false }.start().unwrap();
///     pinger.call(Msg::Pinged, Duration::from_secs(5)).unwrap()
/// }).unwrap();
/// assert!(pinged);
/// ```
pub struct Context<M> {
    myself: ActorRef<M>,
    pid: Pid,
    pub(crate) selector: Selector<M>,
    pub(crate) parent: Option<Pid>,
    pub(crate) unexpected: u64,
    /// Suspension and trace (module `sys`).
    pub(crate) sys: super::sys::SysState<M>,
}

impl<M> std::fmt::Debug for Context<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("myself", &self.myself)
            .field("unexpected", &self.unexpected)
            .finish()
    }
}

impl<M: Send + 'static> Context<M> {
    pub(crate) fn new(
        myself: ActorRef<M>,
        pid: Pid,
        parent: Option<Pid>,
        selector: Selector<M>,
    ) -> Self {
        Self {
            myself,
            pid,
            selector,
            parent,
            unexpected: 0,
            sys: super::sys::SysState::default(),
        }
    }

    /// The actor's own address (for a supervised actor, the one that
    /// follows its restarts).
    pub fn myself(&self) -> &ActorRef<M> {
        &self.myself
    }

    /// The actor's process (this incarnation's, for a supervised actor).
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// Sends `message` to this process after `delay` (a tick):
    /// [`send_after`](crate::send_after), typed, its arguments in the
    /// same order. A timer belongs to the
    /// process: a supervised actor's replacement does not inherit it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{Actor, Context, Next};
    /// use ferrotp::{Pid, receive, self_pid, send};
    ///
    /// enum Msg { Tick }
    /// /// Tells its parent each tick, three times.
    /// struct Ticker { parent: Pid, left: u32 }
    /// impl Actor for Ticker {
    ///     type Message = Msg;
    ///     fn init(&mut self, ctx: &mut Context<Msg>) -> Result<(), ferrotp::ExitReason> {
    ///         ctx.send_after(Duration::from_millis(1), Msg::Tick);
    ///         Ok(())
    ///     }
    ///     fn handle(&mut self, Msg::Tick: Msg, ctx: &mut Context<Msg>) -> Next {
    ///         send(&self.parent, self.left);
    ///         self.left -= 1;
    ///         if self.left == 0 { return Next::stop(); }
    ///         ctx.send_after(Duration::from_millis(1), Msg::Tick); // re-armed
    ///         Next::CONTINUE
    ///     }
    /// }
    /// let ticks = ferrotp::run(|| {
    ///     Ticker { parent: self_pid(), left: 3 }.start().unwrap();
    ///     [receive::<u32>(), receive::<u32>(), receive::<u32>()]
    /// }).unwrap();
    /// assert_eq!(ticks, [3, 2, 1]);
    /// ```
    ///
    /// # Panics
    /// Outside the actor's process.
    pub fn send_after(&self, delay: Duration, message: M) -> TimerRef {
        ferrotp_scheduler::send_after(delay, &self.pid, message)
    }

    /// Changes what else the actor accepts (Gleam's selector, set again):
    /// `update` gets the selector in force and returns the new one. For
    /// a subject the actor makes in init, say:
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{Actor, Context, Next};
    /// use ferrotp::{ReplyTo, Subject, spawn};
    ///
    /// enum Msg { Tick(u32), Ticks(ReplyTo<u32>) }
    /// struct Ticks(u32);
    /// impl Actor for Ticks {
    ///     type Message = Msg;
    ///     fn init(&mut self, ctx: &mut Context<Msg>) -> Result<(), ferrotp::ExitReason> {
    ///         let ticks: Subject<u32> = Subject::new(); // owned by the actor
    ///         ctx.update_selector(|selector| selector.on_subject(&ticks, Msg::Tick));
    ///         spawn(move || for n in 1..=3 { ticks.send(n) });
    ///         Ok(())
    ///     }
    ///     fn handle(&mut self, message: Msg, _: &mut Context<Msg>) -> Next {
    ///         match message {
    ///             Msg::Tick(n) => self.0 += n,
    ///             Msg::Ticks(reply) => { reply.send(self.0); }
    ///         }
    ///         Next::CONTINUE
    ///     }
    /// }
    /// let sum = ferrotp::run(|| {
    ///     let ticker = Ticks(0).start().unwrap();
    ///     loop {
    ///         let sum = ticker.call(Msg::Ticks, Duration::from_secs(5)).unwrap();
    ///         if sum == 6 { break sum; }
    ///         ferrotp::yield_now();
    ///     }
    /// }).unwrap();
    /// assert_eq!(sum, 6);
    /// ```
    pub fn update_selector(&mut self, update: impl FnOnce(Selector<M>) -> Selector<M>) {
        let selector = std::mem::take(&mut self.selector);
        self.selector = update(selector);
    }

    /// How many messages the actor took that were neither its type nor
    /// selected (module [`selector`](crate::actor::Selector)).
    pub fn unexpected_messages(&self) -> u64 {
        self.unexpected
    }
}

/// The closure style as an [`Actor`]: a state and a handler that returns
/// the next state.
pub(crate) struct FnActor<S, M, F, T> {
    pub(crate) state: Option<S>,
    pub(crate) handler: F,
    pub(crate) on_timeout: T,
    pub(crate) _message: PhantomData<fn(M) -> M>,
}

impl<S, M, F, T> FnActor<S, M, F, T> {
    fn apply(&mut self, next: Next<S>) -> Next {
        match next {
            Next::Continue(state) => {
                self.state = Some(state);
                Next::CONTINUE
            }
            Next::ContinueTimeout(state, after) => {
                self.state = Some(state);
                Next::ContinueTimeout((), after)
            }
            Next::Stop(reason) => Next::Stop(reason),
        }
    }
}

impl<S, M, F, T> Actor for FnActor<S, M, F, T>
where
    S: 'static,
    M: Send + 'static,
    F: FnMut(M, S) -> Next<S> + 'static,
    T: FnMut(S) -> Next<S> + 'static,
{
    type Message = M;

    fn handle(&mut self, message: M, _: &mut Context<M>) -> Next {
        let state = self
            .state
            .take()
            .expect("the state is back after each message");
        let next = (self.handler)(message, state);
        self.apply(next)
    }

    fn handle_timeout(&mut self, _: &mut Context<M>) -> Next {
        let state = self
            .state
            .take()
            .expect("the state is back after each message");
        let next = (self.on_timeout)(state);
        self.apply(next)
    }

    fn sys_state(&mut self) -> (&mut dyn std::any::Any, &'static str) {
        let state = self
            .state
            .as_mut()
            .expect("the state is back after each message");
        (state, std::any::type_name::<S>())
    }
}
