//! The `tun_vnet_gro` fuzz target: its code and invariants are in
//! `fuzz/harness/src/tun_vnet_gro.rs`, which `cargo test` runs on fuzz/regressions too.
#![no_main]

vtcp_fuzz_harness::fuzz_target!(tun_vnet_gro);
