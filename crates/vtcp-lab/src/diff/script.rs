//! The script model of differential testing and its text form: what the
//! scripted peer injects, what the system under test is asked to do, one
//! step a line.
//!
//! ```text
//! role server
//! listen
//! inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero
//! inject . seq=+0 ack=+0 win=502 ts=new:echo
//! accept
//! write 3000
//! inject P. seq=+0 ack=+1448 len=100 win=502 sack=2897:3001 ts=new:echo
//! lose
//! read 1000
//! close
//! wait 300
//! ```
//!
//! An injected segment is described relative to the connection: `seq` is
//! an offset from the peer's next sequence number, `ack` from the highest
//! sequence number the peer has seen from the system under test, SACK
//! blocks are relative to the system under test's ISN (its first data
//! octet is 1). `ts=VAL:ECR` sends timestamps: VAL `new` (the peer's
//! clock, moving on) or `old` (well behind the last one sent: PAWS), ECR
//! `echo` (the last TSval seen) or `zero`. Lines starting with `#` are
//! comments.

use std::fmt;

use vtcp::wire::Flags;

/// Who opens the connection: the system under test is the server (it
/// listens, the peer sends the SYN) or the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// The system under test listens.
    Server,
    /// The system under test connects.
    Client,
}

/// The timestamps option of an injected segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TsSpec {
    /// TSval well behind the last one sent (a PAWS test), instead of the
    /// peer's clock.
    pub old: bool,
    /// TSecr echoes the last TSval seen from the system under test;
    /// `false`: zero.
    pub echo: bool,
}

/// One segment the peer injects, relative to the connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Inject {
    /// Control bits, any combination.
    pub flags: Flags,
    /// Offset from the peer's next sequence number.
    pub seq: i64,
    /// Offset from the highest sequence number seen from the system
    /// under test (sent as is, whether ACK is set or not).
    pub ack: i64,
    /// Octets of payload.
    pub len: u16,
    /// The window field, unscaled.
    pub win: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window-scale option.
    pub ws: Option<u8>,
    /// SACK-permitted option.
    pub sackok: bool,
    /// SACK blocks, relative to the system under test's ISN.
    pub sack: Vec<(u32, u32)>,
    /// Timestamps option.
    pub ts: Option<TsSpec>,
}

impl Inject {
    /// A segment with these flags at the peer's next sequence number,
    /// acknowledging all seen, a 65,535 window, no payload or options.
    pub fn new(flags: Flags) -> Self {
        Self {
            flags,
            seq: 0,
            ack: 0,
            len: 0,
            win: 65_535,
            mss: None,
            ws: None,
            sackok: false,
            sack: Vec::new(),
            ts: None,
        }
    }
}

/// A socket call on the system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Call {
    /// listen() on the server's port.
    Listen,
    /// accept() on the listener.
    Accept,
    /// connect() to the peer (non-blocking).
    Connect,
    /// write() of this many octets.
    Write(u32),
    /// read() of up to this many octets.
    Read(u32),
    /// shutdown(SHUT_WR).
    Shutdown,
    /// close().
    Close,
    /// SO_LINGER 0, then close(): a RST.
    Abort,
    /// TCP_NODELAY on or off.
    Nodelay(bool),
}

/// One step of a script; each is followed by the settle time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// The peer sends a segment.
    Inject(Inject),
    /// A socket call.
    Call(Call),
    /// This many more milliseconds pass (beyond the settle time).
    Wait(u32),
    /// What the system under test sent in the previous step is lost: the
    /// peer acts as if it had not seen it.
    Lose,
}

/// A script: the role, then the steps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Script {
    /// Who opens.
    pub role: Role,
    /// What happens, in order.
    pub steps: Vec<Step>,
}

/// Why a script's text was refused: the line (from 1) and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct ParseError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong with it.
    pub why: String,
}

/// The most steps a script may have: scripts are read from files, and a
/// run takes the settle time per step.
pub const MAX_STEPS: usize = 1000;

/// The longest `wait`, in milliseconds.
pub const MAX_WAIT_MS: u32 = 10_000;

/// The most octets one `write` or `read` may ask for.
pub const MAX_IO: u32 = 1 << 20;

/// tcpdump's letters for the flags a script may set, `.` for ACK.
const LETTERS: [(char, Flags); 9] = [
    ('F', Flags::FIN),
    ('S', Flags::SYN),
    ('R', Flags::RST),
    ('P', Flags::PSH),
    ('.', Flags::ACK),
    ('U', Flags::URG),
    ('E', Flags::ECE),
    ('W', Flags::CWR),
    ('e', Flags::AE),
];

/// Flags from tcpdump's letters (`S.`, `F.`, `none`).
pub fn parse_flags(s: &str) -> Result<Flags, String> {
    if s == "none" {
        return Ok(Flags::empty());
    }
    let mut flags = Flags::empty();
    for c in s.chars() {
        let (_, f) = LETTERS
            .iter()
            .find(|(l, _)| *l == c)
            .ok_or_else(|| format!("unknown flag {c:?} in {s:?}"))?;
        flags |= *f;
    }
    Ok(flags)
}

fn number<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{what}: not a number: {s:?}"))
}

fn offset(what: &str, s: &str) -> Result<i64, String> {
    let v: i64 = number(what, s.strip_prefix('+').unwrap_or(s))?;
    if v.unsigned_abs() > u64::from(u32::MAX) {
        return Err(format!("{what}: offset beyond 32 bits: {s}"));
    }
    Ok(v)
}

fn parse_inject(words: &[&str]) -> Result<Inject, String> {
    let (flags, rest) = words.split_first().ok_or("inject: no flags")?;
    let mut i = Inject::new(parse_flags(flags)?);
    for w in rest {
        let (k, v) = w.split_once('=').unwrap_or((w, ""));
        match k {
            "seq" => i.seq = offset(k, v)?,
            "ack" => i.ack = offset(k, v)?,
            "len" => i.len = number(k, v)?,
            "win" => i.win = number(k, v)?,
            "mss" => i.mss = Some(number(k, v)?),
            "ws" => i.ws = Some(number(k, v)?),
            "sackok" if v.is_empty() => i.sackok = true,
            "sack" => {
                for b in v.split(',') {
                    let (l, r) = b.split_once(':').ok_or("sack: blocks are L:R")?;
                    i.sack.push((number(k, l)?, number(k, r)?));
                }
                if i.sack.len() > vtcp::wire::MAX_SACK_BLOCKS {
                    return Err("sack: at most 4 blocks".into());
                }
            }
            "ts" => {
                let (val, ecr) = v.split_once(':').ok_or("ts: VAL:ECR")?;
                let old = match val {
                    "new" => false,
                    "old" => true,
                    _ => return Err(format!("ts: TSval is new or old, not {val:?}")),
                };
                let echo = match ecr {
                    "echo" => true,
                    "zero" => false,
                    _ => return Err(format!("ts: TSecr is echo or zero, not {ecr:?}")),
                };
                i.ts = Some(TsSpec { old, echo });
            }
            _ => return Err(format!("inject: unknown field {w:?}")),
        }
    }
    // What fits in 40 octets of options, as `build` lays them out.
    if options_len(&i) > 40 {
        return Err("inject: the options take more than 40 octets".into());
    }
    Ok(i)
}

/// The octets the options of `i` take on the wire, padded.
pub fn options_len(i: &Inject) -> usize {
    let sack = if i.sack.is_empty() {
        0
    } else {
        2 + 8 * i.sack.len()
    };
    let raw = i.mss.map_or(0, |_| 4)
        + i.ws.map_or(0, |_| 3)
        + usize::from(i.sackok) * 2
        + i.ts.map_or(0, |_| 10)
        + sack;
    raw.div_ceil(4) * 4
}

fn parse_line(words: &[&str]) -> Result<Step, String> {
    let n = |s: Option<&&str>, what: &str| -> Result<u32, String> {
        let v: u32 = number(what, s.ok_or_else(|| format!("{what}: how many?"))?)?;
        if v > MAX_IO {
            return Err(format!("{what}: at most {MAX_IO}"));
        }
        Ok(v)
    };
    Ok(match words {
        ["inject", rest @ ..] => Step::Inject(parse_inject(rest)?),
        ["listen"] => Step::Call(Call::Listen),
        ["accept"] => Step::Call(Call::Accept),
        ["connect"] => Step::Call(Call::Connect),
        ["write", rest @ ..] if rest.len() == 1 => {
            Step::Call(Call::Write(n(rest.first(), "write")?))
        }
        ["read", rest @ ..] if rest.len() == 1 => Step::Call(Call::Read(n(rest.first(), "read")?)),
        ["shutdown"] => Step::Call(Call::Shutdown),
        ["close"] => Step::Call(Call::Close),
        ["abort"] => Step::Call(Call::Abort),
        ["nodelay", "on"] => Step::Call(Call::Nodelay(true)),
        ["nodelay", "off"] => Step::Call(Call::Nodelay(false)),
        ["wait", ms] => {
            let ms: u32 = number("wait", ms)?;
            if ms > MAX_WAIT_MS {
                return Err(format!("wait: at most {MAX_WAIT_MS} ms"));
            }
            Step::Wait(ms)
        }
        ["lose"] => Step::Lose,
        _ => return Err(format!("not a step: {:?}", words.join(" "))),
    })
}

impl Script {
    /// Reads a script's text.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut role = None;
        let mut steps = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let err = |why: String| ParseError { line: n + 1, why };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match (role, words.as_slice()) {
                (None, ["role", "server"]) => role = Some(Role::Server),
                (None, ["role", "client"]) => role = Some(Role::Client),
                (None, _) => return Err(err("the first line is `role server|client`".into())),
                (Some(_), w) => {
                    if steps.len() == MAX_STEPS {
                        return Err(err(format!("more than {MAX_STEPS} steps")));
                    }
                    steps.push(parse_line(w).map_err(err)?);
                }
            }
        }
        let role = role.ok_or(ParseError {
            line: 1,
            why: "empty script".into(),
        })?;
        Ok(Self { role, steps })
    }
}

impl fmt::Display for Inject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "inject {} seq={:+} ack={:+}",
            self.flags, self.seq, self.ack
        )?;
        if self.len > 0 {
            write!(f, " len={}", self.len)?;
        }
        write!(f, " win={}", self.win)?;
        if let Some(m) = self.mss {
            write!(f, " mss={m}")?;
        }
        if let Some(w) = self.ws {
            write!(f, " ws={w}")?;
        }
        if self.sackok {
            f.write_str(" sackok")?;
        }
        if !self.sack.is_empty() {
            let blocks: Vec<String> = self.sack.iter().map(|(l, r)| format!("{l}:{r}")).collect();
            write!(f, " sack={}", blocks.join(","))?;
        }
        if let Some(ts) = self.ts {
            let val = if ts.old { "old" } else { "new" };
            let ecr = if ts.echo { "echo" } else { "zero" };
            write!(f, " ts={val}:{ecr}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Listen => f.write_str("listen"),
            Self::Accept => f.write_str("accept"),
            Self::Connect => f.write_str("connect"),
            Self::Write(n) => write!(f, "write {n}"),
            Self::Read(n) => write!(f, "read {n}"),
            Self::Shutdown => f.write_str("shutdown"),
            Self::Close => f.write_str("close"),
            Self::Abort => f.write_str("abort"),
            Self::Nodelay(on) => write!(f, "nodelay {}", if *on { "on" } else { "off" }),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inject(i) => i.fmt(f),
            Self::Call(c) => c.fmt(f),
            Self::Wait(ms) => write!(f, "wait {ms}"),
            Self::Lose => f.write_str("lose"),
        }
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Server => "server",
            Role::Client => "client",
        };
        writeln!(f, "role {role}")?;
        for s in &self.steps {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_example_reads() {
        let text = "role server\nlisten\n\
            inject S seq=+0 ack=+0 win=65535 mss=1460 ws=7 sackok ts=new:zero\n\
            inject . seq=+0 ack=+0 win=502 ts=new:echo\naccept\nwrite 3000\n\
            inject P. seq=+0 ack=+1448 len=100 win=502 sack=2897:3001 ts=new:echo\n\
            lose\nread 1000\nclose\nwait 300\n";
        let s = Script::parse(text).unwrap();
        assert_eq!(s.role, Role::Server);
        assert_eq!(s.steps.len(), 10);
        let Step::Inject(i) = &s.steps[5] else {
            panic!("{:?}", s.steps[5]);
        };
        assert_eq!(i.flags, Flags::PSH | Flags::ACK);
        assert_eq!((i.ack, i.len, i.win), (1448, 100, 502));
        assert_eq!(i.sack, vec![(2897, 3001)]);
        assert_eq!(
            i.ts,
            Some(TsSpec {
                old: false,
                echo: true
            })
        );
        assert_eq!(s.steps[8], Step::Call(Call::Close));
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        for (text, line) in [
            ("listen\n", 1),
            ("role server\ninject X\n", 2),
            ("role client\n\nwait 999999\n", 3),
            ("role client\ninject . sack=1:2,3:4,5:6,7:8,9:10\n", 2),
            (
                "role client\ninject . mss=1 ws=1 sackok ts=new:echo sack=1:2,3:4,5:6\n",
                2,
            ),
            ("role client\ninject . seq=99999999999\n", 2),
            ("role client\nwrite\n", 2),
            ("", 1),
        ] {
            assert_eq!(Script::parse(text).unwrap_err().line, line, "{text:?}");
        }
    }
}
