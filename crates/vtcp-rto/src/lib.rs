//! The TCP retransmission timer (RFC 6298).
//!
//! [`RtoEstimator`] keeps the smoothed round-trip time (SRTT), its variation
//! (RTTVAR) and the retransmission timeout (RTO):
//!
//! - before any sample, RTO is the initial value, 1 s (§2.1);
//! - the first sample R sets SRTT = R, RTTVAR = R/2 (§2.2);
//! - each later sample R' sets RTTVAR = ¾·RTTVAR + ¼·|SRTT − R'|, then
//!   SRTT = ⅞·SRTT + ⅛·R' (§2.3);
//! - RTO = SRTT + max(G, 4·RTTVAR), clamped to a minimum and a maximum
//!   (§2.4–2.5; defaults 200 ms and 60 s: RFC 6298 says 1 s as a minimum,
//!   Linux uses 200 ms);
//! - on a timeout, RTO doubles, up to the maximum (§5.5);
//! - Karn's algorithm (§3): a segment that was retransmitted gives no
//!   sample ([`RtoEstimator::invalidate_timing`]).
//!
//! It reads no clock. Times are [`Duration`]s since any epoch the caller
//! keeps, passed in with each call. Samples come either from timing one
//! segment at a time ([`RtoEstimator::start_timing`] and
//! [`RtoEstimator::ack_received`]) or from timestamps on every ACK (RFC
//! 7323 §4, [`RtoEstimator::sample_weighted`]).
//!
//! ```
//! use core::time::Duration;
//! use vtcp_rto::{RtoConfig, RtoEstimator};
//! use vtcp_seq::Seq;
//!
//! let ms = Duration::from_millis;
//! let mut rto = RtoEstimator::new(RtoConfig::default());
//! assert_eq!(rto.rto(), ms(1000));
//!
//! rto.start_timing(Seq(1000), ms(0));
//! assert!(!rto.ack_received(Seq(1000), ms(40))); // does not cover it yet
//! assert!(rto.ack_received(Seq(1001), ms(100)));  // a 100 ms sample
//! assert_eq!(rto.srtt(), Some(ms(100)));
//! assert_eq!(rto.rto(), ms(300));                 // 100 + 4 * 50
//!
//! rto.backoff();
//! assert_eq!(rto.rto(), ms(600));
//! ```
#![no_std]
#![forbid(unsafe_code)]

use core::time::Duration;

use vtcp_seq::Seq;

/// The RTO before any RTT sample: 1 s (RFC 6298 §2.1).
pub const INITIAL_RTO: Duration = Duration::from_secs(1);

/// The RTO's lower bound: 200 ms, as Linux (RFC 6298 §2.4 says 1 s, a
/// SHOULD that no modern stack keeps).
pub const MIN_RTO: Duration = Duration::from_millis(200);

/// The RTO's upper bound: 60 s (RFC 6298 §2.5).
pub const MAX_RTO: Duration = Duration::from_secs(60);

/// The clock granularity G: 1 ms (RFC 6298 §2.4).
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// Bounds and constants of the estimator.
///
/// Non-exhaustive, as later releases add settings: start from
/// `default()` and set the fields you need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RtoConfig {
    /// RTO before the first sample ([`INITIAL_RTO`] by default).
    pub initial: Duration,
    /// Lower bound of the RTO ([`MIN_RTO`] by default).
    pub min: Duration,
    /// Upper bound of the RTO ([`MAX_RTO`] by default).
    pub max: Duration,
    /// Clock granularity G (RFC 6298 §2.4): the least the variance term
    /// adds ([`GRANULARITY`] by default).
    pub granularity: Duration,
}

impl Default for RtoConfig {
    fn default() -> Self {
        Self {
            initial: INITIAL_RTO,
            min: MIN_RTO,
            max: MAX_RTO,
            granularity: GRANULARITY,
        }
    }
}

/// SRTT, RTTVAR and RTO of one connection (RFC 6298), with its
/// configuration: [`RtoState`] and the [`RtoConfig`] it is read with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtoEstimator {
    config: RtoConfig,
    state: RtoState,
}

impl RtoEstimator {
    /// An estimator before any sample: RTO is `config.initial` (clamped).
    pub fn new(config: RtoConfig) -> Self {
        Self {
            config,
            state: RtoState::new(&config),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RtoConfig {
        &self.config
    }

    /// The estimate, without its configuration.
    pub fn state(&self) -> &RtoState {
        &self.state
    }

    /// The current retransmission timeout, backoff included, within
    /// `[min, max]`.
    pub fn rto(&self) -> Duration {
        self.state.rto(&self.config)
    }

    /// Smoothed RTT; `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.state.srtt()
    }

    /// RTT variation; zero before the first sample.
    pub fn rttvar(&self) -> Duration {
        self.state.rttvar()
    }

    /// Timeouts since the last RTT sample.
    pub fn backoffs(&self) -> u32 {
        self.state.backoffs()
    }

    /// Starts timing the segment that begins at `seq`, sent at `now`,
    /// unless a segment is being timed already (one measurement at a time).
    pub fn start_timing(&mut self, seq: Seq, now: Duration) {
        self.state.start_timing(seq, now);
    }

    /// A segment is being timed.
    pub fn is_timing(&self) -> bool {
        self.state.is_timing()
    }

    /// An acknowledgment up to `ack` arrived at `now`. When it covers the
    /// timed segment, takes the sample and returns `true`.
    pub fn ack_received(&mut self, ack: Seq, now: Duration) -> bool {
        self.state.ack_received(ack, now, &self.config)
    }

    /// Karn's algorithm (RFC 6298 §3): the timed segment was retransmitted,
    /// so its acknowledgment would be ambiguous; stop timing it.
    pub fn invalidate_timing(&mut self) {
        self.state.invalidate_timing();
    }

    /// Takes one RTT measurement (RFC 6298 §2.2–2.3) and recomputes RTO.
    /// A sample also ends any backoff (§5.7).
    pub fn sample(&mut self, rtt: Duration) {
        self.state.sample_weighted(rtt, 1, &self.config);
    }

    /// Takes a measurement from timestamps on one of `expected_samples` ACKs
    /// per RTT (RFC 7323 Appendix G): the gains ⅛ and ¼ are divided by
    /// `expected_samples` so that SRTT and RTTVAR move per RTT as if one
    /// sample had been taken. `expected_samples` of 0 counts as 1.
    pub fn sample_weighted(&mut self, rtt: Duration, expected_samples: u32) {
        self.state
            .sample_weighted(rtt, expected_samples, &self.config);
    }

    /// The retransmission timer expired (RFC 6298 §5.5): RTO doubles, up to
    /// the maximum. The timed segment will be retransmitted, so it is no
    /// longer timed (Karn).
    pub fn backoff(&mut self) {
        self.state.backoff(&self.config);
    }

    /// Forgets SRTT and RTTVAR, as after many backoffs (RFC 6298 §5
    /// note on re-initialising): the next sample counts as the first.
    pub fn reset(&mut self) {
        self.state = RtoState::new(&self.config);
    }
}

/// SRTT, RTTVAR and RTO of one connection (RFC 6298) without the bounds
/// they are read with: each call that needs them takes the [`RtoConfig`],
/// so that a connection that keeps its bounds elsewhere (a configuration
/// many connections share) does not hold a copy of them. Given the same
/// configuration on every call, it behaves as [`RtoEstimator`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtoState {
    /// Smoothed RTT in nanoseconds; [`NONE`] before the first sample.
    /// (Times are `u64` nanoseconds with a sentinel rather than
    /// `Option<Duration>`s, at half the room: exact below 584 years.)
    srtt: u64,
    /// RTT variation in nanoseconds.
    rttvar: u64,
    /// The RTO computed from the last sample, before backoff, in
    /// nanoseconds.
    base_rto: u64,
    /// Consecutive timeouts since the last sample: RTO is
    /// `base_rto · 2^backoffs`, clamped.
    backoffs: u32,
    /// The timed segment's first octet (RFC 6298 §3 note), when
    /// `timed_at` is not [`NONE`].
    timed_seq: Seq,
    /// When the timed segment was sent, in nanoseconds; [`NONE`]: no
    /// segment is timed.
    timed_at: u64,
}

/// No value: no SRTT yet, no segment timed.
const NONE: u64 = u64::MAX;

/// `d` in nanoseconds: exact below 584 years, and never [`NONE`].
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos())
        .unwrap_or(NONE - 1)
        .min(NONE - 1)
}

impl RtoState {
    /// An estimate before any sample: RTO is `config.initial` (clamped).
    pub fn new(config: &RtoConfig) -> Self {
        Self {
            srtt: NONE,
            rttvar: 0,
            base_rto: nanos(config.initial),
            backoffs: 0,
            timed_seq: Seq(0),
            timed_at: NONE,
        }
    }

    /// The current retransmission timeout, backoff included, within
    /// `[config.min, config.max]`.
    #[inline]
    pub fn rto(&self, config: &RtoConfig) -> Duration {
        // RFC 6298 §2.4 then §5.5: the bounded RTO is what doubles.
        let max = config.max.max(config.min);
        let bounded = Duration::from_nanos(self.base_rto).clamp(config.min, max);
        let factor = 1u32.checked_shl(self.backoffs).unwrap_or(u32::MAX);
        bounded
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(max)
    }

    /// Smoothed RTT; `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        (self.srtt != NONE).then(|| Duration::from_nanos(self.srtt))
    }

    /// RTT variation; zero before the first sample.
    pub fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar)
    }

    /// Timeouts since the last RTT sample.
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    /// Starts timing the segment that begins at `seq`, sent at `now`,
    /// unless a segment is being timed already (one measurement at a time).
    pub fn start_timing(&mut self, seq: Seq, now: Duration) {
        if !self.is_timing() {
            (self.timed_seq, self.timed_at) = (seq, nanos(now));
        }
    }

    /// A segment is being timed.
    pub fn is_timing(&self) -> bool {
        self.timed_at != NONE
    }

    /// An acknowledgment up to `ack` arrived at `now`. When it covers the
    /// timed segment, takes the sample and returns `true`.
    pub fn ack_received(&mut self, ack: Seq, now: Duration, config: &RtoConfig) -> bool {
        if self.is_timing() && ack.after(self.timed_seq) {
            let sent_at = Duration::from_nanos(self.timed_at);
            self.stop_timing();
            self.sample_weighted(now.saturating_sub(sent_at), 1, config);
            true
        } else {
            false
        }
    }

    /// Karn's algorithm (RFC 6298 §3): the timed segment was retransmitted,
    /// so its acknowledgment would be ambiguous; stop timing it.
    pub fn invalidate_timing(&mut self) {
        self.stop_timing();
    }

    /// No segment timed (its sequence number cleared too, so that equal
    /// estimates compare equal).
    fn stop_timing(&mut self) {
        (self.timed_seq, self.timed_at) = (Seq(0), NONE);
    }

    /// Takes a measurement from timestamps on one of `expected_samples` ACKs
    /// per RTT (RFC 7323 Appendix G), as [`RtoEstimator::sample_weighted`].
    pub fn sample_weighted(&mut self, rtt: Duration, expected_samples: u32, config: &RtoConfig) {
        let r = nanos(rtt);
        let n = u64::from(expected_samples.max(1));
        match (self.srtt != NONE).then_some(self.srtt) {
            None => {
                // §2.2: the first measurement.
                self.srtt = r;
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                // §2.3, RTTVAR first, with the old SRTT. Appendix G of RFC
                // 7323: alpha = 1/(8n), beta = 1/(4n).
                let delta = srtt.abs_diff(r);
                let rttvar = u128::from(self.rttvar);
                self.rttvar = ((rttvar * u128::from(4 * n - 1) + u128::from(delta))
                    / u128::from(4 * n)) as u64;
                let srtt = u128::from(srtt);
                self.srtt =
                    ((srtt * u128::from(8 * n - 1) + u128::from(r)) / u128::from(8 * n)) as u64;
            }
        }
        self.recompute(config);
        self.backoffs = 0;
    }

    /// RTO = SRTT + max(G, 4·RTTVAR) (§2.3); the clamp is applied by
    /// [`RtoState::rto`].
    fn recompute(&mut self, config: &RtoConfig) {
        let srtt = if self.srtt == NONE { 0 } else { self.srtt };
        let var = nanos(config.granularity).max(self.rttvar.saturating_mul(4));
        self.base_rto = srtt.saturating_add(var);
    }

    /// The retransmission timer expired (RFC 6298 §5.5): RTO doubles, up to
    /// the maximum. The timed segment will be retransmitted, so it is no
    /// longer timed (Karn).
    pub fn backoff(&mut self, config: &RtoConfig) {
        if self.rto(config) < config.max {
            self.backoffs = self.backoffs.saturating_add(1);
        }
        self.stop_timing();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    /// Backoffs are counted until a sample; a segment is timed from
    /// `start_timing` to the ACK that covers it or `invalidate_timing`;
    /// `reset` forgets the estimate and the backoffs.
    #[test]
    fn backoffs_timing_and_reset_are_observable() {
        let ms = Duration::from_millis;
        let mut r = RtoEstimator::new(RtoConfig::default());
        assert!(!r.is_timing());
        r.start_timing(Seq(100), ms(0));
        assert!(r.is_timing());
        r.invalidate_timing();
        assert!(!r.is_timing());
        r.backoff();
        r.backoff();
        assert_eq!(r.backoffs(), 2);
        assert_eq!(r.rto(), ms(4000));
        r.sample(ms(100));
        assert_eq!(r.backoffs(), 0);
        assert_eq!(r.srtt(), Some(ms(100)));
        r.backoff();
        r.reset();
        assert_eq!((r.srtt(), r.backoffs(), r.rto()), (None, 0, ms(1000)));
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn unclamped() -> RtoConfig {
        RtoConfig {
            min: Duration::ZERO,
            max: Duration::from_secs(1000),
            ..RtoConfig::default()
        }
    }

    #[test]
    fn initial_rto_is_one_second() {
        let e = RtoEstimator::new(RtoConfig::default());
        assert_eq!(e.rto(), ms(1000));
        assert_eq!(e.srtt(), None);
    }

    #[test]
    fn replays_rfc6298_arithmetic_by_hand() {
        let mut e = RtoEstimator::new(unclamped());
        // First sample 100 ms: SRTT 100, RTTVAR 50, RTO 100 + 200 = 300.
        e.sample(ms(100));
        assert_eq!(
            (e.srtt(), e.rttvar(), e.rto()),
            (Some(ms(100)), ms(50), ms(300))
        );
        // 200 ms: RTTVAR = 3/4·50 + 1/4·|100 − 200| = 37.5 + 25 = 62.5;
        // SRTT = 7/8·100 + 1/8·200 = 112.5; RTO = 112.5 + 250 = 362.5.
        e.sample(ms(200));
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
        // 112.5 ms: no deviation: RTTVAR = 46.875, SRTT = 112.5,
        // RTO = 112.5 + 187.5 = 300.
        e.sample(Duration::from_micros(112_500));
        assert_eq!(e.rttvar(), Duration::from_micros(46_875));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn granularity_bounds_the_variance_term() {
        let mut e = RtoEstimator::new(RtoConfig {
            granularity: ms(10),
            ..unclamped()
        });
        e.sample(Duration::from_micros(2));
        // 4·RTTVAR = 4 µs < G = 10 ms.
        assert_eq!(e.rto(), Duration::from_micros(2) + ms(10));
    }

    #[test]
    fn clamps_to_min_and_max() {
        let mut e = RtoEstimator::new(RtoConfig::default());
        e.sample(ms(1));
        assert_eq!(e.rto(), ms(200));
        e.sample(Duration::from_secs(100));
        assert_eq!(e.rto(), Duration::from_secs(60));
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_and_a_sample_ends_it() {
        let mut e = RtoEstimator::new(RtoConfig::default());
        e.sample(ms(100));
        assert_eq!(e.rto(), ms(300));
        e.backoff();
        assert_eq!(e.rto(), ms(600));
        e.backoff();
        assert_eq!(e.rto(), ms(1200));
        for _ in 0..100 {
            e.backoff();
        }
        assert_eq!(e.rto(), Duration::from_secs(60));
        assert!(e.backoffs() < 20);
        e.sample(ms(100));
        assert_eq!(e.backoffs(), 0);
        assert!(e.rto() < ms(400));
    }

    #[test]
    fn backoff_doubles_the_bounded_rto() {
        // A 10 ms path: RTO is the 200 ms minimum, and a timeout doubles
        // that, not the 30 ms computed below it.
        let mut e = RtoEstimator::new(RtoConfig::default());
        e.sample(ms(10));
        assert_eq!(e.rto(), ms(200));
        e.backoff();
        assert_eq!(e.rto(), ms(400));
        e.backoff();
        assert_eq!(e.rto(), ms(800));
    }

    #[test]
    fn karn_no_sample_from_a_retransmitted_segment() {
        let mut e = RtoEstimator::new(RtoConfig::default());
        e.start_timing(Seq(100), ms(0));
        e.invalidate_timing();
        assert!(!e.ack_received(Seq(200), ms(50)));
        assert_eq!(e.srtt(), None);
        // A timeout also ends the measurement.
        e.start_timing(Seq(200), ms(60));
        e.backoff();
        assert!(!e.ack_received(Seq(300), ms(500)));
        assert_eq!(e.srtt(), None);
    }

    #[test]
    fn one_measurement_at_a_time_across_the_wrap() {
        let mut e = RtoEstimator::new(unclamped());
        e.start_timing(Seq(u32::MAX - 10), ms(0));
        e.start_timing(Seq(5), ms(10)); // ignored: already timing
        assert!(!e.ack_received(Seq(u32::MAX - 10), ms(20)));
        assert!(e.ack_received(Seq(3), ms(30)));
        assert_eq!(e.srtt(), Some(ms(30)));
        assert!(!e.is_timing());
    }

    #[test]
    fn weighted_samples_move_as_one_sample_per_rtt() {
        let mut e = RtoEstimator::new(unclamped());
        e.sample(ms(100));
        // 8 samples of 200 ms at weight 8 move SRTT about as far as one
        // 200 ms sample at weight 1 (112.5 ms).
        for _ in 0..8 {
            e.sample_weighted(ms(200), 8);
        }
        let srtt = e.srtt().unwrap();
        assert!(srtt > ms(111) && srtt < ms(113), "{srtt:?}");
    }

    quickcheck! {
        fn rto_always_within_bounds(samples: alloc_free::Samples, backoffs: u8) -> bool {
            let mut e = RtoEstimator::new(RtoConfig::default());
            for s in samples.0.iter().take(samples.1) {
                e.sample(Duration::from_micros(u64::from(*s)));
            }
            for _ in 0..backoffs {
                e.backoff();
            }
            let rto = e.rto();
            rto >= ms(200) && rto <= Duration::from_secs(60)
        }

        fn srtt_stays_between_smallest_and_largest_sample(samples: alloc_free::Samples) -> bool {
            let mut e = RtoEstimator::new(unclamped());
            let s = &samples.0[..samples.1.max(1)];
            for v in s {
                e.sample(Duration::from_micros(u64::from(*v)));
            }
            let srtt = e.srtt().unwrap();
            let lo = Duration::from_micros(u64::from(*s.iter().min().unwrap()));
            let hi = Duration::from_micros(u64::from(*s.iter().max().unwrap()));
            srtt >= lo && srtt <= hi
        }
    }

    /// Fixed-size sample lists, since the crate is `no_std` without alloc.
    mod alloc_free {
        #[derive(Clone, Debug)]
        pub(super) struct Samples(pub(super) [u32; 16], pub(super) usize);

        impl quickcheck::Arbitrary for Samples {
            fn arbitrary(g: &mut quickcheck::Gen) -> Self {
                let mut s = [0u32; 16];
                for v in &mut s {
                    *v = u32::arbitrary(g);
                }
                Self(s, usize::arbitrary(g) % 17)
            }
        }
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
