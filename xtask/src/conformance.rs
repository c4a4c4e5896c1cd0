//! `cargo xtask conformance [--profile freebsd|linux] [--bless]`: the
//! runner's own packetdrill scripts, then a suite through `vtcp drill`.
//!
//! With the FreeBSD profile (the default): the runner's scripts
//! (`crates/vtcp-drill/tests/scripts`), then the FreeBSD TCP test suite,
//! compared with `tests/conformance/freebsd-expected.txt` (a script may
//! only get better). The suite is read from `$VTCP_CONFORMANCE_DIR`, or
//! from `../shared/conformance/freebsd-tcp-testsuite` beside the
//! repository; without it the step says loudly that it skipped. `--bless`
//! writes the expected-results file from this run.
//!
//! With `--profile linux`: the runner's Linux scripts
//! (`crates/vtcp-drill/tests/linux-scripts`), then, if
//! `$VTCP_CONFORMANCE_DIR` names one, a Linux suite (google/packetdrill's
//! `gtests/net/tcp`, GPL-2.0 and so not in the repository), summarised
//! with no expected-results file.

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
    const USAGE: &str = "usage: cargo xtask conformance [--profile freebsd|linux] [--bless]";
    let (mut bless, mut profile) = (false, "freebsd");
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--bless" => bless = true,
            "--profile" => match words.next().map(String::as_str) {
                Some(p @ ("freebsd" | "linux")) => profile = p,
                _ => return Err(USAGE.into()),
            },
            _ => return Err(USAGE.into()),
        }
    }
    let drill = |extra: &[&str]| {
        let mut cmd = cargo();
        cmd.args(["run", "--release", "-q", "-p", "vtcp-cli", "--", "drill"]);
        cmd.args(["--profile", profile]);
        cmd.args(extra);
        exec(&mut cmd)
    };
    if profile == "linux" {
        if bless {
            return Err("--bless: the Linux suite has no expected-results file".into());
        }
        drill(&["crates/vtcp-drill/tests/linux-scripts"])?;
        let Some(dir) = std::env::var_os("VTCP_CONFORMANCE_DIR") else {
            eprintln!(
                "\n*** SKIPPED a Linux suite: point VTCP_CONFORMANCE_DIR at google/packetdrill's \
                 gtests/net/tcp to run one. ***\n"
            );
            return Ok(());
        };
        // Scripts that fail are counted, not a failure of the step.
        let dir = PathBuf::from(dir).display().to_string();
        return drill(&[&dir]).or_else(|e| {
            eprintln!("{e}");
            Ok(())
        });
    }
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
