//! The `buf_recv` fuzz target: its code and invariants are in
//! `fuzz/harness/src/buf_recv.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(buf_recv);
