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
        assert_eq!(line, vtcp_cli::net::chargen_line(i), "chargen line {i}");
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
    let client = Netns::unique("vtcp-cli-").unwrap();
    let upstream = Netns::unique("vtcp-cli-").unwrap();
    upstream
        .ip(&["addr", "add", "198.19.0.1/32", "dev", "lo"])
        .unwrap();
    let l = kernel::listen(&upstream, "198.19.0.1:8080".parse().unwrap()).unwrap();
    let server = std::thread::spawn(move || {
        let (mut k, _) = l.accept().unwrap();
        k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let got = recv_all(&mut k).unwrap();
        k.write_all(b"received").unwrap();
        got
    });
    let fwd = Running::start(&[
        "forward",
        "--tun",
        "vtf0",
        "--netns",
        client.name(),
        "--route",
        "198.19.0.0/16",
        "--upstream-netns",
        upstream.name(),
    ]);
    let mut k = connect_when_up(client.name(), "198.19.0.1:8080".parse().unwrap());
    let bytes = 16 << 20;
    let sum = send_pattern(&mut k, 11, bytes).unwrap();
    k.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    k.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"received");
    assert_eq!(server.join().unwrap(), (bytes, sum), "16 MiB intact");

    // A destination nobody serves: the client is reset.
    let mut k = kernel::connect(&client, "198.19.0.1:8081".parse().unwrap()).unwrap();
    let mut buf = [0u8; 8];
    let r = k.read(&mut buf);
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
