//! Process groups (OTP's `pg`, on the local node): named groups of
//! processes that any process can join, leave, list, send to and watch.
//!
//! * A [`ProcessGroups<G>`] is a *scope*: a set of groups named by `G`
//!   (OTP's scope), behind a cheap, clonable, `Send + Sync` handle.
//!   [`ProcessGroups::new`] makes one; [`ProcessGroups::global`] is the
//!   program's scope for a group type.
//! * [`join`](ProcessGroups::join) / [`join_many`](ProcessGroups::join_many),
//!   [`leave`](ProcessGroups::leave) / [`leave_many`](ProcessGroups::leave_many),
//!   [`members`](ProcessGroups::members), [`is_member`](ProcessGroups::is_member),
//!   [`which_groups`](ProcessGroups::which_groups) and
//!   [`send_to_all`](ProcessGroups::send_to_all). A process that ends
//!   leaves all its groups.
//! * [`monitor`](ProcessGroups::monitor) (one group) and
//!   [`monitor_scope`](ProcessGroups::monitor_scope) (all of them)
//!   subscribe the caller to membership changes: it receives a
//!   [`Change<G>`] message for each; [`demonitor`](ProcessGroups::demonitor)
//!   ends a [`Subscription`].
//!
//! ```
//! use ferrotp::pg::{Change, ChangeKind, ProcessGroups};
//! use ferrotp::{receive, self_pid, send, spawn};
//! let (sent, changes) = ferrotp::run(|| {
//!     let rooms = ProcessGroups::new();
//!     let (_, members) = rooms.monitor("lobby"); // nobody yet
//!     assert!(members.is_empty());
//!     let me = self_pid();
//!     let guest = spawn(move || send(&me, receive::<&str>().len()));
//!     rooms.join("lobby", &guest).unwrap();
//!     let sent = rooms.send_to_all("lobby", "hello"); // the guest answers and ends
//!     assert_eq!(receive::<usize>(), 5);
//!     let changes: Vec<ChangeKind> = (0..2).map(|_| receive::<Change<&str>>().kind).collect();
//!     assert!(rooms.members("lobby").is_empty());
//!     (sent, changes)
//! }).unwrap();
//! assert_eq!(sent, 1);
//! assert_eq!(changes, [ChangeKind::Joined, ChangeKind::Left]);
//! ```
//!
//! # Semantics
//!
//! * **Memberships are counted.** A process may join a group several
//!   times; [`members`](ProcessGroups::members) then lists it once per
//!   join, and each [`leave`](ProcessGroups::leave) removes one
//!   membership (the newest). Members are listed in join order (OTP
//!   leaves the order unspecified; here it is part of the contract).
//! * **A process that has ended cannot join**:
//!   [`join`](ProcessGroups::join) returns [`JoinError::Exited`] and
//!   changes nothing. One that ends *while* joining joins and is removed
//!   at once, as any ending member (subscribers see `Joined` then
//!   `Left`).
//! * **Ending leaves everything, at once.** When a process ends, all its
//!   memberships are removed (one `Left` per group, naming it once per
//!   membership) and all its subscriptions end, in one step: whoever
//!   sees one of those `Left`s, or one of its groups without it, finds
//!   it in none. This happens in its exit hook, just *after*
//!   [`Pid::has_exited`](crate::Pid::has_exited) turns true: to wait for
//!   it, watch a group (a `Left` arrives) or poll
//!   [`is_member`](ProcessGroups::is_member).
//! * **Pids are data.** Any process may make any process join or leave,
//!   and so may code outside a process (a test, a thread at start-up).
//!   Only subscribing needs a process: the subscriber is the caller.
//! * **Changes arrive in order, none lost.** A subscriber receives a
//!   [`Change`] for every change made after its subscription: those of
//!   one group in the order they were made; those of different groups
//!   in the order they were made when one happened before the other (two
//!   changes made by one process, say); only truly concurrent changes of
//!   different groups may reach a scope subscriber in either order. The
//!   subscription and its snapshot of the members are atomic: nothing
//!   happens between them.
//!
//! # Design
//!
//! There is no process behind a scope (OTP's `pg` is a server): the
//! groups live in a table shared by every handle, split into shards by
//! the hash of the group (`shard.rs`), each behind a mutex. Calls take
//! one shard's lock, except [`which_groups`](ProcessGroups::which_groups)
//! (each in turn) and [`monitor_scope`](ProcessGroups::monitor_scope)
//! (all at once, for its atomic snapshot).
//!
//! **Clean-up without a process.** The first join or subscription of a
//! process in a scope registers one exit hook on it ([`Pid::on_exit`](crate::Pid::on_exit)),
//! holding a `Weak` to the scope; when the process ends, the hook removes
//! everything the process had in every shard (`watch.rs`, which also
//! shows why a process ending as it joins leaves no entry behind). The
//! hook stays until the process ends, even if it leaves every group
//! first: one hook per process and scope at most.
//!
//! **Notifications under the lock.** A change is told to its
//! subscribers while its shard's lock is held, so changes of one group
//! are told in the order they were made. That is safe because telling
//! never suspends: a [`Change`] is pushed like a monitor's `Down` signal
//! ([`send_signal_message`](crate::scheduler::send_signal_message)),
//! past any mailbox bound, and dropped silently if the subscriber has
//! ended. Everything that can suspend a process, the sends of
//! [`send_to_all`](ProcessGroups::send_to_all) above all, runs with no
//! lock held: the members are copied out first.
//!
//! # Invariants
//!
//! * **No lock is held across a suspension**, nor while an exit hook is
//!   registered (it may run at once).
//! * **Lock order**: shard locks in index order, then the scope
//!   subscribers' lock; the `watched` locks are taken alone. Several
//!   shard locks are held together only by
//!   [`monitor_scope`](ProcessGroups::monitor_scope) (all) and by the
//!   exit hook (those the ended process has entries in).
//! * **A group exists while it has a member or a subscriber**, and is
//!   listed by [`which_groups`](ProcessGroups::which_groups) only while
//!   it has a member.
//! * **Each entry of a process is also in its shard's index** (by
//!   process id), so the exit hook finds them without a scan, and a
//!   process has an entry in a shard only while it has a membership or a
//!   subscription there.
//!
//! | file | what it holds |
//! |---|---|
//! | `scope.rs` | [`ProcessGroups`]: join, leave, members, which_groups, send_to_all |
//! | `shard.rs` | one shard's groups, members, subscribers and index |
//! | `monitor.rs` | [`Subscription`], [`Change`], monitor, monitor_scope, demonitor |
//! | `watch.rs` | the exit hook that removes an ended process |
//! | `global.rs` | [`ProcessGroups::global`] |
//! | `error.rs` | [`JoinError`] |

mod error;
mod global;
mod monitor;
mod scope;
mod shard;
mod watch;

pub use error::JoinError;
pub use monitor::{Change, ChangeKind, Subscription};
pub use scope::ProcessGroups;
