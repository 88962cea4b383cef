//! Curve25519 (IKEv2 group 31, RFC 8031): X25519 of RFC 7748.

use super::{fill, KexError};
use crate::secret::SecretVec;
use alloc::vec::Vec;
use rand_core::CryptoRngCore;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroize;

/// Public value and shared secret are 32-byte little-endian u-coordinates (RFC 8031, RFC 7748 §5).
pub(super) const LEN: usize = 32;

pub(super) fn from_private(private: &[u8]) -> Result<StaticSecret, KexError> {
    let mut scalar: [u8; LEN] = private.try_into().map_err(|_| KexError::BadPrivateKey)?;
    let secret = StaticSecret::from(scalar);
    scalar.zeroize();
    Ok(secret)
}

pub(super) fn generate(rng: &mut impl CryptoRngCore) -> Result<StaticSecret, KexError> {
    // Any 32 bytes are a valid scalar: X25519 clamps it (RFC 7748 §5).
    let mut scalar = [0u8; LEN];
    fill(rng, &mut scalar)?;
    let secret = StaticSecret::from(scalar);
    scalar.zeroize();
    Ok(secret)
}

pub(super) fn public_value(secret: &StaticSecret) -> Vec<u8> {
    PublicKey::from(secret).as_bytes().to_vec()
}

/// `peer` has been length-checked by the caller.
pub(super) fn shared_secret(secret: &StaticSecret, peer: &[u8]) -> Result<SecretVec, KexError> {
    let peer: [u8; LEN] = peer.try_into().map_err(|_| KexError::BadPublicLength {
        group: crate::alg::KeGroup::Curve25519,
        got: peer.len(),
        expected: LEN,
    })?;
    // X25519 masks the top bit and accepts non-canonical u (RFC 7748 §5).
    let shared = secret.diffie_hellman(&PublicKey::from(peer));
    // A low-order peer point gives the all-zero output, which MUST be refused (RFC 7748 §6.1).
    if !shared.was_contributory() {
        return Err(KexError::LowOrderSharedSecret);
    }
    Ok(SecretVec::from_slice(shared.as_bytes()))
}
