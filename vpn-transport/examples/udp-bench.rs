//! ESP over UDP on loopback: one thread encapsulates 1400-byte inner packets (AES-256-GCM) and
//! sends them, another receives and decapsulates them. Measured three ways in the same run:
//! one system call per datagram, `sendmmsg`/`recvmmsg` batches, and batches plus UDP GSO.
//! Prints Mbit/s of inner packets and the ratios to the one-at-a-time figure.
//!
//! `cargo run --release -p vpn-transport --example udp-bench [seconds]`

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::Backend;
use vpn_core::time::Instant;
use vpn_esp::{EspKeys, InboundSa, OutboundSa, SaParams};
use vpn_transport::udp::{DatagramMeta, GsoBatch, PortKind, Transmit, UdpConfig, UdpEndpoint};
use vpn_transport::PacketBatch;

const INNER: usize = 1400;

fn params(a: SocketAddr, b: SocketAddr) -> SaParams {
    let keys = EspKeys::new(EncrAlg::AesGcm16, &[7; 36], IntegAlg::None, &[]).unwrap();
    let mut p = SaParams::tunnel(0x1234, keys, a.ip(), b.ip());
    p.replay_window = 0; // loopback reorders nothing, but the bench should not count drops
    p.backend = *Backend::all().last().unwrap();
    p
}

fn inner_packet() -> Vec<u8> {
    let mut p = vec![0u8; INNER];
    p[..20].copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1]);
    p[2..4].copy_from_slice(&(INNER as u16).to_be_bytes());
    p
}

fn run(mode: &str, cfg: &UdpConfig, gso: bool, secs: f64) -> f64 {
    let mut tx = UdpEndpoint::bind(cfg).unwrap();
    let mut rx = UdpEndpoint::bind(cfg).unwrap();
    let lo = "127.0.0.1".parse().unwrap();
    let a = tx.local_addr(PortKind::NatT, lo).unwrap();
    let b = rx.local_addr(PortKind::NatT, lo).unwrap();
    let p = params(a, b);
    let mut out = OutboundSa::new(&p).unwrap();
    let mut inb = InboundSa::new(&p.clone().reversed()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let receiver = std::thread::spawn(move || {
        let mut batch: PacketBatch<DatagramMeta> = PacketBatch::with_defaults(64, 2048);
        let (mut bytes, mut t0) = (0usize, None);
        while !stop2.load(Ordering::Relaxed) {
            rx.wait(Some(Duration::from_millis(50))).unwrap();
            batch.clear();
            rx.recv(&mut batch).unwrap();
            t0.get_or_insert_with(StdInstant::now);
            for i in 0..batch.len() {
                let (slot, r) = batch.slot_mut(i);
                if let Ok(d) = inb.decapsulate(Instant::ZERO, slot, r, vpn_esp::Framing::Esp) {
                    bytes += d.inner.len();
                }
            }
        }
        (bytes, t0.map(|t| t.elapsed()).unwrap_or_default())
    });
    let pkt = inner_packet();
    let mut slots: PacketBatch<()> = PacketBatch::with_defaults(64, 1500);
    let mut g = GsoBatch::new(64 * 1600, 64);
    let start = StdInstant::now();
    while start.elapsed().as_secs_f64() < secs {
        slots.clear();
        g.clear();
        for _ in 0..64 {
            slots.push(&pkt, ());
        }
        for i in 0..64 {
            let (s, r) = slots.slot_mut(i);
            let e = out.encapsulate(Instant::ZERO, s, r, vpn_esp::Framing::Esp).unwrap();
            slots.set_range(i, e.range.clone());
            if gso {
                g.push(PortKind::NatT, b, slots.packet(i));
            }
        }
        if gso {
            let mut done = 0;
            while done < g.runs() {
                match tx.send_gso(&g, done) {
                    Ok(n) => done += n,
                    Err(_) => std::thread::yield_now(),
                }
            }
        } else {
            let t: Vec<Transmit<'_>> =
                (0..64).map(|i| Transmit::new(PortKind::NatT, b, slots.packet(i))).collect();
            let mut done = 0;
            while done < t.len() {
                match tx.send(&t[done..]) {
                    Ok(n) => done += n,
                    Err(_) => std::thread::yield_now(),
                }
            }
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let (bytes, elapsed) = receiver.join().unwrap();
    let mbit = bytes as f64 * 8.0 / elapsed.as_secs_f64().max(1e-9) / 1e6;
    let sent = tx.stats().sent as f64 * INNER as f64;
    println!(
        "{mode:<28} {mbit:>8.0} Mbit/s received ({:.0}% of sent, GSO sends {})",
        100.0 * bytes as f64 / sent.max(1.0),
        tx.stats().gso_sends
    );
    mbit
}

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let lo = "127.0.0.1".parse().unwrap();
    let base = UdpConfig::ephemeral([lo]);
    let one = run(
        "one datagram per call",
        &UdpConfig { batch_syscalls: false, gso: false, ..base.clone() },
        false,
        secs,
    );
    let mm = run("sendmmsg/recvmmsg", &UdpConfig { gso: false, ..base.clone() }, false, secs);
    let gso = run("sendmmsg/recvmmsg + GSO", &base, true, secs);
    println!("ratio: batched/one {:.2}, gso/one {:.2}", mm / one, gso / one);
}
