//! The IP layer as a stack: [`IpStack`] is a [`NetStack`] that takes and
//! gives whole IPv4 and IPv6 packets through functions of the caller's,
//! with counters of what it saw and did. Portable: it knows nothing of
//! the device the packets come from, so a VPN on Android, macOS, iOS or
//! Windows (which get packets from their platform's API) or a test rig
//! can use it as [`TunDriver`](crate::TunDriver) does on Linux.
//!
//! What comes in is taken apart (`ip::classify`), coalesced per flow
//! (`gro`) and handed to the stack a batch at a time; what the stack sends
//! is wrapped in IP on its writer thread and handed to the caller's
//! function. Echo requests are answered, ICMP and ICMPv6 errors that
//! quote our segments go to the stack ([`vtcp::Stack::handle_icmp`]:
//! RFC 5927's checks, path MTU, hard and soft errors), UDP goes to the
//! application's handler if it set one, and every packet dropped is
//! counted by its reason.

use std::cell::RefCell;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use vtcp::icmp::{IcmpDelivery, IcmpReport};
use vtcp::{IpFields, NetStack, SegmentWriter, StackConfig, WeakNetStack};

use crate::gro::{Gro, GroInput};
use crate::ip::{self, DropReason, Inbound, Local};
use crate::udp::{self, Datagram, Parsed, UdpSender};

/// What the driver saw and did, as `ip -s link` and `netstat -s` give it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverCounters {
    /// Packets read from the device.
    pub packets_in: u64,
    /// Packets written to the device (segments and echo replies).
    pub packets_out: u64,
    /// TCP segments for the stack, as read (before receive coalescing
    /// merges some: the stack is handed `segments_in - gro_merged`).
    pub segments_in: u64,
    /// Echo requests answered.
    pub echo_replies: u64,
    /// ICMP and ICMPv6 errors a connection accepted (path MTU, hard and
    /// soft errors: [`vtcp::Stack::handle_icmp`]).
    pub icmp_accepted: u64,
    /// ICMP and ICMPv6 errors that named no connection or quoted a
    /// sequence number not in flight (RFC 5927 §4.1).
    pub icmp_ignored: u64,
    /// Packets dropped as malformed.
    pub dropped_malformed: u64,
    /// Fragments dropped.
    pub dropped_fragments: u64,
    /// Packets for addresses that are not ours.
    pub dropped_not_ours: u64,
    /// Packets of other protocols than TCP and ICMP.
    pub dropped_protocol: u64,
    /// ICMP messages of no use to the stack.
    pub dropped_icmp: u64,
    /// Writes to the device that failed (the packet is lost, as on a wire).
    pub write_errors: u64,
    /// Packets dropped for a virtio-net header that does not fit them
    /// ([`crate::vnet::parse`]'s refusals; offloads only).
    pub dropped_vnet_header: u64,
    /// TCP segments merged into the one before them by receive
    /// coalescing ([`crate::gro`]): the stack was handed
    /// `segments_in - gro_merged` segments.
    pub gro_merged: u64,
    /// TCP segments whose checksum the kernel vouched for (a virtio-net
    /// header's NEEDS_CSUM or DATA_VALID): neither completed nor
    /// verified.
    pub checksums_trusted: u64,
    /// Super-segments handed to the device whole, for it to cut (TSO);
    /// each counts once in `packets_out` too.
    pub super_segments_out: u64,
    /// UDP datagrams handed to the UDP handler
    /// ([`IpStack::set_udp_handler`]); without one, UDP counts in
    /// `dropped_protocol` or `dropped_not_ours`.
    pub udp_in: u64,
    /// UDP datagrams written through a [`crate::udp::UdpSender`]; each
    /// counts once in `packets_out` too.
    pub udp_out: u64,
}

impl std::ops::AddAssign<&Self> for DriverCounters {
    /// Adds another driver's counters, field by field (the sum over the
    /// queues of one device).
    fn add_assign(&mut self, o: &Self) {
        // Destructured, so that a field added later cannot be missed.
        let Self {
            packets_in,
            packets_out,
            segments_in,
            echo_replies,
            icmp_accepted,
            icmp_ignored,
            dropped_malformed,
            dropped_fragments,
            dropped_not_ours,
            dropped_protocol,
            dropped_icmp,
            write_errors,
            dropped_vnet_header,
            gro_merged,
            checksums_trusted,
            super_segments_out,
            udp_in,
            udp_out,
        } = o;
        self.packets_in += packets_in;
        self.packets_out += packets_out;
        self.segments_in += segments_in;
        self.echo_replies += echo_replies;
        self.icmp_accepted += icmp_accepted;
        self.icmp_ignored += icmp_ignored;
        self.dropped_malformed += dropped_malformed;
        self.dropped_fragments += dropped_fragments;
        self.dropped_not_ours += dropped_not_ours;
        self.dropped_protocol += dropped_protocol;
        self.dropped_icmp += dropped_icmp;
        self.write_errors += write_errors;
        self.dropped_vnet_header += dropped_vnet_header;
        self.gro_merged += gro_merged;
        self.checksums_trusted += checksums_trusted;
        self.super_segments_out += super_segments_out;
        self.udp_in += udp_in;
        self.udp_out += udp_out;
    }
}

#[derive(Default)]
pub(crate) struct Counts([AtomicU64; 18]);

impl Counts {
    pub(crate) const IN: usize = 0;
    pub(crate) const OUT: usize = 1;
    const SEGMENTS: usize = 2;
    const ECHO: usize = 3;
    const ICMP_ACCEPTED: usize = 4;
    const ICMP_IGNORED: usize = 5;
    pub(crate) const WRITE_ERRORS: usize = 11;
    pub(crate) const DROPPED_VNET: usize = 12;
    const GRO_MERGED: usize = 13;
    const TRUSTED: usize = 14;
    const SUPER: usize = 15;
    const UDP_IN: usize = 16;
    pub(crate) const UDP_OUT: usize = 17;

    pub(crate) fn bump(&self, i: usize) {
        self.add(i, 1);
    }

    fn add(&self, i: usize, n: u64) {
        if n > 0 {
            self.0[i].fetch_add(n, Ordering::Relaxed);
        }
    }

    fn dropped(&self, why: DropReason) {
        self.bump(match why {
            DropReason::Malformed => 6,
            DropReason::Fragment => 7,
            DropReason::NotOurs => 8,
            DropReason::Protocol => 9,
            _ => 10,
        });
    }

    fn snapshot(&self) -> DriverCounters {
        let g = |i: usize| self.0[i].load(Ordering::Relaxed);
        DriverCounters {
            packets_in: g(Self::IN),
            packets_out: g(Self::OUT),
            segments_in: g(Self::SEGMENTS),
            echo_replies: g(Self::ECHO),
            icmp_accepted: g(Self::ICMP_ACCEPTED),
            icmp_ignored: g(Self::ICMP_IGNORED),
            dropped_malformed: g(6),
            dropped_fragments: g(7),
            dropped_not_ours: g(8),
            dropped_protocol: g(9),
            dropped_icmp: g(10),
            write_errors: g(Self::WRITE_ERRORS),
            dropped_vnet_header: g(Self::DROPPED_VNET),
            gro_merged: g(Self::GRO_MERGED),
            checksums_trusted: g(Self::TRUSTED),
            super_segments_out: g(Self::SUPER),
            udp_in: g(Self::UDP_IN),
            udp_out: g(Self::UDP_OUT),
        }
    }

    fn send(&self, out: &PacketOut, packet: &[u8]) {
        match out(packet) {
            Ok(()) => self.bump(Self::OUT),
            Err(_) => self.bump(Self::WRITE_ERRORS),
        }
    }
}

/// Where an [`IpStack`] sends whole IP packets (a device, a relay).
pub type PacketOut = dyn Fn(&[u8]) -> io::Result<()> + Send + Sync;

/// Where an [`IpStack`] sends a super-segment in one IP packet, for the
/// device to cut into segments (TCP segmentation offload): the IP
/// header, the TCP super-segment that follows it, and the payload of each
/// segment ([`vtcp::Transmit::segment_size`]). The TCP checksum field
/// holds the pseudo-header's sum, as virtio-net's `NEEDS_CSUM` wants it.
pub type SuperOut = dyn Fn(&[u8], &[u8], usize) -> io::Result<()> + Send + Sync;

/// The [`IpStack`]'s segment writer: frames each segment in IP, with the
/// hop limit and traffic class its connection asks for, and sends it; a
/// super-segment whole where the device cuts it, else cut here.
struct Framer {
    out: Arc<PacketOut>,
    out_super: Option<Arc<SuperOut>>,
    counts: Arc<Counts>,
}

impl SegmentWriter for Framer {
    fn write_segment(&self, src: IpAddr, dst: IpAddr, segment: &[u8]) {
        self.write_segment_with(src, dst, IpFields::default(), segment);
    }

    fn write_segment_with(&self, src: IpAddr, dst: IpAddr, fields: IpFields, segment: &[u8]) {
        with_scratch(|buf| {
            if ip::wrap_tcp_with(src, dst, fields, segment, buf) {
                self.counts.send(&*self.out, buf);
            } else {
                self.counts.bump(Counts::WRITE_ERRORS);
            }
        });
    }

    fn write_super_segment(
        &self,
        src: IpAddr,
        dst: IpAddr,
        fields: IpFields,
        segment: &[u8],
        segment_size: usize,
    ) {
        let Some(out_super) = &self.out_super else {
            // No offload: cut here, each piece framed on its own.
            if !vtcp::cut_super_segment(self, src, dst, fields, segment, segment_size) {
                self.counts.bump(Counts::WRITE_ERRORS);
            }
            return;
        };
        with_scratch(|header| {
            if vtcp::ip::ip_header(src, dst, fields, segment.len(), header) {
                match out_super(header, segment, segment_size) {
                    Ok(()) => {
                        self.counts.bump(Counts::OUT);
                        self.counts.bump(Counts::SUPER);
                    }
                    Err(_) => self.counts.bump(Counts::WRITE_ERRORS),
                }
            } else {
                self.counts.bump(Counts::WRITE_ERRORS);
            }
        });
    }
}

/// A [`NetStack`] with an IP layer: whole IPv4 and IPv6 packets in
/// ([`IpStack::handle_ip`]), whole packets out through the function it was
/// made with. [`TunDriver`](crate::TunDriver) (Linux) is one on a device; the interop lab puts one
/// behind its impairing relay.
#[derive(Clone)]
pub struct IpStack {
    net: NetStack,
    addrs: Arc<[IpAddr]>,
    transparent: bool,
    /// The stack verifies checksums ([`StackConfig::checksums`]); when
    /// it does not, neither does receive coalescing.
    verify: bool,
    pub(crate) counts: Arc<Counts>,
    out: Arc<PacketOut>,
    /// The stacks that share its interface ([`IpStack::share_path_mtu`]).
    peers: Arc<OnceLock<Vec<WeakNetStack>>>,
    /// Where UDP goes ([`IpStack::set_udp_handler`]).
    udp: Arc<OnceLock<Arc<UdpHandler>>>,
}

/// What an [`IpStack`] hands every UDP datagram it reads to
/// ([`IpStack::set_udp_handler`]).
pub type UdpHandler = dyn Fn(Datagram<'_>) + Send + Sync;

impl IpStack {
    /// A stack with these addresses sending through `out`.
    pub fn new(
        cfg: StackConfig,
        addrs: &[IpAddr],
        out: impl Fn(&[u8]) -> io::Result<()> + Send + Sync + 'static,
    ) -> io::Result<Self> {
        Self::build(cfg, addrs, Arc::new(out), None)
    }

    /// A stack with these addresses sending through `out`, and its
    /// super-segments (TCP segmentation offload: `cfg.max_segment`, which
    /// this sets to 65,535 when it is 0) whole through `out_super`, for
    /// the device to cut.
    pub fn new_offloaded(
        mut cfg: StackConfig,
        addrs: &[IpAddr],
        out: impl Fn(&[u8]) -> io::Result<()> + Send + Sync + 'static,
        out_super: impl Fn(&[u8], &[u8], usize) -> io::Result<()> + Send + Sync + 'static,
    ) -> io::Result<Self> {
        if cfg.max_segment == 0 {
            cfg.max_segment = 65_535;
        }
        Self::build(cfg, addrs, Arc::new(out), Some(Arc::new(out_super)))
    }

    fn build(
        cfg: StackConfig,
        addrs: &[IpAddr],
        out: Arc<PacketOut>,
        out_super: Option<Arc<SuperOut>>,
    ) -> io::Result<Self> {
        let counts = Arc::new(Counts::default());
        let verify = cfg.checksums;
        let writer = Framer {
            out: Arc::clone(&out),
            out_super,
            counts: Arc::clone(&counts),
        };
        let net = NetStack::new(cfg, addrs.iter().copied(), writer)?;
        Ok(Self {
            net,
            addrs: addrs.into(),
            transparent: false,
            verify,
            counts,
            out,
            peers: Arc::default(),
            udp: Arc::default(),
        })
    }

    /// Names the other stacks of its interface (one per queue of a
    /// multi-queue device, `crate::shards`): an ICMP error (a path-MTU
    /// report, an unreachable) that names none of this stack's
    /// connections is tried on each of them in turn
    /// (each under its own lock only), since an ICMP error comes in on
    /// whichever queue its own hash picks. Set once; later calls do
    /// nothing.
    pub fn share_path_mtu(&self, peers: Vec<WeakNetStack>) {
        let _ = self.peers.set(peers);
    }

    /// Takes TCP segments for any destination, not only its addresses, so
    /// that a [`vtcp::TcpListener::bind_transparent`] listener terminates
    /// every flow that comes in (ICMP is still answered only for its own
    /// addresses).
    #[must_use]
    pub fn transparent(mut self) -> Self {
        self.transparent = true;
        self
    }

    /// The stack: bind listeners and connect streams on it.
    pub fn net(&self) -> &NetStack {
        &self.net
    }

    /// Hands every well-formed, unfragmented UDP datagram the IP layer
    /// reads, for any destination, to `handler` (counted in `udp_in`;
    /// malformed ones in `dropped_malformed`, fragments in
    /// `dropped_fragments`), instead of dropping it. The handler runs on
    /// the thread that reads the device, between its packets: it must
    /// not block (hand the datagram to a channel or a socket that does
    /// not wait). Answers go through [`IpStack::udp_sender`]. Set once
    /// (false when one was set already); datagrams read before are
    /// dropped as they were. Shared by the clones of this stack.
    pub fn set_udp_handler(&self, handler: Arc<UdpHandler>) -> bool {
        self.udp.set(handler).is_ok()
    }

    /// A handle that writes UDP datagrams to this stack's device, counted
    /// in its counters; it does not keep the stack alive.
    pub fn udp_sender(&self) -> UdpSender {
        UdpSender {
            out: Arc::clone(&self.out),
            counts: Arc::clone(&self.counts),
        }
    }

    /// A packet the IP layer drops for `why`: UDP goes to the handler if
    /// there is one.
    fn not_for_the_stack(&self, packet: &[u8], trusted: bool, why: DropReason) {
        let handler = match why {
            DropReason::Protocol | DropReason::NotOurs => self.udp.get(),
            _ => None,
        };
        let Some(handler) = handler else {
            return self.counts.dropped(why);
        };
        match udp::parse(packet, trusted) {
            Parsed::Datagram(d) => {
                self.counts.bump(Counts::UDP_IN);
                handler(d);
            }
            Parsed::NotUdp => self.counts.dropped(why),
            Parsed::Dropped(why) => self.counts.dropped(why),
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> DriverCounters {
        self.counts.snapshot()
    }

    /// Takes in one IP packet (untrusted): its segment goes to the stack,
    /// an echo request is answered, an ICMP error about one of our
    /// segments goes to the stack ([`vtcp::Stack::handle_icmp`]), anything
    /// else is dropped and counted.
    pub fn handle_ip(&self, packet: &[u8]) {
        self.handle_ips([packet]);
    }

    /// Takes in a batch of IP packets (untrusted), each as
    /// [`IpStack::handle_ip`] does, in order; their TCP segments go to the
    /// stack together ([`NetStack::handle_packets`]: one lock, one wake of
    /// the stack's writer thread and waiters for the whole batch), the
    /// in-order segments of each flow merged into one first
    /// ([`crate::gro`]). An ICMP error in the batch is handled after
    /// the segments before it and before those after it. Echo replies
    /// are sent as their requests are met.
    pub fn handle_ips<'p>(&self, packets: impl IntoIterator<Item = &'p [u8]>) {
        self.handle_received(packets.into_iter().map(|p| (p, false)));
    }

    /// [`IpStack::handle_ips`] with, for each packet, whether the link
    /// vouches for its TCP checksum (a virtio-net header's NEEDS_CSUM or
    /// DATA_VALID): such a segment is neither verified here nor by the
    /// stack.
    pub(crate) fn handle_received<'p>(&self, packets: impl IntoIterator<Item = (&'p [u8], bool)>) {
        let local = Local {
            addrs: &self.addrs,
            any_tcp: self.transparent,
        };
        let mut segments: Vec<GroInput<'p>> = Vec::new();
        with_scratch(|reply| {
            for (packet, trusted) in packets {
                self.counts.bump(Counts::IN);
                match ip::classify(packet, local, reply) {
                    Inbound::Tcp { src, dst, segment } => {
                        self.counts.bump(Counts::SEGMENTS);
                        if trusted {
                            self.counts.bump(Counts::TRUSTED);
                        }
                        let trusted = trusted || !self.verify;
                        segments.push(GroInput::in_packet(packet, src, dst, segment, trusted));
                    }
                    Inbound::EchoReply => {
                        self.counts.bump(Counts::ECHO);
                        self.counts.send(&*self.out, reply);
                    }
                    Inbound::IcmpError(report) => {
                        // The segments before it first: the error may
                        // quote one of theirs.
                        self.flush(&mut segments);
                        let accepted = self.handle_icmp(&report);
                        self.counts.bump(if accepted {
                            Counts::ICMP_ACCEPTED
                        } else {
                            Counts::ICMP_IGNORED
                        });
                    }
                    Inbound::Dropped(why) => self.not_for_the_stack(packet, trusted, why),
                }
            }
        });
        self.flush(&mut segments);
    }

    /// Hands an ICMP error to the stack, or, when it names none of its
    /// connections, to each stack sharing the interface in turn
    /// ([`IpStack::share_path_mtu`]); whether one accepted it.
    fn handle_icmp(&self, report: &IcmpReport<'_>) -> bool {
        let deliver = |stack: &mut vtcp::Stack, now| stack.handle_icmp(now, report);
        let here = self.net.with_stack(deliver);
        if matches!(here, IcmpDelivery::Conn(_)) {
            return here.accepted();
        }
        self.peers.get().is_some_and(|peers| {
            peers
                .iter()
                .filter_map(|p| p.with_stack(deliver))
                .find(|d| matches!(d, IcmpDelivery::Conn(_)))
                .is_some_and(IcmpDelivery::accepted)
        })
    }

    /// Hands the segments gathered so far to the stack, coalesced, in
    /// one call.
    fn flush(&self, segments: &mut Vec<GroInput<'_>>) {
        if segments.is_empty() {
            return;
        }
        with_gro(|gro| {
            let batch = gro.coalesce(segments);
            self.counts.add(Counts::GRO_MERGED, batch.merged() as u64);
            self.net.handle_packets_checked(
                batch
                    .segments()
                    .map(|s| (s.src, s.dst, s.segment, s.checksum, s.ecn)),
            );
        });
        segments.clear();
    }
}

/// Runs `f` with this thread's coalescer, taken out of its slot for the
/// call as [`with_scratch`] does its buffer (the stack `f` hands segments
/// to may, through its writer, run `f` again on the same thread).
fn with_gro<R>(f: impl FnOnce(&mut Gro) -> R) -> R {
    thread_local!(static GRO: RefCell<Gro> = RefCell::new(Gro::new()));
    let mut gro = GRO.take();
    let r = f(&mut gro);
    GRO.set(gro);
    r
}

/// Runs `f` with this thread's scratch buffer, taken out of its slot for
/// the call: `f` may send, and what it sends to may run `f` again on the
/// same thread (two stacks joined back to back), which then gets a fresh
/// buffer instead of a second borrow of the first.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local!(static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) });
    let mut buf = SCRATCH.take();
    let r = f(&mut buf);
    SCRATCH.set(buf);
    r
}
