//! `vtcp forward`'s UDP relay: every UDP datagram the device reads, for
//! any destination, goes out through a kernel UDP socket of its flow, and
//! what comes back on that socket is written to the device as a UDP/IP
//! packet from the original destination.
//!
//! A flow is a (source, destination) pair: its socket is bound to an
//! ephemeral port and connected to the destination (so the kernel hands
//! it only the destination's answers), made in the upstream namespace
//! when there is one. A flow ends when it has been idle for
//! [`RelayConfig::idle`] (either way), when a DNS flow (destination port
//! 53) has had an answer to each of its queries, or when it is evicted:
//! at [`RelayConfig::max_flows`] flows a new one evicts the one idle the
//! longest. Each flow has a thread that waits for answers; the device's
//! reader only queues datagrams (a bounded queue: what does not fit is
//! dropped and counted), and one dispatcher thread opens flows and sends.
//! Every datagram and octet is counted per flow and in total as it
//! crosses, and a flow's figures go to stderr when it ends.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vtcp_tun::netns::Netns;
use vtcp_tun::udp::{Datagram, UdpSender};

/// The relay's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayConfig {
    /// A flow with nothing either way for this long ends (30 s by
    /// default: Linux conntrack's timeout for a UDP flow).
    pub idle: Duration,
    /// Flows at most; a new one beyond evicts the one idle the longest.
    pub max_flows: usize,
    /// Datagrams waiting for the dispatcher at most.
    pub queue: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30),
            max_flows: 512,
            queue: 1024,
        }
    }
}

/// The relay's totals.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Flows opened (a kernel socket each).
    pub flows: AtomicU64,
    /// Flows ended to make room for another.
    pub evicted: AtomicU64,
    /// Flows whose socket could not be opened or connected.
    pub failed: AtomicU64,
    /// Datagrams sent to their destination.
    pub datagrams_out: AtomicU64,
    /// Their payload octets.
    pub bytes_out: AtomicU64,
    /// Answers written back to the device.
    pub datagrams_back: AtomicU64,
    /// Their payload octets.
    pub bytes_back: AtomicU64,
    /// Datagrams dropped: the queue was full, their flow could not be
    /// opened, or the kernel refused to send them (or the answer could
    /// not be written to the device).
    pub dropped: AtomicU64,
}

/// Why a flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Idle,
    Answered,
    Evicted,
}

/// One flow: its socket and its figures.
struct Flow {
    client: SocketAddr,
    dest: SocketAddr,
    socket: UdpSocket,
    /// Milliseconds since the relay started when a datagram last crossed.
    last: AtomicU64,
    evicted: AtomicBool,
    out: [AtomicU64; 2],
    back: [AtomicU64; 2],
}

struct Shared {
    cfg: RelayConfig,
    upstream: Option<Arc<Netns>>,
    sender: UdpSender,
    flows: Mutex<HashMap<(SocketAddr, SocketAddr), Arc<Flow>>>,
    stats: Arc<RelayStats>,
    start: Instant,
}

/// The relay: [`UdpRelay::handler`] goes to the device's IP layer
/// (`vtcp_tun::Shards::set_udp_handler`).
pub struct UdpRelay {
    queue: SyncSender<(SocketAddr, SocketAddr, Vec<u8>)>,
    stats: Arc<RelayStats>,
}

/// How often a flow's thread looks at the clock and at eviction while no
/// answer comes.
const TICK: Duration = Duration::from_millis(250);

impl UdpRelay {
    /// Starts the dispatcher; answers go out through `sender`, sockets
    /// are made in `upstream` when given.
    pub fn start(
        cfg: RelayConfig,
        sender: UdpSender,
        upstream: Option<Arc<Netns>>,
    ) -> io::Result<Self> {
        let (queue, rx) = std::sync::mpsc::sync_channel(cfg.queue.max(1));
        let stats = Arc::new(RelayStats::default());
        let shared = Arc::new(Shared {
            cfg,
            upstream,
            sender,
            flows: Mutex::default(),
            stats: Arc::clone(&stats),
            start: Instant::now(),
        });
        std::thread::Builder::new()
            .name("vtcp-udp-relay".into())
            .spawn(move || dispatch(&shared, &rx))?;
        Ok(Self { queue, stats })
    }

    /// The totals so far.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }

    /// What the device's reader calls for each datagram: queues it for
    /// the dispatcher, never waiting (a full queue drops it, counted).
    pub fn handler(&self) -> Arc<vtcp_tun::UdpHandler> {
        let (queue, stats) = (self.queue.clone(), Arc::clone(&self.stats));
        Arc::new(
            move |d: Datagram<'_>| match queue.try_send((d.src, d.dst, d.payload.to_vec())) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            },
        )
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(SocketAddr, SocketAddr), Arc<Flow>>> {
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The flow of (`client`, `dest`), opened if missing (evicting the
    /// one idle the longest when the table is full); `None` when its
    /// socket cannot be made.
    fn flow(self: &Arc<Self>, client: SocketAddr, dest: SocketAddr) -> Option<Arc<Flow>> {
        if let Some(f) = self.lock().get(&(client, dest)) {
            return Some(Arc::clone(f));
        }
        let socket = match &self.upstream {
            Some(ns) => ns.enter(|| open(dest)).and_then(|r| r),
            None => open(dest),
        };
        let Ok(socket) = socket else {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let flow = Arc::new(Flow {
            client,
            dest,
            socket,
            last: AtomicU64::new(self.now_ms()),
            evicted: AtomicBool::new(false),
            out: Default::default(),
            back: Default::default(),
        });
        {
            let mut flows = self.lock();
            if flows.len() >= self.cfg.max_flows.max(1) {
                let oldest = flows
                    .iter()
                    .min_by_key(|(_, f)| f.last.load(Ordering::Relaxed))
                    .map(|(k, _)| *k);
                if let Some(f) = oldest.and_then(|k| flows.remove(&k)) {
                    f.evicted.store(true, Ordering::Relaxed);
                    self.stats.evicted.fetch_add(1, Ordering::Relaxed);
                }
            }
            flows.insert((client, dest), Arc::clone(&flow));
        }
        self.stats.flows.fetch_add(1, Ordering::Relaxed);
        let (shared, f) = (Arc::clone(self), Arc::clone(&flow));
        let spawned = std::thread::Builder::new()
            .name("vtcp-udp-flow".into())
            .spawn(move || answers(&shared, &f));
        if spawned.is_err() {
            self.lock().remove(&(client, dest));
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(flow)
    }
}

/// A socket bound to an ephemeral port of `dest`'s family, connected to
/// it.
fn open(dest: SocketAddr) -> io::Result<UdpSocket> {
    let any: IpAddr = match dest {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let s = UdpSocket::bind(SocketAddr::new(any, 0))?;
    s.connect(dest)?;
    s.set_read_timeout(Some(TICK))?;
    Ok(s)
}

/// The dispatcher: each queued datagram out through its flow's socket.
fn dispatch(shared: &Arc<Shared>, rx: &Receiver<(SocketAddr, SocketAddr, Vec<u8>)>) {
    while let Ok((client, dest, payload)) = rx.recv() {
        let sent = shared.flow(client, dest).is_some_and(|f| {
            let s = &shared.stats;
            // Counted before it goes: the answer may come back, and the
            // flow's thread end it (a DNS flow at its answer), before
            // `send` returns here.
            count(&f.out, &s.datagrams_out, &s.bytes_out, payload.len());
            match f.socket.send(&payload) {
                Ok(_) => {
                    f.last.store(shared.now_ms(), Ordering::Relaxed);
                    true
                }
                Err(_) => {
                    uncount(&f.out, &s.datagrams_out, &s.bytes_out, payload.len());
                    false
                }
            }
        });
        if !sent {
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Counts one datagram of `len` octets in a flow's pair and the totals.
fn count(flow: &[AtomicU64; 2], datagrams: &AtomicU64, bytes: &AtomicU64, len: usize) {
    flow[0].fetch_add(1, Ordering::Relaxed);
    flow[1].fetch_add(len as u64, Ordering::Relaxed);
    datagrams.fetch_add(1, Ordering::Relaxed);
    bytes.fetch_add(len as u64, Ordering::Relaxed);
}

/// Takes back what [`count`] counted, for a datagram that did not go.
fn uncount(flow: &[AtomicU64; 2], datagrams: &AtomicU64, bytes: &AtomicU64, len: usize) {
    flow[0].fetch_sub(1, Ordering::Relaxed);
    flow[1].fetch_sub(len as u64, Ordering::Relaxed);
    datagrams.fetch_sub(1, Ordering::Relaxed);
    bytes.fetch_sub(len as u64, Ordering::Relaxed);
}

/// A flow's thread: each answer back to the device from the destination,
/// until the flow ends; then it leaves the table and says what it moved.
fn answers(shared: &Shared, f: &Flow) {
    let mut buf = vec![0u8; 65_536];
    let idle = shared.cfg.idle.as_millis() as u64;
    let end = loop {
        if f.evicted.load(Ordering::Relaxed) {
            break End::Evicted;
        }
        // An error is no answer yet (the tick), or an ICMP error for an
        // earlier datagram (a closed port: the client hears nothing, as
        // through a NAT that drops ICMP).
        if let Ok(n) = f.socket.recv(&mut buf) {
            f.last.store(shared.now_ms(), Ordering::Relaxed);
            if shared.sender.send(f.dest, f.client, &buf[..n]).is_ok() {
                let s = &shared.stats;
                count(&f.back, &s.datagrams_back, &s.bytes_back, n);
            } else {
                shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // DNS: one answer per query, then the flow is done.
            if f.dest.port() == 53
                && f.back[0].load(Ordering::Relaxed) >= f.out[0].load(Ordering::Relaxed)
            {
                break End::Answered;
            }
        }
        if shared
            .now_ms()
            .saturating_sub(f.last.load(Ordering::Relaxed))
            >= idle
        {
            break End::Idle;
        }
    };
    {
        let mut flows = shared.lock();
        let key = (f.client, f.dest);
        if flows.get(&key).is_some_and(|g| std::ptr::eq(&**g, f)) {
            flows.remove(&key);
        }
    }
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    crate::complain!(
        "vtcp: udp flow {} -> {}: {} datagrams ({} bytes) out, {} ({} bytes) back ({})",
        f.client,
        f.dest,
        g(&f.out[0]),
        g(&f.out[1]),
        g(&f.back[0]),
        g(&f.back[1]),
        match end {
            End::Idle => "idle",
            End::Answered => "answered",
            End::Evicted => "evicted",
        }
    );
}
