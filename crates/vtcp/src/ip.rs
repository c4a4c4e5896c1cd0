//! IP framing of the segments a stack sends: the one place that wraps a
//! TCP segment in an IPv4 or IPv6 header (with etherparse), used by
//! `vtcp-tun` to send and by the `pcap` module to capture, so that a capture
//! shows the headers that go out. With the `ip` feature.

use std::net::IpAddr;

use etherparse::{IpDscp, IpEcn, IpNumber, Ipv4Header, Ipv6Header};

use crate::IpFields;

/// Wraps a TCP segment from `src` to `dst` in IP, into `out` (cleared
/// first), with the default IP fields (hop limit [`DEFAULT_HOP_LIMIT`](crate::DEFAULT_HOP_LIMIT), traffic
/// class 0): see [`wrap_tcp_with`].
pub fn wrap_tcp(src: IpAddr, dst: IpAddr, segment: &[u8], out: &mut Vec<u8>) -> bool {
    wrap_tcp_with(src, dst, IpFields::default(), segment, out)
}

/// Wraps a TCP segment from `src` to `dst` in IP, into `out` (cleared
/// first): IPv4 with DF set (the stack's MSS and path-MTU reports size its
/// segments; RFC 6864 lets an atomic datagram's identification be 0) and
/// a header checksum, or IPv6 with no extension header; the hop limit
/// and traffic class `ip` asks for ([`DEFAULT_HOP_LIMIT`](crate::DEFAULT_HOP_LIMIT) when it sets none).
/// Returns false, with `out` empty, for a segment too large for IP or
/// addresses of two families.
pub fn wrap_tcp_with(
    src: IpAddr,
    dst: IpAddr,
    ip: IpFields,
    segment: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    if !ip_header(src, dst, ip, segment.len(), out) {
        return false;
    }
    out.extend_from_slice(segment);
    true
}

/// The IP header alone that [`wrap_tcp_with`] puts in front of a TCP
/// segment of `tcp_len` octets, into `out` (cleared first), for a caller
/// that writes the two from separate buffers (a vectored write of a
/// 64 KiB super-segment need not copy it). False, with `out` empty, as
/// `wrap_tcp_with`.
pub fn ip_header(
    src: IpAddr,
    dst: IpAddr,
    ip: IpFields,
    tcp_len: usize,
    out: &mut Vec<u8>,
) -> bool {
    let hop_limit = ip.hop_limit.unwrap_or(crate::DEFAULT_HOP_LIMIT);
    out.clear();
    let written = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let Ok(mut h) = Ipv4Header::new(
                tcp_len as u16,
                hop_limit,
                IpNumber::TCP,
                s.octets(),
                d.octets(),
            ) else {
                return false;
            };
            if tcp_len > usize::from(u16::MAX) - Ipv4Header::MIN_LEN {
                return false;
            }
            h.dont_fragment = true;
            // RFC 2474: the DSCP is the upper six bits, ECN the lower two.
            (h.dscp, h.ecn) = (
                IpDscp::try_new(ip.traffic_class >> 2).unwrap_or_default(),
                IpEcn::try_new(ip.traffic_class & 3).unwrap_or_default(),
            );
            h.header_checksum = h.calc_header_checksum();
            h.write(out).is_ok()
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let Ok(len) = u16::try_from(tcp_len) else {
                return false;
            };
            let h = Ipv6Header {
                payload_length: len,
                traffic_class: ip.traffic_class,
                next_header: IpNumber::TCP,
                hop_limit,
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
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice};

    /// The connection's hop limit and traffic class go into the header
    /// (the traffic class as DSCP and ECN in IPv4, RFC 2474, RFC 3168);
    /// without them, 64 and 0.
    #[test]
    fn the_ip_fields_asked_for_are_written() {
        let seg = [0u8; 20];
        let mut out = Vec::new();
        let asked = IpFields {
            hop_limit: Some(4),
            traffic_class: 0xe1,
        };
        let (v4, peer4): (IpAddr, IpAddr) = ([198, 18, 0, 1].into(), [198, 18, 0, 2].into());
        assert!(wrap_tcp_with(v4, peer4, asked, &seg, &mut out));
        // The second octet is the old TOS: DSCP then ECN.
        let h = Ipv4HeaderSlice::from_slice(&out).unwrap();
        assert_eq!((h.ttl(), out[1]), (4, 0xe1));
        assert_eq!(crate::wire::checksum::internet_checksum(h.slice()), 0);
        assert!(wrap_tcp(v4, peer4, &seg, &mut out));
        let h = Ipv4HeaderSlice::from_slice(&out).unwrap();
        assert_eq!((h.ttl(), out[1]), (64, 0));

        let (v6, peer6): (IpAddr, IpAddr) =
            ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        assert!(wrap_tcp_with(v6, peer6, asked, &seg, &mut out));
        let h = Ipv6HeaderSlice::from_slice(&out).unwrap();
        assert_eq!((h.hop_limit(), h.traffic_class()), (4, 0xe1));
        assert!(wrap_tcp(v6, peer6, &seg, &mut out));
        let h = Ipv6HeaderSlice::from_slice(&out).unwrap();
        assert_eq!((h.hop_limit(), h.traffic_class()), (64, 0));
    }
}
