//! The lab's measurements, vtcp and Linux side by side in the same run
//! (this machine is noisy: ratios hold, absolute figures do not):
//!
//! - [`measure`] at each of [`points`]: goodput over the relay at each
//!   loss, reordering and delay, for vtcp sending to the kernel, the
//!   kernel sending to vtcp, and Linux sending to Linux over the same
//!   relay, with each sender's retransmissions and RTOs.
//! - [`throughput`]: no relay and no loss: the kernel and vtcp over a TUN
//!   device ([`vtcp_tun::TunDriver`]: plain, with offloads, with two
//!   queues) against two kernels over a veth pair, offloads off and on.
//!
//! Each transfer sends for a fixed time, then closes; goodput is what the
//! receiver got over the time until the close arrived.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vtcp::StackConfig;
use vtcp_sim::Link;
use vtcp_tun::netns::Netns;
use vtcp_tun::{KernelSide, ShardCounters, ShardListener, Shards, TunDriver};

use crate::kernel::{self, IO_TIMEOUT, Pattern};
use crate::relay::clear_link;
use crate::topo::{Impairments, KERNEL_V4, KERNEL_V6, KernelLab, PEER_V4, PEER_V6, VtcpLab};

/// One direction's figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Figures {
    /// Goodput, Mbit/s.
    pub mbps: f64,
    /// Segments the sender sent.
    pub segments: u64,
    /// Segments it sent again.
    pub retransmits: u64,
    /// Retransmission timeouts it took.
    pub rtos: u64,
}

impl Figures {
    /// RTOs per 10,000 segments sent.
    pub fn rtos_per_10k(&self) -> f64 {
        self.rtos as f64 * 10_000.0 / self.segments.max(1) as f64
    }
}

/// Writes the pattern until `time` has passed; returns the bytes written.
pub fn send_for(w: &mut impl Write, time: Duration) -> io::Result<u64> {
    let mut p = Pattern::new(7);
    let mut buf = vec![0u8; 256 * 1024];
    p.fill(&mut buf);
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < time {
        w.write_all(&buf)?;
        sent += buf.len() as u64;
    }
    Ok(sent)
}

/// Reads to the end; returns the bytes and the time it took.
fn drain(r: &mut impl Read) -> io::Result<(u64, Duration)> {
    let start = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((total, start.elapsed()));
        }
        total += n as u64;
    }
}

fn mbps(bytes: u64, t: Duration) -> f64 {
    bytes as f64 * 8.0 / t.as_secs_f64() / 1e6
}

/// The kernel's segments sent, retransmitted and RTOs so far, in `ns`.
fn kernel_counts(ns: &Netns) -> io::Result<[u64; 3]> {
    let all = ns.tcp_counters()?;
    let get = |name: &str| {
        all.iter()
            .find_map(|(n, v)| (n == name).then_some(*v))
            .unwrap_or(0)
    };
    Ok([
        get("TcpOutSegs"),
        get("TcpRetransSegs"),
        get("TcpExtTCPTimeouts"),
    ])
}

/// A kernel sender in `from` (with congestion control `cc`, or the
/// namespace's default) to a kernel or vtcp receiver reached at `to`,
/// whose accepted stream `accept` gives.
fn kernel_sends<S: Read + Send + 'static>(
    from: &Netns,
    to: SocketAddr,
    cc: Option<&str>,
    time: Duration,
    accept: impl FnOnce() -> io::Result<S> + Send + 'static,
) -> io::Result<Figures> {
    let before = kernel_counts(from)?;
    let receiver = std::thread::spawn(move || -> io::Result<(u64, Duration)> {
        let mut s = accept()?;
        drain(&mut s)
    });
    let mut k = match cc {
        Some(cc) => kernel::connect_with_cc(from, to, cc)?,
        None => kernel::connect(from, to)?,
    };
    send_for(&mut k, time)?;
    k.shutdown(Shutdown::Write)?;
    let (bytes, t) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))??;
    drop(k);
    let after = kernel_counts(from)?;
    Ok(Figures {
        mbps: mbps(bytes, t),
        segments: after[0] - before[0],
        retransmits: after[1] - before[1],
        rtos: after[2] - before[2],
    })
}

/// One point of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    /// Random loss each way.
    pub loss: f64,
    /// Reordering each way.
    pub reorder: f64,
    /// Round-trip time added by the relay.
    pub rtt: Duration,
}

impl Point {
    fn link(&self) -> Link {
        {
            let mut config = clear_link();
            config.loss = self.loss;
            config.reorder = self.reorder;
            config.delay = self.rtt / 2;
            config
        }
    }
}

/// The figures at one point: vtcp sending, vtcp receiving (the kernel
/// sending), Linux sending to Linux.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// Where.
    pub point: Point,
    /// vtcp sends to the kernel.
    pub vtcp_sends: Figures,
    /// The kernel (Cubic) sends to vtcp.
    pub vtcp_receives: Figures,
    /// Linux sends to Linux over the same relay, with Cubic: a loss-based
    /// controller, as vtcp's are.
    pub linux: Figures,
    /// The same with BBR (this kernel's default), which does not take
    /// random loss for congestion.
    pub linux_bbr: Figures,
    /// vtcp sends to the kernel with BBR.
    pub vtcp_bbr_sends: Figures,
}

fn linux_to_linux(path: &Impairments, time: Duration, cc: &str) -> io::Result<Figures> {
    let lab = KernelLab::new(path, None)?;
    let l = kernel::listen(&lab.b, SocketAddr::new(PEER_V4, 7001))?;
    kernel_sends(
        &lab.a,
        SocketAddr::new(PEER_V4, 7001),
        Some(cc),
        time,
        move || kernel::accept(&l),
    )
}

/// Measures one point, each transfer sending for `time`.
pub fn measure(point: Point, time: Duration, seed: u64) -> io::Result<Row> {
    let path = Impairments::symmetric(point.link(), seed);
    let linux = linux_to_linux(&path, time, "cubic")?;
    let linux_bbr = linux_to_linux(&path, time, "bbr")?;
    let lab = VtcpLab::new(StackConfig::default(), &path, None)?;
    let vtcp_receives = {
        let l = vtcp::TcpListener::bind(lab.stack().net(), SocketAddr::new(PEER_V4, 7002))?;
        kernel_sends(
            &lab.kernel,
            SocketAddr::new(PEER_V4, 7002),
            Some("cubic"),
            time,
            move || {
                let (s, _) = l
                    .accept_timeout(IO_TIMEOUT)?
                    .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                Ok(s)
            },
        )?
    };
    let vtcp_sends_ = vtcp_sends(
        lab.stack().net(),
        &lab.kernel,
        SocketAddr::new(KERNEL_V4, 7003),
        time,
    )?;
    drop(lab);
    let lab = VtcpLab::new(vtcp_sim::Controller::Bbr.stack_config(), &path, None)?;
    let vtcp_bbr_sends = vtcp_sends(
        lab.stack().net(),
        &lab.kernel,
        SocketAddr::new(KERNEL_V4, 7004),
        time,
    )?;
    Ok(Row {
        point,
        vtcp_sends: vtcp_sends_,
        vtcp_receives,
        linux,
        linux_bbr,
        vtcp_bbr_sends,
    })
}

/// The points of the matrix: loss 0/1/2/5 %, reordering 0/2 %, added RTT
/// 0/20 ms.
pub fn points() -> Vec<Point> {
    let mut v = Vec::new();
    for rtt in [0, 20] {
        for reorder in [0.0, 0.02] {
            for loss in [0.0, 0.01, 0.02, 0.05] {
                v.push(Point {
                    loss,
                    reorder,
                    rtt: Duration::from_millis(rtt),
                });
            }
        }
    }
    v
}

/// The markdown table of the matrix.
pub fn matrix_table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| loss | reorder | +RTT | Linux→Linux Cubic Mbit/s | vtcp→Linux Mbit/s | ratio | \
         Linux→Linux BBR Mbit/s | vtcp BBR→Linux Mbit/s | vtcp BBR / Linux BBR | \
         Linux Cubic→vtcp Mbit/s | Linux Cubic retx / RTOs per 10k | \
         vtcp retx / RTOs per 10k | vtcp BBR retx / RTOs per 10k | \
         Linux Cubic→vtcp retx / RTOs per 10k |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let f = |x: &Figures| format!("{} / {:.1}", x.retransmits, x.rtos_per_10k());
    for r in rows {
        s += &format!(
            "| {:.0} % | {:.0} % | {} ms | {:.0} | {:.1} | {:.2} | {:.0} | {:.0} | {:.2} | {:.0} | {} | {} | {} | {} |\n",
            r.point.loss * 100.0,
            r.point.reorder * 100.0,
            r.point.rtt.as_millis(),
            r.linux.mbps,
            r.vtcp_sends.mbps,
            r.vtcp_sends.mbps / r.linux.mbps.max(1e-9),
            r.linux_bbr.mbps,
            r.vtcp_bbr_sends.mbps,
            r.vtcp_bbr_sends.mbps / r.linux_bbr.mbps.max(1e-9),
            r.vtcp_receives.mbps,
            f(&r.linux),
            f(&r.vtcp_sends),
            f(&r.vtcp_bbr_sends),
            f(&r.vtcp_receives),
        );
    }
    s
}

/// Two kernels over a veth pair, offloads on or off; goodput a to b.
/// Two namespaces joined by a veth pair: `va` at 198.18.0.1 in the first,
/// `vb` at 198.18.0.2 in the second (the pair made by `ip link add`, its
/// addresses and link state set by `vtcp_tun::configure_device`).
pub(crate) fn veth_pair() -> io::Result<(Netns, Netns)> {
    let a = Netns::unique(crate::NETNS_PREFIX)?;
    let b = Netns::unique(crate::NETNS_PREFIX)?;
    a.ip(&[
        "link",
        "add",
        "va",
        "type",
        "veth",
        "peer",
        "name",
        "vb",
        "netns",
        b.name(),
    ])?;
    for (ns, dev, addr) in [(&a, "va", [198, 18, 0, 1]), (&b, "vb", [198, 18, 0, 2])] {
        let side = vtcp_tun::KernelSide::new().addr(addr.into(), 24);
        vtcp_tun::configure_device(Some(ns), dev, &side)?;
    }
    Ok((a, b))
}

/// Turns the offloads of both ends of a [`veth_pair`] on or off
/// (`ethtool -K … tso gso gro tx rx`).
fn veth_offloads(a: &Netns, b: &Netns, offloads: bool) -> io::Result<()> {
    let state = if offloads { "on" } else { "off" };
    for (ns, dev) in [(a, "va"), (b, "vb")] {
        let st = std::process::Command::new("ip")
            .args(["netns", "exec", ns.name(), "ethtool", "-K", dev])
            .args([
                "tso", state, "gso", state, "gro", state, "tx", state, "rx", state,
            ])
            .output()?;
        if !st.status.success() {
            return Err(io::Error::other(format!(
                "ethtool -K {dev}: {}",
                String::from_utf8_lossy(&st.stderr).trim()
            )));
        }
    }
    Ok(())
}

fn veth(offloads: bool, time: Duration) -> io::Result<f64> {
    let (a, b) = veth_pair()?;
    veth_offloads(&a, &b, offloads)?;
    let l = kernel::listen(&b, SocketAddr::new(PEER_V4, 7101))?;
    let f = kernel_sends(&a, SocketAddr::new(PEER_V4, 7101), None, time, move || {
        kernel::accept(&l)
    })?;
    Ok(f.mbps)
}

/// The figures of [`throughput`], Mbit/s.
#[derive(Clone, Debug)]
pub struct Throughput {
    /// (what, Mbit/s), in the order measured.
    pub rows: Vec<(String, f64)>,
}

impl Throughput {
    /// The figure of a row.
    pub fn get(&self, what: &str) -> f64 {
        self.rows
            .iter()
            .find_map(|(w, v)| (w == what).then_some(*v))
            .unwrap_or(f64::NAN)
    }

    /// The markdown table.
    pub fn table(&self) -> String {
        let mut s = String::from("| path | Mbit/s |\n|---|---|\n");
        for (w, v) in &self.rows {
            s += &format!("| {w} | {v:.0} |\n");
        }
        s
    }
}

/// The benchmarks' device in `ns`: `vtcp0` of `queues` queues, with
/// IFF_VNET_HDR when `offload` (an error if the kernel refuses it), the
/// kernel's side as given with room for many flows' packets at once: the
/// kernel queues at most txqueuelen packets for the device's reader (500
/// by default), and thousands of flows at once overrun that and lose
/// packets to RTOs before vtcp sees them (`vtcp-lab bench echo`).
fn bench_device(
    ns: &Netns,
    offload: bool,
    queues: usize,
    kernel: KernelSide,
) -> io::Result<Vec<vtcp_tun::Tun>> {
    let mut cfg = vtcp_tun::TunConfig::named("vtcp0");
    cfg.offload = offload;
    let tuns = vtcp_tun::open_device(Some(ns), &cfg, queues, &kernel.txqueuelen(20_000))?;
    if offload && !tuns.iter().all(vtcp_tun::Tun::offload) {
        return Err(io::Error::other("the kernel refused IFF_VNET_HDR"));
    }
    Ok(tuns)
}

/// A namespace with a TUN interface of `queues` queues (one vtcp stack
/// each, all at 198.18.0.2), the kernel at 198.18.0.1; with `offload`,
/// the device has IFF_VNET_HDR. No relay: each driver reads and writes
/// the device itself.
pub fn tun_stacks(offload: bool, queues: usize) -> io::Result<(Vec<TunDriver>, Netns)> {
    let ns = Netns::unique(crate::NETNS_PREFIX)?;
    let tuns = bench_device(&ns, offload, queues, KernelSide::new().addr(KERNEL_V4, 24))?;
    let drivers = tuns
        .into_iter()
        .map(|t| TunDriver::start(t, StackConfig::default(), &[PEER_V4]))
        .collect::<io::Result<Vec<_>>>()?;
    Ok((drivers, ns))
}

/// A namespace with a TUN interface of `queues` queues run by
/// [`Shards`] (a stack per queue, with the hand-off between them; one
/// queue is a plain single-queue device), vtcp at 198.18.0.2 and fd00::2,
/// the kernel at 198.18.0.1 and fd00::1; with `offload`, the device has
/// IFF_VNET_HDR. No relay. Returned before the namespace, so that a
/// caller's tuple drops the stacks first.
pub fn tun_shards(offload: bool, queues: usize) -> io::Result<(Shards, Netns)> {
    let ns = Netns::unique(crate::NETNS_PREFIX)?;
    let kernel = KernelSide::new().addr(KERNEL_V4, 24).addr(KERNEL_V6, 64);
    let tuns = bench_device(&ns, offload, queues, kernel)?;
    let shards = Shards::start(tuns, StackConfig::default, &[PEER_V4, PEER_V6])?;
    Ok((shards, ns))
}

/// `flows` kernel connections sending to the vtcp stacks at once; the
/// total goodput.
fn kernel_to_vtcp(
    drivers: &[TunDriver],
    ns: &Netns,
    flows: usize,
    time: Duration,
) -> io::Result<f64> {
    let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let mut receivers = Vec::new();
    let listeners: Vec<_> = drivers
        .iter()
        .map(|d| vtcp::TcpListener::bind(d.net(), SocketAddr::new(PEER_V4, 7201)))
        .collect::<io::Result<_>>()?;
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for l in listeners {
        let (total, accepted) = (Arc::clone(&total), Arc::clone(&accepted));
        receivers.push(std::thread::spawn(move || -> io::Result<()> {
            let mut streams = Vec::new();
            while accepted.load(std::sync::atomic::Ordering::Acquire) < flows {
                if let Some((s, _)) = l.accept_timeout(Duration::from_millis(50))? {
                    accepted.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    s.set_read_timeout(Some(IO_TIMEOUT))?;
                    let total = Arc::clone(&total);
                    streams.push(std::thread::spawn(move || -> io::Result<()> {
                        let mut s = s;
                        let (n, _) = drain(&mut s)?;
                        total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                        Ok(())
                    }));
                }
                if start.elapsed() > IO_TIMEOUT {
                    return Err(io::Error::from(io::ErrorKind::TimedOut));
                }
            }
            for s in streams {
                s.join()
                    .map_err(|_| io::Error::other("a reader panicked"))??;
            }
            Ok(())
        }));
    }
    let senders: Vec<_> = (0..flows)
        .map(|_| {
            let mut k = kernel::connect(ns, SocketAddr::new(PEER_V4, 7201))?;
            Ok(std::thread::spawn(move || -> io::Result<()> {
                send_for(&mut k, time)?;
                k.shutdown(Shutdown::Write)
            }))
        })
        .collect::<io::Result<_>>()?;
    for s in senders {
        s.join()
            .map_err(|_| io::Error::other("a sender panicked"))??;
    }
    for r in receivers {
        r.join()
            .map_err(|_| io::Error::other("a receiver panicked"))??;
    }
    Ok(mbps(
        total.load(std::sync::atomic::Ordering::Relaxed),
        start.elapsed(),
    ))
}

/// vtcp (`net`) sending to a kernel reader in `ns` listening at `to`.
fn vtcp_sends(
    net: &vtcp::NetStack,
    ns: &Netns,
    to: SocketAddr,
    time: Duration,
) -> io::Result<Figures> {
    let l = kernel::listen(ns, to)?;
    let receiver = std::thread::spawn(move || -> io::Result<(u64, Duration)> {
        drain(&mut kernel::accept(&l)?)
    });
    let mut v = vtcp::TcpStream::connect_timeout(net, to, IO_TIMEOUT)?;
    v.set_write_timeout(Some(IO_TIMEOUT))?;
    send_for(&mut v, time)?;
    v.shutdown(Shutdown::Write)?;
    let (bytes, t) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))??;
    let st = v.stats()?;
    Ok(Figures {
        mbps: mbps(bytes, t),
        segments: st.segments_out,
        retransmits: st.retransmits,
        rtos: st.rtos,
    })
}

/// vtcp on a TUN device (plain, with offloads, with two queues) against
/// two kernels over veth.
pub fn throughput(time: Duration) -> io::Result<Throughput> {
    let mut rows = Vec::new();
    for offload in [false, true] {
        let (drivers, ns) = tun_stacks(offload, 1)?;
        let name = if offload {
            "TUN, offloads (IFF_VNET_HDR)"
        } else {
            "plain TUN"
        };
        rows.push((
            format!("kernel → vtcp, {name}"),
            kernel_to_vtcp(&drivers, &ns, 1, time)?,
        ));
        rows.push((
            format!("vtcp → kernel, {name}"),
            vtcp_sends(
                drivers[0].net(),
                &ns,
                SocketAddr::new(KERNEL_V4, 7202),
                time,
            )?
            .mbps,
        ));
    }
    for queues in [1, 2] {
        let (shards, ns) = tun_shards(false, queues)?;
        rows.push((
            format!("kernel → vtcp, plain TUN, 4 flows, {queues} queue(s) and stack(s)"),
            kernel_to_vtcp(shards.drivers(), &ns, 4, time)?,
        ));
    }
    rows.push((
        "kernel → kernel, veth, offloads off".into(),
        veth(false, time)?,
    ));
    rows.push((
        "kernel → kernel, veth, offloads on".into(),
        veth(true, time)?,
    ));
    Ok(Throughput { rows })
}

/// CPU time so far, in seconds: this process's (utime + stime of
/// `/proc/self/stat`, every thread's, in the kernel's clock ticks of
/// 1/100 s) and the whole machine's busy time (`/proc/stat`: all but idle
/// and I/O wait, every core's), which also holds what the kernel's side
/// of a transfer spent in softirqs outside this process. Zero where they
/// cannot be read.
pub fn cpu_seconds() -> (f64, f64) {
    const USER_HZ: f64 = 100.0;
    let process = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The command name may hold spaces: the fields after its ')'.
            let rest = &s[s.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / USER_HZ)
        })
        .unwrap_or(0.0);
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?.strip_prefix("cpu ")?;
            let v: Vec<f64> = line
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0.0))
                .collect();
            // user nice system idle iowait irq softirq steal (guest is
            // in user already).
            let busy = v.iter().take(8).sum::<f64>() - v.get(3)? - v.get(4)?;
            Some(busy / USER_HZ)
        })
        .unwrap_or(0.0);
    (process, machine)
}

/// What `flows_at_once` measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowFigures {
    /// Goodput of all flows together, Mbit/s.
    pub mbps: f64,
    /// The slowest flow's goodput as a share of an even split of the
    /// total (1.0: every flow got the same).
    pub slowest_share: f64,
    /// This process's CPU seconds per Gbit moved (utime + stime over the
    /// run, [`cpu_seconds`]): equally, cores busy per Gbit/s.
    pub cpu_per_gbit: f64,
    /// The machine's busy CPU seconds per Gbit moved (the kernel's side
    /// included).
    pub machine_cpu_per_gbit: f64,
}

/// `flows` connections at once, each made by `connect` and accepted by
/// `accept` (one pair after another), then all sending the pattern for
/// `time` and closing; the receivers read to the end.
fn flows_at_once<W, R>(
    flows: usize,
    time: Duration,
    connect: impl Fn() -> io::Result<W>,
    mut accept: impl FnMut() -> io::Result<R>,
) -> io::Result<FlowFigures>
where
    W: Write + Send + 'static,
    R: Read + Send + 'static,
{
    let mut pairs = Vec::with_capacity(flows);
    for _ in 0..flows {
        let w = connect()?;
        pairs.push((w, accept()?));
    }
    let start = Instant::now();
    let cpu = cpu_seconds();
    let mut receivers = Vec::with_capacity(flows);
    let mut senders = Vec::with_capacity(flows);
    for (mut w, mut r) in pairs {
        receivers.push(std::thread::spawn(move || drain(&mut r).map(|(n, _)| n)));
        senders.push(std::thread::spawn(move || send_for(&mut w, time)));
    }
    for s in senders {
        s.join()
            .map_err(|_| io::Error::other("a sender panicked"))??;
    }
    let mut got = Vec::with_capacity(flows);
    for r in receivers {
        got.push(
            r.join()
                .map_err(|_| io::Error::other("a receiver panicked"))??,
        );
    }
    let elapsed = start.elapsed();
    let (process, machine) = cpu_seconds();
    let total: u64 = got.iter().sum();
    let slowest = got.iter().copied().min().unwrap_or(0);
    let gbit = (total as f64 * 8.0 / 1e9).max(1e-9);
    Ok(FlowFigures {
        mbps: mbps(total, elapsed),
        slowest_share: slowest as f64 * flows as f64 / total.max(1) as f64,
        cpu_per_gbit: (process - cpu.0) / gbit,
        machine_cpu_per_gbit: (machine - cpu.1) / gbit,
    })
}

/// One row of [`flows`]: a number of flows at once over a number of
/// queues on each path; a path that failed (a flow that made no progress
/// for [`IO_TIMEOUT`], say) says why instead.
#[derive(Clone, Debug)]
pub struct FlowsRow {
    /// Flows at once.
    pub flows: usize,
    /// Queues of the TUN device, a vtcp stack on each ([`Shards`]).
    pub queues: usize,
    /// The kernel sending to vtcp over a plain TUN device.
    pub to_vtcp: Result<FlowFigures, String>,
    /// vtcp sending to the kernel over the same device.
    pub from_vtcp: Result<FlowFigures, String>,
    /// Times vtcp's outboxes filled while it sent and a stack paused
    /// until its writer thread had written a batch (`OutboxStats::full`).
    pub from_vtcp_stalls: u64,
    /// Segments that came in on a queue whose stack did not own their
    /// connection and were handed to the owner, both ways together
    /// (`ShardCounters::handed_off`).
    pub handed_off: u64,
    /// The kernel sending to the kernel over a veth pair, offloads off
    /// (measured once per number of flows, shown in each of its rows).
    pub veth: Result<FlowFigures, String>,
}

/// 1, 4, 16, 64 (`counts`) flows at once, each sending for `time`, over a
/// plain TUN device of each number of `queues` (a vtcp stack per queue,
/// [`Shards`]: the kernel's flows accepted by a [`ShardListener`] on
/// every shard, vtcp's opened from the least loaded shard): the kernel to
/// vtcp and vtcp to the kernel, and two kernels over a veth pair without
/// offloads; with the CPU time each took ([`cpu_seconds`]). Each sender
/// writes the pattern and closes; each receiver counts what it reads (no
/// checksum, as in [`throughput`]). A path that fails is reported in its
/// row and the run goes on.
pub fn flows(counts: &[usize], queues: &[usize], time: Duration) -> io::Result<Vec<FlowsRow>> {
    let mut rows = Vec::new();
    for &n in counts {
        let veth = {
            let (a, b) = veth_pair()?;
            veth_offloads(&a, &b, false)?;
            let vl = kernel::listen(&b, SocketAddr::new(PEER_V4, 7503))?;
            flows_at_once(
                n,
                time,
                || kernel::connect(&a, SocketAddr::new(PEER_V4, 7503)),
                || kernel::accept(&vl),
            )
            .map_err(|e| e.to_string())
        };
        for &q in queues {
            let row = flows_over(n, q, time, veth.clone())?;
            eprintln!(
                "{}",
                flows_table(std::slice::from_ref(&row))
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            rows.push(row);
        }
    }
    Ok(rows)
}

/// One row of [`flows`]: `n` flows each way over `queues` queues.
fn flows_over(
    n: usize,
    queues: usize,
    time: Duration,
    veth: Result<FlowFigures, String>,
) -> io::Result<FlowsRow> {
    let handed = |s: &Shards| ShardCounters::sum(&s.counters()).handed_off;
    let (shards, ns) = tun_shards(false, queues)?;
    // Room for 64 handshakes in a row on each shard.
    let l = ShardListener::bind_with_backlog(&shards, SocketAddr::new(PEER_V4, 7501), 256)?;
    let to_vtcp = flows_at_once(
        n,
        time,
        || kernel::connect(&ns, SocketAddr::new(PEER_V4, 7501)),
        || {
            let (s, _) = l
                .accept_timeout(IO_TIMEOUT)?
                .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))?;
            s.set_read_timeout(Some(IO_TIMEOUT))?;
            Ok(s)
        },
    )
    .map_err(|e| e.to_string());
    let mut handed_off = handed(&shards);
    drop((l, shards, ns));
    // A fresh device and stacks: a failure above leaves nothing behind.
    let (shards, ns) = tun_shards(false, queues)?;
    let kl = kernel::listen(&ns, SocketAddr::new(KERNEL_V4, 7502))?;
    let full = |s: &Shards| (0..s.len()).map(|i| s.net(i).outbox().full).sum::<u64>();
    let stalls = full(&shards);
    let from_vtcp = flows_at_once(
        n,
        time,
        || {
            let s = shards.connect_timeout(SocketAddr::new(KERNEL_V4, 7502), IO_TIMEOUT)?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            Ok(s)
        },
        || kernel::accept(&kl),
    )
    .map_err(|e| e.to_string());
    let from_vtcp_stalls = full(&shards) - stalls;
    handed_off += handed(&shards);
    drop((kl, shards, ns));
    Ok(FlowsRow {
        flows: n,
        queues,
        to_vtcp,
        from_vtcp,
        from_vtcp_stalls,
        handed_off,
        veth,
    })
}

/// The markdown table of [`flows`]: goodput, the slowest flow's share,
/// and CPU seconds per Gbit moved (this process's / the machine's), for
/// each path; a row of more than one queue also gives its goodput over
/// the same flows on one queue.
pub fn flows_table(rows: &[FlowsRow]) -> String {
    let mut s = String::from(
        "| flows | queues | kernel → vtcp, Mbit/s | slowest flow | CPU s/Gbit, vtcp / machine \
         | vtcp → kernel, Mbit/s | slowest flow | CPU s/Gbit, vtcp / machine | vtcp's outbox full \
         | handed off | × 1 queue, receiving / sending | kernel → kernel, veth, offloads off, \
         Mbit/s | CPU s/Gbit, process / machine | TUN receiving / veth | TUN sending / veth |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let pc = |x: f64| {
        if x.is_finite() {
            format!("{:.0} %", 100.0 * x)
        } else {
            "—".into()
        }
    };
    let cpu = |f: &FlowFigures| format!("{:.2} / {:.2}", f.cpu_per_gbit, f.machine_cpu_per_gbit);
    let cells = |f: &Result<FlowFigures, String>| match f {
        Ok(f) => format!("{:.0} | {} | {}", f.mbps, pc(f.slowest_share), cpu(f)),
        Err(e) => format!("failed: {e} | — | —"),
    };
    let rate = |x: &Result<FlowFigures, String>| x.as_ref().map_or(f64::NAN, |f| f.mbps);
    for r in rows {
        let veth = rate(&r.veth);
        let one = rows.iter().find(|o| o.flows == r.flows && o.queues == 1);
        let gain = match one {
            Some(o) if r.queues > 1 => format!(
                "{:.2} / {:.2}",
                rate(&r.to_vtcp) / rate(&o.to_vtcp),
                rate(&r.from_vtcp) / rate(&o.from_vtcp)
            ),
            _ => "—".into(),
        };
        let veth_cells = match &r.veth {
            Ok(f) => format!("{:.0} | {}", f.mbps, cpu(f)),
            Err(e) => format!("failed: {e} | —"),
        };
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.flows,
            r.queues,
            cells(&r.to_vtcp),
            cells(&r.from_vtcp),
            r.from_vtcp_stalls,
            r.handed_off,
            gain,
            veth_cells,
            pc(rate(&r.to_vtcp) / veth),
            pc(rate(&r.from_vtcp) / veth),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    /// The pair `configure_device` set up carries a kernel connection from
    /// `va` to `vb`.
    #[test]
    fn a_veth_pair_carries_a_connection() {
        if !crate::lab_here("a_veth_pair_carries_a_connection") {
            return;
        }
        let (a, b) = super::veth_pair().unwrap();
        let at: SocketAddr = "198.18.0.2:7401".parse().unwrap();
        let l = crate::kernel::listen(&b, at).unwrap();
        let mut c = crate::kernel::connect(&a, at).unwrap();
        let mut s = crate::kernel::accept(&l).unwrap();
        std::io::Write::write_all(&mut c, b"over the veth").unwrap();
        let mut got = [0u8; 13];
        std::io::Read::read_exact(&mut s, &mut got).unwrap();
        assert_eq!(&got, b"over the veth");
        assert_eq!(s.peer_addr().unwrap().ip().to_string(), "198.18.0.1");
    }
}
