//! The commands and the key space: what the server does with a request,
//! shared by the ferrotp server and its tokio twin so that the two differ
//! only in their runtime.
//!
//! # Design
//!
//! A request ([`Args`]) becomes a typed [`Command`] ([`Command::parse`]),
//! or the error Redis would answer: an unknown command, a wrong number of
//! arguments, a bad option. A [`Store`] is one shard of the key space: a
//! `HashMap` from key to value and optional deadline, with no locking and
//! no runtime in it; [`Store::execute`] runs a command on it and gives the
//! [`Reply`]. The key space is split over shards by a hash of the key
//! ([`shard_of`]); [`Route::of`] tells a server where a request goes: its
//! reply at once (`PING`, an error), one shard, or (`DEL` and `MGET` of
//! keys on several shards) a part for each shard and how to [`Join`] the
//! parts' replies. A multi-key command is therefore atomic per shard, not
//! across shards.
//!
//! Keys expire lazily: a key whose deadline has passed is removed when a
//! command touches it, and [`Store::sweep_expired`], which a shard may
//! call from a timer, removes the others. Time is an argument
//! (`now: Instant`), so that the tests move it instead of sleeping.
//!
//! The commands, with Redis's replies and errors: `PING [message]`,
//! `GET key`, `SET key value [NX | XX] [GET] [EX seconds | PX
//! milliseconds | KEEPTTL]`, `DEL key [key ...]`, `INCR key`, `MGET key
//! [key ...]`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::resp::{Args, Reply, parse_i64};

/// A command, its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `PING [message]`: `+PONG`, or the message back.
    Ping(Option<Vec<u8>>),
    /// `GET key`: its value, or null.
    Get(Vec<u8>),
    /// `SET key value [options]`.
    Set(Set),
    /// `DEL key...`: how many of them existed.
    Del(Vec<Vec<u8>>),
    /// `INCR key`: the value plus one (a missing key counts as 0).
    Incr(Vec<u8>),
    /// `MGET key...`: their values (null for each missing one).
    MGet(Vec<Vec<u8>>),
}

/// `SET`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// The key.
    pub key: Vec<u8>,
    /// Its new value.
    pub value: Vec<u8>,
    /// When to set it.
    pub condition: Condition,
    /// What becomes of the key's time to live.
    pub expiry: Expiry,
    /// `GET`: reply with the old value instead of `OK`.
    pub get: bool,
}

/// `SET`'s `NX` and `XX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Neither: always.
    Always,
    /// `NX`: only if the key does not exist.
    IfAbsent,
    /// `XX`: only if it exists.
    IfPresent,
}

/// `SET`'s `EX`, `PX` and `KEEPTTL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// None given: the key lives until deleted (an old deadline is dropped).
    Never,
    /// `EX` or `PX`: the key expires this long after the command.
    After(Duration),
    /// `KEEPTTL`: the key keeps its deadline, if any.
    Keep,
}

/// Redis's answer to an integer argument or value that is not one.
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";

fn syntax_error() -> Reply {
    Reply::error("ERR syntax error")
}

fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// Redis 7's answer to an unknown command: its name and the start of its
/// arguments, each cut to keep the message within 128 bytes or so.
fn unknown_command(args: &Args) -> Reply {
    let name = &args[0][..args[0].len().min(128)];
    let mut listed = String::new();
    for arg in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push('\'');
        listed.push_str(&String::from_utf8_lossy(&arg[..arg.len().min(room)]));
        listed.push_str("' ");
    }
    Reply::error(format!(
        "ERR unknown command '{}', with args beginning with: {listed}",
        String::from_utf8_lossy(name)
    ))
}

impl Command {
    /// The command `args` ask for, or the error reply Redis gives for them.
    ///
    /// # Errors
    /// The reply to send instead: an unknown command, a wrong number of
    /// arguments, `SET`'s syntax and expire-time errors.
    ///
    /// # Panics
    /// If `args` is empty (a decoded request never is).
    pub fn parse(args: Args) -> Result<Command, Reply> {
        let name = args[0].to_ascii_lowercase();
        let is = |known: &str| name == known.as_bytes();
        let arity = |ok: bool, known: &str| if ok { Ok(()) } else { Err(wrong_arity(known)) };
        if !["get", "set", "mget", "del", "incr", "ping"]
            .iter()
            .any(|&known| is(known))
        {
            return Err(unknown_command(&args));
        }
        let mut args = args.into_iter();
        if is("get") {
            arity(args.len() == 2, "get")?;
            Ok(Command::Get(args.nth(1).expect("checked")))
        } else if is("set") {
            arity(args.len() >= 3, "set")?;
            Set::parse(args.skip(1)).map(Command::Set)
        } else if is("mget") {
            arity(args.len() >= 2, "mget")?;
            Ok(Command::MGet(args.skip(1).collect()))
        } else if is("del") {
            arity(args.len() >= 2, "del")?;
            Ok(Command::Del(args.skip(1).collect()))
        } else if is("incr") {
            arity(args.len() == 2, "incr")?;
            Ok(Command::Incr(args.nth(1).expect("checked")))
        } else if is("ping") {
            arity(args.len() <= 2, "ping")?;
            Ok(Command::Ping(args.nth(1)))
        } else {
            unreachable!("a known command")
        }
    }
}

impl Set {
    /// `key value [options]`, as Redis 7 reads them: options in any
    /// order, a conflicting or unknown one a syntax error, then the
    /// expire time checked.
    fn parse(mut args: impl Iterator<Item = Vec<u8>>) -> Result<Set, Reply> {
        let key = args.next().expect("arity checked");
        let value = args.next().expect("arity checked");
        let mut condition = Condition::Always;
        let mut get = false;
        let mut keep_ttl = false;
        // The unit (1 for PX, 1000 for EX) and the argument.
        let mut expire: Option<(u64, Vec<u8>)> = None;
        while let Some(option) = args.next() {
            let is = |known: &str| option.eq_ignore_ascii_case(known.as_bytes());
            if is("nx") && condition != Condition::IfPresent {
                condition = Condition::IfAbsent;
            } else if is("xx") && condition != Condition::IfAbsent {
                condition = Condition::IfPresent;
            } else if is("get") {
                get = true;
            } else if is("keepttl") && expire.is_none() {
                keep_ttl = true;
            } else if (is("ex") || is("px")) && !keep_ttl && expire.is_none() {
                let unit = if is("ex") { 1000 } else { 1 };
                let Some(amount) = args.next() else {
                    return Err(syntax_error());
                };
                expire = Some((unit, amount));
            } else {
                return Err(syntax_error());
            }
        }
        let expiry = match expire {
            None if keep_ttl => Expiry::Keep,
            None => Expiry::Never,
            Some((unit, amount)) => {
                let amount = parse_i64(&amount).ok_or(Reply::error(NOT_AN_INTEGER))?;
                let millis = u64::try_from(amount)
                    .ok()
                    .filter(|&n| n > 0)
                    .and_then(|n| n.checked_mul(unit))
                    .filter(|&n| n <= i64::MAX as u64)
                    .ok_or(Reply::error("ERR invalid expire time in 'set' command"))?;
                Expiry::After(Duration::from_millis(millis))
            }
        };
        Ok(Set {
            key,
            value,
            condition,
            expiry,
            get,
        })
    }
}

/// A value and its deadline.
#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    expires_at: Option<Instant>,
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// One shard of the key space (module docs).
#[derive(Debug, Default)]
pub struct Store {
    entries: HashMap<Vec<u8>, Entry>,
    /// How many entries have a deadline: the sweep has nothing to do at 0.
    expiring: usize,
}

impl Store {
    /// An empty shard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys held, expired ones not yet removed included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Runs `command` at time `now`.
    pub fn execute(&mut self, command: Command, now: Instant) -> Reply {
        match command {
            Command::Ping(None) => Reply::Simple("PONG".into()),
            Command::Ping(Some(message)) => Reply::Bulk(message),
            Command::Get(key) => self.value(&key, now).map_or(Reply::Null, Reply::Bulk),
            Command::MGet(keys) => Reply::Array(
                keys.iter()
                    .map(|key| self.value(key, now).map_or(Reply::Null, Reply::Bulk))
                    .collect(),
            ),
            Command::Set(set) => self.set(set, now),
            Command::Del(keys) => {
                let removed = keys.iter().filter(|key| self.remove_live(key, now)).count();
                Reply::Integer(removed as i64)
            }
            Command::Incr(key) => self.incr(key, now),
        }
    }

    /// Removes the entries whose deadline has passed; how many.
    pub fn sweep_expired(&mut self, now: Instant) -> usize {
        if self.expiring == 0 {
            return 0;
        }
        let before = self.entries.len();
        self.entries.retain(|_, entry| entry.is_live(now));
        let removed = before - self.entries.len();
        self.expiring -= removed;
        removed
    }

    /// The live entry under `key`; an expired one is removed.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Entry> {
        let live = self.entries.get(key)?.is_live(now);
        if !live {
            self.remove(key);
            return None;
        }
        self.entries.get_mut(key)
    }

    fn value(&mut self, key: &[u8], now: Instant) -> Option<Vec<u8>> {
        self.live(key, now).map(|entry| entry.value.clone())
    }

    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.expiring -= usize::from(entry.expires_at.is_some());
        Some(entry)
    }

    /// Removes `key`; whether it was live.
    fn remove_live(&mut self, key: &[u8], now: Instant) -> bool {
        self.remove(key).is_some_and(|entry| entry.is_live(now))
    }

    fn insert(&mut self, key: Vec<u8>, entry: Entry) {
        self.expiring += usize::from(entry.expires_at.is_some());
        if let Some(old) = self.entries.insert(key, entry) {
            self.expiring -= usize::from(old.expires_at.is_some());
        }
    }

    fn set(&mut self, set: Set, now: Instant) -> Reply {
        let mut old = self.live(&set.key, now);
        let allowed = match set.condition {
            Condition::Always => true,
            Condition::IfAbsent => old.is_none(),
            Condition::IfPresent => old.is_some(),
        };
        let old_reply = |old: Option<&mut Entry>| {
            old.map_or(Reply::Null, |entry| Reply::Bulk(entry.value.clone()))
        };
        if !allowed {
            return if set.get { old_reply(old) } else { Reply::Null };
        }
        let reply = if set.get {
            old_reply(old.as_deref_mut())
        } else {
            Reply::OK
        };
        let expires_at = match set.expiry {
            Expiry::Never => None,
            // A deadline past what `Instant` holds is no deadline.
            Expiry::After(after) => now.checked_add(after),
            Expiry::Keep => old.and_then(|entry| entry.expires_at),
        };
        self.insert(
            set.key,
            Entry {
                value: set.value,
                expires_at,
            },
        );
        reply
    }

    fn incr(&mut self, key: Vec<u8>, now: Instant) -> Reply {
        match self.live(&key, now) {
            None => {
                let entry = Entry {
                    value: b"1".to_vec(),
                    expires_at: None,
                };
                self.insert(key, entry);
                Reply::Integer(1)
            }
            // The deadline is kept, as in Redis.
            Some(entry) => match parse_i64(&entry.value) {
                None => Reply::error(NOT_AN_INTEGER),
                Some(n) => match n.checked_add(1) {
                    None => Reply::error("ERR increment or decrement would overflow"),
                    Some(n) => {
                        entry.value = n.to_string().into_bytes();
                        Reply::Integer(n)
                    }
                },
            },
        }
    }
}

/// The shard that holds `key`, of `shards` (FNV-1a: fast on short keys,
/// and the same in every process and run).
pub fn shard_of(key: &[u8], shards: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % shards as u64) as usize
}

/// Where a request goes in a key space of several shards (module docs).
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Answered without the key space: `PING`, or an error.
    Reply(Reply),
    /// The whole command, for one shard.
    Shard(usize, Command),
    /// A part for each shard concerned, and how to join their replies
    /// (given in the parts' order).
    Split(Vec<(usize, Command)>, Join),
}

/// How the replies of a split command's parts make its reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Join {
    /// `DEL`: the sum of the parts' counts.
    Sum,
    /// `MGET`: for each key in the request's order, the part that has it
    /// and its place in that part's array.
    Gather(Vec<(usize, usize)>),
}

impl Route {
    /// Where `args` go among `shards` shards (at least one).
    pub fn of(args: Args, shards: usize) -> Route {
        match Command::parse(args) {
            Err(reply) => Route::Reply(reply),
            Ok(Command::Ping(None)) => Route::Reply(Reply::Simple("PONG".into())),
            Ok(Command::Ping(Some(message))) => Route::Reply(Reply::Bulk(message)),
            Ok(Command::Get(key)) => Route::Shard(shard_of(&key, shards), Command::Get(key)),
            Ok(Command::Incr(key)) => Route::Shard(shard_of(&key, shards), Command::Incr(key)),
            Ok(Command::Set(set)) => Route::Shard(shard_of(&set.key, shards), Command::Set(set)),
            Ok(Command::Del(keys)) => Self::split(keys, shards, Command::Del, |_| Join::Sum),
            Ok(Command::MGet(keys)) => Self::split(keys, shards, Command::MGet, Join::Gather),
        }
    }

    /// `keys` grouped by shard into commands made by `command`; one shard
    /// gets the whole command.
    fn split(
        keys: Vec<Vec<u8>>,
        shards: usize,
        command: fn(Vec<Vec<u8>>) -> Command,
        join: fn(Vec<(usize, usize)>) -> Join,
    ) -> Route {
        let first = shard_of(&keys[0], shards);
        if keys.iter().all(|key| shard_of(key, shards) == first) {
            return Route::Shard(first, command(keys));
        }
        // (shard, its keys), in order of first appearance.
        let mut parts: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
        let mut places = Vec::with_capacity(keys.len());
        for key in keys {
            let shard = shard_of(&key, shards);
            let part = match parts.iter().position(|(s, _)| *s == shard) {
                Some(part) => part,
                None => {
                    parts.push((shard, Vec::new()));
                    parts.len() - 1
                }
            };
            places.push((part, parts[part].1.len()));
            parts[part].1.push(key);
        }
        let parts = parts
            .into_iter()
            .map(|(shard, keys)| (shard, command(keys)))
            .collect();
        Route::Split(parts, join(places))
    }
}

impl Join {
    /// The command's reply from its parts' replies, in the parts' order;
    /// a part's error (its shard failed) is the reply.
    pub fn join(self, mut replies: Vec<Reply>) -> Reply {
        if let Some(error) = replies.iter().position(|r| matches!(r, Reply::Error(_))) {
            return replies.swap_remove(error);
        }
        match self {
            Join::Sum => Reply::Integer(
                replies
                    .iter()
                    .map(|reply| match reply {
                        Reply::Integer(n) => *n,
                        _ => 0,
                    })
                    .sum(),
            ),
            Join::Gather(places) => {
                let mut parts: Vec<Vec<Reply>> = replies
                    .into_iter()
                    .map(|reply| match reply {
                        Reply::Array(items) => items,
                        _ => Vec::new(),
                    })
                    .collect();
                Reply::Array(
                    places
                        .into_iter()
                        .map(|(part, at)| {
                            parts
                                .get_mut(part)
                                .and_then(|items| items.get_mut(at))
                                .map_or(Reply::Null, |item| std::mem::replace(item, Reply::Null))
                        })
                        .collect(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Args {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn bulk(text: &str) -> Reply {
        Reply::Bulk(text.as_bytes().to_vec())
    }

    /// Runs `words` as one command on `store` at `now`.
    fn run(store: &mut Store, now: Instant, words: &[&str]) -> Reply {
        match Command::parse(args(words)) {
            Ok(command) => store.execute(command, now),
            Err(reply) => reply,
        }
    }

    #[test]
    fn set_then_get_del_mget() {
        let (mut store, now) = (Store::new(), Instant::now());
        assert_eq!(run(&mut store, now, &["SET", "a", "1"]), Reply::OK);
        assert_eq!(run(&mut store, now, &["get", "a"]), bulk("1"));
        assert_eq!(run(&mut store, now, &["GET", "b"]), Reply::Null);
        assert_eq!(
            run(&mut store, now, &["MGET", "a", "b", "a"]),
            Reply::Array(vec![bulk("1"), Reply::Null, bulk("1")])
        );
        assert_eq!(
            run(&mut store, now, &["DEL", "a", "b", "a"]),
            Reply::Integer(1)
        );
        assert_eq!(run(&mut store, now, &["GET", "a"]), Reply::Null);
    }

    #[test]
    fn ping_answers_pong_or_its_message() {
        let (mut store, now) = (Store::new(), Instant::now());
        assert_eq!(
            run(&mut store, now, &["PING"]),
            Reply::Simple("PONG".into())
        );
        assert_eq!(run(&mut store, now, &["ping", "hi"]), bulk("hi"));
        assert_eq!(
            run(&mut store, now, &["PING", "a", "b"]),
            Reply::error("ERR wrong number of arguments for 'ping' command")
        );
    }

    #[test]
    fn incr_counts_from_zero_and_refuses_what_is_not_an_integer() {
        let (mut store, now) = (Store::new(), Instant::now());
        assert_eq!(run(&mut store, now, &["INCR", "n"]), Reply::Integer(1));
        assert_eq!(run(&mut store, now, &["INCR", "n"]), Reply::Integer(2));
        assert_eq!(run(&mut store, now, &["GET", "n"]), bulk("2"));
        for value in ["x", "1.5", " 1", "01", "99999999999999999999"] {
            run(&mut store, now, &["SET", "s", value]);
            assert_eq!(
                run(&mut store, now, &["INCR", "s"]),
                Reply::error(NOT_AN_INTEGER),
                "{value}"
            );
        }
        run(&mut store, now, &["SET", "max", &i64::MAX.to_string()]);
        assert_eq!(
            run(&mut store, now, &["INCR", "max"]),
            Reply::error("ERR increment or decrement would overflow")
        );
        run(&mut store, now, &["SET", "neg", "-1"]);
        assert_eq!(run(&mut store, now, &["INCR", "neg"]), Reply::Integer(0));
    }

    #[test]
    fn keys_expire_after_ex_or_px() {
        let (mut store, now) = (Store::new(), Instant::now());
        assert_eq!(
            run(&mut store, now, &["SET", "s", "v", "EX", "10"]),
            Reply::OK
        );
        assert_eq!(
            run(&mut store, now, &["SET", "m", "v", "px", "1500"]),
            Reply::OK
        );
        let later = |ms| now + Duration::from_millis(ms);
        assert_eq!(run(&mut store, later(1_499), &["GET", "m"]), bulk("v"));
        assert_eq!(run(&mut store, later(1_500), &["GET", "m"]), Reply::Null);
        assert_eq!(run(&mut store, later(9_999), &["GET", "s"]), bulk("v"));
        assert_eq!(
            run(&mut store, later(10_000), &["MGET", "s"]),
            Reply::Array(vec![Reply::Null])
        );
        assert!(store.is_empty(), "expired keys are removed when read");
    }

    #[test]
    fn an_expired_key_is_gone_for_every_command() {
        let (mut store, now) = (Store::new(), Instant::now());
        let later = now + Duration::from_secs(2);
        run(&mut store, now, &["SET", "k", "5", "EX", "1"]);
        assert_eq!(run(&mut store, later, &["DEL", "k"]), Reply::Integer(0));
        run(&mut store, now, &["SET", "k", "5", "EX", "1"]);
        assert_eq!(run(&mut store, later, &["INCR", "k"]), Reply::Integer(1));
        run(&mut store, now, &["SET", "k", "5", "EX", "1"]);
        assert_eq!(run(&mut store, later, &["SET", "k", "v", "NX"]), Reply::OK);
    }

    #[test]
    fn set_without_expiry_clears_it_and_keepttl_or_incr_keep_it() {
        let (mut store, now) = (Store::new(), Instant::now());
        let later = now + Duration::from_secs(2);
        run(&mut store, now, &["SET", "a", "1", "EX", "1"]);
        run(&mut store, now, &["SET", "a", "2"]);
        assert_eq!(run(&mut store, later, &["GET", "a"]), bulk("2"));
        run(&mut store, now, &["SET", "b", "1", "EX", "1"]);
        run(&mut store, now, &["SET", "b", "2", "KEEPTTL"]);
        assert_eq!(run(&mut store, later, &["GET", "b"]), Reply::Null);
        run(&mut store, now, &["SET", "c", "1", "EX", "1"]);
        run(&mut store, now, &["INCR", "c"]);
        assert_eq!(run(&mut store, later, &["GET", "c"]), Reply::Null);
    }

    #[test]
    fn sweep_removes_only_expired_keys() {
        let (mut store, now) = (Store::new(), Instant::now());
        run(&mut store, now, &["SET", "short", "v", "PX", "10"]);
        run(&mut store, now, &["SET", "long", "v", "EX", "10"]);
        run(&mut store, now, &["SET", "forever", "v"]);
        assert_eq!(store.sweep_expired(now + Duration::from_secs(1)), 1);
        assert_eq!(store.len(), 2);
        assert_eq!(store.sweep_expired(now + Duration::from_secs(60)), 1);
        assert_eq!(store.sweep_expired(now + Duration::from_secs(60)), 0);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn set_nx_xx_get_follow_redis() {
        let (mut store, now) = (Store::new(), Instant::now());
        assert_eq!(run(&mut store, now, &["SET", "k", "1", "XX"]), Reply::Null);
        assert_eq!(run(&mut store, now, &["SET", "k", "1", "NX"]), Reply::OK);
        assert_eq!(run(&mut store, now, &["SET", "k", "2", "NX"]), Reply::Null);
        assert_eq!(
            run(&mut store, now, &["SET", "k", "3", "xx", "GET"]),
            bulk("1")
        );
        assert_eq!(
            run(&mut store, now, &["SET", "k", "4", "NX", "GET"]),
            bulk("3")
        );
        assert_eq!(run(&mut store, now, &["SET", "n", "1", "GET"]), Reply::Null);
        assert_eq!(run(&mut store, now, &["GET", "k"]), bulk("3"));
    }

    #[test]
    fn set_option_errors_are_redis_errors() {
        let (mut store, now) = (Store::new(), Instant::now());
        let syntax = Reply::error("ERR syntax error");
        let expire = Reply::error("ERR invalid expire time in 'set' command");
        for bad in [
            &["SET", "k", "v", "NX", "XX"][..],
            &["SET", "k", "v", "EX", "1", "PX", "1"],
            &["SET", "k", "v", "EX", "1", "KEEPTTL"],
            &["SET", "k", "v", "EX"],
            &["SET", "k", "v", "FOREVER"],
        ] {
            assert_eq!(run(&mut store, now, bad), syntax, "{bad:?}");
        }
        assert_eq!(run(&mut store, now, &["SET", "k", "v", "EX", "0"]), expire);
        assert_eq!(run(&mut store, now, &["SET", "k", "v", "PX", "-5"]), expire);
        assert_eq!(
            run(
                &mut store,
                now,
                &["SET", "k", "v", "EX", "9223372036854775807"]
            ),
            expire
        );
        assert_eq!(
            run(&mut store, now, &["SET", "k", "v", "EX", "ten"]),
            Reply::error(NOT_AN_INTEGER)
        );
        assert!(store.is_empty(), "no failed SET stored anything");
    }

    #[test]
    fn unknown_commands_and_wrong_arities_answer_as_redis_7() {
        let (mut store, now) = (Store::new(), Instant::now());
        assert_eq!(
            run(&mut store, now, &["FLY", "to", "the moon"]),
            Reply::error("ERR unknown command 'FLY', with args beginning with: 'to' 'the moon' ")
        );
        assert_eq!(
            run(&mut store, now, &["nope"]),
            Reply::error("ERR unknown command 'nope', with args beginning with: ")
        );
        for (words, name) in [
            (&["GET"][..], "get"),
            (&["get", "a", "b"], "get"),
            (&["SET", "k"], "set"),
            (&["DEL"], "del"),
            (&["INCR"], "incr"),
            (&["MGET"], "mget"),
        ] {
            assert_eq!(
                run(&mut store, now, words),
                Reply::error(format!(
                    "ERR wrong number of arguments for '{name}' command"
                ))
            );
        }
    }

    #[test]
    fn an_unknown_commands_echo_is_cut() {
        let long = "x".repeat(300);
        let Err(Reply::Error(message)) = Command::parse(args(&[&long, &long, "more"])) else {
            panic!("an error");
        };
        assert_eq!(
            message,
            format!(
                "ERR unknown command '{}', with args beginning with: '{}' ",
                "x".repeat(128),
                "x".repeat(128)
            )
        );
    }

    #[test]
    fn single_key_commands_go_to_their_keys_shard() {
        let shard = shard_of(b"k", 4);
        assert_eq!(
            Route::of(args(&["GET", "k"]), 4),
            Route::Shard(shard, Command::Get(b"k".to_vec()))
        );
        assert_eq!(
            Route::of(args(&["PING"]), 4),
            Route::Reply(Reply::Simple("PONG".into()))
        );
        assert_eq!(
            Route::of(args(&["MGET", "k", "k"]), 4),
            Route::Shard(shard, Command::MGet(args(&["k", "k"])))
        );
    }

    #[test]
    fn multi_key_commands_split_over_shards_and_join_in_order() {
        const SHARDS: usize = 4;
        let mut shards: Vec<Store> = (0..SHARDS).map(|_| Store::new()).collect();
        let now = Instant::now();
        let keys: Vec<String> = (0..20).map(|i| format!("key{i}")).collect();
        let mut execute = |words: Vec<&str>| match Route::of(args(&words), SHARDS) {
            Route::Reply(reply) => reply,
            Route::Shard(shard, command) => shards[shard].execute(command, now),
            Route::Split(parts, join) => join.join(
                parts
                    .into_iter()
                    .map(|(shard, command)| shards[shard].execute(command, now))
                    .collect(),
            ),
        };
        for key in keys.iter().step_by(2) {
            assert_eq!(execute(vec!["SET", key, key]), Reply::OK);
        }
        let mut mget = vec!["MGET"];
        mget.extend(keys.iter().map(String::as_str));
        let expected = keys
            .iter()
            .enumerate()
            .map(|(i, key)| if i % 2 == 0 { bulk(key) } else { Reply::Null })
            .collect();
        assert_eq!(execute(mget), Reply::Array(expected));
        let mut del = vec!["DEL"];
        del.extend(keys.iter().map(String::as_str));
        assert_eq!(execute(del), Reply::Integer(10));
        assert!(shards.iter().all(Store::is_empty));
    }

    #[test]
    fn a_failed_part_is_the_reply() {
        let failed = Reply::error("ERR shard unavailable");
        assert_eq!(
            Join::Sum.join(vec![Reply::Integer(1), failed.clone()]),
            failed
        );
    }
}
