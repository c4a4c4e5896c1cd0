//! Two stacks wired back to back in memory.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use vtcp::wire::checksum::{PseudoHeader, fill_tcp_checksum};
use vtcp::wire::{Flags, Options, Segment, SegmentView, TcpOption, Timestamp};
use vtcp::{ListenerId, Stack, StackConfig, StackError, State};
use vtcp_seq::Seq;

#[allow(dead_code, reason = "each test binary uses part of what is shared")]
mod support;
use support::*;

#[test]
fn connect_transfer_close_and_nothing_left_behind() {
    let mut net = Net::new();
    let (c, s) = open(&mut net);
    assert_eq!(s.remote, c.local);
    let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    while got.len() < data.len() {
        sent += net
            .client
            .conn_mut(c)
            .unwrap()
            .write(&data[sent..])
            .unwrap();
        net.run_for(Duration::from_millis(50));
        drain(&mut net.server, s, &mut got);
    }
    assert!(got == data);
    net.client.conn_mut(c).unwrap().close();
    net.run_for(Duration::from_millis(100));
    net.server.conn_mut(s).unwrap().close();
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.client.conn(c).unwrap().state(), State::Closed);
    assert_eq!(net.server.conn(s).unwrap().state(), State::Closed);
    net.client.release(c);
    net.server.release(s);
    net.settle();
    assert_eq!((net.client.connections(), net.server.connections()), (0, 0));
    assert_eq!(net.server.counters().bad_checksums, 0);
}

#[test]
fn a_syn_to_a_closed_port_gets_rst_ack_and_a_stray_ack_gets_rst() {
    let mut net = Net::new();
    let syn = syn_to_closed_port(&mut net);
    let rst = one_reply(&mut net.server, net.now).unwrap();
    let rst = Segment::parse(&rst).unwrap();
    // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    assert_eq!(
        (rst.flags, rst.seq, rst.ack),
        (Flags::RST | Flags::ACK, Seq(0), Seq(1001))
    );
    assert_eq!((rst.src_port, rst.dst_port), (81, 40000));
    let ack = Segment {
        flags: Flags::ACK,
        ack: Seq(777),
        ..syn.clone()
    };
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&ack));
    let bytes = one_reply(&mut net.server, net.now).unwrap();
    let rst = Segment::parse(&bytes).unwrap();
    // <SEQ=SEG.ACK><CTL=RST>.
    assert_eq!((rst.flags, rst.seq), (Flags::RST, Seq(777)));
    // A RST is never answered.
    let reset = Segment {
        flags: Flags::RST,
        ..syn.clone()
    };
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&reset));
    assert!(one_reply(&mut net.server, net.now).is_none());
    assert_eq!(net.server.counters().rsts_out, 2);
    assert_eq!(net.server.counters().rsts_in, 1);
}

#[test]
fn a_connect_to_a_closed_port_is_refused() {
    let mut net = Net::new();
    let c = net
        .client
        .connect(net.now, CLIENT.into(), server_addr(9))
        .unwrap();
    net.settle();
    let conn = net.client.conn_mut(c).unwrap();
    assert_eq!(conn.state(), State::Closed);
    assert!(
        std::iter::from_fn(|| conn.poll_event())
            .any(|e| e == vtcp::Event::Closed(vtcp::CloseReason::Refused))
    );
}

#[test]
fn bad_checksums_are_dropped_and_counted() {
    let mut net = Net::new();
    net.server.listen(server_addr(80), 8).unwrap();
    let syn = Segment {
        src_port: 40000,
        dst_port: 80,
        seq: Seq(1),
        flags: Flags::SYN,
        payload: &[][..],
        ..Default::default()
    };
    let mut bytes = from_client(&syn);
    bytes[4] ^= 1;
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &bytes);
    assert_eq!(net.server.counters().bad_checksums, 1);
    assert_eq!(net.server.connections(), 0);
    assert!(one_reply(&mut net.server, net.now).is_none());
    // The same octets as a segment the caller verified (as an IP layer
    // that coalesces segments does): taken, its checksum field unread.
    net.server
        .handle_verified_packet(net.now, CLIENT.into(), SERVER.into(), &bytes);
    assert_eq!(net.server.counters().bad_checksums, 1);
    assert_eq!(net.server.connections(), 1);
    assert!(one_reply(&mut net.server, net.now).is_some());
}

#[test]
fn backlog_overflow_falls_back_to_syn_cookies_and_everyone_connects() {
    for seed in 0..20 {
        backlog_overflow(seed);
    }
}

#[test]
fn a_flood_of_spoofed_syns_keeps_memory_bounded_while_a_real_client_connects() {
    let mut net = Net::new();
    let listener = net.server.listen(server_addr(80), 64).unwrap();
    let options = Options::build(&[TcpOption::Mss(1460)]).unwrap();
    for i in 0..100_000u32 {
        let src: IpAddr = [198, 18, (i >> 8) as u8 | 0x80, i as u8].into();
        let syn = Segment {
            src_port: (i % 60000) as u16 + 1024,
            dst_port: 80,
            seq: Seq(i.wrapping_mul(2_654_435_761)),
            flags: Flags::SYN,
            options,
            payload: &[][..],
            ..Default::default()
        };
        let mut bytes = syn.to_bytes();
        fill_tcp_checksum(&PseudoHeader::new(src, SERVER.into()).unwrap(), &mut bytes);
        net.server
            .handle_packet(net.now, src, SERVER.into(), &bytes);
        // The spoofed sources never answer: drop what the server sends.
        while one_reply(&mut net.server, net.now).is_some() {}
    }
    assert!(
        net.server.connections() <= 64,
        "{} connections held",
        net.server.connections()
    );
    assert!(net.server.counters().cookies_sent >= 99_000);
    let c = net.connect();
    assert_eq!(net.client.conn(c).unwrap().state(), State::Established);
    let mut found = false;
    while let Some(k) = net.server.accept(listener) {
        found |= k.remote == c.local;
    }
    assert!(found);
}

/// A connection to port 80 that the server closes first, then the
/// client: the server ends in TIME-WAIT. The client's and server's keys.
fn close_server_first(net: &mut Net) -> (vtcp::ConnKey, vtcp::ConnKey) {
    let (_, c, s) = close_server_first_listening(net);
    (c, s)
}

/// The same, with the listener on port 80.
fn close_server_first_listening(net: &mut Net) -> (ListenerId, vtcp::ConnKey, vtcp::ConnKey) {
    let listener = net.server.listen(server_addr(80), 8).unwrap();
    let c = net.connect();
    let s = net.server.accept(listener).unwrap();
    net.server.conn_mut(s).unwrap().close();
    net.settle();
    net.client.conn_mut(c).unwrap().close();
    net.settle();
    (listener, c, s)
}

/// A server in TIME-WAIT (it closed first) and the client's key; the
/// server's RCV.NXT, SND.NXT and TS.Recent (what it echoes).
fn server_in_time_wait(net: &mut Net) -> (vtcp::ConnKey, Seq, Seq, u32) {
    let (_, c, rcv_nxt, snd_nxt, ts_recent) = server_in_time_wait_listening(net);
    (c, rcv_nxt, snd_nxt, ts_recent)
}

/// The same, with the listener on port 80.
fn server_in_time_wait_listening(net: &mut Net) -> (ListenerId, vtcp::ConnKey, Seq, Seq, u32) {
    let (listener, c, s) = close_server_first_listening(net);
    let conn = net.server.conn(s).unwrap();
    assert_eq!(conn.state(), State::TimeWait);
    let (rcv_nxt, snd_nxt) = (conn.rcv_nxt(), conn.snd_nxt());
    // An out-of-window segment draws an ACK that echoes TS.Recent.
    let probe = Segment {
        src_port: c.local.port(),
        dst_port: 80,
        seq: rcv_nxt + 1_000_000,
        ack: snd_nxt,
        flags: Flags::ACK,
        payload: &[][..],
        ..Default::default()
    };
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&probe));
    let ack = one_reply(&mut net.server, net.now).unwrap();
    let ts_recent = Segment::parse(&ack)
        .unwrap()
        .options
        .values()
        .timestamp
        .unwrap()
        .tsecr;
    (listener, c, rcv_nxt, snd_nxt, ts_recent)
}

/// A SYN for the client's 4-tuple, with `tsval` if any.
fn syn_again(c: vtcp::ConnKey, seq: Seq, tsval: Option<u32>) -> Vec<u8> {
    let mut opts = vec![TcpOption::Mss(1460)];
    if let Some(v) = tsval {
        opts.push(TcpOption::Timestamp(Timestamp { tsval: v, tsecr: 0 }));
    }
    from_client(&Segment {
        src_port: c.local.port(),
        dst_port: 80,
        seq,
        flags: Flags::SYN,
        options: Options::build(&opts).unwrap(),
        payload: &[][..],
        ..Default::default()
    })
}

/// RFC 9293 §3.6.1 (MAY-2) with RFC 6191: a SYN reopens a 4-tuple in
/// TIME-WAIT when it is shown to be new. The connection used timestamps,
/// so a newer TSval does it even with a lower sequence number, and a
/// higher sequence number does not with an older TSval or none; those
/// get RFC 5961's challenge ACK and TIME-WAIT goes on. The new
/// incarnation's ISN is beyond anything the old one sent (MAY-2 (1)).
#[test]
fn time_wait_is_reopened_by_a_syn_that_rfc6191_shows_new() {
    for (case, newer_ts, higher_seq, ts, reopens) in [
        ("newer TSval, lower seq", true, false, true, true),
        ("older TSval, higher seq", false, true, true, false),
        ("no TSval, higher seq", false, true, false, false),
    ] {
        let mut net = Net::new();
        let (c, rcv_nxt, snd_nxt, ts_recent) = server_in_time_wait(&mut net);
        let seq = if higher_seq {
            rcv_nxt + 100_000
        } else {
            rcv_nxt - 100_000
        };
        let tsval = ts.then(|| {
            if newer_ts {
                ts_recent + 1
            } else {
                ts_recent - 1
            }
        });
        net.server.handle_packet(
            net.now,
            CLIENT.into(),
            SERVER.into(),
            &syn_again(c, seq, tsval),
        );
        let bytes = one_reply(&mut net.server, net.now).unwrap();
        let reply = Segment::parse(&bytes).unwrap();
        let s = c.swapped();
        if reopens {
            assert_eq!(reply.flags, Flags::SYN | Flags::ACK, "{case}");
            assert_eq!(reply.ack, seq + 1, "{case}");
            assert_eq!(reply.seq, snd_nxt + 65_537, "{case}");
            assert_eq!(net.server.conn(s).unwrap().state(), State::SynReceived);
        } else {
            assert_eq!(reply.flags, Flags::ACK, "{case}");
            assert_eq!(reply.ack, rcv_nxt, "{case}");
            assert_eq!(
                net.server.conn(s).unwrap().state(),
                State::TimeWait,
                "{case}"
            );
        }
    }
}

/// A SYN that would reopen TIME-WAIT (a newer TSval), on a port that no
/// longer listens: nothing can open, so TIME-WAIT goes on and the SYN
/// gets the challenge ACK (RFC 5961 §4), as in Linux (whose time-wait
/// socket finds no listener and acknowledges); vtcp used to end TIME-WAIT
/// before its 2·MSL (RFC 9293 MUST-13, reopening being the only
/// exception) and answer with a RST (docs/conformance.md, differential
/// testing, issue 25).
#[test]
fn a_syn_reopens_time_wait_only_where_a_listener_takes_it() {
    let mut net = Net::new();
    let (listener, c, rcv_nxt, snd_nxt, ts_recent) = server_in_time_wait_listening(&mut net);
    net.server.unlisten(listener);
    let seq = rcv_nxt + 100_000;
    net.server.handle_packet(
        net.now,
        CLIENT.into(),
        SERVER.into(),
        &syn_again(c, seq, Some(ts_recent + 1)),
    );
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, not a RST.
    let bytes = one_reply(&mut net.server, net.now).unwrap();
    let reply = Segment::parse(&bytes).unwrap();
    assert_eq!(reply.flags, Flags::ACK);
    assert_eq!((reply.seq, reply.ack), (snd_nxt, rcv_nxt));
    assert_eq!(
        net.server.conn(c.swapped()).unwrap().state(),
        State::TimeWait
    );
}

/// Without timestamps on the old connection, the sequence number
/// decides (RFC 6191 §2, RFC 1122 §4.2.2.13); with `time_wait_reopen`
/// off nothing reopens.
#[test]
fn without_timestamps_a_higher_sequence_number_reopens_time_wait_unless_turned_off() {
    for reopen in [true, false] {
        let mut net = Net::new();
        net.server = Stack::new({
            let mut config = StackConfig::default();
            config.conn = {
                let mut config = vtcp::ConnConfig::default();
                config.timestamps = false;
                config.time_wait_reopen = reopen;
                config
            };
            config
        });
        let (c, s) = close_server_first(&mut net);
        let rcv_nxt = net.server.conn(s).unwrap().rcv_nxt();
        for seq in [rcv_nxt - 1, rcv_nxt + 100_000] {
            net.server.handle_packet(
                net.now,
                CLIENT.into(),
                SERVER.into(),
                &syn_again(c, seq, None),
            );
            let reply = Segment::parse(&one_reply(&mut net.server, net.now).unwrap())
                .unwrap()
                .flags;
            let new = reopen && seq != rcv_nxt - 1;
            assert_eq!(
                reply,
                if new {
                    Flags::SYN | Flags::ACK
                } else {
                    Flags::ACK
                }
            );
        }
    }
}

/// RFC 9293 §3.10.7.2 in LISTEN: a segment with neither SYN nor ACK (a
/// FIN here) is dropped unanswered; an ACK-bearing one (a SYN-ACK) gets
/// <SEQ=SEG.ACK><CTL=RST>; a SYN with FIN is dropped by default
/// (`drop_syn_fin`) and counted, and otherwise opens a connection whose
/// SYN-ACK acknowledges the SYN alone.
#[test]
fn listen_drops_a_bare_fin_resets_a_syn_ack_and_drops_a_syn_fin() {
    let mut net = Net::new();
    net.server.listen(server_addr(80), 8).unwrap();
    let seg = |flags, ack| Segment {
        src_port: 40_000,
        dst_port: 80,
        seq: Seq(1000),
        ack: Seq(ack),
        flags,
        payload: &[][..],
        ..Default::default()
    };
    let send = |net: &mut Net, s: Segment<&[u8]>| {
        net.server
            .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&s));
        one_reply(&mut net.server, net.now)
    };
    assert_eq!(send(&mut net, seg(Flags::FIN, 0)), None);
    let rst = send(&mut net, seg(Flags::SYN | Flags::ACK, 777)).unwrap();
    let rst = Segment::parse(&rst).unwrap();
    assert_eq!((rst.flags, rst.seq), (Flags::RST, Seq(777)));
    assert_eq!(send(&mut net, seg(Flags::SYN | Flags::FIN, 0)), None);
    assert_eq!(net.server.counters().syn_fin_dropped, 1);
    assert_eq!(net.server.connections(), 0);
    net.server = Stack::new({
        let mut config = StackConfig::default();
        config.conn = {
            let mut config = vtcp::ConnConfig::default();
            config.drop_syn_fin = false;
            config
        };
        config
    });
    net.server.listen(server_addr(80), 8).unwrap();
    let syn_ack = send(&mut net, seg(Flags::SYN | Flags::FIN, 0)).unwrap();
    let syn_ack = Segment::parse(&syn_ack).unwrap();
    assert_eq!(syn_ack.flags, Flags::SYN | Flags::ACK);
    assert_eq!(syn_ack.ack, Seq(1001));
}

#[test]
fn addresses_in_use_and_bad_input_are_typed_errors() {
    let mut net = Net::new();
    net.server.listen(server_addr(80), 8).unwrap();
    let err = net.server.listen(server_addr(80), 8).unwrap_err();
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::AddrInUse
    );
    let v6: IpAddr = "fd00::1".parse().unwrap();
    let err = net
        .client
        .connect(net.now, v6, server_addr(80))
        .unwrap_err();
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::InvalidInput
    );
}

/// An off-path attacker (RFC 5961 §1): it knows both addresses and both
/// ports, the worst case, and even which sequence numbers are in the
/// receive window, but it sees no segment, so it cannot know the
/// acknowledgment numbers the endpoints would accept.
struct Attacker(u64);

/// Octets either side of the acceptable ACK range the attacker's guesses
/// stay out of: more than any window of these tests (256 KiB buffers).
const ACK_MARGIN: u32 = 1 << 20;

impl Attacker {
    fn next(&mut self) -> u32 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }

    /// An ACK number the target would not accept for data (RFC 5961
    /// §5.2: acceptable is [SND.UNA − MAX.SND.WND, SND.NXT]). A blind
    /// guess lands in that range with probability MAX.SND.WND / 2^32,
    /// which no check on the receiving side can lower; the test is about
    /// every other guess.
    fn unacceptable_ack(&mut self, snd_una: Seq, snd_nxt: Seq) -> Seq {
        let lo = snd_una - ACK_MARGIN;
        let span = snd_nxt.distance_from(lo) + 2 * ACK_MARGIN;
        lo + span + self.next() % (u32::MAX - span)
    }

    /// One spoofed segment for `target` (its view of the connection
    /// `key`): a RST, a SYN, data or a bare ACK, at an in-window sequence
    /// number other than RCV.NXT itself (hitting it exactly is a correct
    /// guess, RFC 5961 §3.2).
    fn forge(&mut self, target: &Stack, key: vtcp::ConnKey) -> Vec<u8> {
        let conn = target.conn(key).unwrap();
        let window = (conn.config().recv_buffer - conn.readable()).max(2) as u32;
        let seq = conn.rcv_nxt() + 1 + self.next() % (window - 1);
        let ack = self.unacceptable_ack(conn.snd_una(), conn.snd_nxt());
        let payload = [0xee; 100];
        let (flags, payload): (Flags, &[u8]) = match self.next() % 4 {
            0 => (Flags::RST, &[]),
            1 => (Flags::SYN, &[]),
            2 => (Flags::ACK | Flags::PSH, &payload),
            _ => (Flags::ACK, &[]),
        };
        let seg = Segment {
            src_port: key.remote.port(),
            dst_port: key.local.port(),
            seq: if flags == Flags::SYN {
                Seq(self.next())
            } else {
                seq
            },
            ack: if flags.contains(Flags::ACK) {
                ack
            } else {
                Seq(0)
            },
            flags,
            window: 65_535,
            payload,
            ..Segment::default()
        };
        let mut bytes = seg.to_bytes();
        fill_tcp_checksum(
            &PseudoHeader::new(key.remote.ip(), key.local.ip()).unwrap(),
            &mut bytes,
        );
        bytes
    }
}

/// Reads everything readable from `key` into `got`.
fn drain(stack: &mut Stack, key: vtcp::ConnKey, got: &mut Vec<u8>) {
    let mut buf = [0u8; 16384];
    loop {
        let n = stack.conn_mut(key).unwrap().read(&mut buf);
        if n == 0 {
            return;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

/// Listens on the server and connects the client to it, handshake done;
/// returns the listener and the client's key.
/// A segment of a connection that does not parse (an option whose
/// length runs past the header) is the stack's to count and drop, once:
/// the connection never sees it, answers nothing and stays established.
#[test]
fn a_malformed_segment_on_a_connection_is_counted_and_dropped() {
    let mut net = Net::new();
    let (c, s) = open(&mut net);
    let ack = Segment {
        src_port: c.local.port(),
        dst_port: 80,
        seq: net.client.conn(c).unwrap().snd_nxt(),
        ack: net.client.conn(c).unwrap().rcv_nxt(),
        flags: Flags::ACK,
        window: 1000,
        options: Options::build(&[TcpOption::Mss(1460)]).unwrap(),
        payload: &b"data"[..],
        ..Default::default()
    };
    let mut bytes = ack.to_bytes();
    // The MSS option's length, 4, made 9: past the 24-octet header.
    bytes[21] = 9;
    fill_tcp_checksum(
        &PseudoHeader::new(CLIENT.into(), SERVER.into()).unwrap(),
        &mut bytes,
    );
    let before = net.server.conn(s).unwrap().stats().segments_in;
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &bytes);
    assert_eq!(net.server.counters().malformed, 1);
    let conn = net.server.conn(s).unwrap();
    assert_eq!(conn.stats().segments_in, before);
    assert_eq!((conn.state(), conn.readable()), (State::Established, 0));
    assert!(one_reply(&mut net.server, net.now).is_none());
}

fn handshake(net: &mut Net) -> (vtcp::ListenerId, vtcp::ConnKey) {
    let listener = net.server.listen(server_addr(80), 8).unwrap();
    (listener, net.connect())
}

/// Opens a connection between the two stacks of `net`; returns the
/// client's and the server's keys.
fn open(net: &mut Net) -> (vtcp::ConnKey, vtcp::ConnKey) {
    let (listener, c) = handshake(net);
    (c, net.server.accept(listener).expect("accepted"))
}

#[test]
fn blind_rsts_syns_and_data_neither_tear_down_nor_corrupt_a_connection() {
    let mut net = Net::seeded(7);
    let mut attacker = Attacker(5961);
    let (c, s) = open(&mut net);
    let up: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
    let down: Vec<u8> = (0..150_000u32).map(|i| (i % 241) as u8).collect();
    let (mut sent_up, mut sent_down) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let mut injected = 0;
    while got_up.len() < up.len() || got_down.len() < down.len() {
        // A little at a time, so that the attack goes on all through.
        let up_to = (sent_up + 8192).min(up.len());
        sent_up += net
            .client
            .conn_mut(c)
            .unwrap()
            .write(&up[sent_up..up_to])
            .unwrap();
        let down_to = (sent_down + 4096).min(down.len());
        sent_down += net
            .server
            .conn_mut(s)
            .unwrap()
            .write(&down[sent_down..down_to])
            .unwrap();
        for _ in 0..200 {
            let at_server = attacker.forge(&net.server, s);
            net.server
                .handle_packet(net.now, CLIENT.into(), SERVER.into(), &at_server);
            let at_client = attacker.forge(&net.client, c);
            net.client
                .handle_packet(net.now, SERVER.into(), CLIENT.into(), &at_client);
            injected += 2;
        }
        net.run_for(Duration::from_millis(2));
        drain(&mut net.server, s, &mut got_up);
        drain(&mut net.client, c, &mut got_down);
        assert_eq!(net.client.conn(c).unwrap().state(), State::Established);
        assert_eq!(net.server.conn(s).unwrap().state(), State::Established);
        assert!(net.now < Duration::from_secs(120), "transfer stalled");
    }
    assert!(got_up == up, "client to server data corrupted");
    assert!(got_down == down, "server to client data corrupted");
    net.client.conn_mut(c).unwrap().close();
    net.server.conn_mut(s).unwrap().close();
    net.run_for(Duration::from_secs(200));
    for (stack, key) in [(&net.client, c), (&net.server, s)] {
        let conn = stack.conn(key).unwrap();
        assert_eq!(conn.close_reason(), Some(vtcp::CloseReason::Normal));
        // RFC 5961 answered (within its rate limit) with challenge ACKs.
        assert!(conn.stats().challenge_acks > 0);
    }
    assert!(injected > 10_000, "{injected}");
    assert!(net.server.counters().rsts_in > 100);
}

/// The control for the test above: the same forged segments do get in
/// when they carry what a blind attacker cannot know, so the defence is
/// the RFC 5961 checks and not something the forgery gets wrong.
#[test]
fn forgeries_that_guess_right_do_get_in() {
    let mut net = Net::seeded(8);
    let (c, s) = open(&mut net);
    let conn = net.server.conn(s).unwrap();
    let (rcv_nxt, snd_nxt) = (conn.rcv_nxt(), conn.snd_nxt());
    let data = Segment {
        src_port: c.local.port(),
        dst_port: c.remote.port(),
        seq: rcv_nxt,
        ack: snd_nxt,
        flags: Flags::ACK | Flags::PSH,
        window: 65_535,
        payload: &b"injected"[..],
        ..Segment::default()
    };
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&data));
    let mut got = Vec::new();
    drain(&mut net.server, s, &mut got);
    assert_eq!(got, b"injected");
    let rst = Segment {
        seq: rcv_nxt + 8,
        ack: Seq(0),
        flags: Flags::RST,
        payload: &[][..],
        ..data
    };
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&rst));
    assert_eq!(
        net.server.conn(s).unwrap().close_reason(),
        Some(vtcp::CloseReason::Reset)
    );
}

#[test]
fn closing_a_listener_resets_the_connections_nobody_accepted() {
    let mut net = Net::new();
    let (listener, c) = handshake(&mut net);
    assert_eq!(net.client.conn(c).unwrap().state(), State::Established);
    assert_eq!(net.server.connections(), 1);
    net.server.unlisten(listener);
    net.settle();
    assert_eq!(
        net.client.conn(c).unwrap().close_reason(),
        Some(vtcp::CloseReason::Reset)
    );
    assert_eq!(net.server.connections(), 0);
}

#[test]
fn connections_that_die_before_accept_leave_the_listener_s_queues() {
    let mut net = Net::new();
    let listener = net.server.listen(server_addr(80), 1).unwrap();
    let connect = |net: &mut Net| {
        let c = net.connect();
        assert_eq!(net.client.conn(c).unwrap().state(), State::Established);
        c
    };
    // The first fills the accept queue; the second completes its
    // handshake with no room, and waits.
    let first = connect(&mut net);
    let second = connect(&mut net);
    assert_eq!(net.server.counters().accept_queue_overflows, 1);
    assert_eq!(net.server.counters().cookies_sent, 0);
    // A third would get a cookie now: the waiting one fills the backlog.
    // Instead the waiting one goes away.
    net.client.conn_mut(second).unwrap().abort();
    net.settle();
    assert_eq!(net.server.connections(), 1);
    assert_eq!(
        net.server.accept(listener).map(|k| k.remote),
        Some(first.local)
    );
    assert_eq!(net.server.accept(listener), None);
    // Its place in the backlog is free again: no cookie for the next.
    let third = connect(&mut net);
    assert_eq!(net.server.counters().cookies_sent, 0);
    // The accepted one going away while queued leaves the queue too.
    net.client.conn_mut(third).unwrap().abort();
    net.settle();
    assert_eq!(net.server.accept(listener), None);
    let fourth = connect(&mut net);
    assert_eq!(
        net.server.accept(listener).map(|k| k.remote),
        Some(fourth.local)
    );
    assert_eq!(net.server.counters().cookies_sent, 0);
}

#[test]
fn a_transparent_listener_takes_any_address_and_port_that_no_listener_has() {
    let mut net = Net::new();
    let lt = net.server.listen_transparent(16).unwrap();
    assert_eq!(
        net.server.listen_transparent(16),
        Err(vtcp::StackError::AddrInUse),
        "one per stack"
    );
    let port80 = net.server.listen(server_addr(80), 16).unwrap();
    // Somewhere the server has no address of: the transparent listener.
    let far = SocketAddr::new(IpAddr::from([198, 19, 7, 7]), 4242);
    let c = net.client.connect(net.now, CLIENT.into(), far).unwrap();
    net.settle();
    assert_eq!(net.client.conn(c).unwrap().state(), State::Established);
    let s = net.server.accept(lt).expect("accepted transparently");
    assert_eq!(s.local, far, "the address the client meant");
    assert_eq!(s.remote, c.local);
    // A port with a listener of its own still goes there.
    let c80 = net
        .client
        .connect(net.now, CLIENT.into(), server_addr(80))
        .unwrap();
    net.settle();
    assert_eq!(net.client.conn(c80).unwrap().state(), State::Established);
    assert!(net.server.accept(lt).is_none());
    assert_eq!(
        net.server.accept(port80).map(|k| k.local),
        Some(server_addr(80))
    );
    // Once it is gone, strays get RSTs again.
    net.server.unlisten(lt);
    let c2 = net.client.connect(net.now, CLIENT.into(), far).unwrap();
    net.settle();
    assert_eq!(net.client.conn(c2).unwrap().state(), State::Closed);
}

#[test]
fn a_queued_reply_waits_for_a_buffer_that_holds_it() {
    let mut net = Net::new();
    syn_to_closed_port(&mut net);
    let mut short = [0u8; 12];
    assert_eq!(net.server.poll_transmit(net.now, &mut short), None);
    // Not cut to 12 octets and sent: whole, with its checksum, later.
    let rst = one_reply(&mut net.server, net.now).expect("the reply is still queued");
    assert_eq!(rst.len(), 20);
    let view = vtcp::wire::SegmentView::new_checked(&rst[..]).unwrap();
    assert!(view.verify_checksum(&PseudoHeader::new(SERVER.into(), CLIENT.into()).unwrap()));
    assert_eq!(view.flags(), Flags::RST | Flags::ACK);
}

/// RFC 1122 §4.2.3.10 (RFC 9293 MUST-57): a SYN from a broadcast,
/// multicast or unspecified address is dropped without an answer (a RST
/// to a group would go to every member); one to such an address too.
#[test]
fn segments_from_or_to_non_unicast_addresses_are_dropped_unanswered() {
    let mut server = stack(9);
    server.listen(server_addr(80), 16).unwrap();
    let syn = syn_to(80);
    let now = Duration::from_secs(1);
    let pairs: [(IpAddr, IpAddr); 5] = [
        ([255, 255, 255, 255].into(), SERVER.into()),
        ([224, 0, 0, 1].into(), SERVER.into()),
        ([0, 0, 0, 0].into(), SERVER.into()),
        (CLIENT.into(), [255, 255, 255, 255].into()),
        ("ff02::1".parse().unwrap(), "fd00::2".parse().unwrap()),
    ];
    for (src, dst) in pairs {
        let mut bytes = syn.to_bytes();
        fill_tcp_checksum(&PseudoHeader::new(src, dst).unwrap(), &mut bytes);
        server.handle_packet(now, src, dst, &bytes);
        assert!(one_reply(&mut server, now).is_none(), "{src} → {dst}");
    }
    assert_eq!(server.connections(), 0);
    assert_eq!(server.counters().not_unicast, 5);
}

/// RFC 1122 §4.2.3.10 (MUST-46): no connection to a broadcast, multicast
/// or unspecified address.
#[test]
fn connect_refuses_non_unicast_addresses() {
    let mut client = stack(10);
    let now = Duration::from_secs(1);
    for remote in ["255.255.255.255:80", "224.0.0.1:80", "0.0.0.0:80"] {
        let remote: SocketAddr = remote.parse().unwrap();
        assert_eq!(
            client.connect(now, CLIENT.into(), remote),
            Err(StackError::InvalidInput),
            "{remote}"
        );
    }
    let v6: SocketAddr = "[ff02::1]:80".parse().unwrap();
    assert_eq!(
        client.connect(now, "fd00::1".parse().unwrap(), v6),
        Err(StackError::InvalidInput)
    );
    assert_eq!(client.connections(), 0);
}

/// RFC 6056 Algorithm 3: the ephemeral port comes from the stack's secret
/// and the addresses, so two stacks with the same secret pick the same
/// port (seeded runs repeat) and stacks with other secrets other ports.
#[test]
fn ephemeral_ports_come_from_the_secret() {
    let port = |seed: u8| {
        let mut s = stack(seed);
        let key = s
            .connect(Duration::from_secs(1), CLIENT.into(), server_addr(80))
            .unwrap();
        key.local.port()
    };
    assert_eq!(port(3), port(3));
    assert_eq!(port(4), port(4));
    assert_ne!(port(3), port(4));
    assert!((49152..=65535).contains(&port(3)));
}

/// A scope ID or flow label given to `listen` or `connect` (what a
/// `SocketAddr` parsed from "[fd00::2%3]:80" carries) would make keys
/// that no arriving segment matches: the handshake must complete anyway.
#[test]
fn ipv6_scope_ids_and_flow_labels_do_not_keep_segments_from_their_connection() {
    let (client_ip, server_ip): (IpAddr, IpAddr) =
        ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
    let scoped = |ip: IpAddr, port| {
        let IpAddr::V6(v6) = ip else { unreachable!() };
        SocketAddr::V6(std::net::SocketAddrV6::new(v6, port, 0x12345, 3))
    };
    let mut net = Net::new();
    let listener = net.server.listen(scoped(server_ip, 80), 8).unwrap();
    let c = net
        .client
        .connect(net.now, client_ip, scoped(server_ip, 80))
        .unwrap();
    net.settle();
    assert_eq!(net.client.conn(c).unwrap().state(), State::Established);
    assert!(net.server.accept(listener).is_some());
}

/// The cookie SYN-ACK offers only what the configuration allows, as the
/// ordinary SYN-ACK does (one negotiation, `OptionValues::agree`): with
/// timestamps off there is no room for SACK and window scaling either (the
/// cookie keeps them in timestamp bits); with SACK or scaling off, not
/// those. The connection the cookie's ACK makes agrees with its SYN-ACK.
#[test]
fn the_cookie_syn_ack_offers_what_the_configuration_allows() {
    type Tweak = fn(&mut vtcp::ConnConfig);
    let cases: [(&str, Tweak); 4] = [
        ("defaults", |_| {}),
        ("no timestamps", |c| c.timestamps = false),
        ("no SACK", |c| c.sack = false),
        ("no window scaling", |c| c.window_scaling = false),
    ];
    for (case, tweak) in cases {
        let mut net = Net::new();
        net.server = Stack::new({
            let mut config = StackConfig::default();
            config.conn = {
                let mut c = vtcp::ConnConfig::default();
                tweak(&mut c);
                c
            };
            config.cookie_key = [9; 16];
            config
        });
        let allowed = {
            let mut c = vtcp::ConnConfig::default();
            tweak(&mut c);
            c.offer()
        };
        net.server.listen(server_addr(80), 1).unwrap();
        let syn = |port: u16| {
            from_client(&Segment {
                src_port: port,
                dst_port: 80,
                seq: Seq(5000),
                flags: Flags::SYN,
                window: 65_535,
                options: Options::build(&[
                    TcpOption::Mss(1460),
                    TcpOption::SackPermitted,
                    TcpOption::Timestamp(Timestamp {
                        tsval: 777,
                        tsecr: 0,
                    }),
                    TcpOption::WindowScale(7),
                ])
                .unwrap(),
                payload: &[][..],
                ..Default::default()
            })
        };
        // The first fills the backlog of one; the second gets a cookie.
        for port in [40_000, 40_001] {
            net.server
                .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn(port));
        }
        assert_eq!(net.server.counters().cookies_sent, 1, "{case}");
        let mut cookie_reply = None;
        while let Some(bytes) = one_reply(&mut net.server, net.now) {
            if Segment::parse(&bytes).unwrap().dst_port == 40_001 {
                cookie_reply = Some(bytes);
            }
        }
        let bytes = cookie_reply.expect("a cookie SYN-ACK");
        let synack = Segment::parse(&bytes).unwrap();
        let v = synack.options.values();
        let ts = allowed.timestamps;
        assert_eq!(v.timestamp.is_some(), ts, "{case}: timestamps");
        assert_eq!(v.sack_permitted, ts && allowed.sack, "{case}: SACK");
        assert_eq!(
            v.wscale.is_some(),
            ts && allowed.window_scale.is_some(),
            "{case}: window scale"
        );
        // The ACK that completes it, echoing the SYN-ACK's TSval.
        let mut opts = Vec::new();
        if let Some(t) = v.timestamp {
            opts.push(TcpOption::Timestamp(Timestamp {
                tsval: 778,
                tsecr: t.tsval,
            }));
        }
        let ack = from_client(&Segment {
            src_port: 40_001,
            dst_port: 80,
            seq: Seq(5001),
            ack: synack.seq + 1,
            flags: Flags::ACK,
            window: 512,
            options: Options::build(&opts).unwrap(),
            payload: &[][..],
            ..Default::default()
        });
        net.server
            .handle_packet(net.now, CLIENT.into(), SERVER.into(), &ack);
        assert_eq!(net.server.counters().cookies_validated, 1, "{case}");
        let key = vtcp::ConnKey {
            local: server_addr(80),
            remote: SocketAddr::new(CLIENT.into(), 40_001),
        };
        let conn = net.server.conn(key).expect("the cookie's connection");
        assert_eq!(conn.send_mss(), if ts { 1448 } else { 1460 }, "{case}");
    }
}

/// `Stack::poll_event` names the connection a segment was for and the
/// listener with something to accept, and nothing else: what lets the
/// facade wake only the waiters of that connection.
#[test]
fn poll_event_names_only_the_connections_that_changed() {
    let mut net = Net::new();
    let listener = net.server.listen(server_addr(80), 8).unwrap();
    let a = net.connect();
    let b = net.connect();
    let events = |stack: &mut Stack| std::iter::from_fn(|| stack.poll_event()).collect::<Vec<_>>();
    let server_events = events(&mut net.server);
    assert!(server_events.contains(&vtcp::StackEvent::Acceptable(listener)));
    let sa = net.server.accept(listener).unwrap();
    let sb = net.server.accept(listener).unwrap();
    assert_eq!((sa.remote, sb.remote), (a.local, b.local));
    assert!(events(&mut net.client).contains(&vtcp::StackEvent::Conn(a, vtcp::Event::Connected)));
    // Data for a: the server hears of a alone.
    net.client.conn_mut(a).unwrap().write(b"hello").unwrap();
    events(&mut net.client);
    net.settle();
    let got = events(&mut net.server);
    assert_eq!(
        got,
        [vtcp::StackEvent::Conn(sa, vtcp::Event::Readable)],
        "{got:?}"
    );
    // Nothing more until something happens.
    assert_eq!(net.server.poll_event(), None);
}

/// A stack nobody asks for events keeps no more of them than it has
/// connections: opening and closing connections again and again leaves
/// the queue bounded (and the debug assertion in `mark_ready` holds).
#[test]
fn events_nobody_polls_do_not_accumulate() {
    let mut net = Net::new();
    let listener = net.server.listen(server_addr(80), 8).unwrap();
    for _ in 0..300 {
        let c = net.connect();
        let s = net.server.accept(listener).unwrap();
        net.client.conn_mut(c).unwrap().abort();
        net.settle();
        net.client.release(c);
        net.server.release(s);
        net.settle();
    }
    assert!(
        net.server.connections() <= 1,
        "{}",
        net.server.connections()
    );
    // Whatever is left is at most a few events per live connection.
    let left = std::iter::from_fn(|| net.server.poll_event()).count();
    assert!(left <= 16, "{left} events left");
}

/// What a tap saw: (time, direction, source, destination, segment).
type Seen = Vec<(Duration, vtcp::Direction, IpAddr, IpAddr, Vec<u8>)>;

/// A tap sees every segment handed in (also one with a bad checksum, which
/// the stack then drops) and every segment sent, after its checksum,
/// with the stack's time; removing it returns it and it sees no more.
#[test]
fn a_tap_sees_every_segment_in_and_out() {
    use std::sync::{Arc, Mutex};
    use vtcp::Direction::{In, Out};
    let mut net = Net::new();
    let shared: Arc<Mutex<Seen>> = Arc::default();
    let log = Arc::clone(&shared);
    let tap = move |now, dir, src, dst, seg: &[u8]| {
        log.lock().unwrap().push((now, dir, src, dst, seg.to_vec()));
    };
    assert!(net.server.set_tap(Some(Box::new(tap))).is_none());
    let (c, _) = open(&mut net);
    let mut corrupt = from_client(&syn_to(80));
    corrupt[4] ^= 1;
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &corrupt);
    assert_eq!(net.server.counters().bad_checksums, 1);

    let seen = std::mem::take(&mut *shared.lock().unwrap());
    let (client, server) = (IpAddr::from(CLIENT), IpAddr::from(SERVER));
    let dirs: Vec<_> = seen.iter().map(|s| s.1).collect();
    // SYN in, SYN-ACK out, ACK in, then the corrupted SYN in.
    assert_eq!(dirs, [In, Out, In, In]);
    for (now, dir, src, dst, seg) in &seen {
        assert_eq!(*now, net.now);
        let (from, to) = if *dir == In {
            (client, server)
        } else {
            (server, client)
        };
        assert_eq!((*src, *dst), (from, to));
        let good =
            vtcp::wire::checksum::verify_tcp_checksum(&PseudoHeader::new(*src, *dst).unwrap(), seg);
        assert_eq!(good, seg != &corrupt, "checksum of {seg:02x?}");
    }
    let flags: Vec<_> = seen[..3]
        .iter()
        .map(|s| SegmentView::new_checked(&s.4[..]).unwrap().flags())
        .collect();
    assert!(flags[0].contains(Flags::SYN) && !flags[0].contains(Flags::ACK));
    assert!(flags[1].contains(Flags::SYN | Flags::ACK));
    assert_eq!(flags[2], Flags::ACK);

    // Removed, it sees nothing more.
    let mut tap = net.server.set_tap(None).expect("the tap set before");
    tap.finish().unwrap();
    net.client.conn_mut(c).unwrap().write(b"after").unwrap();
    net.settle();
    assert!(shared.lock().unwrap().is_empty());
}

/// The MSS a SYN advertises fits the link's MTU less IP's and TCP's
/// headers (RFC 9293 §3.7.1): 1460 over IPv4 and 1440 over IPv6 at 1500;
/// a larger configured MSS is held to the MTU, a smaller one kept.
#[test]
fn the_mss_advertised_fits_the_link_mtu_over_each_family() {
    let syn_mss = |mtu: u16, mss: u16, v6: bool| {
        let mut stack = Stack::new({
            let mut config = StackConfig::default();
            config.mtu = mtu;
            config.conn = {
                let mut c = vtcp::ConnConfig::default();
                c.mss = mss;
                c
            };
            config
        });
        let (local, remote): (IpAddr, SocketAddr) = if v6 {
            ("fd00::1".parse().unwrap(), "[fd00::2]:80".parse().unwrap())
        } else {
            (CLIENT.into(), server_addr(80))
        };
        stack
            .connect(Duration::from_secs(1), local, remote)
            .unwrap();
        let syn = one_reply(&mut stack, Duration::from_secs(1)).unwrap();
        Segment::parse(&syn).unwrap().options.mss()
    };
    assert_eq!(syn_mss(1500, 1460, false), Some(1460));
    assert_eq!(syn_mss(1500, 1460, true), Some(1440));
    assert_eq!(syn_mss(9000, 8960, false), Some(8960));
    assert_eq!(syn_mss(9000, 8960, true), Some(8940));
    assert_eq!(syn_mss(1500, 1200, true), Some(1200));
    assert_eq!(syn_mss(1280, 1460, true), Some(1220));
}

/// Each segment carries its connection's IP fields to the IP layer
/// (`Transmit::ip`): the SYN-ACK and data those of the configuration, and
/// what `Conn::set_hop_limit` and `set_traffic_class` change from then
/// on; a cookie SYN-ACK those its connection will have; the stack's own
/// RST for no connection the defaults.
#[test]
fn segments_carry_their_connection_s_ip_fields() {
    let mut net = Net::new();
    let mut policy = vtcp::ConnConfig::default();
    policy.hop_limit = Some(4);
    policy.traffic_class = 0x20;
    net.server = Stack::new(StackConfig::default().with_conn_config(policy));
    let fields = |h, t| {
        let mut f = vtcp::IpFields::default();
        (f.hop_limit, f.traffic_class) = (h, t);
        f
    };
    // The server's next segment: its IP fields and its bytes.
    let take = |stack: &mut Stack, now| {
        let mut buf = vec![0u8; 2000];
        let t = stack.poll_transmit(now, &mut buf)?;
        Some((t.ip, buf[..t.len].to_vec()))
    };
    // No listener: the RST has the defaults.
    syn_to_closed_port(&mut net);
    assert_eq!(
        take(&mut net.server, net.now).unwrap().0,
        vtcp::IpFields::default()
    );
    let listener = net.server.listen(server_addr(80), 1).unwrap();
    let c = net
        .client
        .connect(net.now, CLIENT.into(), server_addr(80))
        .unwrap();
    let syn = one_reply(&mut net.client, net.now).unwrap();
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn);
    let (ip, syn_ack) = take(&mut net.server, net.now).unwrap();
    assert_eq!(ip, fields(Some(4), 0x20));
    // A second client while the first is half open: a cookie.
    net.client
        .connect(net.now, CLIENT.into(), server_addr(80))
        .unwrap();
    let syn2 = one_reply(&mut net.client, net.now).unwrap();
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn2);
    assert_eq!(net.server.counters().cookies_sent, 1);
    assert_eq!(
        take(&mut net.server, net.now).unwrap().0,
        fields(Some(4), 0x20)
    );
    // The first handshake completes; then the fields change.
    net.client
        .handle_packet(net.now, SERVER.into(), CLIENT.into(), &syn_ack);
    net.settle();
    assert_eq!(net.client.conn(c).unwrap().state(), State::Established);
    let s = net.server.accept(listener).expect("the first connection");
    let conn = net.server.conn_mut(s).unwrap();
    conn.set_hop_limit(Some(6));
    conn.set_traffic_class(0xe0);
    conn.write(b"x").unwrap();
    assert_eq!(
        take(&mut net.server, net.now).unwrap().0,
        fields(Some(6), 0xe0)
    );
}

/// A stray handler (`Stack::set_strays`) is offered what would otherwise
/// be reset or dropped for want of a connection, never a SYN that a
/// listener takes nor a segment of a connection of its own; what it
/// declines, and what comes back through `handle_unclaimed`, gets the
/// usual answer.
#[test]
fn strays_are_offered_before_any_reset_and_come_back_unclaimed() {
    use std::sync::{Arc, Mutex};
    let mut net = Net::new();
    let offered: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let take = Arc::new(std::sync::atomic::AtomicBool::new(true));
    {
        let (offered, take) = (Arc::clone(&offered), Arc::clone(&take));
        let old = net.server.set_strays(Some(Box::new(move |_, _, seg| {
            offered.lock().unwrap().push(seg.to_vec());
            take.load(std::sync::atomic::Ordering::Relaxed)
        })));
        assert!(old.is_none());
    }
    // A connection of its own: its segments are never offered.
    let _listener = net.server.listen(server_addr(80), 8).unwrap();
    let (c, _s) = {
        let c = net.connect();
        net.settle();
        let s = net.server.conns().map(|(k, _)| k).next().unwrap();
        (c, s)
    };
    net.client.conn_mut(c).unwrap().write(b"hello").unwrap();
    net.settle();
    assert!(
        offered.lock().unwrap().is_empty(),
        "a SYN to a listener and its own segments"
    );

    // A SYN to a closed port and a stray ACK: offered, taken, no RST.
    let syn = syn_to(81);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&syn));
    let ack = Segment {
        flags: Flags::ACK,
        ack: Seq(777),
        ..syn_to(80)
    };
    let ack = from_client(&ack);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &ack);
    assert!(one_reply(&mut net.server, net.now).is_none());
    assert_eq!(offered.lock().unwrap().len(), 2);
    assert_eq!(net.server.counters().rsts_out, 0);
    let segments_in = net.server.counters().segments_in;

    // Nobody claimed the ACK: back home, it meets the listener's cookie
    // check, fails it and gets its RST, counted in once.
    net.server
        .handle_unclaimed(net.now, CLIENT.into(), SERVER.into(), &ack);
    let bytes = one_reply(&mut net.server, net.now).unwrap();
    let rst = Segment::parse(&bytes).unwrap();
    assert_eq!((rst.flags, rst.seq), (Flags::RST, Seq(777)));
    assert_eq!(offered.lock().unwrap().len(), 2, "not offered again");
    assert_eq!(net.server.counters().segments_in, segments_in);

    // A stray RST: offered, and back unclaimed it is counted in once and
    // never answered.
    let rsts_in = net.server.counters().rsts_in;
    let reset = from_client(&Segment {
        flags: Flags::RST,
        ..syn_to(80)
    });
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &reset);
    assert_eq!(offered.lock().unwrap().len(), 3);
    net.server
        .handle_unclaimed(net.now, CLIENT.into(), SERVER.into(), &reset);
    assert!(one_reply(&mut net.server, net.now).is_none());
    assert_eq!(net.server.counters().rsts_in, rsts_in + 1);

    // A handler that declines: the usual RST at once.
    take.store(false, std::sync::atomic::Ordering::Relaxed);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&syn));
    assert!(one_reply(&mut net.server, net.now).is_some());
    assert_eq!(offered.lock().unwrap().len(), 4);
    assert!(net.server.set_strays(None).is_some());
}

/// RFC 9293 §3.10.7.1, as Linux answers it (found by differential
/// testing against Linux, docs/conformance.md): a connection reset by its
/// peer that the application has not let go of yet is no TCB, so what
/// arrives for it is taken as for no connection (here, with a listener on
/// the port, as the listener takes it), not dropped in silence; but
/// nothing new opens on its 4-tuple while it is held.
///
/// ```text
/// server: ESTABLISHED, accepted and held, listening on its port
///   < R.  seq=RCV.NXT           (the client resets: CLOSED, still held)
///   < .   seq=RCV.NXT ack=X len=10
///   > R   seq=X                 (<SEQ=SEG.ACK><CTL=RST>)
///   < R   seq=RCV.NXT           (a RST is never answered)
///   < SF  seq=Y                 (dropped, as the listener drops it)
///   < S   seq=Y
///   > R.  seq=0 ack=Y+1         (no new connection on a held 4-tuple)
/// ```
#[test]
fn a_segment_for_a_reset_connection_the_application_still_holds_gets_a_rst() {
    let mut net = Net::new();
    let (c, s) = open(&mut net);
    let (seq, ack) = {
        let conn = net.server.conn(s).unwrap();
        (conn.rcv_nxt(), conn.snd_nxt())
    };
    let seg = |flags, payload: &'static [u8]| Segment {
        src_port: c.local.port(),
        dst_port: 80,
        seq,
        ack,
        flags,
        window: 1000,
        payload,
        ..Default::default()
    };
    let from = |net: &mut Net, seg: Segment<&[u8]>| {
        net.server
            .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&seg));
    };
    from(&mut net, seg(Flags::RST | Flags::ACK, &[]));
    assert_eq!(net.server.conn(s).unwrap().state(), State::Closed);
    assert!(one_reply(&mut net.server, net.now).is_none());
    from(&mut net, seg(Flags::ACK, &[7; 10]));
    let rst = one_reply(&mut net.server, net.now).expect("a RST");
    let rst = Segment::parse(&rst).unwrap();
    assert_eq!((rst.flags, rst.seq), (Flags::RST, ack));
    from(&mut net, seg(Flags::RST, &[]));
    assert!(one_reply(&mut net.server, net.now).is_none());
    let syn = |flags| Segment {
        seq: Seq(7_000),
        ack: Seq(0),
        ..seg(flags, &[])
    };
    from(&mut net, syn(Flags::SYN | Flags::FIN));
    assert!(one_reply(&mut net.server, net.now).is_none());
    from(&mut net, syn(Flags::SYN));
    let rst = Segment::parse(&one_reply(&mut net.server, net.now).expect("a RST"))
        .unwrap()
        .into_owned();
    assert_eq!(
        (rst.flags, rst.seq, rst.ack),
        (Flags::RST | Flags::ACK, Seq(0), Seq(7_001))
    );
    assert_eq!(net.server.connections(), 1);
    // The application still reads the reset.
    assert_eq!(
        net.server.conn(s).unwrap().close_reason(),
        Some(vtcp::conn::CloseReason::Reset)
    );
}
