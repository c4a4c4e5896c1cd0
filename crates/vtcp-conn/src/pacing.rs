//! Pacing: segments released no faster than the controller's rate.
//!
//! A controller that asks for a pacing rate
//! ([`vtcp_cc::CongestionController::pacing_rate`]) gets its segments of
//! data spread over time: each one moves the earliest time of the next by
//! its length over the rate, and after a pause up to a send quantum
//! ([`vtcp_cc::CongestionController::send_quantum`]) goes at once, so that
//! a sender that was idle does not lose its due (Linux's internal pacing
//! and its `fq` qdisc do the same with their quantum). The engine stays
//! sans-IO: `poll_transmit` holds data back while [`Pacer::ready`] is
//! false, and the connection's pacing timer (`poll_timeout`) says when to
//! come back, so every driver paces without busy loops.
//!
//! Pure ACKs, SYNs, FINs without data and RSTs are not paced.

use std::time::Duration;

/// When the next segment of data may go.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pacer {
    next: Duration,
}

/// How long `octets` take at `rate` octets per second (at least a
/// nanosecond per segment; a rate of zero is taken as one octet a second).
fn time_for(octets: u64, rate: u64) -> Duration {
    let ns = u128::from(octets) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX).max(1))
}

impl Pacer {
    /// Whether a segment may go at `now`.
    #[inline]
    pub(crate) fn ready(&self, now: Duration) -> bool {
        self.next <= now
    }

    /// The earliest time the next segment may go.
    pub(crate) fn release_time(&self) -> Duration {
        self.next
    }

    /// A segment of `len` octets went at `now` at `rate` octets per second
    /// with bursts of up to `quantum` octets.
    pub(crate) fn on_sent(&mut self, now: Duration, len: usize, rate: u64, quantum: u32) {
        // After a pause, credit for at most one quantum.
        let floor = now.saturating_sub(time_for(u64::from(quantum), rate));
        if self.next < floor {
            self.next = floor;
        }
        self.next += time_for(len as u64, rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At 1 MB/s, 1000-octet segments go one a millisecond once the
    /// quantum's burst is spent, and a pause earns one quantum, no more.
    #[test]
    fn releases_at_the_rate_after_a_burst_of_one_quantum() {
        let mut p = Pacer::default();
        let rate = 1_000_000;
        let start = Duration::from_secs(10);
        let mut now = start;
        let mut sent = Vec::new();
        while sent.len() < 12 {
            if p.ready(now) {
                p.on_sent(now, 1000, rate, 3000);
                sent.push(now);
            } else {
                now = p.release_time();
            }
        }
        // A quantum of three segments plus one at once, then one a ms.
        assert_eq!(&sent[..4], &[start; 4]);
        for (i, t) in sent[4..].iter().enumerate() {
            assert_eq!(*t, start + Duration::from_millis(i as u64 + 1));
        }
        // An hour of silence earns no more than a quantum.
        let later = now + Duration::from_secs(3600);
        let mut burst = 0;
        while p.ready(later) {
            p.on_sent(later, 1000, rate, 3000);
            burst += 1;
        }
        assert_eq!(burst, 4);
    }

    #[test]
    fn extreme_rates_do_not_overflow() {
        let mut p = Pacer::default();
        p.on_sent(Duration::ZERO, 65_535, 0, u32::MAX);
        assert!(!p.ready(Duration::from_secs(1000)));
        let mut q = Pacer::default();
        q.on_sent(Duration::MAX / 2, 65_535, u64::MAX, u32::MAX);
        assert!(q.ready(Duration::MAX / 2 + Duration::from_nanos(1)));
    }
}
