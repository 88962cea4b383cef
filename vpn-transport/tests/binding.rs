//! `SaBinding` fed synthetic endpoint events: end to end over real UDP sockets on loopback,
//! inner packets go through the SPD of their interface and two SA pairs, cross as ESP on the
//! NAT-T port, and come out intact; what must not pass (no policy, damage, replay) is dropped
//! and counted. Then what the binding decides without sockets: outbound SAs of peers that chose
//! the same SPI, policy order, interfaces, rekeys, and a peer's path moving.
#![cfg(feature = "driver")]

mod common;

use std::net::SocketAddr;

use common::*;
use vpn_core::time::Instant;
use vpn_esp::DropReason;
use vpn_ike::event::{ChildDownReason, Event, IkeSaHandle};
use vpn_transport::binding::{
    BindingConfig, BindingEvent, EndpointAction, EspDatagram, InterfaceId, OutboundError,
};
use vpn_transport::udp::{DatagramKind, DatagramMeta, GsoBatch, PortKind, Transmit, UdpEndpoint};
use vpn_transport::{PacketBatch, SaBinding};

const IF0: InterfaceId = InterfaceId(0);

/// Encapsulate every packet of `inner` at `from`, send the batch, receive it at `to` and
/// decapsulate in place; returns the inner packets that came out.
fn carry(
    from: (&mut SaBinding, &mut UdpEndpoint),
    to: (&mut SaBinding, &mut UdpEndpoint),
    inner: &[Vec<u8>],
    damage: Option<usize>,
) -> Vec<Result<Vec<u8>, DropReason>> {
    let (ta, ua) = from;
    let (tb, ub) = to;
    let mut tx: PacketBatch<()> = PacketBatch::with_defaults(64, 1500);
    for p in inner {
        assert!(tx.push(p, ()));
    }
    let mut dests = Vec::new();
    for i in 0..tx.len() {
        let (slot, r) = tx.slot_mut(i);
        let d = ta.encapsulate(Instant::ZERO, IF0, slot, r).unwrap();
        if damage == Some(i) {
            slot[d.range.end - 1] ^= 1;
        }
        tx.set_range(i, d.range.clone());
        dests.push(d.remote);
    }
    let transmits: Vec<Transmit<'_>> =
        (0..tx.len()).map(|i| Transmit::new(PortKind::NatT, dests[i], tx.packet(i))).collect();
    assert_eq!(ua.send(&transmits).unwrap(), inner.len());
    let mut rx: PacketBatch<DatagramMeta> = PacketBatch::with_defaults(64, 2048);
    recv_n(ub, &mut rx, inner.len());
    (0..rx.len())
        .map(|i| {
            let meta = *rx.meta(i);
            assert_eq!(meta.kind, DatagramKind::Esp);
            let (slot, r) = rx.slot_mut(i);
            tb.decapsulate(Instant::ZERO, meta.remote, slot, r).map(|d| {
                assert_eq!(d.interface, IF0);
                slot[d.inner].to_vec()
            })
        })
        .collect()
}

#[test]
fn two_sa_pairs_carry_packets_over_udp() {
    let (mut ua, mut ub) = (endpoint(), endpoint());
    let a = ua.local_addr(PortKind::NatT, lo()).unwrap();
    let b = ub.local_addr(PortKind::NatT, lo()).unwrap();
    let (mut ta, mut tb) = tunnel_pair(a, b);

    // A -> B over both SAs: IPv4 over AES-GCM, IPv6 over AES-CBC/HMAC, interleaved.
    let mut v4_src = [10, 1, 0, 1];
    let inner: Vec<Vec<u8>> = (0..60)
        .map(|i| {
            let payload: Vec<u8> = (0..(i * 23) % 1400).map(|j| (i + j) as u8).collect();
            if i % 3 == 2 {
                ipv6_udp(v6("fd00:1::5"), v6("fd00:2::9"), 1000 + i as u16, 53, &payload)
            } else {
                v4_src[3] = 1 + i as u8;
                ipv4_udp(v4_src, [10, 2, 0, 7], 1000, 53, &payload[..payload.len().min(1400)])
            }
        })
        .collect();
    let out = carry((&mut ta, &mut ua), (&mut tb, &mut ub), &inner, None);
    for (i, r) in out.iter().enumerate() {
        assert_eq!(r.as_ref().unwrap(), &inner[i], "packet {i}");
    }
    // Counted per Child SA: A's outbound by its handle, B's inbound by the SPI on the wire.
    for k in 0..2 {
        let expect = if k == 0 { 40 } else { 20 };
        let (_, (_, out)) = ta.counters(A_SPIS[k]);
        let ((_, inb), _) = tb.counters(B_SPIS[k]);
        assert_eq!((out, inb), (expect, expect), "pair {k}");
        assert_eq!(ta.sad().outbound(A_SPIS[k]).unwrap().spi(), B_SPIS[k], "sends with B's SPI");
    }
    assert!(ta.sad().outbound(B_SPIS[0]).is_none(), "outbound SAs are not keyed by the peer's SPI");
    assert_eq!(tb.stats().decapsulated, 60);
    assert_eq!(ta.stats().encapsulated, 60);

    // And back, B -> A.
    let back = vec![
        ipv4_udp([10, 2, 0, 7], [10, 1, 0, 1], 53, 1000, b"answer"),
        ipv6_udp(v6("fd00:2::9"), v6("fd00:1::5"), 53, 1000, b"answer6"),
    ];
    let out = carry((&mut tb, &mut ub), (&mut ta, &mut ua), &back, None);
    assert_eq!(out, vec![Ok(back[0].clone()), Ok(back[1].clone())]);

    // A damaged datagram is dropped (BadIcv) and counted; the others pass.
    let out = carry((&mut ta, &mut ua), (&mut tb, &mut ub), &inner[..3], Some(1));
    assert_eq!(out[1], Err(DropReason::BadIcv));
    assert!(out[0].is_ok() && out[2].is_ok());
    assert_eq!(tb.sad().drops().get(DropReason::BadIcv), 1);
}

#[test]
fn replays_and_unknown_spis_are_dropped() {
    let (mut ua, mut ub) = (endpoint(), endpoint());
    let a = ua.local_addr(PortKind::NatT, lo()).unwrap();
    let b = ub.local_addr(PortKind::NatT, lo()).unwrap();
    let (mut ta, mut tb) = tunnel_pair(a, b);
    let pkt = ipv4_udp([10, 1, 0, 1], [10, 2, 0, 1], 1, 2, b"once");
    let mut buf = vec![0u8; 256];
    buf[64..64 + pkt.len()].copy_from_slice(&pkt);
    let d = ta.encapsulate(Instant::ZERO, IF0, &mut buf, 64..64 + pkt.len()).unwrap();
    assert_eq!(d.remote, b);
    assert_eq!((d.child, d.seq), (A_SPIS[0], 1));
    let esp = buf[d.range].to_vec();
    assert_eq!(esp[..4], B_SPIS[0].to_be_bytes(), "B's SPI on the wire");
    let mut unknown = esp.clone();
    unknown[..4].copy_from_slice(&0x7777u32.to_be_bytes());
    let t = [
        Transmit::new(PortKind::NatT, b, &esp),
        Transmit::new(PortKind::NatT, b, &esp),
        Transmit::new(PortKind::NatT, b, &unknown),
    ];
    ua.send(&t).unwrap();
    let mut rx: PacketBatch<DatagramMeta> = PacketBatch::with_defaults(8, 2048);
    recv_n(&mut ub, &mut rx, 3);
    let got: Vec<_> = (0..3)
        .map(|i| {
            let from = rx.meta(i).remote;
            let (slot, r) = rx.slot_mut(i);
            tb.decapsulate(Instant::ZERO, from, slot, r).map(|d| slot[d.inner].to_vec())
        })
        .collect();
    assert_eq!(got, vec![Ok(pkt.clone()), Err(DropReason::Replay), Err(DropReason::UnknownSpi)]);
    assert_eq!(tb.sad().drops().total(), 2);
}

#[test]
fn outbound_policy_decides() {
    let a = "127.0.0.1:4500".parse().unwrap();
    let b = "127.0.0.1:4501".parse().unwrap();
    let (mut ta, _) = tunnel_pair(a, b);
    let mut buf = vec![0u8; 256];
    // No policy covers 10.3.0.0/24: default deny.
    let pkt = ipv4_udp([10, 1, 0, 1], [10, 3, 0, 1], 1, 2, b"x");
    buf[64..64 + pkt.len()].copy_from_slice(&pkt);
    assert_eq!(
        ta.encapsulate(Instant::ZERO, IF0, &mut buf, 64..64 + pkt.len()),
        Err(OutboundError::PolicyDiscard)
    );
    // An interface with no tunnels at all.
    let pkt = ipv4_udp([10, 1, 0, 1], [10, 2, 0, 1], 1, 2, b"x");
    buf[64..64 + pkt.len()].copy_from_slice(&pkt);
    assert_eq!(
        ta.encapsulate(Instant::ZERO, InterfaceId(3), &mut buf, 64..64 + pkt.len()),
        Err(OutboundError::PolicyDiscard)
    );
    // Not IP at all.
    assert!(matches!(ta.encapsulate(Instant::ZERO, IF0, &mut buf, 0..4), Err(OutboundError::BadPacket(_))));
    // The Child SA goes: its SAs and its policy with it.
    ta.handle_event(
        Instant::ZERO,
        &Event::ChildSaDown {
            handle: IkeSaHandle(1),
            spi_in: A_SPIS[0],
            spi_out: B_SPIS[0],
            reason: ChildDownReason::DeletedByPeer,
        },
    );
    assert!(matches!(
        ta.poll_event(),
        Some(BindingEvent::Removed { spi_in, spi_out, .. }) if spi_in == A_SPIS[0] && spi_out == B_SPIS[0]
    ));
    assert!(ta.sad().outbound(A_SPIS[0]).is_none() && ta.sad().inbound(A_SPIS[0]).is_none());
    assert!(ta.child(A_SPIS[0]).is_none());
    assert_eq!(
        ta.encapsulate(Instant::ZERO, IF0, &mut buf, 64..64 + pkt.len()),
        Err(OutboundError::PolicyDiscard)
    );
    // No headroom: the SA refuses and the buffer is untouched.
    let pkt6 = ipv6_udp(v6("fd00:1::1"), v6("fd00:2::1"), 1, 2, b"y");
    let mut tight = pkt6.clone();
    let len = tight.len();
    assert!(matches!(ta.encapsulate(Instant::ZERO, IF0, &mut tight, 0..len), Err(OutboundError::Encap(_))));
    assert_eq!(tight, pkt6);
    // The other pair still sends.
    let mut roomy = vec![0u8; 256];
    roomy[64..64 + len].copy_from_slice(&pkt6);
    assert_eq!(ta.encapsulate(Instant::ZERO, IF0, &mut roomy, 64..64 + len).unwrap().child, A_SPIS[1]);
    let s = ta.stats();
    assert_eq!((s.policy_discards, s.bad_packets, s.no_sa, s.encap_errors), (3, 1, 0, 1));
    assert_eq!(s.encapsulated, 1);
}

#[test]
fn bulk_esp_goes_out_in_gso_runs() {
    let (mut ua, mut ub) = (endpoint(), endpoint());
    let a = ua.local_addr(PortKind::NatT, lo()).unwrap();
    let b = ub.local_addr(PortKind::NatT, lo()).unwrap();
    let (mut ta, mut tb) = tunnel_pair(a, b);
    // 100 full-size packets and a short one, as a bulk TCP flow makes.
    let inner: Vec<Vec<u8>> = (0..101)
        .map(|i| {
            let len = if i == 100 { 200 } else { 1372 };
            ipv4_udp([10, 1, 0, 1], [10, 2, 0, 1], 7, 9, &vec![i as u8; len])
        })
        .collect();
    let mut gso = GsoBatch::new(256 * 1024, 64);
    let mut buf = vec![0u8; 64 + 1500 + 64];
    for p in &inner {
        buf[64..64 + p.len()].copy_from_slice(p);
        let d = ta.encapsulate(Instant::ZERO, IF0, &mut buf, 64..64 + p.len()).unwrap();
        assert!(gso.push(PortKind::NatT, d.remote, &buf[d.range]));
    }
    // 1372 + 28 inner bytes make 1432-byte ESP packets: 45 fit in one GSO send.
    assert_eq!(gso.runs(), 3);
    assert_eq!(gso.datagrams(), 101);
    assert_eq!(ua.send_gso(&gso, 0).unwrap(), 3);
    assert_eq!(ua.stats().sent, 101);
    if ua.gso_enabled() {
        assert_eq!(ua.stats().gso_sends, 3);
    }
    let mut rx: PacketBatch<DatagramMeta> = PacketBatch::with_defaults(64, 2048);
    let mut got = 0;
    while got < inner.len() {
        rx.clear();
        recv_n(&mut ub, &mut rx, (inner.len() - got).min(64));
        for i in 0..rx.len() {
            let from = rx.meta(i).remote;
            let (slot, r) = rx.slot_mut(i);
            let d = tb.decapsulate(Instant::ZERO, from, slot, r).unwrap();
            assert_eq!(&slot[d.inner], &inner[got][..], "packet {got}");
            got += 1;
        }
    }
}

/// Encapsulate `pkt` read from `interface`; the datagram and the ESP bytes.
fn protect(
    from: &mut SaBinding,
    interface: InterfaceId,
    pkt: &[u8],
) -> Result<(EspDatagram, Vec<u8>), OutboundError> {
    let mut buf = vec![0u8; 128 + pkt.len() + 128];
    buf[128..128 + pkt.len()].copy_from_slice(pkt);
    let d = from.encapsulate(Instant::ZERO, interface, &mut buf, 128..128 + pkt.len())?;
    let esp = buf[d.range.clone()].to_vec();
    Ok((d, esp))
}

/// Decapsulate `esp` that came from `from`; the interface, the SPI that took it, and the inner
/// packet.
fn open(to: &mut SaBinding, from: SocketAddr, esp: &[u8]) -> Result<(InterfaceId, u32, Vec<u8>), DropReason> {
    let mut buf = esp.to_vec();
    let len = buf.len();
    let d = to.decapsulate(Instant::ZERO, from, &mut buf, 0..len)?;
    Ok((d.interface, d.spi, buf[d.inner].to_vec()))
}

/// Send `pkt` from `from` (read from `interface`) to `to`: the child that sent it, its sequence
/// number, and the SPI that took it at `to`.
fn cross(from: &mut SaBinding, interface: InterfaceId, to: &mut SaBinding, pkt: &[u8]) -> (u32, u64, u32) {
    let (d, esp) = protect(from, interface, pkt).unwrap();
    let local = from.child(d.child).unwrap().local;
    let (_, spi, inner) = open(to, local, &esp).unwrap();
    assert_eq!(inner, pkt);
    (d.child, d.seq, spi)
}

fn child_down(b: &mut SaBinding, handle: u64, spi_in: u32, spi_out: u32, reason: ChildDownReason) {
    b.handle_event(
        Instant::ZERO,
        &Event::ChildSaDown { handle: IkeSaHandle(handle), spi_in, spi_out, reason },
    );
}

fn events(b: &mut SaBinding) -> Vec<BindingEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

fn actions(b: &mut SaBinding) -> Vec<EndpointAction> {
    std::iter::from_fn(|| b.poll_action()).collect()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const G: &str = "192.0.2.1:4500";
const P1: &str = "198.51.100.1:4500";
const P2: &str = "198.51.100.2:4500";

/// A gateway `End` towards `peer` and the peer's `End` towards the gateway, for IKE SA and
/// connection `id` (the peer's IKE SA has its own handle space: 100 + id).
fn ends(id: u32, peer: &str) -> (End, End) {
    let (g, p) = (addr(G), addr(peer));
    (
        End { handle: u64::from(id), connection: id, local: g, remote: p },
        End { handle: 100 + u64::from(id), connection: id, local: p, remote: g },
    )
}

fn up(b: &mut SaBinding, end: &End) {
    b.handle_event(Instant::ZERO, &ike_up(end));
}

/// Two peers that chose the same inbound SPI (so the gateway sends to both with it) each get
/// their own traffic, and deleting one's Child SA leaves the other's alone.
#[test]
fn peers_choosing_the_same_spi_keep_their_own_sas() {
    const SAME: u32 = 0xc0ffee;
    let mut gw = SaBinding::new(BindingConfig::default());
    let mut p = [SaBinding::new(BindingConfig::default()), SaBinding::new(BindingConfig::default())];
    let nets = ["10.11.0.0/24", "10.12.0.0/24"];
    for (k, peer) in [P1, P2].into_iter().enumerate() {
        let (g, e) = ends(k as u32 + 1, peer);
        up(&mut gw, &g);
        up(&mut p[k], &e);
        let seed = k as u8 + 1; // different keys for the two pairs
        install(&mut gw, child_sa(&g, (0x1001 + k as u32, SAME), Suite::Gcm, seed, ("10.1.0.0/24", nets[k])));
        install(
            &mut p[k],
            child_sa(&e, (SAME, 0x1001 + k as u32), Suite::Gcm, seed, (nets[k], "10.1.0.0/24")),
        );
    }
    assert_eq!(gw.sad().outbound_sas().count(), 2, "the second did not replace the first");
    assert!(gw.sad().outbound_sas().all(|sa| sa.spi() == SAME));

    let to = |k: usize, n: u8| ipv4_udp([10, 1, 0, 1], [10, 11 + k as u8, 0, 5], 1, 2, &[n; 40]);
    for round in 1..=3u8 {
        for k in 0..2 {
            let (d, esp) = protect(&mut gw, IF0, &to(k, round)).unwrap();
            assert_eq!((d.child, d.seq, d.remote), (0x1001 + k as u32, u64::from(round), addr([P1, P2][k])));
            assert_eq!(esp[..4], SAME.to_be_bytes());
            assert_eq!(open(&mut p[k], addr(G), &esp).unwrap(), (IF0, SAME, to(k, round)));
            // The other peer cannot open it: not its keys (or, once it took its own packet
            // with this sequence number, a replay before the ICV is even checked).
            let wrong = open(&mut p[1 - k], addr(G), &esp);
            assert!(matches!(wrong, Err(DropReason::BadIcv | DropReason::Replay)), "{wrong:?}");
        }
    }
    for k in 0..2 {
        assert_eq!(gw.counters(0x1001 + k).1 .1, 3, "child {k}");
        assert_eq!(p[k as usize].counters(SAME).0 .1, 3, "peer {k} took only its own");
        let back = ipv4_udp([10, 11 + k as u8, 0, 5], [10, 1, 0, 1], 2, 1, b"back");
        assert_eq!(cross(&mut p[k as usize], IF0, &mut gw, &back), (SAME, 1, 0x1001 + k));
    }

    // The first peer's Child SA goes; the second's carries on where it was.
    child_down(&mut gw, 1, 0x1001, SAME, ChildDownReason::DeletedByPeer);
    assert!(gw.sad().inbound(0x1001).is_none() && gw.sad().outbound(0x1001).is_none());
    assert_eq!(protect(&mut gw, IF0, &to(0, 9)).unwrap_err(), OutboundError::PolicyDiscard);
    let (d, esp) = protect(&mut gw, IF0, &to(1, 9)).unwrap();
    assert_eq!((d.child, d.seq, d.remote), (0x1002, 4, addr(P2)));
    assert_eq!(open(&mut p[1], addr(G), &esp).unwrap().2, to(1, 9));
    let back = ipv4_udp([10, 12, 0, 5], [10, 1, 0, 1], 2, 1, b"still here");
    assert_eq!(cross(&mut p[1], IF0, &mut gw, &back), (SAME, 2, 0x1002));
    assert_eq!(gw.counters(0x1002), ((28 + 4 + 28 + 10, 2), (4 * (28 + 40), 4)), "inner bytes");
    assert_eq!(gw.counters(0x1001), ((0, 0), (0, 0)));
}

/// Policies are ordered most specific first whatever order the Child SAs came up in and
/// whatever their connections are numbered.
#[test]
fn the_more_specific_policy_wins_in_any_order() {
    for reversed in [false, true] {
        for (wide_id, narrow_id) in [(1, 2), (2, 1)] {
            let mut gw = SaBinding::new(BindingConfig::default());
            let (wide, _) = ends(wide_id, P1);
            let (narrow, _) = ends(narrow_id, P2);
            up(&mut gw, &wide);
            up(&mut gw, &narrow);
            let w =
                child_sa(&wide, (0x1000 + wide_id, 0x2001), Suite::Gcm, 1, ("10.1.0.0/24", "10.2.0.0/16"));
            let n = child_sa(
                &narrow,
                (0x1000 + narrow_id, 0x2002),
                Suite::Gcm,
                2,
                ("10.1.0.0/24", "10.2.5.0/24"),
            );
            if reversed {
                install(&mut gw, n);
                install(&mut gw, w);
            } else {
                install(&mut gw, w);
                install(&mut gw, n);
            }
            let case = format!("reversed {reversed}, wide connection {wide_id}");
            let (d, _) = protect(&mut gw, IF0, &ipv4_udp([10, 1, 0, 1], [10, 2, 5, 9], 1, 2, b"n")).unwrap();
            assert_eq!((d.child, d.remote), (0x1000 + narrow_id, addr(P2)), "{case}");
            let (d, _) = protect(&mut gw, IF0, &ipv4_udp([10, 1, 0, 1], [10, 2, 6, 1], 1, 2, b"w")).unwrap();
            assert_eq!((d.child, d.remote), (0x1000 + wide_id, addr(P1)), "{case}");
        }
    }
}

/// A route-based connection on an interface of its own takes everything read from that
/// interface and nothing read from the shared one, and its packets come out of it.
#[test]
fn interfaces_keep_their_tunnels_apart() {
    let vti = InterfaceId(1);
    let mut gw = SaBinding::new(BindingConfig::default());
    gw.bind_connection(vpn_ike::config::ConnectionId(1), vti);
    let (mut p1, mut p2) =
        (SaBinding::new(BindingConfig::default()), SaBinding::new(BindingConfig::default()));
    let (g1, e1) = ends(1, P1);
    let (g2, e2) = ends(2, P2);
    up(&mut gw, &g1);
    up(&mut gw, &g2);
    up(&mut p1, &e1);
    up(&mut p2, &e2);
    install(&mut gw, child_sa(&g1, (0x1001, 0x2001), Suite::Gcm, 1, ("0.0.0.0/0", "0.0.0.0/0")));
    install(&mut gw, child_sa(&g2, (0x1002, 0x2002), Suite::CbcSha256, 2, ("10.1.0.0/24", "10.2.0.0/24")));
    install(&mut p1, child_sa(&e1, (0x2001, 0x1001), Suite::Gcm, 1, ("0.0.0.0/0", "0.0.0.0/0")));
    install(&mut p2, child_sa(&e2, (0x2002, 0x1002), Suite::CbcSha256, 2, ("10.2.0.0/24", "10.1.0.0/24")));
    assert_eq!(gw.child(0x1001).unwrap().interface, vti);
    assert_eq!(gw.child(0x1002).unwrap().interface, IF0);
    assert_eq!(gw.spd(vti).unwrap().policies().len(), 1);
    assert_eq!(gw.spd(IF0).unwrap().policies().len(), 1);

    let pkt = ipv4_udp([10, 1, 0, 1], [10, 2, 0, 5], 1, 2, b"which tunnel");
    assert_eq!(cross(&mut gw, IF0, &mut p2, &pkt), (0x1002, 1, 0x2002));
    assert_eq!(cross(&mut gw, vti, &mut p1, &pkt), (0x1001, 1, 0x2001));
    let elsewhere = ipv4_udp([10, 1, 0, 1], [10, 9, 9, 9], 1, 2, b"nowhere");
    assert_eq!(protect(&mut gw, IF0, &elsewhere).unwrap_err(), OutboundError::PolicyDiscard);
    assert_eq!(cross(&mut gw, vti, &mut p1, &elsewhere), (0x1001, 2, 0x2001));

    // Inbound: each connection's packets come out of its interface.
    let (_, esp) = protect(&mut p1, IF0, &ipv4_udp([10, 9, 9, 9], [10, 1, 0, 1], 2, 1, b"r1")).unwrap();
    let (iface, spi, _) = open(&mut gw, addr(P1), &esp).unwrap();
    assert_eq!((iface, spi), (vti, 0x1001));
    let (_, esp) = protect(&mut p2, IF0, &ipv4_udp([10, 2, 0, 5], [10, 1, 0, 1], 2, 1, b"r2")).unwrap();
    let (iface, spi, _) = open(&mut gw, addr(P2), &esp).unwrap();
    assert_eq!((iface, spi), (IF0, 0x1002));
}

/// A rekey is make-before-break: the successor is installed but the old SA keeps sending
/// until `ChildSaRekeyed`; the old inbound SA takes packets until its `ChildSaDown`; and the
/// successor keeps sending once the old one is gone (also when the switch was never reported).
#[test]
fn a_rekey_switches_outbound_when_told() {
    let (g, e) = ends(1, P1);
    let mut gw = SaBinding::new(BindingConfig::default());
    let mut p = SaBinding::new(BindingConfig::default());
    up(&mut gw, &g);
    up(&mut p, &e);
    let ts = ("10.1.0.0/24", "10.2.0.0/24");
    let rts = (ts.1, ts.0);
    install(&mut gw, child_sa(&g, (0x100, 0x200), Suite::Gcm, 1, ts));
    install(&mut p, child_sa(&e, (0x200, 0x100), Suite::Gcm, 1, rts));
    let out = ipv4_udp([10, 1, 0, 1], [10, 2, 0, 1], 1, 2, b"out");
    let back = ipv4_udp([10, 2, 0, 1], [10, 1, 0, 1], 2, 1, b"back");
    assert_eq!(cross(&mut gw, IF0, &mut p, &out), (0x100, 1, 0x200));

    // The successors, on both sides.
    let mut new_g = child_sa(&g, (0x101, 0x201), Suite::CbcSha256, 2, ts);
    new_g.rekey_of = Some(0x100);
    let mut new_p = child_sa(&e, (0x201, 0x101), Suite::CbcSha256, 2, rts);
    new_p.rekey_of = Some(0x200);
    install(&mut gw, new_g);
    install(&mut p, new_p);
    assert_eq!(gw.spd(IF0).unwrap().policies().len(), 1, "the successor shares the policy");
    assert!(gw.child(0x100).unwrap().sending && !gw.child(0x101).unwrap().sending);
    assert_eq!(cross(&mut gw, IF0, &mut p, &out), (0x100, 2, 0x200), "still the old SA");
    assert_eq!(cross(&mut p, IF0, &mut gw, &back), (0x200, 1, 0x100));

    gw.handle_event(
        Instant::ZERO,
        &Event::ChildSaRekeyed { handle: IkeSaHandle(1), old_spi_in: 0x100, new_spi_in: 0x101 },
    );
    assert!(matches!(
        events(&mut gw)[..],
        [BindingEvent::OutboundSwitched { old_spi_in: 0x100, new_spi_in: 0x101, .. }]
    ));
    assert!(!gw.child(0x100).unwrap().sending && gw.child(0x101).unwrap().sending);
    assert_eq!(cross(&mut gw, IF0, &mut p, &out), (0x101, 1, 0x201), "now the new SA");
    // The peer has not switched yet: the old inbound SA still takes its packets.
    let (_, old_esp) = protect(&mut p, IF0, &back).unwrap();
    assert_eq!(open(&mut gw, addr(P1), &old_esp).unwrap().1, 0x100);

    // The old Child SA goes: the new one keeps sending, the old one's packets are unknown.
    child_down(&mut gw, 1, 0x100, 0x200, ChildDownReason::Rekeyed);
    assert_eq!(cross(&mut gw, IF0, &mut p, &out), (0x101, 2, 0x201));
    let (_, old_esp) = protect(&mut p, IF0, &back).unwrap();
    assert_eq!(open(&mut gw, addr(P1), &old_esp), Err(DropReason::UnknownSpi));
    assert_eq!(gw.children().map(|c| c.spi_in).collect::<Vec<_>>(), [0x101]);

    // The peer's old Child SA goes before it heard of a switch: the successor takes over.
    child_down(&mut p, 101, 0x200, 0x100, ChildDownReason::Rekeyed);
    assert_eq!(cross(&mut p, IF0, &mut gw, &back), (0x201, 1, 0x101));
    assert!(p.child(0x201).unwrap().sending);
}

/// `PathChanged` moves the ESP of that IKE SA's Child SAs only; authentic ESP from another
/// address than the SA sends to asks the endpoint whether the peer moved, other ESP does not.
#[test]
fn path_changes_move_one_ike_sa_and_moved_peers_are_reported() {
    let mut gw = SaBinding::new(BindingConfig::default());
    let (mut p1, mut p2) =
        (SaBinding::new(BindingConfig::default()), SaBinding::new(BindingConfig::default()));
    let (g1, e1) = ends(1, P1);
    let (g2, e2) = ends(2, P2);
    up(&mut gw, &g1);
    up(&mut gw, &g2);
    up(&mut p1, &e1);
    up(&mut p2, &e2);
    let (ts1, ts2) = (("10.1.0.0/24", "10.11.0.0/24"), ("10.1.0.0/24", "10.12.0.0/24"));
    install(&mut gw, child_sa(&g1, (0x1001, 0x2001), Suite::Gcm, 1, ts1));
    install(&mut gw, child_sa(&g2, (0x1002, 0x2002), Suite::Gcm, 2, ts2));
    install(&mut p1, child_sa(&e1, (0x2001, 0x1001), Suite::Gcm, 1, (ts1.1, ts1.0)));
    install(&mut p2, child_sa(&e2, (0x2002, 0x1002), Suite::Gcm, 2, (ts2.1, ts2.0)));
    let to1 = ipv4_udp([10, 1, 0, 1], [10, 11, 0, 1], 1, 2, b"one");
    let to2 = ipv4_udp([10, 1, 0, 1], [10, 12, 0, 1], 1, 2, b"two");
    let from1 = ipv4_udp([10, 11, 0, 1], [10, 1, 0, 1], 2, 1, b"one back");
    let from2 = ipv4_udp([10, 12, 0, 1], [10, 1, 0, 1], 2, 1, b"two back");

    // A NAT in front of peer 1 changed its mapping, and the endpoint followed it.
    let moved = addr("203.0.113.7:61000");
    gw.handle_event(
        Instant::ZERO,
        &Event::PathChanged { handle: IkeSaHandle(1), local: addr(G), remote: moved },
    );
    assert!(matches!(
        events(&mut gw)[..],
        [BindingEvent::PathChanged { handle: IkeSaHandle(1), remote }] if remote == moved
    ));
    assert_eq!(gw.child(0x1001).unwrap().remote, moved);
    assert_eq!(protect(&mut gw, IF0, &to1).unwrap().0.remote, moved);
    assert_eq!(protect(&mut gw, IF0, &to2).unwrap().0.remote, addr(P2), "the other IKE SA stays");

    // ESP from where each SA sends to: traffic, nobody moved.
    let (_, esp1) = protect(&mut p1, IF0, &from1).unwrap();
    let (_, esp2) = protect(&mut p2, IF0, &from2).unwrap();
    open(&mut gw, moved, &esp1).unwrap();
    open(&mut gw, addr(P2), &esp2).unwrap();
    assert_eq!(
        actions(&mut gw),
        [EndpointAction::InboundTraffic(IkeSaHandle(1)), EndpointAction::InboundTraffic(IkeSaHandle(2))]
    );

    // Authentic ESP of peer 2 from a new address: the endpoint is asked.
    let elsewhere = addr("203.0.113.9:4500");
    let (_, esp2) = protect(&mut p2, IF0, &from2).unwrap();
    open(&mut gw, elsewhere, &esp2).unwrap();
    assert_eq!(
        actions(&mut gw),
        [
            EndpointAction::InboundTraffic(IkeSaHandle(2)),
            EndpointAction::PeerMoved { handle: IkeSaHandle(2), remote: elsewhere }
        ]
    );
    // Until the endpoint says so, ESP still goes to the old address.
    assert_eq!(protect(&mut gw, IF0, &to2).unwrap().0.remote, addr(P2));

    // Damaged or replayed ESP from anywhere moves nobody.
    let (_, mut esp2) = protect(&mut p2, IF0, &from2).unwrap();
    let good = esp2.clone();
    open(&mut gw, addr(P2), &good).unwrap();
    assert_eq!(open(&mut gw, elsewhere, &good), Err(DropReason::Replay));
    let last = esp2.len() - 1;
    esp2[last] ^= 1;
    assert_eq!(open(&mut gw, elsewhere, &esp2), Err(DropReason::Replay));
    let (_, mut esp2) = protect(&mut p2, IF0, &from2).unwrap();
    esp2[last] ^= 1;
    assert_eq!(open(&mut gw, elsewhere, &esp2), Err(DropReason::BadIcv));
    assert_eq!(actions(&mut gw), [EndpointAction::InboundTraffic(IkeSaHandle(2))]);
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}
