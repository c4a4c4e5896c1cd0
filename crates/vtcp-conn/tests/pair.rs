//! Two connections over a virtual link (like quinn's `Pair`): latency,
//! loss, reordering and duplication on a seeded clock; bulk transfers must
//! arrive byte-exact and both sides must close.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use vtcp_conn::{CloseReason, Congestion, Conn, ConnConfig, Endpoints, Event, IsnSource, State};
use vtcp_seq::Seq;
use vtcp_wire::Flags;

/// A small deterministic generator (xorshift64*), so runs repeat by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[derive(Clone, Copy)]
struct Link {
    delay: Duration,
    loss: f64,
    reorder: f64,
    duplicate: f64,
}

/// A segment on the link: (arrival, order sent, to the server, bytes).
type InFlight = (Duration, u64, bool, Vec<u8>);

struct Pair {
    now: Duration,
    client: Conn,
    server: Option<Conn>,
    server_cfg: Option<(ConnConfig, Endpoints)>,
    /// (arrival, sequence, to_server, bytes)
    wire: BinaryHeap<Reverse<InFlight>>,
    sent: u64,
    rng: Rng,
    link: Link,
}

fn config(tweak: &dyn Fn(&mut ConnConfig)) -> ConnConfig {
    let mut c = ConnConfig::default();
    tweak(&mut c);
    c
}

fn parse(bytes: &[u8]) -> vtcp_wire::ParsedSegment<'_> {
    vtcp_wire::ParsedSegment::parse(bytes).expect("the engine sends well-formed segments")
}

fn ends(local: u16, remote: u16, isn: u32) -> Endpoints {
    Endpoints::ports(local, remote).with_isn(IsnSource::Fixed(Seq(isn)))
}

impl Pair {
    fn new(seed: u64, link: Link, tweak: &dyn Fn(&mut ConnConfig)) -> Self {
        let now = Duration::from_secs(1);
        let isn = (seed as u32).wrapping_mul(2_654_435_761);
        let client = Conn::connect(config(tweak), ends(40000, 80, isn), now);
        Self {
            now,
            client,
            server: None,
            server_cfg: Some((config(tweak), ends(80, 40000, isn ^ 0x8000_0000))),
            wire: BinaryHeap::new(),
            sent: 0,
            rng: Rng(seed | 1),
            link,
        }
    }

    fn send(&mut self, to_server: bool, bytes: Vec<u8>) {
        if self.rng.chance(self.link.loss) {
            return;
        }
        let mut at = self.now + self.link.delay;
        if self.rng.chance(self.link.reorder) {
            at += self.link.delay / 2;
        }
        let copies = if self.rng.chance(self.link.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            self.sent += 1;
            self.wire
                .push(Reverse((at, self.sent, to_server, bytes.clone())));
        }
    }

    fn flush(&mut self) {
        for seg in self.client.drain_transmits(self.now) {
            self.send(true, seg);
        }
        if let Some(server) = self.server.as_mut() {
            for seg in server.drain_transmits(self.now) {
                self.send(false, seg);
            }
        }
    }

    fn next_event_time(&self) -> Option<Duration> {
        let wire = self.wire.peek().map(|Reverse((t, ..))| *t);
        let timers = [
            self.client.poll_timeout(),
            self.server.as_ref().and_then(Conn::poll_timeout),
        ];
        wire.into_iter().chain(timers.into_iter().flatten()).min()
    }

    /// Advances to the next event and handles it; false when nothing is left.
    fn step(&mut self) -> bool {
        self.flush();
        let Some(t) = self.next_event_time() else {
            return false;
        };
        self.now = self.now.max(t);
        while let Some(Reverse((at, ..))) = self.wire.peek() {
            if *at > self.now {
                break;
            }
            let Reverse((_, _, to_server, bytes)) = self.wire.pop().unwrap();
            if to_server {
                match self.server.as_mut() {
                    Some(server) => server.handle_segment(self.now, &parse(&bytes)),
                    None => {
                        // Only a SYN opens the server; anything before it is lost.
                        let syn = vtcp_wire::ParsedSegment::parse(&bytes)
                            .ok()
                            .filter(|s| s.segment().flags == Flags::SYN);
                        if let Some(syn) = syn
                            && let Some((cfg, ends)) = self.server_cfg.take()
                        {
                            self.server = Conn::accept_syn(cfg, ends, self.now, &syn).ok();
                        }
                    }
                }
            } else {
                self.client.handle_segment(self.now, &parse(&bytes));
            }
        }
        if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
            self.client.handle_timeout(self.now);
        }
        if let Some(server) = self.server.as_mut()
            && server.poll_timeout().is_some_and(|t| t <= self.now)
        {
            server.handle_timeout(self.now);
        }
        self.flush();
        true
    }
}

/// Moves `data` from the client to the server (and `back` the other way),
/// then closes both; returns what each side received.
fn transfer(
    seed: u64,
    link: Link,
    data: &[u8],
    back: &[u8],
    tweak: &dyn Fn(&mut ConnConfig),
) -> (Vec<u8>, Vec<u8>, Pair) {
    let mut p = Pair::new(seed, link, tweak);
    let (mut sent_up, mut sent_down) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 65536];
    let (mut client_closed, mut server_closed) = (false, false);
    let deadline = p.now + Duration::from_secs(600);
    while p.now < deadline {
        if p.client.state().is_synchronized() || p.client.state() == State::SynSent {
            if sent_up < data.len() {
                sent_up += p.client.write(&data[sent_up..]).unwrap_or(0);
            } else if !client_closed && p.client.state() == State::Established {
                p.client.shutdown_write();
                client_closed = true;
            }
        }
        loop {
            let n = p.client.read(&mut buf);
            if n == 0 {
                break;
            }
            got_down.extend_from_slice(&buf[..n]);
        }
        if let Some(server) = p.server.as_mut() {
            loop {
                let n = server.read(&mut buf);
                if n == 0 {
                    break;
                }
                got_up.extend_from_slice(&buf[..n]);
            }
            if server.state().is_synchronized() && sent_down < back.len() {
                sent_down += server.write(&back[sent_down..]).unwrap_or(0);
            }
            if !server_closed && sent_down == back.len() && server.state() == State::CloseWait {
                server.shutdown_write();
                server_closed = true;
            }
        }
        if !p.step() {
            break;
        }
        let done = |c: &Conn| c.state() == State::Closed;
        if done(&p.client) && p.server.as_ref().is_some_and(done) {
            break;
        }
    }
    (got_up, got_down, p)
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(salt ^ (i >> 8) as u8)
        })
        .collect()
}

const CLEAN: Link = Link {
    delay: Duration::from_millis(10),
    loss: 0.0,
    reorder: 0.0,
    duplicate: 0.0,
};

/// Drains the events (which the transfer never polled: each kind must
/// wait at most once, so a long transfer leaves a handful, not one per
/// segment) and says whether the connection closed in order.
fn closed_normally(c: &mut Conn) -> bool {
    let mut closed = None;
    let mut events = 0;
    while let Some(e) = c.poll_event() {
        events += 1;
        if let Event::Closed(r) = e {
            closed = Some(r);
        }
    }
    assert!(events <= 5, "{events} events queued");
    c.state() == State::Closed && closed == Some(CloseReason::Normal) && c.close_reason() == closed
}

#[test]
fn clean_bulk_transfer_both_ways_and_orderly_close() {
    let up = pattern(1 << 20, 1);
    let down = pattern(300_000, 2);
    let (got_up, got_down, mut p) = transfer(1, CLEAN, &up, &down, &|_| {});
    assert!(
        got_up == up,
        "client to server: {} of {} octets",
        got_up.len(),
        up.len()
    );
    assert!(
        got_down == down,
        "server to client: {} of {} octets",
        got_down.len(),
        down.len()
    );
    assert!(closed_normally(&mut p.client));
    assert!(closed_normally(p.server.as_mut().unwrap()));
    let stats = p.client.stats();
    assert_eq!(stats.retransmits, 0);
    assert!(stats.srtt.unwrap() >= Duration::from_millis(20));
}

#[test]
fn lossy_links_deliver_every_octet_both_ways_with_every_controller_and_option_set() {
    let data = pattern(200_000, 3);
    let back = pattern(60_000, 5);
    let link = Link {
        delay: Duration::from_millis(5),
        loss: 0.03,
        reorder: 0.05,
        duplicate: 0.02,
    };
    let (mut recoveries, mut rtos, mut sack_blocks, mut retransmits) = (0, 0, 0, 0);
    for seed in 1..=6u64 {
        for (name, sack, ts) in [
            ("sack+ts", true, true),
            ("sack", true, false),
            ("ts", false, true),
            ("none", false, false),
        ] {
            for cc in 0..4 {
                let tweak = |c: &mut ConnConfig| {
                    c.sack = sack;
                    c.timestamps = ts;
                    c.congestion = match cc {
                        0 => Congestion::NewReno,
                        1 => Congestion::HighSpeed,
                        2 => Congestion::Cubic,
                        _ => Congestion::Bbr,
                    };
                    c.send_buffer = 64 * 1024;
                    c.recv_buffer = 64 * 1024;
                };
                let (got_up, got_down, p) = transfer(seed, link, &data, &back, &tweak);
                assert!(
                    got_down == back,
                    "seed {seed} {name} cc {cc}: {} of {} octets back",
                    got_down.len(),
                    back.len()
                );
                assert!(
                    got_up == data,
                    "seed {seed} {name} cc {cc}: {} of {} octets; client {:?} server {:?}",
                    got_up.len(),
                    data.len(),
                    p.client,
                    p.server
                );
                assert_eq!(
                    p.client.state(),
                    State::Closed,
                    "seed {seed} {name} cc {cc}"
                );
                let stats = p.client.stats();
                recoveries += stats.fast_recoveries;
                rtos += stats.rtos;
                retransmits += stats.retransmits;
                if sack {
                    sack_blocks += stats.sack_blocks_seen;
                } else {
                    assert_eq!(stats.sack_blocks_seen, 0, "no SACK without negotiation");
                }
            }
        }
    }
    // The runs exercised recovery, not just timeouts.
    assert!(
        recoveries > 50 && retransmits > 100 && sack_blocks > 100,
        "{recoveries} {rtos} {retransmits} {sack_blocks}"
    );
}

#[test]
fn window_scaling_off_still_moves_data() {
    let data = pattern(500_000, 4);
    let (got, _, _) = transfer(9, CLEAN, &data, &[], &|c| c.window_scaling = false);
    assert!(got == data);
}

#[test]
fn heavy_loss_reordering_and_duplication_still_deliver() {
    let data = pattern(100_000, 7);
    let back = pattern(20_000, 8);
    let link = Link {
        delay: Duration::from_millis(20),
        loss: 0.15,
        reorder: 0.2,
        duplicate: 0.1,
    };
    for seed in 1..=SEEDS {
        for sack in [true, false] {
            let (up, down, p) = transfer(seed, link, &data, &back, &|c| {
                c.sack = sack;
                c.max_retries = 15;
            });
            assert!(
                up == data && down == back,
                "seed {seed} sack {sack}: {} / {}; {:?} {:?}",
                up.len(),
                down.len(),
                p.client,
                p.server
            );
            assert_eq!(p.client.state(), State::Closed, "seed {seed} sack {sack}");
        }
    }
}

/// Seeds per configuration in the heavy-loss test.
const SEEDS: u64 = 40;

#[test]
fn buffers_give_their_memory_back_once_both_directions_are_over() {
    let mut p = Pair::new(7, CLEAN, &|_| {});
    while p.server.is_none() || p.client.state() != State::Established {
        assert!(p.step());
    }
    p.client.write(&pattern(5000, 1)).unwrap();
    let server = p.server.as_mut().unwrap();
    server.write(b"answer").unwrap();
    server.shutdown_write();
    // The client's receive side is over (FIN taken in), but its data is
    // unread: the memory stays, and so does the data.
    while p.client.state() != State::CloseWait || p.client.stats().bytes_acked < 5000 {
        assert!(p.step());
    }
    let before = p.client.buffer_memory();
    let mut buf = [0u8; 16];
    assert_eq!(p.client.read(&mut buf), 6);
    assert_eq!(&buf[..6], b"answer");
    // Read: the receive buffer's memory goes. The send buffer's stays
    // until the client's own FIN is acknowledged.
    assert!(p.client.buffer_memory() < before);
    assert!(p.client.buffer_memory() > 0);
    // Once the client's FIN is acknowledged, neither holds any: the
    // client closed, the server in TIME-WAIT.
    let server = p.server.as_mut().unwrap();
    let mut got = Vec::new();
    loop {
        let n = server.read(&mut buf);
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, pattern(5000, 1));
    p.client.shutdown_write();
    while p.client.state() != State::Closed {
        assert!(p.step());
    }
    assert_eq!(p.client.buffer_memory(), 0);
    assert_eq!(p.server.as_ref().unwrap().state(), State::TimeWait);
    assert_eq!(p.server.as_ref().unwrap().buffer_memory(), 0);
}

/// RFC 7661 §4.1 (Linux's `tcp_is_cwnd_limited`): a sender held back by
/// the peer's window does not grow its congestion window. 4 MiB through a
/// 16 KiB receive window on a clean link: every controller ends with a
/// window of at most twice what the receiver let out (slow start may
/// double what was in flight) and a segment; the rule off, the window
/// grew by every octet acknowledged (about 4 MiB).
#[test]
fn a_window_the_sender_did_not_use_does_not_grow() {
    let data = pattern(4 << 20, 9);
    for cc in [
        Congestion::NewReno,
        Congestion::HighSpeed,
        Congestion::Cubic,
    ] {
        let name = format!("{cc:?}");
        let tweak = move |c: &mut ConnConfig| {
            c.recv_buffer = 16 * 1024;
            c.auto_tune = false;
            c.congestion = match name.as_str() {
                "NewReno" => Congestion::NewReno,
                "HighSpeed" => Congestion::HighSpeed,
                _ => Congestion::Cubic,
            };
        };
        let (got, _, p) = transfer(3, CLEAN, &data, &[], &tweak);
        assert!(
            got == data,
            "{cc:?}: {} of {} octets",
            got.len(),
            data.len()
        );
        let stats = p.client.stats();
        assert!(stats.bytes_acked >= data.len() as u64);
        assert!(
            stats.cwnd as usize <= 2 * 16 * 1024 + 1460,
            "{cc:?}: cwnd {} with a 16 KiB peer window",
            stats.cwnd
        );
    }
}

/// A controller of the test's: a fixed window, a fixed pacing rate, and
/// every rate sample the engine hands it kept for the test to read.
#[derive(Debug)]
struct Paced {
    mss: u32,
    rate: u64,
    samples: std::sync::Arc<std::sync::Mutex<Vec<(Duration, vtcp_cc::RateSample)>>>,
    /// The smoothed RTTs the connection told the controller.
    srtts: std::sync::Arc<std::sync::Mutex<Vec<Duration>>>,
}

impl vtcp_cc::CongestionController for Paced {
    fn on_ack(&mut self, _: u32) {}
    fn on_timeout(&mut self, _: u32) {}
    fn on_congestion_event(&mut self, _: u32) {}
    fn send_window(&self) -> u32 {
        4 << 20
    }
    fn ssthresh(&self) -> u32 {
        u32::MAX
    }
    fn mss(&self) -> u32 {
        self.mss
    }
    fn set_mss(&mut self, mss: u32) {
        self.mss = mss;
    }
    fn name(&self) -> &'static str {
        "paced"
    }
    fn on_rate_sample(&mut self, rs: &vtcp_cc::RateSample, now: Duration) {
        self.samples.lock().unwrap().push((now, *rs));
    }
    fn on_rtt_sample(&mut self, srtt: Duration) {
        self.srtts.lock().unwrap().push(srtt);
    }
    fn pacing_rate(&self) -> Option<u64> {
        Some(self.rate)
    }
    fn reduces_with_prr(&self) -> bool {
        false
    }
}

/// Pacing and delivery-rate estimation end to end, on the virtual clock:
/// a sender with a window far above the path's BDP, paced at 10 MB/s,
/// moves 4 MiB in about 0.42 s (not in one burst), and the rate samples
/// its ACKs give measure the pacing rate: the link has no bottleneck, so
/// the pacer is it. C.delivered counts every octet once.
#[test]
fn a_paced_sender_s_rate_samples_measure_its_pacing_rate() {
    let data = pattern(4 << 20, 5);
    let rate = 10_000_000u64;
    let samples = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let srtts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = std::sync::Arc::clone(&samples);
    let r = std::sync::Arc::clone(&srtts);
    let tweak = move |c: &mut ConnConfig| {
        let s = std::sync::Arc::clone(&s);
        let r = std::sync::Arc::clone(&r);
        c.recv_buffer = 8 << 20;
        c.congestion = Congestion::Custom(std::sync::Arc::new(move |mss| {
            Box::new(Paced {
                mss,
                rate,
                samples: std::sync::Arc::clone(&s),
                srtts: std::sync::Arc::clone(&r),
            })
        }));
    };
    let start = Duration::from_secs(1);
    let (got, _, p) = transfer(4, CLEAN, &data, &[], &tweak);
    assert!(got == data, "{} of {} octets", got.len(), data.len());
    let samples = samples.lock().unwrap();
    // The server's connection has the controller too, and its ACK of the
    // client's FIN gives nothing: keep the client's, the ones with data.
    let client: Vec<_> = samples
        .iter()
        .filter(|(_, rs)| rs.newly_acked > 1)
        .collect();
    let (last_at, last) = client.last().expect("samples");
    assert!(
        last.total_delivered >= data.len() as u64 && last.total_delivered <= data.len() as u64 + 2,
        "C.delivered {} for {} octets",
        last.total_delivered,
        data.len()
    );
    // 4 MiB at 10 MB/s: 0.419 s, plus the handshake and a one-way delay.
    let took = last_at.saturating_sub(start);
    assert!(
        took >= Duration::from_millis(419),
        "4 MiB in {took:?}: not paced"
    );
    assert!(took <= Duration::from_millis(520), "4 MiB in {took:?}");
    // Once the first round trip is over, the samples measure the rate.
    let rates: Vec<u64> = client
        .iter()
        .filter(|(at, rs)| *at > start + Duration::from_millis(100) && !rs.is_app_limited)
        .filter_map(|(_, rs)| rs.delivery_rate())
        .collect();
    assert!(rates.len() > 100, "{} samples", rates.len());
    // The write's last 896 octets, less than a segment with room for one,
    // left the sender application-limited (draft-cheng-iccrg-delivery-
    // rate-estimation §3.5.2): the last samples say so.
    assert!(
        client.last().is_some_and(|(_, rs)| rs.is_app_limited),
        "the last sample: {:?}",
        client.last()
    );
    let mut sorted = rates.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    assert!(
        median.abs_diff(rate) * 100 <= rate * 3,
        "median sample {median} octets/s against pacing at {rate}"
    );
    assert!(
        sorted[sorted.len() * 99 / 100] <= rate * 11 / 10,
        "samples above the pacing rate: {:?}",
        &sorted[sorted.len() * 99 / 100..]
    );
    let stats = p.client.stats();
    assert_eq!(stats.retransmits, 0);
    assert_eq!(stats.pacing_rate, Some(rate));
    let latest = stats.delivery_rate.expect("a delivery rate");
    assert!(latest <= rate * 11 / 10, "latest sample {latest} octets/s");
    // The controller is told the smoothed RTT on the ACKs: the link's
    // 20 ms round trip, and no queue (the pacer is the bottleneck).
    let srtts = srtts.lock().unwrap();
    assert!(srtts.len() > 100, "{} SRTTs", srtts.len());
    let last = *srtts.last().unwrap();
    assert!(
        last >= Duration::from_millis(20) && last <= Duration::from_millis(30),
        "SRTT {last:?} on a 20 ms path"
    );
}

/// Each controller's name, as `Debug` shows it (a user's is `Custom`).
#[test]
fn each_controller_is_named_in_debug() {
    let custom = Congestion::Custom(std::sync::Arc::new(|mss| {
        Box::new(vtcp_cc::NewReno::new(mss))
    }));
    let names: Vec<String> = [
        Congestion::NewReno,
        Congestion::HighSpeed,
        Congestion::Cubic,
        Congestion::Bbr,
        custom,
    ]
    .iter()
    .map(|c| format!("{c:?}"))
    .collect();
    assert_eq!(names, ["NewReno", "HighSpeed", "Cubic", "Bbr", "Custom"]);
}
