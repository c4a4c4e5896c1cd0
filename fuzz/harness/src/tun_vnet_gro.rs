//! A batch of packets as a TUN device hands them over, with or without
//! virtio-net headers, through the header parser and the receive
//! coalescer: never a panic; a header parsed emits the same octets; the
//! coalescer hands on every input exactly once, each flow's payload
//! octets in their order, merged segments within an IP packet's 65,535
//! octets, no more octets than came in, and a merged segment of parts
//! verified here has a right checksum. A packet the IP layer drops as
//! another protocol or not ours goes to the UDP parser, as the driver
//! offers it to a UDP handler: a datagram found builds back into a
//! packet that parses to the same datagram.
//!
//! Packets are either raw octets or TCP segments built from a few
//! fields (four flows in two families, mostly in order, checksums right
//! unless asked otherwise), so that merging is reached.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Verdict;
use arbitrary::Arbitrary;
use vtcp_tun::gro::{Gro, GroInput, MAX_MERGED_PACKET};
use vtcp_tun::ip::{self, DropReason, Inbound, Local};
use vtcp_tun::udp;
use vtcp_tun::vnet::{self, VNET_HDR_LEN, VnetHeader};
use vtcp_wire::checksum::{PseudoHeader, fill_tcp_checksum, fold, ones_complement_sum};

const US: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const US6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));
const PEER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));

#[derive(Arbitrary, Debug)]
enum Header {
    /// Ten arbitrary octets.
    Raw([u8; VNET_HDR_LEN]),
    /// A header built from fields (flags, GSO type, sizes).
    Fields(u8, u8, u16, u16, u16, u16),
    /// A plain header that asks for nothing.
    None,
}

#[derive(Arbitrary, Debug)]
enum Packet {
    Raw(Vec<u8>),
    Segment {
        flow: u8,
        /// Sequence number: `None` the flow's next, else that far off.
        seq_off: Option<i8>,
        /// Payload length: 1000 octets below 200, else `8 × size`.
        size: u8,
        /// Bits, applied only when the top one is set: flags from
        /// `flags`, another ACK, window, timestamp, TOS, a bad checksum.
        quirks: u8,
        flags: u8,
        timestamps: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    packets: Vec<(Header, Packet)>,
    vnet: bool,
}

/// A TCP segment of `flow` wrapped in IP.
fn build(p: &Packet, next: &mut HashMap<u8, u32>) -> Vec<u8> {
    let Packet::Segment {
        flow,
        seq_off,
        size,
        quirks,
        flags,
        timestamps,
    } = *p
    else {
        unreachable!()
    };
    let q = |bit: u8| quirks & 0x80 != 0 && quirks & (1 << bit) != 0;
    let flow = flow % 4;
    let (src, dst) = if flow >= 2 { (PEER6, US6) } else { (PEER, US) };
    let seq = next
        .entry(flow)
        .or_insert(1000)
        .wrapping_add_signed(i32::from(seq_off.unwrap_or(0)));
    let len = if size < 200 {
        1000
    } else {
        usize::from(size) * 8 % 3000
    };
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&(40000 + u16::from(flow % 2)).to_be_bytes());
    t[2..4].copy_from_slice(&7u16.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&(5000 + u32::from(q(1))).to_be_bytes());
    t[13] = if q(0) { flags } else { 0x10 | (flags & 0x08) };
    t[14..16].copy_from_slice(&(512 + u16::from(q(2))).to_be_bytes());
    if timestamps {
        t.extend_from_slice(&[1, 1, 8, 10]);
        t.extend_from_slice(&u32::from(q(3)).to_be_bytes());
        t.extend_from_slice(&[0; 4]);
    }
    t[12] = ((t.len() / 4) as u8) << 4;
    t.extend((0..len).map(|i| (seq as usize + i) as u8));
    fill_tcp_checksum(&PseudoHeader::new(src, dst).unwrap(), &mut t);
    if q(5) {
        t[16] ^= 1;
    }
    next.insert(flow, seq.wrapping_add(len as u32));
    let mut fields = vtcp::IpFields::default();
    fields.traffic_class = u8::from(q(4));
    let mut out = Vec::new();
    if !ip::wrap_tcp_with(src, dst, fields, &t, &mut out) {
        out = t;
    }
    out
}

/// The TCP header length, as the coalescer reads it.
fn header_len(seg: &[u8]) -> Option<usize> {
    let len = usize::from(seg.get(12)? >> 4) * 4;
    (len >= 20 && len <= seg.len()).then_some(len)
}

/// A segment's flow, and the octets the invariant follows: the payload of
/// a TCP segment, the whole of anything else.
/// Addresses and ports (for TCP).
type Flow = (IpAddr, IpAddr, Option<[u8; 4]>);

fn flow_and_data(src: IpAddr, dst: IpAddr, seg: &[u8]) -> (Flow, &[u8]) {
    match header_len(seg) {
        Some(h) => (
            (src, dst, Some([seg[0], seg[1], seg[2], seg[3]])),
            &seg[h..],
        ),
        None => ((src, dst, None), seg),
    }
}

fn sums_right(src: IpAddr, dst: IpAddr, seg: &[u8]) -> bool {
    let Some(p) = PseudoHeader::new(src, dst) else {
        return false;
    };
    fold(u64::from(p.sum(seg.len())) + u64::from(ones_complement_sum(seg))) == 0xffff
}

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: Input| {
        let mut next = HashMap::new();
        let mut framed: Vec<Vec<u8>> = Vec::new();
        for (header, packet) in input.packets.iter().take(256) {
            let ip = match packet {
                Packet::Raw(b) => b.clone(),
                p => build(p, &mut next),
            };
            if !input.vnet {
                framed.push(ip);
                continue;
            }
            let h = match *header {
                Header::Raw(b) => b,
                Header::Fields(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset) => {
                    VnetHeader {
                        flags: flags % 4,
                        gso_type: gso_type % 6,
                        hdr_len: hdr_len % 128,
                        gso_size: gso_size % 3000,
                        csum_start: csum_start % 128,
                        csum_offset: csum_offset % 32,
                    }
                    .emit()
                }
                Header::None => [0; VNET_HDR_LEN],
            };
            let mut f = h.to_vec();
            f.extend_from_slice(&ip);
            framed.push(f);
        }

        // The device's side: headers parsed, refusals dropped.
        let mut packets: Vec<(&[u8], bool)> = Vec::new();
        for f in &framed {
            if !input.vnet {
                packets.push((f, false));
                continue;
            }
            if let Ok((h, p)) = vnet::parse(f) {
                assert_eq!(h.emit()[..], f[..VNET_HDR_LEN]);
                assert!(
                    h.partial_checksum()
                        .is_none_or(|(s, o)| s + o + 2 <= p.len())
                );
                packets.push((p, h.checksum_trusted()));
            }
        }

        // The IP layer's: TCP segments for us, as the driver finds them.
        let ours = [US, US6];
        let mut reply = Vec::new();
        let mut segments: Vec<GroInput<'_>> = Vec::new();
        for &(p, trusted) in &packets {
            match ip::classify(p, Local::only(&ours), &mut reply) {
                Inbound::Tcp { src, dst, segment } => {
                    segments.push(GroInput::in_packet(p, src, dst, segment, trusted));
                }
                Inbound::Dropped(DropReason::Protocol | DropReason::NotOurs) => {
                    if let udp::Parsed::Datagram(d) = udp::parse(p, trusted) {
                        let mut again = Vec::new();
                        if udp::build(d.src, d.dst, d.payload, &mut again) {
                            assert_eq!(udp::parse(&again, false), udp::Parsed::Datagram(d));
                        }
                    }
                }
                _ => {}
            }
        }

        let mut gro = Gro::new();
        for _ in 0..2 {
            let batch = gro.coalesce(&segments);
            let out: Vec<_> = batch.segments().collect();
            assert_eq!(
                out.iter().map(|o| o.segments).sum::<usize>(),
                segments.len()
            );
            assert_eq!(batch.merged(), segments.len() - out.len());
            // Each flow's octets, in order, in and out.
            let mut want: HashMap<_, Vec<u8>> = HashMap::new();
            for s in &segments {
                let (flow, data) = flow_and_data(s.src, s.dst, s.segment);
                want.entry(flow).or_default().extend_from_slice(data);
            }
            let mut got: HashMap<_, Vec<u8>> = HashMap::new();
            let bytes_in: usize = segments.iter().map(|s| s.segment.len()).sum();
            let bytes_out: usize = out.iter().map(|o| o.segment.len()).sum();
            assert!(bytes_out <= bytes_in);
            for o in &out {
                let (flow, data) = flow_and_data(o.src, o.dst, o.segment);
                got.entry(flow).or_default().extend_from_slice(data);
                if o.segments > 1 {
                    assert!(o.segment.len() + 20 <= MAX_MERGED_PACKET);
                    assert_eq!(o.checksum, vtcp::Checksum::Verified);
                    // Parts summed here give a complete checksum.
                    let trusted = segments.iter().any(|s| s.checksum_trusted);
                    if !trusted {
                        assert!(sums_right(o.src, o.dst, o.segment));
                    }
                }
            }
            assert_eq!(want, got);
        }
    })
}
