//! The send buffer.

use vtcp_seq::Seq;

use crate::ring::Ring;
use crate::scoreboard::Scoreboard;
use crate::{MAX_CAPACITY, SeqMap};

/// What RFC 6675 §4 NextSeg() says to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextSeg {
    /// First octet to retransmit.
    pub seq: Seq,
    /// Octets to retransmit: at most one SMSS, never into SACKed data.
    pub len: usize,
    /// Rule 1 (the octets count as lost) rather than rule 3 (unSACKed below
    /// the highest SACK, sent because no new data could be).
    pub lost: bool,
}

/// The bytes written and not yet acknowledged: a fixed-capacity ring
/// (no shifting, no reallocation after creation) from SND.UNA to the tail,
/// with SND.NXT between.
///
/// Sequence numbers here count data octets only: the engine accounts for
/// the SYN and FIN it sends around them.
#[derive(Clone, Debug)]
pub struct SendBuf {
    ring: Ring,
    map: SeqMap,
    una: u64,
    nxt: u64,
    /// The highest SND.NXT reached: after a rewind, ACKs and SACKs up to
    /// here are still for data that was sent.
    sent_max: u64,
    tail: u64,
    sacks: Scoreboard,
}

impl SendBuf {
    /// A buffer of `capacity` octets (at most [`MAX_CAPACITY`]) whose
    /// first data octet will have sequence number `start` (ISS + 1).
    pub fn new(capacity: usize, start: Seq) -> Self {
        Self {
            ring: Ring::new(capacity.min(MAX_CAPACITY)),
            map: SeqMap::new(start, 0),
            una: 0,
            nxt: 0,
            sent_max: 0,
            tail: 0,
            sacks: Scoreboard::default(),
        }
    }

    /// Appends as much of `data` as fits; returns how much.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.available());
        self.ring.reserve(self.una, self.tail + n as u64);
        self.ring.write(self.tail, &data[..n]);
        self.tail += n as u64;
        n
    }

    /// Lets `fill` write straight into the free space (at most two slices,
    /// in order) and appends the `n` octets it reports written (clamped to
    /// the space offered). No copy through a caller's buffer.
    pub fn write_with(&mut self, fill: impl FnOnce(&mut [u8], &mut [u8]) -> usize) -> usize {
        let room = self.available();
        self.ring.reserve(self.una, self.tail + room as u64);
        let (a, b) = self.ring.slices_mut(self.tail, room);
        let n = fill(a, b).min(room);
        self.tail += n as u64;
        n
    }

    /// Marks up to `n` more octets as sent (SND.NXT advances, never past the
    /// tail); returns how many.
    pub fn advance_sent(&mut self, n: usize) -> usize {
        let n = (n as u64).min(self.tail - self.nxt);
        self.nxt += n;
        self.sent_max = self.sent_max.max(self.nxt);
        n as usize
    }

    /// Moves SND.NXT back to `seq` (after a timeout, RFC 5681 §3.1 / RFC
    /// 6298 §5.4: "go back N"), within `[una, nxt]`.
    pub fn rewind_to(&mut self, seq: Seq) {
        let at = self.offset(seq).clamp(self.una, self.nxt);
        self.nxt = at;
    }

    /// Moves SND.NXT forward again to `seq`, within `[nxt, sent_max]`: a
    /// timeout's rewind found spurious resumes with the data never sent
    /// (RFC 4015 §2), not with what was sent before it.
    pub fn resume_to(&mut self, seq: Seq) {
        let at = self.offset(seq).clamp(self.nxt, self.sent_max);
        self.nxt = at;
    }

    /// An acknowledgment up to `ack` arrived: frees the octets it covers and
    /// returns how many. An ACK outside `(una, sent_max]` frees nothing
    /// (after a rewind, an ACK may cover data sent before it; SND.NXT then
    /// moves up to the ACK).
    pub fn acknowledge(&mut self, ack: Seq) -> usize {
        if !ack.after(self.una()) || ack.after(self.map.seq(self.sent_max)) {
            return 0;
        }
        let to = self.offset(ack);
        let n = to - self.una;
        self.una = to;
        self.nxt = self.nxt.max(to);
        self.sacks.remove_below(to);
        n as usize
    }

    /// The next `max` unsent octets at most, as two slices.
    pub fn peek_unsent(&self, max: usize) -> (&[u8], &[u8]) {
        let len = max.min(self.pending());
        self.ring.slices(self.nxt, len)
    }

    /// The `len` octets from `seq`, as two slices; `None` unless they lie
    /// within `[una, tail)`.
    pub fn range(&self, seq: Seq, len: usize) -> Option<(&[u8], &[u8])> {
        let from = self.offset(seq);
        let in_range =
            seq.after_eq(self.una()) && from >= self.una && from + len as u64 <= self.tail;
        in_range.then(|| self.ring.slices(from, len))
    }

    /// Data to retransmit from `from` (at least SND.UNA), skipping SACKed
    /// octets: the first unSACKed run within `[from, nxt)`, at most `max`
    /// octets, stopping at the next SACKed range.
    pub fn retransmit_data(&self, from: Seq, max: usize) -> Option<(Seq, &[u8], &[u8])> {
        let mut at = if from.before(self.una()) {
            self.una
        } else {
            self.offset(from).max(self.una)
        };
        if let Some((s, e)) = self.sacks.at_or_after(at)
            && s <= at
        {
            at = e;
        }
        if at >= self.nxt || max == 0 {
            return None;
        }
        let stop = self
            .sacks
            .at_or_after(at)
            .map_or(self.nxt, |(s, _)| s.min(self.nxt));
        let len = (stop - at).min(max as u64) as usize;
        let (a, b) = self.ring.slices(at, len);
        Some((self.map.seq(at), a, b))
    }

    /// Records a SACK block `[left, right)` (RFC 2018). A block that reaches
    /// past the highest octet sent or lies wholly below SND.UNA is ignored
    /// (RFC 6675 §4 processes only blocks within the window); one that
    /// starts below SND.UNA is cut to it. Returns whether anything was
    /// recorded.
    pub fn mark_sacked(&mut self, left: Seq, right: Seq) -> bool {
        let sent_max = self.map.seq(self.sent_max);
        if !right.after(left) || right.after(sent_max) || !right.after(self.una()) {
            return false;
        }
        let start = if left.before(self.una()) {
            self.una
        } else {
            self.offset(left)
        };
        let end = self.offset(right);
        if start >= end {
            return false;
        }
        self.sacks.insert(start, end);
        true
    }

    /// The octet at `seq` was SACKed.
    pub fn is_sacked(&self, seq: Seq) -> bool {
        seq.in_range(self.una(), self.map.seq(self.sent_max))
            && self.sacks.is_sacked(self.offset(seq))
    }

    /// Forgets every SACK (RFC 6675 §5.1: on a retransmission timeout the
    /// scoreboard is not trusted, RFC 2018 §8).
    pub fn clear_sacks(&mut self) {
        self.sacks.clear();
    }

    /// The SACK scoreboard.
    pub fn scoreboard(&self) -> &Scoreboard {
        &self.sacks
    }

    /// RFC 6675 IsLost for the octet at `seq`.
    pub fn is_lost(&self, seq: Seq, mss: usize) -> bool {
        self.sacks.is_lost(self.offset(seq), mss as u64)
    }

    /// RFC 6675 §4 NextSeg() rules 1 and 3: the first unSACKed run above
    /// `high_rxt` (the highest octet retransmitted, exclusive) that is lost
    /// or lies below the highest SACKed octet; `None` when there is none.
    /// Rule 2 (new data) is the caller's: it knows the windows.
    pub fn next_seg(&self, high_rxt: Seq, mss: usize) -> Option<NextSeg> {
        let high_sacked = self.sacks.high_sacked()?;
        let from = if high_rxt.before(self.una()) {
            self.una()
        } else {
            high_rxt
        };
        let (seq, a, b) = self.retransmit_data(from, mss)?;
        let at = self.offset(seq);
        let lost = self.sacks.is_lost(at, mss as u64);
        (lost || at < high_sacked).then_some(NextSeg {
            seq,
            len: a.len() + b.len(),
            lost,
        })
    }

    /// One past the highest SACKed octet; `None` when nothing is SACKed.
    pub fn high_sacked(&self) -> Option<Seq> {
        self.sacks.high_sacked().map(|at| self.map.seq(at))
    }

    /// RFC 6675 §4 NextSeg() rule 4, the rescue retransmission: the
    /// sequence number and length of up to `mss` octets that end with the
    /// highest unSACKed octet sent; `None` when everything sent is
    /// SACKed.
    pub fn rescue_seg(&self, mss: usize) -> Option<(Seq, usize)> {
        let (start, end) = self.sacks.highest_hole(self.una, self.nxt)?;
        let start = start.max(end.saturating_sub(mss as u64));
        Some((self.map.seq(start), (end - start) as usize))
    }

    /// Where RFC 6675's IsLost stops: every unSACKed octet below this
    /// sequence number counts as lost, none at or above it. An ACK that
    /// moves it up marks more data lost.
    pub fn lost_below(&self, mss: usize) -> Seq {
        let at = self.sacks.lost_below(mss as u64).max(self.una);
        self.map.seq(at)
    }

    /// RFC 6675 §4 SetPipe: octets estimated in flight, given the highest
    /// octet retransmitted (`high_rxt`, exclusive).
    pub fn pipe(&self, high_rxt: Seq, mss: usize) -> usize {
        let high_rxt = if high_rxt.before(self.una()) {
            self.una
        } else {
            self.offset(high_rxt)
        };
        self.sacks.pipe(self.una, self.nxt, high_rxt, mss as u64) as usize
    }

    /// The offset of `seq`, taken as within 2^31 of SND.UNA: everything
    /// the buffer holds or was sent lies there (the window is at most
    /// 2^30, RFC 7323 §2.3).
    fn offset(&self, seq: Seq) -> u64 {
        self.map.offset_near(seq, self.una)
    }

    /// SND.UNA: the oldest unacknowledged octet.
    pub fn una(&self) -> Seq {
        self.map.seq(self.una)
    }

    /// SND.NXT: the next octet to send.
    pub fn nxt(&self) -> Seq {
        self.map.seq(self.nxt)
    }

    /// The sequence number after the last octet written.
    pub fn tail(&self) -> Seq {
        self.map.seq(self.tail)
    }

    /// Octets written and not yet sent.
    pub fn pending(&self) -> usize {
        (self.tail - self.nxt) as usize
    }

    /// Octets sent and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        (self.nxt - self.una) as usize
    }

    /// Room left for writing.
    pub fn available(&self) -> usize {
        self.ring.capacity() - (self.tail - self.una) as usize
    }

    /// Capacity of the ring.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Memory the ring holds now: none until data is written, then growing
    /// in powers of two up to the capacity.
    pub fn allocated(&self) -> usize {
        self.ring.allocated()
    }

    /// Nothing written remains unacknowledged.
    pub fn is_empty(&self) -> bool {
        self.tail == self.una
    }

    /// Fuzzing only (`--cfg fuzzing`): when the buffer is empty, moves its
    /// stream offsets on by `n` octets as if they had been written, sent
    /// and acknowledged, so that a fuzzer reaches offsets past 2^31 and
    /// 2^32 without moving gigabytes. Returns whether it did.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn skip_empty(&mut self, n: u64) -> bool {
        if !self.is_empty() {
            return false;
        }
        self.una += n;
        (self.nxt, self.sent_max, self.tail) = (self.una, self.una, self.una);
        self.sacks.clear();
        true
    }

    /// Gives back the ring's memory when the buffer is empty (a later
    /// write allocates again); returns whether it did.
    pub fn release_memory(&mut self) -> bool {
        let empty = self.is_empty();
        if empty {
            self.ring.release();
        }
        empty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;
    use quickcheck::{Arbitrary, Gen, quickcheck};

    fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut v = a.to_vec();
        v.extend_from_slice(b);
        v
    }

    #[test]
    fn wraps_the_ring_and_the_sequence_space() {
        let mut tx = SendBuf::new(10, Seq(u32::MAX - 3));
        assert_eq!(tx.write(b"abcdefgh"), 8);
        tx.advance_sent(8);
        assert_eq!(tx.acknowledge(Seq(u32::MAX - 3) + 6), 6);
        assert_eq!(tx.write(b"ijklmnop"), 8);
        let (a, b) = tx.peek_unsent(100);
        assert!(!b.is_empty(), "spans the ring's end");
        assert_eq!(concat(a, b), b"ijklmnop");
        let (a, b) = tx.range(tx.una(), 4).unwrap();
        assert_eq!(concat(a, b), b"ghij");
        assert_eq!(tx.nxt(), Seq(4));
        assert!(tx.range(tx.una() - 1, 1).is_none());
        assert!(tx.range(tx.una(), 11).is_none());
    }

    /// `write_with` appends what the filler reports (at most the room
    /// offered) after what was there, and says how much.
    #[test]
    fn write_with_appends_what_the_filler_wrote() {
        let mut tx = SendBuf::new(16, Seq(100));
        assert_eq!(tx.capacity(), 16);
        // The first write: the whole capacity is offered, unallocated
        // until now.
        let n = tx.write_with(|a, b| {
            assert_eq!(a.len() + b.len(), 16);
            a[..2].copy_from_slice(b"ab");
            2
        });
        assert_eq!(n, 2);
        let n = tx.write_with(|a, b| {
            assert_eq!(a.len() + b.len(), 14);
            a[..3].copy_from_slice(b"cde");
            3
        });
        assert_eq!(n, 3);
        assert_eq!(tx.tail(), Seq(105));
        let (a, b) = tx.peek_unsent(100);
        assert_eq!(concat(a, b), b"abcde");
        // A filler that claims more than the room gets the room.
        assert_eq!(tx.write_with(|_, _| 1000), 11);
        assert_eq!((tx.pending(), tx.available()), (16, 0));
    }

    /// Ten segments of 100 octets from 1000, the last five SACKed: the
    /// highest SACKed octet, the rescue segment (RFC 6675 rule 4: the
    /// highest unSACKed octets, up to an MSS) and the lost boundary
    /// (IsLost: more than (DupThresh − 1)·MSS octets SACKed above).
    #[test]
    fn sack_queries_name_the_right_octets() {
        let mut tx = SendBuf::new(4096, Seq(1000));
        tx.write(&[1; 1000]);
        tx.advance_sent(1000);
        assert_eq!(tx.high_sacked(), None);
        assert_eq!(tx.rescue_seg(100), Some((Seq(1900), 100)));
        assert_eq!(tx.lost_below(100), Seq(1000));
        tx.mark_sacked(Seq(1500), Seq(2000));
        assert_eq!(tx.high_sacked(), Some(Seq(2000)));
        // The hole [1000, 1500): its last 100 octets, or all of a short one.
        assert_eq!(tx.rescue_seg(100), Some((Seq(1400), 100)));
        assert_eq!(tx.rescue_seg(800), Some((Seq(1000), 500)));
        // 500 octets SACKed above the hole, more than 2 · 100.
        assert_eq!(tx.lost_below(100), Seq(1500));
        // With a 300-octet MSS, 500 is not more than 600: nothing lost.
        assert_eq!(tx.lost_below(300), Seq(1000));
        tx.mark_sacked(Seq(1000), Seq(1500));
        assert_eq!(tx.rescue_seg(100), None);
    }

    /// NextSeg's length counts both slices when the segment spans the
    /// ring's end.
    #[test]
    fn next_seg_spans_the_rings_end() {
        let mut tx = SendBuf::new(16, Seq(0));
        tx.write(&[0; 12]);
        tx.advance_sent(12);
        tx.acknowledge(Seq(10));
        tx.write(&[1; 12]);
        tx.advance_sent(12);
        // [10, 24) in flight, wrapping at 16; SACK the top so that the
        // hole [10, 20) is lost.
        tx.mark_sacked(Seq(20), Seq(24));
        let seg = tx.next_seg(Seq(0), 8).expect("a segment");
        assert_eq!((seg.seq, seg.len), (Seq(10), 8));
        let (a, b) = tx.range(Seq(10), 8).unwrap();
        assert!(!a.is_empty() && !b.is_empty(), "spans the end");
    }

    #[test]
    fn acks_outside_the_window_are_ignored() {
        let mut tx = SendBuf::new(100, Seq(1000));
        tx.write(&[7; 50]);
        tx.advance_sent(20);
        assert_eq!(tx.acknowledge(Seq(1021)), 0, "beyond SND.NXT");
        assert_eq!(tx.acknowledge(Seq(1000)), 0, "not new");
        assert_eq!(tx.acknowledge(Seq(999)), 0, "old");
        assert_eq!(tx.acknowledge(Seq(1020)), 20);
        assert_eq!((tx.unacked(), tx.pending()), (0, 30));
    }

    #[test]
    fn retransmission_skips_sacked_ranges() {
        let mut tx = SendBuf::new(100, Seq(0));
        tx.write(&(0..100).collect::<Vec<u8>>());
        tx.advance_sent(100);
        assert!(tx.mark_sacked(Seq(10), Seq(20)));
        assert!(tx.mark_sacked(Seq(30), Seq(40)));
        assert!(!tx.mark_sacked(Seq(90), Seq(101)), "past SND.NXT");
        let (seq, a, b) = tx.retransmit_data(Seq(0), 100).unwrap();
        assert_eq!((seq, concat(a, b)), (Seq(0), (0..10).collect::<Vec<u8>>()));
        let (seq, a, _) = tx.retransmit_data(Seq(12), 5).unwrap();
        assert_eq!((seq, a.len()), (Seq(20), 5));
        assert!(tx.is_sacked(Seq(35)) && !tx.is_sacked(Seq(25)));
        tx.acknowledge(Seq(15));
        assert!(tx.mark_sacked(Seq(5), Seq(50)), "cut to SND.UNA");
        assert_eq!(tx.scoreboard().sacked_bytes(), 35);
        tx.clear_sacks();
        assert!(!tx.is_sacked(Seq(35)));
    }

    #[test]
    fn next_seg_and_pipe_follow_rfc6675() {
        let mss = 10;
        let mut tx = SendBuf::new(200, Seq(0));
        tx.write(&[0; 200]);
        tx.advance_sent(100);
        // Segments 1, 3, 5, 7 of ten SACKed: holes 0, 2, 4, 6, 8, 9.
        for s in [1u32, 3, 5, 7] {
            tx.mark_sacked(Seq(s * 10), Seq(s * 10 + 10));
        }
        // Holes 0 and 2 have at least three SACKed ranges above: lost.
        // Hole 4 has two ranges, 20 octets above: not more than
        // (DupThresh − 1)·SMSS, so not lost.
        assert!(tx.is_lost(Seq(0), mss) && tx.is_lost(Seq(20), mss));
        assert!(!tx.is_lost(Seq(40), mss));
        let first = tx.next_seg(Seq(0), mss).unwrap();
        assert_eq!(
            first,
            NextSeg {
                seq: Seq(0),
                len: 10,
                lost: true
            }
        );
        let rule3 = tx.next_seg(Seq(30), mss).unwrap();
        assert_eq!(
            rule3,
            NextSeg {
                seq: Seq(40),
                len: 10,
                lost: false
            }
        );
        assert_eq!(tx.next_seg(Seq(80), mss), None, "above the highest SACK");
        // pipe: holes 4, 6, 8 and 9 are not lost (40 octets).
        assert_eq!(tx.pipe(Seq(0), mss), 40);
        // Retransmitting hole 0 counts it again.
        assert_eq!(tx.pipe(Seq(10), mss), 50);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Write(u8),
        Send(u8),
        Ack(u16),
        Sack(u16, u8),
        Rewind(u16),
        Resume(u16),
        ClearSacks,
        Release,
    }

    impl Arbitrary for Op {
        fn arbitrary(g: &mut Gen) -> Self {
            match u8::arbitrary(g) % 8 {
                6 => Self::Resume(u16::arbitrary(g) % 600),
                0 => Self::Write(u8::arbitrary(g)),
                1 => Self::Send(u8::arbitrary(g)),
                2 => Self::Ack(u16::arbitrary(g) % 600),
                3 => Self::Sack(u16::arbitrary(g) % 600, u8::arbitrary(g)),
                4 => Self::Rewind(u16::arbitrary(g) % 600),
                5 => Self::Release,
                _ => Self::ClearSacks,
            }
        }
    }

    quickcheck! {
        // SendBuf against a naive model: every byte ever written in a
        // vector, three counters, and a set of SACKed octets.
        fn matches_a_byte_model(start: u32, cap: u8, ops: Vec<Op>) -> bool {
            let cap = usize::from(cap) + 1;
            let mut tx = SendBuf::new(cap, Seq(start));
            let mut stream: Vec<u8> = Vec::new();
            let (mut una, mut nxt, mut sent_max) = (0u64, 0u64, 0u64);
            let mut sacked = BTreeSet::new();
            let seq = |off: u64| Seq(start.wrapping_add(off as u32));
            let mut next_byte = 0u8;
            for op in ops {
                match op {
                    Op::Write(n) => {
                        let data: Vec<u8> = (0..n).map(|i| next_byte.wrapping_add(i)).collect();
                        let room = cap - (stream.len() as u64 - una) as usize;
                        let took = tx.write(&data);
                        if took != data.len().min(room) { return false; }
                        stream.extend_from_slice(&data[..took]);
                        next_byte = next_byte.wrapping_add(took as u8);
                    }
                    Op::Send(n) => {
                        let want = u64::from(n).min(stream.len() as u64 - nxt);
                        if tx.advance_sent(usize::from(n)) as u64 != want { return false; }
                        nxt += want;
                        sent_max = sent_max.max(nxt);
                    }
                    Op::Ack(a) => {
                        let a = una + u64::from(a) % 300;
                        let got = tx.acknowledge(seq(a));
                        let want = if a > una && a <= sent_max { a - una } else { 0 };
                        if got as u64 != want { return false; }
                        una += want;
                        nxt = nxt.max(una);
                        sacked.retain(|&x| x >= una);
                    }
                    Op::Sack(l, len) => {
                        let l = una.saturating_sub(50) + u64::from(l) % 300;
                        let r = l + u64::from(len % 40) + 1;
                        let applied = tx.mark_sacked(seq(l), seq(r));
                        let valid = r <= sent_max && r > una;
                        if applied != valid { return false; }
                        if valid { sacked.extend(l.max(una)..r); }
                    }
                    Op::Rewind(to) => {
                        let to = una + u64::from(to) % 300;
                        tx.rewind_to(seq(to));
                        nxt = to.clamp(una, nxt);
                    }
                    Op::Resume(to) => {
                        let to = una + u64::from(to) % 300;
                        tx.resume_to(seq(to));
                        nxt = to.clamp(nxt, sent_max);
                    }
                    Op::ClearSacks => {
                        tx.clear_sacks();
                        sacked.clear();
                    }
                    // Memory goes back exactly when nothing is held; the
                    // model does not change.
                    Op::Release => {
                        let empty = stream.len() as u64 == una;
                        if tx.release_memory() != empty || (empty && tx.allocated() != 0) {
                            return false;
                        }
                    }
                }
                // Invariants and agreement with the model.
                if tx.una() != seq(una) || tx.nxt() != seq(nxt) || tx.tail() != seq(stream.len() as u64) {
                    return false;
                }
                if tx.unacked() as u64 != nxt - una || tx.pending() as u64 != stream.len() as u64 - nxt {
                    return false;
                }
                if tx.available() + (stream.len() as u64 - una) as usize != cap {
                    return false;
                }
                let held = (stream.len() as u64 - una) as usize;
                if let Some((a, b)) = tx.range(seq(una), held) {
                    if concat(a, b) != stream[una as usize..] { return false; }
                } else {
                    return false;
                }
                if (una..sent_max).any(|x| tx.is_sacked(seq(x)) != sacked.contains(&x)) {
                    return false;
                }
                // Retransmission from SND.UNA starts at the first unSACKed
                // octet and stops at the next SACKed one.
                let first_hole = (una..nxt).find(|x| !sacked.contains(x));
                match (tx.retransmit_data(seq(una), 1000), first_hole) {
                    (None, None) => {}
                    (Some((s, a, b)), Some(h)) => {
                        let end = (h..nxt).find(|x| sacked.contains(x)).unwrap_or(nxt);
                        if s != seq(h) || concat(a, b) != stream[h as usize..end as usize] { return false; }
                    }
                    _ => return false,
                }
            }
            true
        }
    }
}

#[cfg(test)]
mod growth_tests {
    use super::*;
    use alloc::vec::Vec;
    use quickcheck::quickcheck;

    quickcheck! {
        // Writes and acknowledgments in large steps: memory grows and the
        // bytes held are always the ones written.
        fn keeps_data_across_growth(steps: Vec<(u16, u16)>, start: u32) -> bool {
            let cap = 200_000;
            let mut tx = SendBuf::new(cap, Seq(start));
            let mut stream = Vec::new();
            let mut una = 0usize;
            for (w, a) in steps {
                let data: Vec<u8> = (0..usize::from(w) * 3).map(|i| (stream.len() + i) as u8).collect();
                let n = tx.write(&data);
                stream.extend_from_slice(&data[..n]);
                tx.advance_sent(usize::MAX);
                let ack = (una + usize::from(a)).min(stream.len());
                una += tx.acknowledge(Seq(start) + ack as u32);
                let (x, y) = tx.range(tx.una(), stream.len() - una).unwrap();
                if [x, y].concat() != stream[una..] || tx.allocated() > cap {
                    return false;
                }
            }
            true
        }
    }

    #[test]
    fn an_idle_buffer_holds_no_memory() {
        let mut tx = SendBuf::new(256 * 1024, Seq(0));
        assert_eq!(tx.allocated(), 0);
        tx.write(&[0; 10]);
        assert_eq!(tx.allocated(), 1024);
        tx.write(&[0; 10_000]);
        assert_eq!(tx.allocated(), 16_384);
    }
}
