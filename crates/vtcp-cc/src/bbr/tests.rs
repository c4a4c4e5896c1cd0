//! BBR driven over a simulated bottleneck, one script per state change,
//! and its invariants under arbitrary event sequences.
//!
//! The path: a sender, a drop-tail bottleneck of `rate` octets per second
//! holding `buffer` octets, and a base round-trip time. Segments of one
//! MSS leave when the window and the pacing rate allow; each is
//! acknowledged on its own, `base_rtt` after the bottleneck forwarded it.
//! The simulated engine keeps the delivery-rate state of
//! draft-ietf-ccwg-bbr §4.1.2 per segment and calls the controller in the
//! order the real engine does: `on_rtt_sample`, then `on_recovery_end`,
//! `on_partial_ack` or `on_ack_at` (`on_window_unused` when the window was
//! not the limit), `on_congestion_event` when the ACK revealed a loss,
//! `on_rate_sample`.
//! A segment is lost once a segment sent after it is acknowledged (the
//! bottleneck keeps order); the retransmission timer fires after
//! max(4·SRTT, 1 s).

extern crate std;

use super::*;
use crate::model::{Event, events_keep_invariants};
use quickcheck::quickcheck;
use std::collections::VecDeque;
use std::vec::Vec;

const MSS: u32 = 1000;
const SEG: u64 = MSS as u64;
/// 10 Mbit/s.
const RATE: u64 = 1_250_000;
/// With 80 ms, a BDP of 100 segments.
const BASE_RTT: Duration = Duration::from_millis(80);
const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// The time `octets` take at `rate` octets per second.
fn transmit(octets: u64, rate: u64) -> Duration {
    Duration::from_nanos(octets.saturating_mul(1_000_000_000) / rate.max(1))
}

/// One segment in flight, with the delivery-rate snapshot of its send
/// (draft §4.1.2.2).
#[derive(Clone, Debug)]
struct Segment {
    id: u64,
    sent: Duration,
    delivered: u64,
    delivered_time: Duration,
    first_send_time: Duration,
    tx_in_flight: u64,
    lost: u64,
    retransmission: bool,
}

/// What happened at one point of a run, for the scripts to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Note {
    /// A state change, with what was in flight and BBR's Inflight(1.0).
    Mode {
        at: Duration,
        mode: BbrMode,
        inflight: u64,
        bdp: u64,
    },
    /// A fast retransmit: the window before and after.
    FastRetransmit {
        at: Duration,
        before: u64,
        after: u64,
    },
    /// The end of an ACK in recovery: the window, what is in flight,
    /// what the ACK delivered, and whether BBR conserves packets.
    InRecovery {
        cwnd: u64,
        inflight: u64,
        acked: u64,
        conserving: bool,
    },
    /// Recovery ended: the window right after `on_recovery_end`.
    ExitRecovery { at: Duration, cwnd: u64 },
    /// The retransmission timer fired: the window after.
    Timeout { at: Duration, cwnd: u64 },
}

/// The simulated sender, path and receiver.
struct Sim {
    cc: Bbr,
    /// The bottleneck's rate, octets per second (may change mid-run).
    rate: u64,
    buffer: u64,
    base_rtt: Duration,
    /// Everything sent is dropped.
    blackhole: bool,
    /// The next this many segments sent are dropped.
    drop_next: u32,
    /// Every this many segments sent, one is dropped on the wire (random
    /// loss, spread evenly; 0: none).
    drop_every: u64,
    now: Duration,
    next_send: Duration,
    bottleneck_free: Duration,
    /// Sent and neither acknowledged nor found lost, in sending order.
    outstanding: VecDeque<Segment>,
    /// ACK arrivals: (time, segment id).
    acks: VecDeque<(Duration, u64)>,
    next_id: u64,
    pipe: u64,
    delivered: u64,
    delivered_time: Duration,
    first_send_time: Duration,
    lost: u64,
    min_rtt: Option<Duration>,
    srtt: Option<Duration>,
    /// Segments waiting to be retransmitted.
    to_retransmit: u64,
    /// Lost segments not yet delivered by a retransmission.
    holes: u64,
    /// The first segment id sent after recovery began.
    recover: Option<u64>,
    last_progress: Duration,
    backoff: u32,
    /// The window held the sender back since the last ACK.
    window_limited: bool,
    notes: Vec<Note>,
}

impl Sim {
    fn new(rate: u64, base_rtt: Duration, buffer: u64) -> Self {
        Self {
            cc: Bbr::new(MSS),
            rate,
            buffer,
            base_rtt,
            blackhole: false,
            drop_next: 0,
            drop_every: 0,
            now: Duration::ZERO,
            next_send: Duration::ZERO,
            bottleneck_free: Duration::ZERO,
            outstanding: VecDeque::new(),
            acks: VecDeque::new(),
            next_id: 1,
            pipe: 0,
            delivered: 0,
            delivered_time: Duration::ZERO,
            first_send_time: Duration::ZERO,
            lost: 0,
            min_rtt: None,
            srtt: None,
            to_retransmit: 0,
            holes: 0,
            recover: None,
            last_progress: Duration::ZERO,
            backoff: 0,
            window_limited: false,
            notes: Vec::new(),
        }
    }

    /// The BDP of the path as it is: rate × (base RTT + one segment's
    /// transmission).
    fn bdp(&self) -> u64 {
        volume(self.rate, self.base_rtt + transmit(SEG, self.rate))
    }

    fn rto(&self) -> Duration {
        let base = self.srtt.map_or(SEC, |s| (4 * s).max(SEC));
        base * (1 << self.backoff.min(6))
    }

    fn cwnd(&self) -> u64 {
        u64::from(self.cc.send_window())
    }

    /// Runs until `until`.
    fn run_until(&mut self, until: Duration) {
        while self.now < until {
            if !self.step(until) {
                break;
            }
        }
    }

    /// Runs until `done` holds after an event, or `limit`; returns
    /// whether it held.
    fn run_until_cond(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        while self.now < limit {
            if !self.step(limit) {
                return false;
            }
            if done(self) {
                return true;
            }
        }
        false
    }

    /// Handles the next event before `limit`; false if there is none.
    fn step(&mut self, limit: Duration) -> bool {
        let can_send = self.pipe < self.cwnd();
        let t_send = can_send.then(|| self.next_send.max(self.now));
        let t_ack = self.acks.front().map(|a| a.0);
        let t_rto = (!self.outstanding.is_empty()).then(|| self.last_progress + self.rto());
        let Some(t) = [t_ack, t_send, t_rto].into_iter().flatten().min() else {
            return false;
        };
        if t > limit {
            self.now = limit;
            return false;
        }
        self.now = self.now.max(t);
        if t_ack == Some(t) {
            let (_, id) = self.acks.pop_front().unwrap();
            self.on_ack(id);
        } else if t_rto == Some(t) {
            self.on_rto();
        } else {
            self.send();
            if self.pipe >= self.cwnd() {
                self.window_limited = true;
            }
        }
        true
    }

    /// Sends one segment now: a retransmission if one is due.
    fn send(&mut self) {
        let retransmission = self.to_retransmit > 0;
        if retransmission {
            self.to_retransmit -= 1;
        }
        if self.pipe == 0 {
            // §4.1.2.3: a new interval starts from an empty pipe.
            self.first_send_time = self.now;
            self.delivered_time = self.now;
            self.last_progress = self.now;
        }
        self.pipe += SEG;
        let id = self.next_id;
        self.next_id += 1;
        self.outstanding.push_back(Segment {
            id,
            sent: self.now,
            delivered: self.delivered,
            delivered_time: self.delivered_time,
            first_send_time: self.first_send_time,
            tx_in_flight: self.pipe,
            lost: self.lost,
            retransmission,
        });
        let rate = self.cc.pacing_rate().unwrap_or(u64::MAX);
        self.next_send = self.next_send.max(self.now) + transmit(SEG, rate);
        // The bottleneck: drop-tail, first in first out.
        let dropped = if self.blackhole {
            true
        } else if self.drop_next > 0 {
            self.drop_next -= 1;
            true
        } else if self.drop_every > 0 && id.is_multiple_of(self.drop_every) {
            true
        } else {
            let backlog = volume(self.rate, self.bottleneck_free.saturating_sub(self.now));
            backlog + SEG > self.buffer
        };
        if !dropped {
            self.bottleneck_free = self.bottleneck_free.max(self.now) + transmit(SEG, self.rate);
            self.acks
                .push_back((self.bottleneck_free + self.base_rtt, id));
        }
    }

    /// The segment `id` was acknowledged.
    fn on_ack(&mut self, id: u64) {
        if !self.outstanding.iter().any(|s| s.id == id) {
            return; // already taken for lost by a timeout
        }
        // Everything sent before it is lost: the bottleneck keeps order.
        let mut newly_lost = 0;
        while self.outstanding.front().is_some_and(|s| s.id != id) {
            let s = self.outstanding.pop_front().unwrap();
            newly_lost += SEG;
            self.mark_lost(&s);
        }
        let p = self.outstanding.pop_front().unwrap();
        self.pipe -= SEG;
        self.delivered += SEG;
        self.delivered_time = self.now;
        self.last_progress = self.now;
        self.backoff = 0;
        if p.retransmission {
            self.holes = self.holes.saturating_sub(1);
        }
        let rtt = (!p.retransmission).then(|| self.now - p.sent);
        if let Some(rtt) = rtt {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
            self.srtt = Some(self.srtt.map_or(rtt, |s| (s * 7 + rtt) / 8));
            self.cc.on_rtt_sample(self.srtt.unwrap());
        }
        // The engine's calls, in its order.
        if self.recover.is_some_and(|r| id >= r) && self.holes == 0 {
            self.recover = None;
            self.cc.on_recovery_end();
            self.notes.push(Note::ExitRecovery {
                at: self.now,
                cwnd: self.cwnd(),
            });
        } else if self.recover.is_some() {
            self.cc.on_partial_ack(MSS, self.now);
        } else if self.window_limited {
            self.cc.on_ack_at(MSS, self.now);
        } else {
            self.cc.on_window_unused(self.now);
        }
        self.window_limited = false;
        if newly_lost > 0 && self.recover.is_none() {
            let before = self.cwnd();
            let flight = self.pipe + newly_lost + SEG;
            self.cc.on_congestion_event(flight as u32);
            self.recover = Some(self.next_id);
            self.notes.push(Note::FastRetransmit {
                at: self.now,
                before,
                after: self.cwnd(),
            });
        }
        // §4.1.2.4: the sample, from the segment just delivered.
        self.first_send_time = p.sent;
        let mut rs = RateSample {
            total_delivered: self.delivered,
            prior_delivered: p.delivered,
            rtt,
            tx_in_flight: p.tx_in_flight,
            lost: self.lost - p.lost,
            newly_acked: SEG,
            newly_lost,
            inflight: self.pipe,
            in_recovery: self.recover.is_some(),
            ..RateSample::default()
        };
        let send_elapsed = p.sent - p.first_send_time;
        let ack_elapsed = self.delivered_time - p.delivered_time;
        let interval = send_elapsed.max(ack_elapsed);
        if !interval.is_zero() && self.min_rtt.is_none_or(|m| interval >= m) {
            rs.interval = interval;
            rs.delivered = self.delivered - p.delivered;
        }
        let seen = self.cc.transitions.len();
        self.cc.on_rate_sample(&rs, self.now);
        let bdp = self.cc.inflight_for(self.cc.bw, UNIT);
        for &(at, mode) in &self.cc.transitions[seen..] {
            self.notes.push(Note::Mode {
                at,
                mode,
                inflight: self.pipe,
                bdp,
            });
        }
        if self.cc.in_recovery {
            self.notes.push(Note::InRecovery {
                cwnd: self.cwnd(),
                inflight: self.pipe,
                acked: SEG,
                conserving: !self.cc.recovery_round_done,
            });
        }
    }

    fn mark_lost(&mut self, s: &Segment) {
        self.pipe -= SEG;
        self.lost += SEG;
        self.to_retransmit += 1;
        if !s.retransmission {
            self.holes += 1;
        }
    }

    /// The retransmission timer fired: everything outstanding is lost.
    fn on_rto(&mut self) {
        let flight = self.pipe;
        while let Some(s) = self.outstanding.pop_front() {
            self.mark_lost(&s);
        }
        if self.backoff == 0 {
            self.cc.on_timeout(flight as u32);
        } else {
            self.cc.on_repeated_timeout();
        }
        self.recover = None;
        self.backoff += 1;
        self.last_progress = self.now;
        self.notes.push(Note::Timeout {
            at: self.now,
            cwnd: self.cwnd(),
        });
    }

    /// The state changes so far, in order.
    fn modes(&self) -> Vec<(Duration, BbrMode)> {
        self.notes
            .iter()
            .filter_map(|n| match *n {
                Note::Mode { at, mode, .. } => Some((at, mode)),
                _ => None,
            })
            .collect()
    }
}

/// Startup doubles the bandwidth estimate every round (pacing gain 2.77,
/// cwnd gain 2) until it reaches the bottleneck, and leaves for Drain
/// once three rounds have not grown it by 25 % (§5.3.1.2).
#[test]
fn startup_doubles_the_estimate_each_round_and_drains_on_a_plateau() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    // The estimate at each round's start.
    let mut per_round = Vec::new();
    let mut round = 0;
    let left = sim.run_until_cond(secs(3.0), |sim| {
        if sim.cc.round_count != round {
            round = sim.cc.round_count;
            per_round.push(sim.cc.max_bw());
        }
        sim.cc.mode() != BbrMode::Startup
    });
    assert!(left, "still in Startup after 3 s");
    // While far from the bottleneck, each round's estimate is about twice
    // the last one's (it lags the sending rate by part of a round: 1.5
    // to 2 times here).
    let growing: Vec<_> = per_round
        .windows(2)
        .filter(|w| w[0] >= 4 * SEG * 1000 / 80 && w[1] < RATE * 8 / 10)
        .map(|w| w[1] as f64 / w[0] as f64)
        .collect();
    assert!(growing.len() >= 3, "rounds: {per_round:?}");
    for ratio in &growing {
        assert!((1.4..=2.6).contains(ratio), "{growing:?} in {per_round:?}");
    }
    let mean = growing
        .iter()
        .product::<f64>()
        .powf(1.0 / growing.len() as f64);
    assert!(mean >= 1.6, "{mean}: {per_round:?}");
    // The plateau: three rounds without growth, no loss.
    assert_eq!(sim.cc.mode(), BbrMode::Drain);
    assert!(sim.cc.full_bw_reached && sim.cc.full_bw_count >= 3);
    assert_eq!(sim.cc.inflight_longterm, INF, "not a loss exit");
    assert_eq!(sim.lost, 0);
    let bw = sim.cc.max_bw() as f64 / RATE as f64;
    assert!((0.95..=1.1).contains(&bw), "max_bw {bw} of the bottleneck");
    assert!(sim.now < secs(1.5), "Drain at {:?}", sim.now);
}

/// §5.3.1.3: with a buffer of a fifth of the BDP, Startup's overshoot
/// loses more than 2 % in a round of recovery with at least six loss
/// events, and BBR leaves for Drain on loss, before three rounds of
/// plateau, with inflight_longterm set from the BDP or what the round
/// delivered.
#[test]
fn startup_exits_on_more_than_two_percent_loss() {
    let mut sim = Sim::new(RATE, BASE_RTT, 20 * SEG);
    // The draft's loss response: in Startup the queue builds within each
    // round, so its least RTT sample shows none.
    sim.cc = Bbr::new(MSS).with_queue_aware_loss(false);
    assert!(sim.run_until_cond(secs(5.0), |sim| sim.cc.mode() != BbrMode::Startup));
    assert_eq!(sim.cc.mode(), BbrMode::Drain);
    assert!(sim.cc.full_bw_reached);
    assert!(sim.cc.full_bw_count < 3, "the plateau did not end Startup");
    assert_eq!(sim.cc.undo_state, Some(BbrMode::Startup));
    assert!(sim.lost > 0);
    let longterm = sim.cc.inflight_longterm;
    assert!(longterm != INF && longterm >= sim.cc.bdp(), "{longterm}");
    assert!(
        sim.notes
            .iter()
            .any(|n| matches!(n, Note::FastRetransmit { .. })),
        "in recovery"
    );
}

/// §5.3.2: Drain paces at 0.35 of the estimate and hands over to
/// ProbeBW_DOWN once what is in flight is at most the BDP (Inflight(1.0)),
/// within a round or two, not on its three-round limit.
#[test]
fn drain_hands_over_to_probe_bw_down_once_inflight_is_the_bdp() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    sim.run_until_cond(secs(3.0), |sim| sim.cc.mode() == BbrMode::Drain);
    let drain_at = sim.now;
    assert_eq!(sim.cc.pacing_gain(), 350);
    let rate = sim.cc.pacing_rate().unwrap() as f64 / sim.cc.max_bw() as f64;
    assert!((0.34..=0.35).contains(&rate), "Drain paces at {rate}");
    assert!(
        sim.pipe > sim.cc.inflight_for(sim.cc.bw, UNIT),
        "a queue to drain"
    );
    let drain_round = sim.cc.round_count;
    sim.run_until_cond(secs(5.0), |sim| sim.cc.mode() != BbrMode::Drain);
    let handover = sim
        .notes
        .iter()
        .find_map(|n| match *n {
            Note::Mode {
                at,
                mode: BbrMode::ProbeBwDown,
                inflight,
                bdp,
            } if at >= drain_at => Some((at, inflight, bdp)),
            _ => None,
        })
        .expect("ProbeBW_DOWN after Drain");
    let (at, inflight, bdp) = handover;
    assert!(inflight <= bdp, "inflight {inflight} > BDP {bdp}");
    assert!(sim.cc.round_count <= drain_round + 2);
    assert!(at - drain_at < 2 * BASE_RTT, "{:?} in Drain", at - drain_at);
}

/// §5.3.3: ProbeBW cycles DOWN → CRUISE → REFILL → UP → DOWN, probing
/// 2–3 s after the cycle began (T_bbr, shorter here than 63 rounds of
/// 80 ms), REFILL lasting one round and UP until the bandwidth stops
/// growing.
#[test]
fn probe_bw_cycles_down_cruise_refill_up_down() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    sim.run_until(secs(12.0));
    let modes: Vec<_> = sim
        .modes()
        .into_iter()
        .filter(|&(_, m)| m != BbrMode::ProbeRtt)
        .collect();
    let start = modes
        .iter()
        .position(|&(_, m)| m == BbrMode::ProbeBwDown)
        .unwrap();
    let cycle = [
        BbrMode::ProbeBwDown,
        BbrMode::ProbeBwCruise,
        BbrMode::ProbeBwRefill,
        BbrMode::ProbeBwUp,
        BbrMode::ProbeBwDown,
    ];
    let mut cycles = 0;
    let mut i = start;
    while i + cycle.len() <= modes.len() {
        let names: Vec<_> = modes[i..i + cycle.len()].iter().map(|m| m.1).collect();
        if names == cycle {
            let (down, refill, up, next) =
                (modes[i].0, modes[i + 2].0, modes[i + 3].0, modes[i + 4].0);
            // T_bbr = 2–3 s from the cycle's start (T_reno is 63 rounds).
            let waited = refill - down;
            assert!(
                (secs(2.0)..=secs(3.1)).contains(&waited),
                "waited {waited:?}"
            );
            // REFILL: one round.
            assert!(
                (BASE_RTT..4 * BASE_RTT).contains(&(up - refill)),
                "{:?}",
                up - refill
            );
            // UP: at least the three rounds of the plateau test.
            assert!(next - up >= 3 * BASE_RTT, "UP for {:?}", next - up);
            cycles += 1;
            i += cycle.len() - 1;
        } else {
            i += 1;
        }
    }
    assert!(cycles >= 2, "{modes:?}");
}

/// §5.3.4: five seconds without a lower RTT sample, BBR enters ProbeRTT,
/// holds the window at half the BDP for at least 200 ms and a round,
/// then returns to ProbeBW (CRUISE, §5.3.4.4) with its window restored.
#[test]
fn probe_rtt_after_five_seconds_holds_half_the_bdp_for_200_ms_and_a_round() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    sim.run_until_cond(secs(10.0), |sim| sim.cc.mode() == BbrMode::ProbeRtt);
    let entered = sim.now;
    assert_eq!(sim.cc.mode(), BbrMode::ProbeRtt);
    // The minimum was last seen in Startup's first round.
    assert!(
        (PROBE_RTT_INTERVAL + BASE_RTT..secs(5.5)).contains(&entered),
        "{entered:?}"
    );
    let half_bdp = volume(sim.cc.bw, sim.cc.min_rtt().unwrap()) / 2;
    assert!((45 * SEG..=55 * SEG).contains(&half_bdp), "{half_bdp}");
    let mut largest = sim.cwnd();
    let mut rounds = sim.cc.round_count;
    sim.run_until_cond(secs(10.0), |sim| {
        if sim.cc.mode() == BbrMode::ProbeRtt {
            largest = largest.max(sim.cwnd());
        }
        sim.cc.mode() != BbrMode::ProbeRtt
    });
    let left = sim.now;
    rounds = sim.cc.round_count - rounds;
    assert!(
        largest <= half_bdp.max(4 * SEG) + SEG,
        "{largest} > {half_bdp}"
    );
    assert!(left - entered >= PROBE_RTT_DURATION, "{:?}", left - entered);
    assert!(left - entered < PROBE_RTT_DURATION + 4 * BASE_RTT);
    assert!(rounds >= 1);
    assert_eq!(sim.cc.mode(), BbrMode::ProbeBwCruise);
    let modes = sim.modes();
    let after: Vec<_> = modes.iter().filter(|m| m.0 >= left).map(|m| m.1).collect();
    assert_eq!(after, [BbrMode::ProbeBwDown, BbrMode::ProbeBwCruise]);
    assert!(sim.cwnd() > 2 * half_bdp, "window restored: {}", sim.cwnd());
    // The next one five seconds later.
    sim.run_until_cond(secs(20.0), |sim| sim.cc.mode() == BbrMode::ProbeRtt);
    let gap = sim.now - left;
    assert!((secs(5.0)..secs(5.5)).contains(&gap), "{gap:?}");
}

/// In steady state BBR paces within a few percent of the bottleneck
/// (CRUISE: 99 % of the estimate) with a window of about two BDPs
/// (§5.6.4.2), and nothing is lost.
#[test]
fn steady_state_paces_at_the_bottleneck_with_a_window_of_two_bdps() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    sim.run_until(secs(15.0));
    let bdp = sim.bdp();
    let mut checked = 0;
    let until = secs(30.0);
    while sim.now < until {
        sim.run_until_cond(until, |sim| sim.cc.mode() == BbrMode::ProbeBwCruise);
        let t = sim.now + secs(0.5);
        while sim.now < t.min(until) && sim.cc.mode() == BbrMode::ProbeBwCruise {
            sim.step(t);
            let pacing = sim.cc.pacing_rate().unwrap() as f64 / RATE as f64;
            assert!((0.97..=1.02).contains(&pacing), "pacing at {pacing} of B");
            let window = sim.cwnd() as f64 / bdp as f64;
            assert!((1.9..=2.5).contains(&window), "window of {window} BDP");
            checked += 1;
        }
        sim.run_until_cond(until, |sim| sim.cc.mode() != BbrMode::ProbeBwCruise);
    }
    assert!(checked > 1000, "{checked} ACKs in CRUISE");
    assert_eq!(sim.lost, 0);
    let delivered = sim.delivered as f64 / (RATE as f64 * 30.0);
    assert!(
        delivered > 0.9,
        "delivered {delivered} of the path's capacity"
    );
}

/// §5.5.3: when the bottleneck halves, BBR.max_bw keeps the old rate for
/// at most two ProbeBW cycles (no loss here: the buffer is deep, so the
/// queue the old estimate builds stretches the rounds and the cycles to
/// about five seconds), then follows the new one.
#[test]
fn the_estimate_falls_within_two_cycles_when_the_bottleneck_slows() {
    let mut sim = Sim::new(RATE, BASE_RTT, 1000 * SEG);
    sim.run_until(secs(10.0));
    let before = sim.cc.max_bw();
    assert!(before > RATE * 95 / 100, "{before}");
    let cycle = sim.cc.cycle_count;
    let slowed = sim.now;
    sim.rate = RATE / 2;
    let fell = sim.run_until_cond(slowed + secs(15.0), |sim| sim.cc.max_bw() < RATE * 6 / 10);
    assert!(fell, "still {} after 15 s", sim.cc.max_bw());
    assert!(
        sim.cc.cycle_count - cycle <= 2,
        "{} cycles",
        sim.cc.cycle_count - cycle
    );
    assert!(
        sim.now - slowed > secs(1.0),
        "fell after {:?}",
        sim.now - slowed
    );
    sim.run_until(sim.now + secs(5.0));
    let after = sim.cc.max_bw() as f64 / (RATE / 2) as f64;
    assert!((0.95..=1.1).contains(&after), "{after} of the new rate");
    assert_eq!(sim.lost, 0);
}

/// Packet conservation in the first round of fast recovery, then the
/// window restored when recovery ends (§5.6.4.4): three segments dropped
/// at once in steady state.
#[test]
fn recovery_conserves_packets_then_restores_the_window() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    // The draft's response: the drops below come without a queue, which
    // queue-aware loss would not take for congestion (see
    // `a_loss_without_a_queue_keeps_the_window`).
    sim.cc = Bbr::new(MSS).with_queue_aware_loss(false);
    sim.run_until(secs(8.0));
    // Not probing: CRUISE, which lasts about a second more.
    sim.run_until_cond(secs(12.0), |sim| sim.cc.mode() == BbrMode::ProbeBwDown);
    sim.run_until_cond(secs(12.0), |sim| sim.cc.mode() == BbrMode::ProbeBwCruise);
    let seen = sim.notes.len();
    sim.drop_next = 3;
    sim.run_until_cond(sim.now + secs(3.0), |sim| {
        sim.notes[seen..]
            .iter()
            .any(|n| matches!(n, Note::ExitRecovery { .. }))
    });
    let notes = &sim.notes[seen..];
    let (fr_at, fr_before, fr_after) = notes
        .iter()
        .find_map(|n| match *n {
            Note::FastRetransmit { at, before, after } => Some((at, before, after)),
            _ => None,
        })
        .unwrap();
    let before = fr_before;
    assert!(fr_after <= before);
    assert_eq!(sim.cc.inflight_longterm, INF, "no bound from probing");
    // While conserving, the window is what is in flight plus what the
    // ACK delivered: never more than before the loss, never less than
    // that.
    let conserving: Vec<_> = notes
        .iter()
        .filter_map(|n| match *n {
            Note::InRecovery {
                cwnd,
                inflight,
                acked,
                conserving: true,
            } => Some((cwnd, inflight, acked)),
            _ => None,
        })
        .collect();
    assert!(
        conserving.len() > 10,
        "{} ACKs conserving",
        conserving.len()
    );
    std::eprintln!("{:?}", &notes[..6]);
    std::eprintln!(
        "mode {:?} longterm {} shortterm {} hr {}",
        sim.cc.mode(),
        sim.cc.inflight_longterm,
        sim.cc.inflight_shortterm,
        sim.cc.inflight_with_headroom()
    );
    let first = conserving[0];
    assert_eq!(
        first.0,
        first.1 + first.2,
        "the window starts from the pipe"
    );
    for &(cwnd, inflight, acked) in &conserving {
        assert!(
            cwnd >= inflight + acked && cwnd <= before,
            "{cwnd} {inflight}"
        );
    }
    let (exit_at, exit_cwnd) = notes
        .iter()
        .find_map(|n| match *n {
            Note::ExitRecovery { at, cwnd } => Some((at, cwnd)),
            _ => None,
        })
        .unwrap();
    assert!(exit_cwnd >= before, "restored to {exit_cwnd} of {before}");
    assert!(exit_at - fr_at < 3 * BASE_RTT);
    assert!(!sim.cc.in_recovery);
    assert_eq!(sim.lost, 3 * SEG);
}

/// A path that drops everything for 300 ms: the retransmission timer
/// fires, the window falls to one segment (as Linux's BBR), and once
/// the path is back it grows again to the BDP within a few rounds.
#[test]
fn a_timeout_cuts_the_window_to_one_segment_then_it_grows_back() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    sim.run_until(secs(8.0));
    let seen = sim.notes.len();
    sim.blackhole = true;
    sim.run_until(sim.now + secs(0.3));
    sim.blackhole = false;
    sim.run_until_cond(sim.now + secs(3.0), |sim| {
        sim.notes[seen..]
            .iter()
            .any(|n| matches!(n, Note::Timeout { .. }))
    });
    let Some(&Note::Timeout { at, cwnd }) = sim.notes[seen..]
        .iter()
        .find(|n| matches!(n, Note::Timeout { .. }))
    else {
        panic!("no timeout");
    };
    assert_eq!(cwnd, SEG);
    assert_eq!(sim.cwnd(), SEG);
    assert!(!sim.cc.in_recovery);
    let bdp = sim.bdp();
    let regrown = sim.run_until_cond(at + secs(2.0), |sim| sim.cwnd() >= bdp);
    assert!(regrown, "window {} after 2 s", sim.cwnd());
    assert!(sim.now - at < 12 * BASE_RTT, "{:?}", sim.now - at);
}

/// §5.5.11.2: a fast retransmit found spurious: the window and the model
/// go back, and BBR is out of recovery.
#[test]
fn undo_restores_the_window_and_the_bounds() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    sim.cc = Bbr::new(MSS).with_queue_aware_loss(false);
    sim.run_until(secs(8.0));
    sim.run_until_cond(secs(12.0), |sim| sim.cc.mode() == BbrMode::ProbeBwCruise);
    let cc = &mut sim.cc;
    let (cwnd, shortterm) = (cc.cwnd, cc.inflight_shortterm);
    cc.on_congestion_event(10 * MSS);
    assert!(cc.cwnd < cwnd && cc.in_recovery);
    cc.inflight_shortterm = 20 * SEG;
    cc.undo(cwnd as u32, 0);
    assert_eq!(cc.cwnd, cwnd);
    assert_eq!(cc.inflight_shortterm, shortterm);
    assert!(!cc.in_recovery);
    assert_eq!(cc.full_bw_count, 0);
}

/// A loss that ends Startup turns out spurious: BBR goes back to Startup
/// (§5.5.11.2).
#[test]
fn undo_of_a_loss_that_ended_startup_returns_to_startup() {
    let mut sim = Sim::new(RATE, BASE_RTT, 20 * SEG);
    sim.cc = Bbr::new(MSS).with_queue_aware_loss(false);
    sim.run_until_cond(secs(5.0), |sim| sim.cc.mode() != BbrMode::Startup);
    assert_eq!(sim.cc.undo_state, Some(BbrMode::Startup));
    sim.cc.undo(0, 0);
    assert_eq!(sim.cc.mode(), BbrMode::Startup);
    assert!(!sim.cc.full_bw_reached);
}

/// §5.3.1.2 judges a round by its first ACK's rate; when the engine gave
/// that ACK none (an interval too short to trust), the next ACK with a
/// rate stands in, rather than the round counting as one without growth:
/// the rate doubling each round keeps BBR in Startup.
#[test]
fn a_round_whose_first_ack_has_no_rate_is_judged_on_the_next() {
    let mut cc = Bbr::new(MSS);
    let tick = Duration::from_millis(10);
    let (mut total, mut round_total, mut now) = (0, 0, Duration::ZERO);
    for k in 0..8u32 {
        // The round's first ACK: a rate only in the first round.
        total += SEG;
        now += tick;
        let start = RateSample {
            total_delivered: total,
            prior_delivered: round_total,
            newly_acked: SEG,
            rtt: Some(tick),
            delivered: if k == 0 { SEG } else { 0 },
            interval: if k == 0 { tick } else { Duration::ZERO },
            ..RateSample::default()
        };
        cc.on_rate_sample(&start, now);
        assert!(cc.round_start);
        let previous = round_total;
        round_total = total;
        // The next: twice the last round's rate.
        total += SEG;
        now += tick;
        let grown = RateSample {
            total_delivered: total,
            prior_delivered: previous,
            newly_acked: SEG,
            rtt: Some(tick),
            delivered: SEG << (k + 1),
            interval: tick,
            ..RateSample::default()
        };
        cc.on_rate_sample(&grown, now);
        assert!(!cc.round_start);
        assert_eq!(cc.full_bw_count, 0, "round {k}");
        assert_eq!(cc.mode(), BbrMode::Startup);
    }
}

#[test]
fn initial_pacing_rate_and_send_quantum() {
    let mut cc = Bbr::new(1460);
    // 2.77 × 14,600 octets / 1 ms.
    assert_eq!(cc.pacing_rate(), Some(40_442_000));
    assert_eq!(cc.send_quantum(), 40_442);
    cc.on_rtt_sample(Duration::from_millis(10));
    assert_eq!(cc.pacing_rate(), Some(4_044_200));
    assert_eq!(cc.send_quantum(), 4044);
    // A later RTT sample does not move it.
    cc.on_rtt_sample(Duration::from_millis(20));
    assert_eq!(cc.pacing_rate(), Some(4_044_200));
    // Low rates: one segment; high rates: 64 KiB.
    let mut slow = Bbr::new(1000);
    slow.pacing_rate = 100_000;
    assert_eq!(slow.send_quantum(), 1000);
    slow.pacing_rate = 200_000;
    assert_eq!(slow.send_quantum(), 2000);
    slow.pacing_rate = MAX_RATE;
    assert_eq!(slow.send_quantum(), 65_536);
    // Never below a segment, even a large one.
    let mut jumbo = Bbr::new(65_535);
    jumbo.pacing_rate = MAX_RATE;
    assert_eq!(jumbo.send_quantum(), 131_070);
}

#[test]
fn names_and_constants() {
    let cc = Bbr::new(1000);
    assert_eq!(cc.name(), "bbr");
    assert_eq!(cc.ssthresh(), u32::MAX);
    assert!(!cc.reduces_with_prr());
    assert_eq!(cc.min_rtt(), None);
    assert_eq!(cc.max_bw(), 0);
    let names = [
        (BbrMode::Startup, "startup"),
        (BbrMode::Drain, "drain"),
        (BbrMode::ProbeBwDown, "probe_bw_down"),
        (BbrMode::ProbeBwCruise, "probe_bw_cruise"),
        (BbrMode::ProbeBwRefill, "probe_bw_refill"),
        (BbrMode::ProbeBwUp, "probe_bw_up"),
        (BbrMode::ProbeRtt, "probe_rtt"),
    ];
    for (mode, name) in names {
        assert_eq!(mode.name(), name);
    }
}

#[test]
fn the_initial_window_follows_the_rule_and_the_mss_until_data_moves() {
    let mut cc = Bbr::new(1460).with_initial_window(InitialWindow::Rfc5681);
    assert_eq!(cc.send_window(), 4380);
    cc.set_mss(536);
    assert_eq!(cc.send_window(), 2144);
    assert_eq!(cc.pacing_rate(), Some(2144 * 2770));
    cc.on_ack_at(536, MS);
    cc.set_mss(1460);
    // After: at least BBR.MinPipeCwnd.
    assert_eq!(cc.send_window(), 4 * 1460);
    let mut after = Bbr::new(1000);
    after.on_ack(1000);
    let after = after.with_initial_window(InitialWindow::Rfc5681);
    assert_eq!(after.send_window(), 10_000);
}

/// The probing times differ with the seed, and stay within 2–3 s.
#[test]
fn the_seed_randomises_the_probe_wait() {
    let mut waits = Vec::new();
    for seed in 0..20 {
        let mut cc = Bbr::new(1000).with_seed(seed);
        cc.pick_probe_wait();
        assert!((secs(2.0)..secs(3.0)).contains(&cc.bw_probe_wait));
        assert!(cc.rounds_since_probe_up <= 1);
        waits.push(cc.bw_probe_wait);
    }
    waits.sort();
    waits.dedup();
    assert!(waits.len() > 15);
}

/// Extreme samples: no panic, and the invariants hold.
#[test]
fn extreme_samples_keep_the_invariants() {
    for mss in [1, 536, 65_535, u32::MAX] {
        let mut cc = Bbr::new(mss);
        let mut rs = RateSample::default();
        let samples = [
            (u64::MAX, Duration::from_nanos(1), Some(Duration::ZERO)),
            (1, Duration::MAX, Some(Duration::MAX)),
            (0, Duration::ZERO, None),
            (u64::MAX, Duration::MAX, Some(Duration::from_nanos(1))),
        ];
        let mut now = Duration::ZERO;
        for round in 0..50u64 {
            for &(delivered, interval, rtt) in &samples {
                rs.delivered = delivered;
                rs.interval = interval;
                rs.rtt = rtt;
                rs.total_delivered = rs.total_delivered.wrapping_add(delivered);
                rs.prior_delivered = round.wrapping_mul(delivered);
                rs.tx_in_flight = delivered;
                rs.lost = delivered / 3;
                rs.newly_acked = delivered;
                rs.newly_lost = round;
                rs.inflight = delivered.rotate_left(7);
                rs.is_app_limited = round % 3 == 0;
                rs.in_recovery = round % 2 == 0;
                now = now.saturating_add(Duration::from_secs(round));
                cc.on_rate_sample(&rs, now);
                if round % 7 == 0 {
                    cc.on_congestion_event(u32::MAX);
                }
                if round % 11 == 0 {
                    cc.on_timeout(u32::MAX);
                    cc.undo(u32::MAX, u32::MAX);
                }
                let mss = cc.mss();
                assert!(cc.send_window() >= mss);
                let rate = cc.pacing_rate().unwrap();
                assert!(rate > 0 && rate <= MAX_RATE, "{rate}");
                assert!(cc.send_quantum() >= mss);
            }
        }
    }
}

quickcheck! {
    /// Under any sequence of events, rate samples included: the window is
    /// at least a segment, the pacing rate in (0, 2^48], the send quantum
    /// at least a segment.
    fn invariants(mss: u16, events: Vec<Event>) -> bool {
        events_keep_invariants(&mut Bbr::new(u32::from(mss).max(1)), events)
    }

    /// The same from the middle of a run: a controller in ProbeBW with a
    /// model, then arbitrary events.
    fn invariants_from_steady_state(events: Vec<Event>) -> bool {
        let mut sim = Sim::new(RATE, Duration::from_millis(10), 100 * SEG);
        sim.run_until(secs(0.5));
        events_keep_invariants(&mut sim.cc, events)
    }
}

/// Random loss of 1 % (one segment in a hundred, spread evenly) on a path
/// whose deep buffer never overflows: no RTT sample shows a queue, so
/// with queue-aware loss (the default) BBR does not take the losses for
/// congestion and keeps the path full (0.92 of it); the draft's loss
/// response takes every round with a loss for one and moves less (0.81
/// here; in the engine, `vtcp sim --bandwidth 100 --rtt 40 --loss 0.01
/// --cc bbr`, 9 % of the path against 83 %). The window here is small (a 10 Mbit/s, 80 ms path: 68
/// segments), so one loss in a round is more than 2 % of it.
#[test]
fn random_loss_without_a_queue_is_not_congestion() {
    let run = |queue_aware: bool| {
        let mut sim = Sim::new(RATE, BASE_RTT, 1000 * SEG);
        sim.cc = Bbr::new(MSS).with_queue_aware_loss(queue_aware);
        sim.drop_every = 100;
        sim.run_until(secs(30.0));
        let start = sim.delivered;
        sim.run_until(secs(60.0));
        (sim.delivered - start) as f64 / (RATE as f64 * 30.0)
    };
    let aware = run(true);
    let draft = run(false);
    assert!(aware > 0.85, "queue-aware: {aware} of the path");
    assert!(
        draft + 0.05 < aware,
        "the draft's response: {draft}, queue-aware: {aware}"
    );
}

/// The other side of the rule: losses that come with a queue (a buffer
/// that overflows when BBR probes with a queue standing, here a flow kept
/// behind a 1.5-BDP buffer by a slower bottleneck) still count: BBR
/// enters its loss response (`inflight_longterm` is set) as the draft's
/// does.
#[test]
fn loss_with_a_standing_queue_is_still_congestion() {
    let mut sim = Sim::new(RATE, BASE_RTT, 100 * SEG);
    sim.run_until(secs(10.0));
    // The bottleneck halves: the old estimate overfills the buffer, and
    // the queue stands until the model follows.
    sim.rate = RATE / 2;
    sim.run_until(secs(30.0));
    assert!(sim.lost > 0, "the buffer overflowed");
    assert!(
        sim.cc.inflight_longterm != INF,
        "no loss response: inflight_longterm unset"
    );
}

/// With queue-aware loss (the default), three segments dropped in steady
/// state with no queue standing are not congestion: the fast retransmit
/// leaves the window as it was (no packet conservation), the short-term
/// model is not cut, and the path stays full.
#[test]
fn a_loss_without_a_queue_keeps_the_window() {
    let mut sim = Sim::new(RATE, BASE_RTT, 400 * SEG);
    sim.run_until(secs(8.0));
    sim.run_until_cond(secs(12.0), |sim| sim.cc.mode() == BbrMode::ProbeBwCruise);
    let seen = sim.notes.len();
    let start = sim.delivered;
    let from = sim.now;
    sim.drop_next = 3;
    sim.run_until(sim.now + secs(1.0));
    let (before, after) = sim.notes[seen..]
        .iter()
        .find_map(|n| match *n {
            Note::FastRetransmit { before, after, .. } => Some((before, after)),
            _ => None,
        })
        .expect("a fast retransmit");
    assert_eq!(after, before, "the window was cut");
    assert_eq!(sim.cc.bw_shortterm, INF);
    assert_eq!(sim.cc.inflight_shortterm, INF);
    let moved = (sim.delivered - start) as f64 / volume(RATE, sim.now - from) as f64;
    assert!(
        moved > 0.95,
        "{moved} of the path in the second after the loss"
    );
}
