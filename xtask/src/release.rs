//! `cargo xtask release --dry-run`: every publishable crate (from `cargo
//! metadata`) has the workspace's version, its licence files and a README,
//! and packages cleanly.

use crate::metadata;
use crate::util::{cargo, exec, root};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if args != ["--dry-run"] {
        return Err("only `release --dry-run` is supported; publishing is done by hand".into());
    }
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let version = workspace_version(&manifest).ok_or("no version in [workspace.package]")?;
    let crates = metadata::publishable()?;
    for krate in &crates {
        let name = &krate.name;
        let text = std::fs::read_to_string(krate.dir.join("Cargo.toml"))
            .map_err(|e| format!("{name}: {e}"))?;
        if !text.contains("version.workspace = true") {
            return Err(format!("{name} does not take the workspace version"));
        }
        let dep = format!("{name} = {{ path = \"crates/{name}\", version = \"{version}\"");
        if name != "vtcp-cli" && !manifest.contains(&dep) {
            return Err(format!(
                "[workspace.dependencies] does not name {name} at {version}"
            ));
        }
        for file in ["LICENSE-MIT", "LICENSE-APACHE", "README.md"] {
            if !krate.dir.join(file).is_file() {
                return Err(format!("{name} has no {file}"));
            }
        }
    }
    eprintln!("{} crates at {version}", crates.len());
    // Cargo packages the crates together, in dependency order, resolving
    // the unpublished internal ones from the packages it just made.
    let mut cmd = cargo();
    cmd.args(["publish", "--dry-run", "--allow-dirty"]);
    for krate in &crates {
        cmd.args(["--package", &krate.name]);
    }
    exec(&mut cmd)
}

fn workspace_version(manifest: &str) -> Option<&str> {
    let section = manifest.split("[workspace.package]").nth(1)?;
    let line = section
        .lines()
        .find(|l| l.trim_start().starts_with("version"))?;
    line.split('"').nth(1)
}
