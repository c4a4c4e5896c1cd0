//! Network namespaces the lab creates and deletes: one guard per
//! namespace, deleted when dropped (also while a failing test unwinds),
//! and stale ones of dead lab processes swept at start.
//!
//! Code runs inside a namespace on a thread of its own that enters it
//! (setns(2) changes only the calling thread's network namespace): sockets
//! and TUN devices created there belong to that namespace for good and
//! can be used from any thread afterwards.

use std::fs::File;
use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{CloneFlags, setns};

/// The prefix of every namespace the lab creates.
pub const PREFIX: &str = "vtcp-lab-";

/// A network namespace of the lab's, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

/// Runs `ip` with these arguments; an error carries its stderr.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Netns {
    /// A new, empty namespace (loopback up) named after this process, so
    /// that a later run can sweep it if this one is killed.
    pub fn new() -> io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        sweep_stale();
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self::named(name)
    }

    /// A new namespace of this name (it must not exist yet).
    pub fn named(name: impl Into<String>) -> io::Result<Self> {
        let name = name.into();
        ip(&["netns", "add", &name])?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Its name (`ip netns exec NAME …`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME` with these arguments.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `f` on a thread inside the namespace and returns its result.
    pub fn enter<R: Send>(&self, f: impl FnOnce() -> R + Send) -> io::Result<R> {
        let path = format!("/var/run/netns/{}", self.name);
        let file = File::open(&path)?;
        std::thread::scope(|s| {
            s.spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// Sets a sysctl inside the namespace (`net.ipv4.tcp_sack`, …) and
    /// reads it back.
    pub fn sysctl(&self, key: &str, value: &str) -> io::Result<()> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let got = self.enter(|| {
            std::fs::write(&path, value)?;
            std::fs::read_to_string(&path)
        })??;
        if got.trim() == value {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{key} reads {got:?} after setting {value:?}"
            )))
        }
    }

    /// The kernel's TCP counters inside the namespace (`nstat`'s names:
    /// `TcpRetransSegs`, `TcpExtTCPTimeouts`, …), from `/proc/net/snmp` and
    /// `/proc/net/netstat` as this namespace sees them.
    pub fn tcp_counters(&self) -> io::Result<Vec<(String, u64)>> {
        self.enter(|| {
            let mut all = Vec::new();
            for file in ["snmp", "netstat"] {
                let text = std::fs::read_to_string(format!("/proc/thread-self/net/{file}"))?;
                let lines: Vec<&str> = text.lines().collect();
                for pair in lines.chunks(2) {
                    let [names, values] = pair else { continue };
                    let mut names = names.split_whitespace();
                    let Some(prefix) = names.next().map(|p| p.trim_end_matches(':')) else {
                        continue;
                    };
                    for (n, v) in names.zip(values.split_whitespace().skip(1)) {
                        if let Ok(v) = v.parse() {
                            all.push((format!("{prefix}{n}"), v));
                        }
                    }
                }
            }
            Ok(all)
        })?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("vtcp-lab: could not delete namespace {}: {e}", self.name);
        }
    }
}

/// Deletes the lab's namespaces whose process is gone.
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}
