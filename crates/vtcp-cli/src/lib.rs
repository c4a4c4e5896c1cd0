//! The `vtcp` command line, as a library so that its parts are tested.
//!
//! - [`capture`]: TCP segments out of pcap and pcapng files.
//! - [`decode`]: `vtcp decode FILE`, a tcpdump-style listing with checksum
//!   status and a summary.
//! - [`sim`]: `vtcp sim`, a simulated transfer and its summary.
#![forbid(unsafe_code)]

pub mod capture;
pub mod decode;
pub mod plot;
pub mod sim;
