//! A `tracing` subscriber that panics on every event: reporting never
//! panics the process that reports, and a crash report (kept by the panic
//! hook, sent as the process ends) never aborts the program. One test in
//! its own binary: it installs the process-wide subscriber.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrotp::actor::{self, Next};
use ferrotp::{ReplyTo, Runtime, SpawnOptions, Strategy, SupervisorSpec, spawn_opt, yield_now};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

static EVENTS: AtomicUsize = AtomicUsize::new(0);

struct Panicking;

impl Subscriber for Panicking {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {
        EVENTS.fetch_add(1, Ordering::SeqCst);
        panic!("the subscriber fails");
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_panicking_subscriber_ends_no_process_and_aborts_nothing() {
    tracing::subscriber::set_global_default(Panicking).unwrap();
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (reason, answer, supervisor_end) = rt.block_on(|| {
        // A crash: its report goes to the subscriber as the process ends.
        let crashed = spawn_opt(SpawnOptions::new().name("crasher"), || panic!("crash")).unwrap();
        while !crashed.has_exited() {
            yield_now();
        }
        // An actor's warning, then the actor still answers.
        let echo = actor::start((), |reply: ReplyTo<u8>, ()| {
            reply.send(9);
            Next::Continue(())
        })
        .unwrap();
        ferrotp::send(&echo.pid(), "unexpected");
        let answer = echo.call(|reply| reply, Duration::from_secs(60));
        // A supervisor's report (a failed restart is retried).
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(1, Duration::from_secs(60))
            .child(ferrotp::ChildSpec::worker("once", || panic!("child fails")))
            .start()
            .unwrap();
        while !sup.pid().has_exited() {
            yield_now();
        }
        (
            crashed.exit_reason().unwrap(),
            answer,
            sup.pid().exit_reason().unwrap(),
        )
    });
    assert_eq!(reason, ferrotp::ExitReason::Panic("crash".into()));
    assert_eq!(answer, Ok(9));
    // Past its restart intensity (not crashed by its own reports).
    assert_eq!(supervisor_end, ferrotp::ExitReason::Shutdown);
    assert!(
        EVENTS.load(Ordering::SeqCst) >= 3,
        "{}",
        EVENTS.load(Ordering::SeqCst)
    );
}
