//! A packet tap: every segment a [`Stack`](crate::Stack) takes in or
//! sends out, handed to an observer as it passes.
//!
//! The stack calls [`Tap::packet`] for each segment given to
//! `handle_packet` (before any check, so a capture shows what was dropped
//! too) and for each segment `poll_transmit` writes (after its checksum).
//! With the `pcap` feature, `vtcp::pcap::PcapWriter` is a
//! tap that writes a capture for tshark and Wireshark; a closure
//! `FnMut(Duration, Direction, IpAddr, IpAddr, &[u8])` is a tap too.
//! Without a tap the stack pays one branch per segment.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// Which way a segment passed the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Handed to the stack (`handle_packet`).
    In,
    /// Sent by the stack (`poll_transmit`).
    Out,
}

/// An observer of the segments a stack handles. Set with
/// [`Stack::set_tap`](crate::Stack::set_tap).
pub trait Tap: Send {
    /// One segment from `src` to `dst` at the stack's time `now`.
    fn packet(
        &mut self,
        now: Duration,
        direction: Direction,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
    );

    /// Ends the tap: flushes what it buffered and reports the first error
    /// it met (a tap cannot fail the stack's calls, so it keeps errors
    /// until asked). Nothing to do by default.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<F> Tap for F
where
    F: FnMut(Duration, Direction, IpAddr, IpAddr, &[u8]) + Send,
{
    fn packet(
        &mut self,
        now: Duration,
        direction: Direction,
        src: IpAddr,
        dst: IpAddr,
        segment: &[u8],
    ) {
        self(now, direction, src, dst, segment);
    }
}
