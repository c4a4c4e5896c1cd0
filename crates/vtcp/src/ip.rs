//! IP framing of the segments a stack sends: the one place that wraps a
//! TCP segment in an IPv4 or IPv6 header (with etherparse), used by
//! `vtcp-tun` to send and by the `pcap` module to capture, so that a capture
//! shows the headers that go out. With the `ip` feature.

use std::net::IpAddr;

use etherparse::{IpNumber, Ipv4Header, Ipv6Header};

/// The hop limit (IPv4 TTL) of what we send: Linux's default (RFC 1700's
/// recommended 64).
pub const HOP_LIMIT: u8 = 64;

/// Wraps a TCP segment from `src` to `dst` in IP, into `out` (cleared
/// first): IPv4 with DF set (the stack's MSS and path-MTU reports size its
/// segments; RFC 6864 lets an atomic datagram's identification be 0) and
/// a header checksum, or IPv6 with no extension header; hop limit
/// [`HOP_LIMIT`]. Returns false, with `out` empty, for a segment too large
/// for IP or addresses of two families.
pub fn wrap_tcp(src: IpAddr, dst: IpAddr, segment: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let written = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let Ok(mut h) = Ipv4Header::new(
                segment.len() as u16,
                HOP_LIMIT,
                IpNumber::TCP,
                s.octets(),
                d.octets(),
            ) else {
                return false;
            };
            if segment.len() > usize::from(u16::MAX) - Ipv4Header::MIN_LEN {
                return false;
            }
            h.dont_fragment = true;
            h.header_checksum = h.calc_header_checksum();
            h.write(out).is_ok()
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let Ok(len) = u16::try_from(segment.len()) else {
                return false;
            };
            let h = Ipv6Header {
                payload_length: len,
                next_header: IpNumber::TCP,
                hop_limit: HOP_LIMIT,
                source: s.octets(),
                destination: d.octets(),
                ..Ipv6Header::default()
            };
            h.write(out).is_ok()
        }
        _ => false,
    };
    if !written {
        out.clear();
        return false;
    }
    out.extend_from_slice(segment);
    true
}
