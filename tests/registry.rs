//! The registry (`ferrotp::registry`): unique and duplicate keys,
//! values, lookups in registration order, pub/sub, entries removed on
//! exit, via names for actors, state machines and supervised children.

mod common;

use std::num::NonZeroUsize;
use std::time::Duration;

use common::{runtime, wait_exit};
use ferrotp::actor::{self, Builder, Next, StartError};
use ferrotp::registry::{AlreadyRegistered, Keys, Registry};
use ferrotp::{
    ExitReason, Pid, ReplyTo, Strategy, SupervisorSpec, receive, self_pid, send, spawn, yield_now,
};

const LONG: Duration = Duration::from_secs(60);

/// Spawns a process that registers `keys` (with values) and tells
/// `report` it has, then waits for a `()` before it ends.
fn holder<K, V>(registry: &Registry<K, V>, report: &Pid, keys: Vec<(K, V)>) -> Pid
where
    K: Eq + std::hash::Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let (registry, report) = (registry.clone(), report.clone());
    let pid = spawn(move || {
        let results: Vec<Result<(), AlreadyRegistered>> = keys
            .into_iter()
            .map(|(key, value)| registry.register(key, value))
            .collect();
        send(&report, results);
        receive::<()>();
    });
    receive::<Vec<Result<(), AlreadyRegistered>>>();
    pid
}

/// Yields until `done` holds (an exit hook runs just after the process
/// is seen to have ended).
fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        yield_now();
    }
}

#[test]
fn a_unique_key_names_one_living_process() {
    let (found, taken, value) = runtime(2).block_on(|| {
        let names: Registry<&str, u32> = Registry::new(Keys::Unique);
        let me = self_pid();
        let first = holder(&names, &me, vec![("db", 7)]);
        let found = names.whereis(&"db") == Some(first.clone());
        let names2 = names.clone();
        let me2 = me.clone();
        spawn(move || send(&me2, names2.register("db", 8)));
        let taken = receive::<Result<(), AlreadyRegistered>>();
        let value = names.lookup(&"db").to_vec();
        send(&first, ());
        (found, taken.map_err(|e| e.holder == first), value)
    });
    assert!(found);
    assert_eq!(taken, Err(true));
    assert_eq!(value.len(), 1);
    assert_eq!(value[0].1, 7);
}

#[test]
fn duplicate_keys_list_entries_in_registration_order() {
    let (order, keys, count) = runtime(2).block_on(|| {
        let topics: Registry<&str, &str> = Registry::new(Keys::Duplicate);
        let me = self_pid();
        let a = holder(
            &topics,
            &me,
            vec![("news", "a1"), ("news", "a2"), ("sport", "a3")],
        );
        let b = holder(&topics, &me, vec![("news", "b1")]);
        let order: Vec<(bool, &str)> = topics
            .lookup(&"news")
            .iter()
            .map(|(pid, value)| (*pid == a, *value))
            .collect();
        let mut keys = topics.keys(&a);
        keys.sort_unstable();
        let count = (
            topics.count(),
            topics.count_key(&"news"),
            topics.count_key(&"none"),
        );
        for pid in [&a, &b] {
            send(pid, ());
        }
        (order, keys, count)
    });
    assert_eq!(order, [(true, "a1"), (true, "a2"), (false, "b1")]);
    assert_eq!(keys, ["news", "news", "sport"]);
    assert_eq!(count, (4, 3, 0));
}

/// Elixir: "entries are removed when their process exits".
#[test]
fn a_processs_entries_go_when_it_ends() {
    let (before, after, keys) = runtime(2).block_on(|| {
        let registry: Registry<u32> = Registry::new(Keys::Duplicate);
        let me = self_pid();
        let pid = holder(&registry, &me, vec![(1, ()), (2, ()), (2, ())]);
        let stays = holder(&registry, &me, vec![(2, ())]);
        let before = registry.count();
        send(&pid, ());
        wait_exit(&pid);
        until(|| registry.count() == 1);
        let after: Vec<Pid> = registry.lookup(&2).iter().map(|(p, _)| p.clone()).collect();
        let keys = registry.keys(&pid);
        send(&stays, ());
        (before, after == [stays], keys)
    });
    assert_eq!(before, 4);
    assert!(after);
    assert!(keys.is_empty());
}

#[test]
fn unregister_removes_the_callers_own_entries() {
    let removed = runtime(2).block_on(|| {
        let registry: Registry<&str, u32> = Registry::new(Keys::Duplicate);
        let me = self_pid();
        let other = holder(&registry, &me, vec![("k", 0)]);
        for value in 1..=4 {
            registry.register("k", value).unwrap();
        }
        let odd = registry.unregister_match(&"k", |value| value % 2 == 1);
        let left_after_odd = registry.values(&"k", &me);
        let rest = registry.unregister(&"k");
        let again = registry.unregister(&"k");
        let others: Vec<u32> = registry.lookup(&"k").iter().map(|(_, v)| *v).collect();
        send(&other, ());
        (odd, left_after_odd, rest, again, others)
    });
    assert_eq!(removed, (2, vec![2, 4], 2, 0, vec![0]));
}

#[test]
fn match_values_and_update_value() {
    let (matched, updated, missing) = runtime(2).block_on(|| {
        let registry: Registry<&str, u32> = Registry::new(Keys::Duplicate);
        let me = self_pid();
        let other = holder(&registry, &me, vec![("load", 10), ("load", 30)]);
        registry.register("load", 20).unwrap();
        let mut matched: Vec<u32> = registry
            .match_values(&"load", |load| *load >= 20)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        matched.sort_unstable();
        let updated = registry.update_value(&"load", 25) && registry.values(&"load", &me) == [25];
        let missing = registry.update_value(&"none", 1);
        send(&other, ());
        (matched, updated, missing)
    });
    assert_eq!(matched, [20, 30]);
    assert!(updated);
    assert!(!missing);
}

/// Pub/sub: a send to a topic reaches every subscriber once.
#[test]
fn send_reaches_every_entry_once() {
    let (sent, mut got) = runtime(2).block_on(|| {
        let topics: Registry<&str, u32> = Registry::new(Keys::Duplicate);
        let me = self_pid();
        let mut subscribers = Vec::new();
        for id in 0..100u32 {
            let (topics, me) = (topics.clone(), me.clone());
            subscribers.push(spawn(move || {
                topics.register("t", id).unwrap();
                send(&me, ());
                let n: u64 = receive();
                send(&me, (id, n));
            }));
        }
        for _ in 0..100 {
            receive::<()>();
        }
        let sent = topics.send(&"t", 7u64);
        let got: Vec<(u32, u64)> = (0..sent).map(|_| receive()).collect();
        (sent, got)
    });
    got.sort_unstable();
    assert_eq!(sent, 100);
    assert_eq!(got, (0..100u32).map(|id| (id, 7u64)).collect::<Vec<_>>());
}

/// Many processes registering and unregistering at once, on every
/// partition: the final table is exact.
#[test]
fn concurrent_registrations_leave_an_exact_table() {
    let (count, per_key) = runtime(2).block_on(|| {
        let registry: Registry<u32, u32> =
            Registry::with_partitions(Keys::Duplicate, NonZeroUsize::new(4).unwrap());
        let me = self_pid();
        let mut pids = Vec::new();
        for p in 0..50u32 {
            let (registry, me) = (registry.clone(), me.clone());
            pids.push(spawn(move || {
                for key in 0..20u32 {
                    registry.register(key, p).unwrap();
                }
                for key in (0..20u32).step_by(2) {
                    assert_eq!(registry.unregister(&key), 1);
                }
                send(&me, ());
                receive::<()>();
            }));
        }
        for _ in 0..50 {
            receive::<()>();
        }
        let count = registry.count();
        let per_key: Vec<usize> = (0..20u32).map(|key| registry.count_key(&key)).collect();
        for pid in &pids {
            send(pid, ());
        }
        (count, per_key)
    });
    assert_eq!(count, 50 * 10);
    assert_eq!(
        per_key,
        (0..20)
            .map(|key| if key % 2 == 0 { 0 } else { 50 })
            .collect::<Vec<_>>()
    );
}

#[test]
fn registering_outside_a_process_panics_clearly() {
    let registry: Registry<u32> = Registry::new(Keys::Unique);
    let panicked =
        std::panic::catch_unwind(|| registry.register(1, ())).expect_err("outside a process");
    let message = panicked
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panicked.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(message.contains("outside"), "{message}");
    // Reads work anywhere.
    assert_eq!(registry.whereis(&1), None);
}

enum Room {
    Count(ReplyTo<u32>),
    Add(u32),
    Crash,
}

fn room(message: Room, n: u32) -> Next<u32> {
    match message {
        Room::Count(reply) => {
            reply.send(n);
            Next::Continue(n)
        }
        Room::Add(k) => Next::Continue(n + k),
        Room::Crash => panic!("room crashed"),
    }
}

/// `{:via, Registry, key}`: the actor holds the key while it lives; a
/// second start under it fails; the key is free once it ended.
#[test]
fn an_actor_started_via_a_key_holds_it_while_it_lives() {
    let (found, refused, freed, again) = runtime(2).block_on(|| {
        let rooms: Registry<String> = Registry::new(Keys::Unique);
        let lobby = Builder::new()
            .via(rooms.via("lobby".to_owned(), ()))
            .start_fn(0u32, room)
            .unwrap();
        let found = rooms.whereis(&"lobby".to_owned()) == Some(lobby.pid());
        let refused = Builder::new()
            .via(rooms.via("lobby".to_owned(), ()))
            .start_fn(0u32, room)
            .unwrap_err();
        lobby.stop(ExitReason::Normal, LONG).unwrap();
        until(|| rooms.whereis(&"lobby".to_owned()).is_none());
        let again = Builder::new()
            .via(rooms.via("lobby".to_owned(), ()))
            .start_fn(0u32, room)
            .map(|room| rooms.whereis(&"lobby".to_owned()) == Some(room.pid()));
        (found, refused, true, again)
    });
    assert!(found);
    let StartError::InitFailed(reason) = refused else {
        panic!("{refused:?}");
    };
    assert!(reason.to_string().contains("\"lobby\""), "{reason}");
    assert!(
        reason.to_string().contains("already registered"),
        "{reason}"
    );
    assert!(freed);
    assert_eq!(again, Ok(true));
}

/// A supervised actor registered via a key: each incarnation takes the
/// key again, so the key follows the restarts.
#[test]
fn a_supervised_actor_takes_its_key_again_on_restart() {
    let (first, second, count) = runtime(2).block_on(|| {
        let rooms: Registry<&str> = Registry::new(Keys::Unique);
        let registry = rooms.clone();
        let (spec, room_ref) = actor::child("room", move |builder| {
            builder.via(registry.via("room:1", ())).start_fn(0u32, room)
        });
        let sup = SupervisorSpec::new(Strategy::OneForOne)
            .child(spec)
            .start_link()
            .unwrap();
        let first = room_ref.pid();
        let first_found = rooms.whereis(&"room:1") == Some(first.clone());
        room_ref.send(Room::Add(2));
        room_ref.send(Room::Crash);
        wait_exit(&first);
        let count = room_ref.call(Room::Count, LONG).unwrap();
        let second = room_ref.pid();
        let second_found = rooms.whereis(&"room:1") == Some(second.clone());
        sup.stop().unwrap();
        (first_found, second_found && second != first, count)
    });
    assert!(first);
    assert!(second);
    // A new incarnation starts from its initial state.
    assert_eq!(count, 0);
}

/// A state machine takes a key the same way.
#[test]
fn a_state_machine_started_via_a_key_is_found_by_it() {
    use ferrotp::statem::{self, Context, Event, Init, StateMachine, Transition};
    struct Light;
    impl StateMachine for Light {
        type State = bool;
        type Call = ReplyTo<bool>;
        type Message = ();
        fn init(&mut self, _: &mut Context<Self>) -> Result<Init<Self>, ExitReason> {
            Ok(Init::state(false))
        }
        fn handle_event(
            &mut self,
            on: &bool,
            event: Event<ReplyTo<bool>, ()>,
            _: &mut Context<Self>,
        ) -> Transition<Self> {
            match event {
                Event::Call(reply) => Transition::keep_state().reply(reply, *on),
                _ => Transition::next_state(!on),
            }
        }
    }
    let on = runtime(2).block_on(|| {
        let lights: Registry<&str> = Registry::new(Keys::Unique);
        let light = statem::Builder::new()
            .via(lights.via("hall", ()))
            .start(Light)
            .unwrap();
        light.cast(());
        let found: statem::StatemRef<Light> =
            statem::StatemRef::from_pid(lights.whereis(&"hall").unwrap());
        found.call(|reply| reply, LONG).unwrap()
    });
    assert!(on);
}
