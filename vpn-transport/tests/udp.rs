//! The UDP adapter on loopback: classification on both ports, keepalives, batches through
//! recvmmsg/sendmmsg and the one-at-a-time fallback, GSO and its fallback.
#![cfg(feature = "udp")]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::*;
use vpn_transport::udp::{
    DatagramKind, DatagramMeta, NatKeepalive, PortKind, Transmit, UdpConfig, UdpEndpoint,
};
use vpn_transport::PacketBatch;

/// A fake IKE message: SPIs, next payload, version 2.0, IKE_SA_INIT, length 28.
fn ike_message(tag: u8) -> Vec<u8> {
    let mut m = vec![tag; 8];
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&[33, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 0, 28]);
    m
}

fn addr(ep: &UdpEndpoint, kind: PortKind) -> SocketAddr {
    ep.local_addr(kind, lo()).unwrap()
}

fn batch() -> PacketBatch<DatagramMeta> {
    PacketBatch::with_defaults(64, 2048)
}

#[test]
fn ike_on_the_ike_port() {
    let (mut a, mut b) = (endpoint(), endpoint());
    let msg = ike_message(1);
    a.send(&[Transmit::new(PortKind::Ike, addr(&b, PortKind::Ike), &msg)]).unwrap();
    let mut got = batch();
    recv_n(&mut b, &mut got, 1);
    let m = got.meta(0);
    assert_eq!(m.kind, DatagramKind::Ike);
    assert_eq!(m.port, PortKind::Ike);
    assert_eq!(m.remote, addr(&a, PortKind::Ike));
    assert_eq!(m.local, addr(&b, PortKind::Ike));
    assert_eq!(got.packet(0), &msg[..]);
    // Even four zero bytes first are IKE on port 500: no marker there (RFC 3948 §2.2).
    let zeros = [0u8; 12];
    a.send(&[Transmit::new(PortKind::Ike, addr(&b, PortKind::Ike), &zeros)]).unwrap();
    recv_n(&mut b, &mut got, 2);
    assert_eq!(got.packet(1), &zeros);
}

#[test]
fn ike_behind_the_marker_on_the_nat_t_port() {
    let (mut a, mut b) = (endpoint(), endpoint());
    let msg = ike_message(2);
    // Leave 4 bytes before the message for the marker.
    let mut buf = vec![0xaa; 4 + msg.len()];
    buf[4..].copy_from_slice(&msg);
    a.send_ike(PortKind::NatT, addr(&b, PortKind::NatT), &mut buf, 4..4 + msg.len()).unwrap();
    let mut got = batch();
    recv_n(&mut b, &mut got, 1);
    assert_eq!(got.meta(0).kind, DatagramKind::Ike);
    assert_eq!(got.meta(0).port, PortKind::NatT);
    assert_eq!(got.packet(0), &msg[..], "marker stripped");
    // On the wire the marker is there.
    let plain = UdpSocket::bind("127.0.0.1:0").unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    buf[4..].copy_from_slice(&msg);
    a.send_ike(PortKind::NatT, plain.local_addr().unwrap(), &mut buf, 4..4 + msg.len()).unwrap();
    let mut raw = [0u8; 100];
    let (n, from) = plain.recv_from(&mut raw).unwrap();
    assert_eq!(from, addr(&a, PortKind::NatT));
    assert_eq!(&raw[..4], &[0, 0, 0, 0]);
    assert_eq!(&raw[4..n], &msg[..]);
    // No room for the marker: refused, nothing sent.
    assert!(a.send_ike(PortKind::NatT, addr(&b, PortKind::NatT), &mut buf, 0..4).is_err());
}

#[test]
fn esp_keepalives_and_junk_on_the_nat_t_port() {
    let (mut a, mut b) = (endpoint(), endpoint());
    let dst = addr(&b, PortKind::NatT);
    let esp = [0, 0, 0x12, 0x34, 0, 0, 0, 1, 9, 9, 9, 9];
    // A datagram too short to be anything sits between valid ones: it is dropped and the
    // batch has no hole.
    let junk = [1u8, 2, 3];
    let mut k = NatKeepalive::new(vpn_core::time::Duration::from_secs(20));
    k.add_peer(vpn_core::time::Instant::ZERO, None, dst);
    a.send(&[Transmit::new(PortKind::NatT, dst, &esp), Transmit::new(PortKind::NatT, dst, &junk)]).unwrap();
    assert_eq!(k.poll(vpn_core::time::Instant::from_secs(19), &mut a).unwrap(), 0);
    assert_eq!(k.poll(vpn_core::time::Instant::from_secs(20), &mut a).unwrap(), 1);
    a.send(&[Transmit::new(PortKind::NatT, dst, &esp[..8])]).unwrap();
    let mut got = batch();
    recv_n(&mut b, &mut got, 3);
    let kinds: Vec<_> = got.iter().map(|(m, p)| (m.kind, p.len())).collect();
    assert_eq!(kinds, vec![(DatagramKind::Esp, 12), (DatagramKind::Keepalive, 1), (DatagramKind::Esp, 8)]);
    assert_eq!(got.packet(1), &[0xff]);
    assert_eq!(got.packet(0), &esp);
    assert_eq!(b.stats().invalid, 1);
    assert_eq!(b.stats().received, 3);
    assert_eq!(k.next_timeout(), Some(vpn_core::time::Instant::from_secs(40)));
}

fn numbered(i: usize, len: usize) -> Vec<u8> {
    let mut d = vec![(i as u8).wrapping_mul(3); len];
    d[..4].copy_from_slice(&(0x1000_0000u32 + i as u32).to_be_bytes());
    d
}

fn batch_of_64(cfg: &UdpConfig) {
    let mut a = UdpEndpoint::bind(cfg).unwrap();
    let mut b = UdpEndpoint::bind(cfg).unwrap();
    let dst = addr(&b, PortKind::NatT);
    let data: Vec<Vec<u8>> = (0..64).map(|i| numbered(i, 100 + i * 10)).collect();
    let tx: Vec<Transmit<'_>> = data.iter().map(|d| Transmit::new(PortKind::NatT, dst, d)).collect();
    let mut sent = 0;
    while sent < tx.len() {
        match a.send(&tx[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let fds: Vec<_> = a.fds().collect();
                vpn_transport::wait_writable(&fds, Some(Duration::from_secs(1))).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(a.stats().sent, 64);
    let mut got = batch();
    // Loopback has queued them all by now: one call takes the lot.
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(b.recv(&mut got).unwrap(), 64);
    for (i, (m, p)) in got.iter().enumerate() {
        assert_eq!(m.kind, DatagramKind::Esp);
        assert_eq!(m.remote, addr(&a, PortKind::NatT));
        assert_eq!(p, &data[i][..], "datagram {i}");
    }
    // The batch is full: what arrives next waits for the next batch.
    a.send(&tx[..1]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(b.recv(&mut got).unwrap(), 0);
    got.clear();
    recv_n(&mut b, &mut got, 1);
    assert_eq!(got.packet(0), &data[0][..]);
}

#[test]
fn batch_of_64_with_sendmmsg_and_recvmmsg() {
    batch_of_64(&UdpConfig::ephemeral([lo()]));
}

#[test]
fn batch_of_64_one_at_a_time() {
    batch_of_64(&UdpConfig { batch_syscalls: false, ..UdpConfig::ephemeral([lo()]) });
}

fn segments(cfg: &UdpConfig) -> (UdpEndpoint, usize) {
    let mut a = UdpEndpoint::bind(cfg).unwrap();
    let mut b = UdpEndpoint::bind(cfg).unwrap();
    let dst = addr(&b, PortKind::NatT);
    // 10 datagrams of 1000 bytes and a last one of 300, back to back.
    let mut run = Vec::new();
    for i in 0..11 {
        run.extend_from_slice(&numbered(i, if i == 10 { 300 } else { 1000 }));
    }
    let t = Transmit::new(PortKind::NatT, dst, &run).segments(1000);
    assert_eq!(t.datagrams(), 11);
    assert_eq!(a.send(&[t]).unwrap(), 1);
    let mut got = batch();
    recv_n(&mut b, &mut got, 11);
    for (i, (_, p)) in got.iter().enumerate() {
        assert_eq!(p, &numbered(i, if i == 10 { 300 } else { 1000 })[..], "segment {i}");
    }
    assert_eq!(a.stats().sent, 11);
    let gso_sends = a.stats().gso_sends as usize;
    (a, gso_sends)
}

#[test]
fn gso_sends_a_run_in_one_call_when_the_kernel_can() {
    let (a, gso_sends) = segments(&UdpConfig::ephemeral([lo()]));
    if a.gso_enabled() {
        assert_eq!(gso_sends, 1);
    } else {
        eprintln!("UDP GSO not available here: the fallback carried the run");
        assert_eq!(gso_sends, 0);
    }
}

#[test]
fn gso_fallback_splits_in_userspace() {
    let cfg = UdpConfig { gso: false, ..UdpConfig::ephemeral([lo()]) };
    let (a, gso_sends) = segments(&cfg);
    assert!(!a.gso_enabled());
    assert_eq!(gso_sends, 0);
    let cfg = UdpConfig { gso: false, batch_syscalls: false, ..UdpConfig::ephemeral([lo()]) };
    assert_eq!(segments(&cfg).1, 0);
}

#[test]
fn too_many_segments_are_refused() {
    let mut a = endpoint();
    let run = vec![0u8; 65 * 100];
    let t = Transmit::new(PortKind::NatT, "127.0.0.1:9".parse().unwrap(), &run).segments(100);
    assert_eq!(a.send(&[t]).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn oversized_datagrams_are_dropped_and_counted() {
    let (mut a, mut b) = (endpoint(), endpoint());
    let dst = addr(&b, PortKind::Ike);
    let big = ike_message(3).repeat(40); // 1120 bytes
    let small = ike_message(4);
    a.send(&[Transmit::new(PortKind::Ike, dst, &big), Transmit::new(PortKind::Ike, dst, &small)]).unwrap();
    let mut got = PacketBatch::with_defaults(4, 1000);
    recv_n(&mut b, &mut got, 1);
    assert_eq!(got.packet(0), &small[..]);
    assert_eq!(b.stats().truncated, 1);
}

#[test]
fn ipv6_and_ipv4_side_by_side() {
    let v6: std::net::IpAddr = "::1".parse().unwrap();
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback");
        return;
    }
    let cfg = UdpConfig::ephemeral([lo(), v6]);
    let (mut a, mut b) = (UdpEndpoint::bind(&cfg).unwrap(), UdpEndpoint::bind(&cfg).unwrap());
    assert_eq!(a.local_addrs().count(), 4);
    let msg = ike_message(5);
    let d6 = b.local_addr(PortKind::NatT, v6).unwrap();
    let d4 = b.local_addr(PortKind::NatT, lo()).unwrap();
    let mut buf = vec![0u8; 4 + msg.len()];
    buf[4..].copy_from_slice(&msg);
    a.send_ike(PortKind::NatT, d6, &mut buf, 4..4 + msg.len()).unwrap();
    a.send(&[Transmit::new(PortKind::NatT, d4, &[0xff])]).unwrap();
    let mut got = batch();
    recv_n(&mut b, &mut got, 2);
    let mut seen: Vec<_> = got.iter().map(|(m, p)| (m.local.is_ipv6(), m.kind, p.len())).collect();
    seen.sort_by_key(|s| s.0);
    assert_eq!(seen, vec![(false, DatagramKind::Keepalive, 1), (true, DatagramKind::Ike, msg.len())]);
    let from6 = got.iter().find(|(m, _)| m.local.is_ipv6()).unwrap().0.remote;
    assert_eq!(from6, a.local_addr(PortKind::NatT, v6).unwrap());
}

#[test]
fn wildcard_sockets_learn_and_choose_the_local_address() {
    let any: std::net::IpAddr = "0.0.0.0".parse().unwrap();
    let mut gw = UdpEndpoint::bind(&UdpConfig::ephemeral([any])).unwrap();
    let port = gw.local_addr(PortKind::NatT, any).unwrap().port();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // 127.0.0.2 is ours too (all of 127/8 is on lo).
    for dst in ["127.0.0.1", "127.0.0.2"] {
        let ip: std::net::IpAddr = dst.parse().unwrap();
        peer.send_to(&[0, 0, 0, 0, 1, 2, 3, 4], (ip, port)).unwrap();
        let mut got = batch();
        recv_n(&mut gw, &mut got, 1);
        assert_eq!(got.meta(0).local, SocketAddr::new(ip, port), "destination learnt");
        assert_eq!(got.meta(0).kind, DatagramKind::Ike);
        // The answer leaves from the address the request came to, with and without GSO.
        let reply = Transmit::new(PortKind::NatT, peer.local_addr().unwrap(), &[0xff]).from_ip(ip);
        gw.send(&[reply]).unwrap();
        let mut buf = [0u8; 16];
        let (_, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(from, SocketAddr::new(ip, port));
        let run = [9u8; 20];
        gw.send(&[Transmit::new(PortKind::NatT, peer.local_addr().unwrap(), &run).segments(10).from_ip(ip)])
            .unwrap();
        for _ in 0..2 {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            assert_eq!((n, from), (10, SocketAddr::new(ip, port)));
        }
    }
}

#[test]
fn wildcard_ipv6_socket_learns_the_local_address() {
    let Ok(peer) = UdpSocket::bind("[::1]:0") else {
        eprintln!("skipping: no IPv6 loopback");
        return;
    };
    let any: std::net::IpAddr = "::".parse().unwrap();
    let one: std::net::IpAddr = "::1".parse().unwrap();
    let mut gw = UdpEndpoint::bind(&UdpConfig::ephemeral([any])).unwrap();
    let port = gw.local_addr(PortKind::Ike, any).unwrap().port();
    peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    peer.send_to(&ike_message(6), (one, port)).unwrap();
    let mut got = batch();
    recv_n(&mut gw, &mut got, 1);
    assert_eq!(got.meta(0).local, SocketAddr::new(one, port));
    gw.send(&[Transmit::new(PortKind::Ike, peer.local_addr().unwrap(), b"reply").from_ip(one)]).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(peer.recv_from(&mut buf).unwrap(), (5, SocketAddr::new(one, port)));
}
