//! Tail loss probes (RFC 8985 §7): when the ACKs stop while data is in
//! flight, send one segment after about two round trips (new data, or the
//! last segment again) instead of waiting for the RTO, so that the ACK or
//! SACK it draws lets RACK find the loss at the tail.

use std::time::Duration;

use vtcp_seq::Seq;

use super::{Link, Recovery};
use crate::timer::Timer;

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
fn pto(srtt: Option<Duration>, one_segment_in_flight: bool) -> Duration {
    let Some(srtt) = srtt else {
        return Duration::from_secs(1);
    };
    let mut pto = (2 * srtt).max(MIN_PTO);
    if one_segment_in_flight {
        pto += WORST_DELAYED_ACK;
    }
    pto
}

impl Recovery {
    /// RFC 8985 §7.2: while data is in flight outside recovery and no
    /// probe is out, the probe timer runs, PTO after the latest send or
    /// ACK (the caller says when: after an ACK of new data, and once per
    /// burst of sends). `synchronized`: the connection is past its
    /// handshake.
    #[inline]
    pub(crate) fn arm_tlp(&mut self, link: &mut Link<'_>, synchronized: bool) {
        let flight = link.snd.flight();
        // RFC 8985 §7.2: not in RTO recovery (nor in fast recovery, below).
        if self.in_rto_recovery(link.snd.una()) {
            link.timers.stop(Timer::Tlp);
            return;
        }
        self.rto_recovery_until = None;
        if !link.rack
            || self.in_recovery()
            || self.tlp.end_seq.is_some()
            || flight == 0
            || !synchronized
        {
            link.timers.stop(Timer::Tlp);
            return;
        }
        // RFC 8985 §7.2: no later than the RTO would fire; the probe then
        // stands in for it.
        let mut at = link.now + pto(link.rto.srtt(), flight <= link.mss as usize);
        if let Some(rto) = link.timers.get(Timer::Rto) {
            at = at.min(rto);
        }
        link.timers.set(Timer::Tlp, at);
    }

    /// The probe timer fired: the next segment sent is the probe
    /// ([`take_probe`](Self::take_probe)), and the RTO restarts from now
    /// (§7.3). Only with something to probe with (new data, or a segment
    /// not SACKed; a FIN alone is left to the RTO, which is then not put
    /// off).
    pub(crate) fn on_pto(&mut self, link: &mut Link<'_>) {
        let something = link.snd.buf.pending() > 0 || self.sent.last_unsacked().is_some();
        if link.rack && !self.in_recovery() && link.snd.flight() > 0 && something {
            self.tlp.due = true;
            link.timers.set(Timer::Rto, link.now + link.rto());
        }
    }

    /// Whether a probe is due (once: the caller sends it now).
    #[inline]
    pub(crate) fn take_probe(&mut self) -> bool {
        std::mem::take(&mut self.tlp.due)
    }

    /// RFC 8985 §7.3: the segment a probe sends again when no new data
    /// can go, the last one not SACKed.
    pub(crate) fn probe_segment(&self) -> Option<(Seq, usize)> {
        self.sent.last_unsacked()
    }

    /// A probe went, new data or old (`retransmission`, TLP.is_retrans),
    /// with SND.NXT at `snd_nxt` (TLP.end_seq): the ACK that covers it
    /// tells what the probe found.
    pub(crate) fn on_probe_sent(&mut self, retransmission: bool, snd_nxt: Seq) {
        self.tlp.is_retrans = retransmission;
        self.tlp.end_seq = Some(snd_nxt);
    }

    /// RFC 8985 §7.4: what the ACKs say of a tail probe. A probe that sent
    /// old data again and was acknowledged without a D-SACK repaired a
    /// loss, which gets the congestion response a fast recovery would
    /// have made (a congestion event and its end at once); a D-SACK says
    /// nothing was lost.
    #[inline]
    pub(super) fn tlp_on_ack(&mut self, link: &mut Link<'_>, ack: Seq, dsack: bool) {
        let Some(end) = self.tlp.end_seq else {
            return;
        };
        if dsack {
            self.tlp.end_seq = None;
        } else if ack.after_eq(end) {
            if self.tlp.is_retrans && !self.in_recovery() {
                let flight = (link.snd.flight() as u32).max(link.mss);
                link.cc.on_congestion_event(flight);
                link.cc.on_recovery_end();
            }
            self.tlp.end_seq = None;
        }
    }

    /// A recovery began: RACK's marks say what to resend, and no probe
    /// goes during it.
    pub(super) fn stop_probe(&mut self, link: &mut Link<'_>) {
        link.timers.stop(Timer::Tlp);
        self.tlp.due = false;
    }

    /// A timeout: no probe is out or due.
    pub(super) fn forget_probe(&mut self, link: &mut Link<'_>) {
        self.tlp = Tlp::default();
        link.timers.stop(Timer::Tlp);
    }
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
