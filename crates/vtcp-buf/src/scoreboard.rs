//! Sets of octet ranges, and the RFC 6675 scoreboard built on one.

use alloc::vec::Vec;

/// RFC 6675 §2 DupThresh: duplicate ACKs (or SACKed segments) that signal
/// loss.
pub const DUP_THRESH: u64 = 3;

/// Disjoint, non-adjacent half-open ranges `[start, end)` of stream
/// offsets, in order, with their total length: a sorted vector, so that
/// lookups are binary searches and, once it has grown to its working size,
/// nothing allocates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RangeSet {
    ranges: Vec<(u64, u64)>,
    bytes: u64,
}

impl RangeSet {
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.ranges.clear();
        self.bytes = 0;
    }

    /// Index of the first range that ends after `x`.
    fn first_ending_after(&self, x: u64) -> usize {
        self.ranges.partition_point(|&(_, e)| e <= x)
    }

    /// The range holding `x`, if any.
    pub(crate) fn containing(&self, x: u64) -> Option<(u64, u64)> {
        let &(s, e) = self.ranges.get(self.first_ending_after(x))?;
        (s <= x).then_some((s, e))
    }

    pub(crate) fn contains(&self, x: u64) -> bool {
        self.containing(x).is_some()
    }

    /// The first range that ends after `x`: the one holding `x`, or the
    /// next above it.
    pub(crate) fn at_or_after(&self, x: u64) -> Option<(u64, u64)> {
        self.ranges.get(self.first_ending_after(x)).copied()
    }

    pub(crate) fn first(&self) -> Option<(u64, u64)> {
        self.ranges.first().copied()
    }

    pub(crate) fn last(&self) -> Option<(u64, u64)> {
        self.ranges.last().copied()
    }

    /// Ranges in ascending order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().copied()
    }

    /// Adds `[start, end)`, merging with what it touches or adjoins;
    /// returns the merged range.
    pub(crate) fn insert(&mut self, start: u64, end: u64) -> (u64, u64) {
        if start >= end {
            return (start, end);
        }
        // Ranges from `lo` up to `hi` (exclusive) touch the new one.
        let lo = self.ranges.partition_point(|&(_, e)| e < start);
        let hi = self.ranges.partition_point(|&(s, _)| s <= end);
        let mut merged = (start, end);
        for &(s, e) in &self.ranges[lo..hi] {
            merged = (merged.0.min(s), merged.1.max(e));
            self.bytes -= e - s;
        }
        self.ranges.splice(lo..hi, [merged]);
        self.bytes += merged.1 - merged.0;
        merged
    }

    /// Removes everything below `x`.
    pub(crate) fn remove_below(&mut self, x: u64) {
        let cut = self.first_ending_after(x);
        for &(s, e) in &self.ranges[..cut] {
            self.bytes -= e - s;
        }
        self.ranges.drain(..cut);
        // The first range left ends above x; what of it lies below goes.
        if let Some(first) = self.ranges.first_mut() {
            let below = x.saturating_sub(first.0);
            self.bytes -= below;
            first.0 += below;
        }
    }

    /// Removes the highest range.
    pub(crate) fn pop_last(&mut self) -> Option<(u64, u64)> {
        let (s, e) = self.ranges.pop()?;
        self.bytes -= e - s;
        Some((s, e))
    }

    /// Calls `f` with each part of `[start, end)` that no range covers, in
    /// order; returns how many parts there were.
    pub(crate) fn for_each_gap(&self, start: u64, end: u64, mut f: impl FnMut(u64, u64)) -> usize {
        let mut parts = 0;
        let mut at = start;
        while at < end {
            let Some((s, e)) = self.at_or_after(at) else {
                f(at, end);
                parts += 1;
                break;
            };
            // A range from `end` on leaves the gap up to `end`, and ends
            // the walk (its end is beyond).
            let s = s.min(end);
            if s > at {
                f(at, s);
                parts += 1;
            }
            at = e;
        }
        parts
    }
}

/// The sender's record of SACKed octets (RFC 6675 §3), in stream offsets.
///
/// Each query walks only the ranges it needs: IsLost stops after
/// DupThresh ranges or (DupThresh − 1)·SMSS octets above the point asked
/// about, so the cost grows with the number of SACK holes, never with the
/// amount of data in flight.
///
/// The ranges are allocated at the first SACK and kept: an idle
/// connection, or one that never saw loss, carries a pointer.
#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    sacked: Option<alloc::boxed::Box<RangeSet>>,
}

/// What a scoreboard without its ranges reads as.
static NO_RANGES: RangeSet = RangeSet {
    ranges: Vec::new(),
    bytes: 0,
};

impl PartialEq for Scoreboard {
    fn eq(&self, other: &Self) -> bool {
        self.set() == other.set()
    }
}

impl Eq for Scoreboard {}

impl Scoreboard {
    /// The ranges, empty when never allocated.
    #[inline]
    fn set(&self) -> &RangeSet {
        self.sacked.as_deref().unwrap_or(&NO_RANGES)
    }

    /// SACKed octets held.
    pub fn sacked_bytes(&self) -> u64 {
        self.set().bytes()
    }

    /// Separate SACKed ranges held.
    pub fn ranges(&self) -> usize {
        self.set().len()
    }

    /// The octet at `offset` was SACKed.
    pub fn is_sacked(&self, offset: u64) -> bool {
        self.set().contains(offset)
    }

    /// One past the highest SACKed octet (RFC 6675 HighACK's counterpart
    /// for SACKs); `None` when nothing is SACKed.
    pub fn high_sacked(&self) -> Option<u64> {
        self.set().last().map(|(_, e)| e)
    }

    pub(crate) fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        self.sacked
            .get_or_insert_with(alloc::boxed::Box::default)
            .insert(start, end);
    }

    #[inline]
    pub(crate) fn remove_below(&mut self, una: u64) {
        if let Some(set) = &mut self.sacked {
            set.remove_below(una);
        }
    }

    pub(crate) fn clear(&mut self) {
        if let Some(set) = &mut self.sacked {
            set.clear();
        }
    }

    pub(crate) fn at_or_after(&self, x: u64) -> Option<(u64, u64)> {
        self.set().at_or_after(x)
    }

    /// RFC 6675 §4 IsLost(SeqNum): DupThresh discontiguous SACKed ranges
    /// lie above `offset`, or more than (DupThresh − 1)·SMSS SACKed
    /// octets do.
    pub fn is_lost(&self, offset: u64, mss: u64) -> bool {
        let limit = (DUP_THRESH - 1) * mss.max(1);
        let mut ranges = 0;
        let mut bytes = 0;
        for (s, e) in self.set().iter().rev() {
            if e <= offset + 1 {
                break;
            }
            ranges += 1;
            bytes += e - s.max(offset + 1);
            if ranges >= DUP_THRESH || bytes > limit {
                return true;
            }
        }
        false
    }

    /// The lowest offset at or above which no unSACKed octet counts as
    /// lost: unSACKed octets below it are lost, those above are not. Every
    /// octet of a hole between SACKed ranges has the same ranges above it,
    /// so a hole is lost or not as a whole.
    pub(crate) fn lost_below(&self, mss: u64) -> u64 {
        let limit = (DUP_THRESH - 1) * mss.max(1);
        let mut ranges = 0;
        let mut bytes = 0;
        for (s, e) in self.set().iter().rev() {
            ranges += 1;
            bytes += e - s;
            if ranges >= DUP_THRESH || bytes > limit {
                // The hole just below this range, and all below it, lost.
                return s;
            }
        }
        0
    }

    /// The highest unSACKed run of `[una, nxt)`, if any.
    pub(crate) fn highest_hole(&self, una: u64, nxt: u64) -> Option<(u64, u64)> {
        let mut end = nxt;
        for (s, e) in self.set().iter().rev() {
            if s >= end {
                continue;
            }
            if e >= end {
                // This range covers the top: the hole is below it.
                end = s;
                continue;
            }
            let start = e.max(una);
            return (end > start).then_some((start, end));
        }
        (end > una).then_some((una, end))
    }

    /// RFC 6675 §4 SetPipe over `[una, nxt)`: each unSACKed octet counts
    /// once if not lost, and once more if retransmitted (below
    /// `high_rxt`).
    pub fn pipe(&self, una: u64, nxt: u64, high_rxt: u64, mss: u64) -> u64 {
        let lost_below = self.lost_below(mss).max(una);
        let mut pipe = 0;
        let mut at = una;
        let mut count_hole = |from: u64, to: u64| {
            if from >= to {
                return;
            }
            // Not lost: [max(from, lost_below), to).
            pipe += to.saturating_sub(from.max(lost_below));
            // Retransmitted: [from, min(to, high_rxt)).
            pipe += to.min(high_rxt).saturating_sub(from);
        };
        for (s, e) in self.set().iter() {
            if e <= una {
                continue;
            }
            if s >= nxt {
                break;
            }
            count_hole(at, s.max(una));
            at = e;
        }
        count_hole(at, nxt);
        pipe
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use quickcheck::quickcheck;

    /// The highest hole at its edges: none when SACKs cover everything
    /// from SND.UNA up (a range below SND.UNA left over too), the run
    /// below the lowest SACK, the whole flight when nothing is SACKed.
    #[test]
    fn highest_hole_at_its_edges() {
        let mut sb = Scoreboard::default();
        assert_eq!(sb.highest_hole(10, 20), Some((10, 20)));
        assert_eq!(sb.highest_hole(20, 20), None);
        sb.insert(15, 20);
        assert_eq!(sb.highest_hole(10, 20), Some((10, 15)));
        sb.insert(10, 15);
        sb.insert(0, 5);
        assert_eq!(sb.highest_hole(10, 20), None);
        assert_eq!(sb.highest_hole(3, 20), Some((5, 10)));
        assert_eq!(sb.ranges(), 2);
    }

    quickcheck! {
        // RangeSet against a set of octets.
        fn range_set_matches_a_set_of_octets(ops: Vec<(u8, u8, u8)>) -> bool {
            let mut set = RangeSet::default();
            let mut model = BTreeSet::new();
            for (op, a, b) in ops {
                let (a, b) = (u64::from(a), u64::from(a) + u64::from(b % 16));
                match op % 5 {
                    0 => {
                        set.clear();
                        model.clear();
                    }
                    1 => {
                        // The highest run of the model goes.
                        let popped = set.pop_last();
                        let top = model.last().copied();
                        let run = top.map(|t| {
                            let s = (0..=t).rev().take_while(|x| model.contains(x)).last().unwrap_or(t);
                            (s, t + 1)
                        });
                        if popped != run {
                            return false;
                        }
                        if let Some((s, e)) = run {
                            model.retain(|x| !(s..e).contains(x));
                        }
                    }
                    2 => {
                        set.remove_below(a);
                        model.retain(|&x| x >= a);
                    }
                    _ => {
                        let merged = set.insert(a, b);
                        model.extend(a..b);
                        // The merged range is the model's run around it.
                        if a < b && !(set.containing(a) == Some(merged) && set.contains(b - 1)) {
                            return false;
                        }
                    }
                }
                // Disjoint and non-adjacent, with the right total.
                let ranges: Vec<_> = set.iter().collect();
                if ranges.windows(2).any(|w| w[0].1 >= w[1].0) {
                    return false;
                }
                if set.bytes() != model.len() as u64 || set.is_empty() != model.is_empty() {
                    return false;
                }
                let runs = model.iter().filter(|&&x| x == 0 || !model.contains(&(x - 1))).count();
                if set.len() != runs || set.len() != ranges.len() {
                    return false;
                }
                if set.first().map(|r| r.0) != model.first().copied()
                    || set.last().map(|r| r.1) != model.last().map(|x| x + 1)
                {
                    return false;
                }
                if (0..300).any(|x| set.contains(x) != model.contains(&x)) {
                    return false;
                }
                // The first range ending after x starts at the model's first
                // octet at or above x, or holds x.
                for x in (0..300).step_by(7) {
                    let next = model.range(x..).next().copied();
                    let got = set.at_or_after(x);
                    if got.map(|r| r.0.max(x)) != next {
                        return false;
                    }
                }
                let mut gap_octets = Vec::new();
                let mut empty_gap = false;
                let parts = set.for_each_gap(10, 200, |s, e| {
                    empty_gap |= s >= e;
                    gap_octets.extend(s..e);
                });
                let from_model: Vec<u64> = (10..200).filter(|x| !model.contains(x)).collect();
                if gap_octets != from_model || empty_gap {
                    return false;
                }
                // One part per maximal run of uncovered octets.
                let gap_runs = from_model
                    .iter()
                    .filter(|&&x| x == 10 || model.contains(&(x - 1)))
                    .count();
                if parts != gap_runs {
                    return false;
                }
            }
            true
        }

        // IsLost, its boundary, the highest hole and SetPipe against
        // their per-octet definitions.
        fn is_lost_and_pipe_match_rfc6675(sacks: Vec<(u8, u8)>, mss: u8, high_rxt: u8, una: u8) -> bool {
            let mss = u64::from(mss % 8) + 1;
            let mut sb = Scoreboard::default();
            for (a, b) in sacks {
                sb.insert(u64::from(a), u64::from(a) + u64::from(b % 8));
            }
            let sacked_runs = (0..300).filter(|&x| sb.is_sacked(x) && (x == 0 || !sb.is_sacked(x - 1))).count();
            if sb.ranges() != sacked_runs {
                return false;
            }
            let (una, nxt) = (u64::from(una % 64), 270u64);
            let lost = |s: u64| {
                let above: Vec<u64> = (s + 1..300).filter(|x| sb.is_sacked(*x)).collect();
                let runs = above.iter().enumerate().filter(|(i, x)| *i == 0 || above[i - 1] + 1 != **x).count() as u64;
                runs >= DUP_THRESH || above.len() as u64 > (DUP_THRESH - 1) * mss
            };
            for s in 0..nxt {
                // IsLost of any octet, SACKed ones too: only what lies
                // above it counts.
                if sb.is_lost(s, mss) != lost(s) {
                    return false;
                }
                // The boundary: unSACKed octets are lost exactly below it.
                if !sb.is_sacked(s) && lost(s) != (s < sb.lost_below(mss)) {
                    return false;
                }
            }
            // The highest hole: the run of unSACKed octets ending with the
            // highest one below nxt.
            let top = (una..nxt).rev().find(|x| !sb.is_sacked(*x));
            let hole = top.map(|t| {
                let start = (una..=t).rev().take_while(|x| !sb.is_sacked(*x)).last().unwrap_or(t);
                (start, t + 1)
            });
            if sb.highest_hole(una, nxt) != hole {
                return false;
            }
            let high_rxt = u64::from(high_rxt);
            let pipe: u64 = (una..nxt)
                .filter(|x| !sb.is_sacked(*x))
                .map(|x| u64::from(!lost(x)) + u64::from(x < high_rxt))
                .sum();
            pipe == sb.pipe(una, nxt, high_rxt, mss)
        }
    }
}
