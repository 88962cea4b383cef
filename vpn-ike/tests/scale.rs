//! A responder holding many IKE SAs from different initiators (issue 3). 10,000 in release
//! builds; debug builds run a smaller number unless `IKE_SCALE_SAS` says otherwise, e.g.
//! `IKE_SCALE_SAS=10000 cargo test --release -p vpn-ike --test scale -- --nocapture`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::*;
use vpn_core::time::Duration;
use vpn_ike::{EndpointConfig, PeerConfig};

/// Counts live heap bytes, to measure the responder's memory per SA.
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

fn initiator_addr(i: usize) -> SocketAddr {
    let n = u32::try_from(i).unwrap() + 1;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | n)), 500)
}

#[test]
fn responder_holds_many_sas() {
    let n: usize = std::env::var("IKE_SCALE_SAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 500 } else { 10_000 });
    let gw = fqdn("gw.example");
    // One wildcard peer entry: any identity with this PSK.
    let r = PeerConfig::psk(gw.clone(), None, b"shared");
    let mut sim = Sim::new(7, Link::default());
    sim.keep_log = false;
    let mut cfg = responder_config(vec![r]);
    cfg.cookie_threshold = usize::MAX;
    cfg.max_half_open = usize::MAX;
    let responder = sim.add("192.0.2.1:500".parse().unwrap(), cfg);
    for i in 0..n {
        sim.add(initiator_addr(i), EndpointConfig::default());
    }
    for i in 0..n {
        let id = fqdn(&format!("client{i}.example"));
        let peer = PeerConfig::psk(id, Some(gw.clone()), b"shared");
        sim.connect(i + 1, peer, responder);
        // Batches keep the in-flight queue small.
        if i % 500 == 499 {
            sim.run(Duration::from_secs(5));
        }
    }
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.ups(responder), n);
    assert_eq!(sim.child(responder).len(), n);
    assert_eq!(sim.nodes[responder].ep.sa_count(), n);
    for i in 0..n {
        assert_eq!(sim.ups(i + 1), 1, "initiator {i}");
    }
    // Memory: drop everything but the responder's endpoint and measure what it holds.
    let ep = sim.nodes.swap_remove(responder).ep;
    let before = LIVE.load(Ordering::Relaxed);
    drop(sim);
    let with = LIVE.load(Ordering::Relaxed);
    drop(ep);
    let without = LIVE.load(Ordering::Relaxed);
    let per_sa = (with - without) / n as isize;
    println!("responder: {n} IKE SAs, {per_sa} bytes per SA ({} before dropping the rest)", before - without);
    assert!(per_sa < 16 * 1024, "{per_sa} bytes per SA");
}
