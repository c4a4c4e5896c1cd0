//! `examples/forwarder.rs` in the interop lab: a client namespace routes
//! 198.19.0.0/16 and fd00:19::/64 into a TUN device whose other side is
//! the example's forwarder (vtcp's async API on tokio), whose kernel
//! sockets live in a server namespace. Through it: an HTTP GET with
//! `curl` from Python's `http.server`, DNS-like UDP exchanges over IPv4
//! and IPv6, `dig` getting an A record from a DNS server over IPv4 and
//! IPv6, `iperf3` for 2 s each way, and 32 MiB each way over one TCP
//! connection, checked by SHA-256.
//!
//! Part of the interop lab: it needs root, `ip`, `/dev/net/tun`, `curl`
//! and `python3`, and runs under `cargo xtask interop`
//! (`VTCP_INTEROP=1`, which installs `dig` and `iperf3` when it can);
//! anywhere else it says that it skipped. Without `dig` or `iperf3` the
//! part that needs it says that it skipped.
#![cfg(target_os = "linux")]

#[path = "../examples/forwarder.rs"]
#[allow(dead_code, reason = "the test uses the example's parts, not its main")]
mod forwarder;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use vtcp::StackConfig;
use vtcp_lab::kernel::{self, UdpAnswerer, recv_all, send_pattern};
use vtcp_lab::{dns, lab_here};
use vtcp_tun::netns::Netns;
use vtcp_tun::{KernelSide, TunConfig, TunDriver};

/// A child process, killed if the test ends first.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Says on stderr, past the test harness's capture, what was skipped.
fn skipped(what: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
}

/// Whether `tool` is installed (it runs with `arg`).
fn installed(tool: &str, arg: &str) -> bool {
    Command::new(tool).arg(arg).output().is_ok()
}

/// `COMMAND ARGS` inside `ns`, killed and failing the test if it runs
/// past `limit`.
fn run_within(ns: &Netns, args: &[&str], limit: Duration) -> Output {
    let mut child = Killed(
        Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec starts"),
    );
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut all);
            }
            all
        })
    };
    let stdout = drain(child.0.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.0.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("the child's status") {
            break status;
        }
        assert!(Instant::now() < deadline, "{args:?} ran past {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout read"),
        stderr: stderr.join().expect("stderr read"),
    }
}

/// `dig` in the client namespace asks a DNS server in the server
/// namespace, through the forwarder, for the A record of `vtcp.test`,
/// over IPv4 and IPv6: the answer is the server's.
fn dig_through(client: &Netns, server: &Netns) {
    if !installed("dig", "-v") {
        skipped("the forwarder's dig part: dig not installed (apt-get install bind9-dnsutils)");
        return;
    }
    const NAME: &str = "vtcp.test";
    const ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 77, 7);
    for at in ["198.19.0.1:5353", "[fd00:19::1]:5353"] {
        let at: SocketAddr = at.parse().unwrap();
        let _dns = UdpAnswerer::with(server, at, |q| dns::answer_a(q, NAME, ADDR)).unwrap();
        let (ip, port) = (format!("@{}", at.ip()), at.port().to_string());
        let args = [
            "dig", &ip, "-p", &port, NAME, "A", "+short", "+tries=1", "+time=2",
        ];
        let out = run_within(client, &args, Duration::from_secs(10));
        let answer = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && answer.trim() == ADDR.to_string(),
            "{args:?}: {answer:?}, {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = writeln!(
            std::io::stderr(),
            "dig {ip} {NAME} through the forwarder: {answer}"
        );
    }
}

/// `iperf3 -c` in the client namespace against `iperf3 -s -1` in the
/// server namespace, through the forwarder, 2 s each way (`-R` the
/// second time): the receiver gets bytes, no more than were sent. The
/// figures from iperf3's JSON report are printed.
fn iperf3_through(client: &Netns, server: &Netns) {
    if !installed("iperf3", "--version") {
        skipped("the forwarder's iperf3 part: iperf3 not installed (apt-get install iperf3)");
        return;
    }
    for reverse in [false, true] {
        // The server serves one test, and `timeout` ends it should this
        // test die before it kills it.
        let _server = Killed(
            Command::new("timeout")
                .args(["60", "ip", "netns", "exec", server.name()])
                .args(["iperf3", "-s", "-1", "-B", "198.19.0.1", "-p", "5201"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("iperf3 -s starts"),
        );
        let start = Instant::now();
        loop {
            let ss = run_within(
                server,
                &["ss", "-Hltn", "sport", "=", ":5201"],
                Duration::from_secs(5),
            );
            if !ss.stdout.is_empty() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "iperf3 -s listens"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut args = vec![
            "iperf3",
            "-c",
            "198.19.0.1",
            "-p",
            "5201",
            "-t",
            "2",
            "-J",
            "--connect-timeout",
            "5000",
        ];
        if reverse {
            args.push("-R");
        }
        let out = run_within(client, &args, Duration::from_secs(30));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        assert!(
            out.status.success() && report.get("error").is_none(),
            "{args:?}: {:?}",
            report.get("error")
        );
        let end = &report["end"];
        let sent = end["sum_sent"]["bytes"].as_u64().unwrap_or(0);
        let received = end["sum_received"]["bytes"].as_u64().unwrap_or(0);
        let rate = end["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap_or(0.0);
        let way = if reverse {
            "server to client (-R)"
        } else {
            "client to server"
        };
        let _ = writeln!(
            std::io::stderr(),
            "iperf3 through the forwarder, {way}: {sent} octets sent, {received} received, \
             {:.0} Mbit/s",
            rate / 1e6
        );
        assert!(
            0 < received && received <= sent,
            "{way}: {sent} sent, {received} received"
        );
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
fn the_example_forwarder_carries_http_udp_dns_iperf3_and_bulk_tcp_both_ways() {
    let test = "the_example_forwarder_carries_http_udp_dns_iperf3_and_bulk_tcp_both_ways";
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
    let servers = KernelSide::new()
        .addr("198.19.0.1".parse().unwrap(), 32)
        .addr("fd00:19::1".parse().unwrap(), 128);
    vtcp_tun::configure_device(Some(&server), "lo", &servers).unwrap();
    let name = "vtfx0";
    let kernel = KernelSide::new()
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

    // What a user checks a VPN with: dig (DNS over UDP) and iperf3.
    dig_through(&client, &server);
    iperf3_through(&client, &server);

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
