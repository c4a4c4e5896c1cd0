//! TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018).

use core::fmt;
use core::ops::Deref;

use vtcp_seq::Seq;

use crate::WireError;
use crate::fastopen::{FAST_OPEN_EXP_MAGIC, FastOpen, FastOpenCookie, exp_cookie_octets};

/// Option kinds this codec knows by name (IANA "TCP Option Kind Numbers").
pub mod kind {
    /// End of option list (RFC 9293 §3.2).
    pub const END: u8 = 0;
    /// No-operation (RFC 9293 §3.2).
    pub const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 §3.2).
    pub const MSS: u8 = 2;
    /// Window scale (RFC 7323 §2).
    pub const WSCALE: u8 = 3;
    /// SACK permitted (RFC 2018 §2).
    pub const SACK_PERM: u8 = 4;
    /// SACK (RFC 2018 §3).
    pub const SACK: u8 = 5;
    /// Timestamps (RFC 7323 §3).
    pub const TIMESTAMP: u8 = 8;
    /// TCP Fast Open cookie (RFC 7413 §4.1.1).
    pub const FAST_OPEN: u8 = 34;
    /// The shared experimental kind (RFC 6994), which TFO used with the
    /// magic 0xF989 before kind 34.
    pub const EXPERIMENTAL: u8 = 254;
}

/// Room for options in a TCP header: 60 − 20 bytes (RFC 9293 §3.1).
pub const MAX_OPTIONS_LEN: usize = 40;

/// At most this many SACK blocks fit in one option (RFC 2018 §3).
pub const MAX_SACK_BLOCKS: usize = 4;

/// The largest window-scale shift a receiver honours (RFC 7323 §2.3).
pub const MAX_WSCALE: u8 = 14;

/// One SACK block: the octets `[left, right)` were received (RFC 2018 §3).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug)]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: Seq,
    /// Sequence number just past the block.
    pub right: Seq,
}

impl SackBlock {
    /// A block covering `[left, right)`.
    pub const fn new(left: u32, right: u32) -> Self {
        Self {
            left: Seq(left),
            right: Seq(right),
        }
    }
}

/// Up to four SACK blocks, stored inline.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SackBlocks {
    blocks: [SackBlock; MAX_SACK_BLOCKS],
    len: u8,
}

impl SackBlocks {
    /// No blocks.
    #[inline]
    pub const fn new() -> Self {
        Self {
            blocks: [SackBlock {
                left: Seq(0),
                right: Seq(0),
            }; MAX_SACK_BLOCKS],
            len: 0,
        }
    }

    /// Copies `blocks`, refusing more than four.
    pub fn from_slice(blocks: &[SackBlock]) -> Result<Self, WireError> {
        let mut out = Self::new();
        for &block in blocks {
            out.push(block)?;
        }
        Ok(out)
    }

    /// Appends a block, refusing a fifth.
    #[inline]
    pub fn push(&mut self, block: SackBlock) -> Result<(), WireError> {
        let slot =
            self.blocks
                .get_mut(usize::from(self.len))
                .ok_or(WireError::TooManySackBlocks {
                    blocks: MAX_SACK_BLOCKS + 1,
                })?;
        *slot = block;
        self.len += 1;
        Ok(())
    }

    /// The blocks, in wire order.
    #[inline]
    pub fn as_slice(&self) -> &[SackBlock] {
        &self.blocks[..usize::from(self.len)]
    }
}

impl Deref for SackBlocks {
    type Target = [SackBlock];
    #[inline]
    fn deref(&self) -> &[SackBlock] {
        self.as_slice()
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The timestamps option's two values (RFC 7323 §3).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug)]
pub struct Timestamp {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the TSval echoed back.
    pub tsecr: u32,
}

/// One TCP option, typed.
///
/// Unknown kinds keep their data bytes borrowed from the header, so a
/// parsed option list re-encodes to the identical bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TcpOption<'a> {
    /// End of option list; what follows in the header is padding.
    End,
    /// No-operation, used for alignment.
    Nop,
    /// Maximum segment size the sender can receive.
    Mss(u16),
    /// Window-scale shift, as received (see [`get_wscale`] for the clamp).
    WindowScale(u8),
    /// SACK permitted (in a SYN).
    SackPermitted,
    /// SACK blocks.
    Sack(SackBlocks),
    /// Timestamps.
    Timestamp(Timestamp),
    /// TCP Fast Open (RFC 7413 §4.1.1, kind 34): a cookie, or `None`, a
    /// cookie request. A cookie of a length §4.1.1 does not allow reads
    /// as [`TcpOption::Unknown`].
    FastOpen(Option<FastOpenCookie>),
    /// The experimental TCP Fast Open option (kind 254, magic 0xF989),
    /// as [`TcpOption::FastOpen`].
    FastOpenExp(Option<FastOpenCookie>),
    /// A kind this codec does not interpret.
    Unknown {
        /// Option kind.
        kind: u8,
        /// The bytes after kind and length.
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// A SACK option carrying `blocks`; refuses more than four.
    pub fn sack(blocks: &[SackBlock]) -> Result<Self, WireError> {
        SackBlocks::from_slice(blocks).map(TcpOption::Sack)
    }

    /// A timestamps option.
    pub const fn timestamp(tsval: u32, tsecr: u32) -> Self {
        TcpOption::Timestamp(Timestamp { tsval, tsecr })
    }

    /// The option's kind byte.
    pub const fn kind(&self) -> u8 {
        match self {
            TcpOption::End => kind::END,
            TcpOption::Nop => kind::NOP,
            TcpOption::Mss(_) => kind::MSS,
            TcpOption::WindowScale(_) => kind::WSCALE,
            TcpOption::SackPermitted => kind::SACK_PERM,
            TcpOption::Sack(_) => kind::SACK,
            TcpOption::Timestamp(_) => kind::TIMESTAMP,
            TcpOption::FastOpen(_) => kind::FAST_OPEN,
            TcpOption::FastOpenExp(_) => kind::EXPERIMENTAL,
            TcpOption::Unknown { kind, .. } => *kind,
        }
    }

    /// Bytes the option takes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            TcpOption::End | TcpOption::Nop => 1,
            TcpOption::Mss(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::Sack(blocks) => 2 + 8 * blocks.len(),
            TcpOption::Timestamp(_) => 10,
            TcpOption::FastOpen(c) => 2 + c.map_or(0, |c| c.len()),
            TcpOption::FastOpenExp(c) => 4 + c.map_or(0, |c| c.len()),
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the start of `buf`, which [`Options::build`]
    /// made at most 40 bytes long, and returns its length.
    #[inline]
    fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.wire_len();
        let out = buf
            .get_mut(..len)
            .ok_or(WireError::OptionsTooLong { len })?;
        out[0] = self.kind();
        if len > 1 {
            // It fits in the buffer of at most 40 bytes, so the length
            // fits in its byte.
            debug_assert!(len <= MAX_OPTIONS_LEN);
            out[1] = len as u8;
        }
        match self {
            TcpOption::End | TcpOption::Nop | TcpOption::SackPermitted => {}
            TcpOption::Mss(mss) => out[2..4].copy_from_slice(&mss.to_be_bytes()),
            TcpOption::WindowScale(shift) => out[2] = *shift,
            TcpOption::Sack(blocks) => {
                for (chunk, block) in out[2..].chunks_exact_mut(8).zip(blocks.iter()) {
                    chunk[..4].copy_from_slice(&block.left.0.to_be_bytes());
                    chunk[4..].copy_from_slice(&block.right.0.to_be_bytes());
                }
            }
            TcpOption::Timestamp(ts) => {
                out[2..6].copy_from_slice(&ts.tsval.to_be_bytes());
                out[6..10].copy_from_slice(&ts.tsecr.to_be_bytes());
            }
            TcpOption::FastOpen(c) => {
                out[2..].copy_from_slice(c.as_ref().map_or(&[][..], |c| c.as_bytes()));
            }
            TcpOption::FastOpenExp(c) => {
                out[2..4].copy_from_slice(&FAST_OPEN_EXP_MAGIC.to_be_bytes());
                out[4..].copy_from_slice(c.as_ref().map_or(&[][..], |c| c.as_bytes()));
            }
            TcpOption::Unknown { data, .. } => out[2..].copy_from_slice(data),
        }
        Ok(len)
    }
}

#[inline]
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Checks the option at `offset` of `area`, returning its kind and length.
///
/// Follows RFC 9293 §3.1: End and NOP are one byte; every other kind has a
/// length byte covering kind and length, which must fit the kind and the
/// area. Unknown kinds are skipped by their length (RFC 9293 §3.2: "MUST be
/// prepared to handle an illegal option length … without crashing").
#[inline(always)]
fn check_at(area: &[u8], offset: usize) -> Result<(u8, usize), WireError> {
    let rest = area.get(offset..).unwrap_or_default();
    let Some(&kind) = rest.first() else {
        return Err(WireError::OptionTruncated { kind: 0, offset });
    };
    if kind == kind::END || kind == kind::NOP {
        return Ok((kind, 1));
    }
    let &len_byte = rest
        .get(1)
        .ok_or(WireError::OptionTruncated { kind, offset })?;
    let len = usize::from(len_byte);
    let len_fits_kind = match kind {
        _ if len < 2 => false,
        kind::MSS => len == 4,
        kind::WSCALE => len == 3,
        kind::SACK_PERM => len == 2,
        kind::TIMESTAMP => len == 10,
        kind::SACK => len > 2 && (len - 2) % 8 == 0,
        _ => true,
    };
    if !len_fits_kind {
        return Err(WireError::BadOptionLength {
            kind,
            len: len_byte,
            offset,
        });
    }
    if kind == kind::SACK && (len - 2) / 8 > MAX_SACK_BLOCKS {
        return Err(WireError::TooManySackBlocks {
            blocks: (len - 2) / 8,
        });
    }
    if len > rest.len() {
        return Err(WireError::OptionTruncated { kind, offset });
    }
    Ok((kind, len))
}

/// Reads an option that [`check_at`] accepted: `bytes` is the whole
/// option, kind and length included.
#[inline]
fn read_checked(kind: u8, bytes: &[u8]) -> TcpOption<'_> {
    let body = bytes.get(2..).unwrap_or_default();
    match (kind, body.len()) {
        (kind::END, _) => TcpOption::End,
        (kind::NOP, _) => TcpOption::Nop,
        (kind::MSS, 2) => TcpOption::Mss(u16::from_be_bytes([body[0], body[1]])),
        (kind::WSCALE, 1) => TcpOption::WindowScale(body[0]),
        (kind::SACK_PERM, 0) => TcpOption::SackPermitted,
        (kind::TIMESTAMP, 8) => TcpOption::Timestamp(Timestamp {
            tsval: be32(&body[0..4]),
            tsecr: be32(&body[4..8]),
        }),
        (kind::SACK, _) => TcpOption::Sack(read_sack_blocks(body)),
        (kind::FAST_OPEN, _) => match FastOpen::from_cookie_octets(body) {
            FastOpen::Request => TcpOption::FastOpen(None),
            FastOpen::Cookie(c) => TcpOption::FastOpen(Some(c)),
            FastOpen::Invalid { .. } => TcpOption::Unknown { kind, data: body },
        },
        (kind::EXPERIMENTAL, _) => {
            match exp_cookie_octets(body).map(FastOpen::from_cookie_octets) {
                Some(FastOpen::Request) => TcpOption::FastOpenExp(None),
                Some(FastOpen::Cookie(c)) => TcpOption::FastOpenExp(Some(c)),
                _ => TcpOption::Unknown { kind, data: body },
            }
        }
        _ => TcpOption::Unknown { kind, data: body },
    }
}

/// The blocks of a SACK option's body; at most four are read.
#[inline(always)]
fn read_sack_blocks(body: &[u8]) -> SackBlocks {
    let mut blocks = SackBlocks::new();
    for (slot, chunk) in blocks.blocks.iter_mut().zip(body.chunks_exact(8)) {
        *slot = SackBlock::new(be32(&chunk[..4]), be32(&chunk[4..]));
        blocks.len += 1;
    }
    blocks
}

/// Decodes the option at `offset` of `area`, returning it and its length.
#[inline]
fn decode_at(area: &[u8], offset: usize) -> Result<(TcpOption<'_>, usize), WireError> {
    let (kind, len) = check_at(area, offset)?;
    Ok((read_checked(kind, &area[offset..offset + len]), len))
}

/// Iterator over the options of a header's option area.
///
/// Yields each option in wire order (NOPs and a final End included) and
/// stops after End, at the end of the area, or after yielding an error.
#[derive(Clone, Debug)]
pub struct OptionsIter<'a> {
    area: &'a [u8],
    offset: usize,
}

impl<'a> OptionsIter<'a> {
    /// Iterates over `area`, the bytes between the fixed header and the
    /// data.
    pub const fn new(area: &'a [u8]) -> Self {
        Self { area, offset: 0 }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<TcpOption<'a>, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.offset >= self.area.len() {
            return None;
        }
        match decode_at(self.area, self.offset) {
            Ok((option, len)) => {
                self.offset = if option == TcpOption::End {
                    self.area.len()
                } else {
                    self.offset + len
                };
                Some(Ok(option))
            }
            Err(e) => {
                self.offset = self.area.len();
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for OptionsIter<'_> {}

/// Checks every option of an option area, as [`OptionsIter`] reads them.
#[inline]
pub fn validate_options(area: &[u8]) -> Result<(), WireError> {
    let mut offset = 0;
    while offset < area.len() {
        let (kind, len) = check_at(area, offset)?;
        if kind == kind::END {
            break;
        }
        offset += len;
    }
    Ok(())
}

/// Parses an option area into a list.
#[cfg(feature = "alloc")]
pub fn parse_options(area: &[u8]) -> Result<alloc::vec::Vec<TcpOption<'_>>, WireError> {
    OptionsIter::new(area).collect()
}

/// A header's option area, stored inline: at most 40 bytes, a multiple of 4,
/// every option in it valid.
///
/// Keeps the bytes as received, so a parsed segment re-encodes to the
/// identical bytes (Linux's `NOP,NOP,TS` layout included), and reads typed
/// values out of them on demand.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Options {
    bytes: [u8; MAX_OPTIONS_LEN],
    len: u8,
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// No options.
    pub const fn new() -> Self {
        Self {
            bytes: [0; MAX_OPTIONS_LEN],
            len: 0,
        }
    }

    /// Copies and validates an option area from the wire.
    #[inline(always)]
    pub fn from_bytes(area: &[u8]) -> Result<Self, WireError> {
        if area.len() > MAX_OPTIONS_LEN {
            return Err(WireError::OptionsTooLong { len: area.len() });
        }
        if !area.len().is_multiple_of(4) {
            return Err(WireError::OptionsNotAligned { len: area.len() });
        }
        validate_options(area)?;
        Ok(Self {
            bytes: copy_area(area),
            len: area.len() as u8,
        })
    }

    /// An option area already checked: at most 40 bytes, a multiple of 4,
    /// every option valid.
    #[inline(always)]
    pub(crate) fn from_checked(area: &[u8]) -> Self {
        debug_assert!(area.len() <= MAX_OPTIONS_LEN && area.len().is_multiple_of(4));
        debug_assert_eq!(validate_options(area), Ok(()));
        Self {
            bytes: copy_area(area),
            len: area.len() as u8,
        }
    }

    /// Encodes `options` in order and pads to a 4-byte boundary.
    ///
    /// Padding is NOPs, or zeros when the list ends with End (RFC 9293
    /// §3.2: the space after End is zero). More than 40 bytes is refused.
    pub fn build(options: &[TcpOption<'_>]) -> Result<Self, WireError> {
        let mut bytes = [0; MAX_OPTIONS_LEN];
        let mut len = 0;
        for option in options {
            let need = len + option.wire_len();
            if need > MAX_OPTIONS_LEN {
                let total = options.iter().map(TcpOption::wire_len).sum();
                return Err(WireError::OptionsTooLong { len: total });
            }
            len += option.emit(&mut bytes[len..])?;
        }
        // 40 is a multiple of 4, so padding never overflows.
        let padded = len.next_multiple_of(4);
        if options.last() != Some(&TcpOption::End) {
            bytes[len..padded].fill(kind::NOP);
        }
        Ok(Self {
            bytes,
            len: padded as u8,
        })
    }

    /// The options of a segment after the handshake in Linux's layout:
    /// `NOP,NOP,TS` when `timestamp` is given, then `NOP,NOP,SACK` when
    /// there are blocks. The same bytes as [`Options::build`] makes of
    /// that list, written without going through it: this is on every
    /// segment's path (the counterpart of the parser's fast path for the
    /// same layouts). More than 40 bytes (four blocks with timestamps) is
    /// refused.
    #[inline]
    pub fn with_timestamp_and_sack(
        timestamp: Option<Timestamp>,
        blocks: &[SackBlock],
    ) -> Result<Self, WireError> {
        let ts_len = if timestamp.is_some() { 12 } else { 0 };
        let sack_len = if blocks.is_empty() {
            0
        } else {
            4 + 8 * blocks.len()
        };
        let len = ts_len + sack_len;
        if len > MAX_OPTIONS_LEN {
            return Err(WireError::OptionsTooLong { len });
        }
        let mut bytes = [0; MAX_OPTIONS_LEN];
        if let Some(ts) = timestamp {
            bytes[..4].copy_from_slice(&[kind::NOP, kind::NOP, kind::TIMESTAMP, 10]);
            bytes[4..8].copy_from_slice(&ts.tsval.to_be_bytes());
            bytes[8..12].copy_from_slice(&ts.tsecr.to_be_bytes());
        }
        if sack_len > 0 {
            let area = &mut bytes[ts_len..len];
            // At most 36 octets, so the length fits in its byte.
            area[..4].copy_from_slice(&[kind::NOP, kind::NOP, kind::SACK, (sack_len - 2) as u8]);
            for (chunk, block) in area[4..].chunks_exact_mut(8).zip(blocks) {
                chunk[..4].copy_from_slice(&block.left.0.to_be_bytes());
                chunk[4..].copy_from_slice(&block.right.0.to_be_bytes());
            }
        }
        Ok(Self {
            bytes,
            len: len as u8,
        })
    }

    /// The encoded option area.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length of the option area in bytes (a multiple of 4).
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// No options.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The options in wire order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = TcpOption<'_>> + '_ {
        // Validated on construction, so no item is an error.
        OptionsIter::new(self.as_bytes()).filter_map(Result::ok)
    }

    /// Every value the engine reads from options, in one pass.
    #[inline]
    pub fn values(&self) -> OptionValues {
        // Validated on construction, so this cannot fail.
        OptionValues::parse(self.as_bytes()).unwrap_or_default()
    }

    /// The MSS option's value, if present.
    #[inline]
    pub fn mss(&self) -> Option<u16> {
        get_mss(self.iter())
    }

    /// The window-scale shift clamped to 14, if present (see [`get_wscale`]).
    #[inline]
    pub fn wscale(&self) -> Option<u8> {
        get_wscale(self.iter())
    }

    /// SACK permitted is present.
    #[inline]
    pub fn sack_permitted(&self) -> bool {
        has_sack_perm(self.iter())
    }

    /// The SACK blocks of the first SACK option; empty when there is none.
    #[inline]
    pub fn sack_blocks(&self) -> SackBlocks {
        get_sack_blocks(self.iter())
    }

    /// The timestamps option, if present.
    #[inline]
    pub fn timestamp(&self) -> Option<Timestamp> {
        get_timestamp(self.iter())
    }
}

/// Copies an option area of 0 to 40 bytes, a multiple of 4, into a zeroed
/// array.
///
/// One fixed-size copy per possible length instead of a variable-length
/// `memcpy`: parsing is on every segment's path, and the call and the
/// store-forwarding stalls it causes cost more than the rest of parsing.
#[inline(always)]
fn copy_area(area: &[u8]) -> [u8; MAX_OPTIONS_LEN] {
    let mut out = [0; MAX_OPTIONS_LEN];
    macro_rules! by_length {
        ($($n:literal)*) => {
            match area.len() {
                $($n => out[..$n].copy_from_slice(&area[..$n]),)*
                _ => {}
            }
        };
    }
    by_length!(4 8 12 16 20 24 28 32 36 40);
    out
}

/// What one end is willing to use of the options a SYN negotiates: its
/// side of [`OptionValues::agree`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Offer {
    /// Window scaling with this shift (RFC 7323 §2), or none.
    pub window_scale: Option<u8>,
    /// SACK (RFC 2018).
    pub sack: bool,
    /// Timestamps (RFC 7323 §3).
    pub timestamps: bool,
}

/// What both ends use after the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Agreed {
    /// Window scaling: (the peer's shift, ours), both clamped to 14.
    pub window_scale: Option<(u8, u8)>,
    /// SACK.
    pub sack: bool,
    /// Timestamps.
    pub timestamps: bool,
}

/// The values of the options the engine reads, each from its kind's first
/// occurrence (see [`Options::values`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OptionValues {
    /// MSS, if present.
    pub mss: Option<u16>,
    /// Window-scale shift clamped to 14, if present (RFC 7323 §2.3).
    pub wscale: Option<u8>,
    /// SACK permitted is present.
    pub sack_permitted: bool,
    /// SACK blocks; empty when there is no SACK option.
    pub sack_blocks: SackBlocks,
    /// Timestamps, if present.
    pub timestamp: Option<Timestamp>,
    /// The first TCP Fast Open option (kind 34, or 254 with TFO's magic),
    /// if present (RFC 7413 §4.1.1).
    pub fast_open: Option<FastOpen>,
}

impl OptionValues {
    /// The options a connection uses, from the peer's SYN (these values)
    /// and `ours`: each needs both ends (RFC 7323 §2.2: scaling only when
    /// both SYNs carry the option; §3.2: timestamps; RFC 2018 §2: SACK
    /// permitted). The one negotiation of the engine: the SYN-ACK, the
    /// cookie SYN-ACK, an active open's SYN-ACK and a cookie's ACK all
    /// come here.
    pub fn agree(&self, ours: &Offer) -> Agreed {
        Agreed {
            window_scale: self
                .wscale
                .zip(ours.window_scale)
                .map(|(peer, us)| (peer.min(14), us.min(14))),
            sack: self.sack_permitted && ours.sack,
            timestamps: self.timestamp.is_some() && ours.timestamps,
        }
    }

    /// Checks an option area and reads its values in one pass, without
    /// copying it: the fast path for a segment seen through a
    /// [`SegmentView`](crate::SegmentView).
    ///
    /// Accepts and refuses exactly what [`validate_options`] does.
    #[inline(always)]
    pub fn parse(area: &[u8]) -> Result<Self, WireError> {
        if let Some(v) = Self::parse_linux_layout(area) {
            return Ok(v);
        }
        let mut v = Self::default();
        let (mut seen_sack, mut seen_wscale) = (false, false);
        let mut at = 0;
        while at < area.len() {
            let (kind, len) = check_at(area, at)?;
            let body = &area[at + 2.min(len)..at + len];
            match kind {
                kind::END => break,
                kind::MSS => {
                    v.mss.get_or_insert(u16::from_be_bytes([body[0], body[1]]));
                }
                kind::WSCALE if !seen_wscale => {
                    seen_wscale = true;
                    v.wscale = Some(body[0].min(MAX_WSCALE));
                }
                kind::SACK_PERM => v.sack_permitted = true,
                kind::TIMESTAMP if v.timestamp.is_none() => {
                    v.timestamp = Some(Timestamp {
                        tsval: be32(&body[0..4]),
                        tsecr: be32(&body[4..8]),
                    });
                }
                kind::SACK if !seen_sack => {
                    seen_sack = true;
                    v.sack_blocks = read_sack_blocks(body);
                }
                kind::FAST_OPEN if v.fast_open.is_none() => {
                    v.fast_open = Some(FastOpen::from_cookie_octets(body));
                }
                kind::EXPERIMENTAL if v.fast_open.is_none() => {
                    v.fast_open = exp_cookie_octets(body).map(FastOpen::from_cookie_octets);
                }
                _ => {}
            }
            at += len;
        }
        Ok(v)
    }
}

impl OptionValues {
    /// The layouts that make up nearly all of real traffic, read without
    /// the general loop: none at all; Linux's `NOP,NOP,TS` on every segment
    /// of a connection with timestamps, and `NOP,NOP,SACK` after it during
    /// recovery; its SYN's `MSS,SACK_PERM,TS,NOP,WS`. `None` for any other bytes, which then
    /// take the general path; both give the same values.
    #[inline(always)]
    fn parse_linux_layout(area: &[u8]) -> Option<Self> {
        let ts = |b: &[u8]| Timestamp {
            tsval: be32(&b[0..4]),
            tsecr: be32(&b[4..8]),
        };
        let nop_nop_ts = |a: &[u8]| a[..4] == [kind::NOP, kind::NOP, kind::TIMESTAMP, 10];
        match area.len() {
            0 => Some(Self::default()),
            12 if nop_nop_ts(area) => Some(Self {
                timestamp: Some(ts(&area[4..12])),
                ..Self::default()
            }),
            // NOP,NOP,TS,NOP,NOP,SACK with 1 to 3 blocks: Linux's ACK
            // during loss recovery.
            24 | 32 | 40
                if nop_nop_ts(area)
                    && area[12..15] == [kind::NOP, kind::NOP, kind::SACK]
                    && usize::from(area[15]) == area.len() - 14 =>
            {
                Some(Self {
                    timestamp: Some(ts(&area[4..12])),
                    sack_blocks: read_sack_blocks(&area[16..]),
                    ..Self::default()
                })
            }
            20 if area[..2] == [kind::MSS, 4]
                && area[4..8] == [kind::SACK_PERM, 2, kind::TIMESTAMP, 10]
                && area[16..19] == [kind::NOP, kind::WSCALE, 3] =>
            {
                Some(Self {
                    mss: Some(u16::from_be_bytes([area[2], area[3]])),
                    wscale: Some(area[19].min(MAX_WSCALE)),
                    sack_permitted: true,
                    timestamp: Some(ts(&area[8..16])),
                    ..Self::default()
                })
            }
            _ => None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Display for Options {
    /// tcpdump's notation: `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, option) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match option {
                TcpOption::End => f.write_str("eol")?,
                TcpOption::Nop => f.write_str("nop")?,
                TcpOption::Mss(v) => write!(f, "mss {v}")?,
                TcpOption::WindowScale(v) => write!(f, "wscale {v}")?,
                TcpOption::SackPermitted => f.write_str("sackOK")?,
                TcpOption::Sack(blocks) => {
                    write!(f, "sack {}", blocks.len())?;
                    for b in blocks.iter() {
                        write!(f, " {{{}:{}}}", b.left, b.right)?;
                    }
                }
                TcpOption::Timestamp(ts) => write!(f, "TS val {} ecr {}", ts.tsval, ts.tsecr)?,
                TcpOption::FastOpen(c) | TcpOption::FastOpenExp(c) => {
                    // packetdrill's notation: `FO 0102...`, `FOEXP`.
                    let exp = matches!(option, TcpOption::FastOpenExp(_));
                    f.write_str(if exp { "FOEXP" } else { "FO" })?;
                    if let Some(c) = c {
                        f.write_str(" ")?;
                        for b in c.as_bytes() {
                            write!(f, "{b:02x}")?;
                        }
                    }
                }
                TcpOption::Unknown { kind, data } => {
                    write!(f, "unknown-{kind} len {}", data.len())?;
                }
            }
        }
        Ok(())
    }
}

/// Anything that yields options: a slice of them, or [`Options::iter`].
fn each<'a, I>(options: I) -> impl Iterator<Item = TcpOption<'a>>
where
    I: IntoIterator,
    I::Item: core::borrow::Borrow<TcpOption<'a>>,
{
    use core::borrow::Borrow;
    options.into_iter().map(|o| *o.borrow())
}

/// The first MSS option's value.
pub fn get_mss<'a, I>(options: I) -> Option<u16>
where
    I: IntoIterator,
    I::Item: core::borrow::Borrow<TcpOption<'a>>,
{
    each(options).find_map(|o| match o {
        TcpOption::Mss(v) => Some(v),
        _ => None,
    })
}

/// The first window-scale option's shift, clamped to 14.
///
/// `None` means the option is absent (no scaling, RFC 7323 §2.2). RFC 7323
/// §2.3: a shift above 14 is used as 14; the raw value stays in
/// [`TcpOption::WindowScale`].
pub fn get_wscale<'a, I>(options: I) -> Option<u8>
where
    I: IntoIterator,
    I::Item: core::borrow::Borrow<TcpOption<'a>>,
{
    each(options).find_map(|o| match o {
        TcpOption::WindowScale(v) => Some(v.min(MAX_WSCALE)),
        _ => None,
    })
}

/// A SACK-permitted option is present.
pub fn has_sack_perm<'a, I>(options: I) -> bool
where
    I: IntoIterator,
    I::Item: core::borrow::Borrow<TcpOption<'a>>,
{
    each(options).any(|o| o == TcpOption::SackPermitted)
}

/// The first SACK option's blocks, empty when absent.
pub fn get_sack_blocks<'a, I>(options: I) -> SackBlocks
where
    I: IntoIterator,
    I::Item: core::borrow::Borrow<TcpOption<'a>>,
{
    each(options)
        .find_map(|o| match o {
            TcpOption::Sack(blocks) => Some(blocks),
            _ => None,
        })
        .unwrap_or_default()
}

/// The first TCP Fast Open option (kind 34, or the experimental one), as
/// [`OptionValues::fast_open`] reads it: one with a cookie of a length
/// RFC 7413 §4.1.1 does not allow is [`FastOpen::Invalid`].
pub fn get_fast_open<'a, I>(options: I) -> Option<FastOpen>
where
    I: IntoIterator,
    I::Item: core::borrow::Borrow<TcpOption<'a>>,
{
    each(options).find_map(|o| match o {
        TcpOption::FastOpen(c) | TcpOption::FastOpenExp(c) => {
            Some(c.map_or(FastOpen::Request, FastOpen::Cookie))
        }
        TcpOption::Unknown {
            kind: kind::FAST_OPEN,
            data,
        } => Some(FastOpen::from_cookie_octets(data)),
        TcpOption::Unknown {
            kind: kind::EXPERIMENTAL,
            data,
        } => exp_cookie_octets(data).map(FastOpen::from_cookie_octets),
        _ => None,
    })
}

/// The first timestamps option.
pub fn get_timestamp<'a, I>(options: I) -> Option<Timestamp>
where
    I: IntoIterator,
    I::Item: core::borrow::Borrow<TcpOption<'a>>,
{
    each(options).find_map(|o| match o {
        TcpOption::Timestamp(ts) => Some(ts),
        _ => None,
    })
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for SackBlock {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Self::new(u.arbitrary()?, u.arbitrary()?))
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Timestamp {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Self {
            tsval: u.arbitrary()?,
            tsecr: u.arbitrary()?,
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for TcpOption<'a> {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u.int_in_range(0..=9)? {
            0 => TcpOption::End,
            1 => TcpOption::Nop,
            2 => TcpOption::Mss(u.arbitrary()?),
            3 => TcpOption::WindowScale(u.arbitrary()?),
            4 => TcpOption::SackPermitted,
            5 => {
                let n = u.int_in_range(1..=MAX_SACK_BLOCKS)?;
                let mut blocks = SackBlocks::new();
                for _ in 0..n {
                    blocks
                        .push(u.arbitrary()?)
                        .map_err(|_| arbitrary::Error::IncorrectFormat)?;
                }
                TcpOption::Sack(blocks)
            }
            6 => TcpOption::Timestamp(u.arbitrary()?),
            7 => TcpOption::FastOpen(u.arbitrary()?),
            8 => TcpOption::FastOpenExp(u.arbitrary()?),
            _ => {
                // Kinds with a meaning of their own would decode as that
                // meaning, so only unassigned-here kinds are generated.
                let kind = match u.int_in_range(9..=253)? {
                    kind::FAST_OPEN => 253,
                    k => k,
                };
                let len = u.int_in_range(0..=MAX_OPTIONS_LEN - 2)?;
                TcpOption::Unknown {
                    kind,
                    data: u.bytes(len)?,
                }
            }
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Options {
    /// A valid option block: arbitrary options, as many as fit, with End
    /// (if drawn) last.
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut list = [TcpOption::Nop; MAX_OPTIONS_LEN];
        let mut n = 0;
        let mut len = 0;
        while n < MAX_OPTIONS_LEN && u.arbitrary::<bool>()? {
            let option: TcpOption<'a> = u.arbitrary()?;
            if len + option.wire_len() > MAX_OPTIONS_LEN {
                break;
            }
            len += option.wire_len();
            list[n] = option;
            n += 1;
            if option == TcpOption::End {
                break;
            }
        }
        // At most 40 bytes, and 40 is a multiple of 4: padding fits.
        Self::build(&list[..n]).map_err(|_| arbitrary::Error::IncorrectFormat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each option is agreed exactly when both ends want it; the shifts
    /// are the two ends' own, clamped to 14 (RFC 7323 §2.3).
    #[test]
    fn agreement_needs_both_ends() {
        for bits in 0u8..64 {
            let peer = OptionValues {
                wscale: (bits & 1 != 0).then_some(15),
                sack_permitted: bits & 2 != 0,
                timestamp: (bits & 4 != 0).then_some(Timestamp { tsval: 1, tsecr: 0 }),
                ..OptionValues::default()
            };
            let ours = Offer {
                window_scale: (bits & 8 != 0).then_some(6),
                sack: bits & 16 != 0,
                timestamps: bits & 32 != 0,
            };
            let a = peer.agree(&ours);
            let both = |p: u8, o: u8| bits & p != 0 && bits & o != 0;
            assert_eq!(a.window_scale, both(1, 8).then_some((14, 6)), "{bits:06b}");
            assert_eq!(a.sack, both(2, 16), "{bits:06b}");
            assert_eq!(a.timestamps, both(4, 32), "{bits:06b}");
        }
    }

    /// The direct writer gives the bytes `build` makes of the same list,
    /// reads back to the same values, and refuses what does not fit.
    #[test]
    fn timestamp_and_sack_layout_is_builds() {
        let blocks: [SackBlock; 4] =
            core::array::from_fn(|i| SackBlock::new(i as u32 * 1000 + 7, i as u32 * 1000 + 900));
        for ts in [
            None,
            Some(Timestamp {
                tsval: 0x0102_0304,
                tsecr: 0xfffe_fdfc,
            }),
        ] {
            for n in 0..=4 {
                let mut list = alloc::vec::Vec::new();
                if let Some(ts) = ts {
                    list.extend([TcpOption::Nop, TcpOption::Nop, TcpOption::Timestamp(ts)]);
                }
                if n > 0 {
                    list.extend([TcpOption::Nop, TcpOption::Nop]);
                    list.push(TcpOption::sack(&blocks[..n]).unwrap());
                }
                let direct = Options::with_timestamp_and_sack(ts, &blocks[..n]);
                assert_eq!(direct, Options::build(&list), "{ts:?}, {n} blocks");
                if let Ok(o) = direct {
                    let v = o.values();
                    assert_eq!((v.timestamp, v.sack_blocks.as_slice()), (ts, &blocks[..n]));
                }
            }
        }
    }

    fn one(bytes: &[u8]) -> Result<TcpOption<'_>, WireError> {
        OptionsIter::new(bytes).next().expect("an option")
    }

    #[test]
    fn decodes_each_known_kind() {
        assert_eq!(one(&[2, 4, 0x05, 0xb4]), Ok(TcpOption::Mss(1460)));
        assert_eq!(one(&[3, 3, 7]), Ok(TcpOption::WindowScale(7)));
        assert_eq!(one(&[4, 2]), Ok(TcpOption::SackPermitted));
        assert_eq!(
            one(&[8, 10, 0, 0, 0, 1, 0, 0, 0, 2]),
            Ok(TcpOption::timestamp(1, 2))
        );
        assert_eq!(
            one(&[5, 10, 0, 0, 0, 1, 0, 0, 0, 2]),
            TcpOption::sack(&[SackBlock::new(1, 2)])
        );
        // TCP Fast Open (RFC 7413 §4.1.1): a request, a cookie, the
        // experimental kind with its magic; another magic is unknown.
        assert_eq!(one(&[34, 2]), Ok(TcpOption::FastOpen(None)));
        let cookie = FastOpenCookie::new(&[1, 2, 3, 4]).unwrap();
        assert_eq!(
            one(&[34, 6, 1, 2, 3, 4]),
            Ok(TcpOption::FastOpen(Some(cookie)))
        );
        assert_eq!(one(&[254, 4, 0xf9, 0x89]), Ok(TcpOption::FastOpenExp(None)));
        assert_eq!(
            one(&[254, 8, 0xf9, 0x89, 1, 2, 3, 4]),
            Ok(TcpOption::FastOpenExp(Some(cookie)))
        );
        assert_eq!(
            one(&[254, 4, 0xf9, 0x88]),
            Ok(TcpOption::Unknown {
                kind: 254,
                data: &[0xf9, 0x88]
            })
        );
    }

    /// A TFO option of each cookie length round-trips: built, it reads
    /// back as itself and as the values' `fast_open`; a cookie of a
    /// length RFC 7413 §4.1.1 does not allow keeps its bytes (as Unknown)
    /// and reads as `Invalid`, and the segment's other options stand.
    #[test]
    fn fast_open_options_round_trip_and_bad_cookies_stand_apart() {
        let octets: [u8; 38] = core::array::from_fn(|i| i as u8 + 1);
        for len in 0..=38usize {
            for exp in [false, true] {
                let mut bytes = alloc::vec![kind::MSS, 4, 5, 0xb4];
                if exp {
                    bytes.extend([kind::EXPERIMENTAL, (len + 4) as u8, 0xf9, 0x89]);
                } else {
                    bytes.extend([kind::FAST_OPEN, (len + 2) as u8]);
                }
                bytes.extend(&octets[..len]);
                if bytes.len() > MAX_OPTIONS_LEN {
                    continue;
                }
                while bytes.len() % 4 != 0 {
                    bytes.push(kind::END);
                }
                let opts = Options::from_bytes(&bytes).unwrap();
                let v = opts.values();
                assert_eq!(v.mss, Some(1460), "{len}");
                let want = FastOpen::from_cookie_octets(&octets[..len]);
                assert_eq!(v.fast_open, Some(want), "{len} {exp}");
                assert_eq!(get_fast_open(opts.iter()), Some(want), "{len} {exp}");
                let option = opts.iter().nth(1).unwrap();
                match want {
                    FastOpen::Invalid { .. } => {
                        assert!(matches!(option, TcpOption::Unknown { .. }), "{len}");
                    }
                    _ => {
                        let cookie = want.cookie();
                        let typed = if exp {
                            TcpOption::FastOpenExp(cookie)
                        } else {
                            TcpOption::FastOpen(cookie)
                        };
                        assert_eq!(option, typed);
                        let head = 4 + typed.wire_len();
                        assert!(bytes[head..].iter().all(|b| *b == 0), "{len}");
                        // Built from the typed option: the same bytes.
                        let built = Options::build(&[TcpOption::Mss(1460), typed]).unwrap();
                        assert_eq!(&built.as_bytes()[..head], &bytes[..head], "{len}");
                    }
                }
            }
        }
        let cookie = FastOpenCookie::new(&[0xab; 8]).unwrap();
        let built = Options::build(&[TcpOption::FastOpen(Some(cookie)), TcpOption::FastOpen(None)])
            .unwrap();
        assert_eq!(alloc::format!("{built}"), "FO abababababababab,FO");
        // A length byte below 2 is a malformed header, as for any kind.
        assert!(matches!(
            one(&[kind::FAST_OPEN, 1]),
            Err(WireError::BadOptionLength { .. })
        ));
    }

    #[test]
    fn rejects_bad_lengths() {
        for bad in [
            &[2u8, 0][..],
            &[2, 1],
            &[2, 3, 0],
            &[3, 4, 0, 0],
            &[4, 3, 0],
            &[8, 9, 0, 0, 0, 0, 0, 0, 0],
            &[5, 2],
            &[5, 9, 0, 0, 0, 0, 0, 0, 0],
            &[99, 1],
            &[99, 0],
        ] {
            assert!(
                matches!(one(bad), Err(WireError::BadOptionLength { .. })),
                "{bad:?} gave {:?}",
                one(bad)
            );
        }
    }

    #[test]
    fn rejects_truncation_and_too_many_blocks() {
        assert_eq!(
            one(&[2]),
            Err(WireError::OptionTruncated { kind: 2, offset: 0 })
        );
        assert_eq!(
            one(&[99, 6, 0, 0]),
            Err(WireError::OptionTruncated {
                kind: 99,
                offset: 0
            })
        );
        assert_eq!(
            one(&[5, 42, 0, 0]),
            Err(WireError::TooManySackBlocks { blocks: 5 })
        );
        assert_eq!(
            TcpOption::sack(&[SackBlock::default(); 5]),
            Err(WireError::TooManySackBlocks { blocks: 5 })
        );
    }

    #[test]
    fn iteration_stops_at_end_and_after_an_error() {
        let area = [1, 0, 2, 4];
        let got: Result<alloc::vec::Vec<_>, _> = OptionsIter::new(&area).collect();
        assert_eq!(got, Ok(alloc::vec![TcpOption::Nop, TcpOption::End]));
        let mut it = OptionsIter::new(&[2, 0, 1, 1]);
        assert!(it.next().is_some_and(|r| r.is_err()));
        assert!(it.next().is_none());
    }

    #[test]
    fn build_pads_with_nops_and_refuses_overflow() {
        let opts = Options::build(&[TcpOption::Mss(1460), TcpOption::WindowScale(7)]).unwrap();
        assert_eq!(opts.as_bytes(), &[2, 4, 5, 180, 3, 3, 7, 1]);
        let opts = Options::build(&[TcpOption::Mss(536), TcpOption::End]).unwrap();
        assert_eq!(opts.as_bytes(), &[2, 4, 2, 24, 0, 0, 0, 0]);
        let four_blocks = TcpOption::sack(&[SackBlock::new(1, 2); 4]).unwrap();
        assert_eq!(
            Options::build(&[four_blocks, TcpOption::timestamp(1, 2)]),
            Err(WireError::OptionsTooLong { len: 44 })
        );
        let full = Options::build(&[four_blocks, TcpOption::Nop, TcpOption::Nop, TcpOption::Nop]);
        assert_eq!(full.map(|o| o.len()), Ok(40));
        let big = [0u8; 39];
        assert_eq!(
            Options::build(&[TcpOption::Unknown {
                kind: 99,
                data: &big
            }]),
            Err(WireError::OptionsTooLong { len: 41 })
        );
    }

    #[test]
    fn getters() {
        let list = [
            TcpOption::Mss(1460),
            TcpOption::SackPermitted,
            TcpOption::timestamp(7, 0),
            TcpOption::Nop,
            TcpOption::WindowScale(15),
        ];
        assert_eq!(get_mss(&list), Some(1460));
        assert_eq!(get_wscale(&list), Some(14));
        assert!(has_sack_perm(&list));
        assert_eq!(get_timestamp(&list), Some(Timestamp { tsval: 7, tsecr: 0 }));
        assert!(get_sack_blocks(&list).is_empty());
        let opts = Options::build(&list).unwrap();
        assert_eq!(opts.mss(), Some(1460));
        assert_eq!(opts.wscale(), Some(14));
        assert!(opts.iter().any(|o| o == TcpOption::WindowScale(15)));
        assert_eq!(get_wscale(&[TcpOption::Nop]), None);
        assert_eq!(
            opts.values(),
            OptionValues {
                mss: opts.mss(),
                wscale: opts.wscale(),
                sack_permitted: opts.sack_permitted(),
                sack_blocks: opts.sack_blocks(),
                timestamp: opts.timestamp(),
                fast_open: None,
            }
        );
        assert_eq!(
            alloc::format!("{opts}"),
            "mss 1460,sackOK,TS val 7 ecr 0,nop,wscale 15"
        );
    }
}
