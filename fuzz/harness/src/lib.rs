//! The fuzz targets' code, one module per target: each `run` takes the
//! bytes libFuzzer hands over and either checks the target's invariants
//! (panicking when one fails) or rejects the input.
//!
//! Two callers run the same functions: the cargo-fuzz binaries in
//! `fuzz/fuzz_targets/` (each one line, [`fuzz_target!`]), built with
//! `cfg(fuzzing)` and a sanitizer, and this crate's test
//! `tests/regressions.rs`, which replays every input kept in
//! `fuzz/regressions/TARGET/` in every `cargo test` of the workspace.
//!
//! Outside `cfg(fuzzing)` two things differ, both on purpose of the crates
//! below: `verify_tcp_checksum` checks checksums (a fuzz build answers
//! `true` to reach the code behind it), and `conn_ops`' `SkipStream` does
//! nothing (`Conn::fuzz_skip_stream` exists only in fuzz builds). A
//! regression input that needs either is replayed faithfully by the
//! smoke run of `cargo xtask ci`, which runs the fuzz binaries over
//! `fuzz/regressions` too.

use arbitrary::{Arbitrary, Unstructured};

/// What a target made of one input, as libFuzzer's `Corpus`: whether the
/// input may join the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The input ran.
    Keep,
    /// The input does not decode as the target's input type: nothing ran.
    Reject,
}

/// Decodes `data` as `libfuzzer_sys::fuzz_target!` decodes a typed input
/// (too short for the type's least size, or not decodable: rejected) and
/// runs `run` on it.
pub(crate) fn typed<'a, T: Arbitrary<'a>>(data: &'a [u8], run: impl FnOnce(T)) -> Verdict {
    if data.len() < T::size_hint(0).0 {
        return Verdict::Reject;
    }
    match T::arbitrary_take_rest(Unstructured::new(data)) {
        Ok(input) => {
            run(input);
            Verdict::Keep
        }
        Err(_) => Verdict::Reject,
    }
}

pub mod buf_recv;
pub mod buf_send;
pub mod cc_ops;
pub mod conn_ops;
pub mod conn_pair;
pub mod cookie;
pub mod drill_script;
pub mod icmp_report;
pub mod pcap_read;
pub mod rto_ops;
pub mod stack_ops;
pub mod tun_vnet_gro;
pub mod wire_checksum;
pub mod wire_options;
pub mod wire_parse;
pub mod wire_roundtrip;

/// A target's entry point: one input's bytes in, its verdict out (a
/// broken invariant panics).
pub type Run = fn(&[u8]) -> Verdict;

/// Every target by name (its `fuzz/Cargo.toml` binary and its directories
/// under `fuzz/corpus` and `fuzz/regressions`), with its `run`.
pub const TARGETS: &[(&str, Run)] = &[
    ("buf_recv", buf_recv::run),
    ("buf_send", buf_send::run),
    ("cc_ops", cc_ops::run),
    ("conn_ops", conn_ops::run),
    ("conn_pair", conn_pair::run),
    ("cookie", cookie::run),
    ("drill_script", drill_script::run),
    ("icmp_report", icmp_report::run),
    ("pcap_read", pcap_read::run),
    ("rto_ops", rto_ops::run),
    ("stack_ops", stack_ops::run),
    ("tun_vnet_gro", tun_vnet_gro::run),
    ("wire_checksum", wire_checksum::run),
    ("wire_options", wire_options::run),
    ("wire_parse", wire_parse::run),
    ("wire_roundtrip", wire_roundtrip::run),
];

/// The `run` of the target called `name`.
pub fn target(name: &str) -> Option<Run> {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, run)| run)
}

/// A cargo-fuzz binary for the target module `$name`: `fuzz_target!(conn_ops);`
/// in a `#![no_main]` file of the fuzz crate (which depends on
/// `libfuzzer-sys`).
#[macro_export]
macro_rules! fuzz_target {
    ($name:ident) => {
        libfuzzer_sys::fuzz_target!(|data: &[u8]| -> libfuzzer_sys::Corpus {
            match $crate::$name::run(data) {
                $crate::Verdict::Keep => libfuzzer_sys::Corpus::Keep,
                $crate::Verdict::Reject => libfuzzer_sys::Corpus::Reject,
            }
        });
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_input_too_short_for_its_type_is_rejected_unrun() {
        let mut ran = false;
        let got = typed(&[1, 2, 3], |_: (u64, u64)| ran = true);
        assert_eq!((got, ran), (Verdict::Reject, false));
        let got = typed(&[7; 16], |x: (u64, u64)| {
            ran = x == (0x0707_0707_0707_0707, 0x0707_0707_0707_0707);
        });
        assert_eq!((got, ran), (Verdict::Keep, true));
    }

    #[test]
    fn targets_are_found_by_name() {
        assert!(target("conn_ops").is_some());
        assert!(target("no_such_target").is_none());
        assert_eq!(
            target("wire_parse").map(|run| run(&[])),
            Some(Verdict::Keep)
        );
    }
}
