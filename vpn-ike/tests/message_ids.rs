//! Message IDs and the window of one (RFC 7296 §2.3): a retransmitted request gets the cached
//! response again and changes nothing; an older one and a too-new one are dropped; responses
//! to nothing we asked are ignored.

mod common;

use common::*;
use vpn_core::time::Duration;
use vpn_ike::PortKind;

const A: &str = "10.0.0.1:500";
const B: &str = "10.0.0.2:500";

fn is_request(w: &Wire, exchange: u8) -> bool {
    w.bytes.len() > 28 && w.bytes[18] == exchange && w.bytes[19] & 0x20 == 0
}

fn mid(w: &Wire) -> u32 {
    u32::from_be_bytes(w.bytes[20..24].try_into().unwrap())
}

/// Feeds `w` to the node it was sent to; returns what that node sends back and its new events.
fn replay(sim: &mut Sim, w: &Wire) -> (Vec<Vec<u8>>, usize) {
    let n = if w.to == addr(B) { 1 } else { 0 };
    let now = sim.now;
    match w.bytes.strip_prefix(&[0u8; 4][..]) {
        Some(msg) if w.marker => sim.nodes[n].ep.handle_datagram(now, w.to, w.from, PortKind::NatT, msg),
        _ => sim.nodes[n].ep.handle_datagram(now, w.to, w.from, PortKind::Ike, &w.bytes),
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 70_000];
    while let Some(t) = sim.nodes[n].ep.poll_transmit(&mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    let mut new_events = 0;
    while let Some(e) = sim.nodes[n].ep.poll_event() {
        sim.nodes[n].events.push(e);
        new_events += 1;
    }
    (out, new_events)
}

#[test]
fn duplicate_old_and_too_new_requests() {
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(70, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    let h = sim.connect(0, i, 1);
    sim.run(Duration::from_secs(30));
    let c = sim.child(0)[0].spi_in;
    assert!(sim.nodes[0].ep.rekey_child(sim.now, h, c));
    sim.run(Duration::from_secs(30));
    // CREATE_CHILD_SA (message 2) then the Delete of the old Child SA (message 3).
    let create = sim.log.iter().find(|w| is_request(w, 36)).cloned().unwrap();
    let delete = sim.log.iter().rfind(|w| is_request(w, 37)).cloned().unwrap();
    assert_eq!((mid(&create), mid(&delete)), (2, 3));
    let delete_reply =
        sim.log.iter().rfind(|w| w.bytes[18] == 37 && w.bytes[19] & 0x20 != 0).cloned().unwrap();
    let events = (sim.nodes[0].events.len(), sim.nodes[1].events.len());

    // The latest request again: the same response, byte for byte, and nothing else happens.
    let (out, ev) = replay(&mut sim, &delete);
    assert_eq!(out, vec![delete_reply.bytes.clone()]);
    assert_eq!(ev, 0);
    // An older request: dropped (RFC 7296 §2.3: only the last response is kept).
    let (out, ev) = replay(&mut sim, &create);
    assert!(out.is_empty() && ev == 0);
    // A request with a message ID ahead of the window: dropped.
    let mut ahead = delete.clone();
    ahead.bytes[20..24].copy_from_slice(&5u32.to_be_bytes());
    let (out, ev) = replay(&mut sim, &ahead);
    assert!(out.is_empty() && ev == 0);
    // A response nobody waits for (a duplicate): ignored.
    let (out, ev) = replay(&mut sim, &delete_reply);
    assert!(out.is_empty() && ev == 0);
    assert_eq!(events, (sim.nodes[0].events.len(), sim.nodes[1].events.len()));

    // The IKE SA still works, with the next message ID.
    let c = sim.child(0)[1].spi_in;
    assert!(sim.nodes[0].ep.rekey_child(sim.now, h, c));
    sim.run(Duration::from_secs(30));
    let next = sim.log.iter().rfind(|w| is_request(w, 36)).unwrap();
    assert_eq!(mid(next), 4);
    assert_eq!(sim.child(1).len(), 3);
    sim.assert_sas_consistent();
}

#[test]
fn requests_are_answered_while_ours_is_outstanding() {
    // The responder's link drops everything it sends for a while: node 0's request stays
    // outstanding, yet node 0 answers node 1's requests in the meantime (each side's window
    // is its own, RFC 7296 §2.3).
    let (i, r) = psk_pair(b"k", b"k");
    let mut sim = Sim::new(71, Link::default());
    sim.add(addr(A), vpn_ike::EndpointConfig::default());
    sim.add(addr(B), responder_config(vec![r]));
    let h0 = sim.connect(0, i, 1);
    sim.run(Duration::from_secs(30));
    let h1 = sim.nodes[1].ep.handles().next().unwrap();
    let (c0, c1) = (sim.child(0)[0].spi_in, sim.child(1)[0].spi_in);
    // Node 1 cannot answer node 0's request for 10 s: its responses are dropped.
    let until = sim.now + Duration::from_secs(10);
    sim.tamper =
        Some(Box::new(move |w: &mut Wire| !(w.from == addr(B) && w.bytes[19] & 0x20 != 0 && w.at < until)));
    let now = sim.now;
    sim.nodes[0].ep.create_child(now, h0);
    sim.nodes[1].ep.delete_child(now + Duration::from_millis(1), h1, c1);
    sim.run(Duration::from_secs(60));
    assert!(sim.nodes[1]
        .events
        .iter()
        .any(|e| matches!(e, vpn_ike::Event::ChildSaDown { reason: ChildDownReason::Deleted, .. })));
    assert!(sim.nodes[0].ep.child_sas(h0).iter().all(|c| c.0 != c0));
    assert_eq!(sim.nodes[0].ep.child_sas(h0).len(), 1, "the new Child SA came after the retransmission");
    assert!(sim.downs(0).is_empty() && sim.downs(1).is_empty());
    sim.assert_sas_consistent();
}
