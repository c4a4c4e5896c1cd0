//! The `tracing` feature, the stack's own events. A test binary of its
//! own: `tracing` caches per callsite whether anyone listens, and tests
//! running beside this one with no subscriber made it skip events.
#![cfg(feature = "tracing")]

use vtcp::wire::checksum::{PseudoHeader, fill_tcp_checksum};
use vtcp::wire::{Flags, Segment};
use vtcp_seq::Seq;

#[allow(dead_code, reason = "each test binary uses part of what is shared")]
mod support;
use support::*;

/// What a `tracing` subscriber printed, shared with the test.
#[derive(Clone, Default)]
struct TraceLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for TraceLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `tracing` feature, the stack's own events: a reset for a closed
/// port, a bad checksum and a malformed segment dropped with their
/// reasons, SYN cookies sent and accepted when the backlog overflows.
#[test]
fn the_stack_traces_resets_drops_and_cookies() {
    let log = TraceLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut net = Net::new();
        syn_to_closed_port(&mut net);
        assert!(one_reply(&mut net.server, net.now).is_some());
        let mut corrupt = from_client(&syn_to(81));
        corrupt[4] ^= 1;
        net.server
            .handle_packet(net.now, CLIENT.into(), SERVER.into(), &corrupt);
        // A header whose data offset says 16 octets, checksummed.
        let mut short = from_client(&syn_to(81));
        short[12] = 0x40;
        fill_tcp_checksum(
            &PseudoHeader::new(CLIENT.into(), SERVER.into()).unwrap(),
            &mut short,
        );
        net.server
            .handle_packet(net.now, CLIENT.into(), SERVER.into(), &short);
        assert_eq!(net.server.counters().malformed, 1);
        // A bare ACK at a listener that no cookie of ours acknowledges.
        net.server.listen(server_addr(80), 2).unwrap();
        let forged = Segment {
            flags: Flags::ACK,
            ack: Seq(777),
            ..syn_to(80)
        };
        net.server
            .handle_packet(net.now, CLIENT.into(), SERVER.into(), &from_client(&forged));
        assert_eq!(net.server.counters().cookies_refused, 1);
        backlog_overflow(3);
    });
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let count = |what: &str| text.lines().filter(|l| l.contains(what)).count();
    // The closed port's and the forged ACK's.
    assert_eq!(count("reset sent"), 2, "{text}");
    assert_eq!(
        count("segment dropped reason=\"bad checksum\""),
        1,
        "{text}"
    );
    assert_eq!(count("segment dropped reason=\"malformed\""), 1, "{text}");
    assert!(count("SYN cookie sent") >= 8, "{text}");
    assert!(count("SYN cookie accepted") >= 8, "{text}");
    assert_eq!(count("SYN cookie refused"), 1, "{text}");
}
