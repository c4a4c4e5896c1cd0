//! The stack: connections per second (handshake, one request and
//! response, close) through two stacks in memory on one core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use vtcp_benches::stack::connections;

fn bench(c: &mut Criterion) {
    assert_eq!(connections(100), 100);
    let mut group = c.benchmark_group("stack");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("connections_1000", |b| {
        b.iter(|| black_box(connections(1000)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
