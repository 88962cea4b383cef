//! A simulated network for endpoint tests, after quinn's `Pair`: endpoints exchange datagrams
//! through links that drop, duplicate, reorder and delay by seed, and the clock jumps to the next
//! delivery or `poll_timeout`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use vpn_core::time::{Duration, Instant};
use vpn_ike::message::Identity;
use vpn_ike::{ChildSaInfo, DownReason, Endpoint, EndpointConfig, Event, IkeSaHandle, PeerConfig, PortKind};
use vpn_transport::binding::{BindingConfig, BindingEvent};
use vpn_transport::SaBinding;

#[allow(unused_imports)]
pub use vpn_ike::ChildDownReason;

/// Link behaviour, in per-mille.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub drop: u32,
    pub duplicate: u32,
    /// Extra random delay up to this much (reorders datagrams).
    pub jitter: Duration,
    pub latency: Duration,
}

impl Default for Link {
    fn default() -> Self {
        Link { drop: 0, duplicate: 0, jitter: Duration::ZERO, latency: Duration::from_millis(10) }
    }
}

impl Link {
    pub fn lossy(drop: u32) -> Link {
        Link { drop, duplicate: 50, jitter: Duration::from_millis(30), ..Link::default() }
    }
}

pub struct Node {
    pub ep: Endpoint<ChaCha20Rng>,
    pub addr: SocketAddr,
    pub events: Vec<Event>,
    /// The ESP SAs the host installed from the events: the gateway's SA binding.
    pub sad: SaBinding,
}

/// The SA binding a host keeps from the events (the gateway's own): the simulator's hosts send
/// plain ESP, so no UDP encapsulation is needed.
pub fn host_binding() -> SaBinding {
    SaBinding::new(BindingConfig { raw_esp: true, ..BindingConfig::default() })
}

/// (inbound, outbound) SPIs of every Child SA installed in `b`.
pub fn installed_pairs(b: &SaBinding) -> Vec<(u32, u32)> {
    b.children().map(|c| (c.spi_in, c.spi_out)).collect()
}

/// Child SAs whose policy sends on them: one per Child SA and its rekeyed successors.
pub fn sending(b: &SaBinding) -> Vec<(u32, u32)> {
    b.children().filter(|c| c.sending).map(|c| (c.spi_in, c.spi_out)).collect()
}

/// A datagram on the wire.
#[derive(Clone, Debug)]
pub struct Wire {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
    pub marker: bool,
    /// When it was sent.
    pub at: Instant,
}

/// A source-NAT in front of one node: its packets leave from `public` with port + 40000.
#[derive(Clone, Copy, Debug)]
pub struct Nat {
    pub inside: SocketAddr,
    pub public: std::net::IpAddr,
}

/// May change a datagram in flight; `false` drops it.
pub type Tamper = Box<dyn FnMut(&mut Wire) -> bool>;

pub struct Sim {
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub link: Link,
    pub nat: Option<Nat>,
    rng: ChaCha20Rng,
    in_flight: BTreeMap<(Instant, u64), Wire>,
    seq: u64,
    /// Every datagram put on the wire (before loss), for inspection.
    pub log: Vec<Wire>,
    pub keep_log: bool,
    /// Tamper hook: may change or drop a datagram before it is delivered.
    pub tamper: Option<Tamper>,
    /// Check at every step that each policy's outbound SPI is installed inbound at the other
    /// node (two-node sims); violations are recorded in `gaps`.
    pub gap_check: bool,
    pub gaps: Vec<String>,
    /// A node that is switched off: datagrams to it are lost, its timers do not run.
    pub down: Option<usize>,
    index: std::collections::HashMap<std::net::IpAddr, usize>,
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn fqdn(s: &str) -> Identity {
    Identity::Fqdn(s.as_bytes().to_vec())
}

impl Sim {
    pub fn new(seed: u64, link: Link) -> Sim {
        Sim {
            now: Instant::from_secs(1000),
            nodes: Vec::new(),
            link,
            nat: None,
            rng: ChaCha20Rng::seed_from_u64(seed),
            in_flight: BTreeMap::new(),
            seq: 0,
            log: Vec::new(),
            keep_log: true,
            tamper: None,
            gap_check: false,
            gaps: Vec::new(),
            down: None,
            index: std::collections::HashMap::new(),
        }
    }

    /// Adds an endpoint at `addr` with `config` (its `local_addr` is set to `addr`).
    pub fn add(&mut self, addr: SocketAddr, mut config: EndpointConfig) -> usize {
        config.local_addr = addr;
        let seed = self.rng.next_u64();
        self.index.insert(addr.ip(), self.nodes.len());
        self.nodes.push(Node {
            ep: Endpoint::new(config, ChaCha20Rng::seed_from_u64(seed)),
            addr,
            events: Vec::new(),
            sad: host_binding(),
        });
        self.nodes.len() - 1
    }

    fn node_for(&self, to: SocketAddr) -> Option<usize> {
        self.index.get(&to.ip()).copied()
    }

    fn send(&mut self, mut w: Wire) {
        // Source NAT on the way out, reverse on the way in.
        if let Some(nat) = self.nat {
            if w.from.ip() == nat.inside.ip() {
                w.from = SocketAddr::new(nat.public, w.from.port() + 40000);
            } else if w.to.ip() == nat.public {
                w.to = SocketAddr::new(nat.inside.ip(), w.to.port() - 40000);
            }
        }
        if self.keep_log {
            self.log.push(w.clone());
        }
        let copies = if self.rng.next_u32() % 1000 < self.link.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            if self.rng.next_u32() % 1000 < self.link.drop {
                continue;
            }
            let jitter = self.link.jitter.as_nanos() as u64;
            let extra = if jitter > 0 { self.rng.next_u64() % jitter } else { 0 };
            let at = self.now + self.link.latency + Duration::from_nanos(extra);
            self.seq += 1;
            self.in_flight.insert((at, self.seq), w.clone());
        }
    }

    fn flush(&mut self) {
        let mut buf = vec![0u8; 70_000];
        for i in 0..self.nodes.len() {
            while let Some(t) = self.nodes[i].ep.poll_transmit(&mut buf) {
                // The wire carries the non-ESP marker on the NAT-T port (RFC 3948 §2.2).
                let natt = t.port == PortKind::NatT;
                let marker: &[u8] = if natt { &[0; 4] } else { &[] };
                let w = Wire {
                    from: t.local,
                    to: t.remote,
                    bytes: [marker, &buf[..t.len]].concat(),
                    marker: natt,
                    at: self.now,
                };
                assert_eq!(t.local.ip(), self.nodes[i].addr.ip());
                self.send(w);
            }
            while let Some(e) = self.nodes[i].ep.poll_event() {
                let now = self.now;
                self.nodes[i].sad.handle_event(now, &e);
                while let Some(b) = self.nodes[i].sad.poll_event() {
                    assert!(!matches!(b, BindingEvent::Refused { .. }), "node {i}: {b:?}");
                }
                self.nodes[i].events.push(e);
            }
        }
        if self.gap_check && self.nodes.len() == 2 {
            for (a, b) in [(0, 1), (1, 0)] {
                for (child, out) in sending(&self.nodes[a].sad) {
                    if self.nodes[b].sad.sad().inbound(out).is_none() {
                        let at = self.now;
                        self.gaps.push(format!(
                            "{at:?}: node {a} child {child:08x} sends on {out:08x}, not installed at {b}"
                        ));
                    }
                }
            }
        }
    }

    /// Each side has exactly the pairs of its endpoint's Child SAs, one policy per pair, and
    /// every pair matches a pair on the other side.
    pub fn assert_sas_consistent(&self) {
        for (a, b) in [(0, 1), (1, 0)] {
            let (x, y) = (&self.nodes[a].sad, &self.nodes[b].sad);
            let (xp, yp) = (installed_pairs(x), installed_pairs(y));
            assert_eq!(x.sad().inbound_sas().count(), xp.len());
            assert_eq!(x.sad().outbound_sas().count(), xp.len(), "node {a}: {xp:?}");
            assert_eq!(sending(x).len(), xp.len(), "node {a}: one policy per pair: {xp:?}");
            for (i, o) in &xp {
                assert!(yp.contains(&(*o, *i)), "node {a} pair {i:08x}/{o:08x} has no match: {xp:?} {yp:?}");
            }
            let mut ours: Vec<(u32, u32)> =
                self.nodes[a].ep.handles().flat_map(|h| self.nodes[a].ep.child_sas(h)).collect();
            ours.sort();
            assert_eq!(ours, xp, "node {a}: endpoint and installed SAs differ");
        }
    }

    /// Runs until nothing is in flight and no timer is armed, or `limit` of simulated time.
    pub fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.flush();
            let next_wire = self.in_flight.keys().next().map(|k| k.0);
            let down = self.down;
            let next_timer = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| down != Some(*i))
                .filter_map(|(_, n)| n.ep.poll_timeout())
                .min();
            let next = match (next_wire, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => return,
                },
            };
            if next > end {
                return;
            }
            self.now = self.now.max(next);
            while let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let mut w = entry.remove();
                if let Some(t) = self.tamper.as_mut() {
                    if !t(&mut w) {
                        continue;
                    }
                }
                if let Some(i) = self.node_for(w.to).filter(|i| self.down != Some(*i)) {
                    let to = w.to;
                    // The receiving socket's framing: port 500 carries bare IKE, any other port
                    // IKE behind the non-ESP marker (the transport strips it, RFC 3948 §2.2).
                    match (to.port(), w.bytes.strip_prefix(&[0u8; 4][..])) {
                        (500, _) => {
                            self.nodes[i].ep.handle_datagram(self.now, to, w.from, PortKind::Ike, &w.bytes)
                        }
                        (_, Some(msg)) => {
                            self.nodes[i].ep.handle_datagram(self.now, to, w.from, PortKind::NatT, msg)
                        }
                        (_, None) => {}
                    }
                }
            }
            let now = self.now;
            for (i, n) in self.nodes.iter_mut().enumerate() {
                if self.down == Some(i) {
                    continue;
                }
                if n.ep.poll_timeout().is_some_and(|t| t <= now) {
                    n.ep.handle_timeout(now);
                }
            }
        }
    }

    pub fn connect(&mut self, from: usize, peer: PeerConfig, to: usize) -> IkeSaHandle {
        let remote = self.nodes[to].addr;
        let now = self.now;
        self.nodes[from].ep.connect(now, peer, remote).expect("connect")
    }

    pub fn child(&self, node: usize) -> Vec<&ChildSaInfo> {
        self.nodes[node]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::ChildSaUp(c) => Some(&**c),
                _ => None,
            })
            .collect()
    }

    pub fn ups(&self, node: usize) -> usize {
        self.nodes[node].events.iter().filter(|e| matches!(e, Event::IkeSaUp { .. })).count()
    }

    pub fn downs(&self, node: usize) -> Vec<DownReason> {
        self.nodes[node]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::IkeSaDown { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }

    /// IKE_SA_INIT requests seen on the wire.
    pub fn init_requests(&self) -> usize {
        self.log.iter().filter(|w| w.bytes.len() > 20 && w.bytes[18] == 34 && w.bytes[19] & 0x20 == 0).count()
    }
}

/// Prints both nodes' events (for a failing seed).
pub fn dump(sim: &Sim) {
    for (n, node) in sim.nodes.iter().enumerate() {
        eprintln!("node {n}:");
        for e in &node.events {
            match e {
                Event::ChildSaUp(c) => {
                    eprintln!(
                        "  ChildSaUp {:08x}/{:08x} h={:x} rekey_of={:x?}",
                        c.spi_in, c.spi_out, c.handle.0, c.rekey_of
                    )
                }
                Event::ChildSaRekeyed { handle, old_spi_in, new_spi_in } => {
                    eprintln!("  ChildSaRekeyed {old_spi_in:08x} -> {new_spi_in:08x} h={:x}", handle.0)
                }
                Event::ChildSaDown { handle, spi_in, spi_out, reason } => {
                    eprintln!("  ChildSaDown {spi_in:08x}/{spi_out:08x} h={:x} {reason:?}", handle.0)
                }
                Event::IkeSaRekeyed { old, new } => eprintln!("  IkeSaRekeyed {:x} -> {:x}", old.0, new.0),
                Event::IkeSaUp { handle, .. } => eprintln!("  IkeSaUp {:x}", handle.0),
                e => eprintln!("  {e:?}"),
            }
        }
    }
}

/// A responder config that knows `peers`.
pub fn responder_config(peers: Vec<PeerConfig>) -> EndpointConfig {
    EndpointConfig { peers: Arc::new(peers), ..EndpointConfig::default() }
}

/// Matching PSK configs: (initiator's, responder's).
pub fn psk_pair(psk_i: &[u8], psk_r: &[u8]) -> (PeerConfig, PeerConfig) {
    let i = PeerConfig::psk(fqdn("alice.example"), Some(fqdn("gw.example")), psk_i);
    let r = PeerConfig::psk(fqdn("gw.example"), Some(fqdn("alice.example")), psk_r);
    (i, r)
}

/// The Child SA pair matches: each side's outbound is the other's inbound.
pub fn assert_child_pair(i: &ChildSaInfo, r: &ChildSaInfo) {
    assert_eq!(i.spi_out, r.spi_in);
    assert_eq!(i.spi_in, r.spi_out);
    assert_eq!(i.keys_out.encr, r.keys_in.encr);
    assert_eq!(i.keys_out.integ, r.keys_in.integ);
    assert_eq!(i.keys_in.encr, r.keys_out.encr);
    assert_eq!(i.keys_in.integ, r.keys_out.integ);
    assert_ne!(i.keys_in.encr, i.keys_out.encr);
    assert_eq!(
        (i.encr, i.encr_key_bits, i.integ, i.esn, i.mode),
        (r.encr, r.encr_key_bits, r.integ, r.esn, r.mode)
    );
    assert_eq!(i.local_ts, r.remote_ts);
    assert_eq!(i.remote_ts, r.local_ts);
}
