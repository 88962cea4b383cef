//! Properties and rejections of every group; the published vectors are in `tests/kex_vectors.rs`.

use super::*;
use alloc::format;
use alloc::vec;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const ALL: [KeGroup; 4] = [KeGroup::Curve25519, KeGroup::Ecp256, KeGroup::Ecp384, KeGroup::Modp2048];

/// RFC 3526 §3 prime, big-endian.
const MODP2048_P: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn hex(s: &str) -> Vec<u8> {
    ::hex::decode(s).unwrap()
}

/// A 256-byte big-endian value p + delta (delta in -1..=1).
fn p_plus(delta: i8) -> Vec<u8> {
    let mut v = hex(MODP2048_P);
    // p ends in ...FF FF, so +1 carries through the trailing 0xff bytes; do it by hand.
    match delta {
        -1 => *v.last_mut().unwrap() -= 1,
        0 => {}
        1 => {
            let mut i = v.len();
            loop {
                i -= 1;
                let (sum, carry) = v[i].overflowing_add(1);
                v[i] = sum;
                if !carry {
                    break;
                }
            }
        }
        _ => unreachable!(),
    }
    v
}

fn be_small(n: u8) -> Vec<u8> {
    let mut v = vec![0u8; 256];
    v[255] = n;
    v
}

#[test]
fn supported_groups_and_public_lengths() {
    assert_eq!(supported_groups(), &ALL);
    let lens: Vec<_> = ALL.iter().map(|g| public_value_len(*g)).collect();
    assert_eq!(lens, [Some(32), Some(64), Some(96), Some(256)]);
    for g in [KeGroup::None, KeGroup::Modp1024, KeGroup::Ecp521, KeGroup::Curve448, KeGroup::Unknown(999)] {
        assert_eq!(public_value_len(g), None);
        assert_eq!(KeyExchange::generate(g, &mut rng(1)).unwrap_err(), KexError::UnsupportedGroup(g));
        assert_eq!(KeyExchange::from_private(g, &[1; 32]).unwrap_err(), KexError::UnsupportedGroup(g));
    }
}

#[test]
fn two_parties_agree_in_every_group() {
    for (n, group) in ALL.into_iter().enumerate() {
        let seed = 2 * n as u64;
        let a = KeyExchange::generate(group, &mut rng(seed)).unwrap();
        let b = KeyExchange::generate(group, &mut rng(seed + 1)).unwrap();
        assert_eq!(a.group(), group);
        assert_eq!(a.public_value().len(), public_value_len(group).unwrap());
        assert_ne!(a.public_value(), b.public_value());
        let ab = a.shared_secret(b.public_value()).unwrap();
        let ba = b.shared_secret(a.public_value()).unwrap();
        assert_eq!(ab, ba, "{group:?}");
        let expected_len = match group {
            KeGroup::Ecp256 => 32,
            KeGroup::Ecp384 => 48,
            other => public_value_len(other).unwrap(),
        };
        assert_eq!(ab.len(), expected_len);
        // The same seed gives the same key pair (the RNG is the only source of randomness).
        let again = KeyExchange::generate(group, &mut rng(seed)).unwrap();
        assert_eq!(again.public_value(), a.public_value());
    }
}

#[test]
fn wrong_lengths_are_rejected_in_every_group() {
    for group in ALL {
        let kex = KeyExchange::generate(group, &mut rng(7)).unwrap();
        let expected = public_value_len(group).unwrap();
        for got in [0, 1, expected - 1, expected + 1, 2 * expected, 32, 64, 65, 96, 97, 256, 257] {
            if got == expected {
                continue;
            }
            let peer = vec![0x42u8; got];
            assert_eq!(
                kex.shared_secret(&peer).unwrap_err(),
                KexError::BadPublicLength { group, got, expected },
                "{group:?} {got}"
            );
        }
    }
}

#[test]
fn modp_peer_values_out_of_range_are_rejected() {
    let group = KeGroup::Modp2048;
    let kex = KeyExchange::generate(group, &mut rng(3)).unwrap();
    let invalid = KexError::InvalidPublicValue { group };
    // 1 < y < p-1 (RFC 7296 §2.12; NIST SP 800-56A rev3 §5.6.2.3.1).
    for (name, y) in [
        ("0", be_small(0)),
        ("1", be_small(1)),
        ("p-1", p_plus(-1)),
        ("p", p_plus(0)),
        ("p+1", p_plus(1)),
        ("all ff", vec![0xff; 256]),
    ] {
        assert_eq!(kex.shared_secret(&y).unwrap_err(), invalid, "{name}");
    }
    // The bounds themselves: 2 and p-2 are accepted, and y = g gives g^x, our own public value.
    assert_eq!(kex.shared_secret(&be_small(2)).unwrap().expose(), kex.public_value());
    let mut p_minus_2 = p_plus(-1);
    *p_minus_2.last_mut().unwrap() -= 1;
    assert!(kex.shared_secret(&p_minus_2).is_ok());
}

#[test]
fn modp_values_are_left_padded_big_endian() {
    // x = 1: g^x = 2; x = 10: g^x = 1024 = 0x0400; both 256 bytes, left-padded (RFC 7296 §3.4).
    let one = KeyExchange::from_private(KeGroup::Modp2048, &[1]).unwrap();
    assert_eq!(one.public_value(), be_small(2).as_slice());
    let ten = KeyExchange::from_private(KeGroup::Modp2048, &[0, 10]).unwrap();
    let mut expected = vec![0u8; 256];
    expected[254] = 0x04;
    assert_eq!(ten.public_value(), expected.as_slice());
    // (2^10)^1 = 2^10: the shared secret is padded the same way.
    assert_eq!(one.shared_secret(ten.public_value()).unwrap().expose(), expected.as_slice());
    assert_eq!(ten.shared_secret(one.public_value()).unwrap().expose(), expected.as_slice());
}

#[test]
fn ecp_off_curve_and_identity_are_rejected() {
    for group in [KeGroup::Ecp256, KeGroup::Ecp384] {
        let kex = KeyExchange::generate(group, &mut rng(5)).unwrap();
        let peer = KeyExchange::generate(group, &mut rng(6)).unwrap();
        let len = public_value_len(group).unwrap();
        let invalid = KexError::InvalidPublicValue { group };
        // y flipped in its last bit: off the curve (x^3 - 3x + b has at most the roots +-y).
        let mut off = peer.public_value().to_vec();
        *off.last_mut().unwrap() ^= 1;
        assert_eq!(kex.shared_secret(&off).unwrap_err(), invalid, "{group:?} off-curve");
        // The identity, in the all-zero form some encoders use for it: (0, 0) is not on the curve.
        assert_eq!(kex.shared_secret(&vec![0; len]).unwrap_err(), invalid, "{group:?} identity");
        // Coordinates >= the field prime.
        assert_eq!(kex.shared_secret(&vec![0xff; len]).unwrap_err(), invalid, "{group:?} all ff");
        // The unmodified point is accepted.
        assert!(kex.shared_secret(peer.public_value()).is_ok());
    }
}

#[test]
fn x25519_low_order_points_are_rejected() {
    let kex = KeyExchange::generate(KeGroup::Curve25519, &mut rng(9)).unwrap();
    // Little-endian u = 0, 1, p-1, p, p+1 (p = 2^255 - 19): points of order 1, 2 or 4 and their
    // non-canonical aliases; X25519 of a clamped scalar gives all zero (RFC 7748 §6.1).
    let mut zero = [0u8; 32];
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut p_minus_1 = [0xffu8; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut p = p_minus_1;
    p[0] = 0xed;
    let mut p_plus_1 = p_minus_1;
    p_plus_1[0] = 0xee;
    for u in [&mut zero, &mut one, &mut p_minus_1, &mut p, &mut p_plus_1] {
        assert_eq!(kex.shared_secret(u.as_slice()).unwrap_err(), KexError::LowOrderSharedSecret);
    }
}

#[test]
fn bad_private_values_are_rejected() {
    let bad = KexError::BadPrivateKey;
    for (group, private) in [
        (KeGroup::Curve25519, vec![1u8; 31]),
        (KeGroup::Curve25519, vec![1u8; 33]),
        (KeGroup::Ecp256, vec![1u8; 31]),
        (KeGroup::Ecp256, vec![1u8; 48]),
        (KeGroup::Ecp256, vec![0u8; 32]),
        // n, the order of P-256's base point.
        (KeGroup::Ecp256, hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")),
        (KeGroup::Ecp256, vec![0xff; 32]),
        (KeGroup::Ecp384, vec![1u8; 32]),
        (KeGroup::Ecp384, vec![0u8; 48]),
        (KeGroup::Ecp384, vec![0xff; 48]),
        (KeGroup::Modp2048, vec![]),
        (KeGroup::Modp2048, vec![0u8; 48]),
        (KeGroup::Modp2048, vec![1u8; 257]),
        (KeGroup::Modp2048, p_plus(-1)),
        (KeGroup::Modp2048, vec![0xff; 256]),
    ] {
        assert_eq!(KeyExchange::from_private(group, &private).unwrap_err(), bad, "{group:?} {private:02x?}");
    }
    // The largest values in range are accepted.
    let n_minus_1 = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550");
    assert!(KeyExchange::from_private(KeGroup::Ecp256, &n_minus_1).is_ok());
    let mut p_minus_2 = p_plus(-1);
    *p_minus_2.last_mut().unwrap() -= 1;
    assert!(KeyExchange::from_private(KeGroup::Modp2048, &p_minus_2).is_ok());
}

/// An RNG that fails, or that returns only zeros.
struct BrokenRng {
    fail: bool,
}

impl rand_core::RngCore for BrokenRng {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        if self.fail {
            return Err(rand_core::Error::from(
                core::num::NonZeroU32::new(rand_core::Error::CUSTOM_START).unwrap(),
            ));
        }
        dest.fill(0);
        Ok(())
    }
}
impl rand_core::CryptoRng for BrokenRng {}

#[test]
fn rng_failures_are_errors_not_panics() {
    for group in ALL {
        let err = KeyExchange::generate(group, &mut BrokenRng { fail: true }).unwrap_err();
        assert_eq!(err, KexError::RngFailure, "{group:?}");
    }
    // An RNG stuck at zero yields no valid ECP scalar or MODP exponent.
    for group in [KeGroup::Ecp256, KeGroup::Ecp384, KeGroup::Modp2048] {
        let err = KeyExchange::generate(group, &mut BrokenRng { fail: false }).unwrap_err();
        assert_eq!(err, KexError::RngFailure, "{group:?}");
    }
}

#[test]
fn debug_is_redacted() {
    let private = [0x5au8; 32];
    let kex = KeyExchange::from_private(KeGroup::Ecp256, &private).unwrap();
    let shown = format!("{kex:?}");
    assert_eq!(shown, "KeyExchange { group: Ecp256, private: [redacted] }");
    assert!(!shown.contains("5a"));
}

#[test]
fn errors_name_the_field() {
    let e = KexError::BadPublicLength { group: KeGroup::Ecp256, got: 65, expected: 64 };
    assert_eq!(format!("{e}"), "key exchange data of 65 bytes for Ecp256, 64 expected");
    let e = KexError::InvalidPublicValue { group: KeGroup::Modp2048 };
    assert_eq!(format!("{e}"), "the peer's public value for Modp2048 is invalid");
}
