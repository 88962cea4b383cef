//! End-to-end establishment through the simulated network of `common`.

mod common;

use common::*;
use vpn_core::time::Duration;
use vpn_ike::config::default_ike_suites;
use vpn_ike::message::NotifyType;
use vpn_ike::{DownReason, EspSuite};

const A: &str = "10.0.0.1:500";
const B: &str = "10.0.0.2:500";

fn setup(seed: u64, link: Link, psk_r: &[u8]) -> (Sim, vpn_ike::PeerConfig) {
    let (i, r) = psk_pair(b"correct horse", psk_r);
    let mut sim = Sim::new(seed, link);
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    (sim, i)
}

#[test]
fn default_proposals_establish() {
    let (mut sim, peer) = setup(1, Link::default(), b"correct horse");
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1), "{:?} {:?}", sim.nodes[0].events, sim.nodes[1].events);
    let (i, r) = (sim.child(0), sim.child(1));
    assert_eq!((i.len(), r.len()), (1, 1));
    assert_child_pair(i[0], r[0]);
    assert!(i[0].udp_encap.is_none());
    assert_eq!(sim.nodes[1].ep.half_open_count(), 0);
}

/// Issue 3's grid: every cipher, every PRF and every group appear; each run checks both ends.
#[test]
fn every_ike_proposal_combination_establishes() {
    let esp =
        [EspSuite::AES256GCM16, EspSuite::AES128GCM16, EspSuite::CHACHA20POLY1305, EspSuite::AES256_SHA256];
    let mut ran = 0;
    for (n, suite) in default_ike_suites().into_iter().enumerate() {
        let (mut peer, mut r) = psk_pair(b"correct horse", b"correct horse");
        peer.ike_suites = vec![suite];
        peer.esp_suites = vec![esp[n % esp.len()]];
        // The responder's connection accepts every suite, in its default order.
        r.esp_suites = esp.to_vec();
        r.ike_suites = default_ike_suites();
        let mut sim = Sim::new(100 + n as u64, Link::default());
        sim.add(addr(A), vpn_ike::EndpointConfig::default());
        sim.add(addr(B), responder_config(vec![r]));
        sim.connect(0, peer, 1);
        sim.run(Duration::from_secs(60));
        assert_eq!((sim.ups(0), sim.ups(1)), (1, 1), "{suite:?}: {:?}", sim.nodes[0].events);
        let got = sim.nodes[0].events.iter().find_map(|e| match e {
            vpn_ike::Event::IkeSaUp { suite, .. } => Some(*suite),
            _ => None,
        });
        assert_eq!(got, Some(suite));
        let (i, r) = (sim.child(0), sim.child(1));
        assert_child_pair(i[0], r[0]);
        assert_eq!(i[0].encr, esp[n % esp.len()].encr);
        ran += 1;
    }
    assert_eq!(ran, 48);
}

#[test]
fn invalid_ke_payload_retry_with_the_requested_group() {
    let (i, mut r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(2, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    let ecp = default_ike_suites().into_iter().find(|s| s.ke == vpn_core::alg::KeGroup::Ecp256).unwrap();
    r.ike_suites = vec![ecp];
    let mut cfg = responder_config(vec![r]);
    cfg.responder_ike_suites = vec![ecp];
    sim.add(addr(B), cfg);
    let mut peer = i;
    peer.ike_suites = vec![vpn_ike::IkeSuite::AES256GCM16_SHA256_X25519, ecp];
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    assert_eq!(sim.init_requests(), 2, "first KE refused, then retried");
    assert_child_pair(sim.child(0)[0], sim.child(1)[0]);
}

#[test]
fn cookie_round_trip() {
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(3, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    let mut cfg = responder_config(vec![r]);
    cfg.cookie_threshold = 0;
    sim.add(addr(B), cfg);
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    assert_eq!(sim.init_requests(), 2, "asked for a cookie, then retried with it");
    assert_child_pair(sim.child(0)[0], sim.child(1)[0]);
}

#[test]
fn wrong_psk_fails_on_both_sides() {
    let (mut sim, peer) = setup(4, Link::default(), b"not the key");
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(300));
    let want = Some(NotifyType::AuthenticationFailed);
    assert_eq!(sim.downs(0).iter().map(DownReason::notify).collect::<Vec<_>>(), vec![want]);
    assert_eq!(sim.downs(1).iter().map(DownReason::notify).collect::<Vec<_>>(), vec![want]);
    assert_eq!((sim.ups(0), sim.ups(1)), (0, 0));
    assert_eq!((sim.nodes[0].ep.sa_count(), sim.nodes[1].ep.sa_count()), (0, 0));
}

#[test]
fn no_common_proposal() {
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(5, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    let mut cfg = responder_config(vec![r]);
    cfg.responder_ike_suites = vec![vpn_ike::IkeSuite::AES256GCM16_SHA256_X25519];
    sim.add(addr(B), cfg);
    let mut peer = i;
    peer.ike_suites =
        vec![vpn_ike::IkeSuite { encr_key_bits: 128, ..vpn_ike::IkeSuite::AES256GCM16_SHA256_X25519 }];
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(300));
    assert_eq!(sim.downs(0), vec![DownReason::PeerError(NotifyType::NoProposalChosen)]);
    assert_eq!(sim.nodes[1].ep.sa_count(), 0, "the responder keeps no state");
    assert_eq!(sim.nodes[0].ep.sa_count(), 0);
}

#[test]
fn no_common_esp_proposal_ends_both_sides() {
    let (i, mut r) = psk_pair(b"k", b"k");
    r.esp_suites = vec![EspSuite::CHACHA20POLY1305];
    let mut sim = Sim::new(6, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(300));
    assert_eq!(sim.downs(0), vec![DownReason::ChildSaFailed(NotifyType::NoProposalChosen)]);
    assert_eq!(sim.downs(1), vec![DownReason::DeletedByPeer]);
    assert!(sim.child(0).is_empty() && sim.child(1).is_empty());
}

fn ts(s: &str) -> vpn_core::ts::TrafficSelector {
    s.parse().unwrap()
}

#[test]
fn selectors_are_narrowed() {
    let (mut i, mut r) = psk_pair(b"k", b"k");
    i.local_ts = vec![ts("10.1.0.0/16")];
    i.remote_ts = vec![ts("10.2.0.0/16")];
    r.local_ts = vec![ts("10.2.1.0/24")];
    r.remote_ts = vec![ts("10.0.0.0/8")];
    let mut sim = Sim::new(7, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(60));
    let (ci, cr) = (sim.child(0), sim.child(1));
    assert_child_pair(ci[0], cr[0]);
    assert_eq!(ci[0].local_ts, vec![ts("10.1.0.0/16")]);
    assert_eq!(ci[0].remote_ts, vec![ts("10.2.1.0/24")]);
}

#[test]
fn refused_selectors_end_both_sides() {
    let (mut i, mut r) = psk_pair(b"k", b"k");
    i.remote_ts = vec![ts("10.2.0.0/16")];
    r.local_ts = vec![ts("192.168.0.0/24")];
    let mut sim = Sim::new(8, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(300));
    assert_eq!(sim.downs(0), vec![DownReason::ChildSaFailed(NotifyType::TsUnacceptable)]);
    assert_eq!(sim.downs(1), vec![DownReason::DeletedByPeer]);
    assert_eq!((sim.nodes[0].ep.sa_count(), sim.nodes[1].ep.sa_count()), (0, 0));
}

#[test]
fn transport_mode() {
    let (mut i, mut r) = psk_pair(b"k", b"k");
    i.mode = vpn_ike::Mode::Transport;
    r.mode = vpn_ike::Mode::Transport;
    let mut sim = Sim::new(9, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(60));
    let (ci, cr) = (sim.child(0), sim.child(1));
    assert_child_pair(ci[0], cr[0]);
    assert_eq!(ci[0].mode, vpn_ike::Mode::Transport);
}

#[test]
fn twenty_percent_loss_still_establishes() {
    let mut ok = 0;
    for seed in 0..12 {
        let (mut sim, peer) = setup(1000 + seed, Link::lossy(200), b"correct horse");
        sim.connect(0, peer, 1);
        sim.run(Duration::from_secs(600));
        if sim.ups(0) == 1 && sim.ups(1) == 1 {
            assert_child_pair(sim.child(0)[0], sim.child(1)[0]);
            // Late duplicates of IKE_SA_INIT leave no stray SAs; a half-open SA whose
            // responses were all lost may expire while the initiator still retransmits.
            assert!(sim.downs(1).iter().all(|d| *d == DownReason::HalfOpenTimeout), "seed {seed}");
            assert_eq!(sim.nodes[1].ep.sa_count(), 1, "seed {seed}");
            ok += 1;
        } else {
            // A failure must still be clean: both ends report it.
            assert_eq!(sim.nodes[0].ep.sa_count(), 0, "seed {seed}");
        }
    }
    assert!(ok >= 11, "{ok} of 12 seeds established");
}

#[test]
fn nat_moves_to_port_4500() {
    let (mut sim, peer) = setup(10, Link::default(), b"correct horse");
    sim.nat = Some(Nat { inside: addr(A), public: "198.51.100.7".parse().unwrap() });
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    let (ci, cr) = (sim.child(0), sim.child(1));
    assert_child_pair(ci[0], cr[0]);
    let (ei, er) = (ci[0].udp_encap.unwrap(), cr[0].udp_encap.unwrap());
    assert_eq!((ei.local_port, ei.remote_port), (4500, 4500));
    assert_eq!((er.local_port, er.remote_port), (4500, 44500));
    // IKE_AUTH went over 4500 with the non-ESP marker.
    assert!(sim.log.iter().any(|w| w.marker && w.bytes[..4] == [0; 4] && w.bytes[4 + 18] == 35));
    let nat = sim.nodes[0].events.iter().find_map(|e| match e {
        vpn_ike::Event::IkeSaUp { nat, .. } => Some(*nat),
        _ => None,
    });
    assert!(nat.unwrap().local_behind_nat);
}

#[test]
fn fragmented_ike_auth() {
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(11, Link::lossy(100));
    let mut small = vpn_ike::EndpointConfig::default();
    small.fragmentation.max_packet = 200;
    sim.add(addr(A), small.clone());
    let mut cfg = responder_config(vec![r]);
    cfg.fragmentation.max_packet = 200;
    sim.add(addr(B), cfg);
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(600));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    assert_child_pair(sim.child(0)[0], sim.child(1)[0]);
    let skf = sim.log.iter().filter(|w| w.bytes[16] == 53).count();
    assert!(skf >= 4, "{skf} SKF datagrams");
    assert!(sim.log.iter().all(|w| w.bytes[18] == 34 || w.bytes.len() <= 152));
}

#[test]
fn initial_contact_replaces_older_sas_of_the_same_peer() {
    for initial_contact in [false, true] {
        let (mut i, r) = psk_pair(b"k", b"k");
        i.initial_contact = initial_contact;
        let mut sim = Sim::new(12, Link::default());
        sim.add(addr(A), vpn_ike::EndpointConfig::default());
        sim.add(addr(B), responder_config(vec![r]));
        sim.connect(0, i.clone(), 1);
        sim.run(Duration::from_secs(60));
        sim.connect(0, i, 1);
        sim.run(Duration::from_secs(60));
        assert_eq!((sim.ups(0), sim.ups(1)), (2, 2));
        if initial_contact {
            assert_eq!(sim.downs(1), vec![DownReason::Replaced]);
            assert_eq!(sim.nodes[1].ep.sa_count(), 1);
        } else {
            assert!(sim.downs(1).is_empty());
            assert_eq!(sim.nodes[1].ep.sa_count(), 2);
        }
    }
}

#[test]
fn unknown_initiator_identity_is_refused() {
    let (i, _) = psk_pair(b"k", b"k");
    let r = vpn_ike::PeerConfig::psk(fqdn("gw.example"), Some(fqdn("bob.example")), b"k");
    let mut sim = Sim::new(13, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(300));
    assert_eq!(sim.downs(0), vec![DownReason::PeerError(NotifyType::AuthenticationFailed)]);
    assert_eq!(sim.downs(1), vec![DownReason::Rejected(NotifyType::AuthenticationFailed)]);
}

#[test]
fn unexpected_responder_identity_is_refused_by_the_initiator() {
    let (i, _) = psk_pair(b"k", b"k");
    let r = vpn_ike::PeerConfig::psk(fqdn("impostor.example"), Some(fqdn("alice.example")), b"k");
    let mut sim = Sim::new(14, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(300));
    assert_eq!(sim.downs(0), vec![DownReason::Rejected(NotifyType::AuthenticationFailed)]);
    // The responder had authenticated the initiator, then hears AUTHENTICATION_FAILED.
    assert_eq!(sim.ups(1), 1);
    assert_eq!(sim.downs(1), vec![DownReason::PeerError(NotifyType::AuthenticationFailed)]);
    assert_eq!((sim.nodes[0].ep.sa_count(), sim.nodes[1].ep.sa_count()), (0, 0));
}

#[test]
fn ipv6_and_announced_notifies() {
    let (mut i, mut r) = psk_pair(b"k", b"k");
    let v6 = vpn_core::ts::TrafficSelector::any_v6();
    (i.local_ts, i.remote_ts, r.local_ts, r.remote_ts) = (vec![v6], vec![v6], vec![v6], vec![v6]);
    let mut sim = Sim::new(15, Link::default());
    sim.add(addr("[2001:db8::1]:500"), vpn_ike::EndpointConfig::default());
    sim.add(addr("[2001:db8::2]:500"), responder_config(vec![r]));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(60));
    assert_child_pair(sim.child(0)[0], sim.child(1)[0]);
    assert_eq!(sim.child(0)[0].local_ts, vec![v6]);
    assert!(sim.child(0)[0].udp_encap.is_none(), "no NAT");
    // Both IKE_SA_INIT messages announce RFC 7383 and RFC 7427 support and carry NAT detection.
    for w in sim.log.iter().filter(|w| w.bytes[18] == 34) {
        let m = vpn_ike::message::Message::decode(&w.bytes, &Default::default()).unwrap();
        for n in [
            NotifyType::Ikev2FragmentationSupported,
            NotifyType::SignatureHashAlgorithms,
            NotifyType::NatDetectionSourceIp,
            NotifyType::NatDetectionDestinationIp,
        ] {
            assert!(m.find_notify(n).is_some(), "{n:?}");
        }
    }
}

/// INVALID_KE_PAYLOAD and COOKIE round trips through a lossy, duplicating, reordering network.
#[test]
fn retries_survive_loss_and_duplicates() {
    let ecp = default_ike_suites().into_iter().find(|s| s.ke == vpn_core::alg::KeGroup::Ecp256).unwrap();
    let mut ok = 0;
    for seed in 0..10 {
        let (mut i, mut r) = psk_pair(b"k", b"k");
        i.ike_suites = vec![vpn_ike::IkeSuite::AES256GCM16_SHA256_X25519, ecp];
        r.ike_suites = vec![ecp];
        let mut sim = Sim::new(2000 + seed, Link { duplicate: 300, ..Link::lossy(150) });
        sim.add(addr(A), vpn_ike::EndpointConfig::default());
        let mut cfg = responder_config(vec![r]);
        cfg.responder_ike_suites = vec![ecp];
        cfg.cookie_threshold = 0;
        sim.add(addr(B), cfg);
        sim.connect(0, i, 1);
        sim.run(Duration::from_secs(600));
        if sim.ups(0) == 1 {
            assert_eq!(sim.ups(1), 1, "seed {seed}");
            assert_child_pair(sim.child(0)[0], sim.child(1)[0]);
            ok += 1;
        }
        assert_eq!(sim.nodes[0].ep.sa_count(), usize::from(sim.ups(0) == 1), "seed {seed}");
    }
    assert!(ok >= 9, "{ok} of 10");
}

#[test]
fn starting_on_port_4500_uses_the_marker_without_encapsulating_esp() {
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(16, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    let now = sim.now;
    let from = addr("10.0.0.1:4500");
    sim.nodes[0].ep.connect_from(now, i, from, addr("10.0.0.2:4500"), vpn_ike::PortKind::NatT).unwrap();
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    assert!(sim.log.iter().all(|w| w.marker && w.from.port() == 4500 && w.to.port() == 4500));
    let (ci, cr) = (sim.child(0), sim.child(1));
    assert_child_pair(ci[0], cr[0]);
    assert!(ci[0].udp_encap.is_none() && cr[0].udp_encap.is_none(), "no NAT, plain ESP");
}

#[test]
fn responder_takes_the_initiators_group_when_acceptable() {
    let (mut i, mut r) = psk_pair(b"k", b"k");
    let x25519 = vpn_ike::IkeSuite::AES256GCM16_SHA256_X25519;
    let ecp384 = vpn_ike::IkeSuite { ke: vpn_core::alg::KeGroup::Ecp384, ..x25519 };
    r.ike_suites = default_ike_suites();
    i.ike_suites = vec![ecp384, x25519];
    let mut sim = Sim::new(17, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    assert_eq!(sim.init_requests(), 1, "no INVALID_KE_PAYLOAD round trip");
    let got = sim.nodes[1].events.iter().find_map(|e| match e {
        vpn_ike::Event::IkeSaUp { suite, .. } => Some(*suite),
        _ => None,
    });
    assert_eq!(got, Some(ecp384));
}

/// The responder repeats AUTHENTICATION_FAILED to retransmitted IKE_AUTH requests, so the
/// initiator learns why even when the first answer is lost.
#[test]
fn authentication_failure_survives_loss() {
    let mut told = 0;
    for seed in 0..20 {
        let (mut sim, peer) = setup(3000 + seed, Link::lossy(200), b"not the key");
        // Drop the first IKE_AUTH response for sure.
        let mut dropped = false;
        sim.tamper = Some(Box::new(move |w: &mut Wire| {
            let auth_response = w.bytes[18] == 35 && w.bytes[19] & 0x20 != 0;
            !auth_response || std::mem::replace(&mut dropped, true)
        }));
        sim.connect(0, peer, 1);
        sim.run(Duration::from_secs(600));
        let d = sim.downs(0);
        assert_eq!(d.len(), 1);
        told += usize::from(d[0] == DownReason::PeerError(NotifyType::AuthenticationFailed));
        assert_eq!((sim.nodes[0].ep.sa_count(), sim.nodes[1].ep.sa_count()), (0, 0), "lingering ends");
    }
    assert!(told >= 16, "{told} of 20 initiators heard AUTHENTICATION_FAILED");
}

#[test]
fn forced_udp_encapsulation_without_a_nat() {
    // Either side forcing it is enough: its fake NAT_DETECTION_SOURCE_IP makes the other see a
    // NAT, and it acts as if behind one itself (RFC 7296 §2.23).
    for (force_i, force_r) in [(true, false), (false, true), (true, true)] {
        let (i, r) = psk_pair(b"k", b"k");
        let mut sim = Sim::new(12, Link::default());
        let ci = vpn_ike::EndpointConfig { force_udp_encap: force_i, ..Default::default() };
        sim.add(addr(A), ci);
        let mut cr = responder_config(vec![r]);
        cr.force_udp_encap = force_r;
        sim.add(addr(B), cr);
        sim.connect(0, i, 1);
        sim.run(Duration::from_secs(60));
        assert_eq!((sim.ups(0), sim.ups(1)), (1, 1), "forced by {force_i}/{force_r}");
        let (ci, cr) = (sim.child(0), sim.child(1));
        assert_child_pair(ci[0], cr[0]);
        let (ei, er) = (ci[0].udp_encap.unwrap(), cr[0].udp_encap.unwrap());
        assert_eq!((ei.local_port, ei.remote_port, er.local_port, er.remote_port), (4500, 4500, 4500, 4500));
        assert!(sim.log.iter().any(|w| w.marker && w.bytes[4 + 18] == 35), "IKE_AUTH on 4500");
    }
    // Neither: no NAT, no encapsulation, IKE stays on 500.
    let (mut sim, peer) = setup(13, Link::default(), b"correct horse");
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(60));
    assert!(sim.child(0)[0].udp_encap.is_none() && sim.child(1)[0].udp_encap.is_none());
}

#[test]
fn exported_ike_keys_agree_on_both_sides() {
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(14, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig { export_keys: true, ..Default::default() });
    let mut cr = responder_config(vec![r]);
    cr.export_keys = true;
    sim.add(addr(B), cr);
    let h = sim.connect(0, i, 1);
    sim.run(Duration::from_secs(60));
    let hr = sim.nodes[1].events.iter().find_map(|e| match e {
        vpn_ike::Event::IkeSaUp { handle, .. } => Some(*handle),
        _ => None,
    });
    let (ki, kr) =
        (sim.nodes[0].ep.ike_sa_keys(h).unwrap(), sim.nodes[1].ep.ike_sa_keys(hr.unwrap()).unwrap());
    assert_eq!((ki.spi_i, ki.spi_r), (kr.spi_i, kr.spi_r));
    assert_eq!(sim.nodes[0].ep.ike_sa_spis(h), Some((ki.spi_i, ki.spi_r)));
    assert_eq!(ki.sk_ei, kr.sk_ei);
    assert_eq!(ki.sk_er, kr.sk_er);
    assert_ne!(ki.sk_ei, ki.sk_er);
    assert_eq!(ki.sk_ei.len(), 36, "AES-256-GCM key with its salt");
    // Off by default: nothing to hand out.
    let (mut sim, peer) = setup(15, Link::default(), b"correct horse");
    let h = sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(60));
    assert!(sim.nodes[0].ep.ike_sa_keys(h).is_none());
}
