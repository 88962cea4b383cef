//! The IKE header (RFC 7296 §3.1).

use super::writer::LengthField;
use super::{DecodeError, PayloadType, Reader, Writer};

/// Length of the IKE header in bytes.
pub const HEADER_LEN: usize = 28;

/// The major version this implementation speaks (RFC 7296 §3.1).
const MAJOR_VERSION: u8 = 2;

code_point! {
    /// Exchange type (RFC 7296 §3.1, IANA "IKEv2 Exchange Types").
    ExchangeType(u8) {
        /// IKE_SA_INIT.
        IkeSaInit = 34,
        /// IKE_AUTH.
        IkeAuth = 35,
        /// CREATE_CHILD_SA.
        CreateChildSa = 36,
        /// INFORMATIONAL.
        Informational = 37,
        /// IKE_SESSION_RESUME (RFC 5723).
        IkeSessionResume = 38,
        /// IKE_INTERMEDIATE (RFC 9242).
        IkeIntermediate = 43,
        /// IKE_FOLLOWUP_KE (RFC 9370).
        IkeFollowupKe = 44,
    }
}

/// The header's flags octet (RFC 7296 §3.1). Bits other than I, V and R are kept as received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeaderFlags(pub u8);

impl HeaderFlags {
    /// I (Initiator): set in messages sent by the original initiator of the IKE SA.
    pub const INITIATOR: HeaderFlags = HeaderFlags(0x08);
    /// V (Version): the sender can speak a higher major version.
    pub const VERSION: HeaderFlags = HeaderFlags(0x10);
    /// R (Response): this message is a response.
    pub const RESPONSE: HeaderFlags = HeaderFlags(0x20);

    /// True when the I bit is set.
    pub fn initiator(self) -> bool {
        self.0 & Self::INITIATOR.0 != 0
    }

    /// True when the V bit is set.
    pub fn version(self) -> bool {
        self.0 & Self::VERSION.0 != 0
    }

    /// True when the R bit is set.
    pub fn response(self) -> bool {
        self.0 & Self::RESPONSE.0 != 0
    }
}

impl core::ops::BitOr for HeaderFlags {
    type Output = HeaderFlags;
    fn bitor(self, rhs: HeaderFlags) -> HeaderFlags {
        HeaderFlags(self.0 | rhs.0)
    }
}

/// The IKE header without its Next Payload and Length fields, which [`Message`](super::Message)
/// derives from the payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// IKE SA Initiator's SPI (big-endian on the wire).
    pub spi_i: u64,
    /// IKE SA Responder's SPI (0 in the first IKE_SA_INIT request).
    pub spi_r: u64,
    /// Minor version (the major version is always 2).
    pub minor_version: u8,
    /// Exchange type.
    pub exchange_type: ExchangeType,
    /// Flags.
    pub flags: HeaderFlags,
    /// Message ID.
    pub message_id: u32,
}

impl Header {
    /// A version 2.0 header.
    pub fn new(
        exchange_type: ExchangeType,
        spi_i: u64,
        spi_r: u64,
        message_id: u32,
        flags: HeaderFlags,
    ) -> Header {
        Header { spi_i, spi_r, minor_version: 0, exchange_type, flags, message_id }
    }

    /// Decodes the header at the start of `datagram` and returns it with its Next Payload field,
    /// without looking at the payloads (for demultiplexing by SPI). Checks the major version
    /// and that the Length field equals `datagram.len()`.
    pub fn peek(datagram: &[u8]) -> Result<(Header, PayloadType), DecodeError> {
        let mut r = Reader::new(datagram);
        let spi_i = r.u64()?;
        let spi_r = r.u64()?;
        let next = PayloadType::from(r.u8()?);
        let version = r.u8()?;
        let exchange_type = ExchangeType::from(r.u8()?);
        let flags = HeaderFlags(r.u8()?);
        let message_id = r.u32()?;
        let length = r.u32()?;
        // RFC 7296 §3.1: reject a major version other than 2 with INVALID_MAJOR_VERSION.
        let major = version >> 4;
        if major != MAJOR_VERSION {
            return Err(DecodeError::InvalidMajorVersion(major));
        }
        // RFC 7296 §3.1: Length is the total length of the message (header + payloads).
        if usize::try_from(length).ok() != Some(datagram.len()) {
            return Err(DecodeError::MessageLength { header: length, datagram: datagram.len() });
        }
        let header = Header { spi_i, spi_r, minor_version: version & 0x0f, exchange_type, flags, message_id };
        Ok((header, next))
    }

    /// Writes the header with `next` as its Next Payload; the Length is left to patch.
    pub(crate) fn encode(&self, w: &mut Writer<'_>, next: PayloadType) -> LengthField {
        w.u64(self.spi_i);
        w.u64(self.spi_r);
        w.u8(next.into());
        w.u8((MAJOR_VERSION << 4) | (self.minor_version & 0x0f));
        w.u8(self.exchange_type.into());
        w.u8(self.flags.0);
        w.u32(self.message_id);
        w.len32()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn raw(version: u8, length: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0x1111_2222_3333_4444u64.to_be_bytes());
        v.extend_from_slice(&0u64.to_be_bytes());
        v.extend_from_slice(&[0, version, 34, 0x08 | 0x40]);
        v.extend_from_slice(&5u32.to_be_bytes());
        v.extend_from_slice(&length.to_be_bytes());
        v
    }

    #[test]
    fn peek_reads_every_field() {
        let (h, next) = Header::peek(&raw(0x21, 28)).unwrap();
        assert_eq!(next, PayloadType::NoNext);
        assert_eq!(h.spi_i, 0x1111_2222_3333_4444);
        assert_eq!(h.spi_r, 0);
        assert_eq!(h.minor_version, 1);
        assert_eq!(h.exchange_type, ExchangeType::IkeSaInit);
        assert!(h.flags.initiator() && !h.flags.response() && !h.flags.version());
        assert_eq!(h.flags.0 & 0x40, 0x40, "unknown flag bits are kept");
        assert_eq!(h.message_id, 5);
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        let l = h.encode(&mut w, next);
        w.patch_len32(l, 0);
        assert_eq!(out, raw(0x21, 28));
    }

    #[test]
    fn peek_rejects_bad_headers() {
        assert_eq!(Header::peek(&raw(0x31, 28)), Err(DecodeError::InvalidMajorVersion(3)));
        assert_eq!(Header::peek(&raw(0x10, 28)), Err(DecodeError::InvalidMajorVersion(1)));
        assert_eq!(
            Header::peek(&raw(0x20, 29)),
            Err(DecodeError::MessageLength { header: 29, datagram: 28 })
        );
        assert_eq!(
            Header::peek(&raw(0x20, 27)),
            Err(DecodeError::MessageLength { header: 27, datagram: 28 })
        );
        assert_eq!(Header::peek(&raw(0x20, 28)[..27]), Err(DecodeError::Truncated));
        assert_eq!(Header::peek(&[]), Err(DecodeError::Truncated));
    }

    #[test]
    fn exchange_types_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(ExchangeType::from(v)), v);
        }
        assert_eq!(ExchangeType::from(37), ExchangeType::Informational);
        assert_eq!(ExchangeType::from(99), ExchangeType::Unknown(99));
    }
}
