//! Run a vtcp stack on a Linux TUN device, or on IP packets from anywhere.
//!
//! The `vtcp` facade is IP-agnostic: segments in, segments out. This crate
//! is the IP layer and the device between it and the kernel. The IP layer
//! ([`ip`], [`udp`], [`vnet`], [`gro`] and [`IpStack`]) builds on every
//! operating system, for a VPN whose packets come from its platform's API
//! (Android's `VpnService`, Apple's `NEPacketTunnelProvider`, Wintun); the
//! device, its driver, namespaces and shards are Linux's.
//!
//! - [`ip`]: the framing. IPv4 and IPv6 headers are taken off what the
//!   device reads (extension headers skipped, fragments and packets for
//!   other addresses dropped and counted) and put on what the stack sends
//!   (hop limit 64, IPv4 with DF and its header checksum). ICMP and
//!   ICMPv6 echo requests are answered, so `ping` works; every ICMP and
//!   ICMPv6 error that quotes one of our segments goes to the stack
//!   ([`vtcp::Stack::handle_icmp`]: path MTU, hard and soft errors, with
//!   RFC 5927's checks).
//! - [`udp`]: UDP datagrams for a handler of the application's (a
//!   forwarder's relay, a DNS server), and the packets of its answers.
//! - [`device`]: the TUN device itself (IFF_TUN, IFF_NO_PI, optionally
//!   IFF_MULTI_QUEUE and IFF_VNET_HDR), through the tun-rs crate.
//! - [`vnet`]: the virtio-net header in front of each packet with
//!   offloads on, checked against its packet.
//! - [`gro`]: receive coalescing: a batch's in-order segments of one flow
//!   merged into one before the stack sees them.
//! - [`ipstack`]: [`IpStack`], a [`vtcp::NetStack`] with that IP layer:
//!   whole packets in and out through the caller's functions, counters.
//! - `driver` (Linux): [`IpStack`] on a device, with a reader thread.
//! - [`shards`]: one stack per queue of a multi-queue device, listeners
//!   on every queue, and the hand-off of a segment that came in on a
//!   queue whose stack does not own its connection.
//! - [`netns`]: network namespaces, to put the kernel's side of a device
//!   in one of its own (the CLI's `--netns`, the interop lab).
//! - [`setup`]: a device opened (in a namespace or not) with its kernel
//!   side configured: addresses, routes, queue length, link up.
//! - `rtnl` (Linux): the rtnetlink requests `setup` makes instead of
//!   running `ip`.
//!
//! # Example
//!
//! An echo server on a TUN device (run as root; the kernel's side of the
//! device gets 198.18.0.1, the stack answers at 198.18.0.2; then
//! `nc 198.18.0.2 7`). The whole program is `examples/echo.rs`.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::{IpAddr, Ipv4Addr, SocketAddr};
//! use vtcp::{StackConfig, TcpListener};
//! use vtcp_tun::{KernelSide, Tun, TunConfig, TunDriver, configure_device};
//!
//! let tun = Tun::open(&TunConfig::named("vtcp0"))?;
//! // ip addr add 198.18.0.1/24 dev vtcp0, over rtnetlink
//! let kernel = KernelSide::new().addr(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)), 24);
//! configure_device(None, tun.name(), &kernel)?;
//! let ours = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
//! let driver = TunDriver::start(tun, StackConfig::default(), &[ours])?;
//! let listener = TcpListener::bind(driver.net(), SocketAddr::new(ours, 7))?;
//! for stream in listener.incoming() {
//!     let mut stream = stream?;
//!     std::thread::spawn(move || {
//!         let mut buf = [0u8; 4096];
//!         while let Ok(n @ 1..) = stream.read(&mut buf) {
//!             if stream.write_all(&buf[..n]).is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod gro;
pub mod ip;
pub mod ipstack;
pub mod udp;
pub mod vnet;

pub use ipstack::{DriverCounters, IpStack, UdpHandler};

#[cfg(target_os = "linux")]
pub mod device;
#[cfg(target_os = "linux")]
pub mod driver;
#[cfg(target_os = "linux")]
pub mod netns;
#[cfg(target_os = "linux")]
mod rtnl;
#[cfg(target_os = "linux")]
pub mod setup;
#[cfg(target_os = "linux")]
pub mod shards;

#[cfg(target_os = "linux")]
pub use device::{Received, Tun, TunConfig, TunError, VNET_HDR_LEN};
#[cfg(target_os = "linux")]
pub use driver::TunDriver;
#[cfg(target_os = "linux")]
pub use setup::{KernelSide, SetupError, configure_device, open_device};
#[cfg(target_os = "linux")]
pub use shards::{ShardCounters, ShardListener, Shards, open_queues};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
