//! A packetdrill script runner over vtcp's sans-IO [`vtcp::Stack`].
//!
//! Design: a script ([`script`]) is parsed into timed lines; the runner
//! ([`mod@run`]) plays them on a virtual clock against one stack, making
//! the system calls on the facade's socket layer ([`vtcp::socket`], the
//! one `NetStack`'s sockets use), injecting `<` segments with
//! `handle_packet` and ICMP errors (`< icmp …`, [`mod@icmp`]) with
//! `handle_icmp`, and checking every segment the stack sends against the
//! next `>` line ([`packet`]): every field, its time within the script's
//! tolerance, and that nothing else was sent. A [`Profile`] holds what a
//! suite's operating system takes for granted and maps its `sysctl`s onto
//! engine settings: [`Profile::freebsd`] (FreeBSD's buffers, MSS, 100 ms
//! delayed ACK, `net.inet.tcp.*`) for freebsd-net/tcp-testsuite, and
//! [`Profile::linux`] (quick ACKs, a 40 ms delayed ACK, a 200 ms RTO
//! floor, Linux's SYN options, `net.ipv4.tcp_*`, `TCP_INFO` fields) for
//! google/packetdrill's Linux scripts, in which an expected TSO
//! super-segment is matched by the MSS-sized segments that tile it
//! (`vtcp drill --profile linux`). No root, no device, deterministic.
//!
//! Each script ends as [`Outcome::Pass`], [`Outcome::Differs`] (only in
//! what is the operating system's own choice: the window offered, the
//! MSS and window-scale values, the order of options, the times of a
//! retransmission timer's identical segments), [`Outcome::Fail`]
//! (the first mismatch), [`Outcome::Unsupported`] (the construct
//! named) or [`Outcome::Malformed`] (the script does not parse as
//! packetdrill's syntax: line and reason).
//!
//! ```
//! use vtcp_drill::{Outcome, Profile, run_text};
//!
//! let script = "\
//! --tolerance_usecs=10000
//!  0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//! +0.00 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
//! +0.00 bind(3, ..., ...) = 0
//! +0.00 listen(3, 1) = 0
//! +0.00 < S 0:0(0) win 32767 <mss 1460,sackOK,eol,eol>
//! +0.00 > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK>
//! +0.01 < . 1:1(0) ack 1 win 32767
//! +0.00 accept(3, ..., ...) = 4
//! ";
//! assert_eq!(run_text(script, Profile::freebsd()), Ok(Outcome::Pass));
//! ```

pub mod icmp;
pub mod packet;
pub mod profile;
pub mod run;
pub mod script;
pub mod suite;

pub use profile::Profile;
pub use run::{Outcome, run};
pub use script::{ParseError, Script, parse};

/// Parses and runs one script's text.
pub fn run_text(text: &str, profile: Profile) -> Result<Outcome, ParseError> {
    let script = script::parse_with(text, profile.defines, &profile.values)?;
    Ok(run(&script, profile))
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
