//! Outer headers: what surrounds the ESP packet on the wire.
//!
//! With [`Framing::Esp`] the caller's socket supplies IP (and UDP) and the buffer holds ESP
//! alone; with [`Framing::Ip`] the buffer holds whole IP packets, with a UDP header when the SA
//! is UDP-encapsulated (RFC 3948).

use core::net::{IpAddr, Ipv6Addr};
use core::ops::Range;

use vpn_core::packet::{
    self, IpInfo, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, UdpPacket, UdpRepr, IPV4_HEADER_LEN,
    IPV6_HEADER_LEN, PROTO_ESP, PROTO_UDP, UDP_HEADER_LEN,
};

use crate::error::{DropReason, EncapError};
use crate::sa::UdpEncap;

/// What the packet buffer holds around ESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// ESP only (SPI first): UDP sockets, or raw sockets that add the IP header.
    Esp,
    /// Whole IP packets: outer IP header, UDP header if encapsulated, then ESP.
    Ip,
}

/// Length of the IP header for `addr`'s family.
pub(crate) fn ip_header_len(addr: IpAddr) -> usize {
    if addr.is_ipv4() {
        IPV4_HEADER_LEN
    } else {
        IPV6_HEADER_LEN
    }
}

/// Write an outer IP header (and UDP header) at `buf[at..]` for `payload_len` bytes that follow.
/// The payload must already be in place (IPv6 UDP needs its checksum). Fails, writing nothing,
/// only if the buffer cannot hold headers and payload.
pub(crate) fn write_outer(
    buf: &mut [u8],
    at: usize,
    src: IpAddr,
    dst: IpAddr,
    udp: Option<UdpEncap>,
    payload_len: usize,
) -> Result<(), EncapError> {
    let ip_len = ip_header_len(src);
    let udp_len = if udp.is_some() { UDP_HEADER_LEN } else { 0 };
    let protocol = if udp.is_some() { PROTO_UDP } else { PROTO_ESP };
    let pkt = buf.get_mut(at..at + ip_len + udp_len + payload_len).ok_or(EncapError::BadRange)?;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            // Version 4, IHL 5, DF set, TTL 64 (RFC 791 §3.1).
            let repr =
                Ipv4Repr { src_addr: s, dst_addr: d, protocol, payload_len: udp_len + payload_len, ttl: 64 };
            repr.emit(&mut Ipv4Packet::new_output(&mut *pkt).map_err(EncapError::BadPacket)?);
        }
        _ => {
            // Version 6, no traffic class or flow label, hop limit 64 (RFC 8200 §3).
            let repr = Ipv6Repr {
                src_addr: v6(src),
                dst_addr: v6(dst),
                next_header: protocol,
                payload_len: udp_len + payload_len,
                hop_limit: 64,
            };
            repr.emit(&mut Ipv6Packet::new_output(&mut *pkt).map_err(EncapError::BadPacket)?);
        }
    }
    if let Some(u) = udp {
        let dgram = pkt.get_mut(ip_len..).ok_or(EncapError::BadRange)?;
        // RFC 3948 §2.1: source and destination ports of the NAT-T socket pair.
        let mut uh = UdpPacket::new_output(dgram).map_err(EncapError::BadPacket)?;
        UdpRepr { src_port: u.local_port, dst_port: u.remote_port, payload_len }.emit(&mut uh);
        if src.is_ipv6() {
            // IPv6 UDP needs a checksum (RFC 8200 §8.1); IPv4 may send zero (RFC 3948 §2.1).
            uh.fill_checksum(src, dst);
        }
    }
    Ok(())
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Where ESP sits in a received buffer, and what surrounded it.
#[derive(Debug, Clone)]
pub(crate) struct Outer {
    /// The ESP packet (SPI first).
    pub(crate) esp: Range<usize>,
    /// The outer IP header as parsed ([`Framing::Ip`] only).
    pub(crate) ip: Option<(usize, IpInfo)>,
}

/// Find the ESP packet in `buf[range]` according to `framing`.
#[inline]
pub(crate) fn parse_outer(buf: &[u8], range: Range<usize>, framing: Framing) -> Result<Outer, DropReason> {
    let pkt = buf.get(range.clone()).ok_or(DropReason::Truncated)?;
    match framing {
        Framing::Esp => Ok(Outer { esp: range, ip: None }),
        Framing::Ip => {
            let info = packet::parse_ip(pkt).map_err(|_| DropReason::BadOuterHeader)?;
            if info.non_initial_fragment {
                return Err(DropReason::NotEsp);
            }
            let start = range.start + info.header_len;
            let end = range.start + info.total_len;
            match info.protocol {
                PROTO_ESP => Ok(Outer { esp: start..end, ip: Some((range.start, info)) }),
                PROTO_UDP => {
                    let u = buf.get(start..end).ok_or(DropReason::BadOuterHeader)?;
                    // RFC 768: the UDP length covers header and data and fits in the IP payload.
                    let u = UdpPacket::new_checked(u).map_err(|_| DropReason::BadOuterHeader)?;
                    let esp = start + UDP_HEADER_LEN..start + usize::from(u.len());
                    // RFC 3948 §2.2: a non-ESP marker (IKE) or a keepalive is not ESP.
                    match crate::udp::classify(u.payload()) {
                        crate::udp::UdpPayload::Esp => Ok(Outer { esp, ip: Some((range.start, info)) }),
                        _ => Err(DropReason::NotEsp),
                    }
                }
                _ => Err(DropReason::NotEsp),
            }
        }
    }
}
