//! RecvBuf under arbitrary segments and reads. Always: memory within
//! capacity, the window and RCV.NXT consistent, SACK blocks within their
//! limit. With no cap on out-of-order ranges, also against a byte map:
//! what is read is exactly the contiguous stream, first copy of each octet.

use std::collections::BTreeMap;

use crate::Verdict;
use arbitrary::Arbitrary;
use vtcp_buf::RecvBuf;
use vtcp_seq::Seq;

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(i16, u16),
    Read(u16),
    Sack(u8),
}

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: (u32, u16, u8, Vec<Op>)| {
        let (start, cap, max_ranges, ops) = input;
        let cap = u64::from(cap) + 1;
        // 0 stands for no cap, where the byte model applies exactly.
        let modelled = max_ranges == 0;
        let max_ranges = if modelled {
            usize::MAX
        } else {
            usize::from(max_ranges)
        };
        let mut rx = RecvBuf::with_max_ooo_ranges(cap as usize, Seq(start), max_ranges);
        let mut held: BTreeMap<u64, u8> = BTreeMap::new();
        let (mut read, mut nxt) = (0u64, 0u64);
        for (id, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert(rel, len) => {
                    let Ok(at) = u64::try_from(nxt as i64 + i64::from(rel)) else {
                        continue;
                    };
                    let len = u64::from(len % 2048);
                    let data: Vec<u8> = (0..len).map(|i| (at + i + id as u64 * 7) as u8).collect();
                    let before = rx.nxt();
                    let got = rx.insert(Seq(start.wrapping_add(at as u32)), &data);
                    assert_eq!(rx.nxt(), before + got as u32);
                    if modelled {
                        for (i, b) in data.iter().enumerate() {
                            let x = at + i as u64;
                            if x >= nxt && x < read + cap {
                                held.entry(x).or_insert(*b);
                            }
                        }
                        let mut want = nxt;
                        while held.contains_key(&want) {
                            want += 1;
                        }
                        assert_eq!(nxt + got as u64, want);
                    }
                    nxt += got as u64;
                }
                Op::Read(n) => {
                    let mut out = vec![0u8; usize::from(n)];
                    let got = rx.read(&mut out);
                    assert_eq!(got as u64, u64::from(n).min(nxt - read));
                    if modelled {
                        for (i, b) in out[..got].iter().enumerate() {
                            assert_eq!(held.remove(&(read + i as u64)), Some(*b));
                        }
                    }
                    read += got as u64;
                }
                Op::Sack(max) => {
                    let blocks = rx.sack_blocks(usize::from(max % 5));
                    assert!(blocks.len() <= usize::from(max % 5));
                }
            }
            assert!(rx.readable() + rx.ooo_bytes() <= cap as usize);
            assert!(rx.ooo_ranges() <= max_ranges);
            assert_eq!(rx.window(), cap as usize - rx.readable());
            assert_eq!(rx.readable() as u64, nxt - read);
        }
    })
}
