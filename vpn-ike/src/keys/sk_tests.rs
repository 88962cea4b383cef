//! RFC 7634 appendix B, round trips for every suite, and every bit flip rejected.

use super::*;
use crate::message::{ExchangeType, HeaderFlags, Nonce, Notify, NotifyData, NotifyType};
use alloc::vec;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_core::alg::{IntegAlg, KeGroup, PrfAlg};
use vpn_core::secret::SecretBytes;
use vpn_test_vectors::parse_cases;

const RFC7634: &str = include_str!("../../tests/vectors/rfc7634-ike.txt");

fn keys_with(sk_e: &[u8], sk_a: &[u8]) -> IkeKeys {
    let s = |b: &[u8]| SecretBytes::new(b).unwrap();
    IkeKeys {
        sk_d: s(&[0; 32]),
        sk_ai: s(sk_a),
        sk_ar: s(sk_a),
        sk_ei: s(sk_e),
        sk_er: s(sk_e),
        sk_pi: s(&[0; 32]),
        sk_pr: s(&[0; 32]),
    }
}

pub(crate) fn suites() -> Vec<IkeSuite> {
    let mut v = Vec::new();
    let s = |encr, bits, integ| IkeSuite {
        encr,
        encr_key_bits: bits,
        prf: PrfAlg::HmacSha256,
        integ,
        ke: KeGroup::Curve25519,
    };
    v.push(s(EncrAlg::AesGcm16, 128, IntegAlg::None));
    v.push(s(EncrAlg::AesGcm16, 256, IntegAlg::None));
    v.push(s(EncrAlg::ChaCha20Poly1305, 256, IntegAlg::None));
    for bits in [128, 256] {
        for integ in [IntegAlg::HmacSha256_128, IntegAlg::HmacSha384_192, IntegAlg::HmacSha512_256] {
            v.push(s(EncrAlg::AesCbc, bits, integ));
        }
    }
    v
}

fn pair(suite: &IkeSuite) -> (SkCrypto, SkCrypto) {
    let k = IkeKeys::from_shared_secret(suite, &[5; 32], &[1; 32], &[2; 32], 11, 22).unwrap();
    (SkCrypto::new(suite, &k, true).unwrap(), SkCrypto::new(suite, &k, false).unwrap())
}

#[test]
fn rfc7634_appendix_b() {
    let cases = parse_cases(RFC7634);
    let c = cases.iter().find(|c| c.name == "rfc7634-b").unwrap();
    let mut sk_e = c.hex("key");
    sk_e.extend_from_slice(&c.hex("salt"));
    let suite = IkeSuite {
        encr: EncrAlg::ChaCha20Poly1305,
        encr_key_bits: 256,
        prf: PrfAlg::HmacSha256,
        integ: IntegAlg::None,
        ke: KeGroup::Curve25519,
    };
    // Flags 0: the original responder sends this request.
    let mut responder = SkCrypto::new(&suite, &keys_with(&sk_e, &[]), false).unwrap();
    let iv = u64::from_be_bytes(c.hex("iv").try_into().unwrap());
    responder.set_next_iv(iv);
    let header = Header::new(
        ExchangeType::Informational,
        u64::from_be_bytes(c.hex("spi_i").try_into().unwrap()),
        u64::from_be_bytes(c.hex("spi_r").try_into().unwrap()),
        9,
        HeaderFlags(0),
    );
    let inner = [Payload::from(Notify::new(NotifyType::SetWindowSize, NotifyData::SetWindowSize(10)))];
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let msg = responder.protect(&header, &inner, &mut rng).unwrap();
    assert_eq!(hex::encode(&msg), hex::encode(c.hex("message")));
    let initiator = SkCrypto::new(&suite, &keys_with(&sk_e, &[]), true).unwrap();
    let (h, p) = initiator.unprotect(&msg, &Limits::default()).unwrap();
    assert_eq!((h, p.as_slice()), (header, &inner[..]));
}

fn sample_inner() -> Vec<Payload> {
    vec![Payload::from(Notify::status(NotifyType::InitialContact)), Payload::from(Nonce::new(vec![0xab; 37]))]
}

#[test]
fn round_trip_every_suite_both_directions() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    for suite in suites() {
        let (mut i, mut r) = pair(&suite);
        let h = Header::new(ExchangeType::IkeAuth, 11, 22, 1, HeaderFlags::INITIATOR);
        for n in 0..3 {
            let inner: Vec<Payload> = sample_inner().into_iter().take(n).collect();
            let m = i.protect(&h, &inner, &mut rng).unwrap();
            let (h2, p) = r.unprotect(&m, &Limits::default()).unwrap();
            assert_eq!((h2, p), (h, inner.clone()), "{suite:?}");
            // The sender's own keys do not open it (directions differ).
            assert!(i.unprotect(&m, &Limits::default()).is_err());
            let back = r.protect(&h, &inner, &mut rng).unwrap();
            assert_eq!(i.unprotect(&back, &Limits::default()).unwrap().1, inner);
        }
        // AEAD IVs come from a counter and never repeat.
        if suite.encr.is_aead() {
            let a = i.protect(&h, &[], &mut rng).unwrap();
            let b = i.protect(&h, &[], &mut rng).unwrap();
            assert_ne!(a[32..40], b[32..40]);
        }
    }
}

#[test]
fn every_bit_flip_is_rejected() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for suite in suites() {
        let (mut i, r) = pair(&suite);
        let h = Header::new(ExchangeType::Informational, 11, 22, 7, HeaderFlags::INITIATOR);
        let m = i.protect(&h, &sample_inner(), &mut rng).unwrap();
        for bit in 0..m.len() * 8 {
            let mut bad = m.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(r.unprotect(&bad, &Limits::default()).is_err(), "{suite:?} bit {bit}");
        }
        for cut in 0..m.len() {
            assert!(r.unprotect(&m[..cut], &Limits::default()).is_err());
        }
    }
}

#[test]
fn bad_padding_and_short_bodies() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let suite = suites()[0];
    let (mut i, r) = pair(&suite);
    let h = Header::new(ExchangeType::Informational, 11, 22, 7, HeaderFlags::INITIATOR);
    // Authentic bytes that are not a payload chain.
    let m = i.protect_raw(&h, PayloadType::Sk, PayloadType::NoNext, None, &[9, 9, 9], &mut rng).unwrap();
    assert!(matches!(r.unprotect(&m, &Limits::default()), Err(SkError::InnerDecode(_))));
    // A plaintext that is not an SK message at all.
    let plain = crate::message::Message { header: h, payloads: sample_inner() }.encode();
    assert_eq!(r.unprotect(&plain, &Limits::default()), Err(SkError::NotEncrypted));
}

#[test]
fn fragments_round_trip_and_are_authenticated() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    for suite in suites() {
        let (mut i, r) = pair(&suite);
        let h = Header::new(ExchangeType::IkeAuth, 11, 22, 1, HeaderFlags::INITIATOR);
        let m = i.protect_fragment(&h, PayloadType::IdI, 2, 3, b"fragment data", &mut rng).unwrap();
        let (h2, f) = r.unprotect_fragment(&m, &Limits::default()).unwrap();
        assert_eq!((h2, f.number, f.total, f.data.expose()), (h, 2, 3, &b"fragment data"[..]));
        assert_eq!(f.inner_first, PayloadType::NoNext);
        assert_eq!(m.len(), 13 + i.overhead(13, 4));
        let budget = 200;
        let chunk = i.max_fragment_chunk(budget);
        let big = vec![7u8; chunk];
        let m = i.protect_fragment(&h, PayloadType::IdI, 1, 3, &big, &mut rng).unwrap();
        assert!(m.len() <= budget && m.len() + 16 > budget, "{suite:?}: {} for {budget}", m.len());
        let (_, f) = r.unprotect_fragment(&m, &Limits::default()).unwrap();
        assert_eq!(f.inner_first, PayloadType::IdI);
        // Fragment number and total are authenticated (RFC 7383 §2.5).
        let mut bad = m.clone();
        bad[33] ^= 1;
        assert!(r.unprotect_fragment(&bad, &Limits::default()).is_err());
        assert!(r.unprotect(&m, &Limits::default()).is_err());
    }
}
