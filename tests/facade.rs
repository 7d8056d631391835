//! The facade re-exports the workspace crates under stable paths.

use ferrotp::mailbox::{Mailbox, Pushed, Receiver, Wait};

#[test]
fn the_mailbox_is_reachable_through_the_facade() {
    let mailbox = Mailbox::new();
    let mut rx = Receiver::new(&mailbox);
    assert_eq!(rx.announce_wait(), Wait::Sleep);
    assert_eq!(mailbox.push("ping"), Ok(Pushed::WakeReceiver));
    assert_eq!(rx.pop(), Some("ping"));
}

/// The spawn variants a newcomer reaches for are at the top level: a
/// set-up that runs before the child (`spawn_with`), a linked and a
/// monitored spawn with options, and the link query.
#[test]
fn the_spawn_variants_are_reachable_at_the_top_level() {
    use ferrotp::{
        Down, ExitReason, SpawnOptions, is_linked, receive, run, self_pid, send, spawn_link_opt,
        spawn_monitor_opt, spawn_with,
    };
    let seen = run(|| {
        let me = self_pid();
        // The set-up runs before the child: its message is first.
        let child = spawn_with(
            SpawnOptions::new(),
            |pid| send(pid, "from the set-up"),
            move || send(&me, receive::<&str>()),
        )
        .unwrap();
        let first = receive::<&str>();
        let linked = spawn_link_opt(SpawnOptions::new(), || {
            receive::<()>();
        })
        .unwrap();
        let (watched, _watch) = spawn_monitor_opt(SpawnOptions::new(), || {}).unwrap();
        let down = receive::<Down>();
        (
            first,
            is_linked(&linked),
            is_linked(&child),
            down.pid == watched,
            down.reason,
        )
    })
    .unwrap();
    assert_eq!(
        seen,
        ("from the set-up", true, false, true, ExitReason::Normal)
    );
}

/// What a program reaches for beyond the prelude is at the top level too:
/// the types the runtime hands out (settings, metrics, long-schedule
/// reports), the settings' defaults and limits, and the calls for code
/// that may run outside a process or that catches unwinds.
#[test]
fn what_a_program_may_name_is_reachable_at_the_top_level() {
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::time::Duration;

    let rt = ferrotp::Runtime::builder()
        .workers(1)
        .environment([])
        .long_schedule(Some(ferrotp::DEFAULT_LONG_SCHEDULE))
        .long_schedule_hook(|_: ferrotp::LongSchedule| {})
        .build()
        .unwrap();
    let settings: &ferrotp::EffectiveSettings = rt.settings();
    assert_eq!(settings.stack_size, ferrotp::DEFAULT_STACK_SIZE);
    assert_eq!(settings.reductions, ferrotp::DEFAULT_REDUCTIONS);
    assert_eq!(settings.max_processes, ferrotp::DEFAULT_MAX_PROCESSES);
    assert_eq!(settings.busy_wait, ferrotp::DEFAULT_BUSY_WAIT);
    assert_eq!(settings.cleanup_timeout, ferrotp::DEFAULT_CLEANUP_TIMEOUT);
    assert_eq!(ferrotp::try_self_pid(), None);

    let (in_process, unwind_was_exit) = rt.block_on(|| {
        let in_process = ferrotp::try_self_pid() == Some(ferrotp::self_pid());
        let too_big = ferrotp::SpawnOptions::new().stack_size(ferrotp::MAX_STACK_SIZE + 1);
        assert_eq!(
            ferrotp::spawn_opt(too_big, || {}).unwrap_err(),
            ferrotp::SpawnError::StackSize {
                requested: ferrotp::MAX_STACK_SIZE + 1
            }
        );
        let grown =
            ferrotp::maybe_grow(2 * ferrotp::MAX_RED_ZONE, ferrotp::DEFAULT_STACK_SIZE, || 7);
        assert_eq!(grown, 7);
        let me = ferrotp::self_pid();
        let child = ferrotp::spawn(move || {
            let caught = catch_unwind(AssertUnwindSafe(|| {
                ferrotp::exit_self(ferrotp::ExitReason::custom("done"))
            }));
            let payload = caught.unwrap_err();
            ferrotp::send(&me, ferrotp::is_exit_unwind(payload.as_ref()));
            resume_unwind(payload);
        });
        let was_exit = ferrotp::receive::<bool>();
        let me = ferrotp::self_pid();
        child.on_exit(move |_| ferrotp::send(&me, ()));
        ferrotp::receive::<()>();
        (in_process, was_exit)
    });
    assert!(in_process && unwind_was_exit);
    // One worker: the child's exit was counted before the root process ran.
    let counts: ferrotp::ExitCounts = rt.metrics().workers[0].exits_by_reason.clone();
    assert_eq!(counts.custom, 1);

    assert_eq!(ferrotp::DEFAULT_INTENSITY, (1, Duration::from_secs(5)));
    assert_eq!(
        ferrotp::DEFAULT_WORKER_SHUTDOWN,
        ferrotp::Shutdown::Timeout(Duration::from_secs(5))
    );
}

/// A program written against the prelude alone: a supervised worker that
/// answers requests on a subject, crashes on demand and is restarted, and
/// a linked, trapped and monitored process, with no other import.
mod prelude_only {
    use ferrotp::prelude::*;
    use std::time::Duration;

    enum Request {
        Double(u64, Subject<u64>),
        Crash,
    }

    /// Registers itself, tells the test process (found by its name) that
    /// it is up, and serves.
    fn doubler() {
        register("doubler", &self_pid()).unwrap();
        send(&whereis("test").unwrap(), self_pid());
        loop {
            match receive::<Request>() {
                Request::Double(n, reply) => reply.send(2 * n),
                Request::Crash => panic!("asked to crash"),
            }
        }
    }

    fn ask(n: u64) -> Option<u64> {
        let reply = Subject::new();
        send(&whereis("doubler")?, Request::Double(n, reply.clone()));
        reply.receive_timeout(Duration::from_secs(5))
    }

    #[test]
    fn a_program_using_only_the_prelude_runs() {
        let seen = run(|| {
            register("test", &self_pid()).unwrap();
            let sup: Supervisor = SupervisorSpec::new(Strategy::OneForOne)
                .intensity(3, Duration::from_secs(5))
                .child(
                    ChildSpec::worker("doubler", doubler)
                        .restart(Restart::Permanent)
                        .shutdown(Shutdown::Timeout(Duration::from_secs(1))),
                )
                .start_link()
                .unwrap();
            let first = receive::<Pid>();
            let doubled = ask(21);

            // A crash: the monitor sees why, the supervisor restarts it.
            let watch: MonitorRef = monitor(&first);
            send(&first, Request::Crash);
            let down = receive::<Down>();
            assert_eq!(down.monitor, watch);
            let restarted = receive::<Pid>();
            let after_restart = ask(5);

            // Links carry exits; trapping turns them into messages.
            trap_exit(true);
            let linked = spawn_link(|| exit_self(ExitReason::custom("done")));
            let signal = receive::<Exit>();
            let (_, watched) = spawn_monitor(|| {});
            let normal = receive::<Down>();
            demonitor(&watched, Demonitor::Flush);

            sup.stop().unwrap();
            (
                doubled,
                down.reason,
                restarted != first,
                after_restart,
                signal.from == Some(linked),
                signal.reason,
                normal.reason,
            )
        })
        .unwrap();
        assert_eq!(
            seen,
            (
                Some(42),
                ExitReason::Panic("asked to crash".into()),
                true,
                Some(10),
                true,
                ExitReason::custom("done"),
                ExitReason::Normal,
            )
        );
    }
}
