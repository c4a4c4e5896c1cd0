//! vtcp: a userspace TCP engine.
//!
//! One dependency gives every part, each also usable alone:
//! [`seq`] (sequence arithmetic), [`wire`] (segment codec, checksums),
//! [`cc`] (congestion control), [`rto`] (retransmission timer), [`buf`]
//! (send and receive buffers), [`cookie`] (SYN cookies), [`conn`] (one
//! connection as a sans-IO state machine), and [`Stack`]: many connections
//! behind one sans-IO endpoint, with listeners, SYN cookies and the
//! replies RFC 9293 requires for segments that match no connection; the
//! IP layer hands it ICMP errors too ([`icmp`], [`Stack::handle_icmp`]).
//!
//! Over the stack, [`net`] gives blocking, thread-safe sockets shaped like
//! `std::net` ([`TcpListener`], [`TcpStream`] on a [`NetStack`] that runs
//! the timers and hands segments to your [`SegmentWriter`]), and, with the
//! `tokio` feature, `async_net` gives the same as `AsyncRead`/`AsyncWrite`.
//! Both are [`socket`], the socket layer, on the wall clock: its calls
//! never wait and take the time as an argument, so a simulation or a
//! test runner drives the same sockets on a clock of its own.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use std::time::Duration;
//! use vtcp::{Stack, StackConfig};
//!
//! let server_ip: IpAddr = [198, 18, 0, 2].into();
//! let client_ip: IpAddr = [198, 18, 0, 1].into();
//! let mut server = Stack::new(StackConfig::default());
//! let mut client = Stack::new(StackConfig::default());
//! let listener = server.listen(SocketAddr::new(server_ip, 80), 16).unwrap();
//! let conn = client.connect(Duration::ZERO, client_ip, SocketAddr::new(server_ip, 80)).unwrap();
//!
//! // Move packets both ways until nothing is left to send.
//! let mut buf = vec![0u8; 2048];
//! loop {
//!     let mut moved = false;
//!     while let Some(t) = client.poll_transmit(Duration::ZERO, &mut buf) {
//!         server.handle_packet(Duration::ZERO, t.src, t.dst, &buf[..t.len]);
//!         moved = true;
//!     }
//!     while let Some(t) = server.poll_transmit(Duration::ZERO, &mut buf) {
//!         client.handle_packet(Duration::ZERO, t.src, t.dst, &buf[..t.len]);
//!         moved = true;
//!     }
//!     if !moved { break; }
//! }
//! let accepted = server.accept(listener).expect("a connection");
//! assert_eq!(client.conn(conn).unwrap().state(), vtcp::State::Established);
//! assert_eq!(accepted.remote.ip(), client_ip);
//! ```
#![deny(unsafe_code)]

#[cfg(feature = "tokio")]
pub mod async_net;
pub mod fastopen;
mod futex;
pub use futex::set_futex_hash_growth;
pub mod icmp;
#[cfg(feature = "ip")]
pub mod ip;
pub mod net;
#[cfg(feature = "pcap")]
pub mod pcap;
pub mod socket;
mod stack;
pub mod tap;
mod wait;

pub use fastopen::FastOpenConfig;
pub use net::{
    NetStack, OutboxLimits, OutboxStats, SegmentWriter, TcpListener, TcpStream, WeakNetStack,
    cut_super_segment,
};
pub use stack::{
    Checksum, ConnKey, Counters, IpFields, ListenerId, MAX_REPLIES, Stack, StackConfig, StackError,
    StackEvent, StrayHandler, Transmit,
};
pub use tap::{Direction, Tap};

/// The hop limit (IPv4 TTL) of segments whose connection sets none:
/// Linux's default (RFC 1700's recommended 64).
pub const DEFAULT_HOP_LIMIT: u8 = 64;
pub use vtcp_conn::{
    CloseReason, Congestion, Conn, ConnConfig, EcnCodepoint, EcnMode, Event, InitialWindow,
    Keepalive, State, Stats,
};

pub use vtcp_buf as buf;
pub use vtcp_cc as cc;
pub use vtcp_conn as conn;
pub use vtcp_cookie as cookie;
pub use vtcp_rto as rto;
pub use vtcp_seq as seq;
pub use vtcp_wire as wire;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
