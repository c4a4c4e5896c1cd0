//! What a suite's scripts take for granted about their operating system,
//! as engine configuration, and the `sysctl`s that map onto it.
//!
//! The FreeBSD profile: a 64 KiB receive space (the SYN's window 65535),
//! socket buffers up to `kern.ipc.maxsockbuf` (2 MiB: window scale 6),
//! MSS 1460 over IPv4 and 1440 over IPv6, a 100 ms delayed ACK
//! (`net.inet.tcp.delacktime`), SACK and RFC 1323 options on. What is
//! FreeBSD's own choice and cannot be configured (the order of SYN
//! options, say) shows up as "differs" in the results, never as a pass.
//!
//! The Linux profile ([`Profile::linux`]): the settings google/packetdrill's
//! Linux scripts run under (their `gtests/net/common/defaults.sh`) with
//! Linux's built-in constants: receive buffers up to `tcp_rmem`'s 15 MiB
//! (window scale 8), a first window of 65,535 rounded down to whole
//! segments, quick ACKs for the first 16 data segments, a 40 ms delayed
//! ACK, RTO at least 200 ms and 1 s before any sample, IW10, Cubic, SYN
//! options in Linux's order, RFC 1337 off; `net.ipv4.tcp_*` sysctls map
//! onto the engine where it has the setting. docs/conformance.md, "The
//! Linux profile", gives each value's source.

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
    /// Linux's defaults (`tcp_keepalive_time`, `_intvl`, `_probes`): 2
    /// hours, 75 s, 9 probes; Linux has no handshake limit of this kind
    /// (0: none; `TCP_SYNCNT` counts SYNs instead).
    pub const LINUX: Self = Self {
        idle_ms: 7_200_000,
        interval_ms: 75_000,
        init_ms: 0,
        count: 9,
    };
}

/// The operating system a profile stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Os {
    /// FreeBSD, as freebsd-net/tcp-testsuite's scripts expect it.
    FreeBsd,
    /// Linux, as google/packetdrill's `gtests/net` scripts expect it.
    Linux,
}

impl Os {
    /// Its name, for messages: `FreeBSD`, `Linux`.
    pub fn name(self) -> &'static str {
        match self {
            Self::FreeBsd => "FreeBSD",
            Self::Linux => "Linux",
        }
    }
}

/// The engine's settings for a script, changed by its `sysctl`s.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The operating system the suite was written for.
    pub name: &'static str,
    /// `#ifdef` names the runner keeps.
    pub defines: &'static [&'static str],
    /// `-D NAME=VALUE` values (packetdrill's `--define`): every `NAME`
    /// word of a script stands for `VALUE`. A script's own `--define`
    /// lines add to them.
    pub values: Vec<(String, String)>,
    /// The operating system: what its rules for unexpected segments and
    /// its socket layer's habits are.
    pub os: Os,
    /// Timestamps (`net.inet.tcp.rfc1323`, `net.ipv4.tcp_timestamps`).
    pub timestamps: bool,
    /// Window scaling (`net.inet.tcp.rfc1323`,
    /// `net.ipv4.tcp_window_scaling`).
    pub window_scaling: bool,
    /// SACK (`net.inet.tcp.sack.enable`).
    pub sack: bool,
    /// `kern.ipc.maxsockbuf` (Linux: `tcp_rmem`'s maximum): how far
    /// buffers may grow (window scale).
    pub max_sockbuf: usize,
    /// `net.inet.tcp.recvspace`: the receive window offered at first.
    pub recvspace: usize,
    /// `net.inet.tcp.sendspace` (Linux: `tcp_wmem`'s default).
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
    /// The RTO's floor (Linux's `TCP_RTO_MIN`, `net.ipv4.tcp_rto_min_us`).
    pub min_rto: Duration,
    /// In-order data segments ACKed at once at a connection's start
    /// (Linux's quick-ACK mode: `ConnConfig::quick_acks`).
    pub quick_acks: u8,
    /// Retransmissions before a connection times out (Linux's
    /// `tcp_retries2`); `None`: the engine's default.
    pub max_retries: Option<u32>,
    /// The congestion controller (`net.ipv4.tcp_congestion_control`);
    /// `None`: the engine's default.
    pub congestion: Option<Congestion>,
    /// ECN (`net.inet.tcp.ecn.enable`: 0 off, 1 on, 2 accept only).
    pub ecn: vtcp::EcnMode,
    /// SYN retransmissions that still ask for ECN
    /// (`net.inet.tcp.ecn.maxretries`).
    pub ecn_maxretries: u32,
}

/// The congestion controllers a script may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Congestion {
    /// `reno`: NewReno.
    Reno,
    /// `cubic`.
    Cubic,
    /// `bbr`.
    Bbr,
}

impl Profile {
    /// FreeBSD's defaults, as the FreeBSD TCP test suite sets them.
    pub fn freebsd() -> Self {
        Self {
            name: "freebsd",
            os: Os::FreeBsd,
            defines: &["STANDARD"],
            values: Vec::new(),
            timestamps: true,
            window_scaling: true,
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
            min_rto: vtcp::conn::defaults::MIN_RTO,
            quick_acks: 0,
            max_retries: None,
            congestion: None,
            ecn: vtcp::EcnMode::Accept,
            ecn_maxretries: 1,
        }
    }

    /// Linux's defaults as google/packetdrill's `gtests/net` scripts run
    /// them (their `common/defaults.sh`: `tcp_rmem` 4096 540000 15 MiB,
    /// `tcp_wmem` 4096 256 KiB 4 MiB, SACK, timestamps, Cubic, ECN off),
    /// with Linux's constants (`include/net/tcp.h`): `TCP_RTO_MIN` 200 ms,
    /// `TCP_TIMEOUT_INIT` 1 s, `TCP_DELACK_MIN` and `TCP_ATO_MIN` 40 ms,
    /// `TCP_MAX_QUICKACKS` 16, `TCP_INIT_CWND` 10, `tcp_retries2` 15.
    pub fn linux() -> Self {
        Self {
            name: "linux",
            os: Os::Linux,
            defines: &["Linux"],
            // What google/packetdrill's `run_all.py` passes for IPv4.
            values: [
                ("TFO_COOKIE", "3021b9d889017eeb"),
                ("CODE", "host_unreachable"),
                ("CMSG_LEVEL_IP", "SOL_IP"),
                ("CMSG_TYPE_RECVERR", "IP_RECVERR"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .to_vec(),
            timestamps: true,
            window_scaling: true,
            sack: true,
            max_sockbuf: 15 << 20,
            recvspace: 540_000,
            sendspace: 256 << 10,
            delayed_ack: Duration::from_millis(40),
            initial_rto: Duration::from_secs(1),
            insecure_rst: false,
            insecure_syn: false,
            drop_synfin: true,
            icmp_may_rst: true,
            ip: vtcp::IpFields::default(),
            mtu: None,
            require_timestamps: false,
            keep_timers: KeepTimers::LINUX,
            noopt: false,
            rexmit_drop_options: false,
            keepinit: Duration::ZERO,
            min_rto: Duration::from_millis(200),
            quick_acks: 16,
            max_retries: Some(15),
            congestion: Some(Congestion::Cubic),
            // defaults.sh's `tcp_ecn=0`: neither asked nor accepted.
            ecn: vtcp::EcnMode::Off,
            ecn_maxretries: 0,
        }
    }

    /// The profile named `name` (`freebsd` or `linux`).
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "freebsd" => Some(Self::freebsd()),
            "linux" => Some(Self::linux()),
            _ => None,
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
            config.timestamps = self.timestamps;
            config.window_scaling = self.window_scaling;
            config.sack = self.sack;
            if self.noopt {
                // FreeBSD's TCP_NOOPT: the peer assumes 536 (1220 over
                // IPv6) without our MSS (RFC 9293 §3.7.1 MAY-3, MUST-15).
                config.mss_option = false;
                config.window_scaling = false;
                config.timestamps = false;
                config.sack = false;
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
            config.min_rto = self.min_rto;
            config.quick_acks = self.quick_acks;
            if let Some(n) = self.max_retries {
                config.max_retries = n;
            }
            if let Some(cc) = self.congestion {
                config.congestion = match cc {
                    Congestion::Reno => vtcp::conn::Congestion::NewReno,
                    Congestion::Cubic => vtcp::conn::Congestion::Cubic,
                    Congestion::Bbr => vtcp::conn::Congestion::Bbr,
                };
            }
            if self.os == Os::Linux {
                self.linux_config(&mut config, ipv6);
            }
            config.ecn = self.ecn;
            config.ecn_syn_retries = self.ecn_maxretries;
            config
        }
    }

    /// What Linux does where FreeBSD's profile says otherwise.
    fn linux_config(&self, config: &mut ConnConfig, ipv6: bool) {
        config.syn_option_order = vtcp::conn::SynOptionOrder::Linux;
        // tcp_rfc1337 = 0: a RST ends TIME-WAIT; a newer SYN reopens it
        // (`tcp_timewait_state_process`).
        config.time_wait_ignores_rst = false;
        config.time_wait_reopen = true;
        config.accept_unadvertised_room = false;
        // `tcp_select_initial_window`: the first window is the space
        // `tcp_rmem[1]` gives, at most 65,535, rounded down to whole
        // segments (64,240 at MSS 1460: what a 6.18 kernel's SYN says).
        let mss = usize::from(self.mss(ipv6)).max(1);
        config.initial_recv_window = self.recvspace.min(65_535) / mss * mss;
    }

    /// Why `sent`, which the script did not expect, is the operating
    /// system's own choice and not an RFC's, if it is: the RFC asks for
    /// the segment, the operating system sends none. Each rule names the
    /// section.
    pub fn unexpected_is_choice(&self, sent: &Segment<&[u8]>, met: &Met) -> Option<&'static str> {
        if self.os != Os::FreeBsd {
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
        if self.os == Os::Linux {
            return self.linux_sysctl(name, value);
        }
        let n = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("sysctl {name}={value}: not a number"))
        };
        match name {
            "net.inet.tcp.rfc1323" => {
                self.timestamps = n()? != 0;
                self.window_scaling = self.timestamps;
            }
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

impl Profile {
    /// Applies a Linux `sysctl` (`net.ipv4.tcp_*`, `net.core.*`), as
    /// [`Profile::sysctl`] does: a setting the engine has is taken, one at
    /// the value the profile already holds (`defaults.sh`'s) is taken with
    /// nothing to do, any other is unsupported with the reason.
    fn linux_sysctl(&mut self, name: &str, value: &str) -> Result<Option<String>, String> {
        let bad = || format!("sysctl {name}={value}: not a number");
        let n = || parse_usize(value).ok_or_else(bad);
        let short = name.strip_prefix("net.ipv4.").unwrap_or(name);
        // Settings at defaults.sh's value, or whose value changes nothing
        // the engine does: `name value why the engine agrees`, a line each.
        const AS_IS: &str = "\
            tcp_dsack 1 D-SACK is reported (RFC 2883)
            tcp_fack 0 no FACK
            tcp_reordering 3 DupThresh is 3 (RFC 6675)
            tcp_frto 2 spurious timeouts are undone
            tcp_early_retrans 4 RACK-TLP's tail loss probe
            tcp_recovery 1 RACK (RFC 8985)
            tcp_slow_start_after_idle 0 no restart after idle
            tcp_syncookies 1 SYN cookies when the queue is full
            tcp_ecn 0 ECN is neither initiated nor accepted
            tcp_mtu_probing 0 no PLPMTUD
            tcp_abort_on_overflow 0 a full queue drops the ACK
            tcp_no_metrics_save 1 no route metrics
            tcp_min_rtt_wlen 300 RACK's minimum RTT, all along";
        let as_is = AS_IS.lines().find_map(|l| {
            let mut words = l.trim().splitn(3, ' ');
            let (k, v, why) = (words.next()?, words.next()?, words.next()?);
            (k == short && parse_usize(v) == parse_usize(value)).then_some(why)
        });
        if let Some(why) = as_is {
            return Ok(Some(why.into()));
        }
        // A triple `min default max`, as tcp_rmem and tcp_wmem take.
        let triple = || -> Result<[usize; 3], String> {
            let v: Vec<usize> = value.split_whitespace().filter_map(parse_usize).collect();
            <[usize; 3]>::try_from(v).map_err(|_| format!("sysctl {name}={value}: three numbers"))
        };
        match short {
            "tcp_sack" => self.sack = n()? != 0,
            // 1 and 2 both send timestamps (2 without the random offset).
            "tcp_timestamps" => self.timestamps = n()? != 0,
            "tcp_window_scaling" => self.window_scaling = n()? != 0,
            "tcp_rmem" => {
                let [_, default, max] = triple()?;
                self.recvspace = default;
                self.max_sockbuf = max;
            }
            "tcp_wmem" => self.sendspace = triple()?[1],
            "tcp_rfc1337" => {
                if n()? != 0 {
                    return Err(format!(
                        "sysctl {name}={value}: TIME-WAIT's RST rule is FreeBSD's profile's"
                    ));
                }
            }
            "tcp_rto_min_us" => self.min_rto = Duration::from_micros(n()? as u64),
            "tcp_retries2" => self.max_retries = Some(u32::try_from(n()?).map_err(|_| bad())?),
            "tcp_keepalive_time" => self.keep_timers.idle_ms = n()?.saturating_mul(1000),
            "tcp_keepalive_intvl" => self.keep_timers.interval_ms = n()?.saturating_mul(1000),
            "tcp_keepalive_probes" => self.keep_timers.count = n()?,
            "tcp_congestion_control" => {
                self.congestion = Some(match value {
                    "reno" => Congestion::Reno,
                    "cubic" => Congestion::Cubic,
                    "bbr" => Congestion::Bbr,
                    _ => return Err(format!("sysctl {name}={value}: no such controller")),
                });
            }
            _ => return Err(format!("sysctl {name}={value}")),
        }
        Ok(None)
    }
}

/// A decimal or `0x` hexadecimal number.
fn parse_usize(s: &str) -> Option<usize> {
    let s = s.trim().trim_matches('"');
    match s.strip_prefix("0x") {
        Some(hex) => usize::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
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

    /// The Linux profile's configuration is Linux's (window scale 8 for
    /// `tcp_rmem`'s 15 MiB, a first window of 44 segments, quick ACKs, a
    /// 40 ms delayed ACK, the 200 ms floor), and its sysctls change it:
    /// a value the engine has is taken, a default one is a no-op, others
    /// make the script unsupported.
    #[test]
    fn the_linux_profile_and_its_sysctls() {
        let mut p = Profile::linux();
        let c = p.conn_config(false);
        assert_eq!(c.window_scale(), 8);
        assert_eq!(c.initial_recv_window, 44 * 1460);
        assert_eq!(
            (c.quick_acks, c.delayed_ack),
            (16, Duration::from_millis(40))
        );
        assert_eq!(
            (c.min_rto, c.initial_rto),
            (Duration::from_millis(200), Duration::from_secs(1))
        );
        assert_eq!(c.syn_option_order, vtcp::conn::SynOptionOrder::Linux);
        assert_eq!(
            p.sysctl("net.ipv4.tcp_rmem", "4096 131072 6291456"),
            Ok(None)
        );
        assert_eq!(p.conn_config(false).window_scale(), 7);
        assert_eq!(p.sysctl("net.ipv4.tcp_timestamps", "0"), Ok(None));
        assert!(!p.conn_config(false).timestamps);
        assert!(p.conn_config(false).window_scaling);
        assert!(p.sysctl("net.ipv4.tcp_reordering", "3").unwrap().is_some());
        assert!(p.sysctl("net.ipv4.tcp_reordering", "10").is_err());
        assert!(p.sysctl("net.ipv4.tcp_ecn", "1").is_err());
        assert!(p.sysctl("net.ipv4.tcp_rmem", "4096").is_err());
        // FreeBSD's names mean nothing to Linux.
        assert!(p.sysctl("net.inet.tcp.rfc1323", "1").is_err());
    }
}
