//! A key-value server speaking the Redis protocol (RESP), on ferrotp.
//!
//! The protocol is in `resp.rs`, the commands and the key space in
//! `store.rs`; both are shared with the server's tokio twin
//! (`benches/kv/tokio_server.rs`), so the two differ only in their
//! runtime. The server itself waits for ferrotp's sockets
//! (`ferrotp::net`).
//!
//! Run: `cargo run --release --example kv_server -- --port 6380`

// Used by the server, which is compiled once `ferrotp::net` lands.
#[allow(dead_code)]
mod resp;
#[allow(dead_code)]
mod store;

fn main() {
    eprintln!(
        "kv_server: the server needs ferrotp's sockets (ferrotp::net), which have not landed \
         yet; its protocol and commands are tested by `cargo test --test kv_server`"
    );
    std::process::exit(2);
}
