//! Reading TCP segments out of packet captures.
//!
//! pcap (microsecond and nanosecond) and pcapng files are read with
//! `pcap-parser`; the link layer (Ethernet with VLAN tags, raw IP, Linux
//! cooked capture v1 and v2, BSD loopback) and the IP layer (IPv4, IPv6
//! with extension headers) are taken apart here, yielding each TCP segment
//! with its addresses so that its checksum can be verified.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pcap_parser::Block;
use pcap_parser::nom;
use pcap_parser::{LegacyPcapSlice, Linktype, PcapBlockOwned, PcapError, PcapNGSlice};

/// Why a capture file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The file is neither pcap nor pcapng.
    #[error("not a pcap or pcapng file (magic {magic:02x?})")]
    UnknownFormat {
        /// The first bytes of the file.
        magic: Vec<u8>,
    },
    /// The file ends inside a header or a packet.
    #[error("truncated: the file ends inside {what} after {frames} complete frames")]
    Truncated {
        /// What was cut short.
        what: &'static str,
        /// Frames read before the cut.
        frames: usize,
    },
    /// A header or block is malformed.
    #[error("malformed {what} after {frames} frames: {detail}")]
    Malformed {
        /// What was malformed.
        what: &'static str,
        /// Frames read before it.
        frames: usize,
        /// The parser's description.
        detail: String,
    },
}

/// A capture timestamp: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: u64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// One captured frame, still wrapped in its link layer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number, as Wireshark counts.
    pub number: usize,
    /// When it was captured.
    pub time: Timestamp,
    /// Its link-layer type.
    pub linktype: Linktype,
    /// The captured bytes (possibly fewer than were on the wire).
    pub data: &'a [u8],
    /// Length on the wire.
    pub orig_len: usize,
}

/// Reads every frame of a pcap or pcapng file held in memory.
pub fn read_frames(file: &[u8]) -> Result<Vec<Frame<'_>>, CaptureError> {
    match file.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(file),
        Some(m) if is_pcap_magic(m) => read_pcap(file),
        _ => Err(CaptureError::UnknownFormat {
            magic: file.iter().take(4).copied().collect(),
        }),
    }
}

fn is_pcap_magic(m: &[u8]) -> bool {
    matches!(
        m,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
    )
}

fn nom_error(err: nom::Err<PcapError<&[u8]>>, what: &'static str, frames: usize) -> CaptureError {
    match err {
        nom::Err::Incomplete(_)
        | nom::Err::Error(PcapError::Incomplete(_))
        | nom::Err::Failure(PcapError::Incomplete(_)) => CaptureError::Truncated { what, frames },
        nom::Err::Error(e) | nom::Err::Failure(e) => CaptureError::Malformed {
            what,
            frames,
            detail: format!("{e:?}"),
        },
    }
}

fn read_pcap(file: &[u8]) -> Result<Vec<Frame<'_>>, CaptureError> {
    let slice =
        LegacyPcapSlice::from_slice(file).map_err(|e| nom_error(e, "the pcap file header", 0))?;
    let linktype = slice.header.network;
    let nanosecond = slice.header.is_nanosecond_precision();
    let mut frames = Vec::new();
    for block in slice {
        let block = block.map_err(|e| nom_error(e, "a packet record", frames.len()))?;
        if let PcapBlockOwned::Legacy(b) = block {
            let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
            let frac = if nanosecond {
                b.ts_usec
            } else {
                b.ts_usec.saturating_mul(1000)
            };
            frames.push(Frame {
                number: frames.len() + 1,
                time: Timestamp {
                    secs: u64::from(b.ts_sec),
                    nanos: frac.min(999_999_999),
                },
                linktype,
                data,
                orig_len: b.origlen as usize,
            });
        }
    }
    Ok(frames)
}

/// What pcapng tells about one interface.
struct Interface {
    linktype: Linktype,
    units_per_sec: u64,
    offset_secs: i64,
}

fn read_pcapng(file: &[u8]) -> Result<Vec<Frame<'_>>, CaptureError> {
    let slice = PcapNGSlice::from_slice(file).map_err(|e| nom_error(e, "the section header", 0))?;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut frames = Vec::new();
    for block in slice {
        let block = block.map_err(|e| nom_error(e, "a pcapng block", frames.len()))?;
        let PcapBlockOwned::NG(block) = block else {
            continue;
        };
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => interfaces.push(Interface {
                linktype: idb.linktype,
                units_per_sec: pcap_parser::build_ts_resolution(idb.if_tsresol)
                    .unwrap_or(1_000_000),
                offset_secs: idb.if_tsoffset,
            }),
            Block::EnhancedPacket(epb) => {
                let iface =
                    interfaces
                        .get(epb.if_id as usize)
                        .ok_or_else(|| CaptureError::Malformed {
                            what: "an enhanced packet block",
                            frames: frames.len(),
                            detail: format!("interface {} was never described", epb.if_id),
                        })?;
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let secs = (ticks / iface.units_per_sec).saturating_add_signed(iface.offset_secs);
                let frac = ticks % iface.units_per_sec;
                let nanos =
                    (u128::from(frac) * 1_000_000_000 / u128::from(iface.units_per_sec)) as u32;
                let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data);
                frames.push(Frame {
                    number: frames.len() + 1,
                    time: Timestamp { secs, nanos },
                    linktype: iface.linktype,
                    data,
                    orig_len: epb.origlen as usize,
                });
            }
            Block::SimplePacket(spb) => {
                let linktype = interfaces
                    .first()
                    .map_or(Linktype::ETHERNET, |i| i.linktype);
                frames.push(Frame {
                    number: frames.len() + 1,
                    time: Timestamp::default(),
                    linktype,
                    data: spb.data.get(..spb.origlen as usize).unwrap_or(spb.data),
                    orig_len: spb.origlen as usize,
                });
            }
            _ => {}
        }
    }
    Ok(frames)
}

/// A TCP segment found in a frame, with the addresses of its IP header.
#[derive(Debug, Clone, Copy)]
pub struct TcpInIp<'a> {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address.
    pub dst: IpAddr,
    /// The TCP segment: header and data, as long as the IP header says.
    pub tcp: &'a [u8],
}

/// What a frame holds, as far as TCP is concerned.
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

/// Takes the link and IP layers off a frame.
pub fn tcp_in_frame<'a>(linktype: Linktype, data: &'a [u8]) -> FrameContent<'a> {
    let by_ethertype = |ethertype: u16, rest: &'a [u8]| match ethertype {
        ETHERTYPE_IPV4 => ipv4(rest),
        ETHERTYPE_IPV6 => ipv6(rest),
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
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => match data.first().map(|b| b >> 4) {
            Some(4) => ipv4(data),
            Some(6) => ipv6(data),
            _ => FrameContent::Malformed("raw IP frame of unknown version"),
        },
        Linktype::LINUX_SLL => match be16(data, 14) {
            Some(proto) => by_ethertype(proto, &data[16..]),
            None => FrameContent::Malformed("short Linux cooked header"),
        },
        Linktype::LINUX_SLL2 => match (be16(data, 0), data.get(20..)) {
            (Some(proto), Some(rest)) => by_ethertype(proto, rest),
            _ => FrameContent::Malformed("short Linux cooked v2 header"),
        },
        Linktype::NULL | Linktype::LOOP => match data.get(..4) {
            // The family is in the capturing host's byte order for NULL
            // and in network order for LOOP; AF_INET is 2 everywhere, the
            // IPv6 family differs between systems, so look at the version.
            Some(_) => match data.get(4).map(|b| b >> 4) {
                Some(4) => ipv4(&data[4..]),
                Some(6) => ipv6(&data[4..]),
                _ => FrameContent::Other("not IP"),
            },
            None => FrameContent::Malformed("short loopback header"),
        },
        other => FrameContent::UnsupportedLink(other),
    }
}

fn ipv4(ip: &[u8]) -> FrameContent<'_> {
    if ip.len() < 20 {
        return FrameContent::Malformed("short IPv4 header");
    }
    if ip[0] >> 4 != 4 {
        return FrameContent::Malformed("IPv4 header with another version");
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if ihl < 20 || total < ihl {
        return FrameContent::Malformed("inconsistent IPv4 lengths");
    }
    if ip.len() < total {
        return FrameContent::Malformed("IPv4 packet cut short by the snapshot length");
    }
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if frag & 0x3fff != 0 {
        return FrameContent::Other("IPv4 fragment");
    }
    if ip[9] != 6 {
        return FrameContent::Other("not TCP");
    }
    FrameContent::Tcp(TcpInIp {
        src: IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
        dst: IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
        tcp: &ip[ihl..total],
    })
}

fn ipv6(ip: &[u8]) -> FrameContent<'_> {
    if ip.len() < 40 {
        return FrameContent::Malformed("short IPv6 header");
    }
    let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let Some(packet) = ip.get(..40 + payload_len) else {
        return FrameContent::Malformed("IPv6 packet cut short by the snapshot length");
    };
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&packet[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(a))
    };
    let mut next = packet[6];
    let mut at = 40;
    // RFC 8200 §4: walk the extension headers to the upper layer.
    loop {
        match next {
            6 => {
                return FrameContent::Tcp(TcpInIp {
                    src: addr(8),
                    dst: addr(24),
                    tcp: &packet[at..],
                });
            }
            0 | 43 | 60 => {
                let (Some(&n), Some(&len)) = (packet.get(at), packet.get(at + 1)) else {
                    return FrameContent::Malformed("short IPv6 extension header");
                };
                next = n;
                at += (usize::from(len) + 1) * 8;
            }
            44 => {
                let (Some(&n), Some(off)) = (packet.get(at), be16(packet, at + 2)) else {
                    return FrameContent::Malformed("short IPv6 fragment header");
                };
                if off & 0xfff9 != 0 {
                    return FrameContent::Other("IPv6 fragment");
                }
                next = n;
                at += 8;
            }
            _ => return FrameContent::Other("not TCP"),
        }
        if at > packet.len() {
            return FrameContent::Malformed("IPv6 extension headers run past the packet");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_and_truncated_files() {
        assert!(matches!(
            read_frames(b"hello"),
            Err(CaptureError::UnknownFormat { .. })
        ));
        assert!(matches!(
            read_frames(b""),
            Err(CaptureError::UnknownFormat { .. })
        ));
        let header = [
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ];
        assert_eq!(read_frames(&header).map(|f| f.len()), Ok(0));
        let mut cut = header.to_vec();
        cut.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 60, 0, 0, 0, 1, 2, 3]);
        assert!(matches!(
            read_frames(&cut),
            Err(CaptureError::Truncated { frames: 0, .. })
        ));
        assert!(matches!(
            read_frames(&header[..10]),
            Err(CaptureError::Truncated { .. })
        ));
    }

    #[test]
    fn strips_vlan_tags_and_checks_ip_lengths() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x81, 0x00, 0, 1, 0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
        ];
        ip.extend_from_slice(&[0u8; 20]);
        frame.extend_from_slice(&ip);
        match tcp_in_frame(Linktype::ETHERNET, &frame) {
            FrameContent::Tcp(t) => {
                assert_eq!(t.src, IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)));
                assert_eq!(t.tcp.len(), 20);
            }
            other => panic!("{other:?}"),
        }
        frame.truncate(frame.len() - 1);
        assert!(matches!(
            tcp_in_frame(Linktype::ETHERNET, &frame),
            FrameContent::Malformed(_)
        ));
        assert!(matches!(
            tcp_in_frame(Linktype::ETHERNET, &[0; 13]),
            FrameContent::Malformed(_)
        ));
    }
}
