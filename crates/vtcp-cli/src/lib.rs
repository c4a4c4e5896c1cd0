//! The `vtcp` command line, as a library so that its parts are tested.
//!
//! - [`decode`]: `vtcp decode FILE`, a tcpdump-style listing with checksum
//!   status and a summary (captures are read by [`vtcp::pcap`]).
//! - [`sim`]: `vtcp sim`, a simulated transfer and its summary.
//! - [`drill`]: `vtcp drill`, packetdrill scripts against the engine.
//! - [`device`] (Linux): `vtcp serve | connect | forward`, vtcp on a TUN
//!   device facing the kernel.
//! - [`udp_relay`] (Linux): `vtcp forward`'s relay of UDP flows through
//!   kernel sockets.
#![forbid(unsafe_code)]

/// `eprintln!` that does not panic when standard error is closed (`vtcp
/// sim 2>&1 | head`, a service whose terminal went away): the message is
/// lost, the exit code says what happened.
#[macro_export]
macro_rules! complain {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

pub mod decode;
#[cfg(target_os = "linux")]
pub mod device;
pub mod drill;
pub mod plot;
pub mod sim;
#[cfg(target_os = "linux")]
pub mod udp_relay;

/// The user guide's examples (docs/user-guide.md), compiled as doctests
/// (and run where they need no device); its own crates' dev-dependencies
/// (`vtcp` with `tokio` and `pcap`, tokio, `tracing-subscriber`) serve them.
#[cfg(all(doctest, target_os = "linux"))]
#[doc = include_str!("../../../docs/user-guide.md")]
pub struct UserGuideDoctests;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
