//! IANA IKEv2 transform identifiers (RFC 7296 §3.3.2; registry "IKEv2 Transform Attribute Types").
//!
//! Every enum has an `Unknown(u16)` arm so that what we do not know still round-trips.

macro_rules! iana_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $val:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)*
            /// A value this implementation does not know.
            Unknown(u16),
        }

        impl From<u16> for $name {
            fn from(v: u16) -> Self {
                match v {
                    $($val => $name::$var,)*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for u16 {
            fn from(v: $name) -> u16 {
                match v {
                    $($name::$var => $val,)*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

iana_enum! {
    /// Transform type (RFC 7296 §3.3.2).
    TransformType {
        /// Encryption algorithm (ENCR).
        Encr = 1,
        /// Pseudorandom function (PRF).
        Prf = 2,
        /// Integrity algorithm (INTEG).
        Integ = 3,
        /// Key exchange method (formerly Diffie-Hellman group).
        Ke = 4,
        /// Extended sequence numbers (ESN).
        Esn = 5,
    }
}

iana_enum! {
    /// Encryption algorithm transform ids (RFC 7296 §3.3.2, RFC 4106, RFC 7634).
    EncrAlg {
        /// ENCR_3DES.
        TripleDes = 3,
        /// ENCR_NULL (ESP only).
        Null = 11,
        /// ENCR_AES_CBC (RFC 3602); key length from the attribute.
        AesCbc = 12,
        /// ENCR_AES_CTR (RFC 3686).
        AesCtr = 13,
        /// ENCR_AES_GCM with an 8-octet ICV (RFC 4106).
        AesGcm8 = 18,
        /// ENCR_AES_GCM with a 12-octet ICV (RFC 4106).
        AesGcm12 = 19,
        /// ENCR_AES_GCM with a 16-octet ICV (RFC 4106).
        AesGcm16 = 20,
        /// ENCR_CHACHA20_POLY1305 (RFC 7634).
        ChaCha20Poly1305 = 28,
    }
}

iana_enum! {
    /// Pseudorandom function transform ids (RFC 7296 §3.3.2, RFC 4868).
    PrfAlg {
        /// PRF_HMAC_MD5.
        HmacMd5 = 1,
        /// PRF_HMAC_SHA1.
        HmacSha1 = 2,
        /// PRF_AES128_XCBC.
        Aes128Xcbc = 4,
        /// PRF_HMAC_SHA2_256 (RFC 4868).
        HmacSha256 = 5,
        /// PRF_HMAC_SHA2_384 (RFC 4868).
        HmacSha384 = 6,
        /// PRF_HMAC_SHA2_512 (RFC 4868).
        HmacSha512 = 7,
    }
}

iana_enum! {
    /// Integrity algorithm transform ids (RFC 7296 §3.3.2, RFC 4868).
    IntegAlg {
        /// NONE (with combined-mode ciphers).
        None = 0,
        /// AUTH_HMAC_MD5_96.
        HmacMd5_96 = 1,
        /// AUTH_HMAC_SHA1_96.
        HmacSha1_96 = 2,
        /// AUTH_AES_XCBC_96.
        AesXcbc96 = 5,
        /// AUTH_HMAC_SHA2_256_128 (RFC 4868).
        HmacSha256_128 = 12,
        /// AUTH_HMAC_SHA2_384_192 (RFC 4868).
        HmacSha384_192 = 13,
        /// AUTH_HMAC_SHA2_512_256 (RFC 4868).
        HmacSha512_256 = 14,
    }
}

iana_enum! {
    /// Key exchange method transform ids (RFC 7296 §3.3.2, RFC 5903, RFC 8031).
    KeGroup {
        /// NONE.
        None = 0,
        /// 1024-bit MODP group (RFC 7296 appendix B).
        Modp1024 = 2,
        /// 2048-bit MODP group (RFC 3526).
        Modp2048 = 14,
        /// 3072-bit MODP group (RFC 3526).
        Modp3072 = 15,
        /// 4096-bit MODP group (RFC 3526).
        Modp4096 = 16,
        /// 256-bit random ECP group (RFC 5903).
        Ecp256 = 19,
        /// 384-bit random ECP group (RFC 5903).
        Ecp384 = 20,
        /// 521-bit random ECP group (RFC 5903).
        Ecp521 = 21,
        /// Curve25519 (RFC 8031).
        Curve25519 = 31,
        /// Curve448 (RFC 8031).
        Curve448 = 32,
    }
}

iana_enum! {
    /// Extended sequence numbers transform ids (RFC 7296 §3.3.2).
    EsnMode {
        /// No extended sequence numbers.
        No = 0,
        /// Extended sequence numbers.
        Yes = 1,
    }
}

impl EncrAlg {
    /// True for combined-mode (AEAD) ciphers that need no separate integrity transform.
    pub fn is_aead(self) -> bool {
        matches!(self, EncrAlg::AesGcm8 | EncrAlg::AesGcm12 | EncrAlg::AesGcm16 | EncrAlg::ChaCha20Poly1305)
    }
}

impl IntegAlg {
    /// Length of the truncated ICV this integrity algorithm produces, in bytes.
    pub fn icv_len(self) -> Option<usize> {
        match self {
            IntegAlg::None => Some(0),
            IntegAlg::HmacMd5_96 | IntegAlg::HmacSha1_96 | IntegAlg::AesXcbc96 => Some(12),
            IntegAlg::HmacSha256_128 => Some(16),
            IntegAlg::HmacSha384_192 => Some(24),
            IntegAlg::HmacSha512_256 => Some(32),
            IntegAlg::Unknown(_) => None,
        }
    }

    /// Key length of the integrity algorithm, in bytes (RFC 4868 §2.1.1).
    pub fn key_len(self) -> Option<usize> {
        match self {
            IntegAlg::None => Some(0),
            IntegAlg::HmacMd5_96 | IntegAlg::AesXcbc96 => Some(16),
            IntegAlg::HmacSha1_96 => Some(20),
            IntegAlg::HmacSha256_128 => Some(32),
            IntegAlg::HmacSha384_192 => Some(48),
            IntegAlg::HmacSha512_256 => Some(64),
            IntegAlg::Unknown(_) => None,
        }
    }
}

impl PrfAlg {
    /// Output (and preferred key) length of the PRF, in bytes.
    pub fn output_len(self) -> Option<usize> {
        match self {
            PrfAlg::HmacMd5 | PrfAlg::Aes128Xcbc => Some(16),
            PrfAlg::HmacSha1 => Some(20),
            PrfAlg::HmacSha256 => Some(32),
            PrfAlg::HmacSha384 => Some(48),
            PrfAlg::HmacSha512 => Some(64),
            PrfAlg::Unknown(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_known_and_unknown() {
        for v in 0u16..64 {
            assert_eq!(u16::from(EncrAlg::from(v)), v);
            assert_eq!(u16::from(PrfAlg::from(v)), v);
            assert_eq!(u16::from(IntegAlg::from(v)), v);
            assert_eq!(u16::from(KeGroup::from(v)), v);
            assert_eq!(u16::from(EsnMode::from(v)), v);
        }
        assert_eq!(EncrAlg::from(20), EncrAlg::AesGcm16);
        assert_eq!(EncrAlg::from(999), EncrAlg::Unknown(999));
        assert_eq!(KeGroup::from(31), KeGroup::Curve25519);
        assert_eq!(IntegAlg::HmacSha384_192.icv_len(), Some(24));
    }
}
