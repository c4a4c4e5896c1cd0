//! Heap memory of idle established connections, counted by dhat:
//! `cargo run --release -p vtcp-benches --example memory [connections]`.
//!
//! Two stacks in memory; clients come from as many addresses as needed
//! (16 384 ephemeral ports each). Once every handshake is done and every
//! connection accepted, the heap both stacks hold, less what they held
//! before, divided by the connections (each counted on both sides), is
//! the cost of one idle connection: its buffers are not allocated until
//! data moves.

use std::time::Instant;

use vtcp::ConnKey;
use vtcp_benches::stack::Many;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get().curr_bytes;
    let started = Instant::now();
    let many = Many::new(n);
    let took = started.elapsed();
    // Less the benchmark's own list of the connections and its buffer.
    let own = n * size_of::<(ConnKey, ConnKey)>() + 4096;
    let held = dhat::HeapStats::get().curr_bytes - before - own;
    println!("{n} idle established connections (each on both stacks)");
    println!(
        "  heap held by both stacks: {:.1} MiB",
        held as f64 / f64::from(1 << 20)
    );
    println!("  per connection and side:  {} bytes", held / (2 * n));
    println!(
        "  of which the Conn struct: {} bytes",
        size_of::<vtcp::Conn>()
    );
    println!("  set up in {took:.2?} (dhat's allocator is slow: not a speed figure)");
    drop(many);
}
