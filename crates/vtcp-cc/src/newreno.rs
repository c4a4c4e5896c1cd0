//! NewReno: RFC 5681 with RFC 6582's partial-ACK handling.

use core::time::Duration;

use crate::{CongestionController, Window, delegate_window};

/// NewReno congestion control (RFC 5681, RFC 6582, RFC 3465 byte
/// counting with L = 2·SMSS, RFC 6928 initial window).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReno {
    pub(crate) window: Window,
}

impl NewReno {
    /// The same controller with `iw` as the rule for its initial window
    /// (RFC 6928's by default).
    pub fn with_initial_window(mut self, iw: crate::InitialWindow) -> Self {
        self.window.set_initial_window(iw);
        self
    }

    /// A controller for segments of `mss` octets.
    pub fn new(mss: u32) -> Self {
        Self {
            window: Window::new(mss),
        }
    }

    /// RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2·SMSS); the floor is
    /// applied by the window.
    fn halve(flight_size: u32) -> u32 {
        flight_size / 2
    }
}

impl CongestionController for NewReno {
    delegate_window!();

    fn on_ack(&mut self, bytes_acked: u32) {
        let rest = self.window.on_ack(bytes_acked);
        if rest > 0 {
            // RFC 5681 §3.1 eq. 3 with byte counting: one SMSS per window
            // of octets acknowledged.
            self.window.avoid_congestion(rest, 1);
        }
    }

    fn on_timeout(&mut self, flight_size: u32) {
        self.window.on_timeout(Self::halve(flight_size));
    }

    fn on_congestion_event(&mut self, flight_size: u32) {
        self.window.enter_recovery(Self::halve(flight_size));
    }

    fn on_partial_ack(&mut self, bytes_acked: u32, _: Duration) {
        self.window.on_partial_ack(bytes_acked);
    }

    fn name(&self) -> &'static str {
        "newreno"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use crate::model::{Op, invariants_hold};
    use quickcheck::quickcheck;
    use std::vec::Vec;

    const MSS: u32 = 1460;

    #[test]
    fn rfc5681_initial_window_is_rfc3390s_formula() {
        use crate::InitialWindow::Rfc5681;
        // RFC 5681 §3.1: 4 segments up to 1095, 3 up to 2190, then 2.
        for (mss, iw) in [
            (536, 2144),
            (1095, 4380),
            (1460, 4380),
            (2190, 4380),
            (4000, 8000),
        ] {
            assert_eq!(Rfc5681.octets(mss), iw, "MSS {mss}");
            let cc = NewReno::new(mss).with_initial_window(Rfc5681);
            assert_eq!(cc.send_window(), iw, "MSS {mss}");
        }
        let mut cc = NewReno::new(1460).with_initial_window(Rfc5681);
        cc.set_mss(536);
        assert_eq!(
            cc.send_window(),
            2144,
            "the rule follows the MSS before data moves"
        );
    }

    #[test]
    fn initial_window_follows_rfc6928() {
        assert_eq!(NewReno::new(1460).send_window(), 14600);
        assert_eq!(NewReno::new(536).send_window(), 5360);
        assert_eq!(NewReno::new(9000).send_window(), 18000);
        assert_eq!(NewReno::new(1000).send_window(), 10000);
        assert_eq!(NewReno::new(1460).ssthresh(), u32::MAX);
        let mut cc = NewReno::new(1460);
        cc.set_mss(536);
        assert_eq!(cc.send_window(), 5360);
    }

    #[test]
    fn slow_start_counts_bytes_with_l_of_two_segments() {
        let mut cc = NewReno::new(MSS);
        cc.on_ack(MSS);
        assert_eq!(cc.send_window(), 11 * MSS);
        // An ACK for 5 segments grows the window by at most 2 (RFC 3465).
        cc.on_ack(5 * MSS);
        assert_eq!(cc.send_window(), 13 * MSS);
        cc.on_ack(100);
        assert_eq!(cc.send_window(), 13 * MSS + 100);
    }

    #[test]
    fn congestion_avoidance_adds_one_segment_per_window() {
        let mut cc = NewReno::new(MSS);
        cc.on_congestion_event(40 * MSS);
        cc.on_recovery_end();
        assert_eq!((cc.send_window(), cc.ssthresh()), (20 * MSS, 20 * MSS));
        for _ in 0..19 {
            cc.on_ack(MSS);
        }
        assert_eq!(cc.send_window(), 20 * MSS);
        cc.on_ack(MSS);
        assert_eq!(cc.send_window(), 21 * MSS);
    }

    #[test]
    fn fast_retransmit_and_recovery_per_rfc5681_and_rfc6582() {
        let mut cc = NewReno::new(MSS);
        // Outside recovery a duplicate ACK changes nothing here: counting
        // them is the engine's loss detection.
        cc.on_recovery_dup_ack();
        assert_eq!(cc.send_window(), 10 * MSS);
        cc.on_congestion_event(20 * MSS);
        // Step 2: ssthresh = max(FlightSize/2, 2·SMSS); step 3: cwnd =
        // ssthresh + 3·SMSS.
        assert_eq!(cc.ssthresh(), 10 * MSS);
        assert_eq!(cc.send_window(), 13 * MSS);
        assert!(cc.window.in_recovery());
        // Step 4: inflate per duplicate.
        cc.on_recovery_dup_ack();
        assert_eq!(cc.send_window(), 14 * MSS);
        // Partial ACK of 2 segments: deflate by 2, add back 1.
        cc.on_partial_ack(2 * MSS, Duration::ZERO);
        assert_eq!(cc.send_window(), 13 * MSS);
        assert!(cc.window.in_recovery());
        // Partial ACK of less than a segment: no add-back.
        cc.on_partial_ack(100, Duration::ZERO);
        assert_eq!(cc.send_window(), 13 * MSS - 100);
        // Full ACK: deflate to ssthresh.
        cc.on_recovery_end();
        assert_eq!(cc.send_window(), 10 * MSS);
        assert!(!cc.window.in_recovery());
        // Outside recovery, the end of one changes nothing.
        cc.on_recovery_end();
        assert_eq!(cc.send_window(), 10 * MSS);
    }

    #[test]
    fn small_flights_keep_ssthresh_at_two_segments() {
        let mut cc = NewReno::new(MSS);
        cc.on_congestion_event(MSS);
        assert_eq!(cc.ssthresh(), 2 * MSS);
    }

    #[test]
    fn timeout_sets_the_loss_window() {
        let mut cc = NewReno::new(MSS);
        cc.on_timeout(10 * MSS);
        assert_eq!((cc.send_window(), cc.ssthresh()), (MSS, 5 * MSS));
        // FlightSize, not the window: three segments out of ten.
        let mut cc = NewReno::new(MSS);
        cc.on_timeout(3 * MSS);
        assert_eq!(cc.ssthresh(), 2 * MSS, "eq. 4's floor of 2 SMSS");
        // A timeout in recovery halves the flight, not the inflated
        // window.
        let mut cc = NewReno::new(MSS);
        cc.on_congestion_event(40 * MSS);
        for _ in 0..30 {
            cc.on_recovery_dup_ack();
        }
        cc.on_timeout(40 * MSS);
        assert_eq!((cc.send_window(), cc.ssthresh()), (MSS, 20 * MSS));
        assert!(!cc.window.in_recovery());
        // Slow start again up to ssthresh.
        cc.on_ack(MSS);
        assert_eq!(cc.send_window(), 2 * MSS);
    }

    #[test]
    fn no_overflow_at_the_extremes() {
        let mut cc = NewReno::new(u32::MAX);
        cc.on_ack(u32::MAX);
        cc.on_congestion_event(u32::MAX);
        for _ in 0..10 {
            cc.on_recovery_dup_ack();
        }
        cc.on_partial_ack(u32::MAX, Duration::MAX);
        cc.on_recovery_end();
        cc.on_ack(u32::MAX);
        cc.on_timeout(u32::MAX);
        assert!(cc.send_window() >= cc.mss());
        let mut cc = NewReno::new(0);
        cc.on_timeout(0);
        assert!(cc.send_window() >= 1);
    }

    quickcheck! {
        fn invariants(mss: u16, ops: Vec<Op>) -> bool {
            invariants_hold(&mut NewReno::new(u32::from(mss).max(1)), &ops)
        }
    }
}
