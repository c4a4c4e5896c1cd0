//! The receiving side as segment traces: when an ACK goes at once, when
//! the read side counts as closed, what a read that finds nothing does
//! to receive-window auto-tuning, and what a closed connection does with
//! segments that still arrive. Sequence numbers are relative to each
//! side's ISN.

mod trace;

use trace::Trace;
use vtcp_conn::{CloseReason, Event, State};

/// RFC 5681 §4.2: "an immediate ACK SHOULD be generated when a segment
/// arrives that fills in all or part of a gap". Here the segment fills
/// the only hole: no delayed ACK, the ACK covers the data held out of
/// order too.
#[test]
fn a_segment_that_fills_the_hole_is_acknowledged_at_once() {
    let mut t = Trace::established(|_| {});
    t.at(20)
        .recv(". 101:201(100) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    // Out of order: a duplicate ACK at once, with its SACK block.
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110,nop,nop,sack 101:201>")
        .expect_none();
    t.at(30)
        .recv(". 1:101(100) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect(". 1:1(0) ack 201 win * <nop,nop,TS val * ecr 130>")
        .expect_none();
    assert_eq!(t.conn().readable(), 200);
}

/// The read side is closed once the peer's FIN is taken in and every
/// octet before it read (RFC 9293 §3.10.7.4 eighth: "connection
/// closing"), not while data remains to read.
#[test]
fn the_read_side_closes_when_the_data_before_the_fin_is_read() {
    let mut t = Trace::established(|_| {});
    assert!(!t.conn().is_read_closed());
    t.at(20)
        .recv("FP. 1:11(10) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    assert_eq!(t.conn().state(), State::CloseWait);
    assert!(!t.conn().is_read_closed(), "10 octets to read");
    let mut buf = [0u8; 64];
    assert_eq!(t.conn().read(&mut buf), 10);
    assert!(t.conn().is_read_closed());
}

/// Receive-window auto-tuning (Linux's `tcp_rcv_space_adjust`) measures
/// what the application drains per round trip (here the handshake's
/// 10 ms, the data echoing no TSval of ours), from the connection's
/// start. A read that finds nothing drains nothing and does not start a
/// new round trip: 40 segments that arrive at 20 ms and are read then
/// are one round trip's drain, and the window grows to twice it
/// (115,840 octets, scaled by 8: 14,480).
#[test]
fn a_read_that_finds_nothing_does_not_restart_auto_tuning_s_round_trip() {
    let mut t = Trace::established(|_| {});
    let mut buf = vec![0u8; 1 << 16];
    // The peer's ACK at 15 ms, and a read then that finds nothing.
    t.at(15)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 115 ecr 0>");
    assert_eq!(t.conn().read(&mut buf), 0);
    t.at(20);
    for i in 0..40u32 {
        t.recv(&format!(
            ". {}:{}(1448) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>",
            1 + i * 1448,
            1 + (i + 1) * 1448
        ));
    }
    let mut read = 0;
    while read < 40 * 1448 {
        let n = t.conn().read(&mut buf);
        assert!(n > 0);
        read += n;
    }
    t.expect(". 1:1(0) ack 57921 win 14480 <*>").expect_none();
}

/// RFC 9293 §3.10.7.1: a CLOSED connection takes nothing from what
/// arrives (its user is told it no longer exists; the stack answers with
/// a RST). An aborted connection's data in flight stays unacknowledged,
/// no timer comes back, and nothing is counted but the segment.
#[test]
fn a_closed_connection_takes_nothing_from_segments_that_arrive() {
    let mut t = Trace::established(|_| {});
    t.events();
    t.conn().write(&[7; 100]).unwrap();
    t.at(20).expect("P. 1:101(100) ack 1 win * <*>");
    t.conn().abort();
    t.expect("R. 101:101(0) ack 1 win 0 <*>").expect_none();
    assert_eq!(t.conn().poll_timeout(), None);
    let before = t.conn().stats();
    // The ACK of the data, then a segment outside the window.
    t.at(30)
        .recv(". 1:1(0) ack 101 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.recv(". 90000:90010(10) ack 101 win 1000 <nop,nop,TS val 131 ecr 0>");
    t.expect_none();
    let after = t.conn().stats();
    assert_eq!(after.bytes_acked, before.bytes_acked);
    assert_eq!(after.dropped, before.dropped);
    assert_eq!(after.segments_in, before.segments_in + 2);
    assert_eq!(t.conn().poll_timeout(), None);
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(t.events(), vec![Event::Closed(CloseReason::Aborted)]);
}

/// RFC 9293 §3.10.7.4: an unacceptable segment is answered with an ACK
/// and dropped. One with FIN, outside the window in ESTABLISHED (an old
/// duplicate, or a blind attacker's), closes nothing and starts no
/// TIME-WAIT: long after 2·MSL the connection is as it was.
#[test]
fn a_fin_outside_the_window_closes_nothing() {
    let mut t = Trace::established(|_| {});
    t.at(20)
        .recv("F. 900000:900000(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <*>").expect_none();
    t.at(60_000).expect_none();
    assert_eq!(t.conn().state(), State::Established);
    assert_eq!(t.conn().poll_timeout(), None);
}

/// RFC 9293 §3.10.7.4 eighth, CLOSE-WAIT: "Remain in the CLOSE-WAIT
/// state". A peer that sends FIN again past its first (a broken one: its
/// stream ended at the first) is acknowledged, and the connection waits
/// for the application as before; no TIME-WAIT begins.
#[test]
fn a_second_fin_in_close_wait_leaves_it_to_the_application() {
    let mut t = Trace::established(|_| {});
    t.at(20)
        .recv("F. 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 2 win * <*>");
    assert_eq!(t.conn().state(), State::CloseWait);
    t.at(30)
        .recv("F. 2:2(0) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect(". 1:1(0) ack 2 win * <*>");
    t.at(60_000).expect_none();
    assert_eq!(t.conn().state(), State::CloseWait);
    t.conn().close();
    t.expect("F. 1:1(0) ack 2 win * <*>");
    assert_eq!(t.conn().state(), State::LastAck);
}

/// Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): the right edge moves
/// only by at least min(half the buffer, one MSS). A 20,000-octet buffer
/// (no scaling, no auto-tuning) holds 10,136 octets; the application
/// reads 100 of them: the window offered next stays where the edge was
/// (8,416 after one more segment), not 100 octets further.
#[test]
fn reading_less_than_a_segment_does_not_move_the_right_edge() {
    let mut t = Trace::passive(|c| {
        c.recv_buffer = 20_000;
        c.auto_tune = false;
    });
    t.at(0).recv(trace::PEER_SYN);
    t.expect("S. 0:0(0) ack 1 win 20000 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 0>");
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    for i in 0..7u32 {
        t.recv(&format!(
            ". {}:{}(1448) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>",
            1 + i * 1448,
            1 + (i + 1) * 1448
        ));
    }
    t.expect(". 1:1(0) ack 10137 win 9864 <*>").expect_none();
    let mut buf = [0u8; 100];
    assert_eq!(t.conn().read(&mut buf), 100);
    t.expect_none();
    t.at(20)
        .recv(". 10137:11585(1448) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.at(60).expect(". 1:1(0) ack 11585 win 8416 <*>");
}

/// RFC 7323 §5.5: TS.Recent is forgotten only when it is older than 24
/// days; until then PAWS holds. After 23 days idle, a segment with an
/// older TSval is still dropped and answered with an ACK (a TSval from
/// before the idle period may be a wrapped-around old duplicate only
/// after 24 days at one tick a millisecond).
#[test]
fn paws_holds_a_timestamp_idle_for_less_than_24_days() {
    let mut t = Trace::established(|_| {});
    let day = 24 * 3600 * 1000;
    t.at(23 * day)
        .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 50 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110>");
    assert_eq!(t.conn().readable(), 0);
    assert_eq!(t.conn().stats().dropped, 1);
}

/// `ConnConfig::accept_unadvertised_room` (FreeBSD's rule) takes the
/// buffer's room for RCV.WND until TIME-WAIT, not in it: there the
/// window is the one advertised, and a segment beyond it is unacceptable
/// (RFC 9293 §3.10.7.4), acknowledged and dropped; it does not restart
/// the 2·MSL wait, which ends 2 s after the peer's FIN. (Without window
/// scaling, a 200,000-octet buffer is advertised as 65,535.)
#[test]
fn in_time_wait_only_the_advertised_window_is_acceptable() {
    let mut t = Trace::passive(|c| {
        c.accept_unadvertised_room = true;
        c.auto_tune = false;
        c.window_scaling = false;
        c.recv_buffer = 200_000;
    });
    t.at(0).recv(trace::PEER_SYN);
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100>");
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    t.conn().shutdown_write();
    t.at(20).expect("F. 1:1(0) ack 1 win * <*>");
    t.at(30)
        .recv(". 1:1(0) ack 2 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.at(40)
        .recv("F. 1:1(0) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect(". 2:2(0) ack 2 win * <*>");
    assert_eq!(t.conn().state(), State::TimeWait);
    // Inside the buffer's room, past the window advertised.
    t.at(1000)
        .recv(". 100000:100010(10) ack 2 win 1000 <nop,nop,TS val 1000 ecr 0>");
    t.expect(". 2:2(0) ack 2 win * <*>");
    assert_eq!(t.conn().stats().dropped, 1);
    t.at(2039);
    assert_eq!(t.conn().state(), State::TimeWait);
    t.at(2040);
    assert_eq!(t.conn().state(), State::Closed);
}

/// RFC 9293 §3.10.7.4 seventh, CLOSE-WAIT: "This should not occur since
/// a FIN has been received from the remote side. Ignore the segment
/// text." Data from a (broken) peer numbered from where its FIN was is
/// not the application's: nothing more to read after the end of file.
#[test]
fn data_after_the_peer_s_fin_is_not_taken() {
    let mut t = Trace::established(|_| {});
    t.at(20)
        .recv("F. 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    assert_eq!(t.conn().state(), State::CloseWait);
    t.events();
    t.at(30)
        .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().readable(), 0);
    assert!(t.conn().is_read_closed());
    assert_eq!(t.events(), vec![]);
}
