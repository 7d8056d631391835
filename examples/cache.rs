//! A cache actor with a maximum size, registered under a name.
//!
//! * `Put(key, value)` is a cast; `Get(key, reply)` is a call.
//! * When a `Put` of a new key would make the cache larger than its
//!   `max_size`, it evicts the **least recently used** entry: the one
//!   whose last `Put` or `Get` is the oldest (not the oldest inserted: a
//!   `Get` keeps an entry fresh).
//! * `Keys` lists the keys, least recently used first, without using them:
//!   what the example checks the evictions with.
//! * The actor is started with `Builder::new().name("cache")`, so any
//!   process can find it with `ferrotp::whereis("cache")` (Elixir's
//!   `name: :cache`); the name is freed when it ends.
//!
//! Run: `cargo run --example cache`

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Duration;

use ferrotp::actor::{Actor, ActorRef, Builder, Context, Next};
use ferrotp::{Down, ExitReason, ReplyTo, monitor, receive, whereis};

/// How long a call waits for its reply.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The cache's messages, for keys `K` and values `V`.
enum Message<K, V> {
    Put(K, V),
    Get(K, ReplyTo<Option<V>>),
    Keys(ReplyTo<Vec<K>>),
    Stop,
}

/// The actor's state: the entries, and the order they were last used in.
struct Cache<K, V> {
    max_size: usize,
    /// Each key's value and the time of its last use.
    entries: HashMap<K, (V, u64)>,
    /// The keys by the time of their last use, least recent first.
    by_use: BTreeMap<u64, K>,
    /// The time: one tick per use.
    clock: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> Cache<K, V> {
    fn new(max_size: usize) -> Self {
        assert!(max_size > 0, "a cache holds at least one entry");
        Cache {
            max_size,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            clock: 0,
        }
    }

    fn get(&mut self, key: &K) -> Option<V> {
        let (value, used) = self.entries.get_mut(key)?;
        // A use: move the key to the most recent end.
        self.by_use.remove(used);
        self.clock += 1;
        *used = self.clock;
        self.by_use.insert(self.clock, key.clone());
        Some(value.clone())
    }

    fn put(&mut self, key: K, value: V) {
        self.clock += 1;
        if let Some((_, used)) = self.entries.insert(key.clone(), (value, self.clock)) {
            // A new value for a key already there: nothing to evict.
            self.by_use.remove(&used);
        }
        self.by_use.insert(self.clock, key);
        if self.entries.len() > self.max_size {
            let (_, least_recent) = self.by_use.pop_first().expect("the cache is not empty");
            self.entries.remove(&least_recent);
        }
    }
}

impl<K, V> Actor for Cache<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    type Message = Message<K, V>;

    fn handle(&mut self, message: Self::Message, _: &mut Context<Self::Message>) -> Next {
        match message {
            Message::Put(key, value) => self.put(key, value),
            Message::Get(key, reply) => {
                reply.send(self.get(&key));
            }
            Message::Keys(reply) => {
                reply.send(self.by_use.values().cloned().collect());
            }
            Message::Stop => return Next::stop(),
        }
        Next::CONTINUE
    }
}

/// The cache's keys, least recently used first.
fn keys(cache: &ActorRef<Message<&'static str, u32>>) -> Vec<&'static str> {
    cache
        .call(Message::Keys, TIMEOUT)
        .expect("the cache answers")
}

fn main() {
    ferrotp::run(|| {
        let cache = Builder::new()
            .name("cache")
            .start(Cache::<&str, u32>::new(3))
            .expect("the cache starts");
        let get = |key| cache.call(|reply| Message::Get(key, reply), TIMEOUT);

        cache.send(Message::Put("a", 1));
        cache.send(Message::Put("b", 2));
        cache.send(Message::Put("c", 3));
        let keys_now = keys(&cache);
        println!("put a, b, c: keys {keys_now:?} (least recently used first)");
        assert_eq!(keys_now, ["a", "b", "c"]);

        // A `Get` is a use: "a" becomes the most recently used.
        let a = get("a");
        let keys_now = keys(&cache);
        println!("get a: {a:?}; keys {keys_now:?}");
        assert_eq!(a, Ok(Some(1)));
        assert_eq!(keys_now, ["b", "c", "a"]);

        // A fourth key: the least recently used, "b", is evicted ("a" was
        // inserted first, but used since).
        cache.send(Message::Put("d", 4));
        let b = get("b");
        let keys_now = keys(&cache);
        println!("put d: evicts b (get b: {b:?}); keys {keys_now:?}");
        assert_eq!(b, Ok(None));
        assert_eq!(keys_now, ["c", "a", "d"]);

        // A new value for a key already there evicts nothing.
        cache.send(Message::Put("c", 30));
        let keys_now = keys(&cache);
        println!("put c again: evicts nothing; keys {keys_now:?}");
        assert_eq!(keys_now, ["a", "d", "c"]);

        cache.send(Message::Put("e", 5));
        let keys_now = keys(&cache);
        println!("put e: evicts a; keys {keys_now:?}");
        assert_eq!(keys_now, ["d", "c", "e"]);

        // By name: `whereis` gives the process's `Pid`, and `from_pid`
        // makes it a typed address again (taken on trust: nothing checks
        // that "cache" takes this message type).
        let pid = whereis("cache").expect("registered under \"cache\"");
        assert_eq!(pid, cache.pid());
        let by_name = ActorRef::<Message<&str, u32>>::from_pid(pid.clone());
        let c = by_name.call(|reply| Message::Get("c", reply), TIMEOUT);
        println!("whereis(\"cache\") = {pid}; get c through it: {c:?}");
        assert_eq!(c, Ok(Some(30)));

        // Stop it; once it has ended, its name is free.
        monitor(&pid);
        cache.send(Message::Stop);
        let down = receive::<Down>();
        assert_eq!(down.reason, ExitReason::Normal);
        println!("stopped; whereis(\"cache\") = {:?}", whereis("cache"));
        assert_eq!(whereis("cache"), None);
    })
    .expect("the runtime starts");
}
