//! Helpers shared by the integration tests: SA parameters for every cipher and test packets.
#![allow(dead_code)]

use std::net::IpAddr;

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::Backend;
use vpn_esp::{EspKeys, SaParams, UdpEncap};

/// (name, encryption, key length incl. salt, integrity)
pub const CIPHERS: &[(&str, EncrAlg, usize, IntegAlg)] = &[
    ("aes128gcm16", EncrAlg::AesGcm16, 20, IntegAlg::None),
    ("aes256gcm16", EncrAlg::AesGcm16, 36, IntegAlg::None),
    ("chacha20poly1305", EncrAlg::ChaCha20Poly1305, 36, IntegAlg::None),
    ("aes128-sha256", EncrAlg::AesCbc, 16, IntegAlg::HmacSha256_128),
    ("aes256-sha256", EncrAlg::AesCbc, 32, IntegAlg::HmacSha256_128),
    ("aes256-sha384", EncrAlg::AesCbc, 32, IntegAlg::HmacSha384_192),
    ("aes256-sha512", EncrAlg::AesCbc, 32, IntegAlg::HmacSha512_256),
];

pub fn keys(encr: EncrAlg, klen: usize, integ: IntegAlg) -> EspKeys {
    let ek: Vec<u8> = (0..klen as u8).map(|i| i.wrapping_mul(7).wrapping_add(1)).collect();
    let ik: Vec<u8> = (0..integ.key_len().unwrap() as u8).map(|i| i ^ 0x5a).collect();
    EspKeys::new(encr, &ek, integ, &ik).unwrap()
}

pub fn params(cipher: usize, tunnel: bool, v6: bool, esn: bool, udp: bool, backend: Backend) -> SaParams {
    let (_, e, k, i) = CIPHERS[cipher];
    let (l, r): (IpAddr, IpAddr) = if v6 {
        ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap())
    } else {
        ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap())
    };
    let mut p = if tunnel {
        SaParams::tunnel(0x0102_0304, keys(e, k, i), l, r)
    } else {
        SaParams::transport(0x0102_0304, keys(e, k, i), l, r)
    };
    p.esn = esn;
    p.backend = backend;
    if udp {
        p.udp_encap = Some(UdpEncap { local_port: 4500, remote_port: 4501 });
    }
    p
}

/// An IPv4 or IPv6 UDP packet from `src` to `dst` with `len` payload bytes.
pub fn udp_packet(src: IpAddr, dst: IpAddr, len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
    let ulen = 8 + len;
    let mut udp = vec![0u8; 8];
    udp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    udp[2..4].copy_from_slice(&53u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(ulen as u16).to_be_bytes());
    udp.extend_from_slice(&payload);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h[2..4].copy_from_slice(&((20 + ulen) as u16).to_be_bytes());
            let c = vpn_core::packet::checksum(0, &h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h.extend_from_slice(&udp);
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0, 0, 0, 17, 64];
            h[4..6].copy_from_slice(&(ulen as u16).to_be_bytes());
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h.extend_from_slice(&udp);
            h
        }
        _ => panic!("mixed families"),
    }
}

pub const HEAD: usize = 128;
pub const TAIL: usize = 64;

/// `pkt` placed in a buffer with headroom and tailroom; returns (buffer, range).
pub fn in_buffer(pkt: &[u8]) -> (Vec<u8>, std::ops::Range<usize>) {
    let mut b = vec![0u8; HEAD + pkt.len() + TAIL];
    b[HEAD..HEAD + pkt.len()].copy_from_slice(pkt);
    (b, HEAD..HEAD + pkt.len())
}
