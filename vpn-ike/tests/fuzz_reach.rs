//! The `ike_responder` fuzz harness reaches CREATE_CHILD_SA and the IKE SA rekey: after the
//! real IKE_AUTH (sealed under the fixed keys), sealed CREATE_CHILD_SA requests with message
//! IDs 2, 3, ... create, rekey and delete Child SAs and rekey the IKE SA. These step lists are
//! the seeds to add to `fuzz/corpus/ike_responder`.
#![cfg(feature = "fuzzing")]

use vpn_core::alg::KeGroup;
use vpn_core::crypto::kex::KeyExchange as Kex;
use vpn_ike::fuzzing::{ResponderHarness, Step};
use vpn_ike::message::{
    encode_payload_chain, Delete, KeyExchange, Nonce, Notify, Payload, ProtocolId, TrafficSelectors,
};
use vpn_ike::{proposal, EspSuite, IkeSuite};

fn sealed(exchange: u8, message_id: u32, payloads: &[Payload]) -> Step {
    let mut chain = Vec::new();
    let first = encode_payload_chain(payloads, &mut chain);
    Step::Sealed { exchange, message_id, flags: 0x08, first: u8::from(first), chain }
}

fn child_request(spi: u32, rekey: Option<u32>) -> Vec<Payload> {
    let mut p = Vec::new();
    if let Some(old) = rekey {
        p.push(Payload::from(Notify::rekey_sa(ProtocolId::Esp, old.to_be_bytes().to_vec())));
    }
    p.push(Payload::from(proposal::esp_sa(&[EspSuite::AES256GCM16], spi)));
    p.push(Payload::from(Nonce::new(vec![7; 32])));
    p.push(Payload::ts_i(TrafficSelectors::new(["10.2.0.0/24".parse().unwrap()])));
    p.push(Payload::ts_r(TrafficSelectors::new(["10.1.0.0/24".parse().unwrap()])));
    p
}

#[test]
fn the_responder_harness_reaches_create_child_sa_and_rekeys() {
    let mut h = ResponderHarness::new().unwrap();
    let (first, chain) = h.auth_chain.clone().unwrap();
    let auth = Step::Sealed { exchange: 35, message_id: 1, flags: 0x08, first: u8::from(first), chain };
    h.step(&auth);
    let handle = h.responder.handles().next().unwrap();
    assert_eq!(h.responder.child_sas(handle).len(), 1, "IKE_AUTH made the first Child SA");
    let first_out = h.responder.child_sas(handle)[0].1;

    // A second Child SA, then a rekey of the first, then the Delete of the old one.
    h.step(&sealed(36, 2, &child_request(0x1111_1111, None)));
    assert_eq!(h.responder.child_sas(handle).len(), 2);
    h.step(&sealed(36, 3, &child_request(0x2222_2222, Some(first_out))));
    assert_eq!(h.responder.child_sas(handle).len(), 3);
    h.step(&sealed(37, 4, &[Payload::from(Delete::esp(&[first_out, 0x9999_9999]))]));
    assert_eq!(h.responder.child_sas(handle).len(), 2);

    // An IKE SA rekey: SA(IKE, SPI), Ni, KEi.
    let mut rng = <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(5);
    let kex = Kex::generate(KeGroup::Curve25519, &mut rng).unwrap();
    let p = [
        Payload::from(proposal::ike_sa(&[IkeSuite::AES256GCM16_SHA256_X25519], &7u64.to_be_bytes())),
        Payload::from(Nonce::new(vec![9; 32])),
        Payload::from(KeyExchange::new(KeGroup::Curve25519, kex.public_value().to_vec())),
    ];
    h.step(&sealed(36, 5, &p));
    let handles: Vec<_> = h.responder.handles().collect();
    assert_eq!(handles.len(), 2, "the new IKE SA joined the old one");
    let new = handles.into_iter().find(|x| *x != handle).unwrap();
    assert_eq!(h.responder.child_sas(new).len(), 2, "the Child SAs moved");
    // The old one goes with its Delete.
    h.step(&sealed(37, 6, &[Payload::from(Delete::ike())]));
    assert_eq!(h.responder.handles().collect::<Vec<_>>(), vec![new]);
}
