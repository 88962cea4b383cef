//! SP 800-135 IKEv2 KDF vectors (tests/vectors/sp800-135-ikev2.txt) and key layout checks.

use super::*;
use vpn_test_vectors::parse_cases;

const SP800_135: &str = include_str!("../../tests/vectors/sp800-135-ikev2.txt");

#[test]
fn sp800_135_ikev2_kdf() {
    let (mut ran, mut skipped) = (0, 0);
    for c in parse_cases(SP800_135) {
        let prf = match c.text("hash") {
            Some("sha256") => Prf::HmacSha256,
            Some("sha384") => Prf::HmacSha384,
            Some("sha512") => Prf::HmacSha512,
            // HMAC-SHA-1 is not a PRF this crate offers (RFC 8247 §3.1 SHOULD NOT).
            Some("sha1") => {
                skipped += 1;
                continue;
            }
            other => panic!("{}: unknown hash {other:?}", c.name),
        };
        let (ni, nr, gir) = (c.hex("ni"), c.hex("nr"), c.hex("gir"));
        let seed = skeyseed(prf, &ni, &nr, &gir).unwrap();
        assert_eq!(seed.expose(), c.hex("skeyseed"), "{}: SKEYSEED", c.name);
        let want = c.hex("dkm");
        let mut s = ni.clone();
        s.extend_from_slice(&nr);
        s.extend_from_slice(&c.hex("spii"));
        s.extend_from_slice(&c.hex("spir"));
        let dkm = prf_plus(prf, seed.expose(), &s, want.len()).unwrap();
        assert_eq!(dkm.expose(), want, "{}: DKM", c.name);
        let sk_d = &dkm.expose()[..prf.output_len()];
        if c.text("dkm_child_sa").is_some() {
            let want = c.hex("dkm_child_sa");
            let km = child_keymat(prf, sk_d, None, &ni, &nr, want.len()).unwrap();
            assert_eq!(km.expose(), want, "{}: DKM(Child SA)", c.name);
        }
        let gir_new = c.hex("gir_new");
        if c.text("dkm_child_sa_dh").is_some() {
            let want = c.hex("dkm_child_sa_dh");
            let km = child_keymat(prf, sk_d, Some(&gir_new), &ni, &nr, want.len()).unwrap();
            assert_eq!(km.expose(), want, "{}: DKM(Child SA D-H)", c.name);
        }
        let rekey = rekey_skeyseed(prf, sk_d, &gir_new, &ni, &nr).unwrap();
        assert_eq!(rekey.expose(), c.hex("skeyseed_rekey"), "{}: SKEYSEED(Rekey)", c.name);
        ran += 1;
    }
    assert_eq!((ran, skipped), (4, 2), "SHA-2 cases run, SHA-1 cases skipped");
}

#[test]
fn ike_keys_are_split_in_rfc_order_with_the_right_lengths() {
    let suite = IkeSuite {
        encr: EncrAlg::AesGcm16,
        encr_key_bits: 256,
        prf: PrfAlg::HmacSha384,
        integ: IntegAlg::None,
        ke: KeGroup::Curve25519,
    };
    let k = IkeKeys::from_shared_secret(&suite, &[1; 32], &[2; 32], &[3; 32], 7, 9).unwrap();
    let seed = skeyseed(Prf::HmacSha384, &[2; 32], &[3; 32], &[1; 32]).unwrap();
    let mut s = [[2u8; 32], [3; 32]].concat();
    s.extend_from_slice(&7u64.to_be_bytes());
    s.extend_from_slice(&9u64.to_be_bytes());
    let all = prf_plus(Prf::HmacSha384, seed.expose(), &s, 48 * 3 + 36 * 2).unwrap();
    let a = all.expose();
    assert_eq!(k.sk_d.expose(), &a[..48]);
    assert!(k.sk_ai.is_empty() && k.sk_ar.is_empty());
    assert_eq!(k.sk_ei.expose(), &a[48..84]);
    assert_eq!(k.sk_er.expose(), &a[84..120]);
    assert_eq!(k.sk_pi.expose(), &a[120..168]);
    assert_eq!(k.sk_pr.expose(), &a[168..216]);

    let cbc = IkeSuite { encr: EncrAlg::AesCbc, integ: IntegAlg::HmacSha512_256, ..suite };
    let k = IkeKeys::from_shared_secret(&cbc, &[1; 32], &[2; 32], &[3; 32], 7, 9).unwrap();
    assert_eq!((k.sk_ai.len(), k.sk_ei.len(), k.sk_pr.len()), (64, 32, 48));
    assert_eq!(encr_key_len(EncrAlg::ChaCha20Poly1305, 256), Ok(36));
    assert_eq!(encr_key_len(EncrAlg::AesGcm16, 128), Ok(20));
    assert!(encr_key_len(EncrAlg::AesCbc, 100).is_err());
    assert!(integ_key_len(EncrAlg::AesGcm16, IntegAlg::HmacSha256_128).is_err());
    assert!(integ_key_len(EncrAlg::AesCbc, IntegAlg::None).is_err());
}
