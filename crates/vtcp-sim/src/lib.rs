//! A deterministic network simulator for vtcp.
//!
//! Two hosts, each a [`vtcp::Stack`], are joined by a duplex [`Link`]:
//! each direction serialises packets at its bandwidth behind a drop-tail
//! queue, then delays them (propagation plus jitter), and may lose them
//! (at random, or in bursts per a Gilbert–Elliott model), reorder,
//! duplicate or corrupt them. Time is virtual and every random choice
//! comes from one seeded generator, so a seed gives the same transfer,
//! segment for segment.
//!
//! [`run`] moves a number of bytes from the client to the server and
//! closes both ends, returning a [`Report`].
//!
//! ```
//! use std::time::Duration;
//! use vtcp_sim::{SimConfig, run};
//!
//! let mut config = SimConfig::default();
//! config.bytes = 200_000;
//! config.link.bandwidth_bps = 10_000_000;
//! config.link.delay = Duration::from_millis(5);
//! config.link.loss = 0.01;
//! let report = run(&config, |_| {});
//! assert_eq!(report.delivered, 200_000);
//! assert!(report.closed_cleanly);
//! ```
#![forbid(unsafe_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use vtcp::wire::checksum::PseudoHeader;
use vtcp::wire::tso;
use vtcp::{Congestion, ConnConfig, Stack, StackConfig, State};

/// A small, fast, seeded generator (xorshift64*): simulations must repeat
/// exactly, on every platform, whatever version of a crate is installed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

/// Bursty loss: the Gilbert–Elliott two-state model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    /// Chance per packet of going from the good state to the bad one.
    pub good_to_bad: f64,
    /// Chance per packet of going back.
    pub bad_to_good: f64,
    /// Loss rate in the bad state (the good state loses nothing).
    pub bad_loss: f64,
}

/// One direction of a link (both directions are alike).
///
/// Non-exhaustive, as later releases add settings: start from
/// `default()` and set the fields you need.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Link {
    /// Bandwidth, bits per second.
    pub bandwidth_bps: u64,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from [0, jitter) per packet.
    pub jitter: Duration,
    /// Chance of losing a packet at random.
    pub loss: f64,
    /// Bursty loss on top of the random loss.
    pub bursts: Option<GilbertElliott>,
    /// Chance of delaying a packet by an extra half delay, at least 1 ms
    /// (reordering; the floor keeps reordering real on a link of little or
    /// no delay, such as the interop lab's).
    pub reorder: f64,
    /// Chance of delivering a packet twice.
    pub duplicate: f64,
    /// Chance of flipping one bit of a packet (the checksum must catch it).
    pub corrupt: f64,
    /// Packets the queue holds before it drops (drop-tail).
    pub queue_packets: usize,
}

impl Default for Link {
    /// 100 Mbit/s, 10 ms each way (20 ms RTT), no impairment, a queue of
    /// 1000 packets.
    fn default() -> Self {
        Self {
            bandwidth_bps: 100_000_000,
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            bursts: None,
            reorder: 0.0,
            duplicate: 0.0,
            corrupt: 0.0,
            queue_packets: 1000,
        }
    }
}

/// What to simulate.
///
/// Non-exhaustive, as later releases add settings: start from
/// `default()` and set the fields you need.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SimConfig {
    /// Bytes to move from the client to the server; with `exchanges`,
    /// the size of each response from the server.
    pub bytes: u64,
    /// Request/response instead of one bulk transfer: this many
    /// exchanges in a row on one connection, each a request of
    /// [`REQUEST_SIZE`] octets from the client answered by `bytes` from
    /// the server. 0: one bulk transfer.
    pub exchanges: u32,
    /// The link, in both directions.
    pub link: Link,
    /// The seed of every random choice.
    pub seed: u64,
    /// Congestion control.
    pub congestion: Controller,
    /// Offer SACK.
    pub sack: bool,
    /// Offer timestamps.
    pub timestamps: bool,
    /// Offer window scaling.
    pub window_scaling: bool,
    /// RACK-TLP with SACK (RFC 8985); off, RFC 6675's DupThresh.
    pub rack_tlp: bool,
    /// Auto-tune the buffers (`ConnConfig::auto_tune`).
    pub auto_tune: bool,
    /// Our MSS.
    pub mss: u16,
    /// Send and receive buffer sizes.
    pub buffer: usize,
    /// Give up after this much virtual time.
    pub time_limit: Duration,
    /// TCP segmentation offload: both hosts hand out super-segments of up
    /// to 64 KiB (`StackConfig::max_segment`), which each host's software
    /// NIC cuts into segments before the link ([`vtcp::wire::tso::split`]),
    /// as a NIC with TSO does. What goes on the link is what the hosts
    /// would send without it: the run's outcome is the same.
    pub tso: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bytes: 32 << 20,
            exchanges: 0,
            link: Link::default(),
            seed: 1,
            congestion: Controller::HighSpeed,
            sack: true,
            timestamps: true,
            window_scaling: true,
            rack_tlp: true,
            auto_tune: true,
            mss: 1460,
            buffer: 4 << 20,
            time_limit: Duration::from_secs(3600),
            tso: false,
        }
    }
}

/// Progress, reported every 10 ms of virtual time.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Virtual time.
    pub now: Duration,
    /// Bytes delivered so far.
    pub delivered: u64,
    /// Bytes to deliver.
    pub total: u64,
    /// The client's congestion window, octets.
    pub cwnd: u32,
    /// The client's pacing rate, octets per second, if its controller
    /// paces.
    pub pacing_rate: Option<u64>,
    /// BBR's bandwidth estimate, octets per second.
    pub bandwidth_estimate: Option<u64>,
}

/// What happened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Bytes delivered in order to the server's application.
    pub delivered: u64,
    /// Whether the bytes delivered are exactly the bytes sent.
    pub intact: bool,
    /// Both ends reached CLOSED, neither aborted, at least one by the FIN
    /// exchange (the other may lose the close's last ACK and end by a
    /// reset or timeout), and the stacks hold no connection.
    pub closed_cleanly: bool,
    /// Virtual time from the first SYN to the last byte delivered.
    pub transfer_time: Duration,
    /// Virtual time until both ends closed.
    pub total_time: Duration,
    /// Wall-clock time the simulation took.
    pub wall_time: Duration,
    /// Segments the client sent (retransmissions included).
    pub segments_sent: u64,
    /// Super-segments the hosts handed to their NICs to cut
    /// ([`SimConfig::tso`]).
    pub super_segments: u64,
    /// Data segments sent again, both ends.
    pub retransmits: u64,
    /// Retransmission timeouts, both ends.
    pub rtos: u64,
    /// Fast recoveries, both ends.
    pub fast_recoveries: u64,
    /// Congestion window and ssthresh at the end (octets).
    pub final_cwnd: u32,
    /// Slow-start threshold at the end.
    pub final_ssthresh: u32,
    /// Smoothed RTT at the end.
    pub srtt: Option<Duration>,
    /// The client's pacing rate at the end, octets per second (a
    /// controller that paces: BBR).
    pub final_pacing_rate: Option<u64>,
    /// BBR's state at the end: its mode, bandwidth estimate (octets per
    /// second) and min RTT.
    pub final_model: Option<(&'static str, u64, Option<Duration>)>,
    /// Packets dropped by the queue, and lost on the wire, both ways.
    pub queue_drops: u64,
    /// Packets lost on the wire, both ways.
    pub wire_losses: u64,
    /// Packets corrupted on the wire, and caught by checksums.
    pub corrupted: u64,
    /// Corrupted packets the stacks' checksums caught.
    pub bad_checksums_caught: u64,
    /// Reductions undone as spurious, both ends.
    pub undos: u64,
    /// Retransmitted octets reported as duplicates (D-SACK), both ends.
    pub spurious_retransmit_bytes: u64,
    /// Tail loss probes, both ends.
    pub tlp_probes: u64,
    /// With `exchanges`: each exchange's time, from the request written
    /// to the last octet of the response read.
    pub exchange_times: Vec<Duration>,
}

impl Report {
    /// Goodput in bits per second over the transfer time.
    pub fn goodput_bps(&self) -> f64 {
        self.delivered as f64 * 8.0 / self.transfer_time.as_secs_f64().max(1e-9)
    }
}

/// Writes segments as a pcap file of raw IPv4 and IPv6 packets (the
/// stack's own writer; see [`vtcp::pcap`]).
pub use vtcp::pcap::PcapWriter;

/// The Mathis et al. bound on Reno throughput for a loss rate and an RTT,
/// in bits per second: (MSS / RTT) · sqrt(3/2) / sqrt(p).
pub fn mathis_bound_bps(mss: u32, rtt: Duration, loss: f64) -> Option<f64> {
    (loss > 0.0).then(|| f64::from(mss) * 8.0 / rtt.as_secs_f64() * (1.5f64).sqrt() / loss.sqrt())
}

/// The least a reordered packet is held back.
const REORDER_FLOOR: Duration = Duration::from_millis(1);

/// One direction of a [`Link`]: a drop-tail queue feeding a wire that
/// delays, loses, reorders, duplicates and corrupts. It only computes:
/// [`Channel::send`] says when a packet arrives, and the caller keeps the
/// clock (virtual here, the wall clock in the interop lab's relay).
#[derive(Clone, Debug)]
pub struct Channel {
    link: Link,
    /// When the transmitter is free again.
    busy_until: Duration,
    /// Departure times of packets still in the queue (for drop-tail).
    queued: VecDeque<Duration>,
    bad_state: bool,
    drops: u64,
    losses: u64,
    corrupted: u64,
}

impl Channel {
    /// An idle channel with these properties.
    pub fn new(link: Link) -> Self {
        Self {
            link,
            busy_until: Duration::ZERO,
            queued: VecDeque::new(),
            bad_state: false,
            drops: 0,
            losses: 0,
            corrupted: 0,
        }
    }

    /// Packets dropped by the full queue, lost on the wire, and corrupted,
    /// so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.drops, self.losses, self.corrupted)
    }

    /// Sends `packet` at `now`; returns when (and in how many copies) it
    /// arrives, after queueing, serialisation, impairments and delay: no
    /// time for a packet lost or dropped by the queue. A corrupted packet
    /// has one bit flipped in place.
    pub fn send(&mut self, now: Duration, packet: &mut [u8], rng: &mut Rng) -> Vec<Duration> {
        while self.queued.front().is_some_and(|&t| t <= now) {
            self.queued.pop_front();
        }
        if self.queued.len() >= self.link.queue_packets {
            self.drops += 1;
            return Vec::new();
        }
        // IPv4 header of 20 octets on top of the segment.
        let bits = (packet.len() as u64 + 20) * 8;
        let serialise = Duration::from_nanos(bits * 1_000_000_000 / self.link.bandwidth_bps.max(1));
        let departs = self.busy_until.max(now) + serialise;
        self.busy_until = departs;
        self.queued.push_back(departs);
        if let Some(ge) = self.link.bursts {
            let flip = if self.bad_state {
                ge.bad_to_good
            } else {
                ge.good_to_bad
            };
            if rng.chance(flip) {
                self.bad_state = !self.bad_state;
            }
            if self.bad_state && rng.chance(ge.bad_loss) {
                self.losses += 1;
                return Vec::new();
            }
        }
        if rng.chance(self.link.loss) {
            self.losses += 1;
            return Vec::new();
        }
        if rng.chance(self.link.corrupt) && !packet.is_empty() {
            let bit = (rng.next_u64() % (packet.len() as u64 * 8)) as usize;
            packet[bit / 8] ^= 1 << (bit % 8);
            self.corrupted += 1;
        }
        let jitter = if self.link.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_nanos(rng.next_u64() % self.link.jitter.as_nanos().max(1) as u64)
        };
        let mut at = departs + self.link.delay + jitter;
        if rng.chance(self.link.reorder) {
            at += (self.link.delay / 2).max(REORDER_FLOOR);
        }
        if rng.chance(self.link.duplicate) {
            vec![at, at + serialise]
        } else {
            vec![at]
        }
    }
}

/// A packet on the link: (arrival, order sent, to the server, bytes).
type InFlight = (Duration, u64, bool, Vec<u8>);

const CLIENT: [u8; 4] = [198, 18, 0, 1];
/// The server's port: iperf3's, so that capture tools do not try to read
/// the test pattern as some application protocol.
const PORT: u16 = 5201;
const SERVER: [u8; 4] = [198, 18, 0, 2];

fn stack(cfg: &SimConfig, salt: u8) -> Stack {
    let (sack, ts, ws, mss, buffer) = (
        cfg.sack,
        cfg.timestamps,
        cfg.window_scaling,
        cfg.mss,
        cfg.buffer,
    );
    let (rack_tlp, auto_tune) = (cfg.rack_tlp, cfg.auto_tune);
    let cc = cfg.congestion;
    let (seed, tso) = (cfg.seed, cfg.tso);
    Stack::new({
        let mut config = StackConfig::default();
        // Linux's tcp_retries2: links of 20 % loss each way make nine
        // losses of a segment or its ACK in a row likely enough over
        // thousands of runs; the seed's 8 would time out there.
        config.conn = {
            let mut config = ConnConfig::default();
            config.sack = sack;
            config.rack_tlp = rack_tlp;
            config.auto_tune = auto_tune;
            config.timestamps = ts;
            config.window_scaling = ws;
            config.mss = mss;
            config.send_buffer = buffer;
            config.recv_buffer = buffer;
            config.max_retries = 15;
            config.congestion = cc.congestion();
            config
        };
        if tso {
            config.max_segment = 65_535;
        }
        config.cookie_key = [salt; 16];
        config.isn_key = (u128::from(seed) ^ u128::from(salt)).to_le_bytes();
        config
    })
}

/// The congestion controllers the simulator runs (the engine's own: a
/// user's `Congestion::Custom` needs a `ConnConfig` of its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Controller {
    /// RFC 5681 / RFC 6582.
    NewReno,
    /// RFC 3649, the engine's default.
    #[default]
    HighSpeed,
    /// RFC 9438.
    Cubic,
    /// BBRv3 (draft-ietf-ccwg-bbr), paced.
    Bbr,
}

impl Controller {
    /// Every one, in the order `vtcp sim --compare` prints them.
    pub const ALL: [Self; 4] = [Self::NewReno, Self::HighSpeed, Self::Cubic, Self::Bbr];

    /// The name `vtcp sim --cc` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::NewReno => "newreno",
            Self::HighSpeed => "highspeed",
            Self::Cubic => "cubic",
            Self::Bbr => "bbr",
        }
    }

    /// A stack whose connections use this controller, with every other
    /// setting the default: what `vtcp serve`, `connect` and `forward`
    /// run with `--cc`, and the interop lab's vtcp senders.
    pub fn stack_config(self) -> StackConfig {
        let mut cfg = StackConfig::default();
        cfg.conn = {
            let mut c = ConnConfig::default();
            c.congestion = self.congestion();
            c
        };
        cfg
    }

    /// The engine's setting.
    pub fn congestion(self) -> Congestion {
        match self {
            Self::NewReno => Congestion::NewReno,
            Self::HighSpeed => Congestion::HighSpeed,
            Self::Cubic => Congestion::Cubic,
            Self::Bbr => Congestion::Bbr,
        }
    }
}

impl std::fmt::Display for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Controller {
    type Err = String;

    /// A name of [`Controller::name`]; anything else is an error that
    /// lists them (a typo must not silently run the default).
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!("unknown congestion controller {s:?}: newreno, highspeed, cubic or bbr")
            })
    }
}

/// The size of each request in a request/response run.
pub const REQUEST_SIZE: usize = 100;

/// Where a request/response run stands.
#[derive(Debug, Default)]
struct Exchanges {
    /// Exchanges finished.
    done: u32,
    /// When the current one began; `None` before its request is written.
    started: Option<Duration>,
    /// Request octets the server has read, response octets it wrote, and
    /// response octets the client has read, of the current exchange.
    request_read: usize,
    response_written: u64,
    response_read: u64,
}

/// Writes up to `want` octets of the pattern, from `offset` on.
fn write_pattern(c: &mut vtcp::Conn, offset: u64, want: u64) -> u64 {
    c.write_with(|a, b| {
        let n = (want as usize).min(a.len() + b.len());
        for (i, byte) in a.iter_mut().chain(b.iter_mut()).take(n).enumerate() {
            *byte = pattern(offset + i as u64);
        }
        n
    })
    .unwrap_or(0) as u64
}

/// Reads what `c` holds, checking it against the pattern from `offset`;
/// returns the octets read and whether they were intact.
fn read_pattern(c: &mut vtcp::Conn, offset: u64, most: u64) -> (u64, bool) {
    let (a, b) = c.peek_readable();
    let n = ((a.len() + b.len()) as u64).min(most) as usize;
    let intact = a
        .iter()
        .chain(b.iter())
        .take(n)
        .enumerate()
        .all(|(i, byte)| *byte == pattern(offset + i as u64));
    (c.consume(n) as u64, intact)
}

/// The byte at `offset` of the transfer: a pattern the receiver checks.
fn pattern(offset: u64) -> u8 {
    (offset.wrapping_mul(31) ^ (offset >> 11)) as u8
}

/// Runs one transfer and reports on it, calling `progress` now and then.
pub fn run(cfg: &SimConfig, progress: impl FnMut(Progress)) -> Report {
    run_with_tap(cfg, progress, |_, _, _, _| {})
}

/// Like [`run`], and calls `tap` with every segment a host puts on the
/// link (virtual time, source, destination, bytes), as a capture on the
/// sending host would see it.
pub fn run_with_tap(
    cfg: &SimConfig,
    mut progress: impl FnMut(Progress),
    mut tap: impl FnMut(Duration, IpAddr, IpAddr, &[u8]),
) -> Report {
    let wall = Instant::now();
    let mut rng = Rng::new(cfg.seed);
    let mut client = stack(cfg, 1);
    let mut server = stack(cfg, 2);
    let listener = server
        .listen(SocketAddr::new(SERVER.into(), PORT), 16)
        .expect("a free port");
    let start = Duration::from_secs(1);
    let mut now = start;
    let conn = client
        .connect(now, CLIENT.into(), SocketAddr::new(SERVER.into(), PORT))
        .expect("an ephemeral port");
    let mut up = Channel::new(cfg.link);
    let mut down = Channel::new(cfg.link);
    let mut wire: BinaryHeap<Reverse<InFlight>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut buf = vec![0u8; 70_000];
    // The software NIC's segment (TSO).
    let mut nic = vec![0u8; 70_000];
    let (mut sent, mut delivered) = (0u64, 0u64);
    let mut intact = true;
    let mut accepted = None;
    let mut transfer_done = None;
    let (mut client_closed, mut server_closed) = (false, false);
    let mut last_progress = Duration::ZERO;
    let mut report = Report::default();
    let mut exchange = Exchanges::default();
    while now < start + cfg.time_limit {
        if accepted.is_none() {
            accepted = server.accept(listener);
        }
        if cfg.exchanges == 0 {
            // Bulk: the client writes the pattern and closes when done;
            // the server reads, checks and closes after the peer did.
            if let Some(c) = client.conn_mut(conn) {
                while sent < cfg.bytes {
                    let n = write_pattern(c, sent, cfg.bytes - sent);
                    if n == 0 {
                        break;
                    }
                    sent += n;
                }
                if sent == cfg.bytes && !client_closed && c.state() == State::Established {
                    c.close();
                    client_closed = true;
                }
            }
            if let Some(s) = accepted.and_then(|k| server.conn_mut(k)) {
                let (n, ok) = read_pattern(s, delivered, u64::MAX);
                intact &= ok;
                delivered += n;
                if delivered == cfg.bytes && transfer_done.is_none() {
                    transfer_done = Some(now);
                }
            }
        } else {
            // Request/response: a request, then the whole response, then
            // the next; the client closes after the last.
            let x = &mut exchange;
            if let Some(c) = client.conn_mut(conn)
                && c.state() == State::Established
            {
                if x.started.is_none() && x.done < cfg.exchanges {
                    let req = [0x55u8; REQUEST_SIZE];
                    if c.writable() >= REQUEST_SIZE {
                        c.write(&req).expect("room checked");
                        x.started = Some(now);
                    }
                }
                if let Some(began) = x.started {
                    let (n, ok) = read_pattern(c, x.response_read, cfg.bytes - x.response_read);
                    intact &= ok;
                    x.response_read += n;
                    delivered += n;
                    if x.response_read == cfg.bytes {
                        report.exchange_times.push(now - began);
                        *x = Exchanges {
                            done: x.done + 1,
                            ..Exchanges::default()
                        };
                        if x.done == cfg.exchanges {
                            transfer_done = Some(now);
                        }
                    }
                }
                if x.done == cfg.exchanges && !client_closed {
                    c.close();
                    client_closed = true;
                }
            }
            if let Some(s) = accepted.and_then(|k| server.conn_mut(k)) {
                let mut req = [0u8; REQUEST_SIZE];
                let want = REQUEST_SIZE - x.request_read;
                x.request_read += s.read(&mut req[..want]);
                if x.request_read == REQUEST_SIZE {
                    x.response_written +=
                        write_pattern(s, x.response_written, cfg.bytes - x.response_written);
                }
            }
        }
        if let Some(s) = accepted.and_then(|k| server.conn_mut(k))
            && !server_closed
            && s.state() == State::CloseWait
        {
            s.close();
            server_closed = true;
        }
        // Hosts: everything they have to send goes onto the link, a
        // super-segment cut into segments first, as a NIC does (TSO).
        for to_server in [true, false] {
            let (host, channel) = if to_server {
                (&mut client, &mut up)
            } else {
                (&mut server, &mut down)
            };
            while let Some(t) = host.poll_transmit(now, &mut buf) {
                let mut put = |segment: &[u8]| {
                    if to_server {
                        report.segments_sent += 1;
                    }
                    tap(now - start, t.src, t.dst, segment);
                    let mut packet = segment.to_vec();
                    for at in channel.send(now, &mut packet, &mut rng) {
                        order += 1;
                        wire.push(Reverse((at, order, to_server, packet.clone())));
                    }
                };
                match t.segment_size {
                    Some(size) => {
                        report.super_segments += 1;
                        let pseudo = PseudoHeader::new(t.src, t.dst);
                        let cut = tso::split(&buf[..t.len], size, pseudo.as_ref(), &mut nic, put);
                        debug_assert!(cut.is_ok(), "the stack's own super-segment");
                    }
                    None => put(&buf[..t.len]),
                }
            }
        }
        let both_closed = [client.conn(conn), accepted.and_then(|k| server.conn(k))]
            .iter()
            .all(|c| c.is_some_and(|c| c.state() == State::Closed));
        if both_closed && wire.is_empty() {
            break;
        }
        // The next thing to happen: an arrival or a timer.
        let next = [
            wire.peek().map(|Reverse((t, ..))| *t),
            client.poll_timeout(),
            server.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        now = now.max(next);
        while let Some(Reverse((at, ..))) = wire.peek() {
            if *at > now {
                break;
            }
            let Reverse((_, _, to_server, packet)) = wire.pop().expect("peeked");
            if to_server {
                server.handle_packet(now, CLIENT.into(), SERVER.into(), &packet);
            } else {
                client.handle_packet(now, SERVER.into(), CLIENT.into(), &packet);
            }
        }
        client.handle_timeout(now);
        server.handle_timeout(now);
        if now >= last_progress + Duration::from_millis(10) {
            last_progress = now;
            let stats = client.conn(conn).map(|c| c.stats());
            progress(Progress {
                now: now - start,
                delivered,
                total: cfg.bytes * u64::from(cfg.exchanges.max(1)),
                cwnd: stats.as_ref().map_or(0, |s| s.cwnd),
                pacing_rate: stats.as_ref().and_then(|s| s.pacing_rate),
                bandwidth_estimate: stats.as_ref().and_then(|s| s.bandwidth_estimate),
            });
        }
    }
    // The client's window and RTT (the sender of a bulk transfer); the
    // recovery counts of both ends (a request/response run has both
    // sending).
    if let Some(c) = client.conn(conn) {
        let s = c.stats();
        report.final_cwnd = s.cwnd;
        report.final_ssthresh = s.ssthresh;
        report.srtt = s.srtt;
        report.final_pacing_rate = s.pacing_rate;
        report.final_model = s
            .cc_mode
            .map(|m| (m, s.bandwidth_estimate.unwrap_or(0), s.min_rtt));
    }
    for s in [client.conn(conn), accepted.and_then(|k| server.conn(k))]
        .into_iter()
        .flatten()
        .map(|c| c.stats())
    {
        report.retransmits += s.retransmits;
        report.rtos += s.rtos;
        report.fast_recoveries += s.fast_recoveries;
        report.undos += s.undos;
        report.spurious_retransmit_bytes += s.spurious_retransmit_bytes;
        report.tlp_probes += s.tlp_probes;
    }
    // Closed in order: both ends in CLOSED, neither aborted, and at least
    // one closed by the FIN exchange. The other may have ended by a reset
    // or a timeout only at the very end (its LAST-ACK's FIN or ACK lost
    // until the peer's TIME-WAIT was over, as on any lossy path); a
    // connection that timed out mid-transfer leaves neither end Normal.
    let reason = |st: &Stack, k: Option<vtcp::ConnKey>| {
        k.and_then(|k| st.conn(k))
            .filter(|c| c.state() == State::Closed)
            .map(|c| c.close_reason())
    };
    report.closed_cleanly = match (reason(&client, Some(conn)), reason(&server, accepted)) {
        (Some(a), Some(b)) => {
            let normal = Some(vtcp::CloseReason::Normal);
            let aborted = Some(vtcp::CloseReason::Aborted);
            (a == normal || b == normal) && a != aborted && b != aborted
        }
        _ => false,
    };
    client.release(conn);
    if let Some(k) = accepted {
        server.release(k);
    }
    while client.poll_transmit(now, &mut buf).is_some() {}
    while server.poll_transmit(now, &mut buf).is_some() {}
    report.closed_cleanly &= client.connections() == 0 && server.connections() == 0;
    report.delivered = delivered;
    report.intact = intact && delivered == cfg.bytes * u64::from(cfg.exchanges.max(1));
    report.transfer_time = transfer_done.unwrap_or(now) - start;
    report.total_time = now - start;
    report.wall_time = wall.elapsed();
    report.queue_drops = up.drops + down.drops;
    report.wire_losses = up.losses + down.losses;
    report.corrupted = up.corrupted + down.corrupted;
    report.bad_checksums_caught = client.counters().bad_checksums + server.counters().bad_checksums;
    report
}

#[cfg(test)]
mod tests {
    use super::Controller;

    #[test]
    fn controllers_parse_by_name_and_a_typo_is_an_error() {
        for c in Controller::ALL {
            assert_eq!(c.name().parse::<Controller>(), Ok(c));
            assert_eq!(c.to_string(), c.name());
        }
        for c in Controller::ALL {
            let conn = c.stack_config().conn;
            assert_eq!(
                format!("{:?}", conn.congestion),
                format!("{:?}", c.congestion())
            );
        }
        let err = "cubc".parse::<Controller>().unwrap_err();
        assert!(err.contains("newreno, highspeed, cubic or bbr"), "{err}");
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
