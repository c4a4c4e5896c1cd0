//! `cargo xtask ci`: the gate. Runs every step even after one fails, then
//! prints a summary and fails if any step did.

use std::process::Command;
use std::time::Instant;

use crate::util::{cargo, exec, succeeds};

/// Seconds each fuzz target runs in the smoke.
const FUZZ_SMOKE_SECONDS: u32 = 20;

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
        step("no_std build", || {
            exec(cargo().args([
                "build",
                "--locked",
                "--package",
                "vtcp-seq",
                "--package",
                "vtcp-wire",
                "--package",
                "vtcp-cc",
                "--package",
                "vtcp-rto",
                "--package",
                "vtcp-buf",
                "--package",
                "vtcp-cookie",
                "--no-default-features",
            ]))
        }),
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
