//! Times held as `u64` nanoseconds with [`NONE`] for "no time", where an
//! `Option<Duration>` would take twice the room (issue 22's idle memory):
//! the conversion both ways, in one place for every holder (the timer
//! table, RACK, the receive auto-tuner, the connection's own times).

use std::time::Duration;

/// No time recorded.
pub(crate) const NONE: u64 = u64::MAX;

/// `d` in nanoseconds: exact below 584 years, and never [`NONE`].
#[inline]
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos())
        .unwrap_or(NONE - 1)
        .min(NONE - 1)
}

/// The time `ns` holds, `None` for [`NONE`].
#[inline]
pub(crate) fn time(ns: u64) -> Option<Duration> {
    (ns != NONE).then(|| Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_duration_becomes_none_and_times_come_back() {
        assert_eq!(nanos(Duration::MAX), NONE - 1);
        assert_eq!(nanos(Duration::from_nanos(u64::MAX)), NONE - 1);
        assert_eq!(
            time(nanos(Duration::from_millis(7))),
            Some(Duration::from_millis(7))
        );
        assert_eq!(time(NONE), None);
    }
}
