//! `vtcp serve | connect | forward`: vtcp on a TUN device (Linux), facing
//! the kernel's TCP on the device's other side.
//!
//! Every command opens the device, gives the kernel's side of it an
//! address in vtcp's subnet (the first host address that is not vtcp's,
//! unless `--host-addr` says), and runs a `vtcp_tun::Shards`: a stack per
//! queue of the device (`serve` and `forward` take `--queues N`, one per
//! core by default; `connect` uses one). With
//! `--netns NS` the kernel's side lives in namespace NS, created when
//! missing (and deleted on exit then), so that a demonstration needs one
//! command and touches nothing outside it:
//!
//! ```sh
//! sudo vtcp serve --tun vt0 --netns demo echo:7 chargen:19 http:80
//! sudo ip netns exec demo nc 198.18.0.2 7
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use vtcp::TcpStream;
use vtcp_tun::netns::Netns;
use vtcp_tun::{KernelSide, SetupError, ShardCounters, ShardListener, Shards, TunConfig, TunError};

use crate::udp_relay::{RelayConfig, UdpRelay};

/// An address with its prefix length (`198.18.0.2/24`, `fd00::2/64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected ADDRESS/PREFIX, such as 198.18.0.2/24"))?;
        let addr: IpAddr = a.parse().map_err(|e| format!("{a:?}: {e}"))?;
        let prefix: u8 = p.parse().map_err(|e| format!("{p:?}: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("{s}: a prefix longer than {max}"));
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// The first host address of the prefix that is not this one (what
    /// the kernel's side of the device gets by default).
    pub fn other_host(&self) -> Option<IpAddr> {
        let bits = u32::from(if self.addr.is_ipv4() { 32u8 } else { 128 } - self.prefix);
        if bits < 2 {
            return None;
        }
        match self.addr {
            IpAddr::V4(a) => {
                let net = a.to_bits() & !((1u64 << bits) - 1) as u32;
                let first = net + 1;
                let pick = if first == a.to_bits() {
                    first + 1
                } else {
                    first
                };
                Some(IpAddr::V4(Ipv4Addr::from_bits(pick)))
            }
            IpAddr::V6(a) => {
                let mask = if bits >= 128 {
                    0
                } else {
                    !((1u128 << bits) - 1)
                };
                let first = (a.to_bits() & mask) + 1;
                let pick = if first == a.to_bits() {
                    first + 1
                } else {
                    first
                };
                Some(IpAddr::V6(Ipv6Addr::from_bits(pick)))
            }
        }
    }
}

/// The device and addresses every net command takes.
#[derive(Clone, Debug, clap::Args)]
pub struct DeviceArgs {
    /// The TUN device's name (created if missing).
    #[arg(long)]
    pub tun: String,
    /// vtcp's IPv4 address and prefix.
    #[arg(long, default_value = "198.18.0.2/24")]
    pub addr: Cidr,
    /// vtcp's IPv6 address and prefix (none by default).
    #[arg(long)]
    pub addr6: Option<Cidr>,
    /// The kernel side's IPv4 address on the device (default: the first
    /// other host of --addr's prefix).
    #[arg(long)]
    pub host_addr: Option<IpAddr>,
    /// The kernel side's IPv6 address on the device (default: the first
    /// other host of --addr6's prefix).
    #[arg(long)]
    pub host_addr6: Option<IpAddr>,
    /// Put the device's kernel side in this network namespace (created if
    /// missing, and then deleted on exit).
    #[arg(long)]
    pub netns: Option<String>,
    /// Also route this prefix through the device on the kernel's side
    /// (repeatable), for destinations outside vtcp's own subnet.
    #[arg(long)]
    pub route: Vec<Cidr>,
    /// The device's MTU (68, IPv4's least, to 65535).
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(68..))]
    pub mtu: u16,
    /// Offloads (IFF_VNET_HDR): the kernel hands over TCP super-segments
    /// of up to 64 KiB, several times faster to receive.
    #[arg(long)]
    pub offload: bool,
    /// The congestion controller of vtcp's connections (the engine's
    /// default unless given; see docs/user-guide.md for which to choose).
    #[arg(long, default_value_t = vtcp_sim::Controller::default())]
    pub cc: vtcp_sim::Controller,
}

/// What went wrong, each with a message that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The device could not be opened.
    #[error("{0}")]
    Tun(#[from] TunError),
    /// Setting the device up failed (a namespace, an address, a route).
    #[error("{0}")]
    Setup(io::Error),
    /// A bad command line that clap cannot see.
    #[error("{0}")]
    Usage(String),
    /// The stack or a connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<SetupError> for NetError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Open(e) => Self::Tun(e),
            other => Self::Setup(other.into()),
        }
    }
}

/// The queues (and stacks) `--queues` gives by default: one per core the
/// process may run on (`std::thread::available_parallelism`), at most
/// the 256 a TUN device takes.
pub fn default_queues() -> u16 {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().min(vtcp_tun::shards::MAX_QUEUES) as u16)
}

/// The `--queues` flag of `vtcp serve` and `vtcp forward`.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct QueueArgs {
    /// Queues of the TUN device, a vtcp stack and a reader thread on each
    /// (IFF_MULTI_QUEUE; the kernel keeps each flow on one queue); 1 is
    /// a single-queue device. Default: the number of cores.
    #[arg(long, default_value_t = default_queues(), value_parser = clap::value_parser!(u16).range(1..=256))]
    pub queues: u16,
}

/// vtcp on a configured device, and the namespace it made (deleted when
/// this is dropped, after the stacks stop).
pub struct Device {
    /// The stacks, one per queue, and their counters.
    pub shards: Shards,
    /// vtcp's addresses.
    pub addrs: Vec<IpAddr>,
    ns: Option<Netns>,
}

impl Device {
    /// Opens and configures the device with `queues` queues and starts a
    /// stack on each (`transparent`: every TCP flow is the stacks', see
    /// `Shards::start_transparent`).
    pub fn open(args: &DeviceArgs, transparent: bool, queues: usize) -> Result<Self, NetError> {
        if !args.addr.addr.is_ipv4() {
            return Err(NetError::Usage(format!("--addr {}: not IPv4", args.addr)));
        }
        if let Some(a6) = args.addr6
            && !a6.addr.is_ipv6()
        {
            return Err(NetError::Usage(format!("--addr6 {a6}: not IPv6")));
        }
        let ns = match &args.netns {
            Some(name) => Some(Netns::create_or_join(name).map_err(NetError::Setup)?),
            None => None,
        };
        let mut cfg = TunConfig::named(args.tun.clone());
        cfg.mtu = args.mtu;
        cfg.offload = args.offload;
        let host = |ours: Cidr, given: Option<IpAddr>| {
            given
                .or_else(|| ours.other_host())
                .map(|h| (h, ours.prefix))
                .ok_or_else(|| NetError::Usage(format!("{ours}: no room for the kernel's address")))
        };
        let mut kernel = KernelSide::new();
        let (h, prefix) = host(args.addr, args.host_addr)?;
        kernel = kernel.addr(h, prefix);
        let mut addrs = vec![args.addr.addr];
        if let Some(a6) = args.addr6 {
            let (h, prefix) = host(a6, args.host_addr6)?;
            kernel = kernel.addr(h, prefix);
            addrs.push(a6.addr);
        }
        for r in &args.route {
            kernel = kernel.route(r.to_string());
        }
        let tuns = vtcp_tun::open_device(ns.as_ref(), &cfg, queues, &kernel)?;
        let cc = args.cc;
        let shards = if transparent {
            Shards::start_transparent(tuns, || cc.stack_config(), &addrs)?
        } else {
            Shards::start(tuns, || cc.stack_config(), &addrs)?
        };
        Ok(Self { shards, addrs, ns })
    }

    /// The stacks' and the drivers' counters summed over the queues, one
    /// per line; with more than one queue, a line per queue after them.
    pub fn report(&self) -> String {
        let per = self.shards.counters();
        let total = ShardCounters::sum(&per);
        let (c, s) = (&total.driver, &total.stack);
        let mut report = format!(
            "device {}\n\
             packets in        {}\n\
             packets out       {}\n\
             segments in       {}\n\
             segments out      {}\n\
             echo replies      {}\n\
             UDP on device     {} in, {} out\n\
             dropped           {} malformed, {} fragments, {} not ours, {} other protocols, {} ICMP\n\
             ICMP errors       {} accepted, {} ignored\n\
             bad checksums     {}\n\
             connections       {} opened, {} closed\n\
             RSTs              {} in, {} out\n\
             SYN cookies       {} sent, {} validated\n",
            self.shards.name(),
            c.packets_in,
            c.packets_out,
            c.segments_in,
            s.segments_out,
            c.echo_replies,
            c.udp_in,
            c.udp_out,
            c.dropped_malformed,
            c.dropped_fragments,
            c.dropped_not_ours,
            c.dropped_protocol,
            c.dropped_icmp,
            c.icmp_accepted,
            c.icmp_ignored,
            s.bad_checksums,
            s.connections_opened,
            s.connections_closed,
            s.rsts_in,
            s.rsts_out,
            s.cookies_sent,
            s.cookies_validated,
        );
        if per.len() > 1 {
            report += &format!(
                "queues            {} (strays handed to their owner: {}, dropped: {})\n",
                per.len(),
                total.handed_off,
                total.strays_dropped
            );
            for (i, q) in per.iter().enumerate() {
                report += &format!(
                    "queue {i:<11} {} packets in, {} out, {} connections opened, {} strays, {} handed off\n",
                    q.driver.packets_in,
                    q.driver.packets_out,
                    q.stack.connections_opened,
                    q.strays,
                    q.handed_off,
                );
            }
        }
        report
    }

    /// The namespace of the kernel's side, if any.
    pub fn netns(&self) -> Option<&Netns> {
        self.ns.as_ref()
    }
}

/// A service `vtcp serve` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// RFC 862: everything read is written back.
    Echo,
    /// RFC 863: everything read is thrown away.
    Discard,
    /// RFC 864: lines of the printable ASCII characters, rotating, until
    /// the client leaves.
    Chargen,
    /// A small HTTP/1.0 server: `/` describes the server, `/bytes/N` sends
    /// N bytes (at most 1 GiB).
    Http,
}

/// A service and its port (`echo:7`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The service.
    pub service: Service,
    /// Its port.
    pub port: u16,
}

impl FromStr for ServiceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, port) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected NAME:PORT, such as echo:7"))?;
        let service = match name {
            "echo" => Service::Echo,
            "discard" => Service::Discard,
            "chargen" => Service::Chargen,
            "http" => Service::Http,
            _ => {
                return Err(format!(
                    "{name:?}: not a service (echo, discard, chargen, http)"
                ));
            }
        };
        let port: u16 = port.parse().map_err(|e| format!("{port:?}: {e}"))?;
        if port == 0 {
            return Err(format!("{s}: port 0"));
        }
        Ok(Self { service, port })
    }
}

/// The flags of `vtcp serve`.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// The device and addresses.
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The device's queues.
    #[command(flatten)]
    pub queues: QueueArgs,
    /// Services as NAME:PORT: echo:7 discard:9 chargen:19 http:80.
    #[arg(required = true)]
    pub services: Vec<ServiceSpec>,
}

/// The flags of `vtcp connect`.
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectArgs {
    /// The device and addresses.
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Where to connect (the kernel's side, or anything routed past it).
    pub target: SocketAddr,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 20)]
    pub timeout: u64,
}

/// The flags of `vtcp forward`.
#[derive(Clone, Debug, clap::Args)]
pub struct ForwardArgs {
    /// The device and addresses.
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Open the kernel sockets to each destination inside this existing
    /// namespace (default: the namespace `vtcp` runs in).
    #[arg(long)]
    pub upstream_netns: Option<String>,
    /// The device's queues.
    #[command(flatten)]
    pub queues: QueueArgs,
    /// A UDP flow (source and destination) with nothing either way for
    /// this many seconds ends (DNS flows end at their answer).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub udp_idle: u64,
    /// UDP flows relayed at once, each a kernel socket and a thread; a
    /// new one beyond evicts the one idle the longest. 0 relays no UDP
    /// (it is dropped, as other protocols are).
    #[arg(long, default_value_t = 512)]
    pub udp_flows: usize,
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM; fails if the device fails first
/// (deleted under the stacks, say: `Shards::failure`).
fn wait_for_interrupt(dev: &Device) -> Result<(), NetError> {
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| NetError::Io(io::Error::other(e)))?;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return Ok(()),
        }
        if let Some(e) = dev.shards.failure() {
            return Err(device_failed(e));
        }
    }
}

/// The error for a device that failed under the stack.
fn device_failed(e: io::Error) -> NetError {
    NetError::Io(io::Error::new(
        e.kind(),
        format!("the device failed, every connection on it aborted: {e}"),
    ))
}

/// A listener on every queue's stack for each of vtcp's addresses.
fn bind_all(dev: &Device, port: u16) -> Result<Vec<ShardListener>, NetError> {
    dev.addrs
        .iter()
        .map(|&a| {
            ShardListener::bind(&dev.shards, SocketAddr::new(a, port))
                .map_err(|e| NetError::Io(io::Error::new(e.kind(), format!("port {port}: {e}"))))
        })
        .collect()
}

/// `vtcp serve`: the services until Ctrl-C, then the counters on `out`.
pub fn serve(args: &ServeArgs, out: &mut impl Write) -> Result<(), NetError> {
    let dev = Device::open(&args.device, false, usize::from(args.queues.queues))?;
    for spec in &args.services {
        for l in bind_all(&dev, spec.port)? {
            let service = spec.service;
            std::thread::Builder::new()
                .name(format!("vtcp-serve-{}", spec.port))
                .spawn(move || {
                    for s in l.incoming().flatten() {
                        std::thread::spawn(move || run_service(service, s));
                    }
                })?;
        }
    }
    let names: Vec<String> = args
        .services
        .iter()
        .map(|s| format!("{:?}:{}", s.service, s.port).to_lowercase())
        .collect();
    crate::complain!(
        "vtcp: serving {} on {} through {}, {} queue(s){}; Ctrl-C ends",
        names.join(" "),
        dev.addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        dev.shards.name(),
        dev.shards.len(),
        dev.netns()
            .map(|n| format!(" (kernel side in namespace {})", n.name()))
            .unwrap_or_default()
    );
    wait_for_interrupt(&dev)?;
    out.write_all(dev.report().as_bytes())?;
    Ok(())
}

fn run_service(service: Service, mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(600)));
    let result = match service {
        Service::Echo => echo(&mut s),
        Service::Discard => io::copy(&mut s, &mut io::sink()).map(drop),
        Service::Chargen => chargen(&mut s),
        Service::Http => http(&mut s),
    };
    if result.is_ok() {
        let _ = s.shutdown(Shutdown::Write);
    }
}

fn echo(s: &mut TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n])?;
    }
}

/// RFC 864's lines: 72 printable characters starting one further along
/// the 95-character ring each line, then CR LF.
pub fn chargen_line(n: usize) -> [u8; 74] {
    let mut line = [0u8; 74];
    for (i, b) in line[..72].iter_mut().enumerate() {
        *b = b' ' + ((n + i) % 95) as u8;
    }
    line[72] = b'\r';
    line[73] = b'\n';
    line
}

fn chargen(s: &mut TcpStream) -> io::Result<()> {
    let mut block = Vec::with_capacity(95 * 74);
    for n in 0..95 {
        block.extend_from_slice(&chargen_line(n));
    }
    loop {
        s.write_all(&block)?;
    }
}

fn http(s: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf)?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let reply = |s: &mut TcpStream, status: &str, extra: &str, body_len: u64| {
        write!(
            s,
            "HTTP/1.0 {status}\r\nServer: vtcp\r\n{extra}Content-Type: text/plain\r\n\
             Content-Length: {body_len}\r\nConnection: close\r\n\r\n"
        )
    };
    match route(&head) {
        Answer::Bytes(n) => {
            reply(s, "200 OK", "", n)?;
            let chunk = vec![b'v'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len() as u64) as usize;
                s.write_all(&chunk[..k])?;
                left -= k as u64;
            }
            Ok(())
        }
        Answer::Text(status, body) => {
            let extra = if status.starts_with("405") {
                "Allow: GET\r\n"
            } else {
                ""
            };
            reply(s, status, extra, body.len() as u64)?;
            s.write_all(body.as_bytes())
        }
    }
}

/// The most `/bytes/N` sends: 1 GiB.
pub const HTTP_BYTES_CAP: u64 = 1 << 30;

/// What the HTTP service answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `200 OK` with this many bytes.
    Bytes(u64),
    /// A status line and a text body.
    Text(&'static str, String),
}

/// The HTTP service's answer to a request head (RFC 9110): `GET /` the
/// description, `GET /bytes/N` N bytes up to [`HTTP_BYTES_CAP`]; a line
/// that is no request line `400`, another method `405`, a count that is
/// not a number or above the cap `400` saying why, any other path `404`.
pub fn route(head: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(head);
    let line = text.lines().next().unwrap_or("");
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [method, path, version] = parts[..] else {
        return Answer::Text("400 Bad Request", "not an HTTP request line\n".into());
    };
    if !version.starts_with("HTTP/") {
        return Answer::Text("400 Bad Request", "not an HTTP request line\n".into());
    }
    if method != "GET" {
        return Answer::Text(
            "405 Method Not Allowed",
            format!("{method}: only GET is served\n"),
        );
    }
    if path == "/" {
        return Answer::Text(
            "200 OK",
            "vtcp: a userspace TCP engine. GET /bytes/N for N bytes.\n".into(),
        );
    }
    let Some(n) = path.strip_prefix("/bytes/") else {
        return Answer::Text("404 Not Found", "not found\n".into());
    };
    match n.parse::<u64>() {
        Ok(n) if n <= HTTP_BYTES_CAP => Answer::Bytes(n),
        Ok(n) => Answer::Text(
            "400 Bad Request",
            format!("{n} bytes is above the cap of {HTTP_BYTES_CAP}\n"),
        ),
        Err(_) => Answer::Text(
            "400 Bad Request",
            format!("`{n}` is not a number of bytes\n"),
        ),
    }
}

/// `vtcp connect`: standard input to the connection, the connection to
/// standard output, until the peer closes.
pub fn connect(args: &ConnectArgs) -> Result<(), NetError> {
    let dev = Device::open(&args.device, false, 1)?;
    let s = dev
        .shards
        .connect_timeout(args.target, Duration::from_secs(args.timeout.max(1)))
        .map_err(|e| io::Error::new(e.kind(), format!("connecting to {}: {e}", args.target)))?;
    let writer = s.try_clone()?;
    std::thread::spawn(move || {
        let mut w = &writer;
        if io::copy(&mut io::stdin().lock(), &mut w).is_ok() {
            let _ = writer.shutdown(Shutdown::Write);
        }
    });
    let mut r = &s;
    let copied = io::copy(&mut r, &mut io::stdout().lock());
    match copied {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(dev.shards.failure().map_or(e.into(), device_failed)),
    }
}

/// `vtcp forward`: every TCP flow that comes in on the device is
/// terminated by vtcp and spliced to a kernel socket to the destination
/// it asked for, and every UDP flow relayed through a kernel UDP socket
/// ([`crate::udp_relay`]); Ctrl-C ends it and prints the counters.
pub fn forward(args: &ForwardArgs, out: &mut impl Write) -> Result<(), NetError> {
    let upstream = match &args.upstream_netns {
        Some(name) if !Netns::exists(name) => {
            return Err(NetError::Usage(format!(
                "--upstream-netns {name}: no such namespace"
            )));
        }
        Some(name) => Some(Arc::new(
            Netns::create_or_join(name).map_err(NetError::Setup)?,
        )),
        None => None,
    };
    let dev = Device::open(&args.device, true, usize::from(args.queues.queues))?;
    let listener = ShardListener::bind_transparent(&dev.shards, 1024)?;
    let relay = if args.udp_flows > 0 {
        let cfg = RelayConfig {
            idle: Duration::from_secs(args.udp_idle),
            max_flows: args.udp_flows,
            ..RelayConfig::default()
        };
        let relay = UdpRelay::start(cfg, dev.shards.udp_sender(), upstream.clone())?;
        dev.shards.set_udp_handler(relay.handler());
        Some(relay)
    } else {
        None
    };
    let stats = Arc::new(ForwardStats::default());
    {
        let stats = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("vtcp-forward".into())
            .spawn(move || {
                for s in listener.incoming().flatten() {
                    let (upstream, stats) = (upstream.clone(), Arc::clone(&stats));
                    std::thread::spawn(move || splice(s, upstream.as_deref(), &stats));
                }
            })?;
    }
    crate::complain!(
        "vtcp: forwarding every TCP{} flow on {}, {} queue(s), to its destination; Ctrl-C ends",
        if relay.is_some() { " and UDP" } else { "" },
        dev.shards.name(),
        dev.shards.len()
    );
    wait_for_interrupt(&dev)?;
    out.write_all(dev.report().as_bytes())?;
    writeln!(
        out,
        "flows             {} forwarded, {} refused upstream\n\
         bytes             {} out, {} back",
        stats.flows.load(Ordering::Relaxed),
        stats.refused.load(Ordering::Relaxed),
        stats.up.load(Ordering::Relaxed),
        stats.down.load(Ordering::Relaxed),
    )?;
    if let Some(relay) = relay {
        let r = relay.stats();
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        writeln!(
            out,
            "udp flows         {} relayed, {} evicted, {} failed\n\
             udp datagrams     {} out, {} back, {} dropped\n\
             udp bytes         {} out, {} back",
            g(&r.flows),
            g(&r.evicted),
            g(&r.failed),
            g(&r.datagrams_out),
            g(&r.datagrams_back),
            g(&r.dropped),
            g(&r.bytes_out),
            g(&r.bytes_back),
        )?;
    }
    Ok(())
}

#[derive(Default)]
struct ForwardStats {
    flows: AtomicU64,
    refused: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
}

/// Connects to where `s` was headed and copies both ways; a destination
/// that cannot be reached gets the client a RST. Every chunk is counted
/// as it is written (per flow and in `stats`), so a flow that ends in a
/// reset or an error counts what it moved; its figures go to stderr when
/// it ends.
fn splice(s: TcpStream, upstream: Option<&Netns>, stats: &ForwardStats) {
    let Ok(dest) = s.local_addr() else { return };
    let client = s
        .peer_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let connect = || std::net::TcpStream::connect_timeout(&dest, Duration::from_secs(10));
    let k = match upstream {
        Some(ns) => ns.enter(connect).and_then(|r| r),
        None => connect(),
    };
    let Ok(k) = k else {
        stats.refused.fetch_add(1, Ordering::Relaxed);
        s.abort();
        return;
    };
    stats.flows.fetch_add(1, Ordering::Relaxed);
    let (Ok(s2), Ok(k2)) = (s.try_clone(), k.try_clone()) else {
        s.abort();
        return;
    };
    let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
    let (up_end, down_end) = std::thread::scope(|scope| {
        let out = scope.spawn(|| {
            let (mut from, mut to) = (&s, &k);
            let end = copy_counting(&mut from, &mut to, &[&up, &stats.up]);
            let _ = k.shutdown(Shutdown::Write);
            end
        });
        let (mut from, mut to) = (&k2, &s2);
        let end = copy_counting(&mut from, &mut to, &[&down, &stats.down]);
        let _ = s2.shutdown(Shutdown::Write);
        let out = out
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the copy panicked")));
        (out, end)
    });
    let how = |end: &io::Result<()>| match end {
        Ok(()) => "end".to_owned(),
        Err(e) => e.to_string(),
    };
    crate::complain!(
        "vtcp: flow {client} -> {dest}: {} out ({}), {} back ({})",
        up.load(Ordering::Relaxed),
        how(&up_end),
        down.load(Ordering::Relaxed),
        how(&down_end),
    );
}

/// Copies `from` to `to` until the end of `from` or an error, adding each
/// chunk to every counter in `counts` as soon as it is written (a copy
/// that fails half-way has counted what crossed before the failure).
fn copy_counting(
    from: &mut impl Read,
    to: &mut impl Write,
    counts: &[&AtomicU64],
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut done = 0;
        while done < n {
            match to.write(&buf[done..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => {
                    done += k;
                    for c in counts {
                        c.fetch_add(k as u64, Ordering::Relaxed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9110's answers: a garbage line 400, a POST 405, a count above
    /// the cap or not a number 400 saying why, an unknown path 404, and
    /// the two resources 200.
    #[test]
    fn the_http_service_answers_each_request_as_rfc_9110_says() {
        let status = |req: &str| match route(req.as_bytes()) {
            Answer::Bytes(_) => "200 OK",
            Answer::Text(status, _) => status,
        };
        assert_eq!(route(b"GET /bytes/5 HTTP/1.0\r\n\r\n"), Answer::Bytes(5));
        assert_eq!(status("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "200 OK");
        assert_eq!(status("\x16\x03\x01garbage\r\n\r\n"), "400 Bad Request");
        assert_eq!(status("GET /\r\n\r\n"), "400 Bad Request");
        assert_eq!(status("GET / SPDY/3\r\n\r\n"), "400 Bad Request");
        assert_eq!(status("POST / HTTP/1.0\r\n\r\n"), "405 Method Not Allowed");
        let big = format!("GET /bytes/{} HTTP/1.0\r\n\r\n", HTTP_BYTES_CAP + 1);
        match route(big.as_bytes()) {
            Answer::Text("400 Bad Request", why) => assert!(why.contains("above the cap"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            status("GET /bytes/lots HTTP/1.0\r\n\r\n"),
            "400 Bad Request"
        );
        assert_eq!(status("GET /nothing HTTP/1.0\r\n\r\n"), "404 Not Found");
    }

    #[test]
    fn the_kernel_side_gets_the_first_other_host() {
        let c: Cidr = "198.18.0.2/24".parse().unwrap();
        assert_eq!(c.other_host(), Some("198.18.0.1".parse().unwrap()));
        let c: Cidr = "198.18.0.1/24".parse().unwrap();
        assert_eq!(c.other_host(), Some("198.18.0.2".parse().unwrap()));
        let c: Cidr = "fd00::2/64".parse().unwrap();
        assert_eq!(c.other_host(), Some("fd00::1".parse().unwrap()));
        let c: Cidr = "198.18.0.9/31".parse().unwrap();
        assert_eq!(c.other_host(), None);
        assert!("198.18.0.2".parse::<Cidr>().is_err());
        assert!("198.18.0.2/33".parse::<Cidr>().is_err());
        assert!("fd00::1/129".parse::<Cidr>().is_err());
    }

    #[test]
    fn services_parse_by_name_and_port() {
        assert_eq!(
            "echo:7".parse(),
            Ok(ServiceSpec {
                service: Service::Echo,
                port: 7
            })
        );
        assert!("gopher:70".parse::<ServiceSpec>().is_err());
        assert!("echo".parse::<ServiceSpec>().is_err());
        assert!("echo:0".parse::<ServiceSpec>().is_err());
        assert!("echo:70000".parse::<ServiceSpec>().is_err());
    }

    /// A writer that takes `room` bytes, then fails.
    struct Failing {
        room: usize,
        got: Vec<u8>,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let n = buf.len().min(self.room).min(1000);
            self.room -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_copy_counts_what_it_wrote_also_when_it_fails() {
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let (flow, total) = (AtomicU64::new(0), AtomicU64::new(5));
        let mut to = Failing {
            room: 150_001,
            got: Vec::new(),
        };
        let end = copy_counting(&mut &data[..], &mut to, &[&flow, &total]);
        assert_eq!(end.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(flow.load(Ordering::Relaxed), 150_001);
        assert_eq!(total.load(Ordering::Relaxed), 150_006);
        assert_eq!(to.got, data[..150_001]);

        let flow = AtomicU64::new(0);
        let mut to = Vec::new();
        copy_counting(&mut &data[..], &mut to, &[&flow]).unwrap();
        assert_eq!(flow.load(Ordering::Relaxed), 200_000);
        assert_eq!(to, data);
    }

    #[test]
    fn chargen_lines_rotate_through_the_printable_characters() {
        let first = chargen_line(0);
        assert_eq!(&first[..5], b" !\"#$");
        assert_eq!(&first[72..], b"\r\n");
        assert_eq!(chargen_line(1)[0], b'!');
        assert_eq!(chargen_line(95), first);
        assert!(first[..72].iter().all(|b| (b' '..=b'~').contains(b)));
    }
}
