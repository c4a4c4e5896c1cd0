//! Option parsing: arbitrary option areas never panic, the iterator, the
//! list parser, the validated block and the one-pass reader (its TCP Fast
//! Open cookie included) agree, and building from typed options gives a
//! block that reads back the same options.

use crate::Verdict;
use arbitrary::{Arbitrary, Unstructured};
use vtcp_wire::{
    OptionValues, Options, OptionsIter, TcpOption, get_fast_open, parse_options, validate_options,
};

/// Runs one input.
pub fn run(data: &[u8]) -> Verdict {
    let listed = parse_options(data);
    let iterated: Result<Vec<_>, _> = OptionsIter::new(data).collect();
    assert_eq!(listed, iterated);
    assert_eq!(validate_options(data).is_ok(), listed.is_ok());
    if let Ok(block) = Options::from_bytes(data) {
        assert_eq!(block.as_bytes(), data);
        assert_eq!(block.iter().collect::<Vec<_>>(), listed.unwrap());
        let _ = (
            block.mss(),
            block.wscale(),
            block.sack_blocks(),
            block.timestamp(),
        );
        // The one-pass reader's TFO option (RFC 7413) is the list's: a
        // request, a valid cookie, or one of a bad length kept apart.
        let values = OptionValues::parse(data).expect("validated");
        assert_eq!(values.fast_open, get_fast_open(block.iter()));
        if let Some(cookie) = values.fast_open.and_then(|f| f.cookie()) {
            assert!((4..=16).contains(&cookie.len()) && cookie.len().is_multiple_of(2));
        }
    }

    let mut u = Unstructured::new(data);
    if let Ok(list) = Vec::<TcpOption<'_>>::arbitrary(&mut u)
        && let Ok(block) = Options::build(&list)
    {
        let read: Vec<_> = block.iter().collect();
        // What was built reads back first, then only NOP padding (or
        // nothing after End).
        let end = list
            .iter()
            .position(|o| *o == TcpOption::End)
            .map_or(list.len(), |i| i + 1);
        assert_eq!(&read[..end], &list[..end]);
        assert!(read[end..].iter().all(|o| *o == TcpOption::Nop));
        assert!(block.len() % 4 == 0 && block.len() <= 40);
    }
    Verdict::Keep
}
