//! Arbitrary bytes as a TCP segment: never a panic; what parses re-encodes
//! to the same bytes, and the view agrees with the owned segment. The
//! same bytes as a super-segment cut by `tso::split` (its size from the
//! first octet): never a panic, and the pieces carry the payload in
//! order, each at its sequence number.

use crate::Verdict;
use vtcp_wire::{Segment, SegmentView, tso};

/// Runs one input.
pub fn run(data: &[u8]) -> Verdict {
    let size = usize::from(data.first().copied().unwrap_or(0));
    let mut scratch = [0u8; 60 + 256];
    let mut payload = Vec::new();
    let cut = tso::split(data, size, None, &mut scratch, |piece| {
        let v = SegmentView::new_checked(piece).expect("a piece has a valid header");
        let whole = SegmentView::new_checked(data).expect("cut from a valid segment");
        assert_eq!(v.seq(), whole.seq() + payload.len() as u32);
        assert!(
            size == 0 || v.payload().len() <= size || v.payload().len() == whole.payload().len()
        );
        payload.extend_from_slice(v.payload());
    });
    if cut.is_ok() {
        let whole = SegmentView::new_checked(data).expect("cut from a valid segment");
        assert_eq!(payload, whole.payload());
    }
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
    Verdict::Keep
}
