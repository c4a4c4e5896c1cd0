//! An echo server on a TUN device, reachable with `nc` from the host.
//!
//! ```sh
//! sudo cargo run -p vtcp-tun --example echo            # creates vtcp0
//! nc 198.18.0.2 7                                      # in another shell
//! ```
//!
//! The device gets the host's address 198.18.0.1/24
//! (`vtcp_tun::configure_device`, what `ip addr add` would do); the vtcp
//! stack answers at 198.18.0.2 on port 7, and to `ping 198.18.0.2`.
//! Ctrl-C ends it.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use vtcp::{StackConfig, TcpListener};
use vtcp_tun::{KernelSide, Tun, TunConfig, TunDriver, configure_device};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "vtcp0".into());
    let tun = Tun::open(&TunConfig::named(name.clone()))?;
    // ip addr add 198.18.0.1/24 dev vtcp0 (over rtnetlink)
    let kernel = KernelSide::new().addr(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)), 24);
    configure_device(None, &name, &kernel)?;
    let ours = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    let driver = TunDriver::start(tun, StackConfig::default(), &[ours])?;
    let listener = TcpListener::bind(driver.net(), SocketAddr::new(ours, 7))?;
    eprintln!("echo on {ours}:7 through {name}; try `nc {ours} 7`");
    for stream in listener.incoming() {
        let mut stream = stream?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                if stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
