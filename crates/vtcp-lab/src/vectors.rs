//! Test vectors from Linux talking to Linux: the captures the codec is
//! checked against (`cargo xtask capture-vectors` writes them to
//! `tests/vectors/`, and tshark's decode beside each).
//!
//! Each variant runs one workload between the two kernels of a
//! [`KernelLab`], with 4 % random loss on the client's packets so that
//! retransmissions and SACK blocks appear: 150,000 bytes to a sink, an
//! echo exchange ended by an abortive close (RST, via SO_LINGER 0), and a
//! connection attempt to a closed port (RST). The relay records every
//! packet either kernel sent, as raw IP.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::kernel::{self, IO_TIMEOUT, send_pattern};
use crate::relay::{Tap, clear_link};
use crate::topo::{Impairments, KernelLab, PEER_V4, PEER_V6};

/// One capture to make.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// The file stem (`linux-ipv4-default`).
    pub stem: &'static str,
    /// IPv6 instead of IPv4.
    pub ipv6: bool,
    /// TCP_MAXSEG on the client's socket.
    pub client_mss: Option<u32>,
    /// Sysctls set to 0 in the client's namespace.
    pub client_off: &'static [&'static str],
}

/// The variants `cargo xtask capture-vectors` makes.
pub const VARIANTS: [Variant; 6] = [
    Variant {
        stem: "linux-ipv4-default",
        ipv6: false,
        client_mss: None,
        client_off: &[],
    },
    Variant {
        stem: "linux-ipv6-default",
        ipv6: true,
        client_mss: None,
        client_off: &[],
    },
    Variant {
        stem: "linux-ipv4-smallmss",
        ipv6: false,
        client_mss: Some(536),
        client_off: &[],
    },
    Variant {
        stem: "linux-ipv4-nosack",
        ipv6: false,
        client_mss: None,
        client_off: &["net.ipv4.tcp_sack"],
    },
    Variant {
        stem: "linux-ipv4-nots",
        ipv6: false,
        client_mss: None,
        client_off: &["net.ipv4.tcp_timestamps"],
    },
    Variant {
        stem: "linux-ipv6-nowscale",
        ipv6: true,
        client_mss: None,
        client_off: &["net.ipv4.tcp_window_scaling"],
    },
];

/// The bytes the client sends to the sink.
pub const SINK_BYTES: u64 = 150_000;

/// Makes `dir/STEM.pcap` for one variant; returns the number of
/// retransmissions in it ([`vtcp::pcap::flows`]'s definition; the caller
/// wants at least one).
pub fn capture(dir: &Path, v: &Variant, seed: u64) -> io::Result<u64> {
    let path = dir.join(format!("{}.pcap", v.stem));
    let mut lossy = clear_link();
    lossy.loss = 0.04;
    let lab = KernelLab::new(
        &Impairments {
            forward: lossy,
            backward: clear_link(),
            seed,
        },
        Some(Tap::tcp_only(&path)?),
    )?;
    for key in v.client_off {
        lab.a.sysctl(key, "0")?;
    }
    let server = if v.ipv6 { PEER_V6 } else { PEER_V4 };
    let sink = kernel::listen(&lab.b, SocketAddr::new(server, 7000))?;
    let echo = kernel::listen(&lab.b, SocketAddr::new(server, 7001))?;
    let servers = std::thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = sink.accept()?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        let mut all = Vec::new();
        s.read_to_end(&mut all)?;
        drop(s);
        let (mut e, _) = echo.accept()?;
        e.set_read_timeout(Some(IO_TIMEOUT))?;
        let mut buf = [0u8; 64];
        loop {
            match e.read(&mut buf) {
                Ok(0) | Err(_) => return Ok(()),
                Ok(n) => e.write_all(&buf[..n])?,
            }
        }
    });

    let to = |port| SocketAddr::new(server, port);
    let sock = kernel::socket(&lab.a, to(7000))?;
    if let Some(mss) = v.client_mss {
        sock.set_tcp_mss(mss)?;
    }
    sock.connect_timeout(&to(7000).into(), IO_TIMEOUT)?;
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    send_pattern(&mut s, seed, SINK_BYTES)?;
    s.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;

    let mut e = kernel::connect(&lab.a, to(7001))?;
    e.write_all(b"hello, echo\n")?;
    let mut back = [0u8; 12];
    e.read_exact(&mut back)?;
    socket2::SockRef::from(&e).set_linger(Some(Duration::ZERO))?;
    drop(e);
    servers
        .join()
        .map_err(|_| io::Error::other("the server thread panicked"))??;

    let refused = kernel::connect(&lab.a, to(7002));
    if !matches!(&refused, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused) {
        return Err(io::Error::other(format!("port 7002: {refused:?}")));
    }
    std::thread::sleep(Duration::from_millis(100));
    drop(lab);
    vtcp::pcap::retransmissions(&std::fs::read(&path)?).map_err(io::Error::other)
}
