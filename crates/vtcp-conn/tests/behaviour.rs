//! Segment traces, one or more per behaviour of RFC 9293 and its
//! companions. Sequence numbers are relative to each side's ISN; `*` is
//! any value.

mod trace;

use std::time::Duration;

use trace::{OUR_SYN_ACK as SYN_ACK, PEER_SYN as SYN, Trace};
use vtcp_conn::{CloseReason, Event, Keepalive, State};

/// A passive connection, ESTABLISHED at 10 ms.
fn established() -> Trace {
    established_with(|_| {})
}

/// The same with RFC 6675's DupThresh and NextSeg in place of RACK-TLP:
/// for the traces of that path (it is also the path without SACK).
fn established_6675() -> Trace {
    established_with(|c| c.rack_tlp = false)
}

/// The first flight of a bulk write: the initial window's ten segments of
/// 1448 octets (RFC 6928), and nothing more.
fn expect_initial_window(t: &mut Trace) {
    for i in 0..10u32 {
        t.expect(&format!(
            ". {}:{}(1448) ack 1 win * <*>",
            1 + i * 1448,
            1 + (i + 1) * 1448
        ));
    }
    t.expect_none();
}

fn established_with(tweak: impl FnOnce(&mut vtcp_conn::ConnConfig)) -> Trace {
    Trace::established(tweak)
}

#[test]
fn passive_handshake_answers_with_every_option_offered() {
    let mut t = established();
    assert_eq!(t.events(), vec![Event::Connected]);
    // Timestamps negotiated: the send MSS leaves room for them (RFC 6691).
    assert_eq!(t.conn().send_mss(), 1460 - 12);
}

#[test]
fn options_not_offered_are_not_used() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv("S 0:0(0) win 8192 <mss 536>");
    // No window scale, SACK or timestamps in the SYN: none in the answer.
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    t.at(5).recv(". 1:1(0) ack 1 win 8192");
    assert_eq!(t.conn().send_mss(), 536);
    t.conn().write(&[7; 3000]).unwrap();
    // Without scaling, windows are plain; 8192 allows 5 segments of 536,
    // but the initial window (RFC 6928, 10·536) and Nagle say send.
    t.expect(". 1:537(536) ack 1 win *");
}

#[test]
fn active_handshake() {
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>")
        .expect_none();
    t.at(20)
        .recv("S. 0:0(0) ack 1 win 65535 <mss 1400,sackOK,TS val 500 ecr 0,nop,wscale 7>");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 500>");
    assert_eq!(t.conn().state(), State::Established);
    assert_eq!(t.conn().send_mss(), 1400 - 12);
    // The SYN's RTT (20 ms) was measured.
    assert_eq!(t.conn().stats().srtt, Some(Duration::from_millis(20)));
}

/// Data may be queued before the handshake ends (it goes after it):
/// in SYN-SENT there is room, and `writable` is what `write` takes.
#[test]
fn there_is_room_to_write_in_syn_sent() {
    let mut t = Trace::active(|_| {});
    assert_eq!(t.conn().state(), State::SynSent);
    let room = t.conn().writable();
    assert!(room >= 1448, "room {room} in SYN-SENT");
    assert_eq!(t.conn().write(&vec![7; room + 1000]), Ok(room));
    assert_eq!(t.conn().writable(), 0);
    t.expect("S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>")
        .expect_none();
}

/// The zero-copy write takes no more than `writable`, even where the
/// send buffer's free space wraps round its ring (two slices) and the
/// auto-tuned limit (twice cwnd, at least 256 KiB) is below that space:
/// each write takes exactly the room there was, and the stream arrives
/// numbered without gap while the peer acknowledges part of what was
/// sent.
#[test]
fn a_zero_copy_write_takes_exactly_the_room_there_is() {
    let mut t = established_with(|c| c.send_buffer = 1 << 20);
    let (mut acked, mut sent_to) = (1u32, 1u32);
    for round in 0..40u32 {
        let room = t.conn().writable();
        let n = t
            .conn()
            .write_with(|a, b| {
                assert!(
                    a.len() + b.len() <= room,
                    "round {round}: {} + {} > {room}",
                    a.len(),
                    b.len()
                );
                a.fill(1);
                b.fill(1);
                a.len() + b.len()
            })
            .unwrap();
        assert_eq!(n, room, "round {round}");
        while let Some(bytes) = t.take() {
            let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
            assert_eq!(seg.seq.0.wrapping_sub(trace::OUR_ISN), sent_to);
            sent_to += seg.data_len() as u32;
        }
        // The peer takes two thirds of what is in flight.
        acked += (sent_to - acked) * 2 / 3;
        t.at(10 + u64::from(round)).recv(&format!(
            ". 1:1(0) ack {acked} win 65535 <nop,nop,TS val {} ecr 0>",
            110 + round
        ));
    }
    // More than the buffer: its ring wrapped.
    assert!(sent_to > 1 << 20, "{sent_to} octets in 40 round trips");
}

/// Each state's name as RFC 9293 writes it (for logs and `Display`).
#[test]
fn states_are_named_as_rfc_9293_writes_them() {
    let names: Vec<&str> = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ]
    .into_iter()
    .map(State::name)
    .collect();
    assert_eq!(
        names,
        [
            "CLOSED",
            "LISTEN",
            "SYN-SENT",
            "SYN-RECEIVED",
            "ESTABLISHED",
            "FIN-WAIT-1",
            "FIN-WAIT-2",
            "CLOSE-WAIT",
            "CLOSING",
            "LAST-ACK",
            "TIME-WAIT"
        ]
    );
}

/// RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the connection: closed at
/// once, nothing more sent (the SYN is not retransmitted).
#[test]
fn a_close_in_syn_sent_closes_at_once() {
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
    t.conn().close();
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(t.conn().close_reason(), Some(CloseReason::Normal));
    assert_eq!(t.conn().writable(), 0);
    t.at(5000).expect_none();
}

#[test]
fn syn_retransmits_with_backoff_then_times_out() {
    let mut t = Trace::active(|c| c.max_retries = 3);
    t.expect("S 0:0(0) win * <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
    t.at(999).expect_none();
    t.at(1000)
        .expect("S 0:0(0) win * <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
    t.at(2999).expect_none();
    t.at(3000).expect("S 0:0(0) win * <*>");
    t.at(7000).expect("S 0:0(0) win * <*>");
    t.at(15_000).expect_none();
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(t.events(), vec![Event::Closed(CloseReason::TimedOut)]);
}

/// RFC 9293 §3.8.3: the application may give up the open attempt before
/// R2 (`connect_timeout`, FreeBSD's `TCP_KEEPINIT`): at its deadline, not
/// at the next retransmission, the connection closes timed out, with no
/// RST in SYN-SENT. Once synchronized the deadline is gone.
#[test]
fn the_handshake_is_given_up_at_the_connect_timeout() {
    let mut t = Trace::active(|c| c.connect_timeout = Some(Duration::from_secs(5)));
    t.expect("S 0:0(0) win * <*>");
    t.at(1000).expect("S 0:0(0) win * <*>");
    t.at(3000).expect("S 0:0(0) win * <*>");
    t.at(4999).expect_none();
    assert_eq!(t.conn().state(), State::SynSent);
    t.at(5000).expect_none();
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(t.events(), vec![Event::Closed(CloseReason::TimedOut)]);
    assert_eq!(t.conn().poll_timeout(), None);
    // Passive, the same in SYN-RECEIVED.
    let mut t = Trace::passive(|c| c.connect_timeout = Some(Duration::from_secs(2)));
    t.at(0).recv(SYN).expect(SYN_ACK);
    t.at(1000).expect(SYN_ACK);
    t.at(2000).expect_none();
    assert_eq!(t.conn().state(), State::Closed);
    // Synchronized in time: nothing happens at the deadline.
    let mut t = Trace::active(|c| c.connect_timeout = Some(Duration::from_secs(5)));
    t.expect("S 0:0(0) win * <*>");
    t.at(100)
        .recv("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 100,nop,wscale 7>");
    t.expect(". 1:1(0) ack 1 win * <*>");
    assert_eq!(t.conn().poll_timeout(), None);
    t.at(6000).expect_none();
    assert_eq!(t.conn().state(), State::Established);
}

/// `syn_retries_with_options` (FreeBSD's `rexmit_drop_options`): after
/// two retransmissions with every option, the third SYN offers the MSS
/// alone, and a SYN-ACK that offers all gets none of them agreed.
#[test]
fn syn_retransmissions_drop_their_options_when_asked() {
    let mut t = Trace::active(|c| c.syn_retries_with_options = Some(2));
    t.expect("S 0:0(0) win * <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
    t.at(1000)
        .expect("S 0:0(0) win * <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
    t.at(3000)
        .expect("S 0:0(0) win * <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
    t.at(7000).expect("S 0:0(0) win * <mss 1460>");
    t.at(7100)
        .recv("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 100,nop,wscale 7>");
    t.expect(". 1:1(0) ack 1 win *");
    let agreed = t.conn().agreed_options();
    assert_eq!(agreed.window_scale, None);
    assert!(!agreed.sack && !agreed.timestamps);
    assert_eq!(t.conn().send_mss(), 1460);
    // By default every SYN keeps them.
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win * <*>");
    t.at(1000).expect("S 0:0(0) win * <*>");
    t.at(3000).expect("S 0:0(0) win * <*>");
    t.at(7000)
        .expect("S 0:0(0) win * <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
}

#[test]
fn syn_ack_is_retransmitted_until_acknowledged() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv(SYN).expect(SYN_ACK);
    t.at(1000).expect(SYN_ACK);
    // A retransmitted SYN is answered again.
    t.at(1500).recv(SYN).expect(SYN_ACK);
    t.at(1510)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    assert_eq!(t.conn().state(), State::Established);
}

#[test]
fn rst_for_a_syn_ack_not_ours() {
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win * <*>");
    // An ACK for something we never sent: <SEQ=SEG.ACK><CTL=RST>
    // (RFC 9293 §3.10.7.3), without ACK, so that a peer following RFC
    // 5961 resets rather than taking it for an in-window RST.
    t.at(5).recv("S. 0:0(0) ack 999 win 65535");
    t.expect("R 999:999(0) win 0 <>");
    assert_eq!(t.conn().state(), State::SynSent);
    // A RST with an acceptable ACK refuses the connection.
    t.at(6).recv("R. 0:0(0) ack 1 win 0");
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(t.events(), vec![Event::Closed(CloseReason::Refused)]);
}

#[test]
fn an_ack_above_snd_nxt_in_syn_received_gets_a_reset_at_its_ack_number() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv(SYN).expect(SYN_ACK);
    // RFC 9293 §3.10.7.4: <SEQ=SEG.ACK><CTL=RST>; the half-open
    // connection stays for the real ACK.
    t.at(5)
        .recv(". 1:1(0) ack 5000 win 1000 <nop,nop,TS val 105 ecr 0>");
    t.expect("R 5000:5000(0) win 0 <>").expect_none();
    assert_eq!(t.conn().state(), State::SynReceived);
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    assert_eq!(t.conn().state(), State::Established);
}

/// RFC 9293 §3.7.1 (MUST-15): without an MSS option the send MSS is 536
/// over IPv4 and 1220 over IPv6, less the timestamps option.
#[test]
fn without_an_mss_option_segments_are_536_over_ipv4_and_1220_over_ipv6() {
    for (addr, data) in [("198.18.0.2", 536 - 12), ("fd00::2", 1220 - 12)] {
        let mut t = Trace::passive(|_| {});
        t.ends.remote_addr = Some(addr.parse().unwrap());
        t.at(0)
            .recv("S 0:0(0) win 65535 <sackOK,TS val 100 ecr 0,nop,wscale 7>");
        t.expect(SYN_ACK);
        t.at(10)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        // The addresses are the ones it was made with.
        assert_eq!(t.conn().remote_addr(), Some(addr.parse().unwrap()));
        assert_eq!(t.conn().local_addr(), None);
        t.conn().write(&[1; 3000]).unwrap();
        t.expect(&format!(". 1:{}({data}) ack 1 win * <*>", 1 + data));
    }
}

#[test]
fn simultaneous_open() {
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win * <*>");
    t.at(5).recv(SYN);
    assert_eq!(t.conn().state(), State::SynReceived);
    t.expect("S. 0:0(0) ack 1 win * <mss 1460,sackOK,TS val * ecr 100,nop,wscale 3>");
    // RFC 9293 §3.5 figure 8: the peer's SYN-ACK completes it.
    t.at(10)
        .recv("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 120 ecr 0,nop,wscale 7>");
    assert_eq!(t.conn().state(), State::Established);
    assert!(t.events().contains(&Event::Connected));
}

#[test]
fn data_is_acknowledged_after_the_delayed_ack_time_or_every_second_segment() {
    let mut t = established();
    t.at(20)
        .recv("P. 1:1001(1000) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>")
        .expect_none();
    t.at(59).expect_none();
    t.at(60)
        .expect(". 1:1(0) ack 1001 win * <nop,nop,TS val * ecr 120>");
    // Two segments: ACK at once (RFC 5681 §4.2).
    t.at(70)
        .recv(". 1001:2449(1448) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>")
        .expect_none();
    t.recv(". 2449:3897(1448) ack 1 win 1000 <nop,nop,TS val 131 ecr 0>");
    t.expect(". 1:1(0) ack 3897 win * <nop,nop,TS val * ecr 130>");
    let mut buf = vec![0u8; 5000];
    assert_eq!(t.conn().read(&mut buf), 3896);
}

/// `quick_acks`: Linux's quick-ACK mode at a connection's start. The
/// first two in-order data segments are each ACKed at once; the third
/// waits for the delayed-ACK timer (40 ms) as without the setting. A
/// duplicate does not use one up.
#[test]
fn the_first_segments_are_acknowledged_at_once_in_quick_ack_mode() {
    let mut t = established_with(|c| c.quick_acks = 2);
    t.at(20)
        .recv("P. 1:101(100) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 101 win * <nop,nop,TS val * ecr 120>")
        .expect_none();
    // A duplicate is answered at once anyway, and leaves the count alone.
    t.at(25)
        .recv("P. 1:101(100) ack 1 win 1000 <nop,nop,TS val 125 ecr 0>");
    t.expect(". 1:1(0) ack 101 win * <nop,nop,TS val * ecr 125,nop,nop,sack 1:101>");
    t.at(30)
        .recv("P. 101:201(100) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect(". 1:1(0) ack 201 win * <nop,nop,TS val * ecr 130>")
        .expect_none();
    // The quick ACKs are spent: the delayed-ACK rule again.
    t.at(40)
        .recv("P. 201:301(100) ack 1 win 1000 <nop,nop,TS val 140 ecr 0>")
        .expect_none();
    t.at(79).expect_none();
    t.at(80)
        .expect(". 1:1(0) ack 301 win * <nop,nop,TS val * ecr 140>");
}

/// A segment of more than one full-sized segment's data (a kernel
/// super-segment, or segments coalesced by the IP layer's GRO) is ACKed
/// at once, as the segments it stands for would be (RFC 5681 §4.2;
/// Linux's `__tcp_ack_snd_check`); one full-sized segment still waits.
#[test]
fn a_coalesced_segment_of_more_than_one_mss_is_acknowledged_at_once() {
    let mut t = established();
    // One full-sized segment (MSS 1460 less 12 octets of timestamps).
    t.at(20)
        .recv(". 1:1449(1448) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>")
        .expect_none();
    t.at(60)
        .expect(". 1:1(0) ack 1449 win * <nop,nop,TS val * ecr 120>");
    // A full one and a short one merged: 2,148 octets.
    t.at(70)
        .recv("P. 1449:3597(2148) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect(". 1:1(0) ack 3597 win * <nop,nop,TS val * ecr 130>");
}

#[test]
fn out_of_order_data_gets_an_immediate_ack_with_sack_and_the_hole_too() {
    let mut t = established();
    t.at(20)
        .recv(". 1449:2897(1448) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110,nop,nop,sack 1449:2897>");
    t.at(30)
        .recv(". 4345:5793(1448) ack 1 win 1000 <nop,nop,TS val 121 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110,nop,nop,sack 4345:5793 1449:2897>");
    // Filling the first hole: ACK at once.
    t.at(40)
        .recv(". 1:1449(1448) ack 1 win 1000 <nop,nop,TS val 122 ecr 0>");
    t.expect(". 1:1(0) ack 2897 win * <nop,nop,TS val * ecr 122,nop,nop,sack 4345:5793>");
    // A duplicate is reported with D-SACK (RFC 2883).
    t.at(50)
        .recv(". 1:1449(1448) ack 1 win 1000 <nop,nop,TS val 123 ecr 0>");
    t.expect(". 1:1(0) ack 2897 win * <nop,nop,TS val * ecr 122,nop,nop,sack 1:1449 4345:5793>");
}

/// Partly a duplicate, partly new data in order, nothing held out of
/// order: the new part is taken, and the D-SACK of the old part goes at
/// once (RFC 2883 §4; FreeBSD's `rcv-data-segments/overlapping-*`), not
/// after the delayed-ACK timer.
#[test]
fn a_segment_that_is_partly_a_duplicate_is_acked_at_once_with_dsack() {
    let mut t = established();
    t.at(20)
        .recv(". 1:1001(1000) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    // One short segment: the ACK waits for the delayed-ACK timer.
    t.expect_none();
    t.at(200)
        .expect(". 1:1(0) ack 1001 win * <nop,nop,TS val * ecr 120>");
    t.at(210)
        .recv(". 501:1501(1000) ack 1 win 1000 <nop,nop,TS val 121 ecr 0>");
    t.expect(". 1:1(0) ack 1501 win * <nop,nop,TS val * ecr 121,nop,nop,sack 501:1001>");
}

#[test]
fn rst_handling_follows_rfc5961() {
    // In the window but not at RCV.NXT: a challenge ACK, nothing else.
    let mut t = established();
    t.at(20).recv("R 100:100(0) win 0");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110>");
    assert_eq!(t.conn().state(), State::Established);
    // Outside the window: dropped silently.
    t.at(21).recv("R 4000000:4000000(0) win 0").expect_none();
    assert_eq!(t.conn().stats().challenge_acks, 1);
    // Exactly RCV.NXT: reset.
    t.at(22).recv("R 1:1(0) win 0");
    assert_eq!(t.conn().state(), State::Closed);
    assert!(t.events().contains(&Event::Closed(CloseReason::Reset)));
    // A write after it says why the connection is gone.
    assert_eq!(
        t.conn().write(b"late"),
        Err(vtcp_conn::ConnError::Closed(CloseReason::Reset))
    );
}

/// RFC 793's rules when asked for (`rst_challenge`, `syn_challenge`
/// off): any RST in the window resets, and a SYN in the window is
/// answered with RST and closes; outside the window both get an ACK or
/// nothing, as before.
#[test]
fn rfc793_rst_and_syn_handling_when_rfc5961_is_turned_off() {
    let mut t = established_with(|c| c.rst_challenge = false);
    t.at(21).recv("R 4000000:4000000(0) win 0").expect_none();
    assert_eq!(t.conn().state(), State::Established);
    t.at(22).recv("R 100:100(0) win 0").expect_none();
    assert_eq!(t.conn().state(), State::Closed);
    assert!(t.events().contains(&Event::Closed(CloseReason::Reset)));
    let mut t = established_with(|c| c.syn_challenge = false);
    t.at(20)
        .recv("S 100:100(0) win 1000 <mss 1460,nop,nop,TS val 120 ecr 0>");
    t.expect("R. 1:1(0) ack 1 win 0 <*>");
    assert_eq!(t.conn().state(), State::Closed);
    assert!(t.events().contains(&Event::Closed(CloseReason::Reset)));
}

#[test]
fn syn_in_a_synchronized_state_gets_a_challenge_ack() {
    let mut t = established();
    t.at(20).recv("S 77:77(0) win 65535 <mss 1460>");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110>");
    assert_eq!(t.conn().state(), State::Established);
}

#[test]
fn challenge_acks_are_rate_limited() {
    let mut t = established();
    for i in 0..30 {
        t.at(20 + i).recv("R 100:100(0) win 0");
        let _ = t.take();
    }
    assert_eq!(t.conn().stats().challenge_acks, 10);
    t.at(1100).recv("R 100:100(0) win 0");
    t.expect(". 1:1(0) ack 1 win * <*>");
}

#[test]
fn an_ack_for_data_not_sent_is_answered_and_dropped() {
    let mut t = established();
    t.at(20)
        .recv("P. 1:11(10) ack 5000 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <*>");
    assert_eq!(t.conn().readable(), 0);
}

#[test]
fn out_of_window_data_is_answered_with_an_ack() {
    let mut t = established();
    t.at(20)
        .recv("P. 9000000:9000010(10) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <*>");
    assert_eq!(t.conn().stats().dropped, 1);
}

#[test]
fn paws_drops_an_old_timestamp_with_an_ack() {
    let mut t = established();
    t.at(20)
        .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 50 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110>");
    assert_eq!(t.conn().readable(), 0);
}

/// RFC 9293 §3.10.4: CLOSE in SYN-RECEIVED queues the FIN until the
/// handshake ends: the state stays SYN-RECEIVED and no FIN goes before
/// the SYN-ACK is acknowledged; then the FIN, and FIN-WAIT-1.
#[test]
fn a_close_in_syn_received_sends_its_fin_after_the_handshake() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv(SYN).expect(SYN_ACK);
    // Before the close, there is room to write in SYN-RECEIVED.
    assert!(t.conn().writable() >= 1448);
    t.conn().shutdown_write();
    assert_eq!(t.conn().state(), State::SynReceived);
    // After it, none: both ways of writing are refused.
    assert_eq!(t.conn().writable(), 0);
    assert!(t.conn().write(b"late").is_err());
    assert!(t.conn().write_with(|a, _| a.len()).is_err());
    t.expect_none();
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    t.expect("F. 1:1(0) ack 1 win * <*>").expect_none();
    assert_eq!(t.conn().state(), State::FinWait1);
}

#[test]
fn active_close_through_fin_wait_and_time_wait() {
    let mut t = established();
    t.conn().shutdown_write();
    assert_eq!(t.conn().state(), State::FinWait1);
    t.expect("F. 1:1(0) ack 1 win * <*>");
    t.at(30)
        .recv(". 1:1(0) ack 2 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().state(), State::FinWait2);
    // Half-closed: data still arrives.
    t.at(40)
        .recv("P. 1:6(5) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.at(50)
        .recv("F. 6:6(0) ack 2 win 1000 <nop,nop,TS val 150 ecr 0>");
    // TS.Recent is still the data segment's: the FIN came after
    // Last.ACK.sent (RFC 7323 §4.3).
    t.expect(". 2:2(0) ack 7 win * <nop,nop,TS val * ecr 140>");
    assert_eq!(t.conn().state(), State::TimeWait);
    // A retransmitted FIN is acknowledged again and restarts the wait.
    t.at(1000)
        .recv("F. 6:6(0) ack 2 win 1000 <nop,nop,TS val 160 ecr 0>");
    t.expect(". 2:2(0) ack 7 win * <*>");
    time_wait_ends_at(&mut t, 3000);
}

/// An ACK that frees room in the send buffer says so (`Writable`) while
/// data may still be written; the ACK of our FIN frees room too, but
/// nothing may be written any more: no `Writable`.
#[test]
fn an_ack_tells_of_room_to_write_only_while_writing_is_open() {
    let mut t = established();
    t.events();
    t.conn().write(&[1; 100]).unwrap();
    t.expect("P. 1:101(100) ack 1 win * <*>");
    t.at(20)
        .recv(". 1:1(0) ack 101 win 1000 <nop,nop,TS val 120 ecr 0>");
    assert!(t.events().contains(&Event::Writable));
    t.conn().write(&[1; 100]).unwrap();
    t.conn().shutdown_write();
    t.expect("FP. 101:201(100) ack 1 win * <*>");
    t.at(40)
        .recv(". 1:1(0) ack 202 win 1000 <nop,nop,TS val 140 ecr 0>");
    assert_eq!(t.conn().state(), State::FinWait2);
    let events = t.events();
    assert!(!events.contains(&Event::Writable), "{events:?}");
}

/// New data says `Readable`; a segment that repeats what was read (a
/// retransmission the sender did not need) is acknowledged and says
/// nothing to the reader.
#[test]
fn only_new_data_is_readable() {
    let mut t = established();
    t.events();
    t.at(20)
        .recv("P. 1:101(100) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    assert_eq!(t.events(), [Event::Readable]);
    assert_eq!(t.conn().stats().bytes_received, 100);
    assert_eq!(t.conn().consume(100), 100);
    t.at(30)
        .recv("P. 1:101(100) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    // A D-SACK of it (RFC 2883); TS.Recent stays the first copy's (an
    // unacceptable segment updates nothing).
    t.expect(". 1:1(0) ack 101 win * <nop,nop,TS val * ecr 120,nop,nop,sack 1:101>");
    assert_eq!(t.events(), []);
    assert_eq!(t.conn().readable(), 0);
    // Counted as a segment, not as octets received: SYN, ACK and the two.
    let stats = t.conn().stats();
    assert_eq!((stats.bytes_received, stats.segments_in), (100, 4));
}

/// TIME-WAIT lasts until `ms` (2·MSL, 2 s here, after its last restart),
/// quietly, and then the connection is closed.
fn time_wait_ends_at(t: &mut Trace, ms: u64) {
    t.at(ms - 1).expect_none();
    assert_eq!(t.conn().state(), State::TimeWait);
    t.at(ms);
    assert_eq!(t.conn().state(), State::Closed);
}

/// RFC 1122 §4.2.2.13 (RFC 9293 SHLD-3): data that arrives after the
/// application closed (not half-closed) has no reader: RST, not an ACK
/// that tells the peer it was delivered.
#[test]
fn data_after_the_application_closed_is_answered_with_a_reset() {
    let mut t = established();
    t.conn().close();
    t.expect("F. 1:1(0) ack 1 win * <*>");
    t.at(30)
        .recv(". 1:1(0) ack 2 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().state(), State::FinWait2);
    t.at(40)
        .recv("P. 1:6(5) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect("R. 2:2(0) ack 1 win * <*>").expect_none();
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(t.conn().readable(), 0);
}

/// The same close, but what overtakes the peer's FIN is its next ACK,
/// without data, numbered one past the FIN: nothing for a reader, so no
/// reset (a jittery link with duplicates did this in the simulator); the
/// FIN then arrives and the close completes in order.
#[test]
fn an_ack_that_overtakes_the_peer_s_fin_after_close_is_not_data() {
    let mut t = established();
    t.conn().close();
    t.expect("F. 1:1(0) ack 1 win * <*>");
    t.at(30)
        .recv(". 1:1(0) ack 2 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().state(), State::FinWait2);
    t.at(40)
        .recv(". 2:2(0) ack 2 win 1000 <nop,nop,TS val 141 ecr 0>");
    assert_eq!(t.conn().state(), State::FinWait2);
    assert_ne!(t.conn().close_reason(), Some(CloseReason::Aborted));
    t.take();
    t.at(41)
        .recv("F. 1:1(0) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect(". 2:2(0) ack 2 win * <*>");
    assert_eq!(t.conn().state(), State::TimeWait);
}

/// Half-closed first, then the peer's FIN at 30 ms: TIME-WAIT, with
/// RCV.NXT and SND.NXT both 2.
fn in_time_wait() -> Trace {
    in_time_wait_with(|_| {})
}

fn in_time_wait_with(tweak: impl FnOnce(&mut vtcp_conn::ConnConfig)) -> Trace {
    let mut t = established_with(tweak);
    t.conn().shutdown_write();
    t.expect("F. 1:1(0) ack 1 win * <*>");
    t.at(30)
        .recv("F. 1:1(0) ack 2 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect(". 2:2(0) ack 2 win * <*>");
    assert_eq!(t.conn().state(), State::TimeWait);
    t
}

/// RFC 9293 §3.6.1 (MAY-2) with RFC 6191 §2: in TIME-WAIT after a
/// connection with timestamps (TS.Recent 130, RCV.NXT 2), a SYN reopens
/// it when its TSval is newer, or the same with a sequence number beyond
/// RCV.NXT; not an older TSval (whatever its sequence number), nor no
/// timestamp at all, nor anything but a bare SYN, nor outside TIME-WAIT
/// or with `time_wait_reopen` off.
#[test]
fn a_syn_with_a_newer_timestamp_may_reopen_time_wait() {
    let syn =
        |seq: u32, ts: &str| format!("S {seq}:{seq}(0) win 65535 <mss 1460,{ts}nop,wscale 7>");
    let mut t = established();
    assert!(
        !t.accepts_reopen(&syn(100, "TS val 500 ecr 0,")),
        "ESTABLISHED"
    );
    let mut t = in_time_wait();
    for (seq, ts, reopens) in [
        (100, "TS val 131 ecr 0,", true),
        // Newer by the circle of 2^32, not by the integer.
        (100, "TS val 2147483776 ecr 0,", true),
        (100, "TS val 2147483779 ecr 0,", false),
        (100, "TS val 129 ecr 0,", false),
        (3, "TS val 130 ecr 0,", true),
        (2, "TS val 130 ecr 0,", false),
        (1, "TS val 130 ecr 0,", false),
        (100, "", false),
    ] {
        assert_eq!(t.accepts_reopen(&syn(seq, ts)), reopens, "seq {seq} {ts}");
    }
    for flags in ["S.", "SR", "SF", "."] {
        let seg = format!("{flags} 100:100(0) win 65535 <nop,nop,TS val 131 ecr 0>");
        assert!(!t.accepts_reopen(&seg), "{flags}");
    }
    let mut t = in_time_wait_with(|c| c.time_wait_reopen = false);
    assert!(!t.accepts_reopen(&syn(100, "TS val 131 ecr 0,")));
    // SYN+FIN is a SYN when the configuration does not drop it.
    let mut t = in_time_wait_with(|c| c.drop_syn_fin = false);
    assert!(t.accepts_reopen("SF 100:100(0) win 65535 <nop,nop,TS val 131 ecr 0>"));
}

/// The same without timestamps (RCV.NXT 2): only the sequence number can
/// show that a SYN is new, and a TSval it carries does not matter.
#[test]
fn without_timestamps_a_syn_beyond_rcv_nxt_may_reopen_time_wait() {
    let mut t = Trace::passive(|_| {});
    t.at(0)
        .recv("S 0:0(0) win 65535 <mss 1460,sackOK,nop,wscale 7>");
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,nop,wscale 3,nop,nop>");
    t.at(10).recv(". 1:1(0) ack 1 win 1000");
    t.conn().shutdown_write();
    t.expect("F. 1:1(0) ack 1 win * <*>");
    t.at(30).recv("F. 1:1(0) ack 2 win 1000");
    t.expect(". 2:2(0) ack 2 win *");
    assert_eq!(t.conn().state(), State::TimeWait);
    for (seq, opts, reopens) in [
        (3u32, "mss 1460", true),
        (3, "nop,nop,TS val 1 ecr 0", true),
        (2, "nop,nop,TS val 999 ecr 0", false),
        (1, "mss 1460", false),
        // More than half the space ahead is behind.
        (2_147_483_651, "mss 1460", false),
    ] {
        let seg = format!("S {seq}:{seq}(0) win 65535 <{opts}>");
        assert_eq!(t.accepts_reopen(&seg), reopens, "{seg}");
    }
}

/// RFC 9293 §3.10.7.4: in TIME-WAIT an acceptable segment with data is
/// acknowledged and the 2·MSL wait starts again.
#[test]
fn data_in_time_wait_is_acknowledged_and_restarts_the_wait() {
    let mut t = in_time_wait();
    assert_eq!(t.conn().state(), State::TimeWait);
    t.at(1000)
        .recv("P. 2:7(5) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect(". 2:2(0) ack 2 win * <*>");
    time_wait_ends_at(&mut t, 3000);
}

/// In TIME-WAIT a segment beyond RCV.NXT is answered with an ACK (out
/// of order, §3.10.7.4; FreeBSD and Linux do the same); a bare ACK at
/// RCV.NXT is not, or two ends in TIME-WAIT would trade ACKs for ever.
#[test]
fn an_out_of_order_segment_in_time_wait_gets_an_ack_a_bare_ack_at_rcv_nxt_none() {
    let mut t = in_time_wait();
    t.at(40)
        .recv(". 2:2(0) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect_none();
    t.at(50)
        .recv(". 500:500(0) ack 2 win 1000 <nop,nop,TS val 150 ecr 0>");
    t.expect(". 2:2(0) ack 2 win * <*>");
    assert_eq!(t.conn().state(), State::TimeWait);
}

/// RFC 9293 §3.10.7.4: a RST at RCV.NXT in TIME-WAIT closes it early
/// (as Linux by default); with RFC 1337's guard against TIME-WAIT
/// assassination (`time_wait_ignores_rst`, FreeBSD's behaviour) it is
/// ignored and TIME-WAIT runs its course. The connection had ended as it
/// should (both FINs sent and acknowledged): it closes normally, and its
/// reader still gets its end of file, not a reset.
#[test]
fn a_rst_in_time_wait_closes_it_unless_rfc1337_is_asked_for() {
    let mut t = in_time_wait();
    t.at(40).recv("R 2:2(0) win 0").expect_none();
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(
        t.conn().close_reason(),
        Some(vtcp_conn::CloseReason::Normal)
    );
    assert_eq!(t.conn().read(&mut [0; 8]), 0, "end of file");
    let mut t = in_time_wait_with(|c| c.time_wait_ignores_rst = true);
    t.at(40).recv("R 2:2(0) win 0").expect_none();
    assert_eq!(t.conn().state(), State::TimeWait);
    time_wait_ends_at(&mut t, 2030);
}

/// SYN and FIN together: dropped by default (`drop_syn_fin`: no
/// connection sends it, scanners do); otherwise the SYN is a SYN in a
/// synchronized state (RFC 5961 §4: a challenge ACK).
#[test]
fn a_syn_fin_is_dropped_unless_asked_otherwise() {
    let mut t = established();
    t.at(20).recv("SF 77:77(0) win 65535").expect_none();
    assert_eq!(t.conn().stats().challenge_acks, 0);
    assert_eq!(t.conn().state(), State::Established);
    let mut t = established_with(|c| c.drop_syn_fin = false);
    t.at(20).recv("SF 77:77(0) win 65535");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110>");
    assert_eq!(t.conn().stats().challenge_acks, 1);
}

/// Without window scaling a 65,700-octet window cannot be advertised
/// (the field says 65,535). By default the right edge is what was
/// advertised, so a RST at RCV.NXT + 65,600 is outside and dropped
/// silently (RFC 5961 §3.2); with `accept_unadvertised_room` (FreeBSD's
/// RCV.WND, the buffer's room) it is inside, and gets a challenge ACK.
#[test]
fn the_window_beyond_the_field_counts_only_when_asked() {
    for room in [false, true] {
        let mut t = Trace::passive(|c| {
            c.timestamps = false;
            c.initial_recv_window = 65_700;
            c.accept_unadvertised_room = room;
        });
        t.at(0).recv("S 0:0(0) win 65535 <mss 1460>");
        t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
        t.at(10).recv(". 1:1(0) ack 1 win 65535");
        t.at(20).recv("R 65600:65600(0) win 0");
        if room {
            t.expect(". 1:1(0) ack 1 win 65535");
        } else {
            t.expect_none();
        }
        assert_eq!(t.conn().state(), State::Established);
    }
}

/// RFC 793's SYN rule (`syn_challenge` off) resets for a SYN *in* the
/// window. A segment whose SYN is left of it, acceptable only for the
/// octet after, is an old duplicate: an ACK, no reset.
#[test]
fn rfc793_syn_rule_spares_a_syn_left_of_the_window() {
    let mut t = established_with(|c| c.syn_challenge = false);
    t.at(20)
        .recv("S 0:1(1) win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <*>");
    assert_eq!(t.conn().state(), State::Established);
}

/// The first window: RFC 6928's ten segments by default, RFC 5681
/// §3.1's min(4·MSS, max(2·MSS, 4380)) when asked (`initial_window`):
/// three segments of 1448 (the MSS less the timestamps).
#[test]
fn the_initial_window_follows_the_rule_asked_for() {
    for (iw, segments) in [
        (vtcp_conn::InitialWindow::Rfc6928, 10),
        (vtcp_conn::InitialWindow::Rfc5681, 3),
    ] {
        let mut t = established_with(|c| c.initial_window = iw);
        t.conn().write(&[7; 30_000]).unwrap();
        let mut sent = 0;
        while let Some(bytes) = t.take() {
            let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
            assert_eq!(seg.data_len(), 1448, "{iw:?}");
            sent += 1;
        }
        assert_eq!(sent, segments, "{iw:?}");
    }
}

/// RFC 7323 §3.2: with timestamps negotiated, a segment without them is
/// dropped when asked (`require_timestamps`); by default it is taken (as
/// Linux does), PAWS aside.
#[test]
fn a_segment_without_timestamps_is_dropped_only_when_asked() {
    for require in [false, true] {
        let mut t = established_with(|c| c.require_timestamps = require);
        t.at(20).recv("P. 1:11(10) ack 1 win 1000");
        assert_eq!(t.conn().readable(), if require { 0 } else { 10 });
        // A RST without timestamps still counts (at RCV.NXT: it resets).
        let nxt = if require { 1 } else { 11 };
        t.at(30).recv(&format!("R {nxt}:{nxt}(0) win 0"));
        assert_eq!(t.conn().state(), State::Closed);
    }
}

/// The SYN's options in the BSDs' order when asked
/// (`ConnConfig::syn_option_order`); Linux's by default.
#[test]
fn syn_options_follow_the_order_asked_for() {
    let mut t = Trace::active(|c| c.syn_option_order = vtcp_conn::SynOptionOrder::Bsd);
    t.expect("S 0:0(0) win * <mss 1460,nop,wscale *,sackOK,TS val * ecr 0>");
    let mut t = Trace::active(|_| {});
    t.expect("S 0:0(0) win * <mss 1460,sackOK,TS val * ecr 0,nop,wscale *>");
}

/// No options at all (FreeBSD's `TCP_NOOPT`): the MSS option left out
/// (RFC 9293 §3.7.1 MAY-3) and nothing else offered. The SYN has an empty
/// option area, the peer's offers are not taken, and with no MSS from it
/// the send MSS is RFC 9293's 536 (MUST-15).
#[test]
fn a_syn_without_options_offers_nothing_and_agrees_to_nothing() {
    let noopt = |c: &mut vtcp_conn::ConnConfig| {
        c.mss_option = false;
        c.window_scaling = false;
        c.sack = false;
        c.timestamps = false;
    };
    // Active: the SYN carries no options; the peer's SYN-ACK offers all.
    let mut t = Trace::active(noopt);
    let syn = t.take().expect("a SYN");
    let syn = vtcp_wire::Segment::parse(&syn).unwrap();
    assert_eq!(syn.flags, vtcp_wire::Flags::SYN);
    assert!(syn.options.as_bytes().is_empty(), "options: {syn}");
    t.at(10)
        .recv("S. 0:0(0) ack 1 win 65535 <sackOK,TS val 100 ecr 0,nop,wscale 7>");
    t.expect(". 1:1(0) ack 1 win *");
    assert_eq!(t.conn().state(), State::Established);
    let agreed = t.conn().agreed_options();
    assert_eq!(agreed.window_scale, None);
    assert!(!agreed.sack && !agreed.timestamps);
    assert_eq!(t.conn().send_mss(), 536);
    // Passive: a SYN with every option gets a SYN-ACK with none, and its
    // MSS of 1000 is the send MSS.
    let mut t = Trace::passive(noopt);
    t.at(0)
        .recv("S 0:0(0) win 65535 <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    let syn_ack = t.take().expect("a SYN-ACK");
    let syn_ack = vtcp_wire::Segment::parse(&syn_ack).unwrap();
    assert!(syn_ack.options.as_bytes().is_empty(), "options: {syn_ack}");
    t.at(10).recv(". 1:1(0) ack 1 win 1000");
    assert_eq!(t.conn().state(), State::Established);
    assert!(!t.conn().agreed_options().timestamps);
    assert_eq!(t.conn().send_mss(), 1000);
}

/// What the handshake agreed is reported (`Conn::agreed_options`): every
/// option when both sides offer all, none before the peer's SYN.
#[test]
fn the_agreed_options_are_reported() {
    let mut t = Trace::active(|_| {});
    let agreed = t.conn().agreed_options();
    assert_eq!(agreed.window_scale, None);
    assert!(!agreed.sack && !agreed.timestamps);
    let t = &mut established();
    let agreed = t.conn().agreed_options();
    assert_eq!(agreed.window_scale, Some((7, 3)));
    assert!(agreed.sack && agreed.timestamps);
    // Window scaling offered by the peer with shift 0 is still agreed.
    let mut t = Trace::passive(|_| {});
    t.at(0).recv("S 0:0(0) win 65535 <mss 1460,nop,wscale 0>");
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 3>");
    assert_eq!(t.conn().agreed_options().window_scale, Some((0, 3)));
}

/// RFC 7323 §4.3 with RFC 5961's intent: TS.Recent is taken only from a
/// segment that passes every check. One with an unacceptable ACK and a
/// TSval far ahead must not make PAWS drop the real peer's segments.
#[test]
fn a_segment_with_an_unacceptable_ack_does_not_set_ts_recent() {
    let mut t = established();
    t.at(20)
        .recv("P. 1:11(10) ack 5001 win 1000 <nop,nop,TS val 1073741934 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110>");
    t.at(30)
        .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().readable(), 10);
}

#[test]
fn passive_close_through_close_wait_and_last_ack() {
    let mut t = established();
    t.at(20)
        .recv("F. 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 2 win * <*>");
    assert_eq!(t.conn().state(), State::CloseWait);
    assert!(t.events().contains(&Event::PeerClosed));
    // We may still send.
    t.conn().write(b"bye").unwrap();
    t.expect("P. 1:4(3) ack 2 win * <*>");
    t.conn().close();
    t.expect("F. 4:4(0) ack 2 win * <*>");
    assert_eq!(t.conn().state(), State::LastAck);
    t.at(30)
        .recv(". 2:2(0) ack 5 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().state(), State::Closed);
    assert!(t.events().contains(&Event::Closed(CloseReason::Normal)));
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut t = established();
    t.conn().close();
    t.expect("F. 1:1(0) ack 1 win * <*>");
    t.at(20)
        .recv("F. 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    assert_eq!(t.conn().state(), State::Closing);
    t.expect(". 2:2(0) ack 2 win * <*>");
    t.at(30)
        .recv(". 2:2(0) ack 2 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().state(), State::TimeWait);
    // The peer, also in TIME-WAIT, may send a bare ACK: it is not
    // answered (answering would start an endless exchange of ACKs).
    t.at(40)
        .recv(". 2:2(0) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect_none();
}

#[test]
fn close_with_unread_data_resets() {
    let mut t = established();
    t.at(20)
        .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.conn().close();
    t.expect("R. 1:1(0) ack 11 win 0 <nop,nop,TS val * ecr 120>");
    assert_eq!(t.conn().state(), State::Closed);
}

/// Minshall's variant of Nagle (Linux's): the short tail of a write goes
/// at once when no other short segment is unacknowledged; full segments
/// in flight do not hold it. A 10 KB response otherwise waits a round
/// trip, or the peer's delayed ACK, for its last 104 octets.
#[test]
fn the_short_tail_of_a_write_is_not_held_behind_full_segments() {
    let mut t = established();
    t.conn().write(&[7; 10_240]).unwrap();
    for i in 0..7u32 {
        t.expect(&format!(
            ". {}:{}(1448) ack 1 win * <*>",
            1 + i * 1448,
            1 + (i + 1) * 1448
        ));
    }
    t.expect("P. 10137:10241(104) ack 1 win * <*>");
    // Now a short segment is unacknowledged: the next one waits.
    t.conn().write(b"more").unwrap();
    t.expect_none();
    t.at(30)
        .recv(". 1:1(0) ack 10241 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect("P. 10241:10245(4) ack 1 win * <*>");
}

#[test]
fn nagle_holds_a_small_segment_while_data_is_in_flight() {
    let mut t = established();
    t.conn().write(b"first").unwrap();
    t.expect("P. 1:6(5) ack 1 win * <*>");
    t.conn().write(b"second").unwrap();
    t.expect_none();
    t.at(30)
        .recv(". 1:1(0) ack 6 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect("P. 6:12(6) ack 1 win * <*>");
    // With nodelay, small segments go at once.
    let mut t = Trace::passive(|c| c.nodelay = true);
    t.at(0).recv(SYN).expect(SYN_ACK);
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    t.conn().write(b"first").unwrap();
    t.expect("P. 1:6(5) ack 1 win * <*>");
    t.conn().write(b"second").unwrap();
    t.expect("P. 6:12(6) ack 1 win * <*>");
}

/// RFC 7323 Appendix G: a timestamp sample counts as one of the ACKs
/// expected per round trip, cwnd / (2·SMSS) (here 5), so SRTT and RTTVAR
/// move by α/5 and β/5. The handshake measured 10 ms (RTTVAR 5 ms); the
/// first segment's ACK is the timed one (Karn's 40 ms sample, at full
/// weight: SRTT 13.75 ms, RTTVAR 11.25 ms); the third's, whose TSecr
/// echoes the TSval all three carried, gives 80 ms at a fifth:
/// RTTVAR = (1 − 1/20)·11.25 + |13.75 − 80|/20 = 14 ms,
/// SRTT = (1 − 1/40)·13.75 + 80/40 = 15.40625 ms.
#[test]
fn a_timestamp_sample_is_weighed_as_one_of_a_round_trip_s_acks() {
    let mut t = established();
    t.conn().write(&[1; 3 * 1448]).unwrap();
    t.expect(". 1:1449(1448) ack 1 win * <*>")
        .expect(". 1449:2897(1448) ack 1 win * <*>")
        .expect("P. 2897:4345(1448) ack 1 win * <*>")
        .expect_none();
    let tsval = t.last_tsval.unwrap();
    t.at(50).recv(&format!(
        ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 150 ecr {tsval}>"
    ));
    let s = t.conn().stats();
    assert_eq!(s.srtt, Some(Duration::from_micros(13_750)));
    assert_eq!(s.rttvar, Duration::from_micros(11_250));
    // An echo 2^30 ms (12 days) old is no sample.
    // (Our clock stood at `tsval` at 10 ms.)
    let stale = tsval.wrapping_add(50).wrapping_sub(1 << 30);
    t.at(60).recv(&format!(
        ". 1:1(0) ack 2897 win 1000 <nop,nop,TS val 160 ecr {stale}>"
    ));
    assert_eq!(t.conn().stats().srtt, Some(Duration::from_micros(13_750)));
    t.at(90).recv(&format!(
        ". 1:1(0) ack 4345 win 1000 <nop,nop,TS val 190 ecr {tsval}>"
    ));
    let s = t.conn().stats();
    assert_eq!(s.srtt, Some(Duration::from_nanos(15_406_250)));
    assert_eq!(s.rttvar, Duration::from_micros(14_000));
}

/// The windows our segments offer from now on (the last one sent, scaled
/// by our shift of 3), and every segment sent taken.
fn offered_window(t: &mut Trace) -> Option<u32> {
    let mut last = None;
    while let Some(bytes) = t.take() {
        last = Some(u32::from(vtcp_wire::Segment::parse(&bytes).unwrap().window) << 3);
    }
    last
}

/// Receive-window auto-tuning (Linux's `tcp_rcv_space_adjust`) measures
/// its round trip with timestamps: the peer's data echoes a TSval of ours
/// sent 50 ms before (the handshake's SYN-ACK RTT, 10 ms, is only the
/// fallback). A round trip of draining is 50 ms: 40 segments read 30 ms
/// into it grow nothing; when the round trip is over, the window grows to
/// twice what it drained (41 segments: 118,736 octets).
#[test]
fn auto_tuning_measures_its_round_trip_with_timestamps() {
    let mut t = established();
    let ts0 = t.last_tsval.unwrap();
    let data = |t: &mut Trace, seq: u32, tsval: u32, ecr: u32| {
        t.recv(&format!(
            ". {seq}:{}(1448) ack 1 win 1000 <nop,nop,TS val {tsval} ecr {ecr}>",
            seq + 1448
        ));
    };
    let read_all = |t: &mut Trace| {
        let n = t.conn().readable();
        assert_eq!(t.conn().consume(n), n);
    };
    t.at(50);
    data(&mut t, 1, 150, ts0);
    read_all(&mut t);
    let initial = offered_window(&mut t);
    assert_eq!(initial, Some(64 * 1024));
    t.at(80);
    for i in 0..40 {
        data(&mut t, 1 + 1448 * (i + 1), 180, ts0.wrapping_add(30));
    }
    read_all(&mut t);
    // Not a round trip yet: the window is what it was.
    assert_eq!(offered_window(&mut t).unwrap_or(64 * 1024), 64 * 1024);
    t.at(100);
    // This one echoes a TSval 2^30 ms (12 days) old: no sample (smoothed
    // in, it would hold the window for days).
    let stale = ts0.wrapping_add(100).wrapping_sub(1 << 30);
    data(&mut t, 1 + 1448 * 41, 200, stale);
    read_all(&mut t);
    assert_eq!(offered_window(&mut t), Some(2 * 41 * 1448));
}

#[test]
fn rto_retransmits_with_backoff_and_karn() {
    let mut t = established_6675();
    // The handshake measured 10 ms: RTO is the 200 ms minimum.
    assert_eq!(t.conn().stats().srtt, Some(Duration::from_millis(10)));
    t.conn().write(&[1; 100]).unwrap();
    t.expect("P. 1:101(100) ack 1 win * <*>");
    t.at(209).expect_none();
    t.at(210).expect("P. 1:101(100) ack 1 win * <*>");
    // Backed off: 400 ms.
    t.at(609).expect_none();
    t.at(610).expect("P. 1:101(100) ack 1 win * <*>");
    t.at(620)
        .recv(". 1:1(0) ack 101 win 1000 <nop,nop,TS val 200 ecr 0>");
    let s = t.conn().stats();
    assert_eq!(s.rtos, 2);
    // Karn: the ACK of a retransmitted segment gave no sample.
    assert_eq!(s.srtt, Some(Duration::from_millis(10)));
    t.at(2000).expect_none();
}

/// The default RTO is Linux's, SRTT + max(200 ms, 4·RTTVAR): here
/// 10 ms + 200 ms, where RFC 6298 with a 1 ms clock gives the 200 ms
/// minimum, one RTT's margin less.
#[test]
fn the_default_rto_adds_at_least_200_ms_to_the_smoothed_rtt() {
    let mut t = established_with(|c| {
        c.rack_tlp = false;
        c.min_rto_variance = vtcp_conn::ConnConfig::default().min_rto_variance;
    });
    assert_eq!(t.conn().stats().rto, Duration::from_millis(210));
    t.conn().write(&[1; 100]).unwrap();
    t.expect("P. 1:101(100) ack 1 win * <*>");
    t.at(219).expect_none();
    t.at(220).expect("P. 1:101(100) ack 1 win * <*>");
}

/// ESTABLISHED, with six full segments sent and none acknowledged.
fn six_segments_in_flight() -> Trace {
    six_segments_in_flight_of(established())
}

/// The same on RFC 6675's path.
fn six_segments_in_flight_6675() -> Trace {
    six_segments_in_flight_of(established_6675())
}

fn six_segments_in_flight_of(mut t: Trace) -> Trace {
    t.conn().write(&[1; 1448 * 6]).unwrap();
    for i in 0..6u32 {
        let flags = if i == 5 { "P." } else { "." };
        t.expect(&format!(
            "{flags} {}:{}(1448) ack 1 win * <*>",
            1 + i * 1448,
            1 + (i + 1) * 1448
        ));
    }
    t
}

/// RFC 5681 §3.1 eq. 4: after a timeout ssthresh is half the data in
/// flight, not half the window (here six segments of a window of ten),
/// and a second timeout of the same segment leaves it.
#[test]
fn a_timeout_halves_the_flight_size_once() {
    let mut t = six_segments_in_flight_6675();
    assert_eq!(t.conn().stats().cwnd, 10 * 1448);
    t.at(210).expect(". 1:1449(1448) ack 1 win * <*>");
    let s = t.conn().stats();
    assert_eq!((s.cwnd, s.ssthresh), (1448, 3 * 1448));
    t.at(610).expect(". 1:1449(1448) ack 1 win * <*>");
    let s = t.conn().stats();
    assert_eq!((s.rtos, s.cwnd, s.ssthresh), (2, 1448, 3 * 1448));
}

#[test]
fn three_duplicate_acks_trigger_a_fast_retransmit() {
    let mut t = six_segments_in_flight_6675();
    for i in 0..3 {
        t.at(30 + i).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack {}:{}>",
            130 + i,
            1449,
            1449 + 1448 * (i as u32 + 1)
        ));
    }
    t.expect(". 1:1449(1448) ack 1 win * <*>");
    assert_eq!(t.conn().stats().fast_recoveries, 1);
}

/// The peer's window closed at 20 ms with "hello" queued; the persist
/// timer's one-octet probe (due one RTO later, at 220 ms) is taken at
/// 1020 ms.
fn hello_probed_in_a_zero_window() -> Trace {
    let mut t = established();
    t.at(20)
        .recv(". 1:1(0) ack 1 win 0 <nop,nop,TS val 120 ecr 0>");
    t.conn().write(b"hello").unwrap();
    t.expect_none();
    t.at(1020).expect(". 1:2(1) ack 1 win * <*>");
    t
}

#[test]
fn zero_window_is_probed_with_backoff_and_resumes_on_an_update() {
    let mut t = hello_probed_in_a_zero_window();
    t.at(1021)
        .recv(". 1:1(0) ack 1 win 0 <nop,nop,TS val 130 ecr 0>");
    // The window opens: the data goes at once.
    t.at(1500)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect("P. 1:6(5) ack 1 win * <*>");
}

/// MUST-35/36 seen from outside: the receiver's window reopened and its
/// update was lost; it takes the probe's octet and acknowledges it with an
/// open window. That ACK is for data we sent, not for data never sent:
/// the rest of the data follows it.
#[test]
fn an_ack_of_the_zero_window_probe_octet_resumes_sending() {
    let mut t = hello_probed_in_a_zero_window();
    t.at(1021)
        .recv(". 1:1(0) ack 2 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect("P. 2:6(4) ack 1 win * <*>").expect_none();
    assert_eq!(t.conn().stats().challenge_acks, 0);
    t.at(1030)
        .recv(". 1:1(0) ack 6 win 1000 <nop,nop,TS val 140 ecr 0>");
    assert_eq!(t.conn().stats().bytes_in_flight, 0);
}

/// MUST-16 seen on the wire: every option of a segment comes off its
/// payload, SACK blocks too, not only the timestamps every segment
/// carries: a data segment with one SACK block carries 12 octets less,
/// or it grows past the peer's MSS (IPv4 packets of 1512 bytes on a
/// 1500-byte path).
#[test]
fn data_segments_that_carry_sack_blocks_shrink_to_fit_the_mss() {
    let mut t = established();
    t.at(20)
        .recv("P. 1001:2001(1000) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110,nop,nop,sack 1001:2001>");
    t.conn().write(&[1; 3000]).unwrap();
    t.expect(". 1:1437(1436) ack 1 win * <nop,nop,TS val * ecr 110,nop,nop,sack 1001:2001>");
    // Once the hole is filled, full segments again.
    t.at(30)
        .recv("P. 1:1001(1000) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect(". 1437:2885(1448) ack 2001 win * <nop,nop,TS val * ecr 130>");
}

/// Keepalive of 10 s idle, probes 1 s apart, two of them.
const KEEPALIVE: Keepalive = Keepalive {
    idle: Duration::from_secs(10),
    interval: Duration::from_secs(1),
    count: 2,
};

/// With [`KEEPALIVE`] armed at `from` ms on an idle connection: nothing
/// until `from` + 10 s, then two probes a second apart, then the
/// connection times out.
fn expect_keepalive_probes_then_timeout(t: &mut Trace, from: u64) {
    t.at(from + 9_999).expect_none();
    // A probe at SND.NXT − 1 (RFC 1122 §4.2.3.6).
    t.at(from + 10_000).expect(". 0:0(0) ack 1 win * <*>");
    t.at(from + 11_000).expect(". 0:0(0) ack 1 win * <*>");
    t.at(from + 12_000);
    assert_eq!(t.conn().state(), State::Closed);
    assert!(t.events().contains(&Event::Closed(CloseReason::TimedOut)));
}

#[test]
fn keepalive_probes_then_times_out() {
    let mut t = Trace::passive(|c| c.keepalive = Some(KEEPALIVE));
    t.at(0).recv(SYN).expect(SYN_ACK);
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    expect_keepalive_probes_then_timeout(&mut t, 10);
}

/// RFC 1122 §4.2.3.6: keepalives probe an idle connection; with data
/// outstanding the retransmission timer watches the peer, and keepalive
/// neither probes nor times the connection out.
#[test]
fn no_keepalive_probes_while_data_is_outstanding() {
    let mut t = Trace::passive(|c| {
        c.rack_tlp = false;
        c.keepalive = Some(Keepalive {
            idle: Duration::from_millis(300),
            interval: Duration::from_millis(100),
            count: 2,
        });
    });
    t.at(0).recv(SYN).expect(SYN_ACK);
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    t.conn().write(b"hello").unwrap();
    t.expect("P. 1:6(5) ack 1 win * <*>");
    // Only the RTO's retransmissions (210 ms, 610 ms), no probe at
    // SND.UNA − 1, and no keepalive timeout at 510 ms.
    for ms in (20..700).step_by(10) {
        t.at(ms);
        while let Some(bytes) = t.take() {
            let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
            assert_eq!(seg.data_len(), 5, "at {ms} ms: {seg}");
        }
    }
    assert_eq!(t.conn().state(), State::Established);
    assert_eq!(t.conn().stats().rtos, 2);
}

#[test]
fn data_on_a_syn_is_delivered_once_established() {
    let mut t = Trace::passive(|_| {});
    t.at(0)
        .recv("S 0:5(5) win 65535 <mss 1460>")
        .expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    assert_eq!(t.conn().readable(), 0);
    t.at(5).recv(". 1:1(0) ack 1 win 1000");
    assert_eq!(t.conn().readable(), 5);
}

#[test]
fn limited_transmit_sends_new_data_on_the_first_two_duplicates() {
    let mut t = established_6675();
    t.conn().write(&[1; 1448 * 12]).unwrap();
    // The initial window is 10 segments (RFC 6928).
    expect_initial_window(&mut t);
    // RFC 3042: each of the first two duplicate ACKs releases a segment.
    t.at(30)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 130 ecr 0,nop,nop,sack 1449:2897>");
    t.expect(&format!(
        ". {}:{}(1448) ack 1 win * <*>",
        1 + 10 * 1448,
        1 + 11 * 1448
    ));
    t.at(31)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 131 ecr 0,nop,nop,sack 1449:4345>");
    t.expect(&format!(
        "P. {}:{}(1448) ack 1 win * <*>",
        1 + 11 * 1448,
        1 + 12 * 1448
    ));
    // The third: fast retransmit.
    t.at(32)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 132 ecr 0,nop,nop,sack 1449:5793>");
    t.expect(". 1:1449(1448) ack 1 win * <*>");
}

/// Segments 2, 3 and 4 (of 1448) SACKed at 30, 31 and 32 ms, one ACK
/// each: segment 1 is lost (DupThresh) and is sent again, alone.
fn segment_1_is_resent_on_three_sacks(t: &mut Trace) {
    let seg = |n: u32| 1 + (n - 1) * 1448;
    for (k, last) in [2u32, 3, 4].into_iter().enumerate() {
        t.at(30 + k as u64).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack {}:{}>",
            130 + k,
            seg(2),
            seg(last + 1)
        ));
    }
    t.expect(&format!(". 1:{}(1448) ack 1 win * <*>", seg(2)));
    t.expect_none();
}

/// RFC 6675 NextSeg() rule 3: with no lost data left to resend and no
/// new data, an unSACKed segment below the highest SACK that is not yet
/// deemed lost (fewer than DupThresh segments SACKed above it) is sent
/// again while the pipe leaves room. Segments 1 and 8 of 10 are lost;
/// 2–7 are SACKed (1 goes again, fast retransmit), then 9: segment 8 has
/// one SACKed segment above it, and goes.
#[test]
fn rule_3_resends_unsacked_data_below_the_highest_sack() {
    let mut t = established_6675();
    let seg = |n: u32| 1 + (n - 1) * 1448;
    t.conn().write(&[1; 1448 * 10]).unwrap();
    for n in 1..=10 {
        let psh = if n == 10 { "P." } else { "." };
        t.expect(&format!(
            "{psh} {}:{}(1448) ack 1 win * <*>",
            seg(n),
            seg(n + 1)
        ));
    }
    segment_1_is_resent_on_three_sacks(&mut t);
    t.at(33).recv(&format!(
        ". 1:1(0) ack 1 win 1000 <nop,nop,TS val 133 ecr 0,nop,nop,sack {}:{}>",
        seg(2),
        seg(8)
    ));
    t.expect_none();
    t.at(34).recv(&format!(
        ". 1:1(0) ack 1 win 1000 <nop,nop,TS val 134 ecr 0,nop,nop,sack {}:{},nop,nop,sack {}:{}>",
        seg(9),
        seg(10),
        seg(2),
        seg(8)
    ));
    t.expect(&format!(". {}:{}(1448) ack 1 win * <*>", seg(8), seg(9)));
    t.expect_none();
    assert_eq!(t.conn().stats().retransmits, 2);
}

/// RFC 5681 §2: an ACK that carries data is not a duplicate ACK, though
/// it acknowledges nothing new: three of them, with the whole initial
/// window in flight, start no fast retransmit (the data is only
/// acknowledged).
#[test]
fn acks_carrying_data_are_not_duplicates() {
    let mut t = established_6675();
    t.conn().write(&[1; 1448 * 12]).unwrap();
    expect_initial_window(&mut t);
    for k in 0..4u32 {
        t.at(30 + u64::from(k)).recv(&format!(
            "P. {}:{}(100) ack 1 win 1000 <nop,nop,TS val {} ecr 0>",
            1 + k * 100,
            101 + k * 100,
            130 + k
        ));
        while let Some(bytes) = t.take() {
            let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
            assert_eq!(seg.data_len(), 0, "at {} ms: {seg:?}", 30 + k);
        }
    }
    assert_eq!(t.conn().stats().retransmits, 0);
    assert_eq!(t.conn().stats().fast_recoveries, 0);
}

#[test]
fn the_window_is_reopened_only_by_a_worthwhile_amount() {
    let mut t = Trace::passive(|c| c.recv_buffer = 8 * 1024);
    t.at(0).recv("S 0:0(0) win 65535 <mss 1000>");
    t.expect("S. 0:0(0) ack 1 win 8192 <mss 1460>");
    t.at(5).recv(". 1:1(0) ack 1 win 8192");
    for i in 0..8u32 {
        t.at(10 + u64::from(i)).recv(&format!(
            ". {}:{}(1000) ack 1 win 8192",
            1 + i * 1000,
            1 + (i + 1) * 1000
        ));
        let _ = t.take();
    }
    t.at(40).expect_none();
    // Reading 100 octets frees less than one MSS: no window update.
    let mut buf = vec![0u8; 8192];
    assert_eq!(t.conn().read(&mut buf[..100]), 100);
    t.expect_none();
    // Reading the rest reopens the whole buffer at once.
    t.conn().read(&mut buf);
    t.expect(". 1:1(0) ack 8001 win 8192");
}

#[test]
fn isns_follow_rfc6528() {
    use vtcp_conn::{Conn, ConnConfig, Endpoints, IsnSource};
    let ends = |port: u16| {
        Endpoints::new(
            Some([198, 18, 0, 1].into()),
            port,
            Some([198, 18, 0, 2].into()),
            80,
        )
        .with_isn(IsnSource::Rfc6528 {
            key: *b"0123456789abcdef",
        })
    };
    let policy = std::sync::Arc::new(ConnConfig::default());
    let iss = |ends, now| Conn::connect(policy.clone(), ends, now).iss();
    let t0 = Duration::from_secs(100);
    let a = iss(ends(40000), t0);
    let b = iss(ends(40001), t0);
    assert_ne!(a, b, "another 4-tuple, another offset");
    // The same 4-tuple 1 ms later: 250 ticks of the 4 µs clock further.
    let later = iss(ends(40000), t0 + Duration::from_millis(1));
    assert_eq!(later - a, 250);
    let other_key = iss(
        ends(40000).with_isn(IsnSource::Rfc6528 { key: [9; 16] }),
        t0,
    );
    assert_ne!(other_key, a);
}

#[test]
fn abort_sends_rst_and_closes() {
    let mut t = established();
    t.conn().abort();
    t.expect("R. 1:1(0) ack 1 win 0 <nop,nop,TS val * ecr 110>");
    assert_eq!(t.conn().state(), State::Closed);
    assert!(t.events().contains(&Event::Closed(CloseReason::Aborted)));
    t.expect_none();
}

#[test]
fn a_window_scale_above_14_is_used_as_14_and_absurd_mss_is_clamped() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv("S 0:0(0) win 65535 <mss 0,nop,wscale 15>");
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 3>");
    t.at(5).recv(". 1:1(0) ack 1 win 1");
    // MSS 0 is clamped to 64; the window is 1 << 14 octets.
    assert_eq!(t.conn().send_mss(), 64);
    t.conn().write(&[0; 100]).unwrap();
    t.expect(". 1:65(64) ack 1 win *");
}

#[test]
fn urgent_data_is_delivered_inline_and_ecn_bits_are_ignored() {
    let mut t = established();
    let now = t.now;
    // URG with a pointer, and ECE|CWR set: the octets arrive in order.
    t.at(20)
        .recv("PUEW. 1:11(10) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    assert_eq!(t.conn().readable(), 10);
    assert_eq!(t.conn().state(), State::Established);
    assert!(now < t.now);
}

#[test]
fn paws_forgets_a_timestamp_idle_for_24_days() {
    let mut t = established();
    let day = 24 * 3600 * 1000;
    // 25 days later, an older TSval is taken (RFC 7323 §5.5).
    t.at(25 * day)
        .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 50 ecr 0>");
    assert_eq!(t.conn().readable(), 10);
}

#[test]
fn zero_window_probes_back_off() {
    let mut t = established();
    t.at(20)
        .recv(". 1:1(0) ack 1 win 0 <nop,nop,TS val 120 ecr 0>");
    t.conn().write(b"hello").unwrap();
    t.expect_none();
    t.at(220).expect(". 1:2(1) ack 1 win * <*>");
    // Each unanswered probe doubles the wait.
    t.at(619).expect_none();
    t.at(620).expect(". 1:2(1) ack 1 win * <*>");
    t.at(1419).expect_none();
    t.at(1420).expect(". 1:2(1) ack 1 win * <*>");
}

#[test]
fn acceptability_in_the_closing_states() {
    // FIN-WAIT-2: out-of-window data is answered with an ACK and dropped.
    let mut t = established();
    t.conn().close();
    t.expect("F. 1:1(0) ack 1 win * <*>");
    t.at(30)
        .recv(". 1:1(0) ack 2 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().state(), State::FinWait2);
    t.at(40)
        .recv("P. 900000:900010(10) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect(". 2:2(0) ack 1 win * <*>");
    assert_eq!(t.conn().readable(), 0);
    // CLOSE-WAIT: data after the FIN is not taken.
    let mut t = established();
    t.at(20)
        .recv("F. 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 2 win * <*>");
    t.at(30)
        .recv("P. 2:12(10) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().readable(), 0);
    assert_eq!(t.conn().state(), State::CloseWait);
}

/// A passive connection with a 2000-octet buffer that 2000 octets
/// filled: our window is zero (the two segments got one ACK).
fn receive_window_filled() -> Trace {
    let mut t = Trace::passive(|c| c.recv_buffer = 2000);
    t.at(0).recv("S 0:0(0) win 65535 <mss 1000>");
    t.expect("S. 0:0(0) ack 1 win 2000 <mss 1460>");
    t.at(5).recv(". 1:1(0) ack 1 win 8192");
    t.at(10).recv(". 1:1001(1000) ack 1 win 8192");
    t.recv(". 1001:2001(1000) ack 1 win 8192");
    t.expect(". 1:1(0) ack 2001 win 0");
    t
}

#[test]
fn a_zero_receive_window_takes_only_a_segment_at_rcv_nxt_without_data() {
    let mut t = receive_window_filled();
    // Window 0, length > 0: unacceptable, answered with an ACK.
    t.at(20).recv(". 2001:2002(1) ack 1 win 8192");
    t.expect(". 1:1(0) ack 2001 win 0");
    // Window 0, length 0, at RCV.NXT: acceptable (its window is taken).
    t.at(30).recv(". 2001:2001(0) ack 1 win 100");
    t.expect_none();
    assert_eq!(t.conn().stats().dropped, 1);
}

#[test]
fn an_ack_older_than_the_largest_window_gets_a_challenge_ack() {
    let mut t = established();
    t.conn().write(&[1; 1000]).unwrap();
    t.expect("P. 1:1001(1000) ack 1 win * <*>");
    t.at(20)
        .recv(". 1:1(0) ack 1001 win 10 <nop,nop,TS val 120 ecr 0>");
    // SND.UNA − MAX.SND.WND is 1001 − 1000·128: an ACK far below it is
    // refused with a challenge ACK (RFC 5961 §5.2).
    t.at(30)
        .recv(". 1:1(0) ack 3000000000 win 10 <nop,nop,TS val 130 ecr 0>");
    t.expect(". 1001:1001(0) ack 1 win * <*>");
    assert_eq!(t.conn().stats().challenge_acks, 1);
}

/// RFC 7323 §2.2: a buffer that needs no shift still answers a peer's
/// window-scale option with one (shift 0), so that the peer's windows
/// are scaled; and ours, unscaled, cover the buffer.
#[test]
fn a_shift_of_zero_is_still_sent_to_a_peer_that_offered_scaling() {
    let mut t = Trace::passive(|c| c.recv_buffer = 60_000);
    t.at(0).recv(SYN);
    t.expect("S. 0:0(0) ack 1 win 60000 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 0>");
    t.at(5)
        .recv(". 1:1(0) ack 1 win 100 <nop,nop,TS val 110 ecr 0>");
    // The peer's window is scaled by its 7: 12,800 octets.
    t.conn().write(&[1; 3000]).unwrap();
    t.expect(". 1:1449(1448) ack 1 win 60000 <*>")
        .expect(". 1449:2897(1448) ack 1 win 60000 <*>")
        .expect("P. 2897:3001(104) ack 1 win 60000 <*>");
}

#[test]
fn no_window_scaling_when_we_do_not_offer_it() {
    let mut t = Trace::passive(|c| {
        c.window_scaling = false;
        c.recv_buffer = 200_000;
    });
    t.at(0).recv(SYN);
    // No window-scale option in our SYN-ACK: scaling is off both ways
    // (RFC 7323 §2.2).
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100>");
    t.at(5)
        .recv(". 1:1(0) ack 1 win 10 <nop,nop,TS val 110 ecr 0>");
    // The peer's window of 10 is taken unscaled. Sender SWS avoidance
    // holds back 10 octets of 100 until the override timeout (one RTO,
    // RFC 9293 §3.8.6.2.1) ...
    t.conn().write(&[1; 100]).unwrap();
    t.expect_none();
    t.at(204).expect_none();
    // ... then sends what the window allows.
    t.at(205).expect(". 1:11(10) ack 1 win 65535 <*>");
}

#[test]
fn an_ack_of_new_data_restarts_the_retransmission_timer() {
    let mut t = established_6675();
    t.conn().write(&[1; 2896]).unwrap();
    t.expect(". 1:1449(1448) ack 1 win * <*>");
    t.expect("P. 1449:2897(1448) ack 1 win * <*>");
    // RFC 6298 §5.3: the ACK of the first restarts the timer for the
    // second, from the time of the ACK.
    t.at(100)
        .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 200 ecr 0>");
    t.at(299).expect_none();
    t.at(300).expect("P. 1449:2897(1448) ack 1 win * <*>");
}

#[test]
fn zero_copy_write_and_read() {
    let mut t = established();
    let n = t
        .conn()
        .write_with(|a, _| {
            a[..5].copy_from_slice(b"hello");
            5
        })
        .unwrap();
    assert_eq!(n, 5);
    t.expect("P. 1:6(5) ack 1 win * <*>");
    t.at(20)
        .recv("P. 1:11(10) ack 6 win 1000 <nop,nop,TS val 120 ecr 0>");
    let (a, b) = t.conn().peek_readable();
    assert_eq!([a, b].concat(), b"xxxxxxxxxx");
    assert_eq!(t.conn().consume(4), 4);
    assert_eq!(t.conn().readable(), 6);
    assert_eq!(t.conn().consume(100), 6);
    assert_eq!(t.conn().readable(), 0);
}

#[test]
fn a_cookie_connection_starts_established_with_what_the_cookie_kept() {
    use vtcp_conn::{Conn, ConnConfig, CookieHandshake, Endpoints, IsnSource};
    use vtcp_seq::Seq;
    use vtcp_wire::{Segment, Timestamp};
    // A fixed ISN of 1 that the cookie's overrides.
    let ends = Endpoints::ports(8080, 40000).with_isn(IsnSource::Fixed(Seq(1)));
    let handshake = CookieHandshake {
        remote_isn: Seq(trace::PEER_ISN),
        local_isn: Seq(trace::OUR_ISN),
        peer_mss: 1440,
        peer_wscale: Some(7),
        our_wscale: 3,
        sack_permitted: true,
        timestamp: Some(Timestamp {
            tsval: 500,
            tsecr: 77,
        }),
        window: 100,
    };
    let mut c = Conn::accept_cookie(
        ConnConfig::default(),
        ends,
        Duration::ZERO,
        &handshake,
        b"GET /",
    );
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.iss(), Seq(trace::OUR_ISN));
    assert_eq!(c.readable(), 5);
    assert_eq!(c.send_mss(), 1440 - 12);
    assert!(c.poll_event() == Some(Event::Connected));
    // The ACK for the data: timestamps echo the peer's, no SACK to report.
    let mut buf = vec![0u8; 2000];
    let n = c.poll_transmit(Duration::ZERO, &mut buf).unwrap();
    let seg = Segment::parse(&buf[..n]).unwrap();
    assert_eq!(seg.seq, Seq(trace::OUR_ISN + 1));
    assert_eq!(seg.ack, Seq(trace::PEER_ISN + 6));
    assert_eq!(seg.options.timestamp().map(|t| t.tsecr), Some(500));
    // Our clock continues from the TSval the cookie SYN-ACK carried (77).
    let tsval = seg.options.timestamp().unwrap().tsval;
    assert!(
        vtcp_seq::seq_after(tsval, 77) && tsval.wrapping_sub(77) <= 64,
        "{tsval}"
    );
    // The peer's window of 100 is scaled by 7: 12800 octets may go, as
    // eight full segments; the 1376 left would be a small segment behind
    // data in flight (sender SWS avoidance and Nagle hold it).
    c.write(&[0; 20_000]).unwrap();
    let mut sent = 0;
    while let Some(n) = c.poll_transmit(Duration::ZERO, &mut buf) {
        sent += Segment::parse(&buf[..n]).unwrap().data_len();
    }
    assert_eq!(sent, 8 * 1428);
}

/// Real clients complete a cookie handshake with a bare ACK and send data
/// next: the window the cookie SYN-ACK offered (65535, unscaled) is open
/// from the start, not a zero window that drops the first segment.
#[test]
fn a_cookie_connection_from_a_bare_ack_takes_the_data_that_follows() {
    use vtcp_conn::{Conn, CookieHandshake};
    use vtcp_seq::Seq;
    let mut t = Trace::passive(|_| {});
    let handshake = CookieHandshake {
        remote_isn: Seq(trace::PEER_ISN),
        local_isn: Seq(trace::OUR_ISN),
        peer_mss: 1440,
        peer_wscale: Some(7),
        our_wscale: 3,
        sack_permitted: true,
        timestamp: Some(vtcp_wire::Timestamp {
            tsval: 500,
            tsecr: 77,
        }),
        window: 1000,
    };
    let cfg = vtcp_conn::ConnConfig::default();
    t.conn = Some(Conn::accept_cookie(
        cfg,
        t.ends,
        Duration::ZERO,
        &handshake,
        b"",
    ));
    t.at(0).expect_none();
    t.at(5)
        .recv("P. 1:1001(1000) ack 1 win 1000 <nop,nop,TS val 505 ecr 77>");
    assert_eq!(t.conn().readable(), 1000);
    assert_eq!(t.conn().stats().dropped, 0);
    // The cookie kept SACK-permitted: data out of order is SACKed.
    t.take();
    t.at(6)
        .recv("P. 2001:3001(1000) ack 1 win 1000 <nop,nop,TS val 506 ecr 77>");
    t.expect(". 1:1(0) ack 1001 win * <nop,nop,TS val * ecr 505,nop,nop,sack 2001:3001>");
}

#[test]
fn data_beyond_the_advertised_window_is_not_stored() {
    let mut t = established();
    // Our buffer is 256 KiB; the SYN-ACK advertised 65535. A segment
    // that starts past the advertised right edge but inside the buffer
    // fails the window check and must leave the buffer alone, or a blind
    // attacker could write there (RFC 5961 §5).
    t.at(20)
        .recv(". 100000:100100(100) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect(". 1:1(0) ack 1 win * <*>");
    assert_eq!(t.conn().stats().ooo_bytes, 0);
    // Data that is old (wholly before RCV.NXT) is still noted for D-SACK.
    t.at(30)
        .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.at(40)
        .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect(". 1:1(0) ack 11 win * <nop,nop,TS val * ecr 130,nop,nop,sack 1:11>");
}

/// Sends the peer's ACKs of `segments` one at a time (slow start grows the
/// window by one segment each) and takes what the connection sends; returns
/// the highest segment number sent.
fn grow_window(t: &mut Trace, ms: u64, acked: u32) -> u32 {
    for i in 1..=acked {
        t.at(ms + u64::from(i)).recv(&format!(
            ". 1:1(0) ack {} win 1000 <nop,nop,TS val {} ecr 0>",
            1 + i * 1448,
            200 + i
        ));
    }
    let mut highest = 0;
    while let Some(bytes) = t.take() {
        let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
        let end = seg.seq.0.wrapping_sub(trace::OUR_ISN) + seg.data_len() as u32;
        highest = highest.max((end - 1) / 1448);
    }
    highest
}

#[test]
fn sack_recovery_sends_in_proportion_to_what_is_delivered_and_new_data_before_unsacked() {
    // RFC 9937: half the window was lost (every other segment); recovery
    // must not answer each SACK with a burst into the queue that just
    // overflowed, but send about ssthresh/RecoverFS of what is delivered.
    let mut t = established_6675();
    t.conn().write(&[1; 1448 * 200]).unwrap();
    let mut sent = 0;
    while t.take().is_some() {
        sent += 1;
    }
    assert_eq!(sent, 10, "RFC 6928's initial window");
    let highest = grow_window(&mut t, 30, 10);
    assert_eq!(highest, 30, "slow start: two segments for each ACK");
    // Segments 11 to 30 are in flight; the odd ones are lost. Each even
    // one that arrives is SACKed by a duplicate ACK of 10 segments.
    let block = |n: u32| format!("{}:{}", 1 + (n - 1) * 1448, 1 + n * 1448);
    let mut in_recovery = Vec::new();
    for (k, n) in (12..=30).step_by(2).enumerate() {
        let mut blocks = vec![block(n)];
        blocks.extend((12..n).step_by(2).rev().take(2).map(block));
        t.at(60 + k as u64).recv(&format!(
            ". 1:1(0) ack {} win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack {}>",
            1 + 10 * 1448,
            300 + k,
            blocks.join(" ")
        ));
        let mut sent = Vec::new();
        while let Some(bytes) = t.take() {
            let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
            sent.push(seg.seq.0.wrapping_sub(trace::OUR_ISN) / 1448 + 1);
        }
        if t.conn().stats().fast_recoveries == 1 {
            in_recovery.push(sent);
        }
    }
    assert_eq!(t.conn().stats().fast_recoveries, 1);
    // Recovery began at the third duplicate; the eight duplicates from
    // there deliver eight segments. None advances SND.UNA, so none is a
    // SafeACK and PRR's conservative bound holds: no more sent than
    // delivered, at most two for any one ACK (catching up after the
    // proportional phase), and what goes out are the lost segments,
    // oldest first. (With SACK's pipe against NewReno's inflated window
    // it was 17, three per ACK.)
    let all: Vec<u32> = in_recovery.iter().flatten().copied().collect();
    eprintln!("{in_recovery:?}");
    assert!(in_recovery.iter().all(|s| s.len() <= 2), "{in_recovery:?}");
    assert!((4..=8).contains(&all.len()), "{in_recovery:?}");
    let lost: Vec<u32> = (11..30).step_by(2).take(all.len()).collect();
    assert_eq!(all, lost);
    // Partial ACKs as the retransmissions arrive. The last hole IsLost
    // counts (25) goes first. Then new data, before the holes above it
    // (27, 29) that fewer than three SACKs cover: RFC 6675 NextSeg sends
    // those (rule 3) only when there is no new data to send (rule 2).
    let mut after_partial = Vec::new();
    for (k, hole) in [13u32, 15, 17].into_iter().enumerate() {
        t.at(80 + k as u64).recv(&format!(
            ". 1:1(0) ack {} win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack {} {} {}>",
            1 + (hole - 1) * 1448,
            400 + k,
            block(30),
            block(28),
            block(26)
        ));
        while let Some(bytes) = t.take() {
            let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
            after_partial.push(seg.seq.0.wrapping_sub(trace::OUR_ISN) / 1448 + 1);
        }
    }
    assert_eq!(after_partial, vec![25, 33, 34]);
}

#[test]
fn a_lost_tail_is_rescued_once_before_the_timer() {
    // RFC 6675 NextSeg rule 4. Six segments; the first and the last are
    // lost. Nothing is sent after the last, so nothing above it can be
    // SACKed and it never counts as lost: without a rescue only the
    // retransmission timer would resend it.
    let mut t = six_segments_in_flight_6675();
    let seg = |n: u32| 1 + (n - 1) * 1448;
    segment_1_is_resent_on_three_sacks(&mut t);
    // Segment 5 arrives: no rule has anything to send (no rescue before
    // the fast retransmit is acknowledged).
    t.at(33)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 133 ecr 0,nop,nop,sack 1449:7241>");
    t.expect_none();
    // The retransmission of 1 arrives: a partial ACK up to segment 6. The
    // rescue resends it, once.
    t.at(50).recv(&format!(
        ". 1:1(0) ack {} win 1000 <nop,nop,TS val 150 ecr 0>",
        seg(6)
    ));
    t.expect(&format!("P. {}:{}(1448) ack 1 win * <*>", seg(6), seg(7)));
    t.expect_none();
    t.at(51).recv(&format!(
        ". 1:1(0) ack {} win 1000 <nop,nop,TS val 151 ecr 0>",
        seg(6)
    ));
    t.expect_none();
    assert_eq!(t.conn().stats().rtos, 0);
    assert_eq!(t.conn().stats().retransmits, 2);
}

#[test]
fn a_lost_retransmission_is_resent_once_later_data_is_sacked() {
    // Segment 1 is lost, and so is its fast retransmit; everything else
    // arrives, one ACK per segment, SACKing all above the hole. Once more
    // than two segments sent after that retransmission are SACKed, it is
    // lost by IsLost's own reasoning and goes again, with no timeout.
    let mut t = established_6675();
    t.conn().write(&[1; 1448 * 60]).unwrap();
    let mut wire = std::collections::VecDeque::new();
    let mut sends_of_1 = 0;
    let mut highest_received = 1;
    let mut now = 20;
    let send_all = |t: &mut Trace, wire: &mut std::collections::VecDeque<u32>| {
        while let Some(bytes) = t.take() {
            let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
            wire.push_back(seg.seq.0.wrapping_sub(trace::OUR_ISN) / 1448 + 1);
        }
    };
    send_all(&mut t, &mut wire);
    while let Some(n) = wire.pop_front() {
        now += 1;
        if n == 1 {
            sends_of_1 += 1;
            if sends_of_1 <= 2 {
                continue;
            }
            break;
        }
        highest_received = highest_received.max(n);
        t.at(now).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {now} ecr 0,nop,nop,sack 1449:{}>",
            1 + highest_received * 1448
        ));
        send_all(&mut t, &mut wire);
    }
    assert_eq!(sends_of_1, 3, "segment 1 sent {sends_of_1} times");
    assert_eq!(t.conn().stats().rtos, 0);
    assert_eq!(t.conn().stats().lost_retransmits, 1);
}

#[test]
fn a_path_mtu_report_lowers_the_mss_of_later_segments_and_retransmissions() {
    let mut t = established_6675();
    t.conn().write(&[1; 3000]).unwrap();
    t.expect(". 1:1449(1448) ack 1 win * <*>");
    // "Packet too big" for a 1280-octet IPv6 path: 1240 octets of TCP,
    // less 20 of header and 12 of timestamps (RFC 8201 §5).
    assert!(t.conn().set_path_mtu(1240));
    assert_eq!(t.conn().send_mss(), 1208);
    // A larger report never raises it again.
    assert!(!t.conn().set_path_mtu(1460));
    assert_eq!(t.conn().send_mss(), 1208);
    t.expect(". 1449:2657(1208) ack 1 win * <*>");
    // The first segment was dropped for its size: its retransmission fits.
    t.at(220).expect(". 1:1209(1208) ack 1 win * <*>");
}

#[test]
fn after_a_timeout_one_segment_goes_whatever_duplicate_acks_came_before() {
    let mut t = six_segments_in_flight_6675();
    // Two duplicate ACKs (no SACK): limited transmit's credit, nothing
    // more to send.
    for i in 0..2 {
        t.at(30 + i).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0>",
            130 + i
        ));
    }
    t.expect_none();
    // The RTO (200 ms after the last send at 0 ms, the handshake measured
    // 10 ms): one segment, the window being one segment (RFC 5681 §3.1),
    // not three.
    t.at(210)
        .expect(". 1:1449(1448) ack 1 win * <*>")
        .expect_none();
}

#[test]
fn everything_sent_again_after_a_timeout_counts_as_retransmitted() {
    let mut t = six_segments_in_flight_6675();
    t.at(210)
        .expect(". 1:1449(1448) ack 1 win * <*>")
        .expect_none();
    assert_eq!(t.conn().stats().retransmits, 1);
    // Go-back-N: the ACK opens the window to two, and both segments are
    // old data sent again.
    t.at(220)
        .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 200 ecr 0>");
    t.expect(". 1449:2897(1448) ack 1 win * <*>")
        .expect(". 2897:4345(1448) ack 1 win * <*>");
    let s = t.conn().stats();
    assert_eq!((s.rtos, s.retransmits), (1, 3));
}

#[test]
fn a_buffer_too_short_loses_nothing() {
    let mut t = established();
    t.conn().write(&[1; 1000]).unwrap();
    let mut short = [0u8; 40];
    assert_eq!(
        t.conn()
            .poll_transmit(Duration::from_millis(10), &mut short),
        None
    );
    // The segment is still there for a buffer that holds it.
    t.expect("P. 1:1001(1000) ack 1 win * <*>");
    // So is a RST.
    t.conn().abort();
    assert_eq!(
        t.conn()
            .poll_transmit(Duration::from_millis(10), &mut short[..10]),
        None
    );
    t.expect("R. 1001:1001(0) ack 1 win 0 <*>");
}

/// What Linux sent when it lost a segment (issue 11's capture): every
/// later segment drew an ACK of the hole with a growing SACK block and,
/// as Linux's receive window auto-tunes, a larger window each time. RFC
/// 6675 §2 counts an ACK with new SACK information as a duplicate, window
/// or not.
#[test]
fn sack_acks_count_as_duplicates_while_the_peer_s_window_grows() {
    let mut t = six_segments_in_flight_6675();
    for (i, win) in [729u32, 732, 735].into_iter().enumerate() {
        let i = i as u32;
        t.at(30 + u64::from(i)).recv(&format!(
            ". 1:1(0) ack 1 win {win} <nop,nop,TS val {} ecr 0,nop,nop,sack 1449:{}>",
            130 + i,
            1449 + 1448 * (i + 1)
        ));
    }
    t.expect(". 1:1449(1448) ack 1 win * <*>");
    assert_eq!(t.conn().stats().fast_recoveries, 1);
}

/// RFC 6675 §5 (2): fewer than DupThresh duplicate ACKs, but
/// IsLost(HighACK + 1) holds (more than two segments SACKed above it, in
/// one ACK that stretched over them): recovery starts.
#[test]
fn one_ack_that_sacks_three_segments_starts_recovery() {
    let mut t = six_segments_in_flight_6675();
    t.at(30)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 130 ecr 0,nop,nop,sack 1449:5793>");
    t.expect(". 1:1449(1448) ack 1 win * <*>");
    assert_eq!(t.conn().stats().fast_recoveries, 1);
}

// ----- RACK-TLP (RFC 8985), the default with SACK -----

#[test]
fn rack_marks_a_segment_lost_once_the_reordering_window_has_passed() {
    let mut t = six_segments_in_flight();
    // Segment 2 SACKed 15 ms after all six went at 10 ms (RACK.rtt 15
    // ms): segment 1, sent before it, is lost only after RACK.rtt plus a
    // quarter of min_RTT (3.75 ms) since it was sent, not at once.
    t.at(25)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 125 ecr 0,nop,nop,sack 1449:2897>");
    t.expect_none();
    t.at(28).expect_none();
    t.at(29).expect(". 1:1449(1448) ack 1 win * <*>");
    let s = t.conn().stats();
    assert_eq!((s.fast_recoveries, s.retransmits, s.rtos), (1, 1, 0));
}

#[test]
fn rack_waits_out_reordering_instead_of_retransmitting() {
    let mut t = six_segments_in_flight();
    t.at(25)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 125 ecr 0,nop,nop,sack 1449:2897>");
    // Segment 1 was only late: it arrives within the window.
    t.at(27)
        .recv(". 1:1(0) ack 2897 win 1000 <nop,nop,TS val 127 ecr 0>");
    t.at(40).expect_none();
    let s = t.conn().stats();
    assert_eq!((s.fast_recoveries, s.retransmits), (0, 0));
}

#[test]
fn three_sacked_segments_leave_no_reordering_window() {
    let mut t = six_segments_in_flight();
    // With DupThresh segments SACKed and no reordering seen, RACK's window
    // is zero: segment 1 is lost as soon as RACK.rtt has passed.
    t.at(25)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 125 ecr 0,nop,nop,sack 1449:5793>");
    t.expect(". 1:1449(1448) ack 1 win * <*>");
}

#[test]
fn a_tail_loss_probe_resends_the_last_segment_after_two_round_trips() {
    let mut t = six_segments_in_flight();
    // SRTT is 10 ms (the handshake): PTO = 2·SRTT = 20 ms after the last
    // send at 10 ms, long before the 200 ms RTO.
    t.at(29).expect_none();
    t.at(30)
        .expect("P. 7241:8689(1448) ack 1 win * <*>")
        .expect_none();
    assert_eq!(t.conn().stats().tlp_probes, 1);
    // Its SACK shows segments 1 to 5 missing: RACK marks them lost
    // (sent 20 ms before the probe, RACK.rtt 10 ms) and recovery starts.
    t.at(40)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 140 ecr 0,nop,nop,sack 7241:8689>");
    t.expect(". 1:1449(1448) ack 1 win * <*>");
    let s = t.conn().stats();
    assert_eq!((s.fast_recoveries, s.rtos), (1, 0));
}

/// RFC 8985 §7.2: the probe timer restarts with each burst of new data,
/// as Linux's does (found by differential testing against Linux: the
/// timer kept the first burst's deadline and probed a second write's
/// segments one round trip early).
#[test]
fn a_second_burst_restarts_the_probe_timer() {
    let mut t = established();
    t.conn().write(&[1; 1448 * 2]).unwrap();
    t.expect(". 1:1449(1448) ack 1 win * <*>")
        .expect("P. 1449:2897(1448) ack 1 win * <*>")
        .expect_none();
    t.at(20);
    t.conn().write(&[2; 1448 * 2]).unwrap();
    t.expect(". 2897:4345(1448) ack 1 win * <*>")
        .expect("P. 4345:5793(1448) ack 1 win * <*>")
        .expect_none();
    // PTO = 2·SRTT = 20 ms after the second burst, not the first.
    t.at(39).expect_none();
    t.at(40)
        .expect("P. 4345:5793(1448) ack 1 win * <*>")
        .expect_none();
    assert_eq!(t.conn().stats().tlp_probes, 1);
}

/// RFC 8985 §7.3: the probe sends the last segment again, FIN and all
/// when it carried the FIN, as Linux's does (found by differential
/// testing against Linux: the FIN was left for the RTO).
#[test]
fn a_tail_loss_probe_of_the_last_segment_carries_its_fin() {
    let mut t = established();
    t.conn().write(&[1; 1448 * 2]).unwrap();
    t.conn().close();
    t.expect(". 1:1449(1448) ack 1 win * <*>")
        .expect("FP. 1449:2897(1448) ack 1 win * <*>")
        .expect_none();
    // PTO = 2·SRTT = 20 ms after the send at 10 ms.
    t.at(29).expect_none();
    t.at(30)
        .expect("FP. 1449:2897(1448) ack 1 win * <*>")
        .expect_none();
    assert_eq!(t.conn().stats().tlp_probes, 1);
    // The ACK of everything, FIN included, ends FIN-WAIT-1.
    t.at(40)
        .recv(". 1:1(0) ack 2898 win 1000 <nop,nop,TS val 140 ecr 0>");
    assert_eq!(t.conn().state(), State::FinWait2);
}

/// The FIN takes a sequence number, which a zero window has no room for:
/// it waits for the window, as Linux's does, and the persist timer sends
/// it as the probe (found by differential testing against Linux: the FIN
/// went at once, for the peer to drop).
#[test]
fn a_fin_waits_for_a_zero_window_and_goes_as_its_probe() {
    let mut t = established();
    t.at(20)
        .recv(". 1:1(0) ack 1 win 0 <nop,nop,TS val 120 ecr 0>");
    t.conn().close();
    t.expect_none();
    // The persist timer: one RTO (200 ms) after the close.
    t.at(219).expect_none();
    t.at(220).expect("F. 1:1(0) ack 1 win * <*>").expect_none();
    t.at(230)
        .recv(". 1:1(0) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
    assert_eq!(t.conn().state(), State::FinWait2);
}

#[test]
fn a_tail_loss_probe_sends_new_data_when_the_window_allows() {
    let mut t = established();
    t.conn().write(&[1; 1448 * 15]).unwrap();
    for _ in 0..10 {
        t.take().expect("the initial window");
    }
    t.expect_none();
    // Five segments wait for the congestion window; the probe sends the
    // first of them (RFC 8985 §7.3), the peer's window allowing.
    t.at(30).expect(". 14481:15929(1448) ack 1 win * <*>");
    assert_eq!(t.conn().stats().tlp_probes, 1);
    assert_eq!(t.conn().stats().retransmits, 0);
}

#[test]
fn one_segment_in_flight_waits_for_a_delayed_ack_before_probing() {
    let mut t = established();
    t.conn().write(&[1; 100]).unwrap();
    t.expect("P. 1:101(100) ack 1 win * <*>");
    // PTO = 2·SRTT + 200 ms (the worst delayed ACK) = 220 ms, but no later
    // than the RTO at 210 ms: the probe stands in for it.
    t.at(209).expect_none();
    t.at(210)
        .expect("P. 1:101(100) ack 1 win * <*>")
        .expect_none();
    let s = t.conn().stats();
    assert_eq!((s.tlp_probes, s.rtos), (1, 0));
}

/// Our ACK of the last segment was lost and the peer sent it again: the
/// ACK of the retransmission echoes its timestamp, not the one before the
/// loss, or the peer would time the whole retransmission timeout into its
/// RTT (Linux updates TS.Recent for a segment that reaches the last ACK
/// sent, as RFC 7323 §4.3's SEG.SEQ ≤ Last.ACK.sent allows). Seen in the
/// simulator at 20 % loss: a stale echo made a 20 ms path's SRTT 4 s.
#[test]
fn the_ack_of_a_retransmission_echoes_its_timestamp() {
    let mut t = established();
    t.at(20)
        .recv("P. 1:1001(1000) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.at(60)
        .expect(". 1:1(0) ack 1001 win * <nop,nop,TS val * ecr 120>");
    // That ACK is lost; the peer's RTO sends the segment again.
    t.at(1020)
        .recv("P. 1:1001(1000) ack 1 win 1000 <nop,nop,TS val 1120 ecr 0>");
    t.expect(". 1:1(0) ack 1001 win * <nop,nop,TS val * ecr 1120,nop,nop,sack 1:1001>");
    // An older duplicate, wholly below the last ACK, changes nothing.
    t.at(1030)
        .recv("P. 1:501(500) ack 1 win 1000 <nop,nop,TS val 1130 ecr 0>");
    t.expect(". 1:1(0) ack 1001 win * <nop,nop,TS val * ecr 1120,nop,nop,sack 1:501>");
}

/// Receive-window auto-tuning: the window starts at 64 KiB and grows to
/// twice what the application drains in a round trip (here the sender's
/// SRTT of 10 ms stands in, the data carrying no echo of ours).
#[test]
fn the_receive_window_grows_with_what_the_application_reads() {
    let mut t = established();
    let mut buf = vec![0u8; 1 << 20];
    let mut seq = 1u32;
    let mut windows = Vec::new();
    for ms in (20..120).step_by(5) {
        // 40 segments in 5 ms, all read at once.
        for _ in 0..40u32 {
            t.at(ms).recv(&format!(
                ". {seq}:{}(1448) ack 1 win 1000 <nop,nop,TS val {} ecr 0>",
                seq + 1448,
                1000 + seq / 1448
            ));
            seq += 1448;
            while t.conn().read(&mut buf) > 0 {}
            while let Some(bytes) = t.take() {
                let seg = vtcp_wire::SegmentView::new_checked(&bytes).unwrap();
                windows.push(u32::from(seg.window()) << 3);
            }
        }
    }
    let first = windows[0];
    let last = *windows.last().unwrap();
    assert!(first <= 65_536, "starts at 64 KiB: {first}");
    // 80 segments drained per 10 ms round trip: twice that.
    assert_eq!(last, 2 * 80 * 1448, "grew with the reads");
    // The right edge never moved left: the window only grows here, the
    // reader keeping up.
    assert!(
        windows.windows(2).all(|w| w[1] + 1448 * 2 >= w[0]),
        "{windows:?}"
    );
}

/// A lone FIN has nothing a tail loss probe could send: the RTO, on time,
/// sends it again (the probe timer must not put it off).
#[test]
fn a_lost_fin_is_resent_by_the_rto_on_time() {
    let mut t = established();
    t.conn().close();
    t.expect("F. 1:1(0) ack 1 win * <*>");
    t.at(209).expect_none();
    t.at(210).expect("F. 1:1(0) ack 1 win * <*>");
    assert_eq!(t.conn().stats().tlp_probes, 0);
}

// ----- Undo of spurious reductions (RFC 3522 Eifel, RFC 3708 D-SACK) -----

/// Six segments in flight at 10 ms; at 25 ms a SACK of three of them makes
/// RACK resend segment 1 at once. Returns the TSvals of the original and of
/// the retransmission, and the window before the reduction.
fn spurious_fast_retransmit() -> (Trace, u32, u32, u32) {
    let mut t = six_segments_in_flight();
    let original = t.last_tsval.expect("timestamps");
    let cwnd = t.conn().stats().cwnd;
    t.at(25)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 125 ecr 0,nop,nop,sack 1449:5793>");
    t.expect(". 1:1449(1448) ack 1 win * <*>");
    let retransmission = t.last_tsval.expect("timestamps");
    assert!(original < retransmission);
    assert!(t.conn().stats().cwnd < cwnd, "the window was reduced");
    (t, original, retransmission, cwnd)
}

#[test]
fn eifel_undoes_a_fast_retransmit_the_ack_shows_was_not_needed() {
    let (mut t, original, _, cwnd) = spurious_fast_retransmit();
    // The ACK that covers segment 1 echoes the original's TSval: the
    // original arrived (it was only late), not the retransmission.
    t.at(27).recv(&format!(
        ". 1:1(0) ack 8689 win 1000 <nop,nop,TS val 127 ecr {original}>"
    ));
    let s = t.conn().stats();
    assert_eq!(s.undos, 1);
    assert_eq!(s.ssthresh, u32::MAX, "ssthresh as before the reduction");
    assert!(s.cwnd >= cwnd, "cwnd {} back to at least {cwnd}", s.cwnd);
}

#[test]
fn eifel_keeps_the_reduction_when_the_retransmission_repaired_a_loss() {
    let (mut t, _, retransmission, cwnd) = spurious_fast_retransmit();
    t.at(27).recv(&format!(
        ". 1:1(0) ack 8689 win 1000 <nop,nop,TS val 127 ecr {retransmission}>"
    ));
    let s = t.conn().stats();
    assert_eq!(s.undos, 0);
    assert!(s.cwnd < cwnd && s.ssthresh < u32::MAX);
}

#[test]
fn a_dsack_of_every_retransmission_undoes_the_reduction() {
    let (mut t, _, retransmission, cwnd) = spurious_fast_retransmit();
    t.at(27).recv(&format!(
        ". 1:1(0) ack 8689 win 1000 <nop,nop,TS val 127 ecr {retransmission}>"
    ));
    assert_eq!(t.conn().stats().undos, 0);
    // Then a D-SACK (RFC 2883: a block below the cumulative ACK) reports
    // segment 1 twice received: the retransmission was not needed.
    t.at(28).recv(&format!(
        ". 1:1(0) ack 8689 win 1000 <nop,nop,TS val 128 ecr {retransmission},nop,nop,sack 1:1449>"
    ));
    let s = t.conn().stats();
    assert_eq!((s.undos, s.spurious_retransmit_bytes), (1, 1448));
    assert!(s.cwnd >= cwnd && s.ssthresh == u32::MAX);
}

#[test]
fn a_spurious_timeout_is_undone_and_sending_resumes_with_new_data() {
    let mut t = six_segments_in_flight_6675();
    let original = t.last_tsval.expect("timestamps");
    let cwnd = t.conn().stats().cwnd;
    // No ACK for 200 ms: the timeout resends segment 1 with a window of
    // one segment.
    t.at(210)
        .expect(". 1:1449(1448) ack 1 win * <*>")
        .expect_none();
    assert_eq!(t.conn().stats().cwnd, 1448);
    // The ACKs were only delayed: one for segments 1 and 2 echoes the
    // original's TSval (RFC 3522), so the timeout was spurious.
    t.at(215).recv(&format!(
        ". 1:1(0) ack 2897 win 1000 <nop,nop,TS val 215 ecr {original}>"
    ));
    let s = t.conn().stats();
    assert_eq!((s.rtos, s.undos), (1, 1));
    assert!(s.cwnd >= cwnd, "cwnd {} back to {cwnd}", s.cwnd);
    // RFC 4015 §2: no going back N over what was sent; new data next.
    t.conn().write(&[2; 1448]).unwrap();
    t.expect("P. 8689:10137(1448) ack 1 win * <*>");
}

/// A timeout undone by a D-SACK that comes after its retransmission was
/// acknowledged: the ACK of the retransmission left nothing in flight
/// (SND.NXT had gone back) and stopped the timer; the undo then resumed
/// SND.NXT at the highest sent, five segments in flight again, and no
/// timer ran for them (found by the `conn_pair` fuzz target, caught by
/// the engine's own invariant).
#[test]
fn a_timeout_undone_by_a_late_dsack_restarts_the_timer() {
    let mut t = six_segments_in_flight_6675();
    t.at(210)
        .expect(". 1:1449(1448) ack 1 win * <*>")
        .expect_none();
    let resent = t.last_tsval.expect("timestamps");
    // The retransmission acknowledged (its own TSval echoed: Eifel sees
    // nothing spurious), then a duplicate ACK reports it twice (D-SACK).
    t.at(220).recv(&format!(
        ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 220 ecr {resent}>"
    ));
    assert_eq!(t.conn().stats().bytes_in_flight, 0);
    t.at(221).recv(&format!(
        ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 221 ecr {resent},nop,nop,sack 1:1449>"
    ));
    let s = t.conn().stats();
    assert_eq!((s.rtos, s.undos), (1, 1));
    assert_eq!(s.bytes_in_flight, 5 * 1448);
    assert!(
        t.conn().poll_timeout().is_some(),
        "data in flight, no timer"
    );
}

/// Runs the connection's timers, sending nothing back, until it closes
/// (at most `limit` timer expiries); returns the segments it sent (as
/// parsed) and the time it closed.
fn run_unanswered(t: &mut Trace, limit: usize) -> (Vec<vtcp_wire::Segment<Vec<u8>>>, Duration) {
    let mut sent = Vec::new();
    for _ in 0..limit {
        while let Some(bytes) = t.take() {
            sent.push(vtcp_wire::Segment::parse(&bytes).unwrap().into_owned());
        }
        if t.conn().state() == State::Closed {
            return (sent, t.now);
        }
        let next = t.conn().poll_timeout().expect("a timer while open");
        t.at(next.as_millis() as u64 + 1);
    }
    panic!("still open after {limit} timer expiries");
}

/// RFC 9293 §3.8.3 (MUST-22, MUST-23): a SYN is retransmitted by the same
/// mechanism as data and, with the default settings, given up only after
/// at least three minutes.
#[test]
fn unanswered_syns_are_sent_for_at_least_three_minutes_by_default() {
    let mut t = Trace::active(|_| {});
    let (sent, closed) = run_unanswered(&mut t, 100);
    let retries = vtcp_conn::defaults::MAX_RETRIES as usize;
    assert_eq!(sent.len(), 1 + retries, "{sent:?}");
    assert!(sent.iter().all(|s| s.flags == vtcp_wire::Flags::SYN));
    assert!(sent.iter().all(|s| s.seq == sent[0].seq), "the same ISS");
    assert!(closed >= Duration::from_secs(180), "gave up at {closed:?}");
    assert_eq!(t.events(), vec![Event::Closed(CloseReason::TimedOut)]);
}

/// RFC 9293 §3.8.3 (SHLD-11, RFC 1122 §4.2.3.5): unacknowledged data is
/// given up after at least 100 seconds, even at the least RTO (these
/// traces' RTO is the 200 ms floor), after `max_retries` retransmissions,
/// each after twice the wait of the one before (RFC 6298 §5.5); no tail
/// loss probe follows each of them (RFC 8985 §7.2: none in RTO recovery;
/// one did, doubling every retransmission). Giving up sends a RST, as
/// FreeBSD's tcp_drop does.
#[test]
fn unacknowledged_data_is_given_up_after_at_least_100_seconds() {
    let mut t = established();
    t.conn().write(b"lost").unwrap();
    let (sent, closed) = run_unanswered(&mut t, 100);
    let retries = vtcp_conn::defaults::MAX_RETRIES as usize;
    let (data, rst) = sent.split_at(sent.len() - 1);
    // The segment, one tail loss probe (which stands in for the first
    // RTO, RFC 8985 §7.3), then a retransmission per RTO.
    assert_eq!(data.len(), 2 + retries, "{sent:?}");
    assert!(data.iter().all(|s| s.payload == b"lost"), "{sent:?}");
    assert!(rst[0].flags.contains(vtcp_wire::Flags::RST));
    // The timestamp clock is in milliseconds: the gaps double.
    let tsval = |s: &vtcp_wire::Segment<Vec<u8>>| s.options.timestamp().unwrap().tsval;
    let gaps: Vec<u32> = sent
        .windows(2)
        .map(|w| tsval(&w[1]) - tsval(&w[0]))
        .collect();
    for g in gaps[1..].windows(2) {
        assert!(g[1] + 2 >= 2 * g[0] && g[1] <= 2 * g[0] + 2, "{gaps:?}");
    }
    assert_eq!(t.conn().stats().tlp_probes, 1);
    assert!(closed >= Duration::from_secs(100), "gave up at {closed:?}");
    assert!(t.events().contains(&Event::Closed(CloseReason::TimedOut)));
}

/// RFC 5482 set on a live connection (`TCP_USER_TIMEOUT`,
/// `Conn::set_user_timeout`): unacknowledged data is given up at the
/// first RTO after 3 s, not after `max_retries` (over 100 s), with the
/// RST of a give-up.
#[test]
fn a_user_timeout_set_on_a_live_connection_gives_up_sooner() {
    let mut t = established();
    assert_eq!(t.conn().config().user_timeout, None);
    t.conn().set_user_timeout(Some(Duration::from_secs(3)));
    assert_eq!(t.conn().config().user_timeout, Some(Duration::from_secs(3)));
    t.conn().write(b"lost").unwrap();
    let (sent, closed) = run_unanswered(&mut t, 100);
    assert!(sent.last().unwrap().flags.contains(vtcp_wire::Flags::RST));
    let given_up = closed - Duration::from_millis(10);
    assert!(
        given_up >= Duration::from_secs(3) && given_up < Duration::from_secs(7),
        "gave up {given_up:?} after the write"
    );
    assert!(t.events().contains(&Event::Closed(CloseReason::TimedOut)));
}

/// RFC 1122 §4.2.3.6 (MUST-24) on a live connection (`SO_KEEPALIVE`,
/// `Conn::set_keepalive`): turned on, an idle connection is probed `idle`
/// after the call and times out after `count` unanswered probes; turned
/// off again before the first probe, nothing goes.
#[test]
fn keepalive_turned_on_and_off_on_a_live_connection() {
    let mut t = established();
    let at = |ms| Duration::from_millis(ms);
    t.at(1_000).conn().set_keepalive(at(1_000), Some(KEEPALIVE));
    expect_keepalive_probes_then_timeout(&mut t, 1_000);

    let mut t = established();
    t.at(1_000).conn().set_keepalive(at(1_000), Some(KEEPALIVE));
    t.at(5_000).conn().set_keepalive(at(5_000), None);
    assert_eq!(t.conn().poll_timeout(), None, "no timer left");
    t.at(3_600_000).expect_none();
    assert_eq!(t.conn().state(), State::Established);
}

/// RFC 9293 §3.8.6.1 (MUST-66): with the receive window at zero, a RST at
/// RCV.NXT is still processed.
#[test]
fn a_rst_is_processed_with_the_receive_window_at_zero() {
    let mut t = receive_window_filled();
    t.at(20).recv("R 2001:2001(0) win 0");
    assert_eq!(t.conn().state(), State::Closed);
    assert!(t.events().contains(&Event::Closed(CloseReason::Reset)));
}

/// RFC 9293 §3.5.3 (SHLD-2): a RST may carry data (a diagnostic); it
/// resets all the same, and the data is not delivered.
#[test]
fn a_rst_carrying_data_resets() {
    let mut t = established();
    t.at(20)
        .recv("R. 1:21(20) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(t.conn().readable(), 0);
    assert!(t.events().contains(&Event::Closed(CloseReason::Reset)));
}

/// RFC 9293 §3.8.4 (MUST-25): keepalive is off unless asked for: an idle
/// connection runs no timer and sends nothing, for hours.
#[test]
fn keepalive_is_off_by_default() {
    let mut t = established();
    assert_eq!(t.conn().config().keepalive, None);
    assert_eq!(
        t.conn().poll_timeout(),
        None,
        "no timer on an idle connection"
    );
    t.at(3 * 3600 * 1000).expect_none();
    assert_eq!(t.conn().state(), State::Established);
}

/// RFC 9293 §3.8.6.1 (MUST-37): a receiver may keep its window at zero
/// for ever; while it answers the probes, the sender keeps probing, never
/// more than the maximum RTO apart, and never times out.
#[test]
fn a_zero_window_answered_for_ever_keeps_the_connection() {
    let mut t = established();
    t.at(20)
        .recv(". 1:1(0) ack 1 win 0 <nop,nop,TS val 120 ecr 0>");
    t.conn().write(b"hello").unwrap();
    t.expect_none();
    let mut probes: Vec<Duration> = Vec::new();
    let two_hours = Duration::from_secs(2 * 3600);
    for _ in 0..10_000 {
        if t.now >= two_hours {
            break;
        }
        let next = t.conn().poll_timeout().expect("a timer while probing");
        let ms = next.as_millis() as u64;
        t.at(ms);
        while let Some(bytes) = t.take() {
            let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
            assert_eq!(seg.data_len(), 1, "a one-octet probe: {seg}");
            probes.push(t.now);
        }
        // The window is still zero; the probe octet is not taken.
        let tsval = 120 + ms as u32;
        t.recv(&format!(
            ". 1:1(0) ack 1 win 0 <nop,nop,TS val {tsval} ecr 0>"
        ));
    }
    assert!(t.now >= two_hours, "{:?}", t.now);
    assert_eq!(t.conn().state(), State::Established);
    let widest = probes.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        widest <= Duration::from_secs(61),
        "{widest:?} between probes"
    );
    assert!(*probes.last().unwrap() + Duration::from_secs(61) >= two_hours);
}

/// MUST-17: Nagle can be turned off at any time; a short segment held for
/// an ACK goes at once.
#[test]
fn turning_nagle_off_sends_what_it_held() {
    let mut t = established();
    t.conn().write(b"first").unwrap();
    t.expect("P. 1:6(5) ack 1 win * <*>");
    t.conn().write(b"second").unwrap();
    t.expect_none();
    t.conn().set_nodelay(true);
    t.expect("P. 6:12(6) ack 1 win * <*>");
    t.conn().write(b"third").unwrap();
    t.expect("P. 12:17(5) ack 1 win * <*>");
    // And on again: the next short segment waits for the ACK.
    t.conn().set_nodelay(false);
    t.conn().write(b"fourth").unwrap();
    t.expect_none();
}

/// The regression of issue 21: after a cumulative ACK, three duplicate
/// ACKs whose SACK blocks cover the three segments above a hole. No
/// reordering was seen and DupThresh segments are SACKed, so RACK's
/// reordering window is zero (RFC 8985 §6.2 step 4) and the hole is lost
/// at once, as RFC 6675's IsLost says too: it goes again on the third
/// ACK, not a reordering window (a quarter of the 150 ms RTT) later.
#[test]
fn three_sacked_segments_above_a_hole_retransmit_it_at_once() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
    t.at(150)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 250 ecr 0>");
    t.conn().write(&vec![7u8; 20 * 1448]).unwrap();
    expect_initial_window(&mut t);
    // The first segment's ACK: two more go (slow start).
    t.at(300)
        .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 400 ecr 0>");
    t.expect(". 14481:15929(1448) ack 1 win * <*>")
        .expect(". 15929:17377(1448) ack 1 win * <*>")
        .expect_none();
    // The second segment is lost; the third, fourth and fifth arrive.
    for (i, right) in [4345u32, 5793, 7241].into_iter().enumerate() {
        t.at(301 + i as u64).recv(&format!(
            ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 2897:{right}>",
            401 + i
        ));
    }
    t.expect(". 1449:2897(1448) ack 1 win * <*>");
    assert_eq!(t.conn().stats().fast_recoveries, 1);
}

/// The size of each segment the latest super-segment stands for, and how
/// many (and the link is told to cut it only when there are several).
fn last_cut(t: &Trace) -> (usize, usize) {
    let w = t.last_written.expect("a segment was taken");
    assert_eq!(w.is_super(), w.segments > 1, "{w:?}");
    (w.segment_size, w.segments)
}

/// TSO: on a link that cuts super-segments, the initial window's ten
/// segments go as one of 14,480 octets to cut at 1448, without PSH (data
/// still waits); a short tail goes on its own, as it would after them.
#[test]
fn tso_sends_full_segments_as_one_super_segment_and_the_tail_alone() {
    let mut t = established();
    t.max_segment = 65_535;
    t.conn().write(&vec![7u8; 10 * 1448 + 500]).unwrap();
    t.expect(". 1:14481(14480) ack 1 win * <*>");
    assert_eq!(last_cut(&t), (1448, 10));
    t.expect_none();
    assert_eq!(
        t.conn().stats().segments_out,
        1 + 10,
        "the SYN-ACK, then each segment"
    );
    // Two segments acknowledged: slow start lets four go, the last
    // octets alone with PSH.
    t.at(20)
        .recv(". 1:1(0) ack 2897 win 1000 <nop,nop,TS val 120 ecr 0>");
    t.expect("P. 14481:14981(500) ack 1 win * <*>");
    assert_eq!(last_cut(&t), (500, 1));
    t.expect_none();
}

/// The link's limit caps a super-segment (header included); what is left
/// follows in the next.
#[test]
fn tso_super_segments_fit_the_link_s_limit() {
    let mut t = established();
    t.max_segment = 60 + 4 * 1448;
    t.conn().write(&vec![7u8; 10 * 1448]).unwrap();
    t.expect(". 1:5793(5792) ack 1 win * <*>");
    assert_eq!(last_cut(&t), (1448, 4));
    t.expect(". 5793:11585(5792) ack 1 win * <*>");
    t.expect("P. 11585:14481(2896) ack 1 win * <*>");
    assert_eq!(last_cut(&t), (1448, 2));
    t.expect_none();
}

/// A retransmission goes one segment at a time with TSO too; each
/// segment of a super-segment is in the scoreboard on its own, so SACK
/// blocks inside one find the hole (the second segment of the first
/// super-segment).
#[test]
fn tso_retransmits_a_hole_inside_a_super_segment_alone() {
    let mut t = Trace::passive(|_| {});
    t.max_segment = 65_535;
    t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
    t.at(150)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 250 ecr 0>");
    t.conn().write(&vec![7u8; 20 * 1448]).unwrap();
    t.expect(". 1:14481(14480) ack 1 win * <*>").expect_none();
    t.at(300)
        .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 400 ecr 0>");
    t.expect(". 14481:17377(2896) ack 1 win * <*>")
        .expect_none();
    assert_eq!(last_cut(&t), (1448, 2));
    for (i, right) in [4345u32, 5793, 7241].into_iter().enumerate() {
        t.at(301 + i as u64).recv(&format!(
            ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 2897:{right}>",
            401 + i
        ));
    }
    t.expect(". 1449:2897(1448) ack 1 win * <*>");
    assert_eq!(last_cut(&t), (1448, 1));
    assert_eq!(t.conn().stats().fast_recoveries, 1);
}

/// ICMP errors (`Conn::handle_icmp`), the connection's side: the error
/// and the quoted segment's sequence number, relative to our ISN.
mod icmp {
    use super::*;
    use vtcp_conn::{IcmpError, IcmpOutcome};
    use vtcp_seq::Seq;

    fn icmp(t: &mut Trace, error: IcmpError, seq: u32) -> IcmpOutcome {
        let now = t.now;
        let seq = Seq(trace::OUR_ISN.wrapping_add(seq));
        t.conn().handle_icmp(now, error, seq)
    }

    fn v4(icmp_type: u8, code: u8, rest: u32) -> IcmpError {
        IcmpError::from_icmpv4(icmp_type, code, rest).unwrap()
    }

    /// RFC 5927 §4.1: SND.UNA ≤ SEQ < SND.MAX, both edges; nothing in
    /// flight in TIME-WAIT.
    #[test]
    fn only_a_quote_of_a_sequence_number_in_flight_is_taken() {
        let mut t = established();
        t.conn().write(&[1; 100]).unwrap();
        t.expect("P. 1:101(100) ack 1 win * <*>");
        let host = v4(3, 1, 0);
        for seq in [0, 101, 1 << 31] {
            assert_eq!(icmp(&mut t, host, seq), IcmpOutcome::OutOfWindow, "{seq}");
        }
        assert_eq!(t.conn().icmp_error(), None);
        for seq in [1, 100] {
            assert_eq!(icmp(&mut t, host, seq), IcmpOutcome::SoftError, "{seq}");
        }
        assert_eq!(t.conn().icmp_error(), Some(host));
        assert_eq!(t.conn().state(), State::Established);
        t.expect_none();
        // Acknowledged: nothing in flight, nothing to be told about.
        t.at(20)
            .recv(". 1:1(0) ack 101 win 1000 <nop,nop,TS val 120 ecr 0>");
        assert_eq!(icmp(&mut t, host, 1), IcmpOutcome::OutOfWindow);
        assert_eq!(icmp(&mut t, host, 100), IcmpOutcome::OutOfWindow);
    }

    /// RFC 1191 §6.3: the MSS goes down and what was in flight goes again
    /// at once, from SND.UNA, in segments that fit; the window is not
    /// cut (no congestion response).
    #[test]
    fn a_smaller_path_mtu_resends_what_is_in_flight_at_once() {
        let mut t = established_6675();
        t.conn().write(&[1; 2896]).unwrap();
        t.expect(". 1:1449(1448) ack 1 win * <*>")
            .expect("P. 1449:2897(1448) ack 1 win * <*>")
            .expect_none();
        let ssthresh = t.conn().stats().ssthresh;
        t.at(15);
        // 1280 less 20 of IP, 20 of TCP, 12 of timestamps.
        assert_eq!(icmp(&mut t, v4(3, 4, 1280), 1449), IcmpOutcome::MssLowered);
        assert_eq!(t.conn().send_mss(), 1228);
        t.expect(". 1:1229(1228) ack 1 win * <*>")
            .expect(". 1229:2457(1228) ack 1 win * <*>")
            .expect("P. 2457:2897(440) ack 1 win * <*>")
            .expect_none();
        let stats = t.conn().stats();
        assert_eq!(stats.ssthresh, ssthresh);
        assert_eq!((stats.rtos, stats.fast_recoveries), (0, 0));
        // Not bigger again, and not below the floor of 64 octets.
        assert_eq!(icmp(&mut t, v4(3, 4, 1400), 1), IcmpOutcome::MssUnchanged);
        assert_eq!(icmp(&mut t, v4(3, 4, 68), 1), IcmpOutcome::MssLowered);
        assert_eq!(t.conn().send_mss(), 64);
        // No MTU (a router from before RFC 1191): nothing.
        assert_eq!(icmp(&mut t, v4(3, 4, 0), 1), IcmpOutcome::MssUnchanged);
    }

    /// RFC 5461 §4.1: a hard error about our SYN aborts the connection
    /// (`CloseReason::Unreachable`); with `icmp_hard_errors` off it is a
    /// soft error and the SYN goes again.
    #[test]
    fn a_hard_error_about_our_syn_aborts_unless_turned_off() {
        let mut t = Trace::active(|_| {});
        t.expect("S 0:0(0) win * <*>");
        let port = v4(3, 3, 0);
        assert_eq!(icmp(&mut t, port, 0), IcmpOutcome::Aborted);
        assert_eq!(t.conn().state(), State::Closed);
        assert_eq!(t.events(), vec![Event::Closed(CloseReason::Unreachable)]);
        assert_eq!(t.conn().icmp_error(), Some(port));
        // Closed: a later error is not taken, and the one it reports stays.
        assert_eq!(icmp(&mut t, v4(11, 0, 0), 0), IcmpOutcome::OutOfWindow);
        assert_eq!(t.conn().icmp_error(), Some(port));
        t.at(1000).expect_none();

        let mut t = Trace::active(|c| c.icmp_hard_errors = false);
        t.expect("S 0:0(0) win * <*>");
        assert_eq!(icmp(&mut t, port, 0), IcmpOutcome::SoftError);
        assert_eq!(t.conn().state(), State::SynSent);
        t.at(1000).expect("S 0:0(0) win * <*>");
    }

    /// In SYN-RECEIVED the peer's MSS is known and a path-MTU report
    /// lowers it, but only the SYN-ACK is in flight: nothing goes again
    /// before its own timer, and then the SYN-ACK as before.
    #[test]
    fn a_path_mtu_report_in_syn_received_leaves_the_syn_ack_to_its_timer() {
        let mut t = Trace::passive(|_| {});
        t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
        assert_eq!(icmp(&mut t, v4(3, 4, 1280), 0), IcmpOutcome::MssLowered);
        assert_eq!(t.conn().state(), State::SynReceived);
        t.at(999).expect_none();
        t.at(1000).expect(SYN_ACK).expect_none();
        t.at(1010)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        assert_eq!(t.conn().state(), State::Established);
        assert_eq!(t.conn().send_mss(), 1228);
    }
}

/// After a timeout, duplicate ACKs start no fast recovery until the ACKs
/// pass the highest octet sent before it (RFC 6582 §3.2 step 1, RFC 6675
/// §5.1), and count for no limited transmit (RFC 3042 sends previously
/// unsent data only): the timeout's go-back-N sends each segment once.
/// A SACK here used to start a fast recovery that sent the timeout's
/// retransmission again, and then NextSeg() and go-back-N each sent the
/// segments above it (the `conn_pair` fuzz target's input
/// `fuzz/regressions/conn_pair/sack-recovery-with-nothing-in-flight` came
/// this way; the window PRR then gave with nothing in flight is
/// `recovery::prr`'s unit test).
#[test]
fn after_a_timeout_sacks_start_no_fast_recovery_and_nothing_goes_twice() {
    let mut t = established_with(|c| {
        c.rack_tlp = false;
        c.congestion = vtcp_conn::Congestion::NewReno;
        c.nodelay = true;
    });
    t.conn().write(&[7; 30_000]).unwrap();
    expect_initial_window(&mut t);
    // Segments 4 and 5 arrive alone: limited transmit (RFC 3042).
    t.at(20)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0,nop,nop,sack 4345:7241>");
    t.expect(". 14481:15929(1448) ack 1 win * <*>")
        .expect_none();
    // The RTO: the first segment again, the scoreboard forgotten.
    t.at(210)
        .expect(". 1:1449(1448) ack 1 win * <*>")
        .expect_none();
    // Three segments SACKed above the hole, but below the highest octet
    // sent before the timeout: no fast retransmit, no limited transmit.
    t.at(230).recv(
        ". 1:1(0) ack 1 win 1000 <nop,nop,TS val 140 ecr 0,nop,nop,sack 14481:15929 4345:7241>",
    );
    t.expect_none();
    assert_eq!(t.conn().stats().fast_recoveries, 0);
    // The retransmission acknowledged (and the segment after it, which
    // was not lost): slow start from one segment, on from SND.NXT, each
    // segment once.
    t.at(250).recv(
        ". 1:1(0) ack 2897 win 1000 <nop,nop,TS val 160 ecr 0,nop,nop,sack 14481:15929 4345:7241>",
    );
    t.expect(". 2897:4345(1448) ack 1 win * <*>")
        .expect(". 4345:5793(1448) ack 1 win * <*>")
        .expect(". 5793:7241(1448) ack 1 win * <*>")
        .expect_none();
    assert_eq!(t.conn().stats().fast_recoveries, 0);
}

/// A peer whose whole window of data was lost numbers its pure ACKs at
/// our RCV.NXT + RCV.WND (its SND.NXT). RFC 9293's test refuses the
/// right edge; Linux and FreeBSD take it, and so do we: refused and
/// answered, two such peers traded ACKs for as long as the losses
/// lasted, at once on a link without delay (found by the `conn_pair` fuzz
/// target). A RST there stays outside (RFC 5961 §3.2).
#[test]
fn a_pure_ack_at_the_right_edge_of_the_window_is_taken() {
    let mut t = Trace::passive(|c| {
        c.recv_buffer = 4096;
        c.auto_tune = false;
    });
    t.at(0)
        .recv(SYN)
        .expect("S. 0:0(0) ack 1 win 4096 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 0>");
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    let edge = 1 + 4096;
    t.at(20).recv(&format!(
        ". {edge}:{edge}(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>"
    ));
    t.expect_none();
    assert_eq!(t.conn().stats().dropped, 0);
    // One octet further is outside: answered with an ACK, as before.
    let past = edge + 1;
    t.at(30).recv(&format!(
        ". {past}:{past}(0) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>"
    ));
    t.expect(". 1:1(0) ack 1 win * <*>");
    // A RST at the edge is outside too: no reset, a challenge at most.
    t.at(40).recv(&format!("R {edge}:{edge}(0) win 0"));
    assert_eq!(t.conn().state(), State::Established);
}

/// Behaviours no trace held before, each found by a mutant of the
/// engine that every other test let through (issue 25).
mod found_by_mutants {
    use super::*;
    use vtcp_conn::{Conn, ConnConfig, Endpoints, IsnSource};
    use vtcp_seq::Seq;

    /// RFC 7323 §5.5: TS.Recent is forgotten once it is *older* than 24
    /// days: exactly 24 days after it was set (the handshake's ACK, at
    /// 10 ms), a segment with an older TSval is still refused (PAWS,
    /// §5.3) and answered with an ACK; a millisecond later it is taken.
    #[test]
    fn paws_holds_a_timestamp_until_24_days_have_passed() {
        let mut t = established();
        let days = 24 * 24 * 3600 * 1000;
        t.at(10 + days)
            .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 50 ecr 0>");
        t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110>");
        assert_eq!(t.conn().readable(), 0);
        t.at(11 + days)
            .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 50 ecr 0>");
        assert_eq!(t.conn().readable(), 10);
    }

    /// RFC 6528 §3: F hashes both addresses as well as both ports: the
    /// same ports between other hosts give another ISN.
    #[test]
    fn isns_depend_on_both_addresses() {
        let key = IsnSource::Rfc6528 {
            key: *b"0123456789abcdef",
        };
        let iss = |local: [u8; 4], remote: [u8; 4]| {
            let ends =
                Endpoints::new(Some(local.into()), 40000, Some(remote.into()), 80).with_isn(key);
            Conn::connect(
                std::sync::Arc::new(ConnConfig::default()),
                ends,
                Duration::from_secs(100),
            )
            .iss()
        };
        let a = iss([198, 18, 0, 1], [198, 18, 0, 2]);
        assert_ne!(a, iss([198, 18, 0, 1], [198, 18, 0, 3]), "another peer");
        assert_ne!(
            a,
            iss([198, 18, 0, 4], [198, 18, 0, 2]),
            "another local host"
        );
        assert_eq!(a, iss([198, 18, 0, 1], [198, 18, 0, 2]), "the same four");
    }

    /// The same over IPv6 (sixteen octets of each address in F), and with
    /// no addresses given (the ports alone).
    #[test]
    fn isns_depend_on_ipv6_addresses_and_on_ports_alone() {
        let key = IsnSource::Rfc6528 {
            key: *b"0123456789abcdef",
        };
        let iss = |ends: Endpoints| {
            Conn::connect(
                std::sync::Arc::new(ConnConfig::default()),
                ends.with_isn(key),
                Duration::from_secs(100),
            )
            .iss()
        };
        let v6 = |local: &str, remote: &str| {
            iss(Endpoints::new(
                Some(local.parse().unwrap()),
                40000,
                Some(remote.parse().unwrap()),
                80,
            ))
        };
        let a = v6("fd00::1", "fd00::2");
        assert_ne!(a, v6("fd00::1", "fd00::3"), "another peer");
        assert_ne!(a, v6("fd00::4", "fd00::2"), "another local host");
        assert_eq!(a, v6("fd00::1", "fd00::2"), "the same four");
        let ports = iss(Endpoints::ports(40000, 80));
        assert_ne!(ports, iss(Endpoints::ports(40001, 80)), "another port");
        assert_eq!(ports, iss(Endpoints::ports(40000, 80)));
    }

    /// A connection reports the ports it was made with.
    #[test]
    fn a_connection_reports_its_ports() {
        let t = established();
        let c = t.conn.as_ref().unwrap();
        assert_eq!((c.local_port(), c.remote_port()), (8080, 40000));
    }

    /// `is_read_closed`: the peer's FIN arrived and every octet before it
    /// was read; neither alone.
    #[test]
    fn reading_is_over_once_the_fin_arrived_and_everything_was_read() {
        let mut t = established();
        assert!(!t.conn().is_read_closed(), "nothing to read, but no FIN");
        t.at(20)
            .recv("P. 1:11(10) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>")
            .recv("F. 11:11(0) ack 1 win 1000 <nop,nop,TS val 121 ecr 0>");
        assert!(!t.conn().is_read_closed(), "a FIN, but ten octets to read");
        assert_eq!(t.conn().consume(10), 10);
        assert!(t.conn().is_read_closed());
    }

    /// RFC 9293 §3.10.7.4 (eighth, the FIN bit): a FIN on a segment of
    /// data stands after its last octet: the ACK covers both, the data is
    /// readable, and the peer's side is closed.
    #[test]
    fn a_fin_on_data_closes_the_peer_s_side_after_the_data() {
        let mut t = established();
        t.events();
        t.at(20)
            .recv("FP. 1:11(10) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
        t.expect(". 1:1(0) ack 12 win * <nop,nop,TS val * ecr 120>");
        assert_eq!(t.conn().state(), State::CloseWait);
        assert_eq!(t.conn().readable(), 10);
        assert_eq!(t.events(), [Event::Readable, Event::PeerClosed]);
    }

    /// RFC 9293 §3.10.7.2: data on a SYN (without TFO) waits for the
    /// handshake; when the handshake ends it is the application's, and
    /// says so (`Readable`, after `Connected`).
    #[test]
    fn a_syn_s_data_is_readable_once_the_handshake_ends() {
        let mut t = Trace::passive(|_| {});
        t.at(0).recv("S 0:100(100) win 65535 <mss 1460>");
        t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
        assert_eq!(t.events(), []);
        t.at(10).recv(". 1:1(0) ack 1 win 65535");
        assert_eq!(t.events(), [Event::Connected, Event::Readable]);
        assert_eq!(t.conn().readable(), 100);
    }

    /// RFC 9293 §3.10.7.4: with RCV.WND zero no data is acceptable, even
    /// where the buffer has room the window has not offered yet (receiver
    /// SWS avoidance keeps it shut below an MSS): a probe's octet is
    /// answered with an ACK of RCV.NXT and a zero window, and not taken.
    #[test]
    fn a_probe_into_a_zero_window_is_not_taken_though_the_buffer_has_room() {
        let mut t = Trace::passive(|c| {
            c.recv_buffer = 4096;
            c.auto_tune = false;
        });
        t.at(0).recv("S 0:0(0) win 65535 <mss 1000>");
        t.expect("S. 0:0(0) ack 1 win 4096 <mss 1460>");
        t.at(5).recv(". 1:1(0) ack 1 win 8192");
        for i in 0..4u32 {
            t.at(10 + u64::from(i)).recv(&format!(
                ". {}:{}(1024) ack 1 win 8192",
                1 + i * 1024,
                1 + (i + 1) * 1024
            ));
        }
        t.expect(". 1:1(0) ack 4097 win 0").expect_none();
        let mut buf = [0u8; 100];
        assert_eq!(t.conn().read(&mut buf), 100);
        t.expect_none();
        t.at(20).recv(". 4097:4098(1) ack 1 win 8192");
        t.expect(". 1:1(0) ack 4097 win 0").expect_none();
        assert_eq!(t.conn().readable(), 3996);
    }

    /// RFC 9293 §3.10.7.4 (CLOSING): only the ACK of our FIN leads to
    /// TIME-WAIT; an ACK below it leaves the connection in CLOSING.
    #[test]
    fn closing_waits_for_the_ack_of_our_fin() {
        let mut t = established();
        t.conn().close();
        t.expect("F. 1:1(0) ack 1 win * <*>");
        t.at(20)
            .recv("F. 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
        t.expect(". 2:2(0) ack 2 win * <*>");
        assert_eq!(t.conn().state(), State::Closing);
        t.at(30)
            .recv(". 2:2(0) ack 1 win 1000 <nop,nop,TS val 130 ecr 0>");
        assert_eq!(t.conn().state(), State::Closing);
        t.at(40)
            .recv(". 2:2(0) ack 2 win 1000 <nop,nop,TS val 140 ecr 0>");
        assert_eq!(t.conn().state(), State::TimeWait);
    }

    /// RFC 6691, RFC 9293 §3.7.1: only the options we send count against
    /// the MSS: without SACK agreed, data held out of order leaves our
    /// segments whole (no SACK block will ride on them).
    #[test]
    fn without_sack_out_of_order_data_leaves_our_segments_whole() {
        let mut t = Trace::passive(|_| {});
        t.at(0)
            .recv("S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 100 ecr 0,nop,wscale 7>");
        t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,TS val * ecr 100,nop,wscale 3,nop,nop>");
        t.at(10)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        t.at(20)
            .recv("P. 101:201(100) ack 1 win 1000 <nop,nop,TS val 120 ecr 0>");
        t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110>");
        t.conn().write(&[1; 3000]).unwrap();
        t.expect(". 1:1449(1448) ack 1 win * <nop,nop,TS val * ecr 110>");
    }

    /// Without auto-tuning the send buffer is the size configured, all of
    /// it writable at once; with it, the room is twice the congestion
    /// window, at least `SEND_BUFFER_FLOOR`.
    #[test]
    fn the_whole_send_buffer_is_writable_without_auto_tuning() {
        for auto_tune in [false, true] {
            let mut t = established_with(|c| {
                c.send_buffer = 1 << 20;
                c.auto_tune = auto_tune;
            });
            let want = if auto_tune {
                vtcp_conn::SEND_BUFFER_FLOOR
            } else {
                1 << 20
            };
            assert_eq!(t.conn().writable(), want, "auto_tune {auto_tune}");
        }
    }

    /// RFC 9293 §3.10.7.4 (FIN-WAIT-1): once our FIN is acknowledged,
    /// SND.UNA is past it, at SND.NXT: nothing is in flight.
    #[test]
    fn snd_una_passes_our_fin_once_it_is_acknowledged() {
        let mut t = established();
        t.conn().write(b"bye").unwrap();
        t.conn().shutdown_write();
        t.expect("FP. 1:4(3) ack 1 win * <*>");
        t.at(20)
            .recv(". 1:1(0) ack 5 win 1000 <nop,nop,TS val 120 ecr 0>");
        assert_eq!(t.conn().state(), State::FinWait2);
        assert_eq!(t.conn().snd_una(), Seq(trace::OUR_ISN + 5));
        assert_eq!(t.conn().snd_una(), t.conn().snd_nxt());
        assert_eq!(t.conn().stats().bytes_in_flight, 0);
    }

    /// RFC 9293 §3.10.7.4: SND.WND is taken from a segment newer than the
    /// last update (SND.WL1, SND.WL2): an older segment arriving late
    /// (reordered), with the zero window it had then, changes nothing.
    #[test]
    fn a_late_older_segment_does_not_set_the_send_window() {
        let mut t = established();
        t.at(20)
            .recv("P. 101:201(100) ack 1 win 1000 <nop,nop,TS val 121 ecr 0>");
        t.expect(". 1:1(0) ack 1 win * <nop,nop,TS val * ecr 110,nop,nop,sack 101:201>");
        t.at(21)
            .recv("P. 1:101(100) ack 1 win 0 <nop,nop,TS val 120 ecr 0>");
        t.expect(". 1:1(0) ack 201 win * <*>");
        t.conn().write(&[1; 100]).unwrap();
        t.expect("P. 1:101(100) ack 201 win * <*>");
    }

    /// A SACK block reaching past what was sent does not describe our
    /// data (RFC 2018 §3; Linux's `tcp_is_sackblock_valid` refuses it
    /// too): it marks nothing, for the scoreboard or for RACK, and
    /// nothing goes again.
    #[test]
    fn a_sack_block_past_what_was_sent_marks_nothing() {
        let mut t = Trace::passive(|_| {});
        t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
        t.at(150)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 250 ecr 0>");
        t.conn().write(&vec![7u8; 20 * 1448]).unwrap();
        expect_initial_window(&mut t);
        t.at(300)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 400 ecr 0,nop,nop,sack 1449:20000>");
        // A duplicate ACK all the same (RFC 5681 §2): limited transmit
        // sends one new segment (RFC 3042), and nothing goes again.
        t.expect(". 14481:15929(1448) ack 1 win * <*>")
            .expect_none();
        let stats = t.conn().stats();
        assert_eq!((stats.retransmits, stats.fast_recoveries), (0, 0));
    }

    /// RFC 8985 §7: tail loss probes belong to RACK-TLP; without it a
    /// tail loss waits for the RTO (RFC 6298 §5): no probe at 2·SRTT,
    /// and no timer for one (the caller is woken for the RTO only).
    #[test]
    fn without_rack_tlp_no_tail_loss_probe_is_sent() {
        let mut t = established_6675();
        t.conn().write(&[1; 2 * 1448]).unwrap();
        t.expect(". 1:1449(1448) ack 1 win * <*>")
            .expect("P. 1449:2897(1448) ack 1 win * <*>")
            .expect_none();
        assert_eq!(t.conn().poll_timeout(), Some(Duration::from_millis(210)));
        t.at(209).expect_none();
        t.at(210)
            .expect(". 1:1449(1448) ack 1 win * <*>")
            .expect_none();
    }

    /// The second of 30 segments lost, on a 150 ms path: a RACK recovery
    /// begins at 303 ms with the fast retransmit, after the peer's SACKs
    /// of the third, fourth and fifth (the first two let a new segment
    /// out each, RFC 3042).
    fn in_rack_recovery() -> Trace {
        let mut t = Trace::passive(|_| {});
        t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
        t.at(150)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 250 ecr 0>");
        t.conn().write(&vec![7u8; 30 * 1448]).unwrap();
        expect_initial_window(&mut t);
        t.at(300)
            .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 400 ecr 0>");
        t.expect(". 14481:15929(1448) ack 1 win * <*>")
            .expect(". 15929:17377(1448) ack 1 win * <*>")
            .expect_none();
        sack_above_the_hole(&mut t, 0);
        t.expect(". 17377:18825(1448) ack 1 win * <*>")
            .expect_none();
        sack_above_the_hole(&mut t, 1);
        t.expect(". 18825:20273(1448) ack 1 win * <*>")
            .expect_none();
        sack_above_the_hole(&mut t, 2);
        t.expect(". 1449:2897(1448) ack 1 win * <*>").expect_none();
        t
    }

    /// At 301 + k ms, the SACK of the segments from the third to the
    /// (k + 3)th of [`in_rack_recovery`].
    fn sack_above_the_hole(t: &mut Trace, k: u32) {
        t.at(301 + u64::from(k)).recv(&format!(
            ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 2897:{}>",
            401 + k,
            4345 + k * 1448
        ));
    }

    /// RFC 9937 §6: in a RACK recovery, while pipe (RFC 6675's: in
    /// flight, less what is SACKed or lost) is above ssthresh, PRR sends
    /// ssthresh/RecoverFS of what was delivered. Here RecoverFS is 13,032
    /// (nine segments), ssthresh 9,412 (Cubic's β); each SACK delivers a
    /// segment, so new data goes on every other ACK after the fast
    /// retransmit, not on every one.
    #[test]
    fn prr_sends_in_proportion_while_pipe_is_above_ssthresh() {
        let mut t = in_rack_recovery();
        assert_eq!(t.conn().stats().ssthresh, 9412);
        // ceil(delivered · 9412 / 13032) − prr_out, one ACK after another:
        // 644, 1690, 1288, 2333, 1931 octets.
        for (k, sent) in [(3, None), (4, Some(20273)), (5, None), (6, Some(21721))] {
            sack_above_the_hole(&mut t, k);
            if let Some(seq) = sent {
                t.expect(&format!(". {seq}:{}(1448) ack 1 win * <*>", seq + 1448));
            }
            t.expect_none();
        }
        sack_above_the_hole(&mut t, 7);
        t.expect(". 23169:24617(1448) ack 1 win * <*>")
            .expect_none();
    }

    /// RFC 8985 §6.2 step 3: only a segment never sent again, delivered
    /// below RACK.fack, shows reordering. The fast retransmit of the
    /// second segment acknowledged (below the SACKed tenth) is the repair
    /// of a loss: the reordering window stays zero in the recovery, and
    /// the segments sent before one SACKed later, by more than RACK.rtt,
    /// are lost at once, not a quarter of min_RTT later.
    #[test]
    fn a_repaired_hole_is_not_reordering() {
        let mut t = in_rack_recovery();
        for k in 3..8 {
            sack_above_the_hole(&mut t, k);
            while t.take().is_some() {}
        }
        // The fast retransmit arrives: everything up to the tenth segment
        // is acknowledged. PRR lets a new segment go.
        t.at(453)
            .recv(". 1:1(0) ack 14481 win 1000 <nop,nop,TS val 553 ecr 0>");
        t.expect(". 24617:26065(1448) ack 1 win * <*>")
            .expect_none();
        // The twelfth segment and one sent at 305 ms are SACKed: the
        // eleventh, thirteenth and fourteenth (sent at 300 to 302 ms) are
        // lost.
        t.at(454).recv(
            ". 1:1(0) ack 14481 win 1000 <nop,nop,TS val 554 ecr 0,nop,nop,sack 20273:21721 15929:17377>",
        );
        t.expect(". 14481:15929(1448) ack 1 win * <*>")
            .expect(". 17377:18825(1448) ack 1 win * <*>")
            .expect(". 18825:20273(1448) ack 1 win * <*>")
            .expect_none();
    }

    /// RFC 6675 §2: with SACK, a duplicate ACK SACKs data not SACKed
    /// before; one that only changes the window, repeating the blocks
    /// already taken, is not one, for limited transmit (RFC 3042) or for
    /// DupThresh.
    #[test]
    fn a_window_update_repeating_old_sack_blocks_is_no_duplicate_ack() {
        let mut t = established_6675();
        t.conn().write(&vec![7u8; 20 * 1448]).unwrap();
        expect_initial_window(&mut t);
        t.at(20)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 120 ecr 0,nop,nop,sack 1449:2897>");
        t.expect(". 14481:15929(1448) ack 1 win * <*>")
            .expect_none();
        t.at(21)
            .recv(". 1:1(0) ack 1 win 2000 <nop,nop,TS val 121 ecr 0,nop,nop,sack 1449:2897>");
        t.expect_none();
        t.at(22)
            .recv(". 1:1(0) ack 1 win 2000 <nop,nop,TS val 122 ecr 0,nop,nop,sack 1449:4345>");
        t.expect(". 15929:17377(1448) ack 1 win * <*>")
            .expect_none();
        assert_eq!(t.conn().stats().fast_recoveries, 0);
        t.at(23)
            .recv(". 1:1(0) ack 1 win 2000 <nop,nop,TS val 123 ecr 0,nop,nop,sack 1449:5793>");
        t.expect(". 1:1449(1448) ack 1 win * <*>");
        assert_eq!(t.conn().stats().fast_recoveries, 1);
    }

    /// RFC 6675 alone repairs a lost retransmission only by timeout;
    /// vtcp, as Linux did before RACK, takes it as lost once SACKs cover
    /// more than DupThresh − 1 segments sent after it (IsLost's reasoning
    /// in the order of sending), and sends it again. Here the first
    /// segment is lost twice: its fast retransmit goes at 22 ms with
    /// SND.MAX at the end of the twelfth; the SACKs of the thirteenth and
    /// fourteenth are not enough, the fifteenth's is.
    #[test]
    fn a_retransmission_is_lost_once_three_segments_sent_after_it_are_sacked() {
        let mut t = established_6675();
        t.conn().write(&vec![7u8; 40 * 1448]).unwrap();
        expect_initial_window(&mut t);
        let sack_to = |t: &mut Trace, n: u32| {
            t.at(18 + u64::from(n)).recv(&format!(
                ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 1449:{}>",
                118 + n,
                1 + n * 1448
            ));
        };
        sack_to(&mut t, 2);
        t.expect(". 14481:15929(1448) ack 1 win * <*>")
            .expect_none();
        sack_to(&mut t, 3);
        t.expect(". 15929:17377(1448) ack 1 win * <*>")
            .expect_none();
        sack_to(&mut t, 4);
        t.expect(". 1:1449(1448) ack 1 win * <*>").expect_none();
        // PRR's new data as the SACKs of the fifth to the twelfth come.
        for n in 5..=12 {
            sack_to(&mut t, n);
            while t.take().is_some() {}
        }
        sack_to(&mut t, 13);
        t.expect(". 24617:26065(1448) ack 1 win * <*>")
            .expect_none();
        sack_to(&mut t, 14);
        t.expect(". 26065:27513(1448) ack 1 win * <*>")
            .expect_none();
        assert_eq!(t.conn().stats().lost_retransmits, 0);
        sack_to(&mut t, 15);
        t.expect(". 1:1449(1448) ack 1 win * <*>")
            .expect(". 27513:28961(1448) ack 1 win * <*>")
            .expect_none();
        assert_eq!(t.conn().stats().lost_retransmits, 1);
    }

    /// RFC 5681 §3.1 (eq. 4 for the first timeout only), RFC 6298 §5.5:
    /// the same segment timing out again puts the window back to one
    /// segment and leaves ssthresh where the first put it. The SACKs
    /// between start no fast recovery (RFC 6582 §3.2 step 1: not before
    /// the ACKs pass the highest octet sent before the timeout).
    #[test]
    fn a_second_timeout_puts_the_window_back_to_one_segment() {
        let mut t = established_with(|c| {
            c.rack_tlp = false;
            c.congestion = vtcp_conn::Congestion::NewReno;
        });
        t.conn().write(&[7; 30_000]).unwrap();
        expect_initial_window(&mut t);
        t.at(210)
            .expect(". 1:1449(1448) ack 1 win * <*>")
            .expect_none();
        let ssthresh = t.conn().stats().ssthresh;
        t.at(230)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 140 ecr 0,nop,nop,sack 4345:7241>");
        t.at(231)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 141 ecr 0,nop,nop,sack 4345:8689>");
        t.at(232)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 142 ecr 0,nop,nop,sack 4345:10137>");
        t.expect_none();
        assert_eq!(t.conn().stats().fast_recoveries, 0);
        // The second timeout (the RTO doubled): one segment.
        t.at(610)
            .expect(". 1:1449(1448) ack 1 win * <*>")
            .expect_none();
        let stats = t.conn().stats();
        assert_eq!((stats.rtos, stats.cwnd), (2, 1448));
        assert_eq!(stats.ssthresh, ssthresh);
    }

    /// RFC 8985 §7.4: a probe that sent the last segment again, and whose
    /// ACK carries no D-SACK, repaired a loss: the congestion response a
    /// fast recovery would have made follows (ssthresh comes down from
    /// its initial infinity). The episode is then over, and the next tail
    /// gets a probe of its own.
    #[test]
    fn a_probe_that_repaired_a_loss_reduces_the_window_and_ends() {
        let mut t = established();
        t.conn().write(&[1; 1448 * 2]).unwrap();
        t.expect(". 1:1449(1448) ack 1 win * <*>")
            .expect("P. 1449:2897(1448) ack 1 win * <*>")
            .expect_none();
        t.at(30)
            .expect("P. 1449:2897(1448) ack 1 win * <*>")
            .expect_none();
        assert_eq!(t.conn().stats().ssthresh, u32::MAX);
        t.at(40)
            .recv(". 1:1(0) ack 2897 win 1000 <nop,nop,TS val 140 ecr 0>");
        assert!(t.conn().stats().ssthresh < u32::MAX);
        t.conn().write(&[2; 1448 * 2]).unwrap();
        t.expect(". 2897:4345(1448) ack 1 win * <*>")
            .expect("P. 4345:5793(1448) ack 1 win * <*>")
            .expect_none();
        let probe = t.conn().poll_timeout().unwrap().as_millis() as u64;
        assert!(probe < 200, "a probe at {probe} ms, before the RTO");
        t.at(probe)
            .expect("P. 4345:5793(1448) ack 1 win * <*>")
            .expect_none();
        assert_eq!(t.conn().stats().tlp_probes, 2);
    }

    /// RFC 2018 §8, RFC 6675 §5.1: SACK information is advisory, and a
    /// timeout forgets it all, RACK's marks included: a peer that SACKed
    /// the second to fifth segments and then dropped them (reneging)
    /// leaves them to be sent again and their loss found by RACK as any
    /// other's. Here, after the timeout and the first segment's ACK, the
    /// second is lost again: the SACK of the third, sent with it, marks it
    /// lost a reordering window (a quarter of min_RTT) after RACK.rtt.
    #[test]
    fn a_timeout_forgets_what_was_sacked_for_rack_too() {
        let mut t = Trace::passive(|_| {});
        t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
        t.at(150)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 250 ecr 0>");
        t.conn().write(&vec![7u8; 20 * 1448]).unwrap();
        expect_initial_window(&mut t);
        t.at(300)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 400 ecr 0,nop,nop,sack 1449:7241>");
        t.expect(". 1:1449(1448) ack 1 win * <*>").expect_none();
        // The fast retransmit is lost too: the RTO, 300 ms later.
        t.at(600)
            .expect(". 1:1449(1448) ack 1 win * <*>")
            .expect_none();
        // Its ACK, without the blocks: the peer dropped what it had SACKed.
        t.at(750)
            .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 850 ecr 0>");
        t.expect(". 1449:2897(1448) ack 1 win * <*>")
            .expect(". 2897:4345(1448) ack 1 win * <*>")
            .expect_none();
        // No limited transmit while the timeout's go-back-N is under way
        // (RFC 3042 sends only data never sent).
        t.at(900)
            .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 1000 ecr 0,nop,nop,sack 2897:4345>");
        t.expect_none();
        // 750 + RACK.rtt (150) + 37.5 ms.
        t.at(937).expect_none();
        t.at(938)
            .expect(". 1449:2897(1448) ack 1 win * <*>")
            .expect_none();
        assert_eq!(t.conn().stats().rtos, 1);
    }

    /// draft-ietf-ccwg-bbr §5.6.3: a paced sender sends up to its send
    /// quantum at once. BBR's quantum is a millisecond at the pacing
    /// rate (40,109 octets at its first rate, 40.1 MB/s): the initial
    /// window, ten segments, goes as one super-segment on a link that
    /// cuts them, at once, and the pacer spaces what follows.
    #[test]
    fn a_paced_sender_sends_its_send_quantum_at_once() {
        let mut t = established_with(|c| c.congestion = vtcp_conn::Congestion::Bbr);
        t.max_segment = 65_535;
        assert_eq!(t.conn().stats().pacing_rate, Some(40_109_600));
        t.conn().write(&vec![7u8; 20 * 1448]).unwrap();
        t.expect(". 1:14481(14480) ack 1 win * <*>").expect_none();
        assert_eq!(last_cut(&t), (1448, 10));
    }

    /// RFC 7413 §4.2.2 is the server's: `accept_fast_open` serves a
    /// connection a listener made from a SYN. On an active open that a
    /// simultaneous open took to SYN-RECEIVED it does nothing: the peer's
    /// SYN data waits for the handshake (RFC 9293 §3.10.7.2) and the
    /// SYN-ACK carries no cookie.
    #[test]
    fn accepting_fast_open_does_nothing_to_an_active_open() {
        let mut t = Trace::active(|_| {});
        t.expect("S 0:0(0) win * <*>");
        t.at(5)
            .recv("S 0:100(100) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
        assert_eq!(t.conn().state(), State::SynReceived);
        let cookie = vtcp_wire::FastOpenCookie::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        t.conn().accept_fast_open(Some(cookie), true);
        assert_eq!(t.conn().readable(), 0);
        t.expect("S. 0:0(0) ack 1 win * <mss 1460,sackOK,TS val * ecr 100,nop,wscale 3>")
            .expect_none();
    }

    /// The hop limit and the traffic class a connection gives the IP
    /// layer: the configuration's, then what their setters say.
    #[test]
    fn the_hop_limit_and_traffic_class_are_the_configured_ones() {
        let mut t = established_with(|c| {
            c.hop_limit = Some(9);
            c.traffic_class = 0x20;
        });
        assert_eq!(
            (t.conn().hop_limit(), t.conn().traffic_class()),
            (Some(9), 0x20)
        );
        t.conn().set_hop_limit(Some(64));
        t.conn().set_traffic_class(0xb8);
        assert_eq!(
            (t.conn().hop_limit(), t.conn().traffic_class()),
            (Some(64), 0xb8)
        );
    }

    /// RFC 1191 §6.3 in SYN-RECEIVED: a smaller path MTU lowers the MSS
    /// but sends nothing again (only the SYN-ACK is in flight, on its own
    /// timer), and the handshake goes on: the peer's ACK of that SYN-ACK
    /// completes it, timed as the handshake's RTT.
    #[test]
    fn a_path_mtu_report_in_syn_received_leaves_the_handshake_as_it_was() {
        use vtcp_conn::{IcmpError, IcmpOutcome};
        let mut t = Trace::passive(|_| {});
        t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
        let ptb = IcmpError::from_icmpv4(3, 4, 1280).unwrap();
        let iss = t.conn().iss();
        assert_eq!(
            t.conn().handle_icmp(Duration::from_millis(5), ptb, iss),
            IcmpOutcome::MssLowered
        );
        t.expect_none();
        t.at(10)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        t.expect_none();
        assert_eq!(t.conn().state(), State::Established);
        assert_eq!(t.conn().stats().srtt, Some(Duration::from_millis(10)));
    }

    /// RFC 9293 §3.8.6.2.2: reading announces the window once it grew by
    /// min(half the buffer, an MSS): with a buffer of 2,000 octets and an
    /// MSS of 1,460, reading 999 octets of a full buffer says nothing,
    /// reading the thousandth sends the update.
    #[test]
    fn reading_half_a_small_buffer_announces_the_window() {
        let mut t = Trace::passive(|c| {
            c.recv_buffer = 2000;
            c.auto_tune = false;
        });
        t.at(0).recv("S 0:0(0) win 65535 <mss 1460>");
        t.expect("S. 0:0(0) ack 1 win 2000 <mss 1460>");
        t.at(5).recv(". 1:1(0) ack 1 win 8192");
        t.at(10)
            .recv(". 1:1001(1000) ack 1 win 8192")
            .recv(". 1001:2001(1000) ack 1 win 8192");
        t.expect(". 1:1(0) ack 2001 win 0").expect_none();
        let mut buf = [0u8; 1000];
        assert_eq!(t.conn().read(&mut buf[..999]), 999);
        t.expect_none();
        assert_eq!(t.conn().read(&mut buf[..1]), 1);
        t.expect(". 1:1(0) ack 2001 win 1000").expect_none();
    }

    /// RFC 6298 §2.2: the handshake gives the first RTT measurement R, once
    /// (the SYN timed, or its timestamp echoed, not both): SRTT = R,
    /// RTTVAR = R/2, on both sides.
    #[test]
    fn the_handshake_s_rtt_is_one_sample() {
        let mut t = Trace::active(|_| {});
        t.expect("S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>");
        let tsval = t.last_tsval.unwrap();
        t.at(20).recv(&format!(
            "S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 500 ecr {tsval},nop,wscale 7>"
        ));
        let stats = t.conn().stats();
        assert_eq!(
            (stats.srtt, stats.rttvar),
            (Some(Duration::from_millis(20)), Duration::from_millis(10))
        );
        let mut t = Trace::passive(|_| {});
        t.at(0).recv(SYN).expect(SYN_ACK);
        let tsval = t.last_tsval.unwrap();
        t.at(10).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr {tsval}>"
        ));
        let stats = t.conn().stats();
        assert_eq!(
            (stats.srtt, stats.rttvar),
            (Some(Duration::from_millis(10)), Duration::from_millis(5))
        );
    }

    /// Data on a SYN that the receive buffer has no room for (a buffer of
    /// zero octets) is not taken when the handshake ends, and no
    /// `Readable` says otherwise.
    #[test]
    fn a_syn_s_data_without_room_is_not_readable() {
        let mut t = Trace::passive(|c| {
            c.recv_buffer = 0;
            c.auto_tune = false;
        });
        t.at(0).recv("S 0:100(100) win 65535 <mss 1460>");
        t.expect("S. 0:0(0) ack 1 win 0 <mss 1460>");
        t.at(10).recv(". 1:1(0) ack 1 win 65535");
        assert_eq!(t.events(), [Event::Connected]);
        assert_eq!(t.conn().readable(), 0);
    }

    /// `accept_unadvertised_room` (FreeBSD's RCV.WND, the buffer's room)
    /// does not reach a passive open's SYN-RECEIVED, FreeBSD's syncache,
    /// which knows only the window it advertised: a RST at RCV.NXT +
    /// 65,600 is outside it there, dropped silently (RFC 5961 §3.2).
    #[test]
    fn the_buffer_s_room_does_not_count_in_a_passive_syn_received() {
        let mut t = Trace::passive(|c| {
            c.timestamps = false;
            c.initial_recv_window = 65_700;
            c.accept_unadvertised_room = true;
        });
        t.at(0).recv("S 0:0(0) win 65535 <mss 1460>");
        t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
        t.at(10).recv("R 65600:65600(0) win 0");
        t.expect_none();
        assert_eq!(t.conn().state(), State::SynReceived);
    }

    /// RFC 8985 §7.3: with no new data, the probe sends the last segment
    /// not SACKed again; it carries the FIN only when it ends where the
    /// FIN stands. Here the last segment, FIN and all, was SACKed: the
    /// probe is the second segment, without a FIN.
    #[test]
    fn a_probe_of_a_segment_before_the_fin_carries_no_fin() {
        let mut t = established();
        t.conn().write(&[1; 1448 * 3]).unwrap();
        t.conn().close();
        t.expect(". 1:1449(1448) ack 1 win * <*>")
            .expect(". 1449:2897(1448) ack 1 win * <*>")
            .expect("FP. 2897:4345(1448) ack 1 win * <*>")
            .expect_none();
        t.at(29)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 129 ecr 0,nop,nop,sack 2897:4345>");
        t.expect_none();
        // PTO = 2·SRTT = 20 ms after the send at 10 ms, before RACK's
        // reordering window has passed.
        t.at(30)
            .expect(". 1449:2897(1448) ack 1 win * <*>")
            .expect_none();
        assert_eq!(t.conn().stats().tlp_probes, 1);
    }

    /// Data in the window that the buffer has no room for is dropped and
    /// answered at once (RFC 9293 §3.10.7.4: the sender learns the
    /// window it may use), not left to the delayed ACK. The window can
    /// offer a few octets past the buffer: the scale's granularity
    /// (RFC 7323 §2.4, shift 2 here) rounds the field up rather than
    /// pull the right edge left, after RCV.NXT moved by one octet.
    #[test]
    fn data_the_buffer_has_no_room_for_is_answered_at_once() {
        let mut t = Trace::passive(|c| {
            c.recv_buffer = 131_072;
            c.auto_tune = false;
            c.timestamps = false;
        });
        t.at(0).recv("S 0:0(0) win 65535 <mss 1460,nop,wscale 7>");
        t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 2>");
        t.at(5).recv(". 1:1(0) ack 1 win 8192");
        // The buffer's end, 131,073, is the window's right edge; one
        // octet more, and the rounded field puts it one octet past.
        t.at(10).recv(". 1:60001(60000) ack 1 win 8192");
        t.expect(". 1:1(0) ack 60001 win 17768").expect_none();
        t.at(11).recv(". 60001:60002(1) ack 1 win 8192");
        t.at(51)
            .expect(". 1:1(0) ack 60002 win 17768")
            .expect_none();
        t.at(110).recv(". 60002:131073(71071) ack 1 win 8192");
        t.expect(". 1:1(0) ack 131073 win 1").expect_none();
        // The buffer is full: the octet offered past it is not taken, and
        // nothing new is readable.
        t.events();
        t.at(120).recv(". 131073:131074(1) ack 1 win 8192");
        t.expect(". 1:1(0) ack 131073 win 1").expect_none();
        assert_eq!(t.conn().readable(), 131_072);
        assert_eq!(t.events(), []);
    }

    /// RFC 6298 §5.1: a segment sent, retransmissions included, starts the
    /// retransmission timer only when it is not running: a fast
    /// retransmit leaves the RTO where the first flight put it (200 ms
    /// after 10 ms), it does not put it off.
    #[test]
    fn a_fast_retransmit_leaves_the_running_rto_as_it_was() {
        let mut t = established_6675();
        t.conn().write(&vec![7u8; 10 * 1448]).unwrap();
        while t.take().is_some() {}
        assert_eq!(t.conn().poll_timeout(), Some(Duration::from_millis(210)));
        for (k, right) in [2897u32, 4345, 5793].into_iter().enumerate() {
            t.at(20 + k as u64).recv(&format!(
                ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 1449:{right}>",
                120 + k
            ));
        }
        t.expect(". 1:1449(1448) ack 1 win * <*>").expect_none();
        assert_eq!(t.conn().poll_timeout(), Some(Duration::from_millis(210)));
        t.at(210).expect(". 1:1449(1448) ack 1 win * <*>");
        assert_eq!(t.conn().stats().rtos, 1);
    }

    /// RFC 5681 §3.1: in congestion avoidance, a sender that fills its
    /// window (held back by it, RFC 7661 §4.1) grows it by one SMSS a
    /// round trip. A fast recovery (NewReno) sets cwnd to ssthresh, six
    /// segments; each round the peer acknowledges all that was sent, and
    /// the next round sends one segment more: one at a time, or (TSO) as
    /// one super-segment, after which no room is left at all.
    #[test]
    fn a_window_limited_sender_grows_its_window_a_segment_a_round_trip() {
        for tso in [false, true] {
            let mut t = established_with(|c| {
                c.rack_tlp = false;
                c.congestion = vtcp_conn::Congestion::NewReno;
            });
            t.conn().write(&vec![7u8; 200 * 1448]).unwrap();
            expect_initial_window(&mut t);
            // Limited transmit's two segments, then the fast retransmit.
            for (k, (right, sent)) in [(2897u32, 14481u32), (4345, 15929), (5793, 1)]
                .into_iter()
                .enumerate()
            {
                t.at(20 + k as u64).recv(&format!(
                    ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 1449:{right}>",
                    120 + k
                ));
                t.expect(&format!(". {sent}:{}(1448) ack 1 win * <*>", sent + 1448))
                    .expect_none();
            }
            assert_eq!(t.conn().stats().ssthresh, 6 * 1448);
            if tso {
                t.max_segment = 65_535;
            }
            let mut sent_to = 17377u32;
            for round in 0..5u32 {
                t.at(30 + 10 * u64::from(round)).recv(&format!(
                    ". 1:1(0) ack {sent_to} win 1000 <nop,nop,TS val {} ecr 0>",
                    130 + round
                ));
                let segments = 6 + round;
                let pieces = if tso {
                    [segments * 1448].to_vec()
                } else {
                    vec![1448; segments as usize]
                };
                for len in pieces {
                    t.expect(&format!(
                        ". {sent_to}:{}({len}) ack 1 win * <*>",
                        sent_to + len
                    ));
                    sent_to += len;
                }
                t.expect_none();
                assert_eq!(
                    t.conn().stats().cwnd,
                    segments * 1448,
                    "round {round}, TSO {tso}"
                );
            }
        }
    }

    /// RFC 9293 §3.8.6.2.1, sender SWS avoidance: a segment shorter than
    /// the MSS goes when it is at least half the largest window the peer
    /// offered. A peer offering 1,000 octets (below our MSS) gets them at
    /// once, of a longer write, not after the override timeout.
    #[test]
    fn half_the_largest_window_offered_is_worth_sending() {
        let mut t = Trace::passive(|_| {});
        t.at(0).recv("S 0:0(0) win 1000 <mss 1460>");
        t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
        t.at(5).recv(". 1:1(0) ack 1 win 1000");
        t.conn().write(&[1; 3000]).unwrap();
        t.expect(". 1:1001(1000) ack 1 win *").expect_none();
    }

    /// RFC 9293 §3.7.1 (MUST-15): an IPv4 peer reached through an
    /// IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2) is an IPv4 peer: 536
    /// octets without an MSS option, not IPv6's 1220.
    #[test]
    fn an_ipv4_mapped_peer_without_an_mss_option_gets_536() {
        let mut t = Trace::passive(|_| {});
        t.ends.remote_addr = Some("::ffff:198.18.0.2".parse().unwrap());
        t.at(0)
            .recv("S 0:0(0) win 65535 <sackOK,TS val 100 ecr 0,nop,wscale 7>");
        t.expect(SYN_ACK);
        t.at(10)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        assert_eq!(t.conn().send_mss(), 536 - 12);
    }

    /// Delivery rates are measured for a controller that paces (BBR), and
    /// `Stats::delivery_rate` reports the latest; the others do not pay
    /// for them, and report none.
    #[test]
    fn only_a_pacing_controller_reports_a_delivery_rate() {
        for (congestion, measured) in [
            (vtcp_conn::Congestion::Cubic, false),
            (vtcp_conn::Congestion::Bbr, true),
        ] {
            let name = format!("{congestion:?}");
            let mut t = established_with(|c| c.congestion = congestion);
            t.conn().write(&[1; 1448 * 2]).unwrap();
            while t.take().is_some() {}
            t.at(30)
                .recv(". 1:1(0) ack 2897 win 1000 <nop,nop,TS val 130 ecr 0>");
            let rate = t.conn().stats().delivery_rate;
            // Two segments delivered 20 ms after they went: 144,800 octets
            // a second.
            let want = measured.then_some(2 * 1448 * 1000 / 20);
            assert_eq!(rate, want, "{name}");
        }
    }

    /// RFC 5681 §2 (a): a duplicate ACK needs data outstanding. With
    /// nothing in flight, ACKs that repeat SND.UNA with a D-SACK block
    /// (RFC 2883: the peer got a segment twice) are not duplicates:
    /// three of them start no fast recovery.
    #[test]
    fn with_nothing_in_flight_there_are_no_duplicate_acks() {
        let mut t = established_6675();
        t.conn().write(&[1; 100]).unwrap();
        t.expect("P. 1:101(100) ack 1 win * <*>");
        t.at(20)
            .recv(". 1:1(0) ack 101 win 1000 <nop,nop,TS val 120 ecr 0>");
        for k in 0..3u32 {
            t.at(30 + u64::from(k)).recv(&format!(
                ". 1:1(0) ack 101 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 1:101>",
                130 + k
            ));
        }
        t.expect_none();
        let stats = t.conn().stats();
        assert_eq!((stats.fast_recoveries, stats.ssthresh), (0, u32::MAX));
    }

    /// The delivery-rate sample of an ACK counts what it SACKed as well as
    /// what it acknowledged (draft-cheng-iccrg-delivery-rate-estimation
    /// §3.3: C.delivered): the second segment lost, the SACK of the third
    /// is a sample of its own.
    #[test]
    fn a_sack_gives_a_delivery_rate_sample() {
        let mut t = established_with(|c| c.congestion = vtcp_conn::Congestion::Bbr);
        t.conn().write(&[1; 1448 * 3]).unwrap();
        while t.take().is_some() {}
        t.at(30)
            .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 130 ecr 0>");
        let first = t.conn().stats().delivery_rate;
        t.at(31)
            .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 131 ecr 0,nop,nop,sack 2897:4345>");
        let second = t.conn().stats().delivery_rate;
        assert_eq!((first, second), (Some(72_400), Some(2 * 1448 * 1000 / 21)));
    }

    /// RFC 8985 §6.2 step 2: RACK.segment is the most recently *sent* of
    /// what an ACK delivers, whatever the order of its SACK blocks. Here
    /// one ACK SACKs the tenth segment (sent at 150 ms, late) and then
    /// the twelfth (sent at 300 ms): RACK goes by the twelfth, so the
    /// ninth, sent 152 ms before it was delivered, is lost at once; by the
    /// tenth it would wait for the reordering timer.
    #[test]
    fn rack_goes_by_the_segment_sent_last_of_those_delivered() {
        let mut t = Trace::passive(|_| {});
        t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
        t.at(150)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 250 ecr 0>");
        t.conn().write(&vec![7u8; 30 * 1448]).unwrap();
        expect_initial_window(&mut t);
        t.at(300)
            .recv(". 1:1(0) ack 11585 win 1000 <nop,nop,TS val 400 ecr 0>");
        while t.take().is_some() {}
        t.at(452).recv(
            ". 1:1(0) ack 11585 win 1000 <nop,nop,TS val 552 ecr 0,nop,nop,sack 13033:14481 15929:17377>",
        );
        t.expect(". 11585:13033(1448) ack 1 win * <*>");
        assert_eq!(t.conn().stats().fast_recoveries, 1);
    }

    /// draft-cheng-iccrg-delivery-rate-estimation §3.3: an ACK that
    /// delivers nothing (here a window update while data is in flight)
    /// and finds nothing lost gives no sample: the latest rate stands.
    #[test]
    fn an_ack_that_delivers_nothing_gives_no_rate_sample() {
        let mut t = established_with(|c| c.congestion = vtcp_conn::Congestion::Bbr);
        t.conn().write(&[1; 1448 * 2]).unwrap();
        while t.take().is_some() {}
        t.at(30)
            .recv(". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 130 ecr 0>");
        let rate = t.conn().stats().delivery_rate;
        assert_eq!(rate, Some(72_400));
        t.at(35)
            .recv(". 1:1(0) ack 1449 win 2000 <nop,nop,TS val 135 ecr 0>");
        assert_eq!(t.conn().stats().delivery_rate, rate);
    }

    /// A connection's `Debug` names its state, its ports and where its
    /// sequence numbers stand.
    #[test]
    fn a_connection_s_debug_shows_its_state_and_ports() {
        let t = established();
        let shown = format!("{:?}", t.conn.as_ref().unwrap());
        for part in [
            "Conn {",
            "state: Established",
            "ports: (8080, 40000)",
            "snd_una",
            "snd_nxt",
            "rcv_nxt",
        ] {
            assert!(shown.contains(part), "{part} in {shown}");
        }
    }

    /// RFC 5681 §3.2 without SACK: duplicate ACKs (SND.UNA repeated, no
    /// data, the same window, data outstanding) let a new segment out on
    /// the first two (RFC 3042), the third sends the first segment again,
    /// and each one after inflates the window (step 4).
    #[test]
    fn three_duplicate_acks_without_sack_retransmit() {
        let mut t = Trace::passive(|_| {});
        t.at(0)
            .recv("S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 100 ecr 0,nop,wscale 7>");
        t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,TS val * ecr 100,nop,wscale 3,nop,nop>");
        t.at(10)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        t.conn().write(&vec![7u8; 20 * 1448]).unwrap();
        expect_initial_window(&mut t);
        for (k, sent) in [(0u64, 14481u32), (1, 15929), (2, 1)] {
            t.at(20 + k).recv(&format!(
                ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0>",
                120 + k
            ));
            t.expect(&format!(". {sent}:{}(1448) ack 1 win * <*>", sent + 1448))
                .expect_none();
        }
        assert_eq!(t.conn().stats().fast_recoveries, 1);
        // Step 4: each further duplicate ACK inflates the window by SMSS
        // (a segment left the network).
        let cwnd = t.conn().stats().cwnd;
        for k in 3..5u32 {
            t.at(20 + u64::from(k)).recv(&format!(
                ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0>",
                120 + k
            ));
            while t.take().is_some() {}
            assert_eq!(t.conn().stats().cwnd, cwnd + (k - 2) * 1448);
        }
    }

    /// RFC 6582 §3.2 step 5 (NewReno, no SACK): a partial ACK sends the
    /// next hole again; when all the data is acknowledged and only the
    /// FIN is not, the hole is the FIN, which goes again at once rather
    /// than wait for the RTO.
    #[test]
    fn a_partial_ack_up_to_the_fin_sends_the_fin_again() {
        let mut t = Trace::passive(|c| c.congestion = vtcp_conn::Congestion::NewReno);
        t.at(0)
            .recv("S 0:0(0) win 65535 <mss 1460,nop,nop,TS val 100 ecr 0,nop,wscale 7>");
        t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,TS val * ecr 100,nop,wscale 3,nop,nop>");
        t.at(10)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        t.conn().write(&vec![7u8; 8 * 1448]).unwrap();
        t.conn().close();
        while t.take().is_some() {}
        // The first segment and the FIN are lost: three duplicate ACKs.
        for k in 0..3u64 {
            t.at(20 + k).recv(&format!(
                ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0>",
                120 + k
            ));
        }
        t.expect(". 1:1449(1448) ack 1 win * <*>").expect_none();
        // Its ACK covers the data, not the FIN.
        t.at(40)
            .recv(". 1:1(0) ack 11585 win 1000 <nop,nop,TS val 140 ecr 0>");
        t.expect("F. 11585:11585(0) ack 1 win * <*>");
    }

    /// RFC 7661 §4.1 and Linux's `tcp_is_cwnd_limited`: in slow start the
    /// window grows while it is less than twice the most in flight, even
    /// when the application, not the window, limited what was sent. Eight
    /// segments of a ten-segment window, all acknowledged by one ACK: the
    /// window grows, by two segments (RFC 3465's L = 2·SMSS an ACK).
    #[test]
    fn an_application_limited_slow_start_still_grows_to_twice_its_flight() {
        let mut t = established();
        t.conn().write(&vec![7u8; 8 * 1448]).unwrap();
        while t.take().is_some() {}
        assert_eq!(t.conn().stats().cwnd, 10 * 1448);
        t.at(20)
            .recv(". 1:1(0) ack 11585 win 1000 <nop,nop,TS val 120 ecr 0>");
        assert_eq!(t.conn().stats().cwnd, 12 * 1448);
    }

    /// BBR sets its own window in a recovery (draft-ietf-ccwg-bbr
    /// §5.6.4.4: packet conservation, then the rate samples), not RFC
    /// 9937's PRR, whose window is pipe (in flight less what is SACKed or
    /// lost) plus a share of what was delivered: BBR's never falls below
    /// what is in flight there.
    #[test]
    fn bbr_keeps_its_own_window_in_a_recovery() {
        let mut t = Trace::passive(|c| c.congestion = vtcp_conn::Congestion::Bbr);
        t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
        t.at(150)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 250 ecr 0>");
        t.conn().write(&vec![7u8; 40 * 1448]).unwrap();
        while t.take().is_some() {}
        for k in 0..6u32 {
            t.at(301 + u64::from(k)).recv(&format!(
                ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 2897:{}>",
                401 + k,
                4345 + k * 1448
            ));
            while t.take().is_some() {}
        }
        let stats = t.conn().stats();
        assert_eq!(stats.fast_recoveries, 1);
        assert!(
            stats.cwnd as usize >= stats.bytes_in_flight,
            "a window of {} with {} in flight",
            stats.cwnd,
            stats.bytes_in_flight
        );
    }

    /// RFC 8985 §7.4: only a probe that sent old data again, acknowledged
    /// without a D-SACK, repaired a loss and gets a congestion response. A
    /// probe of new data tells nothing of a loss: once everything is
    /// acknowledged, ssthresh is still its initial infinity.
    #[test]
    fn a_probe_of_new_data_gets_no_congestion_response() {
        let mut t = established();
        t.conn().write(&[1; 1448 * 15]).unwrap();
        expect_initial_window(&mut t);
        t.at(30).expect(". 14481:15929(1448) ack 1 win * <*>");
        assert_eq!(t.conn().stats().tlp_probes, 1);
        t.at(40)
            .recv(". 1:1(0) ack 15929 win 1000 <nop,nop,TS val 140 ecr 0>");
        assert_eq!(t.conn().stats().ssthresh, u32::MAX);
    }

    /// RFC 1122 §4.2.3.6: keepalive probes go `interval` apart, nothing
    /// between them.
    #[test]
    fn keepalive_probes_go_an_interval_apart() {
        let mut t = Trace::passive(|c| c.keepalive = Some(KEEPALIVE));
        t.at(0).recv(SYN).expect(SYN_ACK);
        t.at(10)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        t.at(10_010).expect(". 0:0(0) ack 1 win * <*>");
        t.at(11_009).expect_none();
        t.at(11_010).expect(". 0:0(0) ack 1 win * <*>");
    }

    /// RFC 5961 §3.2 in SYN-RECEIVED: a RST at the peer's SYN's own
    /// number (one below RCV.NXT) is outside the window and resets
    /// nothing; one at RCV.NXT refuses the connection
    /// (`CloseReason::Refused`, RFC 9293 §3.10.7.4).
    #[test]
    fn a_rst_in_syn_received_refuses_only_at_rcv_nxt() {
        let mut t = Trace::passive(|_| {});
        t.at(0).recv(SYN).expect(SYN_ACK).expect_none();
        t.at(5).recv("R 0:0(0) win 0");
        assert_eq!(t.conn().state(), State::SynReceived);
        t.at(6).recv("R 1:1(0) win 0");
        assert_eq!(t.conn().state(), State::Closed);
        assert_eq!(t.conn().close_reason(), Some(CloseReason::Refused));
    }
}
