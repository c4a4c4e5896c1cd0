/// Why a segment or option block could not be parsed or emitted.
///
/// Every malformed input maps to one of these; the codec never panics on
/// bytes it did not produce itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer than the 20 bytes of a fixed TCP header.
    #[error("segment of {len} bytes is shorter than the 20-byte TCP header")]
    Truncated {
        /// Length of the buffer.
        len: usize,
    },
    /// The data offset field is below 5 words (RFC 9293 §3.1).
    #[error("data offset of {words} words is below the minimum of 5")]
    DataOffsetTooSmall {
        /// The data offset, in 32-bit words.
        words: u8,
    },
    /// The data offset points past the end of the buffer.
    #[error("header length {header_len} exceeds the {len}-byte segment")]
    DataOffsetPastEnd {
        /// Header length claimed by the data offset, in bytes.
        header_len: usize,
        /// Length of the buffer.
        len: usize,
    },
    /// An option's length byte is impossible: 0 or 1 for any kind, or not
    /// the length its kind requires (MSS 4, window scale 3, SACK-permitted
    /// 2, timestamps 10, SACK 2 + 8·n with n ≥ 1).
    #[error("option kind {kind} at offset {offset} has invalid length {len}")]
    BadOptionLength {
        /// Option kind.
        kind: u8,
        /// The length byte as received.
        len: u8,
        /// Offset of the option within the option area.
        offset: usize,
    },
    /// An option runs past the end of the option area (or its length byte
    /// is missing).
    #[error("option kind {kind} at offset {offset} runs past the end of the header")]
    OptionTruncated {
        /// Option kind.
        kind: u8,
        /// Offset of the option within the option area.
        offset: usize,
    },
    /// A SACK option with more than 4 blocks (RFC 2018 §3).
    #[error("SACK option with {blocks} blocks; at most 4 fit in a TCP header")]
    TooManySackBlocks {
        /// Number of blocks asked for or received.
        blocks: usize,
    },
    /// Options that need more than the 40 bytes a TCP header can hold.
    #[error("options need {len} bytes; a TCP header holds at most 40")]
    OptionsTooLong {
        /// Encoded length, before padding to 4 bytes.
        len: usize,
    },
    /// An option block whose length is not a multiple of 4 bytes.
    #[error("option block of {len} bytes is not a multiple of 4")]
    OptionsNotAligned {
        /// Length of the block.
        len: usize,
    },
    /// A TCP Fast Open cookie of a length RFC 7413 §4.1.1 does not allow:
    /// it has 4 to 16 octets, an even number.
    #[error("TCP Fast Open cookie of {len} octets; 4 to 16, an even number, are allowed")]
    BadCookieLength {
        /// The cookie's length in octets.
        len: usize,
    },
    /// The output buffer is too small for the segment.
    #[error("buffer of {have} bytes is too small; {need} bytes needed")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}
