//! HMAC-SHA2 pseudorandom functions and IKEv2's prf+ (RFC 7296 §2.13, RFC 4868 §2.1.2).
//!
//! prf+ is HKDF-Expand (RFC 5869 §2.3) with the seed as `info`, so the `hkdf` crate serves.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use super::CryptoError;
use crate::alg::PrfAlg;

/// The longest PRF output (HMAC-SHA-512).
pub const MAX_PRF_LEN: usize = 64;

/// An HMAC-SHA2 PRF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Prf {
    /// PRF_HMAC_SHA2_256.
    HmacSha256,
    /// PRF_HMAC_SHA2_384.
    HmacSha384,
    /// PRF_HMAC_SHA2_512.
    HmacSha512,
}

fn hmac_parts<M: Mac + hmac::digest::KeyInit>(
    key: &[u8],
    parts: &[&[u8]],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let mut m = <M as Mac>::new_from_slice(key).map_err(|_| CryptoError::BadKeyLength { got: key.len() })?;
    for p in parts {
        m.update(p);
    }
    let r = m.finalize().into_bytes();
    if out.len() != r.len() {
        return Err(CryptoError::BadLength { got: out.len(), needed: r.len() });
    }
    out.copy_from_slice(&r);
    Ok(())
}

impl Prf {
    /// The PRF for an IANA id.
    pub fn from_alg(alg: PrfAlg) -> Result<Self, CryptoError> {
        match alg {
            PrfAlg::HmacSha256 => Ok(Prf::HmacSha256),
            PrfAlg::HmacSha384 => Ok(Prf::HmacSha384),
            PrfAlg::HmacSha512 => Ok(Prf::HmacSha512),
            _ => Err(CryptoError::Unsupported),
        }
    }

    /// The IANA id.
    pub fn alg(self) -> PrfAlg {
        match self {
            Prf::HmacSha256 => PrfAlg::HmacSha256,
            Prf::HmacSha384 => PrfAlg::HmacSha384,
            Prf::HmacSha512 => PrfAlg::HmacSha512,
        }
    }

    /// Output length in bytes (also the preferred key length).
    pub fn output_len(self) -> usize {
        match self {
            Prf::HmacSha256 => 32,
            Prf::HmacSha384 => 48,
            Prf::HmacSha512 => 64,
        }
    }

    /// `prf(key, parts[0] | parts[1] | ...)` into `out`, which must be `output_len()` bytes.
    pub fn compute(self, key: &[u8], parts: &[&[u8]], out: &mut [u8]) -> Result<(), CryptoError> {
        match self {
            Prf::HmacSha256 => hmac_parts::<Hmac<Sha256>>(key, parts, out),
            Prf::HmacSha384 => hmac_parts::<Hmac<Sha384>>(key, parts, out),
            Prf::HmacSha512 => hmac_parts::<Hmac<Sha512>>(key, parts, out),
        }
    }

    /// `prf+(key, seed)` (RFC 7296 §2.13) filling `out`; at most 255 blocks.
    ///
    /// `key` shorter than the PRF output is allowed (HMAC pads it), as IKE's SKEYSEED and SK_d
    /// are always full length this only matters for test vectors.
    pub fn prf_plus(self, key: &[u8], seed: &[u8], out: &mut [u8]) -> Result<(), CryptoError> {
        let max = 255 * self.output_len();
        if out.len() > max {
            return Err(CryptoError::BadLength { got: out.len(), needed: max });
        }
        if key.len() >= self.output_len() {
            let r = match self {
                Prf::HmacSha256 => Hkdf::<Sha256>::from_prk(key).ok().map(|h| h.expand(seed, out).is_ok()),
                Prf::HmacSha384 => Hkdf::<Sha384>::from_prk(key).ok().map(|h| h.expand(seed, out).is_ok()),
                Prf::HmacSha512 => Hkdf::<Sha512>::from_prk(key).ok().map(|h| h.expand(seed, out).is_ok()),
            };
            if r == Some(true) {
                return Ok(());
            }
        }
        // Short keys: the same construction, block by block.
        let n = self.output_len();
        let mut t = [0u8; MAX_PRF_LEN];
        let mut t_len = 0;
        for (i, chunk) in out.chunks_mut(n).enumerate() {
            let counter = [(i + 1) as u8];
            let mut block = [0u8; MAX_PRF_LEN];
            self.compute(key, &[&t[..t_len], seed, &counter], &mut block[..n])?;
            chunk.copy_from_slice(&block[..chunk.len()]);
            t[..n].copy_from_slice(&block[..n]);
            t_len = n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4868_prf_case_1() {
        // RFC 4868 §2.7.1, PRF-1 (key 0x0b*20, "Hi There").
        let mut out = [0u8; 32];
        Prf::HmacSha256.compute(&[0x0b; 20], &[b"Hi There"], &mut out).unwrap();
        assert_eq!(hex::encode(out), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    }

    #[test]
    fn prf_plus_matches_its_definition() {
        let key = [0x42u8; 32];
        let seed = b"seed";
        let mut out = [0u8; 80];
        Prf::HmacSha256.prf_plus(&key, seed, &mut out).unwrap();
        let (mut t1, mut t2, mut t3) = ([0u8; 32], [0u8; 32], [0u8; 32]);
        Prf::HmacSha256.compute(&key, &[seed, &[1]], &mut t1).unwrap();
        Prf::HmacSha256.compute(&key, &[&t1, seed, &[2]], &mut t2).unwrap();
        Prf::HmacSha256.compute(&key, &[&t2, seed, &[3]], &mut t3).unwrap();
        assert_eq!(&out[..32], &t1);
        assert_eq!(&out[32..64], &t2);
        assert_eq!(&out[64..], &t3[..16]);
        // A short key takes the block-by-block path and agrees with the definition too.
        let mut short = [0u8; 40];
        Prf::HmacSha256.prf_plus(&key[..16], seed, &mut short).unwrap();
        Prf::HmacSha256.compute(&key[..16], &[seed, &[1]], &mut t1).unwrap();
        assert_eq!(&short[..32], &t1);
    }
}
