//! CUBIC (RFC 9438), in integer arithmetic.
//!
//! After a congestion event the window follows
//! W_cubic(t) = C·(t − K)³ + W_max (§4.2), concave up to the window where the
//! loss happened and convex beyond it, with C = 0.4 and a multiplicative
//! decrease β = 0.7 (§4.6). Fast convergence (§4.7) lowers W_max when
//! losses come before the window recovers. In the Reno-friendly region
//! (§4.3) the window follows W_est, an estimate of what Reno with the same
//! β would reach, when that is larger.
//!
//! Times are microseconds and windows octets; C·(t − K)³ is computed in
//! `i128`, K with an integer cube root on each congestion event.

use core::time::Duration;

use crate::{CongestionController, Window, delegate_window};

/// β_cubic = 0.7 as a fraction.
const BETA: (u64, u64) = (7, 10);
/// C = 0.4 as a fraction.
const C: (u64, u64) = (2, 5);
/// α_cubic = 3·(1 − β)/(1 + β) = 9/17 (§4.3).
const ALPHA: (u64, u64) = (9, 17);

/// Integer cube root: the largest r with r³ ≤ x.
fn icbrt(x: u128) -> u64 {
    let (mut lo, mut hi) = (0u64, 1u64 << 43);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if u128::from(mid).pow(3) <= x {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Microseconds to ticks of 2^-16 s (t · 2^16 / 10^6 = t · 68719 / 2^20).
/// Below 2^64 · 2^17 / 2^20 = 2^61 for any `us`: the cast loses nothing
/// and the result fits an `i128` sum with room to spare.
fn ticks(us: u64) -> u64 {
    let t = (u128::from(us) * 68_719) >> 20;
    debug_assert!(t < 1 << 61);
    t as u64
}

/// The epoch that starts with the first ACK in congestion avoidance after
/// a congestion event (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Epoch {
    start: Duration,
    /// K in microseconds.
    k_us: u64,
    /// K in ticks of 2^-16 s.
    k_ticks: u64,
    /// W_max for this epoch, in octets (at least the window at its start).
    w_max: u64,
    /// W_est (§4.3), in octets.
    w_est: u64,
}

/// CUBIC congestion control (RFC 9438) over NewReno's recovery machinery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cubic {
    window: Window,
    /// W_max: the window before the last reduction, in octets (§4.7
    /// adjusts it for fast convergence). Zero before any loss.
    w_max: u64,
    epoch: Option<Epoch>,
    /// Increase owed toward the next octets of window (fractions carried).
    owed: u64,
    now: Duration,
    srtt: Duration,
}

impl Cubic {
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
            w_max: 0,
            epoch: None,
            owed: 0,
            now: Duration::ZERO,
            srtt: Duration::from_millis(100),
        }
    }

    /// W_max after the last congestion event, in octets.
    pub fn w_max(&self) -> u64 {
        self.w_max
    }

    /// K of the current epoch; `None` outside one.
    pub fn k(&self) -> Option<Duration> {
        self.epoch.map(|e| Duration::from_micros(e.k_us))
    }

    /// A congestion event (§4.6, §4.7): records W_max and returns the new
    /// ssthresh for `flight_size`.
    fn congestion_event(&mut self, flight_size: u32) -> u32 {
        let cwnd = u64::from(self.window.cwnd);
        // §4.7 fast convergence: a loss before the window got back to
        // W_max means capacity shrank; release some of it.
        self.w_max = if cwnd < self.w_max {
            cwnd * (BETA.1 + BETA.0) / (2 * BETA.1)
        } else {
            cwnd
        };
        self.epoch = None;
        self.owed = 0;
        (u64::from(flight_size) * BETA.0 / BETA.1) as u32
    }

    /// W_cubic(t) in octets, `t` in ticks of 2^-16 s into `epoch` (§4.2).
    fn w_cubic(&self, epoch: &Epoch, t: i128) -> i128 {
        // Capped at 2^26 ticks (17 minutes) so that d³ · C·mss stays well
        // within i128.
        let d = (t - i128::from(epoch.k_ticks)).clamp(-(1 << 26), 1 << 26);
        // C·mss·d³ with d in 2^-16 s: (d³ · c_mss) >> 64, where c_mss is
        // C·mss scaled by 2^16. Multiplications and shifts only.
        let c_mss = (u64::from(self.window.mss) << 16) * C.0 / C.1;
        let grow = (d * d * d * i128::from(c_mss)) >> 64;
        i128::from(epoch.w_max) + grow
    }

    fn avoid_congestion(&mut self, bytes_acked: u32) {
        let cwnd = u64::from(self.window.cwnd);
        let mss = u64::from(self.window.mss);
        let now = self.now;
        let w_max = self.w_max;
        let epoch = *self.epoch.get_or_insert_with(|| {
            // §4.2 eq. 2: K = cbrt((W_max − cwnd_epoch) / C), in segments
            // and seconds; here in octets and microseconds.
            let w_max = w_max.max(cwnd);
            let gap = u128::from(w_max - cwnd);
            let k_us = icbrt(
                gap * u128::from(C.1) * 1_000_000_000_000_000_000
                    / (u128::from(C.0) * u128::from(mss)),
            );
            Epoch {
                start: now,
                k_us,
                k_ticks: ticks(k_us),
                w_max,
                w_est: cwnd,
            }
        });
        let t = i128::from(ticks(micros(now.saturating_sub(epoch.start))));
        // §4.2: aim at the window one RTT ahead, between cwnd and 1.5·cwnd.
        let target = self
            .w_cubic(&epoch, t + i128::from(ticks(micros(self.srtt))))
            .clamp(i128::from(cwnd), i128::from(cwnd + cwnd / 2)) as u64;

        // §4.3: W_est grows by α per window of ACKs (α = 1 once past W_max).
        let alpha = if epoch.w_est >= epoch.w_max {
            (1, 1)
        } else {
            ALPHA
        };
        let w_est = epoch.w_est + alpha.0 * mss * u64::from(bytes_acked) / (alpha.1 * cwnd.max(1));
        if let Some(e) = self.epoch.as_mut() {
            e.w_est = w_est;
        }

        if self.w_cubic(&epoch, t) < i128::from(w_est) {
            // Reno-friendly region: at least what Reno would have.
            self.window.cwnd = self
                .window
                .cwnd
                .max(u32::try_from(w_est).unwrap_or(u32::MAX));
        } else {
            // §4.4–4.5: (target − cwnd)/cwnd per SMSS acknowledged. What is
            // owed stays below cwnd, and the product below 2^63.
            self.owed += (target - cwnd) * u64::from(bytes_acked);
            let steps = self.owed / cwnd.max(1);
            self.owed -= steps * cwnd.max(1);
            let grow = u32::try_from(steps).unwrap_or(u32::MAX);
            self.window.cwnd = self.window.cwnd.saturating_add(grow);
        }
    }
}

impl CongestionController for Cubic {
    delegate_window!();

    fn on_ack(&mut self, bytes_acked: u32) {
        let rest = self.window.on_ack(bytes_acked);
        if rest > 0 {
            self.avoid_congestion(rest);
        }
    }

    fn on_ack_at(&mut self, bytes_acked: u32, now: Duration) {
        self.now = self.now.max(now);
        self.on_ack(bytes_acked);
    }

    fn on_rtt_sample(&mut self, srtt: Duration) {
        self.srtt = srtt;
    }

    /// RFC 9438 §5.8: W_cubic(t) does not count time in which the window
    /// went unused; the epoch moves forward by it, as Linux's
    /// `bictcp_cwnd_event` moves `epoch_start` after an idle period.
    fn on_window_unused(&mut self, now: Duration) {
        let unused = now.saturating_sub(self.now);
        if let Some(e) = self.epoch.as_mut() {
            e.start += unused;
        }
        self.now = self.now.max(now);
    }

    fn on_timeout(&mut self, flight_size: u32) {
        let ssthresh = self.congestion_event(flight_size);
        self.window.on_timeout(ssthresh);
    }

    fn on_congestion_event(&mut self, flight_size: u32) {
        let ssthresh = self.congestion_event(flight_size);
        self.window.enter_recovery(ssthresh);
    }

    /// RFC 6582 §3.2 step 5, as NewReno: the window deflates and no
    /// epoch starts; the clock moves on.
    fn on_partial_ack(&mut self, bytes_acked: u32, now: Duration) {
        self.now = self.now.max(now);
        self.window.on_partial_ack(bytes_acked);
    }

    fn name(&self) -> &'static str {
        "cubic"
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::model::{Op, invariants_hold};
    use quickcheck::quickcheck;
    use std::vec::Vec;

    const MSS: u32 = 1000;
    const RTT: Duration = Duration::from_millis(100);

    fn after_loss_at(segments: u32) -> Cubic {
        let mut cc = Cubic::new(MSS);
        cc.on_rtt_sample(RTT);
        cc.window.cwnd = segments * MSS;
        cc.on_congestion_event(segments * MSS);
        cc.on_recovery_end();
        cc
    }

    /// Acknowledges one window's worth of data per `step` of time, for
    /// `duration`, starting at `from`.
    fn run(cc: &mut Cubic, from: Duration, duration: Duration, step: Duration) -> Duration {
        let mut now = from;
        while now < from + duration {
            let segments = cc.send_window() / MSS;
            for _ in 0..segments {
                cc.on_ack_at(MSS, now);
            }
            now += step;
        }
        now
    }

    /// RFC 9438 §5.8: ten seconds in which the window went unused do not
    /// count in W_cubic(t): the window after them is the one a sender
    /// without the pause has, where counting them would have jumped it
    /// past W_max.
    #[test]
    fn time_the_window_went_unused_is_left_out() {
        let (mut busy, mut paused) = (after_loss_at(100), after_loss_at(100));
        let t = Duration::from_secs(1);
        let second = Duration::from_secs(1);
        run(&mut busy, t, 2 * second, RTT);
        // One second of use, ten of ACKs with the window unused (one per
        // RTT), one more of use.
        let mut now = run(&mut paused, t, second, RTT);
        while now < t + 11 * second {
            paused.on_window_unused(now);
            now += RTT;
        }
        run(&mut paused, now, second, RTT);
        assert_eq!(paused.send_window(), busy.send_window());
        assert!(busy.send_window() < 100 * MSS, "still below W_max");
        // Without the call, the ten seconds count.
        let mut counted = after_loss_at(100);
        let now = run(&mut counted, t, second, RTT);
        run(&mut counted, now + 10 * second, second, RTT);
        assert!(counted.send_window() > busy.send_window());
    }

    #[test]
    fn integer_cube_root() {
        for x in [0u128, 1, 7, 8, 26, 27, 1000, 999, u128::from(u64::MAX)] {
            let r = u128::from(icbrt(x));
            assert!(r.pow(3) <= x && (r + 1).pow(3) > x, "{x}");
        }
    }

    #[test]
    fn multiplicative_decrease_is_beta() {
        let cc = after_loss_at(100);
        assert_eq!(cc.ssthresh(), 70 * MSS);
        assert_eq!(cc.send_window(), 70 * MSS);
        assert_eq!(cc.w_max(), u64::from(100 * MSS));
    }

    #[test]
    fn k_is_the_cube_root_of_the_gap_over_c() {
        let mut cc = after_loss_at(100);
        cc.on_ack_at(MSS, Duration::from_secs(1));
        // K = cbrt((100 − 70) / 0.4) = cbrt(75) = 4.2172 s.
        let k = cc.k().unwrap().as_secs_f64();
        assert!((k - 4.2172).abs() < 0.001, "K = {k}");
    }

    #[test]
    fn window_returns_to_w_max_at_k_then_probes_beyond() {
        let mut cc = after_loss_at(100);
        let start = Duration::from_secs(10);
        // K = 4.217 s; with 100 ms RTTs Reno's estimate grows only about
        // 22 segments by then, so the cubic curve rules.
        let now = run(&mut cc, start, Duration::from_millis(4200), RTT);
        let at_k = cc.send_window() / MSS;
        assert!((97..=103).contains(&at_k), "cwnd at K: {at_k} segments");
        run(&mut cc, now, Duration::from_secs(3), RTT);
        assert!(
            cc.send_window() / MSS > 105,
            "convex region grows past W_max"
        );
    }

    #[test]
    fn concave_growth_slows_near_w_max() {
        let mut cc = after_loss_at(100);
        let t1 = run(&mut cc, Duration::from_secs(1), Duration::from_secs(2), RTT);
        let first = cc.send_window() - 70 * MSS;
        let before = cc.send_window();
        run(&mut cc, t1, Duration::from_secs(2), RTT);
        let second = cc.send_window() - before;
        assert!(first > 2 * second, "{first} then {second}");
    }

    #[test]
    fn short_rtts_follow_reno() {
        // With 1 ms RTTs Reno's 9/17 segment per RTT outgrows the cubic
        // curve, and the window follows it (§4.3).
        let mut cc = after_loss_at(100);
        let rtt = Duration::from_millis(1);
        cc.on_rtt_sample(rtt);
        run(
            &mut cc,
            Duration::from_secs(1),
            Duration::from_millis(34),
            rtt,
        );
        let grown = cc.send_window() / MSS - 70;
        assert!(
            (16..=20).contains(&grown),
            "grew {grown} segments in 34 RTTs"
        );
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        let mut cc = after_loss_at(100);
        cc.window.cwnd = 80 * MSS;
        cc.on_congestion_event(80 * MSS);
        // W_max = 80 · (1 + 0.7) / 2 = 68 segments.
        assert_eq!(cc.w_max(), u64::from(68 * MSS));
        assert_eq!(cc.ssthresh(), 56 * MSS);
    }

    #[test]
    fn timeout_resets_to_one_segment() {
        let mut cc = after_loss_at(100);
        let flight = cc.send_window();
        cc.on_timeout(flight);
        assert_eq!(cc.send_window(), MSS);
        assert_eq!(cc.ssthresh(), 49 * MSS);
        assert!(cc.k().is_none());
    }

    /// W_cubic(t) of RFC 9438 eq. 1, in octets, `t` in seconds since the
    /// epoch began, for a loss at 100 segments (K = cbrt(75) s).
    fn reference_w_cubic(t: f64) -> f64 {
        let k = 75f64.cbrt();
        (0.4 * (t - k).powi(3) + 100.0) * f64::from(MSS)
    }

    /// Starts the epoch after a loss at 100 segments with an ACK at 1 s and
    /// returns the window growth of one more ACK `after` the epoch began.
    fn growth_of_one_ack(srtt: Duration, after: Duration) -> (u32, f64) {
        let mut cc = after_loss_at(100);
        cc.on_rtt_sample(srtt);
        let start = Duration::from_secs(1);
        cc.on_ack_at(MSS, start);
        let before = cc.send_window();
        cc.on_ack_at(MSS, start + after);
        (cc.send_window() - before, f64::from(before))
    }

    /// §4.4: each ACK adds (target − cwnd)/cwnd SMSS, where the target is
    /// W_cubic one RTT ahead (here 2 s into the epoch with a 300 ms RTT:
    /// W_cubic(2.3 s) ≈ 97.2 segments).
    #[test]
    fn each_ack_closes_the_gap_to_w_cubic_one_rtt_ahead() {
        let srtt = Duration::from_millis(300);
        let (grew, cwnd) = growth_of_one_ack(srtt, Duration::from_secs(2));
        let target = reference_w_cubic(2.3);
        let want = (target - cwnd) / cwnd * f64::from(MSS);
        assert!(
            (f64::from(grew) - want).abs() <= 3.0,
            "grew {grew} octets, RFC 9438: {want:.1}"
        );
    }

    /// §4.2: the target is at most 1.5·cwnd, however far W_cubic has run
    /// ahead (30 s past K): half an SMSS per ACK.
    #[test]
    fn the_target_is_at_most_one_and_a_half_windows() {
        let (grew, _) = growth_of_one_ack(RTT, Duration::from_secs(30));
        assert!((499..=500).contains(&grew), "grew {grew} octets");
    }

    /// §4.2: the epoch begins with the first ACK in congestion avoidance,
    /// not with ACKs in slow start after a timeout.
    #[test]
    fn slow_start_after_a_timeout_starts_no_epoch() {
        let mut cc = after_loss_at(100);
        cc.on_timeout(70 * MSS);
        for i in 0..10 {
            cc.on_ack_at(MSS, Duration::from_millis(1000 + i));
        }
        assert!(cc.send_window() < cc.ssthresh());
        assert!(cc.k().is_none());
    }

    /// §4.7: fast convergence applies only when the window is below
    /// W_max; a loss exactly at W_max keeps it.
    #[test]
    fn a_loss_at_w_max_keeps_it() {
        let mut cc = after_loss_at(100);
        cc.window.cwnd = 100 * MSS;
        cc.on_congestion_event(100 * MSS);
        assert_eq!(cc.w_max(), u64::from(100 * MSS));
    }

    /// §4.3: the Reno-friendly region is where W_cubic is *less* than
    /// W_est; where they are equal the cubic rule (§4.4) applies, whose
    /// target (W_cubic one RTT ahead, no higher here) adds nothing yet.
    #[test]
    fn equal_estimates_follow_the_cubic_rule() {
        let mut cc = after_loss_at(100);
        cc.window.cwnd = 70_000;
        cc.window.ssthresh = 70_000;
        let now = Duration::from_secs(5);
        // d = 0: W_cubic(t) = W_max = 70,007, and W_est reaches 70,007
        // with this ACK (70,000 + 9/17 · 1000 · 1000 / 70,000).
        cc.epoch = Some(Epoch {
            start: now,
            k_us: 0,
            k_ticks: 0,
            w_max: 70_007,
            w_est: 70_000,
        });
        cc.on_ack_at(MSS, now);
        assert_eq!(cc.epoch.map(|e| e.w_est), Some(70_007));
        assert_eq!(cc.send_window(), 70_000);
    }

    #[test]
    fn ticks_are_two_to_the_minus_16_seconds() {
        assert_eq!(ticks(1_000_000), 65_535);
        assert_eq!(ticks(0), 0);
        // The largest time converts without wrapping: 2^64 µs · 2^16 / 10^6.
        let want = u64::MAX as f64 * 65_536.0 / 1e6;
        assert!((ticks(u64::MAX) as f64 / want - 1.0).abs() < 1e-5);
    }

    quickcheck! {
        fn invariants(mss: u16, ops: Vec<Op>) -> bool {
            invariants_hold(&mut Cubic::new(u32::from(mss).max(1)), &ops)
        }
    }
}
