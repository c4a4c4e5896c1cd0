//! Tail loss probes (RFC 8985 §7): when the ACKs stop while data is in
//! flight, send one segment after about two round trips (new data, or the
//! last segment again) instead of waiting for the RTO, so that the ACK or
//! SACK it draws lets RACK find the loss at the tail.

use std::time::Duration;

use vtcp_seq::Seq;

/// RFC 8985 §7.2's WCDelAckT: the worst case of a peer's delayed ACK.
pub(crate) const WORST_DELAYED_ACK: Duration = Duration::from_millis(200);

/// The least a probe waits (Linux's TCP_TIMEOUT_MIN for TLP).
const MIN_PTO: Duration = Duration::from_millis(10);

/// The state of the probe in flight, if any.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tlp {
    /// TLP.end_seq: SND.NXT when the probe went; `None` when no probe is
    /// outstanding.
    pub(crate) end_seq: Option<Seq>,
    /// TLP.is_retrans: the probe sent old data again.
    pub(crate) is_retrans: bool,
    /// The timer fired: the next segment to send is the probe.
    pub(crate) due: bool,
}

/// RFC 8985 §7.2, the probe timeout: 2·SRTT, plus the worst delayed ACK
/// when one segment is in flight (its ACK may be held back); 1 s before
/// any RTT is known.
pub(crate) fn pto(srtt: Option<Duration>, one_segment_in_flight: bool) -> Duration {
    let Some(srtt) = srtt else {
        return Duration::from_secs(1);
    };
    let mut pto = (2 * srtt).max(MIN_PTO);
    if one_segment_in_flight {
        pto += WORST_DELAYED_ACK;
    }
    pto
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_timeout_is_two_round_trips_and_waits_for_a_delayed_ack() {
        let ms = Duration::from_millis;
        assert_eq!(pto(Some(ms(20)), false), ms(40));
        assert_eq!(pto(Some(ms(20)), true), ms(240));
        assert_eq!(pto(Some(ms(1)), false), ms(10));
        assert_eq!(pto(None, false), ms(1000));
    }
}
