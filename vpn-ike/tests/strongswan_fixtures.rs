//! Real strongSwan 5.9.8 messages (captured on the wire against vpn-gateway by
//! `tests/interop/capture-fixtures.sh`, SK payloads decrypted with the logged keys): each decodes
//! and re-encodes to the same bytes, our SK code decrypts it to the recorded chain, and the
//! payloads strongSwan is known to send are there.

use vpn_core::alg::{EncrAlg, IntegAlg, KeGroup, PrfAlg};
use vpn_core::secret::SecretBytes;
use vpn_ike::keys::sk::SkCrypto;
use vpn_ike::keys::{IkeKeys, IkeSuite};
use vpn_ike::message::{
    decode_payload_chain, encode_payload_chain, Limits, Message, NotifyType, Payload, PayloadType,
};
use vpn_test_vectors::{parse_cases, Case};

const FIXTURES: &str = include_str!("vectors/strongswan-5.9.8.txt");

fn suite(c: &Case) -> IkeSuite {
    if c.text("note") == Some("AES-GCM-16") {
        IkeSuite::AES256GCM16_SHA256_X25519
    } else {
        IkeSuite {
            encr: EncrAlg::AesCbc,
            encr_key_bits: 256,
            prf: PrfAlg::HmacSha256,
            integ: IntegAlg::HmacSha256_128,
            ke: KeGroup::Modp2048,
        }
    }
}

/// Keys that open the message whichever side sent it: both directions get the recorded keys.
fn keys(c: &Case) -> IkeKeys {
    let s = |b: &[u8]| SecretBytes::new(b).unwrap();
    let (e, a) = (c.hex("sk_e"), if c.has("sk_a") { c.hex("sk_a") } else { vec![] });
    IkeKeys {
        sk_d: s(&[0; 32]),
        sk_ai: s(&a),
        sk_ar: s(&a),
        sk_ei: s(&e),
        sk_er: s(&e),
        sk_pi: s(&[0; 32]),
        sk_pr: s(&[0; 32]),
    }
}

fn types(payloads: &[Payload]) -> Vec<PayloadType> {
    payloads.iter().map(Payload::payload_type).collect()
}

fn notifies(payloads: &[Payload]) -> Vec<NotifyType> {
    payloads.iter().filter_map(|p| p.as_notify().map(|n| n.notify_type)).collect()
}

#[test]
fn strongswan_messages_round_trip_and_decrypt() {
    let cases = parse_cases(FIXTURES);
    assert!(cases.len() >= 6, "{} fixtures", cases.len());
    let limits = Limits::default();
    for c in &cases {
        let bytes = c.hex("message");
        let msg = Message::decode(&bytes, &limits).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(msg.encode(), bytes, "{}: re-encoding", c.name);
        if !c.has("chain") {
            continue;
        }
        let (first, chain) = (PayloadType::from(c.hex("first_inner")[0]), c.hex("chain"));
        let inner =
            decode_payload_chain(first, &chain, &limits).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let mut again = Vec::new();
        assert_eq!(encode_payload_chain(&inner, &mut again), first, "{}", c.name);
        assert_eq!(again, chain, "{}: chain re-encoding", c.name);
        // Our SK code opens strongSwan's message to the same chain (in the receiver's role).
        let from_initiator = msg.header.flags.initiator();
        let sk = SkCrypto::new(&suite(c), &keys(c), !from_initiator).unwrap();
        let (_, opened) = sk.unprotect(&bytes, &limits).unwrap_or_else(|e| panic!("{}: {e:?}", c.name));
        assert_eq!(opened, inner, "{}: decrypted payloads", c.name);
    }
}

#[test]
fn strongswan_sends_what_rfc7296_expects() {
    let cases = parse_cases(FIXTURES);
    let limits = Limits::default();
    let find = |prefix: &str| {
        cases.iter().find(|c| c.name.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}"))
    };
    // IKE_SA_INIT request (strongSwan initiating): SA, KE (x25519), Nonce and the notifies.
    let init = Message::decode(&find("strongswan-gcm-ike-sa-init-request").hex("message"), &limits).unwrap();
    let t = types(&init.payloads);
    for want in [PayloadType::Sa, PayloadType::Ke, PayloadType::Nonce] {
        assert!(t.contains(&want), "IKE_SA_INIT lacks {want:?}: {t:?}");
    }
    let n = notifies(&init.payloads);
    for want in [
        NotifyType::NatDetectionSourceIp,
        NotifyType::NatDetectionDestinationIp,
        NotifyType::Ikev2FragmentationSupported,
        NotifyType::SignatureHashAlgorithms,
    ] {
        assert!(n.contains(&want), "IKE_SA_INIT lacks {want:?}: {n:?}");
    }
    // IKE_AUTH request: identities, AUTH, SA, selectors and INITIAL_CONTACT, decrypted.
    let auth = find("strongswan-gcm-ike-auth-request");
    let chain =
        decode_payload_chain(PayloadType::from(auth.hex("first_inner")[0]), &auth.hex("chain"), &limits)
            .unwrap();
    let t = types(&chain);
    for want in [PayloadType::IdI, PayloadType::Auth, PayloadType::Sa, PayloadType::TsI, PayloadType::TsR] {
        assert!(t.contains(&want), "IKE_AUTH lacks {want:?}: {t:?}");
    }
    assert!(notifies(&chain).contains(&NotifyType::InitialContact));
    // strongSwan as responder: its IKE_AUTH response carries IDr, AUTH, SA, TSi, TSr.
    let resp = find("strongswan-cbc-ike-auth-response");
    let chain =
        decode_payload_chain(PayloadType::from(resp.hex("first_inner")[0]), &resp.hex("chain"), &limits)
            .unwrap();
    let t = types(&chain);
    for want in [PayloadType::IdR, PayloadType::Auth, PayloadType::Sa, PayloadType::TsI, PayloadType::TsR] {
        assert!(t.contains(&want), "IKE_AUTH response lacks {want:?}: {t:?}");
    }
    // Its Delete of the IKE SA (protocol IKE, no SPIs).
    let del = find("strongswan-gcm-informational-request");
    let chain =
        decode_payload_chain(PayloadType::from(del.hex("first_inner")[0]), &del.hex("chain"), &limits)
            .unwrap();
    assert_eq!(types(&chain), [PayloadType::Delete]);
}
