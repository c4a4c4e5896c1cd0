//! `cargo xtask conformance [--bless]`: the runner's own packetdrill
//! scripts, then the FreeBSD TCP test suite through `vtcp drill`, compared
//! with `tests/conformance/freebsd-expected.txt` (a script may only get
//! better). The suite is read from `$VTCP_CONFORMANCE_DIR`, or from
//! `../shared/conformance/freebsd-tcp-testsuite` beside the repository;
//! without it the step says loudly that it skipped. `--bless` writes the
//! expected-results file from this run.

use std::path::PathBuf;

use crate::util::{cargo, exec, root};

const EXPECTED: &str = "tests/conformance/freebsd-expected.txt";

fn suite_dir() -> PathBuf {
    std::env::var_os("VTCP_CONFORMANCE_DIR").map_or_else(
        || root().join("../shared/conformance/freebsd-tcp-testsuite"),
        PathBuf::from,
    )
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let bless = match args {
        [] => false,
        [flag] if flag == "--bless" => true,
        _ => return Err("usage: cargo xtask conformance [--bless]".into()),
    };
    let drill = |extra: &[&str]| {
        let mut cmd = cargo();
        cmd.args(["run", "--release", "-q", "-p", "vtcp-cli", "--", "drill"]);
        cmd.args(extra);
        exec(&mut cmd)
    };
    drill(&["crates/vtcp-drill/tests/scripts"])?;
    let dir = suite_dir();
    if !dir.is_dir() {
        eprintln!(
            "\n*** SKIPPED the FreeBSD TCP test suite: {} is not there. Point \
             VTCP_CONFORMANCE_DIR at a copy of freebsd-net/tcp-testsuite to run it. ***\n",
            dir.display()
        );
        return Ok(());
    }
    let dir = dir.display().to_string();
    let expected = root().join(EXPECTED).display().to_string();
    if bless {
        drill(&[&dir, "--write-expected", &expected])
    } else {
        drill(&[&dir, "--expected", &expected])
    }
}
