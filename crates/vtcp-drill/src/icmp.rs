//! ICMP lines as packetdrill writes them: `< icmp unreachable
//! port_unreachable [0:0(0)]`, `< icmp unreachable frag_needed mtu 1280
//! [1:1461(1460)]`, `< [ect0] icmp packet_too_big mtu 1300 [0:0(0)]`.
//! The type and code names are google/packetdrill's (and the FreeBSD
//! suite's spellings of a few); `code_N` names a code by its number. The
//! bracket is the quoted TCP segment (at 0 with no payload when left
//! out, as packetdrill has it): its sequence numbers are ours,
//! relative to our ISN, as in our segments' lines.

use vtcp::icmp::IcmpError;

/// An injected ICMP error line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpSpec {
    /// The type's name (`unreachable`, `packet_too_big`, …).
    pub icmp_type: String,
    /// The code's name, if written (`port_unreachable`, `code_0`, …).
    pub code: Option<String>,
    /// `mtu N`.
    pub mtu: Option<u32>,
    /// The quoted segment's sequence number, relative to our ISN.
    pub seq: u32,
    /// The quoted segment's payload length.
    pub len: u32,
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse::<T>().map_err(|_| format!("bad number {s:?}"))
}

/// Whether a `<` line is an ICMP one: `< icmp …`, `<icmp …` or `< [ect0]
/// icmp …` (the quoted datagram's ECN field, not checked here).
pub fn is_icmp(line: &str) -> bool {
    strip_head(line).is_some()
}

/// The line after `<`, an ECN bracket and `icmp`.
fn strip_head(line: &str) -> Option<&str> {
    let mut rest = line.strip_prefix('<')?.trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        let close = after.find(']')?;
        rest = after[close + 1..].trim_start();
    }
    let body = rest.strip_prefix("icmp")?;
    body.starts_with(char::is_whitespace).then_some(body)
}

/// Parses `< icmp TYPE [CODE] [mtu N] [[seq:end(len)]]`. Without the
/// bracket the quoted segment is at sequence 0 with no payload, as
/// packetdrill's grammar has it (`opt_icmp_echoed`).
pub fn parse(line: &str) -> Result<IcmpSpec, String> {
    let body = strip_head(line).ok_or("not an ICMP line")?;
    let (head, seq, len) = match body.find('[') {
        None => (body, 0, 0),
        Some(open) => {
            let (seq, len) = quoted(&body[open..])?;
            (&body[..open], seq, len)
        }
    };
    let words: Vec<&str> = head.split_whitespace().collect();
    let (icmp_type, rest) = words.split_first().ok_or("an ICMP line needs a type")?;
    let (mut code, mut mtu) = (None, None);
    let mut it = rest.iter();
    while let Some(w) = it.next() {
        if *w == "mtu" {
            mtu = Some(number(it.next().ok_or("mtu needs a value")?)?);
        } else if code.is_none() {
            code = Some((*w).to_string());
        } else {
            return Err(format!("unexpected {w:?}"));
        }
    }
    Ok(IcmpSpec {
        icmp_type: (*icmp_type).to_string(),
        code,
        mtu,
        seq,
        len,
    })
}

/// `[seq:end(len)]`, the end of an ICMP line: the quoted segment's
/// sequence number and length.
fn quoted(bracket: &str) -> Result<(u32, u32), String> {
    let close = bracket.find(']').ok_or("unterminated [seq:end(len)]")?;
    let quoted = &bracket[1..close];
    if !bracket[close + 1..].trim().is_empty() {
        return Err(format!(
            "after the quoted segment: {:?}",
            &bracket[close + 1..]
        ));
    }
    let (seq, tail) = quoted.split_once(':').ok_or("bad seq:end(len)")?;
    let (end, len) = tail.split_once('(').ok_or("bad seq:end(len)")?;
    let len = len.strip_suffix(')').ok_or("bad seq:end(len)")?;
    let (seq, end, len): (u32, u32, u32) = (
        number(seq.trim())?,
        number(end.trim())?,
        number(len.trim())?,
    );
    if end.wrapping_sub(seq) != len {
        return Err(format!("{quoted}: end − seq is not the length"));
    }
    Ok((seq, len))
}

/// Type numbers by family (ICMPv6: `true`) and packetdrill's names.
const TYPES: &[(bool, &str, u8)] = &[
    (false, "echo_reply", 0),
    (false, "unreachable", 3),
    (false, "source_quench", 4),
    (false, "redirect", 5),
    (false, "echo_request", 8),
    (false, "time_exceeded", 11),
    (false, "parameter_problem", 12),
    (false, "timestamp_request", 13),
    (false, "timestamp_reply", 14),
    (true, "unreachable", 1),
    (true, "destination_unreachable", 1),
    (true, "packet_too_big", 2),
    (true, "time_exceeded", 3),
    (true, "parameter_problem", 4),
    (true, "echo_request", 128),
    (true, "echo_reply", 129),
];

/// Code numbers by family, type and name.
const CODES: &[(bool, u8, &str, u8)] = &[
    (false, 3, "net_unreachable", 0),
    (false, 3, "host_unreachable", 1),
    (false, 3, "protocol_unreachable", 2),
    (false, 3, "port_unreachable", 3),
    (false, 3, "frag_needed", 4),
    (false, 3, "source_route_failed", 5),
    (false, 3, "net_unknown", 6),
    (false, 3, "host_unknown", 7),
    (false, 3, "source_host_isolated", 8),
    (false, 3, "net_prohibited", 9),
    (false, 3, "host_prohibited", 10),
    (false, 3, "net_unreachable_for_tos", 11),
    (false, 3, "host_unreachable_for_tos", 12),
    (false, 3, "packet_filtered", 13),
    (false, 3, "precedence_violation", 14),
    (false, 3, "precedence_cutoff", 15),
    (false, 11, "ttl_exceeded_in_transit", 0),
    (false, 11, "ttl_exceeded", 0),
    (false, 11, "frag_reass_exceeded", 1),
    (false, 11, "frag_reassembly_time_exceeded", 1),
    (true, 1, "no_route", 0),
    (true, 1, "admin_prohibited", 1),
    (true, 1, "not_neighbour", 2),
    (true, 1, "not_neighbor", 2),
    (true, 1, "beyond_scope", 2),
    (true, 1, "address_unreachable", 3),
    (true, 1, "port_unreachable", 4),
    (true, 3, "exceeded_hop_limit", 0),
    (true, 3, "hop_limit_exceeded", 0),
    (true, 3, "exceeded_frag_time", 1),
    (true, 3, "reassembly_time_exceeded", 1),
    (true, 4, "header_field", 0),
    (true, 4, "erroneous_header", 0),
    (true, 4, "unknown_next_header", 1),
    (true, 4, "unknown_option", 2),
];

impl IcmpSpec {
    /// The error this line injects over IPv6 (`ipv6`) or IPv4: `Ok(None)`
    /// for a message that is no error about a segment (a redirect, a
    /// source quench, an echo: TCP takes no notice of it,
    /// [`IcmpError::from_icmpv4`]); `Err` for a name not known.
    pub fn error(&self, ipv6: bool) -> Result<Option<IcmpError>, String> {
        let family = if ipv6 { "ICMPv6" } else { "ICMP" };
        let ty = TYPES
            .iter()
            .find(|(v6, n, _)| *v6 == ipv6 && *n == self.icmp_type)
            .map(|&(_, _, t)| t)
            .ok_or_else(|| format!("{family} type {:?}", self.icmp_type))?;
        let code = match self.code.as_deref() {
            None => 0,
            Some(name) => match name.strip_prefix("code_") {
                Some(n) => number(n)?,
                None => CODES
                    .iter()
                    .find(|(v6, t, n, _)| *v6 == ipv6 && *t == ty && *n == name)
                    .map(|&(_, _, _, c)| c)
                    .ok_or_else(|| format!("{family} code {name:?}"))?,
            },
        };
        let rest = self.mtu.unwrap_or(0);
        Ok(if ipv6 {
            IcmpError::from_icmpv6(ty, code, rest)
        } else {
            IcmpError::from_icmpv4(ty, code, rest)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtcp::icmp::{IcmpKind, Unreachable};

    #[test]
    fn icmp_lines_parse_as_packetdrill_writes_them() {
        let s = parse("< icmp unreachable port_unreachable [1:101(100)]").unwrap();
        assert_eq!(
            s,
            IcmpSpec {
                icmp_type: "unreachable".into(),
                code: Some("port_unreachable".into()),
                mtu: None,
                seq: 1,
                len: 100,
            }
        );
        let s = parse("<icmp unreachable frag_needed mtu 1234 [0:0(0)]").unwrap();
        assert_eq!(
            (s.code.as_deref(), s.mtu),
            (Some("frag_needed"), Some(1234))
        );
        let s = parse("< [ect0] icmp packet_too_big mtu 1300 [4294967295:4294967295(0)]").unwrap();
        assert_eq!(
            (s.icmp_type.as_str(), s.mtu, s.seq),
            ("packet_too_big", Some(1300), u32::MAX)
        );
        assert!(is_icmp("< [ect0] icmp redirect [0:0(0)]"));
        assert!(!is_icmp("< S 0:0(0) win 65535"));
        assert!(!is_icmp("< icmpx [0:0(0)]"));
        // Without the bracket: the quoted segment at 0, no payload.
        assert_eq!(
            parse("< icmp unreachable frag_needed mtu 800"),
            parse("< icmp unreachable frag_needed mtu 800 [0:0(0)]")
        );
        for bad in [
            "< icmp unreachable [0:5(4)]",
            "< icmp [0:0(0)]",
            "< icmp unreachable frag_needed mtu [0:0(0)]",
            "< icmp unreachable a b [0:0(0)]",
            "< icmp unreachable [0:0(0)] tail",
            "< [ect0 icmp unreachable [0:0(0)]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_map_to_the_families_types_and_codes() {
        let err = |line: &str, ipv6| parse(line).unwrap().error(ipv6);
        let kind = |line: &str, ipv6| err(line, ipv6).unwrap().unwrap().kind;
        assert_eq!(
            kind("< icmp unreachable packet_filtered [0:0(0)]", false),
            IcmpKind::Unreachable(Unreachable::AdminProhibited)
        );
        assert_eq!(
            kind("< icmp unreachable admin_prohibited [0:0(0)]", true),
            IcmpKind::Unreachable(Unreachable::AdminProhibited)
        );
        assert_eq!(
            kind("< icmp unreachable frag_needed mtu 1234 [0:0(0)]", false),
            IcmpKind::PacketTooBig { mtu: 1234 }
        );
        assert_eq!(
            kind("< icmp parameter_problem code_2 [0:0(0)]", false),
            IcmpKind::ParameterProblem { code: 2 }
        );
        assert_eq!(
            kind(
                "< icmp parameter_problem unknown_next_header [0:0(0)]",
                true
            ),
            IcmpKind::ParameterProblem { code: 1 }
        );
        assert_eq!(
            kind("< icmp time_exceeded frag_reass_exceeded [0:0(0)]", false),
            IcmpKind::TimeExceeded { reassembly: true }
        );
        // Not errors about a segment.
        assert_eq!(err("< icmp redirect [0:0(0)]", false), Ok(None));
        assert_eq!(err("< icmp source_quench [0:0(0)]", false), Ok(None));
        // Names of the other family, or of none.
        assert!(err("< icmp packet_too_big mtu 1300 [0:0(0)]", false).is_err());
        assert!(err("< icmp unreachable packet_filtered [0:0(0)]", true).is_err());
        assert!(err("< icmp unreachable nonsense [0:0(0)]", false).is_err());
        assert!(err("< icmp unreachable code_300 [0:0(0)]", false).is_err());
    }
}
