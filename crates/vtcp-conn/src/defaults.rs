//! The defaults of [`ConnConfig`](crate::ConnConfig) and
//! [`Keepalive`](crate::Keepalive), by name.
//!
//! Where a value differs from the Go package vtcp began as, the constant
//! says why (docs/seed-parity.md has the whole mapping).

use std::time::Duration;

/// The MSS we advertise: an Ethernet MTU of 1500 less 40 octets of IPv4
/// and TCP headers.
pub const MSS: u16 = 1460;

/// The largest window a segment can offer unscaled, and what a SYN offers
/// (RFC 7323 §2.2: the window of a SYN is never scaled).
pub const WINDOW: u16 = 65_535;

/// The ceiling of the send buffer: 4 MiB. Auto-tuning offers twice the
/// congestion window, at least [`SEND_BUFFER_FLOOR`], up to it (the Go
/// package had a fixed 1 MiB; a fixed buffer caps a path's throughput at
/// buffer / RTT, auto-tuning only what the path needs, as Linux does).
pub const SEND_BUFFER: usize = 4 << 20;

/// The ceiling of the receive buffer: 4 MiB, offered from
/// [`INITIAL_RECV_WINDOW`] upwards as the application reads (the Go
/// package had a fixed 1 MiB; see [`SEND_BUFFER`]).
pub const RECV_BUFFER: usize = 4 << 20;

/// The receive window auto-tuning offers at first: 64 KiB.
pub const INITIAL_RECV_WINDOW: usize = 64 * 1024;

/// The room the send buffer offers at the least when auto-tuned: 256 KiB.
pub const SEND_BUFFER_FLOOR: usize = 256 * 1024;

/// The RTO before any RTT sample: 1 s (RFC 6298 §2.1).
pub const INITIAL_RTO: Duration = Duration::from_secs(1);

/// The RTO's lower bound: 200 ms, as Linux (RFC 6298 §2.4 says 1 s, a
/// SHOULD that no modern stack keeps).
pub const MIN_RTO: Duration = Duration::from_millis(200);

/// The RTO's upper bound: 60 s (RFC 6298 §2.5).
pub const MAX_RTO: Duration = Duration::from_secs(60);

/// Retransmissions of one segment before the connection times out.
pub const MAX_RETRIES: u32 = 8;

/// How long TIME-WAIT lasts: 2 s, short for virtual networks (RFC 9293
/// says 2·MSL, 4 minutes; a simulator or a test rig would wait for ever).
pub const TIME_WAIT: Duration = Duration::from_secs(2);

/// The delayed-ACK time: 40 ms, as Linux's minimum (RFC 1122 §4.2.3.2:
/// under 500 ms).
pub const DELAYED_ACK: Duration = Duration::from_millis(40);

/// Keepalive: idle time before the first probe, 300 s (RFC 1122 §4.2.3.6
/// says no less than two hours by default; 5 minutes serves VPNs and
/// NATs that forget idle flows sooner).
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(300);

/// Keepalive: time between unanswered probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Keepalive: unanswered probes before the connection times out.
pub const KEEPALIVE_COUNT: u32 = 3;
