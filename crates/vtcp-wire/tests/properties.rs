//! Property tests of the codec: emit∘parse is the identity, parsing never
//! panics, and what parses re-encodes to the same bytes.

use arbitrary::{Arbitrary, Unstructured};
use quickcheck::{QuickCheck, TestResult};
use vtcp_wire::checksum::{self, PseudoHeader};
use vtcp_wire::{HEADER_LEN, Options, OptionsIter, Segment, SegmentView, WireError};

/// Builds a segment from random bytes with its `Arbitrary` impl, so
/// quickcheck and the fuzz targets share one generator.
fn segment_from(seed: &[u8]) -> Option<Segment<&[u8]>> {
    Segment::arbitrary(&mut Unstructured::new(seed)).ok()
}

fn qc() -> QuickCheck {
    QuickCheck::new().tests(2000).max_tests(20000)
}

#[test]
fn emit_then_parse_is_the_identity() {
    fn prop(seed: Vec<u8>) -> TestResult {
        let Some(seg) = segment_from(&seed) else {
            return TestResult::discard();
        };
        let bytes = seg.to_bytes();
        assert_eq!(bytes.len(), seg.buffer_len());
        let parsed = Segment::parse(&bytes).expect("an emitted segment parses");
        assert_eq!(parsed, seg);
        assert_eq!(parsed.to_bytes(), bytes);
        TestResult::passed()
    }
    qc().quickcheck(prop as fn(Vec<u8>) -> TestResult);
}

#[test]
fn parse_never_panics_and_reencodes_what_it_accepts() {
    fn prop(bytes: Vec<u8>) -> bool {
        match Segment::parse(&bytes) {
            Ok(seg) => seg.to_bytes() == bytes,
            Err(_) => true,
        }
    }
    qc().quickcheck(prop as fn(Vec<u8>) -> bool);
}

#[test]
fn mutated_segments_never_panic() {
    // Random bytes rarely get past the fixed header; flipping bytes of a
    // valid segment reaches the option parser's corners.
    fn prop(seed: Vec<u8>, flips: Vec<(u8, u8)>) -> TestResult {
        let Some(seg) = segment_from(&seed) else {
            return TestResult::discard();
        };
        let mut bytes = seg.to_bytes();
        for (at, value) in flips {
            let at = usize::from(at) % bytes.len();
            bytes[at] = value;
        }
        match Segment::parse(&bytes) {
            Ok(seg) => assert_eq!(seg.to_bytes(), bytes),
            Err(e) => {
                // The same error through the view and the option iterator.
                if let Ok(view) = SegmentView::new_checked(&bytes[..]) {
                    assert_eq!(view.options().find_map(Result::err), Some(e));
                }
            }
        }
        TestResult::passed()
    }
    qc().quickcheck(prop as fn(Vec<u8>, Vec<(u8, u8)>) -> TestResult);
}

#[test]
fn parse_with_values_is_parse_then_values() {
    // Flipped bytes of valid segments, as above: accepted and refused
    // alike, with the same error, the same segment and the same values.
    fn prop(seed: Vec<u8>, flips: Vec<(u8, u8)>) -> TestResult {
        let Some(seg) = segment_from(&seed) else {
            return TestResult::discard();
        };
        let mut bytes = seg.to_bytes();
        for (at, value) in flips {
            let at = usize::from(at) % bytes.len();
            bytes[at] = value;
        }
        let one_pass = Segment::parse_with_values(&bytes);
        let two = Segment::parse(&bytes).map(|s| {
            let v = s.options.values();
            (s, v)
        });
        assert_eq!(one_pass, two);
        TestResult::passed()
    }
    qc().quickcheck(prop as fn(Vec<u8>, Vec<(u8, u8)>) -> TestResult);
}

#[test]
fn options_iter_never_panics_and_terminates() {
    fn prop(area: Vec<u8>) -> bool {
        // Every step consumes at least one byte, so at most len items.
        OptionsIter::new(&area).count() <= area.len()
    }
    qc().quickcheck(prop as fn(Vec<u8>) -> bool);
}

#[test]
fn emit_refuses_a_short_buffer() {
    fn prop(seed: Vec<u8>, short_by: u8) -> TestResult {
        let Some(seg) = segment_from(&seed) else {
            return TestResult::discard();
        };
        let need = seg.buffer_len();
        let have = need.saturating_sub(usize::from(short_by).max(1));
        let mut buf = vec![0u8; have];
        TestResult::from_bool(seg.emit(&mut buf) == Err(WireError::BufferTooSmall { need, have }))
    }
    qc().quickcheck(prop as fn(Vec<u8>, u8) -> TestResult);
}

#[test]
fn checksum_of_emitted_segments_verifies_and_catches_any_single_bit_flip() {
    fn prop(seed: Vec<u8>, src: u32, dst: u32, bit: u16) -> TestResult {
        let Some(seg) = segment_from(&seed) else {
            return TestResult::discard();
        };
        let pseudo = PseudoHeader::V4 {
            src: src.into(),
            dst: dst.into(),
        };
        let mut buf = vec![0u8; seg.buffer_len()];
        let len = seg.emit_with_checksum(&mut buf, &pseudo).unwrap();
        assert!(checksum::verify_tcp_checksum(&pseudo, &buf[..len]));
        let bit = usize::from(bit) % (len * 8);
        buf[bit / 8] ^= 1 << (bit % 8);
        // One's-complement sums detect every single-bit error.
        TestResult::from_bool(!checksum::verify_tcp_checksum(&pseudo, &buf[..len]))
    }
    qc().quickcheck(prop as fn(Vec<u8>, u32, u32, u16) -> TestResult);
}

/// The values read in one pass (with its fast paths for Linux's layouts)
/// equal what the option list says, and errors agree with validation.
#[test]
fn option_values_agree_with_the_option_list() {
    fn check(area: &[u8]) {
        match vtcp_wire::parse_options(area) {
            Ok(list) => {
                let expected = vtcp_wire::OptionValues {
                    mss: vtcp_wire::get_mss(&list),
                    wscale: vtcp_wire::get_wscale(&list),
                    sack_permitted: vtcp_wire::has_sack_perm(&list),
                    sack_blocks: vtcp_wire::get_sack_blocks(&list),
                    timestamp: vtcp_wire::get_timestamp(&list),
                    fast_open: vtcp_wire::get_fast_open(&list),
                };
                assert_eq!(
                    vtcp_wire::OptionValues::parse(area),
                    Ok(expected),
                    "{area:?}"
                );
            }
            Err(e) => assert_eq!(vtcp_wire::OptionValues::parse(area), Err(e), "{area:?}"),
        }
    }
    fn prop(seed: Vec<u8>, linux_prefix: u8, tail: Vec<u8>) -> TestResult {
        // Start from Linux's layouts often, so the fast paths and their
        // near misses are both reached.
        let mut area: Vec<u8> = match linux_prefix % 4 {
            0 => vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            3 => vec![
                1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 18, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0,
                20, 0, 0, 0, 30,
            ],
            1 => vec![
                2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
            ],
            _ => Vec::new(),
        };
        // Keep the layout exact half the time; otherwise grow it.
        if area.is_empty() || linux_prefix & 0x80 != 0 {
            area.extend(seed.iter().take(20));
        }
        check(&area);
        let mut mutated = area.clone();
        for (i, b) in tail.iter().enumerate().take(4) {
            if !mutated.is_empty() {
                let at = usize::from(*b) % mutated.len();
                mutated[at] = tail[(i + 1) % tail.len()];
            }
        }
        check(&mutated);
        TestResult::passed()
    }
    check(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    check(&[
        1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 9, 0, 0, 0, 10,
    ]);
    check(&[
        1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 18, 0, 0, 0, 9, 0, 0, 0, 10,
    ]);
    check(&[
        2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 15,
    ]);
    qc().quickcheck(prop as fn(Vec<u8>, u8, Vec<u8>) -> TestResult);
}

#[test]
fn malformed_headers_get_typed_errors() {
    assert_eq!(
        Segment::parse(&[0u8; 19]),
        Err(WireError::Truncated { len: 19 })
    );
    let mut hdr = [0u8; 20];
    hdr[12] = 4 << 4;
    assert_eq!(
        Segment::parse(&hdr),
        Err(WireError::DataOffsetTooSmall { words: 4 })
    );
    hdr[12] = 6 << 4;
    assert_eq!(
        Segment::parse(&hdr),
        Err(WireError::DataOffsetPastEnd {
            header_len: 24,
            len: 20
        })
    );
    let mut with_opts = [0u8; 24];
    with_opts[12] = 6 << 4;
    with_opts[HEADER_LEN..].copy_from_slice(&[2, 4, 5, 0xb4]);
    assert_eq!(
        Segment::parse(&with_opts).map(|s| s.options.mss()),
        Ok(Some(1460))
    );
    with_opts[HEADER_LEN + 1] = 5;
    assert_eq!(
        Segment::parse(&with_opts),
        Err(WireError::BadOptionLength {
            kind: 2,
            len: 5,
            offset: 0
        })
    );
    assert_eq!(
        Options::from_bytes(&[1, 1, 1]),
        Err(WireError::OptionsNotAligned { len: 3 })
    );
}
