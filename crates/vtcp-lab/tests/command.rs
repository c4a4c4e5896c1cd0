//! The `vtcp-lab` command's handling of its arguments: a usage error is
//! told once, with status 2, before anything needs the lab (root, `ip`,
//! `/dev/net/tun`), so these run everywhere.

use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtcp-lab"))
        .args(args)
        .output()
        .expect("vtcp-lab runs")
}

#[test]
fn bad_arguments_print_the_usage_once_and_exit_2() {
    for args in [
        &[][..],
        &["bench"],
        &["bench", "matrix", "-1"],
        &["bench", "throughput", "NaN"],
        &["bench", "echo", "3", "many"],
        &["bench", "point", "2%", "0", "-20"],
        &["bench", "point", "inf", "0", "20"],
        &["echo-server", "not-an-address"],
        &["capture"],
        &["bench", "flows", "0"],
        &["bench", "flows", "3", "0"],
        &["soak"],
        &["soak", "0"],
        &["soak", "forever"],
    ] {
        let out = lab(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.matches("usage:").count(), 1, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
