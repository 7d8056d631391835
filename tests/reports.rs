//! Crash, supervisor and actor reports are `tracing` events naming the
//! process (its pid and name) and the reason, not the OS thread. One test
//! in its own binary: it installs the process-wide subscriber.

use std::collections::BTreeMap;
use std::time::Duration;

mod common;

use common::recorder;
use ferrotp::actor::{self, Next};
use ferrotp::{ExitReason, Runtime, SpawnOptions, Strategy, SupervisorSpec, spawn_opt, yield_now};
fn events_of(report: &str) -> Vec<BTreeMap<String, String>> {
    recorder::events()
        .iter()
        .filter(|e| e.get("report").map(String::as_str) == Some(report))
        .cloned()
        .collect()
}

#[test]
fn crashes_supervisors_and_actors_report_through_tracing_naming_the_process() {
    recorder::install();
    let rt = Runtime::builder().workers(2).build().unwrap();
    let (crashed, actor_pid) = rt.block_on(|| {
        let crashed = spawn_opt(SpawnOptions::new().register("session.7"), || {
            panic!("poisoned request")
        })
        .unwrap();
        while !crashed.has_exited() {
            yield_now();
        }
        // A supervisor that gives up at the first crash.
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .intensity(0, Duration::from_secs(60))
            .child(ferrotp::ChildSpec::worker("fragile", || {
                panic!("fragile failed")
            }))
            .start()
            .unwrap();
        while !sup.pid().has_exited() {
            yield_now();
        }
        // An actor sent a message of another type.
        let echo = actor::start((), |(), ()| Next::Continue(())).unwrap();
        ferrotp::send(&echo.pid(), "not a unit");
        echo.stop(ExitReason::Normal, Duration::from_secs(60))
            .unwrap();
        (crashed.to_string(), echo.pid().to_string())
    });

    let crashes = events_of("crash");
    let session = crashes
        .iter()
        .find(|e| e.get("pid") == Some(&crashed))
        .unwrap_or_else(|| panic!("no crash report for {crashed}: {crashes:?}"));
    assert_eq!(session["target"], "ferrotp");
    assert_eq!(session["level"], "ERROR");
    assert_eq!(session["name"], "session.7");
    let message = &session["message"];
    assert!(
        message.contains(&format!("process {crashed} (\"session.7\") panicked at"))
            && message.contains("poisoned request")
            && !message.contains("ferrotp-worker"),
        "{message}"
    );

    let supervisor = events_of("supervisor");
    assert_eq!(supervisor.len(), 1, "{supervisor:?}");
    assert!(
        supervisor[0]["message"].contains("child \"fragile\" ended (panic: fragile failed)"),
        "{supervisor:?}"
    );

    let actor = events_of("actor");
    assert_eq!(actor.len(), 1, "{actor:?}");
    assert_eq!(actor[0]["pid"], actor_pid);
    assert_eq!(actor[0]["level"], "WARN");
    assert!(actor[0]["message"].contains("of type &str"), "{actor:?}");
}
