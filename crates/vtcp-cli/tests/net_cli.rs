//! `vtcp serve | connect | forward` as a user runs them, against the Linux
//! kernel in namespaces the tests create (or have the command create).
//!
//! Part of the interop lab: they need root, `ip` and `/dev/net/tun`, and
//! run under `cargo xtask interop` (which sets `VTCP_INTEROP=1`); anywhere
//! else each says that it skipped. The usage errors run everywhere.
#![cfg(target_os = "linux")]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use vtcp_lab::kernel::{self, IO_TIMEOUT, recv_all, send_pattern};
use vtcp_lab::lab_here;
use vtcp_tun::netns::Netns;

fn vtcp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vtcp"))
}

/// A running `vtcp` command, killed if the test fails before it ends.
struct Running(Option<Child>);

impl Running {
    fn start(args: &[&str]) -> Self {
        let child = vtcp()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vtcp starts");
        Self(Some(child))
    }

    /// Ctrl-C, then what it printed.
    fn interrupt(mut self) -> Output {
        let child = self.0.take().unwrap();
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        child.wait_with_output().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Connects from inside `ns`, retrying while the command sets up.
fn connect_when_up(ns: &str, addr: SocketAddr) -> std::net::TcpStream {
    let start = Instant::now();
    loop {
        if Netns::exists(ns) {
            let ns = Netns::create_or_join(ns).unwrap();
            if let Ok(s) = kernel::connect(&ns, addr) {
                return s;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{addr} never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
        .trim()
        .to_owned()
}

#[test]
fn serve_with_netns_answers_every_service_and_reports_on_ctrl_c() {
    if !lab_here("serve_with_netns_answers_every_service_and_reports_on_ctrl_c") {
        return;
    }
    let ns = format!("vtcp-cli-{}", std::process::id());
    let serve = Running::start(&[
        "serve",
        "--tun",
        "vts0",
        "--netns",
        &ns,
        "--addr",
        "198.18.0.2/24",
        "--addr6",
        "fd00::2/64",
        "echo:7",
        "discard:9",
        "chargen:19",
        "http:80",
    ]);
    let v4 = |port| SocketAddr::new([198, 18, 0, 2].into(), port);
    let v6 = |port| SocketAddr::new("fd00::2".parse().unwrap(), port);

    for addr in [v4(7), v6(7)] {
        let mut s = connect_when_up(&ns, addr);
        s.write_all(b"hello, vtcp\n").unwrap();
        let mut back = [0u8; 12];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello, vtcp\n");
    }
    let mut d = connect_when_up(&ns, v4(9));
    send_pattern(&mut d, 3, 1 << 20).unwrap();
    d.shutdown(Shutdown::Write).unwrap();
    let (n, _) = recv_all(&mut d).unwrap();
    assert_eq!(n, 0, "discard sends nothing back");

    let mut c = connect_when_up(&ns, v6(19));
    let mut lines = vec![0u8; 74 * 3];
    c.read_exact(&mut lines).unwrap();
    for (i, line) in lines.chunks(74).enumerate() {
        assert_eq!(line, vtcp_cli::device::chargen_line(i), "chargen line {i}");
    }
    drop(c);

    let mut h = connect_when_up(&ns, v4(80));
    h.write_all(b"GET /bytes/100000 HTTP/1.0\r\nHost: vtcp\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    h.read_to_end(&mut reply).unwrap();
    let head_end = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&reply[..head_end]);
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Length: 100000\r\n"), "{head}");
    assert_eq!(reply.len() - head_end, 100_000);

    let out = serve.interrupt();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(field(&stdout, "device"), "vts0");
    let opened: u32 = field(&stdout, "connections")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(opened >= 5, "{stdout}");
    assert!(!Netns::exists(&ns), "the namespace it created is gone");
}

/// `vtcp serve --queues 2`: a stack per queue; sixteen echo clients,
/// spread by the kernel's flow hash, are all answered, and the report
/// gives the sum and a line per queue, both of which served some.
#[test]
fn serve_with_two_queues_answers_on_both_and_reports_each() {
    if !lab_here("serve_with_two_queues_answers_on_both_and_reports_each") {
        return;
    }
    let ns = format!("vtcp-cli-q-{}", std::process::id());
    let serve = Running::start(&[
        "serve", "--tun", "vtq0", "--netns", &ns, "--queues", "2", "echo:7",
    ]);
    let addr = SocketAddr::new([198, 18, 0, 2].into(), 7);
    for i in 0..16u8 {
        let mut s = connect_when_up(&ns, addr);
        let msg = [b'q', i, b'\n'];
        s.write_all(&msg).unwrap();
        let mut back = [0u8; 3];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
    }
    let out = serve.interrupt();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("through vtq0, 2 queue(s)"), "{stderr}");
    assert!(field(&stdout, "queues").starts_with('2'), "{stdout}");
    let opened = |line: &str| -> u32 {
        let (_, rest) = line.split_once("out, ").unwrap();
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let q0 = opened(&field(&stdout, "queue 0"));
    let q1 = opened(&field(&stdout, "queue 1"));
    // Sixteen flows by a keyed hash: both queues get some (all on one
    // has a chance of 2^-15).
    assert!(q0 > 0 && q1 > 0, "{stdout}");
    assert_eq!(q0 + q1, 16, "{stdout}");
    assert!(!Netns::exists(&ns), "the namespace it created is gone");
}

#[test]
fn connect_is_netcat_over_vtcp() {
    if !lab_here("connect_is_netcat_over_vtcp") {
        return;
    }
    let ns = Netns::unique("vtcp-cli-").unwrap();
    // The kernel's server, in the namespace before the device exists: it
    // listens on every address.
    let l = kernel::listen(&ns, "0.0.0.0:5000".parse().unwrap()).unwrap();
    let server = std::thread::spawn(move || {
        let (mut k, _) = l.accept().unwrap();
        k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut got = Vec::new();
        k.read_to_end(&mut got).unwrap();
        k.write_all(b"kernel says: ").unwrap();
        k.write_all(&got).unwrap();
        got
    });
    let mut child = vtcp()
        .args([
            "connect",
            "--tun",
            "vtc0",
            "--netns",
            ns.name(),
            "198.18.0.1:5000",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello from stdin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.join().unwrap(), b"hello from stdin\n");
    assert_eq!(out.stdout, b"kernel says: hello from stdin\n");
    assert!(
        Netns::exists(ns.name()),
        "a namespace it did not create stays"
    );

    // Nobody listening: refused, a message, a failure exit.
    let out = vtcp()
        .args([
            "connect",
            "--tun",
            "vtc1",
            "--netns",
            ns.name(),
            "--addr",
            "198.18.1.2/24",
        ])
        .arg("198.18.1.1:5001")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn forward_splices_a_kernel_flow_to_a_kernel_server() {
    if !lab_here("forward_splices_a_kernel_flow_to_a_kernel_server") {
        return;
    }
    // The client's namespace routes 198.19.0.0/16 into the device; the
    // server lives at 198.19.0.1 in a namespace of its own, where the
    // forwarder opens its kernel sockets.
    let (client, upstream, fwd) = forward_lab("vtf0");
    let l = kernel::listen(&upstream, "198.19.0.1:8080".parse().unwrap()).unwrap();
    let server = std::thread::spawn(move || {
        let (mut k, _) = l.accept().unwrap();
        k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let got = recv_all(&mut k).unwrap();
        k.write_all(b"received").unwrap();
        got
    });
    let mut k = connect_when_up(client.name(), "198.19.0.1:8080".parse().unwrap());
    let bytes = 16 << 20;
    let sum = send_pattern(&mut k, 11, bytes).unwrap();
    k.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    k.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"received");
    assert_eq!(server.join().unwrap(), (bytes, sum), "16 MiB intact");

    // A destination nobody serves: the client is reset. The forwarder
    // answers the SYN, finds the upstream refused and resets; the two
    // segments may reach the kernel back to back, before connect() has
    // returned, and then connect() itself reports the reset.
    let r = kernel::connect(&client, "198.19.0.1:8081".parse().unwrap()).and_then(|mut k| {
        let mut buf = [0u8; 8];
        k.read(&mut buf)
    });
    assert!(
        matches!(&r, Err(e) if e.kind() == io::ErrorKind::ConnectionReset),
        "{r:?}"
    );

    let out = fwd.interrupt();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        field(&stdout, "flows"),
        "1 forwarded, 1 refused upstream",
        "{stdout}"
    );
    assert!(
        field(&stdout, "bytes").starts_with(&format!("{bytes} out, 8 back")),
        "{stdout}"
    );
}

/// The per-flow line `vtcp forward` prints on stderr when a flow to
/// `dest` ends.
fn flow_line_of<'a>(stderr: &'a str, dest: &str) -> &'a str {
    stderr
        .lines()
        .find(|l| l.starts_with("vtcp: flow ") && l.contains(&format!("-> {dest}:")))
        .unwrap_or_else(|| panic!("no flow to {dest} in:\n{stderr}"))
}

/// The figures of [`flow_line_of`]: (octets out, octets back).
fn flow_line(stderr: &str, dest: &str) -> (u64, u64) {
    let line = flow_line_of(stderr, dest);
    let mut numbers = line
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(_, figures)| figures)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    let (Some(out), Some(back)) = (numbers.next(), numbers.next()) else {
        panic!("no figures in {line:?}");
    };
    (out, back)
}

/// The forwarder's total octets out and back, from its report.
fn total_bytes(stdout: &str) -> (u64, u64) {
    let b = field(stdout, "bytes");
    let words: Vec<&str> = b.split_whitespace().collect();
    match words[..] {
        [out, "out,", back, "back"] => (out.parse().unwrap(), back.parse().unwrap()),
        _ => panic!("bytes: {b:?}"),
    }
}

/// A client namespace routing 198.19.0.0/16 into `vtcp forward` on
/// device `tun`, and an upstream namespace holding 198.19.0.1 where the
/// forwarder opens its kernel sockets.
fn forward_lab(tun: &str) -> (Netns, Netns, Running) {
    forward_lab_with(tun, &[])
}

/// [`forward_lab`] with more flags for `vtcp forward`.
fn forward_lab_with(tun: &str, extra: &[&str]) -> (Netns, Netns, Running) {
    let client = Netns::unique("vtcp-cli-").unwrap();
    let upstream = Netns::unique("vtcp-cli-").unwrap();
    let lo = vtcp_tun::KernelSide::new().addr("198.19.0.1".parse().unwrap(), 32);
    vtcp_tun::configure_device(Some(&upstream), "lo", &lo).unwrap();
    let mut args = vec![
        "forward",
        "--tun",
        tun,
        "--netns",
        client.name(),
        "--route",
        "198.19.0.0/16",
        "--upstream-netns",
        upstream.name(),
    ];
    args.extend_from_slice(extra);
    let fwd = Running::start(&args);
    (client, upstream, fwd)
}

/// UDP through `vtcp forward`: a DNS-like query ends its flow at its
/// answer, an echo flow ends when idle, a third flow beyond
/// `--udp-flows 2` evicts the one idle the longest, and every datagram
/// and octet is counted per flow and in total.
#[test]
fn forward_relays_udp_flows_and_counts_them() {
    if !lab_here("forward_relays_udp_flows_and_counts_them") {
        return;
    }
    let (client, upstream, fwd) =
        forward_lab_with("vtf3", &["--udp-idle", "2", "--udp-flows", "2"]);
    let dns_server =
        kernel::UdpAnswerer::start(&upstream, "198.19.0.1:53".parse().unwrap(), b"answer:")
            .unwrap();
    let echo_server =
        kernel::UdpAnswerer::start(&upstream, "198.19.0.1:7".parse().unwrap(), b"").unwrap();
    // The forwarder is up once a TCP flow goes through.
    let _up = serve_once(&upstream, "198.19.0.1:8080", |_| ());
    drop(connect_when_up(
        client.name(),
        "198.19.0.1:8080".parse().unwrap(),
    ));
    std::thread::sleep(Duration::from_millis(100));
    let socket = || kernel::udp_socket(&client, dns_server.addr()).unwrap();
    let udp_ask = |s: &std::net::UdpSocket, to: &str, payload: &[u8]| {
        kernel::udp_ask(s, to.parse().unwrap(), payload).expect("an answer")
    };

    let dns = socket();
    let (answer, from) = udp_ask(&dns, "198.19.0.1:53", b"q1");
    assert_eq!(
        (&answer[..], from),
        (&b"answer:q1"[..], "198.19.0.1:53".parse().unwrap())
    );

    let echo = socket();
    for size in [1usize, 1000, 1400] {
        let payload: Vec<u8> = (0..size).map(|i| (i * 31) as u8).collect();
        let (answer, from) = udp_ask(&echo, "198.19.0.1:7", &payload);
        assert!(answer == payload, "{size} octets echoed");
        assert_eq!(from, "198.19.0.1:7".parse().unwrap());
    }
    // Idle for longer than --udp-idle: the echo flow ends.
    std::thread::sleep(Duration::from_millis(3000));

    let (a, b, c) = (socket(), socket(), socket());
    for (s, what) in [(&a, b"a"), (&b, b"b"), (&c, b"c")] {
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(udp_ask(s, "198.19.0.1:7", what).0, what);
    }
    std::thread::sleep(Duration::from_millis(600));
    let out = fwd.interrupt();
    drop((dns_server, echo_server));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let udp_line = |client: &std::net::UdpSocket, dest: &str| {
        let from = format!(
            "vtcp: udp flow 198.18.0.1:{} -> {dest}: ",
            client.local_addr().unwrap().port()
        );
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(&from))
            .unwrap_or_else(|| panic!("no line for {from} in:\n{stderr}"))
            .to_owned()
    };
    assert_eq!(
        udp_line(&dns, "198.19.0.1:53"),
        "1 datagrams (2 bytes) out, 1 (9 bytes) back (answered)"
    );
    assert_eq!(
        udp_line(&echo, "198.19.0.1:7"),
        "3 datagrams (2401 bytes) out, 3 (2401 bytes) back (idle)"
    );
    assert_eq!(
        udp_line(&a, "198.19.0.1:7"),
        "1 datagrams (1 bytes) out, 1 (1 bytes) back (evicted)"
    );
    assert_eq!(
        field(&stdout, "udp flows"),
        "5 relayed, 1 evicted, 0 failed",
        "{stdout}"
    );
    assert_eq!(
        field(&stdout, "udp datagrams"),
        "7 out, 7 back, 0 dropped",
        "{stdout}"
    );
    assert_eq!(
        field(&stdout, "udp bytes"),
        "2406 out, 2413 back",
        "{stdout}"
    );
    assert_eq!(field(&stdout, "UDP on device"), "7 in, 7 out", "{stdout}");
    drop((client, upstream));
}

/// A kernel server in `ns` at `addr` that runs `serve` on its first
/// connection, on a thread.
fn serve_once<T: Send + 'static>(
    ns: &Netns,
    addr: &str,
    serve: impl FnOnce(std::net::TcpStream) -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let l = kernel::listen(ns, addr.parse().unwrap()).unwrap();
    std::thread::spawn(move || {
        let (k, _) = l.accept().unwrap();
        k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        k.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        serve(k)
    })
}

#[test]
fn forward_counts_every_octet_also_of_flows_that_end_in_a_reset() {
    if !lab_here("forward_counts_every_octet_also_of_flows_that_end_in_a_reset") {
        return;
    }
    let (client, upstream, fwd) = forward_lab("vtf1");

    // A flow that ends cleanly both ways.
    let clean = serve_once(&upstream, "198.19.0.1:8080", |mut k| {
        let got = recv_all(&mut k).unwrap();
        k.write_all(b"received").unwrap();
        got
    });
    let mut k = connect_when_up(client.name(), "198.19.0.1:8080".parse().unwrap());
    let clean_bytes = 16 * (1 << 20) + 1;
    let sum = send_pattern(&mut k, 11, clean_bytes).unwrap();
    k.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    k.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"received");
    assert_eq!(clean.join().unwrap(), (clean_bytes, sum));

    // The client resets its flow once the server has had everything and
    // answered: the forwarder's copy out ends in ConnectionReset.
    let reset_out_bytes = 3 * (1 << 20) + 12_345;
    let reset_out = serve_once(&upstream, "198.19.0.1:8082", move |mut k| {
        let mut got = vec![0u8; reset_out_bytes as usize];
        k.read_exact(&mut got).unwrap();
        k.write_all(b"received").unwrap();
        // Then the forwarder closes towards us.
        let (rest, _) = recv_all(&mut k).unwrap();
        (got, rest)
    });
    let sock = kernel::socket(&client, "198.19.0.1:8082".parse().unwrap()).unwrap();
    sock.connect_timeout(
        &"198.19.0.1:8082".parse::<SocketAddr>().unwrap().into(),
        IO_TIMEOUT,
    )
    .unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut sent = vec![0u8; reset_out_bytes as usize];
    kernel::Pattern::new(12).fill(&mut sent);
    (&sock).write_all(&sent).unwrap();
    let mut answer = [0u8; 8];
    (&sock).read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"received");
    sock.set_linger(Some(Duration::ZERO)).unwrap();
    drop(sock);
    let (got, rest) = reset_out.join().unwrap();
    assert!(got == sent, "the bytes before the reset arrived intact");
    assert_eq!(rest, 0);

    // The server resets its flow once the client has had everything and
    // answered: the forwarder's copy back ends in ConnectionReset.
    let reset_back_bytes = 5 * (1 << 20) + 777;
    let reset_back = serve_once(&upstream, "198.19.0.1:8083", move |mut k| {
        send_pattern(&mut k, 13, reset_back_bytes).unwrap();
        let mut ok = [0u8; 2];
        k.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"ok");
        kernel::abort(k).unwrap();
    });
    let mut k = connect_when_up(client.name(), "198.19.0.1:8083".parse().unwrap());
    let mut got = vec![0u8; reset_back_bytes as usize];
    k.read_exact(&mut got).unwrap();
    k.write_all(b"ok").unwrap();
    reset_back.join().unwrap();
    let mut p = vec![0u8; reset_back_bytes as usize];
    kernel::Pattern::new(13).fill(&mut p);
    assert!(got == p, "the bytes before the reset arrived intact");
    // The forwarder ends the flow towards us (a FIN or a reset): nothing
    // more arrives.
    let mut rest = Vec::new();
    let _ = k.read_to_end(&mut rest);
    assert!(rest.is_empty());
    drop(k);

    // Each flow has printed its line once both its copies ended.
    std::thread::sleep(Duration::from_millis(500));
    let out = fwd.interrupt();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(field(&stdout, "flows"), "3 forwarded, 0 refused upstream");
    assert_eq!(
        flow_line(&stderr, "198.19.0.1:8080"),
        (clean_bytes, 8),
        "{stderr}"
    );
    assert_eq!(
        flow_line(&stderr, "198.19.0.1:8082"),
        (reset_out_bytes, 8),
        "{stderr}"
    );
    assert_eq!(
        flow_line(&stderr, "198.19.0.1:8083"),
        (2, reset_back_bytes),
        "{stderr}"
    );
    // The copies of the reset flows ended in errors, not at an end.
    let line = flow_line_of(&stderr, "198.19.0.1:8082");
    assert!(
        line.contains("out (") && !line.contains("out (end)"),
        "{line}"
    );
    let line = flow_line_of(&stderr, "198.19.0.1:8083");
    assert!(!line.contains("back (end)"), "{line}");
    eprintln!("{stderr}");
    assert_eq!(
        total_bytes(&stdout),
        (clean_bytes + reset_out_bytes + 2, 8 + 8 + reset_back_bytes),
        "{stdout}\n{stderr}"
    );
    drop((client, upstream));
}

/// 64 flows of 256 MiB at once through `vtcp forward`, half of them
/// towards the server and half back, each checked by SHA-256, and the
/// forwarder's counters exact past 4 GiB each way.
#[test]
fn forward_carries_sixty_four_flows_of_256_mib_at_once() {
    if !lab_here("forward_carries_sixty_four_flows_of_256_mib_at_once") {
        return;
    }
    const FLOWS: u64 = 64;
    const BYTES: u64 = 256 << 20;
    let started = Instant::now();
    let (client, upstream, fwd) = forward_lab("vtf2");
    // Port 8090 takes what a flow sends; port 8091 sends the pattern of
    // the seed the flow's first 8 octets name.
    let sink = kernel::listen(&upstream, "198.19.0.1:8090".parse().unwrap()).unwrap();
    let source = kernel::listen(&upstream, "198.19.0.1:8091".parse().unwrap()).unwrap();
    let sinks = std::thread::spawn(move || {
        (0..FLOWS / 2)
            .map(|_| {
                let (mut k, _) = sink.accept().unwrap();
                k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                std::thread::spawn(move || recv_all(&mut k).unwrap())
            })
            .collect::<Vec<_>>()
    });
    let sources = std::thread::spawn(move || {
        (0..FLOWS / 2)
            .map(|_| {
                let (mut k, _) = source.accept().unwrap();
                k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                k.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
                std::thread::spawn(move || {
                    let mut seed = [0u8; 8];
                    k.read_exact(&mut seed).unwrap();
                    let seed = u64::from_le_bytes(seed);
                    let sum = send_pattern(&mut k, seed, BYTES).unwrap();
                    k.shutdown(Shutdown::Write).unwrap();
                    (seed, sum)
                })
            })
            .collect::<Vec<_>>()
    });
    // The first flow waits for the forwarder to come up; the rest start
    // together.
    let first = connect_when_up(client.name(), "198.19.0.1:8090".parse().unwrap());
    let mut firsts = Some(first);
    let clients: Vec<_> = (0..FLOWS)
        .map(|i| {
            let up = i % 2 == 0;
            let mut k = match firsts.take() {
                Some(k) => k,
                None => {
                    let port = if up { 8090 } else { 8091 };
                    kernel::connect(&client, SocketAddr::new([198, 19, 0, 1].into(), port)).unwrap()
                }
            };
            std::thread::spawn(move || {
                let seed = 100 + i;
                if up {
                    let sum = send_pattern(&mut k, seed, BYTES).unwrap();
                    k.shutdown(Shutdown::Write).unwrap();
                    (seed, (BYTES, sum))
                } else {
                    k.write_all(&seed.to_le_bytes()).unwrap();
                    k.shutdown(Shutdown::Write).unwrap();
                    (seed, recv_all(&mut k).unwrap())
                }
            })
        })
        .collect();
    let mut sent_up = Vec::new();
    let mut got_back = std::collections::HashMap::new();
    for (i, c) in clients.into_iter().enumerate() {
        let (seed, figures) = c.join().unwrap();
        if i % 2 == 0 {
            sent_up.push(figures);
        } else {
            got_back.insert(seed, figures);
        }
    }
    let mut received: Vec<_> = sinks
        .join()
        .unwrap()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    received.sort_unstable();
    sent_up.sort_unstable();
    assert_eq!(received, sent_up, "every flow out arrived intact");
    for h in sources.join().unwrap() {
        let (seed, sum) = h.join().unwrap();
        assert_eq!(got_back.get(&seed), Some(&(BYTES, sum)), "flow back {seed}");
    }
    let moved = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let out = fwd.interrupt();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(field(&stdout, "flows"), "64 forwarded, 0 refused upstream");
    assert_eq!(
        total_bytes(&stdout),
        // Each flow back sent its 8-octet seed out.
        (FLOWS / 2 * (BYTES + 8), FLOWS / 2 * BYTES),
        "{stdout}"
    );
    eprintln!(
        "64 flows of 256 MiB through vtcp forward: {:.1} s, {:.0} Mbit/s in all",
        moved.as_secs_f64(),
        (FLOWS * BYTES) as f64 * 8.0 / moved.as_secs_f64() / 1e6
    );
    drop((client, upstream));
}

#[test]
fn a_busy_device_a_port_in_use_and_a_missing_namespace_are_clear_errors() {
    if !lab_here("a_busy_device_a_port_in_use_and_a_missing_namespace_are_clear_errors") {
        return;
    }
    let ns = Netns::unique("vtcp-cli-").unwrap();
    let _held = ns
        .enter(|| vtcp_tun::Tun::open(&vtcp_tun::TunConfig::named("vtb0")))
        .unwrap()
        .unwrap();
    let out = vtcp()
        .args(["serve", "--tun", "vtb0", "--netns", ns.name(), "echo:7"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vtb0") && err.contains("busy"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // Two services on one port: the second finds it in use.
    let out = vtcp()
        .args([
            "serve",
            "--tun",
            "vtb2",
            "--netns",
            ns.name(),
            "echo:7",
            "discard:7",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("port 7") && err.contains("in use"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = vtcp()
        .args([
            "forward",
            "--tun",
            "vtb1",
            "--upstream-netns",
            "vtcp-cli-no-such-ns",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no such namespace"), "{err}");
}

#[test]
fn without_root_serve_says_so() {
    if !lab_here("without_root_serve_says_so") {
        return;
    }
    // The same binary as nobody.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_vtcp"))
        .args(["serve", "--tun", "vtn0", "echo:7"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("root"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_command_lines_are_refused_before_anything_is_touched() {
    for args in [
        &["serve", "--tun", "x", "gopher:70"][..],
        &["serve", "--tun", "x"],
        &["serve", "--tun", "x", "--addr", "198.18.0.2", "echo:7"],
        &["connect", "--tun", "x", "not-an-address"],
    ] {
        let out = vtcp().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // An IPv6 --addr is refused with a message (after parsing).
    let out = vtcp()
        .args(["serve", "--tun", "x", "--addr", "fd00::2/64", "echo:7"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not IPv4"));
}

/// `vtcp serve` whose device is deleted under it (`ip link del`): the
/// echo connection open at the time is aborted (the kernel client sees it
/// end), and the command exits at once with a message that names the
/// device, instead of serving nothing until Ctrl-C.
#[test]
fn serve_exits_with_a_clear_error_when_its_device_is_deleted() {
    if !lab_here("serve_exits_with_a_clear_error_when_its_device_is_deleted") {
        return;
    }
    let ns = format!("vtcp-cli-del-{}", std::process::id());
    let mut serve = Running::start(&["serve", "--tun", "vtd0", "--netns", &ns, "echo:7"]);
    let mut s = connect_when_up(&ns, SocketAddr::new([198, 18, 0, 2].into(), 7));
    s.write_all(b"before\n").unwrap();
    let mut back = [0u8; 7];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"before\n");

    let status = Command::new("ip")
        .args(["-n", &ns, "link", "del", "vtd0"])
        .status()
        .unwrap();
    assert!(status.success(), "ip link del");
    let deleted = Instant::now();
    let child = serve.0.as_mut().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            deleted.elapsed() < Duration::from_secs(10),
            "vtcp serve still runs 10 s after its device went"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = serve.0.take().unwrap().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("vtd0") && err.contains("device failed"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!Netns::exists(&ns), "the namespace it created is gone");
}

/// An MTU no device can have is refused by the flag's parser, with the
/// range, before any device is touched (it said "cannot open a TUN
/// device: Invalid argument"). Needs no root.
#[test]
fn an_impossible_mtu_is_refused_with_its_range() {
    for mtu in ["0", "10", "67"] {
        let out = vtcp()
            .args(["serve", "--tun", "vtcp-never", "--mtu", mtu, "echo:7"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("68..=65535"), "{mtu}: {stderr}");
    }
}
