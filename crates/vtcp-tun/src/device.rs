//! A TUN device on Linux: created (or attached to) by name, read and
//! written one IP packet at a time (reads also without blocking, to drain
//! it in batches), and stopped from another thread.
//!
//! The ioctls are tun-rs's (see docs/architecture.md for why that crate).
//! The MTU is set here, by tun-rs when it opens the device, which also
//! brings the link up; addresses and routes are not this module's
//! business ([`crate::setup`] sets them over rtnetlink).

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tun_rs::{DeviceBuilder, InterruptEvent, SyncDevice};

use crate::vnet::{self, VnetError, VnetHeader};

/// How to open a device.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TunConfig {
    /// The interface name; the kernel picks one (`tun0`, …) when absent.
    pub name: Option<String>,
    /// The interface MTU.
    pub mtu: u16,
    /// IFF_MULTI_QUEUE: more devices can attach to the same interface
    /// (one stack per queue).
    pub multi_queue: bool,
    /// IFF_VNET_HDR with TCP offloads (TUN_F_CSUM, TSO4, TSO6): the
    /// kernel hands over TCP super-segments of up to 64 KiB whose checksum
    /// is left to us, and every packet carries a virtio-net header, which
    /// [`Tun::recv`] and [`Tun::send`] take care of.
    pub offload: bool,
}

impl Default for TunConfig {
    /// A kernel-named device with the Ethernet MTU of 1500.
    fn default() -> Self {
        Self {
            name: None,
            mtu: 1500,
            multi_queue: false,
            offload: false,
        }
    }
}

impl TunConfig {
    /// The default configuration with this interface name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }
}

/// Why a device could not be opened, each with the advice its message
/// gives.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TunError {
    /// `/dev/net/tun` is missing (no TUN driver, or a container without
    /// the device).
    #[error("/dev/net/tun is missing: this kernel or container has no TUN device")]
    NoDevice,
    /// Creating a TUN interface needs CAP_NET_ADMIN.
    #[error("creating a TUN device needs root (CAP_NET_ADMIN)")]
    NotPermitted,
    /// The interface exists and is attached to another process (or is not
    /// a TUN device of the same kind).
    #[error("TUN device {0} is busy (another process holds it, or it is not a TUN device)")]
    Busy(String),
    /// The kernel refused the name as a TUN device (EINVAL): an interface
    /// of that name exists and is of another kind (`lo`, a veth, a TAP
    /// device).
    #[error("cannot open {0} as a TUN device: an interface of that name exists and is not one")]
    NotTun(String),
    /// Anything else the kernel said.
    #[error("cannot open a TUN device: {0}")]
    Io(#[from] io::Error),
}

/// The length of the virtio-net header in front of each packet when
/// offloads are on.
pub use crate::vnet::VNET_HDR_LEN;

/// One packet read by [`Tun::recv`]: where it lies in the buffer, and
/// what its virtio-net header (with offloads on) says of its checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Offset of the IP header in the buffer.
    pub start: usize,
    /// End of the packet in the buffer.
    pub end: usize,
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum field holds only the
    /// pseudo-header's sum; the packet's ones'-complement sum from offset
    /// `.0` (of the packet), stored at `.0 + .1`, completes it
    /// ([`Received::complete_checksum`]).
    pub partial_checksum: Option<(usize, usize)>,
    /// The packet's virtio-net header, checked against it
    /// ([`crate::vnet::parse`]); `None` without offloads.
    pub vnet: Option<VnetHeader>,
}

impl Received {
    /// The packet, with a partial checksum completed (virtio-net's rule:
    /// the ones'-complement sum from `csum_start` to the end, inverted, at
    /// `csum_start + csum_offset`). A packet too short for its offsets is
    /// left as it is (the stack then drops it for its checksum).
    pub fn complete_checksum<'a>(&self, buf: &'a mut [u8]) -> &'a [u8] {
        let packet = &mut buf[self.start..self.end];
        if let Some((start, offset)) = self.partial_checksum
            && start + offset + 2 <= packet.len()
            && start <= packet.len()
        {
            let sum = vtcp::wire::checksum::ones_complement_sum(&packet[start..]);
            packet[start + offset..start + offset + 2].copy_from_slice(&(!sum).to_be_bytes());
        }
        packet
    }

    /// The kernel vouches for the packet's checksum (its virtio-net
    /// header has NEEDS_CSUM or DATA_VALID:
    /// [`VnetHeader::checksum_trusted`]): it need not be completed nor
    /// verified.
    pub fn checksum_trusted(&self) -> bool {
        self.vnet.is_some_and(|h| h.checksum_trusted())
    }
}

/// An open TUN device (IFF_TUN | IFF_NO_PI: bare IPv4 and IPv6 packets).
pub struct Tun {
    dev: SyncDevice,
    name: String,
    vnet_hdr: bool,
    stop: InterruptEvent,
    stopped: AtomicBool,
}

impl Tun {
    /// Creates the interface (or attaches to one of that name) and brings
    /// it up.
    pub fn open(cfg: &TunConfig) -> Result<Self, TunError> {
        if !Path::new("/dev/net/tun").exists() {
            return Err(TunError::NoDevice);
        }
        let mut b = DeviceBuilder::new()
            .mtu(cfg.mtu)
            .multi_queue(cfg.multi_queue)
            .offload(cfg.offload)
            .packet_information(false)
            .enable(true);
        if let Some(name) = &cfg.name {
            b = b.name(name.clone());
        }
        let dev = b.build_sync().map_err(|e| match e.raw_os_error() {
            Some(1) => TunError::NotPermitted,
            Some(16) => TunError::Busy(cfg.name.clone().unwrap_or_default()),
            Some(22) if cfg.name.is_some() => {
                TunError::NotTun(cfg.name.clone().unwrap_or_default())
            }
            _ if e.kind() == io::ErrorKind::PermissionDenied => TunError::NotPermitted,
            _ => TunError::Io(e),
        })?;
        let name = dev.name()?;
        let vnet_hdr = dev.tcp_gso();
        Ok(Self {
            dev,
            name,
            vnet_hdr,
            stop: InterruptEvent::new()?,
            stopped: AtomicBool::new(false),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface MTU.
    pub fn mtu(&self) -> io::Result<u16> {
        self.dev.mtu()
    }

    /// Whether offloads are on (the kernel granted IFF_VNET_HDR).
    pub fn offload(&self) -> bool {
        self.vnet_hdr
    }

    /// Waits for the next packet and reads it into `buf` (64 KiB and the
    /// virtio-net header with offloads on, the MTU otherwise). `Ok(None)`
    /// once [`Tun::stop`] was called. A packet whose virtio-net header
    /// does not fit it ([`vnet::parse`]) is skipped
    /// ([`Tun::recv_checked`] reports it instead).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        loop {
            match self.recv_checked(buf)? {
                None => return Ok(None),
                Some(Ok(r)) => return Ok(Some(r)),
                Some(Err(_)) => {}
            }
        }
    }

    /// Reads the next packet into `buf` if one is waiting, without
    /// blocking: `Ok(None)` when the device has none (or once
    /// [`Tun::stop`] was called). A reader that drains the device in
    /// batches blocks in [`Tun::recv`] for the first packet and takes the
    /// rest with this. (A zero timeout on the interruptible read: one
    /// `poll` that does not wait, then the `read`; the device stays in
    /// blocking mode, so its writes are unchanged.) Packets with a bad
    /// virtio-net header are skipped, as by [`Tun::recv`].
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        loop {
            match self.try_recv_checked(buf)? {
                None => return Ok(None),
                Some(Ok(r)) => return Ok(Some(r)),
                Some(Err(_)) => {}
            }
        }
    }

    /// [`Tun::recv`], with a packet whose virtio-net header was refused
    /// reported as `Some(Err(why))` (its octets are in `buf`, unused),
    /// so that the caller can count it.
    pub fn recv_checked(&self, buf: &mut [u8]) -> io::Result<Option<Result<Received, VnetError>>> {
        self.recv_within(buf, None)
    }

    /// [`Tun::try_recv`], with a refused virtio-net header reported as
    /// by [`Tun::recv_checked`].
    pub fn try_recv_checked(
        &self,
        buf: &mut [u8],
    ) -> io::Result<Option<Result<Received, VnetError>>> {
        match self.recv_within(buf, Some(Duration::ZERO)) {
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
            r => r,
        }
    }

    /// Reads one packet, waiting at most `timeout` (`TimedOut` past it),
    /// its virtio-net header (with offloads on) checked.
    fn recv_within(
        &self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> io::Result<Option<Result<Received, VnetError>>> {
        loop {
            if self.stopped.load(Ordering::Acquire) {
                return Ok(None);
            }
            match self.dev.recv_intr_timeout(buf, &self.stop, timeout) {
                Ok(n) if !self.vnet_hdr => {
                    return Ok(Some(Ok(Received {
                        start: 0,
                        end: n,
                        partial_checksum: None,
                        vnet: None,
                    })));
                }
                Ok(n) => {
                    let Some(read) = buf.get(..n) else {
                        // More than the buffer holds: not a read.
                        continue;
                    };
                    return Ok(Some(vnet::parse(read).map(|(h, _)| Received {
                        start: VNET_HDR_LEN,
                        end: n,
                        partial_checksum: h.partial_checksum(),
                        vnet: Some(h),
                    })));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes one packet (with offloads on, behind a virtio-net header
    /// that asks for nothing: the stack's checksums are complete).
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        if self.vnet_hdr {
            let none = [0u8; VNET_HDR_LEN];
            self.dev
                .send_vectored(&[io::IoSlice::new(&none), io::IoSlice::new(packet)])
                .map(|_| ())
        } else {
            self.dev.send(packet).map(|_| ())
        }
    }

    /// Writes one IP packet, `ip_header` then `segment`, holding a TCP
    /// super-segment for the kernel to cut into segments of
    /// `segment_size` octets of payload (TSO; needs offloads on), in one
    /// vectored write: the segment is not copied. Its checksum field
    /// holds the pseudo-header's sum. The virtio-net header asks for
    /// `GSO_TCPV4`/`GSO_TCPV6` with `NEEDS_CSUM` from the TCP header on,
    /// as a guest's virtio-net driver does. Without offloads the device
    /// cannot take it: `Unsupported`.
    pub fn send_super(
        &self,
        ip_header: &[u8],
        segment: &[u8],
        segment_size: usize,
    ) -> io::Result<()> {
        if !self.vnet_hdr {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        let tcp_header = segment
            .get(12)
            .map(|b| usize::from(b >> 4) * 4)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let v6 = ip_header.first().is_some_and(|b| b >> 4 == 6);
        let field = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
        let hdr = crate::vnet::VnetHeader::tcp_gso(
            v6,
            field(ip_header.len() + tcp_header),
            field(segment_size),
            field(ip_header.len()),
        )
        .with_tcp_flags(segment.get(13).copied().unwrap_or(0))
        .emit();
        self.dev
            .send_vectored(&[
                io::IoSlice::new(&hdr),
                io::IoSlice::new(ip_header),
                io::IoSlice::new(segment),
            ])
            .map(|_| ())
    }

    /// Wakes a thread blocked in [`Tun::recv`]; every `recv` from now on
    /// returns `Ok(None)`.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let _ = self.stop.trigger();
    }
}
