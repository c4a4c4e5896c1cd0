//! Checksums: the fast sum equals RFC 1071's word-at-a-time reference, and
//! an incremental update (RFC 1624) equals recomputing from scratch.

use crate::Verdict;
use vtcp_wire::checksum::{internet_checksum, ones_complement_sum, update_u16, update_u32};

fn reference_sum(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for pair in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// 0x0000 and 0xffff are both zero in one's complement (RFC 1624 §3).
fn same(a: u16, b: u16) -> bool {
    a == b || (a | b == 0xffff && (a == 0 || b == 0))
}

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: (Vec<u8>, u16, u32, bool)| {
        let (mut data, at, new, wide) = input;
        assert_eq!(ones_complement_sum(&data), reference_sum(&data));
        let width = if wide { 4 } else { 2 };
        if data.len() < width {
            return;
        }
        let at = (usize::from(at) % (data.len() / width)) * width;
        let before = internet_checksum(&data);
        let updated = if wide {
            let old = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            data[at..at + 4].copy_from_slice(&new.to_be_bytes());
            update_u32(before, old, new)
        } else {
            let new = new as u16;
            let old = u16::from_be_bytes([data[at], data[at + 1]]);
            data[at..at + 2].copy_from_slice(&new.to_be_bytes());
            update_u16(before, old, new)
        };
        assert!(same(updated, internet_checksum(&data)));
    })
}
