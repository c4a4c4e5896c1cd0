//! ICMP and ICMPv6 errors of any type, code and quote through the
//! stack's entry point (`Stack::handle_icmp`): never a panic, the quote
//! parser reads at most what it is given, and whatever an error does to
//! a connection (abort, a smaller MSS, a soft error kept), the
//! connection keeps its invariants (checked by its `debug_assert!`s) as
//! it goes on sending and timing out. Raw octets go through vtcp-tun's
//! `classify` too, as a device would hand them over.
//!
//! The connection is one the target opens itself (SYN-SENT, or
//! ESTABLISHED after a SYN-ACK built here, with data in flight); a quote
//! can be aimed at it (its ports and a sequence number near its ISS) so
//! that the checks past RFC 5927's are reached.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::Verdict;
use arbitrary::Arbitrary;
use vtcp::icmp::{IcmpError, IcmpReport, QuotedTcp};
use vtcp::{Stack, StackConfig};
use vtcp_seq::Seq;
use vtcp_tun::ip::{self, Inbound, Local};
use vtcp_wire::checksum::{PseudoHeader, fill_tcp_checksum};
use vtcp_wire::{Flags, Options, Segment, TcpOption};

const US: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));

#[derive(Arbitrary, Debug)]
struct Error {
    ipv6: bool,
    icmp_type: u8,
    code: u8,
    rest: u32,
    /// Aim the quote at the connection: its ports and ISS + this.
    aim: Option<i16>,
    quoted: Vec<u8>,
    /// Milliseconds after the previous step.
    after: u16,
}

#[derive(Arbitrary, Debug)]
struct Input {
    established: bool,
    to_send: u16,
    errors: Vec<Error>,
    raw: Vec<u8>,
}

/// Runs one input.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: Input| {
        let mut stack = Stack::new({
            let mut c = StackConfig::default();
            c.cookie_key = [1; 16];
            c.isn_key = [2; 16];
            c
        });
        let mut now = Duration::from_secs(1);
        let key = stack
            .connect(now, US, SocketAddr::new(PEER, 80))
            .expect("a connection");
        let mut buf = vec![0u8; 70_000];
        let iss = stack.conn(key).expect("it").iss();
        while stack.poll_transmit(now, &mut buf).is_some() {}
        if input.established {
            let syn_ack = Segment {
                src_port: 80,
                dst_port: key.local.port(),
                seq: Seq(5_000),
                ack: iss + 1,
                flags: Flags::SYN | Flags::ACK,
                window: 65_535,
                options: Options::build(&[TcpOption::Mss(1460)]).expect("options"),
                payload: &[][..],
                ..Segment::default()
            };
            let mut bytes = syn_ack.to_bytes();
            fill_tcp_checksum(&PseudoHeader::new(PEER, US).expect("v4"), &mut bytes);
            stack.handle_packet(now, PEER, US, &bytes);
            if let Some(conn) = stack.conn_mut(key) {
                let _ = conn.write(&vec![7; usize::from(input.to_send)]);
            }
            while stack.poll_transmit(now, &mut buf).is_some() {}
        }
        for e in input.errors.iter().take(32) {
            now += Duration::from_millis(u64::from(e.after));
            stack.handle_timeout(now);
            let error = if e.ipv6 {
                IcmpError::from_icmpv6(e.icmp_type, e.code, e.rest)
            } else {
                IcmpError::from_icmpv4(e.icmp_type, e.code, e.rest)
            };
            let Some(error) = error else { continue };
            let mut quoted = e.quoted.clone();
            if let Some(off) = e.aim {
                quoted.resize(quoted.len().max(QuotedTcp::MIN_LEN), 0);
                quoted[..2].copy_from_slice(&key.local.port().to_be_bytes());
                quoted[2..4].copy_from_slice(&80u16.to_be_bytes());
                let seq = iss.0.wrapping_add_signed(i32::from(off));
                quoted[4..8].copy_from_slice(&seq.to_be_bytes());
            }
            let parsed = QuotedTcp::parse(&quoted);
            assert_eq!(parsed.is_ok(), quoted.len() >= QuotedTcp::MIN_LEN);
            stack.handle_icmp(
                now,
                &IcmpReport {
                    error,
                    src: US,
                    dst: PEER,
                    quoted: &quoted,
                },
            );
            while let Some(t) = stack.poll_transmit(now, &mut buf) {
                assert!(t.len <= buf.len());
            }
        }
        // Raw octets as a device reads them.
        let mut reply = Vec::new();
        if let Inbound::IcmpError(report) = ip::classify(&input.raw, Local::only(&[US]), &mut reply)
        {
            stack.handle_icmp(now, &report);
        }
        now += Duration::from_secs(120);
        stack.handle_timeout(now);
        while stack.poll_transmit(now, &mut buf).is_some() {}
    })
}
