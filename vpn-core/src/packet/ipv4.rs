//! The IPv4 header (RFC 791 §3.1): a view over bytes with checked accessors, and a `Repr`.
//!
//! ```text
//!  0                   1                   2                   3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! |         Identification        |Flags|      Fragment Offset    |
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! |                       Source Address                          |
//! |                    Destination Address                        |
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Once [`Ipv4Packet::new_checked`] (or [`Ipv4Packet::new_output`]) succeeded, no accessor panics.

use core::net::Ipv4Addr;

use super::PacketError;

/// Byte ranges of the IPv4 header fields.
pub mod field {
    use core::ops::Range;
    /// Version (high nibble) and IHL in 32-bit words (low nibble).
    pub const VER_IHL: usize = 0;
    /// DSCP and ECN (formerly type of service).
    pub const DSCP_ECN: usize = 1;
    /// Total length of the packet, header included.
    pub const LENGTH: Range<usize> = 2..4;
    /// Identification.
    pub const IDENT: Range<usize> = 4..6;
    /// Flags (3 bits) and fragment offset (13 bits, in 8-byte units).
    pub const FLG_OFF: Range<usize> = 6..8;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Upper-layer protocol.
    pub const PROTOCOL: usize = 9;
    /// Header checksum.
    pub const CHECKSUM: Range<usize> = 10..12;
    /// Source address.
    pub const SRC_ADDR: Range<usize> = 12..16;
    /// Destination address.
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// RFC 791 §3.1: the "don't fragment" flag in the flags/offset field.
const FLAG_DF: u16 = 0x4000;
/// RFC 791 §3.1: the "more fragments" flag.
const FLAG_MF: u16 = 0x2000;
/// RFC 791 §3.1: the 13-bit fragment offset.
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 header (and what follows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap without checking; accessors panic on a buffer shorter than [`HEADER_LEN`]. For
    /// output buffers whose length the caller checked.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wrap after checking that the buffer holds the fixed header and that the IHL is valid
    /// and within the buffer. The total length is not checked (see [`Ipv4Packet::check_total_len`]).
    pub fn new_checked(buffer: T) -> Result<Self, PacketError> {
        let p = Ipv4Packet { buffer };
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
        Ok(Ipv4Packet { buffer })
    }

    /// Check the buffer length and the IHL.
    pub fn check_len(&self) -> Result<(), PacketError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(PacketError::Truncated { needed: HEADER_LEN, got: len });
        }
        // RFC 791 §3.1: IHL counts 32-bit words, at least 5.
        let ihl = self.header_len();
        if ihl < HEADER_LEN || ihl > len {
            return Err(PacketError::BadHeaderLength(ihl));
        }
        Ok(())
    }

    /// The total length field, after checking it covers the header and fits in the buffer.
    pub fn check_total_len(&self) -> Result<usize, PacketError> {
        let total = usize::from(self.total_len());
        let present = self.buffer.as_ref().len();
        if total < self.header_len() || total > present {
            return Err(PacketError::LengthMismatch { field: total, present });
        }
        Ok(total)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL times 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// DSCP and ECN byte.
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    /// Total length field.
    pub fn total_len(&self) -> u16 {
        self.be16(field::LENGTH)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        self.be16(field::IDENT)
    }

    /// The "don't fragment" flag.
    pub fn dont_frag(&self) -> bool {
        self.be16(field::FLG_OFF) & FLAG_DF != 0
    }

    /// The "more fragments" flag.
    pub fn more_frags(&self) -> bool {
        self.be16(field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in 8-byte units; non-zero for a fragment that is not the first.
    pub fn frag_offset(&self) -> u16 {
        self.be16(field::FLG_OFF) & FRAG_OFFSET_MASK
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Upper-layer protocol.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum.
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The header with its options (as far as the buffer goes, for an output view whose IHL is
    /// not yet written).
    pub fn header(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..self.header_len().min(b.len())]
    }

    /// True if the header checksum is correct (RFC 791 §3.1, RFC 1071).
    pub fn verify_checksum(&self) -> bool {
        super::checksum(0, self.header()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn set_be16(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }

    /// Set version 4 and the header length in bytes (a multiple of 4, 20 to 60).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Set the DSCP and ECN byte.
    pub fn set_dscp_ecn(&mut self, v: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = v;
    }

    /// Set the total length field.
    pub fn set_total_len(&mut self, v: u16) {
        self.set_be16(field::LENGTH, v);
    }

    /// Set the identification.
    pub fn set_ident(&mut self, v: u16) {
        self.set_be16(field::IDENT, v);
    }

    /// Set flags and fragment offset: `dont_frag`, not more fragments, offset 0.
    pub fn set_unfragmented(&mut self, dont_frag: bool) {
        self.set_be16(field::FLG_OFF, if dont_frag { FLAG_DF } else { 0 });
    }

    /// Set the time to live.
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Set the upper-layer protocol.
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }

    /// Set the header checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.set_be16(field::CHECKSUM, v);
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    /// Compute and write the header checksum over the header and its options (RFC 791 §3.1).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = super::checksum(0, self.header());
        self.set_checksum(c);
    }
}

/// An IPv4 header without options, as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// Bytes after the header.
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
}

impl Ipv4Repr {
    /// Read the header of a checked packet, checking version and total length.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Result<Self, PacketError> {
        if p.version() != 4 {
            return Err(PacketError::BadVersion(p.version()));
        }
        let total = p.check_total_len()?;
        Ok(Ipv4Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: total - p.header_len(),
            ttl: p.ttl(),
        })
    }

    /// Bytes the header occupies.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header, checksum included, into a packet at least [`HEADER_LEN`] long:
    /// no options, DSCP/ECN 0, identification 0, DF set (RFC 791 §3.1).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv4Packet<T>) {
        p.set_version_and_header_len(HEADER_LEN);
        p.set_dscp_ecn(0);
        p.set_total_len((HEADER_LEN + self.payload_len) as u16);
        p.set_ident(0);
        p.set_unfragmented(true);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The captured header of packet.rs's checksum test, checksum filled in.
    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0,
        0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn reads_fields() {
        let mut b = [0u8; 0x73];
        b[..20].copy_from_slice(&HDR);
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.header_len(), p.total_len()), (4, 20, 0x73));
        assert!(p.dont_frag() && !p.more_frags());
        assert_eq!((p.frag_offset(), p.ttl(), p.protocol(), p.checksum()), (0, 64, 17, 0xb861));
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert!(p.verify_checksum());
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 0x73 - 20);
    }

    #[test]
    fn emit_matches_capture() {
        let r = Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 0, 1),
            dst_addr: Ipv4Addr::new(192, 168, 0, 199),
            protocol: 17,
            payload_len: 0x73 - 20,
            ttl: 64,
        };
        let mut out = [0xffu8; 20];
        r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, HDR);
    }

    #[test]
    fn checks_lengths() {
        assert_eq!(
            Ipv4Packet::new_checked(&HDR[..19]).err(),
            Some(PacketError::Truncated { needed: 20, got: 19 })
        );
        let mut h = HDR;
        h[0] = 0x44;
        assert_eq!(Ipv4Packet::new_checked(&h[..]).err(), Some(PacketError::BadHeaderLength(16)));
        h[0] = 0x46;
        assert_eq!(Ipv4Packet::new_checked(&h[..]).err(), Some(PacketError::BadHeaderLength(24)));
        let p = Ipv4Packet::new_checked(&HDR[..]).unwrap();
        assert_eq!(p.check_total_len(), Err(PacketError::LengthMismatch { field: 0x73, present: 20 }));
    }
}
