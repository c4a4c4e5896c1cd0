//! The three-way handshake's edges as segment traces: what a SYN's
//! acknowledgment field means without its ACK flag, data that comes on
//! a SYN or a SYN-ACK, the RTT the handshake measures, and TCP Fast Open
//! asked for too late. Sequence numbers are relative to each side's ISN.

mod trace;

use std::time::Duration;

use trace::{OUR_SYN_ACK, PEER_SYN, Trace};
use vtcp_conn::{Event, State};
use vtcp_wire::FastOpenCookie;

/// RFC 9293 §3.10.7.3: in SYN-SENT only a segment with the ACK flag
/// acknowledges our SYN; a SYN without it is the peer's own open
/// (simultaneous open, §3.5 figure 8), whatever its acknowledgment field
/// holds (§3.1: the field is read only when ACK is set). Here the field
/// holds exactly our ISN + 1.
#[test]
fn a_syn_without_the_ack_flag_acknowledges_nothing_whatever_its_ack_field_holds() {
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
    t.at(5)
        .recv("S 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    assert_eq!(t.conn().state(), State::SynReceived);
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 3>")
        .expect_none();
    assert_eq!(t.events(), vec![]);
}

/// RFC 9293 §3.10.7.3: data on the SYN-ACK is taken with it (RCV.NXT
/// moves past it) and acknowledged at once; the application hears that
/// the connection is up and that there is data to read.
#[test]
fn data_on_a_syn_ack_is_readable_once_the_connection_is_up() {
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win 65535 <*>");
    t.at(20)
        .recv("S. 0:10(10) ack 1 win 65535 <mss 1460,sackOK,TS val 500 ecr 0,nop,wscale 7>");
    assert_eq!(t.conn().state(), State::Established);
    t.expect(". 1:1(0) ack 11 win * <nop,nop,TS val * ecr 500>");
    assert_eq!(t.events(), vec![Event::Connected, Event::Readable]);
    assert_eq!(t.conn().readable(), 10);
}

/// RFC 9293 §3.10.7.2: data on a SYN to a server without TCP Fast Open
/// waits for the handshake; the ACK that completes it makes the data
/// readable, and the application hears of both.
#[test]
fn data_on_a_syn_is_announced_when_the_handshake_completes() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv("S 0:100(100) win 65535 <mss 1460>");
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    assert_eq!(t.events(), vec![]);
    t.at(10).recv(". 1:1(0) ack 1 win 65535");
    assert_eq!(t.events(), vec![Event::Connected, Event::Readable]);
    assert_eq!(t.conn().readable(), 100);
}

/// RFC 6298 §2.2: the handshake's round trip (SYN-ACK at 0, its ACK at
/// 20 ms; or SYN and SYN-ACK) is the first measurement: SRTT = R, RTTVAR = R/2. The ACK
/// echoes the SYN-ACK's TSval too, but that is the same round trip, not
/// a second sample (RFC 7323 §4: one sample per round trip timed).
#[test]
fn the_handshake_s_round_trip_is_one_first_measurement() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv(PEER_SYN).expect(OUR_SYN_ACK);
    let tsval = t.last_tsval.expect("timestamps");
    t.at(20).recv(&format!(
        ". 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr {tsval}>"
    ));
    assert_eq!(t.conn().state(), State::Established);
    let s = t.conn().stats();
    assert_eq!(s.srtt, Some(Duration::from_millis(20)));
    assert_eq!(s.rttvar, Duration::from_millis(10));

    // The same for an active open: SYN at 0, SYN-ACK at 20 ms echoing
    // the SYN's TSval.
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win 65535 <*>");
    let tsval = t.last_tsval.expect("timestamps");
    t.at(20).recv(&format!(
        "S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 500 ecr {tsval},nop,wscale 7>"
    ));
    assert_eq!(t.conn().state(), State::Established);
    let s = t.conn().stats();
    assert_eq!(s.srtt, Some(Duration::from_millis(20)));
    assert_eq!(s.rttvar, Duration::from_millis(10));
}

/// RFC 7413 §4.2.2: the server decides on a SYN's TFO cookie before its
/// SYN-ACK goes. Once the SYN-ACK has gone (acknowledging the SYN alone)
/// accepting the data is too late and changes nothing: the data is not
/// the application's before the handshake, no cookie rides in the
/// SYN-ACK sent again, and the data is delivered as any SYN's once the
/// handshake completes.
#[test]
fn fast_open_accepted_after_the_syn_ack_went_changes_nothing() {
    let mut t = Trace::passive(|_| {});
    t.at(0)
        .recv("S 0:100(100) win 65535 <mss 1460,FO 0102030405060708>");
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    let cookie = FastOpenCookie::new(&[9; 8]).unwrap();
    t.conn().accept_fast_open(Some(cookie), true);
    assert_eq!(t.conn().readable(), 0);
    assert!(!t.conn().is_fast_open_pending());
    assert_eq!(t.events(), vec![]);
    // The SYN-ACK's timeout sends it again as it was.
    t.at(1000)
        .expect("S. 0:0(0) ack 1 win 65535 <mss 1460>")
        .expect_none();
    t.at(1010).recv(". 1:1(0) ack 1 win 65535");
    assert_eq!(t.conn().readable(), 100);
}

/// RFC 7413 §4.1.3.1: a SYN sent again after a timeout carries neither
/// TFO's cookie nor its data. Asking for TFO once the first SYN has gone
/// is too late ([`vtcp_conn::Conn::request_fast_open`]: "ignored
/// after"), even when the timeout has taken SND.NXT back to the ISN: the
/// SYN goes again plain, and there is nothing to tell the cookie cache.
#[test]
fn fast_open_asked_for_after_the_syn_timed_out_changes_nothing() {
    let plain = "S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>";
    let mut t = Trace::active(|_| {});
    t.conn().write(&[7; 100]).unwrap();
    t.expect(plain).expect_none();
    // The SYN's timeout runs; the application asks for TFO before the
    // SYN goes again.
    t.at(1000);
    let cookie = FastOpenCookie::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    t.conn().request_fast_open(Some(cookie), Some(1460));
    t.expect(plain).expect_none();
    t.at(1050).recv("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    t.expect("P. 1:101(100) ack 1 win *").expect_none();
    assert_eq!(t.conn().take_fast_open_outcome(), None);
}

/// RFC 9293 §3.10.7.4: the window is taken from a segment only if it is
/// newer than the one that last set it (SND.WL1 < SEG.SEQ, or equal with
/// SND.WL2 ≤ SEG.ACK). A connection from a SYN cookie (one that kept no
/// option of the peer's SYN: no scaling, SACK or timestamps) took its
/// window, 1000, from the ACK that returned the cookie, at the peer's
/// ISN + 1; a segment that starts before it (at the ISN, its data
/// overlapping the SYN's number) is older: its data past RCV.NXT is
/// taken, its zero window is not, and data goes out in the window there
/// was.
#[test]
fn a_segment_older_than_the_cookie_s_ack_does_not_set_the_window() {
    use vtcp_conn::{Conn, CookieHandshake};
    use vtcp_seq::Seq;
    let mut t = Trace::passive(|_| {});
    let plain = CookieHandshake {
        remote_isn: Seq(trace::PEER_ISN),
        local_isn: Seq(trace::OUR_ISN),
        peer_mss: 536,
        peer_wscale: None,
        our_wscale: 0,
        sack_permitted: false,
        timestamp: None,
        window: 1000,
    };
    let cfg = vtcp_conn::ConnConfig::default();
    t.conn = Some(Conn::accept_cookie(
        cfg,
        t.ends,
        Duration::ZERO,
        &plain,
        &[],
    ));
    t.at(5).recv("P. 0:11(11) ack 1 win 0");
    assert_eq!(t.conn().readable(), 10);
    t.conn().write(&[1; 100]).unwrap();
    t.expect("P. 1:101(100) ack 11 win *").expect_none();
}

/// RFC 7413 §4.2.2 with no room: a server with a zero-size receive
/// buffer takes none of a valid TFO SYN's data, and tells the
/// application of nothing to read.
#[test]
fn fast_open_data_with_no_room_announces_nothing() {
    let mut t = Trace::passive(|c| c.recv_buffer = 0);
    t.at(0)
        .recv("S 0:100(100) win 65535 <mss 1460,FO 0102030405060708>");
    t.conn().accept_fast_open(None, true);
    assert_eq!(t.conn().readable(), 0);
    assert_eq!(t.events(), vec![]);
}
