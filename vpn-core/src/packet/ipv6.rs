//! The fixed IPv6 header (RFC 8200 §3): a view over bytes with checked accessors, and a `Repr`.
//!
//! ```text
//!  0                   1                   2                   3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! |                 Source Address (128 bits)                     |
//! |              Destination Address (128 bits)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Once [`Ipv6Packet::new_checked`] (or [`Ipv6Packet::new_output`]) succeeded, no accessor panics.
//! Extension headers are walked by [`super::parse_ip`], not here.

use core::net::Ipv6Addr;

use super::PacketError;

/// Byte ranges of the IPv6 header fields.
pub mod field {
    use core::ops::Range;
    /// Version (4 bits), traffic class (8 bits) and flow label (20 bits).
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    /// Length of what follows the fixed header, extension headers included.
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    /// The first extension header or the upper-layer protocol.
    pub const NXT_HDR: usize = 6;
    /// Hop limit.
    pub const HOP_LIMIT: usize = 7;
    /// Source address.
    pub const SRC_ADDR: Range<usize> = 8..24;
    /// Destination address.
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// A view of an IPv6 header (and what follows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wrap without checking; accessors panic on a buffer shorter than [`HEADER_LEN`]. For
    /// output buffers whose length the caller checked.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wrap after checking that the buffer holds the fixed header. The payload length is not
    /// checked (see [`Ipv6Packet::check_total_len`]).
    pub fn new_checked(buffer: T) -> Result<Self, PacketError> {
        let p = Ipv6Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// Wrap a buffer to write a header into, after checking only that it can hold the header
    /// ([`HEADER_LEN`] bytes); the fields are not read. Every accessor is then safe.
    pub fn new_output(buffer: T) -> Result<Self, PacketError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(PacketError::Truncated { needed: HEADER_LEN, got: len });
        }
        Ok(Ipv6Packet { buffer })
    }

    /// Check that the buffer holds the fixed header.
    pub fn check_len(&self) -> Result<(), PacketError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(PacketError::Truncated { needed: HEADER_LEN, got: len });
        }
        Ok(())
    }

    /// Header plus payload length, after checking it fits in the buffer.
    pub fn check_total_len(&self) -> Result<usize, PacketError> {
        let total = HEADER_LEN + usize::from(self.payload_len());
        let present = self.buffer.as_ref().len();
        if total > present {
            return Err(PacketError::LengthMismatch { field: total, present });
        }
        Ok(total)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn addr(&self, r: core::ops::Range<usize>) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[r]);
        Ipv6Addr::from(a)
    }

    /// Version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FLOW.start] >> 4
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        (b[0] << 4) | (b[1] >> 4)
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x000f_ffff
    }

    /// Payload length field.
    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PAYLOAD_LEN];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Next header of the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.addr(field::SRC_ADDR)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.addr(field::DST_ADDR)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Set version 6, traffic class and flow label (RFC 8200 §3).
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let w = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
    }

    /// Set the payload length field.
    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the next header of the fixed header.
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = v;
    }

    /// Set the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }
}

/// The fixed IPv6 header, as values (traffic class and flow label 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Bytes after the fixed header.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
}

impl Ipv6Repr {
    /// Read the header of a checked packet, checking version and payload length.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) -> Result<Self, PacketError> {
        if p.version() != 6 {
            return Err(PacketError::BadVersion(p.version()));
        }
        let total = p.check_total_len()?;
        Ok(Ipv6Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: total - HEADER_LEN,
            hop_limit: p.hop_limit(),
        })
    }

    /// Bytes the header occupies.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into a packet at least [`HEADER_LEN`] long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv6Packet<T>) {
        p.set_version_tc_flow(0, 0);
        p.set_payload_len(self.payload_len as u16);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let r = Ipv6Repr {
            src_addr: "2001:db8::1".parse().unwrap(),
            dst_addr: "2001:db8::2".parse().unwrap(),
            next_header: 50,
            payload_len: 4,
            hop_limit: 64,
        };
        let mut b = [0xffu8; 44];
        r.emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
        assert_eq!(&b[..8], &[0x60, 0, 0, 0, 0, 4, 50, 64]);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.traffic_class(), p.flow_label()), (0, 0));
        assert_eq!(Ipv6Repr::parse(&p), Ok(r));
        let q = Ipv6Packet::new_checked(&b[..43]).unwrap();
        assert_eq!(q.check_total_len(), Err(PacketError::LengthMismatch { field: 44, present: 43 }));
        assert_eq!(
            Ipv6Packet::new_checked(&b[..39]).err(),
            Some(PacketError::Truncated { needed: 40, got: 39 })
        );
        let mut m = Ipv6Packet::new_checked(&mut b[..]).unwrap();
        m.set_version_tc_flow(0xab, 0x12345);
        assert_eq!((m.version(), m.traffic_class(), m.flow_label()), (6, 0xab, 0x12345));
    }
}
