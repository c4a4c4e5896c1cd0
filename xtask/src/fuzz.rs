//! `cargo xtask fuzz`: cargo-fuzz campaigns, and the short smoke run that
//! `ci` makes of every target.
//!
//! With a nightly toolchain installed, targets are built with it and
//! AddressSanitizer; otherwise with stable and `--sanitizer none`.

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
        let mut cmd = if self.nightly {
            let mut c = Command::new("rustup");
            c.args(["run", "nightly", "cargo", "fuzz", subcommand]);
            c
        } else {
            let mut c = cargo();
            c.args(["fuzz", subcommand, "--sanitizer", "none"]);
            c
        };
        cmd.current_dir(root());
        cmd
    }

    pub(crate) fn describe(&self) -> &'static str {
        if self.nightly {
            "nightly, AddressSanitizer"
        } else {
            "stable, no sanitizer"
        }
    }
}

/// Builds every target, then runs each for `seconds`.
pub(crate) fn smoke(seconds: u32) -> Result<(), String> {
    let toolchain = Toolchain::detect()?;
    eprintln!("fuzz smoke on {}", toolchain.describe());
    exec(toolchain.cargo_fuzz("build").arg("--dev"))?;
    for target in targets()? {
        campaign(&toolchain, &target, seconds, true)?;
    }
    Ok(())
}

fn campaign(toolchain: &Toolchain, target: &str, seconds: u32, dev: bool) -> Result<(), String> {
    let corpus = root().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let mut cmd = toolchain.cargo_fuzz("run");
    if dev {
        cmd.arg("--dev");
    }
    cmd.arg(target).arg(&corpus);
    let seeds = root().join("fuzz/seeds").join(target);
    if seeds.is_dir() {
        cmd.arg(seeds);
    }
    cmd.args([
        "--",
        &format!("-max_total_time={seconds}"),
        "-print_final_stats=1",
    ]);
    exec(&mut cmd)
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut target = None;
    let mut seconds = 600;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--list" => {
                for t in targets()? {
                    println!("{t}");
                }
                return Ok(());
            }
            "--time" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--time takes a number of seconds")?;
            }
            t if target.is_none() && !t.starts_with('-') => target = Some(t.to_owned()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let target = target.ok_or("usage: cargo xtask fuzz TARGET [--time SECONDS]")?;
    let known = targets()?;
    if !known.contains(&target) {
        return Err(format!(
            "no fuzz target `{target}`; targets: {}",
            known.join(", ")
        ));
    }
    let toolchain = Toolchain::detect()?;
    eprintln!(
        "fuzzing {target} for {seconds} s on {}",
        toolchain.describe()
    );
    campaign(&toolchain, &target, seconds, false)
}
