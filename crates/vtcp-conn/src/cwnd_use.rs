//! Whether the sender used its congestion window: the window grows only
//! when it limited what was sent.
//!
//! RFC 5681 lets cwnd grow on every ACK; a sender held back by the
//! application or the peer's window then inflates it without bound (a
//! clean 6 GiB transfer ended with cwnd at 2^32 − 1), and a window nobody
//! tested is no estimate of the path. RFC 7661 §4.1 and Linux
//! (`tcp_is_cwnd_limited`, `tcp_cwnd_validate`) grow it only while it is
//! used. vtcp follows Linux's rule, for every controller (the engine
//! simply does not report an ACK to the controller's growth when the
//! window was not used):
//!
//! - over each window of data (from the SND.NXT of the last check until
//!   SND.UNA passes it), remember whether sending was held back by cwnd
//!   (less than a full segment of room left), else the most octets in
//!   flight;
//! - the window is used when sending was held back, or, in slow start,
//!   when cwnd is less than twice the most in flight (so slow start still
//!   doubles what was actually sent each round trip).
//!
//! Recovery is not gated: partial ACKs keep their RFC 6582 meaning.

use vtcp_seq::Seq;

/// The measurement over the current window of data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CwndUse {
    /// Sending was held back by the congestion window in this window.
    limited: bool,
    /// The most octets in flight seen in this window (when not limited).
    max_flight: usize,
    /// SND.NXT when this window began: once SND.UNA reaches it, the next
    /// observation starts a new one.
    window_end: Seq,
}

impl CwndUse {
    /// Nothing sent yet, from `nxt`.
    pub(crate) fn new(nxt: Seq) -> Self {
        Self {
            limited: false,
            max_flight: 0,
            window_end: nxt,
        }
    }

    /// The sender looked at its windows with `flight` octets out of `cwnd`
    /// and segments of `mss`: `held_back` when the congestion window left
    /// less than a segment of room while data waited. As Linux's
    /// `tcp_cwnd_validate`: a new window of data, a limit, or (while not
    /// limited) a larger flight replaces the record.
    pub(crate) fn observe(&mut self, held_back: bool, flight: usize, una: Seq, nxt: Seq) {
        if una.after_eq(self.window_end) || held_back || (!self.limited && flight > self.max_flight)
        {
            self.limited = held_back;
            self.max_flight = flight;
            self.window_end = nxt;
        }
    }

    /// Whether an ACK may grow a window of `cwnd` octets: it was used
    /// (held sending back in this window or the last), or, in slow start,
    /// it is less than twice the most in flight (Linux's
    /// `tcp_is_cwnd_limited`).
    pub(crate) fn may_grow(&self, cwnd: u32, slow_start: bool) -> bool {
        self.limited || (slow_start && (cwnd as usize) < 2 * self.max_flight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An application that keeps 10 segments in flight under a window of
    /// 100: slow start grows the window to twice that flight and stops.
    #[test]
    fn an_application_limited_sender_stops_growing_at_twice_its_flight() {
        let mss = 1000usize;
        let mut u = CwndUse::new(Seq(0));
        let mut cwnd = 10 * mss as u32;
        let mut una = Seq(0);
        for round in 0..20u32 {
            let nxt = una + 10 * mss as u32;
            u.observe(false, 10 * mss, una, nxt);
            if u.may_grow(cwnd, true) {
                cwnd += 10 * mss as u32; // slow start: one MSS per MSS acked
            }
            una = nxt;
            assert!(
                cwnd <= 20 * mss as u32 + 10 * mss as u32,
                "round {round}: {cwnd}"
            );
        }
        assert_eq!(cwnd, 20 * mss as u32);
        // In congestion avoidance, not growing at all.
        assert!(!u.may_grow(cwnd, false));
    }

    /// A sender held back by its window grows it; the record lasts until
    /// SND.UNA passes the window's end, then a window without the limit
    /// clears it.
    #[test]
    fn a_limit_lasts_one_window() {
        let mut u = CwndUse::new(Seq(0));
        u.observe(true, 5000, Seq(0), Seq(5000));
        assert!(u.may_grow(5000, false));
        // The ACKs of that window: a smaller flight does not clear it.
        u.observe(false, 2000, Seq(3000), Seq(5000));
        assert!(u.may_grow(5000, false));
        // SND.UNA reached the window's end: a new window, not limited.
        u.observe(false, 1000, Seq(5000), Seq(6000));
        assert!(!u.may_grow(5000, false));
        assert!(u.may_grow(1999, true) && !u.may_grow(2000, true));
    }

    /// Within one window of data a larger flight raises the record while
    /// sending is not held back (slow start may then grow to twice it),
    /// and leaves a limit already seen in place.
    #[test]
    fn a_larger_flight_raises_the_record_but_not_over_a_limit() {
        let mut u = CwndUse::new(Seq(0));
        u.observe(false, 1000, Seq(0), Seq(1000));
        assert!(!u.may_grow(2000, true));
        u.observe(false, 3000, Seq(500), Seq(3500));
        assert!(u.may_grow(5999, true) && !u.may_grow(6000, true));
        // A limit in the same window, then a larger flight not limited:
        // the limit stands until SND.UNA passes the window's end.
        u.observe(true, 4000, Seq(600), Seq(4600));
        u.observe(false, 8000, Seq(700), Seq(8700));
        assert!(u.may_grow(100_000, false));
    }

    /// Across the sequence wrap the windows still end where they should.
    #[test]
    fn windows_end_across_the_wrap() {
        let start = Seq(u32::MAX - 1000);
        let mut u = CwndUse::new(start);
        u.observe(true, 4000, start, start + 4000);
        u.observe(false, 100, start + 3999, start + 4000);
        assert!(u.may_grow(4000, false), "still in the limited window");
        u.observe(false, 100, start + 4000, start + 4100);
        assert!(!u.may_grow(4000, false), "a new window past the wrap");
    }

    /// Linux's `tcp_cwnd_validate`: within a window of data, a flight
    /// larger than any before raises the record, and slow start may grow
    /// the window to twice it.
    #[test]
    fn a_larger_flight_within_the_window_raises_the_record() {
        let mut u = CwndUse::new(Seq(0));
        u.observe(false, 1000, Seq(0), Seq(1000));
        assert!(!u.may_grow(2000, true));
        u.observe(false, 3000, Seq(0), Seq(3000));
        assert!(u.may_grow(5999, true) && !u.may_grow(6000, true));
    }
}
