//! Supervision benchmarks (placeholder until written).
fn main() {}
