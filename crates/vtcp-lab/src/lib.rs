//! The Linux interop lab: vtcp against the kernel's own TCP.
//!
//! Everything vtcp says about its behaviour and speed is checked here
//! against the Linux kernel, not only against itself. The lab builds
//! network namespaces of its own, puts a TUN device in each, and joins
//! the kernel to a vtcp stack in this process (or to a second kernel, the
//! reference) through a relay that can impair each direction: random and
//! bursty loss, reordering, duplication, delay and a rate limit, all
//! seeded ([`relay`], on vtcp-sim's link model).
//!
//! - namespaces are `vtcp_tun::netns`'s, named `vtcp-lab-<pid>-<n>`.
//! - [`relay`]: the impairing relay and its pcap tap.
//! - [`topo`]: the set-ups, kernel against vtcp, kernel against kernel,
//!   and vtcp and a kernel sharing one bottleneck.
//! - [`kernel`]: what the kernel's side runs (sinks, sources, echo) and
//!   the checks of what arrived; [`dns`]: a DNS answer for its UDP
//!   server, which `dig` asks through the example forwarder.
//! - [`bench`](mod@bench), [`echo`], [`fairness`]: the measurements;
//!   [`soak`]: a long run of everything at once, watched for stalls.
//! - [`diff`]: differential testing, the same scripted peer against the
//!   kernel's TCP and vtcp's, step by step.
//! - [`vectors`]: the Linux test vectors (`tests/vectors/`), captures of
//!   Linux talking to Linux.
//!
//! Only addresses in 198.18.0.0/15 and fd00::/8 are used, only inside the
//! lab's own namespaces. The lab needs root, `ip` and `/dev/net/tun`;
//! [`unavailable`] says what is missing so that callers can skip loudly.

pub mod bench;
pub mod diff;
pub mod dns;
pub mod echo;
pub mod fairness;
pub mod kernel;
pub mod relay;
pub mod soak;
pub mod topo;
pub mod vectors;

/// Whether a lab test may run: only under `cargo xtask interop`
/// (`VTCP_INTEROP=1`) on a machine with what the lab needs. Says loudly
/// why not, straight to stderr past the test harness's capture.
pub fn lab_here(test: &str) -> bool {
    use std::io::Write;
    let why = if std::env::var_os("VTCP_INTEROP").is_none() {
        "the interop lab runs under `cargo xtask interop`".to_owned()
    } else if let Some(why) = unavailable() {
        why
    } else {
        return true;
    };
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}

/// Why the lab cannot run here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    if !nix_is_root() {
        return Some("not root (the lab creates network namespaces and TUN devices)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("no /dev/net/tun".into());
    }
    if std::process::Command::new("ip").arg("-V").output().is_err() {
        return Some("no `ip` command (iproute2)".into());
    }
    None
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// The prefix of every namespace the lab creates.
pub const NETNS_PREFIX: &str = "vtcp-lab-";
