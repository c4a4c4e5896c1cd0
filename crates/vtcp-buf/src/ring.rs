//! A fixed-capacity byte ring addressed by 64-bit stream offsets.

use alloc::boxed::Box;
use alloc::vec;

/// Bytes stored at `offset % capacity`. The owner keeps track of which
/// offsets hold live data; the ring only copies.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    bytes: Box<[u8]>,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bytes: vec![0; capacity].into_boxed_slice(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.bytes.len()
    }

    fn index(&self, offset: u64) -> usize {
        // capacity is non-zero whenever an offset is used (callers check
        // lengths against it first).
        (offset % self.bytes.len().max(1) as u64) as usize
    }

    /// The `len` bytes from `offset`, as at most two slices.
    pub(crate) fn slices(&self, offset: u64, len: usize) -> (&[u8], &[u8]) {
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
        if len == 0 {
            return (&mut [], &mut []);
        }
        let start = self.index(offset);
        let first = len.min(self.bytes.len() - start);
        let (head, tail) = self.bytes.split_at_mut(start);
        (&mut tail[..first], &mut head[..len - first])
    }

    /// Copies `data` in at `offset` (wrapping).
    pub(crate) fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let start = self.index(offset);
        let first = data.len().min(self.bytes.len() - start);
        self.bytes[start..start + first].copy_from_slice(&data[..first]);
        self.bytes[..data.len() - first].copy_from_slice(&data[first..]);
    }

    /// Copies the `out.len()` bytes from `offset` out.
    pub(crate) fn read(&self, offset: u64, out: &mut [u8]) {
        let (a, b) = self.slices(offset, out.len());
        out[..a.len()].copy_from_slice(a);
        out[a.len()..].copy_from_slice(b);
    }
}
