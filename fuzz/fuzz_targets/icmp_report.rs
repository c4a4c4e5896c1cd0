//! The `icmp_report` fuzz target: its code and invariants are in
//! `fuzz/harness/src/icmp_report.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(icmp_report);
