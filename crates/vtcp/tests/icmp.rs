//! ICMP errors through `Stack::handle_icmp`, one behaviour per trace: a
//! client stack opens a connection to a peer this test plays by hand,
//! and routers on the path answer with ICMP. Segments are written as
//! packetdrill writes them, sequence numbers relative to each side's ISN
//! (`S 0:0(0)`, `. 1:1461(1460) ack 1`); an ICMP error's quote names our
//! segment's relative sequence number, as `< icmp … [seq:end(len)]` does.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use vtcp::icmp::{IcmpDelivery, IcmpError, IcmpOutcome, IcmpReport};
use vtcp::wire::checksum::{PseudoHeader, fill_tcp_checksum};
use vtcp::wire::{Flags, Options, Segment, TcpOption};
use vtcp::{CloseReason, ConnConfig, ConnKey, Stack, StackConfig, StackError, State};
use vtcp_seq::Seq;

const US: [u8; 4] = [198, 18, 0, 1];
const PEER: [u8; 4] = [198, 18, 0, 2];
const PEER6: &str = "fd00::2";
const US6: &str = "fd00::1";
/// The peer's ISN.
const PEER_ISN: u32 = 7_000;

struct Trace {
    stack: Stack,
    key: ConnKey,
    now: Duration,
    iss: u32,
    buf: Vec<u8>,
}

impl Trace {
    /// `connect()` at time 0 from our address to the peer's port 80.
    fn connect(ipv6: bool, tweak: fn(&mut ConnConfig)) -> Self {
        let mut stack = Stack::new({
            let mut config = StackConfig::default();
            config.conn = {
                let mut c = ConnConfig::default();
                // Segments without timestamps read shorter.
                c.timestamps = false;
                tweak(&mut c);
                c
            };
            config.cookie_key = [1; 16];
            config.isn_key = [2; 16];
            config
        });
        let (us, peer): (IpAddr, IpAddr) = if ipv6 {
            (US6.parse().unwrap(), PEER6.parse().unwrap())
        } else {
            (US.into(), PEER.into())
        };
        let now = Duration::from_secs(1);
        let key = stack.connect(now, us, SocketAddr::new(peer, 80)).unwrap();
        Self {
            stack,
            key,
            now,
            iss: 0,
            buf: vec![0; 70_000],
        }
    }

    /// Connected: our SYN, the peer's SYN-ACK (MSS 1460), our ACK.
    fn established(ipv6: bool, tweak: fn(&mut ConnConfig)) -> Self {
        let mut t = Self::connect(ipv6, tweak);
        t.expect("S 0:0(0)");
        t.recv_syn_ack();
        t.expect(". 1:1(0) ack 1");
        assert_eq!(t.state(), State::Established);
        t
    }

    fn at_ms(&mut self, ms: u64) -> &mut Self {
        self.now = Duration::from_secs(1) + Duration::from_millis(ms);
        self.stack.handle_timeout(self.now);
        self
    }

    /// Runs the next timer, at its time.
    fn on_timer(&mut self) -> &mut Self {
        let next = self.stack.poll_timeout().expect("a timer");
        self.now = self.now.max(next);
        self.stack.handle_timeout(self.now);
        self
    }

    fn state(&self) -> State {
        self.stack.conn(self.key).unwrap().state()
    }

    /// The next segment we send, as packetdrill prints it (no window, no
    /// options), checked against `want`.
    fn expect(&mut self, want: &str) -> &mut Self {
        let t = self
            .stack
            .poll_transmit(self.now, &mut self.buf)
            .unwrap_or_else(|| panic!("expected {want}, nothing sent"));
        let seg = Segment::parse(&self.buf[..t.len]).unwrap();
        if seg.flags.contains(Flags::SYN) {
            self.iss = seg.seq.0;
        }
        let seq = seg.seq.0.wrapping_sub(self.iss);
        let len = seg.payload.len() as u32;
        // Flags in tcpdump's notation (`Flags`' Display).
        let mut got = format!("{} {seq}:{}({len})", seg.flags, seq + len);
        if seg.flags.contains(Flags::ACK) {
            got += &format!(" ack {}", seg.ack.0.wrapping_sub(PEER_ISN));
        }
        assert_eq!(got, want);
        self
    }

    fn expect_none(&mut self) -> &mut Self {
        if let Some(t) = self.stack.poll_transmit(self.now, &mut self.buf) {
            let seg = Segment::parse(&self.buf[..t.len]).unwrap();
            panic!("sent {seg:?}");
        }
        self
    }

    fn recv(&mut self, flags: Flags, seq: u32, ack: u32, options: &[TcpOption<'_>]) {
        let seg = Segment {
            src_port: 80,
            dst_port: self.key.local.port(),
            seq: Seq(PEER_ISN.wrapping_add(seq)),
            ack: Seq(self.iss.wrapping_add(ack)),
            flags,
            window: 65_535,
            options: Options::build(options).unwrap(),
            payload: &[][..],
            ..Segment::default()
        };
        let mut bytes = seg.to_bytes();
        let (src, dst) = (self.key.remote.ip(), self.key.local.ip());
        fill_tcp_checksum(&PseudoHeader::new(src, dst).unwrap(), &mut bytes);
        self.stack.handle_packet(self.now, src, dst, &bytes);
    }

    /// `< S. 0:0(0) ack 1 win 65535 <mss 1460>`
    fn recv_syn_ack(&mut self) {
        self.recv(Flags::SYN | Flags::ACK, 0, 1, &[TcpOption::Mss(1460)]);
    }

    /// `< icmp … [seq:…]`: a router's ICMP error quoting our segment of
    /// relative sequence number `seq`.
    fn icmp(&mut self, error: IcmpError, seq: u32) -> IcmpDelivery {
        let mut quoted = [0u8; 20];
        quoted[..2].copy_from_slice(&self.key.local.port().to_be_bytes());
        quoted[2..4].copy_from_slice(&80u16.to_be_bytes());
        quoted[4..8].copy_from_slice(&self.iss.wrapping_add(seq).to_be_bytes());
        let report = IcmpReport {
            error,
            src: self.key.local.ip(),
            dst: self.key.remote.ip(),
            quoted: &quoted,
        };
        self.stack.handle_icmp(self.now, &report)
    }

    fn send_mss(&self) -> u32 {
        self.stack.conn(self.key).unwrap().send_mss()
    }

    fn write(&mut self, n: usize) {
        let data = vec![7u8; n];
        let wrote = self.stack.conn_mut(self.key).unwrap().write(&data).unwrap();
        assert_eq!(wrote, n);
    }
}

fn v4(icmp_type: u8, code: u8, rest: u32) -> IcmpError {
    IcmpError::from_icmpv4(icmp_type, code, rest).unwrap()
}

fn v6(icmp_type: u8, code: u8, rest: u32) -> IcmpError {
    IcmpError::from_icmpv6(icmp_type, code, rest).unwrap()
}

impl Trace {
    /// A path-MTU report quoting `seq` lowers the send MSS to `mss` and
    /// what was in flight goes again at once as `resent`, nothing more.
    fn lowers_the_mss_and_resends(
        &mut self,
        error: IcmpError,
        seq: u32,
        mss: u32,
        resent: &[&str],
    ) {
        assert_eq!(
            self.icmp(error, seq),
            IcmpDelivery::Conn(IcmpOutcome::MssLowered)
        );
        assert_eq!(self.send_mss(), mss);
        for segment in resent {
            self.expect(segment);
        }
        self.expect_none();
    }
}

/// RFC 1191 §6.3, RFC 9293 §3.7.3: "fragmentation needed" lowers the MSS
/// and what was in flight goes again at once, in segments that fit,
/// with no congestion response.
#[test]
fn fragmentation_needed_lowers_the_mss_and_resends_smaller_at_once() {
    let mut t = Trace::established(false, |_| {});
    t.write(3000);
    t.expect(". 1:1461(1460) ack 1")
        .expect(". 1461:2921(1460) ack 1")
        .expect("P. 2921:3001(80) ack 1")
        .expect_none();
    // +0.01 < icmp unreachable frag_needed mtu 1280 [1461:2921(1460)]
    // 1280 less 20 of IP and 20 of TCP.
    t.at_ms(10).lowers_the_mss_and_resends(
        v4(3, 4, 1280),
        1461,
        1240,
        &[
            ". 1:1241(1240) ack 1",
            ". 1241:2481(1240) ack 1",
            "P. 2481:3001(520) ack 1",
        ],
    );
    assert_eq!(t.stack.counters().icmp_accepted, 1);
    // The same report again changes nothing and sends nothing.
    assert_eq!(
        t.icmp(v4(3, 4, 1280), 1),
        IcmpDelivery::Conn(IcmpOutcome::MssUnchanged)
    );
    t.expect_none();
}

/// RFC 8201 §4: an IPv6 "packet too big" below 1280 counts as 1280.
#[test]
fn packet_too_big_below_1280_counts_as_1280() {
    let mut t = Trace::established(true, |_| {});
    t.write(2000);
    t.expect(". 1:1441(1440) ack 1")
        .expect("P. 1441:2001(560) ack 1");
    // < icmp packet_too_big mtu 1000 [1:1441(1440)]
    // 1280 less 40 of IPv6 and 20 of TCP.
    t.lowers_the_mss_and_resends(
        v6(2, 0, 1000),
        1,
        1220,
        &[". 1:1221(1220) ack 1", "P. 1221:2001(780) ack 1"],
    );
}

/// RFC 5927 §4.1: an error quoting a sequence number not in flight
/// (below SND.UNA, or at or beyond SND.NXT) is ignored and counted, as
/// is one naming no connection.
#[test]
fn an_icmp_error_quoting_no_sequence_number_in_flight_is_ignored() {
    let mut t = Trace::established(false, |_| {});
    t.write(1000);
    t.expect("P. 1:1001(1000) ack 1");
    for seq in [0, 1001, 1_000_000] {
        assert_eq!(
            t.icmp(v4(3, 4, 576), seq),
            IcmpDelivery::Conn(IcmpOutcome::OutOfWindow),
            "seq {seq}"
        );
        assert_eq!(
            t.icmp(v4(3, 1, 0), seq),
            IcmpDelivery::Conn(IcmpOutcome::OutOfWindow)
        );
    }
    assert_eq!(t.send_mss(), 1460);
    let conn = t.stack.conn(t.key).unwrap();
    assert_eq!(conn.icmp_error(), None);
    t.expect_none();
    assert_eq!(t.stack.counters().icmp_out_of_window, 6);
    assert_eq!(t.stack.counters().icmp_accepted, 0);
    // Another port: no connection.
    let mut quoted = [0u8; 8];
    quoted[..2].copy_from_slice(&(t.key.local.port() ^ 1).to_be_bytes());
    quoted[2..4].copy_from_slice(&80u16.to_be_bytes());
    let report = IcmpReport {
        error: v4(3, 3, 0),
        src: US.into(),
        dst: PEER.into(),
        quoted: &quoted,
    };
    assert_eq!(
        t.stack.handle_icmp(t.now, &report),
        IcmpDelivery::NoConnection
    );
    // Seven octets name nothing.
    let short = IcmpReport {
        quoted: &quoted[..7],
        ..report
    };
    assert_eq!(t.stack.handle_icmp(t.now, &short), IcmpDelivery::Malformed);
    assert_eq!(t.stack.counters().icmp_no_connection, 2);
    assert_eq!(t.state(), State::Established);
}

/// RFC 1122 §4.2.3.9, RFC 5461 §4.1: in ESTABLISHED every error is soft,
/// port unreachable too: kept, and the connection goes on.
#[test]
fn a_hard_error_in_established_is_kept_as_soft_and_the_connection_goes_on() {
    let mut t = Trace::established(false, |_| {});
    t.write(100);
    t.expect("P. 1:101(100) ack 1");
    // < icmp unreachable port_unreachable [1:101(100)]
    let port = v4(3, 3, 0);
    assert_eq!(t.icmp(port, 1), IcmpDelivery::Conn(IcmpOutcome::SoftError));
    assert_eq!(t.state(), State::Established);
    let conn = t.stack.conn(t.key).unwrap();
    assert_eq!(conn.icmp_error(), Some(port));
    assert_eq!(conn.close_reason(), None);
    // The peer's ACK: all is well, data still flows.
    t.recv(Flags::ACK, 1, 101, &[]);
    t.write(10);
    t.expect("P. 101:111(10) ack 1");
}

/// RFC 1122 §4.2.3.9: a soft error does not end the connection, but if
/// it then times out, the error it reports is the soft error (as Linux's
/// `sk_err_soft` and FreeBSD's `t_softerror`): EHOSTUNREACH, not
/// ETIMEDOUT.
#[test]
fn a_soft_error_is_reported_when_the_connection_times_out() {
    let mut t = Trace::established(false, |c| c.max_retries = 2);
    t.write(100);
    t.expect("P. 1:101(100) ack 1").expect_none();
    // < icmp unreachable host_unreachable [1:101(100)]
    assert_eq!(
        t.icmp(v4(3, 1, 0), 1),
        IcmpDelivery::Conn(IcmpOutcome::SoftError)
    );
    assert_eq!(t.state(), State::Established);
    // The RTO and its back-offs run out.
    t.on_timer().expect("P. 1:101(100) ack 1").expect_none();
    t.on_timer().expect("P. 1:101(100) ack 1").expect_none();
    t.on_timer();
    let conn = t.stack.conn(t.key).unwrap();
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.close_reason(), Some(CloseReason::TimedOut));
    assert_eq!(StackError::of_conn(conn), Some(StackError::HostUnreachable));
    let io: std::io::Error = StackError::HostUnreachable.into();
    assert_eq!(io.kind(), std::io::ErrorKind::HostUnreachable);
}

/// Without an ICMP error, a timeout is a timeout.
#[test]
fn without_an_icmp_error_a_timeout_reports_etimedout() {
    let mut t = Trace::established(false, |c| c.max_retries = 1);
    t.write(100);
    t.expect("P. 1:101(100) ack 1").expect_none();
    t.on_timer().expect("P. 1:101(100) ack 1").expect_none();
    t.on_timer();
    let conn = t.stack.conn(t.key).unwrap();
    assert_eq!(StackError::of_conn(conn), Some(StackError::TimedOut));
}

/// RFC 5461 §4.1, FreeBSD's `icmp_may_rst`: port unreachable about our
/// SYN aborts the connection (ECONNREFUSED), and a quote of anything but
/// the SYN is ignored first; TTL exceeded aborts with EHOSTUNREACH.
#[test]
fn a_hard_error_in_syn_sent_aborts_the_connection() {
    let mut t = Trace::connect(false, |_| {});
    t.expect("S 0:0(0)");
    // < icmp unreachable port_unreachable [4294967295:4294967295(0)]
    // < icmp unreachable port_unreachable [1:1(0)]
    for seq in [u32::MAX, 1] {
        assert_eq!(
            t.icmp(v4(3, 3, 0), seq),
            IcmpDelivery::Conn(IcmpOutcome::OutOfWindow)
        );
        assert_eq!(t.state(), State::SynSent);
    }
    // < icmp unreachable port_unreachable [0:0(0)]
    assert_eq!(
        t.icmp(v4(3, 3, 0), 0),
        IcmpDelivery::Conn(IcmpOutcome::Aborted)
    );
    let conn = t.stack.conn(t.key).unwrap();
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(conn.close_reason(), Some(CloseReason::Unreachable));
    assert_eq!(
        StackError::of_conn(conn),
        Some(StackError::ConnectionRefused)
    );
    // Closed: no RST, no SYN again.
    t.at_ms(5000).expect_none();

    let mut t = Trace::connect(true, |_| {});
    t.expect("S 0:0(0)");
    // < icmp time_exceeded exceeded_hop_limit [0:0(0)]
    assert_eq!(
        t.icmp(v6(3, 0, 0), 0),
        IcmpDelivery::Conn(IcmpOutcome::Aborted)
    );
    let conn = t.stack.conn(t.key).unwrap();
    assert_eq!(StackError::of_conn(conn), Some(StackError::HostUnreachable));
}

/// Soft errors in SYN-SENT (and hard ones with `icmp_hard_errors` off)
/// leave the handshake to its timer: the SYN goes again, and a SYN-ACK
/// still connects.
#[test]
fn a_soft_error_in_syn_sent_leaves_the_handshake_going() {
    let mut t = Trace::connect(false, |c| c.icmp_hard_errors = false);
    t.expect("S 0:0(0)").expect_none();
    // < icmp unreachable net_unreachable [0:0(0)]
    // < icmp unreachable port_unreachable [0:0(0)] (icmp_may_rst=0)
    for error in [v4(3, 0, 0), v4(3, 3, 0), v4(12, 0, 0)] {
        assert_eq!(t.icmp(error, 0), IcmpDelivery::Conn(IcmpOutcome::SoftError));
        assert_eq!(t.state(), State::SynSent);
    }
    // "Fragmentation needed" about a SYN: no MSS to lower yet.
    assert_eq!(
        t.icmp(v4(3, 4, 576), 0),
        IcmpDelivery::Conn(IcmpOutcome::MssUnchanged)
    );
    t.on_timer().expect("S 0:0(0)");
    t.recv_syn_ack();
    t.expect(". 1:1(0) ack 1");
    assert_eq!(t.state(), State::Established);
    // The error kept before the handshake is no error of the
    // connection's now; it stays only for a later timeout to report.
    let conn = t.stack.conn(t.key).unwrap();
    assert_eq!(StackError::of_conn(conn), None);
}
