//! How fast two `NetStack`s joined back to back move 256 MiB: the figure
//! CHANGELOG and the commit that moved the writer onto its own thread
//! cite. Ignored by default (it is a measurement, best in a release
//! build):
//!
//! ```sh
//! cargo test --release -p vtcp --test writer_throughput -- --ignored --nocapture
//! ```

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::Instant;

use vtcp::{NetStack, StackConfig, TcpListener, TcpStream};

const A: [u8; 4] = [198, 18, 0, 1];
const B: [u8; 4] = [198, 18, 0, 2];
const BYTES: usize = 256 << 20;

/// One transfer of `BYTES` from `a` to `b`; the seconds it took.
fn transfer(port: u16) -> f64 {
    let (a, b) = NetStack::back_to_back(
        (StackConfig::default(), A.into()),
        (StackConfig::default(), B.into()),
        |_, _, _| true,
    )
    .unwrap();
    let to = SocketAddr::new(B.into(), port);
    let listener = TcpListener::bind(&b, to).unwrap();
    let start = Instant::now();
    let reader = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let (mut n, mut sum) = (0usize, 0u64);
        loop {
            let k = s.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            sum = buf[..k]
                .iter()
                .fold(sum, |acc, &x| acc.wrapping_add(u64::from(x)));
            n += k;
        }
        (n, sum)
    });
    let mut c = TcpStream::connect(&a, to).unwrap();
    let chunk: Vec<u8> = (0..64 << 10).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut sum = 0u64;
    while sent < BYTES {
        c.write_all(&chunk).unwrap();
        sum = chunk
            .iter()
            .fold(sum, |acc, &x| acc.wrapping_add(u64::from(x)));
        sent += chunk.len();
    }
    drop(c);
    let (n, got) = reader.join().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!((n, got), (BYTES, sum), "the transfer arrived intact");
    secs
}

#[test]
#[ignore = "a measurement: run it in a release build with --ignored --nocapture"]
fn two_hundred_fifty_six_mebibytes_back_to_back() {
    for run in 0..5 {
        let secs = transfer(5000 + run);
        println!(
            "run {run}: 256 MiB in {secs:.3} s, {:.2} Gbit/s",
            (BYTES * 8) as f64 / secs / 1e9
        );
    }
}
