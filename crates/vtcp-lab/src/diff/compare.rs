//! The normaliser and the comparison: what each system under test did in
//! a step, in numbers that do not depend on its ISN or its clock, and
//! where two traces part.
//!
//! A segment becomes its flags (PSH left out), its sequence number
//! relative to the system under test's ISN, its ACK relative to the
//! peer's ISN (when ACK is set), its payload length, which options it
//! carries, its SACK blocks relative to the peer's ISN, and whether its
//! window is zero. Exact window values and option values (MSS, the
//! window-scale shift, TSval, TSecr) are left out: they are each stack's
//! choice of buffer sizes and clocks. A RST's window and SACK blocks are
//! left out too: no RFC gives them a meaning (docs/conformance.md).

use std::fmt;

use vtcp::wire::{Flags, Segment, Seq};

use super::peer::PEER_ISN;

/// Which options a segment carries, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OptSet(u8);

impl OptSet {
    const NAMES: [&'static str; 5] = ["mss", "ws", "sackok", "ts", "sack"];
    /// The bit of SACK blocks.
    const SACK: u8 = 1 << 4;

    fn of(s: &Segment<&[u8]>) -> Self {
        let o = &s.options;
        let bits = [
            o.mss().is_some(),
            o.wscale().is_some(),
            o.sack_permitted(),
            o.timestamp().is_some(),
            !o.sack_blocks().as_slice().is_empty(),
        ];
        Self(
            bits.iter()
                .enumerate()
                .fold(0, |a, (k, b)| a | (u8::from(*b) << k)),
        )
    }
}

impl fmt::Display for OptSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Self::NAMES
            .iter()
            .enumerate()
            .filter(|(k, _)| self.0 & (1 << k) != 0)
            .map(|(_, n)| *n)
            .collect();
        if !names.is_empty() {
            write!(f, " <{}>", names.join(","))?;
        }
        Ok(())
    }
}

/// A segment the system under test sent, normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Seen {
    /// Flags, PSH left out.
    pub flags: Flags,
    /// Sequence number relative to the system under test's ISN; `None`
    /// before its ISN is known, and for a RST whose sequence number is 0.
    pub seq: Option<i64>,
    /// ACK relative to the peer's ISN, when ACK is set.
    pub ack: Option<i64>,
    /// Payload octets.
    pub len: usize,
    /// The window field is zero.
    pub zero_window: bool,
    /// Options carried.
    pub opts: OptSet,
    /// SACK blocks, relative to the peer's ISN.
    pub sack: Vec<(i64, i64)>,
}

/// The signed distance from `base` to `x`.
fn rel(x: Seq, base: Seq) -> i64 {
    i64::from(x.0.wrapping_sub(base.0) as i32)
}

impl Seen {
    /// `s` normalised with the system under test's ISN, if known.
    pub fn of(s: &Segment<&[u8]>, sut_isn: Option<Seq>) -> Self {
        let mut flags = s.flags;
        flags.remove(Flags::PSH);
        let mut seen = Self {
            flags,
            seq: sut_isn.map(|isn| rel(s.seq, isn)),
            ack: s.flags.contains(Flags::ACK).then(|| rel(s.ack, PEER_ISN)),
            len: s.payload.len(),
            zero_window: s.window == 0,
            opts: OptSet::of(s),
            sack: s
                .options
                .sack_blocks()
                .as_slice()
                .iter()
                .map(|b| (rel(b.left, PEER_ISN), rel(b.right, PEER_ISN)))
                .collect(),
        };
        if flags.contains(Flags::RST) {
            // A RST answering a segment without ACK has sequence number 0
            // (RFC 9293 §3.10.7.1), not one of the connection's.
            if s.seq == Seq(0) {
                seen.seq = None;
            }
            seen.zero_window = false;
            seen.sack.clear();
            seen.opts.0 &= !OptSet::SACK;
        }
        seen
    }

    /// The segment's shape for a difference's signature: flags, and `+d`
    /// when it carries data.
    fn shape(&self) -> String {
        format!("{}{}", self.flags, if self.len > 0 { "+d" } else { "" })
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.flags)?;
        match self.seq {
            Some(s) => write!(f, " {s}:{}({})", s + self.len as i64, self.len)?,
            None => write!(f, " ?({})", self.len)?,
        }
        if let Some(a) = self.ack {
            write!(f, " ack {a}")?;
        }
        if self.zero_window {
            f.write_str(" win 0")?;
        }
        write!(f, "{}", self.opts)?;
        for (l, r) in &self.sack {
            write!(f, " sack {l}:{r}")?;
        }
        Ok(())
    }
}

/// What a socket call returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded, with this many octets (0 for calls without).
    Done(u32),
    /// It failed with this kind of error (`std::io::ErrorKind`'s name).
    Failed(String),
    /// There was no socket for it.
    NoSocket,
}

impl Outcome {
    /// The outcome of an I/O result.
    pub fn of(r: std::io::Result<usize>) -> Self {
        match r {
            Ok(n) => Self::Done(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(e) => Self::Failed(format!("{:?}", e.kind())),
        }
    }

    fn shape(&self) -> String {
        match self {
            Self::Done(0) => "ok".into(),
            Self::Done(_) => "ok n".into(),
            Self::Failed(e) => e.clone(),
            Self::NoSocket => "no socket".into(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Done(n) => write!(f, "= {n}"),
            Self::Failed(e) => write!(f, "= {e}"),
            Self::NoSocket => f.write_str("= no socket"),
        }
    }
}

/// What a system under test did in one step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Record {
    /// The call's result, for a call.
    pub outcome: Option<Outcome>,
    /// The segments it sent during the step and its settle time.
    pub sent: Vec<Seen>,
}

impl Record {
    /// The shape of the record for a signature: the outcome's kind and
    /// each segment's flags.
    fn shape(&self) -> String {
        let segs: Vec<String> = self.sent.iter().map(Seen::shape).collect();
        let mut s = format!("[{}]", segs.join(" "));
        if let Some(o) = &self.outcome {
            s = format!("{} {s}", o.shape());
        }
        s
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(o) = &self.outcome {
            parts.push(o.to_string());
        }
        parts.extend(self.sent.iter().map(Seen::to_string));
        f.write_str(&parts.join("; "))
    }
}

/// Where two traces of a script part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The steps (from 0) whose records differ.
    pub steps: Vec<usize>,
    /// The class of the first: the step's kind and both records' shapes.
    pub signature: String,
}

/// The kind of a step for a signature: a call's name, an injected
/// segment's flags and whether it is at the peer's next sequence number
/// and acknowledges what was seen.
pub fn step_kind(step: &super::script::Step) -> String {
    use super::script::{Call, Step};
    match step {
        Step::Inject(i) => {
            let data = if i.len > 0 { "+d" } else { "" };
            let seq = if i.seq == 0 { "" } else { " seq!" };
            let ack = if i.ack == 0 { "" } else { " ack!" };
            let ts = match i.ts {
                Some(t) if t.old => " ts:old",
                _ => "",
            };
            format!("inject {}{data}{seq}{ack}{ts}", i.flags)
        }
        Step::Call(Call::Write(_)) => "write".into(),
        Step::Call(Call::Read(_)) => "read".into(),
        Step::Call(c) => c.to_string(),
        Step::Wait(_) => "wait".into(),
        Step::Lose => "lose".into(),
    }
}

/// Which fields of two records of the same shape differ: those of the
/// first segment that differs (or the call's octet count).
fn fields_apart(l: &Record, v: &Record) -> String {
    if l.outcome != v.outcome {
        return "octets".into();
    }
    let Some((a, b)) = l.sent.iter().zip(&v.sent).find(|(a, b)| a != b) else {
        return "none".into();
    };
    let names = [
        ("seq", a.seq != b.seq),
        ("ack", a.ack != b.ack),
        ("len", a.len != b.len),
        ("win0", a.zero_window != b.zero_window),
        ("opts", a.opts != b.opts),
        ("sack", a.sack != b.sack),
    ];
    let apart: Vec<&str> = names.iter().filter(|(_, d)| *d).map(|(n, _)| *n).collect();
    apart.join(",")
}

/// Compares the traces of `script` on Linux and on vtcp; `None` when they
/// agree step for step.
pub fn compare(
    script: &super::script::Script,
    linux: &[Record],
    vtcp: &[Record],
) -> Option<Difference> {
    let n = linux.len().max(vtcp.len());
    let empty = Record::default();
    let steps: Vec<usize> = (0..n)
        .filter(|&k| linux.get(k).unwrap_or(&empty) != vtcp.get(k).unwrap_or(&empty))
        .collect();
    let first = *steps.first()?;
    let kind = script
        .steps
        .get(first)
        .map_or_else(|| "end".into(), step_kind);
    let (l, v) = (
        linux.get(first).unwrap_or(&empty),
        vtcp.get(first).unwrap_or(&empty),
    );
    let mut signature = format!("{kind} | linux {} | vtcp {}", l.shape(), v.shape());
    if l.shape() == v.shape() {
        signature.push_str(&format!(" | {}", fields_apart(l, v)));
    }
    Some(Difference { steps, signature })
}

/// The two traces side by side, one step a line, differing steps marked.
pub fn side_by_side(script: &super::script::Script, linux: &[Record], vtcp: &[Record]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let empty = Record::default();
    for (k, step) in script.steps.iter().enumerate() {
        let (l, v) = (
            linux.get(k).unwrap_or(&empty),
            vtcp.get(k).unwrap_or(&empty),
        );
        let mark = if l == v { ' ' } else { '!' };
        let _ = writeln!(out, "{mark}{k:3} {step}");
        let _ = writeln!(out, "       linux: {l}");
        if l != v {
            let _ = writeln!(out, "       vtcp:  {v}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::script::Script;
    use super::*;
    use vtcp::wire::{Options, SackBlock, TcpOption, Timestamp};

    fn seg(
        seq: u32,
        ack: u32,
        flags: Flags,
        window: u16,
        opts: &[TcpOption<'_>],
    ) -> Segment<Vec<u8>> {
        Segment {
            seq: Seq(seq),
            ack: Seq(ack),
            flags,
            window,
            options: Options::build(opts).unwrap(),
            payload: vec![0; 5],
            ..Default::default()
        }
    }

    #[test]
    fn numbers_are_relative_and_values_left_out() {
        let isn = Seq(u32::MAX - 2);
        let ts = |v| TcpOption::Timestamp(Timestamp { tsval: v, tsecr: v });
        let sack = TcpOption::sack(&[SackBlock {
            left: PEER_ISN + 10,
            right: PEER_ISN + 20,
        }])
        .unwrap();
        let a = seg(
            3,
            PEER_ISN.0 + 1,
            Flags::PSH | Flags::ACK,
            500,
            &[ts(1), sack],
        );
        let b = seg(3, PEER_ISN.0 + 1, Flags::ACK, 9, &[ts(99), sack]);
        let (a, b) = (
            Seen::of(&a.as_borrowed(), Some(isn)),
            Seen::of(&b.as_borrowed(), Some(isn)),
        );
        // PSH, the window's value and the timestamps' are left out.
        assert_eq!(a, b);
        assert_eq!(a.seq, Some(6));
        assert_eq!(a.ack, Some(1));
        assert_eq!(a.sack, vec![(10, 20)]);
        assert_eq!(a.to_string(), ". 6:11(5) ack 1 <ts,sack> sack 10:20");
        // A zero window, a missing option or another ACK is a difference.
        let zero = seg(3, PEER_ISN.0 + 1, Flags::ACK, 0, &[ts(1), sack]);
        assert_ne!(Seen::of(&zero.as_borrowed(), Some(isn)), a);
        let bare = seg(3, PEER_ISN.0 + 1, Flags::ACK, 9, &[sack]);
        assert_ne!(Seen::of(&bare.as_borrowed(), Some(isn)), a);
        let rst = seg(3, 0, Flags::RST, 9, &[]);
        let r = Seen::of(&rst.as_borrowed(), None);
        assert_eq!((r.seq, r.ack), (None, None));
        // A RST's window and SACK blocks are left out, its timestamps not.
        let rst = |w, o: &[TcpOption<'_>]| {
            Seen::of(
                &seg(3, 0, Flags::RST | Flags::ACK, w, o).as_borrowed(),
                Some(isn),
            )
        };
        assert_eq!(rst(0, &[ts(1)]), rst(9, &[ts(1), sack]));
        let zero = seg(0, 9, Flags::RST | Flags::ACK, 0, &[]);
        assert_eq!(Seen::of(&zero.as_borrowed(), Some(isn)).seq, None);
        assert_ne!(rst(0, &[]), rst(0, &[ts(1)]));
    }

    #[test]
    fn the_first_differing_step_names_the_class() {
        let script = Script::parse("role server\nlisten\ninject S win=1\nread 10\n").unwrap();
        let s = |f: Flags| Seen {
            flags: f,
            seq: Some(0),
            ack: None,
            len: 0,
            zero_window: false,
            opts: OptSet::default(),
            sack: vec![],
        };
        let rec = |o: Option<Outcome>, sent: Vec<Seen>| Record { outcome: o, sent };
        let linux = vec![
            rec(Some(Outcome::Done(0)), vec![]),
            rec(None, vec![s(Flags::SYN | Flags::ACK)]),
            rec(Some(Outcome::Failed("WouldBlock".into())), vec![]),
        ];
        assert_eq!(compare(&script, &linux, &linux), None);
        let mut vtcp = linux.clone();
        vtcp[1].sent.push(s(Flags::RST));
        vtcp[2].outcome = Some(Outcome::Done(3));
        let d = compare(&script, &linux, &vtcp).unwrap();
        assert_eq!(d.steps, vec![1, 2]);
        assert_eq!(d.signature, "inject S | linux [S.] | vtcp [S. R]");
        let text = side_by_side(&script, &linux, &vtcp);
        assert!(text.contains("!  2 read 10"), "{text}");
        assert!(text.contains("vtcp:  = 3"), "{text}");
    }
}
