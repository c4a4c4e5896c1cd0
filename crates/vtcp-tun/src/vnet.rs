//! The virtio-net header (`struct virtio_net_hdr`, virtio 1.2 §5.1.6)
//! that a TUN device with IFF_VNET_HDR puts in front of every packet:
//! what the kernel did not do for a packet (its checksum, its
//! segmentation), read from what the device hands over and written in
//! front of what is sent.
//!
//! The ten octets, in the machine's byte order (TUN's default: the
//! device is not told TUNSETVNETLE/BE): `flags` (u8), `gso_type` (u8),
//! `hdr_len`, `gso_size`, `csum_start`, `csum_offset` (u16 each).
//!
//! What the device reads is untrusted: [`parse`] checks a header against
//! the packet behind it and says with a [`VnetError`] what is wrong,
//! never panics and never allocates. It is as strict as the kernel is
//! with what a TUN device is given (`virtio_net_hdr_to_skb`,
//! `tun_vnet_hdr_get` in Linux), and stricter where a header could only
//! mislead this crate (an offload it did not ask for).

use thiserror::Error;

/// The length of `struct virtio_net_hdr` (without `num_buffers`, which
/// TUN leaves out unless asked for a larger header).
pub const VNET_HDR_LEN: usize = 10;

/// Offset of the TCP checksum field in its header: the `csum_offset` of
/// every TCP packet with a partial checksum.
pub const TCP_CSUM_OFFSET: u16 = 16;

/// `flags`: the checksum is partial (the pseudo-header's sum only); the
/// ones'-complement sum from `csum_start` to the end, complemented, is
/// to be stored at `csum_start + csum_offset`. What the kernel sets on
/// packets it generated itself (CHECKSUM_PARTIAL).
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `flags`: the checksum was verified already (CHECKSUM_UNNECESSARY).
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
/// `flags`: the bits this crate knows; any other is refused
/// ([`VnetError::UnknownFlags`]). (VIRTIO_NET_HDR_F_RSC_INFO, 4, is
/// only defined for a device's receive side with a feature TUN does not
/// offer.)
const KNOWN_FLAGS: u8 = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;

/// `gso_type`: not a super-segment.
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
/// `gso_type`: a TCP/IPv4 super-segment (TSO4).
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/// `gso_type`: a UDP super-packet (UFO), which this crate never enables.
pub const VIRTIO_NET_HDR_GSO_UDP: u8 = 3;
/// `gso_type`: a TCP/IPv6 super-segment (TSO6).
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// `gso_type`: UDP segmentation offload (USO), never enabled here.
pub const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
/// `gso_type` bit: the super-segment carries ECN's CWR, to be set on the
/// first segment only (TSO_ECN).
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// Why a virtio-net header was refused. The packet behind it is dropped
/// and counted ([`crate::DriverCounters::dropped_vnet_header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum VnetError {
    /// Fewer than the header's ten octets.
    #[error("{0} octets: shorter than a virtio-net header")]
    Short(usize),
    /// `flags` has bits this crate does not know.
    #[error("unknown virtio-net flags {0:#04x}")]
    UnknownFlags(u8),
    /// A GSO type that is not one of virtio's (nor ECN on GSO_NONE, which
    /// Linux refuses as well).
    #[error("unknown GSO type {0:#04x}")]
    UnknownGsoType(u8),
    /// UDP fragmentation or segmentation offload: the device was not
    /// given TUN_F_UFO or TUN_F_USO, so the kernel never sends it.
    #[error("GSO type {0:#04x} was not enabled on the device")]
    GsoNotEnabled(u8),
    /// A TCP super-segment whose IP version is not its GSO type's.
    #[error("GSO type {gso_type:#04x} on an IPv{version} packet")]
    GsoFamilyMismatch {
        /// The header's GSO type (without the ECN bit).
        gso_type: u8,
        /// The packet's IP version nibble.
        version: u8,
    },
    /// A super-segment with a `gso_size` of 0: no segment size to cut it
    /// to.
    #[error("a GSO packet with a gso_size of 0")]
    ZeroGsoSize,
    /// A `gso_size` larger than the whole packet.
    #[error("gso_size {gso_size} is larger than the {len}-octet packet")]
    GsoSizeTooLarge {
        /// The header's `gso_size`.
        gso_size: u16,
        /// The packet's length (without the header).
        len: usize,
    },
    /// NEEDS_CSUM with a checksum field (`csum_start + csum_offset`, two
    /// octets) not inside the packet.
    #[error("csum_start {start} + csum_offset {offset} is outside the {len}-octet packet")]
    ChecksumOutOfRange {
        /// The header's `csum_start`.
        start: u16,
        /// The header's `csum_offset`.
        offset: u16,
        /// The packet's length (without the header).
        len: usize,
    },
    /// `hdr_len` (the length of the headers, a hint for the receiver's
    /// allocation) beyond the end of the packet.
    #[error("hdr_len {hdr_len} is larger than the {len}-octet packet")]
    HdrLenTooLarge {
        /// The header's `hdr_len`.
        hdr_len: u16,
        /// The packet's length (without the header).
        len: usize,
    },
}

/// A parsed `struct virtio_net_hdr`. [`parse`] gives only headers that
/// fit their packet; one built by hand is written as it is by
/// [`VnetHeader::emit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VnetHeader {
    /// VIRTIO_NET_HDR_F_* bits.
    pub flags: u8,
    /// VIRTIO_NET_HDR_GSO_* (with the ECN bit).
    pub gso_type: u8,
    /// Length of the headers (IP and TCP) in front of the payload: a
    /// hint, never trusted for parsing.
    pub hdr_len: u16,
    /// The payload size of each segment a super-segment is cut into.
    pub gso_size: u16,
    /// Where the checksum's sum starts (from the IP header's first octet).
    pub csum_start: u16,
    /// Where the checksum goes, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHeader {
    /// A header that asks for nothing: a whole packet, checksums complete.
    pub const NONE: Self = Self {
        flags: 0,
        gso_type: VIRTIO_NET_HDR_GSO_NONE,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// The header of a TCP super-segment to send (TSO): the device cuts
    /// it into segments of `gso_size` octets of payload each, behind
    /// copies of its first `hdr_len` octets (IP and TCP headers), and
    /// completes each one's checksum from `csum_start` (the TCP header's
    /// offset in the packet), whose field holds the pseudo-header's sum
    /// (NEEDS_CSUM, `csum_offset` 16). `ipv6` picks TSO6 over TSO4.
    pub fn tcp_gso(ipv6: bool, hdr_len: u16, gso_size: u16, csum_start: u16) -> Self {
        Self {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: if ipv6 {
                VIRTIO_NET_HDR_GSO_TCPV6
            } else {
                VIRTIO_NET_HDR_GSO_TCPV4
            },
            hdr_len,
            gso_size,
            csum_start,
            csum_offset: TCP_CSUM_OFFSET,
        }
    }

    /// This header for a super-segment whose TCP header has `flags` (its
    /// flags octet): with CWR, the `GSO_ECN` bit, which the virtio spec
    /// asks of a driver that sends CWR in a super-segment (§5.1.6.2) and
    /// which keeps a device without TSO_ECN from copying CWR onto every
    /// segment (Linux then cuts it in software, CWR on the first segment
    /// only, RFC 3168 §6.1.2: one CWR per reduction).
    pub fn with_tcp_flags(mut self, flags: u8) -> Self {
        if flags & 0x80 != 0 && self.gso_type != VIRTIO_NET_HDR_GSO_NONE {
            self.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
        }
        self
    }

    /// The ten octets, in the machine's byte order.
    pub fn emit(&self) -> [u8; VNET_HDR_LEN] {
        let mut out = [0u8; VNET_HDR_LEN];
        out[0] = self.flags;
        out[1] = self.gso_type;
        out[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        out[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        out[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        out[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        out
    }

    /// The ten octets as they are, unchecked.
    fn read(b: &[u8; VNET_HDR_LEN]) -> Self {
        let field = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Self {
            flags: b[0],
            gso_type: b[1],
            hdr_len: field(2),
            gso_size: field(4),
            csum_start: field(6),
            csum_offset: field(8),
        }
    }

    /// VIRTIO_NET_HDR_F_NEEDS_CSUM: where the partial checksum's sum
    /// starts and where, from there, the checksum goes.
    pub fn partial_checksum(&self) -> Option<(usize, usize)> {
        (self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0)
            .then(|| (usize::from(self.csum_start), usize::from(self.csum_offset)))
    }

    /// The kernel vouches for the packet's checksum: it generated the
    /// packet itself and left the checksum partial (NEEDS_CSUM, which
    /// it would otherwise have completed from the very bytes handed
    /// over, so there is nothing to check), or it verified it already
    /// (DATA_VALID).
    pub fn checksum_trusted(&self) -> bool {
        self.flags & KNOWN_FLAGS != 0
    }

    /// The GSO type without the ECN bit.
    pub fn gso_kind(&self) -> u8 {
        self.gso_type & !VIRTIO_NET_HDR_GSO_ECN
    }

    /// A super-segment (any GSO type but NONE).
    pub fn is_gso(&self) -> bool {
        self.gso_type != VIRTIO_NET_HDR_GSO_NONE
    }
}

/// Reads the virtio-net header in front of `packet_with_header` and checks
/// it against the packet behind it; returns both.
///
/// The checks, each its [`VnetError`]:
/// - ten octets at least;
/// - flags: only NEEDS_CSUM and DATA_VALID;
/// - GSO type: NONE, TCPV4 or TCPV6, with or without ECN, as Linux's
///   `virtio_net_hdr_to_skb` (ECN alone is refused there too); UDP and
///   UDP_L4 were never enabled on the device (only TUN_F_CSUM, TSO4 and
///   TSO6 are), anything else is unknown; a TCP type on a packet whose
///   IP version is not its own;
/// - a super-segment's `gso_size` is neither 0 nor larger than the
///   packet (for GSO_NONE it is ignored, as Linux does);
/// - NEEDS_CSUM: the two octets at `csum_start + csum_offset` lie inside
///   the packet (without NEEDS_CSUM both are ignored, as Linux does);
/// - `hdr_len` is no larger than the packet. Linux takes `hdr_len` as a
///   hint for how much to copy into the linear part, never as the
///   headers' length, and refuses only one that exceeds what it is given
///   (`tun_vnet_hdr_get`: `hdr_len > len` is EINVAL); so here: a
///   smaller `hdr_len` than the real headers is accepted, and nothing
///   reads the headers by it.
pub fn parse(packet_with_header: &[u8]) -> Result<(VnetHeader, &[u8]), VnetError> {
    let Some((raw, packet)) = packet_with_header.split_first_chunk::<VNET_HDR_LEN>() else {
        return Err(VnetError::Short(packet_with_header.len()));
    };
    let h = VnetHeader::read(raw);
    let len = packet.len();
    if h.flags & !KNOWN_FLAGS != 0 {
        return Err(VnetError::UnknownFlags(h.flags));
    }
    if h.is_gso() {
        let version = packet.first().map_or(0, |b| b >> 4);
        match h.gso_kind() {
            VIRTIO_NET_HDR_GSO_TCPV4 if version != 4 => {
                return Err(VnetError::GsoFamilyMismatch {
                    gso_type: h.gso_kind(),
                    version,
                });
            }
            VIRTIO_NET_HDR_GSO_TCPV6 if version != 6 => {
                return Err(VnetError::GsoFamilyMismatch {
                    gso_type: h.gso_kind(),
                    version,
                });
            }
            VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6 => {}
            VIRTIO_NET_HDR_GSO_UDP | VIRTIO_NET_HDR_GSO_UDP_L4 => {
                return Err(VnetError::GsoNotEnabled(h.gso_type));
            }
            _ => return Err(VnetError::UnknownGsoType(h.gso_type)),
        }
        if h.gso_size == 0 {
            return Err(VnetError::ZeroGsoSize);
        }
        if usize::from(h.gso_size) > len {
            return Err(VnetError::GsoSizeTooLarge {
                gso_size: h.gso_size,
                len,
            });
        }
    }
    if let Some((start, offset)) = h.partial_checksum()
        && start + offset + 2 > len
    {
        return Err(VnetError::ChecksumOutOfRange {
            start: h.csum_start,
            offset: h.csum_offset,
            len,
        });
    }
    if usize::from(h.hdr_len) > len {
        return Err(VnetError::HdrLenTooLarge {
            hdr_len: h.hdr_len,
            len,
        });
    }
    Ok((h, packet))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::{Arbitrary, Gen, quickcheck};

    /// `h` in front of `packet`.
    fn framed(h: VnetHeader, packet: &[u8]) -> Vec<u8> {
        let mut v = h.emit().to_vec();
        v.extend_from_slice(packet);
        v
    }

    /// An IPv4 packet of `len` octets (only its version nibble matters).
    fn v4(len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[0] = 0x45;
        p
    }

    #[test]
    fn the_layout_is_virtio_s_in_native_order() {
        let h = VnetHeader::tcp_gso(false, 52, 1448, 20);
        let b = h.emit();
        assert_eq!(b[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
        assert_eq!(b[1], VIRTIO_NET_HDR_GSO_TCPV4);
        assert_eq!(b[2..4], 52u16.to_ne_bytes());
        assert_eq!(b[4..6], 1448u16.to_ne_bytes());
        assert_eq!(b[6..8], 20u16.to_ne_bytes());
        assert_eq!(b[8..10], 16u16.to_ne_bytes());
        assert_eq!(VnetHeader::NONE.emit(), [0; VNET_HDR_LEN]);
        let h6 = VnetHeader::tcp_gso(true, 72, 1428, 40);
        assert_eq!(h6.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
        // CWR in the TCP header (0x80 of its flags): GSO_ECN; ECE alone
        // or a header without GSO: nothing.
        assert_eq!(
            h6.with_tcp_flags(0x90).gso_type,
            VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN
        );
        assert_eq!(h6.with_tcp_flags(0x50).gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
        assert_eq!(VnetHeader::NONE.with_tcp_flags(0x90), VnetHeader::NONE);
        assert_eq!(h6.partial_checksum(), Some((40, 16)));
        assert!(h6.checksum_trusted() && h6.is_gso());
    }

    #[test]
    fn a_kernel_super_segment_parses() {
        let packet = v4(20 + 32 + 3 * 1448);
        let h = VnetHeader::tcp_gso(false, 52, 1448, 20);
        let bytes = framed(h, &packet);
        assert_eq!(parse(&bytes), Ok((h, &packet[..])));
        // A plain packet, and one the kernel verified.
        let plain = framed(VnetHeader::NONE, &packet);
        assert_eq!(parse(&plain), Ok((VnetHeader::NONE, &packet[..])));
        let valid = VnetHeader {
            flags: VIRTIO_NET_HDR_F_DATA_VALID,
            ..VnetHeader::NONE
        };
        let (got, _) = parse(&framed(valid, &packet)).unwrap();
        assert!(got.checksum_trusted());
        assert_eq!(got.partial_checksum(), None);
        // ECN on a TCP super-segment is accepted.
        let ecn = VnetHeader {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
            ..h
        };
        assert_eq!(parse(&framed(ecn, &packet)).map(|r| r.0), Ok(ecn));
        // Without NEEDS_CSUM the checksum offsets are ignored.
        let stale = VnetHeader {
            csum_start: 60_000,
            csum_offset: 60_000,
            ..VnetHeader::NONE
        };
        assert_eq!(parse(&framed(stale, &packet)).map(|r| r.0), Ok(stale));
    }

    #[test]
    fn each_bad_header_has_its_error() {
        let packet = v4(100);
        let good = VnetHeader::tcp_gso(false, 40, 30, 20);
        let err = |h: VnetHeader| parse(&framed(h, &packet)).unwrap_err();
        for n in 0..VNET_HDR_LEN {
            assert_eq!(parse(&vec![0; n]), Err(VnetError::Short(n)));
        }
        assert_eq!(
            err(VnetHeader { flags: 4, ..good }),
            VnetError::UnknownFlags(4)
        );
        assert_eq!(
            err(VnetHeader {
                flags: 0x81,
                ..good
            }),
            VnetError::UnknownFlags(0x81)
        );
        for t in [2, 6, 0x7f, VIRTIO_NET_HDR_GSO_ECN] {
            assert_eq!(
                err(VnetHeader {
                    gso_type: t,
                    ..good
                }),
                VnetError::UnknownGsoType(t)
            );
        }
        for t in [
            VIRTIO_NET_HDR_GSO_UDP,
            VIRTIO_NET_HDR_GSO_UDP_L4,
            VIRTIO_NET_HDR_GSO_UDP | VIRTIO_NET_HDR_GSO_ECN,
        ] {
            assert_eq!(
                err(VnetHeader {
                    gso_type: t,
                    ..good
                }),
                VnetError::GsoNotEnabled(t)
            );
        }
        assert_eq!(
            err(VnetHeader {
                gso_type: VIRTIO_NET_HDR_GSO_TCPV6,
                ..good
            }),
            VnetError::GsoFamilyMismatch {
                gso_type: VIRTIO_NET_HDR_GSO_TCPV6,
                version: 4
            }
        );
        assert_eq!(
            err(VnetHeader {
                gso_size: 0,
                ..good
            }),
            VnetError::ZeroGsoSize
        );
        assert_eq!(
            err(VnetHeader {
                gso_size: 101,
                ..good
            }),
            VnetError::GsoSizeTooLarge {
                gso_size: 101,
                len: 100
            }
        );
        // The checksum field's two octets must fit: 82 + 16 + 2 = 100 does.
        assert!(
            parse(&framed(
                VnetHeader {
                    csum_start: 82,
                    ..good
                },
                &packet
            ))
            .is_ok()
        );
        assert_eq!(
            err(VnetHeader {
                csum_start: 83,
                ..good
            }),
            VnetError::ChecksumOutOfRange {
                start: 83,
                offset: 16,
                len: 100
            }
        );
        assert_eq!(
            err(VnetHeader {
                csum_start: u16::MAX,
                csum_offset: u16::MAX,
                ..good
            }),
            VnetError::ChecksumOutOfRange {
                start: u16::MAX,
                offset: u16::MAX,
                len: 100
            }
        );
        assert_eq!(
            err(VnetHeader {
                hdr_len: 101,
                ..good
            }),
            VnetError::HdrLenTooLarge {
                hdr_len: 101,
                len: 100
            }
        );
        // A hdr_len shorter than the real headers is only a hint: taken.
        assert!(parse(&framed(VnetHeader { hdr_len: 1, ..good }, &packet)).is_ok());
        // A GSO header on an empty packet.
        assert_eq!(
            parse(&good.emit()),
            Err(VnetError::GsoFamilyMismatch {
                gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
                version: 0
            })
        );
    }

    /// A header that fits a packet, and the packet.
    #[derive(Clone, Debug)]
    struct Valid(VnetHeader, Vec<u8>);

    impl Arbitrary for Valid {
        fn arbitrary(g: &mut Gen) -> Self {
            let len = usize::from(u16::arbitrary(g) % 2000) + 1;
            let ipv6 = bool::arbitrary(g);
            let mut packet = vec![0u8; len];
            packet[0] = if ipv6 { 0x60 } else { 0x45 };
            let below = |g: &mut Gen, n: usize| (usize::arbitrary(g) % n) as u16;
            let gso = bool::arbitrary(g);
            let ecn = if gso && bool::arbitrary(g) {
                VIRTIO_NET_HDR_GSO_ECN
            } else {
                0
            };
            let needs_csum = len >= 2 && bool::arbitrary(g);
            let (csum_start, csum_offset) = if needs_csum {
                let start = below(g, len - 1);
                (start, below(g, len - 1 - usize::from(start)))
            } else {
                (u16::arbitrary(g), u16::arbitrary(g))
            };
            let flags = if needs_csum {
                VIRTIO_NET_HDR_F_NEEDS_CSUM
            } else if bool::arbitrary(g) {
                VIRTIO_NET_HDR_F_DATA_VALID
            } else {
                0
            };
            let h = VnetHeader {
                flags,
                gso_type: match (gso, ipv6) {
                    (false, _) => VIRTIO_NET_HDR_GSO_NONE,
                    (true, false) => VIRTIO_NET_HDR_GSO_TCPV4 | ecn,
                    (true, true) => VIRTIO_NET_HDR_GSO_TCPV6 | ecn,
                },
                hdr_len: below(g, len + 1),
                gso_size: if gso {
                    below(g, len) + 1
                } else {
                    u16::arbitrary(g)
                },
                csum_start,
                csum_offset,
            };
            Self(h, packet)
        }
    }

    quickcheck! {
        /// A header that fits its packet comes back as it was emitted,
        /// with the packet behind it.
        fn parse_of_emit_round_trips(v: Valid) -> bool {
            let Valid(h, packet) = v;
            parse(&framed(h, &packet)) == Ok((h, &packet[..]))
        }

        /// Any ten octets and packet: a header is parsed only if it fits
        /// (its offsets inside the packet), never a panic, and what is
        /// parsed emits the same octets.
        fn any_bytes_parse_or_fail_cleanly(bytes: Vec<u8>) -> bool {
            match parse(&bytes) {
                Ok((h, packet)) => {
                    let fits = h.partial_checksum().is_none_or(|(s, o)| s + o + 2 <= packet.len())
                        && usize::from(h.hdr_len) <= packet.len()
                        && (!h.is_gso() || (1..=packet.len()).contains(&usize::from(h.gso_size)));
                    fits && h.emit()[..] == bytes[..VNET_HDR_LEN]
                }
                Err(_) => true,
            }
        }
    }
}
