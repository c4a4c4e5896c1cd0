//! Differential testing against Linux: the same script, seen from a
//! scripted peer, run against the kernel's TCP and against vtcp, and what
//! each did compared step by step (after TCP-Fuzz, USENIX ATC 2021).
//!
//! - [`script`]: the script model and its text form.
//! - [`peer`]: the scripted peer, which builds the injected segments.
//! - [`run`](mod@run): one script against one system under test.
//! - [`linux`]: the kernel in a namespace behind a TUN device.
//! - [`vtcp`](mod@vtcp): a sans-IO stack on a virtual clock.
//! - [`compare`]: the normaliser, the comparison, the side-by-side print.
//! - [`generate`](mod@generate): random scripts from a seed.
//!
//! [`campaign`] generates and runs scripts for a time and files each
//! script with a difference under its class's signature.

pub mod compare;
pub mod generate;
pub mod linux;
pub mod peer;
pub mod run;
pub mod script;
pub mod vtcp;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use compare::{Difference, Record};
use script::Script;

/// A script's two traces and where they part.
#[derive(Debug)]
pub struct Pair {
    /// What Linux did, a record a step.
    pub linux: Vec<Record>,
    /// What vtcp did.
    pub vtcp: Vec<Record>,
    /// Where they part; `None` when they agree.
    pub difference: Option<Difference>,
}

/// Runs `script` on Linux (in `lab`) and on vtcp (its secrets from
/// `seed`) and compares.
pub fn run_pair(lab: &mut linux::LinuxLab, script: &Script, seed: u64) -> io::Result<Pair> {
    let ports = lab.ports();
    let linux = {
        let mut sut = lab.sut(ports)?;
        run::run(script, &mut sut, ports)?
    };
    let mut sut = vtcp::VtcpSut::new(seed, ports.0, ports.1);
    let vtcp = run::run(script, &mut sut, ports)?;
    let difference = compare::compare(script, &linux, &vtcp);
    Ok(Pair {
        linux,
        vtcp,
        difference,
    })
}

/// The totals of a campaign.
#[derive(Debug, Default)]
pub struct Totals {
    /// Scripts run.
    pub scripts: u64,
    /// Steps run (on each side).
    pub steps: u64,
    /// Scripts whose traces differ.
    pub differing: u64,
    /// Scripts per difference class, by signature.
    pub classes: BTreeMap<String, u64>,
}

/// A signature as a file name: letters, digits and `-` only, at most 120
/// characters, and a hash of the whole to tell apart those it shortens.
pub fn class_name(signature: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    signature.hash(&mut h);
    let mut name: String = signature
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    name.truncate(120);
    format!("{}-{:08x}", name.trim_matches('-'), h.finish() as u32)
}

/// How many scripts of each class are written out.
const KEEP_PER_CLASS: u64 = 3;

/// Generates and runs scripts from `seed` on for `time`; with `out`, each
/// class's first scripts go to `out/CLASS/seed-N.txt` (the script, then
/// the two traces side by side as comments). `progress` is told about
/// each new class.
pub fn campaign(
    time: Duration,
    seed: u64,
    out: Option<&Path>,
    mut progress: impl FnMut(&str),
) -> io::Result<Totals> {
    let mut lab = linux::LinuxLab::new()?;
    let mut totals = Totals::default();
    let start = Instant::now();
    let mut n = seed;
    while start.elapsed() < time {
        let script = generate::generate(n);
        let pair = run_pair(&mut lab, &script, n)?;
        totals.scripts += 1;
        totals.steps += script.steps.len() as u64;
        if let Some(d) = &pair.difference {
            totals.differing += 1;
            let count = totals.classes.entry(d.signature.clone()).or_default();
            *count += 1;
            if *count == 1 {
                progress(&d.signature);
            }
            if let Some(dir) = out
                && *count <= KEEP_PER_CLASS
            {
                let dir = dir.join(class_name(&d.signature));
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join(format!("seed-{n}.txt")), report(&script, &pair))?;
            }
        }
        n = n.wrapping_add(1);
    }
    Ok(totals)
}

/// A script's file: its text, then its class and the traces side by
/// side as comments, so that `vtcp-lab diff run` reads it back.
pub fn report(script: &Script, pair: &Pair) -> String {
    let mut s = script.to_string();
    if let Some(d) = &pair.difference {
        s.push_str(&format!(
            "# class: {}\n# differing steps: {:?}\n",
            d.signature, d.steps
        ));
    }
    for line in compare::side_by_side(script, &pair.linux, &pair.vtcp).lines() {
        s.push_str(&format!("# {line}\n"));
    }
    s
}
