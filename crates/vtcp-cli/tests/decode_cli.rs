//! `vtcp decode` as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A capture of the repository's (`tests/vectors/`).
fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors")
        .join(name)
}

/// Rows of tshark's decode beside a capture (the header not counted).
fn tshark_rows(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(vector(name).with_extension("tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn vtcp(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtcp"))
        .args(args)
        .output()
        .expect("vtcp runs")
}

fn decode(path: &Path) -> Output {
    vtcp(&["decode".as_ref(), path.as_os_str()])
}

/// A file in a fresh scratch directory of this test process.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vtcp-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn summary_value(stdout: &str, key: &str) -> usize {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in summary:\n{stdout}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn decodes_a_capture_with_summary() {
    let out = decode(&vector("linux-ipv4-default.pcap"));
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first = stdout.lines().next().unwrap();
    // tcpdump's line for the SYN, with tshark's values (columns: source
    // port, sequence number, window, checksum, TSval, window scale).
    let rows = tshark_rows("linux-ipv4-default.pcap");
    let syn = &rows[0];
    let (port, seq, win, cksum, tsval, ws) =
        (&syn[5], &syn[7], &syn[11], &syn[12], &syn[21], &syn[17]);
    assert!(
        first.ends_with(&format!(
            "IP 198.18.0.1.{port} > 198.18.0.2.7000: Flags [S], seq {seq}, win {win}, \
             options [mss 1460,sackOK,TS val {tsval} ecr 0,nop,wscale {ws}], length 0, cksum {cksum} (correct)"
        )),
        "{first}"
    );
    assert_eq!(summary_value(&stdout, "tcp segments"), rows.len());
    assert_eq!(summary_value(&stdout, "frames"), rows.len());
    assert_eq!(summary_value(&stdout, "flows"), 3);
    assert_eq!(summary_value(&stdout, "bad checksums"), 0);
    assert_eq!(summary_value(&stdout, "malformed"), 0);
    // 4% loss on 150 kB of data: some segments were sent again.
    let retransmissions = summary_value(&stdout, "retransmissions");
    assert!(retransmissions > 0);
    assert_eq!(stdout.matches("[retransmission]").count(), retransmissions);
}

#[test]
fn a_corrupted_segment_is_reported_with_a_bad_checksum() {
    let mut bytes = std::fs::read(vector("linux-ipv6-default.pcap")).unwrap();
    // The last byte of the file is the last byte of the last segment.
    *bytes.last_mut().unwrap() ^= 0x40;
    let path = scratch("corrupt.pcap", &bytes);
    let out = decode(&path);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(summary_value(&stdout, "bad checksums"), 1);
    assert_eq!(stdout.matches("(incorrect)").count(), 1);
}

#[test]
fn bad_files_get_a_message_naming_them_and_a_failure_exit() {
    let missing = Path::new("/nonexistent/vtcp/missing.pcap");
    let out = decode(missing);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("missing.pcap") && stderr.contains("cannot read"),
        "{stderr}"
    );

    let bytes = std::fs::read(vector("linux-ipv4-nosack.pcap")).unwrap();
    let truncated = scratch("truncated.pcap", &bytes[..bytes.len() - 7]);
    let out = decode(&truncated);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("truncated.pcap") && stderr.contains("truncated"),
        "{stderr}"
    );

    let garbage = scratch("garbage.pcap", b"this is not a capture at all");
    let out = decode(&garbage);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("garbage.pcap") && stderr.contains("not a pcap"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_non_zero() {
    let out = vtcp(&["decode".as_ref()]);
    assert!(!out.status.success());
    let out = vtcp(&["frobnicate".as_ref()]);
    assert!(!out.status.success());
}

/// A pcap of a link type the decoder does not know (USER0, 147): its
/// frames are not counted silently as "other": the summary says they
/// could not be read, and of which link type.
#[test]
fn frames_of_an_unknown_link_type_are_reported_as_unreadable() {
    let mut pcap = Vec::new();
    // Legacy pcap header: magic, version 2.4, zone, sigfigs, snaplen,
    // link type 147.
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 147] {
        pcap.extend_from_slice(&word.to_le_bytes());
    }
    // One record of 4 octets.
    for word in [1u32, 0, 4, 4] {
        pcap.extend_from_slice(&word.to_le_bytes());
    }
    pcap.extend_from_slice(&[1, 2, 3, 4]);
    let out = decode(&scratch("user0.pcap", &pcap));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(summary_value(&stdout, "other frames"), 0, "{stdout}");
    assert!(
        stdout.contains("unreadable frames 1 (link type 147 is not supported)"),
        "{stdout}"
    );
}
