//! Differential testing against Linux (`vtcp_lab::diff`): fixed scripts
//! run against the kernel and against vtcp, and what the comparison says.
//!
//! Needs root, `ip` and `/dev/net/tun`, and runs only with
//! `VTCP_INTEROP=1` (`cargo xtask interop`); anywhere else it prints that
//! it skipped.

use vtcp_lab::diff::{self, script::Script};
use vtcp_lab::lab_here;

/// A handshake with every option, data both ways and an orderly close
/// from the server: both stacks do the same, segment for segment.
const CLEAN: &str = "role server
listen
inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero
inject . seq=+0 ack=+0 win=502 ts=new:echo
accept
write 3000
inject . seq=+0 ack=+0 win=502 ts=new:echo
inject P. seq=+0 ack=+0 len=100 win=502 ts=new:echo
read 1000
close
inject F. seq=+0 ack=+0 win=502 ts=new:echo
inject . seq=+0 ack=+0 win=502 ts=new:echo
";

/// The same from the client's side, with a half-close.
const CLIENT: &str = "role client
connect
inject S. seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:echo
write 100
inject . seq=+0 ack=+0 win=502 ts=new:echo
shutdown
inject F. seq=+0 ack=+0 win=502 ts=new:echo
read 100
close
wait 100
";

/// A documented difference (docs/conformance.md, "Differential testing
/// against Linux"): Linux answers at most one out-of-window segment per
/// 500 ms per connection (`tcp_invalid_ratelimit`), unless it carries
/// data; vtcp acknowledges each, as RFC 9293 §3.10.7.4 says.
const OUT_OF_WINDOW: &str = "role server
listen
inject S seq=+0 ack=+0 win=65535 mss=1460 sackok
inject . seq=+0 ack=+0 win=65535
accept
inject . seq=+200000 ack=+0 win=65535
inject . seq=+200000 ack=+0 win=65535
close
";

#[test]
fn linux_and_vtcp_agree_on_a_clean_connection_and_part_where_documented() {
    if !lab_here("linux_and_vtcp_agree_on_a_clean_connection_and_part_where_documented") {
        return;
    }
    let mut lab = diff::linux::LinuxLab::new().expect("the namespace and its device");
    for (name, text) in [("clean", CLEAN), ("client", CLIENT)] {
        let script = Script::parse(text).expect("the script reads");
        let pair = diff::run_pair(&mut lab, &script, 1).expect("both run");
        let table = diff::compare::side_by_side(&script, &pair.linux, &pair.vtcp);
        assert_eq!(pair.difference, None, "{name}:\n{table}");
        // The traces are not empty: the handshake, the data and the FIN.
        let segments: usize = pair.linux.iter().map(|r| r.sent.len()).sum();
        assert!(segments >= 5, "{name}:\n{table}");
    }
    let script = Script::parse(OUT_OF_WINDOW).expect("the script reads");
    let pair = diff::run_pair(&mut lab, &script, 1).expect("both run");
    let table = diff::compare::side_by_side(&script, &pair.linux, &pair.vtcp);
    let d = pair.difference.expect("Linux skips the second ACK");
    assert_eq!(d.steps, vec![5], "{table}");
    assert_eq!(
        d.signature, "inject . seq! | linux [] | vtcp [.]",
        "{table}"
    );
}

/// The "open" family of docs/conformance.md, read to the end (issue 25):
/// each script with the signature of its difference, or `None` where the
/// two agree.
///
/// Linux's request socket (SYN-RECEIVED) takes a TSecr only between the
/// TSvals of its SYN-ACKs (`tcp_check_req`'s `tsecr_reject`, Linux 6.15
/// on), but its ACK for an unacceptable segment carries a later TSval: a
/// peer that echoes that ACK has its next segment refused (an ACK, and
/// the final ACK or data not taken). vtcp takes it (RFC 7323 sets no test
/// on TSecr). Echoing zero, the two agree.
const SYN_RECEIVED_TSECR: [(&str, &str, Option<&str>); 4] = [
    (
        "an in-window RST not at RCV.NXT, then the final ACK",
        "role server
listen
inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero
inject SR. seq=+1 ack=+0 win=502 ts=new:echo
inject . seq=+0 ack=+0 win=502 ts=new:echo
accept
",
        Some("accept | linux WouldBlock [] | vtcp ok []"),
    ),
    (
        "the same, the final ACK echoing zero",
        "role server
listen
inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero
inject SR. seq=+1 ack=+0 win=502 ts=new:echo
wait 600
inject . seq=+0 ack=+0 win=502 ts=new:zero
accept
",
        None,
    ),
    (
        "a final ACK refused by PAWS, then data",
        "role server
listen
inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero
inject . seq=+0 ack=+0 win=502 ts=old:echo
inject P. seq=+0 ack=+0 len=100 win=502 ts=new:echo
accept
",
        Some("inject P.+d | linux [.] | vtcp [.] | ack"),
    ),
    (
        "the same, the data echoing zero",
        "role server
listen
inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero
inject . seq=+0 ack=+0 win=502 ts=old:echo
inject P. seq=+0 ack=+0 len=100 win=502 ts=new:zero
accept
read 1000
",
        None,
    ),
];

/// A RST whose timestamp fails PAWS: Linux's connection takes it (as RFC
/// 7323 §5.3 R1 and vtcp do), but its orphaned FIN-WAIT-2, a time-wait
/// mini-socket, applies PAWS to it (`tcp_paws_reject` refuses a RST while
/// TS.Recent is under 60 s old) and answers with an ACK.
const RST_PAWS: [(&str, &str, Option<&str>); 2] = [
    (
        "in ESTABLISHED",
        "role server
listen
inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero
inject . seq=+0 ack=+0 win=502 ts=new:echo
accept
inject R. seq=+0 ack=+0 win=502 ts=old:echo
write 10
",
        None,
    ),
    (
        "in FIN-WAIT-2 after close()",
        "role server
listen
inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero
inject . seq=+0 ack=+0 win=502 ts=new:echo
accept
close
inject . seq=+0 ack=+0 win=502 ts=new:echo
inject R. seq=+0 ack=+0 win=502 ts=old:echo
",
        Some("inject R. ts:old | linux [.] | vtcp []"),
    ),
];

#[test]
fn the_open_family_s_differences_are_linux_s_and_documented() {
    if !lab_here("the_open_family_s_differences_are_linux_s_and_documented") {
        return;
    }
    let mut lab = diff::linux::LinuxLab::new().expect("the namespace and its device");
    for (name, text, expected) in SYN_RECEIVED_TSECR.iter().chain(RST_PAWS.iter()) {
        let script = Script::parse(text).expect("the script reads");
        let pair = diff::run_pair(&mut lab, &script, 1).expect("both run");
        let table = diff::compare::side_by_side(&script, &pair.linux, &pair.vtcp);
        let signature = pair.difference.map(|d| d.signature);
        assert_eq!(signature.as_deref(), *expected, "{name}:\n{table}");
    }
}
