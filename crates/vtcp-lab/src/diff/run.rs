//! Runs a script against one system under test: each step, then the
//! settle time, and the record of what the system did, normalised.

use std::io;
use std::time::Duration;

use vtcp::wire::Segment;

use super::compare::{Outcome, Record, Seen};
use super::peer::Peer;
use super::script::{Role, Script, Step};

/// How long each step is given: past Linux's 40 ms delayed ACK, below
/// its 200 ms minimum RTO. The handshake's RTT sample is one settle
/// time, so timers that are multiples of the smoothed RTT (a tail-loss
/// probe at two) fall on step boundaries: each side counts a timer due
/// exactly at a boundary in the next step (Linux's fire a little late).
pub const SETTLE: Duration = Duration::from_millis(100);

/// The system under test's port when it listens.
pub const SUT_PORT: u16 = 5_000;
/// The peer's port.
pub const PEER_PORT: u16 = 40_000;

/// A TCP implementation a script runs against.
pub trait Sut {
    /// Makes a socket call.
    fn call(&mut self, call: super::script::Call) -> Outcome;
    /// Takes a segment from the peer (a TCP segment, checksummed for
    /// [`super::peer::PEER_ADDR`] to [`super::peer::SUT_ADDR`]).
    fn inject(&mut self, segment: &[u8]) -> io::Result<()>;
    /// Lets `time` pass; returns the TCP segments it sent to the peer's
    /// port meanwhile, in order.
    fn settle(&mut self, time: Duration) -> io::Result<Vec<Vec<u8>>>;
}

/// Runs `script` against `sut`, whose listener (server role) is on
/// `sut_port` and whose peer is on `peer_port`: one record a step.
pub fn run(script: &Script, sut: &mut dyn Sut, ports: (u16, u16)) -> io::Result<Vec<Record>> {
    let (sut_port, peer_port) = ports;
    let mut peer = Peer::new(peer_port, sut_port);
    let mut records = Vec::with_capacity(script.steps.len());
    let mut ms = 0u64;
    debug_assert!(script.role == Role::Server || script.role == Role::Client);
    for step in &script.steps {
        let mut extra = Duration::ZERO;
        let outcome = match step {
            Step::Inject(i) => {
                sut.inject(&peer.build(i, ms))?;
                None
            }
            Step::Call(c) => Some(sut.call(*c)),
            Step::Wait(w) => {
                extra = Duration::from_millis(u64::from(*w));
                None
            }
            Step::Lose => {
                peer.lose();
                None
            }
        };
        let time = SETTLE + extra;
        let raw = sut.settle(time)?;
        ms += time.as_millis() as u64;
        let segs: Vec<Segment<&[u8]>> = raw
            .iter()
            .filter_map(|b| Segment::parse(b).ok())
            .filter(|s| s.dst_port == peer_port)
            .collect();
        peer.see(&segs);
        let sent = segs.iter().map(|s| Seen::of(s, peer.sut_isn)).collect();
        records.push(Record { outcome, sent });
    }
    Ok(records)
}
