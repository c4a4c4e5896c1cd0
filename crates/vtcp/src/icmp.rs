//! The stack's ICMP entry point: an ICMP or ICMPv6 error as the IP layer
//! hands it over ([`IcmpReport`]: the typed error and the datagram it
//! quotes), the quoted TCP header read ([`QuotedTcp`]), and what the
//! stack did with it ([`IcmpDelivery`]). [`crate::Stack::handle_icmp`]
//! finds the connection and hands the error to
//! [`vtcp_conn::Conn::handle_icmp`].

use std::net::{IpAddr, SocketAddr};

use vtcp_seq::Seq;

pub use vtcp_conn::{IcmpClass, IcmpError, IcmpKind, IcmpOutcome, Unreachable};

/// An ICMP or ICMPv6 error, as the IP layer hands it to the stack: the
/// error, and the datagram it quotes (RFC 792: the IP header and at least
/// the first 8 octets of its payload; RFC 4443 §2.4: as much as fits).
/// The quoted datagram is one we sent: its source is our address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpReport<'a> {
    /// The error's type and code.
    pub error: IcmpError,
    /// The quoted datagram's source: our address.
    pub src: IpAddr,
    /// The quoted datagram's destination: the peer's.
    pub dst: IpAddr,
    /// The quoted TCP header from its first octet: at least 8 octets
    /// (ports and sequence number); more is allowed and not read.
    pub quoted: &'a [u8],
}

/// The fields of the quoted TCP header that ICMP handling needs: the
/// first 8 octets (RFC 792, RFC 5927 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedTcp {
    /// The quoted segment's source port: ours.
    pub src_port: u16,
    /// Its destination port: the peer's.
    pub dst_port: u16,
    /// Its sequence number.
    pub seq: Seq,
}

/// Why a quoted TCP header could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuoteError {
    /// Fewer than 8 octets quoted (RFC 792 asks for 8).
    #[error("quoted TCP header too short: {0} octets, 8 needed")]
    TooShort(usize),
}

impl QuotedTcp {
    /// The least a quote must hold: ports and sequence number.
    pub const MIN_LEN: usize = 8;

    /// Reads the ports and sequence number of a quoted TCP header (any
    /// bytes: never panics; octets past the eighth are not looked at, as
    /// a quote may be cut anywhere after them).
    pub fn parse(quoted: &[u8]) -> Result<Self, QuoteError> {
        let Some(&[a, b, c, d, s0, s1, s2, s3]) = quoted.first_chunk::<8>() else {
            return Err(QuoteError::TooShort(quoted.len()));
        };
        Ok(Self {
            src_port: u16::from_be_bytes([a, b]),
            dst_port: u16::from_be_bytes([c, d]),
            seq: Seq(u32::from_be_bytes([s0, s1, s2, s3])),
        })
    }
}

impl IcmpReport<'_> {
    /// The connection the quoted segment belongs to (our end, the
    /// peer's) and its sequence number.
    pub fn quoted_segment(&self) -> Result<(SocketAddr, SocketAddr, Seq), QuoteError> {
        let q = QuotedTcp::parse(self.quoted)?;
        Ok((
            SocketAddr::new(self.src, q.src_port),
            SocketAddr::new(self.dst, q.dst_port),
            q.seq,
        ))
    }
}

/// What [`crate::Stack::handle_icmp`] did with a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IcmpDelivery {
    /// The quote was too short to name a connection.
    Malformed,
    /// No connection of this stack has the quoted addresses and ports.
    NoConnection,
    /// The connection's verdict.
    Conn(IcmpOutcome),
}

impl IcmpDelivery {
    /// The report reached a connection and passed its RFC 5927 check.
    pub fn accepted(self) -> bool {
        matches!(self, Self::Conn(o) if o != IcmpOutcome::OutOfWindow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_of_eight_octets_or_more_names_ports_and_sequence_number() {
        let bytes = [0x9c, 0x40, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0xff];
        for n in 8..=bytes.len() {
            assert_eq!(
                QuotedTcp::parse(&bytes[..n]),
                Ok(QuotedTcp {
                    src_port: 40_000,
                    dst_port: 80,
                    seq: Seq(0x0102_0304),
                })
            );
        }
        for n in 0..8 {
            assert_eq!(QuotedTcp::parse(&bytes[..n]), Err(QuoteError::TooShort(n)));
        }
    }
}
