//! `cargo xtask capture-vectors`: records the Linux test vectors in
//! `tests/vectors/` (Linux talking to Linux in the interop lab's
//! namespaces, see `vtcp_lab::capture`) and writes tshark's decode of
//! every segment beside each capture. Needs root; installs tshark with
//! apt-get when it is missing.

use std::process::Command;

use crate::util::{exec, lab_binary, root, succeeds};

/// tshark's fields, in the order of the `.tsv` columns.
const FIELDS: [&str; 24] = [
    "frame.number",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.hdr_len",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.checksum",
    "tcp.checksum.status",
    "tcp.urgent_pointer",
    "tcp.len",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.sack_perm",
    "tcp.options.sack_le",
    "tcp.options.sack_re",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "tcp.option_kind",
];

fn ensure_tshark() -> Result<(), String> {
    if succeeds(Command::new("tshark").arg("--version")) {
        return Ok(());
    }
    eprintln!("tshark is missing: installing it with apt-get");
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "tshark"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    if let Some(why) = crate::interop::unavailable() {
        return Err(format!(
            "capture-vectors runs the interop lab, which cannot run here: {why}"
        ));
    }
    ensure_tshark()?;
    let dir = root().join("tests/vectors");
    exec(lab_binary()?.arg("capture").arg(&dir))?;
    let mut pcaps: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    pcaps.sort();
    for pcap in pcaps {
        let mut cmd = Command::new("tshark");
        cmd.arg("-r")
            .arg(&pcap)
            .args(["-o", "tcp.check_checksum:TRUE"])
            .args(["-o", "tcp.relative_sequence_numbers:FALSE"])
            .args(["-T", "fields", "-E", "header=y", "-E", "separator=/t"])
            .args(["-E", "occurrence=a", "-E", "aggregator=,"]);
        for f in FIELDS {
            cmd.args(["-e", f]);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run tshark: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tshark on {}: {}",
                pcap.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let tsv = pcap.with_extension("tsv");
        std::fs::write(&tsv, &out.stdout).map_err(|e| format!("{}: {e}", tsv.display()))?;
        eprintln!("wrote {} and {}", pcap.display(), tsv.display());
    }
    Ok(())
}
