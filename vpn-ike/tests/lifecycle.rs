//! The life of an IKE SA after establishment (issue 4): more Child SAs, Child SA and IKE SA
//! rekeys from either side with and without PFS, deletes, lifetimes, liveness checks.

mod common;

use common::*;
use vpn_core::alg::KeGroup;
use vpn_core::time::Duration;
use vpn_ike::{DownReason, EspSuite, Event, IkeSaHandle, Lifetimes, PeerConfig};

const A: &str = "10.0.0.1:500";
const B: &str = "10.0.0.2:500";

fn pfs(g: KeGroup) -> EspSuite {
    EspSuite { ke: Some(g), ..EspSuite::AES256GCM16 }
}

/// An established pair; returns the sim and both IKE SA handles.
fn up_with(seed: u64, link: Link, tune: impl Fn(&mut PeerConfig)) -> (Sim, IkeSaHandle, IkeSaHandle) {
    let (mut i, mut r) = psk_pair(b"k", b"k");
    tune(&mut i);
    tune(&mut r);
    let mut sim = Sim::new(seed, link);
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    let hi = sim.connect(0, i, 1);
    sim.run(Duration::from_secs(30));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1), "{:?}", sim.nodes[0].events);
    let hr = sim.nodes[1].ep.handles().next().unwrap();
    sim.gap_check = true;
    (sim, hi, hr)
}

fn up(seed: u64) -> (Sim, IkeSaHandle, IkeSaHandle) {
    up_with(seed, Link::default(), |_| {})
}

fn count(sim: &Sim, node: usize, f: impl Fn(&Event) -> bool) -> usize {
    sim.nodes[node].events.iter().filter(|e| f(e)).count()
}

fn child_downs(sim: &Sim, node: usize) -> Vec<ChildDownReason> {
    sim.nodes[node]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaDown { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

fn handle_of(sim: &Sim, node: usize) -> IkeSaHandle {
    let hs: Vec<_> = sim.nodes[node].ep.handles().collect();
    assert_eq!(hs.len(), 1, "node {node}: {hs:?}");
    hs[0]
}

fn assert_no_gaps(sim: &Sim) {
    if !sim.gaps.is_empty() {
        for n in 0..2 {
            eprintln!("node {n}:");
            for e in &sim.nodes[n].events {
                match e {
                    Event::ChildSaUp(c) => {
                        eprintln!("  up {:08x}/{:08x} of {:?}", c.spi_in, c.spi_out, c.rekey_of)
                    }
                    e => eprintln!("  {e:?}"),
                }
            }
        }
    }
    assert!(sim.gaps.is_empty(), "{:#?}", &sim.gaps[..sim.gaps.len().min(5)]);
}

#[test]
fn create_child_from_either_side() {
    let (mut sim, hi, hr) = up(1);
    assert!(sim.nodes[0].ep.create_child(sim.now, hi));
    sim.gap_check = false; // a new Child SA is used by the responder before the initiator has it
    sim.run(Duration::from_secs(10));
    assert!(sim.nodes[1].ep.create_child(sim.now, hr));
    sim.run(Duration::from_secs(10));
    let (i, r) = (sim.child(0), sim.child(1));
    assert_eq!((i.len(), r.len()), (3, 3));
    for mine in &i {
        let theirs = r.iter().find(|c| c.spi_in == mine.spi_out).expect("paired");
        assert_child_pair(mine, theirs);
    }
    assert_eq!(sim.nodes[0].ep.child_sas(hi).len(), 3);
    sim.assert_sas_consistent();
}

fn rekey_child_from(seed: u64, node: usize, suites: Vec<EspSuite>) {
    let (mut sim, hi, hr) = up_with(seed, Link::default(), |p| p.esp_suites = suites.clone());
    let h = [hi, hr][node];
    let old = sim.child(node)[0].spi_in;
    assert!(sim.nodes[node].ep.rekey_child(sim.now, h, old));
    sim.run(Duration::from_secs(10));
    let (i, r) = (sim.child(0), sim.child(1));
    assert_eq!((i.len(), r.len()), (2, 2), "{:?}", sim.nodes[node].events);
    let (ni, nr) = (i[1], r[1]);
    assert_child_pair(ni, nr);
    assert_ne!(ni.keys_in.encr, i[0].keys_in.encr, "fresh keys");
    assert_eq!(ni.rekey_of, Some(i[0].spi_in));
    assert_eq!(nr.rekey_of, Some(r[0].spi_in));
    for n in 0..2 {
        assert_eq!(child_downs(&sim, n), vec![ChildDownReason::Rekeyed], "node {n}");
        assert_eq!(count(&sim, n, |e| matches!(e, Event::ChildSaRekeyed { .. })), 1);
    }
    assert_no_gaps(&sim);
    sim.assert_sas_consistent();
    assert_eq!(sim.nodes[0].ep.child_sas(hi), vec![(ni.spi_in, ni.spi_out)]);
}

#[test]
fn child_rekey_from_the_initiator_without_pfs() {
    rekey_child_from(2, 0, vec![EspSuite::AES256GCM16]);
}

#[test]
fn child_rekey_from_the_responder_without_pfs() {
    rekey_child_from(3, 1, vec![EspSuite::AES256GCM16]);
}

#[test]
fn child_rekey_with_pfs_from_either_side() {
    for (n, g) in [KeGroup::Curve25519, KeGroup::Ecp256, KeGroup::Modp2048].into_iter().enumerate() {
        rekey_child_from(4 + n as u64, n % 2, vec![pfs(g)]);
    }
}

#[test]
fn child_rekey_pfs_invalid_ke_payload_retry() {
    // The initiator prefers Curve25519, the responder only takes ECP-256.
    let (i, mut r) = psk_pair(b"k", b"k");
    let mut i = i;
    i.esp_suites = vec![pfs(KeGroup::Curve25519), pfs(KeGroup::Ecp256)];
    r.esp_suites = vec![pfs(KeGroup::Ecp256)];
    let mut sim = Sim::new(8, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    let hi = sim.connect(0, i, 1);
    sim.run(Duration::from_secs(30));
    sim.gap_check = true;
    let old = sim.child(0)[0].spi_in;
    assert!(sim.nodes[0].ep.rekey_child(sim.now, hi, old));
    sim.run(Duration::from_secs(10));
    let (i, r) = (sim.child(0), sim.child(1));
    assert_eq!((i.len(), r.len()), (2, 2));
    assert_child_pair(i[1], r[1]);
    // Three CREATE_CHILD_SA requests would mean no retry; one refused, one accepted.
    let creates = sim.log.iter().filter(|w| w.bytes[18] == 36 && w.bytes[19] & 0x20 == 0).count();
    assert_eq!(creates, 2);
    assert_no_gaps(&sim);
    sim.assert_sas_consistent();
}

fn rekey_ike_from(seed: u64, node: usize) {
    let (mut sim, hi, hr) = up(seed);
    sim.gap_check = false;
    sim.nodes[0].ep.create_child(sim.now, hi);
    sim.run(Duration::from_secs(10));
    sim.gap_check = true;
    let before: Vec<_> = sim.nodes[0].ep.child_sas(hi);
    assert_eq!(before.len(), 2);
    let h = [hi, hr][node];
    assert!(sim.nodes[node].ep.rekey_ike(sim.now, h));
    sim.run(Duration::from_secs(10));
    let (ni, nr) = (handle_of(&sim, 0), handle_of(&sim, 1));
    assert_ne!((ni, nr), (hi, hr));
    for n in 0..2 {
        assert_eq!(count(&sim, n, |e| matches!(e, Event::IkeSaRekeyed { .. })), 1, "node {n}");
        assert!(sim.downs(n).is_empty(), "node {n}: {:?}", sim.downs(n));
    }
    let spis = sim.nodes[0].ep.ike_sa_spis(ni).unwrap();
    assert_eq!(Some(spis), sim.nodes[1].ep.ike_sa_spis(nr));
    assert_eq!(sim.nodes[0].ep.child_sas(ni), before, "Child SAs moved over");
    // The new IKE SA works: rekey a Child SA and delete one through it.
    let c = before[0].0;
    assert!(sim.nodes[0].ep.rekey_child(sim.now, ni, c));
    sim.run(Duration::from_secs(10));
    assert_no_gaps(&sim);
    // A deleted Child SA carries no more traffic: no gap check from here.
    sim.gap_check = false;
    let victim = sim.nodes[1].ep.child_sas(nr)[0].0;
    assert!(sim.nodes[1].ep.delete_child(sim.now, nr, victim));
    sim.run(Duration::from_secs(10));
    assert_eq!(sim.nodes[0].ep.child_sas(ni).len(), 1);
    assert_no_gaps(&sim);
    sim.assert_sas_consistent();
}

#[test]
fn ike_rekey_from_the_initiator() {
    rekey_ike_from(10, 0);
}

#[test]
fn ike_rekey_from_the_responder() {
    rekey_ike_from(11, 1);
}

#[test]
fn delete_child_from_either_side() {
    for node in 0..2 {
        let (mut sim, hi, hr) = up(20 + node as u64);
        sim.gap_check = false;
        sim.nodes[0].ep.create_child(sim.now, hi);
        sim.run(Duration::from_secs(10));
        let h = [hi, hr][node];
        let spi = sim.nodes[node].ep.child_sas(h)[0].0;
        assert!(sim.nodes[node].ep.delete_child(sim.now, h, spi));
        assert!(!sim.nodes[node].ep.delete_child(sim.now, h, 12345), "unknown SPI");
        sim.run(Duration::from_secs(10));
        let other = 1 - node;
        assert_eq!(child_downs(&sim, node), vec![ChildDownReason::Deleted]);
        assert_eq!(child_downs(&sim, other), vec![ChildDownReason::DeletedByPeer]);
        assert_eq!(sim.nodes[0].ep.child_sas(hi).len(), 1);
        sim.assert_sas_consistent();
        assert_eq!((sim.ups(0), sim.downs(0).len()), (1, 0), "the IKE SA stays");
    }
}

#[test]
fn close_from_either_side_removes_everything() {
    for node in 0..2 {
        let (mut sim, hi, hr) = up(30 + node as u64);
        sim.nodes[node].ep.close(sim.now, [hi, hr][node]);
        sim.run(Duration::from_secs(10));
        assert_eq!(sim.downs(node), vec![DownReason::Closed]);
        assert_eq!(sim.downs(1 - node), vec![DownReason::DeletedByPeer]);
        assert_eq!(sim.nodes[0].ep.sa_count() + sim.nodes[1].ep.sa_count(), 0);
        assert!(
            installed_pairs(&sim.nodes[0].sad).is_empty() && installed_pairs(&sim.nodes[1].sad).is_empty()
        );
    }
}

#[test]
fn soft_lifetimes_rekey_children_and_the_ike_sa_with_jitter() {
    let (mut sim, _, _) = up_with(40, Link::default(), |p| {
        p.child_lifetimes = Lifetimes { soft: Duration::from_secs(300), hard: Duration::from_secs(330) };
        p.ike_lifetimes = Lifetimes { soft: Duration::from_secs(900), hard: Duration::from_secs(990) };
    });
    sim.run(Duration::from_secs(3600));
    for n in 0..2 {
        let rekeyed = child_downs(&sim, n);
        // One Child SA replaced about every 270-300 s by either side: 12 to 14 in an hour.
        assert!((11..=14).contains(&rekeyed.len()), "node {n}: {rekeyed:?}");
        assert!(rekeyed.iter().all(|r| *r == ChildDownReason::Rekeyed), "{rekeyed:?}");
        let ike = count(&sim, n, |e| matches!(e, Event::IkeSaRekeyed { .. }));
        assert!((3..=5).contains(&ike), "node {n}: {ike} IKE rekeys");
        assert!(sim.downs(n).is_empty());
    }
    assert_no_gaps(&sim);
    sim.assert_sas_consistent();
}

#[test]
fn a_silent_peer_is_declared_dead() {
    let (mut sim, _, _) = up_with(50, Link::default(), |p| p.dpd_interval = Some(Duration::from_secs(30)));
    // Both idle: liveness checks go back and forth, nothing ends.
    sim.run(Duration::from_secs(300));
    assert!(sim.downs(0).is_empty() && sim.downs(1).is_empty());
    let informational = sim.log.iter().filter(|w| w.bytes[18] == 37).count();
    assert!(informational >= 10, "{informational} INFORMATIONAL messages");
    sim.down = Some(1);
    // Declared dead within the interval plus the retransmission schedule (165 s).
    let limit = Duration::from_secs(31) + vpn_ike::RetransmitConfig::default().total();
    sim.run(limit);
    assert_eq!(sim.downs(0), vec![DownReason::Timeout]);
    assert!(installed_pairs(&sim.nodes[0].sad).is_empty());
    assert_eq!(sim.nodes[0].ep.sa_count(), 0);
}

#[test]
fn reported_inbound_traffic_defers_liveness_checks() {
    let (mut sim, hi, hr) = up_with(51, Link::default(), |p| p.dpd_interval = Some(Duration::from_secs(30)));
    let before = sim.log.len();
    for _ in 0..20 {
        let now = sim.now;
        sim.nodes[0].ep.note_inbound_traffic(hi, now);
        sim.nodes[1].ep.note_inbound_traffic(hr, now);
        sim.run(Duration::from_secs(10));
    }
    assert_eq!(sim.log.len(), before, "no liveness check while traffic flows");
}

/// Issue 4: 30% loss (and duplicates and reordering) for 24 simulated hours, Child SAs rekeyed
/// every 5 minutes and the IKE SA every 15, both sides' timers racing: the tunnel is never down
/// and at every instant each side sends on an SA the other has installed.
#[test]
fn a_day_of_rekeys_over_a_lossy_link() {
    let (i, r) = psk_pair(b"k", b"k");
    let tune = |p: &mut PeerConfig| {
        p.child_lifetimes = Lifetimes { soft: Duration::from_secs(300), hard: Duration::from_secs(600) };
        p.ike_lifetimes = Lifetimes { soft: Duration::from_secs(900), hard: Duration::from_secs(1800) };
        p.dpd_interval = Some(Duration::from_secs(120));
        p.esp_suites = vec![pfs(KeGroup::Curve25519), EspSuite::AES256GCM16];
    };
    let (mut i, mut r) = (i, r);
    tune(&mut i);
    tune(&mut r);
    // Enough retransmissions that 30% loss each way does not exhaust them (0.51^21).
    let retransmit =
        vpn_ike::RetransmitConfig { timeout: Duration::from_secs(1), backoff_permille: 1200, tries: 20 };
    let mut sim = Sim::new(60, Link::default());
    sim.keep_log = false;
    sim.add(addr(A), vpn_ike::EndpointConfig { retransmit, ..Default::default() });
    sim.add(addr(B), vpn_ike::EndpointConfig { retransmit, ..responder_config(vec![r]) });
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(30));
    assert_eq!((sim.ups(0), sim.ups(1)), (1, 1));
    sim.link = Link {
        drop: 300,
        duplicate: 50,
        jitter: Duration::from_millis(80),
        latency: Duration::from_millis(20),
    };
    sim.gap_check = true;
    let day = Duration::from_secs(24 * 3600);
    // In hourly steps, checking that each side always has its one Child SA installed.
    for _ in 0..24 {
        sim.run(day / 24);
        for n in 0..2 {
            assert!(sim.downs(n).is_empty(), "node {n}: {:?}", sim.downs(n));
            assert_eq!(sending(&sim.nodes[n].sad).len(), 1, "node {n}");
        }
    }
    assert_no_gaps(&sim);
    let rekeys = child_downs(&sim, 0).len();
    let ike = count(&sim, 0, |e| matches!(e, Event::IkeSaRekeyed { .. }));
    // About 288 Child SA rekeys (soft 270-300 s) and 96 IKE rekeys (810-900 s).
    assert!((280..=330).contains(&rekeys), "{rekeys} Child SA rekeys");
    assert!((90..=110).contains(&ike), "{ike} IKE SA rekeys");
    sim.run(Duration::from_secs(600));
    sim.assert_sas_consistent();
}

/// A peer that restarts (losing every SA) and connects again with INITIAL_CONTACT: the other
/// side drops the stale IKE SA and its ESP SAs (RFC 7296 §2.4), leaving exactly the new pair.
#[test]
fn peer_restart_with_initial_contact_removes_stale_sas() {
    use rand_chacha::rand_core::SeedableRng;
    let (mut sim, hi, _) = up(80);
    sim.gap_check = false;
    sim.nodes[0].ep.create_child(sim.now, hi);
    sim.run(Duration::from_secs(10));
    assert_eq!(installed_pairs(&sim.nodes[1].sad).len(), 2);
    // Node 0 restarts: a new endpoint with nothing installed.
    let config = vpn_ike::EndpointConfig { local_addr: addr(A), ..Default::default() };
    sim.nodes[0].ep = vpn_ike::Endpoint::new(config, rand_chacha::ChaCha20Rng::seed_from_u64(81));
    sim.nodes[0].sad = host_binding();
    sim.nodes[0].events.clear();
    let (i, _) = psk_pair(b"k", b"k");
    assert!(i.initial_contact);
    sim.connect(0, i, 1);
    sim.run(Duration::from_secs(10));
    assert_eq!(sim.downs(1), vec![DownReason::Replaced]);
    assert_eq!(sim.nodes[1].ep.handles().count(), 1);
    assert_eq!(installed_pairs(&sim.nodes[1].sad).len(), 1);
    sim.assert_sas_consistent();
}

/// strongSwan's `test_regular_responder_handle_hard_expire`: the rekey's initiator fails to
/// delete the old Child SA in time, so the responder deletes it at its hard lifetime; the
/// crossing Deletes leave exactly the new pair and the IKE SA up.
#[test]
fn responder_deletes_a_replaced_child_at_its_hard_lifetime() {
    let (mut sim, _, _) = up_with(90, Link::default(), |p| {
        p.child_lifetimes = Lifetimes { soft: Duration::from_secs(60), hard: Duration::from_secs(70) };
    });
    // Node 0's INFORMATIONAL requests are lost for 100 s.
    let until = sim.now + Duration::from_secs(100);
    sim.tamper = Some(Box::new(move |w: &mut Wire| {
        !(w.from == addr(A) && w.bytes[18] == 37 && w.bytes[19] & 0x20 == 0 && w.at < until)
    }));
    sim.run(Duration::from_secs(110));
    for n in 0..2 {
        assert!(sim.downs(n).is_empty(), "node {n}");
        assert!(!child_downs(&sim, n).is_empty(), "node {n}: the old Child SA went");
    }
    assert_no_gaps(&sim);
    sim.assert_sas_consistent();
}

/// An IKE SA whose rekeys never get through ends at its hard lifetime.
#[test]
fn ike_sa_hard_lifetime() {
    let (mut sim, _, _) = up_with(91, Link::default(), |p| {
        p.ike_lifetimes = Lifetimes { soft: Duration::from_secs(100), hard: Duration::from_secs(110) };
    });
    // Every IKE SA rekey is refused by the network.
    sim.tamper = Some(Box::new(|w: &mut Wire| w.bytes[18] != 36));
    sim.run(Duration::from_secs(400));
    eprintln!("{:?} {:?}", sim.downs(0), sim.downs(1));
    assert_eq!(sim.downs(0).len(), 1);
    assert!(sim
        .downs(0)
        .iter()
        .chain(sim.downs(1).iter())
        .all(|r| *r == DownReason::Expired || *r == DownReason::DeletedByPeer));
    assert!(sim.downs(0).contains(&DownReason::Expired) || sim.downs(1).contains(&DownReason::Expired));
}
