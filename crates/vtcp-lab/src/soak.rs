//! `vtcp-lab soak MINUTES`: vtcp against the kernel for a long time, on
//! a plain TUN device ([`crate::bench::tun_stacks`], no relay), with
//! everything a long-lived server sees at once:
//!
//! - bulk transfers both ways: [`BULK_FLOWS`] connections from the kernel
//!   to vtcp and as many from vtcp to the kernel, each writing the seeded
//!   pattern for the whole run; every octet is compared with the pattern
//!   as it arrives (a running check, so a stream of any length is
//!   checked, and a corruption is reported at its offset);
//! - request/response exchanges: [`EXCHANGE_FLOWS`] kernel clients of a
//!   vtcp server and as many vtcp clients of a kernel server, each
//!   exchange a request of 1–1000 octets and a response of 1–64 KiB, both
//!   checked;
//! - connections opened and closed in a loop, one loop each way (connect,
//!   one octet each way, close).
//!
//! Every [`Soak::report_every`] it prints one line: elapsed time, the
//! process's RSS (`VmRSS`), the connections the workload holds open and
//! vtcp's stack holds (TIME-WAIT included), the octets moved each way,
//! the exchanges and open/close cycles done, and the longest time any
//! connection made no progress while its peer wanted to move data. That
//! time past [`Soak::stall_limit`] (5 s) is a failure, and so is any
//! error or any octet that differs; the run stops after its duration.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vtcp_tun::netns::Netns;

use crate::kernel::{self, Pattern};
use crate::topo::{KERNEL_V4, PEER_V4};

/// Bulk connections each way.
pub const BULK_FLOWS: usize = 2;

/// Request/response connections each way.
pub const EXCHANGE_FLOWS: usize = 2;

/// How long any one read or write of the soak may block: past the stall
/// limit, so that the monitor reports a stall before a worker times out.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(15);

/// The size of the pattern's blocks: senders write whole blocks, and
/// receivers generate the same blocks to compare.
const BLOCK: usize = 64 * 1024;

/// What a soak runs for and how it reports.
#[derive(Clone, Copy, Debug)]
pub struct Soak {
    /// How long the workload runs (then it winds down and checks).
    pub duration: Duration,
    /// How often a line is printed.
    pub report_every: Duration,
    /// No progress for this long while the peer wants to move data is a
    /// failure.
    pub stall_limit: Duration,
}

impl Soak {
    /// A soak of `duration`, a line every 5 s, stalls of 5 s fatal.
    pub fn new(duration: Duration) -> Self {
        Self {
            duration,
            report_every: Duration::from_secs(5),
            stall_limit: Duration::from_secs(5),
        }
    }
}

/// The figures of one report line (and of the summary).
#[derive(Clone, Debug, Default)]
pub struct Line {
    /// Time since the workload started.
    pub elapsed: Duration,
    /// The process's resident set, KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Connections the workload holds open.
    pub open: u64,
    /// Connections in vtcp's stack (TIME-WAIT included).
    pub stack: usize,
    /// Octets the kernel moved to vtcp (bulk, exchanges and cycles).
    pub to_vtcp: u64,
    /// Octets vtcp moved to the kernel.
    pub to_kernel: u64,
    /// Request/response exchanges completed.
    pub exchanges: u64,
    /// Connections opened and closed.
    pub cycles: u64,
    /// The longest time any connection went without progress while its
    /// peer wanted to move data, so far.
    pub longest_stall: Duration,
    /// Which connection (or loop) that was.
    pub longest_stall_flow: String,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6.0} s  rss {:>7.1} MiB  open {:>3} (stack {:>5})  kernel->vtcp {:>8.3} GiB  \
             vtcp->kernel {:>8.3} GiB  exchanges {:>8}  open/close {:>7}  longest stall {:.2} s \
             ({})",
            self.elapsed.as_secs_f64(),
            self.rss_kib as f64 / 1024.0,
            self.open,
            self.stack,
            self.to_vtcp as f64 / (1u64 << 30) as f64,
            self.to_kernel as f64 / (1u64 << 30) as f64,
            self.exchanges,
            self.cycles,
            self.longest_stall.as_secs_f64(),
            if self.longest_stall_flow.is_empty() {
                "none"
            } else {
                &self.longest_stall_flow
            },
        )
    }
}

/// The process's resident set in KiB, from `/proc/self/status`.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One connection (or one loop of connections) the monitor watches.
struct Flow {
    name: String,
    /// Milliseconds since the start when it last made progress.
    last: AtomicU64,
    /// Whether its peer wants to move data now (a transfer or an exchange
    /// under way).
    waiting: AtomicBool,
}

/// What the workers and the monitor share.
struct Shared {
    start: Instant,
    stop: AtomicBool,
    failure: Mutex<Option<String>>,
    flows: Mutex<Vec<Arc<Flow>>>,
    to_vtcp: AtomicU64,
    to_kernel: AtomicU64,
    exchanges: AtomicU64,
    cycles: AtomicU64,
    open: AtomicU64,
    /// The longest stall so far and whose it was.
    longest: Mutex<(u64, String)>,
}

impl Shared {
    fn new(start: Instant) -> Self {
        Self {
            start,
            stop: AtomicBool::new(false),
            failure: Mutex::new(None),
            flows: Mutex::new(Vec::new()),
            to_vtcp: AtomicU64::new(0),
            to_kernel: AtomicU64::new(0),
            exchanges: AtomicU64::new(0),
            cycles: AtomicU64::new(0),
            open: AtomicU64::new(0),
            longest: Mutex::new((0, String::new())),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Records the first failure and stops everything.
    fn fail(&self, why: String) {
        let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(why);
        }
        self.stop.store(true, Ordering::Release);
    }

    fn flow(&self, name: String) -> Arc<Flow> {
        let f = Arc::new(Flow {
            name,
            last: AtomicU64::new(self.now_ms()),
            waiting: AtomicBool::new(false),
        });
        self.flows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&f));
        f
    }

    fn progress(&self, f: &Flow) {
        f.last.store(self.now_ms(), Ordering::Relaxed);
    }

    /// The flow's peer starts (true) or stops wanting to move data.
    fn wants(&self, f: &Flow, yes: bool) {
        self.progress(f);
        f.waiting.store(yes, Ordering::Release);
    }

    /// The longest stall now; the worst flow's name if past `limit`.
    fn check_stalls(&self, limit: Duration) -> Option<String> {
        let now = self.now_ms();
        let flows = self.flows.lock().unwrap_or_else(|p| p.into_inner());
        let mut worst: Option<(u64, &str)> = None;
        for f in flows.iter() {
            if f.waiting.load(Ordering::Acquire) {
                let stall = now.saturating_sub(f.last.load(Ordering::Relaxed));
                if worst.is_none_or(|(w, _)| stall > w) {
                    worst = Some((stall, &f.name));
                }
            }
        }
        let (stall, name) = worst?;
        let mut longest = self.longest.lock().unwrap_or_else(|p| p.into_inner());
        if stall > longest.0 {
            *longest = (stall, name.to_owned());
        }
        (stall > limit.as_millis() as u64).then(|| {
            format!(
                "{name}: no progress for {:.1} s while its peer wanted to move data",
                stall as f64 / 1e3
            )
        })
    }

    /// The longest stall so far, ms, and whose.
    fn line_figures(&self) -> (u64, String) {
        self.longest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn line(&self, net: &vtcp::NetStack) -> Line {
        let (longest_ms, longest_flow) = self.line_figures();
        Line {
            elapsed: self.start.elapsed(),
            rss_kib: rss_kib(),
            open: self.open.load(Ordering::Relaxed),
            stack: net.connections(),
            to_vtcp: self.to_vtcp.load(Ordering::Relaxed),
            to_kernel: self.to_kernel.load(Ordering::Relaxed),
            exchanges: self.exchanges.load(Ordering::Relaxed),
            cycles: self.cycles.load(Ordering::Relaxed),
            longest_stall: Duration::from_millis(longest_ms),
            longest_stall_flow: longest_flow,
        }
    }
}

/// Sets its flag when dropped: a loop's server runs until its client's
/// thread has ended, however it ended.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Counts a connection open while it lives.
struct Open<'a>(&'a Shared);

impl<'a> Open<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.open.fetch_add(1, Ordering::Relaxed);
        Self(shared)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Compares a stream with the pattern from a seed, whatever the sizes of
/// the reads that deliver it.
struct Check {
    pattern: Pattern,
    block: Vec<u8>,
    at: usize,
    offset: u64,
}

impl Check {
    fn new(seed: u64) -> Self {
        Self {
            pattern: Pattern::new(seed),
            block: vec![0u8; BLOCK],
            at: BLOCK,
            offset: 0,
        }
    }

    /// Checks the next octets of the stream; the offset of the first that
    /// differs.
    fn next(&mut self, mut data: &[u8]) -> Result<(), u64> {
        while !data.is_empty() {
            if self.at == BLOCK {
                self.pattern.fill(&mut self.block);
                self.at = 0;
            }
            let n = data.len().min(BLOCK - self.at);
            let want = &self.block[self.at..self.at + n];
            if let Some(i) = data[..n].iter().zip(want).position(|(a, b)| a != b) {
                return Err(self.offset + i as u64);
            }
            self.at += n;
            self.offset += n as u64;
            data = &data[n..];
        }
        Ok(())
    }
}

fn timeouts_kernel(s: &std::net::TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    s.set_write_timeout(Some(SOCKET_TIMEOUT))
}

fn timeouts_vtcp(s: &vtcp::TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    s.set_write_timeout(Some(SOCKET_TIMEOUT))
}

/// Writes whole blocks of the pattern from `seed` until the soak stops,
/// then closes the sending side; the octets written.
fn bulk_send(
    shared: &Shared,
    flow: &Flow,
    w: &mut impl Write,
    seed: u64,
    moved: &AtomicU64,
) -> io::Result<u64> {
    let mut p = Pattern::new(seed);
    let mut block = vec![0u8; BLOCK];
    let mut sent = 0u64;
    while !shared.stopping() {
        p.fill(&mut block);
        w.write_all(&block)?;
        sent += BLOCK as u64;
        moved.fetch_add(BLOCK as u64, Ordering::Relaxed);
        shared.progress(flow);
    }
    w.flush()?;
    Ok(sent)
}

/// Reads to the end, checking every octet against the pattern; the
/// octets read.
fn bulk_recv(shared: &Shared, flow: &Flow, r: &mut impl Read, seed: u64) -> io::Result<u64> {
    let mut check = Check::new(seed);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(check.offset);
        }
        check.next(&buf[..n]).map_err(|at| {
            io::Error::other(format!(
                "{}: octet {at} differs from the pattern",
                flow.name
            ))
        })?;
        shared.progress(flow);
    }
}

/// Reads exactly `buf.len()` octets, counting progress on each read.
fn read_exact_progress(
    shared: &Shared,
    flow: &Flow,
    r: &mut impl Read,
    buf: &mut [u8],
) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        let n = r.read(&mut buf[at..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        at += n;
        shared.progress(flow);
    }
    Ok(())
}

/// The sizes of exchange `n`: request 1–1000 octets, response 1–65536.
fn exchange_sizes(n: u32) -> (usize, usize) {
    let req = 1 + (n.wrapping_mul(7919) % 1000) as usize;
    let resp = 1 + (n.wrapping_mul(104_729) % 65_536) as usize;
    (req, resp)
}

/// Exchanges until the soak stops: a 12-octet header (number, request
/// and response sizes), the request (every octet the number's low byte),
/// then the response read and checked (every octet its complement).
fn exchange_client(
    shared: &Shared,
    flow: &Flow,
    s: &mut (impl Read + Write),
    sent: &AtomicU64,
    got: &AtomicU64,
) -> io::Result<()> {
    let mut resp = vec![0u8; 65_536];
    let mut n = 0u32;
    while !shared.stopping() {
        let (req_len, resp_len) = exchange_sizes(n);
        let mut req = Vec::with_capacity(12 + req_len);
        req.extend_from_slice(&n.to_le_bytes());
        req.extend_from_slice(&(req_len as u32).to_le_bytes());
        req.extend_from_slice(&(resp_len as u32).to_le_bytes());
        req.resize(12 + req_len, n as u8);
        shared.wants(flow, true);
        s.write_all(&req)?;
        shared.progress(flow);
        read_exact_progress(shared, flow, s, &mut resp[..resp_len])?;
        shared.wants(flow, false);
        if resp[..resp_len].iter().any(|&b| b != !(n as u8)) {
            return Err(io::Error::other(format!(
                "{}: the response to exchange {n} differs",
                flow.name
            )));
        }
        sent.fetch_add(req.len() as u64, Ordering::Relaxed);
        got.fetch_add(resp_len as u64, Ordering::Relaxed);
        shared.exchanges.fetch_add(1, Ordering::Relaxed);
        n = n.wrapping_add(1);
    }
    Ok(())
}

/// Serves [`exchange_client`]'s requests until the client closes.
fn exchange_server(s: &mut (impl Read + Write)) -> io::Result<()> {
    let mut head = [0u8; 12];
    let mut req = vec![0u8; 1000];
    let mut resp = vec![0u8; 65_536];
    loop {
        match s.read(&mut head[..1])? {
            0 => return Ok(()),
            _ => s.read_exact(&mut head[1..])?,
        }
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let (n, req_len, resp_len) = (word(0), word(4) as usize, word(8) as usize);
        if req_len > req.len() || resp_len > resp.len() {
            return Err(io::Error::other(format!(
                "exchange {n}: sizes out of range"
            )));
        }
        s.read_exact(&mut req[..req_len])?;
        if req[..req_len].iter().any(|&b| b != n as u8) {
            return Err(io::Error::other(format!(
                "the request of exchange {n} differs"
            )));
        }
        resp[..resp_len].fill(!(n as u8));
        s.write_all(&resp[..resp_len])?;
    }
}

/// Serves one octet back for one octet, then reads to the end.
fn cycle_server(s: &mut (impl Read + Write)) -> io::Result<()> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    s.write_all(&[!b[0]])?;
    let mut rest = [0u8; 16];
    while s.read(&mut rest)? > 0 {}
    Ok(())
}

/// One cycle on a fresh connection: one octet each way, then the client
/// closes.
fn cycle_client(
    shared: &Shared,
    flow: &Flow,
    s: &mut (impl Read + Write),
    n: u64,
) -> io::Result<()> {
    let _open = Open::new(shared);
    s.write_all(&[n as u8])?;
    let mut b = [0u8; 1];
    read_exact_progress(shared, flow, s, &mut b)?;
    if b[0] != !(n as u8) {
        return Err(io::Error::other(format!(
            "{}: cycle {n}: wrong answer",
            flow.name
        )));
    }
    Ok(())
}

/// Everything the soak runs, and how it went.
struct Workload {
    shared: Arc<Shared>,
    threads: Vec<(String, JoinHandle<io::Result<()>>)>,
}

impl Workload {
    /// Runs `f` on a thread of its own; an error fails the soak.
    fn spawn(&mut self, name: String, f: impl FnOnce(&Shared) -> io::Result<()> + Send + 'static) {
        let shared = Arc::clone(&self.shared);
        let what = name.clone();
        let h = std::thread::Builder::new()
            .name("vtcp-soak".into())
            .spawn(move || {
                let r = f(&shared);
                if let Err(e) = &r {
                    shared.fail(format!("{what}: {e}"));
                }
                r
            });
        match h {
            Ok(h) => self.threads.push((name, h)),
            Err(e) => self.shared.fail(format!("{name}: no thread: {e}")),
        }
    }
}

/// Accepts one connection on a vtcp listener, within the socket timeout.
fn vtcp_accept(l: &vtcp::TcpListener) -> io::Result<vtcp::TcpStream> {
    let (s, _) = l
        .accept_timeout(SOCKET_TIMEOUT)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "no connection to accept"))?;
    timeouts_vtcp(&s)?;
    Ok(s)
}

fn kernel_accept(l: &std::net::TcpListener) -> io::Result<std::net::TcpStream> {
    let (s, _) = l.accept()?;
    timeouts_kernel(&s)?;
    Ok(s)
}

fn kernel_connect(ns: &Netns, to: SocketAddr) -> io::Result<std::net::TcpStream> {
    let s = ns.enter(|| std::net::TcpStream::connect_timeout(&to, SOCKET_TIMEOUT))??;
    timeouts_kernel(&s)?;
    Ok(s)
}

fn vtcp_connect(net: &vtcp::NetStack, to: SocketAddr) -> io::Result<vtcp::TcpStream> {
    let s = vtcp::TcpStream::connect_timeout(net, to, SOCKET_TIMEOUT)?;
    timeouts_vtcp(&s)?;
    Ok(s)
}

/// The bulk flows: `BULK_FLOWS` each way, sender and receiver each on a
/// thread, the receiver checking the count against the sender's.
fn start_bulk(w: &mut Workload, net: &vtcp::NetStack, ns: &Arc<Netns>) -> io::Result<()> {
    let to_vtcp = vtcp::TcpListener::bind(net, SocketAddr::new(PEER_V4, 7601))?;
    let to_kernel = kernel::listen(ns, SocketAddr::new(KERNEL_V4, 7602))?;
    for i in 0..BULK_FLOWS as u64 {
        // The kernel sends to vtcp.
        let k = kernel_connect(ns, SocketAddr::new(PEER_V4, 7601))?;
        let v = vtcp_accept(&to_vtcp)?;
        let name = format!("bulk kernel->vtcp #{i}");
        bulk_flow(w, name, ("kernel", k), ("vtcp", v), 1000 + i, |sh| {
            &sh.to_vtcp
        });
        // vtcp sends to the kernel.
        let v = vtcp_connect(net, SocketAddr::new(KERNEL_V4, 7602))?;
        let k = kernel_accept(&to_kernel)?;
        let name = format!("bulk vtcp->kernel #{i}");
        bulk_flow(w, name, ("vtcp", v), ("kernel", k), 2000 + i, |sh| {
            &sh.to_kernel
        });
    }
    Ok(())
}

/// A stream whose sending side can be closed: the kernel's and vtcp's.
trait SendHalf: Write + Send + 'static {
    fn close_sending(&self) -> io::Result<()>;
}

impl SendHalf for std::net::TcpStream {
    fn close_sending(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl SendHalf for vtcp::TcpStream {
    fn close_sending(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// One bulk flow named `name`: a thread sending the pattern from `seed`
/// on the sender's stream (counted in `moved`) until the soak stops, and
/// one reading it on the receiver's, checking every octet and, at the
/// end, the count against the sender's. Each stream comes with who owns
/// it ("kernel" or "vtcp"), for the threads' names.
fn bulk_flow<S: SendHalf, R: Read + Send + 'static>(
    w: &mut Workload,
    name: String,
    (sender_is, mut tx_stream): (&str, S),
    (receiver_is, mut rx_stream): (&str, R),
    seed: u64,
    moved: fn(&Shared) -> &AtomicU64,
) {
    let flow = w.shared.flow(name);
    w.shared.wants(&flow, true);
    let (tx, rx) = std::sync::mpsc::channel();
    let f = Arc::clone(&flow);
    w.spawn(format!("{} ({sender_is} sender)", flow.name), move |sh| {
        let _open = Open::new(sh);
        let sent = bulk_send(sh, &f, &mut tx_stream, seed, moved(sh))?;
        tx_stream.close_sending()?;
        let _ = tx.send(sent);
        Ok(())
    });
    w.spawn(
        format!("{} ({receiver_is} receiver)", flow.name),
        move |sh| {
            let got = bulk_recv(sh, &flow, &mut rx_stream, seed)?;
            sh.wants(&flow, false);
            let sent = rx
                .recv()
                .map_err(|_| io::Error::other("the sender failed"))?;
            if got != sent {
                return Err(io::Error::other(format!(
                    "{sent} octets sent, {got} received"
                )));
            }
            Ok(())
        },
    );
}

/// The exchanges: kernel clients of a vtcp server and vtcp clients of a
/// kernel server, `EXCHANGE_FLOWS` each, a server thread per connection.
fn start_exchanges(w: &mut Workload, net: &vtcp::NetStack, ns: &Arc<Netns>) -> io::Result<()> {
    let vl = vtcp::TcpListener::bind(net, SocketAddr::new(PEER_V4, 7603))?;
    let kl = kernel::listen(ns, SocketAddr::new(KERNEL_V4, 7604))?;
    for i in 0..EXCHANGE_FLOWS {
        let k = kernel_connect(ns, SocketAddr::new(PEER_V4, 7603))?;
        let v = vtcp_accept(&vl)?;
        let name = format!("exchanges kernel->vtcp #{i}");
        exchange_flow(w, name, k, ("vtcp", v), |sh| (&sh.to_vtcp, &sh.to_kernel));
        let v = vtcp_connect(net, SocketAddr::new(KERNEL_V4, 7604))?;
        let k = kernel_accept(&kl)?;
        let name = format!("exchanges vtcp->kernel #{i}");
        exchange_flow(w, name, v, ("kernel", k), |sh| (&sh.to_kernel, &sh.to_vtcp));
    }
    Ok(())
}

/// One request/response flow named `name`: a client thread on the
/// client's stream (requests counted in the first counter `moved` gives,
/// responses in the second), a server thread on the server's (owned by
/// "kernel" or "vtcp", for its name).
fn exchange_flow<C: SendHalf + Read, S: Read + Write + Send + 'static>(
    w: &mut Workload,
    name: String,
    mut client: C,
    (server_is, mut server): (&str, S),
    moved: fn(&Shared) -> (&AtomicU64, &AtomicU64),
) {
    let flow = w.shared.flow(name);
    w.spawn(format!("{} ({server_is} server)", flow.name), move |_| {
        exchange_server(&mut server)
    });
    w.spawn(flow.name.clone(), move |sh| {
        let _open = Open::new(sh);
        let (up, down) = moved(sh);
        exchange_client(sh, &flow, &mut client, up, down)?;
        client.close_sending()
    });
}

/// One open/close loop named `name`: until the soak stops, a connection
/// from `connect`, one exchange of a cycle, closed; `client_done` is set
/// when it ends, for its server to stop.
fn cycle_loop<S: SendHalf + Read>(
    w: &mut Workload,
    name: &str,
    client_done: Arc<AtomicBool>,
    connect: impl Fn() -> io::Result<S> + Send + 'static,
) {
    let flow = w.shared.flow(name.into());
    w.spawn(flow.name.clone(), move |sh| {
        let _done = SetOnDrop(client_done);
        let mut n = 0u64;
        while !sh.stopping() {
            sh.wants(&flow, true);
            let mut s = connect()?;
            sh.progress(&flow);
            cycle_client(sh, &flow, &mut s, n)?;
            s.close_sending()?;
            drop(s);
            sh.wants(&flow, false);
            sh.cycles.fetch_add(1, Ordering::Relaxed);
            sh.to_vtcp.fetch_add(1, Ordering::Relaxed);
            sh.to_kernel.fetch_add(1, Ordering::Relaxed);
            n += 1;
        }
        Ok(())
    });
}

/// The open/close loops: the kernel connecting to vtcp and vtcp to the
/// kernel, one connection at a time, until the soak stops.
fn start_cycles(w: &mut Workload, net: &vtcp::NetStack, ns: &Arc<Netns>) -> io::Result<()> {
    let vl = vtcp::TcpListener::bind_with_backlog(net, SocketAddr::new(PEER_V4, 7605), 64)?;
    let kl = kernel::listen(ns, SocketAddr::new(KERNEL_V4, 7606))?;
    kl.set_nonblocking(true)?;

    let client_done = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&client_done);
    w.spawn("open/close kernel->vtcp (vtcp server)".into(), move |_| {
        while !done.load(Ordering::Acquire) {
            if let Some((s, _)) = vl.accept_timeout(Duration::from_millis(100))? {
                timeouts_vtcp(&s)?;
                let mut s = s;
                cycle_server(&mut s)?;
            }
        }
        Ok(())
    });
    let ns2 = Arc::clone(ns);
    cycle_loop(w, "open/close kernel->vtcp", client_done, move || {
        kernel_connect(&ns2, SocketAddr::new(PEER_V4, 7605))
    });

    let client_done = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&client_done);
    w.spawn(
        "open/close vtcp->kernel (kernel server)".into(),
        move |_| {
            while !done.load(Ordering::Acquire) {
                match kl.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false)?;
                        timeouts_kernel(&s)?;
                        let mut s = s;
                        cycle_server(&mut s)?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        },
    );
    let net = net.clone();
    cycle_loop(w, "open/close vtcp->kernel", client_done, move || {
        vtcp_connect(&net, SocketAddr::new(KERNEL_V4, 7606))
    });
    Ok(())
}

/// Runs the soak, printing a line to `out` every `report_every` and the
/// last one when everything has wound down and been checked; the last
/// line, or why it failed.
pub fn soak(cfg: Soak, out: &mut impl Write) -> Result<Line, String> {
    let setup = |e: io::Error| format!("setting up: {e}");
    let (drivers, ns) = crate::bench::tun_stacks(false, 1).map_err(setup)?;
    let ns = Arc::new(ns);
    // Kernel clients open a connection per cycle and leave it in
    // TIME-WAIT: a wide port range, and TIME-WAIT ports reused.
    ns.sysctl("net.ipv4.ip_local_port_range", "10000\t65000")
        .map_err(setup)?;
    ns.sysctl("net.ipv4.tcp_tw_reuse", "1").map_err(setup)?;
    let net = drivers[0].net().clone();
    let shared = Arc::new(Shared::new(Instant::now()));
    let mut w = Workload {
        shared: Arc::clone(&shared),
        threads: Vec::new(),
    };
    let started = start_bulk(&mut w, &net, &ns)
        .and_then(|()| start_exchanges(&mut w, &net, &ns))
        .and_then(|()| start_cycles(&mut w, &net, &ns));
    if let Err(e) = started {
        shared.fail(format!("setting up: {e}"));
    }

    // The monitor: stalls every 100 ms, a line every report_every.
    let mut next_report = cfg.report_every;
    while !shared.stopping() && shared.start.elapsed() < cfg.duration {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(stall) = shared.check_stalls(cfg.stall_limit) {
            shared.fail(stall);
        }
        if shared.start.elapsed() >= next_report {
            let _ = writeln!(out, "{}", shared.line(&net));
            let _ = out.flush();
            next_report += cfg.report_every;
        }
    }
    // Wind down: the senders stop and close, the receivers read to the
    // end and compare; stalls still count meanwhile.
    shared.stop.store(true, Ordering::Release);
    let wind_down = Instant::now();
    while w.threads.iter().any(|(_, h)| !h.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(stall) = shared.check_stalls(cfg.stall_limit) {
            shared.fail(stall);
        }
        if wind_down.elapsed() > SOCKET_TIMEOUT * 2 {
            let left: Vec<&str> = w
                .threads
                .iter()
                .filter(|(_, h)| !h.is_finished())
                .map(|(n, _)| n.as_str())
                .collect();
            shared.fail(format!("winding down: still running: {}", left.join(", ")));
            break;
        }
    }
    for (name, h) in w.threads.drain(..) {
        if h.is_finished() && h.join().is_err() {
            shared.fail(format!("{name}: panicked"));
        }
    }
    let last = shared.line(&net);
    let _ = writeln!(out, "{last}");
    let failure = shared
        .failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match failure {
        Some(why) => Err(why),
        None => Ok(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_follows_the_pattern_across_any_reads() {
        let mut p = Pattern::new(5);
        let mut stream = vec![0u8; 3 * BLOCK];
        for b in stream.chunks_mut(BLOCK) {
            p.fill(b);
        }
        let mut c = Check::new(5);
        for part in stream.chunks(1000) {
            c.next(part).unwrap();
        }
        assert_eq!(c.offset, 3 * BLOCK as u64);
        stream[BLOCK + 17] ^= 1;
        let mut c = Check::new(5);
        assert_eq!(c.next(&stream[..7]), Ok(()));
        assert_eq!(c.next(&stream[7..]), Err(BLOCK as u64 + 17));
    }

    #[test]
    fn a_flow_stalled_past_the_limit_while_wanted_fails_and_an_idle_one_does_not() {
        let Some(start) = Instant::now().checked_sub(Duration::from_secs(10)) else {
            return;
        };
        let shared = Shared::new(start);
        let busy = shared.flow("busy".into());
        let idle = shared.flow("idle".into());
        // Both last moved at the start, 10 s ago; only `busy` is wanted.
        busy.last.store(0, Ordering::Relaxed);
        idle.last.store(0, Ordering::Relaxed);
        busy.waiting.store(true, Ordering::Relaxed);
        assert_eq!(shared.check_stalls(Duration::from_secs(60)), None);
        let why = shared.check_stalls(Duration::from_secs(5)).unwrap();
        assert!(why.starts_with("busy: no progress for 10."), "{why}");
        let line = shared.line_figures();
        assert_eq!(line.1, "busy");
        assert!(line.0 >= 10_000);
        // Progress clears it.
        shared.progress(&busy);
        assert_eq!(shared.check_stalls(Duration::from_secs(5)), None);
    }

    #[test]
    fn exchange_sizes_stay_in_range() {
        for n in 0..100_000 {
            let (q, r) = exchange_sizes(n);
            assert!((1..=1000).contains(&q) && (1..=65_536).contains(&r));
        }
    }

    #[test]
    fn the_rss_is_read() {
        assert!(rss_kib() > 0);
    }
}
