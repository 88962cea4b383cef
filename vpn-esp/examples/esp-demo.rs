//! A guided tour of the ESP data plane: two hosts share an SA pair, packets cross in both
//! directions, and damaged, replayed and misdirected packets are dropped with counted reasons.
//!
//! Run: `cargo run --release -p vpn-esp --example esp-demo`

use std::net::IpAddr;

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::Backend;
use vpn_core::packet::five_tuple;
use vpn_core::time::Instant;
use vpn_esp::{
    DropReason, EspKeys, Framing, InboundSa, OutboundSa, Policy, PolicyAction, SaParams, Sad, Spd, UdpEncap,
};

/// An IPv4 UDP packet from `src` to `dst` carrying `text`.
fn udp_packet(src: [u8; 4], dst: [u8; 4], text: &[u8]) -> Vec<u8> {
    let len = 28 + text.len();
    let mut p = vec![0x45, 0, (len >> 8) as u8, len as u8, 0, 0, 0x40, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = vpn_core::packet::checksum(0, &p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, (8 + text.len()) as u8, 0, 0]);
    p.extend_from_slice(text);
    p
}

struct Host {
    name: &'static str,
    sad: Sad,
    spd: Spd,
}

impl Host {
    fn send(&mut self, now: Instant, inner: &[u8], buf: &mut [u8]) -> Option<std::ops::Range<usize>> {
        const HEAD: usize = 64;
        let t = five_tuple(inner).ok()?;
        let PolicyAction::Protect { sa: spi } = self.spd.outbound_action(&t) else {
            println!("  {}: policy says no tunnel for {} -> {}: not sent", self.name, t.src, t.dst);
            return None;
        };
        buf[HEAD..HEAD + inner.len()].copy_from_slice(inner);
        let e = self.sad.encapsulate(now, spi, buf, HEAD..HEAD + inner.len(), Framing::Esp).ok()?;
        println!(
            "  {}: {} -> {} ({} bytes) sent as ESP spi=0x{spi:08x} seq={} ({} bytes)",
            self.name,
            t.src,
            t.dst,
            inner.len(),
            e.seq,
            e.range.len()
        );
        Some(e.range)
    }

    fn receive(&mut self, now: Instant, buf: &mut [u8], range: std::ops::Range<usize>) {
        match self.sad.decapsulate(now, buf, range, Framing::Esp) {
            Ok(d) => {
                let text = String::from_utf8_lossy(&buf[d.inner.start + 28..d.inner.end]);
                println!("  {}: received seq={} from spi=0x{:08x}: {text:?}", self.name, d.seq, d.spi);
            }
            Err(reason) => println!("  {}: dropped ({reason})", self.name),
        }
    }
}

fn main() {
    let (site_a, site_b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
    // In a real deployment IKE negotiates these; here both sides share fixed KEYMAT.
    let keys = |seed: u8| EspKeys::new(EncrAlg::AesGcm16, &[seed; 36], IntegAlg::None, &[]).unwrap();
    let mut a_to_b = SaParams::tunnel(0xc0ffee01, keys(1), site_a, site_b);
    let mut b_to_a = SaParams::tunnel(0xc0ffee02, keys(2), site_b, site_a);
    for p in [&mut a_to_b, &mut b_to_a] {
        p.backend = Backend::fastest();
        p.udp_encap = Some(UdpEncap::default());
    }
    a_to_b.local_ts = vec!["10.1.0.0/24".parse().unwrap()];
    a_to_b.remote_ts = vec!["10.2.0.0/24".parse().unwrap()];
    b_to_a.local_ts = a_to_b.remote_ts.clone();
    b_to_a.remote_ts = a_to_b.local_ts.clone();

    let mut a = Host { name: "site A", sad: Sad::new(), spd: Spd::new() };
    let mut b = Host { name: "site B", sad: Sad::new(), spd: Spd::new() };
    a.sad.insert_outbound(a_to_b.spi, OutboundSa::new(&a_to_b).unwrap());
    a.sad.insert_inbound(InboundSa::new(&b_to_a.clone().reversed()).unwrap());
    b.sad.insert_outbound(b_to_a.spi, OutboundSa::new(&b_to_a).unwrap());
    b.sad.insert_inbound(InboundSa::new(&a_to_b.clone().reversed()).unwrap());
    for (h, p) in [(&mut a, &a_to_b), (&mut b, &b_to_a)] {
        h.spd.insert(Policy {
            local: p.local_ts.clone(),
            remote: p.remote_ts.clone(),
            action: PolicyAction::Protect { sa: p.spi },
            priority: 10,
            tag: 1,
        });
    }

    let (cipher, bits, _) = a.sad.outbound(0xc0ffee01).unwrap().algorithms();
    println!(
        "SA pair: {cipher}_{bits}, tunnel mode, UDP-encapsulated, backend {}",
        Backend::fastest().name()
    );
    let now = Instant::from_secs(1);
    let mut buf = vec![0u8; 2048];

    println!("1. traffic in both directions");
    let r = a.send(now, &udp_packet([10, 1, 0, 5], [10, 2, 0, 9], b"hello from A"), &mut buf).unwrap();
    let captured = buf[r.clone()].to_vec();
    b.receive(now, &mut buf, r);
    let r = b.send(now, &udp_packet([10, 2, 0, 9], [10, 1, 0, 5], b"hello from B"), &mut buf).unwrap();
    a.receive(now, &mut buf, r);

    println!("2. an attacker replays the first packet");
    let n = captured.len();
    buf[..n].copy_from_slice(&captured);
    b.receive(now, &mut buf, 0..n);

    println!("3. a bit flipped on the way");
    let r = a.send(now, &udp_packet([10, 1, 0, 5], [10, 2, 0, 9], b"tampered"), &mut buf).unwrap();
    buf[r.start + 20] ^= 0x01;
    b.receive(now, &mut buf, r);

    println!("4. a packet outside the selectors is not tunnelled");
    let _ = a.send(now, &udp_packet([10, 1, 0, 5], [10, 9, 0, 1], b"elsewhere"), &mut buf);

    println!("5. a packet for an SPI nobody has");
    let mut bogus = captured.clone();
    bogus[..4].copy_from_slice(&0xdeadbeefu32.to_be_bytes());
    buf[..n].copy_from_slice(&bogus);
    b.receive(now, &mut buf, 0..n);

    println!();
    println!("{:<8} {:<4} {:>10} {:>8} {:>8}", "host", "dir", "spi", "packets", "bytes");
    for h in [&a, &b] {
        for sa in h.sad.outbound_sas() {
            let (bytes, pkts) = sa.counters();
            println!("{:<8} {:<4} 0x{:08x} {pkts:>8} {bytes:>8}", h.name, "out", sa.spi());
        }
        for sa in h.sad.inbound_sas() {
            let (bytes, pkts) = sa.counters();
            println!("{:<8} {:<4} 0x{:08x} {pkts:>8} {bytes:>8}", h.name, "in", sa.spi());
        }
    }
    println!("drops at site B:");
    for r in DropReason::ALL {
        let c = b.sad.drops().get(r);
        if c > 0 {
            println!("  {:<20} {c}", r.name());
        }
    }
}
