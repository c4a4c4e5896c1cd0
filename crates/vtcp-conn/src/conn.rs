//! The connection.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use siphasher::sip::SipHasher24;
use vtcp_buf::RecvBuf;
use vtcp_rto::{RtoConfig, RtoState};
use vtcp_seq::Seq;
use vtcp_wire::{
    FastOpen, FastOpenCookie, Flags, OptionValues, Options, ParsedSegment, SackBlocks, Segment,
    TcpOption, Timestamp,
};

use crate::config::{
    ConnConfig, Controller, Endpoints, IsnSource, Keepalive, SEND_BUFFER_FLOOR, SynOptionOrder,
};
use crate::ecn::EcnCodepoint;
use crate::fastopen::{FastOpenOutcome, FastOpenState};
use crate::icmp::{IcmpClass, IcmpError, IcmpOutcome};
use crate::nanos::{nanos, time};
use crate::negotiated::Negotiated;
use crate::pacing::Pacer;
use crate::recovery::{AckInfo, Link, Outcome, Recovery, Resend};
use crate::recv::RecvSide;
use crate::send::SendSide;
use crate::timer::{Timer, TimerTable};
use crate::types::{
    CloseReason, ConnError, CookieHandshake, Counters, Event, EventQueue, Rare, State, Stats,
};

/// Longest a TCP segment we build can be: header and options, plus data.
const MAX_HEADER: usize = 60;
/// RFC 7323 §5.5: TS.Recent older than 24 days is invalid.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);
/// `unacked_since` when nothing is unacknowledged.
const NOT_SENT: u64 = crate::nanos::NONE;

/// RFC 5961 §7: challenge ACKs per second at most.
const CHALLENGE_ACKS_PER_SEC: u32 = 10;

/// One TCP connection.
pub struct Conn {
    /// The policy: shared by every connection a stack makes alike (its
    /// addresses, ports and the settings below are not read from it).
    cfg: Arc<ConnConfig>,
    /// Who the connection is, and what the application may change on it.
    own: Own,
    state: State,
    /// The send side's sequence space, window and buffer.
    snd: SendSide,
    /// The receive side's sequence space, buffer and window.
    rcv: RecvSide,
    /// What the handshake settled.
    opts: Negotiated,
    // Timers and recovery.
    /// SRTT, RTTVAR and the RTO (RFC 6298); their bounds are read from
    /// `cfg` ([`rto_config`]), not kept a second time.
    rto: RtoState,
    cc: Controller,
    retries: u32,
    timers: TimerTable,
    /// Loss recovery (RFC 6675, RFC 8985, RFC 9937, RFC 6582): the
    /// recovery episode, what is lost, what goes again next.
    recovery: Recovery,
    /// When the next segment of data may go, for a controller that paces.
    pacer: Pacer,
    /// The controller paces, and hears delivery-rate samples: asked once,
    /// when the connection is made (a controller paces for its lifetime
    /// or never), so that the per-segment path reads a flag.
    paces: bool,
    /// In-order data segments still to be ACKed at once
    /// (`ConnConfig::quick_acks`).
    quick_acks_left: u8,
    persist_backoff: u32,
    keepalive_probes: u32,
    /// When the oldest unacknowledged data was first sent, for RFC
    /// 5482's user timeout: nanoseconds, [`NOT_SENT`] with nothing
    /// unacknowledged (issue 22: half an `Option<Duration>`).
    unacked_since: u64,
    syn_needed: bool,
    /// A reset is owed.
    rst_needed: Option<Reset>,
    keepalive_needed: bool,
    probe_needed: bool,
    /// RFC 5961 §7's window: when it began (nanoseconds) and the
    /// challenge ACKs sent in it.
    challenge_window: (u64, u32),
    now: Duration,
    events: EventQueue,
    close_reason: Option<CloseReason>,
    stats: Counters,
    /// Data on the peer's SYN and TCP Fast Open (RFC 7413), for the
    /// connections that have either.
    fast_open: Option<Box<FastOpenState>>,
}

/// What is each connection's own beside its shared configuration: its
/// addresses and ports, and the settings the application may change on it
/// ([`Conn::set_nodelay`], [`Conn::set_hop_limit`],
/// [`Conn::set_traffic_class`]), copied from the configuration when the
/// connection is made.
#[derive(Clone, Copy, Debug)]
struct Own {
    local_addr: Option<IpAddr>,
    remote_addr: Option<IpAddr>,
    local_port: u16,
    remote_port: u16,
    hop_limit: Option<u8>,
    traffic_class: u8,
    nodelay: bool,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("state", &self.state)
            .field("ports", &(self.own.local_port, self.own.remote_port))
            .field("snd_una", &self.snd_una())
            .field("snd_nxt", &self.snd.nxt)
            .field("rcv_nxt", &self.rcv_nxt())
            .finish_non_exhaustive()
    }
}

/// RFC 6528 §3's F(localip, localport, remoteip, remoteport, secretkey)
/// for the connection (or the fixed ISN itself). The ISN is M + F, M a
/// 4 µs timer; the timestamp offset is derived from F too, so one hash
/// serves both.
fn isn_hash(isn: IsnSource, ends: &Endpoints) -> u32 {
    match isn {
        IsnSource::Fixed(seq) => seq.0,
        IsnSource::Rfc6528 { key } => {
            let mut input = [0u8; 36];
            let mut len = 0;
            for addr in [ends.local_addr, ends.remote_addr].into_iter().flatten() {
                len += match addr {
                    std::net::IpAddr::V4(a) => {
                        input[len..len + 4].copy_from_slice(&a.octets());
                        4
                    }
                    std::net::IpAddr::V6(a) => {
                        input[len..len + 16].copy_from_slice(&a.octets());
                        16
                    }
                };
            }
            input[len..len + 2].copy_from_slice(&ends.local_port.to_be_bytes());
            input[len + 2..len + 4].copy_from_slice(&ends.remote_port.to_be_bytes());
            SipHasher24::new_with_key(&key).hash(&input[..len + 4]) as u32
        }
    }
}

/// Whether `flags` open a connection (RFC 9293 §3.10.7.2): SYN without
/// ACK or RST, and without FIN when the policy drops SYN-FIN
/// ([`ConnConfig::drop_syn_fin`]).
fn is_opening_syn(flags: Flags, cfg: &ConnConfig) -> bool {
    flags.contains(Flags::SYN)
        && !flags.intersects(Flags::ACK | Flags::RST)
        && !(flags.contains(Flags::FIN) && cfg.drop_syn_fin)
}

/// The RTO's bounds and clock granularity (RFC 6298 §2.1, §2.4, §2.5)
/// from the configuration: made on each use, so that no connection keeps
/// a copy of what its configuration holds.
#[inline]
pub(crate) fn rto_config(cfg: &ConnConfig) -> RtoConfig {
    let mut c = RtoConfig::default();
    c.initial = cfg.initial_rto;
    c.min = cfg.min_rto;
    c.max = cfg.max_rto;
    c.granularity = cfg.min_rto_variance;
    c
}

fn isn_for(isn: IsnSource, f: u32, now: Duration) -> Seq {
    match isn {
        IsnSource::Fixed(seq) => seq,
        IsnSource::Rfc6528 { .. } => Seq(((now.as_micros() / 4) as u32).wrapping_add(f)),
    }
}

impl Conn {
    fn new_inner(cfg: Arc<ConnConfig>, ends: Endpoints, now: Duration, state: State) -> Self {
        let f = isn_hash(ends.isn, &ends);
        let iss = isn_for(ends.isn, f, now);
        let own = Own {
            local_addr: ends.local_addr,
            remote_addr: ends.remote_addr,
            local_port: ends.local_port,
            remote_port: ends.remote_port,
            hop_limit: cfg.hop_limit,
            traffic_class: cfg.traffic_class,
            nodelay: cfg.nodelay,
        };
        let rto = RtoState::new(&rto_config(&cfg));
        let rcv_wscale = cfg.window_scale();
        let ts_offset = f.rotate_left(13);
        let opts = Negotiated::new(
            rcv_wscale,
            ts_offset,
            Negotiated::default_mss(own.remote_addr),
            now,
        );
        let cc = cfg.congestion.build(
            opts.smss,
            cfg.initial_window,
            u64::from(f) << 32 | u64::from(iss.0),
        );
        let paces = cc.pacing_rate().is_some();
        let mut timers = TimerTable::default();
        // The handshake's deadline (`connect_timeout`) runs on the
        // keepalive timer, which waits for synchronization (as FreeBSD's
        // keep timer runs `TCP_KEEPINIT` before it).
        if let Some(limit) = cfg.connect_timeout
            && !state.is_synchronized()
        {
            timers.set(Timer::Keepalive, now + limit);
        }
        Self {
            snd: SendSide::new(iss, cfg.send_buffer),
            rcv: RecvSide::new(cfg.recv_buffer, cfg.initial_recv_window, cfg.auto_tune, now),
            quick_acks_left: cfg.quick_acks,
            opts,
            cfg,
            own,
            state,
            rto,
            cc,
            retries: 0,
            timers,
            recovery: Recovery::new(iss, paces),
            pacer: Pacer::default(),
            paces,
            persist_backoff: 0,
            keepalive_probes: 0,
            unacked_since: NOT_SENT,
            syn_needed: false,
            rst_needed: None,
            keepalive_needed: false,
            probe_needed: false,
            challenge_window: (nanos(now), 0),
            now,
            events: EventQueue::default(),
            close_reason: None,
            stats: Counters::default(),
            fast_open: None,
        }
    }

    /// Client TCP Fast Open (RFC 7413 §4.1.3, §4.2.1): our SYN asks for a
    /// cookie (`cookie` `None`), or carries `cookie` and as much of the
    /// data written before it goes as the server's MSS (`peer_mss`, cached
    /// with the cookie; the default MSS when unknown) allows. Only in
    /// SYN-SENT before the SYN went; ignored after. What the SYN-ACK
    /// taught comes from [`Conn::take_fast_open_outcome`].
    pub fn request_fast_open(&mut self, cookie: Option<FastOpenCookie>, peer_mss: Option<u16>) {
        // A SYN that timed out went too, though SND.NXT is back at the
        // ISN: the SYN sent again carries no TFO (RFC 7413 §4.1.3.1).
        if self.state != State::SynSent || self.snd.nxt != self.snd.iss || self.retries > 0 {
            return;
        }
        let tfo = self.fast_open.get_or_insert_default();
        tfo.client = Some(cookie);
        tfo.peer_mss = peer_mss;
    }

    /// What a client's TFO handshake taught about its server, once
    /// (RFC 7413 §4.1.3): for the caller's cookie cache.
    pub fn take_fast_open_outcome(&mut self) -> Option<FastOpenOutcome> {
        self.fast_open.as_mut()?.outcome.take()
    }

    /// Server TCP Fast Open (RFC 7413 §4.2.2) for a connection made from
    /// a SYN, before its SYN-ACK goes: `reply_cookie` rides in the SYN-ACK
    /// (the answer to a cookie request, or a fresh cookie for an invalid
    /// one). `accept_data`: the SYN's cookie was valid, so its data is
    /// the application's at once (readable in SYN-RECEIVED, as FreeBSD's
    /// and Linux's are) and the SYN-ACK acknowledges it; otherwise the
    /// SYN's data is dropped and only the SYN acknowledged (§4.2.2: the
    /// client sends it again after the handshake).
    pub fn accept_fast_open(&mut self, reply_cookie: Option<FastOpenCookie>, accept_data: bool) {
        if self.state != State::SynReceived || !self.rcv.passive || self.snd.nxt != self.snd.iss {
            return;
        }
        let data = self.take_peer_syn_data();
        if accept_data && !data.is_empty() && self.rcv.buf.insert(self.rcv.irs + 1, &data) > 0 {
            self.push_event(Event::Readable);
        }
        if reply_cookie.is_some() {
            self.fast_open.get_or_insert_default().reply_cookie = reply_cookie;
        }
    }

    /// Whether this connection was opened with data accepted from a TFO
    /// SYN and has not completed its handshake (RFC 7413 §5.1's pending
    /// connections, which a server limits).
    pub fn is_fast_open_pending(&self) -> bool {
        self.state == State::SynReceived && self.rcv.passive && self.rcv_nxt() != self.rcv.irs + 1
    }

    /// An active open (RFC 9293 §3.10.1): the connection goes to SYN-SENT
    /// and its SYN is ready for [`Conn::poll_transmit`]. `cfg` is the
    /// policy (a `ConnConfig`, or an `Arc` of one that many connections
    /// share, as a stack's do), `ends` who the connection is.
    pub fn connect(cfg: impl Into<Arc<ConnConfig>>, ends: Endpoints, now: Duration) -> Self {
        let mut c = Self::new_inner(cfg.into(), ends, now, State::SynSent);
        c.syn_needed = true;
        c
    }

    /// A passive open from a received SYN, parsed
    /// ([`ParsedSegment::parse`]) (RFC 9293 §3.10.7.2): the connection
    /// goes to SYN-RECEIVED with its SYN-ACK ready. `cfg` and `ends` as
    /// for [`Conn::connect`].
    pub fn accept_syn(
        cfg: impl Into<Arc<ConnConfig>>,
        ends: Endpoints,
        now: Duration,
        syn: &ParsedSegment<'_>,
    ) -> Result<Self, ConnError> {
        let cfg = cfg.into();
        let (seg, values) = (syn.segment(), syn.values());
        if !is_opening_syn(seg.flags, &cfg) {
            return Err(ConnError::NotASyn);
        }
        let mut c = Self::new_inner(cfg, ends, now, State::SynReceived);
        c.rcv.passive = true;
        c.stats.segments_in += 1;
        c.take_peer_syn(seg, values, now);
        c.syn_needed = true;
        Ok(c)
    }

    /// Starts from the ACK that returned a valid SYN cookie, straight to
    /// ESTABLISHED (what `vtcp-cookie`'s `validate_ack` recovered is in
    /// `handshake`); `initial_data` is what that ACK carried. `cfg` and
    /// `ends` as for [`Conn::connect`], but the ISN is the cookie's,
    /// whatever `ends.isn` says.
    pub fn accept_cookie(
        cfg: impl Into<Arc<ConnConfig>>,
        mut ends: Endpoints,
        now: Duration,
        handshake: &CookieHandshake,
        initial_data: &[u8],
    ) -> Self {
        let cfg = cfg.into();
        let h = handshake;
        ends.isn = IsnSource::Fixed(h.local_isn);
        let mut c = Self::new_inner(cfg, ends, now, State::Established);
        c.rcv.irs = h.remote_isn;
        c.rcv.buf = RecvBuf::new(c.cfg.recv_buffer, h.remote_isn + 1);
        // The same negotiation as a SYN's, on what the cookie kept of the
        // peer's SYN (its shift and SACK survive in the timestamp bits).
        let peer = OptionValues {
            mss: Some(h.peer_mss),
            wscale: h.peer_wscale,
            sack_permitted: h.sack_permitted,
            timestamp: h.timestamp,
            ..OptionValues::default()
        };
        if c.opts
            .take_peer_syn(&c.cfg.offer(), &peer, now)
            .window_scale
            .is_some()
        {
            // Our shift is the one the cookie SYN-ACK carried.
            c.opts.rcv_wscale = h.our_wscale.min(14);
        }
        if let Some(ts) = h.timestamp.filter(|_| c.opts.ts_ok) {
            // Our TSvals must not go back from the one the cookie SYN-ACK
            // carried (the peer echoes it in TSecr), or the peer's PAWS
            // would drop them: continue that clock, past the 6 low bits the
            // cookie used for options.
            let now_ms = now.as_millis() as u32;
            c.opts.ts_offset = ts.tsecr.wrapping_sub(now_ms).wrapping_add(64);
        }
        c.set_smss(Some(h.peer_mss));
        c.snd.syn_acked = true;
        c.snd.nxt = h.local_isn + 1;
        c.snd.max = c.snd.nxt;
        c.snd.wnd = u32::from(h.window) << c.opts.snd_wscale;
        c.snd.max_wnd = c.snd.wnd;
        c.snd.wl1 = h.remote_isn + 1;
        c.snd.wl2 = h.local_isn + 1;
        // The cookie SYN-ACK offered a window (unscaled, at most 65535):
        // its right edge stands from the start.
        c.rcv.adv_right = c.rcv_nxt() + c.rcv.window().min(65_535) as u32;
        c.rcv.last_ack_sent = c.rcv_nxt();
        c.push_event(Event::Connected);
        c.arm_keepalive(now);
        if !initial_data.is_empty() && c.rcv.buf.insert(h.remote_isn + 1, initial_data) > 0 {
            c.push_event(Event::Readable);
            c.rcv.ack_now = true;
        }
        c
    }

    /// The peer's SYN: IRS and the options it offered (RFC 9293 §3.10.7.2,
    /// RFC 7323 §2.2 and §3.2, RFC 2018 §2).
    fn take_peer_syn(&mut self, seg: &Segment<&[u8]>, v: &OptionValues, now: Duration) {
        self.rcv.irs = seg.seq;
        self.rcv.buf = RecvBuf::new(self.cfg.recv_buffer, seg.seq + 1);
        let ours = self.syn_offer();
        self.opts.take_peer_syn(&ours, v, now);
        // RFC 3168 §6.1.1: an ECN-setup SYN or SYN-ACK.
        self.opts.ecn.on_peer_syn(seg.flags, self.cfg.ecn);
        self.set_smss(v.mss);
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        self.snd.wnd = u32::from(seg.window);
        self.snd.max_wnd = self.snd.wnd;
        self.snd.wl1 = seg.seq;
        self.snd.wl2 = seg.ack;
        if !seg.payload.is_empty() {
            self.fast_open.get_or_insert_default().peer_syn_data = seg.payload.into();
        }
    }

    /// The send MSS from the peer's MSS option (RFC 9293 §3.7.1).
    fn set_smss(&mut self, peer: Option<u16>) {
        self.opts.set_smss(
            peer,
            self.cfg.mss,
            Negotiated::default_mss(self.own.remote_addr),
        );
        self.cc.set_mss(self.opts.smss);
    }

    /// A report that the path to the peer carries TCP segments of at most
    /// `max_segment` octets, header and options included (an ICMP
    /// "fragmentation needed" or ICMPv6 "packet too big" MTU less the IP
    /// header: RFC 1191 §6.3, RFC 8201 §5). The send MSS only goes down,
    /// never below 64 octets of data; segments sent from then on,
    /// retransmissions included, fit the path. Nothing is checked here:
    /// [`Conn::handle_icmp`] checks that the report is this connection's
    /// (RFC 5927 §4.1) and sends again at once what no longer fits.
    /// Returns whether the MSS went down.
    pub fn set_path_mtu(&mut self, max_segment: u32) -> bool {
        let fits = max_segment
            .saturating_sub(20 + self.opts.fixed_option_len())
            .max(64);
        if fits >= self.opts.smss {
            return false;
        }
        self.opts.smss = fits;
        self.cc.set_mss(self.opts.smss);
        true
    }

    /// Takes in an ICMP or ICMPv6 error that quotes a segment of this
    /// connection whose sequence number is `quoted_seq` (the caller found
    /// the connection by the quoted addresses and ports). Call
    /// `poll_transmit` after.
    ///
    /// - RFC 5927 §4.1: unless SND.UNA ≤ `quoted_seq` < SND.MAX (the
    ///   highest SND.NXT sent, as FreeBSD checks: a quote of a segment
    ///   sent before a timeout's rewind is still genuine), the error is
    ///   ignored ([`IcmpOutcome::OutOfWindow`]): a blind attacker would
    ///   have to guess a sequence number in flight.
    /// - A path-MTU report (RFC 1191 §6.3, RFC 8201 §5, RFC 9293 §3.7.3)
    ///   lowers the send MSS ([`IcmpError::max_segment`],
    ///   [`Conn::set_path_mtu`]) and sends the data in flight again at
    ///   once in segments that fit, from SND.UNA, with no congestion
    ///   response (the segments were dropped for their size, not for
    ///   congestion: FreeBSD's `tcp_mtudisc`). In SYN-SENT there is no
    ///   MSS yet to lower, and a SYN fits every path.
    /// - A hard error ([`IcmpClass::Hard`]) in SYN-SENT aborts the
    ///   connection with [`CloseReason::Unreachable`] when
    ///   [`ConnConfig::icmp_hard_errors`] is on (RFC 1122 §4.2.3.9, RFC
    ///   5461 §4.1). Any other error, and a hard one in any other state,
    ///   is soft: kept ([`Conn::icmp_error`]) and the connection goes on
    ///   (RFC 5461 §4.1: hard errors are soft in the synchronized
    ///   states); should it time out later, the error it reports is this
    ///   one, not the timeout (RFC 1122 §4.2.3.9, as Linux and FreeBSD).
    pub fn handle_icmp(&mut self, now: Duration, error: IcmpError, quoted_seq: Seq) -> IcmpOutcome {
        self.now = self.now.max(now);
        let before = self.state;
        // A closed connection takes no more errors (the one it reports
        // stays); in TIME-WAIT nothing is in flight, so the range is
        // empty.
        let open = !matches!(self.state, State::Closed | State::Listen);
        if !open || !quoted_seq.in_range(self.snd_una(), self.snd.max) {
            crate::trace_event!(DEBUG, seq = quoted_seq.0, "ICMP error out of window");
            return IcmpOutcome::OutOfWindow;
        }
        let outcome = match error.class() {
            IcmpClass::PathMtu => self.on_path_mtu(error),
            IcmpClass::Hard if self.state == State::SynSent && self.cfg.icmp_hard_errors => {
                self.stats.set_icmp_error(error);
                self.enter_closed(CloseReason::Unreachable);
                IcmpOutcome::Aborted
            }
            _ => {
                self.stats.set_icmp_error(error);
                IcmpOutcome::SoftError
            }
        };
        self.trace_state(before, "ICMP");
        self.check_invariants();
        outcome
    }

    /// RFC 1191 §6.3, RFC 8201 §5: a smaller path MTU, and what was sent
    /// too big goes again.
    fn on_path_mtu(&mut self, error: IcmpError) -> IcmpOutcome {
        let lowered = self.state != State::SynSent
            && error
                .max_segment()
                .is_some_and(|max| self.set_path_mtu(max));
        if !lowered {
            return IcmpOutcome::MssUnchanged;
        }
        // Before our SYN is acknowledged only the SYN (or SYN-ACK) is in
        // flight, and its own timer sends it again.
        if self.snd.syn_acked && self.flight() > 0 {
            let (recovery, mut link) = self.link();
            recovery.go_back(&mut link);
            self.resend_from_una();
        }
        IcmpOutcome::MssLowered
    }

    /// The last ICMP error this connection accepted
    /// ([`Conn::handle_icmp`]): the soft error kept (RFC 1122 §4.2.3.9),
    /// which is the error to report should the connection time out, or
    /// the hard error that closed it ([`CloseReason::Unreachable`]).
    pub fn icmp_error(&self) -> Option<IcmpError> {
        self.stats.icmp_error()
    }

    /// Turns Nagle's algorithm off (`true`) or on again (RFC 9293 §3.7.4,
    /// MUST-17), at any time: a short segment held for an ACK goes at the
    /// next [`Conn::poll_transmit`].
    pub fn set_nodelay(&mut self, nodelay: bool) {
        self.own.nodelay = nodelay;
    }

    /// Sets the hop limit of this connection's segments from now on, for
    /// the IP layer ([`ConnConfig::hop_limit`]).
    pub fn set_hop_limit(&mut self, hop_limit: Option<u8>) {
        self.own.hop_limit = hop_limit;
    }

    /// Sets the traffic class of this connection's segments from now on,
    /// for the IP layer ([`ConnConfig::traffic_class`]).
    pub fn set_traffic_class(&mut self, traffic_class: u8) {
        self.own.traffic_class = traffic_class;
    }

    /// Turns keepalive on with `keepalive`'s timers, or off with `None`,
    /// from now on (RFC 1122 §4.2.3.6, MUST-24: per connection; the
    /// socket's `SO_KEEPALIVE` and `TCP_KEEP*`): an idle synchronized
    /// connection is probed `idle` after `now` (the time of the call) or
    /// its last segment.
    /// Settings an application rarely changes are read from the policy,
    /// not copied into every connection: the first change gives this
    /// connection a policy of its own (a copy; [`Conn::config`] shows
    /// it), the others keep sharing theirs.
    pub fn set_keepalive(&mut self, now: Duration, keepalive: Option<Keepalive>) {
        self.now = self.now.max(now);
        if self.cfg.keepalive == keepalive {
            return;
        }
        Arc::make_mut(&mut self.cfg).keepalive = keepalive;
        self.keepalive_probes = 0;
        if self.state != State::TimeWait {
            // Before synchronization the timer holds the handshake's
            // deadline, which `arm_keepalive` leaves alone.
            self.arm_keepalive(self.now);
        }
    }

    /// Gives up when data stays unacknowledged `limit` long (RFC 5482's
    /// user timeout, RFC 9293 §3.8.3's R2 by time; Linux's
    /// `TCP_USER_TIMEOUT`), or only after `max_retries` with `None`, from
    /// the next retransmission timeout on. A policy of its own for this
    /// connection, as [`Conn::set_keepalive`].
    pub fn set_user_timeout(&mut self, limit: Option<Duration>) {
        if self.cfg.user_timeout != limit {
            Arc::make_mut(&mut self.cfg).user_timeout = limit;
        }
    }

    /// Whether a SYN (`syn`, parsed) may reopen this
    /// connection from TIME-WAIT as a new incarnation: RFC 9293 §3.6.1
    /// (MAY-2) with RFC 6191 §2's tests. If this incarnation used
    /// timestamps, the SYN must carry a TSval newer than TS.Recent (or the
    /// same one and a higher sequence number); without timestamps, its
    /// sequence number must be beyond RCV.NXT. `false` in any other state,
    /// with `time_wait_reopen` off, or for anything but a bare SYN.
    pub fn accepts_reopen(&self, syn: &ParsedSegment<'_>) -> bool {
        // The state first: this is asked of every segment a stack hands a
        // connection, and only one in TIME-WAIT needs more.
        if self.state != State::TimeWait || !self.cfg.time_wait_reopen {
            return false;
        }
        let seg = syn.segment();
        if !is_opening_syn(seg.flags, &self.cfg) {
            return false;
        }
        let newer_seq = seg.seq.after(self.rcv_nxt());
        if !self.opts.ts_ok {
            return newer_seq;
        }
        match syn.values().timestamp {
            Some(ts) if ts.tsval == self.opts.ts_recent => newer_seq,
            Some(ts) => vtcp_seq::seq_before(self.opts.ts_recent, ts.tsval),
            // RFC 6191 §2: the old incarnation had timestamps and the SYN
            // has none: nothing shows that it is new.
            None => false,
        }
    }

    // ----- Accessors -----

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// SND.UNA, SYN and FIN included.
    pub fn snd_una(&self) -> Seq {
        self.snd.una()
    }

    /// SND.NXT.
    pub fn snd_nxt(&self) -> Seq {
        self.snd.nxt
    }

    /// RCV.NXT, the peer's FIN included once reached.
    pub fn rcv_nxt(&self) -> Seq {
        self.rcv.nxt()
    }

    /// Fuzzing only (`--cfg fuzzing`): moves each empty buffer's stream
    /// offsets on by 2^32 octets, as if that much had gone each way. No
    /// sequence number changes (2^32 is a whole turn), so the connection
    /// stays as it was while its buffers count past 2^32: a fuzzer reaches
    /// a long-lived connection's offsets without moving gigabytes.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn fuzz_skip_stream(&mut self) {
        self.snd.buf.skip_empty(1 << 32);
        self.rcv.buf.skip_empty(1 << 32);
    }

    /// Our initial send sequence number.
    pub fn iss(&self) -> Seq {
        self.snd.iss
    }

    /// The connection's policy (read-only): the one it was made with,
    /// shared with every connection made with the same `Arc`, until
    /// [`Conn::set_keepalive`] or [`Conn::set_user_timeout`] gives it a
    /// copy of its own with the change. The settings changed most
    /// often are the connection's own and read from it, not from here:
    /// [`Conn::nodelay`], [`Conn::hop_limit`], [`Conn::traffic_class`].
    pub fn config(&self) -> &ConnConfig {
        &self.cfg
    }

    /// The policy, to share with another connection
    /// ([`Conn::connect`] takes the `Arc`).
    pub fn shared_config(&self) -> &Arc<ConnConfig> {
        &self.cfg
    }

    /// Our address, as given when the connection was made.
    pub fn local_addr(&self) -> Option<IpAddr> {
        self.own.local_addr
    }

    /// The peer's address, as given when the connection was made.
    pub fn remote_addr(&self) -> Option<IpAddr> {
        self.own.remote_addr
    }

    /// Our port.
    pub fn local_port(&self) -> u16 {
        self.own.local_port
    }

    /// The peer's port.
    pub fn remote_port(&self) -> u16 {
        self.own.remote_port
    }

    /// Whether Nagle's algorithm is off ([`Conn::set_nodelay`]).
    pub fn nodelay(&self) -> bool {
        self.own.nodelay
    }

    /// The hop limit of this connection's segments, for the IP layer
    /// ([`Conn::set_hop_limit`]).
    pub fn hop_limit(&self) -> Option<u8> {
        self.own.hop_limit
    }

    /// The traffic class of this connection's segments, for the IP layer
    /// ([`Conn::set_traffic_class`]).
    pub fn traffic_class(&self) -> u8 {
        self.own.traffic_class
    }

    /// The send MSS in use.
    pub fn send_mss(&self) -> u32 {
        self.opts.smss
    }

    /// The options the handshake agreed on (RFC 7323 window scaling and
    /// timestamps, RFC 2018 SACK): none before the peer's SYN arrived.
    pub fn agreed_options(&self) -> vtcp_wire::Agreed {
        self.opts.agreed()
    }

    /// Whether the handshake set ECN up (RFC 3168 §6.1.1): new data then
    /// goes out ECT(0) ([`Written::ecn`]).
    pub fn ecn_negotiated(&self) -> bool {
        self.opts.ecn.ok()
    }

    /// Statistics, as of now.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.to_stats();
        s.ecn = self.opts.ecn.ok();
        s.srtt = self.rto.srtt();
        s.rttvar = self.rto.rttvar();
        s.rto = self.rto.rto(&rto_config(&self.cfg));
        s.cwnd = self.recovery.send_window(&self.cc, self.opts.sack_ok);
        s.ssthresh = self.cc.ssthresh();
        s.bytes_in_flight = self.flight();
        s.ooo_bytes = self.rcv.buf.ooo_bytes();
        s.pacing_rate = self.cc.pacing_rate();
        s.delivery_rate = self.recovery.latest_rate();
        if let Some(bbr) = self.cc.bbr() {
            s.cc_mode = Some(bbr.mode().name());
            s.bandwidth_estimate = Some(bbr.max_bw());
            s.min_rtt = bbr.min_rtt();
        }
        s
    }

    /// Memory the send and receive buffers hold now. It grows with the
    /// data in flight, and goes back to zero once both directions are over
    /// and emptied (in TIME-WAIT, say).
    pub fn buffer_memory(&self) -> usize {
        self.snd.buf.allocated() + self.rcv.buf.allocated()
    }

    /// Why the connection closed; `None` while it is not closed.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close_reason
    }

    /// The next event, if any. Each kind of event waits at most once:
    /// several segments of data give one `Readable`.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Octets buffered for reading.
    pub fn readable(&self) -> usize {
        self.rcv.buf.readable()
    }

    /// Room in the send buffer.
    pub fn writable(&self) -> usize {
        if self.state.can_send_data()
            || self.state == State::SynSent
            || self.state == State::SynReceived
        {
            if self.snd.fin_queued {
                0
            } else {
                self.send_room()
            }
        } else {
            0
        }
    }

    /// The peer closed its side and every octet it sent has been read.
    pub fn is_read_closed(&self) -> bool {
        self.rcv.fin_consumed && self.rcv.buf.readable() == 0
    }

    // ----- Application side -----

    /// Queues data to send (before ESTABLISHED, it waits for it); returns
    /// how much was taken.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, ConnError> {
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if !self.snd.fin_queued =>
            {
                let room = self.send_room();
                Ok(self.snd.buf.write(&data[..data.len().min(room)]))
            }
            _ => Err(self.cannot_send()),
        }
    }

    /// Why data cannot be queued: the reason the connection closed, or
    /// the state that allows no more.
    fn cannot_send(&self) -> ConnError {
        match (self.state, self.close_reason) {
            (State::Closed, Some(reason)) => ConnError::Closed(reason),
            (s, _) => ConnError::InvalidState(s),
        }
    }

    /// Lets `fill` write data to send straight into the send buffer's free
    /// space (two slices, in order) and queues the `n` octets it reports;
    /// the zero-copy form of [`Conn::write`].
    pub fn write_with(
        &mut self,
        fill: impl FnOnce(&mut [u8], &mut [u8]) -> usize,
    ) -> Result<usize, ConnError> {
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if !self.snd.fin_queued =>
            {
                let room = self.send_room();
                Ok(self.snd.buf.write_with(|a, b| {
                    let a_len = a.len().min(room);
                    let b_len = b.len().min(room - a_len);
                    fill(&mut a[..a_len], &mut b[..b_len])
                }))
            }
            _ => Err(self.cannot_send()),
        }
    }

    /// The received data ready to read, as two slices, without taking it;
    /// [`Conn::consume`] takes it. The zero-copy form of [`Conn::read`].
    pub fn peek_readable(&self) -> (&[u8], &[u8]) {
        self.rcv.buf.readable_slices()
    }

    /// Takes up to `n` octets of readable data (after
    /// [`Conn::peek_readable`]); returns how many.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = self.rcv.buf.consume(n);
        if n > 0 {
            self.rcv.autotune.on_drained(n, self.now, self.rto.srtt());
            self.maybe_window_update();
            self.release_finished_buffers();
        }
        n
    }

    /// Reads received data; returns how much was copied (0 with nothing
    /// to read).
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.rcv.buf.read(out);
        if n > 0 {
            self.rcv.autotune.on_drained(n, self.now, self.rto.srtt());
            self.maybe_window_update();
            self.release_finished_buffers();
        }
        n
    }

    /// Gives back the memory of a buffer whose direction is over and
    /// which is empty: the send buffer once our FIN is acknowledged, the
    /// receive buffer once the peer's FIN is taken in and all before it
    /// read. A connection in TIME-WAIT then holds no buffer memory, which
    /// matters when thousands wait there.
    fn release_finished_buffers(&mut self) {
        if self.snd.fin_acked {
            self.snd.buf.release_memory();
        }
        if self.rcv.fin_consumed {
            self.rcv.buf.release_memory();
        }
    }

    /// After reading: RFC 9293 §3.8.6.2.2, announce a window that grew by
    /// min(half the buffer, one MSS).
    fn maybe_window_update(&mut self) {
        if !self.state.can_receive_data() {
            return;
        }
        let right = self.rcv.buf.nxt() + self.rcv.window() as u32;
        let grown = right.distance_from(self.rcv.adv_right) as usize;
        if right.after(self.rcv.adv_right)
            && grown >= (self.cfg.recv_buffer / 2).min(self.opts.smss as usize)
        {
            self.rcv.ack_now = true;
        }
    }

    /// Closes our side after the queued data (FIN), RFC 9293 §3.10.4, and
    /// stops reading: with unread data, resets instead (RFC 9293 §3.10.4,
    /// RFC 2525 §2.17), and data that arrives later is answered with a
    /// reset (RFC 1122 §4.2.2.13). [`Conn::shutdown_write`] is the
    /// half-close that keeps receiving.
    pub fn close(&mut self) {
        if self.rcv.buf.readable() > 0 {
            self.abort();
            return;
        }
        self.rcv.closed_by_app = true;
        self.shutdown_write();
    }

    /// Sends FIN after the queued data but keeps receiving (half-close).
    pub fn shutdown_write(&mut self) {
        let before = self.state;
        self.queue_fin();
        self.trace_state(before, "shutdown");
    }

    fn queue_fin(&mut self) {
        match self.state {
            State::SynSent | State::Listen => self.enter_closed(CloseReason::Normal),
            State::SynReceived | State::Established => {
                self.snd.fin_queued = true;
                if self.state == State::Established || self.snd.syn_acked {
                    self.state = State::FinWait1;
                }
            }
            State::CloseWait => {
                self.snd.fin_queued = true;
                self.state = State::LastAck;
            }
            _ => {}
        }
    }

    /// Resets the connection (RST) and closes it at once.
    pub fn abort(&mut self) {
        let before = self.state;
        if self.state.is_synchronized() || self.state == State::SynReceived {
            self.rst_needed = Some(Reset::Ours);
        }
        self.enter_closed(CloseReason::Aborted);
        self.trace_state(before, "abort");
    }

    /// Queues an event unless one of its kind is already waiting.
    fn push_event(&mut self, event: Event) {
        self.events.push(event);
    }

    fn enter_closed(&mut self, reason: CloseReason) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.close_reason = Some(reason);
            self.push_event(Event::Closed(reason));
        }
        self.timers.stop_all();
    }

    // ----- Timers -----

    /// The earliest time [`Conn::handle_timeout`] must run; `None` when no
    /// timer is pending.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers.next()
    }

    /// Runs the timers due at `now`. Call `poll_transmit` after.
    pub fn handle_timeout(&mut self, now: Duration) {
        let before = self.state;
        self.on_timeout(now);
        self.trace_state(before, "timer");
    }

    fn on_timeout(&mut self, now: Duration) {
        self.now = self.now.max(now);
        let now = self.now;
        for timer in Timer::ALL {
            if !self.timers.expired(timer, now) {
                continue;
            }
            match timer {
                Timer::TimeWait => {
                    self.enter_closed(CloseReason::Normal);
                    return;
                }
                Timer::Rto => self.on_rto(now),
                Timer::Tlp => {
                    let (recovery, mut link) = self.link();
                    recovery.on_pto(&mut link);
                }
                Timer::RackReorder => {
                    let (recovery, mut link) = self.link();
                    let out = recovery.on_reorder_timer(&mut link);
                    self.note_outcome(out);
                }
                Timer::DelayedAck => self.rcv.ack_now = true,
                Timer::Persist => self.probe_needed = true,
                Timer::Keepalive => self.on_keepalive(now),
                // Nothing to do: poll_transmit, called next, sends.
                Timer::Pace => {}
            }
        }
        self.check_invariants();
    }

    /// RFC 6298 §5.4–5.6: retransmit the earliest unacknowledged segment,
    /// back off, and tell the congestion controller.
    fn on_rto(&mut self, now: Duration) {
        self.retries += 1;
        let user_timeout = self
            .cfg
            .user_timeout
            .zip(time(self.unacked_since))
            .is_some_and(|(limit, since)| now.saturating_sub(since) >= limit);
        if self.retries > self.cfg.max_retries || user_timeout {
            self.rst_needed = self.state.is_synchronized().then_some(Reset::Ours);
            self.enter_closed(CloseReason::TimedOut);
            return;
        }
        self.stats.add(Rare::Rtos, 1);
        crate::trace_event!(
            DEBUG,
            rto = ?self.rto.rto(&rto_config(&self.cfg)),
            retries = self.retries,
            snd_una = self.snd.una().0,
            "retransmission timeout"
        );
        self.rto.backoff(&rto_config(&self.cfg));
        let loss = match self.state {
            State::SynSent | State::SynReceived if !self.snd.syn_acked => {
                // RFC 7413 §4.1.3.1: the SYN goes again without TFO's
                // data and cookie, and the path is noted as failing.
                self.finish_fast_open_client(FastOpenOutcome::Failed);
                self.syn_needed = true;
                self.snd.nxt = self.snd.iss;
                self.snd.max = self.snd.iss;
                None
            }
            _ if self.flight() == 0 => {
                // Everything was acknowledged as the timer ran out: nothing
                // to resend, no loss to report.
                self.retries = 0;
                None
            }
            _ => Some(self.retries == 1),
        };
        // Recovery forgets the duplicate ACKs; with data to resend, the
        // controller hears of the timeout and recovery goes back to
        // SND.UNA (RFC 6675 §5.1).
        let (recovery, mut link) = self.link();
        recovery.on_rto(&mut link, loss);
        if loss.is_some() {
            self.resend_from_una();
        }
    }

    /// Go-back-N: what is in flight goes again from SND.UNA (after a
    /// timeout, or a smaller path MTU).
    fn resend_from_una(&mut self) {
        // Karn (RFC 6298 §3): what goes again now is not timed; an ACK of
        // the segment timed before would count the wait into the RTT.
        self.rto.invalidate_timing();
        if !self.snd.fin_acked {
            self.snd.fin_sent = false;
        }
        self.snd.nxt = self.snd_una();
    }

    fn on_keepalive(&mut self, now: Duration) {
        if !self.state.is_synchronized() {
            // RFC 9293 §3.8.3: the open attempt given up before R2
            // (`connect_timeout`, the only deadline armed before
            // synchronization); a RST only once synchronized, as in
            // `on_rto`.
            if self.cfg.connect_timeout.is_some() {
                self.enter_closed(CloseReason::TimedOut);
            }
            return;
        }
        let Some(ka) = self.cfg.keepalive else { return };
        if self.snd.max.after(self.snd_una()) {
            // RFC 1122 §4.2.3.6: only an idle connection is probed; with
            // data outstanding (sent, or being sent again after a
            // timeout) the retransmission timer watches the peer.
            self.arm_keepalive(now);
            return;
        }
        if self.keepalive_probes >= ka.count {
            self.enter_closed(CloseReason::TimedOut);
            return;
        }
        self.keepalive_probes += 1;
        self.keepalive_needed = true;
        self.timers.set(Timer::Keepalive, now + ka.interval);
    }

    fn arm_keepalive(&mut self, now: Duration) {
        if !self.state.is_synchronized() {
            return;
        }
        match self.cfg.keepalive {
            Some(ka) => {
                self.keepalive_probes = 0;
                self.timers.set(Timer::Keepalive, now + ka.idle);
            }
            // The handshake's deadline, if any, is over.
            None => self.timers.stop(Timer::Keepalive),
        }
    }

    // ----- Network side -----

    /// Takes in one received segment, parsed ([`ParsedSegment::parse`]:
    /// the TCP header, options and data, no IP header). The connection
    /// never sees bytes: whoever moves them parses each segment once,
    /// and counts and drops what does not parse (a `Stack` in its
    /// `Counters::malformed`). Call `poll_transmit` after.
    pub fn handle_segment(&mut self, now: Duration, segment: &ParsedSegment<'_>) {
        self.handle_segment_ecn(now, segment, EcnCodepoint::NotEct);
    }

    /// [`Conn::handle_segment`] for a segment whose IP header carried the
    /// ECN field `ecn` (RFC 3168 §5), which the IP layer read: a CE mark
    /// on a connection that set ECN up is echoed to the peer (§6.1.3).
    pub fn handle_segment_ecn(
        &mut self,
        now: Duration,
        segment: &ParsedSegment<'_>,
        ecn: EcnCodepoint,
    ) {
        let before = self.state;
        self.on_segment(now, segment.segment(), segment.values(), ecn);
        self.trace_state(before, "segment");
    }

    /// Traces a change of state since `before`, and what made it.
    #[cfg_attr(
        not(feature = "tracing"),
        expect(unused_variables, reason = "only the tracing feature reads it")
    )]
    fn trace_state(&self, before: State, cause: &'static str) {
        if self.state != before {
            crate::trace_event!(
                DEBUG,
                from = ?before,
                to = ?self.state,
                cause,
                reason = ?self.close_reason,
                "state change"
            );
        }
    }

    /// Counts a segment dropped unprocessed and traces why.
    #[cfg_attr(
        not(feature = "tracing"),
        expect(unused_variables, reason = "only the tracing feature reads it")
    )]
    fn drop_segment(&mut self, reason: &'static str) {
        self.stats.add(Rare::Dropped, 1);
        crate::trace_event!(DEBUG, reason, "segment dropped");
    }

    fn on_segment(
        &mut self,
        now: Duration,
        seg: &Segment<&[u8]>,
        values: &OptionValues,
        ecn: EcnCodepoint,
    ) {
        self.now = self.now.max(now);
        self.stats.segments_in += 1;
        if seg.flags.contains(Flags::SYN | Flags::FIN)
            && self.cfg.drop_syn_fin
            && self.state != State::TimeWait
        {
            // `ConnConfig::drop_syn_fin`: no connection sends SYN and FIN
            // together; scanners do.
            self.drop_segment("SYN and FIN together (drop_syn_fin)");
            return;
        }
        match self.state {
            State::Closed | State::Listen => {}
            State::SynSent => self.on_syn_sent(seg, values),
            _ => self.on_synchronized(seg, values, ecn),
        }
        self.release_finished_buffers();
        self.check_invariants();
    }

    /// The engine's invariants, in debug builds (tests, fuzzing): SND.UNA
    /// ≤ SND.NXT ≤ SND.MAX (RFC 9293 §3.3.1), the received data within
    /// the receive buffer, and a timer armed while data is in flight (RFC
    /// 6298 §5.1: the RTO, or the probe or reordering timer that stands
    /// in for it, or the persist timer when the window is closed).
    fn check_invariants(&self) {
        debug_assert!(
            self.snd.una().before_eq(self.snd.nxt) && self.snd.nxt.before_eq(self.snd.max),
            "SND.UNA {:?} ≤ SND.NXT {:?} ≤ SND.MAX {:?}",
            self.snd.una(),
            self.snd.nxt,
            self.snd.max
        );
        debug_assert!(
            self.rcv.buf.readable() <= self.cfg.recv_buffer,
            "{} octets readable in a {}-octet buffer",
            self.rcv.buf.readable(),
            self.cfg.recv_buffer
        );
        debug_assert!(
            self.flight() == 0
                || !self.state.is_synchronized()
                || matches!(self.state, State::TimeWait | State::Closed)
                || [Timer::Rto, Timer::Tlp, Timer::RackReorder, Timer::Persist]
                    .iter()
                    .any(|&t| self.timers.is_armed(t)),
            "{} octets in flight in {:?} with no timer armed",
            self.flight(),
            self.state
        );
    }

    /// RFC 9293 §3.10.7.3, SYN-SENT.
    fn on_syn_sent(&mut self, seg: &Segment<&[u8]>, v: &OptionValues) {
        let now = self.now;
        let has_ack = seg.flags.contains(Flags::ACK);
        if has_ack && (seg.ack.before_eq(self.snd.iss) || seg.ack.after(self.snd.nxt)) {
            if !seg.flags.contains(Flags::RST) {
                // A reset for the stray ACK: <SEQ=SEG.ACK><CTL=RST>.
                self.rst_needed = Some(Reset::ForAck(seg.ack));
                self.drop_segment("unacceptable ACK in SYN-SENT (RFC 9293 §3.10.7.3)");
            }
            return;
        }
        if seg.flags.contains(Flags::RST) {
            if has_ack {
                self.finish_fast_open_client(FastOpenOutcome::Failed);
                self.enter_closed(CloseReason::Refused);
            }
            return;
        }
        if !seg.flags.contains(Flags::SYN) {
            return;
        }
        self.take_peer_syn(seg, v, now);
        self.rcv.ack_now = true;
        if has_ack && seg.ack.after(self.snd.iss) {
            self.take_fast_open_syn_ack(seg.ack, v);
            self.snd.syn_acked = true;
            self.timers.stop(Timer::Rto);
            self.retries = 0;
            if !self.rto.ack_received(seg.ack, now, &rto_config(&self.cfg)) && self.opts.ts_ok {
                self.sample_ts_rtt(v);
            }
            self.snd.wl2 = seg.ack;
            self.establish();
            self.rcv.adv_right = self.rcv_nxt();
        } else {
            // Simultaneous open (§3.5 figure 7): SYN-ACK from SYN-RECEIVED.
            // The SYN goes again, without TFO's data.
            self.finish_fast_open_client(FastOpenOutcome::Failed);
            self.snd.max = self.snd.iss;
            self.state = State::SynReceived;
            self.syn_needed = true;
            self.snd.nxt = self.snd.iss;
        }
    }

    /// RFC 7413 §4.2.1: a SYN-ACK (acknowledging up to `ack`) to our TFO
    /// SYN. The data it acknowledged is delivered; the rest goes again
    /// after the handshake as new data (SND.NXT and the highest SND.NXT
    /// come back to the acknowledgment). What it taught is the cache's
    /// (§4.1.3): a valid cookie replaces the cached one (an invalid one is
    /// ignored); without one, data acknowledged keeps the cache as it is,
    /// and anything else is a failure.
    fn take_fast_open_syn_ack(&mut self, ack: Seq, v: &OptionValues) {
        let Some(tfo) = self.fast_open.as_deref_mut() else {
            return;
        };
        let Some(sent_cookie) = tfo.client else {
            return;
        };
        let sent = tfo.syn_data;
        let acked = ack.distance_from(self.snd.iss + 1).min(sent);
        let outcome = match v.fast_open {
            Some(FastOpen::Cookie(cookie)) => FastOpenOutcome::NewCookie { cookie, mss: v.mss },
            // A cookie sent and all its data (perhaps none) taken.
            _ if sent_cookie.is_some() && acked == sent => FastOpenOutcome::Accepted,
            _ => FastOpenOutcome::Failed,
        };
        tfo.finish_client(outcome);
        if acked > 0 {
            self.snd.buf.advance_sent(acked as usize);
            let freed = self.snd.buf.acknowledge(self.snd.iss + 1 + acked);
            self.stats.bytes_acked += freed as u64;
        }
        self.snd.nxt = self.snd.iss + 1 + acked;
        self.snd.max = self.snd.nxt;
        debug_assert!(
            self.snd.buf.nxt() == self.snd.nxt,
            "SND.NXT is the buffer's"
        );
    }

    /// The data that came on the peer's SYN, taken.
    fn take_peer_syn_data(&mut self) -> Box<[u8]> {
        self.fast_open
            .as_mut()
            .map(|f| std::mem::take(&mut f.peer_syn_data))
            .unwrap_or_default()
    }

    /// Ends a client's TFO attempt with `outcome`, if one is under way.
    fn finish_fast_open_client(&mut self, outcome: FastOpenOutcome) {
        if let Some(tfo) = self.fast_open.as_deref_mut() {
            tfo.finish_client(outcome);
        }
    }

    fn establish(&mut self) {
        self.state = if self.snd.fin_queued {
            State::FinWait1
        } else {
            State::Established
        };
        self.push_event(Event::Connected);
        self.arm_keepalive(self.now);
        let data = self.take_peer_syn_data();
        if !data.is_empty() && self.rcv.buf.insert(self.rcv.irs + 1, &data) > 0 {
            self.push_event(Event::Readable);
        }
    }

    /// RFC 9293 §3.4 SEG.LEN.
    fn seg_len(seg: &Segment<&[u8]>) -> u32 {
        seg.seg_len() as u32
    }

    /// RFC 9293 §3.10.7.4, the four cases.
    fn acceptable(&self, seg: &Segment<&[u8]>) -> bool {
        let len = Self::seg_len(seg);
        let mut wnd = self
            .rcv
            .wnd()
            .max(u32::from(self.state == State::SynReceived));
        // RCV.WND as the buffer's room, where the field could not carry
        // all of it (`ConnConfig::accept_unadvertised_room`): FreeBSD's
        // rule, from the socket's creation (not in a passive open's
        // SYN-RECEIVED, its syncache) until TIME-WAIT.
        let room_counts = match self.state {
            State::SynReceived => !self.rcv.passive,
            State::TimeWait => false,
            _ => true,
        };
        if self.cfg.accept_unadvertised_room && room_counts {
            wnd = wnd.max(self.rcv.window().min(1 << 30) as u32);
        }
        let nxt = self.rcv_nxt();
        let in_window = |s: Seq| s.in_range(nxt, nxt + wnd);
        match (len, wnd) {
            (0, 0) => seg.seq == nxt,
            // RFC 9293 says RCV.NXT ≤ SEG.SEQ < RCV.NXT + RCV.WND; Linux
            // (`tcp_sequence`) and FreeBSD also take a segment without
            // data at the right edge itself. A peer whose whole window of
            // data was lost numbers its ACKs there (SND.NXT): refused,
            // each answer refused in turn, two such peers would trade
            // ACKs for as long as the losses last (found by `conn_pair`).
            // Not a RST: one at the edge is outside (RFC 5961 §3.2, and
            // the FreeBSD suite's `outside-right` scripts).
            (0, _) => {
                in_window(seg.seq) || (seg.seq == nxt + wnd && !seg.flags.contains(Flags::RST))
            }
            (_, 0) => false,
            _ => in_window(seg.seq) || in_window(seg.seq + (len - 1)),
        }
    }

    /// RFC 5961 §7: at most a few challenge ACKs a second.
    fn challenge_ack(&mut self) {
        let now = self.now;
        if now.saturating_sub(Duration::from_nanos(self.challenge_window.0))
            >= Duration::from_secs(1)
        {
            self.challenge_window = (nanos(now), 0);
        }
        if self.challenge_window.1 < CHALLENGE_ACKS_PER_SEC {
            self.challenge_window.1 += 1;
            self.stats.add(Rare::ChallengeAcks, 1);
            self.rcv.ack_now = true;
        }
    }

    /// RFC 9293 §3.10.7.4 for every state from SYN-RECEIVED on.
    /// `ecn`: the ECN field of the segment's IP header (RFC 3168 §5).
    fn on_synchronized(&mut self, seg: &Segment<&[u8]>, v: &OptionValues, ecn: EcnCodepoint) {
        let now = self.now;
        // RFC 7323 §3.2, when asked for: timestamps negotiated, a non-RST
        // segment without them is dropped silently.
        if self.opts.ts_ok
            && self.cfg.require_timestamps
            && v.timestamp.is_none()
            && !seg.flags.contains(Flags::RST)
        {
            self.drop_segment("no timestamp (require_timestamps, RFC 7323 §3.2)");
            return;
        }
        // RFC 7323 §5.3 PAWS, before the sequence check.
        if self.opts.ts_ok
            && !seg.flags.contains(Flags::RST)
            && let Some(ts) = v.timestamp
            && vtcp_seq::seq_before(ts.tsval, self.opts.ts_recent)
        {
            if now.saturating_sub(self.opts.ts_recent_at) > PAWS_IDLE {
                // §5.5: TS.Recent too old to compare with.
                self.opts.ts_recent = ts.tsval;
                self.opts.ts_recent_at = now;
            } else {
                self.drop_segment("PAWS (RFC 7323 §5.3)");
                self.rcv.ack_now = true;
                return;
            }
        }
        // Our SYN-ACK was lost or slow: a retransmitted SYN is answered again
        // (before the sequence check, which it would fail).
        if self.state == State::SynReceived
            && seg.flags.contains(Flags::SYN)
            && !seg.flags.intersects(Flags::ACK | Flags::RST)
            && seg.seq == self.rcv.irs
        {
            self.syn_needed = true;
            self.snd.nxt = self.snd.iss;
            return;
        }
        // Simultaneous open (RFC 9293 §3.5 figure 8, line 6): the peer's
        // SYN-ACK repeats its SYN, which is old; only its ACK is new.
        let trimmed;
        let seg = if self.state == State::SynReceived
            && seg.flags.contains(Flags::SYN | Flags::ACK)
            && seg.seq == self.rcv.irs
        {
            let mut flags = seg.flags;
            flags.remove(Flags::SYN);
            trimmed = Segment {
                seq: seg.seq + 1,
                flags,
                ..seg.clone()
            };
            &trimmed
        } else {
            seg
        };
        // First: sequence number.
        if !self.acceptable(seg) {
            self.drop_segment("outside the receive window (RFC 9293 §3.10.7.4)");
            if !seg.flags.contains(Flags::RST) {
                self.rcv.ack_now = true;
                // A duplicate that ends where the last ACK we sent did (that
                // ACK was lost, so the peer sent it again): its timestamp is
                // the one to echo (RFC 7323 §4.3, SEG.SEQ ≤ Last.ACK.sent,
                // as Linux applies it). Echoing the one from before the
                // loss would time the peer's whole RTO into its RTT. Data
                // not acknowledged yet keeps §4.3 (A)'s earliest TSval.
                let end = seg.seq + seg.payload.len() as u32;
                if self.opts.ts_ok
                    && let Some(ts) = v.timestamp
                    && !seg.payload.is_empty()
                    && end == self.rcv.last_ack_sent
                    && !vtcp_seq::seq_before(ts.tsval, self.opts.ts_recent)
                {
                    self.opts.ts_recent = ts.tsval;
                    self.opts.ts_recent_at = now;
                }
            }
            let end = seg.seq + seg.payload.len() as u32;
            if !seg.payload.is_empty()
                && self.state.can_receive_data()
                && end.before_eq(self.rcv_nxt())
            {
                // Old data, wholly received already: the receive buffer
                // only notes it, for the D-SACK block of this ACK (RFC
                // 2883 §4.1). Anything reaching past RCV.NXT is not
                // looked at: it failed the window check, and storing it
                // would let a blind attacker write past the advertised
                // window (RFC 5961 §5).
                self.rcv.buf.insert(seg.seq, seg.payload);
            }
            if self.state == State::TimeWait && seg.flags.contains(Flags::FIN) {
                // A retransmitted FIN (§3.10.7.4).
                self.restart_time_wait();
            }
            return;
        }
        self.arm_keepalive(now);
        // Second: RST (RFC 5961 §3.2).
        if seg.flags.contains(Flags::RST) {
            if self.state == State::TimeWait && self.cfg.time_wait_ignores_rst {
                // RFC 1337 §3 (TW-assassination), when asked for.
                self.drop_segment("RST in TIME-WAIT (RFC 1337)");
                return;
            }
            // RFC 793's rule, when asked for: any RST in the window
            // resets.
            if seg.seq == self.rcv_nxt() || !self.cfg.rst_challenge {
                let reason = match self.state {
                    // SYN-RECEIVED never has our SYN acknowledged: the
                    // ACK that does establishes in the same step.
                    State::SynReceived => CloseReason::Refused,
                    // §3.10.7.4: in TIME-WAIT a RST deletes the TCB and
                    // nothing more: both FINs were sent and acknowledged,
                    // the connection ended as it should, and a reader
                    // still to take its end of file gets it, not a reset
                    // (as Linux, whose socket is closed by then).
                    State::TimeWait => CloseReason::Normal,
                    _ => CloseReason::Reset,
                };
                self.enter_closed(reason);
            } else {
                self.challenge_ack();
            }
            return;
        }
        // Fourth: SYN in a synchronized state (RFC 5961 §4).
        if seg.flags.contains(Flags::SYN) {
            if self.cfg.syn_challenge {
                self.challenge_ack();
            } else if seg.seq.before(self.rcv_nxt()) {
                // RFC 793's rule is about a SYN in the window; this one is
                // left of it (the segment was acceptable for what follows
                // its SYN): an old duplicate, answered with an ACK.
                self.rcv.ack_now = true;
            } else {
                // RFC 793 §3.9 (when asked for): a SYN in the window is an
                // error; reset and close.
                self.rst_needed = Some(Reset::Ours);
                self.enter_closed(CloseReason::Reset);
            }
            return;
        }
        // Fifth: ACK.
        if !seg.flags.contains(Flags::ACK) {
            return;
        }
        if !self.on_ack(seg, v) {
            return;
        }
        // RFC 7323 §4.3: TS.Recent from a segment that covers
        // Last.ACK.sent, once it passed every check (its sequence
        // number, RST, SYN and ACK): an in-window segment with an
        // unacceptable ACK must not plant a TSval that PAWS would then
        // hold against the real peer (RFC 5961's intent).
        if self.opts.ts_ok
            && let Some(ts) = v.timestamp
            && seg.seq.before_eq(self.rcv.last_ack_sent)
            && !vtcp_seq::seq_before(ts.tsval, self.opts.ts_recent)
        {
            self.opts.ts_recent = ts.tsval;
            self.opts.ts_recent_at = now;
        }
        if self.state == State::Closed {
            return;
        }
        // RFC 3168 §6.1.3: a CE mark is echoed (ECE on every ACK) until a
        // segment with CWR comes; data marked CE is acknowledged at once,
        // as Linux does (its quick ACK), so that the echo is not delayed.
        if self.opts.ecn.on_received(seg.flags, ecn) {
            self.stats.add(Rare::CeReceived, 1);
            if !seg.payload.is_empty() || seg.flags.contains(Flags::FIN) {
                self.rcv.ack_now = true;
            }
        }
        // RFC 1122 §4.2.2.13 (RFC 9293 SHLD-3): new data for an
        // application that closed has no reader; reset.
        // A segment without data is not any: the peer's ACK that follows
        // its FIN, overtaking it, is numbered past RCV.NXT and carries
        // nothing for a reader.
        if self.rcv.closed_by_app
            && matches!(self.state, State::FinWait1 | State::FinWait2)
            && !seg.payload.is_empty()
            && (seg.seq + seg.payload.len() as u32).after(self.rcv_nxt())
        {
            self.rst_needed = Some(Reset::Ours);
            self.enter_closed(CloseReason::Aborted);
            return;
        }
        // RFC 9293 §3.10.7.4: data in TIME-WAIT is acknowledged (not
        // taken: the peer's FIN ended its stream) and the wait restarts.
        if self.state == State::TimeWait && !seg.payload.is_empty() {
            self.rcv.ack_now = true;
            self.restart_time_wait();
        } else if self.state == State::TimeWait && seg.seq != self.rcv_nxt() {
            // Out of order (§3.10.7.4's general rule, as FreeBSD and Linux
            // answer it). A bare ACK at RCV.NXT stays unanswered, or two
            // ends in TIME-WAIT would trade ACKs for ever.
            self.rcv.ack_now = true;
        }
        // Seventh: data.
        if !seg.payload.is_empty() {
            // The receiver's RTT, for auto-tuning: our timestamp echoed
            // by a segment of data (Linux's tcp_rcv_rtt_measure_ts).
            if self.opts.ts_ok
                && self.rcv.autotune.wants_rtt()
                && let Some(ts) = v.timestamp
                && ts.tsecr != 0
                && ts.tsecr != self.rcv.last_tsecr_sampled
            {
                // One sample per echo: a train of segments echoes the
                // same TSval.
                self.rcv.last_tsecr_sampled = ts.tsecr;
                let ms = self.ts_now().wrapping_sub(ts.tsecr);
                if ms < 1 << 30 {
                    self.rcv
                        .autotune
                        .on_rtt_sample(Duration::from_millis(u64::from(ms.max(1))));
                }
            }
            self.on_data(seg);
        }
        // Eighth: FIN.
        let fin = seg.flags.contains(Flags::FIN);
        if fin {
            self.rcv.peer_fin = Some(seg.seq + seg.payload.len() as u32);
            self.rcv.ack_now = true;
        }
        self.consume_fin(fin);
    }

    /// ACK processing (RFC 9293 §3.10.7.4 fifth, RFC 5961 §5). Returns
    /// whether the segment goes on to data processing.
    fn on_ack(&mut self, seg: &Segment<&[u8]>, v: &OptionValues) -> bool {
        let now = self.now;
        let ack = seg.ack;
        // RFC 3168 §6.1.2: what was in flight when an ECE came, and
        // whether it came after the handshake (a SYN-ACK's is not one).
        let ece = seg.flags.contains(Flags::ECE) && self.state != State::SynReceived;
        let flight_before = if ece { self.flight() } else { 0 };
        if self.state == State::SynReceived {
            if ack.after(self.snd.iss) && ack.before_eq(self.snd.nxt) {
                self.snd.syn_acked = true;
                self.timers.stop(Timer::Rto);
                self.retries = 0;
                self.snd.wnd = u32::from(seg.window) << self.opts.snd_wscale;
                self.snd.max_wnd = self.snd.max_wnd.max(self.snd.wnd);
                self.snd.wl1 = seg.seq;
                self.snd.wl2 = ack;
                if !self.rto.ack_received(ack, now, &rto_config(&self.cfg)) && self.opts.ts_ok {
                    self.sample_ts_rtt(v);
                }
                self.establish();
                if self.rcv.adv_right.before(self.rcv_nxt()) {
                    self.rcv.adv_right = self.rcv_nxt();
                }
            } else {
                // RFC 9293 §3.10.7.4: <SEQ=SEG.ACK><CTL=RST>.
                self.rst_needed = Some(Reset::ForAck(ack));
                return false;
            }
        }
        // The octet of a zero-window probe is sent without moving SND.NXT
        // (it is not in the window); a receiver that took it (its window
        // had reopened, the update was lost) acknowledges it: it counts as
        // sent now (MUST-35/36), and the ACK goes on as any other.
        if self.snd.probe_end == Some(ack)
            && ack.after(self.snd.max)
            && self.snd.buf.nxt() + 1 == ack
            && self.snd.buf.advance_sent(1) == 1
        {
            self.snd.nxt = ack;
            self.snd.max = ack;
        }
        self.snd.probe_end = None;
        let una = self.snd_una();
        // RFC 5961 §5.2: acceptable ACKs are within
        // [SND.UNA − MAX.SND.WND, SND.NXT].
        if ack.after(self.snd.max) {
            // RFC 9293 says to ACK; RFC 5961 §5.2 makes it a challenge
            // ACK, so rate-limited (§7): two ends out of step would
            // otherwise trade these ACKs for ever.
            self.challenge_ack();
            return false;
        }
        if ack.before(una - self.snd.max_wnd) {
            self.challenge_ack();
            return false;
        }
        self.stats
            .add(Rare::SackBlocksSeen, v.sack_blocks.len() as u64);
        let wnd = u32::from(seg.window) << self.opts.snd_wscale;
        let info = AckInfo {
            ack,
            una,
            sack_blocks: &v.sack_blocks,
            tsecr: v.timestamp.filter(|_| self.opts.ts_ok).map(|ts| ts.tsecr),
            bare: seg.payload.is_empty() && !seg.flags.contains(Flags::FIN),
            same_window: wnd == self.snd.wnd,
        };
        // Nothing in flight, nothing new acknowledged and no SACK blocks
        // (a receiver's data segments, by the thousand in a bulk
        // transfer): loss recovery has nothing to learn from it (no
        // duplicate without data in flight, no delivery, no D-SACK).
        let idle = ack == una && v.sack_blocks.is_empty() && self.flight() == 0;
        if !idle {
            // Loss recovery takes the ACK in two halves, around SND.UNA's
            // move and the RTT sample, which are the connection's.
            let (recovery, mut link) = self.link();
            let mut scan = recovery.on_ack_info(&mut link, &info);
            let acked = if ack.after(una) {
                self.on_new_ack(ack, v)
            } else {
                0
            };
            let (recovery, mut link) = self.link();
            let out = recovery.on_ack(&mut link, &mut scan, acked);
            self.note_outcome(out);
        }
        if ece {
            self.on_ece(ack, flight_before);
        }
        // RFC 9293 §3.10.7.4: window update if the segment is newer.
        if self.snd.update_window(seg.seq, ack, wnd) {
            self.timers.stop(Timer::Persist);
            self.persist_backoff = 0;
        }
        self.after_ack_state_changes();
        if ack.after(una) {
            // RFC 8985 §7.2: restarted by an ACK of new data.
            self.arm_tlp();
        }
        true
    }

    /// RFC 3168 §6.1.2: an acceptable ACK (up to `ack`) with ECE, on a
    /// connection that set ECN up, `flight` octets in flight before it:
    /// the window is reduced once per window of data (not during a loss
    /// recovery, whose reduction covers the window), and CWR goes on the
    /// next new data.
    fn on_ece(&mut self, ack: Seq, flight: usize) {
        if !self.opts.ecn.ok() {
            return;
        }
        self.stats.add(Rare::EceReceived, 1);
        self.opts.ecn.forget_acked(self.snd.una());
        if self.opts.ecn.on_ece(ack, self.control_seq()) && !self.recovery.in_recovery() {
            self.stats.add(Rare::EcnReductions, 1);
            self.cc
                .on_ecn_echo(u32::try_from(flight).unwrap_or(u32::MAX));
            crate::trace_event!(
                DEBUG,
                cwnd = self.cc.send_window(),
                "ECN echo: window reduced"
            );
        }
    }

    /// An ACK of new data up to `ack`: SND.UNA moves, the RTT is sampled
    /// (and the controller hears the new estimate), the retransmission
    /// timer restarts. Returns the octets of data it acknowledged.
    fn on_new_ack(&mut self, ack: Seq, v: &OptionValues) -> u32 {
        let now = self.now;
        let before = self.snd.buf.una();
        let data_acked = self.snd.buf.acknowledge(ack.min_seq(self.snd.buf.tail()));
        // Only a FIN can be acknowledged past the data.
        if self.snd.fin_queued && ack.after(self.snd.buf.tail()) {
            self.snd.fin_acked = true;
        }
        if self.snd.nxt.before(ack) {
            self.snd.nxt = ack;
        }
        self.snd.forget_acked_short(ack);
        self.retries = 0;
        self.stats.bytes_acked += data_acked as u64;
        // RTT: timestamps on every ACK, else one segment at a time (Karn).
        let timed = self.rto.ack_received(ack, now, &rto_config(&self.cfg));
        if !timed && self.opts.ts_ok {
            self.sample_ts_rtt(v);
        }
        if let Some(srtt) = self.rto.srtt() {
            self.cc.on_rtt_sample(srtt);
        }
        // RFC 6298 §5.2–5.3.
        if self.flight() == 0 {
            self.timers.stop(Timer::Rto);
            self.unacked_since = NOT_SENT;
        } else {
            self.timers
                .set(Timer::Rto, now + self.rto.rto(&rto_config(&self.cfg)));
            self.unacked_since = nanos(now);
        }
        if self.snd.buf.una() != before && self.state.can_send_data() {
            self.push_event(Event::Writable);
        }
        data_acked as u32
    }

    /// What an ACK or a timer did in loss recovery, counted; a recovery
    /// that began drops the RTT measurement under way (Karn: the
    /// retransmission that follows is not timed).
    fn note_outcome(&mut self, out: Outcome) {
        if out.entered_recovery {
            self.stats.add(Rare::FastRecoveries, 1);
            self.rto.invalidate_timing();
        }
        self.stats.add(Rare::Undos, u64::from(out.undone));
        self.stats
            .add(Rare::SpuriousRetransmitBytes, out.spurious_bytes);
        self.stats
            .add(Rare::LostRetransmits, u64::from(out.lost_retransmit));
    }

    /// The connection as loss recovery borrows it for one call.
    #[inline]
    fn link(&mut self) -> (&mut Recovery, Link<'_>) {
        let sack = self.opts.sack_ok;
        let link = Link {
            snd: &mut self.snd,
            cc: &mut self.cc,
            timers: &mut self.timers,
            now: self.now,
            mss: self.opts.smss,
            rto: &self.rto,
            cfg: &self.cfg,
            sack,
            rack: sack && self.cfg.rack_tlp,
            paces: self.paces,
        };
        (&mut self.recovery, link)
    }

    fn sample_ts_rtt(&mut self, v: &OptionValues) {
        if let Some(ts) = v.timestamp
            && ts.tsecr != 0
        {
            let rtt_ms = self.ts_now().wrapping_sub(ts.tsecr);
            if rtt_ms < 1 << 30 {
                // RFC 7323 Appendix G: one sample per ACK, weighted by the
                // ACKs expected per RTT.
                let per_rtt = (self.cc.send_window() / (2 * self.opts.smss.max(1))).max(1);
                self.rto.sample_weighted(
                    Duration::from_millis(u64::from(rtt_ms.max(1))),
                    per_rtt,
                    &rto_config(&self.cfg),
                );
            }
        }
    }

    /// RFC 8985 §7.2: the probe timer, (re)armed after an ACK of new data
    /// and once per burst of sends (recovery decides whether it runs).
    fn arm_tlp(&mut self) {
        let synchronized = self.state.is_synchronized();
        let (recovery, mut link) = self.link();
        recovery.arm_tlp(&mut link, synchronized);
    }

    /// Octets the peer's window takes beyond what is sent: from the send
    /// buffer's next octet to SND.UNA + SND.WND.
    fn peer_window_room(&self) -> usize {
        let edge = self.snd.buf.una() + self.snd.wnd;
        if edge.after(self.snd.buf.nxt()) {
            edge.distance_from(self.snd.buf.nxt()) as usize
        } else {
            0
        }
    }

    /// RFC 8985 §7.3: one new segment if there is one and the peer's window
    /// takes it (congestion window or not), else the last segment again;
    /// the RTO restarts. At most `mss` octets.
    fn tail_loss_probe(&mut self, mss: usize) -> Option<Plan> {
        let pending = self.snd.buf.pending();
        let wnd_room = self.peer_window_room();
        let plan = if pending > 0 && wnd_room >= pending.min(mss) {
            let seq = self.snd.buf.nxt();
            let len = pending.min(mss);
            self.snd.buf.advance_sent(len);
            self.snd.nxt = self.snd.buf.nxt();
            let (recovery, link) = self.link();
            recovery.on_sent(&link, seq, len, false, None);
            recovery.on_probe_sent(false, link.snd.nxt);
            self.sent_new(seq);
            let mut flags = Flags::ACK;
            if self.snd.buf.pending() == 0 {
                flags.insert(Flags::PSH);
            }
            Plan {
                flags,
                seq,
                data: Some((seq, len)),
            }
        } else {
            let (seq, len) = self.recovery.probe_segment()?;
            self.recovery.on_probe_sent(true, self.snd.nxt);
            let len = len.min(mss);
            let mut plan = self.resent(seq, len);
            // §7.3 sends the last segment again: when it carried the FIN,
            // so does the probe (as Linux's, which resends its last skb),
            // or the FIN would wait for the RTO (found by differential
            // testing against Linux).
            let tail = self.snd.buf.tail();
            if seq + len as u32 == tail
                && self.snd.fin_sent
                && !self.snd.fin_acked
                && self.snd.max == tail + 1
            {
                plan.flags.insert(Flags::FIN);
            }
            plan
        };
        self.stats.add(Rare::TlpProbes, 1);
        crate::trace_event!(TRACE, "tail loss probe");
        self.timers.stop(Timer::Tlp);
        self.timers
            .set(Timer::Rto, self.now + self.rto.rto(&rto_config(&self.cfg)));
        Some(plan)
    }

    fn after_ack_state_changes(&mut self) {
        match self.state {
            State::FinWait1 if self.snd.fin_acked => self.state = State::FinWait2,
            State::Closing if self.snd.fin_acked => self.enter_time_wait(),
            State::LastAck if self.snd.fin_acked => self.enter_closed(CloseReason::Normal),
            _ => {}
        }
    }

    fn enter_time_wait(&mut self) {
        self.state = State::TimeWait;
        for t in [
            Timer::Rto,
            Timer::Tlp,
            Timer::RackReorder,
            Timer::Persist,
            Timer::Keepalive,
        ] {
            self.timers.stop(t);
        }
        self.restart_time_wait();
    }

    /// The 2·MSL wait starts (again) now (RFC 9293 §3.10.7.4).
    fn restart_time_wait(&mut self) {
        self.timers
            .set(Timer::TimeWait, self.now + self.cfg.time_wait);
    }

    /// RFC 9293 §3.10.7.4 seventh, and RFC 5681 §4.2 for when to ACK.
    fn on_data(&mut self, seg: &Segment<&[u8]>) {
        if !self.state.can_receive_data() {
            return;
        }
        let had_ooo = self.rcv.buf.has_ooo();
        let newly = self.rcv.buf.insert(seg.seq, seg.payload);
        self.stats.bytes_received += newly as u64;
        if newly > 0 {
            self.push_event(Event::Readable);
        }
        // A D-SACK to report (RFC 2883: part of the segment repeated what
        // had arrived) tells the sender at once that it resent for
        // nothing, as FreeBSD and Linux's quick ACK do.
        let dsack = self.opts.sack_ok && self.rcv.buf.has_sack_info();
        if newly == 0 || had_ooo || self.rcv.buf.has_ooo() || dsack {
            // Out of order, a duplicate, or filling a hole: ACK at once.
            self.rcv.ack_now = true;
        } else if self.quick_acks_left > 0 {
            // Quick-ACK mode at the start (`ConnConfig::quick_acks`,
            // Linux's `tcp_in_quickack_mode`): this one is ACKed at once.
            self.quick_acks_left -= 1;
            self.rcv.ack_now = true;
        } else {
            self.rcv.unacked_segments += 1;
            // More than one full-sized segment's worth (a super-segment
            // from the kernel's offloads, or several coalesced by the IP
            // layer's GRO) counts as the two segments it stands for:
            // ACK now (RFC 5681 §4.2's "at least every second full-sized
            // segment"; Linux's `__tcp_ack_snd_check`, "more than one
            // full frame received").
            if self.rcv.unacked_segments >= 2 || newly > self.opts.smss as usize {
                self.rcv.ack_now = true;
            } else if !self.timers.is_armed(Timer::DelayedAck) {
                self.timers
                    .set(Timer::DelayedAck, self.now + self.cfg.delayed_ack);
            }
        }
    }

    /// The FIN is consumed once every octet before it has arrived.
    /// `fin_in_segment`: the segment just processed carries FIN.
    fn consume_fin(&mut self, fin_in_segment: bool) {
        if self.rcv.fin_consumed {
            // Past the FIN, only a FIN again is answered here (data and
            // out-of-order segments in TIME-WAIT were answered before):
            // answering the peer's bare ACKs at RCV.NXT would start an
            // endless exchange of ACKs after a simultaneous close, where
            // both ends are in TIME-WAIT.
            if self.state == State::TimeWait && fin_in_segment {
                // A retransmitted FIN: ACK it and restart the 2·MSL wait.
                self.rcv.ack_now = true;
                self.restart_time_wait();
            }
            return;
        }
        let Some(fin) = self.rcv.peer_fin else { return };
        if self.rcv.buf.nxt() != fin {
            return;
        }
        self.rcv.fin_consumed = true;
        self.rcv.ack_now = true;
        self.push_event(Event::PeerClosed);
        match self.state {
            State::SynReceived | State::Established => self.state = State::CloseWait,
            State::FinWait1 if self.snd.fin_acked => self.enter_time_wait(),
            State::FinWait1 => self.state = State::Closing,
            State::FinWait2 => self.enter_time_wait(),
            _ => {}
        }
    }

    // ----- Sending -----

    /// Octets in flight: sent and not acknowledged (SYN and FIN included).
    fn flight(&self) -> usize {
        self.snd.flight()
    }

    /// Room the application may fill now: the free space of the send
    /// buffer, within twice the congestion window when auto-tuned.
    fn send_room(&self) -> usize {
        let free = self.snd.buf.available();
        if !self.cfg.auto_tune {
            return free;
        }
        let used = self.snd.buf.capacity() - free;
        let limit = (self.cc.send_window() as usize)
            .saturating_mul(2)
            .max(SEND_BUFFER_FLOOR);
        free.min(limit.saturating_sub(used))
    }

    fn ts_now(&self) -> u32 {
        self.opts.ts_now(self.now)
    }

    /// The window field to advertise (RFC 9293 §3.8.6.2.2).
    fn advertise(&mut self) -> u16 {
        self.rcv.advertise(self.opts.rcv_wscale, self.opts.smss)
    }

    fn options_for(&mut self, flags: Flags) -> Options {
        if flags == Flags::RST {
            // A reset for a stray segment carries nothing else.
            return Options::new();
        }
        if !flags.contains(Flags::SYN) {
            // Every segment after the handshake: the timestamps (RFC 7323
            // §3), then the SACK blocks of an ACK (RFC 2018 §3), written
            // straight into the option area.
            let ts = self.opts.ts_ok.then(|| Timestamp {
                tsval: self.ts_now(),
                tsecr: self.opts.ts_recent,
            });
            let blocks = if self.opts.sack_ok
                && flags.contains(Flags::ACK)
                && !flags.contains(Flags::RST)
                && self.rcv.buf.has_sack_info()
            {
                let room = self.opts.sack_block_room();
                self.rcv.buf.sack_blocks(room)
            } else {
                SackBlocks::new()
            };
            return Options::with_timestamp_and_sack(ts, &blocks).unwrap_or_default();
        }
        // A SYN's options: at most 8; a fixed list keeps the path free of
        // allocation.
        let mut list = [TcpOption::Nop; 8];
        let mut n = 0;
        let mut push = |o: TcpOption<'static>| {
            list[n] = o;
            n += 1;
        };
        let first = self.state == State::SynSent;
        let offer = self.syn_offer();
        let sack = offer.sack && (first || self.opts.sack_ok);
        let ts = (offer.timestamps && (first || self.opts.ts_ok)).then(|| {
            let ecr = if first { 0 } else { self.opts.ts_recent };
            TcpOption::timestamp(self.ts_now(), ecr)
        });
        let wscale = (offer.window_scale.is_some()
            && (first || self.opts.rcv_wscale > 0 || self.opts.snd_wscale > 0))
            .then_some(TcpOption::WindowScale(self.opts.rcv_wscale));
        // RFC 9293 §3.7.1 MAY-3: the MSS option may be left out.
        if self.cfg.mss_option {
            push(TcpOption::Mss(self.cfg.mss));
        }
        let bsd = self.cfg.syn_option_order == SynOptionOrder::Bsd;
        if bsd && let Some(ws) = wscale {
            push(TcpOption::Nop);
            push(ws);
        }
        if sack {
            push(TcpOption::SackPermitted);
        }
        if let Some(ts) = ts {
            push(ts);
        }
        if !bsd && let Some(ws) = wscale {
            push(TcpOption::Nop);
            push(ws);
        }
        // RFC 7413 §4.1.1: a client's SYN asks for a cookie or carries
        // one (not when sent again, §4.1.3.1); a server's SYN-ACK carries
        // the cookie it made.
        if let Some(tfo) = self.fast_open.as_deref() {
            if first && let Some(cookie) = tfo.client {
                push(TcpOption::FastOpen(cookie));
            } else if !first && tfo.reply_cookie.is_some() {
                push(TcpOption::FastOpen(tfo.reply_cookie));
            }
        }
        Options::build(&list[..n]).unwrap_or_default()
    }

    /// What our SYN offers now: the configuration's offer, less window
    /// scaling, SACK and timestamps once more than
    /// `syn_retries_with_options` retransmissions of it went unanswered.
    fn syn_offer(&self) -> vtcp_wire::Offer {
        let offer = self.cfg.offer();
        let dropped = self.state == State::SynSent
            && self
                .cfg
                .syn_retries_with_options
                .is_some_and(|n| self.retries > n);
        if dropped {
            vtcp_wire::Offer {
                window_scale: None,
                sack: false,
                timestamps: false,
            }
        } else {
            offer
        }
    }

    /// Writes the next segment to send into `buf` and returns its length;
    /// `None` when there is nothing to send now. `buf` must hold a whole
    /// segment: 60 octets of header plus the send MSS.
    pub fn poll_transmit(&mut self, now: Duration, buf: &mut [u8]) -> Option<usize> {
        self.poll_transmit_super(now, buf, 0).map(|w| w.len)
    }

    /// [`Conn::poll_transmit`] for a link that splits super-segments
    /// (TCP segmentation offload): where the connection would send several
    /// full segments of new data back to back, it writes them as one
    /// segment of up to `max_segment` octets (header included, and at
    /// most `buf.len()`), which the link cuts into segments of
    /// [`Written::segment_size`] octets of payload, each with the same
    /// header but for its sequence number, FIN and PSH on the last only
    /// (as a NIC's TSO and Linux's GSO do). A `max_segment` below two
    /// segments gives one segment at a time, as `poll_transmit`.
    ///
    /// Everything else is as if the segments had been sent one by one in
    /// the same instant: each is logged, counted and timed on its own
    /// (the SACK scoreboard, RACK and the delivery-rate samples see
    /// segments, not super-segments). A controller that paces caps a
    /// super-segment at its send quantum. Retransmissions, probes and
    /// control segments always go one at a time. The checksum field is
    /// left for the caller, as for `poll_transmit`.
    pub fn poll_transmit_super(
        &mut self,
        now: Duration,
        buf: &mut [u8],
        max_segment: usize,
    ) -> Option<Written> {
        self.now = self.now.max(now);
        // Checked before anything is planned: a plan commits (SND.NXT,
        // a RST owed), so a segment that did not fit would be lost.
        if buf.len() < MAX_HEADER + self.opts.smss as usize {
            return None;
        }
        let mut max_payload = max_segment.min(buf.len()).saturating_sub(MAX_HEADER);
        if self.paces {
            max_payload = max_payload.min(self.cc.send_quantum() as usize);
        }
        let max_before = self.snd.max;
        let plan = self.next_segment(max_payload)?;
        let mut flags = plan.flags;
        let ack_flag = flags.contains(Flags::ACK);
        // RFC 3168 §6.1.2, §6.1.4 to §6.1.6: ECT(0) on new data only (not
        // on a retransmission, a window probe, a SYN with TFO data or a
        // segment without data),
        // CWR on the first new data after a reduction; ECE on every ACK
        // while a CE mark is to be echoed (§6.1.3), not on a SYN-ACK
        // (whose ECE is the handshake's) or a RST.
        // Nothing of it on a connection without ECN (the fast path).
        let mut ecn = EcnCodepoint::NotEct;
        if self.opts.ecn.ok() {
            let new_data = !flags.contains(Flags::SYN)
                && plan.data.is_some_and(|(seq, len)| {
                    len > 0 && !seq.before(max_before) && self.snd.probe_end != Some(seq + 1)
                });
            let cwr;
            (ecn, cwr) = self.opts.ecn.data_marks(new_data);
            flags |= cwr;
            if ack_flag && !flags.intersects(Flags::SYN | Flags::RST) {
                flags |= self.opts.ecn.ack_flags();
            }
        }
        let options = self.options_for(flags);
        let window = if flags.contains(Flags::SYN) {
            // RFC 7323 §2.2: the window of a SYN is not scaled.
            let w = (self.rcv.window() as u32).min(65_535) as u16;
            self.rcv.adv_right = self.rcv_nxt() + u32::from(w);
            w
        } else if flags.contains(Flags::RST) {
            0
        } else {
            self.advertise()
        };
        let (a, b) = match plan.data {
            Some((seq, len)) => self.snd.buf.range(seq, len).unwrap_or((&[], &[])),
            None => (&[][..], &[][..]),
        };
        let len_data = a.len() + b.len();
        // The payload of each segment a super-segment stands for: what
        // `new_data` cut it at.
        let mss = self.data_mss();
        let segments = len_data.div_ceil(mss).max(1);
        let header = Segment {
            src_port: self.own.local_port,
            dst_port: self.own.remote_port,
            seq: plan.seq,
            ack: if ack_flag { self.rcv_nxt() } else { Seq(0) },
            flags,
            window,
            options,
            payload: &[][..],
            ..Segment::default()
        };
        debug_assert!(buf.len() >= header.header_len() + len_data);
        let h = header.emit_header(buf).ok()?;
        buf[h..h + a.len()].copy_from_slice(a);
        buf[h + a.len()..h + len_data].copy_from_slice(b);
        self.stats.segments_out += segments as u64;
        if self.paces
            && len_data > 0
            && let Some(rate) = self.cc.pacing_rate()
        {
            self.pacer
                .on_sent(self.now, len_data, rate, self.cc.send_quantum());
        }
        if ack_flag {
            self.rcv.last_ack_sent = self.rcv_nxt();
            self.rcv.ack_now = false;
            self.timers.stop(Timer::DelayedAck);
            self.rcv.unacked_segments = 0;
        }
        Some(Written {
            len: h + len_data,
            segment_size: len_data.min(mss),
            segments,
            ecn: self.opts.ecn.ok().then_some(ecn),
        })
    }

    /// Every segment due now, each in its own buffer: the allocating
    /// form of [`Conn::poll_transmit`].
    pub fn drain_transmits(&mut self, now: Duration) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; MAX_HEADER + self.opts.smss.max(u32::from(self.cfg.mss)) as usize];
        while let Some(n) = self.poll_transmit(now, &mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }
}

/// What [`Conn::poll_transmit_super`] wrote into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Written {
    /// The segment's length, header included.
    pub len: usize,
    /// The payload of each segment it stands for: the link cuts a
    /// super-segment (`segments > 1`) into segments of this many octets,
    /// the last one shorter. For a lone segment, its payload.
    pub segment_size: usize,
    /// How many segments it stands for: 1 unless it is a super-segment.
    pub segments: usize,
    /// The ECN field (RFC 3168 §5) its IP header must carry, once the
    /// handshake set ECN up: ECT(0) for new data, Not-ECT for the rest
    /// (§6.1.4 to §6.1.6); every segment of a super-segment carries it.
    /// `None` on a connection without ECN: the traffic class's own bits.
    pub ecn: Option<EcnCodepoint>,
}

impl Written {
    /// Whether the link must cut it into [`Written::segments`] segments.
    pub fn is_super(&self) -> bool {
        self.segments > 1
    }
}

/// What `poll_transmit` decided to send.
struct Plan {
    flags: Flags,
    seq: Seq,
    /// Data to carry: its first octet and length.
    data: Option<(Seq, usize)>,
}

/// Which reset is owed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reset {
    /// Ours, for the connection: `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>`
    /// (an abort, a timeout, data for a closed application).
    Ours,
    /// For a segment whose ACK is unacceptable in SYN-SENT or
    /// SYN-RECEIVED: `<SEQ=SEG.ACK><CTL=RST>` (RFC 9293 §3.10.7.3 and
    /// §3.10.7.4), no ACK and no options; the connection stays.
    ForAck(Seq),
}

impl Conn {
    /// Decides the next segment and updates the send state for it
    /// (SND.NXT, timers, retransmission bookkeeping).
    /// New data may go as one super-segment of up to `max_payload`
    /// octets ([`Conn::poll_transmit_super`]).
    fn next_segment(&mut self, max_payload: usize) -> Option<Plan> {
        let now = self.now;
        if let Some(reset) = self.rst_needed.take() {
            return Some(match reset {
                Reset::Ours => Plan {
                    flags: Flags::RST | Flags::ACK,
                    seq: self.control_seq(),
                    data: None,
                },
                Reset::ForAck(ack) => Plan {
                    flags: Flags::RST,
                    seq: ack,
                    data: None,
                },
            });
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::SynSent | State::SynReceived if self.syn_needed => {
                self.syn_needed = false;
                let ack = self.state != State::SynSent;
                let mut flags = if ack {
                    Flags::SYN | Flags::ACK
                } else {
                    Flags::SYN
                };
                // RFC 3168 §6.1.1: an ECN-setup SYN (ECE, CWR) while
                // allowed, an ECN-setup SYN-ACK (ECE) once agreed.
                flags |= self.opts.ecn.syn_flags(
                    ack,
                    self.cfg.ecn,
                    self.retries,
                    self.cfg.ecn_syn_retries,
                );
                // A TFO SYN's data is sent with it (RFC 7413 §4.2.1).
                let data = self.fast_open_syn_data();
                if let Some((_, len)) = data {
                    self.snd.nxt = self.snd.iss + 1 + len as u32;
                } else if self.snd.nxt == self.snd.iss {
                    self.snd.nxt = self.snd.iss + 1;
                }
                if self.snd.max.before(self.snd.nxt) {
                    self.snd.max = self.snd.nxt;
                }
                if self.retries == 0 {
                    self.rto.start_timing(self.snd.iss, now);
                } else {
                    self.rto.invalidate_timing();
                }
                self.timers
                    .set(Timer::Rto, now + self.rto.rto(&rto_config(&self.cfg)));
                return Some(Plan {
                    flags,
                    seq: self.snd.iss,
                    data,
                });
            }
            State::SynSent => return None,
            _ => {}
        }
        if self.state == State::SynReceived && !self.snd.syn_acked {
            return self.pure_ack();
        }
        if self.keepalive_needed {
            self.keepalive_needed = false;
            // RFC 1122 §4.2.3.6: a probe at SND.NXT − 1, no data.
            return Some(Plan {
                flags: Flags::ACK,
                seq: self.snd.nxt - 1,
                data: None,
            });
        }
        if self.paced_out() {
            return self.pure_ack();
        }
        // The most data a segment may carry now, whichever goes.
        let mss = self.data_mss();
        if self.recovery.take_probe()
            && let Some(plan) = self.tail_loss_probe(mss)
        {
            return Some(plan);
        }
        if let Some(plan) = self.retransmission(mss) {
            return Some(plan);
        }
        if let Some(plan) = self.new_data(mss, max_payload) {
            return Some(plan);
        }
        if let Some(plan) = self.unsacked_retransmission(mss) {
            return Some(plan);
        }
        self.pure_ack()
    }

    /// The data a client's TFO SYN carries (RFC 7413 §4.2.1): with a
    /// cookie, the data written so far, up to the server's MSS less the
    /// SYN's options beyond the timestamps the MSS already allows for
    /// (RFC 6691); none with a cookie request or on a retransmission.
    fn fast_open_syn_data(&mut self) -> Option<(Seq, usize)> {
        let default_mss = Negotiated::default_mss(self.own.remote_addr);
        let tfo = self.fast_open.as_deref_mut()?;
        let cookie = tfo.client.flatten()?;
        // A cookie still to send is the first SYN's: a timeout and a
        // simultaneous open end the attempt (`finish_fast_open_client`),
        // and it can be asked for only before the first SYN.
        debug_assert!(self.state == State::SynSent && self.retries == 0);
        let mss = tfo.peer_mss.unwrap_or(default_mss).min(self.cfg.mss);
        // The SYN's options past the 12 octets of timestamps: MSS, window
        // scale, SACK-permitted (12) and the TFO option.
        let room = usize::from(mss).saturating_sub(12 + 2 + cookie.len());
        let len = self.snd.buf.pending().min(room);
        tfo.syn_data = len as u32;
        (len > 0).then_some((self.snd.iss + 1, len))
    }

    /// A controller that paces holds data back until the pacer's release
    /// time, which the pacing timer then marks (`crate::pacing`).
    fn paced_out(&mut self) -> bool {
        if !self.paces || self.pacer.ready(self.now) {
            return false;
        }
        self.timers.set(Timer::Pace, self.pacer.release_time());
        true
    }

    fn pure_ack(&mut self) -> Option<Plan> {
        if !self.rcv.ack_now {
            return None;
        }
        Some(Plan {
            flags: Flags::ACK,
            seq: self.control_seq(),
            data: None,
        })
    }

    /// The most data a segment may carry now: the send MSS (the timestamps
    /// option already off it) less the SACK blocks our ACK will carry
    /// (RFC 9293 §3.7.1 MUST-16, RFC 6691: every option counts against
    /// the peer's MSS).
    fn data_mss(&self) -> usize {
        let smss = self.opts.smss as usize;
        if !self.opts.sack_ok || !self.rcv.buf.has_sack_info() {
            return smss;
        }
        let room = self.opts.sack_block_room();
        let blocks = self.rcv.buf.sack_block_count(room);
        // nop, nop, kind, length, then 8 octets a block.
        let sack = if blocks == 0 { 0 } else { 4 + 8 * blocks };
        smss.saturating_sub(sack).max(1)
    }

    /// The sequence number of a segment without data: the highest SND.NXT
    /// reached. After a timeout SND.NXT goes back to SND.UNA, but the peer
    /// may already have everything up to the highest: an ACK numbered below
    /// its RCV.NXT would fail its acceptability test and its news would be
    /// lost, and two such peers would trade unacceptable ACKs for ever.
    fn control_seq(&self) -> Seq {
        self.snd.max.max_seq(self.snd.nxt)
    }

    /// What recovery sends again first: a fast retransmit, a NewReno
    /// partial-ACK retransmission, an RFC 6675 NextSeg() rule 1
    /// retransmission, or what RACK marked lost. At most `mss` octets.
    fn retransmission(&mut self, mss: usize) -> Option<Plan> {
        let (recovery, link) = self.link();
        Some(match recovery.next_retransmission(&link, mss)? {
            Resend::Data(seq, len) => self.resent(seq, len),
            Resend::Fin(seq) => Plan {
                flags: Flags::FIN | Flags::ACK,
                seq,
                data: None,
            },
        })
    }

    /// What recovery sends again when new data has nothing to send: RFC
    /// 6675 NextSeg() rules 3 and 4. At most `mss` octets.
    fn unsacked_retransmission(&mut self, mss: usize) -> Option<Plan> {
        let (recovery, link) = self.link();
        let (seq, len) = recovery.next_unsacked(&link, mss)?;
        Some(self.resent(seq, len))
    }

    /// A segment of old data, sent again: recovery counts it, and it is
    /// not timed (Karn).
    fn resent(&mut self, seq: Seq, len: usize) -> Plan {
        let tsval = self.opts.ts_ok.then(|| self.ts_now());
        let (recovery, link) = self.link();
        recovery.on_sent(&link, seq, len, true, tsval);
        self.stats.add(Rare::Retransmits, 1);
        self.rto.invalidate_timing();
        let end = seq + len as u32;
        if !self.timers.is_armed(Timer::Rto) {
            self.timers
                .set(Timer::Rto, self.now + self.rto.rto(&rto_config(&self.cfg)));
        }
        let mut flags = Flags::ACK;
        if end == self.snd.buf.tail() {
            flags.insert(Flags::PSH);
        }
        Plan {
            flags,
            seq,
            data: Some((seq, len)),
        }
    }

    /// New data or FIN, within the congestion and send windows, with Nagle
    /// and sender-side SWS avoidance (RFC 9293 §3.8.6.2.1, RFC 896), in
    /// segments of at most `mss` octets: full segments that follow a full
    /// one join it in one super-segment of up to `max_payload` octets.
    fn new_data(&mut self, mss: usize, max_payload: usize) -> Option<Plan> {
        let now = self.now;
        let (recovery, link) = self.link();
        let in_flight = recovery.in_flight(&link);
        let cwnd = recovery.send_window(link.cc, link.sack) as usize;
        // RFC 3042 limited transmit: the first two duplicate ACKs each let
        // one new segment out beyond the window.
        let limited = recovery.limited_transmit(mss);
        let pending = self.snd.buf.pending();
        let wnd_room = self.peer_window_room();
        let cwnd_room = cwnd.saturating_add(limited).saturating_sub(in_flight);
        let room = wnd_room.min(cwnd_room);
        // Data waits and the congestion window leaves no room for it.
        let held_back = pending > 0 && cwnd_room < pending.min(mss);
        if pending < mss && cwnd_room >= mss && self.paces {
            // Less than a segment to send and room for it: the application
            // limits the sending (draft-cheng-iccrg-delivery-rate-estimation
            // §3.5.2), for the delivery-rate samples of a controller that
            // paces.
            let flight = self.flight();
            self.recovery.on_app_limited(flight);
        }
        let (una, nxt) = (self.snd.una(), self.snd.nxt);
        self.snd.cwnd_use.observe(held_back, in_flight, una, nxt);
        if pending > 0 && self.probe_needed && wnd_room == 0 {
            // Zero-window probe (RFC 9293 §3.8.6.1): one octet beyond the
            // window, backing off.
            self.probe_needed = false;
            self.persist_backoff = (self.persist_backoff + 1).min(10);
            self.timers.set(
                Timer::Persist,
                now + (self.rto.rto(&rto_config(&self.cfg)) * (1 << self.persist_backoff.min(6)))
                    .min(self.cfg.max_rto),
            );
            let seq = self.snd.buf.nxt();
            self.snd.probe_end = Some(seq + 1);
            return Some(Plan {
                flags: Flags::ACK,
                seq,
                data: Some((seq, 1)),
            });
        }
        if pending > 0 {
            let len = pending.min(mss).min(room);
            let all = len == pending;
            // Nagle (RFC 896, RFC 1122 §4.2.3.4) in Minshall's variant, as
            // Linux has it: a short segment waits only while another short
            // one is unacknowledged, so full segments in flight do not
            // hold back the tail of a write (a response's last octets).
            let nagle_ok = self.own.nodelay || !self.snd.short_unacked() || self.snd.fin_queued;
            // The override timeout of RFC 9293 §3.8.6.2.1 (the persist
            // timer here) sends what a small window allows.
            let overdue = std::mem::take(&mut self.probe_needed);
            let sws_ok = len == mss
                || (all && nagle_ok)
                || (len > 0 && len as u32 >= self.snd.max_wnd / 2 && nagle_ok)
                || (len > 0 && overdue);
            if len > 0 && sws_ok {
                let seq = self.snd.buf.nxt();
                // TSO: more full segments where the first is full, as many
                // as the windows and the link allow; a short tail goes on
                // its own, as it would after them.
                let total = if len == mss && max_payload >= 2 * mss {
                    let full = pending.min(room).min(max_payload) / mss;
                    full.max(1) * mss
                } else {
                    len
                };
                let mut off = 0;
                let mut with_fin = false;
                while off < total {
                    let piece = (total - off).min(mss);
                    let at = seq + off as u32;
                    off += piece;
                    with_fin = self.sent_piece(at, piece, mss, off == total);
                }
                let len = total;
                // PSH on the segment that empties the queue, as Linux does.
                let mut flags = Flags::ACK;
                if self.snd.buf.pending() == 0 {
                    flags.insert(Flags::PSH);
                }
                if with_fin {
                    flags.insert(Flags::FIN);
                }
                return Some(Plan {
                    flags,
                    seq,
                    data: Some((seq, len)),
                });
            }
            if self.flight() == 0 && !self.timers.is_armed(Timer::Persist) {
                // A zero window to probe, or a small one held back by SWS
                // avoidance: come back after an RTO.
                self.timers
                    .set(Timer::Persist, now + self.rto.rto(&rto_config(&self.cfg)));
            }
            return None;
        }
        if self.snd.fin_queued && !self.snd.fin_sent && self.snd.syn_acked {
            // The FIN takes a sequence number, which a zero window has no
            // room for (the peer's acceptability test drops it, RFC 9293
            // §3.10.7.4): it waits for the window, as Linux's does, and the
            // persist timer sends it as the probe (found by differential
            // testing against Linux).
            if wnd_room == 0 && !std::mem::take(&mut self.probe_needed) {
                if self.flight() == 0 && !self.timers.is_armed(Timer::Persist) {
                    self.timers
                        .set(Timer::Persist, now + self.rto.rto(&rto_config(&self.cfg)));
                }
                return None;
            }
            let seq = self.snd.buf.nxt();
            self.snd.fin_sent = true;
            self.snd.nxt = seq + 1;
            self.sent_new(seq);
            return Some(Plan {
                flags: Flags::FIN | Flags::ACK,
                seq,
                data: None,
            });
        }
        None
    }

    /// Accounts for `len` octets of new data (or data sent again after a
    /// timeout's rewind) sent at `seq`, one segment of at most `mss`, the
    /// FIN with it when it is the `last` of its (super-)segment and empties
    /// the queue; says whether the FIN went.
    fn sent_piece(&mut self, seq: Seq, len: usize, mss: usize, last: bool) -> bool {
        // Sent before, and sent again since a timeout went back to
        // SND.UNA (RFC 6675 §5.1).
        let resent = seq.before(self.snd.max);
        let tsval = (resent && self.opts.ts_ok).then(|| self.ts_now());
        let (recovery, link) = self.link();
        recovery.on_sent(&link, seq, len, resent, tsval);
        if resent {
            self.stats.add(Rare::Retransmits, 1);
        }
        self.snd.buf.advance_sent(len);
        if len < mss {
            self.snd.short_end = Some(seq + len as u32);
        }
        self.snd.nxt = self.snd.buf.nxt();
        let with_fin =
            last && self.snd.fin_queued && self.snd.buf.pending() == 0 && !self.snd.fin_sent;
        if with_fin {
            self.snd.fin_sent = true;
            self.snd.nxt += 1;
        }
        self.sent_new(seq);
        with_fin
    }

    fn sent_new(&mut self, seq: Seq) {
        let now = self.now;
        if self.snd.max.before(self.snd.nxt) {
            self.snd.max = self.snd.nxt;
            self.rto.start_timing(seq, now);
        }
        if !self.timers.is_armed(Timer::Rto) {
            self.timers
                .set(Timer::Rto, now + self.rto.rto(&rto_config(&self.cfg)));
        }
        // RFC 8985 §7.2 restarts the probe timer after each new segment;
        // Linux does it once per burst (tcp_write_xmit), which comes to
        // the same: a burst's segments go at one instant, and the last
        // one's PTO stands (a lone segment's allows for a delayed ACK).
        // Arming it only when a burst found it idle let a second write's
        // burst be probed a PTO after the first (found by differential
        // testing against Linux).
        self.arm_tlp();
        if self.unacked_since == NOT_SENT {
            self.unacked_since = nanos(now);
        }
    }
}

#[cfg(test)]
mod size {
    /// The struct of an idle connection does not grow back (issue 22:
    /// 1888 octets before the rare counters, the delivery-rate totals and
    /// the timers' `Option`s went, 1512 before the configuration was
    /// shared, 1280 before the RTO bounds were read from it, 1216 before
    /// PRR's state and the undo episode were boxed, 1160 before the
    /// receive buffer's recent SACK offsets were, 1096 before the RTT
    /// estimators' times were nanoseconds in `u64`s, 1048 before RACK's
    /// and the connection's own were too, 984 before the sent-segment
    /// log and the SACK scoreboard were boxed; the rest of the budget is
    /// in docs/performance.md). Not timed: a size is the same on
    /// every run.
    #[test]
    fn a_connection_stays_within_its_budget() {
        assert!(
            size_of::<super::Conn>() <= 888,
            "Conn is {} octets",
            size_of::<super::Conn>()
        );
        // What went out of line: a pointer each.
        assert!(size_of::<crate::types::Counters>() <= 40);
        assert_eq!(size_of::<crate::timer::TimerTable>(), 64);
        // The configuration is shared: a pointer, and what is the
        // connection's own beside it.
        assert!(size_of::<super::Own>() <= 48);
        assert!(size_of::<vtcp_rto::RtoState>() <= 40);
        assert!(size_of::<crate::autotune::RcvAutoTune>() <= 56);
    }
}

#[cfg(test)]
mod shared {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Conn;
    use crate::config::{ConnConfig, Endpoints};

    /// Connections made from one `Arc` hold one configuration between
    /// them; each keeps its ports and what the application changed on it.
    #[test]
    fn connections_made_from_one_policy_share_it() {
        let policy = Arc::new(ConnConfig::default());
        let open = |port| {
            Conn::connect(
                Arc::clone(&policy),
                Endpoints::ports(port, 80),
                Duration::ZERO,
            )
        };
        let (mut a, b) = (open(1), open(2));
        assert!(Arc::ptr_eq(a.shared_config(), b.shared_config()));
        assert_eq!((a.local_port(), b.local_port()), (1, 2));
        a.set_nodelay(true);
        a.set_hop_limit(Some(7));
        assert!(a.nodelay() && !b.nodelay());
        assert_eq!((a.hop_limit(), b.hop_limit()), (Some(7), None));
        // The shared policy is as it was.
        assert!(!a.config().nodelay && a.config().hop_limit.is_none());
        assert!(Arc::ptr_eq(a.shared_config(), b.shared_config()));
        // A rarer setting changed: a policy of its own for `a` alone.
        let ka = crate::config::Keepalive::default();
        a.set_keepalive(Duration::ZERO, Some(ka));
        assert!(!Arc::ptr_eq(a.shared_config(), b.shared_config()));
        assert_eq!(
            (a.config().keepalive, b.config().keepalive),
            (Some(ka), None)
        );
        assert_eq!(policy.keepalive, None);
        // A policy by value is the connection's own.
        let c = Conn::connect(
            ConnConfig::default(),
            Endpoints::ports(3, 80),
            Duration::ZERO,
        );
        assert!(!Arc::ptr_eq(a.shared_config(), c.shared_config()));
    }
}

#[cfg(test)]
mod endpoints {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::Conn;
    use crate::config::{ConnConfig, Endpoints};

    /// A connection keeps the addresses and ports it was made with, for
    /// the IP layer and the socket API (`getsockname`, `getpeername`).
    #[test]
    fn a_connection_reports_the_endpoints_it_was_made_with() {
        let local = IpAddr::from([192, 0, 2, 1]);
        let remote = IpAddr::from([198, 51, 100, 7]);
        let ends = Endpoints::new(Some(local), 8080, Some(remote), 40000);
        let c = Conn::connect(ConnConfig::default(), ends, Duration::ZERO);
        assert_eq!((c.local_addr(), c.local_port()), (Some(local), 8080));
        assert_eq!((c.remote_addr(), c.remote_port()), (Some(remote), 40000));
    }

    /// RFC 6528 §3: the ISN is F(4-tuple, key) plus a 4 µs clock. Over
    /// IPv6 too: the same 4-tuple and key give the same ISN at the same
    /// time, a different address or port a different one, and the clock
    /// moves it on by a tick every 4 µs.
    #[test]
    fn rfc_6528_isns_hash_the_ipv6_four_tuple() {
        use crate::config::IsnSource;
        let key = IsnSource::Rfc6528 { key: [7; 16] };
        let iss = |remote: u16, port: u16, at: u64| {
            let ends = Endpoints::new(
                Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])),
                8080,
                Some(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, remote])),
                port,
            )
            .with_isn(key);
            Conn::connect(ConnConfig::default(), ends, Duration::from_micros(at)).iss()
        };
        assert_eq!(iss(2, 40000, 0), iss(2, 40000, 0));
        assert_ne!(iss(2, 40000, 0), iss(3, 40000, 0));
        assert_ne!(iss(2, 40000, 0), iss(2, 40001, 0));
        assert_eq!(iss(2, 40000, 400), iss(2, 40000, 0) + 100);
    }
}
