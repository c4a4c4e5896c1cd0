//! The `wire_checksum` fuzz target: its code and invariants are in
//! `fuzz/harness/src/wire_checksum.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(wire_checksum);
