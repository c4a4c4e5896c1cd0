//! Inputs shared by the criterion benchmarks: the same bytes go to vtcp
//! and to its peers.

pub mod bulk;
pub mod stack;

use vtcp_wire::checksum::PseudoHeader;
use vtcp_wire::{Flags, Options, SackBlock, Segment, TcpOption};

/// Source address of every benchmark segment (a test-host address).
pub const SRC: [u8; 4] = [198, 18, 0, 1];
/// Destination address of every benchmark segment.
pub const DST: [u8; 4] = [198, 18, 0, 2];

/// The pseudo-header for [`SRC`] → [`DST`].
pub fn pseudo() -> PseudoHeader {
    PseudoHeader::V4 {
        src: SRC.into(),
        dst: DST.into(),
    }
}

fn encode(seg: &Segment<&[u8]>) -> Vec<u8> {
    let mut buf = vec![0; seg.buffer_len()];
    seg.emit_with_checksum(&mut buf, &pseudo())
        .expect("room for the segment");
    buf
}

/// (a) A bare 20-byte ACK.
pub fn bare_ack() -> Vec<u8> {
    encode(&Segment {
        src_port: 41672,
        dst_port: 7000,
        seq: 2896179229.into(),
        ack: 1396493573.into(),
        flags: Flags::ACK,
        window: 502,
        payload: &[],
        ..Default::default()
    })
}

/// (b) A SYN with MSS, SACK-permitted, timestamps and window scale, laid
/// out as Linux sends it.
pub fn syn_with_options() -> Vec<u8> {
    let options = Options::build(&[
        TcpOption::Mss(1460),
        TcpOption::SackPermitted,
        TcpOption::timestamp(3167118612, 0),
        TcpOption::Nop,
        TcpOption::WindowScale(7),
    ])
    .expect("fits");
    encode(&Segment {
        src_port: 41672,
        dst_port: 7000,
        seq: 2896179228.into(),
        flags: Flags::SYN,
        window: 64240,
        options,
        payload: &[],
        ..Default::default()
    })
}

/// (c) An ACK with timestamps, 3 SACK blocks and 1448 bytes of data.
pub fn ack_with_sack_and_data() -> Vec<u8> {
    let payload: Vec<u8> = (0..1448u32).map(|i| (i * 7) as u8).collect();
    let options = Options::build(&[
        TcpOption::Nop,
        TcpOption::Nop,
        TcpOption::timestamp(3461294853, 3167118632),
        TcpOption::Nop,
        TcpOption::Nop,
        TcpOption::sack(&[
            SackBlock::new(2896215429, 2896221221),
            SackBlock::new(2896222669, 2896225565),
            SackBlock::new(2896227013, 2896228461),
        ])
        .expect("3 blocks"),
    ])
    .expect("fits");
    encode(&Segment {
        src_port: 7000,
        dst_port: 41672,
        seq: 1396493573.into(),
        ack: 2896212533.into(),
        flags: Flags::ACK | Flags::PSH,
        window: 77,
        options,
        payload: &payload,
        ..Default::default()
    })
}

/// A segment of 1480 bytes (20-byte header, 1460 of data) for checksums.
pub fn segment_1480() -> Vec<u8> {
    let payload: Vec<u8> = (0..1460u32).map(|i| (i * 13 + 5) as u8).collect();
    encode(&Segment {
        src_port: 41672,
        dst_port: 7000,
        seq: 1.into(),
        ack: 1.into(),
        flags: Flags::ACK,
        window: 502,
        payload: &payload,
        ..Default::default()
    })
}

/// The three parse/emit inputs with their names.
pub fn cases() -> [(&'static str, Vec<u8>); 3] {
    [
        ("a_bare_ack", bare_ack()),
        ("b_syn_options", syn_with_options()),
        ("c_ack_sack_1448", ack_with_sack_and_data()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_what_their_names_say() {
        let [(_, a), (_, b), (_, c)] = cases();
        assert_eq!(a.len(), 20);
        let b = Segment::parse(&b).unwrap();
        let v = b.options.values();
        assert!(v.mss.is_some() && v.wscale.is_some() && v.sack_permitted && v.timestamp.is_some());
        let c = Segment::parse(&c).unwrap();
        assert_eq!((c.options.sack_blocks().len(), c.data_len()), (3, 1448));
        assert_eq!(segment_1480().len(), 1480);
    }
}
