//! End-to-end: every cipher, backend, mode, family, ESN and UDP setting round-trips; buffers,
//! sequence numbers, lifetimes, the SAD and replay windows behave. (Damaged and hostile packets
//! are the `vpn-hostile` suite's.)

#![allow(clippy::needless_range_loop)] // cipher indexes are passed to `params`

mod common;

use common::*;
use vpn_core::crypto::Backend;
use vpn_core::time::{Duration, Instant};
use vpn_esp::{
    DropReason, EncapError, Framing, InboundSa, LifetimeEvent, LifetimeLimits, Lifetimes, OutboundSa, Sad,
};

fn inner_for(p: &vpn_esp::SaParams, tunnel: bool, len: usize) -> Vec<u8> {
    if tunnel {
        // Inner addresses independent of the outer ones; IPv6 inside IPv4 for some lengths.
        if len % 2 == 0 {
            udp_packet("10.1.0.1".parse().unwrap(), "10.2.0.1".parse().unwrap(), len)
        } else {
            udp_packet("fd00:1::1".parse().unwrap(), "fd00:2::1".parse().unwrap(), len)
        }
    } else {
        udp_packet(p.local, p.remote, len)
    }
}

#[test]
fn every_combination_round_trips() {
    let mut combos = 0;
    for &backend in Backend::all() {
        for c in 0..CIPHERS.len() {
            for tunnel in [true, false] {
                for v6 in [false, true] {
                    for esn in [false, true] {
                        for udp in [false, true] {
                            for framing in [Framing::Esp, Framing::Ip] {
                                let p = params(c, tunnel, v6, esn, udp, backend);
                                let mut out = OutboundSa::new(&p).unwrap();
                                let mut inb = InboundSa::new(&p.clone().reversed()).unwrap();
                                if esn {
                                    out.set_last_seq((1 << 32) + 3);
                                    inb.set_highest_seq((1 << 32) + 1);
                                }
                                for len in [0usize, 1, 13, 100, 1371] {
                                    let pkt = inner_for(&p, tunnel, len);
                                    let (mut buf, r) = in_buffer(&pkt);
                                    let e = out.encapsulate(Instant::ZERO, &mut buf, r, framing).unwrap();
                                    let d = inb
                                        .decapsulate(Instant::ZERO, &mut buf, e.range.clone(), framing)
                                        .unwrap_or_else(|err| {
                                            panic!(
                                                "{} {tunnel} {v6} {esn} {udp} {framing:?} {len}: {err}",
                                                CIPHERS[c].0
                                            )
                                        });
                                    assert_eq!(d.seq, e.seq);
                                    let got = &buf[d.inner];
                                    match (tunnel, framing) {
                                        (true, _) | (false, Framing::Ip) => assert_eq!(got, &pkt[..]),
                                        // Transport over a socket: the upper-layer payload.
                                        (false, Framing::Esp) => {
                                            let hl = if v6 { 40 } else { 20 };
                                            assert_eq!(got, &pkt[hl..]);
                                            assert_eq!(d.next_header, 17);
                                        }
                                    }
                                    combos += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(combos, Backend::all().len() * CIPHERS.len() * 2 * 2 * 2 * 2 * 2 * 5);
}

fn pair(c: usize) -> (OutboundSa, InboundSa, vpn_esp::SaParams) {
    let p = params(c, true, false, false, false, Backend::RustCrypto);
    (OutboundSa::new(&p).unwrap(), InboundSa::new(&p.clone().reversed()).unwrap(), p)
}

fn encap(out: &mut OutboundSa, len: usize) -> Vec<u8> {
    let pkt = udp_packet("10.1.0.1".parse().unwrap(), "10.2.0.1".parse().unwrap(), len);
    let (mut buf, r) = in_buffer(&pkt);
    let e = out.encapsulate(Instant::ZERO, &mut buf, r, Framing::Esp).unwrap();
    buf[e.range].to_vec()
}

fn decap(inb: &mut InboundSa, esp: &[u8]) -> Result<Vec<u8>, DropReason> {
    let mut b = esp.to_vec();
    let n = b.len();
    inb.decapsulate(Instant::ZERO, &mut b, 0..n, Framing::Esp).map(|d| b[d.inner].to_vec())
}

#[test]
fn small_buffers_are_refused_untouched() {
    let (mut out, _, _) = pair(0);
    let pkt = udp_packet("10.1.0.1".parse().unwrap(), "10.2.0.1".parse().unwrap(), 50);
    // No headroom.
    let mut buf = pkt.clone();
    buf.extend_from_slice(&[0u8; 64]);
    let before = buf.clone();
    let n = pkt.len();
    assert_eq!(
        out.encapsulate(Instant::ZERO, &mut buf, 0..n, Framing::Esp),
        Err(EncapError::BufferTooSmall { headroom: 16, tailroom: 0 })
    );
    assert_eq!(buf, before);
    // No tailroom.
    let mut buf = vec![0u8; 16];
    buf.extend_from_slice(&pkt);
    let before = buf.clone();
    let r = out.encapsulate(Instant::ZERO, &mut buf, 16..16 + n, Framing::Esp);
    assert!(
        matches!(r, Err(EncapError::BufferTooSmall { tailroom, .. }) if tailroom == 2 + 16 + vpn_esp::wire::TrailerRepr::pad_for(n, 4) as usize)
    );
    assert_eq!(buf, before);
    assert_eq!(out.last_seq(), 0, "nothing was sent");
    assert_eq!(out.encapsulate(Instant::ZERO, &mut buf, 10..2000, Framing::Esp), Err(EncapError::BadRange));
}

#[test]
fn sequence_exhaustion_asks_for_rekey_then_refuses() {
    let (mut out, _, _) = pair(0);
    out.set_last_seq(u64::from(u32::MAX) - 2);
    let pkt = udp_packet("10.1.0.1".parse().unwrap(), "10.2.0.1".parse().unwrap(), 5);
    let mut events = vec![];
    for _ in 0..2 {
        let (mut buf, r) = in_buffer(&pkt);
        events.push(out.encapsulate(Instant::ZERO, &mut buf, r, Framing::Esp).unwrap().lifetime);
    }
    assert_eq!(events, [Some(LifetimeEvent::Soft), None]);
    assert_eq!(out.last_seq(), u64::from(u32::MAX));
    let (mut buf, r) = in_buffer(&pkt);
    assert_eq!(out.encapsulate(Instant::ZERO, &mut buf, r, Framing::Esp), Err(EncapError::SequenceExhausted));
    // With ESN the same SA number goes on past 2^32.
    let mut p = params(0, true, false, true, false, Backend::RustCrypto);
    p.esn = true;
    let mut out = OutboundSa::new(&p).unwrap();
    out.set_last_seq(u64::from(u32::MAX));
    let (mut buf, r) = in_buffer(&pkt);
    assert_eq!(out.encapsulate(Instant::ZERO, &mut buf, r, Framing::Esp).unwrap().seq, 1 << 32);
}

#[test]
fn lifetimes_soft_then_hard() {
    let mut p = params(2, true, false, false, false, Backend::RustCrypto);
    p.lifetimes = Lifetimes {
        soft: LifetimeLimits { packets: Some(3), ..Default::default() },
        hard: LifetimeLimits { packets: Some(5), time: Some(Duration::from_secs(60)), ..Default::default() },
    };
    let t0 = Instant::from_secs(1000);
    let mut out = OutboundSa::new_at(&p, t0).unwrap();
    let mut inb = InboundSa::new_at(&p.clone().reversed(), t0).unwrap();
    let pkt = udp_packet("10.1.0.1".parse().unwrap(), "10.2.0.1".parse().unwrap(), 5);
    let mut ev = vec![];
    for _ in 0..5 {
        let (mut buf, r) = in_buffer(&pkt);
        let e = out.encapsulate(t0, &mut buf, r, Framing::Esp).unwrap();
        let d = inb.decapsulate(t0, &mut buf, e.range, Framing::Esp).unwrap();
        ev.push((e.lifetime, d.lifetime));
    }
    let soft = Some(LifetimeEvent::Soft);
    let hard = Some(LifetimeEvent::Hard);
    assert_eq!(ev, [(None, None), (None, None), (soft, soft), (None, None), (hard, hard)]);
    let (mut buf, r) = in_buffer(&pkt);
    assert_eq!(out.encapsulate(t0, &mut buf, r, Framing::Esp), Err(EncapError::Expired));
    // Time-based hard expiry on a fresh SA.
    let mut out2 = OutboundSa::new_at(&p, t0).unwrap();
    assert_eq!(out2.next_deadline(), Some(t0 + Duration::from_secs(60)));
    assert_eq!(out2.poll_lifetime(t0 + Duration::from_secs(59)), None);
    assert_eq!(out2.poll_lifetime(t0 + Duration::from_secs(60)), hard);
}

#[test]
fn sad_routes_by_spi_and_counts_drops() {
    let mut sad = Sad::new();
    let (mut out, inb, _) = pair(0);
    sad.insert_inbound(inb);
    let esp = encap(&mut out, 30);
    let mut b = esp.clone();
    let n = b.len();
    assert!(sad.decapsulate(Instant::ZERO, &mut b, 0..n, Framing::Esp).is_ok());
    let mut b = esp.clone();
    assert_eq!(sad.decapsulate(Instant::ZERO, &mut b, 0..n, Framing::Esp), Err(DropReason::Replay));
    let mut b = esp.clone();
    b[..4].copy_from_slice(&[0, 0, 0, 0]);
    assert_eq!(sad.decapsulate(Instant::ZERO, &mut b, 0..n, Framing::Esp), Err(DropReason::ReservedSpi));
    let mut b = esp.clone();
    b[3] ^= 1;
    assert_eq!(sad.decapsulate(Instant::ZERO, &mut b, 0..n, Framing::Esp), Err(DropReason::UnknownSpi));
    let mut b = vec![0x45u8, 0, 0, 10];
    assert_eq!(sad.decapsulate(Instant::ZERO, &mut b, 0..4, Framing::Ip), Err(DropReason::BadOuterHeader));
    assert_eq!(sad.drops().get(DropReason::Replay), 1);
    assert_eq!(sad.drops().get(DropReason::ReservedSpi), 1);
    assert_eq!(sad.drops().get(DropReason::UnknownSpi), 1);
    assert_eq!(sad.drops().total(), 4);
}

#[test]
fn replay_window_sizes_and_reordering() {
    for window in [0u32, 64, 1024, 4096] {
        let mut p = params(0, true, false, false, false, Backend::RustCrypto);
        p.replay_window = window;
        let mut out = OutboundSa::new(&p).unwrap();
        let mut inb = InboundSa::new(&p.clone().reversed()).unwrap();
        let pkts: Vec<Vec<u8>> = (0..window.max(64) + 10).map(|_| encap(&mut out, 8)).collect();
        // Deliver the newest first, then the rest in reverse.
        let n = pkts.len();
        assert!(decap(&mut inb, &pkts[n - 1]).is_ok());
        for (i, pk) in pkts.iter().enumerate().rev().skip(1) {
            let seq = i as u64 + 1;
            let r = decap(&mut inb, pk);
            let top = n as u64;
            if window == 0 || seq > top - u64::from(window) {
                assert!(r.is_ok(), "window {window} seq {seq}: {r:?}");
            } else {
                assert_eq!(r, Err(DropReason::TooOld), "window {window} seq {seq}");
            }
        }
        let again = decap(&mut inb, &pkts[n - 1]);
        assert_eq!(again.is_ok(), window == 0, "window {window}: duplicate");
    }
}
