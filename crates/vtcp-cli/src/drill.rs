//! `vtcp drill FILE|DIR...`: packetdrill scripts run against the engine
//! (`vtcp-drill`), one line per script that does not pass (every script
//! with `--verbose`), then a summary. With `--expected FILE`, the results
//! are compared with an expected-results file and only a regression (a
//! script that did better before) fails; `--write-expected FILE` writes
//! one.

use std::io::{self, Write};
use std::path::PathBuf;

use vtcp_drill::suite;

/// The flags of `vtcp drill`.
#[derive(Clone, Debug, clap::Args)]
pub struct DrillArgs {
    /// Scripts, or directories searched for `.pkt` files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The operating system the scripts were written for: `freebsd`
    /// (freebsd-net/tcp-testsuite: FreeBSD's defaults and `net.inet.tcp`
    /// sysctls) or `linux` (google/packetdrill's gtests: Linux's defaults,
    /// quick ACKs, 40 ms delayed ACK, 200 ms minimum RTO, `net.ipv4.tcp_*`
    /// sysctls, TSO super-segments matched by their MSS-sized parts). Not
    /// guessed from the path: name it.
    #[arg(long, default_value = "freebsd", value_parser = ["freebsd", "linux"])]
    pub profile: String,
    /// `NAME=VALUE`: every `NAME` word of the scripts stands for `VALUE`
    /// (packetdrill's `-D`/`--define`; the Linux profile has
    /// google/packetdrill's `run_all.py` values for IPv4, `TFO_COOKIE`
    /// among them, which these replace).
    #[arg(short = 'D', long = "define", value_name = "NAME=VALUE")]
    pub define: Vec<String>,
    /// Compare with this expected-results file: fail only on regressions.
    #[arg(long, conflicts_with = "write_expected")]
    pub expected: Option<PathBuf>,
    /// Write the results as an expected-results file.
    #[arg(long)]
    pub write_expected: Option<PathBuf>,
    /// Print every script's outcome, passes too.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Runs `vtcp drill`; returns whether it succeeded: the results written
/// with `--write-expected`, no regression against `--expected`, or else
/// no script failed and every one parsed.
pub fn drill(args: &DrillArgs, out: &mut impl Write) -> io::Result<bool> {
    let root = match args.paths.as_slice() {
        [one] if one.is_dir() => one.clone(),
        _ => PathBuf::new(),
    };
    // A path that cannot be read is named, not left to a bare "No such
    // file or directory" from deep in the walk.
    for path in &args.paths {
        let meta = std::fs::metadata(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
        })?;
        // A file named on the command line must be a script: text. Binary
        // data is refused outright rather than counted "unsupported".
        if meta.is_file() {
            let bytes = std::fs::read(path).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
            })?;
            if bytes.contains(&0) || std::str::from_utf8(&bytes).is_err() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a packetdrill script (binary data)",
                        path.display()
                    ),
                ));
            }
        }
    }
    let mut profile = vtcp_drill::Profile::by_name(&args.profile).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no profile {}", args.profile),
        )
    })?;
    for define in &args.define {
        let (name, value) = define.split_once('=').ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("-D {define}: NAME=VALUE expected"),
            )
        })?;
        // The last definition of a name is the one that counts.
        profile.values.push((name.into(), value.into()));
    }
    let results = suite::run_all(&args.paths, &root, &profile)?;
    if results.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no .pkt scripts under the paths given",
        ));
    }
    for r in &results {
        if args.verbose || r.outcome.kind() != "pass" {
            writeln!(out, "{}", suite::detail(r))?;
        }
    }
    writeln!(out, "{}", suite::summary(&results))?;
    if let Some(path) = &args.write_expected {
        std::fs::write(path, suite::expected_file(&results)).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        })?;
        // The results are recorded, failures included: that is the point.
        return Ok(true);
    }
    if let Some(path) = &args.expected {
        let expected = std::fs::read_to_string(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
        })?;
        let regressions = suite::regressions(&results, &expected);
        for r in &regressions {
            writeln!(out, "REGRESSION {r}")?;
        }
        return Ok(regressions.is_empty());
    }
    // A script that does not parse fails the run as a failed one does.
    Ok(results
        .iter()
        .all(|r| !matches!(r.outcome.kind(), "fail" | "error")))
}
