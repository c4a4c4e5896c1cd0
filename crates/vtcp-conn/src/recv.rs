//! The receive side (RFC 9293 §3.3.1): IRS, the receive buffer and
//! RCV.NXT, the right edge advertised, the peer's FIN, what the window
//! offers (with auto-tuning), and the ACKs owed.

use std::time::Duration;

use vtcp_buf::RecvBuf;
use vtcp_seq::Seq;

use crate::autotune::RcvAutoTune;

/// What the receiver owns.
#[derive(Debug)]
pub(crate) struct RecvSide {
    /// IRS.
    pub(crate) irs: Seq,
    /// The data: in order, and held out of order.
    pub(crate) buf: RecvBuf,
    /// The peer's FIN, once seen.
    pub(crate) peer_fin: Option<Seq>,
    /// RCV.NXT has moved past the peer's FIN.
    pub(crate) fin_consumed: bool,
    /// The right edge of the window last advertised (RCV.NXT + RCV.WND).
    pub(crate) adv_right: Seq,
    /// Opened by a SYN to a listener (a passive open).
    pub(crate) passive: bool,
    /// The acknowledgment number of the latest ACK sent (RFC 7323's
    /// Last.ACK.sent).
    pub(crate) last_ack_sent: Seq,
    /// Receive-window auto-tuning.
    pub(crate) autotune: RcvAutoTune,
    /// The TSecr of the receiver's latest RTT sample.
    pub(crate) last_tsecr_sampled: u32,
    /// An ACK is owed at once.
    pub(crate) ack_now: bool,
    /// Full segments received since the latest ACK (RFC 1122 §4.2.3.2).
    pub(crate) unacked_segments: u32,
    /// The application closed (not half-closed): nothing more is read.
    pub(crate) closed_by_app: bool,
}

impl RecvSide {
    /// Nothing received yet.
    pub(crate) fn new(buffer: usize, initial: usize, auto_tune: bool, now: Duration) -> Self {
        // What the buffer can hold: auto-tuning's limit must not exceed it.
        let buffer = buffer.min(vtcp_buf::MAX_CAPACITY);
        Self {
            irs: Seq(0),
            buf: RecvBuf::new(buffer, Seq(0)),
            peer_fin: None,
            fin_consumed: false,
            adv_right: Seq(0),
            passive: false,
            last_ack_sent: Seq(0),
            autotune: RcvAutoTune::new(buffer, initial, auto_tune, now),
            last_tsecr_sampled: 0,
            ack_now: false,
            unacked_segments: 0,
            closed_by_app: false,
        }
    }

    /// RCV.NXT, the peer's FIN included once reached.
    #[inline]
    pub(crate) fn nxt(&self) -> Seq {
        self.buf.nxt() + u32::from(self.fin_consumed)
    }

    /// The window last advertised (RCV.WND).
    /// Zero once RCV.NXT reaches the right edge (or passes it, by a FIN
    /// at the edge): the distance would wrap to nearly 2^32.
    pub(crate) fn wnd(&self) -> u32 {
        let nxt = self.nxt();
        if self.adv_right.after(nxt) {
            self.adv_right.distance_from(nxt).min(1 << 30)
        } else {
            0
        }
    }

    /// The receive window: room in the buffer, within what auto-tuning
    /// offers now.
    pub(crate) fn window(&self) -> usize {
        self.buf
            .window()
            .min(self.autotune.limit().saturating_sub(self.buf.readable()))
    }

    /// The window field to advertise with shift `wscale`, never moving
    /// the right edge left (RFC 9293 §3.8.6.2.2, RFC 7323 §2.4), and
    /// with receiver SWS avoidance for segments of `smss`.
    pub(crate) fn advertise(&mut self, wscale: u8, smss: u32) -> u16 {
        let nxt = self.nxt();
        let avail = self.window() as u32;
        // The window last advertised (below 2^30: the field is 16 bits
        // and the shift at most 14, so RCV.WND's cap never applies).
        let prev = self.wnd();
        // Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): move the right edge
        // only by at least min(half the buffer, one MSS), or to all of the
        // buffer; never move it left.
        let limit = self.autotune.limit() as u32;
        let step = (limit / 2).min(smss);
        let wnd = if avail >= prev + step || avail == limit {
            avail.max(prev)
        } else {
            prev
        };
        // The scale's granularity rounds the window down; where that would
        // pull the right edge left (RCV.NXT moved by less than 2^wscale
        // since), round up instead (RFC 7323 §2.4; Linux's
        // tcp_select_window aligns up the same way): at most 2^wscale − 1
        // octets past the buffer are offered, and trimmed if they come.
        let mut field = (wnd >> wscale).min(65_535);
        if field << wscale < prev {
            field = prev.div_ceil(1 << wscale).min(65_535);
        }
        let right = nxt + (field << wscale);
        if right.after(self.adv_right) || self.adv_right.before(nxt) {
            self.adv_right = right;
        }
        field as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    quickcheck! {
        /// RFC 9293 §3.8.6 (SHLD-14), RFC 7323 §2.4: whatever arrives and
        /// whatever is read, the right edge advertised (RCV.NXT plus the
        /// field scaled) never moves left.
        fn the_right_edge_never_moves_left(ops: Vec<(bool, u16)>, shift: u8, start: u32) -> bool {
            let shift = shift % 8;
            let mut rx = RecvSide::new(64 * 1024, 16 * 1024, false, Duration::ZERO);
            rx.buf = RecvBuf::new(64 * 1024, Seq(start));
            let mut right = None::<Seq>;
            let mut out = vec![0u8; 70_000];
            for (arrive, n) in ops {
                let n = usize::from(n);
                if arrive {
                    // In-order data within what was offered.
                    let n = n.min(rx.window());
                    rx.buf.insert(rx.nxt(), &out[..n]);
                } else {
                    rx.buf.read(&mut out[..n]);
                }
                let field = rx.advertise(shift, 1460);
                let edge = rx.nxt() + (u32::from(field) << shift);
                if right.is_some_and(|r| edge.before(r)) {
                    return false;
                }
                right = Some(edge);
            }
            true
        }
    }

    /// RCV.WND is zero once RCV.NXT reaches the right edge, and stays zero
    /// when a FIN at the edge takes RCV.NXT one past it: the distance
    /// across the wrap must not become a window of 2^30.
    #[test]
    fn the_window_closes_at_the_right_edge_and_past_it() {
        for start in [0, (1 << 31) - 10, u32::MAX - 10] {
            let mut rx = RecvSide::new(64 * 1024, 16 * 1024, false, Duration::ZERO);
            rx.buf = RecvBuf::new(64 * 1024, Seq(start));
            rx.adv_right = Seq(start) + 100;
            assert_eq!(rx.wnd(), 100);
            rx.buf.insert(Seq(start), &[0; 100]);
            assert_eq!(rx.wnd(), 0, "at the edge");
            rx.fin_consumed = true;
            assert_eq!(rx.wnd(), 0, "a FIN past the edge");
        }
    }

    /// Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): reading less than
    /// min(Fr·RCV.BUFF, Eff.snd.MSS), Fr a half, leaves the window
    /// advertised as it was; reading that much moves the right edge to
    /// all the room there is. An MSS for a large buffer, half of a buffer
    /// smaller than two MSS.
    #[test]
    fn the_window_moves_only_by_an_mss_or_half_the_buffer() {
        // (buffer, MSS, octets received, the step)
        for (buffer, mss, filled, step) in [(8192, 1000, 8000, 1000), (2000, 1460, 2000, 1000)] {
            let mut rx = RecvSide::new(buffer, buffer, false, Duration::ZERO);
            rx.buf = RecvBuf::new(buffer, Seq(0));
            assert_eq!(usize::from(rx.advertise(0, mss)), buffer);
            rx.buf.insert(Seq(0), &vec![0; filled]);
            let shut = buffer - filled;
            assert_eq!(usize::from(rx.advertise(0, mss)), shut);
            let mut out = vec![0u8; step];
            rx.buf.read(&mut out[..step - 1]);
            assert_eq!(
                usize::from(rx.advertise(0, mss)),
                shut,
                "{buffer}: less than a step read"
            );
            rx.buf.read(&mut out[..1]);
            assert_eq!(
                usize::from(rx.advertise(0, mss)),
                shut + step,
                "{buffer}: a step read"
            );
        }
    }

    /// Auto-tuning's limit never exceeds what a buffer can hold, however
    /// large the configured size.
    #[test]
    fn a_huge_buffer_is_cut_to_what_the_ring_holds() {
        let rx = RecvSide::new(usize::MAX / 2, 16 * 1024, false, Duration::ZERO);
        assert_eq!(rx.autotune.limit(), vtcp_buf::MAX_CAPACITY);
    }
}
