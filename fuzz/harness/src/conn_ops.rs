//! A connection under arbitrary segments, clock advances and application
//! calls, from a completed handshake: never a panic, SND.UNA never past
//! SND.NXT, buffers within their sizes, and a timer pending whenever data
//! is unacknowledged.
//!
//! Both ISNs are picked near the 2^31 and 2^32 wraps (or anywhere), and
//! `SkipStream` moves the buffers' stream offsets on by 2^32 whenever they
//! are empty, so the fuzzer reaches the edges of a long-lived connection.

use std::time::Duration;

use crate::Verdict;
use arbitrary::Arbitrary;
use vtcp_conn::{Congestion, Conn, ConnConfig, Endpoints, IsnSource, State};
use vtcp_seq::Seq;
use vtcp_wire::{Flags, Options, ParsedSegment, Segment, TcpOption};

/// ISNs the fuzzer picks from: just below and at both wraps, or its own.
pub(crate) fn isn(pick: u8, any: u32) -> u32 {
    match pick % 6 {
        0 => 1_000,
        1 => (1 << 31) - 2_000,
        2 => 1 << 31,
        3 => u32::MAX - 2_000,
        4 => u32::MAX,
        _ => any,
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// A segment near the connection's own numbers.
    Segment {
        flags: u8,
        seq_off: i32,
        ack_off: i32,
        window: u16,
        len: u16,
        ts: Option<(u32, u32)>,
        sack: Option<(i32, u16)>,
    },
    /// Arbitrary bytes as a segment.
    Raw(Vec<u8>),
    Advance(u32),
    Write(u16),
    Read(u16),
    Close,
    Shutdown,
    Abort,
    /// The buffers' stream offsets on by 2^32 where they are empty.
    SkipStream,
}

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: (bool, u16, [(u8, u32); 2], Vec<Op>)| {
        let (passive, buf_kib, [ours, theirs], ops) = input;
        let peer_isn = isn(theirs.0, theirs.1);
        let size = (usize::from(buf_kib % 256) + 1) * 1024;
        let mut cfg = ConnConfig::default();
        let ends = Endpoints::ports(80, 4000).with_isn(IsnSource::Fixed(Seq(isn(ours.0, ours.1))));
        cfg.send_buffer = size;
        cfg.recv_buffer = size;
        // The size's spare bits pick the controller: BBR's pacing, rate
        // samples and window rules in every state too.
        cfg.congestion = controller(buf_kib >> 8);
        // And whether the link cuts super-segments (TSO), of what size.
        let max_segment = match (buf_kib >> 10) % 4 {
            0 => 0,
            1 => 65_535,
            2 => 60 + 3 * 1460,
            _ => usize::from(buf_kib >> 12) * 4096,
        };
        let mut now = Duration::from_secs(1);
        let syn = Segment {
            src_port: 4000,
            dst_port: 80,
            seq: Seq(peer_isn),
            flags: Flags::SYN,
            window: 65535,
            options: Options::build(&[
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::timestamp(1, 0),
                TcpOption::Nop,
                TcpOption::WindowScale(7),
            ])
            .unwrap(),
            payload: &[][..],
            ..Default::default()
        };
        let mut conn = if passive {
            let syn = syn.to_bytes();
            let syn = ParsedSegment::parse(&syn).unwrap();
            Conn::accept_syn(cfg, ends, now, &syn).unwrap()
        } else {
            Conn::connect(cfg, ends, now)
        };
        let mut buf = vec![0u8; 70_000];
        let mut data = vec![0u8; 70_000];
        for op in ops {
            match op {
                Op::Segment {
                    flags,
                    seq_off,
                    ack_off,
                    window,
                    len,
                    ts,
                    sack,
                } => {
                    let rcv_nxt = if conn.state() == State::SynSent {
                        Seq(peer_isn)
                    } else {
                        conn.rcv_nxt()
                    };
                    let mut list = Vec::new();
                    if let Some((v, e)) = ts {
                        list.push(TcpOption::timestamp(v, e));
                    }
                    if let Some((off, l)) = sack {
                        let left = conn.snd_una() + off as u32;
                        list.push(
                            TcpOption::sack(&[vtcp_wire::SackBlock {
                                left,
                                right: left + u32::from(l),
                            }])
                            .unwrap(),
                        );
                    }
                    let payload = vec![0x42; usize::from(len % 3000)];
                    let seg = Segment {
                        src_port: 4000,
                        dst_port: 80,
                        seq: rcv_nxt + seq_off as u32,
                        ack: conn.snd_una() + ack_off as u32,
                        flags: Flags::from_bits_truncate(u16::from(flags)),
                        window,
                        options: Options::build(&list).unwrap_or_default(),
                        payload: &payload[..],
                        ..Default::default()
                    };
                    let bytes = seg.to_bytes();
                    let seg = ParsedSegment::parse(&bytes).expect("a segment built");
                    conn.handle_segment(now, &seg);
                }
                // What does not parse never reaches a connection: the
                // stack (or whoever moves the bytes) drops it.
                Op::Raw(bytes) => {
                    if let Ok(seg) = ParsedSegment::parse(&bytes) {
                        conn.handle_segment(now, &seg);
                    }
                }
                Op::Advance(us) => {
                    now += Duration::from_micros(u64::from(us));
                    if conn.poll_timeout().is_some_and(|t| t <= now) {
                        conn.handle_timeout(now);
                    }
                }
                Op::Write(n) => {
                    let _ = conn.write(&data[..usize::from(n) % data.len()]);
                }
                Op::Read(n) => {
                    let n = usize::from(n) % data.len();
                    conn.read(&mut data[..n]);
                }
                Op::Close => conn.close(),
                Op::Shutdown => conn.shutdown_write(),
                Op::Abort => conn.abort(),
                // Only fuzz builds have the hook (the crate doc says why).
                Op::SkipStream => {
                    #[cfg(fuzzing)]
                    conn.fuzz_skip_stream();
                }
            }
            while let Some(w) = conn.poll_transmit_super(now, &mut buf, max_segment) {
                let seg = Segment::parse(&buf[..w.len]).expect("we emit valid segments");
                let mss = conn.send_mss().max(1) as usize;
                assert!(w.segment_size <= mss && w.segment_size <= seg.data_len().max(1));
                assert_eq!(
                    w.segments,
                    seg.data_len().div_ceil(w.segment_size.max(1)).max(1)
                );
                assert!(
                    w.segments == 1 || w.len <= max_segment,
                    "{w:?} over {max_segment}"
                );
            }
            while conn.poll_event().is_some() {}
            check(&conn, size);
        }
    })
}

/// The controller the fuzzer's `pick` names: each of the four built in.
pub(crate) fn controller(pick: u16) -> Congestion {
    match pick % 4 {
        0 => Congestion::HighSpeed,
        1 => Congestion::Bbr,
        2 => Congestion::Cubic,
        _ => Congestion::NewReno,
    }
}

/// The invariants of one connection whose receive buffer holds
/// `recv_buffer` octets, after any step: SND.UNA ≤ SND.NXT (RFC 9293
/// §3.3.1), the received data within the buffer, and a timer pending
/// whenever data is unacknowledged (RFC 6298 §5.1).
pub(crate) fn check(conn: &Conn, recv_buffer: usize) {
    assert!(conn.snd_una().before_eq(conn.snd_nxt()), "{conn:?}");
    let stats = conn.stats();
    assert!(conn.readable() + stats.ooo_bytes <= recv_buffer, "{conn:?}");
    if stats.bytes_in_flight > 0 && conn.state() != State::Closed {
        assert!(
            conn.poll_timeout().is_some(),
            "unacknowledged data with no timer: {conn:?}"
        );
    }
}
