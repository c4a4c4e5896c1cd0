//! The socket layer: a table of sockets over a [`Stack`] with the calls
//! of a socket API (open, bind, listen, accept, connect, read, peek,
//! write, shutdown, close, abort, options) as non-blocking operations on
//! a clock the caller gives.
//!
//! It is the one socket layer of the project. [`crate::NetStack`] puts it
//! behind a mutex with the wall clock, threads that wait and wake, and a
//! driver thread for the timers (the blocking [`crate::TcpStream`] and
//! the async streams of `async_net`); the packetdrill runner (vtcp-drill)
//! drives the same table on its virtual clock, so the conformance suite
//! tests the semantics users get. Nothing here waits or reads a clock: a
//! call that would block returns [`io::ErrorKind::WouldBlock`], time is
//! the `now` argument, and the caller decides whether to wait (until the
//! connection's next event or the stack's next timer) and try again.
//!
//! Errors are `io::Error`s of the kinds `std::net` gives, built from a
//! [`StackError`] (which `io::Error::get_ref` gives back) except
//! `WouldBlock`, which carries none. After a connection failed, every
//! call reports its reason (`ConnectionReset`, `TimedOut`, …) once no data
//! is left to read; [`Sockets::take_error`] reads and clears it once, as
//! `SO_ERROR`.

use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::Duration;

use rustc_hash::FxHashMap;
use vtcp_conn::{Conn, State};

use crate::stack::{ConnKey, IpFields, ListenerId, Stack, StackError};

/// One socket of a [`Sockets`] table: what [`Sockets::open`] gives and
/// the other calls take. Not reused while the table lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(u64);

/// What a socket holds: where it is between `socket()` and `close()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Held {
    /// Just opened: neither bound, listening nor connected.
    Fresh,
    /// Bound to an address (the stack reserves nothing for it: a
    /// [`Stack`] keeps listeners and connections only).
    Bound(SocketAddr),
    /// Listening.
    Listening(ListenerId),
    /// A connection, in any state (closed ones included, until the socket
    /// is closed).
    Connected(ConnKey),
}

/// A socket's entry.
#[derive(Clone, Copy, Debug)]
struct Entry {
    held: Held,
    /// Reading was shut down: reads return end of file.
    read_shut: bool,
    /// The connection's error was reported ([`Sockets::take_error`]).
    error_taken: bool,
    /// IP header fields for its connection's segments.
    ip: IpFields,
    /// Its connection opens with TCP Fast Open (RFC 7413).
    fast_open: bool,
}

/// The socket table over a [`Stack`] it owns, and the stack's
/// addresses (which outgoing connections take their source address
/// from and binds are checked against).
pub struct Sockets {
    stack: Stack,
    addrs: Vec<IpAddr>,
    /// Keyed by ids this table hands out in sequence (never by what a
    /// peer sends), so a fast hash without a random key does.
    table: FxHashMap<SocketId, Entry>,
    next: u64,
}

/// The error of a call that would block.
fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

fn err(e: StackError) -> io::Error {
    e.into()
}

/// Whether `r` is "try again later" ([`io::ErrorKind::WouldBlock`]):
/// `None` then, the result otherwise (what a caller that waits and
/// retries matches on).
pub fn ready<T>(r: io::Result<T>) -> Option<io::Result<T>> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        r => Some(r),
    }
}

impl Sockets {
    /// A table with no sockets over `stack`, whose local addresses are
    /// `addrs`.
    pub fn new(stack: Stack, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        Self {
            stack,
            addrs: addrs.into_iter().collect(),
            table: FxHashMap::default(),
            next: 0,
        }
    }

    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The stack, to hand it segments, run its timers and take what it
    /// sends (the socket calls never send themselves: the caller polls
    /// [`Stack::poll_transmit`] after them).
    pub fn stack_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }

    /// The local addresses.
    pub fn addrs(&self) -> &[IpAddr] {
        &self.addrs
    }

    /// Runs the stack's timers if one is due at `now` (what a driver does
    /// between calls); true if it ran them.
    pub fn handle_timeout(&mut self, now: Duration) -> bool {
        let due = self.stack.poll_timeout().is_some_and(|t| t <= now);
        if due {
            self.stack.handle_timeout(now);
        }
        due
    }

    /// The local address of the family of `remote` that a connection to
    /// it comes from: the first of [`Sockets::addrs`] of that family.
    pub fn local_ip_for(&self, remote: IpAddr) -> Option<IpAddr> {
        self.addrs
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == remote.is_ipv4())
    }

    /// Number of open sockets.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no socket is open.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// A new socket, [`Held::Fresh`] (`socket()`).
    pub fn open(&mut self) -> SocketId {
        let id = SocketId(self.next);
        self.next += 1;
        self.table.insert(
            id,
            Entry {
                held: Held::Fresh,
                read_shut: false,
                error_taken: false,
                ip: IpFields::default(),
                fast_open: false,
            },
        );
        id
    }

    fn entry(&self, id: SocketId) -> io::Result<&Entry> {
        self.table
            .get(&id)
            .ok_or_else(|| err(StackError::InvalidInput))
    }

    fn entry_mut(&mut self, id: SocketId) -> io::Result<&mut Entry> {
        self.table
            .get_mut(&id)
            .ok_or_else(|| err(StackError::InvalidInput))
    }

    /// What the socket holds; `None` for a socket not open.
    pub fn held(&self, id: SocketId) -> Option<Held> {
        self.table.get(&id).map(|e| e.held)
    }

    /// The sockets open, and what each holds.
    pub fn sockets(&self) -> impl Iterator<Item = (SocketId, Held)> + '_ {
        self.table.iter().map(|(id, e)| (*id, e.held))
    }

    /// The connection's key, for a connected socket.
    pub fn conn_key(&self, id: SocketId) -> Option<ConnKey> {
        match self.held(id)? {
            Held::Connected(key) => Some(key),
            _ => None,
        }
    }

    /// The socket's connection, or `NotConnected`.
    pub fn conn(&self, id: SocketId) -> io::Result<&Conn> {
        self.conn_key(id)
            .and_then(|key| self.stack.conn(key))
            .ok_or_else(|| err(StackError::NotConnected))
    }

    /// The socket's connection, to change, or `NotConnected`.
    pub fn conn_mut(&mut self, id: SocketId) -> io::Result<&mut Conn> {
        self.conn_key(id)
            .and_then(|key| self.stack.conn_mut(key))
            .ok_or_else(|| err(StackError::NotConnected))
    }

    /// Binds a fresh socket to `addr`, which must be one of the stack's
    /// addresses or unspecified (`AddrNotAvailable` otherwise, as
    /// `std::net`); `InvalidInput` for a socket bound, listening or
    /// connected already (EINVAL). Nothing is reserved until it listens.
    pub fn bind(&mut self, id: SocketId, addr: SocketAddr) -> io::Result<()> {
        if !addr.ip().is_unspecified() && !self.addrs.contains(&addr.ip()) {
            return Err(err(StackError::AddrNotLocal(addr.ip())));
        }
        let e = self.entry_mut(id)?;
        if e.held != Held::Fresh {
            return Err(err(StackError::InvalidInput));
        }
        e.held = Held::Bound(addr);
        Ok(())
    }

    /// Listens on the address the socket is bound to, with at most
    /// `backlog` half-open connections and as many waiting to be
    /// accepted. A listening socket stays as it is; a fresh or connected
    /// one is refused (`InvalidInput`: bind it first).
    pub fn listen(&mut self, id: SocketId, backlog: usize) -> io::Result<ListenerId> {
        match self.entry(id)?.held {
            Held::Bound(addr) => {
                let lid = self.stack.listen(addr, backlog).map_err(err)?;
                self.entry_mut(id)?.held = Held::Listening(lid);
                Ok(lid)
            }
            Held::Listening(lid) => Ok(lid),
            Held::Fresh | Held::Connected(_) => Err(err(StackError::InvalidInput)),
        }
    }

    /// Listens transparently with a fresh socket
    /// ([`Stack::listen_transparent`]).
    pub fn listen_transparent(&mut self, id: SocketId, backlog: usize) -> io::Result<ListenerId> {
        if self.entry(id)?.held != Held::Fresh {
            return Err(err(StackError::InvalidInput));
        }
        let lid = self.stack.listen_transparent(backlog).map_err(err)?;
        self.entry_mut(id)?.held = Held::Listening(lid);
        Ok(lid)
    }

    /// The next established connection of a listening socket, as a new
    /// socket (with the listener's IP fields), and its key; `WouldBlock`
    /// when none waits, `InvalidInput` for a socket that does not listen
    /// (EINVAL).
    pub fn accept(&mut self, id: SocketId) -> io::Result<(SocketId, ConnKey)> {
        let listener = *self.entry(id)?;
        let Held::Listening(lid) = listener.held else {
            return Err(err(StackError::InvalidInput));
        };
        let key = self.stack.accept(lid).ok_or_else(would_block)?;

        let new = self.open();
        let e = self.entry_mut(new)?;
        e.held = Held::Connected(key);
        e.ip = listener.ip;
        Ok((new, key))
    }

    /// Opens the socket's connection to `addr` at `now` and returns at
    /// once, in SYN-SENT (the caller waits with
    /// [`Sockets::poll_connected`]); data written meanwhile goes once the
    /// connection is established, or in the SYN with TCP Fast Open
    /// ([`Sockets::set_fast_open`]). The source address is the bound one,
    /// or the stack's first of the destination's family
    /// (`AddrNotAvailable` with none); the port is ephemeral.
    /// `InvalidInput` for a socket listening or connected already.
    pub fn connect(
        &mut self,
        id: SocketId,
        now: Duration,
        addr: SocketAddr,
    ) -> io::Result<ConnKey> {
        let e = *self.entry(id)?;
        let bound_ip = match e.held {
            Held::Fresh => None,
            Held::Bound(a) => Some(a.ip()).filter(|ip| !ip.is_unspecified()),
            Held::Listening(_) | Held::Connected(_) => return Err(err(StackError::InvalidInput)),
        };
        let local_ip = bound_ip
            .or_else(|| self.local_ip_for(addr.ip()))
            .ok_or_else(|| err(StackError::NoSourceAddr(addr)))?;
        let key = if e.fast_open {
            self.stack.connect_fast_open(now, local_ip, addr)
        } else {
            self.stack.connect(now, local_ip, addr)
        }
        .map_err(err)?;
        if e.ip != IpFields::default()
            && let Some(c) = self.stack.conn_mut(key)
        {
            c.set_hop_limit(e.ip.hop_limit);
            c.set_traffic_class(e.ip.traffic_class);
        }
        debug_assert_eq!(key.local.ip(), local_ip);
        self.entry_mut(id)?.held = Held::Connected(key);
        Ok(key)
    }

    /// Whether the handshake is over: `Ok` once established (or later),
    /// `WouldBlock` while it goes on, the connection's error once it
    /// failed (`NotConnected` after an orderly close, or for a socket
    /// with no connection).
    pub fn poll_connected(&self, id: SocketId) -> io::Result<()> {
        let conn = self.conn(id)?;
        match conn.state() {
            State::SynSent | State::SynReceived | State::Listen => Err(would_block()),
            State::Closed => {
                Err(closed_error(conn).unwrap_or_else(|| err(StackError::NotConnected)))
            }
            _ => Ok(()),
        }
    }

    /// Reads into `buf`: data (how much), 0 at end of file or once
    /// reading was shut down or for an empty `buf`, the connection's
    /// error once it failed and nothing is left to read, `WouldBlock`
    /// when nothing is there yet. `NotConnected` for a socket with no
    /// connection.
    pub fn read(&mut self, id: SocketId, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(id, buf, false)
    }

    /// [`Sockets::read`] that leaves the data to be read again
    /// (`MSG_PEEK`).
    pub fn peek(&mut self, id: SocketId, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(id, buf, true)
    }

    fn receive(&mut self, id: SocketId, buf: &mut [u8], peek: bool) -> io::Result<usize> {
        let e = self.entry(id)?;
        if e.read_shut || buf.is_empty() {
            return Ok(0);
        }
        let conn = self.conn_mut(id)?;
        let n = if peek {
            let (a, b) = conn.peek_readable();
            let from_a = a.len().min(buf.len());
            buf[..from_a].copy_from_slice(&a[..from_a]);
            let from_b = b.len().min(buf.len() - from_a);
            buf[from_a..from_a + from_b].copy_from_slice(&b[..from_b]);
            debug_assert!(from_a + from_b <= buf.len());
            from_a + from_b
        } else {
            conn.read(buf)
        };
        if n > 0 {
            return Ok(n);
        }
        // POSIX (and FreeBSD's soreceive): with nothing to read, a
        // pending error comes before the end of file.
        if let Some(e) = closed_error(conn) {
            return Err(e);
        }
        if conn.is_read_closed() || conn.state() == State::Closed {
            return Ok(0);
        }
        Err(would_block())
    }

    /// Queues `buf` to send: how much the send buffer took (0 for an
    /// empty `buf`), `WouldBlock` when it is full, the connection's error
    /// once it failed, `BrokenPipe` after our side was shut down or
    /// closed, `NotConnected` for a socket with no connection.
    pub fn write(&mut self, id: SocketId, buf: &[u8]) -> io::Result<usize> {
        let conn = self.conn_mut(id)?;
        if buf.is_empty() {
            return Ok(0);
        }
        match conn.write(buf) {
            Ok(0) => Err(would_block()),
            Ok(n) => Ok(n),
            Err(_) => Err(closed_error(conn).unwrap_or_else(|| err(StackError::BrokenPipe))),
        }
    }

    /// Shuts down one or both halves: `Write` sends FIN after the queued
    /// data (the peer reads end of file; we can still read), `Read` makes
    /// our reads return end of file (what arrives is still acknowledged,
    /// as FreeBSD's `SHUT_RD`). `NotConnected` for a socket with no
    /// connection, a closed one or one in TIME-WAIT, both ways finished
    /// (RFC 9293 §3.10.4: CLOSE in TIME-WAIT is "error: connection
    /// closing"; Linux's and FreeBSD's ENOTCONN, their sockets being
    /// disconnected once the time-wait state takes over). A second
    /// shutdown before that is `Ok` (§3.10.4 allows it in FIN-WAIT-1 and
    /// FIN-WAIT-2; both kernels say 0 in CLOSING and LAST-ACK too).
    pub fn shutdown(&mut self, id: SocketId, how: Shutdown) -> io::Result<()> {
        let conn = self.conn_mut(id)?;
        if matches!(conn.state(), State::Closed | State::TimeWait) {
            return Err(err(StackError::NotConnected));
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            conn.shutdown_write();
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.entry_mut(id)?.read_shut = true;
        }
        Ok(())
    }

    /// Closes the socket (`close()`): a connection sends FIN after the
    /// queued data, or RST when unread data is left (RFC 9293 §3.10.4,
    /// RFC 2525 §2.17), and the stack forgets it once it has closed; a
    /// listener stops (its connections not accepted are reset). Nothing
    /// for a socket not open.
    pub fn close(&mut self, id: SocketId) {
        let Some(e) = self.table.remove(&id) else {
            return;
        };
        match e.held {
            Held::Connected(key) => {
                if let Some(c) = self.stack.conn_mut(key) {
                    c.close();
                }
                self.stack.release(key);
            }
            Held::Listening(lid) => self.stack.unlisten(lid),
            Held::Fresh | Held::Bound(_) => {}
        }
    }

    /// Resets the socket's connection at once (RST), discarding queued
    /// data; reads and writes then fail with `ConnectionAborted`. Nothing
    /// for a socket with no connection.
    pub fn abort(&mut self, id: SocketId) {
        if let Ok(c) = self.conn_mut(id) {
            c.abort();
        }
    }

    /// The connection's error, once (`SO_ERROR`): `None` after it was
    /// taken, for a connection that has not failed, and for a socket
    /// with no connection.
    pub fn take_error(&mut self, id: SocketId) -> Option<io::Error> {
        let error = closed_error(self.conn(id).ok()?)?;
        let e = self.entry_mut(id).ok()?;
        if e.error_taken {
            return None;
        }
        e.error_taken = true;
        Some(error)
    }

    /// Sets the IP header fields of the socket's segments
    /// (`IP_TTL`/`IP_TOS`, RFC 9293 MUST-49): of its connection from its
    /// next segment on, or of the connection it opens (a listener's are
    /// what its accepted sockets start with).
    pub fn set_ip_fields(&mut self, id: SocketId, ip: IpFields) -> io::Result<()> {
        self.entry_mut(id)?.ip = ip;
        if let Ok(c) = self.conn_mut(id) {
            c.set_hop_limit(ip.hop_limit);
            c.set_traffic_class(ip.traffic_class);
        }
        Ok(())
    }

    /// The socket's IP header fields: its connection's, or as set.
    pub fn ip_fields(&self, id: SocketId) -> io::Result<IpFields> {
        match self.conn(id) {
            Ok(c) => Ok(IpFields::of_conn(c)),
            Err(_) => Ok(self.entry(id)?.ip),
        }
    }

    /// Whether the connection the socket opens uses TCP Fast Open
    /// (`TCP_FASTOPEN` on a client, RFC 7413 §4.2: data written before
    /// the handshake goes in the SYN, with a cookie the stack has).
    /// `InvalidInput` once connected.
    pub fn set_fast_open(&mut self, id: SocketId, on: bool) -> io::Result<()> {
        let e = self.entry_mut(id)?;
        if matches!(e.held, Held::Connected(_)) {
            return Err(err(StackError::InvalidInput));
        }
        e.fast_open = on;
        Ok(())
    }

    /// Whether [`Sockets::set_fast_open`] is on.
    pub fn fast_open(&self, id: SocketId) -> bool {
        self.entry(id).is_ok_and(|e| e.fast_open)
    }
}

/// The error for a closed connection, or `None` after an orderly close
/// (or while it is open).
pub(crate) fn closed_error(conn: &Conn) -> Option<io::Error> {
    StackError::of_conn(conn).map(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StackConfig;
    use vtcp_wire::{Flags, Segment};

    const US: [u8; 4] = [198, 18, 0, 1];
    const PEER: [u8; 4] = [198, 18, 0, 2];

    /// A table over a stack on 198.18.0.1, and a sans-IO peer stack on
    /// 198.18.0.2 it talks to, moved by hand on a virtual clock.
    struct Pair {
        us: Sockets,
        peer: Stack,
        now: Duration,
        buf: Vec<u8>,
        /// What we sent, in order: each segment's flags and payload length.
        sent: Vec<(Flags, usize)>,
    }

    impl Pair {
        fn new() -> Self {
            Self {
                us: Sockets::new(Stack::new(StackConfig::default()), [IpAddr::from(US)]),
                peer: Stack::new(StackConfig::default()),
                now: Duration::from_secs(1),
                buf: vec![0; 70_000],
                sent: Vec::new(),
            }
        }

        /// Moves segments both ways until neither sends, at `now`.
        fn exchange(&mut self) {
            loop {
                let mut moved = false;
                while let Some(t) = self.us.stack_mut().poll_transmit(self.now, &mut self.buf) {
                    let seg = Segment::parse(&self.buf[..t.len]).expect("a segment");
                    self.sent.push((seg.flags, seg.payload.len()));
                    self.peer
                        .handle_packet(self.now, t.src, t.dst, &self.buf[..t.len]);
                    moved = true;
                }
                while let Some(t) = self.peer.poll_transmit(self.now, &mut self.buf) {
                    self.us
                        .stack_mut()
                        .handle_packet(self.now, t.src, t.dst, &self.buf[..t.len]);
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
        }

        /// Moves virtual time on by `d`, running both sides' timers.
        fn wait(&mut self, d: Duration) {
            self.now += d;
            self.us.handle_timeout(self.now);
            self.peer.handle_timeout(self.now);
            self.exchange();
        }

        /// Our socket connected to the peer's listener on port 80, and
        /// the peer's connection.
        fn connected(&mut self) -> (SocketId, ConnKey) {
            let lid = self
                .peer
                .listen(SocketAddr::from((PEER, 80)), 8)
                .expect("listening");
            let s = self.us.open();
            self.us
                .connect(s, self.now, SocketAddr::from((PEER, 80)))
                .expect("connecting");
            assert_eq!(
                self.us.poll_connected(s).map_err(|e| e.kind()),
                Err(io::ErrorKind::WouldBlock),
                "the SYN has not gone yet"
            );
            self.exchange();
            self.us.poll_connected(s).expect("established");
            let theirs = self.peer.accept(lid).expect("accepted");
            (s, theirs)
        }

        fn peer_writes(&mut self, key: ConnKey, data: &[u8]) {
            let n = self.peer.conn_mut(key).unwrap().write(data).unwrap();
            assert_eq!(n, data.len());
            self.exchange();
        }
    }

    fn kind<T: std::fmt::Debug>(r: io::Result<T>) -> io::ErrorKind {
        r.expect_err("an error").kind()
    }

    #[test]
    fn a_read_that_would_block_returns_the_data_once_it_came() {
        let mut p = Pair::new();
        let (s, theirs) = p.connected();
        let mut buf = [0u8; 16];
        assert_eq!(kind(p.us.read(s, &mut buf)), io::ErrorKind::WouldBlock);
        p.wait(Duration::from_millis(10));
        assert_eq!(kind(p.us.read(s, &mut buf)), io::ErrorKind::WouldBlock);
        p.peer_writes(theirs, b"hello");
        assert_eq!(p.us.read(s, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(kind(p.us.read(s, &mut buf)), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn peek_leaves_the_data_to_be_read() {
        let mut p = Pair::new();
        let (s, theirs) = p.connected();
        p.peer_writes(theirs, b"abcdef");
        let mut buf = [0u8; 4];
        assert_eq!(p.us.peek(s, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"abcd");
        let mut all = [0u8; 16];
        assert_eq!(p.us.peek(s, &mut all).unwrap(), 6);
        assert_eq!(p.us.read(s, &mut all).unwrap(), 6);
        assert_eq!(&all[..6], b"abcdef");
        assert_eq!(kind(p.us.peek(s, &mut all)), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn close_with_unread_data_sends_a_reset_and_without_a_fin() {
        // RFC 9293 §3.10.4, RFC 2525 §2.17: data the application never
        // read is lost, and the peer must know: RST, not FIN.
        let mut p = Pair::new();
        let (s, theirs) = p.connected();
        p.peer_writes(theirs, b"unread");
        p.sent.clear();
        p.us.close(s);
        assert!(p.us.is_empty());
        p.exchange();
        assert!(
            p.sent.iter().any(|(f, _)| f.contains(Flags::RST)),
            "{:?}",
            p.sent
        );
        assert!(!p.sent.iter().any(|(f, _)| f.contains(Flags::FIN)));
        assert_eq!(p.peer.conn(theirs).map(Conn::state), Some(State::Closed));

        let mut p = Pair::new();
        let (s, theirs) = p.connected();
        p.sent.clear();
        p.us.close(s);
        p.exchange();
        assert!(p.sent.iter().any(|(f, _)| f.contains(Flags::FIN)));
        assert!(!p.sent.iter().any(|(f, _)| f.contains(Flags::RST)));
        assert_eq!(p.peer.conn(theirs).map(Conn::state), Some(State::CloseWait));
    }

    #[test]
    fn shutdown_of_reading_makes_reads_end_of_file_and_writes_go_on() {
        let mut p = Pair::new();
        let (s, theirs) = p.connected();
        p.us.shutdown(s, Shutdown::Read).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(p.us.read(s, &mut buf).unwrap(), 0);
        p.peer_writes(theirs, b"late");
        assert_eq!(p.us.read(s, &mut buf).unwrap(), 0, "still end of file");
        assert_eq!(p.us.write(s, b"ok").unwrap(), 2);
        p.exchange();
        let mut got = [0u8; 8];
        assert_eq!(p.peer.conn_mut(theirs).unwrap().read(&mut got), 2);
        assert!(!p.sent.iter().any(|(f, _)| f.contains(Flags::FIN)));
    }

    #[test]
    fn shutdown_of_writing_sends_fin_and_reading_goes_on() {
        let mut p = Pair::new();
        let (s, theirs) = p.connected();
        p.us.shutdown(s, Shutdown::Write).unwrap();
        p.exchange();
        assert!(p.sent.iter().any(|(f, _)| f.contains(Flags::FIN)));
        assert_eq!(kind(p.us.write(s, b"x")), io::ErrorKind::BrokenPipe);
        p.peer_writes(theirs, b"back");
        let mut buf = [0u8; 8];
        assert_eq!(p.us.read(s, &mut buf).unwrap(), 4);
    }

    #[test]
    fn a_shutdown_again_is_ok_until_time_wait_then_not_connected() {
        let mut p = Pair::new();
        let (s, theirs) = p.connected();
        p.us.shutdown(s, Shutdown::Write).unwrap();
        p.exchange();
        // FIN-WAIT-2: the same shutdown again changes nothing and is Ok.
        assert_eq!(p.us.conn(s).unwrap().state(), State::FinWait2);
        p.us.shutdown(s, Shutdown::Write).unwrap();
        p.peer.conn_mut(theirs).unwrap().close();
        p.exchange();
        assert_eq!(p.us.conn(s).unwrap().state(), State::TimeWait);
        for how in [Shutdown::Write, Shutdown::Read, Shutdown::Both] {
            assert_eq!(
                kind(p.us.shutdown(s, how)),
                io::ErrorKind::NotConnected,
                "{how:?}"
            );
        }
        // Reading still says end of file.
        let mut buf = [0u8; 8];
        assert_eq!(p.us.read(s, &mut buf).unwrap(), 0);
    }

    #[test]
    fn a_reset_is_reported_to_each_call_and_once_to_take_error() {
        let mut p = Pair::new();
        let (s, theirs) = p.connected();
        p.peer.conn_mut(theirs).unwrap().abort();
        p.exchange();
        let mut buf = [0u8; 8];
        assert_eq!(kind(p.us.read(s, &mut buf)), io::ErrorKind::ConnectionReset);
        assert_eq!(kind(p.us.write(s, b"x")), io::ErrorKind::ConnectionReset);
        assert_eq!(
            kind(p.us.shutdown(s, Shutdown::Write)),
            io::ErrorKind::NotConnected
        );
        assert_eq!(
            p.us.take_error(s).map(|e| e.kind()),
            Some(io::ErrorKind::ConnectionReset)
        );
        assert!(p.us.take_error(s).is_none(), "taken");
    }

    #[test]
    fn accept_would_block_until_a_connection_is_established() {
        let mut p = Pair::new();
        let l = p.us.open();
        assert_eq!(
            kind(p.us.listen(l, 4)),
            io::ErrorKind::InvalidInput,
            "not bound"
        );
        assert_eq!(
            kind(p.us.bind(l, SocketAddr::from(([198, 18, 9, 9], 80)))),
            io::ErrorKind::AddrNotAvailable
        );
        p.us.bind(l, SocketAddr::from((US, 80))).unwrap();
        p.us.listen(l, 4).unwrap();
        assert_eq!(kind(p.us.accept(l)), io::ErrorKind::WouldBlock);
        let key = p
            .peer
            .connect(p.now, PEER.into(), SocketAddr::from((US, 80)))
            .unwrap();
        p.exchange();
        let (s, ours) = p.us.accept(l).unwrap();
        assert_eq!(ours.remote, key.local);
        assert_eq!(p.us.held(s), Some(Held::Connected(ours)));
        assert_eq!(kind(p.us.accept(s)), io::ErrorKind::InvalidInput);
        assert_eq!(kind(p.us.accept(l)), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_refused_connect_reports_it() {
        let mut p = Pair::new();
        let s = p.us.open();
        p.us.connect(s, p.now, SocketAddr::from((PEER, 81)))
            .unwrap();
        p.exchange();
        assert_eq!(
            kind(p.us.poll_connected(s)),
            io::ErrorKind::ConnectionRefused
        );
        assert_eq!(
            kind(p.us.connect(s, p.now, SocketAddr::from((PEER, 81)))),
            io::ErrorKind::InvalidInput,
            "connected already"
        );
    }

    #[test]
    fn a_full_send_buffer_would_block_until_acknowledged() {
        let mut p = Pair::new();
        let (s, _) = p.connected();
        let chunk = vec![7u8; 64 * 1024];
        let mut queued = 0;
        let blocked = loop {
            match p.us.write(s, &chunk) {
                Ok(n) => queued += n,
                Err(e) => break e.kind(),
            }
            assert!(queued < 64 << 20, "the send buffer never filled");
        };
        assert_eq!(blocked, io::ErrorKind::WouldBlock);
        p.exchange();
        // The peer has not read: its window may be closed; once it reads,
        // our buffer drains.
        let theirs = p.peer.conns().map(|(k, _)| k).next().unwrap();
        let mut sink = vec![0u8; 1 << 20];
        for _ in 0..64 {
            while p.peer.conn_mut(theirs).unwrap().read(&mut sink) > 0 {}
            p.wait(Duration::from_millis(1));
        }
        assert!(p.us.write(s, &chunk).unwrap() > 0);
    }
}
