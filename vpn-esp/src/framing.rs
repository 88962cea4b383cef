//! Outer headers: what surrounds the ESP packet on the wire.
//!
//! With [`Framing::Esp`] the caller's socket supplies IP (and UDP) and the buffer holds ESP
//! alone; with [`Framing::Ip`] the buffer holds whole IP packets, with a UDP header when the SA
//! is UDP-encapsulated (RFC 3948).

use core::net::IpAddr;
use core::ops::Range;

use vpn_core::packet::{
    self, IpInfo, IPV4_HEADER_LEN, IPV6_HEADER_LEN, PROTO_ESP, PROTO_UDP, UDP_HEADER_LEN,
};

use crate::error::DropReason;
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
/// The payload must already be in place (IPv6 UDP needs its checksum).
pub(crate) fn write_outer(
    buf: &mut [u8],
    at: usize,
    src: IpAddr,
    dst: IpAddr,
    udp: Option<UdpEncap>,
    payload_len: usize,
) {
    let ip_len = ip_header_len(src);
    let udp_len = if udp.is_some() { UDP_HEADER_LEN } else { 0 };
    let protocol = if udp.is_some() { PROTO_UDP } else { PROTO_ESP };
    let total = ip_len + udp_len + payload_len;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let h = &mut buf[at..at + IPV4_HEADER_LEN];
            // Version 4, IHL 5, DF set, TTL 64 (RFC 791 §3.1).
            h[..12].copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, protocol, 0, 0]);
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            let c = packet::checksum(0, h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
        }
        _ => {
            let (s, d) = (v6(src), v6(dst));
            let h = &mut buf[at..at + IPV6_HEADER_LEN];
            h[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 0, protocol, 64]);
            h[4..6].copy_from_slice(&((total - IPV6_HEADER_LEN) as u16).to_be_bytes());
            h[8..24].copy_from_slice(&s);
            h[24..40].copy_from_slice(&d);
        }
    }
    if let Some(u) = udp {
        let uat = at + ip_len;
        let ulen = (UDP_HEADER_LEN + payload_len) as u16;
        let uh = &mut buf[uat..uat + UDP_HEADER_LEN];
        uh[0..2].copy_from_slice(&u.local_port.to_be_bytes());
        uh[2..4].copy_from_slice(&u.remote_port.to_be_bytes());
        uh[4..6].copy_from_slice(&ulen.to_be_bytes());
        uh[6..8].copy_from_slice(&[0, 0]);
        if src.is_ipv6() {
            // IPv6 UDP needs a checksum (RFC 8200 §8.1); IPv4 may send zero (RFC 3948 §2.1).
            let sum = packet::pseudo_header_sum(src, dst, PROTO_UDP, usize::from(ulen));
            let c = packet::checksum(sum, &buf[uat..uat + usize::from(ulen)]);
            let c = if c == 0 { 0xffff } else { c };
            buf[uat + 6..uat + 8].copy_from_slice(&c.to_be_bytes());
        }
    }
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
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
                    if u.len() < UDP_HEADER_LEN {
                        return Err(DropReason::BadOuterHeader);
                    }
                    let ulen = usize::from(u16::from_be_bytes([u[4], u[5]]));
                    if ulen < UDP_HEADER_LEN || ulen > u.len() {
                        return Err(DropReason::BadOuterHeader);
                    }
                    let esp = start + UDP_HEADER_LEN..start + ulen;
                    // RFC 3948 §2.2: a non-ESP marker (IKE) or a keepalive is not ESP.
                    match crate::udp::classify(&buf[esp.clone()]) {
                        crate::udp::UdpPayload::Esp => Ok(Outer { esp, ip: Some((range.start, info)) }),
                        _ => Err(DropReason::NotEsp),
                    }
                }
                _ => Err(DropReason::NotEsp),
            }
        }
    }
}
