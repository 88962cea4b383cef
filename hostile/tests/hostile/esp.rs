//! ESP (issue 6 item 8): truncated packets, every bit flipped, wrong padding, pad length beyond
//! the payload, inner length inconsistent, inner addresses outside the selectors, unknown SPI,
//! SPI 0, replayed and very old sequence numbers, dummy packets, malformed outer headers.
//!
//! Packets with a chosen (bad) plaintext are built here from the raw ciphers, independently of
//! the encapsulation code, as RFC 4303/4106/3602 lay them out. After every drop the case checks
//! the counted reason and that the SA did not move (highest sequence number, packet counter) and
//! still takes the genuine next packet.

use std::net::IpAddr;

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::{AeadCipher, AesCbc, Backend, Integ};
use vpn_core::time::Instant;
use vpn_esp::{DropReason, EspKeys, Framing, InboundSa, OutboundSa, SaParams, Sad, UdpEncap};

use crate::{expect_eq, Case};

const SPI: u32 = 0x0a0b_0c0d;

#[derive(Clone, Copy)]
struct Suite {
    name: &'static str,
    encr: EncrAlg,
    key_len: usize,
    integ: IntegAlg,
    backend: Backend,
}

fn suites() -> Vec<Suite> {
    let mut v = Vec::new();
    for backend in [Backend::RustCrypto, Backend::Ring] {
        for (name, encr, key_len) in [
            ("aes128gcm16", EncrAlg::AesGcm16, 16),
            ("aes256gcm16", EncrAlg::AesGcm16, 32),
            ("chacha20poly1305", EncrAlg::ChaCha20Poly1305, 32),
        ] {
            v.push(Suite { name, encr, key_len, integ: IntegAlg::None, backend });
        }
    }
    for (name, key_len, integ) in [
        ("aes128-sha256", 16, IntegAlg::HmacSha256_128),
        ("aes256-sha384", 32, IntegAlg::HmacSha384_192),
        ("aes256-sha512", 32, IntegAlg::HmacSha512_256),
    ] {
        v.push(Suite { name, encr: EncrAlg::AesCbc, key_len, integ, backend: Backend::RustCrypto });
    }
    v
}

impl Suite {
    fn label(&self) -> String {
        format!("{}/{}", self.name, self.backend.name())
    }
    fn enc_key(&self) -> Vec<u8> {
        (0..self.key_len as u8).map(|i| i.wrapping_mul(13).wrapping_add(5)).collect()
    }
    fn salt(&self) -> [u8; 4] {
        [0x5a, 0x17, 0x00, 0xff]
    }
    fn integ_key(&self) -> Vec<u8> {
        (0..self.integ.key_len().unwrap_or(0) as u8).map(|i| i ^ 0xa5).collect()
    }
    fn keys(&self) -> EspKeys {
        let mut k = self.enc_key();
        if self.encr.is_aead() {
            k.extend_from_slice(&self.salt());
        }
        EspKeys::new(self.encr, &k, self.integ, &self.integ_key()).unwrap()
    }
    fn iv_len(&self) -> usize {
        if self.encr.is_aead() {
            8
        } else {
            16
        }
    }
    fn icv_len(&self) -> usize {
        if self.encr.is_aead() {
            16
        } else {
            self.integ.icv_len().unwrap_or(0)
        }
    }
    fn align(&self) -> usize {
        if self.encr.is_aead() {
            4
        } else {
            16
        }
    }

    /// The receiving SA (tunnel mode, selectors 10.1.0.0/24 -> 10.2.0.0/24 and IPv6 ones).
    fn params(&self) -> SaParams {
        let mut p = SaParams::tunnel(SPI, self.keys(), ip("192.0.2.2"), ip("192.0.2.1"));
        p.backend = self.backend;
        p.udp_encap = Some(UdpEncap::default());
        p.local_ts = vec!["10.2.0.0/24".parse().unwrap(), "fd00:2::/64".parse().unwrap()];
        p.remote_ts = vec!["10.1.0.0/24".parse().unwrap(), "fd00:1::/64".parse().unwrap()];
        p
    }

    fn receiver(&self) -> Sad {
        let mut sad = Sad::new();
        sad.insert_inbound(InboundSa::new(&self.params()).unwrap());
        sad
    }

    fn sender(&self) -> OutboundSa {
        OutboundSa::new(&self.params().reversed()).unwrap()
    }

    /// An ESP packet with sequence number `seq` and exactly this plaintext (payload, padding,
    /// pad length and next header as given), built from the raw ciphers (RFC 4303 §2).
    fn craft(&self, seq: u32, plaintext: &[u8]) -> Vec<u8> {
        let mut p = SPI.to_be_bytes().to_vec();
        p.extend_from_slice(&seq.to_be_bytes());
        let mut ct = plaintext.to_vec();
        if self.encr.is_aead() {
            // RFC 4106 §3-5 and RFC 7634 §2: nonce = salt || IV, AAD = SPI || seq.
            let iv = u64::from(seq).wrapping_mul(0x9e37_79b9).to_be_bytes();
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&self.salt());
            nonce[4..].copy_from_slice(&iv);
            let mut tag = [0u8; 16];
            let a = AeadCipher::new(self.backend, self.encr, &self.enc_key()).unwrap();
            a.seal(&nonce, &p.clone(), &mut ct, &mut tag).unwrap();
            p.extend_from_slice(&iv);
            p.extend_from_slice(&ct);
            p.extend_from_slice(&tag);
        } else {
            // RFC 3602 §2 and RFC 4868 §2: CBC from a 16-byte IV, ICV over header, IV, ciphertext.
            let iv = [seq as u8 ^ 0x3c; 16];
            AesCbc::new(&self.enc_key()).unwrap().encrypt(&iv, &mut ct).unwrap();
            p.extend_from_slice(&iv);
            p.extend_from_slice(&ct);
            let i = Integ::new(self.integ, &self.integ_key()).unwrap();
            let mut icv = vec![0u8; i.icv_len()];
            i.compute(&[&p], &mut icv).unwrap();
            p.extend_from_slice(&icv);
        }
        p
    }

    /// Payload + minimal padding + trailer for this cipher's alignment.
    fn trailer(&self, payload: &[u8], next: u8) -> Vec<u8> {
        let pad = vpn_esp::wire::TrailerRepr::pad_for(payload.len(), self.align());
        let mut v = payload.to_vec();
        v.extend(1..=pad);
        v.push(pad);
        v.push(next);
        v
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// An IPv4 or IPv6 UDP packet from `src` to `dst`.
pub fn udp_packet(src: &str, dst: &str, payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7 + 1) as u8).collect();
    let ulen = 8 + payload_len;
    let mut udp = vec![0x9c, 0x40, 0, 53, (ulen >> 8) as u8, ulen as u8, 0, 0];
    udp.extend_from_slice(&payload);
    match (ip(src), ip(dst)) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0, ((20 + ulen) >> 8) as u8, (20 + ulen) as u8, 0, 0, 0, 0, 64, 17, 0, 0];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h.extend_from_slice(&udp);
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0, (ulen >> 8) as u8, ulen as u8, 17, 64];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h.extend_from_slice(&udp);
            h
        }
        _ => panic!("mixed families"),
    }
}

/// The receiver's observable state: highest sequence number and (bytes, packets).
fn state(sad: &Sad) -> (u64, (u64, u64)) {
    let sa = sad.inbound(SPI).unwrap();
    (sa.highest_seq(), sa.counters())
}

/// Feed `pkt` (ESP alone) and expect `want`, with the drop counted and the SA unchanged.
fn expect_drop(sad: &mut Sad, pkt: &[u8], framing: Framing, want: DropReason) -> Result<(), String> {
    let before = state(sad);
    let counted = sad.drops().get(want);
    let mut buf = pkt.to_vec();
    let n = buf.len();
    let got = sad.decapsulate(Instant::ZERO, &mut buf, 0..n, framing).map(|d| d.inner);
    expect_eq("outcome", got, Err(want))?;
    expect_eq("drop counter", sad.drops().get(want), counted + 1)?;
    expect_eq("SA state", state(sad), before)
}

/// Feed an authentic packet (its ICV verifies) whose contents are wrong: dropped with `want`,
/// counted, no traffic counted, and — as RFC 4303 §3.4.3 updates the window once the ICV
/// verified — its sequence number now replayed.
fn expect_authentic_drop(sad: &mut Sad, pkt: &[u8], want: DropReason) -> Result<(), String> {
    let (highest, counters) = state(sad);
    let counted = sad.drops().get(want);
    let seq = u64::from(u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]));
    let mut buf = pkt.to_vec();
    let n = buf.len();
    let got = sad.decapsulate(Instant::ZERO, &mut buf, 0..n, Framing::Esp).map(|d| d.inner);
    expect_eq("outcome", got, Err(want))?;
    expect_eq("drop counter", sad.drops().get(want), counted + 1)?;
    expect_eq("SA state", state(sad), (highest.max(seq), counters))?;
    expect_drop(sad, pkt, Framing::Esp, DropReason::Replay)
}

fn expect_accept(sad: &mut Sad, pkt: &[u8], framing: Framing, inner: &[u8]) -> Result<(), String> {
    let mut buf = pkt.to_vec();
    let n = buf.len();
    let d = sad.decapsulate(Instant::ZERO, &mut buf, 0..n, framing).map_err(|e| format!("dropped: {e}"))?;
    expect_eq("inner packet", &buf[d.inner], inner)
}

fn inner() -> Vec<u8> {
    udp_packet("10.1.0.7", "10.2.0.9", 37)
}

fn valid(s: &Suite, seq: u32) -> Vec<u8> {
    s.craft(seq, &s.trailer(&inner(), 4))
}

/// What decapsulation must say of a packet cut to `len` bytes.
fn truncation_verdict(s: &Suite, len: usize) -> DropReason {
    let min = 8 + s.iv_len() + 2 + s.icv_len();
    if len < min {
        DropReason::Truncated
    } else if (len - 8 - s.iv_len() - s.icv_len()) % s.align() != 0 {
        DropReason::Misaligned
    } else {
        DropReason::BadIcv
    }
}

fn suite_cases(s: Suite) -> Vec<Case> {
    let l = s.label();
    let mut v = Vec::new();
    v.push(Case::new(format!("esp/{l}/truncated-at-every-length"), move || {
        let mut sad = s.receiver();
        let pkt = valid(&s, 1);
        for len in 0..pkt.len() {
            expect_drop(&mut sad, &pkt[..len], Framing::Esp, truncation_verdict(&s, len))
                .map_err(|e| format!("cut to {len}: {e}"))?;
        }
        expect_accept(&mut sad, &pkt, Framing::Esp, &inner())
    }));
    v.push(Case::new(format!("esp/{l}/every-bit-flipped"), move || {
        let mut sad = s.receiver();
        let pkt = valid(&s, 1);
        for byte in 0..pkt.len() {
            for bit in 0..8 {
                let mut bad = pkt.clone();
                bad[byte] ^= 1 << bit;
                let want = match byte {
                    0..=3 => DropReason::UnknownSpi,
                    // A sequence number of 0 is never valid; any other is new and fails the ICV.
                    4..=7 if bad[4..8] == [0, 0, 0, 0] => DropReason::TooOld,
                    _ => DropReason::BadIcv,
                };
                expect_drop(&mut sad, &bad, Framing::Esp, want)
                    .map_err(|e| format!("byte {byte} bit {bit}: {e}"))?;
            }
        }
        expect_accept(&mut sad, &pkt, Framing::Esp, &inner())
    }));
    v.push(Case::new(format!("esp/{l}/padding-bytes-wrong"), move || {
        let mut sad = s.receiver();
        let p = inner();
        let mut pt = s.trailer(&p, 4);
        let n = pt.len();
        // Make sure there is padding to corrupt: add a block of it.
        if pt[n - 2] == 0 {
            pt = p.clone();
            let pad = vpn_esp::wire::TrailerRepr::pad_for(p.len(), s.align()) as usize + s.align();
            pt.extend((1..=pad).map(|x| x as u8));
            pt.push(pad as u8);
            pt.push(4);
        }
        let n = pt.len();
        let mut bad = pt.clone();
        bad[n - 3] ^= 0x40;
        expect_authentic_drop(&mut sad, &s.craft(1, &bad), DropReason::BadPadding)?;
        let mut zero = pt.clone();
        let pl = usize::from(zero[n - 2]);
        zero[n - 2 - pl..n - 2].fill(0);
        expect_authentic_drop(&mut sad, &s.craft(2, &zero), DropReason::BadPadding)?;
        expect_accept(&mut sad, &s.craft(3, &pt), Framing::Esp, &p)
    }));
    v.push(Case::new(format!("esp/{l}/pad-length-beyond-payload"), move || {
        let mut sad = s.receiver();
        let mut pt = s.trailer(&inner(), 4);
        let n = pt.len();
        for (seq, pad_len) in [(1, n as u8 - 1), (2, n as u8), (3, 255)] {
            pt[n - 2] = pad_len;
            expect_authentic_drop(&mut sad, &s.craft(seq, &pt), DropReason::BadPadLength)
                .map_err(|e| format!("pad length {pad_len}: {e}"))?;
        }
        Ok(())
    }));
    v.push(Case::new(format!("esp/{l}/inner-length-inconsistent"), move || {
        let mut sad = s.receiver();
        let mut p = inner();
        let real = p.len();
        for (seq, claimed) in [(1, real + 1), (2, real + 100), (3, 65535), (4, 19), (5, 0)] {
            p[2..4].copy_from_slice(&(claimed as u16).to_be_bytes());
            // The block-aligned trailer may give the inner packet some slack: claim past it too.
            let pt = s.trailer(&p, 4);
            let want = DropReason::BadInnerPacket;
            if claimed <= pt.len() - 2 - usize::from(pt[pt.len() - 2]) && claimed >= 20 {
                continue;
            }
            expect_authentic_drop(&mut sad, &s.craft(seq, &pt), want)
                .map_err(|e| format!("claimed {claimed}: {e}"))?;
        }
        // Shorter than the payload is TFC padding (RFC 4303 §2.7): accepted, cut to length.
        let mut p = inner();
        p[2..4].copy_from_slice(&((real - 5) as u16).to_be_bytes());
        expect_accept(&mut sad, &s.craft(9000, &s.trailer(&p, 4)), Framing::Esp, &p[..real - 5])
    }));
    v.push(Case::new(format!("esp/{l}/inner-addresses-outside-selectors"), move || {
        let mut sad = s.receiver();
        let tries = [
            ("10.9.0.7", "10.2.0.9", 4),
            ("10.1.0.7", "10.9.0.9", 4),
            ("fd00:9::1", "fd00:2::1", 41),
            ("fd00:1::1", "fd00:9::1", 41),
            ("10.2.0.9", "10.1.0.7", 4), // reversed direction
        ];
        for (i, (src, dst, nh)) in tries.into_iter().enumerate() {
            let pt = s.trailer(&udp_packet(src, dst, 20), nh);
            expect_authentic_drop(&mut sad, &s.craft(i as u32 + 1, &pt), DropReason::SelectorMismatch)
                .map_err(|e| format!("{src} -> {dst}: {e}"))?;
        }
        let ok6 = udp_packet("fd00:1::1", "fd00:2::1", 20);
        expect_accept(&mut sad, &s.craft(10, &s.trailer(&ok6, 41)), Framing::Esp, &ok6)
    }));
    v.push(Case::new(format!("esp/{l}/next-header-and-dummy"), move || {
        let mut sad = s.receiver();
        let p = inner();
        expect_authentic_drop(&mut sad, &s.craft(1, &s.trailer(&p, 59)), DropReason::Dummy)?;
        expect_authentic_drop(&mut sad, &s.craft(2, &s.trailer(&p, 6)), DropReason::BadNextHeader)?;
        expect_authentic_drop(&mut sad, &s.craft(3, &s.trailer(&p, 41)), DropReason::BadInnerPacket)?;
        expect_authentic_drop(&mut sad, &s.craft(4, &s.trailer(&[0x45, 0, 0], 4)), DropReason::BadInnerPacket)
    }));
    v.push(Case::new(format!("esp/{l}/replayed-and-very-old"), move || {
        let mut sad = s.receiver();
        let mut out = s.sender();
        let mut sent = Vec::new();
        for _ in 0..5000 {
            let p = inner();
            let mut buf = vec![0u8; 64 + p.len() + 64];
            buf[64..64 + p.len()].copy_from_slice(&p);
            let e = out.encapsulate(Instant::ZERO, &mut buf, 64..64 + p.len(), Framing::Esp).unwrap();
            sent.push(buf[e.range].to_vec());
        }
        for pkt in sent.iter().skip(10) {
            expect_accept(&mut sad, pkt, Framing::Esp, &inner())?;
        }
        // The same packets again: the last 1024 are replays, the older ones are left of the window.
        expect_drop(&mut sad, &sent[4999], Framing::Esp, DropReason::Replay)?;
        expect_drop(&mut sad, &sent[5000 - 1024], Framing::Esp, DropReason::Replay)?;
        expect_drop(&mut sad, &sent[5000 - 1025], Framing::Esp, DropReason::TooOld)?;
        expect_drop(&mut sad, &sent[3], Framing::Esp, DropReason::TooOld)?;
        Ok(())
    }));
    v
}

fn sad_cases() -> Vec<Case> {
    let s = suites()[0];
    let mut v = Vec::new();
    v.push(Case::new("esp/unknown-spi-and-spi-0", move || {
        let mut sad = s.receiver();
        let pkt = valid(&s, 1);
        let mut other = pkt.clone();
        other[..4].copy_from_slice(&0x0a0b_0c0eu32.to_be_bytes());
        expect_drop(&mut sad, &other, Framing::Esp, DropReason::UnknownSpi)?;
        let mut zero = pkt.clone();
        zero[..4].copy_from_slice(&[0; 4]);
        expect_drop(&mut sad, &zero, Framing::Esp, DropReason::ReservedSpi)?;
        expect_drop(&mut sad, &[0, 0, 0], Framing::Esp, DropReason::Truncated)
    }));
    v.push(Case::new("esp/outer-headers-malformed", move || {
        let mut sad = s.receiver();
        let esp = valid(&s, 1);
        // A proper IPv4/UDP/ESP packet first, to know the builder is right.
        let wrap = |proto: u8, body: &[u8]| {
            let total = 20 + body.len();
            let mut h = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, proto, 0, 0];
            h.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
            h.extend_from_slice(body);
            h
        };
        let udp = |payload: &[u8]| {
            let l = 8 + payload.len();
            let mut u = vec![0x11, 0x94, 0x11, 0x94, (l >> 8) as u8, l as u8, 0, 0];
            u.extend_from_slice(payload);
            u
        };
        let mut bad_version = wrap(50, &esp);
        bad_version[0] = 0x55;
        expect_drop(&mut sad, &bad_version, Framing::Ip, DropReason::BadOuterHeader)?;
        let mut too_long = wrap(50, &esp);
        too_long[2..4].copy_from_slice(&9999u16.to_be_bytes());
        expect_drop(&mut sad, &too_long, Framing::Ip, DropReason::BadOuterHeader)?;
        let mut bad_udp_len = wrap(17, &udp(&esp));
        bad_udp_len[24..26].copy_from_slice(&7u16.to_be_bytes());
        expect_drop(&mut sad, &bad_udp_len, Framing::Ip, DropReason::BadOuterHeader)?;
        let mut ike = vec![0, 0, 0, 0];
        ike.extend_from_slice(&[1; 28]);
        expect_drop(&mut sad, &wrap(17, &udp(&ike)), Framing::Ip, DropReason::NotEsp)?;
        expect_drop(&mut sad, &wrap(17, &udp(&[0xff])), Framing::Ip, DropReason::NotEsp)?;
        expect_drop(&mut sad, &wrap(6, &esp), Framing::Ip, DropReason::NotEsp)?;
        let mut fragment = wrap(50, &esp);
        fragment[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
        expect_drop(&mut sad, &fragment, Framing::Ip, DropReason::NotEsp)?;
        expect_accept(&mut sad, &wrap(17, &udp(&esp)), Framing::Ip, &inner())
    }));
    v
}

/// Every ESP case.
pub fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = suites().into_iter().flat_map(suite_cases).collect();
    v.extend(sad_cases());
    v
}
