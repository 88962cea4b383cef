//! Truncated HMAC-SHA2 integrity algorithms (RFC 4868 §2) for ESP and IKE.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use super::CryptoError;
use crate::alg::IntegAlg;

/// The longest truncated ICV produced here (HMAC-SHA-512-256).
pub const MAX_ICV_LEN: usize = 32;

/// A keyed integrity algorithm; the inner and outer pads are computed once.
#[derive(Clone)]
#[non_exhaustive]
pub enum Integ {
    /// AUTH_HMAC_SHA2_256_128.
    Sha256_128(Hmac<Sha256>),
    /// AUTH_HMAC_SHA2_384_192.
    Sha384_192(Hmac<Sha384>),
    /// AUTH_HMAC_SHA2_512_256.
    Sha512_256(Hmac<Sha512>),
}

impl core::fmt::Debug for Integ {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Integ({:?}, [redacted])", self.alg())
    }
}

fn run<M: Mac + Clone>(m: &M, parts: &[&[u8]], out: &mut [u8]) {
    let mut m = m.clone();
    for p in parts {
        m.update(p);
    }
    let full = m.finalize().into_bytes();
    let n = out.len().min(full.len());
    out[..n].copy_from_slice(&full[..n]);
}

impl Integ {
    /// Key `alg` with `key`, which must be the algorithm's key length (RFC 4868 §2.1.1).
    pub fn new(alg: IntegAlg, key: &[u8]) -> Result<Self, CryptoError> {
        let needed = alg.key_len().ok_or(CryptoError::Unsupported)?;
        if key.len() != needed {
            return Err(CryptoError::BadKeyLength { got: key.len() });
        }
        let bad = CryptoError::BadKeyLength { got: key.len() };
        match alg {
            IntegAlg::HmacSha256_128 => Ok(Integ::Sha256_128(Hmac::new_from_slice(key).map_err(|_| bad)?)),
            IntegAlg::HmacSha384_192 => Ok(Integ::Sha384_192(Hmac::new_from_slice(key).map_err(|_| bad)?)),
            IntegAlg::HmacSha512_256 => Ok(Integ::Sha512_256(Hmac::new_from_slice(key).map_err(|_| bad)?)),
            _ => Err(CryptoError::Unsupported),
        }
    }

    /// The algorithm id.
    pub fn alg(&self) -> IntegAlg {
        match self {
            Integ::Sha256_128(_) => IntegAlg::HmacSha256_128,
            Integ::Sha384_192(_) => IntegAlg::HmacSha384_192,
            Integ::Sha512_256(_) => IntegAlg::HmacSha512_256,
        }
    }

    /// Length of the truncated ICV.
    pub fn icv_len(&self) -> usize {
        match self {
            Integ::Sha256_128(_) => 16,
            Integ::Sha384_192(_) => 24,
            Integ::Sha512_256(_) => 32,
        }
    }

    /// Compute the ICV over the concatenation of `parts` into `out` (exactly `icv_len` bytes).
    pub fn compute(&self, parts: &[&[u8]], out: &mut [u8]) -> Result<(), CryptoError> {
        if out.len() != self.icv_len() {
            return Err(CryptoError::BadLength { got: out.len(), needed: self.icv_len() });
        }
        match self {
            Integ::Sha256_128(m) => run(m, parts, out),
            Integ::Sha384_192(m) => run(m, parts, out),
            Integ::Sha512_256(m) => run(m, parts, out),
        }
        Ok(())
    }

    /// Check `icv` against the ICV of `parts`, in constant time.
    pub fn verify(&self, parts: &[&[u8]], icv: &[u8]) -> Result<(), CryptoError> {
        let mut buf = [0u8; MAX_ICV_LEN];
        let want = buf.get_mut(..self.icv_len()).ok_or(CryptoError::Unsupported)?;
        self.compute(parts, want)?;
        if crate::secret::ct_eq(want, icv) {
            Ok(())
        } else {
            Err(CryptoError::AuthFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4868_authenticator_case_1_sha256() {
        // RFC 4868 §2.7.2.1, test case AUTH256-1: key 0x0b*32, data "Hi There".
        let i = Integ::new(IntegAlg::HmacSha256_128, &[0x0b; 32]).unwrap();
        let mut out = [0u8; 16];
        i.compute(&[b"Hi ", b"There"], &mut out).unwrap();
        assert_eq!(hex::encode(out), "198a607eb44bfbc69903a0f1cf2bbdc5");
        assert!(i.verify(&[b"Hi There"], &out).is_ok());
        out[15] ^= 0x80;
        assert_eq!(i.verify(&[b"Hi There"], &out), Err(CryptoError::AuthFailed));
        assert!(matches!(
            Integ::new(IntegAlg::HmacSha256_128, &[0; 20]),
            Err(CryptoError::BadKeyLength { got: 20 })
        ));
    }
}
