//! A connection under arbitrary segments, clock advances and application
//! calls, from a completed handshake: never a panic, SND.UNA never past
//! SND.NXT, buffers within their sizes, and a timer pending whenever data
//! is unacknowledged.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vtcp_conn::{Conn, ConnConfig, IsnSource, State};
use vtcp_seq::Seq;
use vtcp_wire::{Flags, Options, Segment, TcpOption};

const PEER_ISN: u32 = 7_000_000;

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
}

fuzz_target!(|input: (bool, u16, Vec<Op>)| {
    let (passive, buf_kib, ops) = input;
    let size = (usize::from(buf_kib % 256) + 1) * 1024;
    let mut cfg = ConnConfig::default();
    cfg.local_port = 80;
    cfg.remote_port = 4000;
    cfg.isn = IsnSource::Fixed(Seq(1_000));
    cfg.send_buffer = size;
    cfg.recv_buffer = size;
    let mut now = Duration::from_secs(1);
    let syn = Segment {
        src_port: 4000,
        dst_port: 80,
        seq: Seq(PEER_ISN),
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
        Conn::accept_syn(cfg, now, &syn.to_bytes()).unwrap()
    } else {
        Conn::connect(cfg, now)
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
                    Seq(PEER_ISN)
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
                conn.handle_segment(now, &seg.to_bytes());
            }
            Op::Raw(bytes) => conn.handle_segment(now, &bytes),
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
        }
        while let Some(n) = conn.poll_transmit(now, &mut buf) {
            let seg = Segment::parse(&buf[..n]).expect("we emit valid segments");
            assert!(seg.data_len() <= conn.send_mss().max(1) as usize);
        }
        while conn.poll_event().is_some() {}
        assert!(conn.snd_una().before_eq(conn.snd_nxt()), "{conn:?}");
        let stats = conn.stats();
        assert!(conn.readable() + stats.ooo_bytes <= size);
        if stats.bytes_in_flight > 0 && conn.state() != State::Closed {
            assert!(
                conn.poll_timeout().is_some(),
                "unacknowledged data with no timer: {conn:?}"
            );
        }
    }
});
