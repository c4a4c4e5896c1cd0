//! Routing netlink requests (Linux): a device's addresses, link state,
//! queue length and routes set as `ip addr add`, `ip link set` and `ip
//! route add` set them, without running `ip`. One NETLINK_ROUTE socket,
//! one request at a time, each acknowledged by the kernel (an error
//! carries the kernel's errno, and the reason it gave in an extended
//! acknowledgement when it gave one).
//!
//! The messages are netlink-packet-route's, the socket netlink-sys's
//! synchronous one (docs/architecture.md says why these crates). The
//! socket talks to the network namespace of the thread that opened it:
//! inside a namespace, open it on the thread that entered it
//! ([`crate::netns::Netns::enter`]).
//!
//! The kernel answers synchronously (rtnetlink handles a request before
//! `send` returns and queues its answer), so reading the answer cannot
//! wait for anything but the answer.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
    NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

/// The largest answer read: a link's description (the biggest answer to
/// these requests) is about 1.5 KiB; a longer one fails to decode rather
/// than being read in part.
const RECV_BUF: usize = 64 * 1024;

/// The length of a netlink message header (`struct nlmsghdr`).
const NLMSG_HDRLEN: usize = 16;
/// NLMSGERR_ATTR_MSG: the extended acknowledgement's text
/// (`include/uapi/linux/netlink.h`).
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Why a request failed: the kernel's errno (or the socket's error), and
/// the reason the kernel gave when it gave one ("Invalid prefix for
/// given prefix length").
#[derive(Debug)]
pub(crate) struct Refused {
    /// The errno as an `io::Error`.
    pub(crate) source: io::Error,
    /// The extended acknowledgement's text.
    pub(crate) reason: Option<String>,
}

impl From<io::Error> for Refused {
    fn from(source: io::Error) -> Self {
        Self {
            source,
            reason: None,
        }
    }
}

/// A NETLINK_ROUTE socket in the calling thread's network namespace.
pub(crate) struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// Opens the socket (in the calling thread's namespace).
    pub(crate) fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // The kernel's reasons with its errors (Linux 4.12), and only the
        // header of our request echoed back in them (Linux 4.2); without
        // either, errors are the errno alone.
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        Ok(Self {
            socket,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// The index of the interface of this name (RTM_GETLINK by
    /// IFLA_IFNAME); ENODEV when there is none.
    pub(crate) fn index(&mut self, name: &str) -> Result<u32, Refused> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let answers = self.request(RouteNetlinkMessage::GetLink(msg), 0)?;
        answers
            .iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(link.header.index),
                _ => None,
            })
            .ok_or_else(|| io::Error::from_raw_os_error(nix::libc::ENODEV).into())
    }

    /// Adds `addr/prefix` to the interface (RTM_NEWADDR, as `ip addr
    /// add`: IFA_LOCAL and IFA_ADDRESS both the address, no peer). An
    /// IPv6 address gets IFA_F_NODAD (`nodad`): the device has no other
    /// host on its link, and duplicate address detection would only hold
    /// the address back (RFC 4862 §5.4) for a second.
    pub(crate) fn add_address(
        &mut self,
        index: u32,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<(), Refused> {
        let mut msg = AddressMessage::default();
        msg.header.family = family(addr);
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(addr));
        msg.attributes.push(AddressAttribute::Address(addr));
        if addr.is_ipv6() {
            msg.header.flags = AddressHeaderFlags::Nodad;
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Brings the interface up and sets its transmit queue length if
    /// given (RTM_NEWLINK on an existing link, as `ip link set`: IFF_UP
    /// in the flags and the change mask, IFLA_TXQLEN).
    pub(crate) fn set_up(&mut self, index: u32, txqueuelen: Option<u32>) -> Result<(), Refused> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        if let Some(len) = txqueuelen {
            msg.attributes.push(LinkAttribute::TxQueueLen(len));
        }
        self.request(RouteNetlinkMessage::NewLink(msg), 0).map(drop)
    }

    /// Adds a route to `dst/prefix` through the interface, no gateway (as
    /// `ip route add DST dev NAME`: the main table, protocol `boot`,
    /// scope `link`, which IPv6 ignores).
    pub(crate) fn add_route(&mut self, index: u32, dst: IpAddr, prefix: u8) -> Result<(), Refused> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family(dst);
        msg.header.destination_prefix_length = prefix;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Link;
        msg.header.kind = RouteType::Unicast;
        if prefix > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(dst)));
        }
        msg.attributes.push(RouteAttribute::Oif(index));
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Sends one request with NLM_F_REQUEST | NLM_F_ACK and `flags`, and
    /// reads until the kernel's acknowledgement: the messages that came
    /// before it (a GET's answer), or the kernel's error: its errno and
    /// reason. An answer that does not decode is `InvalidData`.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, Refused> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;
        let mut answers = Vec::new();
        loop {
            let n = self.socket.recv(&mut &mut self.buf[..], 0)?;
            let mut at = 0;
            while at < n {
                let got = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[at..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = got.header.length as usize;
                if len == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a netlink message of length 0",
                    )
                    .into());
                }
                // Messages are aligned to 4 octets (NLMSG_ALIGN).
                at = at.saturating_add(len.next_multiple_of(4));
                if got.header.sequence_number != self.seq {
                    continue;
                }
                match got.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answers),
                            Some(_) => Err(Refused {
                                source: e.to_io(),
                                reason: ext_ack_reason(got.header.flags, &e.header),
                            }),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::InnerMessage(m) => answers.push(m),
                    _ => {}
                }
            }
        }
    }
}

/// The text of an extended acknowledgement (NLMSGERR_ATTR_MSG), from an
/// error message's flags and what follows its errno: our request echoed
/// (its header alone with NLM_F_CAPPED, else all of it), then
/// attributes when NLM_F_ACK_TLVS says there are some. `None` when there
/// is none or the octets do not hold together.
fn ext_ack_reason(flags: u16, echoed: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let request_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        u32::from_ne_bytes(echoed.get(..4)?.try_into().ok()?) as usize
    };
    let mut attrs = echoed.get(request_len.checked_next_multiple_of(4)?..)?;
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        let value = attrs.get(4..len)?;
        if kind == NLMSGERR_ATTR_MSG {
            let text = String::from_utf8_lossy(value);
            let text = text.trim_end_matches('\0').trim();
            return (!text.is_empty()).then(|| text.to_owned());
        }
        attrs = attrs.get(len.checked_next_multiple_of(4)?..).unwrap_or(&[]);
    }
    None
}

/// The address family of an address.
fn family(addr: IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attribute: length, type, value, padded to 4 octets.
    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        a.resize(a.len().next_multiple_of(4), 0);
        a
    }

    #[test]
    fn the_kernel_s_reason_is_read_after_the_echoed_request() {
        let reason = b"Invalid prefix for given prefix length\0";
        // Capped: the request's header alone, then an offset attribute
        // (NLMSGERR_ATTR_OFFS, 2) and the message.
        let mut capped = vec![0u8; NLMSG_HDRLEN];
        capped.extend(attr(2, &20u32.to_ne_bytes()));
        capped.extend(attr(NLMSGERR_ATTR_MSG, reason));
        let flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
        assert_eq!(
            ext_ack_reason(flags, &capped).as_deref(),
            Some("Invalid prefix for given prefix length")
        );
        // Not capped: the whole request (length 26, padded to 28).
        let mut whole = 26u32.to_ne_bytes().to_vec();
        whole.resize(28, 0xee);
        whole.extend(attr(NLMSGERR_ATTR_MSG, reason));
        assert_eq!(
            ext_ack_reason(NLM_F_ACK_TLVS, &whole).as_deref(),
            Some("Invalid prefix for given prefix length")
        );
        // No TLVs flagged, no message attribute, an empty one.
        assert_eq!(ext_ack_reason(NLM_F_CAPPED, &capped), None);
        let mut offs_only = vec![0u8; NLMSG_HDRLEN];
        offs_only.extend(attr(2, &20u32.to_ne_bytes()));
        assert_eq!(ext_ack_reason(flags, &offs_only), None);
        let mut empty = vec![0u8; NLMSG_HDRLEN];
        empty.extend(attr(NLMSGERR_ATTR_MSG, b"\0"));
        assert_eq!(ext_ack_reason(flags, &empty), None);
    }

    #[test]
    fn a_reason_that_does_not_hold_together_is_none_never_a_panic() {
        let mut good = vec![0u8; NLMSG_HDRLEN];
        good.extend(attr(NLMSGERR_ATTR_MSG, b"why\0"));
        let flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
        for n in 0..good.len() {
            // Every cut, every flag combination: an answer or none.
            for f in [flags, NLM_F_ACK_TLVS, 0] {
                let _ = ext_ack_reason(f, &good[..n]);
            }
        }
        // An attribute longer than what is left, or shorter than its
        // own header.
        let mut long = vec![0u8; NLMSG_HDRLEN];
        long.extend_from_slice(&[200, 0, 1, 0, b'w', b'h']);
        assert_eq!(ext_ack_reason(flags, &long), None);
        let mut short = vec![0u8; NLMSG_HDRLEN];
        short.extend_from_slice(&[2, 0, 1, 0, b'w', b'h', 0, 0]);
        assert_eq!(ext_ack_reason(flags, &short), None);
        // A request length past the end, and one near usize::MAX.
        let mut past = u32::MAX.to_ne_bytes().to_vec();
        past.extend(attr(NLMSGERR_ATTR_MSG, b"why\0"));
        assert_eq!(ext_ack_reason(NLM_F_ACK_TLVS, &past), None);
    }
}
