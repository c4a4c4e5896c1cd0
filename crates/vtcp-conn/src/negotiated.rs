//! What the handshake settled (RFC 7323 window scaling and timestamps,
//! RFC 2018 SACK, RFC 9293 §3.7.1 the send MSS, RFC 3168 ECN), and the timestamp
//! clock and TS.Recent that timestamps bring.

use std::time::Duration;

use vtcp_wire::{Agreed, Offer, OptionValues};

use crate::ecn::EcnState;

/// The connection's negotiated options.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Negotiated {
    /// Shift applied to the peer's window fields.
    pub(crate) snd_wscale: u8,
    /// Shift applied to ours.
    pub(crate) rcv_wscale: u8,
    /// Window scaling was agreed (both shifts may still be 0).
    pub(crate) wscale_ok: bool,
    /// Timestamps on every segment (RFC 7323 §3.2).
    pub(crate) ts_ok: bool,
    /// TS.Recent (RFC 7323 §4.3).
    pub(crate) ts_recent: u32,
    /// When TS.Recent was set (PAWS forgets it after 24 days idle).
    pub(crate) ts_recent_at: Duration,
    /// Added to our millisecond clock for TSval (RFC 7323 §7.1).
    pub(crate) ts_offset: u32,
    /// SACK (RFC 2018).
    pub(crate) sack_ok: bool,
    /// The send MSS: data octets per segment.
    pub(crate) smss: u32,
    /// ECN (RFC 3168): whether the handshake set it up, and what it owes.
    pub(crate) ecn: EcnState,
}

impl Negotiated {
    /// Before the handshake: our shift, no options, and the send MSS
    /// assumed without an MSS option (`default_mss`).
    pub(crate) fn new(rcv_wscale: u8, ts_offset: u32, default_mss: u16, now: Duration) -> Self {
        Self {
            snd_wscale: 0,
            rcv_wscale,
            wscale_ok: false,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_at: now,
            ts_offset,
            sack_ok: false,
            smss: u32::from(default_mss),
            ecn: EcnState::default(),
        }
    }

    /// Our TSval at `now`.
    #[inline]
    pub(crate) fn ts_now(&self, now: Duration) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// What the peer's SYN offered (`v`) and we offer (`ours`)
    /// (`OptionValues::agree`: RFC 7323 §2.2 and §3.2, RFC 2018 §2).
    pub(crate) fn take_peer_syn(
        &mut self,
        ours: &Offer,
        v: &OptionValues,
        now: Duration,
    ) -> Agreed {
        let agreed = v.agree(ours);
        (self.snd_wscale, self.rcv_wscale) = agreed.window_scale.unwrap_or((0, 0));
        self.wscale_ok = agreed.window_scale.is_some();
        self.sack_ok = agreed.sack;
        self.ts_ok = agreed.timestamps;
        if let Some(ts) = v.timestamp.filter(|_| agreed.timestamps) {
            self.ts_recent = ts.tsval;
            self.ts_recent_at = now;
        }
        agreed
    }

    /// RFC 9293 §3.7.1 and RFC 6691: send MSS = min(peer's MSS, or
    /// `absent` when it sent none; `ours`), less the timestamps option
    /// carried on every segment. Absurd values are clamped to [64, 65495].
    pub(crate) fn set_smss(&mut self, peer: Option<u16>, ours: u16, absent: u16) {
        let peer = u32::from(peer.unwrap_or(absent)).clamp(64, 65_495);
        let ours = u32::from(ours).max(64);
        self.smss = peer.min(ours) - self.fixed_option_len();
    }

    /// RFC 9293 §3.7.1 (MUST-15): the send MSS assumed when the peer's SYN
    /// carries no MSS option, 536 over IPv4 and 1220 over IPv6 (the IP
    /// version is the remote address's; 536 when it is not known).
    pub(crate) fn default_mss(remote_addr: Option<std::net::IpAddr>) -> u16 {
        match remote_addr {
            Some(std::net::IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => 1220,
            _ => 536,
        }
    }

    /// What the handshake agreed, as the wire's [`Agreed`]: nothing
    /// before the peer's SYN arrived.
    pub(crate) fn agreed(&self) -> Agreed {
        Agreed {
            window_scale: self.wscale_ok.then_some((self.snd_wscale, self.rcv_wscale)),
            sack: self.sack_ok,
            timestamps: self.ts_ok,
        }
    }

    /// SACK blocks that fit beside the other options of an ACK (RFC 2018
    /// §3: three with timestamps, four without).
    pub(crate) fn sack_block_room(&self) -> usize {
        if self.ts_ok { 3 } else { 4 }
    }

    /// Octets of options on every segment after the handshake.
    pub(crate) fn fixed_option_len(&self) -> u32 {
        if self.ts_ok { 12 } else { 0 }
    }
}
