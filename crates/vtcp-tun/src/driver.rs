//! Runs an [`IpStack`] on a [`Tun`] (Linux): a reader thread takes
//! packets off the device in batches and hands them to the IP layer, and
//! the stack's writer writes what it sends to the device. A device that
//! fails aborts the stack's connections.

use std::io;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use vtcp::{ConnKey, NetStack, StackConfig};

use crate::device::Tun;
use crate::ipstack::{Counts, DriverCounters, IpStack};

/// An [`IpStack`] running on a TUN device. Dropping it (or calling
/// [`TunDriver::stop`]) stops the reader thread; the stack lives on while
/// handles to it remain, sending into the device.
///
/// A device that fails under it (deleted with `ip link del`, say) ends
/// the reader: every connection of the stack is aborted at once (its
/// reads and writes fail with `ConnectionAborted` instead of waiting out
/// TCP's timeouts, since no segment can come or go any more), and
/// [`TunDriver::failure`] says what happened. Other drivers and stacks
/// in the process are not touched.
pub struct TunDriver {
    stack: IpStack,
    tun: Arc<Tun>,
    reader: Option<JoinHandle<()>>,
    failure: Arc<OnceLock<(io::ErrorKind, String)>>,
}

impl TunDriver {
    /// Starts a stack with these addresses on `tun`. `cfg.mtu` is
    /// lowered to the device's MTU where it can be read (from the
    /// device's network namespace), so that the MSS advertised fits it.
    pub fn start(tun: Tun, cfg: StackConfig, addrs: &[IpAddr]) -> io::Result<Self> {
        Self::start_with(tun, cfg, addrs, false)
    }

    /// Starts a transparent stack on `tun` (see [`IpStack::transparent`]):
    /// TCP to any destination is its; `addrs` are the addresses it
    /// answers pings for and connects from.
    pub fn start_transparent(tun: Tun, cfg: StackConfig, addrs: &[IpAddr]) -> io::Result<Self> {
        Self::start_with(tun, cfg, addrs, true)
    }

    fn start_with(
        tun: Tun,
        mut cfg: StackConfig,
        addrs: &[IpAddr],
        transparent: bool,
    ) -> io::Result<Self> {
        // The MSS advertised fits the device (RFC 9293 §3.7.1). Its MTU
        // cannot be read from a thread outside the device's network
        // namespace (the ioctl finds no such device); the configured MTU
        // stands then.
        if let Ok(mtu) = tun.mtu() {
            cfg.mtu = cfg.mtu.min(mtu);
        }
        let tun = Arc::new(tun);
        let stack = {
            let t = Arc::clone(&tun);
            let s = if tun.offload() {
                let t2 = Arc::clone(&tun);
                IpStack::new_offloaded(
                    cfg,
                    addrs,
                    move |p| t.send(p),
                    move |header, segment, size| t2.send_super(header, segment, size),
                )?
            } else {
                IpStack::new(cfg, addrs, move |p| t.send(p))?
            };
            if transparent { s.transparent() } else { s }
        };
        let failure: Arc<OnceLock<(io::ErrorKind, String)>> = Arc::default();
        let reader = {
            let (tun, stack, failure) = (Arc::clone(&tun), stack.clone(), Arc::clone(&failure));
            std::thread::Builder::new()
                .name(format!("vtcp-tun-{}", tun.name()))
                .spawn(move || {
                    if let Err(e) = read_in_batches(&tun, &stack) {
                        let message = format!("{}: reading the device failed: {e}", tun.name());
                        let _ = failure.set((e.kind(), message));
                        abort_all(stack.net());
                    }
                })?
        };
        Ok(Self {
            stack,
            tun,
            reader: Some(reader),
            failure,
        })
    }

    /// Why the device stopped working, if it did: reading it failed (it
    /// was deleted, say), and every connection of the stack was aborted.
    /// `None` while it works, and after [`TunDriver::stop`].
    pub fn failure(&self) -> Option<io::Error> {
        self.failure
            .get()
            .map(|(kind, message)| io::Error::new(*kind, message.clone()))
    }

    /// The stack: bind listeners and connect streams on it.
    pub fn net(&self) -> &NetStack {
        self.stack.net()
    }

    /// The device's interface name.
    pub fn name(&self) -> &str {
        self.tun.name()
    }

    /// The driver's counters so far.
    pub fn counters(&self) -> DriverCounters {
        self.stack.counters()
    }

    /// The stack with its IP layer.
    pub fn ip(&self) -> &IpStack {
        &self.stack
    }

    /// Stops the reader thread and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.tun.stop();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for TunDriver {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The most packets the reader takes off the device for one batch.
pub const READ_BATCH: usize = 64;

/// The reader thread: waits for a packet, then takes those already
/// waiting without blocking, up to [`READ_BATCH`], and hands them to the
/// stack as one batch ([`IpStack::handle_ips`], which coalesces them), so
/// that a busy device costs one lock of the stack and one settle per
/// batch rather than per packet. The packets lie one after the other in
/// one buffer with room for a whole batch of the largest (64 KiB with
/// offloads): only the part a batch fills is ever touched. A packet
/// whose virtio-net header does not fit it is dropped and counted
/// (`dropped_vnet_header`); one whose checksum the kernel vouches for
/// (NEEDS_CSUM: it made the packet itself and left the sum to us, so
/// there is nothing to check; DATA_VALID) is neither completed nor
/// verified. Ends when the device is stopped (`Ok`) or fails (the
/// error).
fn read_in_batches(tun: &Tun, stack: &IpStack) -> io::Result<()> {
    let room = crate::device::VNET_HDR_LEN + 65_536;
    let mut buf = vec![0u8; READ_BATCH * room];
    let mut spans: Vec<(usize, usize, bool)> = Vec::with_capacity(READ_BATCH);
    loop {
        spans.clear();
        let mut used = 0;
        while spans.len() < READ_BATCH {
            let slot = &mut buf[used..used + room];
            let got = if spans.is_empty() {
                tun.recv_checked(slot)?
            } else {
                // A failure here shows again on the next blocking read,
                // after this batch is handed over.
                tun.try_recv_checked(slot).ok().flatten()
            };
            let r = match got {
                None => break,
                Some(Ok(r)) => r,
                Some(Err(_)) => {
                    // The slot is taken again by the next packet.
                    stack.counts.bump(Counts::IN);
                    stack.counts.bump(Counts::DROPPED_VNET);
                    continue;
                }
            };
            let trusted = r.checksum_trusted();
            if !trusted {
                r.complete_checksum(slot);
            }
            spans.push((used + r.start, used + r.end, trusted));
            used += r.end;
        }
        if spans.is_empty() {
            // Stopped.
            return Ok(());
        }
        stack.handle_received(
            spans
                .iter()
                .map(|&(start, end, trusted)| (&buf[start..end], trusted)),
        );
    }
}

/// Aborts every connection of `net`: its device is gone, so nothing can
/// come or go, and the application hears it now (`ConnectionAborted`)
/// rather than when TCP's timers run out.
fn abort_all(net: &NetStack) {
    net.with_stack(|stack, _| {
        let keys: Vec<ConnKey> = stack.conns().map(|(key, _)| key).collect();
        for key in keys {
            if let Some(conn) = stack.conn_mut(key) {
                conn.abort();
            }
        }
    });
}
