//! TCP SYN cookies, and TCP Fast Open server cookies under the same secret
//! ([`SynCookies::fast_open_cookie`]).
//!
//! Under a SYN flood a listener cannot keep state for every half-open
//! connection. With SYN cookies it keeps none: the SYN-ACK's sequence number
//! (our ISN) carries what the connection needs, under a MAC, and a valid
//! ACK (acknowledging ISN + 1) re-creates the connection.
//!
//! The 32-bit cookie is laid out as:
//!
//! | bits | content |
//! |---|---|
//! | 31–27 | the time counter (64-second ticks) modulo 32 |
//! | 26–25 | the peer's MSS, as an index into [`MSS_TABLE_V4`] or [`MSS_TABLE_V6`], rounded down |
//! | 24–0 | SipHash-2-4 of the secret over the 4-tuple, the peer's ISN, the full counter and the MSS index, truncated to 25 bits |
//!
//! A cookie is accepted for the counter it was made in and the two before
//! (so for 128 to 192 seconds). A forged ACK passes with probability
//! 3/32 · 2^-25 ≈ 2.8·10^-9 (the counter bits must be one of the three
//! accepted values, then the MAC must match); the tests measure it over
//! 10^7 tries.
//!
//! The crate is IP-agnostic: the caller passes the addresses as bytes (4
//! for IPv4, 16 for IPv6), and the cookie binds them.
//!
//! When the SYN carried timestamps, our TSval's low 6 bits
//! carry the peer's window scale (4 bits, 15 = none) and SACK-permitted (1
//! bit), as Linux does, so a cookie connection keeps them; the ACK echoes
//! them back in TSecr. Without timestamps, a cookie connection goes without
//! window scaling and SACK.
//!
//! ```
//! use core::time::Duration;
//! use vtcp_cookie::{Addrs, SynAckParams, SynCookies};
//! use vtcp_wire::{Flags, Options, Segment, TcpOption};
//!
//! let cookies = SynCookies::new([7; 16]);
//! let addrs = Addrs { local: &[198, 18, 0, 2], remote: &[198, 18, 0, 1] };
//! let syn = Segment {
//!     src_port: 41672,
//!     dst_port: 7000,
//!     seq: 1000.into(),
//!     flags: Flags::SYN,
//!     options: Options::build(&[TcpOption::Mss(1460)]).unwrap(),
//!     payload: &[][..],
//!     ..Default::default()
//! };
//! let now = Duration::from_secs(1_000);
//! let synack = cookies.generate_synack(&syn, addrs, &SynAckParams::default(), now);
//!
//! let ack = Segment {
//!     src_port: 41672,
//!     dst_port: 7000,
//!     seq: 1001.into(),
//!     ack: synack.seq + 1,
//!     flags: Flags::ACK,
//!     payload: &[][..],
//!     ..Default::default()
//! };
//! let accepted = cookies.validate_ack(&ack, addrs, now + Duration::from_secs(5)).unwrap();
//! assert_eq!(accepted.mss, 1460);
//! assert_eq!(accepted.remote_isn, 1000.into());
//! ```
#![no_std]
#![forbid(unsafe_code)]

use core::time::Duration;

mod fastopen;

pub use fastopen::FAST_OPEN_COOKIE_LEN;
use siphasher::sip::SipHasher24;
use vtcp_seq::Seq;
use vtcp_wire::{Flags, Offer, Options, Segment, TcpOption};

/// MSS values a cookie can carry for IPv4 peers (index = 2 bits).
pub const MSS_TABLE_V4: [u16; 4] = [536, 1300, 1440, 1460];
/// MSS values a cookie can carry for IPv6 peers.
pub const MSS_TABLE_V6: [u16; 4] = [1220, 1420, 1440, 8940];

/// Length of one counter tick.
pub const COUNTER_PERIOD: Duration = Duration::from_secs(64);
/// How many ticks old a cookie may be and still be accepted.
pub const MAX_AGE: u32 = 2;

const COUNTER_SHIFT: u32 = 27;
const MSS_SHIFT: u32 = 25;
const MAC_MASK: u32 = (1 << MSS_SHIFT) - 1;
/// Low TSval bits that carry options (RFC 7323 permits any TSval clock).
const TS_OPTION_BITS: u32 = 6;
const TS_NO_WSCALE: u32 = 0xf;
const TS_SACK: u32 = 1 << 4;

/// The connection's addresses, as the caller's IP layer has them: 4 bytes
/// for IPv4, 16 for IPv6. Which table of MSS values applies follows from
/// the length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Addrs<'a> {
    /// Our address.
    pub local: &'a [u8],
    /// The peer's address.
    pub remote: &'a [u8],
}

impl Addrs<'_> {
    fn mss_table(&self) -> &'static [u16; 4] {
        if self.remote.len() == 16 {
            &MSS_TABLE_V6
        } else {
            &MSS_TABLE_V4
        }
    }
}

/// Why an ACK's cookie was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// The segment is not a plain ACK (SYN or RST set, or no ACK).
    #[error("not an ACK without SYN or RST")]
    NotAnAck,
    /// The cookie's counter is not one of the accepted ones.
    #[error("the cookie has expired")]
    Expired,
    /// The MAC does not match: forged, or for another 4-tuple or secret.
    #[error("the cookie's MAC does not match")]
    BadMac,
}

/// What we put in a SYN-ACK besides the cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynAckParams {
    /// Our MSS, advertised in the SYN-ACK.
    pub mss: u16,
    /// Our receive window (unscaled, as SYN-ACKs carry it).
    pub window: u16,
    /// The options we are willing to use (our configuration's
    /// `ConnConfig::offer()`): each goes into the SYN-ACK only if the SYN
    /// offered it too ([`OptionValues::agree`](vtcp_wire::OptionValues::agree)),
    /// and window scaling and SACK only with timestamps, whose bits carry
    /// them through the cookie.
    pub offer: Offer,
    /// Our timestamp clock, for the TSval when the SYN carried timestamps.
    pub ts_clock: u32,
}

impl Default for SynAckParams {
    fn default() -> Self {
        Self {
            mss: 1460,
            window: 65535,
            offer: Offer {
                window_scale: Some(7),
                sack: true,
                timestamps: true,
            },
            ts_clock: 0,
        }
    }
}

/// What a valid cookie ACK tells about the connection to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieAck {
    /// The peer's MSS, rounded down to a table value.
    pub mss: u16,
    /// The peer's ISN (the ACK's sequence number less one).
    pub remote_isn: Seq,
    /// Our ISN: the cookie.
    pub local_isn: Seq,
    /// The peer's window-scale shift, when timestamps carried it.
    pub wscale: Option<u8>,
    /// The peer allowed SACK, when timestamps carried it.
    pub sack_permitted: bool,
    /// The timestamps option of the ACK, if any.
    pub timestamp: Option<vtcp_wire::Timestamp>,
}

/// A listener's cookie secret, with the one before it for rotation.
#[derive(Clone)]
pub struct SynCookies {
    current: SipHasher24,
    previous: Option<SipHasher24>,
}

impl core::fmt::Debug for SynCookies {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The keys are secret.
        f.debug_struct("SynCookies").finish_non_exhaustive()
    }
}

/// The time counter for `now`.
fn counter(now: Duration) -> u32 {
    (now.as_secs() / COUNTER_PERIOD.as_secs()) as u32
}

/// The largest table value not above `mss`, as its index (index 0 when
/// `mss` is below every value).
fn mss_index(table: &[u16; 4], mss: u16) -> u32 {
    table.iter().rposition(|&v| v <= mss).unwrap_or(0) as u32
}

impl SynCookies {
    /// Cookies under a 128-bit SipHash key. Draw it from a
    /// cryptographically secure generator.
    pub fn new(key: [u8; 16]) -> Self {
        Self {
            current: SipHasher24::new_with_key(&key),
            previous: None,
        }
    }

    /// Replaces the secret; cookies made under the one before stay valid
    /// until their counter expires or the next rotation.
    pub fn rotate(&mut self, key: [u8; 16]) {
        self.previous = Some(core::mem::replace(
            &mut self.current,
            SipHasher24::new_with_key(&key),
        ));
    }

    fn mac(
        hasher: &SipHasher24,
        addrs: Addrs<'_>,
        ports: (u16, u16),
        remote_isn: Seq,
        count: u32,
        mss_idx: u32,
    ) -> u32 {
        // 23 bytes for IPv4, 47 for IPv6: as few SipHash blocks as the
        // fields allow.
        let mut input = [0u8; 48];
        let mut at = 0;
        for part in [
            addrs.local,
            addrs.remote,
            &ports.0.to_be_bytes(),
            &ports.1.to_be_bytes(),
            &remote_isn.0.to_be_bytes(),
            &count.to_be_bytes(),
        ] {
            // Addresses longer than IPv6's are cut to 16 bytes: the crate
            // takes bytes from its caller and must not panic on them.
            let part = &part[..part.len().min(16)];
            input[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        input[at] = mss_idx as u8;
        // The address lengths, so that different splits of the same bytes
        // give different inputs.
        input[at + 1] = addrs.local.len().min(16) as u8;
        input[at + 2] = addrs.remote.len().min(16) as u8;
        (hasher.hash(&input[..at + 3]) as u32) & MAC_MASK
    }

    /// The cookie (our ISN) for a SYN from `remote_port` with sequence
    /// number `remote_isn` and MSS `peer_mss`, to `local_port`, at `now`.
    pub fn cookie(
        &self,
        addrs: Addrs<'_>,
        local_port: u16,
        remote_port: u16,
        remote_isn: Seq,
        peer_mss: u16,
        now: Duration,
    ) -> Seq {
        let count = counter(now);
        let idx = mss_index(addrs.mss_table(), peer_mss);
        let mac = Self::mac(
            &self.current,
            addrs,
            (local_port, remote_port),
            remote_isn,
            count,
            idx,
        );
        Seq(((count % 32) << COUNTER_SHIFT) | (idx << MSS_SHIFT) | mac)
    }

    /// Checks a cookie returned in an ACK; gives the peer's MSS.
    pub fn check(
        &self,
        addrs: Addrs<'_>,
        local_port: u16,
        remote_port: u16,
        remote_isn: Seq,
        cookie: Seq,
        now: Duration,
    ) -> Result<u16, CookieError> {
        let now_count = counter(now);
        let low = cookie.0 >> COUNTER_SHIFT;
        // The full counter is the latest one not after now with these low
        // bits; it must be at most MAX_AGE ticks old.
        let age = now_count.wrapping_sub(low) % 32;
        if age > MAX_AGE {
            return Err(CookieError::Expired);
        }
        let count = now_count.wrapping_sub(age);
        let idx = (cookie.0 >> MSS_SHIFT) & 0b11;
        let mac = cookie.0 & MAC_MASK;
        let ports = (local_port, remote_port);
        let valid = |h: &SipHasher24| Self::mac(h, addrs, ports, remote_isn, count, idx) == mac;
        if valid(&self.current) || self.previous.as_ref().is_some_and(valid) {
            Ok(addrs.mss_table()[idx as usize])
        } else {
            Err(CookieError::BadMac)
        }
    }

    /// Our TSval for a cookie SYN-ACK: the clock with its low bits carrying
    /// the peer's window scale and SACK-permitted.
    pub fn encode_tsval(ts_clock: u32, wscale: Option<u8>, sack_permitted: bool) -> u32 {
        let ws = wscale.map_or(TS_NO_WSCALE, |w| u32::from(w.min(14)));
        let sack = if sack_permitted { TS_SACK } else { 0 };
        (ts_clock & !((1 << TS_OPTION_BITS) - 1)) | ws | sack
    }

    /// Reads back what [`SynCookies::encode_tsval`] put in a TSval.
    pub fn decode_tsecr(tsecr: u32) -> (Option<u8>, bool) {
        let ws = tsecr & 0xf;
        let wscale = (ws != TS_NO_WSCALE).then_some(ws.min(14) as u8);
        (wscale, tsecr & TS_SACK != 0)
    }

    /// The SYN-ACK answering `syn` with a cookie. Ports are taken from the SYN; options follow
    /// what it offered: MSS always; window scale, SACK-permitted and
    /// timestamps when it carried them and timestamps can keep the first two.
    pub fn generate_synack<P: AsRef<[u8]>>(
        &self,
        syn: &Segment<P>,
        addrs: Addrs<'_>,
        params: &SynAckParams,
        now: Duration,
    ) -> Segment<&'static [u8]> {
        let peer = syn.options.values();
        // RFC 9293 §3.7.1: without an MSS option, assume 536.
        let peer_mss = peer.mss.unwrap_or(536);
        let isn = self.cookie(addrs, syn.dst_port, syn.src_port, syn.seq, peer_mss, now);
        let mut list = [TcpOption::Nop; 6];
        let mut n = 0;
        list[n] = TcpOption::Mss(params.mss);
        n += 1;
        let agreed = peer.agree(&params.offer);
        if let Some(ts) = peer.timestamp.filter(|_| agreed.timestamps) {
            if agreed.sack {
                list[n] = TcpOption::SackPermitted;
                n += 1;
            }
            let peer_shift = agreed.window_scale.map(|(peer, _)| peer);
            let tsval = Self::encode_tsval(params.ts_clock, peer_shift, agreed.sack);
            list[n] = TcpOption::timestamp(tsval, ts.tsval);
            n += 1;
            if let Some((_, ours)) = agreed.window_scale {
                list[n] = TcpOption::Nop;
                list[n + 1] = TcpOption::WindowScale(ours);
                n += 2;
            }
        }
        Segment {
            src_port: syn.dst_port,
            dst_port: syn.src_port,
            seq: isn,
            ack: syn.seq + 1,
            flags: Flags::SYN | Flags::ACK,
            window: params.window,
            // At most 4 + 2 + 10 + 4 bytes: always fits.
            options: Options::build(&list[..n]).unwrap_or_default(),
            // No payload: the default's is empty.
            ..Segment::default()
        }
    }

    /// Validates the ACK that completes a cookie handshake: the cookie is its acknowledgment number less one.
    pub fn validate_ack<P: AsRef<[u8]>>(
        &self,
        ack: &Segment<P>,
        addrs: Addrs<'_>,
        now: Duration,
    ) -> Result<CookieAck, CookieError> {
        if !ack.flags.contains(Flags::ACK) || ack.flags.intersects(Flags::SYN | Flags::RST) {
            return Err(CookieError::NotAnAck);
        }
        let remote_isn = ack.seq - 1;
        let cookie = ack.ack - 1;
        let mss = self.check(addrs, ack.dst_port, ack.src_port, remote_isn, cookie, now)?;
        let timestamp = ack.options.timestamp();
        let (wscale, sack_permitted) =
            timestamp.map_or((None, false), |ts| Self::decode_tsecr(ts.tsecr));
        Ok(CookieAck {
            mss,
            remote_isn,
            local_isn: cookie,
            wscale,
            sack_permitted,
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    const V4: Addrs<'static> = Addrs {
        local: &[198, 18, 0, 2],
        remote: &[198, 18, 0, 1],
    };

    fn t(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// A SYN from 41672 to 7000 at 777 with MSS 1460, SACK-permitted,
    /// timestamps (TSval 12345) and window scale 10.
    fn syn_with_every_option() -> Segment<&'static [u8]> {
        Segment {
            src_port: 41672,
            dst_port: 7000,
            seq: Seq(777),
            flags: Flags::SYN,
            options: Options::build(&[
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::timestamp(12345, 0),
                TcpOption::Nop,
                TcpOption::WindowScale(10),
            ])
            .unwrap(),
            payload: &[][..],
            ..Default::default()
        }
    }

    /// The SYN-ACK's options, byte for byte: MSS, SACK-permitted,
    /// timestamps, NOP and window scale, with the SYN-ACK's window (the
    /// cookie SYN-ACK is what a peer sees of us: no stray padding).
    #[test]
    fn the_synack_carries_exactly_its_options_and_window() {
        let c = SynCookies::new([8; 16]);
        let syn = syn_with_every_option();
        let params = SynAckParams {
            window: 29_200,
            ..SynAckParams::default()
        };
        let sa = c.generate_synack(&syn, V4, &params, t(50));
        assert_eq!(sa.window, 29_200);
        let tsval = SynCookies::encode_tsval(0, Some(10), true);
        let want = Options::build(&[
            TcpOption::Mss(1460),
            TcpOption::SackPermitted,
            TcpOption::timestamp(tsval, 12345),
            TcpOption::Nop,
            TcpOption::WindowScale(7),
        ])
        .unwrap();
        assert_eq!(sa.options.as_bytes(), want.as_bytes());
        assert_eq!(sa.options.as_bytes().len(), 20);
    }

    /// The MAC covers the MSS index and every address byte: a cookie whose
    /// MSS bits were changed, or checked for addresses that differ in one
    /// byte (the last ones, next to the lengths the MAC also takes), is
    /// refused.
    #[test]
    fn the_mac_binds_the_mss_and_every_address_byte() {
        let c = SynCookies::new([3; 16]);
        let cookie = c.cookie(V4, 80, 40_000, Seq(5), 1460, t(100));
        assert_eq!(c.check(V4, 80, 40_000, Seq(5), cookie, t(100)), Ok(1460));
        for idx in 0..4u32 {
            let other = Seq((cookie.0 & !(0b11 << MSS_SHIFT)) | (idx << MSS_SHIFT));
            if other != cookie {
                assert!(c.check(V4, 80, 40_000, Seq(5), other, t(100)).is_err());
            }
        }
        let near = [
            Addrs {
                local: &[198, 18, 0, 3],
                remote: &[198, 18, 0, 1],
            },
            Addrs {
                local: &[198, 18, 0, 2],
                remote: &[198, 18, 0, 9],
            },
            Addrs {
                local: &[198, 18, 0, 2],
                remote: &[198, 18, 7, 1],
            },
        ];
        for addrs in near {
            assert!(c.check(addrs, 80, 40_000, Seq(5), cookie, t(100)).is_err());
        }
    }

    /// Only the counter's low five bits travel in the cookie; the MAC
    /// binds the whole counter, so a cookie whose bits come round again
    /// (32 ticks of 64 s later, or 256) is refused, not taken as new.
    #[test]
    fn a_cookie_whose_counter_comes_round_again_is_refused() {
        let c = SynCookies::new([4; 16]);
        let cookie = c.cookie(V4, 80, 40_000, Seq(5), 1460, t(100));
        assert_eq!(c.check(V4, 80, 40_000, Seq(5), cookie, t(100)), Ok(1460));
        for ticks in [32, 256] {
            let later = t(100 + ticks * 64);
            assert!(
                c.check(V4, 80, 40_000, Seq(5), cookie, later).is_err(),
                "{ticks}"
            );
        }
    }

    #[test]
    fn debug_shows_no_key() {
        extern crate std;
        let text = std::format!("{:?}", SynCookies::new([0x5a; 16]));
        assert_eq!(text, "SynCookies { .. }");
    }

    #[test]
    fn round_trip_gives_the_rounded_down_mss() {
        let c = SynCookies::new([1; 16]);
        for (mss, want) in [
            (1460, 1460),
            (1500, 1460),
            (1459, 1440),
            (1300, 1300),
            (1000, 536),
            (100, 536),
        ] {
            let cookie = c.cookie(V4, 7000, 41672, Seq(5), mss, t(100));
            assert_eq!(
                c.check(V4, 7000, 41672, Seq(5), cookie, t(100)),
                Ok(want),
                "mss {mss}"
            );
        }
        let v6 = Addrs {
            local: &[0xfd; 16],
            remote: &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        };
        let cookie = c.cookie(v6, 7000, 41672, Seq(5), 9000, t(100));
        assert_eq!(c.check(v6, 7000, 41672, Seq(5), cookie, t(100)), Ok(8940));
        let cookie = c.cookie(v6, 7000, 41672, Seq(5), 1400, t(100));
        assert_eq!(c.check(v6, 7000, 41672, Seq(5), cookie, t(100)), Ok(1220));
    }

    #[test]
    fn accepted_for_two_counter_values_then_expired() {
        let c = SynCookies::new([2; 16]);
        let made = t(64 * 1000 + 63);
        let cookie = c.cookie(V4, 1, 2, Seq(3), 1460, made);
        for age in 0..=2 {
            assert!(
                c.check(V4, 1, 2, Seq(3), cookie, made + COUNTER_PERIOD * age)
                    .is_ok()
            );
        }
        assert_eq!(
            c.check(V4, 1, 2, Seq(3), cookie, made + COUNTER_PERIOD * 3),
            Err(CookieError::Expired)
        );
        // 32 ticks later the low bits match again; the MAC does not.
        assert_eq!(
            c.check(V4, 1, 2, Seq(3), cookie, made + COUNTER_PERIOD * 32),
            Err(CookieError::BadMac)
        );
        // A cookie from the future is not accepted either.
        assert!(
            c.check(V4, 1, 2, Seq(3), cookie, made - COUNTER_PERIOD)
                .is_err()
        );
    }

    #[test]
    fn bound_to_the_four_tuple_the_isn_and_the_secret() {
        let c = SynCookies::new([3; 16]);
        let cookie = c.cookie(V4, 7000, 41672, Seq(9), 1460, t(10));
        let other_remote = Addrs {
            remote: &[198, 18, 0, 3],
            ..V4
        };
        let other_local = Addrs {
            local: &[198, 18, 0, 4],
            ..V4
        };
        let swapped = Addrs {
            local: V4.remote,
            remote: V4.local,
        };
        for addrs in [other_remote, other_local, swapped] {
            assert_eq!(
                c.check(addrs, 7000, 41672, Seq(9), cookie, t(10)),
                Err(CookieError::BadMac)
            );
        }
        assert_eq!(
            c.check(V4, 7001, 41672, Seq(9), cookie, t(10)),
            Err(CookieError::BadMac)
        );
        assert_eq!(
            c.check(V4, 7000, 41673, Seq(9), cookie, t(10)),
            Err(CookieError::BadMac)
        );
        assert_eq!(
            c.check(V4, 7000, 41672, Seq(10), cookie, t(10)),
            Err(CookieError::BadMac)
        );
        let other = SynCookies::new([4; 16]);
        assert_eq!(
            other.check(V4, 7000, 41672, Seq(9), cookie, t(10)),
            Err(CookieError::BadMac)
        );
    }

    #[test]
    fn rotation_keeps_the_previous_secret_for_one_round() {
        let mut c = SynCookies::new([5; 16]);
        let old = c.cookie(V4, 1, 2, Seq(3), 1460, t(10));
        c.rotate([6; 16]);
        assert!(c.check(V4, 1, 2, Seq(3), old, t(10)).is_ok());
        let new = c.cookie(V4, 1, 2, Seq(3), 1460, t(10));
        assert!(c.check(V4, 1, 2, Seq(3), new, t(10)).is_ok());
        c.rotate([7; 16]);
        assert_eq!(
            c.check(V4, 1, 2, Seq(3), old, t(10)),
            Err(CookieError::BadMac)
        );
        assert!(c.check(V4, 1, 2, Seq(3), new, t(10)).is_ok());
    }

    #[test]
    fn forged_acks_pass_no_more_often_than_the_mac_allows() {
        // 10^7 random cookies against one 4-tuple. Each passes with
        // probability 3/32 · 2^-25 ≈ 2.8·10^-9, so about 0.028 are expected;
        // more than 3 would happen by chance with probability below 10^-7.
        let c = SynCookies::new(*b"a secret of 16 b");
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut accepted = 0;
        let mut mac_checked = 0u32;
        for _ in 0..10_000_000u32 {
            // xorshift64*: a fast, fixed-seed stream of forgeries.
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let forged = Seq((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32);
            match c.check(V4, 7000, 41672, Seq(1234), forged, t(1_000_000)) {
                Ok(_) => accepted += 1,
                Err(CookieError::BadMac) => mac_checked += 1,
                Err(_) => {}
            }
        }
        assert!(accepted <= 3, "{accepted} forged cookies accepted");
        // About 3/32 of forgeries reach the MAC.
        assert!((900_000..1_000_000).contains(&mac_checked), "{mac_checked}");
    }

    #[test]
    fn synack_and_ack_with_timestamps_keep_window_scale_and_sack() {
        let c = SynCookies::new([8; 16]);
        let syn = syn_with_every_option();
        let params = SynAckParams {
            ts_clock: 0xabcd_ef00,
            ..SynAckParams::default()
        };
        let sa = c.generate_synack(&syn, V4, &params, t(50));
        assert_eq!((sa.src_port, sa.dst_port, sa.ack), (7000, 41672, Seq(778)));
        assert!(sa.has_flag(Flags::SYN | Flags::ACK));
        let v = sa.options.values();
        assert_eq!(
            (v.mss, v.wscale, v.sack_permitted),
            (Some(1460), Some(7), true)
        );
        let ts = v.timestamp.unwrap();
        assert_eq!(ts.tsecr, 12345);
        let ack = Segment {
            src_port: 41672,
            dst_port: 7000,
            seq: Seq(778),
            ack: sa.seq + 1,
            flags: Flags::ACK,
            options: Options::build(&[
                TcpOption::Nop,
                TcpOption::Nop,
                TcpOption::timestamp(12400, ts.tsval),
            ])
            .unwrap(),
            payload: &[][..],
            ..Default::default()
        };
        let got = c.validate_ack(&ack, V4, t(60)).unwrap();
        assert_eq!(got.mss, 1460);
        assert_eq!(got.remote_isn, Seq(777));
        assert_eq!(got.local_isn, sa.seq);
        assert_eq!((got.wscale, got.sack_permitted), (Some(10), true));
        // The same ACK with SYN or RST set, or without ACK, is refused.
        for flags in [Flags::ACK | Flags::SYN, Flags::ACK | Flags::RST, Flags::PSH] {
            let bad = Segment {
                flags,
                ..ack.clone()
            };
            assert_eq!(c.validate_ack(&bad, V4, t(60)), Err(CookieError::NotAnAck));
        }
    }

    #[test]
    fn without_timestamps_a_cookie_connection_has_no_scaling_or_sack() {
        let c = SynCookies::new([9; 16]);
        let syn = Segment {
            src_port: 1,
            dst_port: 2,
            seq: Seq(100),
            flags: Flags::SYN,
            options: Options::build(&[
                TcpOption::Mss(536),
                TcpOption::SackPermitted,
                TcpOption::WindowScale(3),
            ])
            .unwrap(),
            payload: &[][..],
            ..Default::default()
        };
        let sa = c.generate_synack(&syn, V4, &SynAckParams::default(), t(1));
        let v = sa.options.values();
        assert_eq!(
            (v.mss, v.wscale, v.sack_permitted, v.timestamp),
            (Some(1460), None, false, None)
        );
        let ack = Segment {
            src_port: 1,
            dst_port: 2,
            seq: Seq(101),
            ack: sa.seq + 1,
            flags: Flags::ACK,
            payload: &[][..],
            ..Default::default()
        };
        let got = c.validate_ack(&ack, V4, t(2)).unwrap();
        assert_eq!(
            (got.mss, got.wscale, got.sack_permitted),
            (536, None, false)
        );
    }

    quickcheck! {
        fn every_genuine_cookie_validates(key: u128, ports: (u16, u16), isn: u32, mss: u16, now: u32, later: u8) -> bool {
            let c = SynCookies::new(key.to_le_bytes());
            let now = Duration::from_secs(u64::from(now));
            let cookie = c.cookie(V4, ports.0, ports.1, Seq(isn), mss, now);
            let later = Duration::from_secs(u64::from(later) % (2 * 64));
            c.check(V4, ports.0, ports.1, Seq(isn), cookie, now + later).is_ok()
        }

        fn tsval_encoding_round_trips(clock: u32, ws: Option<u8>, sack: bool) -> bool {
            let ws = ws.map(|w| w % 15);
            let tsval = SynCookies::encode_tsval(clock, ws, sack);
            SynCookies::decode_tsecr(tsval) == (ws, sack) && tsval >> 6 == clock >> 6
        }

        fn odd_address_lengths_never_panic(local: alloc_free::Bytes, remote: alloc_free::Bytes, cookie: u32) -> bool {
            let c = SynCookies::new([0; 16]);
            let addrs = Addrs { local: &local.0[..local.1], remote: &remote.0[..remote.1] };
            let _ = c.check(addrs, 1, 2, Seq(3), Seq(cookie), t(0));
            let made = c.cookie(addrs, 1, 2, Seq(3), 1460, t(0));
            c.check(addrs, 1, 2, Seq(3), made, t(0)).is_ok()
        }
    }

    mod alloc_free {
        #[derive(Clone, Debug)]
        pub(super) struct Bytes(pub(super) [u8; 40], pub(super) usize);

        impl quickcheck::Arbitrary for Bytes {
            fn arbitrary(g: &mut quickcheck::Gen) -> Self {
                let mut b = [0u8; 40];
                for v in &mut b {
                    *v = u8::arbitrary(g);
                }
                Self(b, usize::arbitrary(g) % 41)
            }
        }
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
