//! TCP Fast Open (RFC 7413) through the `Stack`: the server's cookies
//! from its secret, data taken from a SYN with a valid cookie and
//! readable before the handshake completes, the fallbacks, the limit on
//! pending TFO connections; the client's cookie cache.

use std::time::Duration;

use vtcp::wire::{FastOpen, FastOpenCookie, Flags, Options, Segment, TcpOption};
use vtcp::{FastOpenConfig, Stack, State};
use vtcp_seq::Seq;

#[allow(dead_code, reason = "each test binary uses part of what is shared")]
mod support;
use support::*;

fn tfo(client: bool, server: bool) -> FastOpenConfig {
    let mut fo = FastOpenConfig::default();
    fo.client = client;
    fo.server = server;
    fo
}

/// Two stacks with TFO on both sides; the server listens on port 80.
fn net() -> (Net, vtcp::ListenerId) {
    let mut net = Net::new();
    net.client.set_fast_open(tfo(true, false));
    net.server.set_fast_open(tfo(false, true));
    let l = net.server.listen(server_addr(80), 8).unwrap();
    (net, l)
}

/// A stack's next segment: its bytes (checksummed) and what they say.
fn next_from(stack: &mut Stack, now: Duration) -> (Vec<u8>, Segment<Vec<u8>>) {
    let bytes = one_reply(stack, now).expect("a segment");
    let seg = Segment::parse(&bytes).unwrap().into_owned();
    (bytes, seg)
}

/// A SYN from the client's port `port` to the server's port 80 carrying
/// `fo` and `data`.
fn syn_with(port: u16, fo: TcpOption<'_>, data: &[u8]) -> Vec<u8> {
    from_client(&Segment {
        src_port: port,
        dst_port: 80,
        seq: Seq(1000),
        flags: Flags::SYN,
        window: 65535,
        options: Options::build(&[TcpOption::Mss(1460), fo]).unwrap(),
        payload: data,
        ..Default::default()
    })
}

/// The client's `connect_fast_open` to the server's port 80 with `data`
/// written before the SYN goes; the connection and its SYN.
fn open_with(net: &mut Net, data: &[u8]) -> (vtcp::ConnKey, Vec<u8>, Segment<Vec<u8>>) {
    let c = net
        .client
        .connect_fast_open(net.now, CLIENT.into(), server_addr(80))
        .unwrap();
    if !data.is_empty() {
        net.client.conn_mut(c).unwrap().write(data).unwrap();
    }
    let (bytes, syn) = next_from(&mut net.client, net.now);
    (c, bytes, syn)
}

fn fast_open_of(seg: &Segment<Vec<u8>>) -> Option<FastOpen> {
    seg.options.values().fast_open
}

/// The server's cookie for the client, asked for with a request.
fn server_cookie(net: &mut Net) -> FastOpenCookie {
    let syn = syn_with(39_999, TcpOption::FastOpen(None), &[]);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn);
    let (_, synack) = next_from(&mut net.server, net.now);
    assert_eq!(synack.ack, Seq(1001));
    match fast_open_of(&synack) {
        Some(FastOpen::Cookie(c)) => c,
        other => panic!("no cookie in the SYN-ACK: {other:?}"),
    }
}

/// RFC 7413 end to end: the first connection asks for a cookie and sends
/// its data after the handshake; the second sends its data on the SYN,
/// and the server has it, readable, before the handshake completes.
#[test]
fn the_second_connection_sends_its_data_on_the_syn() {
    let (mut net, l) = net();
    let (_, bytes, syn) = open_with(&mut net, &[1; 100]);
    assert_eq!(fast_open_of(&syn), Some(FastOpen::Request));
    assert!(syn.payload.is_empty(), "no data with a request");
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &bytes);
    net.settle();
    assert_eq!(net.server.counters().fast_open_cookies_sent, 1);
    assert_eq!(net.client.fast_open_cache_len(), 1);
    let s1 = net.server.accept(l).unwrap();
    assert_eq!(net.server.conn_mut(s1).unwrap().read(&mut [0; 200]), 100);

    let (c2, bytes, syn) = open_with(&mut net, &[2; 100]);
    // The server's cookie: a MAC of the client's address under its
    // secret (the support's server stack is seeded with 51).
    let cookie = vtcp_cookie::SynCookies::new([51; 16]).fast_open_cookie(&CLIENT);
    assert_eq!(fast_open_of(&syn), Some(FastOpen::Cookie(cookie)));
    assert_eq!(syn.payload, vec![2; 100]);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &bytes);
    // Queued for accept at once, in SYN-RECEIVED, the data readable.
    let s2 = net.server.accept(l).expect("queued at once");
    assert_eq!(net.server.conn(s2).unwrap().state(), State::SynReceived);
    let mut got = [0u8; 200];
    assert_eq!(net.server.conn_mut(s2).unwrap().read(&mut got), 100);
    assert_eq!(&got[..100], &[2; 100][..]);
    let (bytes, synack) = next_from(&mut net.server, net.now);
    assert_eq!(
        synack.ack,
        syn.seq + 101,
        "the SYN-ACK acknowledges the data"
    );
    assert_eq!(
        fast_open_of(&synack),
        None,
        "a valid cookie needs no new one"
    );
    net.client
        .handle_packet(net.now, SERVER.into(), CLIENT.into(), &bytes);
    net.settle();
    assert_eq!(net.server.conn(s2).unwrap().state(), State::Established);
    assert_eq!(net.client.conn(c2).unwrap().stats().bytes_acked, 100);
    assert_eq!(net.server.counters().fast_open_accepted, 1);
}

/// §4.2.2: an invalid cookie gets a fresh one and only the SYN is
/// acknowledged; the connection waits for its handshake as any other.
/// A cookie made under the previous secret is still valid (§4.1.2), not
/// one made under the secret before that.
#[test]
fn an_invalid_cookie_gets_a_fresh_one_and_its_data_is_dropped() {
    let (mut net, l) = net();
    let wrong = FastOpenCookie::new(&[9; 8]).unwrap();
    let syn = syn_with(40_001, TcpOption::FastOpen(Some(wrong)), &[5; 50]);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn);
    let (_, synack) = next_from(&mut net.server, net.now);
    assert_eq!(synack.ack, Seq(1001), "only the SYN");
    let fresh = server_cookie(&mut net);
    assert_eq!(fast_open_of(&synack), Some(FastOpen::Cookie(fresh)));
    assert_eq!(net.server.accept(l), None);
    assert_eq!(net.server.counters().fast_open_accepted, 0);
    // A cookie of a length RFC 7413 does not allow: the same answer.
    let odd = syn_with(
        40_002,
        TcpOption::Unknown {
            kind: 34,
            data: &[1, 2, 3],
        },
        &[5; 50],
    );
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &odd);
    let (_, synack) = next_from(&mut net.server, net.now);
    assert_eq!(
        (synack.ack, fast_open_of(&synack)),
        (Seq(1001), Some(FastOpen::Cookie(fresh)))
    );
    // After one rotation of the secret the cookie is still valid; after
    // two it is not, and a new one comes back.
    net.server.rotate_cookie_key([77; 16]);
    let syn = syn_with(40_003, TcpOption::FastOpen(Some(fresh)), &[5; 50]);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn);
    let (_, synack) = next_from(&mut net.server, net.now);
    assert_eq!((synack.ack, fast_open_of(&synack)), (Seq(1051), None));
    net.server.rotate_cookie_key([78; 16]);
    let syn = syn_with(40_004, TcpOption::FastOpen(Some(fresh)), &[5; 50]);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn);
    let (_, synack) = next_from(&mut net.server, net.now);
    assert_eq!(synack.ack, Seq(1001));
    assert!(matches!(fast_open_of(&synack), Some(FastOpen::Cookie(c)) if c != fresh));
}

/// §5.1: beyond `max_pending` TFO connections not through their
/// handshake, a valid cookie gets the plain handshake.
#[test]
fn pending_connections_beyond_the_limit_get_the_plain_handshake() {
    let (mut net, l) = net();
    let mut fo = tfo(false, true);
    fo.max_pending = 1;
    net.server.set_fast_open(fo);
    let cookie = server_cookie(&mut net);
    for (port, acked) in [(40_010u16, 1101u32), (40_011, 1001)] {
        let syn = syn_with(port, TcpOption::FastOpen(Some(cookie)), &[3; 100]);
        net.server
            .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn);
        let (_, synack) = next_from(&mut net.server, net.now);
        assert_eq!(synack.ack, Seq(acked), "port {port}");
    }
    assert_eq!(net.server.counters().fast_open_accepted, 1);
    assert_eq!(net.server.counters().fast_open_over_limit, 1);
    assert!(net.server.accept(l).is_some());
    assert_eq!(net.server.accept(l), None, "the second waits for its ACK");
}

/// Without the server side on, a TFO option changes nothing: no cookie,
/// and the SYN's data waits for the handshake as RFC 9293 has it.
#[test]
fn a_server_without_tfo_ignores_the_option() {
    let mut net = Net::new();
    let l = net.server.listen(server_addr(80), 8).unwrap();
    let syn = syn_with(40_020, TcpOption::FastOpen(None), &[4; 10]);
    net.server
        .handle_packet(net.now, CLIENT.into(), SERVER.into(), &syn);
    let (_, synack) = next_from(&mut net.server, net.now);
    assert_eq!((synack.ack, fast_open_of(&synack)), (Seq(1001), None));
    assert_eq!(net.server.accept(l), None);
}

/// §4.1.3.1: to a server that answers a request with no cookie, the next
/// SYN carries no TFO option, until `disable_for` has passed; clearing
/// the cache forgets it.
#[test]
fn the_client_leaves_tfo_off_to_a_server_without_it_for_a_while() {
    let mut net = Net::new();
    net.client.set_fast_open(tfo(true, false));
    net.server.listen(server_addr(80), 8).unwrap();
    let open = |net: &mut Net| {
        let (c, bytes, syn) = open_with(net, &[]);
        net.server
            .handle_packet(net.now, CLIENT.into(), SERVER.into(), &bytes);
        net.settle();
        assert_eq!(net.client.conn(c).unwrap().state(), State::Established);
        fast_open_of(&syn)
    };
    assert_eq!(open(&mut net), Some(FastOpen::Request));
    assert_eq!(open(&mut net), None, "off after the failure");
    net.now += FastOpenConfig::default().disable_for;
    assert_eq!(open(&mut net), Some(FastOpen::Request), "on again");
    assert_eq!(open(&mut net), None);
    net.client.clear_fast_open_cache();
    assert_eq!(open(&mut net), Some(FastOpen::Request));
    // With the client side off, `connect_fast_open` is `connect`.
    net.client.set_fast_open(FastOpenConfig::default());
    net.client.clear_fast_open_cache();
    assert_eq!(open(&mut net), None);
}
