//! Parsing a packetdrill script into timed lines.
//!
//! google/packetdrill's script syntax (its `parser.y` and `lexer.l` are the
//! reference): `--name=value` settings (`--define=NAME=VALUE` among them);
//! lines that start with a time (`0.10` absolute, `+0.10` relative to the
//! previous line, `~` ranges, `a...b` blocking calls, with or without
//! spaces around the `...`, and `*` "any time" as well); backquoted shell
//! commands, over several lines if need be; system calls with their
//! expected result and errno, over as many lines as their brackets stay
//! open; `<` and `>` segments; `< icmp` errors; `%{ }%` Python blocks
//! (kept, so that the runner can name them); `#ifdef NAME` / `#endif`
//! blocks, of which the runner keeps one name's (the FreeBSD suite has
//! `STANDARD` and `FreeBSD` variants). `//` and `/* */` comments are
//! dropped wherever they stand. A word defined (`-D NAME=VALUE` on
//! packetdrill's command line, a profile's values, or a script's
//! `--define` line) stands for its value, as packetdrill's lexer has it.

use crate::icmp::{self, IcmpSpec};
use crate::packet::{self, PacketSpec};

/// When a line happens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum When {
    /// Seconds since the script's start.
    At(f64),
    /// Seconds after the previous line.
    After(f64),
    /// Between two times since the start (`a~b`), or after the previous
    /// line (`+a~+b`).
    Range {
        /// The earliest.
        lo: f64,
        /// The latest.
        hi: f64,
        /// Both after the previous line.
        relative: bool,
    },
    /// A blocking call that starts at one time and returns at the other
    /// (`a...b` since the start, `+a...+b` after the previous line;
    /// google/packetdrill's syntax). The line's own time is the start.
    Blocking {
        /// When the call is made.
        start: f64,
        /// When it returns.
        end: f64,
        /// Both after the previous line.
        relative: bool,
    },
    /// Whenever it happens (`*`).
    Any,
}

/// One system call line: `name(args) = result [ERRNO (text)]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Syscall {
    /// The call's name.
    pub name: String,
    /// Its arguments as written, split at top-level commas.
    pub args: Vec<String>,
    /// The expected return value.
    pub ret: i64,
    /// The expected errno name, when it returns −1.
    pub errno: Option<String>,
}

/// What a line does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A backquoted shell command.
    Shell(String),
    /// A system call.
    Call(Syscall),
    /// A segment injected (`<`) or expected (`>`).
    Packet(PacketSpec),
    /// An ICMP error injected (`< icmp …`).
    Icmp(IcmpSpec),
    /// A `%{ }%` Python block.
    Python(String),
}

/// A timed line of the script.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Its line number in the file (1-based).
    pub number: usize,
    /// When.
    pub when: When,
    /// What.
    pub action: Action,
    /// The text, for messages.
    pub text: String,
}

/// A parsed script.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    /// `--name=value` settings, in order.
    pub options: Vec<(String, String)>,
    /// The timed lines.
    pub lines: Vec<Line>,
}

/// Why a script could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The line number (1-based).
    pub line: usize,
    /// What was wrong.
    pub message: String,
    /// `true`: packetdrill's syntax, in a construct the runner does not
    /// read (a UDP encapsulation, an MD5 option, an urgent pointer …);
    /// `false`: not packetdrill's syntax at all.
    pub unsupported: bool,
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
        unsupported: false,
    }
}

/// An error in a segment or ICMP line: malformed when the line is not
/// shaped as one ([`packet::NOT_A_SEGMENT`]), else a construct of
/// packetdrill's the runner does not read.
fn line_err(line: usize, message: String) -> ParseError {
    ParseError {
        unsupported: !message.starts_with(packet::NOT_A_SEGMENT),
        ..err(line, message)
    }
}

/// Parses `text`, keeping the `#ifdef` blocks of `defined` names only.
pub fn parse(text: &str, defined: &[&str]) -> Result<Script, ParseError> {
    parse_with(text, defined, &[])
}

/// Parses `text`, keeping the `#ifdef` blocks of `defined` names only,
/// each `NAME` word of `values` standing for its value (packetdrill's
/// `-D NAME=VALUE`); the script's `--define=NAME=VALUE` lines add theirs.
pub fn parse_with(
    text: &str,
    defined: &[&str],
    values: &[(String, String)],
) -> Result<Script, ParseError> {
    let mut script = Script::default();
    let mut values = values.to_vec();
    // A system call whose brackets are still open: its first line's
    // number, the text so far and how many brackets are open (counted a
    // line at a time: a long file costs linear time).
    let mut call: Option<(usize, String, i64)> = None;
    // `#ifdef` nesting: whether each open block is kept.
    let mut keep: Vec<bool> = Vec::new();
    let mut in_comment = false;
    let mut python: Option<(usize, When, String)> = None;
    // A shell command over several lines, until the closing backquote.
    let mut shell: Option<(usize, When, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        if let Some((start, when, cmd)) = &mut shell {
            let (part, done) = match raw.find('`') {
                Some(end) => (&raw[..end], true),
                None => (raw, false),
            };
            cmd.push_str(part);
            cmd.push('\n');
            if done {
                let cmd = std::mem::take(cmd);
                if keep.iter().all(|&k| k) {
                    script.lines.push(Line {
                        number: *start,
                        when: *when,
                        text: format!("`{}`", cmd.trim()),
                        action: Action::Shell(cmd.trim().into()),
                    });
                }
                shell = None;
            }
            continue;
        }
        if let Some((start, when, body)) = &mut python {
            if let Some(end) = raw.find("}%") {
                body.push_str(&raw[..end]);
                let body = std::mem::take(body);
                if keep.iter().all(|&k| k) {
                    script.lines.push(Line {
                        number: *start,
                        when: *when,
                        text: format!("%{{{body}}}%"),
                        action: Action::Python(body),
                    });
                }
                python = None;
            } else {
                body.push_str(raw);
                body.push('\n');
            }
            continue;
        }
        let mut line = strip_comments(raw, &mut in_comment);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("#ifdef") {
            keep.push(defined.contains(&name.trim()));
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("#ifndef") {
            keep.push(!defined.contains(&name.trim()));
            continue;
        }
        if trimmed.starts_with("#else") {
            let last = keep
                .last_mut()
                .ok_or_else(|| err(number, "#else without #ifdef"))?;
            *last = !*last;
            continue;
        }
        if trimmed.starts_with("#endif") {
            keep.pop()
                .ok_or_else(|| err(number, "#endif without #ifdef"))?;
            continue;
        }
        if !keep.iter().all(|&k| k) {
            continue;
        }
        let (number, joined, depth) = match call.take() {
            Some((start, mut so_far, depth)) => {
                so_far.push(' ');
                so_far.push_str(trimmed);
                (start, so_far, depth + bracket_depth(trimmed))
            }
            None => (number, trimmed.to_string(), bracket_depth(trimmed)),
        };
        if depth > 0
            && !joined.starts_with("--")
            && !trimmed.contains('`')
            && !trimmed.contains("%{")
        {
            call = Some((number, joined, depth));
            continue;
        }
        if let Some(setting) = joined.strip_prefix("--") {
            let (name, value) = setting.split_once('=').unwrap_or((setting, ""));
            let (name, value) = (name.trim(), value.trim());
            if name == "define" {
                let (word, meaning) = value
                    .split_once('=')
                    .ok_or_else(|| err(number, format!("--define={value}: no =VALUE")))?;
                values.push((word.trim().into(), meaning.trim().into()));
            }
            script.options.push((name.into(), value.into()));
            continue;
        }
        line = substitute(&joined, &values);
        // A shell command without a time (Linux's scripts begin with
        // `` `../common/defaults.sh` ``) runs at once, as `+0`.
        let (when, rest) = if line.starts_with('`') {
            (When::After(0.0), line.as_str())
        } else {
            parse_when(&line).map_err(|m| err(number, m))?
        };
        let rest = rest.trim();
        if let Some(body) = rest.strip_prefix("%{") {
            if let Some(end) = body.find("}%") {
                script.lines.push(Line {
                    number,
                    when,
                    text: rest.into(),
                    action: Action::Python(body[..end].trim().into()),
                });
            } else {
                python = Some((number, when, format!("{body}\n")));
            }
            continue;
        }
        let action = if let Some(cmd) = rest.strip_prefix('`') {
            let Some(cmd) = cmd.strip_suffix('`') else {
                shell = Some((number, when, format!("{cmd}\n")));
                continue;
            };
            Action::Shell(cmd.trim().into())
        } else if icmp::is_icmp(rest) {
            Action::Icmp(icmp::parse(rest).map_err(|m| line_err(number, m))?)
        } else if rest.starts_with('<') || rest.starts_with('>') {
            Action::Packet(packet::parse_spec(rest).map_err(|m| line_err(number, m))?)
        } else {
            Action::Call(parse_call(rest).map_err(|m| err(number, m))?)
        };
        script.lines.push(Line {
            number,
            when,
            text: rest.into(),
            action,
        });
    }
    if python.is_some() {
        return Err(err(text.lines().count(), "unterminated %{ block"));
    }
    if let Some((start, ..)) = shell {
        return Err(err(start, "unterminated shell command"));
    }
    if let Some((start, ..)) = call {
        return Err(err(start, "unbalanced brackets: a call left open"));
    }
    Ok(script)
}

/// How many more `(`, `[` or `{` a line opens than it closes: above 0,
/// a system call that goes on on the next line (packetdrill's grammar is
/// free of line ends). Shell commands and Python blocks have rules of
/// their own (the caller leaves them out).
fn bracket_depth(line: &str) -> i64 {
    line.chars().fold(0, |d, c| match c {
        '(' | '[' | '{' => d + 1,
        ')' | ']' | '}' => d - 1,
        _ => d,
    })
}

/// Each word (letters, digits, `_`) of `line` that `values` names,
/// replaced by its value; shell commands are left as written (the lexer
/// reads a backquoted command as one token).
fn substitute(line: &str, values: &[(String, String)]) -> String {
    if values.is_empty() || line.contains('`') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match values.iter().rev().find(|(name, _)| name == word) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Drops `//` comments and `/* */` comments (which may span lines), but
/// not inside a backquoted command or a `"string"`: the lexer reads those
/// whole (`` `curl http://…` ``, `write(4, "a//b", 4)`).
fn strip_comments(line: &str, in_comment: &mut bool) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        let next = line[i + c.len_utf8()..].chars().next();
        if *in_comment {
            if c == '*' && next == Some('/') {
                chars.next();
                *in_comment = false;
            }
            continue;
        }
        match (quote, c, next) {
            (Some(q), _, _) if c == q => quote = None,
            (Some(_), _, _) => {}
            (None, '`' | '"', _) => quote = Some(c),
            (None, '/', Some('/')) => return out,
            (None, '/', Some('*')) => {
                chars.next();
                *in_comment = true;
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The longest time a line may name: a day (scripts run in seconds; a
/// larger value is a mistake or hostile, and would overflow the clock).
const MAX_SECONDS: f64 = 86_400.0;

fn seconds(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && (0.0..=MAX_SECONDS).contains(v))
        .ok_or_else(|| format!("bad time {s:?}"))
}

/// The time at the start of a line, and the rest of it.
fn parse_when(line: &str) -> Result<(When, &str), String> {
    let (word, mut rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    // `a ... b`, `a ...b`, `a... b`: the lexer reads `...` as a token of
    // its own, so spaces may stand around it.
    let mut word = word.to_string();
    if let Some(after) = rest.trim_start().strip_prefix("...") {
        word.push_str("...");
        rest = after;
    }
    if word.ends_with("...") {
        let r = rest.trim_start();
        let (end, after) = r.split_once(char::is_whitespace).unwrap_or((r, ""));
        word.push_str(end);
        rest = after;
    }
    let word = word.as_str();
    // `+ 0.00`: packetdrill's lexer takes the sign and the number as two
    // tokens, so a space may stand between them.
    if word == "+" {
        let rest = rest.trim_start();
        let (number, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return Ok((When::After(seconds(number)?), rest));
    }
    let when = if word == "*" {
        When::Any
    } else if let Some((start, end)) = word.split_once("...") {
        let relative = start.starts_with('+');
        let (start, end) = (
            seconds(start.trim_start_matches('+'))?,
            seconds(end.trim_start_matches('+'))?,
        );
        if end < start {
            return Err(format!(
                "{word:?}: a blocking call returns before it starts"
            ));
        }
        When::Blocking {
            start,
            end,
            relative,
        }
    } else if let Some((lo, hi)) = word.split_once('~') {
        let relative = lo.starts_with('+');
        When::Range {
            lo: seconds(lo.trim_start_matches('+'))?,
            hi: seconds(hi.trim_start_matches('+'))?,
            relative,
        }
    } else if let Some(rel) = word.strip_prefix('+') {
        When::After(seconds(rel)?)
    } else {
        When::At(seconds(word)?)
    };
    Ok((when, rest))
}

/// Splits at commas outside brackets, braces and parentheses.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// `name(args) = ret [ERRNO (text)]`.
fn parse_call(s: &str) -> Result<Syscall, String> {
    let open = s.find('(').ok_or("a call needs (")?;
    let name = s[..open].trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("not a call: {s:?}"));
    }
    let mut depth = 0;
    let mut close = None;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close.ok_or("unbalanced parentheses")?;
    let args = split_args(&s[open + 1..close]);
    let result = s[close + 1..]
        .trim()
        .strip_prefix('=')
        .ok_or("a call needs = result")?
        .trim();
    let mut words = result.split_whitespace();
    let ret_word = words.next().ok_or("no result")?;
    let ret = if let Some(hex) = ret_word.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).map_err(|e| e.to_string())?
    } else {
        ret_word
            .parse::<i64>()
            .map_err(|e| format!("{ret_word}: {e}"))?
    };
    let errno = words
        .next()
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
        .map(String::from);
    Ok(Syscall {
        name: name.into(),
        args,
        ret,
        errno,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "\
// A comment
--ip_version=ipv4
--tolerance_usecs=75000
 0.00 `sysctl -w net.inet.tcp.rfc1323=1`
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)
+0.00 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0.00 > S  0:0(0)       win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
#ifdef STANDARD
+0.10 < S. 0:0(0) ack 1 win 32767 /* inline */ <mss 1460>
#endif
#ifdef FreeBSD
+0.10 < R 0:0(0) win 0
#endif
+0.00 %{ assert tcpi_state == TCPI_ESTABLISHED }%
0.5~0.7 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0
";

    #[test]
    fn a_script_parses_into_options_and_timed_lines() {
        let s = parse(SCRIPT, &["STANDARD"]).unwrap();
        assert_eq!(
            s.options,
            vec![
                ("ip_version".into(), "ipv4".into()),
                ("tolerance_usecs".into(), "75000".into())
            ]
        );
        assert_eq!(s.lines.len(), 8);
        assert_eq!(s.lines[0].when, When::At(0.0));
        assert_eq!(
            s.lines[0].action,
            Action::Shell("sysctl -w net.inet.tcp.rfc1323=1".into())
        );
        let Action::Call(c) = &s.lines[1].action else {
            panic!()
        };
        assert_eq!((c.name.as_str(), c.args.len(), c.ret), ("socket", 3, 3));
        let Action::Call(c) = &s.lines[2].action else {
            panic!()
        };
        assert_eq!(c.ret, 2);
        let Action::Call(c) = &s.lines[3].action else {
            panic!()
        };
        assert_eq!((c.ret, c.errno.as_deref()), (-1, Some("EINPROGRESS")));
        assert!(matches!(s.lines[4].action, Action::Packet(_)));
        assert_eq!(s.lines[5].when, When::After(0.1));
        assert_eq!(s.lines[5].number, 10);
        assert!(matches!(s.lines[6].action, Action::Python(_)));
        assert_eq!(
            s.lines[7].when,
            When::Range {
                lo: 0.5,
                hi: 0.7,
                relative: false
            }
        );
        let Action::Call(c) = &s.lines[7].action else {
            panic!()
        };
        assert_eq!(c.args[3], "[65536]");
    }

    #[test]
    fn the_other_ifdef_branch_is_kept_when_named() {
        let s = parse(SCRIPT, &["FreeBSD"]).unwrap();
        let Action::Packet(p) = &s.lines[5].action else {
            panic!()
        };
        assert!(p.inbound);
        assert_eq!(s.lines[5].number, 13);
    }

    #[test]
    fn malformed_lines_are_errors_with_their_number() {
        for (text, line) in [
            ("+0.00 socket(..., SOCK_STREAM = 3", 1),
            ("\n+x.y close(3) = 0", 2),
            ("+0.00 `sysctl -w a=1", 1),
            ("+0.00 close(3)", 1),
            ("#endif", 1),
            ("+0.00 %{ print(1)", 1),
            ("1e300 close(3) = 0", 1),
            ("+ x close(3) = 0", 1),
            ("+ ", 1),
            ("6.00...1.00 connect(3, ..., ...) = 0", 1),
            ("1.00...x connect(3, ..., ...) = 0", 1),
        ] {
            assert_eq!(parse(text, &[]).unwrap_err().line, line, "{text}");
        }
    }

    /// `+ 0.10`, with a space, is `+0.10` (packetdrill's lexer reads the
    /// sign apart).
    #[test]
    fn a_relative_time_may_have_a_space_after_its_sign() {
        let spaced = parse("0.00 close(3) = 0\n+ 0.10 close(4) = 0\n", &[]).unwrap();
        let tight = parse("0.00 close(3) = 0\n+0.10 close(4) = 0\n", &[]).unwrap();
        assert_eq!(spaced.lines[1].when, tight.lines[1].when);
        assert_eq!(spaced.lines[1].text, tight.lines[1].text);
    }

    /// `1.00...6.00 connect(...)`: a blocking call made at 1 s that
    /// returns at 6 s; `+a...+b` after the previous line.
    #[test]
    fn a_blocking_call_has_a_start_and_an_end() {
        let s = parse(
            " 1.00...6.00 connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)\n\
             +0.50...+2 connect(3, ..., ...) = 0\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            s.lines[0].when,
            When::Blocking {
                start: 1.0,
                end: 6.0,
                relative: false
            }
        );
        assert_eq!(
            s.lines[1].when,
            When::Blocking {
                start: 0.5,
                end: 2.0,
                relative: true
            }
        );
    }

    /// Linux's scripts begin with an untimed command, often over several
    /// lines: one shell line at `+0`, its lines joined; one left open is
    /// an error naming the line it began on.
    #[test]
    fn a_shell_command_may_span_lines_and_go_without_a_time() {
        let text = "`../common/defaults.sh\nsysctl -q net.ipv4.tcp_ecn=2\n`\n 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n";
        let s = parse(text, &[]).unwrap();
        assert_eq!(s.lines.len(), 2);
        assert_eq!((s.lines[0].number, s.lines[0].when), (1, When::After(0.0)));
        assert_eq!(
            s.lines[0].action,
            Action::Shell("../common/defaults.sh\nsysctl -q net.ipv4.tcp_ecn=2".into())
        );
        assert_eq!(s.lines[1].number, 4);
        let open = parse(
            "+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 `sysctl -q a=1\n",
            &[],
        );
        assert_eq!(open.unwrap_err().line, 2);
    }
    /// packetdrill's grammar is free of line ends: a call goes on while
    /// its brackets are open, comments and blank lines among its lines;
    /// its number is its first line's; one never closed is an error
    /// naming the line it began on.
    #[test]
    fn a_call_may_span_lines() {
        let text = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
                    +0...0.010 poll([{fd=3,\n\
                    \n\
                    // the events wanted\n\
                    events=POLLIN|POLLOUT, /* and\n\
                    got */ revents=POLLOUT}], 1, 100) = 1\n\
                    +0 close(3) = 0\n";
        let s = parse(text, &[]).unwrap();
        assert_eq!(s.lines.len(), 3);
        let Action::Call(c) = &s.lines[1].action else {
            panic!("{:?}", s.lines[1])
        };
        assert_eq!((c.name.as_str(), c.ret), ("poll", 1));
        assert_eq!(c.args.len(), 3);
        assert_eq!(
            c.args[0],
            "[{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}]"
        );
        assert_eq!(s.lines[1].number, 2);
        assert_eq!(s.lines[2].number, 7);
        let open = parse("0 close(3) = 0\n+0 poll([{fd=3,\n+0 close(3) = 0\n", &[]);
        assert_eq!(
            open.unwrap_err(),
            err(2, "unbalanced brackets: a call left open")
        );
    }

    /// `-D NAME=VALUE` (a profile's values) and a script's `--define`
    /// lines: a whole word named stands for its value, later definitions
    /// first; a longer word, a shell command and a comment keep theirs.
    #[test]
    fn defined_words_stand_for_their_values() {
        let values = [("COOKIE".to_string(), "abcd".to_string())];
        let text = "--define=FD=3\n\
                    0 close(FD) = 0\n\
                    +0 `echo FD`\n\
                    +0 < S 0:0(0) win 1 <FOEXP COOKIE> // COOKIE\n\
                    +0 close(FDX) = 0\n";
        let s = parse_with(text, &[], &values).unwrap();
        assert_eq!(s.options, vec![("define".into(), "FD=3".into())]);
        assert_eq!(s.lines[0].text, "close(3) = 0");
        assert_eq!(s.lines[1].action, Action::Shell("echo FD".into()));
        assert_eq!(s.lines[2].text, "< S 0:0(0) win 1 <FOEXP abcd>");
        let Action::Call(c) = &s.lines[3].action else {
            panic!()
        };
        assert_eq!(c.args, ["FDX"]);
        // Without the value the cookie is no hex: a construct error.
        assert!(parse(text, &[]).is_err());
        assert_eq!(parse("--define=FD\n", &[]).unwrap_err().line, 1);
    }

    /// `a...b`, `a ... b`, `a ...b` and `a... b` are one blocking time.
    #[test]
    fn the_ellipsis_of_a_blocking_call_may_stand_apart() {
        let want = When::Blocking {
            start: 0.002,
            end: 0.004,
            relative: true,
        };
        for time in [
            "+.002...0.004",
            "+.002 ... 0.004",
            "+.002 ...0.004",
            "+.002... 0.004",
        ] {
            let s = parse(&format!("{time} connect(4, ..., ...) = 0\n"), &[]).unwrap();
            assert_eq!(s.lines[0].when, want, "{time}");
            assert!(matches!(&s.lines[0].action, Action::Call(c) if c.name == "connect"));
        }
    }

    /// A line packetdrill would reject is malformed; packetdrill's syntax
    /// in a construct the runner does not read (an MD5 option) is
    /// unsupported; an urgent pointer is read. `-` is a segment with no flags.
    #[test]
    fn a_parse_error_says_whether_packetdrill_would_take_the_line() {
        for (text, unsupported) in [
            ("s//\n", false),
            ("+0 < F . 1:1(0) ack 101 win 65535\n", false),
            ("+0 < . 1:11(5) ack 1 win 65535\n", false),
            ("+0 close(3\n", false),
            ("+0 < . 1:1(0) ack 1 win 257 <md5 0001>\n", true),
        ] {
            assert_eq!(
                parse(text, &[]).unwrap_err().unsupported,
                unsupported,
                "{text}"
            );
        }
        assert!(parse("+0 < U. 1:101(100) ack 1 win 257 urg 100\n", &[]).is_ok());
        let s = parse("+0 < - 1:1001(1000) win 20000\n", &[]).unwrap();
        let Action::Packet(p) = &s.lines[0].action else {
            panic!()
        };
        assert_eq!((p.flags, p.len), (vtcp::wire::Flags::empty(), 1000));
    }

    /// Comments stand anywhere but inside a backquoted command or a
    /// string; a `/* */` may span lines.
    #[test]
    fn comments_stand_anywhere_but_in_commands_and_strings() {
        let text = "0 `echo http://x` // run it\n\
                    +0 write(4, \"a//b/*c\", 6) = 6 /* six\n\
                    octets */ +0 close(4) = 0 /* a */ // b\n";
        let s = parse(text, &[]).unwrap();
        assert_eq!(s.lines[0].action, Action::Shell("echo http://x".into()));
        let Action::Call(c) = &s.lines[1].action else {
            panic!()
        };
        assert_eq!(c.args[1], "\"a//b/*c\"");
        assert_eq!(s.lines[2].text, "close(4) = 0");
        assert_eq!(s.lines.len(), 3);
    }

    /// Every cut of a script (a call, a comment, a string, a command, a
    /// blocking time, a define left open) parses or is an error: never a
    /// panic.
    #[test]
    fn every_prefix_of_a_script_parses_or_is_an_error() {
        let tail = "--define=X=3\n+.002 ... 0.004 poll([{fd=X, /* c\n*/ events=\"a//\"}], 1, 1) = 1\n\
                    +0 `echo //\nb`\n+0 %{ x }%\n";
        let text = format!("{SCRIPT}{tail}");
        for (i, _) in text.char_indices() {
            let _ = parse_with(&text[..i], &["STANDARD"], &[("FD".into(), "3".into())]);
        }
        let whole = parse(&text, &["STANDARD"]);
        assert!(whole.is_ok(), "{whole:?}");
    }
}
