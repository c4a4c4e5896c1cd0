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
//! (RFC 1122 §4.2.3.6), closing in every order and TIME-WAIT, and ISNs per
//! RFC 6528.
#![forbid(unsafe_code)]

mod autotune;
mod config;
mod conn;
mod negotiated;
mod recovery;
mod recv;
mod send;
mod timer;
mod types;

pub use config::{
    Congestion, ConnConfig, INITIAL_RECV_WINDOW, IsnSource, Keepalive, SEND_BUFFER_FLOOR,
    SynOptionOrder,
};
pub use conn::Conn;
pub use types::{CloseReason, ConnError, CookieHandshake, Event, State, Stats};
