//! The key-value server of `examples/kv_server`: its protocol (`resp.rs`)
//! and its commands (`store.rs`), through the unit tests and property
//! tests in those modules, compiled here.

#[allow(dead_code)]
#[path = "../examples/kv_server/resp.rs"]
mod resp;
#[allow(dead_code)]
#[path = "../examples/kv_server/store.rs"]
mod store;
