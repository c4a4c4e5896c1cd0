//! RFC 9937 Proportional Rate Reduction: the window in SACK recovery.

/// RFC 9937 Proportional Rate Reduction: how much a sender in SACK
/// recovery may send. Without it, a recovery that starts with many
/// segments lost (a slow start that overran a queue) finds `pipe` far below
/// `ssthresh` and sends the difference at once, into the queue that just
/// overflowed; the retransmissions are lost again and only a timeout
/// recovers them. PRR paces sending by what the ACKs say was delivered.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Prr {
    /// RecoverFS: `pipe` when recovery started (§5).
    pub(crate) recover_fs: u32,
    /// prr_delivered: octets the peer took in, cumulatively or by SACK,
    /// during recovery.
    pub(crate) delivered: u64,
    /// prr_out: octets sent during recovery.
    pub(crate) out: u64,
    /// `pipe` + `sndcnt` as of the last ACK: the window that limits sending
    /// until the next one.
    pub(crate) cwnd: u32,
}

/// What one ACK in recovery told, for [`Prr::on_ack`].
pub(crate) struct PrrAck {
    /// DeliveredData: the change in SND.UNA plus the change in SACKed
    /// octets.
    pub(crate) delivered: u32,
    /// SafeACK: SND.UNA advanced and no further loss is indicated.
    pub(crate) safe: bool,
    /// RFC 6675's pipe after the ACK.
    pub(crate) pipe: u32,
}

impl Prr {
    pub(crate) fn start(&mut self, pipe: u32) {
        *self = Self {
            recover_fs: pipe.max(1),
            ..Self::default()
        };
    }

    /// RFC 9937 §6, on each ACK in recovery.
    pub(crate) fn on_ack(&mut self, ack: &PrrAck, ssthresh: u32, mss: u32) {
        self.delivered += u64::from(ack.delivered);
        let sndcnt = if ack.pipe > ssthresh {
            // Proportional: ssthresh/RecoverFS of what was delivered.
            let due = (self.delivered * u64::from(ssthresh)).div_ceil(u64::from(self.recover_fs));
            due.saturating_sub(self.out)
        } else {
            // Conservative reduction bound: no more than delivered; one
            // segment more (slow start) only while recovery goes well.
            let mut sndcnt = self
                .delivered
                .saturating_sub(self.out)
                .max(u64::from(ack.delivered));
            if ack.safe {
                sndcnt += u64::from(mss);
            }
            sndcnt.min(u64::from(ssthresh - ack.pipe))
        };
        // The fast retransmit itself always goes out, a whole segment of
        // it: a share of one ACK's delivery is less than a segment, and
        // the hole would wait for the next ACK or a timer (Linux forces it
        // too, tcp_cwnd_reduction). Issue 21's regression: three SACKed
        // segments above a hole, RACK marks it lost at once, and PRR let
        // 1053 octets out of 1448.
        //
        // And with nothing in the network (pipe 0), one segment goes too:
        // no ACK is coming to clock anything out, and no timer runs for
        // data not in flight, so a window below a segment (an ACK that
        // delivered nothing gives 0) would stall the connection for good.
        // Linux cannot stall here: its window counts whole segments, and
        // an ACK that delivered nothing leaves it as it was.
        let sndcnt = if self.out == 0 || ack.pipe == 0 {
            sndcnt.max(u64::from(mss))
        } else {
            sndcnt
        };
        self.cwnd = ack
            .pipe
            .saturating_add(sndcnt.min(u64::from(u32::MAX)) as u32);
    }
}

#[cfg(test)]
mod tests {
    use quickcheck::quickcheck;

    use super::{Prr, PrrAck};

    /// An ACK that delivered nothing, with nothing in flight, after
    /// more was sent than delivered: one segment still goes (pipe 0
    /// means no ACK is coming), where RFC 9937's sums alone give 0.
    #[test]
    fn with_nothing_in_flight_a_segment_goes() {
        let (mss, ssthresh) = (1448, 5 * 1448);
        let mut prr = Prr::default();
        prr.start(10 * mss);
        let first = PrrAck {
            delivered: mss,
            safe: false,
            pipe: 9 * mss,
        };
        prr.on_ack(&first, ssthresh, mss);
        prr.out = 4 * u64::from(mss);
        let nothing = PrrAck {
            delivered: 0,
            safe: false,
            pipe: 0,
        };
        prr.on_ack(&nothing, ssthresh, mss);
        assert_eq!(prr.cwnd, mss);
        // With something in flight its ACK will come: no extra segment.
        let in_flight = PrrAck {
            pipe: mss,
            ..nothing
        };
        prr.on_ack(&in_flight, ssthresh, mss);
        assert_eq!(prr.cwnd, mss);
    }

    quickcheck! {
        // RFC 9937's promise, with a sender that uses every allowance: it
        // never sends more than was delivered, except the fast retransmit
        // and one segment per SafeACK; while pipe > ssthresh, no more than
        // ssthresh/RecoverFS of what was delivered.
        fn prr_sends_no_more_than_delivered(acks: Vec<(u16, bool, u16)>, ssthresh: u16) -> bool {
            let mss = 100u64;
            let ssthresh = u32::from(ssthresh) + 1;
            let recover_fs = 2 * ssthresh;
            let mut prr = Prr::default();
            prr.start(recover_fs);
            let (mut delivered, mut safe_acks) = (0u64, 0u64);
            for (d, safe, pipe) in acks {
                let ack = PrrAck { delivered: u32::from(d), safe, pipe: u32::from(pipe) };
                prr.on_ack(&ack, ssthresh, mss as u32);
                delivered += u64::from(d);
                safe_acks += u64::from(safe);
                let sndcnt = prr.cwnd.saturating_sub(ack.pipe);
                if ack.pipe > ssthresh {
                    let due = (delivered * u64::from(ssthresh)).div_ceil(u64::from(recover_fs));
                    let forced = prr.out == 0 && u64::from(sndcnt) == mss;
                    if u64::from(sndcnt) > due.saturating_sub(prr.out) && !forced {
                        return false;
                    }
                } else if ack.pipe + sndcnt > ssthresh.max(ack.pipe + mss as u32) {
                    return false;
                }
                prr.out += u64::from(sndcnt);
                if prr.out > delivered + mss + mss * safe_acks {
                    return false;
                }
            }
            true
        }
    }
}
