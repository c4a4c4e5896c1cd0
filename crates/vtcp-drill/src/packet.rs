//! Segments as packetdrill writes them: `< S. 0:0(0) ack 1 win 65535
//! <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 6>`. Inbound ones are
//! built into bytes; outbound ones are checked field by field against
//! what the engine sent.
//!
//! Sequence numbers: the injected side's are used as written; ours are
//! relative to our ISN (learned from our first SYN), in both our segments'
//! sequence numbers and the injected segments' acknowledgment numbers.

use vtcp::wire::{FastOpenCookie, Flags, Options, SackBlock, Segment, TcpOption};
use vtcp_seq::Seq;

use crate::profile::Os;

/// An option as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptSpec {
    /// `mss N`.
    Mss(u16),
    /// `wscale N`.
    WindowScale(u8),
    /// `sackOK`.
    SackOk,
    /// `TS val V ecr E`.
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
    /// `sack L:R ...`.
    Sack(Vec<(u32, u32)>),
    /// `FO` (a cookie request) or `FO 0102...` (a cookie, in hex): TCP
    /// Fast Open, kind 34 (RFC 7413 §4.1.1); `FOEXP ...`: the
    /// experimental kind 254 with magic 0xF989. The cookie is as written,
    /// of any length (a script may inject one RFC 7413 does not allow).
    FastOpen {
        /// The cookie's octets; empty for a request.
        cookie: Vec<u8>,
        /// The experimental kind.
        exp: bool,
    },
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
}

/// A segment line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketSpec {
    /// `<` (injected) rather than `>` (expected).
    pub inbound: bool,
    /// The flags.
    pub flags: Flags,
    /// `seq:end(len)`.
    pub seq: u32,
    /// The end sequence number.
    pub end: u32,
    /// The payload length.
    pub len: u32,
    /// `ack N`.
    pub ack: Option<u32>,
    /// `win N`.
    pub win: Option<u32>,
    /// `urg N`: the urgent pointer (RFC 9293 §3.1), with the `U` flag
    /// written beside it as packetdrill has it.
    pub urg: Option<u16>,
    /// The options: none when not written, `None` for `<...>` (not
    /// checked, on a segment we send) and on an injected segment without.
    pub options: Option<Vec<OptSpec>>,
    /// IP header fields written before the flags: `(ttl N)`, `(hlim N)`,
    /// `(tos 0xNN)`, `(class 0xNN)`.
    pub ip: IpSpec,
    /// `seq:end(len)!`: the sequence number is absolute, not relative to
    /// our ISN (a RST for no connection has none).
    pub absolute: bool,
}

/// The IP header fields a segment line names (`None`: not checked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpSpec {
    /// `ttl N` (IPv4) or `hlim N` (IPv6).
    pub hop_limit: Option<u8>,
    /// `tos 0xNN` (IPv4) or `class 0xNN` (IPv6).
    pub traffic_class: Option<u8>,
    /// The ECN field (RFC 3168 §5), packetdrill's `[noecn]`, `[ect0]`,
    /// `[ect1]` or `[ce]` before the flags: what an injected segment's IP
    /// header carries, and what a segment we send must.
    pub ecn: Option<vtcp::EcnCodepoint>,
}

impl IpSpec {
    /// Parses the inside of `(ttl 4)` or `(tos 0x20, ttl 4)`.
    fn parse(s: &str) -> Result<Self, String> {
        let mut ip = Self::default();
        for field in s.split(',') {
            let words: Vec<&str> = field.split_whitespace().collect();
            let value = |v: &str| {
                let parsed = match v.strip_prefix("0x") {
                    Some(hex) => u8::from_str_radix(hex, 16),
                    None => v.parse::<u8>(),
                };
                parsed.map_err(|_| format!("bad IP field value {v:?}"))
            };
            match words.as_slice() {
                ["ttl" | "hlim", v] => ip.hop_limit = Some(value(v)?),
                ["tos" | "class", v] => ip.traffic_class = Some(value(v)?),
                _ => return Err(format!("unsupported IP field {field:?}")),
            }
        }
        Ok(ip)
    }

    /// Parses packetdrill's ECN mark, the inside of `[ce]`.
    fn parse_ecn(mark: &str) -> Result<vtcp::EcnCodepoint, String> {
        Ok(match mark.trim() {
            "noecn" => vtcp::EcnCodepoint::NotEct,
            "ect0" => vtcp::EcnCodepoint::Ect0,
            "ect1" => vtcp::EcnCodepoint::Ect1,
            "ce" => vtcp::EcnCodepoint::Ce,
            other => return Err(format!("unsupported ECN mark [{other}]")),
        })
    }

    /// The ECN field of an injected segment: its mark, else the low bits
    /// of its traffic class, else Not-ECT.
    pub fn ecn_in(&self) -> vtcp::EcnCodepoint {
        self.ecn.unwrap_or_else(|| {
            vtcp::EcnCodepoint::from_traffic_class(self.traffic_class.unwrap_or(0))
        })
    }

    /// What differs between these fields and those a segment was sent
    /// with (`hop_limit` `None`: the IP layer's default, 64), if anything.
    pub fn mismatch(&self, sent: vtcp::IpFields) -> Option<String> {
        let hops = sent.hop_limit.unwrap_or(vtcp::DEFAULT_HOP_LIMIT);
        if self.hop_limit.is_some_and(|h| h != hops) {
            return Some(format!("hop limit: sent {hops}"));
        }
        let ecn = vtcp::EcnCodepoint::from_traffic_class(sent.traffic_class);
        if self.ecn.is_some_and(|e| e != ecn) {
            return Some(format!("ECN field: sent {ecn:?}"));
        }
        if self.traffic_class.is_some_and(|t| t != sent.traffic_class) {
            return Some(format!("traffic class: sent {:#04x}", sent.traffic_class));
        }
        None
    }
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse::<T>()
        .map_err(|_| format!("bad number {s:?}"))
}

/// How a parse error begins when the line is not shaped as a segment
/// (no flags, no `seq:end(len)`): a script packetdrill rejects too.
pub const NOT_A_SEGMENT: &str = "not a segment";

fn bad_range() -> String {
    format!("{NOT_A_SEGMENT}: bad seq:end(len)")
}

fn parse_flags(s: &str) -> Result<Flags, String> {
    let mut f = Flags::empty();
    for c in s.chars() {
        f.insert(match c {
            // packetdrill's `-`: no flags at all.
            '-' => Flags::empty(),
            'S' => Flags::SYN,
            'F' => Flags::FIN,
            'R' => Flags::RST,
            'P' => Flags::PSH,
            '.' => Flags::ACK,
            'U' => Flags::URG,
            'E' => Flags::ECE,
            'W' => Flags::CWR,
            _ => return Err(format!("unknown flag {c:?} in {s:?}")),
        });
    }
    Ok(f)
}

fn parse_option(s: &str) -> Result<OptSpec, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    Ok(match words.as_slice() {
        ["mss", v] => OptSpec::Mss(number(v)?),
        ["wscale", v] => OptSpec::WindowScale(number(v)?),
        ["sackOK"] => OptSpec::SackOk,
        [name @ ("FO" | "FOEXP"), cookie @ ..] if cookie.len() <= 1 => OptSpec::FastOpen {
            cookie: cookie
                .first()
                .map_or(Ok(Vec::new()), |hex| hex_octets(hex))?,
            exp: *name == "FOEXP",
        },
        ["nop"] => OptSpec::Nop,
        ["eol"] => OptSpec::Eol,
        ["TS", "val", v, "ecr", e] => OptSpec::Timestamp {
            val: number(v)?,
            ecr: number(e)?,
        },
        ["sack", blocks @ ..] => OptSpec::Sack(
            blocks
                .iter()
                .map(|b| {
                    let (l, r) = b.split_once(':').ok_or(format!("bad SACK block {b:?}"))?;
                    Ok((number(l)?, number(r)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        _ => return Err(format!("unsupported option {s:?}")),
    })
}

/// The octets of a hex string, two digits each (`0102` is 1, 2).
fn hex_octets(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return Err(format!("bad hex {hex:?}"));
    }
    (0..hex.len() / 2)
        .map(|i| {
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| format!("bad hex {hex:?}"))
        })
        .collect()
}

/// Parses `< flags seq:end(len) [ack N] [win N] [<options>]`.
pub fn parse_spec(s: &str) -> Result<PacketSpec, String> {
    let inbound = s.starts_with('<');
    let mut body = s[1..].trim();
    let mut ip = IpSpec::default();
    if let Some(fields) = body.strip_prefix('(') {
        let close = fields.find(')').ok_or("unterminated IP fields")?;
        ip = IpSpec::parse(&fields[..close])?;
        body = fields[close + 1..].trim();
    }
    // packetdrill's ECN field: `<[ce] . 1:1001(1000) ack 1`.
    if let Some(mark) = body.strip_prefix('[') {
        let close = mark.find(']').ok_or("unterminated ECN mark")?;
        ip.ecn = Some(IpSpec::parse_ecn(&mark[..close])?);
        body = mark[close + 1..].trim();
    }
    let (head, opts) = match body.find('<') {
        Some(i) => {
            let close = body.rfind('>').ok_or("unterminated options")?;
            if close < i {
                return Err("unterminated options".into());
            }
            (&body[..i], Some(&body[i + 1..close]))
        }
        None => (body, None),
    };
    let words: Vec<&str> = head.split_whitespace().collect();
    let [flags, range, rest @ ..] = words.as_slice() else {
        return Err(format!(
            "{NOT_A_SEGMENT}: flags and seq:end(len) needed in {s:?}"
        ));
    };
    let flags = parse_flags(flags)?;
    let (seq, tail) = range.split_once(':').ok_or_else(bad_range)?;
    let (end, len) = tail.split_once('(').ok_or_else(bad_range)?;
    let (len, absolute) = match len.strip_suffix('!') {
        Some(len) => (len, true),
        None => (len, false),
    };
    let len = len.strip_suffix(')').ok_or_else(bad_range)?;
    let (seq, end, len): (u32, u32, u32) = (number(seq)?, number(end)?, number(len)?);
    if end.wrapping_sub(seq) != len {
        return Err(format!(
            "{NOT_A_SEGMENT}: {range}: end − seq is not the length"
        ));
    }
    let mut spec = PacketSpec {
        inbound,
        flags,
        seq,
        end,
        len,
        ack: None,
        win: None,
        urg: None,
        options: None,
        ip,
        absolute,
    };
    let mut it = rest.iter();
    while let Some(w) = it.next() {
        let v = it.next().ok_or(format!("{w} needs a value"))?;
        match *w {
            // The number only: the flag is written (`.`), as packetdrill
            // has it, so `F 2:2(0) ack 2` is a FIN without ACK.
            "ack" => spec.ack = Some(number(v)?),
            "win" => spec.win = Some(number(v)?),
            "urg" => spec.urg = Some(number::<u16>(v)?),
            _ => return Err(format!("unknown field {w:?}")),
        }
    }
    if let Some(o) = opts.filter(|o| o.trim() != "...") {
        spec.options = Some(if o.trim().is_empty() {
            Vec::new()
        } else {
            o.split(',').map(parse_option).collect::<Result<_, _>>()?
        });
    } else if opts.is_none() && !spec.inbound {
        // As packetdrill: a segment we send written without options must
        // carry none (`TCP_NOOPT`'s SYN, a connection without timestamps).
        spec.options = Some(Vec::new());
    } else if opts.is_some() && spec.inbound {
        // `<...>`: whatever options the segment carries, which only a
        // segment we send can have.
        return Err("options <...> on a segment to inject".into());
    }
    Ok(spec)
}

/// The sequence spaces: where the injected side starts (as written) and
/// our ISN (learned from our first SYN, 0 until then).
#[derive(Clone, Copy, Debug, Default)]
pub struct Spaces {
    /// Our ISN.
    pub our_isn: u32,
    /// The injected side's ISN, which its sequence numbers and our
    /// acknowledgment numbers are written relative to: packetdrill's
    /// rule, taken from the first SYN or SYN-ACK of a connection in the
    /// Linux profile (`< S. 123:123(0) ack 1` then `> . 1:1(0) ack 1`);
    /// 0, numbers as written, in the FreeBSD profile, whose suite writes
    /// them so.
    pub their_isn: u32,
}

/// Builds an injected segment between `ports` (ours, theirs), TCP header
/// and zero payload bytes; the checksum is the caller's.
pub fn build(spec: &PacketSpec, ports: (u16, u16), spaces: Spaces) -> Result<Vec<u8>, String> {
    let mut list: Vec<TcpOption<'_>> = Vec::new();
    for o in spec.options.iter().flatten() {
        list.push(match o {
            OptSpec::Mss(v) => TcpOption::Mss(*v),
            OptSpec::WindowScale(v) => TcpOption::WindowScale(*v),
            OptSpec::SackOk => TcpOption::SackPermitted,
            OptSpec::Timestamp { val, ecr } => TcpOption::timestamp(*val, *ecr),
            OptSpec::Nop => TcpOption::Nop,
            OptSpec::Eol => TcpOption::End,
            OptSpec::Sack(blocks) => {
                let blocks: Vec<SackBlock> = blocks
                    .iter()
                    .map(|&(l, r)| SackBlock {
                        left: Seq(l.wrapping_add(spaces.our_isn)),
                        right: Seq(r.wrapping_add(spaces.our_isn)),
                    })
                    .collect();
                TcpOption::sack(&blocks).map_err(|e| e.to_string())?
            }
            // A cookie RFC 7413 §4.1.1 does not allow goes as written.
            OptSpec::FastOpen { cookie, exp } => match (cookie.is_empty(), *exp) {
                (true, false) => TcpOption::FastOpen(None),
                (true, true) => TcpOption::FastOpenExp(None),
                (false, _) => match (FastOpenCookie::new(cookie), exp) {
                    (Ok(c), false) => TcpOption::FastOpen(Some(c)),
                    (Ok(c), true) => TcpOption::FastOpenExp(Some(c)),
                    (Err(_), false) => TcpOption::Unknown {
                        kind: vtcp::wire::options::kind::FAST_OPEN,
                        data: cookie,
                    },
                    (Err(_), true) => return Err("an FOEXP cookie of a bad length".into()),
                },
            },
        });
    }
    let options = Options::build(&list).map_err(|e| e.to_string())?;
    let payload = vec![0u8; spec.len as usize];
    let seg = Segment {
        src_port: ports.1,
        dst_port: ports.0,
        seq: Seq(spec.seq.wrapping_add(spaces.their_isn)),
        ack: Seq(spec.ack.unwrap_or(0).wrapping_add(spaces.our_isn)),
        flags: spec.flags,
        window: spec.win.unwrap_or(0).min(65_535) as u16,
        urgent: spec.urg.unwrap_or(0),
        options,
        payload: &payload[..],
        ..Segment::default()
    };
    Ok(seg.to_bytes())
}

/// How a segment sent compares with the one expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every checked field matches.
    Match,
    /// It differs only in what is FreeBSD's own choice, not an RFC's.
    Differs(String),
    /// It differs.
    Mismatch(String),
}

/// A meaningful option, padding dropped.
fn kinds(options: &[OptSpec]) -> Vec<&OptSpec> {
    options
        .iter()
        .filter(|o| !matches!(o, OptSpec::Nop | OptSpec::Eol))
        .collect()
}

/// The options of a segment sent, as specs.
/// (SACK blocks from us cover the injected side's numbers, used as
/// written.)
fn sent_options(seg: &Segment<&[u8]>) -> Vec<OptSpec> {
    seg.options
        .iter()
        .filter_map(|o| match o {
            TcpOption::Mss(v) => Some(OptSpec::Mss(v)),
            TcpOption::WindowScale(v) => Some(OptSpec::WindowScale(v)),
            TcpOption::SackPermitted => Some(OptSpec::SackOk),
            TcpOption::Timestamp(t) => Some(OptSpec::Timestamp {
                val: t.tsval,
                ecr: t.tsecr,
            }),
            TcpOption::Sack(b) => Some(OptSpec::Sack(
                b.as_slice().iter().map(|b| (b.left.0, b.right.0)).collect(),
            )),
            TcpOption::Nop => Some(OptSpec::Nop),
            TcpOption::End => Some(OptSpec::Eol),
            TcpOption::FastOpen(c) | TcpOption::FastOpenExp(c) => Some(OptSpec::FastOpen {
                cookie: c.map_or(Vec::new(), |c| c.as_bytes().to_vec()),
                exp: matches!(o, TcpOption::FastOpenExp(_)),
            }),
            TcpOption::Unknown { .. } => None,
        })
        .collect()
}

/// Compares a segment we sent with `spec`: flags, sequence and
/// acknowledgment numbers, length and options are the RFCs' business;
/// the window, the MSS and window-scale values and the order of options
/// are the operating system's (`os`, named in the differences), and
/// differ without failing.
pub fn compare(spec: &PacketSpec, bytes: &[u8], spaces: Spaces, os: Os) -> Verdict {
    let os = os.name();
    let spaces = if spec.absolute {
        Spaces {
            our_isn: 0,
            ..spaces
        }
    } else {
        spaces
    };
    let Ok(seg) = Segment::parse(bytes) else {
        return Verdict::Mismatch("we sent a malformed segment".into());
    };
    let shown = describe(&seg, spaces);
    let fail = |what: &str| Verdict::Mismatch(format!("{what}: sent {shown}"));
    if seg.flags != spec.flags {
        // FreeBSD answers in CLOSING (and LAST-ACK) with its unacknowledged
        // FIN again; an ACK at SND.NXT, after our FIN, acknowledges the
        // same (RFC 9293 §3.10.7.4 asks only for the ACK).
        let mut with_fin = seg.flags;
        with_fin.insert(Flags::FIN);
        if with_fin == spec.flags
            && spec.len == 0
            && seg.data_len() == 0
            && seg.seq.0.wrapping_sub(spaces.our_isn) == spec.seq.wrapping_add(1)
            && spec.ack.is_none_or(|a| a == seg.ack.0)
        {
            return Verdict::Differs(format!(
                "FreeBSD resends its FIN with the ACK; we ACK after our FIN: sent {shown}"
            ));
        }
        return fail("flags");
    }
    if seg.seq.0.wrapping_sub(spaces.our_isn) != spec.seq {
        return fail("sequence number");
    }
    if seg.data_len() as u32 != spec.len {
        return fail("length");
    }
    if let Some(a) = spec.ack
        && seg.ack.0.wrapping_sub(spaces.their_isn) != a
    {
        return fail("acknowledgment number");
    }
    if let Some(u) = spec.urg
        && seg.urgent != u
    {
        return fail("urgent pointer");
    }
    let mut differs = Vec::new();
    if let Some(w) = spec.win
        && u32::from(seg.window) != w
    {
        differs.push(format!("window {} ({os}'s {w})", seg.window));
    }
    if let Some(expected) = &spec.options {
        let got = sent_options(&seg);
        let (want, have) = (kinds(expected), kinds(&got));
        let same_set = want.len() == have.len()
            && want.iter().all(|w| {
                have.iter()
                    .any(|h| std::mem::discriminant(*w) == std::mem::discriminant(*h))
            });
        if !same_set {
            return fail("options");
        }
        let in_order = want
            .iter()
            .zip(&have)
            .all(|(w, h)| std::mem::discriminant(*w) == std::mem::discriminant(*h));
        if !in_order {
            differs.push("option order".into());
        }
        for w in &want {
            let h = have
                .iter()
                .find(|h| std::mem::discriminant(*w) == std::mem::discriminant(**h))
                .expect("same set");
            match (w, h) {
                (OptSpec::Mss(a), OptSpec::Mss(b)) if a != b => {
                    differs.push(format!("MSS {b} ({os}'s {a})"));
                }
                (OptSpec::WindowScale(a), OptSpec::WindowScale(b)) if a != b => {
                    differs.push(format!("window scale {b} ({os}'s {a})"));
                }
                // TSval is our clock's (packetdrill maps it too); the echo
                // is the RFC's.
                (OptSpec::Timestamp { ecr: a, .. }, OptSpec::Timestamp { ecr: b, .. })
                    if a != b =>
                {
                    return fail("TS ecr");
                }
                (OptSpec::Sack(a), OptSpec::Sack(b)) if a != b => return fail("SACK blocks"),
                (OptSpec::FastOpen { .. }, OptSpec::FastOpen { .. }) if w != h => {
                    return fail("TCP Fast Open option");
                }
                _ => {}
            }
        }
    }
    if differs.is_empty() {
        Verdict::Match
    } else {
        Verdict::Differs(format!("{}: sent {shown}", differs.join(", ")))
    }
}

/// A segment we sent, written as packetdrill writes them.
pub fn describe(seg: &Segment<&[u8]>, spaces: Spaces) -> String {
    let mut flags = String::new();
    for (f, c) in [
        (Flags::SYN, 'S'),
        (Flags::FIN, 'F'),
        (Flags::RST, 'R'),
        (Flags::PSH, 'P'),
        (Flags::URG, 'U'),
        (Flags::ECE, 'E'),
        (Flags::CWR, 'W'),
        (Flags::ACK, '.'),
    ] {
        if seg.flags.contains(f) {
            flags.push(c);
        }
    }
    let seq = seg.seq.0.wrapping_sub(spaces.our_isn);
    let len = seg.data_len() as u32;
    let mut s = format!("{flags} {seq}:{}({len})", seq.wrapping_add(len));
    if seg.flags.contains(Flags::ACK) {
        s += &format!(" ack {}", seg.ack.0.wrapping_sub(spaces.their_isn));
    }
    s += &format!(" win {}", seg.window);
    let opts: Vec<String> = sent_options(seg)
        .iter()
        .map(|o| match o {
            OptSpec::Mss(v) => format!("mss {v}"),
            OptSpec::WindowScale(v) => format!("wscale {v}"),
            OptSpec::SackOk => "sackOK".into(),
            OptSpec::Timestamp { val, ecr } => format!("TS val {val} ecr {ecr}"),
            OptSpec::Sack(b) => format!(
                "sack {}",
                b.iter()
                    .map(|(l, r)| format!("{l}:{r}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            OptSpec::Nop => "nop".into(),
            OptSpec::Eol => "eol".into(),
            OptSpec::FastOpen { cookie, exp } => {
                let hex: String = cookie.iter().map(|b| format!("{b:02x}")).collect();
                let name = if *exp { "FOEXP" } else { "FO" };
                if hex.is_empty() {
                    name.into()
                } else {
                    format!("{name} {hex}")
                }
            }
        })
        .collect();
    if !opts.is_empty() {
        s += &format!(" <{}>", opts.join(","));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_lines_parse_with_every_field() {
        let p =
            parse_spec("> S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 7 ecr 9,nop,wscale 6>")
                .unwrap();
        assert!(!p.inbound);
        assert_eq!(p.flags, Flags::SYN | Flags::ACK);
        assert_eq!(
            (p.seq, p.end, p.len, p.ack, p.win),
            (0, 0, 0, Some(1), Some(65535))
        );
        assert_eq!(p.options.as_ref().unwrap().len(), 5);
        let p = parse_spec("<  P. 1:1001(1000) ack 1 win 32767").unwrap();
        assert!(p.inbound && p.options.is_none());
        assert_eq!(p.len, 1000);
        assert!(parse_spec("< S 0:5(0) win 1").is_err(), "length mismatch");
        assert!(parse_spec("< S 0:0(0) win 1 <md5 abc>").is_err());
        assert!(parse_spec("< X 0:0(0)").is_err());
        // `<...>`: options not checked, on what we send only.
        let p = parse_spec("> S 0:0(0) win 65535 <...>").unwrap();
        assert!(p.options.is_none());
        assert!(parse_spec("< S 0:0(0) win 65535 <...>").is_err());
    }

    /// packetdrill's `urg N`: the urgent pointer of a segment injected
    /// (built with it) and of one expected (a different one fails).
    #[test]
    fn the_urgent_pointer_is_built_and_checked() {
        let p = parse_spec("< U. 1:101(100) ack 1 win 257 urg 100").unwrap();
        assert_eq!((p.flags, p.urg), (Flags::URG | Flags::ACK, Some(100)));
        let spaces = Spaces::default();
        let bytes = build(&p, (80, 4000), spaces).unwrap();
        assert_eq!(Segment::parse(&bytes).unwrap().urgent, 100);
        assert!(parse_spec("< U. 1:101(100) ack 1 urg 65536").is_err());
        assert!(parse_spec("< U. 1:101(100) ack 1 urg").is_err());
        let sent = Segment {
            seq: Seq(1),
            ack: Seq(1),
            flags: Flags::URG | Flags::ACK,
            urgent: 7,
            payload: &[0; 100][..],
            ..Segment::default()
        }
        .to_bytes();
        let want = |line: &str| PacketSpec {
            inbound: false,
            options: None,
            ..parse_spec(line).unwrap()
        };
        let same = want("> U. 1:101(100) ack 1 urg 7");
        assert_eq!(compare(&same, &sent, spaces, Os::Linux), Verdict::Match);
        let other = want("> U. 1:101(100) ack 1 urg 8");
        assert!(matches!(
            compare(&other, &sent, spaces, Os::Linux),
            Verdict::Mismatch(_)
        ));
    }

    #[test]
    fn ip_fields_and_absolute_sequence_numbers_parse() {
        let p = parse_spec("> (ttl 4) R. 0:0(0)! ack 1 win 0").unwrap();
        assert_eq!(p.ip.hop_limit, Some(4));
        assert_eq!(p.ip.traffic_class, None);
        assert!(p.absolute);
        assert_eq!(p.flags, Flags::RST | Flags::ACK);
        let p = parse_spec("> (tos 0x20, hlim 9) . 1:1(0) ack 1").unwrap();
        assert_eq!((p.ip.hop_limit, p.ip.traffic_class), (Some(9), Some(0x20)));
        assert_eq!(p.ip.ecn, None);
        assert!(!p.absolute);
        assert!(parse_spec("> (flow 3) . 1:1(0)").is_err());
        assert!(parse_spec("> (ttl 300) . 1:1(0)").is_err());
        assert!(parse_spec("> (ttl 4 . 1:1(0)").is_err());
        // 64 is the IP layer's default when the connection sets none.
        let ip = IpSpec {
            hop_limit: Some(64),
            traffic_class: Some(0),
            ecn: None,
        };
        assert_eq!(ip.mismatch(vtcp::IpFields::default()), None);
        let mut sent = vtcp::IpFields::default();
        sent.hop_limit = Some(4);
        assert_eq!(ip.mismatch(sent).as_deref(), Some("hop limit: sent 4"));
        sent.hop_limit = None;
        sent.traffic_class = 0x20;
        assert_eq!(
            ip.mismatch(sent).as_deref(),
            Some("traffic class: sent 0x20")
        );
        assert_eq!(IpSpec::default().mismatch(sent), None, "nothing checked");
    }

    /// packetdrill's ECN field before the flags (`<[ce] .`, `> [ect0] P.`),
    /// after IP fields too; injected segments carry it, sent ones are
    /// checked against the low bits of their traffic class.
    #[test]
    fn ecn_marks_parse_and_compare() {
        let p = parse_spec("<[ce] . 1:1001(1000) ack 1 win 65535").unwrap();
        assert_eq!(p.ip.ecn, Some(vtcp::EcnCodepoint::Ce));
        assert_eq!(p.ip.ecn_in(), vtcp::EcnCodepoint::Ce);
        assert_eq!((p.flags, p.len), (Flags::ACK, 1000));
        let p = parse_spec("> [ect0] P. 1:11(10) ack 1").unwrap();
        assert_eq!(p.ip.ecn, Some(vtcp::EcnCodepoint::Ect0));
        let p = parse_spec("> (ttl 9) [noecn] SEW 0:0(0) win 65535").unwrap();
        assert_eq!(p.ip.ecn, Some(vtcp::EcnCodepoint::NotEct));
        assert_eq!(p.flags, Flags::SYN | Flags::ECE | Flags::CWR);
        assert!(parse_spec("< [ect2] . 1:1(0) ack 1").is_err());
        assert!(parse_spec("< [ce . 1:1(0) ack 1").is_err());
        // No mark: a tos's low bits, else Not-ECT.
        let p = parse_spec("< (tos 0x03) . 1:1(0) ack 1").unwrap();
        assert_eq!(p.ip.ecn_in(), vtcp::EcnCodepoint::Ce);
        let ect0 = parse_spec("> [ect0] . 1:1(0) ack 1").unwrap().ip;
        let mut sent = vtcp::IpFields::default();
        sent.traffic_class = 0xb8 | 2;
        assert_eq!(ect0.mismatch(sent), None);
        sent.traffic_class = 0xb8;
        assert_eq!(
            ect0.mismatch(sent).as_deref(),
            Some("ECN field: sent NotEct")
        );
    }

    #[test]
    fn built_segments_read_back_and_compare_as_written() {
        let spec = parse_spec("< S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>").unwrap();
        let spaces = Spaces {
            our_isn: 1000,
            their_isn: 0,
        };
        let bytes = build(&spec, (8080, 40000), spaces).unwrap();
        let seg = Segment::parse(&bytes).unwrap();
        assert_eq!(seg.ack, Seq(1001));
        assert_eq!((seg.src_port, seg.dst_port), (40000, 8080));
        // The same segment, as if we had sent it, matches its own line
        // (with the sequence number seen from our side).
        let ours = Segment {
            seq: Seq(1000),
            ack: Seq(1),
            ..seg.clone()
        }
        .to_bytes();
        let want = PacketSpec {
            inbound: false,
            ..spec.clone()
        };
        assert_eq!(compare(&want, &ours, spaces, Os::FreeBsd), Verdict::Match);
        // Another window differs (the system's choice, named by the
        // profile's system); another ACK fails.
        let other = PacketSpec {
            win: Some(100),
            ..want.clone()
        };
        for os in [Os::FreeBsd, Os::Linux] {
            let Verdict::Differs(why) = compare(&other, &ours, spaces, os) else {
                panic!("{os:?}")
            };
            assert!(
                why.starts_with(&format!("window {} ({}'s 100)", seg.window, os.name())),
                "{why}"
            );
        }
        let wrong = PacketSpec {
            ack: Some(2),
            ..want
        };
        assert!(matches!(
            compare(&wrong, &ours, spaces, Os::FreeBsd),
            Verdict::Mismatch(_)
        ));
    }

    #[test]
    fn an_ack_after_our_fin_differs_from_freebsd_s_fin_again() {
        let spaces = Spaces {
            our_isn: 100,
            their_isn: 0,
        };
        let ack = Segment {
            seq: Seq(102),
            ack: Seq(2),
            flags: Flags::ACK,
            window: 65535,
            payload: &[][..],
            ..Segment::default()
        }
        .to_bytes();
        let fin_again = parse_spec("> F. 1:1(0) ack 2 win 65535").unwrap();
        assert!(matches!(
            compare(&fin_again, &ack, spaces, Os::FreeBsd),
            Verdict::Differs(_)
        ));
        // Not at SND.NXT after the FIN, or another ACK: a failure.
        let elsewhere = parse_spec("> F. 5:5(0) ack 2 win 65535").unwrap();
        assert!(matches!(
            compare(&elsewhere, &ack, spaces, Os::FreeBsd),
            Verdict::Mismatch(_)
        ));
        let other_ack = parse_spec("> F. 1:1(0) ack 3 win 65535").unwrap();
        assert!(matches!(
            compare(&other_ack, &ack, spaces, Os::FreeBsd),
            Verdict::Mismatch(_)
        ));
    }

    #[test]
    fn option_order_differs_and_a_missing_option_fails() {
        let spaces = Spaces::default();
        let sent = Segment {
            flags: Flags::SYN,
            window: 65535,
            options: Options::build(&[
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::timestamp(5, 0),
                TcpOption::Nop,
                TcpOption::WindowScale(6),
            ])
            .unwrap(),
            payload: &[][..],
            ..Segment::default()
        }
        .to_bytes();
        let freebsd =
            parse_spec("> S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>")
                .unwrap();
        assert!(
            matches!(compare(&freebsd, &sent, spaces, Os::FreeBsd), Verdict::Differs(r) if r.contains("option order"))
        );
        let no_ts = parse_spec("> S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK>").unwrap();
        assert!(matches!(
            compare(&no_ts, &sent, spaces, Os::FreeBsd),
            Verdict::Mismatch(_)
        ));
    }

    #[test]
    fn fast_open_options_parse_build_and_read_back() {
        let p =
            parse_spec("< S. 0:0(0) ack 1 win 65535 <mss 1460,FO 0102030405,FO,FOEXP 0a0b0c0d>")
                .unwrap();
        let want = [
            OptSpec::FastOpen {
                cookie: vec![1, 2, 3, 4, 5],
                exp: false,
            },
            OptSpec::FastOpen {
                cookie: vec![],
                exp: false,
            },
            OptSpec::FastOpen {
                cookie: vec![10, 11, 12, 13],
                exp: true,
            },
        ];
        assert_eq!(p.options.as_ref().unwrap()[1..], want);
        // A cookie of a bad length (5 octets) goes as written, read back
        // as no typed option; the valid ones read back as themselves.
        let bytes = build(&p, (8080, 40000), Spaces::default()).unwrap();
        let seg = Segment::parse(&bytes).unwrap();
        assert_eq!(sent_options(&seg)[1..3], want[1..]);
        assert_eq!(
            seg.options.values().fast_open,
            Some(vtcp::wire::FastOpen::Invalid { len: 5 })
        );
        assert!(describe(&seg, Spaces::default()).contains("FO,FOEXP 0a0b0c0d"));
        assert!(parse_spec("< S 0:0(0) win 1 <FO 012>").is_err(), "odd hex");
        assert!(parse_spec("< S 0:0(0) win 1 <FO 0x12>").is_err());
    }
}
