//! Blocking, thread-safe sockets over a [`Stack`]: [`NetStack`],
//! [`TcpListener`] and [`TcpStream`], shaped like `std::net`'s.
//!
//! A [`NetStack`] owns a [`Stack`] behind a mutex and two threads: a
//! driver that runs its timers on the real clock, and a writer thread that
//! hands what the stack sends to the [`SegmentWriter`] you give it.
//! Segments come in through [`NetStack::handle_packet`] or
//! [`NetStack::handle_packets`] (from your TUN device, your VPN tunnel or
//! another `NetStack`).
//!
//! What the sockets do is [`crate::socket`]'s, the socket layer the
//! packetdrill runner tests on its virtual clock; this module adds the
//! wall clock (the stack's time is the time since it was made), the
//! waiting (a call that would block parks its thread until its connection
//! changes, and tries again) and the threads.
//!
//! Input never waits for output. Whatever changes the stack (a segment in,
//! a timer, a socket call) only queues what the stack has to send in a
//! bounded outbox ([`OutboxLimits`]) and wakes the writer thread; no other
//! thread ever calls the writer. So a writer may block (a socket to a
//! tunnel, a bounded channel) without stopping the stack's input, and two
//! stacks whose writers feed each other's `handle_packet` neither deadlock
//! nor recurse. When the outbox is full the stack stops taking segments
//! from its connections, which keep them (data waits in the send buffers,
//! as a kernel's socket waits on a full device queue with TCP Small
//! Queues), and goes on once the writer thread has written half of what
//! the outbox holds (the driver thread refills it while the writer thread
//! writes the rest): backpressure, not drops, and connections take turns of up to 64
//! segments, so none starves the others. The user guide's "The writer
//! contract" says it all.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

use vtcp_conn::{Conn, EcnCodepoint, State, Stats};

use crate::socket::{SocketId, Sockets, ready};
use crate::stack::{ConnKey, Counters, IpFields, ListenerId, Stack, StackConfig, StackError};
use crate::wait::{Target, Waiters, thread_waker};

/// Where a [`NetStack`] sends its segments: wrap each in an IP header with
/// these addresses (or hand it to another stack).
///
/// The stack calls it from its own writer thread only, one segment at a
/// time, in the order the stack sent them, with no lock of the stack held:
/// it may block (the stack's input and timers go on meanwhile, and what
/// the stack sends waits in its bounded outbox), and it may call
/// [`NetStack::handle_packet`] of any stack, this one included. Closures
/// `Fn(IpAddr, IpAddr, &[u8])` are writers. A writer returns nothing: a
/// segment it cannot send is lost, as on a wire, and TCP retransmits it.
pub trait SegmentWriter: Send + Sync + 'static {
    /// Sends one TCP segment from `src` to `dst`.
    fn write_segment(&self, src: IpAddr, dst: IpAddr, segment: &[u8]);

    /// Sends one TCP segment from `src` to `dst` with the IP header fields
    /// its connection asks for (`TcpStream::set_ttl`, say). What the stack
    /// calls; by default the fields are left to the writer's IP layer and
    /// [`SegmentWriter::write_segment`] sends the segment.
    fn write_segment_with(&self, src: IpAddr, dst: IpAddr, ip: IpFields, segment: &[u8]) {
        let _ = ip;
        self.write_segment(src, dst, segment);
    }

    /// Sends a super-segment ([`crate::Transmit::segment_size`]): one
    /// header for segments of `segment_size` octets of payload, which a
    /// link with TCP segmentation offload cuts itself (its checksum field
    /// holds the pseudo-header's sum for that). The stack makes them only
    /// with [`crate::StackConfig::max_segment`] set. By default it is cut
    /// here ([`vtcp_wire::tso::split`], each piece checksummed) and each
    /// piece goes to [`SegmentWriter::write_segment_with`].
    fn write_super_segment(
        &self,
        src: IpAddr,
        dst: IpAddr,
        ip: IpFields,
        segment: &[u8],
        segment_size: usize,
    ) {
        let _ = cut_super_segment(self, src, dst, ip, segment, segment_size);
    }
}

/// What [`SegmentWriter::write_super_segment`] does by default, for a
/// writer that overrides it but cannot hand a given super-segment on
/// whole: cuts `segment` into checksummed segments of `segment_size`
/// octets of payload ([`vtcp_wire::tso::split`]) and sends each with
/// [`SegmentWriter::write_segment_with`]. False, with nothing sent, for a
/// segment whose header is malformed.
pub fn cut_super_segment<W: SegmentWriter + ?Sized>(
    writer: &W,
    src: IpAddr,
    dst: IpAddr,
    ip: IpFields,
    segment: &[u8],
    segment_size: usize,
) -> bool {
    let pseudo = vtcp_wire::checksum::PseudoHeader::new(src, dst);
    let mut scratch = vec![0u8; 60 + segment_size.min(segment.len())];
    vtcp_wire::tso::split(segment, segment_size, pseudo.as_ref(), &mut scratch, |s| {
        writer.write_segment_with(src, dst, ip, s);
    })
    .is_ok()
}

impl<F> SegmentWriter for F
where
    F: Fn(IpAddr, IpAddr, &[u8]) + Send + Sync + 'static,
{
    fn write_segment(&self, src: IpAddr, dst: IpAddr, segment: &[u8]) {
        self(src, dst, segment);
    }
}

/// The largest segment the stack can emit: an MSS up to 65 495 (IPv4's
/// limit) plus the TCP header with options.
const SCRATCH: usize = 65_536;

/// How much the emptied segment buffers kept for reuse may hold, in
/// bytes of capacity: enough for a few thousand full-sized segments, so
/// that steady traffic allocates nothing, and no more.
const SPARE_BYTES: usize = 4 << 20;

/// How many segments the writer thread writes between two looks at the
/// outbox (to account for them, and to let a paused stack go on): one
/// lock per this many writes.
const WRITTEN_CHUNK: usize = 256;

/// How much a [`NetStack`]'s outbox holds: the segments the stack has
/// sent that its writer has not yet taken (the batch the writer thread is
/// writing counts until it is written). Once either bound is reached the
/// stack takes no more segments from its connections until the writer
/// thread has written half of both (the bytes may pass their bound by the
/// one segment that reached it); nothing is dropped.
///
/// The defaults, 8192 segments and 16 MiB, make a deep device queue:
/// 12 MB of full-sized segments, about 100 ms at 1 Gbit/s, four times
/// what one connection with the default 4 MiB send buffer can have in
/// flight, so that the writer thread always has a batch ready, while a
/// writer that blocks for good costs bounded memory.
/// [`NetStack::with_outbox`] sets others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxLimits {
    /// Segments queued at most.
    pub segments: usize,
    /// Bytes of segments (TCP header and payload) queued at most.
    pub bytes: usize,
}

impl Default for OutboxLimits {
    /// 8192 segments, 16 MiB.
    fn default() -> Self {
        Self {
            segments: 8192,
            bytes: 16 << 20,
        }
    }
}

impl OutboxLimits {
    /// At most `segments` segments and `bytes` bytes (each at least 1).
    pub fn new(segments: usize, bytes: usize) -> Self {
        Self {
            segments: segments.max(1),
            bytes: bytes.max(1),
        }
    }
}

/// What a [`NetStack`]'s outbox holds and has done
/// ([`NetStack::outbox`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxStats {
    /// Segments queued or being written now.
    pub queued_segments: usize,
    /// Their bytes.
    pub queued_bytes: usize,
    /// Segments handed to the writer so far.
    pub written: u64,
    /// Times the outbox filled and the stack stopped taking segments from
    /// its connections until the writer thread wrote a batch (the writer
    /// was the bottleneck, or blocked).
    pub full: u64,
    /// Batches the writer thread took: it takes the whole queue at once,
    /// so `written / batches` is how many segments a wakeup moved.
    pub batches: u64,
}

struct Outgoing {
    src: IpAddr,
    dst: IpAddr,
    ip: IpFields,
    /// A super-segment's [`crate::Transmit::segment_size`].
    segment_size: Option<usize>,
    bytes: Vec<u8>,
}

/// The segments waiting for the writer thread, under their own lock (the
/// writer thread never takes the stack's).
struct Outbox {
    queue: Vec<Outgoing>,
    limits: OutboxLimits,
    /// Segments and bytes queued or being written.
    segments: usize,
    bytes: usize,
    /// Emptied segment buffers, reused so that steady traffic allocates
    /// nothing; `spare_bytes` is their capacity.
    spare: Vec<Vec<u8>>,
    spare_bytes: usize,
    /// The writer thread is writing, or was notified: producers need not
    /// notify it again.
    awake: bool,
    /// The stack is gone: the writer thread ends once the queue is empty.
    closed: bool,
    /// The stack stopped taking segments because the outbox was full:
    /// the writer thread has the driver settle it again once the outbox
    /// is down to half ([`Outbox::may_resume`]).
    paused: bool,
    written: u64,
    full: u64,
    batches: u64,
}

impl Outbox {
    /// Whether the outbox has reached a bound.
    fn is_full(&self) -> bool {
        self.segments >= self.limits.segments || self.bytes >= self.limits.bytes
    }

    /// Whether a paused stack may take segments again: the outbox is down
    /// to half of both bounds, so the stack refills it while the writer
    /// thread still has half of it to write (resuming at the first free
    /// slot would make the two take turns, each waiting on the other).
    fn may_resume(&self) -> bool {
        self.segments <= self.limits.segments / 2 && self.bytes <= self.limits.bytes / 2
    }

    /// The stack found the outbox full and stopped taking segments.
    fn pause(&mut self) {
        if !self.paused {
            self.paused = true;
            self.full += 1;
        }
    }

    /// Queues a copy of the segment `t` says `scratch` holds (the caller
    /// checked for room).
    fn push(&mut self, t: &crate::Transmit, scratch: &[u8]) {
        let segment = &scratch[..t.len];
        let mut bytes = match self.spare.pop() {
            Some(b) => {
                self.spare_bytes -= b.capacity();
                b
            }
            None => Vec::new(),
        };
        bytes.clear();
        bytes.extend_from_slice(segment);
        self.segments += 1;
        self.bytes += segment.len();
        self.queue.push(Outgoing {
            src: t.src,
            dst: t.dst,
            ip: t.ip,
            segment_size: t.segment_size,
            bytes,
        });
    }

    /// Whether the writer thread must be notified: it sleeps and there is
    /// something to write. Marks it awake, so that only one producer
    /// notifies it per wakeup.
    fn needs_wake(&mut self) -> bool {
        if self.awake || self.queue.is_empty() {
            return false;
        }
        self.awake = true;
        true
    }

    /// Ends the accounting of written segments and keeps their buffers
    /// (taking them out of `written`).
    fn written(&mut self, written: &mut [Outgoing]) {
        self.written += written.len() as u64;
        for o in written {
            let bytes = std::mem::take(&mut o.bytes);
            debug_assert!(self.segments >= 1 && self.bytes >= bytes.len());
            self.segments -= 1;
            self.bytes -= bytes.len();
            let cap = bytes.capacity();
            if self.spare_bytes + cap <= SPARE_BYTES {
                self.spare_bytes += cap;
                self.spare.push(bytes);
            }
        }
    }

    fn stats(&self) -> OutboxStats {
        OutboxStats {
            queued_segments: self.segments,
            queued_bytes: self.bytes,
            written: self.written,
            full: self.full,
            batches: self.batches,
        }
    }
}

/// The output side: the outbox, the writer thread's condvar and the
/// writer. The writer thread holds only this, so a writer blocked for good
/// keeps no more than it (and the stack itself is freed).
struct Output {
    outbox: Mutex<Outbox>,
    /// Wakes the writer thread.
    ready: Condvar,
    writer: Box<dyn SegmentWriter>,
    /// The outbox was full when last looked at under its lock: a hint
    /// that lets a change with nothing to send skip the outbox's lock.
    full: AtomicBool,
    /// The stack, for the writer thread to settle it again when the
    /// outbox has room after a pause (weak: a writer blocked for good
    /// must not keep the stack alive).
    stack: OnceLock<Weak<Shared>>,
}

impl Output {
    fn lock(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer thread: takes the whole queue at each wakeup (one lock
    /// for any number of segments), writes it unlocked, in order, and
    /// sleeps when nothing is left. It accounts for what it wrote every
    /// [`WRITTEN_CHUNK`] segments, and once a paused stack may go on
    /// ([`Outbox::may_resume`]) has the driver thread settle it, so that
    /// the stack fills the outbox on one thread while this one writes on
    /// another. Ends once the stack is gone and the queue empty; a writer
    /// that never returns keeps it for good, and nobody waits for it.
    fn run(self: Arc<Self>) {
        let mut batch = Vec::new();
        let mut ob = self.lock();
        loop {
            if ob.queue.is_empty() {
                if ob.closed {
                    return;
                }
                ob.awake = false;
                ob = self.ready.wait(ob).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            ob.awake = true;
            ob.batches += 1;
            std::mem::swap(&mut batch, &mut ob.queue);
            drop(ob);
            for chunk in batch.chunks_mut(WRITTEN_CHUNK) {
                for o in chunk.iter() {
                    match o.segment_size {
                        Some(size) => {
                            self.writer
                                .write_super_segment(o.src, o.dst, o.ip, &o.bytes, size);
                        }
                        None => self.writer.write_segment_with(o.src, o.dst, o.ip, &o.bytes),
                    }
                }
                let mut ob = self.lock();
                ob.written(chunk);
                self.full.store(ob.is_full(), Ordering::Relaxed);
                let resume = ob.paused && ob.may_resume();
                if resume {
                    // Room again: the driver thread has the stack take
                    // what its connections have waiting (this thread is
                    // awake, so nobody notifies it).
                    ob.paused = false;
                }
                drop(ob);
                if resume && let Some(shared) = self.stack.get().and_then(Weak::upgrade) {
                    shared.resume();
                }
            }
            batch.clear();
            ob = self.lock();
        }
    }
}

pub(crate) struct Inner {
    /// The socket layer and the stack under it.
    pub(crate) sockets: Sockets,
    scratch: Vec<u8>,
    /// The deadline the driver sleeps towards.
    driver_deadline: Option<Duration>,
    driver_woken: bool,
    closed: bool,
    /// Threads and tasks waiting on connections and listeners.
    pub(crate) waiters: Waiters,
}

/// Whom [`Inner::settle`] says to wake once the lock is released.
struct Settled {
    /// The driver: the stack's next deadline moved earlier.
    driver: bool,
    /// The writer thread: segments were queued and it sleeps.
    writer: bool,
}

impl Inner {
    /// Moves what the stack has to send into the outbox until it is
    /// empty or the outbox full (then the stack pauses: its connections
    /// keep the rest, and the writer thread settles again once it has
    /// room), and says whether the driver must wake (the stack's next
    /// deadline is now earlier than the one it sleeps towards) and whether
    /// the writer thread must. Every change to the stack ends with it. The
    /// outbox is locked once, and only when there is something to send or
    /// it may be full.
    fn settle(&mut self, out: &Output, now: Duration) -> Settled {
        if self.scratch.is_empty() {
            self.scratch = vec![0; SCRATCH];
        }
        let mut outbox: Option<MutexGuard<'_, Outbox>> = None;
        loop {
            if outbox.is_none() && out.full.load(Ordering::Relaxed) {
                outbox = Some(out.lock());
            }
            if let Some(ob) = outbox.as_mut()
                && ob.is_full()
            {
                ob.pause();
                break;
            }
            let Some(t) = self
                .sockets
                .stack_mut()
                .poll_transmit(now, &mut self.scratch)
            else {
                break;
            };
            outbox
                .get_or_insert_with(|| out.lock())
                .push(&t, &self.scratch);
        }
        let writer = outbox.is_some_and(|mut o| {
            out.full.store(o.is_full(), Ordering::Relaxed);
            o.needs_wake()
        });
        let next = self.sockets.stack_mut().poll_timeout();
        let earlier = match (next, self.driver_deadline) {
            (Some(t), Some(d)) => t < d,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier {
            self.driver_woken = true;
        }
        Settled {
            driver: earlier,
            writer,
        }
    }

    /// Takes the waiters of every connection and listener the stack says
    /// changed (and those of `also`), to be woken after the unlock.
    fn take_woken(&mut self, also: Option<Target>) -> Vec<Waker> {
        let mut woken = Vec::new();
        if let Some(t) = also {
            self.waiters.take(t, &mut woken);
        }
        while let Some(event) = self.sockets.stack_mut().poll_event() {
            self.waiters.take(Target::of(event), &mut woken);
        }
        if self.closed && self.sockets.stack().connections() == 0 {
            self.waiters.take_all(&mut woken);
        }
        woken
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the driver when a deadline moved earlier or the stack shut.
    timer: Condvar,
    out: Arc<Output>,
    epoch: Instant,
    /// The wall clock read with `epoch`: the stack's clock in wall-clock
    /// time, fixed once, so that a wall clock stepped or slewed later
    /// (NTP, a VM's host) moves neither it nor the stamps made from it.
    started: std::time::SystemTime,
    /// Threads and tasks woken so far.
    wakeups: AtomicU64,
}

impl Drop for Shared {
    /// The stack is gone (the driver has stopped, no handle is left): the
    /// writer thread writes what is queued and ends.
    fn drop(&mut self) {
        self.out.lock().closed = true;
        self.out.ready.notify_one();
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The lock, and the stack's clock read once it is held: the time a
    /// call hands the stack. Read before the lock, a thread that then
    /// waited for it brought a time older than the one the holder had
    /// just used, and the stack's clock (its tap's, a capture's stamps)
    /// went back; read under it, calls are in the clock's order.
    fn lock_now(&self) -> (MutexGuard<'_, Inner>, Duration) {
        let g = self.lock();
        let now = self.now();
        (g, now)
    }

    /// Runs `f` on the stack, then queues what it has to send and wakes
    /// whoever may care.
    pub(crate) fn with_stack<R>(&self, f: impl FnOnce(&mut Stack, Duration) -> R) -> R {
        let (mut g, now) = self.lock_now();
        let r = f(g.sockets.stack_mut(), now);
        self.release(g, now);
        r
    }

    /// Runs `f` on the socket layer for a change one handle makes (to
    /// connection `key`, if given: shutdown, abort, close), and wakes
    /// the others waiting on that connection.
    pub(crate) fn change<R>(
        &self,
        key: Option<ConnKey>,
        f: impl FnOnce(&mut Sockets, Duration) -> R,
    ) -> R {
        let (mut g, now) = self.lock_now();
        let r = f(&mut g.sockets, now);
        self.release_waking(g, now, key.map(Target::Conn));
        r
    }

    /// Ends a change made under the lock: settle, unlock, wake the driver
    /// and the writer thread if needed and the waiters of what changed.
    pub(crate) fn release(&self, g: MutexGuard<'_, Inner>, now: Duration) {
        self.release_waking(g, now, None);
    }

    /// `release`, waking the waiters of `also` too (a change one handle
    /// made that the others must see, which may be no event of the
    /// stack's: a shutdown of reading, say).
    fn release_waking(&self, mut g: MutexGuard<'_, Inner>, now: Duration, also: Option<Target>) {
        let settled = g.settle(&self.out, now);
        let wake_driver = settled.driver || (g.closed && g.sockets.stack().connections() == 0);
        let woken = g.take_woken(also);
        drop(g);
        if settled.writer {
            self.out.ready.notify_one();
        }
        if wake_driver {
            self.timer.notify_one();
        }
        self.wake(woken);
    }

    /// Wakes `woken`, counting them.
    fn wake(&self, woken: Vec<Waker>) {
        self.wakeups
            .fetch_add(woken.len() as u64, Ordering::Relaxed);
        woken.into_iter().for_each(Waker::wake);
    }

    /// Blocks the calling thread until `target` changes or `deadline`
    /// passes (never, with `None`); false when the deadline passed. The
    /// thread waits unlocked, parked, woken only by its own target's
    /// changes (a wake may be spurious: the caller checks again).
    pub(crate) fn wait<'a>(
        &'a self,
        mut g: MutexGuard<'a, Inner>,
        target: Target,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, Inner>, bool) {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return (g, false);
        }
        g.waiters.register(target, &thread_waker());
        drop(g);
        let parked = crate::futex::parking();
        match left {
            Some(l) => std::thread::park_timeout(l),
            None => std::thread::park(),
        }
        drop(parked);
        let g = self.lock();
        (g, deadline.is_none_or(|d| Instant::now() < d))
    }

    pub(crate) fn handle_packet(&self, src: IpAddr, dst: IpAddr, segment: &[u8]) {
        self.handle_packets([(src, dst, segment)]);
    }

    /// Every segment of `packets` under one lock, then one settle.
    pub(crate) fn handle_packets<'p>(
        &self,
        packets: impl IntoIterator<Item = (IpAddr, IpAddr, &'p [u8])>,
    ) {
        self.handle_packets_checked(packets.into_iter().map(|(src, dst, segment)| {
            (
                src,
                dst,
                segment,
                crate::Checksum::Unchecked,
                EcnCodepoint::NotEct,
            )
        }));
    }

    /// [`Shared::handle_packets`], each segment's checksum verified or
    /// not as it says, with the ECN field its IP header carried.
    pub(crate) fn handle_packets_checked<'p>(
        &self,
        packets: impl IntoIterator<Item = (IpAddr, IpAddr, &'p [u8], crate::Checksum, EcnCodepoint)>,
    ) {
        let (mut g, now) = self.lock_now();
        for (src, dst, segment, checksum, ecn) in packets {
            g.sockets
                .stack_mut()
                .handle_packet_checked(now, src, dst, segment, checksum, ecn);
        }
        self.release(g, now);
    }

    /// The writer thread found room in the outbox after a pause: the
    /// driver thread wakes and settles the stack, which hands over what
    /// its connections have waiting while the writer thread goes on
    /// writing.
    fn resume(&self) {
        self.lock().driver_woken = true;
        self.timer.notify_one();
    }

    /// The driver: runs timers when they are due and sleeps until the next
    /// one, or until a change brings one forward.
    fn drive(self: Arc<Self>) {
        let mut g = self.lock();
        loop {
            // As a kernel does after close(): the connections go on until
            // they have delivered what was queued and closed; only then
            // does the driver stop.
            if g.closed && g.sockets.stack().connections() == 0 {
                return;
            }
            let now = self.now();
            g.sockets.handle_timeout(now);
            let settled = g.settle(&self.out, now);
            g.driver_woken = false;
            let deadline = g.sockets.stack_mut().poll_timeout();
            g.driver_deadline = deadline;
            // Only the connections whose timers changed them.
            let woken = g.take_woken(None);
            drop(g);
            if settled.writer {
                self.out.ready.notify_one();
            }
            self.wake(woken);
            g = self.lock();
            if g.driver_woken || (g.closed && g.sockets.stack().connections() == 0) {
                continue;
            }
            let now = self.now();
            g = match deadline {
                Some(d) if d <= now => g,
                Some(d) => {
                    self.timer
                        .wait_timeout(g, d - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self.timer.wait(g).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// Shuts the driver down when the last handle goes (once the connections
/// left have closed).
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.timer.notify_one();
    }
}

/// A [`Stack`] shared between threads, with a driver thread for its timers
/// and a [`SegmentWriter`] for what it sends. Cloning gives another handle
/// to the same stack. When the last handle, listener and stream are gone,
/// the connections left still send what was queued and close (as a
/// kernel's do after `close`), and then the driver stops.
#[derive(Clone)]
pub struct NetStack {
    owner: Arc<Owner>,
}

/// A handle that does not keep a [`NetStack`] alive: what a writer should
/// hold to feed another stack (two stacks holding strong handles to each
/// other would never stop).
#[derive(Clone)]
pub struct WeakNetStack(Weak<Shared>);

impl WeakNetStack {
    /// Like [`NetStack::handle_packet`]; does nothing once the stack is
    /// gone.
    pub fn handle_packet(&self, src: IpAddr, dst: IpAddr, segment: &[u8]) {
        if let Some(s) = self.0.upgrade() {
            s.handle_packet(src, dst, segment);
        }
    }

    /// Like [`NetStack::handle_packets`]; does nothing once the stack is
    /// gone.
    pub fn handle_packets<'p>(
        &self,
        packets: impl IntoIterator<Item = (IpAddr, IpAddr, &'p [u8])>,
    ) {
        if let Some(s) = self.0.upgrade() {
            s.handle_packets(packets);
        }
    }

    /// Like [`NetStack::with_stack`]; `None` once the stack is gone.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack, Duration) -> R) -> Option<R> {
        self.0.upgrade().map(|s| s.with_stack(f))
    }
}

impl NetStack {
    /// A stack with these local addresses (used to pick the source address
    /// of outgoing connections and to check the addresses listeners bind
    /// to), sending through `writer` with the default [`OutboxLimits`].
    /// Starts the driver thread and the writer thread.
    pub fn new(
        cfg: StackConfig,
        addrs: impl IntoIterator<Item = IpAddr>,
        writer: impl SegmentWriter,
    ) -> io::Result<Self> {
        Self::with_outbox(cfg, addrs, writer, OutboxLimits::default())
    }

    /// [`NetStack::new`] with an outbox of these bounds: what the stack
    /// has sent and `writer` has not yet taken holds at most
    /// `limits.segments` segments and `limits.bytes` bytes; there the
    /// stack pauses until the writer thread has written half of it.
    pub fn with_outbox(
        cfg: StackConfig,
        addrs: impl IntoIterator<Item = IpAddr>,
        writer: impl SegmentWriter,
        limits: OutboxLimits,
    ) -> io::Result<Self> {
        let out = Arc::new(Output {
            outbox: Mutex::new(Outbox {
                queue: Vec::new(),
                limits,
                segments: 0,
                bytes: 0,
                spare: Vec::new(),
                spare_bytes: 0,
                awake: false,
                closed: false,
                paused: false,
                written: 0,
                full: 0,
                batches: 0,
            }),
            ready: Condvar::new(),
            writer: Box::new(writer),
            full: AtomicBool::new(false),
            stack: OnceLock::new(),
        });
        // The writer thread first: should the driver's fail to start, the
        // stack is dropped and this one ends.
        let output = Arc::clone(&out);
        std::thread::Builder::new()
            .name("vtcp-writer".into())
            .spawn(move || output.run())?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                sockets: Sockets::new(Stack::new(cfg), addrs),
                scratch: Vec::new(),
                driver_deadline: None,
                driver_woken: false,
                closed: false,
                waiters: Waiters::default(),
            }),
            timer: Condvar::new(),
            out,
            epoch: Instant::now(),
            started: std::time::SystemTime::now(),
            wakeups: AtomicU64::new(0),
        });
        let _ = shared.out.stack.set(Arc::downgrade(&shared));
        let driver = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("vtcp-driver".into())
            .spawn(move || driver.drive())?;
        Ok(Self {
            owner: Arc::new(Owner(shared)),
        })
    }

    /// Two stacks joined by a perfect link, for tests, benchmarks and
    /// examples: each one's writer (on its writer thread) hands its
    /// segments straight to the other's `handle_packet` (through a
    /// [`WeakNetStack`], so neither keeps the other alive). `link` sees
    /// every segment (source, destination, bytes) and says whether it gets
    /// through.
    pub fn back_to_back(
        a: (StackConfig, IpAddr),
        b: (StackConfig, IpAddr),
        link: impl Fn(IpAddr, IpAddr, &[u8]) -> bool + Send + Sync + 'static,
    ) -> io::Result<(Self, Self)> {
        let link = Arc::new(link);
        let to_b: Arc<std::sync::OnceLock<WeakNetStack>> = Arc::default();
        let to_a: Arc<std::sync::OnceLock<WeakNetStack>> = Arc::default();
        let writer = |to: Arc<std::sync::OnceLock<WeakNetStack>>| {
            let link = Arc::clone(&link);
            move |src: IpAddr, dst: IpAddr, segment: &[u8]| {
                if link(src, dst, segment)
                    && let Some(peer) = to.get()
                {
                    peer.handle_packet(src, dst, segment);
                }
            }
        };
        let stack_a = Self::new(a.0, [a.1], writer(Arc::clone(&to_b)))?;
        let stack_b = Self::new(b.0, [b.1], writer(Arc::clone(&to_a)))?;
        let _ = to_b.set(stack_b.downgrade());
        let _ = to_a.set(stack_a.downgrade());
        Ok((stack_a, stack_b))
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.owner.0
    }

    /// Takes in one TCP segment that arrived from `src` for `dst` (from
    /// your IP layer). The replies and data it releases are queued for the
    /// writer thread: this never calls the writer, and never waits for it.
    pub fn handle_packet(&self, src: IpAddr, dst: IpAddr, segment: &[u8]) {
        self.shared().handle_packet(src, dst, segment);
    }

    /// Takes in a batch of TCP segments, each `(src, dst, segment)`, in
    /// order, under one acquisition of the stack's lock, then queues what
    /// they released and wakes the threads they concern once: the same
    /// result as [`NetStack::handle_packet`] on each in turn, for less
    /// locking and fewer wakeups (what a reader that drains its device
    /// in batches wants).
    pub fn handle_packets<'p>(
        &self,
        packets: impl IntoIterator<Item = (IpAddr, IpAddr, &'p [u8])>,
    ) {
        self.shared().handle_packets(packets);
    }

    /// [`NetStack::handle_packets`] with each segment's [`crate::Checksum`]:
    /// those `Verified` (by the caller, which summed them to coalesce
    /// them, or by the link that vouches for them) are taken as they are
    /// ([`Stack::handle_verified_packet`]), the others verified by the
    /// stack as always; and with the ECN field its IP header carried
    /// ([`Stack::handle_packet_ecn`]).
    pub fn handle_packets_checked<'p>(
        &self,
        packets: impl IntoIterator<Item = (IpAddr, IpAddr, &'p [u8], crate::Checksum, EcnCodepoint)>,
    ) {
        self.shared().handle_packets_checked(packets);
    }

    /// What the outbox holds now and has done so far; its `full` counts
    /// the times the stack paused its sending because the writer thread
    /// was the bottleneck, or blocked (nothing is dropped).
    pub fn outbox(&self) -> OutboxStats {
        self.shared().out.lock().stats()
    }

    /// A handle that does not keep the stack alive.
    pub fn downgrade(&self) -> WeakNetStack {
        WeakNetStack(Arc::downgrade(self.shared()))
    }

    /// Threads and tasks this stack woke so far: each was waiting on a
    /// connection or a listener that changed (a segment, a timer, another
    /// handle's call), never on the stack as a whole, so a segment wakes
    /// the waiters of its own connection only.
    pub fn wakeups(&self) -> u64 {
        self.shared().wakeups.load(Ordering::Relaxed)
    }

    /// The stack's counters.
    pub fn counters(&self) -> Counters {
        self.shared().lock().sockets.stack().counters().clone()
    }

    /// Connections held, in any state (closing ones included).
    pub fn connections(&self) -> usize {
        self.shared().lock().sockets.stack().connections()
    }

    /// Runs `f` on the stack itself (for what the handles do not offer),
    /// then queues what it has to send for the writer thread. `now` is
    /// the stack's clock.
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut Stack, Duration) -> R) -> R {
        self.shared().with_stack(f)
    }

    /// Sets (or with `None` removes) the tap that sees every segment in
    /// and out ([`Stack::set_tap`]); returns the one it replaces. For a
    /// capture stamped with wall-clock times, give
    /// `PcapWriter::starting_at` the [`NetStack::start_time`].
    pub fn set_tap(&self, tap: Option<Box<dyn crate::Tap>>) -> Option<Box<dyn crate::Tap>> {
        self.shared().lock().sockets.stack_mut().set_tap(tap)
    }

    /// The wall-clock time at which this stack's clock read zero, read
    /// once when the stack was made: every call gives the same time,
    /// whatever the wall clock did since (it may be stepped or slewed;
    /// the stack's clock is monotonic).
    pub fn start_time(&self) -> std::time::SystemTime {
        self.shared().started
    }
}

fn err(e: StackError) -> io::Error {
    e.into()
}

fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

fn check_timeout(timeout: Option<Duration>) -> io::Result<()> {
    if timeout == Some(Duration::ZERO) {
        // As std::net: a zero timeout is refused rather than meaning
        // "never wait".
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            StackError::InvalidInput,
        ));
    }
    Ok(())
}

/// A listening socket, as `std::net::TcpListener`.
pub struct TcpListener {
    net: NetStack,
    /// Its socket in the stack's table.
    socket: SocketId,
    id: ListenerId,
}

impl TcpListener {
    /// Listens on `addr` with a backlog of 128. The address must be one of
    /// the stack's or unspecified; port 0 takes a free port.
    pub fn bind(net: &NetStack, addr: SocketAddr) -> io::Result<Self> {
        Self::bind_with_backlog(net, addr, 128)
    }

    /// Listens with at most `backlog` half-open connections (SYN cookies
    /// answer beyond it) and as many waiting to be accepted.
    pub fn bind_with_backlog(net: &NetStack, addr: SocketAddr, backlog: usize) -> io::Result<Self> {
        Self::open(net, |sockets, socket| {
            sockets.bind(socket, addr)?;
            sockets.listen(socket, backlog)
        })
    }

    /// Listens transparently: connections to any address and port that
    /// no other listener takes ([`Stack::listen_transparent`]); each
    /// stream's [`TcpStream::local_addr`] is where its peer meant to go.
    /// Give the stack's IP layer every destination, not only its own
    /// addresses (as `vtcp_tun::IpStack::transparent` does).
    pub fn bind_transparent(net: &NetStack, backlog: usize) -> io::Result<Self> {
        Self::open(net, |sockets, socket| {
            sockets.listen_transparent(socket, backlog)
        })
    }

    /// A new socket made to listen by `listen` (closed again if it
    /// fails).
    fn open(
        net: &NetStack,
        listen: impl FnOnce(&mut Sockets, SocketId) -> io::Result<ListenerId>,
    ) -> io::Result<Self> {
        let mut g = net.shared().lock();
        let socket = g.sockets.open();
        match listen(&mut g.sockets, socket) {
            Ok(id) => Ok(Self {
                net: net.clone(),
                socket,
                id,
            }),
            Err(e) => {
                g.sockets.close(socket);
                Err(e)
            }
        }
    }

    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.id.local_addr())
    }

    /// Waits for an established connection.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept_until(None)
            .map(|s| s.expect("no deadline was given"))
    }

    /// Waits at most `timeout` for an established connection; `Ok(None)`
    /// when none came.
    pub fn accept_timeout(&self, timeout: Duration) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        self.accept_until(Some(Instant::now() + timeout))
    }

    fn accept_until(
        &self,
        deadline: Option<Instant>,
    ) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        let shared = self.net.shared();
        let mut g = shared.lock();
        loop {
            if let Some(accepted) = ready(g.sockets.accept(self.socket)) {
                let (socket, key) = accepted?;
                let stream = TcpStream::from_socket(&self.net, socket, key);
                shared.release(g, shared.now());
                return Ok(Some((stream, key.remote)));
            }
            let (g2, in_time) = shared.wait(g, Target::Listener(self.id), deadline);
            g = g2;
            if !in_time {
                return Ok(None);
            }
        }
    }

    /// One look for an established connection: `WouldBlock` when none
    /// waits (the async listener's poll).
    #[cfg(feature = "tokio")]
    pub(crate) fn try_accept(
        &self,
        g: &mut MutexGuard<'_, Inner>,
    ) -> io::Result<(TcpStream, SocketAddr)> {
        let (socket, key) = g.sockets.accept(self.socket)?;
        Ok((TcpStream::from_socket(&self.net, socket, key), key.remote))
    }

    /// The connections as they come, as `std::net::TcpListener::incoming`.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(|| self.accept().map(|(s, _)| s))
    }

    /// The stack it listens on.
    pub fn net(&self) -> &NetStack {
        &self.net
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn id(&self) -> ListenerId {
        self.id
    }
}

impl Drop for TcpListener {
    /// Stops listening; connections nobody accepted are reset.
    fn drop(&mut self) {
        let socket = self.socket;
        self.net
            .shared()
            .change(None, |sockets, _| sockets.close(socket));
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.id.local_addr())
            .finish()
    }
}

pub(crate) struct StreamInner {
    pub(crate) net: NetStack,
    /// Its socket in the stack's table.
    pub(crate) socket: SocketId,
    /// Its connection (what its waiters wait on).
    pub(crate) key: ConnKey,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
}

impl Drop for StreamInner {
    /// As closing a socket ([`Sockets::close`]): FIN after the queued
    /// data (RST when unread data is left, RFC 9293 §3.10.4), and the
    /// stack forgets the connection once it has closed.
    fn drop(&mut self) {
        let socket = self.socket;
        self.net
            .shared()
            .change(Some(self.key), |sockets, _| sockets.close(socket));
        self.net
            .shared()
            .lock()
            .waiters
            .forget(Target::Conn(self.key));
    }
}

/// A connection, as `std::net::TcpStream`. Not `Clone`, as std's: a
/// second handle is asked for with [`TcpStream::try_clone`], and the
/// handles share the connection, which closes when the last one is
/// dropped.
pub struct TcpStream {
    pub(crate) inner: Arc<StreamInner>,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.inner.key.local)
            .field("peer", &self.inner.key.remote)
            .finish()
    }
}

impl TcpStream {
    pub(crate) fn from_socket(net: &NetStack, socket: SocketId, key: ConnKey) -> Self {
        Self {
            inner: Arc::new(StreamInner {
                net: net.clone(),
                socket,
                key,
                read_timeout: Mutex::new(None),
                write_timeout: Mutex::new(None),
            }),
        }
    }

    /// Opens a connection to `addr` and waits until it is established, or
    /// refused, or the SYN retries run out.
    pub fn connect(net: &NetStack, addr: SocketAddr) -> io::Result<Self> {
        let s = Self::begin_connect(net, addr)?;
        s.wait_established(None)?;
        Ok(s)
    }

    /// Like [`TcpStream::connect`], giving up after `timeout`
    /// (`TimedOut`; the half-open connection is dropped).
    pub fn connect_timeout(
        net: &NetStack,
        addr: SocketAddr,
        timeout: Duration,
    ) -> io::Result<Self> {
        check_timeout(Some(timeout))?;
        let s = Self::begin_connect(net, addr)?;
        s.wait_established(Some(timeout))?;
        Ok(s)
    }

    /// Sends the SYN and returns at once, in SYN-SENT; writes made now are
    /// sent once the connection is established.
    /// [`TcpStream::wait_established`] waits for it.
    pub fn begin_connect(net: &NetStack, addr: SocketAddr) -> io::Result<Self> {
        let shared = net.shared();
        let (mut g, now) = shared.lock_now();
        let socket = g.sockets.open();
        let key = match g.sockets.connect(socket, now, addr) {
            Ok(key) => key,
            Err(e) => {
                g.sockets.close(socket);
                return Err(e);
            }
        };
        let stream = Self::from_socket(net, socket, key);
        shared.release(g, now);
        Ok(stream)
    }

    /// Waits until the handshake completes, for at most `timeout` (`TimedOut` after it).
    pub fn wait_established(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.wait_for(timeout, StackError::TimedOut, |sockets, socket| {
            sockets.poll_connected(socket)
        })
    }

    /// Tries `call` on the socket until it no longer would block, waiting
    /// on the connection in between, for at most `timeout` (then
    /// `expired`); the stack's output settles after a call that did
    /// something.
    fn wait_for<R>(
        &self,
        timeout: Option<Duration>,
        expired: StackError,
        mut call: impl FnMut(&mut Sockets, SocketId) -> io::Result<R>,
    ) -> io::Result<R> {
        let deadline = deadline_after(timeout);
        let shared = self.inner.net.shared();
        let mut g = shared.lock();
        loop {
            if let Some(done) = ready(call(&mut g.sockets, self.inner.socket)) {
                shared.release(g, shared.now());
                return done;
            }
            let (g2, in_time) = shared.wait(g, Target::Conn(self.inner.key), deadline);
            g = g2;
            if !in_time {
                return Err(err(expired));
            }
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.inner.key.remote)
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.inner.key.local)
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.with_conn(Conn::state).unwrap_or(State::Closed)
    }

    /// The connection's statistics (RTT, cwnd, retransmissions, …).
    pub fn stats(&self) -> io::Result<Stats> {
        self.with_conn(Conn::stats)
    }

    /// Turns Nagle's algorithm off (`true`) or on again, as
    /// `std::net::TcpStream::set_nodelay`: data held for an ACK goes at
    /// once.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let shared = self.inner.net.shared();
        let mut g = shared.lock();
        g.sockets.conn_mut(self.inner.socket)?.set_nodelay(nodelay);
        shared.release(g, shared.now());
        Ok(())
    }

    /// Whether Nagle's algorithm is off ([`TcpStream::set_nodelay`]).
    pub fn nodelay(&self) -> io::Result<bool> {
        self.with_conn(|c| c.nodelay())
    }

    /// Sets the hop limit (IPv4 TTL, IPv6 Hop Limit) of this connection's
    /// segments from now on, as `std::net::TcpStream::set_ttl`; the
    /// [`SegmentWriter`] writes it (RFC 9293 MUST-49). At most 255.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = u8::try_from(ttl).map_err(|_| err(StackError::InvalidInput))?;
        let mut g = self.inner.net.shared().lock();
        let mut ip = g.sockets.ip_fields(self.inner.socket)?;
        g.sockets.conn(self.inner.socket)?;
        ip.hop_limit = Some(ttl);
        g.sockets.set_ip_fields(self.inner.socket, ip)
    }

    /// The hop limit of this connection's segments ([`TcpStream::set_ttl`]);
    /// the IP layer's default, 64, unless set.
    pub fn ttl(&self) -> io::Result<u32> {
        self.with_conn(|c| u32::from(c.hop_limit().unwrap_or(crate::DEFAULT_HOP_LIMIT)))
    }

    /// The connection's error, once, as `std::net::TcpStream::take_error`
    /// (`SO_ERROR`): `None` if it has not failed, or was reported by this
    /// call already.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self
            .inner
            .net
            .shared()
            .lock()
            .sockets
            .take_error(self.inner.socket))
    }

    /// Reads the connection under the stack's lock.
    fn with_conn<R>(&self, f: impl FnOnce(&Conn) -> R) -> io::Result<R> {
        let g = self.inner.net.shared().lock();
        g.sockets.conn(self.inner.socket).map(f)
    }

    /// Another handle to the same connection, as
    /// `std::net::TcpStream::try_clone` (it cannot fail here: the result
    /// is a `Result` for std's shape).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            inner: Arc::clone(&self.inner),
        })
    }

    /// How long a read waits for data (`None`: forever); past it, reads
    /// fail with `WouldBlock`, as `std::net` on Unix. A zero duration is
    /// refused.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        *self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = timeout;
        Ok(())
    }

    /// How long a write waits for room in the send buffer.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        *self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = timeout;
        Ok(())
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self
            .inner
            .read_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(*self
            .inner
            .write_timeout
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Shuts down one or both halves ([`Sockets::shutdown`]): `Write`
    /// sends FIN after the queued data (the peer reads end of file; we
    /// can still read), `Read` makes our reads return end of file.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let socket = self.inner.socket;
        self.inner
            .net
            .shared()
            .change(Some(self.inner.key), |sockets, _| {
                sockets.shutdown(socket, how)
            })
    }

    /// Resets the connection at once (RST), discarding queued data.
    pub fn abort(&self) {
        let socket = self.inner.socket;
        self.inner
            .net
            .shared()
            .change(Some(self.inner.key), |sockets, _| sockets.abort(socket));
    }

    /// Reads without taking the data: the next read gets it again, as
    /// `std::net::TcpStream::peek` (`MSG_PEEK`); waits as a read does.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(buf, true)
    }

    fn receive(&self, buf: &mut [u8], peek: bool) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let timeout = self.read_timeout()?;
        self.wait_for(timeout, StackError::DeadlineExceeded, |sockets, socket| {
            // The read may open the window enough to announce it.
            if peek {
                sockets.peek(socket, buf)
            } else {
                sockets.read(socket, buf)
            }
        })
    }

    fn write_inner(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let timeout = self.write_timeout()?;
        self.wait_for(timeout, StackError::DeadlineExceeded, |sockets, socket| {
            sockets.write(socket, buf)
        })
    }

    fn read_inner(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(buf, false)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }

    /// Data is with the engine once `write` returns; it sends it as the
    /// windows allow, so there is nothing to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
