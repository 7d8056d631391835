//! Introspection: what an operator asks of a running system, as Erlang's
//! `observer`, `sys` and `process_info` answer it.
//!
//! * `ferrotp::process_info`: a process's links and monitors (both
//!   ways), and for an actor or a state machine its behaviour and
//!   current state name.
//! * `sys` on an actor: read its state, suspend it (messages wait, in
//!   order), replace its state, resume it, trace what it handles.
//! * The long-message-queue monitor: a runtime-wide hook told when a
//!   mailbox passes its high mark, and again once it has drained to its
//!   low mark.
//!
//! Run: `cargo run --example introspection`

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotp::actor::{self, Next, Trace, Traced};
use ferrotp::info::Behaviour;
use ferrotp::statem::{Context, Event, Init, StateMachine, Transition};
use ferrotp::{
    ExitReason, QueueMarks, ReplyTo, Runtime, monitor, process_info, receive, self_pid, spawn_link,
};

const T: Duration = Duration::from_secs(5);

/// A traffic light: its state name is what `process_info` shows.
struct Light;

#[derive(Clone, Debug, PartialEq)]
enum Colour {
    Red,
    Green,
    Yellow,
}

impl StateMachine for Light {
    type State = Colour;
    type Call = ReplyTo<Colour>;
    type Message = ();
    fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ExitReason> {
        Ok(Init::state(Colour::Red))
    }
    fn handle_event(
        &mut self,
        colour: &Colour,
        event: Event<ReplyTo<Colour>, ()>,
        _: &mut Context<Self>,
    ) -> Transition<Self> {
        match event {
            Event::Call(reply) => Transition::keep_state().reply(reply, colour.clone()),
            _ => Transition::next_state(match colour {
                Colour::Red => Colour::Green,
                Colour::Green => Colour::Yellow,
                Colour::Yellow => Colour::Red,
            }),
        }
    }
}

fn main() {
    // (length, long) for each report of the long-message-queue monitor.
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reports);
    let rt = Runtime::builder()
        .workers(2)
        .long_message_queue(Some(QueueMarks::new(100, 10)))
        .long_message_queue_hook(move |event| {
            seen.lock().unwrap().push((event.length, event.long));
        })
        .build()
        .expect("the runtime starts");

    let (light_states, relations, counts, traced) = rt.block_on(|| {
        // A state machine's state, as process_info shows it.
        let light = Light.start().unwrap();
        let mut light_states = Vec::new();
        for _ in 0..3 {
            light.cast(());
            light.call(|reply| reply, T).unwrap(); // the cast is handled by now
            let info = process_info(&light.pid()).unwrap();
            assert_eq!(info.behaviour, Some(Behaviour::StateMachine));
            light_states.push(info.state.unwrap());
        }

        // Links and monitors, seen from both ends.
        let me = self_pid();
        let worker = spawn_link(|| {
            receive::<()>();
        });
        monitor(&light.pid());
        let mine = process_info(&me).unwrap();
        let theirs = process_info(&worker).unwrap();
        let watched = process_info(&light.pid()).unwrap();
        let relations = (
            mine.links == [worker.clone()] && theirs.links == [me.clone()],
            mine.monitors == [light.pid()] && watched.monitored_by == [me.clone()],
        );
        ferrotp::send(&worker, ());

        // sys on a counter: suspended, 150 increments wait in its mailbox
        // (past the monitor's high mark of 100); its state is replaced;
        // resumed, it takes them all, in order, and drains below 10.
        let counter = actor::start(0u64, |n: u64, total| Next::Continue(total + n)).unwrap();
        counter.sys_suspend(T).unwrap();
        for _ in 0..150 {
            counter.send(1);
        }
        let while_suspended = counter.sys_get_state(|total: &u64| *total, T).unwrap();
        counter
            .sys_replace_state(|total: &mut u64| *total = 1_000, T)
            .unwrap();
        counter.sys_resume(T).unwrap();
        let after = counter.sys_get_state(|total: &u64| *total, T).unwrap();

        // A trace of what it handles, as messages to this process.
        let trace = Trace::to(self_pid()).describe(|n: &u64| format!("add {n}"));
        counter.sys_trace(Some(trace), T).unwrap();
        counter.send(2);
        counter.send(3);
        let traced = [receive::<Traced>().event, receive::<Traced>().event];
        counter.sys_trace(None, T).unwrap();
        (light_states, relations, (while_suspended, after), traced)
    });
    let reports = reports.lock().unwrap().clone();

    println!("light, after each cast: {light_states:?}");
    println!(
        "links both ways: {}, monitors both ways: {}",
        relations.0, relations.1
    );
    println!(
        "counter while suspended: {}, after resume: {}",
        counts.0, counts.1
    );
    println!("traced: {traced:?}");
    println!("long-message-queue reports (length, long): {reports:?}");

    assert_eq!(light_states, ["Green", "Yellow", "Red"]);
    assert_eq!(relations, (true, true));
    // Suspended: none of the 150 taken; replaced by 1,000; then all 150.
    assert_eq!(counts, (0, 1_150));
    assert_eq!(traced, ["add 2", "add 3"]);
    // Reported once long (at the high mark or a little past it: the
    // counter looks when it wakes), once drained (at the low mark or
    // below).
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports[0].1 && reports[0].0 >= 100, "{reports:?}");
    assert!(!reports[1].1 && reports[1].0 <= 10, "{reports:?}");
    println!("checked: state names, relations, sys, trace, the queue reports");
}
