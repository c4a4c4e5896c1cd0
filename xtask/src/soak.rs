//! `cargo xtask soak`: the long-lived tests that need a release build:
//! the simulator's 6 GiB transfers (`crates/vtcp-sim/tests/soak.rs`),
//! across the 2^31 and 2^32 edges with and without loss. `cargo xtask ci`
//! runs it; a debug `cargo test` skips those tests and says so.

use crate::util::{cargo, exec};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    exec(
        cargo()
            .args([
                "test",
                "--release",
                "--locked",
                "-p",
                "vtcp-sim",
                "--test",
                "soak",
                "--",
                "--include-ignored",
                "--nocapture",
            ])
            .args(args),
    )
}
