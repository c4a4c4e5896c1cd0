//! TCP segmentation of a super-segment, as a NIC's TSO or Linux's GSO
//! does it: one header and a payload longer than the MSS in, segments of
//! at most `segment_size` octets of payload out.
//!
//! Each segment gets the super-segment's header with its own sequence
//! number (the first's plus its offset); FIN and PSH stay on the last one
//! only and CWR on the first only, as Linux's `tcp_gso_segment` leaves
//! them; every other field and every option is copied as is (RFC 7323
//! §3: segments sent in the same instant carry the same timestamp). The
//! checksum of each is completed under the pseudo-header when one is
//! given.
//!
//! A sender that cannot hand super-segments to its link (vtcp's
//! `SegmentWriter` by default, the simulator's software NIC) cuts them
//! here; one that can (a TUN device with `TUN_F_TSO4/6`) leaves that to
//! the kernel.
//!
//! ```
//! use vtcp_wire::{Flags, Segment, SegmentView, tso};
//!
//! let payload = [7u8; 2500];
//! let big = Segment {
//!     seq: 1000.into(),
//!     flags: Flags::ACK | Flags::PSH,
//!     payload: &payload[..],
//!     ..Segment::default()
//! };
//! let mut bytes = [0u8; 2520];
//! let len = big.emit(&mut bytes)?;
//! let mut scratch = [0u8; 1020];
//! let mut seen = Vec::new();
//! tso::split(&bytes[..len], 1000, None, &mut scratch, |s| {
//!     let v = SegmentView::new_checked(s).unwrap();
//!     seen.push((v.seq().0, v.payload().len(), v.flags().contains(Flags::PSH)));
//! })?;
//! assert_eq!(seen, [(1000, 1000, false), (2000, 1000, false), (3000, 500, true)]);
//! # Ok::<(), vtcp_wire::WireError>(())
//! ```

use crate::checksum::{self, PseudoHeader};
use crate::{Flags, SegmentView, WireError};

/// Cuts `segment` (header and payload, untrusted) into segments of at
/// most `segment_size` octets of payload, each written into `scratch` and
/// handed to `emit` in order, with its checksum filled under `pseudo`
/// when given (left as it was in the super-segment otherwise). A segment
/// whose payload fits in one (or a `segment_size` of 0) goes out whole.
///
/// # Errors
///
/// The segment's header is malformed ([`SegmentView::new_checked`]), or
/// `scratch` cannot hold its header and `segment_size` octets
/// ([`WireError::BufferTooSmall`]); nothing is emitted then.
pub fn split(
    segment: &[u8],
    segment_size: usize,
    pseudo: Option<&PseudoHeader>,
    scratch: &mut [u8],
    mut emit: impl FnMut(&[u8]),
) -> Result<usize, WireError> {
    let view = SegmentView::new_checked(segment)?;
    let header = view.header_len();
    let payload = view.payload();
    let size = if segment_size == 0 {
        payload.len().max(1)
    } else {
        segment_size
    };
    let need = header + size.min(payload.len());
    if scratch.len() < need {
        return Err(WireError::BufferTooSmall {
            need,
            have: scratch.len(),
        });
    }
    if payload.len() <= size {
        let out = &mut scratch[..segment.len()];
        out.copy_from_slice(segment);
        if let Some(p) = pseudo {
            checksum::fill_tcp_checksum(p, out);
        }
        emit(out);
        return Ok(1);
    }
    let (seq, flags) = (view.seq(), view.flags());
    let mut count = 0;
    for (i, chunk) in payload.chunks(size).enumerate() {
        let last = (i + 1) * size >= payload.len();
        let mut f = flags;
        if !last {
            f.remove(Flags::FIN | Flags::PSH);
        }
        if i > 0 {
            f.remove(Flags::CWR);
        }
        let len = header + chunk.len();
        let out = &mut scratch[..len];
        out[..header].copy_from_slice(&segment[..header]);
        out[header..].copy_from_slice(chunk);
        let mut v = SegmentView::new_unchecked(&mut *out);
        v.set_seq(seq + (i * size) as u32);
        v.set_flags(f);
        if let Some(p) = pseudo {
            v.fill_checksum(p);
        }
        emit(out);
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::verify_tcp_checksum;
    use crate::{Options, Segment, TcpOption};
    use alloc::vec::Vec;
    use quickcheck::quickcheck;

    fn super_segment(seq: u32, flags: Flags, payload: &[u8]) -> Vec<u8> {
        let seg = Segment {
            src_port: 7,
            dst_port: 40000,
            seq: seq.into(),
            ack: 99.into(),
            flags,
            window: 512,
            options: Options::build(&[TcpOption::Nop, TcpOption::Nop, TcpOption::timestamp(5, 6)])
                .unwrap(),
            payload,
            ..Segment::default()
        };
        seg.to_bytes()
    }

    #[test]
    fn the_pieces_carry_the_payload_in_order_across_the_sequence_wrap() {
        let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let bytes = super_segment(
            u32::MAX - 1500,
            Flags::ACK | Flags::PSH | Flags::FIN,
            &payload,
        );
        let pseudo = PseudoHeader::new([198, 18, 0, 2].into(), [198, 18, 0, 1].into()).unwrap();
        let mut scratch = [0u8; 1600];
        let mut got = Vec::new();
        let mut seqs = Vec::new();
        let n = split(&bytes, 1448, Some(&pseudo), &mut scratch, |s| {
            assert!(verify_tcp_checksum(&pseudo, s));
            let v = SegmentView::new_checked(s).unwrap();
            seqs.push((v.seq(), v.flags()));
            assert_eq!(v.ack().0, 99);
            assert_eq!(
                v.options_bytes(),
                SegmentView::new_checked(&bytes[..])
                    .unwrap()
                    .options_bytes()
            );
            got.extend_from_slice(v.payload());
        })
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(got, payload);
        let start = crate::Seq(u32::MAX - 1500);
        assert_eq!(seqs[1].0, start + 1448);
        assert_eq!(seqs[3].0, start + 3 * 1448);
        assert_eq!(seqs[3].0.0, 2843, "past 2^32");
        for (_, f) in &seqs[..3] {
            assert_eq!(*f, Flags::ACK);
        }
        assert_eq!(seqs[3].1, Flags::ACK | Flags::PSH | Flags::FIN);
    }

    #[test]
    fn cwr_stays_on_the_first_piece_only() {
        let bytes = super_segment(1, Flags::ACK | Flags::CWR, &[1; 300]);
        let mut scratch = [0u8; 200];
        let mut flags = Vec::new();
        split(&bytes, 100, None, &mut scratch, |s| {
            flags.push(SegmentView::new_checked(s).unwrap().flags());
        })
        .unwrap();
        assert_eq!(flags, [Flags::ACK | Flags::CWR, Flags::ACK, Flags::ACK]);
    }

    #[test]
    fn a_short_scratch_or_a_bad_header_emits_nothing() {
        let bytes = super_segment(1, Flags::ACK, &[1; 300]);
        let mut scratch = [0u8; 100];
        let mut n = 0;
        assert!(matches!(
            split(&bytes, 100, None, &mut scratch, |_| n += 1),
            Err(WireError::BufferTooSmall { .. })
        ));
        assert!(split(&bytes[..10], 100, None, &mut [0u8; 2000], |_| n += 1).is_err());
        assert_eq!(n, 0);
    }

    quickcheck! {
        /// Any payload, any size: the pieces put back together are the
        /// super-segment's payload, each at its sequence number, none
        /// longer than the size, all but the last exactly the size.
        fn pieces_reassemble_to_the_payload(len: u16, size: u16, seq: u32) -> bool {
            let len = usize::from(len % 4000);
            let size = usize::from(size % 1500) + 1;
            let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let bytes = super_segment(seq, Flags::ACK | Flags::PSH, &payload);
            let mut scratch = [0u8; 1600];
            let mut out: Vec<Vec<u8>> = Vec::new();
            split(&bytes, size, None, &mut scratch, |s| out.push(s.to_vec())).unwrap();
            let mut got = Vec::new();
            let mut pieces = Vec::new();
            for s in &out {
                let v = SegmentView::new_checked(&s[..]).unwrap();
                if v.seq() != crate::Seq(seq) + got.len() as u32 {
                    return false;
                }
                got.extend_from_slice(v.payload());
                pieces.push(v.payload().len());
            }
            let (last, rest) = pieces.split_last().unwrap();
            got == payload && rest.iter().all(|&p| p == size) && *last <= size
        }
    }
}
