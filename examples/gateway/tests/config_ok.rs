//! Valid configs: issue 5's example verbatim, defaults, and the sample configs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vpn_core::alg::{EncrAlg, EsnMode, IntegAlg, KeGroup, PrfAlg};
use vpn_core::ts::TrafficSelector;
use vpn_gateway::config::*;

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(sub)
}

fn parse(text: &str) -> Config {
    parse_str(text, "t.toml", &dir("tests/data")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn issue5_example_parses_verbatim() {
    let c = load(&dir("tests/data/issue5.toml")).unwrap_or_else(|e| panic!("{e}"));
    let g = &c.gateway;
    assert_eq!(g.name, "hub");
    assert_eq!(g.listen, [ListenAddr { addr: "192.0.2.1".parse().unwrap(), port: None }]);
    assert_eq!((g.listen[0].ike_port(), g.listen[0].natt_port()), (500, 4500));
    assert_eq!(g.control_socket, Path::new("/run/vpn-gateway.sock"));
    assert_eq!(g.tun, "vpn0");
    assert_eq!(g.tun_addresses, ["10.1.0.1/32".parse::<IpCidr>().unwrap()]);
    assert_eq!(c.connections.len(), 1);
    let k = &c.connections[0];
    assert_eq!(k.name, "dc1");
    assert_eq!(k.kind, ConnectionKind::SiteToSite);
    assert_eq!(k.remote_address, RemoteAddress::Addr("192.0.2.2:500".parse().unwrap()));
    assert_eq!(k.local_id, Some(Identity::Fqdn("hub".into())));
    assert_eq!(k.remote_id, RemoteId::Is(Identity::Fqdn("dc1".into())));
    assert_eq!(k.psk.expose(), b"correct horse battery staple");
    assert_eq!(k.routing, Routing::PolicyBased);
    assert_eq!(k.mode, ConnectionMode::Default);
    assert!(k.initiates() && k.responds());
    assert_eq!(k.local_selectors, ["10.1.0.0/24".parse::<TrafficSelector>().unwrap()]);
    assert_eq!(k.remote_selectors, ["10.2.0.0/24".parse::<TrafficSelector>().unwrap()]);
    assert_eq!(k.negotiated_local_ts(), k.local_selectors);
    assert_eq!(
        k.ike_suites(),
        [IkeSuiteSpec {
            encr: Encryption { alg: EncrAlg::AesGcm16, key_bits: 256 },
            prf: PrfAlg::HmacSha256,
            integ: IntegAlg::None,
            ke: KeGroup::Curve25519,
        }]
    );
    assert_eq!(
        k.esp_suites(),
        [EspSuiteSpec {
            encr: Encryption { alg: EncrAlg::AesGcm16, key_bits: 256 },
            integ: IntegAlg::None,
            ke: None,
            esn: false,
        }]
    );
    assert_eq!(k.ike_lifetime, Duration::from_secs(8 * 3600));
    assert_eq!(k.child_lifetime, Duration::from_secs(3600));
    assert_eq!(k.dpd_timeout, Some(Duration::from_secs(45)));
    assert_eq!(k.line, 8);
}

const MINIMAL: &str = r#"
[gateway]
name = "gw"
listen = ["192.0.2.1"]
tun = "vpn0"

[[connection]]
name = "peer"
remote_address = "192.0.2.2"
psk = "a long enough secret"
local_selectors = ["10.1.0.0/24"]
remote_selectors = ["10.2.0.0/24"]
"#;

#[test]
fn defaults_follow_strongswan() {
    let c = parse(MINIMAL);
    assert_eq!(c.gateway.control_socket, Path::new(DEFAULT_CONTROL_SOCKET));
    assert!(c.gateway.tun_addresses.is_empty());
    let k = &c.connections[0];
    assert_eq!(k.kind, ConnectionKind::SiteToSite);
    assert_eq!(k.routing, Routing::PolicyBased);
    assert_eq!(k.mode, ConnectionMode::Default);
    assert_eq!(k.local_id, None);
    assert_eq!(k.local_identity("192.0.2.1".parse().unwrap()), Identity::Ipv4("192.0.2.1".parse().unwrap()));
    assert_eq!(k.remote_id, RemoteId::Is(Identity::Ipv4("192.0.2.2".parse().unwrap())));
    assert_eq!(k.ike_lifetime, Duration::from_secs(4 * 3600));
    assert_eq!(k.child_lifetime, Duration::from_secs(3600));
    assert_eq!(k.dpd_timeout, None);
    assert_eq!(k.ike_proposals.len(), DEFAULT_IKE_PROPOSALS.len());
    assert_eq!(k.esp_proposals.len(), DEFAULT_ESP_PROPOSALS.len());
    assert!(k.esp_proposals.iter().all(|p| !p.pfs()));
}

#[test]
fn any_peer_psk_file_route_based_and_extras() {
    let text = MINIMAL
        .replace(
            "remote_address = \"192.0.2.2\"",
            "remote_address = \"%any\"\nconnection_mode = \"responder-only\"",
        )
        .replace("psk = \"a long enough secret\"", "psk_file = \"dc1.psk\"")
        .replace("local_selectors = [\"10.1.0.0/24\"]\n", "routing = \"route-based\"\n")
        .replace(
            "remote_selectors = [\"10.2.0.0/24\"]",
            "remote_selectors = [\"10.2.0.0/24\", \"fd00:2::/64\"]\n\
             esp_proposals = [\"aes128-sha384-ecp384-esn\"]\n\
             ike_lifetime = 3600\ndpd_timeout = \"0s\"",
        );
    let c = parse(&text);
    let k = &c.connections[0];
    assert_eq!(k.remote_address, RemoteAddress::Any);
    assert_eq!(k.remote_id, RemoteId::Any);
    assert!(!k.initiates() && k.responds());
    assert_eq!(k.psk.expose(), b"dc1 secret from a file", "trailing newline stripped");
    assert_eq!(k.routing, Routing::RouteBased);
    assert_eq!(k.negotiated_local_ts(), [TrafficSelector::any_v4(), TrafficSelector::any_v6()]);
    assert_eq!(k.negotiated_remote_ts(), [TrafficSelector::any_v4(), TrafficSelector::any_v6()]);
    assert_eq!(k.remote_selectors.len(), 2);
    let esp = &k.esp_proposals[0];
    assert_eq!(esp.ke, [KeGroup::Ecp384]);
    assert_eq!(esp.esn, [EsnMode::Yes]);
    assert_eq!(esp.integ, [IntegAlg::HmacSha384_192]);
    assert_eq!(k.ike_lifetime, Duration::from_secs(3600));
    assert_eq!(k.dpd_timeout, None, "0s disables DPD");
}

#[test]
fn identities_and_hex_psk() {
    let text = MINIMAL.replace(
        "psk = \"a long enough secret\"",
        "psk = \"0x00112233445566778899\"\nlocal_id = \"@#0a0b\"\nremote_id = \"ops@example.net\"",
    );
    let k = &parse(&text).connections[0];
    assert_eq!(k.psk.expose(), [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99]);
    assert_eq!(k.local_id, Some(Identity::KeyId(vec![0x0a, 0x0b])));
    assert_eq!(k.remote_id, RemoteId::Is(Identity::Rfc822("ops@example.net".into())));
}

#[test]
fn sample_configs_load() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            load(&path).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert_eq!(seen, 4, "hub, site, vnet-a, vnet-b");
    let hub = load(&dir("configs/hub.toml")).unwrap();
    assert_eq!(hub.connections.len(), 3);
    assert_eq!(hub.connections[1].psk.expose(), b"a long branch secret, kept out of the config");
}
