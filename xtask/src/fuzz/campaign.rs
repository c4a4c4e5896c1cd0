//! `cargo xtask fuzz campaign`: every target (or those named) fuzzed for
//! a time budget each, up to `--jobs` at once, each merging into its
//! corpus and minimising it (`cargo fuzz cmin`), then measuring the
//! corpus's coverage of the project's crates; a summary table printed and
//! written to `target/fuzz-campaign/summary.md`.
//!
//! A campaign resumes where the last left off: the corpus it grows is
//! `fuzz/corpus/TARGET/`, and `fuzz/campaigns.tsv` (committed with the
//! corpora, so that sessions on any clone add up) keeps every session's
//! figures, so an hour may be six sessions of ten minutes (the summary's
//! "fuzzed" column adds them up).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::coverage::{self, Coverage, Tools};
use super::{Toolchain, dir, files, known, targets};
use crate::util::{describe, exec, root, run_quietly};

/// What libFuzzer said about one run, from its log.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Stats {
    /// Inputs executed (`stat::number_of_executed_units`).
    pub(super) runs: Option<u64>,
    /// Executions per second (`stat::average_exec_per_sec`).
    pub(super) exec_per_sec: Option<u64>,
    /// Coverage points (`cov:`) and features (`ft:`) of the last status line.
    pub(super) cov: Option<u64>,
    pub(super) ft: Option<u64>,
    /// Inputs written as crashes, timeouts or leaks.
    pub(super) artifacts: Vec<String>,
}

/// The number after `key` in `line` (`cov: 123`).
fn number_after(line: &str, key: &str) -> Option<u64> {
    let at = line.find(key)? + key.len();
    line[at..].split_whitespace().next()?.parse().ok()
}

/// Reads libFuzzer's output: the final stats (`-print_final_stats=1`), the
/// last status line's `cov:` and `ft:`, and every artifact written.
pub(super) fn parse_log(log: &str) -> Stats {
    let mut stats = Stats::default();
    for line in log.lines() {
        if line.starts_with('#') && line.contains(" cov: ") {
            stats.cov = number_after(line, " cov: ");
            stats.ft = number_after(line, " ft: ").or(stats.ft);
        } else if let Some(n) = number_after(line, "stat::number_of_executed_units:") {
            stats.runs = Some(n);
        } else if let Some(n) = number_after(line, "stat::average_exec_per_sec:") {
            stats.exec_per_sec = Some(n);
        } else if let Some((_, path)) = line.split_once("Test unit written to ") {
            stats.artifacts.push(path.trim().to_owned());
        }
    }
    stats
}

/// Files and octets in a directory.
fn size(dir: &Path) -> (usize, u64) {
    let files = files(dir);
    let bytes = files
        .iter()
        .filter_map(|f| f.metadata().ok())
        .map(|m| m.len())
        .sum();
    (files.len(), bytes)
}

/// One target's session.
struct Outcome {
    target: String,
    seconds: u32,
    stats: Stats,
    before: (usize, u64),
    after: (usize, u64),
    coverage: Result<Coverage, String>,
    /// What went wrong other than a crash (a failed build, a failed cmin).
    trouble: Vec<String>,
    log: PathBuf,
}

/// Runs `cmd` with its output appended to `log`; an error names it.
pub(super) fn logged(cmd: &mut Command, log: &Path) -> Result<(), String> {
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let _ = writeln!(file, "\n$ {}", describe(cmd));
    let err = file.try_clone().map_err(|e| e.to_string())?;
    run_quietly(cmd.stdout(file).stderr(err))
}

/// Fuzzes `target` for `seconds`, minimises its corpus, measures coverage.
fn session(
    toolchain: &Toolchain,
    tools: &Result<Tools, String>,
    target: &str,
    seconds: u32,
    out: &Path,
) -> Outcome {
    let corpus = dir("corpus", target);
    let log = out.join("logs").join(format!("{target}.log"));
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::create_dir_all(&corpus);
    let before = size(&corpus);
    let mut trouble = Vec::new();

    let mut cmd = toolchain.cargo_fuzz("run");
    cmd.arg(target).arg(&corpus);
    let seeds = dir("seeds", target);
    if seeds.is_dir() {
        cmd.arg(seeds);
    }
    cmd.args([
        "--",
        &format!("-max_total_time={seconds}"),
        "-print_final_stats=1",
    ]);
    let ran = logged(&mut cmd, &log);
    let stats = parse_log(&std::fs::read_to_string(&log).unwrap_or_default());
    if let Err(e) = ran
        && stats.artifacts.is_empty()
    {
        trouble.push(e);
    }

    let mut cmin = toolchain.cargo_fuzz("cmin");
    cmin.arg(target).arg(&corpus);
    if let Err(e) = logged(&mut cmin, &log) {
        trouble.push(e);
    }
    let after = size(&corpus);

    let coverage = match tools {
        Ok(tools) => coverage::measure(toolchain, tools, target, &log, out),
        Err(why) => Err(why.clone()),
    };
    Outcome {
        target: target.to_owned(),
        seconds,
        stats,
        before,
        after,
        coverage,
        trouble,
        log,
    }
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "?".into(), |n| n.to_string())
}

fn kib(b: u64) -> String {
    format!("{:.1}", b as f64 / 1024.0)
}

/// Every session's figures, a line per target, kept with the corpora.
const HISTORY: &str = "fuzz/campaigns.tsv";

/// The first line of [`HISTORY`] (lines starting with `#` are not
/// sessions).
const HISTORY_HEADER: &str = "# unix time\ttarget\tseconds\truns\tcov\tft\tcorpus files\tcorpus octets\tcrashes\tload average\n";

/// The seconds each target has been fuzzed in all sessions of the history.
fn fuzzed_so_far(history: &str, target: &str) -> u64 {
    history
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.get(1) == Some(&target)).then(|| f.get(2)?.parse::<u64>().ok())?
        })
        .sum()
}

/// The summary table (Markdown) of a campaign's sessions.
fn table(outcomes: &[Outcome], history: &str) -> String {
    let mut s = String::from(
        "| target | s | fuzzed | runs | exec/s | cov | ft | corpus before (files, KiB) | after | regions | lines | its crate's regions | crashes |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for o in outcomes {
        let (regions, lines, top) = match &o.coverage {
            Ok(c) => (
                c.regions.percent(),
                c.lines.percent(),
                c.top
                    .as_ref()
                    .map_or_else(String::new, |(k, r)| format!("{k} {}", r.percent())),
            ),
            Err(_) => ("n/a".into(), "n/a".into(), "n/a".into()),
        };
        let crashes = if o.stats.artifacts.is_empty() {
            "none".to_owned()
        } else {
            o.stats.artifacts.join(", ")
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {}, {} | {}, {} | {} | {} | {} | {} |\n",
            o.target,
            o.seconds,
            fuzzed_so_far(history, &o.target),
            opt(o.stats.runs),
            opt(o.stats.exec_per_sec),
            opt(o.stats.cov),
            opt(o.stats.ft),
            o.before.0,
            kib(o.before.1),
            o.after.0,
            kib(o.after.1),
            regions,
            lines,
            top,
            crashes,
        ));
    }
    s
}

pub(super) fn run(args: &[String]) -> Result<(), String> {
    let mut chosen = Vec::new();
    let mut seconds = 600u32;
    let mut jobs = std::thread::available_parallelism().map_or(1, usize::from);
    let mut with_coverage = true;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--time" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--time takes a number of seconds")?;
            }
            "--jobs" => {
                jobs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&j| j > 0)
                    .ok_or("--jobs takes a number above zero")?;
            }
            "--no-coverage" => with_coverage = false,
            t if !t.starts_with('-') => {
                known(t)?;
                chosen.push(t.to_owned());
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    if chosen.is_empty() {
        chosen = targets()?;
    }
    let toolchain = Toolchain::detect()?;
    let out = root().join("target/fuzz-campaign");
    std::fs::create_dir_all(out.join("logs")).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!(
        "fuzz campaign: {} target(s), {seconds} s each, {jobs} at once, on {}",
        chosen.len(),
        toolchain.describe()
    );
    exec(&mut toolchain.cargo_fuzz("build"))?;
    let tools = if with_coverage {
        coverage::tools(&toolchain)
    } else {
        Err("not asked for (--no-coverage)".into())
    };
    if let Err(why) = &tools {
        eprintln!("coverage unavailable because {why}");
    }

    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(chosen.len()) {
            scope.spawn(|| {
                while let Some(target) = chosen.get(next.fetch_add(1, Ordering::Relaxed)) {
                    eprintln!("[campaign] {target}: fuzzing for {seconds} s");
                    let o = session(&toolchain, &tools, target, seconds, &out);
                    eprintln!(
                        "[campaign] {target}: {} runs, cov {}, corpus {} -> {} files, {} crash(es); log {}",
                        opt(o.stats.runs),
                        opt(o.stats.cov),
                        o.before.0,
                        o.after.0,
                        o.stats.artifacts.len(),
                        o.log.display()
                    );
                    outcomes.lock().unwrap().push(o);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by(|a, b| a.target.cmp(&b.target));

    let history_path = root().join(HISTORY);
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The machine's load at the end: the same seconds fuzz less on a
    // machine other work shares.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "-".into());
    let mut history = std::fs::read_to_string(&history_path).unwrap_or_default();
    if history.is_empty() {
        history.push_str(HISTORY_HEADER);
    }
    for o in &outcomes {
        history.push_str(&format!(
            "{stamp}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{load}\n",
            o.target,
            o.seconds,
            opt(o.stats.runs),
            opt(o.stats.cov),
            opt(o.stats.ft),
            o.after.0,
            o.after.1,
            o.stats.artifacts.len()
        ));
    }
    std::fs::write(&history_path, &history)
        .map_err(|e| format!("{}: {e}", history_path.display()))?;

    let mut summary = table(&outcomes, &history);
    let mut notes = String::new();
    for o in &outcomes {
        if let Err(why) = &o.coverage {
            notes.push_str(&format!(
                "- {}: coverage unavailable because {why}\n",
                o.target
            ));
        }
        for t in &o.trouble {
            notes.push_str(&format!("- {}: {t} (log {})\n", o.target, o.log.display()));
        }
    }
    if !notes.is_empty() {
        summary.push('\n');
        summary.push_str(&notes);
    }
    println!("\n{summary}");
    let path = out.join("summary.md");
    std::fs::write(&path, &summary).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "summary in {}, history in {}, coverage reports in {}",
        path.display(),
        history_path.display(),
        out.join("coverage").display()
    );

    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.stats.artifacts.is_empty())
        .map(|o| o.target.as_str())
        .collect();
    if crashed.is_empty() && outcomes.iter().all(|o| o.trouble.is_empty()) {
        Ok(())
    } else if crashed.is_empty() {
        Err("some sessions failed (see the notes above)".into())
    } else {
        Err(format!(
            "crashes in {}: `cargo xtask fuzz triage TARGET ARTIFACT` makes each a regression",
            crashed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
INFO: Seed: 1234
#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb
#4096\tpulse  cov: 120 ft: 300 corp: 20/1Kb lim: 43 exec/s: 2048 rss: 40Mb
#9000\tNEW    cov: 121 ft: 305 corp: 21/1Kb lim: 43 exec/s: 2000 rss: 40Mb L: 4/4 MS: 1 ChangeBit-
#12000\tDONE   cov: 125 ft: 310 corp: 22/1Kb lim: 43 exec/s: 2000 rss: 41Mb
Done 12000 runs in 6 second(s)
stat::number_of_executed_units: 12000
stat::average_exec_per_sec:     2000
stat::new_units_added:          21
";

    #[test]
    fn libfuzzer_s_final_figures_are_read() {
        let s = parse_log(LOG);
        assert_eq!(
            s,
            Stats {
                runs: Some(12000),
                exec_per_sec: Some(2000),
                cov: Some(125),
                ft: Some(310),
                artifacts: vec![],
            }
        );
    }

    #[test]
    fn a_crash_s_artifact_is_found() {
        let log = format!(
            "{}==77== ERROR: libFuzzer: deadly signal\n\
             artifact_prefix='/r/fuzz/artifacts/x/'; Test unit written to /r/fuzz/artifacts/x/crash-ab12\n\
             Base64: AAE=\n",
            &LOG[..LOG.find("#12000").unwrap()]
        );
        let s = parse_log(&log);
        assert_eq!(s.artifacts, ["/r/fuzz/artifacts/x/crash-ab12"]);
        assert_eq!((s.cov, s.ft, s.runs), (Some(121), Some(305), None));
    }

    #[test]
    fn the_history_adds_up_each_target_s_sessions() {
        let h = "# unix time\ttarget\tseconds\n1\tconn_ops\t600\t5\t1\t1\t1\t1\t0\n2\tcc_ops\t60\t5\t1\t1\t1\t1\t0\n3\tconn_ops\t300\t5\t1\t1\t1\t1\t0\n";
        assert_eq!(fuzzed_so_far(h, "conn_ops"), 900);
        assert_eq!(fuzzed_so_far(h, "cc_ops"), 60);
        assert_eq!(fuzzed_so_far(h, "cookie"), 0);
    }
}
