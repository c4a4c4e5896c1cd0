//! `vtcp sim` as a user runs it.

use std::process::{Command, Output};

fn vtcp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtcp"))
        .args(args)
        .output()
        .expect("vtcp runs")
}

/// The number after `key` in `vtcp decode`'s summary.
fn summary_value(text: &str, key: &str) -> usize {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key:?} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Runs a 256 KiB simulation with `loss` that writes `flag`'s output to
/// `name` in a scratch directory of this test process.
fn sim_writing(flag: &str, name: &str, loss: &str) -> (Output, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("vtcp-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let out = vtcp(&[
        "sim",
        "-q",
        "--bytes",
        "256K",
        "--loss",
        loss,
        flag,
        path.to_str().unwrap(),
    ]);
    (out, path)
}

#[test]
fn a_small_lossy_transfer_prints_its_summary() {
    let out = vtcp(&[
        "sim", "--bytes", "512K", "--loss", "2%", "--rtt", "30", "--seed", "7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("transfer        524288 bytes, intact"),
        "{stdout}"
    );
    assert!(stdout.contains("closed cleanly  yes"), "{stdout}");
    assert!(stdout.contains("mathis bound"), "{stdout}");
    // The progress bar draws only on a terminal: nothing of it goes into
    // a redirected standard error (it used to, a frame per 100 ms).
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same seed, the same transfer.
    let again = vtcp(&[
        "sim", "--bytes", "512K", "--loss", "2%", "--rtt", "30", "--seed", "7", "-q",
    ]);
    let line = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("segments sent"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        line(&stdout),
        line(&String::from_utf8(again.stdout).unwrap())
    );
}

#[test]
fn compare_runs_every_controller_with_rack_tlp_sack_alone_and_neither() {
    let out = vtcp(&["sim", "--bytes", "128K", "--compare"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    for cc in ["newreno", "highspeed", "cubic", "bbr"] {
        let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with(cc)).collect();
        assert_eq!(rows.len(), 3, "{stdout}");
        for (row, recovery) in rows.iter().zip(["rack-tlp", "sack", "newreno"]) {
            assert_eq!(row.split_whitespace().nth(1), Some(recovery), "{stdout}");
        }
    }
    // The columns line up under their headings whatever the name's length.
    let lines: Vec<&str> = stdout.lines().collect();
    let col = |line: &str| line.find("Mbit/s");
    assert!(
        lines[1..].iter().all(|l| col(l) == col(lines[1])),
        "{stdout}"
    );
}

/// A link too slow for the transfer: the connection times out part way;
/// the summary says how much arrived, "INCOMPLETE", and does not call the
/// timed-out connection closed cleanly.
#[test]
fn a_transfer_that_times_out_is_incomplete_and_not_closed_cleanly() {
    let out = vtcp(&["sim", "-q", "--bytes", "1M", "--bandwidth", "0.0001"]);
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("of 1048576 bytes: INCOMPLETE"), "{stdout}");
    assert!(stdout.contains("closed cleanly  NO"), "{stdout}");
}

#[test]
fn bad_flags_get_a_message_and_a_failure_exit() {
    for args in [
        &["sim", "--loss", "1.5"][..],
        &["sim", "--loss", "-0.1"],
        &["sim", "--rtt", "-5"],
        &["sim", "--bandwidth", "0"],
        &["sim", "--bytes", "lots"],
        &["sim", "--cc", "vegas"],
        &["sim", "--mss", "10"],
        &["sim", "--frobnicate"],
        // --compare writes no capture or plot: refused, not ignored.
        &["sim", "--compare", "--pcap", "never-written.pcap"],
        &["sim", "--compare", "--plot", "never-written.svg"],
        &["sim", "--compare", "--exchanges", "10"],
    ] {
        let out = vtcp(args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.is_empty(), "{args:?}");
        // A negative value is judged, not taken for a flag.
        if args.get(2).is_some_and(|v| {
            v.strip_prefix('-')
                .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        }) {
            assert!(stderr.contains("invalid value"), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn pcap_output_reads_back_with_good_checksums() {
    let (out, pcap) = sim_writing("--pcap", "sim.pcap", "1%");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: usize = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("segments sent   "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let decoded = vtcp(&["decode", "-q", pcap.to_str().unwrap()]);
    assert!(decoded.status.success());
    let text = String::from_utf8(decoded.stdout).unwrap();
    let value = |key: &str| summary_value(&text, key);
    // Both directions are captured: at least the client's segments.
    assert!(value("tcp segments") > sent);
    assert_eq!(value("bad checksums"), 0);
    assert_eq!(value("malformed"), 0);
    assert_eq!(value("flows"), 1);
    let bad = vtcp(&[
        "sim",
        "-q",
        "--bytes",
        "1K",
        "--pcap",
        "/nonexistent/dir/x.pcap",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot create"));
}

#[test]
fn plot_output_is_an_svg_time_sequence_graph() {
    let (out, svg) = sim_writing("--plot", "sim.svg", "2%");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    // The ACK line, the window line and the cwnd line, and data segments.
    assert!(text.matches("<polyline").count() >= 3);
    assert!(text.matches(r##"stroke="#000000""##).count() > 50);
    for label in ["retransmission", "receive window", "SACK", "cwnd"] {
        assert!(text.contains(label), "no {label}");
    }
    // HighSpeed does not pace: no rate panel.
    assert!(!text.contains("pacing rate"));
}

/// With BBR the plot has a third panel, the pacing rate and BBR's
/// bandwidth estimate, and the summary says where BBR ended.
#[test]
fn a_bbr_plot_shows_its_pacing_rate_and_bandwidth_estimate() {
    let dir = std::env::temp_dir().join(format!("vtcp-sim-bbr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("bbr.svg");
    let out = vtcp(&[
        "sim",
        "--bytes",
        "2M",
        "--loss",
        "1%",
        "--cc",
        "bbr",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    // The SVG escapes the apostrophe.
    for label in ["cwnd", "pacing rate", "BBR&apos;s bandwidth estimate"] {
        assert!(text.contains(label), "no {label}");
    }
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(summary.contains("pacing rate"), "{summary}");
    assert!(summary.contains("bbr             "), "{summary}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Output paths are checked before the simulation runs: with a plot path
/// that cannot be created, nothing is simulated, so the capture asked for
/// beside it is not written either (it used to be, in full, before the
/// plot failed at the end).
#[test]
fn a_bad_output_path_fails_before_the_simulation() {
    let (_, pcap) = sim_writing("--pcap", "unused.pcap", "0%");
    std::fs::remove_file(&pcap).unwrap();
    let out = vtcp(&[
        "sim",
        "-q",
        "--bytes",
        "256K",
        "--plot",
        "/nonexistent-vtcp-dir/graph.svg",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent-vtcp-dir/graph.svg"),
        "{stderr}"
    );
    assert!(!pcap.exists(), "the simulation ran");
    assert!(out.stdout.is_empty());
}

/// A stack's pcap tap writes IPv6 as well as IPv4: a handshake between
/// two stacks over fd00::/8, captured on the client's stack, decodes with
/// every segment found and every checksum right.
#[test]
fn an_ipv6_capture_from_a_stacks_tap_decodes() {
    use std::net::{IpAddr, SocketAddr};
    use std::time::Duration;
    use vtcp::{Stack, StackConfig, pcap::PcapWriter};

    let dir = std::env::temp_dir().join(format!("vtcp-tap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("v6.pcap");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let (client, server): (IpAddr, IpAddr) =
        ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
    let mut a = Stack::new(StackConfig::default());
    let mut b = Stack::new(StackConfig::default());
    a.set_tap(Some(Box::new(PcapWriter::new(file).unwrap())));
    b.listen(SocketAddr::new(server, 80), 4).unwrap();
    let now = Duration::from_secs(1);
    a.connect(now, client, SocketAddr::new(server, 80)).unwrap();
    let mut buf = [0u8; 2048];
    let mut moved = 0;
    for _ in 0..3 {
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            b.handle_packet(now, t.src, t.dst, &buf[..t.len]);
            moved += 1;
        }
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            a.handle_packet(now, t.src, t.dst, &buf[..t.len]);
            moved += 1;
        }
    }
    a.set_tap(None).unwrap().finish().unwrap();
    assert_eq!(moved, 3);

    let decoded = vtcp(&["decode", "-q", path.to_str().unwrap()]);
    assert!(decoded.status.success());
    let text = String::from_utf8(decoded.stdout).unwrap();
    let value = |key: &str| summary_value(&text, key);
    assert_eq!(value("tcp segments"), 3, "{text}");
    assert_eq!(value("bad checksums"), 0);
    assert_eq!(value("malformed"), 0);
    std::fs::remove_dir_all(&dir).ok();
}
