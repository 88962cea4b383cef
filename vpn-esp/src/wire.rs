//! The ESP packet format (RFC 4303 §2): a view over bytes with checked accessors, and a `Repr`.
//!
//! ```text
//!  0                   1                   2                   3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Security Parameters Index (SPI)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Sequence Number                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    IV, Payload Data, Padding ...              |
//! |               ... Pad Length, Next Header, ICV                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Once [`EspPacket::new_checked`] succeeded, no accessor panics.

use core::fmt;

/// Byte ranges of the ESP header fields.
pub mod field {
    use core::ops::{Range, RangeFrom};
    /// Security Parameters Index.
    pub const SPI: Range<usize> = 0..4;
    /// Sequence number (low 32 bits with ESN).
    pub const SEQ: Range<usize> = 4..8;
    /// IV, encrypted payload, trailer and ICV.
    pub const PAYLOAD: RangeFrom<usize> = 8..;
}

/// Length of the ESP header (SPI and sequence number).
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// The SPI at the start of `packet` (RFC 4303 §2.1), if it holds the four SPI bytes: the SAD
/// looks the SA up by SPI before the SA checks the rest of the packet.
#[inline]
pub fn spi_of(packet: &[u8]) -> Option<u32> {
    let b: [u8; 4] = packet.get(field::SPI)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// The buffer is shorter than an ESP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ESP packet of {0} bytes is shorter than its 8-byte header")]
pub struct Truncated(pub usize);

/// A view of an ESP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EspPacket<T> {
    /// Wrap without checking; accessors may panic on a short buffer. For output buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        EspPacket { buffer }
    }

    /// Wrap after checking the length.
    pub fn new_checked(buffer: T) -> Result<Self, Truncated> {
        let p = EspPacket { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// Check that the buffer holds the header.
    pub fn check_len(&self) -> Result<(), Truncated> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(Truncated(len))
        } else {
            Ok(())
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// SPI.
    pub fn spi(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::SPI];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Sequence number (low 32 bits).
    pub fn seq(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::SEQ];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// IV, ciphertext, trailer and ICV.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EspPacket<T> {
    /// Set the SPI.
    pub fn set_spi(&mut self, spi: u32) {
        self.buffer.as_mut()[field::SPI].copy_from_slice(&spi.to_be_bytes());
    }

    /// Set the sequence number (low 32 bits).
    pub fn set_seq(&mut self, seq: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.to_be_bytes());
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// The ESP header as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EspRepr {
    /// SPI.
    pub spi: u32,
    /// Sequence number (low 32 bits).
    pub seq: u32,
}

impl EspRepr {
    /// Read the header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &EspPacket<T>) -> Self {
        EspRepr { spi: p.spi(), seq: p.seq() }
    }

    /// Bytes the header occupies.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into a packet at least [`EspRepr::buffer_len`] long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut EspPacket<T>) {
        p.set_spi(self.spi);
        p.set_seq(self.seq);
    }
}

impl fmt::Display for EspRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ESP spi=0x{:08x} seq={}", self.spi, self.seq)
    }
}

/// The ESP trailer that ends the decrypted payload (RFC 4303 §2.4-2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrailerRepr {
    /// Pad length.
    pub pad_len: u8,
    /// Next header (IP protocol number of the payload; 59 for a dummy packet).
    pub next_header: u8,
}

impl TrailerRepr {
    /// Read the trailer at the end of decrypted `plaintext`, checking that the pad length fits
    /// and that the padding is 1, 2, 3, ... (RFC 4303 §2.4). Returns it and the payload length.
    pub fn parse(plaintext: &[u8]) -> Result<(Self, usize), crate::DropReason> {
        let n = plaintext.len();
        let (&next_header, rest) = plaintext.split_last().ok_or(crate::DropReason::Truncated)?;
        let (&pad_len, rest) = rest.split_last().ok_or(crate::DropReason::Truncated)?;
        let payload_len =
            rest.len().checked_sub(usize::from(pad_len)).ok_or(crate::DropReason::BadPadLength)?;
        let padding = &rest[payload_len..];
        if padding.iter().zip(1u8..).any(|(&b, want)| b != want) {
            return Err(crate::DropReason::BadPadding);
        }
        debug_assert_eq!(payload_len + usize::from(pad_len) + 2, n);
        Ok((TrailerRepr { pad_len, next_header }, payload_len))
    }

    /// Write padding and trailer after `payload_len` bytes of payload in `buf`, which must be
    /// `payload_len + pad_len + 2` bytes long.
    pub fn emit(&self, buf: &mut [u8]) {
        let n = buf.len();
        let pad_start = n - 2 - usize::from(self.pad_len);
        for (b, v) in buf[pad_start..n - 2].iter_mut().zip(1u8..) {
            *b = v;
        }
        buf[n - 2] = self.pad_len;
        buf[n - 1] = self.next_header;
    }

    /// Padding needed after `payload_len` bytes so payload, padding and trailer end on `align`,
    /// a power of two up to 256 (RFC 4303 §2.4).
    #[inline]
    pub fn pad_for(payload_len: usize, align: usize) -> u8 {
        debug_assert!(align.is_power_of_two() && align <= 256);
        (payload_len.wrapping_add(2).wrapping_neg() & (align - 1)) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_checks() {
        let bytes = [0, 0, 0x12, 0x34, 0, 0, 0, 7, 0xaa, 0xbb];
        let p = EspPacket::new_checked(&bytes[..]).unwrap();
        let r = EspRepr::parse(&p);
        assert_eq!(r, EspRepr { spi: 0x1234, seq: 7 });
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
        let mut out = [0u8; 10];
        let mut q = EspPacket::new_unchecked(&mut out[..]);
        r.emit(&mut q);
        q.payload_mut().copy_from_slice(&[0xaa, 0xbb]);
        assert_eq!(out, bytes);
        assert_eq!(EspPacket::new_checked(&bytes[..7]), Err(Truncated(7)));
        assert_eq!(spi_of(&bytes[..4]), Some(0x1234));
        assert_eq!(spi_of(&bytes[..3]), None);
    }

    #[test]
    fn trailer_checks_padding() {
        let mut buf = [0u8; 12];
        buf[..5].copy_from_slice(b"hello");
        let pad = TrailerRepr::pad_for(5, 4);
        assert_eq!(pad, 1);
        let t = TrailerRepr { pad_len: pad, next_header: 4 };
        t.emit(&mut buf[..8]);
        assert_eq!(&buf[..8], b"hello\x01\x01\x04");
        assert_eq!(TrailerRepr::parse(&buf[..8]), Ok((t, 5)));
        buf[5] = 2;
        assert_eq!(TrailerRepr::parse(&buf[..8]), Err(crate::DropReason::BadPadding));
        assert_eq!(TrailerRepr::parse(&[0, 9, 4]), Err(crate::DropReason::BadPadLength));
        assert_eq!(TrailerRepr::parse(&[4]), Err(crate::DropReason::Truncated));
        assert_eq!(TrailerRepr::pad_for(14, 16), 0);
        assert_eq!(TrailerRepr::pad_for(15, 16), 15);
    }
}
