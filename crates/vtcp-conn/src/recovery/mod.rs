//! Loss recovery: what the sender knows of its losses, what it has resent,
//! and what goes again next, behind a narrow interface with private state
//! (as s2n-quic's recovery manager). The connection tells it what
//! happened and asks what to do:
//!
//! - a segment went out: [`Recovery::on_sent`];
//! - an ACK came, in two calls around SND.UNA's move (which, with the RTT
//!   sample, is the connection's): [`Recovery::on_ack_info`] before it
//!   (the SACK blocks, D-SACK, the undo checks), [`Recovery::on_ack`]
//!   after (the recovery episode, duplicate ACKs, RACK, the rate sample,
//!   PRR);
//! - a timer fired: the RTO ([`Recovery::on_rto`]), RACK's reordering
//!   timer ([`Recovery::on_reorder_timer`]), the probe timer
//!   ([`Recovery::on_pto`], then [`Recovery::take_probe`]);
//! - what to send: a retransmission ([`Recovery::next_retransmission`],
//!   [`Recovery::next_unsacked`], [`Recovery::probe_segment`]), and the
//!   window new data goes in ([`Recovery::send_window`],
//!   [`Recovery::in_flight`], [`Recovery::limited_transmit`]); one
//!   [`Recovery::pipe`].
//!
//! It owns the recovery episode: it starts a fast recovery when it finds a
//! loss, remembers RFC 6582's "recover" (the highest sequence number sent
//! then), and ends it when an ACK reaches that point (RFC 6582 §3.2 step
//! 6), at a timeout or at an undo. The congestion controller is told, as
//! events, at the moment each happens (`on_congestion_event`,
//! `on_partial_ack`, `on_recovery_dup_ack`, `on_recovery_end`,
//! `on_timeout`, `undo`, `on_rate_sample`); it answers with its window and
//! is never asked whether a recovery is under way.
//!
//! - RFC 6675 (SACK-based recovery): DupAcks, HighRxt, RescueRxt, and
//!   `pipe`, with NextSeg over the send buffer's scoreboard.
//! - RFC 9937 Proportional Rate Reduction ([`prr`]): the window during SACK
//!   recovery.
//! - RFC 6582 (NewReno, without SACK): the recovery point, and the
//!   retransmission a partial ACK asks for.
//! - Lost retransmissions: detected from SACKs beyond them (Linux's rule
//!   before RACK).
//! - RACK-TLP (RFC 8985), the default with SACK: the sent-segment log
//!   ([`sent`]), time-based loss marking ([`rack`]) and tail loss probes
//!   ([`tlp`]). It replaces DupThresh, NextSeg's rules 1, 3 and 4 and the
//!   lost-retransmission rule above; PRR still sets the window.
//! - Undo ([`undo`]): a reduction found spurious by Eifel (RFC 3522) or
//!   D-SACK (RFC 3708) is reversed.
//! - Delivery-rate estimation (`crate::rate`) runs off the sent-segment
//!   log: the sample that ends each ACK is the controller's.

mod prr;
mod rack;
mod sent;
mod tlp;
mod undo;

use std::time::Duration;

use vtcp_rto::RtoState;
use vtcp_seq::Seq;
use vtcp_wire::SackBlock;

use crate::config::{ConnConfig, Controller};
use crate::rate::Rates;
use crate::send::SendSide;
use crate::timer::{Timer, TimerTable};

use prr::{Prr, PrrAck};
use rack::Rack;
use sent::{Delivered, SentLog};
use tlp::Tlp;
use undo::Undo;

/// RFC 6675 §2 DupThresh (one definition: the scoreboard's).
const DUP_THRESH: u32 = vtcp_buf::DUP_THRESH as u32;

/// What one call into recovery borrows of the connection, and what it
/// reads of the rest.
pub(crate) struct Link<'a> {
    /// The send side: SND.UNA, SND.NXT and the highest reached, the send
    /// buffer and its SACK scoreboard.
    pub(crate) snd: &'a mut SendSide,
    /// The congestion controller, told of events.
    pub(crate) cc: &'a mut Controller,
    /// The connection's timers: recovery arms RACK's reordering timer and
    /// the probe timer, and restarts the RTO for a probe.
    pub(crate) timers: &'a mut TimerTable,
    /// The time now.
    pub(crate) now: Duration,
    /// The send MSS (SMSS).
    pub(crate) mss: u32,
    /// The RTT estimator: the smoothed RTT (RACK's reordering window, the
    /// probe timeout) and the RTO (restarted for a probe).
    pub(crate) rto: &'a RtoState,
    /// The configuration, for the RTO's bounds ([`Link::rto`]).
    pub(crate) cfg: &'a ConnConfig,
    /// SACK was negotiated.
    pub(crate) sack: bool,
    /// RACK-TLP runs: SACK was negotiated and the configuration asks for
    /// it.
    pub(crate) rack: bool,
    /// The controller paces (asked once, when the connection was made).
    pub(crate) paces: bool,
}

impl Link<'_> {
    /// The RTO now (RFC 6298), backoff included.
    pub(crate) fn rto(&self) -> Duration {
        self.rto.rto(&crate::conn::rto_config(self.cfg))
    }

    /// Delivery rates are estimated: for a controller that paces (BBR).
    /// The others neither pay for the snapshots nor hear samples.
    #[inline]
    fn rates_on(&self) -> bool {
        self.paces
    }

    /// The sent-segment log is kept: for RACK, or for the delivery-rate
    /// samples of a controller that wants them (with or without SACK).
    #[inline]
    fn log_on(&self) -> bool {
        self.rack || self.rates_on()
    }
}

/// An ACK as loss recovery reads it.
pub(crate) struct AckInfo<'a> {
    /// SEG.ACK.
    pub(crate) ack: Seq,
    /// SND.UNA before it (SYN and FIN included).
    pub(crate) una: Seq,
    /// Its SACK blocks.
    pub(crate) sack_blocks: &'a [SackBlock],
    /// Its TSecr, with timestamps negotiated.
    pub(crate) tsecr: Option<u32>,
    /// It carries neither data nor FIN.
    pub(crate) bare: bool,
    /// It leaves the peer's window as it was.
    pub(crate) same_window: bool,
}

/// An ACK half processed: what [`Recovery::on_ack_info`] found, for
/// [`Recovery::on_ack`].
pub(crate) struct AckScan {
    ack: Seq,
    una: Seq,
    /// It acknowledges new data.
    new: bool,
    /// A duplicate ACK, if nothing is acknowledged and data is in flight:
    /// no data, no FIN, and the window unchanged (RFC 5681 §2) or new SACK
    /// information (RFC 6675 §2: an ACK that SACKs octets not SACKed before
    /// is a duplicate whatever its window says, as a receiver that
    /// auto-tunes its buffer grows the window on every ACK).
    dup: bool,
    /// The send buffer's SND.UNA before the ACK.
    una_before: Seq,
    /// That, plus the octets SACKed before the ACK (for PRR's
    /// DeliveredData and the rate sample).
    before: Seq,
    /// The IsLost boundary before the ACK (for PRR's SafeACK without
    /// RACK; RACK's own marks say that with RACK).
    lost_before: Seq,
    /// The log was kept when the ACK came.
    log: bool,
    /// What the ACK delivered, segment by segment.
    delivered: Delivered,
    /// The ACK reports a duplicate (RFC 2883 D-SACK).
    dsack: bool,
    out: Outcome,
}

/// What an ACK or a timer did, for the connection's statistics and its RTT
/// timing.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outcome {
    /// A fast recovery began: the RTT measurement under way is dropped
    /// (Karn), as the retransmission that follows is not timed.
    pub(crate) entered_recovery: bool,
    /// The latest reduction was found spurious and undone.
    pub(crate) undone: bool,
    /// Octets the peer reported received twice (D-SACK) among those sent
    /// again: retransmissions that were not needed.
    pub(crate) spurious_bytes: u64,
    /// A retransmission was found lost (RFC 6675 without RACK).
    pub(crate) lost_retransmit: bool,
}

/// A retransmission to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resend {
    /// `len` octets of data at `seq`.
    Data(Seq, usize),
    /// The FIN again, at `seq` (RFC 6582's retransmission when the hole is
    /// the FIN itself).
    Fin(Seq),
}

/// The sender's loss-recovery state.
#[derive(Clone, Debug)]
pub(crate) struct Recovery {
    /// RFC 6582 "recover": the highest sequence number sent when the fast
    /// recovery under way began; `None` outside one.
    recover: Option<Seq>,
    /// Duplicate ACKs in a row (RFC 6675 DupAcks; limited transmit).
    dup_acks: u32,
    /// A retransmission due next: the fast retransmit, or NewReno's after
    /// a partial ACK.
    retransmit_at: Option<Seq>,
    /// RFC 6675 HighRxt: the highest octet retransmitted.
    high_rxt: Seq,
    /// RFC 6675 RescueRxt: a rescue retransmission (NextSeg rule 4) may go
    /// once SND.UNA reaches it.
    rescue_rxt: Seq,
    /// The highest sequence number sent when the latest retransmission
    /// went out: SACKs well beyond it mean that retransmission was lost.
    rxt_sent_max: Seq,
    /// Proportional Rate Reduction during SACK recovery (RFC 9937):
    /// allocated when the first recovery starts and kept for the later
    /// ones (issue 22: a connection that never lost carries a pointer; one
    /// that lost once is likely to again, and need not allocate each
    /// time). Every recovery starts it afresh (`Prr::start`).
    prr: Option<Box<Prr>>,
    /// The segments in flight, for RACK and the rate samples.
    sent: SentLog,
    /// RACK's state.
    rack: Rack,
    /// The tail loss probe's state.
    tlp: Tlp,
    /// The undo episode under way, if any.
    undo: Undo,
    /// RTO recovery (RFC 8985 §7.2): after a timeout, until SND.UNA passes
    /// the highest octet sent before it, no loss probe is scheduled; the
    /// RTO, backing off, is the only timer of the flight.
    rto_recovery_until: Option<Seq>,
    /// Delivery-rate estimation's running totals: kept for a controller
    /// that paces (the one that hears rate samples), out of line, so that
    /// the others carry a pointer for them (issue 22).
    rates: Option<Box<Rates>>,
}

impl Recovery {
    /// Nothing lost, nothing resent; sequence numbers start at `iss`;
    /// delivery rates estimated when the controller `paces`.
    pub(crate) fn new(iss: Seq, paces: bool) -> Self {
        Self {
            recover: None,
            dup_acks: 0,
            retransmit_at: None,
            high_rxt: iss,
            rescue_rxt: iss,
            rxt_sent_max: iss,
            prr: None,
            sent: SentLog::default(),
            rack: Rack::default(),
            tlp: Tlp::default(),
            undo: Undo::default(),
            rto_recovery_until: None,
            rates: paces.then(Box::default),
        }
    }

    // ----- What the connection reads -----

    /// A fast recovery is under way.
    #[inline]
    pub(crate) fn in_recovery(&self) -> bool {
        self.recover.is_some()
    }

    /// In recovery with SACK: RFC 6675's pipe and NextSeg and RFC 9937's
    /// window apply.
    #[inline]
    fn in_sack_recovery(&self, sack: bool) -> bool {
        sack && self.in_recovery()
    }

    /// Octets in flight by the log's count (sent, not acknowledged,
    /// SACKed or marked lost), `flight` being the octets sent and not
    /// acknowledged.
    #[inline]
    fn log_in_flight(&self, flight: usize) -> usize {
        let gone = (self.sent.sacked_bytes() + self.sent.lost_bytes()) as usize;
        flight.saturating_sub(gone)
    }

    /// RFC 6675 §4 SetPipe: octets estimated in flight. With RACK (RFC
    /// 8985, with RFC 6675's meaning), what is in flight less what was
    /// SACKed and what RACK marked lost (a retransmission is in flight
    /// again); without, the scoreboard's count.
    #[inline]
    pub(crate) fn pipe(&self, snd: &SendSide, mss: u32, rack: bool) -> usize {
        if rack {
            self.log_in_flight(snd.flight())
        } else {
            snd.buf.pipe(self.high_rxt, mss as usize)
        }
    }

    /// PRR's state, in a recovery (which allocated it).
    fn prr_mut(&mut self) -> &mut Prr {
        debug_assert!(self.in_recovery());
        self.prr.get_or_insert_with(Box::default)
    }

    #[inline]
    fn pipe_of(&self, link: &Link<'_>) -> usize {
        self.pipe(link.snd, link.mss, link.rack)
    }

    /// The congestion window that limits sending: the controller's, or in
    /// SACK recovery the one Proportional Rate Reduction allows.
    #[inline]
    pub(crate) fn send_window(&self, cc: &Controller, sack: bool) -> u32 {
        if self.in_sack_recovery(sack)
            && cc.reduces_with_prr()
            && let Some(prr) = self.prr.as_deref()
        {
            prr.cwnd
        } else {
            debug_assert!(!self.in_recovery() || self.prr.is_some());
            cc.send_window()
        }
    }

    /// What counts against the window: in SACK recovery RFC 6675's pipe,
    /// otherwise the octets in flight.
    #[inline]
    pub(crate) fn in_flight(&self, link: &Link<'_>) -> usize {
        if self.in_sack_recovery(link.sack) {
            self.pipe_of(link)
        } else {
            link.snd.flight()
        }
    }

    /// RFC 3042 limited transmit: the first two duplicate ACKs each let one
    /// new segment of `mss` out beyond the window (none in recovery).
    #[inline]
    pub(crate) fn limited_transmit(&self, mss: usize) -> usize {
        if self.in_recovery() {
            0
        } else {
            self.dup_acks.min(2) as usize * mss
        }
    }

    /// RFC 6675 step (C): cwnd − pipe ≥ 1 SMSS.
    fn room_for_a_segment(&self, link: &Link<'_>) -> bool {
        self.pipe_of(link) + link.mss as usize <= self.send_window(link.cc, link.sack) as usize
    }

    /// The latest delivery-rate sample, octets per second.
    pub(crate) fn latest_rate(&self) -> Option<u64> {
        self.rates.as_ref().and_then(|r| r.latest_rate())
    }

    // ----- Sending -----

    /// `len` octets at `seq` go out now (`resent`: sent before). The log
    /// records them with the delivery totals of the moment; a
    /// retransmission counts toward the undo episode, which keeps the
    /// first one's timestamp (`tsval`, RFC 3522's RetransmitTS); PRR
    /// counts them (prr_out).
    #[inline]
    pub(crate) fn on_sent(
        &mut self,
        link: &Link<'_>,
        seq: Seq,
        len: usize,
        resent: bool,
        tsval: Option<u32>,
    ) {
        if link.log_on() {
            debug_assert_eq!(self.rates.is_some(), link.rates_on());
            let in_flight = link
                .rates_on()
                .then(|| self.log_in_flight(link.snd.flight()));
            let tx = self
                .rates
                .as_deref_mut()
                .zip(in_flight)
                .map(|(rates, in_flight)| rates.on_send(link.now, in_flight, len));
            self.sent.on_sent(seq, len, link.now, tx);
        }
        if resent {
            self.undo.on_retransmit(len, tsval);
        }
        // RFC 9937 §6: prr_out counts only within a recovery (`start`
        // clears it), so nothing is counted before the first.
        if let Some(prr) = self.prr.as_deref_mut() {
            prr.out += len as u64;
        }
    }

    /// Less than a segment waits to be sent and the window has room for
    /// it, `flight` octets in flight: the application limits the sending
    /// (draft-cheng-iccrg-delivery-rate-estimation §3.5.2), unless lost
    /// data waits to go again.
    pub(crate) fn on_app_limited(&mut self, flight: usize) {
        let in_flight = self.log_in_flight(flight);
        if self.sent.lost_bytes() == 0
            && let Some(rates) = self.rates.as_deref_mut()
        {
            rates.on_app_limited(in_flight);
        }
    }

    /// What to send again first, if anything, in segments of at most
    /// `mss`: a fast retransmit, a NewReno partial-ACK retransmission, an
    /// RFC 6675 NextSeg() rule 1 retransmission (of data deemed lost), or
    /// with RACK what it marked lost. The caller sends it and reports it
    /// with [`on_sent`](Self::on_sent).
    #[inline]
    pub(crate) fn next_retransmission(&mut self, link: &Link<'_>, mss: usize) -> Option<Resend> {
        // Nothing marked lost, nothing due, no recovery: the common case,
        // answered inline.
        let nothing = if link.rack {
            self.sent.lost_bytes() == 0
        } else {
            self.retransmit_at.is_none() && !self.in_sack_recovery(link.sack)
        };
        if nothing {
            return None;
        }
        self.find_retransmission(link, mss)
    }

    fn find_retransmission(&mut self, link: &Link<'_>, mss: usize) -> Option<Resend> {
        if link.rack {
            // RFC 8985: what RACK marked lost, oldest first, within the
            // window PRR allows.
            let (seq, len) = self.sent.first_lost()?;
            return self
                .room_for_a_segment(link)
                .then(|| self.retransmitted(link, seq, len.min(mss)));
        }
        if let Some(at) = self.retransmit_at.take() {
            if let Some((seq, a, b)) = link.snd.buf.retransmit_data(at, mss) {
                let len = a.len() + b.len();
                return Some(self.retransmitted(link, seq, len));
            }
            if link.snd.fin_sent && !link.snd.fin_acked && at == link.snd.buf.tail() {
                return Some(Resend::Fin(at));
            }
        }
        if self.in_sack_recovery(link.sack) {
            return self.next_seg(link, mss, true);
        }
        None
    }

    /// RFC 6675 NextSeg() rule 3: unSACKed data below the highest SACK
    /// that is not deemed lost yet, sent again only when rules 1 and 2
    /// (lost data, new data) have nothing to send. Before rule 2 it
    /// would resend segments still on their way while new data waits.
    /// Then rule 4, the rescue. Nothing with RACK.
    #[inline]
    pub(crate) fn next_unsacked(&mut self, link: &Link<'_>, mss: usize) -> Option<(Seq, usize)> {
        if link.rack || !self.in_sack_recovery(link.sack) {
            return None;
        }
        self.find_unsacked(link, mss)
    }

    fn find_unsacked(&mut self, link: &Link<'_>, mss: usize) -> Option<(Seq, usize)> {
        match self.next_seg(link, mss, false) {
            Some(Resend::Data(seq, len)) => Some((seq, len)),
            _ => self.rescue(link, mss),
        }
    }

    /// NextSeg()'s candidate within the window, if it is lost (rule 1) or
    /// when `lost_only` is false (rule 3).
    fn next_seg(&mut self, link: &Link<'_>, mss: usize, lost_only: bool) -> Option<Resend> {
        let next = link.snd.buf.next_seg(self.high_rxt, mss)?;
        (self.room_for_a_segment(link) && (next.lost || !lost_only))
            .then(|| self.retransmitted(link, next.seq, next.len))
    }

    /// RFC 6675 NextSeg() rule 4: when no other rule has anything to
    /// send, once per recovery (after the fast retransmit is
    /// acknowledged), resend the segment ending with the highest unSACKed
    /// octet. A loss at the tail of the flight, with nothing sent after it
    /// to be SACKed, is then repaired without waiting for the timer.
    fn rescue(&mut self, link: &Link<'_>, mss: usize) -> Option<(Seq, usize)> {
        if link.snd.buf.una().before(self.rescue_rxt) || !self.room_for_a_segment(link) {
            return None;
        }
        let (seq, len) = link.snd.buf.rescue_seg(mss)?;
        if let Some(recover) = self.recover {
            self.rescue_rxt = recover;
        }
        // HighRxt MUST NOT be updated for a rescue.
        Some((seq, len))
    }

    /// A retransmission of `len` octets at `seq` (not a rescue): HighRxt
    /// moves up to its end, and the highest sequence number sent is noted
    /// for the lost-retransmission rule.
    fn retransmitted(&mut self, link: &Link<'_>, seq: Seq, len: usize) -> Resend {
        let end = seq + len as u32;
        if self.high_rxt.before(end) {
            self.high_rxt = end;
        }
        self.rxt_sent_max = link.snd.max;
        Resend::Data(seq, len)
    }

    // ----- ACKs -----

    /// An ACK's first half, before the connection moves SND.UNA: its SACK
    /// blocks mark the scoreboard and the log, a D-SACK is recognised
    /// (RFC 2883 §4), and either a D-SACK (RFC 3708) or, for an ACK of new
    /// data, its timestamp (RFC 3522 Eifel) may undo the latest reduction.
    #[inline(always)]
    pub(crate) fn on_ack_info(&mut self, link: &mut Link<'_>, info: &AckInfo<'_>) -> AckScan {
        // For PRR (RFC 9937): DeliveredData is the change in SND.UNA plus
        // the change in SACKed octets; an ACK that moves the IsLost
        // boundary up indicates further loss.
        let una_before = link.snd.buf.una();
        let before = una_before + link.snd.buf.scoreboard().sacked_bytes() as u32;
        let mut scan = AckScan {
            ack: info.ack,
            una: info.una,
            new: info.ack.after(info.una),
            dup: false,
            una_before,
            before,
            lost_before: if link.rack {
                una_before
            } else {
                link.snd.buf.lost_below(link.mss as usize)
            },
            log: link.log_on(),
            delivered: Delivered {
                track_rates: link.rates_on(),
                ..Delivered::default()
            },
            dsack: false,
            out: Outcome::default(),
        };
        for b in info.sack_blocks {
            // Only blocks the scoreboard takes (within what was sent,
            // above SND.UNA) mark the RACK log too.
            if link.sack && link.snd.buf.mark_sacked(b.left, b.right) && scan.log {
                let left = b.left.max_seq(una_before);
                self.sent.on_sack(left, b.right, &mut scan.delivered);
            }
        }
        // RFC 2883 §4: a first block below the cumulative ACK, or inside
        // the second block, reports a duplicate.
        let blocks = info.sack_blocks;
        scan.dsack = blocks.first().is_some_and(|first| {
            first.right.before_eq(info.ack)
                || blocks.get(1).is_some_and(|second| {
                    first.left.after_eq(second.left) && first.right.before_eq(second.right)
                })
        });
        if scan.dsack
            && let Some(first) = blocks.first()
        {
            let (spurious, undone) = self.undo.on_dsack(first.left, first.right);
            scan.out.spurious_bytes += spurious;
            if let Some(prior) = undone {
                self.undo_reduction(link, prior, &mut scan.out);
            }
        }
        if scan.new {
            if let Some(prior) = self.undo.on_new_ack(info.ack, info.tsecr) {
                self.undo_reduction(link, prior, &mut scan.out);
            }
            self.undo.on_una(info.ack, link.snd.max);
        }
        let newly_sacked = una_before + link.snd.buf.scoreboard().sacked_bytes() as u32 != before;
        scan.dup = info.bare && (info.same_window || newly_sacked);
        scan
    }

    /// An ACK's second half, once the connection has moved SND.UNA (by
    /// `acked` octets of data) and taken its RTT sample: the recovery
    /// episode goes on or ends, a duplicate ACK is counted (and may start
    /// a recovery), RACK marks what is lost, the controller hears the
    /// delivery-rate sample, and PRR sets the window for what follows.
    #[inline(always)]
    pub(crate) fn on_ack(
        &mut self,
        link: &mut Link<'_>,
        scan: &mut AckScan,
        acked: u32,
    ) -> Outcome {
        let mss = link.mss;
        let (ack, una) = (scan.ack, scan.una);
        if scan.new {
            self.on_new_ack(link, ack, acked);
        } else if ack == una && scan.dup && link.snd.flight() > 0 {
            self.on_dup_ack(link, una, &mut scan.out);
        }
        let mut rack_lost = 0;
        if scan.log && scan.new {
            self.sent.on_ack(link.snd.buf.una(), &mut scan.delivered);
        }
        if link.rack {
            // An ACK that delivered nothing and reports no duplicate leaves
            // RACK's state as it was; what time alone makes lost, the
            // reordering timer finds. (Most such ACKs are the peer's data
            // segments, which a receiver of bulk data gets by the
            // thousand.)
            if scan.delivered.latest.is_some() || scan.dsack || self.tlp.end_seq.is_some() {
                rack_lost = self.rack_on_ack(link, ack, &scan.delivered, scan.dsack, &mut scan.out);
            }
        }
        let (before, una_before) = (scan.before, scan.una_before);
        if link.rates_on() {
            self.rate_sample(link, before, rack_lost, &scan.delivered);
        }
        if self.in_sack_recovery(link.sack) {
            if !link.rack && self.detect_lost_retransmissions(&link.snd.buf, link.snd.max, mss) {
                scan.out.lost_retransmit = true;
            }
            let buf = &link.snd.buf;
            let una_after = buf.una();
            let after = una_after + buf.scoreboard().sacked_bytes() as u32;
            let newly_lost = if link.rack {
                rack_lost > 0
            } else {
                let lost_after = buf.lost_below(mss as usize);
                lost_after.after(scan.lost_before.max_seq(una_after))
            };
            let ack = PrrAck {
                delivered: if after.after(before) {
                    after.distance_from(before)
                } else {
                    0
                },
                safe: una_after.after(una_before) && !newly_lost,
                pipe: self.pipe_of(link) as u32,
            };
            self.prr_mut().on_ack(&ack, link.cc.ssthresh(), mss);
        }
        scan.out
    }

    /// An ACK of new data, `acked` octets of it. In a fast recovery, an
    /// ACK at or beyond "recover" ends it (RFC 6582 §3.2 step 6); any
    /// other is a partial ACK (step 5), after which NewReno sends the next
    /// hole again. Outside one the controller hears an ACK, or, when the
    /// window was not what limited sending, that it went unused (RFC 7661
    /// §4.1).
    #[inline]
    fn on_new_ack(&mut self, link: &mut Link<'_>, ack: Seq, acked: u32) {
        let now = link.now;
        self.dup_acks = 0;
        match self.recover {
            Some(recover) if ack.after_eq(recover) => {
                // RFC 6582 §3.2 step 6: a full ACK ends the recovery.
                self.recover = None;
                link.cc.on_recovery_end();
                if link.rack {
                    self.rack.on_recovery_exit();
                }
                self.retransmit_at = None;
            }
            Some(_) => {
                // RFC 6582 §3.2 step 5: a partial ACK.
                link.cc.on_partial_ack(acked, now);
                if !link.sack {
                    self.retransmit_at = Some(link.snd.buf.una());
                }
            }
            None => {
                let cwnd = link.cc.send_window();
                if link.snd.cwnd_use.may_grow(cwnd, cwnd < link.cc.ssthresh()) {
                    link.cc.on_ack_at(acked, now);
                } else {
                    // RFC 7661 §4.1: a window the sender did not use does
                    // not grow.
                    link.cc.on_window_unused(now);
                }
            }
        }
        if self.high_rxt.before(link.snd.buf.una()) {
            self.high_rxt = link.snd.buf.una();
        }
    }

    /// A duplicate ACK with SND.UNA at `una`: in a recovery a segment left
    /// the network (RFC 5681 §3.2 step 4); outside, without RACK, RFC 6675
    /// §5 steps (1) and (2) start one at DupThresh duplicates, or once
    /// IsLost(HighACK + 1) holds already. (With RACK, time decides.)
    fn on_dup_ack(&mut self, link: &mut Link<'_>, una: Seq, out: &mut Outcome) {
        if self.in_rto_recovery(una) {
            // Not counted: neither a fast recovery (RFC 6582 §3.2 step 1,
            // RFC 6675 §5.1) nor limited transmit, whose segments are
            // "previously unsent data" (RFC 3042 §2), while the timeout's
            // go-back-N sends again what was sent before.
            return;
        }
        self.dup_acks = self.dup_acks.saturating_add(1);
        if self.in_recovery() {
            // RFC 5681 §3.2 step 4.
            link.cc.on_recovery_dup_ack();
        } else if !link.rack
            && (self.dup_acks == DUP_THRESH
                || (link.sack && link.snd.buf.is_lost(una, link.mss as usize)))
        {
            self.enter_recovery(link, out);
        }
    }

    /// Whether a timeout's go-back-N is still under way at SND.UNA `una`:
    /// the ACKs have not yet passed the highest octet sent before it. No
    /// fast recovery starts then (RFC 6582 §3.2 step 1: duplicate ACKs
    /// that do not cover more than "recover", which a timeout sets to the
    /// highest sequence number sent; RFC 6675 §5.1): the segments the
    /// timeout sends again are all in the one flight, and a fast
    /// retransmit of SND.UNA would send the timeout's retransmission a
    /// second time, then NextSeg() the segments above it that go-back-N
    /// sends anyway.
    /// `arm_tlp`, which runs after every ACK of new data, forgets the
    /// point once passed, so that none 2^31 octets old comes to look
    /// ahead.
    pub(super) fn in_rto_recovery(&self, una: Seq) -> bool {
        self.rto_recovery_until
            .is_some_and(|point| una.before(point))
    }

    /// A loss was found: a fast recovery begins (RFC 5681 §3.2, RFC 6675
    /// §5, RFC 8985 §6.2), up to the highest sequence number sent (RFC
    /// 6582's "recover"). The undo episode keeps the window before it, the
    /// controller hears the congestion event, and PRR starts from `pipe`.
    fn enter_recovery(&mut self, link: &mut Link<'_>, out: &mut Outcome) {
        out.entered_recovery = true;
        crate::trace_event!(DEBUG, cwnd = link.cc.send_window(), "fast recovery");
        let flight = link.snd.flight() as u32;
        self.note_reduction(link, false);
        link.cc.on_congestion_event(flight);
        self.recover = Some(link.snd.max);
        let una = link.snd.buf.una();
        if link.rack {
            // RACK's marks say what to resend; no probe during recovery.
            self.stop_probe(link);
        } else {
            self.retransmit_at = Some(una);
            self.high_rxt = una;
            // RFC 6675 (4.3): no rescue before the fast retransmit is
            // acknowledged.
            self.rescue_rxt = link
                .snd
                .buf
                .retransmit_data(una, link.mss as usize)
                .map_or(una, |(seq, a, b)| seq + (a.len() + b.len()) as u32);
        }
        let pipe = self.pipe_of(link) as u32;
        self.prr.get_or_insert_with(Box::default).start(pipe);
        if link.rack {
            // RACK may start recovery from its timer, with no ACK to run
            // PRR on: the first step, which lets the first retransmission
            // out (RFC 9937 §6: it always goes).
            let ack = PrrAck {
                delivered: 0,
                safe: false,
                pipe: self.pipe_of(link) as u32,
            };
            self.prr_mut().on_ack(&ack, link.cc.ssthresh(), link.mss);
        }
    }

    /// The end of an ACK: the delivery-rate sample for the controller.
    /// `before` was SND.UNA plus the octets SACKed before the ACK.
    fn rate_sample(
        &mut self,
        link: &mut Link<'_>,
        before: Seq,
        newly_lost: u64,
        delivered: &Delivered,
    ) {
        let after = link.snd.buf.una() + link.snd.buf.scoreboard().sacked_bytes() as u32;
        let octets = if after.after(before) {
            u64::from(after.distance_from(before))
        } else {
            0
        };
        if octets == 0 && newly_lost == 0 {
            return;
        }
        let in_flight = self.log_in_flight(link.snd.flight());
        let recovering = self.in_recovery() || self.rto_recovery_until.is_some();
        let Some(rates) = self.rates.as_deref_mut() else {
            return;
        };
        rates.on_lost(newly_lost);
        let rs = rates.on_ack(
            link.now,
            octets,
            delivered.newest,
            newly_lost,
            in_flight,
            recovering,
        );
        link.cc.on_rate_sample(&rs, link.now);
    }

    /// Lost retransmissions, which RFC 6675 alone only repairs by timeout:
    /// when SACKs cover more than DupThresh − 1 segments of data sent
    /// after the latest retransmission, the retransmissions still not
    /// acknowledged were lost too (by IsLost's own reasoning, applied to
    /// the order of sending). NextSeg then starts over from SND.UNA, so
    /// rule 1 resends them. Linux did the same before RACK. Returns
    /// whether it found some.
    fn detect_lost_retransmissions(
        &mut self,
        send: &vtcp_buf::SendBuf,
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

    // ----- Timers -----

    /// The retransmission timer expired (RFC 6298 §5.4–5.6). Limited
    /// transmit's credit (RFC 3042) belongs to the duplicate ACKs of the
    /// flight the timeout gave up on, and goes. With data to resend
    /// (`loss`: whether this is the segment's first timeout), the
    /// controller hears of it and any recovery ends; the scoreboard is
    /// cleared and the send buffer goes back to SND.UNA (the caller moves
    /// SND.NXT back too); no probe until the flight before the timeout is
    /// acknowledged.
    pub(crate) fn on_rto(&mut self, link: &mut Link<'_>, loss: Option<bool>) {
        self.dup_acks = 0;
        let Some(first) = loss else { return };
        // RFC 5681 §3.1 eq. 4: ssthresh from FlightSize, for the first
        // timeout of a segment only; a later one leaves it (the window is
        // one segment already).
        if first {
            self.note_reduction(link, true);
            link.cc.on_timeout(link.snd.flight() as u32);
        } else {
            link.cc.on_repeated_timeout();
        }
        self.go_back(link);
    }

    /// Back to SND.UNA with nothing believed of the scoreboard (RFC 6675
    /// §5.1), after a timeout (`on_rto`) or a smaller path MTU (RFC 1191
    /// §6.3: no congestion response; the segments in flight were too big
    /// and go again in smaller ones).
    pub(crate) fn go_back(&mut self, link: &mut Link<'_>) {
        self.recover = None;
        // RFC 6675 §5.1: after a timeout the scoreboard is not trusted; go
        // back to SND.UNA.
        let buf = &mut link.snd.buf;
        buf.clear_sacks();
        buf.rewind_to(buf.una());
        let pipe = self.pipe_of(link) as u64;
        if let Some(rates) = self.rates.as_deref_mut() {
            rates.on_lost(pipe);
        }
        self.sent.on_timeout();
        self.rto_recovery_until = Some(link.snd.max);
        self.forget_probe(link);
        link.timers.stop(Timer::RackReorder);
        self.high_rxt = link.snd.buf.una();
        self.retransmit_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recovery episode is recovery's: entered once on DupThresh
    /// duplicate ACKs (RFC 6675 without RACK), told to the controller as a
    /// congestion event; a partial ACK keeps it, and the ACK of "recover"
    /// (the highest sequence number sent when it began) ends it and
    /// deflates NewReno's window (RFC 6582 §3.2 steps 5 and 6).
    #[test]
    fn dup_acks_start_a_recovery_that_the_ack_of_recover_ends() {
        const MSS: u32 = 1000;
        let iss = Seq(0);
        let mut snd = SendSide::new(iss, 1 << 20);
        snd.syn_acked = true;
        snd.buf.write(&[0; 20_000]);
        snd.buf.advance_sent(20_000);
        snd.nxt = snd.buf.nxt();
        snd.max = snd.nxt;
        let mut cc = crate::Congestion::NewReno.build(MSS, vtcp_cc::InitialWindow::Rfc6928, 0);
        let mut timers = TimerTable::default();
        let cfg = ConnConfig::default();
        let rto = RtoState::new(&crate::conn::rto_config(&cfg));
        let mut r = Recovery::new(iss, false);
        let una = snd.una();
        let mut ack = |r: &mut Recovery, snd: &mut SendSide, cc: &mut Controller, ack: Seq| {
            let mut link = Link {
                snd,
                cc,
                timers: &mut timers,
                now: Duration::ZERO,
                mss: MSS,
                rto: &rto,
                cfg: &cfg,
                sack: false,
                rack: false,
                paces: false,
            };
            let info = AckInfo {
                ack,
                una: link.snd.una(),
                sack_blocks: &[],
                tsecr: None,
                bare: true,
                same_window: true,
            };
            let mut scan = r.on_ack_info(&mut link, &info);
            let acked = if ack.after(info.una) {
                link.snd.buf.acknowledge(ack) as u32
            } else {
                0
            };
            r.on_ack(&mut link, &mut scan, acked)
        };
        for n in 1..=DUP_THRESH {
            let out = ack(&mut r, &mut snd, &mut cc, una);
            assert_eq!(out.entered_recovery, n == DUP_THRESH, "duplicate {n}");
        }
        assert_eq!(r.recover, Some(snd.max));
        assert_eq!(r.retransmit_at, Some(una), "the fast retransmit is due");
        // 20 segments in flight: ssthresh 10, cwnd 13 (RFC 5681 §3.2).
        assert_eq!((cc.ssthresh(), cc.send_window()), (10 * MSS, 13 * MSS));
        let out = ack(&mut r, &mut snd, &mut cc, una + 5 * MSS);
        assert!(!out.entered_recovery && r.in_recovery());
        assert_eq!(cc.send_window(), 9 * MSS, "deflated by 5, one added back");
        ack(&mut r, &mut snd, &mut cc, una + 20 * MSS);
        assert!(!r.in_recovery());
        assert_eq!(cc.send_window(), 10 * MSS, "deflated to ssthresh");
    }
}
