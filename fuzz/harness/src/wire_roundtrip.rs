//! Arbitrary segments: emit then parse gives back the same segment and the
//! same bytes.

use crate::Verdict;
use vtcp_wire::Segment;

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |seg: Segment<&[u8]>| {
        let bytes = seg.to_bytes();
        let parsed = Segment::parse(&bytes).expect("an emitted segment parses");
        assert_eq!(parsed, seg);
        assert_eq!(parsed.to_bytes(), bytes);
        let mut short = vec![0u8; bytes.len() - 1];
        assert!(seg.emit(&mut short).is_err());
    })
}
