//! A TUN device ready for use: its queues opened (in a namespace or in
//! the caller's), its kernel side given addresses and routes, its queue
//! length set and the link up. The one place where the CLI (`vtcp serve`,
//! `connect`, `forward`) and the interop lab set a device up.
//!
//! The configuration runs `ip` (iproute2), as an administrator would by
//! hand; an IPv6 address is added with `nodad`, since the device has no
//! other host on its link and duplicate address detection would only
//! hold the address back for a second.

use std::io;
use std::net::IpAddr;

use crate::device::{Tun, TunConfig, TunError};
use crate::netns::{self, Netns};
use crate::shards::open_queues;

/// How the kernel's side of a TUN device is configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KernelSide {
    /// The kernel's addresses on the device, each with its prefix length.
    pub addrs: Vec<(IpAddr, u8)>,
    /// Routes through the device (`198.51.100.0/24`, `fd00:1::/64`).
    pub routes: Vec<String>,
    /// The device's transmit queue length: how many packets the kernel
    /// holds for the device's reader (500 by default). Thousands of flows
    /// at once need more.
    pub txqueuelen: Option<u32>,
}

impl KernelSide {
    /// No address, no route, the kernel's default queue length.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an address of the kernel's with its prefix length.
    #[must_use]
    pub fn addr(mut self, addr: IpAddr, prefix: u8) -> Self {
        self.addrs.push((addr, prefix));
        self
    }

    /// Adds a route through the device.
    #[must_use]
    pub fn route(mut self, cidr: impl Into<String>) -> Self {
        self.routes.push(cidr.into());
        self
    }

    /// Sets the device's transmit queue length.
    #[must_use]
    pub fn txqueuelen(mut self, packets: u32) -> Self {
        self.txqueuelen = Some(packets);
        self
    }
}

/// Why a device could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The device could not be opened.
    #[error(transparent)]
    Open(#[from] TunError),
    /// The device opened, and configuring its kernel side failed (`ip`'s
    /// message, or entering the namespace).
    #[error("{0}")]
    Configure(io::Error),
}

impl From<SetupError> for io::Error {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Open(TunError::Io(e)) | SetupError::Configure(e) => e,
            SetupError::Open(e) => Self::other(e),
        }
    }
}

/// Opens `queues` queues of the device `cfg` describes, inside `ns` when
/// given (the device then belongs to that namespace for good), and
/// configures its kernel side: addresses, link up, queue length, routes,
/// in that order (a route needs the link up).
pub fn open_device(
    ns: Option<&Netns>,
    cfg: &TunConfig,
    queues: usize,
    kernel: &KernelSide,
) -> Result<Vec<Tun>, SetupError> {
    let tuns = match ns {
        Some(ns) => ns
            .enter(|| open_queues(cfg, queues))
            .map_err(SetupError::Configure)??,
        None => open_queues(cfg, queues)?,
    };
    let name = tuns.first().map_or("", |t| t.name()).to_owned();
    let run = |args: &[&str]| {
        match ns {
            Some(ns) => ns.ip(args),
            None => netns::ip(args),
        }
        .map_err(SetupError::Configure)
    };
    for (addr, prefix) in &kernel.addrs {
        let cidr = format!("{addr}/{prefix}");
        let mut args = vec!["addr", "add", &cidr, "dev", &name];
        if addr.is_ipv6() {
            args.push("nodad");
        }
        run(&args)?;
    }
    run(&["link", "set", &name, "up"])?;
    if let Some(len) = kernel.txqueuelen {
        run(&["link", "set", &name, "txqueuelen", &len.to_string()])?;
    }
    for route in &kernel.routes {
        run(&["route", "add", route, "dev", &name])?;
    }
    Ok(tuns)
}
