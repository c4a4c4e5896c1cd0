//! Request/response connections through two stacks, for instruction
//! counts: `valgrind --tool=callgrind target/release/examples/conns_once 20000`.

use vtcp_benches::stack::connections;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    assert_eq!(connections(n), n);
    println!("{n} connections");
}
