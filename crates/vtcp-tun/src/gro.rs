//! Receive coalescing (GRO): in a batch of TCP segments read from a
//! device, consecutive in-order segments of one flow are merged into one
//! before the stack sees them, so that a connection takes a batch's data
//! in one step and makes one ACK decision for it, as Linux's GRO does
//! for a NIC's batch (`tcp_gro_receive` in `net/ipv4/tcp_offload.c`) and
//! wireguard-go does for its TUN device (`tcpGRO` in `tun/offload_linux.go`).
//!
//! # Rules
//!
//! A segment is merged into its flow's latest item of the batch only if
//! nothing of what the receiver acts on differs but the payload, so that
//! the stack's view of the merged segment is that of the segments one
//! after the other (Linux's conditions in `tcp_gro_receive`, where they
//! are the `flush` cases):
//!
//! - same IP version and 4-tuple (the flow);
//! - the IP fields that matter equal: IPv4's TOS (ECN included, so a CE
//!   mark is never merged away) and DF; IPv6's traffic class and flow
//!   label. TTL and hop limit may differ (`inet_gro_receive` compares
//!   them; nothing here uses them);
//! - its sequence number is the item's end (in order, no gap, no
//!   overlap);
//! - the same acknowledgment number and window (a window update or a new
//!   ACK must reach the sender's logic as its own event, RFC 9293
//!   §3.10.7.4), and the same TCP options octets (so the same
//!   timestamps: PAWS and RTT measurement see one value, RFC 7323);
//! - flags ACK only, with PSH allowed on the last segment merged, which
//!   closes the item (PSH asks for delivery now); SYN, FIN, RST, URG, CWR,
//!   ECE never merge (each is an event of its own; Linux's `TCP_FLAG_CWR`
//!   and flag-difference flushes);
//! - a non-empty payload no larger than the item's first segment's (its
//!   "gso size"); a shorter one is merged and closes the item (it ends a
//!   burst, as Linux's `len < mss` flush);
//! - the merged segment's IP packet stays within 65,535 octets (IPv4's
//!   total length, and IPv6's payload length without jumbograms), so
//!   that it can be written to a capture as one packet;
//! - the segment's checksum is right: verified here (the stack is then
//!   spared doing it again) or vouched for by the kernel (a virtio-net
//!   header's NEEDS_CSUM on a packet it made itself, or DATA_VALID). A
//!   segment whose checksum is wrong is handed on alone, unverified, so
//!   that the stack drops and counts it as before.
//!
//! Only a flow's latest item is merged into, so no segment overtakes
//! another of its flow; items of different flows keep their order
//! within each flow (a flow's item stands where its first segment did).
//!
//! # The merged segment
//!
//! The first segment's TCP header (with PSH when the last one had it)
//! and every payload in order, built in an arena reused from batch to
//! batch (no allocation per segment once it has grown to a batch). Its
//! checksum field is complete when every part was verified here (the
//! sums of the parts, combined as RFC 1071 §2 allows: no second pass);
//! otherwise it holds the pseudo-header's sum, as Linux's
//! `tcp_gro_complete` leaves it (CHECKSUM_PARTIAL). Either way it is
//! handed on as [`Checksum::Verified`].

use std::net::IpAddr;

use vtcp::Checksum;
use vtcp::wire::checksum::{CHECKSUM_OFFSET, PseudoHeader, fold, ones_complement_sum};

/// The largest IP packet a merged segment may make: IPv4's total length
/// limit (RFC 791), and IPv6's payload length without jumbograms.
pub const MAX_MERGED_PACKET: usize = 65_535;

/// TCP's flags octet (RFC 9293 §3.1; RFC 3168 §6.1 for CWR and ECE):
/// a segment merges only with ACK, or ACK and PSH.
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One TCP segment of a batch, as the IP layer took it out of its packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroInput<'a> {
    /// The sender.
    pub src: IpAddr,
    /// The destination.
    pub dst: IpAddr,
    /// The TCP header and payload.
    pub segment: &'a [u8],
    /// The octets of IP header (extension headers included) in front of
    /// the segment: the merged packet's size limit counts them.
    pub ip_header_len: usize,
    /// The IP fields that must be equal for two segments to merge
    /// ([`ip_class`]).
    pub ip_class: u32,
    /// The link vouches for the checksum (a virtio-net header's
    /// NEEDS_CSUM or DATA_VALID, or a stack that verifies none): it is
    /// not summed here.
    pub checksum_trusted: bool,
}

impl<'a> GroInput<'a> {
    /// The input for `segment`, which lies inside `packet` (an IPv4 or
    /// IPv6 packet whose TCP segment it is, as [`crate::ip::classify`]
    /// found it): the IP header's length and [`ip_class`] are read from
    /// the packet.
    pub fn in_packet(
        packet: &[u8],
        src: IpAddr,
        dst: IpAddr,
        segment: &'a [u8],
        checksum_trusted: bool,
    ) -> Self {
        let offset = (segment.as_ptr() as usize).wrapping_sub(packet.as_ptr() as usize);
        debug_assert!(offset <= packet.len(), "the segment lies in its packet");
        Self {
            src,
            dst,
            segment,
            ip_header_len: offset.min(packet.len()),
            ip_class: ip_class(packet),
            checksum_trusted,
        }
    }
}

/// The IP fields of `packet` that two segments must share to be merged:
/// IPv4's TOS octet and DF bit, IPv6's traffic class and flow label (0
/// for anything else). TTL and hop limit are left out.
pub fn ip_class(packet: &[u8]) -> u32 {
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => (u32::from(packet[1]) << 8) | u32::from(packet[6] & 0x40),
        Some(6) if packet.len() >= 4 => {
            u32::from_be_bytes([packet[0], packet[1], packet[2], packet[3]]) & 0x0fff_ffff
        }
        _ => 0,
    }
}

/// One segment handed on to the stack: an input as it was, or several
/// merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroOutput<'a> {
    /// The sender.
    pub src: IpAddr,
    /// The destination.
    pub dst: IpAddr,
    /// The TCP header and payload.
    pub segment: &'a [u8],
    /// Whether the stack must still verify the checksum.
    pub checksum: Checksum,
    /// How many input segments it holds (1 when not merged).
    pub segments: usize,
    /// Its IP header's ECN field (RFC 3168 §5), for the stack
    /// ([`vtcp::Stack::handle_packet_ecn`]): the same in every segment
    /// merged, which share their traffic class ([`ip_class`]).
    pub ecn: vtcp::EcnCodepoint,
}

/// The ECN field in an [`ip_class`] of a packet from `src`: the low bits
/// of IPv4's TOS octet or of IPv6's traffic class.
fn ecn_of_class(ip_class: u32, src: IpAddr) -> vtcp::EcnCodepoint {
    let traffic_class = match src {
        IpAddr::V4(_) => ip_class >> 8,
        IpAddr::V6(_) => ip_class >> 20,
    };
    vtcp::EcnCodepoint::from_traffic_class(traffic_class as u8)
}

/// What the coalescer learned of one input segment.
#[derive(Clone, Copy, Debug)]
struct Seg {
    /// TCP header length (data offset × 4); 0 when not a TCP header.
    header: usize,
    /// The payload's ones'-complement sum (not complemented), when the
    /// checksum was verified here.
    payload_sum: Option<u16>,
    /// Verified here or trusted.
    good: bool,
    /// The next input merged into the same item ([`NONE`] for none).
    next: u32,
}

const NONE: u32 = u32::MAX;

/// One segment to hand on: an input alone, or several merged.
#[derive(Clone, Copy, Debug)]
struct Item {
    src: IpAddr,
    dst: IpAddr,
    ports: u32,
    ip_class: u32,
    /// The first input and the last.
    first: u32,
    last: u32,
    /// How many inputs.
    count: u32,
    /// Sequence number after the last payload octet.
    end: u32,
    /// The payload octets so far.
    len: usize,
    /// The first segment's payload length: every one but the last has
    /// it.
    gso: usize,
    /// The IP and TCP headers' octets: the limit counts them.
    headers: usize,
    /// More may be merged in.
    open: bool,
    /// Where the merged segment lies in the arena (when `count > 1`).
    span: (usize, usize),
}

/// The coalescer: give it a batch ([`Gro::coalesce`]), take the segments
/// to hand on. Its buffers are kept from batch to batch.
///
/// Cost: each segment is summed once (unless trusted) and its flow's
/// latest item looked for among the batch's items from the last one
/// back, which is quick for the few flows of a device's batch and
/// quadratic at worst in the batch's length (the driver's batches hold
/// at most `READ_BATCH`, 64, packets).
#[derive(Debug, Default)]
pub struct Gro {
    segs: Vec<Seg>,
    items: Vec<Item>,
    arena: Vec<u8>,
}

/// A batch coalesced: its segments to hand on, in order, and how many
/// inputs were merged into another.
#[derive(Debug)]
pub struct Coalesced<'s> {
    gro: &'s Gro,
    input: &'s [GroInput<'s>],
}

impl Gro {
    /// An empty coalescer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Coalesces a batch. The result borrows the inputs (what is handed
    /// on unmerged) and this coalescer's arena (what is merged).
    pub fn coalesce<'s>(&'s mut self, input: &'s [GroInput<'s>]) -> Coalesced<'s> {
        self.segs.clear();
        self.items.clear();
        self.arena.clear();
        for (i, s) in input.iter().enumerate() {
            match u32::try_from(i) {
                Ok(i) if i != NONE => self.push(input, i),
                // Past 2^32 segments: the rest alone.
                _ => self.alone(s, NONE),
            }
        }
        self.build(input);
        Coalesced { gro: self, input }
    }

    /// Takes input `i` of `input`: merges it into its flow's latest
    /// item, or starts an item of its own.
    fn push(&mut self, input: &[GroInput<'_>], i: u32) {
        let s = &input[i as usize];
        let seg = s.segment;
        let Some(h) = tcp_header(seg) else {
            // Not TCP as far as this goes: the stack decides.
            self.alone(s, i);
            return;
        };
        let (payload_sum, good) = if s.checksum_trusted {
            (None, true)
        } else if let Some(pseudo) = PseudoHeader::new(s.src, s.dst) {
            // The header and the payload summed apart (the header's
            // length is a multiple of four: the payload starts at an even
            // offset), so that a merged segment's checksum is their sum.
            let hs = ones_complement_sum(&seg[..h.len]);
            let ps = ones_complement_sum(&seg[h.len..]);
            let good = add(add(pseudo.sum(seg.len()), hs), ps) == 0xffff;
            (Some(ps).filter(|_| good), good)
        } else {
            (None, false)
        };
        self.segs.push(Seg {
            header: h.len,
            payload_sum,
            good,
            next: NONE,
        });
        let payload = seg.len() - h.len;
        let mergeable = good && payload > 0 && (h.flags == ACK || h.flags == ACK | PSH);
        let ports = u32::from_be_bytes([seg[0], seg[1], seg[2], seg[3]]);
        // The flow's latest item, if it may take this segment.
        let latest = self
            .items
            .iter_mut()
            .rev()
            .find(|it| it.ports == ports && it.src == s.src && it.dst == s.dst);
        if mergeable
            && let Some(it) = latest
            && it.open
            && it.ip_class == s.ip_class
            && it.end == h.seq
            && payload <= it.gso
            && it.headers + it.len + payload <= MAX_MERGED_PACKET
            && same_but_seq(input[it.first as usize].segment, seg, h.len)
        {
            self.segs[it.last as usize].next = i;
            it.last = i;
            it.count += 1;
            it.end = h.seq.wrapping_add(payload as u32);
            it.len += payload;
            if h.flags & PSH != 0 || payload < it.gso {
                it.open = false;
            }
            return;
        }
        self.items.push(Item {
            src: s.src,
            dst: s.dst,
            ports,
            ip_class: s.ip_class,
            first: i,
            last: i,
            count: 1,
            end: h.seq.wrapping_add(payload as u32),
            len: payload,
            gso: payload,
            headers: s.ip_header_len + h.len,
            open: mergeable && h.flags & PSH == 0,
            span: (0, 0),
        });
    }

    /// An input handed on alone: not TCP as far as the coalescer can tell,
    /// so not verified either.
    fn alone(&mut self, s: &GroInput<'_>, i: u32) {
        if i != NONE {
            self.segs.push(Seg {
                header: 0,
                payload_sum: None,
                good: s.checksum_trusted,
                next: NONE,
            });
        }
        self.items.push(Item {
            src: s.src,
            dst: s.dst,
            ports: u32::MAX,
            ip_class: s.ip_class,
            first: i,
            last: i,
            count: 1,
            end: 0,
            len: 0,
            gso: 0,
            headers: 0,
            open: false,
            span: (0, 0),
        });
    }

    /// Writes each merged item into the arena.
    fn build(&mut self, input: &[GroInput<'_>]) {
        for it in &mut self.items {
            if it.count < 2 {
                continue;
            }
            let first = &input[it.first as usize];
            let header = self.segs[it.first as usize].header;
            let start = self.arena.len();
            self.arena.extend_from_slice(&first.segment[..header]);
            let mut payload_sum: Option<u64> = Some(0);
            let mut odd = false;
            let mut psh = false;
            let mut i = it.first;
            while i != NONE {
                let seg = &self.segs[i as usize];
                let bytes = &input[i as usize].segment[seg.header..];
                psh = bytes_flags(input[i as usize].segment) & PSH != 0;
                payload_sum = payload_sum.zip(seg.payload_sum).map(|(acc, s)| {
                    // RFC 1071 §2(B): a part that starts at an odd offset
                    // adds its sum byte-swapped.
                    acc + u64::from(if odd { s.swap_bytes() } else { s })
                });
                odd ^= bytes.len() % 2 == 1;
                self.arena.extend_from_slice(bytes);
                i = seg.next;
            }
            let end = self.arena.len();
            let merged = &mut self.arena[start..end];
            debug_assert_eq!(merged.len(), header + it.len);
            if psh {
                merged[13] |= PSH;
            }
            merged[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2].fill(0);
            let pseudo = PseudoHeader::new(it.src, it.dst).map_or(0, |p| p.sum(merged.len()));
            let field = match payload_sum {
                Some(ps) => {
                    let sum = add(
                        add(pseudo, ones_complement_sum(&merged[..header])),
                        fold(ps),
                    );
                    !sum
                }
                None => pseudo,
            };
            merged[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2].copy_from_slice(&field.to_be_bytes());
            it.span = (start, end);
        }
    }
}

impl<'s> Coalesced<'s> {
    /// How many input segments were merged into another (the inputs less
    /// the segments handed on).
    pub fn merged(&self) -> usize {
        self.input.len() - self.gro.items.len()
    }

    /// The segments to hand on, in order.
    pub fn segments(&self) -> impl Iterator<Item = GroOutput<'s>> + 's {
        let (gro, input) = (self.gro, self.input);
        gro.items.iter().map(move |it| {
            let first = &input[it.first as usize];
            let good = gro.segs.get(it.first as usize).is_some_and(|s| s.good);
            GroOutput {
                src: it.src,
                dst: it.dst,
                segment: if it.count > 1 {
                    &gro.arena[it.span.0..it.span.1]
                } else {
                    first.segment
                },
                checksum: if good {
                    Checksum::Verified
                } else {
                    Checksum::Unchecked
                },
                segments: it.count as usize,
                ecn: ecn_of_class(it.ip_class, it.src),
            }
        })
    }
}

/// The fields of a TCP header the rules look at.
struct Header {
    len: usize,
    seq: u32,
    flags: u8,
}

/// The TCP header of `seg`, if it has a well-formed one (RFC 9293 §3.1:
/// a data offset of 5 to 15 words, inside the segment).
fn tcp_header(seg: &[u8]) -> Option<Header> {
    let fixed = seg.get(..20)?;
    let len = usize::from(fixed[12] >> 4) * 4;
    if len < 20 || len > seg.len() {
        return None;
    }
    Some(Header {
        len,
        seq: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        flags: fixed[13],
    })
}

/// `seg` (whose header is `header` octets) has the same acknowledgment
/// number, data offset (and reserved bits), window, urgent pointer and
/// options octets as `first` (whose header is well formed: it started an
/// item): everything but the sequence number, the flags and the checksum.
fn same_but_seq(first: &[u8], seg: &[u8], header: usize) -> bool {
    first.len() >= header
        && first[8..13] == seg[8..13]
        && first[14..16] == seg[14..16]
        && first[18..header] == seg[18..header]
}

fn bytes_flags(seg: &[u8]) -> u8 {
    seg.get(13).copied().unwrap_or(0)
}

fn add(a: u16, b: u16) -> u16 {
    fold(u64::from(a) + u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use vtcp::IpFields;
    use vtcp::wire::checksum::{fill_tcp_checksum, verify_tcp_checksum};

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    const US: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    const PEER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
    const US6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));
    const ACK_PSH: u8 = ACK | PSH;
    /// A timestamps option (with two NOPs), as Linux sends on data.
    const TS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];

    /// A TCP segment from port 40000 to 7 with a right checksum.
    #[derive(Clone)]
    struct Seg {
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        seq: u32,
        ack: u32,
        window: u16,
        flags: u8,
        options: Vec<u8>,
        payload: Vec<u8>,
        tos: u8,
        ttl: u8,
    }

    fn seg(seq: u32, len: usize) -> Seg {
        Seg {
            src: PEER,
            dst: US,
            sport: 40000,
            seq,
            ack: 5000,
            window: 512,
            flags: ACK,
            options: TS.to_vec(),
            payload: (0..len).map(|i| (seq as usize + i) as u8).collect(),
            tos: 0,
            ttl: 64,
        }
    }

    impl Seg {
        fn tcp(&self) -> Vec<u8> {
            let header = 20 + self.options.len();
            let mut t = vec![0u8; header];
            t[0..2].copy_from_slice(&self.sport.to_be_bytes());
            t[2..4].copy_from_slice(&7u16.to_be_bytes());
            t[4..8].copy_from_slice(&self.seq.to_be_bytes());
            t[8..12].copy_from_slice(&self.ack.to_be_bytes());
            t[12] = ((header / 4) as u8) << 4;
            t[13] = self.flags;
            t[14..16].copy_from_slice(&self.window.to_be_bytes());
            t[20..].copy_from_slice(&self.options);
            t.extend_from_slice(&self.payload);
            fill_tcp_checksum(&PseudoHeader::new(self.src, self.dst).unwrap(), &mut t).unwrap();
            t
        }

        /// The whole IP packet.
        fn packet(&self) -> Vec<u8> {
            let mut p = Vec::new();
            let mut fields = IpFields::default();
            fields.hop_limit = Some(self.ttl);
            fields.traffic_class = self.tos;
            assert!(crate::ip::wrap_tcp_with(
                self.src,
                self.dst,
                fields,
                &self.tcp(),
                &mut p
            ));
            p
        }
    }

    /// The inputs for these packets (their segments found as
    /// `classify` finds them).
    fn inputs<'a>(packets: &'a [Vec<u8>], trusted: bool) -> Vec<GroInput<'a>> {
        let ours = [US, US6];
        let mut reply = Vec::new();
        packets
            .iter()
            .map(
                |p| match crate::ip::classify(p, crate::ip::Local::only(&ours), &mut reply) {
                    crate::ip::Inbound::Tcp { src, dst, segment } => {
                        GroInput::in_packet(p, src, dst, segment, trusted)
                    }
                    other => panic!("not TCP: {other:?}"),
                },
            )
            .collect()
    }

    /// One segment handed on: its payload, how many inputs it holds, its
    /// checksum state and its flags.
    type Out = (Vec<u8>, usize, Checksum, u8);

    /// What comes out, and how many were merged; each merged segment's
    /// checksum checked when verified here.
    fn run(segs: &[Seg], trusted: bool) -> (Vec<Out>, usize) {
        let packets: Vec<Vec<u8>> = segs.iter().map(Seg::packet).collect();
        let input = inputs(&packets, trusted);
        let mut gro = Gro::new();
        let batch = gro.coalesce(&input);
        let out = batch
            .segments()
            .map(|o| {
                let h = tcp_header(o.segment).unwrap();
                let pseudo = PseudoHeader::new(o.src, o.dst).unwrap();
                if o.checksum == Checksum::Verified && !trusted {
                    assert!(verify_tcp_checksum(&pseudo, o.segment), "checksum of {o:?}");
                }
                if trusted && o.segments > 1 {
                    // The pseudo-header's sum, as Linux's tcp_gro_complete.
                    let field = u16::from_be_bytes([o.segment[16], o.segment[17]]);
                    assert_eq!(field, pseudo.sum(o.segment.len()));
                }
                (o.segment[h.len..].to_vec(), o.segments, o.checksum, h.flags)
            })
            .collect();
        (out, batch.merged())
    }

    fn payloads(segs: &[Seg]) -> Vec<u8> {
        segs.iter().flat_map(|s| s.payload.clone()).collect()
    }

    #[test]
    fn in_order_segments_merge_into_one() {
        let segs: Vec<Seg> = (0..10).map(|i| seg(1000 + i * 1448, 1448)).collect();
        let (out, merged) = run(&segs, false);
        assert_eq!(merged, 9);
        assert_eq!(out, vec![(payloads(&segs), 10, Checksum::Verified, ACK)]);
        // Odd sizes: the parts at odd offsets are summed byte-swapped.
        let segs: Vec<Seg> = (0..5).map(|i| seg(7 + i * 101, 101)).collect();
        let (out, _) = run(&segs, false);
        assert_eq!(out, vec![(payloads(&segs), 5, Checksum::Verified, ACK)]);
        // One segment alone, verified here.
        let (out, merged) = run(&segs[..1], false);
        assert_eq!(merged, 0);
        assert_eq!(out[0].1, 1);
        assert_eq!(out[0].2, Checksum::Verified);
    }

    #[test]
    fn a_gap_or_an_overlap_starts_a_new_item() {
        let segs = [seg(0, 100), seg(100, 100), seg(300, 100), seg(400, 100)];
        let (out, merged) = run(&segs, false);
        assert_eq!(merged, 2);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, payloads(&segs[..2]));
        assert_eq!(out[1].0, payloads(&segs[2..]));
        // A retransmission of what was merged does not merge back.
        let segs = [seg(0, 100), seg(100, 100), seg(100, 100)];
        let (out, _) = run(&segs, false);
        assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn psh_closes_the_item_and_is_kept() {
        let mut segs = vec![seg(0, 100), seg(100, 100), seg(200, 100), seg(300, 100)];
        segs[1].flags = ACK_PSH;
        let (out, _) = run(&segs, false);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0],
            (payloads(&segs[..2]), 2, Checksum::Verified, ACK_PSH)
        );
        assert_eq!(out[1], (payloads(&segs[2..]), 2, Checksum::Verified, ACK));
        // PSH on the first: nothing merges into it.
        segs[1].flags = ACK;
        segs[0].flags = ACK_PSH;
        let (out, _) = run(&segs, false);
        assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn a_shorter_segment_closes_and_a_longer_one_does_not_merge() {
        let segs = [seg(0, 100), seg(100, 100), seg(200, 50), seg(250, 100)];
        let (out, _) = run(&segs, false);
        assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), [3, 1]);
        assert_eq!(out[0].0, payloads(&segs[..3]));
        let segs = [seg(0, 100), seg(100, 200)];
        let (out, _) = run(&segs, false);
        assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), [1, 1]);
    }

    /// The ECN field of each packet reaches the stack with its segment
    /// (RFC 3168 §5), IPv4's TOS and IPv6's traffic class alike, DSCP
    /// bits aside; segments merge only with their own kind.
    #[test]
    fn the_ecn_field_is_handed_on_with_the_segment() {
        for (src, dst) in [(PEER, US), (PEER6, US6)] {
            let mut segs = [seg(0, 100), seg(100, 100), seg(200, 100)];
            for s in &mut segs {
                (s.src, s.dst) = (src, dst);
            }
            segs[0].tos = 0xb8 | 2;
            segs[1].tos = 0xb8 | 3;
            segs[2].tos = 0xb8 | 3;
            let packets: Vec<Vec<u8>> = segs.iter().map(Seg::packet).collect();
            let input = inputs(&packets, false);
            let mut gro = Gro::new();
            let batch = gro.coalesce(&input);
            let got: Vec<_> = batch.segments().map(|o| (o.segments, o.ecn)).collect();
            assert_eq!(
                got,
                [(1, vtcp::EcnCodepoint::Ect0), (2, vtcp::EcnCodepoint::Ce)],
                "{src}"
            );
        }
    }

    #[test]
    fn differing_ack_window_options_or_tos_do_not_merge_but_ttl_may() {
        let base = [seg(0, 100), seg(100, 100)];
        let cases: [fn(&mut Seg); 5] = [
            |s| s.ack += 1,
            |s| s.window += 1,
            |s| s.options[11] += 1,
            |s| s.options = vec![1, 1, 1, 1],
            |s| s.tos = 2,
        ];
        for (n, change) in cases.iter().enumerate() {
            let mut segs = base.clone();
            change(&mut segs[1]);
            let (out, merged) = run(&segs, false);
            assert_eq!(merged, 0, "case {n}");
            assert_eq!(out.len(), 2, "case {n}");
        }
        let mut segs = base.clone();
        segs[1].ttl = 3;
        assert_eq!(run(&segs, false).1, 1);
    }

    #[test]
    fn control_flags_and_empty_segments_do_not_merge() {
        // SYN, FIN, RST, URG, ECE, CWR.
        for flag in [0x02, 0x01, 0x04, 0x20, 0x40, 0x80] {
            let mut segs = vec![seg(0, 100), seg(100, 100), seg(200, 100)];
            segs[1].flags |= flag;
            let (out, merged) = run(&segs, false);
            assert_eq!(merged, 0, "flag {flag:#x}");
            assert_eq!(out.len(), 3);
            assert_eq!(out[1].3, ACK | flag);
        }
        // A pure ACK in between: what follows does not merge past it.
        let segs = [seg(0, 100), seg(100, 0), seg(100, 100)];
        let (out, merged) = run(&segs, false);
        assert_eq!(merged, 0);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn two_interleaved_flows_each_merge_in_their_order() {
        let a: Vec<Seg> = (0..4).map(|i| seg(i * 100, 100)).collect();
        let b: Vec<Seg> = (0..4)
            .map(|i| Seg {
                sport: 40001,
                ..seg(9000 + i * 100, 100)
            })
            .collect();
        let mut segs = Vec::new();
        for i in 0..4 {
            segs.push(a[i].clone());
            segs.push(b[i].clone());
        }
        let (out, merged) = run(&segs, false);
        assert_eq!(merged, 6);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, payloads(&a));
        assert_eq!(out[1].0, payloads(&b));
        // A flow in both families (same ports): two flows.
        let v6: Vec<Seg> = a
            .iter()
            .map(|s| Seg {
                src: PEER6,
                dst: US6,
                ..s.clone()
            })
            .collect();
        let mixed = [a[0].clone(), v6[0].clone(), a[1].clone(), v6[1].clone()];
        let (out, _) = run(&mixed, false);
        assert_eq!(out.iter().map(|o| o.1).collect::<Vec<_>>(), [2, 2]);
    }

    #[test]
    fn ipv6_segments_merge() {
        let segs: Vec<Seg> = (0..6)
            .map(|i| Seg {
                src: PEER6,
                dst: US6,
                ..seg(1 + i * 1428, 1428)
            })
            .collect();
        let (out, merged) = run(&segs, false);
        assert_eq!(merged, 5);
        assert_eq!(out, vec![(payloads(&segs), 6, Checksum::Verified, ACK)]);
    }

    #[test]
    fn a_bad_checksum_is_handed_on_alone_unverified() {
        let segs = [seg(0, 100), seg(100, 100), seg(200, 100), seg(300, 100)];
        let mut packets: Vec<Vec<u8>> = segs.iter().map(Seg::packet).collect();
        let last = packets[1].len() - 1;
        packets[1][last] ^= 0x10;
        let input = inputs(&packets, false);
        let mut gro = Gro::new();
        let batch = gro.coalesce(&input);
        let out: Vec<_> = batch.segments().collect();
        assert_eq!(batch.merged(), 1);
        assert_eq!(
            out.iter()
                .map(|o| (o.segments, o.checksum))
                .collect::<Vec<_>>(),
            [
                (1, Checksum::Verified),
                (1, Checksum::Unchecked),
                (2, Checksum::Verified)
            ]
        );
        assert_eq!(out[1].segment, input[1].segment);
        // Trusted segments are not summed: the same one merges.
        let input = inputs(&packets, true);
        let batch = gro.coalesce(&input);
        assert_eq!(batch.merged(), 3);
    }

    #[test]
    fn trusted_segments_merge_with_a_partial_checksum() {
        let segs: Vec<Seg> = (0..3).map(|i| seg(i * 1000, 1000)).collect();
        let (out, merged) = run(&segs, true);
        assert_eq!(merged, 2);
        assert_eq!(out, vec![(payloads(&segs), 3, Checksum::Verified, ACK)]);
    }

    #[test]
    fn the_merged_packet_stays_within_65535_octets() {
        // IPv4 (20) + TCP with timestamps (32) + payload ≤ 65,535.
        let segs: Vec<Seg> = (0..50).map(|i| seg(i * 1448, 1448)).collect();
        let (out, merged) = run(&segs, false);
        let most = (65_535 - 52) / 1448;
        assert_eq!(
            out.iter().map(|o| o.1).collect::<Vec<_>>(),
            [most, 50 - most]
        );
        assert_eq!(merged, 48);
        assert!(20 + 32 + out[0].0.len() <= MAX_MERGED_PACKET);
        assert_eq!(
            out.iter().flat_map(|o| o.0.clone()).collect::<Vec<_>>(),
            payloads(&segs)
        );
        // Exactly at the limit merges.
        let exact = [seg(0, 65_483 - 483), seg(65_000, 483)];
        assert_eq!(run(&exact, false).1, 1);
        let over = [seg(0, 65_483 - 483), seg(65_000, 484)];
        assert_eq!(run(&over, false).1, 0);
    }

    #[test]
    fn garbage_is_handed_on_alone_and_buffers_are_reused() {
        let packets = [seg(0, 10).packet(), seg(10, 10).packet()];
        let mut input = inputs(&packets, false);
        input.push(GroInput {
            segment: &[1, 2, 3],
            ..input[0]
        });
        let mut data_offset_past_end = packets[0][20..].to_vec();
        data_offset_past_end[12] = 0xf0;
        input.push(GroInput {
            segment: &data_offset_past_end,
            ..input[0]
        });
        input.push(GroInput {
            dst: US6,
            ..input[0]
        });
        let mut gro = Gro::new();
        let batch = gro.coalesce(&input);
        let out: Vec<_> = batch.segments().collect();
        assert_eq!(
            out.iter()
                .map(|o| (o.segments, o.checksum))
                .collect::<Vec<_>>(),
            [
                (2, Checksum::Verified),
                (1, Checksum::Unchecked),
                (1, Checksum::Unchecked),
                (1, Checksum::Unchecked)
            ]
        );
        let arena = gro.arena.capacity();
        for _ in 0..3 {
            let _ = gro.coalesce(&input).segments().count();
        }
        assert_eq!(gro.arena.capacity(), arena);
    }
}
