//! A registry of processes by key, in the style of Elixir's `Registry`:
//! **unique** keys (names) and **duplicate** keys (topics, groups), a
//! value per entry, entries removed when their process ends.
//!
//! * A process registers *itself* ([`Registry::register`]) and removes
//!   its own entries ([`Registry::unregister`]); any process or thread
//!   reads ([`Registry::lookup`], [`Registry::whereis`],
//!   [`Registry::match_values`], [`Registry::keys`]) and sends
//!   ([`Registry::dispatch`], [`Registry::send`]: pub/sub).
//! * Actors and state machines take a registry key as they start
//!   ([`Registry::via`], [`actor::Builder::via`](crate::actor::Builder::via)):
//!   Elixir's `{:via, Registry, key}`; under a supervisor each
//!   incarnation takes it again.
//! * Unlike the runtime's one name per process
//!   ([`register`](crate::register)), a process may hold any number of
//!   keys in any number of registries, and the keys are any `Eq + Hash`
//!   type.
//!
//! # A complete program
//!
//! Rooms found by name (unique keys, taken as each room starts), and
//! members subscribed to rooms (duplicate keys); a post goes to every
//! subscriber, and a member's subscriptions go when it ends.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::actor::{Builder, Next};
//! use ferrotp::registry::{Keys, Registry};
//! use ferrotp::{receive, self_pid, send, spawn, yield_now};
//!
//! let (found, delivered, left) = ferrotp::run(|| {
//!     let rooms: Registry<String> = Registry::new(Keys::Unique);
//!     let members: Registry<String, &'static str> = Registry::new(Keys::Duplicate);
//!
//!     // A room, started under its name.
//!     let lobby = Builder::new()
//!         .via(rooms.via("lobby".to_string(), ()))
//!         .start_fn(0u32, |(), posts| Next::Continue(posts + 1))
//!         .unwrap();
//!     let found = rooms.whereis("lobby") == Some(lobby.pid());
//!
//!     // Two members subscribe themselves, each with a nickname.
//!     let me = self_pid();
//!     let mut pids = Vec::new();
//!     for nick in ["ada", "bob"] {
//!         let (members, me) = (members.clone(), me.clone());
//!         pids.push(spawn(move || {
//!             members.register("lobby".to_string(), nick).unwrap();
//!             send(&me, ());
//!             let post: String = receive();
//!             send(&me, format!("{nick} got {post}"));
//!         }));
//!     }
//!     for _ in 0..2 { receive::<()>(); }
//!     let sent = members.send("lobby", "hello".to_string());
//!     let mut delivered: Vec<String> = (0..sent).map(|_| receive()).collect();
//!     delivered.sort();
//!
//!     // Both members ended after their post: their entries go.
//!     while members.count_key("lobby") > 0 { yield_now(); }
//!     (found, delivered, members.count())
//! }).unwrap();
//! assert!(found);
//! assert_eq!(delivered, ["ada got hello", "bob got hello"]);
//! assert_eq!(left, 0);
//! ```
//!
//! # Design
//!
//! A registry is a table, not a process: lookups read it directly, with
//! no message round trip. Keys are spread over partitions by their hash
//! (one read-write lock each), and the entries under a key are a
//! copy-on-write vector, so a lookup is one `Arc` clone under a read lock
//! held for that instant, and a dispatch to 1,000 subscribers reads a
//! snapshot without any lock (module `table`).
//!
//! A process's first registration sets an exit hook on it
//! ([`Pid::on_exit`](crate::Pid::on_exit)); when it ends, the hook
//! removes its entries. The hook holds the registry weakly: a registry
//! dropped by everyone goes, entries and all.
//!
//! # Invariants
//!
//! * Only a process changes its own entries while it lives; after it
//!   ends, only its exit hook does. So two writers never race for one
//!   entry, and a unique key's holder is always a process that was alive
//!   when it registered.
//! * An ended process's entries may still be seen in the short moment
//!   before its hook runs (as in Elixir, whose registry learns of an exit
//!   by a message): a lookup may return a pid that has just ended, and a
//!   send to it is a dead letter. A unique key held by an ended process
//!   is taken over by the next registration.
//! * No lock is held while anything can suspend a process.
//!
//! | file | what it holds |
//! |---|---|
//! | `handle.rs` | [`Registry`], [`Keys`], [`AlreadyRegistered`] |
//! | `table.rs` | the partitions, copy-on-write entries, owners |
//! | `via.rs` | [`ViaName`]: a key an actor takes as it starts |

mod handle;
mod table;
mod via;

pub use handle::{AlreadyRegistered, Keys, Registry};
pub use table::Entries;
pub use via::ViaName;
