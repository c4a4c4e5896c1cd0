//! Loss recovery and delivery rates as segment traces: what
//! Proportional Rate Reduction (RFC 9937) lets out during a recovery
//! that RACK (RFC 8985, the default with SACK) started, and the delivery
//! rate a pacing controller is given. Sequence numbers are relative to
//! each side's ISN.

mod trace;

use trace::Trace;
use vtcp_conn::Congestion;

/// The segment numbers (from 1, of 1448 octets) sent now.
fn sent_now(t: &mut Trace) -> Vec<u32> {
    let mut sent = Vec::new();
    while let Some(bytes) = t.take() {
        let seg = vtcp_wire::Segment::parse(&bytes).unwrap();
        sent.push(seg.seq.0.wrapping_sub(trace::OUR_ISN) / 1448 + 1);
    }
    sent
}

/// RFC 9937 in a recovery RACK started (RFC 8985 §6.2): ten segments
/// in flight at 10 ms, 30 waiting; SACKs of 2–4 at 25 ms make RACK
/// mark segment 1 lost. ssthresh is 5 segments (half the flight),
/// RecoverFS the pipe then (10 − 3 SACKed − 1 lost = 6). While pipe is
/// above ssthresh, PRR lets out 5/6 of what is delivered, rounded up:
/// for 3 segments delivered, 2.5 (segment 1 again, then new 11); for 5,
/// 4.17 (12, 13); for 7, 5.83 (14).
#[test]
fn a_recovery_rack_started_sends_in_proportion_to_what_is_delivered() {
    let mut t = Trace::established(|_| {});
    t.conn().write(&[1; 1448 * 40]).unwrap();
    assert_eq!(sent_now(&mut t), (1..=10).collect::<Vec<_>>());
    let mut rounds = Vec::new();
    for (ms, right) in [(25, 5793), (26, 8689), (27, 11585)] {
        t.at(ms).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 1449:{right}>",
            100 + ms
        ));
        rounds.push(sent_now(&mut t));
    }
    assert_eq!(rounds, [vec![1, 11], vec![12, 13], vec![14]]);
    let s = t.conn().stats();
    assert_eq!((s.fast_recoveries, s.retransmits), (1, 1));
    assert_eq!(s.ssthresh, 5 * 1448);
}

/// Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation
/// §3.3) runs for a controller that paces (BBR): ten segments sent at
/// 10 ms and acknowledged at 20 ms delivered 14,480 octets in 10 ms, and
/// the statistics show the rate, with BBR's model (its state, Startup,
/// and its bandwidth estimate, that sample). A controller that does not
/// pace has no rate estimated and no model, and shows none.
#[test]
fn the_delivery_rate_is_what_an_ack_delivered_over_the_time_it_took() {
    for (congestion, rate, mode) in [
        (Congestion::Bbr, Some(1_448_000), Some("startup")),
        (Congestion::HighSpeed, None, None),
    ] {
        let mut t = Trace::established(|c| c.congestion = congestion);
        assert_eq!(t.conn().stats().delivery_rate, None);
        t.conn().write(&[1; 1448 * 30]).unwrap();
        assert_eq!(sent_now(&mut t), (1..=10).collect::<Vec<_>>());
        t.at(20)
            .recv(". 1:1(0) ack 14481 win 1000 <nop,nop,TS val 120 ecr 0>");
        let s = t.conn().stats();
        assert_eq!(s.delivery_rate, rate);
        assert_eq!(s.cc_mode, mode);
        assert_eq!(s.bandwidth_estimate, rate);
    }
}

/// RFC 3522 (Eifel) undoes a fast recovery, and with it RACK's marks
/// (RFC 8985 §6.2): what was marked lost is judged again. Ten segments
/// in flight at 10 ms; SACKs of 6–8 at 25 ms make RACK mark 1–5 lost,
/// and PRR resends 1–3. At 27 ms the ACK of segment 1 echoes the
/// original's TSval: the reduction is undone. RACK then finds 4 and 5
/// lost again (sent before 8, a round trip ago): a new recovery with a
/// reduction of its own, in which PRR resends 4 alone, not segments
/// resent at the window the undo restored.
#[test]
fn after_an_undo_what_rack_finds_lost_again_is_a_new_loss() {
    let mut t = Trace::established(|_| {});
    t.conn().write(&[1; 1448 * 40]).unwrap();
    assert_eq!(sent_now(&mut t), (1..=10).collect::<Vec<_>>());
    let original = t.last_tsval.expect("timestamps");
    t.at(25)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 125 ecr 0,nop,nop,sack 7241:11585>");
    assert_eq!(sent_now(&mut t), [1, 2, 3]);
    t.at(27).recv(&format!(
        ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 127 ecr {original},nop,nop,sack 7241:11585>"
    ));
    assert_eq!(sent_now(&mut t), [4]);
    let s = t.conn().stats();
    assert_eq!((s.undos, s.fast_recoveries, s.retransmits), (1, 2, 4));
    assert!(s.ssthresh < 5 * 1448, "reduced again: {}", s.ssthresh);
}

/// RFC 3708 (D-SACK) undoes a timeout after the fact: the segment sent
/// again at the timeout is acknowledged (the ACK echoes the
/// retransmission, so Eifel finds nothing), then a duplicate ACK reports
/// it received twice. The timeout is undone with nothing in flight: no
/// timer runs, and nothing goes later.
#[test]
fn a_timeout_undone_with_nothing_in_flight_leaves_no_timer() {
    let mut t = Trace::established(|c| c.rack_tlp = false);
    t.conn().write(&[1; 1000]).unwrap();
    t.expect("P. 1:1001(1000) ack 1 win * <*>");
    t.at(210).expect("P. 1:1001(1000) ack 1 win * <*>");
    let retransmission = t.last_tsval.expect("timestamps");
    t.at(215).recv(&format!(
        ". 1:1(0) ack 1001 win 1000 <nop,nop,TS val 215 ecr {retransmission}>"
    ));
    assert_eq!(t.conn().poll_timeout(), None);
    t.at(220).recv(&format!(
        ". 1:1(0) ack 1001 win 1000 <nop,nop,TS val 220 ecr {retransmission},nop,nop,sack 1:1001>"
    ));
    let s = t.conn().stats();
    assert_eq!((s.undos, s.rtos, s.bytes_in_flight), (1, 1, 0));
    assert_eq!(t.conn().poll_timeout(), None);
    t.at(5000).expect_none();
    assert_eq!(t.conn().stats().rtos, 1);
}

/// RFC 6582 §3.2 step 5 without SACK: a partial ACK sends the next hole
/// again, and when the hole is the FIN alone, the FIN. Five segments,
/// the FIN on the fifth; the first and the fifth are lost. Three
/// duplicate ACKs resend the first; the partial ACK up to the fifth
/// resends its data (a retransmission carries no FIN); the partial ACK of
/// all the data resends the FIN, without waiting for the timer.
#[test]
fn newreno_resends_a_lost_fin_on_the_partial_ack_of_the_data() {
    let mut t = Trace::passive(|_| {});
    t.at(0)
        .recv("S 0:0(0) win 65535 <mss 1460,TS val 100 ecr 0,nop,wscale 7>");
    t.expect("S. 0:0(0) ack 1 win 65535 <*>");
    t.at(10)
        .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
    t.conn().write(&[1; 5 * 1448]).unwrap();
    t.conn().close();
    for i in 0..4u32 {
        t.expect(&format!(
            ". {}:{}(1448) ack 1 win * <*>",
            1 + i * 1448,
            1 + (i + 1) * 1448
        ));
    }
    t.expect("FP. 5793:7241(1448) ack 1 win * <*>")
        .expect_none();
    for ms in 20..23 {
        t.at(ms).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0>",
            100 + ms
        ));
    }
    t.expect(". 1:1449(1448) ack 1 win * <*>").expect_none();
    t.at(30)
        .recv(". 1:1(0) ack 5793 win 1000 <nop,nop,TS val 130 ecr 0>");
    t.expect("P. 5793:7241(1448) ack 1 win * <*>").expect_none();
    t.at(40)
        .recv(". 1:1(0) ack 7241 win 1000 <nop,nop,TS val 140 ecr 0>");
    t.expect("F. 7241:7241(0) ack 1 win * <*>").expect_none();
    assert_eq!(t.conn().stats().rtos, 0);
}

/// RFC 6675's recovery does not find a lost retransmission by itself;
/// the engine calls it lost once SACKs cover more than DupThresh − 1
/// segments of data sent after it (IsLost's reasoning in sending order).
/// Segment 1 is lost and so is its fast retransmit; every other segment
/// arrives and is SACKed. The third send of segment 1 goes once three
/// segments sent after its retransmission are SACKed, not two.
#[test]
fn a_retransmission_is_lost_once_three_segments_sent_after_it_are_sacked() {
    let mut t = Trace::established(|c| c.rack_tlp = false);
    t.conn().write(&[1; 1448 * 60]).unwrap();
    let mut wire: std::collections::VecDeque<u32> = sent_now(&mut t).into();
    let (mut sends_of_1, mut highest) = (1, 1);
    // Segments sent after the fast retransmit, and how many of them had
    // been SACKed when segment 1 went the third time.
    let mut after_rxt = Vec::new();
    let mut sacked_when_resent = None;
    let mut now = 20;
    while let Some(n) = wire.pop_front() {
        now += 1;
        if n == 1 {
            continue;
        }
        highest = highest.max(n);
        t.at(now).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {now} ecr 0,nop,nop,sack 1449:{}>",
            1 + highest * 1448
        ));
        for s in sent_now(&mut t) {
            if s == 1 {
                sends_of_1 += 1;
                if sends_of_1 == 3 {
                    let sacked = after_rxt.iter().filter(|&&a| a <= highest).count();
                    sacked_when_resent = Some(sacked);
                }
            } else if sends_of_1 == 2 {
                after_rxt.push(s);
            }
            wire.push_back(s);
        }
        if sacked_when_resent.is_some() {
            break;
        }
    }
    assert_eq!(sacked_when_resent, Some(3));
    assert_eq!(t.conn().stats().lost_retransmits, 1);
}

/// RFC 9937 §6: below ssthresh PRR sends no more than was delivered,
/// plus one segment on a SafeACK only (one that advances SND.UNA and
/// finds no new loss). Ten segments in flight, SACKs of 8–10 at 25 ms:
/// RACK marks 1–7 lost, pipe is 0, and the three delivered let three
/// retransmissions out. The same ACK again (it delivers nothing and
/// SND.UNA stays) lets nothing out.
#[test]
fn duplicate_acks_that_deliver_nothing_let_nothing_out_in_prr() {
    let mut t = Trace::established(|_| {});
    t.conn().write(&[1; 1448 * 40]).unwrap();
    assert_eq!(sent_now(&mut t), (1..=10).collect::<Vec<_>>());
    let mut rounds = Vec::new();
    for ms in 25..28 {
        t.at(ms).recv(&format!(
            ". 1:1(0) ack 1 win 1000 <nop,nop,TS val {} ecr 0,nop,nop,sack 10137:14481>",
            100 + ms
        ));
        rounds.push(sent_now(&mut t));
    }
    assert_eq!(rounds, [vec![1, 2, 3], vec![], vec![]]);
}

/// The delivery-rate sample comes from the newest segment an ACK
/// delivers (draft-cheng-iccrg-delivery-rate-estimation §3.3). BBR sends
/// 10 segments at 10 ms; the ACK of 5 at 20 ms lets 11–13 out; the ACK
/// of all 13 at 30 ms delivers 6–10 (sent at 10 ms) and 11–13 (sent at
/// 20 ms, when 7,240 octets were delivered): the sample is from 13,
/// 11,584 octets in 10 ms, not from 6–10's 20 ms.
#[test]
fn the_delivery_rate_comes_from_the_newest_segment_acknowledged() {
    let mut t = Trace::established(|c| c.congestion = Congestion::Bbr);
    t.conn().write(&[1; 1448 * 40]).unwrap();
    assert_eq!(sent_now(&mut t), (1..=10).collect::<Vec<_>>());
    t.at(20)
        .recv(". 1:1(0) ack 7241 win 1000 <nop,nop,TS val 120 ecr 0>");
    assert_eq!(t.conn().stats().delivery_rate, Some(724_000));
    assert_eq!(sent_now(&mut t), [11, 12, 13]);
    t.at(30)
        .recv(". 1:1(0) ack 18825 win 1000 <nop,nop,TS val 130 ecr 0>");
    assert_eq!(t.conn().stats().delivery_rate, Some(1_158_400));
}

/// RFC 4015 §2 after a spurious timeout: sending resumes from the
/// highest sequence number sent, and a FIN that had gone counts as sent.
/// Two segments, the FIN on the second; the timeout at 210 ms sends the
/// first again; the ACK of it echoes the original's TSval (Eifel): the
/// timeout is undone, and neither the second segment nor the FIN goes
/// again.
#[test]
fn an_undone_timeout_does_not_send_the_fin_again() {
    let mut t = Trace::established(|c| c.rack_tlp = false);
    t.conn().write(&[1; 2 * 1448]).unwrap();
    t.conn().close();
    t.expect(". 1:1449(1448) ack 1 win * <*>");
    let original = t.last_tsval.expect("timestamps");
    t.expect("FP. 1449:2897(1448) ack 1 win * <*>")
        .expect_none();
    t.at(210)
        .expect(". 1:1449(1448) ack 1 win * <*>")
        .expect_none();
    t.at(215).recv(&format!(
        ". 1:1(0) ack 1449 win 1000 <nop,nop,TS val 215 ecr {original}>"
    ));
    assert_eq!(t.conn().stats().undos, 1);
    t.expect_none();
}
