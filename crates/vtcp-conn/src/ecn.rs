//! Explicit Congestion Notification for TCP (RFC 3168): the policy, the
//! IP header's ECN field, and a connection's ECN state (whether the
//! handshake set ECN up, the congestion echo it owes its peer, the CWR it
//! owes after reducing its window).
//!
//! The rules, and where they are applied in `conn.rs`:
//!
//! - §6.1.1 negotiation: an ECN-setup SYN has ECE and CWR; an ECN-setup
//!   SYN-ACK has ECE and not CWR; anything else sets nothing up
//!   ([`EcnState::on_peer_syn`], [`EcnState::syn_flags`]).
//! - §6.1.2, §6.1.4 to §6.1.6: once set up, new data segments go out ECT(0);
//!   retransmissions, pure ACKs, window probes, SYNs, SYN-ACKs and RSTs
//!   go Not-ECT (RFC 3168 as written: RFC 8311's relaxations are not
//!   taken).
//! - §6.1.2 the sender: an ACK with ECE reduces the congestion window
//!   once per window of data, and the next new data segment carries CWR
//!   ([`EcnState::on_ece`], [`EcnState::data_marks`]).
//! - §6.1.3 the receiver: a segment marked CE makes every ACK carry ECE
//!   until a segment with CWR arrives ([`EcnState::on_received`]).

use vtcp_seq::Seq;
use vtcp_wire::Flags;

/// Whether a connection uses ECN (RFC 3168), and who asks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcnMode {
    /// No ECN: our SYNs do not ask, and a peer's ECN-setup SYN is answered
    /// with a plain SYN-ACK.
    Off,
    /// Answer a peer's ECN-setup SYN with an ECN-setup SYN-ACK, but do not
    /// ask in our own SYNs (default: Linux's `net.ipv4.tcp_ecn=2`,
    /// FreeBSD's `net.inet.tcp.ecn.enable=2`).
    #[default]
    Accept,
    /// Ask in our SYNs too (Linux's `tcp_ecn=1`, FreeBSD's
    /// `ecn.enable=1`).
    On,
}

/// The ECN field of an IP header (RFC 3168 §5): the two low bits of the
/// IPv4 TOS octet and of the IPv6 Traffic Class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcnCodepoint {
    /// `00`: the sender is not ECN-capable.
    #[default]
    NotEct,
    /// `01`: ECN-capable transport, ECT(1) (RFC 8311 leaves it to
    /// experiments such as L4S; vtcp never sends it).
    Ect1,
    /// `10`: ECN-capable transport, ECT(0): what an ECN sender marks.
    Ect0,
    /// `11`: congestion experienced, set by a router instead of dropping.
    Ce,
}

impl EcnCodepoint {
    /// The codepoint of the low two bits of `traffic_class` (a whole TOS
    /// or Traffic Class octet).
    pub fn from_traffic_class(traffic_class: u8) -> Self {
        match traffic_class & 3 {
            0 => Self::NotEct,
            1 => Self::Ect1,
            2 => Self::Ect0,
            _ => Self::Ce,
        }
    }

    /// The two bits, as they sit at the bottom of the traffic class.
    pub fn bits(self) -> u8 {
        match self {
            Self::NotEct => 0,
            Self::Ect1 => 1,
            Self::Ect0 => 2,
            Self::Ce => 3,
        }
    }

    /// `traffic_class` with its ECN field replaced by this codepoint (the
    /// DSCP kept).
    pub fn apply(self, traffic_class: u8) -> u8 {
        (traffic_class & !3) | self.bits()
    }
}

/// A connection's ECN state. Everything stays off unless the handshake
/// set ECN up. Six octets aligned to two, so that it fits in the padding
/// of [`crate::negotiated::Negotiated`] and a connection does not grow
/// (`conn::size`): the flags in one octet, the sequence number unaligned.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, packed(2))]
pub(crate) struct EcnState {
    /// [`EcnState::OK`], [`EcnState::ASKED`], [`EcnState::ECHO`],
    /// [`EcnState::CWR_OWED`], [`EcnState::RECOVER`].
    bits: u8,
    /// §6.1.2, with [`EcnState::RECOVER`]: no further reduction for ECE
    /// until SND.UNA passes this (the highest SND.NXT when the window was
    /// reduced): once per window of data.
    recover: u32,
}

impl EcnState {
    /// §6.1.1: the handshake set ECN up; segments may be ECT.
    const OK: u8 = 1;
    /// Our SYN asked for ECN (an ECN-setup SYN went out).
    const ASKED: u8 = 2;
    /// §6.1.3: a CE mark arrived and no CWR since: every ACK carries ECE.
    const ECHO: u8 = 4;
    /// §6.1.2: the window was reduced for an ECE: the next new data
    /// segment carries CWR.
    const CWR_OWED: u8 = 8;
    /// `recover` holds a sequence number.
    const RECOVER: u8 = 16;

    fn has(&self, bit: u8) -> bool {
        self.bits & bit != 0
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.bits |= bit;
        } else {
            self.bits &= !bit;
        }
    }

    /// §6.1.1: the handshake set ECN up; segments may be ECT.
    pub(crate) fn ok(&self) -> bool {
        self.has(Self::OK)
    }

    /// Where a reduction for ECE holds until SND.UNA passes it.
    fn recover(&self) -> Option<Seq> {
        self.has(Self::RECOVER).then_some(Seq(self.recover))
    }

    /// The ECN flags our SYN (`ack` false) or SYN-ACK carries: ECE and CWR
    /// on a SYN while `mode` is [`EcnMode::On`] and at most `retries_max`
    /// retransmissions of it went unanswered (FreeBSD's
    /// `net.inet.tcp.ecn.maxretries`); ECE alone on a SYN-ACK once the
    /// peer's SYN set ECN up.
    pub(crate) fn syn_flags(
        &mut self,
        ack: bool,
        mode: EcnMode,
        retries: u32,
        retries_max: u32,
    ) -> Flags {
        if ack {
            return if self.ok() {
                Flags::ECE
            } else {
                Flags::empty()
            };
        }
        if mode == EcnMode::On && retries <= retries_max {
            self.set(Self::ASKED, true);
            Flags::ECE | Flags::CWR
        } else {
            Flags::empty()
        }
    }

    /// §6.1.1: the peer's SYN (`flags` without ACK) or SYN-ACK (with)
    /// sets ECN up or not. A SYN asks with ECE and CWR both, and is
    /// answered when `mode` is not [`EcnMode::Off`]; a SYN-ACK agrees
    /// with ECE and not CWR, to a SYN of ours that asked.
    pub(crate) fn on_peer_syn(&mut self, flags: Flags, mode: EcnMode) {
        let ece_cwr = flags & (Flags::ECE | Flags::CWR);
        let ok = if flags.contains(Flags::ACK) {
            self.has(Self::ASKED) && ece_cwr == Flags::ECE
        } else {
            mode != EcnMode::Off && ece_cwr == Flags::ECE | Flags::CWR
        };
        self.set(Self::OK, ok);
    }

    /// §6.1.3, the receiver, for an acceptable segment with `flags`
    /// whose IP header carried `ecn` (from the IP layer): CWR ends the
    /// echo, and a CE mark (on this segment too) starts it again. Returns
    /// whether the segment was marked CE, which is answered at once.
    pub(crate) fn on_received(&mut self, flags: Flags, ecn: EcnCodepoint) -> bool {
        if !self.ok() {
            return false;
        }
        if flags.contains(Flags::CWR) {
            self.set(Self::ECHO, false);
        }
        let ce = ecn == EcnCodepoint::Ce;
        if ce {
            self.set(Self::ECHO, true);
        }
        ce
    }

    /// The ECE flag every ACK carries while CE is to be echoed.
    pub(crate) fn ack_flags(&self) -> Flags {
        if self.ok() && self.has(Self::ECHO) {
            Flags::ECE
        } else {
            Flags::empty()
        }
    }

    /// §6.1.2, the sender, for an acceptable ACK (not a SYN-ACK) with ECE
    /// acknowledging up to `ack`, `snd_max` the highest SND.NXT: whether
    /// the window is to be reduced now (once per window of data: not
    /// again until the data sent before this reduction is acknowledged),
    /// and then a CWR is owed on the next new data.
    /// Only for a connection that set ECN up (the caller checks).
    pub(crate) fn on_ece(&mut self, ack: Seq, snd_max: Seq) -> bool {
        debug_assert!(self.ok(), "ECE handled on a connection without ECN");
        if self.recover().is_some_and(|r| ack.before(r)) {
            return false;
        }
        self.recover = snd_max.max_seq(ack + 1).0;
        self.set(Self::RECOVER | Self::CWR_OWED, true);
        true
    }

    /// The codepoint and ECN flags of a segment: ECT(0) for new data
    /// (`new_data`), and CWR on the first such segment after a reduction;
    /// Not-ECT for everything else (§6.1.4 to §6.1.6).
    pub(crate) fn data_marks(&mut self, new_data: bool) -> (EcnCodepoint, Flags) {
        if !self.ok() || !new_data {
            return (EcnCodepoint::NotEct, Flags::empty());
        }
        let cwr = if self.has(Self::CWR_OWED) {
            self.set(Self::CWR_OWED, false);
            Flags::CWR
        } else {
            Flags::empty()
        };
        (EcnCodepoint::Ect0, cwr)
    }

    /// Nothing more to remember of a reduction once `una` passed it
    /// (no sequence number kept for 2^31 octets).
    pub(crate) fn forget_acked(&mut self, una: Seq) {
        if self.recover().is_some_and(|r| !una.before(r)) {
            self.set(Self::RECOVER, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ece_and_cwr_together_ask_and_only_ece_alone_answers() {
        for (flags, asks) in [
            (Flags::SYN | Flags::ECE | Flags::CWR, true),
            (Flags::SYN | Flags::ECE, false),
            (Flags::SYN | Flags::CWR, false),
            (Flags::SYN, false),
        ] {
            let mut e = EcnState::default();
            e.on_peer_syn(flags, EcnMode::Accept);
            assert_eq!(e.ok(), asks, "{flags:?}");
            e.on_peer_syn(flags, EcnMode::Off);
            assert!(!e.ok(), "{flags:?} with ECN off");
        }
        for (flags, agrees) in [
            (Flags::SYN | Flags::ACK | Flags::ECE, true),
            (Flags::SYN | Flags::ACK | Flags::ECE | Flags::CWR, false),
            (Flags::SYN | Flags::ACK | Flags::CWR, false),
            (Flags::SYN | Flags::ACK, false),
        ] {
            let mut e = EcnState::default();
            assert_eq!(
                e.syn_flags(false, EcnMode::On, 0, 1),
                Flags::ECE | Flags::CWR
            );
            e.on_peer_syn(flags, EcnMode::On);
            assert_eq!(e.ok(), agrees, "{flags:?}");
            // A SYN-ACK to a SYN that did not ask sets nothing up.
            let mut quiet = EcnState::default();
            quiet.on_peer_syn(flags, EcnMode::On);
            assert!(!quiet.ok(), "{flags:?} unasked");
        }
    }

    #[test]
    fn the_syn_stops_asking_after_the_retries_allowed() {
        let mut e = EcnState::default();
        let asks: Vec<bool> = (0..4)
            .map(|r| !e.syn_flags(false, EcnMode::On, r, 1).is_empty())
            .collect();
        assert_eq!(asks, [true, true, false, false]);
        assert!(e.syn_flags(false, EcnMode::Accept, 0, 1).is_empty());
    }

    #[test]
    fn codepoints_round_trip_through_the_traffic_class() {
        for c in [
            EcnCodepoint::NotEct,
            EcnCodepoint::Ect1,
            EcnCodepoint::Ect0,
            EcnCodepoint::Ce,
        ] {
            assert_eq!(EcnCodepoint::from_traffic_class(c.apply(0xb8)), c);
            assert_eq!(c.apply(0xb8) & !3, 0xb8);
        }
    }

    #[test]
    fn one_reduction_per_window_and_one_cwr_after_it() {
        let mut e = EcnState::default();
        e.set(EcnState::OK, true);
        assert!(e.on_ece(Seq(100), Seq(1000)));
        // Further ECEs for the same window: no reduction.
        assert!(!e.on_ece(Seq(500), Seq(1500)));
        assert_eq!(e.data_marks(true), (EcnCodepoint::Ect0, Flags::CWR));
        assert_eq!(e.data_marks(true), (EcnCodepoint::Ect0, Flags::empty()));
        assert_eq!(e.data_marks(false), (EcnCodepoint::NotEct, Flags::empty()));
        // The window of the reduction acknowledged: the next ECE counts.
        assert!(e.on_ece(Seq(1000), Seq(2000)));
    }

    /// §6.1.2 with nothing left in flight: an ECE on the ACK of all that
    /// was sent reduces the window, and the ECEs the peer goes on
    /// echoing until our CWR arrives (on ACKs that acknowledge nothing
    /// new) reduce nothing more; one that acknowledges data sent after
    /// the reduction does.
    #[test]
    fn an_ece_on_the_ack_of_everything_counts_for_that_window() {
        let mut e = EcnState::default();
        e.set(EcnState::OK, true);
        assert!(e.on_ece(Seq(1000), Seq(1000)));
        e.forget_acked(Seq(1000));
        assert!(!e.on_ece(Seq(1000), Seq(1000)));
        e.forget_acked(Seq(1001));
        assert!(e.on_ece(Seq(1001), Seq(1001)));
    }

    /// A reduction's point is forgotten once SND.UNA reaches it: kept, it
    /// would come round again 2^31 octets later (a long-lived
    /// connection), look ahead of the ACKs and hold back the reduction
    /// an ECE asks for.
    #[test]
    fn a_passed_reduction_point_does_not_come_back_after_2_31() {
        let mut e = EcnState::default();
        e.set(EcnState::OK, true);
        assert!(e.on_ece(Seq(1000), Seq(2000)));
        e.forget_acked(Seq(2000));
        let later = Seq(2000) + ((1u32 << 31) + 10);
        e.forget_acked(later);
        assert!(e.on_ece(later, later + 1000));
    }
}
