//! Request/response connections through two `Stack`s in memory.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use vtcp::{ConnKey, Stack, StackConfig};

/// The client's address.
pub const CLIENT: [u8; 4] = [198, 18, 0, 1];
/// The server's address.
pub const SERVER: [u8; 4] = [198, 18, 0, 2];

/// A stack whose secrets come from `seed`, so runs repeat.
pub fn stack(seed: u8) -> Stack {
    Stack::new(StackConfig {
        cookie_key: [seed; 16],
        isn_key: [seed; 16],
        ..StackConfig::default()
    })
}

/// Moves every packet both ways until quiet.
pub fn settle(now: Duration, a: &mut Stack, b: &mut Stack, buf: &mut [u8]) {
    loop {
        let mut moved = false;
        while let Some(t) = a.poll_transmit(now, buf) {
            b.handle_packet(now, t.src, t.dst, &buf[..t.len]);
            moved = true;
        }
        while let Some(t) = b.poll_transmit(now, buf) {
            a.handle_packet(now, t.src, t.dst, &buf[..t.len]);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

/// `n` connections, one after another: connect, send a 100-byte request,
/// answer with 1000 bytes, close both ends. Returns those completed.
pub fn connections(n: usize) -> usize {
    let mut client = stack(1);
    let mut server = stack(2);
    let addr = SocketAddr::new(SERVER.into(), 80);
    let listener = server.listen(addr, 1024).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut data = vec![0u8; 1000];
    let mut now = Duration::from_secs(1);
    let mut done = 0;
    for _ in 0..n {
        let c = client.connect(now, CLIENT.into(), addr).unwrap();
        client.conn_mut(c).unwrap().write(&data[..100]).unwrap();
        settle(now, &mut client, &mut server, &mut buf);
        let s = server.accept(listener).unwrap();
        let got = server.conn_mut(s).unwrap().read(&mut data);
        let conn = server.conn_mut(s).unwrap();
        conn.write(&data[..1000]).unwrap();
        conn.close();
        settle(now, &mut client, &mut server, &mut buf);
        let conn = client.conn_mut(c).unwrap();
        let answer = conn.read(&mut data);
        conn.close();
        settle(now, &mut client, &mut server, &mut buf);
        done += usize::from(got == 100 && answer == 1000);
        // Both are closed or in TIME-WAIT; let TIME-WAIT expire later.
        client.release(c);
        server.release(s);
        now += Duration::from_micros(10);
    }
    // Run out the TIME-WAITs so nothing is left.
    now += Duration::from_secs(5);
    client.handle_timeout(now);
    server.handle_timeout(now);
    settle(now, &mut client, &mut server, &mut buf);
    assert_eq!((client.connections(), server.connections()), (0, 0));
    done
}

/// Two stacks holding `n` established connections, for the cost of one
/// segment as the table grows.
pub struct Many {
    client: Stack,
    server: Stack,
    pairs: Vec<(ConnKey, ConnKey)>,
    next: usize,
    buf: Vec<u8>,
    now: Duration,
}

impl Many {
    /// Opens `n` connections (clients on as many addresses as the
    /// ephemeral ports need).
    pub fn new(n: usize) -> Self {
        // Nagle off: each request is a segment of its own, however many
        // connections there are.
        let nodelay = |seed: u8| {
            Stack::new(StackConfig {
                conn_config: Box::new(|| vtcp::ConnConfig {
                    nodelay: true,
                    ..vtcp::ConnConfig::default()
                }),
                cookie_key: [seed; 16],
                isn_key: [seed; 16],
                ..StackConfig::default()
            })
        };
        let mut client = nodelay(1);
        let mut server = nodelay(2);
        let addr = SocketAddr::new(SERVER.into(), 80);
        let listener = server.listen(addr, 1024).unwrap();
        let mut buf = vec![0u8; 4096];
        let now = Duration::from_secs(1);
        let mut pairs = Vec::with_capacity(n);
        for i in 0..n {
            let ip = IpAddr::from([198, 18, 1 + (i / 16_000) as u8, 1]);
            client.connect(now, ip, addr).unwrap();
            if i % 512 == 511 || i == n - 1 {
                settle(now, &mut client, &mut server, &mut buf);
                while let Some(s) = server.accept(listener) {
                    pairs.push((s.swapped(), s));
                }
            }
        }
        assert_eq!(pairs.len(), n);
        Self {
            client,
            server,
            pairs,
            next: 0,
            buf,
            now,
        }
    }

    /// The next connection in turn sends 64 bytes in one segment; the
    /// server takes it in and reads it (and ACKs every second one).
    /// Returns the octets read.
    pub fn request(&mut self) -> usize {
        let (c, s) = self.pairs[self.next];
        self.next = (self.next + 1) % self.pairs.len();
        self.client.conn_mut(c).unwrap().write(&[0x5a; 64]).unwrap();
        settle(self.now, &mut self.client, &mut self.server, &mut self.buf);
        self.server.conn_mut(s).unwrap().read(&mut self.buf)
    }
}

/// Moves `total` octets from one blocking `TcpStream` to another through
/// two `NetStack`s wired back to back (a writer thread, a reader thread,
/// the stacks' drivers); returns the octets read.
pub fn blocking_transfer(total: usize) -> usize {
    use std::io::{Read, Write};
    use vtcp::{NetStack, TcpListener, TcpStream};

    let client_cfg = StackConfig {
        cookie_key: [1; 16],
        isn_key: [1; 16],
        ..StackConfig::default()
    };
    let server_cfg = StackConfig {
        cookie_key: [2; 16],
        isn_key: [2; 16],
        ..StackConfig::default()
    };
    let (a, b) = NetStack::back_to_back(
        (client_cfg, CLIENT.into()),
        (server_cfg, SERVER.into()),
        |_, _, _| true,
    )
    .unwrap();
    let addr = SocketAddr::new(SERVER.into(), 80);
    let listener = TcpListener::bind(&b, addr).unwrap();
    let sender = std::thread::spawn(move || {
        let mut c = TcpStream::connect(&a, addr).unwrap();
        let chunk = vec![0x5a; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = (total - sent).min(chunk.len());
            c.write_all(&chunk[..n]).unwrap();
            sent += n;
        }
        c.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let (mut s, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        received += n;
    }
    sender.join().unwrap();
    received
}
