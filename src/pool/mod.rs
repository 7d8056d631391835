//! Pools of actors: N workers behind one address with a dispatch
//! strategy ([`Pool`], the pool of Gleam's `distribute` docs), and
//! workers lent out for exclusive use ([`CheckoutPool`], Erlang's
//! poolboy).
//!
//! * A [`Pool`] starts N actors under a supervisor of its own, registered
//!   as `name_1` ... `name_N`; each message goes to one worker, picked
//!   round-robin, by the fewest queued messages, or by a key's hash (the
//!   same key, the same worker: per-key order holds). A crashed worker is
//!   restarted and the pool's address for it reaches the replacement.
//! * A [`CheckoutPool`] lends a worker to one process at a time: a
//!   checkout waits up to its timeout, overflow workers are started up to
//!   a bound when all are busy, a lease comes back when dropped or when
//!   its user dies, and a crashed worker is replaced.
//!
//! A complete program: a pool of "parsers" fed by key, and a pool of
//! "connections" lent out.
//!
//! ```
//! use std::time::Duration;
//! use ferrotp::actor::Next;
//! use ferrotp::pool::{CheckoutPool, Dispatch, Pool};
//! use ferrotp::ReplyTo;
//!
//! enum Parse { Line(String, ReplyTo<(usize, usize)>) }
//! enum Conn { Ping(ReplyTo<&'static str>) }
//!
//! let (same_worker, pong) = ferrotp::run(|| {
//!     let t = Duration::from_secs(5);
//!     // Each worker answers with its index and the line's length.
//!     let parsers = Pool::start("parser", 3, Dispatch::LeastLoaded, |builder, index| {
//!         builder.start_fn((), move |Parse::Line(line, reply), ()| {
//!             reply.send((index, line.len()));
//!             Next::Continue(())
//!         })
//!     }).unwrap();
//!     let user = "user-42";
//!     let (first, _) = parsers.call_keyed(user, |r| Parse::Line("a".into(), r), t).unwrap();
//!     let (second, _) = parsers.call_keyed(user, |r| Parse::Line("bb".into(), r), t).unwrap();
//!
//!     let conns = CheckoutPool::start("conn", 1, 0, |builder| {
//!         builder.start_fn((), |Conn::Ping(reply), ()| { reply.send("pong"); Next::Continue(()) })
//!     }).unwrap();
//!     let pong = {
//!         let conn = conns.checkout(t).unwrap();
//!         conn.call(Conn::Ping, t).unwrap()
//!     }; // the lease is dropped: the connection is free again
//!     (first == second, pong)
//! }).unwrap();
//! assert!(same_worker);
//! assert_eq!(pong, "pong");
//! ```
//!
//! | file | what it holds |
//! |---|---|
//! | `dispatch.rs` | [`Pool`], [`PoolSpec`], [`Dispatch`] |
//! | `checkout.rs` | [`CheckoutPool`], [`Lease`], [`PoolStatus`] |
//! | `error.rs` | [`PoolError`], [`CheckoutError`] |

mod checkout;
mod dispatch;
mod error;

pub use checkout::{CheckoutPool, Lease, PoolStatus};
pub use dispatch::{Dispatch, Pool, PoolSpec};
pub use error::{CheckoutError, PoolError};
