//! `cargo xtask release --dry-run`: every publishable crate has the
//! workspace's version and packages cleanly, in dependency order.

use crate::util::{cargo, exec, root};

/// Publishable crates, each after the crates it depends on.
pub(crate) const CRATES: &[&str] = &[
    "vtcp-seq",
    "vtcp-wire",
    "vtcp-cc",
    "vtcp-rto",
    "vtcp-buf",
    "vtcp-cookie",
    "vtcp-conn",
    "vtcp",
    "vtcp-sim",
    "vtcp-cli",
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if args != ["--dry-run"] {
        return Err("only `release --dry-run` is supported; publishing is done by hand".into());
    }
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let version = workspace_version(&manifest).ok_or("no version in [workspace.package]")?;
    for krate in CRATES {
        let path = root().join("crates").join(krate).join("Cargo.toml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if !text.contains("version.workspace = true") {
            return Err(format!("{krate} does not take the workspace version"));
        }
        let dep = format!("{krate} = {{ path = \"crates/{krate}\", version = \"{version}\"");
        if *krate != "vtcp-cli" && !manifest.contains(&dep) {
            return Err(format!(
                "[workspace.dependencies] does not name {krate} at {version}"
            ));
        }
    }
    eprintln!("all crates at {version}");
    // Cargo packages the crates together, in dependency order, resolving
    // the unpublished internal ones from the packages it just made.
    let mut cmd = cargo();
    cmd.args(["publish", "--dry-run", "--allow-dirty"]);
    for krate in CRATES {
        cmd.args(["--package", krate]);
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
