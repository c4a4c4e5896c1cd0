//! A packetdrill-like harness: segments written as tcpdump prints them,
//! sequence numbers relative to each side's ISN, every field of every
//! segment the connection sends checked, and the time it is sent.
//!
//! ```text
//! t.at(0).recv("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>");
//! t.expect("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 1,nop,wscale 3>");
//! ```
//!
//! `*` stands for any value of a number. An IP ECN field may come first,
//! as packetdrill writes it: `[ce] . 1:1001(1000) ack 1` is received
//! marked CE; `[ect0] . 1:1001(1000) ack 1` must be sent ECT(0)
//! (`[noecn]`: Not-ECT, or a connection without ECN).

use std::time::Duration;

use vtcp_conn::{Conn, ConnConfig, EcnCodepoint, Endpoints, Event, IsnSource};
use vtcp_seq::Seq;
use vtcp_wire::{Flags, Options, ParsedSegment, Segment, TcpOption};

/// Our ISN in every trace.
pub(crate) const OUR_ISN: u32 = 1_000_000;
/// The peer's ISN in every trace.
pub(crate) const PEER_ISN: u32 = 5_000_000;

/// The peer's SYN of [`Trace::established`]: MSS 1460, SACK, TSval 100,
/// window scale 7.
#[allow(dead_code, reason = "not every trace file starts there")]
pub(crate) const PEER_SYN: &str =
    "S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>";
/// Our answer to [`PEER_SYN`] with the default configuration.
#[allow(dead_code, reason = "not every trace file starts there")]
pub(crate) const OUR_SYN_ACK: &str =
    "S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 3>";

pub(crate) struct Trace {
    pub(crate) conn: Option<Conn>,
    cfg: Option<ConnConfig>,
    /// Who the connection is: port 8080 to the peer's 40000, our ISN
    /// fixed, no addresses (a test may set them before the open).
    pub(crate) ends: Endpoints,
    pub(crate) now: Duration,
    /// The TSval of the latest segment [`Trace::expect`] checked.
    pub(crate) last_tsval: Option<u32>,
    /// The largest segment the link takes (TSO): 0, one at a time.
    pub(crate) max_segment: usize,
    /// What the latest segment taken stands for.
    pub(crate) last_written: Option<vtcp_conn::Written>,
}

fn num(s: &str) -> Option<u32> {
    if s == "*" {
        None
    } else {
        Some(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
    }
}

/// A segment as written in a trace; `None` fields match anything.
#[derive(Debug, Default)]
struct Spec {
    flags: Flags,
    seq: Option<u32>,
    end: Option<u32>,
    len: Option<u32>,
    ack: Option<Option<u32>>,
    win: Option<u32>,
    options: Option<Vec<(String, Vec<Option<u32>>)>>,
    /// The IP header's ECN field, when written.
    ecn: Option<EcnCodepoint>,
}

fn parse_spec(text: &str) -> Spec {
    let (ecn, text) = match text.trim_start().strip_prefix('[') {
        Some(rest) => {
            let (mark, rest) = rest.split_once(']').expect("[mark]");
            let ecn = match mark {
                "noecn" => EcnCodepoint::NotEct,
                "ect0" => EcnCodepoint::Ect0,
                "ect1" => EcnCodepoint::Ect1,
                "ce" => EcnCodepoint::Ce,
                other => panic!("ECN mark {other}"),
            };
            (Some(ecn), rest)
        }
        None => (None, text),
    };
    let (head, opts) = match text.split_once('<') {
        Some((h, o)) => (h, Some(o.trim_end().trim_end_matches('>'))),
        None => (text, None),
    };
    let mut words = head.split_whitespace();
    let mut spec = Spec {
        ecn,
        ..Spec::default()
    };
    for c in words.next().expect("flags").chars() {
        spec.flags.insert(match c {
            'S' => Flags::SYN,
            'F' => Flags::FIN,
            'R' => Flags::RST,
            'P' => Flags::PSH,
            '.' => Flags::ACK,
            'U' => Flags::URG,
            'E' => Flags::ECE,
            'W' => Flags::CWR,
            other => panic!("flag {other}"),
        });
    }
    let range = words.next().expect("seq range");
    let (seq, rest) = range.split_once(':').expect("seq:end(len)");
    let (end, len) = rest.split_once('(').expect("end(len)");
    spec.seq = num(seq);
    spec.end = num(end);
    spec.len = num(len.trim_end_matches(')'));
    spec.ack = Some(None);
    while let Some(w) = words.next() {
        let v = words.next().expect("a value");
        match w {
            "ack" => spec.ack = Some(num(v)),
            "win" => spec.win = num(v),
            other => panic!("field {other}"),
        }
    }
    spec.options = Some(
        opts.map(|o| {
            o.split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|o| {
                    let mut parts = o.split_whitespace();
                    let name = parts.next().unwrap().to_string();
                    if name == "FO" {
                        // `FO 0102...`: the cookie's octets, in hex.
                        let hex = parts.next().unwrap_or("");
                        let octets = (0..hex.len() / 2)
                            .map(|i| u32::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                            .collect();
                        return (name, octets);
                    }
                    // "sack 1:2 3:4" gives its edges; other options their numbers.
                    let values = parts
                        .flat_map(|p| p.split(':'))
                        .filter(|p| p.parse::<u32>().is_ok() || *p == "*")
                        .map(num)
                        .collect();
                    (name, values)
                })
                .collect()
        })
        .unwrap_or_default(),
    );
    spec
}

fn describe_options(options: &Options) -> Vec<(String, Vec<Option<u32>>)> {
    options
        .iter()
        .map(|o| match o {
            TcpOption::Mss(v) => ("mss".into(), vec![Some(u32::from(v))]),
            TcpOption::WindowScale(v) => ("wscale".into(), vec![Some(u32::from(v))]),
            TcpOption::SackPermitted => ("sackOK".into(), vec![]),
            TcpOption::Nop => ("nop".into(), vec![]),
            TcpOption::End => ("eol".into(), vec![]),
            TcpOption::Timestamp(ts) => ("TS".into(), vec![Some(ts.tsval), Some(ts.tsecr)]),
            TcpOption::Sack(b) => (
                "sack".into(),
                b.iter()
                    .flat_map(|b| {
                        [
                            Some(b.left.0.wrapping_sub(PEER_ISN)),
                            Some(b.right.0.wrapping_sub(PEER_ISN)),
                        ]
                    })
                    .collect(),
            ),
            TcpOption::FastOpen(c) => (
                "FO".into(),
                c.map_or(vec![], |c| {
                    c.as_bytes().iter().map(|b| Some(u32::from(*b))).collect()
                }),
            ),
            TcpOption::FastOpenExp(_) => ("FOEXP".into(), vec![]),
            TcpOption::Unknown { kind, .. } => (format!("unknown-{kind}"), vec![]),
        })
        .collect()
}

fn build_options(list: &[(String, Vec<Option<u32>>)]) -> Options {
    // A TFO cookie's octets (any length: an invalid one goes as written).
    let octets: Vec<Vec<u8>> = list
        .iter()
        .map(|(_, v)| v.iter().map(|b| b.unwrap_or(0) as u8).collect())
        .collect();
    let opts: Vec<TcpOption<'_>> = list
        .iter()
        .zip(&octets)
        .map(|((name, v), octets)| {
            let n = |i: usize| v[i].expect("inbound options take numbers");
            match name.as_str() {
                "FO" if octets.is_empty() => TcpOption::FastOpen(None),
                "FO" => vtcp_wire::FastOpenCookie::new(octets).map_or(
                    TcpOption::Unknown {
                        kind: 34,
                        data: octets,
                    },
                    |c| TcpOption::FastOpen(Some(c)),
                ),
                "mss" => TcpOption::Mss(n(0) as u16),
                "wscale" => TcpOption::WindowScale(n(0) as u8),
                "sackOK" => TcpOption::SackPermitted,
                "nop" => TcpOption::Nop,
                "eol" => TcpOption::End,
                "TS" => TcpOption::timestamp(n(0), n(1)),
                "sack" => TcpOption::sack(
                    &v.chunks(2)
                        .map(|c| {
                            vtcp_wire::SackBlock::new(
                                OUR_ISN.wrapping_add(c[0].unwrap()),
                                OUR_ISN.wrapping_add(c[1].unwrap()),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
                .unwrap(),
                other => panic!("option {other}"),
            }
        })
        .collect();
    Options::build(&opts).unwrap()
}

/// The bytes of a segment from the peer written in the trace syntax
/// (ports implied, payload `x`s), and the ECN mark written before it.
fn inbound(text: &str) -> (Vec<u8>, Option<EcnCodepoint>) {
    let spec = parse_spec(text);
    let seq = PEER_ISN.wrapping_add(spec.seq.expect("inbound seq"));
    let payload = vec![b'x'; spec.len.unwrap_or(0) as usize];
    let seg = Segment {
        src_port: 40000,
        dst_port: 8080,
        seq: Seq(seq),
        ack: Seq(spec.ack.flatten().map_or(0, |a| OUR_ISN.wrapping_add(a))),
        flags: spec.flags,
        window: spec.win.unwrap_or(65535) as u16,
        options: build_options(spec.options.as_deref().unwrap_or(&[])),
        payload: &payload[..],
        ..Segment::default()
    };
    (seg.to_bytes(), spec.ecn)
}

impl Trace {
    /// A connection that will be opened passively by the first segment
    /// received.
    pub(crate) fn passive(tweak: impl FnOnce(&mut ConnConfig)) -> Self {
        let mut cfg = {
            let mut config = ConnConfig::default();
            config.recv_buffer = 65535 * 8;
            // RFC 6298's RTO with G the 1 ms clock, so that the traces'
            // timeouts read as min_rto; the default's 200 ms floor on the
            // variance term has a trace of its own.
            config.min_rto_variance = Duration::from_millis(1);
            config
        };
        tweak(&mut cfg);
        Self {
            conn: None,
            cfg: Some(cfg),
            ends: Endpoints::ports(8080, 40000).with_isn(IsnSource::Fixed(Seq(OUR_ISN))),
            now: Duration::ZERO,
            last_tsval: None,
            max_segment: 0,
            last_written: None,
        }
    }

    /// A connection opened actively at time 0.
    #[allow(dead_code, reason = "not every trace file opens actively")]
    pub(crate) fn active(tweak: impl FnOnce(&mut ConnConfig)) -> Self {
        let mut t = Self::passive(tweak);
        t.conn = Some(Conn::connect(t.cfg.take().unwrap(), t.ends, Duration::ZERO));
        t
    }

    /// A passive connection ESTABLISHED at 10 ms: the peer's SYN
    /// ([`PEER_SYN`]) at 0 offers every option, our SYN-ACK
    /// ([`OUR_SYN_ACK`]) answers with all of them, and the peer's ACK
    /// (window 1000 scaled by 7, TSval 110, no echo) ends it. The
    /// handshake measured 10 ms.
    #[allow(dead_code, reason = "not every trace file starts there")]
    pub(crate) fn established(tweak: impl FnOnce(&mut ConnConfig)) -> Self {
        let mut t = Self::passive(tweak);
        t.at(0).recv(PEER_SYN).expect(OUR_SYN_ACK).expect_none();
        t.at(10)
            .recv(". 1:1(0) ack 1 win 1000 <nop,nop,TS val 110 ecr 0>");
        assert_eq!(t.conn().state(), vtcp_conn::State::Established);
        t
    }

    pub(crate) fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("the connection exists")
    }

    /// Moves the clock to `ms` milliseconds and runs any timer due.
    pub(crate) fn at(&mut self, ms: u64) -> &mut Self {
        let now = Duration::from_millis(ms);
        assert!(now >= self.now, "time runs forward");
        self.now = now;
        if let Some(c) = self.conn.as_mut()
            && c.poll_timeout().is_some_and(|t| t <= now)
        {
            c.handle_timeout(now);
        }
        self
    }

    /// Feeds a segment written in the trace syntax (ports implied).
    pub(crate) fn recv(&mut self, text: &str) -> &mut Self {
        let (bytes, ecn) = inbound(text);
        let seg = ParsedSegment::parse(&bytes).expect("a segment");
        match self.conn.as_mut() {
            Some(c) => match ecn {
                Some(ecn) => c.handle_segment_ecn(self.now, &seg, ecn),
                None => c.handle_segment(self.now, &seg),
            },
            None => {
                let cfg = self.cfg.take().expect("a config");
                self.conn = Some(Conn::accept_syn(cfg, self.ends, self.now, &seg).expect("a SYN"));
            }
        }
        self
    }

    /// Whether the connection would let the segment `text` (from the
    /// peer, in the trace syntax) reopen it ([`Conn::accepts_reopen`]).
    #[allow(dead_code, reason = "not every trace file asks")]
    pub(crate) fn accepts_reopen(&mut self, text: &str) -> bool {
        let (bytes, _) = inbound(text);
        self.conn()
            .accepts_reopen(&ParsedSegment::parse(&bytes).expect("a segment"))
    }

    /// The next segment the connection sends now.
    pub(crate) fn take(&mut self) -> Option<Vec<u8>> {
        let now = self.now;
        let mut buf = vec![0u8; 70_000];
        let max = self.max_segment;
        let w = self.conn().poll_transmit_super(now, &mut buf, max)?;
        self.last_written = Some(w);
        Some(buf[..w.len].to_vec())
    }

    /// Checks that the next segment sent now is `text`, field for field.
    pub(crate) fn expect(&mut self, text: &str) -> &mut Self {
        let spec = parse_spec(text);
        let bytes = self
            .take()
            .unwrap_or_else(|| panic!("at {:?}: nothing sent, expected {text}", self.now));
        let seg = Segment::parse(&bytes).unwrap();
        self.last_tsval = seg.options.iter().find_map(|o| match o {
            TcpOption::Timestamp(ts) => Some(ts.tsval),
            _ => None,
        });
        let shown = format!("{seg}");
        let rel_seq = seg.seq.0.wrapping_sub(OUR_ISN);
        let len = seg.data_len() as u32;
        let ctx = format!("at {:?}: sent {shown}, expected {text}", self.now);
        assert_eq!(seg.flags, spec.flags, "flags: {ctx}");
        if let Some(want) = spec.ecn {
            let sent = self.last_written.and_then(|w| w.ecn);
            assert_eq!(
                sent.unwrap_or(EcnCodepoint::NotEct),
                want,
                "ECN field: {ctx}"
            );
        }
        assert_eq!((seg.src_port, seg.dst_port), (8080, 40000), "ports: {ctx}");
        if let Some(s) = spec.seq {
            assert_eq!(rel_seq, s, "seq: {ctx}");
        }
        if let Some(e) = spec.end {
            assert_eq!(rel_seq.wrapping_add(len), e, "end: {ctx}");
        }
        if let Some(l) = spec.len {
            assert_eq!(len, l, "len: {ctx}");
        }
        match spec.ack.flatten() {
            Some(a) => {
                assert!(seg.flags.contains(Flags::ACK), "ACK flag: {ctx}");
                assert_eq!(seg.ack.0.wrapping_sub(PEER_ISN), a, "ack: {ctx}");
            }
            None => assert!(
                !seg.flags.contains(Flags::ACK) || text.contains("ack *"),
                "no ack expected: {ctx}"
            ),
        }
        if let Some(w) = spec.win {
            assert_eq!(u32::from(seg.window), w, "win: {ctx}");
        }
        // `<*>` accepts any options.
        let any = spec
            .options
            .as_ref()
            .is_some_and(|o| o.len() == 1 && o[0].0 == "*");
        if let Some(expected) = spec.options.filter(|_| !any) {
            let got = describe_options(&seg.options);
            assert_eq!(got.len(), expected.len(), "options: {ctx}");
            for ((gn, gv), (en, ev)) in got.iter().zip(&expected) {
                assert_eq!(gn, en, "option: {ctx}");
                assert_eq!(gv.len(), ev.len(), "option {en}: {ctx}");
                for (g, e) in gv.iter().zip(ev) {
                    if e.is_some() {
                        assert_eq!(g, e, "option {en}: {ctx}");
                    }
                }
            }
        }
        self
    }

    /// Checks that nothing is sent now.
    pub(crate) fn expect_none(&mut self) -> &mut Self {
        if let Some(bytes) = self.take() {
            panic!(
                "at {:?}: sent {} but expected nothing",
                self.now,
                Segment::parse(&bytes).unwrap()
            );
        }
        self
    }

    /// Events so far.
    #[allow(dead_code, reason = "not every trace file asks")]
    pub(crate) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn().poll_event()).collect()
    }
}
