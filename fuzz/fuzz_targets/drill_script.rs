//! The `drill_script` fuzz target: its code and invariants are in
//! `fuzz/harness/src/drill_script.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(drill_script);
