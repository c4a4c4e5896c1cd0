//! Async sockets over a [`NetStack`], for tokio (the
//! `tokio` feature): [`TcpListener`] with `accept().await` and
//! [`TcpStream`], which is `AsyncRead` and `AsyncWrite`.
//!
//! They share the stack with the blocking handles; the stack's own driver
//! thread runs its timers, so no tokio timer or runtime feature is needed
//! (but for [`TcpStream::connect_timeout`], which uses tokio's timer).
//! A task waiting on a connection is woken when a segment for it arrives,
//! when a timer fires, or when another handle changes it; for timeouts
//! wrap calls in `tokio::time::timeout`.
//!
//! The names are tokio's (`tokio::net`), and what the blocking API offers
//! is here too: [`TcpListener::bind_transparent`] for a listener that
//! takes connections to any address (a VPN endpoint, a transparent
//! proxy), [`TcpStream::abort`] (RST), [`TcpStream::connect_timeout`],
//! [`TcpStream::into_split`] into [`OwnedReadHalf`] and
//! [`OwnedWriteHalf`] (and [`OwnedReadHalf::reunite`]). A stream is not
//! `Clone`: two tasks share one through its halves.
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

use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use vtcp_conn::{State, Stats};

use crate::NetStack;
use crate::net;
use crate::socket::{SocketId, Sockets, ready};
use crate::wait::Target;

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

    /// Listens on `addr` with at most `backlog` half-open connections and
    /// as many waiting to be accepted (as
    /// [`net::TcpListener::bind_with_backlog`]).
    pub fn bind_with_backlog(net: &NetStack, addr: SocketAddr, backlog: usize) -> io::Result<Self> {
        net::TcpListener::bind_with_backlog(net, addr, backlog).map(Self::from)
    }

    /// Listens transparently: connections to any address and port that no
    /// other listener takes, as [`net::TcpListener::bind_transparent`];
    /// each stream's [`TcpStream::local_addr`] is where its peer meant to
    /// go. The stack's IP layer must hand it every destination
    /// (`vtcp_tun::TunDriver::start_transparent`).
    pub fn bind_transparent(net: &NetStack, backlog: usize) -> io::Result<Self> {
        net::TcpListener::bind_transparent(net, backlog).map(Self::from)
    }

    /// Waits for an established connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for an established connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let shared = self.inner.net().shared();
        let mut g = shared.lock();
        if let Some(accepted) = ready(self.inner.try_accept(&mut g)) {
            shared.release(g, shared.now());
            return Poll::Ready(accepted.map(|(inner, from)| (TcpStream { inner }, from)));
        }
        g.waiters
            .register(Target::Listener(self.inner.id()), cx.waker());
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

/// A connection that is `AsyncRead` and `AsyncWrite`, as
/// `tokio::net::TcpStream`. `shutdown` (from `AsyncWriteExt`) sends FIN;
/// dropping it closes the connection (FIN after the queued data, RST if
/// unread data is left), [`TcpStream::abort`] resets it at once.
#[derive(Debug)]
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

    /// [`TcpStream::connect`], giving up after `timeout` (`TimedOut`,
    /// naming the address; the half-open connection is dropped, and the
    /// stack forgets it). Uses tokio's timer: the runtime must have it
    /// enabled (`#[tokio::main]` does).
    pub async fn connect_timeout(
        net: &NetStack,
        addr: SocketAddr,
        timeout: Duration,
    ) -> io::Result<Self> {
        match tokio::time::timeout(timeout, Self::connect(net, addr)).await {
            Ok(done) => done,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connecting to {addr}: no answer within {timeout:?}"),
            )),
        }
    }

    /// Polls until the handshake completes.
    pub fn poll_established(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        poll_socket(&self.inner, cx, |sockets, socket| {
            sockets.poll_connected(socket)
        })
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

    /// Turns Nagle's algorithm off (`true`) or on again, as tokio's
    /// `TcpStream::set_nodelay`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.nodelay()
    }

    /// Sets the hop limit (IPv4 TTL) of this connection's segments, as
    /// tokio's `TcpStream::set_ttl` (see [`net::TcpStream::set_ttl`]).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.set_ttl(ttl)
    }

    /// The hop limit of this connection's segments.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.ttl()
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.inner.state()
    }

    /// Resets the connection at once (RST), discarding queued data, as
    /// [`net::TcpStream::abort`]; reads and writes then fail with
    /// `ConnectionAborted`. What a forwarder does to its client when the
    /// destination refused.
    pub fn abort(&self) {
        self.inner.abort();
    }

    /// Splits the stream into a reading and a writing half, each of which
    /// can move to its own task, as tokio's `TcpStream::into_split`.
    /// Dropping the write half sends FIN (as tokio's); the connection
    /// closes once both are gone. [`OwnedReadHalf::reunite`] puts them
    /// together again.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let write = net::TcpStream {
            inner: Arc::clone(&self.inner.inner),
        };
        (
            OwnedReadHalf { inner: self.inner },
            OwnedWriteHalf {
                inner: write,
                shutdown_on_drop: true,
            },
        )
    }
}

/// What [`OwnedReadHalf::reunite`] gives back when the two halves are of
/// different streams: both halves, untouched.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl std::fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tried to reunite halves of two streams ({:?} and {:?})",
            self.0.inner, self.1.inner
        )
    }
}

impl std::error::Error for ReuniteError {}

/// The reading half of a [`TcpStream`] ([`TcpStream::into_split`]):
/// `AsyncRead`.
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: net::TcpStream,
}

/// The writing half of a [`TcpStream`] ([`TcpStream::into_split`]):
/// `AsyncWrite`. Dropping it sends FIN, as `AsyncWriteExt::shutdown`.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: net::TcpStream,
    shutdown_on_drop: bool,
}

impl OwnedReadHalf {
    /// The stream again, if `other` is its writing half.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if Arc::ptr_eq(&self.inner.inner, &other.inner.inner) {
            let mut other = other;
            other.shutdown_on_drop = false;
            Ok(TcpStream { inner: self.inner })
        } else {
            Err(ReuniteError(self, other))
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl OwnedWriteHalf {
    /// The stream again, if `other` is its reading half.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        other.reunite(self)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Resets the connection at once (RST), as [`TcpStream::abort`].
    pub fn abort(&self) {
        self.inner.abort();
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.inner.shutdown(Shutdown::Write);
        }
    }
}

/// One attempt of `call` on `stream`'s socket for a task: its result,
/// or `Pending` with the task registered on the connection. The stack's
/// output settles after a call that did something (a read may open the
/// window enough to announce it).
fn poll_socket<R>(
    stream: &net::TcpStream,
    cx: &mut Context<'_>,
    call: impl FnOnce(&mut Sockets, SocketId) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    let inner = &stream.inner;
    let shared = inner.net.shared();
    let mut g = shared.lock();
    match ready(call(&mut g.sockets, inner.socket)) {
        Some(done) => {
            shared.release(g, shared.now());
            Poll::Ready(done)
        }
        None => {
            g.waiters.register(Target::Conn(inner.key), cx.waker());
            Poll::Pending
        }
    }
}

/// One read of `stream` for a task: data, end of file, an error, or
/// `Pending` with the task registered on the connection.
fn poll_read(
    stream: &net::TcpStream,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if buf.remaining() == 0 {
        return Poll::Ready(Ok(()));
    }
    let read = poll_socket(stream, cx, |sockets, socket| {
        sockets.read(socket, buf.initialize_unfilled())
    });
    read.map_ok(|n| buf.advance(n))
}

/// One write to `stream` for a task: what the send buffer took, an error,
/// or `Pending` with the task registered on the connection.
fn poll_write(
    stream: &net::TcpStream,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    poll_socket(stream, cx, |sockets, socket| sockets.write(socket, buf))
}

/// `AsyncRead` for a type whose `inner` is the blocking stream.
macro_rules! async_read {
    ($t:ty) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read(&self.inner, cx, buf)
            }
        }
    };
}

/// `AsyncWrite` for a type whose `inner` is the blocking stream: data
/// is with the engine once written (nothing to flush), and `shutdown`
/// sends FIN.
macro_rules! async_write {
    ($t:ty) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                poll_write(&self.inner, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.inner.shutdown(Shutdown::Write))
            }
        }
    };
}

async_read!(TcpStream);
async_read!(OwnedReadHalf);
async_write!(TcpStream);
async_write!(OwnedWriteHalf);
