//! SendBuf under arbitrary writes, sends, ACKs and SACKs, against a model
//! of the bytes written: the held bytes are always the ones written, the
//! counters agree, and RFC 6675 queries never panic.

use crate::Verdict;
use arbitrary::Arbitrary;
use vtcp_buf::SendBuf;
use vtcp_seq::Seq;

#[derive(Arbitrary, Debug)]
enum Op {
    Write(u16),
    Send(u16),
    Ack(u32),
    Sack(u32, u32),
    Rewind(u32),
    ClearSacks,
    Query(u32, u16),
}

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: (u32, u16, Vec<Op>)| {
        let (start, cap, ops) = input;
        let cap = usize::from(cap) + 1;
        let mut tx = SendBuf::new(cap, Seq(start));
        let mut stream: Vec<u8> = Vec::new();
        let mut acked = 0usize;
        for op in ops {
            match op {
                Op::Write(n) => {
                    let data: Vec<u8> = (0..n)
                        .map(|i| (stream.len() + usize::from(i)) as u8)
                        .collect();
                    let took = tx.write(&data);
                    stream.extend_from_slice(&data[..took]);
                }
                Op::Send(n) => {
                    tx.advance_sent(usize::from(n));
                }
                Op::Ack(a) => acked += tx.acknowledge(Seq(a)),
                Op::Sack(l, r) => {
                    tx.mark_sacked(Seq(l), Seq(r));
                }
                Op::Rewind(s) => tx.rewind_to(Seq(s)),
                Op::ClearSacks => tx.clear_sacks(),
                Op::Query(s, mss) => {
                    let mss = usize::from(mss).max(1);
                    let _ = tx.is_lost(Seq(s), mss);
                    let _ = tx.pipe(Seq(s), mss);
                    if let Some(next) = tx.next_seg(Seq(s), mss) {
                        assert!(next.len > 0 && next.len <= mss);
                        assert!(!tx.is_sacked(next.seq));
                    }
                    if let Some((seq, a, b)) = tx.retransmit_data(Seq(s), mss) {
                        assert!(a.len() + b.len() <= mss && !tx.is_sacked(seq));
                    }
                }
            }
            assert_eq!(tx.una(), Seq(start.wrapping_add(acked as u32)));
            assert_eq!(tx.tail(), Seq(start.wrapping_add(stream.len() as u32)));
            assert_eq!(tx.unacked() + tx.pending(), stream.len() - acked);
            assert_eq!(tx.available(), cap - (stream.len() - acked));
            let (a, b) = tx
                .range(tx.una(), stream.len() - acked)
                .expect("the held range");
            assert_eq!([a, b].concat(), &stream[acked..]);
            assert!(tx.scoreboard().sacked_bytes() as usize <= stream.len() - acked);
            assert!(tx.pipe(tx.una(), 1) <= 2 * tx.unacked());
        }
    })
}
