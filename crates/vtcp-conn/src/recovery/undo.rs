//! Undo of spurious congestion responses: when a window reduction turns
//! out to have answered no loss (the "lost" segment was only delayed or
//! reordered), the window and ssthresh go back to what they were.
//!
//! Two detectors, as Linux has them:
//!
//! - **Eifel** (RFC 3522 detection, RFC 4015 response), with timestamps:
//!   the first ACK that covers the first retransmitted octet echoes a
//!   TSval older than that retransmission's, so it acknowledges the
//!   original transmission. Works for fast retransmits and timeouts alike.
//! - **D-SACK** (RFC 3708 §3, with RFC 2883 reports): every octet
//!   retransmitted in the episode was reported as a duplicate, so the
//!   originals had all arrived.
//!
//! An episode starts at a reduction (a fast retransmit or a timeout) and
//! ends when undone, or one window after SND.UNA passed what was in
//! flight at its start (D-SACKs of its retransmissions come back by
//! then), or at the next reduction. A reduction during an episode keeps the first
//! reduction's prior window, so one undo restores the state before both.
//! F-RTO (RFC 5682) is not implemented: without timestamps a spurious
//! timeout is found only by D-SACK (docs/rfc-compliance.md).

use vtcp_seq::Seq;

use super::{Link, Outcome, Recovery};
use crate::timer::Timer;

/// The window to go back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Prior {
    /// cwnd before the reduction.
    pub(crate) cwnd: u32,
    /// ssthresh before the reduction.
    pub(crate) ssthresh: u32,
    /// The reduction was a timeout (RFC 4015 §2: resume with new data).
    pub(crate) after_rto: bool,
}

/// One episode's state.
#[derive(Clone, Copy, Debug)]
struct Episode {
    prior: Prior,
    /// SND.UNA when it began (Linux's undo_marker): an ACK beyond it
    /// covers the first retransmission.
    marker: Seq,
    /// SND.MAX when it began: its retransmissions lie below.
    high: Seq,
    /// SND.MAX when SND.UNA passed `high`; the episode ends once SND.UNA
    /// passes this too.
    closing: Option<Seq>,
    /// The TSval of the episode's first retransmission (RFC 3522's
    /// RetransmitTS); `None` before it goes or without timestamps.
    first_rxt_ts: Option<u32>,
    /// The Eifel check is made once, on the first ACK beyond `marker`.
    eifel_checked: bool,
    /// Octets retransmitted in the episode and not yet reported as
    /// duplicates (RFC 3708's count, in octets).
    rxt_unreported: u64,
    /// Some octet was retransmitted at all.
    retransmitted: bool,
}

/// The undo state of a sender.
#[derive(Clone, Debug, Default)]
pub(crate) struct Undo {
    /// The episode under way: boxed, allocated at a reduction and freed
    /// when the episode ends (issue 22: a connection that never lost, or
    /// has not lost lately, carries a pointer, not 48 bytes; a reduction
    /// is rare enough for its allocation).
    episode: Option<Box<Episode>>,
}

impl Undo {
    /// A reduction: `prior` is the window before it, `una` and `snd_max`
    /// SND.UNA and SND.MAX now. An episode under way keeps its own prior
    /// window.
    pub(crate) fn on_reduction(&mut self, prior: Prior, una: Seq, snd_max: Seq) {
        match &mut self.episode {
            Some(e) => {
                e.prior.after_rto |= prior.after_rto;
                e.high = e.high.max_seq(snd_max);
                e.closing = None;
            }
            None => {
                self.episode = Some(Box::new(Episode {
                    prior,
                    marker: una,
                    high: snd_max,
                    closing: None,
                    first_rxt_ts: None,
                    eifel_checked: false,
                    rxt_unreported: 0,
                    retransmitted: false,
                }));
            }
        }
    }

    /// `len` octets were sent again, with `tsval` when timestamps are on.
    pub(crate) fn on_retransmit(&mut self, len: usize, tsval: Option<u32>) {
        if let Some(e) = &mut self.episode {
            e.rxt_unreported += len as u64;
            e.retransmitted = true;
            if e.first_rxt_ts.is_none() {
                e.first_rxt_ts = tsval;
            }
        }
    }

    /// RFC 3522 §2 for an ACK of new data up to `ack` echoing `tsecr`:
    /// the first such ACK beyond the marker decides. Returns the prior
    /// window when the retransmission was spurious (the episode is then
    /// over).
    pub(crate) fn on_new_ack(&mut self, ack: Seq, tsecr: Option<u32>) -> Option<Prior> {
        let e = self.episode.as_mut()?;
        if e.eifel_checked || !ack.after(e.marker) {
            return None;
        }
        e.eifel_checked = true;
        let (Some(rxt), Some(echo)) = (e.first_rxt_ts, tsecr) else {
            return None;
        };
        // Timestamps compare as sequence numbers do (RFC 7323 §5.2); an
        // echo of 0 carries nothing.
        if echo != 0 && Seq(echo).before(Seq(rxt)) {
            return self.undo();
        }
        None
    }

    /// SND.UNA moved to `una` with SND.MAX at `snd_max`: ends an episode
    /// whose D-SACKs had their time.
    pub(crate) fn on_una(&mut self, una: Seq, snd_max: Seq) {
        let Some(e) = &mut self.episode else { return };
        match e.closing {
            None if una.after_eq(e.high) => e.closing = Some(snd_max),
            Some(end) if una.after(end) => self.episode = None,
            _ => {}
        }
    }

    /// RFC 3708 §3: a D-SACK block `[left, right)` reports a duplicate.
    /// Returns the prior window once every retransmitted octet of the
    /// episode was reported, and the octets it counted (spurious
    /// retransmissions) either way.
    pub(crate) fn on_dsack(&mut self, left: Seq, right: Seq) -> (u64, Option<Prior>) {
        let Some(e) = self.episode.as_mut() else {
            return (0, None);
        };
        if !e.retransmitted || !right.after(e.marker) || !left.before(e.high) {
            return (0, None);
        }
        let left = left.max_seq(e.marker);
        let right = right.min_seq(e.high);
        if !right.after(left) {
            // An empty or inverted block (the wire does not check): a
            // distance across the wrap would count every octet.
            return (0, None);
        }
        let reported = u64::from(right.distance_from(left)).min(e.rxt_unreported);
        e.rxt_unreported -= reported;
        if e.rxt_unreported == 0 {
            return (reported, self.undo());
        }
        (reported, None)
    }

    fn undo(&mut self) -> Option<Prior> {
        self.episode.take().map(|e| e.prior)
    }
}

impl Recovery {
    /// A window reduction is about to happen: the undo episode (RFC 3522,
    /// RFC 3708) keeps the window before it.
    pub(super) fn note_reduction(&mut self, link: &Link<'_>, after_rto: bool) {
        let prior = Prior {
            cwnd: link.cc.send_window(),
            ssthresh: link.cc.ssthresh(),
            after_rto,
        };
        self.undo
            .on_reduction(prior, link.snd.buf.una(), link.snd.max);
    }

    /// The latest reduction answered no loss: the window and ssthresh go
    /// back (RFC 4015 §2), recovery ends, nothing stays marked lost, and
    /// after a timeout sending resumes with data never sent rather than
    /// going back N.
    pub(super) fn undo_reduction(&mut self, link: &mut Link<'_>, prior: Prior, out: &mut Outcome) {
        out.undone = true;
        crate::trace_event!(DEBUG, cwnd = prior.cwnd, "reduction undone");
        let was_in_recovery = self.recover.take().is_some();
        link.cc.undo(prior.cwnd, prior.ssthresh);
        if link.rack {
            if was_in_recovery {
                self.rack.on_recovery_exit();
            }
            self.sent.clear_lost();
            link.timers.stop(Timer::RackReorder);
        }
        self.retransmit_at = None;
        self.high_rxt = link.snd.buf.una();
        if prior.after_rto {
            link.snd.resume_after_undo();
            // What was sent before the timeout is in flight again: its
            // timer runs (RFC 6298 §5.1). The ACK that undid it may have
            // found nothing in flight and stopped the timer (a D-SACK on a
            // duplicate ACK, found by the `conn_pair` fuzz target).
            if link.snd.flight() > 0 && !link.timers.is_armed(Timer::Rto) {
                link.timers.set(Timer::Rto, link.now + link.rto());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prior() -> Prior {
        Prior {
            cwnd: 100_000,
            ssthresh: 80_000,
            after_rto: false,
        }
    }

    #[test]
    fn eifel_undoes_when_the_ack_echoes_the_original() {
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        u.on_retransmit(1000, Some(50));
        assert_eq!(u.on_new_ack(Seq(1000), Some(40)), None, "not beyond");
        assert_eq!(u.on_new_ack(Seq(2000), Some(49)), Some(prior()));
        // Over: nothing left to undo.
        assert_eq!(u.on_new_ack(Seq(3000), Some(10)), None);
    }

    #[test]
    fn eifel_keeps_the_reduction_when_the_retransmission_was_needed() {
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        u.on_retransmit(1000, Some(50));
        assert_eq!(u.on_new_ack(Seq(2000), Some(50)), None);
        // Decided once: a later, older echo does not undo.
        assert_eq!(u.on_new_ack(Seq(3000), Some(10)), None);
        // Without timestamps there is no decision to make.
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        u.on_retransmit(1000, None);
        assert_eq!(u.on_new_ack(Seq(2000), Some(1)), None);
    }

    #[test]
    fn dsack_undoes_once_every_retransmitted_octet_is_reported() {
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        u.on_retransmit(1000, None);
        u.on_retransmit(500, None);
        assert_eq!(u.on_dsack(Seq(0), Seq(900)), (0, None), "below the marker");
        assert_eq!(
            u.on_dsack(Seq(9000), Seq(9900)),
            (0, None),
            "sent after it began"
        );
        assert_eq!(u.on_dsack(Seq(1000), Seq(2000)), (1000, None));
        assert_eq!(u.on_dsack(Seq(2000), Seq(2500)), (500, Some(prior())));
        assert_eq!(u.on_dsack(Seq(2000), Seq(2500)), (0, None), "over");
    }

    /// An inverted block (the wire does not check left < right) inside the
    /// episode reports nothing: its distance across the wrap would have
    /// counted every retransmitted octet and undone the reduction.
    #[test]
    fn an_inverted_dsack_block_reports_nothing() {
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        u.on_retransmit(1000, None);
        assert_eq!(u.on_dsack(Seq(2000), Seq(1010)), (0, None));
        assert_eq!(u.on_dsack(Seq(1500), Seq(1500)), (0, None), "empty");
        assert_eq!(u.on_dsack(Seq(1000), Seq(2000)), (1000, Some(prior())));
    }

    #[test]
    fn a_second_reduction_keeps_the_first_prior_window() {
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        let later = Prior {
            cwnd: 3000,
            ssthresh: 50_000,
            after_rto: true,
        };
        u.on_reduction(later, Seq(1500), Seq(9500));
        u.on_retransmit(100, None);
        let (_, undone) = u.on_dsack(Seq(1000), Seq(1100));
        assert_eq!(
            undone,
            Some(Prior {
                after_rto: true,
                ..prior()
            })
        );
    }

    #[test]
    fn the_episode_ends_a_window_after_its_flight_is_acknowledged() {
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        u.on_retransmit(1000, None);
        u.on_una(Seq(9000), Seq(20_000));
        // D-SACKs still count until SND.UNA passes 20 000.
        assert_eq!(u.on_dsack(Seq(1000), Seq(1500)), (500, None));
        u.on_una(Seq(20_000), Seq(30_000));
        assert_eq!(u.on_dsack(Seq(1500), Seq(2000)).1, Some(prior()));
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        u.on_retransmit(1000, None);
        u.on_una(Seq(9000), Seq(20_000));
        u.on_una(Seq(20_001), Seq(30_000));
        assert_eq!(u.on_dsack(Seq(1000), Seq(2000)), (0, None), "over");
    }

    #[test]
    fn no_dsack_undo_without_a_retransmission() {
        let mut u = Undo::default();
        u.on_reduction(prior(), Seq(1000), Seq(9000));
        assert_eq!(u.on_dsack(Seq(1000), Seq(2000)), (0, None));
    }
}
