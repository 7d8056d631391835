//! Actors (`ferrotp::actor`): both styles, the start handshake and its
//! failures, terminate and the dropped state, names, selectors and
//! unexpected messages, idle timeouts, timers to oneself.

use std::rc::Rc;
use std::time::Duration;

use ferrotp::actor::{self, Actor, Builder, Context, Next, Selector, StartError, Stateless};
use ferrotp::{
    CallError, Down, ExitReason, Pid, ReplyTo, exit, monitor, receive, self_pid, send, spawn,
    whereis, yield_now,
};

const LONG: Duration = Duration::from_secs(60);

mod common;
use common::{DropToken, Drops, runtime, wait_exit};

enum Stack {
    Push(i32),
    Pop(ReplyTo<Option<i32>>),
    Shutdown,
    /// Held only to be dropped: counts the messages dropped unread.
    Token(#[allow(dead_code)] DropToken),
}

fn stack_handler(message: Stack, mut items: Vec<i32>) -> Next<Vec<i32>> {
    match message {
        Stack::Push(n) => {
            items.push(n);
            Next::Continue(items)
        }
        Stack::Pop(reply) => {
            reply.send(items.pop());
            Next::Continue(items)
        }
        Stack::Shutdown => Next::stop(),
        Stack::Token(_) => Next::Continue(items),
    }
}

/// Gleam's stack example, and `Stop` dropping what is still queued.
#[test]
fn a_closure_actor_keeps_its_state_and_stop_drops_the_rest_of_its_mailbox() {
    let rt = runtime(2);
    let drops = Drops::default();
    let (popped, empty, reason, late) = rt.block_on({
        let drops = drops.clone();
        move || {
            let stack = actor::start(Vec::new(), stack_handler).unwrap();
            for n in 1..=3 {
                stack.send(Stack::Push(n));
            }
            let popped = stack.call(Stack::Pop, LONG).unwrap();
            let _ = stack.call(Stack::Pop, LONG).unwrap();
            let _ = stack.call(Stack::Pop, LONG).unwrap();
            let empty = stack.call(Stack::Pop, LONG).unwrap();
            // Queued behind the stop: dropped unread as the actor ends.
            stack.send(Stack::Shutdown);
            stack.send(Stack::Token(drops.token()));
            stack.send(Stack::Token(drops.token()));
            let reason = wait_exit(&stack.pid());
            let late = stack.call(Stack::Pop, LONG);
            (popped, empty, reason, late)
        }
    });
    assert_eq!((popped, empty), (Some(3), None));
    assert_eq!(reason, ExitReason::Normal);
    assert_eq!(drops.count(), 2, "both queued messages were dropped");
    assert_eq!(late, Err(CallError::NoProc));
}

/// The GenServer style: init, handle with a context, terminate.
struct Counter {
    count: u64,
    log: Pid,
}

enum CounterMsg {
    Increment,
    Get(ReplyTo<u64>),
    Fail(String),
}

impl Actor for Counter {
    type Message = CounterMsg;

    fn init(&mut self, ctx: &mut Context<CounterMsg>) -> Result<(), ExitReason> {
        send(&self.log, format!("init {}", ctx.pid() == &self_pid()));
        Ok(())
    }

    fn handle(&mut self, message: CounterMsg, _: &mut Context<CounterMsg>) -> Next {
        match message {
            CounterMsg::Increment => self.count += 1,
            CounterMsg::Get(reply) => {
                reply.send(self.count);
            }
            CounterMsg::Fail(why) => return Next::Stop(ExitReason::custom(why)),
        }
        Next::CONTINUE
    }

    fn terminate(&mut self, reason: &ExitReason, _: &mut Context<CounterMsg>) {
        send(&self.log, format!("terminate {reason} at {}", self.count));
    }
}

#[test]
fn a_trait_actor_runs_init_handle_and_terminate_in_order() {
    let rt = runtime(2);
    let (count, reason, log) = rt.block_on(|| {
        let counter = Counter {
            count: 0,
            log: self_pid(),
        }
        .start()
        .unwrap();
        let first = receive::<String>(); // init ran before start returned
        counter.cast(CounterMsg::Increment);
        counter.cast(CounterMsg::Increment);
        let count = counter.call(CounterMsg::Get, LONG).unwrap();
        counter.send(CounterMsg::Fail("enough".into()));
        let reason = wait_exit(&counter.pid());
        (count, reason, vec![first, receive::<String>()])
    });
    assert_eq!(count, 2);
    assert_eq!(reason, ExitReason::custom("enough"));
    assert_eq!(log, ["init true", "terminate enough at 2"]);
}

#[test]
fn init_failure_panic_and_overrun_each_fail_the_start_clearly() {
    let rt = runtime(2);
    let (failed, panicked, overran, name_free) = rt.block_on(|| {
        let failed = Builder::<()>::new()
            .start_with(|_| Err::<Stateless<()>, _>(ExitReason::custom("no config")));
        let panicked =
            Builder::<()>::new().start_with(|_| -> Result<Stateless<()>, _> { panic!("bad init") });
        let overran = Builder::<()>::new()
            .name("slow")
            .init_timeout(Duration::from_millis(20))
            .start_with(|_| {
                receive::<()>(); // never comes
                Ok(Stateless::<()>::default())
            });
        // The half-started actor was killed and has ended: its name is free.
        (failed, panicked, overran, whereis("slow").is_none())
    });
    assert_eq!(
        failed.unwrap_err(),
        StartError::InitFailed(ExitReason::custom("no config"))
    );
    assert_eq!(
        panicked.unwrap_err(),
        StartError::InitPanicked("bad init".into())
    );
    let overran = overran.unwrap_err();
    assert_eq!(overran, StartError::InitTimeout(Duration::from_millis(20)));
    assert!(
        overran.to_string().contains("Builder::init_timeout"),
        "{overran}"
    );
    assert!(name_free);
}

#[test]
fn an_actor_started_under_a_name_is_found_by_it_and_frees_it_on_exit() {
    let rt = runtime(2);
    let (found, taken, freed) = rt.block_on(|| {
        let first = Builder::new()
            .name("unique")
            .start_fn((), |(), ()| Next::<()>::stop())
            .unwrap();
        let found = whereis("unique") == Some(first.pid());
        let taken = Builder::<()>::new()
            .name("unique")
            .start_fn((), |(), ()| Next::Continue(()));
        first.send(());
        wait_exit(&first.pid());
        (found, taken, whereis("unique").is_none())
    });
    assert!(found);
    assert!(matches!(taken, Err(StartError::Spawn(_))), "{taken:?}");
    assert!(freed);
}

/// A state made inside init need not be `Send`: an `Rc` lives in it, and
/// the actor's process never changes OS thread.
#[test]
fn a_state_made_in_init_may_be_not_send_and_stays_on_its_thread() {
    struct Local {
        shared: Rc<u64>,
        thread: std::thread::ThreadId,
    }
    impl Actor for Local {
        type Message = ReplyTo<(u64, bool)>;
        fn handle(&mut self, reply: Self::Message, _: &mut Context<Self::Message>) -> Next {
            reply.send((*self.shared, std::thread::current().id() == self.thread));
            Next::CONTINUE
        }
    }
    let rt = runtime(2);
    let answers = rt.block_on(|| {
        let local = Builder::new()
            .start_with(|_| {
                Ok(Local {
                    shared: Rc::new(7),
                    thread: std::thread::current().id(),
                })
            })
            .unwrap();
        // Busy neighbours, so the other worker looks for work to steal.
        for _ in 0..4 {
            spawn(|| {
                for _ in 0..200 {
                    yield_now();
                }
            });
        }
        let answers: Vec<(u64, bool)> = (0..200)
            .map(|_| local.call(|reply| reply, LONG).unwrap())
            .collect();
        exit(&local.pid(), ExitReason::Killed);
        answers
    });
    assert!(
        answers.iter().all(|&answer| answer == (7, true)),
        "{answers:?}"
    );
}

/// Terminate runs on a trapped exit signal from the parent (a
/// supervisor's shutdown); on a kill it does not, but the state is still
/// dropped, once: a resource it owns is released (the terminate gap that
/// Gleam's actor documents).
#[test]
fn shutdown_from_the_parent_runs_terminate_and_kill_still_drops_the_state() {
    struct Owner {
        _resource: DropToken,
        log: Pid,
    }
    impl Actor for Owner {
        type Message = ();
        fn handle(&mut self, (): (), _: &mut Context<()>) -> Next {
            Next::CONTINUE
        }
        fn terminate(&mut self, reason: &ExitReason, _: &mut Context<()>) {
            send(&self.log, reason.clone());
        }
    }
    let rt = runtime(2);
    let drops = Drops::default();
    let (terminated, shut_reason, killed_reason, log_len) = rt.block_on({
        let drops = drops.clone();
        move || {
            let me = self_pid();
            let trapping = Builder::new()
                .trap_exit(true)
                .start(Owner {
                    _resource: drops.token(),
                    log: me.clone(),
                })
                .unwrap();
            exit(&trapping.pid(), ExitReason::Shutdown);
            let terminated = receive::<ExitReason>();
            let shut_reason = wait_exit(&trapping.pid());

            let plain = Builder::new()
                .start(Owner {
                    _resource: drops.token(),
                    log: me,
                })
                .unwrap();
            exit(&plain.pid(), ExitReason::Killed);
            let killed_reason = wait_exit(&plain.pid());
            (
                terminated,
                shut_reason,
                killed_reason,
                ferrotp::mailbox_len(),
            )
        }
    });
    assert_eq!(terminated, ExitReason::Shutdown);
    assert_eq!(shut_reason, ExitReason::Shutdown);
    assert_eq!(killed_reason, ExitReason::Killed);
    assert_eq!(log_len, 0, "terminate did not run on the kill");
    assert_eq!(drops.count(), 2, "each state dropped exactly once");
}

/// Killing an actor blocked inside a handler (in a nested call) drops its
/// state once too.
#[test]
fn killing_an_actor_blocked_in_a_nested_call_drops_its_state_once() {
    let rt = runtime(2);
    let drops = Drops::default();
    let reason = rt.block_on({
        let drops = drops.clone();
        move || {
            let silent = spawn(|| {
                // Holds the request unanswered.
                let _request = receive::<ReplyTo<()>>();
                receive::<()>();
            });
            let blocked = actor::start(drops.token(), move |(), token| {
                let _ = ferrotp::call(&silent, |reply: ReplyTo<()>| reply, LONG);
                Next::Continue(token)
            })
            .unwrap();
            blocked.send(());
            while ferrotp::process_info(&blocked.pid()).unwrap().mailbox_len > 0
                || ferrotp::process_info(&blocked.pid()).unwrap().status
                    != ferrotp::ProcessStatus::Waiting
            {
                yield_now();
            }
            exit(&blocked.pid(), ExitReason::Killed);
            wait_exit(&blocked.pid())
        }
    });
    assert_eq!(reason, ExitReason::Killed);
    assert_eq!(drops.count(), 1);
}

enum Watcher {
    Watch(Pid),
    Gone(Down),
    Report(ReplyTo<(Vec<ExitReason>, u64)>),
}

struct WatcherState {
    gone: Vec<ExitReason>,
}

impl Actor for WatcherState {
    type Message = Watcher;
    fn handle(&mut self, message: Watcher, ctx: &mut Context<Watcher>) -> Next {
        match message {
            Watcher::Watch(pid) => {
                monitor(&pid);
            }
            Watcher::Gone(down) => self.gone.push(down.reason),
            Watcher::Report(reply) => {
                reply.send((self.gone.clone(), ctx.unexpected_messages()));
            }
        }
        Next::CONTINUE
    }
}

/// Selected types are mapped in; any other type is taken, counted and
/// dropped (nothing piles up in the mailbox).
#[test]
fn selected_messages_are_mapped_and_unexpected_ones_are_counted_not_kept() {
    let rt = runtime(2);
    let (gone, unexpected, mailbox) = rt.block_on(|| {
        let watcher = Builder::new()
            .selector(Selector::new().on(Watcher::Gone))
            .start(WatcherState { gone: Vec::new() })
            .unwrap();
        let child = spawn(|| {
            receive::<()>();
            panic!("child failed");
        });
        watcher.send(Watcher::Watch(child.clone()));
        // Sent to the raw pid: not the actor's type, not selected.
        send(&watcher.pid(), "increment");
        send(&watcher.pid(), 42u32);
        let (_, _) = watcher.call(Watcher::Report, LONG).unwrap();
        send(&child, ());
        wait_exit(&child);
        loop {
            let (gone, unexpected) = watcher.call(Watcher::Report, LONG).unwrap();
            if !gone.is_empty() {
                // Exact once it waits for its next message (it may still
                // be on its way there, on another worker).
                let mailbox = loop {
                    let info = ferrotp::process_info(&watcher.pid()).unwrap();
                    if info.status == ferrotp::ProcessStatus::Waiting {
                        break info.mailbox_len;
                    }
                    yield_now();
                };
                break (gone, unexpected, mailbox);
            }
            yield_now();
        }
    });
    assert_eq!(gone, vec![ExitReason::Panic("child failed".into())]);
    assert_eq!(unexpected, 2);
    assert_eq!(mailbox, 0);
}

/// `Next::ContinueTimeout`: a quiet spell runs the timeout handler; a
/// message in time does not.
#[test]
fn an_idle_timeout_runs_the_timeout_handler_only_after_a_quiet_spell() {
    let rt = runtime(1);
    let log = rt.block_on(|| {
        let me = self_pid();
        let to_me = me.clone();
        let idle = Builder::new()
            .start_fn_with_timeout(
                0u32,
                move |n: u32, _| {
                    send(&me, format!("message {n}"));
                    Next::ContinueTimeout(n, Duration::from_millis(5))
                },
                move |n| {
                    send(&to_me, format!("quiet after {n}"));
                    Next::stop()
                },
            )
            .unwrap();
        idle.send(1);
        let first = receive::<String>();
        let second = receive::<String>();
        wait_exit(&idle.pid());
        vec![first, second]
    });
    assert_eq!(log, ["message 1", "quiet after 1"]);
}

/// The counter GenServer with a `:tick` re-armed by `send_after` to
/// itself.
#[test]
fn a_tick_rearmed_with_send_after_keeps_coming() {
    enum Ticker {
        Tick,
        Ticks(ReplyTo<u32>),
    }
    struct Ticks(u32);
    impl Actor for Ticks {
        type Message = Ticker;
        fn init(&mut self, ctx: &mut Context<Ticker>) -> Result<(), ExitReason> {
            ctx.send_after(Duration::from_millis(1), Ticker::Tick);
            Ok(())
        }
        fn handle(&mut self, message: Ticker, ctx: &mut Context<Ticker>) -> Next {
            match message {
                Ticker::Tick => {
                    self.0 += 1;
                    if self.0 < 3 {
                        ctx.send_after(Duration::from_millis(1), Ticker::Tick);
                    }
                }
                Ticker::Ticks(reply) => {
                    reply.send(self.0);
                }
            }
            Next::CONTINUE
        }
    }
    let rt = runtime(2);
    let ticks = rt.block_on(|| {
        let ticker = Ticks(0).start().unwrap();
        loop {
            let ticks = ticker.call(Ticker::Ticks, LONG).unwrap();
            if ticks == 3 {
                break ticks;
            }
            ferrotp::sleep(Duration::from_millis(1));
        }
    });
    assert_eq!(ticks, 3);
}

#[test]
fn a_call_to_an_actor_that_panics_on_it_reports_the_panic() {
    let rt = runtime(2);
    let outcome = rt.block_on(|| {
        let fragile = actor::start((), |reply: ReplyTo<u8>, ()| {
            let _reply = reply;
            panic!("cannot answer")
        })
        .unwrap();
        fragile.call(|reply| reply, LONG)
    });
    assert_eq!(
        outcome,
        Err(CallError::Exited(ExitReason::Panic("cannot answer".into())))
    );
}

/// `Builder::link`: the actor is linked to its starter before it runs.
#[test]
fn a_linked_actor_takes_its_starter_down_with_it() {
    let rt = runtime(2);
    let reason = rt.block_on(|| {
        let starter = spawn(|| {
            let linked = Builder::new()
                .link(true)
                .start_fn((), |(), ()| Next::Stop(ExitReason::custom("broken")))
                .unwrap();
            linked.send(());
            receive::<()>();
        });
        wait_exit(&starter)
    });
    assert_eq!(reason, ExitReason::custom("broken"));
}

/// A state whose `Drop` panics, dropped by a kill's unwind: reported,
/// and the process ends `Killed`; the program is not aborted (a panic
/// escaping a destructor during an unwind would abort it).
#[test]
fn a_state_whose_drop_panics_during_a_kill_does_not_abort_the_program() {
    struct Explosive;
    impl Drop for Explosive {
        fn drop(&mut self) {
            panic!("boom in drop");
        }
    }
    let rt = runtime(2);
    let (killed, after) = rt.block_on(|| {
        let fragile = actor::start(Explosive, |(), state| Next::Continue(state)).unwrap();
        exit(&fragile.pid(), ExitReason::Killed);
        let killed = wait_exit(&fragile.pid());
        // The runtime goes on: another actor works.
        let echo = actor::start((), |reply: ReplyTo<u8>, ()| {
            reply.send(7);
            Next::Continue(())
        })
        .unwrap();
        (killed, echo.call(|reply| reply, LONG))
    });
    assert_eq!(killed, ExitReason::Killed);
    assert_eq!(after, Ok(7));
}

/// OTP's proc_lib: a failed linked start leaves no `Exit` message behind
/// in a starter that traps exits.
#[test]
fn a_failed_linked_start_leaves_no_exit_message_in_a_trapping_starter() {
    let rt = runtime(2);
    let (failures, left) = rt.block_on(|| {
        ferrotp::trap_exit(true);
        let failed = Builder::<()>::new()
            .link(true)
            .start_with(|_| Err::<Stateless<()>, _>(ExitReason::custom("no")));
        let panicked = Builder::<()>::new()
            .link(true)
            .start_with(|_| -> Result<Stateless<()>, _> { panic!("init") });
        let overran = Builder::<()>::new()
            .link(true)
            .init_timeout(Duration::from_millis(10))
            .start_with(|_| {
                receive::<()>();
                Ok(Stateless::<()>::default())
            });
        let failures = [failed, panicked, overran].map(|r| r.is_err());
        (failures, ferrotp::mailbox_len())
    });
    assert_eq!(failures, [true; 3]);
    assert_eq!(left, 0);
}

/// `ActorRef::stop` (GenServer's `stop`): terminate runs with the reason,
/// and it returns once the actor has ended; then `NoProc`.
#[test]
fn stop_runs_terminate_and_returns_once_the_actor_has_ended() {
    let rt = runtime(2);
    let (stopped, log, ended, again) = rt.block_on(|| {
        let counter = Counter {
            count: 0,
            log: self_pid(),
        }
        .start()
        .unwrap();
        let _init = receive::<String>();
        counter.send(CounterMsg::Increment);
        let stopped = counter.stop(ExitReason::custom("maintenance"), LONG);
        let ended = counter.pid().exit_reason();
        let again = counter.stop(ExitReason::Normal, LONG);
        (stopped, receive::<String>(), ended, again)
    });
    assert_eq!(stopped, Ok(()));
    assert_eq!(log, "terminate maintenance at 1");
    assert_eq!(ended, Some(ExitReason::custom("maintenance")));
    assert_eq!(again, Err(CallError::NoProc));
}

/// A selector's subject clause takes only messages of a subject owned by
/// the actor: a subject of another process (whose tags are its own) never
/// takes the actor's own subject's messages.
#[test]
fn a_subject_of_another_process_never_takes_the_actors_own_subject_messages() {
    use ferrotp::Subject;
    enum Msg {
        Foreign(u32),
        Own(u32),
        Report(ReplyTo<(Vec<u32>, Vec<u32>)>),
    }
    struct Sorter {
        foreign: Vec<u32>,
        own: Vec<u32>,
    }
    impl Actor for Sorter {
        type Message = Msg;
        fn init(&mut self, ctx: &mut Context<Msg>) -> Result<(), ExitReason> {
            let own: Subject<u32> = Subject::new();
            ctx.update_selector(|selector| selector.on_subject(&own, Msg::Own));
            for n in 100..103 {
                own.send(n);
            }
            Ok(())
        }
        fn handle(&mut self, message: Msg, _: &mut Context<Msg>) -> Next {
            match message {
                Msg::Foreign(n) => self.foreign.push(n),
                Msg::Own(n) => self.own.push(n),
                Msg::Report(reply) => {
                    reply.send((self.foreign.clone(), self.own.clone()));
                }
            }
            Next::CONTINUE
        }
    }
    let rt = runtime(2);
    let (foreign, own) = rt.block_on(|| {
        // The first subject of this process: the same tag as the actor's.
        let not_its_own: Subject<u32> = Subject::new();
        let sorter = Builder::new()
            .selector(Selector::new().on_subject(&not_its_own, Msg::Foreign))
            .start(Sorter {
                foreign: Vec::new(),
                own: Vec::new(),
            })
            .unwrap();
        sorter.call(Msg::Report, LONG).unwrap()
    });
    assert_eq!(foreign, Vec::<u32>::new());
    assert_eq!(own, vec![100, 101, 102]);
}

/// Gleam's `start_resource_owner`: the resource closes once, when its
/// lifetime ends (normally or by a panic), when the owner is killed, or
/// at once if the lifetime had already ended; a failed open closes
/// nothing.
#[test]
fn a_resource_owner_closes_once_on_every_way_out() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let closed = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&closed);
    let (after_normal, after_panic, after_kill, after_dead, failed, finals) =
        runtime(2).block_on(move || {
            let owner_of = |lifetime: &ferrotp::Pid| {
                let counted = Arc::clone(&counted);
                actor::start_resource_owner(
                    lifetime,
                    || Ok(7u32),
                    move |n| {
                        assert_eq!(n, 7);
                        counted.fetch_add(1, Ordering::SeqCst);
                    },
                )
                .unwrap()
            };
            let count = || counted.load(Ordering::SeqCst);

            let lifetime = spawn(|| {
                receive::<()>();
            });
            let (owner, resource) = owner_of(&lifetime);
            assert_eq!(resource, 7);
            assert_eq!(count(), 0);
            send(&lifetime, ());
            let normal = wait_exit(&owner);
            let after_normal = count();

            let lifetime = spawn(|| {
                receive::<()>();
                panic!("lifetime crashed");
            });
            let (owner, _) = owner_of(&lifetime);
            send(&lifetime, ());
            wait_exit(&owner);
            let after_panic = count();

            let lifetime = spawn(|| {
                receive::<()>();
            });
            let (owner, _) = owner_of(&lifetime);
            ferrotp::exit(&owner, ExitReason::Kill);
            let killed = wait_exit(&owner);
            let after_kill = count();
            send(&lifetime, ());

            let dead = spawn(|| {});
            wait_exit(&dead);
            let (owner, _) = owner_of(&dead);
            wait_exit(&owner);
            let after_dead = count();

            let failed = actor::start_resource_owner(
                &self_pid(),
                || Err::<u32, _>(ExitReason::custom("no such table")),
                |_| panic!("closed what never opened"),
            )
            .unwrap_err();
            (
                after_normal,
                after_panic,
                after_kill,
                after_dead,
                failed,
                (normal, killed),
            )
        });
    assert_eq!(
        (after_normal, after_panic, after_kill, after_dead),
        (1, 2, 3, 4)
    );
    assert_eq!(
        failed,
        StartError::InitFailed(ExitReason::custom("no such table"))
    );
    assert_eq!(finals, (ExitReason::Normal, ExitReason::Killed));
    assert_eq!(closed.load(Ordering::SeqCst), 4);
}

/// A state whose `Drop` panics, in a start that fails: the start's error
/// is init's (its panic, its reason), never an abort of the program (a
/// panic in a destructor during an unwind) nor the drop's panic.
#[test]
fn a_state_whose_drop_panics_cannot_abort_or_hide_a_failed_start() {
    struct Bomb {
        fail: bool,
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb dropped");
        }
    }
    impl Actor for Bomb {
        type Message = ();
        fn init(&mut self, _: &mut Context<()>) -> Result<(), ExitReason> {
            if self.fail {
                return Err(ExitReason::custom("no config"));
            }
            panic!("init panicked");
        }
        fn handle(&mut self, (): (), _: &mut Context<()>) -> Next {
            Next::CONTINUE
        }
    }
    let errors = runtime(2).block_on(|| {
        [false, true].map(|hibernate| {
            let panicked = Builder::new()
                .hibernate(hibernate)
                .start(Bomb { fail: false });
            let failed = Builder::new()
                .hibernate(hibernate)
                .start(Bomb { fail: true });
            (panicked.unwrap_err(), failed.unwrap_err())
        })
    });
    for (panicked, failed) in errors {
        assert_eq!(panicked, StartError::InitPanicked("init panicked".into()));
        assert_eq!(
            failed,
            StartError::InitFailed(ExitReason::custom("no config"))
        );
    }
}
