//! The stack: connections per second (handshake, one request and
//! response, close) through two stacks in memory on one core; the cost
//! of a segment with 1 and with 100 000 connections in the stacks; and a
//! bulk transfer through the blocking streams, to set against the raw
//! engine's (`conn` bench, `bulk_64MiB/vtcp`).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use vtcp_benches::stack::{Churn, Many, blocking_transfer, connections};

fn bench(c: &mut Criterion) {
    assert_eq!(connections(100), 100);
    let mut group = c.benchmark_group("stack");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("connections_1000", |b| {
        b.iter(|| black_box(connections(1000)));
    });
    let mut churn = Churn::new();
    group.bench_function("steady_connections_1000", |b| {
        b.iter(|| black_box(churn.run(1000)));
    });
    // The level holds: TIME-WAITs end as fast as connections start.
    let (client, server) = churn.held();
    assert!(
        client + server <= 1100,
        "{client} + {server} connections held"
    );
    group.finish();

    let mut group = c.benchmark_group("segment");
    group.throughput(Throughput::Elements(1));
    for n in [1, 100_000] {
        let mut many = Many::new(n);
        assert_eq!(many.request(), 64);
        group.bench_function(format!("with_{n}_connections"), |b| {
            b.iter(|| black_box(many.request()));
        });
    }
    group.finish();

    const TOTAL: usize = 64 << 20;
    assert_eq!(blocking_transfer(1 << 20), 1 << 20);
    let mut group = c.benchmark_group("facade");
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.sample_size(10);
    group.bench_function("blocking_streams_64MiB", |b| {
        b.iter(|| black_box(blocking_transfer(TOTAL)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
