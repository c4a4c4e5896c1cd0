//! `cargo xtask ci`: the gate. Runs every step even after one fails, then
//! prints a summary and fails if any step did.

use std::process::Command;
use std::time::Instant;

use crate::metadata;
use crate::util::{cargo, exec, root, succeeds};

/// Seconds each fuzz target runs in the smoke (`cargo xtask fuzz smoke`
/// runs it alone).
pub(crate) const FUZZ_SMOKE_SECONDS: u32 = 20;

struct Step {
    name: &'static str,
    action: Box<dyn Fn() -> Result<(), String>>,
}

fn step(name: &'static str, action: impl Fn() -> Result<(), String> + 'static) -> Step {
    Step {
        name,
        action: Box::new(action),
    }
}

fn ensure_components() -> Result<(), String> {
    for (tool, component) in [("rustfmt", "rustfmt"), ("clippy-driver", "clippy")] {
        if !succeeds(Command::new(tool).arg("--version")) {
            exec(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

/// Builds `tests/no-std`, a `#![no_std]` static library with its own
/// panic handler that uses every `#![no_std]` crate of the workspace: a
/// `std` anywhere below one of them fails it (a duplicate `panic_impl`).
/// Building those crates for the host, where `std` is always there, would
/// not notice.
fn no_std_build() -> Result<(), String> {
    let check = root().join("tests/no-std/Cargo.toml");
    let manifest =
        std::fs::read_to_string(&check).map_err(|e| format!("{}: {e}", check.display()))?;
    for krate in metadata::no_std()? {
        if !manifest.contains(&format!("{} = {{ path", krate.name)) {
            return Err(format!(
                "{} is #![no_std] but tests/no-std does not use it",
                krate.name
            ));
        }
    }
    exec(
        cargo()
            .args(["build", "--locked", "--manifest-path"])
            .arg(&check),
    )
}

/// A target without Linux for the portable build: macOS on x86-64.
const PORTABLE_TARGET: &str = "x86_64-apple-darwin";

/// The IP layer (`vtcp_tun::IpStack`, framing, ICMP, UDP, coalescing) and
/// everything below it build for an operating system that is not Linux,
/// as a VPN on macOS, iOS, Android or Windows needs: `cargo check` of
/// `vtcp-tun`'s library for macOS, the target installed with rustup when
/// missing. Only the Linux device, driver, namespaces and shards are left
/// out there.
fn portable_build() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !installed.lines().any(|t| t.trim() == PORTABLE_TARGET) {
        exec(Command::new("rustup").args(["target", "add", PORTABLE_TARGET]))?;
    }
    exec(cargo().args([
        "check",
        "--locked",
        "-p",
        "vtcp-tun",
        "--lib",
        "--target",
        PORTABLE_TARGET,
    ]))
}

/// The declared `rust-version` is a toolchain this machine has, and the
/// workspace builds with it: a toolchain of that name if rustup has one,
/// else the one running (which then must be that version). Toolchains
/// cannot be downloaded here, so the declaration follows what is checked.
fn rust_version() -> Result<(), String> {
    let declared = metadata::packages()?
        .into_iter()
        .find_map(|p| p.rust_version)
        .ok_or("no rust-version declared")?;
    let toolchains = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if let Some(name) = toolchains
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|t| {
            *t == declared
                || t.starts_with(&format!("{declared}."))
                || t.starts_with(&format!("{declared}-"))
        })
    {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(root()).arg(format!("+{name}")).args([
            "check",
            "--workspace",
            "--all-targets",
            "--locked",
        ]);
        return exec(&mut cmd);
    }
    let out = Command::new("rustc")
        .arg("--version")
        .output()
        .map_err(|e| format!("rustc: {e}"))?;
    let running = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = running.split_whitespace().nth(1).unwrap_or("");
    if version == declared || version.starts_with(&format!("{declared}.")) {
        eprintln!("rust-version {declared}: the running {version} builds everything here");
        Ok(())
    } else {
        Err(format!(
            "rust-version {declared} is declared but neither installed nor running ({running}): \
             declare what CI checks"
        ))
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let skip_fuzz = args.iter().any(|a| a == "--no-fuzz");
    let mut steps = vec![
        step("toolchain components", ensure_components),
        step("format", || {
            exec(cargo().args(["fmt", "--all", "--check"]))?;
            exec(cargo().args([
                "fmt",
                "--all",
                "--check",
                "--manifest-path",
                "fuzz/Cargo.toml",
            ]))?;
            exec(cargo().args([
                "fmt",
                "--all",
                "--check",
                "--manifest-path",
                "tests/no-std/Cargo.toml",
            ]))
        }),
        step("clippy", || {
            exec(cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--locked",
                "--",
                "-D",
                "warnings",
            ]))
        }),
        step("no_std build", no_std_build),
        step("portable IP layer", portable_build),
        step("rust-version", rust_version),
        step("tests", || {
            exec(cargo().args(["test", "--workspace", "--all-features", "--locked"]))
        }),
        step("docs", || {
            exec(
                cargo()
                    .args([
                        "doc",
                        "--workspace",
                        "--no-deps",
                        "--all-features",
                        "--locked",
                    ])
                    .env("RUSTDOCFLAGS", "-D warnings"),
            )
        }),
    ];
    steps.push(step("soak", || crate::soak::run(&[])));
    steps.push(step("interop lab", || crate::interop::run(&[])));
    steps.push(step("conformance", || crate::conformance::run(&[])));
    if !skip_fuzz {
        steps.push(step("fuzz smoke", || {
            crate::fuzz::smoke(FUZZ_SMOKE_SECONDS)
        }));
    }

    let mut results = Vec::new();
    for s in &steps {
        eprintln!("\n=== {} ===", s.name);
        let start = Instant::now();
        let outcome = (s.action)();
        results.push((s.name, start.elapsed(), outcome));
    }

    println!("\ncargo xtask ci summary");
    let mut failed = 0;
    for (name, elapsed, outcome) in &results {
        match outcome {
            Ok(()) => println!("  ok    {name:<22} {:>6.1} s", elapsed.as_secs_f64()),
            Err(e) => {
                failed += 1;
                println!("  FAIL  {name:<22} {:>6.1} s  {e}", elapsed.as_secs_f64());
            }
        }
    }
    if skip_fuzz {
        println!("  skip  fuzz smoke (--no-fuzz)");
    }
    if let Some(why) = crate::interop::unavailable() {
        println!("  SKIPPED the interop lab's scenarios: {why}");
    }
    if failed == 0 {
        println!("all {} steps passed", results.len());
        Ok(())
    } else {
        Err(format!("{failed} of {} steps failed", results.len()))
    }
}
