//! The Vendor ID payload (RFC 7296 §3.12).

use alloc::vec::Vec;

use super::{DecodeError, Limits, PayloadBody, Reader, Writer};

/// The Vendor ID payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorId {
    /// The vendor-defined identifier.
    pub data: Vec<u8>,
}

impl VendorId {
    /// strongSwan's Vendor ID: MD5("strongSwan").
    pub const STRONGSWAN: [u8; 16] =
        [0x88, 0x2f, 0xe5, 0x6d, 0x6f, 0xd2, 0x0d, 0xbc, 0x22, 0x51, 0x61, 0x3b, 0x2e, 0xbe, 0x5b, 0xeb];

    /// A Vendor ID payload.
    pub fn new(data: Vec<u8>) -> VendorId {
        VendorId { data }
    }
}

impl PayloadBody for VendorId {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        Ok(VendorId { data: r.rest().to_vec() })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.bytes(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v = VendorId::new(VendorId::STRONGSWAN.to_vec());
        assert_eq!(VendorId::from_body_bytes(&v.to_body_bytes(), &Limits::default()), Ok(v));
        let empty = VendorId::new(Vec::new());
        assert_eq!(VendorId::from_body_bytes(&[], &Limits::default()), Ok(empty));
    }
}
