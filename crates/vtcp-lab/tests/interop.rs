//! vtcp against the Linux kernel's TCP, through a TUN device and the lab's
//! relay, each scenario both ways (kernel client and vtcp server, vtcp
//! client and kernel server).
//!
//! These tests need root, `ip` and `/dev/net/tun`, and run only under
//! `cargo xtask interop` (which `cargo xtask ci` calls), which sets
//! `VTCP_INTEROP=1`; anywhere else each prints that it skipped.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use vtcp::{ConnConfig, StackConfig};
use vtcp_lab::kernel::{self, IO_TIMEOUT, recv_all, send_pattern};
use vtcp_lab::lab_here;
use vtcp_lab::relay::clear_link;
use vtcp_lab::topo::{Impairments, KERNEL_V4, KERNEL_V6, PEER_V4, PEER_V6, VtcpLab};
use vtcp_sim::{GilbertElliott, Link};
use vtcp_tun::netns::Netns;

fn lab(path: &Impairments) -> VtcpLab {
    lab_with(StackConfig::default(), path)
}

fn lab_with(cfg: StackConfig, path: &Impairments) -> VtcpLab {
    VtcpLab::new(cfg, path, None).expect("the lab builds")
}

fn stream_timeouts(s: &vtcp::TcpStream) {
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
}

/// A vtcp listener on `port` at vtcp's address of `family`.
fn vtcp_listener(lab: &VtcpLab, ip: IpAddr, port: u16) -> vtcp::TcpListener {
    vtcp::TcpListener::bind(lab.stack().net(), SocketAddr::new(ip, port)).unwrap()
}

fn vtcp_accept(l: &vtcp::TcpListener) -> vtcp::TcpStream {
    let (s, _) = l
        .accept_timeout(IO_TIMEOUT)
        .unwrap()
        .expect("a connection within the timeout");
    stream_timeouts(&s);
    s
}

fn vtcp_connect(lab: &VtcpLab, addr: SocketAddr) -> vtcp::TcpStream {
    let s = vtcp::TcpStream::connect_timeout(lab.stack().net(), addr, IO_TIMEOUT).unwrap();
    stream_timeouts(&s);
    s
}

/// `bytes` from the kernel to vtcp (the kernel connects) and back the
/// other way on a second connection (vtcp connects), both checked by
/// SHA-256; returns the two goodputs in Mbit/s.
fn both_ways(lab: &VtcpLab, kernel_ip: IpAddr, vtcp_ip: IpAddr, bytes: u64) -> (f64, f64) {
    let mbps = |t: Duration| bytes as f64 * 8.0 / t.as_secs_f64() / 1e6;
    // Kernel client sends, vtcp server receives.
    let l = vtcp_listener(lab, vtcp_ip, 5001);
    let started = Instant::now();
    let sender = kernel_sender(&lab.kernel, SocketAddr::new(vtcp_ip, 5001), 1, bytes);
    let mut v = vtcp_accept(&l);
    let (got, sum) = recv_all(&mut v).unwrap();
    let up = mbps(started.elapsed());
    assert_eq!(got, bytes);
    assert_eq!(
        sum,
        sender.join().unwrap(),
        "kernel to vtcp: the bytes differ"
    );

    // vtcp client sends, kernel server receives.
    let kl = kernel::listen(&lab.kernel, SocketAddr::new(kernel_ip, 5002)).unwrap();
    let receiver = kernel_receiver(kl, Duration::ZERO);
    let started = Instant::now();
    let mut v = vtcp_connect(lab, SocketAddr::new(kernel_ip, 5002));
    let sum = send_pattern(&mut v, 2, bytes).unwrap();
    v.shutdown(Shutdown::Write).unwrap();
    let (got, ksum) = receiver.join().unwrap();
    let down = mbps(started.elapsed());
    assert_eq!(got, bytes);
    assert_eq!(ksum, sum, "vtcp to kernel: the bytes differ");
    (up, down)
}

const MIB: u64 = 1 << 20;

/// A kernel connection from `ns` to `to` that sends `bytes` of the pattern
/// from `seed` and closes, on a thread that returns their SHA-256.
fn kernel_sender(
    ns: &Netns,
    to: SocketAddr,
    seed: u64,
    bytes: u64,
) -> std::thread::JoinHandle<[u8; 32]> {
    let mut k = kernel::connect(ns, to).unwrap();
    std::thread::spawn(move || {
        let sum = send_pattern(&mut k, seed, bytes).unwrap();
        k.shutdown(Shutdown::Write).unwrap();
        sum
    })
}

/// The first connection a kernel listener accepts, read to its end after
/// `pause` on a thread that returns the count and SHA-256.
fn kernel_receiver(
    l: std::net::TcpListener,
    pause: Duration,
) -> std::thread::JoinHandle<(u64, [u8; 32])> {
    std::thread::spawn(move || {
        let (mut k, _) = l.accept().unwrap();
        k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        std::thread::sleep(pause);
        recv_all(&mut k).unwrap()
    })
}

#[test]
fn sixty_four_mib_each_way_over_ipv4_and_ipv6() {
    if !lab_here("sixty_four_mib_each_way_over_ipv4_and_ipv6") {
        return;
    }
    let lab = lab(&Impairments::default());
    for (k, v) in [(KERNEL_V4, PEER_V4), (KERNEL_V6, PEER_V6)] {
        let (up, down) = both_ways(&lab, k, v, 64 * MIB);
        eprintln!("{v}: kernel->vtcp {up:.0} Mbit/s, vtcp->kernel {down:.0} Mbit/s");
    }
    let c = lab.stack().counters();
    assert_eq!(c.dropped_malformed, 0, "{c:?}");
}

/// Every transfer over an impaired path completes byte-exact, both ways.
fn impaired(name: &str, link: Link, bytes: u64) {
    if !lab_here(name) {
        return;
    }
    let lab = lab(&Impairments::symmetric(link, 7));
    let (up, down) = both_ways(&lab, KERNEL_V4, PEER_V4, bytes);
    let (lost_in, lost_out) = lab.relay_losses();
    eprintln!(
        "{name}: kernel->vtcp {up:.1} Mbit/s, vtcp->kernel {down:.1} Mbit/s; \
         relay lost {lost_in} to vtcp, {lost_out} to the kernel"
    );
}

fn lossy(loss: f64) -> Link {
    {
        let mut config = clear_link();
        config.loss = loss;
        config
    }
}

#[test]
fn one_percent_loss() {
    impaired("one_percent_loss", lossy(0.01), 4 * MIB);
}

#[test]
fn two_percent_loss() {
    impaired("two_percent_loss", lossy(0.02), 2 * MIB);
}

#[test]
fn five_percent_loss() {
    impaired("five_percent_loss", lossy(0.05), MIB);
}

#[test]
fn two_percent_reordering() {
    impaired(
        "two_percent_reordering",
        {
            let mut config = clear_link();
            config.delay = Duration::from_millis(2);
            config.reorder = 0.02;
            config
        },
        4 * MIB,
    );
}

#[test]
fn bursty_loss() {
    impaired(
        "bursty_loss",
        {
            let mut config = clear_link();
            config.bursts = Some(GilbertElliott {
                good_to_bad: 0.005,
                bad_to_good: 0.3,
                bad_loss: 0.5,
            });
            config
        },
        2 * MIB,
    );
}

#[test]
fn duplication_and_delay() {
    impaired(
        "duplication_and_delay",
        {
            let mut config = clear_link();
            config.delay = Duration::from_millis(5);
            config.jitter = Duration::from_micros(200);
            config.duplicate = 0.02;
            config
        },
        8 * MIB,
    );
}

#[test]
fn the_kernel_without_sack_timestamps_and_window_scaling() {
    if !lab_here("the_kernel_without_sack_timestamps_and_window_scaling") {
        return;
    }
    let lab = lab(&Impairments::symmetric(lossy(0.01), 3));
    for key in [
        "net.ipv4.tcp_sack",
        "net.ipv4.tcp_timestamps",
        "net.ipv4.tcp_window_scaling",
    ] {
        lab.kernel.sysctl(key, "0").unwrap();
    }
    both_ways(&lab, KERNEL_V4, PEER_V4, 2 * MIB);
}

#[test]
fn half_close_both_ways() {
    if !lab_here("half_close_both_ways") {
        return;
    }
    let lab = lab(&Impairments::default());
    // The kernel closes its sending side first; vtcp still answers.
    let l = vtcp_listener(&lab, PEER_V4, 6001);
    let mut k = kernel::connect(&lab.kernel, SocketAddr::new(PEER_V4, 6001)).unwrap();
    let mut v = vtcp_accept(&l);
    half_close(
        &mut k,
        |k| k.shutdown(Shutdown::Write),
        &mut v,
        |v| v.shutdown(Shutdown::Write),
    );

    // vtcp closes its sending side first; the kernel still answers.
    let kl = kernel::listen(&lab.kernel, SocketAddr::new(KERNEL_V4, 6002)).unwrap();
    let mut v = vtcp_connect(&lab, SocketAddr::new(KERNEL_V4, 6002));
    let (mut k, _) = kl.accept().unwrap();
    k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    half_close(
        &mut v,
        |v| v.shutdown(Shutdown::Write),
        &mut k,
        |k| k.shutdown(Shutdown::Write),
    );
}

/// `first` asks and closes its sending side; `second` reads to the end,
/// answers after the FIN and closes; `first` reads the answer to the end.
fn half_close<A: Read + Write, B: Read + Write>(
    first: &mut A,
    close_first: impl Fn(&A) -> io::Result<()>,
    second: &mut B,
    close_second: impl Fn(&B) -> io::Result<()>,
) {
    first.write_all(b"question").unwrap();
    close_first(first).unwrap();
    let mut q = Vec::new();
    second.read_to_end(&mut q).unwrap();
    assert_eq!(q, b"question");
    second.write_all(b"answer after your FIN").unwrap();
    close_second(second).unwrap();
    let mut a = Vec::new();
    first.read_to_end(&mut a).unwrap();
    assert_eq!(a, b"answer after your FIN");
}

#[test]
fn resets_both_ways() {
    if !lab_here("resets_both_ways") {
        return;
    }
    let lab = lab(&Impairments::default());
    // The kernel aborts (SO_LINGER 0): vtcp's reader sees ConnectionReset.
    let l = vtcp_listener(&lab, PEER_V4, 6101);
    let sock = kernel::socket(&lab.kernel, SocketAddr::new(PEER_V4, 6101)).unwrap();
    sock.connect_timeout(&SocketAddr::new(PEER_V4, 6101).into(), IO_TIMEOUT)
        .unwrap();
    let mut v = vtcp_accept(&l);
    sock.set_linger(Some(Duration::ZERO)).unwrap();
    drop(sock);
    let mut buf = [0u8; 16];
    let err = v.read(&mut buf).expect_err("a reset, not data or EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");

    // vtcp aborts: the kernel's reader sees ECONNRESET.
    let kl = kernel::listen(&lab.kernel, SocketAddr::new(KERNEL_V4, 6102)).unwrap();
    let v = vtcp_connect(&lab, SocketAddr::new(KERNEL_V4, 6102));
    let (mut k, _) = kl.accept().unwrap();
    k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    v.abort();
    let err = k.read(&mut buf).expect_err("a reset, not data or EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
}

#[test]
fn refused_both_ways() {
    if !lab_here("refused_both_ways") {
        return;
    }
    let lab = lab(&Impairments::default());
    for (k, v) in [(KERNEL_V4, PEER_V4), (KERNEL_V6, PEER_V6)] {
        let err = kernel::connect(&lab.kernel, SocketAddr::new(v, 6201)).expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        let err = vtcp::TcpStream::connect_timeout(
            lab.stack().net(),
            SocketAddr::new(k, 6202),
            IO_TIMEOUT,
        )
        .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    }
}

#[test]
fn a_reader_that_pauses_three_seconds_gets_everything_after_the_zero_window() {
    if !lab_here("a_reader_that_pauses_three_seconds_gets_everything_after_the_zero_window") {
        return;
    }
    let lab = lab(&Impairments::default());
    let bytes = 8 * MIB;
    // vtcp sends to a kernel reader that stops for 3 s: the kernel's
    // window closes, vtcp probes, and resumes when the window opens.
    let kl = kernel::listen(&lab.kernel, SocketAddr::new(KERNEL_V4, 6301)).unwrap();
    let receiver = kernel_receiver(kl, Duration::from_secs(3));
    let mut v = vtcp_connect(&lab, SocketAddr::new(KERNEL_V4, 6301));
    let sum = send_pattern(&mut v, 9, bytes).unwrap();
    v.shutdown(Shutdown::Write).unwrap();
    assert_eq!(receiver.join().unwrap(), (bytes, sum));

    // The kernel sends to a vtcp reader that stops for 3 s.
    let l = vtcp_listener(&lab, PEER_V4, 6302);
    let sender = kernel_sender(&lab.kernel, SocketAddr::new(PEER_V4, 6302), 10, bytes);
    let mut v = vtcp_accept(&l);
    std::thread::sleep(Duration::from_secs(3));
    let (got, sum) = recv_all(&mut v).unwrap();
    assert_eq!((got, sum), (bytes, sender.join().unwrap()));
}

#[test]
fn a_thousand_concurrent_connections() {
    if !lab_here("a_thousand_concurrent_connections") {
        return;
    }
    const N: usize = 1000;
    let lab = lab_with(
        {
            let mut config = StackConfig::default();
            config.conn = {
                let mut config = ConnConfig::default();
                config.send_buffer = 16 * 1024;
                config.recv_buffer = 16 * 1024;
                config
            };
            config
        },
        &Impairments::default(),
    );
    // The kernel opens N connections to a vtcp echo listener and holds
    // them all open before any is used.
    let l = vtcp_listener(&lab, PEER_V4, 6401);
    lab.kernel
        .sysctl("net.ipv4.ip_local_port_range", "20000\t60000")
        .ok();
    let server = std::thread::spawn(move || {
        let mut streams = Vec::with_capacity(N);
        for _ in 0..N {
            streams.push(vtcp_accept(&l));
        }
        for mut s in streams {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b).unwrap();
        }
    });
    let mut clients: Vec<_> = (0..N)
        .map(|_| kernel::connect(&lab.kernel, SocketAddr::new(PEER_V4, 6401)).unwrap())
        .collect();
    assert!(lab.stack().net().connections() >= N);
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(&(i as u64).to_le_bytes()).unwrap();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        c.read_exact(&mut b).unwrap();
        assert_eq!(u64::from_le_bytes(b), i as u64);
    }
    server.join().unwrap();

    // The other way: N vtcp clients at a kernel echo server, all open at
    // once before any is used.
    let kl = kernel::listen(&lab.kernel, SocketAddr::new(KERNEL_V4, 6402)).unwrap();
    let kserver = std::thread::spawn(move || {
        let mut streams = Vec::with_capacity(N);
        for _ in 0..N {
            let (s, _) = kl.accept().unwrap();
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            streams.push(s);
        }
        for mut s in streams {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b).unwrap();
        }
    });
    let mut clients: Vec<_> = (0..N)
        .map(|_| vtcp_connect(&lab, SocketAddr::new(KERNEL_V4, 6402)))
        .collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(&(i as u64).to_le_bytes()).unwrap();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        c.read_exact(&mut b).unwrap();
        assert_eq!(u64::from_le_bytes(b), i as u64);
    }
    kserver.join().unwrap();
}

/// The lab itself: a namespace is gone once its guard is dropped.
#[test]
fn the_lab_deletes_its_namespaces() {
    if !lab_here("the_lab_deletes_its_namespaces") {
        return;
    }
    let name = {
        let lab = lab(&Impairments::default());
        let name = lab.kernel.name().to_owned();
        assert!(std::path::Path::new(&format!("/var/run/netns/{name}")).exists());
        name
    };
    assert!(!std::path::Path::new(&format!("/var/run/netns/{name}")).exists());
}

/// `vtcp_tun::open_device`, the one device set-up of the CLI and the lab:
/// both queues of a device in a namespace, the kernel's addresses (IPv6
/// without duplicate address detection), a route, the queue length, the
/// link up; a route `ip` refuses is an error carrying `ip`'s message.
#[test]
fn a_device_is_set_up_with_its_addresses_route_and_queue_length() {
    if !lab_here("a_device_is_set_up_with_its_addresses_route_and_queue_length") {
        return;
    }
    let ns = Netns::unique(vtcp_lab::NETNS_PREFIX).unwrap();
    let kernel = vtcp_tun::KernelSide::new()
        .addr(KERNEL_V4, 24)
        .addr(KERNEL_V6, 64)
        .route("198.19.7.0/24")
        .txqueuelen(1234);
    let cfg = vtcp_tun::TunConfig::named("vtcpset0");
    let tuns = vtcp_tun::open_device(Some(&ns), &cfg, 2, &kernel).unwrap();
    assert_eq!(tuns.len(), 2);
    let show = |args: &[&str]| {
        let out = std::process::Command::new("ip")
            .args(["-n", ns.name()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let addrs = show(&["-o", "addr", "show", "dev", "vtcpset0"]);
    assert!(addrs.contains(&format!("{KERNEL_V4}/24")), "{addrs}");
    assert!(addrs.contains(&format!("{KERNEL_V6}/64")), "{addrs}");
    assert!(!addrs.contains("tentative"), "{addrs}");
    let link = show(&["link", "show", "dev", "vtcpset0"]);
    assert!(link.contains("qlen 1234") && link.contains(",UP"), "{link}");
    let routes = show(&["route", "show", "dev", "vtcpset0"]);
    assert!(routes.contains("198.19.7.0/24"), "{routes}");
    drop(tuns);
    let bad = vtcp_tun::KernelSide::new().route("not-a-route");
    let cfg = vtcp_tun::TunConfig::named("vtcpset1");
    match vtcp_tun::open_device(Some(&ns), &cfg, 1, &bad) {
        Err(e @ vtcp_tun::SetupError::Configure { .. }) => {
            assert!(e.to_string().contains("not-a-route"), "{e}");
        }
        other => panic!("{:?}", other.map(|t| t.len())),
    }
}

/// The plain driver, no relay: a `TunDriver` on the device answers the
/// kernel's pings and serves a connection; its counters say so.
#[test]
fn the_tun_driver_answers_pings_and_serves() {
    if !lab_here("the_tun_driver_answers_pings_and_serves") {
        return;
    }
    use socket2::{Domain, Protocol, Socket, Type};
    use std::sync::Arc;
    let (ns, tun) = vtcp_lab::topo::kernel_end(KERNEL_V4, KERNEL_V6).unwrap();
    let tun = Arc::into_inner(tun).expect("the only handle");
    let driver =
        vtcp_tun::TunDriver::start(tun, StackConfig::default(), &[PEER_V4, PEER_V6]).unwrap();
    // An ICMP echo request from a raw socket of the kernel's.
    let raw = ns
        .enter(|| Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)))
        .unwrap()
        .unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = vec![8u8, 0, 0, 0, 0x12, 0x34, 0, 1];
    req.extend_from_slice(b"vtcp ping");
    let sum = vtcp::wire::checksum::internet_checksum(&req);
    req[2..4].copy_from_slice(&sum.to_be_bytes());
    raw.send_to(&req, &SocketAddr::new(PEER_V4, 0).into())
        .unwrap();
    let mut reply = [0u8; 1500];
    let n = (&raw).read(&mut reply).unwrap();
    let reply = &reply[..n];
    // A raw IPv4 socket hands over the IP header too.
    let icmp = &reply[usize::from(reply[0] & 0xf) * 4..];
    assert_eq!(icmp[0], 0, "an echo reply");
    assert_eq!(&icmp[4..8], &req[4..8], "same id and sequence");
    assert_eq!(&icmp[8..], b"vtcp ping");

    let l = vtcp::TcpListener::bind(driver.net(), SocketAddr::new(PEER_V6, 7)).unwrap();
    let mut k = kernel::connect(&ns, SocketAddr::new(PEER_V6, 7)).unwrap();
    let (mut v, _) = l.accept_timeout(IO_TIMEOUT).unwrap().unwrap();
    k.write_all(b"over the plain driver").unwrap();
    let mut got = [0u8; 21];
    v.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"over the plain driver");
    // The driver counts a packet out once the device's write returns, and
    // the kernel may answer inside that write: on a busy machine the
    // writer thread can still be on its way back from the SYN-ACK's write
    // when the data arrives. Wait (bounded) for the count.
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut c = driver.counters();
    while c.packets_out < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        c = driver.counters();
    }
    assert_eq!(c.echo_replies, 1, "{c:?}");
    assert!(c.segments_in >= 3 && c.packets_out >= 2, "{c:?}");
}

#[test]
fn syn_cookies_both_ways() {
    if !lab_here("syn_cookies_both_ways") {
        return;
    }
    // A burst of kernel connects at a vtcp listener with a backlog of 1,
    // over a 10 ms round trip: most handshakes go through cookies, and
    // every connection carries its data.
    let slow = lab(&Impairments::symmetric(
        {
            let mut config = clear_link();
            config.delay = Duration::from_millis(5);
            config
        },
        5,
    ));
    const N: usize = 40;
    let l =
        vtcp::TcpListener::bind_with_backlog(slow.stack().net(), SocketAddr::new(PEER_V4, 6501), 1)
            .unwrap();
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let mut k = kernel::connect(&slow.kernel, SocketAddr::new(PEER_V4, 6501)).unwrap();
            std::thread::spawn(move || {
                k.write_all(&(i as u32).to_le_bytes()).unwrap();
                let mut back = [0u8; 4];
                k.read_exact(&mut back).unwrap();
                assert_eq!(u32::from_le_bytes(back), i as u32);
            })
        })
        .collect();
    for _ in 0..N {
        let mut s = vtcp_accept(&l);
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        s.write_all(&b).unwrap();
    }
    for c in clients {
        c.join().unwrap();
    }
    let c = slow.stack().net().counters();
    assert!(c.cookies_sent > 0 && c.cookies_validated > 0, "{c:?}");

    // The kernel answers every SYN with a cookie (tcp_syncookies=2); a
    // vtcp client connects and moves data both ways.
    drop(slow);
    let lab2 = lab(&Impairments::default());
    lab2.kernel.sysctl("net.ipv4.tcp_syncookies", "2").unwrap();
    let sent_before = kernel_counter(&lab2, "TcpExtSyncookiesSent");
    both_ways(&lab2, KERNEL_V4, PEER_V4, 4 * MIB);
    assert!(kernel_counter(&lab2, "TcpExtSyncookiesSent") > sent_before);
    assert!(kernel_counter(&lab2, "TcpExtSyncookiesRecv") > 0);
}

fn kernel_counter(lab: &VtcpLab, name: &str) -> u64 {
    lab.kernel
        .tcp_counters()
        .unwrap()
        .into_iter()
        .find_map(|(n, v)| (n == name).then_some(v))
        .unwrap_or_else(|| panic!("the kernel has no counter {name}"))
}

#[test]
fn keepalive_closes_a_connection_whose_kernel_peer_vanished() {
    if !lab_here("keepalive_closes_a_connection_whose_kernel_peer_vanished") {
        return;
    }
    let lab = lab_with(
        {
            let mut config = StackConfig::default();
            config.conn = {
                let mut config = ConnConfig::default();
                config.keepalive = Some(vtcp::Keepalive {
                    idle: Duration::from_millis(500),
                    interval: Duration::from_millis(200),
                    count: 3,
                });
                config
            };
            config
        },
        &Impairments::default(),
    );
    let kl = kernel::listen(&lab.kernel, SocketAddr::new(KERNEL_V4, 6601)).unwrap();
    let v = vtcp_connect(&lab, SocketAddr::new(KERNEL_V4, 6601));
    let (_k, _) = kl.accept().unwrap();
    // Probes answered: the connection lives through several idle periods.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(v.state(), vtcp::State::Established);
    // The kernel's side goes away without a word.
    lab.kernel.ip(&["link", "set", "vtcp0", "down"]).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 8];
    let err = (&v).read(&mut buf).expect_err("the connection times out");
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    // Idle 0.5 s, then three probes 0.2 s apart.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn ipv6_with_loss_both_ways() {
    if !lab_here("ipv6_with_loss_both_ways") {
        return;
    }
    let lab = lab(&Impairments::symmetric(lossy(0.01), 13));
    let (up, down) = both_ways(&lab, KERNEL_V6, PEER_V6, 2 * MIB);
    eprintln!("ipv6 at 1% loss: kernel->vtcp {up:.1} Mbit/s, vtcp->kernel {down:.1} Mbit/s");
}

/// With IFF_VNET_HDR the kernel hands over 64 KiB super-segments whose
/// checksum is left to us: they arrive intact, and so does what vtcp
/// sends behind its virtio-net headers.
#[test]
fn offloads_move_super_segments_intact_both_ways() {
    if !lab_here("offloads_move_super_segments_intact_both_ways") {
        return;
    }
    let ns = Netns::unique(vtcp_lab::NETNS_PREFIX).unwrap();
    let mut cfg = vtcp_tun::TunConfig::named("vtcp0");
    cfg.offload = true;
    let tun = ns.enter(|| vtcp_tun::Tun::open(&cfg)).unwrap().unwrap();
    assert!(tun.offload(), "the kernel granted IFF_VNET_HDR");
    let kernel = vtcp_tun::KernelSide::new()
        .addr(KERNEL_V4, 24)
        .addr(KERNEL_V6, 64);
    vtcp_tun::configure_device(Some(&ns), "vtcp0", &kernel).unwrap();
    let driver =
        vtcp_tun::TunDriver::start(tun, StackConfig::default(), &[PEER_V4, PEER_V6]).unwrap();
    for (k_ip, v_ip) in [(KERNEL_V4, PEER_V4), (KERNEL_V6, PEER_V6)] {
        let l = vtcp::TcpListener::bind(driver.net(), SocketAddr::new(v_ip, 7301)).unwrap();
        let sender = kernel_sender(&ns, SocketAddr::new(v_ip, 7301), 21, 64 * MIB);
        let (mut v, _) = l.accept_timeout(IO_TIMEOUT).unwrap().unwrap();
        stream_timeouts(&v);
        let got = recv_all(&mut v).unwrap();
        assert_eq!(got, (64 * MIB, sender.join().unwrap()), "kernel to vtcp");

        let kl = kernel::listen(&ns, SocketAddr::new(k_ip, 7302)).unwrap();
        let receiver = kernel_receiver(kl, Duration::ZERO);
        let mut v =
            vtcp::TcpStream::connect_timeout(driver.net(), SocketAddr::new(k_ip, 7302), IO_TIMEOUT)
                .unwrap();
        let sum = send_pattern(&mut v, 22, 16 * MIB).unwrap();
        v.shutdown(Shutdown::Write).unwrap();
        assert_eq!(receiver.join().unwrap(), (16 * MIB, sum), "vtcp to kernel");
    }
    let s = driver.net().counters();
    assert_eq!(s.bad_checksums, 0, "{s:?}");
    // Super-segments: far fewer segments than 64 KiB of MSS-sized ones.
    let c = driver.counters();
    assert!(
        c.segments_in < 2 * 64 * MIB / 1448,
        "the kernel sent super-segments: {c:?}"
    );
    // And vtcp: 32 MiB went mostly in super-segments the kernel cut (TSO),
    // so far fewer packets left than 32 MiB of MSS-sized segments.
    assert!(c.super_segments_out > 0, "vtcp sent super-segments: {c:?}");
    assert!(
        c.packets_out < 32 * MIB / 1448 / 2,
        "vtcp's packets carried several segments each: {c:?}"
    );
}

/// A kernel-to-vtcp bulk transfer over a TUN device with no relay:
/// what arrives is what was sent (SHA-256), with no checksum failure and
/// no virtio-net header refused, and the stack is handed the segments
/// read less those coalesced. On a plain device the reader coalesces the
/// kernel's in-order segments (`gro_merged` > 0) and verifies every
/// checksum itself; with offloads the kernel's checksums are trusted.
///
/// With offloads nothing is asserted of `gro_merged`: the kernel hands
/// over super-segments of up to 64 KiB, two of which never fit one
/// merged packet of 65,535 octets, and in this transfer marks PSH on
/// every one of them (seen with 16 KiB ones too, and with MSG_MORE
/// writes), which closes a GRO item as in Linux's `tcp_gro_receive`.
fn kernel_to_vtcp_is_coalesced(name: &str, offload: bool) {
    if !lab_here(name) {
        return;
    }
    let (drivers, ns) = vtcp_lab::bench::tun_stacks(offload, 1).expect("the device");
    let driver = &drivers[0];
    let l = vtcp::TcpListener::bind(driver.net(), SocketAddr::new(PEER_V4, 7501)).unwrap();
    let sender = kernel_sender(&ns, SocketAddr::new(PEER_V4, 7501), 41, 256 * MIB);
    let mut v = vtcp_accept(&l);
    let got = recv_all(&mut v).unwrap();
    assert_eq!(got, (256 * MIB, sender.join().unwrap()), "kernel to vtcp");
    let c = driver.counters();
    let s = driver.net().counters();
    eprintln!("{name}: {c:?}");
    assert_eq!(c.dropped_vnet_header, 0, "{c:?}");
    assert_eq!(s.bad_checksums, 0, "{s:?}");
    assert_eq!(s.segments_in, c.segments_in - c.gro_merged, "{s:?} {c:?}");
    if offload {
        assert_eq!(c.checksums_trusted, c.segments_in, "{c:?}");
    } else {
        assert!(c.gro_merged > 0, "segments were coalesced: {c:?}");
        assert_eq!(c.checksums_trusted, 0, "{c:?}");
    }
}

#[test]
fn kernel_to_vtcp_is_coalesced_on_a_plain_tun() {
    kernel_to_vtcp_is_coalesced("kernel_to_vtcp_is_coalesced_on_a_plain_tun", false);
}

#[test]
fn kernel_to_vtcp_is_coalesced_with_offloads() {
    kernel_to_vtcp_is_coalesced("kernel_to_vtcp_is_coalesced_with_offloads", true);
}

/// 8 GiB from the kernel to vtcp and 8 GiB from vtcp to the kernel at
/// the same time, each on one connection (past the 2 GiB and 4 GiB edges
/// of the stream's sequence space), over a TUN device with no relay,
/// checked by SHA-256 at both ends. Prints each direction's goodput.
fn eight_gib_each_way(name: &str, offload: bool) {
    if !lab_here(name) {
        return;
    }
    const BYTES: u64 = 8 << 30;
    let (drivers, ns) = vtcp_lab::bench::tun_stacks(offload, 1).expect("the device");
    let net = drivers[0].net().clone();
    let started = Instant::now();
    let l = vtcp::TcpListener::bind(&net, SocketAddr::new(PEER_V4, 7401)).unwrap();
    let sender = kernel_sender(&ns, SocketAddr::new(PEER_V4, 7401), 31, BYTES);
    let up = std::thread::spawn(move || {
        let mut v = vtcp_accept(&l);
        let got = recv_all(&mut v).unwrap();
        (got, started.elapsed())
    });
    let kl = kernel::listen(&ns, SocketAddr::new(KERNEL_V4, 7402)).unwrap();
    let receiver = kernel_receiver(kl, Duration::ZERO);
    let down = std::thread::spawn(move || {
        let mut v =
            vtcp::TcpStream::connect_timeout(&net, SocketAddr::new(KERNEL_V4, 7402), IO_TIMEOUT)
                .unwrap();
        stream_timeouts(&v);
        let sum = send_pattern(&mut v, 32, BYTES).unwrap();
        v.shutdown(Shutdown::Write).unwrap();
        sum
    });
    let sum_down = down.join().unwrap();
    let got_down = receiver.join().unwrap();
    let down_time = started.elapsed();
    let (got_up, up_time) = up.join().unwrap();
    assert_eq!(got_up, (BYTES, sender.join().unwrap()), "kernel to vtcp");
    assert_eq!(got_down, (BYTES, sum_down), "vtcp to kernel");
    let s = drivers[0].net().counters();
    assert_eq!(s.bad_checksums, 0, "{s:?}");
    let mbps = |t: Duration| BYTES as f64 * 8.0 / t.as_secs_f64() / 1e6;
    eprintln!(
        "{name}: 8 GiB each way at once: kernel->vtcp {:.0} Mbit/s ({:.1} s), \
         vtcp->kernel {:.0} Mbit/s ({:.1} s)",
        mbps(up_time),
        up_time.as_secs_f64(),
        mbps(down_time),
        down_time.as_secs_f64(),
    );
}

#[test]
fn eight_gib_each_way_on_a_plain_tun() {
    eight_gib_each_way("eight_gib_each_way_on_a_plain_tun", false);
}

#[test]
fn eight_gib_each_way_with_offloads() {
    eight_gib_each_way("eight_gib_each_way_with_offloads", true);
}

/// A device deleted under a transfer (`ip link del`): the reader of that
/// device's stack hears it at once (`ConnectionAborted`, not TCP's timers
/// minutes later), `TunDriver::failure` says why, and a second stack on
/// its own device in the same process is untouched: its 256 MiB transfer,
/// under way at the same time, arrives intact, and a new connection to it
/// works afterwards.
#[test]
fn a_device_deleted_mid_transfer_fails_its_connections_and_spares_the_others() {
    if !lab_here("a_device_deleted_mid_transfer_fails_its_connections_and_spares_the_others") {
        return;
    }
    let (doomed, doomed_ns) = vtcp_lab::bench::tun_stacks(false, 1).expect("a device");
    let (kept, kept_ns) = vtcp_lab::bench::tun_stacks(false, 1).expect("another device");
    let to = |port| SocketAddr::new(PEER_V4, port);

    // The doomed stack receives a stream that never ends by itself.
    let l1 = vtcp::TcpListener::bind(doomed[0].net(), to(7601)).unwrap();
    let mut k1 = kernel::connect(&doomed_ns, to(7601)).unwrap();
    k1.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let k1_sender = std::thread::spawn(move || {
        // Ends in an error once the device is gone (the write timeout).
        let _ = send_pattern(&mut k1, 41, 1 << 40);
    });
    let mut v1 = vtcp_accept(&l1);

    // The kept stack receives 256 MiB meanwhile.
    let l2 = vtcp::TcpListener::bind(kept[0].net(), to(7602)).unwrap();
    let k2_sender = kernel_sender(&kept_ns, to(7602), 42, 256 * MIB);
    let kept_receiver = std::thread::spawn(move || {
        let mut v2 = vtcp_accept(&l2);
        recv_all(&mut v2).unwrap()
    });

    // 16 MiB in, the doomed device goes.
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < 16 * MIB {
        got += v1.read(&mut buf).unwrap() as u64;
    }
    doomed_ns.ip(&["link", "del", "vtcp0"]).unwrap();
    let deleted = Instant::now();
    let err = loop {
        match v1.read(&mut buf) {
            Ok(0) => panic!("an orderly end on a deleted device"),
            Ok(_) => assert!(deleted.elapsed() < Duration::from_secs(10), "still reading"),
            Err(e) => break e,
        }
    };
    let heard = deleted.elapsed();
    assert_eq!(err.kind(), ErrorKind::ConnectionAborted, "{err}");
    assert!(heard < Duration::from_secs(5), "heard after {heard:?}");
    let failure = doomed[0]
        .failure()
        .expect("the driver says the device failed");
    eprintln!("device deleted: read failed after {heard:?} ({err}); driver: {failure}");
    k1_sender.join().unwrap();

    // The other stack went on: intact, and it still takes connections.
    assert_eq!(
        kept_receiver.join().unwrap(),
        (256 * MIB, k2_sender.join().unwrap()),
        "the kept stack's transfer"
    );
    assert!(kept[0].failure().is_none());
    let l3 = vtcp::TcpListener::bind(kept[0].net(), to(7603)).unwrap();
    let k3_sender = kernel_sender(&kept_ns, to(7603), 43, MIB);
    let mut v3 = vtcp_accept(&l3);
    assert_eq!(recv_all(&mut v3).unwrap(), (MIB, k3_sender.join().unwrap()));
}

/// A kernel peer that stops reading for 20 s (`VTCP_LAB_PAUSE` seconds
/// when set: minutes, by hand) while vtcp sends to it: that connection
/// waits at a zero window (probing) without error, and the same stack
/// meanwhile serves another connection's 64 MiB both ways; then the
/// reader resumes and everything arrives intact.
#[test]
fn a_peer_that_stops_reading_stalls_only_its_own_connection() {
    if !lab_here("a_peer_that_stops_reading_stalls_only_its_own_connection") {
        return;
    }
    let pause = Duration::from_secs(
        std::env::var("VTCP_LAB_PAUSE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    );
    let (drivers, ns) = vtcp_lab::bench::tun_stacks(false, 1).expect("a device");
    let net = drivers[0].net().clone();
    // The kernel reads nothing for the pause, then everything; the vtcp
    // writer's timeouts outlast it.
    let kl = kernel::listen(&ns, SocketAddr::new(KERNEL_V4, 7611)).unwrap();
    let paused = kernel_receiver(kl, pause);
    let mut stalled =
        vtcp::TcpStream::connect_timeout(&net, SocketAddr::new(KERNEL_V4, 7611), IO_TIMEOUT)
            .unwrap();
    stream_timeouts(&stalled);
    stalled.set_write_timeout(Some(pause + IO_TIMEOUT)).unwrap();
    let stalled_writer = std::thread::spawn(move || {
        let sum = send_pattern(&mut stalled, 51, 64 * MIB).unwrap();
        stalled.shutdown(Shutdown::Write).unwrap();
        sum
    });
    // Meanwhile another connection moves 64 MiB each way, checked.
    let started = Instant::now();
    let l = vtcp::TcpListener::bind(&net, SocketAddr::new(PEER_V4, 7612)).unwrap();
    let sender = kernel_sender(&ns, SocketAddr::new(PEER_V4, 7612), 52, 64 * MIB);
    let mut v = vtcp_accept(&l);
    assert_eq!(
        recv_all(&mut v).unwrap(),
        (64 * MIB, sender.join().unwrap())
    );
    let kl2 = kernel::listen(&ns, SocketAddr::new(KERNEL_V4, 7613)).unwrap();
    let receiver = kernel_receiver(kl2, Duration::ZERO);
    let mut v2 =
        vtcp::TcpStream::connect_timeout(&net, SocketAddr::new(KERNEL_V4, 7613), IO_TIMEOUT)
            .unwrap();
    stream_timeouts(&v2);
    let sum = send_pattern(&mut v2, 53, 64 * MIB).unwrap();
    v2.shutdown(Shutdown::Write).unwrap();
    assert_eq!(receiver.join().unwrap(), (64 * MIB, sum));
    let other = started.elapsed();
    assert!(
        other < pause,
        "the other connection finished while the reader paused ({other:?})"
    );
    // The paused reader resumes: all of it, intact.
    let sum = stalled_writer.join().unwrap();
    assert_eq!(paused.join().unwrap(), (64 * MIB, sum));
}

/// A kernel connection's first accept on a [`vtcp_tun::ShardListener`].
fn shard_accept(l: &vtcp_tun::ShardListener) -> vtcp::TcpStream {
    let (s, _) = l
        .accept_timeout(IO_TIMEOUT)
        .unwrap()
        .expect("a connection within the timeout");
    stream_timeouts(&s);
    s
}

fn shard_connect(shards: &vtcp_tun::Shards, to: SocketAddr) -> vtcp::TcpStream {
    let s = shards.connect_timeout(to, IO_TIMEOUT).unwrap();
    stream_timeouts(&s);
    s
}

/// Two queues, a stack on each (`vtcp_tun::Shards`): 64 MiB from the
/// kernel to a listener on both shards and 64 MiB from vtcp to the
/// kernel, over IPv4 and IPv6, intact by SHA-256, and nothing reset; on
/// a plain device and with offloads (IFF_VNET_HDR: the kernel's
/// super-segments in, vtcp's TSO out, on each queue).
#[test]
fn two_queues_move_sixty_four_mib_each_way_over_ipv4_and_ipv6_with_and_without_offloads() {
    if !lab_here(
        "two_queues_move_sixty_four_mib_each_way_over_ipv4_and_ipv6_with_and_without_offloads",
    ) {
        return;
    }
    for offload in [false, true] {
        two_queues_both_ways(offload);
    }
}

fn two_queues_both_ways(offload: bool) {
    let (shards, ns) = vtcp_lab::bench::tun_shards(offload, 2).expect("a two-queue device");
    assert_eq!(shards.len(), 2);
    for (k_ip, v_ip) in [(KERNEL_V4, PEER_V4), (KERNEL_V6, PEER_V6)] {
        let l = vtcp_tun::ShardListener::bind(&shards, SocketAddr::new(v_ip, 7701)).unwrap();
        let sender = kernel_sender(&ns, SocketAddr::new(v_ip, 7701), 61, 64 * MIB);
        let mut v = shard_accept(&l);
        let got = recv_all(&mut v).unwrap();
        assert_eq!(got, (64 * MIB, sender.join().unwrap()), "kernel to vtcp");

        let kl = kernel::listen(&ns, SocketAddr::new(k_ip, 7702)).unwrap();
        let receiver = kernel_receiver(kl, Duration::ZERO);
        let mut v = shard_connect(&shards, SocketAddr::new(k_ip, 7702));
        let sum = send_pattern(&mut v, 62, 64 * MIB).unwrap();
        v.shutdown(Shutdown::Write).unwrap();
        assert_eq!(receiver.join().unwrap(), (64 * MIB, sum), "vtcp to kernel");
    }
    let c = vtcp_tun::ShardCounters::sum(&shards.counters());
    eprintln!(
        "two queues, offloads {offload}: {} strays handed off, {} segments merged, {} super-segments out",
        c.handed_off, c.driver.gro_merged, c.driver.super_segments_out
    );
    assert_eq!(c.stack.bad_checksums, 0, "{c:?}");
    assert_eq!(c.stack.rsts_out, 0, "{c:?}");
    assert_eq!(c.strays_dropped, 0, "{c:?}");
}

/// Sixteen connections each way at once over two queues: the kernel's
/// are spread by its flow hash, vtcp's by `Shards::connect` (least
/// loaded); both shards carry some, every byte arrives (SHA-256), and the
/// per-shard counters add up to the whole.
#[test]
fn two_queues_spread_sixteen_connections_each_way_over_both_shards() {
    if !lab_here("two_queues_spread_sixteen_connections_each_way_over_both_shards") {
        return;
    }
    const N: usize = 16;
    let (shards, ns) = vtcp_lab::bench::tun_shards(false, 2).expect("a two-queue device");
    let l = vtcp_tun::ShardListener::bind(&shards, SocketAddr::new(PEER_V4, 7711)).unwrap();
    let kl = kernel::listen(&ns, SocketAddr::new(KERNEL_V4, 7712)).unwrap();
    let mut checks = Vec::new();
    for i in 0..N as u64 {
        // Kernel to vtcp.
        let sender = kernel_sender(&ns, SocketAddr::new(PEER_V4, 7711), 100 + i, 4 * MIB);
        let mut v = shard_accept(&l);
        checks.push(std::thread::spawn(move || {
            let got = recv_all(&mut v).unwrap();
            assert_eq!(got, (4 * MIB, sender.join().unwrap()), "kernel to vtcp");
        }));
        // vtcp to the kernel.
        let mut v = shard_connect(&shards, SocketAddr::new(KERNEL_V4, 7712));
        let (k, _) = kl.accept().unwrap();
        k.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        checks.push(std::thread::spawn(move || {
            let mut k = k;
            let reader = std::thread::spawn(move || recv_all(&mut k).unwrap());
            let sum = send_pattern(&mut v, 200 + i, 4 * MIB).unwrap();
            v.shutdown(Shutdown::Write).unwrap();
            assert_eq!(reader.join().unwrap(), (4 * MIB, sum), "vtcp to kernel");
        }));
    }
    for c in checks {
        c.join().unwrap();
    }
    let per = shards.counters();
    for (i, s) in per.iter().enumerate() {
        eprintln!(
            "shard {i}: {} connections opened, {} segments in, {} out, {} strays ({} handed off)",
            s.stack.connections_opened,
            s.stack.segments_in,
            s.stack.segments_out,
            s.strays,
            s.handed_off
        );
        // vtcp's own sixteen alternate between the shards at least.
        assert!(
            s.stack.connections_opened >= N as u64 / 2,
            "shard {i}: {s:?}"
        );
        assert!(s.driver.packets_in > 0 && s.driver.packets_out > 0, "{s:?}");
    }
    let total = vtcp_tun::ShardCounters::sum(&per);
    assert_eq!(total.stack.connections_opened, 2 * N as u64, "{total:?}");
    assert_eq!(
        total.driver.packets_in,
        per[0].driver.packets_in + per[1].driver.packets_in
    );
    // No RST count is asserted here: on a loaded machine a FIN may be
    // sent again before its ACK arrives, and the duplicate ACK that
    // answers it finds the connection gone and gets a RST, as from a
    // lone stack (or from Linux).
    assert_eq!(total.strays_dropped, 0, "{total:?}");
}

/// The kernel forgets which queue a flow belongs to 3 s after the last
/// packet written for it (TUN_FLOW_EXPIRE) and hashes it again: sixteen
/// connections opened by vtcp (eight from each shard) and four opened by
/// the kernel fall silent for 6 s, then the kernel speaks first on each
/// and vtcp answers. Where the hash names the other shard (about half of
/// vtcp's, by the kernel's secret), the segment is handed to its owner:
/// every exchange completes, nothing is reset.
#[test]
fn two_queues_flows_idle_past_the_kernels_flow_expiry_go_on_both_ways() {
    if !lab_here("two_queues_flows_idle_past_the_kernels_flow_expiry_go_on_both_ways") {
        return;
    }
    let (shards, ns) = vtcp_lab::bench::tun_shards(false, 2).expect("a two-queue device");
    let kl = kernel::listen(&ns, SocketAddr::new(KERNEL_V4, 7721)).unwrap();
    let l = vtcp_tun::ShardListener::bind(&shards, SocketAddr::new(PEER_V4, 7722)).unwrap();
    let mut pairs: Vec<(vtcp::TcpStream, std::net::TcpStream)> = Vec::new();
    for _ in 0..16 {
        let v = shard_connect(&shards, SocketAddr::new(KERNEL_V4, 7721));
        let k = kernel::accept(&kl).unwrap();
        pairs.push((v, k));
    }
    for _ in 0..4 {
        let k = kernel::connect(&ns, SocketAddr::new(PEER_V4, 7722)).unwrap();
        pairs.push((shard_accept(&l), k));
    }
    let exchange = |pairs: &mut Vec<(vtcp::TcpStream, std::net::TcpStream)>, round: u8| {
        for (i, (v, k)) in pairs.iter_mut().enumerate() {
            let ping = [round, i as u8, b'k'];
            k.write_all(&ping).unwrap();
            let mut got = [0u8; 3];
            v.read_exact(&mut got).unwrap();
            assert_eq!(got, ping, "flow {i}, round {round}: kernel to vtcp");
            let pong = [round, i as u8, b'v'];
            v.write_all(&pong).unwrap();
            k.read_exact(&mut got).unwrap();
            assert_eq!(got, pong, "flow {i}, round {round}: vtcp to kernel");
        }
    };
    exchange(&mut pairs, 0);
    let before = vtcp_tun::ShardCounters::sum(&shards.counters());
    std::thread::sleep(Duration::from_secs(6));
    exchange(&mut pairs, 1);
    // Once more, now that the replies have taught the kernel again.
    exchange(&mut pairs, 2);
    let after = shards.counters();
    let total = vtcp_tun::ShardCounters::sum(&after);
    for (i, s) in after.iter().enumerate() {
        eprintln!(
            "shard {i}: {} connections, {} strays, {} handed off",
            s.connections, s.strays, s.handed_off
        );
    }
    assert!(
        total.handed_off > before.handed_off,
        "some flow came back on the other queue: {total:?}"
    );
    assert_eq!(total.stack.rsts_out, 0, "{total:?}");
    assert_eq!(total.stack.rsts_in, 0, "{total:?}");
    assert_eq!(total.strays_dropped, 0, "{total:?}");
}

/// RFC 3168 against Linux with `net.ipv4.tcp_ecn=1` (it asks, and
/// answers): vtcp with `EcnMode::On` sets ECN up both ways, as the
/// capture shows (the SYNs with ECE and CWR, the SYN-ACKs with ECE
/// alone), and its new data goes ECT(0), its pure ACKs Not-ECT. No router
/// marks CE here: the echo is the engine's traces'.
#[test]
fn ecn_is_set_up_with_linux_both_ways() {
    if !lab_here("ecn_is_set_up_with_linux_both_ways") {
        return;
    }
    let pcap = std::env::temp_dir().join(format!("vtcp-lab-ecn-{}.pcap", std::process::id()));
    let tap = vtcp_lab::relay::Tap::tcp_only(&pcap).unwrap();
    let mut cfg = StackConfig::default();
    cfg.conn.ecn = vtcp::EcnMode::On;
    let lab = VtcpLab::new(
        cfg,
        &Impairments::symmetric(clear_link(), 5),
        Some(tap.clone()),
    )
    .expect("the lab builds");
    lab.kernel.sysctl("net.ipv4.tcp_ecn", "1").unwrap();
    both_ways(&lab, KERNEL_V4, PEER_V4, MIB);
    tap.flush().unwrap();
    let bytes = std::fs::read(&pcap).unwrap();
    let _ = std::fs::remove_file(&pcap);
    let frames = vtcp::pcap::read_frames(&bytes).unwrap();
    // (from vtcp, TCP flags octet, payload length, ECN field) per IPv4
    // segment.
    let segs: Vec<(bool, u8, usize, u8)> = frames
        .iter()
        .filter_map(|f| {
            let p = f.data;
            if p.first()? >> 4 != 4 {
                return None;
            }
            let ihl = usize::from(p[0] & 15) * 4;
            let tcp = p.get(ihl..)?;
            let doff = usize::from(tcp.get(12)? >> 4) * 4;
            let from_vtcp = p.get(12..16)? == [198, 18, 0, 2];
            Some((from_vtcp, tcp[13], tcp.len().saturating_sub(doff), p[1] & 3))
        })
        .collect();
    let (syn, ack, ece, cwr) = (0x02, 0x10, 0x40, 0x80);
    // Each side sends an ECN-setup SYN (ECE, CWR) and an ECN-setup
    // SYN-ACK (ECE alone).
    for (from_vtcp, flags) in [true, false]
        .into_iter()
        .flat_map(|side| [(side, syn | ece | cwr), (side, syn | ack | ece)])
    {
        assert!(
            segs.iter()
                .any(|s| s.0 == from_vtcp && s.1 & (syn | ack | ece | cwr) == flags),
            "flags {flags:#04x} from {}",
            if from_vtcp { "vtcp" } else { "Linux" }
        );
    }
    let ours = segs.iter().filter(|s| s.0 && s.1 & syn == 0);
    let (data, bare): (Vec<&(bool, u8, usize, u8)>, Vec<_>) = ours.partition(|s| s.2 > 0);
    assert!(data.iter().filter(|s| s.3 == 2).count() * 10 >= data.len() * 9);
    assert!(
        !bare.is_empty() && bare.iter().all(|s| s.3 == 0),
        "{bare:?}"
    );
}
