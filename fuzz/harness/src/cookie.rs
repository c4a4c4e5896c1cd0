//! SYN cookies: arbitrary ACK segments never panic the validator; a cookie
//! made for any 4-tuple, ISN and MSS validates within its lifetime and
//! carries the MSS rounded down to a table value.

use core::time::Duration;

use crate::Verdict;
use vtcp_cookie::{Addrs, MSS_TABLE_V4, MSS_TABLE_V6, SynCookies};
use vtcp_seq::Seq;
use vtcp_wire::Segment;

/// Key, addresses, ports, ISN, MSS, times, and an ACK segment.
type Input = (
    [u8; 16],
    Vec<u8>,
    Vec<u8>,
    (u16, u16, u32, u16, u32, u8),
    Vec<u8>,
);

/// Runs one input, decoded as `cargo fuzz` decodes it.
pub fn run(data: &[u8]) -> Verdict {
    crate::typed(data, |input: Input| {
        let (key, local, remote, (lport, rport, isn, mss, now, later), segment) = input;
        let cookies = SynCookies::new(key);
        let addrs = Addrs {
            local: &local,
            remote: &remote,
        };
        let now = Duration::from_secs(u64::from(now));
        if let Ok(ack) = Segment::parse(&segment) {
            let _ = cookies.validate_ack(&ack, addrs, now);
        }
        let cookie = cookies.cookie(addrs, lport, rport, Seq(isn), mss, now);
        let later = now + Duration::from_secs(u64::from(later) % 128);
        let got = cookies
            .check(addrs, lport, rport, Seq(isn), cookie, later)
            .expect("a genuine cookie within its lifetime");
        let table = if remote.len() == 16 {
            MSS_TABLE_V6
        } else {
            MSS_TABLE_V4
        };
        assert!(table.contains(&got));
        assert!(got <= mss || got == table[0]);
    })
}
