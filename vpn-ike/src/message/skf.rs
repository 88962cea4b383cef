//! The Encrypted and Authenticated Fragment payload SKF (RFC 7383 §2.5), kept encrypted.

use alloc::vec::Vec;

use super::{DecodeError, PayloadType, Reader, Writer};

/// The SKF payload: fragment numbering and the raw encrypted body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedFragment {
    /// Type of the first inner payload; only the first fragment names one, the others carry 0
    /// (RFC 7383 §2.5).
    pub inner_first: PayloadType,
    /// Fragment Number, starting from 1.
    pub number: u16,
    /// Total Fragments.
    pub total: u16,
    /// `IV || ciphertext || ICV`, as on the wire.
    pub data: Vec<u8>,
}

impl EncryptedFragment {
    pub(crate) fn decode(inner_first: PayloadType, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let number = r.u16()?;
        let total = r.u16()?;
        // RFC 7383 §2.5: numbers start from 1 and never exceed Total Fragments.
        if number == 0 || number > total {
            return Err(DecodeError::FragmentNumber { number, total });
        }
        Ok(EncryptedFragment { inner_first, number, total, data: r.rest().to_vec() })
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) {
        w.u16(self.number);
        w.u16(self.total);
        w.bytes(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip_and_numbering() {
        let f = EncryptedFragment { inner_first: PayloadType::IdI, number: 1, total: 3, data: vec![1, 2, 3] };
        let mut b = Vec::new();
        f.encode(&mut Writer::new(&mut b));
        assert_eq!(b, [0, 1, 0, 3, 1, 2, 3]);
        assert_eq!(EncryptedFragment::decode(PayloadType::IdI, &mut Reader::new(&b)), Ok(f));
        let bad = |n: u16, t: u16| {
            let mut b = n.to_be_bytes().to_vec();
            b.extend_from_slice(&t.to_be_bytes());
            EncryptedFragment::decode(PayloadType::NoNext, &mut Reader::new(&b))
        };
        assert_eq!(bad(0, 3), Err(DecodeError::FragmentNumber { number: 0, total: 3 }));
        assert_eq!(bad(4, 3), Err(DecodeError::FragmentNumber { number: 4, total: 3 }));
        assert!(bad(3, 3).is_ok());
        assert_eq!(
            EncryptedFragment::decode(PayloadType::NoNext, &mut Reader::new(&[0, 1, 0])),
            Err(DecodeError::Truncated)
        );
    }
}
