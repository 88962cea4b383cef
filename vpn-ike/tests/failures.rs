//! Timers, retransmission, the response cache, malformed input and errors answered with the
//! right notify.

mod common;

use common::*;
use vpn_core::time::Duration;
use vpn_ike::message::{
    ExchangeType, Header, HeaderFlags, Limits, Message, Nonce, NotifyType, Payload, PayloadFlags, PayloadType,
};
use vpn_ike::{DownReason, EndpointConfig, PortKind};

const A: &str = "10.0.0.1:500";
const B: &str = "10.0.0.2:500";

fn pair(seed: u64, link: Link) -> (Sim, vpn_ike::PeerConfig) {
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(seed, link);
    sim.add(addr(A), EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    (sim, i)
}

#[test]
fn unanswered_requests_back_off_then_time_out() {
    let (mut sim, peer) = pair(1, Link { drop: 1000, ..Link::default() });
    let start = sim.now;
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(1000));
    assert_eq!(sim.downs(0), vec![DownReason::Timeout]);
    // 1 + 5 retransmissions at 4, 7.2, 12.96, 23.33, 41.99 s; give up 75.58 s after the last.
    assert_eq!(sim.init_requests(), 6);
    let took = (sim.now - start).as_millis();
    assert!((165_000..166_000).contains(&took), "{took} ms");
}

#[test]
fn retransmitted_requests_get_the_cached_response() {
    let (mut sim, peer) = pair(2, Link::default());
    // Drop the first IKE_AUTH response only.
    let mut dropped = false;
    sim.tamper = Some(Box::new(move |w: &mut Wire| {
        let auth_response = w.bytes[18] == 35 && w.bytes[19] & 0x20 != 0;
        if auth_response && !dropped {
            dropped = true;
            return false;
        }
        true
    }));
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    let responses: Vec<&Wire> =
        sim.log.iter().filter(|w| w.bytes[18] == 35 && w.bytes[19] & 0x20 != 0).collect();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0].bytes, responses[1].bytes, "answered from the cache");
    assert_child_pair(sim.child(0)[0], sim.child(1)[0]);
}

#[test]
fn half_open_sas_expire() {
    let (mut sim, peer) = pair(3, Link::default());
    // Deliver IKE_SA_INIT only.
    sim.tamper = Some(Box::new(|w: &mut Wire| w.bytes[18] == 34));
    sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(20));
    assert_eq!(sim.nodes[1].ep.half_open_count(), 1);
    sim.run(Duration::from_secs(1000));
    assert_eq!(sim.downs(1), vec![DownReason::HalfOpenTimeout]);
    assert_eq!(sim.downs(0), vec![DownReason::Timeout]);
    assert_eq!((sim.nodes[1].ep.half_open_count(), sim.nodes[1].ep.sa_count()), (0, 0));
}

/// Sends `bytes` to the responder and returns what it answered.
fn ask(bytes: &[u8]) -> Vec<Vec<u8>> {
    let (mut sim, _) = pair(4, Link::default());
    let now = sim.now;
    sim.nodes[1].ep.handle_datagram(now, addr(B), addr(A), PortKind::Ike, bytes);
    let mut buf = vec![0u8; 70_000];
    let mut out = Vec::new();
    while let Some(t) = sim.nodes[1].ep.poll_transmit(&mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    out
}

fn notify_of(reply: &[u8]) -> Option<NotifyType> {
    let m = Message::decode(reply, &Limits::default()).ok()?;
    assert!(m.header.flags.response());
    let n = m.notifies().next().map(|n| n.notify_type);
    n
}

fn init_header() -> Header {
    Header::new(ExchangeType::IkeSaInit, 0x1122_3344_5566_7788, 0, 0, HeaderFlags::INITIATOR)
}

#[test]
fn invalid_major_version_is_answered() {
    let mut m = Message { header: init_header(), payloads: vec![] }.encode();
    m[17] = 0x30;
    let out = ask(&m);
    assert_eq!(out.len(), 1);
    assert_eq!(notify_of(&out[0]), Some(NotifyType::InvalidMajorVersion));
}

#[test]
fn unsupported_critical_payload_is_answered() {
    let unknown = Payload::Unknown {
        payload_type: PayloadType::Unknown(200),
        flags: PayloadFlags(0x80),
        body: vec![1, 2],
    };
    let m =
        Message { header: init_header(), payloads: vec![Payload::from(Nonce::new(vec![1; 32])), unknown] };
    let out = ask(&m.encode());
    assert_eq!(out.len(), 1);
    assert_eq!(notify_of(&out[0]), Some(NotifyType::UnsupportedCriticalPayload));
}

#[test]
fn invalid_syntax_is_answered() {
    // No SA, KE or nonce.
    let m = Message { header: init_header(), payloads: vec![] };
    assert_eq!(notify_of(&ask(&m.encode())[0]), Some(NotifyType::InvalidSyntax));
    // A payload length past the end.
    let mut b =
        Message { header: init_header(), payloads: vec![Payload::from(Nonce::new(vec![1; 32]))] }.encode();
    b[30] = 0xff;
    assert_eq!(notify_of(&ask(&b)[0]), Some(NotifyType::InvalidSyntax));
}

#[test]
fn garbage_and_damaged_handshakes_never_panic() {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(99);
    for len in [0usize, 1, 3, 4, 27, 28, 29, 100, 400] {
        for _ in 0..20 {
            let mut b = vec![0u8; len];
            rng.fill_bytes(&mut b);
            ask(&b);
            if len >= 28 {
                b[17] = 0x20;
                b[24..28].copy_from_slice(&(len as u32).to_be_bytes());
                ask(&b);
            }
        }
    }
    // Flip one random byte of ~10% of the datagrams of full handshakes.
    for seed in 0..20 {
        let (mut sim, peer) = pair(500 + seed, Link::default());
        let mut r = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        sim.tamper = Some(Box::new(move |w: &mut Wire| {
            if r.next_u32() % 10 == 0 {
                let i = (r.next_u32() as usize) % w.bytes.len();
                w.bytes[i] ^= 1 << (r.next_u32() % 8);
            }
            true
        }));
        sim.connect(0, peer, 1);
        sim.run(Duration::from_secs(600));
        // Whatever happened, both ends settled: nothing due before the first rekey.
        let settled = sim.now + Duration::from_secs(3000);
        assert!(sim.nodes[0].ep.poll_timeout().is_none_or(|t| t > settled));
        if sim.ups(0) == 1 && sim.ups(1) == 1 {
            assert_child_pair(sim.child(0)[0], sim.child(1)[0]);
        }
    }
}

#[test]
fn close_deletes_on_both_sides() {
    let (mut sim, peer) = pair(6, Link::default());
    let h = sim.connect(0, peer, 1);
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    let now = sim.now;
    sim.nodes[0].ep.close(now, h);
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.downs(0), vec![DownReason::Closed]);
    assert_eq!(sim.downs(1), vec![DownReason::DeletedByPeer]);
}

/// With the `fuzzing` feature, a responder with fixed keys accepts SK payloads built from
/// `IkeKeys::fixed_for_fuzzing`, which is what the `ike_responder` fuzz target relies on.
#[cfg(feature = "fuzzing")]
#[test]
fn fixed_keys_reach_sk_contents() {
    use vpn_ike::keys::sk::SkCrypto;
    use vpn_ike::keys::IkeKeys;
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(7, Link::default());
    sim.add(addr(A), EndpointConfig { fuzzing_fixed_keys: true, ..EndpointConfig::default() });
    let mut cr = responder_config(vec![r]);
    cr.fuzzing_fixed_keys = true;
    sim.add(addr(B), cr);
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(60));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    let suite = vpn_ike::IkeSuite::AES256GCM16_SHA256_X25519;
    let keys = IkeKeys::fixed_for_fuzzing(&suite).unwrap();
    let observer = SkCrypto::new(&suite, &keys, false).unwrap();
    let auth = sim.log.iter().find(|w| w.bytes[18] == 35 && w.bytes[19] & 0x20 == 0).unwrap();
    let (_, payloads) = observer.unprotect(&auth.bytes, &Limits::default()).unwrap();
    assert!(payloads.iter().any(|p| matches!(p, Payload::IdI(_))));
}

#[test]
fn connect_validates_the_peer_config() {
    let (mut sim, peer) = pair(8, Link::default());
    let now = sim.now;
    let ep = &mut sim.nodes[0].ep;
    let mut p = peer.clone();
    p.ike_suites.clear();
    assert_eq!(ep.connect(now, p, addr(B)), Err(vpn_ike::ConnectError::NoProposals));
    let mut p = peer.clone();
    p.ike_suites[0].encr_key_bits = 192;
    assert_eq!(ep.connect(now, p, addr(B)), Err(vpn_ike::ConnectError::UnsupportedProposal));
    let mut p = peer.clone();
    p.esp_suites[0].integ = vpn_core::alg::IntegAlg::HmacSha256_128;
    assert_eq!(ep.connect(now, p, addr(B)), Err(vpn_ike::ConnectError::UnsupportedProposal));
    assert!(ep.connect(now, peer, addr(B)).is_ok());
}

#[test]
fn small_transmit_buffers_drop_the_datagram() {
    let (mut sim, peer) = pair(9, Link::default());
    let now = sim.now;
    sim.nodes[0].ep.connect(now, peer, addr(B)).unwrap();
    let mut small = [0u8; 100];
    assert!(sim.nodes[0].ep.poll_transmit(&mut small).is_none());
}

/// An authentic IKE_AUTH whose encrypted payloads do not parse is answered with an encrypted
/// INVALID_SYNTAX and ends the SA (RFC 7296 §2.21.2). Needs the fixed keys of `fuzzing`.
#[cfg(feature = "fuzzing")]
#[test]
fn malformed_encrypted_payloads_get_invalid_syntax() {
    use rand_chacha::rand_core::SeedableRng;
    use vpn_ike::keys::sk::SkCrypto;
    use vpn_ike::keys::IkeKeys;
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(10, Link::default());
    sim.add(addr(A), EndpointConfig::default());
    sim.add(addr(B), EndpointConfig { fuzzing_fixed_keys: true, ..responder_config(vec![r]) });
    // Only IKE_SA_INIT gets through.
    sim.tamper = Some(Box::new(|w: &mut Wire| w.bytes[18] == 34));
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(1));
    let reply = sim.log.iter().find(|w| w.bytes[18] == 34 && w.bytes[19] & 0x20 != 0).unwrap();
    let h = Message::decode(&reply.bytes, &Limits::default()).unwrap().header;
    let suite = vpn_ike::IkeSuite::AES256GCM16_SHA256_X25519;
    let keys = IkeKeys::fixed_for_fuzzing(&suite).unwrap();
    let mut initiator = SkCrypto::new(&suite, &keys, true).unwrap();
    let header = Header::new(ExchangeType::IkeAuth, h.spi_i, h.spi_r, 1, HeaderFlags::INITIATOR);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let bad = initiator.protect_fragment(&header, PayloadType::IdI, 1, 1, &[1, 2, 3], &mut rng).unwrap();
    let now = sim.now;
    sim.nodes[1].ep.handle_datagram(now, addr(B), addr(A), PortKind::Ike, &bad);
    let mut buf = vec![0u8; 70_000];
    let t = sim.nodes[1].ep.poll_transmit(&mut buf).expect("a response");
    let (rh, payloads) = initiator.unprotect(&buf[..t.len], &Limits::default()).unwrap();
    assert!(rh.flags.response());
    assert_eq!(payloads[0].as_notify().map(|n| n.notify_type), Some(NotifyType::InvalidSyntax));
    let down = sim.nodes[1].ep.poll_event();
    assert!(matches!(
        down,
        Some(vpn_ike::Event::IkeSaDown { reason: DownReason::Rejected(NotifyType::InvalidSyntax), .. })
    ));
}

/// Random plaintext inside authentic SK payloads (IKE_AUTH, INFORMATIONAL, CREATE_CHILD_SA)
/// never panics a responder. Needs the fixed keys of `fuzzing`.
#[cfg(feature = "fuzzing")]
#[test]
fn random_encrypted_contents_never_panic() {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use vpn_ike::keys::sk::SkCrypto;
    use vpn_ike::keys::IkeKeys;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(77);
    let suite = vpn_ike::IkeSuite::AES256GCM16_SHA256_X25519;
    let keys = IkeKeys::fixed_for_fuzzing(&suite).unwrap();
    for round in 0..60 {
        let (i, r) = psk_pair(b"k", b"k");
        let mut sim = Sim::new(round, Link::default());
        sim.add(addr(A), EndpointConfig::default());
        sim.add(addr(B), EndpointConfig { fuzzing_fixed_keys: true, ..responder_config(vec![r]) });
        let established = round % 2 == 0;
        if !established {
            sim.tamper = Some(Box::new(|w: &mut Wire| w.bytes[18] == 34));
        }
        sim.connect(0, i, 1);
        sim.run(Duration::from_secs(1));
        let reply = sim.log.iter().find(|w| w.bytes[18] == 34 && w.bytes[19] & 0x20 != 0).unwrap();
        let h = Message::decode(&reply.bytes, &Limits::default()).unwrap().header;
        let mut sk = SkCrypto::new(&suite, &keys, true).unwrap();
        sk.set_next_iv_for_fuzzing(1 << 40);
        for n in 0..20u32 {
            let exchange = [ExchangeType::IkeAuth, ExchangeType::Informational, ExchangeType::CreateChildSa]
                [n as usize % 3];
            let mid = if established { 2 + n / 3 } else { 1 };
            let header = Header::new(exchange, h.spi_i, h.spi_r, mid, HeaderFlags::INITIATOR);
            let mut chunk = vec![0u8; (rng.next_u32() % 300) as usize];
            rng.fill_bytes(&mut chunk);
            let first = PayloadType::from((rng.next_u32() % 60) as u8);
            let d = sk.protect_fragment(&header, first, 1, 1, &chunk, &mut rng).unwrap();
            let now = sim.now;
            sim.nodes[1].ep.handle_datagram(now, addr(B), addr(A), PortKind::Ike, &d);
        }
        sim.run(Duration::from_secs(600));
    }
}
