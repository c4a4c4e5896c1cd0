//! What runs on the kernel's side of the lab, and the checks of what
//! crossed: sockets made inside a namespace, a seeded byte stream, and its
//! SHA-256 at both ends.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use sha2::{Digest, Sha256};

use vtcp_tun::netns::Netns;

/// How long any one read or write of a lab scenario may block before the
/// scenario fails instead of hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A kernel listener inside `ns`.
pub fn listen(ns: &Netns, addr: SocketAddr) -> io::Result<TcpListener> {
    ns.enter(|| TcpListener::bind(addr))?
}

/// A kernel connection from inside `ns`, with [`IO_TIMEOUT`] on reads and
/// writes.
pub fn connect(ns: &Netns, addr: SocketAddr) -> io::Result<TcpStream> {
    let s = ns.enter(|| TcpStream::connect_timeout(&addr, IO_TIMEOUT))??;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// A kernel connection from inside `ns` whose congestion control is `cc`
/// (TCP_CONGESTION: a namespace's default may only be one of the host's
/// allowed controllers, a socket's any loaded one).
pub fn connect_with_cc(ns: &Netns, addr: SocketAddr, cc: &str) -> io::Result<TcpStream> {
    let sock = socket(ns, addr)?;
    sock.set_tcp_congestion(cc.as_bytes())?;
    sock.connect_timeout(&addr.into(), IO_TIMEOUT)?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// The next connection a kernel listener accepts, with [`IO_TIMEOUT`] on
/// reads.
pub fn accept(l: &TcpListener) -> io::Result<TcpStream> {
    let (s, _) = l.accept()?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// Closes a kernel connection with a RST instead of a FIN (SO_LINGER 0).
pub fn abort(s: TcpStream) -> io::Result<()> {
    socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO))
}

/// A kernel socket made inside `ns`, for options std does not offer
/// (SO_LINGER, TCP_MAXSEG) before `connect`.
pub fn socket(ns: &Netns, addr: SocketAddr) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    ns.enter(|| Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)))?
}

/// A kernel UDP server inside a namespace that answers each datagram
/// with a prefix and the datagram (a DNS-like exchange, or an echo with
/// an empty prefix) or with what a function makes of it (a DNS server),
/// on a thread that ends when this is dropped.
pub struct UdpAnswerer {
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl UdpAnswerer {
    /// Binds `addr` inside `ns` and answers from there.
    pub fn start(ns: &Netns, addr: SocketAddr, prefix: &'static [u8]) -> io::Result<Self> {
        Self::with(ns, addr, move |query| {
            let mut answer = prefix.to_vec();
            answer.extend_from_slice(query);
            Some(answer)
        })
    }

    /// Binds `addr` inside `ns` and answers each datagram with what
    /// `answer` makes of it (nothing for `None`): a DNS server with
    /// [`crate::dns::answer_a`].
    pub fn with(
        ns: &Netns,
        addr: SocketAddr,
        answer: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
    ) -> io::Result<Self> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let s = ns.enter(|| UdpSocket::bind(addr))??;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok((n, from)) = s.recv_from(&mut buf)
                    && let Some(answer) = answer(&buf[..n])
                {
                    let _ = s.send_to(&answer, from);
                }
            }
        });
        Ok(Self { addr, stop })
    }

    /// Where it answers.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for UdpAnswerer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A kernel UDP socket inside `ns`, bound to an ephemeral port of
/// `family`'s address family, with [`IO_TIMEOUT`] on reads.
pub fn udp_socket(ns: &Netns, family: SocketAddr) -> io::Result<UdpSocket> {
    let any: SocketAddr = if family.is_ipv4() {
        "0.0.0.0:0".parse().expect("an address")
    } else {
        "[::]:0".parse().expect("an address")
    };
    let s = ns.enter(|| UdpSocket::bind(any))??;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// Sends `payload` to `to` from `s` and waits for one answer: its bytes
/// and where it came from.
pub fn udp_ask(s: &UdpSocket, to: SocketAddr, payload: &[u8]) -> io::Result<(Vec<u8>, SocketAddr)> {
    s.send_to(payload, to)?;
    let mut buf = vec![0u8; 65_536];
    let (n, from) = s.recv_from(&mut buf)?;
    buf.truncate(n);
    Ok((buf, from))
}

/// The seeded byte stream a scenario sends: xorshift, so that no two
/// segments carry the same bytes.
pub struct Pattern(u64);

impl Pattern {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Fills `buf` with the next bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Writes `bytes` of the pattern from `seed`; returns their SHA-256.
pub fn send_pattern(w: &mut impl Write, seed: u64, bytes: u64) -> io::Result<[u8; 32]> {
    let mut p = Pattern::new(seed);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        p.fill(&mut buf[..n]);
        w.write_all(&buf[..n])?;
        h.update(&buf[..n]);
        left -= n as u64;
    }
    w.flush()?;
    Ok(h.finalize().into())
}

/// Reads to the end of the stream; returns the count and SHA-256.
pub fn recv_all(r: &mut impl Read) -> io::Result<(u64, [u8; 32])> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((total, h.finalize().into()));
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
}
