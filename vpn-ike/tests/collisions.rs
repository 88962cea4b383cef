//! Exchanges that cross (RFC 7296 §2.8.1, §2.8.2, §2.25): both ends start at the same simulated
//! instant, and a link with jitter (and loss) orders the four messages differently per seed, so
//! the delayed-request, delayed-response and dropped-message variants of strongSwan's
//! `test_child_rekey.c` / `test_ike_rekey.c` collision cases all occur. Whatever the order, no SA
//! is leaked or lost: at the end each side has exactly one ESP SA pair per Child SA, matching the
//! other side's, and (for rekeys) no instant when one side sent on an SA the other lacked.
#![allow(clippy::needless_range_loop)] // node indices pair with handles

mod common;

use common::*;
use vpn_core::alg::KeGroup;
use vpn_core::time::Duration;
use vpn_ike::{DownReason, EspSuite, Event, IkeSaHandle, PeerConfig};

const A: &str = "10.0.0.1:500";
const B: &str = "10.0.0.2:500";
const SEEDS: u64 = 24;

fn link(seed: u64) -> Link {
    // Every fourth seed also loses messages (the "drop" variants: retransmissions decide).
    let drop = if seed % 4 == 3 { 150 } else { 0 };
    Link { drop, duplicate: 0, jitter: Duration::from_millis(40), latency: Duration::from_millis(5) }
}

fn up(seed: u64, tune: impl Fn(&mut PeerConfig)) -> (Sim, [IkeSaHandle; 2]) {
    let (mut i, mut r) = psk_pair(b"k", b"k");
    tune(&mut i);
    tune(&mut r);
    let mut sim = Sim::new(seed, Link::default());
    // More retransmissions than the default: a lossy link must not end the IKE SA here.
    let retransmit =
        vpn_ike::RetransmitConfig { timeout: Duration::from_secs(2), backoff_permille: 1500, tries: 8 };
    sim.add(addr(A), vpn_ike::EndpointConfig { retransmit, ..Default::default() });
    sim.add(addr(B), vpn_ike::EndpointConfig { retransmit, ..responder_config(vec![r]) });
    let hi = sim.connect(0, i, 1);
    sim.run(Duration::from_secs(30));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    let hr = sim.nodes[1].ep.handles().next().unwrap();
    sim.link = link(seed);
    sim.gap_check = true;
    (sim, [hi, hr])
}

fn only_handle(sim: &Sim, n: usize) -> IkeSaHandle {
    let hs: Vec<_> = sim.nodes[n].ep.handles().collect();
    assert_eq!(hs.len(), 1, "node {n}: {hs:?} {:#?}", sim.nodes[n].events);
    hs[0]
}

fn first_child(sim: &Sim, n: usize, h: IkeSaHandle) -> u32 {
    sim.nodes[n].ep.child_sas(h)[0].0
}

fn settle(sim: &mut Sim) {
    sim.run(Duration::from_secs(1500));
}

fn assert_clean(sim: &Sim, seed: u64) {
    if !sim.gaps.is_empty() {
        dump(sim);
    }
    assert!(sim.gaps.is_empty(), "seed {seed}: {:?}", &sim.gaps[..sim.gaps.len().min(3)]);
    sim.assert_sas_consistent();
    for n in 0..2 {
        assert!(sim.downs(n).is_empty(), "seed {seed} node {n}: {:?}", sim.downs(n));
        let h = only_handle(sim, n);
        assert_eq!(sim.nodes[n].ep.child_sas(h).len(), 1, "seed {seed} node {n}");
    }
}

fn child_rekey_collision(esp: Vec<EspSuite>) {
    let mut outcomes = [0usize; 2];
    for seed in 0..SEEDS {
        let (mut sim, h) = up(seed, |p| p.esp_suites = esp.clone());
        let (c0, c1) = (first_child(&sim, 0, h[0]), first_child(&sim, 1, h[1]));
        let now = sim.now;
        assert!(sim.nodes[0].ep.rekey_child(now, h[0], c0));
        assert!(sim.nodes[1].ep.rekey_child(now, h[1], c1));
        settle(&mut sim);
        assert_clean(&sim, seed);
        // Which side's exchange made the redundant SA (both should occur over the seeds).
        for (n, o) in outcomes.iter_mut().enumerate() {
            let redundant = sim.nodes[n]
                .events
                .iter()
                .filter(|e| matches!(e, Event::ChildSaDown { reason: ChildDownReason::Redundant, .. }))
                .count();
            assert!(redundant <= 1, "seed {seed}");
            *o += redundant;
        }
    }
    assert!(outcomes.iter().all(|n| *n > 0), "{outcomes:?}");
}

#[test]
fn simultaneous_child_rekeys() {
    child_rekey_collision(vec![EspSuite::AES256GCM16]);
}

#[test]
fn simultaneous_child_rekeys_with_pfs() {
    let x = EspSuite { ke: Some(KeGroup::Curve25519), ..EspSuite::AES256GCM16 };
    child_rekey_collision(vec![x]);
}

#[test]
fn simultaneous_child_rekeys_with_invalid_ke_retries() {
    // Both prefer a group the other accepts second: each first request gets INVALID_KE_PAYLOAD
    // or is answered with the KE group of the payload; either way exactly one pair remains.
    for seed in 0..SEEDS {
        let x = EspSuite { ke: Some(KeGroup::Curve25519), ..EspSuite::AES256GCM16 };
        let e = EspSuite { ke: Some(KeGroup::Ecp256), ..EspSuite::AES256GCM16 };
        let (mut i, mut r) = psk_pair(b"k", b"k");
        i.esp_suites = vec![x, e];
        r.esp_suites = vec![e];
        let mut sim = Sim::new(seed, Link::default());
        sim.add(addr(A), vpn_ike::EndpointConfig::default());
        sim.add(addr(B), responder_config(vec![r]));
        let h0 = sim.connect(0, i, 1);
        sim.run(Duration::from_secs(30));
        let h1 = only_handle(&sim, 1);
        sim.link = link(seed);
        sim.gap_check = true;
        let (c0, c1) = (first_child(&sim, 0, h0), first_child(&sim, 1, h1));
        let now = sim.now;
        sim.nodes[0].ep.rekey_child(now, h0, c0);
        sim.nodes[1].ep.rekey_child(now, h1, c1);
        settle(&mut sim);
        assert_clean(&sim, seed);
    }
}

#[test]
fn simultaneous_ike_rekeys() {
    let mut outcomes = [0usize; 2];
    for seed in 0..SEEDS {
        let (mut sim, h) = up(100 + seed, |_| {});
        let before = sim.nodes[0].ep.child_sas(h[0]);
        let now = sim.now;
        assert!(sim.nodes[0].ep.rekey_ike(now, h[0]));
        assert!(sim.nodes[1].ep.rekey_ike(now, h[1]));
        settle(&mut sim);
        assert_clean(&sim, seed);
        let (n0, n1) = (only_handle(&sim, 0), only_handle(&sim, 1));
        assert_eq!(sim.nodes[0].ep.ike_sa_spis(n0), sim.nodes[1].ep.ike_sa_spis(n1), "seed {seed}");
        assert_eq!(sim.nodes[0].ep.child_sas(n0), before, "seed {seed}: the Child SA moved over");
        for n in 0..2 {
            let rekeyed: Vec<_> = sim.nodes[n]
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::IkeSaRekeyed { old, new } => Some((*old, *new)),
                    _ => None,
                })
                .collect();
            assert_eq!(rekeyed.len(), 1, "seed {seed} node {n}: one rekey seen by the host");
            assert_eq!(rekeyed[0].1, [n0, n1][n]);
        }
        // Who initiated the surviving SA.
        let (spi_i, _) = sim.nodes[0].ep.ike_sa_spis(n0).unwrap();
        outcomes[usize::from(spi_i == n0.0)] += 1;
        // The new IKE SA works.
        let c = first_child(&sim, 1, n1);
        let now = sim.now;
        assert!(sim.nodes[1].ep.rekey_child(now, n1, c));
        settle(&mut sim);
        assert_clean(&sim, seed);
    }
    assert!(outcomes.iter().all(|n| *n > 0), "{outcomes:?}");
}

#[test]
fn child_rekey_crossing_its_delete() {
    for seed in 0..SEEDS {
        let (mut sim, h) = up(200 + seed, |_| {});
        sim.gap_check = false; // the deleted Child SA carries nothing any more
        let now = sim.now;
        // A second Child SA so the IKE SA keeps one.
        sim.nodes[0].ep.create_child(now, h[0]);
        settle(&mut sim);
        let (rekeyer, deleter) = if seed % 2 == 0 { (0, 1) } else { (1, 0) };
        let victim_r = first_child(&sim, rekeyer, h[rekeyer]);
        let victim_d =
            sim.nodes[deleter].ep.child_sas(h[deleter]).into_iter().find(|c| c.1 == victim_r).unwrap().0;
        let now = sim.now;
        assert!(sim.nodes[rekeyer].ep.rekey_child(now, h[rekeyer], victim_r));
        assert!(sim.nodes[deleter].ep.delete_child(now, h[deleter], victim_d));
        settle(&mut sim);
        sim.assert_sas_consistent();
        for n in 0..2 {
            assert!(sim.downs(n).is_empty(), "seed {seed}");
            // Either the rekey lost (one pair left) or it won the race and its successor stays.
            let left = sim.nodes[n].ep.child_sas(h[n]).len();
            assert!((1..=2).contains(&left), "seed {seed} node {n}: {left}");
        }
        let gone = sim.nodes[rekeyer].ep.child_sas(h[rekeyer]).iter().all(|c| c.0 != victim_r);
        assert!(gone, "seed {seed}: the deleted SA is gone");
    }
}

#[test]
fn child_rekey_crossing_an_ike_rekey() {
    for seed in 0..SEEDS {
        let (mut sim, h) = up(300 + seed, |_| {});
        let (a, b) = if seed % 2 == 0 { (0, 1) } else { (1, 0) };
        let c = first_child(&sim, a, h[a]);
        let now = sim.now;
        assert!(sim.nodes[a].ep.rekey_child(now, h[a], c));
        assert!(sim.nodes[b].ep.rekey_ike(now, h[b]));
        settle(&mut sim);
        assert_clean(&sim, seed);
        // Both happened in the end (a refused one is retried a little later).
        assert!(sim.nodes[a].events.iter().any(|e| matches!(e, Event::IkeSaRekeyed { .. })), "seed {seed}");
        let n = only_handle(&sim, a);
        assert_ne!(first_child(&sim, a, n), c, "seed {seed}: the Child SA was rekeyed");
    }
}

#[test]
fn rekeys_crossing_a_close() {
    for seed in 0..SEEDS {
        let (mut sim, h) = up(400 + seed, |_| {});
        sim.gap_check = false;
        let (a, b) = if seed % 2 == 0 { (0, 1) } else { (1, 0) };
        let now = sim.now;
        if seed % 4 < 2 {
            let c = first_child(&sim, a, h[a]);
            sim.nodes[a].ep.rekey_child(now, h[a], c);
        } else {
            sim.nodes[a].ep.rekey_ike(now, h[a]);
        }
        sim.nodes[b].ep.close(now, h[b]);
        settle(&mut sim);
        for n in 0..2 {
            assert_eq!(sim.nodes[n].ep.sa_count(), 0, "seed {seed} node {n}: {:#?}", sim.nodes[n].events);
            assert!(installed_pairs(&sim.nodes[n].sad).is_empty(), "seed {seed} node {n}");
            assert_eq!(sim.downs(n).len(), 1, "seed {seed} node {n}: {:?}", sim.nodes[n].events);
        }
        assert_eq!(sim.downs(b), vec![DownReason::Closed], "seed {seed}");
    }
}

#[test]
fn simultaneous_deletes_of_one_child() {
    for seed in 0..SEEDS {
        let (mut sim, h) = up(500 + seed, |_| {});
        sim.gap_check = false;
        let now = sim.now;
        sim.nodes[0].ep.create_child(now, h[0]);
        settle(&mut sim);
        let c0 = first_child(&sim, 0, h[0]);
        let c1 = sim.nodes[1].ep.child_sas(h[1]).into_iter().find(|c| c.1 == c0).unwrap().0;
        let now = sim.now;
        sim.nodes[0].ep.delete_child(now, h[0], c0);
        sim.nodes[1].ep.delete_child(now, h[1], c1);
        settle(&mut sim);
        sim.assert_sas_consistent();
        for n in 0..2 {
            assert_eq!(sim.nodes[n].ep.child_sas(h[n]).len(), 1, "seed {seed}");
            assert!(sim.downs(n).is_empty());
        }
    }
}

#[test]
fn ike_rekey_crossing_a_child_delete() {
    for seed in 0..SEEDS {
        let (mut sim, h) = up(600 + seed, |_| {});
        sim.gap_check = false;
        let now = sim.now;
        sim.nodes[0].ep.create_child(now, h[0]);
        settle(&mut sim);
        let (a, b) = if seed % 2 == 0 { (0, 1) } else { (1, 0) };
        let victim = first_child(&sim, b, h[b]);
        let now = sim.now;
        assert!(sim.nodes[a].ep.rekey_ike(now, h[a]));
        assert!(sim.nodes[b].ep.delete_child(now, h[b], victim));
        settle(&mut sim);
        assert_clean(&sim, seed);
        let n = only_handle(&sim, b);
        assert_ne!(n, h[b], "seed {seed}: rekeyed (a refused rekey is retried)");
        assert!(sim.nodes[b].ep.child_sas(n).iter().all(|c| c.0 != victim), "seed {seed}");
    }
}

#[test]
fn simultaneous_closes() {
    for seed in 0..SEEDS {
        let (mut sim, h) = up(700 + seed, |_| {});
        let now = sim.now;
        sim.nodes[0].ep.close(now, h[0]);
        sim.nodes[1].ep.close(now, h[1]);
        settle(&mut sim);
        for n in 0..2 {
            assert_eq!(sim.downs(n).len(), 1, "seed {seed}");
            assert_eq!(sim.nodes[n].ep.sa_count(), 0);
            assert!(installed_pairs(&sim.nodes[n].sad).is_empty());
        }
    }
}
