//! TCP Fast Open (RFC 7413) in one connection, as segment traces: the
//! client's SYN with a cookie request or a cookie and data, what its
//! SYN-ACK teaches the cache, the fallbacks; the server's SYN-ACK with a
//! cookie, and data taken from a SYN. The cookies are the caller's (a
//! `Stack` makes, checks and caches them), so here they are written out.

mod trace;

use trace::Trace;
use vtcp_conn::{Event, FastOpenOutcome, State};
use vtcp_wire::FastOpenCookie;

const COOKIE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn cookie(octets: &[u8]) -> FastOpenCookie {
    FastOpenCookie::new(octets).unwrap()
}

/// An active open asking for TFO with `cookie` (a request when `None`),
/// 100 octets written before the SYN goes.
fn client(with: Option<FastOpenCookie>) -> Trace {
    let mut t = Trace::active(|_| {});
    t.conn().request_fast_open(with, Some(1460));
    assert_eq!(t.conn().write(&[7; 100]).unwrap(), 100);
    t
}

/// What the handshake taught, taken.
fn outcome(t: &mut Trace) -> Option<FastOpenOutcome> {
    t.conn().take_fast_open_outcome()
}

const PLAIN_SYN: &str = "S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3>";

/// §4.1.2: without a cookie the SYN asks for one and carries no data;
/// the SYN-ACK's cookie is the cache's, and the data goes after the
/// handshake.
#[test]
fn client_without_a_cookie_asks_for_one() {
    let mut t = client(None);
    t.expect("S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3,FO,nop,nop>")
        .expect_none();
    assert_eq!(outcome(&mut t), None);
    t.at(50)
        .recv("S. 0:0(0) ack 1 win 65535 <mss 1400,sackOK,FO 0102030405060708>");
    t.expect("P. 1:101(100) ack 1 win *").expect_none();
    assert_eq!(
        outcome(&mut t),
        Some(FastOpenOutcome::NewCookie {
            cookie: cookie(&COOKIE),
            mss: Some(1400)
        })
    );
    // Taken once.
    assert_eq!(outcome(&mut t), None);
}

/// §4.2.1: with a cookie the SYN carries it and the data; a SYN-ACK that
/// acknowledges all of it leaves nothing to send but the ACK, and the
/// cached cookie stands.
#[test]
fn client_with_a_cookie_sends_data_on_the_syn() {
    let mut t = client(Some(cookie(&COOKIE)));
    t.expect(
        "S 0:100(100) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3,FO 0102030405060708,nop,nop>",
    )
    .expect_none();
    t.at(50)
        .recv("S. 0:0(0) ack 101 win 65535 <mss 1460,sackOK>");
    t.expect(". 101:101(0) ack 1 win *").expect_none();
    assert_eq!(t.conn().state(), State::Established);
    assert_eq!(t.conn().stats().bytes_acked, 100);
    assert_eq!(outcome(&mut t), Some(FastOpenOutcome::Accepted));
    // The stream goes on from 101.
    t.conn().write(&[1; 10]).unwrap();
    t.expect("P. 101:111(10) ack 1 win *");
}

/// The SYN's data fills what the server's MSS (1460, cached with the
/// cookie) leaves after the SYN's options beyond the timestamps: MSS,
/// window scale and SACK-permitted (12 octets) and the TFO option with
/// its 8-octet cookie (10): 1438 octets of a long write.
#[test]
fn the_syn_s_data_fills_what_its_options_leave_of_the_mss() {
    let mut t = client(Some(cookie(&COOKIE)));
    assert_eq!(t.conn().write(&[7; 3000]).unwrap(), 3000);
    t.expect("S 0:1438(1438) win 65535 <*>").expect_none();
}

/// §4.2.1: a SYN-ACK that acknowledges part of the SYN's data (or only the
/// SYN): the rest goes again after the handshake, and with no new cookie
/// the path is noted as failing.
#[test]
fn client_sends_again_what_the_syn_ack_did_not_acknowledge() {
    for (ack, rest) in [
        (1u32, "P. 1:101(100) ack 1 win *"),
        (41, "P. 41:101(60) ack 1 win *"),
    ] {
        let mut t = client(Some(cookie(&COOKIE)));
        t.expect("S 0:100(100) win 65535 <*>");
        t.at(50)
            .recv(&format!("S. 0:0(0) ack {ack} win 65535 <mss 1460>"));
        t.expect(rest).expect_none();
        assert_eq!(outcome(&mut t), Some(FastOpenOutcome::Failed));
        t.at(100).recv(". 1:1(0) ack 101 win 65535");
        assert_eq!(t.conn().stats().bytes_acked, 100);
    }
}

/// §4.1.3: a SYN-ACK with a new cookie updates the cache, even when it
/// refused the data (which then goes again); one with a cookie of a length
/// §4.1.1 does not allow is ignored, so data acknowledged keeps the cookie
/// cached.
#[test]
fn client_learns_a_new_cookie_and_ignores_an_invalid_one() {
    let mut t = client(Some(cookie(&COOKIE)));
    t.expect("S 0:100(100) win 65535 <*>");
    t.at(50)
        .recv("S. 0:0(0) ack 1 win 65535 <mss 1460,FO 0203040506070809>");
    t.expect("P. 1:101(100) ack 1 win *");
    assert_eq!(
        outcome(&mut t),
        Some(FastOpenOutcome::NewCookie {
            cookie: cookie(&[2, 3, 4, 5, 6, 7, 8, 9]),
            mss: Some(1460)
        })
    );

    let mut t = client(Some(cookie(&COOKIE)));
    t.expect("S 0:100(100) win 65535 <*>");
    t.at(50)
        .recv("S. 0:0(0) ack 101 win 65535 <mss 1460,FO 0102030405,eol,eol,eol>");
    t.expect(". 101:101(0) ack 1 win *");
    assert_eq!(outcome(&mut t), Some(FastOpenOutcome::Accepted));

    // To a request, an invalid cookie is no cookie: a failure.
    let mut t = client(None);
    t.expect("S 0:0(0) win 65535 <*>");
    t.at(50)
        .recv("S. 0:0(0) ack 1 win 65535 <mss 1460,FO 010203,eol>");
    t.expect("P. 1:101(100) ack 1 win *");
    assert_eq!(outcome(&mut t), Some(FastOpenOutcome::Failed));
}

/// §4.1.3.1: the SYN sent again after a timeout carries neither the data
/// nor the cookie, and the path is noted as failing; the data goes after
/// the handshake.
#[test]
fn a_retransmitted_syn_drops_the_data_and_the_cookie() {
    let mut t = client(Some(cookie(&COOKIE)));
    t.expect("S 0:100(100) win 65535 <*>").expect_none();
    t.at(1000).expect(PLAIN_SYN).expect_none();
    assert_eq!(outcome(&mut t), Some(FastOpenOutcome::Failed));
    t.at(1050).recv("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    t.expect("P. 1:101(100) ack 1 win *");
    // Nothing more to tell the cache.
    assert_eq!(outcome(&mut t), None);
}

/// A reset to the TFO SYN is a failure of the path too.
#[test]
fn a_reset_to_the_syn_fails_the_path() {
    let mut t = client(None);
    t.expect("S 0:0(0) win 65535 <*>");
    t.at(10).recv("R. 0:0(0) ack 1 win 0");
    assert_eq!(t.conn().state(), State::Closed);
    assert_eq!(outcome(&mut t), Some(FastOpenOutcome::Failed));
}

/// A cookie sent with no data (none was written before the SYN) and a
/// SYN-ACK without a new one: nothing refused, the cookie stands.
#[test]
fn a_cookie_without_data_is_not_a_failure() {
    let mut t = Trace::active(|_| {});
    t.conn().request_fast_open(Some(cookie(&COOKIE)), None);
    t.expect("S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 3,FO 0102030405060708,nop,nop>");
    t.at(50).recv("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    t.expect(". 1:1(0) ack 1 win *");
    assert_eq!(outcome(&mut t), Some(FastOpenOutcome::Accepted));
}

/// A connection that did not ask for TFO sends no option and has nothing
/// to tell; asking after the SYN went changes nothing.
#[test]
fn without_tfo_nothing_changes() {
    let mut t = Trace::active(|_| {});
    t.conn().write(&[7; 100]).unwrap();
    t.expect(PLAIN_SYN);
    t.conn().request_fast_open(Some(cookie(&COOKIE)), None);
    t.at(1000).expect(PLAIN_SYN);
    t.at(1050).recv("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    t.expect("P. 1:101(100) ack 1 win *");
    assert_eq!(outcome(&mut t), None);
}

/// §4.1.2: the server answers a cookie request with its cookie in the
/// SYN-ACK (the options after BSD's or Linux's, last).
#[test]
fn server_answers_a_request_with_a_cookie() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv("S 0:0(0) win 65535 <mss 1460,sackOK,FO>");
    t.conn().accept_fast_open(Some(cookie(&COOKIE)), false);
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,FO 0102030405060708>")
        .expect_none();
}

/// §4.2.2: a valid cookie's data is the application's at once, in
/// SYN-RECEIVED, and the SYN-ACK acknowledges it; the connection counts
/// as pending until the handshake completes.
#[test]
fn server_takes_the_data_of_a_valid_cookie() {
    let mut t = Trace::passive(|_| {});
    t.at(0)
        .recv("S 0:100(100) win 65535 <mss 1460,FO 0102030405060708>");
    t.conn().accept_fast_open(None, true);
    assert!(t.conn().is_fast_open_pending());
    // The window is the buffer's room, less the data it holds.
    t.expect("S. 0:0(0) ack 101 win 65436 <mss 1460>")
        .expect_none();
    assert_eq!(t.conn().state(), State::SynReceived);
    assert_eq!(t.events(), vec![Event::Readable]);
    let mut got = [0u8; 200];
    assert_eq!(t.conn().read(&mut got), 100);
    t.at(10).recv(". 101:101(0) ack 1 win 65535");
    assert_eq!(t.conn().state(), State::Established);
    assert!(!t.conn().is_fast_open_pending());
    // Nothing read twice.
    assert_eq!(t.conn().read(&mut got), 0);
}

/// §4.2.2: an invalid cookie's data is dropped, only the SYN is
/// acknowledged, and a fresh cookie rides in the SYN-ACK; the client's
/// data, sent again, is read once.
#[test]
fn server_drops_the_data_of_an_invalid_cookie() {
    let mut t = Trace::passive(|_| {});
    t.at(0)
        .recv("S 0:100(100) win 65535 <mss 1460,FO 0909090909090909>");
    t.conn().accept_fast_open(Some(cookie(&COOKIE)), false);
    assert!(!t.conn().is_fast_open_pending());
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,FO 0102030405060708,nop,nop>")
        .expect_none();
    t.at(10).recv(". 1:1(0) ack 1 win 65535");
    let mut got = [0u8; 200];
    assert_eq!(t.conn().read(&mut got), 0, "the SYN's data was dropped");
    t.recv("P. 1:101(100) ack 1 win 65535");
    assert_eq!(t.conn().read(&mut got), 100);
}

/// Without TFO, data on a SYN is kept and delivered once ESTABLISHED
/// (RFC 9293 §3.10.7.2), as before.
#[test]
fn without_tfo_syn_data_waits_for_the_handshake() {
    let mut t = Trace::passive(|_| {});
    t.at(0).recv("S 0:100(100) win 65535 <mss 1460>");
    t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460>");
    let mut got = [0u8; 200];
    assert_eq!(t.conn().read(&mut got), 0);
    t.at(10).recv(". 1:1(0) ack 1 win 65535");
    assert_eq!(t.conn().read(&mut got), 100);
}
