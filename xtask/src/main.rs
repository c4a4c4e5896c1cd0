//! Project automation for vtcp, run as `cargo xtask <command>`.
//!
//! - `ci`: the gate every change passes (format, lints, tests, docs, fuzz
//!   smoke).
//! - `fuzz campaign [TARGET...] --time SECONDS [--jobs N]`: fuzzing
//!   campaigns (`fuzz seed`, `fuzz triage TARGET ARTIFACT`: corpora and
//!   regressions); docs/testing.md.
//! - `interop [FILTER]`: the Linux interop lab (root, `ip`, `/dev/net/tun`).
//! - `soak`: the simulator's 6 GiB transfers, in release.
//! - `conformance [--bless]`: packetdrill scripts through `vtcp drill`, the
//!   FreeBSD TCP test suite against its expected results.
//! - `differential [--time SECS] [--seed N] [--out DIR]`: random scripts
//!   against Linux and vtcp, the differences filed by class.
//! - `capture-vectors`: records the Linux test vectors in `tests/vectors/`.
//! - `bench [ARGS…]`: the criterion benchmarks.
//! - `mutants [--shard K/N] [CRATE...]`, `mutants --report CRATE`:
//!   mutation testing (cargo-mutants), each crate against its own tests,
//!   in resumable shards; docs/testing.md.
//! - `release --dry-run`: checks versions and packages every publishable
//!   crate in dependency order.
#![forbid(unsafe_code)]

mod bench;
mod ci;
mod conformance;
mod differential;
mod fuzz;
mod interop;
mod metadata;
mod mutants;
mod release;
mod soak;
#[cfg(test)]
mod tidy;
mod util;
mod vectors;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                          format, lints, tests, docs and a fuzz smoke: the gate
  fuzz campaign [TARGET...] [--time SECS] [--jobs N]
                              fuzz targets in parallel, minimise their corpora, measure coverage
  fuzz seed                   seed fuzz/corpus from the Linux captures and packetdrill scripts
  fuzz triage TARGET ARTIFACT minimise a crash into fuzz/regressions/TARGET (a test)
  fuzz TARGET [--time SECS]   one target's campaign; `fuzz --list` lists them
  interop [TEST FILTER...]    vtcp against the Linux kernel in network namespaces (root)
  soak                        6 GiB simulated transfers across the 2^31 and 2^32 edges (release)
  conformance [--bless]       packetdrill scripts and the FreeBSD suite through `vtcp drill`
  differential [--time SECS] [--seed N] [--out DIR]
                              random scripts against Linux and vtcp, differences by class (root)
  capture-vectors             record Linux test captures and tshark's decode in tests/vectors (root)
  bench [CRITERION ARGS...]   run the criterion benchmarks
  mutants [--shard K/N] [--jobs J] [--timeout SECS] [--force] [CRATE...]
                              mutation testing, each crate against its own tests, in shards
  mutants --report CRATE...   the shards' outcomes merged: the score and the missed mutants
  release --dry-run           check versions and package every publishable crate";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        "ci" => ci::run(rest),
        "fuzz" => fuzz::run(rest),
        "interop" => interop::run(rest),
        "soak" => soak::run(rest),
        "conformance" => conformance::run(rest),
        "capture-vectors" => vectors::run(rest),
        "differential" => differential::run(rest),
        "bench" => bench::run(rest),
        "release" => release::run(rest),
        "mutants" => mutants::run(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
