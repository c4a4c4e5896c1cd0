//! The TCP segment and option codec of vtcp.
//!
//! - [`SegmentView`]: a zero-copy view over any `T: AsRef<[u8]>`, with
//!   setters when `T: AsMut<[u8]>`.
//! - [`Segment`]: every header field typed, the payload borrowed
//!   (`Segment<&[u8]>`, from [`Segment::parse`]) or owned
//!   (`Segment<Vec<u8>>`); [`Segment::emit`] writes it into a caller's
//!   buffer, [`Segment::to_bytes`] into a new one.
//! - [`Options`] and [`TcpOption`]: MSS (RFC 9293 §3.2), window scale and
//!   timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018), and any
//!   other kind kept with its bytes.
//! - [`tso`]: a super-segment cut into segments, as TSO does it.
//! - [`checksum`]: the Internet checksum (RFC 1071) with IPv4 and IPv6
//!   pseudo-headers, and incremental update (RFC 1624).
//!
//! A parsed segment re-encodes to the identical bytes: options keep the
//! layout they arrived in.
//!
//! # Untrusted input
//!
//! Parsing never panics and never allocates: a short buffer, a data offset
//! below 5 or past the end, an option whose length is 0, 1, wrong for its
//! kind or past the header, and a SACK option with more than four blocks
//! each give a [`WireError`]. Unknown options are skipped by their length
//! (RFC 9293 §3.1). This is checked by property tests and fuzz targets.
//!
//! ```
//! use vtcp_wire::{Flags, Options, Segment, TcpOption, checksum::PseudoHeader};
//!
//! let syn = Segment {
//!     src_port: 41672,
//!     dst_port: 7000,
//!     seq: 2896179228.into(),
//!     flags: Flags::SYN,
//!     window: 64240,
//!     options: Options::build(&[
//!         TcpOption::Mss(1460),
//!         TcpOption::SackPermitted,
//!         TcpOption::timestamp(3167118612, 0),
//!         TcpOption::Nop,
//!         TcpOption::WindowScale(7),
//!     ])?,
//!     payload: &[][..],
//!     ..Default::default()
//! };
//! let pseudo = PseudoHeader::V4 { src: [198, 18, 0, 1].into(), dst: [198, 18, 0, 2].into() };
//! let mut buf = [0u8; 60];
//! let len = syn.emit_with_checksum(&mut buf, &pseudo)?;
//!
//! let parsed = Segment::parse(&buf[..len])?;
//! assert_eq!(parsed.options.mss(), Some(1460));
//! assert!(parsed.has_flag(Flags::SYN));
//! assert_eq!(parsed.seg_len(), 1);
//! assert!(vtcp_wire::SegmentView::new_checked(&buf[..len])?.verify_checksum(&pseudo));
//! # Ok::<(), vtcp_wire::WireError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;

pub mod checksum;
mod error;
pub mod fastopen;
mod flags;
pub mod options;
mod segment;
pub mod tso;
mod view;

pub use error::WireError;
pub use fastopen::{FastOpen, FastOpenCookie};
pub use flags::Flags;
#[cfg(feature = "alloc")]
pub use options::parse_options;
pub use options::{
    Agreed, MAX_OPTIONS_LEN, MAX_SACK_BLOCKS, Offer, OptionValues, Options, OptionsIter, SackBlock,
    SackBlocks, TcpOption, Timestamp, get_fast_open, get_mss, get_sack_blocks, get_timestamp,
    get_wscale, has_sack_perm, validate_options,
};
pub use segment::{DefaultPayload, ParsedSegment, Segment};
pub use view::SegmentView;
pub use vtcp_seq::Seq;

/// Length of the fixed TCP header, without options (RFC 9293 §3.1).
pub const HEADER_LEN: usize = 20;

/// Longest TCP header: data offset 15 words (RFC 9293 §3.1).
pub const MAX_HEADER_LEN: usize = 60;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
