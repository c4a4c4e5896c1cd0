//! Streams longer than 2^32 octets through a [`SendBuf`] and a [`RecvBuf`],
//! from ISNs just below the 2^31 and 2^32 wraps, with segments lost and
//! repaired by SACK: every octet arrives once, in order, and the sequence
//! numbers both buffers report agree with a `u64` model at every step.
//!
//! Before the fix this checks, a [`SendBuf`] mapped sequence numbers to
//! offsets "within 2^31 of the stream's start", and every connection
//! stopped sending after 2 GiB.

use vtcp_buf::{RecvBuf, SendBuf};
use vtcp_seq::Seq;

/// Octets per segment: large, so that 4.5 GiB is few enough segments for a
/// debug build.
const SEG: usize = 32 * 1024;
/// Octets in flight at most.
const WINDOW: usize = 1 << 20;
/// Pattern period: a prime, so that no segment boundary lines up with it.
const PERIOD: usize = 65_521;

/// The stream's octet at offset `o` and the `n` after it, as one slice.
fn pattern(table: &[u8], o: u64, n: usize) -> &[u8] {
    let at = (o % PERIOD as u64) as usize;
    &table[at..at + n]
}

/// Moves `len` octets from ISN `isn`; the first transmission of every
/// `lose_every`-th segment is lost. Returns the segments retransmitted.
fn transfer(isn: u32, len: u64, lose_every: u64) -> u64 {
    // Any window of up to SEG octets of the stream is one slice of this.
    let table: Vec<u8> = (0..PERIOD + SEG)
        .map(|i| {
            ((i % PERIOD) as u32)
                .wrapping_mul(2_654_435_761)
                .to_le_bytes()[3]
        })
        .collect();
    let start = Seq(isn);
    let seq_of = |o: u64| start + o as u32;
    let mut tx = SendBuf::new(2 * WINDOW, start);
    let mut rx = RecvBuf::new(2 * WINDOW, start);
    let (mut written, mut read) = (0u64, 0u64);
    let (mut sent_segments, mut retransmitted) = (0u64, 0u64);
    let mut out = vec![0u8; WINDOW];
    while read < len {
        // The application writes what fits.
        while written < len && tx.available() > 0 {
            let n = tx.write_with(|a, b| {
                let n = (a.len() + b.len()).min((len - written) as usize).min(SEG);
                let first = n.min(a.len());
                a[..first].copy_from_slice(pattern(&table, written, first));
                b[..n - first].copy_from_slice(pattern(&table, written + first as u64, n - first));
                n
            });
            written += n as u64;
        }
        // New data, up to the window; some first transmissions lost.
        while tx.unacked() + SEG <= WINDOW && tx.pending() > 0 {
            let seq = tx.nxt();
            let (a, b) = tx.peek_unsent(SEG);
            let data = [a, b].concat();
            tx.advance_sent(data.len());
            sent_segments += 1;
            if sent_segments % lose_every != 0 {
                rx.insert(seq, &data);
            }
        }
        // The receiver reads, checking every octet against the model.
        loop {
            let n = rx.read(&mut out);
            if n == 0 {
                break;
            }
            for chunk in out[..n].chunks(SEG) {
                assert_eq!(
                    chunk,
                    pattern(&table, read, chunk.len()),
                    "octets at {read}"
                );
                read += chunk.len() as u64;
            }
        }
        assert_eq!(rx.nxt(), seq_of(read), "RCV.NXT at offset {read}");
        // The ACK and its SACK blocks.
        let acked = tx.acknowledge(rx.nxt());
        let blocks = rx.sack_blocks(4);
        for b in blocks.iter() {
            assert!(tx.mark_sacked(b.left, b.right), "SACK {b:?} refused");
        }
        assert_eq!(
            tx.una(),
            seq_of(read),
            "SND.UNA at offset {read} (acked {acked})"
        );
        // Every hole below the highest SACK is retransmitted, skipping
        // what was SACKed; retransmissions arrive.
        if let Some(high) = tx.high_sacked() {
            let mut from = tx.una();
            while let Some((seq, a, b)) = tx.retransmit_data(from, SEG) {
                if !seq.before(high) {
                    break;
                }
                let data = [a, b].concat();
                from = seq + data.len() as u32;
                retransmitted += 1;
                rx.insert(seq, &data);
            }
        }
        assert_eq!(tx.nxt(), seq_of(written - tx.pending() as u64));
    }
    assert_eq!((written, read), (len, len));
    assert_eq!(tx.acknowledge(rx.nxt()), tx.unacked());
    assert!(tx.is_empty());
    assert_eq!(tx.una(), Seq(isn.wrapping_add(len as u32)));
    retransmitted
}

/// 4.5 GiB from just below the 2^32 wrap and from just below 2^31: the
/// stream crosses 2^31 and 2^32 octets, and its sequence numbers wrap
/// twice.
#[test]
fn more_than_four_gib_from_isns_near_both_wraps() {
    let len = (1u64 << 32) + (1 << 31) + 12_345;
    for isn in [u32::MAX - 20_000, (1 << 31) - 20_000] {
        let retransmitted = transfer(isn, len, 97);
        assert!(
            retransmitted >= len / SEG as u64 / 97 - 1,
            "every lost segment is repaired ({retransmitted})"
        );
    }
}
