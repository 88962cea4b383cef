//! The cipher of an ESP SA: an AEAD (AES-GCM-16, RFC 4106; ChaCha20-Poly1305, RFC 7634) or
//! AES-CBC (RFC 3602) with truncated HMAC-SHA2 (RFC 4868).

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::aead::{NONCE_LEN, TAG_LEN};
use vpn_core::crypto::{AeadCipher, AesCbc, Backend, CryptoError, Integ};
use vpn_core::secret::SecretBytes;

use crate::error::SaError;

/// Length of the salt that ends an AEAD key (RFC 4106 §8.1, RFC 7634 §2).
pub const SALT_LEN: usize = 4;

/// The keys of one ESP SA as IKE derives them (RFC 7296 §2.17): the encryption key (for AEAD
/// ciphers including the 4-byte salt at its end) and the integrity key (empty for AEAD).
#[derive(Clone, Debug)]
pub struct EspKeys {
    /// Encryption transform.
    pub encr: EncrAlg,
    /// Encryption key material, salt included for AEAD ciphers.
    pub encr_key: SecretBytes,
    /// Integrity transform, [`IntegAlg::None`] with AEAD ciphers.
    pub integ: IntegAlg,
    /// Integrity key.
    pub integ_key: SecretBytes,
}

impl EspKeys {
    /// Keys from their bytes, checking the lengths the algorithms need.
    pub fn new(encr: EncrAlg, encr_key: &[u8], integ: IntegAlg, integ_key: &[u8]) -> Result<Self, SaError> {
        let expected_encr: &[usize] = match encr {
            EncrAlg::AesGcm16 => &[16 + SALT_LEN, 24 + SALT_LEN, 32 + SALT_LEN],
            EncrAlg::ChaCha20Poly1305 => &[32 + SALT_LEN],
            EncrAlg::AesCbc => &[16, 24, 32],
            _ => return Err(SaError::UnsupportedAlgorithm),
        };
        if !expected_encr.contains(&encr_key.len()) {
            return Err(SaError::BadKeyLength { got: encr_key.len(), expected: expected_encr[0] });
        }
        let integ_len = if encr.is_aead() {
            if integ != IntegAlg::None {
                return Err(SaError::UnsupportedAlgorithm);
            }
            0
        } else {
            match integ {
                IntegAlg::HmacSha256_128 | IntegAlg::HmacSha384_192 | IntegAlg::HmacSha512_256 => {
                    integ.key_len().unwrap_or(0)
                }
                _ => return Err(SaError::UnsupportedAlgorithm),
            }
        };
        if integ_key.len() != integ_len {
            return Err(SaError::BadKeyLength { got: integ_key.len(), expected: integ_len });
        }
        let s =
            |b: &[u8]| SecretBytes::new(b).map_err(|_| SaError::BadKeyLength { got: b.len(), expected: 0 });
        Ok(EspKeys { encr, encr_key: s(encr_key)?, integ, integ_key: s(integ_key)? })
    }

    /// Bytes of encryption key material this transform takes from KEYMAT (RFC 7296 §2.17).
    pub fn encr_key_len(encr: EncrAlg, key_bits: u16) -> Option<usize> {
        let k = usize::from(key_bits / 8);
        match encr {
            EncrAlg::AesGcm16 if k == 16 || k == 24 || k == 32 => Some(k + SALT_LEN),
            EncrAlg::ChaCha20Poly1305 => Some(32 + SALT_LEN),
            EncrAlg::AesCbc if k == 16 || k == 24 || k == 32 => Some(k),
            _ => None,
        }
    }

    /// A strongSwan-style name of the algorithms, such as `AES_GCM_16_256` or
    /// `AES_CBC_256/HMAC_SHA2_256_128`.
    pub fn describe(&self) -> (&'static str, u16, &'static str) {
        let bits = match self.encr {
            EncrAlg::AesGcm16 | EncrAlg::ChaCha20Poly1305 => ((self.encr_key.len() - SALT_LEN) * 8) as u16,
            _ => (self.encr_key.len() * 8) as u16,
        };
        let e = match self.encr {
            EncrAlg::AesGcm16 => "AES_GCM_16",
            EncrAlg::ChaCha20Poly1305 => "CHACHA20_POLY1305",
            EncrAlg::AesCbc => "AES_CBC",
            _ => "UNKNOWN",
        };
        let i = match self.integ {
            IntegAlg::HmacSha256_128 => "HMAC_SHA2_256_128",
            IntegAlg::HmacSha384_192 => "HMAC_SHA2_384_192",
            IntegAlg::HmacSha512_256 => "HMAC_SHA2_512_256",
            _ => "",
        };
        (e, bits, i)
    }
}

/// The keyed cipher of an SA.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per SA; boxing would cost a pointer chase per packet
pub(crate) enum EspCipher {
    Aead { cipher: AeadCipher, salt: [u8; SALT_LEN] },
    CbcHmac { cbc: AesCbc, integ: Integ },
}

fn crypto(e: CryptoError) -> SaError {
    SaError::Crypto(e)
}

impl EspCipher {
    pub(crate) fn new(backend: Backend, keys: &EspKeys) -> Result<Self, SaError> {
        let k = keys.encr_key.expose();
        if keys.encr.is_aead() {
            let split =
                k.len().checked_sub(SALT_LEN).ok_or(SaError::BadKeyLength { got: k.len(), expected: 20 })?;
            let (key, salt_b) = k.split_at(split);
            let mut salt = [0u8; SALT_LEN];
            salt.copy_from_slice(salt_b);
            let cipher = AeadCipher::new(backend, keys.encr, key).map_err(crypto)?;
            Ok(EspCipher::Aead { cipher, salt })
        } else {
            let cbc = AesCbc::new(k).map_err(crypto)?;
            let integ = Integ::new(keys.integ, keys.integ_key.expose()).map_err(crypto)?;
            Ok(EspCipher::CbcHmac { cbc, integ })
        }
    }

    /// IV length on the wire (RFC 4106 §3.1: 8; RFC 3602 §2: 16).
    pub(crate) fn iv_len(&self) -> usize {
        match self {
            EspCipher::Aead { .. } => 8,
            EspCipher::CbcHmac { .. } => 16,
        }
    }

    /// Alignment of the encrypted part: the cipher block, at least 4 (RFC 4303 §2.4).
    pub(crate) fn align(&self) -> usize {
        match self {
            EspCipher::Aead { .. } => 4,
            EspCipher::CbcHmac { .. } => 16,
        }
    }

    pub(crate) fn icv_len(&self) -> usize {
        match self {
            EspCipher::Aead { .. } => TAG_LEN,
            EspCipher::CbcHmac { integ, .. } => integ.icv_len(),
        }
    }

    pub(crate) fn nonce(salt: &[u8; SALT_LEN], iv: &[u8]) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        n[..SALT_LEN].copy_from_slice(salt);
        n[SALT_LEN..].copy_from_slice(iv);
        n
    }
}

/// The most bytes ESP adds to an inner packet with `encr` and `integ` (RFC 4303 §2): SPI and
/// sequence number 8, the IV (RFC 4106 §3.1: 8; RFC 3602 §2: 16), padding up to the alignment
/// less one, pad length and next header 2, and the ICV. `None` for algorithms this crate lacks.
/// Outer IP and UDP headers (RFC 3948: 8) come on top.
pub fn max_overhead(encr: EncrAlg, integ: IntegAlg) -> Option<usize> {
    let (iv, align, icv) = match encr {
        EncrAlg::AesGcm16 | EncrAlg::ChaCha20Poly1305 => (8, 4, TAG_LEN),
        EncrAlg::AesCbc => (16, 16, integ.icv_len()?),
        _ => return None,
    };
    Some(8 + iv + (align - 1) + 2 + icv)
}
