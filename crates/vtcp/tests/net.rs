//! The blocking sockets, tested as `std::net`'s own tests test its
//! sockets: echo, half-close, timeouts, refused and reset connections, and
//! the errors and their kinds. Two `NetStack`s are wired back to back
//! through their writers, synchronously, so these tests also show that
//! such a pair neither deadlocks nor recurses without bound.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use vtcp::{ConnConfig, NetStack, StackConfig, StackError, State, TcpListener, TcpStream};

#[allow(dead_code, reason = "each test binary uses part of what is shared")]
mod support;
use support::within_a_minute;

const A: [u8; 4] = [198, 18, 0, 1];
const B: [u8; 4] = [198, 18, 0, 2];

/// Two stacks, `a` and `b`, each one's writer feeding the other. While
/// `cut` is set, segments vanish on the way.
struct Pair {
    a: NetStack,
    b: NetStack,
    cut: Arc<AtomicBool>,
}

fn config(tweak: fn(&mut ConnConfig)) -> StackConfig {
    {
        let mut config = StackConfig::default();
        // Short TIME-WAIT so that tests can see the stack empty.
        config.conn = {
            let mut c = {
                let mut config = ConnConfig::default();
                config.time_wait = Duration::from_millis(100);
                config
            };
            tweak(&mut c);
            c
        };
        config
    }
}

fn pair_with(tweak: fn(&mut ConnConfig)) -> Pair {
    let cut = Arc::new(AtomicBool::new(false));
    let blocked = cut.clone();
    let (a, b) = NetStack::back_to_back(
        (config(tweak), A.into()),
        (config(tweak), B.into()),
        move |_, _, _| !blocked.load(Ordering::Relaxed),
    )
    .unwrap();
    Pair { a, b, cut }
}

fn pair() -> Pair {
    pair_with(|_| {})
}

/// No SYN sent twice: a writer thread stalled past the 1 s initial RTO
/// (a loaded CI machine) made a second SYN, and a second answer, that a
/// test counting segments does not expect.
fn one_syn(c: &mut ConnConfig) {
    c.initial_rto = vtcp::rto::MAX_RTO;
}

fn at_b(port: u16) -> SocketAddr {
    SocketAddr::new(B.into(), port)
}

/// A connection from `a` to `b`'s `port`: (the client's end, the server's).
fn connected(p: &Pair, port: u16) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(&p.b, at_b(port)).unwrap();
    let client = TcpStream::connect(&p.a, at_b(port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Waits until `cond` holds, for at most twenty seconds: it returns as
/// soon as it holds, and a loaded 2-core CI machine may stall a thread
/// (the driver, the writer) for seconds.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    cond()
}

#[test]
fn echo_of_two_mebibytes_then_both_stacks_empty() {
    within_a_minute(|| {
        let p = pair();
        let listener = TcpListener::bind(&p.b, at_b(7)).unwrap();
        assert_eq!(listener.local_addr().unwrap(), at_b(7));
        let server = thread::spawn(move || {
            let (mut s, peer) = listener.accept().unwrap();
            assert_eq!(peer.ip(), IpAddr::from(A));
            assert_eq!(s.peer_addr().unwrap(), peer);
            let mut buf = [0u8; 8192];
            loop {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).unwrap();
            }
        });
        let data = pattern(2 << 20);
        let client = TcpStream::connect(&p.a, at_b(7)).unwrap();
        assert_eq!(client.state(), State::Established);
        assert_eq!(client.local_addr().unwrap().ip(), IpAddr::from(A));
        let writer = {
            let mut w = client.try_clone().unwrap();
            let data = data.clone();
            thread::spawn(move || {
                w.write_all(&data).unwrap();
                w.shutdown(Shutdown::Write).unwrap();
            })
        };
        let mut echoed = Vec::new();
        (&client).read_to_end(&mut echoed).unwrap();
        writer.join().unwrap();
        server.join().unwrap();
        assert!(
            echoed == data,
            "{} of {} octets echoed intact",
            echoed.len(),
            data.len()
        );
        let stats = client.stats().unwrap();
        assert_eq!(
            stats.bytes_acked,
            data.len() as u64,
            "every octet acknowledged"
        );
        assert_eq!(stats.bytes_received, data.len() as u64);
        drop(client);
        // Every connection goes away once closed (after a short
        // TIME-WAIT): nothing is left behind.
        assert!(eventually(
            || p.a.connections() == 0 && p.b.connections() == 0
        ));
        assert_eq!(p.a.counters().connections_closed, 1);
        assert_eq!(p.b.counters().connections_closed, 1);
    });
}

#[test]
fn half_close_lets_the_peer_answer_after_our_fin() {
    within_a_minute(|| {
        let p = pair();
        let listener = TcpListener::bind(&p.b, at_b(8)).unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = String::new();
            s.read_to_string(&mut request).unwrap();
            // Our side is still open after the peer's FIN.
            assert_eq!(s.state(), State::CloseWait);
            write!(s, "{} octets", request.len()).unwrap();
        });
        let mut c = TcpStream::connect(&p.a, at_b(8)).unwrap();
        c.write_all(b"question").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        assert!(
            c.write(b"more")
                .is_err_and(|e| e.kind() == ErrorKind::BrokenPipe)
        );
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "8 octets");
        server.join().unwrap();
    });
}

#[test]
fn read_timeout_gives_would_block_after_the_timeout() {
    within_a_minute(|| {
        let p = pair();
        let (mut c, _s) = connected(&p, 9);
        assert!(c.read_timeout().unwrap().is_none());
        c.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let start = Instant::now();
        let e = c.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert_eq!(
            e.get_ref().and_then(|e| e.downcast_ref::<StackError>()),
            Some(&StackError::DeadlineExceeded)
        );
        assert!(start.elapsed() >= Duration::from_millis(100));
        // As std::net: a zero timeout is refused.
        let zero = c.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn write_timeout_when_the_peer_does_not_read() {
    within_a_minute(|| {
        let p = pair_with(|c| {
            c.send_buffer = 16 * 1024;
            c.recv_buffer = 16 * 1024;
        });
        let (mut c, _unread) = connected(&p, 10);
        c.set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let chunk = [0x5a; 4096];
        let mut written = 0;
        let err = loop {
            match c.write(&chunk) {
                Ok(n) => written += n,
                Err(e) => break e,
            }
            assert!(written < 1 << 20, "writes never blocked");
        };
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        // The peer's receive buffer and our send buffer are full: no more.
        assert!(
            (16 * 1024..=2 * 16 * 1024 + 4096).contains(&written),
            "{written}"
        );
    });
}

#[test]
fn connect_timeout_when_nothing_answers() {
    within_a_minute(|| {
        let p = pair();
        p.cut.store(true, Ordering::Relaxed);
        let start = Instant::now();
        let e = TcpStream::connect_timeout(&p.a, at_b(11), Duration::from_millis(300)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(300));
        let zero = TcpStream::connect_timeout(&p.a, at_b(11), Duration::ZERO).unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn connection_refused_without_a_listener() {
    within_a_minute(|| {
        let p = pair_with(one_syn);
        let e = TcpStream::connect(&p.a, at_b(12)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        assert_eq!(p.b.counters().rsts_out, 1);
        assert!(eventually(|| p.a.connections() == 0));
    });
}

#[test]
fn reset_by_peer_fails_reads_and_writes() {
    within_a_minute(|| {
        let p = pair();
        let (mut c, s) = connected(&p, 13);
        s.abort();
        let e = c.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(
            c.write(b"x").unwrap_err().kind(),
            ErrorKind::ConnectionReset
        );
        assert_eq!(
            c.shutdown(Shutdown::Write).unwrap_err().kind(),
            ErrorKind::NotConnected
        );
    });
}

#[test]
fn closing_with_unread_data_resets() {
    within_a_minute(|| {
        let p = pair();
        let (mut c, s) = connected(&p, 14);
        c.write_all(b"never read").unwrap();
        assert!(eventually(|| s.stats().unwrap().bytes_received == 10));
        // RFC 9293 §3.10.4 (and Linux): close with unread data sends RST.
        drop(s);
        let e = c.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn a_blocked_reader_wakes_when_another_handle_aborts() {
    within_a_minute(|| {
        let p = pair();
        let (c, _s) = connected(&p, 15);
        let reader = {
            let mut r = c.try_clone().unwrap();
            thread::spawn(move || r.read(&mut [0u8; 8]))
        };
        thread::sleep(Duration::from_millis(50));
        c.abort();
        let e = reader.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
    });
}

#[test]
fn binding_errors_are_those_of_std_net() {
    let p = pair();
    let l = TcpListener::bind(&p.b, at_b(16)).unwrap();
    let e = TcpListener::bind(&p.b, at_b(16)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    // Not one of b's addresses.
    let e = TcpListener::bind(&p.b, SocketAddr::new(A.into(), 16)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrNotAvailable);
    // The message names the address, not a port shortage.
    assert_eq!(
        e.to_string(),
        format!(
            "{} is not an address of this stack",
            std::net::IpAddr::from(A)
        )
    );
    // No IPv6 address to connect from.
    let e = TcpStream::connect(&p.a, "[fd00::2]:80".parse().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrNotAvailable);
    assert_eq!(
        e.to_string(),
        "no local IPv6 address to connect to [fd00::2]:80 from"
    );
    // Port 0 picks a free port, as std does.
    let any = TcpListener::bind(&p.b, SocketAddr::new(B.into(), 0)).unwrap();
    let port = any.local_addr().unwrap().port();
    assert!(port >= 49152, "{port}");
    drop(l);
    // Dropping a listener frees its port.
    TcpListener::bind(&p.b, at_b(16)).unwrap();
}

#[test]
fn begin_connect_then_wait_established() {
    within_a_minute(|| {
        let p = pair();
        let listener = TcpListener::bind(&p.b, SocketAddr::new([0u8; 4].into(), 17)).unwrap();
        p.cut.store(true, Ordering::Relaxed);
        let mut c = TcpStream::begin_connect(&p.a, at_b(17)).unwrap();
        assert_eq!(c.state(), State::SynSent);
        // Written before the handshake: sent once it completes.
        c.write_all(b"early").unwrap();
        assert_eq!(
            c.wait_established(Some(Duration::from_millis(50)))
                .unwrap_err()
                .kind(),
            ErrorKind::TimedOut
        );
        p.cut.store(false, Ordering::Relaxed);
        // The SYN's retransmission (initial RTO 1 s) gets through now.
        c.wait_established(None).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"early");
    });
}

#[test]
fn many_threads_many_connections_back_to_back() {
    within_a_minute(|| {
        // A TIME-WAIT long enough that a late duplicate from the server
        // (below) finds the client's connection still there: with 100 ms
        // a writer thread stalled that long delivered it to a closed port,
        // and the client's RST failed the count below.
        let p = pair_with(|c| c.time_wait = Duration::from_secs(2));
        let listener = Arc::new(TcpListener::bind(&p.b, at_b(18)).unwrap());
        const CLIENTS: usize = 8;
        const EACH: usize = 10;
        let servers: Vec<_> = (0..2)
            .map(|_| {
                let l = listener.clone();
                thread::spawn(move || {
                    for _ in 0..CLIENTS * EACH / 2 {
                        let (mut s, _) = l.accept().unwrap();
                        thread::spawn(move || {
                            let mut req = Vec::new();
                            s.read_to_end(&mut req).unwrap();
                            req.reverse();
                            s.write_all(&req).unwrap();
                        });
                    }
                })
            })
            .collect();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let a = p.a.clone();
                thread::spawn(move || {
                    for i in 0..EACH {
                        let mut c = TcpStream::connect(&a, at_b(18)).unwrap();
                        let req = pattern(1000 + 4000 * t + i);
                        c.write_all(&req).unwrap();
                        c.shutdown(Shutdown::Write).unwrap();
                        let mut resp = Vec::new();
                        c.read_to_end(&mut resp).unwrap();
                        let mut want = req.clone();
                        want.reverse();
                        assert!(resp == want, "client {t} request {i}");
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        for s in servers {
            s.join().unwrap();
        }
        assert!(eventually(
            || p.a.connections() == 0 && p.b.connections() == 0
        ));
        let (ca, cb) = (p.a.counters(), p.b.counters());
        assert_eq!(ca.connections_opened, (CLIENTS * EACH) as u64);
        assert_eq!(cb.connections_opened, (CLIENTS * EACH) as u64);
        // No connection was reset while in use (every read above got its
        // whole answer). RSTs can still answer late duplicates: on a
        // loaded machine a thread descheduled for more than the tail loss
        // probe's 10 ms makes the server probe while its last ACK is on
        // the way; the probe reaches the client in TIME-WAIT after the
        // server has closed, the client ACKs it, and the closed server
        // answers that ACK with a RST, as any TCP would. Only the server
        // resets, and only those ACKs.
        assert_eq!(cb.rsts_in, 0);
        assert_eq!(ca.rsts_out, 0);
    });
}

#[test]
fn data_queued_before_the_last_handle_drops_is_still_delivered() {
    within_a_minute(|| {
        let Pair { a, b, cut: _ } = pair();
        let listener = TcpListener::bind(&b, at_b(19)).unwrap();
        let data = pattern(3 << 20);
        let sent = data.clone();
        // The client writes, then drops its stream and its stack at once,
        // most of the data still in the send buffer: as after a kernel
        // socket's close, it is delivered, then FIN.
        thread::spawn(move || {
            let mut c = TcpStream::connect(&a, at_b(19)).unwrap();
            c.write_all(&sent).unwrap();
        });
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert!(got == data, "{} of {} octets", got.len(), data.len());
    });
}

/// A segment wakes the threads waiting on its own connection, not every
/// thread blocked on the stack: with 32 readers blocked on 32 connections,
/// 200 round trips on one of them wake about one thread each, where a
/// condition variable shared by all woke all 32 every time (6,400).
#[test]
fn a_segment_wakes_only_the_threads_of_its_connection() {
    let p = pair();
    let listener = TcpListener::bind(&p.b, at_b(7)).unwrap();
    let mut idle = Vec::new();
    let mut sleepers = Vec::new();
    for _ in 0..32 {
        let c = TcpStream::connect(&p.a, at_b(7)).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        // Each waits for data that comes only at the end.
        sleepers.push(thread::spawn(move || {
            let mut buf = [0u8; 1];
            s.read(&mut buf).unwrap()
        }));
        idle.push(c);
    }
    let mut c = TcpStream::connect(&p.a, at_b(7)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    let echo = thread::spawn(move || {
        let mut buf = [0u8; 64];
        loop {
            match s.read(&mut buf).unwrap() {
                0 => return,
                n => s.write_all(&buf[..n]).unwrap(),
            }
        }
    });
    // Let the sleepers block.
    thread::sleep(Duration::from_millis(100));
    let before = p.b.wakeups();
    let mut buf = [0u8; 64];
    for _ in 0..200 {
        c.write_all(&[7; 64]).unwrap();
        c.read_exact(&mut buf).unwrap();
    }
    let woken = p.b.wakeups() - before;
    assert!(woken <= 3 * 200, "{woken} wakeups for 200 round trips");
    c.shutdown(Shutdown::Write).unwrap();
    echo.join().unwrap();
    for mut i in idle {
        i.write_all(b"x").unwrap();
    }
    for t in sleepers {
        assert_eq!(t.join().unwrap(), 1);
    }
}

/// A tap on a `NetStack` sees its segments with the stack's own clock
/// and addresses: the SYN out, the SYN-ACK in, the data out; removed, it
/// is handed back. `start_time` is when that clock read zero: the wall
/// clock read as the stack was made, the same at every call.
#[test]
fn a_net_stack_s_tap_sees_its_segments() {
    use vtcp::Direction::{In, Out};
    use vtcp::wire::{Flags, SegmentView};
    type Seen = Vec<(Duration, vtcp::Direction, IpAddr, IpAddr, Flags, Vec<u8>)>;
    within_a_minute(|| {
        // The wall clock read just before and just after the stack was
        // made bounds its start. `start_time` used to be `SystemTime::now()
        // - elapsed` at each call: later than a `now` read before it when
        // the wall clock was stepped forward in between (a CI VM's may
        // be), and different at every call.
        let before = std::time::SystemTime::now();
        let p = pair_with(one_syn);
        let after = std::time::SystemTime::now();
        let start = p.a.start_time();
        assert!(
            before <= start && start <= after,
            "{start:?} not in {before:?}..={after:?}"
        );
        let seen: Arc<std::sync::Mutex<Seen>> = Arc::default();
        let log = Arc::clone(&seen);
        let tap = move |now, dir, src, dst, seg: &[u8]| {
            let view = SegmentView::new_checked(seg).unwrap();
            let entry = (now, dir, src, dst, view.flags(), view.payload().to_vec());
            log.lock().unwrap().push(entry);
        };
        assert!(p.a.set_tap(Some(Box::new(tap))).is_none());
        let (mut client, mut server) = connected(&p, 7);
        client.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).unwrap();
        assert!(p.a.set_tap(None).is_some());

        let seen = seen.lock().unwrap();
        let (a, b) = (IpAddr::from(A), IpAddr::from(B));
        assert_eq!((seen[0].1, seen[0].4), (Out, Flags::SYN));
        assert_eq!((seen[1].1, seen[1].4), (In, Flags::SYN | Flags::ACK));
        assert!(
            seen.iter()
                .any(|s| s.1 == Out && s.5 == b"ping" && s.4.contains(Flags::ACK)),
            "no data segment out"
        );
        for (i, (now, dir, src, dst, _, _)) in seen.iter().enumerate() {
            let want = if *dir == Out { (a, b) } else { (b, a) };
            assert_eq!((*src, *dst), want);
            assert!(i == 0 || *now >= seen[i - 1].0, "time went back");
        }
        // The stack's clock, not the wall clock: seconds at most.
        assert!(seen.last().unwrap().0 < Duration::from_secs(60));
        // The stack's clock has moved on; its start has not.
        assert_eq!(p.a.start_time(), start);
    });
}

/// `set_nodelay` as `std::net`'s: off by default, set and read back, on a
/// connection that then still carries data.
#[test]
fn nodelay_is_set_and_read_back() {
    within_a_minute(|| {
        let p = pair();
        let (mut client, mut server) = connected(&p, 7);
        assert!(!client.nodelay().unwrap());
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.write_all(b"ab").unwrap();
        let mut buf = [0u8; 2];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ab");
        client.set_nodelay(false).unwrap();
        assert!(!client.nodelay().unwrap());
    });
}

/// `set_ttl` as `std::net`'s: 64 until set, read back, and handed with
/// every later segment of the connection to the writer
/// (`SegmentWriter::write_segment_with`), which puts it in the IP header.
#[test]
fn set_ttl_reaches_the_writer_with_every_later_segment() {
    use std::sync::{Mutex, OnceLock};
    use vtcp::{IpFields, SegmentWriter, WeakNetStack};
    /// Notes each segment's hop limit and hands it to the other stack.
    struct Recorder {
        hops: Arc<Mutex<Vec<Option<u8>>>>,
        peer: Arc<OnceLock<WeakNetStack>>,
    }
    impl SegmentWriter for Recorder {
        fn write_segment(&self, src: IpAddr, dst: IpAddr, segment: &[u8]) {
            self.write_segment_with(src, dst, IpFields::default(), segment);
        }
        fn write_segment_with(&self, src: IpAddr, dst: IpAddr, ip: IpFields, segment: &[u8]) {
            self.hops.lock().unwrap().push(ip.hop_limit);
            if let Some(peer) = self.peer.get() {
                peer.handle_packet(src, dst, segment);
            }
        }
    }
    within_a_minute(|| {
        let hops = Arc::new(Mutex::new(Vec::new()));
        let to_b = Arc::new(OnceLock::new());
        let to_a: Arc<OnceLock<WeakNetStack>> = Arc::default();
        let recorder = Recorder {
            hops: Arc::clone(&hops),
            peer: Arc::clone(&to_b),
        };
        let a = NetStack::new(config(|_| {}), [IpAddr::from(A)], recorder).unwrap();
        let back = Arc::clone(&to_a);
        let b = NetStack::new(
            config(|_| {}),
            [IpAddr::from(B)],
            move |s, d, seg: &[u8]| {
                if let Some(peer) = back.get() {
                    peer.handle_packet(s, d, seg);
                }
            },
        )
        .unwrap();
        let _ = to_b.set(b.downgrade());
        let _ = to_a.set(a.downgrade());
        let listener = TcpListener::bind(&b, at_b(7)).unwrap();
        let client = TcpStream::connect(&a, at_b(7)).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert_eq!(client.ttl().unwrap(), 64);
        assert!(hops.lock().unwrap().iter().all(Option::is_none));
        client.set_ttl(4).unwrap();
        assert_eq!(client.ttl().unwrap(), 4);
        assert!(client.set_ttl(256).is_err());
        hops.lock().unwrap().clear();
        (&client).write_all(b"hop").unwrap();
        let mut buf = [0u8; 3];
        server.read_exact(&mut buf).unwrap();
        let seen = hops.lock().unwrap().clone();
        assert!(
            !seen.is_empty() && seen.iter().all(|h| *h == Some(4)),
            "{seen:?}"
        );
    });
}

/// Stacks that make super-segments (`StackConfig::max_segment`) on a
/// writer that cannot take them: the writer's default cuts each into
/// checksummed segments of the MSS, and 4 MiB each way arrive intact, with
/// no bad checksum and no segment larger than the MSS on the "wire".
#[test]
fn super_segments_are_cut_for_a_writer_without_tso() {
    within_a_minute(|| {
        let largest = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&largest);
        let tso = || {
            let mut c = config(|_| {});
            c.max_segment = 65_535;
            c
        };
        let (a, b) =
            NetStack::back_to_back((tso(), A.into()), (tso(), B.into()), move |_, _, s| {
                seen.fetch_max(s.len(), Ordering::Relaxed);
                true
            })
            .unwrap();
        // What the stack hands its writer, before the cut.
        let handed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tapped = Arc::clone(&handed);
        a.set_tap(Some(Box::new(move |_, dir, _, _, s: &[u8]| {
            if dir == vtcp::Direction::Out {
                tapped.fetch_max(s.len(), Ordering::Relaxed);
            }
        })));
        let listener = TcpListener::bind(&b, at_b(9)).unwrap();
        let data = pattern(4 << 20);
        let client = TcpStream::connect(&a, at_b(9)).unwrap();
        let (server, _) = listener.accept().unwrap();
        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let sends: Vec<_> = [(c2, data.clone()), (s2, data.clone())]
            .into_iter()
            .map(|(mut w, d)| {
                thread::spawn(move || {
                    w.write_all(&d).unwrap();
                    w.shutdown(Shutdown::Write).unwrap();
                })
            })
            .collect();
        for mut r in [&client, &server] {
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert!(got == data, "{} of {} octets intact", got.len(), data.len());
        }
        for s in sends {
            s.join().unwrap();
        }
        assert_eq!(a.counters().bad_checksums + b.counters().bad_checksums, 0);
        let mss = 1448;
        let largest = largest.load(Ordering::Relaxed);
        assert!(
            largest <= 60 + mss,
            "a {largest}-octet segment for an MSS of {mss}"
        );
        let handed = handed.load(Ordering::Relaxed);
        assert!(
            handed > 4 * mss,
            "super-segments of {handed} octets were made"
        );
        assert!(
            a.counters().segments_out > data.len() as u64 / mss as u64,
            "each cut segment counted"
        );
    });
}

/// `< icmp …` as a router on the path sends it: an error of `error`
/// quoting the segment of `stream` at ISS + `seq`.
fn icmp_to(net: &NetStack, stream: &TcpStream, error: vtcp::icmp::IcmpError, seq: u32) {
    let key = vtcp::ConnKey {
        local: stream.local_addr().unwrap(),
        remote: stream.peer_addr().unwrap(),
    };
    net.with_stack(|stack, now| {
        let iss = stack.conn(key).unwrap().iss();
        let mut quoted = [0u8; 8];
        quoted[..2].copy_from_slice(&key.local.port().to_be_bytes());
        quoted[2..4].copy_from_slice(&key.remote.port().to_be_bytes());
        quoted[4..].copy_from_slice(&(iss + seq).0.to_be_bytes());
        let report = vtcp::icmp::IcmpReport {
            error,
            src: key.local.ip(),
            dst: key.remote.ip(),
            quoted: &quoted,
        };
        assert!(stack.handle_icmp(now, &report).accepted());
    });
}

/// A port unreachable about our SYN fails a blocking connect at once
/// with `ConnectionRefused` (RFC 5461 §4.1), not after its timeout.
#[test]
fn an_icmp_hard_error_fails_a_connect_at_once() {
    within_a_minute(|| {
        let p = pair();
        p.cut.store(true, Ordering::Relaxed);
        let c = TcpStream::begin_connect(&p.a, at_b(18)).unwrap();
        let port_unreachable = vtcp::icmp::IcmpError::from_icmpv4(3, 3, 0).unwrap();
        icmp_to(&p.a, &c, port_unreachable, 0);
        let start = Instant::now();
        let e = c.wait_established(None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        // Not its timeout: unanswered SYNs go on for minutes.
        assert!(start.elapsed() < Duration::from_secs(5));
    });
}

/// A host unreachable about data in flight leaves the connection up; when
/// its retransmissions run out, reads and writes fail with
/// `HostUnreachable`, not `TimedOut` (RFC 1122 §4.2.3.9).
#[test]
fn a_soft_icmp_error_is_what_a_timed_out_stream_reports() {
    within_a_minute(|| {
        // An RTO of 1 s, not 200 ms: the connection must still be up when
        // the error comes, and a stalled test thread gave it 600 ms.
        let p = pair_with(|c| {
            c.max_retries = 1;
            c.min_rto = Duration::from_secs(1);
        });
        let (mut c, _s) = connected(&p, 19);
        p.cut.store(true, Ordering::Relaxed);
        c.write_all(b"lost").unwrap();
        let host_unreachable = vtcp::icmp::IcmpError::from_icmpv4(3, 1, 0).unwrap();
        icmp_to(&p.a, &c, host_unreachable, 1);
        assert_eq!(c.state(), State::Established);
        let mut buf = [0u8; 4];
        let e = c.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::HostUnreachable);
        assert_eq!(
            c.write(b"more").unwrap_err().kind(),
            ErrorKind::HostUnreachable
        );
    });
}

#[test]
fn peek_waits_for_data_and_leaves_it_to_be_read() {
    within_a_minute(|| {
        let p = pair();
        let (c, mut s) = connected(&p, 40);
        let peeker = {
            let s = s.try_clone().unwrap();
            thread::spawn(move || {
                let mut buf = [0u8; 3];
                s.peek(&mut buf).map(|n| buf[..n].to_vec())
            })
        };
        thread::sleep(Duration::from_millis(50));
        (&c).write_all(b"peeked").unwrap();
        assert_eq!(peeker.join().unwrap().unwrap(), b"pee");
        let mut all = [0u8; 6];
        s.read_exact(&mut all).unwrap();
        assert_eq!(&all, b"peeked");
    });
}

#[test]
fn after_the_end_of_file_a_reset_is_the_next_reads_error_and_take_error_says_it_once() {
    within_a_minute(|| {
        let p = pair();
        let (mut c, s) = connected(&p, 41);
        s.shutdown(Shutdown::Write).unwrap();
        assert_eq!(c.read(&mut [0u8; 8]).unwrap(), 0, "the FIN");
        assert!(c.take_error().unwrap().is_none());
        s.abort();
        // POSIX (FreeBSD's soreceive): with nothing to read, the pending
        // error comes before the end of file.
        assert!(eventually(|| c.state() == State::Closed));
        let e = c.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert_eq!(
            c.take_error().unwrap().map(|e| e.kind()),
            Some(ErrorKind::ConnectionReset)
        );
        assert!(c.take_error().unwrap().is_none(), "reported once");
    });
}

/// The stack's clock never goes back, whichever threads call into it at
/// once: each call reads it under the stack's lock. Read before the lock,
/// a thread that read it and then waited for the lock handed the stack a
/// time older than the one the lock's holder had just used (the tap saw
/// time go back, and so would a capture's stamps).
#[test]
fn the_stack_s_clock_never_goes_back_across_threads() {
    use std::sync::Mutex;
    within_a_minute(|| {
        let mut cfg = StackConfig::default();
        cfg.checksums = false;
        let a = NetStack::new(cfg, [IpAddr::from(A)], |_, _, _: &[u8]| {}).unwrap();
        // The latest time the tap saw, and how often a later call came
        // with an older one.
        let last = Arc::new(Mutex::new((Duration::ZERO, 0u64)));
        let seen = Arc::clone(&last);
        a.set_tap(Some(Box::new(move |now, _, _, _, _: &[u8]| {
            let mut s = seen.lock().unwrap();
            if now < s.0 {
                s.1 += 1;
            }
            s.0 = s.0.max(now);
        })));
        // SYNs to a closed port of a's from four threads at once, each
        // tapped coming in, and its RST going out.
        let mut syn = vec![0u8; 20];
        syn[2..4].copy_from_slice(&9u16.to_be_bytes());
        (syn[12], syn[13]) = (5 << 4, 0x02);
        let threads: Vec<_> = (0..4u16)
            .map(|t| {
                let (a, mut syn) = (a.clone(), syn.clone());
                thread::spawn(move || {
                    for i in 0..10_000u16 {
                        syn[0..2].copy_from_slice(&(1024 + t * 10_000 + i).to_be_bytes());
                        a.handle_packet(B.into(), A.into(), &syn);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(a.counters().segments_in, 40_000);
        let (_, back) = *last.lock().unwrap();
        assert_eq!(
            back, 0,
            "the tap saw the stack's clock go back {back} times"
        );
    });
}
