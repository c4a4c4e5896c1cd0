//! Arbitrary bytes as a TCP segment: never a panic; what parses re-encodes
//! to the same bytes, and the view agrees with the owned segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtcp_wire::{Segment, SegmentView};

fuzz_target!(|data: &[u8]| {
    let view = SegmentView::new_checked(data);
    match Segment::parse(data) {
        Ok(seg) => {
            assert_eq!(seg.to_bytes(), data);
            let view = view.expect("a parsed segment has a valid view");
            assert_eq!(view.seq(), seg.seq);
            assert_eq!(view.flags(), seg.flags);
            assert_eq!(view.payload(), seg.payload);
            assert!(view.options().all(|o| o.is_ok()));
        }
        Err(e) => {
            if let Ok(view) = view {
                assert_eq!(view.options().find_map(Result::err), Some(e));
            }
        }
    }
});
