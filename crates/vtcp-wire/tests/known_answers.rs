//! Exact answers for the codec's small accessors and printers, and what
//! the `Arbitrary` generators reach: each test here was asked for by a
//! mutant that the round-trip properties could not see (a function that
//! agrees with itself both ways, or a generator that became narrower).

use arbitrary::{Arbitrary, Unstructured};
use std::collections::BTreeSet;
use vtcp_seq::Seq;
use vtcp_wire::checksum::PseudoHeader;
use vtcp_wire::{
    Flags, OptionValues, Options, SackBlock, SackBlocks, Segment, SegmentView, TcpOption, Timestamp,
};

fn segment(flags: Flags, payload: &[u8]) -> Segment<&[u8]> {
    Segment {
        src_port: 41672,
        dst_port: 7000,
        seq: Seq(1),
        ack: Seq(9),
        flags,
        window: 512,
        payload,
        ..Default::default()
    }
}

#[test]
fn seg_len_counts_data_syn_and_fin() {
    assert_eq!(segment(Flags::ACK, b"abc").seg_len(), 3);
    assert_eq!(segment(Flags::SYN, b"").seg_len(), 1);
    assert_eq!(segment(Flags::SYN | Flags::FIN, b"abc").seg_len(), 5);
    let s = segment(Flags::ACK, b"");
    assert!(s.has_flag(Flags::ACK));
    assert!(!s.has_flag(Flags::ACK | Flags::SYN));
}

#[test]
fn display_is_tcpdump_s_line_and_debug_names_every_field() {
    let mut s = segment(Flags::PSH | Flags::ACK, b"hello");
    s.options = Options::build(&[TcpOption::timestamp(5, 6)]).unwrap();
    assert_eq!(
        s.to_string(),
        "41672 > 7000: Flags [P.], seq 1:6, ack 9, win 512, options [TS val 5 ecr 6,nop,nop], length 5"
    );
    let syn = segment(Flags::SYN | Flags::URG, b"");
    assert_eq!(
        syn.to_string(),
        "41672 > 7000: Flags [SU], seq 1, win 512, urg 0, length 0"
    );
    let debug = format!("{s:?}");
    for field in [
        "src_port: 41672",
        "dst_port: 7000",
        "seq: Seq(1)",
        "ack: Seq(9)",
        "flags: Flags(P. 0x018)",
        "window: 512",
        "checksum: 0x0000",
        "urgent: 0",
        "options: [Timestamp(Timestamp { tsval: 5, tsecr: 6 }), Nop, Nop]",
        "payload_len: 5",
    ] {
        assert!(debug.contains(field), "{field} not in {debug}");
    }
}

#[test]
fn options_accessors_and_printers() {
    let empty = Options::new();
    assert!(empty.is_empty());
    assert!(!empty.sack_permitted());
    assert_eq!(format!("{empty:?}"), "[]");
    let blocks = [SackBlock::new(10, 20), SackBlock::new(30, 40)];
    let opts = Options::build(&[TcpOption::Nop, TcpOption::sack(&blocks).unwrap()]).unwrap();
    assert!(!opts.is_empty());
    assert!(!opts.sack_permitted());
    assert_eq!(&opts.sack_blocks()[..], &blocks);
    assert_eq!(opts.to_string(), "nop,sack 2 {10:20} {30:40},nop");
    assert!(format!("{opts:?}").starts_with("[Nop, Sack(["));
    let sack = SackBlocks::from_slice(&blocks).unwrap();
    assert_eq!(
        format!("{sack:?}"),
        "[SackBlock { left: Seq(10), right: Seq(20) }, SackBlock { left: Seq(30), right: Seq(40) }]"
    );
}

/// Options that fill the 40 bytes exactly, without padding.
#[test]
fn options_of_exactly_forty_bytes_are_built() {
    let four = TcpOption::sack(&[SackBlock::new(1, 2); 4]).unwrap();
    let opts = Options::build(&[four, TcpOption::Mss(1460), TcpOption::Nop, TcpOption::Nop]);
    assert_eq!(opts.map(|o| o.len()), Ok(40));
    // Unknown kinds up to the 38 data bytes an option can carry.
    for len in [0, 1, 21, 38] {
        let data = vec![0xab; len];
        let opts = Options::build(&[TcpOption::Unknown {
            kind: 99,
            data: &data,
        }])
        .unwrap();
        assert_eq!(
            opts.iter().next(),
            Some(TcpOption::Unknown {
                kind: 99,
                data: &data
            })
        );
    }
}

/// Each value comes from its kind's first option (as `get_*` read them).
#[test]
fn the_first_option_of_each_kind_wins() {
    let area = [
        3, 3, 5, 3, 3, 9, // two window scales
        8, 10, 0, 0, 0, 1, 0, 0, 0, 2, // timestamps 1, 2
        8, 10, 0, 0, 0, 3, 0, 0, 0, 4, // timestamps 3, 4
        5, 10, 0, 0, 0, 5, 0, 0, 0, 6, // SACK 5-6
        1, 1, 1, 1, // padding
    ];
    let first = OptionValues::parse(&area).unwrap();
    assert_eq!(first.wscale, Some(5));
    assert_eq!(first.timestamp, Some(Timestamp { tsval: 1, tsecr: 2 }));
    assert_eq!(&first.sack_blocks[..], &[SackBlock::new(5, 6)]);
    let area = [
        5, 10, 0, 0, 0, 5, 0, 0, 0, 6, // SACK 5-6
        5, 10, 0, 0, 0, 7, 0, 0, 0, 8, // SACK 7-8
        1, 1, 1, 1,
    ];
    let first = OptionValues::parse(&area).unwrap();
    assert_eq!(&first.sack_blocks[..], &[SackBlock::new(5, 6)]);
}

#[test]
fn a_view_reads_options_checks_and_fills_its_checksum_and_sets_flags() {
    let mut s = segment(Flags::SYN, b"");
    s.options = Options::build(&[TcpOption::Mss(1220), TcpOption::SackPermitted]).unwrap();
    let pseudo = PseudoHeader::new([198, 18, 0, 1].into(), [198, 18, 0, 2].into()).unwrap();
    let mut view = SegmentView::new_checked(s.to_bytes()).unwrap();
    let values = view.option_values().unwrap();
    assert_eq!((values.mss, values.sack_permitted), (Some(1220), true));
    assert!(!view.verify_checksum(&pseudo), "a zero field is wrong here");
    let filled = view.fill_checksum(&pseudo);
    assert_eq!(view.checksum(), filled);
    assert!(view.verify_checksum(&pseudo));
    view.set_flags(Flags::SYN | Flags::ACK);
    assert_eq!(view.flags(), Flags::SYN | Flags::ACK);
    assert_eq!(view.header_len(), 28, "the data offset is kept");
}

/// A deterministic stream of bytes for the generators.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The generators the fuzz targets and properties share reach every
/// option kind, long unknown options (and none too long), empty and
/// crowded option blocks, data, and never fail on plentiful input.
#[test]
fn the_generators_reach_every_shape() {
    let mut kinds = BTreeSet::new();
    let (mut longest_unknown, mut nonzero_ts, mut nonzero_block) = (0, false, false);
    let (mut empty, mut crowded, mut with_data) = (false, false, false);
    for seed in 0..2000 {
        let input = bytes(seed, 256);
        let option = TcpOption::arbitrary(&mut Unstructured::new(&input)).unwrap();
        kinds.insert(option.kind());
        match option {
            TcpOption::Unknown { data, .. } => longest_unknown = longest_unknown.max(data.len()),
            TcpOption::Timestamp(ts) => nonzero_ts |= ts != Timestamp::default(),
            TcpOption::Sack(b) => nonzero_block |= b.iter().any(|b| *b != SackBlock::default()),
            _ => {}
        }
        let opts = Options::arbitrary(&mut Unstructured::new(&input)).unwrap();
        empty |= opts.is_empty();
        crowded |= opts.iter().filter(|o| *o != TcpOption::Nop).count() >= 3;
        let seg = Segment::arbitrary(&mut Unstructured::new(&input)).unwrap();
        with_data |= !seg.payload.is_empty() && seg.src_port != 0;
    }
    for kind in [0, 1, 2, 3, 4, 5, 8, 34, 254] {
        assert!(kinds.contains(&kind), "kind {kind} never generated");
    }
    assert!(
        kinds.iter().any(|k| *k > 8 && *k != 34 && *k != 254),
        "no unknown kind"
    );
    assert!((21..=38).contains(&longest_unknown), "{longest_unknown}");
    assert!(nonzero_ts && nonzero_block);
    assert!(empty && crowded && with_data);
}
