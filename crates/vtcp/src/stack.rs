//! Many connections behind one sans-IO endpoint.

use std::cmp::Reverse;
use std::collections::hash_map::RandomState;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use siphasher::sip::SipHasher24;

use crate::fastopen::{CookieCache, FastOpenConfig, Plan};
use crate::icmp::{IcmpDelivery, IcmpError, IcmpKind, IcmpReport, Unreachable};
use crate::tap::{Direction, Tap};
use rustc_hash::FxHashMap;
use vtcp_conn::{Conn, ConnConfig, CookieHandshake, EcnCodepoint, Endpoints, IsnSource, State};
use vtcp_cookie::{Addrs, SynAckParams, SynCookies};
use vtcp_seq::Seq;
use vtcp_wire::checksum::{PseudoHeader, fill_tcp_checksum, verify_tcp_checksum};
use vtcp_wire::{FastOpen, Flags, ParsedSegment, Segment, SegmentView};

/// The key of the transparent listener ([`Stack::listen_transparent`]):
/// no real listener has port 0.
const TRANSPARENT: SocketAddr = SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0);

/// A connection's addresses: our end and the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnKey {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
}

impl ConnKey {
    /// The same connection as the other end sees it.
    pub fn swapped(self) -> Self {
        Self {
            local: self.remote,
            remote: self.local,
        }
    }
}

impl Hash for ConnKey {
    /// Two or three fixed-size writes (12 bytes for IPv4) instead of the
    /// dozen that hashing the two `SocketAddr`s field by field makes: the
    /// key is hashed for every packet that arrives.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let ports = u32::from(self.local.port()) << 16 | u32::from(self.remote.port());
        match (self.local.ip(), self.remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                state.write_u64(u64::from(l.to_bits()) << 32 | u64::from(r.to_bits()));
            }
            (l, r) => {
                let bits = |ip: IpAddr| match ip {
                    IpAddr::V4(a) => a.to_ipv6_mapped().to_bits(),
                    IpAddr::V6(a) => a.to_bits(),
                };
                state.write_u128(bits(l));
                state.write_u128(bits(r));
            }
        }
        state.write_u32(ports);
    }
}

/// What [`Stack::poll_event`] tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackEvent {
    /// An event of the connection with this key.
    Conn(ConnKey, vtcp_conn::Event),
    /// The listener has a connection for `accept`.
    Acceptable(ListenerId),
}

/// A listener, as returned by [`Stack::listen`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(SocketAddr);

impl ListenerId {
    /// The address and port listened on (the port chosen when 0 was
    /// asked for).
    pub fn local_addr(self) -> SocketAddr {
        self.0
    }
}

/// One segment to send: its IP addresses and header fields, and its
/// length in the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transmit {
    /// Source address for the IP header.
    pub src: IpAddr,
    /// Destination address for the IP header.
    pub dst: IpAddr,
    /// The other IP header fields the connection asks for.
    pub ip: IpFields,
    /// Length of the segment written into the buffer.
    pub len: usize,
    /// `Some(n)` for a super-segment (only with
    /// [`StackConfig::max_segment`] set): it stands for several segments
    /// of `n` octets of payload (the last one shorter), which the link
    /// cuts it into (TCP segmentation offload; [`vtcp_wire::tso::split`]
    /// in software). Its checksum field holds the pseudo-header's sum,
    /// not complemented, as Linux's `CHECKSUM_PARTIAL` wants it: each
    /// segment's checksum is completed over its own header and payload.
    pub segment_size: Option<usize>,
}

/// The IP header fields of a segment besides its addresses: its
/// connection's [`ConnConfig::hop_limit`] and [`ConnConfig::traffic_class`],
/// or the defaults for the stack's own replies (a RST for no connection).
/// The engine only carries them; the IP layer writes them (RFC 9293
/// MUST-48, MUST-49).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct IpFields {
    /// Hop limit (IPv4 TTL, IPv6 Hop Limit); `None`: the IP layer's own.
    pub hop_limit: Option<u8>,
    /// Traffic class (IPv4 TOS, IPv6 Traffic Class).
    pub traffic_class: u8,
}

impl IpFields {
    /// The fields `cfg` asks for.
    pub fn of(cfg: &ConnConfig) -> Self {
        Self {
            hop_limit: cfg.hop_limit,
            traffic_class: cfg.traffic_class,
        }
    }

    /// The fields `conn` goes with now (its configuration's, or what
    /// [`Conn::set_hop_limit`] and [`Conn::set_traffic_class`] made them).
    pub fn of_conn(conn: &Conn) -> Self {
        Self {
            hop_limit: conn.hop_limit(),
            traffic_class: conn.traffic_class(),
        }
    }
}

/// Errors of the stack's calls, with the `std::io::ErrorKind` that
/// `std::net` would give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// The local address and port are taken.
    #[error("address in use")]
    AddrInUse,
    /// No ephemeral port is free for this destination.
    #[error("no ephemeral port available")]
    AddrNotAvailable,
    /// The address to bind is not one of the stack's
    /// ([`crate::NetStack::new`]'s addresses); `std::io::ErrorKind::AddrNotAvailable`,
    /// as binding a foreign address with `std::net`.
    #[error("{0} is not an address of this stack")]
    AddrNotLocal(std::net::IpAddr),
    /// The stack has no address of the destination's family to connect
    /// from (an IPv6 destination with IPv4 addresses only, say);
    /// `std::io::ErrorKind::AddrNotAvailable`.
    #[error("no local {family} address to connect to {0} from", family = if .0.is_ipv4() { "IPv4" } else { "IPv6" })]
    NoSourceAddr(std::net::SocketAddr),
    /// An argument is not usable (address families differ, port 0 to
    /// connect to).
    #[error("invalid input")]
    InvalidInput,
    /// No such connection or listener.
    #[error("not connected")]
    NotConnected,
    /// The peer answered the SYN with a RST.
    #[error("connection refused")]
    ConnectionRefused,
    /// The peer reset the connection.
    #[error("connection reset by peer")]
    ConnectionReset,
    /// We aborted the connection.
    #[error("connection aborted")]
    ConnectionAborted,
    /// Retransmissions, keepalive probes, the user timeout or the connect
    /// timeout ran out.
    #[error("timed out")]
    TimedOut,
    /// Writing after our side was shut down or closed.
    #[error("broken pipe")]
    BrokenPipe,
    /// An ICMP error said the peer's host cannot be reached (a hard
    /// error that aborted the handshake, or the soft error kept when the
    /// connection timed out: EHOSTUNREACH).
    #[error("host unreachable")]
    HostUnreachable,
    /// An ICMP error said the peer's network cannot be reached
    /// (ENETUNREACH), as [`StackError::HostUnreachable`].
    #[error("network unreachable")]
    NetworkUnreachable,
    /// A read or write timeout passed with nothing done; `std::net` on
    /// Unix reports it as `WouldBlock` (EAGAIN), and so do we.
    #[error("read or write timeout passed")]
    DeadlineExceeded,
}

impl StackError {
    /// The error for a connection that closed for `reason`, when it must
    /// be an error (an orderly close is not: reads see end of file).
    pub fn from_close(reason: vtcp_conn::CloseReason) -> Option<Self> {
        use vtcp_conn::CloseReason;
        match reason {
            CloseReason::Normal => None,
            CloseReason::Reset => Some(Self::ConnectionReset),
            CloseReason::Refused => Some(Self::ConnectionRefused),
            CloseReason::TimedOut => Some(Self::TimedOut),
            CloseReason::Aborted => Some(Self::ConnectionAborted),
            // A reason added later: the connection did not close in order.
            _ => Some(Self::ConnectionAborted),
        }
    }

    /// The error for a closed connection, as [`StackError::from_close`],
    /// with the ICMP error it kept in place of a timeout or an ICMP
    /// abort (RFC 1122 §4.2.3.9: a connection that times out after a
    /// soft error reports that error, as Linux and FreeBSD do).
    pub fn of_conn(conn: &Conn) -> Option<Self> {
        use vtcp_conn::CloseReason;
        let reason = conn.close_reason()?;
        match (reason, conn.icmp_error()) {
            (CloseReason::TimedOut | CloseReason::Unreachable, Some(e)) => Some(Self::from_icmp(e)),
            _ => Self::from_close(reason),
        }
    }

    /// The error an ICMP error stands for, as FreeBSD maps them
    /// (`inetctlerrmap`, `icmp6_errmap`): refused for protocol and port
    /// unreachable, the "administratively prohibited" codes and ICMPv6's
    /// unrecognized Next Header; network unreachable for the network
    /// codes; host unreachable for everything else (host codes, time
    /// exceeded, parameter problems).
    pub fn from_icmp(error: IcmpError) -> Self {
        match error.kind {
            _ if error.refused() => Self::ConnectionRefused,
            IcmpKind::Unreachable(
                Unreachable::Net | Unreachable::NetUnknown | Unreachable::NetForTos,
            ) => Self::NetworkUnreachable,
            _ => Self::HostUnreachable,
        }
    }
}

impl From<StackError> for std::io::Error {
    fn from(e: StackError) -> Self {
        use std::io::ErrorKind;
        let kind = match e {
            StackError::AddrInUse => ErrorKind::AddrInUse,
            StackError::AddrNotAvailable
            | StackError::AddrNotLocal(_)
            | StackError::NoSourceAddr(_) => ErrorKind::AddrNotAvailable,
            StackError::InvalidInput => ErrorKind::InvalidInput,
            StackError::NotConnected => ErrorKind::NotConnected,
            StackError::ConnectionRefused => ErrorKind::ConnectionRefused,
            StackError::ConnectionReset => ErrorKind::ConnectionReset,
            StackError::ConnectionAborted => ErrorKind::ConnectionAborted,
            StackError::TimedOut => ErrorKind::TimedOut,
            StackError::BrokenPipe => ErrorKind::BrokenPipe,
            StackError::HostUnreachable => ErrorKind::HostUnreachable,
            StackError::NetworkUnreachable => ErrorKind::NetworkUnreachable,
            StackError::DeadlineExceeded => ErrorKind::WouldBlock,
        };
        Self::new(kind, e)
    }
}

/// Whether the TCP checksum of a segment handed to the stack is still to
/// be verified ([`Stack::handle_verified_packet`],
/// [`crate::NetStack::handle_packets_checked`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Checksum {
    /// The stack verifies it (when [`StackConfig::checksums`] is on) and
    /// drops the segment if it is wrong, as [`Stack::handle_packet`].
    #[default]
    Unchecked,
    /// The caller verified it, or its link vouches for it (a virtio-net
    /// header's DATA_VALID, or NEEDS_CSUM on a packet the kernel made
    /// itself): the stack takes the segment as it is.
    Verified,
}

/// Counters over the whole stack, as `netstat -s` gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Segments received.
    pub segments_in: u64,
    /// Segments sent.
    pub segments_out: u64,
    /// Segments dropped for a bad checksum.
    pub bad_checksums: u64,
    /// Segments dropped as malformed.
    pub malformed: u64,
    /// RSTs received.
    pub rsts_in: u64,
    /// RSTs sent for segments that matched no connection.
    pub rsts_out: u64,
    /// SYN-ACKs sent with a cookie.
    pub cookies_sent: u64,
    /// Cookie ACKs that created a connection.
    pub cookies_validated: u64,
    /// ACKs whose cookie was refused.
    pub cookies_refused: u64,
    /// Handshakes that completed while the accept queue was full: the
    /// connection waits for room, or, when it came by cookie, its ACK is
    /// dropped (the peer retransmits).
    pub accept_queue_overflows: u64,
    /// Connections created (active and passive).
    pub connections_opened: u64,
    /// Connections removed after closing.
    pub connections_closed: u64,
    /// Segments without a connection dropped unanswered because their
    /// source or destination is not a unicast address (RFC 1122
    /// §4.2.3.10: broadcast, multicast, unspecified).
    pub not_unicast: u64,
    /// Segments with both SYN and FIN to a listener, dropped
    /// (`ConnConfig::drop_syn_fin`).
    pub syn_fin_dropped: u64,
    /// The stack's own replies (RSTs and cookie SYN-ACKs) not sent because
    /// [`MAX_REPLIES`] were already waiting to be taken: a caller that
    /// stops taking segments (a full device queue) and a flood of SYNs
    /// cost bounded memory.
    pub replies_dropped: u64,
    /// SYN-ACKs sent with a TCP Fast Open cookie (RFC 7413 §4.1.2).
    pub fast_open_cookies_sent: u64,
    /// SYNs whose TFO cookie was valid and whose data was taken.
    pub fast_open_accepted: u64,
    /// SYNs with a valid TFO cookie that got the plain handshake: the
    /// listener's pending TFO connections were at
    /// [`FastOpenConfig::max_pending`], or its accept queue was full.
    pub fast_open_over_limit: u64,
    /// ICMP errors a connection accepted ([`Stack::handle_icmp`]).
    pub icmp_accepted: u64,
    /// ICMP errors ignored because the sequence number they quote is not
    /// in flight (RFC 5927 §4.1).
    pub icmp_out_of_window: u64,
    /// ICMP errors that quote no connection of the stack, or too little
    /// of a TCP header to name one.
    pub icmp_no_connection: u64,
}

impl std::ops::AddAssign<&Self> for Counters {
    /// Adds another stack's counters, field by field (the sum over the
    /// stacks of one interface, one per queue).
    fn add_assign(&mut self, o: &Self) {
        // Destructured, so that a field added later cannot be missed.
        let Self {
            segments_in,
            segments_out,
            bad_checksums,
            malformed,
            rsts_in,
            rsts_out,
            cookies_sent,
            cookies_validated,
            cookies_refused,
            accept_queue_overflows,
            connections_opened,
            connections_closed,
            not_unicast,
            syn_fin_dropped,
            replies_dropped,
            fast_open_cookies_sent,
            fast_open_accepted,
            fast_open_over_limit,
            icmp_accepted,
            icmp_out_of_window,
            icmp_no_connection,
        } = o;
        self.segments_in += segments_in;
        self.segments_out += segments_out;
        self.bad_checksums += bad_checksums;
        self.malformed += malformed;
        self.rsts_in += rsts_in;
        self.rsts_out += rsts_out;
        self.cookies_sent += cookies_sent;
        self.cookies_validated += cookies_validated;
        self.cookies_refused += cookies_refused;
        self.accept_queue_overflows += accept_queue_overflows;
        self.connections_opened += connections_opened;
        self.connections_closed += connections_closed;
        self.not_unicast += not_unicast;
        self.syn_fin_dropped += syn_fin_dropped;
        self.replies_dropped += replies_dropped;
        self.fast_open_cookies_sent += fast_open_cookies_sent;
        self.fast_open_accepted += fast_open_accepted;
        self.fast_open_over_limit += fast_open_over_limit;
        self.icmp_accepted += icmp_accepted;
        self.icmp_out_of_window += icmp_out_of_window;
        self.icmp_no_connection += icmp_no_connection;
    }
}

/// Segments a connection sends in a row before the next connection with
/// something to send takes its turn ([`Stack::poll_transmit`]): about
/// one 64 KiB super-segment's worth. Turns of one segment were fair but
/// cost the receiving kernel its coalescing of consecutive segments of a
/// flow (four flows from vtcp to the kernel on a plain TUN moved 2.6
/// Gbit/s in all; 3.0 with turns of 16 segments, 3.8 with 64; 4.2
/// without turns, where the slowest flow got 3 % of an even share).
pub(crate) const TURN: u32 = 64;

/// The most replies of the stack's own (RSTs for no connection, cookie
/// SYN-ACKs) waiting for [`Stack::poll_transmit`]; past it, a reply is
/// dropped and counted ([`Counters::replies_dropped`]), as a kernel
/// rate-limits them.
pub const MAX_REPLIES: usize = 1024;

/// How a stack is set up.
///
/// Non-exhaustive, as later releases add settings: start from
/// `default()` and set the fields you need. `Clone` (the connections'
/// policy is a value, not a factory), so that stacks alike are made from
/// one.
#[derive(Clone)]
#[non_exhaustive]
pub struct StackConfig {
    /// The policy of every new connection ([`Stack::set_conn_config`]
    /// changes it later, for the connections made after). Who each
    /// connection is (addresses, ports, the RFC 6528 ISN keyed by
    /// `isn_key`) the stack decides apart ([`vtcp_conn::Endpoints`]); of
    /// the policy it changes one value, and says so here: `mss` is
    /// lowered to what [`StackConfig::mtu`] leaves over each IP family
    /// (RFC 9293 §3.7.1). The connections over one family share one copy.
    pub conn: ConnConfig,
    /// Compute checksums on send and verify them on receive (turn off when
    /// the link does it).
    pub checksums: bool,
    /// The range ephemeral ports are drawn from (RFC 6335: 49152–65535).
    pub ephemeral_ports: (u16, u16),
    /// Secret for SYN cookies.
    pub cookie_key: [u8; 16],
    /// Secret for ISNs (RFC 6528) and ephemeral ports (RFC 6056).
    pub isn_key: [u8; 16],
    /// The link's MTU, the largest IP packet it carries: the MSS each
    /// connection advertises is at most this less the IP and TCP headers,
    /// 40 octets over IPv4 and 60 over IPv6 (RFC 9293 §3.7.1), whatever
    /// [`StackConfig::conn`] says. At the default 1500, `ConnConfig::mss`'s
    /// 1460 stays 1460 over IPv4 and is 1440 over IPv6. `vtcp-tun` lowers
    /// it to its device's MTU.
    pub mtu: u16,
    /// The largest TCP segment, header included, the link takes for
    /// cutting into MSS-sized segments itself (TCP segmentation offload):
    /// a connection with several full segments of new data to send hands
    /// them out as one super-segment of up to this many octets
    /// ([`Transmit::segment_size`], [`vtcp_conn::Conn::poll_transmit_super`]).
    /// At most 65,515 over IPv4 (its total length field) and 65,535 over
    /// IPv6, and the caller's buffer. 0, the default: one segment at a
    /// time. `vtcp-tun` sets it on a device with TSO.
    pub max_segment: usize,
    /// TCP Fast Open (RFC 7413): off by default, client and server.
    pub fast_open: FastOpenConfig,
}

/// The least MSS [`StackConfig::mtu`] leaves a connection.
const MIN_MSS: u16 = 64;

impl StackConfig {
    /// These settings with `policy` for the connections
    /// ([`StackConfig::conn`]).
    #[must_use]
    pub fn with_conn_config(mut self, policy: ConnConfig) -> Self {
        self.conn = policy;
        self
    }
}

impl Default for StackConfig {
    /// Random secrets from the operating system's generator.
    fn default() -> Self {
        Self {
            conn: ConnConfig::default(),
            checksums: true,
            ephemeral_ports: (49152, 65535),
            cookie_key: rand::random(),
            isn_key: rand::random(),
            mtu: 1500,
            max_segment: 0,
            fast_open: FastOpenConfig::default(),
        }
    }
}

/// Where a connection that a listener made stands until the application
/// accepts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// In SYN-RECEIVED, counting against the backlog.
    HalfOpen,
    /// Established while the accept queue was full: it waits, still
    /// counting against the backlog, until `accept` makes room.
    Waiting,
    /// In the accept queue.
    Queued,
}

/// A connection in a listener's queue: its slot and generation.
type QueuedConn = (u32, u32);

struct Listener {
    backlog: usize,
    /// Connections in [`Stage::HalfOpen`] or [`Stage::Waiting`]: a
    /// count, not a set, so a SYN costs no hashing beyond the lookup of
    /// its 4-tuple.
    half_open: usize,
    /// Connections in [`Stage::Waiting`], oldest first.
    waiting: VecDeque<QueuedConn>,
    /// Connections ready for `accept`, oldest first.
    accept_queue: VecDeque<QueuedConn>,
    /// A [`StackEvent::Acceptable`] for it is queued.
    announced: bool,
}

struct Entry {
    /// Boxed: the slot vector grows by doubling, and its spare room
    /// should cost a pointer per slot, not a whole connection.
    conn: Box<Conn>,
    /// Where the connection stands in the listener that created it and
    /// has not handed it out yet; the listener itself is in the table's
    /// side map ([`Table::listener`]), so that a slot does not carry a
    /// socket address for the few connections not accepted yet.
    stage: Option<Stage>,
    /// The application holds it (from `connect` or `accept`); a closed
    /// connection nobody holds is removed.
    owned: bool,
    /// Tells this connection from earlier ones in the same slot.
    generation: u32,
    /// In the queue of connections that may have something to send.
    dirty: bool,
    /// In the queue of connections that may have events to tell.
    ready: bool,
    /// The earliest deadline of this connection in the timer heap, in
    /// nanoseconds ([`nanos`]); [`NOT_QUEUED`] when none.
    queued: u64,
}

/// [`Entry::queued`] when the connection has no deadline in the heap.
const NOT_QUEUED: u64 = u64::MAX;

/// A deadline as the timer heap holds it: nanoseconds, saturated below
/// [`NOT_QUEUED`] (584 years on).
#[inline]
fn nanos(t: Duration) -> u64 {
    u64::try_from(t.as_nanos()).map_or(NOT_QUEUED - 1, |n| n.min(NOT_QUEUED - 1))
}

impl Entry {
    /// The connection's key, from the addresses and ports the connection
    /// holds (the stack made it with them): the slot does not keep a
    /// second copy (issue 22).
    fn key(&self) -> ConnKey {
        let (local, remote) = self
            .conn
            .local_addr()
            .zip(self.conn.remote_addr())
            .expect("a stack's connection has its addresses");
        ConnKey {
            local: SocketAddr::new(local, self.conn.local_port()),
            remote: SocketAddr::new(remote, self.conn.remote_port()),
        }
    }

    /// Whether the connection is `key`'s, without building its key.
    fn is(&self, key: &ConnKey) -> bool {
        Self::is_key_of(&self.conn, key)
    }

    fn is_key_of(conn: &Conn, key: &ConnKey) -> bool {
        conn.local_port() == key.local.port()
            && conn.remote_port() == key.remote.port()
            && conn.local_addr() == Some(key.local.ip())
            && conn.remote_addr() == Some(key.remote.ip())
    }
}

/// A 4-tuple over IPv4 as the index holds it: 12 octets, where a
/// [`ConnKey`]'s two `SocketAddr`s take 64 (issue 22).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key4 {
    addrs: [u8; 8],
    ports: [u16; 2],
}

/// Any other 4-tuple (IPv6, or one end of each family, which no packet
/// carries but `connect` does not refuse): 37 octets, each IPv4 address
/// mapped into IPv6 and flagged, so that no mapped address is taken for
/// the IPv4 one it maps.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key6 {
    addrs: [u8; 32],
    ports: [u16; 2],
    v4: u8,
}

/// A key packed for the index.
enum Packed {
    V4(Key4),
    V6(Key6),
}

impl Packed {
    fn of(key: &ConnKey) -> Self {
        let ports = [key.local.port(), key.remote.port()];
        match (key.local.ip(), key.remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                let mut addrs = [0; 8];
                addrs[..4].copy_from_slice(&l.octets());
                addrs[4..].copy_from_slice(&r.octets());
                Self::V4(Key4 { addrs, ports })
            }
            (l, r) => {
                let six = |ip: IpAddr| match ip {
                    IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
                    IpAddr::V6(a) => a.octets(),
                };
                let mut addrs = [0; 32];
                addrs[..16].copy_from_slice(&six(l));
                addrs[16..].copy_from_slice(&six(r));
                let v4 = u8::from(l.is_ipv4()) | u8::from(r.is_ipv4()) << 1;
                Self::V6(Key6 { addrs, ports, v4 })
            }
        }
    }
}

/// The index from 4-tuples to slots, one map per key size.
#[derive(Default)]
struct Index {
    v4: HashMap<Key4, u32, RandomState>,
    v6: HashMap<Key6, u32, RandomState>,
}

impl Index {
    fn get(&self, key: &ConnKey) -> Option<u32> {
        match Packed::of(key) {
            Packed::V4(k) => self.v4.get(&k).copied(),
            Packed::V6(k) => self.v6.get(&k).copied(),
        }
    }

    fn insert(&mut self, key: &ConnKey, slot: u32) {
        let old = match Packed::of(key) {
            Packed::V4(k) => self.v4.insert(k, slot),
            Packed::V6(k) => self.v6.insert(k, slot),
        };
        debug_assert!(old.is_none(), "one connection per 4-tuple");
    }

    fn remove(&mut self, key: &ConnKey) {
        let slot = match Packed::of(key) {
            Packed::V4(k) => self.v4.remove(&k),
            Packed::V6(k) => self.v6.remove(&k),
        };
        debug_assert!(slot.is_some(), "a connection held is indexed");
    }

    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

/// A timer: its deadline, the slot and the generation of the connection
/// it was set for.
/// A deadline in nanoseconds ([`nanos`]), a slot and its generation.
type Timer = Reverse<(u64, u32, u32)>;

/// The connections, in slots. Only packets arriving and the
/// application's calls are matched by key (one hash at most each);
/// everything inside the stack names slots, so moving a segment through
/// the stack costs no further hashing.
struct Table {
    index: Index,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// The listener of each connection that has one ([`Entry::stage`]).
    listeners: FxHashMap<u32, ListenerId>,
    generation: u32,
    /// The slot last found by key. Segments come in trains for one
    /// connection, and the application's calls follow the segments that
    /// woke it, so most lookups are for this one; it is checked against
    /// the slot's own key, so it never needs to be cleared (the BSD
    /// stacks' one-behind cache, with none of its staleness).
    recent: u32,
}

impl Table {
    /// The slot holding `key`'s connection, remembered as the recent one.
    fn slot_of(&mut self, key: &ConnKey) -> Option<u32> {
        if self.get(self.recent).is_some_and(|e| e.is(key)) {
            return Some(self.recent);
        }
        let slot = self.index.get(key)?;
        self.recent = slot;
        Some(slot)
    }

    /// Like `slot_of`, for callers that cannot update the recent slot.
    fn peek_slot_of(&self, key: &ConnKey) -> Option<u32> {
        if self.get(self.recent).is_some_and(|e| e.is(key)) {
            return Some(self.recent);
        }
        self.index.get(key)
    }

    fn get(&self, slot: u32) -> Option<&Entry> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, slot: u32) -> Option<&mut Entry> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    fn by_key(&self, key: &ConnKey) -> Option<&Entry> {
        self.peek_slot_of(key).and_then(|i| self.get(i))
    }

    /// The listener that made the connection in `slot` and has not
    /// handed it out yet, and where the connection stands in it.
    fn listener(&self, slot: u32) -> Option<(ListenerId, Stage)> {
        let stage = self.get(slot)?.stage?;
        Some((*self.listeners.get(&slot)?, stage))
    }

    /// Sets what [`listener`](Self::listener) says of `slot`.
    fn set_listener(&mut self, slot: u32, listener: Option<(ListenerId, Stage)>) {
        let Some(e) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        e.stage = listener.map(|(_, stage)| stage);
        match listener {
            Some((id, _)) => {
                self.listeners.insert(slot, id);
            }
            None => {
                self.listeners.remove(&slot);
            }
        }
    }

    /// Puts `entry` in a free slot under a new generation; returns the
    /// slot.
    fn insert(&mut self, mut entry: Entry) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        entry.generation = self.generation;
        let key = entry.key();
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(entry);
                i
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(&key, slot);
        self.recent = slot;
        slot
    }

    /// Empties `slot`; returns its entry and its listener.
    fn remove(&mut self, slot: u32) -> Option<(Entry, Option<(ListenerId, Stage)>)> {
        let e = self.slots.get_mut(slot as usize)?.take()?;
        let listener = e
            .stage
            .and_then(|stage| Some((self.listeners.remove(&slot)?, stage)));
        self.index.remove(&e.key());
        self.free.push(slot);
        Some((e, listener))
    }
}

/// Many connections behind one sans-IO endpoint.
///
/// Like [`Conn`], it does no I/O and reads no clock: packets come in with
/// [`Stack::handle_packet`], go out through [`Stack::poll_transmit`], and
/// [`Stack::poll_timeout`] says when to call [`Stack::handle_timeout`].
/// Connections are keyed by their 4-tuple in a map whose hasher is keyed
/// at random (resisting hash flooding).
pub struct Stack {
    cfg: StackConfig,
    conns: Table,
    /// Keys chosen by the application, so a fast unkeyed hash is safe:
    /// a packet only looks one up.
    listeners: FxHashMap<SocketAddr, Listener>,
    cookies: SynCookies,
    counters: Counters,
    /// Replies of the stack itself (RSTs, cookie SYN-ACKs).
    replies: VecDeque<(IpAddr, IpAddr, IpFields, Vec<u8>)>,
    /// Slots of connections that may have something to send.
    dirty: VecDeque<u32>,
    /// Segments the connection at the front of `dirty` sent in its
    /// current turn ([`TURN`] at most).
    turn: u32,
    /// Connections (slot, generation) that may have events for
    /// `poll_event`, each at most once while its `ready` flag is set.
    ready: VecDeque<QueuedConn>,
    /// Listeners with connections to accept, for `poll_event`.
    acceptable: VecDeque<ListenerId>,
    /// Timer deadlines; an entry is stale when the connection's own
    /// deadline moved or the slot holds another connection.
    timers: BinaryHeap<Timer>,
    next_port: u32,
    /// Sees every segment in and out ([`Stack::set_tap`]).
    tap: Option<Box<dyn Tap>>,
    /// Offered the segments no connection of this stack matches
    /// ([`Stack::set_strays`]).
    strays: Option<StrayHandler>,
    /// [`StackConfig::conn`] with the MSS each IP family's headers leave
    /// of the MTU, over IPv4 (`[0]`) and over IPv6 (`[1]`): made at the
    /// first connection of the family after the policy was set, and
    /// shared by every connection made with it, so that a hundred
    /// thousand idle connections hold one `ConnConfig`, not one each.
    policies: [Option<Arc<ConnConfig>>; 2],
    /// The client's TCP Fast Open cookies, per server (RFC 7413 §4.1.3).
    fast_open_cache: CookieCache,
}

/// What [`Stack::set_strays`] installs: offered a segment (`src`, `dst`,
/// the segment) that matches none of the stack's connections and that
/// none of its listeners would open one for; returns whether it took the
/// segment (the stack then does nothing more with it). Called with the
/// stack borrowed (under a `NetStack`'s lock): it must not call into this
/// stack or any other, only note the segment for later.
pub type StrayHandler = Box<dyn FnMut(IpAddr, IpAddr, &[u8]) -> bool + Send>;

impl Stack {
    /// A stack with no connection and no listener.
    pub fn new(cfg: StackConfig) -> Self {
        Self {
            cookies: SynCookies::new(cfg.cookie_key),
            cfg,
            conns: Table {
                index: Index::default(),
                slots: Vec::new(),
                free: Vec::new(),
                listeners: FxHashMap::default(),
                generation: 0,
                recent: 0,
            },
            listeners: FxHashMap::default(),
            counters: Counters::default(),
            replies: VecDeque::new(),
            dirty: VecDeque::new(),
            turn: 0,
            ready: VecDeque::new(),
            acceptable: VecDeque::new(),
            timers: BinaryHeap::new(),
            next_port: 0,
            tap: None,
            strays: None,
            policies: [None, None],
            fast_open_cache: CookieCache::default(),
        }
    }

    /// Sets (or with `None` removes) the handler offered every segment
    /// that matches no connection of this stack and that no listener of
    /// its would open a connection for (a SYN to a listener is never
    /// offered), before the stack answers it with a RST, tries it as a
    /// SYN-cookie ACK, or drops it (a RST, say); returns the handler it
    /// replaces. Stacks that share one interface, each owning some of its
    /// connections (one per queue of a multi-queue TUN device,
    /// `vtcp_tun::shards`), use it to pass a segment that came in on the
    /// wrong one to its owner; the handler notes the segment, and once no
    /// other stack claims it, it comes back through
    /// [`Stack::handle_unclaimed`].
    pub fn set_strays(&mut self, strays: Option<StrayHandler>) -> Option<StrayHandler> {
        std::mem::replace(&mut self.strays, strays)
    }

    /// Takes in a segment this stack offered to its stray handler
    /// ([`Stack::set_strays`]) and nobody claimed: as
    /// [`Stack::handle_verified_packet`] does (its checksum was checked,
    /// or vouched for, when it came in), without offering it again, and
    /// without counting it in or showing it to the tap a second time.
    pub fn handle_unclaimed(&mut self, now: Duration, src: IpAddr, dst: IpAddr, segment: &[u8]) {
        let strays = self.strays.take();
        // Its checksum was verified (or vouched for) when it first came
        // in; a segment the IP layer merged may not carry a valid one.
        self.handle_segment(
            now,
            src,
            dst,
            segment,
            Checksum::Verified,
            false,
            EcnCodepoint::NotEct,
        );
        self.strays = strays;
    }

    /// Sets the tap that sees every segment handed in and sent out (a
    /// `vtcp::pcap::PcapWriter` with the `pcap` feature,
    /// or a closure), or removes it with `None`; returns the tap it
    /// replaces, so that its [`Tap::finish`] can be called.
    pub fn set_tap(&mut self, tap: Option<Box<dyn Tap>>) -> Option<Box<dyn Tap>> {
        std::mem::replace(&mut self.tap, tap)
    }

    /// `segment` parsed once for everything after the demultiplexing
    /// (a connection, a listener, the cookies), or `None` for a segment
    /// that does not parse, counted and dropped.
    fn parse<'a>(&mut self, segment: &'a [u8]) -> Option<ParsedSegment<'a>> {
        let parsed = ParsedSegment::parse(segment).ok();
        if parsed.is_none() {
            self.malformed();
        }
        parsed
    }

    /// Counts and traces a segment dropped as malformed.
    fn malformed(&mut self) {
        self.counters.malformed += 1;
        vtcp_conn::trace_event!(DEBUG, reason = "malformed", "segment dropped");
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Connections held, in any state.
    pub fn connections(&self) -> usize {
        self.conns.index.len()
    }

    /// The policy of new connections ([`StackConfig::conn`]), as set.
    pub fn conn_config(&self) -> &ConnConfig {
        &self.cfg.conn
    }

    /// Replaces the policy of the connections made from now on; those
    /// open keep theirs.
    pub fn set_conn_config(&mut self, policy: ConnConfig) {
        self.cfg.conn = policy;
        self.policies = [None, None];
    }

    /// The policy a new connection of `key`'s IP family shares: the
    /// stack's, its MSS no more than the link carries less IP's and TCP's
    /// fixed headers (RFC 9293 §3.7.1).
    fn policy(&mut self, key: &ConnKey) -> Arc<ConnConfig> {
        let ipv6 = key.local.is_ipv6();
        let (cfg, mtu) = (&self.cfg.conn, self.cfg.mtu);
        let shared = self.policies[usize::from(ipv6)].get_or_insert_with(|| {
            let mut c = cfg.clone();
            let headers = if ipv6 { 60 } else { 40 };
            c.mss = c.mss.min(mtu.saturating_sub(headers).max(MIN_MSS));
            Arc::new(c)
        });
        Arc::clone(shared)
    }

    /// Who the connection of `key` is: its addresses and ports, and RFC
    /// 6528's ISN keyed by [`StackConfig::isn_key`].
    fn endpoints(&self, key: &ConnKey) -> Endpoints {
        Endpoints::new(
            Some(key.local.ip()),
            key.local.port(),
            Some(key.remote.ip()),
            key.remote.port(),
        )
        .with_isn(IsnSource::Rfc6528 {
            key: self.cfg.isn_key,
        })
    }

    /// Listens on `local` (an unspecified address listens on all; port 0
    /// takes a free ephemeral port), with at most `backlog` half-open
    /// connections and as many waiting to be accepted. An IPv6 scope ID
    /// or flow label in `local` is dropped: they are the IP layer's.
    pub fn listen(&mut self, local: SocketAddr, backlog: usize) -> Result<ListenerId, StackError> {
        let mut local = plain(local);
        if local.port() == 0 {
            let (lo, hi) = self.cfg.ephemeral_ports;
            let free =
                (lo..=hi).find(|&p| self.find_listener(SocketAddr::new(local.ip(), p)).is_none());
            local.set_port(free.ok_or(StackError::AddrNotAvailable)?);
        }
        self.listen_at(local, backlog)
    }

    fn listen_at(&mut self, local: SocketAddr, backlog: usize) -> Result<ListenerId, StackError> {
        if self.listeners.contains_key(&local) {
            return Err(StackError::AddrInUse);
        }
        self.listeners.insert(
            local,
            Listener {
                backlog: backlog.max(1),
                half_open: 0,
                waiting: VecDeque::new(),
                accept_queue: VecDeque::new(),
                announced: false,
            },
        );
        Ok(ListenerId(local))
    }

    /// Listens transparently: connections to any address and any port
    /// that no other listener takes (what a VPN or a tun2proxy-style
    /// forwarder terminates). Each accepted connection's
    /// [`ConnKey::local`] is the address and port its peer asked for.
    /// One per stack.
    pub fn listen_transparent(&mut self, backlog: usize) -> Result<ListenerId, StackError> {
        self.listen_at(TRANSPARENT, backlog)
    }

    /// Stops listening. Connections already accepted are not touched;
    /// those not accepted yet (half-open or waiting in the accept queue)
    /// are reset, as a kernel does when a listening socket closes, since
    /// nobody could ever accept them. It looks at every connection of
    /// the stack, since half-open ones are only counted.
    pub fn unlisten(&mut self, id: ListenerId) {
        if self.listeners.remove(&id.0).is_none() {
            return;
        }
        let orphans: Vec<u32> = (0..self.conns.slots.len() as u32)
            .filter(|&slot| self.conns.listener(slot).is_some_and(|(l, _)| l == id))
            .collect();
        for slot in orphans {
            if let Some(e) = self.conns.get_mut(slot) {
                e.conn.abort();
            }
            self.conns.set_listener(slot, None);
            self.touch(slot);
        }
    }

    /// The next established connection of a listener, if any.
    pub fn accept(&mut self, id: ListenerId) -> Option<ConnKey> {
        loop {
            let listener = self.listeners.get_mut(&id.0)?;
            let (slot, generation) = listener.accept_queue.pop_front()?;
            // Room now for one connection that completed while the queue
            // was full: another acceptor may take it.
            if let Some(w) = listener.waiting.pop_front() {
                listener.half_open -= 1;
                listener.accept_queue.push_back(w);
                self.conns.set_listener(w.0, Some((id, Stage::Queued)));
                self.announce(id);
            }
            // Connections leave the queue when they are removed, so the
            // check of the generation is only a safeguard.
            if let Some(e) = self.conns.get_mut(slot)
                && e.generation == generation
            {
                e.owned = true;
                let key = e.key();
                self.conns.set_listener(slot, None);
                return Some(key);
            }
        }
    }

    /// Opens a connection from `local_ip` to `remote`, on an ephemeral
    /// port chosen per RFC 6056 §3.3.3 (a keyed hash of the addresses
    /// gives the starting point; a counter moves on from it). An IPv6
    /// scope ID or flow label in `remote` is dropped, as in `listen`.
    pub fn connect(
        &mut self,
        now: Duration,
        local_ip: IpAddr,
        remote: SocketAddr,
    ) -> Result<ConnKey, StackError> {
        let remote = plain(remote);
        // RFC 1122 §4.2.3.10 (MUST-46): unicast peers only.
        if local_ip.is_ipv4() != remote.is_ipv4()
            || remote.port() == 0
            || !is_unicast(remote.ip())
            || !is_unicast(local_ip)
        {
            return Err(StackError::InvalidInput);
        }
        let (lo, hi) = self.cfg.ephemeral_ports;
        let range = u32::from(hi.saturating_sub(lo)) + 1;
        // RFC 6056 §3.3.3 (Algorithm 3): the offset is F(local IP, remote
        // IP and port, secret), so the same secret gives the same ports
        // (seeded simulations repeat byte for byte) and others cannot
        // guess them.
        let mut f = SipHasher24::new_with_key(&self.cfg.isn_key);
        (local_ip, remote).hash(&mut f);
        f.write_u8(0x6e); // apart from the ISN's use of the same key
        let offset = (f.finish() % u64::from(range)) as u32;
        for i in 0..range {
            let port = lo + ((offset + self.next_port + i) % range) as u16;
            let key = ConnKey {
                local: SocketAddr::new(local_ip, port),
                remote,
            };
            if self.conns.slot_of(&key).is_none() && !self.listeners.contains_key(&key.local) {
                self.next_port = self.next_port.wrapping_add(i + 1);
                let conn = Conn::connect(self.policy(&key), self.endpoints(&key), now);
                self.insert(key, conn, None, true);
                return Ok(key);
            }
        }
        Err(StackError::AddrNotAvailable)
    }

    /// [`Stack::connect`] with TCP Fast Open (RFC 7413 §4.1.3, §4.2.1),
    /// when [`FastOpenConfig::client`] is on: the SYN asks the server for
    /// a cookie, or carries the cookie cached for it and the data the
    /// application writes before the SYN goes (before the next
    /// `poll_transmit`: "sendto with MSG_FASTOPEN"); while TFO is off to
    /// the server after a failure, or with the client side off, it is
    /// `connect`. What the SYN-ACK teaches updates the cache.
    pub fn connect_fast_open(
        &mut self,
        now: Duration,
        local_ip: IpAddr,
        remote: SocketAddr,
    ) -> Result<ConnKey, StackError> {
        let key = self.connect(now, local_ip, remote)?;
        if self.cfg.fast_open.client
            && let Plan::Use(cookie, mss) = self.fast_open_cache.plan(key.remote.ip(), now)
            && let Some(slot) = self.conns.slot_of(&key)
            && let Some(e) = self.conns.get_mut(slot)
        {
            e.conn.request_fast_open(cookie, mss);
        }
        Ok(key)
    }

    /// Replaces the secret of SYN cookies and TCP Fast Open cookies
    /// (RFC 7413 §4.1.2); cookies made under the one before stay valid
    /// until the next rotation. Draw `key` from a CSPRNG.
    pub fn rotate_cookie_key(&mut self, key: [u8; 16]) {
        self.cookies.rotate(key);
    }

    /// The stack's TCP Fast Open settings.
    pub fn fast_open(&self) -> &FastOpenConfig {
        &self.cfg.fast_open
    }

    /// Changes the TCP Fast Open settings, from the next SYN on; the
    /// cookies cached stay (see [`Stack::clear_fast_open_cache`]).
    pub fn set_fast_open(&mut self, config: FastOpenConfig) {
        self.cfg.fast_open = config;
    }

    /// Forgets every server's TFO cookie and failure.
    pub fn clear_fast_open_cache(&mut self) {
        self.fast_open_cache.clear();
    }

    /// Servers the TFO cookie cache remembers.
    pub fn fast_open_cache_len(&self) -> usize {
        self.fast_open_cache.len()
    }

    /// What a connection's TFO handshake taught, into the cache.
    fn note_fast_open(&mut self, slot: u32, now: Duration) {
        if let Some(e) = self.conns.get_mut(slot)
            && let Some(outcome) = e.conn.take_fast_open_outcome()
        {
            let server = e.key().remote.ip();
            self.fast_open_cache
                .note(server, outcome, now, &self.cfg.fast_open);
        }
    }

    /// RFC 7413 §4.1.2, §4.2.2, §5.1 for a connection a listener made from
    /// a SYN (options `v`): a cookie request gets a cookie; a valid cookie
    /// has its data taken and the connection queued for `accept` at once,
    /// within the listener's limit of pending TFO connections; an invalid
    /// cookie gets a fresh one and the SYN's data is dropped. Returns
    /// where the connection stands in its listener.
    fn fast_open_server(
        &mut self,
        conn: &mut Conn,
        key: &ConnKey,
        listen_addr: SocketAddr,
        fast_open: Option<FastOpen>,
    ) -> Stage {
        let Some(fo) = fast_open.filter(|_| self.cfg.fast_open.server) else {
            return Stage::HalfOpen;
        };
        let (_, client) = Self::addrs(key);
        if let FastOpen::Cookie(c) = fo
            && self.cookies.check_fast_open_cookie(&client, &c)
        {
            let room = self.listeners.get(&listen_addr).is_some_and(|l| {
                // Only TFO connections wait in the accept queue before
                // their handshake completes.
                let pending = l
                    .accept_queue
                    .iter()
                    .filter(|(slot, _)| {
                        self.conns
                            .get(*slot)
                            .is_some_and(|e| e.conn.state() == State::SynReceived)
                    })
                    .count();
                pending < self.cfg.fast_open.max_pending && l.accept_queue.len() < l.backlog
            });
            conn.accept_fast_open(None, room);
            if room {
                self.counters.fast_open_accepted += 1;
                return Stage::Queued;
            }
            self.counters.fast_open_over_limit += 1;
            return Stage::HalfOpen;
        }
        conn.accept_fast_open(Some(self.cookies.fast_open_cookie(&client)), false);
        self.counters.fast_open_cookies_sent += 1;
        Stage::HalfOpen
    }

    /// Adds a connection, and counts or queues it in its listener (the
    /// counterpart of `remove`).
    fn insert(
        &mut self,
        key: ConnKey,
        conn: Conn,
        listener: Option<(ListenerId, Stage)>,
        owned: bool,
    ) {
        self.counters.connections_opened += 1;
        let conn = Box::new(conn);
        debug_assert!(
            Entry::is_key_of(&conn, &key),
            "the connection was made with its key's addresses and ports"
        );
        let slot = self.conns.insert(Entry {
            conn,
            stage: None,
            owned,
            generation: 0,
            dirty: false,
            ready: false,
            queued: NOT_QUEUED,
        });
        self.conns.set_listener(slot, listener);
        if let Some((ListenerId(addr), stage)) = listener
            && let Some(l) = self.listeners.get_mut(&addr)
        {
            let queued = (slot, self.conns.generation);
            match stage {
                Stage::HalfOpen => l.half_open += 1,
                Stage::Waiting => {
                    l.half_open += 1;
                    l.waiting.push_back(queued);
                }
                Stage::Queued => l.accept_queue.push_back(queued),
            }
            if stage == Stage::Queued {
                self.announce(ListenerId(addr));
            }
        }
        self.touch(slot);
    }

    /// Removes a connection, and takes it out of its listener's count or
    /// queues.
    fn remove(&mut self, slot: u32) {
        let Some((_, listener)) = self.conns.remove(slot) else {
            return;
        };
        self.counters.connections_closed += 1;
        if let Some((ListenerId(addr), stage)) = listener
            && let Some(l) = self.listeners.get_mut(&addr)
        {
            match stage {
                Stage::HalfOpen => l.half_open -= 1,
                Stage::Waiting => {
                    l.half_open -= 1;
                    l.waiting.retain(|w| w.0 != slot);
                }
                Stage::Queued => l.accept_queue.retain(|q| q.0 != slot),
            }
        }
    }

    /// Notes that something happened to a connection: it may have
    /// something to send, a new deadline, and events to tell.
    fn touch(&mut self, slot: u32) {
        self.schedule(slot);
        self.mark_dirty(slot);
        self.mark_ready(slot);
    }

    /// Queues a connection to be asked for segments on the next
    /// `poll_transmit`, unless it is queued already.
    fn mark_dirty(&mut self, slot: u32) {
        if let Some(e) = self.conns.get_mut(slot)
            && !e.dirty
        {
            e.dirty = true;
            self.dirty.push_back(slot);
        }
    }

    /// Queues a connection for `poll_event`, unless it is queued already.
    fn mark_ready(&mut self, slot: u32) {
        if let Some(e) = self.conns.get_mut(slot)
            && !e.ready
        {
            e.ready = true;
            self.ready.push_back((slot, e.generation));
        }
        // Entries of connections removed while queued stay until polled;
        // a stack nobody polls drops them here, so the queue stays within
        // twice the slots.
        if self.ready.len() > 2 * self.conns.slots.len() + 16 {
            let conns = &self.conns;
            self.ready.retain(|&(slot, generation)| {
                conns
                    .get(slot)
                    .is_some_and(|e| e.ready && e.generation == generation)
            });
        }
        debug_assert!(self.ready.len() <= 2 * self.conns.slots.len() + 16);
    }

    /// Queues a listener's [`StackEvent::Acceptable`], unless queued.
    fn announce(&mut self, id: ListenerId) {
        if let Some(l) = self.listeners.get_mut(&id.0)
            && !l.announced
        {
            l.announced = true;
            self.acceptable.push_back(id);
        }
    }

    /// The next thing a connection or a listener has to tell: the events
    /// of each connection (what its [`Conn::poll_event`] gives, taken from
    /// it) and listeners with a connection to accept. A connection's
    /// events come in the order they happened; `None` when nothing is
    /// pending. For a caller with waiters per connection (the `NetStack`
    /// facade): after a segment, wake only those of the connections named
    /// here.
    ///
    /// Connections are queued when something happened to them (a segment,
    /// a timer, the application's call through `conn_mut`), at most once
    /// each, so the queue never holds more than the connections and
    /// listeners there are; one nobody polls costs nothing more.
    pub fn poll_event(&mut self) -> Option<StackEvent> {
        if let Some(id) = self.acceptable.pop_front() {
            if let Some(l) = self.listeners.get_mut(&id.0) {
                l.announced = false;
            }
            return Some(StackEvent::Acceptable(id));
        }
        while let Some(&(slot, generation)) = self.ready.front() {
            // A slot freed (or reused) since it was queued is skipped.
            let Some(e) = self
                .conns
                .get_mut(slot)
                .filter(|e| e.ready && e.generation == generation)
            else {
                self.ready.pop_front();
                continue;
            };
            if let Some(event) = e.conn.poll_event() {
                return Some(StackEvent::Conn(e.key(), event));
            }
            e.ready = false;
            self.ready.pop_front();
        }
        None
    }

    /// Puts the connection's deadline in the timer heap, unless an earlier
    /// or equal one for it is there already (a deadline that moved later
    /// is found when the earlier one comes up).
    fn schedule(&mut self, slot: u32) {
        if let Some(e) = self.conns.get_mut(slot)
            && let Some(t) = e.conn.poll_timeout()
            && nanos(t) < e.queued
        {
            e.queued = nanos(t);
            self.timers.push(Reverse((e.queued, slot, e.generation)));
        }
    }

    /// A connection, to read its state, statistics and events.
    pub fn conn(&self, key: ConnKey) -> Option<&Conn> {
        self.conns.by_key(&key).map(|e| &*e.conn)
    }

    /// Every connection the stack holds, with its key, in no set order
    /// (for inspection: `sockstat`-like listings, tests).
    pub fn conns(&self) -> impl Iterator<Item = (ConnKey, &Conn)> + '_ {
        self.conns
            .slots
            .iter()
            .flatten()
            .map(|e| (e.key(), &*e.conn))
    }

    /// A connection, to write, read or close it. The stack looks at it
    /// again on the next `poll_transmit`.
    pub fn conn_mut(&mut self, key: ConnKey) -> Option<&mut Conn> {
        let slot = self.conns.slot_of(&key)?;
        self.mark_dirty(slot);
        self.mark_ready(slot);
        self.conns.get_mut(slot).map(|e| &mut *e.conn)
    }

    /// The application lets go of a connection: it is removed once
    /// closed (at once if it is).
    pub fn release(&mut self, key: ConnKey) {
        if let Some(slot) = self.conns.slot_of(&key) {
            if let Some(e) = self.conns.get_mut(slot) {
                e.owned = false;
            }
            self.touch(slot);
        }
    }

    fn find_listener(&self, local: SocketAddr) -> Option<SocketAddr> {
        listener_for(&self.listeners, local)
    }

    /// Takes in one TCP segment that arrived from `src` for `dst`.
    pub fn handle_packet(&mut self, now: Duration, src: IpAddr, dst: IpAddr, segment: &[u8]) {
        self.handle_packet_checked(
            now,
            src,
            dst,
            segment,
            Checksum::Unchecked,
            EcnCodepoint::NotEct,
        );
    }

    /// [`Stack::handle_packet`] for a segment whose IP header's ECN field
    /// (RFC 3168 §5: the low two bits of the IPv4 TOS or IPv6 Traffic
    /// Class, [`EcnCodepoint::from_traffic_class`]) was `ecn`: a CE mark
    /// on a connection that set ECN up is echoed to its peer (§6.1.3,
    /// [`Conn::handle_segment_ecn`]). `handle_packet` is this with
    /// Not-ECT.
    pub fn handle_packet_ecn(
        &mut self,
        now: Duration,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
        ecn: EcnCodepoint,
    ) {
        self.handle_packet_checked(now, src, dst, segment, Checksum::Unchecked, ecn);
    }

    /// Takes in one TCP segment whose checksum the caller has verified
    /// (or that its link vouches for): [`Stack::handle_packet`] without
    /// the stack's own verification, so that a segment the IP layer has
    /// already summed (to coalesce it with others, say) is not summed
    /// twice. Its checksum field is not looked at, and may hold anything
    /// (a partial sum, the field of the first of the segments it was
    /// merged from).
    pub fn handle_verified_packet(
        &mut self,
        now: Duration,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
    ) {
        self.handle_packet_checked(
            now,
            src,
            dst,
            segment,
            Checksum::Verified,
            EcnCodepoint::NotEct,
        );
    }

    /// [`Stack::handle_packet`] or [`Stack::handle_verified_packet`], as
    /// `checksum` says, for a segment whose IP header carried `ecn`.
    pub(crate) fn handle_packet_checked(
        &mut self,
        now: Duration,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
        checksum: Checksum,
        ecn: EcnCodepoint,
    ) {
        self.counters.segments_in += 1;
        if let Some(tap) = self.tap.as_mut() {
            tap.packet(now, Direction::In, src, dst, segment);
        }
        self.handle_segment(now, src, dst, segment, checksum, true, ecn);
    }

    /// [`Stack::handle_packet_checked`] past the counting and the tap;
    /// `first`: the segment is new to this stack (not one back
    /// unclaimed), so a RST counts in; `ecn`: its IP header's ECN field.
    #[expect(
        clippy::too_many_arguments,
        reason = "the packet's parts and what the IP layer read of it, passed through once"
    )]
    fn handle_segment(
        &mut self,
        now: Duration,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
        checksum: Checksum,
        first: bool,
        ecn: EcnCodepoint,
    ) {
        if self.cfg.checksums && checksum == Checksum::Unchecked {
            match PseudoHeader::new(src, dst) {
                Some(p) if verify_tcp_checksum(&p, segment) => {}
                _ => {
                    self.counters.bad_checksums += 1;
                    vtcp_conn::trace_event!(DEBUG, reason = "bad checksum", "segment dropped");
                    return;
                }
            }
        }
        let Ok(view) = SegmentView::new_checked(segment) else {
            self.malformed();
            return;
        };
        let key = ConnKey {
            local: SocketAddr::new(dst, view.dst_port()),
            remote: SocketAddr::new(src, view.src_port()),
        };
        let flags = view.flags();
        if first && flags.contains(Flags::RST) {
            self.counters.rsts_in += 1;
        }
        let mut reopen_isn = None;
        // The segment parsed, once, when something needs more than the
        // header's fixed part: a connection, a listener's SYN, a cookie.
        let mut parsed = None;
        // RFC 9293 §3.10.7.1: a connection that is closed (reset, timed
        // out, aborted) is no TCB, though the application still holds it:
        // a segment for it is taken as for no connection (a RST, or what a
        // listener does), as Linux does once a socket is in CLOSE, except
        // that nothing new opens on the 4-tuple while it is held.
        let mut held_closed = false;
        if let Some(slot) = self.conns.slot_of(&key)
            && let Some(state) = self.conns.get(slot).map(|e| e.conn.state())
        {
            if state == State::Closed {
                held_closed = true;
            } else {
                // Parsed here and borrowed, not moved: the parsed form is
                // some 170 octets, and a move per segment cost 0.5 % of
                // the bulk benchmark's instructions.
                let result = ParsedSegment::parse(segment);
                let Ok(seg) = &result else {
                    self.malformed();
                    return;
                };
                // A SYN that could reopen TIME-WAIT does so only when a
                // listener is there to open the new connection (as Linux's
                // `tcp_v4_rcv`, TCP_TW_SYN): otherwise TIME-WAIT goes on and the SYN
                // gets its challenge ACK (RFC 5961 §4, RFC 9293
                // §3.10.7.4), not the RST of a port nothing listens on,
                // which would end TIME-WAIT before its 2·MSL (RFC 9293
                // §3.6.1, MUST-13).
                let e = self.conns.get_mut(slot).expect("found above");
                let reopens = e.conn.accepts_reopen(seg)
                    && listener_for(&self.listeners, key.local).is_some();
                if !reopens {
                    e.conn.handle_segment_ecn(now, seg, ecn);
                    self.note_fast_open(slot, now);
                    self.after_event(slot);
                    return;
                }
                // RFC 9293 §3.6.1 / RFC 6191: a new SYN may reuse a
                // 4-tuple in TIME-WAIT when it is shown to be new. MAY-2
                // (1): the new incarnation's ISN beyond anything the old
                // one sent, by a window (as Linux's tw_snd_nxt + 65535 +
                // 2).
                reopen_isn = Some(e.conn.snd_nxt() + 65_537);
                self.remove(slot);
                parsed = result.ok();
            }
        } else if self.offer_stray(key, flags, src, dst, segment) {
            return;
        }
        if flags.contains(Flags::RST) {
            // Never answer a RST (RFC 9293 §3.10.7.1).
            return;
        }
        if !is_unicast(src) || !is_unicast(dst) {
            // RFC 1122 §4.2.3.10 (MUST-57): no connection from or to a
            // group, and no RST to one.
            self.counters.not_unicast += 1;
            vtcp_conn::trace_event!(
                DEBUG,
                reason = "not unicast (RFC 1122 §4.2.3.10)",
                "segment dropped"
            );
            return;
        }
        let Some(listen_addr) = self.find_listener(key.local) else {
            self.reply_rst(&view, src, dst);
            return;
        };
        if flags.contains(Flags::SYN) && !flags.contains(Flags::ACK) {
            if flags.contains(Flags::FIN) && self.cfg.conn.drop_syn_fin {
                self.counters.syn_fin_dropped += 1;
                vtcp_conn::trace_event!(
                    DEBUG,
                    reason = "SYN and FIN to a listener (drop_syn_fin)",
                    "segment dropped"
                );
                return;
            }
            let listener = self.listeners.get(&listen_addr).expect("found above");
            if held_closed {
                // The 4-tuple is still the application's: its key must
                // not come to name a new connection.
                self.reply_rst(&view, src, dst);
            } else if listener.half_open < listener.backlog {
                let mut ends = self.endpoints(&key);
                if let Some(isn) = reopen_isn {
                    ends.isn = IsnSource::Fixed(isn);
                }
                let Some(syn) = parsed.or_else(|| self.parse(segment)) else {
                    return;
                };
                match Conn::accept_syn(self.policy(&key), ends, now, &syn) {
                    Ok(mut conn) => {
                        let fast_open = syn.values().fast_open;
                        let stage = self.fast_open_server(&mut conn, &key, listen_addr, fast_open);
                        self.insert(key, conn, Some((ListenerId(listen_addr), stage)), false);
                    }
                    Err(_) => self.malformed(),
                }
            } else if let Some(syn) = self.parse(segment) {
                self.reply_cookie(now, &key, syn.segment(), src, dst);
            }
        } else if flags.contains(Flags::ACK) && !flags.contains(Flags::SYN) {
            if held_closed {
                self.reply_rst(&view, src, dst);
            } else if let Some(ack) = self.parse(segment) {
                self.try_cookie(now, key, listen_addr, ack.segment(), &view, src, dst);
            }
        } else if flags.contains(Flags::ACK) {
            // RFC 9293 §3.10.7.2: any ACK in LISTEN is bad (a SYN-ACK
            // here): <SEQ=SEG.ACK><CTL=RST>.
            self.reply_rst(&view, src, dst);
        } else {
            // §3.10.7.2, fourth: neither SYN nor ACK (a FIN, data): drop.
            self.malformed();
        }
    }

    /// Takes in an ICMP or ICMPv6 error (untrusted: any quote is safe)
    /// from the IP layer: the connection the quoted segment belongs to
    /// (by its addresses and ports) gets it ([`Conn::handle_icmp`]: RFC
    /// 5927 §4.1's sequence check, path MTU, hard and soft errors). An
    /// error naming no connection is counted and dropped; nothing is ever
    /// sent in answer to ICMP but what the connection sends again.
    pub fn handle_icmp(&mut self, now: Duration, report: &IcmpReport<'_>) -> IcmpDelivery {
        let Ok((local, remote, seq)) = report.quoted_segment() else {
            self.counters.icmp_no_connection += 1;
            return IcmpDelivery::Malformed;
        };
        let key = ConnKey { local, remote };
        let Some(slot) = self.conns.slot_of(&key) else {
            self.counters.icmp_no_connection += 1;
            return IcmpDelivery::NoConnection;
        };
        let Some(e) = self.conns.get_mut(slot) else {
            self.counters.icmp_no_connection += 1;
            return IcmpDelivery::NoConnection;
        };
        let outcome = e.conn.handle_icmp(now, report.error, seq);
        let delivery = IcmpDelivery::Conn(outcome);
        if delivery.accepted() {
            self.counters.icmp_accepted += 1;
            self.after_event(slot);
        } else {
            self.counters.icmp_out_of_window += 1;
        }
        delivery
    }

    /// Offers a segment that matched no connection to the stray handler,
    /// unless a listener of this stack would open a connection with it or
    /// no connection anywhere could have its addresses; whether the
    /// handler took it.
    fn offer_stray(
        &mut self,
        key: ConnKey,
        flags: Flags,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
    ) -> bool {
        if self.strays.is_none() || !is_unicast(src) || !is_unicast(dst) {
            return false;
        }
        let opens = flags.contains(Flags::SYN)
            && !flags.contains(Flags::ACK)
            && self.find_listener(key.local).is_some();
        !opens && self.strays.as_mut().is_some_and(|h| h(src, dst, segment))
    }

    /// RFC 9293 §3.10.7.1: the reset for a segment that matches nothing.
    fn reply_rst(&mut self, view: &SegmentView<&[u8]>, src: IpAddr, dst: IpAddr) {
        let len = view.payload().len() as u32
            + u32::from(view.flags().contains(Flags::SYN))
            + u32::from(view.flags().contains(Flags::FIN));
        let rst = if view.flags().contains(Flags::ACK) {
            Segment {
                src_port: view.dst_port(),
                dst_port: view.src_port(),
                seq: view.ack(),
                flags: Flags::RST,
                payload: &[][..],
                ..Segment::default()
            }
        } else {
            Segment {
                src_port: view.dst_port(),
                dst_port: view.src_port(),
                seq: Seq(0),
                ack: view.seq() + len,
                flags: Flags::RST | Flags::ACK,
                payload: &[][..],
                ..Segment::default()
            }
        };
        self.counters.rsts_out += 1;
        vtcp_conn::trace_event!(DEBUG, "reset sent");
        self.queue_reply((dst, src, IpFields::default(), rst.to_bytes()));
    }

    /// Queues a reply of the stack's own, unless [`MAX_REPLIES`] wait.
    fn queue_reply(&mut self, reply: (IpAddr, IpAddr, IpFields, Vec<u8>)) {
        if self.replies.len() >= MAX_REPLIES {
            self.counters.replies_dropped += 1;
        } else {
            self.replies.push_back(reply);
        }
    }

    /// What a cookie SYN-ACK offers, from its connection's configuration.
    fn syn_ack_params(cfg: &ConnConfig, now: Duration) -> SynAckParams {
        SynAckParams {
            mss: cfg.mss,
            window: cfg.recv_buffer.min(65_535) as u16,
            offer: cfg.offer(),
            ts_clock: now.as_millis() as u32,
        }
    }

    fn addrs(key: &ConnKey) -> (Vec<u8>, Vec<u8>) {
        let bytes = |ip: IpAddr| match ip {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        (bytes(key.local.ip()), bytes(key.remote.ip()))
    }

    fn reply_cookie(
        &mut self,
        now: Duration,
        key: &ConnKey,
        syn: &Segment<&[u8]>,
        src: IpAddr,
        dst: IpAddr,
    ) {
        let (local, remote) = Self::addrs(key);
        // The connection's configuration, once: what the SYN-ACK offers and
        // the IP fields it goes with (the cookie keeps neither).
        let cfg = self.policy(key);
        let params = Self::syn_ack_params(&cfg, now);
        let synack = self.cookies.generate_synack(
            syn,
            Addrs {
                local: &local,
                remote: &remote,
            },
            &params,
            now,
        );
        self.counters.cookies_sent += 1;
        vtcp_conn::trace_event!(DEBUG, "SYN cookie sent");
        self.queue_reply((dst, src, IpFields::of(&cfg), synack.to_bytes()));
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the segment, its view, its addresses and its listener, all at hand in handle_packet"
    )]
    fn try_cookie(
        &mut self,
        now: Duration,
        key: ConnKey,
        listen_addr: SocketAddr,
        ack: &Segment<&[u8]>,
        view: &SegmentView<&[u8]>,
        src: IpAddr,
        dst: IpAddr,
    ) {
        let (local, remote) = Self::addrs(&key);
        let checked = self.cookies.validate_ack(
            ack,
            Addrs {
                local: &local,
                remote: &remote,
            },
            now,
        );
        let Ok(c) = checked else {
            self.counters.cookies_refused += 1;
            vtcp_conn::trace_event!(DEBUG, "SYN cookie refused");
            self.reply_rst(view, src, dst);
            return;
        };
        let full = self
            .listeners
            .get(&listen_addr)
            .is_none_or(|l| l.accept_queue.len() >= l.backlog);
        if full {
            self.counters.accept_queue_overflows += 1;
            vtcp_conn::trace_event!(DEBUG, "accept queue full");
            return;
        }
        self.counters.cookies_validated += 1;
        vtcp_conn::trace_event!(DEBUG, "SYN cookie accepted");
        let cfg = self.policy(&key);
        let handshake = CookieHandshake {
            remote_isn: c.remote_isn,
            local_isn: c.local_isn,
            peer_mss: c.mss,
            peer_wscale: c.wscale,
            our_wscale: cfg.window_scale(),
            sack_permitted: c.sack_permitted,
            timestamp: c.timestamp,
            window: ack.window,
        };
        let conn = Conn::accept_cookie(cfg, self.endpoints(&key), now, &handshake, ack.payload);
        let stage = (ListenerId(listen_addr), Stage::Queued);
        self.insert(key, conn, Some(stage), false);
    }

    /// Moves a connection that completed its handshake to its listener's
    /// accept queue, when there is room. When there is none it waits,
    /// established, until `accept` makes room (the peer sees a connection
    /// that is slow to be served, not a reset).
    fn after_event(&mut self, slot: u32) {
        if let Some(e) = self.conns.get(slot)
            && e.stage == Some(Stage::HalfOpen)
            && e.conn.state().is_synchronized()
            && let Some((id, _)) = self.conns.listener(slot)
            && let Some(l) = self.listeners.get_mut(&id.0)
        {
            let queued = (slot, e.generation);
            if l.accept_queue.len() < l.backlog {
                l.half_open -= 1;
                l.accept_queue.push_back(queued);
                self.conns.set_listener(slot, Some((id, Stage::Queued)));
                self.announce(id);
            } else {
                l.waiting.push_back(queued);
                self.conns.set_listener(slot, Some((id, Stage::Waiting)));
                self.counters.accept_queue_overflows += 1;
                vtcp_conn::trace_event!(DEBUG, "accept queue full");
            }
        }
        self.touch(slot);
    }

    fn remove_if_done(&mut self, slot: u32) {
        let done = self
            .conns
            .get(slot)
            .is_some_and(|e| e.conn.state() == State::Closed && !e.owned);
        if done {
            self.remove(slot);
        }
    }

    /// Writes the next segment to send into `buf` (checksummed unless
    /// checksums are off) and says where it goes; `None` when there is
    /// nothing to send. Connections with something to send take turns, up
    /// to 64 segments each, so a caller may stop part way (a full device
    /// queue) without starving any of them.
    pub fn poll_transmit(&mut self, now: Duration, buf: &mut [u8]) -> Option<Transmit> {
        if let Some((src, dst, ip, bytes)) = self.replies.front() {
            // A reply that does not fit waits for a buffer that holds it:
            // cut short, it would go out as a different segment.
            let (src, dst, ip, len) = (*src, *dst, *ip, bytes.len());
            let out = buf.get_mut(..len)?;
            out.copy_from_slice(bytes);
            self.replies.pop_front();
            return Some(self.finish(now, (src, dst, ip), out, 1));
        }
        while let Some(slot) = self.dirty.front().copied() {
            // A slot freed (and perhaps reused) since it was queued is
            // skipped: its flag is clear.
            let Some(e) = self.conns.get_mut(slot).filter(|e| e.dirty) else {
                self.dirty.pop_front();
                self.turn = 0;
                continue;
            };
            // RFC 791's total length (RFC 8200's payload length) bounds a
            // super-segment with its IP header.
            let key = e.key();
            let max_segment = match key.local {
                SocketAddr::V4(_) => self.cfg.max_segment.min(65_515),
                SocketAddr::V6(_) => self.cfg.max_segment.min(65_535),
            };
            if let Some(w) = e.conn.poll_transmit_super(now, buf, max_segment) {
                let mut ip = IpFields::of_conn(&e.conn);
                // RFC 3168 §6.1.2: the segment's ECN field, on a
                // connection that set ECN up (the traffic class's DSCP
                // kept); otherwise the traffic class as configured.
                if let Some(ecn) = w.ecn {
                    ip.traffic_class = ecn.apply(ip.traffic_class);
                }
                let to = (key.local.ip(), key.remote.ip(), ip);
                // Round robin, [`TURN`] segments at a time: the connection
                // then goes to the back of the queue (still dirty), so
                // that a caller that stops taking segments part way (a
                // NetStack whose outbox is full) shares what it takes
                // among the connections instead of draining the first.
                self.turn += 1;
                if self.turn >= TURN {
                    self.turn = 0;
                    if self.dirty.len() > 1 {
                        self.dirty.rotate_left(1);
                    }
                }
                let mut t = self.finish(now, to, &mut buf[..w.len], w.segments);
                t.segment_size = w.is_super().then_some(w.segment_size);
                return Some(t);
            }
            e.dirty = false;
            self.dirty.pop_front();
            self.turn = 0;
            self.schedule(slot);
            self.remove_if_done(slot);
        }
        None
    }

    /// Takes a timer off the heap's top when it is stale; returns the slot
    /// when it is the connection's current one.
    fn pop_live_timer(&mut self, t: u64, slot: u32, generation: u32) -> Option<u32> {
        self.timers.pop();
        let e = self.conns.get_mut(slot)?;
        if e.generation != generation || e.queued != t {
            return None;
        }
        e.queued = NOT_QUEUED;
        Some(slot)
    }

    /// Checksums, taps and counts a segment going to `to` (source,
    /// destination, IP fields) that stands for `segments` segments: a
    /// super-segment gets the pseudo-header's sum only
    /// ([`Transmit::segment_size`]).
    fn finish(
        &mut self,
        now: Duration,
        (src, dst, ip): (IpAddr, IpAddr, IpFields),
        segment: &mut [u8],
        segments: usize,
    ) -> Transmit {
        if self.cfg.checksums
            && let Some(p) = PseudoHeader::new(src, dst)
        {
            if segments > 1 {
                let sum = p.sum(segment.len());
                SegmentView::new_unchecked(&mut *segment).set_checksum(sum);
            } else {
                fill_tcp_checksum(&p, segment);
            }
        }
        if let Some(tap) = self.tap.as_mut() {
            tap.packet(now, Direction::Out, src, dst, segment);
        }
        self.counters.segments_out += segments as u64;
        Transmit {
            src,
            dst,
            ip,
            len: segment.len(),
            segment_size: None,
        }
    }

    /// The earliest deadline of any connection.
    pub fn poll_timeout(&mut self) -> Option<Duration> {
        while let Some(Reverse((t, slot, generation))) = self.timers.peek().copied() {
            let current = self
                .conns
                .get(slot)
                .filter(|e| e.generation == generation && e.queued == t)
                .map(|e| e.conn.poll_timeout());
            match current {
                Some(Some(c)) if nanos(c) == t => return Some(c),
                // The deadline moved: queue it anew.
                Some(_) => {
                    if let Some(slot) = self.pop_live_timer(t, slot, generation) {
                        self.schedule(slot);
                    }
                }
                None => {
                    self.timers.pop();
                }
            }
        }
        None
    }

    /// Runs every connection timer due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        while let Some(Reverse((t, slot, generation))) = self.timers.peek().copied() {
            if t > nanos(now) {
                break;
            }
            let Some(slot) = self.pop_live_timer(t, slot, generation) else {
                continue;
            };
            match self.conns.get_mut(slot) {
                Some(e) if e.conn.poll_timeout().is_some_and(|d| d <= now) => {
                    e.conn.handle_timeout(now);
                    self.note_fast_open(slot, now);
                    self.after_event(slot);
                }
                _ => self.schedule(slot),
            }
        }
    }
}

/// `addr` as keys built from arriving segments have it: an IPv6
/// address's scope ID and flow label belong to the IP layer (a `Stack`
/// is one interface), so a `connect` or `listen` given them would never
/// match its own segments.
fn plain(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip(), addr.port())
}

/// The listener in `listeners` that takes a segment to `local`: one bound
/// to that address, else one on its port's wildcard address, else the
/// transparent one.
fn listener_for(
    listeners: &FxHashMap<SocketAddr, Listener>,
    local: SocketAddr,
) -> Option<SocketAddr> {
    if listeners.contains_key(&local) {
        return Some(local);
    }
    let any = match local.ip() {
        IpAddr::V4(_) => IpAddr::from([0u8; 4]),
        IpAddr::V6(_) => IpAddr::from([0u8; 16]),
    };
    let wildcard = SocketAddr::new(any, local.port());
    if listeners.contains_key(&wildcard) {
        return Some(wildcard);
    }
    listeners.contains_key(&TRANSPARENT).then_some(TRANSPARENT)
}

/// A unicast address: not unspecified, multicast, or the IPv4 limited
/// broadcast (a subnet's directed broadcast is not known here).
fn is_unicast(ip: IpAddr) -> bool {
    !ip.is_unspecified() && !ip.is_multicast() && ip != IpAddr::V4(std::net::Ipv4Addr::BROADCAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slot and a timer entry per connection (issue 22's third pass: a
    /// slot was 72 bytes with its listener's address inline and its
    /// deadline an `Option<Duration>`, a timer entry 24).
    #[test]
    fn a_slot_stays_small() {
        assert!(size_of::<Option<Entry>>() <= 24);
        assert!(size_of::<Timer>() <= 16);
    }

    /// The packed index finds each 4-tuple, and an IPv4 address is never
    /// taken for its IPv4-mapped IPv6 form (nor a 4-tuple of one family
    /// for one with an end of each).
    #[test]
    fn packed_keys_keep_the_families_apart() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let keys = [
            (addr("10.0.0.1:80"), addr("10.0.0.2:4000")),
            (addr("[::ffff:10.0.0.1]:80"), addr("10.0.0.2:4000")),
            (addr("10.0.0.1:80"), addr("[::ffff:10.0.0.2]:4000")),
            (addr("[::ffff:10.0.0.1]:80"), addr("[::ffff:10.0.0.2]:4000")),
            (addr("[fd00::1]:80"), addr("[fd00::2]:4000")),
            (addr("10.0.0.1:4000"), addr("10.0.0.2:80")),
        ]
        .map(|(local, remote)| ConnKey { local, remote });
        let mut index = Index::default();
        for (slot, key) in keys.iter().enumerate() {
            assert_eq!(index.get(key), None);
            index.insert(key, slot as u32);
        }
        assert_eq!(index.len(), keys.len());
        assert_eq!((index.v4.len(), index.v6.len()), (2, 4));
        for (slot, key) in keys.iter().enumerate() {
            assert_eq!(index.get(key), Some(slot as u32));
        }
        index.remove(&keys[1]);
        assert_eq!(index.get(&keys[1]), None);
        assert_eq!(index.get(&keys[0]), Some(0));
        // What the index holds per IPv4 connection.
        assert_eq!(size_of::<(Key4, u32)>(), 16);
    }

    /// The connections of one IP family share one policy, the MSS cut to
    /// the family's headers, until the policy is replaced; each keeps
    /// its own endpoints.
    #[test]
    fn connections_of_a_family_share_one_policy() {
        let mut stack = Stack::new(StackConfig::default());
        let now = Duration::ZERO;
        let open = |stack: &mut Stack, local: &str, remote: &str| {
            let key = stack
                .connect(now, local.parse().unwrap(), remote.parse().unwrap())
                .unwrap();
            Arc::clone(stack.conn(key).unwrap().shared_config())
        };
        let a = open(&mut stack, "10.0.0.1", "10.0.0.2:80");
        let b = open(&mut stack, "10.0.0.1", "10.0.0.3:80");
        let v6 = open(&mut stack, "fd00::1", "[fd00::2]:80");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &v6));
        assert_eq!((a.mss, v6.mss), (1460, 1440));
        // The stack's own policy is as set: 1460 for both families.
        assert_eq!(stack.conn_config().mss, 1460);
        let mut policy = ConnConfig::default();
        policy.nodelay = true;
        stack.set_conn_config(policy);
        let c = open(&mut stack, "10.0.0.1", "10.0.0.4:80");
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(c.nodelay && !a.nodelay);
        let d = open(&mut stack, "10.0.0.1", "10.0.0.5:80");
        assert!(Arc::ptr_eq(&c, &d));
    }
}
