//! IP framing: the packets a TUN device reads, taken apart for the stack,
//! and the segments the stack sends, wrapped in IP.
//!
//! Parsing is etherparse's (IPv4 options, IPv6 extension headers, ICMP and
//! ICMPv6 types); this module decides what each packet means to a TCP
//! stack. Every packet read from a device is untrusted: [`classify`] never
//! panics, allocates nothing but the reply it is asked to build, and says
//! why it drops what it drops.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use etherparse::{
    Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, IpNumber, IpSlice, Ipv4HeaderSlice,
    Ipv6Header, PacketBuilder, icmpv4::DestUnreachableHeader,
};
use vtcp::wire::checksum::internet_checksum;

/// The stack's IP framing of outbound segments, shared with its pcap
/// writer (so a capture shows the headers this crate sends).
pub use vtcp::ip::{HOP_LIMIT, wrap_tcp, wrap_tcp_with};

/// The smallest MTU an IPv6 path may have (RFC 8200 §5): a "packet too
/// big" below it does not lower the MSS further (RFC 8201 §4).
pub const IPV6_MIN_MTU: u32 = 1280;

/// The smallest MTU an IPv4 path may have (RFC 791, RFC 1191 §3).
pub const IPV4_MIN_MTU: u32 = 68;

/// What a packet read from the device is to the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inbound<'a> {
    /// A TCP segment for one of our addresses.
    Tcp {
        /// The sender.
        src: IpAddr,
        /// Our address it was sent to.
        dst: IpAddr,
        /// The TCP header and payload.
        segment: &'a [u8],
    },
    /// An ICMP or ICMPv6 echo request: the reply, a whole IP packet, is
    /// in the buffer [`classify`] was given.
    EchoReply,
    /// An ICMP "fragmentation needed" or ICMPv6 "packet too big" that
    /// quotes a TCP segment we sent.
    PathMtu(PathMtu),
    /// Not for the stack; counted by its reason.
    Dropped(DropReason),
}

/// A path-MTU report (RFC 1191, RFC 8201), with the quoted segment's
/// addresses and sequence number so that the caller can check it belongs
/// to a connection (RFC 5927 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathMtu {
    /// Our end of the connection the quoted segment belongs to.
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
    /// The quoted segment's sequence number.
    pub seq: u32,
    /// The largest TCP segment (header included) the path carries: the
    /// reported MTU less the IP header.
    pub max_segment: u32,
}

/// Why a packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a well-formed IPv4 or IPv6 packet, or a bad IPv4 header or ICMP
    /// checksum.
    Malformed,
    /// A fragment: the stack does not reassemble (its MSS keeps peers from
    /// fragmenting).
    Fragment,
    /// Addressed to none of our addresses.
    NotOurs,
    /// Neither TCP nor ICMP.
    Protocol,
    /// An ICMP message the stack has no use for, or a path-MTU report that
    /// quotes no TCP segment of ours or reports an MTU of no use.
    Icmp,
}

/// Which destinations are ours.
#[derive(Clone, Copy, Debug)]
pub struct Local<'a> {
    /// Our addresses.
    pub addrs: &'a [IpAddr],
    /// TCP to any destination is ours too (a transparent stack that
    /// terminates every flow, as a VPN or a tun2proxy forwarder does);
    /// ICMP is still answered only for `addrs`.
    pub any_tcp: bool,
}

impl<'a> Local<'a> {
    /// Only these addresses.
    pub fn only(addrs: &'a [IpAddr]) -> Self {
        Self {
            addrs,
            any_tcp: false,
        }
    }
}

/// Takes apart one packet read from a TUN device. An echo request gets its
/// reply built into `reply` (which is cleared first); nothing else touches
/// it.
pub fn classify<'a>(packet: &'a [u8], local: Local<'_>, reply: &mut Vec<u8>) -> Inbound<'a> {
    let Ok(ip) = IpSlice::from_slice(packet) else {
        return Inbound::Dropped(DropReason::Malformed);
    };
    if let IpSlice::Ipv4(v4) = &ip {
        let header = v4.header().slice();
        if internet_checksum(header) != 0 {
            return Inbound::Dropped(DropReason::Malformed);
        }
    }
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    let payload = ip.payload();
    let tcp = payload.ip_number == IpNumber::TCP;
    let ours = local.addrs.contains(&dst) || (tcp && local.any_tcp);
    if !ours {
        return Inbound::Dropped(DropReason::NotOurs);
    }
    if payload.fragmented {
        return Inbound::Dropped(DropReason::Fragment);
    }
    match (payload.ip_number, src, dst) {
        (IpNumber::TCP, _, _) => Inbound::Tcp {
            src,
            dst,
            segment: payload.payload,
        },
        (IpNumber::ICMP, IpAddr::V4(s), IpAddr::V4(d)) => icmpv4(payload.payload, s, d, reply),
        (IpNumber::IPV6_ICMP, IpAddr::V6(s), IpAddr::V6(d)) => icmpv6(payload.payload, s, d, reply),
        _ => Inbound::Dropped(DropReason::Protocol),
    }
}

fn icmpv4<'a>(msg: &[u8], src: Ipv4Addr, dst: Ipv4Addr, reply: &mut Vec<u8>) -> Inbound<'a> {
    let Ok(icmp) = Icmpv4Slice::from_slice(msg) else {
        return Inbound::Dropped(DropReason::Malformed);
    };
    if internet_checksum(msg) != 0 {
        return Inbound::Dropped(DropReason::Malformed);
    }
    match icmp.icmp_type() {
        Icmpv4Type::EchoRequest(echo) => {
            reply.clear();
            let built = PacketBuilder::ipv4(dst.octets(), src.octets(), HOP_LIMIT)
                .icmpv4_echo_reply(echo.id, echo.seq)
                .write(reply, icmp.payload());
            if built.is_err() {
                return Inbound::Dropped(DropReason::Malformed);
            }
            Inbound::EchoReply
        }
        // RFC 1191 §4: the next-hop MTU is in the low half of the second
        // word; 0 is a router of before RFC 1191, which gives no figure.
        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu,
        }) if u32::from(next_hop_mtu) >= IPV4_MIN_MTU => {
            quoted_v4(icmp.payload(), dst, u32::from(next_hop_mtu))
        }
        _ => Inbound::Dropped(DropReason::Icmp),
    }
}

/// The TCP segment an ICMP error quotes: its IPv4 header and at least the
/// first eight octets of TCP (RFC 792), sent by us (`ours`) to a peer.
fn quoted_v4<'a>(quote: &[u8], ours: Ipv4Addr, mtu: u32) -> Inbound<'a> {
    let Ok(header) = Ipv4HeaderSlice::from_slice(quote) else {
        return Inbound::Dropped(DropReason::Icmp);
    };
    if header.protocol() != IpNumber::TCP || header.source_addr() != ours {
        return Inbound::Dropped(DropReason::Icmp);
    }
    let ip_len = header.slice().len();
    quoted_tcp(
        &quote[ip_len..],
        IpAddr::V4(ours),
        IpAddr::V4(header.destination_addr()),
        mtu.saturating_sub(ip_len as u32),
    )
}

fn icmpv6<'a>(msg: &[u8], src: Ipv6Addr, dst: Ipv6Addr, reply: &mut Vec<u8>) -> Inbound<'a> {
    let Ok(icmp) = Icmpv6Slice::from_slice(msg) else {
        return Inbound::Dropped(DropReason::Malformed);
    };
    if !icmp.is_checksum_valid(src.octets(), dst.octets()) {
        return Inbound::Dropped(DropReason::Malformed);
    }
    match icmp.icmp_type() {
        Icmpv6Type::EchoRequest(echo) => {
            reply.clear();
            let built = PacketBuilder::ipv6(dst.octets(), src.octets(), HOP_LIMIT)
                .icmpv6_echo_reply(echo.id, echo.seq)
                .write(reply, icmp.payload());
            if built.is_err() {
                return Inbound::Dropped(DropReason::Malformed);
            }
            Inbound::EchoReply
        }
        // RFC 8201 §4: a report below 1280 still lowers the path to 1280.
        Icmpv6Type::PacketTooBig { mtu } => quoted_v6(icmp.payload(), dst, mtu.max(IPV6_MIN_MTU)),
        _ => Inbound::Dropped(DropReason::Icmp),
    }
}

/// The TCP segment an ICMPv6 error quotes. Only a quote whose fixed header
/// is followed directly by TCP is taken (what this stack sends).
fn quoted_v6<'a>(quote: &[u8], ours: Ipv6Addr, mtu: u32) -> Inbound<'a> {
    let Ok((header, rest)) = Ipv6Header::from_slice(quote) else {
        return Inbound::Dropped(DropReason::Icmp);
    };
    if header.next_header != IpNumber::TCP || Ipv6Addr::from(header.source) != ours {
        return Inbound::Dropped(DropReason::Icmp);
    }
    quoted_tcp(
        rest,
        IpAddr::V6(ours),
        IpAddr::V6(header.destination.into()),
        mtu - Ipv6Header::LEN as u32,
    )
}

fn quoted_tcp<'a>(tcp: &[u8], local: IpAddr, remote: IpAddr, max_segment: u32) -> Inbound<'a> {
    let Some(first) = tcp.get(..8) else {
        return Inbound::Dropped(DropReason::Icmp);
    };
    let port = |i: usize| u16::from_be_bytes([first[i], first[i + 1]]);
    Inbound::PathMtu(PathMtu {
        local: SocketAddr::new(local, port(0)),
        remote: SocketAddr::new(remote, port(2)),
        seq: u32::from_be_bytes([first[4], first[5], first[6], first[7]]),
        max_segment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Icmpv4Header, Icmpv6Header, IpFragOffset, Ipv4Header, Ipv6FragmentHeader};

    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
    const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);

    fn locals() -> [IpAddr; 2] {
        [IpAddr::V4(US), IpAddr::V6(US6)]
    }

    /// A minimal TCP header: ports 40000 -> 7, the given sequence number.
    fn tcp(seq: u32) -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&7u16.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[12] = 5 << 4;
        t
    }

    #[test]
    fn wrapped_segments_come_back_as_the_same_segment() {
        let seg = tcp(77);
        let mut out = Vec::new();
        let mut reply = Vec::new();
        for (src, dst) in [
            (IpAddr::V4(PEER), IpAddr::V4(US)),
            (IpAddr::V6(PEER6), IpAddr::V6(US6)),
        ] {
            assert!(wrap_tcp(src, dst, &seg, &mut out));
            assert_eq!(
                classify(&out, Local::only(&locals()), &mut reply),
                Inbound::Tcp {
                    src,
                    dst,
                    segment: &seg
                }
            );
        }
        // IPv4: DF set, TTL 64, a header that checks.
        assert!(wrap_tcp(IpAddr::V4(US), IpAddr::V4(PEER), &seg, &mut out));
        let h = Ipv4HeaderSlice::from_slice(&out).unwrap();
        assert!(h.dont_fragment());
        assert_eq!(h.ttl(), 64);
        assert_eq!(internet_checksum(h.slice()), 0);
        assert!(!wrap_tcp(IpAddr::V4(US), IpAddr::V6(PEER6), &seg, &mut out));
        assert!(out.is_empty());
        assert!(!wrap_tcp(
            IpAddr::V6(US6),
            IpAddr::V6(PEER6),
            &vec![0; 70_000],
            &mut out
        ));
    }

    #[test]
    fn packets_not_for_us_fragments_and_bad_headers_are_dropped_with_a_reason() {
        let mut out = Vec::new();
        let mut reply = Vec::new();
        let other = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 9));
        assert!(wrap_tcp(IpAddr::V4(PEER), other, &tcp(1), &mut out));
        assert_eq!(
            classify(&out, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::NotOurs)
        );
        // A transparent stack takes TCP to anywhere, but answers pings
        // only for its own addresses.
        let any = Local {
            addrs: &locals(),
            any_tcp: true,
        };
        assert!(matches!(
            classify(&out, any, &mut reply),
            Inbound::Tcp { dst, .. } if dst == other
        ));
        let mut ping = Vec::new();
        PacketBuilder::ipv4(PEER.octets(), [198, 18, 0, 9], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut ping, b"")
            .unwrap();
        assert_eq!(
            classify(&ping, any, &mut reply),
            Inbound::Dropped(DropReason::NotOurs)
        );
        assert!(wrap_tcp(
            IpAddr::V4(PEER),
            IpAddr::V4(US),
            &tcp(1),
            &mut out
        ));
        out[8] ^= 1; // TTL changed, checksum not
        assert_eq!(
            classify(&out, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Malformed)
        );
        for n in 0..out.len() {
            // Truncations never panic.
            let _ = classify(&out[..n], Local::only(&locals()), &mut reply);
        }
        // An IPv4 fragment (more fragments set).
        let mut h = Ipv4Header::new(20, 64, IpNumber::TCP, PEER.octets(), US.octets()).unwrap();
        h.more_fragments = true;
        h.header_checksum = h.calc_header_checksum();
        let mut frag = Vec::new();
        h.write(&mut frag).unwrap();
        frag.extend_from_slice(&tcp(1));
        assert_eq!(
            classify(&frag, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Fragment)
        );
        // An IPv6 fragment header in front of TCP.
        let fh = Ipv6FragmentHeader::new(IpNumber::TCP, IpFragOffset::ZERO, true, 9);
        let h6 = Ipv6Header {
            payload_length: (8 + 20) as u16,
            next_header: IpNumber::IPV6_FRAGMENTATION_HEADER,
            hop_limit: 64,
            source: PEER6.octets(),
            destination: US6.octets(),
            ..Ipv6Header::default()
        };
        let mut frag6 = Vec::new();
        h6.write(&mut frag6).unwrap();
        fh.write(&mut frag6).unwrap();
        frag6.extend_from_slice(&tcp(1));
        assert_eq!(
            classify(&frag6, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Fragment)
        );
        // UDP.
        let mut udp = Vec::new();
        PacketBuilder::ipv4(PEER.octets(), US.octets(), 64)
            .udp(1, 2)
            .write(&mut udp, b"x")
            .unwrap();
        assert_eq!(
            classify(&udp, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Protocol)
        );
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        // A hop-by-hop options header (8 octets of padding) before TCP.
        let seg = tcp(5);
        let mut p = Vec::new();
        Ipv6Header {
            payload_length: (8 + seg.len()) as u16,
            next_header: IpNumber::IPV6_HEADER_HOP_BY_HOP,
            hop_limit: 64,
            source: PEER6.octets(),
            destination: US6.octets(),
            ..Ipv6Header::default()
        }
        .write(&mut p)
        .unwrap();
        p.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&seg);
        let mut reply = Vec::new();
        assert_eq!(
            classify(&p, Local::only(&locals()), &mut reply),
            Inbound::Tcp {
                src: IpAddr::V6(PEER6),
                dst: IpAddr::V6(US6),
                segment: &seg
            }
        );
    }

    #[test]
    fn echo_requests_get_replies_in_both_families() {
        let mut reply = Vec::new();
        let mut req = Vec::new();
        PacketBuilder::ipv4(PEER.octets(), US.octets(), 64)
            .icmpv4_echo_request(0x1234, 7)
            .write(&mut req, b"ping!")
            .unwrap();
        assert_eq!(
            classify(&req, Local::only(&locals()), &mut reply),
            Inbound::EchoReply
        );
        let ip = IpSlice::from_slice(&reply).unwrap();
        assert_eq!(ip.source_addr(), IpAddr::V4(US));
        assert_eq!(ip.destination_addr(), IpAddr::V4(PEER));
        let icmp = Icmpv4Slice::from_slice(ip.payload().payload).unwrap();
        assert_eq!(internet_checksum(icmp.slice()), 0);
        assert_eq!(icmp.payload(), b"ping!");
        assert!(matches!(
            icmp.icmp_type(),
            Icmpv4Type::EchoReply(e) if e.id == 0x1234 && e.seq == 7
        ));
        // A corrupted request gets no reply.
        let last = req.len() - 1;
        req[last] ^= 1;
        assert_eq!(
            classify(&req, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Malformed)
        );

        let mut req6 = Vec::new();
        PacketBuilder::ipv6(PEER6.octets(), US6.octets(), 64)
            .icmpv6_echo_request(9, 1)
            .write(&mut req6, b"ping6")
            .unwrap();
        assert_eq!(
            classify(&req6, Local::only(&locals()), &mut reply),
            Inbound::EchoReply
        );
        let ip = IpSlice::from_slice(&reply).unwrap();
        let icmp = Icmpv6Slice::from_slice(ip.payload().payload).unwrap();
        assert!(icmp.is_checksum_valid(US6.octets(), PEER6.octets()));
        assert!(matches!(icmp.icmp_type(), Icmpv6Type::EchoReply(e) if e.id == 9 && e.seq == 1));
    }

    #[test]
    fn path_mtu_reports_name_the_quoted_connection() {
        let mut reply = Vec::new();
        // What we sent: US:40000 -> PEER:7, seq 1000.
        let mut sent = Vec::new();
        assert!(wrap_tcp(
            IpAddr::V4(US),
            IpAddr::V4(PEER),
            &tcp(1000),
            &mut sent
        ));
        let mut icmp = Vec::new();
        Icmpv4Header::with_checksum(
            Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
                next_hop_mtu: 1400,
            }),
            &sent[..28],
        )
        .write(&mut icmp)
        .unwrap();
        icmp.extend_from_slice(&sent[..28]);
        let mut pkt = Vec::new();
        PacketBuilder::ipv4([198, 18, 0, 254], US.octets(), 64)
            .write(&mut pkt, IpNumber::ICMP, &icmp)
            .unwrap();
        assert_eq!(
            classify(&pkt, Local::only(&locals()), &mut reply),
            Inbound::PathMtu(PathMtu {
                local: SocketAddr::new(IpAddr::V4(US), 40000),
                remote: SocketAddr::new(IpAddr::V4(PEER), 7),
                seq: 1000,
                max_segment: 1380,
            })
        );

        // IPv6 "packet too big" of 1000: taken as 1280.
        let mut sent6 = Vec::new();
        assert!(wrap_tcp(
            IpAddr::V6(US6),
            IpAddr::V6(PEER6),
            &tcp(5),
            &mut sent6
        ));
        let ty = Icmpv6Type::PacketTooBig { mtu: 1000 };
        let (router, _) = (Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xfe), ());
        let h = Icmpv6Header::with_checksum(ty, router.octets(), US6.octets(), &sent6).unwrap();
        let mut icmp6 = Vec::new();
        h.write(&mut icmp6).unwrap();
        icmp6.extend_from_slice(&sent6);
        let mut pkt6 = Vec::new();
        PacketBuilder::ipv6(router.octets(), US6.octets(), 64)
            .write(&mut pkt6, IpNumber::IPV6_ICMP, &icmp6)
            .unwrap();
        assert_eq!(
            classify(&pkt6, Local::only(&locals()), &mut reply),
            Inbound::PathMtu(PathMtu {
                local: SocketAddr::new(IpAddr::V6(US6), 40000),
                remote: SocketAddr::new(IpAddr::V6(PEER6), 7),
                seq: 5,
                max_segment: 1240,
            })
        );

        // A quote of a segment we did not send (source not ours).
        let mut forged = Vec::new();
        assert!(wrap_tcp(
            IpAddr::V4(PEER),
            IpAddr::V4(US),
            &tcp(1),
            &mut forged
        ));
        let mut icmp = Vec::new();
        Icmpv4Header::with_checksum(
            Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
                next_hop_mtu: 576,
            }),
            &forged[..28],
        )
        .write(&mut icmp)
        .unwrap();
        icmp.extend_from_slice(&forged[..28]);
        let mut pkt = Vec::new();
        PacketBuilder::ipv4(PEER.octets(), US.octets(), 64)
            .write(&mut pkt, IpNumber::ICMP, &icmp)
            .unwrap();
        assert_eq!(
            classify(&pkt, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Icmp)
        );
    }
}
