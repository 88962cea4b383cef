//! Any bytes into decapsulation by fixed SAs, one per cipher, as ESP alone and as whole IP
//! packets: nothing may panic, and whatever is accepted must lie inside the buffer.
//!
//! The first input byte picks the SA, the framing and whether the SA is set up to expect high
//! sequence numbers (so ESN inference across 2^32 is reached).
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::Backend;
use vpn_core::time::Instant;
use vpn_esp::{EspKeys, Framing, InboundSa, Mode, SaParams, UdpEncap};

const SUITES: &[(EncrAlg, usize, IntegAlg)] = &[
    (EncrAlg::AesGcm16, 20, IntegAlg::None),
    (EncrAlg::AesGcm16, 36, IntegAlg::None),
    (EncrAlg::ChaCha20Poly1305, 36, IntegAlg::None),
    (EncrAlg::AesCbc, 16, IntegAlg::HmacSha256_128),
    (EncrAlg::AesCbc, 32, IntegAlg::HmacSha384_192),
    (EncrAlg::AesCbc, 32, IntegAlg::HmacSha512_256),
];

fn sa(i: usize, esn: bool, transport: bool, backend: Backend) -> InboundSa {
    let (e, k, integ) = SUITES[i % SUITES.len()];
    let ek: Vec<u8> = (0..k as u8).collect();
    let ik: Vec<u8> = (0..integ.key_len().unwrap_or(0) as u8).collect();
    let keys = EspKeys::new(e, &ek, integ, &ik).unwrap();
    let mut p = SaParams::tunnel(0x0000_1000, keys, "192.0.2.2".parse().unwrap(), "192.0.2.1".parse().unwrap());
    p.esn = esn;
    p.backend = backend;
    p.udp_encap = Some(UdpEncap::default());
    p.local_ts = vec!["10.2.0.0/16".parse().unwrap(), "192.0.2.0/24".parse().unwrap()];
    p.remote_ts = vec!["10.1.0.0/16".parse().unwrap(), "192.0.2.0/24".parse().unwrap()];
    if transport {
        p.mode = Mode::Transport;
    }
    let mut sa = InboundSa::new(&p).unwrap();
    if esn {
        sa.set_highest_seq((1 << 32) + 100);
    }
    sa
}

static SAS: Mutex<Vec<InboundSa>> = Mutex::new(Vec::new());

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let mut sas = SAS.lock().unwrap();
    if sas.is_empty() {
        for i in 0..SUITES.len() {
            for esn in [false, true] {
                for transport in [false, true] {
                    sas.push(sa(i, esn, transport, Backend::RustCrypto));
                    if SUITES[i].0.is_aead() {
                        sas.push(sa(i, esn, transport, Backend::Ring));
                    }
                }
            }
        }
    }
    let n = sas.len();
    let sa = &mut sas[usize::from(sel & 0x7f) % n];
    let framing = if sel & 0x80 != 0 { Framing::Ip } else { Framing::Esp };
    let mut buf = rest.to_vec();
    let len = buf.len();
    if let Ok(d) = sa.decapsulate(Instant::ZERO, &mut buf, 0..len, framing) {
        assert!(d.inner.start <= d.inner.end && d.inner.end <= len);
    }
});
