//! `cargo xtask differential [--time SECS] [--seed N] [--out DIR]`: a
//! differential-testing campaign against Linux (`vtcp-lab diff
//! campaign`, docs/conformance.md), 600 s from seed 1 into
//! `target/differential` unless told otherwise. Needs what the interop
//! lab needs (root, `ip`, `/dev/net/tun`).

use crate::util::{exec, lab_binary, root};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(why) = crate::interop::unavailable() {
        return Err(format!(
            "differential runs the interop lab, which cannot run here: {why}"
        ));
    }
    let mut cmd = lab_binary()?;
    cmd.args(["diff", "campaign"]);
    let given = |flag: &str| args.iter().any(|a| a == flag);
    if !given("--time") {
        cmd.args(["--time", "600"]);
    }
    if !given("--seed") {
        cmd.args(["--seed", "1"]);
    }
    if !given("--out") {
        cmd.arg("--out").arg(root().join("target/differential"));
    }
    exec(cmd.args(args))
}
