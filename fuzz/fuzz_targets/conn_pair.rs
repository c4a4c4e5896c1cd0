//! The `conn_pair` fuzz target: its code and invariants are in
//! `fuzz/harness/src/conn_pair.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(conn_pair);
