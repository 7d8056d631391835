//! `ferrotp::process_info` in one call: links and monitors both ways, an
//! actor's or state machine's behaviour, a state machine's state name
//! after each transition; and the long-message-queue monitor on an
//! actor (hibernating and stackful).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotp::actor::{self, Builder, Next, Stateless};
use ferrotp::info::Behaviour;
use ferrotp::statem::{self, Context, Event, Init, StateMachine, Transition};
use ferrotp::{
    Demonitor, LongMessageQueue, Pid, QueueMarks, ReplyTo, Runtime, SpawnOptions, demonitor, link,
    monitor, process_info, receive, receive_match, self_pid, send, spawn, unlink,
};

use common::runtime;

const T: Duration = Duration::from_secs(10);

/// A traffic light: Red → Green → Yellow → Red on each `Tick`.
struct Light;

#[derive(Clone, Debug, PartialEq)]
enum Colour {
    Red,
    Green,
    Yellow,
}

enum Ask {
    Tick(ReplyTo<()>),
    Stay(ReplyTo<()>),
}

impl StateMachine for Light {
    type State = Colour;
    type Call = Ask;
    type Message = ();
    fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ferrotp::ExitReason> {
        Ok(Init::state(Colour::Red))
    }
    fn handle_event(
        &mut self,
        state: &Colour,
        event: Event<Ask, ()>,
        _: &mut Context<Self>,
    ) -> Transition<Self> {
        match event {
            Event::Call(Ask::Tick(reply)) => {
                let next = match state {
                    Colour::Red => Colour::Green,
                    Colour::Green => Colour::Yellow,
                    Colour::Yellow => Colour::Red,
                };
                Transition::next_state(next).reply(reply, ())
            }
            Event::Call(Ask::Stay(reply)) => Transition::keep_state().reply(reply, ()),
            _ => Transition::keep_state(),
        }
    }
}

#[test]
fn a_state_machine_reports_its_behaviour_and_exact_state_after_each_transition() {
    let rt = runtime(2);
    let seen = rt.block_on(|| {
        let light = Light.start().unwrap();
        let state = || {
            let info = process_info(&light.pid()).unwrap();
            assert_eq!(info.behaviour, Some(Behaviour::StateMachine));
            info.state.unwrap()
        };
        let mut seen = vec![state()];
        for _ in 0..3 {
            light.call(Ask::Tick, T).unwrap();
            seen.push(state());
        }
        light.call(Ask::Stay, T).unwrap();
        seen.push(state());
        seen
    });
    assert_eq!(seen, ["Red", "Green", "Yellow", "Red", "Red"]);
}

#[test]
fn a_stackful_state_machine_reports_its_state_too() {
    let rt = runtime(1);
    let (state, hibernated) = rt.block_on(|| {
        let light = statem::Builder::new()
            .hibernate(false)
            .start(Light)
            .unwrap();
        light.call(Ask::Tick, T).unwrap();
        let info = process_info(&light.pid()).unwrap();
        (info.state, info.hibernated)
    });
    assert_eq!((state.as_deref(), hibernated), (Some("Green"), false));
}

#[test]
fn actors_say_actor_and_plain_processes_say_nothing() {
    let rt = runtime(2);
    let (hibernating, stackful, plain) = rt.block_on(|| {
        let a = actor::start((), |(): (), ()| Next::Continue(())).unwrap();
        let b = Builder::<()>::new()
            .start_with(|_| Ok(Stateless::<()>::default()))
            .unwrap();
        let plain = spawn(|| {
            receive::<()>();
        });
        let info = |pid: &Pid| {
            let info = process_info(pid).unwrap();
            (info.behaviour, info.state)
        };
        let result = (info(&a.pid()), info(&b.pid()), info(&plain));
        send(&plain, ());
        result
    });
    assert_eq!(hibernating, (Some(Behaviour::Actor), None));
    assert_eq!(stackful, (Some(Behaviour::Actor), None));
    assert_eq!(plain, (None, None));
}

#[test]
fn links_and_monitors_both_ways_in_one_call() {
    let rt = runtime(2);
    rt.block_on(|| {
        let me = self_pid();
        let server = actor::start((), |(): (), ()| Next::Continue(())).unwrap();
        let pid = server.pid();
        link(&pid);
        let watch = monitor(&pid);
        let info = process_info(&pid).unwrap();
        assert_eq!(
            (info.links, info.monitors, info.monitored_by),
            (vec![me.clone()], vec![], vec![me.clone()])
        );
        let mine = process_info(&me).unwrap();
        assert_eq!(
            (mine.links, mine.monitors),
            (vec![pid.clone()], vec![pid.clone()])
        );
        unlink(&pid);
        demonitor(&watch, Demonitor::Flush);
        let info = process_info(&pid).unwrap();
        assert!(info.links.is_empty() && info.monitored_by.is_empty());
        let mine = process_info(&me).unwrap();
        assert!(mine.links.is_empty() && mine.monitors.is_empty());
    });
}

/// What the long-message-queue hook saw: (pid, long).
type Log = Arc<Mutex<Vec<(Pid, bool)>>>;

fn watched_runtime() -> (Runtime, Log) {
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    let rt = Runtime::builder()
        .workers(2)
        .long_message_queue_hook(move |event: LongMessageQueue| {
            seen.lock().unwrap().push((event.pid.clone(), event.long));
        })
        .build()
        .unwrap();
    (rt, log)
}

/// A gate an actor's handler waits at, so that its mailbox fills.
struct Gate;

enum Work {
    /// Wait at the gate (blocking inside the handler), then tell `to`.
    Hold(Pid),
    Item,
    /// Tell `to` that everything before this was handled.
    Sync(Pid),
}

fn work(message: Work, (): ()) -> Next<()> {
    match message {
        Work::Hold(to) => {
            receive_match::<Gate>(|_| true);
            send(&to, "released");
        }
        Work::Item => {}
        Work::Sync(to) => send(&to, "synced"),
    }
    Next::Continue(())
}

/// Two fill and drain cycles through an actor: reported long twice and
/// drained twice, whether it hibernates between messages or not.
#[test]
fn an_actor_with_a_long_queue_is_reported_once_per_cycle() {
    for hibernate in [true, false] {
        let (rt, log) = watched_runtime();
        let pid = rt.block_on(move || {
            let me = self_pid();
            let options = SpawnOptions::new().long_message_queue(Some(QueueMarks::new(8, 2)));
            let actor = Builder::new()
                .hibernate(hibernate)
                .spawn_options(options)
                .start_fn((), work)
                .unwrap();
            for _ in 0..2 {
                actor.send(Work::Hold(me.clone()));
                for _ in 0..20 {
                    actor.send(Work::Item);
                }
                send(&actor.pid(), Gate);
                assert_eq!(receive::<&str>(), "released");
                actor.send(Work::Sync(me.clone()));
                assert_eq!(receive::<&str>(), "synced");
            }
            actor.pid()
        });
        let log = log.lock().unwrap();
        let changes: Vec<bool> = log.iter().map(|(_, long)| *long).collect();
        assert_eq!(
            changes,
            [true, false, true, false],
            "hibernate: {hibernate}"
        );
        assert!(log.iter().all(|(p, _)| *p == pid));
    }
}

/// A state whose `Debug` panics, or calls `process_info` on its own
/// machine: the machine goes on, and its info shows a placeholder or
/// the text.
#[test]
fn a_state_debug_that_panics_or_looks_at_itself_does_not_hurt_its_machine() {
    #[derive(Clone, PartialEq)]
    enum Odd {
        Panics,
        LooksAtItself,
    }
    impl std::fmt::Debug for Odd {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Odd::Panics => panic!("debug boom"),
                Odd::LooksAtItself => {
                    let me = ferrotp::self_pid();
                    let known = ferrotp::process_info(&me).is_some();
                    write!(f, "LooksAtItself({known})")
                }
            }
        }
    }
    struct OddMachine;
    impl StateMachine for OddMachine {
        type State = Odd;
        type Call = ferrotp::ReplyTo<()>;
        type Message = ();
        fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ferrotp::ExitReason> {
            Ok(Init::state(Odd::Panics))
        }
        fn handle_event(
            &mut self,
            _: &Odd,
            event: Event<ferrotp::ReplyTo<()>, ()>,
            _: &mut Context<Self>,
        ) -> Transition<Self> {
            match event {
                Event::Call(reply) => Transition::keep_state().reply(reply, ()),
                _ => Transition::next_state(Odd::LooksAtItself),
            }
        }
    }
    let states = runtime(2).block_on(|| {
        let odd = OddMachine.start().unwrap();
        let first = process_info(&odd.pid()).unwrap().state;
        odd.cast(());
        odd.call(|reply| reply, Duration::from_secs(5)).unwrap();
        (first, process_info(&odd.pid()).unwrap().state)
    });
    assert_eq!(
        states,
        (
            Some("<its Debug panicked>".to_owned()),
            Some("LooksAtItself(true)".to_owned())
        )
    );
}
