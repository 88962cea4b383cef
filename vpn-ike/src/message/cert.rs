//! The Certificate and Certificate Request payloads (RFC 7296 §3.6, §3.7).

use alloc::vec::Vec;

use super::{DecodeError, Limits, PayloadBody, Reader, Writer};

code_point! {
    /// Certificate encoding (RFC 7296 §3.6, IANA "IKEv2 Certificate Encodings").
    CertEncoding(u8) {
        /// PKCS #7 wrapped X.509 certificate.
        Pkcs7 = 1,
        /// PGP Certificate.
        Pgp = 2,
        /// DNS Signed Key.
        DnsSignedKey = 3,
        /// X.509 Certificate - Signature.
        X509Signature = 4,
        /// Kerberos Token.
        Kerberos = 6,
        /// Certificate Revocation List (CRL).
        Crl = 7,
        /// Authority Revocation List (ARL).
        Arl = 8,
        /// SPKI Certificate.
        Spki = 9,
        /// X.509 Certificate - Attribute.
        X509Attribute = 10,
        /// Raw RSA Key (deprecated).
        RawRsaKey = 11,
        /// Hash and URL of X.509 certificate.
        HashUrlX509Cert = 12,
        /// Hash and URL of X.509 bundle.
        HashUrlX509Bundle = 13,
        /// OCSP Content (RFC 4806).
        OcspContent = 14,
        /// Raw Public Key (RFC 7670).
        RawPublicKey = 15,
    }
}

/// The CERT payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cert {
    /// Cert Encoding.
    pub encoding: CertEncoding,
    /// Certificate Data (e.g. a DER X.509 certificate).
    pub data: Vec<u8>,
}

/// The CERTREQ payload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertReq {
    /// Cert Encoding of the certificates wanted.
    pub encoding: CertEncoding,
    /// Certification Authority: for X.509, concatenated SHA-1 hashes of trusted CAs' public keys.
    pub authorities: Vec<u8>,
}

impl CertReq {
    /// The 20-byte SHA-1 hashes of `authorities` (RFC 7296 §3.7); a remainder is ignored.
    pub fn sha1_hashes(&self) -> impl Iterator<Item = &[u8]> {
        self.authorities.chunks_exact(20)
    }
}

impl PayloadBody for Cert {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        let encoding = CertEncoding::from(r.u8()?);
        Ok(Cert { encoding, data: r.rest().to_vec() })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u8(self.encoding.into());
        w.bytes(&self.data);
    }
}

impl PayloadBody for CertReq {
    fn decode_body(r: &mut Reader<'_>, _: &Limits) -> Result<Self, DecodeError> {
        let encoding = CertEncoding::from(r.u8()?);
        Ok(CertReq { encoding, authorities: r.rest().to_vec() })
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.u8(self.encoding.into());
        w.bytes(&self.authorities);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip() {
        let l = Limits::default();
        let c = Cert { encoding: CertEncoding::X509Signature, data: vec![0x30, 0x82, 0x01, 0x00] };
        assert_eq!(c.to_body_bytes(), [4, 0x30, 0x82, 0x01, 0x00]);
        assert_eq!(Cert::from_body_bytes(&c.to_body_bytes(), &l), Ok(c));
        let r = CertReq { encoding: CertEncoding::X509Signature, authorities: vec![0xaa; 41] };
        assert_eq!(r.sha1_hashes().count(), 2);
        assert_eq!(CertReq::from_body_bytes(&r.to_body_bytes(), &l), Ok(r));
        assert_eq!(Cert::from_body_bytes(&[], &l), Err(DecodeError::Truncated));
        assert_eq!(CertReq::from_body_bytes(&[99], &l).unwrap().encoding, CertEncoding::Unknown(99));
    }
}
