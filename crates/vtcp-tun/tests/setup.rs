//! `open_device` and `configure_device` against the kernel: what they set
//! over rtnetlink (addresses, `nodad`, routes, queue length, MTU, link
//! up) is what `ip` reads back in the namespace, and what the kernel
//! refuses comes back as `SetupError::Configure` naming the step, the
//! kernel's errno and its reason.
//!
//! Needs root, `ip` and `/dev/net/tun`, and runs with the interop lab
//! (`VTCP_INTEROP=1`, `cargo xtask interop`); anywhere else it says that
//! it skipped.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::net::IpAddr;
use std::process::Command;

use vtcp_tun::netns::Netns;
use vtcp_tun::{KernelSide, SetupError, TunConfig, configure_device, open_device};

/// Whether the test can run here; says why not on stderr.
fn here(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    });
    let why = if std::env::var_os("VTCP_INTEROP").is_none() {
        "runs with the interop lab (VTCP_INTEROP=1, `cargo xtask interop`)"
    } else if !root {
        "not root"
    } else if !std::path::Path::new("/dev/net/tun").exists() {
        "no /dev/net/tun"
    } else if Command::new("ip").arg("-V").output().is_err() {
        "no `ip` command (iproute2)"
    } else {
        return true;
    };
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}

/// `ip -n NS -o ARGS`, one line per object (the backslashes `-o` puts
/// for line breaks made spaces).
fn show(ns: &Netns, args: &[&str]) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-n", ns.name(), "-o"])
        .args(args)
        .output()
        .expect("ip runs");
    assert!(out.status.success(), "ip {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.replace('\\', " "))
        .collect()
}

/// The word after `key` on a line of `ip -o`'s.
fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == key)?;
    words.next()
}

/// The kernel's errno behind a `SetupError::Configure`, and its message.
fn refused(r: Result<(), SetupError>) -> (Option<i32>, String) {
    match r {
        Err(e @ SetupError::Configure { .. }) => {
            let msg = e.to_string();
            let SetupError::Configure { source, .. } = e else {
                unreachable!()
            };
            (source.raw_os_error(), msg)
        }
        other => panic!("expected SetupError::Configure, got {other:?}"),
    }
}

#[test]
fn what_open_device_sets_is_what_the_kernel_reports() {
    if !here("what_open_device_sets_is_what_the_kernel_reports") {
        return;
    }
    let ns = Netns::unique("vtcp-tun-setup-").unwrap();
    // The namespace's loopback came up over netlink too.
    let lo = show(&ns, &["link", "show", "dev", "lo"]);
    assert!(lo[0].contains(",UP") || lo[0].contains("<UP"), "{lo:?}");

    let v4: IpAddr = "198.18.9.1".parse().unwrap();
    let v6: IpAddr = "fd00:9::1".parse().unwrap();
    let kernel = KernelSide::new()
        .addr(v4, 24)
        .addr(v6, 64)
        .route("198.19.9.0/24")
        .route("198.19.10.7")
        .route("fd00:19:9::/64")
        .txqueuelen(1234);
    let mut cfg = TunConfig::named("vtset0");
    cfg.mtu = 1400;
    let tun = open_device(Some(&ns), &cfg, 1, &kernel).unwrap();
    assert_eq!(tun[0].name(), "vtset0");

    // ip -o addr show dev vtset0
    // 5: vtset0    inet 198.18.9.1/24 scope global vtset0 ...
    // 5: vtset0    inet6 fd00:9::1/64 scope global nodad ...
    let addrs = show(&ns, &["addr", "show", "dev", "vtset0", "scope", "global"]);
    let mut got: Vec<(String, bool)> = addrs
        .iter()
        .filter_map(|l| {
            let a = after(l, "inet").or_else(|| after(l, "inet6"))?;
            Some((a.to_owned(), l.split_whitespace().any(|w| w == "nodad")))
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("198.18.9.1/24".to_owned(), false),
            ("fd00:9::1/64".to_owned(), true)
        ],
        "{addrs:?}"
    );
    assert!(
        !addrs.iter().any(|l| l.contains("tentative")),
        "no duplicate address detection: {addrs:?}"
    );

    // ip -o link show dev vtset0
    // 5: vtset0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1400 ... qlen 1234
    let link = show(&ns, &["link", "show", "dev", "vtset0"]);
    assert_eq!(after(&link[0], "mtu"), Some("1400"), "{link:?}");
    assert_eq!(after(&link[0], "qlen"), Some("1234"), "{link:?}");
    let flags = link[0].split(['<', '>']).nth(1).unwrap_or("");
    assert!(flags.split(',').any(|f| f == "UP"), "{link:?}");

    // ip -o route show dev vtset0 proto boot: the routes we added, not
    // the kernel's prefix routes for the addresses (proto kernel).
    let routes4 = show(
        &ns,
        &["-4", "route", "show", "dev", "vtset0", "proto", "boot"],
    );
    let mut dsts: Vec<&str> = routes4
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    dsts.sort_unstable();
    assert_eq!(dsts, ["198.19.10.7", "198.19.9.0/24"], "{routes4:?}");
    assert!(
        routes4.iter().all(|l| after(l, "scope") == Some("link")),
        "{routes4:?}"
    );
    let routes6 = show(
        &ns,
        &["-6", "route", "show", "dev", "vtset0", "proto", "boot"],
    );
    let dsts: Vec<&str> = routes6
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(dsts, ["fd00:19:9::/64"], "{routes6:?}");

    // What the kernel refuses, named with its errno (and its reason, from
    // its extended acknowledgement); a route that does not parse.
    use nix::libc::{EEXIST, EINVAL, ENODEV};
    for (dev, side, errno, says) in [
        (
            "vtset0",
            KernelSide::new().route("198.19.9.0/24"),
            Some(EEXIST),
            "adding route 198.19.9.0/24 via vtset0",
        ),
        (
            "vtset0",
            KernelSide::new().addr(v6, 64),
            Some(EEXIST),
            "adding address fd00:9::1/64 to vtset0",
        ),
        (
            "vtset0",
            KernelSide::new().route("198.19.11.7/24"),
            Some(EINVAL),
            "adding route 198.19.11.7/24 via vtset0 \
             (the kernel: Invalid prefix for given prefix length)",
        ),
        (
            "vtnone0",
            KernelSide::new(),
            Some(ENODEV),
            "finding device vtnone0",
        ),
        (
            "vtset0",
            KernelSide::new().route("198.19.12.0/33"),
            None,
            "adding route 198.19.12.0/33 via vtset0",
        ),
    ] {
        let (got, msg) = refused(configure_device(Some(&ns), dev, &side));
        assert_eq!(got, errno, "{msg}");
        assert!(msg.contains(says), "{msg}");
    }

    // Without a namespace, the calling thread's: here a thread inside ns.
    let more = KernelSide::new()
        .addr("198.18.9.5".parse().unwrap(), 32)
        .route("198.19.13.0/24")
        .txqueuelen(77);
    ns.enter(|| configure_device(None, "vtset0", &more))
        .unwrap()
        .unwrap();
    let addrs = show(&ns, &["-4", "addr", "show", "dev", "vtset0"]);
    assert!(
        addrs
            .iter()
            .any(|l| after(l, "inet") == Some("198.18.9.5/32")),
        "{addrs:?}"
    );
    let link = show(&ns, &["link", "show", "dev", "vtset0"]);
    assert_eq!(after(&link[0], "qlen"), Some("77"), "{link:?}");
    let routes4 = show(
        &ns,
        &["-4", "route", "show", "dev", "vtset0", "proto", "boot"],
    );
    assert!(
        routes4.iter().any(|l| l.starts_with("198.19.13.0/24 ")),
        "{routes4:?}"
    );
    drop(tun);
}
