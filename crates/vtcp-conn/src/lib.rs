//! One TCP connection as a deterministic, sans-IO state machine.
//!
//! [`Conn`] follows RFC 9293's state machine. It does no I/O and reads no
//! clock: the caller passes the time (a [`Duration`](std::time::Duration)
//! since any epoch it keeps) with every call, feeds received segments to
//! [`Conn::handle_segment`], and takes segments to send from
//! [`Conn::poll_transmit`] (into its own buffer, no allocation) or
//! [`Conn::drain_transmits`]. [`Conn::poll_timeout`] says when
//! [`Conn::handle_timeout`] must be called next.
//!
//! After every call that may change what is to be sent —
//! `handle_segment`, `handle_timeout`, `write`, `read`, `close`,
//! `shutdown_write`, `abort`, `connect` — call `poll_transmit` until it
//! returns `None`, then `poll_timeout` to arm your timer.
//!
//! What it implements, with the RFC section beside the code: the handshake
//! both ways and simultaneous open (§3.5), the acceptability test (§3.10.7.4),
//! RST and SYN handling against blind attacks (RFC 5961), ACK processing
//! with RTO (RFC 6298) and congestion control (RFC 5681/6582 through
//! `vtcp-cc`), fast retransmit and NewReno recovery, SACK blocks in our
//! ACKs (RFC 2018, RFC 2883) and SACK-based retransmission (RFC 6675),
//! window scaling and timestamps with PAWS (RFC 7323), delayed ACKs and
//! Nagle (RFC 1122, RFC 896), zero-window probing (§3.8.6.1), keepalive
//! (RFC 1122 §4.2.3.6), closing in every order and TIME-WAIT, ISNs per
//! RFC 6528, TCP Fast Open's cookies and SYN data (RFC 7413), the
//! cookies made, checked and cached by the caller, and ICMP errors
//! ([`Conn::handle_icmp`]: RFC 5927's check, path MTU per RFC 1191 and
//! RFC 8201, hard and soft errors per RFC 1122 §4.2.3.9 and RFC 5461).
//!
//! Two connections shaking hands and trading a few bytes, segments handed
//! across by the caller (no IP, no clock but the one passed in):
//!
//! ```
//! use std::time::Duration;
//! use vtcp_conn::{Conn, ConnConfig, Endpoints, State};
//! use vtcp_wire::ParsedSegment;
//!
//! let now = Duration::ZERO;
//! // The policy starts from the defaults (`ConnConfig` is
//! // non-exhaustive); who each end is goes apart, in `Endpoints`.
//! let policy = std::sync::Arc::new(ConnConfig::default());
//! let mut client = Conn::connect(policy.clone(), Endpoints::ports(40_000, 7), now);
//! let mut buf = vec![0u8; 2048];
//!
//! // The client's SYN opens the server (a listener would do this part).
//! let n = client.poll_transmit(now, &mut buf).expect("a SYN");
//! let syn = ParsedSegment::parse(&buf[..n])?;
//! let mut server = Conn::accept_syn(policy, Endpoints::ports(7, 40_000), now, &syn)?;
//!
//! // Hand every segment across until both are quiet.
//! fn exchange(a: &mut Conn, b: &mut Conn, now: Duration, buf: &mut [u8]) {
//!     loop {
//!         let mut moved = false;
//!         while let Some(n) = a.poll_transmit(now, buf) {
//!             b.handle_segment(now, &ParsedSegment::parse(&buf[..n]).unwrap());
//!             moved = true;
//!         }
//!         while let Some(n) = b.poll_transmit(now, buf) {
//!             a.handle_segment(now, &ParsedSegment::parse(&buf[..n]).unwrap());
//!             moved = true;
//!         }
//!         if !moved {
//!             return;
//!         }
//!     }
//! }
//! exchange(&mut server, &mut client, now, &mut buf);
//! assert_eq!(client.state(), State::Established);
//! assert_eq!(server.state(), State::Established);
//!
//! client.write(b"ping")?;
//! exchange(&mut client, &mut server, now, &mut buf);
//! let mut got = [0u8; 4];
//! assert_eq!(server.read(&mut got), 4);
//! assert_eq!(&got, b"ping");
//! # Ok::<(), vtcp_conn::ConnError>(())
//! ```
#![forbid(unsafe_code)]

mod autotune;
mod config;
mod conn;
mod cwnd_use;
pub mod defaults;
mod ecn;
pub mod fastopen;
mod icmp;
mod nanos;
mod negotiated;
mod pacing;
mod rate;
mod recovery;
mod recv;
mod send;
mod timer;
mod trace;
mod types;

#[cfg(feature = "tracing")]
#[doc(hidden)]
pub use tracing as __tracing;

pub use config::{
    Congestion, ConnConfig, Endpoints, INITIAL_RECV_WINDOW, IsnSource, Keepalive,
    SEND_BUFFER_FLOOR, SynOptionOrder,
};
pub use conn::{Conn, Written};
pub use ecn::{EcnCodepoint, EcnMode};
pub use fastopen::FastOpenOutcome;
pub use icmp::{
    IPV4_MIN_MTU, IPV6_MIN_MTU, IcmpClass, IcmpError, IcmpKind, IcmpOutcome, Unreachable,
};
pub use types::{CloseReason, ConnError, CookieHandshake, Event, State, Stats};
pub use vtcp_cc::InitialWindow;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
