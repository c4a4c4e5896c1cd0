//! Capture files (`vtcp::pcap`): any bytes as a pcap or pcapng file never
//! panic; every frame read lies inside the file and is numbered in order;
//! taking a frame down to TCP never panics and finds a segment inside the
//! frame; the retransmission count is at most the number of TCP segments
//! and the same from `retransmissions` as from following the frames by
//! hand.

use crate::Verdict;
use vtcp::pcap::{Flows, FrameContent, read_frames, retransmissions, tcp_in_frame};
use vtcp_wire::SegmentView;

/// Runs one input: the raw bytes of a capture file.
pub fn run(data: &[u8]) -> Verdict {
    let Ok(frames) = read_frames(data) else {
        assert!(retransmissions(data).is_err());
        return Verdict::Keep;
    };
    let range = data.as_ptr_range();
    let mut flows = Flows::new();
    let (mut segments, mut resent) = (0u64, 0u64);
    for (i, frame) in frames.iter().enumerate() {
        assert_eq!(frame.number, i + 1);
        let f = frame.data.as_ptr_range();
        assert!(frame.data.is_empty() || (range.start <= f.start && f.end <= range.end));
        if let FrameContent::Tcp(tcp) = tcp_in_frame(frame.linktype, frame.data) {
            let t = tcp.tcp.as_ptr_range();
            assert!(tcp.tcp.is_empty() || (f.start <= t.start && t.end <= f.end));
            if let Ok(seg) = SegmentView::new_checked(tcp.tcp) {
                segments += 1;
                resent += u64::from(flows.record(tcp.src, tcp.dst, &seg));
            }
        }
    }
    assert!(resent <= segments);
    assert_eq!(retransmissions(data), Ok(resent));
    Verdict::Keep
}

#[cfg(test)]
mod tests {
    /// The Linux captures of the repository (`tests/vectors/`) and cuts of
    /// them hold the target's invariants.
    #[test]
    fn real_captures_and_their_cuts_hold() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "pcap") {
                continue;
            }
            let file = std::fs::read(&path).unwrap();
            assert!(vtcp::pcap::read_frames(&file).unwrap().len() >= 12);
            for cut in (0..file.len()).step_by(997) {
                super::run(&file[..cut]);
            }
            super::run(&file);
            seen += 1;
        }
        assert!(seen >= 2);
    }
}
