//! A TUN device on Linux: created (or attached to) by name, read and
//! written one IP packet at a time, and stopped from another thread.
//!
//! The ioctls are tun-rs's (see docs/architecture.md for why that crate).
//! Addresses and routes are not this module's business: the CLI and the
//! interop lab set them with `ip`, as an administrator would.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use tun_rs::{DeviceBuilder, InterruptEvent, SyncDevice};

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
}

impl Default for TunConfig {
    /// A kernel-named device with the Ethernet MTU of 1500.
    fn default() -> Self {
        Self {
            name: None,
            mtu: 1500,
            multi_queue: false,
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
    /// Anything else the kernel said.
    #[error("cannot open a TUN device: {0}")]
    Io(#[from] io::Error),
}

/// An open TUN device (IFF_TUN | IFF_NO_PI: bare IPv4 and IPv6 packets).
pub struct Tun {
    dev: SyncDevice,
    name: String,
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
            .packet_information(false)
            .enable(true);
        if let Some(name) = &cfg.name {
            b = b.name(name.clone());
        }
        let dev = b.build_sync().map_err(|e| match e.raw_os_error() {
            Some(1) => TunError::NotPermitted,
            Some(16) => TunError::Busy(cfg.name.clone().unwrap_or_default()),
            _ if e.kind() == io::ErrorKind::PermissionDenied => TunError::NotPermitted,
            _ => TunError::Io(e),
        })?;
        let name = dev.name()?;
        Ok(Self {
            dev,
            name,
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

    /// Waits for the next packet and reads it into `buf` (make it as large
    /// as the MTU). `Ok(None)` once [`Tun::stop`] was called.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            if self.stopped.load(Ordering::Acquire) {
                return Ok(None);
            }
            match self.dev.recv_intr(buf, &self.stop) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes one packet.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        self.dev.send(packet).map(|_| ())
    }

    /// Wakes a thread blocked in [`Tun::recv`]; every `recv` from now on
    /// returns `Ok(None)`.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let _ = self.stop.trigger();
    }
}
