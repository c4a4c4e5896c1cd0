//! The lab's two set-ups, each torn down when dropped:
//!
//! - [`VtcpLab`]: the kernel in a namespace of its own, with a TUN device
//!   whose other end is a vtcp [`IpStack`] in this process, through the
//!   relay. The kernel is 198.18.0.1 and fd00::1, vtcp 198.18.0.2 and
//!   fd00::2.
//! - [`KernelLab`]: the same path with Linux at both ends (two
//!   namespaces, each with a TUN device, the relay between them), the
//!   reference every vtcp figure is compared with.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::thread::JoinHandle;

use vtcp::StackConfig;
use vtcp_sim::Link;
use vtcp_tun::{IpStack, Tun, TunConfig};

use crate::relay::{Line, Tap, clear_link};
use vtcp_tun::netns::Netns;

/// The kernel's IPv4 address (the first end's, in a [`KernelLab`]).
pub const KERNEL_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
/// The kernel's IPv6 address.
pub const KERNEL_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
/// vtcp's IPv4 address (the second kernel's, in a [`KernelLab`]).
pub const PEER_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
/// vtcp's IPv6 address.
pub const PEER_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));

/// The TUN interface's name inside each namespace.
const DEV: &str = "vtcp0";

/// How the relay treats each direction, and what it records.
#[derive(Clone, Debug)]
pub struct Impairments {
    /// From the first end (the kernel) to the second (vtcp, or the second
    /// kernel).
    pub forward: Link,
    /// Back.
    pub backward: Link,
    /// Seed of the relay's random choices.
    pub seed: u64,
}

impl Default for Impairments {
    fn default() -> Self {
        Self {
            forward: clear_link(),
            backward: clear_link(),
            seed: 1,
        }
    }
}

impl Impairments {
    /// The same impairment both ways.
    pub fn symmetric(link: Link, seed: u64) -> Self {
        Self {
            forward: link,
            backward: link,
            seed,
        }
    }
}

/// A namespace with a TUN device whose kernel side has these addresses
/// (/24 and /64): the other end of the device is the caller's.
pub fn kernel_end(v4: IpAddr, v6: IpAddr) -> io::Result<(Netns, Arc<Tun>)> {
    let ns = Netns::unique(crate::NETNS_PREFIX)?;
    let tun = ns
        .enter(|| Tun::open(&TunConfig::named(DEV)))?
        .map_err(io::Error::other)?;
    ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", DEV])?;
    ns.ip(&["addr", "add", &format!("{v6}/64"), "dev", DEV, "nodad"])?;
    ns.ip(&["link", "set", DEV, "up"])?;
    Ok((ns, Arc::new(tun)))
}

/// Reads a device until it is stopped, handing each packet to `line`.
fn pump(tun: Arc<Tun>, line: Arc<Line>) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("vtcp-lab-pump".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while let Ok(Some(r)) = tun.recv(&mut buf) {
                line.send(&buf[r.start..r.end]);
            }
        })
}

/// Stops the pumps and writes out the capture; the first field of each
/// set-up, so this runs before its lines and namespaces drop.
struct Teardown {
    tuns: Vec<Arc<Tun>>,
    pumps: Vec<JoinHandle<()>>,
    tap: Option<Tap>,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        for t in &self.tuns {
            t.stop();
        }
        for p in self.pumps.drain(..) {
            let _ = p.join();
        }
        if let Some(t) = &self.tap {
            let _ = t.flush();
        }
    }
}

/// The kernel against vtcp, through the relay.
pub struct VtcpLab {
    /// Held for its drop, which must come first: it is the first field.
    _teardown: Teardown,
    stack: IpStack,
    to_kernel: Arc<Line>,
    to_vtcp: Arc<Line>,
    /// The kernel's namespace: run its sockets with [`Netns::enter`].
    pub kernel: Netns,
}

impl VtcpLab {
    /// Builds the lab: the kernel's namespace and device, vtcp's stack
    /// with `cfg`, the relay with `path`, recording into `tap` if given.
    pub fn new(cfg: StackConfig, path: &Impairments, tap: Option<Tap>) -> io::Result<Self> {
        let (kernel, tun) = kernel_end(KERNEL_V4, KERNEL_V6)?;
        let to_kernel = {
            let tun = Arc::clone(&tun);
            Arc::new(Line::new(
                path.backward,
                path.seed ^ 0xb,
                tap.clone(),
                move |p| {
                    let _ = tun.send(p);
                },
            ))
        };
        let stack = {
            let line = Arc::clone(&to_kernel);
            IpStack::new(cfg, &[PEER_V4, PEER_V6], move |p| {
                line.send(p);
                Ok(())
            })?
        };
        let to_vtcp = {
            let stack = stack.clone();
            Arc::new(Line::new(
                path.forward,
                path.seed ^ 0xf,
                tap.clone(),
                move |p| {
                    stack.handle_ip(p);
                },
            ))
        };
        let pumps = vec![pump(Arc::clone(&tun), Arc::clone(&to_vtcp))?];
        Ok(Self {
            _teardown: Teardown {
                tuns: vec![tun],
                pumps,
                tap,
            },
            stack,
            to_kernel,
            to_vtcp,
            kernel,
        })
    }

    /// vtcp's stack (with its IP layer's counters).
    pub fn stack(&self) -> &IpStack {
        &self.stack
    }

    /// Packets the relay lost (and dropped in its queue), kernel to vtcp
    /// and vtcp to kernel.
    pub fn relay_losses(&self) -> (u64, u64) {
        (self.to_vtcp.lost(), self.to_kernel.lost())
    }
}

/// Linux against Linux over the same relay.
pub struct KernelLab {
    /// Held for its drop, which must come first: it is the first field.
    _teardown: Teardown,
    lines: [Arc<Line>; 2],
    /// The first kernel (198.18.0.1, fd00::1).
    pub a: Netns,
    /// The second kernel (198.18.0.2, fd00::2).
    pub b: Netns,
}

impl KernelLab {
    /// Builds both namespaces and the relay between them, recording into
    /// `tap` if given.
    pub fn new(path: &Impairments, tap: Option<Tap>) -> io::Result<Self> {
        let (a, tun_a) = kernel_end(KERNEL_V4, KERNEL_V6)?;
        let (b, tun_b) = kernel_end(PEER_V4, PEER_V6)?;
        let line = |link: Link, seed: u64, to: &Arc<Tun>| {
            let to = Arc::clone(to);
            Arc::new(Line::new(link, seed, tap.clone(), move |p| {
                let _ = to.send(p);
            }))
        };
        let a_to_b = line(path.forward, path.seed ^ 0xf, &tun_b);
        let b_to_a = line(path.backward, path.seed ^ 0xb, &tun_a);
        let pumps = vec![
            pump(Arc::clone(&tun_a), Arc::clone(&a_to_b))?,
            pump(Arc::clone(&tun_b), Arc::clone(&b_to_a))?,
        ];
        Ok(Self {
            _teardown: Teardown {
                tuns: vec![tun_a, tun_b],
                pumps,
                tap,
            },
            lines: [a_to_b, b_to_a],
            a,
            b,
        })
    }

    /// Packets the relay lost, a to b and b to a.
    pub fn relay_losses(&self) -> (u64, u64) {
        (self.lines[0].lost(), self.lines[1].lost())
    }
}
