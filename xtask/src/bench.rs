//! `cargo xtask bench`: the criterion benchmarks of `benches/`.

use crate::util::{cargo, exec};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["bench", "--package", "vtcp-benches"]);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    exec(&mut cmd)
}
