//! A chat server's rooms as process groups (`ferrotp::pg`): each
//! connected user is a process, each room a group. Users join rooms, a
//! line sent to a room reaches every member, and a user whose process
//! crashes is removed from its rooms by the runtime, with no clean-up
//! code of its own.
//!
//! The main process watches the room "rust" (`monitor`), so it sees
//! every join and leave, the crash's included, as `Change` messages in
//! the order they happened: that is also how it knows, without sleeping,
//! when the crashed user is gone.
//!
//! Run: `cargo run --example chat_groups`

use std::time::Duration;

use ferrotp::pg::{Change, ChangeKind, ProcessGroups};
use ferrotp::{Pid, receive, receive_timeout, self_pid, send, spawn};

/// A room's name.
type Room = &'static str;

/// What a user's process receives.
#[derive(Clone, Debug)]
enum ToUser {
    /// A line said in a room.
    Line {
        room: Room,
        from: &'static str,
        text: &'static str,
    },
    /// Its connection breaks: the process panics.
    Crash,
    /// The user logs out.
    Quit,
}

/// What a user's process tells the main process: it heard a line.
#[derive(Debug, PartialEq)]
struct Heard {
    user: &'static str,
    room: Room,
    text: &'static str,
}

/// A waiting limit that only a bug would reach.
const PATIENCE: Duration = Duration::from_secs(10);

/// Connects `user`: a process that joins `rooms` and then reports every
/// line it hears to `log`.
fn connect(rooms: &ProcessGroups<Room>, user: &'static str, joins: &[Room], log: &Pid) -> Pid {
    let (rooms, joins, log) = (rooms.clone(), joins.to_vec(), log.clone());
    spawn(move || {
        for room in joins {
            rooms
                .join(room, &self_pid())
                .expect("a running process can join");
        }
        send(&log, user); // joined everything
        loop {
            match receive::<ToUser>() {
                ToUser::Line { room, from, text } => {
                    println!("  {user:>5} sees  [{room}] {from}: {text}");
                    send(&log, Heard { user, room, text });
                }
                ToUser::Crash => panic!("{user}'s connection broke"),
                ToUser::Quit => return,
            }
        }
    })
}

/// Says `text` in `room`; waits until every member has reported it;
/// returns who heard it, sorted.
fn say(
    rooms: &ProcessGroups<Room>,
    room: Room,
    from: &'static str,
    text: &'static str,
) -> Vec<&'static str> {
    println!("[{room}] {from}: {text}");
    let reached = rooms.send_to_all(room, ToUser::Line { room, from, text });
    let mut heard: Vec<&'static str> = (0..reached)
        .map(|_| {
            let heard = receive_timeout::<Heard>(PATIENCE).expect("every member reports");
            assert_eq!((heard.room, heard.text), (room, text));
            heard.user
        })
        .collect();
    heard.sort_unstable();
    heard
}

fn main() {
    let summary = ferrotp::run(|| {
        let rooms = ProcessGroups::<Room>::new();
        let me = self_pid();
        let (watch, nobody) = rooms.monitor("rust");
        assert!(nobody.is_empty());

        let alice = connect(&rooms, "alice", &["rust", "erlang"], &me);
        let bob = connect(&rooms, "bob", &["rust"], &me);
        let carol = connect(&rooms, "carol", &["rust", "erlang"], &me);
        for _ in 0..3 {
            receive::<&'static str>(); // each has joined its rooms
        }
        // Three joins of "rust", seen in the order they happened.
        let joined: Vec<Pid> = (0..3)
            .flat_map(|_| {
                let change = receive::<Change<Room>>();
                assert_eq!(
                    (change.subscription, change.kind),
                    (watch, ChangeKind::Joined)
                );
                change.pids
            })
            .collect();
        let mut expected = vec![alice.clone(), bob.clone(), carol.clone()];
        let mut seen = joined.clone();
        seen.sort();
        expected.sort();
        assert_eq!(seen, expected);
        assert_eq!(
            rooms.members("rust"),
            joined,
            "members are listed in join order"
        );

        let first = say(&rooms, "rust", "alice", "has anyone tried ferrotp?");
        assert_eq!(first, ["alice", "bob", "carol"]);
        let erlang = say(&rooms, "erlang", "carol", "pg is how OTP does this");
        assert_eq!(erlang, ["alice", "carol"]);

        println!("carol's connection breaks");
        send(&carol, ToUser::Crash);
        let left = receive_timeout::<Change<Room>>(PATIENCE).expect("carol leaves");
        assert_eq!(
            (left.kind, left.pids.clone()),
            (ChangeKind::Left, vec![carol.clone()])
        );
        println!("  carol left [rust]: {}", carol.exit_reason().unwrap());
        // Her other room was cleaned up in the same step.
        assert_eq!(rooms.members("erlang"), std::slice::from_ref(&alice));
        // The others keep their places (the users joined concurrently,
        // so the order is whichever the changes showed).
        let remaining: Vec<Pid> = joined.into_iter().filter(|pid| *pid != carol).collect();
        assert_eq!(rooms.members("rust"), remaining);

        let second = say(&rooms, "rust", "bob", "carol? are you there?");
        assert_eq!(second, ["alice", "bob"]);

        for user in [&alice, &bob] {
            send(user, ToUser::Quit);
        }
        // Two more leaves; then the room is gone.
        for _ in 0..2 {
            assert_eq!(receive::<Change<Room>>().kind, ChangeKind::Left);
        }
        assert!(rooms.which_groups().is_empty());
        (first.len(), erlang.len(), second.len())
    })
    .unwrap();
    println!(
        "heard by: {} then {} then {} users",
        summary.0, summary.1, summary.2
    );
    assert_eq!(summary, (3, 2, 2));
}
