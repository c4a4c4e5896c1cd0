//! A `vtcp::Stack` of many connections under a peer the fuzzer plays:
//! SYNs from many ports and two addresses (IPv4 and IPv6) to listeners
//! with small backlogs (so that SYN cookies take over), ACKs with the
//! cookies the stack sent or guessed ones, data, FIN and RST on what the
//! peer learnt of each flow, raw octets, ICMP errors quoting the
//! stack's segments, and the application's calls: listen, accept,
//! connect (with TCP Fast Open or not), write, read, close, abort,
//! release, a new cookie key, TFO on and off, and the clock.
//!
//! After every step: no panic; every segment out parses, carries a right
//! checksum and goes from our address to a peer's; the stack holds no
//! more connections than its listeners' backlogs (twice: half-open and
//! queued) and the application's own; and the counters agree with what
//! the harness saw (segments in and out, connections opened less closed
//! is the connections held).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::Verdict;
use crate::conn_ops::isn;
use arbitrary::Arbitrary;
use vtcp::icmp::{IcmpError, IcmpReport};
use vtcp::{ConnKey, FastOpenConfig, ListenerId, Stack, StackConfig};
use vtcp_conn::ConnConfig;
use vtcp_seq::Seq;
use vtcp_wire::checksum::{PseudoHeader, fill_tcp_checksum};
use vtcp_wire::{FastOpen, Flags, Options, Segment, SegmentView, TcpOption};

const US4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const PEER4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const US6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
const PEER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));

/// Ports the stack listens on (by the fuzzer's index).
const PORTS: [u16; 2] = [80, 443];

/// The application's connections the harness keeps, at most.
const MAX_OWNED: usize = 256;

/// A flow of the peer: its address family and port (one of 64 per
/// address), and the listener port it speaks to.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Flow {
    v6: bool,
    port: u8,
    server: bool,
}

impl Flow {
    fn peer(self) -> SocketAddr {
        let ip = if self.v6 { PEER6 } else { PEER4 };
        SocketAddr::new(ip, 20_000 + u16::from(self.port % 64))
    }

    fn us(self) -> SocketAddr {
        let ip = if self.v6 { US6 } else { US4 };
        SocketAddr::new(ip, PORTS[usize::from(self.server)])
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// A SYN from the flow, with the options the bits say (MSS, SACK,
    /// timestamps, window scale, a TFO cookie request or the cookie the
    /// stack gave, data).
    Syn {
        flow: Flow,
        isn: (u8, u32),
        opts: u8,
        data: u8,
    },
    /// The third ACK for the last SYN-ACK the flow saw (its cookie), or
    /// a guess `off` from it.
    Ack {
        flow: Flow,
        off: Option<i32>,
        data: u16,
    },
    /// A segment on the flow's learnt numbers (RCV.NXT and SND.NXT as the
    /// peer sees them), moved by the offsets.
    Segment {
        flow: Flow,
        flags: u8,
        seq_off: i16,
        ack_off: i16,
        window: u16,
        data: u16,
    },
    /// These octets as a segment of the flow, checksummed.
    Raw {
        flow: Flow,
        bytes: Vec<u8>,
    },
    /// The same through `handle_verified_packet` (checksum not looked at)
    /// or with the checksum left wrong.
    Unchecked {
        flow: Flow,
        verified: bool,
        bytes: Vec<u8>,
    },
    /// SYNs from this many ports at once (a flood past the backlogs).
    Flood {
        first: u8,
        count: u8,
        server: bool,
    },
    /// An ICMP error quoting a segment of the flow near the stack's last
    /// sequence number to it.
    Icmp {
        flow: Flow,
        icmp_type: u8,
        code: u8,
        rest: u32,
        off: i16,
    },
    Listen {
        server: bool,
        v6: bool,
        backlog: u8,
    },
    Unlisten {
        server: bool,
        v6: bool,
    },
    Accept {
        server: bool,
        v6: bool,
    },
    /// Opens a connection to the flow's peer (with TFO when asked).
    Connect {
        flow: Flow,
        fast_open: bool,
    },
    Write {
        conn: u8,
        len: u16,
    },
    Read {
        conn: u8,
    },
    Close {
        conn: u8,
    },
    Abort {
        conn: u8,
    },
    Release {
        conn: u8,
    },
    RotateKey(u8),
    FastOpen {
        client: bool,
        server: bool,
    },
    Advance(u16),
    /// The clock on to the stack's next timer.
    Tick,
}

/// What the peer learnt of a flow from the stack's last segment to it.
#[derive(Clone, Copy, Debug, Default)]
struct Learnt {
    /// The stack's next sequence number (its last SEQ + length).
    snd_nxt: Seq,
    /// What the stack acknowledged last: the peer's next.
    rcv_nxt: Seq,
    /// The stack's last SYN-ACK's sequence number (a cookie, maybe).
    syn_ack: Option<Seq>,
    /// The TFO cookie a SYN-ACK carried.
    cookie: Option<vtcp_wire::FastOpenCookie>,
}

/// The stack's configuration: the one place the harness makes it.
fn stack_config(fast_open: bool) -> StackConfig {
    let mut cfg = StackConfig::default();
    cfg.cookie_key = [1; 16];
    cfg.isn_key = [2; 16];
    cfg.fast_open.client = fast_open;
    cfg.fast_open.server = fast_open;
    cfg.fast_open.max_pending = 4;
    let mut conn = ConnConfig::default();
    conn.recv_buffer = 64 << 10;
    conn.send_buffer = 64 << 10;
    cfg.with_conn_config(conn)
}

struct Harness {
    stack: Stack,
    now: Duration,
    learnt: HashMap<SocketAddr, Learnt>,
    owned: Vec<ConnKey>,
    listeners: Vec<ListenerId>,
    /// Every listen call's backlog (the stack counts at least 1), summed.
    backlogs: usize,
    /// Connections the application took (accept, connect), in all.
    taken: usize,
    packets_in: u64,
    packets_out: u64,
    buf: Vec<u8>,
}

impl Harness {
    fn new(fast_open: bool) -> Self {
        Self {
            stack: Stack::new(stack_config(fast_open)),
            now: Duration::from_secs(1),
            learnt: HashMap::new(),
            owned: Vec::new(),
            listeners: Vec::new(),
            backlogs: 0,
            taken: 0,
            packets_in: 0,
            packets_out: 0,
            buf: vec![0; 70_000],
        }
    }

    /// Hands the stack a segment from `flow`'s peer, checksummed unless
    /// `sum` is false.
    fn send(&mut self, flow: Flow, mut bytes: Vec<u8>, sum: bool, verified: bool) {
        let (src, dst) = (flow.peer().ip(), flow.us().ip());
        if sum && bytes.len() >= 20 {
            let pseudo = PseudoHeader::new(src, dst).expect("one family");
            fill_tcp_checksum(&pseudo, &mut bytes);
        }
        self.packets_in += 1;
        if verified {
            self.stack
                .handle_verified_packet(self.now, src, dst, &bytes);
        } else {
            self.stack.handle_packet(self.now, src, dst, &bytes);
        }
    }

    fn segment(&mut self, flow: Flow, seg: &Segment<&[u8]>) {
        self.send(flow, seg.to_bytes(), true, false);
    }

    fn syn(&mut self, flow: Flow, isn_pick: (u8, u32), opts: u8, data: u8) {
        let bit = |n: u8| opts & (1 << n) != 0;
        let mut list = Vec::new();
        if bit(0) {
            list.push(TcpOption::Mss(536 + u16::from(opts >> 5) * 300));
        }
        if bit(1) {
            list.push(TcpOption::SackPermitted);
        }
        if bit(2) {
            list.push(TcpOption::timestamp(self.now.as_millis() as u32, 0));
        }
        if bit(3) {
            list.push(TcpOption::WindowScale(opts >> 4));
        }
        if bit(4) {
            let cookie = self.learnt.get(&flow.peer()).and_then(|l| l.cookie);
            list.push(TcpOption::FastOpen(cookie));
        }
        let payload = vec![0x5a; usize::from(data)];
        self.segment(
            flow,
            &Segment {
                src_port: flow.peer().port(),
                dst_port: flow.us().port(),
                seq: Seq(isn(isn_pick.0, isn_pick.1)),
                flags: Flags::SYN,
                window: 65_535,
                options: Options::build(&list).unwrap_or_default(),
                payload: &payload[..],
                ..Default::default()
            },
        );
    }

    fn owned(&self, pick: u8) -> Option<ConnKey> {
        (!self.owned.is_empty()).then(|| self.owned[usize::from(pick) % self.owned.len()])
    }

    /// Where in `listeners` the listener on our address of that family
    /// and the port `server` names is.
    fn listener(&self, server: bool, v6: bool) -> Option<usize> {
        let at = Flow {
            v6,
            port: 0,
            server,
        }
        .us();
        self.listeners.iter().position(|l| l.local_addr() == at)
    }

    fn take(&mut self, key: ConnKey) {
        self.taken += 1;
        if self.owned.len() < MAX_OWNED {
            self.owned.push(key);
        }
    }

    fn step(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Syn {
                flow,
                isn,
                opts,
                data,
            } => self.syn(flow, isn, opts, data),
            Op::Ack { flow, off, data } => {
                let l = self.learnt.get(&flow.peer()).copied().unwrap_or_default();
                let cookie = l.syn_ack.unwrap_or(l.snd_nxt);
                let payload = vec![0x33; usize::from(data % 2000)];
                self.segment(
                    flow,
                    &Segment {
                        src_port: flow.peer().port(),
                        dst_port: flow.us().port(),
                        seq: l.rcv_nxt,
                        ack: cookie + 1 + off.unwrap_or(0) as u32,
                        flags: Flags::ACK,
                        window: 65_535,
                        payload: &payload[..],
                        ..Default::default()
                    },
                );
            }
            Op::Segment {
                flow,
                flags,
                seq_off,
                ack_off,
                window,
                data,
            } => {
                let l = self.learnt.get(&flow.peer()).copied().unwrap_or_default();
                let payload = vec![0x44; usize::from(data % 3000)];
                self.segment(
                    flow,
                    &Segment {
                        src_port: flow.peer().port(),
                        dst_port: flow.us().port(),
                        seq: l.rcv_nxt + i32::from(seq_off) as u32,
                        ack: l.snd_nxt + i32::from(ack_off) as u32,
                        flags: Flags::from_bits_truncate(u16::from(flags)),
                        window,
                        payload: &payload[..],
                        ..Default::default()
                    },
                );
            }
            Op::Raw { flow, bytes } => self.send(flow, bytes, true, false),
            Op::Unchecked {
                flow,
                verified,
                bytes,
            } => self.send(flow, bytes, false, verified),
            Op::Flood {
                first,
                count,
                server,
            } => {
                for k in 0..count % 32 {
                    let flow = Flow {
                        v6: k % 2 == 1,
                        port: first.wrapping_add(k),
                        server,
                    };
                    self.syn(flow, (5, u32::from(k) * 7_919), 0b1111, 0);
                }
            }
            Op::Icmp {
                flow,
                icmp_type,
                code,
                rest,
                off,
            } => {
                let error = if flow.v6 {
                    IcmpError::from_icmpv6(icmp_type, code, rest)
                } else {
                    IcmpError::from_icmpv4(icmp_type, code, rest)
                };
                let l = self.learnt.get(&flow.peer()).copied().unwrap_or_default();
                if let Some(error) = error {
                    let mut quoted = [0u8; 8];
                    quoted[..2].copy_from_slice(&flow.us().port().to_be_bytes());
                    quoted[2..4].copy_from_slice(&flow.peer().port().to_be_bytes());
                    let seq = l.snd_nxt + i32::from(off) as u32;
                    quoted[4..8].copy_from_slice(&seq.0.to_be_bytes());
                    self.stack.handle_icmp(
                        now,
                        &IcmpReport {
                            error,
                            src: flow.us().ip(),
                            dst: flow.peer().ip(),
                            quoted: &quoted,
                        },
                    );
                }
            }
            Op::Listen {
                server,
                v6,
                backlog,
            } => {
                let ip = if v6 { US6 } else { US4 };
                let backlog = usize::from(backlog % 8);
                if let Ok(id) = self
                    .stack
                    .listen(SocketAddr::new(ip, PORTS[usize::from(server)]), backlog)
                {
                    self.backlogs += backlog.max(1);
                    self.listeners.push(id);
                }
            }
            Op::Unlisten { server, v6 } => {
                if let Some(i) = self.listener(server, v6) {
                    self.stack.unlisten(self.listeners.remove(i));
                }
            }
            Op::Accept { server, v6 } => {
                if let Some(i) = self.listener(server, v6)
                    && let Some(key) = self.stack.accept(self.listeners[i])
                {
                    self.take(key);
                }
            }
            Op::Connect { flow, fast_open } => {
                let (ip, peer) = (flow.us().ip(), flow.peer());
                let key = if fast_open {
                    self.stack.connect_fast_open(now, ip, peer)
                } else {
                    self.stack.connect(now, ip, peer)
                };
                if let Ok(key) = key {
                    self.take(key);
                }
            }
            Op::Write { conn, len } => {
                if let Some(c) = self.owned(conn).and_then(|k| self.stack.conn_mut(k)) {
                    let _ = c.write(&vec![0x77; usize::from(len)]);
                }
            }
            Op::Read { conn } => {
                if let Some(c) = self.owned(conn).and_then(|k| self.stack.conn_mut(k)) {
                    let mut out = [0; 4096];
                    while c.read(&mut out) > 0 {}
                }
            }
            Op::Close { conn } => {
                if let Some(c) = self.owned(conn).and_then(|k| self.stack.conn_mut(k)) {
                    c.close();
                }
            }
            Op::Abort { conn } => {
                if let Some(c) = self.owned(conn).and_then(|k| self.stack.conn_mut(k)) {
                    c.abort();
                }
            }
            Op::Release { conn } => {
                if let Some(key) = self.owned(conn) {
                    self.stack.release(key);
                    self.owned.retain(|&k| k != key);
                }
            }
            Op::RotateKey(k) => self.stack.rotate_cookie_key([k; 16]),
            Op::FastOpen { client, server } => {
                let mut cfg = FastOpenConfig::default();
                cfg.client = client;
                cfg.server = server;
                cfg.max_pending = 4;
                self.stack.set_fast_open(cfg);
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                self.stack.handle_timeout(self.now);
            }
            Op::Tick => {
                if let Some(t) = self.stack.poll_timeout() {
                    self.now = self.now.max(t);
                    self.stack.handle_timeout(self.now);
                }
            }
        }
        self.transmit();
        while self.stack.poll_event().is_some() {}
        self.check();
    }

    /// Takes every segment the stack sends, checks it, and learns from
    /// it.
    fn transmit(&mut self) {
        while let Some(t) = self.stack.poll_transmit(self.now, &mut self.buf) {
            self.packets_out += 1;
            let bytes = &self.buf[..t.len];
            assert!(
                [US4, US6].contains(&t.src) && [PEER4, PEER6].contains(&t.dst),
                "{t:?}"
            );
            let mut summed = bytes.to_vec();
            let pseudo = PseudoHeader::new(t.src, t.dst).expect("one family");
            fill_tcp_checksum(&pseudo, &mut summed);
            assert_eq!(summed, bytes, "a segment out with a wrong checksum");
            let seg = Segment::parse(bytes).expect("the stack sends valid segments");
            let l = self
                .learnt
                .entry(SocketAddr::new(t.dst, seg.dst_port))
                .or_default();
            l.snd_nxt = seg.seq + seg.data_len() as u32 + u32::from(seg.flags.contains(Flags::SYN));
            if seg.flags.contains(Flags::ACK) {
                l.rcv_nxt = seg.ack;
            }
            if seg.flags.contains(Flags::SYN | Flags::ACK) {
                l.syn_ack = Some(seg.seq);
                let tfo = SegmentView::new_checked(bytes)
                    .ok()
                    .and_then(|v| v.option_values().ok())
                    .and_then(|v| v.fast_open);
                if let Some(FastOpen::Cookie(c)) = tfo {
                    l.cookie = Some(c);
                }
            }
        }
    }

    fn check(&self) {
        let c = self.stack.counters();
        let held = self.stack.connections();
        assert_eq!(c.segments_in, self.packets_in);
        assert_eq!(c.segments_out, self.packets_out);
        assert_eq!(
            c.connections_opened - c.connections_closed,
            held as u64,
            "{c:?}"
        );
        assert!(
            held <= 2 * self.backlogs + self.taken,
            "{held} connections for backlogs of {} and {} taken",
            self.backlogs,
            self.taken
        );
        assert_eq!(held, self.stack.conns().count());
    }
}

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |(fast_open, ops): (bool, Vec<Op>)| {
        let mut h = Harness::new(fast_open);
        for op in ops {
            h.step(op);
        }
        // Everything times out in the end: what is not the application's
        // goes.
        for key in std::mem::take(&mut h.owned) {
            h.stack.release(key);
        }
        h.step(Op::Advance(u16::MAX));
        for _ in 0..64 {
            h.step(Op::Tick);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(port: u8) -> Flow {
        Flow {
            v6: false,
            port,
            server: false,
        }
    }

    #[test]
    fn a_flood_past_the_backlog_gets_cookies_and_their_acks_connect() {
        let mut h = Harness::new(false);
        h.step(Op::Listen {
            server: false,
            v6: false,
            backlog: 2,
        });
        for port in 0..6 {
            h.step(Op::Syn {
                flow: flow(port),
                isn: (0, 0),
                opts: 0b1111,
                data: 0,
            });
        }
        assert_eq!(h.stack.counters().cookies_sent, 4);
        for port in 2..4 {
            h.step(Op::Ack {
                flow: flow(port),
                off: None,
                data: 10,
            });
        }
        assert_eq!(h.stack.counters().cookies_validated, 2);
        h.step(Op::Ack {
            flow: flow(4),
            off: Some(1),
            data: 0,
        });
        assert_eq!(h.stack.counters().cookies_refused, 1);
        for _ in 0..3 {
            h.step(Op::Accept {
                server: false,
                v6: false,
            });
        }
        assert_eq!(h.owned.len(), 2);
    }
}
