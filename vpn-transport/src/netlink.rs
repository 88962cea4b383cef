//! Talking rtnetlink to the kernel: the few link, address and route requests the TUN device
//! needs, each on a socket of its own, answered (acknowledged or refused) before it returns.
//!
//! The messages are built from `netlink-packet-route`'s types and sent over `netlink-sys`'s
//! blocking socket, so no async runtime is involved. The socket belongs to the network
//! namespace of the calling thread.
#![forbid(unsafe_code)]

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// The one sequence number: every request has a socket of its own.
const SEQ: u32 = 1;

/// Send `msg` with `flags` (besides `NLM_F_REQUEST | NLM_F_ACK`) and collect the kernel's
/// answers to it until the acknowledgement; a refusal is the kernel's errno as an `io::Error`.
fn request(msg: RouteNetlinkMessage, flags: u16) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;

    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    header.sequence_number = SEQ;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket.send(&buf, 0)?;

    let mut answers = Vec::new();
    loop {
        let (datagram, _) = socket.recv_from_full()?;
        let mut rest = &datagram[..];
        while !rest.is_empty() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("netlink answer: {e}")))?;
            // Messages are padded to 4 bytes; the last one in a datagram may not be.
            let len = (reply.header.length as usize).next_multiple_of(4).min(rest.len());
            if len == 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "netlink answer of length 0"));
            }
            rest = &rest[len..];
            if reply.header.sequence_number != SEQ {
                continue;
            }
            match reply.payload {
                NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => return Ok(answers),
                NetlinkPayload::InnerMessage(m) => answers.push(m),
                _ => {}
            }
        }
    }
}

/// The index of the interface `name`.
pub(crate) fn link_index(name: &str) -> io::Result<u32> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    request(RouteNetlinkMessage::GetLink(msg), 0)?
        .into_iter()
        .find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
            _ => None,
        })
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no link in the kernel's answer"))
}

/// A change to a link's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LinkChange {
    Mtu(u32),
    TxQueueLen(u32),
    Up,
}

/// Apply `change` to the link with index `index` (`ip link set`).
pub(crate) fn set_link(index: u32, change: LinkChange) -> io::Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    match change {
        LinkChange::Mtu(mtu) => msg.attributes.push(LinkAttribute::Mtu(mtu)),
        LinkChange::TxQueueLen(len) => msg.attributes.push(LinkAttribute::TxQueueLen(len)),
        LinkChange::Up => {
            msg.header.flags = LinkFlags::Up;
            msg.header.change_mask = LinkFlags::Up;
        }
    }
    request(RouteNetlinkMessage::SetLink(msg), 0).map(drop)
}

fn family(addr: IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// Add `addr/prefix_len` to the link (`ip addr add`): refused with `EEXIST` if it is there.
pub(crate) fn add_address(index: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
    let mut msg = AddressMessage::default();
    msg.header.family = family(addr);
    msg.header.prefix_len = prefix_len;
    msg.header.index = index;
    // As `ip` does: the local address, and the same as the (peer) address of the prefix.
    msg.attributes.push(AddressAttribute::Local(addr));
    msg.attributes.push(AddressAttribute::Address(addr));
    request(RouteNetlinkMessage::NewAddress(msg), NLM_F_CREATE | NLM_F_EXCL).map(drop)
}

fn route_message(index: u32, dest: IpAddr, prefix_len: u8) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = family(dest);
    msg.header.destination_prefix_length = prefix_len;
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    msg.attributes.push(RouteAttribute::Destination(RouteAddress::from(dest)));
    msg.attributes.push(RouteAttribute::Oif(index));
    msg
}

/// Route `dest/prefix_len` into the link, from `src` if given, replacing a route to the same
/// prefix in the main table (`ip route replace DEST dev DEV [src SRC]`).
pub(crate) fn replace_route(index: u32, dest: IpAddr, prefix_len: u8, src: Option<IpAddr>) -> io::Result<()> {
    if src.is_some_and(|s| s.is_ipv4() != dest.is_ipv4()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the source address is not of the destination's family",
        ));
    }
    let mut msg = route_message(index, dest, prefix_len);
    // The defaults `ip` gives a route without a gateway.
    msg.header.protocol = RouteProtocol::Boot;
    msg.header.kind = RouteType::Unicast;
    msg.header.scope = if dest.is_ipv4() { RouteScope::Link } else { RouteScope::Universe };
    if let Some(src) = src {
        msg.attributes.push(RouteAttribute::PrefSource(RouteAddress::from(src)));
    }
    request(RouteNetlinkMessage::NewRoute(msg), NLM_F_CREATE | NLM_F_REPLACE).map(drop)
}

/// Remove the route to `dest/prefix_len` through the link (`ip route del DEST dev DEV`):
/// refused with `ESRCH` if there is none.
pub(crate) fn delete_route(index: u32, dest: IpAddr, prefix_len: u8) -> io::Result<()> {
    let mut msg = route_message(index, dest, prefix_len);
    // Any scope, type and protocol match.
    msg.header.scope = RouteScope::NoWhere;
    request(RouteNetlinkMessage::DelRoute(msg), 0).map(drop)
}
