//! The lab's packet relay: one [`Line`] per direction carries whole IP
//! packets from one end to the other through vtcp-sim's link model
//! ([`vtcp_sim::Channel`]) on the wall clock: random and bursty loss,
//! reordering, duplication, added delay, a rate limit, all from one seed.
//! A [`Tap`] records every packet a line is given, as a raw-IP pcap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vtcp::pcap::PcapWriter;
use vtcp_sim::{Channel, Link, Rng};

/// A link with no impairment and no rate limit: what a relay does unless
/// a scenario asks for more.
pub fn clear_link() -> Link {
    {
        let mut config = Link::default();
        config.bandwidth_bps = u64::MAX / 1_000_000_000;
        config.delay = Duration::ZERO;
        config.queue_packets = usize::MAX;
        config
    }
}

type Deliver = dyn Fn(&[u8]) + Send + Sync;

struct State {
    channel: Channel,
    rng: Rng,
    /// Packets on the wire: (arrival, order sent, bytes).
    wire: BinaryHeap<Reverse<(Duration, u64, Vec<u8>)>>,
    sent: u64,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    due: Condvar,
    deliver: Box<Deliver>,
    tap: Option<Tap>,
    epoch: Instant,
    /// Nothing delays: packets are delivered on the sender's thread, in
    /// order, without a thread hop.
    inline: bool,
}

/// One direction of the relay.
pub struct Line {
    shared: Arc<Shared>,
    clock: Option<JoinHandle<()>>,
}

impl Line {
    /// A line over `link` whose random choices come from `seed`, handing
    /// what arrives to `deliver`, recording what it is given in `tap`.
    pub fn new(
        link: Link,
        seed: u64,
        tap: Option<Tap>,
        deliver: impl Fn(&[u8]) + Send + Sync + 'static,
    ) -> Self {
        let inline = link.delay.is_zero()
            && link.jitter.is_zero()
            && link.bandwidth_bps >= clear_link().bandwidth_bps;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                channel: Channel::new(link),
                rng: Rng::new(seed),
                wire: BinaryHeap::new(),
                sent: 0,
                closed: false,
            }),
            due: Condvar::new(),
            deliver: Box::new(deliver),
            tap,
            epoch: Instant::now(),
            inline,
        });
        let clock = (!inline).then(|| {
            let s = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("vtcp-lab-line".into())
                .spawn(move || s.run_clock())
                .expect("a thread for the relay")
        });
        Self { shared, clock }
    }

    /// Puts a packet on the line.
    pub fn send(&self, packet: &[u8]) {
        let s = &self.shared;
        if let Some(tap) = &s.tap {
            tap.record(packet);
        }
        let mut copy = packet.to_vec();
        let now = s.epoch.elapsed();
        let mut st = s.state.lock().unwrap();
        let State { channel, rng, .. } = &mut *st;
        let arrivals = channel.send(now, &mut copy, rng);
        if s.inline {
            drop(st);
            for _ in arrivals {
                (s.deliver)(&copy);
            }
            return;
        }
        for at in arrivals {
            st.sent += 1;
            let order = st.sent;
            st.wire.push(Reverse((at, order, copy.clone())));
        }
        drop(st);
        s.due.notify_one();
    }

    /// Packets dropped by the queue, lost, and corrupted so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        self.shared.state.lock().unwrap().channel.counts()
    }

    /// Packets that never arrived: dropped by the queue or lost.
    pub fn lost(&self) -> u64 {
        let (queue, lost, _) = self.counts();
        queue + lost
    }
}

impl Shared {
    fn run_clock(&self) {
        let mut st = self.state.lock().unwrap();
        loop {
            if st.closed {
                return;
            }
            let now = self.epoch.elapsed();
            match st.wire.peek() {
                Some(Reverse((at, _, _))) if *at <= now => {
                    let Some(Reverse((_, _, p))) = st.wire.pop() else {
                        continue;
                    };
                    drop(st);
                    (self.deliver)(&p);
                    st = self.state.lock().unwrap();
                }
                Some(Reverse((at, _, _))) => {
                    let wait = *at - now;
                    st = self.due.wait_timeout(st, wait).unwrap().0;
                }
                None => st = self.due.wait(st).unwrap(),
            }
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap().closed = true;
        self.shared.due.notify_all();
        if let Some(c) = self.clock.take() {
            let _ = c.join();
        }
    }
}

/// A pcap file of raw IP packets (LINKTYPE_RAW, IPv4 and IPv6, written by
/// the stack's [`PcapWriter`]), shared by the lines that record into it.
/// Each record is stamped with the wall clock.
#[derive(Clone)]
pub struct Tap {
    file: Arc<Mutex<PcapWriter<BufWriter<File>>>>,
    tcp_only: bool,
}

impl Tap {
    /// Creates the file and writes the pcap header; the tap records every
    /// packet.
    pub fn create(path: &Path) -> io::Result<Self> {
        Self::new(path, false)
    }

    /// Like [`Tap::create`], recording only TCP segments (not the IPv6
    /// router solicitations and MLD reports a kernel sends on a new
    /// interface): what test vectors want.
    pub fn tcp_only(path: &Path) -> io::Result<Self> {
        Self::new(path, true)
    }

    fn new(path: &Path, tcp_only: bool) -> io::Result<Self> {
        let w = PcapWriter::new(BufWriter::new(File::create(path)?))?;
        Ok(Self {
            file: Arc::new(Mutex::new(w)),
            tcp_only,
        })
    }

    /// Records one packet.
    pub fn record(&self, packet: &[u8]) {
        if self.tcp_only && ip_protocol(packet) != Some(6) {
            return;
        }
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // A write error shows as a short capture; the run goes on.
        let _ = self.file.lock().unwrap().write_packet(t, packet);
    }

    /// Writes out what is buffered.
    pub fn flush(&self) -> io::Result<()> {
        vtcp::Tap::finish(&mut *self.file.lock().unwrap())
    }
}

/// The protocol a packet carries directly after its fixed IP header (IPv4
/// protocol, IPv6 next header).
fn ip_protocol(packet: &[u8]) -> Option<u8> {
    match packet.first()? >> 4 {
        4 => packet.get(9).copied(),
        6 => packet.get(6).copied(),
        _ => None,
    }
}

/// A packet's destination address (IPv4 or IPv6), if it has a whole
/// fixed header.
pub fn ip_destination(packet: &[u8]) -> Option<IpAddr> {
    match packet.first()? >> 4 {
        4 => {
            let a: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(a)))
        }
        6 => {
            let a: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}
