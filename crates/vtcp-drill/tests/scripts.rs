//! The runner's own scripts (`tests/scripts/*.pkt`) pass, and the checks
//! packetdrill makes fail a script when they should: a wrong field, a
//! segment at the wrong time, a segment the script does not expect, a
//! call's wrong result.

use std::path::PathBuf;
use std::time::Duration;

use vtcp_drill::suite::{detail, run_all};
use vtcp_drill::{Outcome, Profile, run_text};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scripts")
}

/// Every script under `dir` passes with `profile` (at least `least`).
fn all_pass(dir: &PathBuf, profile: &Profile, least: usize) {
    let results = run_all(std::slice::from_ref(dir), dir, profile).unwrap();
    assert!(results.len() >= least);
    for r in &results {
        assert_eq!(r.outcome, Outcome::Pass, "{}", detail(r));
    }
}

#[test]
fn every_script_of_the_runner_passes() {
    all_pass(&dir(), &Profile::freebsd(), 5);
}

fn passive() -> String {
    std::fs::read_to_string(dir().join("passive-open-data-close.pkt")).unwrap()
}

/// The script with `from` replaced by `to` (which must be there).
fn edited(from: &str, to: &str) -> Outcome {
    let text = passive();
    assert!(text.contains(from), "{from}");
    run_text(&text.replacen(from, to, 1), Profile::freebsd()).unwrap()
}

/// Runs the runner's script `name` with `from` replaced by `to` (which
/// must be there).
fn editor(name: &str) -> impl Fn(&str, &str) -> Outcome {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    move |from, to| {
        assert!(text.contains(from), "{from}");
        run_text(&text.replacen(from, to, 1), Profile::freebsd()).unwrap()
    }
}

fn failed_at(o: &Outcome) -> usize {
    match o {
        Outcome::Fail { line, .. } => *line,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_wrong_field_fails_at_its_line() {
    // The acknowledgment number of our SYN-ACK.
    let o = edited("> S. 0:0(0) ack 1 win", "> S. 0:0(0) ack 2 win");
    assert_eq!(failed_at(&o), 13);
    // The length of our data.
    let o = edited("> P. 1:51(50)", "> P. 1:52(51)");
    assert_eq!(failed_at(&o), 23);
    // Flags.
    let o = edited("> F. 51:51(0)", "> R. 51:51(0)");
    assert_eq!(failed_at(&o), 26);
}

#[test]
fn a_segment_early_or_late_fails() {
    // The delayed ACK is expected 100 ms after the data: at 50 ms it has
    // not come, at 300 ms it came long before.
    let o = edited("+0.10 > . 1:1(0) ack 101", "+0.05 > . 1:1(0) ack 101");
    assert_eq!(failed_at(&o), 21);
    let o = edited("+0.10 > . 1:1(0) ack 101", "+0.30 > . 1:1(0) ack 101");
    assert_eq!(failed_at(&o), 21);
}

/// A SYN retransmitted before the script's time, and otherwise the one
/// expected, is the handshake timer of the operating system's own
/// (here RFC 6298's first RTO of 1 s against a script's 3.2 s): a
/// difference naming both
/// times, not a failure; a SYN that is not the one expected still fails.
#[test]
fn an_early_syn_retransmission_differs_with_both_times() {
    let text = "--ip_version=ipv4\n\
                0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                +0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n\
                +0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n\
                +0.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 1 ecr 0>\n\
                +3.20 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 3201 ecr 0>\n";
    let o = run_text(text, Profile::freebsd()).unwrap();
    match &o {
        Outcome::Differs(why) => assert!(
            why.iter()
                .any(|w| w.contains("sent at 1.000 s, FreeBSD at 3.200 s")),
            "{why:?}"
        ),
        other => panic!("expected a timing difference, got {other:?}"),
    }
    let wrong = text.replace(
        "+3.20 > S 0:0(0) win 65535",
        "+3.20 > S. 0:0(0) ack 1 win 65535",
    );
    assert!(matches!(
        run_text(&wrong, Profile::freebsd()).unwrap(),
        Outcome::Fail { .. }
    ));
}

#[test]
fn a_segment_the_script_does_not_expect_fails() {
    // Without the line expecting our FIN, it is unexpected when the
    // peer's FIN is injected.
    let o = edited("+0.00 > F. 51:51(0) ack 101 win 65535\n", "");
    assert!(
        matches!(&o, Outcome::Fail { got, .. } if got.contains("unexpected")),
        "{o:?}"
    );
}

#[test]
fn a_wrong_result_of_a_call_fails() {
    let o = edited("read(4, ..., 1000) = 100", "read(4, ..., 1000) = 99");
    assert_eq!(failed_at(&o), 19);
    let o = edited(
        "accept(3, ..., ...) = -1 EWOULDBLOCK",
        "accept(3, ..., ...) = -1 ECONNRESET",
    );
    assert_eq!(failed_at(&o), 11);
}

#[test]
fn what_the_runner_cannot_do_is_unsupported_by_name() {
    let o = edited(
        "+0.00 bind(3, ..., ...) = 0",
        "+0.00 `sysctl -w net.inet.tcp.ecn.enable=3`\n+0.00 bind(3, ..., ...) = 0",
    );
    // 0, 1 and 2 are RFC 3168's ECN off, on and accepted (`EcnMode`);
    // FreeBSD's 3 and 4 are Accurate ECN, which the engine does not do.
    assert_eq!(
        o,
        Outcome::Unsupported("sysctl net.inet.tcp.ecn.enable=3".into())
    );
}

/// An answer the RFC asks for and FreeBSD does not send is "differs"
/// with the reason, only in the context the profile names: a RST for a
/// SYN-ACK to a listener is, a RST for the same SYN-ACK with no listener
/// (CLOSED, where FreeBSD resets too) is not.
#[test]
fn an_unexpected_segment_differs_only_where_the_profile_says_why() {
    let script = |listen: &str| {
        format!(
            "--ip_version=ipv4\n--tolerance_usecs=10000\n\
             0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0.00 bind(3, ..., ...) = 0\n{listen}\
             +0.10 < S. 17:17(0) ack 34 win 32767\n\
             +0.10 close(3) = 0\n"
        )
    };
    let o = run_text(&script("+0.00 listen(3, 1) = 0\n"), Profile::freebsd()).unwrap();
    match o {
        Outcome::Differs(why) => assert!(why[0].contains("§3.10.7.2"), "{why:?}"),
        other => panic!("expected differs, got {other:?}"),
    }
    let o = run_text(&script(""), Profile::freebsd()).unwrap();
    assert_eq!(failed_at(&o), 6);
}

/// In TIME-WAIT our ACK for an unacceptable segment is FreeBSD's
/// difference; the same ACK in ESTABLISHED, where FreeBSD sends it too,
/// fails a script that does not expect it.
#[test]
fn an_ack_the_script_does_not_expect_differs_only_in_time_wait() {
    let in_time_wait = edited(
        "+0.00 close(3) = 0",
        "+0.00 < . 200000:200000(0) ack 52 win 32767\n+0.10 close(3) = 0",
    );
    match in_time_wait {
        Outcome::Differs(why) => assert!(why[0].contains("TIME-WAIT"), "{why:?}"),
        other => panic!("expected differs, got {other:?}"),
    }
    let established = edited(
        "+0.10 > . 1:1(0) ack 101",
        "+0.00 < . 200000:200000(0) ack 1 win 32767\n+0.10 > . 1:1(0) ack 101",
    );
    assert!(
        matches!(established, Outcome::Fail { .. }),
        "{established:?}"
    );
}

/// An IP field other than the one sent fails the script at its line,
/// hop limit and traffic class alike.
#[test]
fn a_wrong_ip_field_fails_at_its_line() {
    let text = std::fs::read_to_string(dir().join("ip-fields-per-socket.pkt")).unwrap();
    let line_of = |needle: &str| 1 + text.lines().position(|l| l.contains(needle)).expect(needle);
    for (from, to) in [
        ("(ttl 6, tos 0xe0) P.", "(ttl 7, tos 0xe0) P."),
        ("(ttl 6, tos 0xe0) P.", "(ttl 6, tos 0xe4) P."),
        ("(ttl 4, tos 0x20) S.", "(ttl 64, tos 0x20) S."),
    ] {
        let line = line_of(from);
        let o = run_text(&text.replacen(from, to, 1), Profile::freebsd()).unwrap();
        assert_eq!(failed_at(&o), line, "{to}: {o:?}");
    }
}

/// A socket that holds no connection is in TCP's CLOSED state for
/// `tcpi_state`, a listening one in LISTEN; the wrong name fails.
#[test]
fn tcpi_state_of_a_socket_without_a_connection_is_closed() {
    let script = |assertion: &str, listen: &str| {
        format!(
            "--ip_version=ipv4\n--tolerance_usecs=10000\n\
             0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0.00 bind(3, ..., ...) = 0\n{listen}\
             +0.00 %{{ assert tcpi_state == {assertion} }}%\n\
             +0.00 close(3) = 0\n"
        )
    };
    let run = |a, l| run_text(&script(a, l), Profile::freebsd()).unwrap();
    assert_eq!(run("TCPI_CLOSED", ""), Outcome::Pass);
    assert_eq!(failed_at(&run("TCPI_LISTEN", "")), 5);
    let listen = "+0.00 listen(3, 1) = 0\n";
    assert_eq!(run("TCPI_LISTEN", listen), Outcome::Pass);
    assert_eq!(failed_at(&run("TCPI_CLOSED", listen)), 6);
}

/// A segment of old sequence space in LAST-ACK gets our ACK (RFC 9293
/// §3.10.7.4), where FreeBSD takes its ACK of our FIN and closes
/// silently: a documented difference. A segment beyond the window there,
/// which FreeBSD answers too, fails a script that does not expect it.
#[test]
fn an_old_segment_in_last_ack_differs_as_freebsd_takes_its_ack() {
    let script = |seq: &str| {
        format!(
            "--ip_version=ipv4\n--tolerance_usecs=10000\n\
             0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0.00 bind(3, ..., ...) = 0\n\
             +0.00 listen(3, 1) = 0\n\
             +0.10 < S  0:0(0) win 32767 <mss 1460,sackOK,eol,eol>\n\
             +0.00 > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>\n\
             +0.05 < . 1:1(0) ack 1 win 32767\n\
             +0.00 accept(3, ..., ...) = 4\n\
             +0.10 < F. 1:1(0) ack 1 win 32767\n\
             +0.00 > . 1:1(0) ack 2 win 65535\n\
             +0.00 close(4) = 0\n\
             +0.00 > F. 1:1(0) ack 2 win 65535\n\
             +0.10 < . {seq}:{seq}(0) ack 2 win 32767\n\
             +0.10 close(3) = 0\n"
        )
    };
    match run_text(&script("1"), Profile::freebsd()).unwrap() {
        Outcome::Differs(why) => assert!(why[0].contains("old sequence space"), "{why:?}"),
        other => panic!("expected differs, got {other:?}"),
    }
    assert!(matches!(
        run_text(&script("200000"), Profile::freebsd()).unwrap(),
        Outcome::Fail { .. }
    ));
}

/// `--mtu` sets the interface's MTU: the SYN offers it less the headers
/// (RFC 9293 §3.7.1); an MTU below IPv4's 68 is not one.
#[test]
fn the_mss_offered_follows_the_mtu_option() {
    let script = |mtu: &str, mss: &str| {
        format!(
            "--ip_version=ipv4\n--tolerance_usecs=10000\n--mtu={mtu}\n\
             0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n\
             +0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n\
             +0.00 > S 0:0(0) <mss {mss},nop,wscale 6,sackOK,TS val 100 ecr 0>\n\
             +0.00 close(3) = 0\n"
        )
    };
    let run = |mtu, mss| run_text(&script(mtu, mss), Profile::freebsd()).unwrap();
    assert_eq!(run("9000", "8960"), Outcome::Pass);
    assert_eq!(run("576", "536"), Outcome::Pass);
    assert!(matches!(run("9000", "1460"), Outcome::Differs(_)));
    assert!(matches!(run("67", "27"), Outcome::Unsupported(_)));
}

/// A TFO cookie other than the one expected fails the script, as does
/// a SYN without the option where the script expects one.
#[test]
fn a_fast_open_option_is_compared_octet_for_octet() {
    let text = std::fs::read_to_string(dir().join("fast-open-client.pkt")).unwrap();
    let second_syn =
        "S 0:100(100) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0,FO 0011223344556677";
    assert!(text.contains(second_syn));
    let other = text.replacen(second_syn, &second_syn.replace("0011", "0012"), 1);
    assert!(matches!(
        run_text(&other, Profile::freebsd()).unwrap(),
        Outcome::Fail { expected, .. } if expected.contains("FO 0012")
    ));
    // Without client_enable the SYN carries no option: the first SYN fails.
    let off = text.replacen("client_enable=1", "client_enable=0", 1);
    assert!(matches!(
        run_text(&off, Profile::freebsd()).unwrap(),
        Outcome::Fail { .. }
    ));
}

/// An ICMP line the runner cannot map (a type of the other family, a
/// code of none) is unsupported, not skipped: the script's check of what
/// it would do must not pass unseen.
#[test]
fn an_icmp_line_the_runner_cannot_map_is_unsupported() {
    let text = std::fs::read_to_string(dir().join("icmp-errors-in-syn-sent.pkt")).unwrap();
    for (from, to) in [
        (
            "< icmp unreachable host_unreachable",
            "< icmp packet_too_big mtu 1300",
        ),
        (
            "< icmp unreachable host_unreachable",
            "< icmp unreachable no_such_code",
        ),
    ] {
        let o = run_text(&text.replacen(from, to, 1), Profile::freebsd()).unwrap();
        assert!(matches!(o, Outcome::Unsupported(_)), "{to}: {o:?}");
    }
    // And a hard error the script does not expect fails it.
    let o = run_text(
        &text.replacen(
            "< icmp unreachable host_unreachable",
            "< icmp unreachable protocol_unreachable",
            1,
        ),
        Profile::freebsd(),
    )
    .unwrap();
    assert!(matches!(o, Outcome::Fail { .. }), "{o:?}");
}

/// A socket takes the keepalive timers the sysctls held when it was made
/// and reports them in seconds; a later sysctl changes only new sockets.
#[test]
fn a_socket_reports_the_keepalive_timers_it_was_made_with() {
    let script = |idle: &str, cnt: &str| {
        format!(
            "--ip_version=ipv4\n--tolerance_usecs=10000\n\
             0.00 `sysctl -w net.inet.tcp.keepidle=15000`\n\
             +0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0.00 `sysctl -w net.inet.tcp.keepidle=30000`\n\
             +0.00 getsockopt(3, IPPROTO_TCP, TCP_KEEPIDLE, [{idle}], [4]) = 0\n\
             +0.00 getsockopt(3, IPPROTO_TCP, TCP_KEEPCNT, [{cnt}], [4]) = 0\n\
             +0.00 close(3) = 0\n"
        )
    };
    let run = |i, c| run_text(&script(i, c), Profile::freebsd()).unwrap();
    assert_eq!(run("15", "8"), Outcome::Pass);
    assert_eq!(failed_at(&run("30", "8")), 6);
    assert_eq!(failed_at(&run("15", "9")), 7);
}

/// A script's settings and an active open on a non-blocking socket, its
/// SYN next.
const ACTIVE_OPEN: &str = "--ip_version=ipv4\n--tolerance_usecs=10000\n\
     +0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
     +0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n\
     +0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n";

/// `TCP_NOOPT` is what leaves the options out: without it the same
/// script fails at our SYN (its options), and `tcpi_options` reports
/// what was agreed (7: timestamps, SACK, window scaling), a wrong value
/// failing at its line.
#[test]
fn noopt_leaves_every_option_out_and_tcpi_options_reports_them() {
    let text = std::fs::read_to_string(dir().join("noopt-no-options-at-all.pkt")).unwrap();
    let first = "+0.00 setsockopt(3, IPPROTO_TCP, TCP_NOOPT, [1], 4) = 0\n";
    let o = run_text(&text.replacen(first, "", 1), Profile::freebsd()).unwrap();
    assert_eq!(failed_at(&o), 11);
    let script = |options: &str| {
        format!(
            "{ACTIVE_OPEN}\
             +0.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n\
             +0.05 < S. 0:0(0) ack 1 win 65535 <mss 1460,{options}>\n\
             +0.00 > . 1:1(0) ack 1 win 1026 <...>\n\
             +0.00 %{{ assert tcpi_options == 7 }}%\n"
        )
    };
    let run = |o| run_text(&script(o), Profile::freebsd()).unwrap();
    assert_eq!(run("sackOK,TS val 1 ecr 100,nop,wscale 7"), Outcome::Pass);
    // SACK alone: 2, not 7.
    assert_eq!(failed_at(&run("sackOK")), 9);
}

/// A blocking connect is checked when it returns: at the script's end
/// time (a wrong one fails at the call's line), with its result (a
/// handshake that completes is not ETIMEDOUT); without TCP_KEEPINIT the
/// FreeBSD default of 75 s holds the handshake past 2 s, and the call is
/// still blocked when the script ends.
#[test]
fn a_blocking_connect_returns_at_its_end_time_with_its_result() {
    let edited = editor("blocking-connect-and-keepinit.pkt");
    assert_eq!(
        failed_at(&edited("0.00...0.50 connect", "0.00...0.30 connect")),
        9
    );
    assert_eq!(
        failed_at(&edited(
            "connect(3, ..., ...) = 0",
            "connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)"
        )),
        9
    );
    assert_eq!(
        failed_at(&edited("+0.00...+2.00 connect", "+0.00...+2.50 connect")),
        18
    );
    let o = edited(
        "+0.00 setsockopt(4, IPPROTO_TCP, TCP_KEEPINIT, [2], 4) = 0\n\
         +0.00 getsockopt(4, IPPROTO_TCP, TCP_KEEPINIT, [2], [4]) = 0\n",
        "",
    );
    assert_eq!(failed_at(&o), 16);
    // A time range on a call that never blocks here is beyond the runner.
    let o = edited("+0.00 close(4) = 0", "+0.00...+1.00 close(4) = 0");
    assert!(matches!(o, Outcome::Unsupported(_)), "{o:?}");
}

/// A SYN expected at any time (`*`) that vtcp's handshake timer sends
/// later than the runner waits (30 s; FreeBSD's `tcp_syn_backoff` keeps
/// its SYNs closer) differs, with both times, when it is the SYN
/// expected; a SYN of other contents fails there; a connection that
/// timed out before the SYNs the script expects differs, its ETIMEDOUT
/// still checked; a SYN expected at a time of the script's that comes
/// later fails as any segment does.
#[test]
fn a_syn_later_than_the_runners_wait_differs_with_both_times() {
    let script = |tail: &str| {
        format!(
            "{ACTIVE_OPEN}\
             +0.00 > S 0:0(0) win 65535 <...>\n{tail}"
        )
    };
    let run = |t: &str| run_text(&script(t), Profile::freebsd()).unwrap();
    // At 1, 3, 7, 15 and 31 s, then 63 s: 32 s after the one before.
    let star = "* > S 0:0(0) win 65535 <...>\n";
    match run(&star.repeat(6)) {
        Outcome::Differs(why) => {
            assert_eq!(why.len(), 1, "{why:?}");
            assert!(
                why[0].starts_with(
                    "line 12: SYN retransmission sent at 63.000 s, FreeBSD by 61.000 s"
                ),
                "{why:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run(&star.repeat(5)), Outcome::Pass);
    let other = "* > S 1:1(0) win 65535 <...>\n";
    assert_eq!(failed_at(&run(&(star.repeat(5) + other))), 12);
    // FreeBSD's TCP_KEEPINIT (75 s) ends the handshake before an eighth
    // SYN (at 123 s).
    let timed_out = |errno: &str| {
        run(&format!(
            "{}+20.00 getsockopt(3, SOL_SOCKET, SO_ERROR, [{errno}], [4]) = 0\n",
            star.repeat(7)
        ))
    };
    match timed_out("ETIMEDOUT") {
        Outcome::Differs(why) => {
            assert_eq!(why.len(), 2, "{why:?}");
            assert!(
                why[1].starts_with("line 13: no SYN retransmission"),
                "{why:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(failed_at(&timed_out("0")), 14);
    assert_eq!(failed_at(&run("+0.50 > S 0:0(0) win 65535 <...>\n")), 7);
}

/// `sysctl net.inet.tcp.rexmit_drop_options=1`: the third retransmission
/// of a SYN carries the MSS option alone; at 0 it keeps every option and
/// the script expecting the MSS alone fails there.
#[test]
fn rexmit_drop_options_leaves_the_mss_alone_from_the_third_retransmission() {
    let script = |drop: u8| {
        format!(
            "0.00 `sysctl -w net.inet.tcp.rexmit_drop_options={drop}`\n{ACTIVE_OPEN}\
             +0.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n\
             +1.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n\
             +2.00 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n\
             +4.00 > S 0:0(0) win 65535 <mss 1460>\n\
             +8.00 > S 0:0(0) win 65535 <mss 1460>\n"
        )
    };
    let run = |d| run_text(&script(d), Profile::freebsd()).unwrap();
    assert_eq!(run(1), Outcome::Pass);
    assert_eq!(failed_at(&run(0)), 10);
}

/// A blocking accept and a blocking read are tried on the socket layer
/// after each segment and timer, in virtual time, and checked when they
/// return: at the end time the script gives (a wrong one fails at the
/// call's line), with their result. A blocking call while another
/// blocks fails; a blocking read that would block without a time range
/// is unsupported (the runner cannot tell when it should return).
#[test]
fn blocking_accept_and_read_return_when_the_socket_layer_says() {
    let edited = editor("blocking-accept-and-read.pkt");
    // The accept returns with the handshake's ACK, at 0.15 s.
    assert_eq!(
        failed_at(&edited("+0.00...+0.15 accept", "+0.00...+0.10 accept")),
        14
    );
    assert_eq!(
        failed_at(&edited(
            "accept(3, ..., ...) = 4",
            "accept(3, ..., ...) = 5"
        )),
        14
    );
    // The read returns when the data comes, 0.3 s later, with 60 octets.
    assert_eq!(
        failed_at(&edited(
            "+0.00...+0.30 read(4, ..., 60)",
            "+0.00...+0.40 read(4, ..., 60)"
        )),
        19
    );
    assert_eq!(
        failed_at(&edited("read(4, ..., 60) = 60", "read(4, ..., 60) = 100")),
        19
    );
    // The peek sees the 40 octets left, and takes none.
    assert_eq!(failed_at(&edited("MSG_PEEK) = 40", "MSG_PEEK) = 100")), 21);
    // A second blocking call while the read blocks.
    let o = edited(
        "+0.30 < P. 1:101(100)",
        "+0.00...+0.10 accept(3, ..., ...) = 5\n+0.30 < P. 1:101(100)",
    );
    assert_eq!(failed_at(&o), 20);
    // The last read without its range would block.
    let o = edited(
        "+0.00...+0.20 read(4, ..., 1000) = 0",
        "+0.00 read(4, ..., 1000) = 0",
    );
    assert_eq!(
        o,
        Outcome::Unsupported("a blocking read that would block".into())
    );
}

fn linux_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/linux-scripts")
}

/// The script `name` of `tests/linux-scripts`, with `from` replaced by
/// `to` (which must be there), run with `profile`.
fn linux_edited(name: &str, from: &str, to: &str, profile: Profile) -> Outcome {
    let text = std::fs::read_to_string(linux_dir().join(name)).unwrap();
    assert!(text.contains(from), "{from}");
    run_text(&text.replacen(from, to, 1), profile).unwrap()
}

/// The runner's Linux-flavoured scripts pass under the Linux profile
/// (quick ACKs, the 40 ms delayed ACK, the 200 ms RTO floor, a TSO
/// super-segment matched by its parts) and none passes under FreeBSD's.
#[test]
fn every_linux_script_passes_under_the_linux_profile() {
    all_pass(&linux_dir(), &Profile::linux(), 4);
    let freebsd = run_all(&[linux_dir()], &linux_dir(), &Profile::freebsd()).unwrap();
    assert!(freebsd.iter().all(|r| r.outcome != Outcome::Pass));
}

/// Each choice of the Linux profile is what makes its script pass: no
/// quick ACKs, FreeBSD's 100 ms delayed ACK, or a 1 s RTO floor each
/// fail the script at the line that shows it.
#[test]
fn the_linux_scripts_fail_without_the_choice_they_show() {
    let run = |name: &str, tweak: fn(&mut Profile)| {
        let mut p = Profile::linux();
        tweak(&mut p);
        let text = std::fs::read_to_string(linux_dir().join(name)).unwrap();
        run_text(&text, p).unwrap()
    };
    let o = run("handshake-quick-acks.pkt", |p| p.quick_acks = 0);
    assert_eq!(failed_at(&o), 24, "{o:?}");
    let o = run("delayed-ack-40ms.pkt", |p| {
        p.delayed_ack = Duration::from_millis(100);
    });
    assert_eq!(failed_at(&o), 52, "{o:?}");
    let o = run("rto-200ms-minimum.pkt", |p| {
        p.min_rto = Duration::from_secs(1);
    });
    assert_eq!(failed_at(&o), 18, "{o:?}");
}

/// A TSO super-segment is matched by parts that tile it exactly: a line
/// one octet longer than the burst, shifted, or over a gap fails; one
/// shorter leaves a part the script does not expect.
#[test]
fn a_super_segment_matches_only_parts_that_tile_it() {
    let tso = |from: &str, to: &str| linux_edited("tso-burst.pkt", from, to, Profile::linux());
    let line = "   +0 > P. 1:10001(10000) ack 1";
    assert_eq!(failed_at(&tso(line, "   +0 > P. 1:10002(10001) ack 1")), 19);
    // A shorter line takes the parts it covers (PSH aside: a difference);
    // the part left over is a segment the script does not expect.
    let o = tso(line, "   +0 > P. 1:9001(9000) ack 1");
    assert!(failed_at(&o) > 19, "{o:?}");
    assert_eq!(failed_at(&tso(line, "   +0 > P. 2:10002(10000) ack 1")), 19);
    let o = tso(
        "   +0 > P. 10001:25001(15000) ack 1",
        "   +0 > P. 10001:18001(8000) ack 1\n   +0 > P. 19001:25001(6000) ack 1",
    );
    assert!(matches!(o, Outcome::Fail { .. }), "{o:?}");
    // Parts of a burst, each written out, pass too.
    let o = tso(
        line,
        "   +0 > . 1:5001(5000) ack 1\n   +0 > P. 5001:10001(5000) ack 1",
    );
    assert_eq!(o, Outcome::Pass);
}

/// packetdrill's descriptors are the script's names: in the Linux profile
/// a socket made after a close takes the number the script gives it
/// (its scripts number sockets anew); FreeBSD's profile gives the lowest
/// free one, as the FreeBSD suite expects.
#[test]
fn a_linux_script_names_its_descriptors() {
    let text = "\
 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 close(3) = 0
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4
+0 close(4) = 0
";
    assert_eq!(run_text(text, Profile::linux()), Ok(Outcome::Pass));
    assert_eq!(failed_at(&run_text(text, Profile::freebsd()).unwrap()), 3);
}
