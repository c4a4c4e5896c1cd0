//! TCP send and receive buffers.
//!
//! - [`SendBuf`]: a fixed-capacity ring of the bytes written and not yet
//!   acknowledged, tracking SND.UNA, SND.NXT and the tail; any range is
//!   borrowed as at most two slices, so segments are built without an
//!   extra copy. Its [`Scoreboard`] of SACKed ranges serves RFC 6675's
//!   IsLost, NextSeg and pipe.
//! - [`RecvBuf`]: reassembly of in-order and out-of-order data within the
//!   receive window, SACK blocks in RFC 2018 §4's order, D-SACK (RFC 2883),
//!   and a cap on out-of-order ranges that never drops data at RCV.NXT.
//!
//! Sequence numbers wrap; inside, both buffers count octets with 64-bit
//! stream offsets that do not, and convert at the edges.
//!
//! ```
//! use vtcp_buf::{RecvBuf, SendBuf};
//! use vtcp_seq::Seq;
//!
//! let mut tx = SendBuf::new(8, Seq(1000));
//! assert_eq!(tx.write(b"hello, world"), 8); // the ring holds 8
//! let (a, b) = tx.peek_unsent(5);
//! assert_eq!([a, b].concat(), b"hello");
//! tx.advance_sent(5);
//! assert_eq!(tx.acknowledge(Seq(1003)), 3);
//! assert_eq!(tx.available(), 3);
//!
//! let mut rx = RecvBuf::new(16, Seq(5000));
//! assert_eq!(rx.insert(Seq(5003), b"lo"), 0); // out of order: held
//! assert_eq!(rx.insert(Seq(5000), b"hel"), 5); // fills the hole
//! let mut out = [0u8; 8];
//! assert_eq!(rx.read(&mut out), 5);
//! assert_eq!(&out[..5], b"hello");
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod recv;
mod ring;
mod scoreboard;
mod send;

pub use recv::{DEFAULT_MAX_OOO_RANGES, RecvBuf};
pub use scoreboard::{DUP_THRESH, Scoreboard};
pub use send::{NextSeg, SendBuf};

/// The largest capacity a buffer takes, 2^30 octets: RFC 7323 §2.3's
/// largest window. A larger request is cut to it, so that every octet a
/// buffer holds lies within 2^31 of SND.UNA or RCV.NXT and its sequence
/// number names it alone.
pub const MAX_CAPACITY: usize = 1 << 30;

use vtcp_seq::Seq;

/// Maps between wrapping sequence numbers and 64-bit stream offsets, given
/// one point where both are known.
///
/// Offset to sequence number is exact for any offset. Sequence number to
/// offset needs a reference offset near the answer: a sequence number
/// names one octet of every 2^32, and the one meant is the one within
/// 2^31 of the reference (RFC 9293 §3.4: a window is at most 2^30, so the
/// octets a buffer can be asked about lie within 2^31 of SND.UNA or
/// RCV.NXT). The reference moves with the stream; the known point does
/// not need to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeqMap {
    seq: Seq,
    offset: u64,
}

impl SeqMap {
    pub(crate) fn new(seq: Seq, offset: u64) -> Self {
        Self { seq, offset }
    }

    /// The offset of `seq`, taken as within 2^31 of the offset `near`.
    /// Offsets before the stream's start clamp to 0.
    pub(crate) fn offset_near(&self, seq: Seq, near: u64) -> u64 {
        let delta = i64::from(seq - self.seq(near));
        near.saturating_add_signed(delta)
    }

    /// The sequence number of the octet at `offset`, for any offset.
    pub(crate) fn seq(&self, offset: u64) -> Seq {
        self.seq + offset.wrapping_sub(self.offset) as u32
    }
}

#[cfg(test)]
mod seq_map_tests {
    use super::*;
    use quickcheck::quickcheck;

    quickcheck! {
        // Against a model in u64: an offset anywhere in a stream of up to
        // 2^40 octets from any ISN, looked up near any reference within
        // 2^31 of it (exactly 2^31 is ambiguous), comes back exact; and
        // seq() is offset + ISN mod 2^32.
        fn round_trips_near_any_reference(isn: u32, at: u64, back: i32) -> bool {
            let map = SeqMap::new(Seq(isn), 0);
            let at = at % (1 << 40);
            let back = back.max(-i32::MAX);
            let near = at.saturating_add_signed(-i64::from(back));
            if near == 0 && at > i32::MAX as u64 {
                return true; // clamped at the stream's start: not a reference
            }
            map.seq(at) == Seq(isn.wrapping_add(at as u32))
                && map.offset_near(map.seq(at), near) == at
        }
    }

    /// The edges: offsets across 2^31 and 2^32 from ISNs near both wraps,
    /// with the reference on either side.
    #[test]
    fn crosses_the_2_31_and_2_32_edges() {
        for isn in [0, 1 << 31, (1 << 31) - 1, u32::MAX, u32::MAX - 1460] {
            let map = SeqMap::new(Seq(isn), 0);
            for edge in [1u64 << 31, 1 << 32, 3 << 31, 1 << 33, (1 << 32) * 5 + 7] {
                for at in [edge - 1, edge, edge + 1] {
                    for near in [at - 1000, at, at + 1000, at - (1 << 30), at + (1 << 30)] {
                        assert_eq!(map.offset_near(map.seq(at), near), at, "{isn} {at} {near}");
                    }
                }
            }
        }
        // Before the stream's start: clamped to 0.
        let map = SeqMap::new(Seq(10), 0);
        assert_eq!(map.offset_near(Seq(5), 100), 0);
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
