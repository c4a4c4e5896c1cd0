//! `cargo xtask fuzz triage TARGET ARTIFACT [--name NAME]`: a crash found
//! by fuzzing becomes a regression input. `cargo fuzz tmin` minimises the
//! artifact, and the result is kept as `fuzz/regressions/TARGET/NAME`
//! (NAME: the artifact's file name unless given), which
//! `cargo test -p vtcp-fuzz-harness` replays through the target's code
//! (failing until the bug is fixed) and the CI smoke through the fuzz
//! binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{Toolchain, known};
use crate::util::{describe, root};

/// A file name for a regression input: not empty, no path separators, not
/// hidden.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\'])
}

/// Keeps `input` as `regressions/TARGET/NAME`. The same input kept again
/// under its name is no change; another input under a name already taken
/// is refused.
pub(super) fn place(
    regressions: &Path,
    target: &str,
    name: &str,
    input: &[u8],
) -> Result<PathBuf, String> {
    if !valid_name(name) {
        return Err(format!("`{name}` cannot name a regression file"));
    }
    let dir = regressions.join(target);
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(old) if old == input => return Ok(path),
        Ok(_) => {
            return Err(format!(
                "{} holds another input: pick a --name",
                path.display()
            ));
        }
        Err(_) => {}
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&path, input).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// What `cargo fuzz tmin` made of an artifact.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Tmin {
    /// A smaller input that crashes the same way, at this path.
    Minimized(PathBuf),
    /// The artifact crashes and nothing smaller does.
    AlreadyMinimal,
    /// The artifact does not crash the target.
    NoCrash,
}

/// Reads cargo-fuzz's `Minimized artifact:` line (and the path after it)
/// and libFuzzer's `CRASH_MIN` lines.
pub(super) fn read_tmin(tmin_output: &str) -> Tmin {
    let mut lines = tmin_output.lines();
    if lines.any(|l| l.trim() == "Minimized artifact:")
        && let Some(path) = lines.map(str::trim).find(|l| !l.is_empty())
    {
        return Tmin::Minimized(root().join(path));
    }
    if tmin_output.contains("caused a crash") && tmin_output.contains("failed to minimize beyond") {
        Tmin::AlreadyMinimal
    } else {
        Tmin::NoCrash
    }
}

pub(super) fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: cargo xtask fuzz triage TARGET ARTIFACT [--name NAME]";
    let mut name = None;
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--name" {
            name = Some(it.next().ok_or(usage)?.clone());
        } else {
            positional.push(arg.clone());
        }
    }
    let [target, artifact] = positional.as_slice() else {
        return Err(usage.into());
    };
    known(target)?;
    let artifact = std::path::absolute(artifact).map_err(|e| format!("{artifact}: {e}"))?;
    if !artifact.is_file() {
        return Err(format!("{}: no such file", artifact.display()));
    }
    let name = match name {
        Some(n) => n,
        None => artifact
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or("the artifact has no file name")?,
    };

    let toolchain = Toolchain::detect()?;
    let mut cmd = toolchain.cargo_fuzz("tmin");
    cmd.arg(target).arg(&artifact).stderr(Stdio::piped());
    eprintln!("$ {}", describe(&cmd));
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(&cmd)))?;
    let text = String::from_utf8_lossy(&out.stderr);
    eprint!("{text}");
    let minimized = match read_tmin(&text) {
        Tmin::Minimized(path) => path,
        Tmin::AlreadyMinimal => artifact.clone(),
        Tmin::NoCrash => {
            return Err(format!(
                "{} does not crash `{target}` ({}): nothing to keep",
                artifact.display(),
                out.status
            ));
        }
    };
    let input = std::fs::read(&minimized).map_err(|e| format!("{}: {e}", minimized.display()))?;
    let kept = place(&root().join("fuzz/regressions"), target, &name, &input)?;
    println!(
        "kept {} ({} octets, from {}).\n\
         `cargo test -p vtcp-fuzz-harness --test regressions` replays it and fails until the \
         bug is fixed; commit it with the fix.",
        kept.display(),
        input.len(),
        artifact.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-triage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn an_input_is_kept_under_its_target_and_name_once() {
        let d = scratch("kept");
        let p = place(&d, "rto_ops", "crash-1", b"\x00\x01").unwrap();
        assert_eq!(p, d.join("rto_ops/crash-1"));
        assert_eq!(std::fs::read(&p).unwrap(), b"\x00\x01");
        // Again: no change.
        assert_eq!(place(&d, "rto_ops", "crash-1", b"\x00\x01").unwrap(), p);
        // Another input under that name: refused, the first kept.
        assert!(place(&d, "rto_ops", "crash-1", b"\x02").is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"\x00\x01");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_name_that_is_a_path_is_refused() {
        let d = scratch("names");
        for bad in ["", ".hidden", "../escape", "a/b", "a\\b"] {
            assert!(place(&d, "rto_ops", bad, b"x").is_err(), "{bad:?}");
        }
        assert!(!d.exists());
    }

    #[test]
    fn tmin_s_result_is_found_in_its_output() {
        let out = "\n────\n\nMinimized artifact:\n\n\tfuzz/artifacts/rto_ops/minimized-from-abc\n\nOutput of `std::fmt::Debug`:\n";
        assert_eq!(
            read_tmin(out),
            Tmin::Minimized(root().join("fuzz/artifacts/rto_ops/minimized-from-abc"))
        );
        let minimal = "CRASH_MIN: '/tmp/c' (21 bytes) caused a crash. Will try to minimize it further\n\
             INFO: Done MinimizeCrashInputInternalStep, no crashes found\n\
             CRASH_MIN: failed to minimize beyond /tmp/c (21 bytes), exiting\n";
        assert_eq!(read_tmin(minimal), Tmin::AlreadyMinimal);
        let clean = "CRASH_MIN: '/tmp/c' (21 bytes) did not crash\n";
        assert_eq!(read_tmin(clean), Tmin::NoCrash);
    }
}
