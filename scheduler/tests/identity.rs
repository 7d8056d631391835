//! Exit reasons and process identities.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread;

use ferrotp_scheduler::exit_reason::ExitReason;
use ferrotp_scheduler::process_id::ProcessId;

#[test]
fn exit_reasons_print_like_erlangs_and_classify() {
    let cases = [
        (ExitReason::Normal, "normal", true, true),
        (ExitReason::Shutdown, "shutdown", false, true),
        (ExitReason::Killed, "killed", false, false),
        (
            ExitReason::Panic("index out of bounds".into()),
            "panic: index out of bounds",
            false,
            false,
        ),
        (ExitReason::NoProc, "noproc", false, false),
        (ExitReason::StackOverflow, "stack overflow", false, false),
        (
            ExitReason::custom("timeout talking to db"),
            "timeout talking to db",
            false,
            false,
        ),
    ];
    for (reason, text, normal, clean) in cases {
        assert_eq!(reason.to_string(), text);
        assert_eq!(reason.is_normal(), normal, "{reason}");
        assert_eq!(reason.is_clean_stop(), clean, "{reason}");
        assert_eq!(reason.clone(), reason);
    }
}

#[test]
fn panic_payloads_become_messages() {
    let from = |payload: Box<dyn std::any::Any + Send>| ExitReason::from_panic(payload.as_ref());
    assert_eq!(
        from(Box::new("static message")),
        ExitReason::Panic(Arc::from("static message"))
    );
    assert_eq!(
        from(Box::new(String::from("formatted 7"))),
        ExitReason::Panic("formatted 7".into())
    );
    assert_eq!(
        from(Box::new(42u32)),
        ExitReason::Panic("panic with a non-string payload".into())
    );
}

#[test]
fn process_ids_are_unique_across_threads_and_ordered() {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(|| {
                (0..10_000)
                    .map(|_| ProcessId::next_local())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = HashSet::new();
    for handle in handles {
        let ids = handle.join().unwrap();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "each thread's ids increase"
        );
        for id in ids {
            assert_eq!(id.node(), 0);
            assert!(all.insert(id), "{id} handed out twice");
        }
    }
    assert_eq!(all.len(), 40_000);
}

#[test]
fn process_ids_print_with_node_number_and_serial() {
    assert_eq!(ProcessId::new(0, 1).to_string(), "<0.1.0>");
    assert_eq!(
        ProcessId::new(0, u64::from(u32::MAX) + 1).to_string(),
        "<0.0.1>"
    );
    assert!(
        ProcessId::new(0, 5) < ProcessId::new(1, 0),
        "node first, then number"
    );
}
