//! The connection's timers: a table of named deadlines, one per timer,
//! instead of loose optional fields (as quinn-proto's `TimerTable`).
//! [`TimerTable::next`] is what `Conn::poll_timeout` reports;
//! `Conn::handle_timeout` takes the expired ones in [`Timer::ALL`]'s order.

use std::time::Duration;

use crate::nanos::{nanos, time};

/// A timer of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// TIME-WAIT's 2·MSL (RFC 9293 §3.10.7.4).
    TimeWait,
    /// Tail loss probe (RFC 8985 §7).
    Tlp,
    /// Retransmission timeout (RFC 6298).
    Rto,
    /// RACK's reordering timer (RFC 8985 §6.3).
    RackReorder,
    /// Delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2).
    DelayedAck,
    /// Zero-window probe, and the override of sender-side SWS avoidance
    /// (RFC 9293 §3.8.6.1, §3.8.6.2.1).
    Persist,
    /// Keepalive (RFC 1122 §4.2.3.6).
    Keepalive,
    /// The pacer lets the next segment of data go (`crate::pacing`).
    Pace,
}

impl Timer {
    /// Every timer, in the order expired ones are handled: TIME-WAIT first
    /// (it ends the connection), then a tail loss probe (which, capped at
    /// the RTO's deadline, stands in for it and restarts it), then the
    /// RTO, then the others.
    pub(crate) const ALL: [Self; 8] = [
        Self::TimeWait,
        Self::Tlp,
        Self::Rto,
        Self::RackReorder,
        Self::DelayedAck,
        Self::Persist,
        Self::Keepalive,
        Self::Pace,
    ];

    const fn index(self) -> usize {
        self as usize
    }
}

/// One deadline per [`Timer`]; `None` when it is not armed.
/// Each timer's deadline in nanoseconds, `UNARMED` when stopped: 8 octets
/// a timer where `Option<Duration>` took 16 (issue 22). A deadline past
/// 584 years is held at that (the clocks here start at zero).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerTable {
    at: [u64; Timer::ALL.len()],
}

const UNARMED: u64 = crate::nanos::NONE;

impl Default for TimerTable {
    fn default() -> Self {
        Self {
            at: [UNARMED; Timer::ALL.len()],
        }
    }
}

impl TimerTable {
    #[inline]
    pub(crate) fn set(&mut self, timer: Timer, at: Duration) {
        self.at[timer.index()] = nanos(at);
    }

    #[inline]
    pub(crate) fn stop(&mut self, timer: Timer) {
        self.at[timer.index()] = UNARMED;
    }

    pub(crate) fn stop_all(&mut self) {
        self.at = [UNARMED; Timer::ALL.len()];
    }

    #[inline]
    pub(crate) fn is_armed(&self, timer: Timer) -> bool {
        self.at[timer.index()] != UNARMED
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Duration> {
        time(self.at[timer.index()])
    }

    pub(crate) fn next(&self) -> Option<Duration> {
        time(self.at.iter().copied().min()?)
    }

    #[inline]
    pub(crate) fn expired(&mut self, timer: Timer, now: Duration) -> bool {
        let slot = &mut self.at[timer.index()];
        if *slot != UNARMED && u128::from(*slot) <= now.as_nanos() {
            *slot = UNARMED;
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
    fn the_table_reports_the_earliest_and_expires_only_what_is_due() {
        let ms = Duration::from_millis;
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Rto, ms(200));
        t.set(Timer::DelayedAck, ms(40));
        t.set(Timer::Keepalive, ms(7_200_000));
        assert_eq!(t.next(), Some(ms(40)));
        assert!(!t.expired(Timer::Rto, ms(100)));
        assert!(t.expired(Timer::DelayedAck, ms(100)));
        assert!(!t.is_armed(Timer::DelayedAck));
        assert_eq!(t.next(), Some(ms(200)));
        t.set(Timer::Rto, ms(400));
        assert_eq!(t.get(Timer::Rto), Some(ms(400)));
        t.stop(Timer::Rto);
        assert_eq!(t.next(), Some(ms(7_200_000)));
        t.stop_all();
        assert_eq!(t.next(), None);
        assert!(Timer::ALL.iter().all(|&x| !t.is_armed(x)));
    }
}
