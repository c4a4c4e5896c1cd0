//! ECN (RFC 3168) through the stack: the codepoint each connection asks
//! for goes out in `Transmit::ip`'s traffic class (the DSCP kept), and the
//! codepoint the IP layer read comes in with `Stack::handle_packet_ecn`.

use std::time::Duration;

use vtcp::wire::{Flags, SegmentView};
use vtcp::{EcnCodepoint, EcnMode, Stack, StackConfig, Transmit};

#[allow(dead_code, reason = "each test binary uses part of what is shared")]
mod support;
use support::*;

/// A stack whose connections ask for ECN (`ecn`) with DSCP 46 (EF).
fn stack_with(seed: u8, ecn: EcnMode) -> Stack {
    Stack::new({
        let mut config = StackConfig::default();
        config.cookie_key = [seed; 16];
        config.isn_key = [seed.wrapping_add(101); 16];
        config.conn.ecn = ecn;
        config.conn.traffic_class = 46 << 2;
        config
    })
}

/// One segment from `from` to `to`, marked `mark` on the way (a router's
/// CE, say) when given; returns its flags, payload length and the traffic
/// class it left with.
fn hop(
    now: Duration,
    from: &mut Stack,
    to: &mut Stack,
    mark: Option<EcnCodepoint>,
) -> Option<(Flags, usize, u8)> {
    let mut buf = vec![0u8; 2000];
    let t: Transmit = from.poll_transmit(now, &mut buf)?;
    let view = SegmentView::new_checked(&buf[..t.len]).unwrap();
    let seen = (view.flags(), view.payload().len(), t.ip.traffic_class);
    let arrived = mark.unwrap_or(EcnCodepoint::from_traffic_class(t.ip.traffic_class));
    to.handle_packet_ecn(now, t.src, t.dst, &buf[..t.len], arrived);
    Some(seen)
}

/// A client whose connections use `client_ecn`, a server that accepts
/// ECN listening on port 80, and the client's connection to it, its SYN
/// not yet sent (at 1 s).
fn pair(seed: u8, client_ecn: EcnMode) -> (Stack, Stack, vtcp::ListenerId, vtcp::ConnKey) {
    let now = Duration::from_secs(1);
    let mut client = stack_with(seed, client_ecn);
    let mut server = stack_with(seed.wrapping_add(50), EcnMode::Accept);
    let listener = server.listen(server_addr(80), 8).unwrap();
    let c = client.connect(now, CLIENT.into(), server_addr(80)).unwrap();
    (client, server, listener, c)
}

#[test]
fn the_codepoint_goes_out_in_the_traffic_class_and_ce_comes_back_as_ece() {
    let now = Duration::from_secs(1);
    let (mut client, mut server, listener, c) = pair(1, EcnMode::On);
    // SYN, SYN-ACK, ACK: ECN-setup flags, and Not-ECT (§6.1.1).
    let syn = hop(now, &mut client, &mut server, None).unwrap();
    assert_eq!(syn.0, Flags::SYN | Flags::ECE | Flags::CWR);
    assert_eq!(syn.2, 46 << 2);
    let syn_ack = hop(now, &mut server, &mut client, None).unwrap();
    assert_eq!(syn_ack.0, Flags::SYN | Flags::ACK | Flags::ECE);
    assert_eq!(syn_ack.2, 46 << 2);
    let ack = hop(now, &mut client, &mut server, None).unwrap();
    assert_eq!((ack.0, ack.2), (Flags::ACK, 46 << 2));
    let s = server.accept(listener).unwrap();
    assert!(client.conn(c).unwrap().ecn_negotiated());
    assert!(server.conn(s).unwrap().ecn_negotiated());

    // The server's data goes ECT(0), DSCP kept; a router marks it CE.
    server.conn_mut(s).unwrap().write(&[5; 1000]).unwrap();
    let data = hop(now, &mut server, &mut client, Some(EcnCodepoint::Ce)).unwrap();
    assert_eq!(data.1, 1000);
    assert_eq!(data.2, (46 << 2) | 2);
    // The client's ACK, at once, echoes it, and is Not-ECT.
    let echo = hop(now, &mut client, &mut server, None).unwrap();
    assert_eq!(
        (echo.0, echo.1, echo.2),
        (Flags::ACK | Flags::ECE, 0, 46 << 2)
    );
    assert_eq!(client.conn(c).unwrap().stats().ce_received, 1);
    let stats = server.conn(s).unwrap().stats();
    assert_eq!((stats.ece_received, stats.ecn_reductions), (1, 1));
    // The server's next data carries CWR, and ECT(0).
    server.conn_mut(s).unwrap().write(&[6; 500]).unwrap();
    let next = hop(now, &mut server, &mut client, None).unwrap();
    assert!(next.0.contains(Flags::CWR), "{:?}", next.0);
    assert_eq!(next.2, (46 << 2) | 2);
}

/// Without ECN the traffic class goes out as configured, ECN bits and all
/// (RFC 9293 SHLD-22), and a CE mark on what comes in changes nothing.
#[test]
fn without_ecn_the_traffic_class_is_left_alone() {
    let now = Duration::from_secs(1);
    let (mut client, mut server, listener, c) = pair(2, EcnMode::Off);
    assert_eq!(
        hop(now, &mut client, &mut server, None).unwrap().0,
        Flags::SYN
    );
    let syn_ack = hop(now, &mut server, &mut client, None).unwrap();
    assert_eq!(syn_ack.0, Flags::SYN | Flags::ACK);
    hop(now, &mut client, &mut server, None).unwrap();
    let s = server.accept(listener).unwrap();
    server.conn_mut(s).unwrap().write(&[5; 1000]).unwrap();
    let data = hop(now, &mut server, &mut client, Some(EcnCodepoint::Ce)).unwrap();
    assert_eq!(data.2, 46 << 2);
    let later = now + Duration::from_millis(200);
    client.handle_timeout(later);
    let ack = hop(later, &mut client, &mut server, None).unwrap();
    assert_eq!(ack.0, Flags::ACK);
    assert_eq!(client.conn(c).unwrap().stats().ce_received, 0);
}
