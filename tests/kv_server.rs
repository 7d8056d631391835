//! The key-value server of `examples/kv_server`: its protocol
//! (`resp.rs`), commands (`store.rs`) and read buffer (`buffer.rs`)
//! through the unit and property tests in those modules, compiled here.

#[allow(dead_code)]
#[path = "../examples/kv_server/buffer.rs"]
mod buffer;
#[allow(dead_code)]
#[path = "../examples/kv_server/resp.rs"]
mod resp;
#[allow(dead_code)]
#[path = "../examples/kv_server/store.rs"]
mod store;
