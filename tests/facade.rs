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
