//! Running a script against a sans-IO [`Stack`] on a virtual clock: the
//! system calls are made on the facade's socket layer over the stack
//! ([`vtcp::socket::Sockets`], with the errno FreeBSD gives for each
//! error's kind; a blocking call is tried again after every segment,
//! timer and call until it no longer would block), injected
//! segments go to `handle_packet`, and every segment the stack sends is
//! checked against the script's next `>` line, at its time within the
//! tolerance. A segment sent that the script does not expect fails the
//! script, as in packetdrill.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vtcp::icmp::IcmpReport;
use vtcp::socket::{Held, SocketId, Sockets, ready};
use vtcp::wire::Segment;
use vtcp::wire::checksum::{PseudoHeader, fill_tcp_checksum};
use vtcp::{ConnKey, IpFields, Stack, StackConfig, State};

use crate::icmp::IcmpSpec;
use crate::packet::{self, PacketSpec, Spaces, Verdict};
use crate::profile::{KeepTimers, Met, Os, Profile};
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
/// How long after a SYN's time the runner waits for the handshake
/// timer's retransmission of it: one maximum RTO (RFC 6298 §5.5's 60 s
/// here) and as much again.
const LATE_SYN: Duration = Duration::from_secs(120);

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
    /// The script does not parse: it is not packetdrill's syntax (a typo
    /// packetdrill rejects too, or a file that is no script), the line and
    /// the reason.
    Malformed(String),
}

impl Outcome {
    /// One word: pass, differs, fail, unsupported, error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Differs(_) => "differs",
            Self::Fail { .. } => "fail",
            Self::Unsupported(_) => "unsupported",
            Self::Malformed(_) => "error",
        }
    }
}

/// A socket descriptor: its socket in the socket layer, and what the
/// runner keeps beside it (what FreeBSD's socket layer has and
/// `vtcp::socket` does not: `O_NONBLOCK`, the keepalive sysctls' values,
/// `TCP_NOOPT`).
#[derive(Clone, Copy, Debug)]
struct Sock {
    id: SocketId,
    nonblocking: bool,
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
    /// The socket layer the system calls act on (the one `NetStack`'s
    /// sockets use), over the stack, on the runner's virtual clock.
    sockets: Sockets,
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
    /// A blocking call under way.
    blocking: Option<Blocking>,
}

/// A blocking call made and not yet checked: packetdrill runs it beside
/// the script's other lines and checks its result and the time it
/// returned at against `end`. The runner tries it on the socket layer
/// after everything that may change its socket (an injected segment, a
/// timer, another call), at that virtual time, until it no longer would
/// block.
struct Blocking {
    line: Line,
    call: Syscall,
    /// The socket it was made on.
    sock: Sock,
    what: Waiting,
    /// When the script says it returns (virtual).
    end: Duration,
    /// When it returned, and its result and errno.
    returned: Option<(Duration, i64, Option<&'static str>)>,
}

/// The blocking calls the runner makes.
#[derive(Clone, Copy, Debug)]
enum Waiting {
    /// `connect`: until the handshake is over.
    Connect,
    /// `accept`: until a connection is established.
    Accept,
    /// `read` or `recv` of `want` octets (`peek`: `MSG_PEEK`): until
    /// data, the end of file or an error.
    Read { want: usize, peek: bool },
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
            // Linux's scripts name the addresses; the runner's own stand
            // in for them, as for `...` in a call.
            "local_ip" | "remote_ip" if profile.os == Os::Linux => {}
            _ => return Outcome::Unsupported(format!("--{name}={value}")),
        }
    }
    let mtu = profile.mtu;
    let policy = profile.conn_config(ipv6);
    let profile = Arc::new(Mutex::new(profile));
    let (local, remote): (IpAddr, IpAddr) = if ipv6 {
        (
            LOCAL_V6.parse().expect("an address"),
            REMOTE_V6.parse().expect("an address"),
        )
    } else {
        (LOCAL_V4.into(), REMOTE_V4.into())
    };
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
    let mut r = Runner {
        profile,
        sockets: Sockets::new(stack, [local]),
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
    // google/packetdrill's `defaults.sh` sets `tcp_fastopen` with the
    // client bit: Linux's scripts expect a cookie request in the SYN of a
    // `TCP_FASTOPEN` or `MSG_FASTOPEN` connection.
    if r.os() == Os::Linux {
        let mut fo = r.sockets.stack().fast_open().clone();
        fo.client = true;
        r.sockets.stack_mut().set_fast_open(fo);
    }
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
            && !matches!(&line.action, Action::Call(c)
                if matches!(c.name.as_str(), "connect" | "accept" | "read" | "recv"))
        {
            return unsupported("a blocking call other than connect, accept, read and recv");
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
        if errno.is_some() {
            self.sockets.take_error(b.sock.id);
        }
        self.result(&b.line, &b.call, ret, errno)
    }

    /// Tries the blocking call under way again, at the current virtual
    /// time, and notes when it returned: once it no longer would block,
    /// with its result (−1 and its errno for an error).
    fn note_blocking(&mut self) {
        let Some(b) = self.blocking.as_ref().filter(|b| b.returned.is_none()) else {
            return;
        };
        let (s, what) = (b.sock, b.what);
        let r = match what {
            Waiting::Connect => self.sockets.poll_connected(s.id).map(|()| 0),
            Waiting::Accept => self.accept(&s),
            Waiting::Read { want, peek } => self.receive(&s, want, peek),
        };
        let returned = match ready(r) {
            None => return,
            Some(Ok(n)) => (n as i64, None),
            Some(Err(e)) => (-1, Some(errno(&e))),
        };
        if let Some(b) = self.blocking.as_mut() {
            b.returned = Some((self.now, returned.0, returned.1));
        }
    }

    /// Makes `call` on socket `s` a blocking call under way, to be tried
    /// (now first, by the line's `collect`) until it returns, and checked
    /// against its end time (`a...b`); without one it is unsupported, as
    /// the runner cannot tell when it should return. A blocking call made
    /// while another blocks fails.
    fn block(&mut self, line: &Line, call: &Syscall, s: Sock, what: Waiting) -> Step {
        let Some(end) = self.blocking_end else {
            return unsupported(format!(
                "a blocking {} that would block, without a time range",
                call.name
            ));
        };
        // One thread makes the calls, as packetdrill's: it cannot make a
        // second while the first blocks.
        if let Some(b) = &self.blocking {
            return fail(
                line,
                line.text.clone(),
                format!("a call while that of line {} blocks", b.line.number),
            );
        }
        self.blocking = Some(Blocking {
            line: line.clone(),
            call: call.clone(),
            sock: s,
            what,
            end,
            returned: None,
        });
        Step::Next
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
        while let Some(t) = self
            .sockets
            .stack_mut()
            .poll_transmit(self.now, &mut self.buf)
        {
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
            match self.sockets.stack_mut().poll_timeout() {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    self.sockets.stack_mut().handle_timeout(self.now);
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
        let Some((t, ip, first)) = self.sent.pop_front() else {
            // A SYN expected at any time (`*`: the runner waits
            // `ANY_TIME`, a bound of its own, not the script's) and not
            // sent by then. The handshake timer's schedule is the
            // system's own (FreeBSD's tcp_syn_backoff, Linux's doubling
            // from 1 s, vtcp's RFC 6298 §5.5 doubling to 60 s): the same
            // SYN later is a difference with both times, and the
            // script's clock goes on from it. A SYN expected at a time
            // of the script's that comes later still fails.
            let any_syn = at.is_none() && spec.flags == vtcp::wire::Flags::SYN;
            if any_syn
                && self.syn_comes_later()
                && let Some(sent) = self.late_syn(spec, deadline)
            {
                self.differs.push(format!(
                    "line {}: SYN retransmission sent at {}, {} by {} (RFC 6298 §5.5's \
                     doubling to 60 s; the segment is the one expected)",
                    line.number,
                    self.secs(sent),
                    self.os().name(),
                    self.secs(deadline)
                ));
                self.script_time = sent.saturating_sub(START);
                return self.expect_sent(line, spec, Some(sent), slack);
            }
            if any_syn && self.handshake_timed_out() {
                // How many times a SYN is retransmitted before the
                // connection fails is the system's own too (RFC 9293
                // §3.8.3's R2 for a SYN, "at least 3 minutes", says how
                // long, not how many): one fewer is a difference; the
                // script's ETIMEDOUT is still checked where it asks.
                self.differs.push(format!(
                    "line {}: no SYN retransmission by {}: vtcp's handshake timed out after \
                     fewer retransmissions than {}'s",
                    line.number,
                    self.secs(deadline),
                    self.os().name()
                ));
                return Step::Next;
            }
            return fail(
                line,
                line.text.clone(),
                format!("nothing sent by {}", self.secs(deadline)),
            );
        };
        let bytes = self.tiled(spec, t, slack, first);
        // Sent before the script's time: a failure, unless it is a SYN
        // (the handshake's retransmission timer) and the one expected in
        // every field: FreeBSD retransmits a SYN at 3.2 s where vtcp's RFC
        // 6298 timer says 3 s, a timer of the operating system's own, so a
        // difference with both times. Any other early segment may be an
        // answer the script does not expect, and fails.
        let early = at.filter(|&at| t + slack < at);
        let syn = Segment::parse(&bytes).is_ok_and(|s| s.flags.contains(vtcp::wire::Flags::SYN));
        // In the Linux profile any segment early and otherwise the one
        // expected is a timer of the system's own (Linux's RTO and TLP
        // timers are not vtcp's): a difference with both times.
        let linux = self.os() == Os::Linux;
        if let Some(at) = early
            && !((syn || linux)
                && matches!(
                    packet::compare(spec, &bytes, self.spaces, self.os()),
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
                "line {}: sent at {}, {} at {} (its own timer; the segment is the one expected)",
                line.number,
                self.secs(t),
                self.os().name(),
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
        let verdict = match packet::compare(spec, &bytes, self.spaces, self.os()) {
            Verdict::Mismatch(_) if linux && self.only_push_differs(spec, &bytes) => {
                Verdict::Differs(
                    "PSH: Linux sets it on each TSO burst of a write, vtcp on the segment that \
                     ends the data written (RFC 9293 §3.9.1: the sender's choice)"
                        .into(),
                )
            }
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

    /// In the Linux profile, `first` and the segments sent after it that
    /// tile the data of the expected segment `spec` exactly, as one
    /// segment: Linux's scripts expect a TSO super-segment (`P.
    /// 1:10001(10000)`) where vtcp sends the MSS-sized segments a NIC's
    /// TSO (or GSO) would cut it into. The parts must follow one another
    /// without a gap, within the line's time slack of the first, with no
    /// SYN, FIN or RST before the last; the whole takes the first's
    /// sequence number and the last's flags, acknowledgment, window and
    /// options, as the super-segment the cut came from had. Anything
    /// else, and every other profile: `first` unchanged.
    fn tiled(
        &mut self,
        spec: &PacketSpec,
        t: Duration,
        slack: Duration,
        first: Vec<u8>,
    ) -> Vec<u8> {
        if self.os() != Os::Linux || spec.len == 0 {
            return first;
        }
        let Ok(head) = Segment::parse(&first) else {
            return first;
        };
        let base = if spec.absolute {
            0
        } else {
            self.spaces.our_isn
        };
        let want = spec.len as usize;
        if head.seq.0.wrapping_sub(base) != spec.seq
            || head.payload.is_empty()
            || head.payload.len() >= want
        {
            return first;
        }
        let stops = vtcp::wire::Flags::SYN | vtcp::wire::Flags::FIN | vtcp::wire::Flags::RST;
        let mut payload = head.payload.to_vec();
        let mut parts = 0;
        let mut last = None;
        for (at, _, bytes) in &self.sent {
            let Ok(seg) = Segment::parse(bytes) else {
                break;
            };
            let prev_stops = last
                .as_ref()
                .is_some_and(|l: &Segment<Vec<u8>>| l.flags.intersects(stops))
                || head.flags.intersects(stops);
            if at.saturating_sub(t) > slack
                || prev_stops
                || seg.seq != head.seq + payload.len() as u32
                || seg.payload.is_empty()
                || payload.len() + seg.payload.len() > want
            {
                break;
            }
            payload.extend_from_slice(seg.payload);
            parts += 1;
            last = Some(seg.into_owned());
            if payload.len() == want {
                break;
            }
        }
        let Some(last) = last.filter(|_| payload.len() == want) else {
            return first;
        };
        self.sent.drain(..parts);
        Segment {
            src_port: last.src_port,
            dst_port: last.dst_port,
            seq: head.seq,
            ack: last.ack,
            flags: last.flags,
            window: last.window,
            checksum: 0,
            urgent: last.urgent,
            options: last.options,
            payload: payload.as_slice(),
        }
        .to_bytes()
    }

    /// `bytes` is the segment `spec` expects but for its PSH flag.
    fn only_push_differs(&self, spec: &PacketSpec, bytes: &[u8]) -> bool {
        /// The PSH bit in the TCP header's flags octet (RFC 9293 §3.1).
        const PSH_OCTET: usize = 13;
        if bytes.len() <= PSH_OCTET {
            return false;
        }
        let mut toggled = bytes.to_vec();
        toggled[PSH_OCTET] ^= 0x08;
        matches!(
            packet::compare(spec, &toggled, self.spaces, self.os()),
            Verdict::Match | Verdict::Differs(_)
        )
    }

    /// A connection of ours is in SYN-SENT and its timer will send the
    /// SYN again, later than the runner waits.
    /// When the handshake timer sends its next segment, if that is the
    /// SYN `spec` expects in every field but the time, within
    /// [`LATE_SYN`] of `deadline`; the segment stays queued.
    fn late_syn(&mut self, spec: &PacketSpec, deadline: Duration) -> Option<Duration> {
        self.run_timers(deadline + LATE_SYN, true);
        let (t, _, bytes) = self.sent.front()?;
        let same = Segment::parse(bytes).is_ok_and(|s| s.flags == vtcp::wire::Flags::SYN)
            && matches!(
                packet::compare(spec, bytes, self.spaces, self.os()),
                Verdict::Match | Verdict::Differs(_)
            );
        same.then_some(*t)
    }

    /// A connection ended by its timer before it was established: the
    /// handshake timed out (ETIMEDOUT) with nothing else sent.
    fn handshake_timed_out(&self) -> bool {
        self.sent.is_empty()
            && self.sockets.stack().conns().any(|(_, c)| {
                c.close_reason() == Some(vtcp::conn::CloseReason::TimedOut)
                    && c.state() == State::Closed
            })
    }

    fn syn_comes_later(&self) -> bool {
        self.sockets.stack().conns().any(|(_, c)| {
            c.state() == State::SynSent && c.poll_timeout().is_some_and(|t| t > self.now)
        })
    }

    /// The segment expected is the stack's answer for no connection, to
    /// a port a socket with the expected IP fields is bound to.
    fn bound_socket_answered(&self, spec: &PacketSpec) -> bool {
        let no_connection = self.met.is_some_and(|m| m.state.is_none() && !m.listening);
        no_connection
            && self.fds.values().any(|s| {
                matches!(self.held(s), Held::Bound(_))
                    && self
                        .sockets
                        .ip_fields(s.id)
                        .is_ok_and(|ip| spec.ip.mismatch(ip).is_none())
            })
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
        // Linux profile: the first SYN of a connection (to a listener, or
        // the SYN-ACK of ours) sets the injected side's ISN, as written.
        let learns_isn = self.os() == Os::Linux
            && spec.flags.contains(vtcp::wire::Flags::SYN)
            && self
                .sockets
                .stack()
                .conn(self.key())
                .is_none_or(|c| c.state() == State::SynSent);
        if learns_isn {
            self.spaces.their_isn = 0;
        }
        let mut bytes = match packet::build(spec, self.ports, self.spaces) {
            Ok(b) => b,
            Err(e) => return fail(line, line.text.clone(), format!("cannot build it: {e}")),
        };
        let Some(pseudo) = PseudoHeader::new(self.remote, self.local) else {
            return unsupported("mixed address families");
        };
        fill_tcp_checksum(&pseudo, &mut bytes);
        if learns_isn {
            self.spaces.their_isn = spec.seq;
        }
        let conn = self.sockets.stack().conn(self.key());
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
                .any(|s| matches!(self.held(s), Held::Listening(_))),
        });
        // A SYN that opens a new passive connection: its SYN-ACK brings
        // a new ISN to learn (a script may open several, one after another).
        if spec.flags == vtcp::wire::Flags::SYN && self.met.is_some_and(|m| m.state.is_none()) {
            self.isn_known = false;
        }
        self.sockets.stack_mut().handle_packet_ecn(
            self.now,
            self.remote,
            self.local,
            &bytes,
            spec.ip.ecn_in(),
        );
        Step::Next
    }

    /// The script's connection: our address and port, the injected
    /// side's.
    fn key(&self) -> ConnKey {
        ConnKey {
            local: SocketAddr::new(self.local, self.ports.0),
            remote: SocketAddr::new(self.remote, self.ports.1),
        }
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
        self.sockets.stack_mut().handle_icmp(
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

    /// What the socket holds.
    fn held(&self, s: &Sock) -> Held {
        self.sockets.held(s.id).unwrap_or(Held::Fresh)
    }

    /// The connection of the socket, if it has one.
    fn conn_key(&self, s: &Sock) -> Option<ConnKey> {
        self.sockets.conn_key(s.id)
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

    /// The result of a socket call that gives a count: the count, or
    /// -1 and its errno. One that would block gives EWOULDBLOCK on a
    /// non-blocking socket (or with `MSG_DONTWAIT`); a blocking one would
    /// wait, which the runner does for `connect` only: unsupported.
    fn outcome(
        &self,
        line: &Line,
        call: &Syscall,
        r: io::Result<usize>,
        nonblocking: bool,
    ) -> Step {
        match ready(r) {
            Some(Ok(n)) => self.result(line, call, n as i64, None),
            Some(Err(e)) => self.result(line, call, -1, Some(errno(&e))),
            None if nonblocking => self.result(line, call, -1, Some("EWOULDBLOCK")),
            None => unsupported(format!("a blocking {} that would block", call.name)),
        }
    }

    fn call(&mut self, line: &Line, call: &Syscall) -> Step {
        let arg = |i: usize| call.args.get(i).map(String::as_str).unwrap_or("");
        match call.name.as_str() {
            "socket" => {
                let sock = Sock {
                    id: self.sockets.open(),
                    nonblocking: false,
                    noopt: false,
                    keep: self
                        .profile
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .keep_timers,
                };
                // packetdrill's descriptors are the script's names for
                // the live ones: in the Linux profile a free number the
                // script gives is the socket's (its scripts number a
                // socket made after a close anew).
                let fd = match call.ret {
                    fd @ 3.. if self.os() == Os::Linux && !self.fds.contains_key(&fd) => {
                        self.fds.insert(fd, sock);
                        self.last_fd = Some(fd);
                        fd
                    }
                    _ => self.new_fd(sock),
                };
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
            "setsockopt" => match (level(arg(1)), arg(2)) {
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
                let Some((_, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                match self.bind(&s) {
                    Ok(()) => self.result(line, call, 0, None),
                    Err(e) => self.result(line, call, -1, Some(errno(&e))),
                }
            }
            "listen" => {
                let Some((_, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                let backlog: usize = arg(1).parse().unwrap_or(1).max(1);
                // As the runner's scripts expect, a socket listens on
                // packetdrill's port, bound or not.
                if self.held(&s) == Held::Fresh
                    && let Err(e) = self.bind(&s)
                {
                    return self.result(line, call, -1, Some(errno(&e)));
                }
                // Connections the listener makes take its IP fields and
                // its TCP options.
                if let Ok(ip) = self.sockets.ip_fields(s.id) {
                    self.profile.lock().unwrap_or_else(|e| e.into_inner()).ip = ip;
                }
                self.socket_options(&s);
                if self.sockets.fast_open(s.id) {
                    self.fast_open_server(None);
                }
                match self.sockets.listen(s.id, backlog) {
                    Ok(_) => self.result(line, call, 0, None),
                    Err(e) => self.result(line, call, -1, Some(errno(&e))),
                }
            }
            "accept" => {
                let Some((_, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                if !s.nonblocking && self.blocking_end.is_some() {
                    return self.block(line, call, s, Waiting::Accept);
                }
                let accepted = self.accept(&s);
                self.outcome(line, call, accepted, s.nonblocking)
            }
            "connect" => {
                let Some((_, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                // A blocking connect needs the time it returns at.
                if !s.nonblocking && self.blocking_end.is_none() {
                    return unsupported("a blocking connect without a time range");
                }
                match self.active_open(&s) {
                    Ok(_) if s.nonblocking => self.result(line, call, -1, Some("EINPROGRESS")),
                    Ok(_) => self.block(line, call, s, Waiting::Connect),
                    Err(e) => self.result(line, call, -1, Some(errno(&e))),
                }
            }
            "read" | "recv" => {
                let Some((_, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                let want: usize = arg(2).parse().unwrap_or(0);
                // recv(2)'s flags: MSG_PEEK leaves the data to be read
                // again, MSG_DONTWAIT makes this one call non-blocking.
                let flags = if call.name == "recv" { arg(3) } else { "" };
                let nonblocking = s.nonblocking || flags.contains("MSG_DONTWAIT");
                let peek = flags.contains("MSG_PEEK");
                if !nonblocking && self.blocking_end.is_some() {
                    return self.block(line, call, s, Waiting::Read { want, peek });
                }
                let r = self.receive(&s, want, peek);
                self.outcome(line, call, r, nonblocking)
            }
            "write" | "send" => {
                let Some((_, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                let len: usize = arg(2).parse().unwrap_or(0);
                self.write(line, call, &s, len)
            }
            "shutdown" => {
                let Some((_, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                let how = match arg(1) {
                    "SHUT_RD" => Shutdown::Read,
                    "SHUT_WR" => Shutdown::Write,
                    "SHUT_RDWR" => Shutdown::Both,
                    other => return unsupported(format!("shutdown {other}")),
                };
                match self.sockets.shutdown(s.id, how) {
                    Ok(()) => self.result(line, call, 0, None),
                    Err(e) => self.result(line, call, -1, Some(errno(&e))),
                }
            }
            "close" => {
                let Some((fd, s)) = self.sock(call) else {
                    return self.result(line, call, -1, Some("EBADF"));
                };
                self.sockets.close(s.id);
                self.fds.remove(&fd);
                self.result(line, call, 0, None)
            }
            other => unsupported(format!("system call {other}")),
        }
    }

    /// `accept` on listening socket `s`: the new descriptor. As on the
    /// BSDs, the accepted socket inherits O_NONBLOCK (not in the Linux
    /// profile: Linux's `accept` gives a blocking socket), and FreeBSD's
    /// copies the listener's keepalive timers; its IP fields come with
    /// its connection (the listener's, through the profile).
    fn accept(&mut self, s: &Sock) -> io::Result<usize> {
        let (id, _) = self.sockets.accept(s.id)?;
        let nonblocking = s.nonblocking && self.os() == Os::FreeBsd;
        let fd = self.new_fd(Sock {
            id,
            nonblocking,
            noopt: s.noopt,
            keep: s.keep,
        });
        Ok(fd as usize)
    }

    /// The lowest free descriptor, now `sock`'s (and the last one used).
    fn new_fd(&mut self, sock: Sock) -> i64 {
        let fd = (3..)
            .find(|fd| !self.fds.contains_key(fd))
            .expect("a free fd");
        self.fds.insert(fd, sock);
        self.last_fd = Some(fd);
        fd
    }

    /// `read` (or `recv`, with `MSG_PEEK` if `peek`) of up to `want`
    /// octets on socket `s`.
    fn receive(&mut self, s: &Sock, want: usize, peek: bool) -> io::Result<usize> {
        let mut out = vec![0u8; want];
        if peek {
            self.sockets.peek(s.id, &mut out)
        } else {
            self.sockets.read(s.id, &mut out)
        }
    }

    /// Binds socket `s` to packetdrill's port on any address of the
    /// script's family (whatever address the script names: the injected
    /// segments go to the runner's own).
    fn bind(&mut self, s: &Sock) -> io::Result<()> {
        let any: IpAddr = if self.local.is_ipv4() {
            [0u8; 4].into()
        } else {
            [0u8; 16].into()
        };
        self.sockets.bind(s.id, SocketAddr::new(any, SERVER_PORT))?;
        self.ports = (SERVER_PORT, CLIENT_PORT);
        Ok(())
    }

    /// Opens the connection of socket `s` to the injected side: with TCP
    /// Fast Open when the socket asked for it (`TCP_FASTOPEN`), and the
    /// stack's client side is on (`net.inet.tcp.fastopen.client_enable`).
    fn active_open(&mut self, s: &Sock) -> io::Result<ConnKey> {
        let remote = SocketAddr::new(self.remote, SERVER_PORT);
        self.socket_options(s);
        let key = self.sockets.connect(s.id, self.now, remote)?;
        self.ports = (key.local.port(), SERVER_PORT);
        // A new connection, a new ISN to learn from its SYN.
        self.isn_known = false;
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
        let (_, s, n) = match self.tcp_option(line, call, "TCP_FASTOPEN") {
            Ok(found) => found,
            Err(step) => return step,
        };
        if let Err(e) = self.sockets.set_fast_open(s.id, n != 0) {
            return self.result(line, call, -1, Some(errno(&e)));
        }
        if n != 0 && matches!(self.held(&s), Held::Listening(_)) {
            self.fast_open_server((n > 1).then_some(n));
        }
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
        self.sockets.stack_mut().set_conn_config(policy);
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
        let mut fo = self.sockets.stack().fast_open().clone();
        fo.server = true;
        if let Some(n) = max_pending {
            fo.max_pending = n;
        }
        self.sockets.stack_mut().set_fast_open(fo);
    }

    /// `sendto(fd, ..., len, flags, ..., ...)`: on a connected socket, a
    /// write; on a fresh one with `TCP_FASTOPEN` (or `MSG_FASTOPEN`), the
    /// implied connect of FreeBSD's and Linux's client TFO: the connection
    /// opens with the data queued before its SYN goes, and the call
    /// returns the length queued, blocking socket or not (Linux's
    /// non-blocking call with no data: EINPROGRESS, as its connect).
    fn sendto(&mut self, line: &Line, call: &Syscall) -> Step {
        let arg = |i: usize| call.args.get(i).map(String::as_str).unwrap_or("");
        let Some((_, s)) = self.sock(call) else {
            return self.result(line, call, -1, Some("EBADF"));
        };
        let len: usize = arg(2).parse().unwrap_or(0);
        if matches!(self.held(&s), Held::Fresh | Held::Bound(_))
            && (self.sockets.fast_open(s.id) || arg(3).contains("MSG_FASTOPEN"))
        {
            let opened = self
                .sockets
                .set_fast_open(s.id, true)
                .and_then(|()| self.active_open(&s));
            if let Err(e) = opened {
                return fail(line, line.text.clone(), format!("sendto: {e}"));
            }
            // Linux's `tcp_sendmsg_fastopen`: nothing went in the SYN,
            // so a non-blocking call ends as its connect does.
            if len == 0 && s.nonblocking && self.os() == Os::Linux {
                return self.result(line, call, -1, Some("EINPROGRESS"));
            }
        }
        self.write(line, call, &s, len)
    }

    /// `len` octets written on socket `s`: the call's result, or its
    /// error (the connection's, EPIPE once our side is closed, ENOTCONN
    /// with no connection).
    fn write(&mut self, line: &Line, call: &Syscall, s: &Sock, len: usize) -> Step {
        let r = self.sockets.write(s.id, &vec![0u8; len]);
        self.outcome(line, call, r, s.nonblocking)
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
        let mut fo = self.sockets.stack().fast_open().clone();
        match name {
            "client_enable" => {
                fo.client = n != 0;
                self.sockets.stack_mut().clear_fast_open_cache();
            }
            "server_enable" => fo.server = n != 0,
            "path_disable_time" => fo.disable_for = Duration::from_secs(n),
            _ => return unsupported(format!("sysctl net.inet.tcp.fastopen.{name}={value}")),
        }
        self.sockets.stack_mut().set_fast_open(fo);
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
        let Some((_, s)) = self.sock(call) else {
            return self.result(line, call, -1, Some("EBADF"));
        };
        let set = self.sockets.ip_fields(s.id).and_then(|mut ip| {
            set(&mut ip, v);
            self.sockets.set_ip_fields(s.id, ip)
        });
        match set {
            Ok(()) => self.result(line, call, 0, None),
            Err(e) => self.result(line, call, -1, Some(errno(&e))),
        }
    }

    fn getsockopt(&mut self, line: &Line, call: &Syscall) -> Step {
        let Some((_, s)) = self.sock(call) else {
            return self.result(line, call, -1, Some("EBADF"));
        };
        let arg = |i: usize| call.args.get(i).map(String::as_str).unwrap_or("");
        let value = arg(3).trim_matches(|c| c == '[' || c == ']');
        match (level(arg(1)), arg(2)) {
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
                let synchronized = match self.held(&s) {
                    Held::Connected(k) => self
                        .sockets
                        .stack()
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
                let error = self.sockets.take_error(s.id);
                let got = error.as_ref().map_or("0", errno);
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

    /// A shell command, line by line (Linux's scripts run several in one
    /// backquoted block; `#` begins a comment).
    fn shell(&mut self, line: &Line, cmd: &str) -> Step {
        // A backslash at the end of a line continues the command.
        let cmd = cmd.replace("\\\n", " ");
        for part in cmd.lines() {
            let part = part.split_once('#').map_or(part, |(c, _)| c);
            let part = part.trim().trim_end_matches('\\').trim();
            if part.is_empty() {
                continue;
            }
            if let Step::Stop(outcome) = self.shell_line(line, part) {
                return Step::Stop(outcome);
            }
        }
        Step::Next
    }

    fn shell_line(&mut self, line: &Line, cmd: &str) -> Step {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let linux = self.os() == Os::Linux;
        match words.as_slice() {
            ["sysctl", "-w", setting] if setting.starts_with("net.inet.tcp.fastopen.") => {
                let (name, value) = setting.split_once('=').unwrap_or((setting, ""));
                self.fast_open_sysctl(&name["net.inet.tcp.fastopen.".len()..], value)
            }
            ["sysctl", "-w", setting] if !linux => {
                let (name, value) = setting.split_once('=').unwrap_or((setting, ""));
                self.sysctl(name, value)
            }
            // google/packetdrill's `common/defaults.sh` sets what the
            // Linux profile holds already; `sysctl_restore` puts back what
            // a script changed, after it.
            [path] if linux && path.ends_with("common/defaults.sh") => Step::Next,
            [path] if linux && path.starts_with("/tmp/sysctl_restore_") => Step::Next,
            ["ip", "tcp_metrics", "flush", ..] if linux => Step::Next,
            // `sysctl [-q] [-w] NAME=VALUE ...`, or google/packetdrill's
            // `set_sysctls.py /proc/sys/net/ipv4/NAME=VALUE ...`.
            [program, ..]
                if linux && (*program == "sysctl" || program.ends_with("set_sysctls.py")) =>
            {
                let settings = sysctl_settings(&cmd[program.len()..]);
                let Some(settings) = settings else {
                    return unsupported(format!("shell command `{cmd}`"));
                };
                for (name, value) in settings {
                    let name = match name.strip_prefix("/proc/sys/") {
                        Some(path) => path.replace('/', "."),
                        None if *program == "sysctl" => name,
                        None => return unsupported(format!("shell command `{cmd}`")),
                    };
                    if let Step::Stop(outcome) = self.sysctl(&name, &value) {
                        return Step::Stop(outcome);
                    }
                }
                Step::Next
            }
            ["sockstat", ..] => self.sockstat(line, cmd),
            _ => unsupported(format!("shell command `{cmd}`")),
        }
    }

    /// `sysctl NAME=VALUE` on the profile, or on the stack's TFO settings
    /// (Linux's `net.ipv4.tcp_fastopen`).
    fn sysctl(&mut self, name: &str, value: &str) -> Step {
        if name == "net.ipv4.tcp_fastopen" {
            return self.linux_fast_open_sysctl(value);
        }
        // 0: TFO is never turned off after a failure (FreeBSD's
        // `path_disable_time` at 0).
        if name == "net.ipv4.tcp_fastopen_blackhole_timeout_sec" && value == "0" {
            let mut fo = self.sockets.stack().fast_open().clone();
            fo.disable_for = Duration::ZERO;
            self.sockets.stack_mut().set_fast_open(fo);
            return Step::Next;
        }
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

    /// `net.ipv4.tcp_fastopen`: Linux's bits, 1 the client side, 2 the
    /// server side (for a listener that sets `TCP_FASTOPEN`); any other
    /// bit (no cookie, the server on every listener, …) has no
    /// counterpart.
    fn linux_fast_open_sysctl(&mut self, value: &str) -> Step {
        let n = match value.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => value.parse().ok(),
        };
        let Some(n) = n.filter(|n| n & !0x3 == 0) else {
            return unsupported(format!(
                "sysctl net.ipv4.tcp_fastopen={value}: bits beyond the client's and server's"
            ));
        };
        let mut fo = self.sockets.stack().fast_open().clone();
        fo.client = n & 1 != 0;
        // The server side is a listener's, once it sets TCP_FASTOPEN
        // (`set_fast_open`); without bit 2 no listener's.
        fo.server &= n & 2 != 0;
        self.sockets.stack_mut().set_fast_open(fo);
        Step::Next
    }

    fn os(&self) -> Os {
        self.profile.lock().unwrap_or_else(|e| e.into_inner()).os
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
            .sockets
            .stack()
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
                    .filter(|s| {
                        self.conn_key(s)
                            .is_some_and(|k| self.sockets.stack().conn(k).is_none())
                    })
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
    /// 2, window scaling 4, ECN 8).
    fn tcpi_options(&mut self, line: &Line, value: &str) -> Step {
        let Some(want) = parse_tcpi_options(value) else {
            return unsupported(format!("Python `assert tcpi_options == {value}`"));
        };
        let key = match self.last_fd.and_then(|fd| self.fds.get(&fd)) {
            Some(s) if let Some(key) = self.conn_key(s) => key,
            _ => return unsupported("tcpi_options of a socket with no connection"),
        };
        let have = self.options_agreed(key);
        same(
            line,
            format!("tcpi_options {want}"),
            format!("tcpi_options {have}"),
        )
    }

    /// `tcpi_options` of connection `key`.
    fn options_agreed(&self, key: ConnKey) -> u32 {
        self.sockets.stack().conn(key).map_or(0, |c| {
            let agreed = c.agreed_options();
            [
                (agreed.timestamps, TCPI_OPT_TIMESTAMPS),
                (agreed.sack, TCPI_OPT_SACK),
                (agreed.window_scale.is_some(), TCPI_OPT_WSCALE),
                (c.ecn_negotiated(), TCPI_OPT_ECN),
            ]
            .into_iter()
            .filter_map(|(on, bit)| on.then_some(bit))
            .sum()
        })
    }

    fn python(&mut self, line: &Line, code: &str) -> Step {
        if self.os() == Os::Linux {
            return self.linux_python(line, code);
        }
        let words: Vec<&str> = code.split_whitespace().collect();
        if let ["assert", "tcpi_options", "==", value @ ..] = words.as_slice()
            && !value.is_empty()
        {
            return self.tcpi_options(line, &value.join(" "));
        }
        let ["assert", "tcpi_state", "==", name] = words.as_slice() else {
            return unsupported(format!("Python `{}`", code.trim()));
        };
        let Some(want) = name.strip_prefix("TCPI_").and_then(freebsd_state) else {
            return unsupported(format!("Python `{}`", code.trim()));
        };
        match self.last_state() {
            Some(s) if s == want => Step::Next,
            other => fail(line, format!("state {name}"), format!("{other:?}")),
        }
    }

    /// The TCP state of the last socket used.
    fn last_state(&self) -> Option<State> {
        self.last_fd
            .and_then(|fd| self.fds.get(&fd))
            .map(|s| match self.held(s) {
                Held::Connected(k) => self
                    .sockets
                    .stack()
                    .conn(k)
                    .map_or(State::Closed, |c| c.state()),
                Held::Listening(_) => State::Listen,
                // A socket with no connection yet is in TCP's CLOSED
                // state (RFC 9293 §3.3.2: the fictional state before any).
                _ => State::Closed,
            })
    }

    /// A Linux script's Python block: `assert tcpi_FIELD OP VALUE[, why]`
    /// lines on the last socket's `TCP_INFO`, the fields the engine can
    /// say ([`Runner::tcp_info`]); any other statement is unsupported.
    fn linux_python(&mut self, line: &Line, code: &str) -> Step {
        for stmt in code.lines() {
            let stmt = stmt.split_once('#').map_or(stmt, |(c, _)| c).trim();
            if stmt.is_empty() {
                continue;
            }
            let Some(test) = stmt.strip_prefix("assert ") else {
                return unsupported(format!("Python `{stmt}`"));
            };
            // The message after the comma is Python's, not the test's.
            let test = test.split_once(',').map_or(test, |(t, _)| t);
            let words: Vec<&str> = test.split_whitespace().collect();
            let [field, op, value] = words.as_slice() else {
                return unsupported(format!("Python `{stmt}`"));
            };
            let want = match linux_state(value) {
                Some(state) => i64::from(linux_state_number(state)),
                None => match parse_number(value) {
                    Some(n) => i64::from(n),
                    None => return unsupported(format!("Python `{stmt}`")),
                },
            };
            let Some(have) = self.tcp_info(field) else {
                return unsupported(format!("Python `{stmt}`: {field}"));
            };
            let holds = match *op {
                "==" => have == want,
                "!=" => have != want,
                "<=" => have <= want,
                ">=" => have >= want,
                "<" => have < want,
                ">" => have > want,
                _ => return unsupported(format!("Python `{stmt}`")),
            };
            if !holds {
                return fail(line, test.trim().to_string(), format!("{field} {have}"));
            }
        }
        Step::Next
    }

    /// A Linux `TCP_INFO` field of the last socket's connection, as far
    /// as the engine can say it: `tcpi_state` (Linux's numbering),
    /// `tcpi_options`, `tcpi_snd_cwnd` and `tcpi_snd_ssthresh` (segments
    /// of the send MSS), `tcpi_unacked` (segments from SND.UNA to
    /// SND.NXT), `tcpi_rto` and `tcpi_rtt` (µs), `tcpi_snd_mss`,
    /// `tcpi_total_retrans`.
    fn tcp_info(&self, field: &str) -> Option<i64> {
        if field == "tcpi_state" {
            return self.last_state().map(|s| i64::from(linux_state_number(s)));
        }
        let key = self
            .last_fd
            .and_then(|fd| self.fds.get(&fd))
            .and_then(|s| self.conn_key(s))?;
        if field == "tcpi_options" {
            return Some(i64::from(self.options_agreed(key)));
        }
        let conn = self.sockets.stack().conn(key)?;
        let stats = conn.stats();
        let mss = i64::from(conn.send_mss().max(1));
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Some(match field {
            "tcpi_snd_cwnd" => i64::from(stats.cwnd) / mss,
            // Linux's "infinite" ssthresh, before any loss, is 0x7fffffff.
            "tcpi_snd_ssthresh" if stats.ssthresh >= u32::MAX / 2 => 0x7fff_ffff,
            "tcpi_snd_ssthresh" => i64::from(stats.ssthresh) / mss,
            "tcpi_unacked" => i64::from(
                conn.snd_nxt()
                    .distance_from(conn.snd_una())
                    .div_ceil(mss as u32),
            ),
            "tcpi_rto" => micros(stats.rto),
            "tcpi_rtt" => micros(stats.srtt?),
            "tcpi_snd_mss" => mss,
            "tcpi_total_retrans" => i64::try_from(stats.retransmits).unwrap_or(i64::MAX),
            _ => return None,
        })
    }
}

/// packetdrill's `tcpi_options` bits (Linux's and FreeBSD's `TCPI_OPT_*`).
const TCPI_OPT_TIMESTAMPS: u32 = 1;
/// SACK was agreed.
const TCPI_OPT_SACK: u32 = 2;
/// Window scaling was agreed.
const TCPI_OPT_WSCALE: u32 = 4;
/// ECN was set up (RFC 3168 §6.1.1).
const TCPI_OPT_ECN: u32 = 8;

/// A `tcpi_options` value: a number, or `TCPI_OPT_*` names and numbers
/// joined by `|`, in parentheses or not.
fn parse_tcpi_options(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(s);
    s.split('|')
        .map(|term| match term.trim() {
            "TCPI_OPT_TIMESTAMPS" => Some(TCPI_OPT_TIMESTAMPS),
            "TCPI_OPT_SACK" => Some(TCPI_OPT_SACK),
            "TCPI_OPT_WSCALE" => Some(TCPI_OPT_WSCALE),
            "TCPI_OPT_ECN" => Some(TCPI_OPT_ECN),
            n => parse_number(n),
        })
        .try_fold(0, |acc, bit| Some(acc | bit?))
}

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

/// The errno FreeBSD gives for a socket call's error, by its kind (the
/// socket layer's errors are `std::net`'s kinds).
fn errno(e: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "ECONNREFUSED",
        ConnectionReset => "ECONNRESET",
        ConnectionAborted => "ECONNABORTED",
        TimedOut => "ETIMEDOUT",
        HostUnreachable => "EHOSTUNREACH",
        NetworkUnreachable => "ENETUNREACH",
        BrokenPipe => "EPIPE",
        NotConnected => "ENOTCONN",
        WouldBlock => "EWOULDBLOCK",
        InvalidInput => "EINVAL",
        AddrInUse => "EADDRINUSE",
        AddrNotAvailable => "EADDRNOTAVAIL",
        _ => "EIO",
    }
}

/// A socket option's level by its IPPROTO_ name (Linux's scripts write
/// `SOL_TCP`, `SOL_IP`, `SOL_IPV6`).
fn level(name: &str) -> &str {
    match name {
        "SOL_TCP" => "IPPROTO_TCP",
        "SOL_IP" => "IPPROTO_IP",
        "SOL_IPV6" => "IPPROTO_IPV6",
        other => other,
    }
}

/// EAGAIN is EWOULDBLOCK.
fn same_errno(a: Option<&str>, b: Option<&str>) -> bool {
    fn norm(e: Option<&str>) -> Option<&str> {
        e.map(|e| if e == "EAGAIN" { "EWOULDBLOCK" } else { e })
    }
    norm(a) == norm(b)
}

/// Linux's names of the states (`TCP_ESTABLISHED`, …, `TCP_CLOSE`).
fn linux_state(name: &str) -> Option<State> {
    Some(match name {
        "TCP_ESTABLISHED" => State::Established,
        "TCP_SYN_SENT" => State::SynSent,
        "TCP_SYN_RECV" => State::SynReceived,
        "TCP_FIN_WAIT1" => State::FinWait1,
        "TCP_FIN_WAIT2" => State::FinWait2,
        "TCP_TIME_WAIT" => State::TimeWait,
        "TCP_CLOSE" => State::Closed,
        "TCP_CLOSE_WAIT" => State::CloseWait,
        "TCP_LAST_ACK" => State::LastAck,
        "TCP_LISTEN" => State::Listen,
        "TCP_CLOSING" => State::Closing,
        _ => return None,
    })
}

/// Linux's number of a state (`include/net/tcp_states.h`), as
/// `tcpi_state` gives it.
fn linux_state_number(state: State) -> u8 {
    match state {
        State::Established => 1,
        State::SynSent => 2,
        State::SynReceived => 3,
        State::FinWait1 => 4,
        State::FinWait2 => 5,
        State::TimeWait => 6,
        State::CloseWait => 8,
        State::LastAck => 9,
        State::Listen => 10,
        State::Closing => 11,
        _ => 7,
    }
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

/// The `NAME=VALUE` settings of a `sysctl` command line (its flags, `-q`
/// and `-w`, skipped; a value may be quoted, `"4096 87380 6291456"`), or
/// `None` if a word is neither.
fn sysctl_settings(args: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = args.trim_start();
    while !rest.is_empty() {
        if let Some(flag) = rest.strip_prefix('-') {
            let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
            if !flag[..end].chars().all(|c| c.is_ascii_alphabetic()) {
                return None;
            }
            rest = flag[end..].trim_start();
            continue;
        }
        let (name, after) = rest.split_once('=')?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"')?,
            None => after.split_at(after.find(char::is_whitespace).unwrap_or(after.len())),
        };
        out.push((name.to_string(), value.to_string()));
        rest = after.trim_start();
    }
    Some(out)
}
