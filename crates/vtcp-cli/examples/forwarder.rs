//! A transparent TCP and UDP forwarder over a TUN device, on tokio: the
//! tun2proxy shape of a VPN endpoint. Every TCP flow that enters the
//! device is terminated by vtcp and spliced to a kernel connection to the
//! address it was going to; every UDP flow goes out through a kernel
//! socket of its own, and the answers come back from that address.
//!
//! ```sh
//! sudo cargo run -p vtcp-cli --example forwarder -- vtfwd0 vpn
//! sudo ip netns exec vpn curl http://198.51.100.7/  # any address, through vtcp
//! ```
//!
//! The device's kernel side lives in namespace `vpn` (created), whose
//! default route is the device; the forwarder's own sockets are in the
//! namespace it runs in, so they do not loop back into the device.
//! `VTCP_PCAP=FILE` captures vtcp's segments. Ctrl-C ends it.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use vtcp::async_net::TcpListener;
use vtcp_tun::IpStack;
use vtcp_tun::udp::{Datagram, UdpSender};

/// A UDP flow silent this long either way ends.
const UDP_IDLE: Duration = Duration::from_secs(30);
/// UDP flows at most; a datagram of a new flow beyond is dropped.
const UDP_FLOWS: usize = 1024;

/// Forwards every flow `ip` takes in (it must be transparent:
/// `TunDriver::start_transparent`) until the future is dropped.
pub(crate) async fn run(ip: IpStack) -> io::Result<()> {
    // UDP: the device's reader hands each datagram to a channel (it must
    // not wait), and a task per (source, destination) relays it.
    let (tx, mut rx) = mpsc::channel::<(SocketAddr, SocketAddr, Vec<u8>)>(1024);
    ip.set_udp_handler(Arc::new(move |d: Datagram<'_>| {
        let _ = tx.try_send((d.src, d.dst, d.payload.to_vec())); // full: dropped
    }));
    let sender = ip.udp_sender();
    tokio::spawn(async move {
        let mut flows: HashMap<(SocketAddr, SocketAddr), mpsc::Sender<Vec<u8>>> = HashMap::new();
        while let Some((src, dst, payload)) = rx.recv().await {
            flows.retain(|_, flow| !flow.is_closed());
            if flows.len() >= UDP_FLOWS && !flows.contains_key(&(src, dst)) {
                continue;
            }
            let flow = flows
                .entry((src, dst))
                .or_insert_with(|| udp_flow(src, dst, sender.clone()));
            let _ = flow.try_send(payload);
        }
    });
    // TCP: accept connections to any address, connect to that address.
    let listener = TcpListener::bind_transparent(ip.net(), 1024)?;
    loop {
        let (mut client, _) = listener.accept().await?;
        tokio::spawn(async move {
            let dest = client.local_addr()?;
            let upstream = tokio::time::timeout(
                Duration::from_secs(10),
                tokio::net::TcpStream::connect(dest),
            )
            .await;
            match upstream {
                Ok(Ok(mut upstream)) => {
                    copy_bidirectional(&mut client, &mut upstream).await?;
                }
                // Refused or unreachable: the client is reset.
                _ => client.abort(),
            }
            io::Result::Ok(())
        });
    }
}

/// A task relaying one UDP flow through a kernel socket connected to
/// `dst`; its answers go back to `src` as if from `dst`.
fn udp_flow(src: SocketAddr, dst: SocketAddr, sender: UdpSender) -> mpsc::Sender<Vec<u8>> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(async move {
        let any = if dst.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let socket = UdpSocket::bind(any).await?;
        socket.connect(dst).await?;
        let mut buf = vec![0u8; 65_536];
        loop {
            tokio::select! {
                Some(payload) = rx.recv() => { let _ = socket.send(&payload).await; }
                got = tokio::time::timeout(UDP_IDLE, socket.recv(&mut buf)) => match got {
                    Ok(Ok(n)) => { let _ = sender.send(dst, src, &buf[..n]); }
                    Ok(Err(_)) => {} // an ICMP error for an earlier datagram
                    Err(_) => return io::Result::Ok(()), // idle
                },
            }
        }
    });
    tx
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use vtcp_tun::netns::Netns;
    use vtcp_tun::{KernelSide, TunConfig, TunDriver};
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "vtfwd0".into());
    let ns = Netns::create_or_join(args.next().unwrap_or_else(|| "vpn".into()))?;
    // The namespace's side of the device: an address, and every route.
    let kernel = KernelSide::new()
        .addr([198, 18, 0, 1].into(), 24)
        .route("default");
    let tun =
        vtcp_tun::open_device(Some(&ns), &TunConfig::named(name.clone()), 1, &kernel)?.remove(0);
    let ours = [std::net::IpAddr::from([198, 18, 0, 2])];
    let driver = TunDriver::start_transparent(tun, vtcp::StackConfig::default(), &ours)?;
    if let Some(path) = std::env::var_os("VTCP_PCAP") {
        let start = driver.net().start_time();
        let pcap = vtcp::pcap::PcapWriter::starting_at(std::fs::File::create(path)?, start)?;
        driver.net().set_tap(Some(Box::new(pcap)));
    }
    eprintln!(
        "forwarding every flow of namespace {} through {name}",
        ns.name()
    );
    tokio::select! {
        done = run(driver.ip().clone()) => done?,
        _ = tokio::signal::ctrl_c() => {}
    }
    if let Some(mut pcap) = driver.net().set_tap(None) {
        pcap.finish()?;
    }
    eprintln!("{:?}", driver.counters());
    Ok(())
}
