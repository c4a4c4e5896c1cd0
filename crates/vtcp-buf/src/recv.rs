//! The receive buffer: reassembly, SACK and D-SACK.

use alloc::boxed::Box;

use vtcp_seq::Seq;
use vtcp_wire::{SackBlock, SackBlocks};

use crate::ring::Ring;
use crate::scoreboard::RangeSet;
use crate::{MAX_CAPACITY, SeqMap};

/// The least cap on separate out-of-order ranges held; [`RecvBuf::new`]
/// allows more for large buffers ([`RecvBuf::default_max_ooo_ranges`]).
pub const DEFAULT_MAX_OOO_RANGES: usize = 32;

/// Buffer octets per out-of-order range allowed by default.
const OCTETS_PER_OOO_RANGE: usize = 1024;

/// How many recently received blocks are remembered for SACK ordering.
const RECENT: usize = 8;

/// Received data, in order and out of order, within the receive window.
///
/// The window's right edge is `nxt + window()`; data beyond it is trimmed.
/// Readable and out-of-order octets both live in one fixed ring, so the
/// buffer never holds more than its capacity.
///
/// Overlaps: octets already held are kept and only the gaps of a new
/// segment are copied in (the first copy of an octet wins).
///
/// Memory of out-of-order ranges is capped ([`RecvBuf::with_max_ooo_ranges`]):
/// when a segment would make one range too many, the highest range is
/// forgotten (it may be the new segment itself). Data at RCV.NXT never
/// becomes a range, so it is never dropped.
#[derive(Clone, Debug)]
pub struct RecvBuf {
    ring: Ring,
    map: SeqMap,
    /// Offset of the first unread octet.
    read: u64,
    /// RCV.NXT, as an offset.
    nxt: u64,
    ooo: RangeSet,
    max_ooo_ranges: usize,
    /// Offsets inside recently received out-of-order blocks, most recent
    /// first (RFC 2018 §4): allocated at the first segment that arrives
    /// out of order and kept from then on (a connection that saw loss or
    /// reordering once is likely to again), so that a buffer that only
    /// ever took data in order carries a pointer, not 72 bytes (issue 22).
    recent: Option<Box<Recent>>,
    /// A duplicate to report once (RFC 2883).
    dsack: Option<SackBlock>,
}

/// [`RecvBuf`]'s most recently received out-of-order offsets.
#[derive(Clone, Debug, Default)]
struct Recent {
    offsets: [u64; RECENT],
    len: usize,
}

impl Recent {
    fn offsets(&self) -> &[u64] {
        &self.offsets[..self.len]
    }
}

impl RecvBuf {
    /// A buffer of `capacity` octets whose next expected octet is
    /// `rcv_nxt` (IRS + 1), with the default cap on out-of-order ranges.
    pub fn new(capacity: usize, rcv_nxt: Seq) -> Self {
        Self::with_max_ooo_ranges(capacity, rcv_nxt, Self::default_max_ooo_ranges(capacity))
    }

    /// The default cap on out-of-order ranges for a buffer of `capacity`
    /// octets: one per KiB, and at least [`DEFAULT_MAX_OOO_RANGES`]. A
    /// window of full-sized segments that lost every other one needs a
    /// range per two segments, and this keeps them all; a peer sending
    /// one-octet segments at every other offset makes at most 16 octets
    /// of ranges per KiB of buffer. A cap of 32 ranges made a receiver
    /// with a 4 MiB buffer throw away most of what arrived after a queue
    /// overflowed, and the sender resend it.
    pub fn default_max_ooo_ranges(capacity: usize) -> usize {
        (capacity / OCTETS_PER_OOO_RANGE).max(DEFAULT_MAX_OOO_RANGES)
    }

    /// Like [`RecvBuf::new`], holding at most `max_ooo_ranges` separate
    /// out-of-order ranges (at least 1). The capacity is cut to
    /// [`MAX_CAPACITY`].
    pub fn with_max_ooo_ranges(capacity: usize, rcv_nxt: Seq, max_ooo_ranges: usize) -> Self {
        Self {
            ring: Ring::new(capacity.min(MAX_CAPACITY)),
            map: SeqMap::new(rcv_nxt, 0),
            read: 0,
            nxt: 0,
            ooo: RangeSet::default(),
            max_ooo_ranges: max_ooo_ranges.max(1),
            recent: None,
            dsack: None,
        }
    }

    /// Takes in a segment's data starting at `seq`; returns how many octets
    /// became readable (zero for out-of-order or duplicate data).
    pub fn insert(&mut self, seq: Seq, data: &[u8]) -> usize {
        if data.is_empty() {
            return 0;
        }
        let rel = i64::from(seq - self.nxt());
        let start = i128::from(self.nxt) + i128::from(rel);
        let end = start + data.len() as i128;
        let nxt = i128::from(self.nxt);
        if end <= nxt {
            // Entirely old: a duplicate (RFC 2883 §4.1).
            self.dsack = Some(SackBlock {
                left: seq,
                right: seq + data.len() as u32,
            });
            return 0;
        }
        let partly_old = start < nxt;
        if partly_old {
            // Partly old: report the old part.
            self.dsack = Some(SackBlock {
                left: seq,
                right: self.nxt(),
            });
        }
        let s = start.max(nxt) as u64;
        let right_edge = self.read + self.ring.capacity() as u64;
        let e = (end.min(i128::from(right_edge)) as u64).max(s);
        if s >= e {
            return 0;
        }
        // RFC 2883 §4 (the first block reports the repeated data that
        // triggered the ACK): the first part of the segment that repeats
        // data held out of order, also when the segment brings new data
        // besides (a retransmission that spans a hole and a block the
        // receiver already has).
        if !partly_old && let Some((rs, re)) = self.ooo.iter().find(|&(rs, re)| rs < e && re > s) {
            self.dsack = Some(SackBlock {
                left: self.map.seq(rs.max(s)),
                right: self.map.seq(re.min(e)),
            });
        }
        // (s is at least RCV.NXT; data at RCV.NXT is never held already.)
        if s != self.nxt && self.ooo.for_each_gap(s, e, |_, _| ()) == 0 {
            // Already held out of order: nothing new.
            return 0;
        }
        // Room from the first unread octet to the end of this segment, or
        // of the highest out-of-order range held, whichever is further.
        let held_end = self.ooo.last().map_or(e, |(_, end)| end.max(e));
        self.ring.reserve(self.read, held_end);
        let ring = &mut self.ring;
        self.ooo.for_each_gap(s, e, |gs, ge| {
            let from = (i128::from(gs) - start) as usize;
            ring.write(gs, &data[from..from + (ge - gs) as usize]);
        });
        if s == self.nxt {
            let before = self.nxt;
            self.nxt = e;
            while let Some((fs, fe)) = self.ooo.first() {
                if fs > self.nxt {
                    break;
                }
                self.nxt = self.nxt.max(fe);
                self.ooo.remove_below(fe);
            }
            return (self.nxt - before) as usize;
        }
        self.ooo.insert(s, e);
        self.note_recent(s);
        while self.ooo.len() > self.max_ooo_ranges {
            self.ooo.pop_last();
        }
        0
    }

    fn note_recent(&mut self, offset: u64) {
        let recent = self.recent.get_or_insert_with(Box::default);
        let keep = recent.len.min(RECENT - 1);
        recent.offsets.copy_within(0..keep, 1);
        recent.offsets[0] = offset;
        recent.len = keep + 1;
    }

    /// Some SACK block is to be reported: data held out of order, or a
    /// D-SACK pending.
    #[inline]
    pub fn has_sack_info(&self) -> bool {
        self.dsack.is_some() || !self.ooo.is_empty()
    }

    /// How many blocks [`RecvBuf::sack_blocks`] would report now, at most
    /// `max`: never fewer (a sender sizes its data around them).
    pub fn sack_block_count(&self, max: usize) -> usize {
        let max = max.min(vtcp_wire::MAX_SACK_BLOCKS);
        (usize::from(self.dsack.is_some()) + self.ooo.len()).min(max)
    }

    /// The SACK blocks for the next ACK, at most `max` (3 or 4, as option
    /// room allows): a pending D-SACK block first (RFC 2883, reported
    /// once), then, when the duplicate lies in data held out of order, the
    /// block that holds it (RFC 2883 §4 rule 4), then the block holding
    /// the most recently received segment, then the other most recently
    /// received blocks (RFC 2018 §4), then the rest from the lowest.
    pub fn sack_blocks(&mut self, max: usize) -> SackBlocks {
        let max = max.min(vtcp_wire::MAX_SACK_BLOCKS);
        let mut out = SackBlocks::new();
        if max == 0 || !self.has_sack_info() {
            return out;
        }
        // The held block a D-SACK block lies in, if any.
        let mut holding = None;
        if let Some(d) = self.dsack.take() {
            let _ = out.push(d);
            let at = self.map.offset_near(d.left, self.nxt);
            if at >= self.nxt {
                holding = self.ooo.containing(at);
            }
        }
        let mut chosen: [(u64, u64); 4] = [(0, 0); 4];
        let mut n = 0;
        let recent = self
            .recent
            .as_deref()
            .map_or(&[][..], Recent::offsets)
            .iter()
            .filter_map(|&o| self.ooo.containing(o));
        for range in holding.into_iter().chain(recent).chain(self.ooo.iter()) {
            if out.len() >= max {
                break;
            }
            if chosen[..n].contains(&range) {
                continue;
            }
            chosen[n] = range;
            n += 1;
            let _ = out.push(SackBlock {
                left: self.map.seq(range.0),
                right: self.map.seq(range.1),
            });
        }
        out
    }

    /// Copies readable octets into `out`; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.readable());
        self.ring.read(self.read, &mut out[..n]);
        self.read += n as u64;
        n
    }

    /// The readable octets, as two slices, without consuming them.
    pub fn readable_slices(&self) -> (&[u8], &[u8]) {
        self.ring.slices(self.read, self.readable())
    }

    /// Consumes up to `n` readable octets; returns how many.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.readable());
        self.read += n as u64;
        n
    }

    /// Octets ready to read.
    pub fn readable(&self) -> usize {
        (self.nxt - self.read) as usize
    }

    /// RCV.NXT.
    pub fn nxt(&self) -> Seq {
        self.map.seq(self.nxt)
    }

    /// The receive window: room from RCV.NXT to the buffer's end. Reading
    /// widens it; taking in data in order moves RCV.NXT and narrows it by
    /// as much, so its right edge never moves left.
    pub fn window(&self) -> usize {
        self.ring.capacity() - self.readable()
    }

    /// Out-of-order data is held.
    pub fn has_ooo(&self) -> bool {
        !self.ooo.is_empty()
    }

    /// Out-of-order octets held.
    pub fn ooo_bytes(&self) -> usize {
        self.ooo.bytes() as usize
    }

    /// Separate out-of-order ranges held.
    pub fn ooo_ranges(&self) -> usize {
        self.ooo.len()
    }

    /// Capacity of the ring.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Memory the ring holds now: none until data arrives, then growing in
    /// powers of two up to the capacity.
    pub fn allocated(&self) -> usize {
        self.ring.allocated()
    }

    /// Fuzzing only (`--cfg fuzzing`): when nothing is held, moves the
    /// stream offsets on by `n` octets as if they had been received and
    /// read, so that a fuzzer reaches offsets past 2^31 and 2^32. Returns
    /// whether it did.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn skip_empty(&mut self, n: u64) -> bool {
        if self.readable() != 0 || self.has_ooo() {
            return false;
        }
        self.nxt += n;
        self.read = self.nxt;
        if let Some(recent) = self.recent.as_deref_mut() {
            recent.len = 0;
        }
        self.dsack = None;
        true
    }

    /// Gives back the ring's memory when nothing is held, readable or out
    /// of order (data arriving later allocates again); returns whether it
    /// did.
    pub fn release_memory(&mut self) -> bool {
        let empty = self.readable() == 0 && !self.has_ooo();
        if empty {
            self.ring.release();
        }
        empty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec;
    use alloc::vec::Vec;
    use quickcheck::{Arbitrary, Gen, quickcheck};

    fn blocks(b: &SackBlocks) -> Vec<(u32, u32)> {
        b.iter().map(|b| (b.left.0, b.right.0)).collect()
    }

    #[test]
    fn sack_order_follows_rfc2018_section_4() {
        let mut rx = RecvBuf::new(1000, Seq(0));
        rx.insert(Seq(100), &[1; 10]);
        rx.insert(Seq(300), &[1; 10]);
        rx.insert(Seq(200), &[1; 10]);
        assert_eq!(
            blocks(&rx.sack_blocks(3)),
            vec![(200, 210), (300, 310), (100, 110)]
        );
        // A segment extending a block puts that block first.
        rx.insert(Seq(110), &[1; 10]);
        assert_eq!(
            blocks(&rx.sack_blocks(3)),
            vec![(100, 120), (200, 210), (300, 310)]
        );
        assert_eq!(blocks(&rx.sack_blocks(1)), vec![(100, 120)]);
        // Filling the hole at RCV.NXT makes the first block readable.
        assert_eq!(rx.insert(Seq(0), &[1; 100]), 120);
        assert_eq!(blocks(&rx.sack_blocks(3)), vec![(200, 210), (300, 310)]);
    }

    /// RFC 2883 §4: a segment that repeats a block held out of order and
    /// brings new data besides still reports the repeated part first
    /// (FreeBSD's scripts: `ack 500 <sack 200:300 600:700>`).
    #[test]
    fn a_segment_with_new_data_and_a_repeated_block_reports_the_repeat() {
        let mut rx = RecvBuf::new(10_000, Seq(100));
        rx.insert(Seq(200), &[1; 100]);
        rx.insert(Seq(600), &[1; 100]);
        assert_eq!(rx.insert(Seq(100), &[1; 400]), 400, "100..500 readable");
        assert_eq!(blocks(&rx.sack_blocks(4)), vec![(200, 300), (600, 700)]);
        // Above RCV.NXT too: new data on both sides of a held block.
        let mut rx = RecvBuf::new(10_000, Seq(100));
        rx.insert(Seq(300), &[1; 100]);
        assert_eq!(rx.insert(Seq(250), &[1; 250]), 0, "still a hole at 100");
        assert_eq!(blocks(&rx.sack_blocks(4)), vec![(300, 400), (250, 500)]);
    }

    /// RFC 2883 §4 rule 4: after the D-SACK block comes the block that
    /// holds the duplicate, then the most recent ones (FreeBSD's scripts:
    /// `<sack 200:300 200:300 600:700 400:500>`).
    #[test]
    fn the_block_holding_a_duplicate_comes_second() {
        let mut rx = RecvBuf::new(10_000, Seq(100));
        rx.insert(Seq(200), &[1; 100]);
        rx.insert(Seq(400), &[1; 100]);
        rx.insert(Seq(600), &[1; 100]);
        rx.sack_blocks(4);
        assert_eq!(rx.insert(Seq(200), &[1; 100]), 0);
        assert_eq!(
            blocks(&rx.sack_blocks(4)),
            vec![(200, 300), (200, 300), (600, 700), (400, 500)]
        );
        // Part of a larger block: the block, whole, second.
        rx.insert(Seq(300), &[1; 100]);
        rx.sack_blocks(4);
        assert_eq!(rx.insert(Seq(250), &[1; 20]), 0);
        assert_eq!(blocks(&rx.sack_blocks(4))[..2], [(250, 270), (200, 500)]);
    }

    #[test]
    fn duplicates_are_reported_once_as_dsack() {
        let mut rx = RecvBuf::new(1000, Seq(0));
        rx.insert(Seq(0), &[1; 50]);
        rx.insert(Seq(100), &[1; 10]);
        assert_eq!(rx.insert(Seq(10), &[1; 20]), 0);
        assert_eq!(blocks(&rx.sack_blocks(4)), vec![(10, 30), (100, 110)]);
        assert_eq!(
            blocks(&rx.sack_blocks(4)),
            vec![(100, 110)],
            "reported once"
        );
        // A duplicate of out-of-order data (RFC 2883 §4.2).
        rx.insert(Seq(102), &[1; 5]);
        assert_eq!(blocks(&rx.sack_blocks(4)), vec![(102, 107), (100, 110)]);
        // Partly old: the old part is reported, the new part taken.
        assert_eq!(rx.insert(Seq(40), &[1; 20]), 10);
        assert_eq!(blocks(&rx.sack_blocks(4))[0], (40, 50));
    }

    #[test]
    fn data_beyond_the_window_is_trimmed() {
        let mut rx = RecvBuf::new(10, Seq(0));
        assert_eq!(rx.insert(Seq(0), b"0123456789abc"), 10);
        assert_eq!(rx.window(), 0);
        assert_eq!(rx.insert(Seq(10), b"x"), 0);
        let mut out = [0u8; 4];
        rx.read(&mut out);
        assert_eq!(rx.window(), 4);
        assert_eq!(rx.insert(Seq(10), b"abcdef"), 4);
        let mut all = [0u8; 10];
        assert_eq!(rx.read(&mut all), 10);
        assert_eq!(&all, b"456789abcd");
    }

    #[test]
    fn range_cap_drops_the_highest_and_never_data_at_rcv_nxt() {
        let mut rx = RecvBuf::with_max_ooo_ranges(1000, Seq(0), 2);
        rx.insert(Seq(10), &[1; 5]);
        rx.insert(Seq(30), &[1; 5]);
        rx.insert(Seq(20), &[1; 5]);
        assert_eq!(rx.ooo_ranges(), 2);
        assert_eq!(blocks(&rx.sack_blocks(4)), vec![(20, 25), (10, 15)]);
        // A new highest range is itself the one dropped; the others keep
        // their order of arrival.
        rx.insert(Seq(50), &[1; 5]);
        assert_eq!(blocks(&rx.sack_blocks(4)), vec![(20, 25), (10, 15)]);
        // Data at RCV.NXT is always taken.
        assert_eq!(rx.insert(Seq(0), &[1; 10]), 15);
        assert_eq!(rx.ooo_ranges(), 1);
    }

    #[test]
    fn wraps_the_sequence_space() {
        let mut rx = RecvBuf::new(64, Seq(u32::MAX - 5));
        assert_eq!(rx.insert(Seq(2), b"world"), 0);
        assert_eq!(rx.insert(Seq(u32::MAX - 5), b"hello, "), 7);
        assert_eq!(rx.nxt(), Seq(1));
        assert_eq!(rx.insert(Seq(1), b" "), 6);
        let mut out = [0u8; 32];
        let n = rx.read(&mut out);
        assert_eq!(&out[..n], b"hello,  world");
    }

    #[test]
    fn a_large_buffer_keeps_a_window_that_lost_every_other_segment() {
        const SEG: usize = 1460;
        let mut rx = RecvBuf::new(4 << 20, Seq(0));
        let segments = (4 << 20) / SEG;
        for i in (1..segments).step_by(2) {
            rx.insert(Seq((i * SEG) as u32), &[i as u8; SEG]);
        }
        assert_eq!(rx.ooo_ranges(), segments / 2);
        for i in (0..segments).step_by(2) {
            rx.insert(Seq((i * SEG) as u32), &[i as u8; SEG]);
        }
        assert_eq!(rx.readable(), segments * SEG);
        assert_eq!(rx.ooo_ranges(), 0);
    }

    /// One range per KiB of buffer, and never fewer than 32.
    #[test]
    fn the_default_range_cap_grows_with_the_buffer() {
        assert_eq!(RecvBuf::default_max_ooo_ranges(4 << 20), 4096);
        assert_eq!(RecvBuf::default_max_ooo_ranges(64 * 1024), 64);
        assert_eq!(
            RecvBuf::default_max_ooo_ranges(1000),
            DEFAULT_MAX_OOO_RANGES
        );
        assert_eq!(RecvBuf::new(64 * 1024, Seq(0)).max_ooo_ranges, 64);
    }

    /// `consume` skips readable octets as `read` would, without copying,
    /// and never past what is readable.
    #[test]
    fn consume_skips_what_read_would_copy() {
        let mut rx = RecvBuf::new(64, Seq(7));
        rx.insert(Seq(7), b"0123456789");
        assert_eq!(rx.consume(4), 4);
        assert_eq!(rx.readable_slices().0, b"456789");
        assert_eq!(rx.window(), 64 - 6);
        assert_eq!(rx.consume(100), 6);
        assert_eq!((rx.readable(), rx.consume(1)), (0, 0));
        rx.insert(Seq(17), b"ab");
        let mut out = [0u8; 4];
        assert_eq!(rx.read(&mut out), 2);
        assert_eq!(&out[..2], b"ab");
    }

    /// SACK information is out-of-order data or a pending D-SACK, either
    /// alone; `max` bounds the blocks, none when it is 0.
    #[test]
    fn sack_information_is_ooo_data_or_a_dsack() {
        let mut rx = RecvBuf::new(1000, Seq(0));
        assert!(!rx.has_sack_info());
        assert!(rx.sack_blocks(4).is_empty());
        rx.insert(Seq(0), &[1; 10]);
        rx.insert(Seq(0), &[1; 10]);
        assert!(rx.has_sack_info(), "a duplicate alone");
        assert!(!rx.has_ooo());
        assert_eq!(rx.sack_block_count(4), 1);
        assert!(rx.sack_blocks(0).is_empty(), "max 0 takes nothing");
        assert_eq!(blocks(&rx.sack_blocks(4)), vec![(0, 10)]);
        assert!(!rx.has_sack_info(), "reported once");
        rx.insert(Seq(20), &[1; 10]);
        assert!(rx.has_sack_info(), "out of order alone");
        assert_eq!(rx.sack_block_count(9), 1);
        // Five ranges: at most four blocks, whatever is asked.
        for at in [40, 60, 80, 100] {
            rx.insert(Seq(at), &[1; 10]);
        }
        assert_eq!(rx.sack_block_count(9), 4);
        assert_eq!(rx.sack_blocks(9).len(), 4);
        assert_eq!(rx.sack_block_count(2), 2);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(i16, u8),
        Read(u8),
        Release,
    }

    impl Arbitrary for Op {
        fn arbitrary(g: &mut Gen) -> Self {
            match u8::arbitrary(g) % 7 {
                0 | 1 => Self::Read(u8::arbitrary(g)),
                2 => Self::Release,
                _ => Self::Insert(i16::arbitrary(g) % 300, u8::arbitrary(g) % 64),
            }
        }
    }

    quickcheck! {
        // RecvBuf against a byte map: first copy of an octet wins, octets
        // beyond read + capacity are refused, readable data is exactly the
        // contiguous prefix.
        fn matches_a_byte_model(start: u32, cap: u8, ops: Vec<Op>) -> bool {
            let cap = u64::from(cap) + 1;
            let mut rx = RecvBuf::with_max_ooo_ranges(cap as usize, Seq(start), usize::MAX);
            let mut held: BTreeMap<u64, u8> = BTreeMap::new();
            let (mut read, mut nxt) = (0u64, 0u64);
            let mut delivered: Vec<u8> = Vec::new();
            let mut model_delivered: Vec<u8> = Vec::new();
            for (id, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert(rel, len) => {
                        let at = nxt as i64 + i64::from(rel);
                        if at < 0 { continue; }
                        let at = at as u64;
                        let data: Vec<u8> = (0..u64::from(len)).map(|i| (at + i + id as u64 * 13) as u8).collect();
                        let got = rx.insert(Seq(start.wrapping_add(at as u32)), &data);
                        for (i, b) in data.iter().enumerate() {
                            let x = at + i as u64;
                            if x >= nxt && x < read + cap {
                                held.entry(x).or_insert(*b);
                            }
                        }
                        let before = nxt;
                        while held.contains_key(&nxt) { nxt += 1; }
                        if got as u64 != nxt - before { return false; }
                    }
                    Op::Read(n) => {
                        let mut out = vec![0u8; usize::from(n)];
                        let got = rx.read(&mut out);
                        delivered.extend_from_slice(&out[..got]);
                        let want = u64::from(n).min(nxt - read);
                        for x in read..read + want {
                            model_delivered.push(held.remove(&x).unwrap_or(0));
                        }
                        read += want;
                    }
                    // Memory goes back exactly when nothing is held; the
                    // model does not change.
                    Op::Release => {
                        let empty = held.keys().all(|&x| x < read);
                        if rx.release_memory() != empty || (empty && rx.allocated() != 0) {
                            return false;
                        }
                    }
                }
                held.retain(|&x, _| x >= read);
                if rx.nxt() != Seq(start.wrapping_add(nxt as u32)) || rx.readable() as u64 != nxt - read {
                    return false;
                }
                if rx.window() as u64 != cap - (nxt - read) || delivered != model_delivered {
                    return false;
                }
                let ooo = held.keys().filter(|&&x| x > nxt).count();
                if rx.ooo_bytes() != ooo || rx.has_ooo() != (ooo > 0) {
                    return false;
                }
                // Buffered octets never exceed the capacity.
                if rx.readable() + rx.ooo_bytes() > cap as usize {
                    return false;
                }
                // The count a sender sizes its data by is never below the
                // blocks the next ACK carries.
                let counted = rx.sack_block_count(4);
                let mut probe = rx.clone();
                if counted < probe.sack_blocks(4).len() {
                    return false;
                }
            }
            true
        }
    }
}

#[cfg(test)]
mod growth_tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use quickcheck::quickcheck;

    quickcheck! {
        // Memory grows as data arrives, out of order included, and what is
        // read is what was sent.
        fn reassembles_across_growth(order: Vec<u16>, start: u32) -> bool {
            const SEG: usize = 1000;
            let n = 120;
            let stream: Vec<u8> = (0..n * SEG).map(|i| (i * 7 + i / 251) as u8).collect();
            let mut rx = RecvBuf::with_max_ooo_ranges(n * SEG, Seq(start), usize::MAX);
            assert_eq!(rx.allocated(), 0);
            // Segments in a shuffled order given by `order`, then all of
            // them in order to fill what is left.
            let picks = order.iter().map(|&i| usize::from(i) % n).chain(0..n);
            for i in picks {
                rx.insert(Seq(start) + (i * SEG) as u32, &stream[i * SEG..(i + 1) * SEG]);
            }
            let mut out = vec![0u8; n * SEG];
            rx.read(&mut out) == n * SEG && out == stream && rx.allocated() <= rx.capacity()
        }
    }

    #[test]
    fn a_small_exchange_takes_little_memory() {
        let mut rx = RecvBuf::new(256 * 1024, Seq(0));
        rx.insert(Seq(0), &[1; 100]);
        assert_eq!(rx.allocated(), 1024);
    }
}
