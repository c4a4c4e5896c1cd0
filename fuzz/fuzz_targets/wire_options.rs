//! The `wire_options` fuzz target: its code and invariants are in
//! `fuzz/harness/src/wire_options.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(wire_options);
