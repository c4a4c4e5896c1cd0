//! HighSpeed TCP (RFC 3649).
//!
//! Up to Low_Window (38 segments) it is NewReno. Above, each window of
//! ACKs adds a(w) segments instead of one, and a loss takes away a fraction
//! b(w) of the window instead of half (§5):
//!
//! - b(w) = (High_Decrease − 0.5)·(log w − log Low_Window) /
//!   (log High_Window − log Low_Window) + 0.5
//! - p(w) = exp((log w − log Low_Window) / (log High_Window − log
//!   Low_Window) · (log High_P − log Low_P) + log Low_P)
//! - a(w) = w²·p(w)·2·b(w) / (2 − b(w))
//!
//! with Low_Window 38, High_Window 83000, High_P 10^-7, High_Decrease 0.1 and
//! Low_P = 1.5/Low_Window² (Standard TCP's loss rate at Low_Window, which
//! makes a(38) = 1).
//!
//! No floating point runs here: a(w), rounded to the nearest integer, comes
//! from [`A_UPPER_BOUNDS`], a table derived from those formulas (its test
//! recomputes it); b(w) is computed on each loss with a fixed-point
//! logarithm.

use core::time::Duration;

use crate::{CongestionController, Window, delegate_window};

/// RFC 3649 Low_Window, in segments.
pub const LOW_WINDOW: u32 = 38;
/// RFC 3649 High_Window, in segments.
pub const HIGH_WINDOW: u32 = 83_000;

/// `A_UPPER_BOUNDS[k]` is the largest window, in segments, whose a(w)
/// rounds to k + 1. Above the last entry a(w) is 73.
pub const A_UPPER_BOUNDS: [u32; 72] = [
    70, 155, 263, 391, 540, 707, 893, 1097, 1319, 1559, 1816, 2092, 2386, 2697, 3027, 3376, 3743,
    4129, 4534, 4959, 5403, 5868, 6354, 6860, 7389, 7939, 8512, 9107, 9727, 10370, 11039, 11733,
    12454, 13202, 13978, 14782, 15617, 16482, 17379, 18309, 19273, 20273, 21310, 22385, 23500,
    24657, 25857, 27104, 28397, 29742, 31138, 32591, 34102, 35675, 37315, 39024, 40807, 42671,
    44620, 46661, 48802, 51051, 53418, 55914, 58553, 61350, 64325, 67501, 70906, 74578, 78564,
    82927,
];

/// log2(x) in Q16.16 fixed point, for x ≥ 1 (0 for x = 0).
fn log2_q16(x: u64) -> u32 {
    if x == 0 {
        return 0;
    }
    let int = 63 - x.leading_zeros();
    // The mantissa in [1, 2) as Q1.31.
    let mut m = if int >= 31 {
        x >> (int - 31)
    } else {
        x << (31 - int)
    };
    let mut frac = 0u32;
    for bit in (0..16).rev() {
        m = (m * m) >> 31;
        if m >= 1 << 32 {
            m >>= 1;
            frac |= 1 << bit;
        }
    }
    (int << 16) | frac
}

/// b(w) in Q0.16 (65536 = 1), for a window of `w` segments.
pub fn b_q16(w: u32) -> u32 {
    const HALF: u32 = 1 << 15;
    // 0.5 − High_Decrease = 0.4.
    const SPAN: u64 = 26_214;
    if w <= LOW_WINDOW {
        return HALF;
    }
    let lo = log2_q16(u64::from(LOW_WINDOW));
    let hi = log2_q16(u64::from(HIGH_WINDOW));
    let x = log2_q16(u64::from(w)).min(hi) - lo;
    HALF - (SPAN * u64::from(x) / u64::from(hi - lo)) as u32
}

/// a(w) rounded to the nearest integer, at least 1.
pub fn a(w: u32) -> u32 {
    A_UPPER_BOUNDS.partition_point(|&bound| bound < w) as u32 + 1
}

/// HighSpeed TCP (RFC 3649), over NewReno's recovery machinery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HighSpeed {
    window: Window,
    /// a(w) − 1 for the window last seen, so that the per-ACK lookup moves
    /// at most a step or two (as the window changes slowly).
    ai: usize,
}

impl HighSpeed {
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
            ai: 0,
        }
    }

    fn segments(&self) -> u32 {
        self.window.cwnd / self.window.mss
    }

    /// a(w) for the current window, walking the table from the last index.
    fn increase(&mut self) -> u32 {
        let w = self.segments();
        while self.ai < A_UPPER_BOUNDS.len() && w > A_UPPER_BOUNDS[self.ai] {
            self.ai += 1;
        }
        while self.ai > 0 && w <= A_UPPER_BOUNDS[self.ai - 1] {
            self.ai -= 1;
        }
        self.ai as u32 + 1
    }

    /// The window after a loss: (1 − b(w)) of `flight_size`, b from the
    /// current window. At or below Low_Window this is exactly half, as
    /// NewReno.
    fn decrease(&self, flight_size: u32) -> u32 {
        let keep = 65_536 - u64::from(b_q16(self.segments()));
        ((u64::from(flight_size) * keep) >> 16) as u32
    }
}

impl CongestionController for HighSpeed {
    delegate_window!();

    fn on_ack(&mut self, bytes_acked: u32) {
        let rest = self.window.on_ack(bytes_acked);
        if rest > 0 {
            let a = self.increase();
            self.window.avoid_congestion(rest, a);
        }
    }

    fn on_timeout(&mut self, flight_size: u32) {
        let ssthresh = self.decrease(flight_size);
        self.window.on_timeout(ssthresh);
    }

    fn on_congestion_event(&mut self, flight_size: u32) {
        let ssthresh = self.decrease(flight_size);
        self.window.enter_recovery(ssthresh);
    }

    /// RFC 6582 §3.2 step 5, as NewReno: no a(w) during a recovery.
    fn on_partial_ack(&mut self, bytes_acked: u32, _: Duration) {
        self.window.on_partial_ack(bytes_acked);
    }

    fn name(&self) -> &'static str {
        "highspeed"
    }
}

#[cfg(test)]
mod tests {
    /// log2 in Q16.16 against f64's, for small and for huge arguments
    /// (the mantissa is shifted right above 2^31, left below).
    #[test]
    fn log2_q16_agrees_with_f64() {
        for x in [
            1u64,
            2,
            3,
            38,
            83_000,
            (1 << 31) - 1,
            1 << 31,
            (1 << 40) + 12_345,
            u64::MAX,
        ] {
            let want = (x as f64).log2() * 65_536.0;
            let got = f64::from(super::log2_q16(x));
            assert!((got - want).abs() <= 2.0, "log2({x}): {got} vs {want}");
        }
        assert_eq!(super::log2_q16(0), 0);
    }

    extern crate std;
    use super::*;
    use crate::NewReno;
    use crate::model::{Op, invariants_hold};
    use quickcheck::quickcheck;
    use std::vec::Vec;

    const MSS: u32 = 1000;

    /// RFC 3649 §5 in floating point, the reference for the table.
    /// a(w) steps up just past each of the table's bounds, walking the
    /// table up from the start and down again from the top.
    #[test]
    fn a_of_w_changes_just_past_each_bound() {
        let mut cc = HighSpeed::new(MSS);
        let check = |cc: &mut HighSpeed, k: usize| {
            let bound = A_UPPER_BOUNDS[k];
            cc.window.cwnd = bound * MSS;
            assert_eq!(cc.increase(), k as u32 + 1, "a({bound})");
            cc.window.cwnd = (bound + 1) * MSS;
            assert_eq!(cc.increase(), k as u32 + 2, "a({})", bound + 1);
        };
        for k in 0..A_UPPER_BOUNDS.len() {
            check(&mut cc, k);
        }
        for k in (0..A_UPPER_BOUNDS.len()).rev() {
            check(&mut cc, k);
        }
    }

    fn reference(w: f64) -> (f64, f64) {
        let (lw, hw, hp, hd) = (38f64, 83000f64, 1e-7f64, 0.1f64);
        let lp = 1.5 / (lw * lw);
        let t = (w.ln() - lw.ln()) / (hw.ln() - lw.ln());
        let b = (hd - 0.5) * t + 0.5;
        let p = (t * (hp.ln() - lp.ln()) + lp.ln()).exp();
        (w * w * p * 2.0 * b / (2.0 - b), b)
    }

    #[test]
    fn table_is_what_the_formulas_give() {
        for w in LOW_WINDOW..=HIGH_WINDOW {
            let (aw, _) = reference(f64::from(w));
            assert_eq!(a(w), (aw.round() as u32).max(1), "a({w})");
        }
    }

    #[test]
    fn agrees_with_rfc3649_appendix_b() {
        // (w, a(w), b(w)) rows of the RFC's Appendix B table.
        let rows = [
            (38, 1, 0.50),
            (118, 2, 0.44),
            (221, 3, 0.41),
            (347, 4, 0.38),
            (495, 5, 0.37),
            (663, 6, 0.35),
            (851, 7, 0.34),
            (1058, 8, 0.33),
            (1284, 9, 0.32),
            (1529, 10, 0.31),
            (1793, 11, 0.30),
            (83000, 72, 0.10),
        ];
        for (w, aw, bw) in rows {
            let got_a = a(w);
            let got_b = f64::from(b_q16(w)) / 65536.0;
            assert!(got_a.abs_diff(aw) <= 1, "a({w}) = {got_a}, RFC {aw}");
            assert!((got_b - bw).abs() < 0.0075, "b({w}) = {got_b}, RFC {bw}");
        }
    }

    #[test]
    fn fixed_point_b_matches_floating_point() {
        for w in (LOW_WINDOW..=HIGH_WINDOW).step_by(97) {
            let (_, b) = reference(f64::from(w));
            let got = f64::from(b_q16(w)) / 65536.0;
            assert!((got - b).abs() < 0.001, "b({w}) = {got}, want {b}");
        }
        assert_eq!(b_q16(10), 32768);
        assert_eq!(b_q16(1_000_000), b_q16(HIGH_WINDOW));
    }

    #[test]
    fn large_windows_grow_faster_and_fall_less() {
        let mut cc = HighSpeed::new(MSS);
        // b(w) is that of the window when the loss is detected.
        cc.window.cwnd = 2000 * MSS;
        cc.on_congestion_event(2000 * MSS);
        cc.on_recovery_end();
        // w = 1000·(1 − b(2000)) ≈ 1000·0.7 …; a(w) there is about 8.
        let w = cc.send_window() / MSS;
        let expected_b = f64::from(b_q16(2000)) / 65536.0;
        assert_eq!(w, ((2000.0 * (1.0 - expected_b)) as u32));
        let a_here = a(w);
        assert!(a_here > 5, "a({w}) = {a_here}");
        // One window of ACKs adds a(w) segments.
        let before = cc.send_window();
        for _ in 0..w {
            cc.on_ack(MSS);
        }
        // a(w)/w per ACK as w itself grows: the last step may fall just
        // short within the window.
        let grown = (cc.send_window() - before) / MSS;
        assert!(
            (a_here - 1..=a_here).contains(&grown),
            "grew {grown}, a = {a_here}"
        );
    }

    #[test]
    fn the_per_ack_index_tracks_the_window_both_ways() {
        let mut cc = HighSpeed::new(MSS);
        for w in [10_000u32, 50, 80_000, 3000, 100_000, 38] {
            cc.window.cwnd = w * MSS;
            assert_eq!(cc.increase(), a(w), "w = {w}");
        }
    }

    quickcheck! {
        fn invariants(mss: u16, ops: Vec<Op>) -> bool {
            invariants_hold(&mut HighSpeed::new(u32::from(mss).max(1)), &ops)
        }

        // Below Low_Window, HighSpeed is NewReno, step for step.
        fn newreno_below_low_window(ops: Vec<Op>) -> bool {
            let mut hs = HighSpeed::new(MSS);
            let mut nr = NewReno::new(MSS);
            for op in ops {
                if hs.send_window() > LOW_WINDOW * MSS {
                    break;
                }
                match op {
                    Op::Ack(b) => { hs.on_ack(b % (4 * MSS)); nr.on_ack(b % (4 * MSS)); }
                    Op::PartialAck(b) => {
                        hs.on_partial_ack(b % (4 * MSS), Duration::ZERO);
                        nr.on_partial_ack(b % (4 * MSS), Duration::ZERO);
                    }
                    Op::DupAck => { hs.on_recovery_dup_ack(); nr.on_recovery_dup_ack(); }
                    Op::CongestionEvent(f) => {
                        let f = f % (LOW_WINDOW * MSS);
                        hs.on_congestion_event(f);
                        nr.on_congestion_event(f);
                    }
                    Op::RecoveryEnd => { hs.on_recovery_end(); nr.on_recovery_end(); }
                    Op::Timeout => { let f = hs.send_window(); hs.on_timeout(f); nr.on_timeout(f); }
                    Op::RepeatedTimeout => { hs.on_repeated_timeout(); nr.on_repeated_timeout(); }
                    Op::Undo(c, t) => {
                        let (c, t) = (c % (LOW_WINDOW * MSS), t % (LOW_WINDOW * MSS));
                        hs.undo(c, t);
                        nr.undo(c, t);
                    }
                    Op::Rtt(_) | Op::Tick(_) | Op::SetMss(_) => {}
                }
                if hs.window != nr.window {
                    return false;
                }
            }
            true
        }
    }
}
