//! Running many scripts: the `.pkt` files under the paths given, one
//! outcome each, a summary, and an expected-results file that may only get
//! better (a script that passed and no longer does is a regression).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::{Outcome, Profile, run_text};

/// The scripts under `paths` (files as given, directories searched for
/// `.pkt` files), sorted.
pub fn scripts(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "pkt") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            std::fs::metadata(p)?;
            out.push(p.clone());
        }
    }
    out.sort();
    Ok(out)
}

/// One script's result: its name (relative to the directory it was found
/// under) and outcome, or why it could not be read or parsed (counted as
/// unsupported).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptResult {
    /// The script's name.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
}

/// Runs every script under `paths`; names are relative to `root`.
pub fn run_all(paths: &[PathBuf], root: &Path, profile: &Profile) -> io::Result<Vec<ScriptResult>> {
    let mut results = Vec::new();
    for path in scripts(paths)? {
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let outcome = match std::fs::read_to_string(&path) {
            Ok(text) => run_text(&text, profile.clone()).unwrap_or_else(|e| {
                if e.unsupported {
                    Outcome::Unsupported(format!("cannot parse: {e}"))
                } else {
                    Outcome::Malformed(format!("does not parse: {e}"))
                }
            }),
            Err(e) => Outcome::Unsupported(format!("cannot read: {e}")),
        };
        results.push(ScriptResult { name, outcome });
    }
    Ok(results)
}

/// `612 passed, 2 differ, 0 failed, 0 unsupported, 0 do not parse`.
pub fn summary(results: &[ScriptResult]) -> String {
    let count = |k: &str| results.iter().filter(|r| r.outcome.kind() == k).count();
    format!(
        "{} passed, {} differ, {} failed, {} unsupported, {} do not parse",
        count("pass"),
        count("differs"),
        count("fail"),
        count("unsupported"),
        count("error")
    )
}

/// One line per script: the outcome and why.
pub fn detail(r: &ScriptResult) -> String {
    match &r.outcome {
        Outcome::Pass => format!("pass         {}", r.name),
        Outcome::Differs(why) => format!("differs      {}: {}", r.name, why.join("; ")),
        Outcome::Fail {
            line,
            expected,
            got,
        } => format!(
            "fail         {}:{line}: expected `{expected}`, got {got}",
            r.name
        ),
        Outcome::Unsupported(what) => format!("unsupported  {}: {what}", r.name),
        Outcome::Malformed(why) => format!("error        {}: {why}", r.name),
    }
}

/// The expected-results file: `kind name` per line, sorted by name.
pub fn expected_file(results: &[ScriptResult]) -> String {
    let mut s = String::from(
        "# vtcp drill expected results: `outcome script`, one per line.\n\
         # Made by `cargo xtask conformance --bless`; a script may only get better.\n",
    );
    for r in results {
        let _ = writeln!(s, "{} {}", r.outcome.kind(), r.name);
    }
    s
}

fn rank(kind: &str) -> u8 {
    match kind {
        "pass" => 3,
        "differs" => 2,
        // Neither runs: a script that does not parse may turn out to use
        // a construct the runner lacks once it does, and the other way.
        "unsupported" | "error" => 1,
        _ => 0,
    }
}

/// Scripts that did better before: `name: was → is`. A script missing
/// from the results that the file lists counts too.
pub fn regressions(results: &[ScriptResult], expected: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in expected.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((kind, name)) = line.split_once(' ') else {
            continue;
        };
        match results.iter().find(|r| r.name == name) {
            Some(r) if rank(r.outcome.kind()) < rank(kind) => {
                out.push(format!("{name}: was {kind}, is {}", detail(r)));
            }
            Some(_) => {}
            None => out.push(format!("{name}: was {kind}, not run")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, outcome: Outcome) -> ScriptResult {
        ScriptResult {
            name: name.into(),
            outcome,
        }
    }

    #[test]
    fn the_expected_file_catches_every_step_down_and_nothing_else() {
        let before = vec![
            r("a.pkt", Outcome::Pass),
            r("b.pkt", Outcome::Differs(vec!["window".into()])),
            r("c.pkt", Outcome::Unsupported("x".into())),
        ];
        let file = expected_file(&before);
        assert!(regressions(&before, &file).is_empty());
        let fail = Outcome::Fail {
            line: 3,
            expected: "e".into(),
            got: "g".into(),
        };
        let after = vec![
            r("a.pkt", Outcome::Differs(vec!["window".into()])),
            r("b.pkt", Outcome::Pass),
            r("c.pkt", fail),
        ];
        let regs = regressions(&after, &file);
        assert_eq!(regs.len(), 2, "{regs:?}");
        assert!(regs[0].starts_with("a.pkt: was pass"));
        assert!(regs[1].starts_with("c.pkt: was unsupported"));
        assert_eq!(regressions(&after[..1], &file).len(), 3, "b and c not run");
        assert_eq!(
            summary(&after),
            "1 passed, 1 differ, 1 failed, 0 unsupported, 0 do not parse"
        );
    }

    /// A script packetdrill would reject is an error of its own, with
    /// the line and the reason; one in packetdrill's syntax that the
    /// runner does not read stays unsupported; moving between the two is
    /// no regression, and neither is a pass.
    #[test]
    fn a_script_that_does_not_parse_is_an_error_by_line() {
        let dir = std::env::temp_dir().join(format!("vtcp-drill-suite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("typo.pkt"), "s//\n").unwrap();
        std::fs::write(dir.join("unread.pkt"), "+0 < . 1:1(0) win 9 <md5 0001>\n").unwrap();
        let results = run_all(std::slice::from_ref(&dir), &dir, &Profile::freebsd()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            detail(&results[0]),
            "error        typo.pkt: does not parse: line 1: bad time \"s\""
        );
        assert_eq!(results[1].outcome.kind(), "unsupported");
        assert_eq!(
            summary(&results),
            "0 passed, 0 differ, 0 failed, 1 unsupported, 1 do not parse"
        );
        let swapped = "unsupported typo.pkt\nerror unread.pkt\n";
        assert!(regressions(&results, swapped).is_empty());
        assert_eq!(regressions(&results, "pass typo.pkt\n").len(), 1);
    }
}
