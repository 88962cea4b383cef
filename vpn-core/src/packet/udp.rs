//! The UDP header (RFC 768): a view over bytes with checked accessors, and a `Repr`.
//!
//! ```text
//!  0      7 8     15 16    23 24    31
//! +--------+--------+--------+--------+
//! |     Source      |   Destination   |
//! |      Port       |      Port       |
//! +--------+--------+--------+--------+
//! |     Length      |    Checksum     |
//! +--------+--------+--------+--------+
//! ```
//! Once [`UdpPacket::new_checked`] (or [`UdpPacket::new_output`]) succeeded, no accessor panics.

use core::net::IpAddr;

use super::{PacketError, PROTO_UDP};

/// Byte ranges of the UDP header fields.
pub mod field {
    use core::ops::{Range, RangeFrom};
    /// Source port.
    pub const SRC_PORT: Range<usize> = 0..2;
    /// Destination port.
    pub const DST_PORT: Range<usize> = 2..4;
    /// Length of header and payload.
    pub const LENGTH: Range<usize> = 4..6;
    /// Checksum (0: none, IPv4 only).
    pub const CHECKSUM: Range<usize> = 6..8;
    /// The payload.
    pub const PAYLOAD: RangeFrom<usize> = 8..;
}

/// Length of a UDP header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// A view of a UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wrap without checking; accessors panic on a buffer shorter than [`HEADER_LEN`]. For
    /// output buffers whose length the caller checked.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wrap after checking that the buffer holds the header and that the length field covers
    /// the header and fits in the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, PacketError> {
        let p = UdpPacket { buffer };
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
        Ok(UdpPacket { buffer })
    }

    /// Check the buffer length and the length field.
    pub fn check_len(&self) -> Result<(), PacketError> {
        let present = self.buffer.as_ref().len();
        if present < HEADER_LEN {
            return Err(PacketError::Truncated { needed: HEADER_LEN, got: present });
        }
        // RFC 768: the length counts header and data, so it is at least 8.
        let field = usize::from(self.len());
        if field < HEADER_LEN || field > present {
            return Err(PacketError::LengthMismatch { field, present });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT)
    }

    /// Length field (header and payload).
    #[allow(clippy::len_without_is_empty)] // a header field, not a container
    pub fn len(&self) -> u16 {
        self.be16(field::LENGTH)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// The payload as far as the length field says (empty if the field is out of range, which
    /// [`UdpPacket::new_checked`] rules out).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..usize::from(self.len())).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    fn set_be16(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.set_be16(field::SRC_PORT, v);
    }

    /// Set the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.set_be16(field::DST_PORT, v);
    }

    /// Set the length field.
    pub fn set_len(&mut self, v: u16) {
        self.set_be16(field::LENGTH, v);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.set_be16(field::CHECKSUM, v);
    }

    /// Compute and write the checksum over the pseudo-header of `src` and `dst` (RFC 768,
    /// RFC 8200 §8.1) and the datagram as far as the length field says (at most the buffer).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let n = usize::from(self.len()).min(data.len());
        let sum = super::pseudo_header_sum(src, dst, PROTO_UDP, n);
        let c = super::checksum(sum, &data[..n]);
        // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

/// A UDP header, as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Bytes after the header.
    pub payload_len: usize,
}

impl UdpRepr {
    /// Read the header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &UdpPacket<T>) -> Self {
        UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: usize::from(p.len()) - HEADER_LEN,
        }
    }

    /// Bytes the header occupies.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into a packet at least [`HEADER_LEN`] long, with a zero checksum (which
    /// IPv4 allows, RFC 768; fill it with [`UdpPacket::fill_checksum`] once the payload is in place).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut UdpPacket<T>) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len((HEADER_LEN + self.payload_len) as u16);
        p.set_checksum(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_checks_and_checksum() {
        let mut b = [0xeeu8; 12];
        let r = UdpRepr { src_port: 4500, dst_port: 4501, payload_len: 3 };
        r.emit(&mut UdpPacket::new_unchecked(&mut b[..]));
        assert_eq!(&b[..8], &[0x11, 0x94, 0x11, 0x95, 0, 11, 0, 0]);
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p), r);
        assert_eq!(p.payload(), &[0xee; 3]);
        assert_eq!(
            UdpPacket::new_checked(&b[..10]).err(),
            Some(PacketError::LengthMismatch { field: 11, present: 10 })
        );
        assert_eq!(UdpPacket::new_checked(&b[..7]).err(), Some(PacketError::Truncated { needed: 8, got: 7 }));
        let (s, d): (IpAddr, IpAddr) = ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap());
        let mut m = UdpPacket::new_checked(&mut b[..11]).unwrap();
        m.fill_checksum(s, d);
        // A correct checksum sums, with the pseudo-header, to zero.
        let sum = crate::packet::pseudo_header_sum(s, d, PROTO_UDP, 11);
        assert_eq!(crate::packet::checksum(sum, &b[..11]), 0);
    }
}
