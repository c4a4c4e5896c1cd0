//! The `pcap_read` fuzz target: its code and invariants are in
//! `fuzz/harness/src/pcap_read.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(pcap_read);
