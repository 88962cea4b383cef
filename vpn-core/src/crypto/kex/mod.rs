//! IKEv2 key exchange: the KE payload's public value and the shared secret g^ir (RFC 7296 §1.2, §2.14).
//!
//! Groups: Curve25519 (31, RFC 8031), ECP-256 (19) and ECP-384 (20) (RFC 5903), MODP-2048 (14, RFC 3526).
//! Sans-IO: randomness comes from the caller's RNG. Every peer value is length-checked and validated
//! before use (RFC 7296 §2.12, RFC 6989), and a degenerate shared secret is refused.

mod curve25519;
mod ecp;
mod modp;

use crate::alg::KeGroup;
use crate::secret::SecretVec;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use rand_core::CryptoRngCore;

/// The groups this module implements, in order of preference.
const SUPPORTED: &[KeGroup] = &[KeGroup::Curve25519, KeGroup::Ecp256, KeGroup::Ecp384, KeGroup::Modp2048];

/// The key exchange groups [`KeyExchange`] implements, most preferred first.
pub fn supported_groups() -> &'static [KeGroup] {
    SUPPORTED
}

/// Length of the KE payload's key exchange data for `group`, or `None` if the group is not supported.
pub fn public_value_len(group: KeGroup) -> Option<usize> {
    match group {
        KeGroup::Curve25519 => Some(curve25519::LEN),
        KeGroup::Ecp256 => Some(2 * ecp::P256_COORD_LEN),
        KeGroup::Ecp384 => Some(2 * ecp::P384_COORD_LEN),
        KeGroup::Modp2048 => Some(modp::LEN),
        _ => None,
    }
}

/// What went wrong in a key exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KexError {
    /// The group is not implemented (IKEv2 answers INVALID_KE_PAYLOAD, RFC 7296 §1.2).
    #[error("key exchange group {0:?} is not supported")]
    UnsupportedGroup(KeGroup),
    /// The peer's key exchange data has the wrong length for the group.
    #[error("key exchange data of {got} bytes for {group:?}, {expected} expected")]
    BadPublicLength {
        /// The group negotiated.
        group: KeGroup,
        /// Length received.
        got: usize,
        /// Length the group requires.
        expected: usize,
    },
    /// The peer's public value is off the curve, the identity, or out of range.
    #[error("the peer's public value for {group:?} is invalid")]
    InvalidPublicValue {
        /// The group negotiated.
        group: KeGroup,
    },
    /// The shared secret is degenerate (all zero, or 1), so the peer sent a low-order value.
    #[error("the shared secret is degenerate (a low-order peer public value)")]
    LowOrderSharedSecret,
    /// A private value of the wrong length or out of range.
    #[error("private value of the wrong length or out of range")]
    BadPrivateKey,
    /// The caller's random number generator failed.
    #[error("the random number generator failed")]
    RngFailure,
}

/// The private value of one group.
enum Private {
    Curve25519(x25519_dalek::StaticSecret),
    Ecp256(p256::SecretKey),
    Ecp384(p384::SecretKey),
    /// Boxed: 256 bytes, next to at most 48 for the curves.
    Modp2048(Box<modp::Exponent>),
}

/// One side of a key exchange: the group, the private value (zeroized on drop) and the public value.
pub struct KeyExchange {
    group: KeGroup,
    private: Private,
    public: Vec<u8>,
}

impl KeyExchange {
    /// A fresh key pair for `group`, with the private value drawn from `rng`.
    pub fn generate(group: KeGroup, rng: &mut impl CryptoRngCore) -> Result<Self, KexError> {
        let private = match group {
            KeGroup::Curve25519 => Private::Curve25519(curve25519::generate(rng)?),
            KeGroup::Ecp256 => Private::Ecp256(ecp::generate(rng)?),
            KeGroup::Ecp384 => Private::Ecp384(ecp::generate(rng)?),
            KeGroup::Modp2048 => Private::Modp2048(Box::new(modp::Exponent::generate(rng)?)),
            other => return Err(KexError::UnsupportedGroup(other)),
        };
        Ok(Self::with_private(group, private))
    }

    /// A key pair from a fixed private value (for test vectors and fixed-key tests).
    ///
    /// Curve25519: the 32-byte scalar as RFC 7748 prints it (clamped by X25519 itself). ECP: the
    /// 32/48-byte big-endian scalar, 0 < d < n. MODP-2048: a big-endian exponent of 1 to 256 bytes,
    /// 0 < x < p-1; its length in bits bounds the exponentiation.
    pub fn from_private(group: KeGroup, private: &[u8]) -> Result<Self, KexError> {
        let private = match group {
            KeGroup::Curve25519 => Private::Curve25519(curve25519::from_private(private)?),
            KeGroup::Ecp256 => Private::Ecp256(ecp::from_private(private)?),
            KeGroup::Ecp384 => Private::Ecp384(ecp::from_private(private)?),
            KeGroup::Modp2048 => Private::Modp2048(Box::new(modp::Exponent::from_be_bytes(private)?)),
            other => return Err(KexError::UnsupportedGroup(other)),
        };
        Ok(Self::with_private(group, private))
    }

    fn with_private(group: KeGroup, private: Private) -> Self {
        let public = match &private {
            Private::Curve25519(sk) => curve25519::public_value(sk),
            Private::Ecp256(sk) => ecp::public_value(sk),
            Private::Ecp384(sk) => ecp::public_value(sk),
            Private::Modp2048(x) => x.public_value(),
        };
        KeyExchange { group, private, public }
    }

    /// The group of this key pair.
    pub fn group(&self) -> KeGroup {
        self.group
    }

    /// The KE payload's key exchange data (RFC 7296 §3.4), computed once at creation.
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// The shared secret g^ir from the peer's key exchange data, after validating it.
    pub fn shared_secret(&self, peer_public: &[u8]) -> Result<SecretVec, KexError> {
        let expected = self.public.len();
        if peer_public.len() != expected {
            return Err(KexError::BadPublicLength { group: self.group, got: peer_public.len(), expected });
        }
        let invalid = KexError::InvalidPublicValue { group: self.group };
        match &self.private {
            Private::Curve25519(sk) => curve25519::shared_secret(sk, peer_public),
            Private::Ecp256(sk) => ecp::shared_secret(sk, peer_public).ok_or(invalid),
            Private::Ecp384(sk) => ecp::shared_secret(sk, peer_public).ok_or(invalid),
            Private::Modp2048(x) => x.shared_secret(peer_public, invalid),
        }
    }
}

impl fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .field("private", &format_args!("[redacted]"))
            .finish()
    }
}

/// Fill `buf` from the caller's RNG, reporting a failure rather than panicking.
fn fill(rng: &mut impl CryptoRngCore, buf: &mut [u8]) -> Result<(), KexError> {
    rng.try_fill_bytes(buf).map_err(|_| KexError::RngFailure)
}

#[cfg(test)]
mod tests;
