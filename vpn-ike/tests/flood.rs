//! Denial of service (RFC 7296 §2.6): a flood of IKE_SA_INIT requests from many addresses
//! switches cookies on and keeps memory bounded (the peak is printed), per-address thresholds
//! ask one noisy address for cookies and then block it, and a legitimate initiator still
//! connects through it all.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_core::time::Instant;
use vpn_ike::message::{Header, Identity, Limits, Message, NotifyType};
use vpn_ike::{Endpoint, EndpointConfig, Event, PeerConfig, PortKind};

struct Peak;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

const R: &str = "192.0.2.1:500";

fn id(s: &str) -> Identity {
    Identity::Fqdn(s.as_bytes().to_vec())
}

fn responder(config: EndpointConfig) -> Endpoint<ChaCha20Rng> {
    let peers = vec![PeerConfig::psk(id("gw"), Some(id("peer")), b"flood test psk")];
    Endpoint::new(
        EndpointConfig { local_addr: R.parse().unwrap(), peers: Arc::new(peers), ..config },
        ChaCha20Rng::seed_from_u64(1),
    )
}

fn initiator(addr: SocketAddr, seed: u64) -> Endpoint<ChaCha20Rng> {
    Endpoint::new(EndpointConfig { local_addr: addr, ..Default::default() }, ChaCha20Rng::seed_from_u64(seed))
}

/// Run a handshake between `i` (at `from`) and `r` until it settles; true when both are up.
fn handshake(
    i: &mut Endpoint<ChaCha20Rng>,
    r: &mut Endpoint<ChaCha20Rng>,
    from: SocketAddr,
    now: Instant,
) -> bool {
    let r_addr: SocketAddr = R.parse().unwrap();
    i.connect(now, PeerConfig::psk(id("peer"), Some(id("gw")), b"flood test psk"), r_addr).unwrap();
    let mut buf = vec![0u8; 65_540];
    for _ in 0..8 {
        while let Some(t) = i.poll_transmit(&mut buf) {
            r.handle_datagram(now, r_addr, from, t.port, &buf[..t.len]);
        }
        while let Some(t) = r.poll_transmit(&mut buf) {
            i.handle_datagram(now, from, r_addr, t.port, &buf[..t.len]);
        }
    }
    let up = std::iter::from_fn(|| i.poll_event()).any(|e| matches!(e, Event::ChildSaUp(_)));
    up && std::iter::from_fn(|| r.poll_event()).any(|e| matches!(e, Event::ChildSaUp(_)))
}

/// What the responder answered an IKE_SA_INIT with: `Some(true)` a COOKIE request, `Some(false)`
/// a real response, `None` nothing.
fn answer(r: &mut Endpoint<ChaCha20Rng>) -> Option<bool> {
    let mut buf = vec![0u8; 65_540];
    let t = r.poll_transmit(&mut buf)?;
    assert!(r.poll_transmit(&mut buf).is_none(), "one answer per request");
    let m = Message::decode(&buf[..t.len], &Limits::default()).expect("answers decode");
    Some(m.find_notify(NotifyType::Cookie).is_some())
}

fn init_request(seed: u64) -> Vec<u8> {
    let from: SocketAddr = "198.51.100.1:500".parse().unwrap();
    let mut i = initiator(from, seed);
    i.connect(Instant::from_secs(1), PeerConfig::psk(id("peer"), Some(id("gw")), b"x"), R.parse().unwrap())
        .unwrap();
    let mut buf = vec![0u8; 65_540];
    let t = i.poll_transmit(&mut buf).unwrap();
    buf.truncate(t.len);
    buf
}

#[test]
fn a_flood_switches_cookies_on_keeps_memory_bounded_and_a_real_peer_gets_through() {
    let mut r = responder(EndpointConfig::default());
    let now = Instant::from_secs(10);
    let r_addr: SocketAddr = R.parse().unwrap();
    let template = init_request(7);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let (mut cookies, mut full) = (0u32, 0u32);
    const FLOOD: u32 = 100_000;
    for n in 0..FLOOD {
        // Every request from its own address with its own SPIi, as a spoofing flood looks.
        let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)), 500);
        let mut req = template.clone();
        req[..8].copy_from_slice(&(u64::from(n) + 1).to_be_bytes());
        r.handle_datagram(now, r_addr, from, PortKind::Ike, &req);
        match answer(&mut r) {
            Some(true) => cookies += 1,
            Some(false) => full += 1,
            None => panic!("request {n} unanswered"),
        }
    }
    let peak = PEAK.load(Ordering::Relaxed) - base;
    println!(
        "flood: {FLOOD} IKE_SA_INIT from {FLOOD} addresses: {full} half-open SAs, {cookies} COOKIE replies, \
         peak heap {peak} bytes ({} KiB)",
        peak / 1024
    );
    let threshold = EndpointConfig::default().cookie_threshold;
    assert_eq!(full as usize, threshold, "cookies from the threshold on");
    assert_eq!(r.half_open_count(), threshold);
    assert!(peak < 4 << 20, "peak heap {peak} bytes during the flood");
    // A real initiator from a new address returns the cookie and gets its SA.
    let mut i = initiator("203.0.113.9:500".parse().unwrap(), 9);
    assert!(
        handshake(&mut i, &mut r, "203.0.113.9:500".parse().unwrap(), now),
        "the legitimate peer connects"
    );
}

#[test]
fn one_address_is_asked_for_cookies_then_blocked() {
    let config = EndpointConfig::default();
    let (ip_cookie, block) = (config.cookie_threshold_ip, config.block_threshold);
    let mut r = responder(config);
    let now = Instant::from_secs(10);
    let r_addr: SocketAddr = R.parse().unwrap();
    let mut buf = vec![0u8; 65_540];
    // Real initiators on one address (different ports), each following COOKIE requests.
    for n in 0..(block + 3) {
        let from = SocketAddr::new("198.51.100.7".parse().unwrap(), 10_000 + n as u16);
        let mut i = initiator(from, 100 + n as u64);
        i.connect(now, PeerConfig::psk(id("peer"), Some(id("gw")), b"x"), r_addr).unwrap();
        let t = i.poll_transmit(&mut buf).unwrap();
        r.handle_datagram(now, r_addr, from, t.port, &buf[..t.len]);
        let reply = r.poll_transmit(&mut buf).map(|t| buf[..t.len].to_vec());
        let cookie = reply.as_ref().map(|b| {
            Message::decode(b, &Limits::default()).unwrap().find_notify(NotifyType::Cookie).is_some()
        });
        if n < ip_cookie {
            assert_eq!(cookie, Some(false), "request {n}: below the per-address cookie threshold");
        } else if n < block {
            assert_eq!(cookie, Some(true), "request {n}: the address must return a cookie");
            // The initiator retries with the cookie and gets its half-open SA.
            i.handle_datagram(now, from, r_addr, PortKind::Ike, reply.as_deref().unwrap());
            let t = i.poll_transmit(&mut buf).unwrap();
            assert_eq!(Header::peek(&buf[..t.len]).unwrap().0.spi_r, 0);
            r.handle_datagram(now, r_addr, from, t.port, &buf[..t.len]);
            let again = r.poll_transmit(&mut buf).map(|t| buf[..t.len].to_vec()).unwrap();
            let m = Message::decode(&again, &Limits::default()).unwrap();
            assert!(m.find_notify(NotifyType::Cookie).is_none(), "request {n}: the cookie was accepted");
        } else {
            assert_eq!(cookie, None, "request {n}: the address is blocked");
        }
    }
    assert_eq!(r.half_open_count(), block, "half-open SAs from the one address");
    // Another address is not affected.
    let from: SocketAddr = "203.0.113.9:500".parse().unwrap();
    let mut i = initiator(from, 9);
    assert!(handshake(&mut i, &mut r, from, now));
}
