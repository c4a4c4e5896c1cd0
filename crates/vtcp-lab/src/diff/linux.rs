//! Linux as a system under test: the kernel's TCP in a namespace of the
//! lab's own, behind a TUN device whose other end is the scripted peer
//! (this process writes and reads raw IPv4 packets on it), driven through
//! non-blocking sockets made inside the namespace.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etherparse::{IpNumber, Ipv4Header};
use vtcp::pcap::{FrameContent, tcp_in_ip};
use vtcp_tun::Tun;
use vtcp_tun::netns::Netns;

use super::compare::Outcome;
use super::peer::{PEER_ADDR, SUT_ADDR};
use super::script::Call;

/// How long the device is read for packets at a time while settling.
const POLL: Duration = Duration::from_millis(1);

/// The most packets taken off the device past a step's end.
const MAX_DRAIN: usize = 10_000;

/// The namespace and device every script of a run shares; each script
/// takes ports of its own ([`LinuxLab::ports`]).
pub struct LinuxLab {
    tun: Arc<Tun>,
    /// The kernel's namespace: deleted when dropped.
    ns: Netns,
    next: u16,
}

impl LinuxLab {
    /// Makes the namespace (198.18.0.1/24 on its device; the peer is
    /// 198.18.0.2) with the kernel's default TCP settings but for the
    /// metrics cache, which would carry one script's RTT into the next.
    pub fn new() -> io::Result<Self> {
        let (ns, tun) = crate::topo::kernel_end(IpAddr::V4(SUT_ADDR), crate::topo::KERNEL_V6)?;
        ns.sysctl("net.ipv4.tcp_no_metrics_save", "1")?;
        Ok(Self { tun, ns, next: 0 })
    }

    /// Fresh ports for the next script: the kernel's listener and the
    /// peer's, so that what an earlier script's sockets still send is
    /// not taken for this one's.
    pub fn ports(&mut self) -> (u16, u16) {
        self.next = (self.next + 1) % 20_000;
        (10_000 + self.next, 30_000 + self.next)
    }

    /// A system under test for one script on these ports.
    pub fn sut(&mut self, (sut_port, peer_port): (u16, u16)) -> io::Result<LinuxSut<'_>> {
        let mut buf = vec![0u8; 65_536];
        // What earlier scripts' sockets sent is not this one's.
        for _ in 0..10_000 {
            if self.tun.try_recv(&mut buf)?.is_none() {
                break;
            }
        }
        Ok(LinuxSut {
            lab: self,
            sut_port,
            peer_port,
            listener: None,
            conn: None,
            written: 0,
            buf,
            timeline: Some(Instant::now()),
        })
    }
}

/// The kernel's sockets of one script.
pub struct LinuxSut<'a> {
    lab: &'a LinuxLab,
    sut_port: u16,
    peer_port: u16,
    listener: Option<TcpListener>,
    conn: Option<TcpStream>,
    written: u64,
    buf: Vec<u8>,
    /// Where the last step's settle time ended (at first, when the run
    /// began): steps follow each other on one timeline, so that the time
    /// the calls take does not pile up into a drift against vtcp's
    /// virtual clock, and whatever Linux does a whole number of steps
    /// after a step's call happens just after a boundary, as vtcp counts
    /// a timer due at a boundary in the next step.
    timeline: Option<Instant>,
}

impl LinuxSut<'_> {
    fn socket(&self) -> io::Result<socket2::Socket> {
        let any = SocketAddr::new(IpAddr::V4(SUT_ADDR), 0);
        let s = crate::kernel::socket(&self.lab.ns, any)?;
        s.set_nonblocking(true)?;
        Ok(s)
    }

    fn listen(&mut self) -> io::Result<()> {
        let s = self.socket()?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::new(IpAddr::V4(SUT_ADDR), self.sut_port).into())?;
        s.listen(8)?;
        self.listener = Some(s.into());
        Ok(())
    }

    fn connect(&mut self) -> io::Result<()> {
        let s = self.socket()?;
        let to = SocketAddr::new(IpAddr::V4(PEER_ADDR), self.peer_port);
        match s.connect(&to.into()) {
            Err(e) if e.raw_os_error() != Some(nix::errno::Errno::EINPROGRESS as i32) => {
                return Err(e);
            }
            _ => {}
        }
        self.conn = Some(s.into());
        Ok(())
    }

    /// Closes (or aborts: SO_LINGER 0) the connection, else the listener.
    fn close(&mut self, abort: bool) -> Outcome {
        if let Some(c) = self.conn.take() {
            if abort && let Err(e) = crate::kernel::abort(c) {
                return Outcome::of(Err(e));
            }
            return Outcome::Done(0);
        }
        if let Some(l) = self.listener.take() {
            if abort {
                let _ = socket2::SockRef::from(&l).set_linger(Some(Duration::ZERO));
            }
            return Outcome::Done(0);
        }
        Outcome::NoSocket
    }
}

impl Drop for LinuxSut<'_> {
    /// Leaves nothing behind for the next script: the connection reset.
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = crate::kernel::abort(c);
        }
    }
}

impl super::run::Sut for LinuxSut<'_> {
    fn call(&mut self, call: Call) -> Outcome {
        match call {
            Call::Listen => Outcome::of(self.listen().map(|()| 0)),
            Call::Accept => match &self.listener {
                None => Outcome::NoSocket,
                Some(l) => match l.accept() {
                    Ok((s, _)) => match s.set_nonblocking(true) {
                        Ok(()) => {
                            if let Some(old) = self.conn.replace(s) {
                                let _ = crate::kernel::abort(old);
                            }
                            Outcome::Done(0)
                        }
                        Err(e) => Outcome::of(Err(e)),
                    },
                    Err(e) => Outcome::of(Err(e)),
                },
            },
            Call::Connect => Outcome::of(self.connect().map(|()| 0)),
            Call::Write(n) => {
                let from = self.written;
                let Some(c) = self.conn.as_mut() else {
                    return Outcome::NoSocket;
                };
                let data: Vec<u8> = (0..u64::from(n)).map(|k| (from + k) as u8).collect();
                let r = Outcome::of(c.write(&data));
                if let Outcome::Done(k) = r {
                    self.written += u64::from(k);
                }
                r
            }
            Call::Read(n) => match self.conn.as_mut() {
                None => Outcome::NoSocket,
                Some(c) => {
                    let mut buf = vec![0u8; n as usize];
                    Outcome::of(c.read(&mut buf))
                }
            },
            Call::Shutdown => match &self.conn {
                None => Outcome::NoSocket,
                Some(c) => Outcome::of(c.shutdown(Shutdown::Write).map(|()| 0)),
            },
            Call::Close => self.close(false),
            Call::Abort => self.close(true),
            Call::Nodelay(on) => match &self.conn {
                None => Outcome::NoSocket,
                Some(c) => Outcome::of(c.set_nodelay(on).map(|()| 0)),
            },
        }
    }

    fn inject(&mut self, segment: &[u8]) -> io::Result<()> {
        let len = u16::try_from(segment.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut ip = Ipv4Header::new(
            len,
            64,
            IpNumber::TCP,
            PEER_ADDR.octets(),
            SUT_ADDR.octets(),
        )
        .map_err(io::Error::other)?;
        ip.header_checksum = ip.calc_header_checksum();
        let mut packet = ip.to_bytes().to_vec();
        packet.extend_from_slice(segment);
        self.lab.tun.send(&packet)
    }

    fn settle(&mut self, time: Duration) -> io::Result<Vec<Vec<u8>>> {
        let end = self.timeline.unwrap_or_else(Instant::now) + time;
        self.timeline = Some(end);
        let mut out = Vec::new();
        // Until the step's end, and then what is already on the device: a
        // run that fell behind (a loaded machine) still takes what the
        // step's call made the kernel send.
        let mut drained = 0;
        while drained < MAX_DRAIN {
            match self.lab.tun.try_recv(&mut self.buf)? {
                Some(r) => {
                    if let FrameContent::Tcp(t) = tcp_in_ip(&self.buf[r.start..r.end])
                        && t.src == IpAddr::V4(SUT_ADDR)
                        && t.dst == IpAddr::V4(PEER_ADDR)
                        && t.tcp.get(2..4) == Some(&self.peer_port.to_be_bytes()[..])
                    {
                        out.push(t.tcp.to_vec());
                    }
                }
                None if Instant::now() < end => std::thread::sleep(POLL),
                None => break,
            }
            if Instant::now() >= end {
                drained += 1;
            }
        }
        Ok(out)
    }
}
