//! `examples/forwarder.rs` in the interop lab: a client namespace routes
//! 198.19.0.0/16 and fd00:19::/64 into a TUN device whose other side is
//! the example's forwarder (vtcp's async API on tokio), whose kernel
//! sockets live in a server namespace. Through it: an HTTP GET with
//! `curl` from Python's `http.server`, DNS-like UDP exchanges over IPv4
//! and IPv6, and 32 MiB each way over one TCP connection, checked by
//! SHA-256.
//!
//! Part of the interop lab: it needs root, `ip`, `/dev/net/tun`, `curl`
//! and `python3`, and runs under `cargo xtask interop`
//! (`VTCP_INTEROP=1`); anywhere else it says that it skipped.
#![cfg(target_os = "linux")]

#[path = "../examples/forwarder.rs"]
#[allow(dead_code, reason = "the test uses the example's parts, not its main")]
mod forwarder;

use std::io::Write;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vtcp::StackConfig;
use vtcp_lab::kernel::{self, UdpAnswerer, recv_all, send_pattern};
use vtcp_lab::lab_here;
use vtcp_tun::netns::Netns;
use vtcp_tun::{TunConfig, TunDriver};

/// A child process, killed if the test ends first.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `curl` inside `ns` until it fetches `url` (the server may still
/// be starting), for at most 20 s; the body.
fn curl(ns: &Netns, url: &str) -> Vec<u8> {
    let start = Instant::now();
    loop {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns.name(),
                "curl",
                "-sSf",
                "--max-time",
                "10",
                url,
            ])
            .output()
            .expect("curl runs");
        if out.status.success() {
            return out.stdout;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_example_forwarder_carries_http_udp_and_bulk_tcp_both_ways() {
    let test = "the_example_forwarder_carries_http_udp_and_bulk_tcp_both_ways";
    if !lab_here(test) {
        return;
    }
    for tool in ["curl", "python3"] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!("SKIPPED {test}: no {tool}");
            return;
        }
    }
    let client = Netns::unique("vtcp-fwd-").unwrap();
    let server = Netns::unique("vtcp-fwd-").unwrap();
    server
        .ip(&["addr", "add", "198.19.0.1/32", "dev", "lo"])
        .unwrap();
    server
        .ip(&["addr", "add", "fd00:19::1/128", "dev", "lo", "nodad"])
        .unwrap();
    let name = "vtfx0";
    let kernel = vtcp_tun::KernelSide::new()
        .addr("198.18.6.1".parse().unwrap(), 24)
        .addr("fd00:18::1".parse().unwrap(), 64)
        .route("198.19.0.0/16")
        .route("fd00:19::/64");
    let tun = vtcp_tun::open_device(Some(&client), &TunConfig::named(name), 1, &kernel)
        .unwrap()
        .remove(0);
    let ours: [IpAddr; 2] = ["198.18.6.2".parse().unwrap(), "fd00:18::2".parse().unwrap()];
    let driver = TunDriver::start_transparent(tun, StackConfig::default(), &ours).unwrap();
    // The runtime's threads live in the server's namespace, so the
    // forwarder's kernel sockets are made there.
    let ns_path = format!("/var/run/netns/{}", server.name());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            let ns = std::fs::File::open(&ns_path).expect("the namespace");
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        })
        .build()
        .unwrap();
    rt.spawn(forwarder::run(driver.ip().clone()));

    // HTTP: curl in the client, Python's server in the server namespace.
    let dir = std::env::temp_dir().join(format!("vtcp-forwarder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut page = vec![0u8; 300_000];
    kernel::Pattern::new(5).fill(&mut page);
    std::fs::File::create(dir.join("page"))
        .and_then(|mut f| f.write_all(&page))
        .unwrap();
    let _http = Killed(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                server.name(),
                "python3",
                "-m",
                "http.server",
                "8000",
            ])
            .args(["--bind", "198.19.0.1", "--directory"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts"),
    );
    let got = curl(&client, "http://198.19.0.1:8000/page");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        got == page,
        "{} of {} octets, intact",
        got.len(),
        page.len()
    );

    // UDP: a DNS-like exchange in each family, the answer from the
    // address the query went to.
    for at in ["198.19.0.1:53", "[fd00:19::1]:53"] {
        let at: SocketAddr = at.parse().unwrap();
        let answerer = UdpAnswerer::start(&server, at, b"answer:").unwrap();
        let s = kernel::udp_socket(&client, at).unwrap();
        let (answer, from) = kernel::udp_ask(&s, at, b"who is vtcp?").unwrap();
        assert_eq!((&answer[..], from), (&b"answer:who is vtcp?"[..], at));
        drop(answerer);
    }
    // The sender counts an answer once its write to the device returned,
    // which may be after the client has read it: wait a little for that.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut c = driver.counters();
    while (c.udp_in, c.udp_out) != (2, 2) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        c = driver.counters();
    }
    assert_eq!((c.udp_in, c.udp_out), (2, 2), "{c:?}");

    // Bulk TCP, 32 MiB each way over one connection, SHA-256 checked.
    let bytes = 32 << 20;
    let at: SocketAddr = "198.19.0.1:9000".parse().unwrap();
    let l = kernel::listen(&server, at).unwrap();
    let far = std::thread::spawn(move || {
        let mut k = kernel::accept(&l).unwrap();
        k.set_write_timeout(Some(kernel::IO_TIMEOUT)).unwrap();
        let got = recv_all(&mut k).unwrap();
        let sent = send_pattern(&mut k, 2, bytes).unwrap();
        (got, sent)
    });
    let mut k = kernel::connect(&client, at).unwrap();
    let sent = send_pattern(&mut k, 1, bytes).unwrap();
    k.shutdown(Shutdown::Write).unwrap();
    let got = recv_all(&mut k).unwrap();
    let (far_got, far_sent) = far.join().unwrap();
    assert_eq!(far_got, (bytes, sent), "32 MiB out, intact");
    assert_eq!(got, (bytes, far_sent), "32 MiB back, intact");

    rt.shutdown_timeout(Duration::from_secs(1));
    driver.stop();
    drop((client, server));
}
