//! IP framing: the packets a TUN device reads, taken apart for the stack,
//! and the segments the stack sends, wrapped in IP.
//!
//! Parsing is etherparse's (IPv4 options, IPv6 extension headers, ICMP and
//! ICMPv6 types); this module decides what each packet means to a TCP
//! stack. Every packet read from a device is untrusted: [`classify`] never
//! panics, allocates nothing but the reply it is asked to build, and says
//! why it drops what it drops.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, IpNumber, IpSlice, Ipv4HeaderSlice,
    Ipv6Header, PacketBuilder,
};
use vtcp::icmp::{IcmpError, IcmpReport, QuotedTcp};
use vtcp::wire::checksum::internet_checksum;

use vtcp::DEFAULT_HOP_LIMIT;
/// The stack's IP framing of outbound segments, shared with its pcap
/// writer (so a capture shows the headers this crate sends).
pub use vtcp::ip::{wrap_tcp, wrap_tcp_with};

/// The smallest MTU an IPv6 path may have (RFC 8200 §5): a "packet too
/// big" below it does not lower the MSS further (RFC 8201 §4).
pub const IPV6_MIN_MTU: u32 = vtcp::conn::IPV6_MIN_MTU;

/// The smallest MTU an IPv4 path may have (RFC 791, RFC 1191 §3).
pub const IPV4_MIN_MTU: u32 = vtcp::conn::IPV4_MIN_MTU;

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
    /// An ICMP or ICMPv6 error (destination unreachable, fragmentation
    /// needed or packet too big, time exceeded, parameter problem) that
    /// quotes a TCP segment we sent, for [`vtcp::Stack::handle_icmp`].
    IcmpError(IcmpReport<'a>),
    /// Not for the stack; counted by its reason.
    Dropped(DropReason),
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
    /// An ICMP message the stack has no use for (a redirect, a source
    /// quench, an informational type), or an error that quotes no TCP
    /// segment of ours.
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

fn icmpv4<'a>(msg: &'a [u8], src: Ipv4Addr, dst: Ipv4Addr, reply: &mut Vec<u8>) -> Inbound<'a> {
    let Ok(icmp) = Icmpv4Slice::from_slice(msg) else {
        return Inbound::Dropped(DropReason::Malformed);
    };
    if internet_checksum(msg) != 0 {
        return Inbound::Dropped(DropReason::Malformed);
    }
    if let Icmpv4Type::EchoRequest(echo) = icmp.icmp_type() {
        return echo_reply(reply, |r| {
            PacketBuilder::ipv4(dst.octets(), src.octets(), DEFAULT_HOP_LIMIT)
                .icmpv4_echo_reply(echo.id, echo.seq)
                .write(r, icmp.payload())
        });
    }
    // Every error goes to the stack, typed (RFC 792; RFC 1191 §4's MTU
    // in the second word's low half); it decides what each means.
    let rest = u32::from_be_bytes(icmp.bytes5to8());
    IcmpError::from_icmpv4(icmp.type_u8(), icmp.code_u8(), rest)
        .map_or(Inbound::Dropped(DropReason::Icmp), |error| {
            quoted_v4(error, icmp.payload(), dst)
        })
}

/// The reply to an echo request, built into `reply` (cleared first) by
/// `build`; a request whose reply cannot be built is malformed.
fn echo_reply<E>(
    reply: &mut Vec<u8>,
    build: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Inbound<'static> {
    reply.clear();
    match build(reply) {
        Ok(()) => Inbound::EchoReply,
        Err(_) => Inbound::Dropped(DropReason::Malformed),
    }
}

/// The TCP segment an ICMP error quotes: its IPv4 header and at least the
/// first eight octets of TCP (RFC 792), sent by us (`ours`) to a peer.
fn quoted_v4(error: IcmpError, quote: &[u8], ours: Ipv4Addr) -> Inbound<'_> {
    let Ok(header) = Ipv4HeaderSlice::from_slice(quote) else {
        return Inbound::Dropped(DropReason::Icmp);
    };
    if header.protocol() != IpNumber::TCP || header.source_addr() != ours {
        return Inbound::Dropped(DropReason::Icmp);
    }
    quoted_tcp(
        error,
        &quote[header.slice().len()..],
        IpAddr::V4(ours),
        IpAddr::V4(header.destination_addr()),
    )
}

fn icmpv6<'a>(msg: &'a [u8], src: Ipv6Addr, dst: Ipv6Addr, reply: &mut Vec<u8>) -> Inbound<'a> {
    let Ok(icmp) = Icmpv6Slice::from_slice(msg) else {
        return Inbound::Dropped(DropReason::Malformed);
    };
    if !icmp.is_checksum_valid(src.octets(), dst.octets()) {
        return Inbound::Dropped(DropReason::Malformed);
    }
    if let Icmpv6Type::EchoRequest(echo) = icmp.icmp_type() {
        return echo_reply(reply, |r| {
            PacketBuilder::ipv6(dst.octets(), src.octets(), DEFAULT_HOP_LIMIT)
                .icmpv6_echo_reply(echo.id, echo.seq)
                .write(r, icmp.payload())
        });
    }
    // RFC 4443 §2.1: the errors are types 0 to 127, each to the stack.
    let rest = u32::from_be_bytes(icmp.bytes5to8());
    IcmpError::from_icmpv6(icmp.type_u8(), icmp.code_u8(), rest)
        .map_or(Inbound::Dropped(DropReason::Icmp), |error| {
            quoted_v6(error, icmp.payload(), dst)
        })
}

/// The TCP segment an ICMPv6 error quotes. Only a quote whose fixed header
/// is followed directly by TCP is taken (what this stack sends).
fn quoted_v6(error: IcmpError, quote: &[u8], ours: Ipv6Addr) -> Inbound<'_> {
    let Ok((header, rest)) = Ipv6Header::from_slice(quote) else {
        return Inbound::Dropped(DropReason::Icmp);
    };
    if header.next_header != IpNumber::TCP || Ipv6Addr::from(header.source) != ours {
        return Inbound::Dropped(DropReason::Icmp);
    }
    quoted_tcp(
        error,
        rest,
        IpAddr::V6(ours),
        IpAddr::V6(header.destination.into()),
    )
}

fn quoted_tcp(error: IcmpError, tcp: &[u8], src: IpAddr, dst: IpAddr) -> Inbound<'_> {
    if tcp.len() < QuotedTcp::MIN_LEN {
        return Inbound::Dropped(DropReason::Icmp);
    }
    Inbound::IcmpError(IcmpReport {
        error,
        src,
        dst,
        quoted: tcp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::icmpv4::DestUnreachableHeader;
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

    /// An ICMP error from a router (198.18.0.254) quoting `quoted`.
    fn icmpv4_error(ty: Icmpv4Type, quoted: &[u8]) -> Vec<u8> {
        let mut icmp = Vec::new();
        Icmpv4Header::with_checksum(ty, quoted)
            .write(&mut icmp)
            .unwrap();
        icmp.extend_from_slice(quoted);
        let mut pkt = Vec::new();
        PacketBuilder::ipv4([198, 18, 0, 254], US.octets(), 64)
            .write(&mut pkt, IpNumber::ICMP, &icmp)
            .unwrap();
        pkt
    }

    /// The report `classify` gives for an error quoting what we sent to
    /// PEER:7 from port 40000.
    fn report(error: IcmpError, src: IpAddr, dst: IpAddr, quoted: &[u8]) -> Inbound<'_> {
        Inbound::IcmpError(IcmpReport {
            error,
            src,
            dst,
            quoted,
        })
    }

    #[test]
    fn icmp_errors_quoting_our_segments_go_to_the_stack_typed() {
        let mut reply = Vec::new();
        // What we sent: US:40000 -> PEER:7, seq 1000.
        let mut sent = Vec::new();
        assert!(wrap_tcp(
            IpAddr::V4(US),
            IpAddr::V4(PEER),
            &tcp(1000),
            &mut sent
        ));
        let (us, peer) = (IpAddr::V4(US), IpAddr::V4(PEER));
        let frag = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 1400,
        });
        let port = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port);
        let ttl =
            Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit);
        // Each with its type, code and second word, quoting the IP header
        // and 8 octets, or the whole segment.
        for (ty, quote, (t, c, rest)) in [
            (frag.clone(), 28, (3, 4, 1400)),
            (port.clone(), sent.len(), (3, 3, 0)),
            (ttl, 28, (11, 0, 0)),
        ] {
            let error = IcmpError::from_icmpv4(t, c, rest).unwrap();
            let pkt = icmpv4_error(ty, &sent[..quote]);
            assert_eq!(
                classify(&pkt, Local::only(&locals()), &mut reply),
                report(error, us, peer, &sent[20..quote])
            );
        }
        // A quote cut inside the TCP ports and sequence number.
        let pkt = icmpv4_error(port.clone(), &sent[..27]);
        assert_eq!(
            classify(&pkt, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Icmp)
        );
        // A redirect is the IP layer's, a source quench TCP ignores.
        let quench = Icmpv4Type::Unknown {
            type_u8: 4,
            code_u8: 0,
            bytes5to8: [0; 4],
        };
        let pkt = icmpv4_error(quench, &sent[..28]);
        assert_eq!(
            classify(&pkt, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Icmp)
        );

        // IPv6 "packet too big" of 1000: the stack raises it to 1280.
        let mut sent6 = Vec::new();
        assert!(wrap_tcp(
            IpAddr::V6(US6),
            IpAddr::V6(PEER6),
            &tcp(5),
            &mut sent6
        ));
        let router = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xfe);
        let icmp6 = |ty: Icmpv6Type| {
            let h = Icmpv6Header::with_checksum(ty, router.octets(), US6.octets(), &sent6).unwrap();
            let mut icmp6 = Vec::new();
            h.write(&mut icmp6).unwrap();
            icmp6.extend_from_slice(&sent6);
            let mut pkt6 = Vec::new();
            PacketBuilder::ipv6(router.octets(), US6.octets(), 64)
                .write(&mut pkt6, IpNumber::IPV6_ICMP, &icmp6)
                .unwrap();
            pkt6
        };
        let (us6, peer6) = (IpAddr::V6(US6), IpAddr::V6(PEER6));
        let pkt6 = icmp6(Icmpv6Type::PacketTooBig { mtu: 1000 });
        let got = classify(&pkt6, Local::only(&locals()), &mut reply);
        assert_eq!(
            got,
            report(
                IcmpError::from_icmpv6(2, 0, 1000).unwrap(),
                us6,
                peer6,
                &sent6[40..]
            )
        );
        let Inbound::IcmpError(r) = got else {
            unreachable!()
        };
        assert_eq!(r.error.max_segment(), Some(1240));
        let pkt6 = icmp6(Icmpv6Type::DestinationUnreachable(
            etherparse::icmpv6::DestUnreachableCode::Port,
        ));
        assert!(matches!(
            classify(&pkt6, Local::only(&locals()), &mut reply),
            Inbound::IcmpError(r) if r.error == IcmpError::from_icmpv6(1, 4, 0).unwrap()
        ));

        // A quote of a segment we did not send (source not ours).
        let mut forged = Vec::new();
        assert!(wrap_tcp(
            IpAddr::V4(PEER),
            IpAddr::V4(US),
            &tcp(1),
            &mut forged
        ));
        let pkt = icmpv4_error(frag.clone(), &forged[..28]);
        assert_eq!(
            classify(&pkt, Local::only(&locals()), &mut reply),
            Inbound::Dropped(DropReason::Icmp)
        );
        // Truncations of an error never panic.
        let pkt = icmpv4_error(port.clone(), &sent);
        for n in 0..pkt.len() {
            let _ = classify(&pkt[..n], Local::only(&locals()), &mut reply);
        }
    }
}
