//! Taking a captured frame apart down to its TCP segment: the link layer
//! (Ethernet with VLAN tags, raw IP, Linux cooked capture v1 and v2, BSD
//! loopback) by its fixed offsets here, the IP layer (IPv4 with options,
//! IPv6 with extension headers, fragments) by etherparse, the same parser
//! `vtcp-tun` reads its device with.

use std::net::IpAddr;

use etherparse::{IpNumber, IpSlice, err::ip::SliceError};
use pcap_parser::Linktype;

/// A TCP segment found in a frame, with the addresses of its IP header.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TcpInIp<'a> {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address.
    pub dst: IpAddr,
    /// The TCP segment: header and data, as long as the IP header says.
    pub tcp: &'a [u8],
}

/// What a frame holds, as far as TCP is concerned. Exhaustive, so that a
/// reader accounts for every frame.
#[derive(Debug, Clone, Copy)]
pub enum FrameContent<'a> {
    /// A TCP segment.
    Tcp(TcpInIp<'a>),
    /// Something else (ARP, UDP, a later IP fragment).
    Other(&'static str),
    /// A frame of a link type this reader does not know: what it holds
    /// cannot be told.
    UnsupportedLink(Linktype),
    /// Headers that cannot be read: cut short by the snapshot length, or
    /// inconsistent.
    Malformed(&'static str),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Takes the link and IP layers off a frame. Never panics, whatever the
/// bytes.
pub fn tcp_in_frame(linktype: Linktype, data: &[u8]) -> FrameContent<'_> {
    let by_ethertype = |ethertype: u16, rest| match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => tcp_in_ip(rest),
        _ => FrameContent::Other("not IP"),
    };
    match linktype {
        Linktype::ETHERNET => {
            let mut at = 12;
            loop {
                let Some(ethertype) = be16(data, at) else {
                    return FrameContent::Malformed("short Ethernet header");
                };
                if ETHERTYPE_VLAN.contains(&ethertype) {
                    at += 4;
                    continue;
                }
                return by_ethertype(ethertype, &data[at + 2..]);
            }
        }
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => tcp_in_ip(data),
        Linktype::LINUX_SLL => match be16(data, 14) {
            Some(proto) => by_ethertype(proto, &data[16..]),
            None => FrameContent::Malformed("short Linux cooked header"),
        },
        Linktype::LINUX_SLL2 => match (be16(data, 0), data.get(20..)) {
            (Some(proto), Some(rest)) => by_ethertype(proto, rest),
            _ => FrameContent::Malformed("short Linux cooked v2 header"),
        },
        // The family is in the capturing host's byte order for NULL and in
        // network order for LOOP; AF_INET is 2 everywhere, the IPv6 family
        // differs between systems, so the IP version tells.
        Linktype::NULL | Linktype::LOOP => match data.get(4..) {
            Some(ip) if matches!(ip.first().map(|b| b >> 4), Some(4 | 6)) => tcp_in_ip(ip),
            Some(_) => FrameContent::Other("not IP"),
            None => FrameContent::Malformed("short loopback header"),
        },
        other => FrameContent::UnsupportedLink(other),
    }
}

/// Takes the IP layer off a packet: the TCP segment inside, as long as
/// the IP header says (an Ethernet frame's padding is not part of it).
pub fn tcp_in_ip(packet: &[u8]) -> FrameContent<'_> {
    let ip = match IpSlice::from_slice(packet) {
        Ok(ip) => ip,
        Err(SliceError::Len(_)) => {
            return FrameContent::Malformed("IP packet cut short by the snapshot length");
        }
        Err(SliceError::IpHeaders(_)) => return FrameContent::Malformed("malformed IP header"),
    };
    if ip.is_fragmenting_payload() {
        return FrameContent::Other("IP fragment");
    }
    let payload = ip.payload();
    if payload.ip_number != IpNumber::TCP {
        return FrameContent::Other("not TCP");
    }
    FrameContent::Tcp(TcpInIp {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        tcp: payload.payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ipv4_tcp() -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ];
        ip.extend_from_slice(&[0u8; 20]);
        ip
    }

    #[test]
    fn strips_vlan_tags_and_checks_ip_lengths() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x81, 0x00, 0, 1, 0x08, 0x00]);
        frame.extend_from_slice(&ipv4_tcp());
        match tcp_in_frame(Linktype::ETHERNET, &frame) {
            FrameContent::Tcp(t) => {
                assert_eq!(t.src, IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)));
                assert_eq!(t.tcp.len(), 20);
            }
            other => panic!("{other:?}"),
        }
        // Ethernet padding after the IP packet is not TCP's.
        frame.extend_from_slice(&[0; 6]);
        assert!(matches!(
            tcp_in_frame(Linktype::ETHERNET, &frame),
            FrameContent::Tcp(t) if t.tcp.len() == 20
        ));
        frame.truncate(frame.len() - 7);
        assert!(matches!(
            tcp_in_frame(Linktype::ETHERNET, &frame),
            FrameContent::Malformed(_)
        ));
        assert!(matches!(
            tcp_in_frame(Linktype::ETHERNET, &[0; 13]),
            FrameContent::Malformed(_)
        ));
    }

    #[test]
    fn ipv6_extension_headers_fragments_and_other_protocols() {
        // IPv6, hop-by-hop options (8 octets) then TCP.
        let mut ip = vec![0x60, 0, 0, 0, 0, 28, 0, 64];
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        ip.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
        ip.extend_from_slice(&[0u8; 20]);
        match tcp_in_frame(Linktype::RAW, &ip) {
            FrameContent::Tcp(t) => {
                assert_eq!(t.dst, "fd00::2".parse::<IpAddr>().unwrap());
                assert_eq!(t.tcp.len(), 20);
            }
            other => panic!("{other:?}"),
        }
        // A later IPv4 fragment, and UDP.
        let mut frag = ipv4_tcp();
        frag[6] = 0x20;
        frag[7] = 0x10;
        assert!(matches!(
            tcp_in_ip(&frag),
            FrameContent::Other("IP fragment")
        ));
        let mut udp = ipv4_tcp();
        udp[9] = 17;
        assert!(matches!(tcp_in_ip(&udp), FrameContent::Other("not TCP")));
        // An IHL below five words.
        let mut bad = ipv4_tcp();
        bad[0] = 0x44;
        assert!(matches!(tcp_in_ip(&bad), FrameContent::Malformed(_)));
    }

    #[test]
    fn cooked_and_loopback_links() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ipv4_tcp());
        assert!(matches!(
            tcp_in_frame(Linktype::LINUX_SLL, &sll),
            FrameContent::Tcp(_)
        ));
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(&ipv4_tcp());
        assert!(matches!(
            tcp_in_frame(Linktype::NULL, &null),
            FrameContent::Tcp(_)
        ));
        assert!(matches!(
            tcp_in_frame(Linktype::NULL, &[2, 0, 0, 0, 0x10]),
            FrameContent::Other("not IP")
        ));
        assert!(matches!(
            tcp_in_frame(Linktype(12345), &null),
            FrameContent::UnsupportedLink(Linktype(12345))
        ));
    }
}
