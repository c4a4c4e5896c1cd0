//! ICMP and ICMPv6 errors about a connection's segments: their types and
//! codes as one typed value ([`IcmpError`]), and which of them are hard
//! (they abort a connection that is opening), soft (kept and reported if
//! the connection later times out) or path-MTU reports (RFC 1122
//! §4.2.3.9, RFC 5461, RFC 1191, RFC 8201). What a connection does with
//! one is [`crate::Conn::handle_icmp`].

/// Why a destination was unreachable: ICMP type 3's codes (RFC 792, RFC
/// 1812 §5.2.7.1) and ICMPv6 type 1's (RFC 4443 §3.1), the codes that
/// mean the same merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unreachable {
    /// Network unreachable (ICMP 0), no route (ICMPv6 0).
    Net,
    /// Host unreachable (ICMP 1), address unreachable (ICMPv6 3).
    Host,
    /// Protocol unreachable (ICMP 2): the host does not speak TCP.
    Protocol,
    /// Port unreachable (ICMP 3, ICMPv6 4): nothing listens there.
    Port,
    /// Source route failed (ICMP 5).
    SourceRouteFailed,
    /// Destination network unknown (ICMP 6).
    NetUnknown,
    /// Destination host unknown (ICMP 7).
    HostUnknown,
    /// Source host isolated (ICMP 8).
    SourceHostIsolated,
    /// Communication with the destination network administratively
    /// prohibited (ICMP 9).
    NetProhibited,
    /// Communication with the destination host administratively
    /// prohibited (ICMP 10).
    HostProhibited,
    /// Network unreachable for the type of service (ICMP 11).
    NetForTos,
    /// Host unreachable for the type of service (ICMP 12).
    HostForTos,
    /// Communication administratively prohibited (ICMP 13, ICMPv6 1).
    AdminProhibited,
    /// Host precedence violation (ICMP 14).
    PrecedenceViolation,
    /// Precedence cutoff in effect (ICMP 15).
    PrecedenceCutoff,
    /// Beyond the scope of the source address (ICMPv6 2).
    BeyondScope,
    /// Another code (ICMPv6 5, 6, 7, and codes no RFC defines).
    Other(u8),
}

/// What an ICMP or ICMPv6 error says went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IcmpKind {
    /// Destination unreachable (ICMP type 3 but code 4, ICMPv6 type 1).
    Unreachable(Unreachable),
    /// Fragmentation needed and DF set (ICMP type 3 code 4, RFC 1191 §4)
    /// or packet too big (ICMPv6 type 2, RFC 8201): the next hop's MTU,
    /// 0 when a router from before RFC 1191 gave none.
    PacketTooBig {
        /// The next hop's MTU, as reported.
        mtu: u32,
    },
    /// Time exceeded (ICMP type 11, ICMPv6 type 3): the TTL or hop limit
    /// ran out in transit (code 0), or reassembly timed out (code 1).
    TimeExceeded {
        /// Code 1: fragment reassembly time exceeded.
        reassembly: bool,
    },
    /// Parameter problem (ICMP type 12, ICMPv6 type 4) with its code.
    /// ICMPv6's code 1, "unrecognized Next Header", says the peer does
    /// not speak TCP.
    ParameterProblem {
        /// The code.
        code: u8,
    },
}

/// An ICMP or ICMPv6 error about a segment we sent: what it says, and
/// over which IP version it came (which sets the header sizes and the
/// least MTU a path may have).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpError {
    /// What went wrong.
    pub kind: IcmpKind,
    /// It is an ICMPv6 message (about an IPv6 datagram).
    pub ipv6: bool,
}

/// What an error is to a TCP connection (RFC 1122 §4.2.3.9, RFC 5461).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IcmpClass {
    /// Aborts a connection in SYN-SENT (when
    /// [`crate::ConnConfig::icmp_hard_errors`] is on); soft in every other
    /// state (RFC 5461 §4.1).
    Hard,
    /// Kept as the connection's last soft error; the connection goes on.
    Soft,
    /// A path-MTU report (RFC 1191, RFC 8201).
    PathMtu,
}

/// The least MTU of an IPv4 path (RFC 791, RFC 1191 §3).
pub const IPV4_MIN_MTU: u32 = 68;
/// The least MTU of an IPv6 path (RFC 8200 §5).
pub const IPV6_MIN_MTU: u32 = 1280;

impl IcmpError {
    /// An ICMP (IPv4) error of `icmp_type` and `code` whose second word
    /// (RFC 792's "unused", RFC 1191's next-hop MTU in its low half) is
    /// `rest`. `None` for a message that is not an error about a
    /// segment: echo, timestamp and the like; source quench, which TCP
    /// ignores (RFC 6633 §2.2); and redirect, which is the IP layer's.
    pub fn from_icmpv4(icmp_type: u8, code: u8, rest: u32) -> Option<Self> {
        let kind = match icmp_type {
            3 => match code {
                4 => IcmpKind::PacketTooBig { mtu: rest & 0xffff },
                _ => IcmpKind::Unreachable(match code {
                    0 => Unreachable::Net,
                    1 => Unreachable::Host,
                    2 => Unreachable::Protocol,
                    3 => Unreachable::Port,
                    5 => Unreachable::SourceRouteFailed,
                    6 => Unreachable::NetUnknown,
                    7 => Unreachable::HostUnknown,
                    8 => Unreachable::SourceHostIsolated,
                    9 => Unreachable::NetProhibited,
                    10 => Unreachable::HostProhibited,
                    11 => Unreachable::NetForTos,
                    12 => Unreachable::HostForTos,
                    13 => Unreachable::AdminProhibited,
                    14 => Unreachable::PrecedenceViolation,
                    15 => Unreachable::PrecedenceCutoff,
                    other => Unreachable::Other(other),
                }),
            },
            11 => IcmpKind::TimeExceeded {
                reassembly: code == 1,
            },
            12 => IcmpKind::ParameterProblem { code },
            _ => return None,
        };
        Some(Self { kind, ipv6: false })
    }

    /// An ICMPv6 error of `icmp_type` and `code` whose second word (the
    /// MTU of a packet too big, RFC 4443 §3.2) is `rest`; `None` for an
    /// informational message (type 128 and above) or an unknown type.
    pub fn from_icmpv6(icmp_type: u8, code: u8, rest: u32) -> Option<Self> {
        let kind = match icmp_type {
            1 => IcmpKind::Unreachable(match code {
                0 => Unreachable::Net,
                1 => Unreachable::AdminProhibited,
                2 => Unreachable::BeyondScope,
                3 => Unreachable::Host,
                4 => Unreachable::Port,
                other => Unreachable::Other(other),
            }),
            2 => IcmpKind::PacketTooBig { mtu: rest },
            3 => IcmpKind::TimeExceeded {
                reassembly: code == 1,
            },
            4 => IcmpKind::ParameterProblem { code },
            _ => return None,
        };
        Some(Self { kind, ipv6: true })
    }

    /// Hard, soft, or a path-MTU report. The hard errors are FreeBSD's
    /// (`tcp_ctlinput` with `net.inet.tcp.icmp_may_rst`, as the FreeBSD
    /// test suite's `rcv-icmp` scripts check them): protocol and port
    /// unreachable (RFC 1122 §4.2.3.9's hard errors), the three
    /// "administratively prohibited" codes and ICMPv6's (RFC 5461 §4.1
    /// leaves them to the implementation; a firewall said no), TTL or
    /// hop limit exceeded in transit, and ICMPv6's unrecognized Next
    /// Header (the peer does not speak TCP, as protocol unreachable).
    /// Everything else is soft.
    pub fn class(&self) -> IcmpClass {
        match self.kind {
            IcmpKind::PacketTooBig { .. } => IcmpClass::PathMtu,
            IcmpKind::TimeExceeded { reassembly: false } => IcmpClass::Hard,
            _ if self.refused() => IcmpClass::Hard,
            _ => IcmpClass::Soft,
        }
    }

    /// The destination, or a firewall before it, will not take TCP there:
    /// protocol or port unreachable, administratively prohibited, ICMPv6's
    /// unrecognized Next Header. The hard errors but TTL exceeded; what a
    /// socket reports as ECONNREFUSED.
    pub fn refused(&self) -> bool {
        match self.kind {
            IcmpKind::Unreachable(u) => matches!(
                u,
                Unreachable::Protocol
                    | Unreachable::Port
                    | Unreachable::NetProhibited
                    | Unreachable::HostProhibited
                    | Unreachable::AdminProhibited
            ),
            IcmpKind::ParameterProblem { code } => self.ipv6 && code == 1,
            _ => false,
        }
    }

    /// The octets of IP header in front of our segments: 20 (IPv4, no
    /// options) or 40 (IPv6, no extension headers).
    pub fn ip_header_len(&self) -> u32 {
        if self.ipv6 { 40 } else { 20 }
    }

    /// For a path-MTU report, the largest TCP segment (header and options
    /// included) the path carries: the MTU, raised to the least a path of
    /// its IP version may have (RFC 1191 §3: 68; RFC 8201 §4: a report
    /// below 1280 counts as 1280), less the IP header. `None` for any
    /// other error, and for an IPv4 report of no MTU (a router from
    /// before RFC 1191: RFC 1191 §5's plateau search is not done).
    pub fn max_segment(&self) -> Option<u32> {
        let IcmpKind::PacketTooBig { mtu } = self.kind else {
            return None;
        };
        if mtu == 0 && !self.ipv6 {
            return None;
        }
        let floor = if self.ipv6 {
            IPV6_MIN_MTU
        } else {
            IPV4_MIN_MTU
        };
        Some(mtu.max(floor) - self.ip_header_len())
    }
}

/// What [`crate::Conn::handle_icmp`] did with an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IcmpOutcome {
    /// The quoted sequence number is not one in flight (RFC 5927 §4.1:
    /// SND.UNA ≤ SEG.SEQ < SND.MAX), or the connection has nothing in
    /// flight to be told about: ignored.
    OutOfWindow,
    /// A hard error aborted the opening connection.
    Aborted,
    /// A soft error (or a hard one past SYN-SENT) was kept as the
    /// connection's last.
    SoftError,
    /// A path-MTU report lowered the send MSS; what no longer fits goes
    /// again.
    MssLowered,
    /// A path-MTU report of no consequence: the MSS is already that
    /// small, or no MSS is known yet (SYN-SENT).
    MssUnchanged,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each family's types and codes to their kinds (`ipv6`, type, code,
    /// second word, kind); echo, source quench, redirect and the like are
    /// no errors about a segment.
    #[test]
    fn types_and_codes_map_to_their_kinds() {
        use IcmpKind::{PacketTooBig, ParameterProblem, TimeExceeded};
        let u = IcmpKind::Unreachable;
        let table = [
            (false, 3, 0, 0, Some(u(Unreachable::Net))),
            (false, 3, 3, 0, Some(u(Unreachable::Port))),
            (false, 3, 13, 0, Some(u(Unreachable::AdminProhibited))),
            (false, 3, 99, 0, Some(u(Unreachable::Other(99)))),
            // RFC 1191 §4: the MTU is the second word's low half.
            (false, 3, 4, 0xabcd_0576, Some(PacketTooBig { mtu: 1398 })),
            (false, 11, 0, 0, Some(TimeExceeded { reassembly: false })),
            (false, 11, 1, 0, Some(TimeExceeded { reassembly: true })),
            (false, 12, 2, 0, Some(ParameterProblem { code: 2 })),
            (false, 0, 0, 0, None),
            (false, 4, 0, 0, None),
            (false, 5, 1, 0, None),
            (false, 8, 0, 0, None),
            (false, 13, 0, 0, None),
            (true, 1, 0, 0, Some(u(Unreachable::Net))),
            (true, 1, 1, 0, Some(u(Unreachable::AdminProhibited))),
            (true, 1, 2, 0, Some(u(Unreachable::BeyondScope))),
            (true, 1, 3, 0, Some(u(Unreachable::Host))),
            (true, 1, 4, 0, Some(u(Unreachable::Port))),
            (true, 1, 5, 0, Some(u(Unreachable::Other(5)))),
            (true, 2, 0, 70_000, Some(PacketTooBig { mtu: 70_000 })),
            (true, 3, 1, 0, Some(TimeExceeded { reassembly: true })),
            (true, 4, 1, 0, Some(ParameterProblem { code: 1 })),
            (true, 0, 0, 0, None),
            (true, 128, 0, 0, None),
            (true, 135, 0, 0, None),
        ];
        for (ipv6, t, c, rest, kind) in table {
            let got = if ipv6 {
                IcmpError::from_icmpv6(t, c, rest)
            } else {
                IcmpError::from_icmpv4(t, c, rest)
            };
            assert_eq!(got, kind.map(|kind| IcmpError { kind, ipv6 }), "{t}/{c}");
        }
    }

    /// FreeBSD's hard errors, as its `rcv-icmp-hard-error-*` scripts
    /// check them; its `*-ignored-*` scripts send every other code and
    /// expect no error.
    #[test]
    fn hard_and_soft_errors_are_freebsds() {
        let class4 = |t, c| IcmpError::from_icmpv4(t, c, 0).unwrap().class();
        let class6 = |t, c| IcmpError::from_icmpv6(t, c, 0).unwrap().class();
        for code in [2, 3, 9, 10, 13] {
            assert_eq!(class4(3, code), IcmpClass::Hard, "unreachable {code}");
        }
        for code in [0, 1, 5, 6, 7, 8, 11, 12, 14, 15] {
            assert_eq!(class4(3, code), IcmpClass::Soft, "unreachable {code}");
        }
        assert_eq!(class4(3, 4), IcmpClass::PathMtu);
        assert_eq!(class4(11, 0), IcmpClass::Hard);
        assert_eq!(class4(11, 1), IcmpClass::Soft);
        for code in 0..3 {
            assert_eq!(class4(12, code), IcmpClass::Soft, "parameter {code}");
        }
        for code in [1, 4] {
            assert_eq!(class6(1, code), IcmpClass::Hard, "unreachable {code}");
        }
        for code in [0, 2, 3, 5] {
            assert_eq!(class6(1, code), IcmpClass::Soft, "unreachable {code}");
        }
        assert_eq!(class6(2, 0), IcmpClass::PathMtu);
        assert_eq!(class6(3, 0), IcmpClass::Hard);
        assert_eq!(class6(3, 1), IcmpClass::Soft);
        assert_eq!(class6(4, 1), IcmpClass::Hard);
        for code in [0, 2] {
            assert_eq!(class6(4, code), IcmpClass::Soft, "parameter {code}");
        }
    }

    #[test]
    fn the_largest_segment_is_the_mtu_less_the_ip_header_above_each_floor() {
        let v4 = |mtu| IcmpError::from_icmpv4(3, 4, mtu).unwrap().max_segment();
        let v6 = |mtu| IcmpError::from_icmpv6(2, 0, mtu).unwrap().max_segment();
        assert_eq!(v4(1280), Some(1260));
        assert_eq!(v4(20), Some(48)); // raised to 68
        assert_eq!(v4(0), None); // no figure
        assert_eq!(v6(1500), Some(1460));
        assert_eq!(v6(1000), Some(1240)); // raised to 1280
        assert_eq!(v6(0), Some(1240));
        assert_eq!(
            IcmpError::from_icmpv4(3, 3, 1280).unwrap().max_segment(),
            None
        );
    }
}
