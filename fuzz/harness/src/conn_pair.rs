//! Two connected engines over a network the fuzzer drives: it delivers,
//! drops, duplicates, reorders and corrupts their segments, injects
//! crafted ones, moves the clock and plays both applications. After every
//! step: what each application read is exactly the start of what the
//! other wrote, each engine keeps its invariants (conn_ops' `check`) and
//! its buffer memory within its buffers' sizes. At the end the network
//! turns perfect and the clock runs (up to 30 virtual minutes): where
//! neither side was reset, timed out, aborted or closed to reading, and
//! nothing forged reached them, everything written must have been read.
//!
//! The input picks the start (a fresh handshake; established; with data
//! in flight; in fast recovery; against a zero window; one side in
//! TIME-WAIT; stream offsets moved on by 2^32), the ISNs (near the 2^31
//! and 2^32 wraps), each side's buffers (4 KiB to 1 GiB, window scale
//! 14), controller, SACK and timestamps. A start is a list of the same
//! operations the fuzzer plays, so every start is also reachable by hand.
//!
//! The application bytes are a pattern of the stream offset
//! (`pattern`), so the reader checks content without a copy of the
//! stream. The network is a link with a CRC: a corrupted segment is
//! dropped at delivery, unless the fuzzer asks for its checksum to be
//! fixed (a middlebox rewriting it), which, as an injected segment does,
//! marks the run forged: content or length may then differ, and the
//! liveness check is off.

use std::collections::VecDeque;
use std::time::Duration;

use crate::Verdict;
use crate::conn_ops::{check, controller, isn};
use arbitrary::Arbitrary;
use vtcp_conn::{CloseReason, Conn, ConnConfig, Endpoints, IsnSource};
use vtcp_seq::Seq;
use vtcp_wire::{Flags, Options, ParsedSegment, SackBlock, Segment, TcpOption};

/// The most segments each direction of the network holds; past it the
/// link drops what is sent (a tail-drop queue).
const QUEUE_CAP: usize = 256;

/// How long the final drain runs the clock at most.
const DRAIN_TIME: Duration = Duration::from_secs(30 * 60);

/// Steps of the final drain at most (a step delivers what is queued or
/// fires the next timer).
const DRAIN_STEPS: usize = 200_000;

/// The octet at `offset` of the stream side `from` writes: a hash of the
/// offset, so that a shifted, repeated or foreign octet shows.
fn pattern(from: usize, offset: u64) -> u8 {
    let x = (offset ^ ((from as u64) << 63)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> 56) as u8
}

/// Buffer sizes the fuzzer picks from, the last needing window scale 14.
const BUFFERS: [usize; 6] = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 4 << 20, 1 << 30];

/// Where the run starts.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Start {
    /// Nothing sent: the handshake is the fuzzer's.
    Fresh,
    /// The handshake done.
    Established,
    /// Established, with this many octets from A on the wire.
    InFlight(u16),
    /// Established, A's 30 KB sent, the segments picked by the bits of
    /// `lost` dropped and the rest and their ACKs delivered: A in
    /// recovery (or about to time out).
    Recovery { lost: u32 },
    /// B stops reading and A fills its window.
    ZeroWindow,
    /// A closed first, then B, all delivered: A in TIME-WAIT.
    TimeWait,
    /// Established, both buffers' stream offsets moved on by 2^32 (in
    /// fuzz builds).
    LongLived,
}

#[derive(Arbitrary, Debug)]
struct Setup {
    start: Start,
    isn_a: (u8, u32),
    isn_b: (u8, u32),
    /// Each side's buffers ([`BUFFERS`]).
    buffers: [u8; 2],
    /// Each side's controller (conn_ops' `controller`).
    controllers: [u8; 2],
    /// Bits: SACK on A, on B; timestamps on A, on B; RACK-TLP off; Nagle
    /// off; auto-tuning off; window scaling off.
    features: u8,
}

/// A segment crafted near the receiver's numbers: [`Pair::inject`].
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Crafted {
    flags: u8,
    seq_off: i32,
    ack_off: i32,
    window: u16,
    len: u16,
    sack: Option<(i32, u16)>,
}

/// Side 0 is A (connects), side 1 is B (accepts A's first SYN).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    /// The first segment queued for `to`.
    Deliver {
        to: bool,
    },
    /// The k-th segment queued for `to` (reordering).
    DeliverKth {
        to: bool,
        k: u8,
    },
    /// Everything queued for `to` now, in order.
    DeliverAll {
        to: bool,
    },
    /// The k-th segment queued for `to` lost.
    Drop {
        to: bool,
        k: u8,
    },
    /// The k-th segment queued for `to` sent twice.
    Duplicate {
        to: bool,
        k: u8,
    },
    /// An octet of the k-th segment queued for `to` changed; with `fix`
    /// its checksum made right again.
    Corrupt {
        to: bool,
        k: u8,
        at: u16,
        xor: u8,
        fix: bool,
    },
    /// A crafted segment near `to`'s own numbers, carrying the stream's
    /// octets where it lands.
    Inject {
        to: bool,
        seg: Crafted,
    },
    /// The clock on by this many milliseconds.
    Advance(u16),
    /// The clock on to the next timer of either side.
    Tick,
    /// Deliver everything both ways until nothing is left (no clock).
    Settle,
    Write {
        side: bool,
        len: u16,
    },
    Read {
        side: bool,
        len: u16,
    },
    /// The side's application stops (or resumes) reading on its own
    /// after every step.
    Squeeze {
        side: bool,
    },
    Shutdown {
        side: bool,
    },
    Close {
        side: bool,
    },
    Abort {
        side: bool,
    },
    /// Both buffers' stream offsets on by 2^32 where empty (fuzz builds).
    SkipStream,
}

/// The connection settings of side A (`side` 0) or B: the one place the
/// harness makes configurations.
fn config(setup: &Setup, side: usize) -> (ConnConfig, Endpoints) {
    let bit = |n: u8| setup.features & (1 << n) != 0;
    let size = BUFFERS[usize::from(setup.buffers[side]) % BUFFERS.len()];
    let (isn_pick, ports) = if side == 0 {
        (setup.isn_a, (4000, 80))
    } else {
        (setup.isn_b, (80, 4000))
    };
    let ends = Endpoints::ports(ports.0, ports.1)
        .with_isn(IsnSource::Fixed(Seq(isn(isn_pick.0, isn_pick.1))));
    let mut cfg = ConnConfig::default();
    cfg.send_buffer = size;
    cfg.recv_buffer = size;
    cfg.congestion = controller(u16::from(setup.controllers[side]));
    cfg.sack = bit(side as u8);
    cfg.timestamps = bit(2 + side as u8);
    cfg.rack_tlp = !bit(4);
    cfg.nodelay = bit(5);
    cfg.auto_tune = !bit(6);
    cfg.window_scaling = !bit(7);
    (cfg, ends)
}

/// One side: its engine (B's made by A's first SYN) and its application.
struct Side {
    conn: Option<Conn>,
    cfg: ConnConfig,
    ends: Endpoints,
    /// Octets the application wrote (that `write` took).
    written: u64,
    /// Octets the application read.
    read: u64,
    /// The application reads all it can after every step.
    reading: bool,
    /// The application closed (reads no more) or aborted.
    closed: bool,
    /// The application closed or shut down before the handshake was
    /// over: what it wrote may go unsent.
    closed_early: bool,
}

impl Side {
    fn new((cfg, ends): (ConnConfig, Endpoints)) -> Self {
        Self {
            conn: None,
            cfg,
            ends,
            written: 0,
            read: 0,
            reading: true,
            closed: false,
            closed_early: false,
        }
    }

    /// Gone wrong in a way TCP allows to lose data: reset, timed out,
    /// aborted, refused, unreachable, or closed before synchronized.
    fn broken(&self) -> bool {
        self.closed_early
            || self
                .conn
                .as_ref()
                .and_then(Conn::close_reason)
                .is_some_and(|r| r != CloseReason::Normal)
    }
}

struct Pair {
    now: Duration,
    sides: [Side; 2],
    /// `wire[i]`: segments on their way to side i.
    wire: [VecDeque<Vec<u8>>; 2],
    /// A crafted segment or a fixed-up corruption reached a side: lengths
    /// and liveness are no longer TCP's to guarantee.
    forged: bool,
    /// A fixed-up corruption reached a side: content neither.
    garbled: bool,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl Pair {
    fn new(setup: &Setup) -> Self {
        let now = Duration::from_secs(1);
        let mut a = Side::new(config(setup, 0));
        a.conn = Some(Conn::connect(a.cfg.clone(), a.ends, now));
        Self {
            now,
            sides: [a, Side::new(config(setup, 1))],
            wire: [VecDeque::new(), VecDeque::new()],
            forged: false,
            garbled: false,
            buf: vec![0; 70_000],
            scratch: vec![0; 70_000],
        }
    }

    /// Everything both engines send now onto the wire.
    fn pump(&mut self) {
        for i in 0..2 {
            let Some(conn) = self.sides[i].conn.as_mut() else {
                continue;
            };
            while let Some(n) = conn.poll_transmit(self.now, &mut self.buf) {
                let q = &mut self.wire[1 - i];
                if q.len() < QUEUE_CAP {
                    q.push_back(self.buf[..n].to_vec());
                }
            }
            while conn.poll_event().is_some() {}
        }
    }

    /// Hands `bytes` to side `to`; B's engine is made by the first SYN.
    fn deliver(&mut self, to: usize, bytes: &[u8]) {
        let now = self.now;
        let side = &mut self.sides[to];
        match side.conn.as_mut() {
            Some(conn) => {
                if let Ok(seg) = &ParsedSegment::parse(bytes) {
                    conn.handle_segment(now, seg);
                }
            }
            None if to == 1 => {
                if let Ok(syn) = &ParsedSegment::parse(bytes)
                    && syn.segment().flags & (Flags::SYN | Flags::ACK) == Flags::SYN
                {
                    side.conn = Conn::accept_syn(side.cfg.clone(), side.ends, now, syn).ok();
                }
            }
            None => {}
        }
    }

    fn deliver_kth(&mut self, to: usize, k: usize) {
        if let Some(bytes) = self.wire[to].remove(k) {
            self.deliver(to, &bytes);
        }
    }

    /// Delivers everything queued now both ways, then reads and sends.
    fn round(&mut self) {
        for to in 0..2 {
            for _ in 0..self.wire[to].len() {
                self.deliver_kth(to, 0);
            }
        }
        self.after_step();
    }

    /// Side `i`'s application reads up to `max` octets and checks them.
    fn read(&mut self, i: usize, max: usize) {
        let side = &mut self.sides[i];
        let Some(conn) = side.conn.as_mut().filter(|_| !side.closed) else {
            return;
        };
        let out = &mut self.scratch[..max.min(70_000)];
        let n = conn.read(out);
        if !self.garbled {
            for (k, &got) in out[..n].iter().enumerate() {
                let offset = side.read + k as u64;
                assert_eq!(
                    got,
                    pattern(1 - i, offset),
                    "side {i} read a wrong octet at stream offset {offset}"
                );
            }
        }
        side.read += n as u64;
        let written = self.sides[1 - i].written;
        assert!(
            self.forged || self.sides[i].read <= written,
            "side {i} read {} octets of {written} written",
            self.sides[i].read
        );
    }

    /// Side `i`'s application reads everything there is.
    fn read_all(&mut self, i: usize) {
        loop {
            let before = self.sides[i].read;
            self.read(i, usize::MAX);
            if self.sides[i].read == before {
                break;
            }
        }
    }

    /// Fires the timers due by now (a timer may set another due now).
    fn fire(&mut self) {
        for side in &mut self.sides {
            let Some(conn) = side.conn.as_mut() else {
                continue;
            };
            for _ in 0..8 {
                if conn.poll_timeout().is_some_and(|t| t <= self.now) {
                    conn.handle_timeout(self.now);
                } else {
                    break;
                }
            }
        }
    }

    fn next_timer(&self) -> Option<Duration> {
        self.sides
            .iter()
            .filter_map(|s| s.conn.as_ref()?.poll_timeout())
            .min()
    }

    /// Sends, lets reading applications read, sends again, and checks
    /// every invariant.
    fn after_step(&mut self) {
        self.pump();
        for i in 0..2 {
            if self.sides[i].reading {
                self.read_all(i);
            }
        }
        self.pump();
        for side in &self.sides {
            let Some(conn) = &side.conn else { continue };
            check(conn, side.cfg.recv_buffer);
            assert!(
                conn.buffer_memory() <= side.cfg.send_buffer + side.cfg.recv_buffer,
                "{} octets of buffers for {} + {}",
                conn.buffer_memory(),
                side.cfg.send_buffer,
                side.cfg.recv_buffer
            );
        }
        debug_assert!(self.wire.iter().all(|q| q.len() <= QUEUE_CAP));
    }

    fn step(&mut self, op: Op) {
        let idx = usize::from;
        let pick = |q: &VecDeque<Vec<u8>>, k: u8| (!q.is_empty()).then(|| usize::from(k) % q.len());
        match op {
            Op::Deliver { to } => self.deliver_kth(idx(to), 0),
            Op::DeliverKth { to, k } => {
                if let Some(k) = pick(&self.wire[idx(to)], k) {
                    self.deliver_kth(idx(to), k);
                }
            }
            Op::DeliverAll { to } => {
                for _ in 0..self.wire[idx(to)].len() {
                    self.deliver_kth(idx(to), 0);
                }
            }
            Op::Drop { to, k } => {
                if let Some(k) = pick(&self.wire[idx(to)], k) {
                    self.wire[idx(to)].remove(k);
                }
            }
            Op::Duplicate { to, k } => {
                let q = &mut self.wire[idx(to)];
                if let Some(k) = pick(q, k)
                    && q.len() < QUEUE_CAP
                {
                    let copy = q[k].clone();
                    q.push_back(copy);
                }
            }
            Op::Corrupt {
                to,
                k,
                at,
                xor,
                fix,
            } => {
                if let Some(k) = pick(&self.wire[idx(to)], k) {
                    let mut bytes = self.wire[idx(to)].remove(k).unwrap_or_default();
                    let at = usize::from(at) % bytes.len().max(1);
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= xor;
                    }
                    // One changed octet always changes the one's-complement
                    // sum, so the link's check drops the segment; a fixed-up
                    // one is delivered (the engine leaves checksums to its
                    // caller).
                    if fix && xor != 0 {
                        self.forged = true;
                        self.garbled = true;
                        self.deliver(idx(to), &bytes);
                    } else if xor == 0 {
                        self.deliver(idx(to), &bytes);
                    }
                }
            }
            Op::Inject { to, seg } => self.inject(idx(to), seg),
            Op::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                self.fire();
            }
            Op::Tick => {
                if let Some(t) = self.next_timer() {
                    self.now = self.now.max(t);
                    self.fire();
                }
            }
            Op::Settle => {
                for _ in 0..64 {
                    self.pump();
                    if self.wire.iter().all(VecDeque::is_empty) {
                        break;
                    }
                    self.round();
                }
            }
            Op::Write { side, len } => self.write(idx(side), usize::from(len)),
            Op::Read { side, len } => self.read(idx(side), usize::from(len)),
            Op::Squeeze { side } => {
                let s = &mut self.sides[idx(side)];
                s.reading = !s.reading;
            }
            Op::Shutdown { side } | Op::Close { side } | Op::Abort { side } => {
                let s = &mut self.sides[idx(side)];
                if let Some(conn) = s.conn.as_mut() {
                    s.closed_early |= !conn.state().is_synchronized();
                    match op {
                        Op::Shutdown { .. } => conn.shutdown_write(),
                        Op::Close { .. } => {
                            s.closed = true;
                            conn.close();
                        }
                        _ => {
                            s.closed = true;
                            conn.abort();
                        }
                    }
                }
            }
            Op::SkipStream =>
            {
                #[cfg(fuzzing)]
                for side in &mut self.sides {
                    if let Some(conn) = side.conn.as_mut() {
                        conn.fuzz_skip_stream();
                    }
                }
            }
        }
        self.after_step();
    }

    /// Side `i`'s application writes `len` octets of its pattern.
    fn write(&mut self, i: usize, len: usize) {
        let side = &mut self.sides[i];
        let Some(conn) = side.conn.as_mut() else {
            return;
        };
        let data = &mut self.scratch[..len];
        for (k, b) in data.iter_mut().enumerate() {
            *b = pattern(i, side.written + k as u64);
        }
        if let Ok(n) = conn.write(data) {
            side.written += n as u64;
        }
    }

    /// A segment crafted near side `to`'s numbers: sequence number from
    /// its RCV.NXT, acknowledgment from its SND.UNA, a SACK block from
    /// SND.UNA, and as payload the stream's own octets where it lands (so
    /// that content stays checkable).
    fn inject(&mut self, to: usize, crafted: Crafted) {
        let Crafted {
            flags,
            seq_off,
            ack_off,
            window,
            len,
            sack,
        } = crafted;
        let side = &self.sides[to];
        let Some(conn) = side.conn.as_ref() else {
            return;
        };
        self.forged = true;
        let mut options = Vec::new();
        if let Some((off, l)) = sack {
            let left = conn.snd_una() + off as u32;
            options.extend(TcpOption::sack(&[SackBlock {
                left,
                right: left + u32::from(l),
            }]));
        }
        // RCV.NXT is stream offset `read + readable` once synchronized
        // (the peer's FIN aside, after which data is not taken).
        let base = side.read + conn.readable() as u64;
        let payload: Vec<u8> = match base.checked_add_signed(i64::from(seq_off)) {
            Some(start) if conn.state().is_synchronized() => (0..u64::from(len % 3000))
                .map(|k| pattern(1 - to, start + k))
                .collect(),
            _ => Vec::new(),
        };
        let (sport, dport) = (side.ends.remote_port, side.ends.local_port);
        let seg = Segment {
            src_port: sport,
            dst_port: dport,
            seq: conn.rcv_nxt() + seq_off as u32,
            ack: conn.snd_una() + ack_off as u32,
            flags: Flags::from_bits_truncate(u16::from(flags)),
            window,
            options: Options::build(&options).unwrap_or_default(),
            payload: &payload[..],
            ..Default::default()
        };
        let bytes = seg.to_bytes();
        self.deliver(to, &bytes);
    }

    /// The network turns perfect and the applications read everything;
    /// the clock runs to each next timer, up to [`DRAIN_TIME`].
    fn drain(&mut self) {
        let deadline = self.now + DRAIN_TIME;
        for side in &mut self.sides {
            side.reading = true;
        }
        self.after_step();
        for _ in 0..DRAIN_STEPS {
            if self.wire.iter().any(|q| !q.is_empty()) {
                self.round();
                continue;
            }
            match self.next_timer() {
                Some(t) if t <= deadline => {
                    self.now = self.now.max(t);
                    self.fire();
                    self.after_step();
                }
                _ => return,
            }
        }
        // The clock stands still while segments are queued: two engines
        // that answer each other at once for ever never let it move.
        assert!(
            self.forged || self.wire.iter().all(VecDeque::is_empty),
            "{DRAIN_STEPS} rounds of segments at {:?} and still more: {:?}",
            self.now,
            self.wire
                .iter()
                .map(|q| q.front().map(|b| Segment::parse(b).map(|s| format!("{s}"))))
                .collect::<Vec<_>>()
        );
    }

    /// After the drain: each direction whose ends are whole has carried
    /// everything its writer wrote.
    fn check_liveness(&self) {
        if self.forged || self.sides.iter().any(Side::broken) {
            return;
        }
        for i in 0..2 {
            let (writer, reader) = (&self.sides[i], &self.sides[1 - i]);
            if reader.closed || writer.written == 0 {
                continue;
            }
            assert_eq!(
                reader.read,
                writer.written,
                "side {} read {} of the {} octets side {i} wrote; states {:?}, {:?}",
                1 - i,
                reader.read,
                writer.written,
                self.sides[0].conn,
                self.sides[1].conn.as_ref().map(Conn::state)
            );
        }
    }
}

/// The operations that make a start, before the fuzzer's.
fn prelude(start: Start) -> Vec<Op> {
    let a = false;
    let b = true;
    match start {
        Start::Fresh => vec![],
        Start::Established => vec![Op::Settle],
        Start::InFlight(len) => vec![Op::Settle, Op::Write { side: a, len }],
        Start::Recovery { lost } => {
            let mut ops = vec![
                Op::Settle,
                Op::Write {
                    side: a,
                    len: 30_000,
                },
            ];
            // Dropped from the back, so that the indices below stay put.
            for k in (0..32u8).rev().filter(|k| lost & (1 << k) != 0) {
                ops.push(Op::Drop { to: b, k });
            }
            ops.extend([Op::DeliverAll { to: b }, Op::DeliverAll { to: a }]);
            ops
        }
        Start::ZeroWindow => vec![
            Op::Settle,
            Op::Squeeze { side: b },
            Op::Write {
                side: a,
                len: u16::MAX,
            },
            Op::Settle,
            Op::Write {
                side: a,
                len: u16::MAX,
            },
            Op::Settle,
        ],
        Start::TimeWait => vec![
            Op::Settle,
            Op::Close { side: a },
            Op::Settle,
            Op::Close { side: b },
            Op::Settle,
        ],
        Start::LongLived => vec![Op::Settle, Op::SkipStream],
    }
}

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |(setup, ops): (Setup, Vec<Op>)| {
        let mut pair = Pair::new(&setup);
        pair.after_step();
        for op in prelude(setup.start).into_iter().chain(ops) {
            pair.step(op);
        }
        pair.drain();
        pair.check_liveness();
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtcp_conn::State;

    fn setup_of(start: Start) -> Setup {
        Setup {
            start,
            isn_a: (4, 0),
            isn_b: (1, 0),
            buffers: [2, 2],
            controllers: [0, 1],
            features: 0b1111,
        }
    }

    /// The pair of `setup` after its start's operations.
    fn started(setup: &Setup) -> Pair {
        let mut pair = Pair::new(setup);
        for op in prelude(setup.start) {
            pair.step(op);
        }
        pair
    }

    /// Runs `ops` from `start` and hands back the pair after the drain.
    fn play(start: Start, ops: &[Op]) -> Pair {
        let mut pair = started(&setup_of(start));
        for &op in ops {
            pair.step(op);
        }
        pair.drain();
        pair.check_liveness();
        pair
    }

    #[test]
    fn every_start_reaches_its_state() {
        let state = |p: &Pair, i: usize| p.sides[i].conn.as_ref().map(Conn::state);
        let p = play(Start::Established, &[]);
        assert_eq!(state(&p, 0), Some(State::Established));
        let setup = setup_of(Start::TimeWait);
        let p = started(&setup);
        assert_eq!(state(&p, 0), Some(State::TimeWait));
        let setup = setup_of(Start::Recovery { lost: 0b110 });
        let p = started(&setup);
        let stats = p.sides[0].conn.as_ref().unwrap().stats();
        assert_eq!(stats.fast_recoveries, 1, "{stats:?}");
        let setup = Setup {
            buffers: [2, 0],
            ..setup_of(Start::ZeroWindow)
        };
        let p = started(&setup);
        // B's 4 KiB hold no room for another full segment; A waits on a
        // timer (the persist timer) with data to send.
        let (a, b) = (
            p.sides[0].conn.as_ref().unwrap(),
            p.sides[1].conn.as_ref().unwrap(),
        );
        assert!(b.readable() + a.send_mss() as usize > 4096, "{b:?}");
        assert_eq!(p.sides[1].read, 0);
        assert!(a.writable() < a.config().send_buffer && a.poll_timeout().is_some());
    }

    #[test]
    fn data_through_losses_and_reordering_arrives_whole() {
        let p = play(
            Start::InFlight(20_000),
            &[
                Op::Drop { to: true, k: 1 },
                Op::DeliverKth { to: true, k: 3 },
                Op::Duplicate { to: true, k: 0 },
                Op::Write {
                    side: true,
                    len: 5_000,
                },
                Op::Advance(300),
            ],
        );
        assert_eq!(p.sides[1].read, 20_000);
        assert_eq!(p.sides[0].read, 5_000);
    }

    #[test]
    #[should_panic(expected = "read a wrong octet")]
    fn a_fixed_up_corruption_would_show_in_the_content_if_unmarked() {
        let setup = setup_of(Start::InFlight(3_000));
        let mut pair = started(&setup);
        // The last octet of the first data segment, checksum "fixed", the
        // run not marked garbled: the reader's check must catch it.
        let seg = &mut pair.wire[1][0];
        let last = seg.len() - 1;
        seg[last] ^= 0xff;
        pair.round();
    }

    #[test]
    #[should_panic(expected = "octets side 0 wrote")]
    fn the_liveness_check_sees_an_octet_missing() {
        let setup = setup_of(Start::InFlight(3_000));
        let mut pair = started(&setup);
        // One octet more counted as written than A's engine took.
        pair.sides[0].written += 1;
        pair.drain();
        pair.check_liveness();
    }
}
