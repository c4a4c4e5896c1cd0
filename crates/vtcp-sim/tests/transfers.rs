//! Seeded simulated transfers across impairments, controllers and
//! options: every byte delivered exactly once and in order, both sides
//! closed, no connection left behind.

use std::time::Duration;

use vtcp_sim::{GilbertElliott, Link, SimConfig, run};

fn check(cfg: &SimConfig) {
    let r = run(cfg, |_| {});
    assert!(
        r.intact && r.closed_cleanly,
        "seed {} link {:?} cc {} sack {} ts {} ws {} mss {}: {r:?}",
        cfg.seed,
        cfg.link,
        cfg.congestion,
        cfg.sack,
        cfg.timestamps,
        cfg.window_scaling,
        cfg.mss
    );
}

#[test]
fn the_same_seed_gives_the_same_transfer() {
    let mut cfg = SimConfig::default();
    cfg.bytes = 300_000;
    cfg.link.loss = 0.02;
    cfg.link.jitter = Duration::from_millis(3);
    cfg.link.reorder = 0.02;
    cfg.seed = 42;
    let a = run(&cfg, |_| {});
    let b = run(&cfg, |_| {});
    assert_eq!(
        (
            a.segments_sent,
            a.retransmits,
            a.transfer_time,
            a.wire_losses
        ),
        (
            b.segments_sent,
            b.retransmits,
            b.transfer_time,
            b.wire_losses
        )
    );
    let c = run(
        &{
            let mut config = cfg;
            config.seed = 43;
            config
        },
        |_| {},
    );
    assert_ne!(
        (a.segments_sent, a.transfer_time),
        (c.segments_sent, c.transfer_time)
    );
}

#[test]
fn corruption_is_caught_by_checksums() {
    let mut cfg = SimConfig::default();
    cfg.bytes = 200_000;
    cfg.link.corrupt = 0.05;
    let r = run(&cfg, |_| {});
    assert!(r.intact && r.closed_cleanly, "{r:?}");
    assert!(r.corrupted > 0);
    assert_eq!(r.bad_checksums_caught, r.corrupted);
}

#[test]
fn a_small_queue_drops_and_the_transfer_survives() {
    let mut cfg = SimConfig::default();
    cfg.bytes = 1_000_000;
    cfg.link.bandwidth_bps = 10_000_000;
    cfg.link.queue_packets = 8;
    let r = run(&cfg, |_| {});
    assert!(r.intact && r.closed_cleanly, "{r:?}");
    assert!(r.queue_drops > 0, "{r:?}");
}

#[test]
fn a_matrix_of_seeded_transfers() {
    let links = [
        Link::default(),
        {
            let mut config = Link::default();
            config.loss = 0.01;
            config
        },
        {
            let mut config = Link::default();
            config.loss = 0.05;
            config.reorder = 0.05;
            config
        },
        {
            let mut config = Link::default();
            config.loss = 0.2;
            config
        },
        {
            let mut config = Link::default();
            config.bursts = Some(GilbertElliott {
                good_to_bad: 0.01,
                bad_to_good: 0.3,
                bad_loss: 0.5,
            });
            config
        },
        {
            let mut config = Link::default();
            config.duplicate = 0.05;
            config.jitter = Duration::from_millis(8);
            config
        },
        {
            let mut config = Link::default();
            config.corrupt = 0.02;
            config.loss = 0.02;
            config
        },
        {
            let mut config = Link::default();
            config.bandwidth_bps = 2_000_000;
            config.queue_packets = 10;
            config.delay = Duration::from_millis(40);
            config
        },
    ];
    let mut runs = 0;
    for seed in 0..SEEDS {
        for (i, link) in links.iter().enumerate() {
            let cc = vtcp_sim::Controller::ALL[(seed as usize + i) % 3];
            let mss = [64, 536, 1460, 9000][(seed as usize + 2 * i) % 4];
            let flags = (seed as usize + i) % 8;
            let mut cfg = SimConfig::default();
            // One run in five is request/response (three responses
            // of 20 kB, the same 60 kB in all) instead of bulk.
            cfg.bytes = if seed % 5 == 0 { 20_000 } else { 60_000 };
            cfg.exchanges = if seed % 5 == 0 { 3 } else { 0 };
            cfg.link = *link;
            cfg.seed = seed;
            cfg.congestion = cc;
            cfg.sack = flags & 1 == 0;
            cfg.timestamps = flags & 2 == 0;
            cfg.window_scaling = flags & 4 == 0;
            cfg.mss = mss;
            cfg.rack_tlp = (seed / 2) % 2 == 0;
            cfg.auto_tune = seed % 2 == 0;
            cfg.buffer = [8 * 1024, 64 * 1024, 1 << 20][(seed as usize + i) % 3];
            cfg.time_limit = Duration::from_secs(3600);
            check(&cfg);
            runs += 1;
        }
    }
    assert_eq!(runs, SEEDS as usize * links.len());
}

/// Seeds per link in the matrix.
const SEEDS: u64 = 250;

#[test]
fn a_queue_overrun_by_slow_start_is_repaired_without_resending_what_arrived() {
    // No random loss: slow start overruns the 1000-packet queue and loses
    // every other segment of the last round. The receiver must keep all
    // that arrived out of order (a cap of 32 ranges once threw most of it
    // away), and recovery must resend no more than was dropped, besides
    // one rescue per recovery (RFC 6675 rule 4 resends the tail without
    // knowing it was lost), and need no timeout.
    // The receiver offers its whole 4 MiB at once (no auto-tuning, which
    // would keep the window near the path's capacity and the queue from
    // overflowing), and the sender uses RFC 6675's rules.
    let mut cfg = SimConfig::default();
    cfg.bytes = 4 << 20;
    cfg.link.loss = 0.0;
    cfg.auto_tune = false;
    cfg.rack_tlp = false;
    let r = run(&cfg, |_| {});
    assert!(r.intact && r.closed_cleanly, "{r:?}");
    assert!(r.queue_drops > 100, "{r:?}");
    assert!(r.retransmits <= r.queue_drops + r.fast_recoveries, "{r:?}");
    assert_eq!(r.rtos, 0, "{r:?}");
}

#[test]
fn each_exchange_of_a_request_response_run_takes_one_round_trip_on_a_clean_path() {
    // 10 KB responses fit the initial window, and their short tails are
    // not held back by Nagle (Minshall's variant): one RTT plus the
    // serialisation of 10 KB at 100 Mbit/s, every time.
    let mut cfg = SimConfig::default();
    cfg.bytes = 10 * 1024;
    cfg.exchanges = 50;
    cfg.link.loss = 0.0;
    let r = run(&cfg, |_| {});
    assert!(r.intact && r.closed_cleanly, "{r:?}");
    assert_eq!(r.delivered, 50 * 10 * 1024);
    assert_eq!(r.exchange_times.len(), 50);
    let rtt = cfg.link.delay * 2;
    for t in &r.exchange_times {
        assert!(*t >= rtt && *t < rtt + Duration::from_millis(5), "{t:?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_segments_byte_for_byte() {
    // Ports included: ephemeral ports come from the stack's secret (RFC
    // 6056), not from a process-random hasher, so a capture of two runs
    // is the same file.
    let mut cfg = SimConfig::default();
    cfg.bytes = 20_000;
    cfg.seed = 9;
    let capture = || {
        let mut all = Vec::new();
        vtcp_sim::run_with_tap(
            &cfg,
            |_| {},
            |t, _, _, bytes| {
                all.push((t, bytes.to_vec()));
            },
        );
        all
    };
    let (a, b) = (capture(), capture());
    assert!(!a.is_empty());
    assert!(a == b, "two runs of seed 9 sent different segments");
}

/// Every segment on the link, with its time.
fn wire_of(cfg: &SimConfig) -> (Vec<(Duration, Vec<u8>)>, vtcp_sim::Report) {
    let mut all = Vec::new();
    let r = vtcp_sim::run_with_tap(cfg, |_| {}, |t, _, _, bytes| all.push((t, bytes.to_vec())));
    (all, r)
}

/// TSO mode: the hosts hand out super-segments, the software NIC cuts
/// them, and the link carries exactly the segments, byte for byte and at
/// the same instants, that the hosts send without it, through loss,
/// reordering and a drop-tail queue, for the window-based controllers
/// (whose per-segment accounting TSO must not change); the outcome is
/// deterministic.
#[test]
fn tso_mode_puts_the_same_segments_on_the_wire() {
    for (loss, reorder, queue, cc) in [
        (0.0, 0.0, 0, vtcp_sim::Controller::HighSpeed),
        (0.01, 0.0, 0, vtcp_sim::Controller::HighSpeed),
        (0.005, 0.02, 0, vtcp_sim::Controller::Cubic),
        (0.0, 0.0, 40, vtcp_sim::Controller::NewReno),
    ] {
        let mut cfg = SimConfig::default();
        cfg.bytes = 4 << 20;
        cfg.link.loss = loss;
        cfg.link.reorder = reorder;
        cfg.link.bandwidth_bps = 200_000_000;
        if queue > 0 {
            cfg.link.queue_packets = queue;
        }
        cfg.congestion = cc;
        cfg.seed = 5;
        let (plain, a) = wire_of(&cfg);
        cfg.tso = true;
        let (cut, b) = wire_of(&cfg);
        assert!(b.intact && b.closed_cleanly, "{b:?}");
        assert_eq!(a.super_segments, 0);
        // An ACK-clocked sender has a few segments of room at a time:
        // the initial window and what each ACK frees go as super-segments.
        assert!(b.super_segments > 10, "super-segments went: {b:?}");
        assert_eq!(
            plain.len(),
            cut.len(),
            "loss {loss} reorder {reorder} queue {queue} {cc}"
        );
        let first = plain.iter().zip(&cut).position(|(x, y)| x != y);
        assert_eq!(
            first, None,
            "loss {loss} reorder {reorder} queue {queue} {cc}"
        );
        assert_eq!(a.transfer_time, b.transfer_time);
        assert_eq!(wire_of(&cfg).0, cut, "TSO mode is deterministic");
    }
}
