//! Async sockets over a [`NetStack`], for tokio (the
//! `tokio` feature): [`TcpListener`] with `accept().await` and
//! [`TcpStream`], which is `AsyncRead` and `AsyncWrite`.
//!
//! They share the stack with the blocking handles; the stack's own driver
//! thread runs its timers, so no tokio timer or runtime feature is needed.
//! A task waiting on a connection is woken when a segment for it arrives,
//! when a timer fires, or when another handle changes it; for timeouts
//! wrap calls in `tokio::time::timeout`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! use std::net::{IpAddr, SocketAddr};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use vtcp::{NetStack, StackConfig};
//!
//! // Two stacks wired back to back.
//! let (a_ip, b_ip): (IpAddr, IpAddr) = ([198, 18, 0, 1].into(), [198, 18, 0, 2].into());
//! let (a, b) = NetStack::back_to_back(
//!     (StackConfig::default(), a_ip),
//!     (StackConfig::default(), b_ip),
//!     |_, _, _| true,
//! )?;
//!
//! let listener = vtcp::async_net::TcpListener::bind(&b, SocketAddr::new(b_ip, 7))?;
//! let server = tokio::spawn(async move {
//!     let (mut s, _) = listener.accept().await?;
//!     let mut line = [0u8; 5];
//!     s.read_exact(&mut line).await?;
//!     s.write_all(&line).await?;
//!     s.shutdown().await
//! });
//! let mut c = vtcp::async_net::TcpStream::connect(&a, SocketAddr::new(b_ip, 7)).await?;
//! c.write_all(b"hello").await?;
//! let mut echo = Vec::new();
//! c.read_to_end(&mut echo).await?;
//! assert_eq!(echo, b"hello");
//! server.await.unwrap()?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use vtcp_conn::{State, Stats};

use crate::NetStack;
use crate::net::{self, conn_of, try_established, try_read, try_write};
use crate::stack::ConnKey;

/// Tasks waiting on connections and listeners.
#[derive(Default)]
pub(crate) struct Wakers {
    conns: HashMap<ConnKey, Vec<Waker>>,
    /// By local port (a listener may be bound to the unspecified address).
    listeners: HashMap<u16, Vec<Waker>>,
}

fn add(list: &mut Vec<Waker>, waker: &Waker) {
    if !list.iter().any(|w| w.will_wake(waker)) {
        list.push(waker.clone());
    }
}

impl Wakers {
    fn wait_conn(&mut self, key: ConnKey, waker: &Waker) {
        add(self.conns.entry(key).or_default(), waker);
    }

    fn wait_listener(&mut self, port: u16, waker: &Waker) {
        add(self.listeners.entry(port).or_default(), waker);
    }

    pub(crate) fn forget(&mut self, key: ConnKey) {
        self.conns.remove(&key);
    }

    /// The tasks a segment from `src` to `dst` may concern: those of its
    /// connection and of the listener on its port.
    pub(crate) fn take_for_segment(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
    ) -> Vec<Waker> {
        let [sp0, sp1, dp0, dp1, ..] = *segment else {
            return Vec::new();
        };
        let (sport, dport) = (
            u16::from_be_bytes([sp0, sp1]),
            u16::from_be_bytes([dp0, dp1]),
        );
        let key = ConnKey {
            local: SocketAddr::new(dst, dport),
            remote: SocketAddr::new(src, sport),
        };
        let mut woken = self.conns.remove(&key).unwrap_or_default();
        if let Some(l) = self.listeners.remove(&dport) {
            woken.extend(l);
        }
        woken
    }

    /// The tasks of one connection (changed by another handle).
    pub(crate) fn take_conn(&mut self, key: ConnKey) -> Vec<Waker> {
        self.conns.remove(&key).unwrap_or_default()
    }

    /// Every task (timers fired: any connection may have changed).
    pub(crate) fn take_all(&mut self) -> Vec<Waker> {
        let conns = self.conns.drain().flat_map(|(_, v)| v);
        let listeners = self.listeners.drain().flat_map(|(_, v)| v);
        conns.chain(listeners).collect()
    }
}

/// A listening socket whose `accept` is async.
#[derive(Debug)]
pub struct TcpListener {
    inner: net::TcpListener,
}

impl TcpListener {
    /// Listens on `addr` with a backlog of 128 (as
    /// [`net::TcpListener::bind`]).
    pub fn bind(net: &NetStack, addr: SocketAddr) -> io::Result<Self> {
        net::TcpListener::bind(net, addr).map(Self::from)
    }

    /// Waits for an established connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for an established connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let net = self.inner.net();
        let shared = net.shared();
        let mut g = shared.lock();
        if let Some(key) = g.stack.accept(self.inner.id()) {
            let stream = net::TcpStream::from_key(net, key);
            shared.release(g, shared.now());
            return Poll::Ready(Ok((TcpStream { inner: stream }, key.remote)));
        }
        g.wakers
            .wait_listener(self.inner.id().local_addr().port(), cx.waker());
        Poll::Pending
    }

    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl From<net::TcpListener> for TcpListener {
    fn from(inner: net::TcpListener) -> Self {
        Self { inner }
    }
}

/// A connection that is `AsyncRead` and `AsyncWrite`. `shutdown` (from
/// `AsyncWriteExt`) sends FIN; dropping the last clone closes it.
#[derive(Clone, Debug)]
pub struct TcpStream {
    inner: net::TcpStream,
}

impl From<net::TcpStream> for TcpStream {
    fn from(inner: net::TcpStream) -> Self {
        Self { inner }
    }
}

impl From<TcpStream> for net::TcpStream {
    fn from(s: TcpStream) -> Self {
        s.inner
    }
}

impl TcpStream {
    /// Opens a connection to `addr` and waits until it is established (or
    /// refused, or the SYN retries run out).
    pub async fn connect(net: &NetStack, addr: SocketAddr) -> io::Result<Self> {
        let s = Self {
            inner: net::TcpStream::begin_connect(net, addr)?,
        };
        poll_fn(|cx| s.poll_established(cx)).await?;
        Ok(s)
    }

    /// Polls until the handshake completes.
    pub fn poll_established(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let key = self.inner.inner.key;
        let shared = self.inner.inner.net.shared();
        let mut g = shared.lock();
        let done = try_established(conn_of(&mut g.stack, key)?);
        if done.is_none() {
            g.wakers.wait_conn(key, cx.waker());
        }
        done.map_or(Poll::Pending, Poll::Ready)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The connection's statistics.
    pub fn stats(&self) -> io::Result<Stats> {
        self.inner.stats()
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.inner.state()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = &self.inner.inner;
        if buf.remaining() == 0 || inner.read_shut.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        let shared = inner.net.shared();
        let mut g = shared.lock();
        match try_read(conn_of(&mut g.stack, inner.key)?, buf.initialize_unfilled()) {
            Some(Ok(n)) if n > 0 => {
                buf.advance(n);
                // The read may open the window enough to announce it.
                shared.release(g, shared.now());
                Poll::Ready(Ok(()))
            }
            Some(done) => Poll::Ready(done.map(|_| ())),
            None => {
                g.wakers.wait_conn(inner.key, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let inner = &self.inner.inner;
        let shared = inner.net.shared();
        let mut g = shared.lock();
        match try_write(conn_of(&mut g.stack, inner.key)?, buf) {
            Some(Ok(n)) => {
                shared.release(g, shared.now());
                Poll::Ready(Ok(n))
            }
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => {
                g.wakers.wait_conn(inner.key, cx.waker());
                Poll::Pending
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.inner.shutdown(Shutdown::Write))
    }
}
