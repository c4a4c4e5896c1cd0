//! Every input kept in `fuzz/regressions/TARGET/` (crashes found by
//! fuzzing, minimised by `cargo xtask fuzz triage`) runs through its
//! target's code in every `cargo test`: a finding that comes back fails
//! here, naming the file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The files of each directory under `fuzz/KIND` (`regressions`,
/// `corpus`), by target name.
fn inputs(kind: &str) -> Vec<(String, Vec<PathBuf>)> {
    let root = fuzz_dir().join(kind);
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("fuzz/{kind}: {e}")) {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        out.push((name, files));
    }
    out.sort();
    out
}

/// Runs every input of `targets` through its target's code; panics
/// naming the files that fail, and returns how many ran.
fn replay(targets: Vec<(String, Vec<PathBuf>)>, kind: &str) -> usize {
    let mut failed = Vec::new();
    let mut count = 0;
    for (name, files) in targets {
        let run = vtcp_fuzz_harness::target(&name)
            .unwrap_or_else(|| panic!("fuzz/{kind}/{name}: no such fuzz target"));
        for file in files {
            let data = std::fs::read(&file).unwrap();
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "{kind} inputs that fail: {failed:#?}");
    count
}

#[test]
fn every_regression_input_runs_clean() {
    let count = replay(inputs("regressions"), "regressions");
    assert!(count > 0, "fuzz/regressions holds no input");
    eprintln!("{count} regression inputs replayed");
}

/// The corpora of the targets whose checks span a whole run (liveness,
/// counters) replay too: a change to the engine that stalls a transfer
/// one of their inputs makes, or breaks a bound, fails here and not only
/// in the next campaign.
#[test]
fn the_deep_targets_corpora_run_clean() {
    let deep = ["conn_pair", "stack_ops"];
    let targets: Vec<_> = inputs("corpus")
        .into_iter()
        .filter(|(name, _)| deep.contains(&name.as_str()))
        .collect();
    assert_eq!(targets.len(), deep.len(), "a corpus of {deep:?} is missing");
    let count = replay(targets, "corpus");
    eprintln!("{count} corpus inputs of {deep:?} replayed");
}

#[test]
fn every_fuzz_binary_is_a_target_here_and_calls_it() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|bin| bin.lines().find(|l| l.trim_start().starts_with("name")))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    let names: Vec<&str> = vtcp_fuzz_harness::TARGETS.iter().map(|(n, _)| *n).collect();
    let mut sorted = bins.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, names);
    for name in bins {
        let file = fuzz_dir().join(format!("fuzz_targets/{name}.rs"));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains(&format!("fuzz_target!({name});")),
            "{} does not run the harness's {name}",
            file.display()
        );
    }
}
