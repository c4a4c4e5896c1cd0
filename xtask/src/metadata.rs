//! The workspace's crates, from `cargo metadata`: the lists other commands
//! use are derived from the manifests, never written out by hand.

use std::path::PathBuf;

use crate::util::{cargo, root};

/// One package of the workspace.
#[derive(Clone, Debug)]
pub(crate) struct Package {
    pub(crate) name: String,
    /// Its directory.
    pub(crate) dir: PathBuf,
    /// `publish` is not `false`.
    pub(crate) publishable: bool,
    /// The declared `rust-version`, if any.
    pub(crate) rust_version: Option<String>,
    /// What it depends on (not for tests or builds alone, on any target):
    /// each name and whether it is optional.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "read by the tidy test of docs/architecture.md")
    )]
    pub(crate) deps: Vec<(String, bool)>,
}

/// Every package of the workspace (`cargo metadata --no-deps`).
pub(crate) fn packages() -> Result<Vec<Package>, String> {
    let out = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let list = json["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let mut packages = Vec::new();
    for p in list {
        let name = p["name"].as_str().ok_or("a package without a name")?;
        let manifest = PathBuf::from(p["manifest_path"].as_str().ok_or("no manifest_path")?);
        packages.push(Package {
            name: name.to_string(),
            dir: manifest.parent().unwrap_or(&root()).to_path_buf(),
            // `publish = false` is an empty list of registries.
            publishable: !p["publish"].as_array().is_some_and(|r| r.is_empty()),
            rust_version: p["rust_version"].as_str().map(str::to_string),
            deps: p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| {
                    let name = d["name"].as_str()?.to_string();
                    Some((name, d["optional"].as_bool().unwrap_or(false)))
                })
                .collect(),
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(packages)
}

/// The crates that go to crates.io.
pub(crate) fn publishable() -> Result<Vec<Package>, String> {
    Ok(packages()?.into_iter().filter(|p| p.publishable).collect())
}

/// The crates whose library is `#![no_std]`.
pub(crate) fn no_std() -> Result<Vec<Package>, String> {
    Ok(packages()?
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(p.dir.join("src/lib.rs"))
                .is_ok_and(|s| s.lines().any(|l| l.trim() == "#![no_std]"))
        })
        .collect())
}
