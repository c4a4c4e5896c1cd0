//! The wire codec against real Linux captures and tshark's decode of them
//! (the repository's `tests/vectors/`, made by `cargo xtask
//! capture-vectors`, and `../shared/vectors/` when present): every segment
//! parses to exactly tshark's fields, verifies its checksum with the IP
//! pseudo-header, and re-encodes to the identical bytes.
//!
//! These tests live here, not in `vtcp-wire`, because they need the
//! capture reader of `vtcp::pcap`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vtcp::pcap::{self as capture, FrameContent};
use vtcp_wire::checksum::PseudoHeader;
use vtcp_wire::{Segment, SegmentView, TcpOption};

/// The repository's own vectors.
const STEMS: [&str; 6] = [
    "linux-ipv4-default",
    "linux-ipv6-default",
    "linux-ipv4-smallmss",
    "linux-ipv4-nosack",
    "linux-ipv4-nots",
    "linux-ipv6-nowscale",
];

/// The older set beside the repository, when present.
const SHARED_STEMS: [&str; 4] = [
    "linux-ipv4-default",
    "linux-ipv6-default",
    "linux-ipv4-smallmss",
    "linux-ipv4-nosack",
];

fn repo_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn shared_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors")
}

/// The rows of a `.tsv`, each a map from tshark field name to value.
fn tshark_rows(dir: &Path, stem: &str) -> Vec<HashMap<String, String>> {
    let path = dir.join(format!("{stem}.tsv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header row").split('\t').collect();
    lines
        .map(|line| {
            header
                .iter()
                .zip(line.split('\t'))
                .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

fn hex(v: &str) -> u64 {
    u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn list(v: &str) -> Vec<u64> {
    if v.is_empty() {
        Vec::new()
    } else {
        v.split(',').map(|x| x.parse().unwrap()).collect()
    }
}

fn optional(v: &str) -> Option<u64> {
    (!v.is_empty()).then(|| v.parse().unwrap())
}

fn check_capture(dir: &Path, stem: &str) -> usize {
    let pcap = dir.join(format!("{stem}.pcap"));
    let bytes = std::fs::read(&pcap).unwrap_or_else(|e| panic!("{}: {e}", pcap.display()));
    let frames = capture::read_frames(&bytes).expect("a readable capture");
    let rows = tshark_rows(dir, stem);
    assert_eq!(
        frames.len(),
        rows.len(),
        "{stem}: every frame is a TCP segment"
    );
    for (frame, row) in frames.iter().zip(&rows) {
        let ctx = format!("{stem} frame {}", frame.number);
        let field = |name: &str| row.get(name).map(String::as_str).unwrap_or("");
        assert_eq!(frame.number.to_string(), field("frame.number"), "{ctx}");
        let FrameContent::Tcp(tcp) = capture::tcp_in_frame(frame.linktype, frame.data) else {
            panic!("{ctx}: no TCP segment found");
        };
        let (src, dst) = if field("ip.src").is_empty() {
            (field("ipv6.src"), field("ipv6.dst"))
        } else {
            (field("ip.src"), field("ip.dst"))
        };
        assert_eq!(tcp.src.to_string(), src, "{ctx}");
        assert_eq!(tcp.dst.to_string(), dst, "{ctx}");

        let seg = Segment::parse(tcp.tcp).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let num = |name: &str| -> u64 {
            field(name)
                .parse()
                .unwrap_or_else(|e| panic!("{ctx} {name}: {e}"))
        };
        assert_eq!(u64::from(seg.src_port), num("tcp.srcport"), "{ctx}");
        assert_eq!(u64::from(seg.dst_port), num("tcp.dstport"), "{ctx}");
        assert_eq!(u64::from(seg.seq.0), num("tcp.seq_raw"), "{ctx}");
        assert_eq!(u64::from(seg.ack.0), num("tcp.ack_raw"), "{ctx}");
        assert_eq!(seg.header_len() as u64, num("tcp.hdr_len"), "{ctx}");
        assert_eq!(
            u64::from(seg.flags.bits()),
            hex(field("tcp.flags")),
            "{ctx}"
        );
        assert_eq!(u64::from(seg.window), num("tcp.window_size_value"), "{ctx}");
        assert_eq!(u64::from(seg.checksum), hex(field("tcp.checksum")), "{ctx}");
        assert_eq!(u64::from(seg.urgent), num("tcp.urgent_pointer"), "{ctx}");
        assert_eq!(seg.data_len() as u64, num("tcp.len"), "{ctx}");

        // Options: tshark's values, and the kinds in wire order.
        assert_eq!(
            seg.options.mss().map(u64::from),
            optional(field("tcp.options.mss_val")),
            "{ctx}"
        );
        let raw_wscale = seg.options.iter().find_map(|o| match o {
            TcpOption::WindowScale(v) => Some(u64::from(v)),
            _ => None,
        });
        assert_eq!(
            raw_wscale,
            optional(field("tcp.options.wscale.shift")),
            "{ctx}"
        );
        // tshark shows SACK-permitted as the option's bytes.
        let sack_perm = field("tcp.options.sack_perm");
        assert_eq!(seg.options.sack_permitted(), !sack_perm.is_empty(), "{ctx}");
        if !sack_perm.is_empty() {
            assert_eq!(sack_perm, "0402", "{ctx}");
        }
        let blocks = seg.options.sack_blocks();
        let lefts: Vec<u64> = blocks.iter().map(|b| u64::from(b.left.0)).collect();
        let rights: Vec<u64> = blocks.iter().map(|b| u64::from(b.right.0)).collect();
        assert_eq!(lefts, list(field("tcp.options.sack_le")), "{ctx}");
        assert_eq!(rights, list(field("tcp.options.sack_re")), "{ctx}");
        let ts = seg.options.timestamp();
        assert_eq!(
            ts.map(|t| u64::from(t.tsval)),
            optional(field("tcp.options.timestamp.tsval")),
            "{ctx}"
        );
        assert_eq!(
            ts.map(|t| u64::from(t.tsecr)),
            optional(field("tcp.options.timestamp.tsecr")),
            "{ctx}"
        );
        // The one-pass reader (with its fast paths for Linux's layouts)
        // agrees with the getters, which walk the option list.
        let one_pass = SegmentView::new_checked(tcp.tcp)
            .unwrap()
            .option_values()
            .unwrap();
        assert_eq!(
            one_pass,
            vtcp_wire::OptionValues {
                mss: seg.options.mss(),
                wscale: seg.options.wscale(),
                sack_permitted: seg.options.sack_permitted(),
                sack_blocks: blocks,
                timestamp: ts,
                fast_open: vtcp_wire::get_fast_open(seg.options.iter()),
            },
            "{ctx}"
        );
        let kinds: Vec<u64> = seg.options.iter().map(|o| u64::from(o.kind())).collect();
        assert_eq!(kinds, list(field("tcp.option_kind")), "{ctx}");

        // Checksum with the pseudo-header, both ways.
        let pseudo = PseudoHeader::new(tcp.src, tcp.dst).expect("one family");
        assert_eq!(field("tcp.checksum.status"), "1", "{ctx}");
        assert!(
            SegmentView::new_checked(tcp.tcp)
                .unwrap()
                .verify_checksum(&pseudo),
            "{ctx}"
        );
        assert_eq!(
            vtcp_wire::checksum::tcp_checksum(&pseudo, tcp.tcp),
            seg.checksum,
            "{ctx}"
        );

        // Re-encoding gives the identical bytes, and so does recomputing
        // the checksum over a copy whose field was cleared.
        assert_eq!(seg.to_bytes(), tcp.tcp, "{ctx}: re-encoding");
        let mut cleared = seg.clone();
        cleared.checksum = 0;
        let mut buf = [0u8; 1600];
        let len = cleared.emit_with_checksum(&mut buf, &pseudo).unwrap();
        assert_eq!(
            &buf[..len],
            tcp.tcp,
            "{ctx}: re-encoding with a fresh checksum"
        );
    }
    rows.len()
}

#[test]
fn ipv4_default_matches_tshark() {
    assert!(check_capture(&repo_vectors(), STEMS[0]) > 100);
}

#[test]
fn ipv6_default_matches_tshark() {
    assert!(check_capture(&repo_vectors(), STEMS[1]) > 100);
}

#[test]
fn ipv4_small_mss_matches_tshark() {
    assert!(check_capture(&repo_vectors(), STEMS[2]) > 100);
}

#[test]
fn ipv4_no_sack_matches_tshark() {
    assert!(check_capture(&repo_vectors(), STEMS[3]) > 100);
}

#[test]
fn ipv4_no_timestamps_matches_tshark() {
    assert!(check_capture(&repo_vectors(), STEMS[4]) > 100);
}

#[test]
fn ipv6_no_window_scaling_matches_tshark() {
    assert!(check_capture(&repo_vectors(), STEMS[5]) > 100);
}

#[test]
fn the_shared_vectors_match_tshark_when_present() {
    let dir = shared_vectors();
    if !dir.is_dir() {
        // Straight to stderr, past the test harness's capture: a skip
        // must show.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the_shared_vectors_match_tshark_when_present: {} is absent \
             (the repository's own vectors were checked)",
            dir.display()
        );
        return;
    }
    for stem in SHARED_STEMS {
        assert!(check_capture(&dir, stem) > 200, "{stem}");
    }
}

#[test]
fn the_captures_exercise_every_option_and_flag_the_codec_reads() {
    // Guards the value of the tests above: the vectors must contain SACK
    // blocks, SYNs with every option, RSTs and FINs, and segments without
    // timestamps or window scaling.
    let mut seen = std::collections::BTreeSet::new();
    for stem in STEMS {
        for row in tshark_rows(&repo_vectors(), stem) {
            seen.insert(row["tcp.flags"].clone());
            for kind in list(&row["tcp.option_kind"]) {
                seen.insert(format!("kind {kind}"));
            }
            if row["tcp.flags"] == "0x0002" {
                seen.insert(format!("SYN kinds {}", row["tcp.option_kind"]));
            }
        }
    }
    for want in [
        "0x0002",
        "0x0012",
        "0x0011",
        "0x0014",
        "kind 2",
        "kind 3",
        "kind 4",
        "kind 5",
        "kind 8",
        // Every option; no timestamps; no window scale.
        "SYN kinds 2,4,8,1,3",
        "SYN kinds 2,1,1,4,1,3",
        "SYN kinds 2,4,8",
    ] {
        assert!(seen.contains(want), "no {want} in the vectors: {seen:?}");
    }
}
