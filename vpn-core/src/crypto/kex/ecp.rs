//! ECP-256 and ECP-384 (IKEv2 groups 19 and 20, RFC 5903) on the NIST P-256 and P-384 curves.

use super::{fill, KexError};
use crate::secret::SecretVec;
use alloc::vec::Vec;
use p256::elliptic_curve::ecdh::diffie_hellman;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ModulusSize, ToEncodedPoint};
use p256::elliptic_curve::{AffinePoint, CurveArithmetic, FieldBytesSize, PublicKey, SecretKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroize;

/// Coordinate (and private scalar) length of P-256.
pub(super) const P256_COORD_LEN: usize = 32;
/// Coordinate (and private scalar) length of P-384.
pub(super) const P384_COORD_LEN: usize = 48;
/// The SEC1 tag of an uncompressed point; IKEv2 leaves it out (RFC 5903 §7 and its erratum).
const SEC1_UNCOMPRESSED: u8 = 0x04;
/// Room for 0x04 || x || y of the largest curve.
const MAX_SEC1: usize = 1 + 2 * P384_COORD_LEN;
/// Draws of a random scalar before giving up on the RNG; one retry is needed with probability
/// about 2^-32 for P-256 and 2^-190 for P-384, so 16 failures mean the RNG is broken.
const MAX_DRAWS: usize = 16;

/// The bounds one RFC 5903 curve needs.
pub(super) trait Curve: CurveArithmetic
where
    AffinePoint<Self>: FromEncodedPoint<Self> + ToEncodedPoint<Self>,
    FieldBytesSize<Self>: ModulusSize,
{
}
impl Curve for p256::NistP256 {}
impl Curve for p384::NistP384 {}

fn coord_len<C: Curve>() -> usize
where
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    <FieldBytesSize<C> as p256::elliptic_curve::generic_array::typenum::Unsigned>::USIZE
}

/// A private scalar 0 < d < n, big-endian, of exactly the field length.
pub(super) fn from_private<C: Curve>(private: &[u8]) -> Result<SecretKey<C>, KexError>
where
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    if private.len() != coord_len::<C>() {
        return Err(KexError::BadPrivateKey);
    }
    SecretKey::<C>::from_slice(private).map_err(|_| KexError::BadPrivateKey)
}

/// A random scalar by rejection sampling (FIPS 186-5 §A.4.2): draw field-length bytes until 0 < d < n.
pub(super) fn generate<C: Curve>(rng: &mut impl CryptoRngCore) -> Result<SecretKey<C>, KexError>
where
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let mut buf = [0u8; P384_COORD_LEN];
    let len = coord_len::<C>();
    let mut result = Err(KexError::RngFailure);
    for _ in 0..MAX_DRAWS {
        let draw = buf.get_mut(..len).ok_or(KexError::BadPrivateKey)?;
        fill(rng, draw)?;
        if let Ok(sk) = SecretKey::<C>::from_slice(draw) {
            result = Ok(sk);
            break;
        }
    }
    buf.zeroize();
    result
}

/// The KE data: x || y without the 0x04 prefix (RFC 5903 §7).
pub(super) fn public_value<C: Curve>(secret: &SecretKey<C>) -> Vec<u8>
where
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let point = secret.public_key().to_encoded_point(false);
    point.as_bytes().get(1..).unwrap_or_default().to_vec()
}

/// The x coordinate of d * peer (RFC 5903 §7), or `None` if `peer` (x || y, length already checked)
/// is not a point on the curve other than the identity (RFC 6989).
pub(super) fn shared_secret<C: Curve>(secret: &SecretKey<C>, peer: &[u8]) -> Option<SecretVec>
where
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let mut sec1 = [0u8; MAX_SEC1];
    let encoded = sec1.get_mut(..1 + peer.len())?;
    let (tag, xy) = encoded.split_first_mut()?;
    *tag = SEC1_UNCOMPRESSED;
    xy.copy_from_slice(peer);
    // SEC1 decoding checks the point is on the curve; 0x04 || 0 || 0 is not, and the identity
    // has no uncompressed encoding, so the point is a valid non-identity element.
    let public = PublicKey::<C>::from_sec1_bytes(encoded).ok()?;
    let shared = diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
    Some(SecretVec::from_slice(shared.raw_secret_bytes()))
}
