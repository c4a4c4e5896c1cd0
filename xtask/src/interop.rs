//! `cargo xtask interop`: the Linux interop lab (`crates/vtcp-lab`'s
//! scenarios, `vtcp-tun`'s device set-up read back from the kernel, and
//! the CLI's `serve | connect | forward` tests), vtcp against
//! the kernel's TCP in network namespaces of the lab's own. Needs
//! root, `ip` and `/dev/net/tun`; without them it says loudly that it
//! skipped, and succeeds.
//!
//! The forwarder's test drives `dig` (DNS over UDP) and `iperf3` through
//! it; when they are missing, this installs them first if it can (root,
//! Debian's `apt-get`: packages `bind9-dnsutils` and `iperf3`), and says
//! loudly what it installed or why it did not. Without them those parts
//! of the test skip, loudly.
//!
//! The long transfers (8 GiB each way on one connection, on a plain TUN
//! and with offloads; 64 flows of 256 MiB through `vtcp forward`) are
//! most of its time: about 90 s of the lab's binary and 75 s of the
//! CLI's on the 2-core CI machine (docs/performance.md, issue 20). Each
//! binary's time is printed.

use std::path::Path;
use std::process::Command;

use crate::util::{cargo, exec, succeeds};

/// The programs the forwarder's test runs beside `curl` and `python3`,
/// each with the Debian package that has it and an argument it answers
/// without doing anything.
const TOOLS: [(&str, &str, &str); 2] = [
    ("dig", "bind9-dnsutils", "-v"),
    ("iperf3", "iperf3", "--version"),
];

/// Whether this process runs as root (its effective user id is 0).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Installs the [`TOOLS`] that are missing, with `apt-get` as root
/// (noninteractive), saying what it did; when it cannot (not root, no
/// `apt-get`, the install failed) it says so loudly and goes on: the
/// tests that need a missing tool skip, loudly too.
pub(crate) fn install_tools() {
    let missing: Vec<(&str, &str)> = TOOLS
        .iter()
        .filter(|(cmd, _, arg)| !succeeds(Command::new(cmd).arg(arg)))
        .map(|&(cmd, package, _)| (cmd, package))
        .collect();
    if missing.is_empty() {
        eprintln!("interop: dig and iperf3 are installed");
        return;
    }
    let names: Vec<&str> = missing.iter().map(|m| m.0).collect();
    let packages: Vec<&str> = missing.iter().map(|m| m.1).collect();
    let why_not = if !is_root() {
        Some("not root".to_owned())
    } else if !succeeds(Command::new("apt-get").arg("--version")) {
        Some("no apt-get".to_owned())
    } else {
        eprintln!(
            "interop: installing {} (apt-get install {})",
            names.join(", "),
            packages.join(" ")
        );
        let apt = |args: &[&str]| {
            exec(
                Command::new("apt-get")
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )
        };
        apt(&["update", "-qq"])
            .and_then(|()| {
                let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
                args.extend(&packages);
                apt(&args)
            })
            .err()
    };
    match why_not {
        None => eprintln!("interop: installed {}", packages.join(", ")),
        Some(why) => eprintln!(
            "\n*** NOT INSTALLED {} ({why}): the forwarder test's parts that need them \
             will be SKIPPED (install {} by hand). ***\n",
            names.join(", "),
            packages.join(" ")
        ),
    }
}

/// Why the lab cannot run on this machine, or `None`.
pub(crate) fn unavailable() -> Option<&'static str> {
    if !is_root() {
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
    install_tools();
    // Release: the lab measures, and a debug build would make the bulk
    // scenarios slow enough to need longer timeouts.
    for (package, test) in [
        ("vtcp-tun", "setup"),
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
