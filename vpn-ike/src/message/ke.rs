//! The Key Exchange payload (RFC 7296 §3.4).

use alloc::vec::Vec;
use vpn_core::alg::KeGroup;

use super::{DecodeError, Limits, PayloadBody, Reader, Writer};

/// The KE payload body: the key exchange method and the public value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyExchange {
    /// Diffie-Hellman group / key exchange method number.
    pub group: KeGroup,
    /// The RESERVED field, as received.
    pub reserved: u16,
    /// Key exchange data (its length is fixed by the group; checked by the IKE SA, which
    /// answers INVALID_SYNTAX or INVALID_KE_PAYLOAD).
    pub data: Vec<u8>,
}

impl KeyExchange {
    /// A KE payload with zero reserved field.
    pub fn new(group: KeGroup, data: Vec<u8>) -> KeyExchange {
        KeyExchange { group, reserved: 0, data }
    }
}

impl PayloadBody for KeyExchange {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        let group = KeGroup::from(r.u16()?);
        let reserved = r.u16()?;
        Ok(KeyExchange { group, reserved, data: r.rest().to_vec() })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u16(self.group.into());
        w.u16(self.reserved);
        w.bytes(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip() {
        let ke = KeyExchange::new(KeGroup::Curve25519, vec![0x42; 32]);
        let bytes = ke.to_body_bytes();
        assert_eq!(&bytes[..4], &[0, 31, 0, 0]);
        assert_eq!(KeyExchange::from_body_bytes(&bytes, &Limits::default()), Ok(ke));
        let odd = [0x12, 0x34, 0xff, 0xff, 1];
        let ke = KeyExchange::from_body_bytes(&odd, &Limits::default()).unwrap();
        assert_eq!((ke.group, ke.reserved), (KeGroup::Unknown(0x1234), 0xffff));
        assert_eq!(ke.to_body_bytes(), odd);
        assert_eq!(
            KeyExchange::from_body_bytes(&[0, 31, 0], &Limits::default()),
            Err(DecodeError::Truncated)
        );
    }
}
