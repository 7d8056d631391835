//! The long-message-queue monitor (OTP 27's `long_message_queue`): exact
//! report counts across fill and drain cycles, per-process marks over the
//! runtime's, and no report when off. No sleeps: each process is told
//! when to fill and when to drain by messages, and it looks at its
//! mailbox only as it receives (module `messaging/long_queue.rs`).

use std::sync::{Arc, Mutex};

use ferrotp_scheduler::{
    LongMessageQueue, Pid, QueueMarks, Runtime, SpawnOptions, receive, receive_match, self_pid,
    send, spawn_opt,
};

/// What the hook saw: (pid, long, length).
type Log = Arc<Mutex<Vec<(Pid, bool, usize)>>>;

fn runtime(marks: Option<QueueMarks>) -> (Runtime, Log) {
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    let rt = Runtime::builder()
        .workers(2)
        .long_message_queue(marks)
        .long_message_queue_hook(move |event: LongMessageQueue| {
            seen.lock()
                .unwrap()
                .push((event.pid.clone(), event.long, event.length));
        })
        .build()
        .unwrap();
    (rt, log)
}

/// What the probe is told to do.
enum Step {
    /// Wait (selectively) for `Go`, letting `u64`s pile up.
    Hold,
    /// Take this many `u64`s, then report back.
    Take(usize),
}

struct Go;

/// A process that holds or drains its `u64`s as told, acknowledging each
/// step to `parent`.
fn probe(options: SpawnOptions, parent: Pid) -> Pid {
    spawn_opt(options, move || {
        loop {
            match receive_match::<Step>(|_| true) {
                Step::Hold => {
                    receive_match::<Go>(|_| true);
                }
                Step::Take(n) => {
                    for _ in 0..n {
                        receive::<u64>();
                    }
                }
            }
            send(&parent, ());
        }
    })
    .unwrap()
}

/// Fills the probe with `n` messages while it holds, then releases it.
fn fill(probe: &Pid, n: u64) {
    send(probe, Step::Hold);
    for i in 0..n {
        send(probe, i);
    }
    send(probe, Go);
    receive::<()>();
}

fn take(probe: &Pid, n: usize) {
    send(probe, Step::Take(n));
    receive::<()>();
}

/// Reported once per fill that reaches the high mark after a drain to the
/// low mark: a refill before such a drain is not reported again.
#[test]
fn reports_once_per_cycle_and_rearms_only_below_the_low_mark() {
    let (rt, log) = runtime(Some(QueueMarks::new(10, 3)));
    let pid = rt.block_on(|| {
        let probe = probe(SpawnOptions::new(), self_pid());
        // 1: fill to 12 (at least 10 seen): reported.
        fill(&probe, 12);
        // Drain to 5 (the looks see 12..=6): above the low mark.
        take(&probe, 7);
        // 2: refill to 5 + 12: still long, not reported again.
        fill(&probe, 12);
        // Drain all 17; the next receive (of `Step`) sees 0 or 1: drained.
        take(&probe, 17);
        // 3: fill again: reported a second time.
        fill(&probe, 10);
        take(&probe, 10);
        // 4: a fill below the high mark (with the two control messages:
        // at most 7 seen): nothing.
        fill(&probe, 5);
        take(&probe, 5);
        probe
    });
    let log = log.lock().unwrap();
    let changes: Vec<bool> = log.iter().map(|(_, long, _)| *long).collect();
    assert_eq!(changes, [true, false, true, false], "{log:?}");
    assert!(log.iter().all(|(p, _, _)| *p == pid));
    for (_, long, length) in log.iter() {
        if *long {
            assert!(*length >= 10, "{log:?}");
        } else {
            assert!(*length <= 3, "{log:?}");
        }
    }
}

/// A process's own marks win over the runtime's; `None` turns it off.
#[test]
fn spawn_options_override_the_runtime_marks() {
    let (rt, log) = runtime(Some(QueueMarks::new(100, 10)));
    let (own, off, default) = rt.block_on(|| {
        let me = self_pid();
        let own = probe(
            SpawnOptions::new().long_message_queue(Some(QueueMarks::new(4, 1))),
            me.clone(),
        );
        let off = probe(SpawnOptions::new().long_message_queue(None), me.clone());
        let default = probe(SpawnOptions::new(), me);
        for pid in [&own, &off, &default] {
            fill(pid, 20);
            take(pid, 20);
        }
        (own, off, default)
    });
    let log = log.lock().unwrap();
    let of = |pid: &Pid| -> Vec<bool> {
        log.iter()
            .filter(|(p, _, _)| p == pid)
            .map(|(_, long, _)| *long)
            .collect()
    };
    assert_eq!(of(&own), [true, false]);
    assert_eq!(of(&off), Vec::<bool>::new());
    // 20 is below the runtime's 100.
    assert_eq!(of(&default), Vec::<bool>::new());
}

/// Off by default: nothing is reported however long a mailbox gets.
#[test]
fn off_by_default() {
    let (rt, log) = runtime(None);
    rt.block_on(|| {
        let probe = probe(SpawnOptions::new(), self_pid());
        fill(&probe, 1000);
        take(&probe, 1000);
    });
    assert!(log.lock().unwrap().is_empty());
}

/// A `tracing` warning names the process and the marks when it becomes
/// long (not when it drains). The subscriber is process-wide: events of
/// the other tests' processes are told apart by their `pid` field.
#[test]
fn becoming_long_is_a_tracing_warning() {
    use std::collections::BTreeMap;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    static EVENTS: Mutex<Vec<BTreeMap<String, String>>> = Mutex::new(Vec::new());
    struct Recorder;
    struct Fields(BTreeMap<String, String>);
    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }
    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(BTreeMap::new());
            event.record(&mut fields);
            fields
                .0
                .insert("level".to_owned(), event.metadata().level().to_string());
            EVENTS.lock().unwrap().push(fields.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    tracing::subscriber::set_global_default(Recorder).unwrap();
    let (rt, _log) = runtime(Some(QueueMarks::new(5, 1)));
    let pid = rt.block_on(|| {
        let probe = probe(SpawnOptions::new().name("slow"), self_pid());
        fill(&probe, 6);
        take(&probe, 6);
        fill(&probe, 6);
        take(&probe, 6);
        probe
    });
    let events = EVENTS.lock().unwrap();
    let ours: Vec<&BTreeMap<String, String>> = events
        .iter()
        .filter(|e| e.get("pid") == Some(&pid.to_string()))
        .collect();
    assert_eq!(ours.len(), 2, "{events:?}");
    for event in ours {
        assert_eq!(event["report"], "long_message_queue");
        assert_eq!(event["level"], "WARN");
        assert_eq!(event["name"], "slow");
        assert!(event["message"].contains("high mark is 5"), "{event:?}");
    }
}
