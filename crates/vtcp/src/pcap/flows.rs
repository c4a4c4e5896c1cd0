//! What a capture says about its connections: which flows it holds and
//! which segments are retransmissions. One definition, used by `vtcp
//! decode` and by the interop lab.
//!
//! A segment is a **retransmission** when it carries sequence space (data,
//! SYN or FIN) that its direction of the connection already sent: it
//! starts before the highest SEG.SEQ + SEG.LEN seen in that direction. A
//! keep-alive probe (one octet of data ending at that highest point, RFC
//! 1122 §4.2.3.6) is not one. So a segment resent whole, one resent in
//! part (a repacketised retransmission) and a retransmitted SYN all
//! count, each once; a capture that reorders segments counts the later
//! one of a reordered pair.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::wire::{Flags, SegmentView, Seq};

use super::{CaptureError, FrameContent, read_frames, tcp_in_frame};

/// One direction of a connection: source address and port, destination
/// address and port.
type Direction = (IpAddr, u16, IpAddr, u16);

/// Follows the flows of a capture segment by segment.
#[derive(Debug, Default)]
pub struct Flows {
    /// Highest SEG.SEQ + SEG.LEN sent so far, per direction.
    high: HashMap<Direction, Seq>,
    /// Connections, each named by its lower endpoint first.
    pairs: HashSet<Direction>,
}

impl Flows {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a segment sent from `src` to `dst`; true if it is a
    /// retransmission (the module's definition).
    pub fn record(&mut self, src: IpAddr, dst: IpAddr, seg: &SegmentView<&[u8]>) -> bool {
        let dir = (src, seg.src_port(), dst, seg.dst_port());
        let (a, ap, b, bp) = dir;
        self.pairs.insert(if (a, ap) <= (b, bp) {
            dir
        } else {
            (b, bp, a, ap)
        });
        let flags = seg.flags();
        let control =
            usize::from(flags.contains(Flags::SYN)) + usize::from(flags.contains(Flags::FIN));
        let len = seg.payload().len() + control;
        if len == 0 {
            return false;
        }
        // A segment carries at most 2^16 octets (a super-segment as
        // captured before it was cut included).
        let end = seg.seq() + len as u32;
        match self.high.get_mut(&dir) {
            None => {
                self.high.insert(dir, end);
                false
            }
            Some(high) => {
                let keepalive = control == 0 && len == 1 && end == *high;
                let resent = seg.seq().before(*high) && !keepalive;
                *high = high.max_seq(end);
                resent
            }
        }
    }

    /// Connections seen: distinct pairs of endpoints.
    pub fn connections(&self) -> usize {
        self.pairs.len()
    }
}

/// Counts the retransmissions (the module's definition) in a pcap or
/// pcapng file held in memory. Frames that hold no TCP, or TCP that does
/// not parse, are skipped.
pub fn retransmissions(file: &[u8]) -> Result<u64, CaptureError> {
    let mut flows = Flows::new();
    let mut resent = 0;
    for frame in read_frames(file)? {
        if let FrameContent::Tcp(tcp) = tcp_in_frame(frame.linktype, frame.data)
            && let Ok(seg) = SegmentView::new_checked(tcp.tcp)
            && flows.record(tcp.src, tcp.dst, &seg)
        {
            resent += 1;
        }
    }
    Ok(resent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Segment, SegmentView};

    fn seg(seq: u32, flags: Flags, data: &[u8]) -> Vec<u8> {
        Segment {
            src_port: 4000,
            dst_port: 80,
            seq: Seq::new(seq),
            flags,
            payload: data,
            ..Segment::default()
        }
        .to_bytes()
    }

    fn record(flows: &mut Flows, bytes: &[u8]) -> bool {
        let a = IpAddr::from([198, 18, 0, 1]);
        let b = IpAddr::from([198, 18, 0, 2]);
        flows.record(a, b, &SegmentView::new_checked(bytes).unwrap())
    }

    #[test]
    fn resent_space_counts_and_keepalives_and_new_data_do_not() {
        let mut f = Flows::new();
        let data = [7u8; 100];
        assert!(!record(&mut f, &seg(u32::MAX - 49, Flags::SYN, &[])));
        assert!(
            record(&mut f, &seg(u32::MAX - 49, Flags::SYN, &[])),
            "SYN again"
        );
        // New data across the wrap of sequence space.
        assert!(!record(&mut f, &seg(u32::MAX - 48, Flags::ACK, &data)));
        assert!(!record(&mut f, &seg(51, Flags::ACK, &data)));
        // Resent whole, resent in part, a pure ACK, a keep-alive.
        assert!(record(&mut f, &seg(51, Flags::ACK, &data)));
        assert!(record(&mut f, &seg(100, Flags::ACK, &data)));
        assert!(!record(&mut f, &seg(200, Flags::ACK, &[])));
        assert!(!record(&mut f, &seg(199, Flags::ACK, &[0])));
        assert!(record(&mut f, &seg(198, Flags::ACK, &[0, 0])));
        // A FIN, and the FIN again.
        assert!(!record(&mut f, &seg(200, Flags::FIN | Flags::ACK, &[])));
        assert!(record(&mut f, &seg(200, Flags::FIN | Flags::ACK, &[])));
        assert_eq!(f.connections(), 1);
    }
}
