//! `vtcp drill`: scripts in, a line per script that does not pass and a
//! summary out; the exit code says whether any failed (or, with
//! `--expected`, whether any got worse).

use std::path::PathBuf;
use std::process::{Command, Output};

fn vtcp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vtcp"))
        .args(args)
        .output()
        .expect("vtcp runs")
}

fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vtcp-drill/tests/scripts")
}

#[test]
fn the_runner_s_scripts_pass_with_a_summary() {
    let out = vtcp(&["drill", scripts().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let scripts = std::fs::read_dir(scripts())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pkt")
        })
        .count();
    assert!(scripts >= 6);
    let summary = format!("{scripts} passed, 0 differ, 0 failed, 0 unsupported, 0 do not parse");
    assert!(stdout.trim().ends_with(&summary), "{stdout}");
}

#[test]
fn a_failing_script_names_its_line_and_fails_the_run() {
    let dir = std::env::temp_dir().join(format!("vtcp-drill-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(scripts().join("syn-retransmission.pkt")).unwrap();
    // Our SYN goes again after 1 s, not 0.5 s.
    let bad = text.replacen("+1.00 > S", "+0.50 > S", 1);
    std::fs::write(dir.join("bad.pkt"), bad).unwrap();
    let out = vtcp(&["drill", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("fail         bad.pkt:10:"), "{stdout}");
    // Writing the expected results succeeds, failures and all.
    let expected = dir.join("expected.txt");
    let out = vtcp(&[
        "drill",
        dir.to_str().unwrap(),
        "--write-expected",
        expected.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        std::fs::read_to_string(&expected)
            .unwrap()
            .contains("fail bad.pkt")
    );
    // An expected-results file that already says it fails: no regression.
    std::fs::write(&expected, "fail bad.pkt\n").unwrap();
    let out = vtcp(&[
        "drill",
        dir.to_str().unwrap(),
        "--expected",
        expected.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    std::fs::write(&expected, "pass bad.pkt\n").unwrap();
    let out = vtcp(&[
        "drill",
        dir.to_str().unwrap(),
        "--expected",
        expected.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("REGRESSION bad.pkt"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_scripts_is_an_error() {
    let out = vtcp(&["drill", "/nonexistent/vtcp-drill"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vtcp drill:"));
}

/// A path that does not exist is named in the error (from a fresh clone,
/// `vtcp drill ../shared/...` said only "No such file or directory").
#[test]
fn a_missing_path_is_named() {
    let out = vtcp(&["drill", "no/such/suite"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cannot read no/such/suite"), "{stderr}");
}

/// A file of random bytes is refused with a clear error and a failure
/// exit, not counted as an unsupported script.
#[test]
fn binary_data_is_refused() {
    let dir = std::env::temp_dir().join(format!("vtcp-drill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("random.pkt");
    std::fs::write(&path, [0x8f, 0, 0xff, 0x13, 0x37, 0xc3, 0x28]).unwrap();
    let out = vtcp(&["drill", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is not a packetdrill script"), "{stderr}");
}

/// A text file that is not a script fails the run, named with the line
/// packetdrill's syntax breaks at.
#[test]
fn a_text_file_that_is_no_script_is_named_with_its_line() {
    let dir = std::env::temp_dir().join(format!("vtcp-drill-text-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notes.txt");
    std::fs::write(&path, "// a note\nshopping: milk, eggs\n").unwrap();
    let out = vtcp(&["drill", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!(
            "error        {}: does not parse: line 2:",
            path.display()
        )),
        "{stdout}"
    );
}

/// `-D NAME=VALUE` as packetdrill has it: the script's `FD` is 3 only
/// with it (without, `close(FD)` names no descriptor and fails).
#[test]
fn a_define_on_the_command_line_stands_for_its_value() {
    let dir = std::env::temp_dir().join(format!("vtcp-drill-define-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fd.pkt");
    std::fs::write(
        &path,
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(FD) = 0\n",
    )
    .unwrap();
    let with = vtcp(&["drill", "-D", "FD=3", path.to_str().unwrap()]);
    let without = vtcp(&["drill", path.to_str().unwrap()]);
    let bad = vtcp(&["drill", "-D", "FD", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8_lossy(&with.stdout);
    assert!(with.status.success(), "{stdout}");
    assert!(!without.status.success());
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("NAME=VALUE"));
}
