use core::fmt;

use vtcp_seq::Seq;

use crate::checksum::{self, PseudoHeader};
use crate::{Flags, HEADER_LEN, OptionValues, Options, SegmentView, WireError};

/// The payload type [`Segment`] has when none is named: `Vec<u8>` with the
/// `alloc` feature, a borrowed slice without it.
#[cfg(feature = "alloc")]
pub type DefaultPayload = alloc::vec::Vec<u8>;
/// The payload type [`Segment`] has when none is named: `Vec<u8>` with the
/// `alloc` feature, a borrowed slice without it.
#[cfg(not(feature = "alloc"))]
pub type DefaultPayload = &'static [u8];

/// A TCP segment: every header field, typed, and its payload.
///
/// `P` is the payload's storage: `&[u8]` for a segment parsed in place
/// ([`Segment::parse`], no allocation), `Vec<u8>` for an owned one
/// ([`Segment::into_owned`]). The header length is not stored; it follows
/// from the options.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Segment<P = DefaultPayload> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: Seq,
    /// Acknowledgment number.
    pub ack: Seq,
    /// Control bits.
    pub flags: Flags,
    /// Window, unscaled.
    pub window: u16,
    /// Checksum field, written as is by [`Segment::emit`]: zero unless set
    /// or computed with [`Segment::emit_with_checksum`].
    pub checksum: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options, as encoded.
    pub options: Options,
    /// Data.
    pub payload: P,
}

impl<'a> Segment<&'a [u8]> {
    /// Parses a segment, borrowing its payload.
    ///
    /// Checks the header's length and data offset and every option; the
    /// checksum is not checked here (see [`SegmentView::verify_checksum`]).
    #[inline(always)]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let view = SegmentView::new_checked(bytes)?;
        Self::from_view(view)
    }

    /// Parses a segment and reads its options' values in the same pass
    /// ([`OptionValues::parse`], which checks the option area exactly as
    /// [`Segment::parse`] does): what a receiver wants of every segment,
    /// without walking the options twice.
    #[inline(always)]
    pub fn parse_with_values(bytes: &'a [u8]) -> Result<(Self, OptionValues), WireError> {
        ParsedSegment::parse(bytes).map(|p| (p.segment, p.values))
    }

    /// Builds a segment from a checked view, validating its options.
    #[inline(always)]
    pub fn from_view(view: SegmentView<&'a [u8]>) -> Result<Self, WireError> {
        let options = Options::from_bytes(&view.into_inner()[HEADER_LEN..view.header_len()])?;
        Ok(Self::with_options(view, options))
    }

    /// The segment a checked view holds, with its options already read.
    #[inline(always)]
    fn with_options(view: SegmentView<&'a [u8]>, options: Options) -> Self {
        let bytes = view.into_inner();
        Segment {
            src_port: view.src_port(),
            dst_port: view.dst_port(),
            seq: view.seq(),
            ack: view.ack(),
            flags: view.flags(),
            window: view.window(),
            checksum: view.checksum(),
            urgent: view.urgent(),
            options,
            payload: &bytes[view.header_len()..],
        }
    }
}

/// A received segment parsed once for a receiver: its fields
/// ([`Segment`], payload borrowed) and its options' values
/// ([`OptionValues`]), read in one pass ([`Segment::parse_with_values`]).
/// What a stack parses on arrival and hands to the connection, so that
/// nothing is parsed twice; the two always agree, since only this type
/// makes them. It is larger than two cache lines: borrow it where it
/// was parsed (`let parsed = ParsedSegment::parse(b); if let Ok(p) =
/// &parsed …`) rather than move it out of the `Result`, on a per-segment
/// path (a move per segment cost 0.5 % of the bulk benchmark's
/// instructions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedSegment<'a> {
    segment: Segment<&'a [u8]>,
    values: OptionValues,
}

impl<'a> ParsedSegment<'a> {
    /// Parses `bytes` (a TCP header, options and payload): the checks of
    /// [`Segment::parse`]; the checksum is not checked here.
    #[inline(always)]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        let view = SegmentView::new_checked(bytes)?;
        let bytes = view.into_inner();
        let area = &bytes[HEADER_LEN..view.header_len()];
        let values = OptionValues::parse(area)?;
        // The view checked the area's length (a multiple of 4, at most
        // 40) and the values' parse every option in it.
        Ok(Self {
            segment: Segment::with_options(view, Options::from_checked(area)),
            values,
        })
    }

    /// A segment already parsed (or built), its options' values read.
    pub fn from_segment(segment: Segment<&'a [u8]>) -> Self {
        let values = segment.options.values();
        Self { segment, values }
    }

    /// The segment's fields.
    #[inline(always)]
    pub fn segment(&self) -> &Segment<&'a [u8]> {
        &self.segment
    }

    /// Its options' values.
    #[inline(always)]
    pub fn values(&self) -> &OptionValues {
        &self.values
    }
}

impl<P: AsRef<[u8]>> Segment<P> {
    /// Header length in bytes: 20 plus the options.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Bytes of data.
    #[inline]
    pub fn data_len(&self) -> usize {
        self.payload.as_ref().len()
    }

    /// Sequence space the segment occupies: data plus one for SYN and one
    /// for FIN (RFC 9293 §3.4, SEG.LEN).
    #[inline]
    pub fn seg_len(&self) -> usize {
        self.data_len()
            + usize::from(self.flags.contains(Flags::SYN))
            + usize::from(self.flags.contains(Flags::FIN))
    }

    /// Every bit of `flag` is set.
    #[inline]
    pub fn has_flag(&self, flag: Flags) -> bool {
        self.flags.contains(flag)
    }

    /// Bytes the encoded segment takes.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.data_len()
    }

    /// Writes the header alone into the start of `buf`, with the checksum
    /// field as stored, and returns the header length. For callers that
    /// place the payload themselves (from a ring buffer, say).
    #[inline]
    pub fn emit_header(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let header_len = self.header_len();
        let have = buf.len();
        let out = buf.get_mut(..header_len).ok_or(WireError::BufferTooSmall {
            need: header_len,
            have,
        })?;
        let mut view = SegmentView::new_unchecked(&mut *out);
        view.set_src_port(self.src_port);
        view.set_dst_port(self.dst_port);
        view.set_seq(self.seq);
        view.set_ack(self.ack);
        // header_len is at most 60, so the offset fits in 4 bits.
        view.set_offset_and_flags((header_len / 4) as u8, self.flags);
        view.set_window(self.window);
        view.set_checksum(self.checksum);
        view.set_urgent(self.urgent);
        out[HEADER_LEN..].copy_from_slice(self.options.as_bytes());
        Ok(header_len)
    }

    /// Writes the segment into the start of `buf`, without allocating, and
    /// returns its length. The checksum field is written as stored.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let total = self.buffer_len();
        if buf.len() < total {
            return Err(WireError::BufferTooSmall {
                need: total,
                have: buf.len(),
            });
        }
        let header_len = self.emit_header(buf)?;
        buf[header_len..total].copy_from_slice(self.payload.as_ref());
        Ok(total)
    }

    /// Like [`Segment::emit`], then computes the checksum under `pseudo`
    /// and writes it into the emitted header.
    pub fn emit_with_checksum(
        &self,
        buf: &mut [u8],
        pseudo: &PseudoHeader,
    ) -> Result<usize, WireError> {
        let len = self.emit(buf)?;
        checksum::fill_tcp_checksum(pseudo, &mut buf[..len]);
        Ok(len)
    }

    /// The encoded segment. The checksum field is
    /// written as stored: zero unless set.
    #[cfg(feature = "alloc")]
    pub fn to_bytes(&self) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec![0; self.buffer_len()];
        // The buffer has exactly the room the segment needs.
        let _ = self.emit(&mut out);
        out
    }

    /// The same header with another payload.
    #[inline]
    pub fn with_payload<Q>(&self, payload: Q) -> Segment<Q> {
        Segment {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            checksum: self.checksum,
            urgent: self.urgent,
            options: self.options,
            payload,
        }
    }

    /// The same segment with its payload borrowed.
    #[inline]
    pub fn as_borrowed(&self) -> Segment<&[u8]> {
        self.with_payload(self.payload.as_ref())
    }

    /// The same segment with its payload copied into a `Vec`.
    #[cfg(feature = "alloc")]
    pub fn into_owned(self) -> Segment<alloc::vec::Vec<u8>> {
        self.with_payload(self.payload.as_ref().to_vec())
    }
}

impl<P: AsRef<[u8]>> fmt::Debug for Segment<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("src_port", &self.src_port)
            .field("dst_port", &self.dst_port)
            .field("seq", &self.seq)
            .field("ack", &self.ack)
            .field("flags", &self.flags)
            .field("window", &self.window)
            .field("checksum", &format_args!("{:#06x}", self.checksum))
            .field("urgent", &self.urgent)
            .field("options", &self.options)
            .field("payload_len", &self.data_len())
            .finish()
    }
}

impl<P: AsRef<[u8]>> fmt::Display for Segment<P> {
    /// tcpdump's one-line form: `41672 > 7000: Flags [S], seq 1, ack 0, win
    /// 64240, options [mss 1460,…], length 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {}: Flags [{}], seq {}",
            self.src_port, self.dst_port, self.flags, self.seq
        )?;
        if self.data_len() > 0 {
            write!(f, ":{}", self.seq + self.data_len() as u32)?;
        }
        if self.flags.contains(Flags::ACK) {
            write!(f, ", ack {}", self.ack)?;
        }
        write!(f, ", win {}", self.window)?;
        if self.flags.contains(Flags::URG) {
            write!(f, ", urg {}", self.urgent)?;
        }
        if !self.options.is_empty() {
            write!(f, ", options [{}]", self.options)?;
        }
        write!(f, ", length {}", self.data_len())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Segment<&'a [u8]> {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Segment {
            src_port: u.arbitrary()?,
            dst_port: u.arbitrary()?,
            seq: u.arbitrary()?,
            ack: u.arbitrary()?,
            flags: u.arbitrary()?,
            window: u.arbitrary()?,
            checksum: u.arbitrary()?,
            urgent: u.arbitrary()?,
            options: u.arbitrary()?,
            payload: u.arbitrary()?,
        })
    }
}
