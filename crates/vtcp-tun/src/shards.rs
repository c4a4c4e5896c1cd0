//! One stack per queue of a multi-queue TUN device (IFF_MULTI_QUEUE):
//! [`Shards`] runs a [`TunDriver`] (its own stack, reader thread and
//! writer thread) on each queue, so that N cores each carry the
//! connections of one queue, with no lock shared between them.
//!
//! # Which queue a packet comes in on
//!
//! The kernel picks the queue of each packet it sends into the device
//! (drivers/net/tun.c, `tun_select_queue`). Without a steering program it
//! is `tun_automq_select_queue`: the flow's symmetric hash (keyed with a
//! secret of the kernel's, so not predictable here) is looked up in a
//! table of flows that `tun_get_user` fills from the packets userspace
//! *writes*: a flow goes to the queue it was last written on; a flow the
//! table does not know goes to `hash * queues >> 32`. An entry is
//! forgotten 3 s (`TUN_FLOW_EXPIRE`) after the flow's last write (the
//! clean-up timer runs about once a second past that), and the table
//! holds at most 4096 flows (`MAX_TAP_FLOWS`).
//!
//! So a connection's packets follow the shard that writes for it:
//!
//! - a SYN to a listener comes in on the hash's queue, whose stack takes
//!   it (listeners are on every shard, [`ShardListener`]) and answers on
//!   the same queue, which the kernel learns;
//! - a connection we open ([`Shards::connect`], on the least loaded
//!   shard) sends its SYN on its shard's queue; the kernel learns the
//!   flow only after it has handled the SYN (`tun_flow_update` runs at
//!   the end of `tun_get_user`, after the packet went up the stack), so
//!   its SYN-ACK goes by the hash, to the other shard half the time with
//!   two queues, and from our ACK on the flow stays on its shard;
//!
//! and a packet can still come in on a shard that does not own its flow:
//! after 3 s of silence both ways the kernel has forgotten the flow and
//! hashes it; two flows with one hash share an entry; past 4096 flows new
//! ones are not learned.
//!
//! # Hand-off
//!
//! Correctness therefore never rests on the steering. A shard's stack
//! offers every segment that matches none of its connections (and that
//! none of its listeners would open one for) to its stray handler
//! ([`vtcp::Stack::set_strays`]) instead of resetting it. The handler
//! copies it into a bounded queue ([`MAX_STRAYS`] segments,
//! [`MAX_STRAY_BYTES`] bytes; past them a stray is dropped and counted,
//! as a lost packet that TCP sends again, never a RST); the hand-off
//! thread then asks the other shards, one at a time and each under its
//! own lock only, whether one has a connection with that 4-tuple, and
//! hands the segment to the first that does (as a verified segment: it
//! passed its shard's checksum check, or came merged by the receive
//! coalescer, whose checksum field means nothing). A segment nobody claims
//! goes back to its own shard ([`vtcp::Stack::handle_unclaimed`]), which
//! answers it as a lone stack would: a RST, a SYN-cookie check, a drop.
//! The owner's reply goes out on its own queue, so the kernel learns the
//! flow again and its next packets come in on the right queue.
//!
//! An ICMP or ICMPv6 error (a path-MTU report, an unreachable) comes in
//! on whichever queue the hash of its own addresses picks: one that
//! names no connection of its shard is tried on the others
//! ([`crate::IpStack::share_path_mtu`]).
//!
//! Ephemeral ports are split between the shards (each draws from its own
//! part of the range), so that two shards never open the same 4-tuple;
//! the SYN-cookie and ISN secrets are the same on every shard, so that a
//! cookie's ACK is good wherever it lands.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use vtcp::{ConnKey, Counters, NetStack, StackConfig, TcpListener, TcpStream, WeakNetStack};

use crate::device::{Tun, TunConfig, TunError};
use crate::driver::TunDriver;
use crate::ipstack::DriverCounters;

/// The most queues a TUN device takes (the kernel's `MAX_TAP_QUEUES`).
pub const MAX_QUEUES: usize = 256;

/// The most stray segments waiting for the hand-off thread; past it a
/// stray is dropped and counted ([`ShardCounters::strays_dropped`]).
pub const MAX_STRAYS: usize = 1024;

/// The most bytes of stray segments waiting for the hand-off thread.
pub const MAX_STRAY_BYTES: usize = 4 << 20;

/// How often an idle [`ShardListener`]'s acceptor threads look whether
/// the listener was dropped.
const ACCEPT_POLL: Duration = Duration::from_millis(100);

/// Opens `queues` queues of one device: with one, the device as `cfg`
/// says (what [`Tun::open`] does); with more, `cfg` with
/// [`TunConfig::multi_queue`], the first open creating the interface and
/// the others attaching to it. With more than one queue the interface
/// must not exist yet in the calling thread's network namespace
/// ([`TunError::Busy`] if it does): the kernel would attach the queues to
/// another process's multi-queue device without complaint.
pub fn open_queues(cfg: &TunConfig, queues: usize) -> Result<Vec<Tun>, TunError> {
    if queues == 0 || queues > MAX_QUEUES {
        return Err(TunError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{queues} queues: a TUN device has 1 to {MAX_QUEUES}"),
        )));
    }
    if queues == 1 {
        return Ok(vec![Tun::open(cfg)?]);
    }
    if let Some(name) = &cfg.name
        && interface_exists(name)
    {
        return Err(TunError::Busy(name.clone()));
    }
    let mut cfg = cfg.clone();
    cfg.multi_queue = true;
    let first = Tun::open(&cfg)?;
    cfg.name = Some(first.name().to_owned());
    let mut tuns = vec![first];
    for _ in 1..queues {
        tuns.push(Tun::open(&cfg)?);
    }
    Ok(tuns)
}

/// Whether an interface of this name exists in the calling thread's
/// network namespace (`/proc/thread-self/net/dev` is the thread's, where
/// `/sys/class/net` would be the mount's).
fn interface_exists(name: &str) -> bool {
    std::fs::read_to_string("/proc/thread-self/net/dev").is_ok_and(|dev| {
        dev.lines()
            .filter_map(|l| l.split_once(':'))
            .any(|(n, _)| n.trim() == name)
    })
}

/// The part of the ephemeral port range `(lo, hi)` that shard `i` of `n`
/// draws from: the range split in `n` nearly equal parts, in order.
pub fn ephemeral_share((lo, hi): (u16, u16), i: usize, n: usize) -> (u16, u16) {
    debug_assert!(i < n && lo <= hi);
    let span = usize::from(hi) - usize::from(lo) + 1;
    let n = n.min(span).max(1);
    let i = i.min(n - 1);
    let start = usize::from(lo) + span * i / n;
    let end = usize::from(lo) + span * (i + 1) / n - 1;
    (start as u16, end as u16)
}

/// What one shard saw and did: its driver's and its stack's counters, and
/// its strays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardCounters {
    /// The driver's (packets in and out of this queue).
    pub driver: DriverCounters,
    /// The stack's. A stray handed to another shard is counted in by
    /// both, so `segments_in` summed over the shards exceeds the segments
    /// the device delivered by [`ShardCounters::handed_off`].
    pub stack: Counters,
    /// Connections the stack holds now.
    pub connections: usize,
    /// Segments that came in on this queue for no connection of this
    /// shard (and that no listener of its would open one for), offered to
    /// the other shards.
    pub strays: u64,
    /// Of those, the segments another shard's connection took.
    pub handed_off: u64,
    /// Of those, the segments dropped because the hand-off queue was full.
    pub strays_dropped: u64,
}

impl std::ops::AddAssign<&Self> for ShardCounters {
    fn add_assign(&mut self, o: &Self) {
        self.driver += &o.driver;
        self.stack += &o.stack;
        self.connections += o.connections;
        self.strays += o.strays;
        self.handed_off += o.handed_off;
        self.strays_dropped += o.strays_dropped;
    }
}

impl ShardCounters {
    /// The sum over shards.
    pub fn sum<'a>(shards: impl IntoIterator<Item = &'a Self>) -> Self {
        let mut total = Self::default();
        for s in shards {
            total += s;
        }
        total
    }
}

/// A stray segment on its way to its owner.
struct Stray {
    /// The shard it came in on.
    from: usize,
    src: IpAddr,
    dst: IpAddr,
    segment: Vec<u8>,
}

#[derive(Default)]
struct StrayCounts {
    offered: AtomicU64,
    handed_off: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Queue {
    strays: std::collections::VecDeque<Stray>,
    bytes: usize,
    closed: bool,
}

/// The strays waiting for the hand-off thread (under their own lock,
/// which a stack's stray handler takes under the stack's: the hand-off
/// thread never holds it while it locks a stack).
struct Handoff {
    queue: Mutex<Queue>,
    ready: Condvar,
    counts: Vec<StrayCounts>,
}

impl Handoff {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A shard's stray handler: queues a copy, or drops it when the queue
    /// is full; `false` (the stack answers it itself) once closed.
    fn offer(&self, from: usize, src: IpAddr, dst: IpAddr, segment: &[u8]) -> bool {
        let mut q = self.lock();
        if q.closed {
            return false;
        }
        let counts = &self.counts[from];
        counts.offered.fetch_add(1, Ordering::Relaxed);
        if q.strays.len() >= MAX_STRAYS || q.bytes + segment.len() > MAX_STRAY_BYTES {
            counts.dropped.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        q.bytes += segment.len();
        q.strays.push_back(Stray {
            from,
            src,
            dst,
            segment: segment.to_vec(),
        });
        let wake = q.strays.len() == 1;
        drop(q);
        if wake {
            self.ready.notify_one();
        }
        true
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// The hand-off thread: takes the queue whole, and for each stray asks
    /// the other shards in turn (each under its own lock) whether one has
    /// its connection; the first that does takes it, else it goes back to
    /// its own shard unclaimed. Ends once closed.
    fn run(&self, nets: &[WeakNetStack]) {
        let mut batch = std::collections::VecDeque::new();
        loop {
            {
                let mut q = self.lock();
                while q.strays.is_empty() && !q.closed {
                    q = self.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
                if q.strays.is_empty() {
                    return;
                }
                std::mem::swap(&mut batch, &mut q.strays);
                q.bytes = 0;
            }
            for s in batch.drain(..) {
                self.deliver(nets, &s);
            }
        }
    }

    fn deliver(&self, nets: &[WeakNetStack], s: &Stray) {
        let (src, dst, seg) = (s.src, s.dst, &s.segment[..]);
        if let Some(key) = key_of(src, dst, seg) {
            let n = nets.len();
            for k in (1..n).map(|d| (s.from + d) % n) {
                // Verified: its checksum was checked (or vouched for) when
                // it came in, and a segment the IP layer merged may not
                // carry a valid one.
                // Counted before it is handed over, so that whoever sees
                // its effects sees it counted.
                let claimed = nets[k].with_stack(|stack, now| {
                    let mine = stack.conn(key).is_some();
                    if mine {
                        self.counts[s.from]
                            .handed_off
                            .fetch_add(1, Ordering::Relaxed);
                        stack.handle_verified_packet(now, src, dst, seg);
                    }
                    mine
                });
                if claimed == Some(true) {
                    return;
                }
            }
        }
        nets[s.from].with_stack(|stack, now| stack.handle_unclaimed(now, src, dst, seg));
    }
}

/// The connection a segment from `src` to `dst` belongs to, from its
/// ports (untrusted: `None` when it is too short to have them).
fn key_of(src: IpAddr, dst: IpAddr, segment: &[u8]) -> Option<ConnKey> {
    let ports = segment.get(..4)?;
    Some(ConnKey {
        local: SocketAddr::new(dst, u16::from_be_bytes([ports[2], ports[3]])),
        remote: SocketAddr::new(src, u16::from_be_bytes([ports[0], ports[1]])),
    })
}

/// A stack per queue of one TUN device, and the hand-off between them
/// (see the [module](self)). Dropping it stops every reader and the
/// hand-off thread; the stacks live on while handles to them remain.
pub struct Shards {
    drivers: Vec<TunDriver>,
    handoff: Arc<Handoff>,
    thread: Option<JoinHandle<()>>,
    /// Where the next tie between equally loaded shards starts.
    next: AtomicUsize,
}

impl Shards {
    /// Starts a stack on each of `tuns` (the queues of one device, from
    /// [`open_queues`]) with the configuration `cfg` makes, at these
    /// addresses; the secrets of the first configuration go to every
    /// shard, and each shard gets its part of the ephemeral ports.
    pub fn start(
        tuns: Vec<Tun>,
        cfg: impl Fn() -> StackConfig,
        addrs: &[IpAddr],
    ) -> io::Result<Self> {
        Self::start_with(tuns, cfg, addrs, false)
    }

    /// [`Shards::start`] with transparent stacks
    /// ([`TunDriver::start_transparent`]), for
    /// [`ShardListener::bind_transparent`].
    pub fn start_transparent(
        tuns: Vec<Tun>,
        cfg: impl Fn() -> StackConfig,
        addrs: &[IpAddr],
    ) -> io::Result<Self> {
        Self::start_with(tuns, cfg, addrs, true)
    }

    fn start_with(
        tuns: Vec<Tun>,
        cfg: impl Fn() -> StackConfig,
        addrs: &[IpAddr],
        transparent: bool,
    ) -> io::Result<Self> {
        let n = tuns.len();
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no queue"));
        }
        let first = cfg();
        let (cookie_key, isn_key, range) = (first.cookie_key, first.isn_key, first.ephemeral_ports);
        let mut firsts = Some(first);
        let mut drivers = Vec::with_capacity(n);
        for (i, tun) in tuns.into_iter().enumerate() {
            let mut c = firsts.take().unwrap_or_else(&cfg);
            c.cookie_key = cookie_key;
            c.isn_key = isn_key;
            c.ephemeral_ports = ephemeral_share(range, i, n);
            drivers.push(if transparent {
                TunDriver::start_transparent(tun, c, addrs)?
            } else {
                TunDriver::start(tun, c, addrs)?
            });
        }
        let handoff = Arc::new(Handoff {
            queue: Mutex::default(),
            ready: Condvar::new(),
            counts: (0..n).map(|_| StrayCounts::default()).collect(),
        });
        // One queue has nobody to hand off to: no handler, no thread.
        let thread = if n > 1 {
            for (i, d) in drivers.iter().enumerate() {
                let h = Arc::clone(&handoff);
                d.net().with_stack(|s, _| {
                    s.set_strays(Some(Box::new(move |src, dst, seg| {
                        h.offer(i, src, dst, seg)
                    })))
                });
            }
            let nets: Vec<WeakNetStack> = drivers.iter().map(|d| d.net().downgrade()).collect();
            for (i, d) in drivers.iter().enumerate() {
                let others = (1..n).map(|k| nets[(i + k) % n].clone()).collect();
                d.ip().share_path_mtu(others);
            }
            let h = Arc::clone(&handoff);
            Some(
                std::thread::Builder::new()
                    .name(format!("vtcp-handoff-{}", drivers[0].name()))
                    .spawn(move || h.run(&nets))?,
            )
        } else {
            None
        };
        Ok(Self {
            drivers,
            handoff,
            thread,
            next: AtomicUsize::new(0),
        })
    }

    /// The shards' drivers, in queue order.
    pub fn drivers(&self) -> &[TunDriver] {
        &self.drivers
    }

    /// Shard `i`'s stack.
    ///
    /// # Panics
    ///
    /// When `i` is not below [`Shards::len`].
    pub fn net(&self, i: usize) -> &NetStack {
        self.drivers[i].net()
    }

    /// How many shards (queues).
    pub fn len(&self) -> usize {
        self.drivers.len()
    }

    /// Never: a set of shards has at least one.
    pub fn is_empty(&self) -> bool {
        self.drivers.is_empty()
    }

    /// The device's interface name.
    pub fn name(&self) -> &str {
        self.drivers[0].name()
    }

    /// The shard to open the next connection from: the one holding the
    /// fewest connections, ties taken in turn.
    pub fn pick(&self) -> usize {
        let n = self.drivers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n)
            .map(|d| (start + d) % n)
            .min_by_key(|&i| self.drivers[i].net().connections())
            .unwrap_or(0)
    }

    /// Opens a connection to `addr` from the shard [`Shards::pick`]
    /// chooses and waits at most `timeout` for it to be established (see
    /// [`TcpStream::connect_timeout`]). Its SYN goes out on that shard's
    /// queue, so the kernel sends the answer to it.
    pub fn connect_timeout(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_timeout(self.net(self.pick()), addr, timeout)
    }

    /// [`Shards::connect_timeout`] without a timeout of ours (the SYN
    /// retries still end).
    pub fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(self.net(self.pick()), addr)
    }

    /// Sets the UDP handler of every shard's IP layer
    /// ([`crate::IpStack::set_udp_handler`]: the kernel spreads a
    /// device's UDP over its queues as it does TCP). False when one was
    /// set already.
    pub fn set_udp_handler(&self, handler: Arc<crate::UdpHandler>) -> bool {
        self.drivers
            .iter()
            .all(|d| d.ip().set_udp_handler(Arc::clone(&handler)))
    }

    /// A writer of UDP datagrams to the device (through the first queue:
    /// the kernel takes a packet written on any queue alike).
    pub fn udp_sender(&self) -> crate::udp::UdpSender {
        self.drivers[0].ip().udp_sender()
    }

    /// Each shard's counters, in queue order; [`ShardCounters::sum`] adds
    /// them up.
    pub fn counters(&self) -> Vec<ShardCounters> {
        self.drivers
            .iter()
            .zip(&self.handoff.counts)
            .map(|(d, c)| ShardCounters {
                driver: d.counters(),
                stack: d.net().counters(),
                connections: d.net().connections(),
                strays: c.offered.load(Ordering::Relaxed),
                handed_off: c.handed_off.load(Ordering::Relaxed),
                strays_dropped: c.dropped.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Why the device stopped working, if it did (the first queue's
    /// reader to fail; see [`TunDriver::failure`]).
    pub fn failure(&self) -> Option<io::Error> {
        self.drivers.iter().find_map(TunDriver::failure)
    }

    /// Stops every reader and the hand-off thread, and waits for them.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        for d in self.drivers.drain(..) {
            d.stop();
        }
        self.handoff.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A listener on every shard: what [`TcpListener`] is to one stack. Each
/// shard's listener has a thread that accepts and passes its connections
/// into one queue, so that [`ShardListener::accept`] gives them from all
/// shards in the order they were accepted. Dropping it stops listening on
/// every shard (connections accepted but not taken yet are closed).
pub struct ShardListener {
    local: SocketAddr,
    incoming: Mutex<Option<Receiver<(TcpStream, SocketAddr)>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl ShardListener {
    /// Listens on `addr` on every shard, with a backlog of 128 each. Port
    /// 0 takes a free port of the first shard's and listens on it on the
    /// others.
    pub fn bind(shards: &Shards, addr: SocketAddr) -> io::Result<Self> {
        Self::bind_with_backlog(shards, addr, 128)
    }

    /// [`ShardListener::bind`] with a backlog of `backlog` on each shard
    /// ([`TcpListener::bind_with_backlog`]).
    pub fn bind_with_backlog(
        shards: &Shards,
        addr: SocketAddr,
        backlog: usize,
    ) -> io::Result<Self> {
        let first = TcpListener::bind_with_backlog(shards.net(0), addr, backlog)?;
        let local = first.local_addr()?;
        let mut all = vec![first];
        for i in 1..shards.len() {
            all.push(TcpListener::bind_with_backlog(
                shards.net(i),
                local,
                backlog,
            )?);
        }
        Self::serve(local, all, backlog)
    }

    /// Listens transparently on every shard
    /// ([`TcpListener::bind_transparent`]); the shards must be
    /// transparent ([`Shards::start_transparent`]).
    pub fn bind_transparent(shards: &Shards, backlog: usize) -> io::Result<Self> {
        let all = (0..shards.len())
            .map(|i| TcpListener::bind_transparent(shards.net(i), backlog))
            .collect::<io::Result<Vec<_>>>()?;
        let local = all[0].local_addr()?;
        Self::serve(local, all, backlog)
    }

    fn serve(local: SocketAddr, all: Vec<TcpListener>, backlog: usize) -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel(backlog.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(all.len());
        for (i, l) in all.into_iter().enumerate() {
            let (tx, halt) = (tx.clone(), Arc::clone(&stop));
            let spawned = std::thread::Builder::new()
                .name(format!("vtcp-accept-{i}"))
                .spawn(move || accept_into(&l, &tx, &halt));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    stop.store(true, Ordering::Release);
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Self {
            local,
            incoming: Mutex::new(Some(rx)),
            stop,
            threads,
        })
    }

    /// The address listened on (port 0 of a transparent listener).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Waits for an established connection from any shard.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let g = self.incoming.lock().unwrap_or_else(PoisonError::into_inner);
        let rx = g.as_ref().ok_or_else(gone)?;
        rx.recv().map_err(|_| gone())
    }

    /// Waits at most `timeout` for an established connection from any
    /// shard; `Ok(None)` when none came.
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        let g = self.incoming.lock().unwrap_or_else(PoisonError::into_inner);
        let rx = g.as_ref().ok_or_else(gone)?;
        match rx.recv_timeout(timeout) {
            Ok(c) => Ok(Some(c)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(gone()),
        }
    }

    /// The connections as they come, as `std::net::TcpListener::incoming`.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(|| self.accept().map(|(s, _)| s))
    }
}

impl Drop for ShardListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // An acceptor blocked on a full queue fails its send and ends.
        self.incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for ShardListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardListener")
            .field("local", &self.local)
            .field("shards", &self.threads.len())
            .finish()
    }
}

/// Every shard's acceptors ended (their stacks failed).
fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the listener's shards are gone",
    )
}

/// One shard's acceptor: passes what `l` accepts into `tx` until `stop`
/// is set, the receiver is gone, or accepting fails.
fn accept_into(l: &TcpListener, tx: &SyncSender<(TcpStream, SocketAddr)>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        match l.accept_timeout(ACCEPT_POLL) {
            Ok(Some(c)) => {
                if tx.send(c).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ephemeral_ports_are_split_without_gaps_or_overlaps() {
        for n in 1..=7 {
            let mut next = 49152u32;
            for i in 0..n {
                let (lo, hi) = ephemeral_share((49152, 65535), i, n);
                assert_eq!(u32::from(lo), next, "{i} of {n}");
                assert!(lo <= hi);
                next = u32::from(hi) + 1;
            }
            assert_eq!(next, 65536);
        }
        // More shards than ports: each gets one, the rest share the last.
        assert_eq!(ephemeral_share((10, 11), 0, 4), (10, 10));
        assert_eq!(ephemeral_share((10, 11), 3, 4), (11, 11));
    }

    #[test]
    fn a_segment_names_its_connection_by_its_ports() {
        let (a, b): (IpAddr, IpAddr) = ([198, 18, 0, 1].into(), [198, 18, 0, 2].into());
        let seg = [0x9c, 0x40, 0x00, 0x50, 0, 0];
        assert_eq!(
            key_of(a, b, &seg),
            Some(ConnKey {
                local: SocketAddr::new(b, 80),
                remote: SocketAddr::new(a, 40000),
            })
        );
        assert_eq!(key_of(a, b, &seg[..3]), None);
    }

    /// Two stacks sharing an interface: a segment that comes in on the
    /// wrong one reaches its connection on the other (no RST), and one
    /// nobody owns comes back and is reset.
    #[test]
    fn a_stray_reaches_the_shard_that_owns_its_connection() {
        use std::sync::mpsc::channel;
        let us: IpAddr = [198, 18, 0, 2].into();
        let peer: IpAddr = [198, 18, 0, 1].into();
        // Both stacks' output goes to one "wire", tagged by shard.
        let (tx, rx) = channel::<(usize, Vec<u8>)>();
        // No SYN sent again before the test answers the first: with the
        // default 1 s initial RTO a test thread stalled that long (a loaded
        // CI machine) read the second SYN where it waits for the ACK.
        let config = || {
            let mut config = StackConfig::default();
            config.conn.initial_rto = vtcp::rto::MAX_RTO;
            config
        };
        let nets: Vec<NetStack> = (0..2)
            .map(|i| {
                let tx = Mutex::new(tx.clone());
                NetStack::new(config(), [us], move |_, _, seg: &[u8]| {
                    let _ = tx.lock().unwrap().send((i, seg.to_vec()));
                })
                .unwrap()
            })
            .collect();
        let handoff = Arc::new(Handoff {
            queue: Mutex::default(),
            ready: Condvar::new(),
            counts: (0..2).map(|_| StrayCounts::default()).collect(),
        });
        for (i, n) in nets.iter().enumerate() {
            let h = Arc::clone(&handoff);
            n.with_stack(|s, _| {
                s.set_strays(Some(Box::new(move |src, dst, seg| {
                    h.offer(i, src, dst, seg)
                })))
            });
        }
        let weak: Vec<WeakNetStack> = nets.iter().map(NetStack::downgrade).collect();
        let thread = {
            let h = Arc::clone(&handoff);
            std::thread::spawn(move || h.run(&weak))
        };
        // Shard 1 opens a connection; its SYN goes out tagged 1.
        let key =
            nets[1].with_stack(|s, now| s.connect(now, us, SocketAddr::new(peer, 7)).unwrap());
        let (from, syn) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(from, 1);
        let syn = vtcp::wire::Segment::parse(&syn).unwrap();
        // The peer's SYN-ACK comes in on shard 0.
        let synack = vtcp::wire::Segment {
            src_port: 7,
            dst_port: key.local.port(),
            seq: vtcp::seq::Seq(5000),
            ack: syn.seq + 1,
            flags: vtcp::wire::Flags::SYN | vtcp::wire::Flags::ACK,
            window: 65_535,
            payload: &[][..],
            ..vtcp::wire::Segment::default()
        };
        let mut bytes = synack.to_bytes();
        if let Some(p) = vtcp::wire::checksum::PseudoHeader::new(peer, us) {
            vtcp::wire::checksum::fill_tcp_checksum(&p, &mut bytes);
        }
        nets[0].handle_packet(peer, us, &bytes);
        // Shard 1 answers with the ACK: established, nothing from shard 0.
        let (from, ack) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(from, 1);
        let ack = vtcp::wire::Segment::parse(&ack).unwrap();
        assert_eq!(ack.flags, vtcp::wire::Flags::ACK);
        assert_eq!(
            nets[1].with_stack(|s, _| s.conn(key).map(vtcp::Conn::state)),
            Some(vtcp::State::Established)
        );
        assert_eq!(handoff.counts[0].handed_off.load(Ordering::Relaxed), 1);
        // A segment for no connection anywhere: back to shard 0, reset.
        let mut lost = synack.clone();
        lost.dst_port = 1;
        lost.flags = vtcp::wire::Flags::ACK;
        let mut bytes = lost.to_bytes();
        if let Some(p) = vtcp::wire::checksum::PseudoHeader::new(peer, us) {
            vtcp::wire::checksum::fill_tcp_checksum(&p, &mut bytes);
        }
        nets[0].handle_packet(peer, us, &bytes);
        let (from, rst) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(from, 0);
        let rst = vtcp::wire::Segment::parse(&rst).unwrap();
        assert_eq!(rst.flags, vtcp::wire::Flags::RST);
        assert_eq!(handoff.counts[0].offered.load(Ordering::Relaxed), 2);
        assert_eq!(handoff.counts[0].handed_off.load(Ordering::Relaxed), 1);
        handoff.close();
        thread.join().unwrap();
    }
}
