//! Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation):
//! how fast the path delivers, sampled on every ACK, for controllers that
//! model the path (BBR).
//!
//! The connection keeps its running totals here ([`Rates`]: C.delivered,
//! C.delivered_time, C.first_sent_time, C.app_limited, C.lost); every
//! segment it sends takes a [`TxSnapshot`] of them into the sent-segment
//! log (P.delivered and the rest). When an ACK delivers segments, the one
//! sent last among them gives the sample: the octets delivered since it
//! was sent, over the longer of its send and ACK intervals (draft §3.3).
//! The engine hands the sample to the controller
//! ([`vtcp_cc::CongestionController::on_rate_sample`]); the default
//! controllers ignore it.
//!
//! All totals are `u64` octets of the connection's lifetime, so they pass
//! 2^32 on long connections without wrapping.

use std::time::Duration;

use vtcp_cc::RateSample;

/// `d` in nanoseconds (saturating: 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What a segment records of the connection's totals when it is sent
/// (draft §3.2, "P.*").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TxSnapshot {
    /// C.delivered when it was sent.
    pub(crate) delivered: u64,
    /// C.delivered_time when it was sent, in nanoseconds (every segment
    /// in flight carries a snapshot: kept small).
    pub(crate) delivered_time: u64,
    /// C.first_sent_time when it was sent, in nanoseconds: the send time
    /// of the segment that began the current sending interval.
    pub(crate) first_sent_time: u64,
    /// C.lost when it was sent.
    pub(crate) lost: u64,
    /// Octets in flight just after it was sent (P.tx_in_flight).
    pub(crate) in_flight: u32,
    /// The application held the sender back then (C.app_limited ≠ 0).
    pub(crate) app_limited: bool,
}

/// The segment among those an ACK delivered that gives the sample: the one
/// sent last, by its snapshot's C.delivered (draft §3.3, "the most
/// recently sent packet"), with when it was sent and whether it was sent
/// again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Newest {
    pub(crate) tx: TxSnapshot,
    pub(crate) sent: Duration,
    pub(crate) retransmitted: bool,
}

impl Newest {
    /// Whether `self` was sent after `other` (draft §3.3's
    /// IsNewestPacket: the later C.delivered, then the later send time).
    pub(crate) fn newer_than(&self, other: &Self) -> bool {
        (self.tx.delivered, self.sent) > (other.tx.delivered, other.sent)
    }
}

/// The connection's running totals (draft §3.1, "C.*").
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rates {
    delivered: u64,
    delivered_time: Duration,
    first_sent_time: Duration,
    /// C.delivered + inflight when the application last ran out of data
    /// (nonzero): samples from segments sent before that point are
    /// application-limited.
    app_limited: u64,
    lost: u64,
    /// The least RTT sampled (a lifetime minimum; Linux keeps one over
    /// five minutes): a sample over a shorter interval is not trusted.
    min_rtt: Option<Duration>,
    /// The latest sample's rate, octets per second.
    latest_rate: Option<u64>,
}

impl Rates {
    /// A segment goes out at `now` with `in_flight` octets in flight before
    /// it and `len` octets of its own (draft §3.2, "Upon transmitting").
    pub(crate) fn on_send(&mut self, now: Duration, in_flight: usize, len: usize) -> TxSnapshot {
        if in_flight == 0 {
            // Nothing in flight: a new sending interval starts here.
            self.first_sent_time = now;
            self.delivered_time = now;
        }
        TxSnapshot {
            delivered: self.delivered,
            delivered_time: nanos(self.delivered_time),
            first_sent_time: nanos(self.first_sent_time),
            lost: self.lost,
            in_flight: u32::try_from(in_flight + len).unwrap_or(u32::MAX),
            app_limited: self.app_limited != 0,
        }
    }

    /// The application has less than a segment waiting and the window had
    /// room (draft §3.5.2, Linux's tcp_rate_check_app_limited): what is
    /// sent until the octets now in flight are delivered is
    /// application-limited.
    pub(crate) fn on_app_limited(&mut self, in_flight: usize) {
        self.app_limited = (self.delivered + in_flight as u64).max(1);
    }

    /// `octets` were newly marked lost.
    pub(crate) fn on_lost(&mut self, octets: u64) {
        self.lost += octets;
    }

    /// All octets delivered so far (C.delivered).
    #[cfg(test)]
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered
    }

    /// An ACK at `now` delivered `octets` (acknowledged or SACKed for the
    /// first time), the segment sent last among them being `newest`;
    /// `newly_lost` octets were marked lost while it was processed and
    /// `inflight` remain in flight. Returns the ACK's sample (draft §3.3),
    /// which has no rate (`delivered` zero) when no whole segment was
    /// delivered or the interval is shorter than the least RTT seen, a
    /// sign of ACK compression (as Linux discards such samples).
    pub(crate) fn on_ack(
        &mut self,
        now: Duration,
        octets: u64,
        newest: Option<Newest>,
        newly_lost: u64,
        inflight: usize,
        in_recovery: bool,
    ) -> RateSample {
        self.delivered += octets;
        if octets > 0 {
            self.delivered_time = now;
        }
        let mut rs = RateSample::default();
        rs.total_delivered = self.delivered;
        rs.newly_acked = octets;
        rs.newly_lost = newly_lost;
        rs.inflight = inflight as u64;
        rs.in_recovery = in_recovery;
        if self.app_limited != 0 && self.delivered > self.app_limited {
            // The octets in flight when the application ran out are
            // delivered: later samples measure the path again.
            self.app_limited = 0;
        }
        let Some(p) = newest else {
            return rs;
        };
        // The next interval starts where this segment was sent.
        self.first_sent_time = p.sent;
        rs.prior_delivered = p.tx.delivered;
        rs.is_app_limited = p.tx.app_limited;
        rs.tx_in_flight = u64::from(p.tx.in_flight);
        rs.lost = self.lost.saturating_sub(p.tx.lost);
        rs.rtt = (!p.retransmitted).then(|| now.saturating_sub(p.sent));
        if let Some(rtt) = rs.rtt {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
        let send_elapsed = p
            .sent
            .saturating_sub(Duration::from_nanos(p.tx.first_sent_time));
        let ack_elapsed = self
            .delivered_time
            .saturating_sub(Duration::from_nanos(p.tx.delivered_time));
        let interval = send_elapsed.max(ack_elapsed);
        let delivered = self.delivered.saturating_sub(p.tx.delivered);
        if interval.is_zero() || self.min_rtt.is_some_and(|m| interval < m) {
            return rs;
        }
        rs.delivered = delivered;
        rs.interval = interval;
        self.latest_rate = rs.delivery_rate().or(self.latest_rate);
        rs
    }

    /// The latest sample's rate, octets per second.
    pub(crate) fn latest_rate(&self) -> Option<u64> {
        self.latest_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn newest(tx: TxSnapshot, sent: Duration) -> Option<Newest> {
        Some(Newest {
            tx,
            sent,
            retransmitted: false,
        })
    }

    /// draft-cheng-iccrg-delivery-rate-estimation §3.3 (IsNewestPacket):
    /// of the segments one ACK delivers, the sample is taken from the one
    /// sent last, by its snapshot's C.delivered, then by its send time: a
    /// retransmission sent after more was delivered is newer than the
    /// original segments above it.
    #[test]
    fn the_newest_segment_is_the_one_sent_last() {
        let snapshot = |delivered| TxSnapshot {
            delivered,
            ..TxSnapshot::default()
        };
        let at = |delivered, sent_ms: u32| Newest {
            tx: snapshot(delivered),
            sent: MS * sent_ms,
            retransmitted: false,
        };
        let original = at(1000, 5);
        let resent = Newest {
            retransmitted: true,
            ..at(4000, 60)
        };
        assert!(resent.newer_than(&original) && !original.newer_than(&resent));
        // The same C.delivered: the later send time.
        assert!(at(1000, 6).newer_than(&original) && !original.newer_than(&at(1000, 6)));
        // The same segment is not newer than itself.
        assert!(!original.newer_than(&original));
    }

    /// A flight of ten 1000-octet segments sent 1 ms apart from idle, each
    /// acknowledged 50 ms after it went: every sample is 1000 octets per
    /// millisecond once the first round is over, and the first is the
    /// longer of its intervals.
    #[test]
    fn a_paced_flight_samples_its_rate() {
        let mut r = Rates::default();
        let mut tx = Vec::new();
        for i in 0..10u32 {
            let now = MS * i;
            tx.push((r.on_send(now, 1000 * i as usize, 1000), now));
        }
        // The first segment's ACK: one segment over its own 50 ms.
        let (t0, s0) = tx[0];
        let rs = r.on_ack(s0 + 50 * MS, 1000, newest(t0, s0), 0, 9000, false);
        assert_eq!(rs.delivered, 1000);
        assert_eq!(rs.interval, 50 * MS);
        assert_eq!(rs.rtt, Some(50 * MS));
        assert_eq!(rs.tx_in_flight, 1000);
        assert_eq!(rs.total_delivered, 1000);
        // The last one's: ten segments since the first one's send... but
        // measured from when its own snapshot was taken (nothing delivered
        // then): 10 000 octets over 59 ms (send interval 9 ms, ACK 59).
        for &(t, s) in &tx[1..9] {
            r.on_ack(s + 50 * MS, 1000, newest(t, s), 0, 0, false);
        }
        let (t9, s9) = tx[9];
        let rs = r.on_ack(s9 + 50 * MS, 1000, newest(t9, s9), 0, 0, false);
        assert_eq!(rs.delivered, 10_000);
        assert_eq!(rs.interval, 59 * MS);
        assert_eq!(rs.prior_delivered, 0);
        assert_eq!(rs.total_delivered, 10_000);
        assert_eq!(r.delivered(), 10_000);
    }

    /// In steady state a segment sent after the first ACKs measures the
    /// ACK rate: 1000 octets a millisecond.
    #[test]
    fn steady_state_measures_the_ack_rate() {
        let mut r = Rates::default();
        let mut now = Duration::ZERO;
        let mut inflight = Vec::new();
        // Keep 50 segments in flight; each ms one is acknowledged and one sent.
        for _ in 0..50 {
            inflight.push((r.on_send(now, inflight.len() * 1000, 1000), now));
        }
        let mut last = RateSample::default();
        for _ in 0..200 {
            now += MS;
            let (t, s) = inflight.remove(0);
            last = r.on_ack(now, 1000, newest(t, s), 0, inflight.len() * 1000, false);
            inflight.push((r.on_send(now, inflight.len() * 1000, 1000), now));
        }
        let rate = last.delivery_rate().expect("a sample");
        assert!((990_000..=1_010_000).contains(&rate), "{rate} octets/s");
        assert!(!last.is_app_limited);
    }

    /// A sender that ran out of data marks what it sends as
    /// application-limited until the octets then in flight are delivered.
    #[test]
    fn app_limited_lasts_until_the_flight_is_delivered() {
        let mut r = Rates::default();
        let a = r.on_send(Duration::ZERO, 0, 1000);
        r.on_app_limited(1000);
        let b = r.on_send(MS, 1000, 1000);
        assert!(!a.app_limited);
        assert!(b.app_limited);
        let rs = r.on_ack(10 * MS, 1000, newest(a, Duration::ZERO), 0, 1000, false);
        assert!(!rs.is_app_limited);
        // Not yet past the mark (1000 delivered of 1000 + 0): still limited.
        let c = r.on_send(10 * MS, 1000, 1000);
        assert!(c.app_limited);
        let rs = r.on_ack(11 * MS, 1000, newest(b, MS), 0, 1000, false);
        assert!(rs.is_app_limited);
        let d = r.on_send(11 * MS, 1000, 1000);
        assert!(!d.app_limited, "the mark was passed");
    }

    /// Losses between a segment's send and its ACK are reported with it;
    /// a sample shorter than the minimum RTT has no rate; a
    /// retransmission gives no RTT.
    #[test]
    fn losses_compression_and_karn() {
        let mut r = Rates::default();
        let first = r.on_send(Duration::ZERO, 0, 1000);
        r.on_ack(30 * MS, 1000, newest(first, Duration::ZERO), 0, 0, false);
        let a = r.on_send(Duration::ZERO, 0, 1000);
        r.on_lost(3000);
        let rs = r.on_ack(
            20 * MS,
            1000,
            Some(Newest {
                tx: a,
                sent: Duration::ZERO,
                retransmitted: true,
            }),
            3000,
            0,
            true,
        );
        assert_eq!(rs.lost, 3000);
        assert_eq!(rs.newly_lost, 3000);
        assert_eq!(rs.rtt, None);
        assert_eq!(rs.delivered, 0, "20 ms is under the 30 ms minimum RTT");
        assert!(rs.in_recovery);
    }

    /// Totals past 2^32 octets: nothing wraps.
    #[test]
    fn totals_pass_four_gib() {
        let mut r = Rates::default();
        let step = 1u64 << 31;
        let mut now = Duration::ZERO;
        for _ in 0..3 {
            let tx = r.on_send(now, 0, 1000);
            now += MS;
            r.on_ack(now, step, newest(tx, now - MS), 0, 0, false);
        }
        assert_eq!(r.delivered(), 3 * step);
        let tx = r.on_send(now, 0, 1000);
        assert_eq!(tx.delivered, 3 * step);
    }
}
