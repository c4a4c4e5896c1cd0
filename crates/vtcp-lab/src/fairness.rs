//! Fairness and queues at a shared bottleneck (issue 21): two flows
//! started together through the same rate-limited relay direction, with
//! one drop-tail queue ([`SharedLab`]), each to its own kernel receiver.
//!
//! - pairs: a vtcp sender (its controller chosen by the caller's
//!   [`StackConfig`]) beside Linux Cubic and beside Linux BBR; and the
//!   references, Linux BBR beside Linux Cubic, two Linux BBR and two
//!   Linux Cubic flows.
//! - each flow's goodput (what its receiver read in the first `time`
//!   seconds from the common start), its share, Jain's fairness index;
//!   the smoothed RTT of both flows sampled every 100 ms over the second
//!   half of the run (the kernel's from `ss -ti`, TCP_INFO's `tcpi_rtt`,
//!   vtcp's from its connection statistics): the competing flow's shows
//!   the standing queue the other one keeps.
//!
//! The bottleneck: 100 Mbit/s, 10 ms each way (a base RTT of 20 ms), a
//! queue of 100 packets (about 12 ms at that rate), no random loss. The
//! way back adds the same delay and no rate limit.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vtcp::StackConfig;
use vtcp_sim::{Controller, Link};
use vtcp_tun::netns::Netns;

use crate::bench::send_for;
use crate::kernel::{self, IO_TIMEOUT};
use crate::relay::clear_link;
use crate::topo::{Impairments, KERNEL_V4, SharedLab};

/// The bottleneck's rate, bit/s.
pub const BOTTLENECK_BPS: u64 = 100_000_000;
/// The relay's delay each way.
pub const ONE_WAY_DELAY: Duration = Duration::from_millis(10);
/// The bottleneck's drop-tail queue, packets.
pub const QUEUE_PACKETS: usize = 100;
/// How often each flow's RTT is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The controllers a run compares when none are named: BBR and HighSpeed
/// (the default). Any of `vtcp_sim::Controller::ALL` may be named; each
/// vtcp sender's stack is `Controller::stack_config`.
pub const DEFAULT_CONTROLLERS: [Controller; 2] = [Controller::Bbr, Controller::HighSpeed];

/// The relay of every run: the bottleneck toward the receivers, the same
/// delay and no rate limit back.
pub fn path() -> Impairments {
    let mut forward = clear_link();
    forward.bandwidth_bps = BOTTLENECK_BPS;
    forward.delay = ONE_WAY_DELAY;
    forward.queue_packets = QUEUE_PACKETS;
    let mut backward: Link = clear_link();
    backward.delay = ONE_WAY_DELAY;
    Impairments {
        forward,
        backward,
        seed: 21,
    }
}

/// Who sends a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sender {
    /// The vtcp stack, with the controller of this name.
    Vtcp(String),
    /// The sender namespace's kernel, with this `TCP_CONGESTION`.
    Linux(&'static str),
}

impl std::fmt::Display for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Vtcp(cc) => write!(f, "vtcp-{cc}"),
            Self::Linux("bbr") => write!(f, "Linux-BBR"),
            Self::Linux("cubic") => write!(f, "Linux-Cubic"),
            Self::Linux(cc) => write!(f, "Linux-{cc}"),
        }
    }
}

/// The median and 90th percentile of a flow's RTT samples, ms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rtt {
    /// Median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Samples taken.
    pub samples: usize,
}

impl Rtt {
    fn of(mut ms: Vec<f64>) -> Option<Self> {
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        (!ms.is_empty()).then(|| Self {
            median: at(0.5),
            p90: at(0.9),
            samples: ms.len(),
        })
    }
}

/// One flow of a pair.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Who sent it.
    pub sender: Sender,
    /// Goodput over the run, Mbit/s.
    pub mbps: f64,
    /// Its smoothed RTT over the second half of the run.
    pub rtt: Option<Rtt>,
}

/// Two flows started together through the bottleneck.
#[derive(Clone, Debug)]
pub struct PairRow {
    /// The flow under test.
    pub a: Flow,
    /// The competing flow (a kernel's).
    pub b: Flow,
    /// Packets the bottleneck's queue dropped.
    pub drops: u64,
}

impl PairRow {
    /// A's share of the total goodput.
    pub fn share_a(&self) -> f64 {
        self.a.mbps / (self.a.mbps + self.b.mbps).max(1e-9)
    }

    /// Jain's fairness index of the two goodputs: 1 when equal, 0.5 when
    /// one flow has everything.
    pub fn jain(&self) -> f64 {
        let (a, b) = (self.a.mbps, self.b.mbps);
        (a + b).powi(2) / (2.0 * (a * a + b * b)).max(1e-9)
    }

    /// Both flows together, Mbit/s.
    pub fn total(&self) -> f64 {
        self.a.mbps + self.b.mbps
    }
}

/// A flow's sending end, and how its RTT is read while it sends.
enum Sending {
    Vtcp(vtcp::TcpStream),
    Kernel(TcpStream),
}

enum Probe {
    /// Another handle to the vtcp connection.
    Vtcp(vtcp::TcpStream),
    /// The kernel connection's local port, in `ss`'s output.
    Kernel(u16),
}

impl Sending {
    fn connect(lab: &SharedLab, who: &Sender, to: SocketAddr) -> io::Result<(Self, Probe)> {
        Ok(match who {
            Sender::Vtcp(_) => {
                let s = vtcp::TcpStream::connect_timeout(lab.stack().net(), to, IO_TIMEOUT)?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                let probe = Probe::Vtcp(s.try_clone()?);
                (Self::Vtcp(s), probe)
            }
            Sender::Linux(cc) => {
                let s = kernel::connect_with_cc(&lab.sender, to, cc)?;
                let probe = Probe::Kernel(s.local_addr()?.port());
                (Self::Kernel(s), probe)
            }
        })
    }

    /// Sends for `time` on a thread of its own, then closes.
    fn spawn(self, time: Duration) -> JoinHandle<io::Result<()>> {
        std::thread::spawn(move || match self {
            Self::Vtcp(mut s) => {
                send_for(&mut s, time)?;
                s.shutdown(Shutdown::Write)
            }
            Self::Kernel(mut s) => {
                send_for(&mut s, time)?;
                s.shutdown(Shutdown::Write)
            }
        })
    }
}

/// Reads to the end on a thread of its own, counting into `got`.
fn count(mut r: TcpStream, got: Arc<AtomicU64>) -> JoinHandle<io::Result<()>> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match r.read(&mut buf)? {
                0 => return Ok(()),
                n => got.fetch_add(n as u64, Ordering::Relaxed),
            };
        }
    })
}

/// The smoothed RTT, ms, of each established kernel connection in `ns`,
/// by local port (`ss -tin`: "rtt:SRTT/RTTVAR").
fn kernel_rtts(ns: &Netns) -> io::Result<Vec<(u16, f64)>> {
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            "ss",
            "-tinH",
            "state",
            "established",
        ])
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ss: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(parse_ss(&String::from_utf8_lossy(&out.stdout)))
}

/// `ss -tinH state established`: a line per socket (Recv-Q, Send-Q, local
/// and peer address), then an indented line of TCP_INFO.
fn parse_ss(out: &str) -> Vec<(u16, f64)> {
    let mut rtts = Vec::new();
    let mut port = None;
    for line in out.lines() {
        if line.starts_with(char::is_whitespace) {
            let rtt = line
                .split_whitespace()
                .find_map(|t| t.strip_prefix("rtt:"))
                .and_then(|t| t.split('/').next()?.parse::<f64>().ok());
            if let (Some(p), Some(rtt)) = (port.take(), rtt) {
                rtts.push((p, rtt));
            }
        } else {
            port = line
                .split_whitespace()
                .nth(2)
                .and_then(|a| a.rsplit(':').next()?.parse().ok());
        }
    }
    rtts
}

/// Two flows, `a` and `b`, started together through `lab`'s bottleneck,
/// each sending for `time`, to kernel receivers at ports `port` and
/// `port + 1` of the receiver namespace.
pub fn pair(
    lab: &SharedLab,
    a: &Sender,
    b: &Sender,
    port: u16,
    time: Duration,
) -> io::Result<PairRow> {
    let drops = lab.relay_losses().0;
    let mut ends = Vec::new();
    for (i, who) in [a, b].into_iter().enumerate() {
        let to = SocketAddr::new(KERNEL_V4, port + i as u16);
        let l = kernel::listen(&lab.receiver, to)?;
        let (sending, probe) = Sending::connect(lab, who, to)?;
        ends.push((sending, probe, kernel::accept(&l)?));
    }
    let start = Instant::now();
    let mut probes = Vec::new();
    let mut got = Vec::new();
    let mut threads = Vec::new();
    for (sending, probe, r) in ends {
        let n = Arc::new(AtomicU64::new(0));
        threads.push(count(r, Arc::clone(&n)));
        threads.push(sending.spawn(time));
        probes.push(probe);
        got.push(n);
    }
    // RTT samples over the second half; what each receiver read when the
    // time is up.
    let mut rtts = [Vec::new(), Vec::new()];
    let mut next = start + time / 2;
    let end = start + time;
    while next < end {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let kernel = if probes.iter().any(|p| matches!(p, Probe::Kernel(_))) {
            kernel_rtts(&lab.sender)?
        } else {
            Vec::new()
        };
        for (probe, rtts) in probes.iter().zip(&mut rtts) {
            let ms = match probe {
                Probe::Vtcp(s) => s.stats()?.srtt.map(|d| d.as_secs_f64() * 1e3),
                Probe::Kernel(port) => kernel.iter().find(|(p, _)| p == port).map(|(_, ms)| *ms),
            };
            rtts.extend(ms);
        }
        next += SAMPLE_EVERY;
    }
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let bytes: Vec<u64> = got.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    let elapsed = start.elapsed();
    let drops = lab.relay_losses().0 - drops;
    for t in threads {
        t.join()
            .map_err(|_| io::Error::other("a sender or receiver panicked"))??;
    }
    let [rtt_a, rtt_b] = rtts;
    let flow = |who: &Sender, bytes: u64, rtt| Flow {
        sender: who.clone(),
        mbps: bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e6,
        rtt: Rtt::of(rtt),
    };
    Ok(PairRow {
        a: flow(a, bytes[0], rtt_a),
        b: flow(b, bytes[1], rtt_b),
        drops,
    })
}

/// Every pair, each sending for `time`: for each `(name, config)` of
/// `vtcp`, vtcp with that stack beside Linux Cubic and beside Linux BBR
/// (on one lab); then the references, Linux BBR beside Linux Cubic, two
/// Linux BBR flows, two Linux Cubic flows (on another). Each row is
/// printed to stderr as it is measured.
pub fn fairness(time: Duration, vtcp: Vec<(String, StackConfig)>) -> io::Result<Vec<PairRow>> {
    let path = path();
    let mut rows = Vec::new();
    let mut port = 7600;
    let mut run = |lab: &SharedLab, a: Sender, b: Sender| -> io::Result<()> {
        let row = pair(lab, &a, &b, port, time)
            .map_err(|e| io::Error::new(e.kind(), format!("{a} + {b}: {e}")))?;
        port += 2;
        eprintln!(
            "{}",
            table(std::slice::from_ref(&row))
                .lines()
                .last()
                .unwrap_or("")
        );
        rows.push(row);
        Ok(())
    };
    for (name, cfg) in vtcp {
        let lab = SharedLab::new(cfg, &path, None)?;
        for b in ["cubic", "bbr"] {
            run(&lab, Sender::Vtcp(name.clone()), Sender::Linux(b))?;
        }
    }
    let lab = SharedLab::new(StackConfig::default(), &path, None)?;
    for (a, b) in [("bbr", "cubic"), ("bbr", "bbr"), ("cubic", "cubic")] {
        run(&lab, Sender::Linux(a), Sender::Linux(b))?;
    }
    Ok(rows)
}

/// The markdown table of [`fairness`].
pub fn table(rows: &[PairRow]) -> String {
    let mut s = String::from(
        "| pair (A + B) | A Mbit/s | B Mbit/s | A's share | Jain's index | B's RTT median / p90 ms \
         | A's RTT median / p90 ms | queue drops |\n|---|---|---|---|---|---|---|---|\n",
    );
    let rtt =
        |r: &Option<Rtt>| r.map_or("—".into(), |r| format!("{:.1} / {:.1}", r.median, r.p90));
    for r in rows {
        s += &format!(
            "| {} + {} | {:.1} | {:.1} | {:.0} % | {:.3} | {} | {} | {} |\n",
            r.a.sender,
            r.b.sender,
            r.a.mbps,
            r.b.mbps,
            100.0 * r.share_a(),
            r.jain(),
            rtt(&r.b.rtt),
            rtt(&r.a.rtt),
            r.drops,
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ss_output_gives_each_socket_its_rtt() {
        let out = "0      0      198.18.0.3:40002 198.18.0.1:7601\n\t cubic wscale:7,7 \
                   rto:228 rtt:27.73/1.2 minrtt:20.1 mss:1448\n\
                   0      0      198.18.0.3:40004 198.18.0.1:7603\n\t bbr rtt:31/4 mss:1448\n";
        assert_eq!(parse_ss(out), vec![(40002, 27.73), (40004, 31.0)]);
    }

    #[test]
    fn jain_and_rtt_percentiles() {
        let flow = |mbps| Flow {
            sender: Sender::Linux("cubic"),
            mbps,
            rtt: None,
        };
        let row = |a, b| PairRow {
            a: flow(a),
            b: flow(b),
            drops: 0,
        };
        assert!((row(40.0, 40.0).jain() - 1.0).abs() < 1e-12);
        assert!((row(80.0, 0.0).jain() - 0.5).abs() < 1e-12);
        assert!((row(30.0, 10.0).share_a() - 0.75).abs() < 1e-12);
        let r = Rtt::of((1..=10).map(f64::from).collect()).unwrap();
        assert_eq!((r.median, r.p90), (6.0, 9.0));
        assert_eq!(Rtt::of(Vec::new()), None);
    }
}
