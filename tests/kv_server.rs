//! The key-value server of `examples/kv_server`: its protocol (`resp.rs`),
//! through the unit tests and property tests in that module, compiled here.

#[allow(dead_code)]
#[path = "../examples/kv_server/resp.rs"]
mod resp;
