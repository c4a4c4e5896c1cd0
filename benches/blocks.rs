//! The engine's building blocks: SYN cookies, the buffers, the congestion
//! controllers.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vtcp_buf::{RecvBuf, SendBuf};
use vtcp_cc::{Bbr, CongestionController, Cubic, HighSpeed, NewReno, RateSample};
use vtcp_cookie::{Addrs, SynCookies};
use vtcp_seq::Seq;
use vtcp_wire::{Flags, Segment};

const MSS: usize = 1448;

fn cookies(c: &mut Criterion) {
    let jar = SynCookies::new(*b"benchmark secret");
    let addrs = Addrs {
        local: &[198, 18, 0, 2],
        remote: &[198, 18, 0, 1],
    };
    let now = Duration::from_secs(1_000_000);
    let mut group = c.benchmark_group("cookie");
    group.bench_function("generate", |b| {
        b.iter(|| {
            jar.cookie(
                black_box(addrs),
                7000,
                41672,
                Seq(black_box(12345)),
                1460,
                now,
            )
        });
    });
    let cookie = jar.cookie(addrs, 7000, 41672, Seq(12345), 1460, now);
    group.bench_function("validate", |b| {
        b.iter(|| {
            jar.check(
                black_box(addrs),
                7000,
                41672,
                Seq(12345),
                black_box(cookie),
                now,
            )
        });
    });
    let ack = Segment {
        src_port: 41672,
        dst_port: 7000,
        seq: Seq(12346),
        ack: cookie + 1,
        flags: Flags::ACK,
        payload: &[][..],
        ..Default::default()
    };
    group.bench_function("validate_ack_segment", |b| {
        b.iter(|| jar.validate_ack(black_box(&ack), addrs, now));
    });
    group.finish();
}

fn recv_buf(c: &mut Criterion) {
    let segment = vec![0x5a; MSS];
    let mut group = c.benchmark_group("recv_buf");
    group.throughput(Throughput::Bytes(MSS as u64));
    let mut rx = RecvBuf::new(256 * 1024, Seq(0));
    let mut out = vec![0u8; MSS];
    group.bench_function("in_order_insert_read_1448", |b| {
        b.iter(|| {
            let nxt = rx.nxt();
            rx.insert(nxt, black_box(&segment));
            rx.read(&mut out)
        });
    });
    // Four segments per round: three arrive ahead of a hole each, then
    // the hole fills and all four become readable.
    group.throughput(Throughput::Bytes(4 * MSS as u64));
    let mut rx = RecvBuf::new(256 * 1024, Seq(0));
    let mut out = vec![0u8; 4 * MSS];
    group.bench_function("out_of_order_3_holes_1448", |b| {
        b.iter(|| {
            let nxt = rx.nxt();
            // Segments 1, 2 and 3 ahead of segment 0, out of order, with
            // holes before each (1 and 3 first, then 2).
            rx.insert(nxt + 3 * MSS as u32, black_box(&segment));
            rx.insert(nxt + MSS as u32, black_box(&segment));
            rx.insert(nxt + 2 * MSS as u32, black_box(&segment));
            let _ = rx.sack_blocks(3);
            rx.insert(nxt, black_box(&segment));
            rx.read(&mut out)
        });
    });
    group.finish();
}

fn send_buf(c: &mut Criterion) {
    let data = vec![0xa5; MSS];
    let mut group = c.benchmark_group("send_buf");
    group.throughput(Throughput::Bytes(MSS as u64));
    let mut tx = SendBuf::new(256 * 1024, Seq(1));
    let mut wire = vec![0u8; 1600];
    group.bench_function("write_build_ack_1448", |b| {
        b.iter(|| {
            tx.write(black_box(&data));
            // Build the segment straight from the ring's two slices.
            let seq = tx.nxt();
            let (a, b2) = tx.peek_unsent(MSS);
            let header = Segment {
                src_port: 7000,
                dst_port: 41672,
                seq,
                ack: Seq(1),
                flags: Flags::ACK,
                window: 502,
                payload: &[][..],
                ..Default::default()
            };
            let h = header.emit_header(&mut wire).unwrap();
            wire[h..h + a.len()].copy_from_slice(a);
            wire[h + a.len()..h + a.len() + b2.len()].copy_from_slice(b2);
            let n = a.len() + b2.len();
            tx.advance_sent(n);
            tx.acknowledge(seq + n as u32)
        });
    });
    group.finish();
}

/// A steady 1 Gbit/s path with a 20 ms RTT as the engine's rate sampler
/// sees it: an ACK per segment, each with the sample of a round trip's
/// worth of data delivered over the round trip.
struct SteadyPath {
    mss: u64,
    delivered: u64,
}

impl SteadyPath {
    const RATE: u64 = 125_000_000;
    const RTT: Duration = Duration::from_millis(20);
    /// RATE × RTT.
    const BDP: u64 = Self::RATE / 50;

    /// The time between two ACKs.
    fn ack_spacing(&self) -> Duration {
        Duration::from_nanos(self.mss * 1_000_000_000 / Self::RATE)
    }

    /// The next ACK's sample.
    fn sample(&mut self) -> RateSample {
        self.delivered += self.mss;
        let mut rs = RateSample::default();
        rs.delivered = Self::BDP;
        rs.interval = Self::RTT;
        rs.total_delivered = self.delivered;
        rs.prior_delivered = self.delivered.saturating_sub(Self::BDP);
        rs.rtt = Some(Self::RTT);
        rs.tx_in_flight = Self::BDP;
        rs.newly_acked = self.mss;
        rs.inflight = Self::BDP;
        rs
    }
}

fn controllers(c: &mut Criterion) {
    let mut group = c.benchmark_group("cc_on_ack");
    let mss = MSS as u32;
    let mut controllers: Vec<Box<dyn CongestionController>> = vec![
        Box::new(NewReno::new(mss)),
        Box::new(HighSpeed::new(mss)),
        Box::new(Cubic::new(mss)),
    ];
    for cc in &mut controllers {
        // In congestion avoidance at a large window, as in a bulk transfer.
        cc.on_congestion_event(4000 * mss);
        cc.on_recovery_end();
        cc.on_rtt_sample(Duration::from_millis(20));
        let name = cc.name();
        let mut now = Duration::from_secs(1);
        group.bench_function(name, |b| {
            b.iter(|| {
                now += Duration::from_micros(1);
                cc.on_ack_at(black_box(mss), now);
                cc.send_window()
            });
        });
    }
    // BBR works from the rate sample that ends each ACK: past Startup on
    // the steady path (ten seconds of ACKs), then one ACK and its sample
    // per iteration, as the engine calls them (through the trait object,
    // as the others).
    let mut bbr: Box<dyn CongestionController> = Box::new(Bbr::new(mss));
    let mut path = SteadyPath {
        mss: u64::from(mss),
        delivered: 0,
    };
    let spacing = path.ack_spacing();
    let mut now = Duration::from_secs(1);
    bbr.on_rtt_sample(SteadyPath::RTT);
    for _ in 0..10 * SteadyPath::RATE / path.mss {
        now += spacing;
        bbr.on_ack_at(mss, now);
        bbr.on_rate_sample(&path.sample(), now);
    }
    group.bench_function(bbr.name(), |b| {
        b.iter(|| {
            now += spacing;
            bbr.on_ack_at(black_box(mss), now);
            bbr.on_rate_sample(black_box(&path.sample()), now);
            bbr.send_window()
        });
    });
    group.finish();
}

criterion_group!(benches, cookies, recv_buf, send_buf, controllers);
criterion_main!(benches);
