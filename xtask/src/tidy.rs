//! The repository's own conventions, checked as tests (`cargo test -p
//! xtask`, so in every `cargo xtask ci`), as rust-analyzer's tidy does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::metadata;
use crate::util::root;

/// Every Rust file of the repository (not `target/`, not dot-dirs).
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for dir in ["crates", "xtask", "fuzz", "benches", "tests"] {
        walk(&root().join(dir), &mut out);
    }
    assert!(out.len() > 50, "found only {} Rust files", out.len());
    out
}

/// `#[allow(...)]` and `#[expect(...)]` say why (`reason = "..."`): a
/// silenced lint without one is a question for every reader.
#[test]
fn every_allowed_lint_has_a_reason() {
    let mut bad = Vec::new();
    for path in rust_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, _) in text
            .match_indices("allow(")
            .chain(text.match_indices("expect("))
        {
            let before = &text[..i];
            let attr_start = before.rfind('#');
            let Some(start) = attr_start.filter(|&s| {
                let head = text[s..i].trim_start_matches('#').trim_start_matches('!');
                head == "["
            }) else {
                continue;
            };
            let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
            if text[line_start..start].trim_start().starts_with("//") {
                continue;
            }
            let end = text[i..].find(")]").map_or(text.len(), |e| i + e);
            if !text[start..end].contains("reason") {
                let line = text[..start].lines().count() + 1;
                bad.push(format!("{}:{line}", path.display()));
            }
        }
    }
    assert!(bad.is_empty(), "lints allowed without a reason: {bad:?}");
}

/// The `fn` names of every Rust file, the file stems and `mod` names (for
/// `module::*` references), and the `pub` field names (settings the
/// documents name beside tests).
fn names() -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut fns, mut mods, mut fields) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for path in rust_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Some(stem) = path.file_stem() {
            mods.insert(stem.to_string_lossy().into_owned());
        }
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("pub ")
                && let Some((name, _)) = rest.split_once(':')
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            {
                fields.insert(name.to_string());
            }
        }
        for (keyword, set) in [("fn ", &mut fns), ("mod ", &mut mods)] {
            for (i, _) in text.match_indices(keyword) {
                let name: String = text[i + keyword.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    set.insert(name);
                }
            }
        }
    }
    (fns, mods, fields)
}

/// Backquoted references in `doc` that name a test: `module::test_name`,
/// `test_name` with at least three underscores, `module::*`, or a prefix
/// ending in `…`.
fn test_references(doc: &str) -> Vec<String> {
    doc.split('`')
        .skip(1)
        .step_by(2)
        .filter(|r| {
            r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_:*…".contains(c))
        })
        .filter(|r| {
            let last = r.rsplit("::").next().unwrap_or(r);
            last == "*" || last.ends_with('…') || last.matches('_').count() >= 3
        })
        .map(str::to_string)
        .collect()
}

/// Every test docs/rfc-compliance.md cites as evidence exists: a row that
/// names a test that was renamed or removed claims what nothing checks.
#[test]
fn every_test_named_in_the_rfc_compliance_document_exists() {
    let doc = std::fs::read_to_string(root().join("docs/rfc-compliance.md")).unwrap();
    let refs = test_references(&doc);
    assert!(refs.len() > 50, "only {} test references found", refs.len());
    let (fns, mods, fields) = names();
    let mut missing = Vec::new();
    for r in refs.iter().filter(|r| !fields.contains(r.as_str())) {
        let parts: Vec<&str> = r.split("::").collect();
        let last = *parts.last().unwrap();
        let found = if last == "*" {
            parts.len() >= 2 && mods.contains(parts[parts.len() - 2])
        } else if let Some(prefix) = last.strip_suffix('…') {
            prefix.is_empty() || fns.iter().any(|f| f.starts_with(prefix))
        } else {
            fns.contains(last)
        };
        if !found {
            missing.push(r.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "docs/rfc-compliance.md names tests that do not exist: {missing:?}"
    );
}

#[test]
fn test_references_are_told_from_other_code_names() {
    let doc = "`behaviour::a_b_c_d` `stack::*` `pair::lossy_…` `drop_syn_fin` `x_y_z_w` `ConnConfig::a_b_c_d`";
    assert_eq!(
        test_references(doc),
        ["behaviour::a_b_c_d", "stack::*", "pair::lossy_…", "x_y_z_w"]
    );
}

/// Every crate that goes to crates.io carries its licence files and a
/// README (what `cargo xtask release --dry-run` also checks), and every
/// `#![no_std]` crate is in the `no_std` check (tests/no-std).
#[test]
fn every_published_crate_has_its_licences_and_every_no_std_crate_is_checked() {
    for krate in metadata::publishable().unwrap() {
        for file in ["LICENSE-MIT", "LICENSE-APACHE", "README.md"] {
            assert!(
                krate.dir.join(file).is_file(),
                "{} has no {file}",
                krate.name
            );
        }
        let readme = std::fs::read_to_string(krate.dir.join("README.md")).unwrap();
        assert!(
            !readme.contains("](../") && !readme.contains("](docs/"),
            "{}'s README has a relative link, which breaks on crates.io",
            krate.name
        );
    }
    let check = std::fs::read_to_string(root().join("tests/no-std/Cargo.toml")).unwrap();
    let no_std = metadata::no_std().unwrap();
    assert!(no_std.len() >= 6);
    for krate in no_std {
        assert!(
            check.contains(&format!("{} = {{ path", krate.name)),
            "{} is #![no_std] but tests/no-std does not use it",
            krate.name
        );
    }
}

/// docs/architecture.md's crate table is the workspace as `cargo
/// metadata` has it: a row per package, `no_std` exactly for the
/// `#![no_std]` libraries, and every dependency (`?` for an optional one)
/// named, none more.
#[test]
fn the_architecture_crate_table_matches_the_manifests() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("The crates"))
        .expect("a section \"The crates\"");
    let mut rows = std::collections::BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [name, no_std, deps, _job] = cells[..] else {
            panic!("a crate row of {} cells: {line}", cells.len());
        };
        let deps: BTreeSet<(String, bool)> = deps
            .split(", ")
            .filter(|d| *d != "—")
            .map(|d| {
                let optional = d.ends_with('?');
                let d = d.trim_end_matches('?');
                assert!(d.starts_with('`') && d.ends_with('`'), "{name}: {d:?}");
                (d.trim_matches('`').to_string(), optional)
            })
            .collect();
        rows.insert(
            name.trim_matches('`').to_string(),
            (no_std.starts_with("yes"), deps),
        );
    }
    let no_std: BTreeSet<String> = metadata::no_std()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    let packages = metadata::packages().unwrap();
    let names: BTreeSet<&String> = packages.iter().map(|p| &p.name).collect();
    assert_eq!(
        rows.keys().collect::<BTreeSet<_>>(),
        names,
        "the table's crates against the workspace's packages"
    );
    for p in &packages {
        let (row_no_std, row_deps) = &rows[&p.name];
        assert_eq!(*row_no_std, no_std.contains(&p.name), "{}: no_std", p.name);
        let deps: BTreeSet<(String, bool)> = p.deps.iter().cloned().collect();
        assert_eq!(row_deps, &deps, "{}: dependencies", p.name);
    }
}
