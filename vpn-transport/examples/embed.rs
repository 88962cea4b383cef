//! A working IPsec tunnel from the crates, in a few dozen lines: two gateways on loopback (an
//! IKE `Endpoint` each, driven over real UDP sockets by a `Driver`), a userspace TCP/IP host
//! behind each, and a TCP message across. No root, no kernel device.
//!
//! Run: `cargo run -p vpn-transport --example embed`

use std::net::Ipv4Addr;
use std::sync::Arc;

use rand_core::OsRng;
use vpn_ike::message::Identity;
use vpn_ike::{Endpoint, EndpointConfig, PeerConfig};
use vpn_transport::driver::{Driver, DriverConfig};
use vpn_transport::host::SmolHost;
use vpn_transport::udp::{PortKind, UdpConfig, UdpEndpoint};

fn peer(me: &str, them: &str, mine: &str, theirs: &str) -> PeerConfig {
    let id = |s: &str| Identity::Fqdn(s.as_bytes().to_vec());
    let mut p = PeerConfig::psk(id(me), Some(id(them)), b"embedding example psk");
    (p.local_ts, p.remote_ts) = (vec![mine.parse().unwrap()], vec![theirs.parse().unwrap()]);
    p
}

fn gateway(peers: Vec<PeerConfig>) -> std::io::Result<(Driver<OsRng>, std::net::SocketAddr)> {
    let lo = "127.0.0.1".parse().unwrap();
    let udp = UdpEndpoint::bind(&UdpConfig::ephemeral([lo]))?;
    let addr = udp.local_addr(PortKind::NatT, lo).unwrap();
    let config = EndpointConfig {
        // IKE runs on the NAT-T socket (behind the non-ESP marker), whose address it announces.
        local_addr: addr,
        local_port: PortKind::NatT,
        peers: Arc::new(peers),
        force_udp_encap: true,
        ..Default::default()
    };
    Ok((Driver::new(Endpoint::new(config, OsRng), udp, DriverConfig::default()), addr))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut a, _) = gateway(vec![])?;
    let (mut b, b_addr) = gateway(vec![peer("b", "a", "10.2.0.0/24", "10.1.0.0/24")])?;
    let (mut host_a, mut host_b) = (
        SmolHost::new(Ipv4Addr::new(10, 1, 0, 2), 24, 1400, 1),
        SmolHost::new(Ipv4Addr::new(10, 2, 0, 2), 24, 1400, 2),
    );
    a.connect(peer("a", "b", "10.1.0.0/24", "10.2.0.0/24"), b_addr)?;
    let server = host_b.tcp_listen(7, 4096);
    let client = host_a.tcp_connect(Ipv4Addr::new(10, 2, 0, 2), 7, 40000, 4096);
    let (mut sent, mut got) = (false, Vec::new());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while got.len() < 20 && std::time::Instant::now() < deadline {
        // Each side: the gateway moves packets, the host's stack reacts.
        a.turn(std::slice::from_mut(&mut host_a.dev))?;
        b.turn(std::slice::from_mut(&mut host_b.dev))?;
        host_a.poll();
        host_b.poll();
        if !sent && host_a.tcp(client).can_send() {
            sent = host_a.tcp(client).send_slice(b"hello through IPsec!")? == 20;
        }
        while host_b.tcp(server).can_recv() {
            host_b.tcp(server).recv(|d| (d.len(), got.extend_from_slice(d)))?;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    println!(
        "host b received {:?} through ESP SA {:08x}",
        String::from_utf8_lossy(&got),
        a.binding().children().next().map_or(0, |c| c.spi_out)
    );
    Ok(())
}
