//! What the stack's test binaries share: two stacks wired back to back in
//! memory, on a virtual clock, and segments from the client.

use std::net::SocketAddr;
use std::time::Duration;

use vtcp::wire::checksum::{PseudoHeader, fill_tcp_checksum};
use vtcp::wire::{Flags, Segment};
use vtcp::{Stack, StackConfig, State};
use vtcp_seq::Seq;

pub(crate) const SERVER: [u8; 4] = [198, 18, 0, 2];
pub(crate) const CLIENT: [u8; 4] = [198, 18, 0, 1];

pub(crate) struct Net {
    pub(crate) now: Duration,
    pub(crate) client: Stack,
    pub(crate) server: Stack,
    pub(crate) buf: Vec<u8>,
}

/// A stack with secrets derived from `seed`, so runs repeat.
pub(crate) fn stack(seed: u8) -> Stack {
    Stack::new({
        let mut config = StackConfig::default();
        config.cookie_key = [seed; 16];
        config.isn_key = [seed.wrapping_add(101); 16];
        config
    })
}

impl Net {
    pub(crate) fn new() -> Self {
        Self::seeded(1)
    }

    pub(crate) fn seeded(seed: u8) -> Self {
        Self {
            now: Duration::from_secs(1),
            client: stack(seed),
            server: stack(seed.wrapping_add(50)),
            buf: vec![0; 70_000],
        }
    }

    /// Delivers everything both sides have to send, until quiet.
    pub(crate) fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit(self.now, &mut self.buf) {
                self.server
                    .handle_packet(self.now, t.src, t.dst, &self.buf[..t.len]);
                moved = true;
            }
            while let Some(t) = self.server.poll_transmit(self.now, &mut self.buf) {
                self.client
                    .handle_packet(self.now, t.src, t.dst, &self.buf[..t.len]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Connects the client to the server's port 80 and delivers what
    /// follows, until quiet; returns the client's key.
    pub(crate) fn connect(&mut self) -> vtcp::ConnKey {
        let c = self
            .client
            .connect(self.now, CLIENT.into(), server_addr(80))
            .unwrap();
        self.settle();
        c
    }

    /// Runs timers and traffic until nothing is pending or `limit` passes.
    pub(crate) fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.settle();
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.client.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
    }
}

pub(crate) fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::new(SERVER.into(), port)
}

/// A segment from the client, checksummed.
pub(crate) fn from_client(seg: &Segment<&[u8]>) -> Vec<u8> {
    let mut bytes = seg.to_bytes();
    fill_tcp_checksum(
        &PseudoHeader::new(CLIENT.into(), SERVER.into()).unwrap(),
        &mut bytes,
    );
    bytes
}

pub(crate) fn one_reply(stack: &mut Stack, now: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2000];
    let t = stack.poll_transmit(now, &mut buf)?;
    Some(buf[..t.len].to_vec())
}

/// A SYN from the client's port 40000 to `port`.
pub(crate) fn syn_to(port: u16) -> Segment<&'static [u8]> {
    Segment {
        src_port: 40000,
        dst_port: port,
        seq: Seq(1000),
        flags: Flags::SYN,
        payload: &[][..],
        ..Default::default()
    }
}

/// A client SYN at the server's port 81, where nobody listens; returns it.
pub(crate) fn syn_to_closed_port(net: &mut Net) -> Segment<&'static [u8]> {
    let syn = syn_to(81);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&syn));
    syn
}

/// Ten clients at once at a listener of backlog 2: SYN cookies for the
/// rest, and every one connects and exchanges data.
pub(crate) fn backlog_overflow(seed: u8) {
    let mut net = Net::seeded(seed);
    let listener = net.server.listen(server_addr(80), 2).unwrap();
    // Ten clients at once, each with a request: two half-open slots, the
    // rest get cookies; an accept queue of two fills and empties as the
    // application accepts.
    let clients: Vec<_> = (0..10)
        .map(|_| {
            net.client
                .connect(net.now, CLIENT.into(), server_addr(80))
                .unwrap()
        })
        .collect();
    for c in &clients {
        net.client.conn_mut(*c).unwrap().write(b"hello").unwrap();
    }
    net.settle();
    assert!(
        net.server.counters().cookies_sent >= 8,
        "{:?}",
        net.server.counters()
    );
    let mut accepted = Vec::new();
    for _ in 0..30 {
        while let Some(k) = net.server.accept(listener) {
            accepted.push(k);
        }
        net.run_for(Duration::from_secs(2));
    }
    assert_eq!(accepted.len(), 10, "{:?}", net.server.counters());
    for c in &clients {
        assert_eq!(
            net.client.conn(*c).unwrap().state(),
            State::Established,
            "{c:?}"
        );
        let s = accepted
            .iter()
            .copied()
            .find(|k| k.remote == c.local)
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(net.server.conn_mut(s).unwrap().read(&mut buf), 5, "{c:?}");
    }
    assert!(net.server.counters().cookies_validated >= 8);
    // Data flows back on a cookie connection too.
    let last = *clients.last().unwrap();
    let s = accepted
        .iter()
        .copied()
        .find(|k| k.remote == last.local)
        .unwrap();
    net.server.conn_mut(s).unwrap().write(b"pong").unwrap();
    net.settle();
    let mut buf = [0u8; 8];
    assert_eq!(net.client.conn_mut(last).unwrap().read(&mut buf), 4);
    assert_eq!(&buf[..4], b"pong");
}

/// Runs `f` on a thread and fails the test if it takes more than a
/// minute: a deadlock shows as a failure, not a hung CI job.
pub(crate) fn within_a_minute(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => t.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = t.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("still running after a minute: deadlock?")
        }
    }
}
