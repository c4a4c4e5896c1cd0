//! `cargo xtask interop`: the Linux interop lab (`crates/vtcp-lab`'s
//! scenarios and the CLI's `serve | connect | forward` tests), vtcp against
//! the kernel's TCP in network namespaces of the lab's own. Needs
//! root, `ip` and `/dev/net/tun`; without them it says loudly that it
//! skipped, and succeeds.
//!
//! The long transfers (8 GiB each way on one connection, on a plain TUN
//! and with offloads; 64 flows of 256 MiB through `vtcp forward`) are
//! most of its time: about 90 s of the lab's binary and 75 s of the
//! CLI's on the 2-core CI machine (docs/performance.md, issue 20). Each
//! binary's time is printed.

use std::path::Path;
use std::process::Command;

use crate::util::{cargo, exec, succeeds};

/// Why the lab cannot run on this machine, or `None`.
pub(crate) fn unavailable() -> Option<&'static str> {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    });
    if !root {
        Some("not root")
    } else if !Path::new("/dev/net/tun").exists() {
        Some("no /dev/net/tun")
    } else if !succeeds(Command::new("ip").arg("-V")) {
        Some("no `ip` command (iproute2)")
    } else {
        None
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(why) = unavailable() {
        eprintln!(
            "\n*** SKIPPED the Linux interop lab: {why}. It needs root, `ip` and /dev/net/tun \
             (run `sudo cargo xtask interop`). ***\n"
        );
        return Ok(());
    }
    // Release: the lab measures, and a debug build would make the bulk
    // scenarios slow enough to need longer timeouts.
    for (package, test) in [
        ("vtcp-lab", "interop"),
        ("vtcp-lab", "fairness"),
        ("vtcp-lab", "diff"),
        ("vtcp-cli", "net_cli"),
        ("vtcp-cli", "forwarder"),
    ] {
        let mut cmd = cargo();
        cmd.args([
            "test",
            "--release",
            "--locked",
            "-p",
            package,
            "--test",
            test,
            "--",
        ])
        .args(args)
        .env("VTCP_INTEROP", "1");
        let started = std::time::Instant::now();
        exec(&mut cmd)?;
        eprintln!(
            "interop: {package} --test {test}: {:.0} s (build included)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
