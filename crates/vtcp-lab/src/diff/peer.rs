//! The scripted peer: turns a script's relative segments into bytes and
//! keeps what it has seen of the system under test (its ISN, the highest
//! sequence number it sent, its last TSval), which a lost segment does
//! not update.

use std::net::{IpAddr, Ipv4Addr};

use vtcp::wire::checksum::PseudoHeader;
use vtcp::wire::{Flags, Options, SackBlock, Segment, Seq, TcpOption, Timestamp};

use super::script::Inject;

/// The system under test's address, on both sides.
pub const SUT_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The peer's address.
pub const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// The peer's ISN: fixed, so that its numbers read the same in every
/// trace.
pub const PEER_ISN: Seq = Seq(0x5eed_0000);

/// How far an `old` TSval is behind the last one sent.
const OLD_TSVAL: u32 = 100_000;

/// What the peer acts on: rolled back by a `lose` step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct View {
    /// The highest sequence number the system under test sent, plus one.
    highest: Option<Seq>,
    /// Its last TSval.
    tsval: Option<u32>,
}

/// The scripted peer of one run.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The peer's port.
    pub port: u16,
    /// The system under test's port: the listener's, or learnt from its
    /// SYN.
    pub sut_port: u16,
    /// The system under test's ISN, once seen (a lost SYN included: it is
    /// what the traces are normalised with); a later SYN with another
    /// sequence number (a new connection on the same ports) replaces it.
    pub sut_isn: Option<Seq>,
    /// Octets of sequence space the peer has sent (from its ISN).
    next: u32,
    view: View,
    before: View,
    /// The last TSval sent.
    tsval: u32,
}

impl Peer {
    /// A peer on `port` for a system under test on `sut_port`.
    pub fn new(port: u16, sut_port: u16) -> Self {
        Self {
            port,
            sut_port,
            sut_isn: None,
            next: 0,
            view: View::default(),
            before: View::default(),
            tsval: 0,
        }
    }

    /// The segment `i` stands for at `ms` milliseconds into the run,
    /// checksummed; moves the peer's next sequence number on when it is
    /// sent at it.
    pub fn build(&mut self, i: &Inject, ms: u64) -> Vec<u8> {
        let seq = PEER_ISN + self.next.wrapping_add(i.seq as u32);
        let ack = self.view.highest.unwrap_or(Seq(0)) + i.ack as u32;
        let mut opts = Vec::with_capacity(5);
        if let Some(m) = i.mss {
            opts.push(TcpOption::Mss(m));
        }
        if i.sackok {
            opts.push(TcpOption::SackPermitted);
        }
        if let Some(ts) = i.ts {
            let clock = 1_000u32.wrapping_add(ms as u32);
            let tsval = if ts.old {
                self.tsval.wrapping_sub(OLD_TSVAL)
            } else {
                let v = clock.max(self.tsval.wrapping_add(1));
                self.tsval = v;
                v
            };
            let tsecr = if ts.echo {
                self.view.tsval.unwrap_or(0)
            } else {
                0
            };
            opts.push(TcpOption::Timestamp(Timestamp { tsval, tsecr }));
        }
        if let Some(w) = i.ws {
            opts.push(TcpOption::WindowScale(w));
        }
        let blocks: Vec<SackBlock> = i
            .sack
            .iter()
            .map(|&(l, r)| {
                let isn = self.sut_isn.unwrap_or(Seq(0));
                SackBlock {
                    left: isn + l,
                    right: isn + r,
                }
            })
            .collect();
        if !blocks.is_empty() {
            // At most four blocks: the script's parser refused more.
            if let Ok(o) = TcpOption::sack(&blocks) {
                opts.push(o);
            }
        }
        // The script's parser refused options over 40 octets.
        let options = Options::build(&opts).unwrap_or_default();
        let payload: Vec<u8> = (0..usize::from(i.len))
            .map(|k| (self.next as usize + k) as u8)
            .collect();
        let seg = Segment {
            src_port: self.port,
            dst_port: self.sut_port,
            seq,
            ack,
            flags: i.flags,
            window: i.win,
            checksum: 0,
            urgent: 0,
            options,
            payload,
        };
        if i.seq == 0 {
            let mut len = u32::from(i.len);
            len +=
                u32::from(i.flags.contains(Flags::SYN)) + u32::from(i.flags.contains(Flags::FIN));
            self.next = self.next.wrapping_add(len);
        }
        let mut out = vec![0u8; seg.buffer_len()];
        let pseudo = PseudoHeader::new(IpAddr::V4(PEER_ADDR), IpAddr::V4(SUT_ADDR));
        if let Some(p) = pseudo {
            // The buffer has the room the segment needs.
            let _ = seg.emit_with_checksum(&mut out, &p);
        }
        out
    }

    /// Takes in the segments the system under test sent in one step (the
    /// view before them is kept for [`Peer::lose`]).
    pub fn see<'a>(&mut self, segments: impl IntoIterator<Item = &'a Segment<&'a [u8]>>) {
        self.before = self.view;
        for s in segments {
            // A SYN with another sequence number opens a new incarnation
            // (a listener's new connection on the same ports): its
            // numbers are relative to its own ISN.
            if s.flags.contains(Flags::SYN) && self.sut_isn != Some(s.seq) {
                if self.sut_isn.is_some() {
                    self.view = View::default();
                }
                self.sut_isn = Some(s.seq);
                self.sut_port = s.src_port;
            }
            if s.flags.contains(Flags::RST) {
                continue;
            }
            let end = s.seq + s.seg_len() as u32;
            if self.view.highest.is_none_or(|h| end.after(h)) {
                self.view.highest = Some(end);
            }
            if let Some(ts) = s.options.timestamp() {
                self.view.tsval = Some(ts.tsval);
            }
        }
    }

    /// What the system under test sent in the last step is lost: the peer
    /// forgets it.
    pub fn lose(&mut self) {
        self.view = self.before;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_relative_to_what_the_peer_saw_and_loss_forgets() {
        let mut p = Peer::new(40_000, 5_000);
        let mut syn = Inject::new(Flags::SYN);
        syn.ts = Some(super::super::script::TsSpec {
            old: false,
            echo: true,
        });
        let b = p.build(&syn, 0);
        let s = Segment::parse(&b).unwrap();
        assert_eq!((s.seq, s.flags, s.dst_port), (PEER_ISN, Flags::SYN, 5_000));
        assert_eq!(s.options.timestamp().map(|t| t.tsecr), Some(0));
        let synack = Segment::<&[u8]> {
            src_port: 5_001,
            seq: Seq(7),
            flags: Flags::SYN | Flags::ACK,
            options: Options::build(&[TcpOption::Timestamp(Timestamp {
                tsval: 77,
                tsecr: 1,
            })])
            .unwrap(),
            ..Default::default()
        };
        p.see([&synack]);
        assert_eq!((p.sut_isn, p.sut_port), (Some(Seq(7)), 5_001));
        let mut ack = Inject::new(Flags::ACK);
        ack.ack = 2;
        ack.len = 3;
        ack.ts = syn.ts;
        let s2 = p.build(&ack, 100);
        let s2 = Segment::parse(&s2).unwrap();
        assert_eq!(
            (s2.seq, s2.ack, s2.payload.len()),
            (PEER_ISN + 1, Seq(10), 3)
        );
        assert_eq!(s2.options.timestamp().map(|t| t.tsecr), Some(77));
        let data = Segment::<&[u8]> {
            seq: Seq(8),
            flags: Flags::ACK,
            payload: &[0; 10],
            ..Default::default()
        };
        p.see([&data]);
        p.lose();
        let s3 = p.build(&Inject::new(Flags::ACK), 200);
        // The data was lost: the ACK is still for the SYN-ACK; the
        // payload moved the peer's next sequence number on.
        let s3 = Segment::parse(&s3).unwrap();
        assert_eq!((s3.seq, s3.ack), (PEER_ISN + 4, Seq(8)));
        // A new incarnation's SYN-ACK: its numbers are relative to it.
        let again = Segment::<&[u8]> {
            seq: Seq(900),
            ..synack
        };
        p.see([&again]);
        assert_eq!(p.sut_isn, Some(Seq(900)));
        let s4 = p.build(&Inject::new(Flags::ACK), 300);
        assert_eq!(Segment::parse(&s4).unwrap().ack, Seq(901));
    }
}
