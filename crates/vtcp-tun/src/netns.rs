//! Network namespaces (Linux): created and deleted with `ip netns` (its
//! loopback brought up over rtnetlink, [`crate::setup::configure_device`]),
//! one guard per namespace, deleted when dropped (also while a failing test
//! unwinds); namespaces named after a process are swept once that process
//! is gone. The CLI's `--netns` and the interop lab use them.
//!
//! Code runs inside a namespace on a thread of its own that enters it
//! (setns(2) changes only the calling thread's network namespace): sockets
//! and TUN devices created there belong to that namespace for good and
//! can be used from any thread afterwards.

use std::fs::File;
use std::io::{self, Write};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{CloneFlags, setns};

/// A network namespace, deleted on drop if this guard created it.
#[derive(Debug)]
pub struct Netns {
    name: String,
    owned: bool,
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
    /// A new, empty namespace (loopback up) named `PREFIX<pid>-<n>` after
    /// this process, so that a later call with the same prefix can sweep
    /// it if this process is killed before it deletes it.
    pub fn unique(prefix: &str) -> io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        sweep_stale(prefix);
        let name = format!(
            "{prefix}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self::create(name)
    }

    /// A new namespace of this name (an error if it exists), loopback up,
    /// deleted on drop.
    pub fn create(name: impl Into<String>) -> io::Result<Self> {
        let name = name.into();
        ip(&["netns", "add", &name])?;
        let ns = Self { name, owned: true };
        crate::setup::configure_device(Some(&ns), "lo", &crate::setup::KernelSide::new())?;
        Ok(ns)
    }

    /// The namespace of this name, created (and deleted on drop) if it
    /// does not exist yet, left alone on drop if it did.
    pub fn create_or_join(name: impl Into<String>) -> io::Result<Self> {
        let name = name.into();
        if Self::exists(&name) {
            Ok(Self { name, owned: false })
        } else {
            Self::create(name)
        }
    }

    /// Whether a namespace of this name exists.
    pub fn exists(name: &str) -> bool {
        std::path::Path::new(&format!("/var/run/netns/{name}")).exists()
    }

    /// Whether this guard deletes the namespace on drop.
    pub fn is_owned(&self) -> bool {
        self.owned
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
        if self.owned
            && let Err(e) = ip(&["netns", "del", &self.name])
        {
            // Not eprintln!, which panics when stderr is closed; a drop
            // must not panic.
            let _ = writeln!(
                io::stderr(),
                "vtcp: could not delete namespace {}: {e}",
                self.name
            );
        }
    }
}

/// Deletes the namespaces named `PREFIX<pid>-…` whose process is gone.
fn sweep_stale(prefix: &str) {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
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
