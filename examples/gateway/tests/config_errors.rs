//! One malformed field at a time, starting from issue 5's example: each error names the file,
//! line, column and field path exactly (issue 6 item 10).

use std::path::{Path, PathBuf};

use vpn_gateway::config::parse_str;

const BASE: &str = include_str!("data/issue5.toml");

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The issue-5 example with the first line `KEY = ...` replaced by `new` (removed when empty), then
/// `extra` appended.
fn edit(key: &str, new: &str, extra: &str) -> String {
    let mut out = String::new();
    let mut done = key.is_empty();
    for line in BASE.lines() {
        if !done && line.starts_with(&format!("{key} =")) {
            done = true;
            if !new.is_empty() {
                out.push_str(new);
                out.push('\n');
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(extra);
    out
}

fn errors(text: &str) -> Vec<String> {
    match parse_str(text, "gw.toml", &data_dir()) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

/// Replace the first line `KEY = ...` and expect exactly these errors.
#[track_caller]
fn expect(key: &str, new: &str, expected: &[&str]) {
    assert_eq!(errors(&edit(key, new, "")), expected);
}

#[test]
fn base_is_valid() {
    assert_eq!(errors(BASE), Vec::<String>::new());
}

// [gateway]

#[test]
fn gateway_name_invalid() {
    expect(
        "name",
        "name = \"h u b\"",
        &["gw.toml:2:8: gateway.name: \"h u b\" is not a valid name (1 to 64 of A-Z a-z 0-9 . _ -)"],
    );
}

#[test]
fn gateway_name_wrong_type() {
    expect("name", "name = 5", &["gw.toml:2:8: gateway.name: expected a string, found integer"]);
}

#[test]
fn gateway_name_missing() {
    expect("name", "", &["gw.toml:1:1: gateway.name: required field is missing"]);
}

#[test]
fn gateway_listen_bad_address() {
    expect(
        "listen",
        "listen = [\"192.0.2.1\", \"192.0.2.300\"]",
        &["gw.toml:3:24: gateway.listen[1]: \"192.0.2.300\" is not an IP address or ADDRESS:PORT"],
    );
}

#[test]
fn gateway_listen_empty() {
    expect("listen", "listen = []", &["gw.toml:3:10: gateway.listen: must not be empty"]);
}

#[test]
fn gateway_listen_wrong_type() {
    expect("listen", "listen = [1]", &["gw.toml:3:11: gateway.listen[0]: expected a string, found integer"]);
}

#[test]
fn gateway_control_socket_empty() {
    expect(
        "control_socket",
        "control_socket = \"\"",
        &["gw.toml:4:18: gateway.control_socket: must not be empty"],
    );
}

#[test]
fn gateway_tun_bad_name() {
    expect("tun", "tun = \"a-very-long-tun-name\"", &[
        "gw.toml:5:7: gateway.tun: \"a-very-long-tun-name\" is not a network interface name (1 to 15 characters, no '/', ':' or spaces)",
    ]);
}

#[test]
fn gateway_tun_missing() {
    expect("tun", "", &["gw.toml:1:1: gateway.tun: required field is missing"]);
}

#[test]
fn gateway_tun_addresses_bad_prefix() {
    expect(
        "tun_addresses",
        "tun_addresses = [\"10.1.0.1/33\"]",
        &["gw.toml:6:18: gateway.tun_addresses[0]: prefix length \"33\" is not in 0..=32"],
    );
}

#[test]
fn gateway_unknown_field() {
    expect("tun", "tun = \"vpn0\"\nmtu = 1400", &[
        "gw.toml:6:1: gateway.mtu: unknown field (expected one of: name, listen, control_socket, tun, tun_addresses, retransmit_timeout, retransmit_tries, max_connecting)",
    ]);
}

#[test]
fn gateway_table_missing() {
    let text = BASE.replace("[gateway]", "[gw]");
    let errs = errors(&text);
    assert_eq!(errs[0], "gw.toml:1:1: gateway: the [gateway] table is missing");
    assert_eq!(errs[1], "gw.toml:1:2: gw: unknown field (expected one of: gateway, connection)");
}

// [[connection]]

#[test]
fn connection_name_invalid() {
    let text = BASE.replace("name = \"dc1\"", "name = \"dc 1\"");
    assert_eq!(
        errors(&text),
        ["gw.toml:9:8: connection[0].name: \"dc 1\" is not a valid name (1 to 64 of A-Z a-z 0-9 . _ -)",]
    );
}

#[test]
fn connection_name_duplicate() {
    let second = "\n[[connection]]\nname = \"dc1\"\nremote_address = \"192.0.2.3\"\npsk = \"another long secret\"\nlocal_selectors = [\"10.1.0.0/24\"]\nremote_selectors = [\"10.3.0.0/24\"]\n";
    assert_eq!(
        errors(&edit("", "", second)),
        ["gw.toml:26:8: connection[1].name: duplicate connection name \"dc1\" (first defined at line 8)",]
    );
}

#[test]
fn connection_kind_unknown() {
    expect("kind", "kind = \"hub-and-spoke\"", &[
        "gw.toml:10:8: connection[0].kind: unknown value \"hub-and-spoke\" (expected site-to-site | vnet-to-vnet)",
    ]);
}

#[test]
fn connection_remote_address_bad() {
    expect("remote_address", "remote_address = \"peer.example.com\"", &[
        "gw.toml:11:18: connection[0].remote_address: \"peer.example.com\" is not an IP address or \"%any\"",
    ]);
}

#[test]
fn connection_remote_address_missing() {
    expect("remote_address", "", &["gw.toml:8:1: connection[0].remote_address: required field is missing"]);
}

#[test]
fn connection_remote_address_family_not_listened_on() {
    expect("remote_address", "remote_address = \"2001:db8::2\"", &[
        "gw.toml:11:18: connection[0].remote_address: 2001:db8::2 is IPv6 but gateway.listen has no IPv6 address",
    ]);
}

#[test]
fn connection_any_address_with_initiator_only() {
    let text = edit("remote_address", "remote_address = \"%any\"", "")
        .replace("connection_mode = \"default\"", "connection_mode = \"initiator-only\"");
    assert_eq!(errors(&text), [
        "gw.toml:16:19: connection[0].connection_mode: \"initiator-only\" needs a remote_address to initiate to, not \"%any\"",
    ]);
}

#[test]
fn connection_local_id_bad_key_id() {
    expect(
        "local_id",
        "local_id = \"@#abc\"",
        &["gw.toml:12:12: connection[0].local_id: key id after \"@#\" must be an even number of hex digits"],
    );
}

#[test]
fn connection_local_id_any() {
    expect("local_id", "local_id = \"%any\"", &[
        "gw.toml:12:12: connection[0].local_id: \"%any\" is not an identity (\"%any\" is only allowed as remote_id)",
    ]);
}

#[test]
fn connection_remote_id_missing_domain() {
    expect(
        "remote_id",
        "remote_id = \"user@\"",
        &["gw.toml:13:13: connection[0].remote_id: identity has nothing after \"@\""],
    );
}

#[test]
fn connection_psk_empty() {
    expect("psk", "psk = \"\"", &["gw.toml:14:7: connection[0].psk: the pre-shared key is empty"]);
}

#[test]
fn connection_psk_too_short() {
    expect(
        "psk",
        "psk = \"short\"",
        &["gw.toml:14:7: connection[0].psk: the pre-shared key is 5 bytes; at least 8 are required"],
    );
}

#[test]
fn connection_psk_bad_hex() {
    expect(
        "psk",
        "psk = \"0x12345\"",
        &["gw.toml:14:7: connection[0].psk: a psk starting with \"0x\" must be an even number of hex digits"],
    );
}

#[test]
fn connection_psk_and_psk_file() {
    expect(
        "psk",
        "psk = \"correct horse battery staple\"\npsk_file = \"dc1.psk\"",
        &["gw.toml:15:12: connection[0].psk_file: give either psk or psk_file, not both"],
    );
}

#[test]
fn connection_psk_and_psk_file_neither() {
    expect("psk", "", &["gw.toml:8:1: connection[0].psk: one of psk or psk_file is required"]);
}

#[test]
fn connection_psk_file_missing() {
    let errs = errors(&edit("psk", "psk_file = \"no-such.psk\"", ""));
    assert_eq!(errs.len(), 1);
    let prefix = "gw.toml:14:12: connection[0].psk_file: cannot read ";
    assert!(errs[0].starts_with(prefix), "{}", errs[0]);
    assert!(
        errs[0].ends_with("tests/data/no-such.psk: No such file or directory (os error 2)"),
        "{}",
        errs[0]
    );
}

#[test]
fn connection_psk_file_empty() {
    expect(
        "psk",
        "psk_file = \"empty.psk\"",
        &["gw.toml:14:12: connection[0].psk_file: the pre-shared key is empty"],
    );
}

#[test]
fn connection_routing_unknown() {
    expect("routing", "routing = \"bgp\"", &[
        "gw.toml:15:11: connection[0].routing: unknown value \"bgp\" (expected policy-based | route-based)",
    ]);
}

#[test]
fn connection_route_based_without_remote_selectors() {
    let text = edit("routing", "routing = \"route-based\"", "")
        .replace("remote_selectors = [\"10.2.0.0/24\"]\n", "");
    assert_eq!(errors(&text), [
        "gw.toml:8:1: connection[0].remote_selectors: remote_selectors is required with routing = \"route-based\"",
    ]);
}

#[test]
fn connection_policy_based_without_local_selectors() {
    expect("local_selectors", "", &[
        "gw.toml:8:1: connection[0].local_selectors: local_selectors is required with routing = \"policy-based\"",
    ]);
}

#[test]
fn connection_mode_unknown() {
    expect("connection_mode", "connection_mode = \"passive\"", &[
        "gw.toml:16:19: connection[0].connection_mode: unknown value \"passive\" (expected default | initiator-only | responder-only)",
    ]);
}

#[test]
fn connection_local_selectors_bad() {
    expect("local_selectors", "local_selectors = [\"10.1.0.0/24\", \"10.1.0.0/40\"]", &[
        "gw.toml:17:35: connection[0].local_selectors[1]: \"10.1.0.0/40\": prefix length 40 is too long for the address family",
    ]);
}

#[test]
fn connection_remote_selectors_empty() {
    expect(
        "remote_selectors",
        "remote_selectors = []",
        &["gw.toml:18:20: connection[0].remote_selectors: must not be empty"],
    );
}

#[test]
fn connection_selectors_without_common_family() {
    expect("remote_selectors", "remote_selectors = [\"fd00:2::/64\"]", &[
        "gw.toml:18:20: connection[0].remote_selectors: no address family in common with local_selectors (IPv4 only vs IPv6 only)",
    ]);
}

#[test]
fn connection_selectors_with_one_common_family_are_fine() {
    let text = edit("remote_selectors", "remote_selectors = [\"fd00:2::/64\", \"10.2.0.0/24\"]", "");
    assert_eq!(errors(&text), Vec::<String>::new());
}

#[test]
fn connection_ike_proposal_unknown_keyword() {
    expect(
        "ike_proposals",
        "ike_proposals = [\"aes256gcm16-prfsha256-x25519\", \"aes256-sha999-x25519\"]",
        &["gw.toml:19:58: connection[0].ike_proposals[1]: unknown keyword \"sha999\""],
    );
}

#[test]
fn connection_ike_proposal_without_ke() {
    expect("ike_proposals", "ike_proposals = [\"aes256gcm16-prfsha256\"]", &[
        "gw.toml:19:19: connection[0].ike_proposals[0]: IKE proposal needs a key exchange method (e.g. x25519)",
    ]);
}

#[test]
fn connection_ike_proposal_aead_without_prf() {
    expect("ike_proposals", "ike_proposals = [\"aes256gcm16-x25519\"]", &[
        "gw.toml:19:19: connection[0].ike_proposals[0]: IKE proposal with an AEAD cipher needs a PRF (e.g. prfsha256)",
    ]);
}

#[test]
fn connection_esp_proposal_unknown_keyword() {
    expect(
        "esp_proposals",
        "esp_proposals = [\"aes999\"]",
        &["gw.toml:20:19: connection[0].esp_proposals[0]: unknown keyword \"aes999\""],
    );
}

#[test]
fn connection_esp_proposal_with_prf() {
    expect("esp_proposals", "esp_proposals = [\"aes256gcm16-prfsha256\"]", &[
        "gw.toml:20:31: connection[0].esp_proposals[0]: PRF \"prfsha256\" is not allowed in an ESP proposal",
    ]);
}

#[test]
fn connection_esp_proposals_empty() {
    expect(
        "esp_proposals",
        "esp_proposals = []",
        &["gw.toml:20:17: connection[0].esp_proposals: must not be empty"],
    );
}

#[test]
fn connection_ike_lifetime_bad_unit() {
    expect("ike_lifetime", "ike_lifetime = \"8 hours\"", &[
        "gw.toml:21:16: connection[0].ike_lifetime: unknown duration unit \" hours\" (expected ms, s, m, h or d)",
    ]);
}

#[test]
fn connection_child_lifetime_zero() {
    expect(
        "child_lifetime",
        "child_lifetime = \"0s\"",
        &["gw.toml:22:18: connection[0].child_lifetime: must be longer than zero"],
    );
}

#[test]
fn connection_dpd_timeout_wrong_type() {
    expect(
        "dpd_timeout",
        "dpd_timeout = true",
        &["gw.toml:23:15: connection[0].dpd_timeout: expected a duration such as \"45s\", found boolean"],
    );
}

#[test]
fn connection_unknown_field() {
    expect("dpd_timeout", "dpd_timeout = \"45s\"\nrekey = false", &[
        "gw.toml:24:1: connection[0].rekey: unknown field (expected one of: name, kind, remote_address, local_id, remote_id, psk, psk_file, routing, connection_mode, local_selectors, remote_selectors, ike_proposals, esp_proposals, ike_lifetime, child_lifetime, dpd_timeout, interface, local_address)",
    ]);
}

#[test]
fn connection_not_an_array_of_tables() {
    let text = BASE.replace("[[connection]]", "[connection]");
    assert_eq!(
        errors(&text),
        ["gw.toml:8:1: connection: expected an array of tables ([[connection]]), found table",]
    );
}

#[test]
fn toml_syntax_error() {
    let text = BASE.replace("tun = \"vpn0\"", "tun = \"vpn0");
    let errs = errors(&text);
    assert!(errs[0].starts_with("gw.toml:5:"), "{errs:?}");
    assert!(errs[0].contains(": TOML syntax: "), "{errs:?}");
}

#[test]
fn every_error_is_reported_in_file_order() {
    let text = BASE
        .replace("listen = [\"192.0.2.1\"]", "listen = [\"nowhere\"]")
        .replace("kind = \"site-to-site\"", "kind = \"mesh\"")
        .replace("psk = \"correct horse battery staple\"", "psk = \"\"")
        .replace("esp_proposals = [\"aes256gcm16\"]", "esp_proposals = [\"aes999\", \"aes256-md5\"]")
        .replace("dpd_timeout = \"45s\"", "dpd_timeout = \"45 s\"");
    let errs = errors(&text);
    let positions: Vec<&str> = errs.iter().map(|e| e.split(": ").next().unwrap()).collect();
    assert_eq!(
        positions,
        ["gw.toml:3:11", "gw.toml:10:8", "gw.toml:14:7", "gw.toml:20:19", "gw.toml:20:36", "gw.toml:23:15",],
        "{errs:#?}"
    );
}

#[test]
fn gateway_retransmission_settings() {
    // Added after `tun_addresses` (line 6 of the example): a zero timeout, then zero tries.
    let text = BASE.replacen(
        "tun_addresses = [\"10.1.0.1/32\"]",
        "tun_addresses = [\"10.1.0.1/32\"]\nretransmit_timeout = \"0s\"\nretransmit_tries = 0",
        1,
    );
    assert_eq!(
        errors(&text),
        [
            "gw.toml:7:22: gateway.retransmit_timeout: must be longer than zero",
            "gw.toml:8:20: gateway.retransmit_tries: expected a number from 1 to 20",
        ]
    );
    let text = BASE.replacen(
        "tun_addresses = [\"10.1.0.1/32\"]",
        "tun_addresses = [\"10.1.0.1/32\"]\nretransmit_timeout = \"500ms\"\nretransmit_tries = \"3\"",
        1,
    );
    assert_eq!(
        errors(&text),
        ["gw.toml:8:20: gateway.retransmit_tries: expected a number from 1 to 20, found string"]
    );
}

#[test]
fn interface_only_for_route_based() {
    expect("dpd_timeout", "dpd_timeout = \"45s\"\ninterface = \"vti-x\"", &[
        "gw.toml:24:13: connection[0].interface: only route-based connections have their own interface (policy-based ones share gateway.tun)",
    ]);
}

#[test]
fn local_address_must_be_a_listen_address() {
    expect(
        "dpd_timeout",
        "dpd_timeout = \"45s\"\nlocal_address = \"192.0.2.77\"",
        &["gw.toml:24:17: connection[0].local_address: 192.0.2.77 is not one of gateway.listen"],
    );
}
