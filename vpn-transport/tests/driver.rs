//! Two gateways on loopback, each a `Driver` with a smoltcp host behind it: IKE establishes the
//! tunnel over real UDP sockets, the ESP SAs are installed from the endpoint's events, and a TCP
//! transfer crosses between the hosts intact.
#![cfg(all(feature = "driver", feature = "smoltcp"))]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_ike::config::{EndpointConfig, PeerConfig};
use vpn_ike::endpoint::Endpoint;
use vpn_ike::event::Event;
use vpn_ike::message::Identity;
use vpn_transport::binding::BindingEvent;
use vpn_transport::driver::{Driver, DriverConfig, DriverEvent};
use vpn_transport::host::SmolHost;
use vpn_transport::udp::{PortKind, UdpConfig, UdpEndpoint};

fn peer(local: &str, remote: &str, local_ts: &str, remote_ts: &str) -> PeerConfig {
    let mut p = PeerConfig::psk(
        Identity::Fqdn(local.as_bytes().to_vec()),
        Some(Identity::Fqdn(remote.as_bytes().to_vec())),
        b"a shared secret of some length",
    );
    p.local_ts = vec![local_ts.parse().unwrap()];
    p.remote_ts = vec![remote_ts.parse().unwrap()];
    p
}

fn gateway(peers: Vec<PeerConfig>, seed: u64, driver: DriverConfig) -> (Driver<ChaCha20Rng>, SocketAddr) {
    let udp = UdpEndpoint::bind(&UdpConfig::ephemeral(["127.0.0.1".parse().unwrap()])).unwrap();
    let natt = udp.local_addr(PortKind::NatT, "127.0.0.1".parse().unwrap()).unwrap();
    // The ephemeral IKE and NAT-T sockets have ports of their own: IKE runs on the NAT-T one,
    // behind the non-ESP marker.
    let config = EndpointConfig {
        local_addr: natt,
        local_port: PortKind::NatT,
        peers: Arc::new(peers),
        // No raw ESP sockets here: ESP always in UDP (RFC 3948).
        force_udp_encap: true,
        ..EndpointConfig::default()
    };
    let ep = Endpoint::new(config, ChaCha20Rng::seed_from_u64(seed));
    (Driver::new(ep, udp, driver), natt)
}

#[test]
fn ike_then_tcp_between_two_gateways() {
    let (a, b) = transfer(DriverConfig::default(), |_, _, _| {});
    let child = a.binding().children().next().unwrap().spi_in;
    let (_, (bytes, packets)) = a.binding().counters(child);
    assert!(bytes as usize >= TOTAL && packets as usize > TOTAL / 1400, "{bytes} bytes in {packets} packets");
    // B took them on the inbound SA of its end of that Child SA (all but any UDP lost).
    let peer = a.binding().child(child).unwrap().spi_out;
    let ((in_bytes, in_packets), _) = b.binding().counters(peer);
    assert!(
        in_bytes as usize >= TOTAL && in_bytes <= bytes && in_packets <= packets,
        "{in_bytes} in {in_packets}"
    );
}

/// Child SA and IKE SA rekeys from both sides in the middle of the transfer lose no packet:
/// the old inbound SAs stay until the Delete after each rekey.
#[test]
fn rekeys_during_a_transfer_lose_nothing() {
    let mut step = 0;
    let first = std::rc::Rc::new(std::cell::Cell::new(None));
    let seen = first.clone();
    let (a, b) = transfer(DriverConfig::default(), move |received, a, b| {
        let handle = |d: &Driver<ChaCha20Rng>| d.endpoint().handles().next().unwrap();
        let child = |d: &Driver<ChaCha20Rng>| d.endpoint().child_sas(handle(d))[0].0;
        let at = [TOTAL / 5, 2 * TOTAL / 5, 3 * TOTAL / 5, 4 * TOTAL / 5];
        if step == 0 {
            seen.set(Some((handle(a), child(a), handle(b))));
        }
        if step < at.len() && received >= at[step] {
            let ok = match step {
                0 => {
                    let (h, c) = (handle(a), child(a));
                    a.rekey_child(h, c)
                }
                1 => {
                    let (h, c) = (handle(b), child(b));
                    b.rekey_child(h, c)
                }
                2 => {
                    let h = handle(a);
                    a.rekey_ike(h)
                }
                _ => {
                    let h = handle(b);
                    b.rekey_ike(h)
                }
            };
            assert!(ok, "step {step}");
            step += 1;
        }
    });
    let (ha, ca, hb) = first.get().unwrap();
    let (na, nb) = (a.endpoint().handles().next().unwrap(), b.endpoint().handles().next().unwrap());
    assert!(na != ha && nb != hb, "both IKE rekeys happened");
    assert_eq!(a.endpoint().handles().count(), 1);
    let now = a.endpoint().child_sas(na);
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].0, ca, "the Child SA was rekeyed");
}

/// ESP byte soft lifetimes reported by the SAs make the driver ask for Child SA rekeys.
#[test]
fn esp_byte_soft_lifetime_rekeys_the_child_sa() {
    let config = DriverConfig { soft_bytes: Some(512 * 1024), ..DriverConfig::default() };
    let mut first = None;
    let (a, b) = transfer(config, |_, a, _| {
        let h = a.endpoint().handles().next().unwrap();
        first.get_or_insert(a.endpoint().child_sas(h)[0].0);
    });
    let h = a.endpoint().handles().next().unwrap();
    let now = a.endpoint().child_sas(h);
    assert_eq!(now.len(), 1);
    assert_ne!(Some(now[0].0), first, "rekeyed at the soft byte limit");
    // 2 MiB at 512 KiB per SA: several rekeys, each side's pair matching the other's.
    let hb = b.endpoint().handles().next().unwrap();
    assert_eq!(b.endpoint().child_sas(hb), vec![(now[0].1, now[0].0)]);
}

const TOTAL: usize = 2 << 20;

/// Brings the tunnel up and moves `TOTAL` bytes over TCP; `hook` runs each round with the bytes
/// received so far.
fn transfer(
    config: DriverConfig,
    mut hook: impl FnMut(usize, &mut Driver<ChaCha20Rng>, &mut Driver<ChaCha20Rng>),
) -> (Driver<ChaCha20Rng>, Driver<ChaCha20Rng>) {
    let (mut gw_a, _) = gateway(vec![], 1, config.clone());
    let (mut gw_b, b_addr) =
        gateway(vec![peer("b.example", "a.example", "10.2.0.0/24", "10.1.0.0/24")], 2, config);
    let mut host_a = SmolHost::new(Ipv4Addr::new(10, 1, 0, 2), 24, 1400, 1);
    let mut host_b = SmolHost::new(Ipv4Addr::new(10, 2, 0, 2), 24, 1400, 2);
    gw_a.connect(peer("a.example", "b.example", "10.1.0.0/24", "10.2.0.0/24"), b_addr).unwrap();

    let deadline = StdInstant::now() + Duration::from_secs(20);
    let mut up = (false, false);
    while !(up.0 && up.1) {
        assert!(StdInstant::now() < deadline, "tunnel not up in time");
        gw_a.turn(std::slice::from_mut(&mut host_a.dev)).unwrap();
        gw_b.turn(std::slice::from_mut(&mut host_b.dev)).unwrap();
        while let Some(e) = gw_a.poll_event() {
            if let DriverEvent::Ike(Event::IkeSaDown { reason, .. }) = e {
                panic!("A down: {reason:?}");
            }
            assert!(!matches!(e, DriverEvent::Sa(BindingEvent::Refused { .. })), "{e:?}");
            up.0 |= matches!(e, DriverEvent::Sa(BindingEvent::Installed(_)));
        }
        while let Some(e) = gw_b.poll_event() {
            assert!(!matches!(e, DriverEvent::Sa(BindingEvent::Refused { .. })), "{e:?}");
            up.1 |= matches!(e, DriverEvent::Sa(BindingEvent::Installed(_)));
        }
        std::thread::sleep(Duration::from_millis(1));
    }

    let server = host_b.tcp_listen(5001, 256 * 1024);
    let client = host_a.tcp_connect(Ipv4Addr::new(10, 2, 0, 2), 5001, 40000, 256 * 1024);
    let chunk: Vec<u8> = (0..16384u32).map(|i| (i * 7 % 251) as u8).collect();
    let (mut sent, mut received) = (0usize, 0usize);
    let mut buf = vec![0u8; 65536];
    while received < TOTAL {
        assert!(StdInstant::now() < deadline, "transfer stalled at {received} of {TOTAL}");
        host_a.poll();
        let c = host_a.tcp(client);
        while c.can_send() && sent < TOTAL {
            let n = (TOTAL - sent).min(chunk.len() - sent % chunk.len());
            let k = c.send_slice(&chunk[sent % chunk.len()..sent % chunk.len() + n]).unwrap();
            if k == 0 {
                break;
            }
            sent += k;
        }
        host_a.poll();
        gw_a.turn(std::slice::from_mut(&mut host_a.dev)).unwrap();
        gw_b.turn(std::slice::from_mut(&mut host_b.dev)).unwrap();
        host_b.poll();
        let s = host_b.tcp(server);
        while s.can_recv() {
            let n = s.recv_slice(&mut buf).unwrap();
            for (i, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, chunk[(received + i) % chunk.len()], "byte {}", received + i);
            }
            received += n;
        }
        host_b.poll();
        gw_b.turn(std::slice::from_mut(&mut host_b.dev)).unwrap();
        gw_a.turn(std::slice::from_mut(&mut host_a.dev)).unwrap();
        while let Some(e) = gw_a.poll_event() {
            assert!(!matches!(e, DriverEvent::Ike(Event::IkeSaDown { .. })), "{e:?}");
        }
        while let Some(e) = gw_b.poll_event() {
            assert!(!matches!(e, DriverEvent::Ike(Event::IkeSaDown { .. })), "{e:?}");
        }
        hook(received, &mut gw_a, &mut gw_b);
    }
    // Everything settled: one ESP SA pair each way, and nothing lost.
    for _ in 0..200 {
        gw_a.turn(std::slice::from_mut(&mut host_a.dev)).unwrap();
        gw_b.turn(std::slice::from_mut(&mut host_b.dev)).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    for gw in [&gw_a, &gw_b] {
        let sad = gw.binding().sad();
        assert_eq!((sad.inbound_sas().count(), sad.outbound_sas().count()), (1, 1));
        assert_eq!(gw.binding().children().count(), 1);
        assert!(gw.binding().children().all(|c| c.sending));
        assert_eq!(sad.drops().total(), 0, "{:?}", sad.drops());
    }
    // Each side's Child SA is the other's, SPIs swapped, and it is the endpoint's.
    let (ca, cb) = (gw_a.binding().children().next().unwrap(), gw_b.binding().children().next().unwrap());
    assert_eq!((ca.spi_in, ca.spi_out), (cb.spi_out, cb.spi_in));
    let ha = gw_a.endpoint().handles().next().unwrap();
    assert_eq!(gw_a.endpoint().child_sas(ha), vec![(ca.spi_in, ca.spi_out)]);
    (gw_a, gw_b)
}
