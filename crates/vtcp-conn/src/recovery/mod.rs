//! Loss recovery's state: what the sender knows about its losses and what
//! it has resent, kept apart from the congestion controller, which only
//! hears of congestion events (RFC 5681's fast retransmit, a timeout).
//!
//! - RFC 6675 (SACK-based recovery): DupAcks, HighRxt, RescueRxt, and
//!   `pipe`, with NextSeg over the send buffer's scoreboard.
//! - RFC 9937 Proportional Rate Reduction ([`prr`]): the window during SACK
//!   recovery.
//! - RFC 6582 (NewReno, without SACK): the retransmission a partial ACK
//!   asks for.
//! - Lost retransmissions: detected from SACKs beyond them (Linux's rule
//!   before RACK).
//! - RACK-TLP (RFC 8985), the default with SACK: the sent-segment log
//!   ([`sent`]), time-based loss marking ([`rack`]) and tail loss probes
//!   ([`tlp`]). It replaces DupThresh, NextSeg's rules 1, 3 and 4 and the
//!   lost-retransmission rule above; PRR still sets the window.
//! - Undo ([`undo`]): a reduction found spurious by Eifel (RFC 3522) or
//!   D-SACK (RFC 3708) is reversed.

mod prr;
mod rack;
mod sent;
mod tlp;
mod undo;

pub(crate) use prr::{Prr, PrrAck};
pub(crate) use rack::Rack;
pub(crate) use sent::{Delivered, SentLog};
pub(crate) use tlp::{Tlp, pto};
pub(crate) use undo::{Prior, Undo};

use vtcp_buf::SendBuf;
use vtcp_seq::Seq;

/// RFC 6675 §2 DupThresh (one definition: the scoreboard's).
pub(crate) const DUP_THRESH: u32 = vtcp_buf::DUP_THRESH as u32;

/// The sender's loss-recovery state.
#[derive(Clone, Debug)]
pub(crate) struct Recovery {
    /// Duplicate ACKs in a row (RFC 6675 DupAcks; limited transmit).
    pub(crate) dup_acks: u32,
    /// A retransmission due next: the fast retransmit, or NewReno's after
    /// a partial ACK.
    pub(crate) retransmit_at: Option<Seq>,
    /// RFC 6675 HighRxt: the highest octet retransmitted.
    pub(crate) high_rxt: Seq,
    /// RFC 6675 RescueRxt: a rescue retransmission (NextSeg rule 4) may go
    /// once SND.UNA reaches it.
    pub(crate) rescue_rxt: Seq,
    /// The highest sequence number sent when the latest retransmission
    /// went out: SACKs well beyond it mean that retransmission was lost.
    pub(crate) rxt_sent_max: Seq,
    /// Proportional Rate Reduction during SACK recovery (RFC 9937).
    pub(crate) prr: Prr,
    /// The segments in flight, for RACK.
    pub(crate) sent: SentLog,
    /// RACK's state.
    pub(crate) rack: Rack,
    /// The tail loss probe's state.
    pub(crate) tlp: Tlp,
    /// The undo episode under way, if any.
    pub(crate) undo: Undo,
    /// RTO recovery (RFC 8985 §7.2): after a timeout, until SND.UNA passes
    /// the highest octet sent before it, no loss probe is scheduled; the
    /// RTO, backing off, is the only timer of the flight.
    pub(crate) rto_recovery_until: Option<Seq>,
}

impl Recovery {
    /// Nothing lost, nothing resent; sequence numbers start at `iss`.
    pub(crate) fn new(iss: Seq) -> Self {
        Self {
            dup_acks: 0,
            retransmit_at: None,
            high_rxt: iss,
            rescue_rxt: iss,
            rxt_sent_max: iss,
            prr: Prr::default(),
            sent: SentLog::default(),
            rack: Rack::default(),
            tlp: Tlp::default(),
            undo: Undo::default(),
            rto_recovery_until: None,
        }
    }

    /// RFC 6675 §4 SetPipe: octets estimated in flight.
    pub(crate) fn pipe(&self, send: &SendBuf, mss: u32) -> usize {
        send.pipe(self.high_rxt, mss as usize)
    }

    /// Lost retransmissions, which RFC 6675 alone only repairs by timeout:
    /// when SACKs cover more than DupThresh − 1 segments of data sent
    /// after the latest retransmission, the retransmissions still not
    /// acknowledged were lost too (by IsLost's own reasoning, applied to
    /// the order of sending). NextSeg then starts over from SND.UNA, so
    /// rule 1 resends them. Linux did the same before RACK. Returns
    /// whether it found some.
    pub(crate) fn detect_lost_retransmissions(
        &mut self,
        send: &SendBuf,
        snd_max: Seq,
        mss: u32,
    ) -> bool {
        let una = send.una();
        if !self.high_rxt.after(una) {
            return false;
        }
        let beyond = self.rxt_sent_max + (DUP_THRESH - 1) * mss;
        if send.high_sacked().is_some_and(|h| h.after(beyond)) {
            self.high_rxt = una;
            self.rxt_sent_max = snd_max;
            return true;
        }
        false
    }
}
