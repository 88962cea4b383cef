//! The Nonce payload (RFC 7296 §3.9).

use alloc::vec::Vec;

use super::{DecodeError, Limits, PayloadBody, Reader, Writer};

/// The Nonce payload body (Ni or Nr).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nonce {
    /// Nonce data, 16 to 256 bytes.
    pub data: Vec<u8>,
}

impl Nonce {
    /// Shortest nonce allowed (RFC 7296 §3.9).
    pub const MIN_LEN: usize = 16;
    /// Longest nonce allowed (RFC 7296 §3.9).
    pub const MAX_LEN: usize = 256;

    /// A nonce payload.
    pub fn new(data: Vec<u8>) -> Nonce {
        Nonce { data }
    }
}

impl PayloadBody for Nonce {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        let data = r.rest();
        // RFC 7296 §3.9: the nonce is between 16 and 256 octets.
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&data.len()) {
            return Err(DecodeError::NonceLength { length: data.len() });
        }
        Ok(Nonce { data: data.to_vec() })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.bytes(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip_and_bounds() {
        let l = Limits::default();
        for len in [16, 32, 256] {
            let n = Nonce::new(vec![7; len]);
            assert_eq!(Nonce::from_body_bytes(&n.to_body_bytes(), &l), Ok(n));
        }
        assert_eq!(Nonce::from_body_bytes(&[0; 15], &l), Err(DecodeError::NonceLength { length: 15 }));
        assert_eq!(Nonce::from_body_bytes(&[0; 257], &l), Err(DecodeError::NonceLength { length: 257 }));
    }
}
