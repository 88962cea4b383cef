//! The Delete payload (RFC 7296 §3.11).

use alloc::vec::Vec;

use super::writer::sat_u16;
use super::{Cap, DecodeError, Limits, PayloadBody, ProtocolId, Reader, Writer};

/// The Delete payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delete {
    /// Protocol ID: IKE (the SA this message is protected by), AH or ESP.
    pub protocol: ProtocolId,
    /// SPI Size: 0 for IKE, 4 for AH and ESP.
    pub spi_size: u8,
    /// The SPIs, each `spi_size` bytes.
    pub spis: Vec<Vec<u8>>,
}

impl Delete {
    /// Deletes the IKE SA the message is protected by.
    pub fn ike() -> Delete {
        Delete { protocol: ProtocolId::Ike, spi_size: 0, spis: Vec::new() }
    }

    /// Deletes ESP SAs by their inbound SPIs.
    pub fn esp(spis: &[u32]) -> Delete {
        Delete {
            protocol: ProtocolId::Esp,
            spi_size: 4,
            spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
        }
    }

    /// The SPIs as 32-bit values when they are 4 bytes (AH, ESP).
    pub fn spis_u32(&self) -> impl Iterator<Item = u32> + '_ {
        self.spis.iter().filter_map(|s| <[u8; 4]>::try_from(s.as_slice()).ok().map(u32::from_be_bytes))
    }
}

impl PayloadBody for Delete {
    fn decode_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self, DecodeError> {
        let protocol = ProtocolId::from(r.u8()?);
        let spi_size = r.u8()?;
        let count = r.u16()?;
        if usize::from(count) > limits.max_delete_spis {
            return Err(DecodeError::TooMany { what: Cap::DeleteSpis, max: limits.max_delete_spis });
        }
        // RFC 7296 §3.11: the payload holds exactly Num of SPIs SPIs of SPI Size octets.
        if r.remaining() != usize::from(spi_size) * usize::from(count) {
            return Err(DecodeError::DeleteLength { spi_size, count });
        }
        let mut spis = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            spis.push(r.take(usize::from(spi_size))?.to_vec());
        }
        Ok(Delete { protocol, spi_size, spis })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u8(self.protocol.into());
        w.u8(self.spi_size);
        w.u16(sat_u16(self.spis.len()));
        for spi in &self.spis {
            w.bytes(spi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let l = Limits::default();
        let d = Delete::esp(&[0x1234_5678, 0xdead_beef]);
        let bytes = d.to_body_bytes();
        assert_eq!(bytes, [3, 4, 0, 2, 0x12, 0x34, 0x56, 0x78, 0xde, 0xad, 0xbe, 0xef]);
        let back = Delete::from_body_bytes(&bytes, &l).unwrap();
        assert_eq!(back.spis_u32().collect::<Vec<_>>(), [0x1234_5678, 0xdead_beef]);
        assert_eq!(back, d);
        assert_eq!(Delete::from_body_bytes(&Delete::ike().to_body_bytes(), &l), Ok(Delete::ike()));
    }

    #[test]
    fn rejects_mismatched_counts_and_caps() {
        let l = Limits::default();
        assert_eq!(
            Delete::from_body_bytes(&[3, 4, 0, 2, 1, 2, 3, 4], &l),
            Err(DecodeError::DeleteLength { spi_size: 4, count: 2 })
        );
        assert_eq!(
            Delete::from_body_bytes(&[3, 4, 0, 1, 1, 2, 3, 4, 5], &l),
            Err(DecodeError::DeleteLength { spi_size: 4, count: 1 })
        );
        assert_eq!(
            Delete::from_body_bytes(&[3, 0, 0xff, 0xff], &l),
            Err(DecodeError::TooMany { what: Cap::DeleteSpis, max: 256 })
        );
        // Zero-size SPIs with a count still round-trip.
        let b = [1, 0, 0, 3];
        assert_eq!(Delete::from_body_bytes(&b, &l).unwrap().to_body_bytes(), b);
    }
}
