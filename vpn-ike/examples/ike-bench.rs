//! IKE handshake benchmark (issue 3): complete IKE_SA_INIT + IKE_AUTH handshakes per second with
//! both ends in one thread (Curve25519, AES-256-GCM, PRF HMAC-SHA2-256, PSK), the key exchange
//! work alone in the same run (the dh-bound ratio: 1.0 would mean everything else is free), and
//! the responder's memory per established IKE SA with one Child SA at 10,000 SAs.
//!
//! `cargo run --release -p vpn-ike --example ike-bench [handshakes] [sas]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Instant as WallClock;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_core::alg::KeGroup;
use vpn_core::crypto::KeyExchange;
use vpn_core::time::Instant;
use vpn_ike::message::Identity;
use vpn_ike::{Endpoint, EndpointConfig, Event, PeerConfig};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

type Ep = Endpoint<ChaCha20Rng>;

fn endpoints() -> (Ep, Ep, SocketAddr) {
    let (a, b): (SocketAddr, SocketAddr) =
        ("192.0.2.1:500".parse().unwrap(), "192.0.2.2:500".parse().unwrap());
    let gw = Identity::Fqdn(b"gw.example".to_vec());
    let responder_peer = PeerConfig::psk(gw, None, b"bench psk");
    let i =
        Endpoint::new(EndpointConfig { local_addr: a, ..Default::default() }, ChaCha20Rng::seed_from_u64(1));
    let r = Endpoint::new(
        EndpointConfig { local_addr: b, peers: Arc::new(vec![responder_peer]), ..Default::default() },
        ChaCha20Rng::seed_from_u64(2),
    );
    (i, r, b)
}

fn peer(n: usize) -> PeerConfig {
    let mut p = PeerConfig::psk(
        Identity::Fqdn(format!("client{n}.example").into_bytes()),
        Some(Identity::Fqdn(b"gw.example".to_vec())),
        b"bench psk",
    );
    p.initial_contact = false;
    p
}

/// Moves datagrams both ways until both ends are quiet; returns the IkeSaUp events seen.
fn pump(i: &mut Ep, r: &mut Ep, buf: &mut [u8]) -> usize {
    let now = Instant::from_secs(1);
    let mut ups = 0;
    loop {
        let mut moved = false;
        while let Some(t) = i.poll_transmit(buf) {
            r.handle_datagram(now, t.remote, t.local, t.port, &buf[..t.len]);
            moved = true;
        }
        while let Some(t) = r.poll_transmit(buf) {
            i.handle_datagram(now, t.remote, t.local, t.port, &buf[..t.len]);
            moved = true;
        }
        for ep in [&mut *i, &mut *r] {
            while let Some(e) = ep.poll_event() {
                ups += usize::from(matches!(e, Event::IkeSaUp { .. }));
            }
        }
        if !moved {
            return ups;
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let handshakes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let sas: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let mut buf = vec![0u8; 70_000];

    // Handshakes, each run to completion before the next, and the key exchange work of one
    // handshake alone (two key pairs and two shared secrets), interleaved in rounds; the best
    // round of each counts, so a busy neighbour on the machine hurts both alike.
    let rounds = 8;
    let per_round = (handshakes / rounds).max(1);
    let (mut i, mut r, remote) = endpoints();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (mut per_handshake, mut per_dh) = (f64::MAX, f64::MAX);
    let mut n = 0;
    for _ in 0..rounds {
        let t = WallClock::now();
        for _ in 0..per_round {
            i.connect(Instant::from_secs(1), peer(n), remote).expect("connect");
            assert_eq!(pump(&mut i, &mut r, &mut buf), 2, "handshake {n} did not complete");
            n += 1;
        }
        per_handshake = per_handshake.min(t.elapsed().as_secs_f64() / per_round as f64);
        let t = WallClock::now();
        for _ in 0..per_round {
            let a = KeyExchange::generate(KeGroup::Curve25519, &mut rng).unwrap();
            let b = KeyExchange::generate(KeGroup::Curve25519, &mut rng).unwrap();
            let s1 = a.shared_secret(b.public_value()).unwrap();
            let s2 = b.shared_secret(a.public_value()).unwrap();
            assert_eq!(s1, s2);
        }
        per_dh = per_dh.min(t.elapsed().as_secs_f64() / per_round as f64);
    }
    drop((i, r));

    // Memory: the responder's heap with `sas` established IKE SAs (one Child SA each).
    let (mut i, mut r, remote) = endpoints();
    let mut ups = 0;
    for n in 0..sas {
        i.connect(Instant::from_secs(1), peer(n), remote).expect("connect");
        ups += pump(&mut i, &mut r, &mut buf);
    }
    assert_eq!(ups, 2 * sas);
    drop(i);
    let with = LIVE.load(Ordering::Relaxed);
    drop(r);
    let without = LIVE.load(Ordering::Relaxed);
    let per_sa = (with - without) / sas.max(1) as isize;

    println!("handshake: {:.1} us; key exchange alone: {:.1} us", per_handshake * 1e6, per_dh * 1e6);
    println!(
        "ike-bench: handshakes/s = {:.0}, dh-bound ratio = {:.2}, bytes per SA = {}",
        1.0 / per_handshake,
        per_dh / per_handshake,
        per_sa
    );
}
