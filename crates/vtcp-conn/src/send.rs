//! The send side's sequence space (RFC 9293 §3.3.1): ISS, SND.NXT, the
//! highest SND.NXT reached, the peer's window and the segments that last
//! updated it, the send buffer, and where the SYN and our FIN stand.

use vtcp_buf::SendBuf;
use vtcp_seq::Seq;

use crate::cwnd_use::CwndUse;

/// What the sender owns.
#[derive(Debug)]
pub(crate) struct SendSide {
    /// ISS.
    pub(crate) iss: Seq,
    /// SND.NXT, SYN and FIN included.
    pub(crate) nxt: Seq,
    /// The highest SND.NXT ever reached (it moves back after a timeout).
    pub(crate) max: Seq,
    /// SND.WND, scaled.
    pub(crate) wnd: u32,
    /// SND.WL1: the sequence number of the segment that last set SND.WND.
    pub(crate) wl1: Seq,
    /// SND.WL2: its acknowledgment number.
    pub(crate) wl2: Seq,
    /// The largest window the peer ever offered (RFC 5961 §5.2).
    pub(crate) max_wnd: u32,
    /// The data: unacknowledged, unsent, and the SACK scoreboard.
    pub(crate) buf: SendBuf,
    /// Our SYN was acknowledged.
    pub(crate) syn_acked: bool,
    /// The application closed its side: a FIN follows the data.
    pub(crate) fin_queued: bool,
    /// The FIN went (it goes again after a timeout's rewind).
    pub(crate) fin_sent: bool,
    /// The FIN was acknowledged.
    pub(crate) fin_acked: bool,
    /// The end of the latest segment sent shorter than the MSS (Linux's
    /// snd_sml), for Minshall's Nagle.
    pub(crate) short_end: Option<Seq>,
    /// The end of the latest zero-window probe's octet, sent beyond
    /// SND.NXT, until the next ACK.
    pub(crate) probe_end: Option<Seq>,
    /// Whether the congestion window limited sending (RFC 7661).
    pub(crate) cwnd_use: CwndUse,
}

impl SendSide {
    /// Nothing sent; the first data octet will be ISS + 1.
    pub(crate) fn new(iss: Seq, buffer: usize) -> Self {
        Self {
            iss,
            nxt: iss,
            max: iss,
            wnd: 0,
            wl1: Seq(0),
            wl2: Seq(0),
            max_wnd: 0,
            buf: SendBuf::new(buffer, iss + 1),
            syn_acked: false,
            fin_queued: false,
            fin_sent: false,
            fin_acked: false,
            short_end: None,
            probe_end: None,
            cwnd_use: CwndUse::new(iss),
        }
    }

    /// SND.UNA, SYN and FIN included.
    #[inline]
    pub(crate) fn una(&self) -> Seq {
        if !self.syn_acked {
            self.iss
        } else if self.fin_acked {
            self.buf.tail() + 1
        } else {
            self.buf.una()
        }
    }

    /// Octets in flight: sent and not acknowledged (SYN and FIN included).
    #[inline]
    pub(crate) fn flight(&self) -> usize {
        let una = self.una();
        if self.nxt.before(una) {
            0
        } else {
            self.nxt.distance_from(una) as usize
        }
    }

    /// A segment shorter than the MSS is sent and not acknowledged.
    #[inline]
    pub(crate) fn short_unacked(&self) -> bool {
        self.short_end
            .is_some_and(|end| end.after(self.una()) && end.before_eq(self.nxt))
    }

    /// An ACK up to `ack` arrived: Minshall's short segment, once
    /// acknowledged, is forgotten. Kept, its end would come round again
    /// after 2^32 octets and hold a short segment back as if it were
    /// unacknowledged.
    pub(crate) fn forget_acked_short(&mut self, ack: Seq) {
        if self.short_end.is_some_and(|end| ack.after_eq(end)) {
            self.short_end = None;
        }
    }

    /// A timeout turned out spurious (RFC 4015): sending resumes with data
    /// never sent, from the highest SND.NXT reached, rather than going back
    /// N from SND.UNA (the FIN counts as sent again if it was).
    pub(crate) fn resume_after_undo(&mut self) {
        if self.nxt.before(self.max) {
            self.buf.resume_to(self.max);
            self.nxt = self.buf.nxt();
            if self.fin_queued && self.max == self.buf.tail() + 1 {
                self.fin_sent = true;
                self.nxt = self.max;
            }
        }
    }

    /// RFC 9293 §3.10.7.4: a segment newer than the last window update
    /// (`seq`, `ack`) sets SND.WND to `wnd`. Returns whether the window
    /// grew.
    pub(crate) fn update_window(&mut self, seq: Seq, ack: Seq, wnd: u32) -> bool {
        if self.wl1.before(seq) || (self.wl1 == seq && self.wl2.before_eq(ack)) {
            let opened = wnd > self.wnd;
            self.wnd = wnd;
            self.wl1 = seq;
            self.wl2 = ack;
            self.max_wnd = self.max_wnd.max(wnd);
            return opened;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short segment acknowledged and 2^32 octets later: the old end
    /// lies inside the flight again, and must not count as a short
    /// segment unacknowledged.
    #[test]
    fn an_acknowledged_short_segment_does_not_come_back_after_2_32() {
        let mut s = SendSide::new(Seq(1000), 1024);
        s.syn_acked = true;
        s.buf.write(&[0; 200]);
        s.buf.advance_sent(100);
        s.nxt = s.buf.nxt();
        s.short_end = Some(Seq(1101));
        assert!(s.short_unacked());
        s.buf.acknowledge(Seq(1101));
        s.forget_acked_short(Seq(1101));
        assert!(!s.short_unacked());
        assert_eq!(s.short_end, None);
        // 2^32 octets later the same sequence numbers are in flight.
        s.short_end = Some(Seq(1101));
        s.forget_acked_short(Seq(1050));
        assert!(s.short_end.is_some(), "not yet acknowledged");
    }
}
