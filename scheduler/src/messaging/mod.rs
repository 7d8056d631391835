//! Messages between processes: sending, selective receive, subjects and
//! multi-clause select, over the lock-free mailbox of `ferrotp-mailbox`.
//!
//! | file | what it holds |
//! |---|---|
//! | `delivery.rs` | a message into a mailbox, its process woken onto its worker, or a dead letter |
//! | `envelope.rs` | a message in flight, typed again on receipt |
//! | `inline.rs` | small values stored without an allocation |
//! | `send.rs` | [`send`](crate::send), [`try_send`](crate::try_send), waiting for room in a bounded mailbox |
//! | `receive.rs` | selective receive, with and without a timeout |
//! | `subject.rs` | [`Subject`](crate::Subject): a typed address with an O(1) receive |
//! | `select.rs` | [`Select`](crate::Select): a receive with several clauses |
//! | `call.rs` | [`call`](crate::call): request and reply, the callee watched, late replies kept out of the mailbox |
//! | `long_queue.rs` | the long-message-queue monitor: marks, the look at receive, its report |
//! | `reply_slot.rs` | the per-process slot a reply lands in (loom-checked) |
//! | `async_slot.rs` | the slot a reply to a caller outside any process lands in ([`call_async`](crate::call_async)) |

pub(crate) mod async_slot;
pub(crate) mod call;
pub(crate) mod delivery;
pub(crate) mod envelope;
pub(crate) mod inline;
pub(crate) mod long_queue;
pub(crate) mod receive;
pub mod reply_slot;
pub(crate) mod select;
pub(crate) mod send;
pub(crate) mod subject;
