//! Running a script against a sans-IO [`Stack`] on a virtual clock: the
//! system calls act on the stack as a socket layer would, injected
//! segments go to `handle_packet`, and every segment the stack sends is
//! checked against the script's next `>` line, at its time within the
//! tolerance. A segment sent that the script does not expect fails the
//! script, as in packetdrill.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vtcp::icmp::IcmpReport;
use vtcp::wire::Segment;
use vtcp::wire::checksum::{PseudoHeader, fill_tcp_checksum};
use vtcp::{ConnKey, IpFields, ListenerId, Stack, StackConfig, StackError, State};

use crate::icmp::IcmpSpec;
use crate::packet::{self, PacketSpec, Spaces, Verdict};
use crate::profile::{KeepTimers, Met, Profile};
use crate::script::{Action, Line, Script, Syscall, When};

/// Our addresses and the injected side's: inside 198.18.0.0/15 and
/// fd00::/8 (nothing leaves the process, but the project keeps to them).
const LOCAL_V4: [u8; 4] = [198, 18, 0, 1];
const REMOTE_V4: [u8; 4] = [198, 18, 0, 2];
const LOCAL_V6: &str = "fd00::1";
const REMOTE_V6: &str = "fd00::2";
/// The port scripts listen on and connect to (packetdrill's).
const SERVER_PORT: u16 = 8080;
/// The injected side's port when we listen.
const CLIENT_PORT: u16 = 40_000;
/// Virtual time of the script's 0.
const START: Duration = Duration::from_secs(1);
/// How long `*` waits for a segment.
const ANY_TIME: Duration = Duration::from_secs(30);

/// How one script ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every line as the script says.
    Pass,
    /// Every line as the script says except in what is the operating
    /// system's own choice (reasons, with their lines).
    Differs(Vec<String>),
    /// The first mismatch.
    Fail {
        /// Its line number.
        line: usize,
        /// What the script expected.
        expected: String,
        /// What happened.
        got: String,
    },
    /// The script uses something the runner or the engine does not have.
    Unsupported(String),
}

impl Outcome {
    /// One word: pass, differs, fail, unsupported.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Differs(_) => "differs",
            Self::Fail { .. } => "fail",
            Self::Unsupported(_) => "unsupported",
        }
    }
}

/// What a socket descriptor holds.
#[derive(Clone, Copy, Debug)]
enum Held {
    Fresh,
    Bound(u16),
    Listening(ListenerId),
    Conn(ConnKey),
}

#[derive(Clone, Copy, Debug)]
struct Sock {
    held: Held,
    nonblocking: bool,
    /// SO_ERROR was read since the connection failed.
    error_reported: bool,
    /// `IP_TTL`, `IP_TOS` and their IPv6 names, as set.
    ip: IpFields,
    /// `TCP_FASTOPEN` was set (RFC 7413): a client's `sendto` opens the
    /// connection with TFO, a listener's connections use it.
    fast_open: bool,
    /// The keepalive timers, as the sysctls were when it was made.
    keep: KeepTimers,
    /// `TCP_NOOPT` was set: its SYN or SYN-ACK carries no options.
    noopt: bool,
}

enum Step {
    Next,
    Stop(Outcome),
}

fn fail(line: &Line, expected: impl Into<String>, got: impl Into<String>) -> Step {
    Step::Stop(Outcome::Fail {
        line: line.number,
        expected: expected.into(),
        got: got.into(),
    })
}

fn unsupported(what: impl Into<String>) -> Step {
    Step::Stop(Outcome::Unsupported(what.into()))
}

struct Runner {
    profile: Arc<Mutex<Profile>>,
    stack: Stack,
    now: Duration,
    /// The script time of the previous line.
    script_time: Duration,
    tolerance: Duration,
    local: IpAddr,
    remote: IpAddr,
    /// (ours, theirs).
    ports: (u16, u16),
    spaces: Spaces,
    isn_known: bool,
    fds: BTreeMap<i64, Sock>,
    last_fd: Option<i64>,
    sent: VecDeque<(Duration, IpFields, Vec<u8>)>,
    differs: Vec<String>,
    buf: Vec<u8>,
    /// The MSS option of the injected side's latest SYN.
    peer_mss: Option<u16>,
    /// What the latest injected segment met.
    met: Option<Met>,
    /// When the current line's blocking call returns (`a...b`), virtual.
    blocking_end: Option<Duration>,
    /// A blocking `connect` under way.
    blocking: Option<Blocking>,
}

/// A blocking call made and not yet checked: packetdrill runs it beside
/// the script's other lines and checks its result and the time it
/// returned at against `end`.
struct Blocking {
    line: Line,
    call: Syscall,
    fd: i64,
    key: ConnKey,
    /// When the script says it returns (virtual).
    end: Duration,
    /// When it returned, and its result and errno.
    returned: Option<(Duration, i64, Option<&'static str>)>,
}

/// Runs `script` with `profile`'s defaults.
pub fn run(script: &Script, mut profile: Profile) -> Outcome {
    let mut ipv6 = false;
    let mut tolerance = Duration::from_millis(4);
    for (name, value) in &script.options {
        match name.as_str() {
            "ip_version" if value == "ipv4" => ipv6 = false,
            "ip_version" if value == "ipv6" => ipv6 = true,
            "tolerance_usecs" => match value.parse::<u64>() {
                Ok(us) => tolerance = Duration::from_micros(us),
                Err(_) => return Outcome::Unsupported(format!("--{name}={value}")),
            },
            // The local interface's MTU, which the MSS we offer follows.
            "mtu" => match value.parse::<u16>() {
                Ok(mtu @ 68..=65_535) => profile.mtu = Some(mtu),
                _ => return Outcome::Unsupported(format!("--{name}={value}")),
            },
            _ => return Outcome::Unsupported(format!("--{name}={value}")),
        }
    }
    let mtu = profile.mtu;
    let policy = profile.conn_config(ipv6);
    let profile = Arc::new(Mutex::new(profile));
    let stack = Stack::new({
        let mut config = StackConfig::default();
        if let Some(mtu) = mtu {
            config.mtu = mtu;
        }
        config.conn = policy;
        config.cookie_key = [7; 16];
        config.isn_key = [11; 16];
        config
    });
    let (local, remote): (IpAddr, IpAddr) = if ipv6 {
        (
            LOCAL_V6.parse().expect("an address"),
            REMOTE_V6.parse().expect("an address"),
        )
    } else {
        (LOCAL_V4.into(), REMOTE_V4.into())
    };
    let mut r = Runner {
        profile,
        stack,
        now: START,
        script_time: Duration::ZERO,
        tolerance,
        local,
        remote,
        ports: (SERVER_PORT, CLIENT_PORT),
        spaces: Spaces::default(),
        isn_known: false,
        fds: BTreeMap::new(),
        last_fd: None,
        sent: VecDeque::new(),
        differs: Vec::new(),
        buf: vec![0; 70_000],
        peer_mss: None,
        met: None,
        blocking_end: None,
        blocking: None,
    };
    for line in &script.lines {
        if let Step::Stop(outcome) = r.line(line) {
            return outcome;
        }
    }
    if let Some(b) = &r.blocking {
        let (line, end) = (b.line.clone(), b.end);
        r.advance_to(end + r.tolerance);
        if let Step::Stop(outcome) = r.blocking_returned() {
            return outcome;
        }
        if r.blocking.is_some() {
            let got = format!("still blocked at {}", r.secs(r.now));
            return Outcome::Fail {
                line: line.number,
                expected: line.text,
                got,
            };
        }
    }
    if r.differs.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Differs(r.differs)
    }
}

impl Runner {
    /// The line's time (virtual) and how early or late it may be.
    fn when(&mut self, when: When) -> (Option<Duration>, Duration) {
        let secs = Duration::from_secs_f64;
        let (t, slack) = match when {
            When::At(t) => (Some(secs(t)), self.tolerance),
            When::After(d) => (Some(self.script_time + secs(d)), self.tolerance),
            When::Range { lo, hi, relative } => {
                let base = if relative {
                    self.script_time
                } else {
                    Duration::ZERO
                };
                (
                    Some(base + secs(lo)),
                    secs((hi - lo).max(0.0)) + self.tolerance,
                )
            }
            When::Blocking {
                start,
                end,
                relative,
            } => {
                let base = if relative {
                    self.script_time
                } else {
                    Duration::ZERO
                };
                self.blocking_end = Some(START + base + secs(end));
                (Some(base + secs(start)), self.tolerance)
            }
            When::Any => (None, ANY_TIME),
        };
        if let Some(t) = t {
            self.script_time = t;
        }
        (t.map(|t| START + t), slack)
    }

    fn line(&mut self, line: &Line) -> Step {
        self.blocking_end = None;
        let (at, slack) = self.when(line.when);
        if self.blocking_end.is_some()
            && !matches!(&line.action, Action::Call(c) if c.name == "connect")
        {
            return unsupported("a blocking call other than connect");
        }
        if let Action::Packet(spec) = &line.action
            && !spec.inbound
        {
            let step = self.expect_sent(line, spec, at, slack);
            return match step {
                Step::Next => self.blocking_returned(),
                stop => stop,
            };
        }
        let at = at.unwrap_or(self.now);
        self.advance_to(at);
        if let Step::Stop(outcome) = self.blocking_returned() {
            return Step::Stop(outcome);
        }
        // What was sent well before this line and matched no `>` line:
        // a fail, unless the profile knows it for its system's choice.
        while let Some((t, _, bytes)) = self.sent.front()
            && *t + self.tolerance < at
        {
            let got = self.show(bytes);
            let choice = self.met.as_ref().and_then(|met| {
                let seg = Segment::parse(bytes).ok()?;
                self.profile
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .unexpected_is_choice(&seg, met)
            });
            if let Some(why) = choice {
                self.differs
                    .push(format!("line {}: {why}: sent {got}", line.number));
                self.sent.pop_front();
                continue;
            }
            return fail(
                line,
                line.text.clone(),
                format!("unexpected segment at {}: {got}", self.secs(*t)),
            );
        }
        let step = match &line.action {
            Action::Packet(spec) => self.inject(line, spec),
            Action::Icmp(spec) => self.inject_icmp(spec),
            Action::Call(call) => self.call(line, call),
            Action::Shell(cmd) => self.shell(line, cmd),
            Action::Python(code) => self.python(line, code),
        };
        self.collect();
        match step {
            Step::Next => self.blocking_returned(),
            stop => stop,
        }
    }

    /// The blocking call under way, checked once it returned: its result
    /// and errno, and its time against the script's end time, within the
    /// tolerance.
    fn blocking_returned(&mut self) -> Step {
        let Some(Blocking {
            returned: Some((at, ret, errno)),
            ..
        }) = self.blocking
        else {
            return Step::Next;
        };
        let Some(b) = self.blocking.take() else {
            return Step::Next;
        };
        if at.abs_diff(b.end) > self.tolerance {
            return fail(
                &b.line,
                b.line.text.clone(),
                format!(
                    "returned at {} (expected {})",
                    self.secs(at),
                    self.secs(b.end)
                ),
            );
        }
        // The error the call returned is reported (and cleared), as
        // SO_ERROR's would be.
        if errno.is_some()
            && let Some(s) = self.fds.get_mut(&b.fd)
        {
            s.error_reported = true;
        }
        self.result(&b.line, &b.call, ret, errno)
    }

    /// Notes when the blocking `connect` under way returns: once its
    /// connection is synchronized (0) or has failed (−1 and its errno).
    fn note_blocking(&mut self) {
        let Some(b) = self.blocking.as_ref().filter(|b| b.returned.is_none()) else {
            return;
        };
        let key = b.key;
        let state = self.stack.conn(key).map(|c| c.state());
        let returned = match state {
            Some(State::SynSent | State::SynReceived) => return,
            Some(s) if s.is_synchronized() => (0, None),
            _ => (-1, Some(self.conn_error(key).unwrap_or("ECONNREFUSED"))),
        };
        if let Some(b) = self.blocking.as_mut() {
            b.returned = Some((self.now, returned.0, returned.1));
        }
    }

    fn secs(&self, t: Duration) -> String {
        format!("{:.3} s", t.saturating_sub(START).as_secs_f64())
    }

    fn show(&self, bytes: &[u8]) -> String {
        Segment::parse(bytes).map_or_else(
            |e| format!("malformed ({e})"),
            |s| packet::describe(&s, self.spaces),
        )
    }

    /// Everything the stack sends now, and whether a blocking call
    /// returned.
    fn collect(&mut self) {
        while let Some(t) = self.stack.poll_transmit(self.now, &mut self.buf) {
            self.sent
                .push_back((self.now, t.ip, self.buf[..t.len].to_vec()));
        }
        self.note_blocking();
    }

    /// Runs the timers up to `target`, collecting what they send; stops
    /// early once something was sent when `until_sent`.
    fn run_timers(&mut self, target: Duration, until_sent: bool) {
        for _ in 0..100_000 {
            if until_sent && !self.sent.is_empty() {
                return;
            }
            match self.stack.poll_timeout() {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    self.stack.handle_timeout(self.now);
                    self.collect();
                }
                _ => break,
            }
        }
        if !until_sent || self.sent.is_empty() {
            self.now = self.now.max(target);
            self.collect();
        }
    }

    fn advance_to(&mut self, target: Duration) {
        self.run_timers(target, false);
    }

    fn expect_sent(
        &mut self,
        line: &Line,
        spec: &PacketSpec,
        at: Option<Duration>,
        slack: Duration,
    ) -> Step {
        let deadline = at.map_or(self.now + slack, |t| t + slack);
        if self.sent.is_empty() {
            self.run_timers(deadline, true);
        }
        let Some((t, ip, bytes)) = self.sent.pop_front() else {
            if at.is_none() && spec.flags == vtcp::wire::Flags::SYN && self.syn_comes_later() {
                return unsupported(format!(
                    "FreeBSD's SYN retransmission schedule (tcp_syn_backoff, {} s apart at \
                     most here): vtcp's handshake timer is RFC 6298's, doubling to 60 s",
                    ANY_TIME.as_secs()
                ));
            }
            return fail(
                line,
                line.text.clone(),
                format!("nothing sent by {}", self.secs(deadline)),
            );
        };
        // Sent before the script's time: a failure, unless it is a SYN
        // (the handshake's retransmission timer) and the one expected in
        // every field: FreeBSD retransmits a SYN at 3.2 s where vtcp's RFC
        // 6298 timer says 3 s, a timer of the operating system's own, so a
        // difference with both times. Any other early segment may be an
        // answer the script does not expect, and fails.
        let early = at.filter(|&at| t + slack < at);
        let syn = Segment::parse(&bytes).is_ok_and(|s| s.flags.contains(vtcp::wire::Flags::SYN));
        if let Some(at) = early
            && !(syn
                && matches!(
                    packet::compare(spec, &bytes, self.spaces),
                    Verdict::Match | Verdict::Differs(_)
                ))
        {
            let got = self.show(&bytes);
            return fail(
                line,
                line.text.clone(),
                format!(
                    "sent early, at {} (expected {}): {got}",
                    self.secs(t),
                    self.secs(at)
                ),
            );
        }
        if let Some(at) = early {
            self.differs.push(format!(
                "line {}: sent at {}, FreeBSD at {} (its own timer; the segment is the one expected)",
                line.number,
                self.secs(t),
                self.secs(at)
            ));
        }
        if let Ok(seg) = Segment::parse(&bytes)
            && !self.isn_known
            && seg.flags.contains(vtcp::wire::Flags::SYN)
        {
            self.spaces.our_isn = seg.seq.0;
            self.isn_known = true;
        }
        let verdict = match packet::compare(spec, &bytes, self.spaces) {
            Verdict::Mismatch(why) => return fail(line, line.text.clone(), why),
            verdict => verdict,
        };
        if let Verdict::Differs(why) = verdict {
            self.differs.push(format!("line {}: {why}", line.number));
        }
        match spec.ip.mismatch(ip) {
            None => Step::Next,
            Some(why) if self.bound_socket_answered(spec) => {
                self.differs.push(format!(
                    "line {}: FreeBSD answers a segment for a socket that is bound but does not \
                     listen with that socket's IP fields; a vtcp Stack keeps no bound sockets and \
                     answers for no connection with the IP layer's ({why})",
                    line.number
                ));
                Step::Next
            }
            Some(why) => fail(
                line,
                line.text.clone(),
                format!("{why}: {}", self.show(&bytes)),
            ),
        }
    }

    /// A connection of ours is in SYN-SENT and its timer will send the
    /// SYN again, later than the runner waits.
    fn syn_comes_later(&self) -> bool {
        self.stack.conns().any(|(_, c)| {
            c.state() == State::SynSent && c.poll_timeout().is_some_and(|t| t > self.now)
        })
    }

    /// The segment expected is the stack's answer for no connection, to
    /// a port a socket with the expected IP fields is bound to.
    fn bound_socket_answered(&self, spec: &PacketSpec) -> bool {
        let no_connection = self.met.is_some_and(|m| m.state.is_none() && !m.listening);
        no_connection
            && self
                .fds
                .values()
                .any(|s| matches!(s.held, Held::Bound(_)) && spec.ip.mismatch(s.ip).is_none())
    }

    fn our_mss(&self) -> usize {
        let profile = self.profile.lock().unwrap_or_else(|e| e.into_inner());
        usize::from(profile.mss(self.local.is_ipv6()))
    }

    fn inject(&mut self, line: &Line, spec: &PacketSpec) -> Step {
        if spec.flags.contains(vtcp::wire::Flags::SYN) {
            self.peer_mss = spec.options.iter().flatten().find_map(|o| match o {
                packet::OptSpec::Mss(m) => Some(*m),
                _ => None,
            });
        }
        let mut bytes = match packet::build(spec, self.ports, self.spaces) {
            Ok(b) => b,
            Err(e) => return fail(line, line.text.clone(), format!("cannot build it: {e}")),
        };
        let Some(pseudo) = PseudoHeader::new(self.remote, self.local) else {
            return unsupported("mixed address families");
        };
        fill_tcp_checksum(&pseudo, &mut bytes);
        let key = ConnKey {
            local: SocketAddr::new(self.local, self.ports.0),
            remote: SocketAddr::new(self.remote, self.ports.1),
        };
        let conn = self.stack.conn(key);
        // Old sequence space only: it ends at or before RCV.NXT (a bare
        // segment just below it included).
        let old = vtcp::wire::SegmentView::new_checked(&bytes[..]).is_ok_and(|v| {
            let flags = v.flags();
            let len = v.payload().len()
                + usize::from(flags.contains(vtcp::wire::Flags::SYN))
                + usize::from(flags.contains(vtcp::wire::Flags::FIN));
            conn.is_some_and(|c| {
                let end = v.seq() + len as u32;
                end.before(c.rcv_nxt()) || (len > 0 && end == c.rcv_nxt())
            })
        });
        self.met = Some(Met {
            flags: spec.flags,
            old,
            state: conn.map(|c| c.state()),
            listening: self
                .fds
                .values()
                .any(|s| matches!(s.held, Held::Listening(_))),
        });
        // A SYN that opens a new passive connection: its SYN-ACK brings
        // a new ISN to learn (a script may open several, one after another).
        if spec.flags == vtcp::wire::Flags::SYN && self.met.is_some_and(|m| m.state.is_none()) {
            self.isn_known = false;
        }
        self.stack
            .handle_packet(self.now, self.remote, self.local, &bytes);
        Step::Next
    }

    /// An ICMP error from a router on the path, quoting a segment we
    /// sent (its sequence number relative to our ISN) on the script's
    /// connection, goes to `handle_icmp` as an IP layer would hand it
    /// over. A redirect or source quench is no error to TCP: nothing.
    fn inject_icmp(&mut self, spec: &IcmpSpec) -> Step {
        let error = match spec.error(self.local.is_ipv6()) {
            Ok(Some(error)) => error,
            Ok(None) => return Step::Next,
            Err(what) => return unsupported(what),
        };
        let mut quoted = [0u8; 8];
        quoted[..2].copy_from_slice(&self.ports.0.to_be_bytes());
        quoted[2..4].copy_from_slice(&self.ports.1.to_be_bytes());
        let seq = spec.seq.wrapping_add(self.spaces.our_isn);
        quoted[4..].copy_from_slice(&seq.to_be_bytes());
        // Segments the stack answers it with are not excused as the
        // answer to an injected segment.
        self.met = None;
        self.stack.handle_icmp(
            self.now,
            &IcmpReport {
                error,
                src: self.local,
                dst: self.remote,
                quoted: &quoted,
            },
        );
        Step::Next
    }

    fn fd(&self, call: &Syscall) -> Option<i64> {
        call.args.first()?.parse().ok()
    }

    /// The connection of the call's descriptor, or the errno to return.
    fn connected(&mut self, call: &Syscall) -> Result<(Sock, ConnKey), &'static str> {
        let (_, s) = self.sock(call).ok_or("EBADF")?;
        match s.held {
            Held::Conn(key) => Ok((s, key)),
            _ => Err("ENOTCONN"),
        }
    }

    fn sock(&mut self, call: &Syscall) -> Option<(i64, Sock)> {
        let fd = self.fd(call)?;
        self.last_fd = Some(fd);
        self.fds.get(&fd).map(|s| (fd, *s))
    }

    /// The result a call gave, checked against the script.
    fn result(&self, line: &Line, call: &Syscall, ret: i64, errno: Option<&str>) -> Step {
        let ok = ret == call.ret
            && (ret != -1
                || errno == call.errno.as_deref()
                || same_errno(errno, call.errno.as_deref()));
        if ok {
            Step::Next
        } else {
            let got = match errno {
                Some(e) => format!("{ret} {e}"),
                None => ret.to_string(),
            };
            fail(line, line.text.clone(), got)
        }
    }

    fn conn_error(&self, key: ConnKey) -> Option<&'static str> {
        let conn = self.stack.conn(key)?;
        match StackError::of_conn(conn)? {
            StackError::ConnectionRefused => Some("ECONNREFUSED"),
            StackError::ConnectionReset => Some("ECONNRESET"),
            StackError::TimedOut => Some("ETIMEDOUT"),
            StackError::HostUnreachable => Some("EHOSTUNREACH"),
            StackError::NetworkUnreachable => Some("ENETUNREACH"),
            _ => None,
        }
    }

    fn call(&mut self, line: &Line, call: &Syscall) -> Step {
        let arg = |i: usize| call.args.get(i).map(String::as_str).unwrap_or("");
        match call.name.as_str() {
            "socket" => {
                let fd = (3..)
                    .find(|fd| !self.fds.contains_key(fd))
                    .expect("a free fd");
                self.fds.insert(
                    fd,
                    Sock {
                        held: Held::Fresh,
                        nonblocking: false,
                        error_reported: false,
                        ip: IpFields::default(),
                        fast_open: false,
                        noopt: false,
                        keep: self
                            .profile
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .keep_timers,
                    },
                );
                self.last_fd = Some(fd);
                self.result(line, call, fd, None)
            }
            "fcntl" => {
                let Some((fd, mut s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                match arg(1) {
                    "F_GETFL" => {
                        let flags = 0x02 | if s.nonblocking { 0x04 } else { 0 };
                        self.result(line, call, flags, None)
                    }
                    "F_SETFL" => {
                        s.nonblocking = arg(2).contains("O_NONBLOCK");
                        self.fds.insert(fd, s);
                        self.result(line, call, 0, None)
                    }
                    other => unsupported(format!("fcntl {other}")),
                }
            }
            "setsockopt" => match (arg(1), arg(2)) {
                ("SOL_SOCKET", "SO_REUSEADDR") => self.result(line, call, 0, None),
                ("IPPROTO_IP", "IP_TTL") | ("IPPROTO_IPV6", "IPV6_UNICAST_HOPS") => {
                    self.set_ip_field(line, call, |ip, v| ip.hop_limit = Some(v))
                }
                ("IPPROTO_IP", "IP_TOS") | ("IPPROTO_IPV6", "IPV6_TCLASS") => {
                    self.set_ip_field(line, call, |ip, v| ip.traffic_class = v)
                }
                ("IPPROTO_TCP", "TCP_FASTOPEN") => self.set_fast_open(line, call),
                ("IPPROTO_TCP", "TCP_NOOPT") => self.set_noopt(line, call),
                ("IPPROTO_TCP", "TCP_KEEPINIT") => self.set_keepinit(line, call),
                (level, name) => unsupported(format!("setsockopt {level} {name}")),
            },
            "sendto" => self.sendto(line, call),
            "getsockopt" => self.getsockopt(line, call),
            "bind" => {
                let Some((fd, mut s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                s.held = Held::Bound(SERVER_PORT);
                self.fds.insert(fd, s);
                self.ports = (SERVER_PORT, CLIENT_PORT);
                self.result(line, call, 0, None)
            }
            "listen" => {
                let Some((fd, mut s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                let backlog: usize = arg(1).parse().unwrap_or(1).max(1);
                let port = match s.held {
                    Held::Bound(p) => p,
                    _ => SERVER_PORT,
                };
                let any: IpAddr = if self.local.is_ipv4() {
                    [0u8; 4].into()
                } else {
                    [0u8; 16].into()
                };
                // Connections the listener makes take its IP fields and
                // its TCP options.
                self.profile.lock().unwrap_or_else(|e| e.into_inner()).ip = s.ip;
                self.socket_options(&s);
                if s.fast_open {
                    self.fast_open_server(None);
                }
                match self.stack.listen(SocketAddr::new(any, port), backlog) {
                    Ok(id) => {
                        s.held = Held::Listening(id);
                        self.fds.insert(fd, s);
                        self.result(line, call, 0, None)
                    }
                    Err(e) => fail(line, line.text.clone(), format!("listen: {e}")),
                }
            }
            "accept" => {
                let Some((_, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                let Held::Listening(id) = s.held else {
                    return self.result(line, call, -1, Some("EINVAL"));
                };
                match self.stack.accept(id) {
                    Some(key) => {
                        let fd = (3..)
                            .find(|fd| !self.fds.contains_key(fd))
                            .expect("a free fd");
                        // As on the BSDs, the accepted socket inherits
                        // O_NONBLOCK (Linux's does not).
                        // And its IP fields, as its connection already has
                        // them (the listener's, through the profile).
                        self.fds.insert(
                            fd,
                            Sock {
                                held: Held::Conn(key),
                                nonblocking: s.nonblocking,
                                error_reported: false,
                                ip: s.ip,
                                fast_open: false,
                                noopt: s.noopt,
                                // The listener's, as FreeBSD's accepted
                                // socket copies them.
                                keep: s.keep,
                            },
                        );
                        self.last_fd = Some(fd);
                        self.result(line, call, fd, None)
                    }
                    None if s.nonblocking => self.result(line, call, -1, Some("EWOULDBLOCK")),
                    None => unsupported("a blocking accept that would block"),
                }
            }
            "connect" => {
                let Some((fd, mut s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                if !s.nonblocking {
                    // A blocking connect needs the time it returns at.
                    let Some(end) = self.blocking_end else {
                        return unsupported("a blocking connect without a time range");
                    };
                    return match self.active_open(fd, &mut s) {
                        Ok(key) => {
                            self.blocking = Some(Blocking {
                                line: line.clone(),
                                call: call.clone(),
                                fd,
                                key,
                                end,
                                returned: None,
                            });
                            Step::Next
                        }
                        Err(e) => fail(line, line.text.clone(), format!("connect: {e}")),
                    };
                }
                match self.active_open(fd, &mut s) {
                    Ok(_) => self.result(line, call, -1, Some("EINPROGRESS")),
                    Err(e) => fail(line, line.text.clone(), format!("connect: {e}")),
                }
            }
            "read" | "recv" => {
                let (s, key) = match self.connected(call) {
                    Ok(found) => found,
                    Err(errno) => return self.result(line, call, -1, Some(errno)),
                };
                let want: usize = arg(2).parse().unwrap_or(0);
                // recv(2)'s flags: MSG_PEEK leaves the data to be read
                // again, MSG_DONTWAIT makes this one call non-blocking.
                let flags = if call.name == "recv" { arg(3) } else { "" };
                let peek = flags.contains("MSG_PEEK");
                let dontwait = flags.contains("MSG_DONTWAIT");
                let error = self.conn_error(key);
                let Some(conn) = self.stack.conn_mut(key) else {
                    return self.result(line, call, -1, Some("ENOTCONN"));
                };
                let n = if peek {
                    let (a, b) = conn.peek_readable();
                    want.min(a.len() + b.len())
                } else {
                    let mut out = vec![0u8; want];
                    conn.read(&mut out)
                };
                if n > 0 {
                    return self.result(line, call, n as i64, None);
                }
                if let Some(e) = error {
                    return self.result(line, call, -1, Some(e));
                }
                if conn.is_read_closed() {
                    return self.result(line, call, 0, None);
                }
                if s.nonblocking || dontwait {
                    self.result(line, call, -1, Some("EWOULDBLOCK"))
                } else {
                    unsupported("a blocking read that would block")
                }
            }
            "write" | "send" => {
                let (_, key) = match self.connected(call) {
                    Ok(found) => found,
                    Err(errno) => return self.result(line, call, -1, Some(errno)),
                };
                let len: usize = arg(2).parse().unwrap_or(0);
                self.write(line, call, key, len)
            }
            "shutdown" => {
                let (_, key) = match self.connected(call) {
                    Ok(found) => found,
                    Err(errno) => return self.result(line, call, -1, Some(errno)),
                };
                let how = arg(1);
                if let Some(conn) = self.stack.conn_mut(key)
                    && matches!(how, "SHUT_WR" | "SHUT_RDWR")
                {
                    conn.shutdown_write();
                }
                self.result(line, call, 0, None)
            }
            "close" => {
                let Some((fd, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                match s.held {
                    Held::Conn(key) => {
                        if let Some(conn) = self.stack.conn_mut(key) {
                            conn.close();
                        }
                        self.stack.release(key);
                    }
                    Held::Listening(id) => self.stack.unlisten(id),
                    _ => {}
                }
                self.fds.remove(&fd);
                self.result(line, call, 0, None)
            }
            other => unsupported(format!("system call {other}")),
        }
    }

    /// Opens the connection of socket `fd` (held in `s`): with TCP Fast
    /// Open when the socket asked for it (`TCP_FASTOPEN`), and the stack's
    /// client side is on (`net.inet.tcp.fastopen.client_enable`).
    fn active_open(&mut self, fd: i64, s: &mut Sock) -> Result<ConnKey, vtcp::StackError> {
        let remote = SocketAddr::new(self.remote, SERVER_PORT);
        self.socket_options(s);
        let key = if s.fast_open {
            self.stack.connect_fast_open(self.now, self.local, remote)?
        } else {
            self.stack.connect(self.now, self.local, remote)?
        };
        self.apply_ip(key, s.ip);
        self.ports = (key.local.port(), SERVER_PORT);
        // A new connection, a new ISN to learn from its SYN.
        self.isn_known = false;
        s.held = Held::Conn(key);
        self.fds.insert(fd, *s);
        Ok(key)
    }

    /// The socket and N of `setsockopt(fd, IPPROTO_TCP, NAME, [N], 4)`,
    /// or the step that ends the call: N not a number is unsupported, a
    /// descriptor with no socket EBADF.
    fn tcp_option(
        &mut self,
        line: &Line,
        call: &Syscall,
        name: &str,
    ) -> Result<(i64, Sock, usize), Step> {
        let value = call.args.get(3).map_or("", |a| a.trim_matches(['[', ']']));
        let Ok(n) = value.parse::<usize>() else {
            return Err(unsupported(format!("setsockopt {name} value {value}")));
        };
        match self.sock(call) {
            Some((fd, s)) => Ok((fd, s, n)),
            None => Err(self.result(line, call, -1, Some("EBADF"))),
        }
    }

    /// `setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, [N], 4)`: TFO on the
    /// socket (N ≠ 0). On a listening socket (or one that listens later),
    /// the stack's server side with N as the limit of pending TFO
    /// connections when above 1 (Linux's meaning; FreeBSD's 1 is "on").
    fn set_fast_open(&mut self, line: &Line, call: &Syscall) -> Step {
        let (fd, mut s, n) = match self.tcp_option(line, call, "TCP_FASTOPEN") {
            Ok(found) => found,
            Err(step) => return step,
        };
        s.fast_open = n != 0;
        match s.held {
            Held::Listening(_) if n != 0 => self.fast_open_server((n > 1).then_some(n)),
            Held::Conn(_) => return self.result(line, call, -1, Some("EINVAL")),
            _ => {}
        }
        self.fds.insert(fd, s);
        self.result(line, call, 0, None)
    }

    /// The socket's TCP options that shape its connections, for the
    /// connections made next (its own, or its listener's): `TCP_NOOPT`
    /// and `TCP_KEEPINIT`.
    fn socket_options(&mut self, s: &Sock) {
        {
            let mut profile = self.profile.lock().unwrap_or_else(|e| e.into_inner());
            profile.noopt = s.noopt;
            profile.keepinit = Duration::from_millis(s.keep.init_ms as u64);
        }
        self.profile_changed();
    }

    /// The profile changed: the stack's policy for the connections made
    /// next follows it.
    fn profile_changed(&mut self) {
        let policy = self
            .profile
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .conn_config(self.local.is_ipv6());
        self.stack.set_conn_config(policy);
    }

    /// `setsockopt(fd, IPPROTO_TCP, TCP_KEEPINIT, [N], 4)`: the time its
    /// handshake may take, N seconds (FreeBSD's; 0 is no limit), when it
    /// connects or listens; `getsockopt` reads it back.
    fn set_keepinit(&mut self, line: &Line, call: &Syscall) -> Step {
        let (fd, mut s, n) = match self.tcp_option(line, call, "TCP_KEEPINIT") {
            Ok(found) => found,
            Err(step) => return step,
        };
        s.keep.init_ms = n.saturating_mul(1000);
        self.fds.insert(fd, s);
        self.result(line, call, 0, None)
    }

    /// `setsockopt(fd, IPPROTO_TCP, TCP_NOOPT, [N], 4)`: N ≠ 0, the
    /// socket's SYN or SYN-ACK carries no TCP options, not even the MSS
    /// (FreeBSD's option, `ConnConfig::mss_option`). It acts when the
    /// socket connects or listens; on a connection it changes nothing.
    fn set_noopt(&mut self, line: &Line, call: &Syscall) -> Step {
        let (fd, mut s, n) = match self.tcp_option(line, call, "TCP_NOOPT") {
            Ok(found) => found,
            Err(step) => return step,
        };
        s.noopt = n != 0;
        self.fds.insert(fd, s);
        self.result(line, call, 0, None)
    }

    /// Turns the stack's TFO server side on, with `max_pending` if given.
    fn fast_open_server(&mut self, max_pending: Option<usize>) {
        let mut fo = self.stack.fast_open().clone();
        fo.server = true;
        if let Some(n) = max_pending {
            fo.max_pending = n;
        }
        self.stack.set_fast_open(fo);
    }

    /// `sendto(fd, ..., len, flags, ..., ...)`: on a connected socket, a
    /// write; on a fresh one with `TCP_FASTOPEN` (or `MSG_FASTOPEN`), the
    /// implied connect of FreeBSD's and Linux's client TFO: the connection
    /// opens with the data queued before its SYN goes, and the call
    /// returns the length queued, blocking socket or not.
    fn sendto(&mut self, line: &Line, call: &Syscall) -> Step {
        let arg = |i: usize| call.args.get(i).map(String::as_str).unwrap_or("");
        let Some((fd, mut s)) = self.sock(call) else {
            return self.result(line, call, -1, Some("EBADF"));
        };
        let len: usize = arg(2).parse().unwrap_or(0);
        let key = match s.held {
            Held::Conn(key) => key,
            Held::Fresh | Held::Bound(_) if s.fast_open || arg(3).contains("MSG_FASTOPEN") => {
                s.fast_open = true;
                match self.active_open(fd, &mut s) {
                    Ok(key) => key,
                    Err(e) => return fail(line, line.text.clone(), format!("sendto: {e}")),
                }
            }
            _ => return self.result(line, call, -1, Some("ENOTCONN")),
        };
        self.write(line, call, key, len)
    }

    /// `len` octets written on `key`'s connection: the call's result, or
    /// the connection's error (EPIPE once it is gone or closed).
    fn write(&mut self, line: &Line, call: &Syscall, key: ConnKey, len: usize) -> Step {
        let error = self.conn_error(key);
        let Some(conn) = self.stack.conn_mut(key) else {
            return self.result(line, call, -1, Some("EPIPE"));
        };
        match conn.write(&vec![0u8; len]) {
            Ok(n) => self.result(line, call, n as i64, None),
            Err(_) => self.result(line, call, -1, Some(error.unwrap_or("EPIPE"))),
        }
    }

    /// `sysctl -w net.inet.tcp.fastopen.NAME=VALUE`: the stack's TFO
    /// settings. `client_enable` and `server_enable` turn the sides on or
    /// off, and writing `client_enable` empties the client's cookie cache
    /// (the scripts reset it so); `path_disable_time` is how long TFO
    /// stays off to a server after it failed there, in seconds. The
    /// others (pre-shared keys, the server's key list, the cache's
    /// buckets) have no counterpart and make a script unsupported.
    fn fast_open_sysctl(&mut self, name: &str, value: &str) -> Step {
        let Ok(n) = value.parse::<u64>() else {
            return unsupported(format!("sysctl {name}={value}"));
        };
        let mut fo = self.stack.fast_open().clone();
        match name {
            "client_enable" => {
                fo.client = n != 0;
                self.stack.clear_fast_open_cache();
            }
            "server_enable" => fo.server = n != 0,
            "path_disable_time" => fo.disable_for = Duration::from_secs(n),
            _ => return unsupported(format!("sysctl net.inet.tcp.fastopen.{name}={value}")),
        }
        self.stack.set_fast_open(fo);
        Step::Next
    }

    /// `setsockopt` of an IP header field (`IP_TTL`, `IP_TOS`, their IPv6
    /// names): on the socket, and on its connection from now on.
    fn set_ip_field(&mut self, line: &Line, call: &Syscall, set: fn(&mut IpFields, u8)) -> Step {
        let value = call.args.get(3).map_or("", |a| a.trim_matches(['[', ']']));
        // `IPTOS_DSCP_CSn`: class selector n, the DSCP's top three bits.
        let parsed = match value.strip_prefix("IPTOS_DSCP_CS") {
            Some(n) => n.parse::<u8>().ok().filter(|n| *n < 8).map(|n| n << 5),
            None => value.parse::<u8>().ok(),
        };
        let Some(v) = parsed else {
            return unsupported(format!("setsockopt value {value}"));
        };
        let Some((fd, mut s)) = self.sock(call) else {
            return self.result(line, call, -1, Some("EBADF"));
        };
        set(&mut s.ip, v);
        if let Held::Conn(key) = s.held {
            self.apply_ip(key, s.ip);
        }
        self.fds.insert(fd, s);
        self.result(line, call, 0, None)
    }

    /// Gives a socket's IP fields to its connection, from its next
    /// segment on.
    fn apply_ip(&mut self, key: ConnKey, ip: IpFields) {
        if let Some(conn) = self.stack.conn_mut(key) {
            conn.set_hop_limit(ip.hop_limit);
            conn.set_traffic_class(ip.traffic_class);
        }
    }

    fn getsockopt(&mut self, line: &Line, call: &Syscall) -> Step {
        let Some((fd, mut s)) = self.sock(call) else {
            return self.result(line, call, -1, Some("EBADF"));
        };
        let arg = |i: usize| call.args.get(i).map(String::as_str).unwrap_or("");
        let value = arg(3).trim_matches(|c| c == '[' || c == ']');
        match (arg(1), arg(2)) {
            ("SOL_SOCKET", "SO_RCVBUF") => {
                let space = self
                    .profile
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .recvspace;
                // The engine has no SO_RCVBUF; the runner reports what
                // FreeBSD's socket layer does: the receive space, rounded
                // up to whole segments once the connection's MSS is known
                // (65536 → 45 · 1460 = 65700).
                let synchronized = match s.held {
                    Held::Conn(k) => self
                        .stack
                        .conn(k)
                        .is_none_or(|c| c.state() != State::SynSent),
                    _ => false,
                };
                let ours = match (synchronized, self.peer_mss) {
                    (true, Some(mss)) => {
                        let mss = usize::from(mss).min(self.our_mss());
                        space.div_ceil(mss) * mss
                    }
                    _ => space,
                };
                if value.parse::<usize>().ok() == Some(ours) {
                    self.result(line, call, 0, None)
                } else {
                    fail(line, line.text.clone(), format!("SO_RCVBUF {ours}"))
                }
            }
            ("SOL_SOCKET", "SO_ERROR") => {
                let error = match s.held {
                    Held::Conn(key) if !s.error_reported => self.conn_error(key),
                    _ => None,
                };
                if error.is_some() {
                    s.error_reported = true;
                    self.fds.insert(fd, s);
                }
                let got = error.unwrap_or("0");
                if got == value || same_errno(Some(got), Some(value)) {
                    self.result(line, call, 0, None)
                } else {
                    fail(line, line.text.clone(), format!("SO_ERROR {got}"))
                }
            }
            (
                "IPPROTO_TCP",
                name @ ("TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPINIT" | "TCP_KEEPCNT"),
            ) => {
                let k = s.keep;
                let ours = match name {
                    "TCP_KEEPIDLE" => k.idle_ms / 1000,
                    "TCP_KEEPINTVL" => k.interval_ms / 1000,
                    "TCP_KEEPINIT" => k.init_ms / 1000,
                    _ => k.count,
                };
                if value.parse::<usize>().ok() == Some(ours) {
                    self.result(line, call, 0, None)
                } else {
                    fail(line, line.text.clone(), format!("{name} {ours}"))
                }
            }
            (level, name) => unsupported(format!("getsockopt {level} {name}")),
        }
    }

    fn shell(&mut self, line: &Line, cmd: &str) -> Step {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        match words.as_slice() {
            ["sysctl", "-w", setting] if setting.starts_with("net.inet.tcp.fastopen.") => {
                let (name, value) = setting.split_once('=').unwrap_or((setting, ""));
                self.fast_open_sysctl(&name["net.inet.tcp.fastopen.".len()..], value)
            }
            ["sysctl", "-w", setting] => {
                let (name, value) = setting.split_once('=').unwrap_or((setting, ""));
                let taken = self
                    .profile
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .sysctl(name, value);
                match taken {
                    Ok(_) => {
                        self.profile_changed();
                        Step::Next
                    }
                    Err(what) => unsupported(what),
                }
            }
            ["sockstat", ..] => self.sockstat(line, cmd),
            _ => unsupported(format!("shell command `{cmd}`")),
        }
    }

    /// `sockstat ... [-p PORT] | grep ... | grep -c STATE | grep N`: N
    /// connections in STATE.
    fn sockstat(&mut self, line: &Line, cmd: &str) -> Step {
        let stages: Vec<&str> = cmd.split('|').map(str::trim).collect();
        let words: Vec<&str> = stages[0].split_whitespace().collect();
        let port = words
            .iter()
            .position(|w| *w == "-p")
            .and_then(|i| words.get(i + 1))
            .and_then(|p| p.parse::<u16>().ok());
        let mut state = None;
        let mut count: Option<usize> = None;
        for stage in &stages[1..] {
            let w: Vec<&str> = stage.split_whitespace().collect();
            match w.as_slice() {
                ["grep", "-c", s] => state = Some(*s),
                ["grep", n] if n.parse::<usize>().is_ok() => count = n.parse().ok(),
                ["grep", _] => {}
                _ => return unsupported(format!("shell command `{cmd}`")),
            }
        }
        let (Some(name), Some(want)) = (state, count) else {
            return unsupported(format!("shell command `{cmd}`"));
        };
        let Some(state) = freebsd_state(name) else {
            return unsupported(format!("sockstat state {name}"));
        };
        let have = self
            .stack
            .conns()
            .filter(|(key, conn)| {
                conn.state() == state
                    && port.is_none_or(|p| key.local.port() == p || key.remote.port() == p)
            })
            .count()
            // A descriptor whose connection the stack let go is CLOSED.
            + if state == State::Closed {
                self.fds
                    .values()
                    .filter(|s| matches!(s.held, Held::Conn(k) if self.stack.conn(k).is_none()))
                    .count()
            } else {
                0
            };
        same(
            line,
            format!("{want} in {name}"),
            format!("{have} in {name}"),
        )
    }

    /// `%{ assert tcpi_options == N }%`: the options the last socket's
    /// connection agreed on, as `TCP_INFO`'s bitmask (timestamps 1, SACK
    /// 2, window scaling 4; ECN's 8 is never set, as the engine has none).
    fn tcpi_options(&mut self, line: &Line, value: &str) -> Step {
        let Some(want) = parse_number(value) else {
            return unsupported(format!("Python `assert tcpi_options == {value}`"));
        };
        let key = match self.last_fd.and_then(|fd| self.fds.get(&fd)) {
            Some(Sock {
                held: Held::Conn(key),
                ..
            }) => *key,
            _ => return unsupported("tcpi_options of a socket with no connection"),
        };
        let have: u32 = self.stack.conn(key).map_or(0, |c| {
            let agreed = c.agreed_options();
            [
                (agreed.timestamps, TCPI_OPT_TIMESTAMPS),
                (agreed.sack, TCPI_OPT_SACK),
                (agreed.window_scale.is_some(), TCPI_OPT_WSCALE),
            ]
            .into_iter()
            .filter_map(|(on, bit)| on.then_some(bit))
            .sum()
        });
        same(
            line,
            format!("tcpi_options {want}"),
            format!("tcpi_options {have}"),
        )
    }

    fn python(&mut self, line: &Line, code: &str) -> Step {
        let words: Vec<&str> = code.split_whitespace().collect();
        if let ["assert", "tcpi_options", "==", value] = words.as_slice() {
            return self.tcpi_options(line, value);
        }
        let ["assert", "tcpi_state", "==", name] = words.as_slice() else {
            return unsupported(format!("Python `{}`", code.trim()));
        };
        let Some(want) = name.strip_prefix("TCPI_").and_then(freebsd_state) else {
            return unsupported(format!("Python `{}`", code.trim()));
        };
        let have = self
            .last_fd
            .and_then(|fd| self.fds.get(&fd))
            .map(|s| match s.held {
                Held::Conn(k) => self.stack.conn(k).map_or(State::Closed, |c| c.state()),
                Held::Listening(_) => State::Listen,
                // A socket with no connection yet is in TCP's CLOSED
                // state (RFC 9293 §3.3.2: the fictional state before any).
                Held::Fresh | Held::Bound(_) => State::Closed,
            });
        match have {
            Some(s) if s == want => Step::Next,
            other => fail(line, format!("state {name}"), format!("{other:?}")),
        }
    }
}

/// packetdrill's `tcpi_options` bits (Linux's and FreeBSD's `TCPI_OPT_*`).
const TCPI_OPT_TIMESTAMPS: u32 = 1;
/// SACK was agreed.
const TCPI_OPT_SACK: u32 = 2;
/// Window scaling was agreed.
const TCPI_OPT_WSCALE: u32 = 4;

/// The line passes when what happened (`have`) is what it expects.
fn same(line: &Line, want: String, have: String) -> Step {
    if want == have {
        Step::Next
    } else {
        fail(line, want, have)
    }
}

/// A decimal or `0x` hexadecimal number.
fn parse_number(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// EAGAIN is EWOULDBLOCK.
fn same_errno(a: Option<&str>, b: Option<&str>) -> bool {
    fn norm(e: Option<&str>) -> Option<&str> {
        e.map(|e| if e == "EAGAIN" { "EWOULDBLOCK" } else { e })
    }
    norm(a) == norm(b)
}

/// FreeBSD's names of the states (sockstat's and TCPI_'s).
fn freebsd_state(name: &str) -> Option<State> {
    Some(match name {
        "CLOSED" => State::Closed,
        "LISTEN" => State::Listen,
        "SYN_SENT" => State::SynSent,
        "SYN_RCVD" | "SYN_RECEIVED" => State::SynReceived,
        "ESTABLISHED" => State::Established,
        "CLOSE_WAIT" => State::CloseWait,
        "FIN_WAIT_1" => State::FinWait1,
        "CLOSING" => State::Closing,
        "LAST_ACK" => State::LastAck,
        "FIN_WAIT_2" => State::FinWait2,
        "TIME_WAIT" => State::TimeWait,
        _ => return None,
    })
}
