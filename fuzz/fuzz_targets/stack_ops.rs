//! The `stack_ops` fuzz target: its code and invariants are in
//! `fuzz/harness/src/stack_ops.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(stack_ops);
