//! Request/response connections through two stacks, for instruction
//! counts: `valgrind --tool=callgrind target/release/examples/conns_once 20000`
//! runs 20 000 connections through two new stacks (`connections`);
//! `conns_once 20000 steady` runs them through two stacks already
//! running at their level of TIME-WAITs (`Churn`). A third argument
//! repeats the run.

use vtcp_benches::stack::{Churn, connections};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let steady = args.next().is_some_and(|a| a == "steady");
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let mut churn = steady.then(Churn::new);
    for _ in 0..rounds {
        let done = match &mut churn {
            Some(churn) => churn.run(n),
            None => connections(n),
        };
        assert_eq!(done, n);
    }
    println!("{rounds} × {n} connections");
}
