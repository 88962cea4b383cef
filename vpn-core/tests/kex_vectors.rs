//! Published key exchange vectors (files in `tests/vectors/`, each naming its source):
//! RFC 7748 §6.1 (Curve25519), RFC 5903 §8.1/§8.2 (ECP-256/384), strongSwan's MODP-2048 vector.

use vpn_core::alg::KeGroup;
use vpn_core::crypto::kex::{public_value_len, KeyExchange};

/// One `[case name]` of a vector file: `key = hex` lines, `key += hex` continuing a value.
struct Case {
    name: String,
    values: Vec<(String, String)>,
}

impl Case {
    fn get(&self, key: &str) -> Vec<u8> {
        let hex = self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        hex::decode(hex.unwrap_or_else(|| panic!("{}: no {key}", self.name))).unwrap()
    }
}

fn parse(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if let Some(name) = line.strip_prefix("[case ").and_then(|l| l.strip_suffix(']')) {
            cases.push(Case { name: name.to_string(), values: Vec::new() });
            continue;
        }
        let case = cases.last_mut().expect("value before the first [case]");
        if let Some((key, more)) = line.split_once(" += ") {
            let value = case.values.iter_mut().find(|(k, _)| k == key).expect("+= before =");
            value.1.push_str(more);
        } else {
            let (key, value) = line.split_once(" = ").expect("key = value");
            case.values.push((key.to_string(), value.to_string()));
        }
    }
    cases
}

fn case(text: &str, name: &str) -> Case {
    parse(text).into_iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}"))
}

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
        &c.get("alice_private"),
        &c.get("alice_public"),
        &c.get("bob_private"),
        &c.get("bob_public"),
        &c.get("shared"),
    );
}

fn rfc5903(group: KeGroup, name: &str) {
    let c = case(include_str!("vectors/rfc5903-ecp-dh.txt"), name);
    let pub_i = concat(c.get("gix"), c.get("giy"));
    let pub_r = concat(c.get("grx"), c.get("gry"));
    // The shared secret is the x coordinate of g^ir only (RFC 5903 §7).
    check_pair(group, &c.get("i"), &pub_i, &c.get("r"), &pub_r, &c.get("girx"));
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
        &c.get("x_i"),
        &c.get("pub_i"),
        &c.get("x_r"),
        &c.get("pub_r"),
        &c.get("shared"),
    );
}
