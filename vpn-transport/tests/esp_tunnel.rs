//! `EspTunnel` end to end over real UDP sockets on loopback: inner packets go through the SPD
//! and two static SA pairs, cross as ESP on the NAT-T port, and come out intact; what must not
//! pass (no policy, damage, replay) is dropped and counted.
#![cfg(feature = "udp")]

mod common;

use common::*;
use vpn_core::time::Instant;
use vpn_esp::DropReason;
use vpn_transport::esp_tunnel::{Outbound, OutboundError};
use vpn_transport::udp::{DatagramKind, DatagramMeta, GsoBatch, PortKind, Transmit, UdpEndpoint};
use vpn_transport::{EspTunnel, PacketBatch};

/// Encapsulate every packet of `inner` at `from`, send the batch, receive it at `to` and
/// decapsulate in place; returns the inner packets that came out.
fn carry(
    from: (&mut EspTunnel, &mut UdpEndpoint),
    to: (&mut EspTunnel, &mut UdpEndpoint),
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
        match ta.encapsulate(Instant::ZERO, slot, r).unwrap() {
            Outbound::Esp(d) => {
                if damage == Some(i) {
                    slot[d.range.end - 1] ^= 1;
                }
                tx.set_range(i, d.range.clone());
                dests.push(d.remote);
            }
            Outbound::Bypass => panic!("no bypass policy here"),
        }
    }
    let transmits: Vec<Transmit<'_>> =
        (0..tx.len()).map(|i| Transmit::new(PortKind::NatT, dests[i], tx.packet(i))).collect();
    assert_eq!(ua.send(&transmits).unwrap(), inner.len());
    let mut rx: PacketBatch<DatagramMeta> = PacketBatch::with_defaults(64, 2048);
    recv_n(ub, &mut rx, inner.len());
    (0..rx.len())
        .map(|i| {
            assert_eq!(rx.meta(i).kind, DatagramKind::Esp);
            let (slot, r) = rx.slot_mut(i);
            tb.decapsulate(Instant::ZERO, slot, r).map(|d| slot[d.inner].to_vec())
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
    for (k, spi) in A_SPIS.iter().enumerate() {
        let (_, packets) = ta.sad().outbound(*spi).unwrap().counters();
        assert_eq!(packets, if k == 0 { 40 } else { 20 });
    }
    assert_eq!(tb.stats().decapsulated, 60);

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
    let Outbound::Esp(d) = ta.encapsulate(Instant::ZERO, &mut buf, 64..64 + pkt.len()).unwrap() else {
        panic!("protected expected")
    };
    assert_eq!(d.remote, b);
    assert_eq!(d.spi, A_SPIS[0]);
    let esp = buf[d.range].to_vec();
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
            let (slot, r) = rx.slot_mut(i);
            tb.decapsulate(Instant::ZERO, slot, r).map(|d| slot[d.inner].to_vec())
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
        ta.encapsulate(Instant::ZERO, &mut buf, 64..64 + pkt.len()),
        Err(OutboundError::PolicyDiscard)
    );
    // Not IP at all.
    assert!(matches!(ta.encapsulate(Instant::ZERO, &mut buf, 0..4), Err(OutboundError::BadPacket(_))));
    // A policy whose SA is gone.
    let pkt = ipv4_udp([10, 1, 0, 1], [10, 2, 0, 1], 1, 2, b"x");
    buf[64..64 + pkt.len()].copy_from_slice(&pkt);
    ta.remove_outbound(A_SPIS[0]).unwrap();
    assert_eq!(
        ta.encapsulate(Instant::ZERO, &mut buf, 64..64 + pkt.len()),
        Err(OutboundError::NoSa(A_SPIS[0]))
    );
    // No headroom: the SA refuses and the buffer is untouched.
    let pkt6 = ipv6_udp(v6("fd00:1::1"), v6("fd00:2::1"), 1, 2, b"y");
    let mut tight = pkt6.clone();
    let len = tight.len();
    assert!(matches!(ta.encapsulate(Instant::ZERO, &mut tight, 0..len), Err(OutboundError::Encap(_))));
    assert_eq!(tight, pkt6);
    let s = ta.stats();
    assert_eq!((s.policy_discards, s.bad_packets, s.no_sa, s.encap_errors), (1, 1, 1, 1));
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
        let Outbound::Esp(d) = ta.encapsulate(Instant::ZERO, &mut buf, 64..64 + p.len()).unwrap() else {
            panic!("protected expected")
        };
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
            let (slot, r) = rx.slot_mut(i);
            let d = tb.decapsulate(Instant::ZERO, slot, r).unwrap();
            assert_eq!(&slot[d.inner], &inner[got][..], "packet {got}");
            got += 1;
        }
    }
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}
