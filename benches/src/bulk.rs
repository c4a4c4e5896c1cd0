//! Bulk transfer between two connections back to back in memory, one
//! thread: vtcp's engine, and smoltcp's sockets on the same job. MSS 1460
//! (MTU 1500), the TCP checksum computed on every segment sent and verified
//! on every segment received, on both sides.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{IpAddress, IpCidr};
use vtcp_conn::{Conn, ConnConfig, Endpoints, IsnSource};
use vtcp_seq::Seq;
use vtcp_wire::ParsedSegment;
use vtcp_wire::checksum::{PseudoHeader, fill_tcp_checksum, verify_tcp_checksum};

/// Send and receive buffers of both stacks.
pub const BUFFER: usize = 256 * 1024;

/// The policy of both ends, and who each is.
fn config(local: u16, remote: u16, isn: u32) -> (ConnConfig, Endpoints) {
    {
        let mut config = ConnConfig::default();
        config.mss = 1460;
        config.send_buffer = BUFFER;
        config.recv_buffer = BUFFER;
        // Both stacks offer their whole 256 KiB window, as smoltcp's
        // sockets do: this measures the engines, not a window policy
        // (auto-tuning starts at 64 KiB and grows per round trip, which a
        // loop with no real round trip barely gives it).
        config.auto_tune = false;
        let ends = Endpoints::ports(local, remote).with_isn(IsnSource::Fixed(Seq(isn)));
        (config, ends)
    }
}

/// Moves every segment `from` has to send into `to` (or opens `to` from a
/// SYN), checksummed on the way out and verified on the way in.
fn carry(
    now: Duration,
    from: &mut Conn,
    to: &mut Option<Conn>,
    to_cfg: &mut Option<(ConnConfig, Endpoints)>,
    out: &PseudoHeader,
    buf: &mut [u8],
) -> usize {
    let mut moved = 0;
    while let Some(n) = from.poll_transmit(now, buf) {
        let seg = &mut buf[..n];
        fill_tcp_checksum(out, seg);
        assert!(verify_tcp_checksum(out, seg));
        moved += 1;
        match to.as_mut() {
            Some(conn) => {
                // Borrowed where it was parsed: no move of the parsed form.
                let parsed = ParsedSegment::parse(seg);
                conn.handle_segment(now, parsed.as_ref().unwrap());
            }
            None => {
                let (cfg, ends) = to_cfg.take().unwrap();
                let syn = ParsedSegment::parse(seg).unwrap();
                *to = Some(Conn::accept_syn(cfg, ends, now, &syn).unwrap());
            }
        }
    }
    moved
}

/// One transfer of `total` octets with vtcp; returns (octets, segments).
pub fn vtcp_transfer(total: usize) -> (usize, usize) {
    let up = PseudoHeader::V4 {
        src: [198, 18, 0, 1].into(),
        dst: [198, 18, 0, 2].into(),
    };
    let down = PseudoHeader::V4 {
        src: [198, 18, 0, 2].into(),
        dst: [198, 18, 0, 1].into(),
    };
    let mut now = Duration::from_secs(1);
    let (client_policy, client_ends) = config(40000, 80, 1);
    let mut client = Some(Conn::connect(client_policy, client_ends, now));
    let mut client_cfg = None;
    let mut server: Option<Conn> = None;
    let mut server_cfg = Some(config(80, 40000, 1 << 31));
    let mut buf = vec![0u8; 2048];
    let (mut sent, mut received, mut segments) = (0, 0, 0);
    while received < total {
        let c = client.as_mut().unwrap();
        // Like the smoltcp side: the application fills the send buffer in
        // place and consumes received data without copying it out.
        while sent < total {
            let want = total - sent;
            let n = c
                .write_with(|a, b| {
                    let n = want.min(a.len() + b.len());
                    let first = n.min(a.len());
                    a[..first].fill(0x5a);
                    b[..n - first].fill(0x5a);
                    n
                })
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            sent += n;
        }
        let mut moved = carry(now, c, &mut server, &mut server_cfg, &up, &mut buf);
        if let Some(s) = server.as_mut() {
            let (a, b) = s.peek_readable();
            let n = a.len() + b.len();
            received += s.consume(n);
            moved += carry(now, s, &mut client, &mut client_cfg, &down, &mut buf);
        }
        segments += moved;
        if moved == 0 {
            // Nothing to send: only a timer (a delayed ACK) can move things.
            let next = [
                client.as_ref().and_then(Conn::poll_timeout),
                server.as_ref().and_then(Conn::poll_timeout),
            ]
            .into_iter()
            .flatten()
            .min()
            .expect("a timer when nothing moves");
            now = now.max(next);
            for conn in [client.as_mut(), server.as_mut()].into_iter().flatten() {
                if conn.poll_timeout().is_some_and(|t| t <= now) {
                    conn.handle_timeout(now);
                }
            }
        }
        now += Duration::from_micros(1);
    }
    (received, segments)
}

/// A FIFO of IP packets with an MTU of 1500 and smoltcp's default checksum
/// handling (computed on send, verified on receive). Packet buffers are
/// recycled, as a driver's would be, so the harness does not allocate per
/// packet.
struct Queue {
    packets: VecDeque<Vec<u8>>,
    pool: Rc<RefCell<Vec<Vec<u8>>>>,
}

struct Rx(Vec<u8>, Rc<RefCell<Vec<Vec<u8>>>>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>, Rc<RefCell<Vec<Vec<u8>>>>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.0);
        self.1.borrow_mut().push(self.0);
        r
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = self.1.borrow_mut().pop().unwrap_or_default();
        packet.resize(len, 0);
        let r = f(&mut packet);
        self.0.push_back(packet);
        r
    }
}

impl Device for Queue {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let packet = self.packets.pop_front()?;
        Some((
            Rx(packet, self.pool.clone()),
            Tx(&mut self.packets, self.pool.clone()),
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.packets, self.pool.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = 1500;
        caps.medium = Medium::Ip;
        caps
    }
}

/// One transfer of `total` octets with smoltcp; returns the octets.
pub fn smoltcp_transfer(total: usize) -> usize {
    let mut device = Queue {
        packets: VecDeque::new(),
        pool: Rc::default(),
    };
    let mut iface = Interface::new(
        Config::new(smoltcp::wire::HardwareAddress::Ip),
        &mut device,
        Instant::ZERO,
    );
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::v4(198, 18, 0, 1), 24))
            .unwrap();
    });
    let socket = || {
        tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUFFER]),
            tcp::SocketBuffer::new(vec![0; BUFFER]),
        )
    };
    let mut sockets = SocketSet::new(vec![]);
    let server = sockets.add(socket());
    let client = sockets.add(socket());
    sockets
        .get_mut::<tcp::Socket<'_>>(server)
        .listen(80)
        .unwrap();
    sockets
        .get_mut::<tcp::Socket<'_>>(client)
        .connect(iface.context(), (IpAddress::v4(198, 18, 0, 1), 80), 40000)
        .unwrap();
    let (mut sent, mut received) = (0, 0);
    let mut now = Instant::ZERO;
    while received < total {
        iface.poll(now, &mut device, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket<'_>>(client);
        while sent < total && s.can_send() {
            sent += s
                .send(|b| {
                    let n = b.len().min(total - sent);
                    b[..n].fill(0x5a);
                    (n, n)
                })
                .unwrap();
        }
        let s = sockets.get_mut::<tcp::Socket<'_>>(server);
        while s.can_recv() {
            received += s.recv(|b| (b.len(), b.len())).unwrap();
        }
        now += smoltcp::time::Duration::from_micros(1);
    }
    received
}
