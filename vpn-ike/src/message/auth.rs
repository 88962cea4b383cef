//! The Authentication payload (RFC 7296 §3.8).

use alloc::vec::Vec;

use super::{DecodeError, Limits, PayloadBody, Reader, Writer};

code_point! {
    /// Authentication method (RFC 7296 §3.8, IANA "IKEv2 Authentication Method").
    AuthMethod(u8) {
        /// RSA Digital Signature.
        RsaSignature = 1,
        /// Shared Key Message Integrity Code (PSK).
        SharedKeyMic = 2,
        /// DSS Digital Signature.
        DssSignature = 3,
        /// ECDSA with SHA-256 on the P-256 curve (RFC 4754).
        EcdsaSha256P256 = 9,
        /// ECDSA with SHA-384 on the P-384 curve (RFC 4754).
        EcdsaSha384P384 = 10,
        /// ECDSA with SHA-512 on the P-521 curve (RFC 4754).
        EcdsaSha512P521 = 11,
        /// Generic Secure Password Authentication Method (RFC 6467).
        GenericSecurePassword = 12,
        /// NULL Authentication (RFC 7619).
        Null = 13,
        /// Digital Signature (RFC 7427).
        DigitalSignature = 14,
    }
}

/// The AUTH payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// Auth Method.
    pub method: AuthMethod,
    /// The three RESERVED octets, as received.
    pub reserved: [u8; 3],
    /// Authentication data (compared in constant time by the verifier).
    pub data: Vec<u8>,
}

impl Auth {
    /// An AUTH payload with zero reserved octets.
    pub fn new(method: AuthMethod, data: Vec<u8>) -> Auth {
        Auth { method, reserved: [0; 3], data }
    }
}

impl PayloadBody for Auth {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        let method = AuthMethod::from(r.u8()?);
        let reserved = r.array()?;
        Ok(Auth { method, reserved, data: r.rest().to_vec() })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u8(self.method.into());
        w.bytes(&self.reserved);
        w.bytes(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip() {
        let a = Auth::new(AuthMethod::SharedKeyMic, vec![0xab; 32]);
        let bytes = a.to_body_bytes();
        assert_eq!(&bytes[..4], &[2, 0, 0, 0]);
        assert_eq!(Auth::from_body_bytes(&bytes, &Limits::default()), Ok(a));
        let odd = [200, 1, 2, 3];
        let a = Auth::from_body_bytes(&odd, &Limits::default()).unwrap();
        assert_eq!((a.method, a.reserved), (AuthMethod::Unknown(200), [1, 2, 3]));
        assert_eq!(a.to_body_bytes(), odd);
        assert_eq!(Auth::from_body_bytes(&[2, 0, 0], &Limits::default()), Err(DecodeError::Truncated));
    }
}
