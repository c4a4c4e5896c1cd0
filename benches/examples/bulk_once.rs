//! One bulk transfer with one stack, for instruction counts:
//! `valgrind --tool=callgrind target/release/examples/bulk_once vtcp 8`.

use vtcp_benches::bulk::{smoltcp_transfer, vtcp_transfer};

fn main() {
    let mut args = std::env::args().skip(1);
    let stack = args.next().unwrap_or_else(|| "vtcp".into());
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let total = mib << 20;
    let got = match stack.as_str() {
        "vtcp" => vtcp_transfer(total).0,
        "smoltcp" => smoltcp_transfer(total),
        other => {
            eprintln!("bulk_once: unknown stack `{other}` (vtcp or smoltcp)");
            std::process::exit(2);
        }
    };
    assert_eq!(got, total);
    println!("{stack}: {mib} MiB moved");
}
