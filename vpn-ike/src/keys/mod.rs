//! IKE SA and Child SA key material (RFC 7296 §2.13-§2.18), the SK payload (§3.14) and IKE
//! fragmentation (RFC 7383).
//!
//! - [`skeyseed`], [`IkeKeys::derive`]: SKEYSEED and the seven SK_* keys (§2.14).
//! - [`child_keymat`]: KEYMAT for a Child SA (§2.17); [`rekey_skeyseed`]: SKEYSEED of a rekeyed
//!   IKE SA (§2.18).
//! - [`sk`]: protecting and unprotecting messages with the SK payload.
//! - [`frag`]: splitting into SKF fragments and reassembling them.

pub mod frag;
pub mod sk;

use alloc::vec;
use alloc::vec::Vec;
use vpn_core::alg::{EncrAlg, IntegAlg, KeGroup, PrfAlg};
use vpn_core::crypto::{CryptoError, Prf};
use vpn_core::secret::{SecretBytes, SecretVec};

/// What went wrong while deriving keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An algorithm (or key length) this implementation does not support.
    #[error("unsupported algorithm {0:?}")]
    Unsupported(AlgKind),
    /// A primitive failed (wrong key length, output too long for prf+).
    #[error("crypto primitive failed: {0}")]
    Crypto(#[from] CryptoError),
    /// A derived key longer than the inline secret type holds.
    #[error("derived key of {0} bytes is too long")]
    KeyTooLong(usize),
}

/// Which transform a [`KeyError::Unsupported`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlgKind {
    /// The encryption algorithm (or its key length).
    Encr(EncrAlg, u16),
    /// The PRF.
    Prf(PrfAlg),
    /// The integrity algorithm.
    Integ(IntegAlg),
    /// The key exchange method.
    Ke(KeGroup),
}

/// The transforms of a negotiated IKE SA (one of each type, RFC 7296 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IkeSuite {
    /// Encryption algorithm.
    pub encr: EncrAlg,
    /// Encryption key length in bits (128 or 256; 256 for ChaCha20-Poly1305).
    pub encr_key_bits: u16,
    /// Pseudorandom function.
    pub prf: PrfAlg,
    /// Integrity algorithm ([`IntegAlg::None`] with AEAD ciphers).
    pub integ: IntegAlg,
    /// Key exchange method.
    pub ke: KeGroup,
}

impl IkeSuite {
    /// The PRF implementation.
    pub fn prf(&self) -> Result<Prf, KeyError> {
        Prf::from_alg(self.prf).map_err(|_| KeyError::Unsupported(AlgKind::Prf(self.prf)))
    }

    /// SK_e length: the cipher key plus the 4-byte salt of AEAD ciphers (RFC 5282 §7.1, RFC 7634 §3).
    pub fn encr_key_len(&self) -> Result<usize, KeyError> {
        encr_key_len(self.encr, self.encr_key_bits)
    }

    /// SK_a length (zero for AEAD ciphers).
    pub fn integ_key_len(&self) -> Result<usize, KeyError> {
        integ_key_len(self.encr, self.integ)
    }
}

/// Key length (bytes) of an encryption transform including an AEAD salt, for IKE and ESP alike.
pub fn encr_key_len(encr: EncrAlg, bits: u16) -> Result<usize, KeyError> {
    match (encr, bits) {
        (EncrAlg::AesCbc, 128 | 256) => Ok(usize::from(bits / 8)),
        // RFC 5282 §7.1 (IKE), RFC 4106 §8.1 (ESP): the key is followed by a 4-byte salt.
        (EncrAlg::AesGcm16, 128 | 256) => Ok(usize::from(bits / 8) + 4),
        // RFC 7634 §3: 256-bit key and a 4-byte salt.
        (EncrAlg::ChaCha20Poly1305, 256) => Ok(36),
        _ => Err(KeyError::Unsupported(AlgKind::Encr(encr, bits))),
    }
}

/// Key length (bytes) of the integrity transform used with `encr` (zero with an AEAD).
pub fn integ_key_len(encr: EncrAlg, integ: IntegAlg) -> Result<usize, KeyError> {
    match (encr.is_aead(), integ) {
        (true, IntegAlg::None) => Ok(0),
        (false, IntegAlg::HmacSha256_128 | IntegAlg::HmacSha384_192 | IntegAlg::HmacSha512_256) => {
            integ.key_len().ok_or(KeyError::Unsupported(AlgKind::Integ(integ)))
        }
        _ => Err(KeyError::Unsupported(AlgKind::Integ(integ))),
    }
}

fn secret(bytes: &[u8]) -> Result<SecretBytes, KeyError> {
    SecretBytes::new(bytes).map_err(|e| KeyError::KeyTooLong(e.len))
}

/// SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 §2.14).
pub fn skeyseed(prf: Prf, ni: &[u8], nr: &[u8], gir: &[u8]) -> Result<SecretBytes, KeyError> {
    let mut key = Vec::with_capacity(ni.len() + nr.len());
    key.extend_from_slice(ni);
    key.extend_from_slice(nr);
    let mut out = [0u8; vpn_core::crypto::prf::MAX_PRF_LEN];
    let n = prf.output_len();
    let o = out.get_mut(..n).ok_or(KeyError::KeyTooLong(n))?;
    prf.compute(&key, &[gir], o)?;
    let s = secret(o);
    zeroize::Zeroize::zeroize(&mut out);
    s
}

/// SKEYSEED of a rekeyed IKE SA = prf(SK_d (old), g^ir (new) | Ni | Nr) (RFC 7296 §2.18).
pub fn rekey_skeyseed(
    prf: Prf,
    sk_d_old: &[u8],
    gir_new: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> Result<SecretBytes, KeyError> {
    let mut out = [0u8; vpn_core::crypto::prf::MAX_PRF_LEN];
    let n = prf.output_len();
    let o = out.get_mut(..n).ok_or(KeyError::KeyTooLong(n))?;
    prf.compute(sk_d_old, &[gir_new, ni, nr], o)?;
    let s = secret(o);
    zeroize::Zeroize::zeroize(&mut out);
    s
}

/// prf+(key, seed) of `len` bytes into a zeroizing buffer (RFC 7296 §2.13).
pub fn prf_plus(prf: Prf, key: &[u8], seed: &[u8], len: usize) -> Result<SecretVec, KeyError> {
    let mut out = SecretVec::new(vec![0u8; len]);
    prf.prf_plus(key, seed, out.expose_mut())?;
    Ok(out)
}

/// KEYMAT = prf+(SK_d, [g^ir (new)] | Ni | Nr) for a Child SA (RFC 7296 §2.17).
pub fn child_keymat(
    prf: Prf,
    sk_d: &[u8],
    gir_new: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Result<SecretVec, KeyError> {
    let g = gir_new.unwrap_or_default();
    let mut s = Vec::with_capacity(g.len() + ni.len() + nr.len());
    s.extend_from_slice(g);
    s.extend_from_slice(ni);
    s.extend_from_slice(nr);
    // The seed holds g^ir: keep it in a zeroizing buffer.
    let seed = SecretVec::new(s);
    prf_plus(prf, sk_d, seed.expose(), len)
}

/// The seven keys of an IKE SA (RFC 7296 §2.14), each zeroized on drop.
#[derive(Clone, Debug)]
pub struct IkeKeys {
    /// SK_d: derives Child SA keys.
    pub sk_d: SecretBytes,
    /// SK_ai: integrity, initiator to responder.
    pub sk_ai: SecretBytes,
    /// SK_ar: integrity, responder to initiator.
    pub sk_ar: SecretBytes,
    /// SK_ei: encryption, initiator to responder (with salt for AEAD).
    pub sk_ei: SecretBytes,
    /// SK_er: encryption, responder to initiator (with salt for AEAD).
    pub sk_er: SecretBytes,
    /// SK_pi: the initiator's AUTH payload key.
    pub sk_pi: SecretBytes,
    /// SK_pr: the responder's AUTH payload key.
    pub sk_pr: SecretBytes,
}

impl IkeKeys {
    /// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
    /// (RFC 7296 §2.14).
    pub fn derive(
        suite: &IkeSuite,
        skeyseed: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<IkeKeys, KeyError> {
        let prf = suite.prf()?;
        let (p, a, e) = (prf.output_len(), suite.integ_key_len()?, suite.encr_key_len()?);
        let mut seed = Vec::with_capacity(ni.len() + nr.len() + 16);
        seed.extend_from_slice(ni);
        seed.extend_from_slice(nr);
        seed.extend_from_slice(&spi_i.to_be_bytes());
        seed.extend_from_slice(&spi_r.to_be_bytes());
        let km = prf_plus(prf, skeyseed, &seed, 3 * p + 2 * a + 2 * e)?;
        let mut rest = km.expose();
        let mut next = |n: usize| -> Result<SecretBytes, KeyError> {
            let (head, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            secret(head)
        };
        Ok(IkeKeys {
            sk_d: next(p)?,
            sk_ai: next(a)?,
            sk_ar: next(a)?,
            sk_ei: next(e)?,
            sk_er: next(e)?,
            sk_pi: next(p)?,
            sk_pr: next(p)?,
        })
    }

    /// Every key all zero bytes, at the suite's lengths: for fuzzing only (feature `fuzzing`),
    /// so that a fuzzer can build valid SK payloads for an endpoint configured with
    /// `EndpointConfig::fuzzing_fixed_keys`. Never use it to protect traffic.
    #[cfg(feature = "fuzzing")]
    pub fn fixed_for_fuzzing(suite: &IkeSuite) -> Result<IkeKeys, KeyError> {
        let zero = [0u8; vpn_core::secret::MAX_INLINE_SECRET];
        let (p, a, e) = (suite.prf()?.output_len(), suite.integ_key_len()?, suite.encr_key_len()?);
        let k = |n: usize| secret(zero.get(..n).unwrap_or_default());
        Ok(IkeKeys {
            sk_d: k(p)?,
            sk_ai: k(a)?,
            sk_ar: k(a)?,
            sk_ei: k(e)?,
            sk_er: k(e)?,
            sk_pi: k(p)?,
            sk_pr: k(p)?,
        })
    }

    /// Runs §2.14 from the shared secret: SKEYSEED, then the seven keys.
    pub fn from_shared_secret(
        suite: &IkeSuite,
        gir: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<IkeKeys, KeyError> {
        let seed = skeyseed(suite.prf()?, ni, nr, gir)?;
        IkeKeys::derive(suite, seed.expose(), ni, nr, spi_i, spi_r)
    }
}

#[cfg(test)]
mod tests;
