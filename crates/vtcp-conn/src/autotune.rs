//! Receive-window auto-tuning: dynamic right-sizing as Linux does it
//! (`tcp_rcv_space_adjust`). The window offered starts small and grows to
//! twice what the application drained in the last round trip, up to the
//! configured receive buffer, so a fast reader on a long path gets the
//! window its bandwidth-delay product needs and a slow one does not make
//! the sender queue what it cannot take. The ring's memory follows the
//! window, since it grows only as data arrives.
//!
//! Because the window grows on the ACKs of a transfer, a vtcp receiver
//! now does what Linux's does, which is what exposed the duplicate-ACK
//! rule fixed in issue 11: the simulator can show such failures.

use std::time::Duration;

use crate::nanos::{nanos, time};

/// What a round trip must drain before the window first grows: an initial
/// congestion window of full segments (RFC 6928), as Linux starts
/// `rcvq_space.space` at `TCP_INIT_CWND · advmss`. Starting at the whole
/// initial window instead, a sender held at exactly that window drains
/// no more than it per round trip, and the window never grew (a 1 ms path
/// at 10 Gbit/s stayed at 64 KiB, 520 Mbit/s).
const INITIAL_SPACE: usize = 10 * 1460;

/// The receive-side auto-tuner.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RcvAutoTune {
    /// The window may cover this much of the buffer now.
    limit: usize,
    /// The configured buffer: the most it may ever cover.
    max: usize,
    /// Octets the application drained in the best round trip measured.
    space: usize,
    /// Octets drained in total when the current round trip began.
    drained_at_start: u64,
    /// When it began, in nanoseconds (a `Duration` takes twice the room:
    /// issue 22).
    started: u64,
    /// Octets drained in total.
    drained: u64,
    /// The receiver's RTT estimate (from timestamps it sees echoed), in
    /// nanoseconds; [`NO_RTT`] before the first.
    rtt: u64,
}

/// No RTT estimate yet.
const NO_RTT: u64 = crate::nanos::NONE;

impl RcvAutoTune {
    /// A tuner for a buffer of `max` octets; `enabled` false fixes the
    /// window at the whole buffer (the behaviour before auto-tuning).
    pub(crate) fn new(max: usize, initial: usize, enabled: bool, now: Duration) -> Self {
        let limit = if enabled { initial.min(max) } else { max };
        Self {
            limit,
            max,
            space: limit.min(INITIAL_SPACE),
            drained_at_start: 0,
            started: nanos(now),
            drained: 0,
            rtt: NO_RTT,
        }
    }

    /// The most of the buffer the window may cover now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Whether an RTT sample is of any use: auto-tuning on and the window
    /// not at the buffer's size yet.
    #[inline]
    pub(crate) fn wants_rtt(&self) -> bool {
        self.limit < self.max
    }

    /// A round-trip sample seen by the receiver (a timestamp echoed in a
    /// segment that carried data), kept as Linux does: the smallest of the
    /// recent ones, smoothed toward new ones.
    pub(crate) fn on_rtt_sample(&mut self, rtt: Duration) {
        // The same `Duration` arithmetic as ever (its division rounds
        // seconds and nanoseconds apart), only stored narrower.
        self.rtt = nanos(match self.rtt() {
            None => rtt,
            Some(old) if rtt < old => rtt,
            Some(old) => (old * 7 + rtt) / 8,
        });
        debug_assert_ne!(self.rtt, NO_RTT);
    }

    fn rtt(&self) -> Option<Duration> {
        time(self.rtt)
    }

    /// The application drained `n` octets at `now`; `fallback_rtt` is the
    /// sender's SRTT, for a receiver that sees no timestamps. Returns
    /// whether the window limit grew.
    pub(crate) fn on_drained(
        &mut self,
        n: usize,
        now: Duration,
        fallback_rtt: Option<Duration>,
    ) -> bool {
        self.drained += n as u64;
        if self.limit >= self.max {
            return false;
        }
        let Some(rtt) = self.rtt().or(fallback_rtt) else {
            return false;
        };
        if now.saturating_sub(Duration::from_nanos(self.started)) < rtt {
            return false;
        }
        let copied = (self.drained - self.drained_at_start) as usize;
        self.drained_at_start = self.drained;
        self.started = nanos(now);
        if copied <= self.space {
            return false;
        }
        self.space = copied;
        // Twice a round trip's worth: the sender may be in slow start,
        // doubling each round trip.
        let limit = copied.saturating_mul(2).min(self.max);
        if limit > self.limit {
            self.limit = limit;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_grows_to_twice_what_is_drained_per_round_trip_up_to_the_buffer() {
        let ms = Duration::from_millis;
        let mut t = RcvAutoTune::new(4 << 20, crate::config::INITIAL_RECV_WINDOW, true, ms(0));
        assert_eq!(t.limit(), 64 * 1024);
        t.on_rtt_sample(ms(20));
        // Within one round trip: no measurement yet.
        assert!(!t.on_drained(60_000, ms(10), None));
        // After it: 100,000 octets drained in 20 ms.
        assert!(t.on_drained(40_000, ms(20), None));
        assert_eq!(t.limit(), 200_000);
        // A slower round trip does not shrink it.
        assert!(!t.on_drained(10_000, ms(45), None));
        assert_eq!(t.limit(), 200_000);
        // It stops at the buffer.
        assert!(t.on_drained(10 << 20, ms(70), None));
        assert_eq!(t.limit(), 4 << 20);
        assert!(!t.on_drained(50 << 20, ms(100), None));
    }

    /// A sender held at exactly the initial window: a round trip drains
    /// all of it, no more, and the window still grows (it doubles each
    /// round trip from there).
    #[test]
    fn a_window_limited_sender_still_opens_the_window() {
        let ms = Duration::from_millis;
        let initial = crate::config::INITIAL_RECV_WINDOW;
        let mut t = RcvAutoTune::new(4 << 20, initial, true, ms(0));
        t.on_rtt_sample(ms(1));
        let mut limit = t.limit();
        for rtt in 1..=6 {
            t.on_drained(limit, ms(rtt), None);
            assert_eq!(t.limit(), (2 * limit).min(4 << 20), "round trip {rtt}");
            limit = t.limit();
        }
    }

    /// Linux's starting `rcvq_space`: a round trip that drains less than
    /// ten full segments does not grow a window larger than that.
    #[test]
    fn a_round_trip_must_drain_ten_segments_before_the_window_grows() {
        let ms = Duration::from_millis;
        let mut t = RcvAutoTune::new(1 << 20, 20_000, true, ms(0));
        t.on_rtt_sample(ms(10));
        // 12,000 octets in a round trip: more than the window's half, less
        // than ten segments.
        assert!(!t.on_drained(12_000, ms(10), None));
        assert_eq!(t.limit(), 20_000);
        assert!(t.on_drained(INITIAL_SPACE + 1, ms(20), None));
        assert_eq!(t.limit(), 2 * (INITIAL_SPACE + 1));
    }

    /// The receiver's RTT: the smallest sample at once, a larger one
    /// weighed in an eighth (20 ms, then 40 ms: 22.5 ms), which is how long
    /// a round trip of draining lasts.
    #[test]
    fn a_larger_rtt_sample_is_weighed_in_an_eighth() {
        let ms = Duration::from_millis;
        let mut t = RcvAutoTune::new(1 << 20, 20_000, true, ms(0));
        t.on_rtt_sample(ms(20));
        t.on_rtt_sample(ms(40));
        assert_eq!(t.rtt(), Some(Duration::from_micros(22_500)));
        assert!(!t.on_drained(100_000, ms(22), None));
        assert!(t.on_drained(0, ms(23), None));
        // A smaller sample is taken whole.
        t.on_rtt_sample(ms(5));
        assert_eq!(t.rtt(), Some(ms(5)));
    }

    #[test]
    fn without_auto_tuning_or_an_rtt_the_window_stays() {
        let ms = Duration::from_millis;
        let t = RcvAutoTune::new(1 << 20, crate::config::INITIAL_RECV_WINDOW, false, ms(0));
        assert_eq!(t.limit(), 1 << 20);
        let mut t = RcvAutoTune::new(1 << 20, crate::config::INITIAL_RECV_WINDOW, true, ms(0));
        assert!(!t.on_drained(500_000, ms(1000), None));
        // The sender's SRTT serves when no timestamps are seen.
        assert!(t.on_drained(500_000, ms(2000), Some(ms(50))));
        assert_eq!(t.limit(), 1 << 20);
    }

    /// `on_drained` says whether the limit grew: a round trip that drains
    /// more than any before, but only half the window, leaves the limit
    /// where it was (twice the drain is the window already), and says so.
    #[test]
    fn a_round_trip_that_drains_half_the_window_grows_nothing() {
        let ms = Duration::from_millis;
        let mut t = RcvAutoTune::new(1 << 20, 40_000, true, ms(0));
        t.on_rtt_sample(ms(10));
        assert!(!t.on_drained(20_000, ms(10), None));
        assert_eq!(t.limit(), 40_000);
        // One octet more in the next round trip grows it.
        assert!(t.on_drained(20_001, ms(20), None));
        assert_eq!(t.limit(), 40_002);
    }
}
