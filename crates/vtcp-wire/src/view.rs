use vtcp_seq::Seq;

use crate::checksum::{self, PseudoHeader};
use crate::{Flags, HEADER_LEN, OptionValues, OptionsIter, WireError};

mod field {
    use core::ops::Range;
    pub(crate) const SRC_PORT: Range<usize> = 0..2;
    pub(crate) const DST_PORT: Range<usize> = 2..4;
    pub(crate) const SEQ: Range<usize> = 4..8;
    pub(crate) const ACK: Range<usize> = 8..12;
    pub(crate) const OFFSET_FLAGS: Range<usize> = 12..14;
    pub(crate) const WINDOW: Range<usize> = 14..16;
    pub(crate) const CHECKSUM: Range<usize> = 16..18;
    pub(crate) const URGENT: Range<usize> = 18..20;
}

/// A zero-copy view of a TCP segment in a byte buffer.
///
/// # Panics and untrusted input
///
/// [`SegmentView::new_checked`] checks that the buffer holds a whole fixed
/// header and that the data offset is at least 5 and within the buffer;
/// after that no accessor panics, whatever the bytes. Options are not
/// checked up front: [`SegmentView::options`] yields a typed error for a
/// malformed one. A view made with [`SegmentView::new_unchecked`] over a
/// buffer that fails those checks may panic on access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentView<T> {
    buffer: T,
}

#[inline]
fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

#[inline]
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl<T: AsRef<[u8]>> SegmentView<T> {
    /// Wraps `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after [`SegmentView::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let view = Self::new_unchecked(buffer);
        view.check_len()?;
        Ok(view)
    }

    /// Checks that the fixed header is whole and the data offset sane
    /// (RFC 9293 §3.1: at least 5 words, and within the segment).
    #[inline]
    pub fn check_len(&self) -> Result<(), WireError> {
        let buf = self.buffer.as_ref();
        let len = buf.len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated { len });
        }
        let words = buf[12] >> 4;
        if words < 5 {
            return Err(WireError::DataOffsetTooSmall { words });
        }
        let header_len = usize::from(words) * 4;
        if header_len > len {
            return Err(WireError::DataOffsetPastEnd { header_len, len });
        }
        Ok(())
    }

    /// The underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The bytes of the whole segment.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(&self.as_bytes()[field::SRC_PORT])
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(&self.as_bytes()[field::DST_PORT])
    }

    /// Sequence number.
    #[inline]
    pub fn seq(&self) -> Seq {
        Seq(be32(&self.as_bytes()[field::SEQ]))
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack(&self) -> Seq {
        Seq(be32(&self.as_bytes()[field::ACK]))
    }

    /// Data offset in 32-bit words.
    #[inline]
    pub fn data_offset(&self) -> u8 {
        self.as_bytes()[field::OFFSET_FLAGS.start] >> 4
    }

    /// Header length in bytes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// Control bits, reserved bits included.
    #[inline]
    pub fn flags(&self) -> Flags {
        Flags::from_bits_truncate(be16(&self.as_bytes()[field::OFFSET_FLAGS]))
    }

    /// Window, unscaled.
    #[inline]
    pub fn window(&self) -> u16 {
        be16(&self.as_bytes()[field::WINDOW])
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(&self.as_bytes()[field::CHECKSUM])
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        be16(&self.as_bytes()[field::URGENT])
    }

    /// The option area's bytes.
    #[inline]
    pub fn options_bytes(&self) -> &[u8] {
        &self.as_bytes()[HEADER_LEN..self.header_len()]
    }

    /// The options, decoded one by one as the iterator advances.
    #[inline]
    pub fn options(&self) -> OptionsIter<'_> {
        OptionsIter::new(self.options_bytes())
    }

    /// Checks the options and reads the values the engine uses, in one
    /// pass and without copying (see [`OptionValues::parse`]).
    #[inline]
    pub fn option_values(&self) -> Result<OptionValues, WireError> {
        OptionValues::parse(self.options_bytes())
    }

    /// The data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.as_bytes()[self.header_len()..]
    }

    /// The checksum is right for `pseudo` (see
    /// [`checksum::verify_tcp_checksum`]).
    #[inline]
    pub fn verify_checksum(&self, pseudo: &PseudoHeader) -> bool {
        checksum::verify_tcp_checksum(pseudo, self.as_bytes())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SegmentView<T> {
    #[inline]
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the source port.
    #[inline]
    pub fn set_src_port(&mut self, port: u16) {
        self.bytes_mut()[field::SRC_PORT].copy_from_slice(&port.to_be_bytes());
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, port: u16) {
        self.bytes_mut()[field::DST_PORT].copy_from_slice(&port.to_be_bytes());
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq(&mut self, seq: Seq) {
        self.bytes_mut()[field::SEQ].copy_from_slice(&seq.0.to_be_bytes());
    }

    /// Sets the acknowledgment number.
    #[inline]
    pub fn set_ack(&mut self, ack: Seq) {
        self.bytes_mut()[field::ACK].copy_from_slice(&ack.0.to_be_bytes());
    }

    /// Sets the data offset (in words) and the control bits together.
    #[inline]
    pub fn set_offset_and_flags(&mut self, words: u8, flags: Flags) {
        let v = (u16::from(words) << 12) | flags.bits();
        self.bytes_mut()[field::OFFSET_FLAGS].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the control bits, keeping the data offset.
    #[inline]
    pub fn set_flags(&mut self, flags: Flags) {
        let words = self.data_offset();
        self.set_offset_and_flags(words, flags);
    }

    /// Sets the window field.
    #[inline]
    pub fn set_window(&mut self, window: u16) {
        self.bytes_mut()[field::WINDOW].copy_from_slice(&window.to_be_bytes());
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, checksum: u16) {
        self.bytes_mut()[field::CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent(&mut self, urgent: u16) {
        self.bytes_mut()[field::URGENT].copy_from_slice(&urgent.to_be_bytes());
    }

    /// The data after the header, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.bytes_mut()[start..]
    }

    /// Computes the checksum under `pseudo` and writes it into the header.
    #[inline]
    pub fn fill_checksum(&mut self, pseudo: &PseudoHeader) -> u16 {
        let c = checksum::tcp_checksum(pseudo, self.as_bytes());
        self.set_checksum(c);
        c
    }
}
