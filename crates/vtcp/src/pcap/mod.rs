//! Packet captures: writing the stack's segments to pcap files, and
//! reading pcap and pcapng files back down to their TCP segments, for
//! tshark, Wireshark, `vtcp decode` and the interop lab.
//!
//! - [`write`](mod@write): [`PcapWriter`], a [`Tap`](crate::Tap) that wraps each
//!   segment in the IP header `vtcp-tun` would send it in
//!   ([`crate::ip::wrap_tcp`]: DF set, TTL or hop limit 64) and appends
//!   it to a pcap file of raw IP packets. The stack is IP-agnostic, so the
//!   capture shows what a device would carry. Times are the stack's own
//!   (virtual time in a simulation, time since start for a
//!   [`NetStack`](crate::NetStack)) plus an offset: [`PcapWriter::new`]
//!   starts at the epoch of 1970, [`PcapWriter::starting_at`] at a
//!   wall-clock time.
//! - [`read`]: [`read_frames`], every frame of a pcap or pcapng file with
//!   its time and link type.
//! - [`frame`]: [`tcp_in_frame`], a frame's link and IP layers taken off
//!   down to its TCP segment and addresses (etherparse parses the IP
//!   layer, as in `vtcp-tun`).
//! - [`flows`]: [`Flows`] and [`retransmissions`], the one definition of
//!   a retransmission in a capture.
//!
//! The file formats are `pcap-parser`'s, its serializer writing and its
//! parser reading. Reading never panics on a file's bytes: what cannot be
//! read is a [`CaptureError`] for the file, a
//! [`FrameContent::Malformed`] for a frame.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//! use std::time::Duration;
//! use vtcp::pcap::{FrameContent, PcapWriter, read_frames, tcp_in_frame};
//! use vtcp::{Stack, StackConfig};
//!
//! // A tap on a stack captures every segment it sends and receives.
//! let mut stack = Stack::new(StackConfig::default());
//! stack.set_tap(Some(Box::new(PcapWriter::new(Vec::new())?)));
//! let (client, server) = (IpAddr::from([198, 18, 0, 1]), IpAddr::from([198, 18, 0, 2]));
//! stack.connect(Duration::ZERO, client, SocketAddr::new(server, 80))?;
//! let mut buf = [0u8; 1500];
//! let syn = stack.poll_transmit(Duration::ZERO, &mut buf).expect("a SYN");
//! stack.set_tap(None).expect("the tap").finish()?;
//!
//! // A writer used by hand, and its file read back: one frame, the SYN.
//! let mut writer = PcapWriter::new(Vec::new())?;
//! writer.write(Duration::ZERO, syn.src, syn.dst, &buf[..syn.len])?;
//! let file = writer.into_inner()?;
//! let frames = read_frames(&file)?;
//! let FrameContent::Tcp(tcp) = tcp_in_frame(frames[0].linktype, frames[0].data) else {
//!     panic!("not TCP");
//! };
//! assert_eq!((tcp.src, tcp.dst), (client, server));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod flows;
pub mod frame;
pub mod read;
pub mod write;

pub use flows::{Flows, retransmissions};
pub use frame::{FrameContent, TcpInIp, tcp_in_frame, tcp_in_ip};
pub use pcap_parser::Linktype;
pub use read::{CaptureError, Frame, Timestamp, read_frames};
pub use write::PcapWriter;
