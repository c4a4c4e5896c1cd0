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

use vtcp_seq::Seq;

/// Maps between wrapping sequence numbers and 64-bit stream offsets, given
/// one point where both are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeqMap {
    seq: Seq,
    offset: u64,
}

impl SeqMap {
    pub(crate) fn new(seq: Seq, offset: u64) -> Self {
        Self { seq, offset }
    }

    /// The offset of `seq`, taken as within 2^31 of the known point.
    /// Offsets before the stream's start clamp to 0.
    pub(crate) fn offset(&self, seq: Seq) -> u64 {
        let delta = i64::from(seq - self.seq);
        self.offset.saturating_add_signed(delta)
    }

    pub(crate) fn seq(&self, offset: u64) -> Seq {
        self.seq + offset.wrapping_sub(self.offset) as u32
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
