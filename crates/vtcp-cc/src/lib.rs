//! TCP congestion control behind one trait.
//!
//! [`CongestionController`] is the interface: the engine tells it events
//! (an ACK of new data, a congestion event that starts a recovery, the
//! recovery's end, a timeout, an undo, a delivery-rate sample) and reads
//! back the congestion window and, for a controller that paces, the pacing
//! rate. Loss detection and the recovery episode are the engine's: the
//! controller never decides that a segment is lost or that a recovery is
//! under way, and the engine never asks it. The trait is object-safe (the
//! engine may hold a `Box<dyn CongestionController>` of the user's own)
//! and reads no clock: controllers that model time, like Cubic, are handed
//! it ([`CongestionController::on_ack_at`],
//! [`CongestionController::on_rtt_sample`]).
//!
//! Four controllers, one module each:
//!
//! - [`NewReno`]: RFC 5681 slow start and congestion avoidance with byte
//!   counting (RFC 3465, L = 2·SMSS), fast retransmit and fast recovery,
//!   RFC 6582 partial ACKs, the RFC 6928 initial window.
//! - [`HighSpeed`]: RFC 3649, the engine's default. Identical to NewReno up to
//!   38 segments; above, a larger increase a(w) and a smaller decrease b(w),
//!   with no floating point on the per-ACK path.
//! - [`Cubic`]: RFC 9438 (β = 0.7, C = 0.4, fast convergence, the
//!   Reno-friendly region), in integer arithmetic.
//! - [`Bbr`]: BBRv3 (draft-ietf-ccwg-bbr): a model of the path's bandwidth
//!   and round-trip time built from the engine's delivery-rate samples
//!   ([`RateSample`]) sets a pacing rate and the window; Startup, Drain,
//!   ProbeBW's four phases and ProbeRTT; loss bounds the model
//!   (`inflight_longterm`, `inflight_shortterm`), ECN is not used.
//!
//! All windows are in bytes.
//!
//! ```
//! use core::time::Duration;
//! use vtcp_cc::{CongestionController, NewReno};
//!
//! let mss = 1460;
//! let mut cc = NewReno::new(mss);
//! assert_eq!(cc.send_window(), 10 * mss); // RFC 6928: min(10·MSS, max(2·MSS, 14600))
//!
//! cc.on_ack(mss); // slow start: one MSS per MSS acknowledged
//! assert_eq!(cc.send_window(), 11 * mss);
//!
//! // The engine's loss detection found a loss (three duplicate ACKs, say)
//! // and started a recovery: a congestion event, with 11 segments in
//! // flight. RFC 5681 §3.2: ssthresh = FlightSize / 2, cwnd = ssthresh + 3·SMSS.
//! cc.on_congestion_event(11 * mss);
//! assert_eq!(cc.ssthresh(), 11 * mss / 2);
//! assert_eq!(cc.send_window(), 11 * mss / 2 + 3 * mss);
//! // An ACK of two segments that does not end the recovery (RFC 6582
//! // §3.2 step 5): the window deflates by them and grows by one.
//! cc.on_partial_ack(2 * mss, Duration::ZERO);
//! assert_eq!(cc.send_window(), 11 * mss / 2 + 2 * mss);
//! // An ACK covered the recovery point: the window deflates to ssthresh.
//! cc.on_recovery_end();
//! assert_eq!(cc.send_window(), 11 * mss / 2);
//! ```
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;
use core::time::Duration;

mod bbr;
mod cubic;
pub mod highspeed;
mod newreno;

pub use bbr::{Bbr, BbrMode};
pub use cubic::Cubic;
pub use highspeed::HighSpeed;
pub use newreno::NewReno;

/// A congestion controller.
///
/// The engine's loss recovery owns the recovery episode: it decides what
/// is lost (duplicate ACKs, SACK, RACK), when a recovery starts, and when
/// it ends (an ACK at or beyond RFC 6582's "recover"); the controller is
/// told, and answers with the window ([`send_window`](Self::send_window))
/// and, if it paces, the rate ([`pacing_rate`](Self::pacing_rate)). The
/// engine calls, per RFC 5681 §3 and RFC 6582:
///
/// - [`on_ack_at`](Self::on_ack_at) (which defaults to
///   [`on_ack`](Self::on_ack)) for every ACK of new data outside a
///   recovery, or [`on_window_unused`](Self::on_window_unused) instead when
///   the window was not what limited sending;
/// - [`on_congestion_event`](Self::on_congestion_event) when its loss
///   detection starts a recovery (and when a tail loss probe turns out to
///   have repaired a loss, RFC 8985 §7.4, immediately followed by
///   [`on_recovery_end`](Self::on_recovery_end));
/// - [`on_partial_ack`](Self::on_partial_ack) for every ACK of new data
///   during a recovery that does not end it;
/// - [`on_recovery_dup_ack`](Self::on_recovery_dup_ack) for each further
///   duplicate ACK during a recovery;
/// - [`on_recovery_end`](Self::on_recovery_end) when an ACK ends the
///   recovery;
/// - [`on_timeout`](Self::on_timeout) (then
///   [`on_repeated_timeout`](Self::on_repeated_timeout)) when the
///   retransmission timer expires, and [`undo`](Self::undo) when a
///   reduction proves spurious: either ends any recovery, with no
///   [`on_recovery_end`](Self::on_recovery_end) after it;
/// - [`on_rtt_sample`](Self::on_rtt_sample) with each new smoothed RTT, and
///   [`on_rate_sample`](Self::on_rate_sample) at the end of an ACK's
///   processing, for controllers that model the path.
///
/// It may send while the bytes in flight are below
/// [`send_window`](Self::send_window).
pub trait CongestionController: fmt::Debug {
    /// New data was acknowledged outside a recovery: `bytes_acked` octets.
    fn on_ack(&mut self, bytes_acked: u32);

    /// A duplicate ACK arrived during a recovery: a segment left the
    /// network, and a window-based controller inflates its window by one
    /// SMSS (RFC 5681 §3.2 step 4). The engine calls it only during a
    /// recovery; counting duplicates and deciding that a segment is lost is
    /// loss detection, the engine's job. The default does nothing.
    fn on_recovery_dup_ack(&mut self) {}

    /// The retransmission timer expired with `flight_size` octets
    /// outstanding (RFC 5681 §3.1 eq. 4: ssthresh from FlightSize, not
    /// from the window): ssthresh drops, the window becomes the loss
    /// window of one SMSS, and any recovery is over. The engine calls it
    /// for the first timeout of a segment; later ones are
    /// [`on_repeated_timeout`](Self::on_repeated_timeout).
    fn on_timeout(&mut self, flight_size: u32);

    /// The same segment timed out again: the window goes back to one SMSS
    /// and any recovery is over, and ssthresh stays where the first
    /// timeout put it (RFC 5681 §3.1 asks eq. 4 only of the first; Linux
    /// keeps it too). The default, for controllers without the
    /// distinction, treats it as a timeout with the one-segment window in
    /// flight.
    fn on_repeated_timeout(&mut self) {
        let flight = self.send_window();
        self.on_timeout(flight);
    }

    /// The engine found a loss and started a recovery, with `flight_size`
    /// octets outstanding: the congestion response of RFC 5681 §3.2 steps
    /// 2–3 (ssthresh from FlightSize, the window from ssthresh) or the
    /// controller's own (RFC 3649's b(w), RFC 9438's β). The recovery lasts
    /// until [`on_recovery_end`](Self::on_recovery_end), a timeout or an
    /// [`undo`](Self::undo).
    fn on_congestion_event(&mut self, flight_size: u32);

    /// The peer echoed a congestion mark (an ACK with ECE, RFC 3168
    /// §6.1.2) with `flight_size` octets outstanding: the window is
    /// reduced as for a loss, but nothing is lost, nothing goes again and
    /// no recovery follows. The engine calls it at most once per window of
    /// data, and never during a recovery (whose reduction covers the
    /// window). The default is the loss response at once:
    /// [`on_congestion_event`](Self::on_congestion_event) and then
    /// [`on_recovery_end`](Self::on_recovery_end), which for NewReno,
    /// HighSpeed and Cubic sets ssthresh as for a loss (RFC 3168 §6.1.2:
    /// halved; RFC 3649's b(w); RFC 9438 §4.6's β) and the window to it.
    fn on_ecn_echo(&mut self, flight_size: u32) {
        self.on_congestion_event(flight_size);
        self.on_recovery_end();
    }

    /// New data was acknowledged during a recovery, and the recovery goes
    /// on: `bytes_acked` octets (RFC 6582 §3.2 step 5's partial ACK, which
    /// deflates NewReno's window by the amount acknowledged). The default
    /// hands it to [`on_ack_at`](Self::on_ack_at), for a controller that
    /// makes no difference.
    fn on_partial_ack(&mut self, bytes_acked: u32, now: Duration) {
        self.on_ack_at(bytes_acked, now);
    }

    /// An ACK ended the recovery: it acknowledged everything outstanding
    /// when the recovery began (RFC 6582 §3.2 step 6, where NewReno's
    /// window deflates to ssthresh). The default does nothing.
    fn on_recovery_end(&mut self) {}

    /// The congestion window, in octets.
    fn send_window(&self) -> u32;

    /// The slow-start threshold, in octets (`u32::MAX` before any loss).
    fn ssthresh(&self) -> u32;

    /// The sender's maximum segment size.
    fn mss(&self) -> u32;

    /// Sets the maximum segment size, once the handshake has fixed it.
    /// Before any data moves, the initial window is recomputed for it.
    fn set_mss(&mut self, mss: u32);

    /// A short name: `newreno`, `highspeed`, `cubic`.
    fn name(&self) -> &'static str;

    /// Like [`on_ack`](Self::on_ack), with the current time (since any
    /// epoch the engine keeps). Controllers that model time use it; the
    /// others ignore it.
    fn on_ack_at(&mut self, bytes_acked: u32, now: Duration) {
        let _ = now;
        self.on_ack(bytes_acked);
    }

    /// New data was acknowledged outside a recovery while the congestion
    /// window was not in use (the application or the peer's window held
    /// the sender back: RFC 7661 §4.1, Linux's `tcp_is_cwnd_limited`). The
    /// engine calls this instead of [`on_ack_at`](Self::on_ack_at): the
    /// window does not grow. Controllers that model time leave the unused
    /// period out of their clock (RFC 9438 §5.8); the default does
    /// nothing.
    fn on_window_unused(&mut self, now: Duration) {
        let _ = now;
    }

    /// A new smoothed RTT estimate. Controllers that model time use it.
    fn on_rtt_sample(&mut self, srtt: Duration) {
        let _ = srtt;
    }

    /// The engine found its latest reduction spurious (RFC 3708 D-SACK,
    /// RFC 3522 Eifel): the window and ssthresh go back to at least
    /// `prior_cwnd` and `prior_ssthresh`, the values before it, and any
    /// recovery is over (RFC 4015 §2). The default keeps the reduction,
    /// for controllers that have no undo.
    fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        let _ = (prior_cwnd, prior_ssthresh);
    }

    /// The end of an ACK's processing, once per ACK that acknowledged or
    /// SACKed new data or had the engine mark data lost, after the calls
    /// above: what the ACK delivered and the delivery-rate sample it gave
    /// (draft-cheng-iccrg-delivery-rate-estimation), and whether the
    /// engine is in a loss recovery ([`RateSample::in_recovery`]).
    /// Model-based controllers (BBR) set their window and pacing rate here;
    /// the default does nothing.
    fn on_rate_sample(&mut self, rs: &RateSample, now: Duration) {
        let _ = (rs, now);
    }

    /// The rate to pace sending at, in octets per second: the engine
    /// releases segments no faster (spread over time, up to
    /// [`send_quantum`](Self::send_quantum) at once). `None`, the default:
    /// no pacing, segments go as soon as the window allows.
    fn pacing_rate(&self) -> Option<u64> {
        None
    }

    /// The most the engine may send at once at the pacing rate, in octets
    /// (BBR's send quantum, Linux's TSO autosizing): after an idle period
    /// at most this much goes in one burst. Read only while
    /// [`pacing_rate`](Self::pacing_rate) is `Some`; the default is two
    /// segments.
    fn send_quantum(&self) -> u32 {
        self.mss().saturating_mul(2)
    }

    /// Whether the engine limits sending during a SACK recovery with
    /// Proportional Rate Reduction (RFC 6937) toward
    /// [`ssthresh`](Self::ssthresh), as it does for the window-based
    /// controllers (the default, true). A controller that sets its own
    /// window in recovery (BBR's packet conservation; Linux calls its
    /// `cong_control` instead of PRR) answers false, and the engine then
    /// sends within [`send_window`](Self::send_window) throughout.
    fn reduces_with_prr(&self) -> bool {
        true
    }
}

/// What one ACK delivered, and the delivery-rate sample it gave
/// (draft-cheng-iccrg-delivery-rate-estimation §3): what
/// [`CongestionController::on_rate_sample`] hears.
///
/// The engine records, for every segment it sends, how much the
/// connection had delivered by then and when; when the ACK of a segment
/// arrives, the octets delivered since it was sent over the time that
/// took is a sample of the path's delivery rate. All counts are octets of
/// the connection's lifetime (`u64`: they pass 2^32 on long connections).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateSample {
    /// Octets delivered (acknowledged cumulatively or by SACK) over
    /// [`interval`](Self::interval); zero when the ACK gave no sample.
    pub delivered: u64,
    /// The sample's interval: the longer of the send and ACK intervals
    /// (draft §3.3), zero when the ACK gave no sample.
    pub interval: Duration,
    /// All octets the connection has delivered, this ACK included
    /// (C.delivered).
    pub total_delivered: u64,
    /// C.delivered when the segment that gave the sample was sent
    /// (P.delivered): a round trip ends when this reaches the
    /// `total_delivered` of the round's start.
    pub prior_delivered: u64,
    /// The round-trip time of the delivered segment sent last, unless it
    /// was retransmitted (Karn).
    pub rtt: Option<Duration>,
    /// The application (not the window) held the sender back when the
    /// segment that gave the sample was sent: the rate is a lower bound
    /// of the path's, not a measure of it.
    pub is_app_limited: bool,
    /// Octets in flight when the segment that gave the sample was sent
    /// (P.tx_in_flight, BBR's inflight bound).
    pub tx_in_flight: u64,
    /// Octets marked lost between that segment's send and this ACK
    /// (C.lost − P.lost).
    pub lost: u64,
    /// Octets this ACK newly acknowledged or SACKed.
    pub newly_acked: u64,
    /// Octets this ACK's processing newly marked lost.
    pub newly_lost: u64,
    /// Octets in flight once this ACK was processed (pipe: sent, not
    /// acknowledged, SACKed or marked lost).
    pub inflight: u64,
    /// The engine is in a loss recovery (fast recovery or after a
    /// timeout) after this ACK.
    pub in_recovery: bool,
}

impl RateSample {
    /// The sample's delivery rate in octets per second, if the ACK gave
    /// one.
    pub fn delivery_rate(&self) -> Option<u64> {
        let ns = self.interval.as_nanos();
        if self.delivered == 0 || ns == 0 {
            return None;
        }
        let rate = u128::from(self.delivered) * 1_000_000_000 / ns;
        Some(u64::try_from(rate).unwrap_or(u64::MAX))
    }
}

/// The RFC 6928 initial window: min(10·MSS, max(2·MSS, 14600)).
pub fn initial_window(mss: u32) -> u32 {
    InitialWindow::Rfc6928.octets(mss)
}

/// The rule for the first congestion window (and the window after an idle
/// period's restart, where a controller has one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InitialWindow {
    /// RFC 6928 (experimental): min(10·MSS, max(2·MSS, 14600)), ten
    /// segments at MSS 1460. Linux's and FreeBSD's; the default.
    #[default]
    Rfc6928,
    /// RFC 5681 §3.1 (standards track): min(4·MSS, max(2·MSS, 4380)),
    /// three segments at MSS 1460 (RFC 3390's formula).
    Rfc5681,
}

impl InitialWindow {
    /// The window in octets for segments of `mss`.
    pub fn octets(self, mss: u32) -> u32 {
        let mss = mss.max(1);
        match self {
            Self::Rfc6928 => mss.saturating_mul(10).min(mss.saturating_mul(2).max(14600)),
            Self::Rfc5681 => mss.saturating_mul(4).min(mss.saturating_mul(2).max(4380)),
        }
    }
}

/// State every controller here shares: the window arithmetic of RFC 5681
/// §3 and RFC 6582's fast recovery. The controllers differ only in how the
/// window grows in congestion avoidance and how far it falls on loss.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) cwnd: u32,
    pub(crate) ssthresh: u32,
    pub(crate) mss: u32,
    /// Between a congestion event and the end of its recovery (as the
    /// engine told them): the window is inflated by duplicate ACKs and
    /// deflates to ssthresh at the end. The engine keeps the episode; this
    /// only keeps a stray call from touching the window.
    in_recovery: bool,
    /// Octets acknowledged in congestion avoidance toward the next
    /// increase (RFC 3465 §2.1 "bytes_acked").
    pub(crate) ca_acked: u64,
    /// Whether any data was acknowledged yet (the initial window may still
    /// follow the MSS).
    started: bool,
    /// The rule for the initial window.
    iw: InitialWindow,
}

impl Window {
    pub(crate) fn new(mss: u32) -> Self {
        let mss = mss.max(1);
        Self {
            cwnd: initial_window(mss),
            iw: InitialWindow::Rfc6928,
            // RFC 5681 §3.1: "arbitrarily high".
            ssthresh: u32::MAX,
            mss,
            in_recovery: false,
            ca_acked: 0,
            started: false,
        }
    }

    /// Takes `iw` as the rule for the initial window; before any data is
    /// acknowledged the window follows it at once.
    pub(crate) fn set_initial_window(&mut self, iw: InitialWindow) {
        self.iw = iw;
        if !self.started && self.ssthresh == u32::MAX {
            self.cwnd = iw.octets(self.mss);
        }
    }

    pub(crate) fn set_mss(&mut self, mss: u32) {
        let mss = mss.max(1);
        if !self.started && self.ssthresh == u32::MAX {
            self.cwnd = self.iw.octets(mss);
        }
        self.mss = mss;
        self.cwnd = self.cwnd.max(mss);
        // Keep RFC 5681's floor for the new segment size.
        self.ssthresh = self.ssthresh.max(self.floor());
    }

    /// The least ssthresh may be (RFC 5681 eq. 4).
    fn floor(&self) -> u32 {
        self.mss.saturating_mul(2)
    }

    /// Handles an ACK of new data outside recovery up to the point where
    /// congestion avoidance begins; returns the octets left for congestion
    /// avoidance (zero when the ACK was spent on slow start).
    pub(crate) fn on_ack(&mut self, bytes_acked: u32) -> u32 {
        self.started = true;
        if self.cwnd < self.ssthresh {
            // RFC 5681 §3.1 slow start with RFC 3465 byte counting, L = 2.
            let before = self.cwnd;
            self.cwnd = self
                .cwnd
                .saturating_add(bytes_acked.min(self.floor()))
                .min(self.ssthresh.max(self.cwnd));
            // What slow start did not use goes on to congestion avoidance
            // once the threshold is crossed (as Linux's tcp_slow_start).
            return if self.cwnd >= self.ssthresh {
                bytes_acked - (self.cwnd - before)
            } else {
                0
            };
        }
        bytes_acked
    }

    /// Adds `segments_per_rtt` SMSS per window of octets acknowledged
    /// (RFC 5681 §3.1 eq. 3 with byte counting; RFC 3649's a(w)).
    pub(crate) fn avoid_congestion(&mut self, bytes_acked: u32, segments_per_rtt: u32) {
        self.ca_acked += u64::from(bytes_acked) * u64::from(segments_per_rtt.max(1));
        let cwnd = u64::from(self.cwnd.max(1));
        if self.ca_acked >= cwnd {
            let steps = self.ca_acked / cwnd;
            self.ca_acked -= steps * cwnd;
            let grow = u32::try_from(steps)
                .unwrap_or(u32::MAX)
                .saturating_mul(self.mss);
            self.cwnd = self.cwnd.saturating_add(grow);
        }
    }

    /// RFC 6582 §3.2 step 5, a partial ACK: deflate by the amount
    /// acknowledged, add back one SMSS if at least that much was.
    pub(crate) fn on_partial_ack(&mut self, bytes_acked: u32) {
        self.started = true;
        self.cwnd = self.cwnd.saturating_sub(bytes_acked);
        if bytes_acked >= self.mss {
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
        self.cwnd = self.cwnd.max(self.mss);
    }

    pub(crate) fn on_recovery_dup_ack(&mut self) {
        if self.in_recovery {
            // RFC 5681 §3.2 step 4: each further duplicate means a segment
            // left the network.
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
    }

    /// Enters fast recovery with a new ssthresh (RFC 5681 §3.2 steps 2–3).
    pub(crate) fn enter_recovery(&mut self, ssthresh: u32) {
        self.ssthresh = ssthresh.max(self.floor());
        self.cwnd = self.ssthresh.saturating_add(self.mss.saturating_mul(3));
        self.in_recovery = true;
        self.ca_acked = 0;
    }

    /// The recovery is over: the window deflates to ssthresh (RFC 6582
    /// §3.2 step 6).
    pub(crate) fn end_recovery(&mut self) {
        if self.in_recovery {
            self.cwnd = self.ssthresh.max(self.mss);
        }
        self.in_recovery = false;
        self.ca_acked = 0;
    }

    /// RFC 5681 §3.1: ssthresh from eq. 4 (computed by the caller), and the
    /// loss window of one SMSS.
    pub(crate) fn on_timeout(&mut self, ssthresh: u32) {
        self.ssthresh = ssthresh.max(self.floor());
        self.cwnd = self.mss;
        self.in_recovery = false;
        self.ca_acked = 0;
    }

    /// RFC 4015 §2 (as Linux restores them): no smaller than before the
    /// reduction, out of recovery.
    pub(crate) fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        self.cwnd = self.cwnd.max(prior_cwnd);
        self.ssthresh = self.ssthresh.max(prior_ssthresh);
        self.in_recovery = false;
        self.ca_acked = 0;
    }

    /// Between a congestion event and the end of its recovery.
    #[cfg(test)]
    pub(crate) fn in_recovery(&self) -> bool {
        self.in_recovery
    }
}

/// Implements the trait's bookkeeping methods by delegating to the
/// controller's `window` field.
macro_rules! delegate_window {
    () => {
        #[inline]
        fn send_window(&self) -> u32 {
            self.window.cwnd
        }
        #[inline]
        fn ssthresh(&self) -> u32 {
            self.window.ssthresh
        }
        #[inline]
        fn mss(&self) -> u32 {
            self.window.mss
        }
        fn set_mss(&mut self, mss: u32) {
            self.window.set_mss(mss);
        }
        fn on_recovery_dup_ack(&mut self) {
            self.window.on_recovery_dup_ack();
        }
        fn on_recovery_end(&mut self) {
            self.window.end_recovery();
        }
        fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
            self.window.undo(prior_cwnd, prior_ssthresh);
        }
        fn on_repeated_timeout(&mut self) {
            let ssthresh = self.window.ssthresh;
            self.window.on_timeout(ssthresh);
        }
    };
}
pub(crate) use delegate_window;

#[cfg(test)]
pub(crate) mod model {
    //! Operation sequences for the property tests of every controller.

    use super::*;
    use quickcheck::{Arbitrary, Gen};

    #[derive(Clone, Debug)]
    pub(crate) enum Op {
        Ack(u32),
        PartialAck(u32),
        DupAck,
        CongestionEvent(u32),
        RecoveryEnd,
        Timeout,
        Rtt(u32),
        Tick(u32),
        SetMss(u16),
        Undo(u32, u32),
        RepeatedTimeout,
    }

    /// An [`Op`], or one of the events only model-based controllers (BBR)
    /// make use of: an ACK while the window was unused, a rate sample.
    #[derive(Clone, Debug)]
    pub(crate) enum Event {
        Op(Op),
        WindowUnused,
        Rate(Rate),
    }

    impl Arbitrary for Event {
        fn arbitrary(g: &mut Gen) -> Self {
            match u8::arbitrary(g) % 8 {
                0..=2 => Self::Rate(Rate::arbitrary(g)),
                3 => Self::WindowUnused,
                _ => Self::Op(Op::arbitrary(g)),
            }
        }
    }

    /// A rate sample: one that follows from the ones before (a path
    /// delivering `acked` octets per ACK) or, as often, arbitrary fields.
    #[derive(Clone, Debug)]
    pub(crate) struct Rate {
        coherent: bool,
        acked: u32,
        lost: u32,
        interval_us: u32,
        rtt_us: Option<u32>,
        inflight: u32,
        app_limited: bool,
        in_recovery: bool,
        raw: [u64; 8],
    }

    impl Arbitrary for Rate {
        fn arbitrary(g: &mut Gen) -> Self {
            let small = |g: &mut Gen| u32::arbitrary(g) % 200_000;
            let mut raw = [0u64; 8];
            for r in &mut raw {
                *r = match u8::arbitrary(g) % 4 {
                    0 => u64::arbitrary(g),
                    1 => 0,
                    _ => u64::arbitrary(g) % 1_000_000,
                };
            }
            Self {
                coherent: bool::arbitrary(g),
                acked: small(g),
                lost: if u8::arbitrary(g) % 4 == 0 {
                    small(g)
                } else {
                    0
                },
                interval_us: u32::arbitrary(g) % 500_000,
                rtt_us: Option::<u32>::arbitrary(g).map(|r| r % 500_000),
                inflight: small(g),
                app_limited: u8::arbitrary(g) % 4 == 0,
                in_recovery: u8::arbitrary(g) % 4 == 0,
                raw,
            }
        }
    }

    impl Rate {
        /// The sample, `delivered` being the connection's total so far
        /// (updated for a coherent sample).
        fn sample(&self, delivered: &mut u64) -> RateSample {
            let mut rs = RateSample::default();
            if self.coherent {
                let acked = u64::from(self.acked);
                let inflight = u64::from(self.inflight);
                let prior = delivered.saturating_sub(inflight);
                *delivered = delivered.saturating_add(acked);
                rs.total_delivered = *delivered;
                rs.prior_delivered = prior;
                rs.delivered = *delivered - prior;
                rs.interval = Duration::from_micros(u64::from(self.interval_us));
                rs.rtt = self.rtt_us.map(|us| Duration::from_micros(u64::from(us)));
                rs.is_app_limited = self.app_limited;
                rs.tx_in_flight = inflight.saturating_add(acked);
                rs.lost = u64::from(self.lost);
                rs.newly_acked = acked;
                rs.newly_lost = u64::from(self.lost);
                rs.inflight = inflight;
                rs.in_recovery = self.in_recovery;
            } else {
                let r = self.raw;
                rs.delivered = r[0];
                rs.interval = Duration::from_nanos(r[1]);
                rs.total_delivered = r[2];
                rs.prior_delivered = r[3];
                rs.rtt = self.rtt_us.map(|_| Duration::from_nanos(r[4]));
                rs.is_app_limited = self.app_limited;
                rs.tx_in_flight = r[5];
                rs.lost = r[6];
                rs.newly_acked = r[7];
                rs.newly_lost = r[0] ^ r[6];
                rs.inflight = r[1] ^ r[5];
                rs.in_recovery = self.in_recovery;
            }
            rs
        }
    }

    impl Arbitrary for Op {
        fn arbitrary(g: &mut Gen) -> Self {
            let extreme = |g: &mut Gen| {
                if bool::arbitrary(g) {
                    u32::arbitrary(g)
                } else {
                    u32::arbitrary(g) % 100_000
                }
            };
            match u8::arbitrary(g) % 12 {
                10 => Self::PartialAck(extreme(g)),
                9 => Self::RepeatedTimeout,
                0 | 1 => Self::Ack(extreme(g)),
                2 => Self::DupAck,
                3 => Self::CongestionEvent(extreme(g)),
                4 => Self::RecoveryEnd,
                5 => Self::Timeout,
                6 => Self::Rtt(u32::arbitrary(g) % 2_000_000),
                7 => Self::SetMss(u16::arbitrary(g)),
                8 => Self::Undo(extreme(g), extreme(g)),
                _ => Self::Tick(u32::arbitrary(g) % 5_000_000),
            }
        }
    }

    /// Applies `ops` and checks the invariants after each: the window is
    /// never below one SMSS, ssthresh never below two; a pacing rate, if
    /// any, is above zero and at most 2^48 octets per second; the send
    /// quantum is at least one SMSS.
    pub(crate) fn invariants_hold(cc: &mut dyn CongestionController, ops: &[Op]) -> bool {
        events_keep_invariants(cc, ops.iter().cloned().map(Event::Op))
    }

    /// [`invariants_hold`] for [`Event`]s.
    pub(crate) fn events_keep_invariants(
        cc: &mut dyn CongestionController,
        events: impl IntoIterator<Item = Event>,
    ) -> bool {
        let mut now = Duration::ZERO;
        let mut delivered = 0u64;
        for event in events {
            let op = match event {
                Event::Op(op) => op,
                Event::WindowUnused => {
                    cc.on_window_unused(now);
                    Op::Tick(0)
                }
                Event::Rate(r) => {
                    cc.on_rate_sample(&r.sample(&mut delivered), now);
                    Op::Tick(0)
                }
            };
            match &op {
                Op::Ack(b) => cc.on_ack_at(*b, now),
                Op::PartialAck(b) => cc.on_partial_ack(*b, now),
                Op::DupAck => cc.on_recovery_dup_ack(),
                Op::CongestionEvent(f) => cc.on_congestion_event(*f),
                Op::RecoveryEnd => cc.on_recovery_end(),
                Op::Timeout => cc.on_timeout(cc.send_window()),
                Op::RepeatedTimeout => cc.on_repeated_timeout(),
                Op::Rtt(us) => cc.on_rtt_sample(Duration::from_micros(u64::from(*us) + 1)),
                Op::Tick(us) => now += Duration::from_micros(u64::from(*us)),
                Op::SetMss(m) => cc.set_mss(u32::from(*m)),
                Op::Undo(cwnd, ssthresh) => cc.undo(*cwnd, *ssthresh),
            }
            let mss = cc.mss();
            if cc.send_window() < mss || cc.ssthresh() < mss.saturating_mul(2) {
                return false;
            }
            if cc.pacing_rate().is_some_and(|r| r == 0 || r > 1 << 48) || cc.send_quantum() < mss {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod undo_tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec;
    use alloc::vec::Vec;

    extern crate alloc;

    /// Every controller with a 1000-octet MSS, after `acks` ACKs of one
    /// segment each.
    fn grown(acks: usize) -> Vec<Box<dyn CongestionController>> {
        let mut all: Vec<Box<dyn CongestionController>> = vec![
            Box::new(NewReno::new(1000)),
            Box::new(HighSpeed::new(1000)),
            Box::new(Cubic::new(1000)),
        ];
        for cc in &mut all {
            for _ in 0..acks {
                cc.on_ack(1000);
            }
        }
        all
    }

    /// Whether `cc` is in a recovery, as far as its window shows: a
    /// duplicate ACK inflates the window only then. (The episode is the
    /// engine's; the window-based controllers keep a flag of their own
    /// only so that a stray call changes nothing.)
    fn inflates(cc: &mut dyn CongestionController) -> bool {
        let before = cc.send_window();
        cc.on_recovery_dup_ack();
        cc.send_window() != before
    }

    /// RFC 3168 §6.1.2: an ECN echo sets ssthresh as a loss would and
    /// the window to it at once, with no recovery left open (RFC 9438
    /// §4.6 for Cubic: β of the window).
    #[test]
    fn an_ecn_echo_reduces_like_a_loss_without_a_recovery() {
        for (mut echo, mut loss) in grown(40).into_iter().zip(grown(40)) {
            let before = echo.send_window();
            echo.on_ecn_echo(before);
            loss.on_congestion_event(before);
            loss.on_recovery_end();
            assert_eq!(echo.ssthresh(), loss.ssthresh(), "{}", echo.name());
            assert_eq!(echo.send_window(), echo.ssthresh(), "{}", echo.name());
            assert!(echo.send_window() < before, "{}", echo.name());
            assert!(!inflates(&mut *echo), "{} left in recovery", echo.name());
        }
        // BBR v1's choice, kept: no response to a classic echo.
        let mut bbr = Bbr::new(1000);
        let before = bbr.send_window();
        bbr.on_ecn_echo(before);
        assert_eq!(bbr.send_window(), before);
    }

    #[test]
    fn undo_restores_the_window_and_threshold_before_a_congestion_event() {
        for mut cc in grown(40) {
            let (cwnd, ssthresh) = (cc.send_window(), cc.ssthresh());
            cc.on_congestion_event(cwnd);
            assert!(
                cc.send_window() < cwnd || cc.ssthresh() < ssthresh,
                "{}",
                cc.name()
            );
            cc.undo(cwnd, ssthresh);
            assert_eq!(
                (cc.send_window(), cc.ssthresh()),
                (cwnd, ssthresh),
                "{}",
                cc.name()
            );
            assert!(!inflates(&mut *cc), "{}", cc.name());
        }
    }

    #[test]
    fn a_repeated_timeout_keeps_ssthresh_and_ends_recovery() {
        for mut cc in grown(20) {
            cc.on_timeout(12_000);
            assert!(cc.ssthresh() < u32::MAX);
            // Duplicate ACKs after the timeout start a recovery; the same
            // segment times out again.
            cc.on_congestion_event(3000);
            let ssthresh = cc.ssthresh();
            cc.on_repeated_timeout();
            let name = cc.name();
            assert!(!inflates(&mut *cc), "{name}");
            assert_eq!(cc.send_window(), 1000, "{name}");
            assert_eq!(cc.ssthresh(), ssthresh, "{name}");
        }
    }

    #[test]
    fn undo_after_a_timeout_and_never_below_the_current_window() {
        for mut cc in grown(20) {
            let (cwnd, ssthresh) = (cc.send_window(), cc.ssthresh());
            cc.on_timeout(cwnd);
            assert_eq!(cc.send_window(), 1000, "{}", cc.name());
            cc.undo(cwnd, ssthresh);
            assert_eq!(
                (cc.send_window(), cc.ssthresh()),
                (cwnd, ssthresh),
                "{}",
                cc.name()
            );
            // A smaller prior window leaves a larger current one alone.
            cc.undo(1000, 2000);
            assert_eq!(
                (cc.send_window(), cc.ssthresh()),
                (cwnd, ssthresh),
                "{}",
                cc.name()
            );
        }
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod trait_defaults_tests {
    use super::*;
    use core::time::Duration;

    /// A controller with only the required methods, recording calls: the
    /// trait's defaults are what a user's controller gets.
    #[derive(Debug, Default)]
    struct Minimal {
        acked: u32,
        timeouts: u32,
        last_flight: u32,
    }

    impl CongestionController for Minimal {
        fn on_ack(&mut self, bytes_acked: u32) {
            self.acked += bytes_acked;
        }
        fn on_timeout(&mut self, flight_size: u32) {
            self.timeouts += 1;
            self.last_flight = flight_size;
        }
        fn on_congestion_event(&mut self, _: u32) {}
        fn send_window(&self) -> u32 {
            7000
        }
        fn ssthresh(&self) -> u32 {
            u32::MAX
        }
        fn mss(&self) -> u32 {
            1000
        }
        fn set_mss(&mut self, _: u32) {}
        fn name(&self) -> &'static str {
            "minimal"
        }
    }

    #[test]
    fn the_defaults_forward_to_the_required_methods() {
        let mut m = Minimal::default();
        m.on_ack_at(1500, Duration::from_millis(3));
        assert_eq!(m.acked, 1500);
        // A partial ACK is an ACK to a controller that makes no difference;
        // duplicates and the end of a recovery change nothing.
        m.on_partial_ack(500, Duration::from_millis(4));
        m.on_recovery_dup_ack();
        m.on_recovery_end();
        assert_eq!(m.acked, 2000);
        m.on_repeated_timeout();
        assert_eq!((m.timeouts, m.last_flight), (1, 7000));
        // No RTT model and no undo: nothing changes.
        m.on_rtt_sample(Duration::from_millis(20));
        m.undo(1, 1);
        assert_eq!((m.acked, m.timeouts, m.send_window()), (2000, 1, 7000));
    }

    /// The initial-window rule and a new MSS reset the window only while
    /// it is still the initial one: before any ACK and any loss.
    #[test]
    fn the_initial_window_is_reset_only_before_any_ack_or_loss() {
        let mut w = Window::new(1000);
        w.set_initial_window(InitialWindow::Rfc5681);
        assert_eq!(w.cwnd, 4000);
        w.set_mss(1400);
        assert_eq!(w.cwnd, InitialWindow::Rfc5681.octets(1400));

        // After an ACK (ssthresh still "arbitrarily high").
        let mut acked = Window::new(1000);
        acked.on_ack(1000);
        let grown = acked.cwnd;
        acked.set_initial_window(InitialWindow::Rfc5681);
        acked.set_mss(1000);
        assert_eq!(acked.cwnd, grown);

        // After a timeout before any ACK (never started, ssthresh set).
        let mut lost = Window::new(1000);
        lost.on_timeout(5000);
        lost.set_initial_window(InitialWindow::Rfc6928);
        lost.set_mss(1000);
        assert_eq!(lost.cwnd, 1000);
    }

    /// RFC 5681 §3.1 with byte counting: the part of an ACK that slow
    /// start does not use once the window reaches ssthresh goes on to
    /// congestion avoidance, and none of it while below.
    #[test]
    fn slow_start_hands_the_rest_of_an_ack_to_congestion_avoidance() {
        let mut w = Window::new(1000);
        w.ssthresh = 11_000;
        w.cwnd = 10_000;
        // Grows by at most 2 SMSS (L = 2) and stops at ssthresh: 1000 of
        // the 3000 grow the window, 2000 are left.
        assert_eq!(w.on_ack(3000), 2000);
        assert_eq!(w.cwnd, 11_000);
        let mut below = Window::new(1000);
        below.ssthresh = 20_000;
        below.cwnd = 10_000;
        assert_eq!(below.on_ack(3000), 0);
        assert_eq!(below.cwnd, 12_000);
    }

    /// Congestion avoidance carries what an ACK leaves over a whole window
    /// to the next: 15 + 6 segments acknowledged on a 10-segment window
    /// make two increases, not one.
    #[test]
    fn congestion_avoidance_carries_the_remainder() {
        let mut w = Window::new(1000);
        w.ssthresh = 1000;
        w.cwnd = 10_000;
        w.avoid_congestion(15_000, 1);
        assert_eq!(w.cwnd, 11_000);
        w.avoid_congestion(6000, 1);
        assert_eq!(w.cwnd, 12_000);
    }

    #[test]
    fn each_controller_says_its_name() {
        assert_eq!(NewReno::new(1000).name(), "newreno");
        assert_eq!(HighSpeed::new(1000).name(), "highspeed");
        assert_eq!(Cubic::new(1000).name(), "cubic");
    }
}
