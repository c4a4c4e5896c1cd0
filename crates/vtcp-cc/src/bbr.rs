//! BBR version 3 (draft-ietf-ccwg-bbr-06), in integer arithmetic.
//!
//! # Design
//!
//! BBR does not react to each ACK or loss by growing or cutting a window;
//! it builds a model of the path from the delivery-rate samples the engine
//! hands it ([`CongestionController::on_rate_sample`]) and sets its three
//! outputs from the model (§3.2, §5.6):
//!
//! - the **pacing rate**, `pacing_gain × BBR.bw × 99 %` (§5.6.2), which is
//!   what mostly drives sending;
//! - the **congestion window**, a cap on the data in flight of about
//!   `cwnd_gain × BBR.bdp` (§5.6.4), cut further by what losses taught
//!   (`inflight_longterm`, `inflight_shortterm`);
//! - the **send quantum**, the largest burst (§5.6.3).
//!
//! The model (§5.5) is the bottleneck bandwidth `BBR.max_bw`, the largest
//! delivery rate over the last two ProbeBW cycles (a windowed max filter,
//! [`filter::WindowedMax`]), capped by the short-term `bw_shortterm` after
//! losses; the round-trip propagation time `BBR.min_rtt` (a 10 s min
//! filter, refreshed through ProbeRTT every 5 s); their product, the BDP;
//! and the inflight bounds `inflight_longterm` (where bandwidth probing
//! met more than 2 % loss) and `inflight_shortterm` (cut by β = 0.7 per
//! round of loss, forgotten when the next probe starts). The draft's
//! earlier names, and Linux's, are `bw_hi` for the max filter, `bw_lo`,
//! `inflight_hi` and `inflight_lo`.
//!
//! The state machine (§5.1, [`BbrMode`]): Startup doubles the sending rate
//! each round (pacing gain 2.77, cwnd gain 2) until the bandwidth stops
//! growing by 25 % for 3 rounds or loss exceeds 2 % (§5.3.1); Drain paces
//! at 0.35 until the queue Startup built is gone (§5.3.2); ProbeBW cycles
//! through DOWN (0.90), CRUISE (1.0), REFILL (1.0) and UP (1.25, cwnd gain
//! 2.25), probing for more bandwidth every 2–3 s (randomised) or 63
//! rounds, whichever is sooner (§5.3.3); ProbeRTT cuts the window to half
//! the BDP for 200 ms and a round when the min RTT has not been refreshed
//! for 5 s (§5.3.4).
//!
//! Gains are in thousandths ([`UNIT`]), rates in octets per second,
//! volumes in octets and times in [`Duration`]s; the per-ACK path has no
//! floating point and every operation saturates, so no input panics.
//!
//! # What of the draft is here, and what is not
//!
//! Implemented, with the section beside the code: initialisation (§5.2.1),
//! the per-ACK steps in the draft's order (§5.2.3), Startup with both
//! exits (§5.3.1), Drain with its three-round limit (§5.3.2), ProbeBW with
//! precautionary probing and Reno coexistence (§5.3.3), ProbeRTT (§5.3.4),
//! round counting (§5.5.1), the max_bw filter (§5.5.3–§5.5.6), min_rtt
//! (§5.5.7), the TCP offload budget (§5.5.8.1), extra_acked (§5.5.9), the
//! loss response while probing and not (§5.5.10), the spurious-recovery
//! undo (§5.5.11), pacing rate, send quantum and cwnd (§5.6).
//!
//! Left out or adapted:
//!
//! - **ECN** (§3.7): the draft's ECN response is for L4S-style marking
//!   (a DCTCP-like fraction of marked octets), which RFC 3168's single
//!   ECE per window cannot give; a classic echo (`on_ecn_echo`) is
//!   ignored, as Linux's BBR v1 ignores it, and BBR here responds to loss
//!   only.
//! - **Per-packet loss** (§5.5.10.2 `HandleLostPacket`, `InflightAtLoss`):
//!   the engine reports losses per ACK ([`RateSample::newly_lost`],
//!   [`RateSample::lost`]), so the "inflight too high" test runs once per
//!   ACK on the delivered segment's `tx_in_flight` and `lost`, as Linux's
//!   BBRv3 `bbr_adapt_upper_bounds` does.
//! - **Selective ACKs** are assumed (`C.has_selective_acks`): without SACK
//!   the draft treats any loss as too much (§5.5.10.2); here the 2 %
//!   threshold applies either way.
//! - **Restart from idle** (§5.4) has no per-transmit hook: an ACK that
//!   leaves nothing in flight while application-limited counts as the
//!   restart. `MarkConnectionAppLimited` in ProbeRTT (§5.3.4.3) is the
//!   engine's to do; BBR treats the samples of segments sent during
//!   ProbeRTT as application-limited itself.
//! - **Drain's pacing gain is 0.35**, BBRv3's as deployed in Linux and in
//!   drafts -00 to -04; -05 and later use 0.5 and added the three-round
//!   limit, which is kept.
//! - **Packet conservation** in the first round of fast recovery is not
//!   in the v3 draft (§5.6.4.4 leaves recovery to the model); it comes from
//!   draft-cardwell-iccrg-bbr-congestion-control ("Modulating cwnd in Loss
//!   Recovery") and Linux's `tcp_bbr.c`, because the engine applies no PRR
//!   for BBR ([`CongestionController::reduces_with_prr`] is false): the
//!   window becomes what is in flight plus what each ACK delivers.
//! - **After a retransmission timeout** the window is one segment (as
//!   Linux), where the draft allows what is in flight plus one packet.
//!   The timeout counts as a loss in the round (NoteLoss) and, as in
//!   Linux's BBRv3, `inflight_shortterm` starts from the window before it
//!   rather than from the one segment after.
//! - **C.is_cwnd_limited** comes from the engine's calls: a round with an
//!   [`on_ack_at`](CongestionController::on_ack_at) was window-limited, one
//!   with only [`on_window_unused`](CongestionController::on_window_unused)
//!   was not.
//! - The **full-pipe check** (§5.3.1.2) reads the rate of a round's first
//!   ACK; when the engine gave that ACK no rate (an interval shorter than
//!   the least RTT), the next ACK with one stands in, where the draft
//!   would count a round without growth.
//! - The **send quantum** floor is one segment below 1.2 Mbit/s and two
//!   above (Linux's `bbr_min_tso_segs`), where the draft says two.
//! - **Loss counts as congestion only with a queue** (vtcp's choice, on by
//!   default; [`Bbr::with_queue_aware_loss`] turns it off for the draft's
//!   response). The draft's loss response treats a round with more than
//!   2 % loss as too much in flight, and cuts `bw_shortterm` and
//!   `inflight_shortterm` after any round with a loss. Where loss is
//!   random (Wi-Fi, mobile links, a lossy tunnel) and the window small,
//!   one lost segment is over 2 % of it: the draft's BBR then shrinks to a
//!   fraction of the path (`vtcp sim --bandwidth 100 --rtt 40 --loss
//!   0.01`: 8.9 Mbit/s of 100), where Linux's own BBR (version 1, which
//!   ignores loss) keeps it full. A loss that overflowing a queue caused
//!   comes when that queue is full, and every RTT sample of the round
//!   shows it; so here a loss is taken for congestion (NoteLoss, the
//!   2 % test, Startup's loss exit) only when the least RTT sample of the
//!   round so far (or of the last round, early in one) is above min_rtt
//!   by a quarter of min_rtt and at least 1 ms; and a fast recovery
//!   conserves packets (below) only when its loss was congestion, so a
//!   random loss costs its retransmission and nothing of the window (a
//!   loss in Startup would otherwise hold the window for a round and end
//!   Startup on a false plateau: `vtcp sim --bandwidth 1000 --rtt 20
//!   --loss 0.01 --bytes 100M --cc bbr`, 256 Mbit/s with conservation,
//!   566 without, 751 with 16 MiB buffers). Behind a
//!   queue of less than a quarter of the BDP, overflow losses then count
//!   as random, as every loss does for BBR version 1.

mod filter;

#[cfg(test)]
mod tests;

#[cfg(test)]
extern crate std;

use core::time::Duration;

use crate::{CongestionController, InitialWindow, RateSample};

use filter::WindowedMax;

/// Gains are in thousandths: 1000 is a gain of 1.
pub(crate) const UNIT: u64 = 1000;
/// BBR.StartupPacingGain: 4·ln 2 ≈ 2.77 (§2.5).
const STARTUP_PACING_GAIN: u64 = 2770;
/// BBR.DefaultCwndGain: 2 (§2.6).
const DEFAULT_CWND_GAIN: u64 = 2000;
/// BBR.DrainPacingGain: 0.35, BBRv3's (see the module documentation).
const DRAIN_PACING_GAIN: u64 = 350;
/// ProbeBW_DOWN's pacing gain (§5.3.3.1).
const PROBE_DOWN_PACING_GAIN: u64 = 900;
/// ProbeBW_UP's pacing and cwnd gains (§5.3.3.5).
const PROBE_UP_PACING_GAIN: u64 = 1250;
const PROBE_UP_CWND_GAIN: u64 = 2250;
/// BBR.ProbeRTTCwndGain (§2.16.2).
const PROBE_RTT_CWND_GAIN: u64 = 500;
/// BBR.PacingMarginPercent (§2.5).
const PACING_MARGIN_PERCENT: u64 = 1;
/// BBR.LossThresh = 2 % (§2.8), as a fraction.
const LOSS_THRESH: (u64, u64) = (2, 100);
/// BBR.Beta = 0.7 (§2.8).
const BETA: (u64, u64) = (7, 10);
/// BBR.Headroom = 0.15 (§2.8).
const HEADROOM: (u64, u64) = (15, 100);
/// BBR.MinPipeCwnd = 4 segments (§2.8).
const MIN_PIPE_SEGMENTS: u64 = 4;
/// BBR.MaxBwFilterLen: two ProbeBW cycles (§2.11).
const MAX_BW_FILTER_LEN: u64 = 2;
/// BBR.ExtraAckedFilterLen: 10 rounds (§2.12).
const EXTRA_ACKED_FILTER_LEN: u64 = 10;
/// The bandwidth counts as still growing at 25 % a round (§5.3.1.2).
const FULL_BW_GROWTH: (u64, u64) = (5, 4);
/// Rounds without that growth that fill the pipe (§5.3.1.2).
const FULL_BW_ROUNDS: u32 = 3;
/// BBRStartupFullLossCnt (§5.3.1.3).
const STARTUP_FULL_LOSS_COUNT: u32 = 6;
/// Drain gives up after this many rounds (§5.3.2).
const DRAIN_MAX_ROUNDS: u64 = 3;
/// BBR.MinRTTFilterLen (§2.16.1).
const MIN_RTT_FILTER_LEN: Duration = Duration::from_secs(10);
/// BBR.ProbeRTTInterval (§2.16.2).
const PROBE_RTT_INTERVAL: Duration = Duration::from_secs(5);
/// BBR.ProbeRTTDuration (§2.16.2).
const PROBE_RTT_DURATION: Duration = Duration::from_millis(200);
/// T_bbr: 2 s plus up to 1 s at random (§5.3.3.8.2).
const PROBE_WAIT_BASE: Duration = Duration::from_secs(2);
const PROBE_WAIT_RANDOM_US: u64 = 1_000_000;
/// The bound of T_reno in rounds (§5.3.3.8.3).
const RENO_MAX_ROUNDS: u64 = 63;
/// BBR.bw_probe_up_rounds stops doubling the growth here (§5.3.3.9).
const MAX_PROBE_UP_ROUNDS: u32 = 30;
/// The most the send quantum may be (§5.6.3).
const SEND_QUANTUM_MAX: u64 = 64 * 1024;
/// Below this rate (1.2 Mbit/s) the quantum may be a single segment
/// (Linux's `bbr_min_tso_rate`).
const LOW_RATE: u64 = 1_200_000 / 8;
/// No rate BBR computes or reports exceeds 2^48 octets per second
/// (2.25 Pbit/s): samples beyond it are taken as this much.
pub(crate) const MAX_RATE: u64 = 1 << 48;

/// The least queueing delay that makes a loss count as congestion, with
/// queue-aware loss ([`Bbr::with_queue_aware_loss`]): below it, jitter of
/// the hosts themselves would pass for a queue.
const QUEUE_SLACK_MIN: Duration = Duration::from_millis(1);
/// "Infinity" for the bounds and the probing increment.
const INF: u64 = u64::MAX;

/// The states of BBR's state machine (draft-ietf-ccwg-bbr §5.1.1), with
/// ProbeBW's four phases apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BbrMode {
    /// Exponential search for the bandwidth (§5.3.1).
    Startup,
    /// Draining the queue Startup built (§5.3.2).
    Drain,
    /// ProbeBW, decelerating to leave headroom (§5.3.3.1).
    ProbeBwDown,
    /// ProbeBW, sending at the estimated bandwidth (§5.3.3.2).
    ProbeBwCruise,
    /// ProbeBW, refilling the pipe for one round before probing
    /// (§5.3.3.3).
    ProbeBwRefill,
    /// ProbeBW, probing for more bandwidth (§5.3.3.4).
    ProbeBwUp,
    /// Draining in-flight data to measure the propagation delay
    /// (§5.3.4).
    ProbeRtt,
}

impl BbrMode {
    /// A short name: `startup`, `drain`, `probe_bw_down`,
    /// `probe_bw_cruise`, `probe_bw_refill`, `probe_bw_up`, `probe_rtt`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Startup => "startup",
            Self::Drain => "drain",
            Self::ProbeBwDown => "probe_bw_down",
            Self::ProbeBwCruise => "probe_bw_cruise",
            Self::ProbeBwRefill => "probe_bw_refill",
            Self::ProbeBwUp => "probe_bw_up",
            Self::ProbeRtt => "probe_rtt",
        }
    }

    /// One of ProbeBW's phases (IsInAProbeBWState, §5.3.3.9).
    fn is_probe_bw(self) -> bool {
        matches!(
            self,
            Self::ProbeBwDown | Self::ProbeBwCruise | Self::ProbeBwRefill | Self::ProbeBwUp
        )
    }
}

/// BBR.ack_phase: what the ACKs arriving say about bandwidth probing
/// (§2.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AckPhase {
    /// Not probing; no probe feedback.
    Init,
    /// Sending at the estimated bandwidth to fill the pipe.
    Refilling,
    /// Inflight rising to probe.
    ProbeStarting,
    /// Feedback from the probe arriving.
    ProbeFeedback,
    /// Probing stopped; its feedback still arriving.
    ProbeStopping,
}

/// What BBR reads of one [`RateSample`], made safe: the rate capped at
/// [`MAX_RATE`], the application-limited flag widened by ProbeRTT.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// RS.delivery_rate, zero when the ACK gave none.
    rate: u64,
    /// RS.delivered.
    delivered: u64,
    /// Whether the ACK delivered data, and so `prior_delivered`,
    /// `tx_in_flight` and `lost` describe a delivered segment.
    has_packet: bool,
    prior_delivered: u64,
    rtt: Option<Duration>,
    app_limited: bool,
    tx_in_flight: u64,
    lost: u64,
    newly_acked: u64,
    newly_lost: u64,
}

/// BBR congestion control, version 3 (draft-ietf-ccwg-bbr-06).
///
/// BBR models the path from the delivery-rate samples the engine hands
/// it: the bottleneck bandwidth ([`max_bw`](Self::max_bw), the largest
/// rate over the last two bandwidth-probing cycles), the round-trip
/// propagation time ([`min_rtt`](Self::min_rtt), a 10 s minimum) and what
/// losses above 2 % taught about how much may be in flight. From the
/// model it sets the [`pacing_rate`] (gain × bandwidth × 99 %), the
/// window (about twice the bandwidth-delay product) and the
/// [`send_quantum`]. Its states ([`BbrMode`]): Startup doubles the rate
/// each round (pacing gain 2.77) until the bandwidth stops growing by
/// 25 % for three rounds or loss exceeds 2 %; Drain (0.35) empties the
/// queue Startup built; ProbeBW cycles through DOWN (0.90), CRUISE (1.0),
/// REFILL (1.0) and UP (1.25), probing every 2–3 s (randomised, see
/// [`with_seed`](Self::with_seed)) or 63 rounds; ProbeRTT halves the
/// window for 200 ms and a round when the minimum RTT was not seen for
/// 5 s. Integer arithmetic throughout; no input panics.
///
/// What BBR needs from the engine: a [`RateSample`] at the end of every
/// ACK that delivered or lost data ([`on_rate_sample`]), with
/// `prior_delivered`, `tx_in_flight` and `lost` describing the delivered
/// segment sent last whenever `newly_acked` is not zero; [`on_ack_at`]
/// when the window was the limit and [`on_window_unused`] when it was
/// not; pacing at [`pacing_rate`]. It sets its window in recovery itself
/// (packet conservation for the first round, [`reduces_with_prr`] is
/// false) and has no ssthresh.
///
/// Left out: ECN (BBR responds to loss only); the per-packet loss
/// handling of §5.5.10.2 (losses are judged per ACK, as Linux's BBRv3
/// does); connections without SACK (the 2 % threshold applies to them
/// too). Adapted: Drain paces at 0.35 (BBRv3 in Linux and drafts -00 to
/// -04; -05 and later say 0.5); the first round of fast recovery
/// conserves packets (draft-cardwell-iccrg-bbr-congestion-control and
/// Linux, not in the v3 draft); a retransmission timeout leaves one
/// segment (Linux), not what is in flight plus one; restart from idle
/// (§5.4) is taken from an ACK that empties the pipe while
/// application-limited.
///
/// [`pacing_rate`]: CongestionController::pacing_rate
/// [`send_quantum`]: CongestionController::send_quantum
/// [`reduces_with_prr`]: CongestionController::reduces_with_prr
/// [`on_rate_sample`]: CongestionController::on_rate_sample
/// [`on_ack_at`]: CongestionController::on_ack_at
/// [`on_window_unused`]: CongestionController::on_window_unused
///
/// ```
/// use core::time::Duration;
/// use vtcp_cc::{Bbr, BbrMode, CongestionController};
///
/// let mut cc = Bbr::new(1460);
/// assert_eq!(cc.mode(), BbrMode::Startup);
/// assert_eq!(cc.send_window(), 14_600); // the RFC 6928 initial window
/// // Before any RTT sample the initial rate assumes 1 ms: 2.77 × IW / 1 ms.
/// assert_eq!(cc.pacing_rate(), Some(40_442_000));
/// cc.on_rtt_sample(Duration::from_millis(100));
/// assert_eq!(cc.pacing_rate(), Some(404_420));
/// assert_eq!(cc.ssthresh(), u32::MAX); // BBR has no ssthresh
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bbr {
    // The connection (§2.2, §2.4).
    /// C.SMSS.
    mss: u32,
    /// The rule for C.InitialCwnd.
    iw: InitialWindow,
    /// C.InitialCwnd, in octets.
    initial_cwnd: u64,
    /// C.cwnd, at least one segment and at most `u32::MAX`.
    cwnd: u64,
    /// C.pacing_rate, in (0, MAX_RATE].
    pacing_rate: u64,
    /// The latest smoothed RTT (C.srtt).
    srtt: Option<Duration>,
    /// Whether the initial pacing rate used an RTT yet.
    has_seen_rtt: bool,
    /// Whether data moved: the initial window no longer follows the MSS.
    started: bool,
    /// The latest time heard (`Now()`).
    now: Duration,
    /// C.delivered at the latest sample.
    delivered: u64,
    /// C.inflight at the latest sample.
    inflight: u64,
    /// The PRNG's state (splitmix64), for BBR.bw_probe_wait.
    rng: u64,

    // Loss recovery, as the engine tells it.
    /// A fast recovery is under way: from a congestion event to its end, a
    /// timeout or an undo.
    in_recovery: bool,
    /// The latest sample said the engine is in a loss recovery (fast
    /// recovery or after a timeout).
    engine_in_recovery: bool,
    /// C.delivered when recovery began, set at its first sample.
    recovery_start_delivered: Option<u64>,
    /// A round of recovery has passed: packet conservation is over.
    recovery_round_done: bool,
    /// This recovery conserves packets: its loss came with a queue
    /// (always, with the draft's loss response).
    conserving: bool,
    /// Recovery was under way at some point in the current loss round.
    recovery_in_loss_round: bool,
    /// The window was the limit (`on_ack_at`) in this round and the one
    /// before (C.is_cwnd_limited).
    cwnd_limited_this_round: bool,
    cwnd_limited_last_round: bool,
    /// Segments sent while C.delivered was in this range were sent in
    /// ProbeRTT: their samples are application-limited (§5.3.4.3).
    probe_rtt_app_limited: (u64, u64),

    // General state (§2.7).
    mode: BbrMode,
    round_count: u64,
    round_start: bool,
    next_round_delivered: u64,
    idle_restart: bool,
    drain_start_round: u64,

    // The model (§2.9).
    max_bw_filter: WindowedMax<2>,
    max_bw: u64,
    cycle_count: u64,
    bw_shortterm: u64,
    bw: u64,
    min_rtt: Option<Duration>,
    min_rtt_stamp: Duration,
    /// The least RTT sampled in this round, and in the last one: whether
    /// a queue stands (queue-aware loss).
    round_min_rtt: Option<Duration>,
    last_round_min_rtt: Option<Duration>,
    /// Losses count as congestion only behind a queue.
    queue_aware_loss: bool,
    probe_rtt_min_delay: Option<Duration>,
    probe_rtt_min_stamp: Duration,
    probe_rtt_expired: bool,
    extra_acked_filter: WindowedMax<10>,
    extra_acked: u64,
    extra_acked_interval_start: Duration,
    extra_acked_delivered: u64,
    max_inflight: u64,
    inflight_longterm: u64,
    inflight_shortterm: u64,

    // Responding to congestion (§2.10, §5.5.10.3).
    bw_latest: u64,
    inflight_latest: u64,
    loss_round_delivered: u64,
    loss_round_start: bool,
    is_loss_in_round: bool,
    loss_events_in_round: u32,

    // Startup (§2.13).
    full_bw_reached: bool,
    full_bw_now: bool,
    full_bw: u64,
    full_bw_count: u32,
    /// A round started and the full-pipe check has not run for it.
    full_bw_check_pending: bool,

    // ProbeBW (§2.14).
    ack_phase: AckPhase,
    is_bw_probe_sample: bool,
    bw_probe_up_acked: u64,
    probe_up_acked_per_inc: u64,
    bw_probe_up_rounds: u32,
    rounds_since_probe_up: u64,
    bw_probe_wait: Duration,
    cycle_stamp: Duration,
    prev_probe_too_high: bool,
    prev_probe_precautionary: bool,

    // Undo (§2.15) and the saved window (§5.6.4.4).
    prior_cwnd: u64,
    undo_state: Option<BbrMode>,
    undo_bw_shortterm: u64,
    undo_inflight_shortterm: u64,
    undo_inflight_longterm: u64,

    // ProbeRTT (§5.3.4.3).
    probe_rtt_done_stamp: Option<Duration>,
    probe_rtt_round_done: bool,

    /// Every state change, for the tests to read.
    #[cfg(test)]
    pub(crate) transitions: std::vec::Vec<(Duration, BbrMode)>,
}

/// `a × b / c` in 128 bits, saturated to `u64`.
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    let q = u128::from(a) * u128::from(b) / u128::from(c.max(1));
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// A duration in nanoseconds, saturated to `u64` (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `rate` octets per second over `d`, in octets.
fn volume(rate: u64, d: Duration) -> u64 {
    mul_div(rate, nanos(d), 1_000_000_000)
}

impl Bbr {
    /// A controller for segments of `mss` octets, with the RFC 6928
    /// initial window and a fixed seed for its randomised probing times.
    pub fn new(mss: u32) -> Self {
        let mss = mss.max(1);
        let iw = InitialWindow::default();
        let initial_cwnd = u64::from(iw.octets(mss));
        // §5.2.1 OnInit.
        let mut bbr = Self {
            mss,
            iw,
            initial_cwnd,
            cwnd: initial_cwnd,
            pacing_rate: 1,
            srtt: None,
            has_seen_rtt: false,
            started: false,
            now: Duration::ZERO,
            delivered: 0,
            inflight: 0,
            rng: 0x6262_7233_7674_6370,
            in_recovery: false,
            engine_in_recovery: false,
            recovery_start_delivered: None,
            recovery_round_done: false,
            conserving: false,
            recovery_in_loss_round: false,
            cwnd_limited_this_round: false,
            cwnd_limited_last_round: false,
            probe_rtt_app_limited: (0, 0),
            mode: BbrMode::Startup,
            round_count: 0,
            round_start: false,
            next_round_delivered: 0,
            idle_restart: false,
            drain_start_round: 0,
            max_bw_filter: WindowedMax::new(),
            max_bw: 0,
            cycle_count: 0,
            bw_shortterm: INF,
            bw: 0,
            min_rtt: None,
            min_rtt_stamp: Duration::ZERO,
            round_min_rtt: None,
            last_round_min_rtt: None,
            queue_aware_loss: true,
            probe_rtt_min_delay: None,
            probe_rtt_min_stamp: Duration::ZERO,
            probe_rtt_expired: false,
            extra_acked_filter: WindowedMax::new(),
            extra_acked: 0,
            extra_acked_interval_start: Duration::ZERO,
            extra_acked_delivered: 0,
            max_inflight: 0,
            inflight_longterm: INF,
            inflight_shortterm: INF,
            bw_latest: 0,
            inflight_latest: 0,
            loss_round_delivered: 0,
            loss_round_start: false,
            is_loss_in_round: false,
            loss_events_in_round: 0,
            full_bw_reached: false,
            full_bw_now: false,
            full_bw: 0,
            full_bw_count: 0,
            full_bw_check_pending: false,
            ack_phase: AckPhase::Init,
            is_bw_probe_sample: false,
            bw_probe_up_acked: 0,
            probe_up_acked_per_inc: INF,
            bw_probe_up_rounds: 0,
            rounds_since_probe_up: 0,
            bw_probe_wait: Duration::ZERO,
            cycle_stamp: Duration::ZERO,
            prev_probe_too_high: false,
            prev_probe_precautionary: false,
            prior_cwnd: 0,
            undo_state: None,
            undo_bw_shortterm: 0,
            undo_inflight_shortterm: 0,
            undo_inflight_longterm: 0,
            probe_rtt_done_stamp: None,
            probe_rtt_round_done: false,
            #[cfg(test)]
            transitions: std::vec::Vec::new(),
        };
        bbr.init_pacing_rate();
        bbr
    }

    /// The same controller with `iw` as the rule for its initial window
    /// (RFC 6928's by default; §5.6.4.1 leaves it to the transport).
    pub fn with_initial_window(mut self, iw: InitialWindow) -> Self {
        self.iw = iw;
        if !self.started {
            self.reset_initial_window();
        }
        self
    }

    /// The same controller with `seed` for the pseudo-random choice of
    /// when to probe for bandwidth (§5.3.3.8.2): flows sharing a
    /// bottleneck mix better with different seeds.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = seed;
        self
    }

    /// The same controller with the draft's loss response (`false`: every
    /// loss is a congestion signal) or vtcp's (`true`, the default: only
    /// a loss with a queue standing, see the module documentation).
    pub fn with_queue_aware_loss(mut self, on: bool) -> Self {
        self.queue_aware_loss = on;
        self
    }

    /// Whether a loss now is a congestion signal: always with the draft's
    /// response; with queue-aware loss, only while the RTT shows a queue
    /// (this round's least sample, or the last round's before this one
    /// has any, above min_rtt by a quarter of it and at least
    /// `QUEUE_SLACK_MIN`). Before any RTT sample, a loss counts.
    fn loss_is_congestion(&self) -> bool {
        if !self.queue_aware_loss {
            return true;
        }
        let (Some(min_rtt), Some(rtt)) =
            (self.min_rtt, self.round_min_rtt.or(self.last_round_min_rtt))
        else {
            return true;
        };
        rtt > min_rtt.saturating_add((min_rtt / 4).max(QUEUE_SLACK_MIN))
    }

    /// The state BBR is in.
    pub fn mode(&self) -> BbrMode {
        self.mode
    }

    /// BBR.max_bw: the estimated bottleneck bandwidth in octets per
    /// second, zero before the first sample.
    pub fn max_bw(&self) -> u64 {
        self.max_bw
    }

    /// BBR.min_rtt: the estimated round-trip propagation time, `None`
    /// before the first RTT sample.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    fn mss64(&self) -> u64 {
        u64::from(self.mss)
    }

    /// BBR.MinPipeCwnd (§2.8).
    fn min_pipe_cwnd(&self) -> u64 {
        MIN_PIPE_SEGMENTS.saturating_mul(self.mss64())
    }

    /// The initial window and pacing rate for the current MSS and rule.
    fn reset_initial_window(&mut self) {
        self.initial_cwnd = u64::from(self.iw.octets(self.mss));
        self.cwnd = self.initial_cwnd;
        self.init_pacing_rate();
    }

    /// Changes state, keeping a log for the tests.
    fn set_mode(&mut self, mode: BbrMode) {
        self.mode = mode;
        #[cfg(test)]
        self.transitions.push((self.now, mode));
    }

    /// The next pseudo-random number (splitmix64).
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// BBR.pacing_gain, per state (§5.6.1's table).
    fn pacing_gain(&self) -> u64 {
        match self.mode {
            BbrMode::Startup => STARTUP_PACING_GAIN,
            BbrMode::Drain => DRAIN_PACING_GAIN,
            BbrMode::ProbeBwDown => PROBE_DOWN_PACING_GAIN,
            BbrMode::ProbeBwUp => PROBE_UP_PACING_GAIN,
            BbrMode::ProbeBwCruise | BbrMode::ProbeBwRefill | BbrMode::ProbeRtt => UNIT,
        }
    }

    /// BBR.cwnd_gain, per state (§5.6.1's table).
    fn cwnd_gain(&self) -> u64 {
        match self.mode {
            BbrMode::ProbeBwUp => PROBE_UP_CWND_GAIN,
            BbrMode::ProbeRtt => PROBE_RTT_CWND_GAIN,
            _ => DEFAULT_CWND_GAIN,
        }
    }

    /// Whether the window was the limit lately (C.is_cwnd_limited: "at
    /// any point in the last packet-timed round trip").
    fn is_cwnd_limited(&self) -> bool {
        self.cwnd_limited_this_round || self.cwnd_limited_last_round
    }

    /// Whether BBR is in fast recovery or after a timeout's loss
    /// (InLossRecovery()).
    fn in_loss_recovery(&self) -> bool {
        self.in_recovery || self.engine_in_recovery
    }

    // ----- §5.3.1 Startup --------------------------------------------

    fn enter_startup(&mut self) {
        self.set_mode(BbrMode::Startup);
    }

    /// §5.3.1 CheckStartupDone.
    fn check_startup_done(&mut self, s: &Sample) {
        self.check_startup_high_loss(s);
        if self.mode == BbrMode::Startup && self.full_bw_reached {
            self.enter_drain();
        }
    }

    /// §5.3.1.2 ResetFullBW.
    fn reset_full_bw(&mut self) {
        self.full_bw = 0;
        self.full_bw_count = 0;
        self.full_bw_now = false;
        self.full_bw_check_pending = false;
    }

    /// §5.3.1.2 CheckFullBWReached: three non-application-limited rounds
    /// without 25 % growth fill the pipe. A round whose first ACK carries
    /// no rate (the engine found the interval too short to trust) is
    /// judged on the next ACK that does, rather than as a round without
    /// growth.
    fn check_full_bw_reached(&mut self, s: &Sample) {
        if self.full_bw_now {
            return;
        }
        self.full_bw_check_pending |= self.round_start;
        if !self.full_bw_check_pending || s.rate == 0 {
            return;
        }
        self.full_bw_check_pending = false;
        if s.app_limited {
            return;
        }
        if s.rate >= mul_div(self.full_bw, FULL_BW_GROWTH.0, FULL_BW_GROWTH.1) {
            self.reset_full_bw();
            self.full_bw = s.rate;
            return;
        }
        self.full_bw_count = self.full_bw_count.saturating_add(1);
        self.full_bw_now = self.full_bw_count >= FULL_BW_ROUNDS;
        if self.full_bw_now {
            self.full_bw_reached = true;
        }
    }

    /// §5.3.1.3: Startup ends on loss when, at the end of a loss round
    /// spent in recovery, at least six ACKs of the round found losses
    /// (the engine's ACKs stand for the draft's discontiguous ranges, as
    /// Linux counts them) and the loss rate exceeds 2 %.
    fn check_startup_high_loss(&mut self, s: &Sample) {
        if self.mode != BbrMode::Startup || self.full_bw_reached {
            return;
        }
        if s.newly_lost > 0 {
            self.loss_events_in_round = self.loss_events_in_round.saturating_add(1);
        }
        if self.loss_round_start
            && self.recovery_in_loss_round
            && self.loss_events_in_round >= STARTUP_FULL_LOSS_COUNT
            && Self::is_inflight_too_high(s)
            && self.loss_is_congestion()
        {
            self.undo_state = Some(BbrMode::Startup);
            self.full_bw_reached = true;
            self.inflight_longterm = self.bdp().max(self.inflight_latest);
        }
        if self.loss_round_start {
            self.loss_events_in_round = 0;
        }
    }

    // ----- §5.3.2 Drain ----------------------------------------------

    fn enter_drain(&mut self) {
        self.set_mode(BbrMode::Drain);
        self.drain_start_round = self.round_count;
    }

    /// §5.3.2 CheckDrainDone.
    fn check_drain_done(&mut self) {
        if self.mode == BbrMode::Drain
            && (self.inflight <= self.inflight_for(self.bw, UNIT)
                || self.round_count > self.drain_start_round.saturating_add(DRAIN_MAX_ROUNDS))
        {
            self.enter_probe_bw();
        }
    }

    // ----- §5.3.3 ProbeBW --------------------------------------------

    /// §5.3.3.9 EnterProbeBW (the cwnd gain follows the state).
    fn enter_probe_bw(&mut self) {
        self.start_probe_bw_down();
    }

    /// §5.3.3.9 StartProbeBW_DOWN.
    fn start_probe_bw_down(&mut self) {
        self.reset_congestion_signals();
        self.probe_up_acked_per_inc = INF;
        self.pick_probe_wait();
        self.cycle_stamp = self.now;
        self.ack_phase = AckPhase::ProbeStopping;
        self.start_round();
        self.set_mode(BbrMode::ProbeBwDown);
    }

    /// §5.3.3.9 StartProbeBW_CRUISE.
    fn start_probe_bw_cruise(&mut self) {
        self.set_mode(BbrMode::ProbeBwCruise);
    }

    /// §5.3.3.9 StartProbeBW_REFILL.
    fn start_probe_bw_refill(&mut self) {
        self.reset_short_term_model();
        self.bw_probe_up_rounds = 0;
        self.bw_probe_up_acked = 0;
        self.prev_probe_precautionary = false;
        self.ack_phase = AckPhase::Refilling;
        self.start_round();
        self.set_mode(BbrMode::ProbeBwRefill);
    }

    /// §5.3.3.9 StartProbeBW_UP.
    fn start_probe_bw_up(&mut self, s: &Sample) {
        self.ack_phase = AckPhase::ProbeStarting;
        self.start_round();
        self.reset_full_bw();
        self.full_bw = s.rate;
        self.set_mode(BbrMode::ProbeBwUp);
        self.raise_inflight_longterm_slope();
    }

    /// §5.3.3.9 UpdateProbeBWCyclePhase.
    fn update_probe_bw_cycle_phase(&mut self, s: &Sample) {
        if !self.full_bw_reached {
            return;
        }
        if self.adapt_long_term_model(s) {
            return;
        }
        let mode = self.mode;
        match mode {
            BbrMode::ProbeBwDown => {
                if self.is_time_to_probe_bw() {
                    return;
                }
                if self.is_time_to_cruise() {
                    self.start_probe_bw_cruise();
                }
            }
            BbrMode::ProbeBwCruise => {
                self.is_time_to_probe_bw();
            }
            // After one round of REFILL, start UP.
            BbrMode::ProbeBwRefill if self.round_start => {
                self.is_bw_probe_sample = true;
                self.start_probe_bw_up(s);
            }
            BbrMode::ProbeBwUp if self.is_time_to_go_down(s) => {
                self.prev_probe_too_high = false;
                self.start_probe_bw_down();
            }
            _ => {}
        }
    }

    /// §5.3.3.8.3 IsTimeToProbeBW: after BBR.bw_probe_wait of wall clock
    /// or the Reno-coexistence number of rounds, refill.
    fn is_time_to_probe_bw(&mut self) -> bool {
        if self.has_elapsed_in_phase(self.bw_probe_wait) || self.is_reno_coexistence_probe_time() {
            self.start_probe_bw_refill();
            return true;
        }
        false
    }

    /// §5.3.3.8.3 PickProbeWait: 0 or 1 rounds already counted, and 2 s
    /// plus up to 1 s.
    fn pick_probe_wait(&mut self) {
        let r = self.random();
        self.rounds_since_probe_up = r & 1;
        self.bw_probe_wait =
            PROBE_WAIT_BASE + Duration::from_micros((r >> 1) % PROBE_WAIT_RANDOM_US);
    }

    /// §5.3.3.8.3 IsRenoCoexistenceProbeTime: as many rounds as Reno
    /// would take to grow by the window, in segments, at most 63.
    fn is_reno_coexistence_probe_time(&self) -> bool {
        let reno_rounds = self.target_inflight() / self.mss64();
        self.rounds_since_probe_up >= reno_rounds.min(RENO_MAX_ROUNDS)
    }

    /// §5.3.3.8.3 TargetInflight: the BDP, unless congestion cut the
    /// window below it.
    fn target_inflight(&self) -> u64 {
        self.bdp().min(self.cwnd)
    }

    /// §5.3.3.9 HasElapsedInPhase.
    fn has_elapsed_in_phase(&self, interval: Duration) -> bool {
        self.now.saturating_sub(self.cycle_stamp) > interval
    }

    /// §5.3.3.9 IsTimeToCruise: headroom left and the queue drained.
    fn is_time_to_cruise(&self) -> bool {
        if self.inflight > self.inflight_with_headroom() {
            return false;
        }
        self.inflight <= self.inflight_for(self.max_bw, UNIT)
    }

    /// §5.3.3.9 IsTimeToGoDown (§5.3.3.7's exits but loss, which
    /// AdaptLongTermModel handles).
    fn is_time_to_go_down(&mut self, s: &Sample) -> bool {
        // §5.3.3.6 precautionary probing: deceleration.
        if self.prev_probe_too_high && self.inflight >= self.inflight_longterm {
            self.prev_probe_precautionary = true;
            return true;
        }
        if self.is_cwnd_limited() && self.cwnd >= self.inflight_longterm {
            // The bandwidth is limited by inflight_longterm: keep probing.
            self.reset_full_bw();
            self.full_bw = s.rate;
        } else if self.full_bw_now {
            return true;
        }
        false
    }

    /// §5.3.3.9 IsProbingBW.
    fn is_probing_bw(&self) -> bool {
        matches!(
            self.mode,
            BbrMode::Startup | BbrMode::ProbeBwRefill | BbrMode::ProbeBwUp
        )
    }

    /// §5.3.3.9 InflightWithHeadroom: inflight_longterm less 15 % (at
    /// least a segment) for cross traffic.
    fn inflight_with_headroom(&self) -> u64 {
        if self.inflight_longterm == INF {
            return INF;
        }
        let headroom = self
            .mss64()
            .max(mul_div(self.inflight_longterm, HEADROOM.0, HEADROOM.1));
        self.inflight_longterm
            .saturating_sub(headroom)
            .max(self.min_pipe_cwnd())
    }

    /// §5.3.3.9 RaiseInflightLongtermSlope: 1, 2, 4, … segments more per
    /// round of ProbeBW_UP.
    fn raise_inflight_longterm_slope(&mut self) {
        let growth_this_round = 1u64 << self.bw_probe_up_rounds.min(MAX_PROBE_UP_ROUNDS);
        self.bw_probe_up_rounds = (self.bw_probe_up_rounds + 1).min(MAX_PROBE_UP_ROUNDS);
        self.probe_up_acked_per_inc = (self.cwnd / growth_this_round).max(self.mss64());
    }

    /// §5.3.3.9 ProbeInflightLongtermUpward.
    fn probe_inflight_longterm_upward(&mut self, s: &Sample) {
        if !self.is_cwnd_limited() || self.cwnd < self.inflight_longterm {
            return;
        }
        self.bw_probe_up_acked = self.bw_probe_up_acked.saturating_add(s.newly_acked);
        if self.bw_probe_up_acked >= self.probe_up_acked_per_inc {
            let per_inc = self.probe_up_acked_per_inc.max(1);
            let delta = self.bw_probe_up_acked / per_inc;
            self.bw_probe_up_acked -= delta * per_inc;
            self.inflight_longterm = self
                .inflight_longterm
                .saturating_add(delta.saturating_mul(self.mss64()));
        }
        if self.round_start {
            self.raise_inflight_longterm_slope();
        }
    }

    /// §5.3.3.9 AdaptLongTermModel: the ACK phase, the max_bw filter's
    /// clock and inflight_longterm. Returns whether it changed state.
    fn adapt_long_term_model(&mut self, s: &Sample) -> bool {
        if self.ack_phase == AckPhase::ProbeStarting && self.round_start {
            // Starting to get bandwidth probing samples.
            self.ack_phase = AckPhase::ProbeFeedback;
        }
        if self.ack_phase == AckPhase::ProbeStopping && self.round_start {
            // The end of the samples from the probing phase.
            self.is_bw_probe_sample = false;
            self.ack_phase = AckPhase::Init;
            if self.mode.is_probe_bw() && !s.app_limited {
                // §5.5.6 AdvanceMaxBwFilter.
                self.cycle_count = self.cycle_count.wrapping_add(1);
            }
            // §5.3.3.6 precautionary probing: acceleration.
            if self.mode.is_probe_bw() && self.prev_probe_precautionary && !self.prev_probe_too_high
            {
                self.start_probe_bw_refill();
                return true;
            }
        }
        if Self::is_inflight_too_high(s) && self.loss_is_congestion() {
            // §5.5.10.2, once per ACK (see the module documentation).
            if self.is_bw_probe_sample {
                let was_up = self.mode == BbrMode::ProbeBwUp;
                self.handle_inflight_too_high(s);
                return was_up;
            }
            return false;
        }
        // The loss rate is safe: adjust the upper bound upward.
        if self.inflight_longterm == INF {
            return false;
        }
        if s.tx_in_flight > self.inflight_longterm {
            self.inflight_longterm = s.tx_in_flight;
        }
        if self.mode == BbrMode::ProbeBwUp {
            self.probe_inflight_longterm_upward(s);
        }
        false
    }

    // ----- §5.3.4 ProbeRTT -------------------------------------------

    /// §5.3.4.3 UpdateMinRTT, with the 5 s ProbeRTT schedule and the 10 s
    /// min_rtt filter. An unset estimate does not expire.
    fn update_min_rtt(&mut self, s: &Sample) {
        self.probe_rtt_expired = self.probe_rtt_min_delay.is_some()
            && self.now.saturating_sub(self.probe_rtt_min_stamp) > PROBE_RTT_INTERVAL;
        if let Some(rtt) = s.rtt
            && (self.probe_rtt_min_delay.is_none_or(|d| rtt < d) || self.probe_rtt_expired)
        {
            self.probe_rtt_min_delay = Some(rtt);
            self.probe_rtt_min_stamp = self.now;
        }
        let min_rtt_expired = self.min_rtt.is_some()
            && self.now.saturating_sub(self.min_rtt_stamp) > MIN_RTT_FILTER_LEN;
        if let Some(delay) = self.probe_rtt_min_delay
            && (self.min_rtt.is_none_or(|m| delay < m) || min_rtt_expired)
        {
            self.min_rtt = Some(delay);
            self.min_rtt_stamp = self.probe_rtt_min_stamp;
        }
    }

    /// §5.3.4.3 CheckProbeRTT.
    fn check_probe_rtt(&mut self, s: &Sample) {
        if self.mode != BbrMode::ProbeRtt && self.probe_rtt_expired && !self.idle_restart {
            self.enter_probe_rtt();
            self.save_cwnd();
            self.probe_rtt_done_stamp = None;
            self.ack_phase = AckPhase::ProbeStopping;
            self.start_round();
        }
        if self.mode == BbrMode::ProbeRtt {
            self.handle_probe_rtt();
        }
        if s.delivered > 0 {
            self.idle_restart = false;
        }
    }

    /// §5.3.4.3 EnterProbeRTT (the gains follow the state).
    fn enter_probe_rtt(&mut self) {
        self.set_mode(BbrMode::ProbeRtt);
    }

    /// §5.3.4.3 HandleProbeRTT.
    fn handle_probe_rtt(&mut self) {
        // MarkConnectionAppLimited(): the engine's sampler does not hear
        // of it, so BBR remembers which segments to take as such.
        let mark = self.delivered.saturating_add(self.inflight).max(1);
        if self.probe_rtt_app_limited.1 < self.delivered {
            self.probe_rtt_app_limited.0 = self.delivered;
        }
        self.probe_rtt_app_limited.1 = mark;
        if self.probe_rtt_done_stamp.is_none() && self.inflight <= self.probe_rtt_cwnd() {
            // At least BBR.ProbeRTTDuration and one round from now.
            self.probe_rtt_done_stamp = Some(self.now.saturating_add(PROBE_RTT_DURATION));
            self.probe_rtt_round_done = false;
            self.start_round();
        } else if self.probe_rtt_done_stamp.is_some() {
            if self.round_start {
                self.probe_rtt_round_done = true;
            }
            if self.probe_rtt_round_done {
                self.check_probe_rtt_done();
            }
        }
    }

    /// §5.3.4.3 CheckProbeRTTDone.
    fn check_probe_rtt_done(&mut self) {
        if self.probe_rtt_done_stamp.is_some_and(|t| self.now > t) {
            // Schedule the next ProbeRTT.
            self.probe_rtt_min_stamp = self.now;
            self.restore_cwnd();
            self.exit_probe_rtt();
        }
    }

    /// §5.3.4.4 ExitProbeRTT.
    fn exit_probe_rtt(&mut self) {
        self.reset_short_term_model();
        if self.full_bw_reached {
            self.start_probe_bw_down();
            self.start_probe_bw_cruise();
        } else {
            self.enter_startup();
        }
    }

    /// §5.4.1 HandleRestartFromIdle, run when an ACK leaves nothing in
    /// flight while application-limited: the next segment restarts.
    fn handle_restart_from_idle(&mut self) {
        self.idle_restart = true;
        self.extra_acked_interval_start = self.now;
        if self.mode.is_probe_bw() {
            self.set_pacing_rate_with_gain(UNIT);
        } else if self.mode == BbrMode::ProbeRtt {
            self.check_probe_rtt_done();
        }
    }

    // ----- §5.5 The model --------------------------------------------

    /// §5.5.1 UpdateRound.
    fn update_round(&mut self, s: &Sample) {
        if s.has_packet && s.prior_delivered >= self.next_round_delivered {
            self.last_round_min_rtt = self.round_min_rtt.take();
            self.start_round();
            self.round_count = self.round_count.wrapping_add(1);
            self.rounds_since_probe_up = self.rounds_since_probe_up.saturating_add(1);
            self.round_start = true;
            self.cwnd_limited_last_round = self.cwnd_limited_this_round;
            self.cwnd_limited_this_round = false;
        } else {
            self.round_start = false;
        }
    }

    /// §5.5.1 StartRound.
    fn start_round(&mut self) {
        self.next_round_delivered = self.delivered;
    }

    /// §5.5.5 UpdateMaxBw: application-limited samples count only when
    /// they beat the estimate (§5.5.4).
    fn update_max_bw(&mut self, s: &Sample) {
        self.update_round(s);
        if s.rate > 0 && (s.rate >= self.max_bw || !s.app_limited) {
            self.max_bw = self
                .max_bw_filter
                .update(self.cycle_count, s.rate, MAX_BW_FILTER_LEN);
        }
    }

    /// §5.5.9 UpdateACKAggregation: data acknowledged beyond what BBR.bw
    /// explains since the ACK rate last fell below it.
    fn update_ack_aggregation(&mut self, s: &Sample) {
        let interval = self.now.saturating_sub(self.extra_acked_interval_start);
        let mut expected_delivered = volume(self.bw, interval);
        if self.extra_acked_delivered <= expected_delivered {
            self.extra_acked_delivered = 0;
            self.extra_acked_interval_start = self.now;
            expected_delivered = 0;
        }
        self.extra_acked_delivered = self.extra_acked_delivered.saturating_add(s.newly_acked);
        let extra = self
            .extra_acked_delivered
            .saturating_sub(expected_delivered)
            .min(self.cwnd);
        let filter_len = if self.full_bw_reached {
            EXTRA_ACKED_FILTER_LEN
        } else {
            1
        };
        self.extra_acked = self
            .extra_acked_filter
            .update(self.round_count, extra, filter_len);
    }

    /// §5.5.10.2 IsInflightTooHigh: more than 2 % of what was in flight
    /// when the delivered segment was sent has been lost since.
    fn is_inflight_too_high(s: &Sample) -> bool {
        u128::from(s.lost) * u128::from(LOSS_THRESH.1)
            > u128::from(s.tx_in_flight) * u128::from(LOSS_THRESH.0)
    }

    /// §5.5.10.2 HandleInflightTooHigh: remember the inflight that was too
    /// much, and stop probing.
    fn handle_inflight_too_high(&mut self, s: &Sample) {
        self.prev_probe_too_high = true;
        // Only react once per bandwidth probe.
        self.is_bw_probe_sample = false;
        if !s.app_limited {
            self.inflight_longterm =
                s.tx_in_flight
                    .max(mul_div(self.target_inflight(), BETA.0, BETA.1));
        }
        if self.mode == BbrMode::ProbeBwUp {
            self.undo_state = Some(BbrMode::ProbeBwUp);
            self.start_probe_bw_down();
        }
    }

    /// §5.5.10.2 NoteLoss.
    fn note_loss(&mut self) {
        if !self.is_loss_in_round {
            // The first loss of this round trip.
            self.loss_round_delivered = self.delivered;
            self.save_state_upon_loss();
        }
        self.is_loss_in_round = true;
    }

    /// §5.5.10.3 UpdateLatestDeliverySignals.
    fn update_latest_delivery_signals(&mut self, s: &Sample) {
        self.loss_round_start = false;
        self.bw_latest = self.bw_latest.max(s.rate);
        self.inflight_latest = self.inflight_latest.max(s.delivered);
        if s.has_packet && s.prior_delivered >= self.loss_round_delivered {
            self.loss_round_delivered = self.delivered;
            self.loss_round_start = true;
        }
    }

    /// §5.5.10.3 AdvanceLatestDeliverySignals.
    fn advance_latest_delivery_signals(&mut self, s: &Sample) {
        if self.loss_round_start {
            self.bw_latest = s.rate;
            self.inflight_latest = s.delivered;
            self.recovery_in_loss_round = self.in_recovery;
        }
    }

    /// §5.5.10.3 ResetCongestionSignals.
    fn reset_congestion_signals(&mut self) {
        self.is_loss_in_round = false;
        self.bw_latest = 0;
        self.inflight_latest = 0;
    }

    /// §5.5.10.3 UpdateCongestionSignals.
    fn update_congestion_signals(&mut self, s: &Sample) {
        self.update_max_bw(s);
        if !self.loss_round_start {
            return; // wait until the end of the round trip
        }
        self.adapt_lower_bounds_from_congestion();
        self.is_loss_in_round = false;
    }

    /// §5.5.10.3 AdaptLowerBoundsFromCongestion: once a round, outside
    /// probing, cut the short-term model by β toward what the round
    /// delivered.
    fn adapt_lower_bounds_from_congestion(&mut self) {
        if self.is_probing_bw() {
            return;
        }
        if self.is_loss_in_round {
            // InitLowerBounds.
            if self.bw_shortterm == INF {
                self.bw_shortterm = self.max_bw;
            }
            if self.inflight_shortterm == INF {
                self.inflight_shortterm = self.cwnd;
            }
            // LossLowerBounds.
            self.bw_shortterm = self
                .bw_latest
                .max(mul_div(self.bw_shortterm, BETA.0, BETA.1));
            self.inflight_shortterm =
                self.inflight_latest
                    .max(mul_div(self.inflight_shortterm, BETA.0, BETA.1));
        }
    }

    /// §5.5.10.3 ResetShortTermModel.
    fn reset_short_term_model(&mut self) {
        self.bw_shortterm = INF;
        self.inflight_shortterm = INF;
    }

    /// §5.5.10.3 BoundBWForModel.
    fn bound_bw_for_model(&mut self) {
        self.bw = self.max_bw.min(self.bw_shortterm);
    }

    /// §5.5.11.1 SaveStateUponLoss.
    fn save_state_upon_loss(&mut self) {
        self.save_cwnd();
        self.undo_state = None;
        self.undo_bw_shortterm = self.bw_shortterm;
        self.undo_inflight_shortterm = self.inflight_shortterm;
        self.undo_inflight_longterm = self.inflight_longterm;
    }

    /// §5.5.11.2 HandleSpuriousLossDetection.
    fn handle_spurious_loss_detection(&mut self) {
        self.restore_cwnd();
        self.is_loss_in_round = false;
        self.reset_full_bw();
        self.bw_shortterm = self.bw_shortterm.max(self.undo_bw_shortterm);
        self.inflight_shortterm = self.inflight_shortterm.max(self.undo_inflight_shortterm);
        self.inflight_longterm = self.inflight_longterm.max(self.undo_inflight_longterm);
        // If the flow was probing bandwidth, return to that state.
        match self.undo_state {
            Some(BbrMode::Startup) if self.mode != BbrMode::Startup => {
                self.full_bw_reached = false;
                if self.mode != BbrMode::ProbeRtt {
                    self.enter_startup();
                }
            }
            Some(BbrMode::ProbeBwUp)
                if !matches!(self.mode, BbrMode::ProbeBwUp | BbrMode::ProbeRtt) =>
            {
                self.start_probe_bw_refill();
            }
            _ => {}
        }
        self.undo_state = None;
    }

    // ----- §5.6 Control parameters -----------------------------------

    /// §5.6.2 InitPacingRate: 2.77 × C.InitialCwnd / C.srtt (1 ms before
    /// any RTT sample).
    fn init_pacing_rate(&mut self) {
        let srtt = self
            .srtt
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_millis(1));
        let nominal = mul_div(self.initial_cwnd, 1_000_000_000, nanos(srtt));
        self.pacing_rate = mul_div(nominal, STARTUP_PACING_GAIN, UNIT).clamp(1, MAX_RATE);
    }

    /// §5.6.2 SetPacingRateWithGain: only up until the pipe is full.
    fn set_pacing_rate_with_gain(&mut self, gain: u64) {
        let rate = mul_div(
            mul_div(gain, self.bw, UNIT),
            100 - PACING_MARGIN_PERCENT,
            100,
        );
        if self.full_bw_reached || rate > self.pacing_rate {
            self.pacing_rate = rate.clamp(1, MAX_RATE);
        }
    }

    /// §5.6.3 SetSendQuantum, from the current pacing rate.
    fn quantum(&self) -> u64 {
        let floor_segments = if self.pacing_rate < LOW_RATE { 1 } else { 2 };
        (self.pacing_rate / 1000)
            .min(SEND_QUANTUM_MAX)
            .max(floor_segments * self.mss64())
    }

    /// §5.6.4.2 BDPMultiple, with BBR.bdp = `bw` × BBR.min_rtt: the
    /// initial window while there is no RTT sample.
    fn bdp_multiple(&self, bw: u64, gain: u64) -> u64 {
        match self.min_rtt {
            None => self.initial_cwnd,
            Some(rtt) => mul_div(volume(bw, rtt), gain, UNIT),
        }
    }

    /// BBR.bdp.
    fn bdp(&self) -> u64 {
        self.bdp_multiple(self.bw, UNIT)
    }

    /// §5.6.4.2 QuantizationBudget, with the TCP offload budget of three
    /// send quanta (§5.5.8.1).
    fn quantization_budget(&self, inflight_cap: u64) -> u64 {
        let offload_budget = self.quantum().saturating_mul(3);
        let mut cap = inflight_cap.max(offload_budget).max(self.min_pipe_cwnd());
        if self.mode == BbrMode::ProbeBwUp {
            cap = cap.saturating_add(2 * self.mss64());
        }
        cap
    }

    /// §5.6.4.2 Inflight(gain), for a given bandwidth.
    pub(crate) fn inflight_for(&self, bw: u64, gain: u64) -> u64 {
        self.quantization_budget(self.bdp_multiple(bw, gain))
    }

    /// §5.6.4.2 UpdateMaxInflight.
    fn update_max_inflight(&mut self) {
        let cap = self
            .bdp_multiple(self.bw, self.cwnd_gain())
            .saturating_add(self.extra_acked);
        self.max_inflight = self.quantization_budget(cap);
    }

    /// §5.6.4.4 SaveCwnd: the last window not cut by recovery or ProbeRTT.
    fn save_cwnd(&mut self) {
        if !self.in_loss_recovery() && self.mode != BbrMode::ProbeRtt {
            self.prior_cwnd = self.cwnd;
        } else {
            self.prior_cwnd = self.prior_cwnd.max(self.cwnd);
        }
    }

    /// §5.6.4.4 RestoreCwnd.
    fn restore_cwnd(&mut self) {
        self.cwnd = self.cwnd.max(self.prior_cwnd);
        self.clamp_cwnd();
    }

    /// §5.6.4.5 ProbeRTTCwnd: half the BDP, at least BBR.MinPipeCwnd.
    fn probe_rtt_cwnd(&self) -> u64 {
        self.bdp_multiple(self.bw, PROBE_RTT_CWND_GAIN)
            .max(self.min_pipe_cwnd())
    }

    /// §5.6.4.5 BoundCwndForProbeRTT.
    fn bound_cwnd_for_probe_rtt(&mut self) {
        if self.mode == BbrMode::ProbeRtt {
            self.cwnd = self.cwnd.min(self.probe_rtt_cwnd());
        }
    }

    /// §5.6.4.7 BoundCwndForModel.
    fn bound_cwnd_for_model(&mut self) {
        let cap = if self.mode.is_probe_bw() && self.mode != BbrMode::ProbeBwCruise {
            self.inflight_longterm
        } else if matches!(self.mode, BbrMode::ProbeRtt | BbrMode::ProbeBwCruise) {
            self.inflight_with_headroom()
        } else {
            INF
        };
        let cap = cap.min(self.inflight_shortterm).max(self.min_pipe_cwnd());
        self.cwnd = self.cwnd.min(cap);
    }

    /// Keeps the window within a segment and `u32::MAX`.
    fn clamp_cwnd(&mut self) {
        self.cwnd = self.cwnd.clamp(self.mss64(), u64::from(u32::MAX));
    }

    /// §5.6.4.6 SetCwnd, with packet conservation in the first round of
    /// fast recovery (draft-cardwell-iccrg-bbr-congestion-control,
    /// "Modulating cwnd in Loss Recovery"; Linux's
    /// `bbr_set_cwnd_to_recover_or_restore`).
    fn set_cwnd(&mut self, s: &Sample, conservation_starts: bool) {
        self.update_max_inflight();
        let mss = self.mss64();
        let conserving = self.in_recovery && self.conserving;
        if conserving && s.newly_lost > 0 {
            // An ACK releases no more than it delivered: what was lost
            // comes off the window.
            self.cwnd = self.cwnd.saturating_sub(s.newly_lost).max(mss);
        }
        if conservation_starts && conserving {
            // The engine's flight size counted SACKed and lost data: the
            // window starts from what is really in flight, with room for
            // the retransmission.
            self.cwnd = self.inflight.saturating_add(s.newly_acked.max(mss));
        }
        if conserving && !self.recovery_round_done {
            // Packet conservation: send as much as was delivered.
            self.cwnd = self.cwnd.max(self.inflight.saturating_add(s.newly_acked));
        } else {
            if self.full_bw_reached {
                self.cwnd = self
                    .cwnd
                    .saturating_add(s.newly_acked)
                    .min(self.max_inflight);
            } else if self.cwnd < self.max_inflight || self.delivered < self.initial_cwnd {
                self.cwnd = self.cwnd.saturating_add(s.newly_acked);
            }
            self.cwnd = self.cwnd.max(self.min_pipe_cwnd());
        }
        self.bound_cwnd_for_probe_rtt();
        self.bound_cwnd_for_model();
        self.clamp_cwnd();
    }

    /// Reads a rate sample into [`Sample`].
    fn sample(&self, rs: &RateSample) -> Sample {
        let has_packet = rs.newly_acked > 0;
        let (from, to) = self.probe_rtt_app_limited;
        let in_probe_rtt = to != 0 && (from..=to).contains(&rs.prior_delivered);
        Sample {
            rate: rs.delivery_rate().unwrap_or(0).min(MAX_RATE),
            delivered: rs.delivered,
            has_packet,
            prior_delivered: rs.prior_delivered,
            rtt: rs.rtt,
            app_limited: rs.is_app_limited || (has_packet && in_probe_rtt),
            tx_in_flight: rs.tx_in_flight,
            lost: rs.lost,
            newly_acked: rs.newly_acked,
            newly_lost: rs.newly_lost,
        }
    }

    /// Follows the first round of a recovery; returns whether this sample
    /// is its first (the window is then set from what is in flight).
    fn track_recovery(&mut self, s: &Sample) -> bool {
        if !self.in_recovery {
            return false;
        }
        self.recovery_in_loss_round = true;
        match self.recovery_start_delivered {
            None => {
                self.recovery_start_delivered = Some(self.delivered);
                true
            }
            Some(start) => {
                if s.has_packet && s.prior_delivered >= start {
                    self.recovery_round_done = true;
                }
                false
            }
        }
    }

    /// Ends any recovery, without touching the window.
    fn end_recovery(&mut self) {
        self.in_recovery = false;
        self.recovery_start_delivered = None;
        self.recovery_round_done = false;
    }
}

impl CongestionController for Bbr {
    /// Nothing for the window: BBR works from the rate sample.
    fn on_ack(&mut self, bytes_acked: u32) {
        if bytes_acked > 0 {
            self.started = true;
        }
    }

    /// The window was the limit (the engine calls
    /// [`on_window_unused`](Self::on_window_unused) otherwise): this round
    /// counts as cwnd-limited (C.is_cwnd_limited). Nothing else: BBR works
    /// from the rate sample. A partial ACK, during a recovery, comes here
    /// too (the trait's default `on_partial_ack`).
    fn on_ack_at(&mut self, bytes_acked: u32, now: Duration) {
        self.now = self.now.max(now);
        self.cwnd_limited_this_round = true;
        self.on_ack(bytes_acked);
    }

    fn on_window_unused(&mut self, now: Duration) {
        self.now = self.now.max(now);
        self.started = true;
    }

    /// Nothing: the rate sample says what left the network.
    fn on_recovery_dup_ack(&mut self) {}

    /// §5.6.4.4 OnEnterRTO, with the window of one segment and, as
    /// Linux's BBRv3, the short-term inflight bound kept from collapsing
    /// to the post-timeout window when the next round's losses are
    /// counted.
    fn on_timeout(&mut self, flight_size: u32) {
        let _ = flight_size;
        self.started = true;
        self.save_state_upon_loss();
        if !self.is_probing_bw() && self.inflight_shortterm == INF {
            self.inflight_shortterm = self.cwnd.max(self.prior_cwnd);
        }
        if !self.is_loss_in_round {
            self.loss_round_delivered = self.delivered;
        }
        self.is_loss_in_round = true;
        self.cwnd = self.mss64();
        self.end_recovery();
    }

    fn on_repeated_timeout(&mut self) {
        self.cwnd = self.mss64();
        self.end_recovery();
    }

    /// An RFC 3168 congestion echo: ignored (the module's "Left out",
    /// ECN).
    fn on_ecn_echo(&mut self, _flight_size: u32) {}

    /// §5.6.4.4 OnEnterFastRecovery (save the window and the model for an
    /// undo), then packet conservation: the window becomes `flight_size`
    /// and one segment, never more than it was. The rate sample that ends
    /// this ACK sets it from what is really in flight.
    fn on_congestion_event(&mut self, flight_size: u32) {
        self.started = true;
        self.save_state_upon_loss();
        self.in_recovery = true;
        self.recovery_start_delivered = None;
        self.recovery_round_done = false;
        self.recovery_in_loss_round = true;
        // A loss without a queue (queue-aware loss) is no sign that too
        // much is in flight: the window stays, only the lost data goes
        // again.
        self.conserving = self.loss_is_congestion();
        if self.conserving {
            let conserve = u64::from(flight_size).saturating_add(self.mss64());
            self.cwnd = self.cwnd.min(conserve);
        }
        self.clamp_cwnd();
    }

    /// §5.6.4.4 RestoreCwnd on leaving recovery: the window goes back to
    /// at least the one before it (the next rate sample bounds it by the
    /// model again).
    fn on_recovery_end(&mut self) {
        if self.in_recovery {
            self.restore_cwnd();
        }
        self.end_recovery();
    }

    fn send_window(&self) -> u32 {
        u32::try_from(self.cwnd).unwrap_or(u32::MAX)
    }

    /// BBR has no slow-start threshold: `u32::MAX`, "arbitrarily high".
    fn ssthresh(&self) -> u32 {
        u32::MAX
    }

    fn mss(&self) -> u32 {
        self.mss
    }

    /// Before data moves, the initial window and pacing rate follow the
    /// new MSS; after, the window stays at least BBR.MinPipeCwnd for it.
    fn set_mss(&mut self, mss: u32) {
        self.mss = mss.max(1);
        if self.started {
            self.cwnd = self.cwnd.max(self.min_pipe_cwnd());
            self.clamp_cwnd();
        } else {
            self.reset_initial_window();
        }
    }

    fn name(&self) -> &'static str {
        "bbr"
    }

    /// The first RTT sample replaces the 1 ms of the initial pacing rate
    /// (§5.6.2), as long as no bandwidth was measured.
    fn on_rtt_sample(&mut self, srtt: Duration) {
        self.srtt = Some(srtt);
        if !self.has_seen_rtt && !srtt.is_zero() {
            self.has_seen_rtt = true;
            if self.max_bw == 0 {
                self.init_pacing_rate();
            }
        }
    }

    /// §5.5.11.2 HandleSpuriousLossDetection, as Linux's BBRv3
    /// `bbr_undo_cwnd`: the full-bandwidth count restarts, the bounds go
    /// back to at least what they were before the loss, a probe the loss
    /// ended resumes, and the window is at least `prior_cwnd`. BBR has no
    /// ssthresh to restore.
    fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        let _ = prior_ssthresh;
        self.handle_spurious_loss_detection();
        self.cwnd = self.cwnd.max(u64::from(prior_cwnd));
        self.clamp_cwnd();
        self.end_recovery();
    }

    /// §5.2.3 UpdateOnACK: the model, the state machine, then pacing rate
    /// and window, in the draft's order. Losses this ACK found are noted
    /// first (§5.2.4).
    fn on_rate_sample(&mut self, rs: &RateSample, now: Duration) {
        self.now = self.now.max(now);
        let s = self.sample(rs);
        self.delivered = rs.total_delivered;
        self.inflight = rs.inflight;
        self.engine_in_recovery = rs.in_recovery;
        if s.has_packet || s.newly_lost > 0 {
            self.started = true;
        }
        let conservation_starts = self.track_recovery(&s);
        if let Some(rtt) = s.rtt {
            self.round_min_rtt = Some(self.round_min_rtt.map_or(rtt, |r| r.min(rtt)));
        }
        if s.newly_lost > 0 && self.loss_is_congestion() {
            self.note_loss();
        }
        // UpdateModelAndState.
        self.update_latest_delivery_signals(&s);
        self.update_congestion_signals(&s);
        self.update_ack_aggregation(&s);
        self.check_full_bw_reached(&s);
        self.check_startup_done(&s);
        self.check_drain_done();
        self.update_probe_bw_cycle_phase(&s);
        self.update_min_rtt(&s);
        self.check_probe_rtt(&s);
        self.advance_latest_delivery_signals(&s);
        self.bound_bw_for_model();
        // UpdateControlParameters (the send quantum follows the rate).
        self.set_pacing_rate_with_gain(self.pacing_gain());
        self.set_cwnd(&s, conservation_starts);
        if rs.inflight == 0 && s.app_limited {
            self.handle_restart_from_idle();
        }
    }

    fn pacing_rate(&self) -> Option<u64> {
        Some(self.pacing_rate)
    }

    /// §5.6.3: a millisecond at the pacing rate, at most 64 KiB, at least
    /// two segments (one below 1.2 Mbit/s).
    fn send_quantum(&self) -> u32 {
        u32::try_from(self.quantum()).unwrap_or(u32::MAX)
    }

    /// BBR sets its own window in recovery.
    fn reduces_with_prr(&self) -> bool {
        false
    }
}
