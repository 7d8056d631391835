//! Actors under supervisors (`ferrotp::actor::child`): started only once
//! init succeeded, an address that follows restarts, the restart window
//! (held, in order; handed over by a crashing incarnation; dead letters
//! once no replacement will come).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrotp::actor::{self, Next};
use ferrotp::{
    ChildSpec, ExitReason, Pid, ReplyTo, Runtime, Strategy, SupervisorSpec, receive, self_pid,
    send, whereis,
};

const LONG: Duration = Duration::from_secs(60);

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// A recorder: keeps what it is told, crashes on demand.
enum Recorder {
    Record(u32),
    Crash,
    Recorded(ReplyTo<(usize, Vec<u32>)>),
    /// Blocks the handler until a `()` comes.
    Block,
    /// Blocks the handler until a `()` comes, then panics.
    BlockThenCrash,
    /// Calls the actor's own address.
    CallMyself(ReplyTo<Result<(usize, Vec<u32>), ferrotp::CallError>>),
}

/// Starts a recorder whose incarnation `n` (from 1) reports `n` to
/// `report` as its init runs; incarnations after the first wait in init
/// for a `()` when `hold_init` is set.
fn recorder_child(
    report: Pid,
    incarnations: Arc<AtomicUsize>,
    hold_init: bool,
) -> (ferrotp::ChildSpec, actor::ActorRef<Recorder>) {
    recorder_child_named(report, incarnations, hold_init, Some("recorder"))
}

/// [`recorder_child`], registered under `name` if any. (A supervisor
/// killed brutally leaves its children to die of the link's signal: a
/// replacement supervisor that starts them again at once may find the
/// old child still holding the name, and OTP has that race too.)
fn recorder_child_named(
    report: Pid,
    incarnations: Arc<AtomicUsize>,
    hold_init: bool,
    name: Option<&'static str>,
) -> (ferrotp::ChildSpec, actor::ActorRef<Recorder>) {
    actor::child("recorder", move |builder| {
        let (report, incarnations) = (report.clone(), Arc::clone(&incarnations));
        let builder = match name {
            Some(name) => builder.name(name),
            None => builder,
        };
        builder.start_with(move |_| {
            let n = incarnations.fetch_add(1, Ordering::SeqCst) + 1;
            send(&report, (n, self_pid()));
            if hold_init && n > 1 {
                receive::<()>();
            }
            Ok(RecorderState {
                n,
                seen: Vec::new(),
            })
        })
    })
}

struct RecorderState {
    n: usize,
    seen: Vec<u32>,
}

impl actor::Actor for RecorderState {
    type Message = Recorder;
    fn handle(&mut self, message: Recorder, ctx: &mut actor::Context<Recorder>) -> Next {
        match message {
            Recorder::Record(x) => self.seen.push(x),
            Recorder::Crash => panic!("crash requested"),
            Recorder::Recorded(reply) => {
                reply.send((self.n, self.seen.clone()));
            }
            Recorder::Block => {
                receive::<()>();
            }
            Recorder::BlockThenCrash => {
                receive::<()>();
                panic!("crash after the go");
            }
            Recorder::CallMyself(reply) => {
                reply.send(ctx.myself().call(Recorder::Recorded, LONG));
            }
        }
        Next::CONTINUE
    }
}

#[test]
fn the_address_reaches_the_replacement_and_requests_queued_behind_a_crash_are_handed_over() {
    let rt = runtime();
    let (first, second) = rt.block_on(|| {
        let count = Arc::new(AtomicUsize::new(0));
        let (spec, recorder) = recorder_child(self_pid(), count, false);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start_link()
            .unwrap();
        assert_eq!(
            receive::<(usize, Pid)>().0,
            1,
            "started before start_link returned"
        );
        recorder.send(Recorder::Record(1));
        let first = recorder.call(Recorder::Recorded, LONG).unwrap();
        // Queued behind the crash: handed to the replacement, in order,
        // the call included.
        recorder.send(Recorder::Crash);
        recorder.send(Recorder::Record(2));
        recorder.send(Recorder::Record(3));
        let second = recorder.call(Recorder::Recorded, LONG).unwrap();
        sup.stop().unwrap();
        (first, second)
    });
    assert_eq!(first, (1, vec![1]));
    assert_eq!(
        second,
        (2, vec![2, 3]),
        "nothing lost but the crashing message"
    );
}

/// Messages sent while the replacement's init runs are held and reach it
/// first, in order.
#[test]
fn messages_sent_during_the_restart_window_are_held_and_delivered_in_order() {
    let rt = runtime();
    let recorded = rt.block_on(|| {
        let count = Arc::new(AtomicUsize::new(0));
        let (spec, recorder) = recorder_child(self_pid(), count, true);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start_link()
            .unwrap();
        let (_, first) = receive::<(usize, Pid)>();
        recorder.send(Recorder::Crash);
        // The replacement is in its init, waiting for a `()`.
        let (n, second) = receive::<(usize, Pid)>();
        assert_eq!(n, 2);
        assert!(first.has_exited());
        for x in 10..20 {
            recorder.send(Recorder::Record(x));
        }
        assert_eq!(whereis("recorder"), Some(second.clone()));
        send(&second, ());
        let recorded = recorder.call(Recorder::Recorded, LONG).unwrap();
        sup.stop().unwrap();
        recorded
    });
    assert_eq!(recorded, (2, (10..20).collect::<Vec<u32>>()));
}

/// The window holds [`actor::HOLD_LIMIT`] messages: those past it are
/// dead letters, counted one each, and the replacement gets the first
/// `HOLD_LIMIT`, in order.
#[test]
fn messages_past_the_hold_limit_are_dead_letters_counted() {
    const EXTRA: u32 = 7;
    let rt = runtime();
    let before = rt.metrics().dead_letters;
    let recorded = rt.block_on(|| {
        let count = Arc::new(AtomicUsize::new(0));
        let (spec, recorder) = recorder_child(self_pid(), count, true);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start_link()
            .unwrap();
        receive::<(usize, Pid)>();
        recorder.send(Recorder::Crash);
        let (_, second) = receive::<(usize, Pid)>();
        let limit = u32::try_from(actor::HOLD_LIMIT).unwrap();
        for x in 0..limit + EXTRA {
            recorder.send(Recorder::Record(x));
        }
        send(&second, ());
        // Until the replacement has taken the held messages, the window
        // is still full: a call's request cannot be held either (`NoProc`,
        // the request handed back, no dead letter).
        let recorded = loop {
            match recorder.call(Recorder::Recorded, LONG) {
                Ok(recorded) => break recorded,
                Err(ferrotp::CallError::NoProc) => ferrotp::yield_now(),
                Err(error) => panic!("{error}"),
            }
        };
        sup.stop().unwrap();
        recorded
    });
    let limit = u32::try_from(actor::HOLD_LIMIT).unwrap();
    assert_eq!(recorded, (2, (0..limit).collect::<Vec<u32>>()));
    assert_eq!(rt.metrics().dead_letters - before, u64::from(EXTRA));
}

/// Once the supervisor has given up, held messages and later sends are
/// dead letters (counted), and a call fails at once.
#[test]
fn when_no_replacement_will_come_held_messages_become_dead_letters() {
    let rt = runtime();
    let (reason, call) = rt.block_on(|| {
        let count = Arc::new(AtomicUsize::new(0));
        let (spec, recorder) = recorder_child(self_pid(), count, false);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(0, Duration::from_secs(60))
            .child(spec)
            .start()
            .unwrap();
        receive::<(usize, Pid)>();
        let sup_pid = sup.pid().clone();
        // Exit hooks run in registration order: the address's (registered
        // at the first start) before this monitor's Down.
        ferrotp::monitor(&sup_pid);
        recorder.send(Recorder::Crash);
        receive::<ferrotp::Down>();
        for x in 0..5 {
            recorder.send(Recorder::Record(x));
        }
        let call = recorder.call(Recorder::Recorded, LONG);
        (sup_pid.exit_reason().unwrap(), call)
    });
    // OTP: a supervisor past its restart intensity ends with `shutdown`.
    assert_eq!(reason, ExitReason::Shutdown);
    assert_eq!(call, Err(ferrotp::CallError::NoProc));
    assert!(
        rt.metrics().dead_letters >= 5,
        "{}",
        rt.metrics().dead_letters
    );
}

/// The supervisor counts the child started only once init succeeded; a
/// failed init is a failed start of the supervisor.
#[test]
fn a_failed_init_fails_the_supervisors_start() {
    let rt = runtime();
    let failed = rt.block_on(|| {
        let (spec, _never) = actor::child::<(), _>("broken", |builder| {
            builder.start_with(|_| {
                Err::<actor::Stateless<()>, _>(ExitReason::custom("missing config"))
            })
        });
        SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start()
            .map(|_| ())
    });
    let error = failed.unwrap_err();
    assert!(error.to_string().contains("missing config"), "{error}");
}

/// Under a dynamic supervisor (Elixir's `DynamicSupervisor`): the child
/// spec of `actor::child` is started on demand, and its address follows
/// its restarts there too.
#[test]
fn an_actor_started_under_a_dynamic_supervisor_keeps_its_address_across_a_restart() {
    let rt = runtime();
    let (first, second, children) = rt.block_on(|| {
        let sup = ferrotp::DynamicSupervisorSpec::new().start_link().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let (spec, recorder) = recorder_child(self_pid(), count, false);
        sup.start_child(spec).unwrap();
        receive::<(usize, Pid)>();
        recorder.send(Recorder::Record(1));
        let first = recorder.call(Recorder::Recorded, LONG).unwrap();
        recorder.send(Recorder::Crash);
        recorder.send(Recorder::Record(2));
        let second = recorder.call(Recorder::Recorded, LONG).unwrap();
        let children = sup.count_children().unwrap().active;
        sup.stop().unwrap();
        (first, second, children)
    });
    assert_eq!(first, (1, vec![1]));
    assert_eq!(second, (2, vec![2]));
    assert_eq!(children, 1);
}

/// Yields until `pid` waits (for a message, a reply).
fn wait_until_waiting(pid: &Pid) {
    while ferrotp::process_info(pid).map(|info| info.status)
        != Some(ferrotp::ProcessStatus::Waiting)
    {
        ferrotp::yield_now();
    }
}

/// A call held while the actor restarts learns at once when the
/// supervisor ends (no replacement will answer), whatever its timeout.
#[test]
fn a_held_call_ends_when_the_supervisor_ends() {
    let rt = runtime();
    let outcome = rt.block_on(|| {
        let count = Arc::new(AtomicUsize::new(0));
        let (spec, recorder) = recorder_child(self_pid(), count, true);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start()
            .unwrap();
        receive::<(usize, Pid)>();
        recorder.send(Recorder::Crash);
        receive::<(usize, Pid)>(); // the replacement waits in its init
        let me = self_pid();
        let caller = ferrotp::spawn(move || {
            send(&me, recorder.call(Recorder::Recorded, Duration::MAX));
        });
        wait_until_waiting(&caller);
        ferrotp::exit(sup.pid(), ExitReason::Kill);
        receive::<Result<(usize, Vec<u32>), ferrotp::CallError>>()
    });
    assert_eq!(outcome, Err(ferrotp::CallError::Exited(ExitReason::Killed)));
}

/// A supervisor restarted by its own supervisor starts the actor again:
/// its address holds messages across later restarts again (it was closed
/// for good by the first supervisor's end).
#[test]
fn the_address_holds_again_after_its_supervisor_was_restarted() {
    let rt = runtime();
    let recorded = rt.block_on(|| {
        let count = Arc::new(AtomicUsize::new(0));
        // Unnamed (see `recorder_child_named`).
        let (spec, recorder) = recorder_child_named(self_pid(), count, true, None);
        let inner = SupervisorSpec::new(Strategy::OneForOne).child(spec);
        let outer = SupervisorSpec::new(Strategy::OneForOne)
            .child(ChildSpec::supervisor("inner", inner))
            .start()
            .unwrap();
        receive::<(usize, Pid)>();
        let inner_pid = outer.which_children().unwrap()[0]
            .state
            .pid()
            .unwrap()
            .clone();
        ferrotp::monitor(&inner_pid);
        ferrotp::exit(&inner_pid, ExitReason::Kill);
        receive::<ferrotp::Down>();
        // The new inner supervisor started incarnation 2 (it waits in init).
        let (_, second) = receive::<(usize, Pid)>();
        send(&second, ());
        recorder.send(Recorder::Crash);
        let (_, third) = receive::<(usize, Pid)>();
        // Held while incarnation 3 waits in its init.
        for x in 0..3 {
            recorder.send(Recorder::Record(x));
        }
        send(&third, ());
        let recorded = recorder.call(Recorder::Recorded, LONG).unwrap();
        outer.stop().unwrap();
        recorded
    });
    assert_eq!(recorded, (3, vec![0, 1, 2]));
    assert_eq!(rt.metrics().dead_letters, 0);
}

/// one_for_all: a sibling shut down by the restart (not crashing) hands
/// its queued messages to its replacement too.
#[test]
fn a_sibling_shut_down_by_a_one_for_all_restart_hands_its_queue_over() {
    let rt = runtime();
    let recorded = rt.block_on(|| {
        let (a_spec, a) = recorder_child(self_pid(), Arc::new(AtomicUsize::new(0)), false);
        let b_count = Arc::new(AtomicUsize::new(0));
        let root = self_pid();
        let (b_spec, b) = actor::child("b", move |builder| {
            let (root, b_count) = (root.clone(), Arc::clone(&b_count));
            builder.start_with(move |_| {
                let n = b_count.fetch_add(1, Ordering::SeqCst) + 1;
                send(&root, ("b", n));
                Ok(RecorderState {
                    n,
                    seen: Vec::new(),
                })
            })
        });
        let sup = SupervisorSpec::new(Strategy::OneForAll)
            .child(a_spec)
            .child(b_spec)
            .start()
            .unwrap();
        receive::<(usize, Pid)>();
        receive::<(&str, usize)>();
        // B's handler blocks; three records queue behind it.
        b.send(Recorder::Block);
        let b_pid = b.pid();
        wait_until_waiting(&b_pid);
        for x in 1..=3 {
            b.send(Recorder::Record(x));
        }
        a.send(Recorder::Crash); // one_for_all: B is shut down too
        assert_eq!(receive::<(&str, usize)>(), ("b", 2));
        let recorded = b.call(Recorder::Recorded, LONG).unwrap();
        sup.stop().unwrap();
        recorded
    });
    assert_eq!(recorded, (2, vec![1, 2, 3]));
}

/// A supervised actor calling its own address gets `CalledSelf`, not a
/// wait for the timeout.
#[test]
fn a_supervised_actor_calling_itself_gets_called_self() {
    let rt = runtime();
    let outcome = rt.block_on(|| {
        let (spec, recorder) = recorder_child(self_pid(), Arc::new(AtomicUsize::new(0)), false);
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start()
            .unwrap();
        receive::<(usize, Pid)>();
        let outcome = recorder.call(Recorder::CallMyself, LONG).unwrap();
        sup.stop().unwrap();
        outcome
    });
    assert_eq!(outcome, Err(ferrotp::CallError::CalledSelf));
}

/// A bounded mailbox: a sender waiting for room when the actor crashes
/// gets its message back and holds it for the replacement, after the
/// queue handed over: no gap in its sequence.
#[test]
fn a_sender_waiting_for_room_when_the_actor_crashes_loses_nothing() {
    let rt = runtime();
    let recorded = rt.block_on(|| {
        let root = self_pid();
        let (spec, recorder) = actor::child("bounded", move |builder| {
            let root = root.clone();
            builder
                .spawn_options(ferrotp::SpawnOptions::new().mailbox_capacity(2))
                .start_with(move |_| {
                    send(&root, self_pid());
                    Ok(RecorderState {
                        n: 0,
                        seen: Vec::new(),
                    })
                })
        });
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start()
            .unwrap();
        let first = receive::<Pid>();
        recorder.send(Recorder::BlockThenCrash);
        wait_until_waiting(&first);
        recorder.send(Recorder::Record(1));
        recorder.send(Recorder::Record(2)); // the mailbox is full now
        let blocked = {
            let recorder = recorder.clone();
            ferrotp::spawn(move || recorder.send(Recorder::Record(3)))
        };
        wait_until_waiting(&blocked);
        ferrotp::scheduler::deliver_unless_ended(&first, ()).unwrap();
        receive::<Pid>(); // the replacement
        let recorded = recorder.call(Recorder::Recorded, LONG).unwrap();
        sup.stop().unwrap();
        recorded
    });
    assert_eq!(recorded, (0, vec![1, 2, 3]));
}

/// A supervised actor that calls its own address in its init (not yet
/// current: its messages are held for it) gets `CalledSelf` at once, not
/// a wait until the timeout.
#[test]
fn a_supervised_actor_calling_itself_in_init_gets_called_self() {
    let rt = runtime();
    let got = rt.block_on(|| {
        let me = self_pid();
        let (spec, _recorder) = actor::child("selfish", move |builder| {
            let me = me.clone();
            builder.start_with(move |ctx: &mut actor::Context<Recorder>| {
                let called = ctx.myself().call(Recorder::Recorded, LONG).map(|_| ());
                send(&me, called);
                Ok(RecorderState {
                    n: 1,
                    seen: Vec::new(),
                })
            })
        });
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start_link()
            .unwrap();
        let called = receive::<Result<(), ferrotp::CallError>>();
        sup.stop().unwrap();
        called
    });
    assert_eq!(got, Err(ferrotp::CallError::CalledSelf));
}
