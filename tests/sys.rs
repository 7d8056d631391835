//! OTP `sys` access to actors and state machines: get and replace the
//! state (with a typed error for the wrong type), suspend and resume
//! (messages sent meanwhile are all handled afterwards, in order, and a
//! suspended actor still stops), and traces to a pid and to `tracing`.
//! Each runs on a hibernating actor and on a stackful one.

mod common;

use std::time::Duration;

use ferrotp::actor::{self, ActorRef, Builder, Next, SysError, Trace, Traced};
use ferrotp::statem::{Context, Event, Init, StateMachine, Transition};
use ferrotp::{ExitReason, ReplyTo, process_info, receive, receive_timeout, self_pid};

use common::{runtime, wait_exit};

const T: Duration = Duration::from_secs(10);

/// An actor that logs the numbers it gets.
fn logger(hibernate: bool) -> ActorRef<u32> {
    Builder::new()
        .hibernate(hibernate)
        .start_fn(Vec::new(), |n: u32, mut seen: Vec<u32>| {
            seen.push(n);
            Next::Continue(seen)
        })
        .unwrap()
}

fn seen(actor: &ActorRef<u32>) -> Vec<u32> {
    actor
        .sys_get_state(|seen: &Vec<u32>| seen.clone(), T)
        .unwrap()
}

#[test]
fn get_and_replace_state_with_a_typed_error_for_the_wrong_type() {
    let rt = runtime(2);
    rt.block_on(|| {
        for hibernate in [true, false] {
            let log = logger(hibernate);
            log.send(1);
            log.send(2);
            assert_eq!(seen(&log), [1, 2]);
            let old = log
                .sys_replace_state(|seen: &mut Vec<u32>| std::mem::replace(seen, vec![7]), T)
                .unwrap();
            assert_eq!(old, [1, 2]);
            log.send(3);
            assert_eq!(seen(&log), [7, 3]);
            let wrong = log.sys_get_state(|_: &String| (), T);
            assert_eq!(
                wrong,
                Err(SysError::WrongType {
                    asked: "alloc::string::String",
                    state: "alloc::vec::Vec<u32>",
                })
            );
            assert!(
                wrong
                    .unwrap_err()
                    .to_string()
                    .contains("alloc::vec::Vec<u32>")
            );
            // The actor is unharmed by the failed request.
            log.send(4);
            assert_eq!(seen(&log), [7, 3, 4]);
        }
    });
}

/// A trait-style actor's state is the actor itself.
#[test]
fn a_trait_actor_shows_itself() {
    struct Counter(u64);
    impl actor::Actor for Counter {
        type Message = u64;
        fn handle(&mut self, n: u64, _: &mut actor::Context<u64>) -> Next {
            self.0 += n;
            Next::CONTINUE
        }
    }
    let rt = runtime(1);
    let total = rt.block_on(|| {
        let counter = Builder::new().start(Counter(1)).unwrap();
        counter.send(2);
        counter.sys_get_state(|c: &Counter| c.0, T)
    });
    assert_eq!(total, Ok(3));
}

#[test]
fn messages_sent_while_suspended_are_all_handled_after_resume_in_order() {
    let rt = runtime(2);
    rt.block_on(|| {
        for hibernate in [true, false] {
            let log = logger(hibernate);
            log.send(0);
            log.sys_suspend(T).unwrap();
            for n in 1..=200 {
                log.send(n);
            }
            // System requests still work while suspended; nothing else is
            // handled.
            assert_eq!(seen(&log), [0]);
            log.sys_suspend(T).unwrap(); // twice: still suspended
            assert_eq!(seen(&log), [0]);
            log.sys_resume(T).unwrap();
            log.send(201);
            assert_eq!(seen(&log), (0..=201).collect::<Vec<u32>>());
            log.sys_resume(T).unwrap(); // not suspended: nothing happens
            log.send(202);
            assert_eq!(seen(&log).len(), 203);
        }
    });
}

#[test]
fn a_suspended_actor_still_stops_and_its_waiting_messages_go_with_it() {
    let rt = runtime(2);
    rt.block_on(|| {
        for hibernate in [true, false] {
            let log = logger(hibernate);
            log.sys_suspend(T).unwrap();
            log.send(1);
            log.stop(ExitReason::custom("done"), T).unwrap();
            assert_eq!(wait_exit(&log.pid()), ExitReason::custom("done"));
            assert!(matches!(
                log.sys_get_state(|_: &Vec<u32>| (), T),
                Err(SysError::Call(_))
            ));
        }
    });
}

#[test]
fn tracing_to_a_pid_reports_each_handled_message_until_turned_off() {
    let rt = runtime(2);
    rt.block_on(|| {
        for hibernate in [true, false] {
            let log = logger(hibernate);
            log.send(1); // before: not traced
            let trace = Trace::to(self_pid()).describe(|n: &u32| format!("n={n}"));
            log.sys_trace(Some(trace), T).unwrap();
            log.send(2);
            log.send(3);
            let got: Vec<Traced> = (0..2).map(|_| receive::<Traced>()).collect();
            assert_eq!(
                got.iter().map(|t| t.event.as_str()).collect::<Vec<_>>(),
                ["n=2", "n=3"]
            );
            assert!(got.iter().all(|t| t.actor == log.pid()));
            log.sys_trace(None, T).unwrap();
            log.send(4);
            // Once the state shows 4, it was handled untraced.
            assert_eq!(seen(&log), [1, 2, 3, 4]);
            assert_eq!(receive_timeout::<Traced>(Duration::ZERO), None);
            // Without a describer: the message's type name.
            log.sys_trace(Some(Trace::to(self_pid())), T).unwrap();
            log.send(5);
            assert_eq!(receive::<Traced>().event, "u32");
            log.sys_trace(None, T).unwrap();
        }
    });
}

/// The `tracing` events of a trace: target `ferrotp::sys`, the pid, the
/// description. The subscriber is process-wide: events of other tests
/// are told apart by pid.
#[test]
fn tracing_events_name_the_actor_and_the_message() {
    common::recorder::install();
    let rt = runtime(2);
    let pid = rt.block_on(|| {
        let log = logger(true);
        let trace = Trace::tracing().describe(|n: &u32| format!("got {n}"));
        log.sys_trace(Some(trace), T).unwrap();
        log.send(8);
        log.send(9);
        assert_eq!(seen(&log), [8, 9]);
        log.pid()
    });
    let events = common::recorder::events();
    let ours: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.get("pid") == Some(&pid.to_string()))
        .map(|e| (e["target"].as_str(), e["event"].as_str()))
        .collect();
    assert_eq!(ours, [("ferrotp::sys", "got 8"), ("ferrotp::sys", "got 9")]);
}

/// A switch: `On`/`Off` states, flipped by a cast.
struct Switch {
    flips: u32,
}

#[derive(Clone, Debug, PartialEq)]
enum Position {
    On,
    Off,
}

impl StateMachine for Switch {
    type State = Position;
    type Call = ReplyTo<u32>;
    type Message = ();
    fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ExitReason> {
        Ok(Init::state(Position::Off))
    }
    fn handle_event(
        &mut self,
        state: &Position,
        event: Event<ReplyTo<u32>, ()>,
        _: &mut Context<Self>,
    ) -> Transition<Self> {
        match event {
            Event::Cast(()) => {
                self.flips += 1;
                Transition::next_state(match state {
                    Position::On => Position::Off,
                    Position::Off => Position::On,
                })
            }
            Event::Call(reply) => Transition::keep_state().reply(reply, self.flips),
            _ => Transition::keep_state(),
        }
    }
}

#[test]
fn a_state_machine_exposes_its_data_and_state() {
    let rt = runtime(2);
    rt.block_on(|| {
        let switch = Switch { flips: 0 }.start().unwrap();
        switch.cast(());
        let got = switch.sys_get_state(|s: &Switch, p: &Position| (s.flips, p.clone()), T);
        assert_eq!(got, Ok((1, Position::On)));
        switch
            .sys_replace_state(
                |s: &mut Switch, p: &mut Position| {
                    s.flips = 10;
                    *p = Position::Off;
                },
                T,
            )
            .unwrap();
        let info = process_info(&switch.pid()).unwrap();
        assert_eq!(info.state.as_deref(), Some("Off"));
        // Suspended: casts wait; calls are events too, so they wait as
        // well (only system messages are handled).
        switch.sys_suspend(T).unwrap();
        switch.cast(());
        switch.cast(());
        switch.cast(());
        assert_eq!(
            switch.sys_get_state(|s: &Switch, p: &Position| (s.flips, p.clone()), T),
            Ok((10, Position::Off))
        );
        switch.sys_resume(T).unwrap();
        assert_eq!(switch.call(|r| r, T), Ok(13));
        assert_eq!(
            process_info(&switch.pid()).unwrap().state.as_deref(),
            Some("On")
        );
    });
}

/// A state machine's trace names each message's event kind: casts and
/// info with their content (as described), calls by their request's type.
#[test]
fn a_state_machine_trace_names_each_events_kind() {
    let rt = runtime(2);
    let seen = rt.block_on(|| {
        let switch = Switch { flips: 0 }.start().unwrap();
        let trace = Trace::to(self_pid()).describe(|(): &()| "flip".to_owned());
        switch.sys_trace(Some(trace), T).unwrap();
        switch.cast(());
        ferrotp::send(&switch.pid(), ()); // info: not a flip
        assert_eq!(switch.call(|r| r, T), Ok(1));
        let seen: Vec<String> = (0..3).map(|_| receive::<Traced>().event).collect();
        switch.sys_trace(None, T).unwrap();
        switch.cast(());
        assert_eq!(switch.call(|r| r, T), Ok(2));
        assert!(receive_timeout::<Traced>(Duration::ZERO).is_none());
        seen
    });
    let call = format!("call {}", std::any::type_name::<ReplyTo<u32>>());
    assert_eq!(seen, ["cast flip".to_owned(), "info flip".to_owned(), call]);
}

/// A suspended actor that traps exits still takes its parent's exit (a
/// supervisor's shutdown): terminate runs with its reason, as OTP's
/// `sys:suspend_loop` does; hibernating and stackful alike.
#[test]
fn a_suspended_actor_still_takes_its_supervisors_shutdown() {
    use ferrotp::actor::{Actor, Context as ActorContext};
    use ferrotp::{Strategy, SupervisorSpec};
    struct Polite(ferrotp::Pid);
    impl Actor for Polite {
        type Message = ();
        fn handle(&mut self, (): (), _: &mut ActorContext<()>) -> Next {
            Next::CONTINUE
        }
        fn terminate(&mut self, reason: &ExitReason, _: &mut ActorContext<()>) {
            ferrotp::send(&self.0, reason.clone());
        }
    }
    let rt = runtime(2);
    let reasons = rt.block_on(|| {
        [true, false].map(|hibernate| {
            let me = self_pid();
            let (spec, child) = actor::child("polite", move |builder| {
                builder
                    .trap_exit(true)
                    .hibernate(hibernate)
                    .start(Polite(me.clone()))
            });
            let sup = SupervisorSpec::new(Strategy::OneForOne)
                .child(spec)
                .start_link()
                .unwrap();
            child.sys_suspend(T).unwrap();
            sup.stop().unwrap();
            receive_timeout::<ExitReason>(T)
        })
    });
    assert_eq!(
        reasons,
        [Some(ExitReason::Shutdown), Some(ExitReason::Shutdown)]
    );
}

/// A `sys_replace_state` closure that panics ends the actor with that
/// panic, and the caller learns it (the state it left half-replaced is
/// not kept).
#[test]
fn a_replace_state_closure_that_panics_ends_the_actor() {
    let rt = runtime(2);
    let (got, reason) = rt.block_on(|| {
        let log = logger(true);
        let got = log.sys_replace_state(
            |seen: &mut Vec<u32>| -> () {
                seen.push(1);
                panic!("half replaced");
            },
            T,
        );
        (got, wait_exit(&log.pid()))
    });
    let panic = ExitReason::Panic("half replaced".into());
    assert_eq!(
        got,
        Err(SysError::Call(ferrotp::CallError::Exited(panic.clone())))
    );
    assert_eq!(reason, panic);
}
