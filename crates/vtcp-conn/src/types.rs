//! What a connection shows its user: its state, events, errors,
//! statistics, and what a SYN-cookie handshake settled.

use std::fmt;
use std::time::Duration;

use vtcp_seq::Seq;
use vtcp_wire::WireError;

use crate::icmp::IcmpError;

/// The eleven states of RFC 9293 §3.3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// Our SYN sent, waiting for the peer's.
    SynSent,
    /// SYN received and answered, waiting for its ACK.
    SynReceived,
    /// Open: data flows both ways.
    Established,
    /// We closed; our FIN is not yet acknowledged.
    FinWait1,
    /// We closed and our FIN was acknowledged; the peer may still send.
    FinWait2,
    /// The peer closed; we may still send.
    CloseWait,
    /// Both closed at once; waiting for our FIN's ACK.
    Closing,
    /// The peer closed, then we did; waiting for our FIN's ACK.
    LastAck,
    /// Both closed; waiting out old segments.
    TimeWait,
}

impl State {
    /// The upper-case name, as RFC 9293 writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Closed => "CLOSED",
            Self::Listen => "LISTEN",
            Self::SynSent => "SYN-SENT",
            Self::SynReceived => "SYN-RECEIVED",
            Self::Established => "ESTABLISHED",
            Self::FinWait1 => "FIN-WAIT-1",
            Self::FinWait2 => "FIN-WAIT-2",
            Self::CloseWait => "CLOSE-WAIT",
            Self::Closing => "CLOSING",
            Self::LastAck => "LAST-ACK",
            Self::TimeWait => "TIME-WAIT",
        }
    }

    /// A synchronized state (RFC 9293 §3.5): the handshake is complete.
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            Self::Closed | Self::Listen | Self::SynSent | Self::SynReceived
        )
    }

    pub(crate) fn can_receive_data(self) -> bool {
        matches!(self, Self::Established | Self::FinWait1 | Self::FinWait2)
    }

    pub(crate) fn can_send_data(self) -> bool {
        matches!(self, Self::Established | Self::CloseWait)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// Both sides closed in order.
    Normal,
    /// The peer reset the connection.
    Reset,
    /// The peer refused the connection (RST answering our SYN).
    Refused,
    /// Retransmissions, keepalive probes or the user timeout ran out.
    TimedOut,
    /// We aborted it.
    Aborted,
    /// An ICMP hard error answered our SYN (RFC 1122 §4.2.3.9, RFC 5461
    /// §4.1); [`crate::Conn::icmp_error`] says which.
    Unreachable,
}

/// Something the application may want to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed.
    Connected,
    /// Data can be read.
    Readable,
    /// Room opened in the send buffer.
    Writable,
    /// The peer sent FIN: no more data will arrive.
    PeerClosed,
    /// The connection is closed.
    Closed(CloseReason),
}

/// Pending events in the order they happened, each kind at most once: a
/// fixed array, so a connection allocates nothing for them and an
/// application that never polls cannot make them grow.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EventQueue {
    items: [Option<Event>; Self::KINDS],
}

impl EventQueue {
    /// How many kinds of [`Event`] there are.
    const KINDS: usize = 5;

    /// Exhaustive, so a new kind of event cannot be forgotten here.
    fn kind(event: &Event) -> usize {
        match event {
            Event::Connected => 0,
            Event::Readable => 1,
            Event::Writable => 2,
            Event::PeerClosed => 3,
            Event::Closed(_) => 4,
        }
    }

    pub(crate) fn push(&mut self, event: Event) {
        let kind = Self::kind(&event);
        for item in &mut self.items {
            match item {
                Some(e) if Self::kind(e) == kind => return,
                Some(_) => {}
                None => {
                    *item = Some(event);
                    return;
                }
            }
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        let first = self.items[0].take();
        self.items.rotate_left(1);
        first
    }
}

/// Errors of the application-side calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// The connection is not in a state that allows this.
    #[error("not allowed in state {0}")]
    InvalidState(State),
    /// The segment given to `accept_syn` is not a SYN.
    #[error("not a SYN")]
    NotASyn,
    /// A segment could not be parsed.
    #[error("malformed segment: {0}")]
    Malformed(#[from] WireError),
    /// The connection closed for this reason.
    #[error("connection closed: {0:?}")]
    Closed(CloseReason),
}

/// Per-connection counters, in the manner of Linux's `tcp_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Smoothed RTT.
    pub srtt: Option<Duration>,
    /// RTT variation.
    pub rttvar: Duration,
    /// Current retransmission timeout.
    pub rto: Duration,
    /// Congestion window, octets.
    pub cwnd: u32,
    /// Slow-start threshold, octets.
    pub ssthresh: u32,
    /// Octets sent and not acknowledged.
    pub bytes_in_flight: usize,
    /// Segments received.
    pub segments_in: u64,
    /// Segments sent.
    pub segments_out: u64,
    /// Data segments sent again.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub rtos: u64,
    /// Fast retransmits (recoveries entered).
    pub fast_recoveries: u64,
    /// Retransmissions found lost during recovery and sent again.
    pub lost_retransmits: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tlp_probes: u64,
    /// Window reductions undone as spurious (RFC 3522 Eifel with
    /// timestamps, RFC 3708 D-SACK).
    pub undos: u64,
    /// Retransmitted octets the peer reported as duplicates (D-SACK,
    /// RFC 2883): retransmissions that were not needed.
    pub spurious_retransmit_bytes: u64,
    /// SACK blocks received.
    pub sack_blocks_seen: u64,
    /// Out-of-order octets held now.
    pub ooo_bytes: usize,
    /// Segments dropped as unacceptable (out of window, PAWS).
    pub dropped: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
    /// Octets received in order.
    pub bytes_received: u64,
    /// Octets acknowledged by the peer.
    pub bytes_acked: u64,
    /// The rate the controller paces at, octets per second (`None`: it
    /// does not pace).
    pub pacing_rate: Option<u64>,
    /// The latest delivery-rate sample, octets per second (Linux's
    /// `tcpi_delivery_rate`), while the controller wants them.
    pub delivery_rate: Option<u64>,
    /// A model-based controller's state (BBR's mode: `startup`, `drain`,
    /// `probe_bw_down`, `probe_bw_cruise`, `probe_bw_refill`,
    /// `probe_bw_up`, `probe_rtt`).
    pub cc_mode: Option<&'static str>,
    /// BBR's estimate of the path's bandwidth, octets per second.
    pub bandwidth_estimate: Option<u64>,
    /// BBR's estimate of the path's round-trip propagation time.
    pub min_rtt: Option<Duration>,
    /// The handshake set ECN up (RFC 3168 §6.1.1; `TCP_INFO`'s
    /// `TCPI_OPT_ECN`).
    pub ecn: bool,
    /// Segments received marked CE (congestion experienced) on a
    /// connection that set ECN up.
    pub ce_received: u64,
    /// ACKs received with ECE (the peer echoing a CE mark).
    pub ece_received: u64,
    /// Congestion-window reductions for an ECE (at most one per window of
    /// data, RFC 3168 §6.1.2).
    pub ecn_reductions: u64,
}

/// A counter that a connection with neither losses nor misbehaving peers
/// never moves: kept out of line ([`Counters`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rare {
    Retransmits,
    Rtos,
    FastRecoveries,
    LostRetransmits,
    TlpProbes,
    Undos,
    SpuriousRetransmitBytes,
    SackBlocksSeen,
    Dropped,
    ChallengeAcks,
    CeReceived,
    EceReceived,
    EcnReductions,
}

/// The counters a connection keeps of itself, for [`Stats`]: those that
/// move with every segment inline, the [`Rare`] ones in a box allocated
/// when the first of them moves, so that an idle connection (and a
/// healthy one) carries a pointer for them (issue 22). The last ICMP
/// error, as rare, shares the box.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) segments_in: u64,
    pub(crate) segments_out: u64,
    pub(crate) bytes_received: u64,
    pub(crate) bytes_acked: u64,
    rare: Option<Box<RareBox>>,
}

/// What [`Counters`] keeps out of line.
#[derive(Clone, Debug, Default)]
struct RareBox {
    /// One count per [`Rare`] counter (the last is `EcnReductions`).
    counts: [u64; Rare::EcnReductions as usize + 1],
    /// The last ICMP error accepted: a soft one kept (RFC 1122
    /// §4.2.3.9), or the hard one that closed the connection.
    icmp_error: Option<IcmpError>,
}

impl Counters {
    /// Adds `n` to a rare counter; zero allocates nothing.
    #[inline]
    pub(crate) fn add(&mut self, counter: Rare, n: u64) {
        if n != 0 {
            self.rare.get_or_insert_default().counts[counter as usize] += n;
        }
    }

    fn rare(&self, counter: Rare) -> u64 {
        self.rare.as_ref().map_or(0, |r| r.counts[counter as usize])
    }

    /// Keeps `error` as the connection's last ICMP error.
    pub(crate) fn set_icmp_error(&mut self, error: IcmpError) {
        self.rare.get_or_insert_default().icmp_error = Some(error);
    }

    /// The last ICMP error kept.
    pub(crate) fn icmp_error(&self) -> Option<IcmpError> {
        self.rare.as_ref().and_then(|r| r.icmp_error)
    }

    /// The counters, as [`Stats`] reports them (its live values left at
    /// their defaults).
    pub(crate) fn to_stats(&self) -> Stats {
        Stats {
            segments_in: self.segments_in,
            segments_out: self.segments_out,
            bytes_received: self.bytes_received,
            bytes_acked: self.bytes_acked,
            retransmits: self.rare(Rare::Retransmits),
            rtos: self.rare(Rare::Rtos),
            fast_recoveries: self.rare(Rare::FastRecoveries),
            lost_retransmits: self.rare(Rare::LostRetransmits),
            tlp_probes: self.rare(Rare::TlpProbes),
            undos: self.rare(Rare::Undos),
            spurious_retransmit_bytes: self.rare(Rare::SpuriousRetransmitBytes),
            sack_blocks_seen: self.rare(Rare::SackBlocksSeen),
            dropped: self.rare(Rare::Dropped),
            challenge_acks: self.rare(Rare::ChallengeAcks),
            ce_received: self.rare(Rare::CeReceived),
            ece_received: self.rare(Rare::EceReceived),
            ecn_reductions: self.rare(Rare::EcnReductions),
            ..Stats::default()
        }
    }
}

/// What a SYN-cookie handshake settled, for
/// [`Conn::accept_cookie`](crate::Conn::accept_cookie).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieHandshake {
    /// The peer's ISN.
    pub remote_isn: Seq,
    /// Our ISN: the cookie.
    pub local_isn: Seq,
    /// The peer's MSS, as the cookie carried it.
    pub peer_mss: u16,
    /// The peer's window-scale shift, if the cookie kept it.
    pub peer_wscale: Option<u8>,
    /// The shift our SYN-ACK offered.
    pub our_wscale: u8,
    /// The peer allowed SACK.
    pub sack_permitted: bool,
    /// The timestamps of the completing ACK, if any.
    pub timestamp: Option<vtcp_wire::Timestamp>,
    /// The window of the completing ACK, unscaled.
    pub window: u16,
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use quickcheck::quickcheck;

    use super::{CloseReason, Event, EventQueue};

    fn event(n: u8) -> Event {
        match n % 6 {
            0 => Event::Connected,
            1 => Event::Readable,
            2 => Event::Writable,
            3 => Event::PeerClosed,
            4 => Event::Closed(CloseReason::Normal),
            _ => Event::Closed(CloseReason::Reset),
        }
    }

    quickcheck! {
        // The queue against a VecDeque that skips a push when an event of
        // the same kind waits: same events, same order.
        fn event_queue_matches_a_deque(ops: Vec<Option<u8>>) -> bool {
            let mut queue = EventQueue::default();
            let mut model: VecDeque<Event> = VecDeque::new();
            for op in ops {
                match op {
                    Some(n) => {
                        let e = event(n);
                        let same_kind = |m: &Event| {
                            core::mem::discriminant(m) == core::mem::discriminant(&e)
                        };
                        if !model.iter().any(same_kind) {
                            model.push_back(e);
                        }
                        queue.push(e);
                    }
                    None => {
                        if queue.pop() != model.pop_front() {
                            return false;
                        }
                    }
                }
            }
            while let Some(e) = model.pop_front() {
                if queue.pop() != Some(e) {
                    return false;
                }
            }
            queue.pop().is_none()
        }
    }
}
