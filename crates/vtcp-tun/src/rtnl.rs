//! Routing netlink requests (Linux): a device's addresses, link state,
//! queue length and routes set as `ip addr add`, `ip link set` and `ip
//! route add` set them, without running `ip`. One NETLINK_ROUTE socket,
//! one request at a time, each acknowledged by the kernel (an error
//! carries the kernel's errno).
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
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
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
        Ok(Self {
            socket,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// The index of the interface of this name (RTM_GETLINK by
    /// IFLA_IFNAME); ENODEV when there is none.
    pub(crate) fn index(&mut self, name: &str) -> io::Result<u32> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let answers = self.request(RouteNetlinkMessage::GetLink(msg), 0)?;
        answers
            .iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(link.header.index),
                _ => None,
            })
            .ok_or_else(|| io::Error::from_raw_os_error(nix::libc::ENODEV))
    }

    /// Adds `addr/prefix` to the interface (RTM_NEWADDR, as `ip addr
    /// add`: IFA_LOCAL and IFA_ADDRESS both the address, no peer). An
    /// IPv6 address gets IFA_F_NODAD (`nodad`): the device has no other
    /// host on its link, and duplicate address detection would only hold
    /// the address back (RFC 4862 §5.4) for a second.
    pub(crate) fn add_address(&mut self, index: u32, addr: IpAddr, prefix: u8) -> io::Result<()> {
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
    pub(crate) fn set_up(&mut self, index: u32, txqueuelen: Option<u32>) -> io::Result<()> {
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
    pub(crate) fn add_route(&mut self, index: u32, dst: IpAddr, prefix: u8) -> io::Result<()> {
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
    /// before it (a GET's answer), or the kernel's error as an
    /// `io::Error` of its errno. An answer that does not decode is
    /// `InvalidData`.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
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
                    ));
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
                            Some(_) => Err(e.to_io()),
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

/// The address family of an address.
fn family(addr: IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}
