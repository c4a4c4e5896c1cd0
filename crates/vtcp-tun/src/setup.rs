//! A TUN device ready for use: its queues opened (in a namespace or in
//! the caller's), its kernel side given addresses and routes, its queue
//! length set and the link up. The one place where the CLI (`vtcp serve`,
//! `connect`, `forward`) and the interop lab set a device up.
//!
//! The configuration goes over rtnetlink (the private `rtnl` module),
//! the messages `ip` would send, without running it: tun-rs sets the MTU
//! and brings the link up when it opens the device (ioctls), and netlink
//! does the rest, since tun-rs adds no IPv6 address without duplicate
//! address detection and no route (docs/architecture.md, "Which
//! crates"). An IPv6 address is added with IFA_F_NODAD (`nodad`), since
//! the device has no other host on its link and duplicate address
//! detection would only hold the address back for a second. Inside a
//! namespace the netlink socket is opened on the thread that entered it,
//! so it talks to that namespace's kernel. Creating and deleting
//! namespaces (`ip netns add | del`, [`crate::netns`]) stays with `ip`: a
//! namespace is a file under `/var/run/netns` that iproute2 mounts, not
//! a device.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use crate::device::{Tun, TunConfig, TunError};
use crate::netns::Netns;
use crate::rtnl::{Refused, Rtnl};
use crate::shards::open_queues;

/// How the kernel's side of a TUN device is configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KernelSide {
    /// The kernel's addresses on the device, each with its prefix length.
    pub addrs: Vec<(IpAddr, u8)>,
    /// Routes through the device, as `ip route` writes them:
    /// `198.51.100.0/24`, `fd00:1::/64`, an address alone for one host,
    /// `default` for every IPv4 address (`::/0` for IPv6).
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
    /// The device opened, and configuring its kernel side failed: `what`
    /// names the step (the address, the route, entering the namespace),
    /// `source` is the kernel's errno (or `InvalidInput` for a route that
    /// does not parse).
    #[error("{what}: {source}")]
    Configure {
        /// The step that failed: "adding address fd00::1/64 to vtcp0".
        what: String,
        /// Why: the kernel's error.
        source: io::Error,
    },
}

impl SetupError {
    /// A failed step of the configuration.
    fn configure(what: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let what = what.into();
        move |source| Self::Configure { what, source }
    }

    /// A step the kernel refused, its reason (when it gave one) after the
    /// step's name.
    fn refused(what: impl Into<String>) -> impl FnOnce(Refused) -> Self {
        let what = what.into();
        move |r| Self::Configure {
            what: match r.reason {
                Some(why) => format!("{what} (the kernel: {why})"),
                None => what,
            },
            source: r.source,
        }
    }
}

impl From<SetupError> for io::Error {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Open(TunError::Io(e)) => e,
            SetupError::Configure { what, source } => {
                Self::new(source.kind(), format!("{what}: {source}"))
            }
            SetupError::Open(e) => Self::other(e),
        }
    }
}

/// Opens `queues` queues of the device `cfg` describes, inside `ns` when
/// given (the device then belongs to that namespace for good), and
/// configures its kernel side ([`configure_device`]).
pub fn open_device(
    ns: Option<&Netns>,
    cfg: &TunConfig,
    queues: usize,
    kernel: &KernelSide,
) -> Result<Vec<Tun>, SetupError> {
    let tuns = match ns {
        Some(ns) => ns
            .enter(|| open_queues(cfg, queues))
            .map_err(SetupError::configure(format!(
                "entering namespace {}",
                ns.name()
            )))??,
        None => open_queues(cfg, queues)?,
    };
    let name = tuns.first().map_or("", |t| t.name());
    configure_device(ns, name, kernel)?;
    Ok(tuns)
}

/// Configures the kernel's side of the existing interface `name` (a TUN
/// device, a veth, `lo`), inside `ns` when given: addresses, link up,
/// queue length, routes, in that order (a route needs the link up).
/// Each step is one rtnetlink request; the first that fails ends it with
/// [`SetupError::Configure`], naming the step and the kernel's errno.
pub fn configure_device(
    ns: Option<&Netns>,
    name: &str,
    kernel: &KernelSide,
) -> Result<(), SetupError> {
    match ns {
        Some(ns) => ns
            .enter(|| configure_here(name, kernel))
            .map_err(SetupError::configure(format!(
                "entering namespace {}",
                ns.name()
            )))?,
        None => configure_here(name, kernel),
    }
}

/// [`configure_device`] in the calling thread's namespace.
fn configure_here(name: &str, kernel: &KernelSide) -> Result<(), SetupError> {
    let mut nl = Rtnl::open().map_err(SetupError::configure("opening a netlink socket"))?;
    let index = nl
        .index(name)
        .map_err(SetupError::refused(format!("finding device {name}")))?;
    for &(addr, prefix) in &kernel.addrs {
        nl.add_address(index, addr, prefix)
            .map_err(SetupError::refused(format!(
                "adding address {addr}/{prefix} to {name}"
            )))?;
    }
    let up = match kernel.txqueuelen {
        Some(len) => format!("bringing {name} up with txqueuelen {len}"),
        None => format!("bringing {name} up"),
    };
    nl.set_up(index, kernel.txqueuelen)
        .map_err(SetupError::refused(up))?;
    for route in &kernel.routes {
        let what = format!("adding route {route} via {name}");
        let (dst, prefix) = parse_route(route).ok_or_else(|| SetupError::Configure {
            what: what.clone(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a route (ADDRESS/PREFIX, ADDRESS or default)",
            ),
        })?;
        nl.add_route(index, dst, prefix)
            .map_err(SetupError::refused(what))?;
    }
    Ok(())
}

/// A route as `ip route` writes it: `ADDRESS/PREFIX`, `ADDRESS` (one
/// host), `default` (IPv4's 0.0.0.0/0). `None` for anything else,
/// including a prefix longer than the address.
fn parse_route(route: &str) -> Option<(IpAddr, u8)> {
    if route == "default" {
        return Some((IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    }
    let (addr, prefix) = match route.split_once('/') {
        Some((addr, prefix)) => (addr.parse::<IpAddr>().ok()?, Some(prefix.parse().ok()?)),
        None => (route.parse().ok()?, None),
    };
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(bits);
    (prefix <= bits).then_some((addr, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_as_ip_writes_them() {
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        assert_eq!(parse_route("default"), Some((v4("0.0.0.0"), 0)));
        assert_eq!(
            parse_route("198.51.100.0/24"),
            Some((v4("198.51.100.0"), 24))
        );
        assert_eq!(parse_route("198.51.100.7"), Some((v4("198.51.100.7"), 32)));
        assert_eq!(parse_route("fd00:1::/64"), Some((v6("fd00:1::"), 64)));
        assert_eq!(parse_route("::/0"), Some((v6("::"), 0)));
        assert_eq!(parse_route("fd00::7"), Some((v6("fd00::7"), 128)));
        assert_eq!(
            parse_route("198.51.100.0/32"),
            Some((v4("198.51.100.0"), 32))
        );
        for bad in [
            "",
            "not-a-route",
            "198.51.100.0/33",
            "fd00::/129",
            "198.51.100.0/",
            "/24",
            "198.51.100.0/-1",
            "198.51.100.0/24/8",
            "default6",
        ] {
            assert_eq!(parse_route(bad), None, "{bad}");
        }
    }
}
