//! vtcp as a system under test: a sans-IO [`vtcp::Stack`] driven on a
//! virtual clock, no device, with Linux's settings (delayed ACK 40 ms,
//! RTO at least 200 ms, ten segments of initial window, a 64 KiB first
//! receive window: the engine's defaults are Linux's).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use vtcp::{ConnKey, ListenerId, Stack, StackConfig, StackError};

use super::compare::Outcome;
use super::peer::{PEER_ADDR, SUT_ADDR};
use super::script::Call;

/// Timers run per settle at the most, so that a timer that keeps coming
/// due at once cannot hold a run.
const MAX_TIMERS: usize = 10_000;

/// A vtcp stack with at most one listener and one connection.
pub struct VtcpSut {
    stack: Stack,
    now: Duration,
    sut_port: u16,
    peer: SocketAddr,
    listener: Option<ListenerId>,
    conn: Option<ConnKey>,
    /// Octets written so far (the payload's pattern follows them).
    written: u64,
}

impl VtcpSut {
    /// A stack whose secrets (ISNs, ports, cookies) come from `seed`,
    /// listening (when asked) on `sut_port`, talking to the peer on
    /// `peer_port`.
    pub fn new(seed: u64, sut_port: u16, peer_port: u16) -> Self {
        let mut cfg = StackConfig::default();
        let key = |salt: u64| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&(seed ^ salt).to_le_bytes());
            k[8..].copy_from_slice(&seed.wrapping_mul(salt | 1).to_le_bytes());
            k
        };
        cfg.isn_key = key(0x15);
        cfg.cookie_key = key(0xc0);
        Self {
            stack: Stack::new(cfg),
            now: Duration::from_secs(1),
            sut_port,
            peer: SocketAddr::new(IpAddr::V4(PEER_ADDR), peer_port),
            listener: None,
            conn: None,
            written: 0,
        }
    }

    fn conn_mut(&mut self) -> Option<&mut vtcp::Conn> {
        self.conn.and_then(|k| self.stack.conn_mut(k))
    }

    /// Closes (or aborts) the connection, else the listener.
    fn close(&mut self, abort: bool) -> Outcome {
        if let Some(key) = self.conn.take() {
            if let Some(c) = self.stack.conn_mut(key) {
                if abort {
                    c.abort();
                } else {
                    c.close();
                }
            }
            self.stack.release(key);
            return Outcome::Done(0);
        }
        match self.listener.take() {
            Some(id) => {
                self.stack.unlisten(id);
                Outcome::Done(0)
            }
            None => Outcome::NoSocket,
        }
    }
}

fn io_err(e: StackError) -> Outcome {
    Outcome::of(Err(e.into()))
}

/// The error a closed connection reports, else `fallback`.
fn closed(conn: &vtcp::Conn, fallback: StackError) -> Outcome {
    io_err(
        conn.close_reason()
            .and_then(StackError::from_close)
            .unwrap_or(fallback),
    )
}

impl super::run::Sut for VtcpSut {
    fn call(&mut self, call: Call) -> Outcome {
        let would_block = || Outcome::of(Err(io::ErrorKind::WouldBlock.into()));
        match call {
            Call::Listen => {
                let local = SocketAddr::new(IpAddr::V4(SUT_ADDR), self.sut_port);
                match self.stack.listen(local, 8) {
                    Ok(id) => {
                        self.listener = Some(id);
                        Outcome::Done(0)
                    }
                    Err(e) => io_err(e),
                }
            }
            Call::Accept => match self.listener {
                None => Outcome::NoSocket,
                Some(id) => match self.stack.accept(id) {
                    Some(key) => {
                        if let Some(old) = self.conn.replace(key) {
                            self.stack.release(old);
                        }
                        Outcome::Done(0)
                    }
                    None => would_block(),
                },
            },
            Call::Connect => match self
                .stack
                .connect(self.now, IpAddr::V4(SUT_ADDR), self.peer)
            {
                Ok(key) => {
                    if let Some(old) = self.conn.replace(key) {
                        self.stack.release(old);
                    }
                    Outcome::Done(0)
                }
                Err(e) => io_err(e),
            },
            Call::Write(n) => {
                let from = self.written;
                let Some(c) = self.conn_mut() else {
                    return Outcome::NoSocket;
                };
                let data: Vec<u8> = (0..u64::from(n)).map(|k| (from + k) as u8).collect();
                let r = match c.write(&data) {
                    Ok(0) if n > 0 => would_block(),
                    Ok(k) => Outcome::Done(k as u32),
                    Err(_) => closed(c, StackError::BrokenPipe),
                };
                if let Outcome::Done(k) = r {
                    self.written += u64::from(k);
                }
                r
            }
            Call::Read(n) => {
                let Some(c) = self.conn_mut() else {
                    return Outcome::NoSocket;
                };
                let mut buf = vec![0u8; n as usize];
                let k = c.read(&mut buf);
                if k > 0 || c.is_read_closed() || n == 0 {
                    Outcome::Done(k as u32)
                } else if c.state() == vtcp::State::Closed {
                    match c.close_reason().and_then(StackError::from_close) {
                        Some(e) => io_err(e),
                        None => Outcome::Done(0),
                    }
                } else {
                    would_block()
                }
            }
            Call::Shutdown => match self.conn_mut() {
                None => Outcome::NoSocket,
                Some(c) => match c.state() {
                    // As `vtcp::Sockets::shutdown`: TIME-WAIT is not
                    // connected any more.
                    vtcp::State::Closed
                    | vtcp::State::SynSent
                    | vtcp::State::Listen
                    | vtcp::State::TimeWait => closed(c, StackError::NotConnected),
                    _ => {
                        c.shutdown_write();
                        Outcome::Done(0)
                    }
                },
            },
            Call::Close => self.close(false),
            Call::Abort => self.close(true),
            Call::Nodelay(on) => match self.conn_mut() {
                None => Outcome::NoSocket,
                Some(c) => {
                    c.set_nodelay(on);
                    Outcome::Done(0)
                }
            },
        }
    }

    fn inject(&mut self, segment: &[u8]) -> io::Result<()> {
        self.stack.handle_packet(
            self.now,
            IpAddr::V4(PEER_ADDR),
            IpAddr::V4(SUT_ADDR),
            segment,
        );
        Ok(())
    }

    fn settle(&mut self, time: Duration) -> io::Result<Vec<Vec<u8>>> {
        let end = self.now + time;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        let mut drain = |stack: &mut Stack, now: Duration, out: &mut Vec<Vec<u8>>| {
            while let Some(t) = stack.poll_transmit(now, &mut buf) {
                if t.dst == IpAddr::V4(PEER_ADDR) {
                    out.push(buf[..t.len].to_vec());
                }
            }
            while stack.poll_event().is_some() {}
        };
        drain(&mut self.stack, self.now, &mut out);
        for _ in 0..MAX_TIMERS {
            // A timer due exactly at the end belongs to the next step, as
            // Linux's fire a little after their time.
            match self.stack.poll_timeout() {
                Some(t) if t < end => {
                    let t = t.max(self.now);
                    self.stack.handle_timeout(t);
                    drain(&mut self.stack, t, &mut out);
                }
                _ => break,
            }
        }
        self.now = end;
        Ok(out)
    }
}
