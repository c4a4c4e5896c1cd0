//! RACK (RFC 8985 §6): loss detection by time. A segment is lost once a
//! segment sent after it has been delivered and a reordering window has
//! passed, whatever the count of duplicate ACKs. The sent-segment log
//! ([`super::sent`]) holds the times; this is the state RFC 8985 keeps
//! beside them.

use std::time::Duration;

use vtcp_seq::Seq;

use super::sent::{Delivered, SentLog};
use super::{DUP_THRESH, Link, Outcome, Recovery};
use crate::nanos::{NONE, nanos, time};
use crate::timer::Timer;

/// RFC 8985's RACK variables. Times are `u64` nanoseconds, [`NONE`] for
/// none, at half the room of `Duration`s and `Option`s (issue 22); the
/// accessors give them back as they were.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rack {
    /// RACK.xmit_ts, in nanoseconds ([`NONE`] before the first delivery),
    /// and RACK.end_seq: the delivered segment sent last.
    latest: (u64, Seq),
    /// RACK.rtt: that segment's round trip, in nanoseconds.
    rtt: u64,
    /// RACK.min_RTT (the least seen; RFC 8985 allows any estimate), in
    /// nanoseconds; [`NONE`] before the first.
    min_rtt: u64,
    /// RACK.fack: the highest end delivered.
    fack: Option<Seq>,
    /// RACK.reordering_seen.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult: the window, in quarters of min_RTT.
    reo_wnd_mult: u32,
    /// RACK.reo_wnd_persist: recoveries the widened window lasts.
    reo_wnd_persist: u32,
    /// RACK.dsack_round: SND.NXT when a D-SACK last widened the window.
    dsack_round: Option<Seq>,
}

impl Default for Rack {
    fn default() -> Self {
        Self {
            latest: (NONE, Seq(0)),
            rtt: 0,
            min_rtt: NONE,
            fack: None,
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            dsack_round: None,
        }
    }
}

impl Rack {
    /// RACK.xmit_ts and RACK.end_seq, once a segment was delivered.
    fn latest(&self) -> Option<(Duration, Seq)> {
        time(self.latest.0).map(|t| (t, self.latest.1))
    }

    /// RACK.rtt.
    fn rtt(&self) -> Duration {
        Duration::from_nanos(self.rtt)
    }

    /// RACK.min_RTT, once measured.
    fn min_rtt(&self) -> Option<Duration> {
        time(self.min_rtt)
    }

    /// RFC 8985 §6.2 steps 2 and 3, for what one ACK delivered.
    pub(crate) fn on_delivered(&mut self, d: &Delivered, now: Duration) {
        if let Some((xmit, end, retransmitted)) = d.latest {
            let rtt = now.saturating_sub(xmit);
            // Step 2: an ACK of the original of a retransmitted segment
            // says nothing of the retransmission's RTT.
            let spurious = retransmitted && self.min_rtt().is_some_and(|m| rtt < m);
            if !spurious {
                self.rtt = nanos(rtt);
                if !retransmitted {
                    self.min_rtt = nanos(self.min_rtt().map_or(rtt, |m| m.min(rtt)));
                }
                let newer = self
                    .latest()
                    .is_none_or(|(t, e)| xmit > t || (xmit == t && end.after(e)));
                if newer {
                    self.latest = (nanos(xmit), end);
                }
            }
        }
        // Step 3: delivered below what was delivered before.
        if let (Some(low), Some(fack)) = (d.lowest_original_end, self.fack)
            && low.before(fack)
        {
            self.reordering_seen = true;
        }
        if let Some(high) = d.highest_end
            && self.fack.is_none_or(|f| high.after(f))
        {
            self.fack = Some(high);
        }
    }

    /// Step 4's D-SACK part: a D-SACK widens the reordering window by a
    /// quarter of min_RTT, once per round trip, for the next 16
    /// recoveries.
    pub(crate) fn on_ack(&mut self, una: Seq, snd_nxt: Seq, dsack: bool) {
        if self.dsack_round.is_some_and(|r| una.after_eq(r)) {
            self.dsack_round = None;
        }
        if dsack && self.dsack_round.is_none() {
            self.dsack_round = Some(snd_nxt);
            self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
            self.reo_wnd_persist = 16;
        }
    }

    /// Step 4's decay: after 16 recoveries without a D-SACK the window
    /// goes back to a quarter of min_RTT.
    pub(crate) fn on_recovery_exit(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// RFC 8985 §6.2 step 4, RACK_update_reo_wnd: no window while no
    /// reordering was seen and recovery is under way or DupThresh
    /// segments are SACKed; else min(min_RTT/4 · mult, SRTT).
    pub(crate) fn reo_wnd(
        &self,
        in_recovery: bool,
        sacked_segments: u64,
        srtt: Option<Duration>,
    ) -> Duration {
        if !self.reordering_seen && (in_recovery || sacked_segments >= u64::from(DUP_THRESH)) {
            return Duration::ZERO;
        }
        let quarter = self.min_rtt().unwrap_or_default() / 4;
        let wnd = quarter * self.reo_wnd_mult;
        srtt.map_or(wnd, |s| wnd.min(s))
    }

    /// Step 5 over the log: the octets newly marked lost, and when to look
    /// again for the segments not due yet (the reordering timer).
    pub(crate) fn detect_losses(
        &self,
        log: &mut SentLog,
        reo_wnd: Duration,
        now: Duration,
    ) -> (u64, Option<Duration>) {
        match self.latest() {
            Some((xmit, end)) => log.detect_losses(xmit, end, self.rtt(), reo_wnd, now),
            None => (0, None),
        }
    }
}

impl Recovery {
    /// RFC 8985 §6.2 for one ACK: RACK's state from what it delivered and
    /// its D-SACK, the tail probe's outcome, then loss detection. Returns
    /// the octets newly marked lost.
    #[inline]
    pub(super) fn rack_on_ack(
        &mut self,
        link: &mut Link<'_>,
        ack: Seq,
        delivered: &Delivered,
        dsack: bool,
        out: &mut Outcome,
    ) -> u64 {
        self.rack.on_ack(link.snd.buf.una(), link.snd.nxt, dsack);
        self.rack.on_delivered(delivered, link.now);
        self.tlp_on_ack(link, ack, dsack);
        self.rack_detect(link, out)
    }

    /// RACK's reordering timer fired (RFC 8985 §6.3): what time alone
    /// makes lost now is marked, and a first loss starts a recovery.
    pub(crate) fn on_reorder_timer(&mut self, link: &mut Link<'_>) -> Outcome {
        let mut out = Outcome::default();
        self.rack_detect(link, &mut out);
        out
    }

    /// RFC 8985 §6.2 step 5: marks what is lost, arms the reordering timer
    /// for what may be, and starts recovery on a first loss.
    fn rack_detect(&mut self, link: &mut Link<'_>, out: &mut Outcome) -> u64 {
        let sacked = self.sent.sacked_bytes() / u64::from(link.mss.max(1));
        let reo_wnd = self
            .rack
            .reo_wnd(self.in_recovery(), sacked, link.rto.srtt());
        let (lost, due) = self.rack.detect_losses(&mut self.sent, reo_wnd, link.now);
        match due {
            Some(at) => link.timers.set(Timer::RackReorder, at),
            None => link.timers.stop(Timer::RackReorder),
        }
        if lost > 0 && !self.in_recovery() {
            self.enter_recovery(link, out);
        }
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_opens_with_reordering_and_d_sacks_and_closes_again() {
        let ms = Duration::from_millis;
        let mut r = Rack::default();
        let d = Delivered {
            latest: Some((ms(0), Seq(100), false)),
            highest_end: Some(Seq(300)),
            lowest_original_end: Some(Seq(300)),
            sacked: 1,
            ..Default::default()
        };
        r.on_delivered(&d, ms(40));
        assert_eq!(r.min_rtt(), Some(ms(40)));
        // No reordering seen: a quarter of min_RTT before DupThresh SACKs,
        // none from then on or in recovery.
        assert_eq!(r.reo_wnd(false, 1, Some(ms(50))), ms(10));
        assert_eq!(r.reo_wnd(false, 3, Some(ms(50))), ms(0));
        assert_eq!(r.reo_wnd(true, 0, Some(ms(50))), ms(0));
        // A segment delivered below RACK.fack: reordering.
        let late = Delivered {
            latest: Some((ms(1), Seq(200), false)),
            highest_end: Some(Seq(200)),
            lowest_original_end: Some(Seq(200)),
            sacked: 1,
            ..Default::default()
        };
        r.on_delivered(&late, ms(42));
        assert_eq!(r.reo_wnd(true, 9, Some(ms(50))), ms(10));
        // A D-SACK widens it once per round, capped at SRTT.
        r.on_ack(Seq(0), Seq(1000), true);
        r.on_ack(Seq(0), Seq(1000), true);
        assert_eq!(r.reo_wnd(true, 9, Some(ms(50))), ms(20));
        assert_eq!(r.reo_wnd(true, 9, Some(ms(15))), ms(15));
        r.on_ack(Seq(1000), Seq(2000), true);
        assert_eq!(r.reo_wnd(true, 9, Some(ms(50))), ms(30));
        for _ in 0..16 {
            r.on_recovery_exit();
        }
        assert_eq!(r.reo_wnd(true, 9, Some(ms(50))), ms(10));
    }

    #[test]
    fn a_fast_ack_of_a_retransmitted_segment_gives_no_rtt() {
        let ms = Duration::from_millis;
        let mut r = Rack::default();
        let first = Delivered {
            latest: Some((ms(0), Seq(100), false)),
            highest_end: Some(Seq(100)),
            lowest_original_end: Some(Seq(100)),
            sacked: 0,
            ..Default::default()
        };
        r.on_delivered(&first, ms(40));
        // Retransmitted at 100, acknowledged at 101: the ACK was for the
        // original.
        let resent = Delivered {
            latest: Some((ms(100), Seq(200), true)),
            highest_end: Some(Seq(200)),
            lowest_original_end: None,
            sacked: 0,
            ..Default::default()
        };
        r.on_delivered(&resent, ms(101));
        assert_eq!((r.rtt(), r.latest()), (ms(40), Some((ms(0), Seq(100)))));
    }

    /// RACK.xmit_ts and RACK.end_seq (RFC 8985 §6.2 step 2): of segments
    /// sent at the same instant, the one that ends highest. A later ACK
    /// that delivers one of them ending lower leaves them as they were.
    #[test]
    fn of_segments_sent_together_rack_keeps_the_one_ending_highest() {
        let ms = Duration::from_millis;
        let mut r = Rack::default();
        let sacked = |end: u32| Delivered {
            latest: Some((ms(10), Seq(end), false)),
            highest_end: Some(Seq(end)),
            lowest_original_end: Some(Seq(end)),
            sacked: 1,
            ..Default::default()
        };
        r.on_delivered(&sacked(1000), ms(25));
        r.on_delivered(&sacked(500), ms(26));
        assert_eq!(r.latest(), Some((ms(10), Seq(1000))));
        r.on_delivered(&sacked(1500), ms(27));
        assert_eq!(r.latest(), Some((ms(10), Seq(1500))));
    }
}
