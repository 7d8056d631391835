//! A registry (`ferrotp::registry`), as Elixir's `Registry` is used:
//! sessions found by user name (unique keys, taken as each session
//! starts: `{:via, Registry, name}`), and topics with subscribers
//! (duplicate keys, a value per subscription: pub/sub with `dispatch`).
//!
//! * Three sessions start under their user's name; a second session for
//!   the same user is refused.
//! * Each session subscribes to topics with a priority (the entry's
//!   value); a post goes to every subscriber, and an urgent one only to
//!   those who asked for urgent posts (`dispatch` with a filter on the
//!   value).
//! * A session that ends leaves the registry with all its keys.
//!
//! Run: `cargo run --example registry`

use std::time::Duration;

use ferrotp::actor::{Builder, Next, StartError};
use ferrotp::registry::{Keys, Registry};
use ferrotp::{ExitReason, ReplyTo, send, yield_now};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A subscription's value: which posts it wants.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Wants {
    Everything,
    UrgentOnly,
}

enum Session {
    Subscribe(&'static str, Wants),
    Post(String),
    Inbox(ReplyTo<Vec<String>>),
}

fn main() {
    let (refused, inboxes, left) = ferrotp::run(|| {
        let users: Registry<String> = Registry::new(Keys::Unique);
        let topics: Registry<&'static str, Wants> = Registry::new(Keys::Duplicate);

        let start = |name: &str| {
            let topics = topics.clone();
            Builder::new().via(users.via(name.to_owned(), ())).start_fn(
                Vec::new(),
                move |message, mut inbox: Vec<String>| {
                    match message {
                        // A process registers itself: the session, in its
                        // own handler.
                        Session::Subscribe(topic, wants) => {
                            topics.register(topic, wants).expect("duplicate keys")
                        }
                        Session::Post(post) => inbox.push(post),
                        Session::Inbox(reply) => {
                            reply.send(inbox.clone());
                        }
                    }
                    Next::Continue(inbox)
                },
            )
        };
        let ada = start("ada").unwrap();
        let bob = start("bob").unwrap();
        let cy = start("cy").unwrap();
        let refused = matches!(start("ada"), Err(StartError::InitFailed(_)));

        ada.send(Session::Subscribe("rust", Wants::Everything));
        bob.send(Session::Subscribe("rust", Wants::UrgentOnly));
        bob.send(Session::Subscribe("erlang", Wants::Everything));
        cy.send(Session::Subscribe("erlang", Wants::Everything));
        // Each session has taken its subscriptions once it answers.
        for session in [&ada, &bob, &cy] {
            session.call(Session::Inbox, TIMEOUT).unwrap();
        }

        let post = |topic: &'static str, text: &str, urgent: bool| {
            topics.dispatch(topic, |pid, wants| {
                if urgent || *wants == Wants::Everything {
                    send(pid, Session::Post(format!("{topic}: {text}")));
                }
            })
        };
        post("rust", "1.95 is out", false);
        post("rust", "security advisory", true);
        post("erlang", "OTP 29 is out", false);

        // Found by name, as a client would.
        let inbox_of = |name: &str| {
            let pid = users.whereis(name).expect("registered");
            ferrotp::actor::ActorRef::<Session>::from_pid(pid)
                .call(Session::Inbox, TIMEOUT)
                .unwrap()
        };
        let inboxes: Vec<(String, Vec<String>)> = ["ada", "bob", "cy"]
            .into_iter()
            .map(|name| (name.to_owned(), inbox_of(name)))
            .collect();

        // Bob leaves: his name and both subscriptions go.
        let bob_pid = bob.pid();
        bob.stop(ExitReason::Normal, TIMEOUT).unwrap();
        while !topics.keys(&bob_pid).is_empty() || users.whereis("bob").is_some() {
            yield_now();
        }
        let left = (
            topics.count_key("rust"),
            topics.count_key("erlang"),
            users.count(),
        );
        (refused, inboxes, left)
    })
    .expect("the runtime runs");

    for (name, inbox) in &inboxes {
        println!("{name}: {inbox:?}");
    }
    println!("a second session for ada refused: {refused}");
    println!(
        "after bob left: rust {}, erlang {}, users {}",
        left.0, left.1, left.2
    );

    assert!(refused);
    let expect = |name: &str, posts: &[&str]| {
        (
            name.to_owned(),
            posts
                .iter()
                .map(|post| (*post).to_owned())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        inboxes,
        vec![
            expect("ada", &["rust: 1.95 is out", "rust: security advisory"]),
            expect("bob", &["rust: security advisory", "erlang: OTP 29 is out"]),
            expect("cy", &["erlang: OTP 29 is out"]),
        ]
    );
    assert_eq!(left, (1, 1, 2));
    println!("checked: names, the refusal, dispatch by value, clean-up on exit");
}
