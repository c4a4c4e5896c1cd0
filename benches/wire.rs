//! The wire codec against etherparse and smoltcp on identical inputs.
//!
//! "parse" means: check the header, read every fixed field, and decode
//! every option into typed values (MSS, window scale, SACK-permitted, SACK
//! blocks, timestamps); no checksum. "emit" writes a whole segment (header,
//! options, data) into a buffer, no checksum. "checksum" computes the TCP
//! checksum of a 1480-byte segment with its IPv4 pseudo-header.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, TcpPacket, TcpRepr};
use vtcp_benches::{DST, SRC, cases, pseudo, segment_1480};
use vtcp_wire::{OptionValues, Segment, SegmentView};

/// What every parser must hand back, so that none skips work.
#[derive(Default)]
struct Decoded {
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: u16,
    window: u16,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_permitted: bool,
    sack: [Option<(u32, u32)>; 4],
    timestamp: Option<(u32, u32)>,
    payload_len: usize,
}

impl Decoded {
    /// Folds every field into one word, so that the harness moves 8 bytes
    /// rather than the whole struct and no field can be left uncomputed.
    #[inline(always)]
    fn digest(&self) -> u64 {
        let mut h = u64::from(self.ports.0) ^ (u64::from(self.ports.1) << 16);
        h = h.wrapping_add(u64::from(self.seq) ^ (u64::from(self.ack) << 32));
        h = h.wrapping_add(u64::from(self.flags) ^ (u64::from(self.window) << 16));
        h = h.wrapping_add(
            self.mss.map_or(1 << 40, u64::from) ^ self.wscale.map_or(1 << 41, u64::from),
        );
        h = h.wrapping_add(u64::from(self.sack_permitted) << 42);
        for (l, r) in self.sack.iter().flatten() {
            h = h.wrapping_add(u64::from(*l) ^ (u64::from(*r) << 32));
        }
        if let Some((v, e)) = self.timestamp {
            h = h.wrapping_add(u64::from(v) ^ (u64::from(e) << 32));
        }
        h.wrapping_add(self.payload_len as u64)
    }
}

/// vtcp's receive path: a checked view, and the options checked and read
/// in one pass, nothing copied.
#[inline(always)]
fn vtcp_parse(bytes: &[u8]) -> Option<Decoded> {
    let view = SegmentView::new_checked(bytes).ok()?;
    Some(vtcp_decoded(
        &view.option_values().ok()?,
        (view.src_port(), view.dst_port()),
        (
            view.seq().0,
            view.ack().0,
            view.flags().bits(),
            view.window(),
        ),
        view.payload().len(),
    ))
}

/// vtcp's owned form: a `Segment` whose options are copied out of the
/// buffer, so that it outlives it.
#[inline(always)]
fn vtcp_parse_segment(bytes: &[u8]) -> Option<Decoded> {
    let seg = Segment::parse(bytes).ok()?;
    Some(vtcp_decoded(
        &seg.options.values(),
        (seg.src_port, seg.dst_port),
        (seg.seq.0, seg.ack.0, seg.flags.bits(), seg.window),
        seg.payload.len(),
    ))
}

#[inline(always)]
fn vtcp_decoded(
    v: &OptionValues,
    ports: (u16, u16),
    fixed: (u32, u32, u16, u16),
    payload_len: usize,
) -> Decoded {
    let mut sack = [None; 4];
    for (slot, b) in sack.iter_mut().zip(v.sack_blocks.iter()) {
        *slot = Some((b.left.0, b.right.0));
    }
    Decoded {
        ports,
        seq: fixed.0,
        ack: fixed.1,
        flags: fixed.2,
        window: fixed.3,
        mss: v.mss,
        wscale: v.wscale,
        sack_permitted: v.sack_permitted,
        sack,
        timestamp: v.timestamp.map(|t| (t.tsval, t.tsecr)),
        payload_len,
    }
}

#[inline(always)]
fn etherparse_parse(bytes: &[u8]) -> Option<Decoded> {
    use etherparse::TcpOptionElement as E;
    let h = etherparse::TcpHeaderSlice::from_slice(bytes).ok()?;
    let mut d = Decoded {
        ports: (h.source_port(), h.destination_port()),
        seq: h.sequence_number(),
        ack: h.acknowledgment_number(),
        flags: u16::from_be_bytes([h.slice()[12] & 0x0f, h.slice()[13]]),
        window: h.window_size(),
        payload_len: bytes.len() - h.slice().len(),
        ..Decoded::default()
    };
    for option in h.options_iterator() {
        match option.ok()? {
            E::MaximumSegmentSize(v) => d.mss = Some(v),
            E::WindowScale(v) => d.wscale = Some(v.min(14)),
            E::SelectiveAcknowledgementPermitted => d.sack_permitted = true,
            E::SelectiveAcknowledgement(first, rest) => {
                d.sack[0] = Some(first);
                d.sack[1..].copy_from_slice(&rest);
            }
            E::Timestamp(a, b) => d.timestamp = Some((a, b)),
            E::Noop => {}
        }
    }
    Some(d)
}

fn smoltcp_addrs() -> (IpAddress, IpAddress) {
    (
        IpAddress::v4(SRC[0], SRC[1], SRC[2], SRC[3]),
        IpAddress::v4(DST[0], DST[1], DST[2], DST[3]),
    )
}

#[inline(always)]
fn smoltcp_parse(
    bytes: &[u8],
    src: &IpAddress,
    dst: &IpAddress,
    caps: &ChecksumCapabilities,
) -> Option<Decoded> {
    let packet = TcpPacket::new_checked(bytes).ok()?;
    let repr = TcpRepr::parse(&packet, src, dst, caps).ok()?;
    let mut sack = [None; 4];
    sack[..3].copy_from_slice(&repr.sack_ranges);
    Some(Decoded {
        ports: (repr.src_port, repr.dst_port),
        seq: repr.seq_number.0 as u32,
        ack: repr.ack_number.map_or(0, |a| a.0 as u32),
        flags: u16::from(packet.fin())
            | (u16::from(packet.syn()) << 1)
            | (u16::from(packet.ack()) << 4),
        window: repr.window_len,
        mss: repr.max_seg_size,
        wscale: repr.window_scale,
        sack_permitted: repr.sack_permitted,
        sack,
        timestamp: repr.timestamp.map(|t| (t.tsval, t.tsecr)),
        payload_len: repr.payload.len(),
    })
}

fn parse(c: &mut Criterion) {
    let (src, dst) = smoltcp_addrs();
    let caps = ChecksumCapabilities::ignored();
    let mut group = c.benchmark_group("parse");
    for (name, bytes) in cases() {
        // Every parser must read the same segment the same way.
        let parsed = [
            vtcp_parse(&bytes).unwrap(),
            vtcp_parse_segment(&bytes).unwrap(),
            etherparse_parse(&bytes).unwrap(),
            smoltcp_parse(&bytes, &src, &dst, &caps).unwrap(),
        ];
        for d in &parsed {
            // smoltcp reads only FIN, SYN and ACK among the flags.
            let fields = |d: &Decoded| {
                let fixed = (
                    d.ports,
                    d.seq,
                    d.ack,
                    d.window,
                    d.flags & 0x13,
                    d.payload_len,
                );
                (
                    fixed,
                    d.mss,
                    d.wscale,
                    d.sack_permitted,
                    d.timestamp,
                    d.sack,
                )
            };
            assert_eq!(fields(d), fields(&parsed[0]), "{name}");
        }
        // The harness floor: no parsing, only the length. What a parser
        // costs is its time less this.
        group.bench_with_input(BenchmarkId::new("floor", name), &bytes, |b, bytes| {
            b.iter(|| {
                let d = Decoded {
                    payload_len: black_box(bytes).len(),
                    ..Decoded::default()
                };
                d.digest()
            });
        });
        group.bench_with_input(BenchmarkId::new("vtcp", name), &bytes, |b, bytes| {
            b.iter(|| vtcp_parse(black_box(bytes)).map(|d| d.digest()));
        });
        group.bench_with_input(
            BenchmarkId::new("vtcp_segment", name),
            &bytes,
            |b, bytes| {
                b.iter(|| vtcp_parse_segment(black_box(bytes)).map(|d| d.digest()));
            },
        );
        group.bench_with_input(BenchmarkId::new("etherparse", name), &bytes, |b, bytes| {
            b.iter(|| etherparse_parse(black_box(bytes)).map(|d| d.digest()));
        });
        group.bench_with_input(BenchmarkId::new("smoltcp", name), &bytes, |b, bytes| {
            b.iter(|| smoltcp_parse(black_box(bytes), &src, &dst, &caps).map(|d| d.digest()));
        });
    }
    group.finish();
}

fn emit(c: &mut Criterion) {
    let (src, dst) = smoltcp_addrs();
    let caps = ChecksumCapabilities::ignored();
    let mut group = c.benchmark_group("emit");
    for (name, bytes) in cases() {
        let mut buf = vec![0u8; 1600];
        let seg = Segment::parse(&bytes).unwrap();
        group.bench_function(BenchmarkId::new("vtcp", name), |b| {
            b.iter(|| black_box(&seg).emit(&mut buf).unwrap());
        });
        let (header, payload) = etherparse::TcpHeader::from_slice(&bytes).unwrap();
        group.bench_function(BenchmarkId::new("etherparse", name), |b| {
            b.iter(|| {
                let header = black_box(&header);
                let mut out = &mut buf[..];
                header.write(&mut out).unwrap();
                out[..payload.len()].copy_from_slice(payload);
                header.header_len() + payload.len()
            });
        });
        let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
        let repr = TcpRepr::parse(&packet, &src, &dst, &caps).unwrap();
        group.bench_function(BenchmarkId::new("smoltcp", name), |b| {
            b.iter(|| {
                let repr = black_box(&repr);
                let len = repr.buffer_len();
                let mut out = TcpPacket::new_unchecked(&mut buf[..len]);
                repr.emit(&mut out, &src, &dst, &caps);
                len
            });
        });
    }
    group.finish();
}

fn checksum(c: &mut Criterion) {
    let (src, dst) = smoltcp_addrs();
    let seg = segment_1480();
    let pseudo = pseudo();
    let mut group = c.benchmark_group("checksum_1480");
    group.throughput(Throughput::Bytes(seg.len() as u64));
    group.bench_function("vtcp", |b| {
        b.iter(|| vtcp_wire::checksum::tcp_checksum(&pseudo, black_box(&seg)));
    });
    let (header, payload) = etherparse::TcpHeader::from_slice(&seg).unwrap();
    assert_eq!(
        header.calc_checksum_ipv4_raw(SRC, DST, payload).unwrap(),
        vtcp_wire::checksum::tcp_checksum(&pseudo, &seg)
    );
    group.bench_function("etherparse", |b| {
        b.iter(|| {
            black_box(&header)
                .calc_checksum_ipv4_raw(SRC, DST, black_box(payload))
                .unwrap()
        });
    });
    let mut copy = seg.clone();
    group.bench_function("smoltcp", |b| {
        b.iter(|| {
            let mut packet = TcpPacket::new_unchecked(black_box(&mut copy[..]));
            packet.fill_checksum(&src, &dst);
            packet.checksum()
        });
    });
    group.finish();
}

criterion_group!(benches, parse, emit, checksum);
criterion_main!(benches);
