//! Two `IpStack`s joined in memory, whole IP packets between them: no
//! device, no root. What crosses is real IPv4, so ICMP can be forged
//! against it.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use etherparse::{
    Icmpv4Header, Icmpv4Type, IpNumber, PacketBuilder, icmpv4::DestUnreachableHeader,
};
use vtcp::{ConnKey, StackConfig, TcpListener, TcpStream};
use vtcp_tun::IpStack;

const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 1));
const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 2));

/// Every packet one side sent.
type Log = Arc<Mutex<Vec<Vec<u8>>>>;

/// A's configuration: no timer of its own resends anything while a test
/// looks, so what A sends after an ICMP error is what the error made it
/// send. With the defaults the tail loss probe went 10 ms after the data
/// (and the RTO 200 ms after): a test thread stalled that long on a
/// loaded machine, between counting A's packets and giving it the error,
/// saw the probe's full-size segment among those the error made.
fn quiet() -> StackConfig {
    let mut config = StackConfig::default();
    config.conn.rack_tlp = false;
    config.conn.initial_rto = vtcp::rto::MAX_RTO;
    config.conn.min_rto = vtcp::rto::MAX_RTO;
    config
}

/// Two stacks back to back; `a_sent` keeps every packet A sent, and
/// `cut` set drops them all on the way to B.
fn pair() -> (IpStack, IpStack, Log, Arc<AtomicBool>) {
    let cut = Arc::new(AtomicBool::new(false));
    let to_b: Arc<OnceLock<IpStack>> = Arc::default();
    let to_a: Arc<OnceLock<IpStack>> = Arc::default();
    let a_sent = Arc::new(Mutex::new(Vec::new()));
    let a = {
        let (to_b, log, cut) = (Arc::clone(&to_b), Arc::clone(&a_sent), Arc::clone(&cut));
        IpStack::new(quiet(), &[A], move |p| {
            log.lock().unwrap().push(p.to_vec());
            if cut.load(Ordering::Relaxed) {
                return Ok(());
            }
            if let Some(b) = to_b.get() {
                b.handle_ip(p);
            }
            Ok(())
        })
        .unwrap()
    };
    let b = {
        let to_a = Arc::clone(&to_a);
        IpStack::new(StackConfig::default(), &[B], move |p| {
            if let Some(a) = to_a.get() {
                a.handle_ip(p);
            }
            Ok(())
        })
        .unwrap()
    };
    let _ = to_b.set(b.clone());
    let _ = to_a.set(a.clone());
    (a, b, a_sent, cut)
}

/// Waits until `a`'s writer thread has written all `a` sent so far.
fn written(a: &IpStack) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.net().outbox().queued_segments > 0 {
        assert!(Instant::now() < deadline, "the writer is stuck");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// An ICMP error of type `ty` from a router, quoting the first 28
/// octets of `quoted` (its IP header and 8 octets of TCP).
fn icmp_error(ty: Icmpv4Type, quoted: &[u8]) -> Vec<u8> {
    let mut icmp = Vec::new();
    let quote = &quoted[..28];
    Icmpv4Header::with_checksum(ty, quote)
        .write(&mut icmp)
        .unwrap();
    icmp.extend_from_slice(quote);
    let mut pkt = Vec::new();
    PacketBuilder::ipv4([198, 18, 0, 254], [198, 18, 0, 1], 64)
        .write(&mut pkt, IpNumber::ICMP, &icmp)
        .unwrap();
    pkt
}

/// An ICMP "fragmentation needed" from a router, quoting `quoted`.
fn frag_needed(quoted: &[u8], mtu: u16) -> Vec<u8> {
    let ty = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
        next_hop_mtu: mtu,
    });
    icmp_error(ty, quoted)
}

/// A connection from A to B's port 7 with `n` octets in flight that
/// never arrive (the link to B cut once connected).
struct InFlight {
    a: IpStack,
    b: IpStack,
    a_sent: Log,
    key: ConnKey,
    /// The IP packet of the last full segment A sent.
    data_packet: Vec<u8>,
    _ends: (TcpListener, TcpStream, TcpStream),
}

impl InFlight {
    fn new(n: usize) -> Self {
        let (a, b, a_sent, cut) = pair();
        let l = TcpListener::bind(b.net(), SocketAddr::new(B, 7)).unwrap();
        let mut s = TcpStream::connect(a.net(), SocketAddr::new(B, 7)).unwrap();
        let (peer, _) = l.accept().unwrap();
        let key = ConnKey {
            local: s.local_addr().unwrap(),
            remote: s.peer_addr().unwrap(),
        };
        cut.store(true, Ordering::Relaxed);
        s.write_all(&vec![7u8; n]).unwrap();
        // The stack's writer thread sends it after write_all returns.
        written(&a);
        let data_packet = {
            let log = a_sent.lock().unwrap();
            log.iter().rev().find(|p| p.len() > 1000).unwrap().clone()
        };
        Self {
            a,
            b,
            a_sent,
            key,
            data_packet,
            _ends: (l, s, peer),
        }
    }

    /// The send MSS of A's connection.
    fn mss(&self) -> u32 {
        let key = self.key;
        self.a
            .net()
            .with_stack(|st, _| st.conn(key).unwrap().send_mss())
    }
}

#[test]
fn a_path_mtu_report_that_quotes_data_in_flight_lowers_the_mss_and_a_forged_one_does_not() {
    let f = InFlight::new(10_000);
    let (a, a_sent) = (&f.a, &f.a_sent);
    let before = f.mss();
    assert_eq!(before, 1460 - 12);

    // A report whose quoted sequence number is not in flight (a blind
    // attacker's guess) is ignored.
    let mut forged = f.data_packet.clone();
    let seq = u32::from_be_bytes(forged[24..28].try_into().unwrap());
    forged[24..28].copy_from_slice(&seq.wrapping_add(1 << 30).to_be_bytes());
    a.handle_ip(&frag_needed(&forged, 1280));
    assert_eq!(f.mss(), before);
    assert_eq!(a.counters().icmp_ignored, 1);

    // The genuine one lowers it: 1280 less 20 (IP), 20 (TCP), 12
    // (timestamps).
    let deadline = Instant::now() + Duration::from_secs(20);
    let sent_before = a_sent.lock().unwrap().len();
    a.handle_ip(&frag_needed(&f.data_packet, 1280));
    assert_eq!(f.mss(), 1280 - 20 - 20 - 12);
    assert_eq!(a.counters().icmp_accepted, 1);
    // What was in flight goes again at once, in packets that fit the
    // path.
    written(a);
    while a_sent.lock().unwrap().len() == sent_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = a_sent.lock().unwrap();
    assert!(log.len() > sent_before, "a retransmission");
    assert!(log[sent_before..].iter().all(|p| p.len() <= 1280));
}

/// A report that comes in on another stack of the same interface (one
/// queue's of a multi-queue device) reaches the connection it quotes
/// through `IpStack::share_path_mtu`; without it, that stack ignores it.
#[test]
fn a_path_mtu_report_on_another_shard_reaches_its_connection() {
    let f = InFlight::new(10_000);
    // A second stack at A's address that owns no connection.
    let other = IpStack::new(StackConfig::default(), &[A], |_| Ok(())).unwrap();
    let before = f.mss();
    other.handle_ip(&frag_needed(&f.data_packet, 1280));
    assert_eq!(other.counters().icmp_ignored, 1);
    assert_eq!(f.mss(), before);
    other.share_path_mtu(vec![f.b.net().downgrade(), f.a.net().downgrade()]);
    other.handle_ip(&frag_needed(&f.data_packet, 1280));
    assert_eq!(other.counters().icmp_accepted, 1);
    assert_eq!(f.mss(), 1280 - 20 - 20 - 12);
}

/// Every ICMP error that quotes a segment in flight reaches its
/// connection through the stack's entry point, not only path-MTU
/// reports: a "host unreachable" is kept as the connection's soft error
/// (RFC 1122 §4.2.3.9) and the connection goes on.
#[test]
fn a_host_unreachable_is_kept_as_the_connections_soft_error() {
    let f = InFlight::new(3000);
    let ty = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Host);
    f.a.handle_ip(&icmp_error(ty, &f.data_packet));
    assert_eq!(f.a.counters().icmp_accepted, 1);
    let key = f.key;
    let (state, error) = f.a.net().with_stack(|st, _| {
        let c = st.conn(key).unwrap();
        (c.state(), c.icmp_error())
    });
    assert_eq!(state, vtcp::State::Established);
    assert_eq!(error, vtcp::icmp::IcmpError::from_icmpv4(3, 1, 0));
}

/// UDP to any address goes to the handler (a DNS-like echo here), whose
/// answer through the sender leaves as a UDP/IP packet from the address
/// the request went to; without a handler UDP is dropped as before, and
/// a datagram with a bad checksum never reaches the handler.
#[test]
fn udp_to_any_address_reaches_the_handler_and_its_answer_goes_back() {
    let sent: Log = Arc::default();
    let stack = {
        let sent = Arc::clone(&sent);
        IpStack::new(StackConfig::default(), &[B], move |p| {
            sent.lock().unwrap().push(p.to_vec());
            Ok(())
        })
        .unwrap()
    };
    let client: SocketAddr = "198.18.0.1:40053".parse().unwrap();
    let resolver: SocketAddr = "198.19.9.9:53".parse().unwrap();
    let query = |payload: &[u8]| {
        let mut p = Vec::new();
        assert!(vtcp_tun::udp::build(client, resolver, payload, &mut p));
        p
    };
    // No handler: dropped as a packet for an address not ours.
    stack.handle_ip(&query(b"early"));
    assert_eq!(stack.counters().dropped_not_ours, 1);

    type Seen = Vec<(SocketAddr, SocketAddr, Vec<u8>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let handler = {
        let (seen, sender) = (Arc::clone(&seen), stack.udp_sender());
        Arc::new(move |d: vtcp_tun::udp::Datagram<'_>| {
            seen.lock()
                .unwrap()
                .push((d.src, d.dst, d.payload.to_vec()));
            let mut answer = d.payload.to_vec();
            answer.reverse();
            sender.send(d.dst, d.src, &answer).unwrap();
        })
    };
    assert!(stack.set_udp_handler(handler.clone()));
    assert!(!stack.set_udp_handler(handler), "set once");
    stack.handle_ip(&query(b"who is vtcp?"));
    let mut bad = query(b"corrupt");
    *bad.last_mut().unwrap() ^= 1;
    stack.handle_ip(&bad);

    assert_eq!(
        *seen.lock().unwrap(),
        [(client, resolver, b"who is vtcp?".to_vec())]
    );
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    match vtcp_tun::udp::parse(&sent[0], false) {
        vtcp_tun::udp::Parsed::Datagram(d) => {
            assert_eq!(
                (d.src, d.dst, d.payload),
                (resolver, client, &b"?pctv si ohw"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    let c = stack.counters();
    assert_eq!(
        (
            c.udp_in,
            c.udp_out,
            c.packets_out,
            c.dropped_malformed,
            c.dropped_not_ours
        ),
        (1, 1, 1, 1, 1)
    );
}
