//! `cargo xtask fuzz`: cargo-fuzz campaigns, their corpora and
//! regressions, and the short smoke run that `ci` makes of every target.
//!
//! With a nightly toolchain installed, targets are built with it and
//! AddressSanitizer; otherwise with stable and `--sanitizer none`.
//!
//! - `fuzz campaign [TARGET...] --time S [--jobs N]`: `campaign.rs`.
//! - `fuzz seed`: the committed corpora's seeds, `seed.rs`.
//! - `fuzz triage TARGET ARTIFACT`: a crash into a regression, `triage.rs`.
//!
//! Where things live: `fuzz/corpus/TARGET/` (committed, minimised; a
//! campaign grows it in place), `fuzz/seeds/TARGET/` (hand-written seeds,
//! read-only), `fuzz/regressions/TARGET/` (inputs that once crashed,
//! replayed by `cargo test -p vtcp-fuzz-harness` and the smoke),
//! `fuzz/artifacts/TARGET/` (libFuzzer's crashes, not committed).

mod campaign;
mod coverage;
mod seed;
mod triage;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{cargo, exec, root, succeeds};

/// Every fuzz target, as named in `fuzz/Cargo.toml`.
pub(crate) fn targets() -> Result<Vec<String>, String> {
    let manifest = std::fs::read_to_string(root().join("fuzz/Cargo.toml"))
        .map_err(|e| format!("fuzz/Cargo.toml: {e}"))?;
    let names: Vec<String> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|bin| {
            let line = bin.lines().find(|l| l.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_owned())
        })
        .collect();
    if names.is_empty() {
        return Err("fuzz/Cargo.toml names no target".into());
    }
    Ok(names)
}

/// `target` if `fuzz/Cargo.toml` names it, else an error listing them.
fn known(target: &str) -> Result<(), String> {
    let known = targets()?;
    if known.iter().any(|t| t == target) {
        Ok(())
    } else {
        Err(format!(
            "no fuzz target `{target}`; targets: {}",
            known.join(", ")
        ))
    }
}

/// A target's directory under `fuzz/KIND` (`corpus`, `seeds`,
/// `regressions`, `artifacts`).
fn dir(kind: &str, target: &str) -> PathBuf {
    root().join("fuzz").join(kind).join(target)
}

/// The regular files of `dir`, sorted (none if it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// How to build fuzz targets on this machine.
pub(crate) struct Toolchain {
    nightly: bool,
}

impl Toolchain {
    /// Picks nightly with AddressSanitizer when nightly is installed, and
    /// installs cargo-fuzz when it is missing.
    pub(crate) fn detect() -> Result<Self, String> {
        let nightly =
            succeeds(Command::new("rustup").args(["run", "nightly", "rustc", "--version"]));
        if !succeeds(cargo().args(["fuzz", "--version"])) {
            eprintln!("cargo-fuzz is missing; installing it");
            exec(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
        }
        Ok(Self { nightly })
    }

    /// A `cargo fuzz SUBCOMMAND` command with the toolchain's flags.
    pub(crate) fn cargo_fuzz(&self, subcommand: &str) -> Command {
        let mut cmd = self.cargo_fuzz_unsanitized(subcommand);
        if !self.nightly {
            cmd.args(["--sanitizer", "none"]);
        }
        cmd
    }

    /// `cargo fuzz SUBCOMMAND` on the toolchain, its sanitizer left to the
    /// caller.
    fn cargo_fuzz_unsanitized(&self, subcommand: &str) -> Command {
        let mut cmd = if self.nightly {
            let mut c = Command::new("rustup");
            c.args(["run", "nightly", "cargo", "fuzz", subcommand]);
            c
        } else {
            let mut c = cargo();
            c.args(["fuzz", subcommand]);
            c
        };
        cmd.current_dir(root());
        cmd
    }

    /// `rustc` of the toolchain the targets are built with.
    fn rustc(&self) -> Command {
        if self.nightly {
            let mut c = Command::new("rustup");
            c.args(["run", "nightly", "rustc"]);
            c
        } else {
            Command::new("rustc")
        }
    }

    /// The toolchain's name for rustup.
    fn name(&self) -> &'static str {
        if self.nightly { "nightly" } else { "stable" }
    }

    pub(crate) fn describe(&self) -> &'static str {
        if self.nightly {
            "nightly, AddressSanitizer"
        } else {
            "stable, no sanitizer"
        }
    }
}

/// Builds every target as campaigns do (optimised, with debug assertions:
/// a `--dev` build spent longer loading the committed corpora than
/// fuzzing, 41 s for buf_recv's 296 inputs), then runs each for `seconds`
/// from a copy of its
/// committed corpus (a scratch directory libFuzzer writes to; the
/// committed corpus and the seeds are read-only inputs), after replaying
/// its regression inputs. The tree is left as it was, but for
/// `fuzz/artifacts/` (ignored by git) if something crashes.
pub(crate) fn smoke(seconds: u32) -> Result<(), String> {
    let toolchain = Toolchain::detect()?;
    eprintln!("fuzz smoke on {}", toolchain.describe());
    exec(&mut toolchain.cargo_fuzz("build"))?;
    let scratch = std::env::temp_dir().join(format!("vtcp-fuzz-smoke-{}", std::process::id()));
    let result = targets()?.iter().try_for_each(|target| {
        replay_regressions(&toolchain, target)?;
        let fresh = scratch.join(target);
        std::fs::create_dir_all(&fresh).map_err(|e| format!("{}: {e}", fresh.display()))?;
        let mut cmd = toolchain.cargo_fuzz("run");
        cmd.arg(target).arg(&fresh);
        for kind in ["corpus", "seeds"] {
            let d = dir(kind, target);
            if d.is_dir() {
                cmd.arg(d);
            }
        }
        cmd.args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
        ]);
        exec(&mut cmd)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Runs the fuzz binary of `target` once on each file of
/// `fuzz/regressions/TARGET/` (files as arguments: libFuzzer runs them and
/// writes nothing).
fn replay_regressions(toolchain: &Toolchain, target: &str) -> Result<(), String> {
    let inputs = files(&dir("regressions", target));
    if inputs.is_empty() {
        return Ok(());
    }
    let mut cmd = toolchain.cargo_fuzz("run");
    cmd.arg(target).args(&inputs);
    exec(&mut cmd)
}

const USAGE: &str = "usage:
  cargo xtask fuzz campaign [TARGET...] [--time SECONDS] [--jobs N] [--no-coverage]
  cargo xtask fuzz TARGET [--time SECONDS]       (a campaign of one target)
  cargo xtask fuzz seed [--no-cmin]              (seed fuzz/corpus from captures and scripts)
  cargo xtask fuzz triage TARGET ARTIFACT [--name NAME]
  cargo xtask fuzz smoke [SECONDS]               (CI's step alone: every target, 20 s each)
  cargo xtask fuzz --list";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("--list") => {
            for t in targets()? {
                println!("{t}");
            }
            Ok(())
        }
        Some("campaign") => campaign::run(&args[1..]),
        Some("seed") => seed::run(&args[1..]),
        Some("triage") => triage::run(&args[1..]),
        Some("smoke") => match &args[1..] {
            [] => smoke(crate::ci::FUZZ_SMOKE_SECONDS),
            [s] => smoke(s.parse().map_err(|_| "smoke takes a number of seconds")?),
            _ => Err(USAGE.into()),
        },
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(t) if !t.starts_with('-') => campaign::run(args),
        _ => Err(USAGE.into()),
    }
}
