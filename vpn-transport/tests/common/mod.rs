//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;
#[cfg(feature = "udp")]
use std::time::{Duration, Instant};

#[cfg(feature = "udp")]
use vpn_transport::udp::{DatagramMeta, UdpConfig, UdpEndpoint};
#[cfg(feature = "udp")]
use vpn_transport::PacketBatch;

pub const LOOPBACK: &str = "127.0.0.1";

pub fn lo() -> IpAddr {
    LOOPBACK.parse().unwrap()
}

#[cfg(feature = "udp")]
/// An endpoint on 127.0.0.1 with ephemeral ports.
pub fn endpoint() -> UdpEndpoint {
    UdpEndpoint::bind(&UdpConfig::ephemeral([lo()])).unwrap()
}

#[cfg(feature = "udp")]
/// Receive until `batch` holds `n` datagrams or two seconds pass.
pub fn recv_n(ep: &mut UdpEndpoint, batch: &mut PacketBatch<DatagramMeta>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while batch.len() < n {
        let now = Instant::now();
        assert!(now < deadline, "only {} of {n} datagrams arrived", batch.len());
        ep.wait(Some(deadline - now)).unwrap();
        ep.recv(batch).unwrap();
    }
}

/// An IPv4 UDP packet from `src` to `dst` (ports 40000 -> 9) with `payload`.
pub fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let ulen = 8 + payload.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p[2..4].copy_from_slice(&((20 + ulen) as u16).to_be_bytes());
    let c = vpn_core::packet::checksum(0, &p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&(ulen as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]); // no checksum (allowed for IPv4, RFC 768)
    p.extend_from_slice(payload);
    p
}

/// An IPv6 UDP packet from `src` to `dst` with `payload` (checksum left zero: nothing checks it
/// on the way through the tunnel).
pub fn ipv6_udp(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let ulen = 8 + payload.len();
    let mut p = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
    p[4..6].copy_from_slice(&(ulen as u16).to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&(ulen as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

use std::net::SocketAddr;

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::ts::TrafficSelector;
use vpn_esp::{EspKeys, InboundSa, OutboundSa, Policy, PolicyAction, SaParams, UdpEncap};
use vpn_transport::EspTunnel;

/// Outbound SPIs of site A's two Child SAs, then site B's.
pub const A_SPIS: [u32; 2] = [0xa001, 0xa002];
pub const B_SPIS: [u32; 2] = [0xb001, 0xb002];

fn ts(s: &str) -> TrafficSelector {
    s.parse().unwrap()
}

fn keys(pair: usize, dir: u8) -> EspKeys {
    if pair == 0 {
        EspKeys::new(EncrAlg::AesGcm16, &[dir ^ 0x11; 36], IntegAlg::None, &[]).unwrap()
    } else {
        EspKeys::new(EncrAlg::AesCbc, &[dir ^ 0x22; 32], IntegAlg::HmacSha256_128, &[dir ^ 0x33; 32]).unwrap()
    }
}

/// Two sites joined by two static Child SA pairs: AES-256-GCM for 10.1.0.0/24 <-> 10.2.0.0/24
/// and AES-256-CBC with HMAC-SHA-256 for fd00:1::/64 <-> fd00:2::/64. `a` and `b` are the
/// sites' NAT-T addresses.
pub fn tunnel_pair(a: SocketAddr, b: SocketAddr) -> (EspTunnel, EspTunnel) {
    let nets = [("10.1.0.0/24", "10.2.0.0/24"), ("fd00:1::/64", "fd00:2::/64")];
    let mut ta = EspTunnel::new();
    let mut tb = EspTunnel::new();
    for (pair, (na, nb)) in nets.iter().enumerate() {
        for (from_a, spi) in [(true, A_SPIS[pair]), (false, B_SPIS[pair])] {
            let (local, remote, lts, rts) = if from_a { (a, b, na, nb) } else { (b, a, nb, na) };
            let mut p = SaParams::tunnel(spi, keys(pair, from_a as u8), local.ip(), remote.ip());
            p.udp_encap = Some(UdpEncap { local_port: local.port(), remote_port: remote.port() });
            p.local_ts = vec![ts(lts)];
            p.remote_ts = vec![ts(rts)];
            let out = OutboundSa::new(&p).unwrap();
            let inb = InboundSa::new(&p.clone().reversed()).unwrap();
            let (sender, receiver) = if from_a { (&mut ta, &mut tb) } else { (&mut tb, &mut ta) };
            sender.insert_outbound(out, remote);
            receiver.insert_inbound(inb);
            sender.spd_mut().insert(Policy {
                local: vec![ts(lts)],
                remote: vec![ts(rts)],
                action: PolicyAction::Protect { spi },
                priority: 10,
                tag: pair as u64,
            });
        }
    }
    (ta, tb)
}
