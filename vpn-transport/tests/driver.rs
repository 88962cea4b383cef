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

fn gateway(peers: Vec<PeerConfig>, seed: u64) -> (Driver<ChaCha20Rng>, SocketAddr) {
    let udp = UdpEndpoint::bind(&UdpConfig::ephemeral(["127.0.0.1".parse().unwrap()])).unwrap();
    let natt = udp.local_addr(PortKind::NatT, "127.0.0.1".parse().unwrap()).unwrap();
    let config = EndpointConfig { local_addr: natt, peers: Arc::new(peers), ..EndpointConfig::default() };
    let ep = Endpoint::new(config, ChaCha20Rng::seed_from_u64(seed));
    (Driver::new(ep, udp, DriverConfig::default()), natt)
}

#[test]
fn ike_then_tcp_between_two_gateways() {
    let (mut gw_a, _) = gateway(vec![], 1);
    let (mut gw_b, b_addr) = gateway(vec![peer("b.example", "a.example", "10.2.0.0/24", "10.1.0.0/24")], 2);
    let mut host_a = SmolHost::new(Ipv4Addr::new(10, 1, 0, 2), 24, 1400, 1);
    let mut host_b = SmolHost::new(Ipv4Addr::new(10, 2, 0, 2), 24, 1400, 2);
    gw_a.connect(peer("a.example", "b.example", "10.1.0.0/24", "10.2.0.0/24"), b_addr).unwrap();

    let deadline = StdInstant::now() + Duration::from_secs(20);
    let mut up = (false, false);
    while !(up.0 && up.1) {
        assert!(StdInstant::now() < deadline, "tunnel not up in time");
        gw_a.turn(&mut host_a.dev).unwrap();
        gw_b.turn(&mut host_b.dev).unwrap();
        while let Some(e) = gw_a.poll_event() {
            if let DriverEvent::Ike(Event::IkeSaDown { reason, .. }) = e {
                panic!("A down: {reason:?}");
            }
            up.0 |= matches!(e, DriverEvent::ChildSaInstalled(_));
        }
        while let Some(e) = gw_b.poll_event() {
            up.1 |= matches!(e, DriverEvent::ChildSaInstalled(_));
        }
        std::thread::sleep(Duration::from_millis(1));
    }

    const TOTAL: usize = 2 << 20;
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
        gw_a.turn(&mut host_a.dev).unwrap();
        gw_b.turn(&mut host_b.dev).unwrap();
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
        gw_b.turn(&mut host_b.dev).unwrap();
        gw_a.turn(&mut host_a.dev).unwrap();
    }
    assert_eq!(gw_b.esp().sad().drops().total(), 0, "{:?}", gw_b.esp().sad().drops());
    let (bytes, packets) = gw_a.esp().sad().outbound_sas().next().unwrap().counters();
    assert!(bytes as usize >= TOTAL && packets as usize > TOTAL / 1400, "{bytes} bytes in {packets} packets");
}
