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
