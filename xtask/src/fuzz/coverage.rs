//! A fuzz corpus's source coverage of the project's crates: `cargo fuzz
//! coverage` runs the corpus through a `-Cinstrument-coverage` build and
//! llvm-cov summarises the regions and lines of `crates/` it reached.
//!
//! llvm-cov must be the LLVM version of the rustc that built the targets:
//! the toolchain's `llvm-tools-preview` component (installed here with
//! rustup when missing), else a system `llvm-cov` only if its major
//! version matches rustc's LLVM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Toolchain, dir};
use crate::util::{describe, root};

/// llvm-cov and llvm-profdata of the right LLVM version, in one directory.
pub(super) struct Tools {
    bin: PathBuf,
    /// The host's target triple (cargo-fuzz's default target).
    host: String,
}

/// Covered of total, as llvm-cov counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Ratio {
    pub(super) covered: u64,
    pub(super) count: u64,
}

impl Ratio {
    /// `covered/count (p %)`.
    pub(super) fn percent(self) -> String {
        if self.count == 0 {
            return "0/0".into();
        }
        format!(
            "{:.1} % ({}/{})",
            self.covered as f64 * 100.0 / self.count as f64,
            self.covered,
            self.count
        )
    }
}

/// A corpus's coverage of the project's crates: all of `crates/` the
/// target links, and the crate it reaches most (the most regions
/// covered), which is usually the one it is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Coverage {
    pub(super) regions: Ratio,
    pub(super) lines: Ratio,
    /// The crate with the most regions covered, and its regions.
    pub(super) top: Option<(String, Ratio)>,
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed: {}",
            describe(cmd),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The major LLVM version in `rustc -vV`'s `LLVM version: 22.1.4` or
/// `llvm-cov --version`'s `LLVM version 14.0.6`.
pub(super) fn llvm_major(version_text: &str) -> Option<u32> {
    let line = version_text.lines().find(|l| l.contains("LLVM version"))?;
    let v = line.split("LLVM version").nth(1)?;
    v.trim_start_matches([':', ' '])
        .split('.')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Finds llvm-cov and llvm-profdata matching the toolchain's LLVM,
/// installing `llvm-tools-preview` if need be; the error says why
/// coverage cannot be measured.
pub(super) fn tools(toolchain: &Toolchain) -> Result<Tools, String> {
    let version = output(toolchain.rustc().arg("-vV"))?;
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or("rustc -vV names no host")?
        .to_owned();
    let want = llvm_major(&version).ok_or("rustc -vV names no LLVM version")?;
    let sysroot = output(toolchain.rustc().args(["--print", "sysroot"]))?;
    let bin = Path::new(sysroot.trim()).join(format!("lib/rustlib/{host}/bin"));
    let present = |d: &Path| d.join("llvm-cov").is_file() && d.join("llvm-profdata").is_file();
    if !present(&bin) {
        eprintln!(
            "llvm-tools-preview is missing on {}; installing it",
            toolchain.name()
        );
        let _ = output(Command::new("rustup").args([
            "component",
            "add",
            "llvm-tools-preview",
            "--toolchain",
            toolchain.name(),
        ]));
    }
    if present(&bin) {
        return Ok(Tools { bin, host });
    }
    let system = Path::new("/usr/bin");
    let system_major = output(Command::new(system.join("llvm-cov")).arg("--version"))
        .ok()
        .and_then(|v| llvm_major(&v));
    match system_major {
        Some(m) if m == want && present(system) => Ok(Tools {
            bin: system.to_path_buf(),
            host,
        }),
        Some(m) => Err(format!(
            "the toolchain's llvm-tools are missing and could not be installed, and \
             /usr/bin/llvm-cov is LLVM {m} where rustc's is LLVM {want}"
        )),
        None => Err(format!(
            "the toolchain's llvm-tools are missing and could not be installed, and no \
             system llvm-cov answers (rustc's LLVM is {want})"
        )),
    }
}

/// Reads the totals of `llvm-cov export -summary-only`.
pub(super) fn parse_export(json: &str) -> Result<Coverage, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("llvm-cov export: {e}"))?;
    let ratio = |totals: &serde_json::Value, kind: &str| -> Result<Ratio, String> {
        let t = &totals[kind];
        Ok(Ratio {
            covered: t["covered"]
                .as_u64()
                .ok_or_else(|| format!("llvm-cov export: no {kind}.covered"))?,
            count: t["count"]
                .as_u64()
                .ok_or_else(|| format!("llvm-cov export: no {kind}.count"))?,
        })
    };
    let mut crates: BTreeMap<String, Ratio> = BTreeMap::new();
    for f in v["data"][0]["files"].as_array().into_iter().flatten() {
        let name = f["filename"].as_str().unwrap_or_default();
        let Some(krate) = name
            .split_once("crates/")
            .and_then(|(_, rest)| rest.split('/').next())
        else {
            continue;
        };
        let r = &f["summary"]["regions"];
        let c = crates.entry(krate.to_owned()).or_default();
        c.covered += r["covered"].as_u64().unwrap_or(0);
        c.count += r["count"].as_u64().unwrap_or(0);
    }
    Ok(Coverage {
        regions: ratio(&v["data"][0]["totals"], "regions")?,
        lines: ratio(&v["data"][0]["totals"], "lines")?,
        top: crates.into_iter().max_by_key(|(_, r)| r.covered),
    })
}

/// Runs the corpus of `target` through a coverage build and summarises
/// it; the full `llvm-cov report` (per file of `crates/`) goes to
/// `OUT/coverage/TARGET.txt`. Build output goes to `log`.
pub(super) fn measure(
    toolchain: &Toolchain,
    tools: &Tools,
    target: &str,
    log: &Path,
    out: &Path,
) -> Result<Coverage, String> {
    let mut cmd = toolchain.cargo_fuzz_unsanitized("coverage");
    cmd.args(["--sanitizer", "none", "--llvm-path"])
        .arg(&tools.bin)
        .arg(target)
        .arg(dir("corpus", target));
    super::campaign::logged(&mut cmd, log)?;
    // Where cargo-fuzz 0.13 puts them.
    let triple = &tools.host;
    let binary = root()
        .join("target")
        .join(triple)
        .join("coverage")
        .join(triple)
        .join("release")
        .join(target);
    let profile = root()
        .join("fuzz/coverage")
        .join(target)
        .join("coverage.profdata");
    let llvm_cov = |sub: &str| {
        let mut c = Command::new(tools.bin.join("llvm-cov"));
        c.arg(sub)
            .arg(format!("-instr-profile={}", profile.display()))
            .arg(&binary)
            .arg(root().join("crates"));
        c
    };
    let report = output(&mut llvm_cov("report"))?;
    let dir = out.join("coverage");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join(format!("{target}.txt"));
    std::fs::write(&file, report).map_err(|e| format!("{}: {e}", file.display()))?;
    parse_export(&output(llvm_cov("export").arg("-summary-only"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llvm_versions_are_read_from_rustc_and_llvm_cov() {
        let rustc = "rustc 1.97.0-nightly (e50aa6fba 2026-05-19)\nhost: x86_64-unknown-linux-gnu\nLLVM version: 22.1.4\n";
        let llvm_cov = "Debian LLVM version 14.0.6\n  Optimized build.\n";
        assert_eq!(llvm_major(rustc), Some(22));
        assert_eq!(llvm_major(llvm_cov), Some(14));
        assert_eq!(llvm_major("rustc 1.95.0\n"), None);
    }

    #[test]
    fn the_export_s_totals_are_read() {
        let json = r#"{"data":[{"files":[{"filename":"/r/crates/vtcp-rto/src/lib.rs","summary":{"regions":{"count":100,"covered":90}}},{"filename":"/r/crates/vtcp-seq/src/lib.rs","summary":{"regions":{"count":250,"covered":5}}},{"filename":"/r/crates/vtcp-seq/src/range.rs","summary":{"regions":{"count":50,"covered":5}}}],"totals":{"lines":{"count":200,"covered":150,"percent":75},"regions":{"count":400,"covered":100,"notcovered":300,"percent":25},"functions":{"count":1,"covered":1}}}],"type":"llvm.coverage.json.export","version":"2.0.1"}"#;
        let c = parse_export(json).unwrap();
        assert_eq!(
            c,
            Coverage {
                regions: Ratio {
                    covered: 100,
                    count: 400
                },
                lines: Ratio {
                    covered: 150,
                    count: 200
                },
                top: Some((
                    "vtcp-rto".into(),
                    Ratio {
                        covered: 90,
                        count: 100
                    }
                )),
            }
        );
        assert_eq!(c.regions.percent(), "25.0 % (100/400)");
        assert!(parse_export(r#"{"data":[{"totals":{}}]}"#).is_err());
    }
}
