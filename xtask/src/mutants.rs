//! `cargo xtask mutants [CRATE...]`: mutation testing with cargo-mutants,
//! each crate against its own tests only (people take single crates, so
//! each crate's tests must catch a broken line of it). Outside the CI
//! gate: it takes minutes per crate. Mutants that cannot change behaviour
//! are listed with their reasons in `.cargo/mutants.toml`; the scores are
//! in docs/testing.md.

use std::process::Command;

use crate::metadata;
use crate::util::{cargo, exec, succeeds};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if !succeeds(Command::new("cargo").args(["mutants", "--version"])) {
        exec(cargo().args(["install", "cargo-mutants", "--locked"]))?;
    }
    let crates: Vec<String> = if args.is_empty() {
        // The crates below vtcp-conn, which the issue holds to 95 %.
        [
            "vtcp-seq",
            "vtcp-rto",
            "vtcp-cookie",
            "vtcp-cc",
            "vtcp-buf",
            "vtcp-wire",
        ]
        .map(String::from)
        .to_vec()
    } else {
        args.to_vec()
    };
    let known: Vec<String> = metadata::packages()?.into_iter().map(|p| p.name).collect();
    let mut failed = Vec::new();
    for krate in &crates {
        if !known.contains(krate) {
            return Err(format!("no crate {krate} in the workspace"));
        }
        let out = format!("target/mutants/{krate}");
        std::fs::create_dir_all(crate::util::root().join(&out))
            .map_err(|e| format!("{out}: {e}"))?;
        let mut cmd = cargo();
        cmd.args([
            "mutants",
            "--package",
            krate,
            "--test-package",
            krate,
            "--all-features",
            "--jobs",
            "2",
            "--output",
            &out,
        ]);
        eprintln!("$ {}", crate::util::describe(&cmd));
        let status = cmd
            .status()
            .map_err(|e| format!("cannot start cargo mutants: {e}"))?;
        // cargo-mutants exits with 3 when mutants timed out and none was
        // missed: a timeout counts as caught (an endless loop is noticed).
        if !status.success() && status.code() != Some(3) {
            failed.push(format!(
                "{krate} (missed mutants: {out}/mutants.out/missed.txt)"
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("mutants survived in {}", failed.join(", ")))
    }
}
