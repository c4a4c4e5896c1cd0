//! Request/response connections through two `Stack`s in memory.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use vtcp::{ConnKey, Stack, StackConfig};

/// The client's address.
pub const CLIENT: [u8; 4] = [198, 18, 0, 1];
/// The server's address.
pub const SERVER: [u8; 4] = [198, 18, 0, 2];

/// A stack configuration whose secrets come from `seed`, so runs repeat.
pub fn config(seed: u8) -> StackConfig {
    {
        let mut config = StackConfig::default();
        config.cookie_key = [seed; 16];
        config.isn_key = [seed; 16];
        config
    }
}

/// A stack with [`config`]'s secrets.
pub fn stack(seed: u8) -> Stack {
    Stack::new(config(seed))
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

/// One connection through `client` and `server`: connect, send a
/// 100-byte request, answer with 1000 bytes, close both ends, release
/// both handles. Returns whether both messages arrived whole.
fn one_connection(
    now: Duration,
    client: &mut Stack,
    server: &mut Stack,
    listener: vtcp::ListenerId,
    buf: &mut [u8],
    data: &mut [u8],
) -> bool {
    let addr = listener.local_addr();
    let c = client.connect(now, CLIENT.into(), addr).unwrap();
    client.conn_mut(c).unwrap().write(&data[..100]).unwrap();
    settle(now, client, server, buf);
    let s = server.accept(listener).unwrap();
    let got = server.conn_mut(s).unwrap().read(data);
    let conn = server.conn_mut(s).unwrap();
    conn.write(&data[..1000]).unwrap();
    conn.close();
    settle(now, client, server, buf);
    let conn = client.conn_mut(c).unwrap();
    let answer = conn.read(data);
    conn.close();
    settle(now, client, server, buf);
    // Both are closed or in TIME-WAIT; the stacks remove them when done.
    client.release(c);
    server.release(s);
    got == 100 && answer == 1000
}

/// `n` connections, one after another, through two new stacks, 10 µs of
/// virtual time apart; then the TIME-WAITs run out and the stacks are
/// dropped. Returns the connections completed.
pub fn connections(n: usize) -> usize {
    let mut client = stack(1);
    let mut server = stack(2);
    let listener = server
        .listen(SocketAddr::new(SERVER.into(), 80), 1024)
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut data = vec![0u8; 1000];
    let mut now = Duration::from_secs(1);
    let mut done = 0;
    for _ in 0..n {
        let ok = one_connection(now, &mut client, &mut server, listener, &mut buf, &mut data);
        done += usize::from(ok);
        now += Duration::from_micros(10);
    }
    now += Duration::from_secs(5);
    client.handle_timeout(now);
    server.handle_timeout(now);
    settle(now, &mut client, &mut server, &mut buf);
    assert_eq!((client.connections(), server.connections()), (0, 0));
    done
}

/// Two stacks that keep running, as a server and its clients do: each
/// connection is followed by the timers that came due, so TIME-WAITs end
/// while new connections start and the number held stays level.
pub struct Churn {
    client: Stack,
    server: Stack,
    listener: vtcp::ListenerId,
    buf: Vec<u8>,
    data: Vec<u8>,
    now: Duration,
}

impl Churn {
    /// Virtual time between connections: with TIME-WAIT's 2 s, a level
    /// of 1000 connections held, as many as one `connections(1000)`
    /// holds at its end.
    pub const STEP: Duration = Duration::from_millis(2);

    /// Two stacks, a listener, and enough connections run for the level
    /// to be reached.
    pub fn new() -> Self {
        let mut server = stack(2);
        let listener = server
            .listen(SocketAddr::new(SERVER.into(), 80), 1024)
            .unwrap();
        let mut churn = Self {
            client: stack(1),
            server,
            listener,
            buf: vec![0u8; 4096],
            data: vec![0u8; 1000],
            now: Duration::from_secs(1),
        };
        churn.run(2000);
        churn
    }

    /// `n` more connections; returns those completed.
    pub fn run(&mut self, n: usize) -> usize {
        let mut done = 0;
        for _ in 0..n {
            let ok = one_connection(
                self.now,
                &mut self.client,
                &mut self.server,
                self.listener,
                &mut self.buf,
                &mut self.data,
            );
            done += usize::from(ok);
            self.now += Self::STEP;
            for stack in [&mut self.client, &mut self.server] {
                if stack.poll_timeout().is_some_and(|t| t <= self.now) {
                    stack.handle_timeout(self.now);
                }
            }
            settle(self.now, &mut self.client, &mut self.server, &mut self.buf);
        }
        done
    }

    /// Connections held by the client's and the server's stack.
    pub fn held(&self) -> (usize, usize) {
        (self.client.connections(), self.server.connections())
    }
}

impl Default for Churn {
    fn default() -> Self {
        Self::new()
    }
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
            Stack::new({
                let mut cfg = config(seed);
                cfg.conn = {
                    let mut config = vtcp::ConnConfig::default();
                    config.nodelay = true;
                    config
                };
                cfg
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

    let (a, b) = NetStack::back_to_back(
        (config(1), CLIENT.into()),
        (config(2), SERVER.into()),
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
