//! ferrotp: Erlang/OTP-style lightweight processes for Rust.
//!
//! This facade re-exports the workspace's crates. For now that is the
//! mailbox ([`mailbox`]); the scheduler and supervision crates join it as
//! they land.

pub use ferrotp_mailbox as mailbox;
