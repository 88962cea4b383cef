//! The little IPv4/IPv6 parsing both IKE and ESP need: header lengths, the upper-layer protocol,
//! and the 5-tuple that traffic selectors match (RFC 4301 §4.4.1.1).
//!
//! Every length is checked before it is used; nothing here panics on any input.
//!
//! The header views ([`Ipv4Packet`], [`Ipv6Packet`], [`UdpPacket`]) and their `Repr`s live in
//! [`ipv4`], [`ipv6`] and [`udp`].

use core::net::{IpAddr, Ipv6Addr};

pub mod ipv4;
pub mod ipv6;
pub mod udp;

pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Packet, Ipv6Repr};
pub use udp::{UdpPacket, UdpRepr};

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ESP (RFC 4303).
pub const PROTO_ESP: u8 = 50;
/// IP protocol number of AH.
pub const PROTO_AH: u8 = 51;
/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// "IP-in-IP": the next header of a tunnelled IPv4 packet.
pub const PROTO_IPV4: u8 = 4;
/// The next header of a tunnelled IPv6 packet.
pub const PROTO_IPV6: u8 = 41;
/// IPv6 "no next header"; in ESP, a dummy packet (RFC 4303 §2.6).
pub const PROTO_NONE: u8 = 59;
/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = ipv4::HEADER_LEN;
/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = ipv6::HEADER_LEN;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = udp::HEADER_LEN;

/// Why bytes are not an acceptable IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// Fewer bytes than a header needs.
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The version nibble is neither 4 nor 6.
    #[error("IP version {0} is neither 4 nor 6")]
    BadVersion(u8),
    /// The IPv4 IHL is below 5 or beyond the packet.
    #[error("IPv4 header length {0} is invalid")]
    BadHeaderLength(usize),
    /// The total/payload length field disagrees with the bytes present.
    #[error("length field says {field} bytes, {present} present")]
    LengthMismatch {
        /// What the header says.
        field: usize,
        /// What is there.
        present: usize,
    },
    /// An IPv6 extension-header chain is longer than we walk.
    #[error("too many IPv6 extension headers")]
    TooManyExtensionHeaders,
}

/// What a parsed IP header says: addresses, lengths and the upper-layer protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    /// 4 or 6.
    pub version: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Bytes before the upper-layer header (IPv4 header with options, or the IPv6 header with
    /// all its extension headers).
    pub header_len: usize,
    /// Length of the packet according to its header (may be less than the bytes present).
    pub total_len: usize,
    /// The upper-layer protocol number.
    pub protocol: u8,
    /// Offset of the byte holding `protocol` (IPv4 protocol field or the last next-header field).
    pub protocol_offset: usize,
    /// True for a fragment that is not the first: it carries no upper-layer header.
    pub non_initial_fragment: bool,
}

/// The fields traffic selectors match on (RFC 4301 §4.4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FiveTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// (source, destination) ports; for ICMP both are type<<8|code (RFC 7296 §3.13.1);
    /// `None` where the packet carries no ports (non-initial fragment, other protocols, or a
    /// header cut short).
    pub ports: Option<(u16, u16)>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// The length the IP header at the start of `packet` gives the packet, after checking the version,
/// the IPv4 header length and that the packet holds that many bytes; no addresses are read.
/// The cheap check for paths that need only the length (an inner packet with no selectors).
#[inline]
pub fn packet_len(packet: &[u8]) -> Result<usize, PacketError> {
    let first = *packet.first().ok_or(PacketError::Truncated { needed: 1, got: 0 })?;
    match first >> 4 {
        // RFC 791 §3.1: IHL and total length; RFC 8200 §3: payload length after the fixed header.
        4 => Ipv4Packet::new_checked(packet)?.check_total_len(),
        6 => Ipv6Packet::new_checked(packet)?.check_total_len(),
        v => Err(PacketError::BadVersion(v)),
    }
}

/// Parse the IP header at the start of `packet`, checking every length.
pub fn parse_ip(packet: &[u8]) -> Result<IpInfo, PacketError> {
    let first = *packet.first().ok_or(PacketError::Truncated { needed: 1, got: 0 })?;
    match first >> 4 {
        4 => parse_ipv4(packet),
        6 => parse_ipv6(packet),
        v => Err(PacketError::BadVersion(v)),
    }
}

fn parse_ipv4(p: &[u8]) -> Result<IpInfo, PacketError> {
    let h = Ipv4Packet::new_checked(p)?;
    let total_len = h.check_total_len()?;
    Ok(IpInfo {
        version: 4,
        src: IpAddr::V4(h.src_addr()),
        dst: IpAddr::V4(h.dst_addr()),
        header_len: h.header_len(),
        total_len,
        protocol: h.protocol(),
        protocol_offset: ipv4::field::PROTOCOL,
        // RFC 791 §3.1: a non-zero offset means a fragment other than the first.
        non_initial_fragment: h.frag_offset() != 0,
    })
}

fn parse_ipv6(p: &[u8]) -> Result<IpInfo, PacketError> {
    let h = Ipv6Packet::new_checked(p)?;
    let total_len = h.check_total_len()?;
    let (src, dst) = (IpAddr::V6(h.src_addr()), IpAddr::V6(h.dst_addr()));
    let mut next = h.next_header();
    let mut next_offset = ipv6::field::NXT_HDR;
    let mut off = IPV6_HEADER_LEN;
    let mut non_initial_fragment = false;
    // Walk the extension headers (RFC 8200 §4) up to the upper-layer header.
    for _ in 0..8 {
        let ext_len = match next {
            0 | 43 | 60 => {
                let l = p.get(off + 1).ok_or(PacketError::Truncated { needed: off + 2, got: p.len() })?;
                (usize::from(*l) + 1) * 8
            }
            44 => {
                let fo = be16(p, off + 2).ok_or(PacketError::Truncated { needed: off + 4, got: p.len() })?;
                non_initial_fragment = fo & 0xfff8 != 0;
                8
            }
            PROTO_AH => {
                let l = p.get(off + 1).ok_or(PacketError::Truncated { needed: off + 2, got: p.len() })?;
                (usize::from(*l) + 2) * 4
            }
            _ => {
                return Ok(IpInfo {
                    version: 6,
                    src,
                    dst,
                    header_len: off,
                    total_len,
                    protocol: next,
                    protocol_offset: next_offset,
                    non_initial_fragment,
                });
            }
        };
        if off + ext_len > total_len {
            return Err(PacketError::Truncated { needed: off + ext_len, got: total_len });
        }
        // RFC 8200 §4: every extension header starts with the next header; `off < total_len` here.
        next = *p.get(off).ok_or(PacketError::Truncated { needed: off + 1, got: p.len() })?;
        next_offset = off;
        off += ext_len;
        if non_initial_fragment {
            // The rest is fragment data, not headers.
            return Ok(IpInfo {
                version: 6,
                src,
                dst,
                header_len: off,
                total_len,
                protocol: next,
                protocol_offset: next_offset,
                non_initial_fragment,
            });
        }
    }
    Err(PacketError::TooManyExtensionHeaders)
}

impl IpInfo {
    /// The 5-tuple of the packet `p` whose header this is.
    pub fn five_tuple(&self, p: &[u8]) -> FiveTuple {
        let l4 = p.get(self.header_len..self.total_len).unwrap_or(&[]);
        let ports = if self.non_initial_fragment { None } else { upper_layer_ports(self.protocol, l4) };
        FiveTuple { src: self.src, dst: self.dst, protocol: self.protocol, ports }
    }
}

/// The (source, destination) ports of an upper-layer header `l4` of protocol `protocol`; for
/// ICMP and ICMPv6 both are type<<8|code (RFC 7296 §3.13.1). `None` for protocols without ports
/// or a header too short to hold them.
pub fn upper_layer_ports(protocol: u8, l4: &[u8]) -> Option<(u16, u16)> {
    match protocol {
        PROTO_TCP | PROTO_UDP | 132 | 136 => Some((be16(l4, 0)?, be16(l4, 2)?)),
        PROTO_ICMP | PROTO_ICMPV6 => be16(l4, 0).map(|tc| (tc, tc)),
        _ => None,
    }
}

/// Parse `packet` and return its 5-tuple.
pub fn five_tuple(packet: &[u8]) -> Result<FiveTuple, PacketError> {
    parse_ip(packet).map(|info| info.five_tuple(packet))
}

/// The Internet checksum (RFC 1071) of `data`, starting from partial sum `initial`.
pub fn checksum(initial: u32, data: &[u8]) -> u16 {
    let mut sum = initial;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The partial sum of a pseudo-header (RFC 768 / RFC 8200 §8.1) for checksums of TCP/UDP.
pub fn pseudo_header_sum(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> u32 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks_exact(2) {
            sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        }
    };
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&s.octets());
            add(&d.octets());
        }
        (s, d) => {
            add(&to_v6(s).octets());
            add(&to_v6(d).octets());
        }
    }
    let len = len as u32;
    sum.wrapping_add(u32::from(protocol)).wrapping_add(len >> 16).wrapping_add(len & 0xffff)
}

fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn ipv4_udp() -> [u8; 28] {
        let mut p = [0u8; 28];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&28u16.to_be_bytes());
        p[8] = 64;
        p[9] = PROTO_UDP;
        p[12..16].copy_from_slice(&[10, 1, 0, 1]);
        p[16..20].copy_from_slice(&[10, 2, 0, 1]);
        p[20..22].copy_from_slice(&1234u16.to_be_bytes());
        p[22..24].copy_from_slice(&53u16.to_be_bytes());
        p
    }

    #[test]
    fn ipv4_five_tuple() {
        let p = ipv4_udp();
        let t = five_tuple(&p).unwrap();
        assert_eq!(t.src, IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)));
        assert_eq!(t.protocol, PROTO_UDP);
        assert_eq!(t.ports, Some((1234, 53)));
    }

    #[test]
    fn ipv4_rejects_bad_lengths() {
        let mut p = ipv4_udp();
        p[2..4].copy_from_slice(&29u16.to_be_bytes());
        assert_eq!(parse_ip(&p), Err(PacketError::LengthMismatch { field: 29, present: 28 }));
        p[0] = 0x44;
        assert_eq!(parse_ip(&p), Err(PacketError::BadHeaderLength(16)));
        assert!(matches!(parse_ip(&p[..10]), Err(PacketError::Truncated { .. })));
        assert_eq!(parse_ip(&[]), Err(PacketError::Truncated { needed: 1, got: 0 }));
        assert_eq!(parse_ip(&[0x50]), Err(PacketError::BadVersion(5)));
    }

    #[test]
    fn ipv6_walks_extension_headers() {
        let mut p = [0u8; 40 + 8 + 8];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&16u16.to_be_bytes());
        p[6] = 0; // hop-by-hop
        p[40] = PROTO_ICMPV6;
        p[41] = 0;
        p[48] = 128; // echo request
        let info = parse_ip(&p).unwrap();
        assert_eq!(info.header_len, 48);
        assert_eq!(info.protocol, PROTO_ICMPV6);
        assert_eq!(info.protocol_offset, 40);
        assert_eq!(info.five_tuple(&p).ports, Some((128 << 8, 128 << 8)));
        // An extension header running past the payload is refused.
        p[41] = 5;
        assert!(matches!(parse_ip(&p), Err(PacketError::Truncated { .. })));
    }

    #[test]
    fn packet_len_agrees_with_parse_ip() {
        let p = ipv4_udp();
        assert_eq!(packet_len(&p), Ok(28));
        assert_eq!(packet_len(&p[..27]), Err(PacketError::LengthMismatch { field: 28, present: 27 }));
        let mut q = p;
        q[0] = 0x46;
        assert_eq!(packet_len(&q), Ok(28)); // a 24-byte header with options still fits
        q[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert!(packet_len(&q).is_err());
        assert_eq!(packet_len(&[0x60; 10]), Err(PacketError::Truncated { needed: 40, got: 10 }));
        assert_eq!(packet_len(&[0x70]), Err(PacketError::BadVersion(7)));
        // Every prefix of every length: same verdict as the full parser.
        for n in 0..=p.len() {
            assert_eq!(packet_len(&p[..n]).is_ok(), parse_ip(&p[..n]).is_ok(), "prefix {n}");
        }
    }

    #[test]
    fn checksum_of_known_header() {
        // RFC 1071 style example header with its checksum zeroed, from a captured packet.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
            0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(0, &h), 0xb861);
    }
}
