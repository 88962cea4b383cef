//! ESP throughput against the raw cipher, measured in the same run.
//!
//! For each cipher, backend and packet size this measures the raw cipher (seal or open of the
//! same bytes, with the same per-packet copy into the work buffer) and ESP encapsulation and
//! decapsulation, interleaved round by round; each figure is the best round, so a noisy
//! neighbour hurts both sides alike. The ratios encap/raw and decap/raw say how much the ESP
//! layer costs on top of the cipher.
//!
//! Run: `cargo run --release -p vpn-esp --example esp-bench` (`ESP_BENCH_ROUNDS=N` for more rounds,
//! `ESP_BENCH_ONLY=aes128gcm16/ring` for one cipher and backend).

use std::hint::black_box;
use std::time::Instant as StdInstant;

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::{AeadCipher, AesCbc, Backend, Integ};
use vpn_core::time::Instant;
use vpn_esp::{EspKeys, Framing, InboundSa, OutboundSa, SaParams};

const SIZES: [usize; 4] = [64, 512, 1400, 8192];
const BATCH: usize = 256;
const HEAD: usize = 64;

struct Cipher {
    name: &'static str,
    encr: EncrAlg,
    key_len: usize,
    integ: IntegAlg,
}

const CIPHERS: &[Cipher] = &[
    Cipher { name: "aes128gcm16", encr: EncrAlg::AesGcm16, key_len: 16, integ: IntegAlg::None },
    Cipher { name: "aes256gcm16", encr: EncrAlg::AesGcm16, key_len: 32, integ: IntegAlg::None },
    Cipher { name: "chacha20poly1305", encr: EncrAlg::ChaCha20Poly1305, key_len: 32, integ: IntegAlg::None },
    Cipher { name: "aes128-sha256", encr: EncrAlg::AesCbc, key_len: 16, integ: IntegAlg::HmacSha256_128 },
    Cipher { name: "aes256-sha256", encr: EncrAlg::AesCbc, key_len: 32, integ: IntegAlg::HmacSha256_128 },
    Cipher { name: "aes256-sha384", encr: EncrAlg::AesCbc, key_len: 32, integ: IntegAlg::HmacSha384_192 },
    Cipher { name: "aes256-sha512", encr: EncrAlg::AesCbc, key_len: 32, integ: IntegAlg::HmacSha512_256 },
];

/// The raw primitive: an AEAD, or AES-CBC followed by HMAC over header, IV and ciphertext.
#[allow(clippy::large_enum_variant)] // one per measurement
enum Raw {
    Aead(AeadCipher),
    CbcHmac(AesCbc, Integ),
}

impl Raw {
    fn new(c: &Cipher, backend: Backend) -> Raw {
        let key = vec![0x42u8; c.key_len];
        if c.encr.is_aead() {
            Raw::Aead(AeadCipher::new(backend, c.encr, &key).unwrap())
        } else {
            let ik = vec![0x24u8; c.integ.key_len().unwrap()];
            Raw::CbcHmac(AesCbc::new(&key).unwrap(), Integ::new(c.integ, &ik).unwrap())
        }
    }

    /// Bytes the cipher processes when ESP carries `size` bytes: the payload with its padding
    /// and two trailer bytes, aligned to 4 (AEAD) or 16 (CBC), RFC 4303 §2.4.
    fn data_len(&self, size: usize) -> usize {
        let align = match self {
            Raw::Aead(_) => 4,
            Raw::CbcHmac(..) => 16,
        };
        (size + 2).div_ceil(align) * align
    }

    /// Where the data starts in the work buffer: where decapsulation finds the ciphertext
    /// (after SPI, sequence number and an 8- or 16-byte IV), so both see the same alignment and
    /// HMAC covers as many bytes as ESP's ICV does.
    fn off(&self) -> usize {
        match self {
            Raw::Aead(_) => 16,
            Raw::CbcHmac(..) => 24,
        }
    }

    /// Seal `buf[off..off + n]`, tag after it; returns the tag length.
    fn seal(&self, buf: &mut [u8], n: usize, i: u64) -> usize {
        let off = self.off();
        match self {
            Raw::Aead(a) => {
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&i.to_be_bytes());
                let mut tag = [0u8; 16];
                a.seal(&nonce, &[0u8; 8], &mut buf[off..off + n], &mut tag).unwrap();
                buf[off + n..off + n + 16].copy_from_slice(&tag);
                16
            }
            Raw::CbcHmac(c, m) => {
                let iv = [i as u8; 16];
                c.encrypt(&iv, &mut buf[off..off + n]).unwrap();
                let l = m.icv_len();
                let (a, b) = buf.split_at_mut(off + n);
                m.compute(&[&a[..]], &mut b[..l]).unwrap();
                l
            }
        }
    }

    fn open(&self, buf: &mut [u8], n: usize, i: u64) {
        let off = self.off();
        match self {
            Raw::Aead(a) => {
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&i.to_be_bytes());
                let mut tag = [0u8; 16];
                tag.copy_from_slice(&buf[off + n..off + n + 16]);
                a.open(&nonce, &[0u8; 8], &mut buf[off..off + n], &tag).unwrap();
            }
            Raw::CbcHmac(c, m) => {
                let l = m.icv_len();
                let (a, b) = buf.split_at(off + n);
                m.verify(&[a], &b[..l]).unwrap();
                let iv = [i as u8; 16];
                c.decrypt(&iv, &mut buf[off..off + n]).unwrap();
            }
        }
    }
}

fn inner_packet(size: usize) -> Vec<u8> {
    let mut p = vec![0u8; size.max(20)];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(size as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 1, 0, 1]);
    p[16..20].copy_from_slice(&[10, 2, 0, 1]);
    for (i, b) in p.iter_mut().enumerate().skip(20) {
        *b = i as u8;
    }
    p.truncate(size.max(20));
    p
}

fn sa_params(c: &Cipher, backend: Backend) -> SaParams {
    let mut ek = vec![0x42u8; c.key_len];
    if c.encr.is_aead() {
        ek.extend_from_slice(&[1, 2, 3, 4]);
    }
    let ik = vec![0x24u8; c.integ.key_len().unwrap()];
    let keys = EspKeys::new(c.encr, &ek, c.integ, &ik).unwrap();
    let mut p = SaParams::tunnel(0x1000, keys, "192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
    p.backend = backend;
    // Selectors as a gateway installs them, so the inbound check runs as it does in service.
    p.local_ts = vec!["10.1.0.0/24".parse().unwrap()];
    p.remote_ts = vec!["10.2.0.0/24".parse().unwrap()];
    p
}

/// Seconds for one round of each of the four measurements.
struct Round {
    raw_seal: f64,
    encap: f64,
    raw_open: f64,
    decap: f64,
}

fn round(c: &Cipher, backend: Backend, size: usize, reps: usize) -> Round {
    let raw = Raw::new(c, backend);
    let n = raw.data_len(size);
    let plain = vec![0x5au8; n + 64];
    let pkt = inner_packet(size);
    let mut work = vec![0u8; HEAD + size.max(n) + 128];
    let params = sa_params(c, backend);

    // Seal side: raw seal and encapsulation alternate batch by batch.
    let mut out = OutboundSa::new(&params).unwrap();
    let (mut raw_seal, mut encap) = (0.0, 0.0);
    for rep in 0..reps {
        let t = StdInstant::now();
        for i in 0..BATCH as u64 {
            work[raw.off()..raw.off() + n].copy_from_slice(&plain[..n]);
            black_box(raw.seal(&mut work, n, (rep * BATCH) as u64 + i));
        }
        raw_seal += t.elapsed().as_secs_f64();
        let t = StdInstant::now();
        for _ in 0..BATCH {
            work[HEAD..HEAD + size].copy_from_slice(&pkt);
            black_box(out.encapsulate(Instant::ZERO, &mut work, HEAD..HEAD + size, Framing::Esp).unwrap());
        }
        encap += t.elapsed().as_secs_f64();
    }

    // Inputs for the open side, made outside the timed region.
    let sealed: Vec<Vec<u8>> = (0..BATCH as u64)
        .map(|i| {
            let mut b = vec![0u8; raw.off() + n + 64];
            b[raw.off()..raw.off() + n].copy_from_slice(&plain[..n]);
            raw.seal(&mut b, n, i);
            b
        })
        .collect();
    let mut out = OutboundSa::new(&params).unwrap();
    let esp: Vec<Vec<u8>> = (0..BATCH)
        .map(|_| {
            let mut b = vec![0u8; HEAD + size + 128];
            b[HEAD..HEAD + size].copy_from_slice(&pkt);
            let e = out.encapsulate(Instant::ZERO, &mut b, HEAD..HEAD + size, Framing::Esp).unwrap();
            b[e.range].to_vec()
        })
        .collect();

    let mut raw_open = 0.0;
    let mut decap = 0.0;
    for _ in 0..reps {
        let mut inb = InboundSa::new(&params.clone().reversed()).unwrap();
        let t = StdInstant::now();
        for (i, s) in sealed.iter().enumerate() {
            work[..s.len()].copy_from_slice(s);
            raw.open(&mut work, n, i as u64);
        }
        raw_open += t.elapsed().as_secs_f64();
        let t = StdInstant::now();
        for e in &esp {
            work[..e.len()].copy_from_slice(e);
            black_box(inb.decapsulate(Instant::ZERO, &mut work, 0..e.len(), Framing::Esp).unwrap());
        }
        decap += t.elapsed().as_secs_f64();
    }
    Round { raw_seal, encap, raw_open, decap }
}

fn main() {
    let rounds: usize = std::env::var("ESP_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    println!(
        "{:<17} {:<10} {:>5} | {:>9} {:>9} {:>5} | {:>9} {:>9} {:>5}",
        "cipher", "backend", "bytes", "raw seal", "encap", "ratio", "raw open", "decap", "ratio"
    );
    println!(
        "{:<17} {:<10} {:>5} | {:>9} {:>9} {:>5} | {:>9} {:>9} {:>5}",
        "", "", "", "MB/s", "MB/s", "", "MB/s", "MB/s", ""
    );
    let only = std::env::var("ESP_BENCH_ONLY").ok(); // e.g. "aes128gcm16/ring"
    let mut worst_1400 = f64::INFINITY;
    for c in CIPHERS {
        for &backend in Backend::all() {
            if only.as_ref().is_some_and(|o| *o != format!("{}/{}", c.name, backend.name())) {
                continue;
            }
            if !c.encr.is_aead() && backend != Backend::RustCrypto {
                continue; // the ring backend serves AEADs only
            }
            for &size in &SIZES {
                // About 2 MB of data per measurement and round.
                let reps = (2_000_000 / (size * BATCH)).max(1);
                let mut best =
                    Round { raw_seal: f64::MAX, encap: f64::MAX, raw_open: f64::MAX, decap: f64::MAX };
                for _ in 0..rounds {
                    let r = round(c, backend, size, reps);
                    best.raw_seal = best.raw_seal.min(r.raw_seal);
                    best.encap = best.encap.min(r.encap);
                    best.raw_open = best.raw_open.min(r.raw_open);
                    best.decap = best.decap.min(r.decap);
                }
                let bytes = (size * BATCH * reps) as f64 / 1e6;
                let (rs, en, ro, de) =
                    (bytes / best.raw_seal, bytes / best.encap, bytes / best.raw_open, bytes / best.decap);
                let (re, rd) = (en / rs, de / ro);
                if size == 1400 {
                    worst_1400 = worst_1400.min(re).min(rd);
                }
                println!(
                    "{:<17} {:<10} {:>5} | {:>9.0} {:>9.0} {:>5.2} | {:>9.0} {:>9.0} {:>5.2}",
                    c.name,
                    backend.name(),
                    size,
                    rs,
                    en,
                    re,
                    ro,
                    de,
                    rd
                );
            }
        }
    }
    println!("esp-bench: worst ratio at 1400 B = {worst_1400:.2}");
}
