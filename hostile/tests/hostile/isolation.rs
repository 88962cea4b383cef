//! Isolation between connections: what one peer (or one connection's credentials) can do must
//! not reach another connection's SAs.
//!
//! - ESP: two peers of two connections that chose the same outbound SPI get their own outbound
//!   SAs (the binding keys them by our Child SA handle, never by the peer's SPI); one going down
//!   leaves the other sending exactly as before; a peer choosing one of OUR inbound SPIs as its
//!   own changes nothing.
//! - IKE suites: the responder accepts in IKE_SA_INIT the union of its connections' suites, but
//!   the connection the peer then authenticates as must allow the negotiated suite too.
//! - INITIAL_CONTACT (RFC 7296 §2.4) clears only the IKE SAs of the same connection between the
//!   same two identities: not another connection's, even under the same peer identity.

use std::net::SocketAddr;
use std::sync::Arc;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_core::alg::{EncrAlg, IntegAlg, KeGroup};
use vpn_core::secret::SecretBytes;
use vpn_core::time::Instant;
use vpn_core::ts::TrafficSelector;
use vpn_esp::DropReason;
use vpn_ike::keys::sk::SkCrypto;
use vpn_ike::keys::IkeKeys;
use vpn_ike::message::{ExchangeType, Header, Identity, Limits, NotifyType, Payload, PayloadType};
use vpn_ike::{
    ChildDownReason, ChildKeys, ChildSaInfo, ConnectionId, DownReason, Endpoint, EndpointConfig, Event,
    IkeSaHandle, IkeSaState, IkeSuite, Lifetimes, Mode, NatState, PeerConfig, PeerLookup, UdpEncap,
};
use vpn_transport::binding::{BindingConfig, BindingEvent, InterfaceId, OutboundError};
use vpn_transport::SaBinding;

use crate::ike_util::{addr, downs, ensure, fqdn, notify_types};
use crate::{expect_eq, Case};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("isolation/spi-collision-across-peers", spi_collision_across_peers),
        Case::new("isolation/spi-collision-across-peers/peer-spi-equals-our-inbound", peer_spi_equals_ours),
        Case::new("isolation/suite-outside-authenticated-connection", || {
            suite_check("a.example", ecp256(), false)
        }),
        Case::new("isolation/suite-outside-authenticated-connection/x25519-succeeds", || {
            suite_check("a.example", x25519(), true)
        }),
        Case::new("isolation/suite-outside-authenticated-connection/b-example-ecp256-succeeds", || {
            suite_check("b.example", ecp256(), true)
        }),
        Case::new("isolation/suite-outside-authenticated-connection/b-example-x25519-refused", || {
            suite_check("b.example", x25519(), false)
        }),
        Case::new(
            "isolation/suite-outside-authenticated-connection/rejected-initial-contact-replaces-nothing",
            rejected_suite_keeps_established,
        ),
        Case::new("isolation/initial-contact-across-connections", initial_contact_other_identity),
        Case::new(
            "isolation/initial-contact-across-connections/same-identity-other-connection",
            initial_contact_same_identity_other_connection,
        ),
        Case::new(
            "isolation/initial-contact-across-connections/claimed-identity-wrong-psk",
            initial_contact_claimed_identity_wrong_psk,
        ),
        Case::new(
            "isolation/initial-contact-across-connections/same-connection-replaces",
            initial_contact_same_connection_replaces,
        ),
    ]
}

// ---- ESP: the SA binding ---------------------------------------------------------------------

const IF0: InterfaceId = InterfaceId(0);
/// The SPI both peers chose for their inbound SA (our outbound).
const SHARED: u32 = 0x1234;
/// Our inbound SPIs (our handles of the Child SAs) towards peers A, B and C.
const OURS_A: u32 = 0xc000_0001;
const OURS_B: u32 = 0xc000_0002;
const OURS_C: u32 = 0xc000_0003;

/// Our NAT-T address and the peers' (B behind a NAT that rewrote its port).
fn gw() -> SocketAddr {
    addr("198.51.100.1:4500")
}
fn peer_a() -> SocketAddr {
    addr("203.0.113.10:4500")
}
fn peer_b() -> SocketAddr {
    addr("203.0.113.20:31337")
}
fn peer_c() -> SocketAddr {
    addr("203.0.113.30:4500")
}

/// 36 bytes of AES-256-GCM key and salt, distinct per `seed`.
fn gcm_keys(seed: u8) -> ChildKeys {
    let k: Vec<u8> = (0..36u8).map(|i| seed ^ i.wrapping_mul(37) ^ 0x5a).collect();
    ChildKeys { encr: SecretBytes::new(&k).expect("key"), integ: SecretBytes::new(&[]).expect("key") }
}

fn ts(s: &str) -> Vec<TrafficSelector> {
    vec![s.parse().expect("selector")]
}

fn ike_up(handle: u64, connection: u32, local: SocketAddr, remote: SocketAddr, id: &str) -> Event {
    Event::IkeSaUp {
        handle: IkeSaHandle(handle),
        connection: ConnectionId(connection),
        initiator: false,
        local_addr: local,
        remote_id: fqdn(id),
        remote_addr: remote,
        suite: IkeSuite::AES256GCM16_SHA256_X25519,
        nat: NatState { local_behind_nat: false, remote_behind_nat: true },
    }
}

/// One side's Child SA: `(spi_in, spi_out)`, keys `(keys_in, keys_out)` by seed, selectors
/// `(local, remote)`, UDP-encapsulated between the ports of `local` and `remote`.
fn child(
    (handle, connection): (u64, u32),
    (local, remote): (SocketAddr, SocketAddr),
    (spi_in, spi_out): (u32, u32),
    (seed_in, seed_out): (u8, u8),
    (local_ts, remote_ts): (&str, &str),
) -> ChildSaInfo {
    ChildSaInfo {
        handle: IkeSaHandle(handle),
        connection: ConnectionId(connection),
        spi_in,
        spi_out,
        encr: EncrAlg::AesGcm16,
        encr_key_bits: 256,
        integ: IntegAlg::None,
        keys_in: gcm_keys(seed_in),
        keys_out: gcm_keys(seed_out),
        esn: false,
        mode: Mode::Tunnel,
        udp_encap: Some(UdpEncap { local_port: local.port(), remote_port: remote.port() }),
        local_addr: local,
        remote_addr: remote,
        local_ts: ts(local_ts),
        remote_ts: ts(remote_ts),
        lifetimes: Lifetimes::default(),
        rekey_of: None,
    }
}

/// Feeds `IkeSaUp` then `ChildSaUp` and expects exactly `Installed` for it.
fn bring_up(b: &mut SaBinding, up: Event, info: ChildSaInfo) -> Result<(), String> {
    let spi = info.spi_in;
    b.handle_event(Instant::ZERO, &up);
    b.handle_event(Instant::ZERO, &Event::ChildSaUp(Box::new(info)));
    let evs: Vec<BindingEvent> = std::iter::from_fn(|| b.poll_event()).collect();
    match evs.as_slice() {
        [BindingEvent::Installed(i)] if i.spi_in == spi => Ok(()),
        other => Err(format!("Child SA {spi:08x}: binding events {other:?}, want one Installed")),
    }
}

/// An IPv4 UDP packet `src` -> `dst` with `payload`.
fn ipv4_udp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let ulen = 8 + payload.len();
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p[2..4].copy_from_slice(&((20 + ulen) as u16).to_be_bytes());
    let c = vpn_core::packet::checksum(0, &p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&9u16.to_be_bytes());
    p.extend_from_slice(&(ulen as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// What `encapsulate` made of `pkt`: (remote, local, child, seq) and the ESP bytes.
type Sent = ((SocketAddr, Option<std::net::IpAddr>, u32, u64), Vec<u8>);

fn seal(b: &mut SaBinding, pkt: &[u8]) -> Result<Sent, OutboundError> {
    let mut buf = vec![0u8; 64 + pkt.len() + 64];
    buf[64..64 + pkt.len()].copy_from_slice(pkt);
    let d = b.encapsulate(Instant::ZERO, IF0, &mut buf, 64..64 + pkt.len())?;
    Ok(((d.remote, d.local, d.child, d.seq), buf[d.range].to_vec()))
}

/// Decapsulates `esp` (arrived from `from`) in `b`: the inner packet and the SA that took it.
fn open(b: &mut SaBinding, from: SocketAddr, esp: &[u8]) -> Result<(Vec<u8>, u32), DropReason> {
    let mut buf = esp.to_vec();
    let len = buf.len();
    let d = b.decapsulate(Instant::ZERO, from, &mut buf, 0..len)?;
    Ok((buf[d.inner].to_vec(), d.spi))
}

/// Peer A's binding (connection 1's other end): the mirror of our Child SA towards it.
fn mirror_a() -> Result<SaBinding, String> {
    let mut a = SaBinding::new(BindingConfig::default());
    bring_up(
        &mut a,
        ike_up(7, 1, peer_a(), gw(), "gw.example"),
        child((7, 1), (peer_a(), gw()), (SHARED, OURS_A), (0xa0, 0xa1), ("10.2.0.0/24", "10.1.0.0/24")),
    )?;
    Ok(a)
}

/// Peer B's binding.
fn mirror_b() -> Result<SaBinding, String> {
    let mut b = SaBinding::new(BindingConfig::default());
    bring_up(
        &mut b,
        ike_up(7, 1, peer_b(), gw(), "gw.example"),
        child((7, 1), (peer_b(), gw()), (SHARED, OURS_B), (0xb0, 0xb1), ("10.3.0.0/24", "10.1.0.0/24")),
    )?;
    Ok(b)
}

/// Our gateway with peers A (connection 1, 10.2.0.0/24) and B (connection 2, 10.3.0.0/24),
/// both of which chose inbound SPI [`SHARED`], with different keys; and each peer's own binding
/// holding the mirror of its Child SA.
fn two_peers() -> Result<(SaBinding, SaBinding, SaBinding), String> {
    let mut g = SaBinding::new(BindingConfig::default());
    bring_up(
        &mut g,
        ike_up(1, 1, gw(), peer_a(), "a.example"),
        child((1, 1), (gw(), peer_a()), (OURS_A, SHARED), (0xa1, 0xa0), ("10.1.0.0/24", "10.2.0.0/24")),
    )?;
    bring_up(
        &mut g,
        ike_up(2, 2, gw(), peer_b(), "b.example"),
        child((2, 2), (gw(), peer_b()), (OURS_B, SHARED), (0xb1, 0xb0), ("10.1.0.0/24", "10.3.0.0/24")),
    )?;
    Ok((g, mirror_a()?, mirror_b()?))
}

fn to_a() -> Vec<u8> {
    ipv4_udp([10, 1, 0, 5], [10, 2, 0, 9], b"for site A")
}
fn to_b() -> Vec<u8> {
    ipv4_udp([10, 1, 0, 5], [10, 3, 0, 9], b"for site B")
}

/// Sends `pkt` from the gateway and expects it at (`remote`, child `ours`, `seq`), SPI
/// [`SHARED`] on the wire, opening at `right` and failing its ICV at `wrong` (a fresh binding
/// of the other peer: one that saw this sequence number already drops it as a replay first).
fn expect_sent(
    g: &mut SaBinding,
    pkt: &[u8],
    (remote, ours, seq): (SocketAddr, u32, u64),
    right: &mut SaBinding,
    wrong: Option<SaBinding>,
) -> Result<(), String> {
    let (meta, esp) = seal(g, pkt).map_err(|e| format!("packet to {remote}: {e:?}"))?;
    expect_eq("datagram (remote, local, child, seq)", meta, (remote, Some(gw().ip()), ours, seq))?;
    expect_eq("SPI on the wire", esp[..4].to_vec(), SHARED.to_be_bytes().to_vec())?;
    expect_eq("opened by the right peer", open(right, gw(), &esp), Ok((pkt.to_vec(), SHARED)))?;
    if let Some(mut w) = wrong {
        expect_eq("opened by the other peer (same SPI)", open(&mut w, gw(), &esp), Err(DropReason::BadIcv))?;
    }
    Ok(())
}

fn spi_collision_across_peers() -> Result<(), String> {
    let (mut g, mut a, mut b) = two_peers()?;
    expect_eq("SPI of outbound SA of A's child", g.sad().outbound(OURS_A).map(|s| s.spi()), Some(SHARED))?;
    expect_eq("SPI of outbound SA of B's child", g.sad().outbound(OURS_B).map(|s| s.spi()), Some(SHARED))?;
    expect_eq("an outbound SA keyed by the peers' SPI", g.sad().outbound(SHARED).is_some(), false)?;
    expect_sent(&mut g, &to_a(), (peer_a(), OURS_A, 1), &mut a, Some(mirror_b()?))?;
    expect_sent(&mut g, &to_b(), (peer_b(), OURS_B, 1), &mut b, Some(mirror_a()?))?;
    expect_sent(&mut g, &to_b(), (peer_b(), OURS_B, 2), &mut b, None)?;
    expect_sent(&mut g, &to_a(), (peer_a(), OURS_A, 2), &mut a, None)?;

    // A's Child SA ends: only its SAs and policy go.
    g.handle_event(
        Instant::ZERO,
        &Event::ChildSaDown {
            handle: IkeSaHandle(1),
            spi_in: OURS_A,
            spi_out: SHARED,
            reason: ChildDownReason::DeletedByPeer,
        },
    );
    let evs: Vec<BindingEvent> = std::iter::from_fn(|| g.poll_event()).collect();
    let removed = matches!(evs.as_slice(),
        [BindingEvent::Removed { handle, spi_in, spi_out, .. }]
            if (*handle, *spi_in, *spi_out) == (IkeSaHandle(1), OURS_A, SHARED));
    ensure(removed, || format!("after A's ChildSaDown: binding events {evs:?}, want one Removed of A's"))?;
    expect_eq("A's outbound SA", g.sad().outbound(OURS_A).is_some(), false)?;
    expect_eq("B's outbound SA's SPI", g.sad().outbound(OURS_B).map(|s| s.spi()), Some(SHARED))?;
    expect_eq(
        "Child SAs left",
        g.children().map(|c| (c.spi_in, c.spi_out)).collect(),
        vec![(OURS_B, SHARED)],
    )?;
    expect_sent(&mut g, &to_b(), (peer_b(), OURS_B, 3), &mut b, Some(mirror_a()?))?;
    expect_eq(
        "packet to A's network",
        seal(&mut g, &to_a()).map(|s| s.0),
        Err(OutboundError::PolicyDiscard),
    )?;
    // And B's inbound ESP still comes in on B's Child SA.
    let back = ipv4_udp([10, 3, 0, 9], [10, 1, 0, 5], b"from site B");
    let (_, esp) = seal(&mut b, &back).map_err(|e| format!("B sealing: {e:?}"))?;
    expect_eq("B's ESP at the gateway", open(&mut g, peer_b(), &esp), Ok((back, OURS_B)))?;
    Ok(())
}

fn peer_spi_equals_ours() -> Result<(), String> {
    let (mut g, mut a, mut b) = two_peers()?;
    let mut c = SaBinding::new(BindingConfig::default());
    let nets = ("10.1.0.0/24", "10.4.0.0/24");
    // Peer C (connection 3) chose as its inbound SPI our inbound SPI of B's Child SA.
    bring_up(
        &mut g,
        ike_up(3, 3, gw(), peer_c(), "c.example"),
        child((3, 3), (gw(), peer_c()), (OURS_C, OURS_B), (0xc1, 0xc0), nets),
    )?;
    bring_up(
        &mut c,
        ike_up(7, 1, peer_c(), gw(), "gw.example"),
        // C's own side claims more than its connection was given, to try sending as B's network.
        child((7, 1), (peer_c(), gw()), (OURS_B, OURS_C), (0xc0, 0xc1), ("10.0.0.0/8", nets.0)),
    )?;
    expect_eq("SPI of outbound SA of B's child", g.sad().outbound(OURS_B).map(|s| s.spi()), Some(SHARED))?;
    expect_eq("SPI of outbound SA of C's child", g.sad().outbound(OURS_C).map(|s| s.spi()), Some(OURS_B))?;
    expect_eq("B's Child SA", g.child(OURS_B).map(|c| (c.spi_out, c.remote)), Some((SHARED, peer_b())))?;
    expect_sent(&mut g, &to_a(), (peer_a(), OURS_A, 1), &mut a, Some(mirror_b()?))?;
    expect_sent(&mut g, &to_b(), (peer_b(), OURS_B, 1), &mut b, Some(mirror_a()?))?;
    // C's traffic carries our SPI of B's Child SA on the wire, to C, and only C opens it.
    let to_c = ipv4_udp([10, 1, 0, 5], [10, 4, 0, 9], b"for site C");
    let (meta, esp) = seal(&mut g, &to_c).map_err(|e| format!("packet to C: {e:?}"))?;
    expect_eq("datagram to C (remote, local, child, seq)", meta, (peer_c(), Some(gw().ip()), OURS_C, 1))?;
    expect_eq("SPI on the wire to C", esp[..4].to_vec(), OURS_B.to_be_bytes().to_vec())?;
    expect_eq("opened by C", open(&mut c, gw(), &esp), Ok((to_c, OURS_B)))?;
    // Inbound: B's ESP (our SPI OURS_B) still lands on B's Child SA, C's on C's.
    let from_b = ipv4_udp([10, 3, 0, 9], [10, 1, 0, 5], b"from site B");
    let (_, esp) = seal(&mut b, &from_b).map_err(|e| format!("B sealing: {e:?}"))?;
    expect_eq("SPI on the wire from B", esp[..4].to_vec(), OURS_B.to_be_bytes().to_vec())?;
    expect_eq("B's ESP at the gateway", open(&mut g, peer_b(), &esp), Ok((from_b, OURS_B)))?;
    let from_c = ipv4_udp([10, 4, 0, 9], [10, 1, 0, 5], b"from site C");
    let (_, esp) = seal(&mut c, &from_c).map_err(|e| format!("C sealing: {e:?}"))?;
    expect_eq("C's ESP at the gateway", open(&mut g, peer_c(), &esp), Ok((from_c, OURS_C)))?;
    // C's ESP carrying a packet from B's network is dropped: it is outside C's selectors.
    let spoofed = ipv4_udp([10, 3, 0, 9], [10, 1, 0, 5], b"as site B");
    let (_, esp) = seal(&mut c, &spoofed).map_err(|e| format!("C sealing: {e:?}"))?;
    expect_eq("C's ESP from B's network", open(&mut g, peer_c(), &esp), Err(DropReason::SelectorMismatch))?;
    expect_eq("drops at the gateway", g.sad().drops().total(), 1)?;
    expect_eq(
        "B's Child SA after C",
        g.child(OURS_B).map(|c| (c.spi_out, c.remote)),
        Some((SHARED, peer_b())),
    )?;
    Ok(())
}

// ---- IKE: two or more real endpoints in memory ----------------------------------------------

const R: &str = "192.0.2.1:500";

fn x25519() -> IkeSuite {
    IkeSuite::AES256GCM16_SHA256_X25519
}

fn ecp256() -> IkeSuite {
    IkeSuite { ke: KeGroup::Ecp256, ..IkeSuite::AES256GCM16_SHA256_X25519 }
}

/// One initiator at its address.
struct Init {
    addr: SocketAddr,
    ep: Endpoint<ChaCha20Rng>,
    events: Vec<Event>,
}

/// A responder at [`R`] and initiators, delivering each one's datagrams to the other side.
struct Net {
    r: Endpoint<ChaCha20Rng>,
    r_events: Vec<Event>,
    /// Everything the responder sent: (to, bytes).
    r_sent: Vec<(SocketAddr, Vec<u8>)>,
    inits: Vec<Init>,
    now: Instant,
    fixed_keys: bool,
}

impl Net {
    fn new(peers: Arc<dyn PeerLookup + Send + Sync>, suites: Vec<IkeSuite>, fixed_keys: bool) -> Net {
        let config = EndpointConfig {
            local_addr: addr(R),
            peers,
            responder_ike_suites: suites,
            fuzzing_fixed_keys: fixed_keys,
            ..EndpointConfig::default()
        };
        Net {
            r: Endpoint::new(config, ChaCha20Rng::seed_from_u64(41)),
            r_events: vec![],
            r_sent: vec![],
            inits: vec![],
            now: Instant::from_secs(100),
            fixed_keys,
        }
    }

    /// A new initiator at `at` connects with `peer`; everything is delivered until both sides
    /// are quiet. Returns the initiator's index.
    fn connect(&mut self, at: &str, peer: PeerConfig) -> usize {
        let config = EndpointConfig {
            local_addr: addr(at),
            fuzzing_fixed_keys: self.fixed_keys,
            ..EndpointConfig::default()
        };
        let seed = 1000 + self.inits.len() as u64;
        let mut ep = Endpoint::new(config, ChaCha20Rng::seed_from_u64(seed));
        ep.connect(self.now, peer, addr(R)).expect("connect");
        self.inits.push(Init { addr: addr(at), ep, events: vec![] });
        self.pump();
        self.inits.len() - 1
    }

    fn pump(&mut self) {
        let mut buf = vec![0u8; 70_000];
        for _ in 0..32 {
            let mut moved = false;
            for i in &mut self.inits {
                while let Some(t) = i.ep.poll_transmit(&mut buf) {
                    moved = true;
                    if t.remote == addr(R) {
                        self.r.handle_datagram(self.now, t.remote, t.local, t.port, &buf[..t.len]);
                    }
                }
            }
            while let Some(t) = self.r.poll_transmit(&mut buf) {
                moved = true;
                self.r_sent.push((t.remote, buf[..t.len].to_vec()));
                if let Some(i) = self.inits.iter_mut().find(|i| i.addr == t.remote) {
                    i.ep.handle_datagram(self.now, t.remote, t.local, t.port, &buf[..t.len]);
                }
            }
            if !moved {
                break;
            }
        }
        while let Some(e) = self.r.poll_event() {
            self.r_events.push(e);
        }
        for i in &mut self.inits {
            while let Some(e) = i.ep.poll_event() {
                i.events.push(e);
            }
        }
    }

    /// The responder's events from index `from` on.
    fn r_since(&self, from: usize) -> &[Event] {
        &self.r_events[from..]
    }
}

/// (handle, connection, remote ID) of every `IkeSaUp` in `events`.
fn ups(events: &[Event]) -> Vec<(IkeSaHandle, ConnectionId, Identity)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaUp { handle, connection, remote_id, .. } => {
                Some((*handle, *connection, remote_id.clone()))
            }
            _ => None,
        })
        .collect()
}

/// (handle, reason) of every `IkeSaDown` in `events`.
fn down_handles(events: &[Event]) -> Vec<(IkeSaHandle, DownReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::IkeSaDown { handle, reason } => Some((*handle, *reason)),
            _ => None,
        })
        .collect()
}

/// The IKE SA handles of every `ChildSaUp` in `events`.
fn child_ups(events: &[Event]) -> Vec<IkeSaHandle> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaUp(c) => Some(c.handle),
            _ => None,
        })
        .collect()
}

fn responder_peer(connection: u32, remote: Option<&str>, psk: &[u8], suites: Vec<IkeSuite>) -> PeerConfig {
    PeerConfig {
        connection: ConnectionId(connection),
        ike_suites: suites,
        ..PeerConfig::psk(fqdn("gw.example"), remote.map(fqdn), psk)
    }
}

fn initiator_peer(id: &str, psk: &[u8], suites: Vec<IkeSuite>) -> PeerConfig {
    PeerConfig { ike_suites: suites, ..PeerConfig::psk(fqdn(id), Some(fqdn("gw.example")), psk) }
}

const PSK_A: &[u8] = b"psk of a.example";
const PSK_B: &[u8] = b"psk of b.example";

/// The responder of the suite cases: connection 1 is a.example with X25519 only, connection 2
/// b.example with ECP-256 only (same cipher, PRF), and IKE_SA_INIT accepts both.
fn suite_net() -> Net {
    let peers = vec![
        responder_peer(1, Some("a.example"), PSK_A, vec![x25519()]),
        responder_peer(2, Some("b.example"), PSK_B, vec![ecp256()]),
    ];
    Net::new(Arc::new(peers), vec![x25519(), ecp256()], true)
}

/// The responder's IKE_AUTH response to initiator `to`, opened with the fixed keys of `suite`.
fn auth_response(net: &Net, to: SocketAddr, suite: IkeSuite) -> Result<Vec<Payload>, String> {
    let auths: Vec<&Vec<u8>> = net
        .r_sent
        .iter()
        .filter(|(t, b)| {
            *t == to && Header::peek(b).is_ok_and(|h| h.0.exchange_type == ExchangeType::IkeAuth)
        })
        .map(|(_, b)| b)
        .collect();
    let [resp] = auths.as_slice() else {
        return Err(format!("{} IKE_AUTH responses, want 1", auths.len()));
    };
    let keys = IkeKeys::fixed_for_fuzzing(&suite).map_err(|e| format!("keys: {e:?}"))?;
    let sk = SkCrypto::new(&suite, &keys, true).map_err(|e| format!("sk: {e:?}"))?;
    let (h, p) =
        sk.unprotect(resp, &Limits::default()).map_err(|e| format!("response does not open: {e}"))?;
    expect_eq("IKE_AUTH response flags", h.flags.0, 0x20)?;
    Ok(p)
}

/// Expects the IKE_AUTH response to `to` to be exactly one AUTHENTICATION_FAILED notify.
fn expect_auth_failed(net: &Net, to: SocketAddr, suite: IkeSuite) -> Result<(), String> {
    let p = auth_response(net, to, suite)?;
    let kinds: Vec<PayloadType> = p.iter().map(Payload::payload_type).collect();
    expect_eq("IKE_AUTH response payloads", kinds, vec![PayloadType::Notify])?;
    expect_eq("IKE_AUTH response notify", notify_types(&p), vec![NotifyType::AuthenticationFailed])
}

/// `id` (with its connection's PSK) offers only `suite`: refused with AUTHENTICATION_FAILED
/// unless its connection allows `suite` (`ok`).
fn suite_check(id: &str, suite: IkeSuite, ok: bool) -> Result<(), String> {
    let mut net = suite_net();
    let psk = if id == "a.example" { PSK_A } else { PSK_B };
    let at = "192.0.2.2:500";
    let i = net.connect(at, initiator_peer(id, psk, vec![suite]));
    let conn = ConnectionId(if id == "a.example" { 1 } else { 2 });
    let ie = &net.inits[i].events;
    if ok {
        expect_eq(
            "responder IkeSaUp (connection, ID)",
            ups(&net.r_events).into_iter().map(|u| (u.1, u.2)).collect(),
            vec![(conn, fqdn(id))],
        )?;
        expect_eq("responder Child SAs up", child_ups(&net.r_events).len(), 1)?;
        expect_eq("responder IkeSaDown", downs(&net.r_events), vec![])?;
        expect_eq("initiator IkeSaUp", ups(ie).len(), 1)?;
        expect_eq("initiator Child SAs up", child_ups(ie).len(), 1)?;
        let suites: Vec<IkeSuite> = net
            .r_events
            .iter()
            .filter_map(|e| match e {
                Event::IkeSaUp { suite, .. } => Some(*suite),
                _ => None,
            })
            .collect();
        expect_eq("negotiated suite", suites, vec![suite])?;
        let p = auth_response(&net, addr(at), suite)?;
        let has = |t: PayloadType| p.iter().any(|x| x.payload_type() == t);
        ensure(has(PayloadType::Auth) && has(PayloadType::Sa), || format!("IKE_AUTH response {p:?}"))?;
        let errors: Vec<NotifyType> = notify_types(&p).into_iter().filter(|n| n.is_error()).collect();
        expect_eq("IKE_AUTH response error notifies", errors, vec![])
    } else {
        expect_auth_failed(&net, addr(at), suite)?;
        expect_eq("responder IkeSaUp", ups(&net.r_events), vec![])?;
        expect_eq("responder ChildSaUp", child_ups(&net.r_events), vec![])?;
        expect_eq(
            "responder IkeSaDown",
            downs(&net.r_events),
            vec![DownReason::Rejected(NotifyType::AuthenticationFailed)],
        )?;
        expect_eq("initiator IkeSaUp", ups(ie), vec![])?;
        expect_eq("initiator ChildSaUp", child_ups(ie), vec![])?;
        expect_eq(
            "initiator IkeSaDown",
            downs(ie),
            vec![DownReason::PeerError(NotifyType::AuthenticationFailed)],
        )
    }
}

/// a.example is up with X25519; a second a.example (the right PSK, INITIAL_CONTACT) whose
/// IKE_SA_INIT negotiated ECP-256 is refused and replaces nothing.
fn rejected_suite_keeps_established() -> Result<(), String> {
    let mut net = suite_net();
    net.connect("192.0.2.2:500", initiator_peer("a.example", PSK_A, vec![x25519()]));
    let up = ups(&net.r_events);
    let [(h, _, _)] = up.as_slice() else { return Err(format!("first a.example: responder IkeSaUp {up:?}")) };
    let h = *h;
    let children = net.r.child_sas(h);
    expect_eq("first a.example's Child SAs", children.len(), 1)?;
    let mark = net.r_events.len();
    let second = initiator_peer("a.example", PSK_A, vec![ecp256()]);
    ensure(second.initial_contact, || "the second initiator sends INITIAL_CONTACT".into())?;
    net.connect("192.0.2.3:500", second);
    expect_auth_failed(&net, addr("192.0.2.3:500"), ecp256())?;
    let later = net.r_since(mark);
    expect_eq("IkeSaUp after", ups(later), vec![])?;
    let d = down_handles(later);
    ensure(
        d.len() == 1 && d[0].0 != h && d[0].1 == DownReason::Rejected(NotifyType::AuthenticationFailed),
        || format!("IkeSaDown after: {d:?}, want only the refused SA's Rejected(AuthenticationFailed)"),
    )?;
    expect_eq("first a.example's Child SAs after", net.r.child_sas(h), children)?;
    expect_eq("first a.example's state", net.r.ike_sa_info(h).map(|i| i.state), Some(IkeSaState::Established))
}

const PSK_ONE: &[u8] = b"shared psk one";
const PSK_TWO: &[u8] = b"shared psk two";
const VICTIM: &str = "192.0.2.10:500";
const ATTACKER: &str = "192.0.2.66:500";

/// Connection 2 (victim.example, PSK two) listed first, then connection 1 (any identity, PSK one).
fn contact_peers() -> Vec<PeerConfig> {
    vec![
        responder_peer(2, Some("victim.example"), PSK_TWO, vec![x25519()]),
        responder_peer(1, None, PSK_ONE, vec![x25519()]),
    ]
}

/// Connection 1 for peers at [`ATTACKER`]'s address (any identity), else [`contact_peers`] by
/// identity: lets a peer authenticate on connection 1 under victim.example's identity.
struct ByAddress(Vec<PeerConfig>);

impl PeerLookup for ByAddress {
    fn by_id(&self, id: &Identity, local: SocketAddr, remote: SocketAddr) -> Option<PeerConfig> {
        if remote == addr(ATTACKER) {
            self.0.iter().find(|p| p.connection == ConnectionId(1)).cloned()
        } else {
            self.0.by_id(id, local, remote)
        }
    }
    fn ike_suites(&self, _: SocketAddr, _: SocketAddr) -> Option<Vec<IkeSuite>> {
        None
    }
}

/// The victim up on connection 2: its handle and Child SAs at the responder.
fn victim_up(net: &mut Net) -> Result<(IkeSaHandle, Vec<(u32, u32)>), String> {
    net.connect(VICTIM, initiator_peer("victim.example", PSK_TWO, vec![x25519()]));
    let up = ups(&net.r_events);
    let [(h, conn, id)] = up.as_slice() else { return Err(format!("victim: responder IkeSaUp {up:?}")) };
    expect_eq("victim's (connection, ID)", (*conn, id.clone()), (ConnectionId(2), fqdn("victim.example")))?;
    let children = net.r.child_sas(*h);
    expect_eq("victim's Child SAs", children.len(), 1)?;
    Ok((*h, children))
}

/// The victim's IKE SA is still there, established, with its Child SAs.
fn victim_untouched(net: &Net, mark: usize, h: IkeSaHandle, children: &[(u32, u32)]) -> Result<(), String> {
    let d = down_handles(net.r_since(mark));
    ensure(d.iter().all(|(x, _)| *x != h), || format!("victim's IKE SA went down: {d:?}"))?;
    expect_eq("victim's Child SAs after", net.r.child_sas(h), children.to_vec())?;
    expect_eq("victim's state", net.r.ike_sa_info(h).map(|i| i.state), Some(IkeSaState::Established))
}

/// The attacker, at `ATTACKER` with `id` and `psk`, sends INITIAL_CONTACT.
fn attacker(id: &str, psk: &[u8]) -> PeerConfig {
    let p = initiator_peer(id, psk, vec![x25519()]);
    assert!(p.initial_contact, "the attacker sends INITIAL_CONTACT");
    p
}

fn initial_contact_other_identity() -> Result<(), String> {
    let mut net = Net::new(Arc::new(contact_peers()), vec![x25519()], false);
    let (h, children) = victim_up(&mut net)?;
    let mark = net.r_events.len();
    let i = net.connect(ATTACKER, attacker("attacker.example", PSK_ONE));
    let up = ups(net.r_since(mark));
    expect_eq(
        "attacker's (connection, ID)",
        up.iter().map(|u| (u.1, u.2.clone())).collect(),
        vec![(ConnectionId(1), fqdn("attacker.example"))],
    )?;
    expect_eq("attacker's Child SAs up", child_ups(net.r_since(mark)).len(), 1)?;
    expect_eq("IkeSaDown after the attacker", down_handles(net.r_since(mark)), vec![])?;
    expect_eq("attacker's own view: up", ups(&net.inits[i].events).len(), 1)?;
    victim_untouched(&net, mark, h, &children)?;
    expect_eq("IKE SAs at the responder", net.r.sa_count(), 2)
}

fn initial_contact_same_identity_other_connection() -> Result<(), String> {
    let mut net = Net::new(Arc::new(ByAddress(contact_peers())), vec![x25519()], false);
    let (h, children) = victim_up(&mut net)?;
    let mark = net.r_events.len();
    net.connect(ATTACKER, attacker("victim.example", PSK_ONE));
    expect_eq(
        "attacker's (connection, ID)",
        ups(net.r_since(mark)).into_iter().map(|u| (u.1, u.2)).collect(),
        vec![(ConnectionId(1), fqdn("victim.example"))],
    )?;
    expect_eq("IkeSaDown after the attacker", down_handles(net.r_since(mark)), vec![])?;
    victim_untouched(&net, mark, h, &children)?;
    expect_eq("IKE SAs at the responder", net.r.sa_count(), 2)
}

fn initial_contact_claimed_identity_wrong_psk() -> Result<(), String> {
    let mut net = Net::new(Arc::new(contact_peers()), vec![x25519()], false);
    let (h, children) = victim_up(&mut net)?;
    let mark = net.r_events.len();
    let i = net.connect(ATTACKER, attacker("victim.example", PSK_ONE));
    let later = net.r_since(mark);
    expect_eq("IkeSaUp after the attacker", ups(later), vec![])?;
    expect_eq("ChildSaUp after the attacker", child_ups(later), vec![])?;
    let d = down_handles(later);
    ensure(
        d.len() == 1 && d[0].0 != h && d[0].1 == DownReason::Rejected(NotifyType::AuthenticationFailed),
        || format!("IkeSaDown after the attacker: {d:?}, want only its own Rejected(AuthenticationFailed)"),
    )?;
    expect_eq(
        "attacker's IkeSaDown",
        downs(&net.inits[i].events),
        vec![DownReason::PeerError(NotifyType::AuthenticationFailed)],
    )?;
    victim_untouched(&net, mark, h, &children)
}

fn initial_contact_same_connection_replaces() -> Result<(), String> {
    let mut net = Net::new(Arc::new(contact_peers()), vec![x25519()], false);
    let (h, _) = victim_up(&mut net)?;
    let mark = net.r_events.len();
    // The victim restarted (with a new address): same connection, same identities.
    let again = initiator_peer("victim.example", PSK_TWO, vec![x25519()]);
    ensure(again.initial_contact, || "the restarted victim sends INITIAL_CONTACT".into())?;
    net.connect("192.0.2.11:500", again);
    let later = net.r_since(mark);
    let up = ups(later);
    let [(new, conn, _)] = up.as_slice() else { return Err(format!("restarted victim: IkeSaUp {up:?}")) };
    expect_eq("restarted victim's connection", *conn, ConnectionId(2))?;
    ensure(*new != h, || "the new IKE SA has the old one's handle".into())?;
    expect_eq("IkeSaDown after", down_handles(later), vec![(h, DownReason::Replaced)])?;
    expect_eq("old IKE SA's Child SAs", net.r.child_sas(h), vec![])?;
    expect_eq("old IKE SA held", net.r.handles().any(|x| x == h), false)?;
    expect_eq("new IKE SA's Child SAs", net.r.child_sas(*new).len(), 1)?;
    expect_eq("IKE SAs at the responder", net.r.sa_count(), 1)
}
