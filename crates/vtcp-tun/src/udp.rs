//! UDP through the IP layer: the datagrams a device reads, taken apart for
//! a handler ([`crate::IpStack::set_udp_handler`]), and datagrams built
//! into whole UDP/IP packets to write back ([`UdpSender`]).
//!
//! The stack is TCP only; a VPN endpoint or a transparent proxy still
//! wants the UDP that comes in on its device (DNS above all). The IP
//! layer hands every well-formed, unfragmented UDP datagram, for any
//! destination, to the handler set on it, and the handler answers (or
//! not) through a [`UdpSender`], which writes through the same device
//! and counts what it writes. Parsing is etherparse's; every packet is
//! untrusted, and [`parse`] never panics and allocates nothing.

use std::net::{IpAddr, SocketAddr};

use etherparse::{IpNumber, IpSlice, PacketBuilder, UdpSlice};

use crate::ip::DropReason;
pub use sender::UdpSender;
use vtcp::DEFAULT_HOP_LIMIT;

/// One UDP datagram read from the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Datagram<'a> {
    /// Who sent it.
    pub src: SocketAddr,
    /// Where it was going (any address: the handler decides).
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// What [`parse`] makes of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A well-formed UDP datagram.
    Datagram(Datagram<'a>),
    /// Not UDP (or not a well-formed IP packet at all): the IP layer's
    /// own reason for dropping it stands.
    NotUdp,
    /// UDP, but dropped: a fragment (nothing is reassembled), a length
    /// field beyond the packet, or a checksum that does not check.
    Dropped(DropReason),
}

/// Takes a UDP datagram out of an IPv4 or IPv6 packet. Its checksum is
/// verified (RFC 768; an IPv4 datagram may carry none, a zero, and RFC
/// 8200 §8.1 makes it mandatory in IPv6) unless `trusted`: the link
/// vouched for it (a virtio-net header's NEEDS_CSUM or DATA_VALID), so it
/// may hold only the pseudo-header's sum.
pub fn parse(packet: &[u8], trusted: bool) -> Parsed<'_> {
    let Ok(ip) = IpSlice::from_slice(packet) else {
        return Parsed::NotUdp;
    };
    let payload = ip.payload();
    if payload.ip_number != IpNumber::UDP {
        return Parsed::NotUdp;
    }
    if payload.fragmented {
        return Parsed::Dropped(DropReason::Fragment);
    }
    let Ok(udp) = UdpSlice::from_slice(payload.payload) else {
        return Parsed::Dropped(DropReason::Malformed);
    };
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    if !trusted && !checksum_checks(&udp, src, dst) {
        return Parsed::Dropped(DropReason::Malformed);
    }
    Parsed::Datagram(Datagram {
        src: SocketAddr::new(src, udp.source_port()),
        dst: SocketAddr::new(dst, udp.destination_port()),
        payload: udp.payload(),
    })
}

/// Whether a datagram's checksum is right for its pseudo-header.
fn checksum_checks(udp: &UdpSlice<'_>, src: IpAddr, dst: IpAddr) -> bool {
    let stored = udp.checksum();
    let header = udp.to_header();
    let expected = match (src, dst) {
        // RFC 768: zero means the sender computed none.
        (IpAddr::V4(_), IpAddr::V4(_)) if stored == 0 => return true,
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            header.calc_checksum_ipv4_raw(s.octets(), d.octets(), udp.payload())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            header.calc_checksum_ipv6_raw(s.octets(), d.octets(), udp.payload())
        }
        _ => return false,
    };
    expected == Ok(stored)
}

/// Builds a UDP/IP packet from `src` to `dst` carrying `payload` into
/// `out` (cleared first): IPv4 (DF clear, so a router may fragment it) or
/// IPv6, hop limit [`DEFAULT_HOP_LIMIT`], the UDP checksum filled. False, with
/// `out` empty, for addresses of two families or a payload too large for
/// one datagram.
pub fn build(src: SocketAddr, dst: SocketAddr, payload: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let builder = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            PacketBuilder::ipv4(s.octets(), d.octets(), DEFAULT_HOP_LIMIT)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            PacketBuilder::ipv6(s.octets(), d.octets(), DEFAULT_HOP_LIMIT)
        }
        _ => return false,
    };
    let written = builder
        .udp(src.port(), dst.port())
        .write(out, payload)
        .is_ok();
    if !written {
        out.clear();
    }
    written
}

mod sender {
    use std::io;
    use std::net::SocketAddr;
    use std::sync::Arc;

    use crate::ipstack::{Counts, PacketOut};

    /// A handle that writes UDP datagrams to an [`crate::IpStack`]'s device
    /// ([`crate::IpStack::udp_sender`]), counted in its counters
    /// (`udp_out`, `packets_out`, `write_errors`). It does not keep the stack
    /// alive, so a UDP handler set on the stack may hold one.
    #[derive(Clone)]
    pub struct UdpSender {
        pub(crate) out: Arc<PacketOut>,
        pub(crate) counts: Arc<Counts>,
    }

    impl UdpSender {
        /// Writes one datagram from `src` to `dst` (a reply goes from the
        /// address the request was sent to). An `InvalidInput` error for
        /// addresses of two families or a payload above 65,507 octets (IPv4)
        /// or 65,527 (IPv6), the device's error if the write fails (counted
        /// in `write_errors`).
        pub fn send(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> io::Result<()> {
            crate::ipstack::with_scratch(|buf| {
                if !super::build(src, dst, payload, buf) {
                    self.counts.bump(Counts::WRITE_ERRORS);
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "a UDP datagram of {} octets from {src} to {dst} cannot be built",
                            payload.len()
                        ),
                    ));
                }
                let sent = (self.out)(buf);
                match &sent {
                    Ok(()) => {
                        self.counts.bump(Counts::OUT);
                        self.counts.bump(Counts::UDP_OUT);
                    }
                    Err(_) => self.counts.bump(Counts::WRITE_ERRORS),
                }
                sent
            })
        }
    }

    impl std::fmt::Debug for UdpSender {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("UdpSender").finish_non_exhaustive()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn built_datagrams_parse_back_in_both_families() {
        let mut out = Vec::new();
        for (src, dst) in [
            (v4("198.18.0.1:5353"), v4("198.19.0.9:53")),
            (v4("[fd00::1]:5353"), v4("[fd00:1::9]:53")),
        ] {
            assert!(build(src, dst, b"query", &mut out));
            assert_eq!(
                parse(&out, false),
                Parsed::Datagram(Datagram {
                    src,
                    dst,
                    payload: b"query"
                })
            );
        }
        // Empty payloads too.
        assert!(build(v4("198.18.0.1:1"), v4("198.18.0.2:2"), b"", &mut out));
        assert!(matches!(parse(&out, false), Parsed::Datagram(d) if d.payload.is_empty()));
        // Two families, or too much for one datagram.
        assert!(!build(
            v4("198.18.0.1:1"),
            v4("[fd00::1]:2"),
            b"x",
            &mut out
        ));
        assert!(out.is_empty());
        assert!(!build(
            v4("198.18.0.1:1"),
            v4("198.18.0.2:2"),
            &vec![0; 65_508],
            &mut out
        ));
    }

    #[test]
    fn bad_checksums_fragments_and_short_lengths_are_dropped() {
        let mut out = Vec::new();
        let (src, dst) = (v4("198.18.0.1:5353"), v4("198.19.0.9:53"));
        assert!(build(src, dst, b"query", &mut out));
        let mut bad = out.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(parse(&bad, false), Parsed::Dropped(DropReason::Malformed));
        // A link that vouches for the checksum is believed.
        assert!(matches!(parse(&bad, true), Parsed::Datagram(_)));
        // IPv4 without a checksum (zero) is taken.
        let mut none = out.clone();
        none[26..28].copy_from_slice(&[0, 0]);
        assert!(matches!(parse(&none, false), Parsed::Datagram(_)));
        // A UDP length beyond the packet.
        let mut long = out.clone();
        long[24..26].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(parse(&long, false), Parsed::Dropped(DropReason::Malformed));
        // A fragment (more fragments set; the IPv4 header checksum is
        // not this module's business).
        let mut frag = out.clone();
        frag[6] |= 0x20;
        assert_eq!(parse(&frag, false), Parsed::Dropped(DropReason::Fragment));
        // IPv6 requires a checksum: zero does not check.
        assert!(build(
            v4("[fd00::1]:5353"),
            v4("[fd00::9]:53"),
            b"q",
            &mut out
        ));
        out[46..48].copy_from_slice(&[0, 0]);
        assert_eq!(parse(&out, false), Parsed::Dropped(DropReason::Malformed));
        // TCP and garbage are not UDP; truncations never panic.
        let mut tcp = Vec::new();
        assert!(crate::ip::wrap_tcp(
            src.ip(),
            dst.ip(),
            &[0u8; 20],
            &mut tcp
        ));
        assert_eq!(parse(&tcp, false), Parsed::NotUdp);
        assert_eq!(parse(b"\x45garbage", false), Parsed::NotUdp);
        assert!(build(src, dst, b"query", &mut out));
        for n in 0..out.len() {
            let _ = parse(&out[..n], false);
        }
    }
}
