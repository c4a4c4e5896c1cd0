//! Running commands from the workspace root.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `cargo` as the caller ran it, so `cargo +nightly xtask` stays on nightly.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs `cmd`, echoing it first; an error names the command.
pub(crate) fn exec(cmd: &mut Command) -> Result<(), String> {
    eprintln!("$ {}", describe(cmd));
    run_quietly(cmd)
}

/// Runs `cmd` without echoing it; an error names the command.
pub(crate) fn run_quietly(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(cmd)))
    }
}

/// Builds the lab's binary in release mode (`--locked`); returns the
/// command that runs it.
pub(crate) fn lab_binary() -> Result<Command, String> {
    exec(cargo().args([
        "build",
        "--release",
        "--locked",
        "-p",
        "vtcp-lab",
        "--bin",
        "vtcp-lab",
    ]))?;
    Ok(Command::new(root().join("target/release/vtcp-lab")))
}

/// Runs `cmd` quietly and tells whether it succeeded.
pub(crate) fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}
