//! A DNS answer of one A record, for the lab's DNS server (a
//! [`crate::kernel::UdpAnswerer`] in a namespace) that `dig` asks through
//! a forwarder: the query's ID and question copied, QR and RA set, one
//! answer. Anything else gets no answer or NXDOMAIN; any bytes are
//! safe to hand it.
//!
//! The message format is RFC 1035 §4.1; only what an A query needs is
//! read (no compression in the question, which a query does not use).

use std::net::Ipv4Addr;

/// The header's length (RFC 1035 §4.1.1).
const HEADER: usize = 12;
/// TYPE A and CLASS IN (RFC 1035 §3.2.2, §3.2.4).
const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
/// RCODE 3, name error (RFC 1035 §4.1.1).
const NXDOMAIN: u8 = 3;
/// The answer's TTL, in seconds.
const TTL: u32 = 60;

/// The answer to `query` from a server that knows one name: `addr` for
/// an A query of `name` (`vtcp.test`, any letter case, with or without
/// the final dot), NXDOMAIN with no answer for any other question. `None`
/// for what is not a standard query (a response, another opcode, not
/// exactly one question) or does not parse: a server drops it.
pub fn answer_a(query: &[u8], name: &str, addr: Ipv4Addr) -> Option<Vec<u8>> {
    let header = query.get(..HEADER)?;
    let (flags_hi, qdcount) = (header[2], u16::from_be_bytes([header[4], header[5]]));
    // QR 0 (a query) and OPCODE 0 (QUERY), one question (§4.1.1).
    if flags_hi & 0xf8 != 0 || qdcount != 1 {
        return None;
    }
    // QNAME: labels of 1 to 63 octets, then the root's 0 (§4.1.2, §2.3.4).
    let mut at = HEADER;
    let mut labels: Vec<&[u8]> = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 || labels.len() >= 127 {
            return None;
        }
        labels.push(query.get(at..at + len)?);
        at += len;
    }
    let fixed = query.get(at..at + 4)?;
    let question = &query[HEADER..at + 4];
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    let wanted: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    let named = labels.len() == wanted.len()
        && labels
            .iter()
            .zip(&wanted)
            .all(|(l, w)| l.eq_ignore_ascii_case(w.as_bytes()));
    let found = named && qtype == TYPE_A && qclass == CLASS_IN;

    let mut out = Vec::with_capacity(HEADER + question.len() + 16);
    out.extend_from_slice(&header[..2]); // ID
    // QR 1, OPCODE 0, AA 1, TC 0, RD as asked; RA 1, Z 0, RCODE.
    out.push(0x80 | 0x04 | (flags_hi & 0x01));
    out.push(0x80 | if named { 0 } else { NXDOMAIN });
    out.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    out.extend_from_slice(&u16::from(found).to_be_bytes()); // ANCOUNT
    out.extend_from_slice(&[0, 0, 0, 0]); // NSCOUNT, ARCOUNT
    out.extend_from_slice(question);
    if found {
        // NAME: a pointer to the question's name at offset 12 (§4.1.4).
        out.extend_from_slice(&[0xc0, HEADER as u8]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&addr.octets());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 77, 7);

    /// A query as dig sends it: ID, RD and AD set, one question, an EDNS
    /// OPT record in the additional section.
    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1]);
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        // OPT: root name, TYPE 41, UDP size 1232, no options.
        q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        q
    }

    #[test]
    fn an_a_query_for_the_name_gets_its_address() {
        let q = query(0xbeef, "Vtcp.TEST", TYPE_A);
        let a = answer_a(&q, "vtcp.test.", ADDR).unwrap();
        let question_end = 12 + 11 + 4;
        assert_eq!(&a[..2], &[0xbe, 0xef], "the query's ID");
        assert_eq!(a[2], 0x85, "QR, AA, RD as asked");
        assert_eq!(a[3], 0x80, "RA, no error");
        assert_eq!(&a[4..12], &[0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(&a[12..question_end], &q[12..question_end], "the question");
        let rr = &a[question_end..];
        assert_eq!(&rr[..2], &[0xc0, 12], "the name, by pointer");
        assert_eq!(u16::from_be_bytes([rr[2], rr[3]]), TYPE_A);
        assert_eq!(u16::from_be_bytes([rr[4], rr[5]]), CLASS_IN);
        assert_eq!(u32::from_be_bytes([rr[6], rr[7], rr[8], rr[9]]), TTL);
        assert_eq!(&rr[10..], &[0, 4, 198, 18, 77, 7]);
    }

    #[test]
    fn other_names_and_types_get_no_address() {
        let other = answer_a(&query(7, "vtcp.example", TYPE_A), "vtcp.test", ADDR).unwrap();
        assert_eq!((other[3] & 0x0f, &other[6..8]), (NXDOMAIN, &[0u8, 0][..]));
        let longer = answer_a(&query(7, "a.vtcp.test", TYPE_A), "vtcp.test", ADDR).unwrap();
        assert_eq!(longer[3] & 0x0f, NXDOMAIN);
        // AAAA of the name: it exists, with no record of that type.
        let aaaa = answer_a(&query(7, "vtcp.test", 28), "vtcp.test", ADDR).unwrap();
        assert_eq!((aaaa[3] & 0x0f, &aaaa[6..8]), (0, &[0u8, 0][..]));
        assert_eq!(aaaa.len(), 12 + 11 + 4);
    }

    #[test]
    fn what_is_not_a_query_gets_nothing_and_never_panics() {
        let q = query(1, "vtcp.test", TYPE_A);
        // Every cut short of the question's end.
        for n in 0..12 + 11 + 4 {
            assert_eq!(answer_a(&q[..n], "vtcp.test", ADDR), None, "{n} octets");
        }
        let mut response = q.clone();
        response[2] |= 0x80;
        assert_eq!(answer_a(&response, "vtcp.test", ADDR), None);
        let mut two = q.clone();
        two[5] = 2;
        assert_eq!(answer_a(&two, "vtcp.test", ADDR), None);
        let mut pointer = q.clone();
        pointer[12] = 0xc0;
        assert_eq!(answer_a(&pointer, "vtcp.test", ADDR), None);
        // Every single-octet change: an answer or none, never a panic.
        for i in 0..q.len() {
            for v in [0u8, 1, 63, 64, 0x7f, 0xc0, 0xff] {
                let mut m = q.clone();
                m[i] = v;
                if let Some(a) = answer_a(&m, "vtcp.test", ADDR) {
                    assert_eq!(&a[..2], &m[..2]);
                }
            }
        }
    }
}
