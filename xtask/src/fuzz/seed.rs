//! `cargo xtask fuzz seed`: the committed corpora's starting inputs, made
//! from the project's own material, then minimised (`cargo fuzz cmin`).
//!
//! - From the Linux captures in `tests/vectors/*.pcap` (raw IP): each TCP
//!   segment for `wire_parse`, its option area for `wire_options`, its
//!   header and first octets for `wire_checksum`, each connection's first
//!   pure ACK for `cookie`, runs of consecutive packets as a device batch
//!   for `tun_vnet_gro` (with and without virtio-net headers), and each
//!   connection replayed against `conn_ops` from either side: the peer's
//!   segments as `Op::Segment`s numbered relative to the connection's own
//!   (the fields that target's format can say: flags, offsets, window,
//!   length, timestamps, the first SACK block), the local side's data as
//!   writes, its FIN as a close, the gaps between packets as clock
//!   advances, and a second seed with the peer's first segments as
//!   `Op::Raw` octets.
//! - For `drill_script`: the packetdrill scripts of the repository and of
//!   the FreeBSD suite (`$VTCP_CONFORMANCE_DIR` or
//!   `../shared/conformance/freebsd-tcp-testsuite`; without it, said
//!   loudly and skipped).
//!
//! `wire_roundtrip`, `buf_*`, `cc_ops` and `rto_ops` take inputs no
//! capture speaks to (generated segments, operation lists): their corpora
//! are what campaigns find.
//!
//! Typed inputs are written in `arbitrary` 1.x's encoding ([`Enc`]),
//! which is how `libfuzzer_sys::fuzz_target!` decodes them.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use super::{Toolchain, dir};
use crate::util::root;

/// Writes values as `arbitrary` 1.x reads them: integers little-endian,
/// a `bool` as one octet (its low bit), an enum variant as a `u32` that
/// the derive's multiply-and-shift maps to it, a collection as each
/// element behind a `true` octet and a `false` after the last (or the
/// end of the input, for the last field).
#[derive(Default)]
pub(super) struct Enc(pub(super) Vec<u8>);

impl Enc {
    pub(super) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub(super) fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(super) fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(super) fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    /// Variant `i` of an enum of `n`: the least `x` with `(x·n) >> 32 = i`.
    pub(super) fn variant(&mut self, i: u32, n: u32) -> &mut Self {
        debug_assert!(i < n);
        self.u32(((u64::from(i) << 32).div_ceil(u64::from(n))) as u32)
    }
    /// A `Vec<u8>` (not the last field: ended by a `false`).
    pub(super) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        for &x in b {
            self.bool(true).u8(x);
        }
        self.bool(false)
    }
}

/// A TCP segment of a capture.
struct Tcp {
    /// Microseconds since the capture began.
    at_us: u64,
    /// The whole IP packet.
    ip: Vec<u8>,
    src: Vec<u8>,
    dst: Vec<u8>,
    /// Where the TCP header starts in `ip`.
    tcp: usize,
}

impl Tcp {
    fn seg(&self) -> &[u8] {
        &self.ip[self.tcp..]
    }
    fn be16(&self, at: usize) -> u16 {
        let s = self.seg();
        u16::from_be_bytes([s[at], s[at + 1]])
    }
    fn be32(&self, at: usize) -> u32 {
        be32(&self.seg()[at..])
    }
    fn ports(&self) -> (u16, u16) {
        (self.be16(0), self.be16(2))
    }
    fn seq(&self) -> u32 {
        self.be32(4)
    }
    fn ack(&self) -> u32 {
        self.be32(8)
    }
    fn header_len(&self) -> usize {
        usize::from(self.seg()[12] >> 4) * 4
    }
    fn flags(&self) -> u8 {
        self.seg()[13]
    }
    fn window(&self) -> u16 {
        self.be16(14)
    }
    fn payload_len(&self) -> usize {
        self.seg().len() - self.header_len()
    }
    fn options(&self) -> &[u8] {
        &self.seg()[20..self.header_len()]
    }
    /// The segment's sequence space: payload, SYN and FIN.
    fn space(&self) -> u32 {
        self.payload_len() as u32
            + u32::from(self.flags() & 0x02 != 0)
            + u32::from(self.flags() & 0x01 != 0)
    }
    /// Where the value of the first option of `kind` starts in the option
    /// area.
    fn option_at(&self, kind: u8) -> Option<usize> {
        let o = self.options();
        let mut i = 0;
        while let Some(&k) = o.get(i) {
            match k {
                0 => return None,
                1 => i += 1,
                _ => {
                    let len = usize::from(*o.get(i + 1)?).max(2);
                    o.get(i..i + len)?;
                    if k == kind {
                        return Some(i + 2);
                    }
                    i += len;
                }
            }
        }
        None
    }
    /// The value of the first option of `kind`.
    fn option(&self, kind: u8) -> Option<&[u8]> {
        let at = self.option_at(kind)?;
        let len = usize::from(self.options()[at - 1]);
        self.options().get(at..at - 2 + len.max(2))
    }
    /// The timestamp option's TSval and TSecr.
    fn timestamps(&self) -> Option<(u32, u32)> {
        let v = self.option(8).filter(|v| v.len() == 8)?;
        Some((be32(&v[..4]), be32(&v[4..])))
    }
    /// The first SACK block's edges.
    fn first_sack(&self) -> Option<(u32, u32)> {
        let v = self.option(5).filter(|v| v.len() >= 8)?;
        Some((be32(&v[..4]), be32(&v[4..8])))
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The TCP segments of a pcap file of raw IP packets (LINKTYPE_RAW, or
/// LINKTYPE_IPV4/IPV6), in capture order, read by `vtcp::pcap` (the
/// reader `vtcp decode` and the lab use).
fn read_pcap(bytes: &[u8]) -> Result<Vec<Tcp>, String> {
    use vtcp::pcap::{FrameContent, Linktype, read_frames, tcp_in_frame};
    let frames = read_frames(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut first = None;
    for f in &frames {
        if ![Linktype::RAW, Linktype::IPV4, Linktype::IPV6].contains(&f.linktype) {
            return Err(format!("link type {} is not raw IP", f.linktype.0));
        }
        let us = f.time.secs * 1_000_000 + u64::from(f.time.nanos / 1000);
        let start = *first.get_or_insert(us);
        let FrameContent::Tcp(t) = tcp_in_frame(f.linktype, f.data) else {
            continue;
        };
        // The TCP segment lies in the frame, which is the IP packet.
        let tcp = t.tcp.as_ptr() as usize - f.data.as_ptr() as usize;
        if t.tcp.len() < 20 || usize::from(t.tcp[12] >> 4) * 4 > t.tcp.len() {
            continue;
        }
        let octets = |a: std::net::IpAddr| match a {
            std::net::IpAddr::V4(a) => a.octets().to_vec(),
            std::net::IpAddr::V6(a) => a.octets().to_vec(),
        };
        out.push(Tcp {
            at_us: us - start,
            ip: f.data[..tcp + t.tcp.len()].to_vec(),
            src: octets(t.src),
            dst: octets(t.dst),
            tcp,
        });
    }
    Ok(out)
}

/// The capture's connections, each as its segments in order; the client
/// (who sent the SYN) first in each key.
fn connections(segments: &[Tcp]) -> Vec<Vec<&Tcp>> {
    type Ends = (Vec<u8>, u16, Vec<u8>, u16);
    let mut by: BTreeMap<Ends, Vec<&Tcp>> = BTreeMap::new();
    for s in segments {
        let (sp, dp) = s.ports();
        let a = (s.src.clone(), sp);
        let b = (s.dst.clone(), dp);
        let key = if a <= b {
            (a.0, a.1, b.0, b.1)
        } else {
            (b.0, b.1, a.0, a.1)
        };
        by.entry(key).or_default().push(s);
    }
    by.into_values()
        .filter(|c| c.first().is_some_and(|s| s.flags() & 0x12 == 0x02))
        .collect()
}

/// The distance from `base` to `x` in sequence space, as an `i32`.
fn off(x: u32, base: u32) -> i32 {
    x.wrapping_sub(base) as i32
}

/// A `conn_ops` input: a connection of the capture replayed with the
/// engine in the role of the client's peer (`passive`: the server) or of
/// the client.
fn conn_ops(conn: &[&Tcp], passive: bool, variant: u8) -> Vec<u8> {
    let client = conn[0];
    let from_peer = |s: &Tcp| (s.src == client.src && s.ports() == client.ports()) == passive;
    let peer_isn = conn.iter().find(|s| from_peer(s) && s.flags() & 0x02 != 0);
    let local_isn = conn.iter().find(|s| !from_peer(s) && s.flags() & 0x02 != 0);
    let (Some(peer_isn), Some(local_isn)) = (peer_isn.map(|s| s.seq()), local_isn.map(|s| s.seq()))
    else {
        return Vec::new();
    };
    // The harness's own SYN sends TSval 1: the peer's clock starts there
    // too, or its segments would fail PAWS (RFC 7323 §5).
    let ts0 = conn
        .iter()
        .find(|s| from_peer(s))
        .and_then(|s| s.timestamps());
    let rebase = |v: u32| ts0.map_or(v, |(t0, _)| v.wrapping_sub(t0).wrapping_add(1));
    let mut e = Enc::default();
    // 64 KiB buffers; the spare bits pick the controller, no TSO.
    let buf_kib = 63 | (u16::from(variant % 4) << 8);
    e.bool(passive).u16(buf_kib);
    e.u8(variant % 6)
        .u32(local_isn)
        .u8(variant / 6 % 6)
        .u32(peer_isn);
    let (mut peer_nxt, mut local_una) = (peer_isn, local_isn);
    let mut last = conn[0].at_us;
    let mut closed = false;
    let op = |e: &mut Enc, i: u32| {
        e.bool(true).variant(i, 9);
    };
    for s in conn {
        if from_peer(s) {
            // The harness made its own SYN for a passive connection.
            if passive && s.flags() & 0x12 == 0x02 {
                peer_nxt = s.seq().wrapping_add(1);
                continue;
            }
            let gap = s.at_us.saturating_sub(last).min(u64::from(u32::MAX));
            if gap > 0 {
                op(&mut e, 2);
                e.u32(gap as u32);
            }
            last = s.at_us;
            let (ts, sack) = (s.timestamps(), s.first_sack());
            op(&mut e, 0);
            e.u8(s.flags())
                .u32(off(s.seq(), peer_nxt) as u32)
                .u32(off(s.ack(), local_una) as u32)
                .u16(s.window())
                .u16(s.payload_len().min(usize::from(u16::MAX)) as u16);
            match ts {
                Some((v, r)) => e.bool(true).u32(rebase(v)).u32(r),
                None => e.bool(false),
            };
            match sack {
                Some((l, r)) => e
                    .bool(true)
                    .u32(off(l, local_una) as u32)
                    .u16(r.wrapping_sub(l).min(u32::from(u16::MAX)) as u16),
                None => e.bool(false),
            };
            if s.seq() == peer_nxt {
                peer_nxt = peer_nxt.wrapping_add(s.space());
            }
            if s.flags() & 0x10 != 0 && off(s.ack(), local_una) > 0 {
                local_una = s.ack();
            }
            if s.payload_len() > 0 {
                op(&mut e, 4);
                e.u16(u16::MAX);
            }
        } else if s.payload_len() > 0 {
            op(&mut e, 3);
            e.u16(s.payload_len().min(usize::from(u16::MAX)) as u16);
        } else if s.flags() & 0x01 != 0 && !closed {
            closed = true;
            op(&mut e, 5);
        }
    }
    e.0
}

/// The connection's ISNs, then the peer's first segments as raw octets
/// on the harness's ports (80 and 4000), their TSvals rebased as in
/// [`conn_ops`].
fn conn_ops_raw(conn: &[&Tcp], passive: bool) -> Vec<u8> {
    let client = conn[0];
    let from_peer = |s: &Tcp| (s.src == client.src && s.ports() == client.ports()) == passive;
    let isn = |peer: bool| {
        conn.iter()
            .find(|s| from_peer(s) == peer && s.flags() & 0x02 != 0)
            .map_or(0, |s| s.seq())
    };
    let ts0 = conn
        .iter()
        .find(|s| from_peer(s))
        .and_then(|s| s.timestamps());
    let mut e = Enc::default();
    e.bool(passive)
        .u16(63)
        .u8(5)
        .u32(isn(false))
        .u8(5)
        .u32(isn(true));
    let peer = conn.iter().filter(|s| from_peer(s));
    // The harness made its own SYN for a passive connection.
    for s in peer.skip(usize::from(passive)).take(12) {
        let mut seg = s.seg().to_vec();
        seg[0..2].copy_from_slice(&4000u16.to_be_bytes());
        seg[2..4].copy_from_slice(&80u16.to_be_bytes());
        if let (Some((t0, _)), Some(at)) = (ts0, s.option_at(8)) {
            let v = be32(&seg[20 + at..]).wrapping_sub(t0).wrapping_add(1);
            seg[20 + at..24 + at].copy_from_slice(&v.to_be_bytes());
        }
        // A clock advance first: the engine sends (its SYN) only between
        // operations.
        e.bool(true).variant(2, 9).u32(1000);
        e.bool(true).variant(1, 9).bytes(&seg);
    }
    e.0
}

/// A `tun_vnet_gro` batch: `packets` raw, with or without plain
/// virtio-net headers.
fn gro_batch(packets: &[&Tcp], vnet: bool) -> Vec<u8> {
    let mut e = Enc::default();
    for p in packets {
        // (Header::None, Packet::Raw(ip))
        e.bool(true).variant(2, 3).variant(0, 2).bytes(&p.ip);
    }
    e.bool(false).bool(vnet);
    e.0
}

/// A `cookie` input: the connection's pure ACK checked against a cookie
/// of its own 4-tuple.
fn cookie(ack: &Tcp) -> Vec<u8> {
    let (sp, dp) = ack.ports();
    let mut e = Enc::default();
    e.0.extend_from_slice(&[0x5a; 16]);
    e.bytes(&ack.dst).bytes(&ack.src);
    e.u16(dp)
        .u16(sp)
        .u32(ack.ack().wrapping_sub(1))
        .u16(1460)
        .u32(1000)
        .u8(3);
    for &b in ack.seg() {
        e.bool(true).u8(b);
    }
    e.0
}

/// A `wire_checksum` input: the segment's header and up to 64 payload
/// octets, a 16-bit update of its first word.
fn checksum(s: &Tcp) -> Vec<u8> {
    let end = (s.header_len() + 64).min(s.seg().len());
    let mut e = Enc::default();
    e.bytes(&s.seg()[..end])
        .u16(0)
        .u32(u32::from(s.window()))
        .bool(false);
    e.0
}

/// Every input made from one capture, by target.
fn from_capture(segments: &[Tcp]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for s in segments {
        out.push(("wire_parse", s.seg().to_vec()));
        if !s.options().is_empty() {
            out.push(("wire_options", s.options().to_vec()));
        }
        out.push(("wire_checksum", checksum(s)));
    }
    for (i, conn) in connections(segments).iter().enumerate() {
        if let Some(ack) = conn
            .iter()
            .find(|s| s.flags() == 0x10 && s.payload_len() == 0)
        {
            out.push(("cookie", cookie(ack)));
        }
        for passive in [true, false] {
            let input = conn_ops(conn, passive, i as u8);
            if !input.is_empty() {
                out.push(("conn_ops", input));
            }
            out.push(("conn_ops", conn_ops_raw(conn, passive)));
        }
        for (j, run) in conn.chunks(8).take(3).enumerate() {
            out.push(("tun_vnet_gro", gro_batch(run, j % 2 == 1)));
        }
    }
    out
}

/// The `.pkt` files under `dir`, recursively.
fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with('.') || p.ends_with("target") {
            continue;
        }
        if p.is_dir() {
            scripts(&p, out);
        } else if p.extension().is_some_and(|x| x == "pkt") {
            out.push(p);
        }
    }
}

/// Writes `input` into the target's corpus under a name from its content;
/// true if it was new.
fn keep(target: &str, input: &[u8]) -> Result<bool, String> {
    let mut h = DefaultHasher::new();
    input.hash(&mut h);
    let d = dir("corpus", target);
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    let path = d.join(format!("seed-{:016x}", h.finish()));
    if path.exists() {
        return Ok(false);
    }
    std::fs::write(&path, input).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(true)
}

pub(super) fn run(args: &[String]) -> Result<(), String> {
    let cmin = match args {
        [] => true,
        [a] if a == "--no-cmin" => false,
        _ => return Err("usage: cargo xtask fuzz seed [--no-cmin]".into()),
    };
    let mut made: BTreeMap<&str, usize> = BTreeMap::new();
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(root().join("tests/vectors"))
        .map_err(|e| format!("tests/vectors: {e}"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    pcaps.sort();
    for pcap in &pcaps {
        let bytes = std::fs::read(pcap).map_err(|e| format!("{}: {e}", pcap.display()))?;
        let segments = read_pcap(&bytes).map_err(|e| format!("{}: {e}", pcap.display()))?;
        for (target, input) in from_capture(&segments) {
            *made.entry(target).or_default() += usize::from(keep(target, &input)?);
        }
    }

    let mut pkts = Vec::new();
    scripts(&root().join("crates"), &mut pkts);
    let suite = std::env::var_os("VTCP_CONFORMANCE_DIR").map_or_else(
        || root().join("../shared/conformance/freebsd-tcp-testsuite"),
        PathBuf::from,
    );
    if suite.is_dir() {
        scripts(&suite, &mut pkts);
    } else {
        eprintln!(
            "\n*** {} is missing: drill_script is seeded from the repository's scripts only. \
             Set VTCP_CONFORMANCE_DIR at a copy of freebsd-net/tcp-testsuite to add them. ***\n",
            suite.display()
        );
    }
    for p in &pkts {
        let text = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        *made.entry("drill_script").or_default() += usize::from(keep("drill_script", &text)?);
    }
    for (target, n) in &made {
        eprintln!("{target}: {n} new seed(s) in fuzz/corpus/{target}");
    }
    // Every seeded corpus is minimised, new seeds or not.
    if cmin {
        let toolchain = Toolchain::detect()?;
        for target in made.keys() {
            crate::util::exec(
                toolchain
                    .cargo_fuzz("cmin")
                    .arg(target)
                    .arg(dir("corpus", target)),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_selector_maps_back_to_its_variant() {
        for n in 1..=12u32 {
            for i in 0..n {
                let mut e = Enc::default();
                e.variant(i, n);
                let x = u32::from_le_bytes(e.0[..4].try_into().unwrap());
                assert_eq!(
                    (u64::from(x) * u64::from(n)) >> 32,
                    u64::from(i),
                    "{i} of {n}"
                );
            }
        }
    }

    /// `(0u32, 0u32, vec![Event::Sample(u64::MAX)])`, which the harness
    /// decodes from the committed regression file (checked there).
    #[test]
    fn the_encoding_matches_the_rto_ops_regression_input() {
        let mut e = Enc::default();
        e.u32(0).u32(0).bool(true).variant(0, 7);
        e.u32(u32::MAX).u32(u32::MAX);
        let file = std::fs::read(root().join("fuzz/regressions/rto_ops/sample-of-2-64-minus-1-ns"))
            .unwrap();
        assert_eq!(e.0, file);
    }

    #[test]
    fn a_capture_s_segments_and_connections_are_found() {
        let bytes = std::fs::read(root().join("tests/vectors/linux-ipv4-default.pcap")).unwrap();
        let segs = read_pcap(&bytes).unwrap();
        assert!(segs.len() > 100, "{}", segs.len());
        let first = &segs[0];
        assert_eq!(first.flags() & 0x12, 0x02, "a SYN first");
        assert_eq!(first.src.len(), 4);
        let conns = connections(&segs);
        // The bulk transfer, the echo exchange and the closed port.
        assert_eq!(conns.len(), 3);
        assert!(conns.iter().all(|c| c[0].flags() & 0x12 == 0x02));
        assert!(first.timestamps().is_some());
        assert!(
            segs.iter().any(|s| s.first_sack().is_some()),
            "the capture has SACK blocks"
        );
        assert!(read_pcap(b"not a capture at all").is_err());
    }
}
