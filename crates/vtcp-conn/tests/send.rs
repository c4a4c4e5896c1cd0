//! The sending side as segment traces: what a tail loss probe carries,
//! and when the congestion window grows. Sequence numbers are relative
//! to each side's ISN.

mod trace;

use trace::Trace;
use vtcp_conn::{CloseReason, Congestion, Event};

/// RFC 8985 §7.3: with nothing new to send, the probe is the last
/// segment again, and carries the FIN only when it ends where the FIN
/// stands. Here the data and the FIN went in one segment of 1000
/// octets, then the path's MTU fell to 500 octets of data
/// ([`vtcp_conn::Conn::set_path_mtu`], no resend asked): the probe
/// sends the first 500 again, without the FIN, which is 500 octets
/// further on.
#[test]
fn a_probe_shorter_than_the_last_segment_does_not_carry_its_fin() {
    let mut t = Trace::established(|_| {});
    t.conn().write(&[7; 1000]).unwrap();
    t.conn().close();
    t.at(20)
        .expect("FP. 1:1001(1000) ack 1 win * <*>")
        .expect_none();
    // 500 octets of data, 20 of TCP header and 12 of timestamps.
    assert!(t.conn().set_path_mtu(532));
    assert_eq!(t.conn().send_mss(), 500);
    // The probe timeout (2·SRTT, plus 200 ms for the delayed ACK of a
    // lone segment), capped at the RTO: 200 ms.
    t.at(219).expect_none();
    t.at(220)
        .expect(". 1:501(500) ack 1 win * <*>")
        .expect_none();
    assert_eq!(t.conn().stats().tlp_probes, 1);
}

/// Congestion avoidance (RFC 5681 §3.1) grows the window by one segment
/// per window acknowledged while the window is what holds the sender
/// back (RFC 7661 §4.1: the window was used). A timeout leaves NewReno
/// at one segment with ssthresh at five (half the flight of ten); slow
/// start takes it back to five, and from there each round trip in which
/// data waited for the window adds one segment.
#[test]
fn a_sender_held_back_by_its_window_grows_it_in_congestion_avoidance() {
    let mut t = Trace::established(|c| {
        c.congestion = Congestion::NewReno;
        c.rack_tlp = false;
    });
    t.conn().write(&vec![7; 1 << 20]).unwrap();
    let mut sent = 0;
    t.at(20);
    while t.take().is_some() {
        sent += 1;
    }
    assert_eq!(sent, 10, "the initial window");
    t.at(220).expect(". 1:1449(1448) ack 1 win * <*>");
    let s = t.conn().stats();
    assert_eq!((s.cwnd, s.ssthresh), (1448, 5 * 1448));
    // Every round trip, the whole flight is acknowledged at once.
    let mut now = 250;
    let mut acked = 1 + 10 * 1448;
    let mut windows = Vec::new();
    for _ in 0..8 {
        t.at(now).recv(&format!(
            ". 1:1(0) ack {acked} win 1000 <nop,nop,TS val {now} ecr 0>"
        ));
        windows.push(t.conn().stats().cwnd / 1448);
        while let Some(bytes) = t.take() {
            acked += vtcp_wire::Segment::parse(&bytes).unwrap().data_len() as u32;
        }
        now += 10;
    }
    // Slow start: two segments for the ACK of the ten (RFC 3465's L of
    // 2·SMSS), then up to ssthresh; congestion avoidance: one a window.
    assert_eq!(windows, [3, 5, 6, 7, 8, 9, 10, 11]);
}

/// RFC 3168 §6.1.3: a receiver echoes a CE mark with ECE on its ACKs
/// until CWR comes. A reset is no ACK of data: the one an abort sends
/// while the echo is owed carries RST and ACK, not ECE (nor does it
/// carry ECT: §6.1.4 to §6.1.6, new data only).
#[test]
fn a_reset_carries_no_ecn_echo() {
    let mut t = Trace::passive(|_| {});
    t.at(0)
        .recv("SEW 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    t.expect("[noecn] SE. 0:0(0) ack 1 win 65535 <*>");
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    assert!(t.conn().ecn_negotiated());
    t.at(20)
        .recv("[ce] P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect("[noecn] E. 1:1(0) ack 11 win * <*>");
    // Data unread: the close is an abort.
    t.conn().close();
    t.expect("[noecn] R. 1:1(0) ack 11 win 0 <*>").expect_none();
    assert!(t.events().contains(&Event::Closed(CloseReason::Aborted)));
}

/// RFC 8985 §7.2–7.3: one tail loss probe at a time. Three segments at
/// 10 ms, the probe (the last one again) at 30 ms; an ACK of the first
/// at 35 ms restarts the RTO but arms no second probe while the first is
/// unanswered: nothing goes until the RTO, 200 ms later.
#[test]
fn no_second_probe_while_one_is_unanswered() {
    let mut t = Trace::established(|_| {});
    t.conn().write(&[7; 3 * 1448]).unwrap();
    t.expect(". 1:1449(1448) ack 1 win * <*>")
        .expect(". 1449:2897(1448) ack 1 win * <*>")
        .expect("P. 2897:4345(1448) ack 1 win * <*>")
        .expect_none();
    t.at(29).expect_none();
    t.at(30)
        .expect("P. 2897:4345(1448) ack 1 win * <*>")
        .expect_none();
    t.at(35)
        .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 135 ecr 0>");
    t.at(234).expect_none();
    assert_eq!(t.conn().stats().tlp_probes, 1);
    t.at(235).expect(". 1449:2897(1448) ack 1 win * <*>");
    assert_eq!(t.conn().stats().rtos, 1);
}

/// RFC 8985 §7.4.2: a probe that sent the last segment again and is
/// acknowledged without a D-SACK repaired a loss (the original was
/// lost), which gets the congestion response a fast recovery would have
/// made: ssthresh falls to half the flight, and the window with it.
#[test]
fn a_probe_that_repaired_a_loss_reduces_the_window() {
    let mut t = Trace::established(|_| {});
    assert_eq!(t.conn().stats().ssthresh, u32::MAX);
    t.conn().write(&[7; 3 * 1448]).unwrap();
    assert!(t.take().is_some() && t.take().is_some() && t.take().is_some());
    t.at(30)
        .expect("P. 2897:4345(1448) ack 1 win * <*>")
        .expect_none();
    t.at(35)
        .recv(". 1:1(0) ack 4345 win 1000 <nop,nop,TS val 135 ecr 0>");
    let s = t.conn().stats();
    assert_eq!((s.tlp_probes, s.fast_recoveries), (1, 0));
    assert!(s.ssthresh < 10 * 1448, "ssthresh {}", s.ssthresh);
    assert_eq!(s.cwnd, s.ssthresh);
}

/// RFC 7661 §4.1 at the edge of slow start: a window at ssthresh is in
/// congestion avoidance (RFC 5681 §3.1 lets either run there, and this
/// engine counts it as avoidance), where only a window that held the
/// sender back grows. After a timeout NewReno is at one segment with
/// ssthresh five; an application that writes three segments a round
/// trip takes it to five by slow start, and there it stays.
#[test]
fn a_window_at_ssthresh_that_the_application_does_not_fill_does_not_grow() {
    let mut t = Trace::established(|c| {
        c.congestion = Congestion::NewReno;
        c.rack_tlp = false;
    });
    t.conn().write(&[7; 10 * 1448]).unwrap();
    let mut sent = 0;
    while t.take().is_some() {
        sent += 1;
    }
    assert_eq!(sent, 10);
    t.at(220).expect(". 1:1449(1448) ack 1 win * <*>");
    let mut now = 250;
    let mut acked = 1 + 10 * 1448;
    let mut windows = Vec::new();
    for _ in 0..6 {
        t.at(now).recv(&format!(
            ". 1:1(0) ack {acked} win 1000 <nop,nop,TS val {now} ecr 0>"
        ));
        windows.push(t.conn().stats().cwnd / 1448);
        t.conn().write(&[7; 3 * 1448]).unwrap();
        while let Some(bytes) = t.take() {
            acked += vtcp_wire::Segment::parse(&bytes).unwrap().data_len() as u32;
        }
        now += 10;
    }
    assert_eq!(windows, [3, 5, 5, 5, 5, 5]);
}

/// Segmentation offload with a controller that paces: a super-segment is
/// capped at the controller's send quantum (as Linux's
/// `tcp_tso_autosize`), which at BBR's start covers the initial window:
/// the ten segments go as one super-segment, and the pacer then holds
/// the next data back.
#[test]
fn bbr_sends_its_initial_window_as_one_super_segment() {
    let mut t = Trace::established(|c| c.congestion = Congestion::Bbr);
    t.max_segment = 65_535;
    t.conn().write(&[1; 1448 * 40]).unwrap();
    t.expect(". 1:14481(14480) ack 1 win * <*>").expect_none();
    let w = t.last_written.unwrap();
    assert_eq!((w.segments, w.segment_size), (10, 1448));
}

/// RFC 6298 §5.4–5.6 when the timer runs out with nothing in flight: a
/// smaller path MTU (RFC 1191 §6.3) took SND.NXT back to SND.UNA to send
/// the flight again in smaller segments, and the driver has not sent
/// them yet when the RTO expires. That is no loss: the window is not
/// cut (ssthresh stays), and the flight goes again whole.
#[test]
fn a_timeout_with_nothing_in_flight_is_no_loss() {
    let mut t = Trace::established(|c| c.rack_tlp = false);
    t.conn().write(&[1; 2 * 1448]).unwrap();
    t.expect(". 1:1449(1448) ack 1 win * <*>")
        .expect("P. 1449:2897(1448) ack 1 win * <*>")
        .expect_none();
    let ssthresh = t.conn().stats().ssthresh;
    t.at(15);
    // "Fragmentation needed", next-hop MTU 1052: 1000 octets of data.
    let mtu = vtcp_conn::IcmpError::from_icmpv4(3, 4, 1052).unwrap();
    let quoted = vtcp_seq::Seq(trace::OUR_ISN + 1);
    let now = t.now;
    t.conn().handle_icmp(now, mtu, quoted);
    assert_eq!(t.conn().send_mss(), 1000);
    t.at(210);
    let s = t.conn().stats();
    assert_eq!((s.rtos, s.ssthresh), (1, ssthresh));
    t.expect(". 1:1001(1000) ack 1 win * <*>")
        .expect(". 1001:2001(1000) ack 1 win * <*>")
        .expect("P. 2001:2897(896) ack 1 win * <*>")
        .expect_none();
}

/// Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a segment shorter than
/// the MSS goes when it is at least half the largest window the peer
/// ever offered (here 1000 octets, unscaled: a peer without window
/// scaling), Nagle allowing, though more data waits behind it.
#[test]
fn a_segment_of_half_the_peer_s_largest_window_goes() {
    let mut t = Trace::passive(|_| {});
    t.at(0)
        .recv("S 0:0(0) win 1000 <mss 1460,sackOK,TS val 100 ecr 0>");
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100>");
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    t.conn().write(&[1; 3000]).unwrap();
    t.expect(". 1:1001(1000) ack 1 win * <*>").expect_none();
    t.at(20)
        .recv(". 1:1(0) ack 1001 win 600 <nop,nop,TS val 120 ecr 0>");
    // 600 octets of room: more than half of 1000.
    t.expect(". 1001:1601(600) ack 1 win * <*>").expect_none();
}

/// The ACK of everything sent, arriving after the retransmission timer
/// ran out but before the driver sent anything again (SND.NXT went back
/// to SND.UNA, so nothing counts as in flight): it still moves SND.UNA
/// (RFC 9293 §3.10.7.4, SND.UNA < SEG.ACK ≤ SND.MAX), and nothing goes
/// again.
#[test]
fn an_ack_after_the_timeout_before_the_resend_acknowledges_the_data() {
    let mut t = Trace::established(|c| c.rack_tlp = false);
    t.conn().write(&[1; 1000]).unwrap();
    t.expect("P. 1:1001(1000) ack 1 win * <*>");
    t.at(210);
    assert_eq!(t.conn().stats().rtos, 1);
    t.at(215)
        .recv(". 1:1(0) ack 1001 win 1000 <nop,nop,TS val 215 ecr 0>");
    assert_eq!(t.conn().stats().bytes_acked, 1000);
    t.expect_none();
}
