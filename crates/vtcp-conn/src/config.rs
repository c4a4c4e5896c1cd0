//! Connection configuration.

use core::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::defaults;
use crate::ecn::EcnMode;
use vtcp_cc::{Bbr, CongestionController, Cubic, HighSpeed, InitialWindow, NewReno};
use vtcp_seq::Seq;

/// Which congestion controller a connection uses. `Clone`: a user's
/// controller is a shared factory.
#[derive(Clone)]
pub enum Congestion {
    /// RFC 5681/6582.
    NewReno,
    /// RFC 3649, the default.
    HighSpeed,
    /// RFC 9438.
    Cubic,
    /// BBRv3 (draft-ietf-ccwg-bbr): a model of the path's bandwidth and
    /// RTT from delivery-rate samples, paced; random loss below 2 % is
    /// not taken for congestion.
    Bbr,
    /// A controller of the user's, made for a given MSS by a factory that
    /// every connection of the configuration (and its clones) shares.
    Custom(std::sync::Arc<dyn Fn(u32) -> Box<dyn CongestionController + Send> + Send + Sync>),
}

impl Congestion {
    /// The controller for segments of `mss` whose first window follows
    /// `iw` (a user's controller chooses its own); `seed` varies BBR's
    /// randomised probing from one connection to the next.
    pub(crate) fn build(&self, mss: u32, iw: InitialWindow, seed: u64) -> Controller {
        match self {
            Self::Bbr => Controller::Bbr(Box::new(
                Bbr::new(mss).with_initial_window(iw).with_seed(seed),
            )),
            Self::NewReno => Controller::NewReno(NewReno::new(mss).with_initial_window(iw)),
            Self::HighSpeed => Controller::HighSpeed(HighSpeed::new(mss).with_initial_window(iw)),
            Self::Cubic => Controller::Cubic(Box::new(Cubic::new(mss).with_initial_window(iw))),
            Self::Custom(make) => Controller::Custom(make(mss)),
        }
    }
}

/// A connection's controller. NewReno and HighSpeed (the default) are
/// small and held inline, so opening a connection allocates nothing for
/// them; Cubic is three times their size and boxed, so that it does not
/// make every connection bigger; the user's are boxed.
pub(crate) enum Controller {
    NewReno(NewReno),
    HighSpeed(HighSpeed),
    Cubic(Box<Cubic>),
    Bbr(Box<Bbr>),
    Custom(Box<dyn CongestionController + Send>),
}

/// Calls `$call` on whichever controller it is: the built-in ones by
/// static dispatch, so their small methods inline into the per-segment
/// path; only a user's controller goes through its vtable.
macro_rules! each_controller {
    ($self:ident, $c:ident => $call:expr) => {
        match $self {
            Self::NewReno($c) => $call,
            Self::HighSpeed($c) => $call,
            Self::Cubic($c) => $call,
            Self::Bbr($c) => $call,
            Self::Custom($c) => $call,
        }
    };
}

impl Controller {
    pub(crate) fn on_ack_at(&mut self, bytes_acked: u32, now: Duration) {
        each_controller!(self, c => c.on_ack_at(bytes_acked, now));
    }

    pub(crate) fn on_window_unused(&mut self, now: Duration) {
        each_controller!(self, c => c.on_window_unused(now));
    }

    pub(crate) fn on_rtt_sample(&mut self, srtt: Duration) {
        each_controller!(self, c => c.on_rtt_sample(srtt));
    }

    pub(crate) fn on_recovery_dup_ack(&mut self) {
        each_controller!(self, c => c.on_recovery_dup_ack());
    }

    pub(crate) fn on_timeout(&mut self, flight_size: u32) {
        each_controller!(self, c => c.on_timeout(flight_size));
    }

    pub(crate) fn on_repeated_timeout(&mut self) {
        each_controller!(self, c => c.on_repeated_timeout());
    }

    pub(crate) fn on_congestion_event(&mut self, flight_size: u32) {
        each_controller!(self, c => c.on_congestion_event(flight_size));
    }

    pub(crate) fn on_ecn_echo(&mut self, flight_size: u32) {
        each_controller!(self, c => c.on_ecn_echo(flight_size));
    }

    pub(crate) fn on_partial_ack(&mut self, bytes_acked: u32, now: Duration) {
        each_controller!(self, c => c.on_partial_ack(bytes_acked, now));
    }

    pub(crate) fn on_recovery_end(&mut self) {
        each_controller!(self, c => c.on_recovery_end());
    }

    pub(crate) fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        each_controller!(self, c => c.undo(prior_cwnd, prior_ssthresh));
    }

    pub(crate) fn on_rate_sample(&mut self, rs: &vtcp_cc::RateSample, now: Duration) {
        each_controller!(self, c => c.on_rate_sample(rs, now));
    }

    #[inline]
    pub(crate) fn pacing_rate(&self) -> Option<u64> {
        each_controller!(self, c => c.pacing_rate())
    }

    pub(crate) fn send_quantum(&self) -> u32 {
        each_controller!(self, c => c.send_quantum())
    }

    #[inline]
    pub(crate) fn reduces_with_prr(&self) -> bool {
        each_controller!(self, c => c.reduces_with_prr())
    }

    #[inline]
    pub(crate) fn send_window(&self) -> u32 {
        each_controller!(self, c => c.send_window())
    }

    #[inline]
    pub(crate) fn ssthresh(&self) -> u32 {
        each_controller!(self, c => c.ssthresh())
    }

    pub(crate) fn set_mss(&mut self, mss: u32) {
        each_controller!(self, c => c.set_mss(mss));
    }

    /// The BBR controller, for its model's figures in the statistics.
    pub(crate) fn bbr(&self) -> Option<&Bbr> {
        match self {
            Self::Bbr(b) => Some(b),
            _ => None,
        }
    }
}

impl fmt::Debug for Congestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NewReno => "NewReno",
            Self::HighSpeed => "HighSpeed",
            Self::Cubic => "Cubic",
            Self::Bbr => "Bbr",
            Self::Custom(_) => "Custom",
        })
    }
}

/// The order of the options in a SYN or SYN-ACK (a choice of each
/// operating system's; it matters only to tools that compare segments
/// byte for byte, such as packetdrill scripts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SynOptionOrder {
    /// `mss, sackOK, TS, nop, wscale` (Linux's).
    #[default]
    Linux,
    /// `mss, nop, wscale, sackOK, TS` (FreeBSD's and the other BSDs').
    Bsd,
}

/// Keepalive (RFC 1122 §4.2.3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe.
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes after which the connection times out.
    pub count: u32,
}

impl Default for Keepalive {
    /// [`defaults::KEEPALIVE_IDLE`], [`defaults::KEEPALIVE_INTERVAL`],
    /// [`defaults::KEEPALIVE_COUNT`].
    fn default() -> Self {
        Self {
            idle: defaults::KEEPALIVE_IDLE,
            interval: defaults::KEEPALIVE_INTERVAL,
            count: defaults::KEEPALIVE_COUNT,
        }
    }
}

/// Where the initial sequence number comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsnSource {
    /// RFC 6528: a keyed hash of the 4-tuple plus a 4 µs clock. The key
    /// must be secret and random.
    Rfc6528 {
        /// The SipHash key.
        key: [u8; 16],
    },
    /// A fixed ISN, for tests and for a connection whose ISN was chosen
    /// elsewhere (a SYN cookie's).
    Fixed(Seq),
}

impl IsnSource {
    /// RFC 6528 with a key from the operating system's random numbers
    /// (§3: the key must be secret; a fixed one makes ISNs predictable
    /// to anyone who knows the code): one key for the whole process,
    /// drawn at first use, as Linux keeps one per boot. What
    /// `Endpoints::default()` and `Endpoints::new` use, so that making
    /// endpoints costs no system call; a `Stack` sets its own key
    /// (`StackConfig::isn_key`) for all its connections.
    ///
    /// # Panics
    /// If the operating system has no random numbers to give: better no
    /// connection than guessable ISNs.
    pub fn random() -> Self {
        static KEY: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
        let key = *KEY.get_or_init(|| {
            let mut key = [0u8; 16];
            getrandom::fill(&mut key)
                .expect("the operating system's random numbers (for the RFC 6528 ISN key)");
            key
        });
        Self::Rfc6528 { key }
    }
}

pub use crate::defaults::{INITIAL_RECV_WINDOW, SEND_BUFFER_FLOOR};

/// A connection's policy: what a user chooses, shared behind one `Arc` by
/// every connection made alike. Who the connection is (addresses, ports,
/// ISN) is not here but in [`Endpoints`]; what an application changes on
/// a live connection (setsockopt) goes through `Conn::set_*`
/// ([`crate::Conn::set_nodelay`] and its siblings), never by rewriting
/// this. Every boolean says what it turns on (`true` is the feature on;
/// `drop_syn_fin` and `time_wait_ignores_rst` name a behaviour, turned
/// on the same way; `nodelay` keeps the socket option's name,
/// `TCP_NODELAY`, and turns on sending at once).
/// `Default` gives the values of [`defaults`], each defined there once.
///
/// Non-exhaustive, as later releases add settings: start from
/// `default()` and set the fields you need. `Clone`, so that one policy
/// can be kept and handed out (a user's controller factory is shared).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnConfig {
    /// The hop limit (IPv4 TTL, IPv6 Hop Limit) of the connections'
    /// segments, for the IP layer (RFC 9293 MUST-49); `None`: the IP
    /// layer's default. The engine carries it, as it does the addresses.
    /// Policy a connection starts with; [`crate::Conn::set_hop_limit`]
    /// changes one connection's (`IP_TTL`).
    pub hop_limit: Option<u8>,
    /// The traffic class (IPv4 TOS, IPv6 Traffic Class: the DSCP and ECN
    /// bits) of the connections' segments, for the IP layer (RFC 9293
    /// MUST-48, passed unchanged: SHLD-22). 0 by default. Policy a
    /// connection starts with; [`crate::Conn::set_traffic_class`] changes
    /// one connection's (`IP_TOS`).
    pub traffic_class: u8,
    /// The MSS we advertise: the largest segment we can receive.
    pub mss: u16,
    /// Send the MSS option in our SYN and SYN-ACK (default). RFC 9293
    /// §3.7.1 lets a host leave it out (MAY-3) where it should send it
    /// (SHLD-5); the peer then assumes 536 octets over IPv4, 1220 over
    /// IPv6 (MUST-15). Off with the other three offers off is a SYN with
    /// no options at all, FreeBSD's `TCP_NOOPT`.
    pub mss_option: bool,
    /// Offer window scaling (RFC 7323 §2).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323).
    pub timestamps: bool,
    /// Offer SACK (RFC 2018).
    pub sack: bool,
    /// With SACK negotiated, detect losses by time with RACK and probe tail
    /// losses with TLP (RFC 8985). `false` keeps RFC 6675's DupThresh and
    /// NextSeg with the rescue retransmission, which is also what runs
    /// without SACK.
    pub rack_tlp: bool,
    /// The congestion controller.
    pub congestion: Congestion,
    /// The rule for the first congestion window: RFC 6928's ten segments
    /// by default (experimental, and what Linux and FreeBSD use), or RFC
    /// 5681 §3.1's three (standards track). A `Congestion::Custom`
    /// controller sets its own.
    pub initial_window: InitialWindow,
    /// Drop a segment without timestamps (a RST excepted) on a connection
    /// that negotiated them, as RFC 7323 §3.2 says (SHOULD). Off by
    /// default, as Linux: such segments are taken, without PAWS (a
    /// middlebox that strips options from some segments would otherwise
    /// stall the connection).
    pub require_timestamps: bool,
    /// Keepalive; off when `None`.
    pub keepalive: Option<Keepalive>,
    /// Send buffer size in octets: the most the application may queue.
    /// With `auto_tune` it is a ceiling; the room offered is twice the
    /// congestion window, and at least [`SEND_BUFFER_FLOOR`].
    pub send_buffer: usize,
    /// Receive buffer size in octets: the most we advertise. With
    /// `auto_tune` it is a ceiling; the window starts at 64 KiB and grows
    /// with what the application reads per round trip.
    pub recv_buffer: usize,
    /// Size both buffers to the path, as Linux does (`tcp_rcv_space_adjust`
    /// and the send buffer's growth with the congestion window); memory
    /// follows, since the rings grow only as data arrives. `false` offers
    /// the whole of each buffer from the start.
    pub auto_tune: bool,
    /// Send small segments at once (Nagle off, RFC 896): `TCP_NODELAY`'s
    /// name, kept because every socket API uses it. Policy a connection
    /// starts with; [`crate::Conn::set_nodelay`] changes one connection's.
    pub nodelay: bool,
    /// How long an ACK may be delayed (RFC 1122 §4.2.3.2: under 500 ms).
    pub delayed_ack: Duration,
    /// How long TIME-WAIT lasts ([`defaults::TIME_WAIT`], 2 s; 2·MSL in
    /// RFC 9293).
    pub time_wait: Duration,
    /// RFC 5961 §3: a RST in the window but not at RCV.NXT gets a
    /// challenge ACK (default). Off: RFC 793's rule, any RST in the window
    /// resets (blind attackers then need to guess only the window).
    pub rst_challenge: bool,
    /// RFC 5961 §4: a SYN in a synchronized state gets a challenge ACK
    /// (default). Off: RFC 793's rule, a SYN in the window resets the
    /// connection.
    pub syn_challenge: bool,
    /// An ICMP hard error about our SYN (port or protocol unreachable,
    /// administratively prohibited, TTL exceeded: [`crate::IcmpClass`])
    /// aborts the connection in SYN-SENT (default, as FreeBSD's
    /// `net.inet.tcp.icmp_may_rst` and RFC 5461 §4.1). Off: it is kept
    /// as a soft error, as in every other state.
    pub icmp_hard_errors: bool,
    /// Drop every segment that has both SYN and FIN set, in every state
    /// but TIME-WAIT (default). No connection needs one: it is how
    /// scanners tell stacks apart, and Linux drops it in LISTEN, FreeBSD
    /// (`net.inet.tcp.drop_synfin`) everywhere. Off: RFC 9293's
    /// processing; in LISTEN the SYN opens a connection and the FIN is
    /// left for the peer to send again once synchronized (as FreeBSD).
    pub drop_syn_fin: bool,
    /// RFC 1337's guard against TIME-WAIT assassination: a RST in
    /// TIME-WAIT is ignored, and TIME-WAIT runs its course. Off (default,
    /// as Linux's `tcp_rfc1337`): RFC 9293 §3.10.7.4, an acceptable RST
    /// closes the connection early.
    pub time_wait_ignores_rst: bool,
    /// Let a new SYN reopen a 4-tuple in TIME-WAIT (RFC 9293 §3.6.1,
    /// MAY-2; default, as Linux and FreeBSD), when RFC 6191 says it is
    /// new: with timestamps, a newer TSval; without, a higher sequence
    /// number. Off: every SYN in TIME-WAIT gets RFC 5961's challenge ACK
    /// (or RFC 793's reset) and TIME-WAIT runs its course.
    pub time_wait_reopen: bool,
    /// Accept segments up to the room in the receive buffer even where
    /// the window field cannot advertise all of it (more than 65,535
    /// octets without window scaling, or what the scale rounds off).
    /// RFC 9293 §3.10.7.4 tests against RCV.WND; FreeBSD takes RCV.WND to
    /// be the buffer's room, Linux (default, `false`) the window it
    /// advertised.
    pub accept_unadvertised_room: bool,
    /// With `auto_tune`, the receive window offered at first (64 KiB by
    /// default; Linux's `tcp_rmem` default is 128 KiB of which it offers
    /// 64 KiB, FreeBSD's `recvspace` 64 KiB rounded up to whole segments).
    pub initial_recv_window: usize,
    /// The order of the options in our SYN and SYN-ACK. No RFC fixes it;
    /// peers accept any. [`SynOptionOrder::Linux`] by default.
    pub syn_option_order: SynOptionOrder,
    /// Lower bound of the RTO.
    pub min_rto: Duration,
    /// The least the RTO exceeds SRTT by: RFC 6298 §2.3's G in
    /// RTO = SRTT + max(G, 4·RTTVAR). 200 ms by default, which is Linux's
    /// RTO in effect (SRTT + max(200 ms, 4·RTTVAR)): with G at the clock's
    /// 1 ms, a steady path whose RTT nears `min_rto` (100 ms, say) gets an
    /// RTO barely above one RTT, and every queueing delay fires it. 1 ms
    /// gives RFC 6298's formula with a fine clock.
    pub min_rto_variance: Duration,
    /// Upper bound of the RTO.
    pub max_rto: Duration,
    /// RTO before any RTT sample.
    pub initial_rto: Duration,
    /// Retransmissions of one segment before the connection times out.
    pub max_retries: u32,
    /// Give up when data stays unacknowledged this long (RFC 5482), if set.
    pub user_timeout: Option<Duration>,
    /// Retransmissions of our SYN that still offer window scaling, SACK
    /// and timestamps, if limited: later ones carry the MSS option alone,
    /// for a path that drops SYNs with options it does not know. FreeBSD's
    /// `net.inet.tcp.rexmit_drop_options` is `Some(2)` (the third
    /// retransmission drops them); no RFC asks for it. `None` (default):
    /// every SYN offers what the configuration does.
    pub syn_retries_with_options: Option<u32>,
    /// Give up the handshake when the connection is not synchronized this
    /// long after it was made (SYN-SENT or SYN-RECEIVED), if set: the
    /// application closing the open attempt sooner than R2, which RFC 9293
    /// §3.8.3 allows (MUST-23 sets R2 for a SYN at 3 minutes or more).
    /// The connection closes with [`crate::CloseReason::TimedOut`], as
    /// after `max_retries`. FreeBSD's `TCP_KEEPINIT`
    /// (`net.inet.tcp.keepinit`, 75 s); `None` by default: `max_retries`
    /// alone ends a handshake.
    pub connect_timeout: Option<Duration>,
    /// The connection's first this many in-order data segments are each
    /// ACKed at once, not delayed: Linux's quick-ACK mode at a
    /// connection's start (`tcp_incr_quickack` with `TCP_MAX_QUICKACKS`,
    /// 16, when the first data arrives), which lets a sender in slow
    /// start grow its window without waiting on delayed ACKs. RFC 1122
    /// §4.2.3.2 and RFC 5681 §4.2 allow an ACK for every segment. 0 (the
    /// default): the delayed-ACK rule from the first segment.
    pub quick_acks: u8,
    /// Explicit Congestion Notification (RFC 3168): [`EcnMode::Accept`]
    /// by default, as Linux (`net.ipv4.tcp_ecn=2`) and FreeBSD
    /// (`net.inet.tcp.ecn.enable=2`): a peer's ECN-setup SYN is answered
    /// with an ECN-setup SYN-ACK, our own SYNs do not ask.
    /// [`EcnMode::On`] asks too; [`EcnMode::Off`] never uses ECN.
    pub ecn: EcnMode,
    /// With [`EcnMode::On`], retransmissions of our SYN that still ask
    /// for ECN: later ones go without ECE and CWR, for a path that drops
    /// them (RFC 3168 §6.1.1.1). 1 by default, FreeBSD's
    /// `net.inet.tcp.ecn.maxretries` (Linux's `tcp_ecn_fallback` asks
    /// in the first SYN only: 0).
    pub ecn_syn_retries: u32,
}

/// Who a connection is: its addresses and ports and where its initial
/// sequence number comes from, apart from the policy ([`ConnConfig`])
/// that many connections share behind one `Arc`. A stack fills them in
/// for each connection; a user of [`crate::Conn`] alone does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// Our address, as metadata (the ISN hash binds it; the IP layer
    /// writes it).
    pub local_addr: Option<IpAddr>,
    /// The peer's address, as metadata.
    pub remote_addr: Option<IpAddr>,
    /// Our port.
    pub local_port: u16,
    /// The peer's port.
    pub remote_port: u16,
    /// Where the initial sequence number comes from: RFC 6528's keyed
    /// hash of the four fields above by default, with the process's
    /// random key ([`IsnSource::random`]); [`IsnSource::Fixed`] for tests
    /// and for an ISN chosen elsewhere (a TIME-WAIT reopening's; a SYN
    /// cookie's is always the cookie, whatever this says). Used when the
    /// connection is made, not kept.
    pub isn: IsnSource,
}

impl Endpoints {
    /// The four addresses and ports, RFC 6528 ISNs with the process's
    /// random key.
    pub fn new(
        local_addr: Option<IpAddr>,
        local_port: u16,
        remote_addr: Option<IpAddr>,
        remote_port: u16,
    ) -> Self {
        Self {
            local_addr,
            remote_addr,
            local_port,
            remote_port,
            isn: IsnSource::random(),
        }
    }

    /// Ports alone (no addresses: the default MSS is IPv4's), RFC 6528
    /// ISNs with the process's random key.
    pub fn ports(local_port: u16, remote_port: u16) -> Self {
        Self::new(None, local_port, None, remote_port)
    }

    /// These endpoints with the ISN from `isn`.
    #[must_use]
    pub fn with_isn(mut self, isn: IsnSource) -> Self {
        self.isn = isn;
        self
    }
}

impl Default for Endpoints {
    /// No addresses, ports 0, RFC 6528 ISNs with the process's random key.
    fn default() -> Self {
        Self::ports(0, 0)
    }
}

impl ConnConfig {
    /// What this configuration is willing to use of the SYN options:
    /// our side of every negotiation ([`vtcp_wire::OptionValues::agree`]).
    pub fn offer(&self) -> vtcp_wire::Offer {
        vtcp_wire::Offer {
            window_scale: self.window_scaling.then(|| self.window_scale()),
            sack: self.sack,
            timestamps: self.timestamps,
        }
    }

    /// The window-scale shift we offer: the least that lets the window
    /// cover the receive buffer (RFC 7323 §2.3: at most 14), or 0 with
    /// scaling off.
    pub fn window_scale(&self) -> u8 {
        if !self.window_scaling {
            return 0;
        }
        let mut shift = 0;
        while shift < 14 && (self.recv_buffer >> shift) > 65_535 {
            shift += 1;
        }
        shift
    }
}

impl Default for ConnConfig {
    fn default() -> Self {
        Self {
            hop_limit: None,
            traffic_class: 0,
            mss: defaults::MSS,
            mss_option: true,
            window_scaling: true,
            timestamps: true,
            sack: true,
            rack_tlp: true,
            congestion: Congestion::HighSpeed,
            initial_window: InitialWindow::Rfc6928,
            require_timestamps: false,
            keepalive: None,
            send_buffer: defaults::SEND_BUFFER,
            recv_buffer: defaults::RECV_BUFFER,
            auto_tune: true,
            nodelay: false,
            delayed_ack: defaults::DELAYED_ACK,
            time_wait: defaults::TIME_WAIT,
            rst_challenge: true,
            syn_challenge: true,
            icmp_hard_errors: true,
            drop_syn_fin: true,
            time_wait_ignores_rst: false,
            time_wait_reopen: true,
            accept_unadvertised_room: false,
            initial_recv_window: INITIAL_RECV_WINDOW,
            syn_option_order: SynOptionOrder::Linux,
            min_rto: defaults::MIN_RTO,
            min_rto_variance: defaults::MIN_RTO_VARIANCE,
            max_rto: defaults::MAX_RTO,
            initial_rto: defaults::INITIAL_RTO,
            max_retries: defaults::MAX_RETRIES,
            user_timeout: None,
            syn_retries_with_options: None,
            connect_timeout: None,
            quick_acks: 0,
            ecn: EcnMode::Accept,
            ecn_syn_retries: defaults::ECN_SYN_RETRIES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6528 §3: the default ISN key is secret: drawn from the
    /// operating system once per process, never the all-zero key anyone
    /// could compute with. (That two processes draw different keys is the
    /// operating system's promise; one process keeps its key.)
    #[test]
    fn the_default_isn_key_is_random() {
        let key = |e: Endpoints| match e.isn {
            IsnSource::Rfc6528 { key } => key,
            IsnSource::Fixed(_) => panic!("a fixed ISN by default"),
        };
        let (a, b) = (key(Endpoints::default()), key(Endpoints::ports(1, 2)));
        assert_ne!(a, [0; 16]);
        assert_eq!(a, b);
        // Sixteen octets that are not one repeated value (a stuck source).
        assert!(a.iter().any(|&x| x != a[0]));
    }

    /// RFC 7323 §2.3: the shift offered is the least that lets the window
    /// cover the receive buffer, and never more than 14, however large
    /// the buffer.
    #[test]
    fn the_window_scale_covers_the_buffer_up_to_14() {
        let shift = |recv_buffer| {
            ConnConfig {
                recv_buffer,
                ..ConnConfig::default()
            }
            .window_scale()
        };
        assert_eq!(shift(65_535), 0);
        assert_eq!(shift(65_536), 1);
        assert_eq!(shift((1 << 29) - 1), 13);
        assert_eq!(shift(1 << 29), 14);
        assert_eq!(shift(1 << 30), 14);
        assert_eq!(shift(usize::MAX), 14);
    }
}
