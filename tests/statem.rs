//! State machines (`ferrotp::statem`): postpone order, each timeout
//! kind's cancellation rule, stale timeouts, replies from a later state,
//! enter calls, init, terminate, supervision, hibernation.
//!
//! Most tests drive one scripted machine: each `Do` event carries the
//! steps to take, and the machine logs every event and enter call as
//! `state:kind:tag`. Timing never decides an outcome: where a timeout
//! must *not* fire, a longer "sentinel" timeout is armed after it, and
//! the log is read once the sentinel fired (timers fire in deadline
//! order, so a live shorter one would be logged first).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::runtime;
use ferrotp::statem::{self, Context, Enter, Event, Init, StateMachine, StatemRef, Transition};
use ferrotp::{
    ExitReason, Pid, ProcessStatus, ReplyTo, Strategy, SupervisorSpec, process_info, receive,
    self_pid, send, yield_now,
};

const LONG: Duration = Duration::from_secs(60);

type State = &'static str;

enum Step {
    Goto(State),
    Repeat,
    /// From now on, events tagged so are postponed in this state.
    PostponeIn(State, &'static str),
    NextEvent(Msg),
    StateTimeout(u64, &'static str),
    CancelStateTimeout,
    EventTimeout(u64, &'static str),
    Named(&'static str, u64, &'static str),
    CancelNamed(&'static str),
    /// Casts this to itself (it lands in the mailbox, behind what is
    /// there).
    CastSelf(&'static str),
    /// When an event tagged so is logged, the log goes to `report` (a
    /// wait that is no event of the machine's, unlike a call).
    Notify(&'static str),
    /// Blocks the handler until a `Go` comes to the pid.
    BlockUntilGo,
    Stop(&'static str),
    /// Panics (in the middle of the steps).
    Panic,
}

enum Msg {
    Do(Vec<Step>),
    Tag(&'static str),
    Crash,
}

enum Call {
    Log(ReplyTo<Vec<String>>),
    /// Replied when an event tagged so is logged.
    WaitFor(&'static str, ReplyTo<Vec<String>>),
    /// Postponed in state "a"; answered with the state elsewhere.
    Where(ReplyTo<State>),
    /// Kept; answered by the next state's enter call.
    Later(ReplyTo<State>),
}

struct Go;

#[derive(Default)]
struct Scripted {
    log: Vec<String>,
    waiting: Vec<(&'static str, ReplyTo<Vec<String>>)>,
    later: Option<ReplyTo<State>>,
    postpone: Vec<(State, &'static str)>,
    notify: Vec<&'static str>,
    /// Where terminate tells its reason and state.
    report: Option<Pid>,
    /// Internal events init inserts.
    init_events: Vec<&'static str>,
    /// The state whose enter call stops the machine.
    refuse_entry: Option<State>,
    /// Init arms "t" for an hour and "sentinel" for 30 ms.
    init_named: bool,
}

fn kind(event: &Event<Call, Msg>) -> &'static str {
    match event {
        Event::Call(_) => "call",
        Event::Cast(_) => "cast",
        Event::Info(_) => "info",
        Event::Internal(_) => "internal",
        Event::StateTimeout(_) => "state_timeout",
        Event::EventTimeout(_) => "event_timeout",
        Event::Timeout(..) => "timeout",
    }
}

fn tag(message: &Msg) -> &'static str {
    match message {
        Msg::Do(_) => "do",
        Msg::Tag(tag) => tag,
        Msg::Crash => "crash",
    }
}

impl Scripted {
    fn record(&mut self, entry: String, tag: &str) {
        self.log.push(entry);
        let (ready, rest) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(wanted, _)| *wanted == tag);
        self.waiting = rest;
        for (_, reply) in ready {
            reply.send(self.log.clone());
        }
        if self.notify.contains(&tag)
            && let Some(report) = &self.report
        {
            send(report, self.log.clone());
        }
    }

    /// Takes `steps` in order; the change of state among them (at most
    /// one) makes the transition, the others its actions.
    fn script(&mut self, steps: Vec<Step>, ctx: &mut Context<Self>) -> Transition<Self> {
        let mut transition = Transition::keep_state();
        for step in &steps {
            transition = match step {
                Step::Goto(state) => Transition::next_state(*state),
                Step::Repeat => Transition::repeat_state(),
                Step::Stop(reason) => Transition::stop(ExitReason::custom(*reason)),
                _ => continue,
            };
        }
        let ms = Duration::from_millis;
        for step in steps {
            transition = match step {
                Step::Goto(_) | Step::Repeat | Step::Stop(_) => transition,
                Step::PostponeIn(state, tag) => {
                    self.postpone.push((state, tag));
                    transition
                }
                Step::NextEvent(message) => transition.next_event(message),
                Step::StateTimeout(after, tag) => {
                    transition.state_timeout(ms(after), Msg::Tag(tag))
                }
                Step::CancelStateTimeout => transition.cancel_state_timeout(),
                Step::EventTimeout(after, tag) => {
                    transition.event_timeout(ms(after), Msg::Tag(tag))
                }
                Step::Named(name, after, tag) => transition.timeout(name, ms(after), Msg::Tag(tag)),
                Step::CancelNamed(name) => transition.cancel_timeout(name),
                Step::Notify(tag) => {
                    self.notify.push(tag);
                    transition
                }
                Step::CastSelf(tag) => {
                    ctx.myself().cast(Msg::Tag(tag));
                    transition
                }
                Step::Panic => panic!("scripted panic in state"),
                Step::BlockUntilGo => {
                    if let Some(report) = &self.report {
                        send(report, "blocked");
                    }
                    receive::<Go>();
                    transition
                }
            };
        }
        transition
    }
}

impl StateMachine for Scripted {
    type State = State;
    type Call = Call;
    type Message = Msg;

    fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ExitReason> {
        let mut init = Init::state("a");
        if self.init_named {
            init = init
                .timeout("t", Duration::from_secs(3600), Msg::Tag("hour"))
                .timeout("sentinel", Duration::from_millis(30), Msg::Tag("sentinel"));
        }
        Ok(self
            .init_events
            .iter()
            .fold(init, |init, tag| init.next_event(Msg::Tag(tag))))
    }

    fn handle_event(
        &mut self,
        state: &State,
        event: Event<Call, Msg>,
        ctx: &mut Context<Self>,
    ) -> Transition<Self> {
        let kind = kind(&event);
        match event {
            Event::Call(Call::Log(reply)) => {
                Transition::keep_state().reply(reply, self.log.clone())
            }
            Event::Call(Call::WaitFor(tag, reply)) => {
                if self
                    .log
                    .iter()
                    .any(|entry| entry.ends_with(&format!(":{tag}")))
                {
                    return Transition::keep_state().reply(reply, self.log.clone());
                }
                self.waiting.push((tag, reply));
                Transition::keep_state()
            }
            event @ Event::Call(Call::Where(_)) if *state == "a" => {
                self.record(format!("{state}:call:where postponed"), "where");
                Transition::keep_state().postpone(event)
            }
            Event::Call(Call::Where(reply)) => Transition::keep_state().reply(reply, *state),
            Event::Call(Call::Later(reply)) => {
                self.record(format!("{state}:call:later"), "later");
                self.later = Some(reply);
                Transition::keep_state()
            }
            Event::Cast(Msg::Crash) => panic!("crash requested in state {state}"),
            Event::Cast(Msg::Do(steps)) | Event::Internal(Msg::Do(steps)) => {
                self.record(format!("{state}:{kind}:do"), "do");
                self.script(steps, ctx)
            }
            Event::Timeout(name, message) => {
                let tag = tag(&message);
                self.record(format!("{state}:{kind}:{name}={tag}"), tag);
                Transition::keep_state()
            }
            event => {
                let message = match &event {
                    Event::Cast(m)
                    | Event::Info(m)
                    | Event::Internal(m)
                    | Event::StateTimeout(m)
                    | Event::EventTimeout(m)
                    | Event::Timeout(_, m) => m,
                    Event::Call(_) => unreachable!("calls are matched above"),
                };
                let tag = tag(message);
                if self.postpone.contains(&(*state, tag)) {
                    self.log.push(format!("{state}:{kind}:{tag} postponed"));
                    return Transition::keep_state().postpone(event);
                }
                self.record(format!("{state}:{kind}:{tag}"), tag);
                Transition::keep_state()
            }
        }
    }

    fn enter(&mut self, old: &State, state: &State, _: &mut Context<Self>) -> Enter<Self> {
        self.log.push(format!("enter {old}->{state}"));
        if self.refuse_entry == Some(*state) {
            return Enter::stop(ExitReason::custom(format!("refused to enter {state}")));
        }
        match self.later.take() {
            Some(reply) => Enter::keep().reply(reply, *state),
            None => Enter::keep(),
        }
    }

    fn terminate(&mut self, reason: &ExitReason, state: &State, _: &mut Context<Self>) {
        if let Some(report) = &self.report {
            send(report, (reason.clone(), *state));
        }
    }
}

fn start() -> StatemRef<Scripted> {
    Scripted::default().start().unwrap()
}

fn wait_for(machine: &StatemRef<Scripted>, tag: &'static str) -> Vec<String> {
    machine
        .call(|reply| Call::WaitFor(tag, reply), LONG)
        .unwrap()
}

fn strings(entries: &[&str]) -> Vec<String> {
    entries.iter().map(|entry| (*entry).to_owned()).collect()
}

fn log(entries: &[&str]) -> Vec<String> {
    strings(entries)
}

/// OTP: a postponed event is retried after the next state change, in its
/// original order, before events that came after it; one postponed
/// again waits for the change after.
#[test]
fn postponed_events_keep_their_order_across_two_state_changes() {
    let got = runtime(2).block_on(|| {
        let m = start();
        m.cast(Msg::Do(vec![
            Step::PostponeIn("a", "p1"),
            Step::PostponeIn("a", "p2"),
            Step::PostponeIn("a", "p3"),
            Step::PostponeIn("b", "p1"),
            Step::PostponeIn("b", "p3"),
        ]));
        for tag in ["p1", "p2", "p3"] {
            m.cast(Msg::Tag(tag));
        }
        m.cast(Msg::Do(vec![Step::Goto("b")]));
        m.cast(Msg::Tag("p4"));
        m.cast(Msg::Do(vec![Step::Goto("c")]));
        m.cast(Msg::Tag("p5"));
        m.call(Call::Log, LONG).unwrap()
    });
    assert_eq!(
        got,
        log(&[
            "enter a->a",
            "a:cast:do",
            "a:cast:p1 postponed",
            "a:cast:p2 postponed",
            "a:cast:p3 postponed",
            "a:cast:do",
            "enter a->b",
            "b:cast:p1 postponed",
            "b:cast:p2",
            "b:cast:p3 postponed",
            "b:cast:p4",
            "b:cast:do",
            "enter b->c",
            "c:cast:p1",
            "c:cast:p3",
            "c:cast:p5",
        ])
    );
}

/// OTP: inserted events (next_event) come before the retried postponed
/// ones, which come before the mailbox; the enter call before all.
#[test]
fn inserted_events_come_first_then_retried_postponed_then_the_mailbox() {
    let got = runtime(2).block_on(|| {
        let m = start();
        m.cast(Msg::Do(vec![Step::PostponeIn("a", "p")]));
        m.cast(Msg::Tag("p"));
        m.cast(Msg::Do(vec![
            Step::Goto("b"),
            Step::NextEvent(Msg::Tag("i1")),
            Step::NextEvent(Msg::Tag("i2")),
        ]));
        m.cast(Msg::Tag("m"));
        m.call(Call::Log, LONG).unwrap()
    });
    assert_eq!(
        got,
        log(&[
            "enter a->a",
            "a:cast:do",
            "a:cast:p postponed",
            "a:cast:do",
            "enter a->b",
            "b:internal:i1",
            "b:internal:i2",
            "b:cast:p",
            "b:cast:m",
        ])
    );
}

/// Init's inserted events run before any message, after the first
/// state's enter call (entered from itself).
#[test]
fn inits_inserted_events_run_before_any_message() {
    let got = runtime(2).block_on(|| {
        let m = Scripted {
            init_events: vec!["i1", "i2"],
            ..Scripted::default()
        }
        .start()
        .unwrap();
        m.cast(Msg::Tag("m"));
        m.call(Call::Log, LONG).unwrap()
    });
    assert_eq!(
        got,
        log(&["enter a->a", "a:internal:i1", "a:internal:i2", "a:cast:m"])
    );
}

/// A state change cancels the state timeout (here, the change comes from
/// an inserted event, so before the timeout could run out).
#[test]
fn a_state_change_cancels_the_state_timeout() {
    let got = runtime(2).block_on(|| {
        let m = start();
        m.cast(Msg::Do(vec![
            Step::StateTimeout(1, "st"),
            Step::NextEvent(Msg::Do(vec![
                Step::Goto("b"),
                Step::Named("sentinel", 50, "sentinel"),
            ])),
        ]));
        wait_for(&m, "sentinel")
    });
    assert_eq!(
        got,
        log(&[
            "enter a->a",
            "a:cast:do",
            "a:internal:do",
            "enter a->b",
            "b:timeout:sentinel=sentinel",
        ])
    );
}

/// A state timeout set by a transition that changes the state runs in
/// the new state; arming it again replaces it; cancelling stops it.
#[test]
fn a_state_timeout_runs_in_the_new_state_and_is_replaced_or_cancelled() {
    let got = runtime(2).block_on(|| {
        let m = start();
        m.cast(Msg::Do(vec![
            Step::Goto("b"),
            Step::StateTimeout(1, "first"),
            Step::StateTimeout(5, "second"),
        ]));
        wait_for(&m, "second");
        m.cast(Msg::Do(vec![
            Step::StateTimeout(1, "cancelled"),
            Step::CancelStateTimeout,
            Step::Named("sentinel", 30, "sentinel"),
        ]));
        wait_for(&m, "sentinel")
    });
    assert_eq!(
        got,
        log(&[
            "enter a->a",
            "a:cast:do",
            "enter a->b",
            "b:state_timeout:second",
            "b:cast:do",
            "b:timeout:sentinel=sentinel",
        ])
    );
}

/// A machine that tells its test what it logged (`Step::Notify`).
fn start_reporting() -> StatemRef<Scripted> {
    Scripted {
        report: Some(self_pid()),
        ..Scripted::default()
    }
    .start()
    .unwrap()
}

/// Any event cancels the event timeout: a message (here one it sent
/// itself, so queued before the timer's), an inserted event (then it is
/// not even armed), a timeout. The test waits through `Notify`, not a
/// call: a call would be an event too.
#[test]
fn any_event_cancels_the_event_timeout() {
    let got = runtime(2).block_on(|| {
        let m = start_reporting();
        m.cast(Msg::Do(vec![
            Step::EventTimeout(1, "et1"),
            Step::CastSelf("poke"),
            Step::Named("s1", 30, "s1"),
            Step::Notify("s1"),
        ]));
        receive::<Vec<String>>();
        m.cast(Msg::Do(vec![
            Step::EventTimeout(1, "et2"),
            Step::NextEvent(Msg::Tag("inserted")),
            Step::Named("s2", 30, "s2"),
            Step::Notify("s2"),
        ]));
        receive::<Vec<String>>();
        m.cast(Msg::Do(vec![
            Step::EventTimeout(20, "et3"),
            Step::Named("n", 1, "n"),
            Step::Named("s3", 50, "s3"),
            Step::Notify("s3"),
        ]));
        receive::<Vec<String>>()
    });
    assert_eq!(
        got,
        log(&[
            "enter a->a",
            "a:cast:do",
            "a:cast:poke",
            "a:timeout:s1=s1",
            "a:cast:do",
            "a:internal:inserted",
            "a:timeout:s2=s2",
            "a:cast:do",
            "a:timeout:n=n",
            "a:timeout:s3=s3",
        ])
    );
}

#[test]
fn an_event_timeout_runs_out_when_no_event_comes() {
    let got = runtime(2).block_on(|| {
        let m = start_reporting();
        m.cast(Msg::Do(vec![
            Step::EventTimeout(1, "et"),
            Step::Notify("et"),
        ]));
        receive::<Vec<String>>()
    });
    assert_eq!(got, log(&["enter a->a", "a:cast:do", "a:event_timeout:et"]));
}

/// A generic timeout survives state changes and events; arming its name
/// again replaces it; cancelling stops it.
#[test]
fn a_generic_timeout_survives_changes_is_replaced_by_name_and_cancelled() {
    let got = runtime(2).block_on(|| {
        let m = start();
        m.cast(Msg::Do(vec![
            Step::Named("n", 20, "n1"),
            Step::Goto("b"),
            Step::NextEvent(Msg::Tag("noise")),
            Step::NextEvent(Msg::Do(vec![Step::Goto("c")])),
        ]));
        wait_for(&m, "n1");
        m.cast(Msg::Do(vec![
            Step::Named("n", 1, "old"),
            Step::Named("n", 10, "new"),
        ]));
        wait_for(&m, "new");
        m.cast(Msg::Do(vec![
            Step::Named("n", 1, "gone"),
            Step::CancelNamed("n"),
            Step::Named("sentinel", 30, "sentinel"),
        ]));
        wait_for(&m, "sentinel")
    });
    assert_eq!(
        got,
        log(&[
            "enter a->a",
            "a:cast:do",
            "enter a->b",
            "b:internal:noise",
            "b:internal:do",
            "enter b->c",
            "c:timeout:n=n1",
            "c:cast:do",
            "c:timeout:n=new",
            "c:cast:do",
            "c:timeout:sentinel=sentinel",
        ])
    );
}

/// The race `cancel_timer` loses: the timer's message is already in the
/// mailbox when the timeout is cancelled. It is taken and dropped, never
/// handled.
#[test]
fn a_timeout_cancelled_after_its_message_came_never_fires() {
    let (got, left) = runtime(2).block_on(|| {
        let m = start_reporting();
        m.cast(Msg::Do(vec![
            Step::Named("n", 1, "stale"),
            Step::NextEvent(Msg::Do(vec![
                Step::BlockUntilGo,
                Step::CancelNamed("n"),
                Step::Named("sentinel", 30, "sentinel"),
            ])),
        ]));
        let pid = m.pid();
        // The handler blocks; the timer's message arrives meanwhile (the
        // only message sent to it).
        assert_eq!(receive::<&str>(), "blocked");
        while process_info(&pid).unwrap().mailbox_len == 0 {
            yield_now();
        }
        send(&pid, Go);
        let got = wait_for(&m, "sentinel");
        (got, process_info(&pid).unwrap().mailbox_len)
    });
    assert_eq!(
        got,
        log(&[
            "enter a->a",
            "a:cast:do",
            "a:internal:do",
            "a:timeout:sentinel=sentinel",
        ])
    );
    assert_eq!(left, 0);
}

/// A call kept (its reply address stored) is answered by the next
/// state's enter call; a call postponed is answered in the state it is
/// retried in. Their callers are other processes, blocked meanwhile.
#[test]
fn calls_are_answered_from_a_later_state() {
    let (later, postponed) = runtime(2).block_on(|| {
        let m = start();
        let me = self_pid();
        for which in [0u8, 1u8] {
            let (m, me) = (m.clone(), me.clone());
            ferrotp::spawn(move || {
                let state = if which == 0 {
                    m.call(Call::Later, LONG)
                } else {
                    m.call(Call::Where, LONG)
                };
                send(&me, (which, state.unwrap()));
            });
        }
        // Both requests are in (logged) before the state changes.
        while !m
            .call(Call::Log, LONG)
            .unwrap()
            .iter()
            .any(|e| e.ends_with("later"))
            || !m
                .call(Call::Log, LONG)
                .unwrap()
                .iter()
                .any(|e| e.contains("where"))
        {
            yield_now();
        }
        m.cast(Msg::Do(vec![Step::Goto("b")]));
        let mut answers = [receive::<(u8, State)>(), receive::<(u8, State)>()];
        answers.sort();
        (answers[0], answers[1])
    });
    assert_eq!((later, postponed), ((0, "b"), (1, "b")));
}

/// The enter call runs on each change with the old state, again on
/// repeat_state, and not for a "change" to the same state.
#[test]
fn enter_calls_get_the_old_state() {
    let got = runtime(2).block_on(|| {
        let m = start();
        for step in [
            Step::Goto("b"),
            Step::Goto("b"),
            Step::Repeat,
            Step::Goto("a"),
        ] {
            m.cast(Msg::Do(vec![step]));
        }
        m.call(Call::Log, LONG).unwrap()
    });
    assert_eq!(
        got,
        log(&[
            "enter a->a",
            "a:cast:do",
            "enter a->b",
            "b:cast:do",
            "b:cast:do",
            "enter b->b",
            "b:cast:do",
            "enter b->a",
        ])
    );
}

/// An enter call that stops: for the first state the start fails
/// (`InitFailed`); later the machine stops and terminate gets the
/// entered state.
#[test]
fn an_enter_call_that_stops_fails_the_start_or_stops_the_machine() {
    let (failed, terminated, reason) = runtime(2).block_on(|| {
        let failed = Scripted {
            refuse_entry: Some("a"),
            ..Scripted::default()
        }
        .start()
        .unwrap_err();
        let m = Scripted {
            refuse_entry: Some("b"),
            report: Some(self_pid()),
            ..Scripted::default()
        }
        .start()
        .unwrap();
        let pid = m.pid();
        m.cast(Msg::Do(vec![Step::Goto("b")]));
        let terminated = receive::<(ExitReason, State)>();
        (failed, terminated, common::wait_exit(&pid))
    });
    assert_eq!(
        failed,
        ferrotp::actor::StartError::InitFailed(ExitReason::custom("refused to enter a"))
    );
    assert_eq!(terminated, (ExitReason::custom("refused to enter b"), "b"));
    assert_eq!(reason, ExitReason::custom("refused to enter b"));
}

/// `Transition::stop`: terminate runs with the reason and the state, and
/// the process ends with the reason; a caller waiting in a postponed
/// call learns it.
#[test]
fn stop_runs_terminate_with_the_state() {
    let (terminated, reason) = runtime(2).block_on(|| {
        let m = Scripted {
            report: Some(self_pid()),
            ..Scripted::default()
        }
        .start()
        .unwrap();
        let pid = m.pid();
        m.cast(Msg::Do(vec![Step::Goto("b")]));
        m.cast(Msg::Do(vec![Step::Stop("done")]));
        (receive::<(ExitReason, State)>(), common::wait_exit(&pid))
    });
    assert_eq!(terminated, (ExitReason::custom("done"), "b"));
    assert_eq!(reason, ExitReason::custom("done"));
}

/// Messages of its type sent to its pid are Info events; other types
/// come in through its selector.
#[test]
fn other_messages_are_info_events() {
    let got = runtime(2).block_on(|| {
        let m = statem::Builder::new()
            .selector(
                ferrotp::actor::Selector::new()
                    .on(|n: u64| Msg::Tag(if n == 7 { "seven" } else { "other" })),
            )
            .start(Scripted::default())
            .unwrap();
        send(&m.pid(), Msg::Tag("raw"));
        send(&m.pid(), 7u64);
        m.call(Call::Log, LONG).unwrap()
    });
    assert_eq!(got, log(&["enter a->a", "a:info:raw", "a:info:seven"]));
}

/// A crash inside a state: the supervisor starts a new incarnation, in
/// the first state, and the address reaches it.
#[test]
fn a_crash_in_a_state_is_restarted_by_the_supervisor() {
    let starts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&starts);
    let (first_reason, got, replaced) = runtime(2).block_on(move || {
        let (spec, m) = statem::child("scripted", move |builder| {
            counted.fetch_add(1, Ordering::SeqCst);
            builder.start(Scripted::default())
        });
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start_link()
            .unwrap();
        let first = m.pid();
        m.cast(Msg::Do(vec![Step::Goto("b")]));
        m.cast(Msg::Crash);
        let first_reason = common::wait_exit(&first);
        let got = m.call(Call::Log, LONG).unwrap();
        let replaced = m.pid() != first;
        sup.stop().unwrap();
        (first_reason, got, replaced)
    });
    assert_eq!(
        first_reason,
        ExitReason::Panic("crash requested in state b".into())
    );
    assert_eq!(got, log(&["enter a->a"]));
    assert!(replaced);
    assert_eq!(starts.load(Ordering::SeqCst), 2);
}

/// An idle machine holds no stack, as an idle actor.
#[test]
fn an_idle_machine_holds_no_stack() {
    let (status, hibernated) = runtime(2).block_on(|| {
        let m = start();
        m.cast(Msg::Do(vec![Step::Goto("b")]));
        m.call(Call::Log, LONG).unwrap();
        let pid = m.pid();
        while process_info(&pid).unwrap().status != ProcessStatus::Waiting {
            yield_now();
        }
        let info = process_info(&pid).unwrap();
        (info.status, info.hibernated)
    });
    assert_eq!(status, ProcessStatus::Waiting);
    assert!(hibernated);
}

/// A supervised machine that crashes hands its postponed events to its
/// replacement, first and in order, as an actor hands over its unread
/// messages: only the event it crashed on is lost.
#[test]
fn a_crashed_supervised_machine_hands_its_postponed_events_over() {
    let got = runtime(2).block_on(|| {
        let (spec, m) = statem::child("postponer", |builder| builder.start(Scripted::default()));
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start_link()
            .unwrap();
        m.cast(Msg::Do(vec![
            Step::PostponeIn("a", "p1"),
            Step::PostponeIn("a", "p2"),
        ]));
        m.cast(Msg::Tag("p1"));
        m.cast(Msg::Tag("p2"));
        m.cast(Msg::Crash);
        m.cast(Msg::Tag("after"));
        let got = m.call(Call::Log, LONG).unwrap();
        sup.stop().unwrap();
        got
    });
    assert_eq!(
        got,
        log(&["enter a->a", "a:cast:p1", "a:cast:p2", "a:cast:after"])
    );
}

/// A timeout's message that a crashed incarnation left in its mailbox
/// goes to the replacement with the rest, and never fires there, even
/// for a timeout of the same name that the replacement armed.
#[test]
fn a_crashed_incarnations_timeout_never_fires_in_its_replacement() {
    let starts = Arc::new(AtomicUsize::new(0));
    let got = runtime(2).block_on(move || {
        let me = self_pid();
        let (spec, m) = statem::child("timed", move |builder| {
            let n = starts.fetch_add(1, Ordering::SeqCst);
            builder.start(Scripted {
                report: Some(me.clone()),
                init_named: n >= 1,
                ..Scripted::default()
            })
        });
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start_link()
            .unwrap();
        let first = m.pid();
        m.cast(Msg::Do(vec![
            Step::Named("t", 0, "stale"),
            Step::NextEvent(Msg::Do(vec![Step::BlockUntilGo, Step::Panic])),
        ]));
        assert_eq!(receive::<&str>(), "blocked");
        while process_info(&first).unwrap().mailbox_len == 0 {
            yield_now();
        }
        send(&first, Go);
        common::wait_exit(&first);
        let got = wait_for(&m, "sentinel");
        sup.stop().unwrap();
        got
    });
    assert_eq!(got, log(&["enter a->a", "a:timeout:sentinel=sentinel"]));
}
