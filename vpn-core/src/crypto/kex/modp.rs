//! The 2048-bit MODP group (IKEv2 group 14, RFC 3526 §3), generator 2, with constant-time
//! Montgomery exponentiation from `crypto-bigint`.

use super::{fill, KexError};
use crate::secret::SecretVec;
use alloc::vec::Vec;
use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Encoding, U2048};
use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Public values and the shared secret are 256 bytes, big-endian, left-padded (RFC 7296 §3.4).
pub(super) const LEN: usize = 256;

/// p = 2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 } (RFC 3526 §3).
const P: U2048 = U2048::from_be_hex(concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
));
/// p - 1: public values and private exponents must stay below it.
const P_MINUS_1: U2048 = P.wrapping_sub(&U2048::ONE);
/// The generator (RFC 3526 §3).
const G: U2048 = U2048::from_u8(2);

/// Length of a generated exponent: 384 bits. p is a safe prime, so g generates the subgroup of
/// prime order q = (p-1)/2 and a short exponent suffices: NIST SP 800-56A rev3 §5.6.1.1.4 asks for at
/// least 2s = 224 bits at the 112-bit strength of a 2048-bit group (SP 800-57 part 1 table 2), and
/// RFC 3526 §8 estimates 320 bits for its most conservative strength. 384 bits clears both, costs a
/// fifth of a full 2048-bit exponentiation, and is the length strongSwan draws, so its group 14
/// known-answer vector applies unchanged.
pub(super) const GENERATED_EXPONENT_LEN: usize = 48;
/// Draws of a random exponent before giving up on the RNG (only an all-zero draw is redrawn).
const MAX_DRAWS: usize = 4;

/// A private exponent 0 < x < p-1 and the bit length its exponentiations run over (public: it is
/// fixed by the exponent's byte length, not its value).
pub(super) struct Exponent {
    x: U2048,
    bits: usize,
}

impl Drop for Exponent {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

fn params() -> DynResidueParams<{ U2048::LIMBS }> {
    DynResidueParams::new(&P)
}

impl Exponent {
    /// A big-endian exponent of 1..=256 bytes with 0 < x < p-1.
    pub(super) fn from_be_bytes(bytes: &[u8]) -> Result<Self, KexError> {
        if bytes.is_empty() || bytes.len() > LEN {
            return Err(KexError::BadPrivateKey);
        }
        let mut padded = [0u8; LEN];
        padded[LEN - bytes.len()..].copy_from_slice(bytes);
        let exponent = Exponent { x: U2048::from_be_slice(&padded), bits: 8 * bytes.len() };
        padded.zeroize();
        if bool::from(exponent.x.ct_eq(&U2048::ZERO)) || exponent.x >= P_MINUS_1 {
            return Err(KexError::BadPrivateKey);
        }
        Ok(exponent)
    }

    /// A uniformly random nonzero exponent of [`GENERATED_EXPONENT_LEN`] bytes.
    pub(super) fn generate(rng: &mut impl CryptoRngCore) -> Result<Self, KexError> {
        let mut buf = [0u8; GENERATED_EXPONENT_LEN];
        let mut result = Err(KexError::RngFailure);
        for _ in 0..MAX_DRAWS {
            fill(rng, &mut buf)?;
            if let Ok(exponent) = Self::from_be_bytes(&buf) {
                result = Ok(exponent);
                break;
            }
        }
        buf.zeroize();
        result
    }

    /// base^x mod p in constant time for a fixed bit length.
    fn pow(&self, base: &U2048) -> U2048 {
        DynResidue::new(base, params()).pow_bounded_exp(&self.x, self.bits).retrieve()
    }

    /// g^x mod p, 256 bytes big-endian.
    pub(super) fn public_value(&self) -> Vec<u8> {
        self.pow(&G).to_be_bytes().to_vec()
    }

    /// y^x mod p for the peer's y (256 bytes, length already checked), after checking 1 < y < p-1
    /// (RFC 7296 §2.12; RFC 6989; NIST SP 800-56A rev3 §5.6.2.3.1 partial validation).
    pub(super) fn shared_secret(&self, peer: &[u8], invalid: KexError) -> Result<SecretVec, KexError> {
        if peer.len() != LEN {
            return Err(invalid);
        }
        let y = U2048::from_be_slice(peer);
        if y <= U2048::ONE || y >= P_MINUS_1 {
            return Err(invalid);
        }
        let mut z = self.pow(&y);
        // A shared secret of 1 means y had small order; SP 800-56A rev3 §5.7.1.1 refuses it.
        let degenerate = bool::from(z.ct_eq(&U2048::ONE));
        let mut bytes = z.to_be_bytes();
        z.zeroize();
        let shared = SecretVec::from_slice(&bytes);
        bytes.zeroize();
        if degenerate {
            return Err(KexError::LowOrderSharedSecret);
        }
        Ok(shared)
    }
}
