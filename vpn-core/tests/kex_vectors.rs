//! Published key exchange vectors (files in `tests/vectors/`, each naming its source):
//! RFC 7748 §6.1 (Curve25519), RFC 5903 §8.1/§8.2 (ECP-256/384), strongSwan's MODP-2048 vector.

use vpn_core::alg::KeGroup;
use vpn_core::crypto::kex::{public_value_len, KeyExchange};
use vpn_test_vectors::case;

fn concat(a: Vec<u8>, b: Vec<u8>) -> Vec<u8> {
    [a, b].concat()
}

/// Both sides from fixed private values: public values and the shared secret, each way.
fn check_pair(group: KeGroup, priv_i: &[u8], pub_i: &[u8], priv_r: &[u8], pub_r: &[u8], shared: &[u8]) {
    let i = KeyExchange::from_private(group, priv_i).unwrap();
    let r = KeyExchange::from_private(group, priv_r).unwrap();
    assert_eq!(pub_i.len(), public_value_len(group).unwrap());
    assert_eq!(hex::encode(i.public_value()), hex::encode(pub_i), "{group:?} initiator public");
    assert_eq!(hex::encode(r.public_value()), hex::encode(pub_r), "{group:?} responder public");
    assert_eq!(hex::encode(i.shared_secret(pub_r).unwrap().expose()), hex::encode(shared), "{group:?} i");
    assert_eq!(hex::encode(r.shared_secret(pub_i).unwrap().expose()), hex::encode(shared), "{group:?} r");
}

#[test]
fn rfc7748_6_1_curve25519() {
    let c = case(include_str!("vectors/rfc7748-x25519-dh.txt"), "x25519-6.1");
    check_pair(
        KeGroup::Curve25519,
        &c.hex("alice_private"),
        &c.hex("alice_public"),
        &c.hex("bob_private"),
        &c.hex("bob_public"),
        &c.hex("shared"),
    );
}

fn rfc5903(group: KeGroup, name: &str) {
    let c = case(include_str!("vectors/rfc5903-ecp-dh.txt"), name);
    let pub_i = concat(c.hex("gix"), c.hex("giy"));
    let pub_r = concat(c.hex("grx"), c.hex("gry"));
    // The shared secret is the x coordinate of g^ir only (RFC 5903 §7).
    check_pair(group, &c.hex("i"), &pub_i, &c.hex("r"), &pub_r, &c.hex("girx"));
}

#[test]
fn rfc5903_8_1_ecp256() {
    rfc5903(KeGroup::Ecp256, "ecp256");
}

#[test]
fn rfc5903_8_2_ecp384() {
    rfc5903(KeGroup::Ecp384, "ecp384");
}

#[test]
fn strongswan_modp2048_known_answer() {
    let c = case(include_str!("vectors/strongswan-modp2048-dh.txt"), "modp2048");
    check_pair(
        KeGroup::Modp2048,
        &c.hex("x_i"),
        &c.hex("pub_i"),
        &c.hex("x_r"),
        &c.hex("pub_r"),
        &c.hex("shared"),
    );
}
