//! The lab's set-ups, each torn down when dropped:
//!
//! - [`VtcpLab`]: the kernel in a namespace of its own, with a TUN device
//!   whose other end is a vtcp [`IpStack`] in this process, through the
//!   relay. The kernel is 198.18.0.1 and fd00::1, vtcp 198.18.0.2 and
//!   fd00::2.
//! - [`KernelLab`]: the same path with Linux at both ends (two
//!   namespaces, each with a TUN device, the relay between them), the
//!   reference every vtcp figure is compared with.
//! - [`SharedLab`]: a shared bottleneck. Two senders, a vtcp stack
//!   (198.18.0.2) and a kernel namespace (198.18.0.3), whose packets the
//!   relay merges into one line, with one queue, toward a kernel receiver
//!   namespace (198.18.0.1); the way back is split by destination.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::thread::JoinHandle;

use vtcp::StackConfig;
use vtcp_sim::Link;
use vtcp_tun::{IpStack, Tun, TunConfig};

use crate::relay::{Line, Tap, clear_link, ip_destination};
use vtcp_tun::netns::Netns;

/// The kernel's IPv4 address (the first end's, in a [`KernelLab`]).
pub const KERNEL_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
/// The kernel's IPv6 address.
pub const KERNEL_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
/// vtcp's IPv4 address (the second kernel's, in a [`KernelLab`]).
pub const PEER_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
/// vtcp's IPv6 address.
pub const PEER_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));

/// The kernel sender's IPv4 address in a [`SharedLab`].
pub const SENDER_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 3));
/// The kernel sender's IPv6 address in a [`SharedLab`].
pub const SENDER_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3));

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
    let kernel = vtcp_tun::KernelSide::new().addr(v4, 24).addr(v6, 64);
    let tun = vtcp_tun::open_device(Some(&ns), &TunConfig::named(DEV), 1, &kernel)?
        .pop()
        .ok_or_else(|| io::Error::other("no queue opened"))?;
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

/// A line over `link` that writes what arrives into a TUN device.
fn line_to_tun(link: Link, seed: u64, tap: &Option<Tap>, to: &Arc<Tun>) -> Arc<Line> {
    let to = Arc::clone(to);
    Arc::new(Line::new(link, seed, tap.clone(), move |p| {
        let _ = to.send(p);
    }))
}

/// A line over `link` that hands what arrives to a vtcp stack.
fn line_to_stack(link: Link, seed: u64, tap: &Option<Tap>, to: &IpStack) -> Arc<Line> {
    let to = to.clone();
    Arc::new(Line::new(link, seed, tap.clone(), move |p| {
        to.handle_ip(p);
    }))
}

/// A vtcp stack at `addrs` with `cfg`, whose packets go onto `line`.
fn stack_onto(cfg: StackConfig, addrs: &[IpAddr], line: &Arc<Line>) -> io::Result<IpStack> {
    let line = Arc::clone(line);
    IpStack::new(cfg, addrs, move |p| {
        line.send(p);
        Ok(())
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
        let to_kernel = line_to_tun(path.backward, path.seed ^ 0xb, &tap, &tun);
        let stack = stack_onto(cfg, &[PEER_V4, PEER_V6], &to_kernel)?;
        let to_vtcp = line_to_stack(path.forward, path.seed ^ 0xf, &tap, &stack);
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
        let a_to_b = line_to_tun(path.forward, path.seed ^ 0xf, &tap, &tun_b);
        let b_to_a = line_to_tun(path.backward, path.seed ^ 0xb, &tap, &tun_a);
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

/// A shared bottleneck: a vtcp stack (198.18.0.2, fd00::2) and a kernel
/// sender namespace (198.18.0.3, fd00::3) on one side of the relay, a
/// kernel receiver namespace (198.18.0.1, fd00::1) on the other. What
/// either sender sends goes onto the same line toward the receiver (one
/// rate limit, one queue: `forward`); what the receiver sends comes back
/// on one line (`backward`) and is handed, by its destination address, to
/// the vtcp stack or to the sender namespace's device.
pub struct SharedLab {
    /// Held for its drop, which must come first: it is the first field.
    _teardown: Teardown,
    stack: IpStack,
    /// Toward the receiver (the bottleneck), and back.
    lines: [Arc<Line>; 2],
    /// The receiving kernel (198.18.0.1, fd00::1), where both flows end.
    pub receiver: Netns,
    /// The sending kernel (198.18.0.3, fd00::3).
    pub sender: Netns,
}

impl SharedLab {
    /// Builds both namespaces, vtcp's stack with `cfg` and the relay:
    /// `path.forward` from both senders to the receiver, `path.backward`
    /// back; recording into `tap` if given.
    pub fn new(cfg: StackConfig, path: &Impairments, tap: Option<Tap>) -> io::Result<Self> {
        let (receiver, tun_rx) = kernel_end(KERNEL_V4, KERNEL_V6)?;
        let (sender, tun_tx) = kernel_end(SENDER_V4, SENDER_V6)?;
        let to_receiver = line_to_tun(path.forward, path.seed ^ 0xf, &tap, &tun_rx);
        let stack = stack_onto(cfg, &[PEER_V4, PEER_V6], &to_receiver)?;
        let back = {
            let (stack, tun_tx) = (stack.clone(), Arc::clone(&tun_tx));
            Arc::new(Line::new(
                path.backward,
                path.seed ^ 0xb,
                tap.clone(),
                move |p| match ip_destination(p) {
                    Some(to) if to == PEER_V4 || to == PEER_V6 => stack.handle_ip(p),
                    _ => {
                        let _ = tun_tx.send(p);
                    }
                },
            ))
        };
        let pumps = vec![
            pump(Arc::clone(&tun_tx), Arc::clone(&to_receiver))?,
            pump(Arc::clone(&tun_rx), Arc::clone(&back))?,
        ];
        Ok(Self {
            _teardown: Teardown {
                tuns: vec![tun_rx, tun_tx],
                pumps,
                tap,
            },
            stack,
            lines: [to_receiver, back],
            receiver,
            sender,
        })
    }

    /// vtcp's stack, the first sender.
    pub fn stack(&self) -> &IpStack {
        &self.stack
    }

    /// Packets the relay lost (its queue's drops included), toward the
    /// receiver and back.
    pub fn relay_losses(&self) -> (u64, u64) {
        (self.lines[0].lost(), self.lines[1].lost())
    }
}
