//! Profiling aid for vtcp's receive path on a TUN device: one kernel
//! connection sends to a vtcp listener (offloads on with `offload`, else
//! a plain device) for SECONDS; prints Mbit/s, CPU seconds per GB of this
//! process (the kernel sender's system calls included: it runs here) and
//! the driver's counters. Run as root, under `perf record -g` to see
//! where the time goes: `rx_profile offload 10`.
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

fn cpu() -> f64 {
    vtcp_lab::bench::cpu_seconds().0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let offload = args.get(1).is_some_and(|a| a == "offload");
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let (drivers, ns) = vtcp_lab::bench::tun_stacks(offload, 1).unwrap();
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)), 7201);
    let l = vtcp::TcpListener::bind(drivers[0].net(), peer).unwrap();
    let mut k = vtcp_lab::kernel::connect(&ns, peer).unwrap();
    let sender = std::thread::spawn(move || {
        vtcp_lab::bench::send_for(&mut k, Duration::from_secs(secs)).unwrap();
        k.shutdown(Shutdown::Write).unwrap();
    });
    let (mut s, _) = l.accept().unwrap();
    let (c0, t0) = (cpu(), Instant::now());
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    sender.join().unwrap();
    let t = t0.elapsed().as_secs_f64();
    let gb = total as f64 / 1e9;
    println!(
        "{:.0} Mbit/s, {:.2} CPU s per GB (vtcp's process), counters {:?}",
        total as f64 * 8.0 / t / 1e6,
        (cpu() - c0) / gb,
        drivers[0].counters()
    );
}
