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

/// The RTO's bounds and initial value are the estimator's own
/// (`vtcp-rto`), named once there.
pub use vtcp_rto::{INITIAL_RTO, MAX_RTO, MIN_RTO};

/// The least the RTO adds to SRTT for its variance: 200 ms, Linux's
/// `TCP_RTO_MIN` in the place of RFC 6298's G, so that the RTO of a fast
/// path sits well above its RTT.
pub const MIN_RTO_VARIANCE: Duration = Duration::from_millis(200);

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

/// Retransmissions of a SYN that still ask for ECN (RFC 3168 §6.1.1.1),
/// FreeBSD's `net.inet.tcp.ecn.maxretries`: the first SYN and one
/// retransmission ask, later ones do not.
pub const ECN_SYN_RETRIES: u32 = 1;
