//! Heap memory of idle established connections, counted by dhat:
//! `cargo run --release -p vtcp-benches --example memory [connections]`.
//!
//! Two stacks in memory; clients come from as many addresses as needed
//! (16 384 ephemeral ports each). Once every handshake is done and every
//! connection accepted, the heap both stacks hold, less what they held
//! before, divided by the connections (each counted on both sides), is
//! the cost of one idle connection: its buffers are not allocated until
//! data moves.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use vtcp_benches::stack::{SERVER, settle, stack};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut client = stack(1);
    let mut server = stack(2);
    let addr = SocketAddr::new(SERVER.into(), 80);
    let listener = server.listen(addr, 1024).unwrap();
    let mut buf = vec![0u8; 4096];
    let now = Duration::from_secs(1);
    let before = dhat::HeapStats::get().curr_bytes;
    let started = Instant::now();
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        let ip = IpAddr::from([198, 18, 1 + (i / 16_000) as u8, 1]);
        keys.push(client.connect(now, ip, addr).unwrap());
        if i % 512 == 511 || i == n - 1 {
            settle(now, &mut client, &mut server, &mut buf);
            while server.accept(listener).is_some() {}
        }
    }
    let took = started.elapsed();
    let established = keys
        .iter()
        .filter(|k| {
            client
                .conn(**k)
                .is_some_and(|c| c.state() == vtcp::State::Established)
        })
        .count();
    assert_eq!(established, n);
    assert_eq!(server.connections(), n);
    let held =
        dhat::HeapStats::get().curr_bytes - before - keys.capacity() * size_of::<vtcp::ConnKey>();
    println!("{n} idle established connections (each on both stacks)");
    println!(
        "  heap held by both stacks: {:.1} MiB",
        held as f64 / (1 << 20) as f64
    );
    println!("  per connection and side:  {} bytes", held / (2 * n));
    println!(
        "  of which the Conn struct: {} bytes",
        size_of::<vtcp::Conn>()
    );
    println!("  set up in {took:.2?} (dhat's allocator is slow: not a speed figure)");
}
