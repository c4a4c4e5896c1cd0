//! A byte ring of bounded capacity addressed by 64-bit stream offsets,
//! whose memory grows on demand.

use alloc::vec;
use alloc::vec::Vec;

/// The least memory a ring takes once it holds anything.
const MIN_ALLOCATION: usize = 1024;

/// Bytes stored at `offset % len`, where `len` (the memory held) grows in
/// powers of two up to `capacity` as the owner asks for room
/// ([`Ring::reserve`]). An idle connection holds no memory for its
/// buffers, and one that moves little holds little. The owner keeps track
/// of which offsets hold live data; the ring only copies.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    bytes: Vec<u8>,
    capacity: usize,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bytes: Vec::new(),
            capacity,
        }
    }

    /// The most the ring may hold.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Memory held now.
    pub(crate) fn allocated(&self) -> usize {
        self.bytes.len()
    }

    /// Makes room for the offsets `[live, end)`, keeping the bytes of
    /// `[live, live + held)` (whatever the old memory covered) where they
    /// belong. `end - live` must not exceed the capacity.
    pub(crate) fn reserve(&mut self, live: u64, end: u64) {
        let need = (end.saturating_sub(live) as usize).min(self.capacity);
        let old = self.bytes.len();
        if need <= old {
            return;
        }
        let new_len = need
            .next_power_of_two()
            .max(MIN_ALLOCATION)
            .min(self.capacity);
        let mut bytes = vec![0; new_len];
        // Every offset the old memory could hold live data for, each to
        // its place in the new: runs that are contiguous in both, at most
        // three (a byte at a time cost ten instructions an octet, 5 M of
        // a 16 MiB bulk transfer whose rings grow to 256 KiB).
        let (mut offset, mut left) = (live, old);
        while left > 0 {
            let from = (offset % old as u64) as usize;
            let to = (offset % new_len as u64) as usize;
            let run = left.min(old - from).min(new_len - to);
            bytes[to..to + run].copy_from_slice(&self.bytes[from..from + run]);
            offset += run as u64;
            left -= run;
        }
        self.bytes = bytes;
    }

    /// Gives the memory back; the next `reserve` allocates again. Only
    /// for a ring with no live data.
    pub(crate) fn release(&mut self) {
        self.bytes = Vec::new();
    }

    fn index(&self, offset: u64) -> usize {
        (offset % self.bytes.len().max(1) as u64) as usize
    }

    /// The `len` bytes from `offset`, as at most two slices. `len` must be
    /// within the memory held (`reserve` first).
    pub(crate) fn slices(&self, offset: u64, len: usize) -> (&[u8], &[u8]) {
        let len = len.min(self.bytes.len());
        if len == 0 {
            return (&[], &[]);
        }
        let start = self.index(offset);
        let first = len.min(self.bytes.len() - start);
        (
            &self.bytes[start..start + first],
            &self.bytes[..len - first],
        )
    }

    /// The `len` bytes from `offset`, writable, as at most two slices.
    pub(crate) fn slices_mut(&mut self, offset: u64, len: usize) -> (&mut [u8], &mut [u8]) {
        let len = len.min(self.bytes.len());
        if len == 0 {
            return (&mut [], &mut []);
        }
        let start = self.index(offset);
        let first = len.min(self.bytes.len() - start);
        let (head, tail) = self.bytes.split_at_mut(start);
        (&mut tail[..first], &mut head[..len - first])
    }

    /// Copies `data` in at `offset` (wrapping); the room must be reserved.
    pub(crate) fn write(&mut self, offset: u64, data: &[u8]) {
        let (a, b) = self.slices_mut(offset, data.len());
        let first = a.len();
        a.copy_from_slice(&data[..first]);
        b.copy_from_slice(&data[first..first + b.len()]);
    }

    /// Copies the `out.len()` bytes from `offset` out.
    pub(crate) fn read(&self, offset: u64, out: &mut [u8]) {
        let (a, b) = self.slices(offset, out.len());
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::VecDeque;
    use quickcheck::quickcheck;

    quickcheck! {
        /// A ring used as a FIFO of live bytes `[live, end)` against a
        /// queue: what is read is what was written, across growth and
        /// wrapping; memory is none, or a power of two of at least 1 KiB,
        /// or the capacity, never less than the live window, never more
        /// than the capacity, and never shrinks until released.
        fn is_a_fifo_whose_memory_grows_in_powers_of_two(cap: u16, start: u32, ops: alloc::vec::Vec<(bool, u16)>) -> bool {
            let cap = usize::from(cap) + 1;
            let mut ring = Ring::new(cap);
            let mut model: VecDeque<u8> = VecDeque::new();
            let (mut live, mut end) = (u64::from(start), u64::from(start));
            let mut counter = 0u8;
            for (push, n) in ops {
                let n = usize::from(n) % (2 * cap + 1);
                let before = ring.allocated();
                if push {
                    let n = n.min(cap - model.len());
                    ring.reserve(live, end + n as u64);
                    let data: alloc::vec::Vec<u8> = (0..n)
                        .map(|_| {
                            counter = counter.wrapping_add(1);
                            counter
                        })
                        .collect();
                    ring.write(end, &data);
                    model.extend(&data);
                    end += n as u64;
                } else {
                    let n = n.min(model.len());
                    let mut out = alloc::vec![0u8; n];
                    ring.read(live, &mut out);
                    let want: alloc::vec::Vec<u8> = model.drain(..n).collect();
                    if out != want {
                        return false;
                    }
                    live += n as u64;
                }
                let a = ring.allocated();
                let shape = a == 0 || a == cap || (a.is_power_of_two() && a >= MIN_ALLOCATION);
                if !shape || a > cap || a < model.len() || a < before {
                    return false;
                }
                if model.is_empty() && live % 3 == 0 {
                    ring.release();
                    if ring.allocated() != 0 {
                        return false;
                    }
                }
            }
            ring.capacity() == cap
        }
    }

    /// Growth keeps live bytes that straddle the old memory's end where
    /// they belong in the new.
    #[test]
    fn growth_moves_wrapped_bytes() {
        let mut ring = Ring::new(4096);
        ring.reserve(1000, 1024 + 1000);
        assert_eq!(ring.allocated(), 1024);
        let data: alloc::vec::Vec<u8> = (0..100).collect();
        ring.write(1000, &data);
        ring.reserve(1000, 1000 + 2000);
        assert_eq!(ring.allocated(), 2048);
        let mut out = [0u8; 100];
        ring.read(1000, &mut out);
        assert_eq!(&out[..], &data[..]);
        // Room already held needs no new memory.
        ring.reserve(1000, 1000 + 2048);
        assert_eq!(ring.allocated(), 2048);
        ring.reserve(1000, 1000 + 3000);
        assert_eq!(ring.allocated(), 4096, "capped at the capacity");
    }
}
