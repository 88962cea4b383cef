//! Packets built by hand (independently of the encapsulation code) whose decrypted trailer or
//! inner packet is wrong: each must be dropped with its own reason.

mod common;

use common::*;
use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::{AeadCipher, Backend};
use vpn_core::time::Instant;
use vpn_esp::{DropReason, EspKeys, Framing, InboundSa, SaParams};

const KEY: [u8; 16] = [0x11; 16];
const SALT: [u8; 4] = [0xca, 0xfe, 0xba, 0xbe];
const SPI: u32 = 0x0000_4321;

fn sa() -> InboundSa {
    let mut km = KEY.to_vec();
    km.extend_from_slice(&SALT);
    let keys = EspKeys::new(EncrAlg::AesGcm16, &km, IntegAlg::None, &[]).unwrap();
    InboundSa::new(&SaParams::tunnel(SPI, keys, "192.0.2.2".parse().unwrap(), "192.0.2.1".parse().unwrap()))
        .unwrap()
}

/// RFC 4106 §3-5: SPI || seq || IV || AES-GCM(plaintext) || tag, AAD = SPI || seq.
fn gcm_packet(seq: u32, plaintext: &[u8]) -> Vec<u8> {
    let iv = [seq as u8; 8];
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&SALT);
    nonce[4..].copy_from_slice(&iv);
    let mut hdr = SPI.to_be_bytes().to_vec();
    hdr.extend_from_slice(&seq.to_be_bytes());
    let mut ct = plaintext.to_vec();
    let mut tag = [0u8; 16];
    AeadCipher::new(Backend::RustCrypto, EncrAlg::AesGcm16, &KEY)
        .unwrap()
        .seal(&nonce, &hdr, &mut ct, &mut tag)
        .unwrap();
    let mut p = hdr;
    p.extend_from_slice(&iv);
    p.extend_from_slice(&ct);
    p.extend_from_slice(&tag);
    p
}

fn with_trailer(payload: &[u8], padding: &[u8], pad_len: u8, next: u8) -> Vec<u8> {
    let mut v = payload.to_vec();
    v.extend_from_slice(padding);
    v.push(pad_len);
    v.push(next);
    v
}

fn decap(sa: &mut InboundSa, p: &[u8]) -> Result<Vec<u8>, DropReason> {
    let mut b = p.to_vec();
    let n = b.len();
    sa.decapsulate(Instant::ZERO, &mut b, 0..n, Framing::Esp).map(|d| b[d.inner].to_vec())
}

#[test]
fn trailer_and_inner_checks() {
    let inner = udp_packet("10.2.0.1".parse().unwrap(), "10.1.0.1".parse().unwrap(), 6); // 34 bytes
    let mut sa = sa();
    type Case = (Vec<u8>, Result<Vec<u8>, DropReason>);
    let cases: Vec<Case> = vec![
        // A correct packet: 34 + 2 = 36, no padding needed.
        (with_trailer(&inner, &[], 0, 4), Ok(inner.clone())),
        // Correct with extra (allowed) padding.
        (with_trailer(&inner, &[1, 2, 3, 4], 4, 4), Ok(inner.clone())),
        // Padding bytes not 1, 2, 3, ...
        (with_trailer(&inner, &[1, 2, 9, 4], 4, 4), Err(DropReason::BadPadding)),
        (with_trailer(&inner, &[0, 0, 0, 0], 4, 4), Err(DropReason::BadPadding)),
        // Pad length beyond the payload.
        (with_trailer(&[1, 2], &[], 200, 4), Err(DropReason::BadPadLength)),
        // A dummy packet (next header 59, RFC 4303 §2.6).
        (with_trailer(&[0xaa; 6], &[], 0, 59), Err(DropReason::Dummy)),
        // Tunnel mode carries only IPv4 (4) or IPv6 (41).
        (with_trailer(&inner, &[], 0, 6), Err(DropReason::BadNextHeader)),
        // Next header says IPv6, the packet is IPv4.
        (with_trailer(&inner, &[], 0, 41), Err(DropReason::BadInnerPacket)),
        // Garbage inside.
        (with_trailer(&[0x45, 0, 0xff, 0xff, 0, 0], &[], 0, 4), Err(DropReason::BadInnerPacket)),
    ];
    for (i, (pt, want)) in cases.into_iter().enumerate() {
        let got = decap(&mut sa, &gcm_packet(i as u32 + 1, &pt));
        assert_eq!(got, want, "case {i}");
    }
    // Not a multiple of 4 bytes (RFC 4303 §2.4).
    let odd = with_trailer(&inner[..33], &[], 0, 4);
    assert_eq!(decap(&mut sa, &gcm_packet(100, &odd)), Err(DropReason::Misaligned));
}
