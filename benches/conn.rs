//! Bulk transfer between two connections back to back in memory, one
//! thread: vtcp's engine against smoltcp's sockets on the same job. MSS
//! 1460 (MTU 1500), 64 MiB, the TCP checksum computed on every segment
//! sent and verified on every segment received, on both sides.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vtcp_benches::bulk::{smoltcp_transfer, vtcp_transfer};

const TOTAL: usize = 64 << 20;

fn bulk(c: &mut Criterion) {
    let (bytes, segments) = vtcp_transfer(TOTAL);
    assert_eq!(bytes, TOTAL);
    eprintln!("vtcp: {segments} segments for 64 MiB");
    assert_eq!(smoltcp_transfer(TOTAL), TOTAL);
    let mut group = c.benchmark_group("bulk_64MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.bench_function("vtcp", |b| b.iter(|| black_box(vtcp_transfer(TOTAL))));
    group.bench_function("smoltcp", |b| b.iter(|| black_box(smoltcp_transfer(TOTAL))));
    group.finish();
}

criterion_group!(benches, bulk);
criterion_main!(benches);
