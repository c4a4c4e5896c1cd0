//! What a suite's scripts take for granted about their operating system,
//! as engine configuration, and the `sysctl`s that map onto it.
//!
//! The FreeBSD profile: a 64 KiB receive space (the SYN's window 65535),
//! socket buffers up to `kern.ipc.maxsockbuf` (2 MiB: window scale 6),
//! MSS 1460 over IPv4 and 1440 over IPv6, a 100 ms delayed ACK
//! (`net.inet.tcp.delacktime`), SACK and RFC 1323 options on. What is
//! FreeBSD's own choice and cannot be configured (the order of SYN
//! options, say) shows up as "differs" in the results, never as a pass.

use std::time::Duration;

use vtcp::wire::{Flags, Segment};
use vtcp::{ConnConfig, State};

/// What an injected segment met: the context in which the engine's answer
/// is judged when the script expects no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Met {
    /// The injected segment's flags.
    pub flags: Flags,
    /// It lay wholly before RCV.NXT: sequence space already received.
    pub old: bool,
    /// The state of its connection before it arrived; `None`: no
    /// connection (a listener, or nothing).
    pub state: Option<State>,
    /// A socket of the script listens.
    pub listening: bool,
}

/// FreeBSD's keepalive timers, which a socket takes from the sysctls when
/// it is made (`net.inet.tcp.keep*`, milliseconds) and reports in seconds
/// (`getsockopt IPPROTO_TCP TCP_KEEP*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepTimers {
    /// Idle time before the first probe (`keepidle`).
    pub idle_ms: usize,
    /// Time between probes (`keepintvl`).
    pub interval_ms: usize,
    /// Time the handshake may take (`keepinit`).
    pub init_ms: usize,
    /// Probes before the connection is dropped (`keepcnt`).
    pub count: usize,
}

impl KeepTimers {
    /// FreeBSD's defaults: 2 hours, 75 s, 75 s, 8 probes.
    pub const FREEBSD: Self = Self {
        idle_ms: 7_200_000,
        interval_ms: 75_000,
        init_ms: 75_000,
        count: 8,
    };
}

/// The engine's settings for a script, changed by its `sysctl`s.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The operating system the suite was written for.
    pub name: &'static str,
    /// `#ifdef` names the runner keeps.
    pub defines: &'static [&'static str],
    /// Timestamps and window scaling (`net.inet.tcp.rfc1323`).
    pub rfc1323: bool,
    /// SACK (`net.inet.tcp.sack.enable`).
    pub sack: bool,
    /// `kern.ipc.maxsockbuf`: how far buffers may grow (window scale).
    pub max_sockbuf: usize,
    /// `net.inet.tcp.recvspace`: the receive window offered at first.
    pub recvspace: usize,
    /// `net.inet.tcp.sendspace`.
    pub sendspace: usize,
    /// The delayed-ACK time (`net.inet.tcp.delacktime`, milliseconds).
    pub delayed_ack: Duration,
    /// The RTO before any RTT sample (`net.inet.tcp.rexmit_initial`).
    pub initial_rto: Duration,
    /// RFC 793's RST rule instead of RFC 5961's (`insecure_rst`).
    pub insecure_rst: bool,
    /// RFC 793's SYN rule instead of RFC 5961's (`insecure_syn`).
    pub insecure_syn: bool,
    /// Drop segments with SYN and FIN (`net.inet.tcp.drop_synfin`).
    pub drop_synfin: bool,
    /// ICMP hard errors abort a connection in SYN-SENT
    /// (`net.inet.tcp.icmp_may_rst`, read when a connection is made).
    pub icmp_may_rst: bool,
    /// The IP fields of new connections: the listening socket's.
    pub ip: vtcp::IpFields,
    /// The local interface's MTU (`--mtu`); `None`: Ethernet's 1500.
    pub mtu: Option<u16>,
    /// Drop segments without timestamps once negotiated
    /// (`net.inet.tcp.tolerate_missing_ts=0`).
    pub require_timestamps: bool,
    /// The keepalive timers a new socket takes.
    pub keep_timers: KeepTimers,
    /// No TCP options at all in the SYN or SYN-ACK, not even the MSS
    /// (`TCP_NOOPT` on the socket that connects or listens).
    pub noopt: bool,
    /// SYN retransmissions from the third on carry the MSS option alone
    /// (`net.inet.tcp.rexmit_drop_options`).
    pub rexmit_drop_options: bool,
    /// The time a handshake may take (`TCP_KEEPINIT` of the socket that
    /// connects or listens: `ConnConfig::connect_timeout`); zero: no limit
    /// but the retransmissions'.
    pub keepinit: Duration,
    /// ECN (`net.inet.tcp.ecn.enable`: 0 off, 1 on, 2 accept only).
    pub ecn: vtcp::EcnMode,
    /// SYN retransmissions that still ask for ECN
    /// (`net.inet.tcp.ecn.maxretries`).
    pub ecn_maxretries: u32,
}

impl Profile {
    /// FreeBSD's defaults, as the FreeBSD TCP test suite sets them.
    pub fn freebsd() -> Self {
        Self {
            name: "freebsd",
            defines: &["STANDARD"],
            rfc1323: true,
            sack: true,
            max_sockbuf: 2 << 20,
            recvspace: 65_536,
            sendspace: 32_768,
            delayed_ack: Duration::from_millis(100),
            initial_rto: Duration::from_secs(1),
            insecure_rst: false,
            insecure_syn: false,
            drop_synfin: false,
            icmp_may_rst: true,
            ip: vtcp::IpFields::default(),
            mtu: None,
            require_timestamps: false,
            keep_timers: KeepTimers::FREEBSD,
            noopt: false,
            rexmit_drop_options: false,
            keepinit: Duration::from_millis(KeepTimers::FREEBSD.init_ms as u64),
            ecn: vtcp::EcnMode::Accept,
            ecn_maxretries: 1,
        }
    }

    /// The MSS FreeBSD advertises over IPv6 (`ipv6`) or IPv4: the MTU
    /// less the IP and TCP headers without options (RFC 9293 §3.7.1, RFC
    /// 8200 §5), 1460 and 1440 on Ethernet.
    pub fn mss(&self, ipv6: bool) -> u16 {
        let headers = if ipv6 { 60 } else { 40 };
        self.mtu.unwrap_or(1500).saturating_sub(headers)
    }

    /// The connection configuration for an IPv6 (`ipv6`) or IPv4 script.
    pub fn conn_config(&self, ipv6: bool) -> ConnConfig {
        {
            let mut config = ConnConfig::default();
            config.mss = self.mss(ipv6);
            config.enable_timestamps = self.rfc1323;
            config.window_scaling = self.rfc1323;
            config.enable_sack = self.sack;
            if self.noopt {
                // FreeBSD's TCP_NOOPT: the peer assumes 536 (1220 over
                // IPv6) without our MSS (RFC 9293 §3.7.1 MAY-3, MUST-15).
                config.mss_option = false;
                config.window_scaling = false;
                config.enable_timestamps = false;
                config.enable_sack = false;
            }
            // Auto-tuning offers 64 KiB at first, as recvspace does; the
            // buffer's size sets the window scale, as maxsockbuf does.
            config.recv_buffer = self.max_sockbuf;
            config.send_buffer = self.sendspace.max(vtcp::conn::SEND_BUFFER_FLOOR);
            config.auto_tune = true;
            config.delayed_ack = self.delayed_ack;
            config.syn_retries_with_options = self.rexmit_drop_options.then_some(2);
            config.connect_timeout = (!self.keepinit.is_zero()).then_some(self.keepinit);
            config.initial_rto = self.initial_rto;
            config.syn_option_order = vtcp::conn::SynOptionOrder::Bsd;
            config.rst_challenge = !self.insecure_rst;
            config.syn_challenge = !self.insecure_syn;
            config.drop_syn_fin = self.drop_synfin;
            config.require_timestamps = self.require_timestamps;
            config.icmp_hard_errors = self.icmp_may_rst;
            config.hop_limit = self.ip.hop_limit;
            config.traffic_class = self.ip.traffic_class;
            // FreeBSD's TIME-WAIT ignores RSTs (RFC 1337). It reopens on a
            // newer SYN, but the scripts' standard branch (`#ifdef
            // STANDARD`, the one kept) expects RFC 5961's challenge ACK.
            config.time_wait_ignores_rst = true;
            config.time_wait_reopen = false;
            // FreeBSD's RCV.WND is its buffer's room: the receive space
            // rounded up to whole segments (65,700 at MSS 1460), of which
            // an unscaled window field says 65,535.
            config.accept_unadvertised_room = true;
            config.initial_recv_window =
                self.recvspace.div_ceil(usize::from(self.mss(ipv6))) * usize::from(self.mss(ipv6));
            config.ecn = self.ecn;
            config.ecn_syn_retries = self.ecn_maxretries;
            config
        }
    }

    /// Why `sent`, which the script did not expect, is the operating
    /// system's own choice and not an RFC's, if it is: the RFC asks for
    /// the segment, the operating system sends none. Each rule names the
    /// section.
    pub fn unexpected_is_choice(&self, sent: &Segment<&[u8]>, met: &Met) -> Option<&'static str> {
        if self.name != "freebsd" {
            return None;
        }
        let bare = sent.payload.is_empty();
        if met.state.is_none()
            && met.listening
            && met.flags.contains(Flags::SYN | Flags::ACK)
            && sent.flags == Flags::RST
            && bare
        {
            return Some(
                "FreeBSD drops a SYN-ACK to a listener (as probably spoofed); RFC 9293 \
                 §3.10.7.2 answers any ACK in LISTEN with <SEQ=SEG.ACK><CTL=RST>, as we do",
            );
        }
        if met.old
            && matches!(met.state, Some(State::LastAck | State::Closing))
            && !met.flags.intersects(Flags::RST | Flags::SYN)
            && sent.flags == Flags::ACK
            && bare
        {
            return Some(
                "FreeBSD trims a segment of old sequence space to nothing and still takes its \
                 ACK (here: of our FIN, ending LAST-ACK or CLOSING silently); RFC 9293 \
                 §3.10.7.4 answers an unacceptable segment with an ACK and drops it, as we do",
            );
        }
        if met.state == Some(State::TimeWait)
            && !met.flags.contains(Flags::RST)
            && sent.flags == Flags::ACK
            && bare
        {
            return Some(
                "FreeBSD's TIME-WAIT answers only a retransmitted FIN (the suite's note 1); \
                 RFC 9293 §3.10.7.4 acknowledges an unacceptable segment, and a FIN, as we do",
            );
        }
        None
    }

    /// Applies `sysctl -w name=value`. `Ok(None)`: taken; `Ok(Some(why))`:
    /// taken with nothing to do (said why); `Err(why)`: the engine has no
    /// such setting, the script is unsupported.
    pub fn sysctl(&mut self, name: &str, value: &str) -> Result<Option<String>, String> {
        let n = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("sysctl {name}={value}: not a number"))
        };
        match name {
            "net.inet.tcp.rfc1323" => self.rfc1323 = n()? != 0,
            "net.inet.tcp.sack.enable" => self.sack = n()? != 0,
            "kern.ipc.maxsockbuf" => self.max_sockbuf = n()?,
            "net.inet.tcp.recvspace" => {
                self.recvspace = n()?;
                if self.recvspace != 65_536 {
                    return Err(format!(
                        "sysctl {name}={value}: the first window is auto-tuning's 64 KiB"
                    ));
                }
            }
            "net.inet.tcp.sendspace" => self.sendspace = n()?,
            "net.inet.tcp.hostcache.purgenow" => {
                return Ok(Some("no host cache".into()));
            }
            // RSTs are sent (no blackhole).
            "net.inet.tcp.insecure_rst" => self.insecure_rst = n()? != 0,
            "net.inet.tcp.insecure_syn" => self.insecure_syn = n()? != 0,
            "net.inet.tcp.drop_synfin" => self.drop_synfin = n()? != 0,
            "net.inet.tcp.icmp_may_rst" => self.icmp_may_rst = n()? != 0,
            "net.inet.tcp.blackhole" if n()? == 0 => {
                return Ok(None);
            }
            // Milliseconds (FreeBSD's ticks are milliseconds at the
            // default HZ of 1000); RFC 1122 §4.2.3.2 caps it at 500 ms.
            "net.inet.tcp.delacktime" => match n()? {
                ms @ 1..=500 => self.delayed_ack = Duration::from_millis(ms as u64),
                _ => {
                    return Err(format!(
                        "sysctl {name}={value}: a delayed-ACK time of 1 to 500 ms"
                    ));
                }
            },
            // SYN cookies beyond the listen queue, a syncache below it:
            // the stack's own way (`syncookies_only=1`, cookies always,
            // is not).
            "net.inet.tcp.syncookies" if n()? == 1 => return Ok(None),
            "net.inet.tcp.syncookies_only" if n()? == 0 => return Ok(None),
            // RFC 7323 §3.2: drop a segment without timestamps on a
            // connection that negotiated them (`ConnConfig::require_timestamps`).
            "net.inet.tcp.tolerate_missing_ts" => self.require_timestamps = n()? == 0,
            "net.inet.tcp.rexmit_initial" => {
                self.initial_rto = Duration::from_millis(n()? as u64);
            }
            // FreeBSD's RTO is at least rexmit_min + rexmit_slop, 30 ms +
            // 200 ms; the engine's floor is 200 ms.
            "net.inet.tcp.rexmit_slop" if n()? == 200 => {
                return Ok(Some("the RTO's floor is 200 ms".into()));
            }
            // Keepalive runs only on sockets that ask for it (SO_KEEPALIVE);
            // a new socket reads these back (`getsockopt TCP_KEEP*`).
            "net.inet.tcp.keepidle" => self.keep_timers.idle_ms = n()?,
            "net.inet.tcp.keepintvl" => self.keep_timers.interval_ms = n()?,
            "net.inet.tcp.keepinit" => self.keep_timers.init_ms = n()?,
            "net.inet.tcp.keepcnt" => self.keep_timers.count = n()?,
            // 1: the third retransmission of a SYN and later ones carry the
            // MSS option alone (`ConnConfig::syn_retries_with_options`).
            "net.inet.tcp.rexmit_drop_options" => self.rexmit_drop_options = n()? != 0,
            // RFC 3168: 0 off, 1 asked for and accepted, 2 accepted only
            // (`ConnConfig::ecn`).
            "net.inet.tcp.ecn.enable" => {
                self.ecn = match n()? {
                    0 => vtcp::EcnMode::Off,
                    1 => vtcp::EcnMode::On,
                    2 => vtcp::EcnMode::Accept,
                    _ => return Err(format!("sysctl {name}={value}")),
                }
            }
            // SYN retransmissions that still ask for ECN
            // (`ConnConfig::ecn_syn_retries`).
            "net.inet.tcp.ecn.maxretries" => {
                self.ecn_maxretries = u32::try_from(n()?).unwrap_or(u32::MAX);
            }
            _ => return Err(format!("sysctl {name}={value}")),
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `net.inet.tcp.delacktime` sets the delayed-ACK time of the
    /// connections a script makes; a time RFC 1122 forbids is refused.
    #[test]
    fn delacktime_sets_the_delayed_ack_time() {
        let mut p = Profile::freebsd();
        assert_eq!(p.sysctl("net.inet.tcp.delacktime", "40"), Ok(None));
        assert_eq!(p.conn_config(false).delayed_ack, Duration::from_millis(40));
        for bad in ["0", "501", "x"] {
            assert!(p.sysctl("net.inet.tcp.delacktime", bad).is_err(), "{bad}");
        }
        assert_eq!(p.delayed_ack, Duration::from_millis(40));
    }
}
