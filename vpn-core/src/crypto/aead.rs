//! AEAD ciphers with a 12-byte nonce and a 16-byte tag kept apart from the data, encrypted in
//! place: AES-GCM-16 (RFC 4106, RFC 5282) and ChaCha20-Poly1305 (RFC 7634).

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;

use super::{Backend, CryptoError};
use crate::alg::EncrAlg;

/// Length of every tag produced here (the ICV of ENCR_AES_GCM_16 and ChaCha20-Poly1305).
pub const TAG_LEN: usize = 16;
/// Length of the AEAD nonce (salt || IV, RFC 4106 §4, RFC 7634 §2).
pub const NONCE_LEN: usize = 12;

/// AES-192-GCM with a 12-byte nonce (RFC 4106 allows 192-bit keys).
pub type Aes192Gcm = AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;

/// A keyed AEAD cipher.
///
/// Variants differ in size; one lives per SA, and boxing would add a pointer chase per packet.
#[non_exhaustive]
#[allow(clippy::large_enum_variant)]
pub enum AeadCipher {
    /// AES-128-GCM, RustCrypto.
    Aes128Gcm(Aes128Gcm),
    /// AES-192-GCM, RustCrypto (also used by the `ring` backend, which lacks it).
    Aes192Gcm(Aes192Gcm),
    /// AES-256-GCM, RustCrypto.
    Aes256Gcm(Aes256Gcm),
    /// ChaCha20-Poly1305, RustCrypto.
    ChaCha20Poly1305(ChaCha20Poly1305),
    /// Any of the three, `ring`.
    #[cfg(feature = "ring")]
    Ring(ring::aead::LessSafeKey),
}

impl core::fmt::Debug for AeadCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AeadCipher::Aes128Gcm(_) => "AeadCipher(aes128gcm16, [redacted])",
            AeadCipher::Aes192Gcm(_) => "AeadCipher(aes192gcm16, [redacted])",
            AeadCipher::Aes256Gcm(_) => "AeadCipher(aes256gcm16, [redacted])",
            AeadCipher::ChaCha20Poly1305(_) => "AeadCipher(chacha20poly1305, [redacted])",
            #[cfg(feature = "ring")]
            AeadCipher::Ring(_) => "AeadCipher(ring, [redacted])",
        })
    }
}

impl AeadCipher {
    /// Key the AEAD `alg` with `key` (without the salt) using `backend`.
    pub fn new(backend: Backend, alg: EncrAlg, key: &[u8]) -> Result<Self, CryptoError> {
        let bad = CryptoError::BadKeyLength { got: key.len() };
        match backend {
            Backend::RustCrypto => match (alg, key.len()) {
                (EncrAlg::AesGcm16, 16) => {
                    Ok(AeadCipher::Aes128Gcm(Aes128Gcm::new_from_slice(key).map_err(|_| bad)?))
                }
                (EncrAlg::AesGcm16, 24) => {
                    Ok(AeadCipher::Aes192Gcm(Aes192Gcm::new_from_slice(key).map_err(|_| bad)?))
                }
                (EncrAlg::AesGcm16, 32) => {
                    Ok(AeadCipher::Aes256Gcm(Aes256Gcm::new_from_slice(key).map_err(|_| bad)?))
                }
                (EncrAlg::ChaCha20Poly1305, 32) => {
                    Ok(AeadCipher::ChaCha20Poly1305(ChaCha20Poly1305::new_from_slice(key).map_err(|_| bad)?))
                }
                (EncrAlg::AesGcm16 | EncrAlg::ChaCha20Poly1305, _) => Err(bad),
                _ => Err(CryptoError::Unsupported),
            },
            #[cfg(feature = "ring")]
            Backend::Ring => {
                let a = match (alg, key.len()) {
                    // ring has no AES-192: RustCrypto serves it.
                    (EncrAlg::AesGcm16, 24) => return AeadCipher::new(Backend::RustCrypto, alg, key),
                    (EncrAlg::AesGcm16, 16) => &ring::aead::AES_128_GCM,
                    (EncrAlg::AesGcm16, 32) => &ring::aead::AES_256_GCM,
                    (EncrAlg::ChaCha20Poly1305, 32) => &ring::aead::CHACHA20_POLY1305,
                    (EncrAlg::AesGcm16 | EncrAlg::ChaCha20Poly1305, _) => return Err(bad),
                    _ => return Err(CryptoError::Unsupported),
                };
                let k = ring::aead::UnboundKey::new(a, key).map_err(|_| bad)?;
                Ok(AeadCipher::Ring(ring::aead::LessSafeKey::new(k)))
            }
        }
    }

    /// Encrypt `buf` in place and write the tag to `tag`.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        let n = aes_gcm::Nonce::from_slice(nonce);
        let t = match self {
            AeadCipher::Aes128Gcm(c) => c.encrypt_in_place_detached(n, aad, buf),
            AeadCipher::Aes192Gcm(c) => c.encrypt_in_place_detached(n, aad, buf),
            AeadCipher::Aes256Gcm(c) => c.encrypt_in_place_detached(n, aad, buf),
            AeadCipher::ChaCha20Poly1305(c) => c.encrypt_in_place_detached(n, aad, buf),
            #[cfg(feature = "ring")]
            AeadCipher::Ring(k) => {
                let t = k
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(*nonce),
                        ring::aead::Aad::from(aad),
                        buf,
                    )
                    .map_err(|_| CryptoError::BadLength { got: buf.len(), needed: 0 })?;
                tag.copy_from_slice(t.as_ref());
                return Ok(());
            }
        }
        .map_err(|_| CryptoError::BadLength { got: buf.len(), needed: 0 })?;
        tag.copy_from_slice(&t);
        Ok(())
    }

    /// Verify `tag` and decrypt `buf` in place. On failure `buf` holds unspecified bytes.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        let n = aes_gcm::Nonce::from_slice(nonce);
        let t = aes_gcm::Tag::from_slice(tag);
        match self {
            AeadCipher::Aes128Gcm(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            AeadCipher::Aes192Gcm(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            AeadCipher::Aes256Gcm(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            AeadCipher::ChaCha20Poly1305(c) => c.decrypt_in_place_detached(n, aad, buf, t),
            #[cfg(feature = "ring")]
            AeadCipher::Ring(k) => {
                return k
                    .open_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(*nonce),
                        ring::aead::Aad::from(aad),
                        ring::aead::Tag::from(*tag),
                        buf,
                        0..,
                    )
                    .map(|_| ())
                    .map_err(|_| CryptoError::AuthFailed);
            }
        }
        .map_err(|_| CryptoError::AuthFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_every_backend() {
        for &b in Backend::all() {
            for (alg, klen) in
                [(EncrAlg::AesGcm16, 16), (EncrAlg::AesGcm16, 32), (EncrAlg::ChaCha20Poly1305, 32)]
            {
                let c = AeadCipher::new(b, alg, &[7u8; 32][..klen]).unwrap();
                let mut buf = *b"attack at dawn, attack at dusk!";
                let mut tag = [0u8; TAG_LEN];
                c.seal(&[1; 12], b"aad", &mut buf, &mut tag).unwrap();
                assert_ne!(&buf, b"attack at dawn, attack at dusk!");
                let mut bad = buf;
                c.open(&[1; 12], b"aad", &mut buf, &tag).unwrap();
                assert_eq!(&buf, b"attack at dawn, attack at dusk!");
                tag[0] ^= 1;
                assert_eq!(c.open(&[1; 12], b"aad", &mut bad, &tag), Err(CryptoError::AuthFailed));
            }
        }
        assert!(matches!(
            AeadCipher::new(Backend::RustCrypto, EncrAlg::AesGcm16, &[0; 20]),
            Err(CryptoError::BadKeyLength { got: 20 })
        ));
        assert!(matches!(
            AeadCipher::new(Backend::RustCrypto, EncrAlg::AesCbc, &[0; 16]),
            Err(CryptoError::Unsupported)
        ));
    }

    #[cfg(feature = "ring")]
    #[test]
    fn ring_and_rustcrypto_agree() {
        for (alg, klen) in [(EncrAlg::AesGcm16, 16), (EncrAlg::AesGcm16, 32), (EncrAlg::ChaCha20Poly1305, 32)]
        {
            let a = AeadCipher::new(Backend::RustCrypto, alg, &[9u8; 32][..klen]).unwrap();
            let r = AeadCipher::new(Backend::Ring, alg, &[9u8; 32][..klen]).unwrap();
            let (mut x, mut y) = ([5u8; 100], [5u8; 100]);
            let (mut tx, mut ty) = ([0u8; 16], [0u8; 16]);
            a.seal(&[3; 12], b"hdr", &mut x, &mut tx).unwrap();
            r.seal(&[3; 12], b"hdr", &mut y, &mut ty).unwrap();
            assert_eq!((x, tx), (y, ty));
        }
    }
}
