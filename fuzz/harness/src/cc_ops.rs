//! Every congestion controller under arbitrary event sequences, rate
//! samples with arbitrary fields included: never a panic or overflow, the
//! window never below one SMSS, ssthresh never below two, a pacing rate
//! (if any) above zero and at most 2^48 octets per second, a send quantum
//! of at least one SMSS.

use core::time::Duration;

use crate::Verdict;
use arbitrary::Arbitrary;
use vtcp_cc::{Bbr, CongestionController, Cubic, HighSpeed, NewReno, RateSample};

#[derive(Arbitrary, Debug)]
enum Event {
    Ack(u32),
    PartialAck(u32),
    DupAck,
    Congestion(u32),
    RecoveryEnd,
    Timeout(u32),
    RepeatedTimeout,
    Rtt(u32),
    Advance(u32),
    SetMss(u16),
    Undo(u32, u32),
    WindowUnused,
    /// A delivery-rate sample, its fields as they come: nothing ties them
    /// to each other or to the samples before (`total_delivered` may go
    /// back), and the controller must survive that.
    RateSample {
        delivered: u64,
        interval_ns: u64,
        total_delivered: u64,
        prior_delivered: u64,
        rtt_ns: Option<u64>,
        is_app_limited: bool,
        tx_in_flight: u64,
        lost: u64,
        newly_acked: u64,
        newly_lost: u64,
        inflight: u64,
        in_recovery: bool,
    },
}

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: (u8, u16, Vec<Event>)| {
        let (which, mss, events) = input;
        let mss = u32::from(mss).max(1);
        let mut cc: Box<dyn CongestionController> = match which % 4 {
            0 => Box::new(NewReno::new(mss)),
            1 => Box::new(HighSpeed::new(mss)),
            2 => Box::new(Cubic::new(mss)),
            _ => Box::new(Bbr::new(mss).with_seed(u64::from(which))),
        };
        let mut now = Duration::ZERO;
        for event in events {
            match event {
                Event::Ack(b) => cc.on_ack_at(b, now),
                Event::PartialAck(b) => cc.on_partial_ack(b, now),
                Event::DupAck => cc.on_recovery_dup_ack(),
                Event::Congestion(f) => cc.on_congestion_event(f),
                Event::RecoveryEnd => cc.on_recovery_end(),
                Event::Timeout(f) => cc.on_timeout(f),
                Event::RepeatedTimeout => cc.on_repeated_timeout(),
                Event::Rtt(us) => cc.on_rtt_sample(Duration::from_micros(u64::from(us))),
                Event::Advance(us) => now += Duration::from_micros(u64::from(us)),
                Event::SetMss(m) => cc.set_mss(u32::from(m)),
                Event::Undo(cwnd, ssthresh) => cc.undo(cwnd, ssthresh),
                Event::WindowUnused => cc.on_window_unused(now),
                Event::RateSample {
                    delivered,
                    interval_ns,
                    total_delivered,
                    prior_delivered,
                    rtt_ns,
                    is_app_limited,
                    tx_in_flight,
                    lost,
                    newly_acked,
                    newly_lost,
                    inflight,
                    in_recovery,
                } => {
                    let mut rs = RateSample::default();
                    rs.delivered = delivered;
                    rs.interval = Duration::from_nanos(interval_ns);
                    rs.total_delivered = total_delivered;
                    rs.prior_delivered = prior_delivered;
                    rs.rtt = rtt_ns.map(Duration::from_nanos);
                    rs.is_app_limited = is_app_limited;
                    rs.tx_in_flight = tx_in_flight;
                    rs.lost = lost;
                    rs.newly_acked = newly_acked;
                    rs.newly_lost = newly_lost;
                    rs.inflight = inflight;
                    rs.in_recovery = in_recovery;
                    cc.on_rate_sample(&rs, now);
                }
            }
            let mss = cc.mss();
            assert!(cc.send_window() >= mss, "{cc:?}");
            assert!(cc.ssthresh() >= mss.saturating_mul(2), "{cc:?}");
            if let Some(rate) = cc.pacing_rate() {
                assert!(rate > 0 && rate <= 1 << 48, "{rate}: {cc:?}");
                assert!(cc.send_quantum() >= mss, "{cc:?}");
            }
        }
    })
}
